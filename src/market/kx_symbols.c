
/*
 * Copyright (C) Kianax
 */


#include <string.h>

#include "kx_symbols.h"


#define S  KX_SYMBOL_STOCK
#define E  KX_SYMBOL_ETF

#define IT    "Information Technology"
#define COMM  "Communication Services"
#define DISC  "Consumer Discretionary"
#define STAP  "Consumer Staples"
#define HLTH  "Health Care"
#define FIN   "Financials"
#define ENRG  "Energy"
#define INDU  "Industrials"
#define BROAD "Broad Market"


/* keep sorted by symbol: kx_symbol_index() bisects, a test checks */

static const kx_symbol_t  kx_symbols[] = {
    { "AAPL",  "Apple Inc.", "NASDAQ", IT, S, "228.50", 150, 55000000 },
    { "ABBV",  "AbbVie Inc.", "NYSE", HLTH, S, "195.30", 140, 6000000 },
    { "ABNB",  "Airbnb, Inc.", "NASDAQ", DISC, S, "128.40", 260, 5000000 },
    { "ADBE",  "Adobe Inc.", "NASDAQ", IT, S, "432.10", 190, 3000000 },
    { "AMAT",  "Applied Materials, Inc.", "NASDAQ", IT, S, "172.60", 260,
      7000000 },
    { "AMD",   "Advanced Micro Devices, Inc.", "NASDAQ", IT, S, "158.20",
      320, 45000000 },
    { "AMZN",  "Amazon.com, Inc.", "NASDAQ", DISC, S, "201.75", 190,
      40000000 },
    { "AVGO",  "Broadcom Inc.", "NASDAQ", IT, S, "232.40", 280, 25000000 },
    { "BA",    "The Boeing Company", "NYSE", INDU, S, "178.90", 230,
      8000000 },
    { "BAC",   "Bank of America Corporation", "NYSE", FIN, S, "44.15", 160,
      35000000 },
    { "CAT",   "Caterpillar Inc.", "NYSE", INDU, S, "362.80", 170, 3000000 },
    { "COIN",  "Coinbase Global, Inc.", "NASDAQ", FIN, S, "265.00", 450,
      10000000 },
    { "COST",  "Costco Wholesale Corporation", "NASDAQ", STAP, S, "915.20",
      110, 2000000 },
    { "CRM",   "Salesforce, Inc.", "NYSE", IT, S, "285.60", 190, 6000000 },
    { "CSCO",  "Cisco Systems, Inc.", "NASDAQ", IT, S, "58.40", 120,
      20000000 },
    { "CVX",   "Chevron Corporation", "NYSE", ENRG, S, "152.30", 140,
      7000000 },
    { "DIA",   "SPDR Dow Jones Industrial Average ETF Trust", "NYSE Arca",
      BROAD, E, "428.60", 80, 3000000 },
    { "DIS",   "The Walt Disney Company", "NYSE", COMM, S, "108.90", 160,
      9000000 },
    { "GE",    "GE Aerospace", "NYSE", INDU, S, "192.40", 180, 5000000 },
    { "GLD",   "SPDR Gold Shares", "NYSE Arca", "Commodities", E, "245.10",
      90, 8000000 },
    { "GOOGL", "Alphabet Inc.", "NASDAQ", COMM, S, "172.30", 180,
      28000000 },
    { "GS",    "The Goldman Sachs Group, Inc.", "NYSE", FIN, S, "548.20",
      170, 2000000 },
    { "HD",    "The Home Depot, Inc.", "NYSE", DISC, S, "401.50", 130,
      3500000 },
    { "HON",   "Honeywell International Inc.", "NASDAQ", INDU, S, "221.60",
      120, 3500000 },
    { "IBM",   "International Business Machines Corporation", "NYSE", IT, S,
      "221.30", 140, 4000000 },
    { "INTC",  "Intel Corporation", "NASDAQ", IT, S, "23.80", 300,
      60000000 },
    { "IWM",   "iShares Russell 2000 ETF", "NYSE Arca", BROAD, E, "224.70",
      130, 30000000 },
    { "JNJ",   "Johnson & Johnson", "NYSE", HLTH, S, "156.40", 100,
      7000000 },
    { "JPM",   "JPMorgan Chase & Co.", "NYSE", FIN, S, "238.10", 140,
      9000000 },
    { "KO",    "The Coca-Cola Company", "NYSE", STAP, S, "63.20", 90,
      13000000 },
    { "LLY",   "Eli Lilly and Company", "NYSE", HLTH, S, "812.40", 210,
      3000000 },
    { "MA",    "Mastercard Incorporated", "NYSE", FIN, S, "521.70", 120,
      2500000 },
    { "MCD",   "McDonald's Corporation", "NYSE", DISC, S, "293.10", 100,
      3200000 },
    { "META",  "Meta Platforms, Inc.", "NASDAQ", COMM, S, "589.30", 230,
      12000000 },
    { "MRK",   "Merck & Co., Inc.", "NYSE", HLTH, S, "99.80", 130, 9000000 },
    { "MSFT",  "Microsoft Corporation", "NASDAQ", IT, S, "423.40", 140,
      20000000 },
    { "MU",    "Micron Technology, Inc.", "NASDAQ", IT, S, "102.50", 330,
      20000000 },
    { "NFLX",  "Netflix, Inc.", "NASDAQ", COMM, S, "897.60", 220, 3000000 },
    { "NKE",   "NIKE, Inc.", "NYSE", DISC, S, "77.40", 190, 10000000 },
    { "NVDA",  "NVIDIA Corporation", "NASDAQ", IT, S, "141.90", 330,
      250000000 },
    { "ORCL",  "Oracle Corporation", "NYSE", IT, S, "187.30", 210, 9000000 },
    { "PEP",   "PepsiCo, Inc.", "NASDAQ", STAP, S, "152.80", 100, 6000000 },
    { "PFE",   "Pfizer Inc.", "NYSE", HLTH, S, "25.90", 140, 40000000 },
    { "PG",    "The Procter & Gamble Company", "NYSE", STAP, S, "169.50", 90,
      7000000 },
    { "PLTR",  "Palantir Technologies Inc.", "NASDAQ", IT, S, "64.20", 450,
      70000000 },
    { "PYPL",  "PayPal Holdings, Inc.", "NASDAQ", FIN, S, "86.30", 210,
      12000000 },
    { "QCOM",  "QUALCOMM Incorporated", "NASDAQ", IT, S, "159.70", 230,
      8000000 },
    { "QQQ",   "Invesco QQQ Trust", "NASDAQ", BROAD, E, "505.30", 120,
      35000000 },
    { "SBUX",  "Starbucks Corporation", "NASDAQ", DISC, S, "98.60", 170,
      9000000 },
    { "SHOP",  "Shopify Inc.", "NASDAQ", IT, S, "109.80", 330, 8000000 },
    { "SNOW",  "Snowflake Inc.", "NYSE", IT, S, "172.40", 330, 6000000 },
    { "SPY",   "SPDR S&P 500 ETF Trust", "NYSE Arca", BROAD, E, "598.20", 90,
      45000000 },
    { "T",     "AT&T Inc.", "NYSE", COMM, S, "22.60", 120, 35000000 },
    { "TSLA",  "Tesla, Inc.", "NASDAQ", DISC, S, "342.00", 380, 90000000 },
    { "TXN",   "Texas Instruments Incorporated", "NASDAQ", IT, S, "199.40",
      170, 5500000 },
    { "UBER",  "Uber Technologies, Inc.", "NYSE", INDU, S, "71.80", 260,
      18000000 },
    { "UNH",   "UnitedHealth Group Incorporated", "NYSE", HLTH, S, "561.20",
      160, 3500000 },
    { "UPS",   "United Parcel Service, Inc.", "NYSE", INDU, S, "131.40", 150,
      4500000 },
    { "V",     "Visa Inc.", "NYSE", FIN, S, "312.50", 110, 6500000 },
    { "VZ",    "Verizon Communications Inc.", "NYSE", COMM, S, "41.30", 100,
      18000000 },
    { "WMT",   "Walmart Inc.", "NASDAQ", STAP, S, "90.70", 110, 15000000 },
    { "XLE",   "Energy Select Sector SPDR Fund", "NYSE Arca", ENRG, E,
      "91.20", 130, 15000000 },
    { "XLF",   "Financial Select Sector SPDR Fund", "NYSE Arca", FIN, E,
      "48.90", 110, 40000000 },
    { "XLK",   "Technology Select Sector SPDR Fund", "NYSE Arca", IT, E,
      "232.10", 140, 6000000 },
    { "XOM",   "Exxon Mobil Corporation", "NYSE", ENRG, S, "117.60", 130,
      15000000 }
};


#define KX_SYMBOLS_N  (sizeof(kx_symbols) / sizeof(kx_symbols[0]))


size_t
kx_symbols_count(void)
{
    return KX_SYMBOLS_N;
}


const kx_symbol_t *
kx_symbol_at(size_t i)
{
    return i < KX_SYMBOLS_N ? &kx_symbols[i] : NULL;
}


/* byte order of (s, len) against a NUL-terminated table entry */
static int
kx_symbol_cmp(const char *s, size_t len, const char *entry)
{
    size_t  elen;
    int     c;

    elen = strlen(entry);
    c = memcmp(s, entry, len < elen ? len : elen);

    if (c != 0) {
        return c;
    }

    return (len > elen) - (len < elen);
}


int
kx_symbol_index(const char *symbol, size_t len)
{
    int     c;
    size_t  lo, hi, mid;

    if (symbol == NULL || len == 0 || len > KX_SYMBOL_MAX_LEN) {
        return -1;
    }

    lo = 0;
    hi = KX_SYMBOLS_N;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        c = kx_symbol_cmp(symbol, len, kx_symbols[mid].symbol);

        if (c == 0) {
            return (int) mid;
        }

        if (c < 0) {
            hi = mid;

        } else {
            lo = mid + 1;
        }
    }

    return -1;
}


const kx_symbol_t *
kx_symbol_find(const char *symbol, size_t len)
{
    int  i;

    i = kx_symbol_index(symbol, len);

    return i < 0 ? NULL : &kx_symbols[i];
}


int
kx_symbol_base_price(const kx_symbol_t *s, kx_dec_t *out)
{
    return kx_dec_parse(s->base_price, strlen(s->base_price), out);
}


const char *
kx_symbol_type_name(kx_symbol_type_e type)
{
    return type == KX_SYMBOL_ETF ? "etf" : "stock";
}


void
kx_symbol_json(kx_jw_t *w, const kx_symbol_t *s)
{
    kx_jw_obj_begin(w);
    kx_jw_key(w, "symbol");
    kx_jw_str(w, s->symbol);
    kx_jw_key(w, "name");
    kx_jw_str(w, s->name);
    kx_jw_key(w, "exchange");
    kx_jw_str(w, s->exchange);
    kx_jw_key(w, "sector");
    kx_jw_str(w, s->sector);
    kx_jw_key(w, "type");
    kx_jw_str(w, kx_symbol_type_name(s->type));
    kx_jw_obj_end(w);
}
