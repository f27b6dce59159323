
/*
 * Copyright (C) Kianax
 *
 * The paper broker: orders execute against the live quotes of the market
 * service by the rules of src/trading/kx_matching.c.  Local: it decides
 * at once and keeps no state, so the module stores the order and the
 * decision in one transaction; resting orders are in the database only,
 * and the matcher (kx_trading_matcher.c) asks this file again when a
 * quote arrives.
 *
 *     kx_trading_broker paper [liquidity=unlimited|quote];
 *
 * liquidity=quote fills at most the quote's bid/ask size per quote
 * (partial fills); unlimited (the default) fills any quantity.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "kx_trading.h"


typedef struct {
    ngx_uint_t           liquidity;
} kx_trading_paper_conf_t;


static void *kx_trading_paper_configure(ngx_conf_t *cf, ngx_str_t *args,
    ngx_uint_t n);
static void *kx_trading_paper_submit(kx_broker_call_t *call,
    kx_broker_done_pt done, void *data);
static void *kx_trading_paper_cancel(kx_broker_call_t *call,
    kx_broker_done_pt done, void *data);
static void *kx_trading_paper_sync(kx_broker_call_t *call,
    kx_broker_done_pt done, void *data);
static void kx_trading_paper_abort(void *handle);


kx_trading_broker_t  kx_trading_broker_paper = {
    "paper",
    1,
    kx_trading_paper_configure,
    NULL,
    NULL,
    kx_trading_paper_submit,
    kx_trading_paper_cancel,
    kx_trading_paper_sync,
    kx_trading_paper_abort
};


/* a local call has no handle worth keeping: any non-NULL pointer */
static u_char  kx_trading_paper_handle;


static void *
kx_trading_paper_configure(ngx_conf_t *cf, ngx_str_t *args, ngx_uint_t n)
{
    ngx_uint_t                i;
    kx_trading_paper_conf_t  *pc;

    pc = ngx_pcalloc(cf->pool, sizeof(kx_trading_paper_conf_t));
    if (pc == NULL) {
        return NULL;
    }

    pc->liquidity = KX_TRADING_LIQUIDITY_UNLIMITED;

    for (i = 0; i < n; i++) {
        if (args[i].len == sizeof("liquidity=unlimited") - 1
            && ngx_strncmp(args[i].data, "liquidity=unlimited",
                           args[i].len) == 0)
        {
            pc->liquidity = KX_TRADING_LIQUIDITY_UNLIMITED;

        } else if (args[i].len == sizeof("liquidity=quote") - 1
                   && ngx_strncmp(args[i].data, "liquidity=quote",
                                  args[i].len) == 0)
        {
            pc->liquidity = KX_TRADING_LIQUIDITY_QUOTE;

        } else {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "paper broker: unknown option \"%V\"",
                               &args[i]);
            return NULL;
        }
    }

    return pc;
}


void
kx_trading_paper_decide(void *conf, const kx_order_t *o, const kx_quote_t *q,
    int64_t now, int64_t session_close, kx_broker_result_t *res,
    kx_broker_fill_t *fill)
{
    kx_match_t                m;
    kx_match_opts_t           opts;
    kx_trading_paper_conf_t  *pc;

    pc = conf;

    ngx_memzero(res, sizeof(kx_broker_result_t));
    ngx_memzero(fill, sizeof(kx_broker_fill_t));

    opts.now = now;
    opts.session_close = session_close;
    opts.unlimited_liquidity =
        (pc == NULL || pc->liquidity == KX_TRADING_LIQUIDITY_UNLIMITED);

    if (kx_matching_decide(o, q, &opts, &m) != KX_MATCH_OK) {
        res->status = KX_BROKER_ERROR;
        res->reason = "the order cannot be matched";
        return;
    }

    res->status = KX_BROKER_OK;
    res->order_status = (m.status == KX_ORDER_NEW) ? KX_ORDER_ACCEPTED
                                                   : m.status;
    res->triggered = m.triggered;
    res->reason = m.reason;

    if (m.fill_qty.v > 0) {
        fill->qty = m.fill_qty;
        fill->price = m.fill_price;
        fill->time = now;
        res->fills = fill;
        res->nfills = 1;
    }
}


static void *
kx_trading_paper_submit(kx_broker_call_t *call, kx_broker_done_pt done,
    void *data)
{
    kx_broker_fill_t    fill;
    kx_broker_result_t  res;

    kx_trading_paper_decide(call->conf, call->order, &call->quote,
                            kx_trading_now(), call->session_close, &res,
                            &fill);
    done(&res, data);

    return &kx_trading_paper_handle;
}


static void *
kx_trading_paper_cancel(kx_broker_call_t *call, kx_broker_done_pt done,
    void *data)
{
    kx_broker_result_t  res;

    ngx_memzero(&res, sizeof(kx_broker_result_t));

    res.status = KX_BROKER_OK;
    res.order_status = KX_ORDER_CANCELED;

    done(&res, data);

    return &kx_trading_paper_handle;
}


static void *
kx_trading_paper_sync(kx_broker_call_t *call, kx_broker_done_pt done,
    void *data)
{
    kx_broker_result_t  res;

    ngx_memzero(&res, sizeof(kx_broker_result_t));

    res.status = KX_BROKER_OK;
    res.order_status = call->order->status;

    done(&res, data);

    return &kx_trading_paper_handle;
}


static void
kx_trading_paper_abort(void *handle)
{
    (void) handle;
}
