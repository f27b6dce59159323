
/*
 * Copyright (C) Kianax
 */


/*
 * The decimal parser on arbitrary text (what parses must format and
 * parse back to itself), and the arithmetic on arbitrary raw values
 * (INT64_MIN included), each result checked against the exact 128-bit
 * answer and the promise of its rounding mode.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/kx_decimal.h"

#include "fuzz_check.h"


typedef __int128  i128;


static i128
abs128(i128 v)
{
    return v < 0 ? -v : v;
}


/*
 * rv is the answer for the exact quotient num / den (den > 0) under
 * mode, multiplied by scale (kx_dec_round scales back); rc is what the
 * operation returned.
 */

static void
check_rounded(int rc, int64_t rv, i128 num, i128 den, i128 scale,
    kx_round_e mode)
{
    i128  rem, q, lo, hi;

    /* the exact quotient lies in [lo, hi], hi - lo <= 1 */
    lo = num / den;
    if (num % den != 0 && num < 0) {
        lo--;
    }
    hi = (num % den == 0) ? lo : lo + 1;

    if (rc == KX_DEC_ERANGE) {
        /* an answer the mode allows must really be out of range */
        check(hi * scale > INT64_MAX || lo * scale < -INT64_MAX);
        return;
    }

    check(rc == KX_DEC_OK);
    check(rv != INT64_MIN);
    check(rv % scale == 0);

    q = rv / scale;
    check(q == lo || q == hi);

    rem = num - lo * den;               /* 0 <= rem < den */

    switch (mode) {

    case KX_ROUND_FLOOR:
        check(q == lo);
        break;

    case KX_ROUND_CEIL:
        check(q == hi);
        break;

    case KX_ROUND_DOWN:
        check(abs128(q) <= abs128(lo) && abs128(q) <= abs128(hi));
        break;

    case KX_ROUND_HALF_UP:
        if (rem * 2 != den) {
            check(q == (rem * 2 < den ? lo : hi));
        } else {
            check(abs128(q) >= abs128(lo) && abs128(q) >= abs128(hi));
        }
        break;

    case KX_ROUND_HALF_EVEN:
        if (rem * 2 != den) {
            check(q == (rem * 2 < den ? lo : hi));
        } else {
            check(q % 2 == 0);
        }
        break;
    }
}


static void
check_text(const char *s, size_t len)
{
    int       rc, rc2;
    char      buf[KX_DEC_FMT_MAX];
    size_t    n;
    unsigned  p;
    kx_dec_t  d, e, want;

    rc = kx_dec_parse(s, len, &d);

    if (rc == KX_DEC_EINVAL) {
        check(kx_dec_check_syntax(s, len) == KX_DEC_EINVAL);
        return;
    }

    check(kx_dec_check_syntax(s, len) == KX_DEC_OK);

    if (rc != KX_DEC_OK) {
        check(rc == KX_DEC_ERANGE || rc == KX_DEC_EPRECISION);
        return;
    }

    check(d.v != INT64_MIN);

    n = kx_dec_format_min(d, buf, sizeof(buf));
    check(n < sizeof(buf) && strlen(buf) == n);
    check(kx_dec_parse(buf, n, &e) == KX_DEC_OK && e.v == d.v);

    for (p = 0; p <= KX_DEC_SCALE; p++) {
        n = kx_dec_format(d, p, buf, sizeof(buf));
        check(n < sizeof(buf) && strlen(buf) == n);

        rc = kx_dec_round(d, p, KX_ROUND_HALF_EVEN, &want);
        rc2 = kx_dec_parse(buf, n, &e);

        if (rc == KX_DEC_OK) {
            check(rc2 == KX_DEC_OK && e.v == want.v);
        } else {
            check(rc == KX_DEC_ERANGE && rc2 == KX_DEC_ERANGE);
        }

        /* parsing to p places works exactly when nothing is lost */
        rc = kx_dec_round(d, p, KX_ROUND_DOWN, &want);
        rc2 = kx_dec_parse_places(s, len, p, &e);
        check(rc == KX_DEC_OK);
        check((rc2 == KX_DEC_OK) == (want.v == d.v));
    }
}


static void
check_arith(int64_t av, int64_t bv)
{
    int       rc, m;
    i128      sum;
    i128      unit;
    int64_t   i;
    kx_dec_t  a, b, r;
    unsigned  p;

    a.v = av;
    b.v = bv;

    sum = (i128) av + bv;
    rc = kx_dec_add(a, b, &r);
    check(rc == (sum > INT64_MAX || sum < -INT64_MAX ? KX_DEC_ERANGE
                                                      : KX_DEC_OK));
    check(rc != KX_DEC_OK || r.v == sum);

    sum = (i128) av - bv;
    rc = kx_dec_sub(a, b, &r);
    check(rc == (sum > INT64_MAX || sum < -INT64_MAX ? KX_DEC_ERANGE
                                                      : KX_DEC_OK));
    check(rc != KX_DEC_OK || r.v == sum);

    for (m = KX_ROUND_HALF_EVEN; m <= KX_ROUND_CEIL; m++) {
        r.v = 0;
        rc = kx_dec_mul(a, b, (kx_round_e) m, &r);
        check_rounded(rc, r.v, (i128) av * bv, KX_DEC_ONE, 1, (kx_round_e) m);

        r.v = 0;
        rc = kx_dec_div(a, b, (kx_round_e) m, &r);

        if (bv == 0) {
            check(rc == KX_DEC_EDIVZERO);

        } else {
            /* keep the divisor positive for check_rounded */
            check_rounded(rc, r.v,
                          (bv < 0 ? -1 : 1) * (i128) av * KX_DEC_ONE,
                          abs128(bv), 1, (kx_round_e) m);
        }

        for (p = 0, unit = KX_DEC_ONE; p <= KX_DEC_SCALE; p++, unit /= 10) {
            r.v = 0;
            rc = kx_dec_round(a, p, (kx_round_e) m, &r);
            check_rounded(rc, r.v, av, unit, unit, (kx_round_e) m);
        }

        rc = kx_dec_to_int(a, (kx_round_e) m, &i);
        check_rounded(rc, i, av, KX_DEC_ONE, 1, (kx_round_e) m);
        check(rc == KX_DEC_OK);
    }

    check(kx_dec_cmp(a, b) == -kx_dec_cmp(b, a));
    check(kx_dec_sign(a) == kx_dec_cmp(a, (kx_dec_t) { 0 }));

    rc = kx_dec_neg(a, &r);
    check(av == INT64_MIN ? rc == KX_DEC_ERANGE
                          : (rc == KX_DEC_OK && r.v == -av));
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int64_t  a, b;

    check_text((const char *) data, size);

    if (size >= 16) {
        memcpy(&a, data, 8);
        memcpy(&b, data + 8, 8);
        check_arith(a, b);

        /* small values find the rounding ties that random ones miss */
        check_arith(a % 1000000000, b % 100000);
    }

    return 0;
}
