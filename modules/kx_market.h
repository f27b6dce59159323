
/*
 * Copyright (C) Kianax
 *
 * Internals shared by the parts of ngx_http_kx_market_module: the
 * request handlers (ngx_http_kx_market_module.c), the Redis cache with
 * single flight (kx_market_cache.c), the quote publisher
 * (kx_market_publish.c) and the simulated market provider
 * (kx_market_sim.c).
 */


#ifndef _KX_MARKET_H_INCLUDED_
#define _KX_MARKET_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "kx_market_provider.h"
#include "kx_redis.h"
#include "core/kx_json.h"


/* the longest cache key the module builds */
#define KX_MARKET_KEY_MAX         160


typedef enum {
    KX_MARKET_KIND_QUOTE = 0,
    KX_MARKET_KIND_HISTORY,
    KX_MARKET_KIND_INDICATOR,
    KX_MARKET_KIND_NEWS,
    KX_MARKET_KINDS
} kx_market_kind_e;


typedef struct {
    ngx_int_t                 seed;
    ngx_uint_t                hours;
    ngx_uint_t                enabled;    /* some location has kx_market */

    kx_market_provider_t     *provider;
    void                     *provider_conf;

    ngx_msec_t                publish_interval;   /* 0: no publisher */
    ngx_msec_t                publish_lease;      /* 0: no lease */
    ngx_flag_t                cache;
    ngx_msec_t                cache_lock;         /* 0: no lock */
    ngx_msec_t                ttl[KX_MARKET_KINDS];
    ngx_msec_t                sim_latency;
    ngx_int_t                 clock_offset;       /* ms, signed */

    /*
     * "kx:mkt:<source>:", the start of every cache key: the source names
     * the provider (and the sim's seed and hours), so instances of other
     * markets sharing a Redis never read each other's answers.
     */
    ngx_str_t                 key_prefix;

    ngx_str_t                 thread_pool_name;
#if (NGX_THREADS)
    ngx_thread_pool_t        *thread_pool;
#endif

    ngx_shm_zone_t           *sim_zone;   /* the shared live market */
} ngx_http_kx_market_main_conf_t;


/* the market's clock: the wall clock moved by kx_market_clock_offset */
static ngx_inline int64_t
kx_market_now(ngx_http_kx_market_main_conf_t *mmcf)
{
    ngx_time_t  *tp;

    tp = ngx_timeofday();

    return (int64_t) tp->sec * 1000 + (int64_t) tp->msec
           + (int64_t) mmcf->clock_offset;
}


/*
 * What a cached read asks for: the Redis key, the provider query, and
 * how to turn the provider's result into the response body (render,
 * with the parameters an indicator needs).
 */
typedef struct kx_market_fetch_s  kx_market_fetch_t;

typedef ngx_int_t (*kx_market_render_pt)(kx_market_fetch_t *f,
    kx_market_result_t *res, kx_jw_t *w);

struct kx_market_fetch_s {
    kx_market_kind_e          kind;
    ngx_str_t                 key;
    kx_market_query_t         query;
    kx_market_render_pt       render;

    /* indicators */
    ngx_uint_t                ind;
    ngx_int_t                 limit;
    ngx_int_t                 period;
    ngx_int_t                 fast;
    ngx_int_t                 slow;
    ngx_int_t                 signal;
    kx_dec_t                  k;
};


/*
 * The answer of a cached read: status 200 with the body, or an error
 * status with a message.  body and msg live until the handler returns.
 */
typedef void (*kx_market_got_pt)(void *data, ngx_uint_t status,
    u_char *body, size_t len, const char *msg);

typedef struct kx_market_wait_s  kx_market_wait_t;


/* kx_market_cache.c */

/*
 * Redis first (GET key), else the provider: one call per key at a
 * time in this worker, whose result every waiter gets and Redis keeps
 * for the kind's TTL.  got() is never called from inside this call.
 * NULL: out of memory (got() is never called).
 */
kx_market_wait_t *kx_market_cache_get(ngx_http_kx_market_main_conf_t *mmcf,
    kx_market_fetch_t *f, ngx_log_t *log, kx_market_got_pt got,
    void *data);
void kx_market_cache_cancel(kx_market_wait_t *w);
void kx_market_cache_exit(void);

const char *kx_market_kind_name(kx_market_kind_e kind);
/* the counter series "<name>{kind=\"<kind>\"}" (static storage) */
void kx_market_count(const char *name, kx_market_kind_e kind);

/* "kx:mkt:sim-42-always:quote:AAPL": the body of GET /v1/quotes/AAPL */
#define KX_MARKET_QUOTE_KEY  "%Vquote:%s"


/* kx_market_publish.c: worker 0 only */
ngx_int_t kx_market_publish_init(ngx_cycle_t *cycle,
    ngx_http_kx_market_main_conf_t *mmcf);
void kx_market_publish_exit(void);

/* kx_market_lease.c: one publishing instance per Redis */
void kx_market_lease_init(ngx_cycle_t *cycle, ngx_msec_t ttl);
void kx_market_lease_exit(void);
ngx_uint_t kx_market_lease_check(kx_redis_t *rd);


/* kx_market_sim.c */
ngx_int_t kx_market_sim_add_zone(ngx_conf_t *cf,
    ngx_http_kx_market_main_conf_t *mmcf);
/* the per-worker sim for history and news (immutable after init) */
const kx_sim_t *kx_market_sim_history(void);


extern ngx_module_t  ngx_http_kx_market_module;


#endif /* _KX_MARKET_H_INCLUDED_ */
