
/*
 * Copyright (C) Kianax
 */


#ifndef _KX_SIM_H_INCLUDED_
#define _KX_SIM_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include "core/kx_decimal.h"
#include "core/kx_json.h"
#include "kx_prng.h"
#include "kx_sim_hours.h"
#include "kx_symbols.h"


/*
 * The built-in market data provider: a simulated market, deterministic
 * from a seed, over the universe of kx_symbols.h.
 *
 * Prices follow one hidden path per symbol, a function of the seed and
 * of time alone (kx_sim_bars.h builds it: daily levels by Brownian
 * midpoint displacement, minute points by Brownian bridges between
 * them).  History bars are read off that path, so any range can be
 * asked for in any order.  Live quotes (kx_sim_tick) follow the same
 * path: the fair price is the path interpolated within the current
 * minute plus a small mean-reverting random walk, scaled by the
 * symbol's volatility and by the time since the previous tick, and
 * clamped into that minute's bar; so a live price always lies within
 * the 1m bar that history later shows for its minute, and a quote's
 * prev_close is the previous daily bar's close.
 *
 * The only state is the walk's deviation and the generator of the
 * quote details (spread, sizes), so the same seed and the same
 * sequence of tick times give exactly the same quotes.  Everything is
 * integer arithmetic: no floating point anywhere in src/market.
 *
 * A kx_sim_t holds no pointers and no allocations: it can live in any
 * memory (a pool, a shared zone) and be copied.  Not thread-safe; one
 * writer at a time.
 */

#define KX_SIM_MAX_SYMBOLS   128

/* the floor under every simulated price: 0.05 */
#define KX_SIM_MIN_PRICE_RAW INT64_C(5000000)


enum {
    KX_SIM_OK = 0,
    KX_SIM_EINVAL,              /* bad argument: time range, timeframe */
    KX_SIM_ENOSYM,              /* no such symbol index */
    KX_SIM_ETRUNC               /* the output was filled; more follow */
};


/* one symbol's quote; prices are in cents, exact */
typedef struct {
    unsigned        sym;            /* index into kx_symbols */
    kx_dec_t        price;          /* last trade */
    kx_dec_t        bid;
    kx_dec_t        ask;
    int64_t         bid_size;       /* shares, round lots of 100 */
    int64_t         ask_size;
    kx_dec_t        open;           /* the trading day's opening price */
    kx_dec_t        prev_close;     /* the previous trading day's close */
    kx_dec_t        change_percent; /* vs prev_close, 2 places */
    int64_t         time_ms;        /* when this quote was made */
    uint64_t        seq;            /* bumped whenever the quote changes */
} kx_sim_quote_t;


typedef struct {
    kx_sim_quote_t  q;
    int64_t         base;           /* base price, raw 10^-8 */
    int64_t         noise;          /* walk deviation, 10^-9 relative */
    int64_t         last_ms;        /* time of the previous tick */
    int64_t         minute_ms;      /* start of the cached minute */
    int64_t         m0;             /* path at the minute's start, raw */
    int64_t         m1;             /* ... and at its end */
    int64_t         low;            /* that minute bar's low and high */
    int64_t         high;
    int64_t         noise_sd;       /* the walk's spread, 10^-9 relative */
    int64_t         day;            /* trading day of open, prev_close */
    int64_t         closed_day;     /* last session shown while closed */
} kx_sim_state_t;


typedef struct {
    uint64_t        seed;
    kx_sim_hours_e  hours;
    size_t          nsyms;
    kx_prng_t       rng;            /* quote details; advanced by ticks */
    int64_t         now_ms;         /* time of the last tick */
    int64_t         walk_dt;        /* memo: the last step's dt ... */
    int64_t         walk_f;         /* ... and its sqrt(1 - rho^2) */
    kx_sim_state_t  s[KX_SIM_MAX_SYMBOLS];
} kx_sim_t;


/*
 * Sets every symbol's quote as of now_ms.  KX_SIM_EINVAL if now_ms is
 * outside the supported years (1900-2199).
 */
int kx_sim_init(kx_sim_t *sim, uint64_t seed, kx_sim_hours_e hours,
    int64_t now_ms);

/*
 * Advances the market to now_ms and returns how many quotes changed
 * (their seq moved).  While the market is open every quote changes and
 * carries time_ms = now_ms.  While it is closed (nyse hours) a quote
 * shows the last session's close, stamped with that session's closing
 * time: it changes once, at the first tick after the close, and then
 * not until the next open.  A time earlier than the previous tick reads
 * the path at that time without advancing the walk.
 */
size_t kx_sim_tick(kx_sim_t *sim, int64_t now_ms);

/* the current quote of symbol index sym, or NULL */
const kx_sim_quote_t *kx_sim_quote(const kx_sim_t *sim, size_t sym);

/*
 * {"symbol","price","bid","ask","bid_size","ask_size","open",
 *  "prev_close","change_percent","timestamp"}: prices as exact decimal
 * strings with at least 2 places (kx_sim_jw_price), timestamp in ISO 8601 UTC with milliseconds.
 */
void kx_sim_quote_json(kx_jw_t *w, const kx_sim_quote_t *q);

/*
 * A price as an exact decimal string with at least 2 places: "187.50",
 * and every digit a provider sent ("187.1234"); never rounded.
 */
void kx_sim_jw_price(kx_jw_t *w, kx_dec_t d);


#endif /* _KX_SIM_H_INCLUDED_ */
