
/*
 * Copyright (C) Kianax
 *
 * The Alpaca broker (kx_trading_broker.h): orders go to Alpaca's Trading
 * API v2 over the non-blocking HTTP client (modules/io/kx_http.h); the
 * data layer is src/trading/kx_alpaca.c.
 *
 *     kx_trading_broker alpaca [url=https://paper-api.alpaca.markets]
 *                              [key_id_env=APCA_API_KEY_ID]
 *                              [secret_key_env=APCA_API_SECRET_KEY]
 *                              [timeout=5s] [attempt_timeout=0]
 *                              [retries=2] [poll=1s] [lookback=1h]
 *                              [resync=60s] [health=on];
 *
 * The keys are read from the environment when the configuration is read
 * (the master's environment); a missing key is a configuration error.
 * They travel only in the APCA-API-KEY-ID / APCA-API-SECRET-KEY headers
 * and are never logged.  With health=on, GET /health checks that
 * GET /v2/account answers with an ACTIVE account that may trade.
 *
 * Calls:
 *   submit  POST /v2/orders with our order id as client_order_id, which
 *           makes a resent submit harmless: it is retried (timeouts, 5xx,
 *           429) within "timeout", and a "client_order_id must be unique"
 *           answer means an earlier attempt got there, so the order is
 *           read back by GET /v2/orders:by_client_order_id.  While the
 *           HTTP client's breaker for Alpaca is open nothing is sent and
 *           the order is rejected at once.
 *   cancel  DELETE /v2/orders/{id} (found by client_order_id first when
 *           the order has no broker id yet), then GET /v2/orders/{id} for
 *           the state it left: canceled, still open (pending_cancel: the
 *           final status comes from the poller), or filled (422 "not
 *           cancelable": the module applies the fills and answers 422).
 *           An order Alpaca never received (no broker id, none by its
 *           client_order_id) is NOT_FOUND: the module cancels it here.
 *   sync    GET /v2/orders/{id}, or by client_order_id.
 * Results carry Alpaca's cumulative filled_qty and filled_avg_price (no
 * execution ids over REST); the module records the difference.
 *
 * Fills are followed by polling (one worker, ngx_worker 0): every "poll"
 * GET /v2/orders?status=open, then ?status=closed&after=<the previous
 * poll, less a minute>, then GET /v2/orders/{id} for each order that was
 * open and is listed no more.  A change (status or filled_qty) is handed
 * to kx_trading_broker_report(); every "resync" everything listed is
 * handed over again, in case a report was lost.  The trade_updates
 * WebSocket would cut the latency; polling needs no second protocol and
 * recovers by itself after any outage, so it is what we run.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include "ngx_http_kx.h"
#include "kx_trading_broker.h"
#include "kx_http.h"
#include "trading/kx_alpaca.h"


#define KX_ALPACA_LIST_MAX_SIZE   (8 * 1024 * 1024)
#define KX_ALPACA_LIST_LIMIT      500
#define KX_ALPACA_CLOSED_MARGIN   INT64_C(60000000)     /* 1 min, in usec */
#define KX_ALPACA_URL_MAX         512
#define KX_ALPACA_HEALTH_CACHE    1000          /* ms */
#define KX_ALPACA_HEALTH_TIMEOUT  2000          /* ms, at most */


typedef struct {
    ngx_str_t                 url;          /* no trailing slash */
    ngx_str_t                 headers[4];   /* key, secret, accept, type */
    ngx_msec_t                timeout;
    ngx_msec_t                attempt_timeout;
    ngx_uint_t                retries;
    ngx_msec_t                poll;
    ngx_msec_t                lookback;
    ngx_msec_t                resync;
    ngx_flag_t                health;
} kx_alpaca_conf_t;


typedef enum {
    KX_ALPACA_OP_SUBMIT = 0,
    KX_ALPACA_OP_CANCEL,
    KX_ALPACA_OP_SYNC
} kx_alpaca_op_e;


typedef enum {
    KX_ALPACA_STEP_POST = 0,        /* POST /v2/orders */
    KX_ALPACA_STEP_FIND,            /* GET by client_order_id */
    KX_ALPACA_STEP_DELETE,          /* DELETE /v2/orders/{id} */
    KX_ALPACA_STEP_GET              /* GET /v2/orders/{id} */
} kx_alpaca_step_e;


typedef struct {
    kx_alpaca_conf_t         *conf;
    ngx_log_t                *log;
    kx_http_req_t            *http;
    kx_broker_done_pt         done;
    void                     *data;
    kx_alpaca_op_e            op;
    kx_alpaca_step_e          step;
    kx_order_t                order;
    char                      broker_id[KX_ALPACA_ID_MAX + 1];
    kx_alpaca_order_t         alpaca;
    unsigned                  refused:1;    /* cancel: not cancelable */
    char                      reason[KX_ALPACA_MESSAGE_MAX];
} kx_alpaca_call_t;


/* an order the poller has seen */
typedef struct {
    ngx_rbtree_node_t         node;         /* key: crc32 of the id */
    ngx_str_t                 id;           /* points to id_data */
    char                      id_data[KX_ALPACA_ID_MAX + 1];
    char                      status[KX_ALPACA_NAME_MAX + 1];
    kx_dec_t                  filled_qty;
    ngx_uint_t                gen;          /* the last poll listing it */
    ngx_msec_t                closed_at;    /* 0: open */
} kx_alpaca_seen_t;


typedef enum {
    KX_ALPACA_POLL_OPEN = 0,
    KX_ALPACA_POLL_CLOSED,
    KX_ALPACA_POLL_VANISHED
} kx_alpaca_poll_step_e;


typedef struct {
    kx_alpaca_conf_t         *conf;
    ngx_log_t                *log;
    ngx_event_t               timer;
    ngx_rbtree_t              tree;
    ngx_rbtree_node_t         sentinel;
    kx_http_req_t            *http;
    kx_alpaca_poll_step_e     step;
    kx_alpaca_seen_t         *vanished;     /* being read */
    ngx_uint_t                gen;
    ngx_uint_t                force;        /* report even if unchanged */
    ngx_msec_t                last_resync;
    int64_t                   closed_after; /* usec */
    int64_t                   started;      /* this poll, usec */
    ngx_uint_t                reports;
    ngx_uint_t                failures;     /* polls failed in a row */
} kx_alpaca_poller_t;


/* a GET /health check of the account, and its cached answer */
typedef struct {
    kx_alpaca_conf_t               *conf;
    ngx_http_kx_health_done_pt      done;
    void                           *data;
} kx_alpaca_check_t;


static void *kx_alpaca_configure(ngx_conf_t *cf, ngx_str_t *args,
    ngx_uint_t n);
static ngx_int_t kx_alpaca_conf_header(ngx_conf_t *cf, ngx_str_t *out,
    const char *name, ngx_str_t *env);
static ngx_int_t kx_alpaca_init_process(ngx_cycle_t *cycle, void *conf);
static void kx_alpaca_exit_process(ngx_cycle_t *cycle, void *conf);
static void *kx_alpaca_submit(kx_broker_call_t *bc, kx_broker_done_pt done,
    void *data);
static void *kx_alpaca_cancel(kx_broker_call_t *bc, kx_broker_done_pt done,
    void *data);
static void *kx_alpaca_sync(kx_broker_call_t *bc, kx_broker_done_pt done,
    void *data);
static void kx_alpaca_abort(void *handle);

static kx_alpaca_call_t *kx_alpaca_call_create(kx_broker_call_t *bc,
    kx_alpaca_op_e op, kx_broker_done_pt done, void *data);
static ngx_int_t kx_alpaca_call_step(kx_alpaca_call_t *call,
    kx_alpaca_step_e step);
static void kx_alpaca_call_handler(kx_http_response_t *res, void *data);
static void kx_alpaca_call_answer(kx_alpaca_call_t *call,
    kx_http_response_t *res);
static void kx_alpaca_call_unreadable(kx_alpaca_call_t *call);
static void kx_alpaca_call_finish(kx_alpaca_call_t *call,
    kx_broker_status_e status, const char *reason);
static ngx_int_t kx_alpaca_read_order(kx_http_response_t *res,
    kx_alpaca_order_t *a, ngx_log_t *log);
static kx_http_req_t *kx_alpaca_send(kx_alpaca_conf_t *conf, ngx_log_t *log,
    const char *method, ngx_str_t *path, ngx_str_t *body, size_t max_size,
    kx_http_handler_pt handler, void *data);
static kx_http_req_t *kx_alpaca_send_spec(kx_alpaca_conf_t *conf,
    kx_http_spec_t *spec, const char *method, ngx_str_t *path,
    ngx_str_t *body, kx_http_handler_pt handler, void *data);
static ngx_uint_t kx_alpaca_id_ok(const char *id);
static ngx_uint_t kx_alpaca_http_alive(void);

static void kx_alpaca_poll_start(ngx_event_t *ev);
static void kx_alpaca_poll_handler(kx_http_response_t *res, void *data);
static void kx_alpaca_poll_list(kx_alpaca_poller_t *p,
    kx_http_response_t *res);
static void kx_alpaca_poll_next(kx_alpaca_poller_t *p);
static void kx_alpaca_poll_done(kx_alpaca_poller_t *p);
static void kx_alpaca_poll_note(kx_alpaca_poller_t *p,
    const kx_alpaca_order_t *a);
static void kx_alpaca_report_failed(ngx_str_t *id);
static void kx_alpaca_report(kx_alpaca_poller_t *p,
    const kx_alpaca_order_t *a);
static kx_alpaca_seen_t *kx_alpaca_seen_find(kx_alpaca_poller_t *p,
    const char *id, size_t len);
static void kx_alpaca_seen_free(kx_alpaca_poller_t *p, kx_alpaca_seen_t *s);
static int64_t kx_alpaca_now(void);

static void kx_alpaca_health(void *check_data, ngx_log_t *log,
    ngx_msec_t timeout, ngx_http_kx_health_done_pt done, void *data);
static void kx_alpaca_health_handler(kx_http_response_t *res, void *data);
static void kx_alpaca_health_answer(kx_alpaca_check_t *chk, ngx_uint_t ok,
    const char *detail);


/*
 * Weak here too: this file also links into builds whose trading module
 * does not (yet) define it; the poller then only logs what it sees.
 */
ngx_int_t kx_trading_broker_report(ngx_cycle_t *cycle,
    const kx_trading_broker_t *broker, ngx_str_t *broker_order_id,
    ngx_str_t *order_id, kx_broker_result_t *res,
    kx_broker_report_failed_pt failed) __attribute__((weak));


kx_trading_broker_t  kx_trading_broker_alpaca = {
    "alpaca",
    0,
    kx_alpaca_configure,
    kx_alpaca_init_process,
    kx_alpaca_exit_process,
    kx_alpaca_submit,
    kx_alpaca_cancel,
    kx_alpaca_sync,
    kx_alpaca_abort
};


static kx_alpaca_poller_t  *kx_alpaca_poller;


/* configuration */

static void *
kx_alpaca_configure(ngx_conf_t *cf, ngx_str_t *args, ngx_uint_t n)
{
    u_char            *eq;
    ngx_int_t          v;
    ngx_str_t          key, val, key_env, secret_env;
    ngx_uint_t         i;
    kx_alpaca_conf_t  *ac;

    ac = ngx_pcalloc(cf->pool, sizeof(kx_alpaca_conf_t));
    if (ac == NULL) {
        return NULL;
    }

    ngx_str_set(&ac->url, "https://paper-api.alpaca.markets");
    ngx_str_set(&key_env, "APCA_API_KEY_ID");
    ngx_str_set(&secret_env, "APCA_API_SECRET_KEY");
    ac->timeout = 5000;
    ac->attempt_timeout = 0;
    ac->retries = 2;
    ac->poll = 1000;
    ac->lookback = 3600 * 1000;
    ac->resync = 60 * 1000;
    ac->health = 1;

    for (i = 0; i < n; i++) {
        eq = ngx_strlchr(args[i].data, args[i].data + args[i].len, '=');
        if (eq == NULL) {
            goto invalid;
        }

        key.data = args[i].data;
        key.len = eq - args[i].data;
        val.data = eq + 1;
        val.len = args[i].data + args[i].len - val.data;

        if (key.len == 3 && ngx_strncmp(key.data, "url", 3) == 0) {
            if (!(val.len > 7 && ngx_strncmp(val.data, "http://", 7) == 0)
                && !(val.len > 8
                     && ngx_strncmp(val.data, "https://", 8) == 0))
            {
                goto invalid;
            }

            while (val.len && val.data[val.len - 1] == '/') {
                val.len--;
            }

            if (val.len > KX_ALPACA_URL_MAX / 2) {
                goto invalid;
            }

            ac->url = val;

        } else if (key.len == 10
                   && ngx_strncmp(key.data, "key_id_env", 10) == 0
                   && val.len)
        {
            key_env = val;

        } else if (key.len == 14
                   && ngx_strncmp(key.data, "secret_key_env", 14) == 0
                   && val.len)
        {
            secret_env = val;

        } else if (key.len == 6 && ngx_strncmp(key.data, "health", 6) == 0)
        {
            if (val.len == 2 && ngx_strncmp(val.data, "on", 2) == 0) {
                ac->health = 1;

            } else if (val.len == 3 && ngx_strncmp(val.data, "off", 3) == 0) {
                ac->health = 0;

            } else {
                goto invalid;
            }

        } else if (key.len == 7 && ngx_strncmp(key.data, "retries", 7) == 0)
        {
            v = ngx_atoi(val.data, val.len);
            if (v == NGX_ERROR || v > 10) {
                goto invalid;
            }

            ac->retries = v;

        } else {
            if (val.len == 3 && ngx_strncmp(val.data, "off", 3) == 0) {
                v = 0;

            } else {
                v = ngx_parse_time(&val, 0);
                if (v == NGX_ERROR) {
                    goto invalid;
                }
            }

            if (key.len == 7 && ngx_strncmp(key.data, "timeout", 7) == 0
                && v > 0)
            {
                ac->timeout = v;

            } else if (key.len == 15
                       && ngx_strncmp(key.data, "attempt_timeout", 15) == 0)
            {
                ac->attempt_timeout = v;

            } else if (key.len == 4 && ngx_strncmp(key.data, "poll", 4) == 0)
            {
                ac->poll = v;

            } else if (key.len == 8
                       && ngx_strncmp(key.data, "lookback", 8) == 0)
            {
                ac->lookback = v;

            } else if (key.len == 6
                       && ngx_strncmp(key.data, "resync", 6) == 0 && v > 0)
            {
                ac->resync = v;

            } else {
                goto invalid;
            }
        }
    }

    if (kx_alpaca_conf_header(cf, &ac->headers[0], "APCA-API-KEY-ID",
                              &key_env) != NGX_OK
        || kx_alpaca_conf_header(cf, &ac->headers[1], "APCA-API-SECRET-KEY",
                                 &secret_env) != NGX_OK)
    {
        return NULL;
    }

    ngx_str_set(&ac->headers[2], "Accept: application/json");
    ngx_str_set(&ac->headers[3], "Content-Type: application/json");

    if (ac->health
        && ngx_http_kx_health_add(cf, "alpaca", kx_alpaca_health, ac)
           != NGX_OK)
    {
        return NULL;
    }

    return ac;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "alpaca broker: invalid option \"%V\"", &args[i]);
    return NULL;
}


/* "Name: value" with the value from the environment variable env */
static ngx_int_t
kx_alpaca_conf_header(ngx_conf_t *cf, ngx_str_t *out, const char *name,
    ngx_str_t *env)
{
    char    *var, *val;
    size_t   i, len;

    var = ngx_pnalloc(cf->pool, env->len + 1);
    if (var == NULL) {
        return NGX_ERROR;
    }

    ngx_cpystrn((u_char *) var, env->data, env->len + 1);

    val = getenv(var);

    if (val == NULL || val[0] == '\0') {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "alpaca broker: the environment variable \"%s\" "
                           "(for the %s header) is not set", var, name);
        return NGX_ERROR;
    }

    len = ngx_strlen(val);

    for (i = 0; i < len; i++) {
        if ((u_char) val[i] < 0x21 || (u_char) val[i] > 0x7e) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "alpaca broker: \"%s\" holds a character "
                               "not allowed in a header", var);
            return NGX_ERROR;
        }
    }

    out->len = ngx_strlen(name) + 2 + len;
    out->data = ngx_pnalloc(cf->pool, out->len);
    if (out->data == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(out->data, "%s: %s", name, val);

    return NGX_OK;
}


/* the calls */

static void *
kx_alpaca_submit(kx_broker_call_t *bc, kx_broker_done_pt done, void *data)
{
    kx_alpaca_call_t  *call;

    call = kx_alpaca_call_create(bc, KX_ALPACA_OP_SUBMIT, done, data);
    if (call == NULL) {
        return NULL;
    }

    if (kx_alpaca_call_step(call, KX_ALPACA_STEP_POST) != NGX_OK) {
        ngx_free(call);
        return NULL;
    }

    return call;
}


static void *
kx_alpaca_cancel(kx_broker_call_t *bc, kx_broker_done_pt done, void *data)
{
    kx_alpaca_call_t  *call;

    call = kx_alpaca_call_create(bc, KX_ALPACA_OP_CANCEL, done, data);
    if (call == NULL) {
        return NULL;
    }

    if (kx_alpaca_call_step(call, call->broker_id[0] ? KX_ALPACA_STEP_DELETE
                                                     : KX_ALPACA_STEP_FIND)
        != NGX_OK)
    {
        ngx_free(call);
        return NULL;
    }

    return call;
}


static void *
kx_alpaca_sync(kx_broker_call_t *bc, kx_broker_done_pt done, void *data)
{
    kx_alpaca_call_t  *call;

    call = kx_alpaca_call_create(bc, KX_ALPACA_OP_SYNC, done, data);
    if (call == NULL) {
        return NULL;
    }

    if (kx_alpaca_call_step(call, call->broker_id[0] ? KX_ALPACA_STEP_GET
                                                     : KX_ALPACA_STEP_FIND)
        != NGX_OK)
    {
        ngx_free(call);
        return NULL;
    }

    return call;
}


static void
kx_alpaca_abort(void *handle)
{
    kx_alpaca_call_t  *call = handle;

    if (call == NULL) {
        return;
    }

    if (call->http && kx_alpaca_http_alive()) {
        kx_http_cancel(call->http);
    }

    ngx_free(call);
}


static kx_alpaca_call_t *
kx_alpaca_call_create(kx_broker_call_t *bc, kx_alpaca_op_e op,
    kx_broker_done_pt done, void *data)
{
    kx_alpaca_call_t  *call;

    if (bc->conf == NULL || bc->order == NULL) {
        return NULL;
    }

    if (bc->broker_order_id.len > KX_ALPACA_ID_MAX) {
        ngx_log_error(NGX_LOG_ERR, bc->log, 0,
                      "alpaca: broker order id too long");
        return NULL;
    }

    call = ngx_alloc(sizeof(kx_alpaca_call_t), bc->log);
    if (call == NULL) {
        return NULL;
    }

    ngx_memzero(call, sizeof(kx_alpaca_call_t));

    call->conf = bc->conf;

    /*
     * Not bc->log: a request's log goes with its connection, and the
     * call outlives a client that leaves (the module detaches, the
     * broker's answer is still applied).  Lines name the order instead.
     */
    call->log = ngx_cycle->log;
    call->done = done;
    call->data = data;
    call->op = op;
    call->order = *bc->order;

    ngx_memcpy(call->broker_id, bc->broker_order_id.data,
               bc->broker_order_id.len);
    call->broker_id[bc->broker_order_id.len] = '\0';

    if ((call->broker_id[0] && !kx_alpaca_id_ok(call->broker_id))
        || !kx_alpaca_id_ok(call->order.id))
    {
        ngx_log_error(NGX_LOG_ERR, bc->log, 0,
                      "alpaca: order id \"%s\" or broker order id \"%s\" "
                      "not usable in a URL", call->order.id, call->broker_id);
        ngx_free(call);
        return NULL;
    }

    return call;
}


static ngx_int_t
kx_alpaca_call_step(kx_alpaca_call_t *call, kx_alpaca_step_e step)
{
    u_char           *p;
    size_t            len;
    size_t            max_size;
    kx_jw_t           w;
    ngx_str_t         path, body;
    const char       *method, *out;
    kx_alpaca_err_t   err;
    u_char            buf[KX_ALPACA_URL_MAX];

    call->step = step;
    method = "GET";
    ngx_str_null(&body);
    max_size = 0;

    switch (step) {

    case KX_ALPACA_STEP_POST:
        kx_jw_init(&w);

        if (kx_alpaca_order_body(&w, &call->order, call->order.id, &err)
            != KX_ALPACA_OK
            || kx_jw_finish(&w, &out, &len) != KX_JW_OK)
        {
            ngx_log_error(NGX_LOG_ERR, call->log, 0,
                          "alpaca: order %s cannot be sent: %s",
                          call->order.id, err.message);
            kx_jw_free(&w);
            return NGX_ERROR;
        }

        ngx_str_set(&path, "/v2/orders");
        body.data = (u_char *) out;
        body.len = len;
        method = "POST";

        call->http = kx_alpaca_send(call->conf, call->log, method, &path,
                                    &body, 0, kx_alpaca_call_handler, call);
        kx_jw_free(&w);

        return call->http ? NGX_OK : NGX_ERROR;

    case KX_ALPACA_STEP_FIND:
        p = ngx_snprintf(buf, sizeof(buf),
                         "/v2/orders:by_client_order_id?client_order_id=%s",
                         call->order.id);
        break;

    case KX_ALPACA_STEP_DELETE:
        method = "DELETE";
        /* fall through */

    default: /* KX_ALPACA_STEP_GET */
        p = ngx_snprintf(buf, sizeof(buf), "/v2/orders/%s", call->broker_id);
        break;
    }

    path.data = buf;
    path.len = p - buf;

    call->http = kx_alpaca_send(call->conf, call->log, method, &path, &body,
                                max_size, kx_alpaca_call_handler, call);

    return call->http ? NGX_OK : NGX_ERROR;
}


static void
kx_alpaca_call_handler(kx_http_response_t *res, void *data)
{
    kx_alpaca_call_t  *call = data;

    call->http = NULL;

    if (res->error != KX_HTTP_OK) {
        ngx_log_error(NGX_LOG_WARN, call->log, 0,
                      "alpaca: %s of order %s: %s (%s, %ui attempts)",
                      call->step == KX_ALPACA_STEP_POST ? "submit"
                      : call->step == KX_ALPACA_STEP_DELETE ? "cancel"
                      : "read", call->order.id,
                      kx_http_error_text(res->error), res->message,
                      res->attempts);

        if (call->op == KX_ALPACA_OP_CANCEL
            && call->step == KX_ALPACA_STEP_GET)
        {
            if (call->refused) {
                kx_alpaca_call_finish(call, KX_BROKER_REJECTED,
                                      call->reason);
                return;
            }

            /* the cancel was taken; its outcome comes by the poller */
            call->alpaca.status = call->order.status;
            call->alpaca.filled_qty = call->order.filled_qty;
            call->alpaca.filled_avg_price = call->order.filled_avg_price;
            ngx_cpystrn((u_char *) call->alpaca.id,
                        (u_char *) call->broker_id, KX_ALPACA_ID_MAX + 1);
            kx_alpaca_call_finish(call, KX_BROKER_OK, NULL);
            return;
        }

        if (call->step == KX_ALPACA_STEP_POST
            && res->error == KX_HTTP_BREAKER_OPEN && res->attempts == 0)
        {
            /*
             * Alpaca is known to be down and nothing was sent: a clear
             * refusal now, not an order left waiting to be placed at
             * whatever price the market has when Alpaca is back.
             */
            kx_alpaca_call_finish(call, KX_BROKER_REJECTED,
                                  "the broker is unavailable");
            return;
        }

        kx_alpaca_call_finish(call, KX_BROKER_UNAVAILABLE,
                              res->error == KX_HTTP_TIMEOUT
                              ? "the broker did not answer in time"
                              : "the broker cannot be reached");
        return;
    }

    kx_alpaca_call_answer(call, res);
}


static void
kx_alpaca_call_answer(kx_alpaca_call_t *call, kx_http_response_t *res)
{
    ngx_uint_t         level;
    kx_alpaca_call_e   kind;
    kx_alpaca_error_t  e;

    if (res->status == 200 || res->status == 201 || res->status == 204) {

        switch (call->step) {

        case KX_ALPACA_STEP_DELETE:
            if (kx_alpaca_call_step(call, KX_ALPACA_STEP_GET) != NGX_OK) {
                kx_alpaca_call_finish(call, KX_BROKER_ERROR,
                                      "out of memory");
            }

            return;

        case KX_ALPACA_STEP_FIND:
            if (kx_alpaca_read_order(res, &call->alpaca, call->log)
                != NGX_OK)
            {
                kx_alpaca_call_unreadable(call);
                return;
            }

            if (call->op == KX_ALPACA_OP_CANCEL) {
                ngx_cpystrn((u_char *) call->broker_id,
                            (u_char *) call->alpaca.id,
                            KX_ALPACA_ID_MAX + 1);

                if (!kx_alpaca_id_ok(call->broker_id)
                    || kx_alpaca_call_step(call, KX_ALPACA_STEP_DELETE)
                       != NGX_OK)
                {
                    kx_alpaca_call_finish(call, KX_BROKER_ERROR,
                                          "the order cannot be canceled");
                }

                return;
            }

            kx_alpaca_call_finish(call, KX_BROKER_OK, NULL);
            return;

        default: /* POST, GET */
            if (kx_alpaca_read_order(res, &call->alpaca, call->log)
                != NGX_OK)
            {
                kx_alpaca_call_unreadable(call);
                return;
            }

            if (call->op == KX_ALPACA_OP_CANCEL && call->refused
                && call->alpaca.status != KX_ORDER_FILLED
                && !kx_order_status_is_final(call->alpaca.status)
                && ngx_strcmp(call->alpaca.status_name, "pending_cancel")
                   != 0)
            {
                /* not cancelable, yet open (pending_replace...) */
                kx_alpaca_call_finish(call, KX_BROKER_REJECTED,
                                      call->reason);
                return;
            }

            kx_alpaca_call_finish(call, KX_BROKER_OK, NULL);
            return;
        }
    }

    kind = (call->step == KX_ALPACA_STEP_POST) ? KX_ALPACA_CALL_SUBMIT
           : (call->step == KX_ALPACA_STEP_DELETE) ? KX_ALPACA_CALL_CANCEL
           : KX_ALPACA_CALL_GET;

    kx_alpaca_error_map(kind, res->status, (char *) res->body.data,
                        res->body.len, &e);

    level = (e.retryable || e.err == KX_ERR_BAD_GATEWAY) ? NGX_LOG_WARN
                                                         : NGX_LOG_INFO;

    ngx_log_error(level, call->log, 0,
                  "alpaca: order %s: HTTP %ui, code %L: \"%s\"",
                  call->order.id, res->status, e.code, e.message);

    ngx_cpystrn((u_char *) call->reason, (u_char *) e.message,
                sizeof(call->reason));

    if (e.duplicate && call->step == KX_ALPACA_STEP_POST) {
        /* an earlier attempt of this submit got there: read it back */
        if (kx_alpaca_call_step(call, KX_ALPACA_STEP_FIND) != NGX_OK) {
            kx_alpaca_call_finish(call, KX_BROKER_ERROR, "out of memory");
        }

        return;
    }

    if (call->step == KX_ALPACA_STEP_DELETE && res->status == 422) {
        /* not cancelable: say what it is now (filled, most likely) */
        call->refused = 1;

        if (kx_alpaca_call_step(call, KX_ALPACA_STEP_GET) != NGX_OK) {
            kx_alpaca_call_finish(call, KX_BROKER_REJECTED, call->reason);
        }

        return;
    }

    if (e.retryable) {
        kx_alpaca_call_finish(call, KX_BROKER_UNAVAILABLE, call->reason);

    } else if (e.not_found && call->op == KX_ALPACA_OP_SUBMIT) {
        /* "client_order_id must be unique", yet not found by it */
        kx_alpaca_call_finish(call, KX_BROKER_UNAVAILABLE, call->reason);

    } else if (e.not_found) {
        /*
         * sync, or a cancel of an order Alpaca has under neither id: a
         * submit that never arrived (one that timed out but arrived
         * would be found), so nothing there can fill it; the module
         * cancels it here
         */
        kx_alpaca_call_finish(call, KX_BROKER_NOT_FOUND, call->reason);

    } else if (e.rejected) {
        kx_alpaca_call_finish(call, KX_BROKER_REJECTED, call->reason);

    } else {
        /* 401 (our keys), 400: nothing the user did */
        kx_alpaca_call_finish(call, KX_BROKER_ERROR, call->reason);
    }
}


/*
 * A 2xx whose body is not an order.  A submit may have placed it: that
 * is an unknown outcome, never a rejection (the poller finds the order
 * by its client_order_id if it exists).  A cancel Alpaca took stands.
 */
static void
kx_alpaca_call_unreadable(kx_alpaca_call_t *call)
{
    const char  *reason;

    reason = "the broker's answer is not an order";

    switch (call->op) {

    case KX_ALPACA_OP_SUBMIT:
        kx_alpaca_call_finish(call, KX_BROKER_UNAVAILABLE, reason);
        return;

    case KX_ALPACA_OP_CANCEL:
        if (call->step == KX_ALPACA_STEP_GET && !call->refused) {
            ngx_memzero(&call->alpaca, sizeof(kx_alpaca_order_t));
            call->alpaca.status = call->order.status;
            call->alpaca.filled_qty = call->order.filled_qty;
            call->alpaca.filled_avg_price = call->order.filled_avg_price;
            ngx_cpystrn((u_char *) call->alpaca.id,
                        (u_char *) call->broker_id, KX_ALPACA_ID_MAX + 1);
            kx_alpaca_call_finish(call, KX_BROKER_OK, NULL);
            return;
        }

        /* fall through */

    default:
        kx_alpaca_call_finish(call, KX_BROKER_ERROR, reason);
    }
}


static void
kx_alpaca_call_finish(kx_alpaca_call_t *call, kx_broker_status_e status,
    const char *reason)
{
    kx_broker_result_t  res;

    ngx_memzero(&res, sizeof(kx_broker_result_t));

    res.status = status;
    res.reason = (reason && reason[0]) ? reason : NULL;
    res.order_status = call->order.status;

    if (status == KX_BROKER_OK) {
        res.order_status = call->alpaca.status;
        res.broker_order_id.data = (u_char *) call->alpaca.id;
        res.broker_order_id.len = ngx_strlen(call->alpaca.id);
        res.filled_qty = call->alpaca.filled_qty;
        res.filled_avg_price = call->alpaca.filled_avg_price;

        if (res.order_status == KX_ORDER_REJECTED) {
            res.reason = "rejected by the broker";
        }
    }

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, call->log, 0,
                   "alpaca: order %s: result %d, status %s, broker id %V",
                   call->order.id, (int) status,
                   kx_order_status_name(res.order_status),
                   &res.broker_order_id);

    call->done(&res, call->data);

    ngx_free(call);
}


static ngx_int_t
kx_alpaca_read_order(kx_http_response_t *res, kx_alpaca_order_t *a,
    ngx_log_t *log)
{
    int              rc;
    kx_json_doc_t   *doc;
    kx_json_perr_t   perr;
    kx_alpaca_err_t  err;

    if (kx_json_parse((char *) res->body.data, res->body.len, NULL, &doc,
                      &perr) != KX_JSON_PE_OK)
    {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "alpaca: answer is not JSON: %s", perr.msg);
        return NGX_ERROR;
    }

    rc = kx_alpaca_order_parse(kx_json_root(doc), a, &err);
    kx_json_free(doc);

    if (rc != KX_ALPACA_OK) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "alpaca: answer is not an order: %s", err.message);
        return NGX_ERROR;
    }

    if (a->rounded) {
        ngx_log_error(NGX_LOG_INFO, log, 0,
                      "alpaca: order %s has amounts beyond 8 decimal "
                      "places, rounded half-even", a->id);
    }

    return NGX_OK;
}


static kx_http_req_t *
kx_alpaca_send(kx_alpaca_conf_t *conf, ngx_log_t *log, const char *method,
    ngx_str_t *path, ngx_str_t *body, size_t max_size,
    kx_http_handler_pt handler, void *data)
{
    kx_http_spec_t  spec;

    ngx_memzero(&spec, sizeof(kx_http_spec_t));

    spec.timeout = conf->timeout;
    spec.attempt_timeout = conf->attempt_timeout;
    spec.max_retries = conf->retries;
    spec.max_size = max_size;
    spec.log = log;

    return kx_alpaca_send_spec(conf, &spec, method, path, body, handler,
                               data);
}


static kx_http_req_t *
kx_alpaca_send_spec(kx_alpaca_conf_t *conf, kx_http_spec_t *spec,
    const char *method, ngx_str_t *path, ngx_str_t *body,
    kx_http_handler_pt handler, void *data)
{
    u_char  *p;
    u_char   url[KX_ALPACA_URL_MAX];

    if (conf->url.len + path->len > sizeof(url)) {
        return NULL;
    }

    p = ngx_cpymem(url, conf->url.data, conf->url.len);
    p = ngx_cpymem(p, path->data, path->len);

    spec->method.data = (u_char *) method;
    spec->method.len = ngx_strlen(method);
    spec->url.data = url;
    spec->url.len = p - url;
    spec->headers = conf->headers;
    spec->nheaders = body->len ? 4 : 3;
    spec->body = *body;

    /*
     * All of them: GET and DELETE are, and a POST carries our order id
     * as client_order_id, which Alpaca takes once.
     */
    spec->idempotent = 1;

    return kx_http_request(spec, handler, data);
}


/* ids go into URLs: UUIDs and the like only */
static ngx_uint_t
kx_alpaca_id_ok(const char *id)
{
    size_t  i;

    for (i = 0; id[i]; i++) {
        if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'z')
              || (id[i] >= 'A' && id[i] <= 'Z') || id[i] == '-'
              || id[i] == '_' || id[i] == '.'))
        {
            return 0;
        }
    }

    return i > 0 && i <= KX_ALPACA_CLIENT_ID_MAX;
}


/*
 * Whether the HTTP client still runs: the io module's exit_process frees
 * it (and every request) before a later module's exit code may abort a
 * call.  A client that started requests counts them.
 */
static ngx_uint_t
kx_alpaca_http_alive(void)
{
    kx_http_stats_t  st;

    kx_http_stats(&st);

    return st.requests > 0;
}


/* the poller */

static ngx_int_t
kx_alpaca_init_process(ngx_cycle_t *cycle, void *conf)
{
    kx_alpaca_conf_t    *ac = conf;
    kx_alpaca_poller_t  *p;

    if (ac == NULL || ac->poll == 0
        || (ngx_process != NGX_PROCESS_SINGLE
            && !(ngx_process == NGX_PROCESS_WORKER && ngx_worker == 0)))
    {
        return NGX_OK;
    }

    p = ngx_alloc(sizeof(kx_alpaca_poller_t), cycle->log);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ngx_memzero(p, sizeof(kx_alpaca_poller_t));

    p->conf = ac;
    p->log = cycle->log;
    ngx_rbtree_init(&p->tree, &p->sentinel, ngx_str_rbtree_insert_value);

    p->closed_after = kx_alpaca_now() - (int64_t) ac->lookback * 1000;
    p->last_resync = ngx_current_msec;

    p->timer.handler = kx_alpaca_poll_start;
    p->timer.data = p;
    p->timer.log = cycle->log;
    p->timer.cancelable = 1;

    kx_alpaca_poller = p;

    ngx_add_timer(&p->timer, 10);

    return NGX_OK;
}


static void
kx_alpaca_exit_process(ngx_cycle_t *cycle, void *conf)
{
    kx_alpaca_poller_t  *p;
    ngx_rbtree_node_t   *node;

    p = kx_alpaca_poller;

    if (p == NULL) {
        return;
    }

    kx_alpaca_poller = NULL;

    if (p->timer.timer_set) {
        ngx_del_timer(&p->timer);
    }

    if (p->http && kx_alpaca_http_alive()) {
        kx_http_cancel(p->http);
    }

    while (p->tree.root != p->tree.sentinel) {
        node = ngx_rbtree_min(p->tree.root, p->tree.sentinel);
        kx_alpaca_seen_free(p, (kx_alpaca_seen_t *) node);
    }

    ngx_free(p);
}


static void
kx_alpaca_poll_start(ngx_event_t *ev)
{
    size_t               n;
    ngx_str_t            path, body;
    kx_alpaca_poller_t  *p;
    u_char               buf[KX_ALPACA_URL_MAX];

    p = ev->data;

    if (ngx_exiting || ngx_terminate || ngx_quit) {
        return;
    }

    p->gen++;
    p->started = kx_alpaca_now();
    p->step = KX_ALPACA_POLL_OPEN;
    p->force = (ngx_current_msec - p->last_resync >= p->conf->resync);

    if (p->force) {
        p->last_resync = ngx_current_msec;
    }

    n = ngx_snprintf(buf, sizeof(buf),
                     "/v2/orders?status=open&limit=%d&direction=asc",
                     KX_ALPACA_LIST_LIMIT) - buf;

    path.data = buf;
    path.len = n;
    ngx_str_null(&body);

    p->http = kx_alpaca_send(p->conf, p->log, "GET", &path, &body,
                             KX_ALPACA_LIST_MAX_SIZE, kx_alpaca_poll_handler,
                             p);
    if (p->http == NULL) {
        kx_alpaca_poll_done(p);
    }
}


static void
kx_alpaca_poll_handler(kx_http_response_t *res, void *data)
{
    kx_alpaca_poller_t  *p = data;
    kx_alpaca_order_t    a;
    kx_alpaca_error_t    e;

    p->http = NULL;

    if (res->error != KX_HTTP_OK) {
        /* an outage is logged when it starts, then ever more rarely */
        p->failures++;

        if ((p->failures & (p->failures - 1)) == 0) {
            ngx_log_error(NGX_LOG_WARN, p->log, 0,
                          "alpaca: poll: %s (%s), %ui in a row",
                          kx_http_error_text(res->error), res->message,
                          p->failures);
        }

        kx_alpaca_poll_done(p);
        return;
    }

    if (p->failures) {
        ngx_log_error(NGX_LOG_NOTICE, p->log, 0,
                      "alpaca: poll: answered again after %ui failures",
                      p->failures);
        p->failures = 0;
    }

    if (p->step == KX_ALPACA_POLL_VANISHED) {
        if (res->status == 404) {
            /* gone from Alpaca altogether: forget it */
            kx_alpaca_seen_free(p, p->vanished);

        } else if (res->status == 200
                   && kx_alpaca_read_order(res, &a, p->log) == NGX_OK)
        {
            kx_alpaca_poll_note(p, &a);

        } else {
            kx_alpaca_error_map(KX_ALPACA_CALL_GET, res->status,
                                (char *) res->body.data, res->body.len, &e);
            ngx_log_error(NGX_LOG_WARN, p->log, 0,
                          "alpaca: poll: order %V: HTTP %ui \"%s\"",
                          &p->vanished->id, res->status, e.message);
            kx_alpaca_poll_done(p);
            return;
        }

        p->vanished = NULL;
        kx_alpaca_poll_next(p);
        return;
    }

    if (res->status != 200) {
        kx_alpaca_error_map(KX_ALPACA_CALL_GET, res->status,
                            (char *) res->body.data, res->body.len, &e);
        ngx_log_error(NGX_LOG_WARN, p->log, 0,
                      "alpaca: poll: HTTP %ui, code %L: \"%s\"",
                      res->status, e.code, e.message);
        kx_alpaca_poll_done(p);
        return;
    }

    kx_alpaca_poll_list(p, res);

    if (p->step == KX_ALPACA_POLL_CLOSED) {
        /* the next poll asks for what closed since this one, with room */
        p->closed_after = p->started - KX_ALPACA_CLOSED_MARGIN;
    }

    kx_alpaca_poll_next(p);
}


static void
kx_alpaca_poll_list(kx_alpaca_poller_t *p, kx_http_response_t *res)
{
    size_t                 i, n;
    kx_json_doc_t         *doc;
    kx_json_perr_t         perr;
    kx_alpaca_err_t        err;
    kx_alpaca_order_t      a;
    kx_json_limits_t       lim = KX_JSON_LIMITS_DEFAULT;
    const kx_json_node_t  *root;

    lim.max_size = KX_ALPACA_LIST_MAX_SIZE;
    lim.max_nodes = 1000000;

    if (kx_json_parse((char *) res->body.data, res->body.len, &lim, &doc,
                      &perr) != KX_JSON_PE_OK)
    {
        ngx_log_error(NGX_LOG_ERR, p->log, 0,
                      "alpaca: poll: answer is not JSON: %s", perr.msg);
        return;
    }

    root = kx_json_root(doc);
    n = kx_json_arr_len(root);

    if (kx_json_type(root) != KX_JSON_ARRAY) {
        ngx_log_error(NGX_LOG_ERR, p->log, 0,
                      "alpaca: poll: answer is not a list");
    }

    for (i = 0; i < n; i++) {
        if (kx_alpaca_order_parse(kx_json_arr_at(root, i), &a, &err)
            != KX_ALPACA_OK)
        {
            /* e.g. a trailing stop placed outside Kianax */
            ngx_log_debug1(NGX_LOG_DEBUG_HTTP, p->log, 0,
                           "alpaca: poll: order skipped: %s", err.message);
            continue;
        }

        kx_alpaca_poll_note(p, &a);
    }

    if (n == KX_ALPACA_LIST_LIMIT) {
        ngx_log_error(NGX_LOG_WARN, p->log, 0,
                      "alpaca: poll: %d orders listed, the most Alpaca "
                      "gives: later ones wait for the next poll",
                      KX_ALPACA_LIST_LIMIT);
    }

    kx_json_free(doc);
}


/* the next request of this poll, or the end of it */
static void
kx_alpaca_poll_next(kx_alpaca_poller_t *p)
{
    u_char             *e;
    ngx_str_t           path, body;
    kx_alpaca_seen_t   *s;
    ngx_rbtree_node_t  *node;
    u_char              buf[KX_ALPACA_URL_MAX];
    char                t[KX_ORDER_TIME_MAX + 1];

    ngx_str_null(&body);

    if (p->step == KX_ALPACA_POLL_OPEN) {
        p->step = KX_ALPACA_POLL_CLOSED;

        if (kx_order_time_format(p->closed_after, t, sizeof(t)) == 0) {
            kx_alpaca_poll_done(p);
            return;
        }

        e = ngx_snprintf(buf, sizeof(buf),
                         "/v2/orders?status=closed&limit=%d&direction=asc"
                         "&after=%s", KX_ALPACA_LIST_LIMIT, t);
        path.data = buf;
        path.len = e - buf;

        p->http = kx_alpaca_send(p->conf, p->log, "GET", &path, &body,
                                 KX_ALPACA_LIST_MAX_SIZE,
                                 kx_alpaca_poll_handler, p);
        if (p->http == NULL) {
            kx_alpaca_poll_done(p);
        }

        return;
    }

    /* orders open before and listed by neither query: read each */
    p->step = KX_ALPACA_POLL_VANISHED;

    if (p->tree.root != p->tree.sentinel) {
        for (node = ngx_rbtree_min(p->tree.root, p->tree.sentinel);
             node;
             node = ngx_rbtree_next(&p->tree, node))
        {
            s = (kx_alpaca_seen_t *) node;

            if (s->closed_at == 0 && s->gen != p->gen) {
                e = ngx_snprintf(buf, sizeof(buf), "/v2/orders/%V", &s->id);
                path.data = buf;
                path.len = e - buf;

                p->vanished = s;
                s->gen = p->gen;    /* asked once per poll */

                p->http = kx_alpaca_send(p->conf, p->log, "GET", &path,
                                         &body, 0, kx_alpaca_poll_handler,
                                         p);
                if (p->http == NULL) {
                    kx_alpaca_poll_done(p);
                }

                return;
            }
        }
    }

    kx_alpaca_poll_done(p);
}


static void
kx_alpaca_poll_done(kx_alpaca_poller_t *p)
{
    kx_alpaca_seen_t   *s;
    ngx_rbtree_node_t  *node, *next;

    p->http = NULL;
    p->vanished = NULL;

    /* closed orders are remembered for "lookback", then forgotten */
    if (p->tree.root != p->tree.sentinel) {
        for (node = ngx_rbtree_min(p->tree.root, p->tree.sentinel);
             node;
             node = next)
        {
            next = ngx_rbtree_next(&p->tree, node);
            s = (kx_alpaca_seen_t *) node;

            if (s->closed_at
                && ngx_current_msec - s->closed_at > p->conf->lookback)
            {
                kx_alpaca_seen_free(p, s);
            }
        }
    }

    if (ngx_exiting || ngx_terminate || ngx_quit) {
        return;
    }

    ngx_add_timer(&p->timer, p->conf->poll);
}


static void
kx_alpaca_poll_note(kx_alpaca_poller_t *p, const kx_alpaca_order_t *a)
{
    size_t             len;
    ngx_uint_t         changed;
    kx_alpaca_seen_t  *s;

    len = ngx_strlen(a->id);
    s = kx_alpaca_seen_find(p, a->id, len);

    if (s == NULL && kx_order_status_is_open(a->status)
        && a->filled_qty.v == 0 && a->submitted_at
        && kx_alpaca_now() - a->submitted_at
           < ((int64_t) p->conf->timeout + 1000) * 1000)
    {
        /*
         * Young and untouched: the worker that submitted it is applying
         * Alpaca's answer, which says as much.  Left to the next poll,
         * not raced.
         */
        return;
    }

    if (s == NULL) {
        s = ngx_alloc(sizeof(kx_alpaca_seen_t), p->log);
        if (s == NULL) {
            return;
        }

        ngx_memzero(s, sizeof(kx_alpaca_seen_t));
        ngx_memcpy(s->id_data, a->id, len + 1);
        s->id.data = (u_char *) s->id_data;
        s->id.len = len;
        s->node.key = ngx_crc32_short(s->id.data, len);

        ngx_rbtree_insert(&p->tree, &s->node);
        changed = 1;

    } else {
        changed = ngx_strcmp(s->status, a->status_name) != 0
                  || kx_dec_cmp(s->filled_qty, a->filled_qty) != 0;
    }

    s->gen = p->gen;

    if (!changed && !p->force) {
        return;
    }

    ngx_cpystrn((u_char *) s->status, (u_char *) a->status_name,
                sizeof(s->status));
    s->filled_qty = a->filled_qty;

    if (kx_order_status_is_final(a->status)) {
        if (s->closed_at == 0) {
            s->closed_at = ngx_current_msec ? ngx_current_msec : 1;
        }

    } else {
        s->closed_at = 0;
    }

    kx_alpaca_report(p, a);
}


static void
kx_alpaca_report(kx_alpaca_poller_t *p, const kx_alpaca_order_t *a)
{
    ngx_str_t           id, order_id;
    ngx_int_t           rc;
    kx_broker_result_t  res;
    char                filled[KX_DEC_FMT_MAX];

    ngx_memzero(&res, sizeof(kx_broker_result_t));

    res.status = KX_BROKER_OK;
    res.order_status = a->status;
    res.filled_qty = a->filled_qty;
    res.filled_avg_price = a->filled_avg_price;

    if (a->status == KX_ORDER_REJECTED) {
        res.reason = "rejected by the broker";
    }

    id.data = (u_char *) a->id;
    id.len = ngx_strlen(a->id);
    res.broker_order_id = id;

    order_id.data = (u_char *) a->client_order_id;
    order_id.len = ngx_strlen(a->client_order_id);

    (void) kx_dec_format_min(a->filled_qty, filled, sizeof(filled));

    ngx_log_error(NGX_LOG_INFO, p->log, 0,
                  "alpaca: order %V (client %V) is %s, filled %s",
                  &id, &order_id, a->status_name, filled);

    if (kx_trading_broker_report == NULL) {
        return;
    }

    rc = kx_trading_broker_report((ngx_cycle_t *) ngx_cycle,
                                  &kx_trading_broker_alpaca, &id, &order_id,
                                  &res, kx_alpaca_report_failed);
    if (rc != NGX_OK) {
        ngx_log_error(NGX_LOG_WARN, p->log, 0,
                      "alpaca: order %V: the report was not taken", &id);
    }

    p->reports++;
}


/*
 * The change was not written (the database down, a conflict): forget
 * what was seen, so that the next poll reports it again instead of the
 * next resync.
 */
static void
kx_alpaca_report_failed(ngx_str_t *id)
{
    kx_alpaca_seen_t  *s;

    if (kx_alpaca_poller == NULL || id->len > KX_ALPACA_ID_MAX) {
        return;
    }

    s = kx_alpaca_seen_find(kx_alpaca_poller, (const char *) id->data,
                            id->len);
    if (s != NULL) {
        s->status[0] = '\0';
    }
}


static kx_alpaca_seen_t *
kx_alpaca_seen_find(kx_alpaca_poller_t *p, const char *id, size_t len)
{
    ngx_str_t  key;

    key.data = (u_char *) id;
    key.len = len;

    return (kx_alpaca_seen_t *) ngx_str_rbtree_lookup(&p->tree, &key,
                                   ngx_crc32_short((u_char *) id, len));
}


static void
kx_alpaca_seen_free(kx_alpaca_poller_t *p, kx_alpaca_seen_t *s)
{
    ngx_rbtree_delete(&p->tree, &s->node);
    ngx_free(s);
}


/*
 * GET /health: the account answers, is ACTIVE and may trade.  Nothing
 * of the account is shown (/health is public), and an answer is reused
 * for a second, so probes cost Alpaca's rate limit little.
 */
static ngx_msec_t   kx_alpaca_health_at;
static ngx_uint_t   kx_alpaca_health_ok;
static const char  *kx_alpaca_health_detail;


static void
kx_alpaca_health(void *check_data, ngx_log_t *log, ngx_msec_t timeout,
    ngx_http_kx_health_done_pt done, void *data)
{
    kx_alpaca_conf_t   *ac = check_data;

    ngx_str_t           path, body;
    kx_http_spec_t      spec;
    kx_alpaca_check_t  *chk;

    if (kx_alpaca_health_at
        && ngx_current_msec - kx_alpaca_health_at < KX_ALPACA_HEALTH_CACHE)
    {
        done(data, kx_alpaca_health_ok, kx_alpaca_health_detail);
        return;
    }

    chk = ngx_alloc(sizeof(kx_alpaca_check_t), log);
    if (chk == NULL) {
        done(data, 0, "out of memory");
        return;
    }

    chk->conf = ac;
    chk->done = done;
    chk->data = data;

    ngx_memzero(&spec, sizeof(kx_http_spec_t));

    spec.timeout = ngx_min(timeout, KX_ALPACA_HEALTH_TIMEOUT);
    spec.log = ngx_cycle->log;      /* the probe may leave before */

    ngx_str_set(&path, "/v2/account");
    ngx_str_null(&body);

    if (kx_alpaca_send_spec(ac, &spec, "GET", &path, &body,
                            kx_alpaca_health_handler, chk)
        == NULL)
    {
        ngx_free(chk);
        done(data, 0, "cannot start a request");
    }
}


static void
kx_alpaca_health_handler(kx_http_response_t *res, void *data)
{
    kx_alpaca_check_t  *chk = data;

    int                   rc;
    kx_json_doc_t        *doc;
    kx_alpaca_err_t       err;
    kx_alpaca_account_t   acc;

    if (res->error != KX_HTTP_OK) {
        kx_alpaca_health_answer(chk, 0, res->error == KX_HTTP_TIMEOUT
                                        ? "timeout" : "unreachable");
        return;
    }

    if (res->status == 401 || res->status == 403) {
        kx_alpaca_health_answer(chk, 0, "keys refused");
        return;
    }

    if (res->status != 200
        || kx_json_parse((char *) res->body.data, res->body.len, NULL, &doc,
                         NULL) != KX_JSON_PE_OK)
    {
        kx_alpaca_health_answer(chk, 0, "bad answer");
        return;
    }

    rc = kx_alpaca_account_parse(kx_json_root(doc), &acc, &err);
    kx_json_free(doc);

    if (rc != KX_ALPACA_OK) {
        kx_alpaca_health_answer(chk, 0, "bad answer");

    } else if (acc.account_blocked || acc.trading_blocked) {
        kx_alpaca_health_answer(chk, 0, "trading blocked");

    } else if (ngx_strcmp(acc.status, "ACTIVE") != 0) {
        kx_alpaca_health_answer(chk, 0, "account not active");

    } else {
        kx_alpaca_health_answer(chk, 1, "account active");
    }
}


static void
kx_alpaca_health_answer(kx_alpaca_check_t *chk, ngx_uint_t ok,
    const char *detail)
{
    kx_alpaca_health_at = ngx_current_msec ? ngx_current_msec : 1;
    kx_alpaca_health_ok = ok;
    kx_alpaca_health_detail = detail;

    chk->done(chk->data, ok, detail);

    ngx_free(chk);
}


static int64_t
kx_alpaca_now(void)
{
    ngx_time_t  *tp;

    tp = ngx_timeofday();

    return (int64_t) tp->sec * 1000000 + (int64_t) tp->msec * 1000;
}
