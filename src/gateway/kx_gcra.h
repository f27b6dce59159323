
/*
 * Copyright (C) Kianax
 */


#ifndef _KX_GCRA_H_INCLUDED_
#define _KX_GCRA_H_INCLUDED_


#include <stdint.h>


/*
 * The generic cell rate algorithm: a token bucket kept as one number,
 * the theoretical arrival time (TAT) of the next request.  Unlike fixed
 * windows it has no burst at a window's edge: at most `burst` requests
 * pass at once, then one per `interval`.  Times in microseconds.
 */

typedef struct {
    int64_t     interval;       /* period / rate: one request's cost */
    int64_t     burst;          /* requests allowed at once, >= 1 */
} kx_gcra_t;


typedef struct {
    int         allowed;
    int64_t     tat;            /* the new TAT to store (when allowed) */
    int64_t     remaining;      /* requests that would still pass now */
    int64_t     retry_after;    /* until the next request may pass */
    int64_t     reset;          /* until the bucket is full again */
} kx_gcra_result_t;


/* rate requests per period_us, e.g. 100 per 60 s: 100, 60000000 */
int kx_gcra_init(kx_gcra_t *g, int64_t rate, int64_t period_us,
    int64_t burst);

/* tat: the stored TAT, or 0 for a key seen first */
void kx_gcra_take(const kx_gcra_t *g, int64_t tat, int64_t now,
    kx_gcra_result_t *res);

/*
 * The same decision from used = max(tat, now) + interval - now, the one
 * number a store that keeps the TAT itself (the Redis script) returns;
 * res->tat is not set.
 */
void kx_gcra_decide(const kx_gcra_t *g, int64_t used, kx_gcra_result_t *res);

/*
 * Several requests of one key taken back to back, the first seeing used:
 * the used that the nth (from 0) sees.  Each allowed one before it spent
 * an interval, a refused one nothing (and after one refusal all are).
 * kx_gcra_count() of n such requests is how many pass.
 */
int64_t kx_gcra_used_nth(const kx_gcra_t *g, int64_t used, uint64_t nth);
uint64_t kx_gcra_count(const kx_gcra_t *g, int64_t used, uint64_t n);

/*
 * A lease: tokens a store handed out ahead, spent later without asking.
 * used: what the lease's first token saw when it was granted; the used
 * its nth token (from 0) sees `elapsed` microseconds after the grant, for
 * the RateLimit-* headers: the tokens before it are spent, the bucket has
 * refilled meanwhile, and a bucket never holds more than full.
 */
int64_t kx_gcra_lease_used(const kx_gcra_t *g, int64_t used, uint64_t nth,
    int64_t elapsed);


#endif /* _KX_GCRA_H_INCLUDED_ */
