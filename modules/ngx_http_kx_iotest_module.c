
/*
 * Copyright (C) Kianax
 *
 * Test-only content handlers that drive the shared clients of
 * ngx_http_kx_io_module (t/io_pg.t, t/io_redis.t, bench/pg-select1).
 * Never configure them in nginx.conf.d/.
 *
 *   kx_iotest_ping;          answers at once, no I/O
 *   kx_iotest_pg_select1;    SELECT $1::int            ?v=N
 *   kx_iotest_pg_sleep;      SELECT pg_sleep($1)       ?s=secs [&t=ms]
 *   kx_iotest_pg_txn;        BEGIN; n INSERTs into public.kx_iotest_txn
 *                            (tag text, i int); COMMIT
 *                            ?tag=T&n=N [&sleep=secs between rows]
 *                            [&fail=1: a failing statement before COMMIT]
 *   kx_iotest_pg_pool;       the pool's counters
 *   kx_iotest_pg_big;        SELECT repeat('x', $1)    ?n=bytes
 *                            (a reply larger than any one read)
 *   kx_iotest_redis;         SET key value, then GET key   ?key=&value=
 *                            [&size=N: a generated value of N bytes]
 *   kx_iotest_redis_sub;     subscribe (once per worker) to ?channel=,
 *                            report what arrived
 *   kx_iotest_redis_sub_pair;  two subscriptions to ?channel= (when this
 *                            worker has none); the first message ends
 *                            both from inside the handler
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_kx.h"
#include "ngx_http_kx_io.h"


#define KX_IOTEST_MSG_MAX  256


typedef struct {
    ngx_http_request_t   *request;
    kx_pg_req_t          *pg;
    kx_pg_txn_t          *txn;
    kx_redis_cmd_t       *redis;

    ngx_str_t             tag;
    ngx_str_t             sleep;
    ngx_str_t             key;
    ngx_str_t             value;
    ngx_uint_t            rows;
    ngx_uint_t            row;
    ngx_uint_t            fail;
    ngx_uint_t            slept;
    ngx_uint_t            size;
} ngx_http_kx_iotest_ctx_t;


/* the one subscription of this worker (test state, per process) */
typedef struct {
    kx_redis_sub_t       *sub;
    ngx_uint_t            subscribed;
    ngx_uint_t            subscribes;
    ngx_uint_t            losses;
    ngx_uint_t            messages;
    size_t                last_len;
    u_char                last[KX_IOTEST_MSG_MAX];
} ngx_http_kx_iotest_sub_t;


static char *ngx_http_kx_iotest(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static void ngx_http_kx_iotest_exit_process(ngx_cycle_t *cycle);

static ngx_int_t ngx_http_kx_iotest_ping(ngx_http_request_t *r);
static ngx_int_t ngx_http_kx_iotest_pg_select1(ngx_http_request_t *r);
static void ngx_http_kx_iotest_pg_select1_done(kx_pg_result_t *res,
    void *data);
static ngx_int_t ngx_http_kx_iotest_pg_sleep(ngx_http_request_t *r);
static void ngx_http_kx_iotest_pg_sleep_done(kx_pg_result_t *res,
    void *data);
static ngx_int_t ngx_http_kx_iotest_pg_txn(ngx_http_request_t *r);
static void ngx_http_kx_iotest_pg_txn_step(kx_pg_result_t *res,
    void *data);
static void ngx_http_kx_iotest_pg_txn_fail(ngx_http_kx_iotest_ctx_t *ctx,
    kx_pg_result_t *res);
static ngx_int_t ngx_http_kx_iotest_pg_pool(ngx_http_request_t *r);
static ngx_int_t ngx_http_kx_iotest_pg_big(ngx_http_request_t *r);
static void ngx_http_kx_iotest_pg_big_done(kx_pg_result_t *res, void *data);
static ngx_int_t ngx_http_kx_iotest_redis(ngx_http_request_t *r);
static void ngx_http_kx_iotest_redis_set(kx_redis_status_e status,
    redisReply *reply, void *data);
static void ngx_http_kx_iotest_redis_get(kx_redis_status_e status,
    redisReply *reply, void *data);
static ngx_int_t ngx_http_kx_iotest_redis_sub(ngx_http_request_t *r);
static void ngx_http_kx_iotest_redis_message(kx_redis_sub_event_e event,
    ngx_str_t *channel, ngx_str_t *message, void *data);
static ngx_int_t ngx_http_kx_iotest_redis_sub_pair(ngx_http_request_t *r);
static void ngx_http_kx_iotest_redis_pair_message(kx_redis_sub_event_e event,
    ngx_str_t *channel, ngx_str_t *message, void *data);

static ngx_http_kx_iotest_ctx_t *ngx_http_kx_iotest_ctx(
    ngx_http_request_t *r);
static void ngx_http_kx_iotest_cleanup(void *data);
static ngx_int_t ngx_http_kx_iotest_wait(ngx_http_request_t *r);
static void ngx_http_kx_iotest_finish(ngx_http_kx_iotest_ctx_t *ctx,
    ngx_int_t rc);
static ngx_int_t ngx_http_kx_iotest_arg(ngx_http_request_t *r, char *name,
    char *dflt, ngx_str_t *value);


static ngx_command_t  ngx_http_kx_iotest_commands[] = {

    { ngx_string("kx_iotest_ping"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_kx_iotest,
      0,
      0,
      ngx_http_kx_iotest_ping },

    { ngx_string("kx_iotest_pg_select1"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_kx_iotest,
      0,
      0,
      ngx_http_kx_iotest_pg_select1 },

    { ngx_string("kx_iotest_pg_sleep"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_kx_iotest,
      0,
      0,
      ngx_http_kx_iotest_pg_sleep },

    { ngx_string("kx_iotest_pg_txn"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_kx_iotest,
      0,
      0,
      ngx_http_kx_iotest_pg_txn },

    { ngx_string("kx_iotest_pg_pool"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_kx_iotest,
      0,
      0,
      ngx_http_kx_iotest_pg_pool },

    { ngx_string("kx_iotest_pg_big"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_kx_iotest,
      0,
      0,
      ngx_http_kx_iotest_pg_big },

    { ngx_string("kx_iotest_redis"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_kx_iotest,
      0,
      0,
      ngx_http_kx_iotest_redis },

    { ngx_string("kx_iotest_redis_sub"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_kx_iotest,
      0,
      0,
      ngx_http_kx_iotest_redis_sub },

    { ngx_string("kx_iotest_redis_sub_pair"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_kx_iotest,
      0,
      0,
      ngx_http_kx_iotest_redis_sub_pair },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_kx_iotest_module_ctx = {
    NULL,                                  /* preconfiguration */
    NULL,                                  /* postconfiguration */

    NULL,                                  /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    NULL,                                  /* create location configuration */
    NULL                                   /* merge location configuration */
};


ngx_module_t  ngx_http_kx_iotest_module = {
    NGX_MODULE_V1,
    &ngx_http_kx_iotest_module_ctx,        /* module context */
    ngx_http_kx_iotest_commands,           /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_kx_iotest_exit_process,       /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_http_kx_iotest_sub_t  *ngx_http_kx_iotest_sub;

/* two subscriptions to one channel, ended together (per process) */
static struct {
    kx_redis_sub_t       *sub[2];
    ngx_uint_t            subscribes;
    ngx_uint_t            messages;
    ngx_uint_t            ends;
} ngx_http_kx_iotest_pair;


static char *
ngx_http_kx_iotest(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = (ngx_http_handler_pt) cmd->post;

    return NGX_CONF_OK;
}


static void
ngx_http_kx_iotest_exit_process(ngx_cycle_t *cycle)
{
    /* the subscription itself goes with the Redis client */

    if (ngx_http_kx_iotest_sub) {
        ngx_free(ngx_http_kx_iotest_sub);
        ngx_http_kx_iotest_sub = NULL;
    }
}


static ngx_int_t
ngx_http_kx_iotest_ping(ngx_http_request_t *r)
{
    static u_char  pong[] = "{\"pong\":true}";

    return ngx_http_kx_send_json(r, NGX_HTTP_OK, pong, sizeof(pong) - 1);
}


/* SELECT $1::int */

static ngx_int_t
ngx_http_kx_iotest_pg_select1(ngx_http_request_t *r)
{
    ngx_str_t                  v;
    const char                *values[1];
    kx_pg_stmt_t               stmt;
    kx_pg_pool_t              *pool;
    ngx_http_kx_iotest_ctx_t  *ctx;

    pool = ngx_http_kx_io_pg(r);
    if (pool == NULL) {
        return ngx_http_kx_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                      "not_configured",
                                      "kx_pg_conninfo is not set");
    }

    if (ngx_http_kx_iotest_arg(r, "v", "1", &v) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx = ngx_http_kx_iotest_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    values[0] = (const char *) v.data;

    ngx_memzero(&stmt, sizeof(kx_pg_stmt_t));
    stmt.sql = "SELECT $1::int";
    stmt.nparams = 1;
    stmt.values = values;

    ctx->pg = kx_pg_query(pool, &stmt, ngx_http_kx_iotest_pg_select1_done,
                          ctx);
    if (ctx->pg == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_kx_iotest_wait(r);
}


static void
ngx_http_kx_iotest_pg_select1_done(kx_pg_result_t *res, void *data)
{
    ngx_http_kx_iotest_ctx_t *ctx = data;

    u_char              *p, *buf;
    ngx_int_t            rc;
    ngx_http_request_t  *r;

    ctx->pg = NULL;
    r = ctx->request;

    if (res->status != KX_PG_OK) {
        ngx_http_kx_iotest_finish(ctx, ngx_http_kx_io_pg_error(r, res));
        return;
    }

    buf = ngx_pnalloc(r->pool, 64);
    if (buf == NULL) {
        ngx_http_kx_iotest_finish(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    p = ngx_snprintf(buf, 64, "{\"value\":%s}", PQgetvalue(res->res, 0, 0));

    rc = ngx_http_kx_send_json(r, NGX_HTTP_OK, buf, p - buf);

    ngx_http_kx_iotest_finish(ctx, rc);
}


/* SELECT pg_sleep($1) */

static ngx_int_t
ngx_http_kx_iotest_pg_sleep(ngx_http_request_t *r)
{
    ngx_str_t                  s, t;
    ngx_int_t                  ms;
    const char                *values[1];
    kx_pg_stmt_t               stmt;
    kx_pg_pool_t              *pool;
    ngx_http_kx_iotest_ctx_t  *ctx;

    pool = ngx_http_kx_io_pg(r);
    if (pool == NULL) {
        return ngx_http_kx_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                      "not_configured",
                                      "kx_pg_conninfo is not set");
    }

    if (ngx_http_kx_iotest_arg(r, "s", "1", &s) != NGX_OK
        || ngx_http_kx_iotest_arg(r, "t", "0", &t) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ms = ngx_atoi(t.data, t.len);
    if (ms == NGX_ERROR) {
        return ngx_http_kx_send_error(r, NGX_HTTP_BAD_REQUEST, NULL,
                                      "t must be milliseconds");
    }

    ctx = ngx_http_kx_iotest_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->sleep = s;
    values[0] = (const char *) s.data;

    ngx_memzero(&stmt, sizeof(kx_pg_stmt_t));
    stmt.sql = "SELECT pg_sleep($1::float8)";
    stmt.nparams = 1;
    stmt.values = values;
    stmt.timeout = (ngx_msec_t) ms;

    ctx->pg = kx_pg_query(pool, &stmt, ngx_http_kx_iotest_pg_sleep_done, ctx);
    if (ctx->pg == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_kx_iotest_wait(r);
}


static void
ngx_http_kx_iotest_pg_sleep_done(kx_pg_result_t *res, void *data)
{
    ngx_http_kx_iotest_ctx_t *ctx = data;

    u_char              *p, *buf;
    size_t               len;
    ngx_int_t            rc;
    ngx_http_request_t  *r;

    ctx->pg = NULL;
    r = ctx->request;

    if (res->status != KX_PG_OK) {
        ngx_http_kx_iotest_finish(ctx, ngx_http_kx_io_pg_error(r, res));
        return;
    }

    len = sizeof("{\"slept\":\"\"}") + 6 * ctx->sleep.len;

    buf = ngx_pnalloc(r->pool, len);
    if (buf == NULL) {
        ngx_http_kx_iotest_finish(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    p = ngx_cpymem(buf, "{\"slept\":\"", sizeof("{\"slept\":\"") - 1);
    p = (u_char *) ngx_escape_json(p, ctx->sleep.data, ctx->sleep.len);
    p = ngx_cpymem(p, "\"}", 2);

    rc = ngx_http_kx_send_json(r, NGX_HTTP_OK, buf, p - buf);

    ngx_http_kx_iotest_finish(ctx, rc);
}


/* BEGIN; INSERT ...; [SELECT pg_sleep()]; ... COMMIT */

static ngx_int_t
ngx_http_kx_iotest_pg_txn(ngx_http_request_t *r)
{
    ngx_str_t                  n, fail;
    ngx_int_t                  rows;
    kx_pg_pool_t              *pool;
    ngx_http_kx_iotest_ctx_t  *ctx;

    pool = ngx_http_kx_io_pg(r);
    if (pool == NULL) {
        return ngx_http_kx_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                      "not_configured",
                                      "kx_pg_conninfo is not set");
    }

    ctx = ngx_http_kx_iotest_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_kx_iotest_arg(r, "tag", "txn", &ctx->tag) != NGX_OK
        || ngx_http_kx_iotest_arg(r, "n", "3", &n) != NGX_OK
        || ngx_http_kx_iotest_arg(r, "sleep", "", &ctx->sleep) != NGX_OK
        || ngx_http_kx_iotest_arg(r, "fail", "0", &fail) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rows = ngx_atoi(n.data, n.len);
    if (rows == NGX_ERROR || rows > 1000) {
        return ngx_http_kx_send_error(r, NGX_HTTP_BAD_REQUEST, NULL,
                                      "n must be 0..1000");
    }

    ctx->rows = rows;
    ctx->fail = (fail.len == 1 && fail.data[0] == '1');

    ctx->pg = kx_pg_txn_begin(pool, ngx_http_kx_iotest_pg_txn_step, ctx);
    if (ctx->pg == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_kx_iotest_wait(r);
}


/* one handler for every step: the state is in ctx */

static void
ngx_http_kx_iotest_pg_txn_step(kx_pg_result_t *res, void *data)
{
    ngx_http_kx_iotest_ctx_t *ctx = data;

    u_char              *p, *buf;
    ngx_int_t            rc;
    const char          *values[2];
    kx_pg_stmt_t         stmt;
    ngx_http_request_t  *r;
    u_char               num[NGX_INT_T_LEN + 1];

    ctx->pg = NULL;
    r = ctx->request;

    if (res->txn) {
        ctx->txn = res->txn;     /* BEGIN done */
    }

    if (res->status != KX_PG_OK) {
        ngx_http_kx_iotest_pg_txn_fail(ctx, res);
        return;
    }

    if (ctx->txn == NULL) {
        /* COMMIT done: the pool ended the transaction */
        buf = ngx_pnalloc(r->pool, 64);
        if (buf == NULL) {
            ngx_http_kx_iotest_finish(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        p = ngx_snprintf(buf, 64, "{\"committed\":true,\"rows\":%ui}",
                         ctx->rows);

        rc = ngx_http_kx_send_json(r, NGX_HTTP_OK, buf, p - buf);

        ngx_http_kx_iotest_finish(ctx, rc);
        return;
    }

    ngx_memzero(&stmt, sizeof(kx_pg_stmt_t));

    if (ctx->sleep.len && ctx->row > 0 && ctx->slept < ctx->row) {
        /* a pause between two rows, to kill the server in */
        ctx->slept = ctx->row;

        values[0] = (const char *) ctx->sleep.data;
        stmt.sql = "SELECT pg_sleep($1::float8)";
        stmt.nparams = 1;
        stmt.values = values;

        ctx->pg = kx_pg_txn_query(ctx->txn, &stmt,
                                  ngx_http_kx_iotest_pg_txn_step, ctx);

    } else if (ctx->row < ctx->rows) {
        p = ngx_sprintf(num, "%ui", ctx->row++);
        *p = '\0';

        values[0] = (const char *) ctx->tag.data;
        values[1] = (const char *) num;
        stmt.sql = "INSERT INTO public.kx_iotest_txn (tag, i) "
                   "VALUES ($1, $2::int)";
        stmt.nparams = 2;
        stmt.values = values;

        ctx->pg = kx_pg_txn_query(ctx->txn, &stmt,
                                  ngx_http_kx_iotest_pg_txn_step, ctx);

    } else if (ctx->fail) {
        ctx->fail = 0;
        stmt.sql = "SELECT 1 / 0";

        ctx->pg = kx_pg_txn_query(ctx->txn, &stmt,
                                  ngx_http_kx_iotest_pg_txn_step, ctx);

    } else {
        ctx->pg = kx_pg_txn_commit(ctx->txn, ngx_http_kx_iotest_pg_txn_step,
                                   ctx);

        /* the transaction ends with COMMIT, whatever its outcome */
        ctx->txn = NULL;
    }

    if (ctx->pg == NULL) {
        if (ctx->txn) {
            kx_pg_txn_rollback(ctx->txn);
            ctx->txn = NULL;
        }

        ngx_http_kx_iotest_finish(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
    }
}


static void
ngx_http_kx_iotest_pg_txn_fail(ngx_http_kx_iotest_ctx_t *ctx,
    kx_pg_result_t *res)
{
    if (ctx->txn) {
        kx_pg_txn_rollback(ctx->txn);
        ctx->txn = NULL;
    }

    ngx_http_kx_iotest_finish(ctx,
                              ngx_http_kx_io_pg_error(ctx->request, res));
}


static ngx_int_t
ngx_http_kx_iotest_pg_pool(ngx_http_request_t *r)
{
    u_char         *p, *buf;
    size_t          len;
    kx_pg_pool_t   *pool;
    kx_pg_stats_t   st;

    pool = ngx_http_kx_io_pg(r);
    if (pool == NULL) {
        return ngx_http_kx_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                      "not_configured",
                                      "kx_pg_conninfo is not set");
    }

    kx_pg_pool_stats(pool, &st);

    len = 512;

    buf = ngx_pnalloc(r->pool, len);
    if (buf == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_snprintf(buf, len,
                     "{\"size\":%ui,\"total\":%ui,\"connecting\":%ui,"
                     "\"idle\":%ui,\"busy\":%ui,\"waiting\":%ui,"
                     "\"max_seen_busy\":%ui,\"max_seen_total\":%ui,"
                     "\"available\":%s,\"queries\":%ui,\"errors\":%ui,"
                     "\"timeouts\":%ui,\"rejected\":%ui,\"lost\":%ui,"
                     "\"connects\":%ui,\"connect_failures\":%ui,"
                     "\"pid\":%P}",
                     st.size, st.total, st.connecting, st.idle, st.busy,
                     st.waiting, st.max_seen_busy, st.max_seen_total,
                     st.available ? "true" : "false", st.queries, st.errors,
                     st.timeouts, st.rejected, st.lost, st.connects,
                     st.connect_failures, ngx_pid);

    return ngx_http_kx_send_json(r, NGX_HTTP_OK, buf, p - buf);
}


/* SELECT repeat('x', $1::int): megabytes in one reply */

static ngx_int_t
ngx_http_kx_iotest_pg_big(ngx_http_request_t *r)
{
    ngx_str_t                  n;
    const char                *values[1];
    kx_pg_stmt_t               stmt;
    kx_pg_pool_t              *pool;
    ngx_http_kx_iotest_ctx_t  *ctx;

    pool = ngx_http_kx_io_pg(r);
    if (pool == NULL) {
        return ngx_http_kx_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                      "not_configured",
                                      "kx_pg_conninfo is not set");
    }

    if (ngx_http_kx_iotest_arg(r, "n", "1048576", &n) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx = ngx_http_kx_iotest_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    values[0] = (const char *) n.data;

    ngx_memzero(&stmt, sizeof(kx_pg_stmt_t));
    stmt.sql = "SELECT repeat('x', $1::int)";
    stmt.nparams = 1;
    stmt.values = values;

    ctx->pg = kx_pg_query(pool, &stmt, ngx_http_kx_iotest_pg_big_done, ctx);
    if (ctx->pg == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_kx_iotest_wait(r);
}


static void
ngx_http_kx_iotest_pg_big_done(kx_pg_result_t *res, void *data)
{
    ngx_http_kx_iotest_ctx_t *ctx = data;

    u_char              *p, *v, *buf;
    ngx_int_t            rc;
    ngx_uint_t           i, len, ok;
    ngx_http_request_t  *r;

    ctx->pg = NULL;
    r = ctx->request;

    if (res->status != KX_PG_OK) {
        ngx_http_kx_iotest_finish(ctx, ngx_http_kx_io_pg_error(r, res));
        return;
    }

    v = (u_char *) PQgetvalue(res->res, 0, 0);
    len = PQgetlength(res->res, 0, 0);

    for (ok = 1, i = 0; i < len; i++) {
        ok = ok && v[i] == 'x';
    }

    buf = ngx_pnalloc(r->pool, 64);
    if (buf == NULL) {
        ngx_http_kx_iotest_finish(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    p = ngx_snprintf(buf, 64, "{\"length\":%ui,\"intact\":%s}", len,
                     ok ? "true" : "false");

    rc = ngx_http_kx_send_json(r, NGX_HTTP_OK, buf, p - buf);

    ngx_http_kx_iotest_finish(ctx, rc);
}


/* SET key value; GET key */

static ngx_int_t
ngx_http_kx_iotest_redis(ngx_http_request_t *r)
{
    ngx_str_t                  args[3], size;
    ngx_int_t                  n;
    ngx_uint_t                 i;
    kx_redis_t                *rd;
    ngx_http_kx_iotest_ctx_t  *ctx;

    rd = ngx_http_kx_io_redis(r);
    if (rd == NULL) {
        return ngx_http_kx_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                      "not_configured",
                                      "kx_redis_addr is not set");
    }

    ctx = ngx_http_kx_iotest_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_kx_iotest_arg(r, "key", "kx:iotest", &ctx->key) != NGX_OK
        || ngx_http_kx_iotest_arg(r, "value", "v", &ctx->value) != NGX_OK
        || ngx_http_kx_iotest_arg(r, "size", "0", &size) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    n = ngx_atoi(size.data, size.len);
    if (n == NGX_ERROR || n > 64 * 1024 * 1024) {
        return ngx_http_kx_send_error(r, NGX_HTTP_BAD_REQUEST, NULL,
                                      "size must be 0..64M");
    }

    if (n) {
        /* a value no single read returns whole: "0123456789012..." */
        ctx->size = n;
        ctx->value.len = n;
        ctx->value.data = ngx_pnalloc(r->pool, n);
        if (ctx->value.data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        for (i = 0; i < (ngx_uint_t) n; i++) {
            ctx->value.data[i] = (u_char) ('0' + i % 10);
        }
    }

    ngx_str_set(&args[0], "SET");
    args[1] = ctx->key;
    args[2] = ctx->value;

    ctx->redis = kx_redis_command(rd, args, 3, 0,
                                  ngx_http_kx_iotest_redis_set, ctx);
    if (ctx->redis == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_kx_iotest_wait(r);
}


static void
ngx_http_kx_iotest_redis_set(kx_redis_status_e status, redisReply *reply,
    void *data)
{
    ngx_http_kx_iotest_ctx_t *ctx = data;

    ngx_str_t            args[2];
    kx_redis_t          *rd;
    ngx_http_request_t  *r;

    ctx->redis = NULL;
    r = ctx->request;

    if (status != KX_REDIS_OK) {
        ngx_http_kx_iotest_finish(ctx,
                               ngx_http_kx_io_redis_error(r, status, reply));
        return;
    }

    rd = ngx_http_kx_io_redis(r);

    ngx_str_set(&args[0], "GET");
    args[1] = ctx->key;

    ctx->redis = kx_redis_command(rd, args, 2, 0,
                                  ngx_http_kx_iotest_redis_get, ctx);
    if (ctx->redis == NULL) {
        ngx_http_kx_iotest_finish(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
    }
}


static void
ngx_http_kx_iotest_redis_get(kx_redis_status_e status, redisReply *reply,
    void *data)
{
    ngx_http_kx_iotest_ctx_t *ctx = data;

    u_char              *p, *buf;
    size_t               len;
    ngx_int_t            rc;
    ngx_http_request_t  *r;

    ctx->redis = NULL;
    r = ctx->request;

    if (status != KX_REDIS_OK) {
        ngx_http_kx_iotest_finish(ctx,
                               ngx_http_kx_io_redis_error(r, status, reply));
        return;
    }

    if (reply->type != REDIS_REPLY_STRING) {
        ngx_http_kx_iotest_finish(ctx,
                      ngx_http_kx_send_error(r, NGX_HTTP_BAD_GATEWAY, NULL,
                                             "unexpected reply type"));
        return;
    }

    if (ctx->size) {
        buf = ngx_pnalloc(r->pool, 64);
        if (buf == NULL) {
            ngx_http_kx_iotest_finish(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        p = ngx_snprintf(buf, 64, "{\"length\":%uz,\"intact\":%s}",
                         (size_t) reply->len,
                         (size_t) reply->len == ctx->value.len
                         && ngx_memcmp(reply->str, ctx->value.data,
                                       ctx->value.len) == 0
                         ? "true" : "false");

        ngx_http_kx_iotest_finish(ctx,
                              ngx_http_kx_send_json(r, NGX_HTTP_OK, buf,
                                                    p - buf));
        return;
    }

    len = sizeof("{\"value\":\"\"}") + 6 * reply->len;

    buf = ngx_pnalloc(r->pool, len);
    if (buf == NULL) {
        ngx_http_kx_iotest_finish(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    p = ngx_cpymem(buf, "{\"value\":\"", sizeof("{\"value\":\"") - 1);
    p = (u_char *) ngx_escape_json(p, (u_char *) reply->str, reply->len);
    p = ngx_cpymem(p, "\"}", 2);

    rc = ngx_http_kx_send_json(r, NGX_HTTP_OK, buf, p - buf);

    ngx_http_kx_iotest_finish(ctx, rc);
}


/* one subscription per worker, reported on every request */

static ngx_int_t
ngx_http_kx_iotest_redis_sub(ngx_http_request_t *r)
{
    u_char                    *p, *buf;
    size_t                     len;
    ngx_str_t                  channel;
    kx_redis_t                *rd;
    ngx_http_kx_iotest_sub_t  *s;

    rd = ngx_http_kx_io_redis(r);
    if (rd == NULL) {
        return ngx_http_kx_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                      "not_configured",
                                      "kx_redis_addr is not set");
    }

    if (ngx_http_kx_iotest_arg(r, "channel", "kx:iotest", &channel)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    s = ngx_http_kx_iotest_sub;

    if (s == NULL) {
        s = ngx_calloc(sizeof(ngx_http_kx_iotest_sub_t), r->connection->log);
        if (s == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        s->sub = kx_redis_subscribe(rd, &channel, 0,
                                    ngx_http_kx_iotest_redis_message, s);
        if (s->sub == NULL) {
            ngx_free(s);
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_http_kx_iotest_sub = s;
    }

    len = sizeof("{\"subscribed\":false,\"subscribes\":,\"losses\":,"
                 "\"messages\":,\"last\":\"\"}")
          + 3 * NGX_INT_T_LEN + 6 * s->last_len;

    buf = ngx_pnalloc(r->pool, len);
    if (buf == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_sprintf(buf, "{\"subscribed\":%s,\"subscribes\":%ui,"
                    "\"losses\":%ui,\"messages\":%ui,\"last\":\"",
                    s->subscribed ? "true" : "false", s->subscribes,
                    s->losses, s->messages);
    p = (u_char *) ngx_escape_json(p, s->last, s->last_len);
    p = ngx_cpymem(p, "\"}", 2);

    return ngx_http_kx_send_json(r, NGX_HTTP_OK, buf, p - buf);
}


static void
ngx_http_kx_iotest_redis_message(kx_redis_sub_event_e event,
    ngx_str_t *channel, ngx_str_t *message, void *data)
{
    ngx_http_kx_iotest_sub_t *s = data;

    switch (event) {

    case KX_REDIS_SUB_SUBSCRIBED:
        s->subscribed = 1;
        s->subscribes++;
        break;

    case KX_REDIS_SUB_LOST:
        s->subscribed = 0;
        s->losses++;
        break;

    default:
        s->messages++;
        s->last_len = ngx_min(message->len, KX_IOTEST_MSG_MAX);
        ngx_memcpy(s->last, message->data, s->last_len);
        break;
    }
}


/*
 * Two subscriptions of one client to one channel, both ended by the
 * first message's handler: inside the dispatch, so both wait for the
 * sweep, which must send one UNSUBSCRIBE, not two (hiredis 0.14 aborts
 * on the second confirmation when the first left subscribed mode).
 */

static ngx_int_t
ngx_http_kx_iotest_redis_sub_pair(ngx_http_request_t *r)
{
    u_char      *buf, *p;
    ngx_str_t    channel;
    ngx_uint_t   i;
    kx_redis_t  *rd;

    rd = ngx_http_kx_io_redis(r);
    if (rd == NULL) {
        return ngx_http_kx_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                      "not_configured",
                                      "kx_redis_addr is not set");
    }

    if (ngx_http_kx_iotest_arg(r, "channel", "kx:iotest:pair", &channel)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_kx_iotest_pair.sub[0] == NULL) {
        for (i = 0; i < 2; i++) {
            ngx_http_kx_iotest_pair.sub[i] = kx_redis_subscribe(rd, &channel,
                                    0, ngx_http_kx_iotest_redis_pair_message,
                                    NULL);
            if (ngx_http_kx_iotest_pair.sub[i] == NULL) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }
        }
    }

    buf = ngx_pnalloc(r->pool, 3 * NGX_INT_T_LEN + 64);
    if (buf == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_sprintf(buf, "{\"subscribes\":%ui,\"messages\":%ui,"
                    "\"ends\":%ui}", ngx_http_kx_iotest_pair.subscribes,
                    ngx_http_kx_iotest_pair.messages,
                    ngx_http_kx_iotest_pair.ends);

    return ngx_http_kx_send_json(r, NGX_HTTP_OK, buf, p - buf);
}


static void
ngx_http_kx_iotest_redis_pair_message(kx_redis_sub_event_e event,
    ngx_str_t *channel, ngx_str_t *message, void *data)
{
    ngx_uint_t  i;

    if (event == KX_REDIS_SUB_SUBSCRIBED) {
        ngx_http_kx_iotest_pair.subscribes++;
        return;
    }

    if (event != KX_REDIS_SUB_MESSAGE) {
        return;
    }

    ngx_http_kx_iotest_pair.messages++;

    if (ngx_http_kx_iotest_pair.sub[0] == NULL) {
        return;
    }

    for (i = 0; i < 2; i++) {
        kx_redis_unsubscribe(ngx_http_kx_iotest_pair.sub[i]);
        ngx_http_kx_iotest_pair.sub[i] = NULL;
    }

    ngx_http_kx_iotest_pair.ends++;
}


/* waiting requests */

static ngx_http_kx_iotest_ctx_t *
ngx_http_kx_iotest_ctx(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t        *cln;
    ngx_http_kx_iotest_ctx_t  *ctx;

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_kx_iotest_ctx_t));
    if (ctx == NULL) {
        return NULL;
    }

    ctx->request = r;

    /* the request may go first (client gone): then nothing may call back */
    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    cln->handler = ngx_http_kx_iotest_cleanup;
    cln->data = ctx;

    return ctx;
}


static void
ngx_http_kx_iotest_cleanup(void *data)
{
    ngx_http_kx_iotest_ctx_t *ctx = data;

    if (ctx->txn) {
        /* cancels its pending statement too */
        kx_pg_txn_rollback(ctx->txn);
        ctx->txn = NULL;
        ctx->pg = NULL;
    }

    if (ctx->pg) {
        kx_pg_cancel(ctx->pg);
        ctx->pg = NULL;
    }

    if (ctx->redis) {
        kx_redis_cancel(ctx->redis);
        ctx->redis = NULL;
    }
}


static ngx_int_t
ngx_http_kx_iotest_wait(ngx_http_request_t *r)
{
    r->main->count++;

    /* notice a client that goes away while we wait */
    r->read_event_handler = ngx_http_test_reading;

    return NGX_DONE;
}


static void
ngx_http_kx_iotest_finish(ngx_http_kx_iotest_ctx_t *ctx, ngx_int_t rc)
{
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = ctx->request;
    c = r->connection;

    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(c);
}


/* a query argument, NUL-terminated, or dflt */

static ngx_int_t
ngx_http_kx_iotest_arg(ngx_http_request_t *r, char *name, char *dflt,
    ngx_str_t *value)
{
    u_char     *p, *dst, *src;
    ngx_str_t   raw;

    if (ngx_http_arg(r, (u_char *) name, ngx_strlen(name), &raw) != NGX_OK) {
        raw.data = (u_char *) dflt;
        raw.len = ngx_strlen(dflt);
    }

    p = ngx_pnalloc(r->pool, raw.len + 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    dst = p;
    src = raw.data;
    ngx_unescape_uri(&dst, &src, raw.len, NGX_UNESCAPE_URI);
    *dst = '\0';

    value->data = p;
    value->len = dst - p;

    return NGX_OK;
}
