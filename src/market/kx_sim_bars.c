
/*
 * Copyright (C) Kianax
 */


#include <string.h>

#include "kx_isqrt.h"
#include "kx_prng.h"
#include "kx_sim_bars.h"


#define KX_SIM_REL_ONE       INT64_C(1000000000)    /* relative 10^-9 */
#define KX_SIM_CENT          INT64_C(1000000)       /* raw per cent */
#define KX_SIM_MAX_PRICE_RAW INT64_C(10000000000000)    /* 100,000 */

/* knots of the daily level every 2^9 days: see kx_sim_bars.h */
#define KX_SIM_KNOT_LOG      9
#define KX_SIM_KNOT_DAYS     (INT64_C(1) << KX_SIM_KNOT_LOG)
/* sqrt(512 / 2): the stationary standard deviation in daily sigmas */
#define KX_SIM_KNOT_SIGMAS   16

/* bit fields of a minute's key */
#define KX_SIM_U20           (INT64_C(1) << 20)
#define KX_SIM_U24           (INT64_C(1) << 24)


enum {
    KX_SIM_TAG_KNOT = 1,
    KX_SIM_TAG_DAY,
    KX_SIM_TAG_PATH,
    KX_SIM_TAG_MINUTE
};


static int64_t kx_sim_normal(const kx_sim_t *sim, uint64_t tag, unsigned sym,
    int64_t x);
static int64_t kx_sim_level_rel(const kx_sim_t *sim, size_t sym,
    int64_t day);
static int64_t kx_sim_price_of(int64_t base, int64_t rel);
static int64_t kx_sim_node(const kx_sim_t *sim, const kx_sim_day_t *dd,
    unsigned lo, unsigned hi, int64_t vlo, int64_t vhi, uint32_t *memo);
static void kx_sim_fill(const kx_sim_t *sim, const kx_sim_day_t *dd,
    int64_t *path, unsigned lo, unsigned hi, uint32_t *memo);
static int64_t kx_sim_clamp(int64_t raw);
static int kx_sim_emit(kx_sim_bar_t *out, size_t max, size_t *n,
    const kx_sim_bar_t *bar);
static void kx_sim_bar_merge(kx_sim_bar_t *acc, const kx_sim_bar_t *b);
static int64_t kx_sim_floor_div(int64_t a, int64_t b);


/*
 * sqrt(2^j) / 2 in units of 10^-9: the standard deviation, in daily
 * sigmas, of the midpoint of a Brownian bridge over 2^j days
 */
static const int64_t  kx_sim_half_sqrt[KX_SIM_KNOT_LOG + 1] = {
    0,
    INT64_C(707106781),
    INT64_C(1000000000),
    INT64_C(1414213562),
    INT64_C(2000000000),
    INT64_C(2828427125),
    INT64_C(4000000000),
    INT64_C(5656854249),
    INT64_C(8000000000),
    INT64_C(11313708499)
};


static const char  *kx_sim_tf_names[] = { "1m", "5m", "15m", "1h", "1d" };

static const int64_t  kx_sim_tf_millis[] = {
    KX_MS_PER_MINUTE, 5 * KX_MS_PER_MINUTE, 15 * KX_MS_PER_MINUTE,
    KX_MS_PER_HOUR, KX_MS_PER_DAY
};


int
kx_sim_tf_parse(const char *s, size_t len, kx_sim_tf_e *tf)
{
    size_t  i;

    for (i = 0; i < sizeof(kx_sim_tf_names) / sizeof(kx_sim_tf_names[0]);
         i++)
    {
        if (len == strlen(kx_sim_tf_names[i])
            && memcmp(s, kx_sim_tf_names[i], len) == 0)
        {
            *tf = (kx_sim_tf_e) i;
            return 0;
        }
    }

    return -1;
}


const char *
kx_sim_tf_name(kx_sim_tf_e tf)
{
    return (unsigned) tf <= KX_SIM_TF_1D ? kx_sim_tf_names[tf] : "?";
}


int64_t
kx_sim_tf_ms(kx_sim_tf_e tf)
{
    return (unsigned) tf <= KX_SIM_TF_1D ? kx_sim_tf_millis[tf] : 0;
}


int
kx_sim_bars(const kx_sim_t *sim, size_t sym, kx_sim_tf_e tf,
    int64_t from_ms, int64_t to_ms, kx_sim_bar_t *out, size_t max,
    size_t *n)
{
    int           rc;
    int64_t       tfms, d, d1, t, bt;
    unsigned      i;
    kx_sim_bar_t  cur, b;
    kx_sim_day_t  dd;
    int64_t       path[KX_SIM_MAX_MINUTES + 1];

    *n = 0;

    if (sym >= sim->nsyms) {
        return KX_SIM_ENOSYM;
    }

    if ((unsigned) tf > KX_SIM_TF_1D) {
        return KX_SIM_EINVAL;
    }

    if (from_ms < KX_SIM_MIN_MS) {
        from_ms = KX_SIM_MIN_MS;
    }

    if (to_ms > KX_SIM_MAX_MS) {
        to_ms = KX_SIM_MAX_MS;
    }

    if (from_ms >= to_ms) {
        return KX_SIM_OK;
    }

    tfms = kx_sim_tf_ms(tf);
    d = kx_sim_day_of(sim->hours, from_ms) - 1;
    d1 = kx_sim_day_of(sim->hours, to_ms - 1) + 1;

    for ( /* void */ ; d <= d1; d++) {

        if (tf == KX_SIM_TF_1D) {
            t = kx_sim_day_start(sim->hours, d);

            if (t < from_ms || t >= to_ms
                || kx_sim_day_init(sim, sym, d, &dd) != 0)
            {
                continue;
            }

            if (*n == max) {
                return KX_SIM_ETRUNC;
            }

            kx_sim_day_path(sim, &dd, path);

            for (i = 0; i < dd.minutes; i++) {
                kx_sim_day_bar(sim, &dd, i, path[i], path[i + 1], &b);

                if (i == 0) {
                    cur = b;

                } else {
                    kx_sim_bar_merge(&cur, &b);
                }
            }

            cur.t = t;
            out[(*n)++] = cur;
            continue;
        }

        if (kx_sim_day_init(sim, sym, d, &dd) != 0
            || dd.close_ms <= from_ms || dd.open_ms >= to_ms + tfms)
        {
            continue;
        }

        kx_sim_day_path(sim, &dd, path);
        cur.t = INT64_MIN;

        for (i = 0; i < dd.minutes; i++) {
            t = dd.open_ms + (int64_t) i * KX_MS_PER_MINUTE;
            bt = kx_sim_floor_div(t, tfms) * tfms;

            if (bt < from_ms) {
                continue;
            }

            if (bt >= to_ms) {
                break;
            }

            kx_sim_day_bar(sim, &dd, i, path[i], path[i + 1], &b);

            if (bt == cur.t) {
                kx_sim_bar_merge(&cur, &b);
                continue;
            }

            if (cur.t != INT64_MIN) {
                rc = kx_sim_emit(out, max, n, &cur);
                if (rc != KX_SIM_OK) {
                    return rc;
                }
            }

            cur = b;
            cur.t = bt;
        }

        if (cur.t != INT64_MIN) {
            rc = kx_sim_emit(out, max, n, &cur);
            if (rc != KX_SIM_OK) {
                return rc;
            }
        }
    }

    return KX_SIM_OK;
}


void
kx_sim_bar_json(kx_jw_t *w, const kx_sim_bar_t *b)
{
    kx_jw_obj_begin(w);
    kx_jw_key(w, "t");
    kx_jw_int(w, b->t);
    kx_jw_key(w, "o");
    kx_sim_jw_price(w, b->o);
    kx_jw_key(w, "h");
    kx_sim_jw_price(w, b->h);
    kx_jw_key(w, "l");
    kx_sim_jw_price(w, b->l);
    kx_jw_key(w, "c");
    kx_sim_jw_price(w, b->c);
    kx_jw_key(w, "v");
    kx_jw_int(w, b->v);
    kx_jw_obj_end(w);
}


int64_t
kx_sim_level(const kx_sim_t *sim, size_t sym, int64_t day)
{
    return kx_sim_price_of(sim->s[sym].base, kx_sim_level_rel(sim, sym, day));
}


int
kx_sim_day_init(const kx_sim_t *sim, size_t sym, int64_t day,
    kx_sim_day_t *dd)
{
    int64_t             sqrt_n;
    const kx_symbol_t  *s;

    if (kx_sim_session(sim->hours, day, &dd->open_ms, &dd->close_ms) != 0) {
        return -1;
    }

    s = kx_symbol_at(sym);

    dd->day = day;
    dd->sym = (unsigned) sym;
    dd->minutes = (unsigned) ((dd->close_ms - dd->open_ms)
                              / KX_MS_PER_MINUTE);
    dd->first = kx_sim_level(sim, sym, day - 1);
    dd->last = kx_sim_level(sim, sym, day);

    /* the day's volatility spread over its minutes: sigma / sqrt(N),
     * with sqrt(N) to 3 places */
    sqrt_n = (int64_t) kx_isqrt64((uint64_t) dd->minutes * 1000000);
    dd->sigma = kx_sim_muldiv(dd->first, (int64_t) s->vol_bp * 1000,
                              10000 * sqrt_n);

    return 0;
}


int64_t
kx_sim_day_point(const kx_sim_t *sim, const kx_sim_day_t *dd, unsigned i)
{
    unsigned  lo, hi, mid;
    int64_t   vlo, vhi, v;

    if (i == 0) {
        return dd->first;
    }

    if (i >= dd->minutes) {
        return dd->last;
    }

    lo = 0;
    hi = dd->minutes;
    vlo = dd->first;
    vhi = dd->last;

    for ( ;; ) {
        mid = lo + (hi - lo) / 2;
        v = kx_sim_node(sim, dd, lo, hi, vlo, vhi, NULL);

        if (i == mid) {
            return v;
        }

        if (i < mid) {
            hi = mid;
            vhi = v;

        } else {
            lo = mid;
            vlo = v;
        }
    }
}


void
kx_sim_day_path(const kx_sim_t *sim, const kx_sim_day_t *dd, int64_t *path)
{
    /* a bridge's spread depends on its length only: a few dozen roots */
    uint32_t  memo[KX_SIM_MAX_MINUTES + 1];

    memset(memo, 0, (dd->minutes + 1) * sizeof(uint32_t));

    path[0] = dd->first;
    path[dd->minutes] = dd->last;

    kx_sim_fill(sim, dd, path, 0, dd->minutes, memo);
}


void
kx_sim_day_bar(const kx_sim_t *sim, const kx_sim_day_t *dd, unsigned i,
    int64_t p0, int64_t p1, kx_sim_bar_t *bar)
{
    int64_t             o, c, up, down, x, profile, n;
    uint64_t            key;
    const kx_symbol_t  *s;

    s = kx_symbol_at(dd->sym);
    n = dd->minutes;

    bar->t = dd->open_ms + (int64_t) i * KX_MS_PER_MINUTE;

    o = kx_sim_cents(p0);
    c = kx_sim_cents(p1);

    key = kx_prng_key(sim->seed, KX_SIM_TAG_MINUTE, dd->sym,
                      (uint64_t) (bar->t / KX_MS_PER_MINUTE));

    /* wicks: up to 0.6 of the minute's sigma beyond the body */
    up = kx_sim_cents(kx_sim_muldiv(dd->sigma,
                                    (int64_t) (key & (KX_SIM_U20 - 1)) * 3,
                                    5 * KX_SIM_U20));
    down = kx_sim_cents(kx_sim_muldiv(dd->sigma,
                                      (int64_t) ((key >> 20)
                                                 & (KX_SIM_U20 - 1)) * 3,
                                      5 * KX_SIM_U20));

    bar->o.v = o;
    bar->c.v = c;
    bar->h.v = (o > c ? o : c) + up;
    bar->l.v = (o < c ? o : c) - down;

    /* o and c are at least the floor, itself a whole cent */
    if (bar->l.v < KX_SIM_MIN_PRICE_RAW) {
        bar->l.v = KX_SIM_MIN_PRICE_RAW;
    }

    /* volume: the daily average spread over the session, heavier at
     * the NYSE open and close (1 + 2x^2 on x in [-1, 1], mean 5/3),
     * times a keyed factor in [0.5, 1.5) */
    if (sim->hours == KX_SIM_HOURS_NYSE) {
        x = ((int64_t) (2 * i + 1) - n) * 1000 / n;
        profile = (1000000 + 2 * x * x) * 3 / 5;

    } else {
        profile = 1000000;
    }

    /* in thousandths of a share first: below 2^32 for any volume in
     * the table, so the product with the factor fits 64 bits */
    x = s->avg_volume * profile / (n * 1000);
    bar->v = x * ((KX_SIM_U24 / 2) + (int64_t) (key >> 40))
             / (1000 * KX_SIM_U24);

    if (bar->v < 1) {
        bar->v = 1;
    }
}


int64_t
kx_sim_muldiv(int64_t a, int64_t b, int64_t c)
{
    int64_t  p;

    /* 64-bit division is several times faster than the 128-bit one */
    if (!__builtin_mul_overflow(a, b, &p)) {
        return p / c;
    }

    return (int64_t) ((__int128) a * b / c);
}


int64_t
kx_sim_cents(int64_t raw)
{
    int64_t  q, r;

    q = raw / KX_SIM_CENT;
    r = raw % KX_SIM_CENT;

    if (r > KX_SIM_CENT / 2 || (r == KX_SIM_CENT / 2 && (q & 1))) {
        q++;
    }

    return q * KX_SIM_CENT;
}


static int64_t
kx_sim_normal(const kx_sim_t *sim, uint64_t tag, unsigned sym, int64_t x)
{
    return kx_prng_normal_at(kx_prng_key(sim->seed, tag, sym, (uint64_t) x));
}


/* B(day) in relative units of 10^-9: see kx_sim_bars.h */
static int64_t
kx_sim_level_rel(const kx_sim_t *sim, size_t sym, int64_t day)
{
    int       j;
    int64_t   sigma, k, lo, hi, mid, vlo, vhi, vmid;

    sigma = (int64_t) kx_symbol_at(sym)->vol_bp * 100000;
    k = kx_sim_floor_div(day, KX_SIM_KNOT_DAYS);

    lo = k * KX_SIM_KNOT_DAYS;
    hi = lo + KX_SIM_KNOT_DAYS;
    vlo = sigma * KX_SIM_KNOT_SIGMAS
          * kx_sim_normal(sim, KX_SIM_TAG_KNOT, (unsigned) sym, k)
          / KX_PRNG_NORMAL_ONE;
    vhi = sigma * KX_SIM_KNOT_SIGMAS
          * kx_sim_normal(sim, KX_SIM_TAG_KNOT, (unsigned) sym, k + 1)
          / KX_PRNG_NORMAL_ONE;

    for (j = KX_SIM_KNOT_LOG; day != lo; j--) {
        mid = lo + (hi - lo) / 2;
        vmid = (vlo + vhi) / 2
               + (int64_t) ((__int128) sigma * kx_sim_half_sqrt[j]
                            * kx_sim_normal(sim, KX_SIM_TAG_DAY,
                                            (unsigned) sym, mid)
                            / ((__int128) KX_SIM_REL_ONE
                               * KX_PRNG_NORMAL_ONE));

        if (day < mid) {
            hi = mid;
            vhi = vmid;

        } else {
            lo = mid;
            vlo = vmid;
        }
    }

    return vlo;
}


/* base * m(rel), m(b) = 1 + b above zero, 1 / (1 - b) below */
static int64_t
kx_sim_price_of(int64_t base, int64_t rel)
{
    __int128  num, den;

    if (rel >= 0) {
        num = (__int128) base * (KX_SIM_REL_ONE + rel);
        den = KX_SIM_REL_ONE;

    } else {
        num = (__int128) base * KX_SIM_REL_ONE;
        den = KX_SIM_REL_ONE - rel;
    }

    num = (num + den / 2) / den;

    if (num > KX_SIM_MAX_PRICE_RAW) {
        num = KX_SIM_MAX_PRICE_RAW;
    }

    return kx_sim_clamp((int64_t) num);
}


/*
 * The bridge's midpoint of [lo, hi]: linear interpolation of the ends
 * plus a normal with the bridge's variance there, a * b / (a + b)
 * minutes, keyed by (symbol, day, minute) so that the whole-day fill
 * and a single-point descent agree.
 */
static int64_t
kx_sim_node(const kx_sim_t *sim, const kx_sim_day_t *dd, unsigned lo,
    unsigned hi, int64_t vlo, int64_t vhi, uint32_t *memo)
{
    unsigned  mid, a, b;
    int64_t   mean, sd, z;

    mid = lo + (hi - lo) / 2;
    a = mid - lo;
    b = hi - mid;

    /* |vhi - vlo| < 2^50 and a < 2^11: no overflow */
    mean = vlo + (vhi - vlo) * (int64_t) a / (int64_t) (a + b);

    if (memo != NULL && memo[a + b] != 0) {
        sd = memo[a + b];

    } else {
        sd = (int64_t) kx_isqrt64((uint64_t) a * b * UINT64_C(1000000000000)
                                  / (a + b));
        if (memo != NULL) {
            memo[a + b] = (uint32_t) sd;
        }
    }
    z = kx_sim_normal(sim, KX_SIM_TAG_PATH, dd->sym,
                      dd->day * 2048 + mid);

    /* sd * z < 2^47: the deviation in millionths of sigma */
    z = sd * z / KX_PRNG_NORMAL_ONE;

    return kx_sim_clamp(mean + kx_sim_muldiv(dd->sigma, z, 1000000));
}


static void
kx_sim_fill(const kx_sim_t *sim, const kx_sim_day_t *dd, int64_t *path,
    unsigned lo, unsigned hi, uint32_t *memo)
{
    unsigned  mid;

    if (hi - lo < 2) {
        return;
    }

    mid = lo + (hi - lo) / 2;
    path[mid] = kx_sim_node(sim, dd, lo, hi, path[lo], path[hi], memo);

    kx_sim_fill(sim, dd, path, lo, mid, memo);
    kx_sim_fill(sim, dd, path, mid, hi, memo);
}


static int64_t
kx_sim_clamp(int64_t raw)
{
    if (raw < KX_SIM_MIN_PRICE_RAW) {
        return KX_SIM_MIN_PRICE_RAW;
    }

    if (raw > KX_SIM_MAX_PRICE_RAW) {
        return KX_SIM_MAX_PRICE_RAW;
    }

    return raw;
}


static int
kx_sim_emit(kx_sim_bar_t *out, size_t max, size_t *n, const kx_sim_bar_t *bar)
{
    if (*n == max) {
        return KX_SIM_ETRUNC;
    }

    out[(*n)++] = *bar;

    return KX_SIM_OK;
}


static void
kx_sim_bar_merge(kx_sim_bar_t *acc, const kx_sim_bar_t *b)
{
    if (b->h.v > acc->h.v) {
        acc->h = b->h;
    }

    if (b->l.v < acc->l.v) {
        acc->l = b->l;
    }

    acc->c = b->c;
    acc->v += b->v;
}


static int64_t
kx_sim_floor_div(int64_t a, int64_t b)
{
    int64_t  q;

    q = a / b;

    if ((a % b != 0) && ((a < 0) != (b < 0))) {
        q--;
    }

    return q;
}
