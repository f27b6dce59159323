
/*
 * Copyright (C) Kianax
 */


#ifndef _KX_ISQRT_H_INCLUDED_
#define _KX_ISQRT_H_INCLUDED_


#include <stdint.h>


/*
 * Integer square roots, floor(sqrt(n)) exactly, so that a standard
 * deviation or a volatility scale is the same on every machine and
 * never passes through binary floating point.
 */

uint64_t kx_isqrt64(uint64_t n);
uint64_t kx_isqrt128(unsigned __int128 n);

/*
 * floor(sqrt(n) * f) for f <= 10^9 and n < 2^126, without forming
 * n * f^2 (which would need 256 bits): the integer root first, then
 * the fraction digits by bisection on the remainder.
 */
unsigned __int128 kx_isqrt128_scaled(unsigned __int128 n, uint64_t f);


#endif /* _KX_ISQRT_H_INCLUDED_ */
