
/*
 * Copyright (C) Kianax
 */


#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/kx_jwt.h"


struct kx_jwt_centry_s {
    unsigned          refs;
    size_t            len;
    kx_json_doc_t    *doc;
    int64_t           exp;          /* the time claims, as verified */
    int64_t           nbf;
    unsigned          has_exp:1;
    unsigned          has_nbf:1;
    const char       *sub;
    size_t            sub_len;
    char              kid[KX_JWT_KID_MAX + 1];
    char              token[1];
};


struct kx_jwt_cache_s {
    size_t            nslots;
    uint64_t          hits;
    uint64_t          misses;
    kx_jwt_centry_t  *slots[1];
};


/*
 * Picks the slot only: a hit still compares the whole token.  The last
 * 16 bytes are signature bytes, already uniform, so two word loads do
 * what a byte loop over the ~250 bytes of a token did.
 */
static uint64_t
kx_jwt_hash(const char *s, size_t len)
{
    size_t    i;
    uint64_t  h, a, b;

    if (len >= 16) {
        memcpy(&a, s + len - 16, 8);
        memcpy(&b, s + len - 8, 8);
        h = (a ^ (b * 0x9e3779b97f4a7c15ULL) ^ len) * 0xff51afd7ed558ccdULL;
        return h ^ (h >> 32);
    }

    /* FNV-1a */
    h = 0xcbf29ce484222325ULL;

    for (i = 0; i < len; i++) {
        h ^= (unsigned char) s[i];
        h *= 0x100000001b3ULL;
    }

    return h;
}


kx_jwt_cache_t *
kx_jwt_cache_create(size_t slots)
{
    kx_jwt_cache_t  *c;

    if (slots == 0) {
        return NULL;
    }

    c = calloc(1, sizeof(kx_jwt_cache_t)
                  + (slots - 1) * sizeof(kx_jwt_centry_t *));
    if (c == NULL) {
        return NULL;
    }

    c->nslots = slots;

    return c;
}


void
kx_jwt_cache_destroy(kx_jwt_cache_t *cache)
{
    size_t  i;

    if (cache == NULL) {
        return;
    }

    for (i = 0; i < cache->nslots; i++) {
        if (cache->slots[i]) {
            kx_jwt_centry_release(cache->slots[i]);
        }
    }

    free(cache);
}


void
kx_jwt_centry_release(kx_jwt_centry_t *e)
{
    if (--e->refs == 0) {
        kx_json_free(e->doc);
        free(e);
    }
}


int
kx_jwt_verify_cached(const kx_jwt_keyset_t *ks, kx_jwt_cache_t *cache,
    const char *token, size_t len, const kx_jwt_verify_t *opt,
    kx_jwt_claims_t *out)
{
    int               rc;
    size_t            slot, max;
    kx_jwt_centry_t  *e;

    if (cache == NULL) {
        return kx_jwt_verify(ks, token, len, opt, out);
    }

    max = opt->max_len ? opt->max_len : 8192;
    slot = kx_jwt_hash(token, len) % cache->nslots;
    e = cache->slots[slot];

    if (e && e->len == len && len <= max
        && memcmp(e->token, token, len) == 0)
    {
        cache->hits++;

        memset(out, 0, sizeof(kx_jwt_claims_t));
        out->entry = e;
        out->doc = e->doc;
        out->claims = kx_json_root(e->doc);
        memcpy(out->kid, e->kid, sizeof(e->kid));
        e->refs++;

        if (opt->issuer || opt->audience) {
            rc = kx_jwt_check_claims(out, opt);

        } else {
            /* what kx_jwt_check_claims() would answer, without a lookup
             * in the claims */
            out->exp = e->exp;
            out->nbf = e->nbf;
            out->has_exp = e->has_exp;
            out->has_nbf = e->has_nbf;
            rc = kx_jwt_check_times(out, opt);
            out->sub = e->sub;
            out->sub_len = e->sub_len;
        }

        if (rc != KX_JWT_OK) {
            kx_jwt_claims_free(out);
        }

        return rc;
    }

    cache->misses++;

    rc = kx_jwt_verify(ks, token, len, opt, out);
    if (rc != KX_JWT_OK) {
        return rc;
    }

    e = malloc(offsetof(kx_jwt_centry_t, token) + len);
    if (e == NULL) {
        return KX_JWT_OK;       /* verified all the same; just not kept */
    }

    /* the cache and the caller share the claims */
    e->refs = 2;
    e->len = len;
    e->doc = out->doc;
    e->exp = out->exp;
    e->nbf = out->nbf;
    e->has_exp = out->has_exp;
    e->has_nbf = out->has_nbf;
    e->sub = out->sub;
    e->sub_len = out->sub_len;
    memcpy(e->kid, out->kid, sizeof(e->kid));
    memcpy(e->token, token, len);

    out->entry = e;

    if (cache->slots[slot]) {
        kx_jwt_centry_release(cache->slots[slot]);
    }

    cache->slots[slot] = e;

    return KX_JWT_OK;
}


void
kx_jwt_cache_stats(kx_jwt_cache_t *cache, uint64_t *hits, uint64_t *misses)
{
    *hits = cache ? cache->hits : 0;
    *misses = cache ? cache->misses : 0;
}
