
/*
 * Copyright (C) Kianax
 */


#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/kx_fmt.h"
#include "trading/kx_avg_price.h"
#include "trading/kx_order.h"


#define kx_order_nelts(a)  (sizeof(a) / sizeof((a)[0]))

#define KX_ORDER_USEC_PER_DAY  INT64_C(86400000000)


static int kx_order_check_keys(const kx_json_node_t *body,
    kx_order_err_t *err);
static const kx_json_node_t *kx_order_field(const kx_json_node_t *body,
    const char *name);
static int kx_order_get_enum(const kx_json_node_t *body, const char *name,
    const char *const *names, size_t n, int required, int *out,
    kx_order_err_t *err);
static int kx_order_get_symbol(const kx_json_node_t *body, kx_order_t *o,
    kx_order_err_t *err);
static int kx_order_get_amount(const kx_json_node_t *body, const char *name,
    unsigned places, kx_dec_t *out, kx_order_err_t *err);
static int kx_order_get_size(const kx_json_node_t *body, kx_order_t *o,
    kx_order_err_t *err);
static int kx_order_get_prices(const kx_json_node_t *body, kx_order_t *o,
    kx_order_err_t *err);
static int kx_order_get_client_id(const kx_json_node_t *body, kx_order_t *o,
    kx_order_err_t *err);
static int kx_order_fail(kx_order_err_t *err, const char *field,
    size_t field_len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int kx_order_lookup(const char *const *names, size_t n, const char *s,
    size_t len);
static void kx_order_jw_amount(kx_jw_t *w, kx_dec_t d, unsigned min_places);
static void kx_order_jw_time(kx_jw_t *w, int64_t usec);
static void kx_order_jw_id(kx_jw_t *w, const char *id);
static void kx_order_stamp(kx_order_t *o, kx_order_status_e to, int64_t now);


static const char *const  kx_side_names[] = { "buy", "sell" };

static const char *const  kx_order_type_names[] = {
    "market", "limit", "stop", "stop_limit"
};

static const char *const  kx_tif_names[] = { "day", "gtc", "ioc", "fok" };

static const char *const  kx_order_status_names[KX_ORDER_STATUS_COUNT] = {
    "new", "accepted", "partially_filled", "filled", "canceled", "rejected",
    "expired"
};


/* the keys of a POST /orders body */
static const char *const  kx_order_keys[] = {
    "symbol", "side", "type", "time_in_force", "quantity", "qty", "notional",
    "limit_price", "stop_price", "client_order_id"
};

/* Alpaca's order options that Kianax does not implement */
static const char *const  kx_order_unsupported[] = {
    "extended_hours", "order_class", "trail_price", "trail_percent",
    "take_profit", "stop_loss", "legs", "position_intent"
};


#define B(s)  (1u << KX_ORDER_ ## s)

/* for each status, the set of statuses it may move to */
static const unsigned  kx_order_next[KX_ORDER_STATUS_COUNT] = {
    /* new */
    B(ACCEPTED) | B(PARTIALLY_FILLED) | B(FILLED) | B(CANCELED)
        | B(REJECTED) | B(EXPIRED),
    /* accepted */
    B(PARTIALLY_FILLED) | B(FILLED) | B(CANCELED) | B(REJECTED)
        | B(EXPIRED),
    /* partially_filled */
    B(PARTIALLY_FILLED) | B(FILLED) | B(CANCELED) | B(EXPIRED),
    /* filled, canceled, rejected, expired: final */
    0, 0, 0, 0
};

#undef B


void
kx_order_init(kx_order_t *o)
{
    memset(o, 0, sizeof(kx_order_t));

    o->side = KX_SIDE_BUY;
    o->type = KX_ORDER_MARKET;
    o->tif = KX_TIF_DAY;
    o->status = KX_ORDER_NEW;
}


int
kx_order_validate(const kx_json_node_t *body, kx_order_t *o,
    kx_order_err_t *err)
{
    int         v;
    kx_order_t  n;

    err->field[0] = '\0';
    err->message[0] = '\0';

    if (kx_json_type(body) != KX_JSON_OBJECT) {
        return kx_order_fail(err, "body", 4, "must be a JSON object");
    }

    if (kx_order_check_keys(body, err) != KX_ORDER_OK) {
        return KX_ORDER_EINVALID;
    }

    kx_order_init(&n);

    if (kx_order_get_symbol(body, &n, err) != KX_ORDER_OK) {
        return KX_ORDER_EINVALID;
    }

    if (kx_order_get_enum(body, "side", kx_side_names,
                          kx_order_nelts(kx_side_names), 1, &v, err)
        != KX_ORDER_OK)
    {
        return KX_ORDER_EINVALID;
    }

    n.side = (kx_side_e) v;

    if (kx_order_get_enum(body, "type", kx_order_type_names,
                          kx_order_nelts(kx_order_type_names), 1, &v, err)
        != KX_ORDER_OK)
    {
        return KX_ORDER_EINVALID;
    }

    n.type = (kx_order_type_e) v;

    v = KX_TIF_DAY;

    if (kx_order_get_enum(body, "time_in_force", kx_tif_names,
                          kx_order_nelts(kx_tif_names), 0, &v, err)
        != KX_ORDER_OK)
    {
        return KX_ORDER_EINVALID;
    }

    n.tif = (kx_tif_e) v;

    if (kx_order_get_size(body, &n, err) != KX_ORDER_OK
        || kx_order_get_prices(body, &n, err) != KX_ORDER_OK
        || kx_order_get_client_id(body, &n, err) != KX_ORDER_OK)
    {
        return KX_ORDER_EINVALID;
    }

    *o = n;

    return KX_ORDER_OK;
}


static int
kx_order_check_keys(const kx_json_node_t *body, kx_order_err_t *err)
{
    size_t       i, n, len;
    const char  *key;

    n = kx_json_obj_len(body);

    for (i = 0; i < n; i++) {
        (void) kx_json_obj_at(body, i, &key, &len);

        if (kx_order_lookup(kx_order_keys, kx_order_nelts(kx_order_keys),
                            key, len)
            >= 0)
        {
            continue;
        }

        if (kx_order_lookup(kx_order_unsupported,
                            kx_order_nelts(kx_order_unsupported), key, len)
            >= 0)
        {
            return kx_order_fail(err, key, len, "not supported");
        }

        return kx_order_fail(err, key, len, "unknown field");
    }

    return KX_ORDER_OK;
}


/* the value of a key, or NULL when it is absent or null */
static const kx_json_node_t *
kx_order_field(const kx_json_node_t *body, const char *name)
{
    const kx_json_node_t  *node;

    node = kx_json_obj_get(body, name);

    return kx_json_type(node) == KX_JSON_NULL ? NULL : node;
}


static int
kx_order_get_enum(const kx_json_node_t *body, const char *name,
    const char *const *names, size_t n, int required, int *out,
    kx_order_err_t *err)
{
    int                    i;
    char                   list[64];
    size_t                 len, k, used;
    const char            *s;
    const kx_json_node_t  *node;

    node = kx_order_field(body, name);

    if (node == NULL) {
        if (required) {
            return kx_order_fail(err, name, strlen(name), "required");
        }

        return KX_ORDER_OK;
    }

    s = kx_json_str(node, &len);

    if (s != NULL) {
        i = kx_order_lookup(names, n, s, len);

        if (i >= 0) {
            *out = i;
            return KX_ORDER_OK;
        }
    }

    used = 0;
    list[0] = '\0';

    for (k = 0; k < n && used < sizeof(list); k++) {
        used += snprintf(list + used, sizeof(list) - used, "%s%s",
                         k ? ", " : "", names[k]);
    }

    return kx_order_fail(err, name, strlen(name), "must be one of %s", list);
}


static int
kx_order_get_symbol(const kx_json_node_t *body, kx_order_t *o,
    kx_order_err_t *err)
{
    size_t                 len, i;
    const char            *s;
    const kx_json_node_t  *node;

    node = kx_order_field(body, "symbol");

    if (node == NULL) {
        return kx_order_fail(err, "symbol", 6, "required");
    }

    s = kx_json_str(node, &len);

    if (s == NULL || len == 0 || len > KX_ORDER_SYMBOL_MAX
        || s[0] < 'A' || s[0] > 'Z')
    {
        goto invalid;
    }

    for (i = 1; i < len; i++) {
        if ((s[i] < 'A' || s[i] > 'Z') && s[i] != '.') {
            goto invalid;
        }
    }

    memcpy(o->symbol, s, len);
    o->symbol[len] = '\0';

    return KX_ORDER_OK;

invalid:

    return kx_order_fail(err, "symbol", 6,
                         "must be 1-%d upper-case letters or dots, "
                         "starting with a letter", KX_ORDER_SYMBOL_MAX);
}


/*
 * An optional amount that must be > 0 with at most "places" decimals;
 * *out stays 0 when the key is absent.
 */
static int
kx_order_get_amount(const kx_json_node_t *body, const char *name,
    unsigned places, kx_dec_t *out, kx_order_err_t *err)
{
    int                    rc;
    size_t                 len;
    kx_dec_t               d;
    const kx_json_node_t  *node;

    len = strlen(name);
    node = kx_order_field(body, name);

    if (node == NULL) {
        out->v = 0;
        return KX_ORDER_OK;
    }

    rc = kx_json_dec(node, places, &d);

    switch (rc) {

    case KX_JSON_OK:
        break;

    case KX_JSON_ETYPE:
        return kx_order_fail(err, name, len,
                             "must be a number or a numeric string");

    case KX_JSON_EPRECISION:
        return kx_order_fail(err, name, len, "at most %u decimal places",
                             places);

    case KX_JSON_ERANGE:
        return kx_order_fail(err, name, len, "out of range");

    default:
        return kx_order_fail(err, name, len, "not a valid number");
    }

    if (d.v <= 0) {
        return kx_order_fail(err, name, len, "must be greater than 0");
    }

    *out = d;

    return KX_ORDER_OK;
}


static int
kx_order_get_size(const kx_json_node_t *body, kx_order_t *o,
    kx_order_err_t *err)
{
    if (kx_order_field(body, "quantity") != NULL
        && kx_order_field(body, "qty") != NULL)
    {
        return kx_order_fail(err, "qty", 3,
                             "give quantity or qty (the same), not both");
    }

    if (kx_order_get_amount(body, "quantity", KX_ORDER_QTY_PLACES,
                            &o->quantity, err)
        != KX_ORDER_OK)
    {
        return KX_ORDER_EINVALID;
    }

    if (o->quantity.v == 0
        && kx_order_get_amount(body, "qty", KX_ORDER_QTY_PLACES,
                               &o->quantity, err)
           != KX_ORDER_OK)
    {
        return KX_ORDER_EINVALID;
    }

    if (kx_order_get_amount(body, "notional", KX_ORDER_NOTIONAL_PLACES,
                            &o->notional, err)
        != KX_ORDER_OK)
    {
        return KX_ORDER_EINVALID;
    }

    if (o->quantity.v != 0 && o->notional.v != 0) {
        return kx_order_fail(err, "notional", 8,
                             "give quantity or notional, not both");
    }

    if (o->quantity.v == 0 && o->notional.v == 0) {
        return kx_order_fail(err, "quantity", 8,
                             "required (or notional)");
    }

    if (o->notional.v != 0
        && (o->type != KX_ORDER_MARKET || o->tif != KX_TIF_DAY))
    {
        return kx_order_fail(err, "notional", 8,
                             "only for market orders with time_in_force "
                             "day");
    }

    return KX_ORDER_OK;
}


static int
kx_order_get_prices(const kx_json_node_t *body, kx_order_t *o,
    kx_order_err_t *err)
{
    int          want_limit, want_stop;
    const char  *type;

    type = kx_order_type_names[o->type];
    want_limit = (o->type == KX_ORDER_LIMIT || o->type == KX_ORDER_STOP_LIMIT);
    want_stop = (o->type == KX_ORDER_STOP || o->type == KX_ORDER_STOP_LIMIT);

    if (kx_order_get_amount(body, "limit_price", KX_ORDER_PRICE_PLACES,
                            &o->limit_price, err)
        != KX_ORDER_OK)
    {
        return KX_ORDER_EINVALID;
    }

    if (want_limit && o->limit_price.v == 0) {
        return kx_order_fail(err, "limit_price", 11,
                             "required for %s orders", type);
    }

    if (!want_limit && o->limit_price.v != 0) {
        return kx_order_fail(err, "limit_price", 11,
                             "not allowed for %s orders", type);
    }

    if (kx_order_get_amount(body, "stop_price", KX_ORDER_PRICE_PLACES,
                            &o->stop_price, err)
        != KX_ORDER_OK)
    {
        return KX_ORDER_EINVALID;
    }

    if (want_stop && o->stop_price.v == 0) {
        return kx_order_fail(err, "stop_price", 10,
                             "required for %s orders", type);
    }

    if (!want_stop && o->stop_price.v != 0) {
        return kx_order_fail(err, "stop_price", 10,
                             "not allowed for %s orders", type);
    }

    return KX_ORDER_OK;
}


static int
kx_order_get_client_id(const kx_json_node_t *body, kx_order_t *o,
    kx_order_err_t *err)
{
    char                   c;
    size_t                 len, i;
    const char            *s;
    const kx_json_node_t  *node;

    node = kx_order_field(body, "client_order_id");

    if (node == NULL) {
        return KX_ORDER_OK;
    }

    s = kx_json_str(node, &len);

    if (s == NULL || len == 0 || len > KX_ORDER_CLIENT_ID_MAX) {
        goto invalid;
    }

    for (i = 0; i < len; i++) {
        c = s[i];

        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
              || (c >= '0' && c <= '9')
              || c == '.' || c == '_' || c == ':' || c == '-'))
        {
            goto invalid;
        }
    }

    memcpy(o->client_order_id, s, len);
    o->client_order_id[len] = '\0';

    return KX_ORDER_OK;

invalid:

    return kx_order_fail(err, "client_order_id", 15,
                         "must be 1-%d characters of A-Z a-z 0-9 . _ : -",
                         KX_ORDER_CLIENT_ID_MAX);
}


/*
 * The field is copied printable and short, since an unknown key is
 * whatever the client sent and ends up in a response and in logs.
 */
static int
kx_order_fail(kx_order_err_t *err, const char *field, size_t field_len,
    const char *fmt, ...)
{
    char     c;
    size_t   i, n, lim;
    va_list  ap;

    lim = field_len;

    if (lim > sizeof(err->field) - 1) {
        lim = sizeof(err->field) - 4;
    }

    for (n = 0, i = 0; i < lim; i++) {
        c = field[i];
        err->field[n++] = (c > 0x20 && c < 0x7f && c != '"' && c != '\\')
                          ? c : '?';
    }

    if (lim < field_len) {
        memcpy(err->field + n, "...", 3);
        n += 3;
    }

    err->field[n] = '\0';

    n = (size_t) snprintf(err->message, sizeof(err->message), "%s: ",
                          err->field);

    va_start(ap, fmt);
    vsnprintf(err->message + n, sizeof(err->message) - n, fmt, ap);
    va_end(ap);

    return KX_ORDER_EINVALID;
}


static int
kx_order_lookup(const char *const *names, size_t n, const char *s,
    size_t len)
{
    size_t  i;

    if (s == NULL) {
        return -1;
    }

    for (i = 0; i < n; i++) {
        if (strlen(names[i]) == len && memcmp(names[i], s, len) == 0) {
            return (int) i;
        }
    }

    return -1;
}


const char *
kx_side_name(kx_side_e side)
{
    return (unsigned) side < kx_order_nelts(kx_side_names)
           ? kx_side_names[side] : "unknown";
}


const char *
kx_order_type_name(kx_order_type_e type)
{
    return (unsigned) type < kx_order_nelts(kx_order_type_names)
           ? kx_order_type_names[type] : "unknown";
}


const char *
kx_tif_name(kx_tif_e tif)
{
    return (unsigned) tif < kx_order_nelts(kx_tif_names)
           ? kx_tif_names[tif] : "unknown";
}


const char *
kx_order_status_name(kx_order_status_e status)
{
    return (unsigned) status < KX_ORDER_STATUS_COUNT
           ? kx_order_status_names[status] : "unknown";
}


int
kx_side_parse(const char *s, size_t len, kx_side_e *out)
{
    int  i;

    i = kx_order_lookup(kx_side_names, kx_order_nelts(kx_side_names), s, len);
    if (i < 0) {
        return -1;
    }

    *out = (kx_side_e) i;

    return 0;
}


int
kx_order_type_parse(const char *s, size_t len, kx_order_type_e *out)
{
    int  i;

    i = kx_order_lookup(kx_order_type_names,
                        kx_order_nelts(kx_order_type_names), s, len);
    if (i < 0) {
        return -1;
    }

    *out = (kx_order_type_e) i;

    return 0;
}


int
kx_tif_parse(const char *s, size_t len, kx_tif_e *out)
{
    int  i;

    i = kx_order_lookup(kx_tif_names, kx_order_nelts(kx_tif_names), s, len);
    if (i < 0) {
        return -1;
    }

    *out = (kx_tif_e) i;

    return 0;
}


int
kx_order_status_parse(const char *s, size_t len, kx_order_status_e *out)
{
    int  i;

    i = kx_order_lookup(kx_order_status_names, KX_ORDER_STATUS_COUNT, s, len);
    if (i < 0) {
        return -1;
    }

    *out = (kx_order_status_e) i;

    return 0;
}


int
kx_order_status_is_final(kx_order_status_e status)
{
    return (unsigned) status < KX_ORDER_STATUS_COUNT
           && kx_order_next[status] == 0;
}


int
kx_order_status_is_open(kx_order_status_e status)
{
    return (unsigned) status < KX_ORDER_STATUS_COUNT
           && kx_order_next[status] != 0;
}


int
kx_order_transition_ok(kx_order_status_e from, kx_order_status_e to)
{
    if ((unsigned) from >= KX_ORDER_STATUS_COUNT
        || (unsigned) to >= KX_ORDER_STATUS_COUNT)
    {
        return 0;
    }

    return (kx_order_next[from] >> to) & 1;
}


int
kx_order_set_status(kx_order_t *o, kx_order_status_e to, int64_t now)
{
    if (!kx_order_transition_ok(o->status, to)) {
        return KX_ORDER_ESTATE;
    }

    kx_order_stamp(o, to, now);

    return KX_ORDER_OK;
}


static void
kx_order_stamp(kx_order_t *o, kx_order_status_e to, int64_t now)
{
    o->status = to;
    o->updated_at = now;

    switch (to) {
    case KX_ORDER_FILLED:
        o->filled_at = now;
        break;
    case KX_ORDER_CANCELED:
        o->canceled_at = now;
        break;
    case KX_ORDER_EXPIRED:
        o->expired_at = now;
        break;
    default:
        break;
    }
}


int
kx_order_fill(kx_order_t *o, kx_dec_t qty, kx_dec_t price, int64_t now)
{
    kx_dec_t           filled, avg, rest, value, more;
    kx_order_status_e  to;

    if (!kx_order_status_is_open(o->status)) {
        return KX_ORDER_ESTATE;
    }

    if (qty.v <= 0 || price.v <= 0) {
        return KX_ORDER_EINVALID;
    }

    if (kx_dec_add(o->filled_qty, qty, &filled) != KX_DEC_OK
        || kx_avg_price(o->filled_qty, o->filled_avg_price, qty, price, &avg)
           != KX_DEC_OK)
    {
        return KX_ORDER_ERANGE;
    }

    if (o->notional.v == 0) {
        if (kx_dec_cmp(filled, o->quantity) > 0) {
            return KX_ORDER_EINVALID;
        }

        to = (kx_dec_cmp(filled, o->quantity) == 0)
             ? KX_ORDER_FILLED : KX_ORDER_PARTIALLY_FILLED;

    } else {
        /* the fill must be paid out of what remains of the notional */
        if (kx_order_remaining_notional(o, &rest) != KX_ORDER_OK
            || kx_dec_mul(qty, price, KX_ROUND_HALF_EVEN, &value)
               != KX_DEC_OK)
        {
            return KX_ORDER_ERANGE;
        }

        if (kx_dec_cmp(value, rest) > 0) {
            return KX_ORDER_EINVALID;
        }

        /* filled when the rest cannot buy the smallest fraction */
        (void) kx_dec_sub(rest, value, &rest);

        if (kx_dec_div(rest, price, KX_ROUND_DOWN, &more) != KX_DEC_OK
            || kx_dec_round(more, KX_ORDER_QTY_PLACES, KX_ROUND_DOWN, &more)
               != KX_DEC_OK)
        {
            return KX_ORDER_ERANGE;
        }

        to = more.v == 0 ? KX_ORDER_FILLED : KX_ORDER_PARTIALLY_FILLED;
    }

    if (!kx_order_transition_ok(o->status, to)) {
        return KX_ORDER_ESTATE;
    }

    o->filled_qty = filled;
    o->filled_avg_price = avg;

    kx_order_stamp(o, to, now);

    return KX_ORDER_OK;
}


int
kx_order_remaining_qty(const kx_order_t *o, kx_dec_t *out)
{
    kx_dec_t  d;

    if (o->notional.v != 0 || kx_dec_cmp(o->filled_qty, o->quantity) >= 0) {
        out->v = 0;
        return KX_ORDER_OK;
    }

    if (kx_dec_sub(o->quantity, o->filled_qty, &d) != KX_DEC_OK) {
        return KX_ORDER_ERANGE;
    }

    *out = d;

    return KX_ORDER_OK;
}


int
kx_order_remaining_notional(const kx_order_t *o, kx_dec_t *out)
{
    kx_dec_t  value, d;

    if (o->notional.v == 0) {
        out->v = 0;
        return KX_ORDER_OK;
    }

    if (kx_dec_mul(o->filled_qty, o->filled_avg_price, KX_ROUND_HALF_EVEN,
                   &value)
        != KX_DEC_OK
        || kx_dec_sub(o->notional, value, &d) != KX_DEC_OK)
    {
        return KX_ORDER_ERANGE;
    }

    out->v = d.v > 0 ? d.v : 0;

    return KX_ORDER_OK;
}


void
kx_order_jw(kx_jw_t *w, const kx_order_t *o)
{
    kx_jw_obj_begin(w);
    kx_order_jw_fields(w, o);
    kx_jw_obj_end(w);
}


/* the members of the order object, into an object the caller opened */
void
kx_order_jw_fields(kx_jw_t *w, const kx_order_t *o)
{
    kx_jw_key(w, "id");
    kx_order_jw_id(w, o->id);
    kx_jw_key(w, "client_order_id");
    kx_order_jw_id(w, o->client_order_id);
    kx_jw_key(w, "symbol");
    kx_jw_str(w, o->symbol);
    kx_jw_key(w, "side");
    kx_jw_str(w, kx_side_name(o->side));
    kx_jw_key(w, "type");
    kx_jw_str(w, kx_order_type_name(o->type));
    kx_jw_key(w, "time_in_force");
    kx_jw_str(w, kx_tif_name(o->tif));

    kx_jw_key(w, "quantity");
    kx_order_jw_amount(w, o->quantity, 0);
    kx_jw_key(w, "qty");
    kx_order_jw_amount(w, o->quantity, 0);
    kx_jw_key(w, "notional");
    kx_order_jw_amount(w, o->notional, 2);
    kx_jw_key(w, "limit_price");
    kx_order_jw_amount(w, o->limit_price, 2);
    kx_jw_key(w, "stop_price");
    kx_order_jw_amount(w, o->stop_price, 2);

    /* "0" rather than null: nothing filled yet is a quantity too */
    kx_jw_key(w, "filled_qty");
    if (o->filled_qty.v == 0) {
        kx_jw_str(w, "0");

    } else {
        kx_order_jw_amount(w, o->filled_qty, 0);
    }

    kx_jw_key(w, "filled_avg_price");
    kx_order_jw_amount(w, o->filled_avg_price, 2);

    kx_jw_key(w, "status");
    kx_jw_str(w, kx_order_status_name(o->status));

    kx_jw_key(w, "created_at");
    kx_order_jw_time(w, o->created_at);
    kx_jw_key(w, "updated_at");
    kx_order_jw_time(w, o->updated_at);
    kx_jw_key(w, "filled_at");
    kx_order_jw_time(w, o->filled_at);
    kx_jw_key(w, "canceled_at");
    kx_order_jw_time(w, o->canceled_at);
    kx_jw_key(w, "expired_at");
    kx_order_jw_time(w, o->expired_at);
    kx_jw_key(w, "triggered_at");
    kx_order_jw_time(w, o->triggered_at);
    kx_jw_key(w, "reject_reason");
    kx_jw_str(w, o->reject_reason[0] ? o->reject_reason : NULL);
}


/* exact, without trailing zeros beyond min_places; 0 is absent (null) */
static void
kx_order_jw_amount(kx_jw_t *w, kx_dec_t d, unsigned min_places)
{
    char        buf[KX_DEC_FMT_MAX];
    size_t      n;
    const char  *dot;

    if (d.v == 0) {
        kx_jw_null(w);
        return;
    }

    n = kx_dec_format_min(d, buf, sizeof(buf));
    dot = memchr(buf, '.', n);

    if (min_places && (dot == NULL || (size_t) (buf + n - dot - 1)
                                      < min_places))
    {
        n = kx_dec_format(d, min_places, buf, sizeof(buf));
    }

    kx_jw_strn(w, buf, n);
}


static void
kx_order_jw_time(kx_jw_t *w, int64_t usec)
{
    char    buf[KX_ORDER_TIME_MAX + 1];
    size_t  n;

    n = usec ? kx_order_time_format(usec, buf, sizeof(buf)) : 0;

    if (n == 0) {
        kx_jw_null(w);
        return;
    }

    kx_jw_strn(w, buf, n);
}


static void
kx_order_jw_id(kx_jw_t *w, const char *id)
{
    kx_jw_str(w, id[0] ? id : NULL);
}


/*
 * Days to a civil date in the proleptic Gregorian calendar (Howard
 * Hinnant's algorithm), so the result does not depend on the process's
 * time zone or on the range of time_t.
 */
size_t
kx_order_time_format(int64_t usec, char *buf, size_t size)
{
    char    *p;
    int64_t  days, rem, z, era, doe, yoe, y, doy, mp, d, m, secs;

    days = usec / KX_ORDER_USEC_PER_DAY;
    rem = usec % KX_ORDER_USEC_PER_DAY;

    if (rem < 0) {
        rem += KX_ORDER_USEC_PER_DAY;
        days--;
    }

    z = days + 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    y = yoe + era * 400;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    d = doy - (153 * mp + 2) / 5 + 1;
    m = mp < 10 ? mp + 3 : mp - 9;
    y += (m <= 2);

    if (y < 0 || y > 9999 || size <= KX_ORDER_TIME_MAX) {
        if (size) {
            buf[0] = '\0';
        }

        return 0;
    }

    secs = rem / 1000000;

    /* by hand: a printf would parse its format for every timestamp */
    p = kx_fmt_u64_pad(buf, (uint64_t) y, 4);
    *p++ = '-';
    p = kx_fmt_u64_pad(p, (uint64_t) m, 2);
    *p++ = '-';
    p = kx_fmt_u64_pad(p, (uint64_t) d, 2);
    *p++ = 'T';
    p = kx_fmt_u64_pad(p, (uint64_t) (secs / 3600), 2);
    *p++ = ':';
    p = kx_fmt_u64_pad(p, (uint64_t) (secs / 60 % 60), 2);
    *p++ = ':';
    p = kx_fmt_u64_pad(p, (uint64_t) (secs % 60), 2);
    *p++ = '.';
    p = kx_fmt_u64_pad(p, (uint64_t) (rem % 1000000), 6);
    *p++ = 'Z';
    *p = '\0';

    return (size_t) (p - buf);
}
