
/*
 * Copyright (C) Kianax
 *
 * The built-in market data provider: the simulated market of
 * src/market behind the provider port (kx_market_provider.h).
 *
 * Live quotes come from ONE kx_sim_t in shared memory, so every worker
 * sees the same market: the publisher (worker 0) ticks it on its
 * interval and publishes what changed; a quote read on a cache miss is
 * a copy of that same state, so a worker's answer always equals a
 * published quote of the same tick.  Only when the publisher is off or
 * late (two intervals) does a reader tick the shared market itself.
 * The lock is the zone's slab mutex, held for a tick (tens of
 * microseconds) or a copy.
 *
 * History and news are a pure function of (seed, symbol, time): each
 * worker reads them off a private, never-ticked kx_sim_t, so a thread
 * of the pool can compute bars without any lock.  Long ranges (over
 * KX_MARKET_SIM_THREAD_MINUTES minute steps) go to the thread pool of
 * kx_market_thread_pool when one is set; the rest run at once (a few
 * milliseconds at most).
 *
 * Every answer arrives later (a posted event, a thread's completion, or
 * the kx_market_sim_latency timer that imitates a remote provider).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_kx.h"
#include "ngx_http_kx_io.h"
#include "kx_market.h"


#define KX_MARKET_SIM_CHUNK           256

/* ~3 ms of path steps: more than this goes to the thread pool */
#define KX_MARKET_SIM_THREAD_MINUTES  20000


typedef struct {
    ngx_http_kx_market_main_conf_t  *mmcf;
    kx_sim_t                        *sim;
} kx_market_sim_zone_t;


struct kx_market_call_s {
    ngx_event_t                      ev;        /* completion */
    kx_market_done_pt                done;
    void                            *data;
    ngx_log_t                       *log;
    ngx_msec_t                       latency;

    kx_market_query_t                q;
    kx_market_result_t               res;
    kx_market_quote_t                quote;
    kx_market_bar_t                 *ring;
    kx_market_bar_t                 *chunk;
    kx_market_bar_t                 *out;
    kx_market_news_t                *news;

#if (NGX_THREADS)
    ngx_thread_task_t                task;
    ngx_event_t                      wait;      /* holds shutdown */
#endif
    unsigned                         in_thread:1;
    unsigned                         cancelled:1;
};


static char *kx_market_sim_configure(ngx_conf_t *cf, ngx_str_t *args,
    ngx_uint_t nargs, void **conf);
static ngx_int_t kx_market_sim_init_process(ngx_cycle_t *cycle, void *conf);
static void kx_market_sim_exit_process(ngx_cycle_t *cycle, void *conf);
static kx_market_call_t *kx_market_sim_quote(void *conf,
    kx_market_query_t *q, ngx_log_t *log, kx_market_done_pt done,
    void *data);
static kx_market_call_t *kx_market_sim_bars(void *conf,
    kx_market_query_t *q, ngx_log_t *log, kx_market_done_pt done,
    void *data);
static kx_market_call_t *kx_market_sim_news(void *conf,
    kx_market_query_t *q, ngx_log_t *log, kx_market_done_pt done,
    void *data);
static void kx_market_sim_cancel(kx_market_call_t *call);
static ngx_int_t kx_market_sim_live_start(void *conf, ngx_cycle_t *cycle,
    kx_market_live_pt handler, void *data);
static void kx_market_sim_live_poll(void *conf, int64_t now_ms);
static void kx_market_sim_live_stop(void *conf);

static ngx_int_t kx_market_sim_init_zone(ngx_shm_zone_t *zone, void *data);
static kx_market_call_t *kx_market_sim_call(ngx_http_kx_market_main_conf_t
    *mmcf, kx_market_query_t *q, ngx_log_t *log, kx_market_done_pt done,
    void *data);
static void kx_market_sim_finish(kx_market_call_t *call);
static void kx_market_sim_complete(ngx_event_t *ev);
static void kx_market_sim_free(kx_market_call_t *call);
static void kx_market_sim_compute_bars(kx_market_call_t *call);
#if (NGX_THREADS)
static void kx_market_sim_thread(void *data, ngx_log_t *log);
static void kx_market_sim_thread_done(ngx_event_t *ev);
static void kx_market_sim_thread_wait(ngx_event_t *ev);
#endif


kx_market_provider_t  kx_market_provider_sim = {
    "sim",
    kx_market_sim_configure,
    kx_market_sim_init_process,
    kx_market_sim_exit_process,
    kx_market_sim_quote,
    kx_market_sim_bars,
    kx_market_sim_news,
    kx_market_sim_cancel,
    kx_market_sim_live_start,
    kx_market_sim_live_poll,
    kx_market_sim_live_stop
};


/* per worker */
static kx_sim_t             *kx_market_sim_hist;
static ngx_uint_t            kx_market_sim_published;
static kx_market_sim_zone_t *kx_market_sim_shared;
static kx_market_live_pt     kx_market_sim_live_handler;
static void                 *kx_market_sim_live_data;
static uint64_t              kx_market_sim_live_seq[KX_SIM_MAX_SYMBOLS];


const kx_sim_t *
kx_market_sim_history(void)
{
    return kx_market_sim_hist;
}


static char *
kx_market_sim_configure(ngx_conf_t *cf, ngx_str_t *args, ngx_uint_t nargs,
    void **conf)
{
    if (nargs) {
        return "takes no parameters: see kx_market_seed, kx_market_hours";
    }

    /* the market module sets its main conf as ours */
    *conf = NULL;

    return NGX_CONF_OK;
}


ngx_int_t
kx_market_sim_add_zone(ngx_conf_t *cf, ngx_http_kx_market_main_conf_t *mmcf)
{
    ngx_str_t              name;
    kx_market_sim_zone_t  *ctx;

    ctx = ngx_pcalloc(cf->pool, sizeof(kx_market_sim_zone_t));
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    ctx->mmcf = mmcf;

    ngx_str_set(&name, "kx_market_sim");

    /* a kx_sim_t (~22 KB) and the slab pool's own pages */
    mmcf->sim_zone = ngx_shared_memory_add(cf, &name,
                                           8 * ngx_pagesize
                                           + 2 * sizeof(kx_sim_t),
                                           &ngx_http_kx_market_module);
    if (mmcf->sim_zone == NULL) {
        return NGX_ERROR;
    }

    mmcf->sim_zone->init = kx_market_sim_init_zone;
    mmcf->sim_zone->data = ctx;

    return NGX_OK;
}


static ngx_int_t
kx_market_sim_init_zone(ngx_shm_zone_t *zone, void *data)
{
    kx_market_sim_zone_t *octx = data;

    int64_t                          now;
    kx_sim_t                        *sim;
    ngx_slab_pool_t                 *shpool;
    kx_market_sim_zone_t            *ctx;
    ngx_http_kx_market_main_conf_t  *mmcf;

    ctx = zone->data;
    mmcf = ctx->mmcf;
    shpool = (ngx_slab_pool_t *) zone->shm.addr;

    now = kx_market_now(mmcf);

    if (octx) {
        /* reload: the market goes on, unless its seed or hours changed */
        ctx->sim = octx->sim;

        ngx_shmtx_lock(&shpool->mutex);

        if (ctx->sim->seed != (uint64_t) mmcf->seed
            || ctx->sim->hours != (kx_sim_hours_e) mmcf->hours)
        {
            (void) kx_sim_init(ctx->sim, (uint64_t) mmcf->seed,
                               (kx_sim_hours_e) mmcf->hours, now);
        }

        ngx_shmtx_unlock(&shpool->mutex);

        return NGX_OK;
    }

    if (zone->shm.exists) {
        ctx->sim = shpool->data;
        return NGX_OK;
    }

    sim = ngx_slab_alloc(shpool, sizeof(kx_sim_t));
    if (sim == NULL) {
        return NGX_ERROR;
    }

    if (kx_sim_init(sim, (uint64_t) mmcf->seed, (kx_sim_hours_e) mmcf->hours,
                    now)
        != KX_SIM_OK)
    {
        ngx_log_error(NGX_LOG_EMERG, zone->shm.log, 0,
                      "kx_market: the simulated market cannot start now");
        return NGX_ERROR;
    }

    shpool->data = sim;
    ctx->sim = sim;

    return NGX_OK;
}


static ngx_int_t
kx_market_sim_init_process(ngx_cycle_t *cycle, void *conf)
{
    ngx_http_kx_market_main_conf_t *mmcf = conf;

    kx_sim_t  *sim;

    /* ~22 KB: too big for a static in every process that never uses it */
    sim = ngx_alloc(sizeof(kx_sim_t), cycle->log);
    if (sim == NULL) {
        return NGX_ERROR;
    }

    ngx_time_update();

    if (kx_sim_init(sim, (uint64_t) mmcf->seed, (kx_sim_hours_e) mmcf->hours,
                    kx_market_now(mmcf))
        != KX_SIM_OK)
    {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "kx_market: the simulated market cannot start now");
        ngx_free(sim);
        return NGX_ERROR;
    }

    kx_market_sim_hist = sim;
    kx_market_sim_shared = mmcf->sim_zone ? mmcf->sim_zone->data : NULL;

    /* as kx_market_publish_init() decides in worker 0 */
    kx_market_sim_published = mmcf->publish_interval
                              && ngx_http_kx_io_redis_cycle(cycle) != NULL;

    return NGX_OK;
}


static void
kx_market_sim_exit_process(ngx_cycle_t *cycle, void *conf)
{
    if (kx_market_sim_hist) {
        ngx_free(kx_market_sim_hist);
        kx_market_sim_hist = NULL;
    }

    kx_market_sim_shared = NULL;
}


/*
 * A copy of the shared market's quote of sym.  The publisher keeps the
 * market fresh; when it has not ticked for two intervals (off, late,
 * or this is the only worker left serving) the reader ticks it.
 */
static void
kx_market_sim_live_quote(ngx_http_kx_market_main_conf_t *mmcf, unsigned sym,
    kx_market_quote_t *out)
{
    int64_t           now, stale;
    kx_sim_t         *sim;
    ngx_slab_pool_t  *shpool;

    sim = kx_market_sim_shared->sim;
    shpool = (ngx_slab_pool_t *) mmcf->sim_zone->shm.addr;

    now = kx_market_now(mmcf);
    stale = kx_market_sim_published ? 2 * (int64_t) mmcf->publish_interval
                                    : 0;

    ngx_shmtx_lock(&shpool->mutex);

    if (now > sim->now_ms + stale) {
        kx_sim_tick(sim, now);
    }

    *out = *kx_sim_quote(sim, sym);

    ngx_shmtx_unlock(&shpool->mutex);
}


static kx_market_call_t *
kx_market_sim_call(ngx_http_kx_market_main_conf_t *mmcf, kx_market_query_t *q,
    ngx_log_t *log, kx_market_done_pt done, void *data)
{
    kx_market_call_t  *call;

    call = ngx_calloc(sizeof(kx_market_call_t), log);
    if (call == NULL) {
        return NULL;
    }

    call->q = *q;
    call->done = done;
    call->data = data;
    call->log = log;
    call->latency = mmcf->sim_latency;

    call->ev.handler = kx_market_sim_complete;
    call->ev.data = call;
    call->ev.log = log;

    return call;
}


static kx_market_call_t *
kx_market_sim_quote(void *conf, kx_market_query_t *q, ngx_log_t *log,
    kx_market_done_pt done, void *data)
{
    ngx_http_kx_market_main_conf_t *mmcf = conf;

    kx_market_call_t  *call;

    if (kx_market_sim_shared == NULL || q->sym >= kx_symbols_count()) {
        return NULL;
    }

    call = kx_market_sim_call(mmcf, q, log, done, data);
    if (call == NULL) {
        return NULL;
    }

    kx_market_sim_live_quote(mmcf, q->sym, &call->quote);
    call->res.quote = &call->quote;

    kx_market_sim_finish(call);

    return call;
}


static kx_market_call_t *
kx_market_sim_news(void *conf, kx_market_query_t *q, ngx_log_t *log,
    kx_market_done_pt done, void *data)
{
    ngx_http_kx_market_main_conf_t *mmcf = conf;

    size_t             n;
    kx_market_call_t  *call;

    if (kx_market_sim_hist == NULL || q->limit == 0) {
        return NULL;
    }

    call = kx_market_sim_call(mmcf, q, log, done, data);
    if (call == NULL) {
        return NULL;
    }

    call->news = ngx_alloc(q->limit * sizeof(kx_market_news_t), log);
    if (call->news == NULL) {
        kx_market_sim_free(call);
        return NULL;
    }

    /* ~1,000 slots of a 180-day horizon: cheap enough for the loop */
    if (kx_sim_news(kx_market_sim_hist, q->sym, q->before_ms, call->news,
                    q->limit, &n)
        != KX_SIM_OK)
    {
        n = 0;
    }

    call->res.news = call->news;
    call->res.nnews = n;

    kx_market_sim_finish(call);

    return call;
}


static kx_market_call_t *
kx_market_sim_bars(void *conf, kx_market_query_t *q, ngx_log_t *log,
    kx_market_done_pt done, void *data)
{
    ngx_http_kx_market_main_conf_t *mmcf = conf;

    int64_t            minutes, bars;
    kx_market_call_t  *call;

    if (kx_market_sim_hist == NULL || q->limit == 0) {
        return NULL;
    }

    call = kx_market_sim_call(mmcf, q, log, done, data);
    if (call == NULL) {
        return NULL;
    }

    call->ring = ngx_alloc(q->limit * sizeof(kx_market_bar_t), log);
    call->out = ngx_alloc(q->limit * sizeof(kx_market_bar_t), log);
    call->chunk = ngx_alloc(KX_MARKET_SIM_CHUNK * sizeof(kx_market_bar_t),
                            log);

    if (call->ring == NULL || call->out == NULL || call->chunk == NULL) {
        kx_market_sim_free(call);
        return NULL;
    }

    /* what the path costs: one step per session minute the bars span */
    minutes = kx_sim_tf_ms(q->tf) / KX_MS_PER_MINUTE;
    if (mmcf->hours == KX_SIM_HOURS_NYSE) {
        minutes = ngx_min(minutes, 390);
    }

    bars = (int64_t) q->limit;
    if (q->has_from && q->to_ms > q->from_ms) {
        bars = ngx_min(bars, (q->to_ms - q->from_ms) / kx_sim_tf_ms(q->tf)
                             + 1);
    }

#if (NGX_THREADS)
    if (mmcf->thread_pool && bars * minutes > KX_MARKET_SIM_THREAD_MINUTES) {
        call->task.ctx = call;
        call->task.handler = kx_market_sim_thread;
        call->task.event.handler = kx_market_sim_thread_done;
        call->task.event.data = call;
        call->task.event.log = log;

        if (ngx_thread_task_post(mmcf->thread_pool, &call->task) != NGX_OK) {
            kx_market_sim_free(call);
            return NULL;
        }

        call->in_thread = 1;

        ngx_http_kx_metrics_count((ngx_cycle_t *) ngx_cycle,
                                  "kx_market_sim_thread_tasks_total", 1);

        /* a pending timer, so a graceful shutdown waits for the thread */
        call->wait.handler = kx_market_sim_thread_wait;
        call->wait.data = call;
        call->wait.log = log;
        ngx_add_timer(&call->wait, 60000);

        return call;
    }
#endif

    kx_market_sim_compute_bars(call);
    kx_market_sim_finish(call);

    return call;
}


/*
 * The bars of the query into call->res.  Bars come oldest first, so the
 * newest ones are found by guessing a window that holds enough of them,
 * keeping the last limit read in a ring, and doubling the window while
 * it falls short.  Always hours fill every slot; nyse sessions fill
 * about a sixth of the intraday slots and five days of seven.  Touches
 * only call and the immutable history sim: runs in a thread too.
 */
static void
kx_market_sim_compute_bars(kx_market_call_t *call)
{
    int                 rc;
    size_t              i, k, total, head, limit;
    int64_t             span, start, tf_ms, from, to;
    ngx_uint_t          try;
    const kx_sim_t     *sim;
    kx_market_query_t  *q;

    sim = kx_market_sim_hist;
    q = &call->q;
    limit = q->limit;
    from = q->from_ms;
    to = q->to_ms;

    call->res.bars = call->out;
    call->res.nbars = 0;

    if (q->has_from) {
        if (from >= to) {
            return;
        }

        rc = kx_sim_bars(sim, q->sym, q->tf, from, to, call->out, limit,
                         &call->res.nbars);
        if (rc != KX_SIM_OK && rc != KX_SIM_ETRUNC) {
            call->res.status = KX_MARKET_ERROR;
            call->res.detail = "bars out of range";
        }

        return;
    }

    if (to <= KX_SIM_MIN_MS) {
        return;
    }

    tf_ms = kx_sim_tf_ms(q->tf);
    span = (int64_t) limit * tf_ms + tf_ms;

    if (sim->hours == KX_SIM_HOURS_NYSE) {
        span = (q->tf == KX_SIM_TF_1D) ? span * 3 / 2 : span * 6;
        span += 7 * KX_MS_PER_DAY;
    }

    total = 0;

    for (try = 0; try < 12; try++) {
        start = (to - KX_SIM_MIN_MS > span) ? to - span : KX_SIM_MIN_MS;
        total = 0;

        for (k = 0, rc = KX_SIM_ETRUNC; rc == KX_SIM_ETRUNC; /* void */) {
            rc = kx_sim_bars(sim, q->sym, q->tf, start, to, call->chunk,
                             KX_MARKET_SIM_CHUNK, &k);
            if (rc != KX_SIM_OK && rc != KX_SIM_ETRUNC) {
                call->res.status = KX_MARKET_ERROR;
                call->res.detail = "bars out of range";
                return;
            }

            for (i = 0; i < k; i++) {
                call->ring[total++ % limit] = call->chunk[i];
            }

            if (k == 0) {
                break;
            }

            start = call->chunk[k - 1].t + 1;
        }

        if (total >= limit || to - KX_SIM_MIN_MS <= span) {
            break;
        }

        span *= 2;
    }

    if (total <= limit) {
        ngx_memcpy(call->out, call->ring, total * sizeof(kx_market_bar_t));
        call->res.nbars = total;
        return;
    }

    /* unroll the ring: its oldest entry is the next to be overwritten */
    head = total % limit;
    ngx_memcpy(call->out, call->ring + head,
               (limit - head) * sizeof(kx_market_bar_t));
    ngx_memcpy(call->out + (limit - head), call->ring,
               head * sizeof(kx_market_bar_t));

    call->res.nbars = limit;
}


#if (NGX_THREADS)

static void
kx_market_sim_thread(void *data, ngx_log_t *log)
{
    kx_market_sim_compute_bars(data);
}


static void
kx_market_sim_thread_done(ngx_event_t *ev)
{
    kx_market_call_t *call = ev->data;

    call->in_thread = 0;

    if (call->wait.timer_set) {
        ngx_del_timer(&call->wait);
    }

    if (call->cancelled) {
        kx_market_sim_free(call);
        return;
    }

    kx_market_sim_finish(call);
}


static void
kx_market_sim_thread_wait(ngx_event_t *ev)
{
    ngx_log_error(NGX_LOG_WARN, ev->log, 0,
                  "kx_market: a history computation waits for over 60 s");
}

#endif


/* the answer is ready: deliver it later, never from inside the call */
static void
kx_market_sim_finish(kx_market_call_t *call)
{
    if (call->latency) {
        /* an imitation of a remote provider; shutdown waits for it */
        ngx_add_timer(&call->ev, call->latency);
        return;
    }

    ngx_post_event(&call->ev, &ngx_posted_events);
}


static void
kx_market_sim_complete(ngx_event_t *ev)
{
    kx_market_call_t *call = ev->data;

    call->done(&call->res, call->data);

    kx_market_sim_free(call);
}


static void
kx_market_sim_cancel(kx_market_call_t *call)
{
    if (call->ev.timer_set) {
        ngx_del_timer(&call->ev);
    }

    if (call->ev.posted) {
        ngx_delete_posted_event(&call->ev);
    }

    if (call->in_thread) {
        /* the thread owns the buffers until it is done */
        call->cancelled = 1;
        return;
    }

    kx_market_sim_free(call);
}


static void
kx_market_sim_free(kx_market_call_t *call)
{
    if (call->ring) {
        ngx_free(call->ring);
    }

    if (call->out) {
        ngx_free(call->out);
    }

    if (call->chunk) {
        ngx_free(call->chunk);
    }

    if (call->news) {
        ngx_free(call->news);
    }

    ngx_free(call);
}


/* live quotes: the publisher's tick ticks the shared market */

static ngx_int_t
kx_market_sim_live_start(void *conf, ngx_cycle_t *cycle,
    kx_market_live_pt handler, void *data)
{
    if (kx_market_sim_shared == NULL) {
        return NGX_ERROR;
    }

    kx_market_sim_live_handler = handler;
    kx_market_sim_live_data = data;

    /* the first poll sends every quote */
    ngx_memzero(kx_market_sim_live_seq, sizeof(kx_market_sim_live_seq));

    return NGX_OK;
}


static void
kx_market_sim_live_poll(void *conf, int64_t now_ms)
{
    ngx_http_kx_market_main_conf_t *mmcf = conf;

    size_t              i, n, nsyms;
    kx_sim_t           *sim;
    ngx_slab_pool_t    *shpool;
    kx_market_quote_t   changed[KX_SIM_MAX_SYMBOLS];

    if (kx_market_sim_live_handler == NULL || kx_market_sim_shared == NULL) {
        return;
    }

    sim = kx_market_sim_shared->sim;
    shpool = (ngx_slab_pool_t *) mmcf->sim_zone->shm.addr;

    /* copy under the lock, hand out after it */
    ngx_shmtx_lock(&shpool->mutex);

    if (now_ms > sim->now_ms) {
        kx_sim_tick(sim, now_ms);
    }

    nsyms = sim->nsyms;

    for (i = 0, n = 0; i < nsyms; i++) {
        if (sim->s[i].q.seq != kx_market_sim_live_seq[i]) {
            kx_market_sim_live_seq[i] = sim->s[i].q.seq;
            changed[n++] = sim->s[i].q;
        }
    }

    ngx_shmtx_unlock(&shpool->mutex);

    for (i = 0; i < n; i++) {
        kx_market_sim_live_handler(&changed[i], kx_market_sim_live_data);
    }
}


static void
kx_market_sim_live_stop(void *conf)
{
    kx_market_sim_live_handler = NULL;
    kx_market_sim_live_data = NULL;
}
