
/*
 * Copyright (C) Kianax
 */


#include <string.h>

#include "kx_enrich.h"


/* one position at its price */
typedef struct {
    const kx_json_node_t  *quote;   /* NULL: no usable quote */
    kx_dec_t               price;
    kx_dec_t               mv;      /* market value */
    kx_dec_t               upl;     /* unrealized P&L */
} kx_enrich_val_t;


static int kx_enrich_added(const char *key, size_t len,
    const kx_enrich_val_t *val);
static int kx_enrich_is(const char *key, size_t len, const char *name);
static void kx_enrich_money(kx_jw_t *w, kx_dec_t d);
static int kx_enrich_value(const kx_json_node_t *pos,
    const kx_json_node_t *quote, kx_enrich_val_t *val);
static void kx_enrich_position(kx_jw_t *w, const kx_json_node_t *pos,
    kx_enrich_val_t *val);


/* the fields a live quote adds to its position, under their own names */
static const char  *kx_enrich_from_quote[] = {
    "bid", "ask", "change_percent"
};


const kx_json_node_t *
kx_enrich_positions(const kx_json_node_t *portfolio, size_t *n)
{
    const kx_json_node_t  *positions;

    positions = kx_json_obj_get(portfolio, "positions");

    if (kx_json_type(positions) != KX_JSON_ARRAY) {
        *n = 0;
        return NULL;
    }

    *n = kx_json_arr_len(positions);

    return positions;
}


const char *
kx_enrich_symbol(const kx_json_node_t *positions, size_t i, size_t *len)
{
    const char  *s;

    if (kx_json_get_str(kx_json_arr_at(positions, i), "symbol", &s, len)
        != KX_JSON_OK
        || *len == 0)
    {
        return NULL;
    }

    return s;
}


int
kx_enrich_write(kx_jw_t *w, const kx_json_node_t *portfolio,
    const kx_json_node_t *const *quotes)
{
    int                    rc;
    size_t                 i, n, klen;
    kx_dec_t               cash, value, upl, total;
    const char            *key;
    kx_enrich_val_t        val;
    const kx_json_node_t  *positions, *v;

    if (kx_json_type(portfolio) != KX_JSON_OBJECT
        || kx_json_get_dec(portfolio, "cash_balance", 8, &cash)
           != KX_JSON_OK)
    {
        return KX_ENRICH_EINVAL;
    }

    positions = kx_enrich_positions(portfolio, &n);
    if (positions == NULL) {
        return KX_ENRICH_EINVAL;
    }

    /* totals first: nothing is written unless every position values */

    value.v = 0;
    upl.v = 0;

    for (i = 0; i < n; i++) {
        rc = kx_enrich_value(kx_json_arr_at(positions, i), quotes[i], &val);
        if (rc != KX_ENRICH_OK) {
            return rc;
        }

        if (kx_dec_add(value, val.mv, &value) != KX_DEC_OK
            || kx_dec_add(upl, val.upl, &upl) != KX_DEC_OK)
        {
            return KX_ENRICH_ERANGE;
        }
    }

    if (kx_dec_add(cash, value, &total) != KX_DEC_OK) {
        return KX_ENRICH_ERANGE;
    }

    kx_jw_obj_begin(w);

    for (i = 0; i < kx_json_obj_len(portfolio); i++) {
        v = kx_json_obj_at(portfolio, i, &key, &klen);

        if (kx_enrich_is(key, klen, "positions")
            || kx_enrich_is(key, klen, "positions_value")
            || kx_enrich_is(key, klen, "unrealized_pl")
            || kx_enrich_is(key, klen, "total_value"))
        {
            continue;
        }

        kx_jw_keyn(w, key, klen);
        kx_jw_node(w, v);
    }

    kx_jw_key(w, "positions_value");
    kx_enrich_money(w, value);
    kx_jw_key(w, "unrealized_pl");
    kx_enrich_money(w, upl);
    kx_jw_key(w, "total_value");
    kx_enrich_money(w, total);

    kx_jw_key(w, "positions");
    kx_jw_arr_begin(w);

    for (i = 0; i < n; i++) {
        v = kx_json_arr_at(positions, i);
        (void) kx_enrich_value(v, quotes[i], &val);
        kx_enrich_position(w, v, &val);
    }

    kx_jw_arr_end(w);
    kx_jw_obj_end(w);

    return KX_ENRICH_OK;
}


static int
kx_enrich_value(const kx_json_node_t *pos, const kx_json_node_t *quote,
    kx_enrich_val_t *val)
{
    kx_dec_t  qty, avg, cost;

    if (kx_json_type(pos) != KX_JSON_OBJECT
        || kx_json_get_dec(pos, "quantity", 8, &qty) != KX_JSON_OK
        || kx_json_get_dec(pos, "avg_cost", 8, &avg) != KX_JSON_OK)
    {
        return KX_ENRICH_EINVAL;
    }

    /* the live price; else what trading last knew; else cost */

    val->quote = quote;

    if (quote == NULL
        || kx_json_get_dec(quote, "price", 8, &val->price) != KX_JSON_OK)
    {
        val->quote = NULL;

        if (kx_json_get_dec(pos, "current_price", 8, &val->price)
            != KX_JSON_OK)
        {
            val->price = avg;
        }
    }

    if (kx_dec_mul(qty, val->price, KX_ROUND_HALF_EVEN, &val->mv)
        != KX_DEC_OK
        || kx_dec_mul(qty, avg, KX_ROUND_HALF_EVEN, &cost) != KX_DEC_OK
        || kx_dec_sub(val->mv, cost, &val->upl) != KX_DEC_OK)
    {
        return KX_ENRICH_ERANGE;
    }

    return KX_ENRICH_OK;
}


static void
kx_enrich_position(kx_jw_t *w, const kx_json_node_t *pos,
    kx_enrich_val_t *val)
{
    size_t                 i, klen;
    const char            *key;
    const kx_json_node_t  *v;

    kx_jw_obj_begin(w);

    for (i = 0; i < kx_json_obj_len(pos); i++) {
        v = kx_json_obj_at(pos, i, &key, &klen);

        if (kx_enrich_added(key, klen, val)) {
            continue;
        }

        kx_jw_keyn(w, key, klen);
        kx_jw_node(w, v);
    }

    kx_jw_key(w, "current_price");
    kx_enrich_money(w, val->price);
    kx_jw_key(w, "market_value");
    kx_enrich_money(w, val->mv);
    kx_jw_key(w, "unrealized_pl");
    kx_enrich_money(w, val->upl);

    if (val->quote) {
        for (i = 0; i < sizeof(kx_enrich_from_quote)
                        / sizeof(kx_enrich_from_quote[0]); i++)
        {
            v = kx_json_obj_get(val->quote, kx_enrich_from_quote[i]);
            if (v) {
                kx_jw_key(w, kx_enrich_from_quote[i]);
                kx_jw_node(w, v);
            }
        }

        v = kx_json_obj_get(val->quote, "timestamp");
        if (v) {
            kx_jw_key(w, "quote_timestamp");
            kx_jw_node(w, v);
        }
    }

    kx_jw_key(w, "quote_status");
    kx_jw_str(w, val->quote ? "live" : "unavailable");

    kx_jw_obj_end(w);
}


/*
 * Whether the position's own key is one written below: passed through
 * too, it would come out twice, and JSON readers differ on which counts.
 */
static int
kx_enrich_added(const char *key, size_t len, const kx_enrich_val_t *val)
{
    size_t  i;

    if (kx_enrich_is(key, len, "current_price")
        || kx_enrich_is(key, len, "market_value")
        || kx_enrich_is(key, len, "unrealized_pl")
        || kx_enrich_is(key, len, "quote_status"))
    {
        return 1;
    }

    if (val->quote == NULL) {
        return 0;
    }

    for (i = 0; i < sizeof(kx_enrich_from_quote)
                    / sizeof(kx_enrich_from_quote[0]); i++)
    {
        if (kx_enrich_is(key, len, kx_enrich_from_quote[i])) {
            return kx_json_obj_get(val->quote, kx_enrich_from_quote[i])
                   != NULL;
        }
    }

    return kx_enrich_is(key, len, "quote_timestamp")
           && kx_json_obj_get(val->quote, "timestamp") != NULL;
}


static int
kx_enrich_is(const char *key, size_t len, const char *name)
{
    return len == strlen(name) && memcmp(key, name, len) == 0;
}


/* exact, as a string, with at least 2 places: "150.5" -> "150.50" */
static void
kx_enrich_money(kx_jw_t *w, kx_dec_t d)
{
    size_t  n, dot;
    char    buf[KX_DEC_FMT_MAX + 4];

    n = kx_dec_format_min(d, buf, sizeof(buf) - 3);

    for (dot = 0; dot < n && buf[dot] != '.'; dot++) { /* void */ }

    if (dot == n) {
        buf[n++] = '.';
    }

    while (n - dot < 3) {
        buf[n++] = '0';
    }

    kx_jw_strn(w, buf, n);
}
