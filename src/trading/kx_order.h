
/*
 * Copyright (C) Kianax
 */


#ifndef _KX_ORDER_H_INCLUDED_
#define _KX_ORDER_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include "core/kx_decimal.h"
#include "core/kx_json.h"


/*
 * An order as Kianax takes it (POST /orders) and shows it (the Alpaca v2
 * order object, restricted to what we support).  Amounts are exact
 * decimals; a zero amount means "absent", which is safe because every
 * amount a client may give must be > 0.  Times are microseconds since
 * the Unix epoch (the resolution of timestamptz), 0 meaning "not yet".
 */

#define KX_ORDER_SYMBOL_MAX         10
#define KX_ORDER_CLIENT_ID_MAX      48
#define KX_ORDER_ID_MAX             64

/* decimal places a client may give; more is refused, never rounded */
#define KX_ORDER_QTY_PLACES         6
#define KX_ORDER_NOTIONAL_PLACES    2
#define KX_ORDER_PRICE_PLACES       4

#define KX_ORDER_REASON_MAX         160

#define KX_ORDER_FIELD_MAX          40
#define KX_ORDER_MESSAGE_MAX        160


typedef enum {
    KX_SIDE_BUY = 0,
    KX_SIDE_SELL
} kx_side_e;


typedef enum {
    KX_ORDER_MARKET = 0,
    KX_ORDER_LIMIT,
    KX_ORDER_STOP,
    KX_ORDER_STOP_LIMIT
} kx_order_type_e;


typedef enum {
    KX_TIF_DAY = 0,
    KX_TIF_GTC,
    KX_TIF_IOC,
    KX_TIF_FOK
} kx_tif_e;


/*
 * new: recorded, not yet past the risk checks and the broker;
 * accepted: working at the broker (resting, or about to fill);
 * partially_filled: working, some quantity filled.
 * filled, canceled, rejected and expired are final.
 */
typedef enum {
    KX_ORDER_NEW = 0,
    KX_ORDER_ACCEPTED,
    KX_ORDER_PARTIALLY_FILLED,
    KX_ORDER_FILLED,
    KX_ORDER_CANCELED,
    KX_ORDER_REJECTED,
    KX_ORDER_EXPIRED,
    KX_ORDER_STATUS_COUNT
} kx_order_status_e;


enum {
    KX_ORDER_OK = 0,
    KX_ORDER_EINVALID,          /* validation failed: see the error */
    KX_ORDER_ESTATE,            /* illegal transition, or order not open */
    KX_ORDER_ERANGE             /* an amount left the fixed-point range */
};


typedef struct {
    char                id[KX_ORDER_ID_MAX + 1];
    char                client_order_id[KX_ORDER_CLIENT_ID_MAX + 1];
    char                symbol[KX_ORDER_SYMBOL_MAX + 1];
    kx_side_e           side;
    kx_order_type_e     type;
    kx_tif_e            tif;
    kx_dec_t            quantity;           /* 0: a notional order */
    kx_dec_t            notional;           /* 0: a quantity order */
    kx_dec_t            limit_price;        /* 0: none */
    kx_dec_t            stop_price;         /* 0: none */
    kx_order_status_e   status;
    kx_dec_t            filled_qty;
    kx_dec_t            filled_avg_price;   /* 0 until the first fill */
    int64_t             created_at;
    int64_t             updated_at;
    /*
     * When a stop or stop_limit order's stop price was reached: from
     * then on it is a market or limit order even if the price moves
     * back, so this must be stored with the order.
     */
    int64_t             triggered_at;
    int64_t             filled_at;
    int64_t             canceled_at;
    int64_t             expired_at;
    /* why the order was rejected (status rejected); "" otherwise */
    char                reject_reason[KX_ORDER_REASON_MAX + 1];
} kx_order_t;


/*
 * A validation failure: the field (the key as sent, made printable) and
 * the whole message for {"error":{"code":"validation_failed",...}},
 * which starts with the field: "limit_price: required for limit orders".
 */
typedef struct {
    char                field[KX_ORDER_FIELD_MAX];
    char                message[KX_ORDER_MESSAGE_MAX];
} kx_order_err_t;


void kx_order_init(kx_order_t *o);

/*
 * Validates the body of POST /orders and fills o (status new, times 0;
 * the caller sets id and times).  Returns KX_ORDER_OK, or
 * KX_ORDER_EINVALID with the first failure in err (answer 422).
 *
 * The rules, Alpaca's where Alpaca has one:
 *   symbol         required; 1-10 of A-Z and '.', starting with a
 *                  letter (that it is listed is the caller's check);
 *   side           required; "buy" or "sell";
 *   type           required; market, limit, stop or stop_limit;
 *   time_in_force  day (default), gtc, ioc or fok;
 *   quantity       (or "qty", Alpaca's name; not both) > 0, at most 6
 *                  decimal places; exactly one of quantity and notional;
 *   notional       > 0, at most 2 places; only for type market with
 *                  time_in_force day;
 *   limit_price    > 0, at most 4 places; required for limit and
 *                  stop_limit, refused for the other types;
 *   stop_price     > 0, at most 4 places; required for stop and
 *                  stop_limit, refused for the other types;
 *   client_order_id  optional; 1-48 of A-Z a-z 0-9 . _ : -
 * Amounts may be JSON numbers or strings ("12.50"); more places than
 * allowed are refused, never rounded.  A null value counts as absent,
 * because SDKs commonly serialise unset options as null.
 *
 * Any other key is refused ("qyt: unknown field"): in a request that
 * moves money a misspelt "limit_price" must not silently turn a limit
 * order into a market order.  Alpaca options we do not support
 * (extended_hours, order_class, trail_price, ...) are refused too, with
 * "not supported", rather than ignored.  The body must be an object.
 */
int kx_order_validate(const kx_json_node_t *body, kx_order_t *o,
    kx_order_err_t *err);

/* names as in the API; parse functions return 0, or -1 if unknown */
const char *kx_side_name(kx_side_e side);
const char *kx_order_type_name(kx_order_type_e type);
const char *kx_tif_name(kx_tif_e tif);
const char *kx_order_status_name(kx_order_status_e status);

int kx_side_parse(const char *s, size_t len, kx_side_e *out);
int kx_order_type_parse(const char *s, size_t len, kx_order_type_e *out);
int kx_tif_parse(const char *s, size_t len, kx_tif_e *out);
int kx_order_status_parse(const char *s, size_t len,
    kx_order_status_e *out);

/*
 * The status machine.  Legal moves:
 *   new              -> accepted, partially_filled, filled, canceled,
 *                       rejected, expired
 *   accepted         -> partially_filled, filled, canceled, rejected,
 *                       expired
 *   partially_filled -> partially_filled (another fill), filled,
 *                       canceled, expired
 * and nothing leaves a final status, so a cancel of a filled order is
 * refused (the module answers 422, as Alpaca does).
 */
int kx_order_status_is_final(kx_order_status_e status);
int kx_order_status_is_open(kx_order_status_e status);
int kx_order_transition_ok(kx_order_status_e from, kx_order_status_e to);

/*
 * Moves o to a status, stamping updated_at and the matching time
 * (filled_at, canceled_at, expired_at).  KX_ORDER_ESTATE if the move is
 * illegal; o is unchanged then.
 */
int kx_order_set_status(kx_order_t *o, kx_order_status_e to, int64_t now);

/*
 * Records a fill of qty at price: filled_qty grows, filled_avg_price
 * becomes the exact volume-weighted average rounded half-even to 8
 * places, and the status becomes partially_filled or filled.  A
 * quantity order is filled when filled_qty reaches quantity; a notional
 * order when what remains of the notional buys less than 0.000001 share
 * at this price.  KX_ORDER_ESTATE if o is not open, KX_ORDER_EINVALID if
 * qty or price is not > 0 or qty exceeds what remains; o is unchanged
 * on error.
 */
int kx_order_fill(kx_order_t *o, kx_dec_t qty, kx_dec_t price, int64_t now);

/*
 * What remains to fill: quantity - filled_qty of a quantity order
 * (0 for a notional order), or notional - filled value of a notional
 * order, the filled value being filled_qty x filled_avg_price rounded
 * half-even (0 for a quantity order).  Never negative.
 */
int kx_order_remaining_qty(const kx_order_t *o, kx_dec_t *out);
int kx_order_remaining_notional(const kx_order_t *o, kx_dec_t *out);

/*
 * Writes the order object: id, client_order_id, symbol, side, type,
 * time_in_force, quantity and qty (the same value: ours and Alpaca's
 * name), notional, limit_price, stop_price, filled_qty,
 * filled_avg_price, status, created_at, updated_at, filled_at,
 * canceled_at, expired_at, triggered_at, reject_reason.  Amounts are exact decimal strings (prices
 * and notional with at least 2 places), absent ones null; times are
 * RFC 3339 UTC with microseconds, unset ones null.
 */
void kx_order_jw(kx_jw_t *w, const kx_order_t *o);
void kx_order_jw_fields(kx_jw_t *w, const kx_order_t *o);

/*
 * RFC 3339 UTC, "2024-01-02T15:04:05.123456Z" (28 bytes and a NUL);
 * returns the length, or 0 outside the years 0000-9999.
 */
#define KX_ORDER_TIME_MAX           28
size_t kx_order_time_format(int64_t usec, char *buf, size_t size);


#endif /* _KX_ORDER_H_INCLUDED_ */
