
/*
 * Copyright (C) Kianax
 */


/*
 * The order of POST /orders on arbitrary input: the bytes up to the
 * first NUL (which JSON cannot hold) are the body, the rest a script of
 * 8-byte values.
 *
 * A body kx_order_validate() accepts must give an order that keeps the
 * rules of kx_order.h and holds exactly what the body said; the body
 * written back from the order must validate to the same order, and the
 * order object kx_order_jw() writes must parse and read back to it.  A
 * body refused leaves the order untouched, with a printable field that
 * starts the message.  The script fills the accepted order (each fill
 * kept or refused whole, the average exact to half a unit of its last
 * place, never more filled than ordered) and gives timestamps to
 * kx_order_time_format(), whose text must be the calendar's and read
 * back through kx_alpaca_time_parse(), in buffers of every size.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/kx_decimal.h"
#include "core/kx_json.h"
#include "trading/kx_alpaca.h"
#include "trading/kx_order.h"

#include "fuzz_check.h"


#define FUZZ_MAX_LEN    4096
#define FUZZ_MAX_STEPS  16


typedef __int128  i128;


static const char *const  body_keys[] = {
    "symbol", "side", "type", "time_in_force", "quantity", "qty", "notional",
    "limit_price", "stop_price", "client_order_id"
};


#define fuzz_nelts(a)  (sizeof(a) / sizeof((a)[0]))


static int64_t
script_at(const uint8_t *p)
{
    int64_t  v;

    memcpy(&v, p, sizeof(v));

    return v;
}


/* the value a body gives for key: absent or null is 0 */
static int
body_amount(const kx_json_node_t *body, const char *key, int64_t *v)
{
    size_t                 len;
    kx_dec_t               d;
    const char            *s;
    const kx_json_node_t  *node;

    node = kx_json_obj_get(body, key);

    if (node == NULL || kx_json_type(node) == KX_JSON_NULL) {
        *v = 0;
        return 0;
    }

    s = kx_json_type(node) == KX_JSON_STRING ? kx_json_str(node, &len)
                                             : kx_json_num_raw(node, &len);

    if (s == NULL || kx_dec_parse(s, len, &d) != KX_DEC_OK) {
        return -1;
    }

    *v = d.v;

    return 0;
}


static int
body_text_is(const kx_json_node_t *body, const char *key, const char *want)
{
    size_t       len;
    const char  *s;

    s = kx_json_str(kx_json_obj_get(body, key), &len);

    return s && len == strlen(want) && memcmp(s, want, len) == 0;
}


static int
is_null(const kx_json_node_t *body, const char *key)
{
    const kx_json_node_t  *node;

    node = kx_json_obj_get(body, key);

    return node == NULL || kx_json_type(node) == KX_JSON_NULL;
}


/* an amount of the order object: null for 0, else an exact string */
static void
check_jw_amount(const kx_json_node_t *obj, const char *key, kx_dec_t want,
    unsigned min_places)
{
    size_t                 len;
    kx_dec_t               d;
    const char            *s, *dot;
    const kx_json_node_t  *node;

    node = kx_json_obj_get(obj, key);

    if (want.v == 0) {
        check(kx_json_type(node) == KX_JSON_NULL);
        return;
    }

    s = kx_json_str(node, &len);
    check(s != NULL && kx_dec_parse(s, len, &d) == KX_DEC_OK);
    check(d.v == want.v);

    dot = memchr(s, '.', len);
    check(min_places == 0
          || (dot != NULL && (size_t) (s + len - dot - 1) >= min_places));
}


static void
check_jw_time(const kx_json_node_t *obj, const char *key, int64_t want)
{
    size_t                 len;
    int64_t                us;
    const char            *s;
    const kx_json_node_t  *node;

    node = kx_json_obj_get(obj, key);

    if (kx_json_type(node) == KX_JSON_NULL) {
        check(want == 0 || want < INT64_C(-62167219200000000)
              || want >= INT64_C(253402300800000000));
        return;
    }

    s = kx_json_str(node, &len);
    check(s != NULL && kx_alpaca_time_parse(s, len, &us) == 0);
    check(us == want);
}


static void
check_jw_text(const kx_json_node_t *obj, const char *key, const char *want,
    int empty_is_null)
{
    size_t                 len;
    const char            *s;
    const kx_json_node_t  *node;

    node = kx_json_obj_get(obj, key);

    if (empty_is_null && want[0] == '\0') {
        check(kx_json_type(node) == KX_JSON_NULL);
        return;
    }

    s = kx_json_str(node, &len);
    check(s != NULL && len == strlen(want) && memcmp(s, want, len) == 0);
}


/* kx_order_jw() of o: valid JSON that reads back to o */
static void
check_jw(const kx_order_t *o)
{
    size_t                 len;
    kx_jw_t                w;
    const char            *out;
    kx_json_doc_t         *doc;
    kx_json_perr_t         perr;
    const kx_json_node_t  *obj;

    kx_jw_init(&w);
    kx_order_jw(&w, o);
    check(kx_jw_finish(&w, &out, &len) == KX_JW_OK);

    if (kx_json_parse(out, len, NULL, &doc, &perr) != KX_JSON_PE_OK) {
        fprintf(stderr, "order object does not parse: %s\n%.*s\n",
                perr.msg, (int) len, out);
        abort();
    }

    obj = kx_json_root(doc);
    check(kx_json_obj_len(obj) == 21);

    check_jw_text(obj, "id", o->id, 1);
    check_jw_text(obj, "client_order_id", o->client_order_id, 1);
    check_jw_text(obj, "symbol", o->symbol, 0);
    check_jw_text(obj, "side", kx_side_name(o->side), 0);
    check_jw_text(obj, "type", kx_order_type_name(o->type), 0);
    check_jw_text(obj, "time_in_force", kx_tif_name(o->tif), 0);
    check_jw_text(obj, "status", kx_order_status_name(o->status), 0);

    check_jw_amount(obj, "quantity", o->quantity, 0);
    check_jw_amount(obj, "qty", o->quantity, 0);
    check_jw_amount(obj, "notional", o->notional, 2);
    check_jw_amount(obj, "limit_price", o->limit_price, 2);
    check_jw_amount(obj, "stop_price", o->stop_price, 2);
    check_jw_amount(obj, "filled_avg_price", o->filled_avg_price, 2);

    if (o->filled_qty.v == 0) {
        check_jw_text(obj, "filled_qty", "0", 0);

    } else {
        check_jw_amount(obj, "filled_qty", o->filled_qty, 0);
    }

    check_jw_time(obj, "created_at", o->created_at);
    check_jw_time(obj, "updated_at", o->updated_at);
    check_jw_time(obj, "filled_at", o->filled_at);
    check_jw_time(obj, "canceled_at", o->canceled_at);
    check_jw_time(obj, "expired_at", o->expired_at);
    check_jw_time(obj, "triggered_at", o->triggered_at);
    check_jw_text(obj, "reject_reason", o->reject_reason, 1);

    kx_json_free(doc);
    kx_jw_free(&w);
}


/* the body of POST /orders for o, as a client would send it */
static void
check_rewrite(const kx_order_t *o)
{
    int             rc;
    char            buf[KX_DEC_FMT_MAX];
    size_t          len, n;
    kx_jw_t         w;
    kx_order_t      o2;
    const char     *out;
    kx_json_doc_t  *doc;
    kx_order_err_t  err;

    kx_jw_init(&w);
    kx_jw_obj_begin(&w);
    kx_jw_key(&w, "symbol");
    kx_jw_str(&w, o->symbol);
    kx_jw_key(&w, "side");
    kx_jw_str(&w, kx_side_name(o->side));
    kx_jw_key(&w, "type");
    kx_jw_str(&w, kx_order_type_name(o->type));
    kx_jw_key(&w, "time_in_force");
    kx_jw_str(&w, kx_tif_name(o->tif));

    /* as a string, or a JSON number: both must read the same */
    if (o->quantity.v) {
        n = kx_dec_format_min(o->quantity, buf, sizeof(buf));
        kx_jw_key(&w, "qty");
        kx_jw_num_raw(&w, buf, n);
    }

    if (o->notional.v) {
        kx_jw_key(&w, "notional");
        kx_jw_dec_str(&w, o->notional, 2);
    }

    if (o->limit_price.v) {
        kx_jw_key(&w, "limit_price");
        kx_jw_dec_str(&w, o->limit_price, 4);
    }

    if (o->stop_price.v) {
        n = kx_dec_format_min(o->stop_price, buf, sizeof(buf));
        kx_jw_key(&w, "stop_price");
        kx_jw_num_raw(&w, buf, n);
    }

    if (o->client_order_id[0]) {
        kx_jw_key(&w, "client_order_id");
        kx_jw_str(&w, o->client_order_id);
    }

    kx_jw_obj_end(&w);
    check(kx_jw_finish(&w, &out, &len) == KX_JW_OK);
    check(kx_json_parse(out, len, NULL, &doc, NULL) == KX_JSON_PE_OK);

    rc = kx_order_validate(kx_json_root(doc), &o2, &err);

    if (rc != KX_ORDER_OK) {
        fprintf(stderr, "rewritten body refused: %s\n%.*s\n", err.message,
                (int) len, out);
        abort();
    }

    check(memcmp(o, &o2, sizeof(kx_order_t)) == 0);

    kx_json_free(doc);
    kx_jw_free(&w);
}


/*
 * The body of POST /v2/orders for o: the same order, amounts as exact
 * strings, the client_order_id given; refused only for a bad id.
 */
static void
check_alpaca_body(const kx_order_t *o, const char *client_id)
{
    int                    rc;
    size_t                 len;
    kx_jw_t                w;
    kx_dec_t               want;
    const char            *out;
    kx_json_doc_t         *doc;
    kx_alpaca_err_t        err;
    const kx_json_node_t  *obj;

    kx_jw_init(&w);
    err.message[0] = '\0';
    rc = kx_alpaca_order_body(&w, o, client_id, &err);

    len = strlen(client_id);

    if (len == 0 || len > KX_ALPACA_CLIENT_ID_MAX) {
        check(rc == KX_ALPACA_EINVALID && err.message[0] != '\0');
        kx_jw_free(&w);
        return;
    }

    check(rc == KX_ALPACA_OK);
    check(kx_jw_finish(&w, &out, &len) == KX_JW_OK);
    check(kx_json_parse(out, len, NULL, &doc, NULL) == KX_JSON_PE_OK);

    obj = kx_json_root(doc);
    check(kx_json_obj_len(obj) == 6 + (o->limit_price.v > 0)
                                    + (o->stop_price.v > 0));

    check_jw_text(obj, "symbol", o->symbol, 0);
    check_jw_text(obj, "side", kx_side_name(o->side), 0);
    check_jw_text(obj, "type", kx_order_type_name(o->type), 0);
    check_jw_text(obj, "time_in_force", kx_tif_name(o->tif), 0);
    check_jw_text(obj, "client_order_id", client_id, 0);

    if (o->quantity.v > 0) {
        check(kx_json_obj_get(obj, "notional") == NULL);
        check_jw_amount(obj, "qty", o->quantity, 0);

    } else {
        check(kx_json_obj_get(obj, "qty") == NULL);
        check_jw_amount(obj, "notional", o->notional, 0);
    }

    want = o->limit_price;

    if (want.v > 0) {
        check_jw_amount(obj, "limit_price", want, 0);
    }

    want = o->stop_price;

    if (want.v > 0) {
        check_jw_amount(obj, "stop_price", want, 0);
    }

    kx_json_free(doc);
    kx_jw_free(&w);
}


/* an accepted order, against the body and the rules of kx_order.h */
static void
check_accepted(const kx_json_node_t *body, const kx_order_t *o)
{
    int          want_limit, want_stop;
    size_t       i, n, len;
    int64_t      v, q;
    const char  *key;
    kx_order_t   z, fresh;

    /* only the known keys */
    n = kx_json_obj_len(body);

    for (i = 0; i < n; i++) {
        (void) kx_json_obj_at(body, i, &key, &len);

        for (v = 0; v < (int64_t) fuzz_nelts(body_keys); v++) {
            if (strlen(body_keys[v]) == len
                && memcmp(body_keys[v], key, len) == 0)
            {
                break;
            }
        }

        check(v < (int64_t) fuzz_nelts(body_keys));
    }

    /* symbol: 1-10 of A-Z and '.', a letter first, as sent */
    len = strlen(o->symbol);
    check(len >= 1 && len <= KX_ORDER_SYMBOL_MAX);
    check(o->symbol[0] >= 'A' && o->symbol[0] <= 'Z');

    for (i = 1; i < len; i++) {
        check((o->symbol[i] >= 'A' && o->symbol[i] <= 'Z')
              || o->symbol[i] == '.');
    }

    check(body_text_is(body, "symbol", o->symbol));

    check(body_text_is(body, "side", kx_side_name(o->side)));
    check(body_text_is(body, "type", kx_order_type_name(o->type)));
    check(body_text_is(body, "time_in_force", kx_tif_name(o->tif))
          || (o->tif == KX_TIF_DAY && is_null(body, "time_in_force")));

    /* exactly one of quantity and notional, each as sent */
    check((o->quantity.v > 0) != (o->notional.v > 0));
    check(o->quantity.v >= 0 && o->notional.v >= 0);
    check(o->quantity.v % 100 == 0);                /* 6 places */
    check(o->notional.v % 1000000 == 0);            /* 2 places */

    check(body_amount(body, "quantity", &q) == 0);
    check(body_amount(body, "qty", &v) == 0);
    check(q == 0 || v == 0);
    check(o->quantity.v == (q ? q : v));

    check(body_amount(body, "notional", &v) == 0 && v == o->notional.v);

    check(o->notional.v == 0
          || (o->type == KX_ORDER_MARKET && o->tif == KX_TIF_DAY));

    /* prices exactly when the type needs them, 4 places, as sent */
    want_limit = (o->type == KX_ORDER_LIMIT
                  || o->type == KX_ORDER_STOP_LIMIT);
    want_stop = (o->type == KX_ORDER_STOP || o->type == KX_ORDER_STOP_LIMIT);

    check((o->limit_price.v > 0) == want_limit && o->limit_price.v >= 0);
    check((o->stop_price.v > 0) == want_stop && o->stop_price.v >= 0);
    check(o->limit_price.v % 10000 == 0 && o->stop_price.v % 10000 == 0);
    check(body_amount(body, "limit_price", &v) == 0
          && v == o->limit_price.v);
    check(body_amount(body, "stop_price", &v) == 0 && v == o->stop_price.v);

    /* client_order_id: absent, or 1-48 of A-Z a-z 0-9 . _ : - as sent */
    len = strlen(o->client_order_id);
    check(len <= KX_ORDER_CLIENT_ID_MAX);

    for (i = 0; i < len; i++) {
        check(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                     "0123456789._:-", o->client_order_id[i]) != NULL);
    }

    if (len) {
        check(body_text_is(body, "client_order_id", o->client_order_id));

    } else {
        check(is_null(body, "client_order_id"));
    }

    /* nothing else is set: a new order */
    z = *o;
    memset(z.symbol, 0, sizeof(z.symbol));
    memset(z.client_order_id, 0, sizeof(z.client_order_id));
    z.side = KX_SIDE_BUY;
    z.type = KX_ORDER_MARKET;
    z.tif = KX_TIF_DAY;
    z.quantity.v = 0;
    z.notional.v = 0;
    z.limit_price.v = 0;
    z.stop_price.v = 0;

    kx_order_init(&fresh);
    check(memcmp(&z, &fresh, sizeof(kx_order_t)) == 0);
}


/* a refusal: o untouched, the field printable, the message its own */
static void
check_refused(const kx_order_err_t *err, const kx_order_t *o)
{
    size_t  i, n;

    for (i = 0; i < sizeof(kx_order_t); i++) {
        check(((const unsigned char *) o)[i] == 0x5a);
    }

    /* an empty key sent is an empty field */
    n = strnlen(err->field, sizeof(err->field));
    check(n < sizeof(err->field));
    check(strnlen(err->message, sizeof(err->message))
          < sizeof(err->message));

    for (i = 0; i < n; i++) {
        check(err->field[i] > 0x20 && err->field[i] < 0x7f
              && err->field[i] != '"' && err->field[i] != '\\');
    }

    check(strncmp(err->message, err->field, n) == 0
          && err->message[n] == ':' && err->message[n + 1] == ' '
          && err->message[n + 2] != '\0');
}


/*
 * Fills from the script on an accepted order.  Each is taken whole or
 * refused with the order untouched; the order never fills past its
 * quantity, or its notional by more than rounding; the average stays
 * exact to half a unit of its last place.
 */
static void
check_fills(kx_order_t *o, const uint8_t *script, size_t n)
{
    int         rc;
    i128        paid, got, diff, bound;
    size_t      i;
    kx_dec_t    qty, price, rest;
    uint64_t    r;
    kx_order_t  saved;

    o->status = KX_ORDER_ACCEPTED;
    paid = 0;

    for (i = 0; i + 16 <= n && i < 16 * FUZZ_MAX_STEPS; i += 16) {
        /* a quantity of at most the order's, a price of at most 10^6 */
        r = (uint64_t) script_at(script + i);
        qty.v = (int64_t) (r % (uint64_t) (o->quantity.v ? o->quantity.v + 2
                                                         : 100 * KX_DEC_ONE));
        qty.v -= (r >> 63);
        r = (uint64_t) script_at(script + i + 8);
        price.v = (int64_t) (r % (1000000 * KX_DEC_ONE)) - (int64_t) (r >> 63);

        saved = *o;
        rc = kx_order_fill(o, qty, price, (int64_t) i + 1);

        if (rc != KX_ORDER_OK) {
            check(memcmp(o, &saved, sizeof(kx_order_t)) == 0);
            check(rc == KX_ORDER_EINVALID || rc == KX_ORDER_ESTATE
                  || rc == KX_ORDER_ERANGE);
            check(rc != KX_ORDER_ESTATE
                  || !kx_order_status_is_open(saved.status));
            continue;
        }

        check(qty.v > 0 && price.v > 0);
        check(kx_order_status_is_open(saved.status));
        check(o->filled_qty.v == saved.filled_qty.v + qty.v);
        check(o->status == KX_ORDER_PARTIALLY_FILLED
              || o->status == KX_ORDER_FILLED);
        check(o->updated_at == (int64_t) i + 1);
        check(o->status != KX_ORDER_FILLED || o->filled_at == o->updated_at);

        paid += (i128) qty.v * price.v;

        /* the average, rounded once per fill: within a unit per fill */
        got = (i128) o->filled_qty.v * o->filled_avg_price.v;
        diff = got > paid ? got - paid : paid - got;
        bound = (i128) o->filled_qty.v * (i128) (i / 16 + 1);
        check(2 * diff <= bound);

        if (o->notional.v == 0) {
            check(o->filled_qty.v <= o->quantity.v);
            check((o->status == KX_ORDER_FILLED)
                  == (o->filled_qty.v == o->quantity.v));
            check(kx_order_remaining_qty(o, &rest) == KX_ORDER_OK
                  && rest.v == o->quantity.v - o->filled_qty.v);

        } else {
            /* paid out of the notional: over it by rounding at most */
            check(kx_order_remaining_notional(o, &rest) == KX_ORDER_OK
                  && rest.v >= 0);
            check(2 * (paid - (i128) o->notional.v * KX_DEC_ONE)
                  <= bound + 4 * KX_DEC_ONE);
        }
    }
}


/*
 * A move of the status machine: done exactly when kx_order.h allows
 * it, with its times stamped; an order that ends final takes no fill.
 */
static void
check_set_status(kx_order_t *o, unsigned to, int64_t now)
{
    int         rc, ok;
    kx_dec_t    one;
    kx_order_t  saved;

    to %= KX_ORDER_STATUS_COUNT + 1;
    saved = *o;

    /* the table of kx_order.h, as its exceptions */
    ok = (to < KX_ORDER_STATUS_COUNT)
         && kx_order_status_is_open(o->status)
         && to != KX_ORDER_NEW
         && (to != KX_ORDER_ACCEPTED || o->status == KX_ORDER_NEW)
         && (to != KX_ORDER_REJECTED
             || o->status != KX_ORDER_PARTIALLY_FILLED);

    check(kx_order_transition_ok(o->status, (kx_order_status_e) to) == ok);
    check(kx_order_status_is_open(o->status)
          != kx_order_status_is_final(o->status));

    rc = kx_order_set_status(o, (kx_order_status_e) to, now);

    if (!ok) {
        check(rc == KX_ORDER_ESTATE);
        check(memcmp(o, &saved, sizeof(kx_order_t)) == 0);
        return;
    }

    check(rc == KX_ORDER_OK && o->status == to && o->updated_at == now);
    check(o->filled_at == (to == KX_ORDER_FILLED ? now : saved.filled_at));
    check(o->canceled_at
          == (to == KX_ORDER_CANCELED ? now : saved.canceled_at));
    check(o->expired_at == (to == KX_ORDER_EXPIRED ? now : saved.expired_at));

    if (kx_order_status_is_final(o->status)) {
        saved = *o;
        one.v = 1;
        check(kx_order_fill(o, one, one, now + 1) == KX_ORDER_ESTATE);
        check(memcmp(o, &saved, sizeof(kx_order_t)) == 0);
    }
}


/* the timestamps of the script, through the writer and back */
static void
check_time(int64_t us)
{
    char       buf[KX_ORDER_TIME_MAX + 8], want[KX_ORDER_TIME_MAX + 1];
    size_t     n, size;
    int64_t    back, secs, frac;
    struct tm  tm;
    time_t     t;

    secs = us / 1000000;
    frac = us % 1000000;

    if (frac < 0) {
        frac += 1000000;
        secs--;
    }

    t = (time_t) secs;
    want[0] = '\0';

    if (gmtime_r(&t, &tm) != NULL && tm.tm_year >= -1900
        && tm.tm_year <= 9999 - 1900)
    {
        snprintf(want, sizeof(want), "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                 tm.tm_min, tm.tm_sec, (int) frac);
    }

    for (size = 0; size <= sizeof(buf); size++) {
        memset(buf, 0x7e, sizeof(buf));
        n = kx_order_time_format(us, buf, size);

        /* nothing written past size */
        check(size == sizeof(buf) || (unsigned char) buf[size] == 0x7e);

        if (n == 0) {
            check(size == 0 || buf[0] == '\0');
            check(want[0] == '\0' || size <= KX_ORDER_TIME_MAX);
            continue;
        }

        check(size > KX_ORDER_TIME_MAX && n < size && n == strlen(buf));
        check(strcmp(buf, want) == 0);
        check(kx_alpaca_time_parse(buf, n, &back) == 0 && back == us);
    }
}


/* the names: each parses back to itself, the bytes only as a name */
static void
check_names(const uint8_t *data, size_t size)
{
    int                 i;
    const char         *s;
    kx_tif_e            tif;
    kx_side_e           side;
    kx_order_type_e     type;
    kx_order_status_e   st;

    for (i = -1; i <= KX_ORDER_STATUS_COUNT; i++) {
        s = kx_side_name((kx_side_e) i);
        check(kx_side_parse(s, strlen(s), &side) == 0
              ? (int) side == i : (i < 0 || i > KX_SIDE_SELL));

        s = kx_order_type_name((kx_order_type_e) i);
        check(kx_order_type_parse(s, strlen(s), &type) == 0
              ? (int) type == i : (i < 0 || i > KX_ORDER_STOP_LIMIT));

        s = kx_tif_name((kx_tif_e) i);
        check(kx_tif_parse(s, strlen(s), &tif) == 0
              ? (int) tif == i : (i < 0 || i > KX_TIF_FOK));

        s = kx_order_status_name((kx_order_status_e) i);
        check(kx_order_status_parse(s, strlen(s), &st) == 0
              ? (int) st == i : (i < 0 || i >= KX_ORDER_STATUS_COUNT));
    }

    s = (const char *) data;

    if (kx_side_parse(s, size, &side) == 0) {
        check(strlen(kx_side_name(side)) == size
              && memcmp(kx_side_name(side), s, size) == 0);
    }

    if (kx_order_type_parse(s, size, &type) == 0) {
        check(strlen(kx_order_type_name(type)) == size
              && memcmp(kx_order_type_name(type), s, size) == 0);
    }

    if (kx_tif_parse(s, size, &tif) == 0) {
        check(strlen(kx_tif_name(tif)) == size
              && memcmp(kx_tif_name(tif), s, size) == 0);
    }

    if (kx_order_status_parse(s, size, &st) == 0) {
        check(strlen(kx_order_status_name(st)) == size
              && memcmp(kx_order_status_name(st), s, size) == 0);
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int               rc, rc2;
    size_t            blen, i;
    kx_order_t        o, o2;
    const uint8_t    *nul, *script;
    kx_json_doc_t    *doc;
    kx_order_err_t    err, err2;
    kx_json_limits_t  lim = { FUZZ_MAX_LEN, 8, 256 };

    if (size > FUZZ_MAX_LEN) {
        return 0;
    }

    nul = memchr(data, '\0', size);
    blen = nul ? (size_t) (nul - data) : size;
    script = nul ? nul + 1 : data + size;

    check_names(data, blen);

    for (i = 0; script + i + 8 <= data + size && i < 8 * FUZZ_MAX_STEPS;
         i += 8)
    {
        check_time(script_at(script + i));
    }

    if (kx_json_parse((const char *) data, blen, &lim, &doc, NULL)
        != KX_JSON_PE_OK)
    {
        return 0;
    }

    memset(&o, 0x5a, sizeof(o));
    rc = kx_order_validate(kx_json_root(doc), &o, &err);

    /* the same body, the same answer */
    memset(&o2, 0x5a, sizeof(o2));
    rc2 = kx_order_validate(kx_json_root(doc), &o2, &err2);
    check(rc == rc2 && memcmp(&o, &o2, sizeof(o)) == 0);

    if (rc != KX_ORDER_OK) {
        check(rc == KX_ORDER_EINVALID);
        check(strcmp(err.message, err2.message) == 0
              && strcmp(err.field, err2.field) == 0);
        check_refused(&err, &o);
        kx_json_free(doc);
        return 0;
    }

    check_accepted(kx_json_root(doc), &o);
    kx_json_free(doc);

    check_rewrite(&o);
    check_jw(&o);
    check_alpaca_body(&o, "kx-9f0c2a4e");
    check_alpaca_body(&o, o.client_order_id);

    check_fills(&o, script, (size_t) (data + size - script));

    for (i = 0; script + i < data + size && i < FUZZ_MAX_STEPS; i++) {
        check_set_status(&o, script[i], INT64_C(1700000000000000) + i);
    }

    /* the order as stored later: an id, times, a reason */
    strcpy(o.id, "9f0c2a4e-8b8e-4c5e-9d47-3f0a1b2c3d4e");
    memset(o.reject_reason, 0, sizeof(o.reject_reason));

    /* ASCII, so that a cut does not split a character */
    for (i = 0; i < blen && i < KX_ORDER_REASON_MAX; i++) {
        o.reject_reason[i] = data[i] < 0x80 ? (char) data[i] : '?';
    }

    if (script + 16 <= data + size) {
        o.created_at = script_at(script);
        o.triggered_at = script_at(script + 8);
    }

    check_jw(&o);

    return 0;
}
