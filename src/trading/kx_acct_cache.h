
/*
 * Copyright (C) Kianax
 */


#ifndef _KX_ACCT_CACHE_H_INCLUDED_
#define _KX_ACCT_CACHE_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include "core/kx_decimal.h"
#include "trading/kx_order.h"
#include "trading/kx_txn.h"


/*
 * What the trading service knows of accounts it changed itself, so that
 * the next new order of the user can skip reading the account
 * (trading.order_lock()) and go straight to trading.order_apply() with
 * the version it was derived from.  The version check there is the
 * safety: an entry that is stale for any reason (another instance, an
 * operator's SQL, a lost update of the cache) fails the check and the
 * order is decided again on a fresh read.  Nothing is ever refused on
 * the word of the cache alone: the module decides again on a fresh read
 * whenever a cached decision is a refusal.
 *
 * An entry holds the account as it is at one version: the portfolio, the
 * risk limits, the number of open orders, and per symbol (a few) the
 * position and the quantity in open sell orders.  An operation on one
 * symbol changes the portfolio and that symbol only, so the other
 * symbols of an entry stay true when the operation started from the
 * entry's own version (kx_acct_cache_put()).
 *
 * The table is an array of entries (direct-mapped by the user id); the
 * module keeps it in shared memory under a lock.  Pure: no nginx types.
 */


#define KX_ACCT_CACHE_SYMBOLS  8
#define KX_ACCT_VERSION_LEN    23


typedef struct {
    char                symbol[KX_ORDER_SYMBOL_MAX + 1];
    kx_dec_t            qty;
    kx_dec_t            avg_cost;
    kx_dec_t            open_sell_qty;
} kx_acct_sym_t;


typedef struct {
    char                user_id[KX_TXN_UUID_LEN + 1];
    char                version[KX_ACCT_VERSION_LEN + 1];
    int64_t             expires;            /* ms; 0: empty */
    kx_dec_t            cash;
    kx_dec_t            reserved;
    kx_dec_t            realized;
    kx_dec_t            max_order_value;    /* the risk limits */
    kx_dec_t            max_position_value;
    unsigned            max_open_orders;
    unsigned            allow_short:1;
    unsigned            open_orders;
    unsigned            nsym;
    unsigned            next;               /* slot to reuse when full */
    kx_acct_sym_t       sym[KX_ACCT_CACHE_SYMBOLS];
} kx_acct_entry_t;


/* the account at one version, in one symbol */
typedef struct {
    char                version[KX_ACCT_VERSION_LEN + 1];
    kx_dec_t            cash;
    kx_dec_t            reserved;
    kx_dec_t            realized;
    kx_dec_t            max_order_value;
    kx_dec_t            max_position_value;
    unsigned            max_open_orders;
    unsigned            allow_short:1;
    unsigned            open_orders;
    kx_acct_sym_t       sym;
} kx_acct_snap_t;


/* the entry of the table that user_id maps to */
kx_acct_entry_t *kx_acct_cache_slot(kx_acct_entry_t *table, size_t n,
    const char *user_id);

/* 1 and *s: the entry holds user_id, unexpired, with symbol; else 0 */
int kx_acct_cache_get(const kx_acct_entry_t *e, const char *user_id,
    const char *symbol, int64_t now, kx_acct_snap_t *s);

/*
 * The account after an operation that was applied on top of version
 * base ("" when unknown): the entry keeps its other symbols only if it
 * held user_id at base.
 */
void kx_acct_cache_put(kx_acct_entry_t *e, const char *user_id,
    const char *base, const kx_acct_snap_t *s, int64_t now, int64_t ttl);

void kx_acct_cache_drop(kx_acct_entry_t *e, const char *user_id);

/*
 * The account after the transaction t, which started from before (as
 * read, before any kx_txn call changed it) and committed as version:
 * portfolio plus the deltas, the position as the transaction left it,
 * and the open orders and open sell quantity with t's order counted as
 * it ends instead of as it began.  Limits are left to the caller.
 * 0, or -1 when a sum is out of range.
 */
int kx_acct_cache_after(const kx_txn_acct_t *before, const kx_txn_t *t,
    const char *version, kx_acct_snap_t *s);


#endif /* _KX_ACCT_CACHE_H_INCLUDED_ */
