
/*
 * Copyright (C) Kianax
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <openssl/rand.h>

#include "ngx_http_kx.h"
#include "ngx_http_kx_io.h"
#include "kx_notify_send.h"
#include "notify/kx_notify_alert.h"


typedef struct {
    ngx_http_request_t  *request;
    kx_redis_cmd_t      *cmd;
    ngx_str_t            event_id;
    ngx_str_t            occurred_at;
} kx_notify_send_ctx_t;


static ngx_int_t kx_notify_send_ids(ngx_http_request_t *r,
    kx_notify_send_ctx_t *ctx);
static void kx_notify_send_done(kx_redis_status_e status, redisReply *reply,
    void *data);
static void kx_notify_send_cleanup(void *data);


/* KEYS: kx:events, kx:events:user:<uid>, kx:user:<uid>
 * ARGV: event_id user_id payload occurred_at */
static ngx_str_t  kx_notify_send_lua = ngx_string(
    "local f = {'event_id', ARGV[1], 'type', 'alert', 'user_id', ARGV[2], "
    "  'payload', ARGV[3], 'occurred_at', ARGV[4], 'source', 'notify'} "
    "local e = redis.call('XADD', KEYS[1], 'MAXLEN', '~', '1000000', '*', "
    "  unpack(f)) "
    "redis.call('XADD', KEYS[2], 'MAXLEN', '~', '1000', e, unpack(f)) "
    "redis.call('PUBLISH', KEYS[3], '{\"id\":\"' .. e .. "
    "  '\",\"event_id\":\"' .. ARGV[1] .. '\",\"type\":\"alert\",\"data\":' "
    "  .. ARGV[3] .. ',\"occurred_at\":\"' .. ARGV[4] .. '\"}') "
    "return e");


ngx_int_t
kx_notify_send(ngx_http_request_t *r, ngx_str_t *uid, kx_json_doc_t *doc)
{
    size_t                 len;
    kx_jw_t                w;
    ngx_str_t              args[10];
    kx_redis_t            *rd;
    const char            *payload;
    ngx_pool_cleanup_t    *cln;
    kx_notify_send_ctx_t  *ctx;
    char                   err[160];

    kx_jw_init(&w);

    if (kx_notify_alert_payload(kx_json_root(doc), &w, err, sizeof(err))
        != 0)
    {
        kx_jw_free(&w);
        return ngx_http_kx_send_error(r, NGX_HTTP_KX_UNPROCESSABLE,
                                      "validation_failed", err);
    }

    rd = ngx_http_kx_io_redis(r);
    if (rd == NULL) {
        kx_jw_free(&w);
        return ngx_http_kx_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                      "not_configured",
                                      "kx_redis_addr is not set");
    }

    ctx = ngx_pcalloc(r->pool, sizeof(kx_notify_send_ctx_t));
    cln = ngx_pool_cleanup_add(r->pool, 0);

    if (ctx == NULL || cln == NULL
        || kx_jw_finish(&w, &payload, &len) != KX_JW_OK
        || kx_notify_send_ids(r, ctx) != NGX_OK)
    {
        kx_jw_free(&w);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->request = r;
    cln->handler = kx_notify_send_cleanup;
    cln->data = ctx;

    ngx_str_set(&args[0], "EVAL");
    args[1] = kx_notify_send_lua;
    ngx_str_set(&args[2], "3");
    ngx_str_set(&args[3], "kx:events");

    args[4].len = sizeof("kx:events:user:") - 1 + uid->len;
    args[4].data = ngx_pnalloc(r->pool, args[4].len);
    args[5].len = sizeof("kx:user:") - 1 + uid->len;
    args[5].data = ngx_pnalloc(r->pool, args[5].len);

    if (args[4].data == NULL || args[5].data == NULL) {
        kx_jw_free(&w);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_sprintf(args[4].data, "kx:events:user:%V", uid);
    ngx_sprintf(args[5].data, "kx:user:%V", uid);

    args[6] = ctx->event_id;
    args[7] = *uid;
    args[8].data = (u_char *) payload;
    args[8].len = len;
    args[9] = ctx->occurred_at;

    /* the client copies the arguments: the writer can go */
    ctx->cmd = kx_redis_command(rd, args, 10, 0, kx_notify_send_done, ctx);
    kx_jw_free(&w);

    if (ctx->cmd == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->main->count++;
    r->read_event_handler = ngx_http_test_reading;

    return NGX_DONE;
}


/* a random (v4) event id, and the time in the events' ISO 8601 form */
static ngx_int_t
kx_notify_send_ids(ngx_http_request_t *r, kx_notify_send_ctx_t *ctx)
{
    u_char      b[16];
    ngx_tm_t    tm;
    ngx_time_t  *tp;

    if (RAND_bytes(b, sizeof(b)) != 1) {
        return NGX_ERROR;
    }

    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;

    ctx->event_id.data = ngx_pnalloc(r->pool, 36);
    ctx->occurred_at.data = ngx_pnalloc(r->pool, 24);

    if (ctx->event_id.data == NULL || ctx->occurred_at.data == NULL) {
        return NGX_ERROR;
    }

    ctx->event_id.len = ngx_sprintf(ctx->event_id.data,
                                    "%*xs-%*xs-%*xs-%*xs-%*xs",
                                    (size_t) 4, b, (size_t) 2, b + 4,
                                    (size_t) 2, b + 6, (size_t) 2, b + 8,
                                    (size_t) 6, b + 10)
                        - ctx->event_id.data;

    tp = ngx_timeofday();
    ngx_gmtime(tp->sec, &tm);

    ctx->occurred_at.len = ngx_sprintf(ctx->occurred_at.data,
                                       "%4d-%02d-%02dT%02d:%02d:%02d.%03MZ",
                                       tm.ngx_tm_year, tm.ngx_tm_mon,
                                       tm.ngx_tm_mday, tm.ngx_tm_hour,
                                       tm.ngx_tm_min, tm.ngx_tm_sec, tp->msec)
                           - ctx->occurred_at.data;

    return NGX_OK;
}


static void
kx_notify_send_done(kx_redis_status_e status, redisReply *reply, void *data)
{
    kx_notify_send_ctx_t *ctx = data;

    kx_jw_t              w;
    ngx_int_t            rc;
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = ctx->request;
    c = r->connection;
    ctx->cmd = NULL;

    if (status != KX_REDIS_OK || reply->type != REDIS_REPLY_STRING) {
        rc = ngx_http_kx_io_redis_error(r, status, reply);
        goto done;
    }

    kx_jw_init(&w);
    kx_jw_obj_begin(&w);
    kx_jw_key(&w, "id");
    kx_jw_strn(&w, reply->str, reply->len);
    kx_jw_key(&w, "event_id");
    kx_jw_strn(&w, (char *) ctx->event_id.data, ctx->event_id.len);
    kx_jw_key(&w, "type");
    kx_jw_str(&w, "alert");
    kx_jw_key(&w, "occurred_at");
    kx_jw_strn(&w, (char *) ctx->occurred_at.data, ctx->occurred_at.len);
    kx_jw_obj_end(&w);

    /* accepted: the consumer stores it, the sockets got it already */
    rc = ngx_http_kx_send_jw(r, NGX_HTTP_ACCEPTED, &w);

done:

    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(c);
}


static void
kx_notify_send_cleanup(void *data)
{
    kx_notify_send_ctx_t *ctx = data;

    if (ctx->cmd) {
        kx_redis_cancel(ctx->cmd);
        ctx->cmd = NULL;
    }
}
