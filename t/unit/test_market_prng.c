
/*
 * Copyright (C) Kianax
 */


#include <string.h>

#include "market/kx_prng.h"

#include "kx_tap.h"


static void
test_known_answers(void)
{
    uint64_t   x;
    kx_prng_t  r;

    /* splitmix64's published first output for seed 1234567 */
    x = UINT64_C(1234567) + UINT64_C(0x9e3779b97f4a7c15);
    ok(kx_prng_mix(x) == UINT64_C(6457827717110365317),
       "splitmix64(1234567) = 6457827717110365317");

    /* xoshiro256** seeded by splitmix64, from an independent Python
     * transcription of the reference code */
    kx_prng_seed(&r, 0);
    ok(kx_prng_next(&r) == UINT64_C(0x99ec5f36cb75f2b4)
       && kx_prng_next(&r) == UINT64_C(0xbf6e1f784956452a)
       && kx_prng_next(&r) == UINT64_C(0x1a5f849d4933e6e0),
       "xoshiro256** from seed 0");

    kx_prng_seed(&r, 42);
    ok(kx_prng_next(&r) == UINT64_C(0x15780b2e0c2ec716)
       && kx_prng_next(&r) == UINT64_C(0x6104d9866d113a7e)
       && kx_prng_next(&r) == UINT64_C(0xae17533239e499a1),
       "xoshiro256** from seed 42");

    ok(kx_prng_key(1, 2, 3, 4) == UINT64_C(0x4cd9ae1f8b11714f),
       "kx_prng_key(1, 2, 3, 4)");
}


static void
test_determinism(void)
{
    int        i, same, differ;
    kx_prng_t  a, b, c;

    kx_prng_seed(&a, 7);
    kx_prng_seed(&b, 7);
    kx_prng_seed(&c, 8);

    same = 1;
    differ = 0;

    for (i = 0; i < 1000; i++) {
        uint64_t  x = kx_prng_next(&a);

        same &= x == kx_prng_next(&b);
        differ += x != kx_prng_next(&c);
    }

    ok(same, "the same seed gives the same sequence");
    ok(differ == 1000, "another seed another sequence");

    ok(kx_prng_key(1, 2, 3, 4) != kx_prng_key(1, 2, 4, 3)
       && kx_prng_key(1, 2, 3, 4) != kx_prng_key(2, 2, 3, 4)
       && kx_prng_key(1, 2, 3, 4) != kx_prng_key(1, 3, 3, 4),
       "every part of a key matters, and its order");
    ok(kx_prng_normal_at(99) == kx_prng_normal_at(99)
       && kx_prng_normal_at(99) != kx_prng_normal_at(100),
       "keyed normals are a function of the key");
}


static void
test_below(void)
{
    int        i, bad, counts[10];
    int64_t    v;
    uint64_t   x;
    kx_prng_t  r;

    kx_prng_seed(&r, 1);

    ok(kx_prng_below(&r, 0) == 0, "below(0) is 0");
    ok(kx_prng_below(&r, 1) == 0, "below(1) is 0");

    bad = 0;

    for (i = 0; i < 10000; i++) {
        bad += kx_prng_below(&r, 3) >= 3;
        bad += kx_prng_below(&r, 1000) >= 1000;
        x = kx_prng_below(&r, (UINT64_C(1) << 63) + 1);
        bad += x > (UINT64_C(1) << 63);
    }

    ok(bad == 0, "below(n) stays below n");

    memset(counts, 0, sizeof(counts));

    for (i = 0; i < 100000; i++) {
        counts[kx_prng_below(&r, 10)]++;
    }

    bad = 0;

    for (i = 0; i < 10; i++) {
        bad += counts[i] < 9500 || counts[i] > 10500;
    }

    ok(bad == 0, "below(10) is uniform within 5%%");

    ok(kx_prng_range(&r, 5, 5) == 5 && kx_prng_range(&r, 9, 2) == 9,
       "range of one value, and an empty range");

    bad = 0;
    counts[0] = counts[1] = 0;

    for (i = 0; i < 10000; i++) {
        v = kx_prng_range(&r, -3, 3);
        bad += v < -3 || v > 3;
        counts[0] += v == -3;
        counts[1] += v == 3;
    }

    ok(bad == 0 && counts[0] > 0 && counts[1] > 0,
       "range(-3, 3) is inclusive at both ends");

    (void) kx_prng_range(&r, INT64_MIN, INT64_MAX);
    ok(1, "the full int64 range is allowed");
}


static void
test_normal(void)
{
    int        i, n, above, bad;
    int64_t    z, max;
    __int128   sum, sq;
    kx_prng_t  r;

    kx_prng_seed(&r, 2026);

    n = 400000;
    sum = 0;
    sq = 0;
    above = 0;
    bad = 0;
    max = 0;

    for (i = 0; i < n; i++) {
        z = kx_prng_normal(&r);
        sum += z;
        sq += (__int128) z * z;
        above += z > KX_PRNG_NORMAL_ONE;
        bad += z > KX_PRNG_NORMAL_MAX || z < -KX_PRNG_NORMAL_MAX;

        if ((z < 0 ? -z : z) > max) {
            max = z < 0 ? -z : z;
        }
    }

    /* standard errors: 1/sqrt(n) for the mean, sqrt(2/n) for the
     * variance, about 0.0016 and 0.0022 here */
    ok(sum / n < KX_PRNG_NORMAL_ONE / 100 && sum / n > -KX_PRNG_NORMAL_ONE
       / 100, "normal: mean within 0.01 of 0 (%lld)",
       (long long) (sum / n));
    ok(sq / n > (__int128) KX_PRNG_NORMAL_ONE * KX_PRNG_NORMAL_ONE * 99 / 100
       && sq / n < (__int128) KX_PRNG_NORMAL_ONE * KX_PRNG_NORMAL_ONE
                   * 101 / 100, "normal: variance within 1%% of 1");
    ok(above > n * 15 / 100 && above < n * 167 / 1000,
       "normal: P(z > 1) near 0.1587 (%d of %d)", above, n);
    ok(bad == 0, "normal: never beyond 6 sigma (max %lld)",
       (long long) max);
}


int
main(void)
{
    test_known_answers();
    test_determinism();
    test_below();
    test_normal();

    return kx_tap_done();
}
