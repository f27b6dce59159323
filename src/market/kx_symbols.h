
/*
 * Copyright (C) Kianax
 */


#ifndef _KX_SYMBOLS_H_INCLUDED_
#define _KX_SYMBOLS_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include "core/kx_decimal.h"
#include "core/kx_json.h"


/*
 * The universe of the simulated market: real US tickers with their
 * names, listing exchanges and sectors, and the two numbers the
 * simulation needs, a plausible base price (an exact decimal string,
 * so the table is read the same way money is) and a daily volatility
 * in basis points.  The table is static and sorted by symbol (byte
 * order), so lookups are a binary search and iteration is in symbol
 * order.  Prices and volatilities are illustrative, not quotes.
 */

typedef enum {
    KX_SYMBOL_STOCK = 0,
    KX_SYMBOL_ETF
} kx_symbol_type_e;


typedef struct {
    const char         *symbol;       /* "AAPL": upper case, as listed */
    const char         *name;         /* "Apple Inc." */
    const char         *exchange;     /* "NASDAQ", "NYSE", "NYSE Arca" */
    const char         *sector;       /* GICS sector, or the ETF's focus */
    kx_symbol_type_e    type;
    const char         *base_price;   /* "228.50" */
    unsigned            vol_bp;       /* daily volatility, basis points */
    int64_t             avg_volume;   /* shares per day */
} kx_symbol_t;


#define KX_SYMBOL_MAX_LEN  8


size_t kx_symbols_count(void);

/* the i-th symbol in sorted order, or NULL past the end */
const kx_symbol_t *kx_symbol_at(size_t i);

/* exact, case-sensitive match ("aapl" is not found); -1 when absent */
int kx_symbol_index(const char *symbol, size_t len);
const kx_symbol_t *kx_symbol_find(const char *symbol, size_t len);

/* the base price as an exact decimal */
int kx_symbol_base_price(const kx_symbol_t *s, kx_dec_t *out);

const char *kx_symbol_type_name(kx_symbol_type_e type);

/* {"symbol","name","exchange","sector","type"} */
void kx_symbol_json(kx_jw_t *w, const kx_symbol_t *s);


#endif /* _KX_SYMBOLS_H_INCLUDED_ */
