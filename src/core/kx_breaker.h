
/*
 * Copyright (C) Kianax
 */


#ifndef _KX_BREAKER_H_INCLUDED_
#define _KX_BREAKER_H_INCLUDED_


#include <stdint.h>


/*
 * A circuit breaker for calls to one upstream ("Design for Failure"), as
 * pure logic over integer millisecond timestamps from a monotonic clock:
 * the caller passes the time, so tests drive it exactly.
 *
 *   closed     every call goes through.  Outcomes are counted in a
 *              sliding window of `buckets` buckets covering `window_ms`.
 *              When a failure is recorded and the window holds at least
 *              `min_requests` calls of which at least `failure_pct`
 *              percent failed, the breaker opens.
 *   open       calls are denied (fail fast, no network) until
 *              `cooldown_ms` passed since it opened; then it is half-open.
 *   half-open  at most `probes` calls at a time go through as probes.
 *              The first outcome decides: a success closes the breaker
 *              (with an empty window), a failure opens it again for
 *              another cool-down.
 *
 * Every call that kx_breaker_allow() let through must end with exactly
 * one kx_breaker_record() (success or failure) or kx_breaker_release()
 * (no verdict: canceled, or an answer that says nothing about the
 * upstream's health, such as 429), so that half-open probe slots are
 * given back.  Outcomes that arrive while the breaker is open belong to
 * calls let through before it opened and are ignored.
 */


#define KX_BREAKER_BUCKETS_MAX  60


typedef enum {
    KX_BREAKER_CLOSED = 0,
    KX_BREAKER_OPEN,
    KX_BREAKER_HALF_OPEN
} kx_breaker_state_e;


typedef enum {
    KX_BREAKER_DENY = 0,        /* open, or half-open with probes out */
    KX_BREAKER_ALLOW,           /* closed: an ordinary call */
    KX_BREAKER_PROBE            /* half-open: a trial call */
} kx_breaker_verdict_e;


typedef struct {
    int64_t                 window_ms;      /* 10000 */
    unsigned                buckets;        /* 10, 1..BUCKETS_MAX */
    unsigned                min_requests;   /* 5, at least 1 */
    unsigned                failure_pct;    /* 50, 1..100 */
    int64_t                 cooldown_ms;    /* 5000 */
    unsigned                probes;         /* 1, at least 1 */
} kx_breaker_conf_t;


typedef struct {
    int64_t                 epoch;          /* time / bucket_ms */
    uint32_t                calls;
    uint32_t                failures;
} kx_breaker_bucket_t;


typedef struct {
    kx_breaker_conf_t       conf;
    int64_t                 bucket_ms;
    kx_breaker_state_e      state;
    int64_t                 opened_at;
    unsigned                probes_out;     /* probes in flight */
    uint32_t                opens;          /* times it opened */
    kx_breaker_bucket_t     bucket[KX_BREAKER_BUCKETS_MAX];
} kx_breaker_t;


void kx_breaker_conf_default(kx_breaker_conf_t *conf);

/* 0, or -1 for an invalid configuration (b is then unusable) */
int kx_breaker_init(kx_breaker_t *b, const kx_breaker_conf_t *conf);

kx_breaker_verdict_e kx_breaker_allow(kx_breaker_t *b, int64_t now_ms);
void kx_breaker_record(kx_breaker_t *b, int64_t now_ms, int ok);
void kx_breaker_release(kx_breaker_t *b);

/* the state a call at now_ms would meet; changes nothing */
kx_breaker_state_e kx_breaker_state(const kx_breaker_t *b, int64_t now_ms);

/* calls and failures in the window at now_ms (closed state) */
void kx_breaker_counts(const kx_breaker_t *b, int64_t now_ms,
    uint32_t *calls, uint32_t *failures);

/* ms until an open breaker lets a probe through; 0 when not open */
int64_t kx_breaker_retry_in(const kx_breaker_t *b, int64_t now_ms);

const char *kx_breaker_state_name(kx_breaker_state_e state);


#endif /* _KX_BREAKER_H_INCLUDED_ */
