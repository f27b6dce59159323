
/*
 * Copyright (C) Kianax
 */


#include "kx_prng.h"


#define KX_PRNG_GOLDEN  UINT64_C(0x9e3779b97f4a7c15)


static uint64_t kx_prng_rotl(uint64_t x, int k);


void
kx_prng_seed(kx_prng_t *r, uint64_t seed)
{
    int  i;

    /* splitmix64 steps: distinct, and never all zero */
    for (i = 0; i < 4; i++) {
        seed += KX_PRNG_GOLDEN;
        r->s[i] = kx_prng_mix(seed);
    }
}


uint64_t
kx_prng_next(kx_prng_t *r)
{
    uint64_t  result, t;

    result = kx_prng_rotl(r->s[1] * 5, 7) * 9;
    t = r->s[1] << 17;

    r->s[2] ^= r->s[0];
    r->s[3] ^= r->s[1];
    r->s[1] ^= r->s[2];
    r->s[0] ^= r->s[3];

    r->s[2] ^= t;
    r->s[3] = kx_prng_rotl(r->s[3], 45);

    return result;
}


/*
 * Lemire's multiply-and-reject: the high half of x * n is uniform in
 * [0, n) once the few low halves below 2^64 mod n are redrawn.
 */

uint64_t
kx_prng_below(kx_prng_t *r, uint64_t n)
{
    uint64_t           low, threshold;
    unsigned __int128  m;

    if (n == 0) {
        return 0;
    }

    m = (unsigned __int128) kx_prng_next(r) * n;
    low = (uint64_t) m;

    if (low < n) {
        threshold = (0 - n) % n;

        while (low < threshold) {
            m = (unsigned __int128) kx_prng_next(r) * n;
            low = (uint64_t) m;
        }
    }

    return (uint64_t) (m >> 64);
}


int64_t
kx_prng_range(kx_prng_t *r, int64_t lo, int64_t hi)
{
    uint64_t  span;

    if (hi <= lo) {
        return lo;
    }

    span = (uint64_t) hi - (uint64_t) lo;

    if (span == UINT64_MAX) {
        return (int64_t) kx_prng_next(r);
    }

    return (int64_t) ((uint64_t) lo + kx_prng_below(r, span + 1));
}


int64_t
kx_prng_normal(kx_prng_t *r)
{
    int       i;
    int64_t   sum;
    uint64_t  x;

    /* twelve 32-bit uniforms, two from each draw: the sum has mean
     * 6 * 2^32 and standard deviation 2^32 */
    sum = 0;

    for (i = 0; i < 6; i++) {
        x = kx_prng_next(r);
        sum += (int64_t) (x >> 32) + (int64_t) (x & 0xffffffff);
    }

    sum -= INT64_C(6) << 32;

    /* |sum| < 6 * 2^32, so the product stays far below 2^63;
     * division truncates toward zero, keeping the law symmetric */
    return sum * KX_PRNG_NORMAL_ONE / (INT64_C(1) << 32);
}


int64_t
kx_prng_normal_at(uint64_t key)
{
    int       i;
    int64_t   sum;
    uint64_t  x;

    sum = 0;

    for (i = 0; i < 6; i++) {
        key += KX_PRNG_GOLDEN;
        x = kx_prng_mix(key);
        sum += (int64_t) (x >> 32) + (int64_t) (x & 0xffffffff);
    }

    sum -= INT64_C(6) << 32;

    return sum * KX_PRNG_NORMAL_ONE / (INT64_C(1) << 32);
}


uint64_t
kx_prng_mix(uint64_t x)
{
    x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);

    return x ^ (x >> 31);
}


uint64_t
kx_prng_key(uint64_t seed, uint64_t tag, uint64_t a, uint64_t b)
{
    uint64_t  h;

    /* each step is a bijection of the running hash, so distinct
     * tuples collide only by chance (about 2^-64) */
    h = kx_prng_mix(seed + KX_PRNG_GOLDEN);
    h = kx_prng_mix(h ^ (tag + KX_PRNG_GOLDEN * 2));
    h = kx_prng_mix(h ^ (a + KX_PRNG_GOLDEN * 3));
    h = kx_prng_mix(h ^ (b + KX_PRNG_GOLDEN * 4));

    return h;
}


static uint64_t
kx_prng_rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}
