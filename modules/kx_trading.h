
/*
 * Copyright (C) Kianax
 *
 * What the files of the trading service share:
 *
 *   ngx_http_kx_trading_module.c   directives, routes, responses
 *   kx_trading_op.c                one account transaction (lock, decide,
 *                                  apply, commit) and its kinds
 *   kx_trading_quote.c             quotes from the market service (HTTP)
 *   kx_trading_matcher.c           worker 0: resting paper orders follow
 *                                  kx:quote:<SYM>; day orders expire
 *   kx_trading_paper.c             the paper broker (kx_trading_broker.h)
 *   kx_trading_cache.c             accounts at a version, shared memory
 */


#ifndef _KX_TRADING_H_INCLUDED_
#define _KX_TRADING_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_kx.h"
#include "kx_trading_broker.h"
#include "io/kx_pg.h"
#include "trading/kx_acct_cache.h"
#include "trading/kx_matching.h"
#include "trading/kx_quote.h"
#include "trading/kx_risk.h"
#include "trading/kx_txn.h"


#define KX_TRADING_LIQUIDITY_UNLIMITED  0
#define KX_TRADING_LIQUIDITY_QUOTE      1


typedef struct {
    ngx_str_t                 market_url;
    ngx_str_t                 start_cash_text;
    kx_dec_t                  start_cash;
    kx_dec_t                  collar_pct;
    kx_dec_t                  market_buffer_pct;
    ngx_uint_t                hours;
    ngx_uint_t                liquidity;
    ngx_msec_t                quote_timeout;
    ngx_msec_t                quote_max_age;
    ngx_msec_t                sweep_interval;
    ngx_flag_t                matcher;
    kx_trading_broker_t      *broker;
    void                     *broker_conf;
    ngx_shm_zone_t           *acct_cache;   /* kx_trading_cache.c */
    ngx_uint_t                enabled;
} kx_trading_main_conf_t;


typedef enum {
    KX_TRADING_OP_PLACE = 0,    /* a new order: risk, reserve, broker */
    KX_TRADING_OP_RESULT,       /* apply a broker's result to an order */
    KX_TRADING_OP_MATCH,        /* a paper order against a new quote */
    KX_TRADING_OP_CANCEL,
    KX_TRADING_OP_EXPIRE
} kx_trading_op_kind_e;


typedef struct kx_trading_op_s  kx_trading_op_t;

typedef void (*kx_trading_op_done_pt)(kx_trading_op_t *op);


/*
 * One operation on one user's account.  Heap memory of its own: it
 * finishes (commits or rolls back) even when the client that asked went
 * away; the owner then calls kx_trading_op_detach() and done is not
 * called.  The op frees itself after done returns.
 */
struct kx_trading_op_s {
    kx_trading_op_kind_e      kind;
    ngx_log_t                *log;
    kx_trading_main_conf_t   *conf;
    kx_pg_pool_t             *pg;

    char                      user_id[KX_TXN_UUID_LEN + 1];
    char                      order_id[KX_TXN_UUID_LEN + 1];
    kx_order_t                order;        /* PLACE: the validated order */
    kx_quote_t                quote;        /* PLACE, MATCH */
    kx_risk_limits_t          limits;

    /* RESULT: what the broker said (copied) */
    kx_broker_result_t        result;
    kx_broker_report_failed_pt  report_failed;  /* kx_trading_broker_report */
    kx_broker_fill_t          fills[8];
    char                      ids[9][KX_TXN_EXEC_MAX + 1];

    kx_trading_op_done_pt     done;
    void                     *data;

    /* the outcome */
    ngx_uint_t                status;       /* HTTP: 200, 201, 4xx, 5xx */
    const char               *code;
    char                      message[200];
    kx_order_t                out;          /* the order afterwards */
    unsigned                  existing:1;   /* idempotent repeat */
    unsigned                  written:1;

    /* internal */
    kx_pg_req_t              *req;
    kx_pg_txn_t              *txn;
    kx_txn_acct_t             acct;
    kx_txn_acct_t             before;       /* acct before the decision */
    kx_txn_t                  txn_state;
    kx_order_t                broker_order; /* as sent to the broker */
    kx_trading_op_kind_e      origin;       /* before the RESULT run */
    unsigned                  txn_inited:1;
    unsigned                  locked:1;     /* deciding under the lock */
    unsigned                  cached:1;     /* on the cache's account */
    unsigned                  no_cache:1;   /* read, whatever it holds */
    unsigned                  lock_tries:2; /* locked runs that met KX002 */
    ngx_event_t               post;         /* the cached path's start */
    unsigned                  broker_call:1;    /* remote step pending */
    unsigned                  detached:1;
    void                     *broker_handle;
    char                     *exec_ids;
};


kx_trading_op_t *kx_trading_op_create(kx_trading_op_kind_e kind,
    kx_trading_main_conf_t *conf, kx_pg_pool_t *pg, ngx_log_t *log);
/* starts it; done is called once, later (NGX_ERROR: not started) */
ngx_int_t kx_trading_op_run(kx_trading_op_t *op);
void kx_trading_op_detach(kx_trading_op_t *op);

/*
 * An order row of the columns KX_TRADING_ORDER_COLS starting at column c:
 * NGX_OK, NGX_DECLINED (NULL id: no order), NGX_ERROR (bad row).
 */
#define KX_TRADING_ORDER_COLS                                                 \
    "o.id, o.client_order_id, o.symbol, o.side, o.type, o.time_in_force, "    \
    "o.quantity, o.notional, o.limit_price, o.stop_price, o.filled_qty, "     \
    "o.filled_avg_price, o.reserved_amount, o.status, o.broker, "             \
    "o.broker_order_id, o.reject_reason, trading.usec(o.created_at), "        \
    "trading.usec(o.updated_at), trading.usec(o.filled_at), "                 \
    "trading.usec(o.canceled_at), trading.usec(o.expired_at), "               \
    "trading.usec(o.triggered_at)"
#define KX_TRADING_ORDER_NCOLS  23

ngx_int_t kx_trading_order_from_row(PGresult *pr, int row, int c,
    kx_order_t *o, kx_dec_t *reserved, char *broker, size_t broker_size,
    char *broker_order_id, size_t boid_size);

/*
 * The accounts this instance changed (kx_trading_account_cache), see
 * src/trading/kx_acct_cache.h; without the directive they do nothing.
 */
char *kx_trading_cache_conf(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
ngx_int_t kx_trading_cache_get(kx_trading_main_conf_t *conf,
    const char *user_id, const char *symbol, kx_acct_snap_t *s);
void kx_trading_cache_put(kx_trading_main_conf_t *conf, const char *user_id,
    const char *base, const kx_acct_snap_t *s);
void kx_trading_cache_drop(kx_trading_main_conf_t *conf,
    const char *user_id);

/* the close of the session a day order placed at usec belongs to */
int64_t kx_trading_session_close(ngx_uint_t hours, int64_t usec);

extern ngx_module_t  ngx_http_kx_trading_module;

/* a v4 UUID, lower-case text */
void kx_trading_uuid(char out[KX_TXN_UUID_LEN + 1]);

/* the time now in microseconds */
int64_t kx_trading_now(void);


/* quotes from the market service: GET <url>/v1/quotes/<SYM> */
typedef void (*kx_trading_quote_pt)(ngx_int_t rc, kx_quote_t *q,
    void *data);

/*
 * rc: NGX_OK (q valid), NGX_DECLINED (unknown symbol), NGX_ERROR (no
 * quote to be had).  auth is forwarded (the market verifies tokens).
 */
void *kx_trading_quote_get(kx_trading_main_conf_t *conf, const char *symbol,
    ngx_str_t *auth, ngx_log_t *log, kx_trading_quote_pt handler,
    void *data);
void kx_trading_quote_cancel(void *handle);

/* every worker follows kx:quote:*; matcher: hand quotes to the matcher */
ngx_int_t kx_trading_quotes_start(ngx_cycle_t *cycle, ngx_uint_t matcher);
void kx_trading_quotes_stop(void);
/* 1 and *q: a published quote of symbol at most max_age old */
ngx_int_t kx_trading_quote_cached(const char *symbol, ngx_msec_t max_age,
    kx_quote_t *q);


/*
 * The paper broker's decision for an open order and a quote (fill is
 * where res->fills points when there is one); conf is the paper
 * broker's configuration.
 */
void kx_trading_paper_decide(void *conf, const kx_order_t *o,
    const kx_quote_t *q, int64_t now, int64_t session_close,
    kx_broker_result_t *res, kx_broker_fill_t *fill);


/* the matcher, worker 0 only */
ngx_int_t kx_trading_matcher_start(ngx_cycle_t *cycle,
    kx_trading_main_conf_t *conf);
void kx_trading_matcher_stop(void);
/* a resting paper order exists for symbol (placed in this worker) */
void kx_trading_matcher_watch(const char *symbol);
/* a quote published on kx:quote:<symbol> */
void kx_trading_matcher_quote(const char *symbol, kx_quote_t *q);


#endif /* _KX_TRADING_H_INCLUDED_ */
