
/*
 * Copyright (C) Kianax
 *
 * JWT authentication in the access phase (src/gateway/kx_jwt.c does the
 * verifying).  Tokens come from "Authorization: Bearer", or, where
 * configured, a cookie or a query argument (a browser cannot set headers
 * on a WebSocket).  Keys are read at configuration time, so
 * "nginx -s reload" picks up rotated key files.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_kx.h"
#include "kx_jwt_conf.h"
#include "gateway/kx_jwt.h"


#define NGX_HTTP_KX_JWT_OFF       0
#define NGX_HTTP_KX_JWT_ON        1
#define NGX_HTTP_KX_JWT_OPTIONAL  2


typedef struct {
    kx_jwt_keyset_t   keys;
    ngx_uint_t        cache_size;
    kx_jwt_cache_t   *cache;        /* per worker, made on first use */
} ngx_http_kx_jwt_main_conf_t;


typedef struct {
    ngx_uint_t        mode;
    time_t            leeway;
    size_t            max_size;
    ngx_str_t         issuer;       /* NUL-terminated, or empty */
    ngx_str_t         audience;
    ngx_int_t         cookie;       /* index of $cookie_<name>, or -1 */
    ngx_int_t         arg;          /* index of $arg_<name>, or -1 */
} ngx_http_kx_jwt_loc_conf_t;


typedef struct {
    ngx_uint_t        verified;
    kx_jwt_claims_t   claims;
} ngx_http_kx_jwt_ctx_t;


static ngx_int_t ngx_http_kx_jwt_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_kx_jwt_token(ngx_http_request_t *r,
    ngx_http_kx_jwt_loc_conf_t *jlcf, ngx_str_t *token);
static ngx_int_t ngx_http_kx_jwt_unauthorized(ngx_http_request_t *r,
    const char *code, const char *message, ngx_uint_t invalid);
static void ngx_http_kx_jwt_cleanup(void *data);
static ngx_http_kx_jwt_ctx_t *ngx_http_kx_jwt_get_ctx(ngx_http_request_t *r);
static ngx_int_t ngx_http_kx_jwt_sub_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_kx_jwt_claim_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_kx_jwt_add_variables(ngx_conf_t *cf);
static ngx_int_t ngx_http_kx_jwt_init(ngx_conf_t *cf);
static void *ngx_http_kx_jwt_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_kx_jwt_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_kx_jwt_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_kx_jwt_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_http_kx_jwt_key(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_kx_jwt_jwks(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_kx_jwt_source(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static kx_jwt_cache_t *ngx_http_kx_jwt_cache_create(
    ngx_http_kx_jwt_main_conf_t *jmcf);
static void ngx_http_kx_jwt_cache_cleanup(void *data);


static ngx_conf_enum_t  ngx_http_kx_jwt_modes[] = {
    { ngx_string("off"), NGX_HTTP_KX_JWT_OFF },
    { ngx_string("on"), NGX_HTTP_KX_JWT_ON },
    { ngx_string("optional"), NGX_HTTP_KX_JWT_OPTIONAL },
    { ngx_null_string, 0 }
};


static ngx_command_t  ngx_http_kx_jwt_commands[] = {

    { ngx_string("kx_jwt"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_kx_jwt_loc_conf_t, mode),
      &ngx_http_kx_jwt_modes },

    { ngx_string("kx_jwt_key"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE3,
      ngx_http_kx_jwt_key,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("kx_jwt_jwks"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_kx_jwt_jwks,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("kx_jwt_cache_size"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_kx_jwt_main_conf_t, cache_size),
      NULL },

    { ngx_string("kx_jwt_leeway"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_kx_jwt_loc_conf_t, leeway),
      NULL },

    { ngx_string("kx_jwt_max_size"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_kx_jwt_loc_conf_t, max_size),
      NULL },

    { ngx_string("kx_jwt_issuer"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_kx_jwt_loc_conf_t, issuer),
      NULL },

    { ngx_string("kx_jwt_audience"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_kx_jwt_loc_conf_t, audience),
      NULL },

    { ngx_string("kx_jwt_cookie"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_kx_jwt_source,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_kx_jwt_loc_conf_t, cookie),
      "cookie_" },

    { ngx_string("kx_jwt_arg"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_kx_jwt_source,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_kx_jwt_loc_conf_t, arg),
      "arg_" },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_kx_jwt_module_ctx = {
    ngx_http_kx_jwt_add_variables,         /* preconfiguration */
    ngx_http_kx_jwt_init,                  /* postconfiguration */

    ngx_http_kx_jwt_create_main_conf,      /* create main configuration */
    ngx_http_kx_jwt_init_main_conf,        /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_kx_jwt_create_loc_conf,       /* create location configuration */
    ngx_http_kx_jwt_merge_loc_conf         /* merge location configuration */
};


ngx_module_t  ngx_http_kx_jwt_module = {
    NGX_MODULE_V1,
    &ngx_http_kx_jwt_module_ctx,           /* module context */
    ngx_http_kx_jwt_commands,              /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_http_variable_t  ngx_http_kx_jwt_vars[] = {

    { ngx_string("kx_jwt_sub"), NULL, ngx_http_kx_jwt_sub_variable, 0, 0, 0 },

    { ngx_string("kx_jwt_claim_"), NULL, ngx_http_kx_jwt_claim_variable,
      0, NGX_HTTP_VAR_PREFIX, 0 },

      ngx_http_null_variable
};


static ngx_int_t
ngx_http_kx_jwt_handler(ngx_http_request_t *r)
{
    int                            rc;
    ngx_str_t                      token;
    const char                    *code;
    kx_jwt_verify_t                opt;
    ngx_pool_cleanup_t            *cln;
    ngx_http_kx_jwt_ctx_t         *ctx;
    ngx_http_kx_jwt_loc_conf_t    *jlcf;
    ngx_http_kx_jwt_main_conf_t   *jmcf;

    jlcf = ngx_http_get_module_loc_conf(r, ngx_http_kx_jwt_module);

    if (jlcf->mode == NGX_HTTP_KX_JWT_OFF || r != r->main) {
        return NGX_DECLINED;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_kx_jwt_module);
    if (ctx && ctx->verified) {
        return NGX_DECLINED;
    }

    if (ngx_http_kx_jwt_token(r, jlcf, &token) != NGX_OK) {
        if (jlcf->mode == NGX_HTTP_KX_JWT_OPTIONAL) {
            return NGX_DECLINED;
        }

        return ngx_http_kx_jwt_unauthorized(r, "unauthorized",
                                            "a bearer token is required", 0);
    }

    jmcf = ngx_http_get_module_main_conf(r, ngx_http_kx_jwt_module);

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_kx_jwt_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln->handler = ngx_http_kx_jwt_cleanup;
    cln->data = ctx;

    ngx_memzero(&opt, sizeof(kx_jwt_verify_t));
    opt.now = ngx_time();
    opt.leeway = jlcf->leeway;
    opt.max_len = jlcf->max_size;
    opt.issuer = jlcf->issuer.len ? (const char *) jlcf->issuer.data : NULL;
    opt.audience = jlcf->audience.len ? (const char *) jlcf->audience.data
                                      : NULL;

    if (jmcf->cache == NULL && jmcf->cache_size) {
        jmcf->cache = ngx_http_kx_jwt_cache_create(jmcf);
    }

    rc = kx_jwt_verify_cached(&jmcf->keys, jmcf->cache,
                              (const char *) token.data, token.len, &opt,
                              &ctx->claims);

    if (rc == KX_JWT_OK && ctx->claims.sub == NULL) {
        kx_jwt_claims_free(&ctx->claims);
        rc = KX_JWT_ECLAIMS;
    }

    if (rc != KX_JWT_OK) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "kx_jwt: token refused: %s", kx_jwt_strerror(rc));

        if (rc == KX_JWT_ENOMEM) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        code = (rc == KX_JWT_EEXPIRED) ? "token_expired" : "invalid_token";

        return ngx_http_kx_jwt_unauthorized(r, code, kx_jwt_strerror(rc), 1);
    }

    ctx->verified = 1;
    ngx_http_set_ctx(r, ctx, ngx_http_kx_jwt_module);

    return NGX_DECLINED;
}


/*
 * A token that came outside the headers (a WebSocket's first message),
 * checked as the access handler checks one in the location whose
 * configuration main_conf and loc_conf are (r->main_conf, r->loc_conf:
 * they outlive the request).  On KX_JWT_OK the caller frees the claims.
 */
int
ngx_http_kx_jwt_verify_token(void **main_conf, void **loc_conf,
    ngx_str_t *token, kx_jwt_claims_t *claims)
{
    int                           rc;
    kx_jwt_verify_t               opt;
    ngx_http_kx_jwt_loc_conf_t   *jlcf;
    ngx_http_kx_jwt_main_conf_t  *jmcf;

    jmcf = main_conf[ngx_http_kx_jwt_module.ctx_index];
    jlcf = loc_conf[ngx_http_kx_jwt_module.ctx_index];

    if (jmcf->keys.nkeys == 0) {
        return KX_JWT_EKID;
    }

    ngx_memzero(&opt, sizeof(kx_jwt_verify_t));
    opt.now = ngx_time();
    opt.leeway = jlcf->leeway;
    opt.max_len = jlcf->max_size;
    opt.issuer = jlcf->issuer.len ? (const char *) jlcf->issuer.data : NULL;
    opt.audience = jlcf->audience.len ? (const char *) jlcf->audience.data
                                      : NULL;

    if (jmcf->cache == NULL && jmcf->cache_size) {
        jmcf->cache = ngx_http_kx_jwt_cache_create(jmcf);
    }

    rc = kx_jwt_verify_cached(&jmcf->keys, jmcf->cache,
                              (const char *) token->data, token->len, &opt,
                              claims);

    if (rc == KX_JWT_OK && claims->sub == NULL) {
        kx_jwt_claims_free(claims);
        rc = KX_JWT_ECLAIMS;
    }

    return rc;
}


const kx_jwt_key_t *
ngx_http_kx_jwt_issuing_key(ngx_http_request_t *r, ngx_str_t *kid)
{
    ngx_uint_t                    i;
    kx_jwt_key_t                 *k;
    ngx_http_kx_jwt_main_conf_t  *jmcf;

    jmcf = ngx_http_get_module_main_conf(r, ngx_http_kx_jwt_module);
    k = jmcf->keys.keys;

    for (i = 0; i < jmcf->keys.nkeys; i++) {
        if (!kx_jwt_algs_hmac_only(k[i].algs)) {
            continue;
        }

        if (kid->len == 0
            || (ngx_strlen(k[i].kid) == kid->len
                && ngx_strncmp(k[i].kid, kid->data, kid->len) == 0))
        {
            return &k[i];
        }
    }

    return NULL;
}


static ngx_int_t
ngx_http_kx_jwt_token(ngx_http_request_t *r, ngx_http_kx_jwt_loc_conf_t *jlcf,
    ngx_str_t *token)
{
    u_char                     *p, *last;
    ngx_table_elt_t            *h;
    ngx_http_variable_value_t  *vv;

    h = r->headers_in.authorization;

    if (h) {
        p = h->value.data;
        last = p + h->value.len;

        if (h->value.len > 7
            && ngx_strncasecmp(p, (u_char *) "Bearer ", 7) == 0)
        {
            for (p += 7; p < last && *p == ' '; p++) { /* void */ }

            while (last > p && last[-1] == ' ') {
                last--;
            }

            if (p < last) {
                token->data = p;
                token->len = last - p;
                return NGX_OK;
            }
        }

        return NGX_DECLINED;
    }

    if (jlcf->cookie != NGX_CONF_UNSET) {
        vv = ngx_http_get_indexed_variable(r, jlcf->cookie);
        if (vv && !vv->not_found && vv->len) {
            token->data = vv->data;
            token->len = vv->len;
            return NGX_OK;
        }
    }

    if (jlcf->arg != NGX_CONF_UNSET) {
        vv = ngx_http_get_indexed_variable(r, jlcf->arg);
        if (vv && !vv->not_found && vv->len) {
            token->data = vv->data;
            token->len = vv->len;
            return NGX_OK;
        }
    }

    return NGX_DECLINED;
}


static ngx_int_t
ngx_http_kx_jwt_unauthorized(ngx_http_request_t *r, const char *code,
    const char *message, ngx_uint_t invalid)
{
    static ngx_str_t  challenge = ngx_string("Bearer realm=\"kianax\"");
    static ngx_str_t  invalid_challenge =
        ngx_string("Bearer realm=\"kianax\", error=\"invalid_token\"");

    if (ngx_http_kx_add_header(r, "WWW-Authenticate",
                               invalid ? &invalid_challenge : &challenge)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /*
     * An access handler that answers itself finalizes the request and
     * returns NGX_DONE: a status code would make nginx send its own page.
     */
    ngx_http_finalize_request(r, ngx_http_kx_send_error(r,
                                  NGX_HTTP_UNAUTHORIZED, code, message));

    return NGX_DONE;
}


static void
ngx_http_kx_jwt_cleanup(void *data)
{
    ngx_http_kx_jwt_ctx_t *ctx = data;

    kx_jwt_claims_free(&ctx->claims);
}


static ngx_http_kx_jwt_ctx_t *
ngx_http_kx_jwt_get_ctx(ngx_http_request_t *r)
{
    ngx_http_kx_jwt_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r->main, ngx_http_kx_jwt_module);

    return (ctx && ctx->verified) ? ctx : NULL;
}


static ngx_int_t
ngx_http_kx_jwt_sub_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_kx_jwt_ctx_t  *ctx;

    ctx = ngx_http_kx_jwt_get_ctx(r);

    if (ctx == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->data = (u_char *) ctx->claims.sub;
    v->len = ctx->claims.sub_len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    return NGX_OK;
}


/* $kx_jwt_claim_<name>: strings and numbers as they are, others as JSON */
static ngx_int_t
ngx_http_kx_jwt_claim_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t *name = (ngx_str_t *) data;

    size_t                  len, prefix;
    const char             *s;
    kx_jw_t                 w;
    ngx_http_kx_jwt_ctx_t  *ctx;
    const kx_json_node_t   *node;

    prefix = sizeof("kx_jwt_claim_") - 1;
    ctx = ngx_http_kx_jwt_get_ctx(r);

    node = ctx ? kx_json_obj_getn(ctx->claims.claims,
                                  (const char *) name->data + prefix,
                                  name->len - prefix)
               : NULL;

    switch (kx_json_type(node)) {

    case KX_JSON_STRING:
        s = kx_json_str(node, &len);
        break;

    case KX_JSON_NUMBER:
        s = kx_json_num_raw(node, &len);
        break;

    case KX_JSON_NONE:
        v->not_found = 1;
        return NGX_OK;

    default:
        kx_jw_init(&w);
        kx_jw_node(&w, node);

        if (kx_jw_finish(&w, &s, &len) != 0) {
            kx_jw_free(&w);
            return NGX_ERROR;
        }

        v->data = ngx_pnalloc(r->pool, len);
        if (v->data == NULL) {
            kx_jw_free(&w);
            return NGX_ERROR;
        }

        ngx_memcpy(v->data, s, len);
        kx_jw_free(&w);
        s = (const char *) v->data;
    }

    v->data = (u_char *) s;
    v->len = len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    return NGX_OK;
}


static ngx_int_t
ngx_http_kx_jwt_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_kx_jwt_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_kx_jwt_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_ACCESS_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_kx_jwt_handler;

    return NGX_OK;
}


static void *
ngx_http_kx_jwt_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_kx_jwt_main_conf_t  *jmcf;

    jmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_kx_jwt_main_conf_t));
    if (jmcf == NULL) {
        return NULL;
    }

    /* the keys live as long as this configuration */
    if (kx_jwt_conf_keyset_cleanup(cf, &jmcf->keys) != NGX_OK) {
        return NULL;
    }

    jmcf->cache_size = NGX_CONF_UNSET_UINT;

    return jmcf;
}


/*
 * Verified tokens are cached per worker: a client sends the same token
 * with every request, and the signature check and two JSON parses are
 * most of what authentication costs.  The cache belongs to this cycle,
 * so a reload (new keys) starts with an empty one.
 */
static kx_jwt_cache_t *
ngx_http_kx_jwt_cache_create(ngx_http_kx_jwt_main_conf_t *jmcf)
{
    kx_jwt_cache_t      *cache;
    ngx_pool_cleanup_t  *cln;

    cln = ngx_pool_cleanup_add(ngx_cycle->pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    cache = kx_jwt_cache_create(jmcf->cache_size);
    if (cache == NULL) {
        return NULL;
    }

    cln->handler = ngx_http_kx_jwt_cache_cleanup;
    cln->data = jmcf;

    return cache;
}


static void
ngx_http_kx_jwt_cache_cleanup(void *data)
{
    ngx_http_kx_jwt_main_conf_t *jmcf = data;

    kx_jwt_cache_destroy(jmcf->cache);
    jmcf->cache = NULL;
}


static char *
ngx_http_kx_jwt_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_kx_jwt_main_conf_t *jmcf = conf;

    ngx_conf_init_uint_value(jmcf->cache_size, 1024);

    return NGX_CONF_OK;
}


static void *
ngx_http_kx_jwt_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_kx_jwt_loc_conf_t  *jlcf;

    jlcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_kx_jwt_loc_conf_t));
    if (jlcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     jlcf->issuer = { 0, NULL };
     *     jlcf->audience = { 0, NULL };
     */

    jlcf->mode = NGX_CONF_UNSET_UINT;
    jlcf->leeway = NGX_CONF_UNSET;
    jlcf->max_size = NGX_CONF_UNSET_SIZE;
    jlcf->cookie = NGX_CONF_UNSET;
    jlcf->arg = NGX_CONF_UNSET;

    return jlcf;
}


static char *
ngx_http_kx_jwt_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_kx_jwt_loc_conf_t *prev = parent;
    ngx_http_kx_jwt_loc_conf_t *conf = child;

    ngx_http_kx_jwt_main_conf_t  *jmcf;

    ngx_conf_merge_uint_value(conf->mode, prev->mode, NGX_HTTP_KX_JWT_OFF);
    ngx_conf_merge_sec_value(conf->leeway, prev->leeway, 30);
    ngx_conf_merge_size_value(conf->max_size, prev->max_size, 8192);
    ngx_conf_merge_str_value(conf->issuer, prev->issuer, "");
    ngx_conf_merge_str_value(conf->audience, prev->audience, "");
    ngx_conf_merge_value(conf->cookie, prev->cookie, NGX_CONF_UNSET);
    ngx_conf_merge_value(conf->arg, prev->arg, NGX_CONF_UNSET);

    if (conf->mode != NGX_HTTP_KX_JWT_OFF) {
        jmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_kx_jwt_module);

        if (jmcf->keys.nkeys == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"kx_jwt\" is on but no \"kx_jwt_key\" or "
                               "\"kx_jwt_jwks\" is configured");
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


/* kx_jwt_key <kid|-> <HS256,...> <file | env:NAME> */
static char *
ngx_http_kx_jwt_key(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_kx_jwt_main_conf_t *jmcf = conf;

    return kx_jwt_conf_key(cf, &jmcf->keys);
}


static char *
ngx_http_kx_jwt_jwks(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_kx_jwt_main_conf_t *jmcf = conf;

    return kx_jwt_conf_jwks(cf, &jmcf->keys);
}


/* kx_jwt_cookie <name>, kx_jwt_arg <name>: via $cookie_<name>, $arg_<name> */
static char *
ngx_http_kx_jwt_source(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    ngx_int_t   *index;
    ngx_str_t   *value, name;
    const char  *prefix;

    index = (ngx_int_t *) (p + cmd->offset);
    if (*index != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    value = cf->args->elts;
    prefix = cmd->post;

    name.len = ngx_strlen(prefix) + value[1].len;
    name.data = ngx_pnalloc(cf->pool, name.len);
    if (name.data == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_sprintf(name.data, "%s%V", prefix, &value[1]);

    *index = ngx_http_get_variable_index(cf, &name);
    if (*index == NGX_ERROR) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}
