
/*
 * Copyright (C) Kianax
 *
 * The per-worker HTTP client: a libcurl multi handle on nginx events.
 *
 * libcurl tells us which sockets to watch (CURLMOPT_SOCKETFUNCTION) and
 * when to call it back (CURLMOPT_TIMERFUNCTION); nginx events and one
 * nginx timer call curl_multi_socket_action(), and finished transfers are
 * collected with curl_multi_info_read() right after.
 *
 * Traps avoided:
 *
 *   - We own the sockets (CURLOPT_OPENSOCKETFUNCTION and
 *     CLOSESOCKETFUNCTION): each is an nginx connection from the moment
 *     it exists, and our close callback releases that connection before
 *     it closes the descriptor, so no event ever refers to a closed (or
 *     reused) descriptor, and nothing closes one twice.  The callbacks get
 *     the worker's state, never a request: curl keeps connections (and
 *     calls the close callback) long after the request that opened them.
 *   - Descriptors curl opens itself (the threaded resolver's socket pair)
 *     are watched too, and forgotten without a system call if curl closed
 *     them before saying CURL_POLL_REMOVE (older libcurl did).
 *   - curl_multi_socket_action() is never called from inside curl's
 *     timer callback (nor any curl call from inside any curl callback):
 *     the callback only arms the nginx timer, a 0 ms one included.
 *   - ngx_add_timer() keeps a pending timer that is within 300 ms of the
 *     new time (NGX_TIMER_LAZY_DELAY): curl's timer is deleted first, so
 *     "now" means now.
 *   - Handlers are called from posted events only: never from inside
 *     kx_http_request() or a curl call, so they may start or cancel
 *     requests freely.
 *   - Timers that keep a transfer alive are not cancelable, so a graceful
 *     shutdown lets running requests end (each within its deadline); the
 *     curl timer turns cancelable when no transfer runs.
 *   - libcurl and nginx share OpenSSL and its per-thread error queue, and
 *     libcurl leaves errors there (a failed handshake, SSL_shutdown() of a
 *     half-open connection); nginx finds them at its next TLS operation
 *     and logs "ignoring stale global SSL error" as an [alert].  The
 *     queue is emptied after every libcurl call that may use TLS.
 *   - URLs may carry API keys in their query: logs name the upstream
 *     (host:port) and the method only.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include <curl/curl.h>

#if (NGX_OPENSSL)
#include <openssl/err.h>
#endif

#include "core/kx_backoff.h"
#include "kx_io_fd.h"
#include "kx_http.h"


#define KX_HTTP_REQ_RUNNING   1      /* an attempt is in the multi handle */
#define KX_HTTP_REQ_WAITING   2      /* backoff before the next attempt */
#define KX_HTTP_REQ_POSTED    3      /* the handler is about to be called */
#define KX_HTTP_REQ_DONE      4      /* in the handler */

#define KX_HTTP_HEADERS_MAX   (64 * 1024)
#define KX_HTTP_BODY_MIN      4096
#define KX_HTTP_USER_AGENT    "kianax/1"


typedef struct {
    ngx_rbtree_node_t      node;         /* key: the descriptor */
    ngx_connection_t      *c;
    ngx_socket_t           fd;
    unsigned               foreign:1;    /* opened by curl, closed by curl */
} kx_http_sock_t;


typedef struct {
    ngx_queue_t            queue;        /* most recently used first */
    ngx_str_t              key;
    ngx_uint_t             refs;         /* requests holding it */
    kx_breaker_t           breaker;
} kx_http_breaker_t;


struct kx_http_req_s {
    ngx_queue_t            queue;        /* kx_http_worker.reqs */
    ngx_pool_t            *pool;
    ngx_log_t             *log;
    CURL                  *easy;
    struct curl_slist     *headers;
    kx_http_breaker_t     *breaker;
    kx_http_handler_pt     handler;
    void                  *data;
    ngx_event_t            ev;           /* backoff, or posted delivery */

    ngx_str_t              method;
    ngx_msec_t             start;
    ngx_msec_t             deadline;
    ngx_msec_t             attempt_timeout;
    ngx_uint_t             max_retries;
    ngx_uint_t             attempts;
    size_t                 max_size;

    /* the last attempt */
    kx_http_error_e        error;
    ngx_uint_t             status;
    u_char                *body;
    size_t                 body_len;
    size_t                 body_size;
    ngx_array_t           *resp_headers; /* kx_http_header_t */
    size_t                 headers_len;
    const char            *message;
    char                   errbuf[CURL_ERROR_SIZE];

    unsigned               state:3;
    unsigned               verdict:2;    /* kx_breaker_verdict_e pending */
    unsigned               idempotent:1;
    unsigned               in_multi:1;
    unsigned               too_large:1;
};


typedef struct {
    CURLM                 *multi;
    ngx_log_t             *log;
    ngx_event_t            timer;
    ngx_rbtree_t           socks;
    ngx_rbtree_node_t      sentinel;
    ngx_queue_t            reqs;
    ngx_queue_t            breakers;
    ngx_uint_t             nbreakers;
    kx_http_stats_t        stats;
} kx_http_worker_t;


static ngx_int_t kx_http_init(void);
static int kx_http_socket_cb(CURL *easy, curl_socket_t s, int what,
    void *userp, void *socketp);
static int kx_http_timer_cb(CURLM *multi, long timeout_ms, void *userp);
static void kx_http_timer_handler(ngx_event_t *ev);
static void kx_http_sock_handler(ngx_event_t *ev);
static void kx_http_socket_action(curl_socket_t s, int action);
static void kx_http_check_done(void);

static curl_socket_t kx_http_open_socket(void *clientp,
    curlsocktype purpose, struct curl_sockaddr *address);
static int kx_http_close_socket(void *clientp, curl_socket_t s);
static kx_http_sock_t *kx_http_sock_add(ngx_socket_t fd,
    ngx_uint_t foreign);
static kx_http_sock_t *kx_http_sock_find(ngx_socket_t fd);
static void kx_http_sock_drop(kx_http_sock_t *sock, ngx_uint_t fd_open);

static ngx_int_t kx_http_req_setup(kx_http_req_t *req,
    const kx_http_spec_t *spec, ngx_str_t *key);
static ngx_int_t kx_http_url_key(kx_http_req_t *req, const char *url,
    ngx_str_t *key);
static void kx_http_attempt(kx_http_req_t *req);
static void kx_http_attempt_done(kx_http_req_t *req, CURLcode rc);
static void kx_http_attempt_verdict(kx_http_req_t *req);
static ngx_int_t kx_http_retry_delay(kx_http_req_t *req,
    ngx_msec_int_t retry_after, ngx_msec_t *delay);
static void kx_http_retry_handler(ngx_event_t *ev);
static void kx_http_post(kx_http_req_t *req, kx_http_error_e error,
    const char *message);
static void kx_http_deliver(ngx_event_t *ev);
static void kx_http_req_free(kx_http_req_t *req);
static ngx_msec_int_t kx_http_retry_after(kx_http_req_t *req);
static ngx_str_t *kx_http_header_find(ngx_array_t *headers,
    const char *name);
static size_t kx_http_write_cb(char *buf, size_t size, size_t n,
    void *data);
static size_t kx_http_header_cb(char *buf, size_t size, size_t n,
    void *data);

static kx_http_breaker_t *kx_http_breaker_get(ngx_str_t *key);
static void kx_http_breaker_unref(kx_http_breaker_t *br);
static void kx_http_breaker_fill(kx_http_breaker_t *br,
    kx_http_breaker_info_t *info);
static int64_t kx_http_now(void);
static uint32_t kx_http_random(void);
static void kx_http_ssl_clear(void);


static const char  *kx_http_error_names[] = {
    "ok",
    "timeout",
    "connect",
    "tls",
    "io",
    "too_large",
    "breaker_open",
    "invalid",
    "internal"
};


static kx_http_conf_t     kx_http_conf;
static ngx_uint_t         kx_http_conf_set;
static u_char            *kx_http_ca_file;   /* NUL-terminated copy */

/* per process: a worker's own after fork() */
static kx_http_worker_t  *kx_http_worker;
static ngx_uint_t         kx_http_curl_ready;


void
kx_http_conf_default(kx_http_conf_t *conf)
{
    ngx_memzero(conf, sizeof(kx_http_conf_t));

    conf->timeout = 10000;
    conf->connect_timeout = 3000;
    conf->max_size = 1024 * 1024;
    conf->retry_base = 100;
    conf->retry_cap = 2000;
    conf->retry_after_max = 30000;
    conf->max_breakers = 256;

    kx_breaker_conf_default(&conf->breaker);
}


ngx_int_t
kx_http_configure(const kx_http_conf_t *conf)
{
    u_char             *ca;
    kx_breaker_t        test;
    kx_http_conf_t      c;

    c = *conf;

    if (kx_breaker_init(&test, &c.breaker) != 0) {
        return NGX_ERROR;
    }

    if (c.timeout == 0) {
        c.timeout = 10000;
    }

    if (c.connect_timeout == 0) {
        c.connect_timeout = 3000;
    }

    if (c.max_size == 0) {
        c.max_size = 1024 * 1024;
    }

    if (c.max_breakers == 0) {
        c.max_breakers = 256;
    }

    ca = NULL;

    if (c.ca_file.len) {
        ca = ngx_alloc(c.ca_file.len + 1, ngx_cycle->log);
        if (ca == NULL) {
            return NGX_ERROR;
        }

        ngx_cpystrn(ca, c.ca_file.data, c.ca_file.len + 1);
    }

    if (kx_http_ca_file) {
        ngx_free(kx_http_ca_file);
    }

    kx_http_ca_file = ca;

    ngx_str_null(&c.ca_file);

    kx_http_conf = c;
    kx_http_conf_set = 1;

    return NGX_OK;
}


kx_http_req_t *
kx_http_request(const kx_http_spec_t *spec, kx_http_handler_pt handler,
    void *data)
{
    ngx_log_t          *log;
    ngx_str_t           key;
    ngx_pool_t         *pool;
    kx_http_req_t      *req;
    kx_http_worker_t   *w;

    if (kx_http_init() != NGX_OK) {
        return NULL;
    }

    w = kx_http_worker;
    log = spec->log ? spec->log : ngx_cycle->log;

    /* not the caller's log: it may be gone when the pool is destroyed */
    pool = ngx_create_pool(1024, ngx_cycle->log);
    if (pool == NULL) {
        return NULL;
    }

    req = ngx_pcalloc(pool, sizeof(kx_http_req_t));
    if (req == NULL) {
        ngx_destroy_pool(pool);
        return NULL;
    }

    req->pool = pool;
    req->log = log;
    req->handler = handler;
    req->data = data;
    req->ev.data = req;
    req->ev.log = log;
    req->start = ngx_current_msec;

    req->resp_headers = ngx_array_create(pool, 16, sizeof(kx_http_header_t));
    if (req->resp_headers == NULL) {
        ngx_destroy_pool(pool);
        return NULL;
    }

    req->easy = curl_easy_init();
    if (req->easy == NULL) {
        ngx_destroy_pool(pool);
        return NULL;
    }

    ngx_queue_insert_tail(&w->reqs, &req->queue);
    w->stats.requests++;
    w->stats.active++;

    ngx_str_null(&key);

    switch (kx_http_req_setup(req, spec, &key)) {

    case NGX_OK:
        break;

    case NGX_DECLINED:
        kx_http_post(req, KX_HTTP_INVALID, req->message);
        return req;

    default:
        kx_http_req_free(req);
        return NULL;
    }

    req->breaker = kx_http_breaker_get(&key);
    if (req->breaker == NULL) {
        kx_http_req_free(req);
        return NULL;
    }

    req->breaker->refs++;

    kx_http_attempt(req);

    return req;
}


void
kx_http_cancel(kx_http_req_t *req)
{
    if (req == NULL || req->state == KX_HTTP_REQ_DONE) {
        /* over already: called from its own handler */
        return;
    }

    kx_http_worker->stats.cancelled++;

    kx_http_req_free(req);
}


void
kx_http_cleanup(void)
{
    ngx_uint_t          open, foreign;
    ngx_socket_t        fd;
    ngx_queue_t        *q;
    kx_http_sock_t     *sock;
    kx_http_req_t      *req;
    kx_http_worker_t   *w;
    kx_http_breaker_t  *br;

    w = kx_http_worker;

    if (w == NULL) {
        return;
    }

    while (!ngx_queue_empty(&w->reqs)) {
        q = ngx_queue_head(&w->reqs);
        req = ngx_queue_data(q, kx_http_req_t, queue);

        kx_http_req_free(req);
    }

    /* closes the kept-alive connections through kx_http_close_socket() */
    curl_multi_cleanup(w->multi);
    w->multi = NULL;

    kx_http_ssl_clear();

    while (w->socks.root != w->socks.sentinel) {
        sock = (kx_http_sock_t *) ngx_rbtree_min(w->socks.root,
                                                 w->socks.sentinel);

        fd = sock->fd;
        foreign = sock->foreign;
        open = (fcntl(fd, F_GETFD) != -1);

        ngx_log_error(NGX_LOG_INFO, w->log, 0,
                      "kx_http: socket %d left open by libcurl", (int) fd);

        kx_http_sock_drop(sock, open);

        if (open && !foreign) {
            (void) close(fd);
        }
    }

    if (w->timer.timer_set) {
        ngx_del_timer(&w->timer);
    }

    while (!ngx_queue_empty(&w->breakers)) {
        q = ngx_queue_head(&w->breakers);
        br = ngx_queue_data(q, kx_http_breaker_t, queue);

        ngx_queue_remove(q);
        ngx_free(br);
    }

    ngx_free(w);
    kx_http_worker = NULL;

    if (kx_http_curl_ready) {
        curl_global_cleanup();
        kx_http_curl_ready = 0;
    }
}


ngx_str_t *
kx_http_response_header(kx_http_response_t *res, const char *name)
{
    size_t      len;
    ngx_uint_t  i;

    len = ngx_strlen(name);

    for (i = res->nheaders; i > 0; i--) {
        if (res->headers[i - 1].name.len == len
            && ngx_strncasecmp(res->headers[i - 1].name.data,
                               (u_char *) name, len) == 0)
        {
            return &res->headers[i - 1].value;
        }
    }

    return NULL;
}


const char *
kx_http_error_text(kx_http_error_e error)
{
    if ((ngx_uint_t) error
        >= sizeof(kx_http_error_names) / sizeof(kx_http_error_names[0]))
    {
        return "unknown";
    }

    return kx_http_error_names[error];
}


void
kx_http_stats(kx_http_stats_t *stats)
{
    if (kx_http_worker == NULL) {
        ngx_memzero(stats, sizeof(kx_http_stats_t));
        return;
    }

    *stats = kx_http_worker->stats;
}


ngx_uint_t
kx_http_breakers(kx_http_breaker_info_t *info, ngx_uint_t n)
{
    ngx_uint_t          i;
    ngx_queue_t        *q;
    kx_http_breaker_t  *br;

    if (kx_http_worker == NULL) {
        return 0;
    }

    i = 0;

    for (q = ngx_queue_head(&kx_http_worker->breakers);
         q != ngx_queue_sentinel(&kx_http_worker->breakers);
         q = ngx_queue_next(q))
    {
        br = ngx_queue_data(q, kx_http_breaker_t, queue);

        if (i < n) {
            kx_http_breaker_fill(br, &info[i]);
        }

        i++;
    }

    return i;
}


/* the client of this process, made on first use */

static ngx_int_t
kx_http_init(void)
{
    ngx_uint_t                level;
    ngx_log_t                *log;
    kx_http_worker_t         *w;
    curl_version_info_data   *vi;

    if (kx_http_worker) {
        return NGX_OK;
    }

    log = ngx_cycle->log;

    if (!kx_http_conf_set) {
        kx_http_conf_default(&kx_http_conf);
        kx_http_conf_set = 1;
    }

    if (!kx_http_curl_ready) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            ngx_log_error(NGX_LOG_ALERT, log, 0,
                          "kx_http: curl_global_init() failed");
            return NGX_ERROR;
        }

        kx_http_curl_ready = 1;

        vi = curl_version_info(CURLVERSION_NOW);
        level = (vi->features & CURL_VERSION_ASYNCHDNS) ? NGX_LOG_INFO
                                                        : NGX_LOG_WARN;

        ngx_log_error(level, log, 0,
                      "kx_http: libcurl %s (%s), asynchronous DNS: %s",
                      vi->version, vi->ssl_version ? vi->ssl_version : "no TLS",
                      level == NGX_LOG_INFO
                      ? "yes" : "no, host names resolve blocking");
    }

    w = ngx_calloc(sizeof(kx_http_worker_t), log);
    if (w == NULL) {
        return NGX_ERROR;
    }

    w->multi = curl_multi_init();
    if (w->multi == NULL) {
        ngx_log_error(NGX_LOG_ALERT, log, 0,
                      "kx_http: curl_multi_init() failed");
        ngx_free(w);
        return NGX_ERROR;
    }

    w->log = log;
    w->timer.handler = kx_http_timer_handler;
    w->timer.log = log;
    w->timer.data = w;

    ngx_rbtree_init(&w->socks, &w->sentinel, ngx_rbtree_insert_value);
    ngx_queue_init(&w->reqs);
    ngx_queue_init(&w->breakers);

    curl_multi_setopt(w->multi, CURLMOPT_SOCKETFUNCTION, kx_http_socket_cb);
    curl_multi_setopt(w->multi, CURLMOPT_SOCKETDATA, w);
    curl_multi_setopt(w->multi, CURLMOPT_TIMERFUNCTION, kx_http_timer_cb);
    curl_multi_setopt(w->multi, CURLMOPT_TIMERDATA, w);

    if (kx_http_conf.max_host_connections) {
        curl_multi_setopt(w->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
                          (long) kx_http_conf.max_host_connections);
    }

    kx_http_worker = w;

    return NGX_OK;
}


/* curl: watch s for what (CURL_POLL_IN, _OUT, _INOUT) or stop (_REMOVE) */

static int
kx_http_socket_cb(CURL *easy, curl_socket_t s, int what, void *userp,
    void *socketp)
{
    kx_http_sock_t  *sock;

    sock = kx_http_sock_find(s);

    if (what == CURL_POLL_REMOVE) {
        if (sock == NULL) {
            return 0;
        }

        if (sock->foreign) {
            /* curl closes it, maybe already (then nothing may touch it) */
            kx_http_sock_drop(sock, fcntl(s, F_GETFD) != -1);
            return 0;
        }

        return kx_io_fd_watch(sock->c, 0, 0) == NGX_OK ? 0 : -1;
    }

    if (sock == NULL) {
        /* a descriptor curl opened itself: the resolver's socket pair */
        sock = kx_http_sock_add(s, 1);
        if (sock == NULL) {
            return -1;
        }
    }

    if (kx_io_fd_watch(sock->c, what & CURL_POLL_IN, what & CURL_POLL_OUT)
        != NGX_OK)
    {
        return -1;
    }

    return 0;
}


/* curl: call back in timeout_ms (0: as soon as possible), or never (-1) */

static int
kx_http_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    kx_http_worker_t *w = userp;

    /* an old timer within NGX_TIMER_LAZY_DELAY would be kept */
    if (w->timer.timer_set) {
        ngx_del_timer(&w->timer);
    }

    if (timeout_ms < 0) {
        return 0;
    }

    w->timer.cancelable = (w->stats.transfers == 0);

    ngx_add_timer(&w->timer, (ngx_msec_t) timeout_ms);

    return 0;
}


static void
kx_http_timer_handler(ngx_event_t *ev)
{
    kx_http_socket_action(CURL_SOCKET_TIMEOUT, 0);
}


static void
kx_http_sock_handler(ngx_event_t *ev)
{
    ngx_connection_t  *c;

    c = ev->data;

    /* c may be released inside: pass only values */
    kx_http_socket_action(c->fd,
                          ev->write ? CURL_CSELECT_OUT : CURL_CSELECT_IN);
}


static void
kx_http_socket_action(curl_socket_t s, int action)
{
    int         running;
    CURLMcode   rc;

    rc = curl_multi_socket_action(kx_http_worker->multi, s, action, &running);

    kx_http_ssl_clear();

    if (rc != CURLM_OK) {
        ngx_log_error(NGX_LOG_ALERT, kx_http_worker->log, 0,
                      "kx_http: curl_multi_socket_action() failed: %s",
                      curl_multi_strerror(rc));
    }

    kx_http_check_done();
}


static void
kx_http_check_done(void)
{
    int             left;
    char           *priv;
    CURL           *easy;
    CURLMsg        *msg;
    CURLcode        rc;
    kx_http_req_t  *req;

    while ((msg = curl_multi_info_read(kx_http_worker->multi, &left))) {
        if (msg->msg != CURLMSG_DONE) {
            continue;
        }

        /* msg is invalid once the handle is removed */
        easy = msg->easy_handle;
        rc = msg->data.result;

        priv = NULL;
        (void) curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);

        if (priv == NULL) {
            continue;
        }

        req = (kx_http_req_t *) priv;

        kx_http_attempt_done(req, rc);
    }
}


/* sockets */

static curl_socket_t
kx_http_open_socket(void *clientp, curlsocktype purpose,
    struct curl_sockaddr *address)
{
    ngx_socket_t     fd;
    kx_http_sock_t  *sock;

    fd = socket(address->family, address->socktype | SOCK_CLOEXEC,
                address->protocol);

    if (fd == (ngx_socket_t) -1) {
        ngx_log_error(NGX_LOG_ERR, kx_http_worker->log, ngx_socket_errno,
                      "kx_http: socket() failed");
        return CURL_SOCKET_BAD;
    }

    sock = kx_http_sock_find(fd);

    if (sock) {
        /* a foreign descriptor curl closed without telling: gone */
        kx_http_sock_drop(sock, 0);
    }

    sock = kx_http_sock_add(fd, 0);
    if (sock == NULL) {
        (void) close(fd);
        return CURL_SOCKET_BAD;
    }

    kx_http_worker->stats.sockets++;
    kx_http_worker->stats.sockets_opened++;

    return fd;
}


static int
kx_http_close_socket(void *clientp, curl_socket_t s)
{
    kx_http_sock_t  *sock;

    sock = kx_http_sock_find(s);

    if (sock) {
        /* unwatch while the descriptor is still ours */
        kx_http_sock_drop(sock, 1);

        kx_http_worker->stats.sockets--;
    }

    if (close(s) == -1) {
        ngx_log_error(NGX_LOG_ALERT, kx_http_worker->log, ngx_socket_errno,
                      "kx_http: close() socket %d failed", (int) s);
        return 1;
    }

    return 0;
}


static kx_http_sock_t *
kx_http_sock_add(ngx_socket_t fd, ngx_uint_t foreign)
{
    kx_http_sock_t    *sock;
    ngx_connection_t  *c;

    sock = ngx_calloc(sizeof(kx_http_sock_t), kx_http_worker->log);
    if (sock == NULL) {
        return NULL;
    }

    c = kx_io_fd_wrap(fd, kx_http_sock_handler, sock, kx_http_worker->log);
    if (c == NULL) {
        ngx_free(sock);
        return NULL;
    }

    sock->c = c;
    sock->fd = fd;
    sock->foreign = foreign;
    sock->node.key = (ngx_rbtree_key_t) fd;

    ngx_rbtree_insert(&kx_http_worker->socks, &sock->node);

    return sock;
}


static kx_http_sock_t *
kx_http_sock_find(ngx_socket_t fd)
{
    ngx_rbtree_key_t    key;
    ngx_rbtree_node_t  *node, *sentinel;

    key = (ngx_rbtree_key_t) fd;
    node = kx_http_worker->socks.root;
    sentinel = kx_http_worker->socks.sentinel;

    while (node != sentinel) {
        if (key < node->key) {
            node = node->left;

        } else if (key > node->key) {
            node = node->right;

        } else {
            return (kx_http_sock_t *) node;
        }
    }

    return NULL;
}


/*
 * Release the nginx connection of a socket and forget it; the descriptor
 * stays open for its owner to close.  fd_open: the descriptor is still
 * open (and ours to unwatch), else only flags are cleared.
 */

static void
kx_http_sock_drop(kx_http_sock_t *sock, ngx_uint_t fd_open)
{
    ngx_rbtree_delete(&kx_http_worker->socks, &sock->node);

    if (!fd_open) {
        kx_io_fd_forget(sock->c);
    }

    kx_io_fd_release(sock->c);

    ngx_free(sock);
}


/* requests */

static ngx_int_t
kx_http_req_setup(kx_http_req_t *req, const kx_http_spec_t *spec,
    ngx_str_t *key)
{
    u_char             *p;
    char               *url, *line, *method;
    CURL               *easy;
    ngx_uint_t          i;
    struct curl_slist  *list;

    easy = req->easy;

    req->idempotent = spec->idempotent ? 1 : 0;
    req->max_retries = spec->max_retries;
    req->max_size = spec->max_size ? spec->max_size : kx_http_conf.max_size;
    req->attempt_timeout = spec->attempt_timeout;
    req->deadline = req->start
                    + (spec->timeout ? spec->timeout : kx_http_conf.timeout);

    if (spec->method.len == 0) {
        ngx_str_set(&req->method, "GET");

    } else {
        for (i = 0; i < spec->method.len; i++) {
            if (spec->method.data[i] < 'A' || spec->method.data[i] > 'Z') {
                req->message = "invalid method";
                return NGX_DECLINED;
            }
        }

        req->method.data = ngx_pstrdup(req->pool, (ngx_str_t *) &spec->method);
        if (req->method.data == NULL) {
            return NGX_ERROR;
        }

        req->method.len = spec->method.len;
    }

    method = ngx_pnalloc(req->pool, req->method.len + 1);
    url = ngx_pnalloc(req->pool, spec->url.len + 1);
    if (method == NULL || url == NULL) {
        return NGX_ERROR;
    }

    ngx_cpystrn((u_char *) method, req->method.data, req->method.len + 1);
    ngx_memcpy(url, spec->url.data, spec->url.len);
    url[spec->url.len] = '\0';

    if (ngx_strlen(url) != spec->url.len) {
        req->message = "invalid URL";
        return NGX_DECLINED;
    }

    switch (kx_http_url_key(req, url, key)) {
    case NGX_OK:
        break;
    case NGX_DECLINED:
        return NGX_DECLINED;
    default:
        return NGX_ERROR;
    }

    if (spec->breaker_key.len) {
        *key = spec->breaker_key;
    }

    /* headers: one "Name: value" each, no line breaks smuggled in */

    for (i = 0; i < spec->nheaders; i++) {
        line = ngx_pnalloc(req->pool, spec->headers[i].len + 1);
        if (line == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(line, spec->headers[i].data, spec->headers[i].len);
        line[spec->headers[i].len] = '\0';

        if (ngx_strlen(line) != spec->headers[i].len
            || ngx_strchr(line, '\r') || ngx_strchr(line, '\n')
            || ngx_strchr(line, ':') == NULL || line[0] == ':')
        {
            req->message = "invalid request header";
            return NGX_DECLINED;
        }

        list = curl_slist_append(req->headers, line);
        if (list == NULL) {
            return NGX_ERROR;
        }

        req->headers = list;
    }

    /* no "Expect: 100-continue" round trip before a body */
    list = curl_slist_append(req->headers, "Expect:");
    if (list == NULL) {
        return NGX_ERROR;
    }

    req->headers = list;

    if (curl_easy_setopt(easy, CURLOPT_URL, url) != CURLE_OK) {
        return NGX_ERROR;
    }

    (void) curl_easy_setopt(easy, CURLOPT_PRIVATE, req);
    (void) curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    (void) curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
#if (LIBCURL_VERSION_NUM >= 0x075500)
    (void) curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    (void) curl_easy_setopt(easy, CURLOPT_PROTOCOLS,
                            (long) (CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    (void) curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 1L);
    (void) curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 2L);

    if (kx_http_ca_file) {
        (void) curl_easy_setopt(easy, CURLOPT_CAINFO, kx_http_ca_file);
    }

    (void) curl_easy_setopt(easy, CURLOPT_USERAGENT, KX_HTTP_USER_AGENT);
    (void) curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, "");
    (void) curl_easy_setopt(easy, CURLOPT_HTTPHEADER, req->headers);
    (void) curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, req->errbuf);
    (void) curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, kx_http_write_cb);
    (void) curl_easy_setopt(easy, CURLOPT_WRITEDATA, req);
    (void) curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, kx_http_header_cb);
    (void) curl_easy_setopt(easy, CURLOPT_HEADERDATA, req);
    (void) curl_easy_setopt(easy, CURLOPT_MAXFILESIZE_LARGE,
                            (curl_off_t) req->max_size);

    /* the worker's state, not req: curl keeps sockets beyond requests */
    (void) curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION,
                            kx_http_open_socket);
    (void) curl_easy_setopt(easy, CURLOPT_OPENSOCKETDATA, kx_http_worker);
    (void) curl_easy_setopt(easy, CURLOPT_CLOSESOCKETFUNCTION,
                            kx_http_close_socket);
    (void) curl_easy_setopt(easy, CURLOPT_CLOSESOCKETDATA, kx_http_worker);

    if (ngx_strcmp(method, "GET") == 0 && spec->body.len == 0) {
        (void) curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);

    } else if (ngx_strcmp(method, "HEAD") == 0) {
        (void) curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);

    } else {
        if (ngx_strcmp(method, "POST") != 0) {
            if (curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, method)
                != CURLE_OK)
            {
                return NGX_ERROR;
            }
        }

        if (spec->body.len || ngx_strcmp(method, "POST") == 0) {
            p = spec->body.len ? spec->body.data : (u_char *) "";

            (void) curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE,
                                    (curl_off_t) spec->body.len);

            if (curl_easy_setopt(easy, CURLOPT_COPYPOSTFIELDS, p)
                != CURLE_OK)
            {
                return NGX_ERROR;
            }
        }
    }

    return NGX_OK;
}


/* "host:port" of an http(s) URL */

static ngx_int_t
kx_http_url_key(kx_http_req_t *req, const char *url, ngx_str_t *key)
{
    char       *scheme, *host, *port;
    CURLU      *u;
    ngx_int_t   rc;

    u = curl_url();
    if (u == NULL) {
        return NGX_ERROR;
    }

    scheme = NULL;
    host = NULL;
    port = NULL;
    rc = NGX_DECLINED;

    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK
        || curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK
        || (ngx_strcmp(scheme, "http") != 0
            && ngx_strcmp(scheme, "https") != 0)
        || curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK
        || curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT)
           != CURLUE_OK)
    {
        req->message = "invalid URL (http:// or https:// with a host)";
        goto done;
    }

    key->len = ngx_strlen(host) + 1 + ngx_strlen(port);
    key->data = ngx_pnalloc(req->pool, key->len);

    if (key->data == NULL) {
        rc = NGX_ERROR;
        goto done;
    }

    ngx_sprintf(key->data, "%s:%s", host, port);

    rc = NGX_OK;

done:

    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);

    return rc;
}


/* one attempt: the breaker's leave, then into the multi handle */

static void
kx_http_attempt(kx_http_req_t *req)
{
    CURLMcode              rc;
    ngx_msec_t             now, left, t;
    kx_http_worker_t      *w;
    kx_breaker_verdict_e   v;

    w = kx_http_worker;
    now = ngx_current_msec;

    req->status = 0;
    req->body_len = 0;
    req->too_large = 0;
    req->headers_len = 0;
    req->resp_headers->nelts = 0;
    req->errbuf[0] = '\0';

    if ((ngx_msec_int_t) (req->deadline - now) <= 0) {
        kx_http_post(req, KX_HTTP_TIMEOUT, "deadline passed");
        return;
    }

    left = req->deadline - now;

    v = kx_breaker_allow(&req->breaker->breaker, kx_http_now());

    if (v == KX_BREAKER_DENY) {
        w->stats.breaker_rejects++;
        kx_http_post(req, KX_HTTP_BREAKER_OPEN, "circuit breaker open");
        return;
    }

    if (v == KX_BREAKER_PROBE) {
        ngx_log_error(NGX_LOG_INFO, req->log, 0,
                      "kx_http: circuit breaker for %V half-open: probing",
                      &req->breaker->key);
    }

    req->verdict = v;

    t = left;

    if (req->attempt_timeout && req->attempt_timeout < t) {
        t = req->attempt_timeout;
    }

    (void) curl_easy_setopt(req->easy, CURLOPT_TIMEOUT_MS, (long) t);
    (void) curl_easy_setopt(req->easy, CURLOPT_CONNECTTIMEOUT_MS,
                            (long) ngx_min(t, kx_http_conf.connect_timeout));

    /* counted first: the timer callback inside reads it */
    w->stats.transfers++;

    rc = curl_multi_add_handle(w->multi, req->easy);

    if (rc != CURLM_OK) {
        w->stats.transfers--;
        kx_breaker_release(&req->breaker->breaker);
        req->verdict = KX_BREAKER_DENY;

        ngx_log_error(NGX_LOG_ALERT, req->log, 0,
                      "kx_http: curl_multi_add_handle() failed: %s",
                      curl_multi_strerror(rc));

        kx_http_post(req, KX_HTTP_INTERNAL, "curl_multi_add_handle() failed");
        return;
    }

    req->in_multi = 1;
    req->state = KX_HTTP_REQ_RUNNING;
    req->attempts++;
    w->stats.attempts++;
}


static void
kx_http_attempt_done(kx_http_req_t *req, CURLcode rc)
{
    long               status, sent;
    ngx_msec_t         delay;
    ngx_uint_t         retry;
    ngx_msec_int_t     retry_after;
    kx_http_worker_t  *w;

    w = kx_http_worker;

    (void) curl_multi_remove_handle(w->multi, req->easy);
    req->in_multi = 0;
    w->stats.transfers--;

    kx_http_ssl_clear();

    if (w->stats.transfers == 0 && w->timer.timer_set) {
        w->timer.cancelable = 1;
    }

    status = 0;
    (void) curl_easy_getinfo(req->easy, CURLINFO_RESPONSE_CODE, &status);

    /* bytes of the request written: 0 when it never left */
    sent = 0;
    (void) curl_easy_getinfo(req->easy, CURLINFO_REQUEST_SIZE, &sent);

    switch (rc) {

    case CURLE_OK:
        req->error = KX_HTTP_OK;
        req->status = (ngx_uint_t) status;
        break;

    case CURLE_OPERATION_TIMEDOUT:
        req->error = KX_HTTP_TIMEOUT;
        break;

    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        req->error = KX_HTTP_CONNECT;
        break;

    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_USE_SSL_FAILED:
        req->error = KX_HTTP_TLS;
        break;

    case CURLE_FILESIZE_EXCEEDED:
        req->error = KX_HTTP_TOO_LARGE;
        break;

    case CURLE_WRITE_ERROR:
        req->error = req->too_large ? KX_HTTP_TOO_LARGE : KX_HTTP_INTERNAL;
        break;

    case CURLE_OUT_OF_MEMORY:
        req->error = KX_HTTP_INTERNAL;
        break;

    default:
        /* RECV_ERROR, SEND_ERROR, GOT_NOTHING, PARTIAL_FILE, HTTP2 ... */
        req->error = KX_HTTP_IO;
        break;
    }

    if (req->error == KX_HTTP_TOO_LARGE) {
        req->status = (ngx_uint_t) status;
    }

    if (req->error == KX_HTTP_OK) {
        req->message = "";

    } else if (req->errbuf[0]) {
        req->message = req->errbuf;

    } else {
        req->message = curl_easy_strerror(rc);
    }

    kx_http_attempt_verdict(req);

    retry_after = -1;

    if (req->error == KX_HTTP_OK) {
        retry_after = kx_http_retry_after(req);
    }

    /* safe to send again: nothing was sent, or idempotent */

    switch (req->error) {

    case KX_HTTP_CONNECT:
        retry = 1;
        break;

    case KX_HTTP_TIMEOUT:
    case KX_HTTP_IO:
        retry = req->idempotent || sent == 0;
        break;

    case KX_HTTP_OK:
        if (req->status == 429) {
            retry = 1;

        } else if (req->status == 500 || req->status == 502
                   || req->status == 503 || req->status == 504)
        {
            retry = req->idempotent;

        } else {
            retry = 0;
        }

        break;

    default:
        retry = 0;
        break;
    }

    if (retry
        && req->attempts <= req->max_retries
        && kx_http_retry_delay(req, retry_after, &delay) == NGX_OK)
    {
        ngx_log_error(NGX_LOG_INFO, req->log, 0,
                      "kx_http: %V %V attempt %ui failed (%s, status %ui): "
                      "retry in %M ms", &req->method, &req->breaker->key,
                      req->attempts, kx_http_error_text(req->error),
                      req->status, delay);

        w->stats.retries++;
        req->state = KX_HTTP_REQ_WAITING;
        req->ev.handler = kx_http_retry_handler;
        req->ev.cancelable = 0;

        ngx_add_timer(&req->ev, delay);
        return;
    }

    if (req->error != KX_HTTP_OK) {
        ngx_log_error(NGX_LOG_INFO, req->log, 0,
                      "kx_http: %V %V failed after %ui attempt(s): %s: %s",
                      &req->method, &req->breaker->key, req->attempts,
                      kx_http_error_text(req->error), req->message);
    }

    kx_http_post(req, req->error, req->message);
}


/* tell the breaker how the attempt went */

static void
kx_http_attempt_verdict(kx_http_req_t *req)
{
    kx_breaker_t        *b;
    kx_breaker_state_e   before;

    b = &req->breaker->breaker;

    if (req->verdict == KX_BREAKER_DENY) {
        return;
    }

    req->verdict = KX_BREAKER_DENY;
    before = b->state;

    switch (req->error) {

    case KX_HTTP_OK:
        if (req->status >= 500) {
            kx_breaker_record(b, kx_http_now(), 0);

        } else if (req->status == 429) {
            /* busy, not broken */
            kx_breaker_release(b);

        } else {
            kx_breaker_record(b, kx_http_now(), 1);
        }

        break;

    case KX_HTTP_TOO_LARGE:
        kx_breaker_record(b, kx_http_now(), 1);
        break;

    case KX_HTTP_TIMEOUT:
    case KX_HTTP_CONNECT:
    case KX_HTTP_TLS:
    case KX_HTTP_IO:
        kx_breaker_record(b, kx_http_now(), 0);
        break;

    default:
        kx_breaker_release(b);
        break;
    }

    if (b->state == before) {
        return;
    }

    if (b->state == KX_BREAKER_OPEN) {
        ngx_log_error(NGX_LOG_WARN, req->log, 0,
                      "kx_http: circuit breaker for %V opened "
                      "(%s; cool-down %M ms)", &req->breaker->key,
                      kx_http_error_text(req->error),
                      (ngx_msec_t) b->conf.cooldown_ms);

    } else if (b->state == KX_BREAKER_CLOSED) {
        ngx_log_error(NGX_LOG_NOTICE, req->log, 0,
                      "kx_http: circuit breaker for %V closed",
                      &req->breaker->key);
    }
}


/*
 * The wait before the next attempt: full jitter, at least Retry-After;
 * NGX_DECLINED when the next attempt would not start before the deadline,
 * or the server asks for a longer wait than we are willing to make.
 */

static ngx_int_t
kx_http_retry_delay(kx_http_req_t *req, ngx_msec_int_t retry_after,
    ngx_msec_t *delay)
{
    int64_t     d;
    ngx_msec_t  now;

    d = kx_backoff_full(kx_http_conf.retry_base, kx_http_conf.retry_cap,
                        req->attempts, kx_http_random());

    if (retry_after >= 0) {
        if ((ngx_msec_t) retry_after > kx_http_conf.retry_after_max) {
            return NGX_DECLINED;
        }

        if (retry_after > d) {
            d = retry_after;
        }
    }

    now = ngx_current_msec;

    if ((ngx_msec_int_t) (req->deadline - now) <= d) {
        return NGX_DECLINED;
    }

    *delay = (ngx_msec_t) d;

    return NGX_OK;
}


static void
kx_http_retry_handler(ngx_event_t *ev)
{
    kx_http_req_t *req = ev->data;

    kx_http_attempt(req);
}


/* the handler runs from the event loop, never inside the caller's call */

static void
kx_http_post(kx_http_req_t *req, kx_http_error_e error, const char *message)
{
    req->error = error;
    req->message = message ? message : "";
    req->state = KX_HTTP_REQ_POSTED;

    req->ev.handler = kx_http_deliver;
    ngx_post_event(&req->ev, &ngx_posted_events);
}


static void
kx_http_deliver(ngx_event_t *ev)
{
    kx_http_req_t *req = ev->data;

    kx_http_worker_t    *w;
    kx_http_response_t   res;

    w = kx_http_worker;

    ngx_memzero(&res, sizeof(kx_http_response_t));

    res.error = req->error;
    res.status = req->status;
    res.attempts = req->attempts;
    res.elapsed = ngx_current_msec - req->start;
    res.message = req->message ? req->message : "";
    res.retry_after = -1;

    if (req->breaker) {
        res.breaker_key = req->breaker->key;
    }

    if (req->status) {
        res.headers = req->resp_headers->elts;
        res.nheaders = req->resp_headers->nelts;
        res.retry_after = kx_http_retry_after(req);

        if (kx_http_header_find(req->resp_headers, "Content-Type")) {
            res.content_type = *kx_http_header_find(req->resp_headers,
                                                    "Content-Type");
        }
    }

    if (req->error == KX_HTTP_OK) {
        res.body.data = req->body ? req->body : (u_char *) "";
        res.body.len = req->body_len;
        w->stats.ok++;

    } else {
        w->stats.failed++;

        if (req->error == KX_HTTP_TIMEOUT) {
            w->stats.timeouts++;
        }
    }

    req->state = KX_HTTP_REQ_DONE;

    req->handler(&res, req->data);

    kx_http_req_free(req);
}


static void
kx_http_req_free(kx_http_req_t *req)
{
    kx_http_worker_t  *w;

    w = kx_http_worker;

    if (req->in_multi) {
        /* may close the connection: kx_http_close_socket() */
        (void) curl_multi_remove_handle(w->multi, req->easy);
        req->in_multi = 0;
        w->stats.transfers--;
    }

    if (req->ev.timer_set) {
        ngx_del_timer(&req->ev);
    }

    if (req->ev.posted) {
        ngx_delete_posted_event(&req->ev);
    }

    if (req->breaker) {
        if (req->verdict != KX_BREAKER_DENY) {
            /* cancelled mid-attempt: no verdict, but the probe slot back */
            kx_breaker_release(&req->breaker->breaker);
        }

        kx_http_breaker_unref(req->breaker);
    }

    curl_easy_cleanup(req->easy);
    curl_slist_free_all(req->headers);

    kx_http_ssl_clear();

    if (req->body) {
        ngx_free(req->body);
    }

    ngx_queue_remove(&req->queue);
    w->stats.active--;

    ngx_destroy_pool(req->pool);
}


static ngx_msec_int_t
kx_http_retry_after(kx_http_req_t *req)
{
    int64_t     d;
    ngx_str_t  *v;

    v = kx_http_header_find(req->resp_headers, "Retry-After");

    if (v == NULL
        || kx_retry_after_parse((char *) v->data, v->len,
                                (int64_t) ngx_time() * 1000
                                + (int64_t) ngx_timeofday()->msec,
                                KX_BACKOFF_MAX_MS, &d)
           != 0)
    {
        return -1;
    }

    return (ngx_msec_int_t) d;
}


static ngx_str_t *
kx_http_header_find(ngx_array_t *headers, const char *name)
{
    size_t             len;
    ngx_uint_t         i;
    kx_http_header_t  *h;

    len = ngx_strlen(name);
    h = headers->elts;

    for (i = headers->nelts; i > 0; i--) {
        if (h[i - 1].name.len == len
            && ngx_strncasecmp(h[i - 1].name.data, (u_char *) name, len)
               == 0)
        {
            return &h[i - 1].value;
        }
    }

    return NULL;
}


/* curl: body bytes, at most max_size of them */

static size_t
kx_http_write_cb(char *buf, size_t size, size_t n, void *data)
{
    kx_http_req_t *req = data;

    u_char  *p;
    size_t   len, want;

    len = size * n;

    if (len > req->max_size - req->body_len) {
        req->too_large = 1;
        return 0;
    }

    if (req->body_len + len > req->body_size) {
        want = ngx_max(req->body_size * 2, req->body_len + len);
        want = ngx_max(want, KX_HTTP_BODY_MIN);
        want = ngx_min(want, req->max_size);

        p = ngx_alloc(want, req->log);
        if (p == NULL) {
            return 0;
        }

        if (req->body_len) {
            ngx_memcpy(p, req->body, req->body_len);
        }

        if (req->body) {
            ngx_free(req->body);
        }

        req->body = p;
        req->body_size = want;
    }

    ngx_memcpy(req->body + req->body_len, buf, len);
    req->body_len += len;

    return len;
}


/* curl: one header line; a status line starts a new response */

static size_t
kx_http_header_cb(char *buf, size_t size, size_t n, void *data)
{
    kx_http_req_t *req = data;

    u_char            *p, *last, *colon;
    size_t             len;
    kx_http_header_t  *h;

    len = size * n;
    p = (u_char *) buf;
    last = p + len;

    if (len >= 5 && ngx_strncmp(p, "HTTP/", 5) == 0) {
        /* an interim (1xx) or the final response: only the last counts */
        req->resp_headers->nelts = 0;
        req->headers_len = 0;
        return len;
    }

    req->headers_len += len;

    if (req->headers_len > KX_HTTP_HEADERS_MAX) {
        req->too_large = 1;
        return 0;
    }

    while (last > p && (last[-1] == '\r' || last[-1] == '\n')) {
        last--;
    }

    colon = ngx_strlchr(p, last, ':');

    if (colon == NULL || colon == p) {
        /* the blank line after the headers, or something odd */
        return len;
    }

    h = ngx_array_push(req->resp_headers);
    if (h == NULL) {
        return 0;
    }

    h->name.len = colon - p;
    h->name.data = ngx_pnalloc(req->pool, h->name.len);

    for (p = colon + 1; p < last && (*p == ' ' || *p == '\t'); p++) {
        /* void */
    }

    while (last > p && (last[-1] == ' ' || last[-1] == '\t')) {
        last--;
    }

    h->value.len = last - p;
    h->value.data = ngx_pnalloc(req->pool, h->value.len + 1);

    if (h->name.data == NULL || h->value.data == NULL) {
        return 0;
    }

    ngx_memcpy(h->name.data, buf, h->name.len);
    ngx_memcpy(h->value.data, p, h->value.len);
    h->value.data[h->value.len] = '\0';

    return len;
}


/* breakers: one per upstream key, most recently used first */

static kx_http_breaker_t *
kx_http_breaker_get(ngx_str_t *key)
{
    ngx_queue_t        *q;
    kx_http_worker_t   *w;
    kx_http_breaker_t  *br;

    w = kx_http_worker;

    for (q = ngx_queue_head(&w->breakers);
         q != ngx_queue_sentinel(&w->breakers);
         q = ngx_queue_next(q))
    {
        br = ngx_queue_data(q, kx_http_breaker_t, queue);

        if (br->key.len == key->len
            && ngx_strncmp(br->key.data, key->data, key->len) == 0)
        {
            ngx_queue_remove(q);
            ngx_queue_insert_head(&w->breakers, q);
            return br;
        }
    }

    /* forget the least recently used closed breaker nobody holds */

    if (w->nbreakers >= kx_http_conf.max_breakers) {
        for (q = ngx_queue_last(&w->breakers);
             q != ngx_queue_sentinel(&w->breakers);
             q = ngx_queue_prev(q))
        {
            br = ngx_queue_data(q, kx_http_breaker_t, queue);

            if (br->refs == 0
                && kx_breaker_state(&br->breaker, kx_http_now())
                   == KX_BREAKER_CLOSED)
            {
                ngx_queue_remove(q);
                ngx_free(br);
                w->nbreakers--;
                break;
            }
        }
    }

    br = ngx_alloc(sizeof(kx_http_breaker_t) + key->len, w->log);
    if (br == NULL) {
        return NULL;
    }

    ngx_memzero(br, sizeof(kx_http_breaker_t));

    br->key.data = (u_char *) br + sizeof(kx_http_breaker_t);
    br->key.len = key->len;
    ngx_memcpy(br->key.data, key->data, key->len);

    if (kx_breaker_init(&br->breaker, &kx_http_conf.breaker) != 0) {
        ngx_log_error(NGX_LOG_ALERT, w->log, 0,
                      "kx_http: invalid circuit breaker configuration");
        ngx_free(br);
        return NULL;
    }

    ngx_queue_insert_head(&w->breakers, &br->queue);
    w->nbreakers++;

    return br;
}


static void
kx_http_breaker_unref(kx_http_breaker_t *br)
{
    if (br->refs) {
        br->refs--;
    }
}


static void
kx_http_breaker_fill(kx_http_breaker_t *br, kx_http_breaker_info_t *info)
{
    int64_t  now;

    now = kx_http_now();

    info->key = br->key;
    info->state = kx_breaker_state(&br->breaker, now);
    info->opens = br->breaker.opens;
    info->retry_in = (ngx_msec_t) kx_breaker_retry_in(&br->breaker, now);

    kx_breaker_counts(&br->breaker, now, &info->calls, &info->failures);
}


/* the monotonic clock of the breakers */

static int64_t
kx_http_now(void)
{
    return (int64_t) ngx_current_msec;
}


/* what libcurl left in OpenSSL's error queue is not nginx's business */

static void
kx_http_ssl_clear(void)
{
#if (NGX_OPENSSL)
    ERR_clear_error();
#endif
}


static uint32_t
kx_http_random(void)
{
    /* random() gives 31 bits */
    return ((uint32_t) ngx_random() << 16) ^ (uint32_t) ngx_random();
}


/*
 * The client's settings from directive arguments key=value, for
 * kx_http_client: timeout= connect_timeout= max_size= retry_base=
 * retry_cap= retry_after_max= ca_file= window= buckets= min_requests=
 * failure_pct= cooldown= probes=
 */

char *
kx_http_conf_args(ngx_conf_t *cf, ngx_str_t *value, ngx_uint_t n,
    kx_http_conf_t *c)
{
    u_char          *eq;
    ngx_str_t        name, v;
    ngx_int_t        num;
    ngx_msec_t       ms;
    ngx_uint_t       i;
    kx_breaker_t     test;

    for (i = 0; i < n; i++) {
        eq = ngx_strlchr(value[i].data, value[i].data + value[i].len, '=');
        if (eq == NULL) {
            goto invalid;
        }

        name.data = value[i].data;
        name.len = eq - value[i].data;
        v.data = eq + 1;
        v.len = value[i].data + value[i].len - v.data;

        if (name.len == 7 && ngx_strncmp(name.data, "ca_file", 7) == 0) {
            c->ca_file = v;
            continue;
        }

        ms = ngx_parse_time(&v, 0);
        num = ngx_atoi(v.data, v.len);

#define kx_opt(s)  (name.len == sizeof(s) - 1                                \
                    && ngx_strncmp(name.data, s, sizeof(s) - 1) == 0)

        if (kx_opt("timeout") && ms != (ngx_msec_t) NGX_ERROR) {
            c->timeout = ms;

        } else if (kx_opt("connect_timeout")
                   && ms != (ngx_msec_t) NGX_ERROR)
        {
            c->connect_timeout = ms;

        } else if (kx_opt("retry_base") && ms != (ngx_msec_t) NGX_ERROR) {
            c->retry_base = ms;

        } else if (kx_opt("retry_cap") && ms != (ngx_msec_t) NGX_ERROR) {
            c->retry_cap = ms;

        } else if (kx_opt("retry_after_max")
                   && ms != (ngx_msec_t) NGX_ERROR)
        {
            c->retry_after_max = ms;

        } else if (kx_opt("window") && ms != (ngx_msec_t) NGX_ERROR) {
            c->breaker.window_ms = ms;

        } else if (kx_opt("cooldown") && ms != (ngx_msec_t) NGX_ERROR) {
            c->breaker.cooldown_ms = ms;

        } else if (kx_opt("max_size")
                   && ngx_parse_size(&v) != NGX_ERROR)
        {
            c->max_size = ngx_parse_size(&v);

        } else if (kx_opt("buckets") && num != NGX_ERROR) {
            c->breaker.buckets = num;

        } else if (kx_opt("min_requests") && num != NGX_ERROR) {
            c->breaker.min_requests = num;

        } else if (kx_opt("failure_pct") && num != NGX_ERROR) {
            c->breaker.failure_pct = num;

        } else if (kx_opt("probes") && num != NGX_ERROR) {
            c->breaker.probes = num;

        } else {
            goto invalid;
        }

#undef kx_opt
    }

    if (kx_breaker_init(&test, &c->breaker) != 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid circuit breaker settings");
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid parameter \"%V\"",
                       &value[i]);

    return NGX_CONF_ERROR;
}
