
/*
 * Copyright (C) Kianax
 */


#ifndef _KX_TXN_H_INCLUDED_
#define _KX_TXN_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include "core/kx_decimal.h"
#include "core/kx_json.h"
#include "trading/kx_order.h"
#include "trading/kx_position.h"


/*
 * The changes one database transaction makes to one user's account:
 * an order placed, filled, canceled or expired, and what follows from it
 * (order events, trades, the position at average cost, cash, reserved
 * cash, realized P&L, outbox events).  Pure: the module reads the account
 * under the portfolio lock (trading.order_lock()), calls these functions,
 * and hands kx_txn_finish()'s JSON to trading.order_apply().
 *
 * Reserved cash (buying power held by open buy orders): placing adds the
 * order's reserve; a fill releases the share of the reserve of what it
 * filled (what remains stays reserved, rounded UP to the cent); an order
 * that ends releases all it still holds.  Sells reserve nothing.
 *
 * Outbox (contract C4): order.created when an order is placed,
 * order.filled per fill (the order as it is after the fill, plus
 * "fill":{price, quantity, trade_id}), order.cancelled when it is
 * canceled, expired or rejected (the status says which), and one
 * portfolio.updated at the end when cash, reserved cash or realized P&L
 * changed.  Every payload is the order object of GET /v1/orders/{id}.
 */

#define KX_TXN_UUID_LEN     36
#define KX_TXN_EXEC_MAX     64


typedef void (*kx_txn_uuid_pt)(char out[KX_TXN_UUID_LEN + 1]);


/* the account as read under the lock */
typedef struct {
    int64_t             now;            /* the transaction's time, usec */
    char                user_id[KX_TXN_UUID_LEN + 1];
    /* the portfolio's version as read; "" when read under the lock */
    char                version[24];
    kx_dec_t            cash;
    kx_dec_t            reserved;
    kx_dec_t            realized;
    kx_position_t       pos;            /* in the order's symbol */
    unsigned            open_orders;
    kx_dec_t            open_sell_qty;
    unsigned            allow_short:1;

    unsigned            has_order:1;    /* the order below exists */
    kx_order_t          order;
    kx_dec_t            order_reserved;
    char                broker[33];
    char                broker_order_id[KX_ORDER_ID_MAX + 1];
    /* the order's known execution ids, comma-separated */
    const char         *exec_ids;
    size_t              exec_ids_len;
} kx_txn_acct_t;


typedef struct {
    kx_txn_acct_t      *acct;
    kx_txn_uuid_pt      uuid;

    kx_order_t          order;          /* the order as it becomes */
    kx_dec_t            order_reserved;
    char                broker_order_id[KX_ORDER_ID_MAX + 1];

    kx_order_status_e   expect_status;  /* as read under the lock */
    kx_dec_t            expect_filled;

    kx_dec_t            cash_delta;
    kx_dec_t            reserved_delta;
    kx_dec_t            realized_delta;

    unsigned            insert:1;
    unsigned            check_buying_power:1;
    unsigned            pos_changed:1;
    unsigned            changed:1;
    unsigned            failed:1;

    kx_jw_t             events;         /* JSON arrays being built */
    kx_jw_t             trades;
    kx_jw_t             outbox;
} kx_txn_t;


void kx_txn_init(kx_txn_t *t, kx_txn_acct_t *acct, kx_txn_uuid_pt uuid);
void kx_txn_free(kx_txn_t *t);

/*
 * A new order, status new, holding reserve (buys); o's id and times are
 * set here.  broker names who executes it.
 */
int kx_txn_place(kx_txn_t *t, const kx_order_t *o, kx_dec_t reserve,
    const char *broker);

/* works on the order read under the lock (acct->order) */
int kx_txn_load(kx_txn_t *t);

/* a status change (accepted, canceled, expired, rejected with reason) */
int kx_txn_status(kx_txn_t *t, kx_order_status_e to, const char *reason);

/* the stop price was reached */
void kx_txn_triggered(kx_txn_t *t);

void kx_txn_broker_order_id(kx_txn_t *t, const char *id, size_t len);

/*
 * A fill of qty at price.  exec_id (may be NULL or "") is the broker's
 * id of the fill: a fill whose id the order already has is skipped
 * (returns KX_ORDER_OK with nothing changed).  allow_short: the fill is
 * a fact (a remote broker executed it), record it even if it goes short.
 */
int kx_txn_fill(kx_txn_t *t, kx_dec_t qty, kx_dec_t price,
    const char *exec_id, size_t exec_id_len, int allow_short);

/* the JSON for trading.order_apply(); KX_ORDER_OK or an error */
int kx_txn_finish(kx_txn_t *t, kx_jw_t *out);

/* an exact decimal string with at least min_places places */
void kx_txn_amount_jw(kx_jw_t *w, kx_dec_t d, unsigned min_places);

/* the portfolio summary of portfolio.updated, after the changes */
void kx_txn_portfolio_jw(kx_txn_t *t, kx_jw_t *w);


#endif /* _KX_TXN_H_INCLUDED_ */
