
/*
 * Copyright (C) Kianax
 *
 * The live quote feed over plain TCP (stream { server { kx_quotes; } }):
 * a line protocol, one JSON object per line in both directions' answers.
 *
 *     AUTH <jwt>                 -> {"type":"authenticated","user_id":...}
 *     SUBSCRIBE AAPL TSLA        -> {"type":"subscribed","symbols":[...]}
 *     UNSUBSCRIBE [AAPL ...]     -> {"type":"unsubscribed","symbols":[...]}
 *     PING                       -> {"type":"pong"}
 *     QUIT                       -> {"type":"bye"}, then close
 *
 * and then every quote published on the Redis channel kx:quote:<SYMBOL>
 * (contract C1), forwarded byte for byte with a "\n".  Errors are lines
 * {"type":"error","code":...,"message":...}.
 *
 * Per worker, a symbol's channel is subscribed while at least one local
 * connection wants it, and a published message becomes one refcounted
 * buffer shared by every connection's queue (src/notify/kx_outq.h).  A
 * connection's queue is bounded; a newer quote replaces an unwritten one
 * of the same symbol, so a slow reader gets the latest prices; a full
 * queue or no write progress for kx_quotes_send_timeout closes it.  Each
 * write event is one writev() of everything queued.
 *
 * Counters (connections, messages, queued, replaced, closed by reason) go
 * to the instance's GET /metrics through the http core module.
 *
 * Redis: the http block's per-worker client (kx_redis_addr, shared with
 * the other modules of the instance), or a client of this module's own
 * with kx_quotes_redis.  The module is built into the custom binary only
 * (see config): it uses the http modules' Redis client, file helper and
 * metrics.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_stream.h>

#include "ngx_http_kx.h"
#include "ngx_http_kx_io.h"
#include "kx_jwt_conf.h"
#include "gateway/kx_jwt.h"
#include "market/kx_symbols.h"
#include "notify/kx_outq.h"


#define NGX_STREAM_KX_QUOTES_IOV       64
#define NGX_STREAM_KX_QUOTES_READ      16384
#define NGX_STREAM_KX_QUOTES_READ_MAX  65536   /* per read event */

#define NGX_STREAM_KX_QUOTES_CHANNEL   "kx:quote:"

/* a counter of the instance's GET /metrics (http core module) */
#define ngx_stream_kx_quotes_count(series, n)                                 \
    ngx_http_kx_metrics_count((ngx_cycle_t *) ngx_cycle, series, n)

#define ngx_stream_kx_quotes_closed(reason)                                   \
    ngx_stream_kx_quotes_count("kx_quotes_closed_total{reason=\"" reason     \
                               "\"}", 1)


typedef struct ngx_stream_kx_quotes_ctx_s   ngx_stream_kx_quotes_ctx_t;
typedef struct ngx_stream_kx_quotes_sym_s   ngx_stream_kx_quotes_sym_t;


typedef struct {
    kx_jwt_keyset_t                 keys;
    kx_redis_conf_t                 redis;
    ngx_flag_t                      own_redis;     /* kx_quotes_redis */
    ngx_uint_t                      enabled;       /* some kx_quotes */

    /* per worker, from init_process to exit_process */
    kx_redis_t                     *rd;
    ngx_stream_kx_quotes_sym_t     *syms;
    ngx_uint_t                      nsyms;
    uint32_t                       *seen;          /* per command */
    uint32_t                        gen;
    u_char                         *buf;           /* read scratch */
    ngx_uint_t                      exiting;
} ngx_stream_kx_quotes_main_conf_t;


typedef struct {
    ngx_msec_t                      auth_timeout;
    ngx_msec_t                      send_timeout;
    size_t                          max_line;
    ngx_uint_t                      queue_size;
    ngx_uint_t                      max_symbols;
    time_t                          leeway;
    ngx_str_t                       issuer;        /* NUL-terminated */
    ngx_str_t                       audience;
} ngx_stream_kx_quotes_srv_conf_t;


struct ngx_stream_kx_quotes_sym_s {
    ngx_queue_t                     links;         /* subscribed conns */
    ngx_uint_t                      nlinks;
    kx_redis_sub_t                 *sub;
    uint32_t                        index;
    ngx_stream_kx_quotes_main_conf_t  *qmcf;
};


/* one subscription of one connection */
typedef struct {
    ngx_queue_t                     in_sym;        /* sym->links */
    ngx_queue_t                     in_ctx;        /* ctx->subs */
    ngx_stream_kx_quotes_sym_t     *sym;
    ngx_stream_kx_quotes_ctx_t     *ctx;
} ngx_stream_kx_quotes_link_t;


struct ngx_stream_kx_quotes_ctx_s {
    ngx_stream_session_t           *session;
    ngx_stream_kx_quotes_srv_conf_t  *conf;
    ngx_stream_kx_quotes_main_conf_t *qmcf;
    kx_outq_t                       out;
    ngx_queue_t                     subs;
    ngx_uint_t                      nsubs;
    u_char                         *line;          /* a partial line */
    size_t                          line_len;
    ngx_event_t                     timer;         /* auth, then token exp */

    unsigned                        authed:1;
    unsigned                        draining:1;    /* close once written */
    unsigned                        close_now:1;
};


static void ngx_stream_kx_quotes_handler(ngx_stream_session_t *s);
static void ngx_stream_kx_quotes_read_handler(ngx_event_t *rev);
static void ngx_stream_kx_quotes_write_handler(ngx_event_t *wev);
static ngx_int_t ngx_stream_kx_quotes_send(ngx_stream_kx_quotes_ctx_t *ctx);
static void ngx_stream_kx_quotes_timer_handler(ngx_event_t *ev);
static void ngx_stream_kx_quotes_cleanup(void *data);

static ngx_int_t ngx_stream_kx_quotes_input(ngx_stream_kx_quotes_ctx_t *ctx,
    u_char *p, size_t n);
static ngx_int_t ngx_stream_kx_quotes_command(ngx_stream_kx_quotes_ctx_t *ctx,
    u_char *p, size_t len);
static ngx_int_t ngx_stream_kx_quotes_auth(ngx_stream_kx_quotes_ctx_t *ctx,
    u_char *p, u_char *last);
static ngx_int_t ngx_stream_kx_quotes_subscribe(
    ngx_stream_kx_quotes_ctx_t *ctx, u_char *p, u_char *last);
static ngx_int_t ngx_stream_kx_quotes_unsubscribe(
    ngx_stream_kx_quotes_ctx_t *ctx, u_char *p, u_char *last);
static ngx_int_t ngx_stream_kx_quotes_symbols(ngx_stream_kx_quotes_ctx_t *ctx,
    u_char *p, u_char *last, ngx_uint_t *nnew);
static ngx_int_t ngx_stream_kx_quotes_word(u_char **pos, u_char *last,
    ngx_str_t *word);
static ngx_int_t ngx_stream_kx_quotes_symbol(ngx_str_t *word);
static ngx_stream_kx_quotes_link_t *ngx_stream_kx_quotes_find(
    ngx_stream_kx_quotes_ctx_t *ctx, ngx_uint_t index);
static ngx_int_t ngx_stream_kx_quotes_link(ngx_stream_kx_quotes_ctx_t *ctx,
    ngx_uint_t index);
static void ngx_stream_kx_quotes_unlink(ngx_stream_kx_quotes_link_t *link);
static kx_redis_t *ngx_stream_kx_quotes_redis(
    ngx_stream_kx_quotes_main_conf_t *qmcf);
static void ngx_stream_kx_quotes_message(kx_redis_sub_event_e event,
    ngx_str_t *channel, ngx_str_t *message, void *data);

static ngx_int_t ngx_stream_kx_quotes_push(ngx_stream_kx_quotes_ctx_t *ctx,
    kx_outq_msg_t *m, uint32_t key);
static void ngx_stream_kx_quotes_post_write(ngx_stream_kx_quotes_ctx_t *ctx);
static ngx_int_t ngx_stream_kx_quotes_reply(ngx_stream_kx_quotes_ctx_t *ctx,
    kx_jw_t *w);
static ngx_int_t ngx_stream_kx_quotes_simple(ngx_stream_kx_quotes_ctx_t *ctx,
    const char *type);
static ngx_int_t ngx_stream_kx_quotes_error(ngx_stream_kx_quotes_ctx_t *ctx,
    const char *code, const char *message);

static ngx_int_t ngx_stream_kx_quotes_init_process(ngx_cycle_t *cycle);
static void ngx_stream_kx_quotes_exit_process(ngx_cycle_t *cycle);
static void *ngx_stream_kx_quotes_create_main_conf(ngx_conf_t *cf);
static char *ngx_stream_kx_quotes_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_stream_kx_quotes_create_srv_conf(ngx_conf_t *cf);
static char *ngx_stream_kx_quotes_merge_srv_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_stream_kx_quotes(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_stream_kx_quotes_redis_addr(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_stream_kx_quotes_jwt_key(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_stream_kx_quotes_jwt_jwks(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


static ngx_command_t  ngx_stream_kx_quotes_commands[] = {

    { ngx_string("kx_quotes"),
      NGX_STREAM_SRV_CONF|NGX_CONF_NOARGS,
      ngx_stream_kx_quotes,
      NGX_STREAM_SRV_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("kx_quotes_redis"),
      NGX_STREAM_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_stream_kx_quotes_redis_addr,
      NGX_STREAM_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("kx_quotes_jwt_key"),
      NGX_STREAM_MAIN_CONF|NGX_CONF_TAKE3,
      ngx_stream_kx_quotes_jwt_key,
      NGX_STREAM_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("kx_quotes_jwt_jwks"),
      NGX_STREAM_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_stream_kx_quotes_jwt_jwks,
      NGX_STREAM_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("kx_quotes_jwt_leeway"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_STREAM_SRV_CONF_OFFSET,
      offsetof(ngx_stream_kx_quotes_srv_conf_t, leeway),
      NULL },

    { ngx_string("kx_quotes_jwt_issuer"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_STREAM_SRV_CONF_OFFSET,
      offsetof(ngx_stream_kx_quotes_srv_conf_t, issuer),
      NULL },

    { ngx_string("kx_quotes_jwt_audience"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_STREAM_SRV_CONF_OFFSET,
      offsetof(ngx_stream_kx_quotes_srv_conf_t, audience),
      NULL },

    { ngx_string("kx_quotes_auth_timeout"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_STREAM_SRV_CONF_OFFSET,
      offsetof(ngx_stream_kx_quotes_srv_conf_t, auth_timeout),
      NULL },

    { ngx_string("kx_quotes_send_timeout"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_STREAM_SRV_CONF_OFFSET,
      offsetof(ngx_stream_kx_quotes_srv_conf_t, send_timeout),
      NULL },

    { ngx_string("kx_quotes_max_line"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_STREAM_SRV_CONF_OFFSET,
      offsetof(ngx_stream_kx_quotes_srv_conf_t, max_line),
      NULL },

    { ngx_string("kx_quotes_queue_size"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_STREAM_SRV_CONF_OFFSET,
      offsetof(ngx_stream_kx_quotes_srv_conf_t, queue_size),
      NULL },

    { ngx_string("kx_quotes_max_symbols"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_STREAM_SRV_CONF_OFFSET,
      offsetof(ngx_stream_kx_quotes_srv_conf_t, max_symbols),
      NULL },

      ngx_null_command
};


static ngx_stream_module_t  ngx_stream_kx_quotes_module_ctx = {
    NULL,                                  /* preconfiguration */
    NULL,                                  /* postconfiguration */

    ngx_stream_kx_quotes_create_main_conf, /* create main configuration */
    ngx_stream_kx_quotes_init_main_conf,   /* init main configuration */

    ngx_stream_kx_quotes_create_srv_conf,  /* create server configuration */
    ngx_stream_kx_quotes_merge_srv_conf    /* merge server configuration */
};


ngx_module_t  ngx_stream_kx_quotes_module = {
    NGX_MODULE_V1,
    &ngx_stream_kx_quotes_module_ctx,      /* module context */
    ngx_stream_kx_quotes_commands,         /* module directives */
    NGX_STREAM_MODULE,                     /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_stream_kx_quotes_init_process,     /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_stream_kx_quotes_exit_process,     /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


/* the session */

static void
ngx_stream_kx_quotes_handler(ngx_stream_session_t *s)
{
    ngx_int_t                          rc;
    ngx_connection_t                  *c;
    ngx_pool_cleanup_t                *cln;
    ngx_stream_kx_quotes_ctx_t        *ctx;
    ngx_stream_kx_quotes_srv_conf_t   *conf;
    ngx_stream_kx_quotes_main_conf_t  *qmcf;

    c = s->connection;
    c->log->action = "serving live quotes";

    qmcf = ngx_stream_get_module_main_conf(s, ngx_stream_kx_quotes_module);
    conf = ngx_stream_get_module_srv_conf(s, ngx_stream_kx_quotes_module);

    if (qmcf->syms == NULL) {
        /* not a worker process: cannot happen, but never crash */
        ngx_stream_finalize_session(s, NGX_STREAM_INTERNAL_SERVER_ERROR);
        return;
    }

    ctx = ngx_pcalloc(c->pool, sizeof(ngx_stream_kx_quotes_ctx_t));
    if (ctx == NULL) {
        ngx_stream_finalize_session(s, NGX_STREAM_INTERNAL_SERVER_ERROR);
        return;
    }

    cln = ngx_pool_cleanup_add(c->pool, 0);
    if (cln == NULL) {
        ngx_stream_finalize_session(s, NGX_STREAM_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_stream_kx_quotes_count("kx_quotes_connections_total", 1);

    ctx->session = s;
    ctx->conf = conf;
    ctx->qmcf = qmcf;

    kx_outq_init(&ctx->out, (uint32_t) conf->queue_size, 0);
    ngx_queue_init(&ctx->subs);

    cln->handler = ngx_stream_kx_quotes_cleanup;
    cln->data = ctx;

    ngx_stream_set_ctx(s, ctx, ngx_stream_kx_quotes_module);

    ctx->timer.handler = ngx_stream_kx_quotes_timer_handler;
    ctx->timer.data = ctx;
    ctx->timer.log = c->log;
    ctx->timer.cancelable = 1;

    ngx_add_timer(&ctx->timer, conf->auth_timeout);

    /*
     * A feed connection is idle whenever it waits: a graceful shutdown
     * (reload) closes it, and the client reconnects to a new worker.
     */
    c->idle = 1;

    c->read->handler = ngx_stream_kx_quotes_read_handler;
    c->write->handler = ngx_stream_kx_quotes_write_handler;

    if (c->buffer && c->buffer->pos < c->buffer->last) {
        /* bytes a preread phase has read already */
        rc = ngx_stream_kx_quotes_input(ctx, c->buffer->pos,
                                        c->buffer->last - c->buffer->pos);
        c->buffer->pos = c->buffer->last;

        if (rc == NGX_ERROR) {
            ngx_stream_finalize_session(s, NGX_STREAM_OK);
            return;
        }

        if (rc == NGX_DONE) {
            ngx_stream_kx_quotes_write_handler(c->write);
            return;
        }
    }

    ngx_stream_kx_quotes_read_handler(c->read);
}


static void
ngx_stream_kx_quotes_read_handler(ngx_event_t *rev)
{
    size_t                       total;
    ssize_t                      n;
    ngx_int_t                    rc;
    ngx_connection_t            *c;
    ngx_stream_session_t        *s;
    ngx_stream_kx_quotes_ctx_t  *ctx;

    c = rev->data;
    s = c->data;

    if (c->close) {
        ngx_stream_finalize_session(s, NGX_STREAM_OK);
        return;
    }

    ctx = ngx_stream_get_module_ctx(s, ngx_stream_kx_quotes_module);

    if (ctx->draining) {
        /* what the client says now does not matter */
        return;
    }

    total = 0;
    rc = NGX_OK;

    while (rev->ready) {
        n = c->recv(c, ctx->qmcf->buf, NGX_STREAM_KX_QUOTES_READ);

        if (n == NGX_AGAIN) {
            break;
        }

        if (n == NGX_ERROR || n == 0) {
            ngx_stream_finalize_session(s, NGX_STREAM_OK);
            return;
        }

        s->received += n;

        rc = ngx_stream_kx_quotes_input(ctx, ctx->qmcf->buf, n);

        if (rc == NGX_ERROR) {
            ngx_stream_finalize_session(s, NGX_STREAM_OK);
            return;
        }

        if (rc == NGX_DONE) {
            break;
        }

        total += n;

        if (total >= NGX_STREAM_KX_QUOTES_READ_MAX) {
            /* a chatty client waits for its next turn */
            ngx_post_event(rev, &ngx_posted_events);
            break;
        }
    }

    if (rc != NGX_DONE && ngx_handle_read_event(rev, 0) != NGX_OK) {
        ngx_stream_finalize_session(s, NGX_STREAM_INTERNAL_SERVER_ERROR);
        return;
    }

    if (!kx_outq_empty(&ctx->out) || ctx->draining) {
        ngx_stream_kx_quotes_write_handler(c->write);
    }
}


static void
ngx_stream_kx_quotes_write_handler(ngx_event_t *wev)
{
    size_t                       before;
    ngx_connection_t            *c;
    ngx_stream_session_t        *s;
    ngx_stream_kx_quotes_ctx_t  *ctx;

    c = wev->data;
    s = c->data;

    ctx = ngx_stream_get_module_ctx(s, ngx_stream_kx_quotes_module);

    if (wev->timedout) {
        ngx_log_error(NGX_LOG_INFO, c->log, NGX_ETIMEDOUT,
                      "kx_quotes: client stopped reading, closing");
        ngx_stream_kx_quotes_closed("send_timeout");
        ngx_stream_finalize_session(s, NGX_STREAM_OK);
        return;
    }

    if (ctx->close_now) {
        ngx_log_error(NGX_LOG_INFO, c->log, 0,
                      "kx_quotes: client too slow (%ui messages queued), "
                      "closing", (ngx_uint_t) ctx->out.count);
        ngx_stream_kx_quotes_closed("queue_full");
        ngx_stream_finalize_session(s, NGX_STREAM_OK);
        return;
    }

    before = ctx->out.bytes;

    if (ngx_stream_kx_quotes_send(ctx) == NGX_ERROR) {
        ngx_stream_finalize_session(s, NGX_STREAM_OK);
        return;
    }

    if (kx_outq_empty(&ctx->out)) {
        if (wev->timer_set) {
            ngx_del_timer(wev);
        }

        if (ctx->draining) {
            ngx_stream_finalize_session(s, NGX_STREAM_OK);
        }

        return;
    }

    if (wev->ready) {
        /* more than one writev holds: the rest on the next turn */
        ngx_post_event(wev, &ngx_posted_events);
        return;
    }

    if (ngx_handle_write_event(wev, 0) != NGX_OK) {
        ngx_stream_finalize_session(s, NGX_STREAM_INTERNAL_SERVER_ERROR);
        return;
    }

    /* the timeout runs from the last progress */
    if (ctx->out.bytes != before || !wev->timer_set) {
        ngx_add_timer(wev, ctx->conf->send_timeout);
    }
}


/* one writev() of what is queued */

static ngx_int_t
ngx_stream_kx_quotes_send(ngx_stream_kx_quotes_ctx_t *ctx)
{
    size_t             i;
    ssize_t            n;
    ngx_iovec_t        vec;
    ngx_connection_t  *c;
    struct iovec       iovs[NGX_STREAM_KX_QUOTES_IOV];

    c = ctx->session->connection;

    if (!c->write->ready || kx_outq_empty(&ctx->out)) {
        return NGX_OK;
    }

    vec.iovs = iovs;
    vec.nalloc = NGX_STREAM_KX_QUOTES_IOV;
    vec.count = kx_outq_iov(&ctx->out, iovs, NGX_STREAM_KX_QUOTES_IOV);
    vec.size = 0;

    for (i = 0; i < vec.count; i++) {
        vec.size += iovs[i].iov_len;
    }

    n = ngx_writev(c, &vec);

    if (n == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (n == NGX_AGAIN) {
        c->write->ready = 0;
        return NGX_OK;
    }

    kx_outq_advance(&ctx->out, n);
    c->sent += n;

    if ((size_t) n < vec.size) {
        c->write->ready = 0;
    }

    return NGX_OK;
}


/* no AUTH in time, or the token expired */

static void
ngx_stream_kx_quotes_timer_handler(ngx_event_t *ev)
{
    ngx_connection_t            *c;
    ngx_stream_kx_quotes_ctx_t  *ctx;

    ctx = ev->data;
    c = ctx->session->connection;

    if (ctx->draining) {
        return;
    }

    if (ctx->authed) {
        ngx_log_error(NGX_LOG_INFO, c->log, 0, "kx_quotes: token expired");
        ngx_stream_kx_quotes_closed("token_expired");
        (void) ngx_stream_kx_quotes_error(ctx, "token_expired",
                                          "the token expired: reconnect "
                                          "with a new one");
    } else {
        ngx_log_error(NGX_LOG_INFO, c->log, 0, "kx_quotes: no AUTH in time");
        ngx_stream_kx_quotes_closed("auth_timeout");
        (void) ngx_stream_kx_quotes_error(ctx, "auth_timeout",
                                          "no AUTH in time");
    }

    ctx->draining = 1;

    ngx_stream_kx_quotes_write_handler(c->write);
}


static void
ngx_stream_kx_quotes_cleanup(void *data)
{
    ngx_stream_kx_quotes_ctx_t *ctx = data;

    ngx_queue_t  *q;

    if (ctx->timer.timer_set) {
        ngx_del_timer(&ctx->timer);
    }

    while (!ngx_queue_empty(&ctx->subs)) {
        q = ngx_queue_head(&ctx->subs);
        ngx_stream_kx_quotes_unlink(
            ngx_queue_data(q, ngx_stream_kx_quotes_link_t, in_ctx));
    }

    kx_outq_free(&ctx->out);

    if (ctx->line) {
        ngx_free(ctx->line);
        ctx->line = NULL;
    }
}


/* input: lines, at most max_line bytes without the "\n" */

static ngx_int_t
ngx_stream_kx_quotes_input(ngx_stream_kx_quotes_ctx_t *ctx, u_char *p,
    size_t n)
{
    u_char      *last, *nl;
    size_t       len, max;
    ngx_int_t    rc;

    last = p + n;
    max = ctx->conf->max_line;

    while (p < last) {
        nl = ngx_strlchr(p, last, '\n');
        len = (nl ? nl : last) - p;

        if (ctx->line_len + len > max) {
            ngx_stream_kx_quotes_closed("line_too_long");
            (void) ngx_stream_kx_quotes_error(ctx, "line_too_long",
                                              "a line is too long");
            ctx->draining = 1;
            return NGX_DONE;
        }

        if (nl == NULL || ctx->line_len) {
            /* keep the start of a line, or complete the kept one */

            if (ctx->line == NULL) {
                ctx->line = ngx_alloc(max, ctx->session->connection->log);
                if (ctx->line == NULL) {
                    return NGX_ERROR;
                }
            }

            ngx_memcpy(ctx->line + ctx->line_len, p, len);
            ctx->line_len += len;

            if (nl == NULL) {
                return NGX_OK;
            }

            rc = ngx_stream_kx_quotes_command(ctx, ctx->line, ctx->line_len);

            /* an idle connection keeps no buffer */
            ngx_free(ctx->line);
            ctx->line = NULL;
            ctx->line_len = 0;

        } else {
            rc = ngx_stream_kx_quotes_command(ctx, p, len);
        }

        if (rc != NGX_OK) {
            return rc;
        }

        p = nl + 1;
    }

    return NGX_OK;
}


/* NGX_OK: go on; NGX_DONE: read no more (closing once written) */

static ngx_int_t
ngx_stream_kx_quotes_command(ngx_stream_kx_quotes_ctx_t *ctx, u_char *p,
    size_t len)
{
    u_char     *last;
    ngx_str_t   cmd;

    last = p + len;

    if (last > p && last[-1] == '\r') {
        last--;
    }

    if (ngx_stream_kx_quotes_word(&p, last, &cmd) != NGX_OK) {
        return NGX_OK;      /* an empty line */
    }

#define ngx_stream_kx_quotes_is(name)                                         \
    (cmd.len == sizeof(name) - 1                                              \
     && ngx_strncasecmp(cmd.data, (u_char *) name, sizeof(name) - 1) == 0)

    if (ngx_stream_kx_quotes_is("PING")) {
        return ngx_stream_kx_quotes_simple(ctx, "pong");
    }

    if (ngx_stream_kx_quotes_is("QUIT")) {
        (void) ngx_stream_kx_quotes_simple(ctx, "bye");
        ctx->draining = 1;
        return NGX_DONE;
    }

    if (ngx_stream_kx_quotes_is("AUTH")) {
        return ngx_stream_kx_quotes_auth(ctx, p, last);
    }

    if (ngx_stream_kx_quotes_is("SUBSCRIBE")) {
        if (!ctx->authed) {
            goto unauthorized;
        }

        return ngx_stream_kx_quotes_subscribe(ctx, p, last);
    }

    if (ngx_stream_kx_quotes_is("UNSUBSCRIBE")) {
        if (!ctx->authed) {
            goto unauthorized;
        }

        return ngx_stream_kx_quotes_unsubscribe(ctx, p, last);
    }

#undef ngx_stream_kx_quotes_is

    return ngx_stream_kx_quotes_error(ctx, "unknown_command",
                                      "commands: AUTH, SUBSCRIBE, "
                                      "UNSUBSCRIBE, PING, QUIT");

unauthorized:

    return ngx_stream_kx_quotes_error(ctx, "unauthorized",
                                      "authenticate first: AUTH <token>");
}


static ngx_int_t
ngx_stream_kx_quotes_auth(ngx_stream_kx_quotes_ctx_t *ctx, u_char *p,
    u_char *last)
{
    int                               rc;
    kx_jw_t                           w;
    time_t                            left;
    ngx_str_t                         token, extra;
    const char                       *code;
    kx_jwt_verify_t                   opt;
    kx_jwt_claims_t                   claims;
    ngx_connection_t                 *c;
    ngx_stream_kx_quotes_srv_conf_t  *conf;

    c = ctx->session->connection;
    conf = ctx->conf;

    if (ngx_stream_kx_quotes_word(&p, last, &token) != NGX_OK
        || ngx_stream_kx_quotes_word(&p, last, &extra) == NGX_OK)
    {
        return ngx_stream_kx_quotes_error(ctx, "bad_request",
                                          "usage: AUTH <token>");
    }

    ngx_memzero(&opt, sizeof(kx_jwt_verify_t));
    opt.now = ngx_time();
    opt.leeway = conf->leeway;
    opt.max_len = conf->max_line;
    opt.issuer = conf->issuer.len ? (const char *) conf->issuer.data : NULL;
    opt.audience = conf->audience.len ? (const char *) conf->audience.data
                                      : NULL;

    rc = kx_jwt_verify(&ctx->qmcf->keys, (const char *) token.data,
                       token.len, &opt, &claims);

    if (rc == KX_JWT_OK && claims.sub == NULL) {
        kx_jwt_claims_free(&claims);
        rc = KX_JWT_ECLAIMS;
    }

    if (rc != KX_JWT_OK) {
        ngx_log_error(NGX_LOG_INFO, c->log, 0,
                      "kx_quotes: token refused: %s", kx_jwt_strerror(rc));

        if (rc == KX_JWT_ENOMEM) {
            return NGX_ERROR;
        }

        code = (rc == KX_JWT_EEXPIRED) ? "token_expired" : "invalid_token";

        ngx_stream_kx_quotes_closed("auth_refused");

        (void) ngx_stream_kx_quotes_error(ctx, code, kx_jwt_strerror(rc));
        ctx->draining = 1;
        return NGX_DONE;
    }

    ngx_log_error(NGX_LOG_INFO, c->log, 0, "kx_quotes: authenticated \"%*s\"",
                  claims.sub_len, claims.sub);

    ctx->authed = 1;

    /* the session ends with its token; a new AUTH extends it */

    if (claims.exp) {
        left = (time_t) claims.exp + conf->leeway - opt.now;
        ngx_add_timer(&ctx->timer, left > 0 ? (ngx_msec_t) left * 1000 : 1);

    } else if (ctx->timer.timer_set) {
        ngx_del_timer(&ctx->timer);
    }

    kx_jw_init(&w);
    kx_jw_obj_begin(&w);
    kx_jw_key(&w, "type");
    kx_jw_str(&w, "authenticated");
    kx_jw_key(&w, "user_id");
    kx_jw_strn(&w, claims.sub, claims.sub_len);
    kx_jw_obj_end(&w);

    kx_jwt_claims_free(&claims);

    return ngx_stream_kx_quotes_reply(ctx, &w);
}


static ngx_int_t
ngx_stream_kx_quotes_subscribe(ngx_stream_kx_quotes_ctx_t *ctx, u_char *p,
    u_char *last)
{
    u_char                            *start;
    kx_jw_t                            w;
    ngx_int_t                          index, rc;
    ngx_str_t                          word;
    ngx_uint_t                         nnew;
    const kx_symbol_t                 *sym;
    ngx_stream_kx_quotes_main_conf_t  *qmcf;

    qmcf = ctx->qmcf;
    start = p;

    if (ngx_stream_kx_quotes_word(&start, last, &word) != NGX_OK) {
        return ngx_stream_kx_quotes_error(ctx, "bad_request",
                                          "usage: SUBSCRIBE <symbol> ...");
    }

    rc = ngx_stream_kx_quotes_symbols(ctx, p, last, &nnew);
    if (rc != NGX_OK) {
        return rc == NGX_DECLINED ? NGX_OK : rc;
    }

    if (ctx->nsubs + nnew > ctx->conf->max_symbols) {
        return ngx_stream_kx_quotes_error(ctx, "too_many_symbols",
                                          "too many symbols on one "
                                          "connection");
    }

    if (ngx_stream_kx_quotes_redis(qmcf) == NULL) {
        return ngx_stream_kx_quotes_error(ctx, "unavailable",
                                          "no quote source configured");
    }

    kx_jw_init(&w);
    kx_jw_obj_begin(&w);
    kx_jw_key(&w, "type");
    kx_jw_str(&w, "subscribed");
    kx_jw_key(&w, "symbols");
    kx_jw_arr_begin(&w);

    qmcf->gen++;

    while (ngx_stream_kx_quotes_word(&p, last, &word) == NGX_OK) {
        index = ngx_stream_kx_quotes_symbol(&word);

        if (qmcf->seen[index] == qmcf->gen) {
            continue;
        }

        qmcf->seen[index] = qmcf->gen;

        if (ngx_stream_kx_quotes_find(ctx, index) == NULL
            && ngx_stream_kx_quotes_link(ctx, index) != NGX_OK)
        {
            kx_jw_free(&w);
            return NGX_ERROR;
        }

        sym = kx_symbol_at(index);
        kx_jw_str(&w, sym->symbol);
    }

    kx_jw_arr_end(&w);
    kx_jw_obj_end(&w);

    return ngx_stream_kx_quotes_reply(ctx, &w);
}


static ngx_int_t
ngx_stream_kx_quotes_unsubscribe(ngx_stream_kx_quotes_ctx_t *ctx, u_char *p,
    u_char *last)
{
    kx_jw_t                            w;
    ngx_int_t                          index, rc;
    ngx_str_t                          word;
    ngx_uint_t                         nnew, all;
    ngx_queue_t                       *q;
    ngx_stream_kx_quotes_link_t       *link;
    ngx_stream_kx_quotes_main_conf_t  *qmcf;

    qmcf = ctx->qmcf;

    rc = ngx_stream_kx_quotes_symbols(ctx, p, last, &nnew);
    if (rc != NGX_OK) {
        return rc == NGX_DECLINED ? NGX_OK : rc;
    }

    kx_jw_init(&w);
    kx_jw_obj_begin(&w);
    kx_jw_key(&w, "type");
    kx_jw_str(&w, "unsubscribed");
    kx_jw_key(&w, "symbols");
    kx_jw_arr_begin(&w);

    all = 1;
    qmcf->gen++;

    while (ngx_stream_kx_quotes_word(&p, last, &word) == NGX_OK) {
        all = 0;
        index = ngx_stream_kx_quotes_symbol(&word);

        if (qmcf->seen[index] == qmcf->gen) {
            continue;
        }

        qmcf->seen[index] = qmcf->gen;

        link = ngx_stream_kx_quotes_find(ctx, index);
        if (link) {
            ngx_stream_kx_quotes_unlink(link);
        }

        kx_jw_str(&w, kx_symbol_at(index)->symbol);
    }

    /* no symbols: all of them */

    while (all && !ngx_queue_empty(&ctx->subs)) {
        q = ngx_queue_head(&ctx->subs);
        link = ngx_queue_data(q, ngx_stream_kx_quotes_link_t, in_ctx);

        kx_jw_str(&w, kx_symbol_at(link->sym->index)->symbol);
        ngx_stream_kx_quotes_unlink(link);
    }

    kx_jw_arr_end(&w);
    kx_jw_obj_end(&w);

    return ngx_stream_kx_quotes_reply(ctx, &w);
}


/*
 * Checks every symbol of a command before anything changes: NGX_DECLINED
 * (answered with the unknown ones), or NGX_OK with the number of distinct
 * symbols this connection has not subscribed yet.
 */

static ngx_int_t
ngx_stream_kx_quotes_symbols(ngx_stream_kx_quotes_ctx_t *ctx, u_char *p,
    u_char *last, ngx_uint_t *nnew)
{
    kx_jw_t                            w;
    ngx_int_t                          index;
    ngx_str_t                          word;
    ngx_uint_t                         unknown;
    ngx_stream_kx_quotes_main_conf_t  *qmcf;

    qmcf = ctx->qmcf;

    *nnew = 0;
    unknown = 0;
    qmcf->gen++;

    kx_jw_init(&w);
    kx_jw_obj_begin(&w);
    kx_jw_key(&w, "type");
    kx_jw_str(&w, "error");
    kx_jw_key(&w, "code");
    kx_jw_str(&w, "unknown_symbol");
    kx_jw_key(&w, "symbols");
    kx_jw_arr_begin(&w);

    while (ngx_stream_kx_quotes_word(&p, last, &word) == NGX_OK) {
        index = ngx_stream_kx_quotes_symbol(&word);

        if (index == NGX_ERROR) {
            unknown++;
            kx_jw_strn(&w, (const char *) word.data, word.len);
            continue;
        }

        if (qmcf->seen[index] == qmcf->gen) {
            continue;
        }

        qmcf->seen[index] = qmcf->gen;

        if (ngx_stream_kx_quotes_find(ctx, index) == NULL) {
            (*nnew)++;
        }
    }

    kx_jw_arr_end(&w);

    if (unknown == 0) {
        kx_jw_free(&w);
        return NGX_OK;
    }

    kx_jw_key(&w, "message");
    kx_jw_str(&w, "unknown symbol; nothing changed");
    kx_jw_obj_end(&w);

    /* NGX_DONE: the reply did not fit, the connection closes */
    return ngx_stream_kx_quotes_reply(ctx, &w) == NGX_OK ? NGX_DECLINED
                                                          : NGX_DONE;
}


/* the next word separated by spaces or tabs */

static ngx_int_t
ngx_stream_kx_quotes_word(u_char **pos, u_char *last, ngx_str_t *word)
{
    u_char  *p;

    for (p = *pos; p < last && (*p == ' ' || *p == '\t'); p++) {
        /* void */
    }

    word->data = p;

    for ( /* void */ ; p < last && *p != ' ' && *p != '\t'; p++) {
        /* void */
    }

    word->len = p - word->data;
    *pos = p;

    return word->len ? NGX_OK : NGX_DECLINED;
}


/* the symbol's index, in any letter case; NGX_ERROR when unknown */

static ngx_int_t
ngx_stream_kx_quotes_symbol(ngx_str_t *word)
{
    int     index;
    u_char  name[KX_SYMBOL_MAX_LEN];

    if (word->len > KX_SYMBOL_MAX_LEN) {
        return NGX_ERROR;
    }

    /* upper case: the table's form */
    for (index = 0; (size_t) index < word->len; index++) {
        name[index] = ngx_toupper(word->data[index]);
    }

    index = kx_symbol_index((const char *) name, word->len);

    return index < 0 ? NGX_ERROR : index;
}


static ngx_stream_kx_quotes_link_t *
ngx_stream_kx_quotes_find(ngx_stream_kx_quotes_ctx_t *ctx, ngx_uint_t index)
{
    ngx_queue_t                  *q;
    ngx_stream_kx_quotes_link_t  *link;

    for (q = ngx_queue_head(&ctx->subs);
         q != ngx_queue_sentinel(&ctx->subs);
         q = ngx_queue_next(q))
    {
        link = ngx_queue_data(q, ngx_stream_kx_quotes_link_t, in_ctx);

        if (link->sym->index == index) {
            return link;
        }
    }

    return NULL;
}


/* subscribe the connection; the worker subscribes the channel if first */

static ngx_int_t
ngx_stream_kx_quotes_link(ngx_stream_kx_quotes_ctx_t *ctx, ngx_uint_t index)
{
    u_char                        name[sizeof(NGX_STREAM_KX_QUOTES_CHANNEL)
                                       + KX_SYMBOL_MAX_LEN];
    ngx_str_t                     channel;
    ngx_connection_t             *c;
    ngx_stream_kx_quotes_sym_t   *sym;
    ngx_stream_kx_quotes_link_t  *link;

    c = ctx->session->connection;
    sym = &ctx->qmcf->syms[index];

    if (sym->nlinks == 0) {
        channel.data = name;
        channel.len = ngx_sprintf(name, NGX_STREAM_KX_QUOTES_CHANNEL "%s",
                                  kx_symbol_at(index)->symbol)
                      - name;

        sym->sub = kx_redis_subscribe(ctx->qmcf->rd, &channel, 0,
                                      ngx_stream_kx_quotes_message, sym);
        if (sym->sub == NULL) {
            return NGX_ERROR;
        }

        ngx_log_debug1(NGX_LOG_DEBUG_STREAM, c->log, 0,
                       "kx_quotes: subscribe \"%V\"", &channel);
    }

    link = ngx_alloc(sizeof(ngx_stream_kx_quotes_link_t), c->log);
    if (link == NULL) {
        if (sym->nlinks == 0) {
            kx_redis_unsubscribe(sym->sub);
            sym->sub = NULL;
        }

        return NGX_ERROR;
    }

    link->sym = sym;
    link->ctx = ctx;

    ngx_queue_insert_tail(&sym->links, &link->in_sym);
    ngx_queue_insert_tail(&ctx->subs, &link->in_ctx);

    sym->nlinks++;
    ctx->nsubs++;

    return NGX_OK;
}


static void
ngx_stream_kx_quotes_unlink(ngx_stream_kx_quotes_link_t *link)
{
    ngx_stream_kx_quotes_sym_t  *sym;

    sym = link->sym;

    ngx_queue_remove(&link->in_sym);
    ngx_queue_remove(&link->in_ctx);

    link->ctx->nsubs--;

    /* at worker exit the client is gone with its subscriptions */

    if (--sym->nlinks == 0 && sym->sub && !sym->qmcf->exiting) {
        kx_redis_unsubscribe(sym->sub);
        sym->sub = NULL;
    }

    ngx_free(link);
}


static kx_redis_t *
ngx_stream_kx_quotes_redis(ngx_stream_kx_quotes_main_conf_t *qmcf)
{
    if (qmcf->rd == NULL && !qmcf->own_redis) {
        /* the http block's client, made in its init_process */
        qmcf->rd = ngx_http_kx_io_redis_cycle((ngx_cycle_t *) ngx_cycle);
    }

    return qmcf->rd;
}


/* a message on kx:quote:<SYMBOL>: to every connection that wants it */

static void
ngx_stream_kx_quotes_message(kx_redis_sub_event_e event, ngx_str_t *channel,
    ngx_str_t *message, void *data)
{
    ngx_stream_kx_quotes_sym_t *sym = data;

    uint64_t                      replaced;
    ngx_queue_t                  *q, *next;
    kx_outq_msg_t                *m;
    ngx_stream_kx_quotes_ctx_t   *ctx;
    ngx_stream_kx_quotes_link_t  *link;

    if (event != KX_REDIS_SUB_MESSAGE || ngx_queue_empty(&sym->links)) {
        return;
    }

    /* a line must stay one line */
    if (message->len == 0
        || ngx_strlchr(message->data, message->data + message->len, '\n'))
    {
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "kx_quotes: message on \"%V\" is not one line, dropped",
                      channel);
        return;
    }

    m = kx_outq_msg_create(message->data, message->len, "\n", 1);
    if (m == NULL) {
        return;
    }

    replaced = 0;

    for (q = ngx_queue_head(&sym->links);
         q != ngx_queue_sentinel(&sym->links);
         q = next)
    {
        next = ngx_queue_next(q);
        link = ngx_queue_data(q, ngx_stream_kx_quotes_link_t, in_sym);
        ctx = link->ctx;

        replaced -= ctx->out.replaced;
        (void) ngx_stream_kx_quotes_push(ctx, m, sym->index + 1);
        replaced += ctx->out.replaced;
    }

    kx_outq_msg_unref(m);

    ngx_stream_kx_quotes_count("kx_quotes_messages_total", 1);
    ngx_stream_kx_quotes_count("kx_quotes_queued_total", sym->nlinks);

    if (replaced) {
        ngx_stream_kx_quotes_count("kx_quotes_replaced_total", replaced);
    }
}


/* output */

/*
 * Queue a message and have the connection written after this turn of the
 * event loop, so that everything queued meanwhile goes in one writev().
 * A full queue closes the connection (from its write handler: the caller
 * may be walking a list this connection is on).
 */

static ngx_int_t
ngx_stream_kx_quotes_push(ngx_stream_kx_quotes_ctx_t *ctx, kx_outq_msg_t *m,
    uint32_t key)
{
    if (ctx->close_now) {
        return NGX_ERROR;
    }

    switch (kx_outq_push(&ctx->out, m, key)) {

    case KX_OUTQ_OK:
    case KX_OUTQ_REPLACED:
        ngx_stream_kx_quotes_post_write(ctx);
        return NGX_OK;

    default:
        ctx->close_now = 1;
        ngx_post_event(ctx->session->connection->write, &ngx_posted_events);
        return NGX_ERROR;
    }
}


static void
ngx_stream_kx_quotes_post_write(ngx_stream_kx_quotes_ctx_t *ctx)
{
    ngx_event_t  *wev;

    wev = ctx->session->connection->write;

    /* not ready: the kernel tells when it is */
    if (wev->ready && !wev->posted) {
        ngx_post_event(wev, &ngx_posted_events);
    }
}


/* finishes and frees w; queues it with a "\n" */

static ngx_int_t
ngx_stream_kx_quotes_reply(ngx_stream_kx_quotes_ctx_t *ctx, kx_jw_t *w)
{
    size_t          len;
    ngx_int_t       rc;
    const char     *json;
    kx_outq_msg_t  *m;

    if (kx_jw_finish(w, &json, &len) != KX_JW_OK) {
        kx_jw_free(w);
        return NGX_ERROR;
    }

    m = kx_outq_msg_create(json, len, "\n", 1);

    kx_jw_free(w);

    if (m == NULL) {
        return NGX_ERROR;
    }

    rc = ngx_stream_kx_quotes_push(ctx, m, 0);

    kx_outq_msg_unref(m);

    /* a client that never reads its replies is closed like a slow one */
    return rc == NGX_OK ? NGX_OK : NGX_DONE;
}


static ngx_int_t
ngx_stream_kx_quotes_simple(ngx_stream_kx_quotes_ctx_t *ctx, const char *type)
{
    kx_jw_t  w;

    kx_jw_init(&w);
    kx_jw_obj_begin(&w);
    kx_jw_key(&w, "type");
    kx_jw_str(&w, type);
    kx_jw_obj_end(&w);

    return ngx_stream_kx_quotes_reply(ctx, &w);
}


static ngx_int_t
ngx_stream_kx_quotes_error(ngx_stream_kx_quotes_ctx_t *ctx, const char *code,
    const char *message)
{
    kx_jw_t  w;

    kx_jw_init(&w);
    kx_jw_obj_begin(&w);
    kx_jw_key(&w, "type");
    kx_jw_str(&w, "error");
    kx_jw_key(&w, "code");
    kx_jw_str(&w, code);
    kx_jw_key(&w, "message");
    kx_jw_str(&w, message);
    kx_jw_obj_end(&w);

    return ngx_stream_kx_quotes_reply(ctx, &w);
}


/* the worker */

static ngx_int_t
ngx_stream_kx_quotes_init_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                         i;
    ngx_stream_kx_quotes_sym_t        *sym;
    ngx_stream_kx_quotes_main_conf_t  *qmcf;

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    qmcf = ngx_stream_cycle_get_module_main_conf(cycle,
                                                 ngx_stream_kx_quotes_module);
    if (qmcf == NULL || !qmcf->enabled) {
        return NGX_OK;
    }

    qmcf->nsyms = kx_symbols_count();

    qmcf->syms = ngx_pcalloc(cycle->pool,
                             qmcf->nsyms * sizeof(ngx_stream_kx_quotes_sym_t));
    qmcf->seen = ngx_pcalloc(cycle->pool, qmcf->nsyms * sizeof(uint32_t));
    qmcf->buf = ngx_pnalloc(cycle->pool, NGX_STREAM_KX_QUOTES_READ);

    if (qmcf->syms == NULL || qmcf->seen == NULL || qmcf->buf == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < qmcf->nsyms; i++) {
        sym = &qmcf->syms[i];
        ngx_queue_init(&sym->links);
        sym->index = (uint32_t) i;
        sym->qmcf = qmcf;
    }

    if (qmcf->own_redis) {
        qmcf->rd = kx_redis_create(&qmcf->redis, cycle->log);
        if (qmcf->rd == NULL) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static void
ngx_stream_kx_quotes_exit_process(ngx_cycle_t *cycle)
{
    ngx_stream_kx_quotes_main_conf_t  *qmcf;

    qmcf = ngx_stream_cycle_get_module_main_conf(cycle,
                                                 ngx_stream_kx_quotes_module);
    if (qmcf == NULL) {
        return;
    }

    /*
     * The subscriptions go with the client (the http io module may have
     * destroyed its client already): never unsubscribe from now on.
     */
    qmcf->exiting = 1;

    if (qmcf->own_redis && qmcf->rd) {
        kx_redis_destroy(qmcf->rd);
    }

    qmcf->rd = NULL;
}


/* configuration */

static void *
ngx_stream_kx_quotes_create_main_conf(ngx_conf_t *cf)
{
    ngx_stream_kx_quotes_main_conf_t  *qmcf;

    qmcf = ngx_pcalloc(cf->pool, sizeof(ngx_stream_kx_quotes_main_conf_t));
    if (qmcf == NULL) {
        return NULL;
    }

    if (kx_jwt_conf_keyset_cleanup(cf, &qmcf->keys) != NGX_OK) {
        return NULL;
    }

    return qmcf;
}


static char *
ngx_stream_kx_quotes_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_stream_kx_quotes_main_conf_t *qmcf = conf;

    if (!qmcf->enabled) {
        return NGX_CONF_OK;
    }

    if (qmcf->keys.nkeys == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"kx_quotes\" needs \"kx_quotes_jwt_key\" or "
                           "\"kx_quotes_jwt_jwks\"");
        return NGX_CONF_ERROR;
    }

    if (!qmcf->own_redis && ngx_http_kx_io_redis_conf(cf->cycle) == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"kx_quotes\" needs \"kx_quotes_redis\", or "
                           "\"kx_redis_addr\" in an http{} block before "
                           "stream{}");
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static void *
ngx_stream_kx_quotes_create_srv_conf(ngx_conf_t *cf)
{
    ngx_stream_kx_quotes_srv_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_stream_kx_quotes_srv_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->issuer = { 0, NULL };
     *     conf->audience = { 0, NULL };
     */

    conf->auth_timeout = NGX_CONF_UNSET_MSEC;
    conf->send_timeout = NGX_CONF_UNSET_MSEC;
    conf->max_line = NGX_CONF_UNSET_SIZE;
    conf->queue_size = NGX_CONF_UNSET_UINT;
    conf->max_symbols = NGX_CONF_UNSET_UINT;
    conf->leeway = NGX_CONF_UNSET;

    return conf;
}


static char *
ngx_stream_kx_quotes_merge_srv_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_stream_kx_quotes_srv_conf_t *prev = parent;
    ngx_stream_kx_quotes_srv_conf_t *conf = child;

    ngx_conf_merge_msec_value(conf->auth_timeout, prev->auth_timeout, 10000);
    ngx_conf_merge_msec_value(conf->send_timeout, prev->send_timeout, 10000);
    ngx_conf_merge_size_value(conf->max_line, prev->max_line, 4096);
    ngx_conf_merge_uint_value(conf->queue_size, prev->queue_size, 128);
    ngx_conf_merge_uint_value(conf->max_symbols, prev->max_symbols, 50);
    ngx_conf_merge_sec_value(conf->leeway, prev->leeway, 30);
    ngx_conf_merge_str_value(conf->issuer, prev->issuer, "");
    ngx_conf_merge_str_value(conf->audience, prev->audience, "");

    if (conf->max_line < 64 || conf->max_line > 1024 * 1024) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"kx_quotes_max_line\" must be 64 to 1m");
        return NGX_CONF_ERROR;
    }

    if (conf->queue_size < 1 || conf->queue_size > 65536) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"kx_quotes_queue_size\" must be 1 to 65536");
        return NGX_CONF_ERROR;
    }

    /*
     * Quotes coalesce per symbol, so a queue holds at most one quote of
     * each subscribed symbol (two behind a partly written one) and room
     * for replies: a burst of every symbol must fit.
     */
    if (conf->max_symbols < 1 || conf->max_symbols >= conf->queue_size) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"kx_quotes_max_symbols\" must be at least 1 "
                           "and less than \"kx_quotes_queue_size\"");
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_stream_kx_quotes(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_stream_core_srv_conf_t        *cscf;
    ngx_stream_kx_quotes_main_conf_t  *qmcf;

    cscf = ngx_stream_conf_get_module_srv_conf(cf, ngx_stream_core_module);

    if (cscf->handler) {
        return "is duplicate, or the server has another handler";
    }

    cscf->handler = ngx_stream_kx_quotes_handler;

    qmcf = ngx_stream_conf_get_module_main_conf(cf,
                                                ngx_stream_kx_quotes_module);
    qmcf->enabled = 1;

    return NGX_CONF_OK;
}


/* kx_quotes_redis address:port;  the defaults of kx_redis_addr otherwise */

static char *
ngx_stream_kx_quotes_redis_addr(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_stream_kx_quotes_main_conf_t *qmcf = conf;

    ngx_str_t  *value;

    if (qmcf->own_redis) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (kx_redis_conf_addr(cf, &value[1], &qmcf->redis) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    qmcf->redis.timeout = 2000;
    qmcf->redis.connect_timeout = 2000;
    qmcf->redis.backoff_min = 100;
    qmcf->redis.backoff_max = 5000;

    qmcf->own_redis = 1;

    return NGX_CONF_OK;
}


static char *
ngx_stream_kx_quotes_jwt_key(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_stream_kx_quotes_main_conf_t *qmcf = conf;

    return kx_jwt_conf_key(cf, &qmcf->keys);
}


static char *
ngx_stream_kx_quotes_jwt_jwks(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_stream_kx_quotes_main_conf_t *qmcf = conf;

    return kx_jwt_conf_jwks(cf, &qmcf->keys);
}
