
/*
 * Copyright (C) Kianax
 *
 * CORS at the gateway: allowed origins get Access-Control-* headers on
 * every response (401s and 429s included, so browsers can read them),
 * and preflight requests are answered here, before authentication, since
 * browsers send them without credentials.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_kx_core.h"


static ngx_int_t ngx_http_kx_cors_allowed(ngx_http_kx_cors_conf_t *cors,
    ngx_str_t *origin);


static ngx_str_t  ngx_http_kx_cors_methods =
    ngx_string("GET, POST, PUT, PATCH, DELETE, OPTIONS");
static ngx_str_t  ngx_http_kx_cors_allow_headers =
    ngx_string("Authorization, Content-Type, X-Request-ID, Idempotency-Key");
static ngx_str_t  ngx_http_kx_cors_expose =
    ngx_string("X-Request-ID, Retry-After, RateLimit-Limit, "
               "RateLimit-Remaining, RateLimit-Reset");
static ngx_str_t  ngx_http_kx_cors_true = ngx_string("true");
static ngx_str_t  ngx_http_kx_cors_vary = ngx_string("Origin");


ngx_int_t
ngx_http_kx_cors_handler(ngx_http_request_t *r,
    ngx_http_kx_cors_conf_t *cors)
{
    ngx_str_t         origin, *max_age;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h, *origin_h, *acrm;
    ngx_uint_t        i;

    if (cors->origins == NULL || r != r->main) {
        return NGX_DECLINED;
    }

    origin_h = NULL;
    acrm = NULL;

    part = &r->headers_in.headers.part;
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

        if (h[i].key.len == 6
            && ngx_strncasecmp(h[i].key.data, (u_char *) "Origin", 6) == 0)
        {
            origin_h = &h[i];

        } else if (h[i].key.len == 29
                   && ngx_strncasecmp(h[i].key.data, (u_char *)
                                      "Access-Control-Request-Method", 29)
                      == 0)
        {
            acrm = &h[i];
        }
    }

    if (ngx_http_kx_add_header(r, "Vary", &ngx_http_kx_cors_vary)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (origin_h == NULL) {
        return NGX_DECLINED;
    }

    origin = origin_h->value;

    if (!ngx_http_kx_cors_allowed(cors, &origin)) {
        /* no CORS headers: the browser refuses; preflights end here */
        if (r->method == NGX_HTTP_OPTIONS && acrm) {
            return ngx_http_kx_send_error(r, NGX_HTTP_FORBIDDEN, "forbidden",
                                          "origin not allowed");
        }

        return NGX_DECLINED;
    }

    if (ngx_http_kx_add_header(r, "Access-Control-Allow-Origin", &origin)
        != NGX_OK
        || (cors->credentials
            && ngx_http_kx_add_header(r, "Access-Control-Allow-Credentials",
                                      &ngx_http_kx_cors_true) != NGX_OK)
        || ngx_http_kx_add_header(r, "Access-Control-Expose-Headers",
                                  &ngx_http_kx_cors_expose) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (r->method != NGX_HTTP_OPTIONS || acrm == NULL) {
        return NGX_DECLINED;
    }

    /* a preflight: answered here, without a token */
    max_age = ngx_pcalloc(r->pool, sizeof(ngx_str_t));
    if (max_age == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    max_age->data = ngx_pnalloc(r->pool, NGX_TIME_T_LEN);
    if (max_age->data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    max_age->len = ngx_sprintf(max_age->data, "%T", cors->max_age)
                   - max_age->data;

    if (ngx_http_kx_add_header(r, "Access-Control-Allow-Methods",
                               &ngx_http_kx_cors_methods) != NGX_OK
        || ngx_http_kx_add_header(r, "Access-Control-Allow-Headers",
                                  &ngx_http_kx_cors_allow_headers) != NGX_OK
        || ngx_http_kx_add_header(r, "Access-Control-Max-Age", max_age)
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        r->keepalive = 0;
    }

    r->headers_out.status = NGX_HTTP_NO_CONTENT;
    r->headers_out.content_length_n = 0;
    r->header_only = 1;

    return ngx_http_send_header(r);
}


static ngx_int_t
ngx_http_kx_cors_allowed(ngx_http_kx_cors_conf_t *cors, ngx_str_t *origin)
{
    ngx_str_t   *o;
    ngx_uint_t   i;

    o = cors->origins->elts;

    for (i = 0; i < cors->origins->nelts; i++) {
        if ((o[i].len == 1 && o[i].data[0] == '*')
            || (o[i].len == origin->len
                && ngx_strncasecmp(o[i].data, origin->data, o[i].len) == 0))
        {
            return 1;
        }
    }

    return 0;
}
