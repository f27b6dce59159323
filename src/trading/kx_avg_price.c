
/*
 * Copyright (C) Kianax
 */


#include "trading/kx_avg_price.h"


int
kx_avg_price(kx_dec_t q1, kx_dec_t p1, kx_dec_t q2, kx_dec_t p2,
    kx_dec_t *out)
{
    int64_t            den;
    unsigned __int128  num, quo, rem;

    if (q1.v < 0 || q2.v < 0 || p1.v < 0 || p2.v < 0) {
        return KX_DEC_EINVAL;
    }

    if (__builtin_add_overflow(q1.v, q2.v, &den)) {
        return KX_DEC_ERANGE;
    }

    if (den == 0) {
        return KX_DEC_EINVAL;
    }

    /*
     * Each product is below 2^126, so their sum fits in 128 bits.  The
     * numerator counts units of 10^-16 and the denominator units of
     * 10^-8, so the quotient is in units of 10^-8 and, being a weighted
     * mean of p1 and p2, no larger than the larger of them.
     */
    num = (unsigned __int128) q1.v * (uint64_t) p1.v
          + (unsigned __int128) q2.v * (uint64_t) p2.v;

    quo = num / (uint64_t) den;
    rem = num % (uint64_t) den;

    if (rem > (uint64_t) den - rem
        || (rem == (uint64_t) den - rem && (quo & 1)))
    {
        quo++;
    }

    out->v = (int64_t) quo;

    return KX_DEC_OK;
}
