
/*
 * Copyright (C) Kianax
 *
 * The market data cache: Redis first, the provider on a miss.
 *
 *   - A read is GET <key>; a hit is answered with the stored body as it
 *     is (the exact bytes that were rendered once).
 *   - A miss joins the flight of its key when one is in the air in this
 *     worker, else starts one: a single provider call, whose rendered
 *     body every waiter gets and Redis keeps (SET key body PX ttl).
 *     A read that finds a flight before asking Redis joins it at once.
 *   - Redis down, slow or failing is a miss: the provider answers, the
 *     request never fails for the cache's sake.
 *
 * Counters in GET /metrics, by kind (quote, history, indicator, news):
 * kx_market_cache_hits_total, kx_market_cache_misses_total (reads that
 * needed the provider's answer, joined or not) and
 * kx_market_provider_calls_total (flights: calls actually made).
 *
 * Across workers (and instances sharing the Redis), a flight first
 * takes a short lock, SET <key>:lock NX PX <kx_market_cache_lock>: the
 * worker that gets it calls the provider, stores the answer and drops
 * the lock; the others poll for the stored answer every 20 ms and call
 * the provider themselves only when the lock expires without one (its
 * holder died or is slower than the lock).  Without Redis, flights are
 * per worker.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_kx.h"
#include "ngx_http_kx_io.h"
#include "kx_market.h"


#define KX_MARKET_LOCK_POLL  20


typedef struct kx_market_flight_s  kx_market_flight_t;


struct kx_market_wait_s {
    ngx_queue_t                       queue;    /* in a flight's waiters */
    kx_market_flight_t               *flight;
    kx_redis_cmd_t                   *cmd;      /* the GET in the air */
    kx_market_fetch_t                 f;        /* f.key: our copy */
    ngx_http_kx_market_main_conf_t   *mmcf;
    kx_market_got_pt                  got;
    void                             *data;
};


struct kx_market_flight_s {
    ngx_str_node_t                    sn;       /* sn.str: the key */
    ngx_queue_t                       waiters;
    ngx_queue_t                       all;      /* every flight */
    kx_market_call_t                 *call;
    kx_redis_cmd_t                   *cmd;      /* lock SET or poll GET */
    ngx_event_t                       poll;     /* the next poll */
    ngx_msec_t                        waited;
    ngx_uint_t                        locked;   /* we hold the lock */
    kx_market_fetch_t                 f;
    ngx_http_kx_market_main_conf_t   *mmcf;
};


static void kx_market_cache_got_redis(kx_redis_status_e status,
    redisReply *reply, void *data);
static ngx_int_t kx_market_cache_fly(kx_market_wait_t *w);
static ngx_int_t kx_market_cache_lock(kx_market_flight_t *fl);
static void kx_market_cache_locked(kx_redis_status_e status,
    redisReply *reply, void *data);
static void kx_market_cache_poll(ngx_event_t *ev);
static void kx_market_cache_polled(kx_redis_status_e status,
    redisReply *reply, void *data);
static ngx_int_t kx_market_cache_get_again(kx_market_flight_t *fl);
static ngx_int_t kx_market_cache_call(kx_market_flight_t *fl);
static void kx_market_cache_landed(kx_market_result_t *res, void *data);
static void kx_market_cache_deliver(kx_market_flight_t *fl,
    ngx_uint_t status, u_char *body, size_t len, const char *msg);
static void kx_market_cache_unlock(kx_market_flight_t *fl);
static void kx_market_cache_store(kx_market_flight_t *fl, u_char *body,
    size_t len);
static void kx_market_cache_stored(kx_redis_status_e status,
    redisReply *reply, void *data);
static kx_redis_t *kx_market_cache_redis(ngx_http_kx_market_main_conf_t
    *mmcf);


static const char  *kx_market_kind_names[KX_MARKET_KINDS] = {
    "quote", "history", "indicator", "news"
};


/* this worker's flights, by key */
static ngx_rbtree_t       kx_market_flights;
static ngx_rbtree_node_t  kx_market_flights_sentinel;
static ngx_queue_t        kx_market_flights_all;
static ngx_uint_t         kx_market_flights_ready;


const char *
kx_market_kind_name(kx_market_kind_e kind)
{
    return kx_market_kind_names[kind];
}


void
kx_market_count(const char *name, kx_market_kind_e kind)
{
    u_char  series[96];

    *ngx_snprintf(series, sizeof(series) - 1, "%s{kind=\"%s\"}", name,
                  kx_market_kind_names[kind]) = '\0';

    ngx_http_kx_metrics_count((ngx_cycle_t *) ngx_cycle, (char *) series, 1);
}


static void
kx_market_cache_ready(void)
{
    if (!kx_market_flights_ready) {
        ngx_rbtree_init(&kx_market_flights, &kx_market_flights_sentinel,
                        ngx_str_rbtree_insert_value);
        ngx_queue_init(&kx_market_flights_all);
        kx_market_flights_ready = 1;
    }
}


static kx_redis_t *
kx_market_cache_redis(ngx_http_kx_market_main_conf_t *mmcf)
{
    kx_redis_t  *rd;

    if (!mmcf->cache) {
        return NULL;
    }

    rd = ngx_http_kx_io_redis_cycle((ngx_cycle_t *) ngx_cycle);

    /* down: no command is queued behind a dead connection */
    if (rd == NULL || !kx_redis_available(rd)) {
        return NULL;
    }

    return rd;
}


static kx_market_flight_t *
kx_market_cache_find(ngx_str_t *key)
{
    uint32_t         hash;
    ngx_str_node_t  *sn;

    hash = ngx_crc32_long(key->data, key->len);

    sn = ngx_str_rbtree_lookup(&kx_market_flights, key, hash);

    return sn ? (kx_market_flight_t *) sn : NULL;
}


kx_market_wait_t *
kx_market_cache_get(ngx_http_kx_market_main_conf_t *mmcf,
    kx_market_fetch_t *f, ngx_log_t *log, kx_market_got_pt got, void *data)
{
    ngx_str_t            args[2];
    kx_redis_t          *rd;
    kx_market_wait_t    *w;
    kx_market_flight_t  *fl;

    kx_market_cache_ready();

    w = ngx_calloc(sizeof(kx_market_wait_t) + f->key.len, log);
    if (w == NULL) {
        return NULL;
    }

    w->f = *f;
    w->f.key.data = (u_char *) (w + 1);
    ngx_memcpy(w->f.key.data, f->key.data, f->key.len);
    w->mmcf = mmcf;
    w->got = got;
    w->data = data;

    /* the answer is on its way already: no need to ask Redis */
    fl = kx_market_cache_find(&w->f.key);
    if (fl) {
        kx_market_count("kx_market_cache_misses_total", f->kind);
        w->flight = fl;
        ngx_queue_insert_tail(&fl->waiters, &w->queue);
        return w;
    }

    rd = kx_market_cache_redis(mmcf);

    if (rd) {
        ngx_str_set(&args[0], "GET");
        args[1] = w->f.key;

        w->cmd = kx_redis_command(rd, args, 2, 0, kx_market_cache_got_redis,
                                  w);
        if (w->cmd) {
            return w;
        }
    }

    if (kx_market_cache_fly(w) != NGX_OK) {
        ngx_free(w);
        return NULL;
    }

    return w;
}


void
kx_market_cache_cancel(kx_market_wait_t *w)
{
    if (w->cmd) {
        kx_redis_cancel(w->cmd);
    }

    /* the flight goes on: its answer still fills the cache */
    if (w->flight) {
        ngx_queue_remove(&w->queue);
    }

    ngx_free(w);
}


static void
kx_market_cache_got_redis(kx_redis_status_e status, redisReply *reply,
    void *data)
{
    kx_market_wait_t *w = data;

    void              *wdata;
    kx_market_got_pt   got;

    w->cmd = NULL;

    if (status == KX_REDIS_OK && reply->type == REDIS_REPLY_STRING) {
        kx_market_count("kx_market_cache_hits_total", w->f.kind);

        got = w->got;
        wdata = w->data;
        ngx_free(w);

        got(wdata, NGX_HTTP_OK, (u_char *) reply->str, reply->len, NULL);
        return;
    }

    if (status != KX_REDIS_OK) {
        ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                      "kx_market: cache read failed (%s), asking the "
                      "provider", kx_redis_status_text(status));
    }

    if (kx_market_cache_fly(w) != NGX_OK) {
        got = w->got;
        wdata = w->data;
        ngx_free(w);

        got(wdata, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL, 0,
            "market data call failed");
    }
}


/* joins the key's flight, or starts it */
static ngx_int_t
kx_market_cache_fly(kx_market_wait_t *w)
{
    ngx_int_t                        rc;
    kx_market_flight_t              *fl;
    ngx_http_kx_market_main_conf_t  *mmcf;

    kx_market_count("kx_market_cache_misses_total", w->f.kind);

    fl = kx_market_cache_find(&w->f.key);

    if (fl == NULL) {
        mmcf = w->mmcf;

        fl = ngx_calloc(sizeof(kx_market_flight_t) + w->f.key.len,
                        ngx_cycle->log);
        if (fl == NULL) {
            return NGX_ERROR;
        }

        fl->f = w->f;
        fl->f.key.data = (u_char *) (fl + 1);
        ngx_memcpy(fl->f.key.data, w->f.key.data, w->f.key.len);
        fl->mmcf = mmcf;
        ngx_queue_init(&fl->waiters);

        fl->poll.handler = kx_market_cache_poll;
        fl->poll.data = fl;
        fl->poll.log = ngx_cycle->log;

        rc = kx_market_cache_lock(fl);

        if (rc == NGX_DECLINED) {
            rc = kx_market_cache_call(fl);
        }

        if (rc != NGX_OK) {
            ngx_free(fl);
            return NGX_ERROR;
        }

        fl->sn.str = fl->f.key;
        fl->sn.node.key = ngx_crc32_long(fl->f.key.data, fl->f.key.len);
        ngx_rbtree_insert(&kx_market_flights, &fl->sn.node);
        ngx_queue_insert_tail(&kx_market_flights_all, &fl->all);
    }

    w->flight = fl;
    ngx_queue_insert_tail(&fl->waiters, &w->queue);

    return NGX_OK;
}


/* "<key>:lock" into buf (KX_MARKET_KEY_MAX + 8 bytes at least) */
static void
kx_market_cache_lock_key(kx_market_flight_t *fl, ngx_str_t *key, u_char *buf)
{
    key->data = buf;
    key->len = ngx_cpymem(ngx_cpymem(buf, fl->f.key.data, fl->f.key.len),
                          ":lock", 5)
               - buf;
}


/*
 * SET <key>:lock 1 NX PX <lock>: NGX_OK when sent, NGX_DECLINED when
 * there is no lock to take (off, Redis down), NGX_ERROR.
 */
static ngx_int_t
kx_market_cache_lock(kx_market_flight_t *fl)
{
    u_char      *p;
    ngx_str_t    args[6];
    kx_redis_t  *rd;
    u_char       key[KX_MARKET_KEY_MAX + 8], ttl[NGX_INT_T_LEN];

    if (fl->mmcf->cache_lock == 0 || fl->f.key.len > KX_MARKET_KEY_MAX) {
        return NGX_DECLINED;
    }

    rd = kx_market_cache_redis(fl->mmcf);
    if (rd == NULL) {
        return NGX_DECLINED;
    }

    p = ngx_sprintf(ttl, "%M", fl->mmcf->cache_lock);

    ngx_str_set(&args[0], "SET");
    kx_market_cache_lock_key(fl, &args[1], key);
    ngx_str_set(&args[2], "1");
    ngx_str_set(&args[3], "NX");
    ngx_str_set(&args[4], "PX");
    args[5].data = ttl;
    args[5].len = p - ttl;

    fl->cmd = kx_redis_command(rd, args, 6, 0, kx_market_cache_locked, fl);

    return fl->cmd ? NGX_OK : NGX_DECLINED;
}


static void
kx_market_cache_locked(kx_redis_status_e status, redisReply *reply,
    void *data)
{
    kx_market_flight_t *fl = data;

    fl->cmd = NULL;

    if (status == KX_REDIS_OK && reply->type == REDIS_REPLY_NIL) {
        /* another worker asks the provider: wait for its answer */
        ngx_add_timer(&fl->poll, KX_MARKET_LOCK_POLL);
        return;
    }

    fl->locked = (status == KX_REDIS_OK
                  && reply->type == REDIS_REPLY_STATUS);

    /*
     * Ours: but the previous holder may have stored its answer and
     * dropped the lock since we last looked; look once more.
     */
    if (fl->locked && kx_market_cache_get_again(fl) == NGX_OK) {
        return;
    }

    /* ours, or Redis failed us: ask the provider */
    if (kx_market_cache_call(fl) != NGX_OK) {
        kx_market_cache_deliver(fl, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL, 0,
                                "market data call failed");
    }
}


/* GET <key> for the flight; NGX_OK when sent */
static ngx_int_t
kx_market_cache_get_again(kx_market_flight_t *fl)
{
    ngx_str_t    args[2];
    kx_redis_t  *rd;

    rd = kx_market_cache_redis(fl->mmcf);
    if (rd == NULL) {
        return NGX_DECLINED;
    }

    ngx_str_set(&args[0], "GET");
    args[1] = fl->f.key;

    fl->cmd = kx_redis_command(rd, args, 2, 0, kx_market_cache_polled, fl);

    return fl->cmd ? NGX_OK : NGX_DECLINED;
}


static void
kx_market_cache_poll(ngx_event_t *ev)
{
    kx_market_flight_t *fl = ev->data;

    fl->waited += KX_MARKET_LOCK_POLL;

    if (fl->waited <= fl->mmcf->cache_lock
        && kx_market_cache_get_again(fl) == NGX_OK)
    {
        return;
    }

    /* the lock's holder is gone or too slow, or Redis is: ask ourselves */
    if (kx_market_cache_call(fl) != NGX_OK) {
        kx_market_cache_deliver(fl, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL, 0,
                                "market data call failed");
    }
}


static void
kx_market_cache_polled(kx_redis_status_e status, redisReply *reply,
    void *data)
{
    kx_market_flight_t *fl = data;

    fl->cmd = NULL;

    if (status == KX_REDIS_OK && reply->type == REDIS_REPLY_STRING) {
        /* stored by the worker that held the lock: nothing to store */
        kx_market_cache_deliver(fl, NGX_HTTP_OK, (u_char *) reply->str,
                                reply->len, NULL);
        return;
    }

    /*
     * We hold the lock and the answer is not there: ask.  Else take the
     * lock if it is free again (its holder failed and dropped it), or
     * wait another round.
     */
    if (!fl->locked && status == KX_REDIS_OK
        && kx_market_cache_lock(fl) == NGX_OK)
    {
        return;
    }

    if (kx_market_cache_call(fl) != NGX_OK) {
        kx_market_cache_deliver(fl, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL, 0,
                                "market data call failed");
    }
}


/* the provider call of the flight */
static ngx_int_t
kx_market_cache_call(kx_market_flight_t *fl)
{
    kx_market_provider_t            *p;
    ngx_http_kx_market_main_conf_t  *mmcf;

    mmcf = fl->mmcf;
    p = mmcf->provider;

    switch (fl->f.kind) {
    case KX_MARKET_KIND_QUOTE:
        fl->call = p->quote(mmcf->provider_conf, &fl->f.query,
                            ngx_cycle->log, kx_market_cache_landed, fl);
        break;
    case KX_MARKET_KIND_NEWS:
        fl->call = p->news(mmcf->provider_conf, &fl->f.query,
                           ngx_cycle->log, kx_market_cache_landed, fl);
        break;
    default: /* history, indicator */
        fl->call = p->bars(mmcf->provider_conf, &fl->f.query,
                           ngx_cycle->log, kx_market_cache_landed, fl);
        break;
    }

    if (fl->call == NULL) {
        return NGX_ERROR;
    }

    kx_market_count("kx_market_provider_calls_total", fl->f.kind);

    return NGX_OK;
}


static void
kx_market_cache_landed(kx_market_result_t *res, void *data)
{
    kx_market_flight_t *fl = data;

    size_t       len;
    kx_jw_t      jw;
    ngx_uint_t   status;
    const char  *body, *msg;

    fl->call = NULL;

    kx_jw_init(&jw);
    body = NULL;
    len = 0;
    msg = NULL;

    switch (res->status) {

    case KX_MARKET_OK:
        if (fl->f.render(&fl->f, res, &jw) == NGX_OK
            && kx_jw_finish(&jw, &body, &len) == 0)
        {
            status = NGX_HTTP_OK;

        } else {
            status = NGX_HTTP_INTERNAL_SERVER_ERROR;
            msg = "market data could not be rendered";
        }
        break;

    case KX_MARKET_NOT_FOUND:
        status = NGX_HTTP_NOT_FOUND;
        msg = "the market data provider knows no such symbol";
        break;

    case KX_MARKET_UNAVAILABLE:
        status = NGX_HTTP_SERVICE_UNAVAILABLE;
        msg = "the market data provider is unavailable";
        break;

    case KX_MARKET_TIMEOUT:
        status = NGX_HTTP_GATEWAY_TIME_OUT;
        msg = "the market data provider did not answer in time";
        break;

    default:
        status = NGX_HTTP_BAD_GATEWAY;
        msg = "the market data provider failed";
        break;
    }

    if (status != NGX_HTTP_OK) {
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "kx_market: %s %V: %s%s%s",
                      kx_market_kind_names[fl->f.kind], &fl->f.key, msg,
                      res->detail ? ": " : "",
                      res->detail ? res->detail : "");
    }

    if (status == NGX_HTTP_OK) {
        kx_market_cache_store(fl, (u_char *) body, len);
    }

    /* the lock goes after the SET on the same pipeline: pollers find it */
    kx_market_cache_deliver(fl, status, (u_char *) body, len, msg);

    kx_jw_free(&jw);
}


static void
kx_market_cache_unlock(kx_market_flight_t *fl)
{
    ngx_str_t    args[2];
    kx_redis_t  *rd;
    u_char       key[KX_MARKET_KEY_MAX + 8];

    if (!fl->locked) {
        return;
    }

    fl->locked = 0;

    rd = kx_market_cache_redis(fl->mmcf);
    if (rd == NULL) {
        return;     /* it expires */
    }

    ngx_str_set(&args[0], "DEL");
    kx_market_cache_lock_key(fl, &args[1], key);

    (void) kx_redis_command(rd, args, 2, 0, kx_market_cache_stored, NULL);
}


/* the flight is over: every waiter gets the answer; fl is freed */
static void
kx_market_cache_deliver(kx_market_flight_t *fl, ngx_uint_t status,
    u_char *body, size_t len, const char *msg)
{
    void               *wdata;
    ngx_queue_t         waiters, *q;
    kx_market_wait_t   *w;
    kx_market_got_pt    got;

    kx_market_cache_unlock(fl);

    ngx_rbtree_delete(&kx_market_flights, &fl->sn.node);
    ngx_queue_remove(&fl->all);

    /* a waiter's answer may end other waits: take the list first */
    ngx_queue_init(&waiters);

    if (!ngx_queue_empty(&fl->waiters)) {
        waiters = fl->waiters;
        waiters.next->prev = &waiters;
        waiters.prev->next = &waiters;
    }

    ngx_queue_init(&fl->waiters);

    while (!ngx_queue_empty(&waiters)) {
        q = ngx_queue_head(&waiters);
        ngx_queue_remove(q);

        w = ngx_queue_data(q, kx_market_wait_t, queue);
        got = w->got;
        wdata = w->data;
        ngx_free(w);

        got(wdata, status, body, len, msg);
    }

    ngx_free(fl);
}


static void
kx_market_cache_store(kx_market_flight_t *fl, u_char *body, size_t len)
{
    u_char      *p;
    ngx_str_t    args[5];
    kx_redis_t  *rd;
    u_char       ttl[NGX_INT_T_LEN];

    rd = kx_market_cache_redis(fl->mmcf);
    if (rd == NULL) {
        return;
    }

    p = ngx_sprintf(ttl, "%M", fl->mmcf->ttl[fl->f.kind]);

    ngx_str_set(&args[0], "SET");
    args[1] = fl->f.key;
    args[2].data = body;
    args[2].len = len;
    ngx_str_set(&args[3], "PX");
    args[4].data = ttl;
    args[4].len = p - ttl;

    /* fire and forget: a lost write is only a later miss */
    (void) kx_redis_command(rd, args, 5, 0, kx_market_cache_stored, NULL);
}


static void
kx_market_cache_stored(kx_redis_status_e status, redisReply *reply,
    void *data)
{
    if (status != KX_REDIS_OK) {
        ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                      "kx_market: cache write failed: %s",
                      kx_redis_status_text(status));
    }
}


void
kx_market_cache_exit(void)
{
    ngx_queue_t         *q;
    kx_market_wait_t    *w;
    kx_market_flight_t  *fl;

    if (!kx_market_flights_ready) {
        return;
    }

    while (!ngx_queue_empty(&kx_market_flights_all)) {
        q = ngx_queue_head(&kx_market_flights_all);
        ngx_queue_remove(q);
        fl = ngx_queue_data(q, kx_market_flight_t, all);

        if (fl->call) {
            fl->mmcf->provider->cancel(fl->call);
        }

        if (fl->cmd) {
            kx_redis_cancel(fl->cmd);
        }

        if (fl->poll.timer_set) {
            ngx_del_timer(&fl->poll);
        }

        /* the requests go with the worker; only the memory is ours */
        while (!ngx_queue_empty(&fl->waiters)) {
            q = ngx_queue_head(&fl->waiters);
            ngx_queue_remove(q);
            w = ngx_queue_data(q, kx_market_wait_t, queue);
            w->flight = NULL;
        }

        ngx_free(fl);
    }

    kx_market_flights_ready = 0;
}
