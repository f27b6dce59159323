
/*
 * Copyright (C) Kianax
 *
 * The market data service's read endpoints: quotes, batch quotes,
 * history bars, indicators, news and the symbol universe.
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
 * A request is validated here, then read through the cache
 * (kx_market_cache.c: Redis with the seed's TTLs, one provider call per
 * key in flight) from the provider of kx_market_provider
 * (kx_market_provider.h; the simulated market by default,
 * kx_market_sim.c).  Worker 0 also runs the quote publisher
 * (kx_market_publish.c), which keeps the cached quotes fresh, so every
 * worker answers GET /v1/quotes with the quote last published.
 *
 * Cache keys name what the answer depends on, normalised so that equal
 * answers share a key: history and indicators without "to" end at the
 * last completed bar, so their key holds that bar's index, not the
 * clock (completed bars never change: their TTL is the seed's hour).
 *
 * History serves completed bars only (t + timeframe <= now): the
 * simulated path exists for every instant, and a bar still in progress
 * would show its future high, low and close.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_kx.h"
#include "kx_market.h"
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
 * History of the simulated market is computed, not stored: a bar costs
 * one step per minute it spans (~0.16 us each).  A request may ask for
 * at most this many minute steps (~30 ms of CPU, in the thread pool of
 * kx_market_thread_pool when set), and every answer is cached.
 */
#define KX_MARKET_MINUTES_MAX     200000
#define KX_MARKET_PERIOD_MAX      1000
#define KX_MARKET_NEWS_DEFAULT    10
#define KX_MARKET_NEWS_MAX        50

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


/* a validation failure: the status and message to answer with */
typedef struct {
    ngx_uint_t                status;
    const char               *code;
    char                      msg[256];
} ngx_http_kx_market_err_t;


typedef struct ngx_http_kx_market_ctx_s  ngx_http_kx_market_ctx_t;

/* one cached read of a request (a batch has one per symbol) */
typedef struct {
    ngx_http_kx_market_ctx_t   *ctx;
    kx_market_wait_t           *wait;
    unsigned                    sym;
    ngx_str_t                   body;
} ngx_http_kx_market_part_t;


struct ngx_http_kx_market_ctx_s {
    ngx_http_request_t         *request;
    ngx_uint_t                  op;
    ngx_uint_t                  nparts;
    ngx_uint_t                  pending;
    ngx_http_kx_market_part_t  *parts;
    ngx_uint_t                  status;     /* the first failure */
    u_char                      msg[128];
};


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

static ngx_http_kx_market_ctx_t *ngx_http_kx_market_ctx(
    ngx_http_request_t *r, ngx_uint_t op, ngx_uint_t nparts);
static ngx_int_t ngx_http_kx_market_read(ngx_http_request_t *r,
    ngx_http_kx_market_ctx_t *ctx, ngx_uint_t i, kx_market_fetch_t *f);
static ngx_int_t ngx_http_kx_market_wait(ngx_http_request_t *r,
    ngx_http_kx_market_ctx_t *ctx);
static void ngx_http_kx_market_got(void *data, ngx_uint_t status,
    u_char *body, size_t len, const char *msg);
static ngx_int_t ngx_http_kx_market_respond(ngx_http_kx_market_ctx_t *ctx);
static void ngx_http_kx_market_cleanup(void *data);
static void ngx_http_kx_market_quote_fetch(ngx_http_request_t *r,
    unsigned sym, kx_market_fetch_t *f, u_char *key);

static ngx_int_t ngx_http_kx_market_render_quote(kx_market_fetch_t *f,
    kx_market_result_t *res, kx_jw_t *w);
static ngx_int_t ngx_http_kx_market_render_history(kx_market_fetch_t *f,
    kx_market_result_t *res, kx_jw_t *w);
static ngx_int_t ngx_http_kx_market_render_indicator(kx_market_fetch_t *f,
    kx_market_result_t *res, kx_jw_t *w);
static ngx_int_t ngx_http_kx_market_render_news(kx_market_fetch_t *f,
    kx_market_result_t *res, kx_jw_t *w);

static char *ngx_http_kx_market(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_kx_market_provider_set(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_kx_market_ttl_set(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_kx_market_offset_set(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static void *ngx_http_kx_market_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_kx_market_init_main_conf(ngx_conf_t *cf, void *conf);
static ngx_int_t ngx_http_kx_market_init_process(ngx_cycle_t *cycle);
static void ngx_http_kx_market_exit_process(ngx_cycle_t *cycle);


/* the Polygon adapter (H7) is optional: NULL when not linked in */
extern kx_market_provider_t  kx_market_provider_polygon
    __attribute__((weak));


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

    { ngx_string("kx_market_provider"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_kx_market_provider_set,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("kx_market_publish_interval"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_kx_market_main_conf_t, publish_interval),
      NULL },

    { ngx_string("kx_market_publish_lease"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_kx_market_main_conf_t, publish_lease),
      NULL },

    { ngx_string("kx_market_cache"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_kx_market_main_conf_t, cache),
      NULL },

    { ngx_string("kx_market_cache_lock"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_kx_market_main_conf_t, cache_lock),
      NULL },

    { ngx_string("kx_market_cache_ttl"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE2,
      ngx_http_kx_market_ttl_set,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("kx_market_sim_latency"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_kx_market_main_conf_t, sim_latency),
      NULL },

    { ngx_string("kx_market_clock_offset"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_kx_market_offset_set,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("kx_market_thread_pool"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_kx_market_main_conf_t, thread_pool_name),
      NULL },

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


/* whether this worker's provider started; 0 in other processes */
static ngx_uint_t  ngx_http_kx_market_ready;


static int64_t
ngx_http_kx_market_now(ngx_http_request_t *r)
{
    return kx_market_now(ngx_http_get_module_main_conf(r,
                                                 ngx_http_kx_market_module));
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

    now = ngx_http_kx_market_now(r);

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

    if (!ngx_http_kx_market_ready) {
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



/* floor(a / b) for b > 0, whatever the sign of a */
static int64_t
ngx_http_kx_market_floor_div(int64_t a, int64_t b)
{
    return (a >= 0) ? a / b : -((-a + b - 1) / b);
}


/*
 * What identifies the set of bars with t < to in a cache key: the index
 * of the last bar start that qualifies (intraday bars are aligned to
 * their size; a daily bar starts its trading day).
 */
static int64_t
ngx_http_kx_market_to_key(ngx_http_request_t *r, kx_sim_tf_e tf, int64_t to)
{
    ngx_http_kx_market_main_conf_t  *mmcf;

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_kx_market_module);

    if (tf == KX_SIM_TF_1D) {
        return kx_sim_day_of((kx_sim_hours_e) mmcf->hours, to - 1);
    }

    return ngx_http_kx_market_floor_div(to - 1, kx_sim_tf_ms(tf));
}


static ngx_http_kx_market_ctx_t *
ngx_http_kx_market_ctx(ngx_http_request_t *r, ngx_uint_t op,
    ngx_uint_t nparts)
{
    ngx_pool_cleanup_t        *cln;
    ngx_http_kx_market_ctx_t  *ctx;

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_kx_market_ctx_t));
    if (ctx == NULL) {
        return NULL;
    }

    ctx->parts = ngx_pcalloc(r->pool,
                             nparts * sizeof(ngx_http_kx_market_part_t));
    if (ctx->parts == NULL) {
        return NULL;
    }

    ctx->request = r;
    ctx->op = op;
    ctx->nparts = nparts;

    /* the request may go first (client gone): then nothing may call back */
    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    cln->handler = ngx_http_kx_market_cleanup;
    cln->data = ctx;

    return ctx;
}


static void
ngx_http_kx_market_cleanup(void *data)
{
    ngx_http_kx_market_ctx_t *ctx = data;

    ngx_uint_t  i;

    for (i = 0; i < ctx->nparts; i++) {
        if (ctx->parts[i].wait) {
            kx_market_cache_cancel(ctx->parts[i].wait);
            ctx->parts[i].wait = NULL;
        }
    }
}


/* starts the cached read of part i */
static ngx_int_t
ngx_http_kx_market_read(ngx_http_request_t *r, ngx_http_kx_market_ctx_t *ctx,
    ngx_uint_t i, kx_market_fetch_t *f)
{
    ngx_http_kx_market_part_t       *part;
    ngx_http_kx_market_main_conf_t  *mmcf;

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_kx_market_module);

    part = &ctx->parts[i];
    part->ctx = ctx;
    part->sym = f->query.sym;

    part->wait = kx_market_cache_get(mmcf, f, r->connection->log,
                                     ngx_http_kx_market_got, part);
    if (part->wait == NULL) {
        return NGX_ERROR;
    }

    ctx->pending++;

    return NGX_OK;
}


static ngx_int_t
ngx_http_kx_market_wait(ngx_http_request_t *r, ngx_http_kx_market_ctx_t *ctx)
{
    r->main->count++;

    /* notice a client that goes away while we wait */
    r->read_event_handler = ngx_http_test_reading;

    return NGX_DONE;
}


static void
ngx_http_kx_market_got(void *data, ngx_uint_t status, u_char *body,
    size_t len, const char *msg)
{
    ngx_http_kx_market_part_t *part = data;

    ngx_int_t                  rc;
    ngx_connection_t          *c;
    ngx_http_request_t        *r;
    ngx_http_kx_market_ctx_t  *ctx;

    ctx = part->ctx;
    r = ctx->request;
    c = r->connection;

    /* the cache freed the wait */
    part->wait = NULL;
    ctx->pending--;

    if (status == NGX_HTTP_OK) {
        part->body.data = ngx_pnalloc(r->pool, len);

        if (part->body.data == NULL) {
            status = NGX_HTTP_INTERNAL_SERVER_ERROR;
            msg = NULL;

        } else {
            ngx_memcpy(part->body.data, body, len);
            part->body.len = len;
        }
    }

    if (status != NGX_HTTP_OK && ctx->status == 0) {
        ctx->status = status;

        if (msg) {
            *ngx_snprintf(ctx->msg, sizeof(ctx->msg) - 1, "%s", msg) = '\0';
        }
    }

    if (ctx->pending) {
        return;
    }

    rc = ngx_http_kx_market_respond(ctx);

    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(c);
}


static ngx_int_t
ngx_http_kx_market_respond(ngx_http_kx_market_ctx_t *ctx)
{
    u_char                     *buf, *p;
    size_t                      len;
    ngx_uint_t                  i;
    const kx_symbol_t          *s;
    ngx_http_request_t         *r;
    ngx_http_kx_market_part_t  *part;

    r = ctx->request;

    if (ctx->status) {
        return ngx_http_kx_send_error(r, ctx->status, NULL,
                                      ctx->msg[0] ? (char *) ctx->msg
                                                  : NULL);
    }

    if (ctx->op != KX_MARKET_BATCH) {
        return ngx_http_kx_send_json(r, NGX_HTTP_OK, ctx->parts[0].body.data,
                                     ctx->parts[0].body.len);
    }

    /* {"quotes":{"AAPL":{...},...}}: the cached bodies as they are */
    len = sizeof("{\"quotes\":{}}");

    for (i = 0; i < ctx->nparts; i++) {
        len += ctx->parts[i].body.len + KX_SYMBOL_MAX_LEN + 4;
    }

    buf = ngx_pnalloc(r->pool, len);
    if (buf == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_cpymem(buf, "{\"quotes\":{", sizeof("{\"quotes\":{") - 1);

    for (i = 0; i < ctx->nparts; i++) {
        part = &ctx->parts[i];
        s = kx_symbol_at(part->sym);

        /* symbols are [A-Z0-9.]: no escaping needed */
        p = ngx_sprintf(p, "%s\"%s\":", i ? "," : "", s->symbol);
        p = ngx_cpymem(p, part->body.data, part->body.len);
    }

    *p++ = '}';
    *p++ = '}';

    return ngx_http_kx_send_json(r, NGX_HTTP_OK, buf, p - buf);
}


static void
ngx_http_kx_market_quote_fetch(ngx_http_request_t *r, unsigned sym,
    kx_market_fetch_t *f, u_char *key)
{
    const kx_symbol_t               *s;
    ngx_http_kx_market_main_conf_t  *mmcf;

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_kx_market_module);

    s = kx_symbol_at(sym);

    ngx_memzero(f, sizeof(kx_market_fetch_t));

    f->kind = KX_MARKET_KIND_QUOTE;
    f->render = ngx_http_kx_market_render_quote;
    f->query.sym = sym;
    f->query.symbol = s->symbol;
    f->key.data = key;
    f->key.len = ngx_sprintf(key, KX_MARKET_QUOTE_KEY, &mmcf->key_prefix,
                             s->symbol)
                 - key;
}


static ngx_int_t
ngx_http_kx_market_quote(ngx_http_request_t *r, ngx_str_t *symbol)
{
    int                        sym;
    ngx_int_t                  rc;
    kx_market_fetch_t          f;
    ngx_http_kx_market_ctx_t  *ctx;
    u_char                     key[KX_MARKET_KEY_MAX];

    sym = ngx_http_kx_market_path_symbol(r, symbol, &rc);
    if (sym < 0) {
        return rc;
    }

    ctx = ngx_http_kx_market_ctx(r, KX_MARKET_QUOTE, 1);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_kx_market_quote_fetch(r, (unsigned) sym, &f, key);

    if (ngx_http_kx_market_read(r, ctx, 0, &f) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_kx_market_wait(r, ctx);
}


static void
ngx_http_kx_market_batch_body(ngx_http_request_t *r, kx_json_doc_t *doc)
{
    size_t                 i, len, n;
    ngx_int_t              rc;
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

    rc = ngx_http_kx_market_batch(r, items, n);

    /* NGX_DONE took its own reference; ours ends here either way */
    ngx_http_finalize_request(r, rc);
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
    ngx_uint_t                 i, k, unknown;
    kx_market_fetch_t          f;
    ngx_http_kx_market_ctx_t  *ctx;
    ngx_http_kx_market_err_t   e;
    u_char                     seen[KX_SIM_MAX_SYMBOLS];
    u_char                     key[KX_MARKET_KEY_MAX];
    unsigned                   syms[KX_MARKET_BATCH_MAX];

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

    ngx_memzero(seen, sizeof(seen));

    for (i = 0, k = 0; i < n; i++) {
        sym = ngx_http_kx_market_find(items[i].data, items[i].len);
        if (!seen[sym]) {
            seen[sym] = 1;
            syms[k++] = (unsigned) sym;
        }
    }

    ctx = ngx_http_kx_market_ctx(r, KX_MARKET_BATCH, k);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    for (i = 0; i < k; i++) {
        ngx_http_kx_market_quote_fetch(r, syms[i], &f, key);

        if (ngx_http_kx_market_read(r, ctx, i, &f) != NGX_OK) {
            /* the cleanup cancels the parts already asked for */
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    return ngx_http_kx_market_wait(r, ctx);
}


static ngx_int_t
ngx_http_kx_market_history(ngx_http_request_t *r, ngx_str_t *symbol)
{
    int                              sym;
    int64_t                          from, to;
    ngx_int_t                        rc, limit;
    ngx_str_t                        v;
    ngx_uint_t                       has_from;
    kx_sim_tf_e                      tf;
    kx_market_fetch_t                f;
    const kx_symbol_t               *s;
    ngx_http_kx_market_ctx_t        *ctx;
    ngx_http_kx_market_main_conf_t  *mmcf;
    u_char                           key[KX_MARKET_KEY_MAX];

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_kx_market_module);

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

    s = kx_symbol_at(sym);

    ngx_memzero(&f, sizeof(kx_market_fetch_t));
    f.kind = KX_MARKET_KIND_HISTORY;
    f.render = ngx_http_kx_market_render_history;
    f.query.sym = sym;
    f.query.symbol = s->symbol;
    f.query.tf = tf;
    f.query.has_from = has_from;
    f.query.from_ms = from;
    f.query.to_ms = to;
    f.query.limit = (size_t) limit;

    f.key.data = key;

    if (has_from) {
        f.key.len = ngx_sprintf(key, "%Vhistory:%s:%s:%i:%L:%L",
                                &mmcf->key_prefix, s->symbol,
                                kx_sim_tf_name(tf), limit, from,
                                ngx_http_kx_market_to_key(r, tf, to))
                    - key;
    } else {
        f.key.len = ngx_sprintf(key, "%Vhistory:%s:%s:%i:-:%L",
                                &mmcf->key_prefix, s->symbol,
                                kx_sim_tf_name(tf), limit,
                                ngx_http_kx_market_to_key(r, tf, to))
                    - key;
    }

    ctx = ngx_http_kx_market_ctx(r, KX_MARKET_HISTORY, 1);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_kx_market_read(r, ctx, 0, &f) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_kx_market_wait(r, ctx);
}


static const char *
ngx_http_kx_market_ind_name(ngx_uint_t ind)
{
    switch (ind) {
    case KX_IND_SMA:
        return "sma";
    case KX_IND_EMA:
        return "ema";
    case KX_IND_RSI:
        return "rsi";
    case KX_IND_MACD:
        return "macd";
    default:
        return "bollinger";
    }
}


static ngx_int_t
ngx_http_kx_market_indicator(ngx_http_request_t *r, ngx_str_t *symbol,
    ngx_str_t *name)
{
    int                              sym, lookback;
    u_char                          *p;
    int64_t                          to;
    kx_dec_t                         k;
    ngx_int_t                        rc, limit, period, fast, slow, signal;
    ngx_str_t                        v;
    ngx_uint_t                       ind;
    kx_sim_tf_e                      tf;
    kx_market_fetch_t                f;
    const kx_symbol_t               *s;
    ngx_http_kx_market_ctx_t        *ctx;
    ngx_http_kx_market_main_conf_t  *mmcf;
    u_char                           msg[96];
    u_char                           key[KX_MARKET_KEY_MAX];

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_kx_market_module);

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

    s = kx_symbol_at(sym);

    ngx_memzero(&f, sizeof(kx_market_fetch_t));
    f.kind = KX_MARKET_KIND_INDICATOR;
    f.render = ngx_http_kx_market_render_indicator;
    f.query.sym = sym;
    f.query.symbol = s->symbol;
    f.query.tf = tf;
    f.query.to_ms = to;

    /* enough bars before the first value asked for to cover the warm-up */
    f.query.limit = (size_t) (limit + lookback);

    f.ind = ind;
    f.limit = limit;
    f.period = period;
    f.fast = fast;
    f.slow = slow;
    f.signal = signal;
    f.k = k;

    p = ngx_sprintf(key, "%Vind:%s:%s:%s:%i:%L:", &mmcf->key_prefix,
                    s->symbol, ngx_http_kx_market_ind_name(ind),
                    kx_sim_tf_name(tf), limit,
                    ngx_http_kx_market_to_key(r, tf, to));

    if (ind == KX_IND_MACD) {
        p = ngx_sprintf(p, "%i:%i:%i", fast, slow, signal);

    } else if (ind == KX_IND_BOLLINGER) {
        p = ngx_sprintf(p, "%i:%L", period, k.v);

    } else {
        p = ngx_sprintf(p, "%i", period);
    }

    f.key.data = key;
    f.key.len = p - key;

    ctx = ngx_http_kx_market_ctx(r, KX_MARKET_INDICATOR, 1);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_kx_market_read(r, ctx, 0, &f) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_kx_market_wait(r, ctx);
}


static ngx_int_t
ngx_http_kx_market_news(ngx_http_request_t *r, ngx_str_t *symbol)
{
    int                              sym;
    int64_t                          before, now;
    ngx_int_t                        rc, limit;
    ngx_str_t                        v;
    ngx_uint_t                       latest;
    kx_market_fetch_t                f;
    const kx_symbol_t               *s;
    ngx_http_kx_market_ctx_t        *ctx;
    ngx_http_kx_market_main_conf_t  *mmcf;
    u_char                           key[KX_MARKET_KEY_MAX];

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_kx_market_module);

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

    now = ngx_http_kx_market_now(r);
    before = now;
    latest = 1;

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
        if (before >= now) {
            before = now;

        } else {
            latest = 0;
        }
    }

    s = kx_symbol_at(sym);

    ngx_memzero(&f, sizeof(kx_market_fetch_t));
    f.kind = KX_MARKET_KIND_NEWS;
    f.render = ngx_http_kx_market_render_news;
    f.query.sym = sym;
    f.query.symbol = s->symbol;
    f.query.limit = (size_t) limit;
    f.query.before_ms = before;

    /* the latest news may be as old as the news TTL (the seed's 5 min) */
    f.key.data = key;

    if (latest) {
        f.key.len = ngx_sprintf(key, "%Vnews:%s:%i:latest",
                                &mmcf->key_prefix, s->symbol, limit)
                    - key;
    } else {
        f.key.len = ngx_sprintf(key, "%Vnews:%s:%i:%L",
                                &mmcf->key_prefix, s->symbol, limit, before)
                    - key;
    }

    ctx = ngx_http_kx_market_ctx(r, KX_MARKET_NEWS, 1);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_kx_market_read(r, ctx, 0, &f) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_kx_market_wait(r, ctx);
}


/* provider results into response bodies, once per flight */

static ngx_int_t
ngx_http_kx_market_render_quote(kx_market_fetch_t *f,
    kx_market_result_t *res, kx_jw_t *w)
{
    if (res->quote == NULL) {
        return NGX_ERROR;
    }

    kx_sim_quote_json(w, res->quote);

    return NGX_OK;
}


static ngx_int_t
ngx_http_kx_market_render_history(kx_market_fetch_t *f,
    kx_market_result_t *res, kx_jw_t *w)
{
    size_t  i;

    kx_jw_obj_begin(w);
    kx_jw_key(w, "symbol");
    kx_jw_str(w, f->query.symbol);
    kx_jw_key(w, "timeframe");
    kx_jw_str(w, kx_sim_tf_name(f->query.tf));
    kx_jw_key(w, "bars");
    kx_jw_arr_begin(w);

    for (i = 0; i < res->nbars; i++) {
        kx_sim_bar_json(w, &res->bars[i]);
    }

    kx_jw_arr_end(w);
    kx_jw_obj_end(w);

    return NGX_OK;
}


static ngx_int_t
ngx_http_kx_market_render_indicator(kx_market_fetch_t *f,
    kx_market_result_t *res, kx_jw_t *w)
{
    int             rc;
    size_t          i, n, first;
    kx_dec_t       *in, *o1, *o2, *o3;
    kx_sim_bar_t   *bars;

    n = res->nbars;
    bars = res->bars;

    in = ngx_alloc((4 * n + 1) * sizeof(kx_dec_t), ngx_cycle->log);
    if (in == NULL) {
        return NGX_ERROR;
    }

    o1 = in + n;
    o2 = o1 + n;
    o3 = o2 + n;

    for (i = 0; i < n; i++) {
        in[i] = bars[i].c;
    }

    switch (f->ind) {
    case KX_IND_SMA:
        rc = kx_ind_sma(in, n, f->period, o1);
        break;
    case KX_IND_EMA:
        rc = kx_ind_ema(in, n, f->period, o1);
        break;
    case KX_IND_RSI:
        rc = kx_ind_rsi(in, n, f->period, o1);
        break;
    case KX_IND_MACD:
        rc = kx_ind_macd(in, n, f->fast, f->slow, f->signal, o1, o2, o3);
        break;
    default: /* KX_IND_BOLLINGER */
        rc = kx_ind_bbands(in, n, f->period, f->k, f->k, o1, o2, o3);
        break;
    }

    /* an empty series still gives an empty answer, not an error */
    if (rc != KX_IND_OK && n != 0) {
        ngx_free(in);
        return NGX_ERROR;
    }

    first = (n > (size_t) f->limit) ? n - f->limit : 0;

    kx_jw_obj_begin(w);
    kx_jw_key(w, "symbol");
    kx_jw_str(w, f->query.symbol);
    kx_jw_key(w, "indicator");
    kx_jw_str(w, ngx_http_kx_market_ind_name(f->ind));
    kx_jw_key(w, "timeframe");
    kx_jw_str(w, kx_sim_tf_name(f->query.tf));
    kx_jw_key(w, "period");
    kx_jw_int(w, f->period);

    if (f->ind == KX_IND_MACD) {
        kx_jw_key(w, "fast");
        kx_jw_int(w, f->fast);
        kx_jw_key(w, "slow");
        kx_jw_int(w, f->slow);
        kx_jw_key(w, "signal");
        kx_jw_int(w, f->signal);

    } else if (f->ind == KX_IND_BOLLINGER) {
        kx_jw_key(w, "k");
        kx_jw_dec_min(w, f->k);
    }

    kx_jw_key(w, "values");
    kx_jw_arr_begin(w);

    for (i = first; i < n && rc == KX_IND_OK; i++) {
        if (kx_ind_absent(o1[i])) {
            continue;
        }

        kx_jw_obj_begin(w);
        kx_jw_key(w, "t");
        kx_jw_int(w, bars[i].t);

        switch (f->ind) {
        case KX_IND_MACD:
            kx_jw_key(w, "macd");
            kx_jw_dec_str(w, o1[i], 4);
            kx_jw_key(w, "signal");
            kx_jw_dec_str(w, o2[i], 4);
            kx_jw_key(w, "histogram");
            kx_jw_dec_str(w, o3[i], 4);
            break;
        case KX_IND_BOLLINGER:
            kx_jw_key(w, "upper");
            kx_jw_dec_str(w, o1[i], 4);
            kx_jw_key(w, "middle");
            kx_jw_dec_str(w, o2[i], 4);
            kx_jw_key(w, "lower");
            kx_jw_dec_str(w, o3[i], 4);
            break;
        default:
            kx_jw_key(w, "value");
            kx_jw_dec_str(w, o1[i], 4);
            break;
        }

        kx_jw_obj_end(w);
    }

    kx_jw_arr_end(w);
    kx_jw_obj_end(w);

    ngx_free(in);

    return NGX_OK;
}


static ngx_int_t
ngx_http_kx_market_render_news(kx_market_fetch_t *f, kx_market_result_t *res,
    kx_jw_t *w)
{
    size_t  i;

    kx_jw_obj_begin(w);
    kx_jw_key(w, "symbol");
    kx_jw_str(w, f->query.symbol);
    kx_jw_key(w, "news");
    kx_jw_arr_begin(w);

    for (i = 0; i < res->nnews; i++) {
        kx_sim_news_json(w, &res->news[i]);
    }

    kx_jw_arr_end(w);
    kx_jw_obj_end(w);

    return NGX_OK;
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


/* kx_market_provider sim | polygon [key=value ...] */
static char *
ngx_http_kx_market_provider_set(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_kx_market_main_conf_t *mmcf = conf;

    ngx_str_t             *value;
    kx_market_provider_t  *p;

    if (mmcf->provider) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len == 3 && ngx_strncmp(value[1].data, "sim", 3) == 0) {
        p = &kx_market_provider_sim;

    } else if (value[1].len == 7
               && ngx_strncmp(value[1].data, "polygon", 7) == 0)
    {
        p = &kx_market_provider_polygon;

        if (p == NULL) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "the \"polygon\" market data provider is "
                               "not built in");
            return NGX_CONF_ERROR;
        }

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "unknown market data provider \"%V\" "
                           "(sim or polygon)", &value[1]);
        return NGX_CONF_ERROR;
    }

    mmcf->provider = p;

    return p->configure(cf, &value[2], cf->args->nelts - 2,
                        &mmcf->provider_conf);
}


/* kx_market_cache_ttl quote|history|indicator|news <time> */
static char *
ngx_http_kx_market_ttl_set(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_kx_market_main_conf_t *mmcf = conf;

    ngx_str_t   *value;
    ngx_uint_t   i;
    ngx_msec_t   ms;

    value = cf->args->elts;

    for (i = 0; i < KX_MARKET_KINDS; i++) {
        if (ngx_strcmp(value[1].data, kx_market_kind_name(i)) == 0) {
            break;
        }
    }

    if (i == KX_MARKET_KINDS) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "unknown kind \"%V\" (quote, history, indicator "
                           "or news)", &value[1]);
        return NGX_CONF_ERROR;
    }

    ms = ngx_parse_time(&value[2], 0);
    if (ms == (ngx_msec_t) NGX_ERROR || ms == 0) {
        return "has an invalid time";
    }

    mmcf->ttl[i] = ms;

    return NGX_CONF_OK;
}


/*
 * kx_market_clock_offset [-]<time>: the simulated market runs that far
 * ahead of (behind) the wall clock, e.g. to show a session in another
 * part of the day, or a test to reach a session transition at once.
 */
static char *
ngx_http_kx_market_offset_set(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_kx_market_main_conf_t *mmcf = conf;

    ngx_int_t   sign;
    ngx_str_t  *value, v;
    ngx_msec_t  ms;

    if (mmcf->clock_offset != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    value = cf->args->elts;
    v = value[1];
    sign = 1;

    if (v.len > 1 && v.data[0] == '-') {
        sign = -1;
        v.data++;
        v.len--;
    }

    /* nginx's times: "90s", "2h", "1500ms"; a bare number is seconds */
    ms = ngx_parse_time(&v, 0);
    if (ms == (ngx_msec_t) NGX_ERROR || ms > (ngx_msec_t) NGX_MAX_INT_T_VALUE)
    {
        return "has an invalid time";
    }

    mmcf->clock_offset = sign * (ngx_int_t) ms;

    return NGX_CONF_OK;
}


static void *
ngx_http_kx_market_create_main_conf(ngx_conf_t *cf)
{
    ngx_uint_t                       i;
    ngx_http_kx_market_main_conf_t  *mmcf;

    mmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_kx_market_main_conf_t));
    if (mmcf == NULL) {
        return NULL;
    }

    mmcf->seed = NGX_CONF_UNSET;
    mmcf->hours = NGX_CONF_UNSET_UINT;
    mmcf->publish_interval = NGX_CONF_UNSET_MSEC;
    mmcf->publish_lease = NGX_CONF_UNSET_MSEC;
    mmcf->cache = NGX_CONF_UNSET;
    mmcf->cache_lock = NGX_CONF_UNSET_MSEC;
    mmcf->sim_latency = NGX_CONF_UNSET_MSEC;
    mmcf->clock_offset = NGX_CONF_UNSET;

    for (i = 0; i < KX_MARKET_KINDS; i++) {
        mmcf->ttl[i] = NGX_CONF_UNSET_MSEC;
    }

    return mmcf;
}


static char *
ngx_http_kx_market_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_kx_market_main_conf_t  *mmcf = conf;

    ngx_conf_init_value(mmcf->seed, 42);
    ngx_conf_init_uint_value(mmcf->hours, KX_SIM_HOURS_ALWAYS);
    ngx_conf_init_msec_value(mmcf->publish_interval, 250);
    ngx_conf_init_msec_value(mmcf->publish_lease, 3000);
    ngx_conf_init_value(mmcf->cache, 1);
    ngx_conf_init_msec_value(mmcf->cache_lock, 3000);
    ngx_conf_init_msec_value(mmcf->sim_latency, 0);
    ngx_conf_init_value(mmcf->clock_offset, 0);

    /* the seed's TTLs; an indicator is as old as the bars it reads */
    ngx_conf_init_msec_value(mmcf->ttl[KX_MARKET_KIND_QUOTE], 1000);
    ngx_conf_init_msec_value(mmcf->ttl[KX_MARKET_KIND_HISTORY], 3600000);
    ngx_conf_init_msec_value(mmcf->ttl[KX_MARKET_KIND_INDICATOR], 3600000);
    ngx_conf_init_msec_value(mmcf->ttl[KX_MARKET_KIND_NEWS], 300000);

    if (mmcf->seed < 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "kx_market_seed must not be negative");
        return NGX_CONF_ERROR;
    }

    if (mmcf->provider == NULL) {
        mmcf->provider = &kx_market_provider_sim;
    }

    mmcf->key_prefix.data = ngx_pnalloc(cf->pool, 64 + NGX_INT_T_LEN);
    if (mmcf->key_prefix.data == NULL) {
        return NGX_CONF_ERROR;
    }

    if (mmcf->provider == &kx_market_provider_sim) {
        mmcf->key_prefix.len = ngx_sprintf(mmcf->key_prefix.data,
                                           "kx:mkt:sim-%i-%s:", mmcf->seed,
                                           kx_sim_hours_name(mmcf->hours))
                               - mmcf->key_prefix.data;
    } else {
        mmcf->key_prefix.len = ngx_snprintf(mmcf->key_prefix.data, 64,
                                            "kx:mkt:%s:",
                                            mmcf->provider->name)
                               - mmcf->key_prefix.data;
    }

    if (!mmcf->enabled) {
        return NGX_CONF_OK;
    }

    if (mmcf->provider == &kx_market_provider_sim) {
        /* the simulated market reads this module's own directives */
        mmcf->provider_conf = mmcf;

        if (kx_market_sim_add_zone(cf, mmcf) != NGX_OK) {
            return NGX_CONF_ERROR;
        }
    }

#if (NGX_THREADS)
    if (mmcf->thread_pool_name.len) {
        /* declares the pool; the thread_pool directive sizes it */
        if (ngx_thread_pool_add(cf, &mmcf->thread_pool_name) == NULL) {
            return NGX_CONF_ERROR;
        }
    }
#else
    if (mmcf->thread_pool_name.len) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "kx_market_thread_pool needs nginx built "
                           "--with-threads");
        return NGX_CONF_ERROR;
    }
#endif

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_kx_market_init_process(ngx_cycle_t *cycle)
{
    kx_market_provider_t            *p;
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

#if (NGX_THREADS)
    mmcf->thread_pool = NULL;

    if (mmcf->thread_pool_name.len) {
        /* the pool object of this cycle, now that threads exist */
        mmcf->thread_pool = ngx_thread_pool_get(cycle,
                                                &mmcf->thread_pool_name);
    }
#endif

    p = mmcf->provider;

    if (p->init_process
        && p->init_process(cycle, mmcf->provider_conf) != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_http_kx_market_ready = 1;

    /* one publisher per instance */
    if (ngx_worker == 0
        && kx_market_publish_init(cycle, mmcf) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void
ngx_http_kx_market_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_kx_market_main_conf_t  *mmcf;

    if (!ngx_http_kx_market_ready) {
        return;
    }

    ngx_http_kx_market_ready = 0;

    mmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_kx_market_module);

    kx_market_publish_exit();
    kx_market_cache_exit();

    if (mmcf->provider->exit_process) {
        mmcf->provider->exit_process(cycle, mmcf->provider_conf);
    }
}
