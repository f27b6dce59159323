
/*
 * Copyright (C) Kianax
 *
 * The current quote of a symbol from the market service (contract C6):
 * GET <kx_trading_market_url>/v1/quotes/<SYM> on the non-blocking HTTP
 * client, with the caller's Authorization (the market verifies tokens).
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "kx_trading.h"
#include "io/kx_http.h"


typedef struct {
    kx_http_req_t        *http;
    kx_trading_quote_pt   handler;
    void                 *data;
    char                  symbol[KX_ORDER_SYMBOL_MAX + 1];
} kx_trading_quote_ctx_t;


static void
kx_trading_quote_done(kx_http_response_t *res, void *data)
{
    kx_trading_quote_ctx_t  *qc = data;

    char                 sym[KX_ORDER_SYMBOL_MAX + 1];
    ngx_int_t            rc;
    kx_quote_t           q;
    kx_trading_quote_pt  handler;
    void                *hdata;

    qc->http = NULL;
    ngx_memzero(&q, sizeof(kx_quote_t));

    if (res->error == KX_HTTP_OK && res->status == 200
        && kx_quote_parse((char *) res->body.data, res->body.len, &q, sym,
                          sizeof(sym)) == 0
        && ngx_strcmp(sym, qc->symbol) == 0)
    {
        rc = NGX_OK;

    } else if (res->error == KX_HTTP_OK && res->status == 404) {
        rc = NGX_DECLINED;

    } else {
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "kx trading: no quote for %s: %s, status %ui",
                      qc->symbol, res->message, res->status);
        rc = NGX_ERROR;
    }

    handler = qc->handler;
    hdata = qc->data;

    ngx_free(qc);

    handler(rc, &q, hdata);
}


void *
kx_trading_quote_get(kx_trading_main_conf_t *conf, const char *symbol,
    ngx_str_t *auth, ngx_log_t *log, kx_trading_quote_pt handler,
    void *data)
{
    u_char                  *p;
    size_t                   len;
    ngx_str_t                hdr;
    kx_http_spec_t           spec;
    kx_trading_quote_ctx_t  *qc;
    u_char                   url[512], h[2048];

    len = ngx_strlen(symbol);

    if (conf->market_url.len + sizeof("/v1/quotes/") + len > sizeof(url)) {
        return NULL;
    }

    qc = ngx_calloc(sizeof(kx_trading_quote_ctx_t), log);
    if (qc == NULL) {
        return NULL;
    }

    qc->handler = handler;
    qc->data = data;
    ngx_memcpy(qc->symbol, symbol, ngx_min(len, KX_ORDER_SYMBOL_MAX));

    p = ngx_sprintf(url, "%V/v1/quotes/%s", &conf->market_url, symbol);

    ngx_memzero(&spec, sizeof(kx_http_spec_t));
    spec.url.data = url;
    spec.url.len = p - url;
    spec.timeout = conf->quote_timeout;
    spec.max_retries = 1;
    spec.idempotent = 1;
    spec.log = ngx_cycle->log;

    if (auth && auth->len && auth->len < sizeof(h) - 32) {
        p = ngx_sprintf(h, "Authorization: %V", auth);
        hdr.data = h;
        hdr.len = p - h;
        spec.headers = &hdr;
        spec.nheaders = 1;
    }

    qc->http = kx_http_request(&spec, kx_trading_quote_done, qc);
    if (qc->http == NULL) {
        ngx_free(qc);
        return NULL;
    }

    return qc;
}


void
kx_trading_quote_cancel(void *handle)
{
    kx_trading_quote_ctx_t  *qc = handle;

    if (qc->http) {
        kx_http_cancel(qc->http);
    }

    ngx_free(qc);
}
