
/*
 * Copyright (C) Kianax
 */


#include <string.h>

#include "core/kx_backoff.h"

#include "kx_tap.h"


#define U32_MAX  UINT32_C(0xffffffff)


static void
retry_after_is(const char *s, int64_t now, int64_t cap, int want_rc,
    int64_t want)
{
    int      rc;
    int64_t  d;

    d = -12345;
    rc = kx_retry_after_parse(s, strlen(s), now, cap, &d);

    if (want_rc != 0) {
        if (!ok(rc == -1 && d == -12345, "Retry-After \"%s\" is invalid", s)) {
            diag("  got rc %d, delay %" PRId64, rc, d);
        }

        return;
    }

    if (!ok(rc == 0 && d == want, "Retry-After \"%s\" (cap %" PRId64
            "): %" PRId64 " ms", s, cap, want))
    {
        diag("  got rc %d, delay %" PRId64, rc, d);
    }
}


static void
date_is(const char *s, int want_rc, int64_t want)
{
    int      rc;
    int64_t  t;

    t = -12345;
    rc = kx_http_date_parse(s, strlen(s), &t);

    if (want_rc != 0) {
        if (!ok(rc == -1 && t == -12345, "date \"%s\" is invalid", s)) {
            diag("  got rc %d, time %" PRId64, rc, t);
        }

        return;
    }

    if (!ok(rc == 0 && t == want, "date \"%s\": %" PRId64, s, want)) {
        diag("  got rc %d, time %" PRId64, rc, t);
    }
}


static void
test_ceiling(void)
{
    is_int(kx_backoff_ceiling(100, 2000, 1), 100, "ceiling attempt 1");
    is_int(kx_backoff_ceiling(100, 2000, 2), 200, "ceiling attempt 2");
    is_int(kx_backoff_ceiling(100, 2000, 3), 400, "ceiling attempt 3");
    is_int(kx_backoff_ceiling(100, 2000, 5), 1600, "ceiling attempt 5");
    is_int(kx_backoff_ceiling(100, 2000, 6), 2000, "ceiling attempt 6 capped");
    is_int(kx_backoff_ceiling(100, 2000, 1000), 2000,
           "ceiling attempt 1000: capped, no overflow");
    is_int(kx_backoff_ceiling(100, 2000, 0), 100, "attempt 0 counts as 1");
    is_int(kx_backoff_ceiling(5000, 2000, 1), 2000, "base above cap: cap");
    is_int(kx_backoff_ceiling(0, 2000, 3), 0, "base 0: no delay");
    is_int(kx_backoff_ceiling(100, 0, 3), 0, "cap 0: no delay");
    is_int(kx_backoff_ceiling(1, INT64_MAX, 200), KX_BACKOFF_MAX_MS,
           "a huge cap is limited to KX_BACKOFF_MAX_MS");
}


static void
test_uniform(void)
{
    int       seen[10], i, all;
    uint32_t  r;
    int64_t   v, lo, hi;

    is_int(kx_backoff_uniform(5, 5, 77), 5, "empty range: lo");
    is_int(kx_backoff_uniform(9, 5, 77), 9, "inverted range: lo");
    is_int(kx_backoff_uniform(10, 19, 0), 10, "rnd 0: lo");
    is_int(kx_backoff_uniform(10, 19, U32_MAX), 19, "rnd max: hi");
    is_int(kx_backoff_uniform(0, 1, UINT32_C(0x7fffffff)), 0,
           "just below half: lower value");
    is_int(kx_backoff_uniform(0, 1, UINT32_C(0x80000000)), 1,
           "half: upper value");
    is_int(kx_backoff_uniform(0, KX_BACKOFF_MAX_MS, U32_MAX),
           KX_BACKOFF_MAX_MS - 0, "widest range: rnd max gives hi");

    /* 10 values: each takes a tenth of the random range, no bias */
    memset(seen, 0, sizeof(seen));
    lo = INT64_MAX;
    hi = INT64_MIN;

    for (i = 0; i < 10000; i++) {
        r = (uint32_t) ((UINT64_C(0x100000000) * i + 9999) / 10000);
        v = kx_backoff_uniform(0, 9, r);

        if (v >= 0 && v <= 9) {
            seen[v]++;
        }

        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
    }

    all = 1;

    for (i = 0; i < 10; i++) {
        if (seen[i] != 1000) {
            all = 0;
            diag("  value %d seen %d times", i, seen[i]);
        }
    }

    ok(all && lo == 0 && hi == 9,
       "evenly spread random values give every value equally often");
}


static void
test_full(void)
{
    is_int(kx_backoff_full(100, 2000, 1, 0), 0, "full jitter: rnd 0 gives 0");
    is_int(kx_backoff_full(100, 2000, 1, U32_MAX), 100,
           "full jitter attempt 1: at most base");
    is_int(kx_backoff_full(100, 2000, 3, U32_MAX), 400,
           "full jitter attempt 3: at most 4 * base");
    is_int(kx_backoff_full(100, 2000, 3, UINT32_C(0x80000000)), 200,
           "full jitter attempt 3, rnd half: 200");
    is_int(kx_backoff_full(100, 2000, 30, U32_MAX), 2000,
           "full jitter attempt 30: at most cap");
}


static void
test_decorrelated(void)
{
    int       i, inside;
    int64_t   d;
    uint32_t  x;

    is_int(kx_backoff_decorrelated(100, 10000, 0, 0), 100,
           "decorrelated first: rnd 0 gives base");
    is_int(kx_backoff_decorrelated(100, 10000, 0, U32_MAX), 300,
           "decorrelated first: rnd max gives 3 * base");
    is_int(kx_backoff_decorrelated(100, 10000, 1000, U32_MAX), 3000,
           "decorrelated after 1000: at most 3000");
    is_int(kx_backoff_decorrelated(100, 10000, 1000, 0), 100,
           "decorrelated after 1000: at least base");
    is_int(kx_backoff_decorrelated(100, 2000, 1000, U32_MAX), 2000,
           "decorrelated: capped");
    is_int(kx_backoff_decorrelated(5000, 2000, 0, 0), 2000,
           "decorrelated: base above cap gives cap");
    is_int(kx_backoff_decorrelated(100, 2000, INT64_MAX, U32_MAX), 2000,
           "decorrelated: a huge previous delay does not overflow");
    is_int(kx_backoff_decorrelated(0, 2000, 500, U32_MAX), 0,
           "decorrelated: base 0 gives 0");

    /* a chain of delays stays within [base, cap] */
    inside = 1;
    d = 0;
    x = 12345;

    for (i = 0; i < 1000; i++) {
        x = x * 1664525u + 1013904223u;
        d = kx_backoff_decorrelated(50, 5000, d, x);

        if (d < 50 || d > 5000) {
            inside = 0;
            diag("  delay %d: %" PRId64, i, d);
        }
    }

    ok(inside, "1000 chained decorrelated delays stay in [base, cap]");
}


static void
test_retry_after(void)
{
    int64_t  date = INT64_C(784111777);         /* 1994-11-06 08:49:37 */

    retry_after_is("120", 0, 60000, 0, 60000);
    retry_after_is("120", 0, 600000, 0, 120000);
    retry_after_is("0", 0, 60000, 0, 0);
    retry_after_is("1", 0, 60000, 0, 1000);
    retry_after_is(" 5 ", 0, 60000, 0, 5000);
    retry_after_is("\t7", 0, 60000, 0, 7000);
    retry_after_is("007", 0, 60000, 0, 7000);
    retry_after_is("99999999999999999999999999", 0, 60000, 0, 60000);
    retry_after_is("5", 0, -3, 0, 0);
    retry_after_is("5", 0, INT64_MAX, 0, 5000);
    retry_after_is("99999999999999999999999999", 0, INT64_MAX, 0,
                   KX_BACKOFF_MAX_MS);
    retry_after_is("", 0, 60000, -1, 0);
    retry_after_is("   ", 0, 60000, -1, 0);
    retry_after_is("-1", 0, 60000, -1, 0);
    retry_after_is("1.5", 0, 60000, -1, 0);
    retry_after_is("5s", 0, 60000, -1, 0);
    retry_after_is("abc", 0, 60000, -1, 0);
    retry_after_is("1 2", 0, 60000, -1, 0);

    retry_after_is("Sun, 06 Nov 1994 08:49:37 GMT", (date - 30) * 1000,
                   60000, 0, 30000);
    retry_after_is("Sun, 06 Nov 1994 08:49:37 GMT", date * 1000 - 1500,
                   60000, 0, 1500);
    retry_after_is("Sun, 06 Nov 1994 08:49:37 GMT", date * 1000, 60000, 0,
                   0);
    retry_after_is("Sun, 06 Nov 1994 08:49:37 GMT", (date + 100) * 1000,
                   60000, 0, 0);
    retry_after_is("Sun, 06 Nov 1994 08:49:37 GMT", (date - 3600) * 1000,
                   60000, 0, 60000);
    retry_after_is("Sunday, 06-Nov-94 08:49:37 GMT", (date - 2) * 1000,
                   60000, 0, 2000);
    retry_after_is("Sun Nov  6 08:49:37 1994", (date - 2) * 1000, 60000, 0,
                   2000);
    retry_after_is(" Sun, 06 Nov 1994 08:49:37 GMT ", (date - 2) * 1000,
                   60000, 0, 2000);
    retry_after_is("Sun, 06 Nov 1994 08:49:37", 0, 60000, -1, 0);
}


static void
test_dates(void)
{
    date_is("Sun, 06 Nov 1994 08:49:37 GMT", 0, 784111777);
    date_is("Sunday, 06-Nov-94 08:49:37 GMT", 0, 784111777);
    date_is("Sun Nov  6 08:49:37 1994", 0, 784111777);
    date_is("Thu, 01 Jan 1970 00:00:00 GMT", 0, 0);
    date_is("Wed, 31 Dec 1969 23:59:59 GMT", 0, -1);
    date_is("Wed, 01 Mar 2000 00:00:00 GMT", 0, 951868800);
    date_is("Tue, 29 Feb 2000 12:00:00 GMT", 0, 951825600);
    date_is("Thu, 29 Feb 2024 00:00:00 GMT", 0, 1709164800);
    date_is("Tue, 19 Jan 2038 03:14:08 GMT", 0, INT64_C(2147483648));
    date_is("Fri, 31 Dec 9999 23:59:59 GMT", 0, INT64_C(253402300799));
    date_is("Thursday, 01-Jan-70 00:00:00 GMT", 0, 0);
    date_is("Monday, 01-Jan-24 00:00:00 GMT", 0, 1704067200);
    date_is("Thu Feb 29 00:00:00 2024", 0, 1709164800);
    date_is("Sat, 30 Jun 2012 23:59:60 GMT", 0, 1341100800);

    date_is("Sun, 29 Feb 2023 00:00:00 GMT", -1, 0);
    date_is("Mon, 29 Feb 1900 00:00:00 GMT", -1, 0);
    date_is("Sun, 31 Apr 1994 08:49:37 GMT", -1, 0);
    date_is("Sun, 00 Nov 1994 08:49:37 GMT", -1, 0);
    date_is("Sun, 06 Nov 1994 24:00:00 GMT", -1, 0);
    date_is("Sun, 06 Nov 1994 08:60:00 GMT", -1, 0);
    date_is("Sun, 06 Nov 1994 08:49:61 GMT", -1, 0);
    date_is("Sun, 06 Nov 1994 08:49:37 UTC", -1, 0);
    date_is("Sun, 06 Nov 1994 08:49:37 GMT+1", -1, 0);
    date_is("Sun, 6 Nov 1994 08:49:37 GMT", -1, 0);
    date_is("Sun, 06 Foo 1994 08:49:37 GMT", -1, 0);
    date_is("Xyz, 06 Nov 1994 08:49:37 GMT", -1, 0);
    date_is("Sun, 06 Nov 94 08:49:37 GMT", -1, 0);
    date_is("Sun, 06 Nov 0000 08:49:37 GMT", -1, 0);
    date_is("Someday, 06-Nov-94 08:49:37 GMT", -1, 0);
    date_is("Sun Nov 6 08:49:37 1994", -1, 0);
    date_is("Sun Nov  6 08:49:37 94", -1, 0);
    date_is("Sun", -1, 0);
    date_is("", -1, 0);
}


int
main(void)
{
    test_ceiling();
    test_uniform();
    test_full();
    test_decorrelated();
    test_retry_after();
    test_dates();

    return kx_tap_done();
}
