
/*
 * Copyright (C) Kianax
 *
 * The publisher lease: of several market instances on one Redis, one
 * publishes quotes and session events (contracts C1, C2) at a time, so
 * that replicas can run side by side without doubling every quote.
 *
 * Worker 0's publisher asks at most every ttl/3, on its tick, with one
 * script: take  kx:market:publisher  if it is free, or extend it if it is
 * ours.  The owner is the instance (host name and master pid), so a
 * reload's new worker 0 keeps publishing at once.  It publishes while
 * the last "yes" is younger than ttl, counted on its own clock from when
 * it asked: a worker stalled past the lease stops before anybody else can
 * start.  A stopped instance is replaced within ttl + ttl/3.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_kx_io.h"
#include "kx_market.h"


#define KX_LEASE_KEY  "kx:market:publisher"

/* free or ours: (re)take it for ttl ms; 1 if we hold it now */
#define KX_LEASE_LUA                                                         \
    "local v = redis.call('GET', KEYS[1]) "                                  \
    "if v == false or v == ARGV[1] then "                                    \
    "redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end "       \
    "return 0"


static void kx_market_lease_done(kx_redis_status_e status,
    redisReply *reply, void *data);


static ngx_msec_t       kx_lease_ttl;
static ngx_msec_t       kx_lease_asked;      /* when the pending ask left */
static ngx_msec_t       kx_lease_until;      /* held until (our clock) */
static ngx_msec_t       kx_lease_next;       /* next ask, not before */
static ngx_uint_t       kx_lease_held;
static ngx_uint_t       kx_lease_known;      /* an answer came */
static kx_redis_cmd_t  *kx_lease_cmd;
static u_char           kx_lease_owner[NGX_MAXHOSTNAMELEN + NGX_INT64_LEN + 2];
static size_t           kx_lease_owner_len;


void
kx_market_lease_init(ngx_cycle_t *cycle, ngx_msec_t ttl)
{
    ngx_pid_t  master;

    kx_lease_ttl = ttl;
    kx_lease_held = 0;
    kx_lease_known = 0;
    kx_lease_until = 0;
    kx_lease_next = 0;
    kx_lease_cmd = NULL;

    master = (ngx_process == NGX_PROCESS_WORKER) ? ngx_parent : ngx_pid;

    kx_lease_owner_len = ngx_snprintf(kx_lease_owner,
                                      sizeof(kx_lease_owner), "%V:%P",
                                      &cycle->hostname, master)
                         - kx_lease_owner;
}


void
kx_market_lease_exit(void)
{
    if (kx_lease_cmd) {
        kx_redis_cancel(kx_lease_cmd);
        kx_lease_cmd = NULL;
    }

    kx_lease_held = 0;
}


/* on each publisher tick: may this instance publish now? */
ngx_uint_t
kx_market_lease_check(kx_redis_t *rd)
{
    ngx_str_t   args[6];
    u_char      ttl[NGX_INT_T_LEN];

    if (kx_lease_ttl == 0) {
        return 1;                       /* kx_market_publish_lease off */
    }

    if (kx_lease_held && (ngx_msec_int_t) (ngx_current_msec - kx_lease_until)
                         >= 0)
    {
        ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                      "kx_market: publisher lease not renewed in time, "
                      "not publishing");
        kx_lease_held = 0;
    }

    if (kx_lease_cmd == NULL && rd && kx_redis_available(rd)
        && (ngx_msec_int_t) (ngx_current_msec - kx_lease_next) >= 0)
    {
        ngx_str_set(&args[0], "EVAL");
        ngx_str_set(&args[1], KX_LEASE_LUA);
        ngx_str_set(&args[2], "1");
        ngx_str_set(&args[3], KX_LEASE_KEY);
        args[4].data = kx_lease_owner;
        args[4].len = kx_lease_owner_len;
        args[5].data = ttl;
        args[5].len = ngx_sprintf(ttl, "%M", kx_lease_ttl) - ttl;

        kx_lease_asked = ngx_current_msec;
        kx_lease_next = kx_lease_asked + kx_lease_ttl / 3;
        kx_lease_cmd = kx_redis_command(rd, args, 6, 0,
                                        kx_market_lease_done, NULL);
    }

    return kx_lease_held;
}


static void
kx_market_lease_done(kx_redis_status_e status, redisReply *reply,
    void *data)
{
    ngx_uint_t  held;

    kx_lease_cmd = NULL;

    if (status != KX_REDIS_OK || reply == NULL
        || reply->type != REDIS_REPLY_INTEGER)
    {
        /* unknown: what we hold runs out by itself; ask again soon */
        return;
    }

    held = (reply->integer == 1);

    if (held != kx_lease_held || !kx_lease_known) {
        ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                      held ? "kx_market: this instance publishes quotes"
                           : "kx_market: another instance publishes quotes");
    }

    kx_lease_held = held;
    kx_lease_known = 1;

    if (held) {
        kx_lease_until = kx_lease_asked + kx_lease_ttl;
    }
}
