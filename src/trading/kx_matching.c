
/*
 * Copyright (C) Kianax
 */


#include "trading/kx_matching.h"


static int kx_matching_want(const kx_order_t *o, kx_dec_t price,
    kx_dec_t *want);


int
kx_matching_decide(const kx_order_t *o, const kx_quote_t *q,
    const kx_match_opts_t *opts, kx_match_t *m)
{
    int       buy, as_limit;
    kx_dec_t  price, size, want, fill;

    m->fill_qty.v = 0;
    m->fill_price.v = 0;
    m->status = o->status;
    m->triggered = 0;
    m->reason = NULL;

    if (!kx_order_status_is_open(o->status)) {
        return KX_MATCH_ESTATE;
    }

    if (kx_matching_expired(o, opts->now, opts->session_close)) {
        m->status = KX_ORDER_EXPIRED;
        m->reason = "day order expired at the session close";
        return KX_MATCH_OK;
    }

    if ((o->type == KX_ORDER_STOP || o->type == KX_ORDER_STOP_LIMIT)
        && o->triggered_at == 0)
    {
        if (!kx_matching_stop_reached(o, q)) {
            m->reason = "stop price not reached";
            return KX_MATCH_OK;
        }

        m->triggered = 1;
    }

    buy = (o->side == KX_SIDE_BUY);
    as_limit = (o->type == KX_ORDER_LIMIT || o->type == KX_ORDER_STOP_LIMIT);
    price = buy ? q->ask : q->bid;
    size = buy ? q->ask_size : q->bid_size;

    if (price.v <= 0) {
        m->reason = buy ? "no ask" : "no bid";
        goto unfilled;
    }

    if (as_limit
        && (buy ? kx_dec_cmp(price, o->limit_price) > 0
                : kx_dec_cmp(price, o->limit_price) < 0))
    {
        m->reason = "limit price not reached";
        goto unfilled;
    }

    if (kx_matching_want(o, price, &want) != KX_MATCH_OK) {
        return KX_MATCH_ERANGE;
    }

    if (want.v == 0) {
        /* only a notional order gets here: its rest buys no share */
        m->status = (o->filled_qty.v > 0) ? KX_ORDER_FILLED
                                          : KX_ORDER_CANCELED;
        m->reason = "notional too small for 0.000001 share";
        return KX_MATCH_OK;
    }

    fill = want;

    if (!opts->unlimited_liquidity && kx_dec_cmp(size, want) < 0) {
        fill = size;
    }

    if (fill.v <= 0) {
        m->reason = "no liquidity at the quote";
        goto unfilled;
    }

    if (o->tif == KX_TIF_FOK && kx_dec_cmp(fill, want) < 0) {
        m->reason = "fok: not enough liquidity to fill the whole order";
        goto unfilled;
    }

    m->fill_qty = fill;
    m->fill_price = price;

    if (kx_dec_cmp(fill, want) == 0) {
        m->status = KX_ORDER_FILLED;

    } else if (o->tif == KX_TIF_IOC) {
        m->status = KX_ORDER_CANCELED;
        m->reason = "ioc: the unfilled rest is canceled";

    } else {
        m->status = KX_ORDER_PARTIALLY_FILLED;
        m->reason = "partial fill: size at the quote";
    }

    return KX_MATCH_OK;

unfilled:

    if (o->tif == KX_TIF_IOC || o->tif == KX_TIF_FOK) {
        m->status = KX_ORDER_CANCELED;
    }

    return KX_MATCH_OK;
}


/* what the order still wants at this price, in shares */
static int
kx_matching_want(const kx_order_t *o, kx_dec_t price, kx_dec_t *want)
{
    kx_dec_t  rest;

    if (o->notional.v == 0) {
        return kx_order_remaining_qty(o, want) == KX_ORDER_OK
               ? KX_MATCH_OK : KX_MATCH_ERANGE;
    }

    if (kx_order_remaining_notional(o, &rest) != KX_ORDER_OK) {
        return KX_MATCH_ERANGE;
    }

    return kx_matching_notional_qty(rest, price, want);
}


int
kx_matching_apply(kx_order_t *o, const kx_match_t *m, int64_t now)
{
    kx_order_t  n;

    n = *o;

    if (m->triggered) {
        n.triggered_at = now;
    }

    if (m->fill_qty.v > 0) {
        switch (kx_order_fill(&n, m->fill_qty, m->fill_price, now)) {
        case KX_ORDER_OK:
            break;
        case KX_ORDER_ERANGE:
            return KX_MATCH_ERANGE;
        default:
            return KX_MATCH_ESTATE;
        }
    }

    if (m->status != n.status
        && kx_order_set_status(&n, m->status, now) != KX_ORDER_OK)
    {
        return KX_MATCH_ESTATE;
    }

    *o = n;

    return KX_MATCH_OK;
}


int
kx_matching_expired(const kx_order_t *o, int64_t now, int64_t session_close)
{
    return o->tif == KX_TIF_DAY && session_close != 0 && now >= session_close;
}


int
kx_matching_stop_reached(const kx_order_t *o, const kx_quote_t *q)
{
    if (o->type != KX_ORDER_STOP && o->type != KX_ORDER_STOP_LIMIT) {
        return 0;
    }

    if (o->side == KX_SIDE_BUY) {
        return (q->ask.v > 0 && kx_dec_cmp(q->ask, o->stop_price) >= 0)
               || (q->last.v > 0 && kx_dec_cmp(q->last, o->stop_price) >= 0);
    }

    return (q->bid.v > 0 && kx_dec_cmp(q->bid, o->stop_price) <= 0)
           || (q->last.v > 0 && kx_dec_cmp(q->last, o->stop_price) <= 0);
}


int
kx_matching_notional_qty(kx_dec_t notional, kx_dec_t price, kx_dec_t *out)
{
    kx_dec_t  q;

    if (price.v <= 0 || notional.v < 0) {
        return KX_MATCH_EINVAL;
    }

    /* both steps truncate a positive value: together, one floor */
    if (kx_dec_div(notional, price, KX_ROUND_DOWN, &q) != KX_DEC_OK
        || kx_dec_round(q, KX_ORDER_QTY_PLACES, KX_ROUND_DOWN, &q)
           != KX_DEC_OK)
    {
        return KX_MATCH_ERANGE;
    }

    *out = q;

    return KX_MATCH_OK;
}
