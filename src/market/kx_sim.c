
/*
 * Copyright (C) Kianax
 */


#include <string.h>

#include "kx_isqrt.h"
#include "kx_sim.h"
#include "kx_sim_bars.h"


#define KX_SIM_CENT          INT64_C(1000000)
#define KX_SIM_REL_ONE       INT64_C(1000000000)

/*
 * The live walk's deviation from the path decays over about TAU (a
 * first-order autoregression, rho = 1 - dt / TAU) toward a stationary
 * standard deviation of half a minute's sigma: prices wiggle between
 * ticks, with steps scaled by sqrt(dt), and never wander off the
 * history.
 */
#define KX_SIM_TAU_MS        INT64_C(30000)

/* quotes' own generator: separate from every keyed stream of the path */
#define KX_SIM_TAG_LIVE      UINT64_C(0x6c697665)


static int kx_sim_tick_open(kx_sim_t *sim, size_t j, int64_t now);
static int kx_sim_tick_closed(kx_sim_t *sim, size_t j, int64_t now,
    int64_t last, int64_t close, int64_t before);
static void kx_sim_quote_make(kx_sim_t *sim, kx_sim_state_t *st,
    int64_t fair, int64_t time_ms);


int
kx_sim_init(kx_sim_t *sim, uint64_t seed, kx_sim_hours_e hours,
    int64_t now_ms)
{
    size_t           i;
    kx_dec_t         base;
    kx_sim_state_t  *st;

    if (now_ms < KX_SIM_MIN_MS || now_ms >= KX_SIM_MAX_MS
        || (hours != KX_SIM_HOURS_ALWAYS && hours != KX_SIM_HOURS_NYSE)
        || kx_symbols_count() > KX_SIM_MAX_SYMBOLS)
    {
        return KX_SIM_EINVAL;
    }

    memset(sim, 0, sizeof(kx_sim_t));

    sim->seed = seed;
    sim->hours = hours;
    sim->nsyms = kx_symbols_count();
    sim->now_ms = now_ms;
    sim->walk_dt = -1;
    kx_prng_seed(&sim->rng, kx_prng_key(seed, KX_SIM_TAG_LIVE, 0, 0));

    for (i = 0; i < sim->nsyms; i++) {
        st = &sim->s[i];

        if (kx_symbol_base_price(kx_symbol_at(i), &base) != KX_DEC_OK
            || base.v < KX_SIM_MIN_PRICE_RAW)
        {
            return KX_SIM_EINVAL;
        }

        st->base = base.v;
        st->q.sym = (unsigned) i;
        st->last_ms = now_ms;
        st->minute_ms = INT64_MIN;
        st->day = INT64_MIN;
        st->closed_day = INT64_MIN;
    }

    kx_sim_tick(sim, now_ms);

    return KX_SIM_OK;
}


size_t
kx_sim_tick(kx_sim_t *sim, int64_t now_ms)
{
    size_t   j, changed;
    int64_t  d, last, open, close, before;

    if (now_ms < KX_SIM_MIN_MS || now_ms >= KX_SIM_MAX_MS) {
        return 0;
    }

    sim->now_ms = now_ms;
    changed = 0;

    if (kx_sim_market_open(sim->hours, now_ms)) {
        for (j = 0; j < sim->nsyms; j++) {
            changed += kx_sim_tick_open(sim, j, now_ms);
        }

        return changed;
    }

    /* closed (nyse hours): the last session that has ended */
    d = kx_sim_day_of(sim->hours, now_ms);

    if (kx_sim_session(sim->hours, d, &open, &close) == 0 && now_ms >= close)
    {
        last = d;

    } else {
        last = kx_sim_prev_trading_day(sim->hours, d);

        if (kx_sim_session(sim->hours, last, &open, &close) != 0) {
            return 0;
        }
    }

    before = kx_sim_prev_trading_day(sim->hours, last);

    for (j = 0; j < sim->nsyms; j++) {
        changed += kx_sim_tick_closed(sim, j, now_ms, last, close, before);
    }

    return changed;
}


const kx_sim_quote_t *
kx_sim_quote(const kx_sim_t *sim, size_t sym)
{
    return sym < sim->nsyms ? &sim->s[sym].q : NULL;
}


void
kx_sim_jw_price(kx_jw_t *w, kx_dec_t d)
{
    int64_t   v;
    unsigned  places;

    /* cents print as before; a provider's sub-penny digits are kept */
    v = d.v < 0 ? -d.v : d.v;
    places = KX_DEC_SCALE;

    while (places > 2 && v % 10 == 0) {
        v /= 10;
        places--;
    }

    kx_jw_dec_str(w, d, places);
}


void
kx_sim_quote_json(kx_jw_t *w, const kx_sim_quote_t *q)
{
    char  ts[KX_SIM_TIME_FMT_MAX];

    kx_sim_time_format(q->time_ms, ts, sizeof(ts));

    kx_jw_obj_begin(w);
    kx_jw_key(w, "symbol");
    kx_jw_str(w, kx_symbol_at(q->sym)->symbol);
    kx_jw_key(w, "price");
    kx_sim_jw_price(w, q->price);
    kx_jw_key(w, "bid");
    kx_sim_jw_price(w, q->bid);
    kx_jw_key(w, "ask");
    kx_sim_jw_price(w, q->ask);
    kx_jw_key(w, "bid_size");
    kx_jw_int(w, q->bid_size);
    kx_jw_key(w, "ask_size");
    kx_jw_int(w, q->ask_size);
    kx_jw_key(w, "open");
    kx_sim_jw_price(w, q->open);
    kx_jw_key(w, "prev_close");
    kx_sim_jw_price(w, q->prev_close);
    kx_jw_key(w, "change_percent");
    kx_jw_dec_str(w, q->change_percent, 2);
    kx_jw_key(w, "timestamp");
    kx_jw_str(w, ts);
    kx_jw_obj_end(w);
}


static int
kx_sim_tick_open(kx_sim_t *sim, size_t j, int64_t now)
{
    int64_t          d, i, dt, rho, interp, fair;
    kx_sim_bar_t     bar;
    kx_sim_day_t     dd;
    kx_sim_state_t  *st;

    st = &sim->s[j];
    st->closed_day = INT64_MIN;

    /* a new minute: read its two path points and its bar */
    if (st->minute_ms == INT64_MIN || now < st->minute_ms
        || now >= st->minute_ms + KX_MS_PER_MINUTE)
    {
        d = kx_sim_day_of(sim->hours, now);

        if (kx_sim_day_init(sim, j, d, &dd) != 0) {
            return 0;                       /* not while open */
        }

        i = (now - dd.open_ms) / KX_MS_PER_MINUTE;

        st->minute_ms = dd.open_ms + i * KX_MS_PER_MINUTE;
        st->m0 = kx_sim_day_point(sim, &dd, (unsigned) i);
        st->m1 = kx_sim_day_point(sim, &dd, (unsigned) i + 1);

        kx_sim_day_bar(sim, &dd, (unsigned) i, st->m0, st->m1, &bar);
        st->low = bar.l.v;
        st->high = bar.h.v;

        /* half the minute's sigma, relative */
        st->noise_sd = (int64_t) kx_symbol_at(j)->vol_bp * 100000 * 1000
                       / (2 * (int64_t) kx_isqrt64((uint64_t) dd.minutes
                                                   * 1000000));

        if (st->day != d) {
            st->day = d;
            st->q.open.v = kx_sim_cents(dd.first);
            st->q.prev_close.v = kx_sim_cents(
                kx_sim_level(sim, j, kx_sim_prev_trading_day(sim->hours, d)));
        }
    }

    dt = now - st->last_ms;

    if (dt < 0) {
        dt = 0;
    }

    if (dt > KX_SIM_TAU_MS) {
        dt = KX_SIM_TAU_MS;
    }

    /* x' = rho x + sd sqrt(1 - rho^2) z keeps the variance at sd^2;
     * ticks come at a steady pace, so the root is usually known */
    rho = (KX_SIM_TAU_MS - dt) * 1000000 / KX_SIM_TAU_MS;

    if (dt != sim->walk_dt) {
        sim->walk_dt = dt;
        sim->walk_f = (int64_t) kx_isqrt64((uint64_t)
                                           (INT64_C(1000000000000)
                                            - rho * rho));
    }

    st->noise = st->noise * rho / 1000000
                + kx_sim_muldiv(st->noise_sd * sim->walk_f / 1000000,
                                kx_prng_normal(&sim->rng),
                                KX_PRNG_NORMAL_ONE);

    interp = st->m0 + kx_sim_muldiv(st->m1 - st->m0, now - st->minute_ms,
                                    KX_MS_PER_MINUTE);
    fair = interp + kx_sim_muldiv(interp, st->noise, KX_SIM_REL_ONE);

    /* the minute's bar bounds every price traded in it */
    if (fair < st->low) {
        fair = st->low;
    }

    if (fair > st->high) {
        fair = st->high;
    }

    st->last_ms = now;
    kx_sim_quote_make(sim, st, fair, now);

    return 1;
}


/*
 * Closed (nyse hours): the quote shows the last session's close, the
 * close of its daily bar, stamped with the closing time, once.
 */
static int
kx_sim_tick_closed(kx_sim_t *sim, size_t j, int64_t now, int64_t last,
    int64_t close, int64_t before)
{
    kx_sim_state_t  *st;

    st = &sim->s[j];
    st->last_ms = now;

    if (st->closed_day == last) {
        return 0;
    }

    st->closed_day = last;
    st->day = last;
    st->noise = 0;
    st->minute_ms = INT64_MIN;
    st->q.open.v = kx_sim_cents(kx_sim_level(sim, j, last - 1));
    st->q.prev_close.v = kx_sim_cents(kx_sim_level(sim, j, before));

    kx_sim_quote_make(sim, st, kx_sim_level(sim, j, last), close);

    return 1;
}


/*
 * bid and ask a jittered few basis points apart (1 + vol/100 bp on
 * average), at least a cent; the last trade at the fair price to the
 * cent, inside them; sizes of 1 to 20 round lots.
 */
static void
kx_sim_quote_make(kx_sim_t *sim, kx_sim_state_t *st, int64_t fair,
    int64_t time_ms)
{
    int64_t          spread, bid, ask, price, prev, jitter;
    kx_sim_quote_t  *q;

    q = &st->q;

    jitter = kx_prng_range(&sim->rng, 50, 149);
    spread = kx_sim_cents(kx_sim_muldiv(fair,
                                        (100 + kx_symbol_at(q->sym)->vol_bp)
                                        * jitter, 100000000));

    if (spread < KX_SIM_CENT) {
        spread = KX_SIM_CENT;
    }

    bid = fair - spread / 2;
    bid -= bid % KX_SIM_CENT;

    if (bid < KX_SIM_CENT) {
        bid = KX_SIM_CENT;
    }

    ask = bid + spread;
    price = kx_sim_cents(fair);

    if (price < bid) {
        price = bid;
    }

    if (price > ask) {
        price = ask;
    }

    q->bid.v = bid;
    q->ask.v = ask;
    q->price.v = price;
    q->bid_size = (1 + (int64_t) kx_prng_below(&sim->rng, 20)) * 100;
    q->ask_size = (1 + (int64_t) kx_prng_below(&sim->rng, 20)) * 100;

    /* percent to 2 places in one exact rounding: units of 0.01% */
    prev = q->prev_close.v;
    q->change_percent.v = prev > 0
        ? (int64_t) kx_i128_div_even((__int128) (price - prev) * 10000, prev)
          * KX_SIM_CENT
        : 0;

    q->time_ms = time_ms;
    q->seq++;
}


