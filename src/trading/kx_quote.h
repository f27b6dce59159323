
/*
 * Copyright (C) Kianax
 */


#ifndef _KX_QUOTE_H_INCLUDED_
#define _KX_QUOTE_H_INCLUDED_


#include <stddef.h>
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


/*
 * A quote as the market service writes it (GET /v1/quotes/{symbol}, and
 * the kx:quote:<SYM> messages of contract C1): symbol, bid, ask, price
 * (the last trade), bid_size, ask_size as exact decimals (strings or
 * numbers); other fields are ignored, absent or null prices are 0
 * ("none").  Returns 0, or -1 for anything else; symbol gets the symbol
 * (size bytes at most, with its NUL).
 */
int kx_quote_parse(const char *buf, size_t len, kx_quote_t *q, char *symbol,
    size_t size);


#endif /* _KX_QUOTE_H_INCLUDED_ */
