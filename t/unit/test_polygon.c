
/*
 * Copyright (C) Kianax
 *
 * The Polygon adapter's pure part: payloads as Polygon documents them
 * (the shapes of its client libraries' fixtures), read exactly into our
 * shapes; request paths; the WebSocket stream's messages; and the
 * client side of RFC 6455 it runs on.
 */


#include <stdlib.h>
#include <string.h>

#include "core/kx_decimal.h"
#include "core/kx_json.h"
#include "core/kx_wsc.h"
#include "market/kx_polygon.h"

#include "kx_tap.h"


#define S(lit)  lit, sizeof(lit) - 1


static const char  snapshot_aapl[] =
    "{\"request_id\":\"957db942cab2d6b0633b9b4820db0cb2\",\"status\":\"OK\","
    "\"ticker\":{\"day\":{\"c\":160.315,\"h\":166.2,\"l\":159.8,"
    "\"o\":161.84,\"v\":68840127,\"vw\":162.7124},"
    "\"lastQuote\":{\"P\":159.99,\"S\":5,\"p\":159.98,\"s\":3,"
    "\"t\":1651251948407646487},"
    "\"lastTrade\":{\"c\":null,\"i\":\"121351\",\"p\":159.99,\"s\":200,"
    "\"t\":1651251948294080343,\"x\":12},"
    "\"min\":{\"av\":68834255,\"c\":160.3,\"h\":160.71,\"l\":160.3,"
    "\"o\":160.71,\"v\":197226,\"vw\":160.5259,\"t\":1684428600000,\"n\":5},"
    "\"prevDay\":{\"c\":163.64,\"h\":164.515,\"l\":158.93,\"o\":159.25,"
    "\"v\":130149192,\"vw\":161.8622},"
    "\"ticker\":\"AAPL\",\"todaysChange\":-3.65,\"todaysChangePerc\":-2.231,"
    "\"updated\":1651251948294080343}}";

static const char  nbbo_aapl[] =
    "{\"results\":{\"p\":155.65,\"s\":1,\"x\":19,\"P\":155.66,\"S\":14,"
    "\"X\":11,\"z\":3,\"T\":\"AAPL\",\"t\":1652192754171838500,"
    "\"y\":1652192754171619000,\"q\":26006043},\"status\":\"OK\","
    "\"request_id\":\"8f6450b5edbd1446ad0304023fad77ae\"}";

static const char  aggs_aapl[] =
    "{\"ticker\":\"AAPL\",\"queryCount\":2,\"resultsCount\":2,"
    "\"adjusted\":true,\"results\":["
    "{\"v\":135647456,\"vw\":74.6099,\"o\":74.06,\"c\":75.0875,"
    "\"h\":75.15,\"l\":73.7975,\"t\":1577941200000,\"n\":1},"
    "{\"v\":1.46535512e+08,\"vw\":74.7026,\"o\":74.2875,\"c\":74.3575,"
    "\"h\":75.145,\"l\":74.125,\"t\":1578027600000,\"n\":1}],"
    "\"status\":\"OK\",\"request_id\":\"6a7e466379af0a71039d60cc78e72282\","
    "\"count\":2,\"next_url\":\"https://api.polygon.io/v2/aggs/ticker/AAPL/"
    "range/1/day/1578114000000/2020-01-10?cursor=bGltaXQ9MiZzb3J0PWFzYw\"}";

static const char  news_nflx[] =
    "{\"results\":[{\"id\":\"JeJEhAVoKaqJ2zF9nzQYMg07UlEeWlis6Dsop33TPQY\","
    "\"publisher\":{\"name\":\"MarketWatch\","
    "\"homepage_url\":\"https://www.marketwatch.com/\"},"
    "\"title\":\"There\\u2019s a big hole in the Fed\\u2019s theory\","
    "\"author\":\"MarketWatch\",\"published_utc\":\"2022-04-28T17:08:00Z\","
    "\"article_url\":\"https://www.marketwatch.com/story/x\","
    "\"tickers\":[\"MSFT\",\"TSN\",\"NFLX\",\"AMZN\"],"
    "\"description\":\"If inflation is all due to ...\","
    "\"insights\":[{\"ticker\":\"MSFT\",\"sentiment\":\"neutral\"},"
    "{\"ticker\":\"NFLX\",\"sentiment\":\"negative\","
    "\"sentiment_reasoning\":\"...\"}]},"
    "{\"id\":\"second\",\"publisher\":{\"name\":\"Zacks\"},"
    "\"title\":\"Second\",\"published_utc\":\"2022-04-27T09:00:00.5Z\","
    "\"tickers\":[\"NFLX\"]},"
    "{\"title\":\"no id: skipped\"}],"
    "\"status\":\"OK\",\"count\":3,\"next_url\":\"https://x/y?cursor=z\"}";


static char *
quote_text(const kx_polygon_quote_t *q)
{
    kx_jw_t      w;
    size_t       len;
    const char  *out;
    char        *copy;

    kx_jw_init(&w);
    kx_polygon_quote_json(&w, q);

    if (kx_jw_finish(&w, &out, &len) != KX_JW_OK) {
        kx_jw_free(&w);
        return strdup("(error)");
    }

    copy = strdup(out);
    kx_jw_free(&w);

    return copy;
}


static void
test_snapshot(void)
{
    char                *s;
    kx_polygon_quote_t   q;

    is_int(kx_polygon_parse_snapshot(S(snapshot_aapl), &q), KX_POLYGON_OK,
           "snapshot: parsed");
    is_str(q.symbol, "AAPL", "snapshot: symbol");
    is_int(q.bid.v, INT64_C(15998000000), "snapshot: bid exact");
    is_int(q.ask.v, INT64_C(15999000000), "snapshot: ask exact");
    is_int(q.price.v, INT64_C(15999000000), "snapshot: price = last trade");
    is_int(q.open.v, INT64_C(16184000000), "snapshot: open = day.o");
    is_int(q.prev_close.v, INT64_C(16364000000), "snapshot: prev close");
    is_int(q.bid_size, 3, "snapshot: bid size");
    is_int(q.ask_size, 5, "snapshot: ask size");
    is_int(q.time_ms, INT64_C(1651251948407), "snapshot: newest time in ms");

    /* (159.99 - 163.64) / 163.64 * 100 = -2.2305... */
    is_int(q.change_percent.v, INT64_C(-223000000),
           "snapshot: change percent computed exactly, 2 places");

    s = quote_text(&q);
    is_str(s, "{\"symbol\":\"AAPL\",\"price\":\"159.99\",\"bid\":\"159.98\","
              "\"ask\":\"159.99\",\"bid_size\":3,\"ask_size\":5,"
              "\"open\":\"161.84\",\"prev_close\":\"163.64\","
              "\"change_percent\":\"-2.23\","
              "\"timestamp\":\"2022-04-29T17:05:48.407Z\"}",
           "snapshot: our quote shape");
    free(s);

    is_int(kx_polygon_parse_snapshot(S("{\"status\":\"OK\"}"), &q),
           KX_POLYGON_ENOTFOUND, "snapshot without ticker: not found");
    is_int(kx_polygon_parse_snapshot(S("<html>"), &q), KX_POLYGON_EJSON,
           "snapshot: not JSON");
    is_int(kx_polygon_parse_snapshot(
               S("{\"ticker\":{\"ticker\":\"AAPL\","
                 "\"lastQuote\":{\"p\":\"x\"}}}"), &q),
           KX_POLYGON_EVALUE, "snapshot: a price that is a string");
    is_int(kx_polygon_parse_snapshot(
               S("{\"ticker\":{\"ticker\":\"AAPL\","
                 "\"lastQuote\":{\"p\":-1}}}"), &q),
           KX_POLYGON_EVALUE, "snapshot: a negative price");

    /* before the open: zeros are absent values, not prices */
    is_int(kx_polygon_parse_snapshot(
               S("{\"ticker\":{\"ticker\":\"TSLA\",\"day\":{\"o\":0},"
                 "\"lastQuote\":{\"p\":0,\"P\":0,\"s\":0,\"S\":0},"
                 "\"prevDay\":{\"c\":250.1}}}"), &q),
           KX_POLYGON_OK, "snapshot of a quiet ticker");
    s = quote_text(&q);
    is_str(s, "{\"symbol\":\"TSLA\",\"price\":null,\"bid\":null,\"ask\":null,"
              "\"bid_size\":0,\"ask_size\":0,\"open\":null,"
              "\"prev_close\":\"250.10\",\"change_percent\":null,"
              "\"timestamp\":null}",
           "quiet ticker: nulls, not zeros");
    free(s);
}


static int
collect_sym(const kx_polygon_quote_t *q, void *data)
{
    strcat((char *) data, q->symbol);
    strcat((char *) data, ";");
    return 0;
}


static void
test_snapshots_and_nbbo(void)
{
    char                 buf[256], *s;
    kx_polygon_quote_t   q;

    buf[0] = '\0';
    is_int(kx_polygon_parse_snapshots(
               S("{\"status\":\"OK\",\"count\":2,\"tickers\":["
                 "{\"ticker\":\"AAPL\",\"lastTrade\":{\"p\":1.5}},"
                 "{\"ticker\":\"MSFT\",\"prevDay\":{\"c\":2}}]}"),
               collect_sym, buf),
           KX_POLYGON_OK, "snapshots: parsed");
    is_str(buf, "AAPL;MSFT;", "snapshots: every ticker in order");

    is_int(kx_polygon_parse_nbbo(S(nbbo_aapl), "AAPL", &q), KX_POLYGON_OK,
           "nbbo: parsed");
    is_int(q.bid.v, INT64_C(15565000000), "nbbo: bid p");
    is_int(q.ask.v, INT64_C(15566000000), "nbbo: ask P");
    is_int(q.bid_size, 1, "nbbo: bid size s");
    is_int(q.ask_size, 14, "nbbo: ask size S");
    is_int(q.time_ms, INT64_C(1652192754171), "nbbo: SIP ns to ms");

    /* midpoint 155.655 at 4 places */
    is_int(q.price.v, INT64_C(15565500000), "nbbo: price is the midpoint");

    s = quote_text(&q);
    is_str(s, "{\"symbol\":\"AAPL\",\"price\":\"155.655\",\"bid\":\"155.65\","
              "\"ask\":\"155.66\",\"bid_size\":1,\"ask_size\":14,"
              "\"open\":null,\"prev_close\":null,\"change_percent\":null,"
              "\"timestamp\":\"2022-05-10T14:25:54.171Z\"}",
           "nbbo: our shape");
    free(s);

    is_int(kx_polygon_parse_nbbo(
               S("{\"status\":\"NOT_FOUND\",\"message\":\"Data not found.\"}"),
               "ZZZZ", &q),
           KX_POLYGON_ENOTFOUND, "nbbo: no results is not found");
    is_int(kx_polygon_parse_nbbo(S(nbbo_aapl), "a/b", &q), KX_POLYGON_EINVAL,
           "nbbo: a symbol that cannot be one");
}


static void
test_aggs(void)
{
    size_t             n;
    kx_jw_t            w;
    size_t             len;
    const char        *out;
    kx_polygon_bar_t   bars[4];
    char               next[256];

    is_int(kx_polygon_parse_aggs(S(aggs_aapl), bars, 4, &n, next,
                                 sizeof(next)),
           KX_POLYGON_OK, "aggs: parsed");
    is_int((int64_t) n, 2, "aggs: two bars");
    is_int(bars[0].t, INT64_C(1577941200000), "aggs: t in ms");
    is_int(bars[0].c.v, INT64_C(7508750000), "aggs: 75.0875 exact");
    is_int(bars[0].l.v, INT64_C(7379750000), "aggs: 73.7975 exact");
    is_int(bars[0].v, INT64_C(135647456), "aggs: volume");
    is_int(bars[1].v, INT64_C(146535512), "aggs: volume in exponent form");
    is_str(next, "https://api.polygon.io/v2/aggs/ticker/AAPL/range/1/day/"
                 "1578114000000/2020-01-10?cursor=bGltaXQ9MiZzb3J0PWFzYw",
           "aggs: next_url");

    kx_jw_init(&w);
    kx_polygon_bar_json(&w, &bars[0]);
    kx_jw_finish(&w, &out, &len);
    is_str(out, "{\"t\":1577941200000,\"o\":\"74.06\",\"h\":\"75.15\","
                "\"l\":\"73.7975\",\"c\":\"75.0875\",\"v\":135647456}",
           "aggs: our bar shape keeps every digit");
    kx_jw_free(&w);

    is_int(kx_polygon_parse_aggs(S(aggs_aapl), bars, 1, &n, next,
                                 sizeof(next)),
           KX_POLYGON_OK, "aggs: output smaller than the page");
    is_int((int64_t) n, 1, "aggs: cut at max");

    is_int(kx_polygon_parse_aggs(S(aggs_aapl), bars, 4, &n, next, 20),
           KX_POLYGON_ESPACE, "aggs: next_url that does not fit");

    is_int(kx_polygon_parse_aggs(
               S("{\"ticker\":\"ZZZZ\",\"queryCount\":0,\"resultsCount\":0,"
                 "\"adjusted\":true,\"status\":\"OK\"}"),
               bars, 4, &n, next, sizeof(next)),
           KX_POLYGON_OK, "aggs: no results");
    ok(n == 0 && next[0] == '\0', "aggs: none, and no next page");

    is_int(kx_polygon_parse_aggs(
               S("{\"results\":[{\"o\":1,\"h\":1,\"l\":1,\"t\":5}]}"),
               bars, 4, &n, next, sizeof(next)),
           KX_POLYGON_EVALUE, "aggs: a bar without a close");

    /* more than 8 places: rounded half away from zero at the 8th */
    is_int(kx_polygon_parse_aggs(
               S("{\"results\":[{\"o\":1.000000005,\"h\":2.123456784,"
                 "\"l\":0.5,\"c\":1,\"v\":10.5,\"t\":5}]}"),
               bars, 4, &n, next, sizeof(next)),
           KX_POLYGON_OK, "aggs: long fractions");
    is_int(bars[0].o.v, INT64_C(100000001), "aggs: 1.000000005 rounds up");
    is_int(bars[0].h.v, INT64_C(212345678), "aggs: 2.123456784 rounds down");
    is_int(bars[0].v, 10, "aggs: fractional volume half-even");
}


static void
test_news(void)
{
    size_t       n, len;
    kx_jw_t      w;
    const char  *out;

    kx_jw_init(&w);
    kx_jw_arr_begin(&w);
    is_int(kx_polygon_news_json(&w, S(news_nflx), "NFLX", 10, &n),
           KX_POLYGON_OK, "news: parsed");
    kx_jw_arr_end(&w);
    is_int((int64_t) n, 2, "news: the item without an id is skipped");
    is_int(kx_jw_finish(&w, &out, &len), KX_JW_OK, "news: valid JSON");
    is_str(out,
           "[{\"id\":\"JeJEhAVoKaqJ2zF9nzQYMg07UlEeWlis6Dsop33TPQY\","
           "\"symbol\":\"NFLX\","
           "\"title\":\"There\xe2\x80\x99s a big hole in the Fed\xe2\x80\x99s"
           " theory\",\"summary\":\"If inflation is all due to ...\","
           "\"source\":\"MarketWatch\",\"author\":\"MarketWatch\","
           "\"url\":\"https://www.marketwatch.com/story/x\","
           "\"published_at\":\"2022-04-28T17:08:00.000Z\","
           "\"sentiment\":\"negative\","
           "\"tickers\":[\"MSFT\",\"TSN\",\"NFLX\",\"AMZN\"]},"
           "{\"id\":\"second\",\"symbol\":\"NFLX\",\"title\":\"Second\","
           "\"summary\":null,\"source\":\"Zacks\",\"author\":null,"
           "\"url\":null,\"published_at\":\"2022-04-27T09:00:00.500Z\","
           "\"sentiment\":null,\"tickers\":[\"NFLX\"]}]",
           "news: our shape, the ticker's own sentiment");
    kx_jw_free(&w);

    kx_jw_init(&w);
    kx_jw_arr_begin(&w);
    kx_polygon_news_json(&w, S(news_nflx), "NFLX", 1, &n);
    is_int((int64_t) n, 1, "news: cut at max");
    kx_jw_free(&w);

    kx_jw_init(&w);
    is_int(kx_polygon_news_json(&w, S("[1]"), "NFLX", 1, &n),
           KX_POLYGON_EJSON, "news: not the documented shape");
    kx_jw_free(&w);
}


static void
test_news_items(void)
{
    size_t          n;
    kx_json_doc_t  *doc;
    kx_sim_news_t   items[4];
    char            body[2048];

    kx_json_parse(S(news_nflx), NULL, &doc, NULL);
    is_int(kx_polygon_news_items(doc, "NFLX", items, 4, &n), KX_POLYGON_OK,
           "news items: parsed");
    is_int((int64_t) n, 2, "news items: two with id and title");
    is_str(items[0].id, "JeJEhAVoKaqJ2zF9nzQYMg07UlEeWlis6Dsop33TPQY",
           "news items: Polygon's whole id");
    is_str(items[0].title, "There\xe2\x80\x99s a big hole in the Fed"
                           "\xe2\x80\x99s theory", "news items: title");
    is_str(items[0].source, "MarketWatch", "news items: source");
    is_str(items[0].url, "https://www.marketwatch.com/story/x",
           "news items: url");
    is_int(items[0].published_ms, INT64_C(1651165680000),
           "news items: published_utc in ms");
    is_int(items[0].sentiment, KX_SIM_NEGATIVE,
           "news items: NFLX's own sentiment");
    is_int(items[1].sentiment, KX_SIM_NEUTRAL,
           "news items: no insight is neutral");
    is_int(items[1].published_ms, INT64_C(1651050000500),
           "news items: fractional seconds");
    kx_json_free(doc);

    /* a cut never splits a character: 510 x 'a' then a 3-byte one */
    memset(body, 0, sizeof(body));
    strcpy(body, "{\"results\":[{\"id\":\"1\",\"title\":\"t\","
                 "\"article_url\":\"");
    memset(body + strlen(body), 'a', 510);
    strcat(body, "\xe2\x80\x99\"}]}");
    kx_json_parse(body, strlen(body), NULL, &doc, NULL);
    kx_polygon_news_items(doc, "X", items, 4, &n);
    is_int((int64_t) strlen(items[0].url), 510,
           "news items: cut before a split character");
    kx_json_free(doc);
}


static void
test_sim_types(void)
{
    kx_sim_bar_t        b;
    kx_sim_quote_t      sq;
    kx_polygon_bar_t    pb;
    kx_polygon_quote_t  q;

    kx_polygon_parse_snapshot(S(snapshot_aapl), &q);
    kx_polygon_sim_quote(&q, 3, &sq);
    ok(sq.sym == 3 && sq.price.v == q.price.v && sq.bid.v == q.bid.v
       && sq.ask.v == q.ask.v && sq.open.v == q.open.v
       && sq.prev_close.v == q.prev_close.v && sq.bid_size == 3
       && sq.change_percent.v == -223000000
       && sq.time_ms == 1651251948407, "sim quote: every field");

    q.has_open = 0;
    q.has_bid = 0;
    kx_polygon_sim_quote(&q, 3, &sq);
    ok(sq.open.v == 0 && sq.bid.v == 0, "sim quote: absent is 0");

    memset(&pb, 0, sizeof(pb));
    pb.t = 5;
    pb.o.v = 1;
    pb.c.v = 2;
    pb.v = 7;
    kx_polygon_sim_bar(&pb, &b);
    ok(b.t == 5 && b.o.v == 1 && b.c.v == 2 && b.v == 7, "sim bar");
}


static void
test_paths(void)
{
    char                buf[KX_POLYGON_PATH_MAX], small[16];
    size_t              n;
    unsigned            mult;
    int64_t             ms;
    const char         *ts, *p;
    const char *const   syms[] = { "AAPL", "BRK.B" };

    ok(kx_polygon_symbol_valid(S("BRK.B")), "symbol BRK.B");
    ok(!kx_polygon_symbol_valid(S("aapl")), "symbol aapl: case matters");
    ok(!kx_polygon_symbol_valid(S("A/B")), "symbol A/B");
    ok(!kx_polygon_symbol_valid(S("")), "symbol empty");
    ok(!kx_polygon_symbol_valid(S("ABCDEFGHIJKLMNOPQ")), "symbol too long");

    is_int(kx_polygon_timeframe(S("15m"), &mult, &ts, &ms), KX_POLYGON_OK,
           "timeframe 15m");
    ok(mult == 15 && strcmp(ts, "minute") == 0 && ms == 900000,
       "15m is 15 minute");
    is_int(kx_polygon_timeframe(S("1d"), &mult, &ts, &ms), KX_POLYGON_OK,
           "timeframe 1d");
    ok(mult == 1 && strcmp(ts, "day") == 0, "1d is 1 day");
    is_int(kx_polygon_timeframe(S("2d"), &mult, &ts, &ms), KX_POLYGON_EINVAL,
           "timeframe 2d");

    kx_polygon_path_snapshot(buf, sizeof(buf), "AAPL");
    is_str(buf, "/v2/snapshot/locale/us/markets/stocks/tickers/AAPL",
           "path: snapshot");
    kx_polygon_path_snapshots(buf, sizeof(buf), syms, 2);
    is_str(buf, "/v2/snapshot/locale/us/markets/stocks/tickers"
                "?tickers=AAPL%2CBRK.B", "path: snapshots");
    kx_polygon_path_nbbo(buf, sizeof(buf), "AAPL");
    is_str(buf, "/v2/last/nbbo/AAPL", "path: last quote");
    kx_polygon_path_aggs(buf, sizeof(buf), "AAPL", 5, "minute",
                         INT64_C(1700000000000), INT64_C(1700003600000), 1,
                         50000);
    is_str(buf, "/v2/aggs/ticker/AAPL/range/5/minute/1700000000000/"
                "1700003600000?adjusted=true&sort=desc&limit=50000",
           "path: aggregates");
    kx_polygon_path_news(buf, sizeof(buf), "TSLA", 10, 0);
    is_str(buf, "/v2/reference/news?ticker=TSLA&order=desc"
                "&sort=published_utc&limit=10", "path: news");
    n = kx_polygon_path_news(buf, sizeof(buf), "TSLA", 10,
                             INT64_C(1651165705000));
    is_str(buf, "/v2/reference/news?ticker=TSLA&order=desc"
                "&sort=published_utc&limit=10"
                "&published_utc.lt=2022-04-28T17%3A08%3A25.000Z",
           "path: news before a time");
    is_int((int64_t) n, (int64_t) strlen(buf), "path: length returned");

    n = kx_polygon_path_news(small, sizeof(small), "TSLA", 10,
                             INT64_C(1651165705000));
    ok(n >= sizeof(small) && small[0] == '\0',
       "path: too small a buffer gets nothing, and the length needed");

    p = kx_polygon_next_path(S("https://api.polygon.io/v2/x?cursor=a"), &n);
    ok(p && n == 14 && memcmp(p, "/v2/x?cursor=a", 14) == 0,
       "next_url: path and query only");
    p = kx_polygon_next_path(S("/v2/x?c=1"), &n);
    ok(p && n == 9, "next_url: already a path");
    ok(kx_polygon_next_path(S("https://evil.example"), &n) == NULL,
       "next_url: no path");
}


/* a status's text lives only during the callback: copied here */
static char  status_seen[64];


static int
collect_events(const kx_polygon_event_t *ev, void *data)
{
    kx_polygon_event_t  *out = data;
    size_t               i;

    if (ev->type == KX_POLYGON_EV_STATUS && ev->status_len < 64) {
        memcpy(status_seen, ev->status, ev->status_len);
        status_seen[ev->status_len] = '\0';
    }

    for (i = 0; out[i].type != KX_POLYGON_EV_OTHER || out[i].time_ms; i++) {
        /* find the first free slot */
    }

    out[i] = *ev;
    out[i].time_ms = ev->time_ms ? ev->time_ms : -1;

    return 0;
}


static void
test_ws(void)
{
    char                 buf[256], *s;
    kx_polygon_quote_t   q;
    kx_polygon_event_t   evs[8];
    const char *const    syms[] = { "AAPL", "TSLA" };

    kx_polygon_ws_auth(buf, sizeof(buf), S("k\"ey"));
    is_str(buf, "{\"action\":\"auth\",\"params\":\"k\\\"ey\"}",
           "ws: auth message, key escaped");
    kx_polygon_ws_subscribe(buf, sizeof(buf), syms, 2);
    is_str(buf, "{\"action\":\"subscribe\","
                "\"params\":\"Q.AAPL,T.AAPL,Q.TSLA,T.TSLA\"}",
           "ws: subscribe to quotes and trades");

    memset(evs, 0, sizeof(evs));
    is_int(kx_polygon_ws_events(
               S("[{\"ev\":\"status\",\"status\":\"auth_success\","
                 "\"message\":\"authenticated\"}]"), collect_events, evs),
           KX_POLYGON_OK, "ws: status message");
    ok(evs[0].type == KX_POLYGON_EV_STATUS
       && strcmp(status_seen, "auth_success") == 0, "ws: auth_success");

    memset(evs, 0, sizeof(evs));
    is_int(kx_polygon_ws_events(
               S("[{\"ev\":\"Q\",\"sym\":\"AAPL\",\"bx\":11,\"bp\":192.30,"
                 "\"bs\":200,\"ax\":12,\"ap\":192.32,\"as\":150,\"c\":1,"
                 "\"i\":[604],\"t\":1748476801240,\"q\":50385480,\"z\":3},"
                 "{\"ev\":\"T\",\"sym\":\"AAPL\",\"x\":4,\"i\":\"12345\","
                 "\"z\":3,\"p\":192.31,\"s\":100,\"c\":[12],"
                 "\"t\":1748476801234,\"q\":1},"
                 "{\"ev\":\"AM\",\"sym\":\"AAPL\",\"o\":1}]"),
               collect_events, evs),
           KX_POLYGON_OK, "ws: Q, T and AM in one message");
    ok(evs[0].type == KX_POLYGON_EV_QUOTE && evs[0].bid.v == 19230000000
       && evs[0].ask.v == 19232000000 && evs[0].bid_size == 200
       && evs[0].ask_size == 150 && evs[0].time_ms == 1748476801240,
       "ws: the Q event read exactly");
    ok(evs[1].type == KX_POLYGON_EV_TRADE && evs[1].price.v == 19231000000
       && evs[1].size == 100, "ws: the T event");
    ok(evs[2].type == KX_POLYGON_EV_OTHER && evs[2].time_ms == -1,
       "ws: AM passed on as other");

    /* the stream's state of one symbol */
    memset(&q, 0, sizeof(q));
    strcpy(q.symbol, "AAPL");
    q.prev_close.v = INT64_C(19000000000);
    q.has_prev_close = 1;

    is_int(kx_polygon_quote_apply(&q, &evs[0]), 1, "apply Q: changed");
    is_int(q.price.v, INT64_C(19231000000), "apply Q: price is the mid");
    is_int(kx_polygon_quote_apply(&q, &evs[0]), 0, "apply Q again: same");
    is_int(kx_polygon_quote_apply(&q, &evs[1]), 1, "apply T: changed");
    s = quote_text(&q);
    is_str(s, "{\"symbol\":\"AAPL\",\"price\":\"192.31\",\"bid\":\"192.30\","
              "\"ask\":\"192.32\",\"bid_size\":200,\"ask_size\":150,"
              "\"open\":null,\"prev_close\":\"190.00\","
              "\"change_percent\":\"1.22\","
              "\"timestamp\":\"2025-05-29T00:00:01.240Z\"}",
           "apply: our quote from the stream");
    free(s);

    strcpy(evs[0].symbol, "TSLA");
    is_int(kx_polygon_quote_apply(&q, &evs[0]), 0,
           "apply: another symbol's event is ignored");

    memset(evs, 0, sizeof(evs));
    is_int(kx_polygon_ws_events(
               S("[{\"ev\":\"Q\",\"sym\":\"AAPL\",\"bp\":\"x\",\"t\":1},"
                 "{\"ev\":\"status\",\"status\":\"success\"}]"),
               collect_events, evs),
           KX_POLYGON_EVALUE, "ws: a bad event is reported");
    ok(evs[0].type == KX_POLYGON_EV_STATUS,
       "ws: and the good one after it still delivered");
    is_int(kx_polygon_ws_events(S("nope"), collect_events, evs),
           KX_POLYGON_EJSON, "ws: not JSON");
}


static void
test_wsc(void)
{
    int             rc;
    char            key[KX_WSC_KEY_LEN + 1], req[512];
    size_t          used, n, hs;
    unsigned        status;
    kx_wsc_t        ws;
    kx_wsc_msg_t    msg;
    unsigned char   frame[300], payload[200];
    const unsigned char  nonce[16] = "the sample nonce";
    const unsigned char  mask[4] = { 0x37, 0xfa, 0x21, 0x3d };

    /* RFC 6455 1.3's example key */
    kx_wsc_key(nonce, key);
    is_str(key, "dGhlIHNhbXBsZSBub25jZQ==", "wsc: key from the nonce");

    kx_wsc_request(req, sizeof(req), "127.0.0.1:9", "/stocks", key);
    ok(strstr(req, "GET /stocks HTTP/1.1\r\nHost: 127.0.0.1:9\r\n") == req
       && strstr(req, "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n")
       && strstr(req, "Sec-WebSocket-Version: 13\r\n"),
       "wsc: handshake request");

#define RESP101 "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n" \
                "Connection: Upgrade\r\n"                                     \
                "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"

    is_int(kx_wsc_response(S(RESP101 "\x81\x02[]"), key, &hs, &status),
           KX_WSC_OK, "wsc: the RFC's 101 answer");
    is_int((int64_t) hs, (int64_t) sizeof(RESP101) - 1,
           "wsc: header size, frames may follow");
    is_int(kx_wsc_response(S("HTTP/1.1 101 Switching"), key, &hs, &status),
           KX_WSC_AGAIN, "wsc: partial answer");
    is_int(kx_wsc_response(S("HTTP/1.1 401 Unauthorized\r\n\r\n"), key, &hs,
                           &status),
           KX_WSC_EHANDSHAKE, "wsc: 401");
    is_int(status, 401, "wsc: its status");
    is_int(kx_wsc_response(
               S("HTTP/1.1 101 OK\r\nUpgrade: websocket\r\n"
                 "Connection: upgrade\r\nSec-WebSocket-Accept: x=\r\n\r\n"),
               key, &hs, &status),
           KX_WSC_EHANDSHAKE, "wsc: wrong accept key");
    is_int(kx_wsc_response(S("HTTP/1.1 101 Switching Protocols\r\n\r\n"),
                           key, &hs, &status),
           KX_WSC_EHANDSHAKE, "wsc: a 101 with no header lines");

    /* RFC 6455 5.7: a masked "Hello" */
    n = kx_wsc_frame(frame, sizeof(frame), KX_WSC_OP_TEXT,
                     (const unsigned char *) "Hello", 5, mask);
    is_mem((char *) frame, n,
           "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11,
           "wsc: the RFC's masked frame");

    memset(payload, 'a', sizeof(payload));
    n = kx_wsc_frame(frame, sizeof(frame), KX_WSC_OP_TEXT, payload, 200,
                     mask);
    ok(n == 208 && frame[1] == (0x80 | 126) && frame[3] == 200,
       "wsc: 16-bit length");
    ok(kx_wsc_frame(frame, 10, KX_WSC_OP_TEXT, payload, 200, mask) == 208,
       "wsc: size needed when it does not fit");

    kx_wsc_init(&ws, 64);

    rc = kx_wsc_read(&ws, (const unsigned char *) "\x81\x05Hello", 7, &used,
                     &msg);
    ok(rc == KX_WSC_OK && used == 7 && msg.opcode == KX_WSC_OP_TEXT
       && msg.len == 5 && memcmp(msg.data, "Hello", 5) == 0,
       "wsc: an unmasked text frame");

    rc = kx_wsc_read(&ws, (const unsigned char *) "\x81\x05Hel", 5, &used,
                     &msg);
    ok(rc == KX_WSC_AGAIN && used == 0, "wsc: incomplete frame");

    /* RFC 6455 5.7: fragmented "Hel" + "lo", a ping in between */
    rc = kx_wsc_read(&ws, (const unsigned char *) "\x01\x03Hel", 5, &used,
                     &msg);
    ok(rc == KX_WSC_OK && used == 5 && msg.opcode == 0, "wsc: fragment 1");
    rc = kx_wsc_read(&ws, (const unsigned char *) "\x89\x02hi", 4, &used,
                     &msg);
    ok(rc == KX_WSC_OK && msg.opcode == KX_WSC_OP_PING && msg.len == 2,
       "wsc: a ping between fragments");
    rc = kx_wsc_read(&ws, (const unsigned char *) "\x80\x02lo", 4, &used,
                     &msg);
    ok(rc == KX_WSC_OK && msg.opcode == KX_WSC_OP_TEXT && msg.len == 5
       && memcmp(msg.data, "Hello", 5) == 0, "wsc: fragments joined");

    is_int(kx_wsc_read(&ws, (const unsigned char *) "\x80\x02lo", 4, &used,
                       &msg),
           KX_WSC_EPROTO, "wsc: a continuation with nothing to continue");
    is_int(kx_wsc_read(&ws, (const unsigned char *) "\x81\x82\0\0\0\0hi", 8,
                       &used, &msg),
           KX_WSC_EPROTO, "wsc: a masked server frame");
    is_int(kx_wsc_read(&ws, (const unsigned char *) "\xc1\x00", 2, &used,
                       &msg),
           KX_WSC_EPROTO, "wsc: reserved bits");
    is_int(kx_wsc_read(&ws, (const unsigned char *) "\x09\x00", 2, &used,
                       &msg),
           KX_WSC_EPROTO, "wsc: a fragmented ping");
    is_int(kx_wsc_read(&ws, (const unsigned char *) "\x81\x7e\x01\x00", 4,
                       &used, &msg),
           KX_WSC_ETOOBIG, "wsc: a frame over the limit");
    is_int(kx_wsc_read(&ws, (const unsigned char *) "\x88\x02\x03\xe8", 4,
                       &used, &msg),
           KX_WSC_OK, "wsc: close frame");
    ok(msg.opcode == KX_WSC_OP_CLOSE && msg.len == 2, "wsc: close payload");

    kx_wsc_free(&ws);
}


static int
count_events(const kx_polygon_event_t *ev, void *data)
{
    (void) ev;
    (*(size_t *) data)++;
    return 0;
}


/* found with fuzz/fuzz_polygon.c's checks */
static void
test_polygon_fuzz(void)
{
    int                  rc;
    size_t               n, len;
    kx_jw_t              w;
    const char          *out;
    kx_json_doc_t       *doc;
    kx_sim_news_t        items[2];
    kx_polygon_quote_t   q;

    n = 0;

    /* (100000 - 0.00000001) / 0.00000001 * 100 is 10^15 percent: it
     * was multiplied past int64 and came out as garbage */
    is_int(kx_polygon_parse_snapshot(
               S("{\"ticker\":{\"ticker\":\"X\","
                 "\"lastTrade\":{\"p\":100000},"
                 "\"prevDay\":{\"c\":0.00000001}}}"), &q),
           KX_POLYGON_OK, "snapshot: a price over a tiny previous close");
    ok(q.has_price && !q.has_change,
       "snapshot: a change that does not fit is absent");

    /* the midpoint of two maximal prices rounds up past the maximum */
    is_int(kx_polygon_parse_nbbo(
               S("{\"results\":{\"p\":92233720368.54775807,"
                 "\"P\":92233720368.54775807}}"), "X", &q),
           KX_POLYGON_OK, "nbbo: bid and ask at the maximum");
    ok(q.has_bid && q.has_ask && !q.has_price,
       "nbbo: a midpoint that does not fit is absent");

    /* a 9th place rounded the largest value up: INT64_MAX + 1 */
    is_int(kx_polygon_parse_snapshot(
               S("{\"ticker\":{\"ticker\":\"X\","
                 "\"lastTrade\":{\"p\":92233720368.547758075}}}"), &q),
           KX_POLYGON_EVALUE, "snapshot: a price rounded past the maximum");
    is_int(kx_polygon_parse_snapshot(
               S("{\"ticker\":{\"ticker\":\"X\","
                 "\"lastTrade\":{\"p\":92233720368.547758074}}}"), &q),
           KX_POLYGON_OK, "snapshot: and one rounded down to it");
    is_int(q.price.v, INT64_MAX, "snapshot: the largest price");

    /* and the smallest down to INT64_MIN, which no kx_dec_t holds: a
     * trade's size was read from it */
    is_int(kx_polygon_ws_events(
               S("[{\"ev\":\"T\",\"sym\":\"X\",\"p\":1,\"t\":1,"
                 "\"s\":-92233720368.547758075}]"), count_events, &n),
           KX_POLYGON_EVALUE, "ws: a size rounded past the smallest value");
    is_int((int64_t) n, 0, "ws: is not an event");

    /* sizes are counts, as a quote's are */
    n = 0;
    is_int(kx_polygon_ws_events(
               S("[{\"ev\":\"T\",\"sym\":\"X\",\"p\":1,\"t\":1,"
                 "\"s\":-5}]"), count_events, &n),
           KX_POLYGON_EVALUE, "ws: a trade of negative size refused");

    /* "2022-02-31" counted on into March */
    rc = kx_json_parse(S("{\"results\":[{\"id\":\"1\",\"title\":\"t\","
                         "\"published_utc\":\"2022-02-31T10:00:00Z\"},"
                         "{\"id\":\"2\",\"title\":\"t\","
                         "\"published_utc\":\"2024-02-29T10:00:00Z\"}]}"),
                       NULL, &doc, NULL);
    is_int(rc, KX_JSON_PE_OK, "news: dates parsed as JSON");
    if (rc != KX_JSON_PE_OK) {
        return;
    }

    is_int(kx_polygon_news_items(doc, "X", items, 2, &n), KX_POLYGON_OK,
           "news items: dates");
    is_int(items[0].published_ms, 0, "news items: no February 31st");
    is_int(items[1].published_ms, INT64_C(1709200800000),
           "news items: a leap day");
    kx_json_free(doc);

    kx_jw_init(&w);
    kx_jw_arr_begin(&w);
    kx_polygon_news_json(&w,
                         S("{\"results\":[{\"id\":\"1\",\"title\":\"t\","
                           "\"published_utc\":\"2022-02-31T10:00:00Z\"}]}"),
                         "X", 1, &n);
    kx_jw_arr_end(&w);
    ok(kx_jw_finish(&w, &out, &len) == KX_JW_OK
       && strstr(out, "\"published_at\":\"2022-02-31T10:00:00Z\"") != NULL,
       "news: an invalid date is passed on as sent");
    kx_jw_free(&w);
}


/* found by fuzz/fuzz_wsc.c */
static void
test_wsc_fuzz(void)
{
    int             rc;
    char            key[KX_WSC_KEY_LEN + 1], *big;
    size_t          used, hs, n, pad;
    unsigned        status;
    kx_wsc_t        ws;
    kx_wsc_msg_t    msg;
    const unsigned char  nonce[16] = "the sample nonce";

#define HDRS101 "Upgrade: websocket\r\nConnection: Upgrade\r\n"            \
                "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"

    kx_wsc_key(nonce, key);

    /* a status code was read as digits without checking for them:
     * '/' and ';' count -1 and 11, so "1/;" came out 101 */
    is_int(kx_wsc_response(S("HTTP/1.1 1/; Switching\r\n" HDRS101), key,
                           &hs, &status),
           KX_WSC_EHANDSHAKE, "wsc: \"1/;\" is not a status code");
    is_int(kx_wsc_response(S("HTTP/1.1 1010 Switching\r\n" HDRS101), key,
                           &hs, &status),
           KX_WSC_EHANDSHAKE, "wsc: nor is \"1010\"");
    is_int(kx_wsc_response(S("HTTP/1.1 101\r\n" HDRS101), key, &hs,
                           &status),
           KX_WSC_OK, "wsc: a 101 without a reason phrase");

    /* the size limit held only while the blank line was missing: a long
     * header was refused or accepted as the reads happened to split it */
    pad = 17000;
    n = sizeof("HTTP/1.1 101 OK\r\nX-Pad: ") - 1 + pad + 2
        + sizeof(HDRS101) - 1;
    big = malloc(n);
    ok(big != NULL, "wsc: memory for a long header");
    if (big == NULL) {
        return;
    }

    memcpy(big, "HTTP/1.1 101 OK\r\nX-Pad: ", 24);
    memset(big + 24, 'a', pad);
    memcpy(big + 24 + pad, "\r\n" HDRS101, n - 24 - pad);

    is_int(kx_wsc_response(big, 16385, key, &hs, &status),
           KX_WSC_EHANDSHAKE, "wsc: a header over the limit, in part");
    is_int(kx_wsc_response(big, n, key, &hs, &status),
           KX_WSC_EHANDSHAKE, "wsc: and whole: the same verdict");
    free(big);

#undef HDRS101

    /* a message of empty fragments: its data was NULL, and the empty
     * append computed NULL + 0 */
    kx_wsc_init(&ws, 64);
    rc = kx_wsc_read(&ws, (const unsigned char *) "\x01\x00", 2, &used,
                     &msg);
    ok(rc == KX_WSC_OK && used == 2 && msg.opcode == 0,
       "wsc: an empty first fragment");
    rc = kx_wsc_read(&ws, (const unsigned char *) "\x80\x00", 2, &used,
                     &msg);
    ok(rc == KX_WSC_OK && used == 2 && msg.opcode == KX_WSC_OP_TEXT
       && msg.len == 0 && msg.data != NULL,
       "wsc: an empty fragmented message has data");
    kx_wsc_free(&ws);
}


int
main(void)
{
    test_snapshot();
    test_snapshots_and_nbbo();
    test_aggs();
    test_news();
    test_news_items();
    test_sim_types();
    test_paths();
    test_ws();
    test_wsc();
    test_wsc_fuzz();
    test_polygon_fuzz();

    return kx_tap_done();
}
