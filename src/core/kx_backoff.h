
/*
 * Copyright (C) Kianax
 */


#ifndef _KX_BACKOFF_H_INCLUDED_
#define _KX_BACKOFF_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


/*
 * Delays between retries, in integer milliseconds.  Randomness comes from
 * the caller (one uniformly random 32-bit value per delay), so that tests
 * are deterministic and the library keeps no state.
 *
 * Full jitter:          uniform in [0, min(cap, base * 2^(attempt-1))]
 * Decorrelated jitter:  min(cap, uniform in [base, 3 * prev])
 *
 * (The AWS architecture blog's "Exponential Backoff And Jitter".)  Both
 * spread the retries of many clients that failed at once, so that they
 * do not return at once.  Delays are capped at KX_BACKOFF_MAX_MS.
 */


#define KX_BACKOFF_MAX_MS  INT64_C(2147483647)    /* 24.8 days */


/* attempt 1 is the first retry; base <= 0 gives 0 */
int64_t kx_backoff_ceiling(int64_t base_ms, int64_t cap_ms,
    unsigned attempt);
int64_t kx_backoff_full(int64_t base_ms, int64_t cap_ms, unsigned attempt,
    uint32_t rnd);

/* prev_ms: the previous delay, or 0 before the first retry */
int64_t kx_backoff_decorrelated(int64_t base_ms, int64_t cap_ms,
    int64_t prev_ms, uint32_t rnd);

/* uniform in [lo, hi] from rnd (lo <= hi, hi - lo < 2^32 assumed) */
int64_t kx_backoff_uniform(int64_t lo, int64_t hi, uint32_t rnd);


/*
 * Retry-After (RFC 9110 10.2.3): delta-seconds ("120") or an HTTP-date
 * ("Sun, 06 Nov 1994 08:49:37 GMT"; the obsolete RFC 850 and asctime
 * forms are read too).  now_ms is the wall clock (Unix epoch, ms) for
 * dates; a date in the past gives 0.  The delay is capped at cap_ms.
 * Returns 0 and sets *delay_ms, or -1 for a value that is neither form.
 */
int kx_retry_after_parse(const char *s, size_t len, int64_t now_ms,
    int64_t cap_ms, int64_t *delay_ms);

/* an HTTP-date in any of its three forms, as Unix seconds; 0 or -1 */
int kx_http_date_parse(const char *s, size_t len, int64_t *epoch_s);


#endif /* _KX_BACKOFF_H_INCLUDED_ */
