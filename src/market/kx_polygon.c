
/*
 * Copyright (C) Kianax
 */


#include <stdio.h>
#include <string.h>

#include "kx_polygon.h"
#include "kx_sim_hours.h"


#define KX_POLYGON_NS_PER_MS  INT64_C(1000000)


typedef struct {
    kx_polygon_quote_pt   handler;
    void                 *data;
} kx_polygon_walk_t;


static int kx_polygon_dec(const kx_json_node_t *node, kx_dec_t *out);
static int kx_polygon_int(const kx_json_node_t *node, int64_t *out);
static int kx_polygon_price(const kx_json_node_t *obj, const char *key,
    kx_dec_t *out, unsigned *has);
static int kx_polygon_ticker(const kx_json_node_t *t,
    kx_polygon_quote_t *q);
static int kx_polygon_iso_ms(const char *s, size_t len, int64_t *out);


static const char  kx_polygon_hex[] = "0123456789ABCDEF";


/* what did not fit is not half-written: the buffer gets "" */
static size_t
kx_polygon_fit(char *buf, size_t size, int n)
{
    if (n < 0) {
        n = 0;
    }

    if ((size_t) n >= size && size) {
        buf[0] = '\0';
    }

    return (size_t) n;
}


int
kx_polygon_symbol_valid(const char *sym, size_t len)
{
    size_t  i;

    if (len == 0 || len > KX_POLYGON_SYM_MAX) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (!((sym[i] >= 'A' && sym[i] <= 'Z')
              || (sym[i] >= '0' && sym[i] <= '9') || sym[i] == '.'))
        {
            return 0;
        }
    }

    return 1;
}


int
kx_polygon_timeframe(const char *tf, size_t len, unsigned *mult,
    const char **timespan, int64_t *ms)
{
    static const struct {
        const char  *name;
        unsigned     mult;
        const char  *timespan;
        int64_t      ms;
    } map[] = {
        { "1m", 1, "minute", KX_MS_PER_MINUTE },
        { "5m", 5, "minute", 5 * KX_MS_PER_MINUTE },
        { "15m", 15, "minute", 15 * KX_MS_PER_MINUTE },
        { "1h", 1, "hour", KX_MS_PER_HOUR },
        { "1d", 1, "day", KX_MS_PER_DAY }
    };

    size_t  i;

    for (i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        if (strlen(map[i].name) == len && memcmp(map[i].name, tf, len) == 0) {
            *mult = map[i].mult;
            *timespan = map[i].timespan;
            *ms = map[i].ms;
            return KX_POLYGON_OK;
        }
    }

    return KX_POLYGON_EINVAL;
}


size_t
kx_polygon_path_snapshot(char *buf, size_t size, const char *sym)
{
    return kx_polygon_fit(buf, size, snprintf(buf, size,
                   "/v2/snapshot/locale/us/markets/stocks/tickers/%s", sym));
}


size_t
kx_polygon_path_snapshots(char *buf, size_t size, const char *const *syms,
    size_t n)
{
    int     k;
    size_t  i, len;

    k = snprintf(buf, size,
                 "/v2/snapshot/locale/us/markets/stocks/tickers?tickers=");
    len = (size_t) k;

    /* the comma is %2C: a query value keeps to unreserved characters */
    for (i = 0; i < n; i++) {
        k = snprintf(len < size ? buf + len : NULL,
                     len < size ? size - len : 0, "%s%s",
                     i ? "%2C" : "", syms[i]);
        len += (size_t) k;
    }

    if (len >= size && size) {
        buf[0] = '\0';
    }

    return len;
}


size_t
kx_polygon_path_nbbo(char *buf, size_t size, const char *sym)
{
    return kx_polygon_fit(buf, size,
                          snprintf(buf, size, "/v2/last/nbbo/%s", sym));
}


size_t
kx_polygon_path_aggs(char *buf, size_t size, const char *sym, unsigned mult,
    const char *timespan, int64_t from_ms, int64_t to_ms, int descending,
    unsigned limit)
{
    return kx_polygon_fit(buf, size, snprintf(buf, size,
                   "/v2/aggs/ticker/%s/range/%u/%s/%lld/%lld"
                   "?adjusted=true&sort=%s&limit=%u",
                   sym, mult, timespan, (long long) from_ms,
                   (long long) to_ms, descending ? "desc" : "asc", limit));
}


size_t
kx_polygon_path_news(char *buf, size_t size, const char *sym,
    unsigned limit, int64_t before_ms)
{
    int     k;
    char    ts[KX_SIM_TIME_FMT_MAX], *p;
    size_t  i, len;
    char    tmp[KX_POLYGON_PATH_MAX + 128];

    k = snprintf(tmp, sizeof(tmp),
                 "/v2/reference/news?ticker=%s&order=desc&sort=published_utc"
                 "&limit=%u", sym, limit);
    len = (size_t) k;

    if (len < sizeof(tmp) && before_ms > 0
        && kx_sim_time_format(before_ms, ts, sizeof(ts)) != 0)
    {
        k = snprintf(tmp + len, sizeof(tmp) - len, "&published_utc.lt=");
        len += (size_t) k;

        /* ':' is allowed in a query, but encoded it survives any proxy */
        for (i = 0; ts[i] && len + 4 < sizeof(tmp); i++) {
            p = tmp + len;

            if (ts[i] == ':') {
                p[0] = '%';
                p[1] = kx_polygon_hex[':' >> 4];
                p[2] = kx_polygon_hex[':' & 0xf];
                len += 3;

            } else {
                p[0] = ts[i];
                len++;
            }
        }

        tmp[len < sizeof(tmp) ? len : sizeof(tmp) - 1] = '\0';
    }

    if (len < size) {
        memcpy(buf, tmp, len + 1);

    } else if (size) {
        buf[0] = '\0';
    }

    return len;
}


const char *
kx_polygon_next_path(const char *url, size_t url_len, size_t *len)
{
    const char  *p, *end;

    p = url;
    end = url + url_len;

    /* skip "scheme://host[:port]" when present */
    if (url_len > 3) {
        const char  *s;

        for (s = url; s + 2 < end; s++) {
            if (s[0] == ':' && s[1] == '/' && s[2] == '/') {
                p = s + 3;
                while (p < end && *p != '/') {
                    p++;
                }
                break;
            }

            if (*s == '/' || *s == '?') {
                break;
            }
        }
    }

    if (p == end || *p != '/') {
        return NULL;
    }

    *len = (size_t) (end - p);

    return p;
}


/* --- reading values --------------------------------------------------- */


static int
kx_polygon_dec(const kx_json_node_t *node, kx_dec_t *out)
{
    int          rc;
    char         buf[64];
    size_t       len, dot, keep;
    kx_dec_t     unit;
    const char  *s;

    s = kx_json_num_raw(node, &len);
    if (s == NULL) {
        return KX_POLYGON_EVALUE;
    }

    rc = kx_dec_parse(s, len, out);
    if (rc == KX_DEC_OK) {
        return KX_POLYGON_OK;
    }

    if (rc != KX_DEC_EPRECISION || memchr(s, 'e', len) != NULL
        || memchr(s, 'E', len) != NULL)
    {
        return KX_POLYGON_EVALUE;
    }

    /* more than 8 places: cut at 8, round half away from zero */
    dot = (size_t) ((const char *) memchr(s, '.', len) - s);
    keep = dot + 1 + KX_DEC_SCALE;

    if (keep >= len || keep >= sizeof(buf)) {
        return KX_POLYGON_EVALUE;
    }

    memcpy(buf, s, keep);

    if (kx_dec_parse(buf, keep, out) != KX_DEC_OK) {
        return KX_POLYGON_EVALUE;
    }

    if (s[keep] >= '5') {
        /* 92233720368.547758075 rounds up past the largest value */
        unit.v = (s[0] == '-') ? -1 : 1;

        if (kx_dec_add(*out, unit, out) != KX_DEC_OK) {
            return KX_POLYGON_EVALUE;
        }
    }

    return KX_POLYGON_OK;
}


static int
kx_polygon_int(const kx_json_node_t *node, int64_t *out)
{
    kx_dec_t  d;

    if (kx_json_int64(node, out) == KX_JSON_OK) {
        return KX_POLYGON_OK;
    }

    /* a size sent as 100.0 or 1e2 */
    if (kx_polygon_dec(node, &d) != KX_POLYGON_OK
        || kx_dec_to_int(d, KX_ROUND_HALF_EVEN, out) != KX_DEC_OK)
    {
        return KX_POLYGON_EVALUE;
    }

    return KX_POLYGON_OK;
}


/* a price field: absent, null and 0 leave *has clear */
static int
kx_polygon_price(const kx_json_node_t *obj, const char *key, kx_dec_t *out,
    unsigned *has)
{
    kx_dec_t               d;
    const kx_json_node_t  *node;

    *has = 0;
    node = kx_json_obj_get(obj, key);

    switch (kx_json_type(node)) {
    case KX_JSON_NONE:
    case KX_JSON_NULL:
        return KX_POLYGON_OK;
    case KX_JSON_NUMBER:
        break;
    default:
        return KX_POLYGON_EVALUE;
    }

    if (kx_polygon_dec(node, &d) != KX_POLYGON_OK || d.v < 0) {
        return KX_POLYGON_EVALUE;
    }

    if (d.v != 0) {
        *out = d;
        *has = 1;
    }

    return KX_POLYGON_OK;
}


static int
kx_polygon_opt_int(const kx_json_node_t *obj, const char *key, int64_t *out)
{
    const kx_json_node_t  *node;

    node = kx_json_obj_get(obj, key);

    if (kx_json_type(node) == KX_JSON_NONE
        || kx_json_type(node) == KX_JSON_NULL)
    {
        return KX_POLYGON_OK;
    }

    return kx_polygon_int(node, out);
}


static int
kx_polygon_copy_sym(char *dst, const kx_json_node_t *node)
{
    size_t       len;
    const char  *s;

    s = kx_json_str(node, &len);
    if (s == NULL || !kx_polygon_symbol_valid(s, len)) {
        return KX_POLYGON_EVALUE;
    }

    memcpy(dst, s, len);
    dst[len] = '\0';

    return KX_POLYGON_OK;
}


static int
kx_polygon_parse(const char *body, size_t len, kx_json_doc_t **doc)
{
    return kx_json_parse(body, len, NULL, doc, NULL) == KX_JSON_PE_OK
           ? KX_POLYGON_OK : KX_POLYGON_EJSON;
}


/* --- quotes ----------------------------------------------------------- */


void
kx_polygon_quote_finish(kx_polygon_quote_t *q)
{
    __int128  n, r;

    /*
     * What does not fit a kx_dec_t is left absent: the midpoint of two
     * prices near the maximum rounds up past it, and a price over a
     * tiny previous close is a change of more than 92 billion percent.
     */

    if (!q->has_trade) {
        q->has_price = 0;

        if (q->has_bid && q->has_ask) {
            /* the midpoint at 4 places: units of 10^4 raw */
            n = (__int128) q->bid.v + q->ask.v;
            r = kx_i128_div_even(n, 2 * 10000) * 10000;

            if (r <= KX_DEC_MAX_RAW) {
                q->price.v = (int64_t) r;
                q->has_price = 1;
            }
        }
    }

    q->has_change = 0;

    if (q->has_price && q->has_prev_close && q->prev_close.v > 0) {
        /* percent at 2 places: units of 10^6 raw */
        n = ((__int128) q->price.v - q->prev_close.v) * 10000;
        r = kx_i128_div_even(n, q->prev_close.v) * 1000000;

        if (r >= KX_DEC_MIN_RAW && r <= KX_DEC_MAX_RAW) {
            q->change_percent.v = (int64_t) r;
            q->has_change = 1;
        }
    }
}


static int
kx_polygon_ticker(const kx_json_node_t *t, kx_polygon_quote_t *q)
{
    int64_t                tq, tt, upd;
    unsigned               has;
    const kx_json_node_t  *lq, *lt, *day, *prev;

    memset(q, 0, sizeof(kx_polygon_quote_t));

    if (kx_json_type(t) != KX_JSON_OBJECT
        || kx_polygon_copy_sym(q->symbol, kx_json_obj_get(t, "ticker"))
           != KX_POLYGON_OK)
    {
        return KX_POLYGON_EJSON;
    }

    lq = kx_json_obj_get(t, "lastQuote");
    lt = kx_json_obj_get(t, "lastTrade");
    day = kx_json_obj_get(t, "day");
    prev = kx_json_obj_get(t, "prevDay");

    tq = tt = upd = 0;

    if (kx_polygon_price(lq, "p", &q->bid, &has) != KX_POLYGON_OK) {
        return KX_POLYGON_EVALUE;
    }
    q->has_bid = has;

    if (kx_polygon_price(lq, "P", &q->ask, &has) != KX_POLYGON_OK) {
        return KX_POLYGON_EVALUE;
    }
    q->has_ask = has;

    if (kx_polygon_price(lt, "p", &q->price, &has) != KX_POLYGON_OK) {
        return KX_POLYGON_EVALUE;
    }
    q->has_trade = has;
    q->has_price = has;

    if (kx_polygon_price(day, "o", &q->open, &has) != KX_POLYGON_OK) {
        return KX_POLYGON_EVALUE;
    }
    q->has_open = has;

    if (kx_polygon_price(prev, "c", &q->prev_close, &has) != KX_POLYGON_OK) {
        return KX_POLYGON_EVALUE;
    }
    q->has_prev_close = has;

    if (kx_polygon_opt_int(lq, "s", &q->bid_size) != KX_POLYGON_OK
        || kx_polygon_opt_int(lq, "S", &q->ask_size) != KX_POLYGON_OK
        || kx_polygon_opt_int(lq, "t", &tq) != KX_POLYGON_OK
        || kx_polygon_opt_int(lt, "t", &tt) != KX_POLYGON_OK
        || kx_polygon_opt_int(t, "updated", &upd) != KX_POLYGON_OK
        || q->bid_size < 0 || q->ask_size < 0)
    {
        return KX_POLYGON_EVALUE;
    }

    /* SIP times are nanoseconds */
    if (tt > tq) {
        tq = tt;
    }

    if (upd > tq) {
        tq = upd;
    }

    q->time_ms = tq / KX_POLYGON_NS_PER_MS;

    kx_polygon_quote_finish(q);

    return KX_POLYGON_OK;
}


int
kx_polygon_parse_snapshot(const char *body, size_t len,
    kx_polygon_quote_t *q)
{
    int                    rc;
    kx_json_doc_t         *doc;
    const kx_json_node_t  *t;

    if (kx_polygon_parse(body, len, &doc) != KX_POLYGON_OK) {
        return KX_POLYGON_EJSON;
    }

    t = kx_json_obj_get(kx_json_root(doc), "ticker");

    rc = (kx_json_type(t) == KX_JSON_OBJECT) ? kx_polygon_ticker(t, q)
                                             : KX_POLYGON_ENOTFOUND;

    kx_json_free(doc);

    return rc;
}


int
kx_polygon_parse_snapshots(const char *body, size_t len,
    kx_polygon_quote_pt handler, void *data)
{
    int                    rc;
    size_t                 i, n;
    kx_json_doc_t         *doc;
    kx_polygon_quote_t     q;
    const kx_json_node_t  *arr;

    if (kx_polygon_parse(body, len, &doc) != KX_POLYGON_OK) {
        return KX_POLYGON_EJSON;
    }

    arr = kx_json_obj_get(kx_json_root(doc), "tickers");
    rc = KX_POLYGON_OK;

    if (kx_json_type(arr) == KX_JSON_ARRAY) {
        n = kx_json_arr_len(arr);

        for (i = 0; i < n && rc == KX_POLYGON_OK; i++) {
            rc = kx_polygon_ticker(kx_json_arr_at(arr, i), &q);
            if (rc == KX_POLYGON_OK) {
                rc = handler(&q, data);
            }
        }

    } else if (kx_json_type(arr) != KX_JSON_NONE
               && kx_json_type(arr) != KX_JSON_NULL)
    {
        rc = KX_POLYGON_EJSON;
    }

    kx_json_free(doc);

    return rc;
}


int
kx_polygon_parse_nbbo(const char *body, size_t len, const char *sym,
    kx_polygon_quote_t *q)
{
    int                    rc;
    size_t                 slen;
    int64_t                t;
    unsigned               has;
    kx_json_doc_t         *doc;
    const kx_json_node_t  *res;

    memset(q, 0, sizeof(kx_polygon_quote_t));

    slen = strlen(sym);
    if (!kx_polygon_symbol_valid(sym, slen)) {
        return KX_POLYGON_EINVAL;
    }

    memcpy(q->symbol, sym, slen + 1);

    if (kx_polygon_parse(body, len, &doc) != KX_POLYGON_OK) {
        return KX_POLYGON_EJSON;
    }

    res = kx_json_obj_get(kx_json_root(doc), "results");
    rc = KX_POLYGON_OK;
    t = 0;

    if (kx_json_type(res) != KX_JSON_OBJECT) {
        rc = KX_POLYGON_ENOTFOUND;
        goto done;
    }

    if (kx_polygon_price(res, "p", &q->bid, &has) != KX_POLYGON_OK) {
        rc = KX_POLYGON_EVALUE;
        goto done;
    }
    q->has_bid = has;

    if (kx_polygon_price(res, "P", &q->ask, &has) != KX_POLYGON_OK) {
        rc = KX_POLYGON_EVALUE;
        goto done;
    }
    q->has_ask = has;

    if (kx_polygon_opt_int(res, "s", &q->bid_size) != KX_POLYGON_OK
        || kx_polygon_opt_int(res, "S", &q->ask_size) != KX_POLYGON_OK
        || kx_polygon_opt_int(res, "t", &t) != KX_POLYGON_OK
        || q->bid_size < 0 || q->ask_size < 0)
    {
        rc = KX_POLYGON_EVALUE;
        goto done;
    }

    q->time_ms = t / KX_POLYGON_NS_PER_MS;
    kx_polygon_quote_finish(q);

done:

    kx_json_free(doc);

    return rc;
}


/* --- aggregates ------------------------------------------------------- */


static int
kx_polygon_bar(const kx_json_node_t *o, kx_polygon_bar_t *b)
{
    unsigned  has_o, has_h, has_l, has_c, has_vw;
    kx_dec_t  v;

    memset(b, 0, sizeof(kx_polygon_bar_t));

    if (kx_json_type(o) != KX_JSON_OBJECT
        || kx_json_int64(kx_json_obj_get(o, "t"), &b->t) != KX_JSON_OK
        || kx_polygon_price(o, "o", &b->o, &has_o) != KX_POLYGON_OK
        || kx_polygon_price(o, "h", &b->h, &has_h) != KX_POLYGON_OK
        || kx_polygon_price(o, "l", &b->l, &has_l) != KX_POLYGON_OK
        || kx_polygon_price(o, "c", &b->c, &has_c) != KX_POLYGON_OK
        || kx_polygon_price(o, "vw", &b->vw, &has_vw) != KX_POLYGON_OK
        || kx_polygon_opt_int(o, "n", &b->n) != KX_POLYGON_OK
        || b->n < 0)
    {
        return KX_POLYGON_EVALUE;
    }

    if (!(has_o && has_h && has_l && has_c)) {
        return KX_POLYGON_EVALUE;
    }

    /* volume: 70790813 or 7.0790813e+07; fractional once adjusted */
    if (kx_json_type(kx_json_obj_get(o, "v")) == KX_JSON_NUMBER) {
        if (kx_polygon_dec(kx_json_obj_get(o, "v"), &v) != KX_POLYGON_OK
            || v.v < 0
            || kx_dec_to_int(v, KX_ROUND_HALF_EVEN, &b->v) != KX_DEC_OK)
        {
            return KX_POLYGON_EVALUE;
        }
    }

    return KX_POLYGON_OK;
}


int
kx_polygon_parse_aggs(const char *body, size_t len, kx_polygon_bar_t *out,
    size_t max, size_t *n, char *next, size_t next_size)
{
    int                    rc;
    size_t                 i, cnt, ulen;
    kx_json_doc_t         *doc;
    const char            *url;
    const kx_json_node_t  *root, *arr;

    *n = 0;
    if (next_size) {
        next[0] = '\0';
    }

    if (kx_polygon_parse(body, len, &doc) != KX_POLYGON_OK) {
        return KX_POLYGON_EJSON;
    }

    root = kx_json_root(doc);
    rc = KX_POLYGON_OK;

    if (kx_json_type(root) != KX_JSON_OBJECT) {
        rc = KX_POLYGON_EJSON;
        goto done;
    }

    arr = kx_json_obj_get(root, "results");

    if (kx_json_type(arr) == KX_JSON_ARRAY) {
        cnt = kx_json_arr_len(arr);

        for (i = 0; i < cnt && *n < max; i++) {
            rc = kx_polygon_bar(kx_json_arr_at(arr, i), &out[*n]);
            if (rc != KX_POLYGON_OK) {
                goto done;
            }
            (*n)++;
        }

    } else if (kx_json_type(arr) != KX_JSON_NONE
               && kx_json_type(arr) != KX_JSON_NULL)
    {
        rc = KX_POLYGON_EJSON;
        goto done;
    }

    url = kx_json_str(kx_json_obj_get(root, "next_url"), &ulen);

    if (url != NULL && ulen > 0) {
        if (ulen >= next_size) {
            rc = KX_POLYGON_ESPACE;
            goto done;
        }

        memcpy(next, url, ulen);
        next[ulen] = '\0';
    }

done:

    kx_json_free(doc);

    return rc;
}


/* --- news ------------------------------------------------------------- */


/* "2022-04-28T17:08:00Z", "...:00.123Z", "...+00:00" into Unix ms */
static int
kx_polygon_iso_ms(const char *s, size_t len, int64_t *out)
{
    int          i;
    int64_t      f[6], ms, unit, days;
    size_t       p;
    const int    w[6] = { 4, 2, 2, 2, 2, 2 };
    const char   sep[6] = { '-', '-', 'T', ':', ':', 0 };

    p = 0;

    for (i = 0; i < 6; i++) {
        int  k;

        f[i] = 0;
        for (k = 0; k < w[i]; k++, p++) {
            if (p >= len || s[p] < '0' || s[p] > '9') {
                return -1;
            }
            f[i] = f[i] * 10 + (s[p] - '0');
        }

        if (sep[i]) {
            if (p >= len || (s[p] != sep[i] && !(i == 2 && s[p] == ' '))) {
                return -1;
            }
            p++;
        }
    }

    ms = 0;

    if (p < len && s[p] == '.') {
        for (p++, unit = 100; p < len && s[p] >= '0' && s[p] <= '9'; p++) {
            ms += (s[p] - '0') * unit;
            unit /= 10;
        }
    }

    if (!((len - p == 1 && (s[p] == 'Z' || s[p] == 'z'))
          || (len - p == 6 && memcmp(s + p, "+00:00", 6) == 0)))
    {
        return -1;
    }

    if (!kx_date_valid(f[0], f[1], f[2]) || f[3] > 23 || f[4] > 59
        || f[5] > 60)
    {
        return -1;
    }

    days = kx_days_from_civil(f[0], (unsigned) f[1], (unsigned) f[2]);

    *out = days * KX_MS_PER_DAY + f[3] * KX_MS_PER_HOUR
           + f[4] * KX_MS_PER_MINUTE + f[5] * 1000 + ms;

    return 0;
}


static void
kx_polygon_jw_opt_str(kx_jw_t *w, const kx_json_node_t *node)
{
    size_t       len;
    const char  *s;

    s = kx_json_str(node, &len);
    if (s == NULL) {
        kx_jw_null(w);
        return;
    }

    kx_jw_strn(w, s, len);
}


static int
kx_polygon_news_item(kx_jw_t *w, const kx_json_node_t *it, const char *sym)
{
    size_t                 i, n, len, slen;
    int64_t                ms;
    const char            *s, *sent;
    const kx_json_node_t  *ins, *tickers, *node;
    char                   ts[KX_SIM_TIME_FMT_MAX];

    if (kx_json_type(it) != KX_JSON_OBJECT
        || kx_json_str(kx_json_obj_get(it, "id"), &len) == NULL
        || kx_json_str(kx_json_obj_get(it, "title"), &len) == NULL)
    {
        return KX_POLYGON_EVALUE;
    }

    slen = strlen(sym);

    kx_jw_obj_begin(w);
    kx_jw_key(w, "id");
    kx_polygon_jw_opt_str(w, kx_json_obj_get(it, "id"));
    kx_jw_key(w, "symbol");
    kx_jw_str(w, sym);
    kx_jw_key(w, "title");
    kx_polygon_jw_opt_str(w, kx_json_obj_get(it, "title"));
    kx_jw_key(w, "summary");
    kx_polygon_jw_opt_str(w, kx_json_obj_get(it, "description"));
    kx_jw_key(w, "source");
    kx_polygon_jw_opt_str(w,
        kx_json_obj_get(kx_json_obj_get(it, "publisher"), "name"));
    kx_jw_key(w, "author");
    kx_polygon_jw_opt_str(w, kx_json_obj_get(it, "author"));
    kx_jw_key(w, "url");
    kx_polygon_jw_opt_str(w, kx_json_obj_get(it, "article_url"));

    /* one time format across providers: ISO 8601 UTC with milliseconds */
    kx_jw_key(w, "published_at");
    s = kx_json_str(kx_json_obj_get(it, "published_utc"), &len);

    if (s != NULL && kx_polygon_iso_ms(s, len, &ms) == 0
        && kx_sim_time_format(ms, ts, sizeof(ts)) != 0)
    {
        kx_jw_str(w, ts);

    } else {
        kx_polygon_jw_opt_str(w, kx_json_obj_get(it, "published_utc"));
    }

    /* the sentiment Polygon's insights give for this ticker, if any */
    sent = NULL;
    len = 0;
    ins = kx_json_obj_get(it, "insights");
    n = kx_json_arr_len(ins);

    for (i = 0; i < n; i++) {
        node = kx_json_arr_at(ins, i);
        s = kx_json_str(kx_json_obj_get(node, "ticker"), &len);

        if (s != NULL && len == slen && memcmp(s, sym, slen) == 0) {
            sent = kx_json_str(kx_json_obj_get(node, "sentiment"), &len);
            break;
        }
    }

    kx_jw_key(w, "sentiment");
    if (sent != NULL) {
        kx_jw_strn(w, sent, len);
    } else {
        kx_jw_null(w);
    }

    kx_jw_key(w, "tickers");
    kx_jw_arr_begin(w);

    tickers = kx_json_obj_get(it, "tickers");
    n = kx_json_arr_len(tickers);

    for (i = 0; i < n; i++) {
        s = kx_json_str(kx_json_arr_at(tickers, i), &len);
        if (s != NULL) {
            kx_jw_strn(w, s, len);
        }
    }

    kx_jw_arr_end(w);
    kx_jw_obj_end(w);

    return KX_POLYGON_OK;
}


int
kx_polygon_news_json(kx_jw_t *w, const char *body, size_t len,
    const char *sym, size_t max, size_t *n)
{
    int                    rc;
    size_t                 i, cnt;
    kx_json_doc_t         *doc;
    const kx_json_node_t  *arr;

    *n = 0;

    if (kx_polygon_parse(body, len, &doc) != KX_POLYGON_OK) {
        return KX_POLYGON_EJSON;
    }

    arr = kx_json_obj_get(kx_json_root(doc), "results");
    rc = KX_POLYGON_OK;

    if (kx_json_type(kx_json_root(doc)) != KX_JSON_OBJECT
        || (kx_json_type(arr) != KX_JSON_ARRAY
            && kx_json_type(arr) != KX_JSON_NONE
            && kx_json_type(arr) != KX_JSON_NULL))
    {
        rc = KX_POLYGON_EJSON;
        goto done;
    }

    cnt = kx_json_arr_len(arr);

    for (i = 0; i < cnt && *n < max; i++) {
        /* a malformed item is skipped, not the whole page */
        if (kx_polygon_news_item(w, kx_json_arr_at(arr, i), sym)
            == KX_POLYGON_OK)
        {
            (*n)++;
        }
    }

done:

    kx_json_free(doc);

    return rc;
}


/* copies s into dst[size], cut at a UTF-8 character boundary */
static void
kx_polygon_cut(char *dst, size_t size, const char *s, size_t len)
{
    if (s == NULL) {
        dst[0] = '\0';
        return;
    }

    if (len >= size) {
        len = size - 1;

        /* back off over continuation bytes (10xxxxxx) */
        while (len > 0 && ((unsigned char) s[len] & 0xc0) == 0x80) {
            len--;
        }
    }

    memcpy(dst, s, len);
    dst[len] = '\0';
}


int
kx_polygon_news_items(const kx_json_doc_t *doc, const char *sym,
    kx_sim_news_t *out, size_t max, size_t *n)
{
    size_t                 i, j, cnt, len, slen, nins;
    int64_t                ms;
    const char            *s, *sent;
    kx_sim_news_t         *item;
    const kx_json_node_t  *arr, *it, *ins, *node;

    *n = 0;
    arr = kx_json_obj_get(kx_json_root(doc), "results");

    if (kx_json_type(kx_json_root(doc)) != KX_JSON_OBJECT
        || (kx_json_type(arr) != KX_JSON_ARRAY
            && kx_json_type(arr) != KX_JSON_NONE
            && kx_json_type(arr) != KX_JSON_NULL))
    {
        return KX_POLYGON_EJSON;
    }

    slen = strlen(sym);
    cnt = kx_json_arr_len(arr);

    for (i = 0; i < cnt && *n < max; i++) {
        it = kx_json_arr_at(arr, i);

        if (kx_json_str(kx_json_obj_get(it, "id"), &len) == NULL
            || kx_json_str(kx_json_obj_get(it, "title"), &len) == NULL)
        {
            continue;
        }

        item = &out[*n];
        memset(item, 0, sizeof(kx_sim_news_t));

        s = kx_json_str(kx_json_obj_get(it, "id"), &len);
        kx_polygon_cut(item->id, sizeof(item->id), s, len);
        s = kx_json_str(kx_json_obj_get(it, "title"), &len);
        kx_polygon_cut(item->title, sizeof(item->title), s, len);
        s = kx_json_str(kx_json_obj_get(it, "description"), &len);
        kx_polygon_cut(item->summary, sizeof(item->summary), s, len);
        s = kx_json_str(kx_json_obj_get(it, "article_url"), &len);
        kx_polygon_cut(item->url, sizeof(item->url), s, len);

        s = kx_json_str(kx_json_obj_get(kx_json_obj_get(it, "publisher"),
                                        "name"), &len);
        item->source = s ? s : "Polygon";

        s = kx_json_str(kx_json_obj_get(it, "published_utc"), &len);
        item->published_ms = (s && kx_polygon_iso_ms(s, len, &ms) == 0)
                             ? ms : 0;

        item->sentiment = KX_SIM_NEUTRAL;
        ins = kx_json_obj_get(it, "insights");
        nins = kx_json_arr_len(ins);

        for (j = 0; j < nins; j++) {
            node = kx_json_arr_at(ins, j);
            s = kx_json_str(kx_json_obj_get(node, "ticker"), &len);

            if (s == NULL || len != slen || memcmp(s, sym, slen) != 0) {
                continue;
            }

            sent = kx_json_str(kx_json_obj_get(node, "sentiment"), &len);

            if (sent && len == 8 && memcmp(sent, "positive", 8) == 0) {
                item->sentiment = KX_SIM_POSITIVE;

            } else if (sent && len == 8 && memcmp(sent, "negative", 8) == 0) {
                item->sentiment = KX_SIM_NEGATIVE;
            }

            break;
        }

        (*n)++;
    }

    return KX_POLYGON_OK;
}


void
kx_polygon_sim_quote(const kx_polygon_quote_t *q, unsigned sym,
    kx_sim_quote_t *out)
{
    memset(out, 0, sizeof(kx_sim_quote_t));

    out->sym = sym;
    out->price.v = q->has_price ? q->price.v : 0;
    out->bid.v = q->has_bid ? q->bid.v : 0;
    out->ask.v = q->has_ask ? q->ask.v : 0;
    out->bid_size = q->bid_size;
    out->ask_size = q->ask_size;
    out->open.v = q->has_open ? q->open.v : 0;
    out->prev_close.v = q->has_prev_close ? q->prev_close.v : 0;
    out->change_percent.v = q->has_change ? q->change_percent.v : 0;
    out->time_ms = q->time_ms;
}


void
kx_polygon_sim_bar(const kx_polygon_bar_t *b, kx_sim_bar_t *out)
{
    out->t = b->t;
    out->o = b->o;
    out->h = b->h;
    out->l = b->l;
    out->c = b->c;
    out->v = b->v;
}


void
kx_polygon_error_text(const char *body, size_t len, char *buf, size_t size)
{
    size_t                 slen, mlen;
    const char            *st, *msg;
    kx_json_doc_t         *doc;
    const kx_json_node_t  *root;

    if (size == 0) {
        return;
    }

    buf[0] = '\0';

    if (kx_polygon_parse(body, len, &doc) != KX_POLYGON_OK) {
        snprintf(buf, size, "HTTP body of %zu bytes", len);
        return;
    }

    root = kx_json_root(doc);
    st = kx_json_str(kx_json_obj_get(root, "status"), &slen);
    msg = kx_json_str(kx_json_obj_get(root, "error"), &mlen);

    if (msg == NULL) {
        msg = kx_json_str(kx_json_obj_get(root, "message"), &mlen);
    }

    snprintf(buf, size, "%.*s%s%.*s",
             st ? (int) (slen < 64 ? slen : 64) : 0, st ? st : "",
             (st && msg) ? ": " : "",
             msg ? (int) (mlen < 256 ? mlen : 256) : 0, msg ? msg : "");

    kx_json_free(doc);
}


/* --- WebSocket -------------------------------------------------------- */


size_t
kx_polygon_ws_auth(char *buf, size_t size, const char *key, size_t key_len)
{
    int     k;
    size_t  len, elen;

    k = snprintf(buf, size, "{\"action\":\"auth\",\"params\":\"");
    len = (size_t) k;

    elen = kx_json_escape(len < size ? buf + len : NULL,
                          len < size ? size - len : 0, key, key_len);
    len += elen;

    k = snprintf(len < size ? buf + len : NULL, len < size ? size - len : 0,
                 "\"}");
    len += (size_t) k;

    if (len >= size && size) {
        buf[0] = '\0';
    }

    return len;
}


size_t
kx_polygon_ws_subscribe(char *buf, size_t size, const char *const *syms,
    size_t n)
{
    int     k;
    size_t  i, len;

    k = snprintf(buf, size, "{\"action\":\"subscribe\",\"params\":\"");
    len = (size_t) k;

    for (i = 0; i < n; i++) {
        k = snprintf(len < size ? buf + len : NULL,
                     len < size ? size - len : 0, "%sQ.%s,T.%s",
                     i ? "," : "", syms[i], syms[i]);
        len += (size_t) k;
    }

    k = snprintf(len < size ? buf + len : NULL, len < size ? size - len : 0,
                 "\"}");
    len += (size_t) k;

    if (len >= size && size) {
        buf[0] = '\0';
    }

    return len;
}


static int
kx_polygon_ws_event(const kx_json_node_t *o, kx_polygon_event_t *ev)
{
    size_t                 len;
    unsigned               has;
    const char            *type;
    const kx_json_node_t  *sym;

    memset(ev, 0, sizeof(kx_polygon_event_t));

    type = kx_json_str(kx_json_obj_get(o, "ev"), &len);
    if (type == NULL) {
        return KX_POLYGON_EVALUE;
    }

    if (len == 6 && memcmp(type, "status", 6) == 0) {
        ev->type = KX_POLYGON_EV_STATUS;
        ev->status = kx_json_str(kx_json_obj_get(o, "status"),
                                 &ev->status_len);
        ev->message = kx_json_str(kx_json_obj_get(o, "message"),
                                  &ev->message_len);
        if (ev->status == NULL) {
            ev->status = "";
        }
        if (ev->message == NULL) {
            ev->message = "";
        }
        return KX_POLYGON_OK;
    }

    if (len != 1 || (type[0] != 'Q' && type[0] != 'T')) {
        ev->type = KX_POLYGON_EV_OTHER;
        return KX_POLYGON_OK;
    }

    sym = kx_json_obj_get(o, "sym");

    if (kx_polygon_copy_sym(ev->symbol, sym) != KX_POLYGON_OK
        || kx_json_int64(kx_json_obj_get(o, "t"), &ev->time_ms)
           != KX_JSON_OK)
    {
        return KX_POLYGON_EVALUE;
    }

    if (type[0] == 'Q') {
        ev->type = KX_POLYGON_EV_QUOTE;

        if (kx_polygon_price(o, "bp", &ev->bid, &has) != KX_POLYGON_OK
            || kx_polygon_price(o, "ap", &ev->ask, &has) != KX_POLYGON_OK
            || kx_polygon_opt_int(o, "bs", &ev->bid_size) != KX_POLYGON_OK
            || kx_polygon_opt_int(o, "as", &ev->ask_size) != KX_POLYGON_OK
            || ev->bid_size < 0 || ev->ask_size < 0)
        {
            return KX_POLYGON_EVALUE;
        }

        return KX_POLYGON_OK;
    }

    ev->type = KX_POLYGON_EV_TRADE;

    if (kx_polygon_price(o, "p", &ev->price, &has) != KX_POLYGON_OK
        || !has
        || kx_polygon_opt_int(o, "s", &ev->size) != KX_POLYGON_OK
        || ev->size < 0)
    {
        return KX_POLYGON_EVALUE;
    }

    return KX_POLYGON_OK;
}


int
kx_polygon_ws_events(const char *msg, size_t len,
    kx_polygon_event_pt handler, void *data)
{
    int                    rc, bad;
    size_t                 i, n;
    kx_json_doc_t         *doc;
    kx_polygon_event_t     ev;
    const kx_json_node_t  *root, *o;

    if (kx_polygon_parse(msg, len, &doc) != KX_POLYGON_OK) {
        return KX_POLYGON_EJSON;
    }

    root = kx_json_root(doc);
    rc = KX_POLYGON_OK;
    bad = 0;

    /* Polygon sends arrays; a lone object is read as an array of one */
    if (kx_json_type(root) == KX_JSON_OBJECT) {
        n = 1;

    } else if (kx_json_type(root) == KX_JSON_ARRAY) {
        n = kx_json_arr_len(root);

    } else {
        kx_json_free(doc);
        return KX_POLYGON_EJSON;
    }

    for (i = 0; i < n; i++) {
        o = (kx_json_type(root) == KX_JSON_OBJECT) ? root
                                                  : kx_json_arr_at(root, i);

        /* one bad event does not hide the good ones around it */
        if (kx_json_type(o) != KX_JSON_OBJECT
            || kx_polygon_ws_event(o, &ev) != KX_POLYGON_OK)
        {
            bad = 1;
            continue;
        }

        rc = handler(&ev, data);
        if (rc != 0) {
            break;
        }
    }

    kx_json_free(doc);

    if (rc == 0 && bad) {
        rc = KX_POLYGON_EVALUE;
    }

    return rc;
}


int
kx_polygon_quote_apply(kx_polygon_quote_t *q, const kx_polygon_event_t *ev)
{
    kx_polygon_quote_t  old;

    if (strcmp(q->symbol, ev->symbol) != 0) {
        return 0;
    }

    old = *q;

    switch (ev->type) {

    case KX_POLYGON_EV_QUOTE:
        q->has_bid = (ev->bid.v > 0);
        q->bid.v = ev->bid.v;
        q->has_ask = (ev->ask.v > 0);
        q->ask.v = ev->ask.v;
        q->bid_size = ev->bid_size;
        q->ask_size = ev->ask_size;
        break;

    case KX_POLYGON_EV_TRADE:
        q->price = ev->price;
        q->has_trade = 1;
        q->has_price = 1;
        break;

    default:
        return 0;
    }

    if (ev->time_ms > q->time_ms) {
        q->time_ms = ev->time_ms;
    }

    kx_polygon_quote_finish(q);

    return memcmp(&old, q, sizeof(kx_polygon_quote_t)) != 0;
}


/* --- our shapes ------------------------------------------------------- */


void
kx_polygon_jw_price(kx_jw_t *w, kx_dec_t d)
{
    int64_t   v;
    unsigned  places;

    /* the fewest places that show every digit, and at least 2 */
    v = d.v < 0 ? -d.v : d.v;
    places = KX_DEC_SCALE;

    while (places > 2 && v % 10 == 0) {
        v /= 10;
        places--;
    }

    kx_jw_dec_str(w, d, places);
}


static void
kx_polygon_jw_opt_price(kx_jw_t *w, kx_dec_t d, unsigned has)
{
    if (has) {
        kx_polygon_jw_price(w, d);
    } else {
        kx_jw_null(w);
    }
}


void
kx_polygon_quote_json(kx_jw_t *w, const kx_polygon_quote_t *q)
{
    char  ts[KX_SIM_TIME_FMT_MAX];

    kx_jw_obj_begin(w);
    kx_jw_key(w, "symbol");
    kx_jw_str(w, q->symbol);
    kx_jw_key(w, "price");
    kx_polygon_jw_opt_price(w, q->price, q->has_price);
    kx_jw_key(w, "bid");
    kx_polygon_jw_opt_price(w, q->bid, q->has_bid);
    kx_jw_key(w, "ask");
    kx_polygon_jw_opt_price(w, q->ask, q->has_ask);
    kx_jw_key(w, "bid_size");
    kx_jw_int(w, q->bid_size);
    kx_jw_key(w, "ask_size");
    kx_jw_int(w, q->ask_size);
    kx_jw_key(w, "open");
    kx_polygon_jw_opt_price(w, q->open, q->has_open);
    kx_jw_key(w, "prev_close");
    kx_polygon_jw_opt_price(w, q->prev_close, q->has_prev_close);
    kx_jw_key(w, "change_percent");

    if (q->has_change) {
        kx_jw_dec_str(w, q->change_percent, 2);
    } else {
        kx_jw_null(w);
    }

    kx_jw_key(w, "timestamp");

    if (q->time_ms > 0 && kx_sim_time_format(q->time_ms, ts, sizeof(ts))) {
        kx_jw_str(w, ts);
    } else {
        kx_jw_null(w);
    }

    kx_jw_obj_end(w);
}


void
kx_polygon_bar_json(kx_jw_t *w, const kx_polygon_bar_t *b)
{
    kx_jw_obj_begin(w);
    kx_jw_key(w, "t");
    kx_jw_int(w, b->t);
    kx_jw_key(w, "o");
    kx_polygon_jw_price(w, b->o);
    kx_jw_key(w, "h");
    kx_polygon_jw_price(w, b->h);
    kx_jw_key(w, "l");
    kx_polygon_jw_price(w, b->l);
    kx_jw_key(w, "c");
    kx_polygon_jw_price(w, b->c);
    kx_jw_key(w, "v");
    kx_jw_int(w, b->v);
    kx_jw_obj_end(w);
}


const char *
kx_polygon_strerror(int rc)
{
    switch (rc) {
    case KX_POLYGON_OK:
        return "ok";
    case KX_POLYGON_EJSON:
        return "not the documented JSON";
    case KX_POLYGON_ENOTFOUND:
        return "no data";
    case KX_POLYGON_EVALUE:
        return "a field with an invalid value";
    case KX_POLYGON_ESPACE:
        return "no room";
    case KX_POLYGON_EINVAL:
        return "invalid argument";
    default:
        return "unknown error";
    }
}
