
/*
 * Copyright (C) Kianax
 */


#ifndef _KX_SIM_HOURS_H_INCLUDED_
#define _KX_SIM_HOURS_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include "core/kx_calendar.h"


/*
 * Market hours of the simulated market, and the calendar arithmetic
 * behind them, in pure C: no time zone database, no localtime(), no
 * dependence on TZ or on the range of time_t.  Times are Unix epoch
 * milliseconds (UTC) in int64.
 *
 *   always   open all the time; a trading "day" is a UTC day.
 *   nyse     Monday to Friday, 09:30 to 16:00 America/New_York (13:00
 *            on early-close days), except NYSE holidays.  A trading
 *            day is a New York calendar date.
 *
 * New York time follows the US daylight saving rules in force for the
 * year: since 2007 from the second Sunday in March to the first Sunday
 * in November; 1987-2006 first Sunday in April to last Sunday in
 * October; 1967-1986 last Sunday in April to last Sunday in October
 * (the 1974-75 emergency years are not modelled); before 1967 none.
 * Transitions happen at 02:00 local time.
 *
 * NYSE holidays and early closes for 2024-2027 come from the exchange's
 * published calendars (kx_sim_hours.c), including the one-off closure
 * of 9 January 2025.  Other years follow the exchange's rules (NYSE
 * Rule 7.2: Saturday holidays move to Friday, Sunday ones to Monday,
 * except that a Saturday New Year's Day is not observed), which cannot
 * foresee one-off closures.
 */

typedef enum {
    KX_SIM_HOURS_ALWAYS = 0,
    KX_SIM_HOURS_NYSE
} kx_sim_hours_e;


/* what kind of day a date is on the NYSE */
typedef enum {
    KX_NYSE_CLOSED = 0,         /* weekend or holiday */
    KX_NYSE_FULL,               /* 09:30-16:00 */
    KX_NYSE_EARLY               /* 09:30-13:00 */
} kx_nyse_day_e;


#define KX_MS_PER_MINUTE   INT64_C(60000)
#define KX_MS_PER_HOUR     INT64_C(3600000)
#define KX_MS_PER_DAY      INT64_C(86400000)

/* no transition ever happens (always mode) */
#define KX_SIM_NEVER       INT64_MAX

/* "2026-11-25T20:29:00.250Z" and its NUL */
#define KX_SIM_TIME_FMT_MAX  25


/* "always" or "nyse"; 0, or -1 for anything else */
int kx_sim_hours_parse(const char *s, size_t len, kx_sim_hours_e *mode);
const char *kx_sim_hours_name(kx_sim_hours_e mode);

/* 1 when the market is open at utc_ms, else 0 */
int kx_sim_market_open(kx_sim_hours_e mode, int64_t utc_ms);

/*
 * The first instant after utc_ms at which the market opens or closes,
 * with *is_open_after telling which (1: it opens then).  Sessions are
 * half-open, [open, close): at the closing instant the market is
 * already closed.  KX_SIM_NEVER in always mode (*is_open_after 1).
 */
int64_t kx_sim_next_transition(kx_sim_hours_e mode, int64_t utc_ms,
    int *is_open_after);

/*
 * Trading days.  kx_sim_day_of() numbers the day holding utc_ms (days
 * since 1970-01-01 of a UTC date in always mode, of a New York date in
 * nyse mode).  kx_sim_session() gives that day's session; it returns
 * 0, or -1 when the market does not open that day.
 * kx_sim_day_start() is the first millisecond of the day (New York
 * midnight in nyse mode): the time stamp of the day's daily bar.
 */
int64_t kx_sim_day_of(kx_sim_hours_e mode, int64_t utc_ms);
int kx_sim_session(kx_sim_hours_e mode, int64_t day, int64_t *open_ms,
    int64_t *close_ms);
int64_t kx_sim_day_start(kx_sim_hours_e mode, int64_t day);

/* the nearest trading day strictly before / after day (within a month) */
int64_t kx_sim_prev_trading_day(kx_sim_hours_e mode, int64_t day);
int64_t kx_sim_next_trading_day(kx_sim_hours_e mode, int64_t day);

/* NYSE day kind from the published table (2024-2027) or the rules */
kx_nyse_day_e kx_nyse_day(int year, unsigned month, unsigned mday);
/* the rules alone, for checking them against the table */
kx_nyse_day_e kx_nyse_day_by_rules(int year, unsigned month, unsigned mday);

/* America/New_York: UTC offset in minutes (-300 or -240) at utc_ms */
int kx_ny_utc_offset(int64_t utc_ms);
/* whether daylight time is in effect at noon on a New York date */
int kx_ny_is_dst(int year, unsigned month, unsigned mday);

/* ISO 8601 UTC with milliseconds; like snprintf (0 if out of range) */
size_t kx_sim_time_format(int64_t utc_ms, char *buf, size_t size);


#endif /* _KX_SIM_HOURS_H_INCLUDED_ */
