
/*
 * Copyright (C) Kianax
 */


/*
 * Alpaca's side of the broker link on arbitrary bytes: the whole input
 * as a trade_updates frame, as an RFC 3339 time, as an order status
 * name and as the body of an error answer; and, when it is JSON, every
 * object in it (the first FUZZ_MAX_OBJS) as an order, a position and an
 * account.  What is accepted is checked against the JSON it came from:
 * every amount against a rounding computed here, apart from the code
 * under test (exact when it has at most 8 places, else rounded toward
 * zero for quantities and half-even for money, and the "rounded" flag
 * set exactly then), text trimmed and bounded, times as
 * kx_alpaca_time_parse() reads them.  Each order parsed is applied to a
 * fresh order of ours and to one carried from object to object, and the
 * change must account for the fill exactly; applying it again must
 * change nothing.
 */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/kx_decimal.h"
#include "core/kx_error.h"
#include "core/kx_json.h"
#include "core/kx_utf8.h"
#include "trading/kx_alpaca.h"
#include "trading/kx_order.h"

#include "fuzz_check.h"


#define FUZZ_MAX_LEN   8192
#define FUZZ_MAX_OBJS  16


typedef __int128  i128;


typedef struct {
    const char         *key;
    size_t              off;
    kx_round_e          mode;
} fuzz_amount_t;


typedef struct {
    const char         *key;
    size_t              off;
} fuzz_field_t;


static const fuzz_amount_t  order_amounts[] = {
    { "qty",              offsetof(kx_alpaca_order_t, qty),
      KX_ROUND_DOWN },
    { "notional",         offsetof(kx_alpaca_order_t, notional),
      KX_ROUND_HALF_EVEN },
    { "filled_qty",       offsetof(kx_alpaca_order_t, filled_qty),
      KX_ROUND_DOWN },
    { "filled_avg_price", offsetof(kx_alpaca_order_t, filled_avg_price),
      KX_ROUND_HALF_EVEN },
    { "limit_price",      offsetof(kx_alpaca_order_t, limit_price),
      KX_ROUND_HALF_EVEN },
    { "stop_price",       offsetof(kx_alpaca_order_t, stop_price),
      KX_ROUND_HALF_EVEN }
};

static const fuzz_field_t  order_texts[] = {
    { "id",              offsetof(kx_alpaca_order_t, id) },
    { "client_order_id", offsetof(kx_alpaca_order_t, client_order_id) },
    { "symbol",          offsetof(kx_alpaca_order_t, symbol) },
    { "status",          offsetof(kx_alpaca_order_t, status_name) }
};

static const fuzz_field_t  order_times[] = {
    { "created_at",   offsetof(kx_alpaca_order_t, created_at) },
    { "updated_at",   offsetof(kx_alpaca_order_t, updated_at) },
    { "submitted_at", offsetof(kx_alpaca_order_t, submitted_at) },
    { "filled_at",    offsetof(kx_alpaca_order_t, filled_at) },
    { "canceled_at",  offsetof(kx_alpaca_order_t, canceled_at) },
    { "expired_at",   offsetof(kx_alpaca_order_t, expired_at) },
    { "failed_at",    offsetof(kx_alpaca_order_t, failed_at) }
};

static const fuzz_amount_t  position_amounts[] = {
    { "qty",             offsetof(kx_alpaca_position_t, qty),
      KX_ROUND_DOWN },
    { "qty_available",   offsetof(kx_alpaca_position_t, qty_available),
      KX_ROUND_DOWN },
    { "avg_entry_price", offsetof(kx_alpaca_position_t, avg_entry_price),
      KX_ROUND_HALF_EVEN },
    { "market_value",    offsetof(kx_alpaca_position_t, market_value),
      KX_ROUND_HALF_EVEN },
    { "cost_basis",      offsetof(kx_alpaca_position_t, cost_basis),
      KX_ROUND_HALF_EVEN },
    { "unrealized_pl",   offsetof(kx_alpaca_position_t, unrealized_pl),
      KX_ROUND_HALF_EVEN },
    { "current_price",   offsetof(kx_alpaca_position_t, current_price),
      KX_ROUND_HALF_EVEN }
};

static const fuzz_amount_t  account_amounts[] = {
    { "cash",               offsetof(kx_alpaca_account_t, cash),
      KX_ROUND_HALF_EVEN },
    { "buying_power",       offsetof(kx_alpaca_account_t, buying_power),
      KX_ROUND_HALF_EVEN },
    { "equity",             offsetof(kx_alpaca_account_t, equity),
      KX_ROUND_HALF_EVEN },
    { "portfolio_value",    offsetof(kx_alpaca_account_t, portfolio_value),
      KX_ROUND_HALF_EVEN },
    { "long_market_value",  offsetof(kx_alpaca_account_t,
                                     long_market_value),
      KX_ROUND_HALF_EVEN },
    { "short_market_value", offsetof(kx_alpaca_account_t,
                                     short_market_value),
      KX_ROUND_HALF_EVEN }
};

static const fuzz_amount_t  msg_amounts[] = {
    { "price",        offsetof(kx_alpaca_msg_t, price), KX_ROUND_HALF_EVEN },
    { "qty",          offsetof(kx_alpaca_msg_t, qty), KX_ROUND_DOWN },
    { "position_qty", offsetof(kx_alpaca_msg_t, position_qty),
      KX_ROUND_DOWN }
};


/* Alpaca's documented statuses; the first 11 say nothing of fills */
static const char *const  alpaca_statuses[] = {
    "new", "accepted", "pending_new", "accepted_for_bidding", "held",
    "stopped", "suspended", "pending_cancel", "pending_replace",
    "done_for_day", "calculated",
    "partially_filled", "filled", "canceled", "replaced", "expired",
    "rejected"
};

#define FUZZ_WORKING_STATUSES  11


#define fuzz_nelts(a)  (sizeof(a) / sizeof((a)[0]))


static int ref_time(const char *s, size_t len, char *local, int64_t *off,
    int *leap);

#define fuzz_dec_at(base, off)                                                \
    (((const kx_dec_t *) ((const char *) (base) + (off)))->v)


/*
 * The text of an amount at 8 places: 0 with *v and *inexact, or -1 if
 * it must be refused (not a decimal, out of range, or an exponent form
 * with more than 8 places, which the header says Alpaca does not send).
 * The rounding is done here digit by digit, on the magnitude.
 */
static int
ref_amount(const char *s, size_t len, kx_round_e mode, int64_t *v,
    int *inexact)
{
    int       neg, first, sticky;
    i128      acc;
    size_t    i, k;
    kx_dec_t  d;

    switch (kx_dec_parse_places(s, len, KX_DEC_SCALE, &d)) {

    case KX_DEC_OK:
        *v = d.v;
        *inexact = 0;
        return 0;

    case KX_DEC_EPRECISION:
        break;

    default:
        return -1;
    }

    /* the syntax is valid: -?(0|[1-9][0-9]*)\.[0-9]{9,} or an exponent */
    if (memchr(s, 'e', len) || memchr(s, 'E', len)) {
        return -1;
    }

    i = 0;
    neg = (s[0] == '-');
    i += neg;

    for (acc = 0; s[i] != '.'; i++) {
        acc = acc * 10 + (s[i] - '0');

        if (acc > INT64_MAX) {
            return -1;
        }
    }

    for (i++, k = 0; k < KX_DEC_SCALE; i++, k++) {
        acc = acc * 10 + (s[i] - '0');
    }

    first = s[i] - '0';

    for (sticky = 0, i++; i < len; i++) {
        sticky |= (s[i] != '0');
    }

    if (mode == KX_ROUND_HALF_EVEN
        && (first > 5 || (first == 5 && (sticky || (acc & 1)))))
    {
        acc++;
    }

    if (acc > INT64_MAX) {
        return -1;
    }

    *v = (int64_t) (neg ? -acc : acc);
    *inexact = 1;

    return 0;
}


/* an amount a parser accepted, against the JSON it came from */
static void
check_amounts(const kx_json_node_t *obj, const void *base,
    const fuzz_amount_t *f, size_t n, int *inexact)
{
    int                    in;
    size_t                 i, len;
    int64_t                v, got;
    const char            *s;
    const kx_json_node_t  *node;

    for (i = 0; i < n; i++) {
        node = kx_json_obj_get(obj, f[i].key);
        got = fuzz_dec_at(base, f[i].off);

        if (node == NULL || kx_json_type(node) == KX_JSON_NULL) {
            check(got == 0);
            continue;
        }

        s = kx_json_type(node) == KX_JSON_STRING ? kx_json_str(node, &len)
                                                 : kx_json_num_raw(node, &len);
        check(s != NULL);

        if (ref_amount(s, len, f[i].mode, &v, &in) != 0) {
            fprintf(stderr, "%s: \"%.*s\" accepted as %lld\n", f[i].key,
                    (int) len, s, (long long) got);
            abort();
        }

        if (v != got) {
            fprintf(stderr, "%s: \"%.*s\" read as %lld, want %lld\n",
                    f[i].key, (int) len, s, (long long) got, (long long) v);
            abort();
        }

        *inexact |= in;
    }
}


/* a string field as kx_alpaca_get_text() reads it: blanks trimmed */
static const char *
trimmed(const kx_json_node_t *obj, const char *key, size_t *len)
{
    size_t       n;
    const char  *s;

    s = kx_json_str(kx_json_obj_get(obj, key), &n);

    if (s == NULL) {
        *len = 0;
        return NULL;
    }

    while (n && (s[0] == ' ' || s[0] == '\t')) {
        s++;
        n--;
    }

    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t')) {
        n--;
    }

    *len = n;

    return s;
}


/* a string field: the JSON string without surrounding blanks, or "" */
static void
check_text(const kx_json_node_t *obj, const char *key, const char *got,
    size_t size)
{
    size_t       n;
    const char  *s;

    check(memchr(got, '\0', size) != NULL);

    s = trimmed(obj, key, &n);

    if (s == NULL) {
        check(got[0] == '\0');
        return;
    }

    check(n < size && strlen(got) == n && memcmp(got, s, n) == 0);
}


static void
check_times(const kx_json_node_t *obj, const void *base,
    const fuzz_field_t *f, size_t n)
{
    size_t                 i, len;
    int64_t                want, got;
    const char            *s;
    const kx_json_node_t  *node;

    for (i = 0; i < n; i++) {
        node = kx_json_obj_get(obj, f[i].key);
        got = *(const int64_t *) ((const char *) base + f[i].off);

        if (node == NULL || kx_json_type(node) == KX_JSON_NULL) {
            check(got == 0);
            continue;
        }

        s = kx_json_str(node, &len);
        check(s != NULL && kx_alpaca_time_parse(s, len, &want) == 0);
        check(got == want);
    }
}


static int
status_index(const char *s, size_t len)
{
    size_t  i;

    for (i = 0; i < fuzz_nelts(alpaca_statuses); i++) {
        if (strlen(alpaca_statuses[i]) == len
            && memcmp(alpaca_statuses[i], s, len) == 0)
        {
            return (int) i;
        }
    }

    return -1;
}


/*
 * An order kx_alpaca_order_parse() accepted from obj; returns 1 if an
 * amount was rounded (the caller checks the flag, which a trade update
 * also sets for its own amounts).
 */
static int
check_order(const kx_json_node_t *obj, const kx_alpaca_order_t *a)
{
    int                  inexact, i;
    size_t               k, n;
    const char          *s;
    kx_side_e            side;
    kx_tif_e             tif;
    kx_order_type_e      type;
    kx_order_status_e    st;
    static const size_t  sizes[] = {
        sizeof(a->id), sizeof(a->client_order_id), sizeof(a->symbol),
        sizeof(a->status_name)
    };

    check(kx_json_type(obj) == KX_JSON_OBJECT);

    for (k = 0; k < fuzz_nelts(order_texts); k++) {
        check_text(obj, order_texts[k].key,
                   (const char *) a + order_texts[k].off, sizes[k]);
    }

    check(a->id[0] != '\0');

    inexact = 0;
    check_amounts(obj, a, order_amounts, fuzz_nelts(order_amounts),
                  &inexact);
    check(a->filled_qty.v >= 0);

    check_times(obj, a, order_times, fuzz_nelts(order_times));

    /* the status, by the table of the header */
    i = status_index(a->status_name, strlen(a->status_name));
    check(i >= 0);
    check(kx_alpaca_status_map(a->status_name, strlen(a->status_name),
                               a->filled_qty, &st) == 0);
    check(st == a->status);

    if (i < FUZZ_WORKING_STATUSES) {
        check(st == (a->filled_qty.v > 0 ? KX_ORDER_PARTIALLY_FILLED
                                         : KX_ORDER_ACCEPTED));
    }

    /* side, type and time in force: ours by name, or the defaults */
    side = KX_SIDE_BUY;
    s = trimmed(obj, "side", &n);
    check(n == 0 || kx_side_parse(s, n, &side) == 0);
    check(a->side == side);

    type = KX_ORDER_MARKET;
    s = trimmed(obj, "type", &n);
    check(n == 0 || kx_order_type_parse(s, n, &type) == 0);
    check(a->type == type);

    tif = KX_TIF_DAY;
    s = trimmed(obj, "time_in_force", &n);
    check(n == 0 || kx_tif_parse(s, n, &tif) == 0);
    check(a->tif == tif);

    return inexact;
}


/*
 * kx_alpaca_order_apply() on o: refused with o untouched, or o brought
 * to Alpaca's status and fill, the fill priced so that what was paid
 * adds up to within half a unit of the last place per share.
 */
static void
check_apply(kx_order_t *o, const kx_alpaca_order_t *a, int64_t now)
{
    int                 rc;
    i128                before, after, fill, diff;
    kx_order_t          saved;
    kx_alpaca_change_t  ch;

    saved = *o;
    rc = kx_alpaca_order_apply(o, a, now, &ch);

    check(ch.from == saved.status);

    if (rc != KX_ALPACA_OK) {
        check(rc == KX_ALPACA_ESTATE);
        check(memcmp(o, &saved, sizeof(kx_order_t)) == 0);
        check(!ch.changed);
        return;
    }

    check(o->status == a->status && ch.to == a->status);
    check(ch.changed == (ch.fill_qty.v > 0 || ch.to != ch.from));
    check(ch.to == ch.from || kx_order_transition_ok(ch.from, ch.to));
    check(ch.to == ch.from || !kx_order_status_is_final(ch.from));

    if (kx_dec_cmp(a->filled_qty, saved.filled_qty) > 0) {
        check(o->filled_qty.v == a->filled_qty.v);
        check(o->filled_avg_price.v == a->filled_avg_price.v);
        check(ch.fill_qty.v == a->filled_qty.v - saved.filled_qty.v);
        check(ch.fill_price.v > 0);

        before = (i128) saved.filled_qty.v * saved.filled_avg_price.v;
        after = (i128) a->filled_qty.v * a->filled_avg_price.v;
        fill = (i128) ch.fill_qty.v * ch.fill_price.v;
        diff = before + fill - after;

        if (diff < 0) {
            diff = -diff;
        }

        check(2 * diff <= ch.fill_qty.v);

    } else {
        check(a->filled_qty.v == saved.filled_qty.v);
        check(o->filled_qty.v == saved.filled_qty.v
              && o->filled_avg_price.v == saved.filled_avg_price.v);
        check(ch.fill_qty.v == 0);
    }

    if (!ch.changed) {
        check(memcmp(o, &saved, sizeof(kx_order_t)) == 0);
    }

    /* the same view again is no news */
    saved = *o;
    rc = kx_alpaca_order_apply(o, a, now + 1, &ch);
    check(rc == KX_ALPACA_OK && !ch.changed);
    check(memcmp(o, &saved, sizeof(kx_order_t)) == 0);
}


/* amounts as sent: a short sent with a positive qty is turned over */
static void
check_position(const kx_json_node_t *obj, const kx_alpaca_position_t *p)
{
    int                    inexact, in;
    char                   side[KX_ALPACA_NAME_MAX + 1];
    size_t                 len;
    int64_t                sent;
    const char            *s;
    const kx_json_node_t  *node;
    kx_alpaca_position_t   q;

    check_text(obj, "symbol", p->symbol, sizeof(p->symbol));
    check(p->symbol[0] != '\0');

    s = trimmed(obj, "side", &len);
    check(len < sizeof(side));
    memcpy(side, s ? s : "", len);
    side[len] = '\0';
    check(len == 0 || strcmp(side, "long") == 0 || strcmp(side, "short") == 0);

    q = *p;

    if (strcmp(side, "short") == 0) {
        node = kx_json_obj_get(obj, "qty");
        s = kx_json_type(node) == KX_JSON_STRING ? kx_json_str(node, &len)
                                                 : kx_json_num_raw(node, &len);
        check(s != NULL && ref_amount(s, len, KX_ROUND_DOWN, &sent, &in) == 0);

        if (sent > 0) {
            q.qty.v = -q.qty.v;
            q.qty_available.v = -q.qty_available.v;
        }
    }

    inexact = 0;
    check_amounts(obj, &q, position_amounts, fuzz_nelts(position_amounts),
                  &inexact);
    check(p->rounded == (unsigned) inexact);
}


static void
check_account(const kx_json_node_t *obj, const kx_alpaca_account_t *acc)
{
    int  inexact, b;

    check_text(obj, "status", acc->status, sizeof(acc->status));
    check_text(obj, "currency", acc->currency, sizeof(acc->currency));

    inexact = 0;
    check_amounts(obj, acc, account_amounts, fuzz_nelts(account_amounts),
                  &inexact);
    check(acc->rounded == (unsigned) inexact);

    check(acc->trading_blocked
          == (kx_json_get_bool(obj, "trading_blocked", &b) == KX_JSON_OK
              && b));
    check(acc->account_blocked
          == (kx_json_get_bool(obj, "account_blocked", &b) == KX_JSON_OK
              && b));
    check(acc->shorting_enabled
          == (kx_json_get_bool(obj, "shorting_enabled", &b) == KX_JSON_OK
              && b));
}


/*
 * A refusal that names an amount or a time obj has: that value must be
 * one to refuse (filled_qty may also be refused for being negative).
 */
static void
check_refusal(const kx_json_node_t *obj, const kx_alpaca_err_t *err,
    const fuzz_amount_t *f, size_t n, const fuzz_field_t *t, size_t nt)
{
    int                    in, leap;
    char                   local[KX_ORDER_TIME_MAX];
    size_t                 i, klen, len;
    int64_t                v, off;
    const char            *s, *why;
    const kx_json_node_t  *node;

    for (i = 0; i < n + nt; i++) {
        s = i < n ? f[i].key : t[i - n].key;
        klen = strlen(s);

        if (strncmp(err->message, s, klen) != 0
            || err->message[klen] != ':')
        {
            continue;
        }

        why = err->message + klen + 2;
        node = kx_json_obj_get(obj, s);

        if (node == NULL || kx_json_type(node) == KX_JSON_NULL) {
            check(strcmp(why, "is required") == 0);
            return;
        }

        s = kx_json_type(node) == KX_JSON_STRING ? kx_json_str(node, &len)
                                                 : kx_json_num_raw(node, &len);

        if (s == NULL) {
            return;
        }

        if (i >= n) {
            check(kx_json_type(node) != KX_JSON_STRING
                  || ref_time(s, len, local, &off, &leap) != 0);
            return;
        }

        if (ref_amount(s, len, f[i].mode, &v, &in) == 0
            && !(strcmp(why, "negative") == 0 && v < 0))
        {
            fprintf(stderr, "%s: \"%.*s\" refused: %s\n", f[i].key,
                    (int) len, s, err->message);
            abort();
        }

        return;
    }
}


/*
 * One object as an order (applied to a fresh order of ours and to the
 * one carried along, *chain), a position and an account.
 */
static void
check_object(const kx_json_node_t *obj, kx_order_t *chain, int *have_chain)
{
    int                    rc;
    kx_order_t             o;
    kx_alpaca_err_t        err;
    kx_alpaca_order_t      a;
    kx_alpaca_account_t    acc;
    kx_alpaca_position_t   p;

    err.message[0] = '\0';
    rc = kx_alpaca_order_parse(obj, &a, &err);

    if (rc != KX_ALPACA_OK) {
        check(rc == KX_ALPACA_EPARSE && err.message[0] != '\0');
        check(memchr(err.message, '\0', sizeof(err.message)) != NULL);
        check_refusal(obj, &err, order_amounts, fuzz_nelts(order_amounts),
                      order_times, fuzz_nelts(order_times));

    } else {
        check(a.rounded == (unsigned) check_order(obj, &a));

        kx_order_init(&o);
        o.quantity.v = a.qty.v > 0 ? a.qty.v : KX_DEC_ONE;
        check_apply(&o, &a, 1);

        if (!*have_chain) {
            kx_order_init(chain);
            chain->quantity = o.quantity;
            *have_chain = 1;
        }

        check_apply(chain, &a, 2);
    }

    err.message[0] = '\0';
    rc = kx_alpaca_position_parse(obj, &p, &err);

    if (rc != KX_ALPACA_OK) {
        check(rc == KX_ALPACA_EPARSE && err.message[0] != '\0');
        check_refusal(obj, &err, position_amounts,
                      fuzz_nelts(position_amounts), NULL, 0);

    } else {
        check_position(obj, &p);
    }

    err.message[0] = '\0';
    rc = kx_alpaca_account_parse(obj, &acc, &err);

    if (rc != KX_ALPACA_OK) {
        check(rc == KX_ALPACA_EPARSE && err.message[0] != '\0');
        check_refusal(obj, &err, account_amounts,
                      fuzz_nelts(account_amounts), NULL, 0);

    } else {
        check_account(obj, &acc);
    }
}


/* the objects of a JSON input, in document order, the first few */
static void
check_tree(const uint8_t *data, size_t size)
{
    int                    have_chain;
    size_t                 i, n, nobj;
    kx_order_t             chain;
    kx_json_doc_t         *doc;
    kx_json_limits_t       lim = { FUZZ_MAX_LEN, 16, 1000 };
    const kx_json_node_t  *stack[64], *node, *c;

    if (kx_json_parse((const char *) data, size, &lim, &doc, NULL)
        != KX_JSON_PE_OK)
    {
        return;
    }

    have_chain = 0;
    nobj = 0;
    n = 0;
    stack[n++] = kx_json_root(doc);

    /* a scalar or array where an object is expected is refused */
    if (kx_json_type(stack[0]) != KX_JSON_OBJECT) {
        check_object(stack[0], &chain, &have_chain);
        check(!have_chain);
    }

    while (n && nobj < FUZZ_MAX_OBJS) {
        node = stack[--n];

        /* children pushed in reverse, so they come out in order */
        if (kx_json_type(node) == KX_JSON_ARRAY) {
            for (i = kx_json_arr_len(node); i > 0; i--) {
                c = kx_json_arr_at(node, i - 1);

                if (n < fuzz_nelts(stack) && kx_json_type(c) >= KX_JSON_ARRAY)
                {
                    stack[n++] = c;
                }
            }

            continue;
        }

        for (i = kx_json_obj_len(node); i > 0; i--) {
            c = kx_json_obj_at(node, i - 1, NULL, NULL);

            if (n < fuzz_nelts(stack) && kx_json_type(c) >= KX_JSON_ARRAY) {
                stack[n++] = c;
            }
        }

        if (kx_json_type(node) == KX_JSON_OBJECT) {
            nobj++;
            check_object(node, &chain, &have_chain);
        }
    }

    kx_json_free(doc);
}


static int
text_is(const kx_json_node_t *obj, const char *key, const char *want)
{
    size_t       n;
    const char  *s;

    s = trimmed(obj, key, &n);

    return s && n == strlen(want) && memcmp(s, want, n) == 0;
}


/* the input as one frame of the trade_updates stream */
static void
check_msg(const uint8_t *data, size_t size)
{
    int                    rc, rc2, inexact;
    size_t                 i, n;
    const char            *s;
    kx_order_t             o;
    kx_json_doc_t         *doc;
    kx_alpaca_err_t        err, err2;
    kx_alpaca_msg_t        m, m2;
    const kx_json_node_t  *root, *data_node, *streams;
    static const fuzz_field_t  msg_times[] = {
        { "timestamp", offsetof(kx_alpaca_msg_t, timestamp) }
    };

    err.message[0] = '\0';
    rc = kx_alpaca_msg_parse((const char *) data, size, &m, &err);

    /* the same bytes read the same way */
    err2.message[0] = '\0';
    rc2 = kx_alpaca_msg_parse((const char *) data, size, &m2, &err2);
    check(rc == rc2 && memcmp(&m, &m2, sizeof(m)) == 0);

    if (rc != KX_ALPACA_OK) {
        check(rc == KX_ALPACA_EPARSE && err.message[0] != '\0');
        check(memchr(err.message, '\0', sizeof(err.message)) != NULL);
        check(strcmp(err.message, err2.message) == 0);
        return;
    }

    check(kx_json_parse((const char *) data, size, NULL, &doc, NULL)
          == KX_JSON_PE_OK);

    root = kx_json_root(doc);
    data_node = kx_json_obj_get(root, "data");

    s = trimmed(root, "stream", &n);
    check(s != NULL && n > 0 && n <= KX_ALPACA_NAME_MAX);

    if (m.type != KX_ALPACA_MSG_TRADE_UPDATE) {
        check(m.event[0] == '\0' && m.order.id[0] == '\0'
              && m.price.v == 0 && m.qty.v == 0 && m.timestamp == 0);
    }

    switch (m.type) {

    case KX_ALPACA_MSG_AUTHORIZATION:
        check(text_is(root, "stream", "authorization"));
        check(m.authorized == text_is(data_node, "status", "authorized"));
        check(!m.trade_updates);
        break;

    case KX_ALPACA_MSG_LISTENING:
        check(text_is(root, "stream", "listening"));
        check(!m.authorized);

        streams = kx_json_obj_get(data_node, "streams");
        rc = 0;

        for (i = 0; i < kx_json_arr_len(streams); i++) {
            s = kx_json_str(kx_json_arr_at(streams, i), &n);
            rc |= (s && n == 13 && memcmp(s, "trade_updates", 13) == 0);
        }

        check(m.trade_updates == (unsigned) rc);
        break;

    case KX_ALPACA_MSG_TRADE_UPDATE:
        check(text_is(root, "stream", "trade_updates"));
        check(!m.authorized && !m.trade_updates);

        check_text(data_node, "event", m.event, sizeof(m.event));
        check(m.event[0] != '\0');
        check_text(data_node, "execution_id", m.execution_id,
                   sizeof(m.execution_id));
        check_times(data_node, &m, msg_times, fuzz_nelts(msg_times));

        inexact = 0;
        check_amounts(data_node, &m, msg_amounts, fuzz_nelts(msg_amounts),
                      &inexact);
        inexact |= check_order(kx_json_obj_get(data_node, "order"),
                               &m.order);
        check(m.order.rounded == (unsigned) inexact);

        if (strcmp(m.event, "fill") == 0
            || strcmp(m.event, "partial_fill") == 0)
        {
            check(m.qty.v > 0 && m.price.v > 0);
        }

        kx_order_init(&o);
        o.quantity.v = KX_DEC_ONE;
        o.status = KX_ORDER_ACCEPTED;
        check_apply(&o, &m.order, 3);
        break;

    default:
        check(m.type == KX_ALPACA_MSG_OTHER);
        check(!text_is(root, "stream", "authorization")
              && !text_is(root, "stream", "listening")
              && !text_is(root, "stream", "trade_updates"));
        check(!m.authorized && !m.trade_updates);
    }

    kx_json_free(doc);
}


static int
ref_digits(const char *s, size_t n, int *out)
{
    size_t  i;

    for (*out = 0, i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }

        *out = *out * 10 + (s[i] - '0');
    }

    return 0;
}


/*
 * RFC 3339 (5.6), a space allowed for the T, read here apart from the
 * code under test: 0 with the local time as kx_order_time_format()
 * writes it (microseconds; a leap second as :59) and the offset, or -1.
 */
static int
ref_time(const char *s, size_t len, char *local, int64_t *off, int *leap)
{
    int             y, mo, d, h, mi, sec, oh, om, dim;
    size_t          i, k;
    static const int  days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30,
                                 31 };

    if (len < 20 || s[4] != '-' || s[7] != '-'
        || (s[10] != 'T' && s[10] != 't' && s[10] != ' ')
        || s[13] != ':' || s[16] != ':'
        || ref_digits(s, 4, &y) || ref_digits(s + 5, 2, &mo)
        || ref_digits(s + 8, 2, &d) || ref_digits(s + 11, 2, &h)
        || ref_digits(s + 14, 2, &mi) || ref_digits(s + 17, 2, &sec))
    {
        return -1;
    }

    if (mo < 1 || mo > 12) {
        return -1;
    }

    dim = days[mo - 1]
          + (mo == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0));

    if (d < 1 || d > dim || h > 23 || mi > 59 || sec > 60) {
        return -1;
    }

    memcpy(local, s, 19);
    local[10] = 'T';
    local[19] = '.';
    memset(local + 20, '0', 6);
    local[26] = 'Z';
    *leap = (sec == 60);

    if (*leap) {
        local[17] = '5';
        local[18] = '9';
    }

    i = 19;

    if (s[i] == '.') {
        for (i++, k = 0; i < len && s[i] >= '0' && s[i] <= '9'; i++, k++) {
            if (k < 6) {
                local[20 + k] = s[i];
            }
        }

        if (k == 0) {
            return -1;
        }
    }

    if (i + 1 == len && (s[i] == 'Z' || s[i] == 'z')) {
        *off = 0;
        return 0;
    }

    if (i + 6 == len && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':'
        && ref_digits(s + i + 1, 2, &oh) == 0
        && ref_digits(s + i + 4, 2, &om) == 0 && oh < 24 && om < 60)
    {
        *off = (s[i] == '-' ? -1 : 1) * (oh * 60 + om) * 60;
        return 0;
    }

    return -1;
}


static void
check_time(const uint8_t *data, size_t size)
{
    int          rc, leap;
    char         local[KX_ORDER_TIME_MAX], buf[KX_ORDER_TIME_MAX + 1];
    size_t       n;
    int64_t      us, us2, off;
    const char  *s;

    s = (const char *) data;
    rc = kx_alpaca_time_parse(s, size, &us);

    if (rc != 0) {
        check(rc == -1);
        check(ref_time(s, size, local, &off, &leap) != 0);
        return;
    }

    if (ref_time(s, size, local, &off, &leap) != 0) {
        fprintf(stderr, "time \"%.*s\" accepted as %lld\n", (int) size, s,
                (long long) us);
        abort();
    }

    /* the local time it names, written back */
    n = kx_order_time_format(us + off * 1000000 - leap * 1000000, buf,
                             sizeof(buf));

    if (n != 27 || memcmp(buf, local, 27) != 0) {
        fprintf(stderr, "time \"%.*s\" read as %lld, written \"%s\"\n",
                (int) size, s, (long long) us, buf);
        abort();
    }

    /* and what the writer makes of it reads back the same */
    n = kx_order_time_format(us, buf, sizeof(buf));

    if (n) {
        check(n == 27 && strlen(buf) == n);
        check(kx_alpaca_time_parse(buf, n, &us2) == 0 && us2 == us);
    }
}


static void
check_status(const uint8_t *data, size_t size)
{
    int                 rc, i;
    kx_dec_t            filled;
    kx_order_status_e   st, want;
    static const kx_order_status_e  final[] = {
        KX_ORDER_PARTIALLY_FILLED, KX_ORDER_FILLED, KX_ORDER_CANCELED,
        KX_ORDER_CANCELED, KX_ORDER_EXPIRED, KX_ORDER_REJECTED
    };

    i = status_index((const char *) data, size);

    for (filled.v = 0; filled.v <= 1; filled.v++) {
        st = KX_ORDER_STATUS_COUNT;
        rc = kx_alpaca_status_map((const char *) data, size, filled, &st);

        if (i < 0) {
            check(rc == -1 && st == KX_ORDER_STATUS_COUNT);
            continue;
        }

        if (i < FUZZ_WORKING_STATUSES) {
            want = filled.v ? KX_ORDER_PARTIALLY_FILLED : KX_ORDER_ACCEPTED;

        } else {
            want = final[i - FUZZ_WORKING_STATUSES];
        }

        check(rc == 0 && st == want);
    }
}


/* the input as an error answer: two bytes of status, then the body */
static void
check_error(const uint8_t *data, size_t size)
{
    int                    call, have_code;
    size_t                 n;
    int64_t                code;
    unsigned               status;
    const char            *body, *msg;
    kx_json_doc_t         *doc;
    kx_alpaca_error_t      e;
    const kx_json_node_t  *root;

    if (size < 2) {
        return;
    }

    status = 300 + ((unsigned) data[0] << 8 | data[1]) % 300;
    body = (const char *) data + 2;
    size -= 2;

    msg = NULL;
    n = 0;
    have_code = 0;
    code = 0;
    doc = NULL;

    if (kx_json_parse(body, size, NULL, &doc, NULL) == KX_JSON_PE_OK) {
        root = kx_json_root(doc);
        have_code = kx_json_get_int64(root, "code", &code) == KX_JSON_OK;

        if (kx_json_get_str(root, "message", &msg, &n) != KX_JSON_OK
            || n == 0 || memchr(msg, '\0', n) != NULL)
        {
            msg = NULL;
        }
    }

    for (call = KX_ALPACA_CALL_SUBMIT; call <= KX_ALPACA_CALL_GET; call++) {
        kx_alpaca_error_map((kx_alpaca_call_e) call, status, body, size, &e);

        check((unsigned) e.err < KX_ERR_COUNT);
        check(kx_error_status(e.err) >= 400);
        check(memchr(e.message, '\0', sizeof(e.message)) != NULL);
        check(e.message[0] != '\0');
        check(e.rejected + e.duplicate + e.not_found <= 1);
        check(!(e.rejected || e.duplicate)
              || call == KX_ALPACA_CALL_SUBMIT);
        check(!e.not_found || call != KX_ALPACA_CALL_SUBMIT);
        check(!e.retryable || !(e.rejected || e.duplicate));
        check(e.code == (have_code ? code : 0));

        if (msg) {
            n = n < sizeof(e.message) - 1 ? n : sizeof(e.message) - 1;
            check(strlen(e.message) == n && memcmp(e.message, msg, n) == 0);
        }
    }

    kx_json_free(doc);
}


/* the frames we send, with the input as key and secret */
static void
check_frames(const uint8_t *data, size_t size)
{
    char                  *key;
    size_t                 half, len, n;
    kx_jw_t                w;
    const char            *out, *s;
    kx_json_doc_t         *doc;
    const kx_json_node_t  *d;

    /* NUL-terminated strings: the input up to a NUL, in two halves */
    key = malloc(size + 2);
    check(key != NULL);
    memcpy(key, data, size);
    key[size] = '\0';
    len = strlen(key);
    half = len / 2;
    memmove(key + half + 1, key + half, len - half + 1);
    key[half] = '\0';

    kx_jw_init(&w);
    kx_alpaca_stream_auth(&w, key, key + half + 1);
    check(kx_jw_finish(&w, &out, &len) == KX_JW_OK);
    check(kx_json_parse(out, len, NULL, &doc, NULL) == KX_JSON_PE_OK);

    d = kx_json_obj_get(kx_json_root(doc), "data");
    check(text_is(kx_json_root(doc), "action", "authenticate"));

    /* what is valid UTF-8 goes as it is */
    s = kx_json_str(kx_json_obj_get(d, "key_id"), &n);
    check(s != NULL);
    check(kx_utf8_validate(key, half) != half
          || (n == half && memcmp(s, key, n) == 0));

    kx_json_free(doc);
    kx_jw_free(&w);
    free(key);

    kx_jw_init(&w);
    kx_alpaca_stream_listen(&w);
    check(kx_jw_finish(&w, &out, &len) == KX_JW_OK);
    check(kx_json_parse(out, len, NULL, &doc, NULL) == KX_JSON_PE_OK);
    kx_json_free(doc);
    kx_jw_free(&w);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > FUZZ_MAX_LEN) {
        return 0;
    }

    check_msg(data, size);
    check_tree(data, size);
    check_time(data, size);
    check_status(data, size);
    check_error(data, size);
    check_frames(data, size);

    return 0;
}
