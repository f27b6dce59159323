
/*
 * Copyright (C) Kianax
 */


#ifndef _KX_INDICATORS_H_INCLUDED_
#define _KX_INDICATORS_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include "core/kx_decimal.h"


/*
 * Technical indicators over a series of closes, with TA-Lib's
 * definitions, parameter ranges and warm-up (lookback) conventions,
 * computed in exact fixed point instead of doubles.
 *
 * Every output array has the input's length and is aligned to it: out[i]
 * belongs to bar i.  Bars inside the warm-up carry KX_IND_ABSENT (the
 * raw value INT64_MIN, which kx_decimal never produces), as does every
 * bar of a series shorter than the lookback.  Outputs must not overlap
 * the input.  Each function is O(n) in the series length and allocates
 * nothing.
 *
 * Arithmetic.  Inputs are kx_dec_t (10^-8).  Sums are exact (128-bit).
 * Recursive state (EMA, Wilder's averages, the MACD lines) is kept at
 * 10^-16, rounded half-even at each step, and every output is rounded
 * half-even to 8 places once, from that state:
 *
 *   SMA, the Bollinger middle band and the standard deviation are
 *   correctly rounded (exact sums; the root is an exact integer root);
 *   EMA, RSI and MACD differ from the exact rational recursion by at
 *   most period x 10^-16 before the final rounding (the step errors
 *   decay geometrically), so they are correctly rounded except that
 *   close to a tie;
 *   the Bollinger bands use sqrt(variance) to 10^-16 and are correctly
 *   rounded except within 10^-14 of a tie.
 *
 * Return values: KX_IND_OK; KX_IND_EINVAL for a parameter outside
 * TA-Lib's range, a NULL array, or an input that is not a valid
 * decimal (nothing is written); KX_IND_ERANGE when a result would not
 * fit a kx_dec_t (possible only with inputs near the type's limits;
 * every output is then absent).
 */

#define KX_IND_PERIOD_MAX   100000

/* Bollinger multipliers: |k| <= 100 */
#define KX_IND_MULT_MAX     (INT64_C(100) * KX_DEC_ONE)

#define KX_IND_ABSENT_RAW   INT64_MIN
#define kx_ind_absent(d)    ((d).v == KX_IND_ABSENT_RAW)


enum {
    KX_IND_OK = 0,
    KX_IND_EINVAL,
    KX_IND_ERANGE
};


/*
 * Lookbacks: the index of the first value, or -1 for bad parameters.
 *
 *   SMA(n), EMA(n)          n - 1                     2 <= n
 *   RSI(n)                  n                         2 <= n
 *   MACD(fast, slow, sig)   slow - 1 + sig - 1        2 <= fast, slow;
 *                                                     1 <= sig
 *   BBANDS(n), STDDEV(n)    n - 1                     2 <= n
 *
 * and every period at most KX_IND_PERIOD_MAX.
 */
int kx_ind_sma_lookback(unsigned period);
int kx_ind_ema_lookback(unsigned period);
int kx_ind_rsi_lookback(unsigned period);
int kx_ind_macd_lookback(unsigned fast, unsigned slow, unsigned signal);
int kx_ind_bbands_lookback(unsigned period);


/* mean of the last n closes */
int kx_ind_sma(const kx_dec_t *in, size_t len, unsigned period,
    kx_dec_t *out);

/*
 * k = 2 / (n + 1), seeded with the SMA of the first n closes:
 * ema[n-1] = sma, then ema[i] = ema[i-1] + k (in[i] - ema[i-1]).
 */
int kx_ind_ema(const kx_dec_t *in, size_t len, unsigned period,
    kx_dec_t *out);

/*
 * Wilder: the first average gain and loss are the means of the first n
 * changes; then avg = (prev (n - 1) + current) / n.  RSI = 100 g / (g + l),
 * and 0 when both averages are 0 (a flat series), as TA-Lib does.
 */
int kx_ind_rsi(const kx_dec_t *in, size_t len, unsigned period,
    kx_dec_t *out);

/*
 * MACD line = EMA(fast) - EMA(slow); signal = EMA(signal) of the line;
 * histogram = line - signal (from the unrounded values, so it may differ
 * by 10^-8 from the difference of the two rounded outputs).  As in
 * TA-Lib: fast and slow are swapped if slow < fast; both EMAs start at
 * index slow - 1, the slow one seeded with the mean of the first slow
 * closes and the fast one with the mean of the fast closes ending
 * there (not the fast EMA run from the start of the series); the
 * signal is seeded with the mean of the first sig line values; and all
 * three outputs start at the lookback (33 for 12/26/9).
 */
int kx_ind_macd(const kx_dec_t *in, size_t len, unsigned fast,
    unsigned slow, unsigned signal, kx_dec_t *macd, kx_dec_t *signal_out,
    kx_dec_t *hist);

/* population standard deviation (divide by n) of the last n closes */
int kx_ind_stddev(const kx_dec_t *in, size_t len, unsigned period,
    kx_dec_t *out);

/*
 * middle = SMA(n); upper = middle + k_up sigma; lower = middle -
 * k_dn sigma, with sigma the population standard deviation (TA-Lib's
 * BBANDS with the SMA; the usual 20, 2, 2).
 */
int kx_ind_bbands(const kx_dec_t *in, size_t len, unsigned period,
    kx_dec_t k_up, kx_dec_t k_dn, kx_dec_t *upper, kx_dec_t *middle,
    kx_dec_t *lower);


#endif /* _KX_INDICATORS_H_INCLUDED_ */
