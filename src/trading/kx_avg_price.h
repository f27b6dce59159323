
/*
 * Copyright (C) Kianax
 */


#ifndef _KX_AVG_PRICE_H_INCLUDED_
#define _KX_AVG_PRICE_H_INCLUDED_


#include "core/kx_decimal.h"


/*
 * The volume-weighted average price (q1 * p1 + q2 * p2) / (q1 + q2),
 * rounded half-even to 8 places once, from the exact products.
 *
 * Composing kx_dec_mul() and kx_dec_div() would round each product
 * first, and dividing a rounded amount by a small quantity magnifies
 * the error: 0.000003 shares at 1.23456789 cost 0.0000037037 (rounded
 * to 0.00000370), whose average is 1.2333... instead of the price paid.
 * Here one fill at one price always averages to exactly that price.
 *
 * Quantities and prices must be >= 0 and q1 + q2 > 0: KX_DEC_EINVAL
 * otherwise, KX_DEC_ERANGE if q1 + q2 overflows; *out is untouched on
 * error.  The result lies between the two prices, so it always fits.
 */
int kx_avg_price(kx_dec_t q1, kx_dec_t p1, kx_dec_t q2, kx_dec_t p2,
    kx_dec_t *out);


#endif /* _KX_AVG_PRICE_H_INCLUDED_ */
