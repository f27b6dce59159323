
/*
 * Copyright (C) Kianax
 *
 * kx_jwt: tokens are made here (libjwt, keys generated with OpenSSL),
 * then verified through every path that must refuse them.
 */


#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jwt.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include "kx_tap.h"
#include "core/kx_base64.h"
#include "gateway/kx_jwt.h"


#define NOW  1700000000


static char *
pem_of(EVP_PKEY *pkey, int private)
{
    BIO   *bio;
    char  *data, *out;
    long   n;

    bio = BIO_new(BIO_s_mem());
    if (private) {
        PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL);
    } else {
        PEM_write_bio_PUBKEY(bio, pkey);
    }
    n = BIO_get_mem_data(bio, &data);
    out = malloc(n + 1);
    memcpy(out, data, n);
    out[n] = '\0';
    BIO_free(bio);
    return out;
}


/* a token from raw header and payload JSON, signed by libjwt's alg */
static char *
make_token(const char *header_json, const char *payload_json, jwt_alg_t alg,
    const char *key, size_t key_len)
{
    jwt_t  *jwt;
    char   *s;

    jwt_new(&jwt);
    jwt_add_grants_json(jwt, payload_json);
    if (header_json) {
        jwt_add_headers_json(jwt, header_json);
    }
    jwt_set_alg(jwt, alg, (const unsigned char *) key, (int) key_len);
    s = jwt_encode_str(jwt);
    jwt_free(jwt);
    return s;
}


static char *
b64url_str(const char *s)
{
    char  *out = malloc(kx_base64_encoded_len(strlen(s)) + 1);
    size_t n = kx_base64url_encode(out, (const unsigned char *) s, strlen(s));
    out[n] = '\0';
    return out;
}


/*
 * header.payload signed with HMAC-SHA256 by hand, for headers that libjwt
 * would rewrite ("alg":"hs256")
 */
static char *
hs256_token(const char *header_json, const char *payload_json,
    const void *key, size_t key_len)
{
    char           *h, *p, *out;
    size_t          n;
    unsigned        mdlen;
    unsigned char   mac[EVP_MAX_MD_SIZE];

    h = b64url_str(header_json);
    p = b64url_str(payload_json);
    out = malloc(strlen(h) + strlen(p) + 2 + kx_base64_encoded_len(64) + 1);
    n = (size_t) sprintf(out, "%s.%s", h, p);

    HMAC(EVP_sha256(), key, (int) key_len, (unsigned char *) out, n, mac,
         &mdlen);

    out[n++] = '.';
    n += kx_base64url_encode(out + n, mac, mdlen);
    out[n] = '\0';

    free(h);
    free(p);

    return out;
}


static int
verify(const kx_jwt_keyset_t *ks, const char *token, kx_jwt_verify_t *opt,
    kx_jwt_claims_t *c)
{
    return kx_jwt_verify(ks, token, strlen(token), opt, c);
}


static char *
bn_b64(const BIGNUM *bn, int pad_to)
{
    unsigned char  buf[1024];
    int            n;
    char          *out;
    size_t         len;

    n = pad_to ? BN_bn2binpad(bn, buf, pad_to) : BN_bn2bin(bn, buf);
    out = malloc(kx_base64_encoded_len((size_t) n) + 1);
    len = kx_base64url_encode(out, buf, (size_t) n);
    out[len] = '\0';
    return out;
}


int
main(void)
{
    int               rc;
    char             *tok, *rsa_pub, *rsa_priv, *ec_pub, *ec_priv, *h, *p;
    char              buf[8192], jwks[4096], err[128];
    unsigned          mask;
    EVP_PKEY         *rsa, *ec;
    BIGNUM           *n = NULL, *e = NULL, *x = NULL, *y = NULL;
    kx_jwt_key_t     *hs;
    kx_jwt_claims_t   c;
    kx_jwt_keyset_t   ks, jk;
    kx_jwt_verify_t   opt;
    const char       *secret = "0123456789abcdef0123456789abcdef";

    memset(&ks, 0, sizeof(ks));
    memset(&opt, 0, sizeof(opt));
    opt.now = NOW;
    opt.leeway = 30;

    /* --- allow-lists ----------------------------------------------- */

    kx_tap_ok(kx_jwt_algs_parse("HS256,RS256", 11, &mask) == KX_JWT_OK
              && mask == ((1u << JWT_ALG_HS256) | (1u << JWT_ALG_RS256)),
              "alg list parsed to a mask");
    kx_tap_ok(kx_jwt_algs_parse("none", 4, &mask) == KX_JWT_EALG,
              "\"none\" cannot be allowed");
    kx_tap_ok(kx_jwt_algs_parse("HS256,XX1", 9, &mask) == KX_JWT_EALG,
              "unknown alg refused");

    rsa = EVP_RSA_gen(2048);
    ec = EVP_EC_gen("P-256");
    rsa_pub = pem_of(rsa, 0);
    rsa_priv = pem_of(rsa, 1);
    ec_pub = pem_of(ec, 0);
    ec_priv = pem_of(ec, 1);

    kx_jwt_algs_parse("HS256", 5, &mask);
    kx_tap_ok(kx_jwt_keyset_add(&ks, "", mask, (unsigned char *) secret,
                                strlen(secret)) == KX_JWT_OK,
              "HS256 default key added");
    kx_jwt_algs_parse("RS256", 5, &mask);
    kx_jwt_keyset_add(&ks, "rsa1", mask, (unsigned char *) rsa_pub,
                      strlen(rsa_pub));
    kx_jwt_algs_parse("ES256", 5, &mask);
    kx_jwt_keyset_add(&ks, "ec1", mask, (unsigned char *) ec_pub,
                      strlen(ec_pub));
    hs = &ks.keys[0];

    /* --- valid tokens ------------------------------------------------ */

    rc = kx_jwt_issue(hs, "HS256", "user-1", NOW - 10, NOW + 3600, NULL, NULL,
                      &tok);
    kx_tap_ok(rc == KX_JWT_OK, "issue HS256");
    rc = verify(&ks, tok, &opt, &c);
    kx_tap_ok(rc == KX_JWT_OK, "HS256 verifies (%s)", kx_jwt_strerror(rc));
    kx_tap_ok(c.sub && c.sub_len == 6 && memcmp(c.sub, "user-1", 6) == 0,
              "sub read");
    kx_tap_ok(c.exp == NOW + 3600, "exp read");
    kx_jwt_claims_free(&c);

    /* tampered payload: same header and signature, other sub */
    h = strdup(tok);
    p = strchr(h, '.') + 1;
    *strchr(p, '.') = '\0';
    {
        char *evil = b64url_str("{\"sub\":\"admin\",\"exp\":9999999999}");
        snprintf(buf, sizeof(buf), "%.*s.%s.%s", (int) (p - h - 1), h, evil,
                 strrchr(tok, '.') + 1);
        free(evil);
    }
    kx_tap_ok(verify(&ks, buf, &opt, &c) == KX_JWT_ESIGNATURE,
              "tampered payload: bad signature");
    free(h);

    /* wrong secret */
    {
        kx_jwt_keyset_t other;
        memset(&other, 0, sizeof(other));
        kx_jwt_algs_parse("HS256", 5, &mask);
        kx_jwt_keyset_add(&other, "", mask, (unsigned char *) "another-secret",
                          14);
        kx_tap_ok(verify(&other, tok, &opt, &c) == KX_JWT_ESIGNATURE,
                  "wrong secret: bad signature");
        kx_jwt_keyset_free(&other);
    }
    free(tok);

    tok = make_token("{\"kid\":\"rsa1\"}",
                     "{\"sub\":\"u-rsa\",\"exp\":1700003600}", JWT_ALG_RS256,
                     rsa_priv, strlen(rsa_priv));
    rc = verify(&ks, tok, &opt, &c);
    kx_tap_ok(rc == KX_JWT_OK, "RS256 by kid verifies (%s)",
              kx_jwt_strerror(rc));
    kx_jwt_claims_free(&c);
    free(tok);

    tok = make_token("{\"kid\":\"ec1\"}",
                     "{\"sub\":\"u-ec\",\"exp\":1700003600}", JWT_ALG_ES256,
                     ec_priv, strlen(ec_priv));
    rc = verify(&ks, tok, &opt, &c);
    kx_tap_ok(rc == KX_JWT_OK, "ES256 by kid verifies (%s)",
              kx_jwt_strerror(rc));
    kx_jwt_claims_free(&c);
    free(tok);

    /* --- refused tokens --------------------------------------------- */

    /* HS256 signed with the RSA public key as the secret, kid rsa1 */
    tok = make_token("{\"kid\":\"rsa1\"}", "{\"sub\":\"evil\"}",
                     JWT_ALG_HS256, rsa_pub, strlen(rsa_pub));
    kx_tap_ok(verify(&ks, tok, &opt, &c) == KX_JWT_EALG,
              "HS token against an RSA key: algorithm refused");
    free(tok);

    /* RS256 token presented for the HS key (no kid) */
    tok = make_token(NULL, "{\"sub\":\"x\"}", JWT_ALG_RS256, rsa_priv,
                     strlen(rsa_priv));
    kx_tap_ok(verify(&ks, tok, &opt, &c) == KX_JWT_EALG,
              "RS token against the HS key: algorithm refused");
    free(tok);

    /* alg none, with and without a signature part */
    h = b64url_str("{\"alg\":\"none\",\"typ\":\"JWT\"}");
    p = b64url_str("{\"sub\":\"admin\"}");
    snprintf(buf, sizeof(buf), "%s.%s.", h, p);
    kx_tap_ok(verify(&ks, buf, &opt, &c) == KX_JWT_EMALFORMED,
              "alg none with empty signature refused");
    snprintf(buf, sizeof(buf), "%s.%s.c2ln", h, p);
    kx_tap_ok(verify(&ks, buf, &opt, &c) == KX_JWT_EALG,
              "alg none with a signature refused");
    free(h);
    h = b64url_str("{\"alg\":\"HS256\",\"kid\":\"nope\"}");
    snprintf(buf, sizeof(buf), "%s.%s.c2ln", h, p);
    kx_tap_ok(verify(&ks, buf, &opt, &c) == KX_JWT_EKID, "unknown kid");
    free(h);
    h = b64url_str("{\"alg\":\"HS256\",\"alg\":\"none\"}");
    snprintf(buf, sizeof(buf), "%s.%s.c2ln", h, p);
    kx_tap_ok(verify(&ks, buf, &opt, &c) == KX_JWT_EMALFORMED,
              "duplicate header keys refused");
    free(h);
    free(p);

    kx_tap_ok(verify(&ks, "abc.def", &opt, &c) == KX_JWT_EMALFORMED,
              "two parts: malformed");
    kx_tap_ok(verify(&ks, "a.b.c.d", &opt, &c) == KX_JWT_EMALFORMED,
              "four parts: malformed");
    kx_tap_ok(verify(&ks, "!!!.???.***", &opt, &c) == KX_JWT_EMALFORMED,
              "bad base64: malformed");
    kx_tap_ok(verify(&ks, "", &opt, &c) == KX_JWT_EMALFORMED, "empty");

    {
        char *big = malloc(8193);
        memset(big, 'a', 8193);
        kx_tap_ok(kx_jwt_verify(&ks, big, 8193, &opt, &c) == KX_JWT_ETOOLARGE,
                  "a token over 8 KiB: too large");
        free(big);
    }

    /* --- time claims -------------------------------------------------- */

    kx_jwt_issue(hs, "HS256", "u", NOW - 7200, NOW - 31, NULL, NULL, &tok);
    kx_tap_ok(verify(&ks, tok, &opt, &c) == KX_JWT_EEXPIRED,
              "expired past the leeway");
    free(tok);

    kx_jwt_issue(hs, "HS256", "u", NOW - 7200, NOW - 29, NULL, NULL, &tok);
    rc = verify(&ks, tok, &opt, &c);
    kx_tap_ok(rc == KX_JWT_OK, "expired within the leeway is accepted");
    kx_jwt_claims_free(&c);
    free(tok);

    tok = make_token(NULL, "{\"sub\":\"u\",\"nbf\":1700000100}",
                     JWT_ALG_HS256, secret, strlen(secret));
    kx_tap_ok(verify(&ks, tok, &opt, &c) == KX_JWT_ENOTYET,
              "nbf in the future");
    free(tok);

    /* a claim at 0 is there (and long past), not absent */
    tok = make_token(NULL, "{\"sub\":\"u\",\"exp\":0}",
                     JWT_ALG_HS256, secret, strlen(secret));
    kx_tap_ok(verify(&ks, tok, &opt, &c) == KX_JWT_EEXPIRED,
              "exp 0 is expired, not absent");
    free(tok);

    tok = make_token(NULL, "{\"sub\":\"u\",\"exp\":\"tomorrow\"}",
                     JWT_ALG_HS256, secret, strlen(secret));
    kx_tap_ok(verify(&ks, tok, &opt, &c) == KX_JWT_ECLAIMS,
              "exp of the wrong type");
    free(tok);

    /* --- iss and aud ---------------------------------------------------- */

    opt.issuer = "kianax";
    opt.audience = "api";
    kx_jwt_issue(hs, "HS256", "u", NOW, NOW + 60, "kianax", "api", &tok);
    rc = verify(&ks, tok, &opt, &c);
    kx_tap_ok(rc == KX_JWT_OK, "iss and aud match");
    kx_jwt_claims_free(&c);
    free(tok);

    kx_jwt_issue(hs, "HS256", "u", NOW, NOW + 60, "someone", "api", &tok);
    kx_tap_ok(verify(&ks, tok, &opt, &c) == KX_JWT_EISSUER, "wrong iss");
    free(tok);

    kx_jwt_issue(hs, "HS256", "u", NOW, NOW + 60, "kianax", "web", &tok);
    kx_tap_ok(verify(&ks, tok, &opt, &c) == KX_JWT_EAUDIENCE, "wrong aud");
    free(tok);

    tok = make_token(NULL, "{\"sub\":\"u\",\"iss\":\"kianax\","
                     "\"aud\":[\"web\",\"api\"]}",
                     JWT_ALG_HS256, secret, strlen(secret));
    rc = verify(&ks, tok, &opt, &c);
    kx_tap_ok(rc == KX_JWT_OK, "aud array containing ours");
    kx_jwt_claims_free(&c);
    free(tok);
    opt.issuer = NULL;
    opt.audience = NULL;

    /* alg NULL: the key's own HMAC algorithm */
    {
        kx_jwt_keyset_t  k5;
        char            *t5, *dot;
        unsigned         m5;

        memset(&k5, 0, sizeof(k5));
        kx_jwt_algs_parse("HS512", 5, &m5);
        kx_jwt_keyset_add(&k5, "", m5, (unsigned char *) secret,
                          strlen(secret));
        rc = kx_jwt_issue(&k5.keys[0], NULL, "u5", NOW, NOW + 60, NULL, NULL,
                          &t5);
        dot = t5 ? strchr(t5, '.') : NULL;
        kx_tap_ok(rc == KX_JWT_OK && dot
                  && verify(&k5, t5, &opt, &c) == KX_JWT_OK,
                  "issue with alg NULL on an HS512-only key");
        kx_jwt_claims_free(&c);
        free(t5);
        kx_jwt_keyset_free(&k5);
    }

    /* --- found by fuzz/fuzz_jwt.c ------------------------------------ */

    kx_tap_ok(kx_jwt_algs_parse("HS256,", 6, &mask) == KX_JWT_EALG,
              "alg list with an empty last name refused");
    kx_tap_ok(kx_jwt_algs_parse("HS256\0RS", 8, &mask) == KX_JWT_EALG,
              "alg list with a NUL refused");
    kx_tap_ok(kx_jwt_algs_parse("hs256", 5, &mask) == KX_JWT_EALG,
              "alg names are case-sensitive");

    /* signed right, but "hs256" is not the HS256 the key allows */
    tok = hs256_token("{\"alg\":\"hs256\"}", "{\"sub\":\"u\"}", secret,
                      strlen(secret));
    kx_tap_ok(verify(&ks, tok, &opt, &c) == KX_JWT_EALG,
              "header alg \"hs256\" refused");
    free(tok);

    /* libjwt stops at a NUL: the bytes after it must not ride along */
    kx_jwt_issue(hs, "HS256", "u", NOW, NOW + 60, NULL, NULL, &tok);
    snprintf(buf, sizeof(buf), "%s", tok);
    memcpy(buf + strlen(tok), "\0junk", 5);
    rc = kx_jwt_verify(&ks, buf, strlen(tok) + 5, &opt, &c);
    kx_tap_ok(rc == KX_JWT_EMALFORMED, "bytes after a NUL refused (%s)",
              kx_jwt_strerror(rc));
    if (rc == KX_JWT_OK) {
        kx_jwt_claims_free(&c);
    }
    free(tok);

    /* signatures with a last character no encoder writes (4 unused bits) */
    tok = make_token("{\"kid\":\"rsa1\"}", "{\"sub\":\"u\"}", JWT_ALG_RS256,
                     rsa_priv, strlen(rsa_priv));
    tok[strlen(tok) - 1] ^= 1;
    rc = verify(&ks, tok, &opt, &c);
    kx_tap_ok(rc != KX_JWT_OK, "non-canonical RS256 signature refused (%s)",
              kx_jwt_strerror(rc));
    if (rc == KX_JWT_OK) {
        kx_jwt_claims_free(&c);
    }
    free(tok);

    tok = make_token("{\"kid\":\"ec1\"}", "{\"sub\":\"u\"}", JWT_ALG_ES256,
                     ec_priv, strlen(ec_priv));
    tok[strlen(tok) - 1] ^= 1;
    rc = verify(&ks, tok, &opt, &c);
    kx_tap_ok(rc != KX_JWT_OK, "non-canonical ES256 signature refused (%s)",
              kx_jwt_strerror(rc));
    if (rc == KX_JWT_OK) {
        kx_jwt_claims_free(&c);
    }
    free(tok);

    /* exp + leeway overflowed, and a token for ever read as expired */
    tok = make_token(NULL, "{\"sub\":\"u\",\"exp\":9223372036854775807}",
                     JWT_ALG_HS256, secret, strlen(secret));
    rc = verify(&ks, tok, &opt, &c);
    kx_tap_ok(rc == KX_JWT_OK, "exp at INT64_MAX is not expired (%s)",
              kx_jwt_strerror(rc));
    if (rc == KX_JWT_OK) {
        kx_jwt_claims_free(&c);
    }
    free(tok);

    /* --- the verification cache ------------------------------------ */

    {
        char             *t1, *t2;
        uint64_t          hits, misses;
        kx_jwt_cache_t   *cache;
        kx_jwt_claims_t   c1, c2;

        cache = kx_jwt_cache_create(1);     /* one slot: every put evicts */
        kx_jwt_issue(hs, "HS256", "cached-1", NOW, NOW + 60, NULL, NULL, &t1);
        kx_jwt_issue(hs, "HS256", "cached-2", NOW, NOW + 60, NULL, NULL, &t2);

        rc = kx_jwt_verify_cached(&ks, cache, t1, strlen(t1), &opt, &c1);
        kx_tap_ok(rc == KX_JWT_OK, "cache: first verification");
        kx_jwt_claims_free(&c1);
        rc = kx_jwt_verify_cached(&ks, cache, t1, strlen(t1), &opt, &c1);
        kx_jwt_cache_stats(cache, &hits, &misses);
        kx_tap_ok(rc == KX_JWT_OK && hits == 1 && misses == 1,
                  "cache: the second is a hit");
        kx_tap_ok(c1.sub && c1.sub_len == 8
                  && memcmp(c1.sub, "cached-1", 8) == 0, "cache: claims");

        /* t2 replaces t1 in the only slot while c1 still holds it */
        rc = kx_jwt_verify_cached(&ks, cache, t2, strlen(t2), &opt, &c2);
        kx_tap_ok(rc == KX_JWT_OK && memcmp(c2.sub, "cached-2", 8) == 0,
                  "cache: another token");
        kx_tap_ok(memcmp(c1.sub, "cached-1", 8) == 0,
                  "cache: an evicted entry lives while a request holds it");
        kx_jwt_claims_free(&c1);
        kx_jwt_claims_free(&c2);

        /* time moves on: a cached token expires like any other */
        opt.now = NOW + 120;
        rc = kx_jwt_verify_cached(&ks, cache, t2, strlen(t2), &opt, &c2);
        kx_tap_ok(rc == KX_JWT_EEXPIRED, "cache: a hit is still checked for "
                  "expiry");
        opt.now = NOW;

        /* a hit answers the time claims as a miss does, nbf included */
        {
            char  *t3;

            t3 = make_token(NULL, "{\"sub\":\"early\",\"nbf\":1700000000,"
                            "\"exp\":1700000060}", JWT_ALG_HS256, secret,
                            strlen(secret));
            rc = kx_jwt_verify_cached(&ks, cache, t3, strlen(t3), &opt, &c2);
            kx_tap_ok(rc == KX_JWT_OK && c2.exp == 1700000060
                      && c2.sub_len == 5, "cache: nbf token verified");
            kx_jwt_claims_free(&c2);
            opt.now = 1700000000 - 31;
            rc = kx_jwt_verify_cached(&ks, cache, t3, strlen(t3), &opt, &c2);
            kx_tap_ok(rc == KX_JWT_ENOTYET, "cache: a hit before nbf");
            opt.now = 1700000060 + 31;
            rc = kx_jwt_verify_cached(&ks, cache, t3, strlen(t3), &opt, &c2);
            kx_tap_ok(rc == KX_JWT_EEXPIRED, "cache: a hit after exp");
            opt.now = 1700000030;
            rc = kx_jwt_verify_cached(&ks, cache, t3, strlen(t3), &opt, &c2);
            kx_jwt_cache_stats(cache, &hits, &misses);
            kx_tap_ok(rc == KX_JWT_OK && c2.exp == 1700000060
                      && c2.sub_len == 5 && memcmp(c2.sub, "early", 5) == 0
                      && hits == 5, "cache: a hit inside the window");
            kx_jwt_claims_free(&c2);
            opt.now = NOW;
            free(t3);
        }

        /* one changed byte is another token: verified, and refused */
        t2[strlen(t2) - 2] ^= 1;
        rc = kx_jwt_verify_cached(&ks, cache, t2, strlen(t2), &opt, &c2);
        kx_tap_ok(rc == KX_JWT_ESIGNATURE, "cache: a tampered token misses");

        kx_jwt_cache_destroy(cache);
        free(t1);
        free(t2);
    }

    /* --- JWKS -------------------------------------------------------- */

    EVP_PKEY_get_bn_param(rsa, OSSL_PKEY_PARAM_RSA_N, &n);
    EVP_PKEY_get_bn_param(rsa, OSSL_PKEY_PARAM_RSA_E, &e);
    EVP_PKEY_get_bn_param(ec, OSSL_PKEY_PARAM_EC_PUB_X, &x);
    EVP_PKEY_get_bn_param(ec, OSSL_PKEY_PARAM_EC_PUB_Y, &y);
    {
        char *sn = bn_b64(n, 0), *se = bn_b64(e, 0);
        char *sx = bn_b64(x, 32), *sy = bn_b64(y, 32);
        char *sk = b64url_str(secret);
        snprintf(jwks, sizeof(jwks),
                 "{\"keys\":["
                 "{\"kty\":\"RSA\",\"kid\":\"r\",\"use\":\"sig\","
                 "\"alg\":\"RS256\",\"n\":\"%s\",\"e\":\"%s\"},"
                 "{\"kty\":\"EC\",\"kid\":\"e\",\"crv\":\"P-256\","
                 "\"x\":\"%s\",\"y\":\"%s\"},"
                 "{\"kty\":\"oct\",\"kid\":\"h\",\"k\":\"%s\"},"
                 "{\"kty\":\"RSA\",\"kid\":\"enc\",\"use\":\"enc\","
                 "\"n\":\"%s\",\"e\":\"%s\"}]}",
                 sn, se, sx, sy, sk, sn, se);
        free(sn); free(se); free(sx); free(sy); free(sk);
    }

    memset(&jk, 0, sizeof(jk));
    rc = kx_jwt_keyset_add_jwks(&jk, jwks, strlen(jwks), err, sizeof(err));
    kx_tap_ok(rc == KX_JWT_OK && jk.nkeys == 3,
              "JWKS: 3 signing keys loaded, the enc key skipped (%s)",
              rc ? err : "ok");

    tok = make_token("{\"kid\":\"r\"}", "{\"sub\":\"j\"}", JWT_ALG_RS256,
                     rsa_priv, strlen(rsa_priv));
    rc = verify(&jk, tok, &opt, &c);
    kx_tap_ok(rc == KX_JWT_OK, "RS256 against the JWKS RSA key");
    kx_jwt_claims_free(&c);
    free(tok);

    tok = make_token("{\"kid\":\"e\"}", "{\"sub\":\"j\"}", JWT_ALG_ES256,
                     ec_priv, strlen(ec_priv));
    rc = verify(&jk, tok, &opt, &c);
    kx_tap_ok(rc == KX_JWT_OK, "ES256 against the JWKS EC key");
    kx_jwt_claims_free(&c);
    free(tok);

    tok = make_token("{\"kid\":\"h\"}", "{\"sub\":\"j\"}", JWT_ALG_HS512,
                     secret, strlen(secret));
    rc = verify(&jk, tok, &opt, &c);
    kx_tap_ok(rc == KX_JWT_OK, "HS512 against the JWKS oct key");
    kx_jwt_claims_free(&c);
    free(tok);

    tok = make_token("{\"kid\":\"r\"}", "{\"sub\":\"j\"}", JWT_ALG_RS384,
                     rsa_priv, strlen(rsa_priv));
    kx_tap_ok(verify(&jk, tok, &opt, &c) == KX_JWT_EALG,
              "JWKS alg RS256 refuses RS384");
    free(tok);

    /*
     * "alg" beyond the key type: the RSA public key (public) as an HMAC
     * secret would let anyone sign.
     */
    {
        char             *sn = bn_b64(n, 0), *se = bn_b64(e, 0);
        kx_jwt_keyset_t   ck;

        memset(&ck, 0, sizeof(ck));
        snprintf(jwks, sizeof(jwks),
                 "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"c\",\"alg\":\"HS256\","
                 "\"n\":\"%s\",\"e\":\"%s\"}]}", sn, se);
        rc = kx_jwt_keyset_add_jwks(&ck, jwks, strlen(jwks), err,
                                    sizeof(err));
        kx_tap_ok(rc == KX_JWT_EKEY && ck.nkeys == 0,
                  "JWKS RSA key with alg HS256 refused");

        if (ck.nkeys == 1) {
            tok = make_token("{\"kid\":\"c\"}", "{\"sub\":\"forged\"}",
                             JWT_ALG_HS256, (char *) ck.keys[0].key,
                             ck.keys[0].key_len);
            rc = verify(&ck, tok, &opt, &c);
            kx_tap_diag("a token signed with the public key: %s",
                        kx_jwt_strerror(rc));
            if (rc == KX_JWT_OK) {
                kx_jwt_claims_free(&c);
            }
            free(tok);
        }

        kx_jwt_keyset_free(&ck);

        snprintf(jwks, sizeof(jwks), "{\"keys\":[{\"kty\":\"oct\","
                 "\"alg\":\"RS256\",\"k\":\"c2VjcmV0\"}]}");
        rc = kx_jwt_keyset_add_jwks(&ck, jwks, strlen(jwks), err,
                                    sizeof(err));
        kx_tap_ok(rc == KX_JWT_EKEY && ck.nkeys == 0,
                  "JWKS oct key with alg RS256 refused");
        kx_jwt_keyset_free(&ck);
        free(sn);
        free(se);
    }

    {
        const char *weak = "{\"keys\":[{\"kty\":\"RSA\","
                           "\"n\":\"AQAB\",\"e\":\"AQAB\"}]}";
        rc = kx_jwt_keyset_add_jwks(&jk, weak, strlen(weak), err,
                                    sizeof(err));
    }
    kx_tap_ok(rc == KX_JWT_EKEY, "a short RSA modulus refused");

    kx_jwt_keyset_free(&jk);
    kx_jwt_keyset_free(&ks);
    BN_free(n); BN_free(e); BN_free(x); BN_free(y);
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(ec);
    free(rsa_pub); free(rsa_priv); free(ec_pub); free(ec_priv);

    return kx_tap_done();
}
