
/*
 * Copyright (C) Kianax
 */


#ifndef _KX_POSITION_H_INCLUDED_
#define _KX_POSITION_H_INCLUDED_


#include <stddef.h>

#include "core/kx_decimal.h"
#include "trading/kx_order.h"


/*
 * Position accounting with average cost, exact in kx_dec units.
 *
 * A position is (qty, avg_cost): qty < 0 is a short, avg_cost is the
 * average entry price (>= 0, 0 when flat), as trading.positions stores
 * them.  Its cost basis is DEFINED as
 *
 *     cost_basis = qty x avg_cost, rounded half-even to 8 places
 *
 * (negative for a short: what covering it at cost would pay).  Every
 * fill then keeps this invariant exactly, to the last 10^-8:
 *
 *     cash + SUM(cost_basis) - realized_pl == starting cash
 *
 * because a fill's realized P&L is defined as what makes it hold:
 *
 *     realized = cash_delta + (cost_basis_after - cost_basis_before)
 *
 * For a reducing fill that is (price - avg_cost) x qty (and
 * (avg_cost - price) x qty for a cover), up to the rounding of the
 * amounts.  For an adding fill it is the rounding residue of the new
 * average cost: qty x avg_cost cannot be exact in 8 places (6-place
 * quantities times 8-place prices need 14), so half a unit of avg_cost
 * times the quantity is carried into realized_pl rather than lost, at
 * most qty x 0.5e-8 (half a cent on a million shares) per fill.
 * Carrying it into realized_pl rather than into a separate cost-basis
 * column keeps the whole state in (qty, avg_cost, realized_pl, cash),
 * which is what the database stores.
 *
 * Rounding: the cash amount of a fill is qty x price rounded half-even
 * to 8 places (a fill moves cash by the same amount the trade records);
 * a new average cost is the exact volume-weighted average of the old
 * position and the fill, rounded half-even to 8 places.  Amounts are
 * kept to 8 places and presented to 2 (kx_jw_dec_str(w, d, 2)).
 */

enum {
    KX_POSITION_OK = 0,
    KX_POSITION_EINVAL,         /* qty or price not > 0, bad side */
    KX_POSITION_ESHORT,         /* the sell would go short, not allowed */
    KX_POSITION_ERANGE          /* an amount left the fixed-point range */
};


typedef struct {
    kx_dec_t            qty;            /* < 0: short */
    kx_dec_t            avg_cost;       /* >= 0; 0 when flat */
    kx_dec_t            realized_pl;    /* realized on this symbol */
} kx_position_t;


/* what one fill did */
typedef struct {
    kx_dec_t            value;          /* qty x price, half-even */
    kx_dec_t            cash_delta;     /* -value (buy) or +value (sell) */
    kx_dec_t            realized_pl;    /* realized by this fill */
    kx_dec_t            closed_qty;     /* part that reduced the position */
    kx_dec_t            opened_qty;     /* part that opened or added */
} kx_fill_result_t;


typedef struct {
    kx_position_t       pos;
    kx_dec_t            price;          /* current price; 0: unknown */
} kx_holding_t;


typedef struct {
    kx_dec_t            cash_balance;
    kx_dec_t            positions_value;
    kx_dec_t            total_value;
    kx_dec_t            realized_pl;
    kx_dec_t            unrealized_pl;
} kx_portfolio_t;


/*
 * Applies a fill of qty (> 0) at price (> 0) to pos and *cash.  A buy
 * adds to a long or covers a short; a sell reduces a long or, when
 * allow_short, opens or adds to a short.  A fill that crosses zero is
 * a close of the whole position and an open of the rest at price
 * (res->closed_qty and res->opened_qty).  A sell that would leave
 * qty < 0 without allow_short is KX_POSITION_ESHORT.  On any error pos
 * and *cash are unchanged.  res may be NULL.
 */
int kx_position_apply_fill(kx_position_t *pos, kx_dec_t *cash,
    kx_side_e side, kx_dec_t qty, kx_dec_t price, int allow_short,
    kx_fill_result_t *res);

/* qty x avg_cost, half-even: the term of the invariant */
int kx_position_cost_basis(const kx_position_t *pos, kx_dec_t *out);

/* qty x price, half-even; negative for a short */
int kx_position_market_value(const kx_position_t *pos, kx_dec_t price,
    kx_dec_t *out);

/* market value - cost basis */
int kx_position_unrealized_pl(const kx_position_t *pos, kx_dec_t price,
    kx_dec_t *out);

/*
 * GET /portfolio: positions_value and unrealized_pl are sums over the
 * holdings, each valued at its price or, without one, at its average
 * cost (as the view trading.portfolio_values does); total_value is
 * cash + positions_value.  realized_pl is the portfolio's, passed in
 * (trading.portfolios.realized_pl: the sum over every fill, including
 * positions since closed and no longer listed).
 */
int kx_portfolio_summary(kx_dec_t cash, kx_dec_t realized_pl,
    const kx_holding_t *holdings, size_t n, kx_portfolio_t *out);


#endif /* _KX_POSITION_H_INCLUDED_ */
