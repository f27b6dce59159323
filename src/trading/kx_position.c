
/*
 * Copyright (C) Kianax
 */


#include "trading/kx_avg_price.h"
#include "trading/kx_position.h"


int
kx_position_apply_fill(kx_position_t *pos, kx_dec_t *cash,
    kx_side_e side, kx_dec_t qty, kx_dec_t price, int allow_short,
    kx_fill_result_t *res)
{
    kx_dec_t          signed_qty, q1, a1, b0, b1, r, c1, mag0, mag1;
    kx_position_t     p;
    kx_fill_result_t  f;

    if (qty.v <= 0 || price.v <= 0
        || (side != KX_SIDE_BUY && side != KX_SIDE_SELL))
    {
        return KX_POSITION_EINVAL;
    }

    p = *pos;
    signed_qty.v = (side == KX_SIDE_BUY) ? qty.v : -qty.v;

    if (kx_dec_add(p.qty, signed_qty, &q1) != KX_DEC_OK
        || kx_dec_mul(qty, price, KX_ROUND_HALF_EVEN, &f.value) != KX_DEC_OK)
    {
        return KX_POSITION_ERANGE;
    }

    if (side == KX_SIDE_SELL && q1.v < 0 && !allow_short) {
        return KX_POSITION_ESHORT;
    }

    (void) kx_dec_abs(p.qty, &mag0);
    (void) kx_dec_abs(q1, &mag1);

    if (q1.v == 0) {
        /* closed exactly */
        a1.v = 0;
        f.closed_qty = qty;
        f.opened_qty.v = 0;

    } else if (kx_dec_sign(q1) != kx_dec_sign(p.qty)) {
        /* opened from flat, or crossed zero: the new side is all at price */
        a1 = price;
        f.closed_qty = mag0;
        f.opened_qty = mag1;

    } else if (kx_dec_cmp(mag1, mag0) > 0) {
        /* added to the same side */
        if (kx_avg_price(mag0, p.avg_cost, qty, price, &a1) != KX_DEC_OK) {
            return KX_POSITION_ERANGE;
        }

        f.closed_qty.v = 0;
        f.opened_qty = qty;

    } else {
        /* reduced: what remains keeps its cost */
        a1 = p.avg_cost;
        f.closed_qty = qty;
        f.opened_qty.v = 0;
    }

    f.cash_delta.v = (side == KX_SIDE_BUY) ? -f.value.v : f.value.v;

    /* realized := cash_delta + (b1 - b0), which keeps the invariant */
    if (kx_dec_mul(p.qty, p.avg_cost, KX_ROUND_HALF_EVEN, &b0) != KX_DEC_OK
        || kx_dec_mul(q1, a1, KX_ROUND_HALF_EVEN, &b1) != KX_DEC_OK
        || kx_dec_sub(b1, b0, &r) != KX_DEC_OK
        || kx_dec_add(r, f.cash_delta, &f.realized_pl) != KX_DEC_OK
        || kx_dec_add(p.realized_pl, f.realized_pl, &p.realized_pl)
           != KX_DEC_OK
        || kx_dec_add(*cash, f.cash_delta, &c1) != KX_DEC_OK)
    {
        return KX_POSITION_ERANGE;
    }

    p.qty = q1;
    p.avg_cost = a1;

    *pos = p;
    *cash = c1;

    if (res) {
        *res = f;
    }

    return KX_POSITION_OK;
}


int
kx_position_cost_basis(const kx_position_t *pos, kx_dec_t *out)
{
    if (kx_dec_mul(pos->qty, pos->avg_cost, KX_ROUND_HALF_EVEN, out)
        != KX_DEC_OK)
    {
        return KX_POSITION_ERANGE;
    }

    return KX_POSITION_OK;
}


int
kx_position_market_value(const kx_position_t *pos, kx_dec_t price,
    kx_dec_t *out)
{
    if (price.v < 0) {
        return KX_POSITION_EINVAL;
    }

    if (kx_dec_mul(pos->qty, price, KX_ROUND_HALF_EVEN, out) != KX_DEC_OK) {
        return KX_POSITION_ERANGE;
    }

    return KX_POSITION_OK;
}


int
kx_position_unrealized_pl(const kx_position_t *pos, kx_dec_t price,
    kx_dec_t *out)
{
    int       rc;
    kx_dec_t  mv, cb;

    rc = kx_position_market_value(pos, price, &mv);
    if (rc != KX_POSITION_OK) {
        return rc;
    }

    rc = kx_position_cost_basis(pos, &cb);
    if (rc != KX_POSITION_OK) {
        return rc;
    }

    if (kx_dec_sub(mv, cb, out) != KX_DEC_OK) {
        return KX_POSITION_ERANGE;
    }

    return KX_POSITION_OK;
}


int
kx_portfolio_summary(kx_dec_t cash, kx_dec_t realized_pl,
    const kx_holding_t *holdings, size_t n, kx_portfolio_t *out)
{
    int             rc;
    size_t          i;
    kx_dec_t        price, mv, upl;
    kx_portfolio_t  s;

    s.cash_balance = cash;
    s.realized_pl = realized_pl;
    s.positions_value.v = 0;
    s.unrealized_pl.v = 0;

    for (i = 0; i < n; i++) {
        price = holdings[i].price.v > 0 ? holdings[i].price
                                        : holdings[i].pos.avg_cost;

        rc = kx_position_market_value(&holdings[i].pos, price, &mv);
        if (rc != KX_POSITION_OK) {
            return rc;
        }

        rc = kx_position_unrealized_pl(&holdings[i].pos, price, &upl);
        if (rc != KX_POSITION_OK) {
            return rc;
        }

        if (kx_dec_add(s.positions_value, mv, &s.positions_value)
            != KX_DEC_OK
            || kx_dec_add(s.unrealized_pl, upl, &s.unrealized_pl)
               != KX_DEC_OK)
        {
            return KX_POSITION_ERANGE;
        }
    }

    if (kx_dec_add(cash, s.positions_value, &s.total_value) != KX_DEC_OK) {
        return KX_POSITION_ERANGE;
    }

    *out = s;

    return KX_POSITION_OK;
}
