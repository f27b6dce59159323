
/*
 * Copyright (C) Kianax
 */


#ifndef _KX_PRNG_H_INCLUDED_
#define _KX_PRNG_H_INCLUDED_


#include <stdint.h>


/*
 * Deterministic pseudo-random numbers for the simulated market: the
 * same seed gives the same numbers on every platform and compiler,
 * because everything here is integer arithmetic on fixed-width types.
 * Not for secrets.
 *
 * kx_prng_t is xoshiro256** (Blackman and Vigna), seeded through
 * splitmix64 so that any 64-bit seed, 0 included, gives a good state.
 * kx_prng_key() is splitmix64's finalizer applied to a tuple: a
 * counter-based generator, so a value tied to (seed, symbol, time) is
 * found without replaying everything that came before it.
 */

typedef struct {
    uint64_t        s[4];
} kx_prng_t;


/* kx_prng_normal() returns standard normal deviates in these units */
#define KX_PRNG_NORMAL_ONE   INT64_C(1000000)
/* ... and never beyond this magnitude (6 sigma) */
#define KX_PRNG_NORMAL_MAX   (6 * KX_PRNG_NORMAL_ONE)


void kx_prng_seed(kx_prng_t *r, uint64_t seed);
uint64_t kx_prng_next(kx_prng_t *r);

/* uniform in [0, n), without modulo bias; 0 when n is 0 */
uint64_t kx_prng_below(kx_prng_t *r, uint64_t n);

/* uniform in [lo, hi], both inclusive; lo when hi < lo */
int64_t kx_prng_range(kx_prng_t *r, int64_t lo, int64_t hi);

/*
 * Approximately standard normal, times KX_PRNG_NORMAL_ONE: the
 * Irwin-Hall sum of twelve uniforms minus six.  Its variance is one,
 * it is symmetric, and its tails stop at six sigma, which suits prices
 * (no absurd jumps) and needs no floating point.
 */
int64_t kx_prng_normal(kx_prng_t *r);

/* the same law from the splitmix64 stream of one key: no state kept */
int64_t kx_prng_normal_at(uint64_t key);

/* splitmix64's output function: a bijective mix of 64 bits */
uint64_t kx_prng_mix(uint64_t x);

/* a well-mixed key for the tuple (seed, tag, a, b) */
uint64_t kx_prng_key(uint64_t seed, uint64_t tag, uint64_t a, uint64_t b);


#endif /* _KX_PRNG_H_INCLUDED_ */
