
/*
 * Copyright (C) Kianax
 */


#include <string.h>

#include "trading/kx_txn.h"


static const kx_dec_t  kx_txn_zero = { 0 };


static void kx_txn_event(kx_txn_t *t, kx_dec_t price, const char *reason);
static void kx_txn_outbox(kx_txn_t *t, const char *type,
    const kx_dec_t *fill_qty, const kx_dec_t *fill_price,
    const char *trade_id);
static void kx_txn_event_id(kx_txn_t *t, kx_jw_t *w);
static void kx_txn_time(kx_jw_t *w, int64_t usec);
static void kx_txn_order_row(kx_txn_t *t, kx_jw_t *w);
static int kx_txn_exec_known(kx_txn_t *t, const char *id, size_t len);


void
kx_txn_amount_jw(kx_jw_t *w, kx_dec_t d, unsigned min_places)
{
    char         buf[KX_DEC_FMT_MAX];
    size_t       n;
    const char  *dot;

    n = kx_dec_format_min(d, buf, sizeof(buf));
    dot = memchr(buf, '.', n);

    if (min_places && (dot == NULL
                       || (size_t) (buf + n - dot - 1) < min_places))
    {
        n = kx_dec_format(d, min_places, buf, sizeof(buf));
    }

    kx_jw_strn(w, buf, n);
}


void
kx_txn_init(kx_txn_t *t, kx_txn_acct_t *acct, kx_txn_uuid_pt uuid)
{
    memset(t, 0, sizeof(kx_txn_t));

    t->acct = acct;
    t->uuid = uuid;

    kx_jw_init(&t->events);
    kx_jw_init(&t->trades);
    kx_jw_init(&t->outbox);

    kx_jw_arr_begin(&t->events);
    kx_jw_arr_begin(&t->trades);
    kx_jw_arr_begin(&t->outbox);
}


void
kx_txn_free(kx_txn_t *t)
{
    kx_jw_free(&t->events);
    kx_jw_free(&t->trades);
    kx_jw_free(&t->outbox);
}


int
kx_txn_place(kx_txn_t *t, const kx_order_t *o, kx_dec_t reserve,
    const char *broker)
{
    kx_txn_acct_t  *a;

    a = t->acct;

    t->order = *o;
    t->uuid(t->order.id);

    if (t->order.client_order_id[0] == '\0') {
        memcpy(t->order.client_order_id, t->order.id,
               KX_TXN_UUID_LEN + 1);
    }

    t->order.status = KX_ORDER_NEW;
    t->order.created_at = a->now;
    t->order.updated_at = a->now;

    (void) strncpy(a->broker, broker, sizeof(a->broker) - 1);

    t->insert = 1;
    t->changed = 1;
    t->check_buying_power = (o->side == KX_SIDE_BUY);

    if (reserve.v > 0) {
        if (kx_dec_add(t->reserved_delta, reserve, &t->reserved_delta)
            != KX_DEC_OK
            || kx_dec_add(a->reserved, reserve, &a->reserved) != KX_DEC_OK)
        {
            return KX_ORDER_ERANGE;
        }

        t->order_reserved = reserve;
    }

    kx_txn_event(t, kx_txn_zero, NULL);
    kx_txn_outbox(t, "order.created", NULL, NULL, NULL);

    return KX_ORDER_OK;
}


int
kx_txn_load(kx_txn_t *t)
{
    kx_txn_acct_t  *a;

    a = t->acct;

    if (!a->has_order) {
        return KX_ORDER_ESTATE;
    }

    t->order = a->order;
    t->order_reserved = a->order_reserved;
    t->expect_status = a->order.status;
    t->expect_filled = a->order.filled_qty;
    memcpy(t->broker_order_id, a->broker_order_id,
           sizeof(t->broker_order_id));

    return KX_ORDER_OK;
}


static int
kx_txn_release(kx_txn_t *t, kx_dec_t keep)
{
    kx_dec_t        release;
    kx_txn_acct_t  *a;

    a = t->acct;

    if (kx_dec_cmp(keep, t->order_reserved) >= 0) {
        return KX_ORDER_OK;
    }

    if (keep.v < 0) {
        keep.v = 0;
    }

    (void) kx_dec_sub(t->order_reserved, keep, &release);

    t->order_reserved = keep;

    if (kx_dec_sub(t->reserved_delta, release, &t->reserved_delta)
        != KX_DEC_OK
        || kx_dec_sub(a->reserved, release, &a->reserved) != KX_DEC_OK)
    {
        return KX_ORDER_ERANGE;
    }

    return KX_ORDER_OK;
}


int
kx_txn_status(kx_txn_t *t, kx_order_status_e to, const char *reason)
{
    int  rc;

    rc = kx_order_set_status(&t->order, to, t->acct->now);
    if (rc != KX_ORDER_OK) {
        return rc;
    }

    t->changed = 1;

    if (to == KX_ORDER_REJECTED) {
        (void) strncpy(t->order.reject_reason, reason ? reason : "rejected",
                       KX_ORDER_REASON_MAX);
        t->order.reject_reason[KX_ORDER_REASON_MAX] = '\0';
    }

    if (kx_order_status_is_final(to)) {
        rc = kx_txn_release(t, kx_txn_zero);
        if (rc != KX_ORDER_OK) {
            return rc;
        }
    }

    kx_txn_event(t, kx_txn_zero, reason);

    if (to == KX_ORDER_CANCELED || to == KX_ORDER_EXPIRED
        || to == KX_ORDER_REJECTED)
    {
        kx_txn_outbox(t, "order.cancelled", NULL, NULL, NULL);
    }

    return KX_ORDER_OK;
}


void
kx_txn_triggered(kx_txn_t *t)
{
    if (t->order.triggered_at == 0) {
        t->order.triggered_at = t->acct->now;
        t->order.updated_at = t->acct->now;
        t->changed = 1;
    }
}


void
kx_txn_broker_order_id(kx_txn_t *t, const char *id, size_t len)
{
    if (len == 0 || len > KX_ORDER_ID_MAX) {
        return;
    }

    memcpy(t->broker_order_id, id, len);
    t->broker_order_id[len] = '\0';
    t->changed = 1;
}


static int
kx_txn_exec_known(kx_txn_t *t, const char *id, size_t len)
{
    const char  *p, *end, *c;

    p = t->acct->exec_ids;
    end = p + t->acct->exec_ids_len;

    while (p != NULL && p < end) {
        c = memchr(p, ',', end - p);
        if (c == NULL) {
            c = end;
        }

        if ((size_t) (c - p) == len && memcmp(p, id, len) == 0) {
            return 1;
        }

        p = c + 1;
    }

    return 0;
}


int
kx_txn_fill(kx_txn_t *t, kx_dec_t qty, kx_dec_t price,
    const char *exec_id, size_t exec_id_len, int allow_short)
{
    int                rc;
    char               trade_id[KX_TXN_UUID_LEN + 1];
    kx_dec_t           before, after, keep;
    kx_txn_acct_t     *a;
    kx_fill_result_t   res;

    a = t->acct;

    if (exec_id_len > KX_TXN_EXEC_MAX) {
        return KX_ORDER_EINVALID;
    }

    if (exec_id_len && kx_txn_exec_known(t, exec_id, exec_id_len)) {
        return KX_ORDER_OK;
    }

    if (t->order.notional.v) {
        rc = kx_order_remaining_notional(&t->order, &before);

    } else {
        rc = kx_order_remaining_qty(&t->order, &before);
    }

    if (rc != KX_ORDER_OK) {
        return rc;
    }

    rc = kx_order_fill(&t->order, qty, price, a->now);
    if (rc != KX_ORDER_OK) {
        return rc;
    }

    rc = kx_position_apply_fill(&a->pos, &a->cash, t->order.side, qty, price,
                                allow_short || a->allow_short, &res);
    if (rc != KX_POSITION_OK) {
        return rc == KX_POSITION_ESHORT ? KX_ORDER_EINVALID : KX_ORDER_ERANGE;
    }

    if (kx_dec_add(t->cash_delta, res.cash_delta, &t->cash_delta)
        != KX_DEC_OK
        || kx_dec_add(t->realized_delta, res.realized_pl, &t->realized_delta)
           != KX_DEC_OK
        || kx_dec_add(a->realized, res.realized_pl, &a->realized)
           != KX_DEC_OK)
    {
        return KX_ORDER_ERANGE;
    }

    t->pos_changed = 1;
    t->changed = 1;

    /* keep the reserve of what remains, rounded UP to the cent */
    if (t->order_reserved.v > 0) {
        if (t->order.status == KX_ORDER_FILLED) {
            keep.v = 0;

        } else if (t->order.notional.v) {
            rc = kx_order_remaining_notional(&t->order, &keep);
            if (rc != KX_ORDER_OK) {
                return rc;
            }

        } else {
            (void) kx_order_remaining_qty(&t->order, &after);

            if (before.v <= 0
                || kx_dec_mul(t->order_reserved, after, KX_ROUND_CEIL, &keep)
                   != KX_DEC_OK
                || kx_dec_div(keep, before, KX_ROUND_CEIL, &keep)
                   != KX_DEC_OK
                || kx_dec_round(keep, 2, KX_ROUND_CEIL, &keep) != KX_DEC_OK)
            {
                return KX_ORDER_ERANGE;
            }
        }

        rc = kx_txn_release(t, keep);
        if (rc != KX_ORDER_OK) {
            return rc;
        }
    }

    t->uuid(trade_id);

    kx_jw_obj_begin(&t->trades);
    kx_jw_key(&t->trades, "id");
    kx_jw_str(&t->trades, trade_id);
    kx_jw_key(&t->trades, "quantity");
    kx_jw_dec_min(&t->trades, qty);
    kx_jw_key(&t->trades, "price");
    kx_jw_dec_min(&t->trades, price);
    kx_jw_key(&t->trades, "execution_id");
    if (exec_id_len) {
        kx_jw_strn(&t->trades, exec_id, exec_id_len);

    } else {
        kx_jw_null(&t->trades);
    }
    kx_jw_key(&t->trades, "executed_at");
    kx_txn_time(&t->trades, a->now);
    kx_jw_obj_end(&t->trades);

    kx_txn_event(t, price, NULL);
    kx_txn_outbox(t, "order.filled", &qty, &price, trade_id);

    return KX_ORDER_OK;
}


static void
kx_txn_time(kx_jw_t *w, int64_t usec)
{
    char    buf[KX_ORDER_TIME_MAX + 1];
    size_t  n;

    n = usec ? kx_order_time_format(usec, buf, sizeof(buf)) : 0;

    if (n == 0) {
        kx_jw_null(w);

    } else {
        kx_jw_strn(w, buf, n);
    }
}


static void
kx_txn_event(kx_txn_t *t, kx_dec_t price, const char *reason)
{
    kx_jw_t  *w;

    w = &t->events;

    kx_jw_obj_begin(w);
    kx_jw_key(w, "status");
    kx_jw_str(w, kx_order_status_name(t->order.status));
    kx_jw_key(w, "filled_qty");
    kx_jw_dec_min(w, t->order.filled_qty);
    kx_jw_key(w, "price");
    if (price.v) {
        kx_jw_dec_min(w, price);

    } else {
        kx_jw_null(w);
    }
    kx_jw_key(w, "detail");
    kx_jw_obj_begin(w);
    if (reason) {
        kx_jw_key(w, "reason");
        kx_jw_str(w, reason);
    }
    kx_jw_obj_end(w);
    kx_jw_key(w, "at");
    kx_txn_time(w, t->acct->now);
    kx_jw_obj_end(w);
}


static void
kx_txn_outbox(kx_txn_t *t, const char *type, const kx_dec_t *fill_qty,
    const kx_dec_t *fill_price, const char *trade_id)
{
    kx_jw_t  *w;

    w = &t->outbox;

    kx_jw_obj_begin(w);
    kx_txn_event_id(t, w);
    kx_jw_key(w, "type");
    kx_jw_str(w, type);
    kx_jw_key(w, "payload");

    if (fill_qty == NULL) {
        kx_order_jw(w, &t->order);

    } else {
        /* the order object, and the fill in it */
        kx_jw_obj_begin(w);
        kx_order_jw_fields(w, &t->order);

        kx_jw_key(w, "fill");
        kx_jw_obj_begin(w);
        kx_jw_key(w, "price");
        kx_txn_amount_jw(w, *fill_price, 2);
        kx_jw_key(w, "quantity");
        kx_txn_amount_jw(w, *fill_qty, 0);
        kx_jw_key(w, "trade_id");
        kx_jw_str(w, trade_id);
        kx_jw_obj_end(w);

        kx_jw_obj_end(w);
    }

    kx_jw_obj_end(w);
}


/*
 * Each event's own id (the consumers' dedupe key), made here: order_apply()
 * stores a transaction's events as one outbox row (0017), so PostgreSQL's
 * per-row default cannot name them.
 */
static void
kx_txn_event_id(kx_txn_t *t, kx_jw_t *w)
{
    char  id[KX_TXN_UUID_LEN + 1];

    t->uuid(id);

    kx_jw_key(w, "event_id");
    kx_jw_str(w, id);
}


void
kx_txn_portfolio_jw(kx_txn_t *t, kx_jw_t *w)
{
    kx_jw_obj_begin(w);
    kx_jw_key(w, "cash_balance");
    kx_txn_amount_jw(w, t->acct->cash, 2);
    kx_jw_key(w, "reserved_cash");
    kx_txn_amount_jw(w, t->acct->reserved, 2);
    kx_jw_key(w, "realized_pl");
    kx_txn_amount_jw(w, t->acct->realized, 2);
    kx_jw_obj_end(w);
}


static void
kx_txn_dec_or_null(kx_jw_t *w, kx_dec_t d)
{
    if (d.v == 0) {
        kx_jw_null(w);

    } else {
        kx_jw_dec_min(w, d);
    }
}


static void
kx_txn_order_row(kx_txn_t *t, kx_jw_t *w)
{
    kx_order_t  *o;

    o = &t->order;

    kx_jw_obj_begin(w);
    kx_jw_key(w, "id");
    kx_jw_str(w, o->id);
    kx_jw_key(w, "client_order_id");
    kx_jw_str(w, o->client_order_id);
    kx_jw_key(w, "symbol");
    kx_jw_str(w, o->symbol);
    kx_jw_key(w, "side");
    kx_jw_str(w, kx_side_name(o->side));
    kx_jw_key(w, "type");
    kx_jw_str(w, kx_order_type_name(o->type));
    kx_jw_key(w, "time_in_force");
    kx_jw_str(w, kx_tif_name(o->tif));
    kx_jw_key(w, "quantity");
    kx_txn_dec_or_null(w, o->quantity);
    kx_jw_key(w, "notional");
    kx_txn_dec_or_null(w, o->notional);
    kx_jw_key(w, "limit_price");
    kx_txn_dec_or_null(w, o->limit_price);
    kx_jw_key(w, "stop_price");
    kx_txn_dec_or_null(w, o->stop_price);
    kx_jw_key(w, "filled_qty");
    kx_jw_dec_min(w, o->filled_qty);
    kx_jw_key(w, "filled_avg_price");
    kx_txn_dec_or_null(w, o->filled_avg_price);
    kx_jw_key(w, "reserved_amount");
    kx_jw_dec_min(w, t->order_reserved);
    kx_jw_key(w, "status");
    kx_jw_str(w, kx_order_status_name(o->status));
    kx_jw_key(w, "broker");
    kx_jw_str(w, t->acct->broker[0] ? t->acct->broker : "paper");
    kx_jw_key(w, "broker_order_id");
    kx_jw_str(w, t->broker_order_id[0] ? t->broker_order_id : NULL);
    kx_jw_key(w, "reject_reason");
    kx_jw_str(w, o->reject_reason[0] ? o->reject_reason : NULL);
    kx_jw_key(w, "created_at");
    kx_txn_time(w, o->created_at);
    kx_jw_key(w, "updated_at");
    kx_txn_time(w, o->updated_at);
    kx_jw_key(w, "submitted_at");
    kx_txn_time(w, t->acct->now);
    kx_jw_key(w, "filled_at");
    kx_txn_time(w, o->filled_at);
    kx_jw_key(w, "canceled_at");
    kx_txn_time(w, o->canceled_at);
    kx_jw_key(w, "expired_at");
    kx_txn_time(w, o->expired_at);
    kx_jw_key(w, "triggered_at");
    kx_txn_time(w, o->triggered_at);
    kx_jw_obj_end(w);
}


static int
kx_txn_splice(kx_jw_t *w, kx_jw_t *arr)
{
    kx_jw_arr_end(arr);
    kx_jw_splice(w, arr);

    return w->err == KX_JW_OK;
}


int
kx_txn_finish(kx_txn_t *t, kx_jw_t *out)
{
    kx_txn_acct_t  *a;

    a = t->acct;

    if (t->failed) {
        return KX_ORDER_ERANGE;
    }

    if (t->cash_delta.v || t->reserved_delta.v || t->realized_delta.v) {
        kx_jw_obj_begin(&t->outbox);
        kx_txn_event_id(t, &t->outbox);
        kx_jw_key(&t->outbox, "type");
        kx_jw_str(&t->outbox, "portfolio.updated");
        kx_jw_key(&t->outbox, "payload");
        kx_txn_portfolio_jw(t, &t->outbox);
        kx_jw_obj_end(&t->outbox);
    }

    kx_jw_obj_begin(out);
    kx_jw_key(out, "user_id");
    kx_jw_str(out, a->user_id);
    kx_jw_key(out, "insert");
    kx_jw_bool(out, t->insert);
    kx_jw_key(out, "expect_status");
    kx_jw_str(out, kx_order_status_name(t->expect_status));
    kx_jw_key(out, "expect_filled_qty");
    kx_jw_dec_min(out, t->expect_filled);
    kx_jw_key(out, "check_buying_power");
    kx_jw_bool(out, t->check_buying_power);

    if (a->version[0]) {
        kx_jw_key(out, "expect_version");
        kx_jw_str(out, a->version);
    }
    kx_jw_key(out, "order");
    kx_txn_order_row(t, out);

    kx_jw_key(out, "events");
    if (!kx_txn_splice(out, &t->events)) {
        return KX_ORDER_ERANGE;
    }

    kx_jw_key(out, "trades");
    if (!kx_txn_splice(out, &t->trades)) {
        return KX_ORDER_ERANGE;
    }

    if (t->pos_changed) {
        kx_jw_key(out, "position");
        kx_jw_obj_begin(out);
        kx_jw_key(out, "symbol");
        kx_jw_str(out, t->order.symbol);
        kx_jw_key(out, "quantity");
        kx_jw_dec_min(out, a->pos.qty);
        kx_jw_key(out, "avg_cost");
        kx_jw_dec_min(out, a->pos.avg_cost);
        kx_jw_obj_end(out);
    }

    kx_jw_key(out, "cash_delta");
    kx_jw_dec_min(out, t->cash_delta);
    kx_jw_key(out, "reserved_delta");
    kx_jw_dec_min(out, t->reserved_delta);
    kx_jw_key(out, "realized_delta");
    kx_jw_dec_min(out, t->realized_delta);

    kx_jw_key(out, "outbox");
    if (!kx_txn_splice(out, &t->outbox)) {
        return KX_ORDER_ERANGE;
    }

    kx_jw_obj_end(out);

    return KX_ORDER_OK;
}
