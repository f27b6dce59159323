
/*
 * Copyright (C) Kianax
 *
 * kx_trading_account_cache: the table of src/trading/kx_acct_cache.h in
 * a shared memory zone, so that every worker of the instance knows the
 * accounts any of them changed (the gateway spreads one user's orders
 * over all of them).  One lock for the table: a lookup or an update is a
 * copy of a few hundred bytes.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "kx_trading.h"


/* entries live a minute: xid versions cannot come round in that time */
#define KX_TRADING_CACHE_TTL  60000


typedef struct {
    size_t              n;
    kx_acct_entry_t     table[1];
} kx_trading_cache_sh_t;


static ngx_int_t kx_trading_cache_init_zone(ngx_shm_zone_t *zone,
    void *data);
static kx_acct_entry_t *kx_trading_cache_lock(kx_trading_main_conf_t *conf,
    const char *user_id);
static void kx_trading_cache_unlock(kx_trading_main_conf_t *conf);


/* kx_trading_account_cache off | size; */
char *
kx_trading_cache_conf(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    kx_trading_main_conf_t *tmcf = conf;

    ssize_t     size;
    ngx_str_t  *value, name;

    (void) cmd;

    if (tmcf->acct_cache != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        tmcf->acct_cache = NULL;
        return NGX_CONF_OK;
    }

    size = ngx_parse_size(&value[1]);

    if (size == NGX_ERROR || size < (ssize_t) (8 * ngx_pagesize)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid kx_trading_account_cache size \"%V\": "
                           "off, or at least %uz", &value[1],
                           8 * ngx_pagesize);
        return NGX_CONF_ERROR;
    }

    ngx_str_set(&name, "kx_trading_accounts");

    tmcf->acct_cache = ngx_shared_memory_add(cf, &name, size,
                                             &ngx_http_kx_trading_module);
    if (tmcf->acct_cache == NULL) {
        return NGX_CONF_ERROR;
    }

    tmcf->acct_cache->init = kx_trading_cache_init_zone;

    return NGX_CONF_OK;
}


static ngx_int_t
kx_trading_cache_init_zone(ngx_shm_zone_t *zone, void *data)
{
    size_t                  n;
    ngx_slab_pool_t        *shpool;
    kx_trading_cache_sh_t  *sh;

    shpool = (ngx_slab_pool_t *) zone->shm.addr;

    if (data) {
        /* a reload with the same size: the entries are still checked */
        zone->data = data;
        return NGX_OK;
    }

    if (zone->shm.exists) {
        zone->data = shpool->data;
        return NGX_OK;
    }

    /* all free pages but one (for the slab's own small allocations) */
    n = ((shpool->pfree - 1) * ngx_pagesize - sizeof(kx_trading_cache_sh_t))
        / sizeof(kx_acct_entry_t) + 1;

    sh = ngx_slab_alloc(shpool, sizeof(kx_trading_cache_sh_t)
                                + (n - 1) * sizeof(kx_acct_entry_t));
    if (sh == NULL) {
        return NGX_ERROR;
    }

    ngx_memzero(sh->table, n * sizeof(kx_acct_entry_t));
    sh->n = n;

    shpool->data = sh;
    zone->data = sh;

    ngx_log_error(NGX_LOG_INFO, zone->shm.log, 0,
                  "kx_trading_account_cache: %uz accounts", n);

    return NGX_OK;
}


ngx_int_t
kx_trading_cache_get(kx_trading_main_conf_t *conf, const char *user_id,
    const char *symbol, kx_acct_snap_t *s)
{
    int               hit;
    kx_acct_entry_t  *e;

    e = kx_trading_cache_lock(conf, user_id);
    if (e == NULL) {
        return 0;
    }

    hit = kx_acct_cache_get(e, user_id, symbol, (int64_t) ngx_current_msec,
                            s);

    kx_trading_cache_unlock(conf);

    ngx_http_kx_metrics_count((ngx_cycle_t *) ngx_cycle,
                              hit ? "kx_trading_account_cache_total"
                                    "{result=\"hit\"}"
                                  : "kx_trading_account_cache_total"
                                    "{result=\"miss\"}", 1);

    return hit;
}


void
kx_trading_cache_put(kx_trading_main_conf_t *conf, const char *user_id,
    const char *base, const kx_acct_snap_t *s)
{
    kx_acct_entry_t  *e;

    e = kx_trading_cache_lock(conf, user_id);
    if (e == NULL) {
        return;
    }

    kx_acct_cache_put(e, user_id, base, s, (int64_t) ngx_current_msec,
                      KX_TRADING_CACHE_TTL);

    kx_trading_cache_unlock(conf);
}


void
kx_trading_cache_drop(kx_trading_main_conf_t *conf, const char *user_id)
{
    kx_acct_entry_t  *e;

    e = kx_trading_cache_lock(conf, user_id);
    if (e == NULL) {
        return;
    }

    kx_acct_cache_drop(e, user_id);

    kx_trading_cache_unlock(conf);
}


/* the user's entry, with the table locked; NULL: no cache */
static kx_acct_entry_t *
kx_trading_cache_lock(kx_trading_main_conf_t *conf, const char *user_id)
{
    ngx_slab_pool_t        *shpool;
    kx_trading_cache_sh_t  *sh;

    if (conf->acct_cache == NULL || conf->acct_cache->data == NULL) {
        return NULL;
    }

    shpool = (ngx_slab_pool_t *) conf->acct_cache->shm.addr;
    sh = conf->acct_cache->data;

    ngx_shmtx_lock(&shpool->mutex);

    return kx_acct_cache_slot(sh->table, sh->n, user_id);
}


static void
kx_trading_cache_unlock(kx_trading_main_conf_t *conf)
{
    ngx_shmtx_unlock(&((ngx_slab_pool_t *) conf->acct_cache->shm.addr)
                     ->mutex);
}
