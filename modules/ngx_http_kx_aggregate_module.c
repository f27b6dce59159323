
/*
 * Copyright (C) Kianax
 *
 * Response aggregation at the gateway: GET /v1/portfolio/enriched, the
 * trading service's portfolio with every position revalued at its live
 * quote (src/gateway/kx_enrich.h does the arithmetic).
 *
 *     location = /v1/portfolio/enriched {
 *         kx_enrich_portfolio /.kx/agg/portfolio /.kx/agg/quote/;
 *     }
 *
 * Both URIs name internal locations that proxy to the services, so the
 * calls use the gateway's upstreams, keepalive pools, timeouts and the
 * caller's identity headers.  The quotes of all positions are fetched
 * in parallel, one subrequest per symbol, once the portfolio has named
 * them: per-symbol requests hit the market service's per-symbol quote
 * cache, where a batch of arbitrary symbols would not.  A quote that
 * fails leaves its position at the trading service's valuation, marked
 * "quote_status":"unavailable"; a failed portfolio is the answer.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_kx.h"
#include "gateway/kx_enrich.h"


typedef struct {
    ngx_str_t                  portfolio;   /* internal URI */
    ngx_str_t                  quote;       /* internal URI prefix */
    ngx_uint_t                 max_positions;
} ngx_http_kx_aggregate_loc_conf_t;


/* one subrequest and what it answered */
typedef struct {
    ngx_uint_t                 status;      /* 0 while running */
    ngx_str_t                  body;
    kx_json_doc_t             *doc;
} ngx_http_kx_agg_part_t;


typedef struct {
    ngx_http_kx_agg_part_t     portfolio;
    const kx_json_node_t      *positions;   /* of the parsed portfolio */
    ngx_http_kx_agg_part_t    *quotes;      /* one per position */
    ngx_uint_t                 nquotes;
    ngx_uint_t                 pending;
    unsigned                   quoting:1;
} ngx_http_kx_agg_ctx_t;


static ngx_int_t ngx_http_kx_aggregate_handler(ngx_http_request_t *r);
static void ngx_http_kx_aggregate_resume(ngx_http_request_t *r);
/* NGX_AGAIN while the quotes are fetched, else the answer's rc */
static ngx_int_t ngx_http_kx_aggregate_quotes(ngx_http_request_t *r,
    ngx_http_kx_agg_ctx_t *ctx, ngx_uint_t n);
static ngx_int_t ngx_http_kx_aggregate_reply(ngx_http_request_t *r,
    ngx_http_kx_agg_ctx_t *ctx);
static ngx_int_t ngx_http_kx_aggregate_start(ngx_http_request_t *r,
    ngx_str_t *uri, ngx_http_kx_agg_part_t *part);
static ngx_int_t ngx_http_kx_aggregate_done(ngx_http_request_t *sr,
    void *data, ngx_int_t rc);
static ngx_int_t ngx_http_kx_aggregate_pass(ngx_http_request_t *r,
    ngx_http_kx_agg_part_t *part);
static void ngx_http_kx_aggregate_cleanup(void *data);
static char *ngx_http_kx_enrich_portfolio(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static void *ngx_http_kx_aggregate_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_kx_aggregate_merge_loc_conf(ngx_conf_t *cf,
    void *parent, void *child);


static ngx_command_t  ngx_http_kx_aggregate_commands[] = {

    { ngx_string("kx_enrich_portfolio"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE2,
      ngx_http_kx_enrich_portfolio,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("kx_enrich_max_positions"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_kx_aggregate_loc_conf_t, max_positions),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_kx_aggregate_module_ctx = {
    NULL,                                  /* preconfiguration */
    NULL,                                  /* postconfiguration */

    NULL,                                  /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_kx_aggregate_create_loc_conf, /* create location configuration */
    ngx_http_kx_aggregate_merge_loc_conf   /* merge location configuration */
};


ngx_module_t  ngx_http_kx_aggregate_module = {
    NGX_MODULE_V1,
    &ngx_http_kx_aggregate_module_ctx,     /* module context */
    ngx_http_kx_aggregate_commands,        /* module directives */
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


static ngx_int_t
ngx_http_kx_aggregate_handler(ngx_http_request_t *r)
{
    ngx_int_t                          rc;
    ngx_pool_cleanup_t                *cln;
    ngx_http_kx_agg_ctx_t             *ctx;
    ngx_http_kx_aggregate_loc_conf_t  *alcf;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_kx_aggregate_module);

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_kx_agg_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln->handler = ngx_http_kx_aggregate_cleanup;
    cln->data = ctx;

    ngx_http_set_ctx(r, ctx, ngx_http_kx_aggregate_module);

    if (ngx_http_kx_aggregate_start(r, &alcf->portfolio, &ctx->portfolio)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->pending = 1;

    /* our own reference: the subrequests' completions wake us */
    r->main->count++;
    r->write_event_handler = ngx_http_kx_aggregate_resume;

    return NGX_DONE;
}


/* the parent is woken after each subrequest; act once all have answered */
static void
ngx_http_kx_aggregate_resume(ngx_http_request_t *r)
{
    size_t                             n;
    ngx_int_t                          rc;
    kx_json_perr_t                     err;
    ngx_http_kx_agg_ctx_t             *ctx;
    ngx_http_kx_aggregate_loc_conf_t  *alcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_kx_aggregate_module);

    if (ctx == NULL || ctx->pending) {
        return;
    }

    if (!ctx->quoting) {

        if (ctx->portfolio.status != NGX_HTTP_OK) {
            ngx_http_finalize_request(r,
                ngx_http_kx_aggregate_pass(r, &ctx->portfolio));
            return;
        }

        if (kx_json_parse((char *) ctx->portfolio.body.data,
                          ctx->portfolio.body.len, NULL, &ctx->portfolio.doc,
                          &err)
            != KX_JSON_PE_OK
            || (ctx->positions = kx_enrich_positions(
                                     kx_json_root(ctx->portfolio.doc), &n))
               == NULL)
        {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "kx_enrich_portfolio: the trading service sent "
                          "a portfolio of an unknown shape");
            ngx_http_finalize_request(r,
                ngx_http_kx_send_error(r, NGX_HTTP_BAD_GATEWAY,
                                       "bad_gateway",
                                       "the trading service's answer "
                                       "could not be read"));
            return;
        }

        alcf = ngx_http_get_module_loc_conf(r, ngx_http_kx_aggregate_module);

        if (n > alcf->max_positions) {
            /* beyond the fan-out bound: trading's own valuation */
            n = 0;
        }

        ctx->quoting = 1;

        if (n > 0) {
            rc = ngx_http_kx_aggregate_quotes(r, ctx, n);
            if (rc != NGX_AGAIN) {
                ngx_http_finalize_request(r, rc);
            }

            return;
        }
    }

    ngx_http_finalize_request(r, ngx_http_kx_aggregate_reply(r, ctx));
}


static ngx_int_t
ngx_http_kx_aggregate_quotes(ngx_http_request_t *r,
    ngx_http_kx_agg_ctx_t *ctx, ngx_uint_t n)
{
    u_char                            *p;
    size_t                             len;
    ngx_str_t                          uri;
    ngx_uint_t                         i;
    const char                        *sym;
    ngx_http_kx_aggregate_loc_conf_t  *alcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_kx_aggregate_module);

    ctx->quotes = ngx_pcalloc(r->pool, n * sizeof(ngx_http_kx_agg_part_t));
    if (ctx->quotes == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->nquotes = n;

    for (i = 0; i < n; i++) {
        sym = kx_enrich_symbol(ctx->positions, i, &len);

        if (sym == NULL || len > 20) {
            /* no quote to ask for: it values at trading's price */
            ctx->quotes[i].status = NGX_HTTP_BAD_GATEWAY;
            continue;
        }

        /* the symbol goes into a path: escape what could leave it */
        uri.len = alcf->quote.len + len
                  + 2 * ngx_escape_uri(NULL, (u_char *) sym, len,
                                       NGX_ESCAPE_ARGS);
        uri.data = ngx_pnalloc(r->pool, uri.len);
        if (uri.data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        p = ngx_cpymem(uri.data, alcf->quote.data, alcf->quote.len);
        ngx_escape_uri(p, (u_char *) sym, len, NGX_ESCAPE_ARGS);

        if (ngx_http_kx_aggregate_start(r, &uri, &ctx->quotes[i]) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ctx->pending++;
    }

    if (ctx->pending == 0) {
        return ngx_http_kx_aggregate_reply(r, ctx);
    }

    return NGX_AGAIN;
}


static ngx_int_t
ngx_http_kx_aggregate_reply(ngx_http_request_t *r, ngx_http_kx_agg_ctx_t *ctx)
{
    int                     rc;
    kx_jw_t                 w;
    ngx_uint_t              i;
    ngx_http_kx_agg_part_t *q;
    const kx_json_node_t  **quotes;

    /* NULL for every position whose quote is missing or not fetched */
    quotes = ngx_pcalloc(r->pool, (kx_json_arr_len(ctx->positions) + 1)
                                  * sizeof(kx_json_node_t *));
    if (quotes == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    for (i = 0; i < ctx->nquotes; i++) {
        q = &ctx->quotes[i];

        if (q->status == NGX_HTTP_OK
            && kx_json_parse((char *) q->body.data, q->body.len, NULL,
                             &q->doc, NULL)
               == KX_JSON_PE_OK)
        {
            quotes[i] = kx_json_root(q->doc);
        }
    }

    kx_jw_init(&w);

    rc = kx_enrich_write(&w, kx_json_root(ctx->portfolio.doc), quotes);

    if (rc != KX_ENRICH_OK) {
        kx_jw_free(&w);

        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "kx_enrich_portfolio: the portfolio cannot be "
                      "revalued (%s)",
                      rc == KX_ENRICH_ERANGE ? "out of range" : "shape");

        return ngx_http_kx_send_error(r, NGX_HTTP_BAD_GATEWAY, "bad_gateway",
                                      "the portfolio could not be revalued");
    }

    return ngx_http_kx_send_jw(r, NGX_HTTP_OK, &w);
}


static ngx_int_t
ngx_http_kx_aggregate_start(ngx_http_request_t *r, ngx_str_t *uri,
    ngx_http_kx_agg_part_t *part)
{
    ngx_http_request_t          *sr;
    ngx_http_post_subrequest_t  *ps;

    ps = ngx_palloc(r->pool, sizeof(ngx_http_post_subrequest_t));
    if (ps == NULL) {
        return NGX_ERROR;
    }

    ps->handler = ngx_http_kx_aggregate_done;
    ps->data = part;

    return ngx_http_subrequest(r, uri, NULL, &sr, ps,
                               NGX_HTTP_SUBREQUEST_IN_MEMORY
                               |NGX_HTTP_SUBREQUEST_WAITED);
}


/*
 * Called when a subrequest finalizes (perhaps more than once).  An
 * error status is recorded and turned into NGX_OK, so the subrequest
 * ends here rather than running the server's error_page for a client
 * that will never see it.
 */
static ngx_int_t
ngx_http_kx_aggregate_done(ngx_http_request_t *sr, void *data, ngx_int_t rc)
{
    ngx_buf_t               *b;
    ngx_http_request_t      *r;
    ngx_http_kx_agg_ctx_t   *ctx;
    ngx_http_kx_agg_part_t  *part;

    part = data;

    if (part->status || rc == NGX_AGAIN) {
        return rc;
    }

    r = sr->parent;
    ctx = ngx_http_get_module_ctx(r, ngx_http_kx_aggregate_module);

    if (rc == NGX_ERROR || rc == NGX_HTTP_CLIENT_CLOSED_REQUEST) {
        /* the client went away: the request is torn down anyway */
        part->status = NGX_HTTP_BAD_GATEWAY;
        ctx->pending--;
        return rc;
    }

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        part->status = rc;

    } else {
        part->status = sr->headers_out.status ? sr->headers_out.status
                                              : NGX_HTTP_BAD_GATEWAY;

        b = sr->out ? sr->out->buf : NULL;

        if (b) {
            part->body.data = b->pos;
            part->body.len = b->last - b->pos;
        }
    }

    ctx->pending--;

    return NGX_OK;
}


/* a failed portfolio: the trading service's own JSON error, or ours */
static ngx_int_t
ngx_http_kx_aggregate_pass(ngx_http_request_t *r, ngx_http_kx_agg_part_t *part)
{
    u_char  *body;

    if (part->status >= NGX_HTTP_BAD_REQUEST
        && part->status < NGX_HTTP_INTERNAL_SERVER_ERROR
        && part->body.len > 0)
    {
        body = ngx_pnalloc(r->pool, part->body.len);
        if (body == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_memcpy(body, part->body.data, part->body.len);

        return ngx_http_kx_send_json(r, part->status, body, part->body.len);
    }

    if (part->status == NGX_HTTP_GATEWAY_TIME_OUT) {
        return ngx_http_kx_send_error(r, NGX_HTTP_GATEWAY_TIME_OUT,
                                      "upstream_timeout",
                                      "the trading service did not answer "
                                      "in time");
    }

    return ngx_http_kx_send_error(r, NGX_HTTP_BAD_GATEWAY, "bad_gateway",
                                  "the trading service is unavailable");
}


static void
ngx_http_kx_aggregate_cleanup(void *data)
{
    ngx_http_kx_agg_ctx_t *ctx = data;

    ngx_uint_t  i;

    if (ctx->portfolio.doc) {
        kx_json_free(ctx->portfolio.doc);
    }

    for (i = 0; i < ctx->nquotes; i++) {
        if (ctx->quotes[i].doc) {
            kx_json_free(ctx->quotes[i].doc);
        }
    }
}


static char *
ngx_http_kx_enrich_portfolio(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_kx_aggregate_loc_conf_t *alcf = conf;

    ngx_str_t                 *value;
    ngx_http_core_loc_conf_t  *clcf;

    if (alcf->portfolio.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len == 0 || value[1].data[0] != '/'
        || value[2].len == 0 || value[2].data[0] != '/')
    {
        return "takes two URIs starting with \"/\"";
    }

    alcf->portfolio = value[1];
    alcf->quote = value[2];

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_kx_aggregate_handler;

    return NGX_CONF_OK;
}


static void *
ngx_http_kx_aggregate_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_kx_aggregate_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_kx_aggregate_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    conf->max_positions = NGX_CONF_UNSET_UINT;

    return conf;
}


static char *
ngx_http_kx_aggregate_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child)
{
    ngx_http_kx_aggregate_loc_conf_t *prev = parent;
    ngx_http_kx_aggregate_loc_conf_t *conf = child;

    ngx_conf_merge_uint_value(conf->max_positions, prev->max_positions, 200);

    return NGX_CONF_OK;
}
