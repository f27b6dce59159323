
/*
 * Copyright (C) Kianax
 */


#include <stdlib.h>
#include <string.h>

#include "trading/kx_matching.h"

#include "kx_tap.h"
#include "kx_test_dec.h"


#define T0     INT64_C(1700000000000000)
#define CLOSE  (T0 + INT64_C(3600000000))


static kx_order_t
order(kx_order_type_e type, kx_side_e side, kx_tif_e tif, const char *qty,
    const char *limit, const char *stop)
{
    kx_order_t  o;

    kx_order_init(&o);
    strcpy(o.symbol, "AAPL");
    o.type = type;
    o.side = side;
    o.tif = tif;
    o.quantity = dec(qty);
    o.limit_price = dec(limit ? limit : "0");
    o.stop_price = dec(stop ? stop : "0");
    o.status = KX_ORDER_ACCEPTED;
    o.created_at = T0;

    return o;
}


static kx_quote_t
quote(const char *bid, const char *ask, const char *last, const char *bsz,
    const char *asz)
{
    kx_quote_t  q;

    q.bid = dec(bid);
    q.ask = dec(ask);
    q.last = dec(last);
    q.bid_size = dec(bsz);
    q.ask_size = dec(asz);
    q.time = T0;

    return q;
}


static kx_match_opts_t
opts(int64_t now, int64_t close, int unlimited)
{
    kx_match_opts_t  op;

    op.now = now;
    op.session_close = close;
    op.unlimited_liquidity = unlimited ? 1 : 0;

    return op;
}


/* decides, and checks fill qty and price ("0" for none) and status */
static int
decides(const kx_order_t *o, const kx_quote_t *q, const kx_match_opts_t *op,
    const char *qty, const char *price, kx_order_status_e status,
    const char *name)
{
    int         rc;
    kx_match_t  m;

    rc = kx_matching_decide(o, q, op, &m);

    if (ok(rc == KX_MATCH_OK && m.fill_qty.v == dec(qty).v
           && m.fill_price.v == dec(price).v && m.status == status, "%s",
           name))
    {
        return 1;
    }

    diag("  rc %d, fill %" PRId64 " at %" PRId64 ", status %s (%s)", rc,
         m.fill_qty.v, m.fill_price.v, kx_order_status_name(m.status),
         m.reason ? m.reason : "-");
    diag("  want fill %s at %s, status %s", qty, price,
         kx_order_status_name(status));

    return 0;
}


/*
 * The matrix: every type and side, with an order that the quote makes
 * live (marketable, or triggered and marketable) and one it does not,
 * under every time in force, with enough liquidity, with half of it,
 * and with none at the price.
 */
typedef struct {
    kx_order_type_e     type;
    kx_side_e           side;
    const char         *live_limit, *live_stop;
    const char         *dead_limit, *dead_stop;
    const char         *price;          /* where the live one fills */
    int                 dead_triggers;  /* stop reached, limit not */
} case_t;


static void
test_matrix(void)
{
    int              t, i;
    char             name[160];
    kx_tif_e         tif;
    kx_order_t       o;
    kx_quote_t       q;
    kx_match_t       m;
    kx_match_opts_t  op;
    const case_t    *c;

    static const case_t  cases[] = {
        { KX_ORDER_MARKET, KX_SIDE_BUY, NULL, NULL, NULL, NULL, "101", 0 },
        { KX_ORDER_MARKET, KX_SIDE_SELL, NULL, NULL, NULL, NULL, "99", 0 },
        { KX_ORDER_LIMIT, KX_SIDE_BUY, "102", NULL, "100.99", NULL, "101",
          0 },
        { KX_ORDER_LIMIT, KX_SIDE_SELL, "98", NULL, "99.01", NULL, "99", 0 },
        { KX_ORDER_STOP, KX_SIDE_BUY, NULL, "100.5", NULL, "101.01", "101",
          0 },
        { KX_ORDER_STOP, KX_SIDE_SELL, NULL, "99.5", NULL, "98.99", "99",
          0 },
        { KX_ORDER_STOP_LIMIT, KX_SIDE_BUY, "102", "100.5", "100.5",
          "100.5", "101", 1 },
        { KX_ORDER_STOP_LIMIT, KX_SIDE_SELL, "98", "99.5", "99.5", "99.5",
          "99", 1 }
    };

    /* bid 99 x 50, ask 101 x 50, last 100 */
    q = quote("99", "101", "100", "50", "50");
    op = opts(T0, CLOSE, 0);

    for (i = 0; i < (int) (sizeof(cases) / sizeof(cases[0])); i++) {
        c = &cases[i];

        for (t = KX_TIF_DAY; t <= KX_TIF_FOK; t++) {
            tif = (kx_tif_e) t;

            /* notional orders are market + day only: quantity here */
            snprintf(name, sizeof(name), "%s %s %s: ",
                     kx_order_type_name(c->type), kx_side_name(c->side),
                     kx_tif_name(tif));

            o = order(c->type, c->side, tif, "10", c->live_limit,
                      c->live_stop);
            strcat(name, "live, 10 of 50 available: filled");
            decides(&o, &q, &op, "10", c->price, KX_ORDER_FILLED, name);

            kx_matching_decide(&o, &q, &op, &m);
            ok(m.triggered == (c->type == KX_ORDER_STOP
                               || c->type == KX_ORDER_STOP_LIMIT),
               "  triggered only for stop types");

            snprintf(name, sizeof(name), "%s %s %s: live, 100 of 50: %s",
                     kx_order_type_name(c->type), kx_side_name(c->side),
                     kx_tif_name(tif),
                     tif == KX_TIF_FOK ? "canceled, nothing filled"
                     : tif == KX_TIF_IOC ? "50 filled, rest canceled"
                     : "50 filled, rests");
            o = order(c->type, c->side, tif, "100", c->live_limit,
                      c->live_stop);
            decides(&o, &q, &op,
                    tif == KX_TIF_FOK ? "0" : "50",
                    tif == KX_TIF_FOK ? "0" : c->price,
                    tif == KX_TIF_IOC || tif == KX_TIF_FOK
                    ? KX_ORDER_CANCELED : KX_ORDER_PARTIALLY_FILLED, name);

            if (c->type == KX_ORDER_MARKET) {
                /* market orders are always live: take their liquidity */
                snprintf(name, sizeof(name),
                         "%s %s %s: no size at the quote: %s",
                         kx_order_type_name(c->type), kx_side_name(c->side),
                         kx_tif_name(tif),
                         tif >= KX_TIF_IOC ? "canceled" : "rests");
                o = order(c->type, c->side, tif, "10", NULL, NULL);
                q.bid_size.v = 0;
                q.ask_size.v = 0;
                decides(&o, &q, &op, "0", "0",
                        tif >= KX_TIF_IOC ? KX_ORDER_CANCELED
                                          : KX_ORDER_ACCEPTED, name);
                q.bid_size = dec("50");
                q.ask_size = dec("50");
                continue;
            }

            /*
             * Not live: a limit order not marketable is canceled by
             * ioc/fok and rests otherwise; an untriggered stop rests
             * whatever its time in force; a triggered stop_limit whose
             * limit is not reached is a live limit order, so like the
             * limit order.
             */
            o = order(c->type, c->side, tif, "10", c->dead_limit,
                      c->dead_stop);

            if (c->type == KX_ORDER_STOP) {
                snprintf(name, sizeof(name), "%s %s %s: stop not reached: "
                         "rests", kx_order_type_name(c->type),
                         kx_side_name(c->side), kx_tif_name(tif));
                decides(&o, &q, &op, "0", "0", KX_ORDER_ACCEPTED, name);
                continue;
            }

            snprintf(name, sizeof(name), "%s %s %s: limit not reached: %s",
                     kx_order_type_name(c->type), kx_side_name(c->side),
                     kx_tif_name(tif),
                     tif >= KX_TIF_IOC ? "canceled" : "rests");

            if (decides(&o, &q, &op, "0", "0",
                        tif >= KX_TIF_IOC ? KX_ORDER_CANCELED
                                          : KX_ORDER_ACCEPTED, name))
            {
                kx_matching_decide(&o, &q, &op, &m);
                ok(m.triggered == (unsigned) c->dead_triggers,
                   "  %s", c->dead_triggers ? "but the stop triggered"
                                            : "no trigger");
            }
        }
    }
}


static void
test_prices(void)
{
    kx_order_t       o;
    kx_quote_t       q;
    kx_match_opts_t  op;

    op = opts(T0, 0, 0);
    q = quote("99", "101", "100", "50", "50");

    o = order(KX_ORDER_LIMIT, KX_SIDE_BUY, KX_TIF_DAY, "1", "150", NULL);
    decides(&o, &q, &op, "1", "101", KX_ORDER_FILLED,
            "limit buy at 150 fills at the ask 101, not at the limit");
    o = order(KX_ORDER_LIMIT, KX_SIDE_BUY, KX_TIF_DAY, "1", "101", NULL);
    decides(&o, &q, &op, "1", "101", KX_ORDER_FILLED,
            "limit buy fills when the ask equals the limit");
    o = order(KX_ORDER_LIMIT, KX_SIDE_SELL, KX_TIF_DAY, "1", "50", NULL);
    decides(&o, &q, &op, "1", "99", KX_ORDER_FILLED,
            "limit sell at 50 fills at the bid 99");
    o = order(KX_ORDER_LIMIT, KX_SIDE_SELL, KX_TIF_DAY, "1", "99", NULL);
    decides(&o, &q, &op, "1", "99", KX_ORDER_FILLED,
            "limit sell fills when the bid equals the limit");

    q = quote("0", "101", "100", "0", "50");
    o = order(KX_ORDER_MARKET, KX_SIDE_SELL, KX_TIF_DAY, "1", NULL, NULL);
    decides(&o, &q, &op, "0", "0", KX_ORDER_ACCEPTED,
            "market sell with no bid rests");
    o = order(KX_ORDER_MARKET, KX_SIDE_SELL, KX_TIF_IOC, "1", NULL, NULL);
    decides(&o, &q, &op, "0", "0", KX_ORDER_CANCELED,
            "ioc market sell with no bid is canceled");
    o = order(KX_ORDER_MARKET, KX_SIDE_BUY, KX_TIF_DAY, "1", NULL, NULL);
    decides(&o, &q, &op, "1", "101", KX_ORDER_FILLED,
            "market buy with no bid still fills at the ask");

    q = quote("99", "0", "100", "50", "0");
    o = order(KX_ORDER_LIMIT, KX_SIDE_BUY, KX_TIF_GTC, "1", "200", NULL);
    decides(&o, &q, &op, "0", "0", KX_ORDER_ACCEPTED,
            "limit buy with no ask rests");

    /* unlimited liquidity ignores sizes, even zero */
    q = quote("99", "101", "100", "0", "0");
    op = opts(T0, 0, 1);
    o = order(KX_ORDER_MARKET, KX_SIDE_BUY, KX_TIF_FOK, "1000000", NULL,
              NULL);
    decides(&o, &q, &op, "1000000", "101", KX_ORDER_FILLED,
            "unlimited liquidity: fok of a million fills");

    op = opts(T0, 0, 0);
    q = quote("99", "101", "100", "10.5", "0.25");
    o = order(KX_ORDER_MARKET, KX_SIDE_BUY, KX_TIF_DAY, "0.5", NULL, NULL);
    decides(&o, &q, &op, "0.25", "101", KX_ORDER_PARTIALLY_FILLED,
            "fractional sizes cut fractional quantities");
}


static void
test_stops(void)
{
    kx_order_t       o;
    kx_quote_t       q;
    kx_match_t       m;
    kx_match_opts_t  op;

    op = opts(T0, 0, 0);

    o = order(KX_ORDER_STOP, KX_SIDE_BUY, KX_TIF_GTC, "10", NULL, "105");
    q = quote("104", "104.99", "104", "100", "100");
    ok(!kx_matching_stop_reached(&o, &q), "stop buy 105: ask 104.99 short");
    decides(&o, &q, &op, "0", "0", KX_ORDER_ACCEPTED, "  and it rests");

    q = quote("104", "104.99", "105", "100", "100");
    ok(kx_matching_stop_reached(&o, &q), "stop buy 105: a trade at 105");
    decides(&o, &q, &op, "10", "104.99", KX_ORDER_FILLED,
            "  then a market buy at the ask 104.99");

    q = quote("105", "105.2", "104", "100", "100");
    ok(kx_matching_stop_reached(&o, &q), "stop buy 105: ask 105.2");

    o = order(KX_ORDER_STOP, KX_SIDE_SELL, KX_TIF_GTC, "10", NULL, "95");
    q = quote("95.01", "95.5", "96", "100", "100");
    ok(!kx_matching_stop_reached(&o, &q), "stop sell 95: bid 95.01 above");
    q = quote("95.01", "95.5", "95", "100", "100");
    ok(kx_matching_stop_reached(&o, &q), "stop sell 95: a trade at 95");
    q = quote("94", "95.5", "96", "100", "100");
    ok(kx_matching_stop_reached(&o, &q), "stop sell 95: bid 94");
    decides(&o, &q, &op, "10", "94", KX_ORDER_FILLED,
            "  then a market sell at the bid 94");

    o = order(KX_ORDER_LIMIT, KX_SIDE_BUY, KX_TIF_GTC, "10", "1000", NULL);
    ok(!kx_matching_stop_reached(&o, &q), "a limit order has no stop");

    /* once triggered, a stop order is a market order for good */
    o = order(KX_ORDER_STOP, KX_SIDE_BUY, KX_TIF_DAY, "10", NULL, "105");
    q = quote("104", "105", "104", "100", "4");
    kx_matching_decide(&o, &q, &op, &m);
    ok(m.triggered && m.fill_qty.v == dec("4").v
       && m.status == KX_ORDER_PARTIALLY_FILLED,
       "stop buy triggers at ask 105, 4 filled");
    ok(kx_matching_apply(&o, &m, T0 + 1) == KX_MATCH_OK
       && o.triggered_at == T0 + 1 && o.filled_qty.v == dec("4").v
       && o.status == KX_ORDER_PARTIALLY_FILLED,
       "  applied: triggered_at set, 4 filled");

    q = quote("100", "100.5", "100", "100", "100");
    kx_matching_decide(&o, &q, &op, &m);
    ok(!m.triggered && m.fill_qty.v == dec("6").v
       && m.fill_price.v == dec("100.5").v && m.status == KX_ORDER_FILLED,
       "  the price falls back under the stop: still a market order, "
       "the other 6 at 100.5");
    ok(kx_matching_apply(&o, &m, T0 + 2) == KX_MATCH_OK
       && o.triggered_at == T0 + 1 && o.status == KX_ORDER_FILLED
       && o.filled_avg_price.v == dec("102.3").v,
       "  applied: filled, average (420 + 603) / 10 = 102.3");

    /* a triggered stop_limit rests as a limit order */
    o = order(KX_ORDER_STOP_LIMIT, KX_SIDE_SELL, KX_TIF_GTC, "10", "94.5",
              "95");
    q = quote("94", "94.2", "94", "100", "100");
    kx_matching_decide(&o, &q, &op, &m);
    ok(m.triggered && m.fill_qty.v == 0 && m.status == KX_ORDER_ACCEPTED,
       "stop_limit sell 95/94.5: triggered at bid 94, limit not reached");
    kx_matching_apply(&o, &m, T0 + 1);
    ok(o.triggered_at == T0 + 1 && o.status == KX_ORDER_ACCEPTED,
       "  applied: triggered, still accepted");

    q = quote("94.6", "94.8", "96", "100", "100");
    decides(&o, &q, &op, "10", "94.6", KX_ORDER_FILLED,
            "  bid back to 94.6 >= 94.5: filled at the bid");
}


static void
test_partial(void)
{
    kx_order_t       o;
    kx_quote_t       q;
    kx_match_t       m;
    kx_match_opts_t  op;

    op = opts(T0, 0, 0);
    o = order(KX_ORDER_LIMIT, KX_SIDE_BUY, KX_TIF_GTC, "100", "10", NULL);

    q = quote("9", "10", "10", "500", "30");
    kx_matching_decide(&o, &q, &op, &m);
    kx_matching_apply(&o, &m, T0 + 1);
    ok(o.status == KX_ORDER_PARTIALLY_FILLED && o.filled_qty.v == dec("30").v,
       "limit buy 100: 30 at 10");

    q = quote("9", "9.5", "10", "500", "30");
    kx_matching_decide(&o, &q, &op, &m);
    kx_matching_apply(&o, &m, T0 + 2);
    ok(o.status == KX_ORDER_PARTIALLY_FILLED && o.filled_qty.v == dec("60").v,
       "  30 more at 9.5");

    q = quote("9", "9.75", "10", "500", "0");
    decides(&o, &q, &op, "0", "0", KX_ORDER_PARTIALLY_FILLED,
            "  no size: nothing, still partially filled");

    q = quote("9", "9.6", "10", "500", "50");
    kx_matching_decide(&o, &q, &op, &m);
    ok(m.fill_qty.v == dec("40").v && m.status == KX_ORDER_FILLED,
       "  50 offered at 9.6, the 40 remaining fill");
    kx_matching_apply(&o, &m, T0 + 3);
    ok(o.status == KX_ORDER_FILLED && o.filled_qty.v == dec("100").v
       && o.filled_at == T0 + 3
       && o.filled_avg_price.v == dec("9.69").v,
       "  filled: average (300 + 285 + 384) / 100 = 9.69");

    ok(kx_matching_decide(&o, &q, &op, &m) == KX_MATCH_ESTATE
       && m.fill_qty.v == 0, "a filled order is not matched again");

    /* ioc: the remainder is canceled, the fill kept */
    o = order(KX_ORDER_MARKET, KX_SIDE_SELL, KX_TIF_IOC, "100", NULL, NULL);
    q = quote("50", "51", "50", "70", "100");
    kx_matching_decide(&o, &q, &op, &m);
    ok(kx_matching_apply(&o, &m, T0 + 1) == KX_MATCH_OK
       && o.status == KX_ORDER_CANCELED && o.filled_qty.v == dec("70").v
       && o.canceled_at == T0 + 1 && o.filled_at == 0
       && o.filled_avg_price.v == dec("50").v,
       "ioc sell 100, bid size 70: 70 filled, 30 canceled");

    /* fok: all or nothing */
    o = order(KX_ORDER_MARKET, KX_SIDE_BUY, KX_TIF_FOK, "100", NULL, NULL);
    q = quote("50", "51", "50", "0", "100");
    decides(&o, &q, &op, "100", "51", KX_ORDER_FILLED,
            "fok buy 100, ask size exactly 100: filled");
    q = quote("50", "51", "50", "0", "99.999999");
    kx_matching_decide(&o, &q, &op, &m);
    ok(kx_matching_apply(&o, &m, T0 + 1) == KX_MATCH_OK
       && o.status == KX_ORDER_CANCELED && o.filled_qty.v == 0
       && o.canceled_at == T0 + 1,
       "fok buy 100, ask size 99.999999: canceled, nothing filled");

    o = order(KX_ORDER_LIMIT, KX_SIDE_BUY, KX_TIF_FOK, "100", "50.5", NULL);
    q = quote("50", "51", "50", "0", "1000");
    decides(&o, &q, &op, "0", "0", KX_ORDER_CANCELED,
            "fok limit not marketable: canceled");
}


static void
test_expiry(void)
{
    kx_order_t       o;
    kx_quote_t       q;
    kx_match_t       m;
    kx_match_opts_t  op;

    q = quote("99", "101", "100", "50", "50");
    o = order(KX_ORDER_LIMIT, KX_SIDE_BUY, KX_TIF_DAY, "10", "102", NULL);

    ok(!kx_matching_expired(&o, CLOSE - 1, CLOSE),
       "a day order lives until the close");
    ok(kx_matching_expired(&o, CLOSE, CLOSE), "and expires at the close");
    ok(!kx_matching_expired(&o, CLOSE + 1, 0), "no known close: no expiry");

    op = opts(CLOSE - 1, CLOSE, 0);
    decides(&o, &q, &op, "10", "101", KX_ORDER_FILLED,
            "a marketable day order fills a microsecond before the close");

    op = opts(CLOSE, CLOSE, 0);
    kx_matching_decide(&o, &q, &op, &m);
    ok(m.status == KX_ORDER_EXPIRED && m.fill_qty.v == 0,
       "at the close it expires instead, marketable or not");
    ok(kx_matching_apply(&o, &m, CLOSE) == KX_MATCH_OK
       && o.status == KX_ORDER_EXPIRED && o.expired_at == CLOSE,
       "  applied: expired, expired_at stamped");

    o = order(KX_ORDER_STOP, KX_SIDE_BUY, KX_TIF_DAY, "10", NULL, "500");
    op = opts(CLOSE + 5, CLOSE, 0);
    decides(&o, &q, &op, "0", "0", KX_ORDER_EXPIRED,
            "an untriggered day stop expires too");

    o = order(KX_ORDER_LIMIT, KX_SIDE_BUY, KX_TIF_DAY, "10", "102", NULL);
    o.status = KX_ORDER_PARTIALLY_FILLED;
    o.filled_qty = dec("3");
    o.filled_avg_price = dec("100");
    decides(&o, &q, &op, "0", "0", KX_ORDER_EXPIRED,
            "a partially filled day order expires");

    o = order(KX_ORDER_LIMIT, KX_SIDE_BUY, KX_TIF_GTC, "10", "1", NULL);
    ok(!kx_matching_expired(&o, CLOSE + INT64_C(86400000000) * 365, CLOSE),
       "gtc never expires");
    op = opts(CLOSE + 1, CLOSE, 0);
    decides(&o, &q, &op, "0", "0", KX_ORDER_ACCEPTED,
            "a gtc order rests after the close");
}


static void
test_notional(void)
{
    kx_dec_t         qty;
    kx_order_t       o;
    kx_quote_t       q;
    kx_match_t       m;
    kx_match_opts_t  op;

    ok(kx_matching_notional_qty(dec("100"), dec("3"), &qty) == KX_MATCH_OK
       && qty.v == dec("33.333333").v, "100 / 3 = 33.333333 (down)");
    ok(kx_matching_notional_qty(dec("2"), dec("3"), &qty) == KX_MATCH_OK
       && qty.v == dec("0.666666").v, "2 / 3 = 0.666666, not ...667");
    ok(kx_matching_notional_qty(dec("100"), dec("7"), &qty) == KX_MATCH_OK
       && qty.v == dec("14.285714").v, "100 / 7 = 14.285714");
    ok(kx_matching_notional_qty(dec("0.01"), dec("20000.01"), &qty)
       == KX_MATCH_OK && qty.v == 0, "a cent buys nothing at 20000.01");
    ok(kx_matching_notional_qty(dec("1"), dec("0"), &qty) == KX_MATCH_EINVAL,
       "no division by a zero price");

    op = opts(T0, CLOSE, 0);

    kx_order_init(&o);
    strcpy(o.symbol, "AAPL");
    o.notional = dec("100");
    o.status = KX_ORDER_ACCEPTED;

    q = quote("2.99", "3", "3", "1000", "1000");
    kx_matching_decide(&o, &q, &op, &m);
    ok(m.fill_qty.v == dec("33.333333").v && m.fill_price.v == dec("3").v
       && m.status == KX_ORDER_FILLED,
       "notional 100 buy at ask 3: 33.333333 shares, filled");
    ok(kx_matching_apply(&o, &m, T0 + 1) == KX_MATCH_OK
       && o.status == KX_ORDER_FILLED && o.filled_qty.v == m.fill_qty.v,
       "  applied: filled (99.999999 spent, 0.000001 left)");

    kx_order_init(&o);
    o.side = KX_SIDE_SELL;
    o.notional = dec("50");
    o.status = KX_ORDER_ACCEPTED;
    decides(&o, &q, &op, "16.722408", "2.99", KX_ORDER_FILLED,
            "notional 50 sell at bid 2.99: 16.722408 shares");

    /* partial liquidity: the rest of the notional is bought later */
    kx_order_init(&o);
    o.notional = dec("1000");
    o.status = KX_ORDER_ACCEPTED;

    q = quote("9", "10", "10", "1000", "40");
    kx_matching_decide(&o, &q, &op, &m);
    ok(m.fill_qty.v == dec("40").v && m.status == KX_ORDER_PARTIALLY_FILLED,
       "notional 1000 at ask 10 with 40 offered: 40 of 100 shares");
    kx_matching_apply(&o, &m, T0 + 1);

    q = quote("19", "20", "20", "1000", "1000");
    kx_matching_decide(&o, &q, &op, &m);
    ok(m.fill_qty.v == dec("30").v && m.status == KX_ORDER_FILLED,
       "  600 left at ask 20: 30 shares, filled");
    kx_matching_apply(&o, &m, T0 + 2);
    ok(o.status == KX_ORDER_FILLED && o.filled_qty.v == dec("70").v
       && o.filled_avg_price.v == dec("14.28571429").v,
       "  70 shares for 1000: average 14.28571429");

    /* too small to buy anything */
    kx_order_init(&o);
    o.notional = dec("0.01");
    o.status = KX_ORDER_ACCEPTED;
    q = quote("20000", "20000.01", "20000", "1000", "1000");
    kx_matching_decide(&o, &q, &op, &m);
    ok(m.fill_qty.v == 0 && m.status == KX_ORDER_CANCELED && m.reason,
       "notional 0.01 at 20000.01 buys nothing: canceled");

    o.status = KX_ORDER_PARTIALLY_FILLED;
    o.notional = dec("10000");
    o.filled_qty = dec("0.5");
    o.filled_avg_price = dec("20000");
    kx_matching_decide(&o, &q, &op, &m);
    ok(m.fill_qty.v == 0 && m.status == KX_ORDER_FILLED,
       "the rest of a partly filled notional buys nothing: filled");
}


static void
test_state(void)
{
    int              s;
    kx_order_t       o;
    kx_quote_t       q;
    kx_match_t       m;
    kx_match_opts_t  op;

    op = opts(T0, 0, 0);
    q = quote("99", "101", "100", "50", "50");

    for (s = KX_ORDER_FILLED; s < KX_ORDER_STATUS_COUNT; s++) {
        o = order(KX_ORDER_MARKET, KX_SIDE_BUY, KX_TIF_DAY, "1", NULL, NULL);
        o.status = (kx_order_status_e) s;
        ok(kx_matching_decide(&o, &q, &op, &m) == KX_MATCH_ESTATE,
           "a %s order is not matched", kx_order_status_name(o.status));
    }

    o = order(KX_ORDER_MARKET, KX_SIDE_BUY, KX_TIF_DAY, "1", NULL, NULL);
    o.status = KX_ORDER_NEW;
    decides(&o, &q, &op, "1", "101", KX_ORDER_FILLED,
            "a new order matches (new -> filled is legal)");

    /* a decision that does not fit the order is refused whole */
    m.fill_qty = dec("2");
    m.fill_price = dec("101");
    m.status = KX_ORDER_FILLED;
    m.triggered = 1;
    ok(kx_matching_apply(&o, &m, T0) == KX_MATCH_ESTATE
       && o.filled_qty.v == 0 && o.triggered_at == 0
       && o.status == KX_ORDER_NEW,
       "applying a fill larger than the order fails, order unchanged");
}


int
main(void)
{
    test_matrix();
    test_prices();
    test_stops();
    test_partial();
    test_expiry();
    test_notional();
    test_state();

    return kx_tap_done();
}
