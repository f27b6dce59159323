
/*
 * Copyright (C) Kianax
 */


#include <stdlib.h>
#include <string.h>

#include "trading/kx_risk.h"

#include "kx_tap.h"
#include "kx_test_dec.h"


static kx_order_t
order(kx_order_type_e type, kx_side_e side, const char *qty,
    const char *limit, const char *stop)
{
    kx_order_t  o;

    kx_order_init(&o);
    strcpy(o.symbol, "AAPL");
    o.type = type;
    o.side = side;
    o.quantity = dec(qty ? qty : "0");
    o.limit_price = dec(limit ? limit : "0");
    o.stop_price = dec(stop ? stop : "0");

    return o;
}


static kx_order_t
notional(kx_side_e side, const char *amount)
{
    kx_order_t  o;

    o = order(KX_ORDER_MARKET, side, NULL, NULL, NULL);
    o.notional = dec(amount);

    return o;
}


static kx_quote_t
quote(const char *bid, const char *ask, const char *last)
{
    kx_quote_t  q;

    memset(&q, 0, sizeof(q));
    q.bid = dec(bid);
    q.ask = dec(ask);
    q.last = dec(last);
    q.bid_size = dec("100");
    q.ask_size = dec("100");

    return q;
}


static kx_risk_account_t
account(const char *cash, const char *reserved, const char *pos)
{
    kx_risk_account_t  a;

    memset(&a, 0, sizeof(a));
    a.cash = dec(cash);
    a.reserved = dec(reserved);
    a.position_qty = dec(pos);

    return a;
}


static kx_risk_limits_t
nolimits(void)
{
    kx_risk_limits_t  l;

    memset(&l, 0, sizeof(l));

    return l;
}


/* checks the code and, if given, the reserve, the value or the message */
static int
risk_is(const kx_order_t *o, const kx_quote_t *q,
    const kx_risk_account_t *a, const kx_risk_limits_t *l, kx_risk_e want,
    const char *reserve, const char *message, const char *name)
{
    kx_risk_e         rc;
    kx_risk_result_t  r;

    rc = kx_risk_check(o, q, a, l, &r);

    if (ok(rc == want && r.code == want
           && (reserve == NULL || r.reserve.v == dec(reserve).v)
           && (message == NULL || strcmp(r.message, message) == 0)
           && (want == KX_RISK_OK) == (r.message[0] == '\0'),
           "%s: %s", name, kx_risk_code(want)))
    {
        return 1;
    }

    diag("  got %s (%s), reserve %" PRId64, kx_risk_code(rc), r.message,
         r.reserve.v);

    return 0;
}


static void
test_reserve(void)
{
    kx_order_t         o;
    kx_quote_t         q;
    kx_risk_result_t   r;
    kx_risk_limits_t   l;
    kx_risk_account_t  a;

    l = nolimits();
    a = account("100000", "0", "0");
    q = quote("99", "101", "100");

    o = order(KX_ORDER_MARKET, KX_SIDE_BUY, "10", NULL, NULL);
    risk_is(&o, &q, &a, &l, KX_RISK_OK, "1010", NULL,
            "market buy reserves qty x ask");

    l.market_buffer_pct = dec("5");
    risk_is(&o, &q, &a, &l, KX_RISK_OK, "1060.5", NULL,
            "  plus a 5% buffer: 1060.50");
    kx_risk_check(&o, &q, &a, &l, &r);
    ok(r.order_value.v == dec("1010").v && r.price.v == dec("101").v,
       "  the buffer is not part of the order value");

    l.market_buffer_pct = dec("0.001");
    risk_is(&o, &q, &a, &l, KX_RISK_OK, "1010.02", NULL,
            "  a 0.001% buffer (0.0101) rounds up to the cent");
    l = nolimits();

    o = order(KX_ORDER_MARKET, KX_SIDE_BUY, "3", NULL, NULL);
    q = quote("33", "33.333333", "33");
    risk_is(&o, &q, &a, &l, KX_RISK_OK, "100", NULL,
            "3 x 33.333333 = 99.999999 reserves 100.00 (up)");

    o = order(KX_ORDER_LIMIT, KX_SIDE_BUY, "0.333333", "100.0001", NULL);
    risk_is(&o, &q, &a, &l, KX_RISK_OK, "33.34", NULL,
            "limit 0.333333 x 100.0001 = 33.33333333 reserves 33.34");

    q = quote("99", "101", "100");
    o = order(KX_ORDER_LIMIT, KX_SIDE_BUY, "10", "95", NULL);
    risk_is(&o, &q, &a, &l, KX_RISK_OK, "950", NULL,
            "limit buy reserves limit x qty, not the ask");

    o = order(KX_ORDER_STOP, KX_SIDE_BUY, "10", NULL, "110");
    risk_is(&o, &q, &a, &l, KX_RISK_OK, "1100", NULL,
            "stop buy reserves stop x qty");

    o = order(KX_ORDER_STOP_LIMIT, KX_SIDE_BUY, "10", "112", "110");
    risk_is(&o, &q, &a, &l, KX_RISK_OK, "1120", NULL,
            "stop_limit buy reserves limit x qty");

    o = notional(KX_SIDE_BUY, "250.55");
    risk_is(&o, &q, &a, &l, KX_RISK_OK, "250.55", NULL,
            "notional buy reserves the notional");
    kx_risk_check(&o, &q, &a, &l, &r);
    ok(r.qty.v == dec("2.480694").v,
       "  its quantity is estimated up: 250.55 / 101 = 2.4806930... "
       "-> 2.480694");

    o = notional(KX_SIDE_SELL, "100");
    a = account("0", "0", "50");
    q = quote("3", "3.01", "3");
    risk_is(&o, &q, &a, &l, KX_RISK_OK, "0", NULL,
            "notional sell reserves nothing");
    kx_risk_check(&o, &q, &a, &l, &r);
    ok(r.qty.v == dec("33.333334").v,
       "  its quantity is estimated up: 100 / 3 = 33.333334");

    a = account("0", "0", "33.333333");
    risk_is(&o, &q, &a, &l, KX_RISK_INSUFFICIENT_POSITION, NULL, NULL,
            "  so 33.333333 held is not enough");

    o = order(KX_ORDER_MARKET, KX_SIDE_SELL, "10", NULL, NULL);
    a = account("0", "0", "10");
    risk_is(&o, &q, &a, &l, KX_RISK_OK, "0", NULL,
            "market sell of what is held reserves nothing");

    /* valuing a market order needs a price */
    a = account("100000", "0", "10");
    q = quote("0", "0", "0");
    o = order(KX_ORDER_MARKET, KX_SIDE_BUY, "1", NULL, NULL);
    risk_is(&o, &q, &a, &l, KX_RISK_QUOTE_UNAVAILABLE, NULL,
            "no quote for AAPL to value the order", "market buy, no quote");
    ok(kx_risk_status(KX_RISK_QUOTE_UNAVAILABLE) == 503, "  503");

    q = quote("0", "0", "100");
    risk_is(&o, &q, &a, &l, KX_RISK_OK, "100", NULL,
            "market buy with no ask is valued at the last trade");

    o = order(KX_ORDER_LIMIT, KX_SIDE_BUY, "1", "50", NULL);
    q = quote("0", "0", "0");
    risk_is(&o, &q, &a, &l, KX_RISK_OK, "50", NULL,
            "a limit order needs no quote without a collar");

    o = order(KX_ORDER_LIMIT, KX_SIDE_BUY, "1000000000", "1000000", NULL);
    risk_is(&o, &q, &a, &l, KX_RISK_OUT_OF_RANGE, NULL, NULL,
            "a value past the fixed-point range");
    ok(kx_risk_status(KX_RISK_OUT_OF_RANGE) == 422, "  422");
}


static void
test_buying_power(void)
{
    int                i, accepted;
    kx_risk_e          rc;
    kx_order_t         o;
    kx_quote_t         q;
    kx_risk_result_t   r;
    kx_risk_limits_t   l;
    kx_risk_account_t  a;

    l = nolimits();
    q = quote("99", "101", "100");

    a = account("10000", "0", "0");
    o = order(KX_ORDER_LIMIT, KX_SIDE_BUY, "100", "100", NULL);
    risk_is(&o, &q, &a, &l, KX_RISK_OK, "10000", NULL,
            "a buy of exactly the cash");

    a = account("9999.99", "0", "0");
    risk_is(&o, &q, &a, &l, KX_RISK_INSUFFICIENT_BUYING_POWER, "10000",
            "order needs 10000.00, buying power is 9999.99",
            "a cent short");
    ok(kx_risk_status(KX_RISK_INSUFFICIENT_BUYING_POWER) == 403
       && strcmp(kx_risk_code(KX_RISK_INSUFFICIENT_BUYING_POWER),
                 "insufficient_buying_power") == 0,
       "  403 insufficient_buying_power, as Alpaca");

    a = account("100000", "95000", "0");
    risk_is(&o, &q, &a, &l, KX_RISK_INSUFFICIENT_BUYING_POWER, NULL,
            "order needs 10000.00, buying power is 5000.00",
            "open buys' reservations count against buying power");

    /* ten orders of 10% of the cash each, reserving as they pass */
    a = account("100000", "0", "0");
    accepted = 0;

    for (i = 0; i < 11; i++) {
        rc = kx_risk_check(&o, &q, &a, &l, &r);

        if (rc == KX_RISK_OK) {
            accepted++;
            a.reserved.v += r.reserve.v;
            a.open_orders++;
        }
    }

    ok(accepted == 10 && a.reserved.v == dec("100000").v,
       "10 orders of 10%% of the cash pass, reserving all of it");
    ok(rc == KX_RISK_INSUFFICIENT_BUYING_POWER,
       "the 11th is refused: insufficient_buying_power");
    ok(strcmp(r.message, "order needs 10000.00, buying power is 0.00") == 0,
       "  with the amounts in the message");

    o = order(KX_ORDER_MARKET, KX_SIDE_SELL, "1", NULL, NULL);
    a = account("0", "0", "1");
    risk_is(&o, &q, &a, &l, KX_RISK_OK, "0", NULL,
            "a sell needs no buying power");

    o = order(KX_ORDER_LIMIT, KX_SIDE_BUY, "1", "100", NULL);
    a = account("50", "100", "0");
    risk_is(&o, &q, &a, &l, KX_RISK_INSUFFICIENT_BUYING_POWER, NULL,
            "order needs 100.00, buying power is -50.00",
            "over-reserved account (negative buying power)");
}


static void
test_shorting(void)
{
    kx_order_t         o;
    kx_quote_t         q;
    kx_risk_limits_t   l;
    kx_risk_account_t  a;

    l = nolimits();
    q = quote("99", "101", "100");

    o = order(KX_ORDER_MARKET, KX_SIDE_SELL, "10", NULL, NULL);
    a = account("0", "0", "10");
    risk_is(&o, &q, &a, &l, KX_RISK_OK, NULL, NULL, "sell all 10 held");

    o = order(KX_ORDER_MARKET, KX_SIDE_SELL, "10.000001", NULL, NULL);
    risk_is(&o, &q, &a, &l, KX_RISK_INSUFFICIENT_POSITION, NULL,
            "sell of 10.000001 AAPL, only 10 available",
            "sell 10.000001 of 10");
    ok(kx_risk_status(KX_RISK_INSUFFICIENT_POSITION) == 403
       && strcmp(kx_risk_code(KX_RISK_INSUFFICIENT_POSITION),
                 "insufficient_position") == 0,
       "  403 insufficient_position");

    o = order(KX_ORDER_LIMIT, KX_SIDE_SELL, "7", "100", NULL);
    a.open_sell_qty = dec("4");
    risk_is(&o, &q, &a, &l, KX_RISK_INSUFFICIENT_POSITION, NULL,
            "sell of 7 AAPL, only 6 available",
            "shares in open sells are not available again");

    o = order(KX_ORDER_LIMIT, KX_SIDE_SELL, "6", "100", NULL);
    risk_is(&o, &q, &a, &l, KX_RISK_OK, NULL, NULL,
            "  the 6 that are not promised can be sold");

    o = order(KX_ORDER_MARKET, KX_SIDE_SELL, "1", NULL, NULL);
    a = account("1000", "0", "0");
    risk_is(&o, &q, &a, &l, KX_RISK_INSUFFICIENT_POSITION, NULL,
            "sell of 1 AAPL, only 0 available", "no position: no sale");

    a = account("1000", "0", "-5");
    risk_is(&o, &q, &a, &l, KX_RISK_INSUFFICIENT_POSITION, NULL,
            "sell of 1 AAPL, only 0 available",
            "already short: no more without allow_short");

    l.allow_short = 1;
    risk_is(&o, &q, &a, &l, KX_RISK_OK, "0", NULL,
            "allow_short: selling short passes");

    a = account("0", "0", "0");
    o = order(KX_ORDER_MARKET, KX_SIDE_SELL, "1000", NULL, NULL);
    risk_is(&o, &q, &a, &l, KX_RISK_OK, "0", NULL,
            "allow_short: reserves nothing for a short");

    o = order(KX_ORDER_MARKET, KX_SIDE_BUY, "5", NULL, NULL);
    a = account("1000", "0", "-5");
    l.allow_short = 0;
    risk_is(&o, &q, &a, &l, KX_RISK_OK, "505", NULL,
            "buying to cover a short is a buy");
}


static void
test_limits(void)
{
    kx_order_t         o;
    kx_quote_t         q;
    kx_risk_limits_t   l;
    kx_risk_account_t  a;

    l = nolimits();
    q = quote("99", "101", "100");
    a = account("1000000", "0", "0");

    l.max_order_value = dec("10000");
    o = order(KX_ORDER_LIMIT, KX_SIDE_BUY, "100", "100", NULL);
    risk_is(&o, &q, &a, &l, KX_RISK_OK, NULL, NULL,
            "order value equal to max_order_value");

    o = order(KX_ORDER_LIMIT, KX_SIDE_BUY, "100", "100.0001", NULL);
    risk_is(&o, &q, &a, &l, KX_RISK_ORDER_VALUE_EXCEEDS_LIMIT, NULL,
            "order value 10000.01 exceeds the limit 10000.00",
            "a cent over max_order_value");
    ok(kx_risk_status(KX_RISK_ORDER_VALUE_EXCEEDS_LIMIT) == 403,
       "  403: account policy, not a malformed request");

    o = order(KX_ORDER_MARKET, KX_SIDE_SELL, "102", NULL, NULL);
    a.position_qty = dec("1000");
    risk_is(&o, &q, &a, &l, KX_RISK_ORDER_VALUE_EXCEEDS_LIMIT, NULL,
            "order value 10098.00 exceeds the limit 10000.00",
            "max_order_value applies to sells (at the bid)");

    o = notional(KX_SIDE_BUY, "10000.01");
    risk_is(&o, &q, &a, &l, KX_RISK_ORDER_VALUE_EXCEEDS_LIMIT, NULL, NULL,
            "and to notional orders");
    l = nolimits();

    /* max_position_value: valued at the order's price */
    l.max_position_value = dec("10000");
    a = account("1000000", "0", "50");
    o = order(KX_ORDER_LIMIT, KX_SIDE_BUY, "50", "100", NULL);
    risk_is(&o, &q, &a, &l, KX_RISK_OK, NULL, NULL,
            "50 held + 50 at 100 = 10000, the limit");

    o = order(KX_ORDER_LIMIT, KX_SIDE_BUY, "51", "100", NULL);
    risk_is(&o, &q, &a, &l, KX_RISK_POSITION_LIMIT_EXCEEDED, NULL,
            "position in AAPL would be worth 10100.00, the limit is 10000.00",
            "50 held + 51 at 100 is over");
    ok(kx_risk_status(KX_RISK_POSITION_LIMIT_EXCEEDED) == 403, "  403");

    a = account("1000000", "0", "200");
    o = order(KX_ORDER_MARKET, KX_SIDE_SELL, "10", NULL, NULL);
    risk_is(&o, &q, &a, &l, KX_RISK_OK, NULL, NULL,
            "a sell that reduces an over-limit position passes");

    o = order(KX_ORDER_MARKET, KX_SIDE_SELL, "300", NULL, NULL);
    l.allow_short = 1;
    risk_is(&o, &q, &a, &l, KX_RISK_OK, NULL, NULL,
            "so does one crossing to a smaller short (200 -> -100)");

    o = order(KX_ORDER_MARKET, KX_SIDE_SELL, "302", NULL, NULL);
    a = account("1000000", "0", "0");
    o.quantity = dec("101");
    risk_is(&o, &q, &a, &l, KX_RISK_OK, NULL, NULL,
            "short 101 at bid 99 = 9999");
    o.quantity = dec("102");
    risk_is(&o, &q, &a, &l, KX_RISK_POSITION_LIMIT_EXCEEDED, NULL, NULL,
            "short 102 at bid 99 = 10098 is over");
    l = nolimits();

    /* max_open_orders */
    l.max_open_orders = 3;
    a = account("1000000", "0", "0");
    a.open_orders = 2;
    o = order(KX_ORDER_LIMIT, KX_SIDE_BUY, "1", "100", NULL);
    risk_is(&o, &q, &a, &l, KX_RISK_OK, NULL, NULL, "2 open, limit 3");
    a.open_orders = 3;
    risk_is(&o, &q, &a, &l, KX_RISK_TOO_MANY_OPEN_ORDERS, NULL,
            "3 open orders, the limit is 3", "3 open, limit 3");
    ok(kx_risk_status(KX_RISK_TOO_MANY_OPEN_ORDERS) == 403, "  403");
    l = nolimits();

    /* the first failure in a fixed order */
    l.max_open_orders = 1;
    l.max_order_value = dec("1");
    a = account("0", "0", "0");
    a.open_orders = 1;
    risk_is(&o, &q, &a, &l, KX_RISK_TOO_MANY_OPEN_ORDERS, NULL, NULL,
            "open orders are checked before value and buying power");
    a.open_orders = 0;
    risk_is(&o, &q, &a, &l, KX_RISK_ORDER_VALUE_EXCEEDS_LIMIT, NULL, NULL,
            "order value before buying power");
}


static void
test_collar(void)
{
    kx_order_t         o;
    kx_quote_t         q;
    kx_risk_limits_t   l;
    kx_risk_account_t  a;

    l = nolimits();
    l.collar_pct = dec("10");
    a = account("1000000", "0", "1000");
    q = quote("99", "101", "100");

    o = order(KX_ORDER_LIMIT, KX_SIDE_BUY, "1", "110", NULL);
    risk_is(&o, &q, &a, &l, KX_RISK_OK, NULL, NULL,
            "buy limit 110, last 100, collar 10%: on the bound");
    o = order(KX_ORDER_LIMIT, KX_SIDE_BUY, "1", "110.0001", NULL);
    risk_is(&o, &q, &a, &l, KX_RISK_PRICE_OUTSIDE_COLLAR, NULL,
            "limit_price 110.0001 is more than 10% from 100",
            "buy limit 110.0001 is outside");
    ok(kx_risk_status(KX_RISK_PRICE_OUTSIDE_COLLAR) == 422
       && strcmp(kx_risk_code(KX_RISK_PRICE_OUTSIDE_COLLAR),
                 "price_outside_collar") == 0, "  422 price_outside_collar");

    o = order(KX_ORDER_LIMIT, KX_SIDE_SELL, "1", "90", NULL);
    risk_is(&o, &q, &a, &l, KX_RISK_OK, NULL, NULL, "sell limit 90: bound");
    o = order(KX_ORDER_LIMIT, KX_SIDE_SELL, "1", "89.9999", NULL);
    risk_is(&o, &q, &a, &l, KX_RISK_PRICE_OUTSIDE_COLLAR, NULL, NULL,
            "sell limit 89.9999 is outside");
    o = order(KX_ORDER_LIMIT, KX_SIDE_BUY, "1", "1000", NULL);
    risk_is(&o, &q, &a, &l, KX_RISK_PRICE_OUTSIDE_COLLAR, NULL, NULL,
            "the fat finger: 1000 for 100");

    o = order(KX_ORDER_MARKET, KX_SIDE_BUY, "1", NULL, NULL);
    risk_is(&o, &q, &a, &l, KX_RISK_OK, NULL, NULL,
            "market orders have no limit price to collar");
    o = order(KX_ORDER_STOP, KX_SIDE_BUY, "1", NULL, "200");
    risk_is(&o, &q, &a, &l, KX_RISK_OK, NULL, NULL,
            "nor do stop orders");

    o = order(KX_ORDER_STOP_LIMIT, KX_SIDE_BUY, "1", "215", "200");
    risk_is(&o, &q, &a, &l, KX_RISK_OK, NULL, NULL,
            "stop_limit 200/215: collared around the stop, not the last");
    o = order(KX_ORDER_STOP_LIMIT, KX_SIDE_BUY, "1", "220.0001", "200");
    risk_is(&o, &q, &a, &l, KX_RISK_PRICE_OUTSIDE_COLLAR, NULL,
            "limit_price 220.0001 is more than 10% from 200",
            "stop_limit 200/220.0001 is outside");

    q = quote("98", "102", "0");
    o = order(KX_ORDER_LIMIT, KX_SIDE_BUY, "1", "110", NULL);
    risk_is(&o, &q, &a, &l, KX_RISK_OK, NULL, NULL,
            "no last trade: the midpoint 100 is the reference");
    o = order(KX_ORDER_LIMIT, KX_SIDE_BUY, "1", "110.01", NULL);
    risk_is(&o, &q, &a, &l, KX_RISK_PRICE_OUTSIDE_COLLAR, NULL, NULL,
            "  110.01 is outside");

    q = quote("98", "0", "0");
    o = order(KX_ORDER_LIMIT, KX_SIDE_BUY, "1", "100", NULL);
    risk_is(&o, &q, &a, &l, KX_RISK_QUOTE_UNAVAILABLE, NULL, NULL,
            "no last and no midpoint: cannot collar");

    l.collar_pct = dec("0");
    risk_is(&o, &q, &a, &l, KX_RISK_OK, NULL, NULL,
            "collar 0 is no collar");

    /* the collar comes first: a request property */
    l.collar_pct = dec("10");
    l.max_open_orders = 1;
    a = account("0", "0", "0");
    a.open_orders = 5;
    q = quote("99", "101", "100");
    o = order(KX_ORDER_LIMIT, KX_SIDE_BUY, "1", "500", NULL);
    risk_is(&o, &q, &a, &l, KX_RISK_PRICE_OUTSIDE_COLLAR, NULL, NULL,
            "the collar is checked first");
}


static void
test_codes(void)
{
    int  i, all;

    all = 1;

    for (i = 0; i < KX_RISK_COUNT; i++) {
        all &= kx_risk_code((kx_risk_e) i) != NULL
               && (i == KX_RISK_OK || kx_risk_status((kx_risk_e) i) >= 400);
    }

    ok(all, "every failure has a code and an error status");
    ok(strcmp(kx_risk_code(KX_RISK_COUNT), "internal_error") == 0
       && kx_risk_status(KX_RISK_COUNT) == 500, "out of range: 500");
}


int
main(void)
{
    test_reserve();
    test_buying_power();
    test_shorting();
    test_limits();
    test_collar();
    test_codes();

    return kx_tap_done();
}
