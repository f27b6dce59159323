
/*
 * Copyright (C) Kianax
 */


#include "gateway/kx_gcra.h"


int
kx_gcra_init(kx_gcra_t *g, int64_t rate, int64_t period_us, int64_t burst)
{
    if (rate <= 0 || period_us <= 0 || burst <= 0 || period_us / rate == 0
        || burst > INT64_MAX / (period_us / rate) / 4)
    {
        return -1;
    }

    g->interval = period_us / rate;
    g->burst = burst;

    return 0;
}


void
kx_gcra_take(const kx_gcra_t *g, int64_t tat, int64_t now,
    kx_gcra_result_t *res)
{
    if (tat < now) {
        tat = now;
    }

    kx_gcra_decide(g, tat + g->interval - now, res);

    res->tat = res->allowed ? tat + g->interval : tat;
}


void
kx_gcra_decide(const kx_gcra_t *g, int64_t used, kx_gcra_result_t *res)
{
    int64_t  limit;

    /* the bucket holds `burst` requests: burst * interval of credit */
    limit = g->burst * g->interval;

    res->tat = 0;

    if (used <= limit) {
        res->allowed = 1;
        res->remaining = (limit - used) / g->interval;
        res->retry_after = 0;
        res->reset = used;
        return;
    }

    res->allowed = 0;
    res->remaining = 0;
    res->retry_after = used - limit;
    res->reset = used - g->interval;
}


uint64_t
kx_gcra_count(const kx_gcra_t *g, int64_t used, uint64_t n)
{
    int64_t   limit;
    uint64_t  fit;

    limit = g->burst * g->interval;

    if (used > limit) {
        return 0;
    }

    fit = (uint64_t) ((limit - used) / g->interval) + 1;

    return fit < n ? fit : n;
}


int64_t
kx_gcra_used_nth(const kx_gcra_t *g, int64_t used, uint64_t nth)
{
    return used + (int64_t) kx_gcra_count(g, used, nth) * g->interval;
}


int64_t
kx_gcra_lease_used(const kx_gcra_t *g, int64_t used, uint64_t nth,
    int64_t elapsed)
{
    int64_t  u;

    if (elapsed < 0) {
        elapsed = 0;
    }

    u = used + (int64_t) nth * g->interval - elapsed;

    return u < g->interval ? g->interval : u;
}
