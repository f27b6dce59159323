
/*
 * Copyright (C) Kianax
 *
 * Where the services find PostgreSQL and Redis: the directives, one pool
 * and one Redis client per worker (modules/io/), their health checks for
 * GET /health, and the accessors other modules use.  Its exit_process
 * closes every shared client of the worker, the HTTP one (kx_http.h,
 * started on first use) included.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_kx.h"
#include "ngx_http_kx_io.h"
#include "kx_http.h"


#define KX_IO_DETAIL_MAX  100


typedef struct {
    ngx_uint_t           pg_enabled;
    kx_pg_conf_t         pg;

    ngx_uint_t           redis_enabled;
    kx_redis_conf_t      redis;

    ngx_uint_t           http_set;
    kx_http_conf_t       http;

    /* per worker, from init_process to exit_process */
    kx_pg_pool_t        *pg_pool;
    kx_redis_t          *redis_client;
} ngx_http_kx_io_main_conf_t;


typedef struct {
    ngx_http_kx_health_done_pt   done;
    void                        *data;
} ngx_http_kx_io_check_t;


static void *ngx_http_kx_io_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_kx_io_init_main_conf(ngx_conf_t *cf, void *conf);
static ngx_int_t ngx_http_kx_io_init(ngx_conf_t *cf);
static ngx_int_t ngx_http_kx_io_init_process(ngx_cycle_t *cycle);
static void ngx_http_kx_io_exit_process(ngx_cycle_t *cycle);

static char *ngx_http_kx_io_pg_conninfo(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_kx_io_redis_addr(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_kx_io_backoff(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_kx_io_http_client(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

static void ngx_http_kx_io_pg_check(void *check_data, ngx_log_t *log,
    ngx_msec_t timeout, ngx_http_kx_health_done_pt done, void *data);
static void ngx_http_kx_io_pg_checked(kx_pg_result_t *res, void *data);
static void ngx_http_kx_io_redis_check(void *check_data, ngx_log_t *log,
    ngx_msec_t timeout, ngx_http_kx_health_done_pt done, void *data);
static void ngx_http_kx_io_redis_checked(kx_redis_status_e status,
    redisReply *reply, void *data);
static ngx_int_t ngx_http_kx_io_send_error(ngx_http_request_t *r,
    ngx_uint_t status, const char *code, const char *message);


static ngx_conf_num_bounds_t  ngx_http_kx_io_pool_size_bounds = {
    ngx_conf_check_num_bounds, 1, 1024
};

static ngx_conf_num_bounds_t  ngx_http_kx_io_queue_size_bounds = {
    ngx_conf_check_num_bounds, 0, 1000000
};

static ngx_conf_num_bounds_t  ngx_http_kx_io_db_bounds = {
    ngx_conf_check_num_bounds, 0, 65535
};


static ngx_command_t  ngx_http_kx_io_commands[] = {

    { ngx_string("kx_http_client"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_kx_io_http_client,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("kx_pg_conninfo"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_kx_io_pg_conninfo,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("kx_pg_pool_size"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_kx_io_main_conf_t, pg.size),
      &ngx_http_kx_io_pool_size_bounds },

    { ngx_string("kx_pg_queue_size"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_kx_io_main_conf_t, pg.queue_size),
      &ngx_http_kx_io_queue_size_bounds },

    { ngx_string("kx_pg_queue_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_kx_io_main_conf_t, pg.queue_timeout),
      NULL },

    { ngx_string("kx_pg_connect_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_kx_io_main_conf_t, pg.connect_timeout),
      NULL },

    { ngx_string("kx_pg_query_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_kx_io_main_conf_t, pg.query_timeout),
      NULL },

    { ngx_string("kx_pg_backoff"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE2,
      ngx_http_kx_io_backoff,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_kx_io_main_conf_t, pg.backoff_min),
      NULL },

    { ngx_string("kx_redis_addr"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_kx_io_redis_addr,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("kx_redis_password"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_kx_io_main_conf_t, redis.password),
      NULL },

    { ngx_string("kx_redis_db"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_kx_io_main_conf_t, redis.db),
      &ngx_http_kx_io_db_bounds },

    { ngx_string("kx_redis_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_kx_io_main_conf_t, redis.timeout),
      NULL },

    { ngx_string("kx_redis_connect_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_kx_io_main_conf_t, redis.connect_timeout),
      NULL },

    { ngx_string("kx_redis_backoff"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE2,
      ngx_http_kx_io_backoff,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_kx_io_main_conf_t, redis.backoff_min),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_kx_io_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_http_kx_io_init,                   /* postconfiguration */

    ngx_http_kx_io_create_main_conf,       /* create main configuration */
    ngx_http_kx_io_init_main_conf,         /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    NULL,                                  /* create location configuration */
    NULL                                   /* merge location configuration */
};


ngx_module_t  ngx_http_kx_io_module = {
    NGX_MODULE_V1,
    &ngx_http_kx_io_module_ctx,            /* module context */
    ngx_http_kx_io_commands,               /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_kx_io_init_process,           /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_kx_io_exit_process,           /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


/* accessors */

kx_pg_pool_t *
ngx_http_kx_io_pg(ngx_http_request_t *r)
{
    ngx_http_kx_io_main_conf_t  *imcf;

    imcf = ngx_http_get_module_main_conf(r, ngx_http_kx_io_module);

    return imcf->pg_pool;
}


kx_redis_t *
ngx_http_kx_io_redis(ngx_http_request_t *r)
{
    ngx_http_kx_io_main_conf_t  *imcf;

    imcf = ngx_http_get_module_main_conf(r, ngx_http_kx_io_module);

    return imcf->redis_client;
}


kx_pg_pool_t *
ngx_http_kx_io_pg_cycle(ngx_cycle_t *cycle)
{
    ngx_http_kx_io_main_conf_t  *imcf;

    imcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_kx_io_module);

    return imcf ? imcf->pg_pool : NULL;
}


kx_redis_t *
ngx_http_kx_io_redis_cycle(ngx_cycle_t *cycle)
{
    ngx_http_kx_io_main_conf_t  *imcf;

    imcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_kx_io_module);

    return imcf ? imcf->redis_client : NULL;
}


kx_pg_conf_t *
ngx_http_kx_io_pg_conf(ngx_cycle_t *cycle)
{
    ngx_http_kx_io_main_conf_t  *imcf;

    imcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_kx_io_module);

    return imcf && imcf->pg_enabled ? &imcf->pg : NULL;
}


kx_redis_conf_t *
ngx_http_kx_io_redis_conf(ngx_cycle_t *cycle)
{
    ngx_http_kx_io_main_conf_t  *imcf;

    imcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_kx_io_module);

    return imcf && imcf->redis_enabled ? &imcf->redis : NULL;
}


/* errors */

ngx_int_t
ngx_http_kx_io_pg_error(ngx_http_request_t *r, kx_pg_result_t *res)
{
    switch (res->status) {

    case KX_PG_TIMEOUT:
        return ngx_http_kx_io_send_error(r, NGX_HTTP_GATEWAY_TIME_OUT,
                                         "database_timeout",
                                         "the database did not answer "
                                         "in time");

    case KX_PG_UNAVAILABLE:
        return ngx_http_kx_io_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                         "database_unavailable",
                                         "the database is unavailable");

    case KX_PG_BUSY:
        return ngx_http_kx_io_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                         "database_busy",
                                         "the database is busy");

    case KX_PG_CONN_LOST:
        return ngx_http_kx_io_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                         "database_connection_lost",
                                         "the connection to the database "
                                         "was lost");

    default:
        /* the details are for the log, not for clients */
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "postgres error %s: %s", res->sqlstate, res->error);

        return ngx_http_kx_io_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                         "database_error",
                                         "the database rejected "
                                         "the request");
    }
}


ngx_int_t
ngx_http_kx_io_redis_error(ngx_http_request_t *r, kx_redis_status_e status,
    redisReply *reply)
{
    switch (status) {

    case KX_REDIS_TIMEOUT:
        return ngx_http_kx_io_send_error(r, NGX_HTTP_GATEWAY_TIME_OUT,
                                         "redis_timeout",
                                         "redis did not answer in time");

    case KX_REDIS_UNAVAILABLE:
        return ngx_http_kx_io_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                         "redis_unavailable",
                                         "redis is unavailable");

    case KX_REDIS_CONN_LOST:
        return ngx_http_kx_io_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                         "redis_connection_lost",
                                         "the connection to redis "
                                         "was lost");

    default:
        if (reply && reply->type == REDIS_REPLY_ERROR) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "redis error: %*s", (size_t) reply->len,
                          reply->str);
        }

        return ngx_http_kx_io_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                         "redis_error",
                                         "redis rejected the request");
    }
}


static ngx_int_t
ngx_http_kx_io_send_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, const char *message)
{
    static ngx_str_t  one = ngx_string("1");

    if (status == NGX_HTTP_SERVICE_UNAVAILABLE
        && ngx_http_kx_add_header(r, "Retry-After", &one) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_kx_send_error(r, status, code, message);
}


/* health checks */

static void
ngx_http_kx_io_pg_check(void *check_data, ngx_log_t *log, ngx_msec_t timeout,
    ngx_http_kx_health_done_pt done, void *data)
{
    ngx_http_kx_io_main_conf_t *imcf = check_data;

    kx_pg_stmt_t             stmt;
    ngx_http_kx_io_check_t  *chk;

    if (imcf->pg_pool == NULL) {
        done(data, 0, "not running in this process");
        return;
    }

    chk = ngx_alloc(sizeof(ngx_http_kx_io_check_t), log);
    if (chk == NULL) {
        done(data, 0, "out of memory");
        return;
    }

    chk->done = done;
    chk->data = data;

    ngx_memzero(&stmt, sizeof(kx_pg_stmt_t));
    stmt.sql = "SELECT 1";
    stmt.timeout = timeout;

    if (kx_pg_query(imcf->pg_pool, &stmt, ngx_http_kx_io_pg_checked, chk)
        == NULL)
    {
        ngx_free(chk);
        done(data, 0, "out of memory");
    }
}


static void
ngx_http_kx_io_pg_checked(kx_pg_result_t *res, void *data)
{
    ngx_http_kx_io_check_t *chk = data;

    u_char                      *p;
    void                        *done_data;
    ngx_http_kx_health_done_pt   done;
    u_char                       detail[KX_IO_DETAIL_MAX];

    done = chk->done;
    done_data = chk->data;
    ngx_free(chk);

    if (res->status == KX_PG_OK) {
        done(done_data, 1, NULL);
        return;
    }

    p = ngx_snprintf(detail, KX_IO_DETAIL_MAX - 1, "%s: %s",
                     kx_pg_status_text(res->status), res->error);
    *p = '\0';

    done(done_data, 0, (const char *) detail);
}


static void
ngx_http_kx_io_redis_check(void *check_data, ngx_log_t *log,
    ngx_msec_t timeout, ngx_http_kx_health_done_pt done, void *data)
{
    ngx_http_kx_io_main_conf_t *imcf = check_data;

    ngx_str_t                ping = ngx_string("PING");
    ngx_http_kx_io_check_t  *chk;

    if (imcf->redis_client == NULL) {
        done(data, 0, "not running in this process");
        return;
    }

    chk = ngx_alloc(sizeof(ngx_http_kx_io_check_t), log);
    if (chk == NULL) {
        done(data, 0, "out of memory");
        return;
    }

    chk->done = done;
    chk->data = data;

    if (kx_redis_command(imcf->redis_client, &ping, 1, timeout,
                         ngx_http_kx_io_redis_checked, chk)
        == NULL)
    {
        ngx_free(chk);
        done(data, 0, "out of memory");
    }
}


static void
ngx_http_kx_io_redis_checked(kx_redis_status_e status, redisReply *reply,
    void *data)
{
    ngx_http_kx_io_check_t *chk = data;

    void                        *done_data;
    ngx_http_kx_health_done_pt   done;

    done = chk->done;
    done_data = chk->data;
    ngx_free(chk);

    if (status == KX_REDIS_OK) {
        done(done_data, 1, NULL);
        return;
    }

    done(done_data, 0, status == KX_REDIS_ERROR && reply
                       ? reply->str : kx_redis_status_text(status));
}


/* configuration */

static char *
ngx_http_kx_io_pg_conninfo(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_kx_io_main_conf_t *imcf = conf;

    ngx_str_t  *value;

    if (imcf->pg_enabled) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (kx_pg_conf_conninfo(cf, &value[1], &imcf->pg) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    imcf->pg_enabled = 1;

    return NGX_CONF_OK;
}


static char *
ngx_http_kx_io_redis_addr(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_kx_io_main_conf_t *imcf = conf;

    ngx_str_t  *value;

    if (imcf->redis_enabled) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (kx_redis_conf_addr(cf, &value[1], &imcf->redis) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    imcf->redis_enabled = 1;

    return NGX_CONF_OK;
}


/* kx_pg_backoff / kx_redis_backoff <min> <max>: two msec in a row */

static char *
ngx_http_kx_io_backoff(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    ngx_str_t   *value;
    ngx_msec_t  *b, min, max;

    b = (ngx_msec_t *) (p + cmd->offset);

    if (b[0] != NGX_CONF_UNSET_MSEC) {
        return "is duplicate";
    }

    value = cf->args->elts;

    min = ngx_parse_time(&value[1], 0);
    max = ngx_parse_time(&value[2], 0);

    if (min == (ngx_msec_t) NGX_ERROR || max == (ngx_msec_t) NGX_ERROR
        || min == 0 || max < min)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid backoff \"%V %V\"", &value[1],
                           &value[2]);
        return NGX_CONF_ERROR;
    }

    b[0] = min;
    b[1] = max;

    return NGX_CONF_OK;
}


static void *
ngx_http_kx_io_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_kx_io_main_conf_t  *imcf;

    imcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_kx_io_main_conf_t));
    if (imcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     imcf->pg_enabled = 0;
     *     imcf->pg.keywords = NULL;
     *     imcf->pg.values = NULL;
     *     imcf->redis_enabled = 0;
     *     imcf->redis.password = { 0, NULL };
     *     imcf->pg_pool = NULL;
     *     imcf->redis_client = NULL;
     */

    imcf->pg.size = NGX_CONF_UNSET_UINT;
    imcf->pg.queue_size = NGX_CONF_UNSET_UINT;
    imcf->pg.queue_timeout = NGX_CONF_UNSET_MSEC;
    imcf->pg.connect_timeout = NGX_CONF_UNSET_MSEC;
    imcf->pg.query_timeout = NGX_CONF_UNSET_MSEC;
    imcf->pg.backoff_min = NGX_CONF_UNSET_MSEC;
    imcf->pg.backoff_max = NGX_CONF_UNSET_MSEC;

    imcf->redis.db = NGX_CONF_UNSET;
    imcf->redis.timeout = NGX_CONF_UNSET_MSEC;
    imcf->redis.connect_timeout = NGX_CONF_UNSET_MSEC;
    imcf->redis.backoff_min = NGX_CONF_UNSET_MSEC;
    imcf->redis.backoff_max = NGX_CONF_UNSET_MSEC;

    return imcf;
}


static char *
ngx_http_kx_io_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_kx_io_main_conf_t *imcf = conf;

    ngx_conf_init_uint_value(imcf->pg.size, 8);
    ngx_conf_init_uint_value(imcf->pg.queue_size, 1024);
    ngx_conf_init_msec_value(imcf->pg.queue_timeout, 2000);
    ngx_conf_init_msec_value(imcf->pg.connect_timeout, 3000);
    ngx_conf_init_msec_value(imcf->pg.query_timeout, 5000);
    ngx_conf_init_msec_value(imcf->pg.backoff_min, 100);
    ngx_conf_init_msec_value(imcf->pg.backoff_max, 5000);

    ngx_conf_init_value(imcf->redis.db, 0);
    ngx_conf_init_msec_value(imcf->redis.timeout, 2000);
    ngx_conf_init_msec_value(imcf->redis.connect_timeout,
                             imcf->redis.timeout);
    ngx_conf_init_msec_value(imcf->redis.backoff_min, 100);
    ngx_conf_init_msec_value(imcf->redis.backoff_max, 5000);

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_kx_io_init(ngx_conf_t *cf)
{
    ngx_http_kx_io_main_conf_t  *imcf;

    imcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_kx_io_module);

    if (imcf->pg_enabled
        && ngx_http_kx_health_add(cf, "postgres", ngx_http_kx_io_pg_check,
                                  imcf)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (imcf->redis_enabled
        && ngx_http_kx_health_add(cf, "redis", ngx_http_kx_io_redis_check,
                                  imcf)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_kx_io_init_process(ngx_cycle_t *cycle)
{
    ngx_http_kx_io_main_conf_t  *imcf;

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    imcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_kx_io_module);
    if (imcf == NULL) {
        return NGX_OK;
    }

    if (imcf->pg_enabled) {
        imcf->pg_pool = kx_pg_pool_create(&imcf->pg, cycle->log);
        if (imcf->pg_pool == NULL) {
            return NGX_ERROR;
        }
    }

    if (imcf->redis_enabled) {
        imcf->redis_client = kx_redis_create(&imcf->redis, cycle->log);
        if (imcf->redis_client == NULL) {
            return NGX_ERROR;
        }
    }

    /* the outgoing HTTP client starts on first use, with these settings */
    if (imcf->http_set && kx_http_configure(&imcf->http) != NGX_OK) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* kx_http_client key=value ...;  see kx_http_conf_args() */
static char *
ngx_http_kx_io_http_client(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_kx_io_main_conf_t *imcf = conf;

    char  *rv;

    if (imcf->http_set) {
        return "is duplicate";
    }

    kx_http_conf_default(&imcf->http);

    rv = kx_http_conf_args(cf, (ngx_str_t *) cf->args->elts + 1,
                           cf->args->nelts - 1, &imcf->http);
    if (rv == NGX_CONF_OK) {
        imcf->http_set = 1;
    }

    return rv;
}


static void
ngx_http_kx_io_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_kx_io_main_conf_t  *imcf;

    imcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_kx_io_module);

    if (imcf && imcf->pg_pool) {
        kx_pg_pool_destroy(imcf->pg_pool);
        imcf->pg_pool = NULL;
    }

    if (imcf && imcf->redis_client) {
        kx_redis_destroy(imcf->redis_client);
        imcf->redis_client = NULL;
    }

    /* a no-op when no request ever started it */
    kx_http_cleanup();
}
