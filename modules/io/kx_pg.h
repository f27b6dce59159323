
/*
 * Copyright (C) Kianax
 *
 * PostgreSQL on the nginx event loop: a per-worker pool of kept-alive
 * libpq connections driven by nginx events and timers.
 *
 * Every call returns at once; results arrive in a handler, which is never
 * called from inside the call that started the work.  Failures of every
 * kind (server down, pool saturated, timeout, connection lost) arrive in
 * the same handler with a status, so a caller has one path to write.
 *
 *     static void
 *     my_done(kx_pg_result_t *res, void *data)
 *     {
 *         my_ctx_t *ctx = data;
 *
 *         ctx->req = NULL;
 *
 *         if (res->status == KX_PG_OK) {
 *             ... PQgetvalue(res->res, 0, 0) ...   (valid until return)
 *         }
 *         ...
 *     }
 *
 *     kx_pg_stmt_t   st;
 *     const char    *values[1] = { "42" };
 *
 *     ngx_memzero(&st, sizeof(kx_pg_stmt_t));
 *     st.sql = "SELECT $1::int";
 *     st.nparams = 1;
 *     st.values = values;
 *
 *     ctx->req = kx_pg_query(pool, &st, my_done, ctx);
 *     if (ctx->req == NULL) {
 *         ... out of memory: the handler will not be called ...
 *     }
 *
 *     ... and if the caller goes away first:  kx_pg_cancel(ctx->req);
 */


#ifndef _KX_PG_H_INCLUDED_
#define _KX_PG_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include <libpq-fe.h>


typedef struct kx_pg_pool_s  kx_pg_pool_t;
typedef struct kx_pg_req_s   kx_pg_req_t;
typedef struct kx_pg_txn_s   kx_pg_txn_t;


typedef enum {
    KX_PG_OK = 0,         /* done: res holds the statement's result */
    KX_PG_ERROR,          /* the server (or libpq) rejected the statement */
    KX_PG_TIMEOUT,        /* no answer within the statement's timeout */
    KX_PG_UNAVAILABLE,    /* no connection to be had: server down */
    KX_PG_BUSY,           /* wait queue full, or no connection in time */
    KX_PG_CONN_LOST       /* connection died with the statement in flight */
} kx_pg_status_e;


typedef struct {
    kx_pg_status_e     status;

    /*
     * KX_PG_OK: the result (PGRES_TUPLES_OK or PGRES_COMMAND_OK);
     * KX_PG_ERROR: the server's error result, or NULL for a local error.
     * Owned by the pool and cleared when the handler returns.
     */
    PGresult          *res;

    const char        *error;      /* never NULL; "" on success */
    const char        *sqlstate;   /* never NULL; "" when unknown */

    kx_pg_txn_t       *txn;        /* kx_pg_txn_begin() on KX_PG_OK */
} kx_pg_result_t;


typedef void (*kx_pg_handler_pt)(kx_pg_result_t *result, void *data);


/*
 * One statement with $1..$n parameters (PQsendQueryParams).  Everything
 * it points to is copied: it may live on the caller's stack.
 */
typedef struct {
    const char          *sql;
    /*
     * Non-NULL: a name (static, one per distinct sql) under which each
     * connection prepares the statement on its first run and executes it
     * afterwards without parsing and planning it again.
     */
    const char          *name;
    ngx_uint_t           nparams;
    /* text values must end with a NUL: their length is taken by strlen */
    const char *const   *values;         /* NULL entry: SQL NULL */
    const int           *lengths;        /* binary parameters only */
    const int           *formats;        /* NULL: all text */
    ngx_uint_t           binary_result;
    ngx_msec_t           timeout;        /* 0: the pool's query timeout */
} kx_pg_stmt_t;


typedef struct {
    const char         **keywords;       /* PQconnectStartParams() */
    const char         **values;
    ngx_str_t            target;         /* "host:port" for log messages */

    ngx_uint_t           size;           /* connections at most */
    ngx_uint_t           queue_size;     /* statements waiting at most */
    ngx_msec_t           queue_timeout;  /* wait for a connection */
    ngx_msec_t           connect_timeout;
    ngx_msec_t           query_timeout;
    ngx_msec_t           backoff_min;    /* reconnect delay after a failure */
    ngx_msec_t           backoff_max;
} kx_pg_conf_t;


typedef struct {
    ngx_uint_t           size;           /* configured maximum */
    ngx_uint_t           total;          /* open or opening */
    ngx_uint_t           connecting;
    ngx_uint_t           idle;
    ngx_uint_t           busy;           /* running a statement or in a txn */
    ngx_uint_t           waiting;        /* statements queued */
    ngx_uint_t           max_seen_busy;
    ngx_uint_t           max_seen_total;
    ngx_uint_t           available;      /* 0 while the server is down */

    ngx_uint_t           queries;        /* statements that got a result */
    ngx_uint_t           errors;
    ngx_uint_t           timeouts;
    ngx_uint_t           rejected;       /* unavailable or busy */
    ngx_uint_t           lost;
    ngx_uint_t           connects;
    ngx_uint_t           connect_failures;
} kx_pg_stats_t;


/* configuration time: parse, check and complete a libpq conninfo string */
char *kx_pg_conf_conninfo(ngx_conf_t *cf, ngx_str_t *conninfo,
    kx_pg_conf_t *conf);

/* per worker: create (and start connecting), and close everything */
kx_pg_pool_t *kx_pg_pool_create(kx_pg_conf_t *conf, ngx_log_t *log);
void kx_pg_pool_destroy(kx_pg_pool_t *pool);

/* a statement on any pooled connection */
kx_pg_req_t *kx_pg_query(kx_pg_pool_t *pool, kx_pg_stmt_t *stmt,
    kx_pg_handler_pt handler, void *data);

/*
 * A transaction holds one connection from BEGIN to COMMIT or ROLLBACK.
 * The begin handler gets result->txn on success; a transaction that began
 * must be ended by exactly one kx_pg_txn_commit() or kx_pg_txn_rollback()
 * (also after one of its statements failed).  One statement at a time.
 */
kx_pg_req_t *kx_pg_txn_begin(kx_pg_pool_t *pool, kx_pg_handler_pt handler,
    void *data);
kx_pg_req_t *kx_pg_txn_query(kx_pg_txn_t *txn, kx_pg_stmt_t *stmt,
    kx_pg_handler_pt handler, void *data);
kx_pg_req_t *kx_pg_txn_commit(kx_pg_txn_t *txn, kx_pg_handler_pt handler,
    void *data);
void kx_pg_txn_rollback(kx_pg_txn_t *txn);

/* the handler of req will never be called; req is invalid afterwards */
void kx_pg_cancel(kx_pg_req_t *req);

void kx_pg_pool_stats(kx_pg_pool_t *pool, kx_pg_stats_t *stats);
const char *kx_pg_status_text(kx_pg_status_e status);


#endif /* _KX_PG_H_INCLUDED_ */
