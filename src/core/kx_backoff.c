
/*
 * Copyright (C) Kianax
 */


#include <string.h>

#include "kx_backoff.h"
#include "kx_calendar.h"


typedef struct {
    const char   *p;
    const char   *end;
} kx_date_cur_t;


static int kx_date_imf(kx_date_cur_t *c, int64_t *epoch_s);
static int kx_date_rfc850(kx_date_cur_t *c, int64_t *epoch_s);
static int kx_date_asctime(kx_date_cur_t *c, int64_t *epoch_s);
static int kx_date_lit(kx_date_cur_t *c, const char *lit);
static int kx_date_digits(kx_date_cur_t *c, unsigned min, unsigned max,
    int *value);
static int kx_date_month(kx_date_cur_t *c, int *month);
static int kx_date_time(kx_date_cur_t *c, int *h, int *m, int *s);
static int kx_date_epoch(int year, int month, int day, int h, int m, int s,
    int64_t *epoch_s);
static int kx_date_short_day(kx_date_cur_t *c);


static const char  *kx_date_short_days[] = {
    "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"
};

static const char  *kx_date_long_days[] = {
    "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday",
    "Sunday"
};

static const char  *kx_date_months[] = {
    "Jan", "Feb", "Mar", "Apr", "May", "Jun",
    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
};


int64_t
kx_backoff_ceiling(int64_t base_ms, int64_t cap_ms, unsigned attempt)
{
    int64_t   d;
    unsigned  i;

    if (cap_ms > KX_BACKOFF_MAX_MS) {
        cap_ms = KX_BACKOFF_MAX_MS;
    }

    if (base_ms <= 0 || cap_ms <= 0) {
        return 0;
    }

    d = base_ms < cap_ms ? base_ms : cap_ms;

    /* doubling stops at the cap, so d never overflows */
    for (i = 1; i < attempt && d < cap_ms; i++) {
        d *= 2;
    }

    return d < cap_ms ? d : cap_ms;
}


int64_t
kx_backoff_full(int64_t base_ms, int64_t cap_ms, unsigned attempt,
    uint32_t rnd)
{
    return kx_backoff_uniform(0, kx_backoff_ceiling(base_ms, cap_ms, attempt),
                              rnd);
}


int64_t
kx_backoff_decorrelated(int64_t base_ms, int64_t cap_ms, int64_t prev_ms,
    uint32_t rnd)
{
    int64_t  hi, d;

    if (cap_ms > KX_BACKOFF_MAX_MS) {
        cap_ms = KX_BACKOFF_MAX_MS;
    }

    if (base_ms <= 0 || cap_ms <= 0) {
        return 0;
    }

    if (base_ms > cap_ms) {
        return cap_ms;
    }

    if (prev_ms < base_ms) {
        prev_ms = base_ms;
    }

    if (prev_ms > KX_BACKOFF_MAX_MS / 3) {
        hi = KX_BACKOFF_MAX_MS;

    } else {
        hi = prev_ms * 3;
    }

    d = kx_backoff_uniform(base_ms, hi, rnd);

    return d < cap_ms ? d : cap_ms;
}


int64_t
kx_backoff_uniform(int64_t lo, int64_t hi, uint32_t rnd)
{
    uint64_t  span;

    if (hi <= lo) {
        return lo;
    }

    span = (uint64_t) (hi - lo) + 1;

    /* scaling, not modulo: no bias toward small values */
    return lo + (int64_t) (((uint64_t) rnd * span) >> 32);
}


int
kx_retry_after_parse(const char *s, size_t len, int64_t now_ms,
    int64_t cap_ms, int64_t *delay_ms)
{
    int64_t      secs, date, d;
    const char  *p, *end;

    if (cap_ms < 0) {
        cap_ms = 0;

    } else if (cap_ms > KX_BACKOFF_MAX_MS) {
        cap_ms = KX_BACKOFF_MAX_MS;
    }

    p = s;
    end = s + len;

    while (p < end && (*p == ' ' || *p == '\t')) {
        p++;
    }

    while (end > p && (end[-1] == ' ' || end[-1] == '\t')) {
        end--;
    }

    if (p == end) {
        return -1;
    }

    if (*p >= '0' && *p <= '9') {
        secs = 0;

        for ( /* void */ ; p < end; p++) {
            if (*p < '0' || *p > '9') {
                return -1;
            }

            /* anything beyond the cap is the cap: stop counting early */
            if (secs <= cap_ms / 1000) {
                secs = secs * 10 + (*p - '0');
            }
        }

        d = secs > cap_ms / 1000 ? cap_ms : secs * 1000;
        *delay_ms = d < cap_ms ? d : cap_ms;

        return 0;
    }

    if (kx_http_date_parse(p, end - p, &date) != 0) {
        return -1;
    }

    /* whole seconds: a date means "not before this second" */
    if (date > INT64_MAX / 1000 || date * 1000 - now_ms > cap_ms) {
        *delay_ms = cap_ms;
        return 0;
    }

    d = date * 1000 - now_ms;
    *delay_ms = d > 0 ? d : 0;

    return 0;
}


int
kx_http_date_parse(const char *s, size_t len, int64_t *epoch_s)
{
    size_t         i;
    kx_date_cur_t  c;

    /* "Sun," IMF-fixdate; "Sunday," RFC 850; "Sun " asctime */
    for (i = 0; i < len && s[i] != ',' && s[i] != ' '; i++) {
        /* void */
    }

    c.p = s;
    c.end = s + len;

    if (i == len) {
        return -1;
    }

    if (s[i] == ',') {
        if (i == 3) {
            return kx_date_imf(&c, epoch_s);
        }

        return kx_date_rfc850(&c, epoch_s);
    }

    return kx_date_asctime(&c, epoch_s);
}


/* Sun, 06 Nov 1994 08:49:37 GMT */

static int
kx_date_imf(kx_date_cur_t *c, int64_t *epoch_s)
{
    int  day, month, year, h, m, s;

    if (kx_date_short_day(c) != 0
        || kx_date_lit(c, ", ") != 0
        || kx_date_digits(c, 2, 2, &day) != 0
        || kx_date_lit(c, " ") != 0
        || kx_date_month(c, &month) != 0
        || kx_date_lit(c, " ") != 0
        || kx_date_digits(c, 4, 4, &year) != 0
        || kx_date_lit(c, " ") != 0
        || kx_date_time(c, &h, &m, &s) != 0
        || kx_date_lit(c, " GMT") != 0
        || c->p != c->end)
    {
        return -1;
    }

    return kx_date_epoch(year, month, day, h, m, s, epoch_s);
}


/* Sunday, 06-Nov-94 08:49:37 GMT */

static int
kx_date_rfc850(kx_date_cur_t *c, int64_t *epoch_s)
{
    int     day, month, year, h, m, s;
    size_t  i, n;

    for (i = 0; i < 7; i++) {
        n = strlen(kx_date_long_days[i]);

        if ((size_t) (c->end - c->p) >= n
            && memcmp(c->p, kx_date_long_days[i], n) == 0)
        {
            c->p += n;
            break;
        }
    }

    if (i == 7
        || kx_date_lit(c, ", ") != 0
        || kx_date_digits(c, 2, 2, &day) != 0
        || kx_date_lit(c, "-") != 0
        || kx_date_month(c, &month) != 0
        || kx_date_lit(c, "-") != 0
        || kx_date_digits(c, 2, 2, &year) != 0
        || kx_date_lit(c, " ") != 0
        || kx_date_time(c, &h, &m, &s) != 0
        || kx_date_lit(c, " GMT") != 0
        || c->p != c->end)
    {
        return -1;
    }

    /*
     * RFC 9110: a two-digit year more than 50 years in the future means
     * the most recent past year with those digits.  Without a clock here,
     * 70..99 are 19xx and 00..69 are 20xx (right until 2020 + 49).
     */
    year += year < 70 ? 2000 : 1900;

    return kx_date_epoch(year, month, day, h, m, s, epoch_s);
}


/* Sun Nov  6 08:49:37 1994 */

static int
kx_date_asctime(kx_date_cur_t *c, int64_t *epoch_s)
{
    int  day, month, year, h, m, s;

    if (kx_date_short_day(c) != 0
        || kx_date_lit(c, " ") != 0
        || kx_date_month(c, &month) != 0
        || kx_date_lit(c, " ") != 0)
    {
        return -1;
    }

    if (c->p < c->end && *c->p == ' ') {
        c->p++;

        if (kx_date_digits(c, 1, 1, &day) != 0) {
            return -1;
        }

    } else if (kx_date_digits(c, 2, 2, &day) != 0) {
        return -1;
    }

    if (kx_date_lit(c, " ") != 0
        || kx_date_time(c, &h, &m, &s) != 0
        || kx_date_lit(c, " ") != 0
        || kx_date_digits(c, 4, 4, &year) != 0
        || c->p != c->end)
    {
        return -1;
    }

    return kx_date_epoch(year, month, day, h, m, s, epoch_s);
}


static int
kx_date_short_day(kx_date_cur_t *c)
{
    size_t  i;

    if (c->end - c->p < 3) {
        return -1;
    }

    for (i = 0; i < 7; i++) {
        if (memcmp(c->p, kx_date_short_days[i], 3) == 0) {
            c->p += 3;
            return 0;
        }
    }

    return -1;
}


static int
kx_date_lit(kx_date_cur_t *c, const char *lit)
{
    size_t  n;

    n = strlen(lit);

    if ((size_t) (c->end - c->p) < n || memcmp(c->p, lit, n) != 0) {
        return -1;
    }

    c->p += n;

    return 0;
}


static int
kx_date_digits(kx_date_cur_t *c, unsigned min, unsigned max, int *value)
{
    int       v;
    unsigned  n;

    v = 0;

    for (n = 0; n < max && c->p < c->end && *c->p >= '0' && *c->p <= '9';
         n++)
    {
        v = v * 10 + (*c->p++ - '0');
    }

    if (n < min) {
        return -1;
    }

    *value = v;

    return 0;
}


static int
kx_date_month(kx_date_cur_t *c, int *month)
{
    int  i;

    if (c->end - c->p < 3) {
        return -1;
    }

    for (i = 0; i < 12; i++) {
        if (memcmp(c->p, kx_date_months[i], 3) == 0) {
            c->p += 3;
            *month = i + 1;
            return 0;
        }
    }

    return -1;
}


static int
kx_date_time(kx_date_cur_t *c, int *h, int *m, int *s)
{
    if (kx_date_digits(c, 2, 2, h) != 0
        || kx_date_lit(c, ":") != 0
        || kx_date_digits(c, 2, 2, m) != 0
        || kx_date_lit(c, ":") != 0
        || kx_date_digits(c, 2, 2, s) != 0)
    {
        return -1;
    }

    /* 60: a leap second */
    if (*h > 23 || *m > 59 || *s > 60) {
        return -1;
    }

    return 0;
}


static int
kx_date_epoch(int year, int month, int day, int h, int m, int s,
    int64_t *epoch_s)
{
    if (year < 1 || !kx_date_valid(year, month, day)) {
        return -1;
    }

    *epoch_s = kx_days_from_civil(year, (unsigned) month, (unsigned) day)
               * 86400 + h * 3600 + m * 60 + s;

    return 0;
}
