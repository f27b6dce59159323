
/*
 * Copyright (C) Kianax
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jwt.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include "core/kx_base64.h"
#include "gateway/kx_jwt.h"


#define KX_JWT_MAX_LEN_DEFAULT  8192
#define KX_JWT_HEADER_MAX       1024


static jwt_alg_t kx_jwt_alg(const char *name);
static const kx_jwt_key_t *kx_jwt_find_key(const kx_jwt_keyset_t *ks,
    const char *kid, size_t kid_len);
static int kx_jwt_decode_part(const char *s, size_t len, size_t max,
    kx_json_doc_t **doc);
static int kx_jwt_jwk_add(kx_jwt_keyset_t *ks, const kx_json_node_t *jwk,
    char *err, size_t err_size);
static unsigned char *kx_jwt_b64_field(const kx_json_node_t *jwk,
    const char *name, size_t *len);
static int kx_jwt_pem_rsa(const kx_json_node_t *jwk, char **pem, size_t *len);
static int kx_jwt_pem_ec(const kx_json_node_t *jwk, const char *group,
    size_t coord, char **pem, size_t *len);
static int kx_jwt_pem_from_params(const char *type, OSSL_PARAM_BLD *bld,
    char **pem, size_t *len);


static const kx_json_limits_t  kx_jwt_json_limits = { 8192, 8, 256 };


int
kx_jwt_algs_parse(const char *list, size_t len, unsigned *mask)
{
    char          name[16];
    size_t        i, n;
    jwt_alg_t     alg;

    *mask = 0;
    i = 0;

    while (i < len) {
        n = 0;
        while (i < len && list[i] != ',') {
            /* a NUL would end the name early: "HS256\0junk" */
            if (n + 1 >= sizeof(name) || list[i] == '\0') {
                return KX_JWT_EALG;
            }
            name[n++] = list[i++];
        }
        name[n] = '\0';

        /* a comma last names an empty algorithm, as ",," does */
        if (i < len && ++i == len) {
            return KX_JWT_EALG;
        }

        alg = kx_jwt_alg(name);
        if (alg == JWT_ALG_INVAL || alg == JWT_ALG_NONE) {
            return KX_JWT_EALG;
        }

        *mask |= 1u << alg;
    }

    return *mask ? KX_JWT_OK : KX_JWT_EALG;
}


/*
 * libjwt matches names ignoring case; "alg" is case-sensitive (RFC 7515
 * 4.1.1), and "hs256" is no name we allowed.
 */
static jwt_alg_t
kx_jwt_alg(const char *name)
{
    jwt_alg_t    alg;
    const char  *s;

    alg = jwt_str_alg(name);
    if (alg == JWT_ALG_INVAL) {
        return alg;
    }

    s = jwt_alg_str(alg);

    return (s && strcmp(s, name) == 0) ? alg : JWT_ALG_INVAL;
}


int
kx_jwt_algs_hmac_only(unsigned mask)
{
    unsigned  hmac;

    hmac = (1u << JWT_ALG_HS256) | (1u << JWT_ALG_HS384)
           | (1u << JWT_ALG_HS512);

    return mask && !(mask & ~hmac);
}


int
kx_jwt_keyset_add(kx_jwt_keyset_t *ks, const char *kid, unsigned algs,
    const unsigned char *key, size_t key_len)
{
    size_t         n;
    kx_jwt_key_t  *k;

    if (kid == NULL) {
        kid = "";
    }

    if (strlen(kid) > KX_JWT_KID_MAX || key_len == 0 || algs == 0
        || (algs & (1u << JWT_ALG_NONE)))
    {
        return KX_JWT_EKEY;
    }

    if (ks->nkeys == ks->nalloc) {
        n = ks->nalloc ? 2 * ks->nalloc : 4;
        k = realloc(ks->keys, n * sizeof(kx_jwt_key_t));
        if (k == NULL) {
            return KX_JWT_ENOMEM;
        }
        ks->keys = k;
        ks->nalloc = n;
    }

    k = &ks->keys[ks->nkeys];
    memset(k, 0, sizeof(*k));

    /* libjwt reads PEM as a C string: keep a terminating NUL */
    k->key = malloc(key_len + 1);
    if (k->key == NULL) {
        return KX_JWT_ENOMEM;
    }

    memcpy(k->key, key, key_len);
    k->key[key_len] = '\0';
    k->key_len = key_len;
    k->algs = algs;
    strcpy(k->kid, kid);

    ks->nkeys++;

    return KX_JWT_OK;
}


void
kx_jwt_keyset_free(kx_jwt_keyset_t *ks)
{
    size_t  i;

    for (i = 0; i < ks->nkeys; i++) {
        /* secrets do not linger in freed memory */
        OPENSSL_cleanse(ks->keys[i].key, ks->keys[i].key_len);
        free(ks->keys[i].key);
    }

    free(ks->keys);
    memset(ks, 0, sizeof(*ks));
}


int
kx_jwt_verify(const kx_jwt_keyset_t *ks, const char *token, size_t len,
    const kx_jwt_verify_t *opt, kx_jwt_claims_t *out)
{
    int                    rc;
    char                  *copy, alg_name[16];
    size_t                 max, n, kid_len, alg_len;
    jwt_t                 *jwt;
    jwt_alg_t              alg;
    const char            *dot1, *dot2, *kid, *s;
    kx_json_doc_t         *header;
    const kx_jwt_key_t    *key;
    const kx_json_node_t  *root;

    memset(out, 0, sizeof(*out));

    max = opt->max_len ? opt->max_len : KX_JWT_MAX_LEN_DEFAULT;
    if (len > max) {
        return KX_JWT_ETOOLARGE;
    }

    dot1 = memchr(token, '.', len);
    if (dot1 == NULL) {
        return KX_JWT_EMALFORMED;
    }

    dot2 = memchr(dot1 + 1, '.', token + len - dot1 - 1);
    if (dot2 == NULL || memchr(dot2 + 1, '.', token + len - dot2 - 1)
        || dot1 == token || dot2 == dot1 + 1 || dot2 + 1 == token + len)
    {
        /* an empty signature is alg "none": never accepted */
        return KX_JWT_EMALFORMED;
    }

    rc = kx_jwt_decode_part(token, dot1 - token, KX_JWT_HEADER_MAX, &header);
    if (rc != KX_JWT_OK) {
        return rc;
    }

    root = kx_json_root(header);

    if (kx_json_get_str(root, "alg", &s, &alg_len) != KX_JSON_OK
        || alg_len == 0 || alg_len >= sizeof(alg_name))
    {
        kx_json_free(header);
        return KX_JWT_EALG;
    }

    memcpy(alg_name, s, alg_len);
    alg_name[alg_len] = '\0';

    kid = NULL;
    kid_len = 0;

    rc = kx_json_get_str(root, "kid", &kid, &kid_len);
    if (rc == KX_JSON_ETYPE || kid_len > KX_JWT_KID_MAX) {
        kx_json_free(header);
        return KX_JWT_EKID;
    }

    key = kx_jwt_find_key(ks, kid, kid_len);
    if (key == NULL) {
        kx_json_free(header);
        return KX_JWT_EKID;
    }

    if (kid) {
        memcpy(out->kid, kid, kid_len);
    }

    kx_json_free(header);

    alg = kx_jwt_alg(alg_name);
    if (alg == JWT_ALG_INVAL || alg == JWT_ALG_NONE
        || !(key->algs & (1u << alg)))
    {
        return KX_JWT_EALG;
    }

    copy = malloc(len + 1);
    if (copy == NULL) {
        return KX_JWT_ENOMEM;
    }

    /*
     * libjwt reads the token up to a NUL and decodes the signature
     * leniently, so "<token>\0junk" or another last character would
     * verify as the token: the signature must be strict base64url.
     */
    if (kx_base64url_decode((unsigned char *) copy, dot2 + 1,
                            token + len - dot2 - 1)
        <= 0)
    {
        free(copy);
        return KX_JWT_EMALFORMED;
    }

    memcpy(copy, token, len);
    copy[len] = '\0';

    jwt = NULL;
    n = jwt_decode(&jwt, copy, key->key, (int) key->key_len);
    free(copy);

    if (n != 0 || jwt == NULL) {
        if (jwt) {
            jwt_free(jwt);
        }
        ERR_clear_error();
        return KX_JWT_ESIGNATURE;
    }

    /* what libjwt verified with must be what we allowed */
    n = (jwt_get_alg(jwt) == alg);
    jwt_free(jwt);

    if (!n) {
        return KX_JWT_EALG;
    }

    rc = kx_jwt_decode_part(dot1 + 1, dot2 - dot1 - 1, max, &out->doc);
    if (rc != KX_JWT_OK) {
        return rc;
    }

    out->claims = kx_json_root(out->doc);

    rc = kx_jwt_check_claims(out, opt);
    if (rc != KX_JWT_OK) {
        kx_jwt_claims_free(out);
    }

    return rc;
}


void
kx_jwt_claims_free(kx_jwt_claims_t *c)
{
    if (c->entry) {
        kx_jwt_centry_release(c->entry);

    } else if (c->doc) {
        kx_json_free(c->doc);
    }

    c->entry = NULL;
    c->doc = NULL;
    c->claims = NULL;
    c->sub = NULL;
}


static const kx_jwt_key_t *
kx_jwt_find_key(const kx_jwt_keyset_t *ks, const char *kid, size_t kid_len)
{
    size_t  i;

    if (kid) {
        for (i = 0; i < ks->nkeys; i++) {
            if (strlen(ks->keys[i].kid) == kid_len
                && memcmp(ks->keys[i].kid, kid, kid_len) == 0)
            {
                return &ks->keys[i];
            }
        }

        return NULL;
    }

    /* no kid: the default key, or the only key there is */
    for (i = 0; i < ks->nkeys; i++) {
        if (ks->keys[i].kid[0] == '\0') {
            return &ks->keys[i];
        }
    }

    return ks->nkeys == 1 ? &ks->keys[0] : NULL;
}


static int
kx_jwt_decode_part(const char *s, size_t len, size_t max, kx_json_doc_t **doc)
{
    int               rc;
    long              n;
    unsigned char    *buf;
    kx_json_perr_t    perr;
    kx_json_limits_t  lim;

    if (len > max) {
        return KX_JWT_ETOOLARGE;
    }

    buf = malloc(kx_base64_decoded_max(len) + 1);
    if (buf == NULL) {
        return KX_JWT_ENOMEM;
    }

    n = kx_base64url_decode(buf, s, len);
    if (n <= 0) {
        free(buf);
        return KX_JWT_EMALFORMED;
    }

    lim = kx_jwt_json_limits;
    rc = kx_json_parse((char *) buf, (size_t) n, &lim, doc, &perr);
    free(buf);

    if (rc != 0) {
        return perr.code == KX_JSON_PE_NOMEM ? KX_JWT_ENOMEM
                                             : KX_JWT_EMALFORMED;
    }

    if (kx_json_type(kx_json_root(*doc)) != KX_JSON_OBJECT) {
        kx_json_free(*doc);
        *doc = NULL;
        return KX_JWT_EMALFORMED;
    }

    return KX_JWT_OK;
}


int
kx_jwt_check_claims(kx_jwt_claims_t *c, const kx_jwt_verify_t *opt)
{
    int                    rc, found;
    size_t                 i, len;
    int64_t                exp, nbf;
    const char            *s;
    const kx_json_node_t  *aud, *v;

    exp = 0;
    rc = kx_json_get_int64(c->claims, "exp", &exp);
    if (rc != KX_JSON_OK && rc != KX_JSON_EMISSING) {
        return KX_JWT_ECLAIMS;
    }

    c->exp = exp;
    c->has_exp = (rc == KX_JSON_OK);

    nbf = 0;
    rc = kx_json_get_int64(c->claims, "nbf", &nbf);
    if (rc != KX_JSON_OK && rc != KX_JSON_EMISSING) {
        return KX_JWT_ECLAIMS;
    }

    c->nbf = nbf;
    c->has_nbf = (rc == KX_JSON_OK);

    rc = kx_jwt_check_times(c, opt);
    if (rc != KX_JWT_OK) {
        return rc;
    }

    rc = kx_json_get_str(c->claims, "sub", &c->sub, &c->sub_len);
    if (rc != KX_JSON_OK && rc != KX_JSON_EMISSING) {
        return KX_JWT_ECLAIMS;
    }

    if (opt->issuer) {
        if (kx_json_get_str(c->claims, "iss", &s, &len) != KX_JSON_OK
            || len != strlen(opt->issuer)
            || memcmp(s, opt->issuer, len) != 0)
        {
            return KX_JWT_EISSUER;
        }
    }

    if (opt->audience) {
        aud = kx_json_obj_get(c->claims, "aud");
        found = 0;

        if (kx_json_type(aud) == KX_JSON_STRING) {
            s = kx_json_str(aud, &len);
            found = (len == strlen(opt->audience)
                     && memcmp(s, opt->audience, len) == 0);

        } else if (kx_json_type(aud) == KX_JSON_ARRAY) {
            for (i = 0; i < kx_json_arr_len(aud) && !found; i++) {
                v = kx_json_arr_at(aud, i);
                s = kx_json_str(v, &len);
                found = (s && len == strlen(opt->audience)
                         && memcmp(s, opt->audience, len) == 0);
            }
        }

        if (!found) {
            return KX_JWT_EAUDIENCE;
        }
    }

    return KX_JWT_OK;
}


int
kx_jwt_check_times(const kx_jwt_claims_t *c, const kx_jwt_verify_t *opt)
{
    /* exp is the token's, any int64: only our own values are summed */
    if (c->has_exp && opt->now - opt->leeway > c->exp) {
        return KX_JWT_EEXPIRED;
    }

    if (c->has_nbf && opt->now + opt->leeway < c->nbf) {
        return KX_JWT_ENOTYET;
    }

    return KX_JWT_OK;
}


int
kx_jwt_issue(const kx_jwt_key_t *key, const char *alg_name, const char *sub,
    int64_t iat, int64_t exp, const char *issuer, const char *audience,
    char **out)
{
    int         rc;
    char       *s;
    jwt_t      *jwt;
    jwt_alg_t   alg;

    *out = NULL;

    /* no name: the first HMAC algorithm the key allows */
    if (alg_name == NULL) {
        alg_name = (key->algs & (1u << JWT_ALG_HS256)) ? "HS256"
                   : (key->algs & (1u << JWT_ALG_HS384)) ? "HS384" : "HS512";
    }

    alg = kx_jwt_alg(alg_name);
    if (alg != JWT_ALG_HS256 && alg != JWT_ALG_HS384
        && alg != JWT_ALG_HS512)
    {
        return KX_JWT_EALG;
    }

    if (!(key->algs & (1u << alg))) {
        return KX_JWT_EALG;
    }

    if (jwt_new(&jwt) != 0) {
        return KX_JWT_ENOMEM;
    }

    rc = KX_JWT_ENOMEM;

    if (jwt_set_alg(jwt, alg, key->key, (int) key->key_len) != 0
        || (key->kid[0] && jwt_add_header(jwt, "kid", key->kid) != 0)
        || jwt_add_grant(jwt, "sub", sub) != 0
        || jwt_add_grant_int(jwt, "iat", (long) iat) != 0
        || jwt_add_grant_int(jwt, "exp", (long) exp) != 0
        || (issuer && jwt_add_grant(jwt, "iss", issuer) != 0)
        || (audience && jwt_add_grant(jwt, "aud", audience) != 0))
    {
        goto done;
    }

    s = jwt_encode_str(jwt);
    if (s == NULL) {
        goto done;
    }

    *out = s;
    rc = KX_JWT_OK;

done:

    jwt_free(jwt);

    return rc;
}


int
kx_jwt_keyset_add_jwks(kx_jwt_keyset_t *ks, const char *json, size_t len,
    char *err, size_t err_size)
{
    int                    rc;
    size_t                 i;
    kx_json_doc_t         *doc;
    kx_json_perr_t         perr;
    kx_json_limits_t       lim = KX_JSON_LIMITS_DEFAULT;
    const kx_json_node_t  *keys;

    if (kx_json_parse(json, len, &lim, &doc, &perr) != 0) {
        snprintf(err, err_size, "invalid JSON: %s", perr.msg);
        return KX_JWT_EKEY;
    }

    keys = kx_json_obj_get(kx_json_root(doc), "keys");
    if (kx_json_type(keys) != KX_JSON_ARRAY) {
        snprintf(err, err_size, "no \"keys\" array");
        kx_json_free(doc);
        return KX_JWT_EKEY;
    }

    rc = KX_JWT_OK;

    for (i = 0; i < kx_json_arr_len(keys) && rc == KX_JWT_OK; i++) {
        rc = kx_jwt_jwk_add(ks, kx_json_arr_at(keys, i), err, err_size);
    }

    kx_json_free(doc);

    return rc;
}


static int
kx_jwt_jwk_add(kx_jwt_keyset_t *ks, const kx_json_node_t *jwk, char *err,
    size_t err_size)
{
    int          rc;
    char        *pem, kid[KX_JWT_KID_MAX + 1];
    size_t       len, pem_len;
    unsigned     algs, family;
    const char  *kty, *s, *crv;
    size_t       kty_len, crv_len;

    kid[0] = '\0';
    if (kx_json_get_str(jwk, "kid", &s, &len) == KX_JSON_OK) {
        if (len > KX_JWT_KID_MAX) {
            snprintf(err, err_size, "kid too long");
            return KX_JWT_EKEY;
        }
        memcpy(kid, s, len);
        kid[len] = '\0';
    }

    /* encryption keys are not for us */
    if (kx_json_get_str(jwk, "use", &s, &len) == KX_JSON_OK
        && !(len == 3 && memcmp(s, "sig", 3) == 0))
    {
        return KX_JWT_OK;
    }

    if (kx_json_get_str(jwk, "kty", &kty, &kty_len) != KX_JSON_OK) {
        snprintf(err, err_size, "key \"%.64s\": no kty", kid);
        return KX_JWT_EKEY;
    }

    crv = NULL;
    crv_len = 0;
    (void) kx_json_get_str(jwk, "crv", &crv, &crv_len);

    /* what a key of this type can sign with */
    if (kty_len == 3 && memcmp(kty, "RSA", 3) == 0) {
        rc = kx_jwt_algs_parse("RS256,RS384,RS512", 17, &family);

    } else if (kty_len == 3 && memcmp(kty, "oct", 3) == 0) {
        rc = kx_jwt_algs_parse("HS256,HS384,HS512", 17, &family);

    } else if (kty_len == 2 && memcmp(kty, "EC", 2) == 0 && crv
               && crv_len == 5 && memcmp(crv, "P-256", 5) == 0)
    {
        rc = kx_jwt_algs_parse("ES256", 5, &family);

    } else if (kty_len == 2 && memcmp(kty, "EC", 2) == 0 && crv
               && crv_len == 5 && memcmp(crv, "P-384", 5) == 0)
    {
        rc = kx_jwt_algs_parse("ES384", 5, &family);

    } else {
        family = 0;
        rc = KX_JWT_EKEY;
    }

    algs = family;

    /*
     * "alg" narrows the type's list, never leaves it: an RSA or EC
     * public key allowed as an HMAC secret would let anyone sign.
     */
    if (rc == KX_JWT_OK
        && kx_json_get_str(jwk, "alg", &s, &len) == KX_JSON_OK)
    {
        rc = kx_jwt_algs_parse(s, len, &algs);

        if (rc == KX_JWT_OK && (algs & ~family)) {
            rc = KX_JWT_EKEY;
        }
    }

    if (rc != KX_JWT_OK) {
        snprintf(err, err_size, "key \"%.64s\": unsupported kty/alg", kid);
        return KX_JWT_EKEY;
    }

    pem = NULL;

    if (kty_len == 3 && memcmp(kty, "oct", 3) == 0) {
        unsigned char *k = kx_jwt_b64_field(jwk, "k", &len);
        if (k == NULL) {
            snprintf(err, err_size, "key \"%.64s\": bad \"k\"", kid);
            return KX_JWT_EKEY;
        }
        rc = kx_jwt_keyset_add(ks, kid, algs, k, len);
        OPENSSL_cleanse(k, len);
        free(k);
        return rc;
    }

    if (kty_len == 3 && memcmp(kty, "RSA", 3) == 0) {
        rc = kx_jwt_pem_rsa(jwk, &pem, &pem_len);

    } else if (crv && crv_len == 5 && memcmp(crv, "P-256", 5) == 0) {
        rc = kx_jwt_pem_ec(jwk, "prime256v1", 32, &pem, &pem_len);

    } else if (crv && crv_len == 5 && memcmp(crv, "P-384", 5) == 0) {
        rc = kx_jwt_pem_ec(jwk, "secp384r1", 48, &pem, &pem_len);

    } else {
        rc = KX_JWT_EKEY;
    }

    if (rc != KX_JWT_OK) {
        snprintf(err, err_size, "key \"%.64s\": invalid public key", kid);
        ERR_clear_error();
        return rc;
    }

    rc = kx_jwt_keyset_add(ks, kid, algs, (unsigned char *) pem, pem_len);
    free(pem);

    return rc;
}


static unsigned char *
kx_jwt_b64_field(const kx_json_node_t *jwk, const char *name, size_t *len)
{
    long            n;
    size_t          slen;
    const char     *s;
    unsigned char  *buf;

    if (kx_json_get_str(jwk, name, &s, &slen) != KX_JSON_OK || slen == 0) {
        return NULL;
    }

    buf = malloc(kx_base64_decoded_max(slen) + 1);
    if (buf == NULL) {
        return NULL;
    }

    n = kx_base64url_decode(buf, s, slen);
    if (n <= 0) {
        free(buf);
        return NULL;
    }

    *len = (size_t) n;

    return buf;
}


static int
kx_jwt_pem_rsa(const kx_json_node_t *jwk, char **pem, size_t *len)
{
    int              rc;
    size_t           nlen, elen;
    BIGNUM          *n, *e;
    unsigned char   *nb, *eb;
    OSSL_PARAM_BLD  *bld;

    nb = kx_jwt_b64_field(jwk, "n", &nlen);
    eb = kx_jwt_b64_field(jwk, "e", &elen);

    rc = KX_JWT_EKEY;
    n = NULL;
    e = NULL;
    bld = NULL;

    if (nb == NULL || eb == NULL || nlen < 256) {
        goto done;      /* also refuses RSA keys under 2048 bits */
    }

    n = BN_bin2bn(nb, (int) nlen, NULL);
    e = BN_bin2bn(eb, (int) elen, NULL);
    bld = OSSL_PARAM_BLD_new();

    if (n == NULL || e == NULL || bld == NULL
        || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n)
        || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e))
    {
        goto done;
    }

    rc = kx_jwt_pem_from_params("RSA", bld, pem, len);

done:

    OSSL_PARAM_BLD_free(bld);
    BN_free(n);
    BN_free(e);
    free(nb);
    free(eb);

    return rc;
}


static int
kx_jwt_pem_ec(const kx_json_node_t *jwk, const char *group, size_t coord,
    char **pem, size_t *len)
{
    int              rc;
    size_t           xlen, ylen;
    unsigned char   *x, *y, point[1 + 2 * 66];
    OSSL_PARAM_BLD  *bld;

    x = kx_jwt_b64_field(jwk, "x", &xlen);
    y = kx_jwt_b64_field(jwk, "y", &ylen);

    rc = KX_JWT_EKEY;
    bld = NULL;

    if (x == NULL || y == NULL || xlen != coord || ylen != coord) {
        goto done;
    }

    /* an uncompressed point: 0x04 || x || y */
    point[0] = 0x04;
    memcpy(point + 1, x, coord);
    memcpy(point + 1 + coord, y, coord);

    bld = OSSL_PARAM_BLD_new();

    if (bld == NULL
        || !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
                                            group, 0)
        || !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY,
                                             point, 1 + 2 * coord))
    {
        goto done;
    }

    rc = kx_jwt_pem_from_params("EC", bld, pem, len);

done:

    OSSL_PARAM_BLD_free(bld);
    free(x);
    free(y);

    return rc;
}


static int
kx_jwt_pem_from_params(const char *type, OSSL_PARAM_BLD *bld, char **pem,
    size_t *len)
{
    int            rc;
    BIO           *bio;
    long           n;
    char          *data;
    EVP_PKEY      *pkey;
    OSSL_PARAM    *params;
    EVP_PKEY_CTX  *ctx;

    rc = KX_JWT_EKEY;
    pkey = NULL;
    bio = NULL;

    params = OSSL_PARAM_BLD_to_param(bld);
    ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);

    if (params == NULL || ctx == NULL
        || EVP_PKEY_fromdata_init(ctx) <= 0
        || EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
    {
        goto done;
    }

    bio = BIO_new(BIO_s_mem());
    if (bio == NULL || !PEM_write_bio_PUBKEY(bio, pkey)) {
        goto done;
    }

    n = BIO_get_mem_data(bio, &data);
    if (n <= 0) {
        goto done;
    }

    *pem = malloc((size_t) n + 1);
    if (*pem == NULL) {
        rc = KX_JWT_ENOMEM;
        goto done;
    }

    memcpy(*pem, data, (size_t) n);
    (*pem)[n] = '\0';
    *len = (size_t) n;
    rc = KX_JWT_OK;

done:

    BIO_free(bio);
    EVP_PKEY_free(pkey);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);

    return rc;
}


const char *
kx_jwt_strerror(int rc)
{
    switch (rc) {
    case KX_JWT_OK:          return "ok";
    case KX_JWT_EMALFORMED:  return "malformed token";
    case KX_JWT_ETOOLARGE:   return "token too large";
    case KX_JWT_EALG:        return "algorithm not allowed";
    case KX_JWT_EKID:        return "unknown key id";
    case KX_JWT_ESIGNATURE:  return "invalid signature";
    case KX_JWT_EEXPIRED:    return "token expired";
    case KX_JWT_ENOTYET:     return "token not yet valid";
    case KX_JWT_EISSUER:     return "wrong issuer";
    case KX_JWT_EAUDIENCE:   return "wrong audience";
    case KX_JWT_ECLAIMS:     return "invalid claims";
    case KX_JWT_ENOMEM:      return "out of memory";
    case KX_JWT_EKEY:        return "unusable key";
    default:                 return "unknown error";
    }
}
