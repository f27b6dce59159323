
/*
 * Copyright (C) Kianax
 */


#include <stdlib.h>
#include <string.h>

#include "trading/kx_position.h"

#include "kx_tap.h"
#include "kx_test_dec.h"


#define NSYM   3


static kx_position_t
position(const char *qty, const char *avg, const char *realized)
{
    kx_position_t  p;

    p.qty = dec(qty);
    p.avg_cost = dec(avg);
    p.realized_pl = dec(realized);

    return p;
}


static int
fill(kx_position_t *p, kx_dec_t *cash, kx_side_e side, const char *qty,
    const char *price, int allow_short, kx_fill_result_t *res)
{
    return kx_position_apply_fill(p, cash, side, dec(qty), dec(price),
                                  allow_short, res);
}


static int
pos_is(const kx_position_t *p, const char *qty, const char *avg,
    const char *realized, const char *name)
{
    if (ok(p->qty.v == dec(qty).v && p->avg_cost.v == dec(avg).v
           && p->realized_pl.v == dec(realized).v, "%s", name))
    {
        return 1;
    }

    diag("  got qty %" PRId64 ", avg %" PRId64 ", realized %" PRId64,
         p->qty.v, p->avg_cost.v, p->realized_pl.v);

    return 0;
}


static void
test_long(void)
{
    kx_dec_t          cash;
    kx_position_t     p;
    kx_fill_result_t  r;

    p = position("0", "0", "0");
    cash = dec("100000");

    ok(fill(&p, &cash, KX_SIDE_BUY, "10", "100", 0, &r) == KX_POSITION_OK,
       "buy 10 at 100");
    pos_is(&p, "10", "100", "0", "  10 at 100, nothing realized");
    ok(cash.v == dec("99000").v && r.value.v == dec("1000").v
       && r.cash_delta.v == dec("-1000").v && r.opened_qty.v == dec("10").v
       && r.closed_qty.v == 0, "  cash 99000; opened 10");

    fill(&p, &cash, KX_SIDE_BUY, "10", "110", 0, &r);
    pos_is(&p, "20", "105", "0", "buy 10 at 110: average 105");

    fill(&p, &cash, KX_SIDE_SELL, "5", "120", 0, &r);
    pos_is(&p, "15", "105", "75", "sell 5 at 120: realized (120-105)x5");
    ok(r.realized_pl.v == dec("75").v && r.closed_qty.v == dec("5").v
       && r.cash_delta.v == dec("600").v, "  closed 5, +600 cash");

    fill(&p, &cash, KX_SIDE_SELL, "15", "90", 0, &r);
    pos_is(&p, "0", "0", "-150",
           "sell 15 at 90: realized -225, flat, average 0");
    ok(cash.v == dec("99850").v,
       "cash 99850 = 100000 + realized -150");

    ok(fill(&p, &cash, KX_SIDE_SELL, "1", "90", 0, &r) == KX_POSITION_ESHORT
       && p.qty.v == 0 && cash.v == dec("99850").v,
       "a sell with nothing held: no short allowed, nothing changed");

    p = position("10", "100", "0");
    ok(fill(&p, &cash, KX_SIDE_SELL, "10.000001", "100", 0, &r)
       == KX_POSITION_ESHORT && p.qty.v == dec("10").v,
       "selling 0.000001 more than held is refused");

    p = position("0", "0", "0");
    cash = dec("0");
    fill(&p, &cash, KX_SIDE_BUY, "0.000003", "1.23456789", 0, &r);
    ok(p.avg_cost.v == dec("1.23456789").v,
       "a tiny buy averages to exactly its price");
    ok(r.value.v == dec("0.0000037").v && cash.v == -r.value.v,
       "  its value, 0.0000037037..., rounds half-even to 0.00000370");
}


static void
test_short(void)
{
    kx_dec_t          cash;
    kx_position_t     p;
    kx_fill_result_t  r;

    /* crossing from long to short: close 10, open 5 at the price */
    p = position("10", "100", "0");
    cash = dec("0");
    ok(fill(&p, &cash, KX_SIDE_SELL, "15", "110", 1, &r) == KX_POSITION_OK,
       "long 10 at 100, sell 15 at 110 with shorting allowed");
    pos_is(&p, "-5", "110", "100", "  short 5 at 110, realized 100");
    ok(r.closed_qty.v == dec("10").v && r.opened_qty.v == dec("5").v
       && r.realized_pl.v == dec("100").v && cash.v == dec("1650").v,
       "  split: 10 closed, 5 opened; cash +1650");

    fill(&p, &cash, KX_SIDE_SELL, "5", "120", 1, &r);
    pos_is(&p, "-10", "115", "100", "sell 5 more at 120: short 10 at 115");

    fill(&p, &cash, KX_SIDE_BUY, "4", "100", 1, &r);
    pos_is(&p, "-6", "115", "160", "cover 4 at 100: realized (115-100)x4");

    ok(fill(&p, &cash, KX_SIDE_BUY, "8", "120", 0, &r) == KX_POSITION_OK,
       "buy 8 at 120 crosses back (buys need no allow_short)");
    pos_is(&p, "2", "120", "130", "  long 2 at 120, realized -30 on 6");
    ok(r.closed_qty.v == dec("6").v && r.opened_qty.v == dec("2").v,
       "  split: 6 closed, 2 opened");

    ok(cash.v == dec("1650").v + dec("600").v - dec("400").v
                 - dec("960").v, "cash followed every fill");

    p = position("-5", "110", "0");
    ok(fill(&p, &cash, KX_SIDE_SELL, "1", "100", 0, &r) == KX_POSITION_ESHORT,
       "already short, shorting not allowed: no more selling");
    ok(fill(&p, &cash, KX_SIDE_BUY, "5", "100", 0, &r) == KX_POSITION_OK,
       "  but covering is");
    pos_is(&p, "0", "0", "50", "  flat, realized (110-100)x5");
}


static void
test_residue(void)
{
    kx_dec_t          cash, cb;
    kx_position_t     p;
    kx_fill_result_t  r;

    /* 1 at 1 and 2 at 2: average 5/3, which 8 places cannot hold */
    p = position("0", "0", "0");
    cash = dec("5");
    fill(&p, &cash, KX_SIDE_BUY, "1", "1", 0, &r);
    fill(&p, &cash, KX_SIDE_BUY, "2", "2", 0, &r);
    kx_position_cost_basis(&p, &cb);

    ok(p.avg_cost.v == dec("1.66666667").v && cb.v == dec("5.00000001").v,
       "1 at 1 + 2 at 2: average 1.66666667, cost basis 5.00000001");
    ok(r.realized_pl.v == 1 && p.realized_pl.v == 1,
       "  the 0.00000001 residue is carried into realized_pl");
    ok(cash.v + cb.v - p.realized_pl.v == dec("5").v,
       "  so cash + cost basis - realized is still the start, exactly");

    fill(&p, &cash, KX_SIDE_SELL, "3", "2", 0, &r);
    ok(p.qty.v == 0 && cash.v == dec("6").v
       && p.realized_pl.v == dec("1").v,
       "  sold at 2: realized 1 in all (the residue is given back)");
}


static void
test_values(void)
{
    kx_dec_t        v;
    kx_position_t   p;
    kx_portfolio_t  s;
    kx_holding_t    h[3];

    p = position("10", "105", "0");
    ok(kx_position_market_value(&p, dec("120"), &v) == KX_POSITION_OK
       && v.v == dec("1200").v, "long 10: market value at 120 is 1200");
    ok(kx_position_unrealized_pl(&p, dec("120"), &v) == KX_POSITION_OK
       && v.v == dec("150").v, "  unrealized (120-105)x10 = 150");
    ok(kx_position_unrealized_pl(&p, dec("100"), &v) == KX_POSITION_OK
       && v.v == dec("-50").v, "  at 100: -50");

    p = position("-5", "110", "0");
    ok(kx_position_market_value(&p, dec("100"), &v) == KX_POSITION_OK
       && v.v == dec("-500").v, "short 5: market value at 100 is -500");
    ok(kx_position_unrealized_pl(&p, dec("100"), &v) == KX_POSITION_OK
       && v.v == dec("50").v, "  unrealized (110-100)x5 = 50");

    /* values round half-even to the last unit */
    p = position("0.333333", "3", "0");
    ok(kx_position_market_value(&p, dec("0.00000001"), &v) == KX_POSITION_OK
       && v.v == 0, "0.333333 x 0.00000001 rounds to 0");
    p = position("0.5", "3", "0");
    ok(kx_position_market_value(&p, dec("0.00000001"), &v) == KX_POSITION_OK
       && v.v == 0, "0.5 unit rounds to even: 0");
    p = position("1.5", "3", "0");
    ok(kx_position_market_value(&p, dec("0.00000001"), &v) == KX_POSITION_OK
       && v.v == 2, "1.5 units round to even: 2");

    h[0].pos = position("10", "100", "7");
    h[0].price = dec("110");
    h[1].pos = position("-5", "50", "3");
    h[1].price = dec("0");                  /* no price: at cost */
    h[2].pos = position("0.5", "20", "0");
    h[2].price = dec("19.99");

    ok(kx_portfolio_summary(dec("1000"), dec("10"), h, 3, &s)
       == KX_POSITION_OK, "portfolio summary");
    ok(s.cash_balance.v == dec("1000").v
       && s.positions_value.v == dec("859.995").v
       && s.total_value.v == dec("1859.995").v
       && s.realized_pl.v == dec("10").v
       && s.unrealized_pl.v == dec("99.995").v,
       "  cash 1000, positions 1100 - 250 + 9.995, unrealized 100 + 0 - "
       "0.005, realized as given");

    ok(kx_portfolio_summary(dec("5"), dec("0"), NULL, 0, &s) == KX_POSITION_OK
       && s.positions_value.v == 0 && s.total_value.v == dec("5").v,
       "no positions: total is the cash");
}


static void
test_errors(void)
{
    kx_dec_t       cash;
    kx_position_t  p, before;

    p = position("10", "100", "0");
    before = p;
    cash = dec("100");

    ok(fill(&p, &cash, KX_SIDE_BUY, "0", "100", 0, NULL)
       == KX_POSITION_EINVAL, "zero quantity");
    ok(fill(&p, &cash, KX_SIDE_BUY, "-1", "100", 0, NULL)
       == KX_POSITION_EINVAL, "negative quantity");
    ok(fill(&p, &cash, KX_SIDE_BUY, "1", "0", 0, NULL) == KX_POSITION_EINVAL,
       "zero price");
    ok(kx_position_apply_fill(&p, &cash, (kx_side_e) 7, dec("1"),
                              dec("1"), 0, NULL) == KX_POSITION_EINVAL,
       "unknown side");

    cash.v = KX_DEC_MIN_RAW + 1;
    ok(fill(&p, &cash, KX_SIDE_BUY, "1", "100", 0, NULL)
       == KX_POSITION_ERANGE, "cash that would leave the range");
    ok(fill(&p, &cash, KX_SIDE_BUY, "1000000", "1000000", 0, NULL)
       == KX_POSITION_ERANGE, "a fill worth more than the range");
    ok(memcmp(&p, &before, sizeof(p)) == 0 && cash.v == KX_DEC_MIN_RAW + 1,
       "failed fills change nothing");
}


/* splitmix64: deterministic, so a failure replays */
static uint64_t  rng_state;

static uint64_t
rng(void)
{
    uint64_t  z;

    z = (rng_state += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);

    return z ^ (z >> 31);
}


static int64_t
rng_range(int64_t lo, int64_t hi)
{
    return lo + (int64_t) (rng() % (uint64_t) (hi - lo + 1));
}


/* a price of 4 places (as quotes have), sometimes 8 */
static kx_dec_t
rng_price(int64_t max_dollars)
{
    kx_dec_t  d;

    if (rng() % 10 == 0) {
        d.v = rng_range(1, max_dollars * KX_DEC_ONE);

    } else {
        d.v = rng_range(1, max_dollars * 10000) * 10000;
    }

    return d;
}


/* a quantity of 6 places, often whole, sometimes tiny */
static kx_dec_t
rng_qty(int64_t max_shares)
{
    kx_dec_t  d;

    switch (rng() % 4) {
    case 0:
        d.v = rng_range(1, max_shares) * KX_DEC_ONE;
        break;
    case 1:
        d.v = rng_range(1, 1000) * 100;
        break;
    default:
        d.v = rng_range(1, max_shares * 1000000) * 100;
    }

    return d;
}


typedef struct {
    int64_t   fills, refused, crossings, flats, shorts, range_errors;
    int64_t   invariant_bad, residue_bad, realized_bad, shape_bad;
    int64_t   liquidation_bad;
    kx_dec_t  max_abs_cash;
} replay_t;


/* cash + SUM(qty x avg_cost) - SUM(realized) - start, exactly */
static int64_t
imbalance(kx_dec_t cash, const kx_position_t *pos, kx_dec_t start)
{
    int       i;
    int64_t   v;
    kx_dec_t  cb;

    v = cash.v - start.v;

    for (i = 0; i < NSYM; i++) {
        if (kx_position_cost_basis(&pos[i], &cb) != KX_POSITION_OK) {
            return INT64_MAX;
        }

        v += cb.v - pos[i].realized_pl.v;
    }

    return v;
}


static int64_t
mag(int64_t v)
{
    return v < 0 ? -v : v;
}


/*
 * Checks one fill against what average-cost accounting says, in exact
 * 128-bit arithmetic: a reducing part realizes (price - avg) x qty
 * (reversed for a short) within the 3 half-unit roundings of the
 * amounts; an adding fill's residue is at most half a unit of avg_cost
 * per share, plus those roundings.
 */
static void
check_fill(replay_t *st, const kx_position_t *before,
    const kx_position_t *after, kx_side_e side, kx_dec_t qty,
    kx_dec_t price, const kx_fill_result_t *r)
{
    int64_t   sign;
    __int128  want, got, slack;

    if ((after->qty.v == 0) != (after->avg_cost.v == 0)
        || after->avg_cost.v < 0
        || r->closed_qty.v + r->opened_qty.v != qty.v)
    {
        st->shape_bad++;
    }

    if (r->closed_qty.v == 0) {
        /* |residue| <= |qty after| x 0.5e-8 + 1.5 units */
        if (2 * (__int128) mag(r->realized_pl.v) * KX_DEC_ONE
            > (__int128) mag(after->qty.v) + 3 * (__int128) KX_DEC_ONE)
        {
            st->residue_bad++;
        }

        return;
    }

    /* closing a long by a sell gains price - avg; a short, avg - price */
    sign = (side == KX_SIDE_SELL) ? 1 : -1;
    want = (__int128) sign * (price.v - before->avg_cost.v)
           * r->closed_qty.v;
    got = (__int128) r->realized_pl.v * KX_DEC_ONE;
    slack = 3 * (__int128) KX_DEC_ONE / 2;

    if (r->opened_qty.v != 0) {
        /* the opened part is at price: its cost basis rounds once more */
        slack += (__int128) KX_DEC_ONE / 2;
    }

    if (got - want > slack || want - got > slack) {
        st->realized_bad++;
    }
}


static void
replay(replay_t *st, int sequences, int64_t max_cash, int64_t max_price,
    int64_t max_shares)
{
    int               s, n, steps, i, k, rc, allow_short;
    kx_dec_t          start, cash, qty, price;
    kx_side_e         side;
    kx_position_t     pos[NSYM], before;
    kx_fill_result_t  r;

    for (s = 0; s < sequences; s++) {
        start.v = rng_range(1000, max_cash) * KX_DEC_ONE
                  + rng_range(0, 99) * 1000000;
        cash = start;
        allow_short = (int) (rng() % 2);
        steps = (int) rng_range(50, 300);
        memset(pos, 0, sizeof(pos));

        for (n = 0; n < steps; n++) {
            k = (int) (rng() % NSYM);
            side = (rng() % 2) ? KX_SIDE_BUY : KX_SIDE_SELL;
            price = rng_price(max_price);
            qty = rng_qty(max_shares);

            /* hit zero exactly, and cross it, often */
            if (pos[k].qty.v != 0 && rng() % 4 == 0) {
                side = pos[k].qty.v > 0 ? KX_SIDE_SELL : KX_SIDE_BUY;
                qty.v = mag(pos[k].qty.v);

                if (rng() % 2) {
                    qty.v += rng_range(1, 1000) * 100;
                }
            }

            before = pos[k];
            rc = kx_position_apply_fill(&pos[k], &cash, side, qty, price,
                                        allow_short, &r);

            if (rc == KX_POSITION_ESHORT) {
                st->refused++;

                if (memcmp(&before, &pos[k], sizeof(before)) != 0) {
                    st->shape_bad++;
                }

                continue;
            }

            if (rc != KX_POSITION_OK) {
                st->range_errors++;
                continue;
            }

            st->fills++;
            st->crossings += (r.closed_qty.v != 0 && r.opened_qty.v != 0);
            st->flats += (pos[k].qty.v == 0);
            st->shorts += (pos[k].qty.v < 0);

            if (mag(cash.v) > st->max_abs_cash.v) {
                st->max_abs_cash.v = mag(cash.v);
            }

            check_fill(st, &before, &pos[k], side, qty, price, &r);

            if (imbalance(cash, pos, start) != 0) {
                if (st->invariant_bad++ == 0) {
                    diag("  sequence %d step %d: off by %" PRId64, s, n,
                         imbalance(cash, pos, start));
                }
            }
        }

        /* liquidate: flat everywhere, cash is start + realized exactly */
        for (i = 0; i < NSYM; i++) {
            if (pos[i].qty.v != 0) {
                qty.v = mag(pos[i].qty.v);
                side = pos[i].qty.v > 0 ? KX_SIDE_SELL : KX_SIDE_BUY;

                if (kx_position_apply_fill(&pos[i], &cash, side, qty,
                                           rng_price(max_price), 0, &r)
                    != KX_POSITION_OK)
                {
                    st->range_errors++;
                }
            }
        }

        for (i = 0; i < NSYM; i++) {
            cash.v -= pos[i].realized_pl.v;
            st->liquidation_bad += (pos[i].qty.v != 0
                                    || pos[i].avg_cost.v != 0);
        }

        st->liquidation_bad += (cash.v != start.v);
    }
}


static void
test_replay(const char *what, int sequences, int64_t max_cash,
    int64_t max_price, int64_t max_shares)
{
    char      buf[KX_DEC_FMT_MAX];
    replay_t  st;

    memset(&st, 0, sizeof(st));
    replay(&st, sequences, max_cash, max_price, max_shares);

    kx_dec_format(st.max_abs_cash, 2, buf, sizeof(buf));
    diag("%s: %d sequences, %" PRId64 " fills (%" PRId64 " crossing zero, %"
         PRId64 " to flat, %" PRId64 " short), %" PRId64 " refused shorts,"
         " largest |cash| %s", what, sequences, st.fills, st.crossings,
         st.flats, st.shorts, st.refused, buf);

    ok(st.fills > 50 * sequences && st.crossings > sequences
       && st.flats > sequences && st.shorts > sequences
       && st.refused > sequences,
       "%s: the replay exercised opens, adds, reductions, flats, crossings, "
       "shorts and refusals", what);
    ok(st.range_errors == 0, "%s: no overflow", what);
    ok(st.invariant_bad == 0,
       "%s: cash + SUM(qty x avg_cost) - realized_pl == starting cash "
       "after every fill, exactly", what);
    ok(st.liquidation_bad == 0,
       "%s: liquidated, every position is flat and cash == start + "
       "realized_pl exactly", what);
    ok(st.realized_bad == 0,
       "%s: reductions realize (price - avg_cost) x qty within 2 units",
       what);
    ok(st.residue_bad == 0,
       "%s: an adding fill's residue is at most qty x 0.5e-8 + 1.5 units",
       what);
    ok(st.shape_bad == 0,
       "%s: avg_cost 0 iff flat; closed + opened = qty; refusals change "
       "nothing", what);
}


int
main(void)
{
    test_long();
    test_short();
    test_residue();
    test_values();
    test_errors();

    rng_state = UINT64_C(20240521);

    /* a retail account: up to $10M, prices to $5000, up to 1000 shares */
    test_replay("retail", 10000, 10000000, 5000, 1000);

    /* a large one: up to $1B, prices to $2000, up to 20000 shares */
    test_replay("large", 1000, 1000000000, 2000, 20000);

    return kx_tap_done();
}
