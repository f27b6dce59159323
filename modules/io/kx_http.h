
/*
 * Copyright (C) Kianax
 *
 * Outgoing HTTP on the nginx event loop: one libcurl multi handle per
 * worker process, created on first use, driven by nginx events and one
 * nginx timer.  No call blocks; results arrive in a handler.
 *
 * Every request runs under one deadline (spec.timeout) that covers all of
 * its attempts and the waits between them.  Failed attempts are retried
 * with exponential backoff and full jitter (Retry-After is honoured when
 * it fits before the deadline):
 *
 *     any request          could not connect, or timed out or broke
 *                          before a byte of it was sent; 429
 *     idempotent requests  also timeouts, broken connections, and
 *                          500, 502, 503, 504
 *
 * A circuit breaker per upstream (by default the URL's host:port) counts
 * attempts: network failures and 5xx are failures, 429 counts neither
 * way, anything else is a success.  While it is open, requests fail at
 * once with KX_HTTP_BREAKER_OPEN and nothing is sent.
 *
 * TLS certificates and host names are verified (CURLOPT_SSL_VERIFYPEER
 * and VERIFYHOST), against conf.ca_file or the system's store.  Redirects
 * are not followed.  Only http:// and https:// URLs are accepted.
 *
 * Name resolution: Debian's libcurl is built with the threaded resolver
 * (curl_version_info() lists CURL_VERSION_ASYNCHDNS; the first request
 * logs it), so a host name is resolved in a helper thread and never on
 * the event loop.  Addresses (127.0.0.1) skip resolution altogether.
 *
 * Usage (the shape of ngx_http_kx_httptest_module.c):
 *
 *     static void
 *     my_done(kx_http_response_t *res, void *data)
 *     {
 *         my_ctx_t *ctx = data;
 *
 *         ctx->http = NULL;                  the request is over
 *
 *         if (res->error == KX_HTTP_OK && res->status == 200) {
 *             ... res->body (valid until return) ...
 *         }
 *         ...
 *     }
 *
 *     kx_http_spec_t  spec;
 *
 *     ngx_memzero(&spec, sizeof(kx_http_spec_t));
 *     ngx_str_set(&spec.url, "https://api.polygon.io/v2/last/trade/AAPL");
 *     spec.timeout = 3000;
 *     spec.max_retries = 2;
 *     spec.idempotent = 1;
 *     spec.log = r->connection->log;
 *
 *     ctx->http = kx_http_request(&spec, my_done, ctx);
 *     if (ctx->http == NULL) {
 *         ... out of memory: my_done will not be called ...
 *     }
 *
 *     ... and if the caller goes away first:  kx_http_cancel(ctx->http);
 *
 * The handler is never called from inside kx_http_request(), and never
 * after kx_http_cancel().  Worker processes only.
 */


#ifndef _KX_HTTP_H_INCLUDED_
#define _KX_HTTP_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "core/kx_breaker.h"


typedef struct kx_http_req_s  kx_http_req_t;


typedef enum {
    KX_HTTP_OK = 0,           /* a response arrived: see status (any) */
    KX_HTTP_TIMEOUT,          /* no complete response before the deadline */
    KX_HTTP_CONNECT,          /* could not connect (refused, unreachable,
                                 name not resolved): nothing was sent */
    KX_HTTP_TLS,              /* TLS handshake or certificate check failed */
    KX_HTTP_IO,               /* connection broken mid-exchange, or not
                                 a valid HTTP response */
    KX_HTTP_TOO_LARGE,        /* the body is longer than max_size */
    KX_HTTP_BREAKER_OPEN,     /* the upstream's breaker is open: not sent */
    KX_HTTP_INVALID,          /* bad URL, method or header: not sent */
    KX_HTTP_INTERNAL          /* out of memory, or a libcurl failure */
} kx_http_error_e;


typedef struct {
    ngx_str_t            name;
    ngx_str_t            value;
} kx_http_header_t;


/* everything points into memory that is freed when the handler returns */
typedef struct {
    kx_http_error_e      error;
    ngx_uint_t           status;        /* of the last response; 0: none */
    ngx_str_t            body;          /* KX_HTTP_OK only */
    ngx_str_t            content_type;  /* "" when absent */
    ngx_msec_int_t       retry_after;   /* ms (capped); -1 when absent */
    kx_http_header_t    *headers;       /* of the last response */
    ngx_uint_t           nheaders;
    ngx_uint_t           attempts;      /* sent (or tried to); 0 when the
                                           breaker refused the first */
    ngx_msec_t           elapsed;       /* since kx_http_request() */
    const char          *message;       /* for logs; never NULL */
    ngx_str_t            breaker_key;
} kx_http_response_t;


typedef void (*kx_http_handler_pt)(kx_http_response_t *res, void *data);


/* everything it points to is copied: it may live on the caller's stack */
typedef struct {
    ngx_str_t            method;        /* "": GET */
    ngx_str_t            url;
    const ngx_str_t     *headers;       /* "Name: value" lines */
    ngx_uint_t           nheaders;
    ngx_str_t            body;          /* sent when len > 0 (or POST) */

    ngx_msec_t           timeout;       /* all attempts; 0: conf.timeout */
    ngx_msec_t           attempt_timeout;  /* one; 0: what is left */
    ngx_uint_t           max_retries;   /* attempts = 1 + retries at most */
    ngx_uint_t           idempotent;    /* safe to send twice */
    size_t               max_size;      /* body bytes; 0: conf.max_size */
    ngx_str_t            breaker_key;   /* "": the URL's host:port */

    ngx_log_t           *log;           /* NULL: the cycle's; must live
                                           until the handler is called or
                                           the request is cancelled */
} kx_http_spec_t;


typedef struct {
    ngx_msec_t           timeout;          /* 10 s */
    ngx_msec_t           connect_timeout;  /* 3 s, each attempt */
    size_t               max_size;         /* 1 MB */
    ngx_msec_t           retry_base;       /* 100 ms */
    ngx_msec_t           retry_cap;        /* 2 s */
    ngx_msec_t           retry_after_max;  /* 30 s: longer is not waited */
    ngx_str_t            ca_file;          /* "": the system's CA store */
    ngx_uint_t           max_host_connections;  /* 0: no limit */
    ngx_uint_t           max_breakers;     /* 256 upstreams remembered */
    kx_breaker_conf_t    breaker;          /* kx_breaker_conf_default() */
} kx_http_conf_t;


typedef struct {
    ngx_uint_t           requests;      /* started */
    ngx_uint_t           active;        /* not yet delivered or cancelled */
    ngx_uint_t           transfers;     /* attempts on the wire now */
    ngx_uint_t           attempts;
    ngx_uint_t           retries;
    ngx_uint_t           ok;            /* delivered with KX_HTTP_OK */
    ngx_uint_t           failed;        /* delivered with an error */
    ngx_uint_t           timeouts;
    ngx_uint_t           breaker_rejects;
    ngx_uint_t           cancelled;
    ngx_uint_t           sockets;       /* open now */
    ngx_uint_t           sockets_opened;
} kx_http_stats_t;


typedef struct {
    ngx_str_t            key;
    kx_breaker_state_e   state;
    uint32_t             calls;         /* in the window */
    uint32_t             failures;
    uint32_t             opens;
    ngx_msec_t           retry_in;      /* until half-open; 0 unless open */
} kx_http_breaker_info_t;


void kx_http_conf_default(kx_http_conf_t *conf);

/* directive arguments "key=value" into conf (see kx_http.c) */
char *kx_http_conf_args(ngx_conf_t *cf, ngx_str_t *args, ngx_uint_t n,
    kx_http_conf_t *conf);

/*
 * Settings for this process (copied; ca_file too).  Call it before the
 * first request of the process, e.g. at configuration time or in
 * init_process; later calls change timeouts, limits and new breakers only.
 */
ngx_int_t kx_http_configure(const kx_http_conf_t *conf);

kx_http_req_t *kx_http_request(const kx_http_spec_t *spec,
    kx_http_handler_pt handler, void *data);

/* the handler of req will never be called; req is invalid afterwards */
void kx_http_cancel(kx_http_req_t *req);

/*
 * Worker exit: frees every request (their handlers are not called), every
 * socket and the multi handle.  A request may start the client again.
 */
void kx_http_cleanup(void);

/* a header of the response by name (case-insensitive), or NULL */
ngx_str_t *kx_http_response_header(kx_http_response_t *res,
    const char *name);

const char *kx_http_error_text(kx_http_error_e error);
void kx_http_stats(kx_http_stats_t *stats);

/* the breakers known to this worker: fills at most n, returns how many */
ngx_uint_t kx_http_breakers(kx_http_breaker_info_t *info, ngx_uint_t n);


#endif /* _KX_HTTP_H_INCLUDED_ */
