
/*
 * Copyright (C) Kianax
 */


#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/kx_calendar.h"
#include "trading/kx_alpaca.h"


#define kx_alpaca_nelts(a)  (sizeof(a) / sizeof((a)[0]))

#define KX_ALPACA_USEC_PER_SEC  INT64_C(1000000)


typedef struct {
    const char         *name;
    int                 status;     /* ours; -1: by what is filled */
} kx_alpaca_status_t;


static int kx_alpaca_fail(kx_alpaca_err_t *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int kx_alpaca_get_text(const kx_json_node_t *obj, const char *key,
    char *buf, size_t size, int required, kx_alpaca_err_t *err);
static int kx_alpaca_get_dec(const kx_json_node_t *obj, const char *key,
    kx_dec_t *out, unsigned *rounded, int required, kx_alpaca_err_t *err);
static int kx_alpaca_get_qty(const kx_json_node_t *obj, const char *key,
    kx_dec_t *out, unsigned *rounded, int required, kx_alpaca_err_t *err);
static int kx_alpaca_get_amount(const kx_json_node_t *obj, const char *key,
    kx_dec_t *out, unsigned *rounded, int required, kx_round_e mode,
    kx_alpaca_err_t *err);
static int kx_alpaca_dec_round(const char *s, size_t len, kx_round_e mode,
    kx_dec_t *out);
static int kx_alpaca_get_time(const kx_json_node_t *obj, const char *key,
    int64_t *out, kx_alpaca_err_t *err);
static int kx_alpaca_get_flag(const kx_json_node_t *obj, const char *key);
static void kx_alpaca_jw_dec(kx_jw_t *w, const char *key, kx_dec_t d);
static int kx_alpaca_fill_price(kx_dec_t old_qty, kx_dec_t old_avg,
    kx_dec_t new_qty, kx_dec_t new_avg, kx_dec_t *price);
static int kx_alpaca_digits(const char *s, size_t n, int64_t *out);
static int kx_alpaca_contains(const char *s, const char *word);


/* Alpaca's documented order statuses */
static const kx_alpaca_status_t  kx_alpaca_statuses[] = {
    { "new",                    -1 },
    { "accepted",               -1 },
    { "pending_new",            -1 },
    { "accepted_for_bidding",   -1 },
    { "held",                   -1 },
    { "stopped",                -1 },
    { "suspended",              -1 },
    { "pending_cancel",         -1 },
    { "pending_replace",        -1 },
    { "done_for_day",           -1 },
    { "calculated",             -1 },
    { "partially_filled",       KX_ORDER_PARTIALLY_FILLED },
    { "filled",                 KX_ORDER_FILLED },
    { "canceled",               KX_ORDER_CANCELED },
    { "replaced",               KX_ORDER_CANCELED },
    { "expired",                KX_ORDER_EXPIRED },
    { "rejected",               KX_ORDER_REJECTED }
};


int
kx_alpaca_order_body(kx_jw_t *w, const kx_order_t *o,
    const char *client_order_id, kx_alpaca_err_t *err)
{
    size_t  n;

    n = client_order_id ? strlen(client_order_id) : 0;

    if (n == 0 || n > KX_ALPACA_CLIENT_ID_MAX) {
        kx_alpaca_fail(err, "client_order_id: must be 1-%d bytes",
                       KX_ALPACA_CLIENT_ID_MAX);
        return KX_ALPACA_EINVALID;
    }

    if ((o->quantity.v > 0) == (o->notional.v > 0)) {
        kx_alpaca_fail(err, "order: needs exactly one of qty and notional");
        return KX_ALPACA_EINVALID;
    }

    kx_jw_obj_begin(w);

    kx_jw_key(w, "symbol");
    kx_jw_str(w, o->symbol);

    if (o->quantity.v > 0) {
        kx_alpaca_jw_dec(w, "qty", o->quantity);

    } else {
        kx_alpaca_jw_dec(w, "notional", o->notional);
    }

    kx_jw_key(w, "side");
    kx_jw_str(w, kx_side_name(o->side));
    kx_jw_key(w, "type");
    kx_jw_str(w, kx_order_type_name(o->type));
    kx_jw_key(w, "time_in_force");
    kx_jw_str(w, kx_tif_name(o->tif));

    if (o->limit_price.v > 0) {
        kx_alpaca_jw_dec(w, "limit_price", o->limit_price);
    }

    if (o->stop_price.v > 0) {
        kx_alpaca_jw_dec(w, "stop_price", o->stop_price);
    }

    kx_jw_key(w, "client_order_id");
    kx_jw_str(w, client_order_id);

    kx_jw_obj_end(w);

    return KX_ALPACA_OK;
}


static void
kx_alpaca_jw_dec(kx_jw_t *w, const char *key, kx_dec_t d)
{
    char    buf[KX_DEC_FMT_MAX];
    size_t  n;

    n = kx_dec_format_min(d, buf, sizeof(buf));

    kx_jw_key(w, key);
    kx_jw_strn(w, buf, n);
}


int
kx_alpaca_order_parse(const kx_json_node_t *obj, kx_alpaca_order_t *a,
    kx_alpaca_err_t *err)
{
    char         name[KX_ALPACA_NAME_MAX + 1];
    size_t       i;
    unsigned     rounded;

    static const struct {
        const char  *key;
        size_t       off;
    } times[] = {
        { "created_at",   offsetof(kx_alpaca_order_t, created_at) },
        { "updated_at",   offsetof(kx_alpaca_order_t, updated_at) },
        { "submitted_at", offsetof(kx_alpaca_order_t, submitted_at) },
        { "filled_at",    offsetof(kx_alpaca_order_t, filled_at) },
        { "canceled_at",  offsetof(kx_alpaca_order_t, canceled_at) },
        { "expired_at",   offsetof(kx_alpaca_order_t, expired_at) },
        { "failed_at",    offsetof(kx_alpaca_order_t, failed_at) }
    };

    memset(a, 0, sizeof(kx_alpaca_order_t));
    rounded = 0;

    if (kx_json_type(obj) != KX_JSON_OBJECT) {
        return kx_alpaca_fail(err, "order: not an object");
    }

    if (kx_alpaca_get_text(obj, "id", a->id, sizeof(a->id), 1, err)
        || kx_alpaca_get_text(obj, "client_order_id", a->client_order_id,
                              sizeof(a->client_order_id), 0, err)
        || kx_alpaca_get_text(obj, "symbol", a->symbol, sizeof(a->symbol),
                              0, err)
        || kx_alpaca_get_text(obj, "status", a->status_name,
                              sizeof(a->status_name), 1, err)
        || kx_alpaca_get_qty(obj, "qty", &a->qty, &rounded, 0, err)
        || kx_alpaca_get_dec(obj, "notional", &a->notional, &rounded, 0, err)
        || kx_alpaca_get_qty(obj, "filled_qty", &a->filled_qty, &rounded, 1,
                             err)
        || kx_alpaca_get_dec(obj, "filled_avg_price", &a->filled_avg_price,
                             &rounded, 0, err)
        || kx_alpaca_get_dec(obj, "limit_price", &a->limit_price, &rounded,
                             0, err)
        || kx_alpaca_get_dec(obj, "stop_price", &a->stop_price, &rounded, 0,
                             err))
    {
        return KX_ALPACA_EPARSE;
    }

    if (a->filled_qty.v < 0) {
        return kx_alpaca_fail(err, "filled_qty: negative");
    }

    for (i = 0; i < kx_alpaca_nelts(times); i++) {
        if (kx_alpaca_get_time(obj, times[i].key,
                               (int64_t *) ((char *) a + times[i].off), err))
        {
            return KX_ALPACA_EPARSE;
        }
    }

    if (kx_alpaca_status_map(a->status_name, strlen(a->status_name),
                             a->filled_qty, &a->status) != 0)
    {
        return kx_alpaca_fail(err, "status: unknown \"%s\"", a->status_name);
    }

    /* side, type and time in force as we name them; others are refused */

    if (kx_alpaca_get_text(obj, "side", name, sizeof(name), 0, err)) {
        return KX_ALPACA_EPARSE;
    }

    if (name[0] && kx_side_parse(name, strlen(name), &a->side) != 0) {
        return kx_alpaca_fail(err, "side: unsupported \"%s\"", name);
    }

    if (kx_alpaca_get_text(obj, "type", name, sizeof(name), 0, err)) {
        return KX_ALPACA_EPARSE;
    }

    if (name[0] && kx_order_type_parse(name, strlen(name), &a->type) != 0) {
        return kx_alpaca_fail(err, "type: unsupported \"%s\"", name);
    }

    if (kx_alpaca_get_text(obj, "time_in_force", name, sizeof(name), 0, err))
    {
        return KX_ALPACA_EPARSE;
    }

    if (name[0] && kx_tif_parse(name, strlen(name), &a->tif) != 0) {
        return kx_alpaca_fail(err, "time_in_force: unsupported \"%s\"",
                              name);
    }

    a->rounded = rounded ? 1 : 0;

    return KX_ALPACA_OK;
}


int
kx_alpaca_position_parse(const kx_json_node_t *obj, kx_alpaca_position_t *p,
    kx_alpaca_err_t *err)
{
    char      side[KX_ALPACA_NAME_MAX + 1];
    unsigned  rounded;

    memset(p, 0, sizeof(kx_alpaca_position_t));
    rounded = 0;

    if (kx_json_type(obj) != KX_JSON_OBJECT) {
        return kx_alpaca_fail(err, "position: not an object");
    }

    if (kx_alpaca_get_text(obj, "symbol", p->symbol, sizeof(p->symbol), 1,
                           err)
        || kx_alpaca_get_text(obj, "side", side, sizeof(side), 0, err)
        || kx_alpaca_get_qty(obj, "qty", &p->qty, &rounded, 1, err)
        || kx_alpaca_get_qty(obj, "qty_available", &p->qty_available,
                             &rounded, 0, err)
        || kx_alpaca_get_dec(obj, "avg_entry_price", &p->avg_entry_price,
                             &rounded, 1, err)
        || kx_alpaca_get_dec(obj, "market_value", &p->market_value, &rounded,
                             0, err)
        || kx_alpaca_get_dec(obj, "cost_basis", &p->cost_basis, &rounded, 0,
                             err)
        || kx_alpaca_get_dec(obj, "unrealized_pl", &p->unrealized_pl,
                             &rounded, 0, err)
        || kx_alpaca_get_dec(obj, "current_price", &p->current_price,
                             &rounded, 0, err))
    {
        return KX_ALPACA_EPARSE;
    }

    /* a short position is "side":"short"; its qty is negative there too */
    if (strcmp(side, "short") == 0 && p->qty.v > 0) {
        p->qty.v = -p->qty.v;
        p->qty_available.v = -p->qty_available.v;

    } else if (side[0] && strcmp(side, "long") != 0
               && strcmp(side, "short") != 0)
    {
        return kx_alpaca_fail(err, "side: unknown \"%s\"", side);
    }

    p->rounded = rounded ? 1 : 0;

    return KX_ALPACA_OK;
}


int
kx_alpaca_account_parse(const kx_json_node_t *obj, kx_alpaca_account_t *acc,
    kx_alpaca_err_t *err)
{
    unsigned  rounded;

    memset(acc, 0, sizeof(kx_alpaca_account_t));
    rounded = 0;

    if (kx_json_type(obj) != KX_JSON_OBJECT) {
        return kx_alpaca_fail(err, "account: not an object");
    }

    if (kx_alpaca_get_text(obj, "status", acc->status, sizeof(acc->status),
                           0, err)
        || kx_alpaca_get_text(obj, "currency", acc->currency,
                              sizeof(acc->currency), 0, err)
        || kx_alpaca_get_dec(obj, "cash", &acc->cash, &rounded, 1, err)
        || kx_alpaca_get_dec(obj, "buying_power", &acc->buying_power,
                             &rounded, 1, err)
        || kx_alpaca_get_dec(obj, "equity", &acc->equity, &rounded, 0, err)
        || kx_alpaca_get_dec(obj, "portfolio_value", &acc->portfolio_value,
                             &rounded, 0, err)
        || kx_alpaca_get_dec(obj, "long_market_value",
                             &acc->long_market_value, &rounded, 0, err)
        || kx_alpaca_get_dec(obj, "short_market_value",
                             &acc->short_market_value, &rounded, 0, err))
    {
        return KX_ALPACA_EPARSE;
    }

    acc->trading_blocked = kx_alpaca_get_flag(obj, "trading_blocked");
    acc->account_blocked = kx_alpaca_get_flag(obj, "account_blocked");
    acc->shorting_enabled = kx_alpaca_get_flag(obj, "shorting_enabled");
    acc->rounded = rounded ? 1 : 0;

    return KX_ALPACA_OK;
}


int
kx_alpaca_msg_parse(const char *buf, size_t len, kx_alpaca_msg_t *m,
    kx_alpaca_err_t *err)
{
    int                    rc;
    char                   stream[KX_ALPACA_NAME_MAX + 1];
    char                   status[KX_ALPACA_NAME_MAX + 1];
    size_t                 i, n;
    unsigned               rounded;
    const char            *s;
    kx_json_doc_t         *doc;
    kx_json_perr_t         perr;
    const kx_json_node_t  *root, *data, *streams;

    memset(m, 0, sizeof(kx_alpaca_msg_t));

    if (kx_json_parse(buf, len, NULL, &doc, &perr) != KX_JSON_PE_OK) {
        return kx_alpaca_fail(err, "message: %s", perr.msg);
    }

    root = kx_json_root(doc);
    data = kx_json_obj_get(root, "data");
    rc = KX_ALPACA_OK;

    if (kx_alpaca_get_text(root, "stream", stream, sizeof(stream), 1, err)) {
        rc = KX_ALPACA_EPARSE;
        goto done;
    }

    if (strcmp(stream, "authorization") == 0) {
        m->type = KX_ALPACA_MSG_AUTHORIZATION;

        if (kx_alpaca_get_text(data, "status", status, sizeof(status), 0,
                               err))
        {
            rc = KX_ALPACA_EPARSE;
            goto done;
        }

        m->authorized = strcmp(status, "authorized") == 0;
        goto done;
    }

    if (strcmp(stream, "listening") == 0) {
        m->type = KX_ALPACA_MSG_LISTENING;
        streams = kx_json_obj_get(data, "streams");

        for (i = 0; i < kx_json_arr_len(streams); i++) {
            s = kx_json_str(kx_json_arr_at(streams, i), &n);

            if (s && n == sizeof("trade_updates") - 1
                && memcmp(s, "trade_updates", n) == 0)
            {
                m->trade_updates = 1;
            }
        }

        goto done;
    }

    if (strcmp(stream, "trade_updates") != 0) {
        goto done;
    }

    m->type = KX_ALPACA_MSG_TRADE_UPDATE;
    rounded = 0;

    if (kx_alpaca_get_text(data, "event", m->event, sizeof(m->event), 1, err)
        || kx_alpaca_get_text(data, "execution_id", m->execution_id,
                              sizeof(m->execution_id), 0, err)
        || kx_alpaca_get_dec(data, "price", &m->price, &rounded, 0, err)
        || kx_alpaca_get_qty(data, "qty", &m->qty, &rounded, 0, err)
        || kx_alpaca_get_qty(data, "position_qty", &m->position_qty,
                             &rounded, 0, err)
        || kx_alpaca_get_time(data, "timestamp", &m->timestamp, err)
        || kx_alpaca_order_parse(kx_json_obj_get(data, "order"), &m->order,
                                 err))
    {
        rc = KX_ALPACA_EPARSE;
        goto done;
    }

    if ((strcmp(m->event, "fill") == 0
         || strcmp(m->event, "partial_fill") == 0)
        && (m->qty.v <= 0 || m->price.v <= 0))
    {
        rc = kx_alpaca_fail(err, "%s: needs qty and price > 0", m->event);
        goto done;
    }

    if (rounded) {
        m->order.rounded = 1;
    }

done:

    kx_json_free(doc);

    return rc;
}


void
kx_alpaca_stream_auth(kx_jw_t *w, const char *key_id,
    const char *secret_key)
{
    kx_jw_obj_begin(w);
    kx_jw_key(w, "action");
    kx_jw_str(w, "authenticate");
    kx_jw_key(w, "data");
    kx_jw_obj_begin(w);
    kx_jw_key(w, "key_id");
    kx_jw_str(w, key_id);
    kx_jw_key(w, "secret_key");
    kx_jw_str(w, secret_key);
    kx_jw_obj_end(w);
    kx_jw_obj_end(w);
}


void
kx_alpaca_stream_listen(kx_jw_t *w)
{
    kx_jw_obj_begin(w);
    kx_jw_key(w, "action");
    kx_jw_str(w, "listen");
    kx_jw_key(w, "data");
    kx_jw_obj_begin(w);
    kx_jw_key(w, "streams");
    kx_jw_arr_begin(w);
    kx_jw_str(w, "trade_updates");
    kx_jw_arr_end(w);
    kx_jw_obj_end(w);
    kx_jw_obj_end(w);
}


int
kx_alpaca_status_map(const char *s, size_t len, kx_dec_t filled_qty,
    kx_order_status_e *out)
{
    size_t  i;

    for (i = 0; i < kx_alpaca_nelts(kx_alpaca_statuses); i++) {
        if (strlen(kx_alpaca_statuses[i].name) == len
            && memcmp(kx_alpaca_statuses[i].name, s, len) == 0)
        {
            if (kx_alpaca_statuses[i].status >= 0) {
                *out = (kx_order_status_e) kx_alpaca_statuses[i].status;

            } else {
                *out = filled_qty.v > 0 ? KX_ORDER_PARTIALLY_FILLED
                                        : KX_ORDER_ACCEPTED;
            }

            return 0;
        }
    }

    return -1;
}


int
kx_alpaca_order_apply(kx_order_t *o, const kx_alpaca_order_t *a,
    int64_t now, kx_alpaca_change_t *ch)
{
    int64_t            at;
    kx_dec_t           dq, price;
    kx_order_t         next;
    kx_order_status_e  to;

    memset(ch, 0, sizeof(kx_alpaca_change_t));
    ch->from = o->status;
    ch->to = o->status;

    if (kx_dec_cmp(a->filled_qty, o->filled_qty) < 0) {
        return KX_ALPACA_ESTATE;
    }

    to = a->status;

    /*
     * "filled" or "partially_filled" with nothing filled, or a fill
     * without a price, is not believable; nor is more filled than the
     * order asked for, which would move cash and shares nobody ordered
     */
    if (((to == KX_ORDER_FILLED || to == KX_ORDER_PARTIALLY_FILLED)
         && a->filled_qty.v == 0)
        || (a->filled_qty.v > 0 && a->filled_avg_price.v <= 0)
        || (o->quantity.v > 0 && kx_dec_cmp(a->filled_qty, o->quantity) > 0))
    {
        return KX_ALPACA_ESTATE;
    }

    next = *o;
    dq.v = 0;
    price.v = 0;

    if (kx_dec_sub(a->filled_qty, o->filled_qty, &dq) != KX_DEC_OK) {
        return KX_ALPACA_ESTATE;
    }

    if (dq.v > 0) {
        if (kx_alpaca_fill_price(o->filled_qty, o->filled_avg_price,
                                 a->filled_qty, a->filled_avg_price, &price)
            != 0)
        {
            return KX_ALPACA_ESTATE;
        }

        next.filled_qty = a->filled_qty;
        next.filled_avg_price = a->filled_avg_price;
    }

    if (to != o->status) {
        if (!kx_order_transition_ok(o->status, to)) {
            return KX_ALPACA_ESTATE;
        }

        switch (to) {
        case KX_ORDER_FILLED:
            at = a->filled_at;
            break;
        case KX_ORDER_CANCELED:
            at = a->canceled_at;
            break;
        case KX_ORDER_EXPIRED:
            at = a->expired_at;
            break;
        case KX_ORDER_REJECTED:
            at = a->failed_at;
            break;
        default:
            at = 0;
        }

        if (at == 0) {
            at = a->updated_at ? a->updated_at : now;
        }

        if (kx_order_set_status(&next, to, at) != KX_ORDER_OK) {
            return KX_ALPACA_ESTATE;
        }

    } else if (dq.v > 0) {
        if (!kx_order_status_is_open(o->status)) {
            return KX_ALPACA_ESTATE;
        }

        next.updated_at = a->updated_at ? a->updated_at : now;
    }

    *o = next;

    ch->fill_qty = dq;
    ch->fill_price = price;
    ch->to = to;
    ch->changed = (dq.v > 0 || to != ch->from);

    return KX_ALPACA_OK;
}


/*
 * The price of the new fill: what was paid in all (new_qty x new_avg)
 * less what was paid before (old_qty x old_avg), over the new quantity.
 * The products are exact in 128 bits (scale 10^16); only the quotient
 * is rounded, half-even to 8 places.
 */
static int
kx_alpaca_fill_price(kx_dec_t old_qty, kx_dec_t old_avg, kx_dec_t new_qty,
    kx_dec_t new_avg, kx_dec_t *price)
{
    __int128  paid, dq, q;

    if (old_qty.v == 0) {
        *price = new_avg;
        return 0;
    }

    paid = (__int128) new_qty.v * new_avg.v - (__int128) old_qty.v * old_avg.v;
    dq = (__int128) new_qty.v - old_qty.v;

    if (dq <= 0 || paid <= 0) {
        return -1;
    }

    /* paid / dq has scale 10^8, as kx_dec_t wants */
    q = kx_i128_div_even(paid, dq);

    if (q <= 0 || q > KX_DEC_MAX_RAW) {
        return -1;
    }

    price->v = (int64_t) q;

    return 0;
}


void
kx_alpaca_error_map(kx_alpaca_call_e call, unsigned status, const char *body,
    size_t len, kx_alpaca_error_t *out)
{
    size_t                 n;
    int64_t                code;
    const char            *msg;
    kx_json_doc_t         *doc;
    const kx_json_node_t  *root;

    memset(out, 0, sizeof(kx_alpaca_error_t));

    /* {"code":40310000,"message":"insufficient buying power"}, maybe */
    if (body && len && kx_json_parse(body, len, NULL, &doc, NULL)
                       == KX_JSON_PE_OK)
    {
        root = kx_json_root(doc);

        if (kx_json_get_int64(root, "code", &code) == KX_JSON_OK) {
            out->code = code;
        }

        if (kx_json_get_str(root, "message", &msg, &n) == KX_JSON_OK) {
            n = n < sizeof(out->message) - 1 ? n : sizeof(out->message) - 1;
            memcpy(out->message, msg, n);
            out->message[n] = '\0';
        }

        kx_json_free(doc);
    }

    switch (status) {

    case 403:
        /* Alpaca's 403 is a refusal of this order by the account's rules */
        if (kx_alpaca_contains(out->message, "buying power")) {
            out->err = KX_ERR_INSUFFICIENT_BUYING_POWER;

        } else if (kx_alpaca_contains(out->message, "qty")
                   || kx_alpaca_contains(out->message, "shares"))
        {
            out->err = KX_ERR_INSUFFICIENT_POSITION;

        } else {
            out->err = KX_ERR_FORBIDDEN;
        }

        out->rejected = (call == KX_ALPACA_CALL_SUBMIT);
        break;

    case 404:
        if (call == KX_ALPACA_CALL_SUBMIT) {
            /* e.g. an asset Alpaca does not know */
            out->err = KX_ERR_UNPROCESSABLE;
            out->rejected = 1;

        } else {
            out->err = KX_ERR_NOT_FOUND;
            out->not_found = 1;
        }

        break;

    case 422:
        out->err = KX_ERR_UNPROCESSABLE;

        if (call == KX_ALPACA_CALL_SUBMIT) {
            /* a resent submit: the first one got there */
            if (kx_alpaca_contains(out->message, "client_order_id")
                && (kx_alpaca_contains(out->message, "unique")
                    || kx_alpaca_contains(out->message, "already")))
            {
                out->duplicate = 1;

            } else {
                out->rejected = 1;
            }
        }

        break;

    case 429:
        /* our account's limit at Alpaca, not the user's: try again */
        out->err = KX_ERR_SERVICE_UNAVAILABLE;
        out->retryable = 1;
        break;

    case 401:
        /* our keys are wrong: nothing the user can do about it */
        out->err = KX_ERR_BAD_GATEWAY;
        break;

    case 503:
        out->err = KX_ERR_SERVICE_UNAVAILABLE;
        out->retryable = 1;
        break;

    case 504:
        out->err = KX_ERR_GATEWAY_TIMEOUT;
        out->retryable = 1;
        break;

    default:
        if (status >= 500) {
            out->err = KX_ERR_BAD_GATEWAY;
            out->retryable = 1;

        } else {
            /* 400 and the like: we sent what Alpaca cannot read */
            out->err = KX_ERR_BAD_GATEWAY;
            out->rejected = (call == KX_ALPACA_CALL_SUBMIT);
        }
    }

    if (out->message[0] == '\0') {
        (void) snprintf(out->message, sizeof(out->message),
                        "broker answered %u", status);
    }
}


int
kx_alpaca_time_parse(const char *s, size_t len, int64_t *usec)
{
    size_t   i, k;
    int64_t  y, mo, d, h, mi, sec, frac, off, oh, om, days;

    /* 2024-03-22T20:40:50[.916594602](Z|+hh:mm|-hh:mm) */
    if (len < 20 || s[4] != '-' || s[7] != '-'
        || (s[10] != 'T' && s[10] != 't' && s[10] != ' ')
        || s[13] != ':' || s[16] != ':'
        || kx_alpaca_digits(s, 4, &y) || kx_alpaca_digits(s + 5, 2, &mo)
        || kx_alpaca_digits(s + 8, 2, &d) || kx_alpaca_digits(s + 11, 2, &h)
        || kx_alpaca_digits(s + 14, 2, &mi)
        || kx_alpaca_digits(s + 17, 2, &sec))
    {
        return -1;
    }

    if (!kx_date_valid(y, mo, d) || h > 23 || mi > 59 || sec > 60) {
        return -1;
    }

    i = 19;
    frac = 0;

    if (i < len && s[i] == '.') {
        i++;

        for (k = 0; i < len && s[i] >= '0' && s[i] <= '9'; i++, k++) {
            if (k < 6) {
                frac = frac * 10 + (s[i] - '0');
            }
        }

        if (k == 0) {
            return -1;
        }

        for ( /* void */ ; k < 6; k++) {
            frac *= 10;
        }
    }

    if (i == len) {
        return -1;
    }

    if ((s[i] == 'Z' || s[i] == 'z') && i + 1 == len) {
        off = 0;

    } else if ((s[i] == '+' || s[i] == '-') && i + 6 == len
               && s[i + 3] == ':'
               && kx_alpaca_digits(s + i + 1, 2, &oh) == 0
               && kx_alpaca_digits(s + i + 4, 2, &om) == 0
               && oh < 24 && om < 60)
    {
        off = (oh * 60 + om) * 60;
        off = s[i] == '-' ? -off : off;

    } else {
        return -1;
    }

    days = kx_days_from_civil(y, (unsigned) mo, (unsigned) d);

    *usec = ((days * 86400 + h * 3600 + mi * 60 + sec) - off)
            * KX_ALPACA_USEC_PER_SEC + frac;

    return 0;
}


static int
kx_alpaca_digits(const char *s, size_t n, int64_t *out)
{
    size_t  i;

    *out = 0;

    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }

        *out = *out * 10 + (s[i] - '0');
    }

    return 0;
}


static int
kx_alpaca_contains(const char *s, const char *word)
{
    size_t  i, n, wn;

    n = strlen(s);
    wn = strlen(word);

    for (i = 0; i + wn <= n; i++) {
        if (strncasecmp(s + i, word, wn) == 0) {
            return 1;
        }
    }

    return 0;
}


static int
kx_alpaca_fail(kx_alpaca_err_t *err, const char *fmt, ...)
{
    va_list  ap;

    if (err) {
        va_start(ap, fmt);
        (void) vsnprintf(err->message, sizeof(err->message), fmt, ap);
        va_end(ap);
    }

    return KX_ALPACA_EPARSE;
}


/*
 * A string field into buf, surrounding blanks trimmed (Alpaca's own
 * sample position has "symbol": "AAPL ").  Absent or null is "" unless
 * required; too long, or not a string, is an error.
 */
static int
kx_alpaca_get_text(const kx_json_node_t *obj, const char *key, char *buf,
    size_t size, int required, kx_alpaca_err_t *err)
{
    size_t                 n;
    const char            *s;
    const kx_json_node_t  *node;

    buf[0] = '\0';
    node = kx_json_obj_get(obj, key);

    if (node == NULL || kx_json_type(node) == KX_JSON_NULL) {
        return required ? kx_alpaca_fail(err, "%s: is required", key) : 0;
    }

    s = kx_json_str(node, &n);
    if (s == NULL) {
        return kx_alpaca_fail(err, "%s: not a string", key);
    }

    while (n && (s[0] == ' ' || s[0] == '\t')) {
        s++;
        n--;
    }

    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t')) {
        n--;
    }

    if (n == 0 && required) {
        return kx_alpaca_fail(err, "%s: is empty", key);
    }

    if (n >= size || memchr(s, '\0', n) != NULL) {
        return kx_alpaca_fail(err, "%s: too long or not text", key);
    }

    memcpy(buf, s, n);
    buf[n] = '\0';

    return 0;
}


/*
 * A decimal string or number; absent or null is 0 unless required.
 * Prices and money round half-even past 8 places; quantities round
 * toward zero, so a notional order never holds more than it paid for
 * (Alpaca gives 2.666666666 shares for $500 at 187.50: we keep
 * 2.66666666, worth 499.99999875, not 2.66666667, worth 500.0000006).
 */
static int
kx_alpaca_get_dec(const kx_json_node_t *obj, const char *key, kx_dec_t *out,
    unsigned *rounded, int required, kx_alpaca_err_t *err)
{
    return kx_alpaca_get_amount(obj, key, out, rounded, required,
                                KX_ROUND_HALF_EVEN, err);
}


static int
kx_alpaca_get_qty(const kx_json_node_t *obj, const char *key, kx_dec_t *out,
    unsigned *rounded, int required, kx_alpaca_err_t *err)
{
    return kx_alpaca_get_amount(obj, key, out, rounded, required,
                                KX_ROUND_DOWN, err);
}


static int
kx_alpaca_get_amount(const kx_json_node_t *obj, const char *key,
    kx_dec_t *out, unsigned *rounded, int required, kx_round_e mode,
    kx_alpaca_err_t *err)
{
    int                    rc;
    size_t                 n;
    const char            *s;
    const kx_json_node_t  *node;

    out->v = 0;
    node = kx_json_obj_get(obj, key);

    if (node == NULL || kx_json_type(node) == KX_JSON_NULL) {
        return required ? kx_alpaca_fail(err, "%s: is required", key) : 0;
    }

    rc = kx_json_dec(node, KX_DEC_SCALE, out);

    if (rc == KX_JSON_OK) {
        return 0;
    }

    if (rc == KX_JSON_EPRECISION) {
        s = kx_json_type(node) == KX_JSON_STRING ? kx_json_str(node, &n)
                                                 : kx_json_num_raw(node, &n);

        if (s && kx_alpaca_dec_round(s, n, mode, out) == 0) {
            *rounded = 1;
            return 0;
        }
    }

    return kx_alpaca_fail(err, "%s: %s", key,
                          rc == KX_JSON_ETYPE ? "not a decimal"
                                              : kx_json_strerror(rc));
}


/*
 * A plain decimal with more than 8 fraction digits, rounded to 8 (half-
 * even or toward zero): the first 8 are read exactly, the rest decide
 * the last digit.  Exponent forms are refused (Alpaca does not send
 * them).
 */
static int
kx_alpaca_dec_round(const char *s, size_t len, kx_round_e mode,
    kx_dec_t *out)
{
    size_t    dot, i, keep;
    int       up, sticky;
    kx_dec_t  d, ulp;

    for (i = 0, dot = len; i < len; i++) {
        if (s[i] == 'e' || s[i] == 'E') {
            return -1;
        }

        if (s[i] == '.' && dot == len) {
            dot = i;
        }
    }

    if (dot == len || len - dot - 1 <= KX_DEC_SCALE) {
        return -1;
    }

    keep = dot + 1 + KX_DEC_SCALE;

    if (kx_dec_parse(s, keep, &d) != KX_DEC_OK) {
        return -1;
    }

    for (i = keep, sticky = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }

        if (i > keep && s[i] != '0') {
            sticky = 1;
        }
    }

    up = mode == KX_ROUND_HALF_EVEN
         && (s[keep] > '5'
             || (s[keep] == '5' && (sticky || (s[keep - 1] & 1))));

    if (up) {
        ulp.v = s[0] == '-' ? -1 : 1;

        if (kx_dec_add(d, ulp, &d) != KX_DEC_OK) {
            return -1;
        }
    }

    *out = d;

    return 0;
}


static int
kx_alpaca_get_time(const kx_json_node_t *obj, const char *key, int64_t *out,
    kx_alpaca_err_t *err)
{
    size_t                 n;
    const char            *s;
    const kx_json_node_t  *node;

    *out = 0;
    node = kx_json_obj_get(obj, key);

    if (node == NULL || kx_json_type(node) == KX_JSON_NULL) {
        return 0;
    }

    s = kx_json_str(node, &n);

    if (s == NULL || kx_alpaca_time_parse(s, n, out) != 0) {
        return kx_alpaca_fail(err, "%s: not an RFC 3339 time", key);
    }

    return 0;
}


static int
kx_alpaca_get_flag(const kx_json_node_t *obj, const char *key)
{
    int  b;

    return kx_json_get_bool(obj, key, &b) == KX_JSON_OK && b;
}
