
/*
 * Copyright (C) Kianax
 */


/*
 * JWT verification, the verification cache, the algorithm lists and
 * JWKS loading on arbitrary input.  The first byte picks what:
 *
 *   0  a token as it is;
 *   1  a token built here from a header and a payload given as raw
 *      bytes, signed with one of the keys below (or with a public key
 *      as an HMAC secret), then optionally patched;
 *   2  an algorithm list;
 *   3  a JWKS document.
 *
 * Whatever token kx_jwt_verify() accepts must carry a signature that an
 * independent check here (OpenSSL directly, strict base64url) finds
 * valid for its bytes, under an algorithm the chosen key allows; the
 * cached verification must answer as the uncached one does, miss or
 * hit, and the claims it reports must be those of the payload.
 */

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include "core/kx_base64.h"
#include "core/kx_json.h"
#include "gateway/kx_jwt.h"

#include "fuzz_check.h"


#define NOW         1700000000
#define TOKEN_MAX   2048

/* what kx_jwt.c parses a header and payload with */
#define KX_JWT_HEADER_MAX  1024
static const kx_json_limits_t  jwt_limits = { 8192, 8, 256 };

#define HS_SECRET   "fuzz-hs256-secret-0123456789abcd"
#define H5_SECRET   "fuzz-hs384-hs512-secret-0123456789abcdef"


typedef enum {
    KEY_HMAC,
    KEY_RSA,
    KEY_EC
} key_type_e;


/* the key set, as this file knows it, independently of kx_jwt */
typedef struct {
    const char      *kid;
    key_type_e       type;
    const char      *algs[2];
    unsigned char   *secret;        /* HMAC secret, or the PEM */
    size_t           secret_len;
    EVP_PKEY        *pkey;
} fkey_t;


static fkey_t            keys[4];
static kx_jwt_keyset_t   ks;
static EVP_PKEY         *rsa_key, *ec_key;


static const char  *alg_names[] = {
    "HS256", "HS384", "HS512", "RS256", "RS384", "RS512",
    "ES256", "ES384", "ES512"
};


static char *
pem_public(EVP_PKEY *pkey, size_t *len)
{
    BIO   *bio;
    char  *data, *out;
    long   n;

    bio = BIO_new(BIO_s_mem());
    check(bio != NULL && PEM_write_bio_PUBKEY(bio, pkey));
    n = BIO_get_mem_data(bio, &data);
    check(n > 0);

    out = malloc((size_t) n + 1);
    check(out != NULL);
    memcpy(out, data, (size_t) n);
    out[n] = '\0';
    *len = (size_t) n;

    BIO_free(bio);

    return out;
}


static void
fkey_add(fkey_t *k)
{
    char      list[32];
    unsigned  mask;

    snprintf(list, sizeof(list), "%s%s%s", k->algs[0],
             k->algs[1] ? "," : "", k->algs[1] ? k->algs[1] : "");

    check(kx_jwt_algs_parse(list, strlen(list), &mask) == KX_JWT_OK);
    check(kx_jwt_keyset_add(&ks, k->kid, mask, k->secret, k->secret_len)
          == KX_JWT_OK);
}


/* once: key generation costs more than thousands of inputs */

static void
setup(void)
{
    static int  done;

    if (done) {
        return;
    }

    done = 1;

    /* 1024 bits: signing per input must stay cheap */
    rsa_key = EVP_RSA_gen(1024);
    ec_key = EVP_EC_gen("P-256");
    check(rsa_key != NULL && ec_key != NULL);

    keys[0] = (fkey_t) { "", KEY_HMAC, { "HS256", NULL },
                         (unsigned char *) HS_SECRET, sizeof(HS_SECRET) - 1,
                         NULL };
    keys[1] = (fkey_t) { "h5", KEY_HMAC, { "HS384", "HS512" },
                         (unsigned char *) H5_SECRET, sizeof(H5_SECRET) - 1,
                         NULL };
    keys[2] = (fkey_t) { "rsa", KEY_RSA, { "RS256", NULL }, NULL, 0,
                         rsa_key };
    keys[3] = (fkey_t) { "ec", KEY_EC, { "ES256", NULL }, NULL, 0, ec_key };

    keys[2].secret = (unsigned char *) pem_public(rsa_key,
                                                  &keys[2].secret_len);
    keys[3].secret = (unsigned char *) pem_public(ec_key,
                                                  &keys[3].secret_len);

    fkey_add(&keys[0]);
    fkey_add(&keys[1]);
    fkey_add(&keys[2]);
    fkey_add(&keys[3]);
}


static const EVP_MD *
hmac_md(const char *alg)
{
    return strcmp(alg, "HS256") == 0 ? EVP_sha256()
           : strcmp(alg, "HS384") == 0 ? EVP_sha384() : EVP_sha512();
}


/* raw r || s (JWS) from a DER ECDSA signature, and back */

static size_t
ecdsa_der_to_raw(const unsigned char *der, size_t len, unsigned char *raw)
{
    ECDSA_SIG     *sig;
    const BIGNUM  *r, *s;

    sig = d2i_ECDSA_SIG(NULL, &der, (long) len);
    check(sig != NULL);
    ECDSA_SIG_get0(sig, &r, &s);
    check(BN_bn2binpad(r, raw, 32) == 32 && BN_bn2binpad(s, raw + 32, 32)
          == 32);
    ECDSA_SIG_free(sig);

    return 64;
}


static int
ecdsa_raw_verify(EVP_PKEY *pkey, const unsigned char *raw, size_t len,
    const char *msg, size_t msg_len)
{
    int             ok, n;
    BIGNUM         *r, *s;
    ECDSA_SIG      *sig;
    EVP_MD_CTX     *md;
    unsigned char  *der;

    if (len != 64) {
        return 0;
    }

    r = BN_bin2bn(raw, 32, NULL);
    s = BN_bin2bn(raw + 32, 32, NULL);
    sig = ECDSA_SIG_new();
    check(r && s && sig && ECDSA_SIG_set0(sig, r, s));

    der = NULL;
    n = i2d_ECDSA_SIG(sig, &der);
    check(n > 0);

    md = EVP_MD_CTX_new();
    check(md != NULL);
    check(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pkey) == 1);
    ok = EVP_DigestVerify(md, der, (size_t) n, (const unsigned char *) msg,
                          msg_len) == 1;

    EVP_MD_CTX_free(md);
    OPENSSL_free(der);
    ECDSA_SIG_free(sig);

    return ok;
}


/*
 * Whether the signature of a token is valid for its bytes under the key
 * its header names and an algorithm that key allows: what kx_jwt_verify()
 * must establish before it accepts anything.
 */

static int
signature_valid(const char *tok, size_t len)
{
    int                    ok;
    long                   n;
    size_t                 i, alg_len, kid_len, slen;
    unsigned               mdlen;
    EVP_MD_CTX            *md;
    const char            *dot1, *dot2, *alg, *kid;
    const fkey_t          *k;
    unsigned char          sig[TOKEN_MAX], mac[EVP_MAX_MD_SIZE];
    kx_json_doc_t         *doc;
    const kx_json_node_t  *root;

    dot1 = memchr(tok, '.', len);
    if (dot1 == NULL) {
        return 0;
    }

    dot2 = memchr(dot1 + 1, '.', tok + len - dot1 - 1);
    if (dot2 == NULL || memchr(dot2 + 1, '.', tok + len - dot2 - 1)) {
        return 0;
    }

    n = kx_base64url_decode(sig, tok, dot1 - tok);
    if (n <= 0
        || kx_json_parse((char *) sig, (size_t) n, &jwt_limits, &doc, NULL)
                  != KX_JSON_PE_OK)
    {
        return 0;
    }

    root = kx_json_root(doc);
    k = NULL;
    ok = 0;

    if (kx_json_get_str(root, "alg", &alg, &alg_len) != KX_JSON_OK) {
        goto done;
    }

    switch (kx_json_get_str(root, "kid", &kid, &kid_len)) {

    case KX_JSON_OK:
        for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
            if (strlen(keys[i].kid) == kid_len
                && memcmp(keys[i].kid, kid, kid_len) == 0)
            {
                k = &keys[i];
            }
        }
        break;

    case KX_JSON_EMISSING:
        k = &keys[0];
        break;

    default:
        break;
    }

    if (k == NULL) {
        goto done;
    }

    for (i = 0; i < 2 && k->algs[i]; i++) {
        if (strlen(k->algs[i]) == alg_len
            && memcmp(k->algs[i], alg, alg_len) == 0)
        {
            break;
        }
    }

    if (i == 2 || k->algs[i] == NULL) {
        goto done;
    }

    alg = k->algs[i];

    /* one token, one encoding: the signature must be strict base64url */
    n = kx_base64url_decode(sig, dot2 + 1, tok + len - dot2 - 1);
    if (n <= 0) {
        goto done;
    }

    slen = (size_t) n;

    switch (k->type) {

    case KEY_HMAC:
        check(HMAC(hmac_md(alg), k->secret, (int) k->secret_len,
                   (const unsigned char *) tok, dot2 - tok, mac, &mdlen));
        ok = (slen == mdlen && memcmp(sig, mac, mdlen) == 0);
        break;

    case KEY_RSA:
        md = EVP_MD_CTX_new();
        check(md != NULL);
        check(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, k->pkey)
              == 1);
        ok = EVP_DigestVerify(md, sig, slen, (const unsigned char *) tok,
                              dot2 - tok) == 1;
        EVP_MD_CTX_free(md);
        break;

    case KEY_EC:
        ok = ecdsa_raw_verify(k->pkey, sig, slen, tok, dot2 - tok);
        break;
    }

done:

    kx_json_free(doc);

    return ok;
}


/*
 * libjwt re-reads header and payload with jansson, which refuses what our
 * parser takes: integers beyond int64, reals beyond double, NUL in a
 * string.  Such a token, signed right, is refused as "invalid signature".
 */

static int
jansson_reads(const kx_json_node_t *node)
{
    int          ok;
    char         num[512], *end;
    size_t       i, len;
    int64_t      iv;
    const char  *s;

    switch (kx_json_type(node)) {

    case KX_JSON_NUMBER:
        s = kx_json_num_raw(node, &len);

        if (strcspn(s, ".eE") >= len) {
            return kx_json_int64(node, &iv) == KX_JSON_OK;
        }

        if (len >= sizeof(num)) {
            return 0;
        }

        memcpy(num, s, len);
        num[len] = '\0';
        errno = 0;
        (void) strtod(num, &end);

        return errno == 0;

    case KX_JSON_STRING:
        s = kx_json_str(node, &len);
        return memchr(s, '\0', len) == NULL;

    case KX_JSON_ARRAY:
        for (i = 0; i < kx_json_arr_len(node); i++) {
            if (!jansson_reads(kx_json_arr_at(node, i))) {
                return 0;
            }
        }

        return 1;

    case KX_JSON_OBJECT:
        for (i = 0; i < kx_json_obj_len(node); i++) {
            ok = jansson_reads(kx_json_obj_at(node, i, &s, &len));
            if (!ok || memchr(s, '\0', len)) {
                return 0;
            }
        }

        return 1;

    default:
        return 1;
    }
}


static int
part_jansson_reads(const char *s, size_t len)
{
    int             ok, in_str;
    long            n;
    size_t          i;
    unsigned char   buf[TOKEN_MAX];
    kx_json_doc_t  *doc;

    n = kx_base64url_decode(buf, s, len);
    if (n <= 0
        || kx_json_parse((char *) buf, (size_t) n, &jwt_limits, &doc, NULL)
           != KX_JSON_PE_OK)
    {
        return 0;
    }

    ok = jansson_reads(kx_json_root(doc));
    kx_json_free(doc);

    /*
     * kx_json_parse() (yajl) takes an unterminated string after the
     * value ('{}"') and \f and \v as white space, which jansson refuses
     * as RFC 8259 does.
     */
    if (memchr(buf, '\f', n) || memchr(buf, '\v', n)) {
        return 0;
    }

    /* the quotes close: no string left open after the value */
    for (i = 0, in_str = 0; i < (size_t) n; i++) {
        if (buf[i] == '\\' && in_str) {
            i++;
        } else if (buf[i] == '"') {
            in_str = !in_str;
        }
    }

    return ok && !in_str;
}


/* the answer kx_jwt_check_claims() owes a payload whose signature holds */

static int
expected_claims(const char *tok, size_t len, const kx_jwt_verify_t *opt)
{
    int                    rc, found;
    long                   n;
    size_t                 i, slen;
    int64_t                exp, nbf;
    const char            *dot1, *dot2, *s;
    unsigned char          buf[TOKEN_MAX];
    kx_json_doc_t         *doc;
    const kx_json_node_t  *root, *aud;

    dot1 = memchr(tok, '.', len);
    dot2 = memchr(dot1 + 1, '.', tok + len - dot1 - 1);

    n = kx_base64url_decode(buf, dot1 + 1, dot2 - dot1 - 1);
    if (n <= 0
        || kx_json_parse((char *) buf, (size_t) n, &jwt_limits, &doc, NULL)
                  != KX_JSON_PE_OK)
    {
        return KX_JWT_EMALFORMED;
    }

    root = kx_json_root(doc);
    rc = KX_JWT_OK;

    if (kx_json_type(root) != KX_JSON_OBJECT) {
        rc = KX_JWT_EMALFORMED;
        goto done;
    }

    exp = 0;
    nbf = 0;

    if ((kx_json_obj_get(root, "exp")
         && kx_json_get_int64(root, "exp", &exp) != KX_JSON_OK)
        || (kx_json_obj_get(root, "nbf")
            && kx_json_get_int64(root, "nbf", &nbf) != KX_JSON_OK))
    {
        rc = KX_JWT_ECLAIMS;
        goto done;
    }

    /* exact: exp and nbf are the token's, any int64 */
    if (kx_json_obj_get(root, "exp")
        && (__int128) opt->now > (__int128) exp + opt->leeway)
    {
        rc = KX_JWT_EEXPIRED;
        goto done;
    }

    if (kx_json_obj_get(root, "nbf")
        && (__int128) opt->now + opt->leeway < (__int128) nbf)
    {
        rc = KX_JWT_ENOTYET;
        goto done;
    }

    if (kx_json_obj_get(root, "sub")
        && kx_json_type(kx_json_obj_get(root, "sub")) != KX_JSON_STRING)
    {
        rc = KX_JWT_ECLAIMS;
        goto done;
    }

    if (opt->issuer
        && (kx_json_get_str(root, "iss", &s, &slen) != KX_JSON_OK
            || slen != strlen(opt->issuer)
            || memcmp(s, opt->issuer, slen) != 0))
    {
        rc = KX_JWT_EISSUER;
        goto done;
    }

    if (opt->audience) {
        aud = kx_json_obj_get(root, "aud");
        found = 0;

        for (i = 0; i < (kx_json_type(aud) == KX_JSON_ARRAY
                         ? kx_json_arr_len(aud) : 1); i++)
        {
            s = kx_json_str(kx_json_type(aud) == KX_JSON_ARRAY
                            ? kx_json_arr_at(aud, i) : aud, &slen);
            if (s && slen == strlen(opt->audience)
                && memcmp(s, opt->audience, slen) == 0)
            {
                found = 1;
            }
        }

        if (!found) {
            rc = KX_JWT_EAUDIENCE;
        }
    }

done:

    kx_json_free(doc);

    return rc;
}


static void
opt_from(kx_jwt_verify_t *opt, unsigned char o)
{
    static const int64_t   leeway[] = { 0, 30, 86400, (int64_t) 1 << 40 };
    static const int64_t   now[] = { NOW, 0, 4102444800, NOW - 3600 };
    static const size_t    max_len[] = { 0, 64, 256, 1024 };

    memset(opt, 0, sizeof(*opt));

    opt->issuer = (o & 1) ? "kx" : NULL;
    opt->audience = (o & 2) ? "api" : NULL;
    opt->leeway = leeway[(o >> 2) & 3];
    opt->max_len = max_len[(o >> 4) & 3];
    opt->now = now[(o >> 6) & 3];
}


static void
claims_same(const kx_jwt_claims_t *a, const kx_jwt_claims_t *b)
{
    check(a->claims != NULL && b->claims != NULL);
    check(a->sub_len == b->sub_len && (a->sub == NULL) == (b->sub == NULL));
    check(a->sub == NULL || memcmp(a->sub, b->sub, a->sub_len) == 0);
    check(a->exp == b->exp && a->nbf == b->nbf);
    check(a->has_exp == b->has_exp && a->has_nbf == b->has_nbf);
    check(memcmp(a->kid, b->kid, sizeof(a->kid)) == 0);
}


/* what a verified token reports is what its payload says */

static void
claims_match(const kx_jwt_claims_t *c)
{
    size_t       len;
    int64_t      v;
    const char  *s;

    check(kx_json_type(c->claims) == KX_JSON_OBJECT);

    if (kx_json_get_str(c->claims, "sub", &s, &len) == KX_JSON_OK) {
        check(c->sub != NULL && c->sub_len == len
              && memcmp(c->sub, s, len) == 0);
    } else {
        check(c->sub == NULL);
    }

    check(c->has_exp == (kx_json_get_int64(c->claims, "exp", &v)
                         == KX_JSON_OK));
    check(!c->has_exp || c->exp == v);
    check(c->has_nbf == (kx_json_get_int64(c->claims, "nbf", &v)
                         == KX_JSON_OK));
    check(!c->has_nbf || c->nbf == v);
    check(c->kid[KX_JWT_KID_MAX] == '\0');
}


static int
is_claims_rc(int rc)
{
    return rc == KX_JWT_OK || rc == KX_JWT_EEXPIRED || rc == KX_JWT_ENOTYET
           || rc == KX_JWT_EISSUER || rc == KX_JWT_EAUDIENCE
           || rc == KX_JWT_ECLAIMS;
}


/*
 * Verifies a token uncached and through a fresh cache (a miss, then a
 * hit), with two sets of options; returns the first answer.
 */

static int
check_token(const char *tok, size_t len, unsigned char o1, unsigned char o2)
{
    int               rc0, rc1, rc2, rc3, rc4, valid;
    kx_jwt_cache_t   *cache;
    kx_jwt_claims_t   c0, c1, c2, c3, c4;
    kx_jwt_verify_t   opt, opt2;

    opt_from(&opt, o1);
    opt_from(&opt2, o2);

    valid = signature_valid(tok, len);

    rc0 = kx_jwt_verify(&ks, tok, len, &opt, &c0);

    /* an answer about the claims means the signature was accepted */
    if (is_claims_rc(rc0)) {
        if (!valid) {
            fprintf(stderr, "accepted a bad signature (%s): %.*s\n",
                    kx_jwt_strerror(rc0), (int) len, tok);
            abort();
        }

        check(rc0 == expected_claims(tok, len, &opt));
    }

    if (rc0 == KX_JWT_OK) {
        claims_match(&c0);
    } else {
        check(c0.doc == NULL && c0.entry == NULL);
    }

    cache = kx_jwt_cache_create(2);
    check(cache != NULL);

    rc1 = kx_jwt_verify_cached(&ks, cache, tok, len, &opt, &c1);
    rc2 = kx_jwt_verify_cached(&ks, cache, tok, len, &opt, &c2);

    check(rc1 == rc0 && rc2 == rc0);

    if (rc0 == KX_JWT_OK) {
        check(c2.entry != NULL);
        claims_same(&c0, &c1);
        claims_same(&c0, &c2);
    }

    /* other options: the hit is checked again, as a miss would be */
    rc3 = kx_jwt_verify(&ks, tok, len, &opt2, &c3);
    rc4 = kx_jwt_verify_cached(&ks, cache, tok, len, &opt2, &c4);

    check(rc3 == rc4);

    if (rc3 == KX_JWT_OK) {
        check(valid);
        claims_match(&c3);
        claims_same(&c3, &c4);
    }

    if (rc0 == KX_JWT_OK) {
        kx_jwt_claims_free(&c0);
        kx_jwt_claims_free(&c1);
        kx_jwt_claims_free(&c2);
    }

    if (rc3 == KX_JWT_OK) {
        kx_jwt_claims_free(&c3);
        kx_jwt_claims_free(&c4);
    }

    kx_jwt_cache_destroy(cache);

    return rc0;
}


static size_t
b64url(char *dst, const unsigned char *src, size_t len)
{
    return kx_base64url_encode(dst, src, len);
}


/*
 * Signs header.payload with signer s: HS256 with the default secret,
 * HS384/HS512 with the second, RS256, ES256, or HS256 keyed with a
 * public key's PEM (the classic algorithm confusion).
 */

static size_t
sign(unsigned s, const char *msg, size_t len, unsigned char *sig)
{
    size_t          n;
    unsigned        mdlen;
    EVP_MD_CTX     *md;
    unsigned char   der[256];

    switch (s % 7) {

    case 0:
        check(HMAC(EVP_sha256(), HS_SECRET, sizeof(HS_SECRET) - 1,
                   (const unsigned char *) msg, len, sig, &mdlen));
        return mdlen;

    case 1:
    case 2:
        check(HMAC(s % 7 == 1 ? EVP_sha384() : EVP_sha512(), H5_SECRET,
                   sizeof(H5_SECRET) - 1, (const unsigned char *) msg, len,
                   sig, &mdlen));
        return mdlen;

    case 3:
    case 4:
        md = EVP_MD_CTX_new();
        check(md != NULL);
        check(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL,
                                 s % 7 == 3 ? rsa_key : ec_key) == 1);
        n = sizeof(der);
        check(EVP_DigestSign(md, s % 7 == 3 ? sig : der, &n,
                             (const unsigned char *) msg, len) == 1);
        EVP_MD_CTX_free(md);

        return s % 7 == 3 ? n : ecdsa_der_to_raw(der, n, sig);

    default:
        check(HMAC(EVP_sha256(), keys[s % 7 == 5 ? 2 : 3].secret,
                   (int) keys[s % 7 == 5 ? 2 : 3].secret_len,
                   (const unsigned char *) msg, len, sig, &mdlen));
        return mdlen;
    }
}


/*
 * signer byte, then header \0 payload [\0 patches]: each patch is two
 * bytes, a position in the token and the byte to put there (0xff with
 * position p: truncate at p).
 */

static void
check_signed(const uint8_t *data, size_t size)
{
    int             rc;
    char            tok[TOKEN_MAX + 512];
    size_t          hlen, plen, n, len, i;
    unsigned        s;
    const uint8_t  *h, *p, *z, *patch;
    unsigned char   o1, o2, sig[512];
    kx_jwt_verify_t any;

    if (size < 3) {
        return;
    }

    o1 = data[0];
    o2 = data[1];
    s = data[2];
    data += 3;
    size -= 3;

    z = memchr(data, '\0', size);
    if (z == NULL) {
        return;
    }

    h = data;
    hlen = z - data;
    p = z + 1;

    z = memchr(p, '\0', data + size - p);
    plen = z ? (size_t) (z - p) : (size_t) (data + size - p);
    patch = z ? z + 1 : data + size;

    if (hlen > 400 || plen > 600) {
        return;
    }

    len = b64url(tok, h, hlen);
    tok[len++] = '.';
    len += b64url(tok + len, p, plen);

    n = sign(s, tok, len, sig);

    tok[len++] = '.';
    len += b64url(tok + len, sig, n);

    for (i = 0; patch + 1 < data + size && i < 4 && len; patch += 2, i++) {
        if (patch[1] == 0xff) {
            len = patch[0] % (len + 1);
        } else {
            tok[patch[0] % len] = (char) patch[1];
        }
    }

    tok[len] = '\0';

    rc = check_token(tok, len, o1, o2);

    /*
     * Signed right and untouched, with a header and a payload our parser
     * reads as objects: refused for the claims only.
     */
    memset(&any, 0, sizeof(any));

    if (i == 0 && (o1 & 0x30) == 0 && len <= KX_JWT_HEADER_MAX
        && signature_valid(tok, len)
        && expected_claims(tok, len, &any) != KX_JWT_EMALFORMED
        && part_jansson_reads(tok, strchr(tok, '.') - tok)
        && part_jansson_reads(strchr(tok, '.') + 1,
                              strrchr(tok, '.') - strchr(tok, '.') - 1))
    {
        if (!is_claims_rc(rc)) {
            fprintf(stderr, "refused a good signature (%s): %.*s\n",
                    kx_jwt_strerror(rc), (int) len, tok);
            abort();
        }
    }
}


static void
check_algs(const uint8_t *data, size_t size)
{
    int       rc, known;
    size_t    i, j, start;
    unsigned  mask, want;

    rc = kx_jwt_algs_parse((const char *) data, size, &mask);

    /* what the list must give: every name known, none empty */
    want = 0;
    known = (size != 0);
    start = 0;

    for (i = 0; i <= size; i++) {
        if (i < size && data[i] != ',') {
            continue;
        }

        for (j = 0; j < sizeof(alg_names) / sizeof(alg_names[0]); j++) {
            if (strlen(alg_names[j]) == i - start
                && memcmp(alg_names[j], data + start, i - start) == 0)
            {
                break;
            }
        }

        if (j == sizeof(alg_names) / sizeof(alg_names[0])) {
            known = 0;
        } else {
            want |= 1u << (j + 1);      /* JWT_ALG_HS256 is 1 */
        }

        start = i + 1;
    }

    if (known) {
        check(rc == KX_JWT_OK && mask == want);
    } else {
        check(rc == KX_JWT_EALG);
    }

    if (rc == KX_JWT_OK) {
        check(mask != 0 && !(mask & 1));
    }
}


/* the algorithms that a key of type kty (and curve crv) may be used with */

static unsigned
jwk_family(const kx_json_node_t *jwk)
{
    size_t       len, clen;
    const char  *kty, *crv;

    if (kx_json_get_str(jwk, "kty", &kty, &len) != KX_JSON_OK) {
        return 0;
    }

    if (len == 3 && memcmp(kty, "oct", 3) == 0) {
        return 0x7u << 1;                   /* HS256..HS512 */
    }

    if (len == 3 && memcmp(kty, "RSA", 3) == 0) {
        return 0x7u << 4;                   /* RS256..RS512 */
    }

    if (len == 2 && memcmp(kty, "EC", 2) == 0
        && kx_json_get_str(jwk, "crv", &crv, &clen) == KX_JSON_OK
        && clen == 5)
    {
        if (memcmp(crv, "P-256", 5) == 0) {
            return 1u << 7;                 /* ES256 */
        }

        if (memcmp(crv, "P-384", 5) == 0) {
            return 1u << 8;                 /* ES384 */
        }
    }

    return 0;
}


static void
check_jwks(const uint8_t *data, size_t size)
{
    int                    rc;
    char                   err[130];
    size_t                 i, k, err_size, len;
    unsigned               fam;
    const char            *s;
    kx_json_doc_t         *doc;
    kx_jwt_keyset_t        set;
    const kx_json_node_t  *arr, *jwk;

    if (size < 1) {
        return;
    }

    /* a small buffer too: the message is cut, still terminated */
    err_size = 1 + data[0] % 128;
    data++;
    size--;

    memset(&set, 0, sizeof(set));
    memset(err, 0x5a, sizeof(err));

    rc = kx_jwt_keyset_add_jwks(&set, (const char *) data, size, err,
                                err_size);

    if (rc != KX_JWT_OK) {
        check(rc == KX_JWT_EKEY || rc == KX_JWT_ENOMEM);
        check(memchr(err, '\0', err_size) != NULL);
    }

    check(err[err_size] == 0x5a);

    for (i = 0; i < set.nkeys; i++) {
        check(strlen(set.keys[i].kid) <= KX_JWT_KID_MAX);
        check(set.keys[i].key_len > 0
              && set.keys[i].key[set.keys[i].key_len] == '\0');
        check(set.keys[i].algs != 0 && !(set.keys[i].algs & 1));
    }

    /*
     * Each signing key (the keys the loader did not skip, in order) may
     * be used only with an algorithm of its type: an RSA or EC public
     * key allowed as an HMAC secret would let anyone sign.
     */
    if (set.nkeys
        && kx_json_parse((const char *) data, size, NULL, &doc, NULL)
           == KX_JSON_PE_OK)
    {
        arr = kx_json_obj_get(kx_json_root(doc), "keys");
        k = 0;

        for (i = 0; i < kx_json_arr_len(arr) && k < set.nkeys; i++) {
            jwk = kx_json_arr_at(arr, i);

            if (kx_json_get_str(jwk, "use", &s, &len) == KX_JSON_OK
                && !(len == 3 && memcmp(s, "sig", 3) == 0))
            {
                continue;
            }

            fam = jwk_family(jwk);

            if (set.keys[k].algs & ~fam) {
                fprintf(stderr, "JWKS key %zu: algs 0x%x, type allows "
                        "0x%x\n", i, set.keys[k].algs, fam);
                abort();
            }

            k++;
        }

        check(k == set.nkeys);
        kx_json_free(doc);
    }

    kx_jwt_keyset_free(&set);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup();

    if (size < 1) {
        return 0;
    }

    switch (data[0] % 4) {

    case 0:
        if (size >= 3 && size - 3 <= TOKEN_MAX) {
            (void) check_token((const char *) data + 3, size - 3, data[1],
                               data[2]);
        }
        break;

    case 1:
        check_signed(data + 1, size - 1);
        break;

    case 2:
        check_algs(data + 1, size - 1);
        break;

    default:
        check_jwks(data + 1, size - 1);
        break;
    }

    return 0;
}
