
/*
 * Copyright (C) Kianax
 *
 * Per-user rate limits with named policies (src/gateway/kx_gcra.c).
 *
 * A policy counts in one of two places:
 *   - local: a shared-memory zone of this instance (rbtree + LRU queue,
 *     the shape of ngx_http_limit_req_module);
 *   - redis: a Lua GCRA over Redis' clock, so every gateway replica
 *     spends one budget; when Redis fails the policy fails open or
 *     closed, as configured.
 *
 * Redis checks are batched: every check that arrives in one turn of the
 * event loop waits in a queue, and a posted event sends them all as ONE
 * script call that takes the keys in arrival order, atomically.  Running
 * a script costs Redis far more than the few GET/SET in it, so a busy
 * worker pays that once per turn instead of once per request, while the
 * answers are exactly those of one call per check, back to back.
 *
 * Leases (lease=N, redis mode): a key that a worker sees more than once
 * in a lease's lifetime may be handed up to N tokens at once with its
 * checks, at most half of what its bucket still holds; the worker spends
 * them without asking Redis for KX_RL_LEASE_TTL, then gives back what is
 * left.  The budget is never exceeded: Redis counts leased tokens as
 * spent.  Nor is a request refused early: while tokens are out on lease,
 * a check that finds the bucket empty is asked again once they are back
 * (or their lease has run out), rather than refused.  So the answers stay
 * exactly those of one check at a time, and a hot key costs one call per
 * N requests instead of one per turn.
 *
 * The handler runs in the access phase after kx_jwt (the config script
 * registers this module first, and access handlers run in reverse), so
 * a key of $kx_jwt_sub sees the verified subject.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_kx.h"
#include "ngx_http_kx_io.h"
#include "gateway/kx_gcra.h"

#include <openssl/evp.h>


#define KX_RL_KEY_MAX     256
#define KX_RL_NAME_MAX    64
#define KX_RL_MAX_POLICY  8
#define KX_RL_RKEY_MAX    (sizeof("kx:rl::") - 1 + KX_RL_NAME_MAX            \
                           + KX_RL_KEY_MAX)

#define KX_RL_LOCAL       0
#define KX_RL_REDIS       1

/*
 * A script call carries at most KX_RL_BATCH_MAX checks and
 * KX_RL_RETURN_MAX returns: at worst 3 + 5 * 144 + 4 * 2 * KX_RL_ZONE_MAX
 * = 979 arguments (a key and 4 numbers per entry, 4 per policy group, a
 * policy in at most two groups: its checks' and its returns'), under
 * kx_redis' 1024.
 */
#define KX_RL_BATCH_MAX   128
#define KX_RL_RETURN_MAX  16
#define KX_RL_ENTRY_MAX   (KX_RL_BATCH_MAX + KX_RL_RETURN_MAX)
#define KX_RL_ZONE_MAX    32

/* a lease is spent within 50 ms, or what is left goes back */
#define KX_RL_LEASE_TTL   50000
#define KX_RL_LEASE_TTL_TEXT  "50000"
#define KX_RL_LEASE_KEYS  4096
#define KX_RL_LEASE_MAX   100000


typedef struct {
    ngx_rbtree_t        rbtree;
    ngx_rbtree_node_t   sentinel;
    ngx_queue_t         queue;          /* LRU: most recent at the head */
} ngx_http_kx_rl_shctx_t;


typedef struct {
    ngx_rbtree_node_t   node;           /* key: crc32 of the key */
    ngx_queue_t         queue;
    int64_t             tat;
    u_short             len;
    u_char              data[1];
} ngx_http_kx_rl_node_t;


typedef struct {
    ngx_str_t                   name;
    ngx_http_complex_value_t    key;
    kx_gcra_t                   gcra;
    ngx_uint_t                  mode;
    ngx_flag_t                  fail_open;
    ngx_str_t                   interval;   /* the script's ARGV, as text */
    ngx_str_t                   limit;
    ngx_uint_t                  lease;      /* tokens per lease; 0: none */
    ngx_shm_zone_t             *shm_zone;
    ngx_http_kx_rl_shctx_t     *sh;
    ngx_slab_pool_t            *shpool;
} ngx_http_kx_rl_policy_t;


typedef struct {
    ngx_array_t                 policies;   /* of ngx_http_kx_rl_policy_t * */
} ngx_http_kx_rl_main_conf_t;


typedef struct {
    ngx_array_t                *limits;     /* of ngx_http_kx_rl_policy_t * */
    ngx_flag_t                  headers;
} ngx_http_kx_rl_loc_conf_t;


typedef struct ngx_http_kx_rl_ctx_s    ngx_http_kx_rl_ctx_t;
typedef struct ngx_http_kx_rl_batch_s  ngx_http_kx_rl_batch_t;


/* a key this worker checked lately, and the tokens it holds on lease */
typedef struct {
    ngx_str_node_t              sn;         /* its Redis key, the lookup */
    ngx_queue_t                 queue;      /* LRU: most recent at the head */
    ngx_queue_t                 rqueue;     /* waiting to give tokens back */
    ngx_http_kx_rl_policy_t    *policy;
    int64_t                     seen;       /* its last check, local us */
    int64_t                     deadline;   /* spend before, local us */
    int64_t                     got;        /* the grant's arrival */
    int64_t                     used;       /* what its first token saw */
    ngx_uint_t                  out;        /* on lease, in Redis' count */
    ngx_uint_t                  granted;    /* the lease in hand: tokens */
    ngx_uint_t                  left;       /* of them, not spent yet */
    unsigned                    busy:1;     /* a call in flight names it */
    unsigned                    returning:1;    /* in the returns queue */
    unsigned                    renew:1;    /* there to be topped up */
    unsigned                    full:1;     /* the last grant was lease= */
} ngx_http_kx_rl_lease_t;

typedef struct {
    ngx_queue_t                 queue;      /* waiting for the next batch */
    ngx_http_kx_rl_ctx_t       *ctx;
    ngx_http_kx_rl_policy_t    *policy;
    ngx_http_kx_rl_batch_t     *batch;      /* sent: waiting for its answer */
    ngx_uint_t                  slot;       /* in batch->checks */
    ngx_uint_t                  entry;      /* its key's in the script */
    ngx_uint_t                  nth;        /* of that key's, from 0 */
    ngx_str_t                   key;        /* in the request's pool */
    ngx_uint_t                  queued;
    ngx_uint_t                  done;
    ngx_uint_t                  failed;
    ngx_uint_t                  hot;        /* its key was seen lately */
    int64_t                     defer;      /* ask again after, us */
    ngx_uint_t                  deferred;   /* times it was */
    ngx_event_t                 retry;
    kx_gcra_result_t            res;
} ngx_http_kx_rl_check_t;


/* one key of a script call: its checks, or only a lease given back */
typedef struct {
    ngx_http_kx_rl_policy_t    *policy;
    ngx_http_kx_rl_check_t     *first;      /* NULL: a return only */
    ngx_http_kx_rl_lease_t     *lease;
    uint32_t                    hash;
    ngx_uint_t                  count;
    ngx_uint_t                  hot;
    ngx_uint_t                  want;
    ngx_uint_t                  renew;
    ngx_uint_t                  ret_granted;
    ngx_uint_t                  ret_left;
} ngx_http_kx_rl_entry_t;


/* one script call; its memory holds everything it sends */
struct ngx_http_kx_rl_batch_s {
    kx_redis_t                 *rd;
    kx_redis_cmd_t             *cmd;
    ngx_uint_t                  n;
    ngx_uint_t                  nkeys;      /* distinct: the answers */
    ngx_uint_t                  live;       /* checks whose request waits */
    ngx_http_kx_rl_check_t    **checks;     /* NULL: its request went away */
    ngx_http_kx_rl_lease_t    **leases;     /* per key: a lease it names */
    ngx_uint_t                 *counts;     /* per key: its checks */
    ngx_str_t                  *args;       /* EVALSHA, or EVAL on NOSCRIPT */
    ngx_uint_t                  nargs;
    int64_t                     sent;
};


struct ngx_http_kx_rl_ctx_s {
    ngx_http_request_t         *request;
    ngx_uint_t                  nchecks;
    ngx_uint_t                  pending;
    ngx_uint_t                  started;
    ngx_uint_t                  finished;
    ngx_http_kx_rl_check_t      checks[KX_RL_MAX_POLICY];
};


static ngx_int_t ngx_http_kx_rl_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_kx_rl_start(ngx_http_request_t *r,
    ngx_http_kx_rl_loc_conf_t *rlcf, ngx_http_kx_rl_ctx_t *ctx);
static void ngx_http_kx_rl_local(ngx_http_kx_rl_policy_t *p, ngx_str_t *key,
    kx_gcra_result_t *res);
static ngx_http_kx_rl_node_t *ngx_http_kx_rl_lookup(
    ngx_http_kx_rl_policy_t *p, ngx_str_t *key, uint32_t hash);
static void ngx_http_kx_rl_expire(ngx_http_kx_rl_policy_t *p, int64_t now,
    ngx_uint_t n);
static void ngx_http_kx_rl_enqueue(ngx_http_kx_rl_check_t *chk,
    kx_redis_t *rd);
static ngx_str_t ngx_http_kx_rl_rkey(ngx_http_kx_rl_policy_t *p,
    ngx_str_t *key, u_char *buf);
static ngx_http_kx_rl_lease_t *ngx_http_kx_rl_lease_find(ngx_str_t *rkey,
    uint32_t hash);
static ngx_uint_t ngx_http_kx_rl_lease_try(ngx_http_kx_rl_check_t *chk,
    ngx_uint_t first);
static ngx_http_kx_rl_lease_t *ngx_http_kx_rl_lease_add(
    ngx_http_kx_rl_policy_t *p, ngx_str_t *rkey, uint32_t hash, int64_t now);
static void ngx_http_kx_rl_lease_touch(ngx_http_kx_rl_lease_t *le,
    int64_t now);
static void ngx_http_kx_rl_lease_free(ngx_http_kx_rl_lease_t *le);
static void ngx_http_kx_rl_lease_entry(ngx_http_kx_rl_entry_t *ent,
    ngx_str_t *rkey, int64_t now);
static void ngx_http_kx_rl_tick(ngx_event_t *ev);
static void ngx_http_kx_rl_tick_arm(void);
static ngx_uint_t ngx_http_kx_rl_batch_leases(ngx_http_kx_rl_batch_t *b);
static ngx_int_t ngx_http_kx_rl_init_process(ngx_cycle_t *cycle);
static void ngx_http_kx_rl_flush(ngx_event_t *ev);
static void ngx_http_kx_rl_send(void);
static u_char *ngx_http_kx_rl_arg(ngx_str_t *arg, u_char *p, ngx_uint_t n);
static ngx_http_kx_rl_batch_t *ngx_http_kx_rl_batch(ngx_uint_t n,
    ngx_uint_t nkeys, ngx_uint_t groups, size_t keys);
static void ngx_http_kx_rl_defer(ngx_http_kx_rl_check_t *chk);
static void ngx_http_kx_rl_retry(ngx_event_t *ev);
static void ngx_http_kx_rl_batch_done(kx_redis_status_e status,
    redisReply *reply, void *data);
static void ngx_http_kx_rl_answered(void);
static void ngx_http_kx_rl_resume(ngx_http_kx_rl_check_t *chk);
static ngx_int_t ngx_http_kx_rl_finish(ngx_http_request_t *r,
    ngx_http_kx_rl_loc_conf_t *rlcf, ngx_http_kx_rl_ctx_t *ctx);
static ngx_int_t ngx_http_kx_rl_headers(ngx_http_request_t *r,
    ngx_int_t limit, kx_gcra_result_t *res);
static ngx_int_t ngx_http_kx_rl_header(ngx_http_request_t *r,
    const char *name, int64_t value);
static void ngx_http_kx_rl_cleanup(void *data);
static int64_t ngx_http_kx_rl_now(void);
static void ngx_http_kx_rl_rbtree_insert(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel);
static ngx_int_t ngx_http_kx_rl_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static ngx_http_kx_rl_policy_t *ngx_http_kx_rl_find(
    ngx_http_kx_rl_main_conf_t *rlmcf, ngx_str_t *name);
static char *ngx_http_kx_rl_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_kx_rl(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static void *ngx_http_kx_rl_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_kx_rl_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_kx_rl_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_int_t ngx_http_kx_rl_init(ngx_conf_t *cf);


static ngx_command_t  ngx_http_kx_rl_commands[] = {

    { ngx_string("kx_rate_limit_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_2MORE,
      ngx_http_kx_rl_zone,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("kx_rate_limit"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_kx_rl,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("kx_rate_limit_headers"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_kx_rl_loc_conf_t, headers),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_kx_rate_limit_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_http_kx_rl_init,                   /* postconfiguration */

    ngx_http_kx_rl_create_main_conf,       /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_kx_rl_create_loc_conf,        /* create location configuration */
    ngx_http_kx_rl_merge_loc_conf          /* merge location configuration */
};


ngx_module_t  ngx_http_kx_rate_limit_module = {
    NGX_MODULE_V1,
    &ngx_http_kx_rate_limit_module_ctx,    /* module context */
    ngx_http_kx_rl_commands,               /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_kx_rl_init_process,           /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


/*
 * kx_gcra_take() for every check of a batch, on Redis' clock so replicas
 * agree on time, in one atomic call.  KEYS: the buckets, grouped by
 * policy.  ARGV: for each group its number of keys, interval, limit
 * (burst * interval) and lease lifetime, microseconds; then for each key
 * of it four numbers: its checks, in the batch's arrival order; the lease
 * wanted; and a lease given back: its size and what is left of it.
 * Returns three numbers per key:
 *   - used = max(TAT, now) + interval - now, as its first check saw it,
 *     the one number kx_gcra_decide() needs; the module derives the
 *     others' (kx_gcra_used_nth) and the script spends what they took
 *     (kx_gcra_count);
 *   - the tokens leased, after the checks, only when they all passed,
 *     at most half of what the bucket still holds;
 *   - when a check was refused while tokens were out on lease: the
 *     microseconds until those leases are back or void, to ask again.
 * A bucket is "TAT" or "TAT outstanding expiry"; leases left unreturned
 * a lifetime past their expiry count as spent.  A hot key costs one GET
 * and one SET however many of its requests a call carries.
 */
/* EVALSHA with the script's SHA-1 saves sending it with every call */
static u_char  ngx_http_kx_rl_script_sha[41];

static ngx_str_t  ngx_http_kx_rl_script = ngx_string(
    "local t = redis.call('TIME') "
    "local now = t[1] * 1000000 + t[2] "
    "local out, i, g = {}, 0, 1 "
    "while g <= #ARGV do "
    "  local nk = tonumber(ARGV[g]) "
    "  local iv = tonumber(ARGV[g + 1]) "
    "  local limit = tonumber(ARGV[g + 2]) "
    "  local ttl = tonumber(ARGV[g + 3]) "
    "  g = g + 4 "
    "  for _ = 1, nk do "
    "    i = i + 1 "
    "    local c = tonumber(ARGV[g]) "
    "    local want = tonumber(ARGV[g + 1]) "
    "    local rg = tonumber(ARGV[g + 2]) "
    "    local ru = tonumber(ARGV[g + 3]) "
    "    g = g + 4 "
    "    local s = redis.call('GET', KEYS[i]) "
    "    local v, o, e = 0, 0, 0 "
    "    if s then "
    "      local a, b, d = string.match(s, '^(%d+) (%d+) (%d+)$') "
    "      if a then v, o, e = tonumber(a), tonumber(b), tonumber(d) "
    "      else v = tonumber(s) or 0 end "
    "    end "
    "    if o > 0 and now >= e + ttl then o = 0 end "
    "    local dirty = false "
    "    if rg > 0 then "
    "      o = o - rg "
    "      if o < 0 then o = 0 end "
    "      v = v - ru * iv "
    "      dirty = true "
    "    end "
    "    if v < now then v = now end "
    "    local used = v + iv - now "
    "    local n, lease, defer = 0, 0, 0 "
    "    if used <= limit then "
    "      n = math.floor((limit - used) / iv) + 1 "
    "      if used + (n - 1) * iv > limit then n = n - 1 end "
    "      if n > c then n = c end "
    "    end "
    "    if n < c then "
    "      if o > 0 then defer = e + ttl - now end "
    "    elseif want > 0 then "
    "      local u = used + n * iv "
    "      if u <= limit then "
    "        local f = math.floor((limit - u) / iv) + 1 "
    "        if u + (f - 1) * iv > limit then f = f - 1 end "
    "        lease = math.floor(f / 2) "
    "        if lease > want then lease = want end "
    "        if lease > 0 then "
    "          o = o + lease "
    "          if e < now + ttl then e = now + ttl end "
    "        end "
    "      end "
    "    end "
    "    if n + lease > 0 or dirty then "
    "      v = v + (n + lease) * iv "
    "      local px = v - now "
    "      if o > 0 then "
    "        if e + ttl - now > px then px = e + ttl - now end "
    "        redis.call('SET', KEYS[i], string.format('%.0f %.0f %.0f', "
    "                   v, o, e), 'PX', math.floor(px / 1000) + 1) "
    "      else "
    "        redis.call('SET', KEYS[i], string.format('%.0f', v), 'PX', "
    "                   math.floor(px / 1000) + 1) "
    "      end "
    "    end "
    "    out[3 * i - 2] = used "
    "    out[3 * i - 1] = lease "
    "    out[3 * i] = defer "
    "  end "
    "end "
    "return out");


/* this worker's checks waiting for the end of the event loop's turn */
static ngx_queue_t  ngx_http_kx_rl_queue;
static kx_redis_t  *ngx_http_kx_rl_queue_rd;
static ngx_event_t  ngx_http_kx_rl_flush_event;
static ngx_uint_t   ngx_http_kx_rl_inflight;

/* the keys this worker checked lately, their leases, and the lease clock */
static ngx_rbtree_t       ngx_http_kx_rl_leases;
static ngx_rbtree_node_t  ngx_http_kx_rl_leases_sentinel;
static ngx_queue_t        ngx_http_kx_rl_lru;
static ngx_queue_t        ngx_http_kx_rl_returns;
static ngx_uint_t         ngx_http_kx_rl_nleases;
static ngx_event_t        ngx_http_kx_rl_tick_event;


static ngx_int_t
ngx_http_kx_rl_handler(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t         *cln;
    ngx_http_kx_rl_ctx_t       *ctx;
    ngx_http_kx_rl_loc_conf_t  *rlcf;

    rlcf = ngx_http_get_module_loc_conf(r, ngx_http_kx_rate_limit_module);

    if (rlcf->limits == NULL || rlcf->limits->nelts == 0 || r != r->main) {
        return NGX_DECLINED;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_kx_rate_limit_module);

    if (ctx) {
        if (ctx->finished) {
            return NGX_DECLINED;
        }

        if (ctx->pending) {
            return NGX_AGAIN;
        }

        return ngx_http_kx_rl_finish(r, rlcf, ctx);
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_kx_rl_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* a request that goes away while Redis answers cancels the command */
    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln->handler = ngx_http_kx_rl_cleanup;
    cln->data = ctx;

    ctx->request = r;
    ngx_http_set_ctx(r, ctx, ngx_http_kx_rate_limit_module);

    if (ngx_http_kx_rl_start(r, rlcf, ctx) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ctx->pending) {
        return NGX_AGAIN;
    }

    return ngx_http_kx_rl_finish(r, rlcf, ctx);
}


static ngx_int_t
ngx_http_kx_rl_start(ngx_http_request_t *r, ngx_http_kx_rl_loc_conf_t *rlcf,
    ngx_http_kx_rl_ctx_t *ctx)
{
    ngx_str_t                  key;
    ngx_uint_t                 i;
    kx_redis_t                *rd;
    ngx_http_kx_rl_check_t    *chk;
    ngx_http_kx_rl_policy_t  **lim;

    lim = rlcf->limits->elts;
    rd = NULL;

    for (i = 0; i < rlcf->limits->nelts; i++) {

        if (ngx_http_complex_value(r, &lim[i]->key, &key) != NGX_OK) {
            return NGX_ERROR;
        }

        /* an empty key is not limited, as with limit_req */
        if (key.len == 0) {
            continue;
        }

        if (key.len > KX_RL_KEY_MAX) {
            key.len = KX_RL_KEY_MAX;
        }

        chk = &ctx->checks[ctx->nchecks++];
        chk->ctx = ctx;
        chk->policy = lim[i];

        if (lim[i]->mode == KX_RL_LOCAL) {
            ngx_http_kx_rl_local(lim[i], &key, &chk->res);
            chk->done = 1;
            continue;
        }

        chk->key = key;

        if (lim[i]->lease && ngx_http_kx_rl_lease_try(chk, 1)) {
            chk->done = 1;
            continue;
        }

        if (rd == NULL) {
            rd = ngx_http_kx_io_redis(r);
        }

        if (rd == NULL || !kx_redis_available(rd)) {
            chk->done = 1;
            chk->failed = 1;
            continue;
        }

        ngx_http_kx_rl_enqueue(chk, rd);

        ctx->pending++;
    }

    ctx->started = 1;

    return NGX_OK;
}


static void
ngx_http_kx_rl_local(ngx_http_kx_rl_policy_t *p, ngx_str_t *key,
    kx_gcra_result_t *res)
{
    size_t                  size;
    int64_t                 now;
    uint32_t                hash;
    ngx_http_kx_rl_node_t  *n;

    now = ngx_http_kx_rl_now();
    hash = ngx_crc32_short(key->data, key->len);

    ngx_shmtx_lock(&p->shpool->mutex);

    /* keys whose bucket refilled carry no state: drop a couple each time */
    ngx_http_kx_rl_expire(p, now, 2);

    n = ngx_http_kx_rl_lookup(p, key, hash);

    if (n) {
        kx_gcra_take(&p->gcra, n->tat, now, res);

        if (res->allowed) {
            n->tat = res->tat;
        }

        ngx_queue_remove(&n->queue);
        ngx_queue_insert_head(&p->sh->queue, &n->queue);

        ngx_shmtx_unlock(&p->shpool->mutex);
        return;
    }

    kx_gcra_take(&p->gcra, 0, now, res);

    size = offsetof(ngx_http_kx_rl_node_t, data) + key->len;

    n = ngx_slab_alloc_locked(p->shpool, size);
    if (n == NULL) {
        /* full: forget the least recently seen keys to make room */
        ngx_http_kx_rl_expire(p, INT64_MAX, 16);
        n = ngx_slab_alloc_locked(p->shpool, size);
    }

    if (n) {
        n->node.key = hash;
        n->tat = res->tat;
        n->len = (u_short) key->len;
        ngx_memcpy(n->data, key->data, key->len);
        ngx_rbtree_insert(&p->sh->rbtree, &n->node);
        ngx_queue_insert_head(&p->sh->queue, &n->queue);
    }

    ngx_shmtx_unlock(&p->shpool->mutex);
}


static ngx_http_kx_rl_node_t *
ngx_http_kx_rl_lookup(ngx_http_kx_rl_policy_t *p, ngx_str_t *key,
    uint32_t hash)
{
    ngx_int_t               rc;
    ngx_rbtree_node_t      *node, *sentinel;
    ngx_http_kx_rl_node_t  *n;

    node = p->sh->rbtree.root;
    sentinel = p->sh->rbtree.sentinel;

    while (node != sentinel) {

        if (hash != node->key) {
            node = (hash < node->key) ? node->left : node->right;
            continue;
        }

        n = (ngx_http_kx_rl_node_t *) node;

        rc = ngx_memn2cmp(key->data, n->data, key->len, (size_t) n->len);

        if (rc == 0) {
            return n;
        }

        node = (rc < 0) ? node->left : node->right;
    }

    return NULL;
}


static void
ngx_http_kx_rl_expire(ngx_http_kx_rl_policy_t *p, int64_t now, ngx_uint_t n)
{
    ngx_queue_t            *q;
    ngx_http_kx_rl_node_t  *node;

    while (n--) {
        if (ngx_queue_empty(&p->sh->queue)) {
            return;
        }

        q = ngx_queue_last(&p->sh->queue);
        node = ngx_queue_data(q, ngx_http_kx_rl_node_t, queue);

        if (node->tat > now) {
            return;
        }

        ngx_queue_remove(q);
        ngx_rbtree_delete(&p->sh->rbtree, &node->node);
        ngx_slab_free_locked(p->shpool, node);
    }
}


/* the bucket's name in Redis: kx:rl:<policy>:<key> */

static ngx_str_t
ngx_http_kx_rl_rkey(ngx_http_kx_rl_policy_t *p, ngx_str_t *key, u_char *buf)
{
    ngx_str_t  s;

    s.data = buf;
    s.len = ngx_sprintf(buf, "kx:rl:%V:%V", &p->name, key) - buf;

    return s;
}


static ngx_http_kx_rl_lease_t *
ngx_http_kx_rl_lease_find(ngx_str_t *rkey, uint32_t hash)
{
    return (ngx_http_kx_rl_lease_t *)
               ngx_str_rbtree_lookup(&ngx_http_kx_rl_leases, rkey, hash);
}


/*
 * A token of the check's key's lease, if this worker holds one: 1, with
 * the check answered.  first: the check is new, so it counts towards
 * whether its key is hot (seen twice within a lease's lifetime).
 */

static ngx_uint_t
ngx_http_kx_rl_lease_try(ngx_http_kx_rl_check_t *chk, ngx_uint_t first)
{
    u_char                   buf[KX_RL_RKEY_MAX];
    int64_t                  now;
    ngx_str_t                rkey;
    ngx_http_kx_rl_lease_t  *le;
    ngx_http_kx_rl_policy_t  *p;

    p = chk->policy;
    rkey = ngx_http_kx_rl_rkey(p, &chk->key, buf);

    le = ngx_http_kx_rl_lease_find(&rkey,
                                   ngx_crc32_short(rkey.data, rkey.len));
    if (le == NULL) {
        return 0;
    }

    now = ngx_http_kx_rl_now();

    if (le->left == 0 || now >= le->deadline) {
        if (first) {
            chk->hot = (now - le->seen < KX_RL_LEASE_TTL);
            ngx_http_kx_rl_lease_touch(le, now);
        }

        return 0;
    }

    /* the token was spent in Redis at the grant: it passes */
    kx_gcra_decide(&p->gcra,
                   kx_gcra_lease_used(&p->gcra, le->used,
                                      le->granted - le->left, now - le->got),
                   &chk->res);

    chk->res.allowed = 1;
    chk->res.retry_after = 0;

    le->left--;
    ngx_http_kx_rl_lease_touch(le, now);

    /*
     * half spent: ask for more now, so the key never waits for Redis; not
     * when the last grant fell short, the bucket is running low
     */
    if (le->full && 2 * le->left <= p->lease && !le->busy
        && !le->returning)
    {
        ngx_queue_insert_tail(&ngx_http_kx_rl_returns, &le->rqueue);
        le->returning = 1;
        le->renew = 1;

        if (!ngx_http_kx_rl_flush_event.posted) {
            ngx_post_event(&ngx_http_kx_rl_flush_event, &ngx_posted_events);
        }
    }

    return 1;
}


/* a key seen now: the most recent of the LRU */

static void
ngx_http_kx_rl_lease_touch(ngx_http_kx_rl_lease_t *le, int64_t now)
{
    le->seen = now;
    ngx_queue_remove(&le->queue);
    ngx_queue_insert_head(&ngx_http_kx_rl_lru, &le->queue);
}


static ngx_http_kx_rl_lease_t *
ngx_http_kx_rl_lease_add(ngx_http_kx_rl_policy_t *p, ngx_str_t *rkey,
    uint32_t hash, int64_t now)
{
    ngx_queue_t             *q;
    ngx_http_kx_rl_lease_t  *le;

    if (ngx_http_kx_rl_nleases >= KX_RL_LEASE_KEYS) {
        /* full: forget the least recently seen key, if it holds nothing */
        q = ngx_queue_last(&ngx_http_kx_rl_lru);
        le = ngx_queue_data(q, ngx_http_kx_rl_lease_t, queue);

        if (le->busy || le->out || le->returning) {
            return NULL;
        }

        ngx_http_kx_rl_lease_free(le);
    }

    le = ngx_alloc(sizeof(ngx_http_kx_rl_lease_t) + rkey->len,
                   ngx_cycle->log);
    if (le == NULL) {
        return NULL;
    }

    ngx_memzero(le, sizeof(ngx_http_kx_rl_lease_t));

    le->sn.node.key = hash;
    le->sn.str.len = rkey->len;
    le->sn.str.data = (u_char *) (le + 1);
    ngx_memcpy(le->sn.str.data, rkey->data, rkey->len);

    le->policy = p;
    le->seen = now;

    ngx_rbtree_insert(&ngx_http_kx_rl_leases, &le->sn.node);
    ngx_queue_insert_head(&ngx_http_kx_rl_lru, &le->queue);
    ngx_http_kx_rl_nleases++;

    ngx_http_kx_rl_tick_arm();

    return le;
}


static void
ngx_http_kx_rl_lease_free(ngx_http_kx_rl_lease_t *le)
{
    ngx_rbtree_delete(&ngx_http_kx_rl_leases, &le->sn.node);
    ngx_queue_remove(&le->queue);
    ngx_http_kx_rl_nleases--;
    ngx_free(le);
}


/*
 * The lease clock, twice per lifetime while keys are remembered: lapsed
 * leases go back (by the next call), keys quiet for two lifetimes are
 * forgotten.
 */

static void
ngx_http_kx_rl_tick(ngx_event_t *ev)
{
    int64_t                  now;
    ngx_queue_t             *q, *prev;
    ngx_http_kx_rl_lease_t  *le;

    now = ngx_http_kx_rl_now();

    for (q = ngx_queue_last(&ngx_http_kx_rl_lru);
         q != ngx_queue_sentinel(&ngx_http_kx_rl_lru);
         q = prev)
    {
        prev = ngx_queue_prev(q);
        le = ngx_queue_data(q, ngx_http_kx_rl_lease_t, queue);

        if (le->busy || le->returning) {
            continue;
        }

        if (le->out) {
            if (now >= le->deadline) {
                ngx_queue_insert_tail(&ngx_http_kx_rl_returns, &le->rqueue);
                le->returning = 1;
            }

            continue;
        }

        if (now - le->seen > 2 * KX_RL_LEASE_TTL) {
            ngx_http_kx_rl_lease_free(le);
        }
    }

    if (!ngx_queue_empty(&ngx_http_kx_rl_returns)
        && !ngx_http_kx_rl_flush_event.posted)
    {
        ngx_post_event(&ngx_http_kx_rl_flush_event, &ngx_posted_events);
    }

    ngx_http_kx_rl_tick_arm();
}


static void
ngx_http_kx_rl_tick_arm(void)
{
    ngx_event_t  *ev;

    ev = &ngx_http_kx_rl_tick_event;

    if (ngx_http_kx_rl_nleases && !ev->timer_set) {
        ngx_add_timer(ev, KX_RL_LEASE_TTL / 2000);
    }
}


static ngx_uint_t
ngx_http_kx_rl_batch_leases(ngx_http_kx_rl_batch_t *b)
{
    ngx_uint_t  k;

    for (k = 0; k < b->nkeys; k++) {
        if (b->leases[k]) {
            return 1;
        }
    }

    return 0;
}


static ngx_int_t
ngx_http_kx_rl_init_process(ngx_cycle_t *cycle)
{
    ngx_queue_init(&ngx_http_kx_rl_queue);
    ngx_queue_init(&ngx_http_kx_rl_lru);
    ngx_queue_init(&ngx_http_kx_rl_returns);

    ngx_rbtree_init(&ngx_http_kx_rl_leases, &ngx_http_kx_rl_leases_sentinel,
                    ngx_str_rbtree_insert_value);

    ngx_http_kx_rl_flush_event.handler = ngx_http_kx_rl_flush;
    ngx_http_kx_rl_flush_event.log = cycle->log;

    /* nothing to wait for at exit: a worker's leases lapse in Redis */
    ngx_http_kx_rl_tick_event.handler = ngx_http_kx_rl_tick;
    ngx_http_kx_rl_tick_event.log = cycle->log;
    ngx_http_kx_rl_tick_event.cancelable = 1;

    return NGX_OK;
}


static void
ngx_http_kx_rl_enqueue(ngx_http_kx_rl_check_t *chk, kx_redis_t *rd)
{
    ngx_event_t  *ev;

    ev = &ngx_http_kx_rl_flush_event;

    ngx_http_kx_rl_queue_rd = rd;

    ngx_queue_insert_tail(&ngx_http_kx_rl_queue, &chk->queue);
    chk->queued = 1;

    /* posted events run once this turn's I/O events are handled */
    if (!ev->posted) {
        ngx_post_event(ev, &ngx_posted_events);
    }
}


/*
 * The posted event: every queued check goes out, KX_RL_BATCH_MAX to a
 * script call, with the leases due back.  A call's keys are grouped by
 * policy, each policy's in arrival order (a key names its policy, so only
 * the order within one matters), and the script gets each policy's
 * numbers once per group.  A key that several checks share goes once,
 * with their count.
 */

static void
ngx_http_kx_rl_flush(ngx_event_t *ev)
{
    /*
     * One call in flight at a time: what arrives meanwhile waits for its
     * answer and goes out as the next, larger batch.
     */
    if (ngx_http_kx_rl_inflight) {
        return;
    }

    while (!ngx_queue_empty(&ngx_http_kx_rl_queue)
           || (!ngx_queue_empty(&ngx_http_kx_rl_returns)
               && ngx_http_kx_rl_queue_rd))
    {
        ngx_http_kx_rl_send();
    }
}


static void
ngx_http_kx_rl_send(void)
{
    u_char                   *p;
    size_t                    keys;
    int64_t                   now;
    ngx_str_t                *args, *key;
    ngx_uint_t                i, j, k, n, m, e, a, r, groups, nlocal;
    ngx_queue_t              *q;
    ngx_http_kx_rl_entry_t    ent[KX_RL_ENTRY_MAX], t;
    ngx_http_kx_rl_batch_t   *b;
    ngx_http_kx_rl_lease_t   *le;
    ngx_http_kx_rl_check_t   *chk, *all[KX_RL_BATCH_MAX];
    ngx_http_kx_rl_check_t   *sent[KX_RL_BATCH_MAX];
    ngx_http_kx_rl_check_t   *local[KX_RL_BATCH_MAX];
    ngx_http_kx_rl_policy_t  *pol;

    n = 0;
    nlocal = 0;

    while (n + nlocal < KX_RL_BATCH_MAX
           && !ngx_queue_empty(&ngx_http_kx_rl_queue))
    {
        q = ngx_queue_head(&ngx_http_kx_rl_queue);
        chk = ngx_queue_data(q, ngx_http_kx_rl_check_t, queue);

        ngx_queue_remove(q);
        chk->queued = 0;

        /* a lease granted while it waited pays for it */
        if (chk->policy->lease && ngx_http_kx_rl_lease_try(chk, 0)) {
            local[nlocal++] = chk;
            continue;
        }

        all[n++] = chk;
    }

    /* the checks by policy, and each policy's distinct keys: entries */

    m = 0;
    e = 0;
    groups = 0;
    keys = 0;

    for (i = 0; i < n; i++) {
        if (all[i] == NULL) {
            continue;
        }

        pol = all[i]->policy;
        r = e;
        groups++;

        for (j = i; j < n; j++) {
            chk = all[j];

            if (chk == NULL || chk->policy != pol) {
                continue;
            }

            all[j] = NULL;

            t.hash = ngx_crc32_short(chk->key.data, chk->key.len);

            for (k = r; k < e; k++) {
                if (ent[k].hash == t.hash
                    && ent[k].first->key.len == chk->key.len
                    && ngx_memcmp(ent[k].first->key.data, chk->key.data,
                                  chk->key.len) == 0)
                {
                    break;
                }
            }

            if (k == e) {
                ngx_memzero(&ent[e], sizeof(ngx_http_kx_rl_entry_t));
                ent[e].policy = pol;
                ent[e].first = chk;
                ent[e].hash = t.hash;
                keys += sizeof("kx:rl::") - 1 + pol->name.len
                        + chk->key.len;
                e++;
            }

            ent[k].hot |= chk->hot;
            chk->entry = k;
            chk->nth = ent[k].count++;
            sent[m++] = chk;
        }
    }

    /*
     * leases due back or to be topped up, sorted by policy; one whose key
     * a check of this call names goes with that check instead
     * (ngx_http_kx_rl_lease_entry)
     */

    r = e;

    while (e < r + KX_RL_RETURN_MAX
           && !ngx_queue_empty(&ngx_http_kx_rl_returns))
    {
        q = ngx_queue_head(&ngx_http_kx_rl_returns);
        le = ngx_queue_data(q, ngx_http_kx_rl_lease_t, rqueue);

        ngx_queue_remove(q);
        le->returning = 0;

        ngx_memzero(&t, sizeof(ngx_http_kx_rl_entry_t));
        t.renew = le->renew;
        le->renew = 0;

        if (le->busy || (le->out == 0 && !t.renew)) {
            continue;
        }

        t.policy = le->policy;
        t.lease = le;

        for (k = e; k > r && ent[k - 1].policy > t.policy; k--) {
            ent[k] = ent[k - 1];
        }

        ent[k] = t;
        keys += le->sn.str.len;
        e++;
    }

    for (k = r; k < e; k++) {
        if (k == r || ent[k].policy != ent[k - 1].policy) {
            groups++;
        }
    }

    b = NULL;

    if (e) {
        b = ngx_http_kx_rl_batch(m, e, groups, keys);

        if (b == NULL) {
            /* out of memory: as if Redis were down */
            for (i = 0; i < m; i++) {
                sent[i]->failed = 1;
                ngx_http_kx_rl_resume(sent[i]);
            }

            m = 0;
            e = 0;
        }
    }

    if (e) {
        now = ngx_http_kx_rl_now();

        for (i = 0; i < m; i++) {
            b->checks[i] = sent[i];
            sent[i]->batch = b;
            sent[i]->slot = i;
        }

        /* KEYS, copied: a NOSCRIPT retry may outlive the requests */

        args = b->args;
        p = (u_char *) (args + b->nargs);

        for (k = 0; k < e; k++) {
            key = &args[3 + k];
            key->data = p;

            if (ent[k].first) {
                *key = ngx_http_kx_rl_rkey(ent[k].policy, &ent[k].first->key,
                                           p);
            } else {
                key->len = ngx_cpymem(p, ent[k].lease->sn.str.data,
                                      ent[k].lease->sn.str.len) - p;
            }

            p += key->len;

            if (ent[k].policy->lease) {
                ngx_http_kx_rl_lease_entry(&ent[k], key, now);
            }

            b->leases[k] = ent[k].lease;
            b->counts[k] = ent[k].count;
        }

        /* ARGV: per group its keys' number, interval, limit, lease life */

        a = 3 + e;

        for (k = 0; k < e; k = j) {
            pol = ent[k].policy;

            for (j = k; j < e && ent[j].policy == pol
                        && (ent[j].first == NULL) == (ent[k].first == NULL);
                 j++)
            {
                /* void */
            }

            p = ngx_http_kx_rl_arg(&args[a++], p, j - k);

            args[a++] = pol->interval;
            args[a++] = pol->limit;
            ngx_str_set(&args[a], KX_RL_LEASE_TTL_TEXT);
            a++;

            for (i = k; i < j; i++) {
                p = ngx_http_kx_rl_arg(&args[a++], p, ent[i].count);
                p = ngx_http_kx_rl_arg(&args[a++], p, ent[i].want);
                p = ngx_http_kx_rl_arg(&args[a++], p, ent[i].ret_granted);
                p = ngx_http_kx_rl_arg(&args[a++], p, ent[i].ret_left);
            }
        }

        b->nargs = a;
        b->nkeys = e;
        b->rd = ngx_http_kx_rl_queue_rd;
        b->live = m;
        b->sent = now;

        ngx_http_kx_rl_arg(&args[2], p, e);

        b->cmd = kx_redis_command(b->rd, args, b->nargs, 0,
                                  ngx_http_kx_rl_batch_done, b);

        ngx_http_kx_rl_inflight++;

        if (b->cmd == NULL) {
            ngx_http_kx_rl_batch_done(KX_REDIS_UNAVAILABLE, NULL, b);
        }
    }

    /* last: a resumed request may do anything */

    for (i = 0; i < nlocal; i++) {
        ngx_http_kx_rl_resume(local[i]);
    }
}


/* a number argument, printed at p */

static u_char *
ngx_http_kx_rl_arg(ngx_str_t *arg, u_char *p, ngx_uint_t n)
{
    arg->data = p;
    p = ngx_sprintf(p, "%ui", n);
    arg->len = p - arg->data;

    return p;
}


/*
 * A key of a call and its lease: what is left of a spent or lapsed lease
 * goes back, and a key seen more than once lately asks for a new one.
 */

static void
ngx_http_kx_rl_lease_entry(ngx_http_kx_rl_entry_t *ent, ngx_str_t *rkey,
    int64_t now)
{
    uint32_t                 hash;
    ngx_http_kx_rl_lease_t  *le;

    le = ent->lease;

    if (le && le->busy) {
        /* a check of this call names the key already */
        ent->lease = NULL;
        return;
    }

    if (le == NULL) {
        hash = ngx_crc32_short(rkey->data, rkey->len);
        le = ngx_http_kx_rl_lease_find(rkey, hash);

        if (le == NULL) {
            le = ngx_http_kx_rl_lease_add(ent->policy, rkey, hash, now);
        }

        if (le == NULL || le->busy) {
            ent->lease = NULL;
            return;
        }
    }

    if (le->out && (le->left == 0 || now >= le->deadline)) {
        ent->ret_granted = le->out;
        ent->ret_left = le->left;
        le->out = 0;
        le->granted = 0;
        le->left = 0;
    }

    if (le->returning) {
        ngx_queue_remove(&le->rqueue);
        le->returning = 0;
        le->renew = 0;
    }

    if ((ent->first && (ent->count > 1 || ent->hot)) || ent->renew) {
        ent->want = ent->policy->lease;
    }

    le->busy = 1;
    ent->lease = le;
}


static ngx_http_kx_rl_batch_t *
ngx_http_kx_rl_batch(ngx_uint_t n, ngx_uint_t nkeys, ngx_uint_t groups,
    size_t keys)
{
    size_t                   size;
    ngx_uint_t               nargs;
    ngx_http_kx_rl_batch_t  *b;

    /* the command, SHA-1, key count, keys, 4 per group, 4 per key */
    nargs = 3 + 4 * groups + 5 * nkeys;

    size = sizeof(ngx_http_kx_rl_batch_t)
           + n * sizeof(ngx_http_kx_rl_check_t *)
           + nkeys * (sizeof(ngx_http_kx_rl_lease_t *) + sizeof(ngx_uint_t))
           + nargs * sizeof(ngx_str_t)
           + keys + (1 + groups + 4 * nkeys) * NGX_INT_T_LEN;

    b = ngx_alloc(size, ngx_cycle->log);
    if (b == NULL) {
        return NULL;
    }

    ngx_memzero(b, sizeof(ngx_http_kx_rl_batch_t));

    b->n = n;
    b->nargs = nargs;
    b->checks = (ngx_http_kx_rl_check_t **) (b + 1);
    b->leases = (ngx_http_kx_rl_lease_t **) (b->checks + n);
    b->counts = (ngx_uint_t *) (b->leases + nkeys);
    b->args = (ngx_str_t *) (b->counts + nkeys);

    /* the script by its SHA-1; a server that lacks it gets it once */
    ngx_str_set(&b->args[0], "EVALSHA");
    b->args[1].data = ngx_http_kx_rl_script_sha;
    b->args[1].len = 40;

    return b;
}


static void
ngx_http_kx_rl_batch_done(kx_redis_status_e status, redisReply *reply,
    void *data)
{
    ngx_http_kx_rl_batch_t *b = data;

    int64_t                  now;
    ngx_uint_t               i, k, g, ok;
    redisReply             **el;
    ngx_http_kx_rl_lease_t  *le;
    ngx_http_kx_rl_check_t  *chk;
    ngx_http_kx_rl_policy_t  *p;

    b->cmd = NULL;

    if (status == KX_REDIS_ERROR && reply && reply->type == REDIS_REPLY_ERROR
        && reply->len >= 8 && ngx_strncmp(reply->str, "NOSCRIPT", 8) == 0
        && b->args[0].len == 7)
    {
        /* a restarted or new server: send the script itself, once */
        ngx_str_set(&b->args[0], "EVAL");
        b->args[1] = ngx_http_kx_rl_script;

        b->cmd = kx_redis_command(b->rd, b->args, b->nargs, 0,
                                  ngx_http_kx_rl_batch_done, b);
        if (b->cmd) {
            return;
        }
    }

    ngx_http_kx_rl_answered();

    ok = (status == KX_REDIS_OK && reply->type == REDIS_REPLY_ARRAY
          && reply->elements == 3 * b->nkeys);

    for (i = 0; ok && i < reply->elements; i++) {
        if (reply->element[i]->type != REDIS_REPLY_INTEGER) {
            ok = 0;
        }
    }

    if (!ok && status == KX_REDIS_ERROR && reply) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "kx_rate_limit: redis script failed: %*s",
                      (size_t) reply->len, reply->str);
    }

    el = ok ? reply->element : NULL;
    now = ngx_http_kx_rl_now();

    /* the leases granted; a lost answer loses only what it granted */

    for (k = 0; k < b->nkeys; k++) {
        le = b->leases[k];

        if (le == NULL) {
            continue;
        }

        le->busy = 0;

        if (el == NULL || el[3 * k + 1]->integer <= 0
            || el[3 * k + 1]->integer > (long long) le->policy->lease)
        {
            continue;
        }

        g = (ngx_uint_t) el[3 * k + 1]->integer;
        p = le->policy;

        /*
         * what the new tokens' first saw; a top-up comes after what is
         * left of the lease in hand, which its headers count down first
         */
        le->used = kx_gcra_used_nth(&p->gcra, el[3 * k]->integer,
                                    b->counts[k])
                   - (int64_t) le->left * p->gcra.interval;
        le->left += g;
        le->granted = le->left;
        le->full = (g == p->lease);
        le->out += g;
        le->got = now;

        /* b->sent precedes Redis' grant: the lease ends here first */
        le->deadline = b->sent + KX_RL_LEASE_TTL;

        ngx_http_kx_rl_tick_arm();
    }

    /* every answer first: a resumed request may do anything */

    for (i = 0; i < b->n; i++) {
        chk = b->checks[i];

        if (chk == NULL) {
            continue;
        }

        if (el) {
            kx_gcra_decide(&chk->policy->gcra,
                           kx_gcra_used_nth(&chk->policy->gcra,
                                            el[3 * chk->entry]->integer,
                                            chk->nth),
                           &chk->res);

            /* thrice at most: a key leased out again and again */
            if (!chk->res.allowed && chk->deferred < 3) {
                chk->defer = el[3 * chk->entry + 2]->integer;
            }

        } else {
            chk->failed = 1;
        }
    }

    /* a request that goes away meanwhile empties its own slot only */

    for (i = 0; i < b->n; i++) {
        chk = b->checks[i];

        if (chk == NULL) {
            continue;
        }

        b->checks[i] = NULL;
        chk->batch = NULL;

        if (chk->defer > 0) {
            ngx_http_kx_rl_defer(chk);
            continue;
        }

        ngx_http_kx_rl_resume(chk);
    }

    ngx_free(b);
}


/*
 * Refused while tokens were out on lease: they may come back unspent, so
 * the check waits for that and asks again, rather than refuse early.
 * The script stops asking for this once those leases are void.
 */

static void
ngx_http_kx_rl_defer(ngx_http_kx_rl_check_t *chk)
{
    ngx_msec_t   ms;
    ngx_event_t  *ev;

    ev = &chk->retry;

    ev->handler = ngx_http_kx_rl_retry;
    ev->data = chk;
    ev->log = chk->ctx->request->connection->log;

    ms = (ngx_msec_t) (ngx_min(chk->defer, 2 * KX_RL_LEASE_TTL) / 1000) + 1;
    chk->defer = 0;
    chk->deferred++;

    ngx_add_timer(ev, ms);
}


static void
ngx_http_kx_rl_retry(ngx_event_t *ev)
{
    ngx_http_kx_rl_check_t *chk = ev->data;

    ngx_http_kx_rl_enqueue(chk, ngx_http_kx_rl_queue_rd);
}


/* a call is over: the checks that waited for it go out */

static void
ngx_http_kx_rl_answered(void)
{
    ngx_event_t  *ev;

    ngx_http_kx_rl_inflight--;

    ev = &ngx_http_kx_rl_flush_event;

    if (ngx_http_kx_rl_inflight == 0
        && (!ngx_queue_empty(&ngx_http_kx_rl_queue)
            || !ngx_queue_empty(&ngx_http_kx_rl_returns))
        && !ev->posted)
    {
        ngx_post_event(ev, &ngx_posted_events);
    }
}


static void
ngx_http_kx_rl_resume(ngx_http_kx_rl_check_t *chk)
{
    ngx_connection_t      *c;
    ngx_http_request_t    *r;
    ngx_http_kx_rl_ctx_t  *ctx;

    chk->done = 1;

    ctx = chk->ctx;

    if (--ctx->pending) {
        return;
    }

    r = ctx->request;
    c = r->connection;

    /* resume the phases: the handler now sees every answer */
    ngx_http_core_run_phases(r);
    ngx_http_run_posted_requests(c);
}


static ngx_int_t
ngx_http_kx_rl_finish(ngx_http_request_t *r, ngx_http_kx_rl_loc_conf_t *rlcf,
    ngx_http_kx_rl_ctx_t *ctx)
{
    ngx_int_t                 rc;
    ngx_uint_t                i, refused, best;
    kx_gcra_result_t         *res;
    ngx_http_kx_rl_check_t   *chk;

    ctx->finished = 1;

    refused = 0;
    best = ctx->nchecks;

    for (i = 0; i < ctx->nchecks; i++) {
        chk = &ctx->checks[i];

        if (chk->failed) {
            ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                          "kx_rate_limit \"%V\": redis unavailable, "
                          "failing %s", &chk->policy->name,
                          chk->policy->fail_open ? "open" : "closed");

            if (chk->policy->fail_open) {
                continue;
            }

            /* fail closed: not the client's fault, so 503, not 429 */
            rc = ngx_http_kx_rl_header(r, "Retry-After", 1);
            if (rc == NGX_OK) {
                rc = ngx_http_kx_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                            "service_unavailable",
                                            "rate limiter unavailable");
            }

            ngx_http_finalize_request(r, rc);

            return NGX_DONE;
        }

        if (!chk->res.allowed) {
            /* the refusal that lasts longest decides Retry-After */
            if (!refused
                || chk->res.retry_after > ctx->checks[best].res.retry_after)
            {
                best = i;
            }
            refused = 1;
            continue;
        }

        if (!refused
            && (best == ctx->nchecks
                || chk->res.remaining < ctx->checks[best].res.remaining))
        {
            best = i;
        }
    }

    if (best == ctx->nchecks) {
        return NGX_DECLINED;
    }

    res = &ctx->checks[best].res;

    if (rlcf->headers
        && ngx_http_kx_rl_headers(r, ctx->checks[best].policy->gcra.burst,
                                  res)
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (!refused) {
        return NGX_DECLINED;
    }

    if (ngx_http_kx_rl_header(r, "Retry-After",
                              (res->retry_after + 999999) / 1000000)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "kx_rate_limit \"%V\": limited",
                  &ctx->checks[best].policy->name);

    rc = ngx_http_kx_send_error(r, NGX_HTTP_TOO_MANY_REQUESTS,
                                "rate_limited", "too many requests");

    /* answered here: finalize and stop the phases */
    ngx_http_finalize_request(r, rc);

    return NGX_DONE;
}


static ngx_int_t
ngx_http_kx_rl_headers(ngx_http_request_t *r, ngx_int_t limit,
    kx_gcra_result_t *res)
{
    int64_t     value[3];
    ngx_str_t   v;
    ngx_uint_t  i;

    static const char  *name[3][2] = {
        { "RateLimit-Limit", "X-RateLimit-Limit" },
        { "RateLimit-Remaining", "X-RateLimit-Remaining" },
        { "RateLimit-Reset", "X-RateLimit-Reset" }
    };

    value[0] = limit;
    value[1] = res->remaining;
    value[2] = (res->reset + 999999) / 1000000;

    /* each value once, shared by the header and its X- twin */
    for (i = 0; i < 3; i++) {
        v.data = ngx_pnalloc(r->pool, NGX_INT64_LEN);
        if (v.data == NULL) {
            return NGX_ERROR;
        }

        v.len = ngx_sprintf(v.data, "%L", value[i]) - v.data;

        if (ngx_http_kx_add_header(r, name[i][0], &v) != NGX_OK
            || ngx_http_kx_add_header(r, name[i][1], &v) != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_kx_rl_header(ngx_http_request_t *r, const char *name, int64_t value)
{
    ngx_str_t  v;

    v.data = ngx_pnalloc(r->pool, NGX_INT64_LEN);
    if (v.data == NULL) {
        return NGX_ERROR;
    }

    v.len = ngx_sprintf(v.data, "%L", value) - v.data;

    return ngx_http_kx_add_header(r, name, &v);
}


static void
ngx_http_kx_rl_cleanup(void *data)
{
    ngx_http_kx_rl_ctx_t *ctx = data;

    ngx_uint_t               i;
    ngx_http_kx_rl_batch_t  *b;
    ngx_http_kx_rl_check_t  *chk;

    for (i = 0; i < ctx->nchecks; i++) {
        chk = &ctx->checks[i];

        if (chk->retry.timer_set) {
            ngx_del_timer(&chk->retry);
        }

        if (chk->queued) {
            /* not sent yet: it spends nothing */
            ngx_queue_remove(&chk->queue);
            chk->queued = 0;
            continue;
        }

        b = chk->batch;

        if (b == NULL) {
            continue;
        }

        b->checks[chk->slot] = NULL;
        chk->batch = NULL;

        /*
         * nobody waits for the answer any more; while the answer is being
         * handed out b->cmd is NULL, and ngx_http_kx_rl_batch_done()
         * frees the batch itself; a call that carries leases runs its
         * course, as its grant is this worker's to spend
         */
        if (--b->live == 0 && b->cmd && !ngx_http_kx_rl_batch_leases(b)) {
            kx_redis_cancel(b->cmd);
            ngx_http_kx_rl_answered();
            ngx_free(b);
        }
    }
}


static int64_t
ngx_http_kx_rl_now(void)
{
    struct timeval  tv;

    /* microseconds: ngx_timeofday() has only milliseconds */
    ngx_gettimeofday(&tv);

    return (int64_t) tv.tv_sec * 1000000 + tv.tv_usec;
}


static void
ngx_http_kx_rl_rbtree_insert(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel)
{
    ngx_rbtree_node_t      **p;
    ngx_http_kx_rl_node_t   *n, *t;

    for ( ;; ) {

        if (node->key < temp->key) {
            p = &temp->left;

        } else if (node->key > temp->key) {
            p = &temp->right;

        } else {
            n = (ngx_http_kx_rl_node_t *) node;
            t = (ngx_http_kx_rl_node_t *) temp;

            p = (ngx_memn2cmp(n->data, t->data, n->len, t->len) < 0)
                ? &temp->left : &temp->right;
        }

        if (*p == sentinel) {
            break;
        }

        temp = *p;
    }

    *p = node;
    node->parent = temp;
    node->left = sentinel;
    node->right = sentinel;
    ngx_rbt_red(node);
}


static ngx_http_kx_rl_policy_t *
ngx_http_kx_rl_find(ngx_http_kx_rl_main_conf_t *rlmcf, ngx_str_t *name)
{
    ngx_uint_t                 i;
    ngx_http_kx_rl_policy_t  **pol;

    pol = rlmcf->policies.elts;

    for (i = 0; i < rlmcf->policies.nelts; i++) {
        if (pol[i]->name.len == name->len
            && ngx_strncmp(pol[i]->name.data, name->data, name->len) == 0)
        {
            return pol[i];
        }
    }

    return NULL;
}


static ngx_int_t
ngx_http_kx_rl_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_kx_rl_policy_t  *opol = data;

    size_t                    len;
    ngx_http_kx_rl_policy_t  *pol;

    pol = shm_zone->data;

    if (opol) {
        /* reload: keep the buckets */
        pol->sh = opol->sh;
        pol->shpool = opol->shpool;
        return NGX_OK;
    }

    pol->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        pol->sh = pol->shpool->data;
        return NGX_OK;
    }

    pol->sh = ngx_slab_alloc(pol->shpool, sizeof(ngx_http_kx_rl_shctx_t));
    if (pol->sh == NULL) {
        return NGX_ERROR;
    }

    pol->shpool->data = pol->sh;

    ngx_rbtree_init(&pol->sh->rbtree, &pol->sh->sentinel,
                    ngx_http_kx_rl_rbtree_insert);
    ngx_queue_init(&pol->sh->queue);

    len = sizeof(" in kx_rate_limit_zone \"\"") + shm_zone->shm.name.len;

    pol->shpool->log_ctx = ngx_slab_alloc(pol->shpool, len);
    if (pol->shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(pol->shpool->log_ctx, " in kx_rate_limit_zone \"%V\"%Z",
                &shm_zone->shm.name);

    return NGX_OK;
}


/*
 * kx_rate_limit_zone <name> key=<complex value> rate=<n>r/s|r/m|r/h
 *                    [burst=<n>] [size=<size>] [mode=local|redis]
 *                    [lease=<n>] [fail=open|closed];
 */
static char *
ngx_http_kx_rl_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_kx_rl_main_conf_t *rlmcf = conf;

    u_char                            *p;
    size_t                             size;
    ngx_str_t                         *value, s, name;
    ngx_int_t                          rate, burst, period, lease;
    ngx_uint_t                         i, key_set;
    ngx_http_kx_rl_policy_t           *pol, **slot;
    ngx_http_compile_complex_value_t   ccv;

    value = cf->args->elts;

    if (ngx_http_kx_rl_find(rlmcf, &value[1])) {
        return "is duplicate";
    }

    if (value[1].len == 0 || value[1].len > KX_RL_NAME_MAX) {
        return "has a name that is empty or too long";
    }

    if (rlmcf->policies.nelts == KX_RL_ZONE_MAX) {
        return "is one zone too many";
    }

    pol = ngx_pcalloc(cf->pool, sizeof(ngx_http_kx_rl_policy_t));
    slot = ngx_array_push(&rlmcf->policies);
    if (pol == NULL || slot == NULL) {
        return NGX_CONF_ERROR;
    }

    *slot = pol;

    pol->name = value[1];
    pol->mode = KX_RL_LOCAL;
    pol->fail_open = 1;

    rate = 0;
    period = 1;
    burst = 0;
    size = 1024 * 1024;
    key_set = 0;

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "key=", 4) == 0) {
            s.data = value[i].data + 4;
            s.len = value[i].len - 4;

            ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));
            ccv.cf = cf;
            ccv.value = &s;
            ccv.complex_value = &pol->key;

            if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
                return NGX_CONF_ERROR;
            }

            key_set = 1;
            continue;
        }

        if (ngx_strncmp(value[i].data, "rate=", 5) == 0) {
            p = value[i].data + value[i].len - 3;

            if (value[i].len > 8 && ngx_strncmp(p, "r/s", 3) == 0) {
                period = 1;
            } else if (value[i].len > 8 && ngx_strncmp(p, "r/m", 3) == 0) {
                period = 60;
            } else if (value[i].len > 8 && ngx_strncmp(p, "r/h", 3) == 0) {
                period = 3600;
            } else {
                goto invalid;
            }

            rate = ngx_atoi(value[i].data + 5, value[i].len - 8);
            if (rate <= 0) {
                goto invalid;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "burst=", 6) == 0) {
            burst = ngx_atoi(value[i].data + 6, value[i].len - 6);
            if (burst <= 0) {
                goto invalid;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "size=", 5) == 0) {
            s.data = value[i].data + 5;
            s.len = value[i].len - 5;

            size = ngx_parse_size(&s);
            if (size == (size_t) NGX_ERROR || size < 8 * ngx_pagesize) {
                goto invalid;
            }

            continue;
        }

        if (ngx_strcmp(value[i].data, "mode=local") == 0) {
            pol->mode = KX_RL_LOCAL;
            continue;
        }

        if (ngx_strcmp(value[i].data, "mode=redis") == 0) {
            pol->mode = KX_RL_REDIS;
            continue;
        }

        if (ngx_strncmp(value[i].data, "lease=", 6) == 0) {
            lease = ngx_atoi(value[i].data + 6, value[i].len - 6);
            if (lease < 0 || lease > KX_RL_LEASE_MAX) {
                goto invalid;
            }

            pol->lease = lease;
            continue;
        }

        if (ngx_strcmp(value[i].data, "fail=open") == 0) {
            pol->fail_open = 1;
            continue;
        }

        if (ngx_strcmp(value[i].data, "fail=closed") == 0) {
            pol->fail_open = 0;
            continue;
        }

        goto invalid;
    }

    if (!key_set || rate == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" needs key= and rate=", &cmd->name);
        return NGX_CONF_ERROR;
    }

    if (pol->lease && pol->mode != KX_RL_REDIS) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\": lease= needs mode=redis", &cmd->name);
        return NGX_CONF_ERROR;
    }

    /* without burst=, a second's worth (at least 1) passes at once */
    if (burst == 0) {
        burst = ngx_max(rate / period, 1);
    }

    if (kx_gcra_init(&pol->gcra, rate, (int64_t) period * 1000000, burst)
        != 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\": rate or burst out of range", &cmd->name);
        return NGX_CONF_ERROR;
    }

    /* the Redis script's arguments, printed once */
    p = ngx_pnalloc(cf->pool, 2 * NGX_INT64_LEN);
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    pol->interval.data = p;
    p = ngx_sprintf(p, "%L", pol->gcra.interval);
    pol->interval.len = p - pol->interval.data;

    pol->limit.data = p;
    p = ngx_sprintf(p, "%L", pol->gcra.burst * pol->gcra.interval);
    pol->limit.len = p - pol->limit.data;

    name.len = sizeof("kx_rl_") - 1 + pol->name.len;
    name.data = ngx_pnalloc(cf->pool, name.len);
    if (name.data == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_sprintf(name.data, "kx_rl_%V", &pol->name);

    if (pol->mode == KX_RL_LOCAL) {
        pol->shm_zone = ngx_shared_memory_add(cf, &name, size,
                                              &ngx_http_kx_rate_limit_module);
        if (pol->shm_zone == NULL) {
            return NGX_CONF_ERROR;
        }

        pol->shm_zone->init = ngx_http_kx_rl_init_zone;
        pol->shm_zone->data = pol;
    }

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid parameter \"%V\"",
                       &value[i]);

    return NGX_CONF_ERROR;
}


static char *
ngx_http_kx_rl(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_kx_rl_loc_conf_t *rlcf = conf;

    ngx_str_t                    *value;
    ngx_http_kx_rl_policy_t      *pol, **lim;
    ngx_http_kx_rl_main_conf_t   *rlmcf;

    value = cf->args->elts;

    if (rlcf->limits && (rlcf->limits->nelts == 0
                         || ngx_strcmp(value[1].data, "off") == 0))
    {
        return "\"off\" cannot be combined with policies";
    }

    if (rlcf->limits == NULL) {
        rlcf->limits = ngx_array_create(cf->pool, 2,
                                        sizeof(ngx_http_kx_rl_policy_t *));
        if (rlcf->limits == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    /* "off": an empty list, so the outer level's policies are not inherited */
    if (ngx_strcmp(value[1].data, "off") == 0) {
        return NGX_CONF_OK;
    }

    if (rlcf->limits->nelts == KX_RL_MAX_POLICY) {
        return "has too many policies";
    }

    rlmcf = ngx_http_conf_get_module_main_conf(cf,
                                               ngx_http_kx_rate_limit_module);

    pol = ngx_http_kx_rl_find(rlmcf, &value[1]);

    if (pol) {
        lim = ngx_array_push(rlcf->limits);
        if (lim == NULL) {
            return NGX_CONF_ERROR;
        }

        *lim = pol;

        return NGX_CONF_OK;
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "unknown kx_rate_limit_zone \"%V\" (declare zones "
                       "before they are used)", &value[1]);

    return NGX_CONF_ERROR;
}


static void *
ngx_http_kx_rl_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_kx_rl_main_conf_t  *rlmcf;

    rlmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_kx_rl_main_conf_t));
    if (rlmcf == NULL) {
        return NULL;
    }

    if (ngx_array_init(&rlmcf->policies, cf->pool, 8,
                       sizeof(ngx_http_kx_rl_policy_t *))
        != NGX_OK)
    {
        return NULL;
    }

    return rlmcf;
}


static void *
ngx_http_kx_rl_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_kx_rl_loc_conf_t  *rlcf;

    rlcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_kx_rl_loc_conf_t));
    if (rlcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     rlcf->limits = NULL;
     */

    rlcf->headers = NGX_CONF_UNSET;

    return rlcf;
}


static char *
ngx_http_kx_rl_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_kx_rl_loc_conf_t *prev = parent;
    ngx_http_kx_rl_loc_conf_t *conf = child;

    /* like limit_req: a level with its own policies replaces the outer */
    if (conf->limits == NULL) {
        conf->limits = prev->limits;
    }

    ngx_conf_merge_value(conf->headers, prev->headers, 1);

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_kx_rl_init(ngx_conf_t *cf)
{
    u_char                        digest[EVP_MAX_MD_SIZE];
    unsigned int                  n;
    ngx_http_handler_pt          *h;
    ngx_http_core_main_conf_t    *cmcf;

    /* Redis names a script by the SHA-1 of its text */
    if (EVP_Digest(ngx_http_kx_rl_script.data, ngx_http_kx_rl_script.len,
                   digest, &n, EVP_sha1(), NULL) != 1 || n != 20)
    {
        return NGX_ERROR;
    }

    ngx_hex_dump(ngx_http_kx_rl_script_sha, digest, 20);

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_ACCESS_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_kx_rl_handler;

    return NGX_OK;
}
