
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
    int64_t           tat, now, t;
    uint64_t          n, j, ok;
    int64_t           used;
    kx_gcra_t         g;
    kx_gcra_result_t  r, d;

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

    /*
     * decide() from the script's one number agrees with take() on every
     * field, at the edges of the bucket and around them
     */
    kx_gcra_init(&g, 10, SEC, 5);
    now = 1000 * (int64_t) SEC;
    passed = 0;

    for (tat = now - 2 * SEC; tat <= now + 2 * SEC; tat += 12345) {
        kx_gcra_take(&g, tat, now, &r);
        used = (tat > now ? tat : now) + g.interval - now;
        kx_gcra_decide(&g, used, &d);

        if (r.allowed == d.allowed && r.remaining == d.remaining
            && r.retry_after == d.retry_after && r.reset == d.reset)
        {
            passed++;
        }
    }

    kx_tap_ok(passed == (4 * SEC) / 12345 + 1,
              "decide(used) == take(tat, now) on all %d points", passed);

    kx_gcra_decide(&g, 5 * g.interval, &d);
    kx_tap_ok(d.allowed && d.remaining == 0, "used == limit: the last one");
    kx_gcra_decide(&g, 5 * g.interval + 1, &d);
    kx_tap_ok(!d.allowed && d.retry_after == 1
              && d.reset == 4 * g.interval + 1, "1 us over: refused");

    /*
     * n requests of one key at once, as the Redis script takes them from
     * one used and a count: each sees what it would have seen taken one
     * after another, and the bucket ends where take() leaves it
     */
    passed = 0;

    for (tat = now - SEC; tat <= now + SEC; tat += 23456) {
        for (n = 0; n <= 9; n++) {
            used = (tat > now ? tat : now) + g.interval - now;
            t = tat;
            ok = 1;

            for (j = 0; j < n; j++) {
                kx_gcra_take(&g, t, now, &r);
                kx_gcra_decide(&g, kx_gcra_used_nth(&g, used, j), &d);

                if (r.allowed != d.allowed || r.remaining != d.remaining
                    || r.retry_after != d.retry_after || r.reset != d.reset)
                {
                    ok = 0;
                }

                if (r.allowed) {
                    t = r.tat;
                }
            }

            if ((t > now ? t : now)
                != (tat > now ? tat : now)
                   + (int64_t) kx_gcra_count(&g, used, n) * g.interval)
            {
                ok = 0;
            }

            passed += ok;
        }
    }

    kx_tap_ok(passed == 10 * ((2 * SEC) / 23456 + 1),
              "n at once == n one after another, on all %d points", passed);

    kx_tap_ok(kx_gcra_count(&g, g.interval, 100) == 5,
              "a full bucket passes burst (5) of 100");
    kx_tap_ok(kx_gcra_count(&g, 5 * g.interval + 1, 3) == 0
              && kx_gcra_used_nth(&g, 5 * g.interval + 1, 2)
                 == 5 * g.interval + 1,
              "an empty one none, and nobody spends");

    /*
     * a lease's nth token, elapsed after the grant, sees what a request
     * would see if the tokens before it had been taken one by one at the
     * grant and it came now
     */
    ok = 1;
    passed = 0;

    for (t = -3 * g.interval; t <= 3 * g.interval; t += 37123) {
        for (j = 0; j < 4; j++) {
            for (i = 0; i < 9; i++) {
                int64_t  el, tat_j, want;

                el = i * 61234;
                tat_j = (now + t > now ? now + t : now)
                        + (int64_t) j * g.interval;
                want = (tat_j > now + el ? tat_j : now + el) + g.interval
                       - now - el;

                used = (now + t > now ? now + t : now) + g.interval - now;

                if (kx_gcra_lease_used(&g, used, j, el) != want) {
                    ok = 0;
                }

                passed++;
            }
        }
    }

    kx_tap_ok(ok, "a lease's tokens see one-by-one takes (%d points)",
              passed);
    kx_tap_ok(kx_gcra_lease_used(&g, 3 * g.interval, 1, -5)
              == 4 * g.interval,
              "a clock that went back counts no refill");

    return kx_tap_done();
}
