
/*
 * Copyright (C) Kianax
 *
 * One WebSocket of the notification service, from the handshake to the
 * close (RFC 6455; framing in src/notify/kx_ws.c).
 *
 * After the 101 the HTTP request is freed and the connection is ours: its
 * pool keeps the small per-socket struct, and buffers exist only while
 * they hold something (a partial frame, a fragmented message, queued
 * output), so an idle socket costs about a kilobyte.
 *
 * Output goes through a bounded kx_outq of shared frames.  Fan-out only
 * queues and posts the write event, so everything queued for a socket in
 * one pass of the event loop leaves in ONE writev().  A socket that
 * cannot keep up has its quotes coalesced per symbol, and is closed (1008)
 * past the queue's limits, or when nothing could be written for
 * kx_notify_send_timeout.
 *
 * Timers: the read event's timer is the authentication deadline, then the
 * ping interval (a ping unanswered by the next tick closes the socket),
 * then the wait for the peer after our close frame; the write event's
 * timer is the send timeout.  Both are cancelable.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_kx.h"
#include "kx_ws_conn.h"
#include "core/kx_utf8.h"
#include "market/kx_symbols.h"
#include "notify/kx_ws.h"


#define KX_WS_IOV            128
#define KX_WS_CLOSE_WAIT     2000
#define KX_WS_SUBS_MAX       100
#define KX_WS_RBUF_MIN       1024


static ngx_int_t kx_ws_header_has(ngx_http_request_t *r, const char *name,
    ngx_str_t *value);
static ngx_int_t kx_ws_token_in(ngx_str_t *value, const char *token);
static void kx_ws_upgrade_handler(ngx_event_t *wev);
static void kx_ws_read_handler(ngx_event_t *rev);
static void kx_ws_write_handler(ngx_event_t *wev);
static ngx_int_t kx_ws_flush(kx_ws_conn_t *wc);
static void kx_ws_timeout(kx_ws_conn_t *wc);
static ngx_int_t kx_ws_parse(kx_ws_conn_t *wc, u_char *buf, size_t len);
static ngx_int_t kx_ws_frame(kx_ws_conn_t *wc, kx_ws_frame_t *f);
static void kx_ws_message(kx_ws_conn_t *wc, unsigned op, u_char *data,
    size_t len);
static void kx_ws_command(kx_ws_conn_t *wc, kx_notify_cmd_t *cmd);
static void kx_ws_auth(kx_ws_conn_t *wc, kx_notify_cmd_t *cmd);
static void kx_ws_symbols_reply(kx_ws_conn_t *wc, const char *type);
static void kx_ws_fail_reason(kx_ws_conn_t *wc, unsigned code,
    const char *reason);
static void kx_ws_close_frame(kx_ws_conn_t *wc);
static void kx_ws_control(kx_ws_conn_t *wc, unsigned op, const u_char *p,
    size_t len);
static void kx_ws_post_write(kx_ws_conn_t *wc);
static void kx_ws_destroy(kx_ws_conn_t *wc);


extern ngx_module_t  ngx_http_kx_notify_module;

/* reads land here first; only a partial frame is copied to the socket */
static u_char  kx_ws_scratch[65536];


/* the handshake (a content handler) */

ngx_int_t
kx_ws_handshake(ngx_http_request_t *r)
{
    u_char                     *p;
    size_t                      len;
    ngx_str_t                   upgrade, connection, key, version, v;
    kx_ws_conn_t               *wc;
    kx_outq_msg_t              *m;
    ngx_connection_t           *c;
    kx_stream_id_t              from;
    kx_notify_main_conf_t      *nmcf;
    ngx_http_variable_value_t  *sub, *rid, *ev;
    char                        accept[KX_WS_ACCEPT_LEN];
    u_char                      buf[512];

    static ngx_str_t  ver13 = ngx_string("13");

    c = r->connection;
    nmcf = ngx_http_get_module_main_conf(r, ngx_http_kx_notify_module);

    if (r != r->main) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (r->method != NGX_HTTP_GET) {
        return ngx_http_kx_send_error(r, NGX_HTTP_NOT_ALLOWED,
                                      "method_not_allowed",
                                      "a WebSocket opens with GET");
    }

    if (r->http_version < NGX_HTTP_VERSION_11
#if (NGX_HTTP_V2)
        || r->stream
#endif
        || kx_ws_header_has(r, "Upgrade", &upgrade) != NGX_OK
        || kx_ws_token_in(&upgrade, "websocket") != NGX_OK
        || kx_ws_header_has(r, "Connection", &connection) != NGX_OK
        || kx_ws_token_in(&connection, "upgrade") != NGX_OK)
    {
        return ngx_http_kx_send_error(r, NGX_HTTP_BAD_REQUEST,
                                      "bad_handshake",
                                      "an HTTP/1.1 WebSocket upgrade "
                                      "is required here");
    }

    if (kx_ws_header_has(r, "Sec-WebSocket-Version", &version) != NGX_OK) {
        return ngx_http_kx_send_error(r, NGX_HTTP_BAD_REQUEST,
                                      "bad_handshake",
                                      "Sec-WebSocket-Version is missing");
    }

    if (version.len != 2 || ngx_strncmp(version.data, "13", 2) != 0) {
        /* RFC 6455 4.4: name the version we speak */
        if (ngx_http_kx_add_header(r, "Sec-WebSocket-Version", &ver13)
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_kx_send_error(r, 426, "unsupported_version",
                                      "only WebSocket version 13 is "
                                      "spoken here");
    }

    if (kx_ws_header_has(r, "Sec-WebSocket-Key", &key) != NGX_OK
        || kx_ws_accept_key((const char *) key.data, key.len, accept) != 0)
    {
        return ngx_http_kx_send_error(r, NGX_HTTP_BAD_REQUEST,
                                      "bad_handshake",
                                      "Sec-WebSocket-Key must be the "
                                      "base64 of 16 bytes");
    }

    sub = ngx_http_get_indexed_variable(r, nmcf->sub_index);

    if (sub && !sub->not_found
        && !kx_notify_uid_valid((const char *) sub->data, sub->len))
    {
        return ngx_http_kx_send_error(r, NGX_HTTP_FORBIDDEN, "forbidden",
                                      "the token's subject is not a user");
    }

    if (ngx_http_arg(r, (u_char *) "last_event_id", 13, &v) == NGX_OK) {
        if (kx_stream_id_parse((const char *) v.data, v.len, &from) != 0) {
            return ngx_http_kx_send_error(r, NGX_HTTP_BAD_REQUEST,
                                          "invalid_event_id",
                                          "last_event_id must be a stream "
                                          "id such as 1700000000000-0");
        }

    } else {
        v.len = 0;
    }

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    wc = ngx_pcalloc(c->pool, sizeof(kx_ws_conn_t));
    if (wc == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    wc->c = c;
    wc->nmcf = nmcf;
    ngx_queue_init(&wc->user_link);
    kx_outq_init(&wc->out, (uint32_t) nmcf->queue_messages,
                 nmcf->queue_bytes);

    rid = ngx_http_get_indexed_variable(r, nmcf->request_id_index);

    p = ngx_snprintf(buf, sizeof(buf),
                     "HTTP/1.1 101 Switching Protocols\r\n"
                     "Upgrade: websocket\r\n"
                     "Connection: Upgrade\r\n"
                     "Sec-WebSocket-Accept: %*s\r\n",
                     (size_t) KX_WS_ACCEPT_LEN, accept);

    if (rid && !rid->not_found && rid->len < 100) {
        p = ngx_snprintf(p, buf + sizeof(buf) - p, "X-Request-ID: %*s\r\n",
                         (size_t) rid->len, rid->data);
    }

    p = ngx_cpymem(p, "\r\n", 2);
    len = p - buf;

    m = kx_outq_msg_create(buf, len, NULL, 0);
    if (m == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    (void) kx_outq_push(&wc->out, m, 0);
    kx_outq_msg_unref(m);

    ngx_http_set_ctx(r, wc, ngx_http_kx_notify_module);

    kx_ws_hub_add(wc);

    if (v.len) {
        wc->resume = 1;
        wc->resume_from = from;
    }

    if (sub && !sub->not_found) {
        ev = ngx_http_get_indexed_variable(r, nmcf->exp_index);

        if (ev && !ev->not_found) {
            wc->exp = ngx_atotm(ev->data, ev->len);
            wc->exp = (wc->exp == NGX_ERROR) ? 0 : wc->exp;
        }

        if (kx_ws_hub_user(wc, sub->data, sub->len) != NGX_OK) {
            kx_ws_hub_remove(wc);
            kx_outq_free(&wc->out);
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        wc->authed = 1;

        if (wc->resume) {
            (void) kx_ws_hub_resume(wc);
        }
    }

    /* the access log says what happened */
    r->headers_out.status = NGX_HTTP_SWITCHING_PROTOCOLS;

    /*
     * The request is freed from a posted event: nginx still uses it when
     * this handler returns (finalization, posted subrequests).
     */
    r->main->count++;
    c->write->handler = kx_ws_upgrade_handler;
    ngx_post_event(c->write, &ngx_posted_events);

    return NGX_DONE;
}


static ngx_int_t
kx_ws_header_has(ngx_http_request_t *r, const char *name, ngx_str_t *value)
{
    size_t            len;
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    len = ngx_strlen(name);
    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return NGX_DECLINED;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == len
            && ngx_strncasecmp(h[i].key.data, (u_char *) name, len) == 0)
        {
            *value = h[i].value;
            return NGX_OK;
        }
    }
}


/* a comma-separated header holds the token (any case) */
static ngx_int_t
kx_ws_token_in(ngx_str_t *value, const char *token)
{
    u_char  *p, *last, *start;
    size_t   len;

    len = ngx_strlen(token);
    p = value->data;
    last = p + value->len;

    while (p < last) {
        while (p < last && (*p == ' ' || *p == '\t' || *p == ',')) {
            p++;
        }

        start = p;

        while (p < last && *p != ',' && *p != ' ' && *p != '\t') {
            p++;
        }

        if ((size_t) (p - start) == len
            && ngx_strncasecmp(start, (u_char *) token, len) == 0)
        {
            return NGX_OK;
        }
    }

    return NGX_DECLINED;
}


/* the request is done with: the connection becomes a WebSocket */

static void
kx_ws_upgrade_handler(ngx_event_t *wev)
{
    size_t                     n;
    ngx_buf_t                 *b;
    ngx_chain_t               *cl, *ln;
    kx_ws_conn_t              *wc;
    ngx_connection_t          *c;
    ngx_http_request_t        *r;
    ngx_http_connection_t     *hc;

    c = wev->data;
    r = c->data;
    wc = ngx_http_get_module_ctx(r, ngx_http_kx_notify_module);
    hc = r->http_connection;

    wc->main_conf = r->main_conf;
    wc->loc_conf = r->loc_conf;

    /* a client may send frames right behind its handshake */

    b = r->header_in;
    n = b->last - b->pos;

    if (n) {
        wc->rcap = ngx_max(n, KX_WS_RBUF_MIN);
        wc->rbuf = ngx_alloc(wc->rcap, c->log);

        if (wc->rbuf == NULL) {
            wc->rcap = 0;

        } else {
            ngx_memcpy(wc->rbuf, b->pos, n);
            wc->rlen = n;
        }
    }

    ngx_http_free_request(r, 0);

    c->data = wc;

    /* the header buffers, as ngx_http_set_keepalive() frees them */

    b = c->buffer;

    if (b && ngx_pfree(c->pool, b->start) == NGX_OK) {
        b->pos = NULL;
    }

    for (cl = hc->free; cl; /* void */) {
        ln = cl;
        cl = cl->next;
        ngx_pfree(c->pool, ln->buf->start);
        ngx_free_chain(c->pool, ln);
    }

    hc->free = NULL;

    for (cl = hc->busy; cl; /* void */) {
        ln = cl;
        cl = cl->next;
        ngx_pfree(c->pool, ln->buf->start);
        ngx_free_chain(c->pool, ln);
    }

    hc->busy = NULL;
    hc->nbusy = 0;

    if (c->read->timer_set) {
        ngx_del_timer(c->read);
    }

    if (c->write->timer_set) {
        ngx_del_timer(c->write);
    }

    kx_ws_count("kx_notify_ws_opened_total", 1);

    c->log->action = "serving a WebSocket";
    c->read->handler = kx_ws_read_handler;
    c->write->handler = kx_ws_write_handler;
    c->read->cancelable = 1;
    c->write->cancelable = 1;

    /* a graceful shutdown closes idle connections: that is how we learn */
    c->idle = 1;

    /*
     * Every frame is a message someone waits for: Nagle's algorithm with
     * the peer's delayed ACKs would hold small frames back for tens of ms.
     */
    if (ngx_tcp_nodelay(c) != NGX_OK) {
        kx_ws_destroy(wc);
        return;
    }

    ngx_add_timer(c->read, wc->authed ? wc->nmcf->ping_interval
                                      : wc->nmcf->auth_timeout);

    if (kx_ws_flush(wc) == NGX_DONE) {
        return;
    }

    if (wc->rlen || c->read->ready) {
        ngx_post_event(c->read, &ngx_posted_events);
    }
}


/* reading */

static void
kx_ws_read_handler(ngx_event_t *rev)
{
    u_char            *buf;
    size_t             off, cap, want;
    ssize_t            n;
    kx_ws_conn_t      *wc;
    ngx_connection_t  *c;

    c = rev->data;
    wc = c->data;

    if (c->close) {
        /* the worker is shutting down */
        kx_ws_fail_reason(wc, KX_WS_CLOSE_GOING_AWAY, "server shutting down");

        if (kx_ws_flush(wc) != NGX_DONE) {
            kx_ws_destroy(wc);
        }

        return;
    }

    if (rev->timedout) {
        rev->timedout = 0;
        kx_ws_timeout(wc);
        return;
    }

    /* a partly received frame is parsed again from its start */

    if (wc->rlen) {
        if (kx_ws_parse(wc, wc->rbuf, wc->rlen) == NGX_DONE) {
            return;
        }
    }

    for ( ;; ) {

        if (wc->rlen) {
            want = ngx_max(wc->rlen + KX_WS_RBUF_MIN, wc->rcap);

            if (want > wc->rcap) {
                buf = ngx_alloc(want, c->log);
                if (buf == NULL) {
                    kx_ws_destroy(wc);
                    return;
                }

                ngx_memcpy(buf, wc->rbuf, wc->rlen);
                ngx_free(wc->rbuf);
                wc->rbuf = buf;
                wc->rcap = want;
            }

            buf = wc->rbuf;
            off = wc->rlen;
            cap = wc->rcap;

        } else {
            buf = kx_ws_scratch;
            off = 0;
            cap = sizeof(kx_ws_scratch);
        }

        n = c->recv(c, buf + off, cap - off);

        if (n == NGX_AGAIN) {
            break;
        }

        if (n == NGX_ERROR || n == 0) {
            /* the peer went away, with or without a close frame */
            kx_ws_destroy(wc);
            return;
        }

        if (wc->close_sent) {
            /* after our close frame: wait for EOF, discard the rest */
            wc->rlen = 0;
            continue;
        }

        if (kx_ws_parse(wc, buf, off + n) == NGX_DONE) {
            return;
        }
    }

    if (ngx_handle_read_event(rev, 0) != NGX_OK) {
        kx_ws_destroy(wc);
    }
}


/*
 * The frames in buf; a partial one at the end stays in wc->rbuf.  Returns
 * NGX_DONE when wc was destroyed.
 */
static ngx_int_t
kx_ws_parse(kx_ws_conn_t *wc, u_char *buf, size_t len)
{
    int             rc;
    u_char         *p, *last, *nbuf;
    size_t          left, need;
    ngx_int_t       frc;
    kx_ws_frame_t   f;

    p = buf;
    last = buf + len;
    need = 0;

    while (p < last && !wc->close_sent && !wc->failed) {
        rc = kx_ws_frame_parse(p, last - p, wc->nmcf->max_message, &f);

        if (rc == KX_WS_AGAIN) {
            need = f.need;
            break;
        }

        if (rc == KX_WS_ERROR) {
            kx_ws_fail_reason(wc, f.close_code,
                              f.close_code == KX_WS_CLOSE_TOO_BIG
                              ? "message too big" : "protocol error");
            p = last;
            break;
        }

        p += f.size;

        frc = kx_ws_frame(wc, &f);

        if (frc == NGX_DONE) {
            return NGX_DONE;
        }
    }

    if (wc->close_sent || wc->failed) {
        p = last;
    }

    left = last - p;

    if (left == 0) {
        if (wc->rbuf) {
            ngx_free(wc->rbuf);
            wc->rbuf = NULL;
            wc->rcap = 0;
        }

        wc->rlen = 0;
        return NGX_OK;
    }

    if (buf == wc->rbuf) {
        ngx_memmove(wc->rbuf, p, left);
        wc->rlen = left;

    } else {
        wc->rcap = ngx_max(ngx_max(left, need), KX_WS_RBUF_MIN);

        nbuf = ngx_alloc(wc->rcap, wc->c->log);
        if (nbuf == NULL) {
            kx_ws_destroy(wc);
            return NGX_DONE;
        }

        ngx_memcpy(nbuf, p, left);
        wc->rbuf = nbuf;
        wc->rlen = left;
    }

    /* room for the whole frame, so that the next reads complete it */

    if (need > wc->rcap) {
        nbuf = ngx_alloc(need, wc->c->log);
        if (nbuf == NULL) {
            kx_ws_destroy(wc);
            return NGX_DONE;
        }

        ngx_memcpy(nbuf, wc->rbuf, wc->rlen);
        ngx_free(wc->rbuf);
        wc->rbuf = nbuf;
        wc->rcap = need;
    }

    return NGX_OK;
}


static ngx_int_t
kx_ws_frame(kx_ws_conn_t *wc, kx_ws_frame_t *f)
{
    u_char    *m;
    unsigned   op, code, rcv;

    wc->awaiting_pong = 0;

    op = (f->opcode == KX_WS_OP_CONT) ? wc->msg_op : f->opcode;

    code = kx_ws_frame_sequence(&wc->msg_op, f);
    if (code) {
        kx_ws_fail_reason(wc, code, "fragmentation out of order");
        return NGX_OK;
    }

    switch (f->opcode) {

    case KX_WS_OP_PING:
        kx_ws_control(wc, KX_WS_OP_PONG, f->payload, (size_t) f->len);
        return NGX_OK;

    case KX_WS_OP_PONG:
        return NGX_OK;

    case KX_WS_OP_CLOSE:
        code = kx_ws_close_parse(f->payload, (size_t) f->len, &rcv);

        if (code) {
            kx_ws_fail_reason(wc, code, "bad close frame");
            return NGX_OK;
        }

        /* echo the status (RFC 6455 5.5.1) */
        kx_ws_fail_reason(wc, rcv == KX_WS_CLOSE_NO_STATUS ? 0 : rcv, NULL);
        return NGX_OK;
    }

    /* data */

    if (f->fin && wc->msg == NULL) {
        kx_ws_message(wc, op, f->payload, (size_t) f->len);
        return NGX_OK;
    }

    if (wc->mlen + f->len > wc->nmcf->max_message) {
        kx_ws_fail_reason(wc, KX_WS_CLOSE_TOO_BIG, "message too big");
        return NGX_OK;
    }

    m = ngx_alloc(wc->mlen + (size_t) f->len + 1, wc->c->log);
    if (m == NULL) {
        kx_ws_fail_reason(wc, KX_WS_CLOSE_INTERNAL, "out of memory");
        return NGX_OK;
    }

    if (wc->msg) {
        ngx_memcpy(m, wc->msg, wc->mlen);
        ngx_free(wc->msg);
    }

    ngx_memcpy(m + wc->mlen, f->payload, (size_t) f->len);
    wc->msg = m;
    wc->mlen += (size_t) f->len;

    if (f->fin) {
        kx_ws_message(wc, op, wc->msg, wc->mlen);

        ngx_free(wc->msg);
        wc->msg = NULL;
        wc->mlen = 0;
    }

    return NGX_OK;
}


static void
kx_ws_message(kx_ws_conn_t *wc, unsigned op, u_char *data, size_t len)
{
    kx_notify_cmd_t  cmd;

    if (op != KX_WS_OP_TEXT) {
        kx_ws_fail_reason(wc, KX_WS_CLOSE_UNSUPPORTED,
                          "binary messages are not supported");
        return;
    }

    if (kx_utf8_validate((const char *) data, len) != len) {
        kx_ws_fail_reason(wc, KX_WS_CLOSE_INVALID, "invalid UTF-8");
        return;
    }

    if (kx_notify_cmd_parse((const char *) data, len, &cmd) != 0) {
        kx_ws_conn_send_error(wc, cmd.error, cmd.message);
        kx_notify_cmd_free(&cmd);
        return;
    }

    kx_ws_command(wc, &cmd);
    kx_notify_cmd_free(&cmd);
}


static void
kx_ws_command(kx_ws_conn_t *wc, kx_notify_cmd_t *cmd)
{
    ngx_uint_t     i, n;
    kx_ws_csub_t  *cs;

    static const char  pong[] = "{\"type\":\"pong\"}";

    if (cmd->action == KX_NOTIFY_ACT_AUTH) {
        kx_ws_auth(wc, cmd);
        return;
    }

    if (cmd->action == KX_NOTIFY_ACT_PING) {
        kx_ws_conn_send_text(wc, pong, sizeof(pong) - 1);
        return;
    }

    if (cmd->action == KX_NOTIFY_ACT_RESUME) {
        if (wc->replay || wc->resume) {
            kx_ws_conn_send_error(wc, "resume_in_progress",
                                  "a replay is already going on");
            return;
        }

        wc->resume = 1;
        wc->resume_from = cmd->last_id;

        if (wc->authed && kx_ws_hub_resume(wc) != NGX_OK) {
            kx_ws_fail_reason(wc, KX_WS_CLOSE_INTERNAL, "out of memory");
        }

        return;
    }

    if (!wc->authed) {
        kx_ws_conn_send_error(wc, "unauthorized",
                              "authenticate first: "
                              "{\"action\":\"auth\",\"token\":\"...\"}");
        return;
    }

    if (cmd->action == KX_NOTIFY_ACT_SUBSCRIBE) {
        for (n = 0, cs = wc->subs; cs; cs = cs->next) {
            n++;
        }

        for (i = 0; i < cmd->nsymbols; i++) {
            if (n >= KX_WS_SUBS_MAX) {
                kx_ws_conn_send_error(wc, "too_many_symbols",
                                      "at most 100 symbols per socket");
                break;
            }

            if (kx_ws_hub_subscribe(wc, cmd->symbols[i]) != NGX_OK) {
                kx_ws_fail_reason(wc, KX_WS_CLOSE_INTERNAL,
                                  "out of memory");
                return;
            }

            n++;
        }

        kx_ws_symbols_reply(wc, "subscribed");
        return;
    }

    /* unsubscribe */

    for (i = 0; i < cmd->nsymbols; i++) {
        kx_ws_hub_unsubscribe(wc, cmd->symbols[i]);
    }

    kx_ws_symbols_reply(wc, "unsubscribed");
}


static void
kx_ws_auth(kx_ws_conn_t *wc, kx_notify_cmd_t *cmd)
{
    int               rc;
    size_t            len;
    ngx_str_t         token, *uid;
    ngx_uint_t        resumed;
    const char       *out;
    kx_jw_t           w;
    kx_jwt_claims_t   claims;

    token.data = (u_char *) cmd->token;
    token.len = cmd->token_len;

    ngx_memzero(&claims, sizeof(kx_jwt_claims_t));

    rc = ngx_http_kx_jwt_verify_token(wc->main_conf, wc->loc_conf, &token,
                                      &claims);

    if (rc != KX_JWT_OK) {
        ngx_log_error(NGX_LOG_INFO, wc->c->log, 0,
                      "kx_notify: token refused: %s", kx_jwt_strerror(rc));

        kx_ws_conn_send_error(wc, rc == KX_JWT_EEXPIRED ? "token_expired"
                                                        : "invalid_token",
                              kx_jwt_strerror(rc));
        kx_ws_fail_reason(wc, KX_WS_CLOSE_POLICY, "authentication failed");
        return;
    }

    if (!kx_notify_uid_valid(claims.sub, claims.sub_len)) {
        kx_jwt_claims_free(&claims);
        kx_ws_conn_send_error(wc, "forbidden",
                              "the token's subject is not a user");
        kx_ws_fail_reason(wc, KX_WS_CLOSE_POLICY, "authentication failed");
        return;
    }

    if (wc->authed) {
        /* a fresh token of the same user extends the session */
        uid = kx_ws_hub_user_id(wc);

        if (claims.sub_len != uid->len
            || ngx_strncasecmp((u_char *) claims.sub, uid->data,
                               claims.sub_len) != 0)
        {
            kx_jwt_claims_free(&claims);
            kx_ws_conn_send_error(wc, "already_authenticated",
                                  "this socket belongs to another user");
            return;
        }

    } else if (kx_ws_hub_user(wc, (u_char *) claims.sub, claims.sub_len)
               != NGX_OK)
    {
        kx_jwt_claims_free(&claims);
        kx_ws_fail_reason(wc, KX_WS_CLOSE_INTERNAL, "out of memory");
        return;
    }

    resumed = wc->authed;
    wc->authed = 1;
    wc->exp = (time_t) claims.exp;

    kx_jw_init(&w);
    kx_jw_obj_begin(&w);
    kx_jw_key(&w, "type");
    kx_jw_str(&w, "authenticated");
    kx_jw_key(&w, "user_id");
    kx_jw_strn(&w, claims.sub, claims.sub_len);
    kx_jw_obj_end(&w);

    kx_jwt_claims_free(&claims);

    if (kx_jw_finish(&w, &out, &len) == 0) {
        kx_ws_conn_send_text(wc, out, len);
    }

    kx_jw_free(&w);

    if (resumed) {
        return;
    }

    /* from the authentication deadline to the ping interval */
    ngx_add_timer(wc->c->read, wc->nmcf->ping_interval);

    if (wc->resume && kx_ws_hub_resume(wc) != NGX_OK) {
        kx_ws_fail_reason(wc, KX_WS_CLOSE_INTERNAL, "out of memory");
    }
}


static void
kx_ws_symbols_reply(kx_ws_conn_t *wc, const char *type)
{
    size_t         len;
    const char    *out;
    kx_jw_t        w;
    kx_ws_csub_t  *cs;

    kx_jw_init(&w);
    kx_jw_obj_begin(&w);
    kx_jw_key(&w, "type");
    kx_jw_str(&w, type);
    kx_jw_key(&w, "symbols");
    kx_jw_arr_begin(&w);

    for (cs = wc->subs; cs; cs = cs->next) {
        kx_jw_str(&w, kx_symbol_at(cs->sym)->symbol);
    }

    kx_jw_arr_end(&w);
    kx_jw_obj_end(&w);

    if (kx_jw_finish(&w, &out, &len) == 0) {
        kx_ws_conn_send_text(wc, out, len);
    }

    kx_jw_free(&w);
}


/* timers */

static void
kx_ws_timeout(kx_ws_conn_t *wc)
{
    if (wc->close_sent || wc->failed) {
        /* the peer did not close after our close frame */
        kx_ws_destroy(wc);
        return;
    }

    if (!wc->authed) {
        kx_ws_conn_send_error(wc, "unauthorized",
                              "no authentication in time");
        kx_ws_fail_reason(wc, KX_WS_CLOSE_POLICY, "authentication timeout");
        ngx_add_timer(wc->c->read, KX_WS_CLOSE_WAIT);
        return;
    }

    if (wc->exp && ngx_time() >= wc->exp) {
        /* send {"action":"auth"} with a fresh token before this */
        kx_ws_conn_send_error(wc, "token_expired",
                              "the session's token expired");
        kx_ws_fail_reason(wc, KX_WS_CLOSE_POLICY, "token expired");
        ngx_add_timer(wc->c->read, KX_WS_CLOSE_WAIT);
        return;
    }

    if (!kx_outq_empty(&wc->out) && !wc->c->write->ready) {
        /*
         * Our output is stuck, so a ping could not have reached the peer:
         * a stalled reader is the send timeout's business.
         */
        ngx_add_timer(wc->c->read, wc->nmcf->ping_interval);
        return;
    }

    if (wc->awaiting_pong) {
        ngx_log_error(NGX_LOG_INFO, wc->c->log, 0,
                      "kx_notify: no pong in time, closing");
        kx_ws_destroy(wc);
        return;
    }

    wc->awaiting_pong = 1;
    kx_ws_control(wc, KX_WS_OP_PING, NULL, 0);
    ngx_add_timer(wc->c->read, wc->nmcf->ping_interval);
}


/* writing */

static void
kx_ws_write_handler(ngx_event_t *wev)
{
    ngx_connection_t  *c;

    c = wev->data;

    if (wev->timedout) {
        ngx_log_error(NGX_LOG_INFO, c->log, NGX_ETIMEDOUT,
                      "kx_notify: client timed out");
        kx_ws_destroy(c->data);
        return;
    }

    (void) kx_ws_flush(c->data);
}


/*
 * One writev() of what is queued.  Returns NGX_DONE when wc was
 * destroyed.
 */
static ngx_int_t
kx_ws_flush(kx_ws_conn_t *wc)
{
    size_t             i, n, total;
    ssize_t            sent;
    ngx_err_t          err;
    ngx_event_t       *wev;
    ngx_connection_t  *c;
    struct iovec       iov[KX_WS_IOV];

    c = wc->c;
    wev = c->write;

    if (wc->failed && !wc->close_sent) {
        kx_ws_close_frame(wc);
    }

    if (!kx_outq_empty(&wc->out) && wev->ready) {
        n = kx_outq_iov(&wc->out, iov, KX_WS_IOV);

        for (total = 0, i = 0; i < n; i++) {
            total += iov[i].iov_len;
        }

        if (c->ssl) {
            /* not on the fast path: notify listens on plain loopback */
            sent = c->send(c, iov[0].iov_base, iov[0].iov_len);
            sent = (sent == NGX_AGAIN) ? -2 : sent;
            err = 0;

        } else {
            sent = writev(c->fd, iov, (int) n);
            err = (sent == -1) ? ngx_socket_errno : 0;
        }

        if (sent == -2 || (sent == -1 && err == NGX_EAGAIN)) {
            wev->ready = 0;

        } else if (sent == -1 && err == NGX_EINTR) {
            ngx_post_event(wev, &ngx_posted_events);

        } else if (sent < 0) {
            ngx_log_error(NGX_LOG_INFO, c->log, err,
                          "kx_notify: writev() failed");
            kx_ws_destroy(wc);
            return NGX_DONE;

        } else {
            c->sent += sent;
            kx_outq_advance(&wc->out, (size_t) sent);

            if ((size_t) sent < total) {
                wev->ready = 0;

                /* the send timeout counts from the last progress */
                if (sent > 0 && wev->timer_set) {
                    ngx_add_timer(wev, wc->nmcf->send_timeout);
                }
            }
        }
    }

    if (!kx_outq_empty(&wc->out)) {
        if (wev->ready) {
            /* more pieces than one writev() takes */
            ngx_post_event(wev, &ngx_posted_events);
            return NGX_OK;
        }

        if (!wev->timer_set) {
            ngx_add_timer(wev, wc->nmcf->send_timeout);
        }

        if (ngx_handle_write_event(wev, 0) != NGX_OK) {
            kx_ws_destroy(wc);
            return NGX_DONE;
        }

        return NGX_OK;
    }

    if (wev->timer_set) {
        ngx_del_timer(wev);
    }

    if (wc->close_sent) {
        if (!wc->closing) {
            /* our close frame is out: half-close, wait for the peer */
            wc->closing = 1;
            (void) shutdown(c->fd, SHUT_WR);
            ngx_add_timer(c->read, KX_WS_CLOSE_WAIT);
        }

        return NGX_OK;
    }

    kx_ws_hub_drained(wc);

    return NGX_OK;
}


static void
kx_ws_post_write(kx_ws_conn_t *wc)
{
    if (!wc->c->write->posted) {
        ngx_post_event(wc->c->write, &ngx_posted_events);
    }
}


void
kx_ws_conn_push(kx_ws_conn_t *wc, kx_outq_msg_t *m, uint32_t key)
{
    kx_outq_rc_e  rc;

    if (wc->close_sent || wc->failed) {
        return;
    }

    /*
     * Quotes replace each other only for a reader the kernel pushed back
     * on: one that keeps up gets every quote, even several of a symbol
     * from one read of the Redis socket.
     */
    if (wc->c->write->ready) {
        key = 0;
    }

    rc = kx_outq_push(&wc->out, m, key);

    if (rc == KX_OUTQ_FULL) {
        ngx_log_error(NGX_LOG_INFO, wc->c->log, 0,
                      "kx_notify: slow consumer, %uz bytes in %uD messages "
                      "queued, closing", wc->out.bytes, wc->out.count);
        wc->drop = 1;
        kx_ws_count("kx_notify_ws_slow_consumers_total", 1);
        kx_ws_fail_reason(wc, KX_WS_CLOSE_POLICY, "slow consumer");
        return;
    }

    if (rc == KX_OUTQ_NOMEM) {
        kx_ws_fail_reason(wc, KX_WS_CLOSE_INTERNAL, "out of memory");
        return;
    }

    kx_ws_post_write(wc);
}


kx_outq_msg_t *
kx_ws_text_msg(const u_char *payload, size_t len)
{
    size_t  hlen;
    u_char  h[KX_WS_SERVER_HEADER_MAX];

    hlen = kx_ws_header(h, KX_WS_OP_TEXT, 1, len);

    return kx_outq_msg_create(h, hlen, payload, len);
}


void
kx_ws_conn_send_text(kx_ws_conn_t *wc, const char *s, size_t len)
{
    kx_outq_msg_t  *m;

    m = kx_ws_text_msg((const u_char *) s, len);
    if (m == NULL) {
        kx_ws_fail_reason(wc, KX_WS_CLOSE_INTERNAL, "out of memory");
        return;
    }

    kx_ws_conn_push(wc, m, 0);
    kx_outq_msg_unref(m);
}


void
kx_ws_conn_send_error(kx_ws_conn_t *wc, const char *code,
    const char *message)
{
    size_t       len;
    const char  *out;
    kx_jw_t      w;

    kx_jw_init(&w);
    kx_jw_obj_begin(&w);
    kx_jw_key(&w, "type");
    kx_jw_str(&w, "error");
    kx_jw_key(&w, "code");
    kx_jw_str(&w, code);
    kx_jw_key(&w, "message");
    kx_jw_str(&w, message);
    kx_jw_obj_end(&w);

    if (kx_jw_finish(&w, &out, &len) == 0) {
        kx_ws_conn_send_text(wc, out, len);
    }

    kx_jw_free(&w);
}


static void
kx_ws_control(kx_ws_conn_t *wc, unsigned op, const u_char *p, size_t len)
{
    size_t          hlen;
    kx_outq_msg_t  *m;
    u_char          h[KX_WS_SERVER_HEADER_MAX];

    hlen = kx_ws_header(h, op, 1, len);

    m = kx_outq_msg_create(h, hlen, p, len);
    if (m == NULL) {
        kx_ws_fail_reason(wc, KX_WS_CLOSE_INTERNAL, "out of memory");
        return;
    }

    kx_ws_conn_push(wc, m, 0);
    kx_outq_msg_unref(m);
}


/* closing */

void
kx_ws_conn_fail(kx_ws_conn_t *wc, unsigned code)
{
    kx_ws_fail_reason(wc, code, NULL);
}


/*
 * Close with code (0: a close frame without a status), once the event
 * loop gets to the write event: fan-out may call this while it walks a
 * list this socket is on.
 */
static void
kx_ws_fail_reason(kx_ws_conn_t *wc, unsigned code, const char *reason)
{
    if (wc->failed || wc->close_sent) {
        return;
    }

    wc->failed = 1;
    wc->fail_code = code;

    if (reason) {
        ngx_log_error(NGX_LOG_INFO, wc->c->log, 0,
                      "kx_notify: closing WebSocket: %ud %s", code, reason);
    }

    /* the reason is for logs; the frame carries the code only */
    kx_ws_post_write(wc);
}


/*
 * Our close frame goes behind what is queued, or, for a reader that fell
 * too far behind, replaces whatever was not started.
 */
static void
kx_ws_close_frame(kx_ws_conn_t *wc)
{
    size_t          sent, len;
    uint32_t        key;
    kx_outq_msg_t  *head, *m;
    u_char          buf[4], series[64];

    head = NULL;
    key = 0;
    sent = wc->out.sent;

    if (wc->drop) {
        if (wc->out.count && sent) {
            head = kx_outq_msg_ref(wc->out.items[wc->out.head].msg);
            key = wc->out.items[wc->out.head].key;
        }

        kx_outq_free(&wc->out);

        if (head) {
            (void) kx_outq_push(&wc->out, head, key);
            kx_outq_advance(&wc->out, sent);
            kx_outq_msg_unref(head);
        }
    }

    buf[0] = 0x88;
    len = 2;

    if (wc->fail_code) {
        buf[1] = 2;
        buf[2] = (u_char) (wc->fail_code >> 8);
        buf[3] = (u_char) wc->fail_code;
        len = 4;

    } else {
        buf[1] = 0;
    }

    wc->close_sent = 1;

    *ngx_snprintf(series, sizeof(series) - 1,
                  "kx_notify_ws_closed_total{code=\"%ud\"}",
                  wc->fail_code ? (ngx_uint_t) wc->fail_code : 1005) = '\0';
    kx_ws_count((char *) series, 1);

    m = kx_outq_msg_create(buf, len, NULL, 0);
    if (m == NULL) {
        return;
    }

    /* past the limits: it is the last one */
    wc->out.max_items = wc->out.count + 1;
    wc->out.max_bytes = 0;
    (void) kx_outq_push(&wc->out, m, 0);
    kx_outq_msg_unref(m);
}


static void
kx_ws_destroy(kx_ws_conn_t *wc)
{
    ngx_connection_t  *c;

    c = wc->c;

    kx_ws_hub_remove(wc);
    kx_outq_free(&wc->out);

    if (wc->rbuf) {
        ngx_free(wc->rbuf);
        wc->rbuf = NULL;
    }

    if (wc->msg) {
        ngx_free(wc->msg);
        wc->msg = NULL;
    }

    ngx_http_close_connection(c);
}


/* worker exit: whatever is still open goes now */

void
kx_ws_conns_shutdown(void)
{
    ngx_queue_t   *q, *conns;
    kx_ws_conn_t  *wc;

    conns = kx_ws_hub_conns();

    while (!ngx_queue_empty(conns)) {
        q = ngx_queue_head(conns);
        wc = ngx_queue_data(q, kx_ws_conn_t, all);

        if (wc->c->data != wc) {
            /* still an HTTP request (the upgrade is posted) */
            ngx_queue_remove(q);
            ngx_queue_init(q);
            continue;
        }

        kx_ws_destroy(wc);
    }
}
