
/*
 * Copyright (C) Kianax
 */


#include "kx_isqrt.h"


/*
 * Both roots use the digit-by-digit method in base 4: a round of
 * shifts, compares and subtractions per result bit, with no division
 * and no estimate to correct.
 */

uint64_t
kx_isqrt64(uint64_t n)
{
    uint64_t  rem, root, bit;

    rem = n;
    root = 0;
    bit = UINT64_C(1) << 62;

    while (bit > rem) {
        bit >>= 2;
    }

    while (bit != 0) {
        if (rem >= root + bit) {
            rem -= root + bit;
            root = (root >> 1) + bit;

        } else {
            root >>= 1;
        }

        bit >>= 2;
    }

    return root;
}


uint64_t
kx_isqrt128(unsigned __int128 n)
{
    unsigned __int128  rem, root, bit;

    rem = n;
    root = 0;
    bit = (unsigned __int128) 1 << 126;

    while (bit > rem) {
        bit >>= 2;
    }

    while (bit != 0) {
        if (rem >= root + bit) {
            rem -= root + bit;
            root = (root >> 1) + bit;

        } else {
            root >>= 1;
        }

        bit >>= 2;
    }

    return (uint64_t) root;
}


/*
 * With r = isqrt(n) and rem = n - r^2, the answer is r * f + m for the
 * largest m < f with (r * f + m)^2 <= n * f^2, that is
 *
 *     2 * r * f * m + m^2 <= rem * f^2.
 *
 * r < 2^63, m < f <= 10^9 and rem <= 2r keep every term below 2^127.
 */

unsigned __int128
kx_isqrt128_scaled(unsigned __int128 n, uint64_t f)
{
    uint64_t           r, lo, hi, m;
    unsigned __int128  rem, lhs, rhs;

    r = kx_isqrt128(n);
    rem = n - (unsigned __int128) r * r;
    rhs = rem * f * f;

    /* invariant: lo satisfies the inequality, hi does not */
    lo = 0;
    hi = f;

    while (hi - lo > 1) {
        m = lo + (hi - lo) / 2;
        lhs = (unsigned __int128) 2 * r * f * m + (unsigned __int128) m * m;

        if (lhs <= rhs) {
            lo = m;

        } else {
            hi = m;
        }
    }

    return (unsigned __int128) r * f + lo;
}
