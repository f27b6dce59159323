
/*
 * Copyright (C) Kianax
 */


#include <string.h>

#include "kx_decimal.h"


/*
 * Exponents are saturated here: any larger magnitude already puts a
 * nonzero digit out of range or past the last place, and the cap keeps
 * every position computation well inside int64.
 */
#define KX_DEC_EXP_CAP  INT64_C(100000000000000000)


typedef struct {
    const char     *ip;         /* integer digits */
    size_t          ilen;
    const char     *fp;         /* fraction digits */
    size_t          flen;
    int64_t         exp;        /* saturated at +-KX_DEC_EXP_CAP */
    int             neg;
} kx_dec_lex_t;


static int kx_dec_lex(const char *s, size_t len, kx_dec_lex_t *lx);
static int kx_dec_scale(const kx_dec_lex_t *lx, unsigned places,
    kx_dec_t *out);
static int kx_dec_div_round(unsigned __int128 num, unsigned __int128 den,
    int neg, kx_round_e mode, uint64_t *q);
static int kx_dec_set(uint64_t mag, int neg, kx_dec_t *out);
static uint64_t kx_dec_mag(int64_t v);
static size_t kx_dec_render(kx_dec_t d, unsigned places, char *tmp);
static size_t kx_dec_emit(const char *tmp, size_t n, char *buf, size_t size);


static const uint64_t  kx_dec_pow10[20] = {
    UINT64_C(1),
    UINT64_C(10),
    UINT64_C(100),
    UINT64_C(1000),
    UINT64_C(10000),
    UINT64_C(100000),
    UINT64_C(1000000),
    UINT64_C(10000000),
    UINT64_C(100000000),
    UINT64_C(1000000000),
    UINT64_C(10000000000),
    UINT64_C(100000000000),
    UINT64_C(1000000000000),
    UINT64_C(10000000000000),
    UINT64_C(100000000000000),
    UINT64_C(1000000000000000),
    UINT64_C(10000000000000000),
    UINT64_C(100000000000000000),
    UINT64_C(1000000000000000000),
    UINT64_C(10000000000000000000)
};


int
kx_dec_parse(const char *s, size_t len, kx_dec_t *out)
{
    return kx_dec_parse_places(s, len, KX_DEC_SCALE, out);
}


int
kx_dec_parse_places(const char *s, size_t len, unsigned max_places,
    kx_dec_t *out)
{
    int           rc;
    kx_dec_lex_t  lx;

    rc = kx_dec_lex(s, len, &lx);
    if (rc != KX_DEC_OK) {
        return rc;
    }

    if (max_places > KX_DEC_SCALE) {
        max_places = KX_DEC_SCALE;
    }

    return kx_dec_scale(&lx, max_places, out);
}


int
kx_dec_check_syntax(const char *s, size_t len)
{
    kx_dec_lex_t  lx;

    return kx_dec_lex(s, len, &lx);
}


static int
kx_dec_lex(const char *s, size_t len, kx_dec_lex_t *lx)
{
    int          eneg;
    const char  *p, *end;

    if (s == NULL) {
        return KX_DEC_EINVAL;
    }

    p = s;
    end = s + len;

    lx->neg = 0;
    lx->fp = NULL;
    lx->flen = 0;
    lx->exp = 0;

    if (p < end && *p == '-') {
        lx->neg = 1;
        p++;
    }

    if (p == end || *p < '0' || *p > '9') {
        return KX_DEC_EINVAL;
    }

    lx->ip = p;

    /* JSON forbids leading zeros: "0" stands alone before the point */
    if (*p == '0') {
        p++;

    } else {
        while (p < end && *p >= '0' && *p <= '9') {
            p++;
        }
    }

    lx->ilen = p - lx->ip;

    if (p < end && *p == '.') {
        p++;
        lx->fp = p;

        while (p < end && *p >= '0' && *p <= '9') {
            p++;
        }

        lx->flen = p - lx->fp;

        if (lx->flen == 0) {
            return KX_DEC_EINVAL;
        }
    }

    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        eneg = 0;

        if (p < end && (*p == '+' || *p == '-')) {
            eneg = (*p == '-');
            p++;
        }

        if (p == end || *p < '0' || *p > '9') {
            return KX_DEC_EINVAL;
        }

        while (p < end && *p >= '0' && *p <= '9') {
            if (lx->exp < KX_DEC_EXP_CAP) {
                lx->exp = lx->exp * 10 + (*p - '0');
            }
            p++;
        }

        if (lx->exp > KX_DEC_EXP_CAP) {
            lx->exp = KX_DEC_EXP_CAP;
        }

        if (eneg) {
            lx->exp = -lx->exp;
        }
    }

    return (p == end) ? KX_DEC_OK : KX_DEC_EINVAL;
}


/*
 * Digit i of the concatenated integer and fraction digits is worth
 * 10^(point - 1 - i), i.e. 10^(point + 7 - i) units of 10^-8.  Digits
 * with a negative unit exponent must be zero; zeros cost nothing, so
 * thousands of leading or trailing zeros are fine.
 */

static int
kx_dec_scale(const kx_dec_lex_t *lx, unsigned places, kx_dec_t *out)
{
    int64_t      point, n, i, w, k;
    uint64_t     acc, d;
    const char  *c;

    point = (int64_t) lx->ilen + lx->exp;
    n = (int64_t) (lx->ilen + lx->flen);
    acc = 0;

    for (i = 0; i < n; i++) {
        c = (i < (int64_t) lx->ilen) ? &lx->ip[i] : &lx->fp[i - lx->ilen];
        d = (uint64_t) (*c - '0');

        if (d == 0 && acc == 0) {
            continue;
        }

        /* fraction place of this digit, 1-based; <= 0 in the integer */
        if (d != 0 && i - point + 1 > (int64_t) places) {
            return KX_DEC_EPRECISION;
        }

        w = point + KX_DEC_SCALE - 1 - i;

        if (w < 0) {
            continue;       /* a zero past the last place */
        }

        if (acc > ((uint64_t) INT64_MAX - d) / 10) {
            return KX_DEC_ERANGE;
        }

        acc = acc * 10 + d;
    }

    /* the digits ended before the last place: scale the rest in */
    k = point + KX_DEC_SCALE - n;

    if (acc != 0 && k > 0) {
        if (k > 18 || acc > (uint64_t) INT64_MAX / kx_dec_pow10[k]) {
            return KX_DEC_ERANGE;
        }

        acc *= kx_dec_pow10[k];
    }

    return kx_dec_set(acc, lx->neg, out);
}


size_t
kx_dec_format(kx_dec_t d, unsigned places, char *buf, size_t size)
{
    size_t  n;
    char    tmp[KX_DEC_FMT_MAX];

    n = kx_dec_render(d, places > KX_DEC_SCALE ? KX_DEC_SCALE : places, tmp);

    return kx_dec_emit(tmp, n, buf, size);
}


size_t
kx_dec_format_min(kx_dec_t d, char *buf, size_t size)
{
    size_t  n;
    char    tmp[KX_DEC_FMT_MAX];

    n = kx_dec_render(d, KX_DEC_SCALE, tmp);

    while (tmp[n - 1] == '0') {
        n--;
    }

    if (tmp[n - 1] == '.') {
        n--;
    }

    return kx_dec_emit(tmp, n, buf, size);
}


static size_t
kx_dec_render(kx_dec_t d, unsigned places, char *tmp)
{
    int       neg;
    char      rev[KX_DEC_FMT_MAX];
    size_t    n, r;
    unsigned  i;
    uint64_t  q, ip, fp, unit;

    neg = (d.v < 0);

    /* 2^63 rounded to any place still fits: this cannot fail */
    unit = kx_dec_pow10[KX_DEC_SCALE - places];

    (void) kx_dec_div_round(kx_dec_mag(d.v), unit, neg, KX_ROUND_HALF_EVEN,
                            &q);

    ip = q / kx_dec_pow10[places];
    fp = q % kx_dec_pow10[places];

    r = 0;

    for (i = 0; i < places; i++) {
        rev[r++] = (char) ('0' + fp % 10);
        fp /= 10;
    }

    if (places) {
        rev[r++] = '.';
    }

    do {
        rev[r++] = (char) ('0' + ip % 10);
        ip /= 10;
    } while (ip);

    n = 0;

    if (neg && q != 0) {
        tmp[n++] = '-';
    }

    while (r) {
        tmp[n++] = rev[--r];
    }

    tmp[n] = '\0';

    return n;
}


static size_t
kx_dec_emit(const char *tmp, size_t n, char *buf, size_t size)
{
    if (n < size) {
        memcpy(buf, tmp, n);
        buf[n] = '\0';

    } else if (size) {
        buf[0] = '\0';
    }

    return n;
}


int
kx_dec_from_int(int64_t i, kx_dec_t *out)
{
    int64_t  v;

    if (__builtin_mul_overflow(i, (int64_t) KX_DEC_ONE, &v)) {
        return KX_DEC_ERANGE;
    }

    out->v = v;

    return KX_DEC_OK;
}


int
kx_dec_to_int(kx_dec_t d, kx_round_e mode, int64_t *out)
{
    int       rc;
    uint64_t  q;

    rc = kx_dec_div_round(kx_dec_mag(d.v), KX_DEC_ONE, d.v < 0, mode, &q);
    if (rc != KX_DEC_OK) {
        return rc;
    }

    /* |d| <= 2^63 / 10^8, so q and its negation fit */
    *out = (d.v < 0) ? -(int64_t) q : (int64_t) q;

    return KX_DEC_OK;
}


int
kx_dec_add(kx_dec_t a, kx_dec_t b, kx_dec_t *out)
{
    int64_t  v;

    if (__builtin_add_overflow(a.v, b.v, &v) || v == INT64_MIN) {
        return KX_DEC_ERANGE;
    }

    out->v = v;

    return KX_DEC_OK;
}


int
kx_dec_sub(kx_dec_t a, kx_dec_t b, kx_dec_t *out)
{
    int64_t  v;

    if (__builtin_sub_overflow(a.v, b.v, &v) || v == INT64_MIN) {
        return KX_DEC_ERANGE;
    }

    out->v = v;

    return KX_DEC_OK;
}


int
kx_dec_mul(kx_dec_t a, kx_dec_t b, kx_round_e mode, kx_dec_t *out)
{
    int                rc, neg;
    uint64_t           q;
    unsigned __int128  num;

    /* both magnitudes are <= 2^63, so the product fits in 126 bits */
    num = (unsigned __int128) kx_dec_mag(a.v) * kx_dec_mag(b.v);
    neg = (a.v < 0) != (b.v < 0);

    rc = kx_dec_div_round(num, KX_DEC_ONE, neg, mode, &q);
    if (rc != KX_DEC_OK) {
        return rc;
    }

    return kx_dec_set(q, neg, out);
}


int
kx_dec_div(kx_dec_t a, kx_dec_t b, kx_round_e mode, kx_dec_t *out)
{
    int                rc, neg;
    uint64_t           q;
    unsigned __int128  num;

    if (b.v == 0) {
        return KX_DEC_EDIVZERO;
    }

    num = (unsigned __int128) kx_dec_mag(a.v) * KX_DEC_ONE;
    neg = (a.v < 0) != (b.v < 0);

    rc = kx_dec_div_round(num, kx_dec_mag(b.v), neg, mode, &q);
    if (rc != KX_DEC_OK) {
        return rc;
    }

    return kx_dec_set(q, neg, out);
}


int
kx_dec_round(kx_dec_t d, unsigned places, kx_round_e mode, kx_dec_t *out)
{
    int       rc;
    uint64_t  q, unit;

    if (places >= KX_DEC_SCALE) {
        return kx_dec_set(kx_dec_mag(d.v), d.v < 0, out);
    }

    unit = kx_dec_pow10[KX_DEC_SCALE - places];

    rc = kx_dec_div_round(kx_dec_mag(d.v), unit, d.v < 0, mode, &q);
    if (rc != KX_DEC_OK) {
        return rc;
    }

    if (q > (uint64_t) INT64_MAX / unit) {
        return KX_DEC_ERANGE;
    }

    return kx_dec_set(q * unit, d.v < 0, out);
}


int
kx_dec_neg(kx_dec_t d, kx_dec_t *out)
{
    if (d.v == INT64_MIN) {
        return KX_DEC_ERANGE;
    }

    out->v = -d.v;

    return KX_DEC_OK;
}


int
kx_dec_abs(kx_dec_t d, kx_dec_t *out)
{
    return kx_dec_set(kx_dec_mag(d.v), 0, out);
}


int
kx_dec_cmp(kx_dec_t a, kx_dec_t b)
{
    return (a.v > b.v) - (a.v < b.v);
}


int
kx_dec_sign(kx_dec_t d)
{
    return (d.v > 0) - (d.v < 0);
}


int
kx_dec_is_zero(kx_dec_t d)
{
    return d.v == 0;
}


const char *
kx_dec_strerror(int rc)
{
    switch (rc) {
    case KX_DEC_OK:
        return "ok";
    case KX_DEC_EINVAL:
        return "not a decimal number";
    case KX_DEC_ERANGE:
        return "number out of range";
    case KX_DEC_EPRECISION:
        return "too many decimal places";
    case KX_DEC_EDIVZERO:
        return "division by zero";
    default:
        return "unknown decimal error";
    }
}


/*
 * Rounds num / den to an integer magnitude in the given mode; "neg" is
 * the sign of the true quotient, which FLOOR and CEIL need.  Comparing
 * r with den - r finds the half without computing 2 * r.
 */

static int
kx_dec_div_round(unsigned __int128 num, unsigned __int128 den, int neg,
    kx_round_e mode, uint64_t *q)
{
    unsigned __int128  quo, rem;

    quo = num / den;
    rem = num % den;

    if (rem != 0) {
        switch (mode) {

        case KX_ROUND_HALF_EVEN:
            if (rem > den - rem || (rem == den - rem && (quo & 1))) {
                quo++;
            }
            break;

        case KX_ROUND_HALF_UP:
            if (rem >= den - rem) {
                quo++;
            }
            break;

        case KX_ROUND_DOWN:
            break;

        case KX_ROUND_FLOOR:
            quo += neg;
            break;

        case KX_ROUND_CEIL:
            quo += !neg;
            break;

        default:
            return KX_DEC_EINVAL;
        }

    } else if ((unsigned) mode > KX_ROUND_CEIL) {
        return KX_DEC_EINVAL;
    }

    if (quo > UINT64_MAX) {
        return KX_DEC_ERANGE;
    }

    *q = (uint64_t) quo;

    return KX_DEC_OK;
}


static int
kx_dec_set(uint64_t mag, int neg, kx_dec_t *out)
{
    if (mag > (uint64_t) INT64_MAX) {
        return KX_DEC_ERANGE;
    }

    out->v = neg ? -(int64_t) mag : (int64_t) mag;

    return KX_DEC_OK;
}


static uint64_t
kx_dec_mag(int64_t v)
{
    /* unsigned negation: defined for INT64_MIN too */
    return (v < 0) ? UINT64_C(0) - (uint64_t) v : (uint64_t) v;
}


__int128
kx_i128_div_even(__int128 num, __int128 den)
{
    __int128  q, r;

    /* from the floor, so that r is in [0, den) whatever num's sign */
    q = num / den;
    r = num % den;

    if (r < 0) {
        q--;
        r += den;
    }

    if (2 * r > den || (2 * r == den && (q & 1))) {
        q++;
    }

    return q;
}
