
/*
 * Copyright (C) Kianax
 */


#ifndef _KX_ALPACA_H_INCLUDED_
#define _KX_ALPACA_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include "core/kx_decimal.h"
#include "core/kx_error.h"
#include "core/kx_json.h"
#include "trading/kx_order.h"


/*
 * Alpaca's Trading API v2 as data: the body of POST /v2/orders built from
 * our order, Alpaca's order, position, account and trade_updates objects
 * read into plain structs, and Alpaca's statuses and HTTP errors mapped
 * onto ours.  No I/O here; modules/kx_trading_alpaca.c moves the bytes.
 *
 * Amounts: Alpaca sends decimal strings (sometimes numbers, sometimes
 * null).  Money and quantities are read exactly; only a value with more
 * than 8 fraction digits (Alpaca gives notional fills 9 places and some
 * account figures 14) is rounded to 8 -- prices and money half-even,
 * quantities toward zero (a notional order never holds more than it
 * paid for) -- and the struct's "rounded" flag says so.  Times are
 * RFC 3339 ("...T20:40:50.916594602Z", or with an offset), read as
 * microseconds since the epoch; null is 0.
 */

#define KX_ALPACA_ID_MAX            64
#define KX_ALPACA_CLIENT_ID_MAX     48      /* Alpaca's limit */
#define KX_ALPACA_NAME_MAX          32
#define KX_ALPACA_MESSAGE_MAX       160


enum {
    KX_ALPACA_OK = 0,
    KX_ALPACA_EPARSE,           /* not the documented shape: see err */
    KX_ALPACA_EINVALID,         /* an order we cannot send as it is */
    KX_ALPACA_ESTATE            /* an update that contradicts our order */
};


/* a parse failure, for the log: "filled_qty: not a decimal" */
typedef struct {
    char                message[KX_ALPACA_MESSAGE_MAX];
} kx_alpaca_err_t;


typedef struct {
    char                id[KX_ALPACA_ID_MAX + 1];
    char                client_order_id[KX_ALPACA_CLIENT_ID_MAX + 1];
    char                symbol[KX_ORDER_SYMBOL_MAX + 1];
    char                status_name[KX_ALPACA_NAME_MAX + 1];  /* Alpaca's */
    kx_order_status_e   status;         /* ours, see kx_alpaca_status_map */
    kx_side_e           side;
    kx_order_type_e     type;
    kx_tif_e            tif;
    kx_dec_t            qty;            /* 0: null (a notional order) */
    kx_dec_t            notional;       /* 0: null */
    kx_dec_t            filled_qty;
    kx_dec_t            filled_avg_price;   /* 0: null, nothing filled */
    kx_dec_t            limit_price;
    kx_dec_t            stop_price;
    int64_t             created_at;
    int64_t             updated_at;
    int64_t             submitted_at;
    int64_t             filled_at;
    int64_t             canceled_at;
    int64_t             expired_at;
    int64_t             failed_at;
    unsigned            rounded:1;
} kx_alpaca_order_t;


typedef struct {
    char                symbol[KX_ORDER_SYMBOL_MAX + 1];
    kx_dec_t            qty;            /* negative for a short position */
    kx_dec_t            qty_available;
    kx_dec_t            avg_entry_price;
    kx_dec_t            market_value;
    kx_dec_t            cost_basis;
    kx_dec_t            unrealized_pl;
    kx_dec_t            current_price;
    unsigned            rounded:1;
} kx_alpaca_position_t;


typedef struct {
    char                status[KX_ALPACA_NAME_MAX + 1];     /* "ACTIVE" */
    char                currency[8];
    kx_dec_t            cash;
    kx_dec_t            buying_power;
    kx_dec_t            equity;
    kx_dec_t            portfolio_value;
    kx_dec_t            long_market_value;
    kx_dec_t            short_market_value;
    unsigned            trading_blocked:1;
    unsigned            account_blocked:1;
    unsigned            shorting_enabled:1;
    unsigned            rounded:1;
} kx_alpaca_account_t;


/* messages of the trade_updates stream (wss://<host>/stream) */
typedef enum {
    KX_ALPACA_MSG_OTHER = 0,
    KX_ALPACA_MSG_AUTHORIZATION,    /* {"stream":"authorization",...} */
    KX_ALPACA_MSG_LISTENING,        /* {"stream":"listening",...} */
    KX_ALPACA_MSG_TRADE_UPDATE      /* {"stream":"trade_updates",...} */
} kx_alpaca_msg_e;


typedef struct {
    kx_alpaca_msg_e     type;
    unsigned            authorized:1;   /* authorization: "authorized" */
    unsigned            trade_updates:1;    /* listening: it is listed */
    char                event[KX_ALPACA_NAME_MAX + 1];  /* "fill", ... */
    char                execution_id[KX_ALPACA_ID_MAX + 1];
    kx_dec_t            price;          /* fill, partial_fill: of this */
    kx_dec_t            qty;            /*   execution; 0 otherwise */
    kx_dec_t            position_qty;
    int64_t             timestamp;
    kx_alpaca_order_t   order;          /* trade updates */
} kx_alpaca_msg_t;


/*
 * An Alpaca answer that is not a success, as we answer it: our error
 * code (its HTTP status is kx_error_status(err)), Alpaca's code and
 * message from the body {"code":40310000,"message":"..."} when there is
 * one, and what the caller may conclude.
 */
typedef enum {
    KX_ALPACA_CALL_SUBMIT = 0,      /* POST /v2/orders */
    KX_ALPACA_CALL_CANCEL,          /* DELETE /v2/orders/{id} */
    KX_ALPACA_CALL_GET              /* GET an order, positions, account */
} kx_alpaca_call_e;


typedef struct {
    kx_err_e            err;
    int64_t             code;           /* Alpaca's; 0 when absent */
    char                message[KX_ALPACA_MESSAGE_MAX];
    unsigned            retryable:1;    /* transient: ask again later */
    unsigned            rejected:1;     /* submit: refused for good, the
                                           order never existed there */
    unsigned            duplicate:1;    /* submit: the client_order_id is
                                           taken, so the order exists */
    unsigned            not_found:1;    /* no such order at Alpaca */
} kx_alpaca_error_t;


/*
 * The body of POST /v2/orders for o: symbol, qty or notional, side, type,
 * time_in_force, limit_price and stop_price when set (exact decimal
 * strings, no trailing zeros), and client_order_id.  The client_order_id
 * sent is the given one (callers pass our order id: unique per Alpaca
 * account, which a user's own client_order_id is not, and what makes a
 * resent submit recognisable).  KX_ALPACA_EINVALID if it is empty or
 * longer than 48, or o has neither qty nor notional.
 */
int kx_alpaca_order_body(kx_jw_t *w, const kx_order_t *o,
    const char *client_order_id, kx_alpaca_err_t *err);

/* an order object; only id, status and filled_qty are required */
int kx_alpaca_order_parse(const kx_json_node_t *obj, kx_alpaca_order_t *a,
    kx_alpaca_err_t *err);
int kx_alpaca_position_parse(const kx_json_node_t *obj,
    kx_alpaca_position_t *p, kx_alpaca_err_t *err);
int kx_alpaca_account_parse(const kx_json_node_t *obj,
    kx_alpaca_account_t *acc, kx_alpaca_err_t *err);

/* one text (or binary) frame of the stream, as JSON */
int kx_alpaca_msg_parse(const char *buf, size_t len, kx_alpaca_msg_t *m,
    kx_alpaca_err_t *err);

/* the frames we send: authenticate, then listen to trade_updates */
void kx_alpaca_stream_auth(kx_jw_t *w, const char *key_id,
    const char *secret_key);
void kx_alpaca_stream_listen(kx_jw_t *w);

/*
 * Alpaca's order status as ours, given what is filled:
 *
 *   new, accepted, pending_new, accepted_for_bidding, held, stopped,
 *   suspended, pending_cancel, pending_replace, done_for_day, calculated
 *                           -> accepted, or partially_filled when
 *                              filled_qty > 0 (still working, or waiting:
 *                              none of these is final at Alpaca)
 *   partially_filled        -> partially_filled
 *   filled                  -> filled
 *   canceled                -> canceled
 *   replaced                -> canceled (we never replace: someone did
 *                              it outside Kianax; this order is over)
 *   expired                 -> expired
 *   rejected                -> rejected
 *
 * -1 for a status Alpaca does not document.
 */
int kx_alpaca_status_map(const char *s, size_t len, kx_dec_t filled_qty,
    kx_order_status_e *out);

/*
 * What changed when o (ours, as stored) is brought up to a (Alpaca's view
 * of the same order): the quantity filled since, at the price that moves
 * o's average to Alpaca's (exact to 8 places, half-even), and the status
 * move.  Alpaca is the truth: o's filled_qty and filled_avg_price become
 * Alpaca's, and its status Alpaca's mapped one.
 */
typedef struct {
    kx_dec_t            fill_qty;       /* 0: no new fill */
    kx_dec_t            fill_price;
    kx_order_status_e   from;
    kx_order_status_e   to;
    unsigned            changed:1;      /* a fill or a status move */
} kx_alpaca_change_t;

/*
 * KX_ALPACA_ESTATE, o unchanged, if a reports less filled than o has, or
 * a status o cannot move to (o is final and a says otherwise).  Times
 * come from a (filled_at, canceled_at, ..., updated_at) or now.
 */
int kx_alpaca_order_apply(kx_order_t *o, const kx_alpaca_order_t *a,
    int64_t now, kx_alpaca_change_t *ch);

/* the error an HTTP answer of Alpaca means (status >= 300) */
void kx_alpaca_error_map(kx_alpaca_call_e call, unsigned status,
    const char *body, size_t len, kx_alpaca_error_t *out);

/* RFC 3339 to microseconds; -1 if not one */
int kx_alpaca_time_parse(const char *s, size_t len, int64_t *usec);


#endif /* _KX_ALPACA_H_INCLUDED_ */
