
/*
 * Copyright (C) Kianax
 *
 * The core of every Kianax instance: its service name, request ids, the
 * route label of a request, JSON errors in place of nginx's HTML pages, and
 * the GET /health and GET /metrics handlers (kx_http_health.c,
 * kx_http_metrics.c).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_kx.h"
#include "ngx_http_kx_core.h"
#include "core/kx_error.h"


#define KX_REQUEST_ID_MAX  128


typedef struct {
    ngx_uint_t   status;
    ngx_str_t    code;
} ngx_http_kx_error_conf_t;


typedef struct {
    ngx_str_t                  route;
    ngx_http_kx_error_conf_t  *error;
    ngx_str_t                  json;         /* kx_json_file's content */
    ngx_http_kx_cors_conf_t    cors;
    ngx_http_kx_alog_t        *access_log;   /* NULL: off */
} ngx_http_kx_core_loc_conf_t;


static ngx_int_t ngx_http_kx_core_add_variables(ngx_conf_t *cf);
static ngx_int_t ngx_http_kx_core_init(ngx_conf_t *cf);
static void *ngx_http_kx_core_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_kx_core_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_kx_core_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_kx_core_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_http_kx_error(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_kx_health(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_kx_metrics(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_kx_error_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_kx_request_id_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static uint64_t ngx_http_kx_request_id_next(void);
static void ngx_http_kx_request_id_seed(void);
static ngx_int_t ngx_http_kx_route_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_kx_service_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_kx_route_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_kx_log_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_kx_cors_phase(ngx_http_request_t *r);
static char *ngx_http_kx_json_file(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_kx_json_file_handler(ngx_http_request_t *r);


static ngx_command_t  ngx_http_kx_core_commands[] = {

    { ngx_string("kx_service"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_kx_core_main_conf_t, service),
      NULL },

    { ngx_string("kx_metrics_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_kx_core_main_conf_t, metrics_size),
      NULL },

    { ngx_string("kx_health_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_kx_core_main_conf_t, health_timeout),
      NULL },

    { ngx_string("kx_access_log"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE123,
      ngx_http_kx_access_log_set,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_kx_core_loc_conf_t, access_log),
      NULL },

    { ngx_string("kx_route"),
      NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_kx_core_loc_conf_t, route),
      NULL },

    { ngx_string("kx_error"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS|NGX_CONF_TAKE12,
      ngx_http_kx_error,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("kx_health"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_kx_health,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("kx_metrics"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_kx_metrics,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("kx_json_file"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_kx_json_file,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("kx_cors_origins"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_conf_set_str_array_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_kx_core_loc_conf_t, cors.origins),
      NULL },

    { ngx_string("kx_cors_max_age"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_kx_core_loc_conf_t, cors.max_age),
      NULL },

    { ngx_string("kx_cors_credentials"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_kx_core_loc_conf_t, cors.credentials),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_kx_core_module_ctx = {
    ngx_http_kx_core_add_variables,        /* preconfiguration */
    ngx_http_kx_core_init,                 /* postconfiguration */

    ngx_http_kx_core_create_main_conf,     /* create main configuration */
    ngx_http_kx_core_init_main_conf,       /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_kx_core_create_loc_conf,      /* create location configuration */
    ngx_http_kx_core_merge_loc_conf        /* merge location configuration */
};


ngx_module_t  ngx_http_kx_core_module = {
    NGX_MODULE_V1,
    &ngx_http_kx_core_module_ctx,          /* module context */
    ngx_http_kx_core_commands,             /* module directives */
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


static ngx_http_variable_t  ngx_http_kx_core_vars[] = {

    { ngx_string("kx_request_id"), NULL, ngx_http_kx_request_id_variable,
      0, 0, 0 },

    { ngx_string("kx_route"), NULL, ngx_http_kx_route_variable,
      0, 0, 0 },

    { ngx_string("kx_service"), NULL, ngx_http_kx_service_variable,
      0, 0, 0 },

      ngx_http_null_variable
};


static ngx_str_t  ngx_http_kx_json_type = ngx_string("application/json");
static ngx_str_t  ngx_http_kx_route_name = ngx_string("kx_route");
static ngx_int_t  ngx_http_kx_route_index = NGX_ERROR;
static ngx_str_t  ngx_http_kx_request_id_name = ngx_string("kx_request_id");
static ngx_int_t  ngx_http_kx_request_id_index = NGX_ERROR;


ngx_int_t
ngx_http_kx_send(ngx_http_request_t *r, ngx_uint_t status, ngx_str_t *type,
    u_char *body, size_t len)
{
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    /* a handler may answer before reading the body: drop it */
    if (ngx_http_discard_request_body(r) != NGX_OK) {
        r->keepalive = 0;
    }

    r->headers_out.status = status;
    r->headers_out.content_type = *type;
    r->headers_out.content_type_len = type->len;
    r->headers_out.content_length_n = len;

    if (len == 0 || r->method == NGX_HTTP_HEAD) {
        r->header_only = 1;
        return ngx_http_send_header(r);
    }

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = ngx_cpymem(b->pos, body, len);
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


ngx_int_t
ngx_http_kx_send_json(ngx_http_request_t *r, ngx_uint_t status, u_char *body,
    size_t len)
{
    return ngx_http_kx_send(r, status, &ngx_http_kx_json_type, body, len);
}


ngx_int_t
ngx_http_kx_add_header(ngx_http_request_t *r, const char *name,
    ngx_str_t *value)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    h->key.data = (u_char *) name;
    h->key.len = ngx_strlen(name);
    h->value = *value;

    return NGX_OK;
}


ngx_int_t
ngx_http_kx_send_jw(ngx_http_request_t *r, ngx_uint_t status, kx_jw_t *w)
{
    size_t       len;
    ngx_int_t    rc;
    const char  *s;

    if (kx_jw_finish(w, &s, &len) != 0) {
        kx_jw_free(w);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_kx_send_json(r, status, (u_char *) s, len);

    /* send_json copied the body */
    kx_jw_free(w);

    return rc;
}


ngx_int_t
ngx_http_kx_send_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, const char *message)
{
    size_t   n;
    u_char  *p;

    if (code == NULL) {
        code = kx_error_code_for_status((int) status);
    }

    if (message == NULL) {
        message = kx_error_reason((int) status);
    }

    n = kx_error_json(NULL, 0, code, message);

    p = ngx_pnalloc(r->pool, n + 1);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    n = kx_error_json((char *) p, n + 1, code, message);

    return ngx_http_kx_send_json(r, status, p, n);
}


u_char *
ngx_http_kx_read_file(ngx_conf_t *cf, ngx_str_t *name, size_t *len)
{
    u_char          *buf;
    ssize_t          n;
    ngx_file_t       file;
    ngx_file_info_t  fi;

    ngx_memzero(&file, sizeof(ngx_file_t));
    file.name = *name;
    file.log = cf->log;

    file.fd = ngx_open_file(name->data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (file.fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_open_file_n " \"%V\" failed", name);
        return NULL;
    }

    buf = NULL;

    if (ngx_fd_info(file.fd, &fi) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_fd_info_n " \"%V\" failed", name);
        goto done;
    }

    if (ngx_file_size(&fi) > 1024 * 1024) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"%V\" is too large",
                           name);
        goto done;
    }

    buf = ngx_pnalloc(cf->pool, ngx_file_size(&fi) + 1);
    if (buf == NULL) {
        goto done;
    }

    n = ngx_read_file(&file, buf, ngx_file_size(&fi), 0);
    if (n == NGX_ERROR) {
        buf = NULL;
        goto done;
    }

    buf[n] = '\0';
    *len = n;

done:

    if (ngx_close_file(file.fd) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ALERT, cf->log, ngx_errno,
                      ngx_close_file_n " \"%V\" failed", name);
    }

    return buf;
}


ngx_str_t *
ngx_http_kx_service_name(ngx_http_request_t *r)
{
    ngx_http_kx_core_main_conf_t  *kmcf;

    kmcf = ngx_http_get_module_main_conf(r, ngx_http_kx_core_module);

    return &kmcf->service;
}


static ngx_int_t
ngx_http_kx_error_handler(ngx_http_request_t *r)
{
    ngx_uint_t                    status;
    const char                   *code;
    ngx_http_kx_core_loc_conf_t  *klcf;

    klcf = ngx_http_get_module_loc_conf(r, ngx_http_kx_core_module);

    /*
     * As the target of error_page, r->err_status holds the status nginx
     * was about to answer with; as a plain location, the configured one.
     */
    status = klcf->error->status;

    if (status == 0) {
        status = r->err_status ? r->err_status : NGX_HTTP_NOT_FOUND;
    }

    code = NULL;

    if (klcf->error->code.len) {
        code = (const char *) klcf->error->code.data;
    }

    return ngx_http_kx_send_error(r, status, code, NULL);
}


static char *
ngx_http_kx_error(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_kx_core_loc_conf_t *klcf = conf;

    ngx_str_t                 *value;
    ngx_int_t                  n;
    ngx_http_core_loc_conf_t  *clcf;

    if (klcf->error) {
        return "is duplicate";
    }

    klcf->error = ngx_pcalloc(cf->pool, sizeof(ngx_http_kx_error_conf_t));
    if (klcf->error == NULL) {
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;

    if (cf->args->nelts > 1) {
        n = ngx_atoi(value[1].data, value[1].len);

        if (n < 400 || n > 599) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid error status \"%V\"", &value[1]);
            return NGX_CONF_ERROR;
        }

        klcf->error->status = n;
    }

    if (cf->args->nelts > 2) {
        /* value strings are NUL-terminated by the config parser */
        klcf->error->code = value[2];
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_kx_error_handler;

    return NGX_CONF_OK;
}


static char *
ngx_http_kx_health(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_kx_health_handler;

    return NGX_CONF_OK;
}


static char *
ngx_http_kx_metrics(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_kx_metrics_handler;

    return NGX_CONF_OK;
}


/*
 * Request ids need to be unique, not secret: a per-process counter run
 * through splitmix64 (a bijection, so no repeats) from a random start.
 * OpenSSL's DRBG per request cost ~4 % of a gateway worker's CPU.
 */
static uint64_t  ngx_http_kx_request_id_state;
static ngx_uint_t  ngx_http_kx_request_id_seeded;


static uint64_t
ngx_http_kx_request_id_next(void)
{
    uint64_t  z;

    if (!ngx_http_kx_request_id_seeded) {
        ngx_http_kx_request_id_seed();
    }

    z = (ngx_http_kx_request_id_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;

    return z ^ (z >> 31);
}


/* at the first id of each process: workers must not share a sequence */
static void
ngx_http_kx_request_id_seed(void)
{
    uint64_t  seed;

    seed = 0;

#if (NGX_OPENSSL)
    if (RAND_bytes((u_char *) &seed, sizeof(seed)) != 1) {
        ERR_clear_error();
        seed = 0;
    }
#endif

    seed ^= ((uint64_t) ngx_random() << 32) ^ (uint64_t) ngx_random()
            ^ ((uint64_t) ngx_pid << 48) ^ (uint64_t) ngx_time();

    ngx_http_kx_request_id_state = seed;
    ngx_http_kx_request_id_seeded = 1;
}


/*
 * $kx_request_id: the client's X-Request-ID when it is a sane token, so a
 * trace spans the client and every service; otherwise a fresh random id.
 * Cached for the request's lifetime like any indexed variable.
 */
static ngx_int_t
ngx_http_kx_request_id_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char           *p, *id;
    uint64_t          rnd[2];
    ngx_uint_t        i, ok;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    part = &r->main->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len != sizeof("X-Request-ID") - 1
            || ngx_strncasecmp(h[i].key.data, (u_char *) "X-Request-ID",
                               sizeof("X-Request-ID") - 1) != 0)
        {
            continue;
        }

        ok = (h[i].value.len > 0 && h[i].value.len <= KX_REQUEST_ID_MAX);

        for (p = h[i].value.data; ok && p < h[i].value.data + h[i].value.len;
             p++)
        {
            ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
                 || (*p >= '0' && *p <= '9')
                 || *p == '-' || *p == '_' || *p == '.' || *p == ':';
        }

        if (ok) {
            v->data = h[i].value.data;
            v->len = h[i].value.len;
            goto done;
        }

        break;
    }

    id = ngx_pnalloc(r->pool, 32);
    if (id == NULL) {
        return NGX_ERROR;
    }

    rnd[0] = ngx_http_kx_request_id_next();
    rnd[1] = ngx_http_kx_request_id_next();

    ngx_hex_dump(id, (u_char *) rnd, sizeof(rnd));

    v->data = id;
    v->len = 32;

done:

    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    return NGX_OK;
}


/*
 * $kx_route: the metrics label of a request.  The route handler fixes it
 * in the first location the request enters (its rewrite phase; ours runs
 * before the rewrite module's, so "return" is counted too); variables
 * survive internal redirects, so a 404 answered through error_page keeps
 * the route it was looked up in rather than the error location's.
 */
static ngx_int_t
ngx_http_kx_route_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_core_loc_conf_t     *clcf;
    ngx_http_kx_core_loc_conf_t  *klcf;

    klcf = ngx_http_get_module_loc_conf(r, ngx_http_kx_core_module);

    if (klcf->route.len) {
        v->data = klcf->route.data;
        v->len = klcf->route.len;

    } else {
        clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

        if (clcf == NULL || clcf->name.len == 0) {
            ngx_str_set(v, "none");

        } else {
            v->data = clcf->name.data;
            v->len = clcf->name.len;
        }
    }

    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    return NGX_OK;
}


static ngx_int_t
ngx_http_kx_service_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t  *name;

    name = ngx_http_kx_service_name(r);

    v->data = name->data;
    v->len = name->len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    return NGX_OK;
}


static ngx_int_t
ngx_http_kx_route_handler(ngx_http_request_t *r)
{
    if (r == r->main) {
        (void) ngx_http_get_indexed_variable(r, ngx_http_kx_route_index);
    }

    return NGX_DECLINED;
}


/* before access (kx_jwt, kx_rate_limit): preflights carry no token */
static ngx_int_t
ngx_http_kx_cors_phase(ngx_http_request_t *r)
{
    ngx_int_t                     rc;
    ngx_http_kx_core_loc_conf_t  *klcf;

    klcf = ngx_http_get_module_loc_conf(r, ngx_http_kx_core_module);

    rc = ngx_http_kx_cors_handler(r, &klcf->cors);

    if (rc == NGX_DECLINED) {
        return NGX_DECLINED;
    }

    ngx_http_finalize_request(r, rc);

    return NGX_DONE;
}


/*
 * kx_json_file <file>: serves a JSON document (relative paths: to the
 * configuration's directory), read and validated when nginx starts.
 */
static char *
ngx_http_kx_json_file(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_kx_core_loc_conf_t *klcf = conf;

    size_t                     len;
    u_char                    *p;
    ngx_str_t                 *value, file;
    kx_json_doc_t             *doc;
    kx_json_perr_t             perr;
    kx_json_limits_t           lim = KX_JSON_LIMITS_DEFAULT;
    ngx_http_core_loc_conf_t  *clcf;

    if (klcf->json.data) {
        return "is duplicate";
    }

    value = cf->args->elts;
    file = value[1];

    if (ngx_conf_full_name(cf->cycle, &file, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    p = ngx_http_kx_read_file(cf, &file, &len);
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    if (kx_json_parse((char *) p, len, &lim, &doc, &perr) != 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"%V\" is not JSON: %s",
                           &file, perr.msg);
        return NGX_CONF_ERROR;
    }

    kx_json_free(doc);

    klcf->json.data = p;
    klcf->json.len = len;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_kx_json_file_handler;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_kx_json_file_handler(ngx_http_request_t *r)
{
    ngx_http_kx_core_loc_conf_t  *klcf;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return ngx_http_kx_send_error(r, NGX_HTTP_NOT_ALLOWED, NULL, NULL);
    }

    klcf = ngx_http_get_module_loc_conf(r, ngx_http_kx_core_module);

    return ngx_http_kx_send_json(r, NGX_HTTP_OK, klcf->json.data,
                                 klcf->json.len);
}


static ngx_int_t
ngx_http_kx_log_handler(ngx_http_request_t *r)
{
    ngx_str_t                     rid, rt;
    ngx_msec_int_t                ms;
    ngx_time_t                   *tp;
    ngx_http_variable_value_t    *route, *id;
    ngx_http_kx_core_loc_conf_t  *klcf;

    if (r != r->main) {
        return NGX_OK;
    }

    route = ngx_http_get_indexed_variable(r, ngx_http_kx_route_index);
    if (route == NULL || route->not_found) {
        return NGX_OK;
    }

    klcf = ngx_http_get_module_loc_conf(r, ngx_http_kx_core_module);

    if (klcf->access_log) {
        id = ngx_http_get_indexed_variable(r, ngx_http_kx_request_id_index);
        if (id == NULL) {
            return NGX_OK;
        }

        rid.data = id->data;
        rid.len = id->len;
        rt.data = route->data;
        rt.len = route->len;

        ngx_http_kx_access_log(r, klcf->access_log,
                               ngx_http_kx_service_name(r), &rid, &rt);
    }

    tp = ngx_timeofday();
    ms = (ngx_msec_int_t)
             ((tp->sec - r->start_sec) * 1000 + (tp->msec - r->start_msec));
    ms = ngx_max(ms, 0);

    ngx_http_kx_metrics_record(r, route->data, route->len,
                               r->headers_out.status, (ngx_msec_t) ms);

    return NGX_OK;
}


static ngx_int_t
ngx_http_kx_core_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_kx_core_vars; v->name.len; v++) {
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
ngx_http_kx_core_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    ngx_http_kx_route_index = ngx_http_get_variable_index(cf,
                                                 &ngx_http_kx_route_name);
    if (ngx_http_kx_route_index == NGX_ERROR) {
        return NGX_ERROR;
    }

    ngx_http_kx_request_id_index = ngx_http_get_variable_index(cf,
                                             &ngx_http_kx_request_id_name);
    if (ngx_http_kx_request_id_index == NGX_ERROR) {
        return NGX_ERROR;
    }

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_REWRITE_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_kx_route_handler;

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_PREACCESS_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_kx_cors_phase;

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_LOG_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_kx_log_handler;

    return NGX_OK;
}


static void *
ngx_http_kx_core_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_kx_core_main_conf_t  *kmcf;

    kmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_kx_core_main_conf_t));
    if (kmcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     kmcf->service = { 0, NULL };
     *     kmcf->metrics_zone = NULL;
     */

    kmcf->metrics_size = NGX_CONF_UNSET_SIZE;
    kmcf->health_timeout = NGX_CONF_UNSET_MSEC;

    if (ngx_array_init(&kmcf->checks, cf->pool, 4,
                       sizeof(ngx_http_kx_health_dep_t))
        != NGX_OK)
    {
        return NULL;
    }

    return kmcf;
}


static char *
ngx_http_kx_core_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_kx_core_main_conf_t *kmcf = conf;

    if (kmcf->service.len == 0) {
        ngx_str_set(&kmcf->service, "kianax");
    }

    ngx_conf_init_size_value(kmcf->metrics_size, 256 * 1024);
    ngx_conf_init_msec_value(kmcf->health_timeout, 1000);

    if (ngx_http_kx_metrics_init_zone(cf, kmcf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static void *
ngx_http_kx_core_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_kx_core_loc_conf_t  *klcf;

    klcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_kx_core_loc_conf_t));
    if (klcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     klcf->route = { 0, NULL };
     *     klcf->error = NULL;
     *     klcf->json = { 0, NULL };
     */

    klcf->cors.origins = NGX_CONF_UNSET_PTR;
    klcf->cors.max_age = NGX_CONF_UNSET;
    klcf->cors.credentials = NGX_CONF_UNSET;
    klcf->access_log = NGX_CONF_UNSET_PTR;

    return klcf;
}


static char *
ngx_http_kx_core_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_kx_core_loc_conf_t *prev = parent;
    ngx_http_kx_core_loc_conf_t *conf = child;

    ngx_conf_merge_str_value(conf->route, prev->route, "");
    ngx_conf_merge_ptr_value(conf->cors.origins, prev->cors.origins, NULL);
    ngx_conf_merge_sec_value(conf->cors.max_age, prev->cors.max_age, 600);
    ngx_conf_merge_value(conf->cors.credentials, prev->cors.credentials, 0);
    ngx_conf_merge_ptr_value(conf->access_log, prev->access_log, NULL);

    /* kx_error is a content handler: not inherited */

    return NGX_CONF_OK;
}
