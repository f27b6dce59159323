
/*
 * Copyright (C) Kianax
 *
 * The market data service's read endpoints over the built-in simulated
 * market (src/market): quotes, batch quotes, history bars, indicators,
 * news and the symbol universe.
 *
 *   GET       /v1/symbols
 *   GET       /v1/quotes/{symbol}
 *   GET|POST  /v1/quotes/batch           ?symbols=A,B  or {"symbols":[..]}
 *   GET       /v1/history/{symbol}       ?timeframe=&from=&to=&limit=
 *   GET       /v1/indicators/{symbol}/{sma|ema|rsi|macd|bollinger}
 *                                        ?period=&timeframe=&to=&limit=
 *                                        (macd: fast, slow, signal;
 *                                         bollinger: period, k)
 *   GET       /v1/news/{symbol}          ?limit=&before=
 *
 * Every worker owns one kx_sim_t.  The simulation is a pure function of
 * the seed and of time, so workers need not share it: two workers give
 * the same history, and their quotes differ only by the walk's noise.
 * Quotes advance lazily, on the requests that read them, so an idle
 * worker costs nothing.
 *
 * History serves completed bars only (t + timeframe <= now): the
 * simulated path exists for every instant, and a bar still in progress
 * would show its future high, low and close.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_kx.h"
#include "market/kx_indicators.h"
#include "market/kx_sim.h"
#include "market/kx_sim_bars.h"
#include "market/kx_sim_hours.h"
#include "market/kx_sim_news.h"
#include "market/kx_symbols.h"


#define KX_MARKET_BATCH_MAX       100
#define KX_MARKET_BODY_MAX        16384
#define KX_MARKET_LIMIT_DEFAULT   100
#define KX_MARKET_LIMIT_MAX       5000

/*
 * History is computed, not stored: a bar costs one step per minute it
 * spans (~0.16 us each).  A request may ask for at most this many minute
 * steps (~30 ms of CPU), so no request stalls the worker for long; a
 * year of daily bars in "always" mode needs several requests.
 * TODO: move long history work to a thread pool and cache it in Redis.
 */
#define KX_MARKET_MINUTES_MAX     200000
#define KX_MARKET_PERIOD_MAX      1000
#define KX_MARKET_NEWS_DEFAULT    10
#define KX_MARKET_NEWS_MAX        50
#define KX_MARKET_CHUNK           256

#define KX_MARKET_SYMBOLS         1
#define KX_MARKET_QUOTE           2
#define KX_MARKET_BATCH           3
#define KX_MARKET_HISTORY         4
#define KX_MARKET_INDICATOR       5
#define KX_MARKET_NEWS            6

#define KX_IND_SMA                1
#define KX_IND_EMA                2
#define KX_IND_RSI                3
#define KX_IND_MACD               4
#define KX_IND_BOLLINGER          5


typedef struct {
    ngx_int_t                 seed;
    ngx_uint_t                hours;
    ngx_uint_t                enabled;    /* some location has kx_market */
} ngx_http_kx_market_main_conf_t;


/* a validation failure: the status and message to answer with */
typedef struct {
    ngx_uint_t                status;
    const char               *code;
    char                      msg[256];
} ngx_http_kx_market_err_t;


static ngx_int_t ngx_http_kx_market_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_kx_market_symbols(ngx_http_request_t *r);
static ngx_int_t ngx_http_kx_market_quote(ngx_http_request_t *r,
    ngx_str_t *symbol);
static void ngx_http_kx_market_batch_body(ngx_http_request_t *r,
    kx_json_doc_t *doc);
static ngx_int_t ngx_http_kx_market_batch(ngx_http_request_t *r,
    ngx_str_t *items, ngx_uint_t n);
static ngx_int_t ngx_http_kx_market_history(ngx_http_request_t *r,
    ngx_str_t *symbol);
static ngx_int_t ngx_http_kx_market_indicator(ngx_http_request_t *r,
    ngx_str_t *symbol, ngx_str_t *name);
static ngx_int_t ngx_http_kx_market_news(ngx_http_request_t *r,
    ngx_str_t *symbol);
static char *ngx_http_kx_market(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static void *ngx_http_kx_market_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_kx_market_init_main_conf(ngx_conf_t *cf, void *conf);
static ngx_int_t ngx_http_kx_market_init_process(ngx_cycle_t *cycle);
static void ngx_http_kx_market_exit_process(ngx_cycle_t *cycle);


static ngx_conf_enum_t  ngx_http_kx_market_hours[] = {
    { ngx_string("always"), KX_SIM_HOURS_ALWAYS },
    { ngx_string("nyse"), KX_SIM_HOURS_NYSE },
    { ngx_null_string, 0 }
};


static ngx_command_t  ngx_http_kx_market_commands[] = {

    { ngx_string("kx_market"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_kx_market,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("kx_market_seed"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_kx_market_main_conf_t, seed),
      NULL },

    { ngx_string("kx_market_hours"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_kx_market_main_conf_t, hours),
      &ngx_http_kx_market_hours },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_kx_market_module_ctx = {
    NULL,                                  /* preconfiguration */
    NULL,                                  /* postconfiguration */

    ngx_http_kx_market_create_main_conf,   /* create main configuration */
    ngx_http_kx_market_init_main_conf,     /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    NULL,                                  /* create location configuration */
    NULL                                   /* merge location configuration */
};


ngx_module_t  ngx_http_kx_market_module = {
    NGX_MODULE_V1,
    &ngx_http_kx_market_module_ctx,        /* module context */
    ngx_http_kx_market_commands,           /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_kx_market_init_process,       /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_kx_market_exit_process,       /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


/* this worker's market; NULL in processes that serve no requests */
static kx_sim_t  *ngx_http_kx_market_sim;


static int64_t
ngx_http_kx_market_now(void)
{
    ngx_time_t  *tp;

    tp = ngx_timeofday();

    return (int64_t) tp->sec * 1000 + (int64_t) tp->msec;
}


static ngx_int_t
ngx_http_kx_market_fail(ngx_http_request_t *r, ngx_http_kx_market_err_t *e)
{
    return ngx_http_kx_send_error(r, e->status, e->code, e->msg);
}


static ngx_int_t
ngx_http_kx_market_invalid(ngx_http_request_t *r, const char *param,
    const char *what)
{
    ngx_http_kx_market_err_t  e;

    e.status = NGX_HTTP_KX_UNPROCESSABLE;
    e.code = "validation_failed";
    *ngx_snprintf((u_char *) e.msg, sizeof(e.msg) - 1, "%s: %s", param, what)
        = '\0';

    return ngx_http_kx_market_fail(r, &e);
}


/* the symbol's index; upper case is not required ("aapl" is AAPL) */
static int
ngx_http_kx_market_find(const u_char *s, size_t len)
{
    size_t  i;
    char    buf[KX_SYMBOL_MAX_LEN];

    if (len == 0 || len > KX_SYMBOL_MAX_LEN) {
        return -1;
    }

    for (i = 0; i < len; i++) {
        buf[i] = (char) ngx_toupper(s[i]);
    }

    return kx_symbol_index(buf, len);
}


/* the symbol of a path segment, or a 404 answered; -1 then */
static int
ngx_http_kx_market_path_symbol(ngx_http_request_t *r, ngx_str_t *symbol,
    ngx_int_t *rc)
{
    int     sym;
    u_char  msg[96];

    sym = ngx_http_kx_market_find(symbol->data, symbol->len);
    if (sym >= 0) {
        return sym;
    }

    /* the name is echoed, cut short: a path can be long */
    *ngx_snprintf(msg, sizeof(msg) - 1, "unknown symbol %*s",
                  ngx_min(symbol->len, (size_t) 32), symbol->data) = '\0';

    *rc = ngx_http_kx_send_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                 (const char *) msg);
    return -1;
}


/*
 * A query argument, percent-decoded and NUL-terminated: NGX_OK, or
 * NGX_DECLINED when absent, or NGX_ERROR.
 */
static ngx_int_t
ngx_http_kx_market_arg(ngx_http_request_t *r, const char *name,
    ngx_str_t *out)
{
    u_char     *dst, *src;
    ngx_str_t   v;

    if (ngx_http_arg(r, (u_char *) name, ngx_strlen(name), &v) != NGX_OK) {
        return NGX_DECLINED;
    }

    dst = ngx_pnalloc(r->pool, v.len + 1);
    if (dst == NULL) {
        return NGX_ERROR;
    }

    out->data = dst;
    src = v.data;
    ngx_unescape_uri(&dst, &src, v.len, NGX_UNESCAPE_URI);
    out->len = dst - out->data;
    *dst = '\0';

    return NGX_OK;
}


/*
 * An integer argument in [min, max], dflt when absent: NGX_OK,
 * NGX_DECLINED when invalid (answer 422), NGX_ERROR.
 */
static ngx_int_t
ngx_http_kx_market_int_arg(ngx_http_request_t *r, const char *name,
    ngx_int_t dflt, ngx_int_t min, ngx_int_t max, ngx_int_t *out)
{
    ngx_int_t  rc, n;
    ngx_str_t  v;

    rc = ngx_http_kx_market_arg(r, name, &v);
    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc == NGX_DECLINED) {
        *out = dflt;
        return NGX_OK;
    }

    n = (v.len > 9) ? NGX_ERROR : ngx_atoi(v.data, v.len);
    if (n == NGX_ERROR || n < min || n > max) {
        return NGX_DECLINED;
    }

    *out = n;

    return NGX_OK;
}


static ngx_int_t
ngx_http_kx_market_digits(const u_char **p, const u_char *end, size_t n,
    int64_t *out)
{
    int64_t  v;

    if ((size_t) (end - *p) < n) {
        return NGX_ERROR;
    }

    for (v = 0; n; n--, (*p)++) {
        if (**p < '0' || **p > '9') {
            return NGX_ERROR;
        }
        v = v * 10 + (**p - '0');
    }

    *out = v;

    return NGX_OK;
}


/*
 * A time: Unix epoch milliseconds (digits only), or ISO 8601 UTC,
 * "2026-11-25", "2026-11-25T20:29", "2026-11-25T20:29:00[.250]Z" (a
 * time of day needs "Z" or "+00:00": local times are ambiguous).
 */
static ngx_int_t
ngx_http_kx_market_time(ngx_str_t *s, int64_t *out)
{
    int64_t        y, mo, d, h, mi, sec, ms, digit, days, cy;
    unsigned       cm, cd;
    const u_char  *p, *end;

    p = s->data;
    end = p + s->len;

    if (s->len == 0) {
        return NGX_ERROR;
    }

    if (s->len <= 15 && ngx_http_kx_market_digits(&p, end, s->len, &ms)
                        == NGX_OK)
    {
        if (ms > KX_SIM_MAX_MS) {
            return NGX_ERROR;
        }
        *out = ms;
        return NGX_OK;
    }

    p = s->data;
    h = mi = sec = ms = 0;

    if (ngx_http_kx_market_digits(&p, end, 4, &y) != NGX_OK
        || p == end || *p++ != '-'
        || ngx_http_kx_market_digits(&p, end, 2, &mo) != NGX_OK
        || p == end || *p++ != '-'
        || ngx_http_kx_market_digits(&p, end, 2, &d) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (p != end) {
        if (*p != 'T' && *p != 't' && *p != ' ') {
            return NGX_ERROR;
        }
        p++;

        if (ngx_http_kx_market_digits(&p, end, 2, &h) != NGX_OK
            || p == end || *p++ != ':'
            || ngx_http_kx_market_digits(&p, end, 2, &mi) != NGX_OK)
        {
            return NGX_ERROR;
        }

        if (p != end && *p == ':') {
            p++;
            if (ngx_http_kx_market_digits(&p, end, 2, &sec) != NGX_OK) {
                return NGX_ERROR;
            }

            if (p != end && *p == '.') {
                p++;
                if (p == end || *p < '0' || *p > '9') {
                    return NGX_ERROR;
                }

                /* milliseconds from the first three digits */
                for (digit = 100; p != end && *p >= '0' && *p <= '9'; p++) {
                    ms += (*p - '0') * digit;
                    digit /= 10;
                }
            }
        }

        if (end - p == 1 && (*p == 'Z' || *p == 'z')) {
            p++;

        } else if (end - p == 6 && ngx_strncmp(p, "+00:00", 6) == 0) {
            p += 6;

        } else {
            return NGX_ERROR;
        }
    }

    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59
        || sec > 59 || y < 1900 || y > 2199)
    {
        return NGX_ERROR;
    }

    days = kx_days_from_civil(y, (unsigned) mo, (unsigned) d);

    /* 2026-02-31 is not a date */
    kx_civil_from_days(days, &cy, &cm, &cd);
    if (cy != y || cm != mo || cd != d) {
        return NGX_ERROR;
    }

    *out = days * KX_MS_PER_DAY + h * KX_MS_PER_HOUR + mi * KX_MS_PER_MINUTE
           + sec * 1000 + ms;

    return NGX_OK;
}


/*
 * The bars of sym in [from, to): with has_from the first limit of them,
 * else the last limit (the newest before to).  Oldest first, into a
 * pool array.  NGX_OK or NGX_ERROR.
 */
static ngx_int_t
ngx_http_kx_market_bars(ngx_http_request_t *r, size_t sym, kx_sim_tf_e tf,
    ngx_uint_t has_from, int64_t from, int64_t to, size_t limit,
    kx_sim_bar_t **out, size_t *n)
{
    int            rc;
    size_t         i, k, total, head;
    int64_t        span, start, tf_ms;
    ngx_uint_t     try;
    kx_sim_bar_t  *ring, *chunk, *res;
    kx_sim_t      *sim;

    sim = ngx_http_kx_market_sim;

    ring = ngx_palloc(r->pool, limit * sizeof(kx_sim_bar_t));
    if (ring == NULL) {
        return NGX_ERROR;
    }

    *out = ring;
    *n = 0;

    if (from >= to) {
        return NGX_OK;
    }

    if (has_from) {
        rc = kx_sim_bars(sim, sym, tf, from, to, ring, limit, n);
        return (rc == KX_SIM_OK || rc == KX_SIM_ETRUNC) ? NGX_OK : NGX_ERROR;
    }

    chunk = ngx_palloc(r->pool, KX_MARKET_CHUNK * sizeof(kx_sim_bar_t));
    if (chunk == NULL) {
        return NGX_ERROR;
    }

    /*
     * Bars come oldest first, so the newest ones are found by guessing
     * a window that holds enough of them, keeping the last limit read
     * in a ring, and doubling the window while it falls short.  Always
     * hours fill every slot; nyse sessions fill about a sixth of the
     * intraday slots and five days of seven.
     */
    tf_ms = kx_sim_tf_ms(tf);
    span = (int64_t) limit * tf_ms + tf_ms;

    if (sim->hours == KX_SIM_HOURS_NYSE) {
        span = (tf == KX_SIM_TF_1D) ? span * 3 / 2 : span * 6;
        span += 7 * KX_MS_PER_DAY;
    }

    total = 0;

    for (try = 0; try < 12; try++) {
        start = (to - KX_SIM_MIN_MS > span) ? to - span : KX_SIM_MIN_MS;
        total = 0;

        for (k = 0, rc = KX_SIM_ETRUNC; rc == KX_SIM_ETRUNC; /* void */) {
            rc = kx_sim_bars(sim, sym, tf, start, to, chunk, KX_MARKET_CHUNK,
                             &k);
            if (rc != KX_SIM_OK && rc != KX_SIM_ETRUNC) {
                return NGX_ERROR;
            }

            for (i = 0; i < k; i++) {
                ring[total++ % limit] = chunk[i];
            }

            if (k == 0) {
                break;
            }

            start = chunk[k - 1].t + 1;
        }

        if (total >= limit || to - KX_SIM_MIN_MS <= span) {
            break;
        }

        span *= 2;
    }

    if (total <= limit) {
        *n = total;
        return NGX_OK;
    }

    /* unroll the ring: its oldest entry is the next to be overwritten */
    res = ngx_palloc(r->pool, limit * sizeof(kx_sim_bar_t));
    if (res == NULL) {
        return NGX_ERROR;
    }

    head = total % limit;
    ngx_memcpy(res, ring + head, (limit - head) * sizeof(kx_sim_bar_t));
    ngx_memcpy(res + (limit - head), ring, head * sizeof(kx_sim_bar_t));

    *out = res;
    *n = limit;

    return NGX_OK;
}


/* answers 422 (in *rc) when bars of tf would cost over the step budget */
static ngx_uint_t
ngx_http_kx_market_too_costly(ngx_http_request_t *r, kx_sim_tf_e tf,
    ngx_int_t bars, ngx_int_t *rc)
{
    u_char                          *msg;
    int64_t                          minutes, max;
    ngx_http_kx_market_main_conf_t  *mmcf;

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_kx_market_module);

    /* a day of NYSE hours is 390 minutes, of "always" 1440 */
    minutes = kx_sim_tf_ms(tf) / 60000;

    if (mmcf->hours == KX_SIM_HOURS_NYSE) {
        minutes = ngx_min(minutes, 390);
    }

    max = KX_MARKET_MINUTES_MAX / minutes;

    if ((int64_t) bars <= max) {
        return 0;
    }

    msg = ngx_pnalloc(r->pool, 80);
    if (msg == NULL) {
        *rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
        return 1;
    }

    ngx_sprintf(msg, "at most %L bars of %s per request (with warm-up)%Z",
                max, kx_sim_tf_name(tf));

    *rc = ngx_http_kx_market_invalid(r, "limit", (char *) msg);

    return 1;
}


/*
 * timeframe, limit and to, shared by history and indicators: NGX_OK,
 * NGX_DECLINED with the 422 answered in *rc, NGX_ERROR.  *to is capped
 * so that only completed bars qualify.
 */
static ngx_int_t
ngx_http_kx_market_range_args(ngx_http_request_t *r, kx_sim_tf_e *tf,
    ngx_int_t *limit, int64_t *to, ngx_int_t *rc)
{
    int64_t    now, last;
    ngx_int_t  arc;
    ngx_str_t  v;

    *tf = KX_SIM_TF_1D;

    arc = ngx_http_kx_market_arg(r, "timeframe", &v);
    if (arc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (arc == NGX_OK && kx_sim_tf_parse((char *) v.data, v.len, tf) != 0) {
        *rc = ngx_http_kx_market_invalid(r, "timeframe",
                                         "one of 1m, 5m, 15m, 1h, 1d");
        return NGX_DECLINED;
    }

    arc = ngx_http_kx_market_int_arg(r, "limit", KX_MARKET_LIMIT_DEFAULT, 1,
                                     KX_MARKET_LIMIT_MAX, limit);
    if (arc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (arc == NGX_DECLINED) {
        *rc = ngx_http_kx_market_invalid(r, "limit",
                                         "an integer from 1 to 5000");
        return NGX_DECLINED;
    }

    if (ngx_http_kx_market_too_costly(r, *tf, *limit, rc)) {
        return NGX_DECLINED;
    }

    now = ngx_http_kx_market_now();

    arc = ngx_http_kx_market_arg(r, "to", &v);
    if (arc == NGX_ERROR) {
        return NGX_ERROR;
    }

    *to = now;

    if (arc == NGX_OK && ngx_http_kx_market_time(&v, to) != NGX_OK) {
        *rc = ngx_http_kx_market_invalid(r, "to",
                             "ISO 8601 UTC time or Unix epoch milliseconds");
        return NGX_DECLINED;
    }

    /* bars whose start t < to; completed ones only: t + tf <= now */
    last = now - kx_sim_tf_ms(*tf) + 1;
    if (*to > last) {
        *to = last;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_kx_market_handler(ngx_http_request_t *r)
{
    u_char      *p, *end, *s;
    ngx_int_t    rc;
    ngx_str_t    seg[4];
    ngx_uint_t   n, op, methods;

    if (ngx_http_kx_market_sim == NULL) {
        return ngx_http_kx_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                      NULL, "market data unavailable");
    }

    p = r->uri.data;
    end = p + r->uri.len;

    if (r->uri.len < 4 || ngx_strncmp(p, "/v1/", 4) != 0) {
        return ngx_http_kx_send_error(r, NGX_HTTP_NOT_FOUND, NULL, NULL);
    }

    /* up to 3 segments, none empty */
    p += 4;
    n = 0;

    for ( ;; ) {
        s = p;
        while (p < end && *p != '/') {
            p++;
        }

        if (p == s || n == 3) {
            return ngx_http_kx_send_error(r, NGX_HTTP_NOT_FOUND, NULL, NULL);
        }

        seg[n].data = s;
        seg[n].len = p - s;
        n++;

        if (p == end) {
            break;
        }

        p++;
    }

#define kx_seg_is(i, lit)                                                     \
    (seg[i].len == sizeof(lit) - 1                                            \
     && ngx_strncmp(seg[i].data, lit, sizeof(lit) - 1) == 0)

    op = 0;

    if (n == 1 && kx_seg_is(0, "symbols")) {
        op = KX_MARKET_SYMBOLS;

    } else if (n == 2 && kx_seg_is(0, "quotes")) {
        op = kx_seg_is(1, "batch") ? KX_MARKET_BATCH : KX_MARKET_QUOTE;

    } else if (n == 2 && kx_seg_is(0, "history")) {
        op = KX_MARKET_HISTORY;

    } else if (n == 3 && kx_seg_is(0, "indicators")) {
        op = KX_MARKET_INDICATOR;

    } else if (n == 2 && kx_seg_is(0, "news")) {
        op = KX_MARKET_NEWS;
    }

#undef kx_seg_is

    if (op == 0) {
        return ngx_http_kx_send_error(r, NGX_HTTP_NOT_FOUND, NULL, NULL);
    }

    methods = NGX_HTTP_GET|NGX_HTTP_HEAD;
    if (op == KX_MARKET_BATCH) {
        methods |= NGX_HTTP_POST;
    }

    if (!(r->method & methods)) {
        return ngx_http_kx_send_error(r, NGX_HTTP_NOT_ALLOWED, NULL, NULL);
    }

    if (r->method == NGX_HTTP_POST) {
        return ngx_http_kx_read_json_body(r, KX_MARKET_BODY_MAX,
                                          ngx_http_kx_market_batch_body);
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    switch (op) {

    case KX_MARKET_SYMBOLS:
        return ngx_http_kx_market_symbols(r);

    case KX_MARKET_QUOTE:
        return ngx_http_kx_market_quote(r, &seg[1]);

    case KX_MARKET_BATCH:
        break;

    case KX_MARKET_HISTORY:
        return ngx_http_kx_market_history(r, &seg[1]);

    case KX_MARKET_INDICATOR:
        return ngx_http_kx_market_indicator(r, &seg[1], &seg[2]);

    default: /* KX_MARKET_NEWS */
        return ngx_http_kx_market_news(r, &seg[1]);
    }

    /* GET /v1/quotes/batch?symbols=AAPL,TSLA */
    {
        u_char      *q, *qe, *b;
        ngx_str_t    v, *items;
        ngx_uint_t   k;

        rc = ngx_http_kx_market_arg(r, "symbols", &v);
        if (rc == NGX_ERROR) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (rc == NGX_DECLINED) {
            v.len = 0;
            v.data = (u_char *) "";
        }

        items = ngx_palloc(r->pool, (KX_MARKET_BATCH_MAX + 1)
                                    * sizeof(ngx_str_t));
        if (items == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        q = v.data;
        qe = q + v.len;
        k = 0;

        /* more than the maximum is counted as maximum + 1: refused */
        while (q < qe && k <= KX_MARKET_BATCH_MAX) {
            b = q;
            while (q < qe && *q != ',') {
                q++;
            }

            items[k].data = b;
            items[k].len = q - b;

            /* "AAPL, TSLA" is forgiven; empty items are skipped */
            while (items[k].len && items[k].data[0] == ' ') {
                items[k].data++;
                items[k].len--;
            }
            while (items[k].len && items[k].data[items[k].len - 1] == ' ') {
                items[k].len--;
            }

            if (items[k].len) {
                k++;
            }

            if (q < qe) {
                q++;
            }
        }

        return ngx_http_kx_market_batch(r, items, k);
    }
}


static ngx_int_t
ngx_http_kx_market_symbols(ngx_http_request_t *r)
{
    size_t              i;
    kx_jw_t             w;
    const kx_symbol_t  *s;

    kx_jw_init(&w);
    kx_jw_obj_begin(&w);
    kx_jw_key(&w, "symbols");
    kx_jw_arr_begin(&w);

    for (i = 0; (s = kx_symbol_at(i)) != NULL; i++) {
        kx_symbol_json(&w, s);
    }

    kx_jw_arr_end(&w);
    kx_jw_obj_end(&w);

    return ngx_http_kx_send_jw(r, NGX_HTTP_OK, &w);
}


/* advances this worker's market to now; quotes are read after this */
static void
ngx_http_kx_market_tick(void)
{
    int64_t  now;

    now = ngx_http_kx_market_now();

    if (now > ngx_http_kx_market_sim->now_ms) {
        kx_sim_tick(ngx_http_kx_market_sim, now);
    }
}


static ngx_int_t
ngx_http_kx_market_quote(ngx_http_request_t *r, ngx_str_t *symbol)
{
    int        sym;
    kx_jw_t    w;
    ngx_int_t  rc;

    sym = ngx_http_kx_market_path_symbol(r, symbol, &rc);
    if (sym < 0) {
        return rc;
    }

    ngx_http_kx_market_tick();

    kx_jw_init(&w);
    kx_sim_quote_json(&w, kx_sim_quote(ngx_http_kx_market_sim, sym));

    return ngx_http_kx_send_jw(r, NGX_HTTP_OK, &w);
}


static void
ngx_http_kx_market_batch_body(ngx_http_request_t *r, kx_json_doc_t *doc)
{
    size_t                 i, len, n;
    ngx_str_t             *items;
    const char            *s;
    const kx_json_node_t  *arr;

    arr = kx_json_obj_get(kx_json_root(doc), "symbols");

    if (kx_json_type(arr) != KX_JSON_ARRAY) {
        ngx_http_finalize_request(r, ngx_http_kx_market_invalid(r,
                                  "symbols", "an array of symbols is "
                                  "required"));
        return;
    }

    n = kx_json_arr_len(arr);
    if (n > KX_MARKET_BATCH_MAX) {
        n = KX_MARKET_BATCH_MAX + 1;
    }

    items = ngx_palloc(r->pool, (n + 1) * sizeof(ngx_str_t));
    if (items == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    for (i = 0; i < n; i++) {
        s = kx_json_str(kx_json_arr_at(arr, i), &len);
        if (s == NULL || len == 0) {
            ngx_http_finalize_request(r, ngx_http_kx_market_invalid(r,
                                      "symbols", "every item must be a "
                                      "non-empty string"));
            return;
        }

        items[i].data = (u_char *) s;
        items[i].len = len;
    }

    ngx_http_finalize_request(r, ngx_http_kx_market_batch(r, items, n));
}


/*
 * Quotes of the listed symbols (in the order asked, duplicates once):
 * 422 for none, for more than 100, or when any is unknown (all unknown
 * ones are named: a partial answer would hide a typo).
 */
static ngx_int_t
ngx_http_kx_market_batch(ngx_http_request_t *r, ngx_str_t *items,
    ngx_uint_t n)
{
    int                        sym;
    u_char                    *p, *last;
    kx_jw_t                    w;
    ngx_uint_t                 i, unknown;
    const kx_symbol_t         *s;
    const kx_sim_quote_t      *q;
    ngx_http_kx_market_err_t   e;
    u_char                     seen[KX_SIM_MAX_SYMBOLS];

    if (n == 0) {
        return ngx_http_kx_market_invalid(r, "symbols",
                                          "at least one symbol is required");
    }

    if (n > KX_MARKET_BATCH_MAX) {
        return ngx_http_kx_market_invalid(r, "symbols",
                                          "at most 100 symbols");
    }

    p = (u_char *) e.msg;
    last = p + sizeof(e.msg) - 8;
    p = ngx_cpymem(p, "symbols: unknown symbols", 24);
    unknown = 0;

    for (i = 0; i < n; i++) {
        if (ngx_http_kx_market_find(items[i].data, items[i].len) >= 0) {
            continue;
        }

        if (p + ngx_min(items[i].len, 16) + 2 < last) {
            p = ngx_snprintf(p, last - p, "%s%*s", unknown ? ", " : " ",
                             ngx_min(items[i].len, (size_t) 16),
                             items[i].data);

        } else if (unknown != (ngx_uint_t) -1) {
            p = ngx_cpymem(p, ", ...", 5);
            unknown = (ngx_uint_t) -1;
            continue;
        }

        if (unknown != (ngx_uint_t) -1) {
            unknown++;
        }
    }

    if (unknown) {
        *p = '\0';
        e.status = NGX_HTTP_KX_UNPROCESSABLE;
        e.code = "validation_failed";
        return ngx_http_kx_market_fail(r, &e);
    }

    ngx_http_kx_market_tick();

    ngx_memzero(seen, sizeof(seen));

    kx_jw_init(&w);
    kx_jw_obj_begin(&w);
    kx_jw_key(&w, "quotes");
    kx_jw_obj_begin(&w);

    for (i = 0; i < n; i++) {
        sym = ngx_http_kx_market_find(items[i].data, items[i].len);
        if (seen[sym]) {
            continue;
        }

        seen[sym] = 1;
        s = kx_symbol_at(sym);
        q = kx_sim_quote(ngx_http_kx_market_sim, sym);

        kx_jw_key(&w, s->symbol);
        kx_sim_quote_json(&w, q);
    }

    kx_jw_obj_end(&w);
    kx_jw_obj_end(&w);

    return ngx_http_kx_send_jw(r, NGX_HTTP_OK, &w);
}


static ngx_int_t
ngx_http_kx_market_history(ngx_http_request_t *r, ngx_str_t *symbol)
{
    int            sym;
    size_t         i, n;
    kx_jw_t        w;
    int64_t        from, to;
    ngx_int_t      rc, limit;
    ngx_str_t      v;
    ngx_uint_t     has_from;
    kx_sim_tf_e    tf;
    kx_sim_bar_t  *bars;

    sym = ngx_http_kx_market_path_symbol(r, symbol, &rc);
    if (sym < 0) {
        return rc;
    }

    switch (ngx_http_kx_market_range_args(r, &tf, &limit, &to, &rc)) {
    case NGX_OK:
        break;
    case NGX_DECLINED:
        return rc;
    default:
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_kx_market_arg(r, "from", &v);
    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    has_from = (rc == NGX_OK);
    from = KX_SIM_MIN_MS;

    if (has_from) {
        if (ngx_http_kx_market_time(&v, &from) != NGX_OK) {
            return ngx_http_kx_market_invalid(r, "from",
                             "ISO 8601 UTC time or Unix epoch milliseconds");
        }

        if (from < KX_SIM_MIN_MS) {
            from = KX_SIM_MIN_MS;
        }

        /* a from after the (capped) to is an empty range, not an error */
    }

    if (ngx_http_kx_market_bars(r, sym, tf, has_from, from, to,
                                (size_t) limit, &bars, &n)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    kx_jw_init(&w);
    kx_jw_obj_begin(&w);
    kx_jw_key(&w, "symbol");
    kx_jw_str(&w, kx_symbol_at(sym)->symbol);
    kx_jw_key(&w, "timeframe");
    kx_jw_str(&w, kx_sim_tf_name(tf));
    kx_jw_key(&w, "bars");
    kx_jw_arr_begin(&w);

    for (i = 0; i < n; i++) {
        kx_sim_bar_json(&w, &bars[i]);
    }

    kx_jw_arr_end(&w);
    kx_jw_obj_end(&w);

    return ngx_http_kx_send_jw(r, NGX_HTTP_OK, &w);
}


static ngx_int_t
ngx_http_kx_market_indicator(ngx_http_request_t *r, ngx_str_t *symbol,
    ngx_str_t *name)
{
    int            sym, lookback;
    size_t         i, n, first;
    kx_jw_t        w;
    int64_t        to;
    kx_dec_t      *in, *o1, *o2, *o3, k;
    ngx_int_t      rc, limit, period, fast, slow, signal;
    ngx_str_t      v;
    ngx_uint_t     ind;
    kx_sim_tf_e    tf;
    kx_sim_bar_t  *bars;
    u_char         msg[96];

    sym = ngx_http_kx_market_path_symbol(r, symbol, &rc);
    if (sym < 0) {
        return rc;
    }

    if (name->len == 3 && ngx_strncmp(name->data, "sma", 3) == 0) {
        ind = KX_IND_SMA;
    } else if (name->len == 3 && ngx_strncmp(name->data, "ema", 3) == 0) {
        ind = KX_IND_EMA;
    } else if (name->len == 3 && ngx_strncmp(name->data, "rsi", 3) == 0) {
        ind = KX_IND_RSI;
    } else if (name->len == 4 && ngx_strncmp(name->data, "macd", 4) == 0) {
        ind = KX_IND_MACD;
    } else if (name->len == 9
               && ngx_strncmp(name->data, "bollinger", 9) == 0)
    {
        ind = KX_IND_BOLLINGER;

    } else {
        /* the indicator is a path segment: an unknown one is no resource */
        *ngx_snprintf(msg, sizeof(msg) - 1, "unknown indicator %*s",
                      ngx_min(name->len, (size_t) 32), name->data) = '\0';
        return ngx_http_kx_send_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                      (const char *) msg);
    }

    switch (ngx_http_kx_market_range_args(r, &tf, &limit, &to, &rc)) {
    case NGX_OK:
        break;
    case NGX_DECLINED:
        return rc;
    default:
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    period = (ind == KX_IND_RSI) ? 14 : 20;
    fast = 12;
    slow = 26;
    signal = 9;
    k.v = 2 * KX_DEC_ONE;

    if (ind == KX_IND_MACD) {
        rc = ngx_http_kx_market_int_arg(r, "fast", fast, 2,
                                        KX_MARKET_PERIOD_MAX, &fast);
        if (rc == NGX_DECLINED) {
            return ngx_http_kx_market_invalid(r, "fast",
                                              "an integer from 2 to 1000");
        }

        if (rc == NGX_OK) {
            rc = ngx_http_kx_market_int_arg(r, "slow", slow, 2,
                                            KX_MARKET_PERIOD_MAX, &slow);
            if (rc == NGX_DECLINED) {
                return ngx_http_kx_market_invalid(r, "slow",
                                                "an integer from 2 to 1000");
            }
        }

        if (rc == NGX_OK) {
            rc = ngx_http_kx_market_int_arg(r, "signal", signal, 1,
                                            KX_MARKET_PERIOD_MAX, &signal);
            if (rc == NGX_DECLINED) {
                return ngx_http_kx_market_invalid(r, "signal",
                                                "an integer from 1 to 1000");
            }
        }

        if (rc == NGX_OK && fast >= slow) {
            return ngx_http_kx_market_invalid(r, "fast",
                                              "must be less than slow");
        }

        lookback = kx_ind_macd_lookback(fast, slow, signal);
        period = slow;

    } else {
        rc = ngx_http_kx_market_int_arg(r, "period", period, 2,
                                        KX_MARKET_PERIOD_MAX, &period);
        if (rc == NGX_DECLINED) {
            return ngx_http_kx_market_invalid(r, "period",
                                              "an integer from 2 to 1000");
        }

        if (rc == NGX_OK && ind == KX_IND_BOLLINGER) {
            rc = ngx_http_kx_market_arg(r, "k", &v);
            if (rc == NGX_OK) {
                if (kx_dec_parse((char *) v.data, v.len, &k) != 0
                    || k.v <= 0 || k.v > KX_IND_MULT_MAX)
                {
                    return ngx_http_kx_market_invalid(r, "k",
                                         "a decimal above 0, at most 100");
                }

            } else if (rc == NGX_DECLINED) {
                rc = NGX_OK;
            }
        }

        lookback = (ind == KX_IND_RSI) ? kx_ind_rsi_lookback(period)
                                       : kx_ind_sma_lookback(period);
    }

    if (rc != NGX_OK || lookback < 0) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_kx_market_too_costly(r, tf, limit + lookback, &rc)) {
        return rc;
    }

    /* enough bars before the first value asked for to cover the warm-up */
    if (ngx_http_kx_market_bars(r, sym, tf, 0, 0, to,
                                (size_t) (limit + lookback), &bars, &n)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    in = ngx_palloc(r->pool, (4 * n + 1) * sizeof(kx_dec_t));
    if (in == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    o1 = in + n;
    o2 = o1 + n;
    o3 = o2 + n;

    for (i = 0; i < n; i++) {
        in[i] = bars[i].c;
    }

    switch (ind) {
    case KX_IND_SMA:
        rc = kx_ind_sma(in, n, period, o1);
        break;
    case KX_IND_EMA:
        rc = kx_ind_ema(in, n, period, o1);
        break;
    case KX_IND_RSI:
        rc = kx_ind_rsi(in, n, period, o1);
        break;
    case KX_IND_MACD:
        rc = kx_ind_macd(in, n, fast, slow, signal, o1, o2, o3);
        break;
    default: /* KX_IND_BOLLINGER */
        rc = kx_ind_bbands(in, n, period, k, k, o1, o2, o3);
        break;
    }

    /* an empty series still gives an empty answer, not an error */
    if (rc != KX_IND_OK && n != 0) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    first = (n > (size_t) limit) ? n - limit : 0;

    kx_jw_init(&w);
    kx_jw_obj_begin(&w);
    kx_jw_key(&w, "symbol");
    kx_jw_str(&w, kx_symbol_at(sym)->symbol);
    kx_jw_key(&w, "indicator");
    kx_jw_strn(&w, (char *) name->data, name->len);
    kx_jw_key(&w, "timeframe");
    kx_jw_str(&w, kx_sim_tf_name(tf));
    kx_jw_key(&w, "period");
    kx_jw_int(&w, period);

    if (ind == KX_IND_MACD) {
        kx_jw_key(&w, "fast");
        kx_jw_int(&w, fast);
        kx_jw_key(&w, "slow");
        kx_jw_int(&w, slow);
        kx_jw_key(&w, "signal");
        kx_jw_int(&w, signal);

    } else if (ind == KX_IND_BOLLINGER) {
        kx_jw_key(&w, "k");
        kx_jw_dec_min(&w, k);
    }

    kx_jw_key(&w, "values");
    kx_jw_arr_begin(&w);

    for (i = first; i < n && rc == KX_IND_OK; i++) {
        if (kx_ind_absent(o1[i])) {
            continue;
        }

        kx_jw_obj_begin(&w);
        kx_jw_key(&w, "t");
        kx_jw_int(&w, bars[i].t);

        switch (ind) {
        case KX_IND_MACD:
            kx_jw_key(&w, "macd");
            kx_jw_dec_str(&w, o1[i], 4);
            kx_jw_key(&w, "signal");
            kx_jw_dec_str(&w, o2[i], 4);
            kx_jw_key(&w, "histogram");
            kx_jw_dec_str(&w, o3[i], 4);
            break;
        case KX_IND_BOLLINGER:
            kx_jw_key(&w, "upper");
            kx_jw_dec_str(&w, o1[i], 4);
            kx_jw_key(&w, "middle");
            kx_jw_dec_str(&w, o2[i], 4);
            kx_jw_key(&w, "lower");
            kx_jw_dec_str(&w, o3[i], 4);
            break;
        default:
            kx_jw_key(&w, "value");
            kx_jw_dec_str(&w, o1[i], 4);
            break;
        }

        kx_jw_obj_end(&w);
    }

    kx_jw_arr_end(&w);
    kx_jw_obj_end(&w);

    return ngx_http_kx_send_jw(r, NGX_HTTP_OK, &w);
}


static ngx_int_t
ngx_http_kx_market_news(ngx_http_request_t *r, ngx_str_t *symbol)
{
    int             sym;
    size_t          i, n;
    kx_jw_t         w;
    int64_t         before, now;
    ngx_int_t       rc, limit;
    ngx_str_t       v;
    kx_sim_news_t  *items;

    sym = ngx_http_kx_market_path_symbol(r, symbol, &rc);
    if (sym < 0) {
        return rc;
    }

    rc = ngx_http_kx_market_int_arg(r, "limit", KX_MARKET_NEWS_DEFAULT, 1,
                                    KX_MARKET_NEWS_MAX, &limit);
    if (rc == NGX_DECLINED) {
        return ngx_http_kx_market_invalid(r, "limit",
                                          "an integer from 1 to 50");
    }

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    now = ngx_http_kx_market_now();
    before = now;

    rc = ngx_http_kx_market_arg(r, "before", &v);
    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc == NGX_OK) {
        if (ngx_http_kx_market_time(&v, &before) != NGX_OK) {
            return ngx_http_kx_market_invalid(r, "before",
                             "ISO 8601 UTC time or Unix epoch milliseconds");
        }

        /* no news from the future either */
        if (before > now) {
            before = now;
        }
    }

    items = ngx_palloc(r->pool, limit * sizeof(kx_sim_news_t));
    if (items == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (kx_sim_news(ngx_http_kx_market_sim, sym, before, items, limit, &n)
        != KX_SIM_OK)
    {
        n = 0;
    }

    kx_jw_init(&w);
    kx_jw_obj_begin(&w);
    kx_jw_key(&w, "symbol");
    kx_jw_str(&w, kx_symbol_at(sym)->symbol);
    kx_jw_key(&w, "news");
    kx_jw_arr_begin(&w);

    for (i = 0; i < n; i++) {
        kx_sim_news_json(&w, &items[i]);
    }

    kx_jw_arr_end(&w);
    kx_jw_obj_end(&w);

    return ngx_http_kx_send_jw(r, NGX_HTTP_OK, &w);
}


static char *
ngx_http_kx_market(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t        *clcf;
    ngx_http_kx_market_main_conf_t  *mmcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_kx_market_handler;

    mmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_kx_market_module);
    mmcf->enabled = 1;

    return NGX_CONF_OK;
}


static void *
ngx_http_kx_market_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_kx_market_main_conf_t  *mmcf;

    mmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_kx_market_main_conf_t));
    if (mmcf == NULL) {
        return NULL;
    }

    mmcf->seed = NGX_CONF_UNSET;
    mmcf->hours = NGX_CONF_UNSET_UINT;

    return mmcf;
}


static char *
ngx_http_kx_market_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_kx_market_main_conf_t  *mmcf = conf;

    ngx_conf_init_value(mmcf->seed, 42);
    ngx_conf_init_uint_value(mmcf->hours, KX_SIM_HOURS_ALWAYS);

    if (mmcf->seed < 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "kx_market_seed must not be negative");
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_kx_market_init_process(ngx_cycle_t *cycle)
{
    kx_sim_t                        *sim;
    ngx_http_kx_market_main_conf_t  *mmcf;

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    mmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_kx_market_module);
    if (mmcf == NULL || !mmcf->enabled) {
        return NGX_OK;
    }

    /* ~22 KB: too big for a static in every process that never uses it */
    sim = ngx_alloc(sizeof(kx_sim_t), cycle->log);
    if (sim == NULL) {
        return NGX_ERROR;
    }

    ngx_time_update();

    if (kx_sim_init(sim, (uint64_t) mmcf->seed, (kx_sim_hours_e) mmcf->hours,
                    ngx_http_kx_market_now())
        != KX_SIM_OK)
    {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "kx_market: the simulated market cannot start now");
        ngx_free(sim);
        return NGX_ERROR;
    }

    ngx_http_kx_market_sim = sim;

    return NGX_OK;
}


static void
ngx_http_kx_market_exit_process(ngx_cycle_t *cycle)
{
    if (ngx_http_kx_market_sim) {
        ngx_free(ngx_http_kx_market_sim);
        ngx_http_kx_market_sim = NULL;
    }
}
