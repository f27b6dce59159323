
/*
 * Copyright (C) Kianax
 *
 * kx_access_log: the JSON access log line of every Kianax instance,
 * written straight from the request.  It holds the same fields as a
 * log_format with escape=json would, at a fraction of the cost: nginx's
 * log module looks up and escapes each variable twice (length, then
 * copy), which was the largest share of the gateway's own work per
 * request (bench/gateway).
 *
 *   kx_access_log <path> [buffer=<size> [flush=<time>]] | off;
 *
 * Lines are buffered per worker like access_log's buffer=/flush=; the
 * buffer is written when full, after flush time, at reopen (USR1) and
 * at exit (nginx calls the open file's flush handler both times).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_kx_core.h"
#include "core/kx_fmt.h"


struct ngx_http_kx_alog_s {
    ngx_open_file_t  *file;
    u_char           *start;        /* buffer; NULL: unbuffered */
    u_char           *pos;
    u_char           *last;
    ngx_msec_t        flush;
    ngx_event_t      *event;
    time_t            error_time;
};


static u_char *ngx_http_kx_alog_upstream(ngx_http_request_t *r, u_char *p,
    ngx_uint_t what);
static size_t ngx_http_kx_alog_upstream_len(ngx_http_request_t *r);
static u_char *ngx_http_kx_alog_msec(u_char *p, ngx_msec_int_t ms);
static void ngx_http_kx_alog_write(ngx_http_kx_alog_t *lg, ngx_log_t *log,
    u_char *buf, size_t len);
static void ngx_http_kx_alog_flush(ngx_open_file_t *file, ngx_log_t *log);
static void ngx_http_kx_alog_flush_handler(ngx_event_t *ev);


#define KX_ALOG_UPSTREAM_ADDR    0
#define KX_ALOG_UPSTREAM_STATUS  1
#define KX_ALOG_UPSTREAM_TIME    2

/* the longest of a status and a "seconds.millis" time, and ", " */
#define KX_ALOG_STATE_LEN  (NGX_TIME_T_LEN + 4 + 2)


void
ngx_http_kx_access_log(ngx_http_request_t *r, ngx_http_kx_alog_t *lg,
    ngx_str_t *service, ngx_str_t *request_id, ngx_str_t *route)
{
    u_char          *line, *p;
    size_t           len, uri_esc, ua_esc;
    ngx_str_t       *ua;
    ngx_uint_t       status;
    ngx_time_t      *tp;
    ngx_msec_int_t   ms;

    static const char  keys[] =
        "{\"time\":\"\",\"service\":\"\",\"request_id\":\"\","
        "\"remote_addr\":\"\",\"method\":\"\",\"uri\":\"\",\"route\":\"\","
        "\"status\":,\"bytes_sent\":,\"request_time\":,\"upstream\":\"\","
        "\"upstream_status\":\"\",\"upstream_time\":\"\","
        "\"user_agent\":\"\"}\n";

    ua = r->headers_in.user_agent ? &r->headers_in.user_agent->value : NULL;

    /* escaping: only what a client chose (service, route: the config;
     * the request id: a checked token or ours; method: letters) */
    uri_esc = ngx_escape_json(NULL, r->unparsed_uri.data,
                              r->unparsed_uri.len);
    ua_esc = ua ? ngx_escape_json(NULL, ua->data, ua->len) : 0;

    len = sizeof(keys) - 1
          + ngx_cached_http_log_iso8601.len
          + service->len + request_id->len
          + r->connection->addr_text.len + r->method_name.len
          + r->unparsed_uri.len + uri_esc + route->len
          + NGX_INT_T_LEN + NGX_OFF_T_LEN + NGX_TIME_T_LEN + 4
          + ngx_http_kx_alog_upstream_len(r)
          + (ua ? ua->len + ua_esc : 0);

    if (lg->start && len <= (size_t) (lg->last - lg->pos)) {
        line = lg->pos;

    } else {
        if (lg->start && lg->pos != lg->start) {
            ngx_http_kx_alog_flush(lg->file, r->connection->log);
        }

        if (lg->start && len <= (size_t) (lg->last - lg->pos)) {
            line = lg->pos;

        } else {
            /* unbuffered, or longer than the buffer: on its own */
            line = ngx_pnalloc(r->pool, len);
            if (line == NULL) {
                return;
            }
        }
    }

    status = r->err_status ? r->err_status : r->headers_out.status;

    tp = ngx_timeofday();
    ms = (ngx_msec_int_t)
             ((tp->sec - r->start_sec) * 1000 + (tp->msec - r->start_msec));

    p = ngx_cpymem(line, "{\"time\":\"", sizeof("{\"time\":\"") - 1);
    p = ngx_cpymem(p, ngx_cached_http_log_iso8601.data,
                   ngx_cached_http_log_iso8601.len);
    p = ngx_cpymem(p, "\",\"service\":\"", sizeof("\",\"service\":\"") - 1);
    p = ngx_cpymem(p, service->data, service->len);
    p = ngx_cpymem(p, "\",\"request_id\":\"",
                   sizeof("\",\"request_id\":\"") - 1);
    p = ngx_cpymem(p, request_id->data, request_id->len);
    p = ngx_cpymem(p, "\",\"remote_addr\":\"",
                   sizeof("\",\"remote_addr\":\"") - 1);
    p = ngx_cpymem(p, r->connection->addr_text.data,
                   r->connection->addr_text.len);
    p = ngx_cpymem(p, "\",\"method\":\"", sizeof("\",\"method\":\"") - 1);
    p = ngx_cpymem(p, r->method_name.data, r->method_name.len);
    p = ngx_cpymem(p, "\",\"uri\":\"", sizeof("\",\"uri\":\"") - 1);

    if (uri_esc) {
        p = (u_char *) ngx_escape_json(p, r->unparsed_uri.data,
                                       r->unparsed_uri.len);
    } else {
        p = ngx_cpymem(p, r->unparsed_uri.data, r->unparsed_uri.len);
    }

    p = ngx_cpymem(p, "\",\"route\":\"", sizeof("\",\"route\":\"") - 1);
    p = ngx_cpymem(p, route->data, route->len);
    p = ngx_cpymem(p, "\",\"status\":", sizeof("\",\"status\":") - 1);
    p = (u_char *) kx_fmt_u64((char *) p, status);
    p = ngx_cpymem(p, ",\"bytes_sent\":", sizeof(",\"bytes_sent\":") - 1);
    p = (u_char *) kx_fmt_u64((char *) p, (uint64_t) r->connection->sent);
    p = ngx_cpymem(p, ",\"request_time\":", sizeof(",\"request_time\":") - 1);
    p = ngx_http_kx_alog_msec(p, ngx_max(ms, 0));
    p = ngx_cpymem(p, ",\"upstream\":\"", sizeof(",\"upstream\":\"") - 1);
    p = ngx_http_kx_alog_upstream(r, p, KX_ALOG_UPSTREAM_ADDR);
    p = ngx_cpymem(p, "\",\"upstream_status\":\"",
                   sizeof("\",\"upstream_status\":\"") - 1);
    p = ngx_http_kx_alog_upstream(r, p, KX_ALOG_UPSTREAM_STATUS);
    p = ngx_cpymem(p, "\",\"upstream_time\":\"",
                   sizeof("\",\"upstream_time\":\"") - 1);
    p = ngx_http_kx_alog_upstream(r, p, KX_ALOG_UPSTREAM_TIME);
    p = ngx_cpymem(p, "\",\"user_agent\":\"",
                   sizeof("\",\"user_agent\":\"") - 1);

    if (ua && ua_esc) {
        p = (u_char *) ngx_escape_json(p, ua->data, ua->len);

    } else if (ua) {
        p = ngx_cpymem(p, ua->data, ua->len);
    }

    *p++ = '"';
    *p++ = '}';
    *p++ = '\n';

    if (line == lg->pos) {
        if (lg->pos == lg->start && lg->event && !lg->event->timer_set) {
            ngx_add_timer(lg->event, lg->flush);
        }

        lg->pos = p;
        return;
    }

    ngx_http_kx_alog_write(lg, r->connection->log, line, p - line);
}


/*
 * The upstream fields as nginx's $upstream_addr, $upstream_status and
 * $upstream_response_time print them: one entry per upstream tried,
 * ", " between them, " : " where an internal redirect started anew.
 */
static size_t
ngx_http_kx_alog_upstream_len(ngx_http_request_t *r)
{
    size_t                      len;
    ngx_uint_t                  i;
    ngx_http_upstream_state_t  *state;

    if (r->upstream_states == NULL) {
        return 0;
    }

    len = 0;
    state = r->upstream_states->elts;

    for (i = 0; i < r->upstream_states->nelts; i++) {
        len += 3 + 3 * KX_ALOG_STATE_LEN;

        if (state[i].peer) {
            len += state[i].peer->len;
        }
    }

    return len;
}


static u_char *
ngx_http_kx_alog_upstream(ngx_http_request_t *r, u_char *p, ngx_uint_t what)
{
    ngx_uint_t                  i, n;
    ngx_msec_t                  ms;
    ngx_http_upstream_state_t  *state;

    if (r->upstream_states == NULL || r->upstream_states->nelts == 0) {
        return p;
    }

    state = r->upstream_states->elts;
    n = r->upstream_states->nelts;

    for (i = 0; /* void */ ; ) {

        switch (what) {

        case KX_ALOG_UPSTREAM_ADDR:
            if (state[i].peer) {
                p = ngx_cpymem(p, state[i].peer->data, state[i].peer->len);
            }
            break;

        case KX_ALOG_UPSTREAM_STATUS:
            if (state[i].status) {
                p = (u_char *) kx_fmt_u64((char *) p, state[i].status);
            } else {
                *p++ = '-';
            }
            break;

        default:
            ms = state[i].response_time;
            if (ms != (ngx_msec_t) -1) {
                p = ngx_http_kx_alog_msec(p, (ngx_msec_int_t) ms);
            } else {
                *p++ = '-';
            }
        }

        if (++i == n) {
            break;
        }

        if (state[i].peer) {
            *p++ = ',';
            *p++ = ' ';

        } else {
            *p++ = ' ';
            *p++ = ':';
            *p++ = ' ';

            if (++i == n) {
                break;
            }
        }
    }

    return p;
}


/* "1.005": seconds with milliseconds, as $request_time */
static u_char *
ngx_http_kx_alog_msec(u_char *p, ngx_msec_int_t ms)
{
    ngx_uint_t  frac;

    p = (u_char *) kx_fmt_u64((char *) p, (uint64_t) (ms / 1000));

    frac = (ngx_uint_t) (ms % 1000);
    *p++ = '.';
    *p++ = (u_char) ('0' + frac / 100);
    *p++ = (u_char) ('0' + frac / 10 % 10);
    *p++ = (u_char) ('0' + frac % 10);

    return p;
}


static void
ngx_http_kx_alog_write(ngx_http_kx_alog_t *lg, ngx_log_t *log, u_char *buf,
    size_t len)
{
    time_t   now;
    ssize_t  n;

    n = ngx_write_fd(lg->file->fd, buf, len);

    if (n == (ssize_t) len) {
        return;
    }

    /* at most one complaint a minute: a full disk must not flood */
    now = ngx_time();

    if (now - lg->error_time > 59) {
        ngx_log_error(NGX_LOG_ALERT, log, n == -1 ? ngx_errno : 0,
                      ngx_write_fd_n " to \"%V\" failed or was incomplete",
                      &lg->file->name);
        lg->error_time = now;
    }
}


static void
ngx_http_kx_alog_flush(ngx_open_file_t *file, ngx_log_t *log)
{
    ngx_http_kx_alog_t  *lg = file->data;

    if (lg->pos != lg->start) {
        ngx_http_kx_alog_write(lg, log, lg->start, lg->pos - lg->start);
        lg->pos = lg->start;
    }

    if (lg->event && lg->event->timer_set) {
        ngx_del_timer(lg->event);
    }
}


static void
ngx_http_kx_alog_flush_handler(ngx_event_t *ev)
{
    ngx_http_kx_alog_flush(ev->data, ev->log);
}


char *
ngx_http_kx_access_log_set(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_kx_alog_t  **slot = (ngx_http_kx_alog_t **)
                                 ((u_char *) conf + cmd->offset);

    ssize_t              size;
    ngx_str_t           *value, name, s;
    ngx_msec_t           flush;
    ngx_uint_t           i;
    ngx_http_kx_alog_t  *lg, *prev;

    if (*slot != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        if (cf->args->nelts != 2) {
            return "takes no parameters after \"off\"";
        }

        *slot = NULL;
        return NGX_CONF_OK;
    }

    size = 0;
    flush = 0;

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "buffer=", 7) == 0) {
            s.data = value[i].data + 7;
            s.len = value[i].len - 7;
            size = ngx_parse_size(&s);
            if (size <= 0) {
                goto invalid;
            }
            continue;
        }

        if (ngx_strncmp(value[i].data, "flush=", 6) == 0) {
            s.data = value[i].data + 6;
            s.len = value[i].len - 6;
            flush = ngx_parse_time(&s, 0);
            if (flush == (ngx_msec_t) NGX_ERROR || flush == 0) {
                goto invalid;
            }
            continue;
        }

        goto invalid;
    }

    if (flush && size == 0) {
        return "has \"flush\" without \"buffer\"";
    }

    name = value[1];

    if (ngx_conf_full_name(cf->cycle, &name, 0) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    lg = ngx_pcalloc(cf->pool, sizeof(ngx_http_kx_alog_t));
    if (lg == NULL) {
        return NGX_CONF_ERROR;
    }

    lg->file = ngx_conf_open_file(cf->cycle, &name);
    if (lg->file == NULL) {
        return NGX_CONF_ERROR;
    }

    if (lg->file->data) {
        /* the same file in another location: one buffer for both */
        prev = lg->file->data;

        if (lg->file->flush != ngx_http_kx_alog_flush) {
            return "names a file that another log writes";
        }

        if (prev->last - prev->start != size || prev->flush != flush) {
            return "names the file of another kx_access_log with other "
                   "buffer parameters";
        }

        *slot = prev;
        return NGX_CONF_OK;
    }

    if (size) {
        lg->start = ngx_pnalloc(cf->pool, size);
        if (lg->start == NULL) {
            return NGX_CONF_ERROR;
        }

        lg->pos = lg->start;
        lg->last = lg->start + size;

        if (flush) {
            lg->flush = flush;
            lg->event = ngx_pcalloc(cf->pool, sizeof(ngx_event_t));
            if (lg->event == NULL) {
                return NGX_CONF_ERROR;
            }

            lg->event->data = lg->file;
            lg->event->handler = ngx_http_kx_alog_flush_handler;
            lg->event->log = &cf->cycle->new_log;
            lg->event->cancelable = 1;
        }
    }

    lg->file->flush = ngx_http_kx_alog_flush;
    lg->file->data = lg;
    *slot = lg;

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid parameter \"%V\"", &value[i]);

    return NGX_CONF_ERROR;
}
