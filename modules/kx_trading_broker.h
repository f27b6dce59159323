
/*
 * Copyright (C) Kianax
 *
 * The broker port of the trading service: how ngx_http_kx_trading_module
 * hands an order to a broker (submit, cancel, sync) and how a broker
 * reports back.  One vtable per broker:
 *
 *     kx_trading_broker_paper    modules/kx_trading_paper.c (built in)
 *     kx_trading_broker_alpaca   modules/kx_trading_alpaca.c (H3)
 *
 * chosen by the directive (http main context)
 *
 *     kx_trading_broker paper | alpaca [key=value ...];
 *
 * whose key=value arguments go to the broker's configure() at
 * configuration time (e.g. "url=http://127.0.0.1:9100 key_env=APCA_KEY").
 *
 * To H3: define
 *
 *     kx_trading_broker_t  kx_trading_broker_alpaca = { ... };
 *
 * in modules/kx_trading_alpaca.c.  The module references it through the
 * weak declaration below: while no file defines it, its address is NULL
 * and "kx_trading_broker alpaca" is refused at configuration time
 * ("broker not built in").  Nothing else needs wiring.
 *
 * Contract of every call (submit, cancel, sync):
 *   - it runs in a worker process, on the event loop, and never blocks
 *     (HTTP only through modules/io/kx_http.h);
 *   - it returns a handle (anything non-NULL) and later calls done()
 *     exactly once, or returns NULL (out of memory, misuse) and never
 *     calls done();
 *   - a LOCAL broker (paper) may call done() before returning; a remote
 *     one must not (call it from an event: the HTTP client's handler);
 *   - abort(handle) before done(): done() is never called, the handle is
 *     invalid afterwards (the request went away, the worker exits);
 *   - everything the result points to needs to live only until done()
 *     returns: the module copies what it keeps.
 *
 * Order of events in the module:
 *   local broker (paper): the module values the order at the quote it
 *     fetched (call->quote), calls submit(), and stores the order and the
 *     decision (fills, status) in ONE transaction with the risk checks;
 *     nothing is ever at the broker that is not in the database.
 *   remote broker (alpaca): the module stores the order (status "new",
 *     buying power reserved, order.created in the outbox) and commits,
 *     then calls submit(); the result (accepted + broker_order_id, or
 *     rejected, or fills) is applied in a second transaction.  If the
 *     worker dies in between, the order stays "new" with no
 *     broker_order_id: sync() finds it at the broker by client_order_id
 *     (the module sends our order id as the broker's client_order_id).
 */


#ifndef _KX_TRADING_BROKER_H_INCLUDED_
#define _KX_TRADING_BROKER_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include "core/kx_decimal.h"
#include "trading/kx_order.h"
#include "trading/kx_quote.h"


typedef enum {
    KX_BROKER_OK = 0,           /* the broker answered: see the result */
    KX_BROKER_REJECTED,         /* it refused the order/cancel: reason */
    KX_BROKER_NOT_FOUND,        /* it does not know the order (cancel:
                                   the module cancels it here) */
    KX_BROKER_UNAVAILABLE,      /* not reached, 5xx, timeout: the outcome
                                   is unknown (the module keeps the order
                                   as it was and syncs later) */
    KX_BROKER_NOT_CONFIGURED,   /* keys missing, adapter not built in:
                                   submit rejects the order */
    KX_BROKER_ERROR             /* anything else (e.g. our keys refused):
                                   submit rejects the order with reason;
                                   a cancel answers 502.  An answer that
                                   leaves the outcome unknown is
                                   UNAVAILABLE, not ERROR */
} kx_broker_status_e;


/*
 * One execution.  execution_id is the broker's id of the fill, unique
 * per order: the module records a fill once however often it is
 * reported (trading.trades unique (order_id, execution_id)).  It may be
 * empty for a local broker, whose fills are applied exactly once.
 */
typedef struct {
    ngx_str_t            execution_id;
    kx_dec_t             qty;           /* > 0 */
    kx_dec_t             price;         /* > 0 */
    int64_t              time;          /* usec since the epoch; 0: now */
} kx_broker_fill_t;


/*
 * What a call found out.  With status KX_BROKER_OK:
 *   order_status     the order's status at the broker after the call
 *                    (our names: kx_order_status_e; map Alpaca's
 *                    "pending_new" etc. onto new/accepted);
 *   broker_order_id  the broker's id of the order (submit: required);
 *   fills, nfills    executions the adapter knows of: all of them or only
 *                    new ones, the module deduplicates by execution_id;
 *   filled_qty, filled_avg_price
 *                    when the broker gives only cumulative figures (no
 *                    execution ids: polling GET /v2/orders/{id}), leave
 *                    nfills 0 and set these: the module records one fill
 *                    of the difference to what it has, at the price that
 *                    makes the average come out as given;
 *   triggered        a stop order's stop price was reached.
 * With KX_BROKER_REJECTED (submit): the module rejects the order
 * (status rejected, reject_reason = reason) and releases its reserve;
 * (cancel): the module answers 422 with reason.
 */
typedef struct {
    kx_broker_status_e   status;
    kx_order_status_e    order_status;
    ngx_str_t            broker_order_id;
    kx_broker_fill_t    *fills;
    ngx_uint_t           nfills;
    kx_dec_t             filled_qty;
    kx_dec_t             filled_avg_price;
    unsigned             triggered:1;
    const char          *reason;        /* NULL or a short message */
} kx_broker_result_t;


typedef void (*kx_broker_done_pt)(kx_broker_result_t *res, void *data);

/* a report's change could not be written (yet): report it again */
typedef void (*kx_broker_report_failed_pt)(ngx_str_t *broker_order_id);


/* the context of one call */
typedef struct {
    ngx_log_t           *log;
    void                *conf;          /* what configure() returned */
    const kx_order_t    *order;         /* id = our uuid (use it as the
                                           broker's client_order_id) */
    ngx_str_t            user_id;       /* the owner (uuid text) */
    ngx_str_t            broker_order_id;   /* cancel, sync; may be "" */
    kx_quote_t           quote;         /* submit: the quote the module
                                           valued the order at (zeros:
                                           none) */
    int64_t              session_close; /* usec; the close of the session
                                           a day order lives in; 0 none */
} kx_broker_call_t;


typedef struct kx_trading_broker_s  kx_trading_broker_t;

struct kx_trading_broker_s {
    const char          *name;          /* "paper", "alpaca" */

    /* decides at once, without I/O: see "Order of events" above */
    unsigned             local:1;

    /*
     * Configuration time: the directive's key=value arguments (n may be
     * 0); returns the broker's conf (in cf->pool) or NULL with an error
     * logged by ngx_conf_log_error().  May be NULL: no options.
     */
    void              *(*configure)(ngx_conf_t *cf, ngx_str_t *args,
                                    ngx_uint_t n);

    /*
     * Every worker process (e.g. start following trade updates in
     * ngx_worker == 0 only, arm cancelable timers); exit_process frees
     * everything.  Either may be NULL.
     */
    ngx_int_t          (*init_process)(ngx_cycle_t *cycle, void *conf);
    void               (*exit_process)(ngx_cycle_t *cycle, void *conf);

    /* place call->order; result: status (accepted, ...), id, fills */
    void              *(*submit)(kx_broker_call_t *call,
                                 kx_broker_done_pt done, void *data);

    /*
     * cancel call->order; result order_status canceled (or what it is
     * now, e.g. filled: the module then applies the fills and answers
     * 422); a cancel the broker accepted but has not done yet may answer
     * KX_BROKER_OK with the order still open: the final status comes by
     * kx_trading_broker_report() later.
     */
    void              *(*cancel)(kx_broker_call_t *call,
                                 kx_broker_done_pt done, void *data);

    /* the order's current state at the broker (recovery, polling) */
    void              *(*sync)(kx_broker_call_t *call,
                               kx_broker_done_pt done, void *data);

    /* forget a pending call: done() is never called */
    void               (*abort)(void *handle);
};


extern kx_trading_broker_t  kx_trading_broker_paper;
extern kx_trading_broker_t  kx_trading_broker_alpaca
                                __attribute__((weak));


/*
 * Implemented by the trading module, for adapters: the broker told us
 * (trade update stream, polling) that an order changed on its own — a
 * resting order filled, the broker canceled or expired it.  The order is
 * found by (broker name, broker_order_id), or by our id when the adapter
 * knows only the client_order_id it sent (pass it as order_id, else "").
 * The change is applied in one transaction (fills deduplicated, cash,
 * positions, order_events and outbox rows), asynchronously; the result
 * is logged.  Returns NGX_OK if the work was started.  Worker processes.
 * If the write fails for a passing reason (the database down or slow, a
 * conflict) and failed is not NULL, failed(broker_order_id) is called,
 * in this process, so that the adapter reports the change again soon.
 */
ngx_int_t kx_trading_broker_report(ngx_cycle_t *cycle,
    const kx_trading_broker_t *broker, ngx_str_t *broker_order_id,
    ngx_str_t *order_id, kx_broker_result_t *res,
    kx_broker_report_failed_pt failed);


#endif /* _KX_TRADING_BROKER_H_INCLUDED_ */
