
/*
 * Copyright (C) Kianax
 */


#include <stdio.h>
#include <string.h>

#include "kx_sim_hours.h"


#define KX_SIM_OPEN_MS        (9 * KX_MS_PER_HOUR + 30 * KX_MS_PER_MINUTE)
#define KX_SIM_CLOSE_MS       (16 * KX_MS_PER_HOUR)
#define KX_SIM_EARLY_MS       (13 * KX_MS_PER_HOUR)

/* no stretch without a session is this long: the longest is four days */
#define KX_SIM_SEARCH_DAYS    31


typedef struct {
    uint16_t        year;
    uint8_t         month;
    uint8_t         mday;
    uint8_t         kind;       /* KX_NYSE_CLOSED or KX_NYSE_EARLY */
} kx_nyse_date_t;


static int64_t kx_floor_div(int64_t a, int64_t b);
static unsigned kx_nth_weekday(int64_t year, unsigned month, unsigned wday,
    unsigned n);
static unsigned kx_last_weekday(int64_t year, unsigned month,
    unsigned wday);
static void kx_easter(int64_t year, unsigned *month, unsigned *mday);
static int kx_ny_dst_span(int64_t year, int64_t *start, int64_t *end);
static int kx_nyse_observed(int64_t year, unsigned month, unsigned mday,
    unsigned hmonth, unsigned hday);
static int kx_ny_midnight_offset(int64_t day);


/*
 * The NYSE's published calendars ("NYSE Group announces 2025, 2026 and
 * 2027 holiday and early closings calendar", and the 2022-2024 one):
 * full-day closures and 13:00 early closes.  Weekends are not listed.
 */

#define C  KX_NYSE_CLOSED
#define X  KX_NYSE_EARLY

static const kx_nyse_date_t  kx_nyse_table[] = {
    { 2024,  1,  1, C }, { 2024,  1, 15, C }, { 2024,  2, 19, C },
    { 2024,  3, 29, C }, { 2024,  5, 27, C }, { 2024,  6, 19, C },
    { 2024,  7,  3, X }, { 2024,  7,  4, C }, { 2024,  9,  2, C },
    { 2024, 11, 28, C }, { 2024, 11, 29, X }, { 2024, 12, 24, X },
    { 2024, 12, 25, C },

    { 2025,  1,  1, C }, { 2025,  1,  9, C },   /* national mourning */
    { 2025,  1, 20, C }, { 2025,  2, 17, C }, { 2025,  4, 18, C },
    { 2025,  5, 26, C }, { 2025,  6, 19, C }, { 2025,  7,  3, X },
    { 2025,  7,  4, C }, { 2025,  9,  1, C }, { 2025, 11, 27, C },
    { 2025, 11, 28, X }, { 2025, 12, 24, X }, { 2025, 12, 25, C },

    { 2026,  1,  1, C }, { 2026,  1, 19, C }, { 2026,  2, 16, C },
    { 2026,  4,  3, C }, { 2026,  5, 25, C }, { 2026,  6, 19, C },
    { 2026,  7,  3, C }, { 2026,  9,  7, C }, { 2026, 11, 26, C },
    { 2026, 11, 27, X }, { 2026, 12, 24, X }, { 2026, 12, 25, C },

    { 2027,  1,  1, C }, { 2027,  1, 18, C }, { 2027,  2, 15, C },
    { 2027,  3, 26, C }, { 2027,  5, 31, C }, { 2027,  6, 18, C },
    { 2027,  7,  5, C }, { 2027,  9,  6, C }, { 2027, 11, 25, C },
    { 2027, 11, 26, X }, { 2027, 12, 24, C }
};

#undef C
#undef X

#define KX_NYSE_TABLE_FIRST  2024
#define KX_NYSE_TABLE_LAST   2027


int
kx_sim_hours_parse(const char *s, size_t len, kx_sim_hours_e *mode)
{
    if (len == 6 && memcmp(s, "always", 6) == 0) {
        *mode = KX_SIM_HOURS_ALWAYS;
        return 0;
    }

    if (len == 4 && memcmp(s, "nyse", 4) == 0) {
        *mode = KX_SIM_HOURS_NYSE;
        return 0;
    }

    return -1;
}


const char *
kx_sim_hours_name(kx_sim_hours_e mode)
{
    return mode == KX_SIM_HOURS_NYSE ? "nyse" : "always";
}


int
kx_sim_market_open(kx_sim_hours_e mode, int64_t utc_ms)
{
    int64_t  open, close;

    if (mode != KX_SIM_HOURS_NYSE) {
        return 1;
    }

    if (kx_sim_session(mode, kx_sim_day_of(mode, utc_ms), &open, &close)
        != 0)
    {
        return 0;
    }

    return utc_ms >= open && utc_ms < close;
}


int64_t
kx_sim_next_transition(kx_sim_hours_e mode, int64_t utc_ms,
    int *is_open_after)
{
    int      i;
    int64_t  day, open, close;

    if (mode != KX_SIM_HOURS_NYSE) {
        *is_open_after = 1;
        return KX_SIM_NEVER;
    }

    day = kx_sim_day_of(mode, utc_ms);

    for (i = 0; i <= KX_SIM_SEARCH_DAYS; i++) {
        if (kx_sim_session(mode, day + i, &open, &close) != 0) {
            continue;
        }

        if (utc_ms < open) {
            *is_open_after = 1;
            return open;
        }

        if (utc_ms < close) {
            *is_open_after = 0;
            return close;
        }
    }

    /* unreachable with any real calendar */
    *is_open_after = 1;
    return KX_SIM_NEVER;
}


int64_t
kx_sim_day_of(kx_sim_hours_e mode, int64_t utc_ms)
{
    if (mode != KX_SIM_HOURS_NYSE) {
        return kx_floor_div(utc_ms, KX_MS_PER_DAY);
    }

    return kx_floor_div(utc_ms + kx_ny_utc_offset(utc_ms) * KX_MS_PER_MINUTE,
                        KX_MS_PER_DAY);
}


int
kx_sim_session(kx_sim_hours_e mode, int64_t day, int64_t *open_ms,
    int64_t *close_ms)
{
    int64_t        year, local0;
    unsigned       month, mday;
    kx_nyse_day_e  kind;

    if (mode != KX_SIM_HOURS_NYSE) {
        *open_ms = day * KX_MS_PER_DAY;
        *close_ms = *open_ms + KX_MS_PER_DAY;
        return 0;
    }

    kx_civil_from_days(day, &year, &month, &mday);

    if (year < 1 || year > 9999) {
        return -1;
    }

    kind = kx_nyse_day((int) year, month, mday);

    if (kind == KX_NYSE_CLOSED) {
        return -1;
    }

    /* sessions are far from the 02:00 switch: the date decides */
    local0 = day * KX_MS_PER_DAY
             - (kx_ny_is_dst((int) year, month, mday) ? -240 : -300)
               * KX_MS_PER_MINUTE;

    *open_ms = local0 + KX_SIM_OPEN_MS;
    *close_ms = local0 + (kind == KX_NYSE_EARLY ? KX_SIM_EARLY_MS
                                                : KX_SIM_CLOSE_MS);
    return 0;
}


int64_t
kx_sim_day_start(kx_sim_hours_e mode, int64_t day)
{
    if (mode != KX_SIM_HOURS_NYSE) {
        return day * KX_MS_PER_DAY;
    }

    return day * KX_MS_PER_DAY
           - kx_ny_midnight_offset(day) * KX_MS_PER_MINUTE;
}


int64_t
kx_sim_prev_trading_day(kx_sim_hours_e mode, int64_t day)
{
    int      i;
    int64_t  open, close;

    for (i = 1; i <= KX_SIM_SEARCH_DAYS; i++) {
        if (kx_sim_session(mode, day - i, &open, &close) == 0) {
            return day - i;
        }
    }

    return day - 1;
}


int64_t
kx_sim_next_trading_day(kx_sim_hours_e mode, int64_t day)
{
    int      i;
    int64_t  open, close;

    for (i = 1; i <= KX_SIM_SEARCH_DAYS; i++) {
        if (kx_sim_session(mode, day + i, &open, &close) == 0) {
            return day + i;
        }
    }

    return day + 1;
}


kx_nyse_day_e
kx_nyse_day(int year, unsigned month, unsigned mday)
{
    size_t    i;
    unsigned  wday;

    wday = kx_weekday(kx_days_from_civil(year, month, mday));

    if (wday == 0 || wday == 6) {
        return KX_NYSE_CLOSED;
    }

    if (year < KX_NYSE_TABLE_FIRST || year > KX_NYSE_TABLE_LAST) {
        return kx_nyse_day_by_rules(year, month, mday);
    }

    for (i = 0; i < sizeof(kx_nyse_table) / sizeof(kx_nyse_table[0]); i++) {
        if (kx_nyse_table[i].year == year
            && kx_nyse_table[i].month == month
            && kx_nyse_table[i].mday == mday)
        {
            return (kx_nyse_day_e) kx_nyse_table[i].kind;
        }
    }

    return KX_NYSE_FULL;
}


kx_nyse_day_e
kx_nyse_day_by_rules(int year, unsigned month, unsigned mday)
{
    unsigned  wday, em, ed;
    int64_t   days, gf;

    days = kx_days_from_civil(year, month, mday);
    wday = kx_weekday(days);

    if (wday == 0 || wday == 6) {
        return KX_NYSE_CLOSED;
    }

    /* New Year's Day: a Sunday one moves to Monday, a Saturday one is
     * not observed (the Friday closes a year) */
    if ((month == 1 && mday == 1) || (month == 1 && mday == 2 && wday == 1)) {
        return KX_NYSE_CLOSED;
    }

    if (month == 1 && year >= 1998 && mday == kx_nth_weekday(year, 1, 1, 3)) {
        return KX_NYSE_CLOSED;                  /* Martin Luther King */
    }

    if (month == 2 && mday == kx_nth_weekday(year, 2, 1, 3)) {
        return KX_NYSE_CLOSED;                  /* Washington's Birthday */
    }

    kx_easter(year, &em, &ed);
    gf = kx_days_from_civil(year, em, ed) - 2;

    if (days == gf) {
        return KX_NYSE_CLOSED;                  /* Good Friday */
    }

    if (month == 5 && mday == kx_last_weekday(year, 5, 1)) {
        return KX_NYSE_CLOSED;                  /* Memorial Day */
    }

    if (year >= 2022 && kx_nyse_observed(year, month, mday, 6, 19)) {
        return KX_NYSE_CLOSED;                  /* Juneteenth */
    }

    if (kx_nyse_observed(year, month, mday, 7, 4)) {
        return KX_NYSE_CLOSED;                  /* Independence Day */
    }

    if (month == 9 && mday == kx_nth_weekday(year, 9, 1, 1)) {
        return KX_NYSE_CLOSED;                  /* Labor Day */
    }

    if (month == 11 && mday == kx_nth_weekday(year, 11, 4, 4)) {
        return KX_NYSE_CLOSED;                  /* Thanksgiving */
    }

    if (kx_nyse_observed(year, month, mday, 12, 25)) {
        return KX_NYSE_CLOSED;                  /* Christmas */
    }

    /* early closes: the eves of a weekday Independence Day and
     * Christmas, and the day after Thanksgiving */
    if (month == 7 && mday == 3 && wday <= 4) {
        return KX_NYSE_EARLY;
    }

    if (month == 11 && mday == kx_nth_weekday(year, 11, 4, 4) + 1) {
        return KX_NYSE_EARLY;
    }

    if (month == 12 && mday == 24 && wday <= 4) {
        return KX_NYSE_EARLY;
    }

    return KX_NYSE_FULL;
}


int
kx_ny_utc_offset(int64_t utc_ms)
{
    int64_t   year, start, end;
    unsigned  month, mday;

    kx_civil_from_days(kx_floor_div(utc_ms, KX_MS_PER_DAY), &year, &month,
                       &mday);

    if (kx_ny_dst_span(year, &start, &end) != 0) {
        return -300;
    }

    /* 02:00 EST is 07:00 UTC; 02:00 EDT is 06:00 UTC */
    if (utc_ms >= start * KX_MS_PER_DAY + 7 * KX_MS_PER_HOUR
        && utc_ms < end * KX_MS_PER_DAY + 6 * KX_MS_PER_HOUR)
    {
        return -240;
    }

    return -300;
}


int
kx_ny_is_dst(int year, unsigned month, unsigned mday)
{
    int64_t  day, start, end;

    if (kx_ny_dst_span(year, &start, &end) != 0) {
        return 0;
    }

    day = kx_days_from_civil(year, month, mday);

    return day >= start && day < end;
}


size_t
kx_sim_time_format(int64_t utc_ms, char *buf, size_t size)
{
    int64_t   days, ms, year;
    unsigned  month, mday;
    int       n;

    days = kx_floor_div(utc_ms, KX_MS_PER_DAY);
    ms = utc_ms - days * KX_MS_PER_DAY;
    kx_civil_from_days(days, &year, &month, &mday);

    if (year < 0 || year > 9999 || size < KX_SIM_TIME_FMT_MAX) {
        if (size) {
            buf[0] = '\0';
        }

        return 0;
    }

    n = snprintf(buf, size, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ",
                 (int) year, month, mday, (int) (ms / KX_MS_PER_HOUR),
                 (int) (ms / KX_MS_PER_MINUTE % 60), (int) (ms / 1000 % 60),
                 (int) (ms % 1000));

    return n < 0 ? 0 : (size_t) n;
}


static int64_t
kx_floor_div(int64_t a, int64_t b)
{
    int64_t  q;

    q = a / b;

    if ((a % b != 0) && ((a < 0) != (b < 0))) {
        q--;
    }

    return q;
}


/* the day of month of the n-th given weekday (0 = Sunday) */
static unsigned
kx_nth_weekday(int64_t year, unsigned month, unsigned wday, unsigned n)
{
    unsigned  first;

    first = kx_weekday(kx_days_from_civil(year, month, 1));

    return 1 + (wday + 7 - first) % 7 + 7 * (n - 1);
}


static unsigned
kx_last_weekday(int64_t year, unsigned month, unsigned wday)
{
    unsigned  last, lw;

    last = kx_days_in_month(year, month);
    lw = kx_weekday(kx_days_from_civil(year, month, last));

    return last - (lw + 7 - wday) % 7;
}


/* the anonymous Gregorian computus (Meeus/Jones/Butcher) */
static void
kx_easter(int64_t year, unsigned *month, unsigned *mday)
{
    int64_t  a, b, c, d, e, f, g, h, i, k, l, m;

    a = year % 19;
    b = year / 100;
    c = year % 100;
    d = b / 4;
    e = b % 4;
    f = (b + 8) / 25;
    g = (b - f + 1) / 3;
    h = (19 * a + b - d - g + 15) % 30;
    i = c / 4;
    k = c % 4;
    l = (32 + 2 * e + 2 * i - h - k) % 7;
    m = (a + 11 * h + 22 * l) / 451;

    *month = (unsigned) ((h + l - 7 * m + 114) / 31);
    *mday = (unsigned) ((h + l - 7 * m + 114) % 31 + 1);
}


/* the first and the first-after-last days of daylight time, or -1 */
static int
kx_ny_dst_span(int64_t year, int64_t *start, int64_t *end)
{
    if (year >= 2007) {
        *start = kx_days_from_civil(year, 3, kx_nth_weekday(year, 3, 0, 2));
        *end = kx_days_from_civil(year, 11, kx_nth_weekday(year, 11, 0, 1));

    } else if (year >= 1987) {
        *start = kx_days_from_civil(year, 4, kx_nth_weekday(year, 4, 0, 1));
        *end = kx_days_from_civil(year, 10, kx_last_weekday(year, 10, 0));

    } else if (year >= 1967) {
        *start = kx_days_from_civil(year, 4, kx_last_weekday(year, 4, 0));
        *end = kx_days_from_civil(year, 10, kx_last_weekday(year, 10, 0));

    } else {
        return -1;
    }

    return 0;
}


/* a fixed-date holiday, moved off a weekend as NYSE Rule 7.2 says */
static int
kx_nyse_observed(int64_t year, unsigned month, unsigned mday,
    unsigned hmonth, unsigned hday)
{
    int64_t   h, day;
    unsigned  wday;

    h = kx_days_from_civil(year, hmonth, hday);
    wday = kx_weekday(h);

    if (wday == 6) {
        h--;

    } else if (wday == 0) {
        h++;
    }

    day = kx_days_from_civil(year, month, mday);

    return day == h;
}


/* at 00:00 the previous date's rule still holds: switches are at 02:00 */
static int
kx_ny_midnight_offset(int64_t day)
{
    int64_t   year;
    unsigned  month, mday;

    kx_civil_from_days(day - 1, &year, &month, &mday);

    if (year < 1 || year > 9999) {
        return -300;
    }

    return kx_ny_is_dst((int) year, month, mday) ? -240 : -300;
}
