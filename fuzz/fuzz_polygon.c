
/*
 * Copyright (C) Kianax
 */


/*
 * Arbitrary bytes as every Polygon answer and stream message we read:
 * snapshot(s), NBBO, aggregates, news (both readers), error bodies and
 * WebSocket events, and as the symbol, timeframe, next_url and API key
 * that go into our requests.
 *
 * Checked: the same bytes read the same twice; what is read keeps our
 * promises (a valid symbol, positive prices, sizes >= 0, the derived
 * price and change exactly the half-even rounding of the exact values,
 * or absent when they do not fit); what we write from it is JSON whose
 * prices parse back to the values read; a smaller output buffer gives
 * a prefix of the same result; the two news readers agree, cut text at
 * a character boundary, and turn published_utc into the same calendar
 * time; a stream state folded from events keeps the same promises, and
 * folding an event twice changes nothing the second time.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/kx_decimal.h"
#include "core/kx_json.h"
#include "core/kx_utf8.h"
#include "market/kx_polygon.h"
#include "market/kx_sim_hours.h"

#include "fuzz_check.h"


#define FZ_BARS     64
#define FZ_NEWS     16
#define FZ_EVENTS   64

typedef __int128  i128;


static const char  fz_sym[] = "AAPL";


/* n / d half-even, d > 0, from the floor: not kx_polygon's way */
static i128
fz_div_round(i128 n, i128 d)
{
    i128  q, r;

    q = n / d;
    r = n % d;

    if (r < 0) {
        q--;
        r += d;
    }

    if (2 * r > d || (2 * r == d && (q % 2) != 0)) {
        q++;
    }

    return q;
}


/* a decimal string of our JSON is exactly d */
static void
fz_check_dec_str(const kx_json_node_t *node, kx_dec_t d)
{
    size_t       len;
    kx_dec_t     e;
    const char  *s;

    s = kx_json_str(node, &len);
    check(s != NULL);
    check(kx_dec_parse(s, len, &e) == KX_DEC_OK && e.v == d.v);

    /* at least 2 places, never a trailing zero past them */
    check(memchr(s, '.', len) != NULL);
    check(len - ((const char *) memchr(s, '.', len) - s) - 1 >= 2);
}


static void
fz_check_opt_price(const kx_json_node_t *obj, const char *key, kx_dec_t d,
    unsigned has)
{
    const kx_json_node_t  *node;

    node = kx_json_obj_get(obj, key);

    if (has) {
        fz_check_dec_str(node, d);

    } else {
        check(kx_json_type(node) == KX_JSON_NULL);
    }
}


static void
fz_check_quote_json(const kx_polygon_quote_t *q)
{
    int64_t                i;
    size_t                 len;
    kx_jw_t                w;
    kx_dec_t               d;
    const char            *out, *s;
    kx_json_doc_t         *doc;
    const kx_json_node_t  *o, *node;

    kx_jw_init(&w);
    kx_polygon_quote_json(&w, q);
    check(kx_jw_finish(&w, &out, &len) == KX_JW_OK);
    check(kx_json_parse(out, len, NULL, &doc, NULL) == KX_JSON_PE_OK);

    o = kx_json_root(doc);

    s = kx_json_str(kx_json_obj_get(o, "symbol"), &len);
    check(s != NULL && len == strlen(q->symbol)
          && memcmp(s, q->symbol, len) == 0);

    fz_check_opt_price(o, "price", q->price, q->has_price);
    fz_check_opt_price(o, "bid", q->bid, q->has_bid);
    fz_check_opt_price(o, "ask", q->ask, q->has_ask);
    fz_check_opt_price(o, "open", q->open, q->has_open);
    fz_check_opt_price(o, "prev_close", q->prev_close, q->has_prev_close);

    check(kx_json_int64(kx_json_obj_get(o, "bid_size"), &i) == KX_JSON_OK
          && i == q->bid_size);
    check(kx_json_int64(kx_json_obj_get(o, "ask_size"), &i) == KX_JSON_OK
          && i == q->ask_size);

    node = kx_json_obj_get(o, "change_percent");

    if (q->has_change) {
        s = kx_json_str(node, &len);
        check(s != NULL);
        check(kx_dec_parse(s, len, &d) == KX_DEC_OK
              && d.v == q->change_percent.v);

    } else {
        check(kx_json_type(node) == KX_JSON_NULL);
    }

    node = kx_json_obj_get(o, "timestamp");
    check(kx_json_type(node) == KX_JSON_STRING
          || kx_json_type(node) == KX_JSON_NULL);

    kx_json_free(doc);
    kx_jw_free(&w);
}


/* what a finished quote promises, whatever it was read from */
static void
fz_check_quote(const kx_polygon_quote_t *q)
{
    i128  mid, chg;

    check(memchr(q->symbol, '\0', sizeof(q->symbol)) != NULL);
    check(kx_polygon_symbol_valid(q->symbol, strlen(q->symbol)));

    check(!q->has_bid || q->bid.v > 0);
    check(!q->has_ask || q->ask.v > 0);
    check(!q->has_open || q->open.v > 0);
    check(!q->has_prev_close || q->prev_close.v > 0);
    check(q->bid_size >= 0 && q->ask_size >= 0);

    if (q->has_trade) {
        check(q->has_price && q->price.v > 0);

    } else if (q->has_bid && q->has_ask) {
        /* the midpoint, half-even at 4 places, when it fits */
        mid = fz_div_round((i128) q->bid.v + q->ask.v, 20000) * 10000;

        if (mid <= INT64_MAX) {
            check(q->has_price && q->price.v == mid);
        } else {
            check(!q->has_price);
        }

    } else {
        check(!q->has_price);
    }

    if (q->has_price && q->has_prev_close) {
        /* percent, half-even at 2 places, when it fits */
        chg = fz_div_round(((i128) q->price.v - q->prev_close.v) * 10000,
                           q->prev_close.v) * 1000000;

        if (chg <= INT64_MAX && chg >= -INT64_MAX) {
            check(q->has_change && q->change_percent.v == chg);
        } else {
            check(!q->has_change);
        }

    } else {
        check(!q->has_change);
    }

    fz_check_quote_json(q);
}


static void
fz_check_snapshot(const char *body, size_t len)
{
    int                 rc, rc2;
    kx_polygon_quote_t  q, q2;

    memset(&q, 0xa5, sizeof(q));
    memset(&q2, 0x5a, sizeof(q2));

    rc = kx_polygon_parse_snapshot(body, len, &q);
    rc2 = kx_polygon_parse_snapshot(body, len, &q2);
    check(rc == rc2);

    check(rc == KX_POLYGON_OK || rc == KX_POLYGON_EJSON
          || rc == KX_POLYGON_ENOTFOUND || rc == KX_POLYGON_EVALUE);

    if (rc == KX_POLYGON_OK) {
        check(memcmp(&q, &q2, sizeof(q)) == 0);
        fz_check_quote(&q);
    }
}


typedef struct {
    size_t              calls;
    size_t              stop_at;
    kx_polygon_quote_t  first;
} fz_snaps_t;


static int
fz_snaps_handler(const kx_polygon_quote_t *q, void *data)
{
    fz_snaps_t  *ctx = data;

    fz_check_quote(q);

    if (ctx->calls == 0) {
        memcpy(&ctx->first, q, sizeof(kx_polygon_quote_t));
    }

    if (ctx->calls++ == ctx->stop_at) {
        return 77;
    }

    return 0;
}


static void
fz_check_snapshots(const char *body, size_t len)
{
    int         rc, rc2;
    fz_snaps_t  all, part;

    memset(&all, 0, sizeof(all));
    all.stop_at = SIZE_MAX;

    rc = kx_polygon_parse_snapshots(body, len, fz_snaps_handler, &all);
    check(rc == KX_POLYGON_OK || rc == KX_POLYGON_EJSON
          || rc == KX_POLYGON_EVALUE);

    if (all.calls == 0) {
        return;
    }

    /* a handler's answer stops the walk and is returned */
    memset(&part, 0, sizeof(part));
    part.stop_at = all.calls / 2;

    rc2 = kx_polygon_parse_snapshots(body, len, fz_snaps_handler, &part);
    check(rc2 == 77 && part.calls == all.calls / 2 + 1);
    check(memcmp(&all.first, &part.first, sizeof(all.first)) == 0);
}


static void
fz_check_nbbo(const char *body, size_t len)
{
    int                 rc, rc2;
    kx_polygon_quote_t  q, q2;

    rc = kx_polygon_parse_nbbo(body, len, fz_sym, &q);
    rc2 = kx_polygon_parse_nbbo(body, len, fz_sym, &q2);
    check(rc == rc2);

    check(rc == KX_POLYGON_OK || rc == KX_POLYGON_EJSON
          || rc == KX_POLYGON_ENOTFOUND || rc == KX_POLYGON_EVALUE);

    if (rc == KX_POLYGON_OK) {
        check(memcmp(&q, &q2, sizeof(q)) == 0);
        check(strcmp(q.symbol, fz_sym) == 0);
        check(!q.has_trade && !q.has_open && !q.has_prev_close);
        fz_check_quote(&q);
    }
}


static void
fz_check_bar(const kx_polygon_bar_t *b)
{
    int64_t                i;
    size_t                 len;
    kx_jw_t                w;
    kx_sim_bar_t           sb;
    const char            *out;
    kx_json_doc_t         *doc;
    const kx_json_node_t  *o;

    check(b->o.v > 0 && b->h.v > 0 && b->l.v > 0 && b->c.v > 0);
    check(b->vw.v >= 0 && b->v >= 0);

    kx_jw_init(&w);
    kx_polygon_bar_json(&w, b);
    check(kx_jw_finish(&w, &out, &len) == KX_JW_OK);
    check(kx_json_parse(out, len, NULL, &doc, NULL) == KX_JSON_PE_OK);

    o = kx_json_root(doc);
    check(kx_json_int64(kx_json_obj_get(o, "t"), &i) == KX_JSON_OK
          && i == b->t);
    fz_check_dec_str(kx_json_obj_get(o, "o"), b->o);
    fz_check_dec_str(kx_json_obj_get(o, "h"), b->h);
    fz_check_dec_str(kx_json_obj_get(o, "l"), b->l);
    fz_check_dec_str(kx_json_obj_get(o, "c"), b->c);
    check(kx_json_int64(kx_json_obj_get(o, "v"), &i) == KX_JSON_OK
          && i == b->v);

    kx_json_free(doc);
    kx_jw_free(&w);

    kx_polygon_sim_bar(b, &sb);
    check(sb.t == b->t && sb.o.v == b->o.v && sb.c.v == b->c.v
          && sb.v == b->v);
}


static void
fz_check_next(const char *url, size_t len)
{
    size_t       plen;
    const char  *p;

    p = kx_polygon_next_path(url, len, &plen);

    if (p != NULL) {
        check(p >= url && p < url + len && *p == '/');
        check(p + plen == url + len);
    }
}


/* next_url's length in the answer (it may hold a NUL) */
static size_t
fz_next_len(const char *body, size_t len)
{
    size_t          ulen;
    kx_json_doc_t  *doc;

    check(kx_json_parse(body, len, NULL, &doc, NULL) == KX_JSON_PE_OK);

    if (kx_json_str(kx_json_obj_get(kx_json_root(doc), "next_url"), &ulen)
        == NULL)
    {
        ulen = 0;
    }

    kx_json_free(doc);

    return ulen;
}


static void
fz_check_aggs(const char *body, size_t len)
{
    int                rc, rc2;
    size_t             n, n2, i;
    char               next[512], next2[32];
    kx_polygon_bar_t  *bars, *bars2;

    bars = malloc(FZ_BARS * sizeof(kx_polygon_bar_t));
    bars2 = malloc(2 * sizeof(kx_polygon_bar_t));
    check(bars != NULL && bars2 != NULL);

    rc = kx_polygon_parse_aggs(body, len, bars, FZ_BARS, &n, next,
                               sizeof(next));
    check(rc == KX_POLYGON_OK || rc == KX_POLYGON_EJSON
          || rc == KX_POLYGON_EVALUE || rc == KX_POLYGON_ESPACE);
    check(n <= FZ_BARS);
    check(memchr(next, '\0', sizeof(next)) != NULL);

    for (i = 0; i < n; i++) {
        fz_check_bar(&bars[i]);
    }

    if (rc == KX_POLYGON_OK && next[0] != '\0') {
        fz_check_next(next, strlen(next));
    }

    /* fewer bars and a smaller next: the same bars, as far as they go */
    rc2 = kx_polygon_parse_aggs(body, len, bars2, 2, &n2, next2,
                                sizeof(next2));
    check(n2 <= 2 && n2 <= n);
    check(memchr(next2, '\0', sizeof(next2)) != NULL);
    check(n2 == 0 || memcmp(bars, bars2, n2 * sizeof(*bars)) == 0);

    if (rc == KX_POLYGON_OK || rc == KX_POLYGON_ESPACE) {
        check(n2 == (n < 2 ? n : 2));

        if (rc == KX_POLYGON_ESPACE) {
            check(rc2 == KX_POLYGON_ESPACE);

        } else if (fz_next_len(body, len) < sizeof(next2)) {
            check(rc2 == KX_POLYGON_OK && strcmp(next, next2) == 0);

        } else {
            check(rc2 == KX_POLYGON_ESPACE);
        }
    }

    free(bars);
    free(bars2);
}


/* dst, cut from the n-th field: a prefix at a character boundary */
static void
fz_check_cut(const char *dst, size_t size, const kx_json_node_t *node)
{
    size_t       len, dlen;
    const char  *s;

    check(memchr(dst, '\0', size) != NULL);
    dlen = strlen(dst);

    s = kx_json_str(node, &len);

    if (s == NULL) {
        check(dlen == 0);
        return;
    }

    check(dlen <= len && memcmp(dst, s, dlen) == 0);
    check(kx_utf8_validate(dst, dlen) == dlen);

    /* all of it when it fits (unless it holds a NUL) */
    if (len < size && memchr(s, '\0', len) == NULL) {
        check(dlen == len);
    }

    /* a cut loses at most one character's worth beyond the buffer */
    if (len >= size && memchr(s, '\0', size) == NULL) {
        check(dlen + 4 > size - 1);
    }
}


/*
 * The calendar time of a published_utc that was read is the time
 * written: "2022-02-31" must not become March the 3rd.
 */
static void
fz_check_published(const kx_json_node_t *node, int64_t ms,
    const kx_json_node_t *ours)
{
    size_t       len, olen;
    char         ts[KX_SIM_TIME_FMT_MAX];
    const char  *s, *o;

    s = kx_json_str(node, &len);
    o = kx_json_str(ours, &olen);

    if (ms == 0 || s == NULL
        || kx_sim_time_format(ms, ts, sizeof(ts)) == 0)
    {
        return;
    }

    /* both readers: the same time */
    check(o != NULL && strcmp(o, ts) == 0);

    /* YYYY-MM-DDTHH:MM:SS, unless a leap second rolled it over */
    check(len >= 19);

    if (memcmp(s + 17, "60", 2) != 0) {
        check(memcmp(ts, s, 10) == 0 && memcmp(ts + 11, s + 11, 8) == 0);
    }
}


static void
fz_check_news(const char *body, size_t len)
{
    int                    rc, rc2;
    size_t                 n, n2, i, k, olen, j, cnt;
    kx_jw_t                w;
    const char            *out;
    kx_sim_news_t         *items;
    kx_json_doc_t         *doc, *odoc;
    const kx_json_node_t  *arr, *it, *our;

    kx_jw_init(&w);
    kx_jw_arr_begin(&w);
    rc = kx_polygon_news_json(&w, body, len, fz_sym, FZ_NEWS, &n);
    kx_jw_arr_end(&w);

    check(rc == KX_POLYGON_OK || rc == KX_POLYGON_EJSON);
    check(n <= FZ_NEWS);
    check(kx_jw_finish(&w, &out, &olen) == KX_JW_OK);
    check(kx_json_parse(out, olen, NULL, &odoc, NULL) == KX_JSON_PE_OK);
    check(kx_json_arr_len(kx_json_root(odoc)) == n);

    if (kx_json_parse(body, len, NULL, &doc, NULL) != KX_JSON_PE_OK) {
        check(rc == KX_POLYGON_EJSON && n == 0);
        goto done;
    }

    items = malloc(FZ_NEWS * sizeof(kx_sim_news_t));
    check(items != NULL);

    rc2 = kx_polygon_news_items(doc, fz_sym, items, FZ_NEWS, &n2);
    check(rc2 == rc && n2 == n);

    /* the items of both are the same items of the answer */
    arr = kx_json_obj_get(kx_json_root(doc), "results");
    cnt = kx_json_arr_len(arr);

    for (i = 0, k = 0; i < cnt && k < n; i++) {
        it = kx_json_arr_at(arr, i);

        if (kx_json_str(kx_json_obj_get(it, "id"), &j) == NULL
            || kx_json_str(kx_json_obj_get(it, "title"), &j) == NULL)
        {
            continue;
        }

        our = kx_json_arr_at(kx_json_root(odoc), k);

        fz_check_cut(items[k].id, sizeof(items[k].id),
                     kx_json_obj_get(it, "id"));
        fz_check_cut(items[k].title, sizeof(items[k].title),
                     kx_json_obj_get(it, "title"));
        fz_check_cut(items[k].summary, sizeof(items[k].summary),
                     kx_json_obj_get(it, "description"));
        fz_check_cut(items[k].url, sizeof(items[k].url),
                     kx_json_obj_get(it, "article_url"));
        check(items[k].source != NULL);
        check(items[k].sentiment == KX_SIM_NEUTRAL
              || items[k].sentiment == KX_SIM_POSITIVE
              || items[k].sentiment == KX_SIM_NEGATIVE);

        fz_check_published(kx_json_obj_get(it, "published_utc"),
                           items[k].published_ms,
                           kx_json_obj_get(our, "published_at"));
        k++;
    }

    check(k == n);

    free(items);
    kx_json_free(doc);

done:

    kx_json_free(odoc);
    kx_jw_free(&w);
}


typedef struct {
    size_t              calls;
    size_t              stop_at;
    size_t              n;
    kx_polygon_event_t  ev[FZ_EVENTS];
    char                text[FZ_EVENTS][2][32];
    kx_polygon_quote_t  state;
    unsigned            has_state:1;
} fz_events_t;


static int
fz_event_handler(const kx_polygon_event_t *ev, void *data)
{
    fz_events_t         *ctx = data;
    kx_polygon_quote_t   before;

    switch (ev->type) {

    case KX_POLYGON_EV_STATUS:
        check(ev->status != NULL && ev->message != NULL);
        check(ev->status[ev->status_len] == '\0');
        check(ev->message[ev->message_len] == '\0');
        break;

    case KX_POLYGON_EV_QUOTE:
        check(kx_polygon_symbol_valid(ev->symbol, strlen(ev->symbol)));
        check(ev->bid.v >= 0 && ev->ask.v >= 0);
        check(ev->bid_size >= 0 && ev->ask_size >= 0);
        break;

    case KX_POLYGON_EV_TRADE:
        check(kx_polygon_symbol_valid(ev->symbol, strlen(ev->symbol)));
        check(ev->price.v > 0);
        break;

    case KX_POLYGON_EV_OTHER:
        break;

    default:
        check(0);
    }

    /* status texts live in the message: keep a copy of their start */
    if (ctx->n < FZ_EVENTS) {
        ctx->ev[ctx->n] = *ev;

        if (ev->type == KX_POLYGON_EV_STATUS) {
            memcpy(ctx->text[ctx->n][0], ev->status,
                   ev->status_len < 32 ? ev->status_len : 32);
            memcpy(ctx->text[ctx->n][1], ev->message,
                   ev->message_len < 32 ? ev->message_len : 32);
        }

        ctx->ev[ctx->n].status = NULL;
        ctx->ev[ctx->n].message = NULL;
        ctx->n++;
    }

    /* the stream's state of the first symbol seen, as the glue keeps it */
    if (ev->type == KX_POLYGON_EV_QUOTE || ev->type == KX_POLYGON_EV_TRADE) {
        if (!ctx->has_state) {
            memset(&ctx->state, 0, sizeof(ctx->state));
            strcpy(ctx->state.symbol, ev->symbol);
            ctx->has_state = 1;
        }

        before = ctx->state;
        (void) kx_polygon_quote_apply(&ctx->state, ev);
        fz_check_quote(&ctx->state);
        check(kx_polygon_quote_apply(&ctx->state, ev) == 0);
        check(strcmp(ctx->state.symbol, before.symbol) == 0);
    }

    if (ctx->calls++ == ctx->stop_at) {
        return 5;
    }

    return 0;
}


static int
fz_event_equal(const fz_events_t *x, const fz_events_t *y, size_t i)
{
    const kx_polygon_event_t  *a, *b;

    a = &x->ev[i];
    b = &y->ev[i];

    if (a->type != b->type) {
        return 0;
    }

    if (a->type == KX_POLYGON_EV_STATUS) {
        return a->status_len == b->status_len
               && a->message_len == b->message_len
               && memcmp(x->text[i], y->text[i], sizeof(x->text[i])) == 0;
    }

    return strcmp(a->symbol, b->symbol) == 0 && a->bid.v == b->bid.v
           && a->ask.v == b->ask.v && a->bid_size == b->bid_size
           && a->ask_size == b->ask_size && a->price.v == b->price.v
           && a->size == b->size && a->time_ms == b->time_ms;
}


static void
fz_check_ws(const char *msg, size_t len, const kx_polygon_quote_t *seed)
{
    int           rc, rc2;
    size_t        i;
    fz_events_t  *all, *part;

    all = calloc(2, sizeof(fz_events_t));
    check(all != NULL);
    part = all + 1;

    all->stop_at = SIZE_MAX;

    if (seed != NULL) {
        all->state = *seed;
        all->has_state = 1;
    }

    rc = kx_polygon_ws_events(msg, len, fz_event_handler, all);
    check(rc == KX_POLYGON_OK || rc == KX_POLYGON_EJSON
          || rc == KX_POLYGON_EVALUE);

    if (all->calls > 0) {
        /* stopped by the handler: its answer, and the same events */
        part->stop_at = all->calls / 2;

        rc2 = kx_polygon_ws_events(msg, len, fz_event_handler, part);
        check(rc2 == 5 && part->calls == all->calls / 2 + 1);

        for (i = 0; i < part->n; i++) {
            check(fz_event_equal(all, part, i));
        }
    }

    free(all);
}


static void
fz_check_error_text(const char *body, size_t len)
{
    size_t  i;
    char    big[512], buf[64];
    static const size_t  sizes[] = { 1, 2, 9, 64 };

    memset(big, 'x', sizeof(big));
    kx_polygon_error_text(body, len, big, sizeof(big));
    check(memchr(big, '\0', sizeof(big)) != NULL);

    for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        memset(buf, 'x', sizeof(buf));
        kx_polygon_error_text(body, len, buf, sizes[i]);
        check(strlen(buf) < sizes[i]);
        check(strncmp(big, buf, strlen(buf)) == 0);
    }

    /* no room: nothing written */
    buf[0] = 'x';
    kx_polygon_error_text(body, len, buf, 0);
    check(buf[0] == 'x');
}


/* the request side: the bytes as symbol, timeframe, next_url, key */
static void
fz_check_names(const char *s, size_t len)
{
    int             valid, rc;
    char            sym[KX_POLYGON_SYM_MAX + 1], *buf, small[8];
    size_t          i, n, n2, klen;
    int64_t         ms;
    unsigned        mult;
    const char     *timespan, *syms[2], *key;
    kx_json_doc_t  *doc;

    valid = (len >= 1 && len <= KX_POLYGON_SYM_MAX);
    for (i = 0; i < len && valid; i++) {
        valid = (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9')
                || s[i] == '.';
    }
    check(kx_polygon_symbol_valid(s, len) == valid);

    rc = kx_polygon_timeframe(s, len, &mult, &timespan, &ms);
    if (rc == KX_POLYGON_OK) {
        check(len >= 2 && len <= 3);
        check(ms == (int64_t) mult
                    * (strcmp(timespan, "minute") == 0 ? KX_MS_PER_MINUTE
                       : strcmp(timespan, "hour") == 0 ? KX_MS_PER_HOUR
                       : KX_MS_PER_DAY));
    } else {
        check(rc == KX_POLYGON_EINVAL);
    }

    fz_check_next(s, len);

    /* a key's escapes grow it at most 6 times; a path is short */
    n = 6 * len + 512;
    buf = malloc(n);
    check(buf != NULL);

    if (valid) {
        memcpy(sym, s, len);
        sym[len] = '\0';
        syms[0] = sym;
        syms[1] = sym;

        /* like snprintf: the full length, "" when it does not fit */
        n2 = kx_polygon_path_snapshot(buf, n, sym);
        check(n2 < n && strlen(buf) == n2);
        check(kx_polygon_path_snapshot(small, sizeof(small), sym) == n2
              && small[0] == '\0');

        n2 = kx_polygon_path_snapshots(buf, n, syms, 2);
        check(n2 < n && strlen(buf) == n2);
        check(kx_polygon_path_snapshots(small, sizeof(small), syms, 2) == n2
              && small[0] == '\0');

        n2 = kx_polygon_path_news(buf, n, sym, 50, (int64_t) len * 1000003);
        check(n2 < n && strlen(buf) == n2);
        check(kx_polygon_path_news(small, sizeof(small), sym, 50, 1) > 8
              && small[0] == '\0');

        n2 = kx_polygon_ws_subscribe(buf, n, syms, 2);
        check(n2 < n && strlen(buf) == n2);
        check(kx_json_parse(buf, n2, NULL, &doc, NULL) == KX_JSON_PE_OK);
        kx_json_free(doc);
    }

    /* any key: the auth message is JSON and carries the key */
    n2 = kx_polygon_ws_auth(buf, n, s, len);
    check(n2 < n && strlen(buf) == n2);
    check(kx_polygon_ws_auth(small, sizeof(small), s, len) == n2
          && small[0] == '\0');
    check(kx_json_parse(buf, n2, NULL, &doc, NULL) == KX_JSON_PE_OK);

    key = kx_json_str(kx_json_obj_get(kx_json_root(doc), "params"), &klen);
    check(key != NULL);
    if (kx_utf8_validate(s, len) == len) {
        check(klen == len && memcmp(key, s, len) == 0);
    }

    kx_json_free(doc);
    free(buf);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char          *s;
    kx_polygon_quote_t   q;

    if (size > 16384) {
        return 0;
    }

    s = (const char *) data;

    fz_check_names(s, size);
    fz_check_snapshot(s, size);
    fz_check_snapshots(s, size);
    fz_check_nbbo(s, size);
    fz_check_aggs(s, size);
    fz_check_news(s, size);
    fz_check_error_text(s, size);

    /* stream events on their own, and on a snapshot's quote */
    fz_check_ws(s, size, NULL);

    if (kx_polygon_parse_snapshot(s, size, &q) == KX_POLYGON_OK) {
        fz_check_ws(s, size, &q);
    }

    return 0;
}
