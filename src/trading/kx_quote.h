
/*
 * Copyright (C) Kianax
 */


#ifndef _KX_QUOTE_H_INCLUDED_
#define _KX_QUOTE_H_INCLUDED_


#include <stdint.h>

#include "core/kx_decimal.h"


/*
 * The market as the trading core sees it: the national best bid and
 * offer with their sizes, and the last trade.  A zero price or size
 * means "none" (no bid, an empty book side, no trade yet), which is
 * why no field here may be read as a real zero.  Sizes are in shares,
 * as Polygon's quote messages and Alpaca's NBBO give them.
 */

typedef struct {
    kx_dec_t            bid;
    kx_dec_t            ask;
    kx_dec_t            last;
    kx_dec_t            bid_size;
    kx_dec_t            ask_size;
    int64_t             time;       /* microseconds since the Unix epoch */
} kx_quote_t;


#endif /* _KX_QUOTE_H_INCLUDED_ */
