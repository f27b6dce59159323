
/*
 * Copyright (C) Kianax
 *
 * GET /health: runs every registered dependency check at once, each with
 * the same deadline, and answers 200 {"status":"ok",...} or 503
 * {"status":"degraded",...} naming the dependencies that failed.
 *
 * A check may finish after the request is gone (deadline passed, client
 * closed), so the shared state lives on the heap with a reference per
 * pending check plus one for the request, not in the request pool.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_kx_core.h"


#define KX_HEALTH_DETAIL_MAX  120


typedef struct ngx_http_kx_health_s  ngx_http_kx_health_t;

typedef struct {
    ngx_http_kx_health_t  *health;
    ngx_uint_t             done;
    ngx_uint_t             ok;
    u_char                 detail[KX_HEALTH_DETAIL_MAX];
    size_t                 detail_len;
} ngx_http_kx_health_item_t;


struct ngx_http_kx_health_s {
    ngx_http_request_t         *request;
    ngx_event_t                 timer;
    ngx_uint_t                  refs;
    ngx_uint_t                  pending;
    ngx_uint_t                  nitems;
    ngx_http_kx_health_dep_t   *deps;
    ngx_http_kx_health_item_t   items[1];
};


static void ngx_http_kx_health_done(void *data, ngx_uint_t ok,
    const char *detail);
static void ngx_http_kx_health_timeout(ngx_event_t *ev);
static void ngx_http_kx_health_cleanup(void *data);
static void ngx_http_kx_health_finish(ngx_http_kx_health_t *h);
static ngx_int_t ngx_http_kx_health_send(ngx_http_request_t *r,
    ngx_http_kx_health_t *h);
static void ngx_http_kx_health_unref(ngx_http_kx_health_t *h);


ngx_int_t
ngx_http_kx_health_add(ngx_conf_t *cf, const char *name,
    ngx_http_kx_health_check_pt check, void *check_data)
{
    ngx_http_kx_health_dep_t      *dep;
    ngx_http_kx_core_main_conf_t  *kmcf;

    kmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_kx_core_module);

    dep = ngx_array_push(&kmcf->checks);
    if (dep == NULL) {
        return NGX_ERROR;
    }

    dep->name = name;
    dep->check = check;
    dep->data = check_data;

    return NGX_OK;
}


ngx_int_t
ngx_http_kx_health_handler(ngx_http_request_t *r)
{
    ngx_uint_t                     i, n;
    ngx_pool_cleanup_t            *cln;
    ngx_http_kx_health_t          *h;
    ngx_http_kx_core_main_conf_t  *kmcf;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return ngx_http_kx_send_error(r, NGX_HTTP_NOT_ALLOWED, NULL, NULL);
    }

    kmcf = ngx_http_get_module_main_conf(r, ngx_http_kx_core_module);
    n = kmcf->checks.nelts;

    h = ngx_calloc(sizeof(ngx_http_kx_health_t)
                   + n * sizeof(ngx_http_kx_health_item_t), r->connection->log);
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        ngx_free(h);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln->handler = ngx_http_kx_health_cleanup;
    cln->data = h;

    h->request = r;
    h->nitems = n;
    h->deps = kmcf->checks.elts;
    h->refs = 1 + n;
    h->pending = n;

    h->timer.handler = ngx_http_kx_health_timeout;
    h->timer.data = h;
    h->timer.log = r->connection->log;
    h->timer.cancelable = 1;

    if (n == 0) {
        return ngx_http_kx_health_send(r, h);
    }

    /* keep the request alive until every check answered or time is up */
    r->main->count++;

    ngx_add_timer(&h->timer, kmcf->health_timeout);

    for (i = 0; i < n; i++) {
        h->items[i].health = h;
        h->deps[i].check(h->deps[i].data, r->connection->log,
                         kmcf->health_timeout, ngx_http_kx_health_done,
                         &h->items[i]);
    }

    return NGX_DONE;
}


static void
ngx_http_kx_health_done(void *data, ngx_uint_t ok, const char *detail)
{
    ngx_http_kx_health_item_t *item = data;

    size_t                 len;
    ngx_http_kx_health_t  *h;

    h = item->health;

    if (!item->done) {
        item->done = 1;
        item->ok = ok;

        if (detail) {
            len = ngx_min(ngx_strlen(detail), KX_HEALTH_DETAIL_MAX);
            item->detail_len = ngx_cpymem(item->detail, detail, len)
                               - item->detail;
        }

        if (--h->pending == 0 && h->request) {
            ngx_http_kx_health_finish(h);
        }
    }

    ngx_http_kx_health_unref(h);
}


static void
ngx_http_kx_health_timeout(ngx_event_t *ev)
{
    ngx_http_kx_health_t *h = ev->data;

    ngx_uint_t  i;

    for (i = 0; i < h->nitems; i++) {
        if (!h->items[i].done) {
            h->items[i].ok = 0;
            h->items[i].detail_len = ngx_cpymem(h->items[i].detail,
                                                "timeout", 7)
                                     - h->items[i].detail;
        }
    }

    if (h->request) {
        ngx_http_kx_health_finish(h);
    }
}


static void
ngx_http_kx_health_finish(ngx_http_kx_health_t *h)
{
    ngx_int_t            rc;
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = h->request;
    c = r->connection;

    if (h->timer.timer_set) {
        ngx_del_timer(&h->timer);
    }

    rc = ngx_http_kx_health_send(r, h);

    /* the pool cleanup drops the request's reference */
    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(c);
}


static ngx_int_t
ngx_http_kx_health_send(ngx_http_request_t *r, ngx_http_kx_health_t *h)
{
    kx_jw_t                     w;
    ngx_str_t                  *service;
    ngx_uint_t                  i, ok;
    ngx_http_kx_health_item_t  *it;

    ok = 1;
    for (i = 0; i < h->nitems; i++) {
        ok = ok && h->items[i].ok;
    }

    service = ngx_http_kx_service_name(r);

    kx_jw_init(&w);
    kx_jw_obj_begin(&w);
    kx_jw_key(&w, "status");
    kx_jw_str(&w, ok ? "ok" : "degraded");
    kx_jw_key(&w, "service");
    kx_jw_strn(&w, (const char *) service->data, service->len);
    kx_jw_key(&w, "time");
    kx_jw_strn(&w, (const char *) ngx_cached_http_log_iso8601.data,
               ngx_cached_http_log_iso8601.len);

    kx_jw_key(&w, "failed");
    kx_jw_arr_begin(&w);
    for (i = 0; i < h->nitems; i++) {
        if (!h->items[i].ok) {
            kx_jw_str(&w, h->deps[i].name);
        }
    }
    kx_jw_arr_end(&w);

    kx_jw_key(&w, "checks");
    kx_jw_obj_begin(&w);
    for (i = 0; i < h->nitems; i++) {
        it = &h->items[i];
        kx_jw_key(&w, h->deps[i].name);
        kx_jw_obj_begin(&w);
        kx_jw_key(&w, "ok");
        kx_jw_bool(&w, it->ok ? 1 : 0);

        if (it->detail_len) {
            kx_jw_key(&w, "detail");
            kx_jw_strn(&w, (const char *) it->detail, it->detail_len);
        }

        kx_jw_obj_end(&w);
    }
    kx_jw_obj_end(&w);
    kx_jw_obj_end(&w);

    return ngx_http_kx_send_jw(r, ok ? NGX_HTTP_OK
                                     : NGX_HTTP_SERVICE_UNAVAILABLE, &w);
}


static void
ngx_http_kx_health_cleanup(void *data)
{
    ngx_http_kx_health_t *h = data;

    h->request = NULL;

    if (h->timer.timer_set) {
        ngx_del_timer(&h->timer);
    }

    ngx_http_kx_health_unref(h);
}


static void
ngx_http_kx_health_unref(ngx_http_kx_health_t *h)
{
    if (--h->refs == 0) {
        ngx_free(h);
    }
}
