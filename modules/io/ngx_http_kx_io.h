
/*
 * Copyright (C) Kianax
 *
 * The shared non-blocking clients of a worker, for every Kianax module:
 *
 *     kx_pg_pool_t  *pg = ngx_http_kx_io_pg(r);       NULL: not configured
 *     kx_redis_t    *rd = ngx_http_kx_io_redis(r);    NULL: not configured
 *
 * The _cycle variants serve code without a request (timers, init_process
 * of a module listed after this one, the stream module).  The clients
 * exist in worker processes only, from init_process to exit_process.
 *
 * A content handler that waits (the shape of ngx_http_kx_iotest_module.c):
 *
 *     ctx->req = kx_pg_query(pg, &stmt, my_done, ctx);
 *     if (ctx->req == NULL) {
 *         return NGX_HTTP_INTERNAL_SERVER_ERROR;
 *     }
 *
 *     cln = ngx_pool_cleanup_add(r->pool, 0);    (before the query)
 *     cln->handler = my_cleanup;                 kx_pg_cancel(ctx->req)
 *                                                if ctx->req != NULL
 *     r->main->count++;
 *     r->read_event_handler = ngx_http_test_reading;   (notice aborts)
 *     return NGX_DONE;
 *
 *     static void
 *     my_done(kx_pg_result_t *res, void *data)
 *     {
 *         ctx->req = NULL;
 *         if (res->status != KX_PG_OK) {
 *             rc = ngx_http_kx_io_pg_error(r, res);
 *         } else {
 *             rc = ngx_http_kx_send_json(r, 200, ...);
 *         }
 *         ngx_http_finalize_request(r, rc);
 *         ngx_http_run_posted_requests(c);
 *     }
 */


#ifndef _NGX_HTTP_KX_IO_H_INCLUDED_
#define _NGX_HTTP_KX_IO_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "kx_pg.h"
#include "kx_redis.h"


kx_pg_pool_t *ngx_http_kx_io_pg(ngx_http_request_t *r);
kx_redis_t *ngx_http_kx_io_redis(ngx_http_request_t *r);

kx_pg_pool_t *ngx_http_kx_io_pg_cycle(ngx_cycle_t *cycle);
kx_redis_t *ngx_http_kx_io_redis_cycle(ngx_cycle_t *cycle);

/*
 * For a module that needs a client of its own: blocking Redis reads, or
 * PostgreSQL work that no request should wait behind.
 */
kx_pg_conf_t *ngx_http_kx_io_pg_conf(ngx_cycle_t *cycle);
kx_redis_conf_t *ngx_http_kx_io_redis_conf(ngx_cycle_t *cycle);

/*
 * Answer a failed result with the matching JSON error: 503 (unavailable,
 * busy, connection lost; with Retry-After), 504 (timeout), 500 (error).
 */
ngx_int_t ngx_http_kx_io_pg_error(ngx_http_request_t *r,
    kx_pg_result_t *res);
ngx_int_t ngx_http_kx_io_redis_error(ngx_http_request_t *r,
    kx_redis_status_e status, redisReply *reply);


extern ngx_module_t  ngx_http_kx_io_module;


#endif /* _NGX_HTTP_KX_IO_H_INCLUDED_ */
