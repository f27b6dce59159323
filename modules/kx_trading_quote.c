
/*
 * Copyright (C) Kianax
 *
 * The current quote of a symbol from the market service (contract C6).
 *
 * Every worker follows kx:quote:* (contract C1: the market publishes each
 * changed quote every kx_market_publish_interval) and keeps the last
 * quote of each symbol; a quote younger than kx_trading_quote_max_age is
 * the current one, the very quote GET /v1/quotes answers with.  Without
 * one (no publisher, Redis down, a symbol nobody trades) the quote is
 * asked for: GET <kx_trading_market_url>/v1/quotes/<SYM> on the
 * non-blocking HTTP client, with the caller's Authorization (the market
 * verifies tokens).  Worker 0 hands every quote to the matcher too.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "kx_trading.h"
#include "io/kx_http.h"
#include "io/ngx_http_kx_io.h"


#define KX_QUOTE_CACHE_SIZE  1024


typedef struct {
    char                  symbol[KX_ORDER_SYMBOL_MAX + 1];
    kx_quote_t            quote;
    ngx_msec_t            at;
} kx_trading_cached_t;


typedef struct {
    kx_redis_t           *rd;
    kx_redis_sub_t       *sub;
    ngx_uint_t            matcher;
    ngx_uint_t            n;
    kx_trading_cached_t   q[KX_QUOTE_CACHE_SIZE];
} kx_trading_quotes_t;


static kx_trading_quotes_t  *kx_quotes;


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


static kx_trading_cached_t *
kx_trading_quote_slot(const char *symbol, ngx_uint_t add)
{
    ngx_uint_t  i;

    for (i = 0; i < kx_quotes->n; i++) {
        if (ngx_strcmp(kx_quotes->q[i].symbol, symbol) == 0) {
            return &kx_quotes->q[i];
        }
    }

    if (!add || kx_quotes->n == KX_QUOTE_CACHE_SIZE) {
        return NULL;
    }

    i = kx_quotes->n++;
    ngx_cpystrn((u_char *) kx_quotes->q[i].symbol, (u_char *) symbol,
                sizeof(kx_quotes->q[i].symbol));

    return &kx_quotes->q[i];
}


static void
kx_trading_quote_message(kx_redis_sub_event_e event, ngx_str_t *channel,
    ngx_str_t *message, void *data)
{
    char                  sym[KX_ORDER_SYMBOL_MAX + 1];
    ngx_uint_t            i;
    kx_quote_t            q;
    kx_trading_cached_t  *c;

    if (kx_quotes == NULL || ngx_exiting || ngx_terminate) {
        return;
    }

    if (event == KX_REDIS_SUB_LOST) {
        /* quotes may be missed from now on: none is current */
        for (i = 0; i < kx_quotes->n; i++) {
            kx_quotes->q[i].at = 0;
        }

        return;
    }

    if (event != KX_REDIS_SUB_MESSAGE
        || kx_quote_parse((char *) message->data, message->len, &q, sym,
                          sizeof(sym)) != 0)
    {
        return;
    }

    c = kx_trading_quote_slot(sym, 1);
    if (c) {
        c->quote = q;
        c->at = ngx_current_msec;
    }

    if (kx_quotes->matcher) {
        kx_trading_matcher_quote(sym, &q);
    }
}


ngx_int_t
kx_trading_quotes_start(ngx_cycle_t *cycle, ngx_uint_t matcher)
{
    ngx_str_t  ch = ngx_string("kx:quote:*");

    kx_quotes = ngx_calloc(sizeof(kx_trading_quotes_t), cycle->log);
    if (kx_quotes == NULL) {
        return NGX_ERROR;
    }

    kx_quotes->matcher = matcher;
    kx_quotes->rd = ngx_http_kx_io_redis_cycle(cycle);

    if (kx_quotes->rd == NULL) {
        return NGX_OK;
    }

    kx_quotes->sub = kx_redis_subscribe(kx_quotes->rd, &ch, 1,
                                        kx_trading_quote_message, NULL);
    if (kx_quotes->sub == NULL) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


void
kx_trading_quotes_stop(void)
{
    if (kx_quotes == NULL) {
        return;
    }

    /* the io module may have freed its client (and our subscription) */
    if (kx_quotes->sub
        && ngx_http_kx_io_redis_cycle((ngx_cycle_t *) ngx_cycle)
           == kx_quotes->rd)
    {
        kx_redis_unsubscribe(kx_quotes->sub);
    }

    ngx_free(kx_quotes);
    kx_quotes = NULL;
}


ngx_int_t
kx_trading_quote_cached(const char *symbol, ngx_msec_t max_age,
    kx_quote_t *q)
{
    kx_trading_cached_t  *c;

    if (kx_quotes == NULL || max_age == 0) {
        return 0;
    }

    c = kx_trading_quote_slot(symbol, 0);

    if (c == NULL || c->at == 0
        || (ngx_msec_int_t) (ngx_current_msec - c->at) > (ngx_msec_int_t)
                                                          max_age)
    {
        return 0;
    }

    *q = c->quote;

    return 1;
}
