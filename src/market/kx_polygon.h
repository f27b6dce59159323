
/*
 * Copyright (C) Kianax
 */


#ifndef _KX_POLYGON_H_INCLUDED_
#define _KX_POLYGON_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include "core/kx_decimal.h"
#include "core/kx_json.h"
#include "kx_sim.h"
#include "kx_sim_bars.h"
#include "kx_sim_news.h"


/*
 * The Polygon.io (now also "Massive") market data wire formats: request
 * paths for the REST API, readers of its answers, and the messages of
 * its WebSocket stream (wss://socket.polygon.io/stocks), turned into our
 * own quote, bar and news shapes.
 *
 * Polygon sends prices as JSON numbers.  They are read from the number's
 * text (kx_json keeps it) into kx_dec_t, never through a double, so
 * 155.65 stays 155.65.  A value with more than 8 fraction digits is
 * rounded half away from zero at the 8th.
 *
 * A zero price or size means "none" (Polygon's snapshot shows zeros for
 * a day that has not traded yet), so it is kept as absent.
 *
 *   REST (documented at massive.com/docs/rest/stocks):
 *     snapshot    GET /v2/snapshot/locale/us/markets/stocks/tickers/{T}
 *                 {"status":"OK","ticker":{"ticker","day":{o,h,l,c,v,vw},
 *                  "lastQuote":{P,S,p,s,t},"lastTrade":{p,s,t,x,i,c},
 *                  "prevDay":{...},"todaysChangePerc","updated"}}
 *     snapshots   GET /v2/snapshot/locale/us/markets/stocks/tickers
 *                     ?tickers=A,B      {"tickers":[<as above>, ...]}
 *     last quote  GET /v2/last/nbbo/{T}
 *                 {"status":"OK","results":{P,S,X,p,s,x,t (ns),T,...}}
 *     aggregates  GET /v2/aggs/ticker/{T}/range/{mult}/{timespan}/{from}
 *                     /{to}?adjusted=true&sort=asc|desc&limit=
 *                 {"ticker","results":[{o,h,l,c,v,vw,t (ms),n}],
 *                  "next_url"}
 *     news        GET /v2/reference/news?ticker=T&limit=&order=desc
 *                 {"results":[{id,publisher{name},title,author,
 *                  published_utc,article_url,tickers,description,
 *                  insights[{ticker,sentiment}]}],"next_url"}
 *     errors      {"status":"ERROR"|"NOT_AUTHORIZED"|"NOT_FOUND",
 *                  "error"|"message":"..."}
 *
 *   WebSocket: every message is a JSON array of events:
 *     [{"ev":"status","status":"connected"|"auth_success"|"auth_failed"|
 *       "success"|"max_connections"|...,"message":"..."}]
 *     [{"ev":"Q","sym","bx","bp","bs","ax","ap","as","c","i","t" (ms),
 *       "q","z"}]
 *     [{"ev":"T","sym","x","i","z","p","s","c","t" (ms),"q"}]
 */


#define KX_POLYGON_SYM_MAX    16       /* "BRK.B" fits with room */
#define KX_POLYGON_PATH_MAX   512
#define KX_POLYGON_AGGS_LIMIT 50000    /* Polygon's maximum */


enum {
    KX_POLYGON_OK = 0,
    KX_POLYGON_EJSON,           /* not JSON, or not the documented shape */
    KX_POLYGON_ENOTFOUND,       /* a valid answer without the data */
    KX_POLYGON_EVALUE,          /* a field that is not a valid value */
    KX_POLYGON_ESPACE,          /* the output buffer is too small */
    KX_POLYGON_EINVAL           /* a bad argument (symbol, timeframe) */
};


typedef struct {
    char            symbol[KX_POLYGON_SYM_MAX + 1];
    kx_dec_t        price;          /* last trade, else the midpoint */
    kx_dec_t        bid;
    kx_dec_t        ask;
    int64_t         bid_size;       /* shares */
    int64_t         ask_size;
    kx_dec_t        open;           /* today's open */
    kx_dec_t        prev_close;
    kx_dec_t        change_percent; /* price vs prev_close, 2 places */
    int64_t         time_ms;        /* newest of quote and trade */

    unsigned        has_trade:1;    /* price is a trade's */
    unsigned        has_price:1;
    unsigned        has_bid:1;
    unsigned        has_ask:1;
    unsigned        has_open:1;
    unsigned        has_prev_close:1;
    unsigned        has_change:1;
} kx_polygon_quote_t;


typedef struct {
    int64_t         t;              /* bar start, Unix ms */
    kx_dec_t        o;
    kx_dec_t        h;
    kx_dec_t        l;
    kx_dec_t        c;
    kx_dec_t        vw;
    int64_t         v;              /* shares, rounded half-even */
    int64_t         n;              /* trades; 0 when absent */
} kx_polygon_bar_t;


typedef enum {
    KX_POLYGON_EV_OTHER = 0,        /* an event we do not use (AM, ...) */
    KX_POLYGON_EV_STATUS,
    KX_POLYGON_EV_QUOTE,            /* Q */
    KX_POLYGON_EV_TRADE             /* T */
} kx_polygon_ev_e;


typedef struct {
    kx_polygon_ev_e  type;

    /* status: pointers into the parsed message, valid in the callback */
    const char      *status;
    size_t           status_len;
    const char      *message;
    size_t           message_len;

    /* Q and T */
    char             symbol[KX_POLYGON_SYM_MAX + 1];
    kx_dec_t         bid;           /* Q: bp */
    kx_dec_t         ask;           /* Q: ap */
    int64_t          bid_size;      /* Q: bs */
    int64_t          ask_size;      /* Q: as */
    kx_dec_t         price;         /* T: p */
    int64_t          size;          /* T: s */
    int64_t          time_ms;       /* t */
} kx_polygon_event_t;


/* 0 to go on, anything else stops the walk (and is returned) */
typedef int (*kx_polygon_event_pt)(const kx_polygon_event_t *ev,
    void *data);
typedef int (*kx_polygon_quote_pt)(const kx_polygon_quote_t *q,
    void *data);


/*
 * A ticker Polygon accepts in a path: 1..16 of [A-Z0-9.]; "aapl" is
 * not one (Polygon's tickers are case-sensitive).
 */
int kx_polygon_symbol_valid(const char *sym, size_t len);

/*
 * Our timeframes (1m 5m 15m 1h 1d) as Polygon's multiplier and
 * timespan; also the timeframe's length.  KX_POLYGON_EINVAL otherwise.
 */
int kx_polygon_timeframe(const char *tf, size_t len, unsigned *mult,
    const char **timespan, int64_t *ms);


/*
 * Request paths (with their query strings), NUL-terminated into buf.
 * Like snprintf they return the full length; KX_POLYGON_ESPACE is not
 * used, a caller checks "< size".  The key is not part of them: send
 * it as "Authorization: Bearer <key>" so that it stays out of URLs.
 */
size_t kx_polygon_path_snapshot(char *buf, size_t size, const char *sym);
size_t kx_polygon_path_snapshots(char *buf, size_t size,
    const char *const *syms, size_t n);
size_t kx_polygon_path_nbbo(char *buf, size_t size, const char *sym);
size_t kx_polygon_path_aggs(char *buf, size_t size, const char *sym,
    unsigned mult, const char *timespan, int64_t from_ms, int64_t to_ms,
    int descending, unsigned limit);
size_t kx_polygon_path_news(char *buf, size_t size, const char *sym,
    unsigned limit, int64_t before_ms);

/*
 * The path and query of a next_url ("https://api.polygon.io/v2/...?
 * cursor=..."), to be sent to the configured base URL: the key never
 * follows a URL to a host the configuration did not name.  Returns a
 * pointer into url and sets *len, or NULL when url has no path.
 */
const char *kx_polygon_next_path(const char *url, size_t url_len,
    size_t *len);


/*
 * REST answers.  Each takes the body as received.
 *
 * kx_polygon_parse_snapshot: one ticker's snapshot into q (finished:
 * price and change_percent computed).  KX_POLYGON_ENOTFOUND when the
 * answer holds no ticker.
 */
int kx_polygon_parse_snapshot(const char *body, size_t len,
    kx_polygon_quote_t *q);

/* every ticker of a multi-ticker snapshot, in the answer's order */
int kx_polygon_parse_snapshots(const char *body, size_t len,
    kx_polygon_quote_pt handler, void *data);

/* the last NBBO: bid, ask, sizes and time; no trade, open or close */
int kx_polygon_parse_nbbo(const char *body, size_t len, const char *sym,
    kx_polygon_quote_t *q);

/*
 * Aggregates: up to max bars into out (*n of them), in the answer's
 * order; the next_url, if any, NUL-terminated into next (empty when
 * none; KX_POLYGON_ESPACE when it does not fit).  An answer with no
 * results is KX_POLYGON_OK with *n = 0.
 */
int kx_polygon_parse_aggs(const char *body, size_t len,
    kx_polygon_bar_t *out, size_t max, size_t *n, char *next,
    size_t next_size);

/*
 * News: up to max items of the answer as our news objects, appended to
 * w (inside an array the caller opened), for symbol sym (whose insight
 * gives the sentiment).  *n: items written.
 */
int kx_polygon_news_json(kx_jw_t *w, const char *body, size_t len,
    const char *sym, size_t max, size_t *n);

/*
 * News into the market port's items (kx_sim_news_t): id, title, summary
 * (description), url (article_url) cut to their buffers at a character
 * boundary; published_ms; the sentiment of sym's insight (neutral when
 * none); source points to the publisher's name inside doc, so doc must
 * outlive the items.  Items without id or title are skipped.  sym
 * (the index) is left for the caller.
 */
int kx_polygon_news_items(const kx_json_doc_t *doc, const char *sym,
    kx_sim_news_t *out, size_t max, size_t *n);

/* our quote and bar as the market port's types; absent values are 0 */
void kx_polygon_sim_quote(const kx_polygon_quote_t *q, unsigned sym,
    kx_sim_quote_t *out);
void kx_polygon_sim_bar(const kx_polygon_bar_t *b, kx_sim_bar_t *out);

/*
 * An error answer's text for logs and messages: "status: error" into
 * buf (NUL-terminated, cut to size).  Anything else as "HTTP body".
 */
void kx_polygon_error_text(const char *body, size_t len, char *buf,
    size_t size);


/*
 * The WebSocket: the auth and subscribe messages (Q and T of each
 * symbol), NUL-terminated like the paths; and a walk over the events
 * of one received message.
 */
size_t kx_polygon_ws_auth(char *buf, size_t size, const char *key,
    size_t key_len);
size_t kx_polygon_ws_subscribe(char *buf, size_t size,
    const char *const *syms, size_t n);

int kx_polygon_ws_events(const char *msg, size_t len,
    kx_polygon_event_pt handler, void *data);

/*
 * Folds a Q or T event of q's symbol into q (bid/ask/sizes, or the
 * trade price) and finishes it.  Returns 1 when q changed.
 */
int kx_polygon_quote_apply(kx_polygon_quote_t *q,
    const kx_polygon_event_t *ev);

/*
 * Derived fields: price is the last trade, else the midpoint of a
 * two-sided quote (half-even at 4 places); change_percent is
 * (price - prev_close) / prev_close * 100, half-even at 2 places.
 */
void kx_polygon_quote_finish(kx_polygon_quote_t *q);


/*
 * Our shapes (those of the simulated market): absent values are null.
 *   quote {"symbol","price","bid","ask","bid_size","ask_size","open",
 *          "prev_close","change_percent","timestamp"}
 *   bar   {"t","o","h","l","c","v"}
 * Prices are decimal strings with at least 2 places and every digit
 * Polygon sent ("155.65", "0.1234").
 */
void kx_polygon_quote_json(kx_jw_t *w, const kx_polygon_quote_t *q);
void kx_polygon_bar_json(kx_jw_t *w, const kx_polygon_bar_t *b);

/* a price as above: at least 2 places, never rounded */
void kx_polygon_jw_price(kx_jw_t *w, kx_dec_t d);

const char *kx_polygon_strerror(int rc);


#endif /* _KX_POLYGON_H_INCLUDED_ */
