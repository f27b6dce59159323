
/*
 * Copyright (C) Kianax
 */


#include <string.h>

#include "kx_breaker.h"


static int64_t kx_breaker_epoch(const kx_breaker_t *b, int64_t now_ms);
static void kx_breaker_open(kx_breaker_t *b, int64_t now_ms);
static void kx_breaker_close(kx_breaker_t *b);


void
kx_breaker_conf_default(kx_breaker_conf_t *conf)
{
    conf->window_ms = 10000;
    conf->buckets = 10;
    conf->min_requests = 5;
    conf->failure_pct = 50;
    conf->cooldown_ms = 5000;
    conf->probes = 1;
}


int
kx_breaker_init(kx_breaker_t *b, const kx_breaker_conf_t *conf)
{
    memset(b, 0, sizeof(kx_breaker_t));

    if (conf->buckets == 0 || conf->buckets > KX_BREAKER_BUCKETS_MAX
        || conf->window_ms < (int64_t) conf->buckets
        || conf->min_requests == 0
        || conf->failure_pct == 0 || conf->failure_pct > 100
        || conf->cooldown_ms < 0
        || conf->probes == 0)
    {
        return -1;
    }

    b->conf = *conf;
    b->bucket_ms = conf->window_ms / conf->buckets;
    b->state = KX_BREAKER_CLOSED;

    kx_breaker_close(b);

    return 0;
}


kx_breaker_verdict_e
kx_breaker_allow(kx_breaker_t *b, int64_t now_ms)
{
    switch (b->state) {

    case KX_BREAKER_CLOSED:
        return KX_BREAKER_ALLOW;

    case KX_BREAKER_OPEN:
        if (now_ms - b->opened_at < b->conf.cooldown_ms) {
            return KX_BREAKER_DENY;
        }

        b->state = KX_BREAKER_HALF_OPEN;
        b->probes_out = 0;

        /* fall through */

    default: /* KX_BREAKER_HALF_OPEN */
        if (b->probes_out >= b->conf.probes) {
            return KX_BREAKER_DENY;
        }

        b->probes_out++;

        return KX_BREAKER_PROBE;
    }
}


void
kx_breaker_record(kx_breaker_t *b, int64_t now_ms, int ok)
{
    int64_t               epoch;
    uint32_t              calls, failures;
    kx_breaker_bucket_t  *bk;

    switch (b->state) {

    case KX_BREAKER_OPEN:
        /* a call let through before the breaker opened */
        return;

    case KX_BREAKER_HALF_OPEN:
        if (ok) {
            kx_breaker_close(b);

        } else {
            kx_breaker_open(b, now_ms);
        }

        return;

    default: /* KX_BREAKER_CLOSED */
        break;
    }

    epoch = kx_breaker_epoch(b, now_ms);
    bk = &b->bucket[((epoch % b->conf.buckets) + b->conf.buckets)
                    % b->conf.buckets];

    if (bk->epoch != epoch) {
        bk->epoch = epoch;
        bk->calls = 0;
        bk->failures = 0;
    }

    if (bk->calls < UINT32_MAX) {
        bk->calls++;

        if (!ok) {
            bk->failures++;
        }
    }

    if (ok) {
        return;
    }

    kx_breaker_counts(b, now_ms, &calls, &failures);

    if (calls >= b->conf.min_requests
        && (uint64_t) failures * 100
           >= (uint64_t) b->conf.failure_pct * calls)
    {
        kx_breaker_open(b, now_ms);
    }
}


void
kx_breaker_release(kx_breaker_t *b)
{
    if (b->state == KX_BREAKER_HALF_OPEN && b->probes_out > 0) {
        b->probes_out--;
    }
}


kx_breaker_state_e
kx_breaker_state(const kx_breaker_t *b, int64_t now_ms)
{
    if (b->state == KX_BREAKER_OPEN
        && now_ms - b->opened_at >= b->conf.cooldown_ms)
    {
        return KX_BREAKER_HALF_OPEN;
    }

    return b->state;
}


void
kx_breaker_counts(const kx_breaker_t *b, int64_t now_ms, uint32_t *calls,
    uint32_t *failures)
{
    int64_t                     epoch;
    uint64_t                    c, f;
    unsigned                    i;
    const kx_breaker_bucket_t  *bk;

    epoch = kx_breaker_epoch(b, now_ms);
    c = 0;
    f = 0;

    for (i = 0; i < b->conf.buckets; i++) {
        bk = &b->bucket[i];

        if (bk->epoch <= epoch && bk->epoch > epoch - b->conf.buckets) {
            c += bk->calls;
            f += bk->failures;
        }
    }

    *calls = c > UINT32_MAX ? UINT32_MAX : (uint32_t) c;
    *failures = f > UINT32_MAX ? UINT32_MAX : (uint32_t) f;
}


int64_t
kx_breaker_retry_in(const kx_breaker_t *b, int64_t now_ms)
{
    int64_t  left;

    if (b->state != KX_BREAKER_OPEN) {
        return 0;
    }

    left = b->opened_at + b->conf.cooldown_ms - now_ms;

    return left > 0 ? left : 0;
}


const char *
kx_breaker_state_name(kx_breaker_state_e state)
{
    switch (state) {
    case KX_BREAKER_CLOSED:
        return "closed";
    case KX_BREAKER_OPEN:
        return "open";
    case KX_BREAKER_HALF_OPEN:
        return "half_open";
    }

    return "unknown";
}


/* the bucket period of a time; floor division, as times may be negative */

static int64_t
kx_breaker_epoch(const kx_breaker_t *b, int64_t now_ms)
{
    int64_t  q;

    q = now_ms / b->bucket_ms;

    if (now_ms % b->bucket_ms < 0) {
        q--;
    }

    return q;
}


static void
kx_breaker_open(kx_breaker_t *b, int64_t now_ms)
{
    b->state = KX_BREAKER_OPEN;
    b->opened_at = now_ms;
    b->probes_out = 0;

    if (b->opens < UINT32_MAX) {
        b->opens++;
    }
}


/* closed with an empty window: old failures must not reopen it at once */

static void
kx_breaker_close(kx_breaker_t *b)
{
    unsigned  i;

    b->state = KX_BREAKER_CLOSED;
    b->probes_out = 0;

    for (i = 0; i < KX_BREAKER_BUCKETS_MAX; i++) {
        b->bucket[i].epoch = INT64_MIN;
        b->bucket[i].calls = 0;
        b->bucket[i].failures = 0;
    }
}
