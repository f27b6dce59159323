
/*
 * Copyright (C) Kianax
 */


#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/kx_decimal.h"
#include "core/kx_json.h"
#include "market/kx_sim.h"
#include "market/kx_sim_bars.h"
#include "market/kx_sim_hours.h"
#include "market/kx_sim_news.h"
#include "market/kx_symbols.h"

#include "kx_tap.h"


#define MIN_MS    KX_MS_PER_MINUTE
#define HOUR_MS   KX_MS_PER_HOUR
#define DAY_MS    KX_MS_PER_DAY
#define CENT      INT64_C(1000000)

#define ALWAYS    KX_SIM_HOURS_ALWAYS
#define NYSE      KX_SIM_HOURS_NYSE


/* big: keep them off the stack */
static kx_sim_t      sim_a, sim_b;
static kx_sim_bar_t  bars[8192], bars2[8192], agg[8192];


static int64_t
utc(int y, unsigned mo, unsigned d, int h, int mi, int s)
{
    return kx_days_from_civil(y, mo, d) * DAY_MS + h * HOUR_MS
           + mi * MIN_MS + s * 1000;
}


static double
now_ms(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}


static int
quote_eq(const kx_sim_quote_t *a, const kx_sim_quote_t *b)
{
    return a->sym == b->sym && a->price.v == b->price.v
           && a->bid.v == b->bid.v && a->ask.v == b->ask.v
           && a->bid_size == b->bid_size && a->ask_size == b->ask_size
           && a->open.v == b->open.v && a->prev_close.v == b->prev_close.v
           && a->change_percent.v == b->change_percent.v
           && a->time_ms == b->time_ms && a->seq == b->seq;
}


static int
bar_eq(const kx_sim_bar_t *a, const kx_sim_bar_t *b)
{
    return a->t == b->t && a->o.v == b->o.v && a->h.v == b->h.v
           && a->l.v == b->l.v && a->c.v == b->c.v && a->v == b->v;
}


static int
bar_sane(const kx_sim_bar_t *b)
{
    int64_t  hi, lo;

    hi = b->o.v > b->c.v ? b->o.v : b->c.v;
    lo = b->o.v < b->c.v ? b->o.v : b->c.v;

    return b->h.v >= hi && b->l.v <= lo && b->l.v > 0 && b->v > 0
           && b->o.v % CENT == 0 && b->h.v % CENT == 0
           && b->l.v % CENT == 0 && b->c.v % CENT == 0;
}


/* change_percent recomputed independently: half-even to 0.01% */
static int64_t
pct(int64_t price, int64_t prev)
{
    __int128  num, q, r;

    num = (__int128) (price - prev) * 10000;
    q = num / prev;
    r = num % prev;

    if (r < 0) {
        q--;
        r += prev;
    }

    if (2 * r > prev || (2 * r == prev && (q & 1))) {
        q++;
    }

    return (int64_t) q * CENT;
}


static int
quote_sane(const kx_sim_quote_t *q)
{
    return q->bid.v > 0 && q->bid.v < q->ask.v
           && q->ask.v - q->bid.v >= CENT
           /* a few basis points: under 20 for every symbol */
           && (q->ask.v - q->bid.v) * 10000 <= q->price.v * 20 + CENT * 10000
           && q->price.v >= q->bid.v && q->price.v <= q->ask.v
           && q->price.v % CENT == 0 && q->bid.v % CENT == 0
           && q->ask.v % CENT == 0
           && q->bid_size >= 100 && q->bid_size <= 2000
           && q->bid_size % 100 == 0
           && q->ask_size >= 100 && q->ask_size <= 2000
           && q->ask_size % 100 == 0
           && q->prev_close.v > 0 && q->open.v > 0
           && q->change_percent.v == pct(q->price.v, q->prev_close.v);
}


static void
test_calendar(void)
{
    int64_t   y;
    unsigned  m, d;
    int64_t   day, bad;
    char      buf[KX_SIM_TIME_FMT_MAX];

    is_int(kx_days_from_civil(1970, 1, 1), 0, "1970-01-01 is day 0");
    is_int(kx_days_from_civil(2000, 3, 1), 11017, "2000-03-01 is day 11017");
    is_int(kx_days_from_civil(1969, 12, 31), -1, "1969-12-31 is day -1");
    is_int(kx_weekday(0), 4, "1970-01-01 was a Thursday");
    is_int(kx_weekday(kx_days_from_civil(2025, 11, 25)), 2,
           "2025-11-25 is a Tuesday");
    is_int(kx_weekday(-1), 3, "1969-12-31 was a Wednesday");

    bad = 0;

    for (day = -80000; day < 120000; day += 7) {
        kx_civil_from_days(day, &y, &m, &d);

        if (kx_days_from_civil(y, m, d) != day) {
            bad++;
        }
    }

    ok(bad == 0, "civil dates round-trip from 1750 to 2298");

    /* kx_date_valid() exactly when the date comes back from its day */
    bad = 0;

    for (y = 1899; y <= 2001; y++) {
        for (m = 0; m <= 13; m++) {
            for (d = 0; d <= 32; d++) {
                int64_t   yy;
                unsigned  mm, dd;

                if (m >= 1 && m <= 12 && d >= 1) {
                    kx_civil_from_days(kx_days_from_civil(y, m, d), &yy, &mm,
                                       &dd);
                    day = (yy == y && mm == m && dd == d);

                } else {
                    day = 0;
                }

                if (kx_date_valid(y, m, d) != (int) day) {
                    bad++;
                }
            }
        }
    }

    ok(bad == 0, "kx_date_valid agrees with the round trip, 1899-2001");
    ok(!kx_date_valid(2025, 2, 29) && !kx_date_valid(1900, 2, 29)
       && kx_date_valid(2000, 2, 29) && kx_date_valid(2024, 2, 29)
       && !kx_date_valid(2024, 4, 31) && kx_date_valid(2024, 12, 31),
       "leap years and short months");
    is_int(kx_days_in_month(2023, 2), 28, "February 2023 has 28 days");

    kx_sim_time_format(0, buf, sizeof(buf));
    is_str(buf, "1970-01-01T00:00:00.000Z", "time format of 0");
    kx_sim_time_format(INT64_C(1764102540250), buf, sizeof(buf));
    is_str(buf, "2025-11-25T20:29:00.250Z", "time format with ms");
    kx_sim_time_format(-1, buf, sizeof(buf));
    is_str(buf, "1969-12-31T23:59:59.999Z", "time format before 1970");
}


static void
test_dst(void)
{
    /* 2025: 9 March and 2 November; 2026: 8 March and 1 November */
    is_int(kx_ny_utc_offset(utc(2025, 3, 9, 6, 59, 59) + 999), -300,
           "2025-03-09 01:59:59.999 EST");
    is_int(kx_ny_utc_offset(utc(2025, 3, 9, 7, 0, 0)), -240,
           "2025-03-09 03:00 EDT");
    is_int(kx_ny_utc_offset(utc(2025, 11, 2, 5, 59, 59) + 999), -240,
           "2025-11-02 01:59:59.999 EDT");
    is_int(kx_ny_utc_offset(utc(2025, 11, 2, 6, 0, 0)), -300,
           "2025-11-02 01:00 EST (again)");
    is_int(kx_ny_utc_offset(utc(2026, 3, 8, 7, 0, 0)), -240,
           "2026-03-08 switch");
    is_int(kx_ny_utc_offset(utc(2026, 3, 8, 6, 59, 0)), -300,
           "2026-03-08 before the switch");
    is_int(kx_ny_utc_offset(utc(2026, 11, 1, 6, 0, 0)), -300,
           "2026-11-01 switch back");
    is_int(kx_ny_utc_offset(utc(2026, 7, 1, 12, 0, 0)), -240, "July: EDT");
    is_int(kx_ny_utc_offset(utc(2026, 1, 15, 12, 0, 0)), -300,
           "January: EST");

    /* the 1987-2006 rule: first Sunday in April, last Sunday in October */
    is_int(kx_ny_utc_offset(utc(2006, 4, 2, 7, 0, 0)), -240,
           "2006-04-02 switch");
    is_int(kx_ny_utc_offset(utc(2006, 3, 20, 12, 0, 0)), -300,
           "2006-03-20 still EST");
    is_int(kx_ny_utc_offset(utc(2006, 10, 29, 6, 0, 0)), -300,
           "2006-10-29 switch back");
    is_int(kx_ny_utc_offset(utc(2006, 10, 29, 5, 59, 0)), -240,
           "2006-10-29 before it");

    ok(kx_ny_is_dst(2025, 3, 10) && !kx_ny_is_dst(2025, 3, 8)
       && kx_ny_is_dst(2025, 11, 1) && !kx_ny_is_dst(2025, 11, 3),
       "DST by date around the 2025 switches");
}


static void
test_holidays(void)
{
    int       y, closed;
    unsigned  m, d, mismatch;
    int64_t   day, yy;
    unsigned  mm, dd;

    /* the NYSE's 2025 calendar */
    ok(kx_nyse_day(2025, 1, 1) == KX_NYSE_CLOSED, "2025-01-01 closed");
    ok(kx_nyse_day(2025, 1, 9) == KX_NYSE_CLOSED,
       "2025-01-09 closed (national day of mourning)");
    ok(kx_nyse_day(2025, 4, 18) == KX_NYSE_CLOSED, "Good Friday 2025");
    ok(kx_nyse_day(2025, 6, 19) == KX_NYSE_CLOSED, "Juneteenth 2025");
    ok(kx_nyse_day(2025, 7, 3) == KX_NYSE_EARLY, "2025-07-03 early close");
    ok(kx_nyse_day(2025, 11, 27) == KX_NYSE_CLOSED, "Thanksgiving 2025");
    ok(kx_nyse_day(2025, 11, 28) == KX_NYSE_EARLY, "2025-11-28 early close");
    ok(kx_nyse_day(2025, 12, 24) == KX_NYSE_EARLY, "2025-12-24 early close");
    ok(kx_nyse_day(2025, 12, 25) == KX_NYSE_CLOSED, "Christmas 2025");
    ok(kx_nyse_day(2025, 12, 26) == KX_NYSE_FULL, "2025-12-26 full day");
    ok(kx_nyse_day(2026, 4, 3) == KX_NYSE_CLOSED, "Good Friday 2026");
    ok(kx_nyse_day(2026, 7, 3) == KX_NYSE_CLOSED,
       "2026-07-03 closed (Independence Day observed)");
    ok(kx_nyse_day(2027, 6, 18) == KX_NYSE_CLOSED,
       "2027-06-18 closed (Juneteenth observed)");
    ok(kx_nyse_day(2027, 12, 24) == KX_NYSE_CLOSED,
       "2027-12-24 closed (Christmas observed)");
    ok(kx_nyse_day(2027, 12, 31) == KX_NYSE_FULL,
       "2027-12-31 open: a Saturday New Year's Day is not observed");
    ok(kx_nyse_day(2025, 11, 29) == KX_NYSE_CLOSED, "a Saturday");

    /* the rules reproduce the published table, but for the one-off */
    mismatch = 0;
    closed = 0;

    for (y = 2024; y <= 2027; y++) {
        for (day = kx_days_from_civil(y, 1, 1);
             day < kx_days_from_civil(y + 1, 1, 1); day++)
        {
            kx_civil_from_days(day, &yy, &mm, &dd);
            m = mm;
            d = dd;

            closed += kx_weekday(day) != 0 && kx_weekday(day) != 6
                      && kx_nyse_day(y, m, d) == KX_NYSE_CLOSED;

            if (kx_nyse_day(y, m, d) != kx_nyse_day_by_rules(y, m, d)
                && !(y == 2025 && m == 1 && d == 9))
            {
                mismatch++;
                diag("  rules differ on %d-%02u-%02u", y, m, d);
            }
        }
    }

    ok(mismatch == 0, "the rules agree with the 2024-2027 table");
    is_int(closed, 10 + 11 + 10 + 10, "41 weekday closures in 2024-2027");

    /* 2028 by the rules alone, as the NYSE has announced it */
    ok(kx_nyse_day(2028, 1, 17) == KX_NYSE_CLOSED, "MLK Day 2028");
    ok(kx_nyse_day(2028, 2, 21) == KX_NYSE_CLOSED,
       "Washington's Birthday 2028");
    ok(kx_nyse_day(2028, 4, 14) == KX_NYSE_CLOSED, "Good Friday 2028");
    ok(kx_nyse_day(2028, 5, 29) == KX_NYSE_CLOSED, "Memorial Day 2028");
    ok(kx_nyse_day(2028, 6, 19) == KX_NYSE_CLOSED, "Juneteenth 2028");
    ok(kx_nyse_day(2028, 7, 3) == KX_NYSE_EARLY, "2028-07-03 early close");
    ok(kx_nyse_day(2028, 7, 4) == KX_NYSE_CLOSED, "Independence Day 2028");
    ok(kx_nyse_day(2028, 9, 4) == KX_NYSE_CLOSED, "Labor Day 2028");
    ok(kx_nyse_day(2028, 11, 23) == KX_NYSE_CLOSED, "Thanksgiving 2028");
    ok(kx_nyse_day(2028, 12, 25) == KX_NYSE_CLOSED, "Christmas 2028");
    ok(kx_nyse_day(2028, 1, 3) == KX_NYSE_FULL, "2028-01-03 open");
}


static void
test_hours(void)
{
    int             after;
    int64_t         t, nt, bad, open, close;
    kx_sim_hours_e  mode;

    ok(kx_sim_hours_parse("nyse", 4, &mode) == 0 && mode == NYSE,
       "parse nyse");
    ok(kx_sim_hours_parse("always", 6, &mode) == 0 && mode == ALWAYS,
       "parse always");
    ok(kx_sim_hours_parse("NYSE", 4, &mode) == -1, "parse is exact");

    ok(kx_sim_market_open(ALWAYS, utc(2025, 12, 25, 3, 0, 0)),
       "always: open on Christmas night");
    nt = kx_sim_next_transition(ALWAYS, 0, &after);
    ok(nt == KX_SIM_NEVER && after == 1, "always: no transition");

    /* winter: 09:30-16:00 EST is 14:30-21:00 UTC */
    t = utc(2025, 11, 25, 14, 30, 0);
    ok(!kx_sim_market_open(NYSE, t - 1), "Tue 2025-11-25 09:29:59.999 "
       "closed");
    ok(kx_sim_market_open(NYSE, t), "09:30:00 open");
    t = utc(2025, 11, 25, 21, 0, 0);
    ok(kx_sim_market_open(NYSE, t - 1), "15:59:59.999 open");
    ok(!kx_sim_market_open(NYSE, t), "16:00:00 closed");

    /* summer: 13:30-20:00 UTC */
    ok(kx_sim_market_open(NYSE, utc(2025, 7, 15, 13, 30, 0))
       && !kx_sim_market_open(NYSE, utc(2025, 7, 15, 13, 29, 59))
       && !kx_sim_market_open(NYSE, utc(2025, 7, 15, 20, 0, 0)),
       "summer session 13:30-20:00 UTC");

    /* around the switches: Friday in EST, Monday in EDT, and back */
    ok(kx_sim_market_open(NYSE, utc(2025, 3, 7, 14, 30, 0))
       && !kx_sim_market_open(NYSE, utc(2025, 3, 7, 13, 30, 0)),
       "Fri 2025-03-07 opens at 14:30 UTC (EST)");
    ok(kx_sim_market_open(NYSE, utc(2025, 3, 10, 13, 30, 0))
       && !kx_sim_market_open(NYSE, utc(2025, 3, 10, 20, 0, 0)),
       "Mon 2025-03-10 opens at 13:30 UTC (EDT)");
    ok(kx_sim_market_open(NYSE, utc(2025, 10, 31, 13, 30, 0)),
       "Fri 2025-10-31 opens at 13:30 UTC (EDT)");
    ok(!kx_sim_market_open(NYSE, utc(2025, 11, 3, 14, 0, 0))
       && kx_sim_market_open(NYSE, utc(2025, 11, 3, 14, 30, 0)),
       "Mon 2025-11-03 opens at 14:30 UTC (EST)");

    ok(!kx_sim_market_open(NYSE, utc(2025, 11, 29, 15, 0, 0)),
       "closed on a Saturday");
    ok(!kx_sim_market_open(NYSE, utc(2025, 12, 25, 15, 0, 0)),
       "closed on Christmas");
    ok(!kx_sim_market_open(NYSE, utc(2025, 1, 9, 15, 0, 0)),
       "closed on 2025-01-09");
    ok(kx_sim_market_open(NYSE, utc(2025, 11, 28, 17, 59, 59))
       && !kx_sim_market_open(NYSE, utc(2025, 11, 28, 18, 0, 0)),
       "2025-11-28 closes at 13:00 EST");

    nt = kx_sim_next_transition(NYSE, utc(2025, 11, 21, 21, 0, 0), &after);
    ok(nt == utc(2025, 11, 24, 14, 30, 0) && after == 1,
       "after Friday's close: Monday's open");
    nt = kx_sim_next_transition(NYSE, utc(2025, 11, 26, 15, 0, 0), &after);
    ok(nt == utc(2025, 11, 26, 21, 0, 0) && after == 0,
       "during a session: its close");
    nt = kx_sim_next_transition(NYSE, utc(2025, 11, 26, 21, 0, 0), &after);
    ok(nt == utc(2025, 11, 28, 14, 30, 0) && after == 1,
       "at Wednesday's close: Friday's open, past Thanksgiving");
    nt = kx_sim_next_transition(NYSE, nt, &after);
    ok(nt == utc(2025, 11, 28, 18, 0, 0) && after == 0,
       "then the early close");
    nt = kx_sim_next_transition(NYSE, utc(2025, 3, 7, 21, 0, 0), &after);
    ok(nt == utc(2025, 3, 10, 13, 30, 0) && after == 1,
       "across the spring switch: 13:30 UTC");
    nt = kx_sim_next_transition(NYSE, utc(2025, 12, 31, 21, 0, 0), &after);
    ok(nt == utc(2026, 1, 2, 14, 30, 0) && after == 1,
       "across New Year's Day");

    /* at every transition the state flips, and not before */
    bad = 0;

    for (t = utc(2025, 2, 20, 0, 0, 0); t < utc(2025, 4, 25, 0, 0, 0);
         t += 7 * MIN_MS + 13)
    {
        nt = kx_sim_next_transition(NYSE, t, &after);

        if (nt <= t || kx_sim_market_open(NYSE, nt) != after
            || kx_sim_market_open(NYSE, nt - 1) == after
            || kx_sim_market_open(NYSE, t) == after)
        {
            bad++;
        }
    }

    ok(bad == 0, "transitions agree with market_open (Feb-Apr 2025)");

    ok(kx_sim_session(NYSE, kx_days_from_civil(2025, 11, 28), &open, &close)
       == 0 && close - open == 210 * MIN_MS, "early close: 210 minutes");
    ok(kx_sim_session(NYSE, kx_days_from_civil(2025, 11, 27), &open, &close)
       == -1, "no session on Thanksgiving");
    is_int(kx_sim_day_start(NYSE, kx_days_from_civil(2025, 11, 25)),
           utc(2025, 11, 25, 5, 0, 0), "New York midnight in winter");
    is_int(kx_sim_day_start(NYSE, kx_days_from_civil(2025, 7, 15)),
           utc(2025, 7, 15, 4, 0, 0), "New York midnight in summer");
    is_int(kx_sim_day_of(NYSE, utc(2025, 11, 26, 4, 59, 59)),
           kx_days_from_civil(2025, 11, 25), "04:59 UTC is still the 25th "
           "in New York");
}


static void
test_determinism(void)
{
    int      mode;
    size_t   j, same, diff, k, changed_a, changed_b;
    int64_t  t0, t;

    t0 = utc(2025, 11, 25, 15, 0, 0);

    for (mode = 0; mode < 2; mode++) {
        kx_sim_init(&sim_a, 7, (kx_sim_hours_e) mode, t0);
        kx_sim_init(&sim_b, 7, (kx_sim_hours_e) mode, t0);

        same = 1;
        t = t0;

        for (k = 0; k < 3000; k++) {
            t += 100 + (int64_t) (k * 37 % 900);
            changed_a = kx_sim_tick(&sim_a, t);
            changed_b = kx_sim_tick(&sim_b, t);

            if (changed_a != changed_b) {
                same = 0;
            }

            for (j = 0; j < sim_a.nsyms; j++) {
                if (!quote_eq(kx_sim_quote(&sim_a, j),
                              kx_sim_quote(&sim_b, j)))
                {
                    same = 0;
                }
            }
        }

        ok(same, "%s: same seed and tick times, same quotes",
           kx_sim_hours_name((kx_sim_hours_e) mode));
    }

    kx_sim_init(&sim_a, 7, ALWAYS, t0);
    kx_sim_init(&sim_b, 8, ALWAYS, t0);
    diff = 0;

    for (j = 0; j < sim_a.nsyms; j++) {
        diff += kx_sim_quote(&sim_a, j)->price.v
                != kx_sim_quote(&sim_b, j)->price.v;
    }

    ok(diff > sim_a.nsyms / 2, "another seed, other prices");

    ok(kx_sim_init(&sim_a, 1, ALWAYS, KX_SIM_MAX_MS) == KX_SIM_EINVAL,
       "init beyond 2199: EINVAL");
    ok(kx_sim_quote(&sim_b, sim_b.nsyms) == NULL, "no quote past the end");
}


/*
 * 100,000 ticks of every symbol at 250 ms: every quote well formed,
 * timestamps rising, and the live price inside the 1m bar of its time
 */
static void
test_invariants(void)
{
    size_t                 j, k, n, bad, bad_bar, bad_time, checks;
    int64_t                t, min_price;
    double                 start;
    const kx_sim_quote_t  *q;

    t = utc(2026, 1, 5, 0, 0, 0);
    kx_sim_init(&sim_a, 20260105, ALWAYS, t);

    bad = 0;
    bad_bar = 0;
    bad_time = 0;
    checks = 0;
    min_price = INT64_MAX;
    start = now_ms();

    for (k = 0; k < 100000; k++) {
        t += 250;

        if (kx_sim_tick(&sim_a, t) != sim_a.nsyms) {
            bad_time++;
        }

        for (j = 0; j < sim_a.nsyms; j++) {
            q = kx_sim_quote(&sim_a, j);

            if (!quote_sane(q)) {
                if (bad++ < 5) {
                    diag("  bad quote for %s at tick %zu",
                         kx_symbol_at(j)->symbol, k);
                }
            }

            if (q->time_ms != t) {
                bad_time++;
            }

            if (q->price.v < min_price) {
                min_price = q->price.v;
            }
        }

        if (k % 4999 == 0) {
            for (j = 0; j < sim_a.nsyms; j += 7) {
                q = kx_sim_quote(&sim_a, j);
                checks++;

                if (kx_sim_bars(&sim_a, j, KX_SIM_TF_1M, t - t % MIN_MS,
                                t - t % MIN_MS + 1, bars, 1, &n)
                    != KX_SIM_OK || n != 1
                    || q->price.v < bars[0].l.v || q->price.v > bars[0].h.v)
                {
                    bad_bar++;
                }
            }
        }
    }

    diag("100000 ticks of %zu symbols in %.0f ms", sim_a.nsyms,
         now_ms() - start);

    ok(bad == 0, "100000 ticks: bid < ask, spread >= 0.01 and a few bp, "
       "cents, sizes in lots, change_percent exact (%zu bad)", bad);
    ok(min_price > 0, "100000 ticks: no price at or below zero");
    ok(bad_time == 0, "every tick changes every quote, stamped with its "
       "time");
    ok(bad_bar == 0, "the live price lies within its minute's 1m bar "
       "(%zu checks)", checks);

    /* long gaps and time running backwards stay sane */
    t += 400 * DAY_MS;
    kx_sim_tick(&sim_a, t);
    kx_sim_tick(&sim_a, t - 5 * HOUR_MS);
    kx_sim_tick(&sim_a, t + 3 * DAY_MS);
    bad = 0;

    for (j = 0; j < sim_a.nsyms; j++) {
        bad += !quote_sane(kx_sim_quote(&sim_a, j));
    }

    ok(bad == 0, "quotes stay sane across gaps and backward steps");
}


static void
test_quote_history(void)
{
    size_t                 n, j, bad;
    int64_t                t, d, prev;
    const kx_sim_quote_t  *q;

    /* nyse, Tuesday 2025-11-25 15:00 UTC (10:00 New York) */
    t = utc(2025, 11, 25, 15, 0, 0);
    kx_sim_init(&sim_a, 99, NYSE, t);
    bad = 0;

    for (j = 0; j < sim_a.nsyms; j++) {
        q = kx_sim_quote(&sim_a, j);

        if (kx_sim_bars(&sim_a, j, KX_SIM_TF_1D, utc(2025, 11, 24, 0, 0, 0),
                        utc(2025, 11, 26, 0, 0, 0), bars, 8, &n)
            != KX_SIM_OK || n != 2
            || q->prev_close.v != bars[0].c.v || q->open.v != bars[1].o.v)
        {
            bad++;
        }
    }

    ok(bad == 0, "nyse: prev_close is Monday's daily close, open is "
       "Tuesday's daily open");

    /* closed: Saturday shows Friday's close, stamped 16:00 New York */
    t = utc(2025, 11, 29, 12, 0, 0);
    kx_sim_init(&sim_a, 99, NYSE, t);
    q = kx_sim_quote(&sim_a, 0);

    ok(kx_sim_bars(&sim_a, 0, KX_SIM_TF_1D, utc(2025, 11, 26, 0, 0, 0),
                   utc(2025, 11, 29, 0, 0, 0), bars, 8, &n) == KX_SIM_OK
       && n == 2, "Wed and Fri (early close) daily bars");
    ok(q->price.v == bars[1].c.v && q->prev_close.v == bars[0].c.v
       && q->open.v == bars[1].o.v, "weekend quote: Friday's close vs "
       "Wednesday's");
    is_int(q->time_ms, utc(2025, 11, 28, 18, 0, 0),
           "stamped with Friday's 13:00 close");
    is_int((int64_t) kx_sim_tick(&sim_a, t + HOUR_MS), 0,
           "no changes while closed");
    is_int((int64_t) kx_sim_tick(&sim_a, utc(2025, 12, 1, 14, 29, 0)), 0,
           "none before Monday's open");
    ok(kx_sim_tick(&sim_a, utc(2025, 12, 1, 14, 30, 0)) == sim_a.nsyms,
       "every quote changes at the open");
    ok(kx_sim_quote(&sim_a, 0)->prev_close.v == bars[1].c.v,
       "Monday: prev_close is Friday's close");
    ok(kx_sim_tick(&sim_a, utc(2025, 12, 1, 21, 0, 0)) == sim_a.nsyms,
       "every quote changes at the close");

    /* always: prev_close is yesterday's (UTC) daily close */
    t = utc(2025, 11, 25, 15, 0, 0);
    kx_sim_init(&sim_a, 99, ALWAYS, t);
    d = kx_sim_day_of(ALWAYS, t);
    bad = 0;

    for (j = 0; j < sim_a.nsyms; j++) {
        q = kx_sim_quote(&sim_a, j);
        prev = kx_sim_day_start(ALWAYS, d - 1);

        if (kx_sim_bars(&sim_a, j, KX_SIM_TF_1D, prev, prev + 2 * DAY_MS,
                        bars, 8, &n) != KX_SIM_OK || n != 2
            || q->prev_close.v != bars[0].c.v || q->open.v != bars[1].o.v)
        {
            bad++;
        }
    }

    ok(bad == 0, "always: prev_close and open from the daily bars");
}


/* out[] must aggregate the 1m bars in[] into buckets of tf */
static size_t
aggregate(const kx_sim_bar_t *in, size_t n, int64_t tf, kx_sim_bar_t *out,
    int64_t stamp)
{
    size_t   i, k;
    int64_t  b;

    k = 0;

    for (i = 0; i < n; i++) {
        b = stamp ? stamp : in[i].t - ((in[i].t % tf) + tf) % tf;

        if (k > 0 && out[k - 1].t == b) {
            if (in[i].h.v > out[k - 1].h.v) {
                out[k - 1].h = in[i].h;
            }

            if (in[i].l.v < out[k - 1].l.v) {
                out[k - 1].l = in[i].l;
            }

            out[k - 1].c = in[i].c;
            out[k - 1].v += in[i].v;
            continue;
        }

        out[k] = in[i];
        out[k].t = b;
        k++;
    }

    return k;
}


static void
test_bars_consistency(void)
{
    int           mode;
    size_t        n1, n, k, i, bad;
    int64_t       from, to, tf, t;
    kx_sim_tf_e   tfs[] = { KX_SIM_TF_5M, KX_SIM_TF_15M, KX_SIM_TF_1H };
    const char   *name;

    for (mode = 0; mode < 2; mode++) {
        name = kx_sim_hours_name((kx_sim_hours_e) mode);
        kx_sim_init(&sim_a, 5, (kx_sim_hours_e) mode,
                    utc(2025, 11, 25, 15, 0, 0));

        /* one day of New York (or UTC) time, symbol TSLA */
        k = (size_t) kx_symbol_index("TSLA", 4);
        from = kx_sim_day_start((kx_sim_hours_e) mode,
                                kx_days_from_civil(2025, 11, 24));
        to = from + DAY_MS;

        ok(kx_sim_bars(&sim_a, k, KX_SIM_TF_1M, from, to, bars, 8192, &n1)
           == KX_SIM_OK && n1 == (mode == 0 ? 1440u : 390u),
           "%s: a day of 1m bars (%zu)", name, n1);

        bad = 0;

        for (i = 0; i < n1; i++) {
            bad += !bar_sane(&bars[i]);
            bad += i > 0 && (bars[i].o.v != bars[i - 1].c.v
                             || bars[i].t != bars[i - 1].t + MIN_MS);
        }

        ok(bad == 0, "%s: 1m bars: h >= max(o, c), l <= min(o, c), v > 0, "
           "cents, each opening at the previous close", name);

        for (i = 0; i < sizeof(tfs) / sizeof(tfs[0]); i++) {
            tf = kx_sim_tf_ms(tfs[i]);
            n = aggregate(bars, n1, tf, agg, 0);

            ok(kx_sim_bars(&sim_a, k, tfs[i], from, to, bars2, 8192, &k)
               == KX_SIM_OK && k == n, "%s: %s bars: %zu", name,
               kx_sim_tf_name(tfs[i]), k);

            bad = 0;

            for (k = 0; k < n; k++) {
                bad += !bar_eq(&bars2[k], &agg[k]);
            }

            ok(bad == 0, "%s: every %s bar aggregates exactly its 1m bars",
               name, kx_sim_tf_name(tfs[i]));

            k = (size_t) kx_symbol_index("TSLA", 4);
        }

        n = aggregate(bars, n1, DAY_MS, agg, from);

        ok(kx_sim_bars(&sim_a, k, KX_SIM_TF_1D, from, to, bars2, 8, &n) ==
           KX_SIM_OK && n == 1 && bar_eq(&bars2[0], &agg[0]),
           "%s: the 1d bar aggregates the day's 1m bars", name);

        /* any range, any order: the same bars (t + 7 ms: the bars
         * starting strictly after t) */
        t = bars[0].t + 3 * HOUR_MS;
        ok(kx_sim_bars(&sim_a, k, KX_SIM_TF_1M, t + 7, t + 7 + 20 * MIN_MS,
                       bars2, 8192, &n) == KX_SIM_OK && n == 20
           && bars2[0].t == t + MIN_MS, "%s: 20 minutes from inside the day",
           name);

        bad = 0;

        for (i = 0; i < n; i++) {
            for (n1 = 0; n1 < 1440 && bars[n1].t != bars2[i].t; n1++) {
                /* find it */
            }

            bad += n1 == 1440 || !bar_eq(&bars[n1], &bars2[i]);
        }

        ok(bad == 0, "%s: a sub-range gives the same bars", name);
    }
}


static void
test_bars_ranges(void)
{
    size_t       n, n2, i, bad, k;
    int64_t      from, to, t;
    double       start;
    kx_sim_tf_e  tf;

    kx_sim_init(&sim_a, 11, NYSE, utc(2025, 11, 25, 15, 0, 0));
    k = (size_t) kx_symbol_index("AAPL", 4);

    /* a year of daily bars: trading days only, at New York midnight */
    from = utc(2024, 11, 25, 0, 0, 0);
    to = utc(2025, 11, 25, 0, 0, 0);
    start = now_ms();
    ok(kx_sim_bars(&sim_a, k, KX_SIM_TF_1D, from, to, bars, 8192, &n)
       == KX_SIM_OK && n >= 248 && n <= 254, "a year of daily bars: %zu", n);
    diag("a year of daily bars in %.1f ms", now_ms() - start);

    bad = 0;

    for (i = 0; i < n; i++) {
        t = bars[i].t;
        bad += !bar_sane(&bars[i]);
        bad += kx_sim_day_start(NYSE, kx_sim_day_of(NYSE, t)) != t;
        bad += kx_sim_market_open(NYSE, t + 10 * HOUR_MS) == 0;
        bad += t == utc(2025, 12, 25, 5, 0, 0) || t == utc(2025, 7, 4, 4, 0, 0);
    }

    ok(bad == 0, "every daily bar is a sane trading day at New York "
       "midnight");

    /* the same days asked for in two halves, in the other order */
    ok(kx_sim_bars(&sim_a, k, KX_SIM_TF_1D, bars[100].t, to, bars2, 8192,
                   &n2) == KX_SIM_OK && n2 == n - 100, "the later part");
    bad = 0;

    for (i = 0; i < n2; i++) {
        bad += !bar_eq(&bars[100 + i], &bars2[i]);
    }

    ok(bad == 0, "gives the same bars");

    /* days of minute bars */
    start = now_ms();
    ok(kx_sim_bars(&sim_a, k, KX_SIM_TF_1M, utc(2025, 11, 17, 0, 0, 0),
                   utc(2025, 11, 22, 0, 0, 0), bars, 8192, &n) == KX_SIM_OK
       && n == 5 * 390, "a week of 1m bars: 1950");
    diag("a week of minute bars in %.2f ms", now_ms() - start);
    is_int(bars[0].t, utc(2025, 11, 17, 14, 30, 0), "the first at 09:30 EST");
    is_int(bars[389].t, utc(2025, 11, 17, 20, 59, 0), "the last at 15:59");

    ok(kx_sim_bars(&sim_a, k, KX_SIM_TF_1M, utc(2025, 11, 28, 0, 0, 0),
                   utc(2025, 11, 29, 0, 0, 0), bars, 8192, &n) == KX_SIM_OK
       && n == 210, "an early-close day: 210 minutes");

    ok(kx_sim_bars(&sim_a, k, KX_SIM_TF_1H, utc(2025, 11, 24, 0, 0, 0),
                   utc(2025, 11, 25, 0, 0, 0), bars, 8192, &n) == KX_SIM_OK
       && n == 7 && bars[0].t == utc(2025, 11, 24, 14, 0, 0),
       "hourly bars: 7 a day, the first stamped 09:00 for 09:30-09:59");

    ok(kx_sim_bars(&sim_a, k, KX_SIM_TF_1M, utc(2025, 11, 29, 0, 0, 0),
                   utc(2025, 12, 1, 0, 0, 0), bars, 8192, &n) == KX_SIM_OK
       && n == 0, "no bars over a weekend");

    /* paging: a full buffer says so, and the next page follows on */
    ok(kx_sim_bars(&sim_a, k, KX_SIM_TF_5M, utc(2025, 11, 17, 0, 0, 0),
                   utc(2025, 11, 22, 0, 0, 0), bars, 100, &n)
       == KX_SIM_ETRUNC && n == 100, "ETRUNC with a full buffer");
    ok(kx_sim_bars(&sim_a, k, KX_SIM_TF_5M, bars[99].t + 1,
                   utc(2025, 11, 22, 0, 0, 0), bars2, 8192, &n2)
       == KX_SIM_OK && n2 == 5 * 78 - 100, "the rest from the last t + 1");
    ok(kx_sim_bars(&sim_a, k, KX_SIM_TF_5M, utc(2025, 11, 17, 0, 0, 0),
                   utc(2025, 11, 22, 0, 0, 0), agg, 8192, &n) == KX_SIM_OK
       && n == 390 && bar_eq(&agg[100], &bars2[0])
       && bar_eq(&agg[389], &bars2[n2 - 1]), "and the pages join up");

    ok(kx_sim_bars(&sim_a, sim_a.nsyms, KX_SIM_TF_1M, 0, DAY_MS, bars, 8,
                   &n) == KX_SIM_ENOSYM, "unknown symbol index: ENOSYM");
    ok(kx_sim_bars(&sim_a, k, (kx_sim_tf_e) 9, 0, DAY_MS, bars, 8, &n)
       == KX_SIM_EINVAL, "unknown timeframe: EINVAL");
    ok(kx_sim_bars(&sim_a, k, KX_SIM_TF_1M, DAY_MS, 0, bars, 8, &n)
       == KX_SIM_OK && n == 0, "an empty range: no bars");

    ok(kx_sim_tf_parse("15m", 3, &tf) == 0 && tf == KX_SIM_TF_15M
       && kx_sim_tf_parse("1d", 2, &tf) == 0 && tf == KX_SIM_TF_1D
       && kx_sim_tf_parse("2m", 2, &tf) == -1
       && kx_sim_tf_parse("1", 1, &tf) == -1, "timeframes parse");

    /* a year of daily bars in always mode, timed */
    kx_sim_init(&sim_b, 11, ALWAYS, utc(2025, 11, 25, 15, 0, 0));
    start = now_ms();
    ok(kx_sim_bars(&sim_b, k, KX_SIM_TF_1D, from, to, bars, 8192, &n)
       == KX_SIM_OK && n == 365, "always: 365 daily bars a year");
    diag("a year of daily bars (always) in %.1f ms", now_ms() - start);
}


static void
test_news(void)
{
    int                  rc;
    size_t               n, n2, i, j, bad, len;
    int64_t              t, d, up;
    kx_jw_t              w;
    const char          *out;
    kx_json_doc_t       *doc;
    const kx_json_node_t *root;
    static kx_sim_news_t  items[64], again[64];

    t = utc(2025, 11, 25, 15, 0, 0);
    kx_sim_init(&sim_a, 3, NYSE, t);
    j = (size_t) kx_symbol_index("NVDA", 4);

    ok(kx_sim_news(&sim_a, j, t, items, 20, &n) == KX_SIM_OK && n == 20,
       "20 news items for NVDA");
    ok(kx_sim_news(&sim_a, j, t, again, 20, &n2) == KX_SIM_OK && n2 == n
       && memcmp(items, again, n * sizeof(kx_sim_news_t)) == 0,
       "the same items again");

    bad = 0;

    for (i = 0; i < n; i++) {
        bad += items[i].published_ms >= t;
        bad += i > 0 && items[i].published_ms >= items[i - 1].published_ms;
        bad += strstr(items[i].title, "NVIDIA Corporation") == NULL;
        bad += strstr(items[i].summary, "not real news") == NULL;
        bad += strncmp(items[i].id, "sim-", 4) != 0
               || strlen(items[i].id) != 20;

        for (len = 0; len < i; len++) {
            bad += strcmp(items[len].id, items[i].id) == 0;
        }

        /* the sentiment follows the day's simulated move */
        d = kx_sim_day_of(NYSE, items[i].published_ms);
        up = kx_sim_level(&sim_a, j, d) - kx_sim_level(&sim_a, j, d - 1);
        bad += (items[i].sentiment == KX_SIM_POSITIVE && up <= 0)
               || (items[i].sentiment == KX_SIM_NEGATIVE && up >= 0);
    }

    ok(bad == 0, "newest first, before the time asked, unique ids, titles "
       "with the company name, sentiment agreeing with the day's move");

    ok(kx_sim_news(&sim_a, j, items[n - 1].published_ms, again, 5, &n2)
       == KX_SIM_OK && n2 == 5
       && again[0].published_ms < items[n - 1].published_ms,
       "the next page starts after the last item");

    kx_jw_init(&w);
    kx_sim_news_json(&w, &items[0]);
    rc = kx_jw_finish(&w, &out, &len);
    ok(rc == KX_JW_OK && kx_json_parse(out, len, NULL, &doc, NULL)
       == KX_JSON_PE_OK, "news JSON parses");

    if (rc == KX_JW_OK && doc != NULL) {
        root = kx_json_root(doc);
        ok(kx_json_type(kx_json_obj_get(root, "id")) == KX_JSON_STRING
           && kx_json_type(kx_json_obj_get(root, "title")) == KX_JSON_STRING
           && kx_json_type(kx_json_obj_get(root, "published_at"))
              == KX_JSON_STRING
           && kx_json_type(kx_json_obj_get(root, "sentiment"))
              == KX_JSON_STRING
           && kx_json_arr_len(kx_json_obj_get(root, "tickers")) == 1,
           "news JSON has id, title, published_at, sentiment, tickers");
        kx_json_free(doc);
    }

    kx_jw_free(&w);

    ok(kx_sim_news(&sim_a, sim_a.nsyms, t, items, 5, &n) == KX_SIM_ENOSYM,
       "news of an unknown symbol: ENOSYM");
}


static void
test_quote_json(void)
{
    int                    rc;
    size_t                 len, slen;
    kx_jw_t                w;
    kx_dec_t               d;
    const char            *out, *s;
    kx_json_doc_t         *doc;
    const kx_json_node_t  *root;
    const kx_sim_quote_t  *q;

    kx_sim_init(&sim_a, 1, ALWAYS, utc(2025, 11, 25, 20, 29, 0) + 250);
    q = kx_sim_quote(&sim_a, 0);

    kx_jw_init(&w);
    kx_sim_quote_json(&w, q);
    rc = kx_jw_finish(&w, &out, &len);
    ok(rc == KX_JW_OK && kx_json_parse(out, len, NULL, &doc, NULL)
       == KX_JSON_PE_OK, "quote JSON parses: %s", rc == KX_JW_OK ? out : "");

    if (rc == KX_JW_OK && doc != NULL) {
        root = kx_json_root(doc);
        ok(kx_json_get_str(root, "symbol", &s, &slen) == KX_JSON_OK
           && strcmp(s, "AAPL") == 0, "symbol AAPL");
        ok(kx_json_type(kx_json_obj_get(root, "price")) == KX_JSON_STRING
           && kx_json_get_dec(root, "price", 2, &d) == KX_JSON_OK
           && d.v == q->price.v, "price is an exact decimal string");
        ok(kx_json_get_dec(root, "bid", 2, &d) == KX_JSON_OK
           && d.v == q->bid.v && kx_json_get_dec(root, "ask", 2, &d)
           == KX_JSON_OK && d.v == q->ask.v, "bid and ask");
        ok(kx_json_get_dec(root, "change_percent", 2, &d) == KX_JSON_OK
           && d.v == q->change_percent.v, "change_percent");
        ok(kx_json_type(kx_json_obj_get(root, "bid_size")) == KX_JSON_NUMBER
           && kx_json_type(kx_json_obj_get(root, "ask_size"))
              == KX_JSON_NUMBER, "sizes are numbers");
        ok(kx_json_get_str(root, "timestamp", &s, &slen) == KX_JSON_OK
           && strcmp(s, "2025-11-25T20:29:00.250Z") == 0,
           "timestamp in ISO 8601");
        kx_json_free(doc);
    }

    kx_jw_free(&w);
}


/*
 * Pinned output of seed 42, so that a change to the generator (which
 * would change every history ever served) does not go unnoticed, and
 * so that every compiler and platform is held to the same numbers.
 */
static void
test_golden(void)
{
    int           mode;
    size_t        n, len;
    int64_t       d;
    kx_jw_t       w;
    const char   *out;
    kx_sim_bar_t  b[2];

    static const char  *quote[2] = {
        "{\"symbol\":\"AAPL\",\"price\":\"201.26\",\"bid\":\"201.23\","
        "\"ask\":\"201.28\",\"bid_size\":900,\"ask_size\":1400,"
        "\"open\":\"199.53\",\"prev_close\":\"199.53\","
        "\"change_percent\":\"0.87\","
        "\"timestamp\":\"2025-11-25T20:29:00.000Z\"}",
        "{\"symbol\":\"AAPL\",\"price\":\"201.59\",\"bid\":\"201.56\","
        "\"ask\":\"201.61\",\"bid_size\":900,\"ask_size\":1400,"
        "\"open\":\"199.53\",\"prev_close\":\"199.53\","
        "\"change_percent\":\"1.03\","
        "\"timestamp\":\"2025-11-25T20:29:00.000Z\"}"
    };

    static const char  *bar[2] = {
        "{\"t\":1763942400000,\"o\":\"202.44\",\"h\":\"204.49\","
        "\"l\":\"199.21\",\"c\":\"199.53\",\"v\":54721498}",
        "{\"t\":1763960400000,\"o\":\"202.44\",\"h\":\"203.14\","
        "\"l\":\"197.64\",\"c\":\"199.53\",\"v\":55437659}"
    };

    for (mode = 0; mode < 2; mode++) {
        kx_sim_init(&sim_a, 42, (kx_sim_hours_e) mode,
                    INT64_C(1764102540000));

        kx_jw_init(&w);
        kx_sim_quote_json(&w, kx_sim_quote(&sim_a, 0));

        if (ok(kx_jw_finish(&w, &out, &len) == KX_JW_OK, "golden quote")) {
            is_str(out, quote[mode], kx_sim_hours_name((kx_sim_hours_e) mode));
        }

        kx_jw_free(&w);

        d = kx_days_from_civil(2025, 11, 24);
        kx_sim_bars(&sim_a, 0, KX_SIM_TF_1D,
                    kx_sim_day_start((kx_sim_hours_e) mode, d),
                    kx_sim_day_start((kx_sim_hours_e) mode, d) + 1, b, 2, &n);

        kx_jw_init(&w);
        kx_sim_bar_json(&w, &b[0]);

        if (ok(n == 1 && kx_jw_finish(&w, &out, &len) == KX_JW_OK,
               "golden daily bar"))
        {
            is_str(out, bar[mode], kx_sim_hours_name((kx_sim_hours_e) mode));
        }

        kx_jw_free(&w);
    }
}


int
main(void)
{
    test_calendar();
    test_dst();
    test_holidays();
    test_hours();
    test_determinism();
    test_invariants();
    test_quote_history();
    test_bars_consistency();
    test_bars_ranges();
    test_news();
    test_quote_json();
    test_golden();

    return kx_tap_done();
}
