
/*
 * Copyright (C) Kianax
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_kx.h"
#include "kx_jwt_conf.h"


static void kx_jwt_conf_free_keys(void *data);


/* kx_jwt_key <kid|-> <HS256,...> <file | env:NAME> */

char *
kx_jwt_conf_key(ngx_conf_t *cf, kx_jwt_keyset_t *ks)
{
    char        *env;
    u_char      *key;
    size_t       len;
    unsigned     algs;
    ngx_str_t   *value, kid, file;
    ngx_int_t    rc;

    value = cf->args->elts;

    kid = value[1];
    if (kid.len == 1 && kid.data[0] == '-') {
        kid.data[0] = '\0';
        kid.len = 0;
    }

    if (kx_jwt_algs_parse((const char *) value[2].data, value[2].len, &algs)
        != KX_JWT_OK)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid algorithm list \"%V\" (\"none\" is "
                           "never allowed)", &value[2]);
        return NGX_CONF_ERROR;
    }

    if (ngx_strncmp(value[3].data, "env:", 4) == 0) {
        /* the master still has its full environment here */
        env = getenv((const char *) value[3].data + 4);

        if (env == NULL || *env == '\0') {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "environment variable \"%s\" is not set",
                               value[3].data + 4);
            return NGX_CONF_ERROR;
        }

        rc = kx_jwt_keyset_add(ks, (const char *) kid.data, algs,
                               (u_char *) env, ngx_strlen(env));

    } else {
        file = value[3];

        if (ngx_conf_full_name(cf->cycle, &file, 1) != NGX_OK) {
            return NGX_CONF_ERROR;
        }

        key = ngx_http_kx_read_file(cf, &file, &len);
        if (key == NULL) {
            return NGX_CONF_ERROR;
        }

        /* a trailing newline is not part of an HMAC secret */
        if (kx_jwt_algs_hmac_only(algs)) {
            while (len && (key[len - 1] == '\n' || key[len - 1] == '\r')) {
                len--;
            }
        }

        rc = kx_jwt_keyset_add(ks, (const char *) kid.data, algs, key, len);
        ngx_explicit_memzero(key, len);
    }

    if (rc != KX_JWT_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "%V \"%V\": %s", &value[0],
                           &value[1], kx_jwt_strerror(rc));
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


char *
kx_jwt_conf_jwks(ngx_conf_t *cf, kx_jwt_keyset_t *ks)
{
    char        err[128];
    u_char     *json;
    size_t      len;
    ngx_str_t  *value, file;

    value = cf->args->elts;
    file = value[1];

    if (ngx_conf_full_name(cf->cycle, &file, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    json = ngx_http_kx_read_file(cf, &file, &len);
    if (json == NULL) {
        return NGX_CONF_ERROR;
    }

    if (kx_jwt_keyset_add_jwks(ks, (const char *) json, len, err,
                               sizeof(err))
        != KX_JWT_OK)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "%V \"%V\": %s", &value[0],
                           &file, err);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


ngx_int_t
kx_jwt_conf_keyset_cleanup(ngx_conf_t *cf, kx_jwt_keyset_t *ks)
{
    ngx_pool_cleanup_t  *cln;

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    cln->handler = kx_jwt_conf_free_keys;
    cln->data = ks;

    return NGX_OK;
}


static void
kx_jwt_conf_free_keys(void *data)
{
    kx_jwt_keyset_free(data);
}
