
/*
 * Copyright (C) Kianax
 */


#include "kx_indicators.h"
#include "kx_isqrt.h"


/* recursive state is kept at 10^-16: raw values times this */
#define KX_IND_X        INT64_C(100000000)


/*
 * The variance of a window is exact: with d = x - x[0] (a shift does
 * not change it, and keeps the sums small), sums S1 = sum d and
 * S2 = sum d^2 slide exactly in 128 bits, and
 *
 *     n^2 var = V = n S2 - S1^2,    sigma = sqrt(V) / n.
 *
 * A series with n * max|d| >= 2^63 (a window spanning about
 * 92 billion / n in price) is KX_IND_ERANGE; below it V < 2^126.
 */

typedef struct {
    const kx_dec_t     *in;
    unsigned            period;
    int64_t             ref;
    __int128            s1;
    unsigned __int128   s2;
} kx_ind_var_t;


static int kx_ind_check(const kx_dec_t *in, size_t len, unsigned period,
    unsigned min);
static int kx_ind_out(__int128 state, __int128 den, kx_dec_t *out);
static int kx_ind_out_ref(int64_t ref, __int128 num, __int128 den,
    kx_dec_t *out);
static int kx_ind_narrow(__int128 q, kx_dec_t *out);
static void kx_ind_clear(kx_dec_t *out, size_t from, size_t to);
static int kx_ind_range(size_t len, kx_dec_t *a, kx_dec_t *b, kx_dec_t *c);
static __int128 kx_ind_ema_step(__int128 state, __int128 x,
    unsigned period);
static int64_t kx_ind_sigma(unsigned __int128 v, unsigned n);
static int kx_ind_var_init(kx_ind_var_t *w, const kx_dec_t *in, size_t len,
    unsigned period);
static unsigned __int128 kx_ind_var_at(kx_ind_var_t *w, size_t i);


int
kx_ind_sma_lookback(unsigned period)
{
    if (period < 2 || period > KX_IND_PERIOD_MAX) {
        return -1;
    }

    return (int) period - 1;
}


int
kx_ind_ema_lookback(unsigned period)
{
    return kx_ind_sma_lookback(period);
}


int
kx_ind_rsi_lookback(unsigned period)
{
    if (period < 2 || period > KX_IND_PERIOD_MAX) {
        return -1;
    }

    return (int) period;
}


int
kx_ind_macd_lookback(unsigned fast, unsigned slow, unsigned signal)
{
    if (fast < 2 || fast > KX_IND_PERIOD_MAX || slow < 2
        || slow > KX_IND_PERIOD_MAX || signal < 1
        || signal > KX_IND_PERIOD_MAX)
    {
        return -1;
    }

    return (int) (fast > slow ? fast : slow) - 1 + (int) signal - 1;
}


int
kx_ind_bbands_lookback(unsigned period)
{
    return kx_ind_sma_lookback(period);
}


int
kx_ind_sma(const kx_dec_t *in, size_t len, unsigned period, kx_dec_t *out)
{
    size_t    i;
    __int128  sum;

    if (kx_ind_check(in, len, period, 2) != KX_IND_OK
        || (out == NULL && len != 0))
    {
        return KX_IND_EINVAL;
    }

    kx_ind_clear(out, 0, len < period - 1 ? len : period - 1);

    /* the running sum is exact, so nothing drifts over long series */
    sum = 0;

    for (i = 0; i < len; i++) {
        sum += in[i].v;

        if (i >= period) {
            sum -= in[i - period].v;
        }

        if (i + 1 >= period) {
            /* a mean of kx_dec_t values is one */
            out[i].v = (int64_t) kx_i128_div_even(sum, period);
        }
    }

    return KX_IND_OK;
}


int
kx_ind_ema(const kx_dec_t *in, size_t len, unsigned period, kx_dec_t *out)
{
    size_t    i;
    __int128  state;

    if (kx_ind_check(in, len, period, 2) != KX_IND_OK
        || (out == NULL && len != 0))
    {
        return KX_IND_EINVAL;
    }

    if (len < period) {
        kx_ind_clear(out, 0, len);
        return KX_IND_OK;
    }

    kx_ind_clear(out, 0, period - 1);

    state = 0;

    for (i = 0; i < period; i++) {
        state += in[i].v;
    }

    /* every state is a convex combination of inputs: it always fits */
    state = kx_i128_div_even(state * KX_IND_X, period);
    (void) kx_ind_out(state, KX_IND_X, &out[period - 1]);

    for (i = period; i < len; i++) {
        state = kx_ind_ema_step(state, (__int128) in[i].v * KX_IND_X,
                                period);
        (void) kx_ind_out(state, KX_IND_X, &out[i]);
    }

    return KX_IND_OK;
}


int
kx_ind_rsi(const kx_dec_t *in, size_t len, unsigned period, kx_dec_t *out)
{
    size_t    i;
    __int128  d, gain, loss, sum;

    if (kx_ind_check(in, len, period, 2) != KX_IND_OK
        || (out == NULL && len != 0))
    {
        return KX_IND_EINVAL;
    }

    if (len <= period) {
        kx_ind_clear(out, 0, len);
        return KX_IND_OK;
    }

    kx_ind_clear(out, 0, period);

    gain = 0;
    loss = 0;

    for (i = 1; i <= period; i++) {
        d = (__int128) in[i].v - in[i - 1].v;

        if (d < 0) {
            loss -= d;

        } else {
            gain += d;
        }
    }

    gain = kx_i128_div_even(gain * KX_IND_X, period);
    loss = kx_i128_div_even(loss * KX_IND_X, period);

    for (i = period; i < len; i++) {

        if (i > period) {
            d = (__int128) in[i].v - in[i - 1].v;

            gain *= period - 1;
            loss *= period - 1;

            if (d < 0) {
                loss -= d * KX_IND_X;

            } else {
                gain += d * KX_IND_X;
            }

            gain = kx_i128_div_even(gain, period);
            loss = kx_i128_div_even(loss, period);
        }

        /* 100 g / (g + l) to 8 places: g < 2^91, times 10^10 < 2^125 */
        sum = gain + loss;
        out[i].v = sum == 0
                   ? 0
                   : (int64_t) kx_i128_div_even(gain * 100 * KX_IND_X, sum);
    }

    return KX_IND_OK;
}


int
kx_ind_macd(const kx_dec_t *in, size_t len, unsigned fast, unsigned slow,
    unsigned signal, kx_dec_t *macd, kx_dec_t *signal_out, kx_dec_t *hist)
{
    int       bad;
    size_t    i, lookback;
    unsigned  t;
    __int128  f, s, m, sig;

    if (kx_ind_macd_lookback(fast, slow, signal) < 0
        || kx_ind_check(in, len, 2, 2) != KX_IND_OK
        || (len != 0 && (macd == NULL || signal_out == NULL || hist == NULL)))
    {
        return KX_IND_EINVAL;
    }

    if (slow < fast) {
        t = slow;
        slow = fast;
        fast = t;
    }

    lookback = (size_t) kx_ind_macd_lookback(fast, slow, signal);

    if (len <= lookback) {
        kx_ind_clear(macd, 0, len);
        kx_ind_clear(signal_out, 0, len);
        kx_ind_clear(hist, 0, len);
        return KX_IND_OK;
    }

    kx_ind_clear(macd, 0, lookback);
    kx_ind_clear(signal_out, 0, lookback);
    kx_ind_clear(hist, 0, lookback);

    /* both EMAs start at slow - 1: the fast one from the mean of the
     * last fast closes of the slow one's window (TA-Lib's alignment) */
    s = 0;
    f = 0;

    for (i = 0; i < slow; i++) {
        s += in[i].v;

        if (i >= slow - fast) {
            f += in[i].v;
        }
    }

    s = kx_i128_div_even(s * KX_IND_X, slow);
    f = kx_i128_div_even(f * KX_IND_X, fast);

    /* the signal's seed: the mean of the first `signal` line values */
    sig = f - s;

    for (i = slow; i <= lookback; i++) {
        f = kx_ind_ema_step(f, (__int128) in[i].v * KX_IND_X, fast);
        s = kx_ind_ema_step(s, (__int128) in[i].v * KX_IND_X, slow);
        sig += f - s;
    }

    sig = kx_i128_div_even(sig, signal);
    m = f - s;
    bad = 0;

    for (i = lookback; i < len; i++) {

        if (i > lookback) {
            f = kx_ind_ema_step(f, (__int128) in[i].v * KX_IND_X, fast);
            s = kx_ind_ema_step(s, (__int128) in[i].v * KX_IND_X, slow);
            m = f - s;
            sig = kx_ind_ema_step(sig, m, signal);
        }

        /* two EMAs of values near the limits can differ by more than
         * a kx_dec_t holds */
        bad |= kx_ind_out(m, KX_IND_X, &macd[i]);
        bad |= kx_ind_out(sig, KX_IND_X, &signal_out[i]);
        bad |= kx_ind_out(m - sig, KX_IND_X, &hist[i]);
    }

    return bad ? kx_ind_range(len, macd, signal_out, hist) : KX_IND_OK;
}


static int
kx_ind_var_init(kx_ind_var_t *w, const kx_dec_t *in, size_t len,
    unsigned period)
{
    size_t             i;
    unsigned __int128  d, max;

    w->in = in;
    w->period = period;
    w->ref = in[0].v;
    w->s1 = 0;
    w->s2 = 0;

    max = 0;

    for (i = 0; i < len; i++) {
        d = in[i].v >= w->ref ? (unsigned __int128) in[i].v - w->ref
                              : (unsigned __int128) w->ref - in[i].v;
        if (d > max) {
            max = d;
        }
    }

    return max * period < ((unsigned __int128) 1 << 63) ? 0 : -1;
}


/* slides the window to end at i; returns V */
static unsigned __int128
kx_ind_var_at(kx_ind_var_t *w, size_t i)
{
    __int128  d;

    d = (__int128) w->in[i].v - w->ref;
    w->s1 += d;
    w->s2 += (unsigned __int128) (d * d);

    if (i >= w->period) {
        d = (__int128) w->in[i - w->period].v - w->ref;
        w->s1 -= d;
        w->s2 -= (unsigned __int128) (d * d);
    }

    return w->s2 * w->period - (unsigned __int128) (w->s1 * w->s1);
}


int
kx_ind_stddev(const kx_dec_t *in, size_t len, unsigned period, kx_dec_t *out)
{
    size_t             i;
    kx_ind_var_t       w;
    unsigned __int128  v;

    if (kx_ind_check(in, len, period, 2) != KX_IND_OK
        || (out == NULL && len != 0))
    {
        return KX_IND_EINVAL;
    }

    if (len < period) {
        kx_ind_clear(out, 0, len);
        return KX_IND_OK;
    }

    if (kx_ind_var_init(&w, in, len, period) != 0) {
        return kx_ind_range(len, out, NULL, NULL);
    }

    kx_ind_clear(out, 0, period - 1);

    for (i = 0; i < len; i++) {
        v = kx_ind_var_at(&w, i);

        if (i + 1 >= period) {
            out[i].v = kx_ind_sigma(v, period);
        }
    }

    return KX_IND_OK;
}


/*
 * The bands to 8 places from sqrt(V) to 16: with T = floor(sqrt(V) 10^8)
 * and k = K / 10^8,
 *
 *     upper = x0 + (S1 10^16 + K_up T) / (n 10^16),
 *
 * rounded once; T's error below 1 moves the sum by less than K, that is
 * by less than 10^-14 / n in price.
 */

int
kx_ind_bbands(const kx_dec_t *in, size_t len, unsigned period,
    kx_dec_t k_up, kx_dec_t k_dn, kx_dec_t *upper, kx_dec_t *middle,
    kx_dec_t *lower)
{
    int                bad;
    size_t             i;
    __int128           t, den, s1;
    kx_ind_var_t       w;
    unsigned __int128  v;

    if (kx_ind_check(in, len, period, 2) != KX_IND_OK
        || k_up.v > KX_IND_MULT_MAX || k_up.v < -KX_IND_MULT_MAX
        || k_dn.v > KX_IND_MULT_MAX || k_dn.v < -KX_IND_MULT_MAX
        || (len != 0 && (upper == NULL || middle == NULL || lower == NULL)))
    {
        return KX_IND_EINVAL;
    }

    if (len < period) {
        kx_ind_clear(upper, 0, len);
        kx_ind_clear(middle, 0, len);
        kx_ind_clear(lower, 0, len);
        return KX_IND_OK;
    }

    if (kx_ind_var_init(&w, in, len, period) != 0) {
        return kx_ind_range(len, upper, middle, lower);
    }

    kx_ind_clear(upper, 0, period - 1);
    kx_ind_clear(middle, 0, period - 1);
    kx_ind_clear(lower, 0, period - 1);

    den = (__int128) period * KX_IND_X * KX_IND_X;
    bad = 0;

    for (i = 0; i < len; i++) {
        v = kx_ind_var_at(&w, i);

        if (i + 1 < period) {
            continue;
        }

        /* |S1| < 2^63, so S1 10^16 < 2^117; K T < 2^34 2^90 */
        t = (__int128) kx_isqrt128_scaled(v, (uint64_t) KX_IND_X);
        s1 = w.s1 * KX_IND_X * KX_IND_X;

        bad |= kx_ind_out_ref(w.ref, s1, den, &middle[i]);
        bad |= kx_ind_out_ref(w.ref, s1 + (__int128) k_up.v * t, den,
                              &upper[i]);
        bad |= kx_ind_out_ref(w.ref, s1 - (__int128) k_dn.v * t, den,
                              &lower[i]);
    }

    return bad ? kx_ind_range(len, upper, middle, lower) : KX_IND_OK;
}


/* period in range, arrays present, every input a valid decimal */
static int
kx_ind_check(const kx_dec_t *in, size_t len, unsigned period, unsigned min)
{
    size_t  i;

    if (period < min || period > KX_IND_PERIOD_MAX
        || (in == NULL && len != 0))
    {
        return KX_IND_EINVAL;
    }

    for (i = 0; i < len; i++) {
        if (in[i].v == KX_IND_ABSENT_RAW) {
            return KX_IND_EINVAL;
        }
    }

    return KX_IND_OK;
}


/* state / den rounded into out; 1 when it does not fit a kx_dec_t */
static int
kx_ind_out(__int128 state, __int128 den, kx_dec_t *out)
{
    return kx_ind_narrow(kx_i128_div_even(state, den), out);
}


/*
 * ref + num / den rounded into out: half to even on the whole value.  An
 * odd ref flips which neighbour is even, as rounding (num + den) / den
 * does; the rest of ref is even and changes nothing.
 */
static int
kx_ind_out_ref(int64_t ref, __int128 num, __int128 den, kx_dec_t *out)
{
    __int128  odd;

    odd = ref & 1;

    return kx_ind_narrow(kx_i128_div_even(num + odd * den, den) - odd + ref,
                         out);
}


static int
kx_ind_narrow(__int128 q, kx_dec_t *out)
{
    if (q > INT64_MAX || q < -INT64_MAX) {
        out->v = KX_IND_ABSENT_RAW;
        return 1;
    }

    out->v = (int64_t) q;

    return 0;
}


static void
kx_ind_clear(kx_dec_t *out, size_t from, size_t to)
{
    size_t  i;

    for (i = from; i < to; i++) {
        out[i].v = KX_IND_ABSENT_RAW;
    }
}


static int
kx_ind_range(size_t len, kx_dec_t *a, kx_dec_t *b, kx_dec_t *c)
{
    kx_ind_clear(a, 0, len);

    if (b != NULL) {
        kx_ind_clear(b, 0, len);
    }

    if (c != NULL) {
        kx_ind_clear(c, 0, len);
    }

    return KX_IND_ERANGE;
}


/*
 * ema + 2 / (n + 1) (x - ema) = ((n - 1) ema + 2 x) / (n + 1): the
 * exact rational step, rounded once at 10^-16.  States and inputs are
 * below 2^91, so (n - 1) ema stays below 2^108.
 */
static __int128
kx_ind_ema_step(__int128 state, __int128 x, unsigned period)
{
    return kx_i128_div_even(state * (period - 1) + 2 * x,
                            (__int128) period + 1);
}


/*
 * sigma = sqrt(V) / n half to even, exactly: with r = floor(sqrt(4V)),
 * floor(sqrt(V) / n + 1/2) = floor((r + n) / 2n), and the tie (an
 * exact half) happens only when 4V is a perfect square.
 */
static int64_t
kx_ind_sigma(unsigned __int128 v, unsigned n)
{
    unsigned __int128  four, r, q;

    four = v * 4;
    r = kx_isqrt128(four);
    q = (r + n) / (2 * (unsigned __int128) n);

    if (r * r == four && (r + n) % (2 * (unsigned __int128) n) == 0
        && (q & 1))
    {
        q--;
    }

    return (int64_t) q;
}
