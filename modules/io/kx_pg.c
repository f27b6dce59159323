
/*
 * Copyright (C) Kianax
 *
 * The per-worker PostgreSQL pool.
 *
 * A connection is a small state machine:
 *
 *     CONNECTING --> IDLE <--> BUSY <--> HELD
 *         |           |         |         |
 *         +-----------+---------+---------+--> discarded
 *
 * CONNECTING runs PQconnectPoll() on socket events under a connect timer;
 * IDLE waits in the pool, watching its socket so that a connection the
 * server closed is noticed and dropped at once; BUSY has one statement in
 * flight (PQsendQueryParams, PQflush until 0, PQconsumeInput/PQisBusy/
 * PQgetResult; a named statement: PQsendPrepare on its first run on the
 * connection, then PQsendQueryPrepared); HELD belongs to a transaction
 * between two statements.
 *
 * Statements that find no idle connection wait in a bounded FIFO queue,
 * while new connections are opened up to the pool size.  After a failed
 * connect the pool is "down": statements fail at once with
 * KX_PG_UNAVAILABLE unless a live connection remains, and a cancelable
 * timer probes the server with exponential backoff and jitter.
 *
 * Timeouts.  libpq's cancel request blocks (it opens a new connection and
 * waits for it), so a statement that times out instead has its connection
 * discarded: the socket is closed, and the server aborts the statement and
 * rolls back any open transaction when it next looks at that socket.  To
 * stop the work on the server at once rather than when it next writes, the
 * pool also sends pg_cancel_backend() for the old backend through an idle
 * connection when one is at hand (best effort, never queued).
 *
 * Handlers are never called from inside the call that submitted the work:
 * failures found there are posted and delivered from the event loop.
 * A cancelled statement that is already on the wire is drained: its
 * result is dropped and the connection goes back to the pool as usual.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include "kx_io_fd.h"
#include "kx_pg.h"


/* connection states */
#define KX_PG_C_CONNECTING  0
#define KX_PG_C_IDLE        1
#define KX_PG_C_BUSY        2
#define KX_PG_C_HELD        3
#define KX_PG_C_CLOSED      4

/* request states */
#define KX_PG_REQ_NEW       0
#define KX_PG_REQ_WAITING   1
#define KX_PG_REQ_RUNNING   2
#define KX_PG_REQ_POSTED    3

/* request kinds */
/* named statements a connection prepares at most (then: unnamed) */
#define KX_PG_MAX_PREPARED  8

#define KX_PG_K_QUERY       0
#define KX_PG_K_BEGIN       1
#define KX_PG_K_TXN_QUERY   2
#define KX_PG_K_COMMIT      3
#define KX_PG_K_ROLLBACK    4
#define KX_PG_K_KILL        5

#define KX_PG_MAX_PARAMS    65535
#define KX_PG_LOG_MAX       512


typedef struct kx_pg_conn_s  kx_pg_conn_t;


struct kx_pg_conn_s {
    ngx_queue_t            queue;        /* pool->idle or pool->conns */
    kx_pg_pool_t          *pool;
    PGconn                *pg;
    ngx_connection_t      *c;
    ngx_event_t            timer;        /* connect timeout */
    kx_pg_req_t           *req;          /* the statement in flight */
    kx_pg_txn_t           *txn;          /* the transaction holding it */
    PGresult              *res;
    int                    pid;          /* of the server backend */

    /* statements prepared on this session (kx_pg_stmt_t.name) */
    const char            *prepared[KX_PG_MAX_PREPARED];
    ngx_uint_t             nprepared;

    unsigned               state:3;
    unsigned               flushing:1;
    unsigned               broken:1;     /* unusable after this statement */
};


struct kx_pg_txn_s {
    ngx_queue_t            queue;        /* pool->txns */
    kx_pg_pool_t          *pool;
    kx_pg_conn_t          *conn;         /* NULL once lost */
    kx_pg_req_t           *req;          /* statement in flight or posted */

    unsigned               abandoned:1;  /* rolled back by the caller */
};


struct kx_pg_req_s {
    ngx_queue_t            queue;        /* pool->waiting or pool->posted */
    kx_pg_pool_t          *pool;
    kx_pg_txn_t           *txn;
    kx_pg_conn_t          *conn;
    kx_pg_handler_pt       handler;      /* NULL: cancelled or internal */
    void                  *data;
    ngx_event_t            ev;           /* timer, or a posted failure */
    ngx_msec_t             timeout;

    kx_pg_status_e         status;       /* of a posted failure */
    const char            *error;

    const char            *sql;
    const char            *name;         /* prepared statement, or NULL */
    const char           **values;
    int                   *lengths;
    int                   *formats;
    int                    nparams;
    int                    result_format;

    unsigned               state:2;
    unsigned               kind:3;
    unsigned               resent:1;
    unsigned               preparing:1;  /* its Prepare is in flight */
};


struct kx_pg_pool_s {
    kx_pg_conf_t          *conf;
    ngx_log_t             *log;

    ngx_queue_t            idle;         /* kx_pg_conn_t, hottest first */
    ngx_queue_t            conns;        /* the other kx_pg_conn_t */
    ngx_queue_t            waiting;      /* kx_pg_req_t, FIFO */
    ngx_queue_t            posted;       /* kx_pg_req_t */
    ngx_queue_t            txns;         /* kx_pg_txn_t */

    ngx_uint_t             nconns;
    ngx_uint_t             nconnecting;
    ngx_uint_t             nidle;
    ngx_uint_t             nbusy;
    ngx_uint_t             nwaiting;

    kx_pg_stats_t          stats;        /* the counters */

    ngx_event_t            reconnect;
    ngx_msec_t             backoff;

    unsigned               down:1;
    unsigned               destroyed:1;
};


static kx_pg_req_t *kx_pg_req_create(kx_pg_pool_t *pool, kx_pg_txn_t *txn,
    ngx_uint_t kind, const char *sql, kx_pg_stmt_t *stmt,
    kx_pg_handler_pt handler, void *data);
static void kx_pg_req_event(ngx_event_t *ev);
static void kx_pg_req_post(kx_pg_req_t *req, kx_pg_status_e status,
    const char *error);
static void kx_pg_req_failed(kx_pg_req_t *req, kx_pg_status_e status,
    PGresult *res, const char *error);
static void kx_pg_req_deliver(kx_pg_req_t *req, kx_pg_status_e status,
    PGresult *res, const char *error, kx_pg_txn_t *txn);
static void kx_pg_req_unqueue(kx_pg_req_t *req);

static void kx_pg_pool_submit(kx_pg_pool_t *pool, kx_pg_req_t *req);
static void kx_pg_pool_grow(kx_pg_pool_t *pool);
static void kx_pg_pool_failed(kx_pg_pool_t *pool);
static void kx_pg_pool_reconnect(ngx_event_t *ev);
static void kx_pg_pool_kill_backend(kx_pg_pool_t *pool, int pid);

static ngx_int_t kx_pg_conn_open(kx_pg_pool_t *pool);
static void kx_pg_conn_set_state(kx_pg_conn_t *conn, ngx_uint_t state);
static ngx_int_t kx_pg_conn_watch(kx_pg_conn_t *conn, ngx_uint_t write);
static void kx_pg_conn_handler(ngx_event_t *ev);
static void kx_pg_conn_connect(kx_pg_conn_t *conn);
static void kx_pg_conn_connect_timeout(ngx_event_t *ev);
static void kx_pg_conn_connect_failed(kx_pg_conn_t *conn, const char *error);
static void kx_pg_conn_ready(kx_pg_conn_t *conn);
static void kx_pg_conn_run(kx_pg_conn_t *conn, kx_pg_req_t *req);
static int kx_pg_conn_send(kx_pg_conn_t *conn, kx_pg_req_t *req);
static ngx_int_t kx_pg_conn_prepared(kx_pg_conn_t *conn);
static ngx_int_t kx_pg_conn_flush(kx_pg_conn_t *conn);
static void kx_pg_conn_busy(kx_pg_conn_t *conn, ngx_event_t *ev);
static void kx_pg_conn_idle(kx_pg_conn_t *conn, ngx_event_t *ev);
static void kx_pg_conn_done(kx_pg_conn_t *conn);
static void kx_pg_conn_release(kx_pg_conn_t *conn);
static void kx_pg_conn_timeout(kx_pg_conn_t *conn);
static void kx_pg_conn_lost(kx_pg_conn_t *conn, const char *error);
static void kx_pg_conn_discard(kx_pg_conn_t *conn);
static void kx_pg_conn_close(kx_pg_conn_t *conn);
static void kx_pg_conn_notice(void *arg, const PGresult *res);

static void kx_pg_txn_end(kx_pg_txn_t *txn);
static void kx_pg_txn_free(kx_pg_txn_t *txn);

static char *kx_pg_strdup(ngx_pool_t *pool, const char *s);
static u_char *kx_pg_oneline(u_char *buf, size_t size, const char *s);


static const char  *kx_pg_status_names[] = {
    "ok",
    "error",
    "timeout",
    "unavailable",
    "busy",
    "connection_lost"
};


/* configuration */

char *
kx_pg_conf_conninfo(ngx_conf_t *cf, ngx_str_t *conninfo, kx_pg_conf_t *conf)
{
    char               *err, *ci;
    u_char             *p;
    size_t              len;
    ngx_int_t           port;
    ngx_url_t           u;
    ngx_uint_t          n, i, has_gss, has_enc, has_app;
    const char         *host, *hostaddr, *portstr;
    PQconninfoOption   *opts, *o;
    u_char              text[NGX_SOCKADDR_STRLEN + 1];

    ci = (char *) ngx_pnalloc(cf->temp_pool, conninfo->len + 1);
    if (ci == NULL) {
        return NGX_CONF_ERROR;
    }

    (void) ngx_cpystrn((u_char *) ci, conninfo->data, conninfo->len + 1);

    err = NULL;
    opts = PQconninfoParse(ci, &err);

    if (opts == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid PostgreSQL conninfo: %s",
                           err ? err : "out of memory");
        if (err) {
            PQfreemem(err);
        }

        return NGX_CONF_ERROR;
    }

    n = 0;
    host = NULL;
    hostaddr = NULL;
    portstr = NULL;
    has_gss = 0;
    has_enc = 0;
    has_app = 0;

    for (o = opts; o->keyword; o++) {
        if (o->val == NULL) {
            continue;
        }

        n++;

        if (ngx_strcmp(o->keyword, "host") == 0) {
            host = o->val;

        } else if (ngx_strcmp(o->keyword, "hostaddr") == 0) {
            hostaddr = o->val;

        } else if (ngx_strcmp(o->keyword, "port") == 0) {
            portstr = o->val;

        } else if (ngx_strcmp(o->keyword, "gssencmode") == 0) {
            has_gss = 1;

        } else if (ngx_strcmp(o->keyword, "client_encoding") == 0) {
            has_enc = 1;

        } else if (ngx_strcmp(o->keyword, "application_name") == 0
                   || ngx_strcmp(o->keyword, "fallback_application_name")
                      == 0)
        {
            has_app = 1;
        }
    }

    /*
     * libpq resolves a host name with a blocking getaddrinfo() on every
     * connect.  Resolve it here, once, and pass the address as hostaddr
     * (host stays for password files and TLS name checks).
     */

    text[0] = '\0';

    if (hostaddr == NULL) {

        if (host == NULL) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "PostgreSQL conninfo needs \"hostaddr\" "
                               "(or \"host\")");
            goto failed;
        }

        if (host[0] != '/' && host[0] != '@') {

            if (ngx_strchr(host, ',') != NULL) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "a list of PostgreSQL hosts needs "
                                   "\"hostaddr\" with their addresses");
                goto failed;
            }

            port = 5432;

            if (portstr) {
                port = ngx_atoi((u_char *) portstr, ngx_strlen(portstr));
                if (port < 1 || port > 65535) {
                    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                       "invalid PostgreSQL port \"%s\"",
                                       portstr);
                    goto failed;
                }
            }

            ngx_memzero(&u, sizeof(ngx_url_t));

            u.host.data = (u_char *) host;
            u.host.len = ngx_strlen(host);
            u.port = (in_port_t) port;

            if (ngx_inet_resolve_host(cf->pool, &u) != NGX_OK
                || u.naddrs == 0)
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "PostgreSQL host \"%s\" not found",
                                   host);
                goto failed;
            }

            len = ngx_sock_ntop(u.addrs[0].sockaddr, u.addrs[0].socklen,
                                text, NGX_SOCKADDR_STRLEN, 0);
            text[len] = '\0';

            hostaddr = (const char *) text;
            n++;
        }
    }

    n += (has_gss ? 0 : 1) + (has_enc ? 0 : 1) + (has_app ? 0 : 1);

    conf->keywords = ngx_pcalloc(cf->pool, (n + 1) * sizeof(char *));
    conf->values = ngx_pcalloc(cf->pool, (n + 1) * sizeof(char *));

    if (conf->keywords == NULL || conf->values == NULL) {
        goto failed;
    }

    i = 0;

    for (o = opts; o->keyword; o++) {
        if (o->val == NULL) {
            continue;
        }

        conf->keywords[i] = kx_pg_strdup(cf->pool, o->keyword);
        conf->values[i] = kx_pg_strdup(cf->pool, o->val);

        if (conf->keywords[i] == NULL || conf->values[i] == NULL) {
            goto failed;
        }

        i++;
    }

    if (text[0]) {
        conf->keywords[i] = "hostaddr";
        conf->values[i] = kx_pg_strdup(cf->pool, (char *) text);
        if (conf->values[i] == NULL) {
            goto failed;
        }

        i++;
    }

    /*
     * GSS encryption is tried by default when a credential cache exists;
     * acquiring GSS credentials reads Kerberos files and may query a KDC,
     * all of it blocking.  Ask for it explicitly to get it.
     */

    if (!has_gss) {
        conf->keywords[i] = "gssencmode";
        conf->values[i++] = "disable";
    }

    if (!has_enc) {
        conf->keywords[i] = "client_encoding";
        conf->values[i++] = "UTF8";
    }

    if (!has_app) {
        conf->keywords[i] = "fallback_application_name";
        conf->values[i++] = "kianax";
    }

    len = (hostaddr ? ngx_strlen(hostaddr) : ngx_strlen(host))
          + sizeof(":65535") + 16;

    p = ngx_pnalloc(cf->pool, len);
    if (p == NULL) {
        goto failed;
    }

    conf->target.data = p;
    conf->target.len = ngx_snprintf(p, len, "%s:%s",
                                    hostaddr ? hostaddr : host,
                                    portstr ? portstr : "5432")
                       - p;

    PQconninfoFree(opts);

    return NGX_CONF_OK;

failed:

    PQconninfoFree(opts);

    return NGX_CONF_ERROR;
}


/* the pool */

kx_pg_pool_t *
kx_pg_pool_create(kx_pg_conf_t *conf, ngx_log_t *log)
{
    kx_pg_pool_t  *pool;

    pool = ngx_calloc(sizeof(kx_pg_pool_t), log);
    if (pool == NULL) {
        return NULL;
    }

    pool->conf = conf;
    pool->log = log;

    ngx_queue_init(&pool->idle);
    ngx_queue_init(&pool->conns);
    ngx_queue_init(&pool->waiting);
    ngx_queue_init(&pool->posted);
    ngx_queue_init(&pool->txns);

    pool->reconnect.handler = kx_pg_pool_reconnect;
    pool->reconnect.data = pool;
    pool->reconnect.log = log;
    pool->reconnect.cancelable = 1;

    pool->stats.size = conf->size;

    /* one connection at once, so the first request finds it warm */
    (void) kx_pg_conn_open(pool);

    return pool;
}


/*
 * At worker exit: close every connection and free everything.  No handler
 * is called; the requests that were waiting go away with the worker.
 */

void
kx_pg_pool_destroy(kx_pg_pool_t *pool)
{
    ngx_queue_t   *q;
    kx_pg_req_t   *req;
    kx_pg_txn_t   *txn;
    kx_pg_conn_t  *conn;

    pool->destroyed = 1;

    if (pool->reconnect.timer_set) {
        ngx_del_timer(&pool->reconnect);
    }

    while (!ngx_queue_empty(&pool->waiting)) {
        q = ngx_queue_head(&pool->waiting);
        req = ngx_queue_data(q, kx_pg_req_t, queue);
        kx_pg_req_unqueue(req);
        ngx_free(req);
    }

    while (!ngx_queue_empty(&pool->posted)) {
        q = ngx_queue_head(&pool->posted);
        req = ngx_queue_data(q, kx_pg_req_t, queue);
        kx_pg_req_unqueue(req);
        ngx_free(req);
    }

    while (!ngx_queue_empty(&pool->idle)) {
        q = ngx_queue_head(&pool->idle);
        conn = ngx_queue_data(q, kx_pg_conn_t, queue);
        kx_pg_conn_discard(conn);
    }

    while (!ngx_queue_empty(&pool->conns)) {
        q = ngx_queue_head(&pool->conns);
        conn = ngx_queue_data(q, kx_pg_conn_t, queue);

        req = conn->req;
        if (req) {
            conn->req = NULL;
            if (req->ev.timer_set) {
                ngx_del_timer(&req->ev);
            }
            ngx_free(req);
        }

        kx_pg_conn_discard(conn);
    }

    while (!ngx_queue_empty(&pool->txns)) {
        q = ngx_queue_head(&pool->txns);
        txn = ngx_queue_data(q, kx_pg_txn_t, queue);
        kx_pg_txn_free(txn);
    }

    ngx_free(pool);
}


void
kx_pg_pool_stats(kx_pg_pool_t *pool, kx_pg_stats_t *stats)
{
    *stats = pool->stats;

    stats->size = pool->conf->size;
    stats->total = pool->nconns;
    stats->connecting = pool->nconnecting;
    stats->idle = pool->nidle;
    stats->busy = pool->nbusy;
    stats->waiting = pool->nwaiting;
    stats->available = !pool->down;
}


const char *
kx_pg_status_text(kx_pg_status_e status)
{
    if ((ngx_uint_t) status
        >= sizeof(kx_pg_status_names) / sizeof(kx_pg_status_names[0]))
    {
        return "unknown";
    }

    return kx_pg_status_names[status];
}


/* submitting work */

kx_pg_req_t *
kx_pg_query(kx_pg_pool_t *pool, kx_pg_stmt_t *stmt, kx_pg_handler_pt handler,
    void *data)
{
    kx_pg_req_t  *req;

    req = kx_pg_req_create(pool, NULL, KX_PG_K_QUERY, NULL, stmt, handler,
                           data);
    if (req == NULL) {
        return NULL;
    }

    kx_pg_pool_submit(pool, req);

    return req;
}


kx_pg_req_t *
kx_pg_txn_begin(kx_pg_pool_t *pool, kx_pg_handler_pt handler, void *data)
{
    kx_pg_req_t  *req;
    kx_pg_txn_t  *txn;

    txn = ngx_calloc(sizeof(kx_pg_txn_t), pool->log);
    if (txn == NULL) {
        return NULL;
    }

    txn->pool = pool;

    req = kx_pg_req_create(pool, txn, KX_PG_K_BEGIN, "BEGIN", NULL, handler,
                           data);
    if (req == NULL) {
        ngx_free(txn);
        return NULL;
    }

    ngx_queue_insert_tail(&pool->txns, &txn->queue);
    txn->req = req;

    kx_pg_pool_submit(pool, req);

    return req;
}


kx_pg_req_t *
kx_pg_txn_query(kx_pg_txn_t *txn, kx_pg_stmt_t *stmt,
    kx_pg_handler_pt handler, void *data)
{
    kx_pg_req_t  *req;

    if (txn->req || txn->abandoned) {
        ngx_log_error(NGX_LOG_ALERT, txn->pool->log, 0,
                      "postgres transaction used while a statement "
                      "is pending or after it ended");
        return NULL;
    }

    req = kx_pg_req_create(txn->pool, txn, KX_PG_K_TXN_QUERY, NULL, stmt,
                           handler, data);
    if (req == NULL) {
        return NULL;
    }

    txn->req = req;

    if (txn->conn == NULL) {
        kx_pg_req_post(req, KX_PG_CONN_LOST,
                       "connection lost during the transaction");
        return req;
    }

    kx_pg_conn_run(txn->conn, req);

    return req;
}


kx_pg_req_t *
kx_pg_txn_commit(kx_pg_txn_t *txn, kx_pg_handler_pt handler, void *data)
{
    kx_pg_req_t  *req;

    if (txn->req || txn->abandoned) {
        ngx_log_error(NGX_LOG_ALERT, txn->pool->log, 0,
                      "postgres transaction committed while a statement "
                      "is pending or after it ended");
        return NULL;
    }

    req = kx_pg_req_create(txn->pool, txn, KX_PG_K_COMMIT, "COMMIT", NULL,
                           handler, data);
    if (req == NULL) {
        return NULL;
    }

    txn->req = req;

    if (txn->conn == NULL) {
        kx_pg_req_post(req, KX_PG_CONN_LOST,
                       "connection lost during the transaction");
        return req;
    }

    kx_pg_conn_run(txn->conn, req);

    return req;
}


/*
 * End a transaction without committing: its pending statement (if any) is
 * cancelled, and ROLLBACK runs in the background before the connection
 * goes back to the pool.  The txn is invalid afterwards.
 */

void
kx_pg_txn_rollback(kx_pg_txn_t *txn)
{
    kx_pg_req_t  *req;

    if (txn->abandoned) {
        return;
    }

    txn->abandoned = 1;

    req = txn->req;

    if (req) {
        if (req->state == KX_PG_REQ_RUNNING) {
            /* kx_pg_conn_done() rolls back when the statement finishes */
            req->handler = NULL;
            return;
        }

        /* a posted failure: the connection is gone already */
        kx_pg_req_unqueue(req);
        txn->req = NULL;
        ngx_free(req);
    }

    kx_pg_txn_end(txn);
}


void
kx_pg_cancel(kx_pg_req_t *req)
{
    kx_pg_txn_t  *txn;

    txn = req->txn;

    switch (req->state) {

    case KX_PG_REQ_RUNNING:
        /*
         * Already on the wire: drain the result and keep the connection.
         * The statement timer stays, so a stuck connection still goes.
         */
        req->handler = NULL;
        return;

    case KX_PG_REQ_WAITING:
    case KX_PG_REQ_POSTED:
        kx_pg_req_unqueue(req);
        break;

    default:
        break;
    }

    if (txn) {
        txn->req = NULL;

        if (req->kind != KX_PG_K_TXN_QUERY) {
            /* BEGIN never reached a connection; COMMIT lost it */
            kx_pg_txn_end(txn);
        }
    }

    ngx_free(req);
}


static void
kx_pg_pool_submit(kx_pg_pool_t *pool, kx_pg_req_t *req)
{
    ngx_queue_t   *q;
    kx_pg_conn_t  *conn;

    if (pool->destroyed) {
        kx_pg_req_post(req, KX_PG_UNAVAILABLE, "postgres unavailable");
        return;
    }

    if (!ngx_queue_empty(&pool->idle)) {
        q = ngx_queue_head(&pool->idle);
        conn = ngx_queue_data(q, kx_pg_conn_t, queue);
        kx_pg_conn_run(conn, req);
        return;
    }

    if (pool->down && pool->nconns == pool->nconnecting) {
        pool->stats.rejected++;
        kx_pg_req_post(req, KX_PG_UNAVAILABLE, "postgres unavailable");
        return;
    }

    if (pool->nwaiting >= pool->conf->queue_size) {
        pool->stats.rejected++;
        kx_pg_req_post(req, KX_PG_BUSY, "postgres pool queue is full");
        return;
    }

    ngx_queue_insert_tail(&pool->waiting, &req->queue);
    pool->nwaiting++;

    req->state = KX_PG_REQ_WAITING;
    ngx_add_timer(&req->ev, pool->conf->queue_timeout);

    kx_pg_pool_grow(pool);
}


/* open connections for waiting statements, up to the pool size */

static void
kx_pg_pool_grow(kx_pg_pool_t *pool)
{
    while (!pool->down
           && !pool->destroyed
           && pool->nconns < pool->conf->size
           && pool->nconnecting < pool->nwaiting)
    {
        if (kx_pg_conn_open(pool) != NGX_OK) {
            break;
        }
    }
}


/* a connect failed: back off, and fail waiters if nothing can serve them */

static void
kx_pg_pool_failed(kx_pg_pool_t *pool)
{
    ngx_msec_t     delay;
    ngx_queue_t   *q;
    kx_pg_req_t   *req;

    pool->down = 1;

    if (pool->destroyed) {
        return;
    }

    if (!pool->reconnect.timer_set) {
        pool->backoff = pool->backoff
                        ? ngx_min(pool->backoff * 2, pool->conf->backoff_max)
                        : pool->conf->backoff_min;

        delay = pool->backoff + ngx_random() % (pool->backoff / 4 + 1);

        ngx_add_timer(&pool->reconnect, delay);
    }

    if (pool->nconns > 0) {
        /* a live connection (or another attempt) may still serve them */
        return;
    }

    while (!ngx_queue_empty(&pool->waiting)) {
        q = ngx_queue_head(&pool->waiting);
        req = ngx_queue_data(q, kx_pg_req_t, queue);
        pool->stats.rejected++;
        kx_pg_req_post(req, KX_PG_UNAVAILABLE, "postgres unavailable");
    }
}


static void
kx_pg_pool_reconnect(ngx_event_t *ev)
{
    kx_pg_pool_t *pool = ev->data;

    if (ngx_exiting || ngx_terminate || ngx_quit || pool->destroyed) {
        return;
    }

    if (pool->nconnecting == 0 && pool->nconns < pool->conf->size) {
        /* one probe; the pool grows again once it succeeds */
        (void) kx_pg_conn_open(pool);
    }
}


/*
 * Best effort: stop the statement of a discarded connection on the server
 * now, through a connection that happens to be idle.
 */

static void
kx_pg_pool_kill_backend(kx_pg_pool_t *pool, int pid)
{
    u_char        *p;
    ngx_queue_t   *q;
    kx_pg_req_t   *req;
    kx_pg_stmt_t   stmt;
    kx_pg_conn_t  *conn;
    const char    *values[1];
    u_char         buf[NGX_INT_T_LEN + 1];

    if (pid <= 0 || pool->destroyed || ngx_queue_empty(&pool->idle)) {
        return;
    }

    p = ngx_sprintf(buf, "%d", pid);
    *p = '\0';

    values[0] = (const char *) buf;

    ngx_memzero(&stmt, sizeof(kx_pg_stmt_t));
    stmt.sql = "SELECT pg_cancel_backend(pid) FROM pg_stat_activity "
               "WHERE pid = $1::int AND state <> 'idle'";
    stmt.nparams = 1;
    stmt.values = values;

    req = kx_pg_req_create(pool, NULL, KX_PG_K_KILL, NULL, &stmt, NULL, NULL);
    if (req == NULL) {
        return;
    }

    q = ngx_queue_head(&pool->idle);
    conn = ngx_queue_data(q, kx_pg_conn_t, queue);

    kx_pg_conn_run(conn, req);
}


/* requests */

static kx_pg_req_t *
kx_pg_req_create(kx_pg_pool_t *pool, kx_pg_txn_t *txn, ngx_uint_t kind,
    const char *sql, kx_pg_stmt_t *stmt, kx_pg_handler_pt handler,
    void *data)
{
    int           *fmts;
    u_char        *p;
    size_t         size, sql_len;
    ngx_uint_t     i, n;
    kx_pg_req_t   *req;

    n = 0;
    sql_len = 0;
    size = sizeof(kx_pg_req_t);
    fmts = NULL;

    if (stmt) {
        n = stmt->nparams;

        if (stmt->sql == NULL || n > KX_PG_MAX_PARAMS
            || (n && stmt->values == NULL)
            || (stmt->formats && stmt->lengths == NULL))
        {
            ngx_log_error(NGX_LOG_ALERT, pool->log, 0,
                          "invalid postgres statement");
            return NULL;
        }

        sql_len = ngx_strlen(stmt->sql) + 1;

        /* values, then lengths and formats, then the bytes */
        size += n * sizeof(char *) + 2 * n * sizeof(int) + sql_len;

        for (i = 0; i < n; i++) {
            if (stmt->values[i] == NULL) {
                continue;
            }

            if (stmt->formats && stmt->formats[i]) {
                size += stmt->lengths[i] + 1;

            } else {
                size += ngx_strlen(stmt->values[i]) + 1;
            }
        }
    }

    req = ngx_alloc(size, pool->log);
    if (req == NULL) {
        return NULL;
    }

    ngx_memzero(req, sizeof(kx_pg_req_t));

    req->pool = pool;
    req->txn = txn;
    req->kind = kind;
    req->handler = handler;
    req->data = data;

    req->ev.handler = kx_pg_req_event;
    req->ev.data = req;
    req->ev.log = pool->log;

    /*
     * The statement timers stay non-cancelable: a graceful shutdown waits
     * for the requests in flight, at most one timeout long.
     */

    if (stmt == NULL) {
        req->sql = sql;
        return req;
    }

    req->timeout = stmt->timeout;
    req->name = stmt->name;
    req->nparams = (int) n;
    req->result_format = stmt->binary_result ? 1 : 0;

    p = (u_char *) (req + 1);

    if (n) {
        req->values = (const char **) p;
        p += n * sizeof(char *);

        req->lengths = (int *) p;
        p += n * sizeof(int);

        fmts = (int *) p;
        p += n * sizeof(int);

        if (stmt->formats) {
            req->formats = fmts;
        }
    }

    req->sql = (const char *) p;
    p = ngx_cpymem(p, stmt->sql, sql_len);

    for (i = 0; i < n; i++) {

        if (stmt->formats) {
            req->formats[i] = stmt->formats[i];
        }

        if (stmt->values[i] == NULL) {
            req->values[i] = NULL;
            req->lengths[i] = 0;
            continue;
        }

        if (stmt->formats && stmt->formats[i]) {
            req->lengths[i] = stmt->lengths[i];

        } else {
            req->lengths[i] = (int) ngx_strlen(stmt->values[i]);
        }

        req->values[i] = (const char *) p;
        p = ngx_cpymem(p, stmt->values[i], req->lengths[i]);
        *p++ = '\0';
    }

    return req;
}


/* a posted failure, a queue wait that ran out, or a statement timeout */

static void
kx_pg_req_event(ngx_event_t *ev)
{
    kx_pg_req_t *req = ev->data;

    kx_pg_pool_t  *pool;

    pool = req->pool;

    switch (req->state) {

    case KX_PG_REQ_POSTED:
        kx_pg_req_unqueue(req);
        kx_pg_req_failed(req, req->status, NULL, req->error);
        return;

    case KX_PG_REQ_WAITING:
        kx_pg_req_unqueue(req);
        pool->stats.rejected++;

        ngx_log_error(NGX_LOG_WARN, pool->log, 0,
                      "no postgres connection within %M ms "
                      "(%ui busy, %ui waiting)",
                      pool->conf->queue_timeout, pool->nbusy,
                      pool->nwaiting);

        kx_pg_req_failed(req, KX_PG_BUSY, NULL,
                         "no postgres connection within the queue timeout");
        return;

    case KX_PG_REQ_RUNNING:
        kx_pg_conn_timeout(req->conn);
        return;

    default:
        return;
    }
}


/* deliver a failure later, from the event loop */

static void
kx_pg_req_post(kx_pg_req_t *req, kx_pg_status_e status, const char *error)
{
    kx_pg_req_unqueue(req);

    req->conn = NULL;
    req->status = status;
    req->error = error;
    req->state = KX_PG_REQ_POSTED;

    ngx_queue_insert_tail(&req->pool->posted, &req->queue);
    ngx_post_event(&req->ev, &ngx_posted_events);
}


/* take a request off whatever queue, timer or posted list it is on */

static void
kx_pg_req_unqueue(kx_pg_req_t *req)
{
    if (req->ev.timer_set) {
        ngx_del_timer(&req->ev);
    }

    if (req->ev.posted) {
        ngx_delete_posted_event(&req->ev);
    }

    switch (req->state) {

    case KX_PG_REQ_WAITING:
        req->pool->nwaiting--;
        ngx_queue_remove(&req->queue);
        break;

    case KX_PG_REQ_POSTED:
        ngx_queue_remove(&req->queue);
        break;

    default:
        break;
    }

    req->state = KX_PG_REQ_NEW;
}


/*
 * A request failed; its connection (if it had one) is gone already.
 * Settles the transaction, calls the handler, frees req.
 */

static void
kx_pg_req_failed(kx_pg_req_t *req, kx_pg_status_e status, PGresult *res,
    const char *error)
{
    kx_pg_txn_t  *txn;

    txn = req->txn;

    if (txn) {
        txn->req = NULL;

        if (req->kind != KX_PG_K_TXN_QUERY || txn->abandoned) {
            /* BEGIN, COMMIT or ROLLBACK: the transaction is over */
            kx_pg_txn_end(txn);
        }
    }

    kx_pg_req_deliver(req, status, res, error, NULL);
}


static void
kx_pg_req_deliver(kx_pg_req_t *req, kx_pg_status_e status, PGresult *res,
    const char *error, kx_pg_txn_t *txn)
{
    char            *sqlstate;
    kx_pg_result_t   result;

    if (req->handler) {
        result.status = status;
        result.res = res;
        result.error = error ? error : "";
        result.sqlstate = "";
        result.txn = txn;

        if (res && status != KX_PG_OK) {
            sqlstate = PQresultErrorField(res, PG_DIAG_SQLSTATE);
            if (sqlstate) {
                result.sqlstate = sqlstate;
            }
        }

        req->handler(&result, req->data);
    }

    ngx_free(req);
}


/* transactions */

/*
 * The caller is done with txn (rollback, or a failed BEGIN/COMMIT): roll
 * back on its connection in the background, or just free it.
 */

static void
kx_pg_txn_end(kx_pg_txn_t *txn)
{
    kx_pg_req_t   *req;
    kx_pg_conn_t  *conn;

    txn->abandoned = 1;

    conn = txn->conn;

    if (conn == NULL) {
        kx_pg_txn_free(txn);
        return;
    }

    req = kx_pg_req_create(txn->pool, txn, KX_PG_K_ROLLBACK, "ROLLBACK", NULL,
                           NULL, NULL);
    if (req == NULL) {
        /* closing the connection makes the server roll back */
        conn->txn = NULL;
        txn->conn = NULL;
        kx_pg_conn_discard(conn);
        kx_pg_txn_free(txn);
        return;
    }

    txn->req = req;
    kx_pg_conn_run(conn, req);
}


static void
kx_pg_txn_free(kx_pg_txn_t *txn)
{
    if (txn->conn) {
        txn->conn->txn = NULL;
    }

    ngx_queue_remove(&txn->queue);
    ngx_free(txn);
}


/* connections */

static ngx_int_t
kx_pg_conn_open(kx_pg_pool_t *pool)
{
    kx_pg_conn_t  *conn;

    conn = ngx_calloc(sizeof(kx_pg_conn_t), pool->log);
    if (conn == NULL) {
        return NGX_ERROR;
    }

    conn->pool = pool;
    conn->state = KX_PG_C_CONNECTING;

    ngx_queue_insert_tail(&pool->conns, &conn->queue);
    pool->nconns++;
    pool->nconnecting++;

    if (pool->nconns > pool->stats.max_seen_total) {
        pool->stats.max_seen_total = pool->nconns;
    }

    conn->timer.handler = kx_pg_conn_connect_timeout;
    conn->timer.data = conn;
    conn->timer.log = pool->log;
    conn->timer.cancelable = 1;

    conn->pg = PQconnectStartParams(pool->conf->keywords,
                                    pool->conf->values, 0);

    if (conn->pg == NULL) {
        kx_pg_conn_connect_failed(conn, "out of memory");
        return NGX_ERROR;
    }

    if (PQstatus(conn->pg) == CONNECTION_BAD) {
        kx_pg_conn_connect_failed(conn, PQerrorMessage(conn->pg));
        return NGX_ERROR;
    }

    (void) PQsetNoticeReceiver(conn->pg, kx_pg_conn_notice, conn);

    ngx_add_timer(&conn->timer, pool->conf->connect_timeout);

    /* libpq: behave as if PQconnectPoll() had asked for writing */

    if (kx_pg_conn_watch(conn, 1) != NGX_OK) {
        kx_pg_conn_connect_failed(conn, "cannot watch the socket");
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* keep the counters and the idle queue in step with conn->state */

static void
kx_pg_conn_set_state(kx_pg_conn_t *conn, ngx_uint_t state)
{
    kx_pg_pool_t  *pool;

    pool = conn->pool;

    if (conn->state == state) {
        return;
    }

    switch (conn->state) {

    case KX_PG_C_CONNECTING:
        pool->nconnecting--;
        break;

    case KX_PG_C_IDLE:
        pool->nidle--;
        ngx_queue_remove(&conn->queue);
        ngx_queue_insert_tail(&pool->conns, &conn->queue);
        break;

    case KX_PG_C_BUSY:
    case KX_PG_C_HELD:
        if (state == KX_PG_C_BUSY || state == KX_PG_C_HELD) {
            conn->state = state;
            return;
        }

        pool->nbusy--;
        break;
    }

    conn->state = state;

    switch (state) {

    case KX_PG_C_IDLE:
        pool->nidle++;
        ngx_queue_remove(&conn->queue);
        ngx_queue_insert_head(&pool->idle, &conn->queue);
        break;

    case KX_PG_C_BUSY:
    case KX_PG_C_HELD:
        pool->nbusy++;

        if (pool->nbusy > pool->stats.max_seen_busy) {
            pool->stats.max_seen_busy = pool->nbusy;
        }

        break;
    }
}


/*
 * Watch the connection's current socket.  While connecting, libpq may
 * close its socket and open another (next address, TLS or GSS fallback),
 * possibly with the same number; kx_pg_conn_connect() therefore stops
 * watching before each PQconnectPoll() and watches again after it.
 */

static ngx_int_t
kx_pg_conn_watch(kx_pg_conn_t *conn, ngx_uint_t write)
{
    ngx_socket_t  fd;

    fd = PQsocket(conn->pg);
    if (fd == (ngx_socket_t) -1) {
        return NGX_ERROR;
    }

    if (conn->c && conn->c->fd != fd) {
        kx_io_fd_release(conn->c);
        conn->c = NULL;
    }

    if (conn->c == NULL) {
        conn->c = kx_io_fd_wrap(fd, kx_pg_conn_handler, conn,
                                conn->pool->log);
        if (conn->c == NULL) {
            return NGX_ERROR;
        }
    }

    return kx_io_fd_watch(conn->c, 1, write);
}


static void
kx_pg_conn_handler(ngx_event_t *ev)
{
    ngx_connection_t  *c;
    kx_pg_conn_t      *conn;

    c = ev->data;
    conn = c->data;

    if (c->close) {
        /* worker_shutdown_timeout: nginx closes every connection */
        if (conn->state == KX_PG_C_CONNECTING) {
            kx_pg_conn_connect_failed(conn, "worker is shutting down");

        } else {
            kx_pg_conn_lost(conn, "worker is shutting down");
        }

        return;
    }

    switch (conn->state) {

    case KX_PG_C_CONNECTING:
        kx_pg_conn_connect(conn);
        return;

    case KX_PG_C_BUSY:
        kx_pg_conn_busy(conn, ev);
        return;

    default: /* KX_PG_C_IDLE, KX_PG_C_HELD */
        kx_pg_conn_idle(conn, ev);
        return;
    }
}


static void
kx_pg_conn_connect(kx_pg_conn_t *conn)
{
    kx_pg_pool_t                *pool;
    PostgresPollingStatusType    st;

    pool = conn->pool;

    if (conn->c) {
        kx_io_fd_unwatch(conn->c);
    }

    st = PQconnectPoll(conn->pg);

    switch (st) {

    case PGRES_POLLING_READING:
    case PGRES_POLLING_WRITING:
        if (kx_pg_conn_watch(conn, st == PGRES_POLLING_WRITING) != NGX_OK) {
            kx_pg_conn_connect_failed(conn, "cannot watch the socket");
        }

        return;

    case PGRES_POLLING_OK:
        break;

    default:
        kx_pg_conn_connect_failed(conn, PQerrorMessage(conn->pg));
        return;
    }

    if (PQsetnonblocking(conn->pg, 1) != 0) {
        kx_pg_conn_connect_failed(conn, PQerrorMessage(conn->pg));
        return;
    }

    if (kx_pg_conn_watch(conn, 0) != NGX_OK) {
        kx_pg_conn_connect_failed(conn, "cannot watch the socket");
        return;
    }

    if (conn->timer.timer_set) {
        ngx_del_timer(&conn->timer);
    }

    conn->pid = PQbackendPID(conn->pg);
    pool->stats.connects++;

    if (pool->down) {
        ngx_log_error(NGX_LOG_NOTICE, pool->log, 0,
                      "postgres at %V is available again",
                      &pool->conf->target);
    }

    pool->down = 0;
    pool->backoff = 0;

    if (pool->reconnect.timer_set) {
        ngx_del_timer(&pool->reconnect);
    }

    ngx_log_debug2(NGX_LOG_DEBUG_EVENT, pool->log, 0,
                   "postgres connected, backend %d, fd %d",
                   conn->pid, conn->c->fd);

    kx_pg_conn_ready(conn);

    kx_pg_pool_grow(pool);
}


static void
kx_pg_conn_connect_timeout(ngx_event_t *ev)
{
    kx_pg_conn_t *conn = ev->data;

    kx_pg_conn_connect_failed(conn, "connect timed out");
}


static void
kx_pg_conn_connect_failed(kx_pg_conn_t *conn, const char *error)
{
    kx_pg_pool_t  *pool;
    u_char         msg[KX_PG_LOG_MAX];

    pool = conn->pool;

    pool->stats.connect_failures++;

    /* while it stays down, a failure is logged once per backoff step */
    ngx_log_error((pool->down ? NGX_LOG_WARN : NGX_LOG_ERR), pool->log, 0,
                  "postgres connect to %V failed: %s", &pool->conf->target,
                  kx_pg_oneline(msg, KX_PG_LOG_MAX, error));

    kx_pg_conn_discard(conn);
    kx_pg_pool_failed(pool);
}


/* a free connection: serve the oldest waiting statement, or idle */

static void
kx_pg_conn_ready(kx_pg_conn_t *conn)
{
    ngx_queue_t   *q;
    kx_pg_req_t   *req;
    kx_pg_pool_t  *pool;

    pool = conn->pool;

    if (ngx_queue_empty(&pool->waiting)) {
        kx_pg_conn_set_state(conn, KX_PG_C_IDLE);
        return;
    }

    q = ngx_queue_head(&pool->waiting);
    req = ngx_queue_data(q, kx_pg_req_t, queue);

    kx_pg_req_unqueue(req);
    kx_pg_conn_run(conn, req);
}


static void
kx_pg_conn_run(kx_pg_conn_t *conn, kx_pg_req_t *req)
{
    kx_pg_pool_t  *pool;
    u_char         msg[KX_PG_LOG_MAX];

    pool = conn->pool;

    kx_pg_req_unqueue(req);
    kx_pg_conn_set_state(conn, KX_PG_C_BUSY);

    conn->req = req;
    req->conn = conn;
    req->state = KX_PG_REQ_RUNNING;

    if (!kx_pg_conn_send(conn, req)) {
        if ((req->kind == KX_PG_K_QUERY || req->kind == KX_PG_K_BEGIN)
            && !req->resent)
        {
            /*
             * Nothing reached the server (a connection that died while
             * idle, not yet noticed): try once more on another one.
             */
            ngx_log_error(NGX_LOG_INFO, pool->log, 0,
                          "postgres send failed, retrying: %s",
                          kx_pg_oneline(msg, KX_PG_LOG_MAX,
                                        PQerrorMessage(conn->pg)));

            conn->req = NULL;
            req->conn = NULL;
            req->state = KX_PG_REQ_NEW;
            req->resent = 1;

            kx_pg_conn_discard(conn);
            kx_pg_pool_submit(pool, req);
            return;
        }

        kx_pg_conn_lost(conn, PQerrorMessage(conn->pg));
        return;
    }

    if (req->kind == KX_PG_K_BEGIN) {
        conn->txn = req->txn;
        req->txn->conn = conn;
    }

    ngx_add_timer(&req->ev, req->timeout ? req->timeout
                                         : pool->conf->query_timeout);

    if (kx_pg_conn_flush(conn) != NGX_OK) {
        kx_pg_conn_lost(conn, PQerrorMessage(conn->pg));
    }
}


/*
 * A named statement (kx_pg_stmt_t.name) is prepared once per session:
 * the first run on a connection sends Prepare and, once that succeeded,
 * the execution (kx_pg_conn_prepared); later runs only Bind and Execute,
 * so the server neither parses nor plans the statement again.
 */

static int
kx_pg_conn_send(kx_pg_conn_t *conn, kx_pg_req_t *req)
{
    ngx_uint_t  i;

    req->preparing = 0;

    if (req->name == NULL) {
        return PQsendQueryParams(conn->pg, req->sql, req->nparams, NULL,
                                 req->values, req->lengths, req->formats,
                                 req->result_format);
    }

    for (i = 0; i < conn->nprepared; i++) {
        if (ngx_strcmp(conn->prepared[i], req->name) == 0) {
            return PQsendQueryPrepared(conn->pg, req->name, req->nparams,
                                       req->values, req->lengths,
                                       req->formats, req->result_format);
        }
    }

    if (conn->nprepared == KX_PG_MAX_PREPARED) {
        return PQsendQueryParams(conn->pg, req->sql, req->nparams, NULL,
                                 req->values, req->lengths, req->formats,
                                 req->result_format);
    }

    req->preparing = 1;

    return PQsendPrepare(conn->pg, req->name, req->sql, req->nparams, NULL);
}


/*
 * The result of a Prepare: NGX_OK when the execution went out (the
 * statement stays in flight), else NGX_DECLINED (the Prepare's error is
 * the statement's result) or NGX_ERROR (the connection is lost).
 */

static ngx_int_t
kx_pg_conn_prepared(kx_pg_conn_t *conn)
{
    kx_pg_req_t  *req;

    req = conn->req;
    req->preparing = 0;

    if (conn->broken || conn->res == NULL
        || PQresultStatus(conn->res) != PGRES_COMMAND_OK)
    {
        return NGX_DECLINED;
    }

    PQclear(conn->res);
    conn->res = NULL;

    conn->prepared[conn->nprepared++] = req->name;

    if (!PQsendQueryPrepared(conn->pg, req->name, req->nparams, req->values,
                             req->lengths, req->formats, req->result_format)
        || kx_pg_conn_flush(conn) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
kx_pg_conn_flush(kx_pg_conn_t *conn)
{
    int  rc;

    rc = PQflush(conn->pg);

    if (rc == -1) {
        return NGX_ERROR;
    }

    conn->flushing = (rc == 1);

    return kx_io_fd_watch(conn->c, 1, conn->flushing);
}


static void
kx_pg_conn_busy(kx_pg_conn_t *conn, ngx_event_t *ev)
{
    PGresult        *res;
    ngx_uint_t       n;
    ExecStatusType   st;

    if (ev->write) {
        if (kx_pg_conn_flush(conn) != NGX_OK) {
            kx_pg_conn_lost(conn, PQerrorMessage(conn->pg));
        }

        return;
    }

    if (!PQconsumeInput(conn->pg)) {
        kx_pg_conn_lost(conn, PQerrorMessage(conn->pg));
        return;
    }

    /*
     * TLS may keep decrypted bytes of a record that did not fit libpq's
     * buffer; the socket shows nothing more for them, so take them now.
     */

    for (n = 0; n < 4 && PQisBusy(conn->pg) && PQsslInUse(conn->pg); n++) {
        if (!PQconsumeInput(conn->pg)) {
            kx_pg_conn_lost(conn, PQerrorMessage(conn->pg));
            return;
        }
    }

    /* the server may have been waiting for us to read before we could write */

    if (conn->flushing && kx_pg_conn_flush(conn) != NGX_OK) {
        kx_pg_conn_lost(conn, PQerrorMessage(conn->pg));
        return;
    }

    for ( ;; ) {

        if (PQisBusy(conn->pg)) {
            return;
        }

        res = PQgetResult(conn->pg);
        if (res == NULL) {
            break;
        }

        st = PQresultStatus(res);

        if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT
            || st == PGRES_COPY_BOTH)
        {
            /* COPY would leave the connection in copy mode: not ours */
            PQclear(res);
            conn->broken = 1;
            break;
        }

        if (conn->res == NULL) {
            conn->res = res;

        } else if (st == PGRES_FATAL_ERROR
                   && PQresultStatus(conn->res) != PGRES_FATAL_ERROR)
        {
            PQclear(conn->res);
            conn->res = res;

        } else {
            PQclear(res);
        }
    }

    if (conn->req && conn->req->preparing) {
        switch (kx_pg_conn_prepared(conn)) {

        case NGX_OK:
            return;

        case NGX_ERROR:
            kx_pg_conn_lost(conn, PQerrorMessage(conn->pg));
            return;

        default: /* NGX_DECLINED */
            break;
        }
    }

    kx_pg_conn_done(conn);
}


/*
 * The statement in flight finished with a result.  The connection is
 * settled (pool, transaction) before the handler runs, so the handler may
 * submit new work, including on the same transaction.
 */

static void
kx_pg_conn_done(kx_pg_conn_t *conn)
{
    const char      *error, *tag, *sqlstate;
    PGresult        *res;
    kx_pg_txn_t     *txn;
    kx_pg_req_t     *req;
    kx_pg_pool_t    *pool;
    kx_pg_status_e   status;

    pool = conn->pool;
    req = conn->req;
    res = conn->res;
    txn = conn->txn;

    conn->req = NULL;
    conn->res = NULL;
    req->conn = NULL;

    if (req->ev.timer_set) {
        ngx_del_timer(&req->ev);
    }

    status = KX_PG_OK;
    error = NULL;

    if (conn->broken) {
        status = KX_PG_ERROR;
        error = "COPY is not supported";

    } else if (res == NULL) {
        status = KX_PG_ERROR;
        error = "no result";

    } else {
        switch (PQresultStatus(res)) {

        case PGRES_COMMAND_OK:
        case PGRES_TUPLES_OK:
            break;

        default:
            status = KX_PG_ERROR;
            error = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
            if (error == NULL) {
                error = "statement failed";
            }

            /*
             * The server ends the session (shutdown, crash, admin
             * termination): the statement's outcome is that of a lost
             * connection, not of an SQL error.
             */

            sqlstate = PQresultErrorField(res, PG_DIAG_SQLSTATE);

            if (PQstatus(conn->pg) != CONNECTION_OK
                || (sqlstate && (ngx_strncmp(sqlstate, "57P", 3) == 0
                                 || ngx_strncmp(sqlstate, "08", 2) == 0)))
            {
                status = KX_PG_CONN_LOST;
                conn->broken = 1;
            }

            break;
        }
    }

    pool->stats.queries++;

    if (status != KX_PG_OK) {
        pool->stats.errors++;
    }

    if (conn->broken) {
        /* the transaction (if any) loses its connection with it */

        if (txn) {
            conn->txn = NULL;
            txn->conn = NULL;
        }

        kx_pg_conn_discard(conn);
        kx_pg_pool_grow(pool);

        req->state = KX_PG_REQ_NEW;
        kx_pg_req_failed(req, status, res, error);

        if (res) {
            PQclear(res);
        }

        return;
    }

    switch (req->kind) {

    case KX_PG_K_BEGIN:
        if (status == KX_PG_OK && req->handler) {
            kx_pg_conn_set_state(conn, KX_PG_C_HELD);
            txn->req = NULL;
            kx_pg_req_deliver(req, status, res, error, txn);
            break;
        }

        /* BEGIN failed, or its caller went away meanwhile */
        kx_pg_conn_set_state(conn, KX_PG_C_HELD);
        txn->req = NULL;

        if (status != KX_PG_OK) {
            conn->txn = NULL;
            txn->conn = NULL;
            kx_pg_txn_free(txn);
            kx_pg_conn_release(conn);

        } else {
            kx_pg_txn_end(txn);
        }

        kx_pg_req_deliver(req, status, res, error, NULL);
        break;

    case KX_PG_K_TXN_QUERY:
        kx_pg_conn_set_state(conn, KX_PG_C_HELD);
        txn->req = NULL;

        if (txn->abandoned) {
            /* rolled back by the caller while this statement ran */
            ngx_free(req);
            kx_pg_txn_end(txn);
            break;
        }

        kx_pg_req_deliver(req, status, res, error, NULL);
        break;

    case KX_PG_K_COMMIT:
        if (status == KX_PG_OK) {
            tag = PQcmdStatus(res);

            if (tag == NULL || ngx_strcmp(tag, "COMMIT") != 0) {
                /* COMMIT of a failed transaction answers ROLLBACK */
                status = KX_PG_ERROR;
                error = "the transaction was rolled back";
            }
        }

        txn->req = NULL;
        txn->abandoned = 1;
        kx_pg_txn_free(txn);

        kx_pg_conn_release(conn);
        kx_pg_req_deliver(req, status, res, error, NULL);
        break;

    case KX_PG_K_ROLLBACK:
        txn->req = NULL;
        kx_pg_txn_free(txn);

        kx_pg_conn_release(conn);
        ngx_free(req);
        break;

    default: /* KX_PG_K_QUERY, KX_PG_K_KILL */
        kx_pg_conn_release(conn);
        kx_pg_req_deliver(req, status, res, error, NULL);
        break;
    }

    if (res) {
        PQclear(res);
    }
}


/* back to the pool after a statement or a transaction */

static void
kx_pg_conn_release(kx_pg_conn_t *conn)
{
    kx_pg_pool_t  *pool;

    pool = conn->pool;

    if (conn->broken
        || PQstatus(conn->pg) != CONNECTION_OK
        || PQtransactionStatus(conn->pg) != PQTRANS_IDLE)
    {
        if (!conn->broken && PQstatus(conn->pg) == CONNECTION_OK) {
            ngx_log_error(NGX_LOG_WARN, pool->log, 0,
                          "a postgres statement left a transaction open "
                          "outside kx_pg_txn_*(); connection discarded");
        }

        kx_pg_conn_discard(conn);
        kx_pg_pool_grow(pool);
        return;
    }

    kx_pg_conn_set_state(conn, KX_PG_C_BUSY);
    kx_pg_conn_ready(conn);
}


static void
kx_pg_conn_timeout(kx_pg_conn_t *conn)
{
    int            pid;
    kx_pg_req_t   *req;
    kx_pg_txn_t   *txn;
    kx_pg_pool_t  *pool;
    ngx_uint_t     kind;

    pool = conn->pool;
    req = conn->req;
    txn = conn->txn;
    pid = conn->pid;
    kind = req->kind;

    pool->stats.timeouts++;

    ngx_log_error(NGX_LOG_WARN, pool->log, 0,
                  "postgres statement timed out after %M ms, "
                  "closing the connection to backend %d",
                  req->timeout ? req->timeout : pool->conf->query_timeout,
                  pid);

    conn->req = NULL;
    req->conn = NULL;
    req->state = KX_PG_REQ_NEW;

    if (txn) {
        conn->txn = NULL;
        txn->conn = NULL;
    }

    kx_pg_conn_discard(conn);

    if (kind != KX_PG_K_KILL) {
        kx_pg_pool_kill_backend(pool, pid);
    }

    kx_pg_req_failed(req, KX_PG_TIMEOUT, NULL,
                     "postgres statement timed out");

    kx_pg_pool_grow(pool);
}


/* the connection failed under a statement, a transaction, or while idle */

static void
kx_pg_conn_lost(kx_pg_conn_t *conn, const char *error)
{
    kx_pg_req_t   *req;
    kx_pg_txn_t   *txn;
    kx_pg_pool_t  *pool;
    u_char         msg[KX_PG_LOG_MAX];

    pool = conn->pool;
    req = conn->req;
    txn = conn->txn;

    ngx_log_error((req || txn ? NGX_LOG_ERR : NGX_LOG_INFO), pool->log, 0,
                  "postgres connection to backend %d lost%s: %s",
                  conn->pid, req ? " with a statement in flight" : "",
                  kx_pg_oneline(msg, KX_PG_LOG_MAX, error));

    pool->stats.lost++;

    conn->req = NULL;
    conn->txn = NULL;

    if (txn) {
        txn->conn = NULL;
    }

    kx_pg_conn_discard(conn);

    if (req) {
        req->conn = NULL;
        req->state = KX_PG_REQ_NEW;
        kx_pg_req_post(req, KX_PG_CONN_LOST,
                       "connection to postgres lost");
    }

    kx_pg_pool_grow(pool);
}


static void
kx_pg_conn_idle(kx_pg_conn_t *conn, ngx_event_t *ev)
{
    PGnotify  *n;

    if (ev->write) {
        (void) kx_io_fd_watch(conn->c, 1, 0);
        return;
    }

    /* an idle connection is readable when the server closes or talks */

    if (!PQconsumeInput(conn->pg)) {
        kx_pg_conn_lost(conn, PQerrorMessage(conn->pg));
        return;
    }

    (void) PQisBusy(conn->pg);    /* parses notices */

    while ((n = PQnotifies(conn->pg)) != NULL) {
        PQfreemem(n);
    }

    if (PQstatus(conn->pg) != CONNECTION_OK) {
        kx_pg_conn_lost(conn, PQerrorMessage(conn->pg));
    }
}


/* forget a connection: the caller took care of its request and txn */

static void
kx_pg_conn_discard(kx_pg_conn_t *conn)
{
    kx_pg_pool_t  *pool;

    pool = conn->pool;

    kx_pg_conn_set_state(conn, KX_PG_C_CLOSED);
    ngx_queue_remove(&conn->queue);
    pool->nconns--;

    kx_pg_conn_close(conn);
    ngx_free(conn);
}


static void
kx_pg_conn_close(kx_pg_conn_t *conn)
{
    if (conn->timer.timer_set) {
        ngx_del_timer(&conn->timer);
    }

    /*
     * nginx lets go of the socket first: PQfinish() closes it.  libpq may
     * have closed it already (EOF, socket error), and then its number
     * must not reach epoll_ctl(): it may be another socket's by now.
     */

    if (conn->c) {
        if (conn->pg == NULL || PQsocket(conn->pg) != conn->c->fd) {
            kx_io_fd_forget(conn->c);
        }

        kx_io_fd_release(conn->c);
        conn->c = NULL;
    }

    if (conn->res) {
        PQclear(conn->res);
        conn->res = NULL;
    }

    if (conn->pg) {
        PQfinish(conn->pg);
        conn->pg = NULL;
    }
}


static void
kx_pg_conn_notice(void *arg, const PGresult *res)
{
    kx_pg_conn_t *conn = arg;

    char        *sev;
    ngx_uint_t   level;
    u_char       msg[KX_PG_LOG_MAX];

    sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);

    level = NGX_LOG_INFO;

    if (sev && (ngx_strcmp(sev, "WARNING") == 0
                || ngx_strcmp(sev, "ERROR") == 0
                || ngx_strcmp(sev, "FATAL") == 0
                || ngx_strcmp(sev, "PANIC") == 0))
    {
        level = NGX_LOG_WARN;
    }

    ngx_log_error(level, conn->pool->log, 0, "postgres backend %d: %s",
                  conn->pid,
                  kx_pg_oneline(msg, KX_PG_LOG_MAX,
                                PQresultErrorMessage(res)));
}


static char *
kx_pg_strdup(ngx_pool_t *pool, const char *s)
{
    char    *d;
    size_t   len;

    len = ngx_strlen(s) + 1;

    d = ngx_pnalloc(pool, len);
    if (d == NULL) {
        return NULL;
    }

    ngx_memcpy(d, s, len);

    return d;
}


/*
 * libpq messages span lines ("...\n\tIs the server running...\n"):
 * one log line each, whitespace runs made one space, cut at size.
 */

static u_char *
kx_pg_oneline(u_char *buf, size_t size, const char *s)
{
    u_char  *p, *last;

    p = buf;
    last = buf + size - 1;

    for ( /* void */ ; s && *s && p < last; s++) {

        if (*s == '\n' || *s == '\t' || *s == '\r' || *s == ' ') {
            if (p > buf && p[-1] != ' ') {
                *p++ = ' ';
            }

            continue;
        }

        *p++ = *s;
    }

    while (p > buf && p[-1] == ' ') {
        p--;
    }

    *p = '\0';

    return buf;
}
