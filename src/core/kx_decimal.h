
/*
 * Copyright (C) Kianax
 */


#ifndef _KX_DECIMAL_H_INCLUDED_
#define _KX_DECIMAL_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


/*
 * Exact fixed-point decimal for money, prices and quantities: the value
 * times 10^8 in an int64.  Binary floating point is never used, so
 * 0.1 + 0.2 is exactly 0.3 and every amount round-trips through text.
 *
 * The range is symmetric, +-92,233,720,368.54775807: INT64_MIN is not a
 * valid value, so no operation produces it and negation of any result
 * is always safe.  Operations that would leave the range fail with
 * KX_DEC_ERANGE and leave *out untouched.
 */

#define KX_DEC_SCALE      8
#define KX_DEC_ONE        INT64_C(100000000)
#define KX_DEC_MAX_RAW    INT64_MAX
#define KX_DEC_MIN_RAW    (-INT64_MAX)

/* "-92233720368.54775807" and its NUL, with room to spare */
#define KX_DEC_FMT_MAX    24


typedef struct {
    int64_t         v;
} kx_dec_t;


typedef enum {
    KX_ROUND_HALF_EVEN = 0,     /* banker's rounding */
    KX_ROUND_HALF_UP,           /* ties away from zero */
    KX_ROUND_DOWN,              /* toward zero (truncate) */
    KX_ROUND_FLOOR,             /* toward -infinity */
    KX_ROUND_CEIL               /* toward +infinity */
} kx_round_e;


enum {
    KX_DEC_OK = 0,
    KX_DEC_EINVAL,              /* not a number in our grammar */
    KX_DEC_ERANGE,              /* outside +-92233720368.54775807 */
    KX_DEC_EPRECISION,          /* more fraction digits than allowed */
    KX_DEC_EDIVZERO
};


/*
 * Text grammar, the JSON number grammar exactly, so a money field reads
 * the same whether a client sends it as a JSON number or a string:
 *
 *     -? ( 0 | [1-9][0-9]* ) ( . [0-9]+ )? ( [eE] [+-]? [0-9]+ )?
 *
 * So "1", "-0.5", "1.25e2" and "5E-8" are accepted; ".5", "5.", "+1",
 * "01", " 1", "0x10", "NaN", "inf", "", "-" and "." are KX_DEC_EINVAL.
 * The exponent is applied exactly.  Digits past the allowed places are
 * KX_DEC_EPRECISION unless they are all zero ("1.500000000" is fine);
 * the value is never rounded silently.  Work is linear in len whatever
 * the digit count or exponent.
 */
int kx_dec_parse(const char *s, size_t len, kx_dec_t *out);
int kx_dec_parse_places(const char *s, size_t len, unsigned max_places,
    kx_dec_t *out);
int kx_dec_check_syntax(const char *s, size_t len);

/*
 * Formatting follows snprintf: the return value is the length of the
 * full text without its NUL; the text is written only if it fits
 * (return < size), otherwise buf gets an empty string.  A buffer of
 * KX_DEC_FMT_MAX always fits.  kx_dec_format() prints exactly "places"
 * fraction digits (more than 8 count as 8), rounding half-even;
 * kx_dec_format_min() prints the exact value with no trailing zeros.
 * A value that rounds to zero prints without a sign.
 */
size_t kx_dec_format(kx_dec_t d, unsigned places, char *buf, size_t size);
size_t kx_dec_format_min(kx_dec_t d, char *buf, size_t size);

/*
 * Arithmetic rounds only where it must (mul, div, round, to_int), and
 * always in the mode the caller names; places above 8 mean "as is".
 */
int kx_dec_from_int(int64_t i, kx_dec_t *out);
int kx_dec_to_int(kx_dec_t d, kx_round_e mode, int64_t *out);

int kx_dec_add(kx_dec_t a, kx_dec_t b, kx_dec_t *out);
int kx_dec_sub(kx_dec_t a, kx_dec_t b, kx_dec_t *out);
int kx_dec_mul(kx_dec_t a, kx_dec_t b, kx_round_e mode, kx_dec_t *out);
int kx_dec_div(kx_dec_t a, kx_dec_t b, kx_round_e mode, kx_dec_t *out);
int kx_dec_round(kx_dec_t d, unsigned places, kx_round_e mode,
    kx_dec_t *out);
int kx_dec_neg(kx_dec_t d, kx_dec_t *out);
int kx_dec_abs(kx_dec_t d, kx_dec_t *out);

/*
 * num / den to the nearest integer, ties to even; den > 0.  For exact
 * arithmetic done in 128 bits before it is narrowed (prices, averages,
 * indicators): the caller checks the result's range.
 */
__int128 kx_i128_div_even(__int128 num, __int128 den);

int kx_dec_cmp(kx_dec_t a, kx_dec_t b);
int kx_dec_sign(kx_dec_t d);
int kx_dec_is_zero(kx_dec_t d);

const char *kx_dec_strerror(int rc);


#endif /* _KX_DECIMAL_H_INCLUDED_ */
