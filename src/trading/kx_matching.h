
/*
 * Copyright (C) Kianax
 */


#ifndef _KX_MATCHING_H_INCLUDED_
#define _KX_MATCHING_H_INCLUDED_


#include <stdint.h>

#include "core/kx_decimal.h"
#include "trading/kx_order.h"
#include "trading/kx_quote.h"


/*
 * The paper broker's matching rules: given an open order and a quote,
 * what happens now.  One quote gives at most one fill, at one price:
 *
 *   market buy           fills at the ask, up to ask_size
 *   market sell          fills at the bid, up to bid_size
 *   limit buy            when ask <= limit_price, at the ask (<= limit)
 *   limit sell           when bid >= limit_price, at the bid (>= limit)
 *   stop buy             triggers when the ask or the last trade rises
 *                        to >= stop_price, then is a market buy
 *   stop sell            triggers when the bid or the last trade falls
 *                        to <= stop_price, then is a market sell
 *   stop_limit           triggers the same way, then is a limit order
 *
 * A triggered order stays triggered (kx_order_t.triggered_at) even if
 * the price moves back.  The fill is the remaining quantity, cut to the
 * quote's size unless liquidity is unlimited; a zero size means no
 * liquidity.  A notional order buys (or sells) the remaining notional
 * divided by the price, rounded DOWN to 6 places (Alpaca's fractional
 * rule: never spend more than the notional); when that is 0 the order
 * is done: filled if something filled before, canceled otherwise.
 *
 * Time in force:
 *   day   rests until filled or until the session closes: at or after
 *         session_close it expires (no fill from that quote);
 *   gtc   rests until filled or canceled;
 *   ioc   fills what it can now and cancels the rest;
 *   fok   fills the whole remaining quantity now, or cancels with no
 *         fill at all.
 * ioc and fok apply once the order is live: an untriggered stop order
 * rests whatever its time in force, and the one evaluation after it
 * triggers decides it.  So the module evaluates a live ioc or fok order
 * once, on arrival, and the decision always ends it.
 */

enum {
    KX_MATCH_OK = 0,
    KX_MATCH_ESTATE,            /* the order is not open */
    KX_MATCH_EINVAL,            /* a price that is not > 0 */
    KX_MATCH_ERANGE             /* an amount left the fixed-point range */
};


typedef struct {
    int64_t             now;
    /*
     * The close of the session a day order belongs to (the caller's
     * calendar knows it from created_at); 0: not known, no expiry.
     */
    int64_t             session_close;
    unsigned            unlimited_liquidity:1;
} kx_match_opts_t;


/* the decision: fill fill_qty at fill_price (if > 0), then be status */
typedef struct {
    kx_dec_t            fill_qty;
    kx_dec_t            fill_price;
    kx_order_status_e   status;
    unsigned            triggered:1;    /* the stop triggers now */
    const char         *reason;         /* why no (full) fill; or NULL */
} kx_match_t;


/*
 * Decides what the quote does to the order; the order is not changed
 * (kx_matching_apply() does that, in the same transaction as the fill's
 * position and cash, by the module).  m->status equal to o->status with
 * no fill means the order rests.
 */
int kx_matching_decide(const kx_order_t *o, const kx_quote_t *q,
    const kx_match_opts_t *opts, kx_match_t *m);

/* records the decision in the order: trigger time, fill, status */
int kx_matching_apply(kx_order_t *o, const kx_match_t *m, int64_t now);

/* a day order at or after the close of its session */
int kx_matching_expired(const kx_order_t *o, int64_t now,
    int64_t session_close);

/* the stop price of a stop or stop_limit order is reached by the quote */
int kx_matching_stop_reached(const kx_order_t *o, const kx_quote_t *q);

/* notional / price rounded down to 6 places; price must be > 0 */
int kx_matching_notional_qty(kx_dec_t notional, kx_dec_t price,
    kx_dec_t *out);


#endif /* _KX_MATCHING_H_INCLUDED_ */
