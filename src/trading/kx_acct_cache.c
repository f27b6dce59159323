
/*
 * Copyright (C) Kianax
 */


#include <stdio.h>
#include <string.h>

#include "trading/kx_acct_cache.h"


static int kx_acct_open(const kx_order_t *o);
static int kx_acct_sell_rest(const kx_order_t *o, kx_dec_t *rest);


kx_acct_entry_t *
kx_acct_cache_slot(kx_acct_entry_t *table, size_t n, const char *user_id)
{
    uint32_t  h;

    /* FNV-1a: user ids are random UUIDs, any mix spreads them */
    h = 2166136261u;

    while (*user_id) {
        h = (h ^ (unsigned char) *user_id++) * 16777619u;
    }

    return &table[h % n];
}


int
kx_acct_cache_get(const kx_acct_entry_t *e, const char *user_id,
    const char *symbol, int64_t now, kx_acct_snap_t *s)
{
    unsigned  i;

    if (e->expires <= now || strcmp(e->user_id, user_id) != 0) {
        return 0;
    }

    for (i = 0; i < e->nsym; i++) {
        if (strcmp(e->sym[i].symbol, symbol) == 0) {
            break;
        }
    }

    if (i == e->nsym) {
        return 0;
    }

    memcpy(s->version, e->version, sizeof(s->version));
    s->cash = e->cash;
    s->reserved = e->reserved;
    s->realized = e->realized;
    s->max_order_value = e->max_order_value;
    s->max_position_value = e->max_position_value;
    s->max_open_orders = e->max_open_orders;
    s->allow_short = e->allow_short;
    s->open_orders = e->open_orders;
    s->sym = e->sym[i];

    return 1;
}


void
kx_acct_cache_put(kx_acct_entry_t *e, const char *user_id, const char *base,
    const kx_acct_snap_t *s, int64_t now, int64_t ttl)
{
    unsigned  i;

    if (base[0] == '\0' || e->expires <= now
        || strcmp(e->user_id, user_id) != 0
        || strcmp(e->version, base) != 0)
    {
        /* what else the entry says may be of another version: forget it */
        memset(e, 0, sizeof(kx_acct_entry_t));
        snprintf(e->user_id, sizeof(e->user_id), "%s", user_id);
    }

    memcpy(e->version, s->version, sizeof(e->version));
    e->version[KX_ACCT_VERSION_LEN] = '\0';
    e->expires = now + ttl;
    e->cash = s->cash;
    e->reserved = s->reserved;
    e->realized = s->realized;
    e->max_order_value = s->max_order_value;
    e->max_position_value = s->max_position_value;
    e->max_open_orders = s->max_open_orders;
    e->allow_short = s->allow_short;
    e->open_orders = s->open_orders;

    for (i = 0; i < e->nsym; i++) {
        if (strcmp(e->sym[i].symbol, s->sym.symbol) == 0) {
            break;
        }
    }

    if (i == e->nsym) {
        if (e->nsym < KX_ACCT_CACHE_SYMBOLS) {
            e->nsym++;

        } else {
            i = e->next;
            e->next = (e->next + 1) % KX_ACCT_CACHE_SYMBOLS;
        }
    }

    e->sym[i] = s->sym;
}


void
kx_acct_cache_drop(kx_acct_entry_t *e, const char *user_id)
{
    if (strcmp(e->user_id, user_id) == 0) {
        memset(e, 0, sizeof(kx_acct_entry_t));
    }
}


int
kx_acct_cache_after(const kx_txn_acct_t *before, const kx_txn_t *t,
    const char *version, kx_acct_snap_t *s)
{
    kx_dec_t  was, now;

    memset(s, 0, sizeof(kx_acct_snap_t));

    snprintf(s->version, sizeof(s->version), "%s", version);

    if (kx_dec_add(before->cash, t->cash_delta, &s->cash) != KX_DEC_OK
        || kx_dec_add(before->reserved, t->reserved_delta, &s->reserved)
           != KX_DEC_OK
        || kx_dec_add(before->realized, t->realized_delta, &s->realized)
           != KX_DEC_OK)
    {
        return -1;
    }

    memcpy(s->sym.symbol, t->order.symbol, sizeof(s->sym.symbol));

    if (t->pos_changed) {
        s->sym.qty = t->acct->pos.qty;
        s->sym.avg_cost = t->acct->pos.avg_cost;

    } else {
        s->sym.qty = before->pos.qty;
        s->sym.avg_cost = before->pos.avg_cost;
    }

    /* the order as it began (none if this inserts it) and as it ends */
    s->open_orders = before->open_orders;
    s->sym.open_sell_qty = before->open_sell_qty;

    if (!t->insert && before->has_order) {
        if (kx_acct_open(&before->order)) {
            if (s->open_orders == 0) {
                return -1;      /* the read did not count it: not ours */
            }

            s->open_orders--;
        }

        if (kx_acct_sell_rest(&before->order, &was) != 0
            || kx_dec_sub(s->sym.open_sell_qty, was, &s->sym.open_sell_qty)
               != KX_DEC_OK)
        {
            return -1;
        }
    }

    s->open_orders += kx_acct_open(&t->order);

    if (kx_acct_sell_rest(&t->order, &now) != 0
        || kx_dec_add(s->sym.open_sell_qty, now, &s->sym.open_sell_qty)
           != KX_DEC_OK)
    {
        return -1;
    }

    return 0;
}


/* as trading.order_lock() counts: status new, accepted, partially_filled */
static int
kx_acct_open(const kx_order_t *o)
{
    return o->status == KX_ORDER_NEW || o->status == KX_ORDER_ACCEPTED
           || o->status == KX_ORDER_PARTIALLY_FILLED;
}


/* an open sell order's unfilled quantity (notional orders: none) */
static int
kx_acct_sell_rest(const kx_order_t *o, kx_dec_t *rest)
{
    rest->v = 0;

    if (!kx_acct_open(o) || o->side != KX_SIDE_SELL || o->notional.v) {
        return 0;
    }

    return kx_dec_sub(o->quantity, o->filled_qty, rest) == KX_DEC_OK ? 0 : -1;
}
