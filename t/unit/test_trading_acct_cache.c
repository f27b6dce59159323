
/*
 * Copyright (C) Kianax
 *
 * kx_acct_cache: the accounts the trading service knows at a version
 * (entries, their symbols, expiry) and the account after a transaction.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trading/kx_acct_cache.h"

#include "kx_tap.h"
#include "kx_test_dec.h"
#include "kx_test_txn.h"


#define U1  "11111111-1111-4111-8111-111111111111"
#define U2  "22222222-2222-4222-8222-222222222222"


static void
snap(kx_acct_snap_t *s, const char *version, const char *cash,
    const char *symbol, const char *qty)
{
    memset(s, 0, sizeof(kx_acct_snap_t));
    strcpy(s->version, version);
    s->cash = dec(cash);
    s->reserved = dec("1");
    s->max_open_orders = 7;
    s->open_orders = 2;
    strcpy(s->sym.symbol, symbol);
    s->sym.qty = dec(qty);
    s->sym.avg_cost = dec("10");
}


static void
test_entries(void)
{
    int              i;
    char             sym[16], base[KX_ACCT_VERSION_LEN + 1];
    kx_acct_snap_t   s, g;
    kx_acct_entry_t  table[4], *e;

    memset(table, 0, sizeof(table));

    e = kx_acct_cache_slot(table, 4, U1);
    ok(e == kx_acct_cache_slot(table, 4, U1), "a user has one slot");
    ok(!kx_acct_cache_get(e, U1, "AAPL", 1000, &g), "empty: a miss");

    snap(&s, "100", "500", "AAPL", "3");
    kx_acct_cache_put(e, U1, "", &s, 1000, 60000);
    ok(kx_acct_cache_get(e, U1, "AAPL", 1001, &g), "put, then a hit");
    is_str(g.version, "100", "... at its version");
    dec_is(g.cash, "500", "... cash");
    dec_is(g.reserved, "1", "... reserved");
    dec_is(g.sym.qty, "3", "... the position");
    is_int((int) g.max_open_orders, 7, "... the limits");
    is_int((int) g.open_orders, 2, "... open orders");
    ok(!kx_acct_cache_get(e, U1, "MSFT", 1001, &g), "another symbol: a miss");
    ok(!kx_acct_cache_get(e, U2, "AAPL", 1001, &g), "another user: a miss");
    ok(!kx_acct_cache_get(e, U1, "AAPL", 61000, &g), "expired: a miss");

    /* an operation in MSFT on top of version 100: AAPL stays true */
    snap(&s, "101", "450", "MSFT", "5");
    kx_acct_cache_put(e, U1, "100", &s, 2000, 60000);
    ok(kx_acct_cache_get(e, U1, "AAPL", 2001, &g),
       "applied on the entry's version: the other symbol stays");
    is_str(g.version, "101", "... at the new version");
    dec_is(g.cash, "450", "... with the new cash");
    dec_is(g.sym.qty, "3", "... and its own position");
    ok(kx_acct_cache_get(e, U1, "MSFT", 2001, &g), "the new symbol");
    dec_is(g.sym.qty, "5", "... its position");

    /* applied on top of a version the entry does not hold */
    snap(&s, "205", "400", "MSFT", "6");
    kx_acct_cache_put(e, U1, "150", &s, 3000, 60000);
    ok(!kx_acct_cache_get(e, U1, "AAPL", 3001, &g),
       "applied on another version: the other symbols are forgotten");
    ok(kx_acct_cache_get(e, U1, "MSFT", 3001, &g), "... this one is kept");
    is_str(g.version, "205", "... at its version");

    snap(&s, "206", "400", "TSLA", "1");
    kx_acct_cache_put(e, U1, "", &s, 3000, 60000);
    ok(!kx_acct_cache_get(e, U1, "MSFT", 3001, &g),
       "base unknown (decided under the lock): the rest is forgotten");

    /* an expired entry is not built upon */
    snap(&s, "300", "400", "AAPL", "1");
    kx_acct_cache_put(e, U1, "206", &s, 100000, 60000);
    ok(!kx_acct_cache_get(e, U1, "TSLA", 100001, &g),
       "applied on an expired entry: its symbols are forgotten");

    /* another user in the slot replaces the entry */
    snap(&s, "7", "1", "AAPL", "0");
    kx_acct_cache_put(e, U2, "300", &s, 100000, 60000);
    ok(!kx_acct_cache_get(e, U1, "AAPL", 100001, &g), "evicted by U2");
    ok(kx_acct_cache_get(e, U2, "AAPL", 100001, &g), "U2 is there");

    kx_acct_cache_drop(e, U1);
    ok(kx_acct_cache_get(e, U2, "AAPL", 100001, &g),
       "dropping another user changes nothing");
    kx_acct_cache_drop(e, U2);
    ok(!kx_acct_cache_get(e, U2, "AAPL", 100001, &g), "dropped");

    /* more symbols than room: the oldest goes, the latest stay */
    for (i = 0; i < KX_ACCT_CACHE_SYMBOLS + 2; i++) {
        /* each applied on the version the one before left */
        snprintf(base, sizeof(base), "%s", i ? e->version : "");
        snprintf(sym, sizeof(sym), "S%d", i);
        snprintf(s.version, sizeof(s.version), "%d", 1000 + i);
        strcpy(s.sym.symbol, sym);
        kx_acct_cache_put(e, U1, base, &s, 200000, 60000);
    }

    is_int((int) e->nsym, KX_ACCT_CACHE_SYMBOLS, "at most 8 symbols");
    ok(!kx_acct_cache_get(e, U1, "S0", 200001, &g), "the first went");
    ok(kx_acct_cache_get(e, U1, "S9", 200001, &g), "the last is there");
    ok(kx_acct_cache_get(e, U1, "S2", 200001, &g), "S2 stays");
}


static void
acct_init(kx_txn_acct_t *a, const char *cash)
{
    memset(a, 0, sizeof(kx_txn_acct_t));
    a->now = INT64_C(1764000000000000);
    strcpy(a->user_id, U1);
    a->cash = dec(cash);
    a->open_orders = 2;
    a->open_sell_qty = dec("3");
    a->pos.qty = dec("10");
    a->pos.avg_cost = dec("20");
}


/* the account read back with its resting sell of 4 at 30 (order ...99) */
static void
acct_resting_sell(kx_txn_acct_t *a, const char *cash, const char *open_sell,
    kx_order_status_e status)
{
    acct_init(a, cash);
    a->open_orders = 3;
    a->open_sell_qty = dec(open_sell);
    a->has_order = 1;
    order_init(&a->order, KX_SIDE_SELL, KX_ORDER_LIMIT, "4", "30");
    strcpy(a->order.id, "00000000-0000-4000-8000-000000000099");
    a->order.status = status;
}


static void
test_after(void)
{
    kx_txn_t         t;
    kx_order_t       o;
    kx_txn_acct_t    a, before;
    kx_acct_snap_t   s;

    /* a market buy that fills at once */
    acct_init(&a, "1000");
    a.reserved = dec("50");
    before = a;
    order_init(&o, KX_SIDE_BUY, KX_ORDER_MARKET, "2", NULL);
    kx_txn_init(&t, &a, fake_uuid);
    ok(kx_txn_place(&t, &o, dec("60"), "paper") == KX_ORDER_OK, "place");
    ok(kx_txn_status(&t, KX_ORDER_ACCEPTED, NULL) == KX_ORDER_OK, "accept");
    ok(kx_txn_fill(&t, dec("2"), dec("29.5"), NULL, 0, 0) == KX_ORDER_OK,
       "fill");
    ok(kx_acct_cache_after(&before, &t, "42", &s) == 0, "after a market buy");
    is_str(s.version, "42", "... the committed version");
    dec_is(s.cash, "941", "... cash paid the fill");
    dec_is(s.reserved, "50", "... the order's reserve released");
    dec_is(s.sym.qty, "12", "... the position grew");
    dec_is(s.sym.avg_cost, "21.58333333", "... at the average cost");
    ok(kx_dec_cmp(s.cash, a.cash) == 0 && kx_dec_cmp(s.reserved, a.reserved)
       == 0, "... as the transaction left the account");
    is_int((int) s.open_orders, 2, "... filled: no new open order");
    dec_is(s.sym.open_sell_qty, "3", "... open sells unchanged");
    is_str(s.sym.symbol, "AAPL", "... in the order's symbol");
    kx_txn_free(&t);

    /* a limit sell that rests */
    acct_init(&a, "1000");
    before = a;
    order_init(&o, KX_SIDE_SELL, KX_ORDER_LIMIT, "4", "30");
    kx_txn_init(&t, &a, fake_uuid);
    ok(kx_txn_place(&t, &o, dec("0"), "paper") == KX_ORDER_OK, "place");
    ok(kx_txn_status(&t, KX_ORDER_ACCEPTED, NULL) == KX_ORDER_OK, "accept");
    ok(kx_acct_cache_after(&before, &t, "43", &s) == 0, "after a resting sell");
    is_int((int) s.open_orders, 3, "... one more open order");
    dec_is(s.sym.open_sell_qty, "7", "... its quantity in open sells");
    dec_is(s.sym.qty, "10", "... the position as it was");
    dec_is(s.cash, "1000", "... cash as it was");
    kx_txn_free(&t);

    /* that sell, read back, partly filled */
    acct_resting_sell(&a, "1000", "7", KX_ORDER_ACCEPTED);
    before = a;
    kx_txn_init(&t, &a, fake_uuid);
    ok(kx_txn_load(&t) == KX_ORDER_OK, "load");
    ok(kx_txn_fill(&t, dec("1"), dec("30"), NULL, 0, 0) == KX_ORDER_OK,
       "a partial fill");
    ok(kx_acct_cache_after(&before, &t, "44", &s) == 0, "after the fill");
    is_int((int) s.open_orders, 3, "... still open");
    dec_is(s.sym.open_sell_qty, "6", "... one less in open sells");
    dec_is(s.sym.qty, "9", "... the position sold one");
    dec_is(s.cash, "1030", "... for cash");
    dec_is(s.realized, "10", "... and realized P&L");
    kx_txn_free(&t);

    /* the rest canceled */
    acct_resting_sell(&a, "1030", "6", KX_ORDER_PARTIALLY_FILLED);
    a.order.filled_qty = dec("1");
    a.pos.qty = dec("9");
    before = a;
    kx_txn_init(&t, &a, fake_uuid);
    ok(kx_txn_load(&t) == KX_ORDER_OK, "load");
    ok(kx_txn_status(&t, KX_ORDER_CANCELED, NULL) == KX_ORDER_OK, "cancel");
    ok(kx_acct_cache_after(&before, &t, "45", &s) == 0, "after the cancel");
    is_int((int) s.open_orders, 2, "... one open order less");
    dec_is(s.sym.open_sell_qty, "3", "... its rest out of open sells");
    dec_is(s.sym.qty, "9", "... the position unchanged");
    kx_txn_free(&t);

    /* a read that did not count the order cannot be built upon */
    acct_init(&a, "1030");
    a.open_orders = 0;
    a.has_order = 1;
    order_init(&a.order, KX_SIDE_BUY, KX_ORDER_LIMIT, "1", "30");
    a.order.status = KX_ORDER_ACCEPTED;
    before = a;
    kx_txn_init(&t, &a, fake_uuid);
    ok(kx_txn_load(&t) == KX_ORDER_OK, "load");
    ok(kx_txn_status(&t, KX_ORDER_CANCELED, NULL) == KX_ORDER_OK, "cancel");
    is_int(kx_acct_cache_after(&before, &t, "46", &s), -1,
           "an open order the read did not count: refused");
    kx_txn_free(&t);
}


int
main(void)
{
    test_entries();
    test_after();

    return kx_tap_done();
}
