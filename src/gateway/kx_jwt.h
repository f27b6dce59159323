
/*
 * Copyright (C) Kianax
 */


#ifndef _KX_JWT_H_INCLUDED_
#define _KX_JWT_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include "core/kx_json.h"


/*
 * JSON Web Token verification (RFC 7519) with libjwt, hardened:
 *
 *   - every key carries an explicit allow-list of algorithms, so a token
 *     cannot pick "none", nor use an RSA public key as an HMAC secret;
 *   - the key is chosen by the header's "kid" (a token without one may
 *     use only the key set's default key);
 *   - exp and nbf are checked with a leeway, iss and aud when required;
 *   - the claims are re-read with our strict JSON parser (one value per
 *     key), which is what callers see.
 */


#define KX_JWT_KID_MAX  64


typedef enum {
    KX_JWT_OK = 0,
    KX_JWT_EMALFORMED,      /* not three base64url parts of JSON */
    KX_JWT_ETOOLARGE,
    KX_JWT_EALG,            /* algorithm not allowed for the key */
    KX_JWT_EKID,            /* no key with that kid */
    KX_JWT_ESIGNATURE,
    KX_JWT_EEXPIRED,
    KX_JWT_ENOTYET,         /* nbf in the future */
    KX_JWT_EISSUER,
    KX_JWT_EAUDIENCE,
    KX_JWT_ECLAIMS,         /* exp, nbf, iat or sub of the wrong type */
    KX_JWT_ENOMEM,
    KX_JWT_EKEY             /* a key that cannot be used */
} kx_jwt_rc_e;


typedef struct {
    char            kid[KX_JWT_KID_MAX + 1];
    unsigned        algs;           /* mask of 1 << jwt_alg_t */
    unsigned char  *key;            /* HMAC secret or public key PEM */
    size_t          key_len;
} kx_jwt_key_t;


typedef struct {
    kx_jwt_key_t   *keys;
    size_t          nkeys;
    size_t          nalloc;
} kx_jwt_keyset_t;


typedef struct {
    int64_t         now;            /* seconds since the epoch */
    int64_t         leeway;         /* seconds */
    size_t          max_len;        /* of the token; 0: 8192 */
    const char     *issuer;         /* required "iss", or NULL */
    const char     *audience;       /* required in "aud", or NULL */
} kx_jwt_verify_t;


typedef struct kx_jwt_cache_s  kx_jwt_cache_t;
typedef struct kx_jwt_centry_s  kx_jwt_centry_t;


typedef struct {
    kx_jwt_centry_t *entry;         /* a cached verification, or NULL */
    kx_json_doc_t  *doc;            /* the claims, to be freed */
    const kx_json_node_t *claims;
    const char     *sub;            /* NULL when absent */
    size_t          sub_len;
    int64_t         exp;            /* 0 when absent */
    int64_t         nbf;            /* 0 when absent */
    unsigned        has_exp:1;      /* "exp":0 is there, and long past */
    unsigned        has_nbf:1;
    char            kid[KX_JWT_KID_MAX + 1];
} kx_jwt_claims_t;


/* "HS256,RS256" -> mask; "none" is refused */
int kx_jwt_algs_parse(const char *list, size_t len, unsigned *mask);

/* whether every algorithm of the mask is an HMAC one (HS*) */
int kx_jwt_algs_hmac_only(unsigned mask);

/* copies the key material; kid may be NULL or "" for the default key */
int kx_jwt_keyset_add(kx_jwt_keyset_t *ks, const char *kid, unsigned algs,
    const unsigned char *key, size_t key_len);

/*
 * Adds every signing key of a JWKS document (RFC 7517): "oct" keys as
 * HMAC secrets, "RSA" and "EC" keys converted to PEM.  A key's "alg"
 * (or else its type: RS*, ES256/ES384 by curve, HS*) is its allow-list.
 */
int kx_jwt_keyset_add_jwks(kx_jwt_keyset_t *ks, const char *json,
    size_t len, char *err, size_t err_size);

void kx_jwt_keyset_free(kx_jwt_keyset_t *ks);

int kx_jwt_verify(const kx_jwt_keyset_t *ks, const char *token, size_t len,
    const kx_jwt_verify_t *opt, kx_jwt_claims_t *out);

void kx_jwt_claims_free(kx_jwt_claims_t *c);

/* the checks that depend on time and on the caller: exp, nbf, iss, aud */
int kx_jwt_check_claims(kx_jwt_claims_t *c, const kx_jwt_verify_t *opt);

/* c's exp and nbf, when present, against opt's clock and leeway */
int kx_jwt_check_times(const kx_jwt_claims_t *c, const kx_jwt_verify_t *opt);
void kx_jwt_centry_release(kx_jwt_centry_t *e);

/*
 * A cache of verified tokens, for one thread: a token seen before skips
 * parsing and the signature check (most of the cost), keeping only the
 * time and iss/aud checks, which depend on now and on the caller.  Keys
 * are the exact token bytes; entries are refcounted, so a request keeps
 * its claims even when the entry is replaced meanwhile.
 */
kx_jwt_cache_t *kx_jwt_cache_create(size_t slots);
void kx_jwt_cache_destroy(kx_jwt_cache_t *cache);
int kx_jwt_verify_cached(const kx_jwt_keyset_t *ks, kx_jwt_cache_t *cache,
    const char *token, size_t len, const kx_jwt_verify_t *opt,
    kx_jwt_claims_t *out);
void kx_jwt_cache_stats(kx_jwt_cache_t *cache, uint64_t *hits,
    uint64_t *misses);

/*
 * Issues an HS256/384/512 token for sub with iat and exp (and iss/aud
 * when given); alg NULL picks the first HMAC algorithm the key allows.
 * *out is malloc()ed and NUL-terminated.
 */
int kx_jwt_issue(const kx_jwt_key_t *key, const char *alg, const char *sub,
    int64_t iat, int64_t exp, const char *issuer, const char *audience,
    char **out);

const char *kx_jwt_strerror(int rc);


#endif /* _KX_JWT_H_INCLUDED_ */
