
/*
 * Copyright (C) Kianax
 */


#ifndef _KX_ENRICH_H_INCLUDED_
#define _KX_ENRICH_H_INCLUDED_


#include <stddef.h>

#include "core/kx_json.h"


/*
 * GET /v1/portfolio/enriched at the gateway: the trading service's
 * portfolio with every position revalued at the market service's live
 * quote (the seed's response-aggregation example).
 *
 * The portfolio is an object with "cash_balance" and an array
 * "positions" of objects with at least "symbol", "quantity" and
 * "avg_cost" (decimal strings).  quotes[i] is the quote object of
 * position i ("price", "bid", "ask", "change_percent", "timestamp"),
 * or NULL when the market service could not give one: that position
 * keeps the valuation the trading service sent, marked
 * "quote_status":"unavailable".
 *
 * Every other field passes through untouched.  Recomputed, exactly
 * (no rounding: quantities have at most 6 places and prices 2, so
 * products fit in 8): per position current_price, market_value,
 * unrealized_pl; in total positions_value, unrealized_pl and
 * total_value = cash_balance + positions_value.
 */

enum {
    KX_ENRICH_OK = 0,
    KX_ENRICH_EINVAL,       /* the portfolio is not of the shape above */
    KX_ENRICH_ERANGE        /* a value overflows the fixed-point range */
};


/* the positions array (NULL if absent) and its length */
const kx_json_node_t *kx_enrich_positions(const kx_json_node_t *portfolio,
    size_t *n);

/* the symbol of position i, or NULL */
const char *kx_enrich_symbol(const kx_json_node_t *positions, size_t i,
    size_t *len);

int kx_enrich_write(kx_jw_t *w, const kx_json_node_t *portfolio,
    const kx_json_node_t *const *quotes);


#endif /* _KX_ENRICH_H_INCLUDED_ */
