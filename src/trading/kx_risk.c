
/*
 * Copyright (C) Kianax
 */


#include <stdarg.h>
#include <stdio.h>

#include "trading/kx_risk.h"


#define KX_RISK_CENTS  2


typedef struct {
    int                 status;
    const char         *code;
} kx_risk_code_t;


static kx_risk_e kx_risk_collar(const kx_order_t *o, const kx_quote_t *q,
    const kx_risk_limits_t *lim, kx_risk_result_t *r);
static kx_risk_e kx_risk_position_limit(const kx_order_t *o,
    const kx_risk_account_t *acct, const kx_risk_limits_t *lim,
    kx_risk_result_t *r);
static kx_risk_e kx_risk_funds(const kx_order_t *o,
    const kx_risk_account_t *acct, const kx_risk_limits_t *lim,
    kx_risk_result_t *r);
static int kx_risk_value_up(kx_dec_t qty, kx_dec_t price, kx_dec_t *out);
static kx_risk_e kx_risk_fail(kx_risk_result_t *r, kx_risk_e code,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static const char *kx_risk_fmt(kx_dec_t d, unsigned places, char *buf);


/* in kx_risk_e order */
static const kx_risk_code_t  kx_risk_codes[KX_RISK_COUNT] = {
    { 200, "ok" },
    { 503, "quote_unavailable" },
    { 422, "price_outside_collar" },
    { 403, "too_many_open_orders" },
    { 403, "order_value_exceeds_limit" },
    { 403, "position_limit_exceeded" },
    { 403, "insufficient_buying_power" },
    { 403, "insufficient_position" },
    { 422, "amount_out_of_range" }
};


kx_risk_e
kx_risk_estimate(const kx_order_t *o, const kx_quote_t *q,
    const kx_risk_limits_t *lim, kx_risk_result_t *r)
{
    int       buy;
    kx_dec_t  price, qty, v, extra;

    r->code = KX_RISK_OK;
    r->price.v = 0;
    r->qty.v = 0;
    r->order_value.v = 0;
    r->reserve.v = 0;
    r->message[0] = '\0';

    buy = (o->side == KX_SIDE_BUY);

    switch (o->type) {

    case KX_ORDER_MARKET:
        price = buy ? q->ask : q->bid;

        if (price.v <= 0) {
            price = q->last;
        }

        if (price.v <= 0) {
            return kx_risk_fail(r, KX_RISK_QUOTE_UNAVAILABLE,
                                "no quote for %s to value the order",
                                o->symbol);
        }

        break;

    case KX_ORDER_STOP:
        price = o->stop_price;
        break;

    default:
        price = o->limit_price;
        break;
    }

    if (price.v <= 0) {
        return kx_risk_fail(r, KX_RISK_OUT_OF_RANGE, "order has no price");
    }

    r->price = price;

    if (o->notional.v != 0) {
        if (kx_dec_div(o->notional, price, KX_ROUND_CEIL, &qty) != KX_DEC_OK
            || kx_dec_round(qty, KX_ORDER_QTY_PLACES, KX_ROUND_CEIL, &qty)
               != KX_DEC_OK)
        {
            goto range;
        }

        r->qty = qty;
        r->order_value = o->notional;

        if (buy) {
            r->reserve = o->notional;
        }

        return KX_RISK_OK;
    }

    r->qty = o->quantity;

    if (kx_risk_value_up(o->quantity, price, &r->order_value) != KX_DEC_OK) {
        goto range;
    }

    if (!buy) {
        return KX_RISK_OK;
    }

    if (o->type != KX_ORDER_MARKET || lim->market_buffer_pct.v <= 0) {
        r->reserve = r->order_value;
        return KX_RISK_OK;
    }

    if (kx_dec_mul(o->quantity, price, KX_ROUND_CEIL, &v) != KX_DEC_OK
        || kx_dec_mul(v, lim->market_buffer_pct, KX_ROUND_CEIL, &extra)
           != KX_DEC_OK
        || kx_dec_div(extra, (kx_dec_t) { 100 * KX_DEC_ONE }, KX_ROUND_CEIL,
                      &extra)
           != KX_DEC_OK
        || kx_dec_add(v, extra, &v) != KX_DEC_OK
        || kx_dec_round(v, KX_RISK_CENTS, KX_ROUND_CEIL, &r->reserve)
           != KX_DEC_OK)
    {
        goto range;
    }

    return KX_RISK_OK;

range:

    return kx_risk_fail(r, KX_RISK_OUT_OF_RANGE,
                        "order value is out of range");
}


kx_risk_e
kx_risk_check(const kx_order_t *o, const kx_quote_t *q,
    const kx_risk_account_t *acct, const kx_risk_limits_t *lim,
    kx_risk_result_t *r)
{
    char  b1[KX_DEC_FMT_MAX], b2[KX_DEC_FMT_MAX];

    if (kx_risk_estimate(o, q, lim, r) != KX_RISK_OK) {
        return r->code;
    }

    if (kx_risk_collar(o, q, lim, r) != KX_RISK_OK) {
        return r->code;
    }

    if (lim->max_open_orders && acct->open_orders >= lim->max_open_orders) {
        return kx_risk_fail(r, KX_RISK_TOO_MANY_OPEN_ORDERS,
                            "%u open orders, the limit is %u",
                            acct->open_orders, lim->max_open_orders);
    }

    if (lim->max_order_value.v > 0
        && kx_dec_cmp(r->order_value, lim->max_order_value) > 0)
    {
        return kx_risk_fail(r, KX_RISK_ORDER_VALUE_EXCEEDS_LIMIT,
                            "order value %s exceeds the limit %s",
                            kx_risk_fmt(r->order_value, KX_RISK_CENTS, b1),
                            kx_risk_fmt(lim->max_order_value,
                                        KX_RISK_CENTS, b2));
    }

    if (kx_risk_position_limit(o, acct, lim, r) != KX_RISK_OK) {
        return r->code;
    }

    return kx_risk_funds(o, acct, lim, r);
}


static kx_risk_e
kx_risk_collar(const kx_order_t *o, const kx_quote_t *q,
    const kx_risk_limits_t *lim, kx_risk_result_t *r)
{
    char      b1[KX_DEC_FMT_MAX], b2[KX_DEC_FMT_MAX], b3[KX_DEC_FMT_MAX];
    kx_dec_t  ref, dev, lhs, rhs;

    if (lim->collar_pct.v <= 0
        || (o->type != KX_ORDER_LIMIT && o->type != KX_ORDER_STOP_LIMIT))
    {
        return KX_RISK_OK;
    }

    if (o->type == KX_ORDER_STOP_LIMIT) {
        ref = o->stop_price;

    } else if (q->last.v > 0) {
        ref = q->last;

    } else if (q->bid.v > 0 && q->ask.v > 0) {
        if (kx_dec_add(q->bid, q->ask, &ref) != KX_DEC_OK
            || kx_dec_div(ref, (kx_dec_t) { 2 * KX_DEC_ONE },
                          KX_ROUND_HALF_EVEN, &ref)
               != KX_DEC_OK)
        {
            return kx_risk_fail(r, KX_RISK_OUT_OF_RANGE,
                                "quote is out of range");
        }

    } else {
        return kx_risk_fail(r, KX_RISK_QUOTE_UNAVAILABLE,
                            "no quote for %s to check the limit price",
                            o->symbol);
    }

    /* |limit - ref| x 100 <= ref x pct, the product rounded generously */
    if (kx_dec_sub(o->limit_price, ref, &dev) != KX_DEC_OK
        || kx_dec_abs(dev, &dev) != KX_DEC_OK
        || kx_dec_mul(dev, (kx_dec_t) { 100 * KX_DEC_ONE }, KX_ROUND_CEIL,
                      &lhs)
           != KX_DEC_OK
        || kx_dec_mul(ref, lim->collar_pct, KX_ROUND_CEIL, &rhs)
           != KX_DEC_OK)
    {
        return kx_risk_fail(r, KX_RISK_OUT_OF_RANGE,
                            "limit price is out of range");
    }

    if (kx_dec_cmp(lhs, rhs) <= 0) {
        return KX_RISK_OK;
    }

    return kx_risk_fail(r, KX_RISK_PRICE_OUTSIDE_COLLAR,
                        "limit_price %s is more than %s%% from %s",
                        kx_risk_fmt(o->limit_price, 0, b1),
                        kx_risk_fmt(lim->collar_pct, 0, b2),
                        kx_risk_fmt(ref, 0, b3));
}


static kx_risk_e
kx_risk_position_limit(const kx_order_t *o, const kx_risk_account_t *acct,
    const kx_risk_limits_t *lim, kx_risk_result_t *r)
{
    char      b1[KX_DEC_FMT_MAX], b2[KX_DEC_FMT_MAX];
    kx_dec_t  after, now, value;

    if (lim->max_position_value.v <= 0) {
        return KX_RISK_OK;
    }

    if ((o->side == KX_SIDE_BUY
         ? kx_dec_add(acct->position_qty, r->qty, &after)
         : kx_dec_sub(acct->position_qty, r->qty, &after))
        != KX_DEC_OK)
    {
        return kx_risk_fail(r, KX_RISK_OUT_OF_RANGE,
                            "position is out of range");
    }

    (void) kx_dec_abs(after, &after);
    (void) kx_dec_abs(acct->position_qty, &now);

    if (kx_dec_cmp(after, now) <= 0) {
        return KX_RISK_OK;
    }

    if (kx_risk_value_up(after, r->price, &value) != KX_DEC_OK) {
        return kx_risk_fail(r, KX_RISK_OUT_OF_RANGE,
                            "position value is out of range");
    }

    if (kx_dec_cmp(value, lim->max_position_value) <= 0) {
        return KX_RISK_OK;
    }

    return kx_risk_fail(r, KX_RISK_POSITION_LIMIT_EXCEEDED,
                        "position in %s would be worth %s, the limit is %s",
                        o->symbol, kx_risk_fmt(value, KX_RISK_CENTS, b1),
                        kx_risk_fmt(lim->max_position_value, KX_RISK_CENTS,
                                    b2));
}


static kx_risk_e
kx_risk_funds(const kx_order_t *o, const kx_risk_account_t *acct,
    const kx_risk_limits_t *lim, kx_risk_result_t *r)
{
    char      b1[KX_DEC_FMT_MAX], b2[KX_DEC_FMT_MAX];
    kx_dec_t  avail;

    if (o->side == KX_SIDE_BUY) {
        if (kx_dec_sub(acct->cash, acct->reserved, &avail) != KX_DEC_OK) {
            return kx_risk_fail(r, KX_RISK_OUT_OF_RANGE,
                                "buying power is out of range");
        }

        if (kx_dec_cmp(r->reserve, avail) <= 0) {
            return KX_RISK_OK;
        }

        return kx_risk_fail(r, KX_RISK_INSUFFICIENT_BUYING_POWER,
                            "order needs %s, buying power is %s",
                            kx_risk_fmt(r->reserve, KX_RISK_CENTS, b1),
                            kx_risk_fmt(avail, KX_RISK_CENTS, b2));
    }

    if (lim->allow_short) {
        return KX_RISK_OK;
    }

    if (kx_dec_sub(acct->position_qty, acct->open_sell_qty, &avail)
        != KX_DEC_OK)
    {
        return kx_risk_fail(r, KX_RISK_OUT_OF_RANGE,
                            "position is out of range");
    }

    if (kx_dec_cmp(r->qty, avail) <= 0) {
        return KX_RISK_OK;
    }

    if (avail.v < 0) {
        avail.v = 0;
    }

    return kx_risk_fail(r, KX_RISK_INSUFFICIENT_POSITION,
                        "sell of %s %s, only %s available",
                        kx_risk_fmt(r->qty, 0, b1), o->symbol,
                        kx_risk_fmt(avail, 0, b2));
}


/* qty x price rounded up to the cent */
static int
kx_risk_value_up(kx_dec_t qty, kx_dec_t price, kx_dec_t *out)
{
    int       rc;
    kx_dec_t  v;

    rc = kx_dec_mul(qty, price, KX_ROUND_CEIL, &v);
    if (rc != KX_DEC_OK) {
        return rc;
    }

    return kx_dec_round(v, KX_RISK_CENTS, KX_ROUND_CEIL, out);
}


static kx_risk_e
kx_risk_fail(kx_risk_result_t *r, kx_risk_e code, const char *fmt, ...)
{
    va_list  ap;

    r->code = code;

    va_start(ap, fmt);
    vsnprintf(r->message, sizeof(r->message), fmt, ap);
    va_end(ap);

    return code;
}


/* places 0: the exact value without trailing zeros */
static const char *
kx_risk_fmt(kx_dec_t d, unsigned places, char *buf)
{
    if (places) {
        (void) kx_dec_format(d, places, buf, KX_DEC_FMT_MAX);

    } else {
        (void) kx_dec_format_min(d, buf, KX_DEC_FMT_MAX);
    }

    return buf;
}


const char *
kx_risk_code(kx_risk_e rc)
{
    return (unsigned) rc < KX_RISK_COUNT ? kx_risk_codes[rc].code
                                         : "internal_error";
}


int
kx_risk_status(kx_risk_e rc)
{
    return (unsigned) rc < KX_RISK_COUNT ? kx_risk_codes[rc].status : 500;
}
