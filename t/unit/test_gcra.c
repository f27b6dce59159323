
/*
 * Copyright (C) Kianax
 */


#include "kx_tap.h"
#include "gateway/kx_gcra.h"


#define SEC  1000000


int
main(void)
{
    int               i, passed;
    int64_t           tat, now;
    kx_gcra_t         g;
    kx_gcra_result_t  r;

    kx_tap_ok(kx_gcra_init(&g, 0, SEC, 1) != 0, "rate 0 refused");
    kx_tap_ok(kx_gcra_init(&g, 10, SEC, 0) != 0, "burst 0 refused");
    kx_tap_ok(kx_gcra_init(&g, 2000000, SEC, 1) != 0,
              "an interval under 1 us refused");

    /* 10 per second, burst 5 */
    kx_tap_ok(kx_gcra_init(&g, 10, SEC, 5) == 0 && g.interval == 100000,
              "interval 100 ms");

    now = 1000 * (int64_t) SEC;
    tat = 0;
    passed = 0;

    for (i = 0; i < 6; i++) {
        kx_gcra_take(&g, tat, now, &r);
        if (r.allowed) {
            tat = r.tat;
            passed++;
            kx_tap_ok(r.remaining == 4 - i, "burst request %d: %d remaining",
                      i + 1, (int) r.remaining);
        }
    }

    kx_tap_ok(passed == 5, "a burst of 6: exactly 5 pass");
    kx_tap_ok(!r.allowed && r.retry_after == 100000,
              "the 6th waits one interval (%lld us)",
              (long long) r.retry_after);
    kx_tap_ok(r.reset == 500000, "full again in 500 ms");

    kx_gcra_take(&g, tat, now + 99999, &r);
    kx_tap_ok(!r.allowed && r.retry_after == 1, "1 us early: refused");

    kx_gcra_take(&g, tat, now + 100000, &r);
    kx_tap_ok(r.allowed && r.remaining == 0, "one interval later: one more");
    tat = r.tat;

    kx_gcra_take(&g, tat, now + 100000, &r);
    kx_tap_ok(!r.allowed, "and only one");

    /* a long pause refills to burst, never beyond */
    now += 3600 * (int64_t) SEC;
    passed = 0;
    for (i = 0; i < 20; i++) {
        kx_gcra_take(&g, tat, now, &r);
        if (r.allowed) {
            tat = r.tat;
            passed++;
        }
    }
    kx_tap_ok(passed == 5, "after an hour: burst 5 again, not 20");

    /* steady rate: one per interval passes indefinitely */
    passed = 0;
    for (i = 1; i <= 1000; i++) {
        kx_gcra_take(&g, tat, now + i * 100000, &r);
        if (r.allowed) {
            tat = r.tat;
            passed++;
        }
    }
    kx_tap_ok(passed == 1000, "10 r/s sustained: all 1000 pass");

    /* no fixed-window edge: 2x burst across a "window boundary" fails */
    kx_gcra_init(&g, 5, SEC, 5);
    tat = 0;
    now = 10 * (int64_t) SEC - 1;
    passed = 0;
    for (i = 0; i < 5; i++) {
        kx_gcra_take(&g, tat, now, &r);
        if (r.allowed) { tat = r.tat; passed++; }
    }
    for (i = 0; i < 5; i++) {
        kx_gcra_take(&g, tat, now + 2, &r);
        if (r.allowed) { tat = r.tat; passed++; }
    }
    kx_tap_ok(passed == 5, "no double burst at a window edge (%d)", passed);

    return kx_tap_done();
}
