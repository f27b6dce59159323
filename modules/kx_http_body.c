
/*
 * Copyright (C) Kianax
 *
 * A JSON request body, read and parsed with limits, for every handler
 * that takes one: 413 when too large, 415 when declared as something
 * else, 400 with the parser's reason when malformed.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_kx.h"


typedef struct {
    size_t                       max;
    ngx_http_kx_json_body_pt     handler;
    kx_json_doc_t               *doc;
} ngx_http_kx_body_ctx_t;


static void ngx_http_kx_body_read(ngx_http_request_t *r);
static void ngx_http_kx_body_cleanup(void *data);


ngx_int_t
ngx_http_kx_read_json_body(ngx_http_request_t *r, size_t max,
    ngx_http_kx_json_body_pt handler)
{
    ngx_int_t                rc;
    ngx_str_t               *ct;
    ngx_pool_cleanup_t      *cln;
    ngx_http_kx_body_ctx_t  *ctx;

    if (r->headers_in.content_length_n > (off_t) max) {
        return ngx_http_kx_send_error(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                      "payload_too_large",
                                      "request body too large");
    }

    if (r->headers_in.content_type) {
        ct = &r->headers_in.content_type->value;

        if (!(ct->len >= 16
              && ngx_strncasecmp(ct->data, (u_char *) "application/json",
                                 16) == 0
              && (ct->len == 16 || ct->data[16] == ';'
                  || ct->data[16] == ' ')))
        {
            return ngx_http_kx_send_error(r,
                                          NGX_HTTP_UNSUPPORTED_MEDIA_TYPE,
                                          "unsupported_media_type",
                                          "the body must be application/json");
        }
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_kx_body_ctx_t));
    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (ctx == NULL || cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->max = max;
    ctx->handler = handler;
    cln->handler = ngx_http_kx_body_cleanup;
    cln->data = ctx;

    ngx_http_set_ctx(r, ctx, ngx_http_kx_core_module);

    /* one buffer in memory: the limit is below client_body_buffer_size */
    r->request_body_in_single_buf = 1;

    rc = ngx_http_read_client_request_body(r, ngx_http_kx_body_read);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


static void
ngx_http_kx_body_read(ngx_http_request_t *r)
{
    u_char                  *p;
    size_t                   len;
    ngx_buf_t               *b;
    ngx_chain_t             *cl;
    kx_json_perr_t           perr;
    kx_json_limits_t         lim = KX_JSON_LIMITS_DEFAULT;
    ngx_http_kx_body_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_kx_core_module);

    if (r->request_body == NULL) {
        ngx_http_finalize_request(r, ngx_http_kx_send_error(r,
                                      NGX_HTTP_BAD_REQUEST, "malformed_json",
                                      "a JSON body is required"));
        return;
    }

    len = 0;
    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;

        if (b->in_file || len + (b->last - b->pos) > ctx->max) {
            ngx_http_finalize_request(r, ngx_http_kx_send_error(r,
                                  NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                  "payload_too_large",
                                  "request body too large"));
            return;
        }

        len += b->last - b->pos;
    }

    p = ngx_pnalloc(r->pool, len + 1);
    if (p == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    len = 0;
    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;
        ngx_memcpy(p + len, b->pos, b->last - b->pos);
        len += b->last - b->pos;
    }

    lim.max_size = ctx->max;

    if (kx_json_parse((char *) p, len, &lim, &ctx->doc, &perr) != 0) {
        ngx_http_finalize_request(r, ngx_http_kx_send_error(r,
                 perr.code == KX_JSON_PE_TOO_LARGE
                     ? NGX_HTTP_REQUEST_ENTITY_TOO_LARGE
                     : NGX_HTTP_BAD_REQUEST,
                 perr.code == KX_JSON_PE_TOO_LARGE ? "payload_too_large"
                                                   : "malformed_json",
                 perr.msg));
        return;
    }

    if (kx_json_type(kx_json_root(ctx->doc)) != KX_JSON_OBJECT) {
        ngx_http_finalize_request(r, ngx_http_kx_send_error(r,
                                      NGX_HTTP_BAD_REQUEST, "malformed_json",
                                      "the body must be a JSON object"));
        return;
    }

    ctx->handler(r, ctx->doc);
}


static void
ngx_http_kx_body_cleanup(void *data)
{
    ngx_http_kx_body_ctx_t *ctx = data;

    if (ctx->doc) {
        kx_json_free(ctx->doc);
        ctx->doc = NULL;
    }
}
