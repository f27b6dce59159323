
/*
 * Copyright (C) Kianax
 */


#include <stdlib.h>
#include <string.h>

#include "core/kx_decimal.h"

#include "kx_tap.h"
#include "kx_test_dec.h"


#define MAX   INT64_MAX                 /* 92233720368.54775807 */


static const char  *mode_name[] = {
    "half_even", "half_up", "down", "floor", "ceil"
};


static void
parse_is(const char *s, int want_rc, int64_t want_v)
{
    int       rc;
    kx_dec_t  d;

    d.v = 12345;
    rc = kx_dec_parse(s, strlen(s), &d);

    if (want_rc != KX_DEC_OK) {
        if (!ok(rc == want_rc && d.v == 12345, "parse \"%.40s\" fails: %s",
                s, kx_dec_strerror(want_rc)))
        {
            diag("  got rc %d (%s), v %" PRId64, rc, kx_dec_strerror(rc),
                 d.v);
        }

        return;
    }

    if (!ok(rc == KX_DEC_OK && d.v == want_v, "parse \"%.40s\"", s)) {
        diag("  got rc %d, v %" PRId64 "; want %" PRId64, rc, d.v, want_v);
    }
}


static void
places_is(const char *s, unsigned places, int want_rc, int64_t want_v)
{
    int       rc;
    kx_dec_t  d;

    d.v = 0;
    rc = kx_dec_parse_places(s, strlen(s), places, &d);

    if (!ok(rc == want_rc && (rc != KX_DEC_OK || d.v == want_v),
            "parse \"%s\" to %u places: %s", s, places,
            kx_dec_strerror(want_rc)))
    {
        diag("  got rc %d, v %" PRId64, rc, d.v);
    }
}


static kx_dec_t
raw(int64_t v)
{
    kx_dec_t  d;

    d.v = v;

    return d;
}


static void
fmt_is(int64_t v, unsigned places, const char *want)
{
    char    buf[KX_DEC_FMT_MAX];
    size_t  n;

    memset(buf, 'x', sizeof(buf));
    n = kx_dec_format(raw(v), places, buf, sizeof(buf));

    if (!ok(n == strlen(want) && strcmp(buf, want) == 0,
            "format %" PRId64 "e-8 to %u places is %s", v, places, want))
    {
        diag("  got \"%s\" (n=%zu)", buf, n);
    }
}


static void
fmt_min_is(int64_t v, const char *want)
{
    char    buf[KX_DEC_FMT_MAX];
    size_t  n;

    n = kx_dec_format_min(raw(v), buf, sizeof(buf));

    if (!ok(n == strlen(want) && strcmp(buf, want) == 0,
            "format_min %" PRId64 "e-8 is %s", v, want))
    {
        diag("  got \"%s\" (n=%zu)", buf, n);
    }
}


/* want[] gives the result per mode, in kx_round_e order */

static void
round_is(const char *s, unsigned places, const char *want[5])
{
    int       m, rc;
    kx_dec_t  r;

    for (m = 0; m < 5; m++) {
        r.v = 0;
        rc = kx_dec_round(dec(s), places, (kx_round_e) m, &r);

        if (!ok(rc == KX_DEC_OK && r.v == dec(want[m]).v,
                "round %s to %u places %s = %s", s, places, mode_name[m],
                want[m]))
        {
            diag("  got rc %d, v %" PRId64, rc, r.v);
        }
    }
}


typedef int (*binop_t)(kx_dec_t a, kx_dec_t b, kx_round_e mode,
    kx_dec_t *out);


static void
binop_is(binop_t op, const char *a, const char *sym, const char *b,
    const char *want[5])
{
    int       m, rc;
    kx_dec_t  r;

    for (m = 0; m < 5; m++) {
        r.v = 0;
        rc = op(dec(a), dec(b), (kx_round_e) m, &r);

        if (!ok(rc == KX_DEC_OK && r.v == dec(want[m]).v,
                "%s %s %s %s = %s", a, sym, b, mode_name[m], want[m]))
        {
            diag("  got rc %d, v %" PRId64, rc, r.v);
        }
    }
}


static void
test_parse(void)
{
    parse_is("0", KX_DEC_OK, 0);
    parse_is("1", KX_DEC_OK, 100000000);
    parse_is("-1", KX_DEC_OK, -100000000);
    parse_is("1.5", KX_DEC_OK, 150000000);
    parse_is("0.5", KX_DEC_OK, 50000000);
    parse_is("-0", KX_DEC_OK, 0);
    parse_is("-0.0", KX_DEC_OK, 0);
    parse_is("0.1", KX_DEC_OK, 10000000);
    parse_is("187.23", KX_DEC_OK, 18723000000);
    parse_is("0.00000001", KX_DEC_OK, 1);
    parse_is("-0.00000001", KX_DEC_OK, -1);
    parse_is("0.000000010", KX_DEC_OK, 1);
    parse_is("1.50000000000000000000", KX_DEC_OK, 150000000);
    parse_is("0.000000001", KX_DEC_EPRECISION, 0);
    parse_is("1.123456789", KX_DEC_EPRECISION, 0);
    parse_is("-1.000000001", KX_DEC_EPRECISION, 0);

    /* the range is symmetric: INT64_MIN is not a value */
    parse_is("92233720368.54775807", KX_DEC_OK, MAX);
    parse_is("-92233720368.54775807", KX_DEC_OK, -MAX);
    parse_is("92233720368.54775808", KX_DEC_ERANGE, 0);
    parse_is("-92233720368.54775808", KX_DEC_ERANGE, 0);
    parse_is("92233720368", KX_DEC_OK, INT64_C(9223372036800000000));
    parse_is("92233720369", KX_DEC_ERANGE, 0);
    parse_is("100000000000", KX_DEC_ERANGE, 0);
    parse_is("99999999999999999999999", KX_DEC_ERANGE, 0);
    parse_is("18446744073709551616", KX_DEC_ERANGE, 0);

    /* exponents apply exactly */
    parse_is("1e2", KX_DEC_OK, 10000000000);
    parse_is("1E+2", KX_DEC_OK, 10000000000);
    parse_is("1.5e-3", KX_DEC_OK, 150000);
    parse_is("5E-8", KX_DEC_OK, 5);
    parse_is("5e-9", KX_DEC_EPRECISION, 0);
    parse_is("50e-9", KX_DEC_OK, 5);
    parse_is("0.001e3", KX_DEC_OK, 100000000);
    parse_is("1000e-3", KX_DEC_OK, 100000000);
    parse_is("123456789e-8", KX_DEC_OK, 123456789);
    parse_is("1e10", KX_DEC_OK, INT64_C(1000000000000000000));
    parse_is("1e11", KX_DEC_ERANGE, 0);
    parse_is("-9.2233720368547758070e10", KX_DEC_OK, -MAX);
    parse_is("12345678901234567800e-10", KX_DEC_OK,
             INT64_C(123456789012345678));
    parse_is("12345678901234567890e-10", KX_DEC_EPRECISION, 0);
    parse_is("0e999999999", KX_DEC_OK, 0);
    parse_is("0.000e-999999999", KX_DEC_OK, 0);
    parse_is("1e999999999", KX_DEC_ERANGE, 0);
    parse_is("1e-999999999", KX_DEC_EPRECISION, 0);
    parse_is("1e99999999999999999999999999999999", KX_DEC_ERANGE, 0);
    parse_is("-1e-99999999999999999999999999999999", KX_DEC_EPRECISION, 0);
    parse_is("1e000000000000000000000000000000002", KX_DEC_OK, 10000000000);

    /* syntax: the JSON number grammar and nothing else */
    parse_is("", KX_DEC_EINVAL, 0);
    parse_is("-", KX_DEC_EINVAL, 0);
    parse_is(".", KX_DEC_EINVAL, 0);
    parse_is(".5", KX_DEC_EINVAL, 0);
    parse_is("-.5", KX_DEC_EINVAL, 0);
    parse_is("5.", KX_DEC_EINVAL, 0);
    parse_is("+1", KX_DEC_EINVAL, 0);
    parse_is(" 1", KX_DEC_EINVAL, 0);
    parse_is("1 ", KX_DEC_EINVAL, 0);
    parse_is("01", KX_DEC_EINVAL, 0);
    parse_is("00", KX_DEC_EINVAL, 0);
    parse_is("-01", KX_DEC_EINVAL, 0);
    parse_is("0x10", KX_DEC_EINVAL, 0);
    parse_is("NaN", KX_DEC_EINVAL, 0);
    parse_is("inf", KX_DEC_EINVAL, 0);
    parse_is("-Infinity", KX_DEC_EINVAL, 0);
    parse_is("1e", KX_DEC_EINVAL, 0);
    parse_is("1e+", KX_DEC_EINVAL, 0);
    parse_is("1.e5", KX_DEC_EINVAL, 0);
    parse_is("1e5.5", KX_DEC_EINVAL, 0);
    parse_is("--1", KX_DEC_EINVAL, 0);
    parse_is("1.2.3", KX_DEC_EINVAL, 0);
    parse_is("1,5", KX_DEC_EINVAL, 0);
    parse_is("\xd9\xa1", KX_DEC_EINVAL, 0);     /* ARABIC-INDIC ONE */

    {
        kx_dec_t  d;

        d.v = 7;
        ok(kx_dec_parse("1\0", 2, &d) == KX_DEC_EINVAL && d.v == 7,
           "embedded NUL is invalid");
        ok(kx_dec_parse("12345", 3, &d) == KX_DEC_OK && d.v == 12300000000,
           "length bounds the input");
        ok(kx_dec_parse(NULL, 0, &d) == KX_DEC_EINVAL, "NULL is invalid");
    }

    ok(kx_dec_check_syntax("-1.5e+3", 7) == KX_DEC_OK, "syntax ok");
    ok(kx_dec_check_syntax("1e99999999999999", 16) == KX_DEC_OK,
       "syntax ok for out-of-range numbers");
    ok(kx_dec_check_syntax("1.", 2) == KX_DEC_EINVAL, "syntax bad");
}


static void
test_parse_huge(void)
{
    int       rc;
    char     *s;
    size_t    n, i;
    kx_dec_t  d;

    s = malloc(4000010);
    if (s == NULL) {
        diag("out of memory");
        exit(2);
    }

    /* a 1 followed by 999 zeros */
    s[0] = '1';
    memset(s + 1, '0', 999);
    rc = kx_dec_parse(s, 1000, &d);
    is_int(rc, KX_DEC_ERANGE, "1000-digit integer is out of range");

    memcpy(s + 1000, "e-990", 5);
    d.v = 0;
    rc = kx_dec_parse(s, 1005, &d);
    ok(rc == KX_DEC_OK && d.v == INT64_C(100000000000000000),
       "1000 digits times e-990 is 10^9");

    /* 0.000...0 with 1000 zeros, then a 1 after them */
    memcpy(s, "0.", 2);
    memset(s + 2, '0', 1000);
    rc = kx_dec_parse(s, 1002, &d);
    ok(rc == KX_DEC_OK && d.v == 0, "1000 fraction zeros are zero");

    s[1002] = '1';
    rc = kx_dec_parse(s, 1003, &d);
    is_int(rc, KX_DEC_EPRECISION, "a digit 1001 places down is precision");

    memcpy(s + 1003, "e1001", 5);
    rc = kx_dec_parse(s, 1008, &d);
    ok(rc == KX_DEC_OK && d.v == 100000000, "and e1001 brings it back to 1");

    /* four million digits must still be linear */
    s[0] = '1';
    memset(s + 1, '0', 3999998);
    n = 3999999;
    memcpy(s + n, "e-3999998", 9);
    n += 9;
    rc = kx_dec_parse(s, n, &d);
    ok(rc == KX_DEC_OK && d.v == 100000000, "4M digits e-3999998 is 1");

    for (i = 0; i < 3999999; i++) {
        s[i] = '9';
    }

    rc = kx_dec_parse(s, 3999999, &d);
    is_int(rc, KX_DEC_ERANGE, "4M nines are out of range");

    free(s);
}


static void
test_places(void)
{
    places_is("12.34", 2, KX_DEC_OK, 1234000000);
    places_is("12.340", 2, KX_DEC_OK, 1234000000);
    places_is("12.345", 2, KX_DEC_EPRECISION, 0);
    places_is("1", 0, KX_DEC_OK, 100000000);
    places_is("1.0", 0, KX_DEC_OK, 100000000);
    places_is("1.5", 0, KX_DEC_EPRECISION, 0);
    places_is("1e-2", 2, KX_DEC_OK, 1000000);
    places_is("1e-3", 2, KX_DEC_EPRECISION, 0);
    places_is("0.123456", 6, KX_DEC_OK, 12345600);
    places_is("0.1234567", 6, KX_DEC_EPRECISION, 0);
    places_is("0.000000001", 12, KX_DEC_EPRECISION, 0);
    places_is("0.00000001", 12, KX_DEC_OK, 1);
    places_is("abc", 2, KX_DEC_EINVAL, 0);
}


static void
test_format(void)
{
    char    buf[KX_DEC_FMT_MAX];
    size_t  n;

    fmt_is(150000000, 2, "1.50");
    fmt_is(150000000, 8, "1.50000000");
    fmt_is(150000000, 0, "2");
    fmt_is(250000000, 0, "2");
    fmt_is(-250000000, 0, "-2");
    fmt_is(350000000, 0, "4");
    fmt_is(12500000, 2, "0.12");
    fmt_is(13500000, 2, "0.14");
    fmt_is(12500001, 2, "0.13");
    fmt_is(-12500000, 2, "-0.12");
    fmt_is(-100000, 2, "0.00");
    fmt_is(-500000, 2, "0.00");
    fmt_is(-500001, 2, "-0.01");
    fmt_is(0, 0, "0");
    fmt_is(0, 3, "0.000");
    fmt_is(1, 8, "0.00000001");
    fmt_is(1, 12, "0.00000001");
    fmt_is(99999999, 2, "1.00");
    fmt_is(MAX, 8, "92233720368.54775807");
    fmt_is(MAX, 2, "92233720368.55");
    fmt_is(MAX, 0, "92233720369");
    fmt_is(-MAX, 4, "-92233720368.5478");
    fmt_is(INT64_MIN, 8, "-92233720368.54775808");
    fmt_is(INT64_MIN, 0, "-92233720369");

    fmt_min_is(150000000, "1.5");
    fmt_min_is(10000000000, "100");
    fmt_min_is(-1, "-0.00000001");
    fmt_min_is(0, "0");
    fmt_min_is(12345678, "0.12345678");
    fmt_min_is(-MAX, "-92233720368.54775807");
    fmt_min_is(INT64_C(1000000000000000000), "10000000000");

    /* snprintf semantics: never a truncated number */
    memset(buf, 'x', sizeof(buf));
    n = kx_dec_format(raw(150000000), 2, buf, 5);
    ok(n == 4 && strcmp(buf, "1.50") == 0, "format fits in exactly 5");

    memset(buf, 'x', sizeof(buf));
    n = kx_dec_format(raw(150000000), 2, buf, 4);
    ok(n == 4 && buf[0] == '\0', "format into 4 bytes returns 4, writes \"\"");

    n = kx_dec_format(raw(-MAX), 8, NULL, 0);
    is_int((int64_t) n, 21, "format measures with a NULL buffer");
    ok(n < KX_DEC_FMT_MAX, "KX_DEC_FMT_MAX holds the longest");

    n = kx_dec_format_min(raw(150000000), buf, 3);
    ok(n == 3 && buf[0] == '\0', "format_min too small writes \"\"");
}


static void
test_roundtrip(void)
{
    int         i, p, rc;
    char        buf[KX_DEC_FMT_MAX];
    size_t      n;
    kx_dec_t    d;

    static const int64_t  vals[] = {
        0, 1, -1, 9, 10, 99999999, 100000000, -100000000, 123456789,
        18723000000, -18723000000, INT64_C(1000000000000000000),
        MAX, -MAX, MAX - 1, 50000000, -50000000, 7
    };

    for (i = 0; i < (int) (sizeof(vals) / sizeof(vals[0])); i++) {
        n = kx_dec_format_min(raw(vals[i]), buf, sizeof(buf));
        d.v = 0;
        rc = kx_dec_parse(buf, n, &d);

        ok(rc == KX_DEC_OK && d.v == vals[i], "round trip min %s", buf);

        for (p = 0; p <= 8; p += 4) {
            kx_dec_t  want;

            n = kx_dec_format(raw(vals[i]), (unsigned) p, buf, sizeof(buf));
            d.v = 0;
            rc = kx_dec_parse(buf, n, &d);

            /* what format prints is what half-even rounding gives */
            if (kx_dec_round(raw(vals[i]), (unsigned) p, KX_ROUND_HALF_EVEN,
                             &want) != KX_DEC_OK)
            {
                ok(rc == KX_DEC_ERANGE, "round trip %s: out of range", buf);
                continue;
            }

            ok(rc == KX_DEC_OK && d.v == want.v, "round trip %s", buf);
        }
    }
}


static void
test_round(void)
{
    kx_dec_t     r;
    const char  *r2_5[] = { "2", "3", "2", "2", "3" };
    const char  *rm2_5[] = { "-2", "-3", "-2", "-3", "-2" };
    const char  *r3_5[] = { "4", "4", "3", "3", "4" };
    const char  *rm3_5[] = { "-4", "-4", "-3", "-4", "-3" };
    const char  *r2_4[] = { "2", "2", "2", "2", "3" };
    const char  *rm2_6[] = { "-3", "-3", "-2", "-3", "-2" };
    const char  *r0_125[] = { "0.12", "0.13", "0.12", "0.12", "0.13" };
    const char  *rm0_125[] = { "-0.12", "-0.13", "-0.12", "-0.13", "-0.12" };
    const char  *r0_135[] = { "0.14", "0.14", "0.13", "0.13", "0.14" };
    const char  *rabove[] = { "3", "3", "2", "2", "3" };
    const char  *rexact[] = { "2", "2", "2", "2", "2" };
    const char  *rtiny[] = { "0", "0", "0", "-1", "0" };

    round_is("2.5", 0, r2_5);
    round_is("-2.5", 0, rm2_5);
    round_is("3.5", 0, r3_5);
    round_is("-3.5", 0, rm3_5);
    round_is("2.4", 0, r2_4);
    round_is("-2.6", 0, rm2_6);
    round_is("0.125", 2, r0_125);
    round_is("-0.125", 2, rm0_125);
    round_is("0.135", 2, r0_135);
    round_is("2.50000001", 0, rabove);
    round_is("2", 0, rexact);
    round_is("-0.00000001", 0, rtiny);

    ok(kx_dec_round(raw(MAX), 0, KX_ROUND_HALF_EVEN, &r) == KX_DEC_ERANGE,
       "rounding the maximum up overflows");
    ok(kx_dec_round(raw(MAX), 0, KX_ROUND_CEIL, &r) == KX_DEC_ERANGE,
       "ceil of the maximum overflows");
    ok(kx_dec_round(raw(MAX), 0, KX_ROUND_DOWN, &r) == KX_DEC_OK
       && r.v == INT64_C(9223372036800000000), "truncating the maximum");
    ok(kx_dec_round(raw(-MAX), 0, KX_ROUND_FLOOR, &r) == KX_DEC_ERANGE,
       "floor of the minimum overflows");
    ok(kx_dec_round(raw(123), 8, KX_ROUND_CEIL, &r) == KX_DEC_OK
       && r.v == 123, "8 places is the identity");
    ok(kx_dec_round(raw(123), 40, KX_ROUND_CEIL, &r) == KX_DEC_OK
       && r.v == 123, "40 places is the identity");
    ok(kx_dec_round(raw(150), 7, (kx_round_e) 9, &r) == KX_DEC_EINVAL,
       "unknown rounding mode");
    ok(kx_dec_round(raw(100), 6, (kx_round_e) 9, &r) == KX_DEC_EINVAL,
       "unknown rounding mode, even when exact");
}


static void
test_add_sub(void)
{
    kx_dec_t  r;

    r.v = 0;
    ok(kx_dec_add(dec("0.1"), dec("0.2"), &r) == KX_DEC_OK
       && r.v == dec("0.3").v, "0.1 + 0.2 is exactly 0.3");
    ok(kx_dec_sub(dec("100"), dec("0.01"), &r) == KX_DEC_OK
       && r.v == dec("99.99").v, "100 - 0.01 = 99.99");
    ok(kx_dec_add(raw(MAX), raw(-MAX), &r) == KX_DEC_OK && r.v == 0,
       "max + min = 0");

    r.v = 42;
    ok(kx_dec_add(raw(MAX), raw(1), &r) == KX_DEC_ERANGE && r.v == 42,
       "max + 0.00000001 overflows, out untouched");
    ok(kx_dec_add(raw(-MAX), raw(-1), &r) == KX_DEC_ERANGE,
       "min - 0.00000001 (would be INT64_MIN) is out of range");
    ok(kx_dec_sub(raw(-MAX), raw(1), &r) == KX_DEC_ERANGE,
       "sub into INT64_MIN is out of range");
    ok(kx_dec_sub(raw(-MAX), raw(MAX), &r) == KX_DEC_ERANGE,
       "sub overflow");
    ok(kx_dec_sub(raw(MAX), raw(-MAX), &r) == KX_DEC_ERANGE,
       "sub overflow upwards");
    ok(kx_dec_add(raw(MAX - 1), raw(1), &r) == KX_DEC_OK && r.v == MAX,
       "add up to exactly the maximum");
}


static void
test_mul(void)
{
    kx_dec_t     r;
    const char  *half[] = { "0", "0.00000001", "0", "0", "0.00000001" };
    const char  *mhalf[] = { "0", "-0.00000001", "0", "-0.00000001", "0" };
    const char  *h3[] = { "0.00000002", "0.00000002", "0.00000001",
                          "0.00000001", "0.00000002" };
    const char  *exact[] = { "3.375", "3.375", "3.375", "3.375", "3.375" };
    const char  *sixth[] = { "0.16666666", "0.16666667", "0.16666666",
                             "0.16666666", "0.16666667" };
    const char  *msixth[] = { "-0.16666666", "-0.16666667", "-0.16666666",
                              "-0.16666667", "-0.16666666" };

    binop_is(kx_dec_mul, "0.00000001", "*", "0.5", half);
    binop_is(kx_dec_mul, "-0.00000001", "*", "0.5", mhalf);
    binop_is(kx_dec_mul, "0.5", "*", "-0.00000001", mhalf);
    binop_is(kx_dec_mul, "0.00000003", "*", "0.5", h3);
    binop_is(kx_dec_mul, "1.5", "*", "2.25", exact);
    binop_is(kx_dec_mul, "0.33333333", "*", "0.5", sixth);
    binop_is(kx_dec_mul, "-0.33333333", "*", "0.5", msixth);

    ok(kx_dec_mul(dec("187.23"), dec("15"), KX_ROUND_HALF_EVEN, &r)
       == KX_DEC_OK && r.v == dec("2808.45").v, "187.23 * 15 = 2808.45");
    ok(kx_dec_mul(dec("-1.5"), dec("-2"), KX_ROUND_HALF_EVEN, &r)
       == KX_DEC_OK && r.v == dec("3").v, "-1.5 * -2 = 3");
    ok(kx_dec_mul(raw(MAX), dec("1"), KX_ROUND_DOWN, &r) == KX_DEC_OK
       && r.v == MAX, "max * 1 = max");
    ok(kx_dec_mul(raw(MAX), dec("-1"), KX_ROUND_DOWN, &r) == KX_DEC_OK
       && r.v == -MAX, "max * -1 = -max");
    ok(kx_dec_mul(dec("92233720368"), dec("2"), KX_ROUND_DOWN, &r)
       == KX_DEC_ERANGE, "92233720368 * 2 overflows");
    ok(kx_dec_mul(dec("1000000"), dec("100000"), KX_ROUND_DOWN, &r)
       == KX_DEC_ERANGE, "10^6 * 10^5 overflows");
    ok(kx_dec_mul(raw(MAX), raw(MAX), KX_ROUND_DOWN, &r) == KX_DEC_ERANGE,
       "max * max overflows (the 128-bit product itself is fine)");
    ok(kx_dec_mul(raw(INT64_MIN), raw(INT64_MIN), KX_ROUND_DOWN, &r)
       == KX_DEC_ERANGE, "INT64_MIN squared: no UB, out of range");
    ok(kx_dec_mul(raw(MAX), raw(1), KX_ROUND_CEIL, &r) == KX_DEC_OK
       && r.v == 92233720369, "max * 0.00000001 ceil = 922.33720369");
    ok(kx_dec_mul(dec("3"), dec("2"), (kx_round_e) -1, &r) == KX_DEC_EINVAL,
       "mul with an unknown mode");
}


static void
test_div(void)
{
    kx_dec_t     r;
    const char  *third[] = { "0.33333333", "0.33333333", "0.33333333",
                             "0.33333333", "0.33333334" };
    const char  *mthird[] = { "-0.33333333", "-0.33333333", "-0.33333333",
                              "-0.33333334", "-0.33333333" };
    const char  *two3[] = { "0.66666667", "0.66666667", "0.66666666",
                            "0.66666666", "0.66666667" };
    const char  *half[] = { "0", "0.00000001", "0", "0", "0.00000001" };
    const char  *mhalf[] = { "0", "-0.00000001", "0", "-0.00000001", "0" };
    const char  *exact[] = { "2.5", "2.5", "2.5", "2.5", "2.5" };
    const char  *h15[] = { "0.00000002", "0.00000002", "0.00000001",
                           "0.00000001", "0.00000002" };

    binop_is(kx_dec_div, "1", "/", "3", third);
    binop_is(kx_dec_div, "-1", "/", "3", mthird);
    binop_is(kx_dec_div, "1", "/", "-3", mthird);
    binop_is(kx_dec_div, "2", "/", "3", two3);
    binop_is(kx_dec_div, "0.00000001", "/", "2", half);
    binop_is(kx_dec_div, "0.00000001", "/", "-2", mhalf);
    binop_is(kx_dec_div, "10", "/", "4", exact);
    binop_is(kx_dec_div, "0.00000003", "/", "2", h15);

    r.v = 5;
    ok(kx_dec_div(dec("1"), dec("0"), KX_ROUND_DOWN, &r) == KX_DEC_EDIVZERO
       && r.v == 5, "1 / 0 is EDIVZERO, out untouched");
    ok(kx_dec_div(dec("0"), dec("0"), KX_ROUND_DOWN, &r) == KX_DEC_EDIVZERO,
       "0 / 0 is EDIVZERO");
    ok(kx_dec_div(dec("1"), dec("0.00000001"), KX_ROUND_DOWN, &r)
       == KX_DEC_OK && r.v == dec("100000000").v, "1 / 10^-8 = 10^8");
    ok(kx_dec_div(dec("1000"), dec("0.00000001"), KX_ROUND_DOWN, &r)
       == KX_DEC_ERANGE, "1000 / 10^-8 overflows");
    ok(kx_dec_div(raw(MAX), dec("0.5"), KX_ROUND_DOWN, &r) == KX_DEC_ERANGE,
       "max / 0.5 overflows");
    ok(kx_dec_div(raw(MAX), raw(MAX), KX_ROUND_DOWN, &r) == KX_DEC_OK
       && r.v == KX_DEC_ONE, "max / max = 1");
    ok(kx_dec_div(raw(INT64_MIN), raw(-1), KX_ROUND_DOWN, &r)
       == KX_DEC_ERANGE, "INT64_MIN / -0.00000001: no UB, out of range");
    ok(kx_dec_div(dec("2808.45"), dec("15"), KX_ROUND_HALF_EVEN, &r)
       == KX_DEC_OK && r.v == dec("187.23").v, "2808.45 / 15 = 187.23");
}


static void
test_misc(void)
{
    int64_t   i;
    kx_dec_t  r;

    ok(kx_dec_from_int(92233720368, &r) == KX_DEC_OK
       && r.v == INT64_C(9223372036800000000), "from_int 92233720368");
    ok(kx_dec_from_int(-92233720368, &r) == KX_DEC_OK
       && r.v == -INT64_C(9223372036800000000), "from_int -92233720368");
    ok(kx_dec_from_int(92233720369, &r) == KX_DEC_ERANGE,
       "from_int 92233720369 overflows");
    ok(kx_dec_from_int(INT64_MIN, &r) == KX_DEC_ERANGE,
       "from_int INT64_MIN overflows");
    ok(kx_dec_from_int(0, &r) == KX_DEC_OK && r.v == 0, "from_int 0");

    ok(kx_dec_to_int(dec("2.5"), KX_ROUND_HALF_EVEN, &i) == KX_DEC_OK
       && i == 2, "to_int 2.5 half_even = 2");
    ok(kx_dec_to_int(dec("-2.5"), KX_ROUND_HALF_UP, &i) == KX_DEC_OK
       && i == -3, "to_int -2.5 half_up = -3");
    ok(kx_dec_to_int(dec("-2.1"), KX_ROUND_FLOOR, &i) == KX_DEC_OK
       && i == -3, "to_int -2.1 floor = -3");
    ok(kx_dec_to_int(raw(INT64_MIN), KX_ROUND_FLOOR, &i) == KX_DEC_OK
       && i == -92233720369, "to_int INT64_MIN floor");

    r.v = 3;
    ok(kx_dec_neg(raw(INT64_MIN), &r) == KX_DEC_ERANGE && r.v == 3,
       "neg INT64_MIN overflows");
    ok(kx_dec_neg(raw(MAX), &r) == KX_DEC_OK && r.v == -MAX, "neg max");
    ok(kx_dec_neg(raw(0), &r) == KX_DEC_OK && r.v == 0, "neg 0");
    ok(kx_dec_abs(raw(INT64_MIN), &r) == KX_DEC_ERANGE, "abs INT64_MIN");
    ok(kx_dec_abs(raw(-5), &r) == KX_DEC_OK && r.v == 5, "abs -5e-8");

    is_int(kx_dec_cmp(dec("1.5"), dec("1.50")), 0, "cmp equal");
    is_int(kx_dec_cmp(dec("-1"), dec("0.5")), -1, "cmp less");
    is_int(kx_dec_cmp(raw(MAX), raw(INT64_MIN)), 1, "cmp greater");
    is_int(kx_dec_sign(dec("-0.00000001")), -1, "sign negative");
    is_int(kx_dec_sign(dec("-0")), 0, "sign of -0 is 0");
    is_int(kx_dec_sign(dec("3")), 1, "sign positive");
    ok(kx_dec_is_zero(dec("0.000")), "is_zero");
    ok(!kx_dec_is_zero(raw(1)), "not is_zero");

    is_str(kx_dec_strerror(KX_DEC_EPRECISION), "too many decimal places",
           "strerror");
}


static void
test_i128_div_even(void)
{
    int       bad;
    int64_t   n, d, q, want2;

    /* ties go to the even neighbour, on both sides of zero */
    is_int((int64_t) kx_i128_div_even(5, 2), 2, "5/2 -> 2");
    is_int((int64_t) kx_i128_div_even(7, 2), 4, "7/2 -> 4");
    is_int((int64_t) kx_i128_div_even(-5, 2), -2, "-5/2 -> -2");
    is_int((int64_t) kx_i128_div_even(-7, 2), -4, "-7/2 -> -4");
    is_int((int64_t) kx_i128_div_even(-1, 3), 0, "-1/3 -> 0");
    is_int((int64_t) kx_i128_div_even(-2, 3), -1, "-2/3 -> -1");
    is_int((int64_t) kx_i128_div_even(0, 7), 0, "0/7 -> 0");

    /* against 2n/d worked out with doubled integers: |2n - 2qd| <= d */
    bad = 0;

    for (n = -60; n <= 60; n++) {
        for (d = 1; d <= 12; d++) {
            q = (int64_t) kx_i128_div_even(n, d);
            want2 = 2 * n - 2 * q * d;

            if (want2 > d || want2 < -d
                || ((want2 == d || want2 == -d) && (q & 1)))
            {
                bad++;
            }
        }
    }

    ok(bad == 0, "nearest, ties even, for n in -60..60 and d in 1..12");
    /* beyond 64 bits: MAX + 1/2, MAX odd, goes up to the even MAX + 1 */
    ok(kx_i128_div_even((__int128) INT64_MAX * 4 + 2, 4)
       == (__int128) INT64_MAX + 1, "a 128-bit tie goes to the even side");
}


int
main(void)
{
    test_parse();
    test_parse_huge();
    test_places();
    test_format();
    test_roundtrip();
    test_round();
    test_add_sub();
    test_mul();
    test_div();
    test_misc();
    test_i128_div_even();

    return kx_tap_done();
}
