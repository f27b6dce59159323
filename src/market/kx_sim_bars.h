
/*
 * Copyright (C) Kianax
 */


#ifndef _KX_SIM_BARS_H_INCLUDED_
#define _KX_SIM_BARS_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include "core/kx_decimal.h"
#include "core/kx_json.h"
#include "kx_sim.h"


/*
 * History of the simulated market: OHLCV bars read off each symbol's
 * hidden price path, which is a pure function of (seed, symbol, time).
 *
 *   Daily level.  At the end of each day d (a calendar day: New York
 *   dates in nyse mode, UTC dates in always mode) the path is at
 *   base * m(B(d)), where B is a Brownian motion in relative units
 *   with the symbol's daily volatility, built by Levy's midpoint
 *   construction: B at every 512th day is an independent normal with
 *   the stationary variance, and each dyadic midpoint between two
 *   known points is their mean plus a normal with the bridge's
 *   variance.  Reaching any day takes 9 halvings, so the level of any
 *   date costs O(1) and does not depend on what was asked before; the
 *   knots keep prices from drifting without bound over the decades.
 *   m(B) = 1 + B for B >= 0 and 1 / (1 - B) below: positive, close to
 *   exp(B) for small B, and symmetric (m(-B) = 1 / m(B)).
 *
 *   Minutes.  A trading day's session runs from the previous day's
 *   level (so weekends and holidays show as opening gaps in nyse mode)
 *   to its own, through a Brownian bridge over its minutes built the
 *   same way (midpoints of [0, N], each a normal keyed by its minute),
 *   so one minute's point costs O(log N) and a whole day O(N).
 *
 *   Bars.  Minute i has open and close at the path points i and i + 1
 *   rounded to the cent, a high and a low beyond them by a keyed
 *   random fraction of the minute's volatility, and a keyed volume
 *   (U-shaped over the NYSE session).  Every longer bar (5m, 15m, 1h,
 *   1d) is the aggregate of the 1m bars inside it: first open, highest
 *   high, lowest low, last close, summed volume.  So h >= max(o, c),
 *   l <= min(o, c), v > 0, and a bar is the same whichever range asked
 *   for it.
 *
 * Every price is at least KX_SIM_MIN_PRICE_RAW (0.05) and at most
 * 100,000.  Intraday bars are stamped with their start (UTC ms,
 * aligned to the bar size); a daily bar with the start of its day (New
 * York midnight in nyse mode, as Polygon stamps daily aggregates).
 * Only sessions make bars: in nyse mode nothing exists outside
 * 09:30-16:00 (13:00 on early closes) of trading days.
 *
 * Cost: about 0.1 us per minute of session: a year of daily bars is
 * about 10 ms per symbol in nyse mode, 50 ms in always mode (1440
 * minutes a day); a week of minute bars well under a millisecond.
 * Nothing needs storing: any bar can be recomputed at any time.
 */

typedef enum {
    KX_SIM_TF_1M = 0,
    KX_SIM_TF_5M,
    KX_SIM_TF_15M,
    KX_SIM_TF_1H,
    KX_SIM_TF_1D
} kx_sim_tf_e;


typedef struct {
    int64_t         t;          /* bar start, Unix ms */
    kx_dec_t        o;
    kx_dec_t        h;
    kx_dec_t        l;
    kx_dec_t        c;
    int64_t         v;          /* shares */
} kx_sim_bar_t;


#define KX_SIM_MAX_MINUTES  1440

/* the supported years, 1900 to 2199: any range is clamped to these */
#define KX_SIM_MIN_MS       INT64_C(-2208988800000)
#define KX_SIM_MAX_MS       INT64_C(7258118400000)


/* one trading day of one symbol: enough to read its path */
typedef struct {
    int64_t         day;
    int64_t         open_ms;
    int64_t         close_ms;
    unsigned        minutes;    /* N: the path has N + 1 points */
    unsigned        sym;
    int64_t         first;      /* path point 0: the previous level */
    int64_t         last;       /* path point N: this day's level */
    int64_t         sigma;      /* raw price per minute per std dev */
} kx_sim_day_t;


/* "1m", "5m", "15m", "1h", "1d"; 0, or -1 for anything else */
int kx_sim_tf_parse(const char *s, size_t len, kx_sim_tf_e *tf);
const char *kx_sim_tf_name(kx_sim_tf_e tf);
int64_t kx_sim_tf_ms(kx_sim_tf_e tf);

/*
 * The bars of symbol index sym whose start t is in [from_ms, to_ms),
 * oldest first, into out[0..max).  Sets *n; returns KX_SIM_OK, or
 * KX_SIM_ETRUNC when out filled up before the range ended (ask again
 * from the last t + 1), KX_SIM_ENOSYM, or KX_SIM_EINVAL.  Future bars
 * exist too: a caller serving history should not ask past now.
 */
int kx_sim_bars(const kx_sim_t *sim, size_t sym, kx_sim_tf_e tf,
    int64_t from_ms, int64_t to_ms, kx_sim_bar_t *out, size_t max,
    size_t *n);

/* {"t":ms,"o":"..","h":"..","l":"..","c":"..","v":n} */
void kx_sim_bar_json(kx_jw_t *w, const kx_sim_bar_t *b);


/* building blocks, shared with the live quotes */

/* the path's level at the end of day (raw, not rounded to the cent) */
int64_t kx_sim_level(const kx_sim_t *sim, size_t sym, int64_t day);

/* 0, or -1 when day has no session */
int kx_sim_day_init(const kx_sim_t *sim, size_t sym, int64_t day,
    kx_sim_day_t *dd);

/* path point i (0..N) in O(log N); the whole path, N + 1 points, in O(N) */
int64_t kx_sim_day_point(const kx_sim_t *sim, const kx_sim_day_t *dd,
    unsigned i);
void kx_sim_day_path(const kx_sim_t *sim, const kx_sim_day_t *dd,
    int64_t *path);

/* minute i's bar, from its path points p0 = path[i] and p1 = path[i+1] */
void kx_sim_day_bar(const kx_sim_t *sim, const kx_sim_day_t *dd, unsigned i,
    int64_t p0, int64_t p1, kx_sim_bar_t *bar);

/* a * b / c truncated, exact whatever the size of a * b (c > 0) */
int64_t kx_sim_muldiv(int64_t a, int64_t b, int64_t c);

/* raw to the cent, half to even (prices are positive) */
int64_t kx_sim_cents(int64_t raw);


#endif /* _KX_SIM_BARS_H_INCLUDED_ */
