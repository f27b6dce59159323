
/*
 * Copyright (C) Kianax
 *
 * The Polygon.io market data provider (kx_market_provider.h):
 *
 *     env POLYGON_API_KEY;
 *     kx_market_provider polygon [url=https://api.polygon.io]
 *                                [ws=wss://socket.polygon.io/stocks]
 *                                [key_env=POLYGON_API_KEY] [stream=on|off]
 *                                [timeout=5s] [retries=1]
 *                                [ws_backoff=500ms] [ws_backoff_max=30s]
 *                                [ws_ping=30s] [ws_ca=file];
 *
 * REST (quote: the ticker's snapshot; bars: aggregates, following
 * next_url; news) goes through the shared non-blocking HTTP client,
 * with the key in an Authorization header, never in a URL.
 *
 * Live quotes come from Polygon's WebSocket stream, in worker 0 (the
 * publisher's): a connection of our own on the event loop (connect,
 * TLS for wss://, the HTTP upgrade, masked client frames, pings
 * answered), {"action":"auth"} then {"action":"subscribe"} to Q.<sym>
 * and T.<sym> of every symbol of kx_symbols.h.  Each Q (NBBO) or T
 * (trade) event updates that symbol's quote, which goes to the
 * publisher; a snapshot of all symbols, fetched after every successful
 * auth and every 5 minutes while connected, fills in the day's open and
 * the previous close.  A dropped or
 * refused connection is retried with decorrelated jittered backoff.
 *
 * Host names in ws= are resolved when the configuration is read (the
 * event loop never resolves); url= is resolved by libcurl's threaded
 * resolver.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <ngx_event_connect.h>

#include <openssl/rand.h>
#if (NGX_SSL)
#include <openssl/x509v3.h>
#endif

#include "ngx_http_kx.h"
#include "kx_http.h"
#include "kx_market_provider.h"
#include "core/kx_backoff.h"
#include "core/kx_wsc.h"
#include "market/kx_polygon.h"


#define KX_POLYGON_CALL_QUOTE     1
#define KX_POLYGON_CALL_BARS      2
#define KX_POLYGON_CALL_NEWS      3

#define KX_POLYGON_PAGES_MAX      10
#define KX_POLYGON_NEXT_MAX       2048
#define KX_POLYGON_WS_MAX_MESSAGE (1024 * 1024)
#define KX_POLYGON_WS_READ        16384
#define KX_POLYGON_RESEED         300          /* s between snapshots */

#define KX_POLYGON_WS_IDLE        0
#define KX_POLYGON_WS_CONNECTING  1
#define KX_POLYGON_WS_TLS         2
#define KX_POLYGON_WS_UPGRADE     3
#define KX_POLYGON_WS_OPEN        4


typedef struct kx_market_polygon_stream_s  kx_market_polygon_stream_t;


typedef struct {
    ngx_str_t                    url;          /* REST base, no final / */
    ngx_str_t                    key_env;
    ngx_str_t                    key;          /* read per worker */
    ngx_str_t                    auth;         /* "Authorization: ..." */
    ngx_msec_t                   timeout;
    ngx_uint_t                   retries;

    ngx_flag_t                   stream;
    ngx_str_t                    ws_url;
    ngx_url_t                    ws;           /* host, port, addrs */
    ngx_str_t                    ws_host;      /* the Host header */
    ngx_str_t                    ws_path;
    ngx_uint_t                   ws_tls;
    ngx_msec_t                   ws_backoff;
    ngx_msec_t                   ws_backoff_max;
    ngx_msec_t                   ws_ping;
    ngx_str_t                    ws_ca;        /* "": the system's CAs */
#if (NGX_SSL)
    ngx_ssl_t                   *ssl;
#endif

    kx_market_polygon_stream_t  *live;         /* worker 0 */
} kx_market_polygon_conf_t;


struct kx_market_call_s {
    kx_market_polygon_conf_t    *conf;
    ngx_pool_t                  *pool;
    ngx_log_t                   *log;
    kx_market_done_pt            done;
    void                        *data;
    kx_http_req_t               *http;
    ngx_event_t                  posted;       /* an answer known at once */

    ngx_uint_t                   kind;
    kx_market_query_t            q;
    char                         symbol[KX_POLYGON_SYM_MAX + 1];
    kx_market_result_t           res;
    kx_market_quote_t            quote;

    /* bars */
    kx_polygon_bar_t            *page;
    size_t                       npage;
    kx_market_bar_t             *bars;
    size_t                       nbars;
    ngx_uint_t                   pages;
    int64_t                      from_ms;
    unsigned                     desc:1;
    char                        *next;
};


struct kx_market_polygon_stream_s {
    kx_market_polygon_conf_t    *conf;
    ngx_log_t                   *log;
    kx_market_live_pt            handler;
    void                        *data;

    ngx_connection_t            *c;
    ngx_event_t                  retry;
    ngx_event_t                  ping;         /* keepalive */
    ngx_uint_t                   state;
    unsigned                     heard:1;      /* data since the ping */
    unsigned                     attempt;
    int64_t                      delay;
    char                         key[KX_WSC_KEY_LEN + 1];

    u_char                      *in;
    size_t                       in_len;
    size_t                       in_cap;
    u_char                      *out;
    size_t                       out_len;
    size_t                       out_pos;
    size_t                       out_cap;
    unsigned                     closing:1;    /* close after the flush */

    kx_wsc_t                     ws;
    kx_polygon_quote_t          *quotes;       /* per kx_symbols index */
    size_t                       nsyms;
    kx_http_req_t               *seed;
    time_t                       seeded;       /* when last asked */
    ngx_uint_t                   nq;           /* Q and T events of the */
    ngx_uint_t                   nt;           /* message being read */
};


static char *kx_market_polygon_configure(ngx_conf_t *cf, ngx_str_t *args,
    ngx_uint_t nargs, void **conf);
static ngx_int_t kx_market_polygon_init_process(ngx_cycle_t *cycle,
    void *conf);
static void kx_market_polygon_exit_process(ngx_cycle_t *cycle, void *conf);
static kx_market_call_t *kx_market_polygon_quote(void *conf,
    kx_market_query_t *q, ngx_log_t *log, kx_market_done_pt done,
    void *data);
static kx_market_call_t *kx_market_polygon_bars(void *conf,
    kx_market_query_t *q, ngx_log_t *log, kx_market_done_pt done,
    void *data);
static kx_market_call_t *kx_market_polygon_news(void *conf,
    kx_market_query_t *q, ngx_log_t *log, kx_market_done_pt done,
    void *data);
static void kx_market_polygon_cancel(kx_market_call_t *call);
static ngx_int_t kx_market_polygon_live_start(void *conf, ngx_cycle_t *cycle,
    kx_market_live_pt handler, void *data);
static void kx_market_polygon_live_stop(void *conf);

static void kx_market_polygon_ws_connect(kx_market_polygon_stream_t *st);
static void kx_market_polygon_ws_write(ngx_event_t *wev);
static void kx_market_polygon_ws_fail(kx_market_polygon_stream_t *st,
    const char *why, ngx_uint_t level);


kx_market_provider_t  kx_market_provider_polygon = {
    "polygon",
    kx_market_polygon_configure,
    kx_market_polygon_init_process,
    kx_market_polygon_exit_process,
    kx_market_polygon_quote,
    kx_market_polygon_bars,
    kx_market_polygon_news,
    kx_market_polygon_cancel,
    kx_market_polygon_live_start,
    NULL,
    kx_market_polygon_live_stop
};


/* --- configuration ---------------------------------------------------- */


#if (NGX_SSL)

static int
kx_market_polygon_verify(int ok, X509_STORE_CTX *x509_store)
{
    return 1;
}

#endif


static char *
kx_market_polygon_parse_ws(ngx_conf_t *cf, kx_market_polygon_conf_t *pc)
{
    u_char     *p, *last;
    ngx_str_t   rest;
    ngx_url_t  *u;

    p = pc->ws_url.data;
    last = p + pc->ws_url.len;

    if (pc->ws_url.len > 6 && ngx_strncasecmp(p, (u_char *) "wss://", 6) == 0)
    {
        pc->ws_tls = 1;
        rest.data = p + 6;

    } else if (pc->ws_url.len > 5
               && ngx_strncasecmp(p, (u_char *) "ws://", 5) == 0)
    {
        rest.data = p + 5;

    } else {
        return "ws= must start with ws:// or wss://";
    }

#if !(NGX_SSL)
    if (pc->ws_tls) {
        return "ws=wss://... needs nginx built with SSL";
    }
#endif

    rest.len = last - rest.data;

    /* split host[:port] from the path ourselves: the path is sent as is */
    for (p = rest.data; p < last && *p != '/' && *p != '?'; p++) {
        /* void */
    }

    pc->ws_host.data = rest.data;
    pc->ws_host.len = p - rest.data;

    if (p == last) {
        ngx_str_set(&pc->ws_path, "/");

    } else {
        pc->ws_path.data = p;
        pc->ws_path.len = last - p;
    }

    u = &pc->ws;
    ngx_memzero(u, sizeof(ngx_url_t));
    u->url = pc->ws_host;
    u->default_port = pc->ws_tls ? 443 : 80;

    if (ngx_parse_url(cf->pool, u) != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "polygon ws=%V: %s",
                           &pc->ws_url, u->err ? u->err : "invalid");
        return NGX_CONF_ERROR;
    }

    if (u->naddrs == 0) {
        return "ws= host could not be resolved";
    }

#if (NGX_SSL)
    if (pc->ws_tls) {
        ngx_pool_cleanup_t  *cln;

        pc->ssl = ngx_pcalloc(cf->pool, sizeof(ngx_ssl_t));
        if (pc->ssl == NULL) {
            return NGX_CONF_ERROR;
        }

        pc->ssl->log = cf->log;

        if (ngx_ssl_create(pc->ssl, NGX_SSL_TLSv1_2|NGX_SSL_TLSv1_3, NULL)
            != NGX_OK)
        {
            return NGX_CONF_ERROR;
        }

        cln = ngx_pool_cleanup_add(cf->pool, 0);
        if (cln == NULL) {
            ngx_ssl_cleanup_ctx(pc->ssl);
            return NGX_CONF_ERROR;
        }

        cln->handler = ngx_ssl_cleanup_ctx;
        cln->data = pc->ssl;

        /* the peer's certificate against the system's store, or ws_ca */
        if (pc->ws_ca.len) {
            if (ngx_conf_full_name(cf->cycle, &pc->ws_ca, 1) != NGX_OK) {
                return NGX_CONF_ERROR;
            }

            if (SSL_CTX_load_verify_locations(pc->ssl->ctx,
                                              (char *) pc->ws_ca.data, NULL)
                != 1)
            {
                ngx_ssl_error(NGX_LOG_EMERG, cf->log, 0,
                              "polygon: cannot load ws_ca=\"%V\"",
                              &pc->ws_ca);
                return NGX_CONF_ERROR;
            }

        } else if (SSL_CTX_set_default_verify_paths(pc->ssl->ctx) != 1) {
            return "polygon: cannot load the system's CA certificates";
        }

        /* as nginx's own proxy_ssl_verify: the handshake completes and
         * kx_market_polygon_ws_ssl_done() reads the verdict */
        SSL_CTX_set_verify(pc->ssl->ctx, SSL_VERIFY_PEER,
                           kx_market_polygon_verify);
    }
#endif

    return NGX_CONF_OK;
}


static char *
kx_market_polygon_configure(ngx_conf_t *cf, ngx_str_t *args,
    ngx_uint_t nargs, void **conf)
{
    char                      *rv;
    u_char                    *eq;
    ngx_int_t                  n;
    ngx_str_t                  name, value;
    ngx_uint_t                 i;
    kx_market_polygon_conf_t  *pc;

    pc = ngx_pcalloc(cf->pool, sizeof(kx_market_polygon_conf_t));
    if (pc == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_str_set(&pc->url, "https://api.polygon.io");
    ngx_str_set(&pc->ws_url, "wss://socket.polygon.io/stocks");
    ngx_str_set(&pc->key_env, "POLYGON_API_KEY");
    pc->timeout = 5000;
    pc->retries = 1;
    pc->stream = 1;
    pc->ws_backoff = 500;
    pc->ws_backoff_max = 30000;
    pc->ws_ping = 30000;

    for (i = 0; i < nargs; i++) {
        eq = ngx_strlchr(args[i].data, args[i].data + args[i].len, '=');
        if (eq == NULL) {
            goto invalid;
        }

        name.data = args[i].data;
        name.len = eq - args[i].data;
        value.data = eq + 1;
        value.len = args[i].data + args[i].len - value.data;

        if (name.len == 3 && ngx_strncmp(name.data, "url", 3) == 0) {
            while (value.len && value.data[value.len - 1] == '/') {
                value.len--;
            }

            if (value.len < 8
                || (ngx_strncasecmp(value.data, (u_char *) "http://", 7)
                    != 0
                    && ngx_strncasecmp(value.data, (u_char *) "https://", 8)
                       != 0))
            {
                return "polygon url= must be an http:// or https:// URL";
            }

            pc->url = value;

        } else if (name.len == 2 && ngx_strncmp(name.data, "ws", 2) == 0) {
            pc->ws_url = value;

        } else if (name.len == 7 && ngx_strncmp(name.data, "key_env", 7) == 0)
        {
            if (value.len == 0) {
                goto invalid;
            }
            pc->key_env = value;

        } else if (name.len == 6 && ngx_strncmp(name.data, "stream", 6) == 0)
        {
            if (value.len == 2 && ngx_strncmp(value.data, "on", 2) == 0) {
                pc->stream = 1;
            } else if (value.len == 3
                       && ngx_strncmp(value.data, "off", 3) == 0)
            {
                pc->stream = 0;
            } else {
                goto invalid;
            }

        } else if (name.len == 7 && ngx_strncmp(name.data, "timeout", 7) == 0)
        {
            pc->timeout = ngx_parse_time(&value, 0);
            if (pc->timeout == (ngx_msec_t) NGX_ERROR || pc->timeout == 0) {
                goto invalid;
            }

        } else if (name.len == 7 && ngx_strncmp(name.data, "retries", 7) == 0)
        {
            n = ngx_atoi(value.data, value.len);
            if (n == NGX_ERROR || n > 10) {
                goto invalid;
            }
            pc->retries = n;

        } else if (name.len == 10
                   && ngx_strncmp(name.data, "ws_backoff", 10) == 0)
        {
            pc->ws_backoff = ngx_parse_time(&value, 0);
            if (pc->ws_backoff == (ngx_msec_t) NGX_ERROR
                || pc->ws_backoff == 0)
            {
                goto invalid;
            }

        } else if (name.len == 14
                   && ngx_strncmp(name.data, "ws_backoff_max", 14) == 0)
        {
            pc->ws_backoff_max = ngx_parse_time(&value, 0);
            if (pc->ws_backoff_max == (ngx_msec_t) NGX_ERROR) {
                goto invalid;
            }

        } else if (name.len == 5 && ngx_strncmp(name.data, "ws_ca", 5) == 0) {
            if (value.len == 0) {
                goto invalid;
            }

            /* NUL-terminated for OpenSSL */
            pc->ws_ca.data = ngx_pnalloc(cf->pool, value.len + 1);
            if (pc->ws_ca.data == NULL) {
                return NGX_CONF_ERROR;
            }

            ngx_memcpy(pc->ws_ca.data, value.data, value.len);
            pc->ws_ca.data[value.len] = '\0';
            pc->ws_ca.len = value.len;

        } else if (name.len == 7 && ngx_strncmp(name.data, "ws_ping", 7) == 0)
        {
            pc->ws_ping = ngx_parse_time(&value, 0);
            if (pc->ws_ping == (ngx_msec_t) NGX_ERROR) {
                goto invalid;
            }

        } else {
            goto invalid;
        }
    }

    if (pc->ws_backoff_max < pc->ws_backoff) {
        pc->ws_backoff_max = pc->ws_backoff;
    }

    if (pc->stream) {
        rv = kx_market_polygon_parse_ws(cf, pc);
        if (rv != NGX_CONF_OK) {
            return rv;
        }
    }

    *conf = pc;

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "kx_market_provider polygon: invalid parameter \"%V\"",
                       &args[i]);

    return NGX_CONF_ERROR;
}


static ngx_int_t
kx_market_polygon_init_process(ngx_cycle_t *cycle, void *conf)
{
    u_char                    *p, *env;
    size_t                     len;
    kx_market_polygon_conf_t  *pc = conf;

    /* only variables named by `env` reach a worker */
    p = ngx_pnalloc(cycle->pool, pc->key_env.len + 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(p, pc->key_env.data, pc->key_env.len);
    p[pc->key_env.len] = '\0';

    env = (u_char *) getenv((char *) p);

    if (env == NULL || *env == '\0') {
        ngx_log_error(NGX_LOG_WARN, cycle->log, 0,
                      "kx_market_provider polygon: $%s is empty (is there an "
                      "\"env %s;\"?): Polygon calls will fail", p, p);
        ngx_str_null(&pc->key);
        return NGX_OK;
    }

    len = ngx_strlen(env);

    pc->key.data = env;
    pc->key.len = len;

    pc->auth.data = ngx_pnalloc(cycle->pool, sizeof("Authorization: Bearer ")
                                             + len);
    if (pc->auth.data == NULL) {
        return NGX_ERROR;
    }

    pc->auth.len = ngx_sprintf(pc->auth.data, "Authorization: Bearer %V",
                               &pc->key)
                   - pc->auth.data;

    return NGX_OK;
}


static void
kx_market_polygon_exit_process(ngx_cycle_t *cycle, void *conf)
{
    kx_market_polygon_live_stop(conf);
}


/* --- REST calls ------------------------------------------------------- */


static void
kx_market_polygon_finish(kx_market_call_t *call, kx_market_status_e status,
    const char *detail)
{
    /* the caller logs a failure with its detail */
    call->res.status = status;
    call->res.detail = detail;

    call->done(&call->res, call->data);

    ngx_destroy_pool(call->pool);
}


static void
kx_market_polygon_posted(ngx_event_t *ev)
{
    kx_market_call_t  *call = ev->data;

    kx_market_polygon_finish(call, call->res.status, call->res.detail);
}


/* answers a call that cannot reach Polygon, from the event loop */
static kx_market_call_t *
kx_market_polygon_fail_soon(kx_market_call_t *call,
    kx_market_status_e status, const char *detail)
{
    call->res.status = status;
    call->res.detail = detail;

    call->posted.handler = kx_market_polygon_posted;
    call->posted.data = call;
    call->posted.log = call->log;

    ngx_post_event(&call->posted, &ngx_posted_events);

    return call;
}


static kx_market_call_t *
kx_market_polygon_call(kx_market_polygon_conf_t *pc, ngx_uint_t kind,
    kx_market_query_t *q, ngx_log_t *log, kx_market_done_pt done,
    void *data)
{
    size_t             len;
    ngx_pool_t        *pool;
    kx_market_call_t  *call;

    pool = ngx_create_pool(2048, log);
    if (pool == NULL) {
        return NULL;
    }

    call = ngx_pcalloc(pool, sizeof(kx_market_call_t));
    if (call == NULL) {
        ngx_destroy_pool(pool);
        return NULL;
    }

    call->conf = pc;
    call->pool = pool;
    call->log = log;
    call->done = done;
    call->data = data;
    call->kind = kind;
    call->q = *q;

    len = q->symbol ? ngx_strlen(q->symbol) : 0;

    if (kx_polygon_symbol_valid(q->symbol, len)) {
        ngx_memcpy(call->symbol, q->symbol, len + 1);
        call->q.symbol = call->symbol;
    }

    return call;
}


/* a call that cannot go to Polygon: not its ticker, or no key */
static kx_market_call_t *
kx_market_polygon_refuse(kx_market_call_t *call)
{
    if (call->symbol[0] == '\0') {
        return kx_market_polygon_fail_soon(call, KX_MARKET_NOT_FOUND,
                                           "not a Polygon ticker");
    }

    return kx_market_polygon_fail_soon(call, KX_MARKET_UNAVAILABLE,
                                       "no Polygon API key");
}


/* sends path to Polygon; NGX_ERROR only when nothing could start */
static ngx_int_t
kx_market_polygon_send(kx_market_call_t *call, const char *path,
    size_t path_len, kx_http_handler_pt handler)
{
    /* a page of bars may be long: ~100 bytes a bar */
    size_t                     max_size;
    u_char                    *p;
    kx_http_spec_t             spec;
    kx_market_polygon_conf_t  *pc;

    pc = call->conf;

    ngx_memzero(&spec, sizeof(kx_http_spec_t));

    p = ngx_pnalloc(call->pool, pc->url.len + path_len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    spec.url.data = p;
    p = ngx_cpymem(p, pc->url.data, pc->url.len);
    p = ngx_cpymem(p, path, path_len);
    spec.url.len = p - spec.url.data;

    spec.headers = &pc->auth;
    spec.nheaders = 1;
    spec.timeout = pc->timeout;
    spec.max_retries = pc->retries;
    spec.idempotent = 1;
    spec.log = call->log;

    max_size = (call->kind == KX_POLYGON_CALL_BARS) ? 16 * 1024 * 1024 : 0;
    spec.max_size = max_size;

    call->http = kx_http_request(&spec, handler, call);

    return call->http ? NGX_OK : NGX_ERROR;
}


/*
 * The outcome of an exchange with Polygon, unless it is a 200: then
 * KX_MARKET_OK and the caller reads the body.
 */
static kx_market_status_e
kx_market_polygon_status(kx_market_call_t *call, kx_http_response_t *res,
    const char **detail)
{
    char  *buf;

    *detail = res->message;

    switch (res->error) {

    case KX_HTTP_OK:
        break;

    case KX_HTTP_TIMEOUT:
        return KX_MARKET_TIMEOUT;

    case KX_HTTP_CONNECT:
    case KX_HTTP_TLS:
    case KX_HTTP_IO:
    case KX_HTTP_BREAKER_OPEN:
        return KX_MARKET_UNAVAILABLE;

    default:
        return KX_MARKET_ERROR;
    }

    if (res->status == 200) {
        return KX_MARKET_OK;
    }

    buf = ngx_pnalloc(call->pool, 384);
    if (buf != NULL) {
        char  text[320];

        kx_polygon_error_text((char *) res->body.data, res->body.len, text,
                              sizeof(text));
        ngx_snprintf((u_char *) buf, 383, "Polygon answered %ui %s%Z",
                     res->status, text);
        *detail = buf;
    }

    switch (res->status) {

    case 404:
        return KX_MARKET_NOT_FOUND;

    /* rate limited, or down for now: try again later */
    case 429:
    case 503:
        return KX_MARKET_UNAVAILABLE;

    case 504:
        return KX_MARKET_TIMEOUT;

    /* 401/403 (our key or plan), other 4xx and 5xx: a bad gateway */
    default:
        return KX_MARKET_ERROR;
    }
}


static void
kx_market_polygon_quote_done(kx_http_response_t *res, void *data)
{
    kx_market_call_t  *call = data;

    int                 rc;
    const char         *detail;
    kx_polygon_quote_t  pq;
    kx_market_status_e  status;

    call->http = NULL;

    status = kx_market_polygon_status(call, res, &detail);
    if (status != KX_MARKET_OK) {
        kx_market_polygon_finish(call, status, detail);
        return;
    }

    rc = kx_polygon_parse_snapshot((char *) res->body.data, res->body.len,
                                   &pq);

    if (rc == KX_POLYGON_ENOTFOUND) {
        kx_market_polygon_finish(call, KX_MARKET_NOT_FOUND,
                                 "Polygon has no snapshot of the ticker");
        return;
    }

    if (rc != KX_POLYGON_OK || ngx_strcmp(pq.symbol, call->symbol) != 0) {
        kx_market_polygon_finish(call, KX_MARKET_ERROR,
                                 rc != KX_POLYGON_OK ? kx_polygon_strerror(rc)
                                 : "the snapshot is of another ticker");
        return;
    }

    kx_polygon_sim_quote(&pq, call->q.sym, &call->quote);
    call->res.quote = &call->quote;

    kx_market_polygon_finish(call, KX_MARKET_OK, NULL);
}


static kx_market_call_t *
kx_market_polygon_quote(void *conf, kx_market_query_t *q, ngx_log_t *log,
    kx_market_done_pt done, void *data)
{
    char                       path[KX_POLYGON_PATH_MAX];
    size_t                     len;
    kx_market_call_t          *call;
    kx_market_polygon_conf_t  *pc = conf;

    call = kx_market_polygon_call(pc, KX_POLYGON_CALL_QUOTE, q, log, done,
                                  data);
    if (call == NULL) {
        return NULL;
    }

    if (call->symbol[0] == '\0' || pc->key.len == 0) {
        return kx_market_polygon_refuse(call);
    }

    len = kx_polygon_path_snapshot(path, sizeof(path), call->symbol);

    if (kx_market_polygon_send(call, path, len, kx_market_polygon_quote_done)
        != NGX_OK)
    {
        ngx_destroy_pool(call->pool);
        return NULL;
    }

    return call;
}


static ngx_int_t
kx_market_polygon_bars_page(kx_market_call_t *call, const char *path,
    size_t len);


static void
kx_market_polygon_bars_done(kx_http_response_t *res, void *data)
{
    kx_market_call_t  *call = data;

    int                  rc;
    size_t               i, j, n;
    const char          *detail, *np;
    kx_market_bar_t      tmp;
    kx_market_status_e   status;

    call->http = NULL;

    status = kx_market_polygon_status(call, res, &detail);
    if (status != KX_MARKET_OK) {
        kx_market_polygon_finish(call, status, detail);
        return;
    }

    rc = kx_polygon_parse_aggs((char *) res->body.data, res->body.len,
                               call->page, call->npage, &n, call->next,
                               KX_POLYGON_NEXT_MAX);
    if (rc != KX_POLYGON_OK) {
        kx_market_polygon_finish(call, KX_MARKET_ERROR,
                                 kx_polygon_strerror(rc));
        return;
    }

    call->pages++;

    /* only bars that start in [from, to): Polygon's range is of days */
    for (i = 0; i < n && call->nbars < call->q.limit; i++) {
        if (call->page[i].t < call->from_ms
            || call->page[i].t >= call->q.to_ms)
        {
            continue;
        }

        kx_polygon_sim_bar(&call->page[i], &call->bars[call->nbars++]);
    }

    if (call->nbars < call->q.limit && call->next[0] != '\0'
        && call->pages < KX_POLYGON_PAGES_MAX)
    {
        np = kx_polygon_next_path(call->next, ngx_strlen(call->next), &n);

        if (np != NULL) {
            if (kx_market_polygon_bars_page(call, np, n) != NGX_OK) {
                kx_market_polygon_finish(call, KX_MARKET_ERROR,
                                         "out of memory");
            }
            return;
        }
    }

    /* newest first when read backwards: our bars are oldest first */
    if (call->desc) {
        for (i = 0, j = call->nbars; i + 1 < j; i++, j--) {
            tmp = call->bars[i];
            call->bars[i] = call->bars[j - 1];
            call->bars[j - 1] = tmp;
        }
    }

    call->res.bars = call->bars;
    call->res.nbars = call->nbars;

    kx_market_polygon_finish(call, KX_MARKET_OK, NULL);
}


static ngx_int_t
kx_market_polygon_bars_page(kx_market_call_t *call, const char *path,
    size_t len)
{
    return kx_market_polygon_send(call, path, len,
                                  kx_market_polygon_bars_done);
}


static kx_market_call_t *
kx_market_polygon_bars(void *conf, kx_market_query_t *q, ngx_log_t *log,
    kx_market_done_pt done, void *data)
{
    char                       path[KX_POLYGON_PATH_MAX];
    size_t                     len;
    int64_t                    tf_ms, from, span;
    uint64_t                   base;
    unsigned                   mult;
    const char                *timespan, *tf;
    kx_market_call_t          *call;
    kx_market_polygon_conf_t  *pc = conf;

    call = kx_market_polygon_call(pc, KX_POLYGON_CALL_BARS, q, log, done,
                                  data);
    if (call == NULL) {
        return NULL;
    }

    if (call->symbol[0] == '\0' || pc->key.len == 0) {
        return kx_market_polygon_refuse(call);
    }

    tf = kx_sim_tf_name(q->tf);

    if (kx_polygon_timeframe(tf, ngx_strlen(tf), &mult, &timespan, &tf_ms)
        != KX_POLYGON_OK)
    {
        return kx_market_polygon_fail_soon(call, KX_MARKET_ERROR,
                                           "timeframe unknown to Polygon");
    }

    if (q->limit == 0 || q->to_ms <= q->from_ms) {
        call->res.bars = NULL;
        call->res.nbars = 0;
        return kx_market_polygon_fail_soon(call, KX_MARKET_OK, NULL);
    }

    call->bars = ngx_palloc(call->pool, q->limit * sizeof(kx_market_bar_t));
    call->npage = q->limit;
    call->page = ngx_palloc(call->pool,
                            call->npage * sizeof(kx_polygon_bar_t));
    call->next = ngx_pnalloc(call->pool, KX_POLYGON_NEXT_MAX);

    if (call->bars == NULL || call->page == NULL || call->next == NULL) {
        ngx_destroy_pool(call->pool);
        return NULL;
    }

    if (q->has_from) {
        from = q->from_ms;

    } else {
        /*
         * The newest `limit` bars before to, read backwards from a start
         * far enough back: Polygon's stock bars cover 16 hours of 24
         * (4:00-20:00 New York) on 5 days of 7, daily bars 5 days of 7,
         * and holidays take a few more.
         */
        span = (int64_t) q->limit * tf_ms;
        span = (tf_ms >= KX_MS_PER_DAY) ? span * 3 / 2 : span * 3;
        span += 5 * KX_MS_PER_DAY;
        from = q->to_ms - span;
        call->desc = 1;
    }

    call->from_ms = from;

    /*
     * Polygon's limit counts the base aggregates a page is built from
     * (minutes for minute and hour bars): ask for about what we need,
     * and next_url brings the rest if that was short.
     */
    base = (uint64_t) q->limit * mult * (tf_ms == KX_MS_PER_HOUR ? 60 : 1);
    base += base / 10 + 10;

    if (base > KX_POLYGON_AGGS_LIMIT) {
        base = KX_POLYGON_AGGS_LIMIT;
    }

    /* Polygon's "to" is inclusive; ours is not */
    len = kx_polygon_path_aggs(path, sizeof(path), call->symbol, mult,
                               timespan, from < 0 ? 0 : from,
                               q->to_ms - 1, call->desc, (unsigned) base);

    if (kx_market_polygon_bars_page(call, path, len) != NGX_OK) {
        ngx_destroy_pool(call->pool);
        return NULL;
    }

    return call;
}


static void
kx_market_polygon_news_done(kx_http_response_t *res, void *data)
{
    kx_market_call_t  *call = data;

    int                 rc;
    size_t              n;
    const char         *detail;
    kx_json_doc_t      *doc;
    kx_market_news_t   *items;
    kx_market_status_e  status;

    call->http = NULL;

    status = kx_market_polygon_status(call, res, &detail);
    if (status != KX_MARKET_OK) {
        kx_market_polygon_finish(call, status, detail);
        return;
    }

    if (kx_json_parse((char *) res->body.data, res->body.len, NULL, &doc,
                      NULL)
        != KX_JSON_PE_OK)
    {
        kx_market_polygon_finish(call, KX_MARKET_ERROR,
                                 "news: not the documented JSON");
        return;
    }

    items = ngx_palloc(call->pool, (call->q.limit ? call->q.limit : 1)
                                   * sizeof(kx_market_news_t));
    if (items == NULL) {
        kx_json_free(doc);
        kx_market_polygon_finish(call, KX_MARKET_ERROR, "out of memory");
        return;
    }

    rc = kx_polygon_news_items(doc, call->symbol, items, call->q.limit, &n);

    if (rc != KX_POLYGON_OK) {
        kx_json_free(doc);
        kx_market_polygon_finish(call, KX_MARKET_ERROR,
                                 kx_polygon_strerror(rc));
        return;
    }

    for (rc = 0; (size_t) rc < n; rc++) {
        items[rc].sym = call->q.sym;
    }

    call->res.news = items;
    call->res.nnews = n;

    /* the items point into doc (their source): free it after done() */
    call->res.status = KX_MARKET_OK;
    call->res.detail = NULL;
    call->done(&call->res, call->data);

    kx_json_free(doc);
    ngx_destroy_pool(call->pool);
}


static kx_market_call_t *
kx_market_polygon_news(void *conf, kx_market_query_t *q, ngx_log_t *log,
    kx_market_done_pt done, void *data)
{
    char                       path[KX_POLYGON_PATH_MAX];
    size_t                     len;
    kx_market_call_t          *call;
    kx_market_polygon_conf_t  *pc = conf;

    call = kx_market_polygon_call(pc, KX_POLYGON_CALL_NEWS, q, log, done,
                                  data);
    if (call == NULL) {
        return NULL;
    }

    if (call->symbol[0] == '\0' || pc->key.len == 0) {
        return kx_market_polygon_refuse(call);
    }

    len = kx_polygon_path_news(path, sizeof(path), call->symbol,
                               (unsigned) (q->limit ? q->limit : 10),
                               q->before_ms);

    if (kx_market_polygon_send(call, path, len, kx_market_polygon_news_done)
        != NGX_OK)
    {
        ngx_destroy_pool(call->pool);
        return NULL;
    }

    return call;
}


static void
kx_market_polygon_cancel(kx_market_call_t *call)
{
    if (call->http) {
        kx_http_cancel(call->http);
        call->http = NULL;
    }

    if (call->posted.posted) {
        ngx_delete_posted_event(&call->posted);
    }

    ngx_destroy_pool(call->pool);
}


/* --- the WebSocket stream --------------------------------------------- */


static ngx_int_t
kx_market_polygon_grow(u_char **buf, size_t *cap, size_t need, ngx_log_t *log)
{
    size_t   n;
    u_char  *nb;

    if (need <= *cap) {
        return NGX_OK;
    }

    n = *cap ? *cap : 4096;
    while (n < need) {
        n *= 2;
    }

    nb = ngx_alloc(n, log);
    if (nb == NULL) {
        return NGX_ERROR;
    }

    if (*buf) {
        ngx_memcpy(nb, *buf, *cap);
        ngx_free(*buf);
    }

    *buf = nb;
    *cap = n;

    return NGX_OK;
}


static ngx_int_t
kx_market_polygon_ws_queue(kx_market_polygon_stream_t *st, unsigned opcode,
    const u_char *payload, size_t len)
{
    u_char  mask[4];
    size_t  n;

    /* RFC 6455 10.3: masking keys an intermediary cannot predict */
    if (RAND_bytes(mask, 4) != 1) {
        return NGX_ERROR;
    }

    if (kx_market_polygon_grow(&st->out, &st->out_cap,
                               st->out_len + len + KX_WSC_HEADER_MAX,
                               st->log)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    n = kx_wsc_frame(st->out + st->out_len, st->out_cap - st->out_len,
                     opcode, payload, len, mask);
    st->out_len += n;

    return NGX_OK;
}


/* NGX_OK: all written; NGX_AGAIN: the rest waits for the write event */
static ngx_int_t
kx_market_polygon_ws_flush(kx_market_polygon_stream_t *st)
{
    ssize_t            n;
    ngx_connection_t  *c;

    c = st->c;

    while (st->out_pos < st->out_len) {
        n = c->send(c, st->out + st->out_pos, st->out_len - st->out_pos);

        if (n == NGX_AGAIN) {
            return ngx_handle_write_event(c->write, 0) == NGX_OK
                   ? NGX_AGAIN : NGX_ERROR;
        }

        if (n <= 0) {
            return NGX_ERROR;
        }

        st->out_pos += n;
    }

    st->out_pos = 0;
    st->out_len = 0;

    return NGX_OK;
}


static void
kx_market_polygon_ws_close(kx_market_polygon_stream_t *st)
{
    ngx_pool_t        *pool;
    ngx_connection_t  *c;

    c = st->c;

    if (c != NULL) {
        pool = c->pool;

#if (NGX_SSL)
        if (c->ssl) {
            c->ssl->no_wait_shutdown = 1;
            (void) ngx_ssl_shutdown(c);
        }
#endif
        ngx_close_connection(c);
        st->c = NULL;

        if (pool) {
            ngx_destroy_pool(pool);
        }
    }

    if (st->ping.timer_set) {
        ngx_del_timer(&st->ping);
    }

    st->state = KX_POLYGON_WS_IDLE;
    st->in_len = 0;
    st->out_len = 0;
    st->out_pos = 0;
    st->closing = 0;

    kx_wsc_free(&st->ws);
    kx_wsc_init(&st->ws, KX_POLYGON_WS_MAX_MESSAGE);
}


static void
kx_market_polygon_ws_fail(kx_market_polygon_stream_t *st, const char *why,
    ngx_uint_t level)
{
    kx_market_polygon_conf_t  *pc;

    pc = st->conf;

    kx_market_polygon_ws_close(st);

    if (ngx_exiting || ngx_terminate || st->handler == NULL) {
        return;
    }

    /* decorrelated jitter: many workers of many hosts do not return at
     * once after an outage */
    st->delay = kx_backoff_decorrelated(pc->ws_backoff, pc->ws_backoff_max,
                                        st->delay, (uint32_t) ngx_random());
    st->attempt++;

    ngx_http_kx_metrics_count((ngx_cycle_t *) ngx_cycle,
                              "kx_market_polygon_stream_failures_total", 1);

    ngx_log_error(level, st->log, 0,
                  "polygon stream: %s; reconnecting in %L ms (attempt %ud)",
                  why, st->delay, st->attempt);

    ngx_add_timer(&st->retry, (ngx_msec_t) st->delay);
}


static void
kx_market_polygon_ws_publish(kx_market_polygon_stream_t *st, size_t i)
{
    kx_market_quote_t  q;

    kx_polygon_sim_quote(&st->quotes[i], (unsigned) i, &q);
    st->handler(&q, st->data);
}


static int
kx_market_polygon_seed_quote(const kx_polygon_quote_t *q, void *data)
{
    kx_market_polygon_stream_t  *st = data;

    int                  i;
    kx_polygon_quote_t  *cur;

    i = kx_symbol_index(q->symbol, ngx_strlen(q->symbol));
    if (i < 0 || (size_t) i >= st->nsyms) {
        return 0;
    }

    cur = &st->quotes[i];

    cur->open = q->open;
    cur->has_open = q->has_open;
    cur->prev_close = q->prev_close;
    cur->has_prev_close = q->has_prev_close;

    /* the stream's own quotes are newer than any snapshot */
    if (cur->time_ms == 0) {
        cur->bid = q->bid;
        cur->has_bid = q->has_bid;
        cur->ask = q->ask;
        cur->has_ask = q->has_ask;
        cur->bid_size = q->bid_size;
        cur->ask_size = q->ask_size;
        cur->price = q->price;
        cur->has_trade = q->has_trade;
        cur->has_price = q->has_price;
        cur->time_ms = q->time_ms;
    }

    kx_polygon_quote_finish(cur);
    kx_market_polygon_ws_publish(st, (size_t) i);

    return 0;
}


static void
kx_market_polygon_seed_done(kx_http_response_t *res, void *data)
{
    kx_market_polygon_stream_t  *st = data;

    int  rc;

    st->seed = NULL;

    if (res->error != KX_HTTP_OK || res->status != 200) {
        ngx_log_error(NGX_LOG_WARN, st->log, 0,
                      "polygon stream: the snapshot of open and previous "
                      "close failed: %s (HTTP %ui)", res->message,
                      res->status);
        return;
    }

    rc = kx_polygon_parse_snapshots((char *) res->body.data, res->body.len,
                                    kx_market_polygon_seed_quote, st);
    if (rc != KX_POLYGON_OK) {
        ngx_log_error(NGX_LOG_WARN, st->log, 0,
                      "polygon stream: snapshot: %s",
                      kx_polygon_strerror(rc));
    }
}


/* the day's open and previous close of every symbol, in one request */
static void
kx_market_polygon_seed(kx_market_polygon_stream_t *st)
{
    u_char                    *url, *p;
    size_t                     i, len, size;
    kx_http_spec_t             spec;
    const char               **syms;
    kx_market_polygon_conf_t  *pc;

    pc = st->conf;

    if (st->seed != NULL) {
        return;
    }

    st->seeded = ngx_time();

    syms = ngx_alloc(st->nsyms * sizeof(char *), st->log);
    size = pc->url.len + st->nsyms * (KX_POLYGON_SYM_MAX + 3) + 128;
    url = ngx_alloc(size, st->log);

    if (syms == NULL || url == NULL) {
        goto done;
    }

    for (i = 0; i < st->nsyms; i++) {
        syms[i] = st->quotes[i].symbol;
    }

    p = ngx_cpymem(url, pc->url.data, pc->url.len);
    len = kx_polygon_path_snapshots((char *) p, size - pc->url.len, syms,
                                    st->nsyms);
    if (len >= size - pc->url.len) {
        goto done;
    }

    ngx_memzero(&spec, sizeof(kx_http_spec_t));
    spec.url.data = url;
    spec.url.len = pc->url.len + len;
    spec.headers = &pc->auth;
    spec.nheaders = 1;
    spec.timeout = pc->timeout;
    spec.max_retries = pc->retries;
    spec.idempotent = 1;
    spec.log = st->log;

    /* the spec is copied: url may go */
    st->seed = kx_http_request(&spec, kx_market_polygon_seed_done, st);

done:

    if (syms) {
        ngx_free(syms);
    }

    if (url) {
        ngx_free(url);
    }
}


static int
kx_market_polygon_ws_event(const kx_polygon_event_t *ev, void *data)
{
    kx_market_polygon_stream_t  *st = data;

    int                        i;
    char                       buf[4096];
    size_t                     n, k;
    const char               **syms;
    kx_market_polygon_conf_t  *pc;

    pc = st->conf;

#define kx_status_is(lit)                                                     \
    (ev->status_len == sizeof(lit) - 1                                        \
     && ngx_strncmp(ev->status, lit, sizeof(lit) - 1) == 0)

    switch (ev->type) {

    case KX_POLYGON_EV_STATUS:

        if (kx_status_is("connected")) {
            n = kx_polygon_ws_auth(buf, sizeof(buf), (char *) pc->key.data,
                                   pc->key.len);
            if (n >= sizeof(buf)
                || kx_market_polygon_ws_queue(st, KX_WSC_OP_TEXT,
                                              (u_char *) buf, n)
                   != NGX_OK)
            {
                kx_market_polygon_ws_fail(st, "cannot send auth",
                                          NGX_LOG_ERR);
                return 1;
            }

        } else if (kx_status_is("auth_success")) {
            syms = ngx_alloc(st->nsyms * sizeof(char *), st->log);
            if (syms == NULL) {
                kx_market_polygon_ws_fail(st, "out of memory", NGX_LOG_ERR);
                return 1;
            }

            for (k = 0; k < st->nsyms; k++) {
                syms[k] = st->quotes[k].symbol;
            }

            n = kx_polygon_ws_subscribe(buf, sizeof(buf), syms, st->nsyms);
            ngx_free(syms);

            if (n >= sizeof(buf)
                || kx_market_polygon_ws_queue(st, KX_WSC_OP_TEXT,
                                              (u_char *) buf, n)
                   != NGX_OK)
            {
                kx_market_polygon_ws_fail(st, "cannot subscribe",
                                          NGX_LOG_ERR);
                return 1;
            }

            ngx_log_error(NGX_LOG_NOTICE, st->log, 0,
                          "polygon stream: authenticated, subscribing to "
                          "%uz symbols", st->nsyms);

            st->attempt = 0;
            st->delay = 0;

            kx_market_polygon_seed(st);

        } else if (kx_status_is("auth_failed") || kx_status_is("auth_timeout"))
        {
            /* a wrong key stays wrong: wait the longest before trying */
            st->delay = pc->ws_backoff_max;
            ngx_log_error(NGX_LOG_ERR, st->log, 0,
                          "polygon stream: %*s: %*s",
                          ev->status_len, ev->status,
                          ev->message_len, ev->message);
            kx_market_polygon_ws_fail(st, "authentication failed",
                                      NGX_LOG_ERR);
            return 1;

        } else if (kx_status_is("success")) {
            ngx_log_error(NGX_LOG_INFO, st->log, 0, "polygon stream: %*s",
                          ev->message_len, ev->message);

        } else {
            /* max_connections, error, ...: Polygon closes next */
            ngx_log_error(NGX_LOG_WARN, st->log, 0,
                          "polygon stream: status %*s: %*s",
                          ev->status_len, ev->status,
                          ev->message_len, ev->message);
        }

        break;

    case KX_POLYGON_EV_QUOTE:
    case KX_POLYGON_EV_TRADE:

        if (ev->type == KX_POLYGON_EV_QUOTE) {
            st->nq++;
        } else {
            st->nt++;
        }

        i = kx_symbol_index(ev->symbol, ngx_strlen(ev->symbol));

        if (i >= 0 && (size_t) i < st->nsyms
            && kx_polygon_quote_apply(&st->quotes[i], ev))
        {
            kx_market_polygon_ws_publish(st, (size_t) i);
        }

        break;

    default:
        break;
    }

#undef kx_status_is

    return 0;
}


/* NGX_OK, or NGX_ERROR when the connection failed (st->c is gone) */
static ngx_int_t
kx_market_polygon_ws_process(kx_market_polygon_stream_t *st)
{
    int                rc;
    size_t             off, used, hs;
    unsigned           status;
    kx_wsc_msg_t       msg;
    ngx_connection_t  *c;
    u_char             errbuf[64];

    c = st->c;
    off = 0;

    if (st->state == KX_POLYGON_WS_UPGRADE) {
        rc = kx_wsc_response((char *) st->in, st->in_len, st->key, &hs,
                             &status);
        if (rc == KX_WSC_AGAIN) {
            return NGX_OK;
        }

        if (rc != KX_WSC_OK) {
            ngx_snprintf(errbuf, sizeof(errbuf),
                         "the upgrade was refused (HTTP %ui)%Z", status);
            kx_market_polygon_ws_fail(st, (char *) errbuf, NGX_LOG_WARN);
            return NGX_ERROR;
        }

        if (c->read->timer_set) {
            ngx_del_timer(c->read);
        }

        off = hs;
        st->state = KX_POLYGON_WS_OPEN;
        st->heard = 1;

        if (st->conf->ws_ping) {
            ngx_add_timer(&st->ping, st->conf->ws_ping);
        }

        ngx_log_error(NGX_LOG_INFO, st->log, 0,
                      "polygon stream: connected to %V", &st->conf->ws_url);

        ngx_http_kx_metrics_count((ngx_cycle_t *) ngx_cycle,
                                  "kx_market_polygon_stream_connects_total",
                                  1);
    }

    while (off < st->in_len) {
        rc = kx_wsc_read(&st->ws, st->in + off, st->in_len - off, &used,
                         &msg);

        if (rc == KX_WSC_AGAIN) {
            break;
        }

        if (rc != KX_WSC_OK) {
            kx_market_polygon_ws_fail(st, rc == KX_WSC_ETOOBIG
                                          ? "a message over 1 MB"
                                          : "a frame that breaks RFC 6455",
                                      NGX_LOG_WARN);
            return NGX_ERROR;
        }

        off += used;

        switch (msg.opcode) {

        case 0:
        case KX_WSC_OP_PONG:
            break;

        case KX_WSC_OP_TEXT:
        case KX_WSC_OP_BINARY:
            st->nq = 0;
            st->nt = 0;

            rc = kx_polygon_ws_events((char *) msg.data, msg.len,
                                      kx_market_polygon_ws_event, st);

            /* counted once a message: a burst holds hundreds of events */
            if (st->nq) {
                ngx_http_kx_metrics_count((ngx_cycle_t *) ngx_cycle,
                    "kx_market_polygon_stream_events_total{ev=\"Q\"}",
                    st->nq);
            }

            if (st->nt) {
                ngx_http_kx_metrics_count((ngx_cycle_t *) ngx_cycle,
                    "kx_market_polygon_stream_events_total{ev=\"T\"}",
                    st->nt);
            }

            if (st->c == NULL) {
                return NGX_ERROR;
            }

            if (rc != KX_POLYGON_OK) {
                ngx_log_error(NGX_LOG_WARN, st->log, 0,
                              "polygon stream: a message with %s",
                              kx_polygon_strerror(rc));
            }
            break;

        case KX_WSC_OP_PING:
            if (kx_market_polygon_ws_queue(st, KX_WSC_OP_PONG, msg.data,
                                           msg.len)
                != NGX_OK)
            {
                kx_market_polygon_ws_fail(st, "out of memory", NGX_LOG_ERR);
                return NGX_ERROR;
            }
            break;

        default: /* KX_WSC_OP_CLOSE: echo its status, then go */
            (void) kx_market_polygon_ws_queue(st, KX_WSC_OP_CLOSE, msg.data,
                                              msg.len >= 2 ? 2 : 0);
            (void) kx_market_polygon_ws_flush(st);
            kx_market_polygon_ws_fail(st, "closed by Polygon", NGX_LOG_WARN);
            return NGX_ERROR;
        }
    }

    if (off > 0) {
        ngx_memmove(st->in, st->in + off, st->in_len - off);
        st->in_len -= off;
    }

    if (st->out_len > 0 && kx_market_polygon_ws_flush(st) == NGX_ERROR) {
        kx_market_polygon_ws_fail(st, "write failed", NGX_LOG_WARN);
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void
kx_market_polygon_ws_read(ngx_event_t *rev)
{
    ssize_t                      n;
    ngx_connection_t            *c;
    kx_market_polygon_stream_t  *st;

    c = rev->data;
    st = c->data;

    if (rev->timedout) {
        kx_market_polygon_ws_fail(st, "no answer to the upgrade in time",
                                  NGX_LOG_WARN);
        return;
    }

    if (st->state != KX_POLYGON_WS_UPGRADE
        && st->state != KX_POLYGON_WS_OPEN)
    {
        return;
    }

    /* edge-triggered: read until the socket is drained */
    for ( ;; ) {
        if (kx_market_polygon_grow(&st->in, &st->in_cap,
                                   st->in_len + KX_POLYGON_WS_READ, st->log)
            != NGX_OK)
        {
            kx_market_polygon_ws_fail(st, "out of memory", NGX_LOG_ERR);
            return;
        }

        n = c->recv(c, st->in + st->in_len, st->in_cap - st->in_len);

        if (n == NGX_AGAIN) {
            break;
        }

        if (n == 0 || n == NGX_ERROR) {
            kx_market_polygon_ws_fail(st, "connection closed",
                                      NGX_LOG_WARN);
            return;
        }

        st->in_len += n;
        st->heard = 1;

        if (kx_market_polygon_ws_process(st) != NGX_OK) {
            return;
        }
    }

    if (ngx_handle_read_event(rev, 0) != NGX_OK) {
        kx_market_polygon_ws_fail(st, "cannot wait for reads", NGX_LOG_ERR);
    }
}


static void
kx_market_polygon_ws_upgrade(kx_market_polygon_stream_t *st)
{
    u_char                     nonce[16];
    size_t                     n;
    ngx_connection_t          *c;
    kx_market_polygon_conf_t  *pc;
    char                       host[256], path[1024];

    pc = st->conf;
    c = st->c;

    c->read->handler = kx_market_polygon_ws_read;

    if (RAND_bytes(nonce, sizeof(nonce)) != 1
        || pc->ws_host.len >= sizeof(host) || pc->ws_path.len >= sizeof(path))
    {
        kx_market_polygon_ws_fail(st, "cannot build the upgrade",
                                  NGX_LOG_ERR);
        return;
    }

    kx_wsc_key(nonce, st->key);

    ngx_memcpy(host, pc->ws_host.data, pc->ws_host.len);
    host[pc->ws_host.len] = '\0';
    ngx_memcpy(path, pc->ws_path.data, pc->ws_path.len);
    path[pc->ws_path.len] = '\0';

    n = kx_wsc_request(NULL, 0, host, path, st->key);

    if (kx_market_polygon_grow(&st->out, &st->out_cap, n + 1, st->log)
        != NGX_OK)
    {
        kx_market_polygon_ws_fail(st, "out of memory", NGX_LOG_ERR);
        return;
    }

    kx_wsc_request((char *) st->out, st->out_cap, host, path, st->key);
    st->out_len = n;
    st->out_pos = 0;

    st->state = KX_POLYGON_WS_UPGRADE;

    /* the answer to the upgrade within the timeout */
    ngx_add_timer(c->read, pc->timeout);

    if (kx_market_polygon_ws_flush(st) == NGX_ERROR) {
        kx_market_polygon_ws_fail(st, "cannot send the upgrade",
                                  NGX_LOG_WARN);
        return;
    }

    /* the answer may be in already */
    if (c->read->ready) {
        kx_market_polygon_ws_read(c->read);
    }
}


#if (NGX_SSL)

static void
kx_market_polygon_ws_ssl_done(ngx_connection_t *c)
{
    long                         rc;
    kx_market_polygon_stream_t  *st;

    st = c->data;

    if (!c->ssl->handshaked) {
        kx_market_polygon_ws_fail(st, "TLS handshake failed", NGX_LOG_WARN);
        return;
    }

    rc = SSL_get_verify_result(c->ssl->connection);

    if (rc != X509_V_OK) {
        ngx_log_error(NGX_LOG_ERR, st->log, 0,
                      "polygon stream: certificate of %V: (%l:%s)",
                      &st->conf->ws.host, rc,
                      X509_verify_cert_error_string(rc));
        kx_market_polygon_ws_fail(st, "certificate not trusted",
                                  NGX_LOG_ERR);
        return;
    }

    /* the handshake borrowed both handlers */
    c->read->handler = kx_market_polygon_ws_read;
    c->write->handler = kx_market_polygon_ws_write;

    kx_market_polygon_ws_upgrade(st);
}


static void
kx_market_polygon_ws_ssl(kx_market_polygon_stream_t *st)
{
    int                        ok;
    ngx_int_t                  rc;
    ngx_connection_t          *c;
    kx_market_polygon_conf_t  *pc;
    char                       host[256];

    pc = st->conf;
    c = st->c;

    if (ngx_ssl_create_connection(pc->ssl, c, NGX_SSL_BUFFER|NGX_SSL_CLIENT)
        != NGX_OK
        || pc->ws.host.len >= sizeof(host))
    {
        kx_market_polygon_ws_fail(st, "cannot start TLS", NGX_LOG_ERR);
        return;
    }

    ngx_memcpy(host, pc->ws.host.data, pc->ws.host.len);
    host[pc->ws.host.len] = '\0';

    /*
     * The name (or address) the certificate must carry, and SNI for a
     * name: SSL_set1_host() would compare an address as a DNS name.
     */
    if (ngx_inet_addr((u_char *) host, pc->ws.host.len) != INADDR_NONE) {
        ok = X509_VERIFY_PARAM_set1_ip_asc(
                 SSL_get0_param(c->ssl->connection), host);

    } else {
        ok = SSL_set_tlsext_host_name(c->ssl->connection, host) == 1
             && SSL_set1_host(c->ssl->connection, host) == 1;
    }

    if (!ok) {
        kx_market_polygon_ws_fail(st, "cannot set the TLS host name",
                                  NGX_LOG_ERR);
        return;
    }

    st->state = KX_POLYGON_WS_TLS;

    rc = ngx_ssl_handshake(c);

    if (rc == NGX_AGAIN) {
        if (!c->write->timer_set) {
            ngx_add_timer(c->write, pc->timeout);
        }

        c->ssl->handler = kx_market_polygon_ws_ssl_done;
        return;
    }

    kx_market_polygon_ws_ssl_done(c);
}

#endif


static void
kx_market_polygon_ws_write(ngx_event_t *wev)
{
    int                          err;
    socklen_t                    len;
    ngx_connection_t            *c;
    kx_market_polygon_stream_t  *st;

    c = wev->data;
    st = c->data;

    if (wev->timedout) {
        kx_market_polygon_ws_fail(st, st->state == KX_POLYGON_WS_CONNECTING
                                      ? "connect timed out"
                                      : "write timed out", NGX_LOG_WARN);
        return;
    }

    if (wev->timer_set) {
        ngx_del_timer(wev);
    }

    if (st->state == KX_POLYGON_WS_CONNECTING) {
        err = 0;
        len = sizeof(int);

        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, (void *) &err, &len)
            == -1)
        {
            err = ngx_socket_errno;
        }

        if (err) {
            ngx_log_error(NGX_LOG_INFO, st->log, err,
                          "polygon stream: connect() to %V failed",
                          &st->conf->ws_url);
            kx_market_polygon_ws_fail(st, "could not connect", NGX_LOG_WARN);
            return;
        }

#if (NGX_SSL)
        if (st->conf->ws_tls) {
            kx_market_polygon_ws_ssl(st);
            return;
        }
#endif

        kx_market_polygon_ws_upgrade(st);
        return;
    }

    if (st->out_len > 0 && kx_market_polygon_ws_flush(st) == NGX_ERROR) {
        kx_market_polygon_ws_fail(st, "write failed", NGX_LOG_WARN);
    }
}


static void
kx_market_polygon_ws_connect(kx_market_polygon_stream_t *st)
{
    ngx_int_t                  rc;
    ngx_connection_t          *c;
    ngx_peer_connection_t      peer;
    kx_market_polygon_conf_t  *pc;

    pc = st->conf;

    ngx_memzero(&peer, sizeof(ngx_peer_connection_t));

    peer.sockaddr = pc->ws.addrs[0].sockaddr;
    peer.socklen = pc->ws.addrs[0].socklen;
    peer.name = &pc->ws.addrs[0].name;
    peer.get = ngx_event_get_peer;
    peer.log = st->log;
    peer.log_error = NGX_ERROR_ERR;

    rc = ngx_event_connect_peer(&peer);

    if (rc == NGX_ERROR || rc == NGX_BUSY || rc == NGX_DECLINED) {
        if (peer.connection) {
            ngx_close_connection(peer.connection);
        }

        kx_market_polygon_ws_fail(st, "could not connect", NGX_LOG_WARN);
        return;
    }

    c = peer.connection;

    /* TLS keeps its state in the connection's pool */
    c->pool = ngx_create_pool(1024, st->log);
    if (c->pool == NULL) {
        ngx_close_connection(c);
        kx_market_polygon_ws_fail(st, "out of memory", NGX_LOG_ERR);
        return;
    }

    c->data = st;
    c->read->handler = kx_market_polygon_ws_read;
    c->write->handler = kx_market_polygon_ws_write;

    /* a graceful shutdown need not wait for the stream */
    c->read->cancelable = 1;
    c->write->cancelable = 1;

    st->c = c;
    st->state = KX_POLYGON_WS_CONNECTING;

    if (rc == NGX_AGAIN) {
        ngx_add_timer(c->write, pc->timeout);
        return;
    }

    kx_market_polygon_ws_write(c->write);
}


/*
 * A quiet market sends nothing for hours, and a dead peer looks just
 * like it: a ping every ws_ping, and a connection that heard nothing,
 * not even the pong, for a whole interval is given up.
 */
static void
kx_market_polygon_ws_keepalive(ngx_event_t *ev)
{
    kx_market_polygon_stream_t  *st = ev->data;

    if (ngx_exiting || ngx_terminate || st->state != KX_POLYGON_WS_OPEN) {
        return;
    }

    if (!st->heard) {
        kx_market_polygon_ws_fail(st, "no data and no pong for a ping "
                                  "interval", NGX_LOG_WARN);
        return;
    }

    st->heard = 0;

    /* a new session brings a new open and previous close */
    if (ngx_time() - st->seeded >= KX_POLYGON_RESEED) {
        kx_market_polygon_seed(st);
    }

    if (kx_market_polygon_ws_queue(st, KX_WSC_OP_PING, (u_char *) "kx", 2)
        != NGX_OK
        || kx_market_polygon_ws_flush(st) == NGX_ERROR)
    {
        kx_market_polygon_ws_fail(st, "cannot send a ping", NGX_LOG_WARN);
        return;
    }

    ngx_add_timer(&st->ping, st->conf->ws_ping);
}


static void
kx_market_polygon_ws_retry(ngx_event_t *ev)
{
    kx_market_polygon_stream_t  *st = ev->data;

    if (ngx_exiting || ngx_terminate) {
        return;
    }

    kx_market_polygon_ws_connect(st);
}


static ngx_int_t
kx_market_polygon_live_start(void *conf, ngx_cycle_t *cycle,
    kx_market_live_pt handler, void *data)
{
    size_t                       i;
    const kx_symbol_t           *s;
    kx_market_polygon_conf_t    *pc = conf;
    kx_market_polygon_stream_t  *st;

    if (!pc->stream || pc->live != NULL) {
        return NGX_OK;
    }

    st = ngx_calloc(sizeof(kx_market_polygon_stream_t), cycle->log);
    if (st == NULL) {
        return NGX_ERROR;
    }

    st->nsyms = kx_symbols_count();
    st->quotes = ngx_calloc(st->nsyms * sizeof(kx_polygon_quote_t),
                            cycle->log);
    if (st->quotes == NULL) {
        ngx_free(st);
        return NGX_ERROR;
    }

    for (i = 0; i < st->nsyms; i++) {
        s = kx_symbol_at(i);
        ngx_cpystrn((u_char *) st->quotes[i].symbol, (u_char *) s->symbol,
                    KX_POLYGON_SYM_MAX + 1);
    }

    st->conf = pc;
    st->log = cycle->log;
    st->handler = handler;
    st->data = data;

    kx_wsc_init(&st->ws, KX_POLYGON_WS_MAX_MESSAGE);

    st->retry.handler = kx_market_polygon_ws_retry;
    st->retry.data = st;
    st->retry.log = cycle->log;
    st->retry.cancelable = 1;

    st->ping.handler = kx_market_polygon_ws_keepalive;
    st->ping.data = st;
    st->ping.log = cycle->log;
    st->ping.cancelable = 1;

    pc->live = st;

    if (pc->key.len == 0) {
        ngx_log_error(NGX_LOG_WARN, cycle->log, 0,
                      "polygon stream: no API key, not connecting");
        return NGX_OK;
    }

    kx_market_polygon_ws_connect(st);

    return NGX_OK;
}


static void
kx_market_polygon_live_stop(void *conf)
{
    kx_market_polygon_conf_t    *pc = conf;
    kx_market_polygon_stream_t  *st;

    st = pc->live;
    if (st == NULL) {
        return;
    }

    pc->live = NULL;
    st->handler = NULL;

    if (st->retry.timer_set) {
        ngx_del_timer(&st->retry);
    }

    if (st->ping.timer_set) {
        ngx_del_timer(&st->ping);
    }

    if (st->seed) {
        kx_http_cancel(st->seed);
        st->seed = NULL;
    }

    kx_market_polygon_ws_close(st);
    kx_wsc_free(&st->ws);

    if (st->in) {
        ngx_free(st->in);
    }

    if (st->out) {
        ngx_free(st->out);
    }

    ngx_free(st->quotes);
    ngx_free(st);
}
