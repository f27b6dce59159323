
/*
 * Copyright (C) Kianax
 *
 * kx_txn: the changes of one account transaction (reserve, fills,
 * releases, positions, events, outbox) and the JSON order_apply() gets.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trading/kx_txn.h"

#include "kx_tap.h"
#include "kx_test_dec.h"
#include "kx_test_txn.h"


static void
acct_init(kx_txn_acct_t *a, const char *cash)
{
    memset(a, 0, sizeof(kx_txn_acct_t));
    a->now = INT64_C(1764000000000000);
    strcpy(a->user_id, "11111111-1111-4111-8111-111111111111");
    a->cash = dec(cash);
}


/* the finished JSON, parsed */
static kx_json_doc_t *
finish(kx_txn_t *t)
{
    kx_jw_t         w;
    size_t          len;
    const char     *s;
    kx_json_doc_t  *doc;

    kx_jw_init(&w);

    if (kx_txn_finish(t, &w) != KX_ORDER_OK
        || kx_jw_finish(&w, &s, &len) != KX_JW_OK
        || kx_json_parse(s, len, NULL, &doc, NULL) != KX_JSON_PE_OK)
    {
        kx_jw_free(&w);
        return NULL;
    }

    kx_jw_free(&w);

    return doc;
}


static void
types_are(const kx_json_node_t *root, const char *want, const char *name)
{
    char                   got[256];
    size_t                 i, n, len;
    const char            *s;
    const kx_json_node_t  *ob;

    ob = kx_json_obj_get(root, "outbox");
    got[0] = '\0';

    for (i = 0; i < kx_json_arr_len(ob); i++) {
        if (kx_json_get_str(kx_json_arr_at(ob, i), "type", &s, &len)
            == KX_JSON_OK)
        {
            n = strlen(got);
            snprintf(got + n, sizeof(got) - n, "%s%.*s", i ? " " : "",
                     (int) len, s);
        }
    }

    is_str(got, want, name);
}


/* every event its own id: order_apply() stores them as one outbox row */
static void
event_ids_distinct(const kx_json_node_t *root)
{
    size_t                 i, j, n, len[8];
    const char            *s[8];
    const kx_json_node_t  *ob;

    ob = kx_json_obj_get(root, "outbox");
    n = kx_json_arr_len(ob);

    for (i = 0; i < n && i < 8; i++) {
        s[i] = NULL;
        len[i] = 0;
        (void) kx_json_get_str(kx_json_arr_at(ob, i), "event_id", &s[i],
                               &len[i]);
        ok(s[i] != NULL && len[i] == KX_TXN_UUID_LEN,
           "outbox event %zu has an event_id", i);

        for (j = 0; j < i; j++) {
            ok(s[i] == NULL || s[j] == NULL || len[i] != len[j]
               || memcmp(s[i], s[j], len[i]) != 0,
               "event_id %zu differs from %zu", i, j);
        }
    }
}


static void
test_limit_buy_partial_then_cancel(void)
{
    kx_txn_t              t;
    kx_order_t            o;
    kx_txn_acct_t         a;
    kx_json_doc_t        *doc;
    const kx_json_node_t *root;

    acct_init(&a, "1000");
    order_init(&o, KX_SIDE_BUY, KX_ORDER_LIMIT, "4", "10");

    kx_txn_init(&t, &a, fake_uuid);
    ok(kx_txn_place(&t, &o, dec("40"), "paper") == KX_ORDER_OK, "place");
    ok(kx_txn_status(&t, KX_ORDER_ACCEPTED, NULL) == KX_ORDER_OK, "accept");
    dec_is(t.reserved_delta, "40", "placing reserves limit x qty");
    ok(t.insert && t.check_buying_power, "an insert that checks buying power");

    ok(kx_txn_fill(&t, dec("1"), dec("9.5"), NULL, 0, 0) == KX_ORDER_OK,
       "a partial fill");
    dec_is(t.cash_delta, "-9.5", "cash pays the fill");
    dec_is(t.order_reserved, "30", "the rest stays reserved");
    dec_is(t.reserved_delta, "30", "a quarter released");
    is_int(t.order.status, KX_ORDER_PARTIALLY_FILLED, "partially filled");
    dec_is(a.pos.qty, "1", "position");
    dec_is(a.pos.avg_cost, "9.5", "avg cost");

    ok(kx_txn_status(&t, KX_ORDER_CANCELED, NULL) == KX_ORDER_OK, "cancel");
    dec_is(t.reserved_delta, "0", "cancel releases the rest");
    dec_is(a.reserved, "0", "nothing reserved");

    doc = finish(&t);
    ok(doc != NULL, "finish gives JSON");
    root = kx_json_root(doc);
    types_are(root, "order.created order.filled order.cancelled "
              "portfolio.updated", "outbox events");
    event_ids_distinct(root);
    is_int((int) kx_json_arr_len(kx_json_obj_get(root, "events")), 4,
           "events: new accepted partially_filled canceled");
    is_int((int) kx_json_arr_len(kx_json_obj_get(root, "trades")), 1,
           "one trade");
    ok(kx_json_obj_get(root, "position") != NULL, "the position is written");
    ok(kx_json_obj_get(root, "expect_version") == NULL,
       "no version when read under the lock");

    kx_json_free(doc);
    kx_txn_free(&t);
}


static void
test_sell_and_dedupe(void)
{
    kx_txn_t        t;
    kx_order_t      o;
    kx_txn_acct_t   a;
    kx_json_doc_t  *doc;
    const char     *s;
    size_t          len;

    acct_init(&a, "500");
    a.pos.qty = dec("10");
    a.pos.avg_cost = dec("20");
    strcpy(a.version, "12345");

    order_init(&o, KX_SIDE_SELL, KX_ORDER_MARKET, "6", NULL);
    a.has_order = 1;
    a.order = o;
    strcpy(a.order.id, "22222222-2222-4222-8222-222222222222");
    a.order.status = KX_ORDER_ACCEPTED;
    a.exec_ids = "e1,e2";
    a.exec_ids_len = 5;

    kx_txn_init(&t, &a, fake_uuid);
    ok(kx_txn_load(&t) == KX_ORDER_OK, "load the order");

    ok(kx_txn_fill(&t, dec("2"), dec("25"), "e2", 2, 1) == KX_ORDER_OK
       && t.changed == 0, "a known execution id is skipped");
    ok(kx_txn_fill(&t, dec("2"), dec("25"), "e3", 2, 1) == KX_ORDER_OK,
       "a new one is recorded");
    dec_is(t.realized_delta, "10", "realized (25 - 20) x 2");
    dec_is(t.cash_delta, "50", "cash received");
    dec_is(t.reserved_delta, "0", "a sell reserves nothing");
    dec_is(a.pos.qty, "8", "position reduced");

    doc = finish(&t);
    ok(doc != NULL, "finish");
    ok(kx_json_get_str(kx_json_root(doc), "expect_version", &s, &len)
       == KX_JSON_OK && len == 5 && memcmp(s, "12345", 5) == 0,
       "the version read is checked by the write");
    ok(kx_json_get_str(kx_json_root(doc), "expect_status", &s, &len)
       == KX_JSON_OK && len == 8 && memcmp(s, "accepted", 8) == 0,
       "and the order's status");

    kx_json_free(doc);
    kx_txn_free(&t);
}


/* cash + cost basis - realized stays the starting cash, exactly */
static void
test_invariant(void)
{
    int             i, bad;
    kx_dec_t        start, v, cb;
    kx_txn_t        t;
    kx_order_t      o;
    kx_txn_acct_t   a;
    static const char  *px[] = { "101.37", "99.01", "100.5", "102.99",
                                 "97.3333", "100.01" };
    static const char  *qt[] = { "3.141592", "1", "0.5", "2.718281",
                                 "0.333333", "1.25" };

    acct_init(&a, "100000");
    start = a.cash;
    bad = 0;

    for (i = 0; i < 60; i++) {
        order_init(&o, (i % 3 == 2) ? KX_SIDE_SELL : KX_SIDE_BUY,
                   KX_ORDER_MARKET, qt[i % 6], NULL);

        if (o.side == KX_SIDE_SELL && kx_dec_cmp(a.pos.qty, o.quantity) < 0)
        {
            continue;
        }

        kx_txn_init(&t, &a, fake_uuid);
        (void) kx_txn_place(&t, &o, o.side == KX_SIDE_BUY ? dec("1000")
                                                          : dec("0"),
                            "paper");
        (void) kx_txn_status(&t, KX_ORDER_ACCEPTED, NULL);

        if (kx_txn_fill(&t, o.quantity, dec(px[(i * 7) % 6]), NULL, 0, 0)
            != KX_ORDER_OK || t.order.status != KX_ORDER_FILLED
            || a.reserved.v != 0)
        {
            bad++;
        }

        kx_txn_free(&t);

        (void) kx_position_cost_basis(&a.pos, &cb);
        (void) kx_dec_add(a.cash, cb, &v);
        (void) kx_dec_sub(v, a.realized, &v);

        if (kx_dec_cmp(v, start) != 0) {
            bad++;
        }
    }

    is_int(bad, 0, "60 fills: filled, reserve released, invariant exact");
}


int
main(void)
{
    test_limit_buy_partial_then_cancel();
    test_sell_and_dedupe();
    test_invariant();

    return kx_tap_done();
}
