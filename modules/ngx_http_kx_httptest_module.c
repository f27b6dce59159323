
/*
 * Copyright (C) Kianax
 *
 * Test-only handlers that drive the HTTP client (modules/io/kx_http.c)
 * for t/io_http.t.  Never configure them in nginx.conf.d/.
 *
 *   (the client itself is configured with kx_http_client, io module)
 *
 *   kx_httptest_fetch <url>;            fetch the URL (variables allowed),
 *                                       answer {"status","body","attempts",
 *                                       "error":null,...}; a failure
 *                                       answers a JSON error: 504 timeout,
 *                                       503 breaker open, 502 otherwise,
 *                                       with X-Kx-Error (the error kind)
 *                                       and X-Kx-Attempts
 *   kx_httptest_method POST;            and the other request settings
 *   kx_httptest_body <text>;
 *   kx_httptest_header "Name: value";
 *   kx_httptest_timeout 5s;
 *   kx_httptest_attempt_timeout 0;
 *   kx_httptest_retries 0;
 *   kx_httptest_idempotent on|off;      default: by method
 *   kx_httptest_max_size 0;
 *   kx_httptest_breaker_key <key>;      variables allowed
 *
 *   kx_httptest_breaker;                the breakers and client counters
 *   kx_httptest_ping;                   answers at once, no I/O
 *
 * The client itself is freed at worker exit by ngx_http_kx_io_module.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_kx.h"
#include "kx_http.h"


#define KX_HTTPTEST_BREAKERS_MAX  64


typedef struct {
    ngx_http_complex_value_t  *url;
    ngx_str_t                  method;
    ngx_str_t                  body;
    ngx_array_t               *headers;       /* ngx_str_t */
    ngx_msec_t                 timeout;
    ngx_msec_t                 attempt_timeout;
    ngx_uint_t                 retries;
    ngx_flag_t                 idempotent;
    size_t                     max_size;
    ngx_http_complex_value_t  *breaker_key;
} ngx_http_kx_httptest_loc_conf_t;


typedef struct {
    ngx_http_request_t        *request;
    kx_http_req_t             *http;
} ngx_http_kx_httptest_ctx_t;


static void *ngx_http_kx_httptest_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_kx_httptest_merge_loc_conf(ngx_conf_t *cf,
    void *parent, void *child);
static char *ngx_http_kx_httptest_fetch(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_kx_httptest_handler(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);

static ngx_int_t ngx_http_kx_httptest_ping(ngx_http_request_t *r);
static ngx_int_t ngx_http_kx_httptest_breaker(ngx_http_request_t *r);
static ngx_int_t ngx_http_kx_httptest_fetch_handler(ngx_http_request_t *r);
static void ngx_http_kx_httptest_done(kx_http_response_t *res, void *data);
static ngx_int_t ngx_http_kx_httptest_ok(ngx_http_request_t *r,
    kx_http_response_t *res);
static ngx_int_t ngx_http_kx_httptest_error(ngx_http_request_t *r,
    kx_http_response_t *res);
static ngx_uint_t ngx_http_kx_httptest_idempotent(ngx_str_t *method);
static void ngx_http_kx_httptest_cleanup(void *data);
static u_char *ngx_http_kx_httptest_json_str(u_char *p, ngx_str_t *s);


static ngx_command_t  ngx_http_kx_httptest_commands[] = {

    { ngx_string("kx_httptest_fetch"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_kx_httptest_fetch,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("kx_httptest_method"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_kx_httptest_loc_conf_t, method),
      NULL },

    { ngx_string("kx_httptest_body"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_kx_httptest_loc_conf_t, body),
      NULL },

    { ngx_string("kx_httptest_header"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_array_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_kx_httptest_loc_conf_t, headers),
      NULL },

    { ngx_string("kx_httptest_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_kx_httptest_loc_conf_t, timeout),
      NULL },

    { ngx_string("kx_httptest_attempt_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_kx_httptest_loc_conf_t, attempt_timeout),
      NULL },

    { ngx_string("kx_httptest_retries"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_kx_httptest_loc_conf_t, retries),
      NULL },

    { ngx_string("kx_httptest_idempotent"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_kx_httptest_loc_conf_t, idempotent),
      NULL },

    { ngx_string("kx_httptest_max_size"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_kx_httptest_loc_conf_t, max_size),
      NULL },

    { ngx_string("kx_httptest_breaker_key"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_set_complex_value_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_kx_httptest_loc_conf_t, breaker_key),
      NULL },

    { ngx_string("kx_httptest_breaker"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_kx_httptest_handler,
      0,
      0,
      ngx_http_kx_httptest_breaker },

    { ngx_string("kx_httptest_ping"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_kx_httptest_handler,
      0,
      0,
      ngx_http_kx_httptest_ping },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_kx_httptest_module_ctx = {
    NULL,                                  /* preconfiguration */
    NULL,                                  /* postconfiguration */

    NULL,                                  /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_kx_httptest_create_loc_conf,  /* create location configuration */
    ngx_http_kx_httptest_merge_loc_conf    /* merge location configuration */
};


ngx_module_t  ngx_http_kx_httptest_module = {
    NGX_MODULE_V1,
    &ngx_http_kx_httptest_module_ctx,      /* module context */
    ngx_http_kx_httptest_commands,         /* module directives */
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


static void *
ngx_http_kx_httptest_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_kx_httptest_loc_conf_t  *hlcf;

    hlcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_kx_httptest_loc_conf_t));
    if (hlcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     hlcf->url = NULL;
     *     hlcf->method = { 0, NULL };
     *     hlcf->body = { 0, NULL };
     */

    hlcf->headers = NGX_CONF_UNSET_PTR;
    hlcf->timeout = NGX_CONF_UNSET_MSEC;
    hlcf->attempt_timeout = NGX_CONF_UNSET_MSEC;
    hlcf->retries = NGX_CONF_UNSET_UINT;
    hlcf->idempotent = NGX_CONF_UNSET;
    hlcf->max_size = NGX_CONF_UNSET_SIZE;
    hlcf->breaker_key = NGX_CONF_UNSET_PTR;

    return hlcf;
}


static char *
ngx_http_kx_httptest_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child)
{
    ngx_http_kx_httptest_loc_conf_t *prev = parent;
    ngx_http_kx_httptest_loc_conf_t *conf = child;

    ngx_conf_merge_str_value(conf->method, prev->method, "GET");
    ngx_conf_merge_str_value(conf->body, prev->body, "");
    ngx_conf_merge_ptr_value(conf->headers, prev->headers, NULL);
    ngx_conf_merge_msec_value(conf->timeout, prev->timeout, 5000);
    ngx_conf_merge_msec_value(conf->attempt_timeout, prev->attempt_timeout,
                              0);
    ngx_conf_merge_uint_value(conf->retries, prev->retries, 0);
    ngx_conf_merge_size_value(conf->max_size, prev->max_size, 0);
    ngx_conf_merge_ptr_value(conf->breaker_key, prev->breaker_key, NULL);

    /* unset: decided by the method at request time */
    if (conf->idempotent == NGX_CONF_UNSET) {
        conf->idempotent = prev->idempotent;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_kx_httptest_fetch(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_kx_httptest_loc_conf_t *hlcf = conf;

    ngx_str_t                         *value;
    ngx_http_core_loc_conf_t          *clcf;
    ngx_http_compile_complex_value_t   ccv;

    if (hlcf->url) {
        return "is duplicate";
    }

    value = cf->args->elts;

    hlcf->url = ngx_palloc(cf->pool, sizeof(ngx_http_complex_value_t));
    if (hlcf->url == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

    ccv.cf = cf;
    ccv.value = &value[1];
    ccv.complex_value = hlcf->url;

    if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_kx_httptest_fetch_handler;

    return NGX_CONF_OK;
}


static char *
ngx_http_kx_httptest_handler(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = (ngx_http_handler_pt) cmd->post;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_kx_httptest_ping(ngx_http_request_t *r)
{
    static u_char  pong[] = "{\"pong\":true}";

    return ngx_http_kx_send_json(r, NGX_HTTP_OK, pong, sizeof(pong) - 1);
}


static ngx_int_t
ngx_http_kx_httptest_breaker(ngx_http_request_t *r)
{
    u_char                  *p, *buf;
    size_t                   len;
    ngx_uint_t               i, n;
    kx_http_stats_t          st;
    kx_http_breaker_info_t   info[KX_HTTPTEST_BREAKERS_MAX];

    n = kx_http_breakers(info, KX_HTTPTEST_BREAKERS_MAX);
    n = ngx_min(n, KX_HTTPTEST_BREAKERS_MAX);

    kx_http_stats(&st);

    len = sizeof("{\"breakers\":{},\"stats\":{}}") + 16 * (NGX_INT_T_LEN + 32);

    for (i = 0; i < n; i++) {
        len += 6 * info[i].key.len + 128 + 5 * NGX_INT_T_LEN;
    }

    buf = ngx_pnalloc(r->pool, len);
    if (buf == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_cpymem(buf, "{\"breakers\":{", sizeof("{\"breakers\":{") - 1);

    for (i = 0; i < n; i++) {
        if (i) {
            *p++ = ',';
        }

        p = ngx_http_kx_httptest_json_str(p, &info[i].key);
        p = ngx_sprintf(p, ":{\"state\":\"%s\",\"calls\":%uD,"
                        "\"failures\":%uD,\"opens\":%uD,\"retry_in_ms\":%M}",
                        kx_breaker_state_name(info[i].state), info[i].calls,
                        info[i].failures, info[i].opens, info[i].retry_in);
    }

    p = ngx_sprintf(p, "},\"stats\":{\"requests\":%ui,\"active\":%ui,"
                    "\"transfers\":%ui,\"attempts\":%ui,\"retries\":%ui,"
                    "\"ok\":%ui,\"failed\":%ui,\"timeouts\":%ui,"
                    "\"breaker_rejects\":%ui,\"cancelled\":%ui,"
                    "\"sockets\":%ui,\"sockets_opened\":%ui}}",
                    st.requests, st.active, st.transfers, st.attempts,
                    st.retries, st.ok, st.failed, st.timeouts,
                    st.breaker_rejects, st.cancelled, st.sockets,
                    st.sockets_opened);

    return ngx_http_kx_send_json(r, NGX_HTTP_OK, buf, p - buf);
}


static ngx_int_t
ngx_http_kx_httptest_fetch_handler(ngx_http_request_t *r)
{
    ngx_int_t                         rc;
    ngx_str_t                         url;
    kx_http_spec_t                    spec;
    ngx_pool_cleanup_t               *cln;
    ngx_http_kx_httptest_ctx_t       *ctx;
    ngx_http_kx_httptest_loc_conf_t  *hlcf;

    hlcf = ngx_http_get_module_loc_conf(r, ngx_http_kx_httptest_module);

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    if (ngx_http_complex_value(r, hlcf->url, &url) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_kx_httptest_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->request = r;

    /* the request may go first (client gone): then nothing may call back */
    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln->handler = ngx_http_kx_httptest_cleanup;
    cln->data = ctx;

    ngx_memzero(&spec, sizeof(kx_http_spec_t));

    spec.method = hlcf->method;
    spec.url = url;
    spec.body = hlcf->body;

    if (hlcf->headers) {
        spec.headers = hlcf->headers->elts;
        spec.nheaders = hlcf->headers->nelts;
    }

    spec.timeout = hlcf->timeout;
    spec.attempt_timeout = hlcf->attempt_timeout;
    spec.max_retries = hlcf->retries;
    spec.max_size = hlcf->max_size;
    spec.log = r->connection->log;

    if (hlcf->idempotent != NGX_CONF_UNSET) {
        spec.idempotent = hlcf->idempotent;

    } else {
        spec.idempotent = ngx_http_kx_httptest_idempotent(&hlcf->method);
    }

    if (hlcf->breaker_key
        && ngx_http_complex_value(r, hlcf->breaker_key, &spec.breaker_key)
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->http = kx_http_request(&spec, ngx_http_kx_httptest_done, ctx);
    if (ctx->http == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->main->count++;

    /* notice a client that goes away while we wait */
    r->read_event_handler = ngx_http_test_reading;

    return NGX_DONE;
}


static void
ngx_http_kx_httptest_done(kx_http_response_t *res, void *data)
{
    ngx_http_kx_httptest_ctx_t *ctx = data;

    ngx_int_t            rc;
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    ctx->http = NULL;
    r = ctx->request;
    c = r->connection;

    if (res->error == KX_HTTP_OK) {
        rc = ngx_http_kx_httptest_ok(r, res);

    } else {
        rc = ngx_http_kx_httptest_error(r, res);
    }

    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(c);
}


static ngx_int_t
ngx_http_kx_httptest_ok(ngx_http_request_t *r, kx_http_response_t *res)
{
    u_char  *p, *buf;
    size_t   len;

    len = sizeof("{\"status\":,\"body\":\"\",\"attempts\":,\"error\":null,"
                 "\"content_type\":\"\",\"retry_after\":,\"elapsed_ms\":,"
                 "\"breaker\":\"\"}")
          + 6 * (res->body.len + res->content_type.len
                 + res->breaker_key.len)
          + 4 * NGX_INT_T_LEN;

    buf = ngx_pnalloc(r->pool, len);
    if (buf == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_sprintf(buf, "{\"status\":%ui,\"body\":", res->status);
    p = ngx_http_kx_httptest_json_str(p, &res->body);
    p = ngx_sprintf(p, ",\"attempts\":%ui,\"error\":null,\"content_type\":",
                    res->attempts);
    p = ngx_http_kx_httptest_json_str(p, &res->content_type);

    if (res->retry_after >= 0) {
        p = ngx_sprintf(p, ",\"retry_after\":%M", res->retry_after);

    } else {
        p = ngx_cpymem(p, ",\"retry_after\":null",
                       sizeof(",\"retry_after\":null") - 1);
    }

    p = ngx_sprintf(p, ",\"elapsed_ms\":%M,\"breaker\":", res->elapsed);
    p = ngx_http_kx_httptest_json_str(p, &res->breaker_key);
    *p++ = '}';

    return ngx_http_kx_send_json(r, NGX_HTTP_OK, buf, p - buf);
}


static ngx_int_t
ngx_http_kx_httptest_error(ngx_http_request_t *r, kx_http_response_t *res)
{
    u_char                  *p;
    ngx_str_t                v;
    ngx_uint_t               i, n, status;
    const char              *code;
    kx_http_breaker_info_t   info[KX_HTTPTEST_BREAKERS_MAX];

    switch (res->error) {

    case KX_HTTP_TIMEOUT:
        status = NGX_HTTP_GATEWAY_TIME_OUT;
        code = "gateway_timeout";
        break;

    case KX_HTTP_BREAKER_OPEN:
        status = NGX_HTTP_SERVICE_UNAVAILABLE;
        code = "service_unavailable";

        n = kx_http_breakers(info, KX_HTTPTEST_BREAKERS_MAX);
        n = ngx_min(n, KX_HTTPTEST_BREAKERS_MAX);

        for (i = 0; i < n; i++) {
            if (info[i].key.len == res->breaker_key.len
                && ngx_strncmp(info[i].key.data, res->breaker_key.data,
                               res->breaker_key.len) == 0)
            {
                p = ngx_pnalloc(r->pool, NGX_INT_T_LEN);
                if (p == NULL) {
                    return NGX_HTTP_INTERNAL_SERVER_ERROR;
                }

                v.data = p;
                v.len = ngx_sprintf(p, "%M", (info[i].retry_in + 999) / 1000)
                        - p;

                if (ngx_http_kx_add_header(r, "Retry-After", &v)
                    != NGX_OK)
                {
                    return NGX_HTTP_INTERNAL_SERVER_ERROR;
                }

                break;
            }
        }

        break;

    case KX_HTTP_CONNECT:
    case KX_HTTP_TLS:
    case KX_HTTP_IO:
    case KX_HTTP_TOO_LARGE:
        status = NGX_HTTP_BAD_GATEWAY;
        code = "bad_gateway";
        break;

    default:
        status = NGX_HTTP_INTERNAL_SERVER_ERROR;
        code = "internal_error";
        break;
    }

    v.data = (u_char *) kx_http_error_text(res->error);
    v.len = ngx_strlen(v.data);

    if (ngx_http_kx_add_header(r, "X-Kx-Error", &v) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_pnalloc(r->pool, 2 * NGX_INT_T_LEN);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    v.data = p;
    v.len = ngx_sprintf(p, "%ui", res->attempts) - p;

    if (ngx_http_kx_add_header(r, "X-Kx-Attempts", &v) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    v.data = p + NGX_INT_T_LEN;
    v.len = ngx_sprintf(v.data, "%M", res->elapsed) - v.data;

    if (ngx_http_kx_add_header(r, "X-Kx-Elapsed", &v) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_kx_send_error(r, status, code, res->message);
}


/* RFC 9110 9.2.2 */

static ngx_uint_t
ngx_http_kx_httptest_idempotent(ngx_str_t *method)
{
    static const char  *idempotent[] = {
        "GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE", NULL
    };

    ngx_uint_t  i;

    for (i = 0; idempotent[i]; i++) {
        if (method->len == ngx_strlen(idempotent[i])
            && ngx_strncmp(method->data, idempotent[i], method->len) == 0)
        {
            return 1;
        }
    }

    return 0;
}


static void
ngx_http_kx_httptest_cleanup(void *data)
{
    ngx_http_kx_httptest_ctx_t *ctx = data;

    if (ctx->http) {
        kx_http_cancel(ctx->http);
        ctx->http = NULL;
    }
}


/* a JSON string; room for 6 bytes per input byte plus quotes */

static u_char *
ngx_http_kx_httptest_json_str(u_char *p, ngx_str_t *s)
{
    *p++ = '"';
    p = (u_char *) ngx_escape_json(p, s->data, s->len);
    *p++ = '"';

    return p;
}
