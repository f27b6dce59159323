
/*
 * Copyright (C) Kianax
 *
 * What every Kianax HTTP module shares: JSON responses and errors, and the
 * registry of dependency health checks that GET /health runs.
 */


#ifndef _NGX_HTTP_KX_H_INCLUDED_
#define _NGX_HTTP_KX_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "core/kx_json.h"
#include "gateway/kx_jwt.h"


/* not among nginx 1.22's status constants */
#define NGX_HTTP_KX_UNPROCESSABLE  422


/*
 * A dependency check started by GET /health.  It must not block: it starts
 * its work and calls done() exactly once, later or at once.  The caller
 * copes with a done() that arrives after it gave up (timeout, client gone).
 */
typedef void (*ngx_http_kx_health_done_pt)(void *data, ngx_uint_t ok,
    const char *detail);
typedef void (*ngx_http_kx_health_check_pt)(void *check_data, ngx_log_t *log,
    ngx_msec_t timeout, ngx_http_kx_health_done_pt done, void *data);


ngx_int_t ngx_http_kx_health_add(ngx_conf_t *cf, const char *name,
    ngx_http_kx_health_check_pt check, void *check_data);

ngx_int_t ngx_http_kx_send(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *type, u_char *body, size_t len);
ngx_int_t ngx_http_kx_send_json(ngx_http_request_t *r, ngx_uint_t status,
    u_char *body, size_t len);
/* appends a response header; name must be a literal (not copied) */
ngx_int_t ngx_http_kx_add_header(ngx_http_request_t *r, const char *name,
    ngx_str_t *value);

/* finishes a JSON writer, sends it and frees it */
ngx_int_t ngx_http_kx_send_jw(ngx_http_request_t *r, ngx_uint_t status,
    kx_jw_t *w);
ngx_int_t ngx_http_kx_send_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, const char *message);

/*
 * Reads the request body as a JSON object (at most max bytes) and calls
 * handler with it; errors are answered here (400, 413, 415).  The doc
 * lives as long as the request.  handler owns the request's reference:
 * it must call ngx_http_finalize_request() once, now or later.  The
 * content handler returns what this returns.
 */
typedef void (*ngx_http_kx_json_body_pt)(ngx_http_request_t *r,
    kx_json_doc_t *doc);

ngx_int_t ngx_http_kx_read_json_body(ngx_http_request_t *r, size_t max,
    ngx_http_kx_json_body_pt handler);

/* a whole file at configuration time (keys, JWKS), NUL-terminated */
u_char *ngx_http_kx_read_file(ngx_conf_t *cf, ngx_str_t *name, size_t *len);

/*
 * The key tokens are issued with (kx_jwt module's keys): the HMAC key
 * with this kid, or the first HMAC key when kid is empty; NULL if none.
 */
const kx_jwt_key_t *ngx_http_kx_jwt_issuing_key(ngx_http_request_t *r,
    ngx_str_t *kid);

/*
 * A token from outside the headers (a WebSocket's first message), checked
 * as kx_jwt checks one in the location of main_conf/loc_conf (a request's
 * r->main_conf, r->loc_conf).  A KX_JWT_* code; the caller frees claims.
 */
int ngx_http_kx_jwt_verify_token(void **main_conf, void **loc_conf,
    ngx_str_t *token, kx_jwt_claims_t *claims);

/*
 * Adds delta to a counter of GET /metrics, shared by the workers of the
 * instance: series is a Prometheus name with its labels, at most 64
 * bytes, e.g. 'kx_market_cache_hits_total{kind="quote"}' (the service
 * label is added).  Any worker code, with or without a request.
 */
void ngx_http_kx_metrics_count(ngx_cycle_t *cycle, const char *series,
    ngx_uint_t delta);

/* the service name of this instance (kx_service), for logs and metrics */
ngx_str_t *ngx_http_kx_service_name(ngx_http_request_t *r);


extern ngx_module_t  ngx_http_kx_core_module;
extern ngx_module_t  ngx_http_kx_jwt_module;


#endif /* _NGX_HTTP_KX_H_INCLUDED_ */
