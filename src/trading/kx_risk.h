
/*
 * Copyright (C) Kianax
 */


#ifndef _KX_RISK_H_INCLUDED_
#define _KX_RISK_H_INCLUDED_


#include "core/kx_decimal.h"
#include "trading/kx_order.h"
#include "trading/kx_quote.h"


/*
 * Pre-acceptance risk checks of one order against its account, the
 * account's limits and the current quote.  Pure: the module reads the
 * inputs in the transaction that reserves (the conditional UPDATE on
 * trading.portfolios.reserved_cash is what makes concurrent orders
 * unable to overspend; this check gives the precise answer first).
 *
 * Valuation.  The order is valued at:
 *   market        the ask (buy) or the bid (sell), else the last trade;
 *                 with none of them, quote_unavailable;
 *   limit         limit_price;   stop_limit  limit_price;
 *   stop          stop_price.
 * A notional order's quantity is notional / price rounded UP to 6
 * places, so a sell never passes with fewer shares than it may sell.
 * order_value = quantity x price rounded UP to the cent (a notional
 * order's value is its notional).
 *
 * Reservation (buys only; a sell reserves nothing):
 *   market        quantity x price x (1 + market_buffer_pct / 100),
 *                 rounded UP to the cent; the buffer (default 0) covers
 *                 the ask moving before the fill;
 *   notional      the notional (the fill never spends more);
 *   limit, stop_limit  limit_price x quantity, UP to the cent;
 *   stop          stop_price x quantity, UP to the cent.
 * Every rounding of a reserved amount is UP, so we never under-reserve:
 * a limit buy fills at or below its limit, so its cost (quantity x
 * price, half-even to 8 places) never exceeds the reservation.  A
 * market or stop buy can fill above the price it was valued at; the
 * module then debits the real cost all the same.
 *
 * Checks, in this order (the first failure is reported):
 *   1. price_outside_collar (422): with collar_pct > 0, a limit price
 *      more than collar_pct percent from the reference (bounds
 *      included): for limit orders the last trade, else the bid/ask
 *      midpoint; for stop_limit orders the stop price, where the order
 *      will start to work.  A fat-fingered 1500 for 150.
 *   2. too_many_open_orders (403): open_orders >= max_open_orders.
 *   3. order_value_exceeds_limit (403): order_value > max_order_value.
 *   4. position_limit_exceeded (403): the order would grow the absolute
 *      position in the symbol, and |position after| x price (UP to the
 *      cent) > max_position_value.  Orders that reduce it always pass.
 *   5. insufficient_buying_power (403, as Alpaca): a buy whose reserve
 *      exceeds buying power = cash - reserved.
 *      insufficient_position (403, as Alpaca): without allow_short, a
 *      sell of more than position_qty - open_sell_qty (shares already
 *      promised to open sells do not count twice).
 * The limits are account policy, so breaking one is 403 like buying
 * power: the request is well-formed and would be accepted for another
 * account.  Only the collar, a property of the price asked, is 422.
 * A zero limit means "no limit" (NULL in trading.risk_limits).
 */

typedef enum {
    KX_RISK_OK = 0,
    KX_RISK_QUOTE_UNAVAILABLE,          /* 503 */
    KX_RISK_PRICE_OUTSIDE_COLLAR,       /* 422 */
    KX_RISK_TOO_MANY_OPEN_ORDERS,       /* 403 */
    KX_RISK_ORDER_VALUE_EXCEEDS_LIMIT,  /* 403 */
    KX_RISK_POSITION_LIMIT_EXCEEDED,    /* 403 */
    KX_RISK_INSUFFICIENT_BUYING_POWER,  /* 403 */
    KX_RISK_INSUFFICIENT_POSITION,      /* 403 */
    KX_RISK_OUT_OF_RANGE,               /* 422: amounts beyond kx_dec */
    KX_RISK_COUNT
} kx_risk_e;


typedef struct {
    kx_dec_t            cash;
    kx_dec_t            reserved;       /* held by open buy orders */
    kx_dec_t            position_qty;   /* in the symbol; < 0 short */
    kx_dec_t            open_sell_qty;  /* in open sells of the symbol */
    unsigned            open_orders;    /* all symbols */
} kx_risk_account_t;


typedef struct {
    kx_dec_t            max_order_value;    /* 0: no limit */
    kx_dec_t            max_position_value; /* 0: no limit */
    unsigned            max_open_orders;    /* 0: no limit */
    unsigned            allow_short:1;
    kx_dec_t            collar_pct;         /* 0: none; 10 is +-10% */
    kx_dec_t            market_buffer_pct;  /* 0: none */
} kx_risk_limits_t;


typedef struct {
    kx_risk_e           code;
    kx_dec_t            price;          /* the price valued at */
    kx_dec_t            qty;            /* quantity, or estimated */
    kx_dec_t            order_value;
    kx_dec_t            reserve;        /* to add to reserved; 0 sells */
    char                message[160];   /* for the error response */
} kx_risk_result_t;


/*
 * Values the order (price, qty, order_value, reserve) without checking
 * anything: KX_RISK_OK, KX_RISK_QUOTE_UNAVAILABLE or KX_RISK_OUT_OF_RANGE.
 */
kx_risk_e kx_risk_estimate(const kx_order_t *o, const kx_quote_t *q,
    const kx_risk_limits_t *lim, kx_risk_result_t *r);

/* values the order, then runs the checks; r->code is the result */
kx_risk_e kx_risk_check(const kx_order_t *o, const kx_quote_t *q,
    const kx_risk_account_t *acct, const kx_risk_limits_t *lim,
    kx_risk_result_t *r);

/* "insufficient_buying_power", and its HTTP status, 403 */
const char *kx_risk_code(kx_risk_e rc);
int kx_risk_status(kx_risk_e rc);


#endif /* _KX_RISK_H_INCLUDED_ */
