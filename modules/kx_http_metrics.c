
/*
 * Copyright (C) Kianax
 *
 * Request metrics in shared memory, so GET /metrics reports what every
 * worker of the instance served: requests by route and status, and a
 * latency histogram by route, in Prometheus text format.
 *
 * The series table is open-addressed and append-only.  Readers and
 * updaters never lock: a slot is published (state = ready) after its key
 * is written; only claiming a free slot takes the zone's mutex.
 *
 * Modules count their own events in the same table: a counter slot's
 * "route" is the series, a Prometheus name with its labels
 * ('kx_market_cache_hits_total{kind="quote"}'), and its status is 0.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_kx_core.h"


#define KX_METRICS_ROUTE_MAX  64
#define KX_METRICS_BUCKETS    13

#define KX_SLOT_FREE   0
#define KX_SLOT_READY  1

/* the status of a counter slot: no request is ever recorded with it */
#define KX_SLOT_COUNTER  0


typedef struct {
    ngx_atomic_t   state;
    uint32_t       hash;
    ngx_uint_t     status;
    size_t         route_len;
    u_char         route[KX_METRICS_ROUTE_MAX];
    ngx_atomic_t   count;
    ngx_atomic_t   sum_ms;
    ngx_atomic_t   bucket[KX_METRICS_BUCKETS];   /* not cumulative */
} ngx_http_kx_metrics_slot_t;


typedef struct {
    ngx_atomic_t                 dropped;
    ngx_uint_t                   nslots;
    ngx_http_kx_metrics_slot_t   slots[1];
} ngx_http_kx_metrics_sh_t;


static ngx_int_t ngx_http_kx_metrics_init_shm(ngx_shm_zone_t *zone,
    void *data);
static u_char *ngx_http_kx_metrics_label(u_char *p, u_char *s, size_t len);
static ngx_http_kx_metrics_slot_t *ngx_http_kx_metrics_slot(
    ngx_shm_zone_t *zone, u_char *route, size_t route_len,
    ngx_uint_t status);
static u_char *ngx_http_kx_metrics_counters(u_char *p,
    ngx_http_kx_metrics_sh_t *sh, u_char *svc, size_t svc_len);


static ngx_str_t  ngx_http_kx_metrics_type =
    ngx_string("text/plain; version=0.0.4; charset=utf-8");


/* upper bounds in milliseconds; the last bucket is +Inf */
static ngx_msec_t  ngx_http_kx_metrics_le[KX_METRICS_BUCKETS - 1] = {
    1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000
};


ngx_int_t
ngx_http_kx_metrics_init_zone(ngx_conf_t *cf,
    ngx_http_kx_core_main_conf_t *kmcf)
{
    ngx_str_t  name;

    /* one zone per instance: the prefix tells instances apart */
    name.len = sizeof("kx_metrics_") - 1 + kmcf->service.len;
    name.data = ngx_pnalloc(cf->pool, name.len);
    if (name.data == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(name.data, "kx_metrics_%V", &kmcf->service);

    kmcf->metrics_zone = ngx_shared_memory_add(cf, &name, kmcf->metrics_size,
                                               &ngx_http_kx_core_module);
    if (kmcf->metrics_zone == NULL) {
        return NGX_ERROR;
    }

    kmcf->metrics_zone->init = ngx_http_kx_metrics_init_shm;
    kmcf->metrics_zone->data = kmcf;

    return NGX_OK;
}


static ngx_int_t
ngx_http_kx_metrics_init_shm(ngx_shm_zone_t *zone, void *data)
{
    size_t                     size;
    ngx_slab_pool_t           *shpool;
    ngx_http_kx_metrics_sh_t  *sh;

    shpool = (ngx_slab_pool_t *) zone->shm.addr;

    if (data) {
        /* reload: keep the counters of the old cycle */
        zone->data = data;
        return NGX_OK;
    }

    if (zone->shm.exists) {
        zone->data = shpool->data;
        return NGX_OK;
    }

    size = zone->shm.size / 2;

    sh = ngx_slab_calloc(shpool, size);
    if (sh == NULL) {
        return NGX_ERROR;
    }

    sh->nslots = (size - sizeof(ngx_http_kx_metrics_sh_t))
                 / sizeof(ngx_http_kx_metrics_slot_t) + 1;

    shpool->data = sh;
    zone->data = sh;

    return NGX_OK;
}


/* the slot of a series, claimed if new; NULL when the table is full */
static ngx_http_kx_metrics_slot_t *
ngx_http_kx_metrics_slot(ngx_shm_zone_t *zone, u_char *route,
    size_t route_len, ngx_uint_t status)
{
    uint32_t                       hash;
    ngx_uint_t                     i, n;
    ngx_slab_pool_t               *shpool;
    ngx_http_kx_metrics_sh_t      *sh;
    ngx_http_kx_metrics_slot_t    *s;

    sh = zone->data;
    shpool = (ngx_slab_pool_t *) zone->shm.addr;

    hash = ngx_crc32_short(route, route_len) ^ (uint32_t) status;
    n = sh->nslots;

    for (i = 0; i < n; i++) {
        s = &sh->slots[(hash + i) % n];

        if (s->state == KX_SLOT_FREE) {
            ngx_shmtx_lock(&shpool->mutex);

            if (s->state == KX_SLOT_FREE) {
                s->hash = hash;
                s->status = status;
                s->route_len = route_len;
                ngx_memcpy(s->route, route, route_len);
                ngx_memory_barrier();
                s->state = KX_SLOT_READY;
            }

            ngx_shmtx_unlock(&shpool->mutex);
        }

        if (s->hash == hash && s->status == status
            && s->route_len == route_len
            && ngx_memcmp(s->route, route, route_len) == 0)
        {
            return s;
        }
    }

    (void) ngx_atomic_fetch_add(&sh->dropped, 1);

    return NULL;
}


void
ngx_http_kx_metrics_record(ngx_http_request_t *r, u_char *route,
    size_t route_len, ngx_uint_t status, ngx_msec_t ms)
{
    ngx_uint_t                     b;
    ngx_http_kx_metrics_slot_t    *s;
    ngx_http_kx_core_main_conf_t  *kmcf;

    kmcf = ngx_http_get_module_main_conf(r, ngx_http_kx_core_module);

    if (kmcf->metrics_zone == NULL || kmcf->metrics_zone->data == kmcf) {
        return;
    }

    route_len = ngx_min(route_len, KX_METRICS_ROUTE_MAX);

    if (status == KX_SLOT_COUNTER) {
        status = 1;     /* never mistaken for a counter */
    }

    s = ngx_http_kx_metrics_slot(kmcf->metrics_zone, route, route_len,
                                 status);
    if (s == NULL) {
        return;
    }

    for (b = 0; b < KX_METRICS_BUCKETS - 1; b++) {
        if (ms <= ngx_http_kx_metrics_le[b]) {
            break;
        }
    }

    (void) ngx_atomic_fetch_add(&s->bucket[b], 1);
    (void) ngx_atomic_fetch_add(&s->sum_ms, ms);
    (void) ngx_atomic_fetch_add(&s->count, 1);
}


void
ngx_http_kx_metrics_count(ngx_cycle_t *cycle, const char *series,
    ngx_uint_t delta)
{
    size_t                          len;
    ngx_http_kx_metrics_slot_t     *s;
    ngx_http_kx_core_main_conf_t   *kmcf;

    kmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_kx_core_module);

    if (kmcf == NULL || kmcf->metrics_zone == NULL
        || kmcf->metrics_zone->data == kmcf)
    {
        return;
    }

    len = ngx_min(ngx_strlen(series), KX_METRICS_ROUTE_MAX);

    s = ngx_http_kx_metrics_slot(kmcf->metrics_zone, (u_char *) series, len,
                                 KX_SLOT_COUNTER);
    if (s != NULL) {
        (void) ngx_atomic_fetch_add(&s->count, delta);
    }
}


/* the counters, grouped by name (Prometheus wants a family together) */
static u_char *
ngx_http_kx_metrics_counters(u_char *p, ngx_http_kx_metrics_sh_t *sh,
    u_char *svc, size_t svc_len)
{
    u_char                      *brace;
    size_t                       name_len, len;
    ngx_uint_t                   i, j;
    ngx_http_kx_metrics_slot_t  *s, *t;

    for (i = 0; i < sh->nslots; i++) {
        s = &sh->slots[i];
        if (s->state != KX_SLOT_READY || s->status != KX_SLOT_COUNTER) {
            continue;
        }

        brace = ngx_strlchr(s->route, s->route + s->route_len, '{');
        name_len = brace ? (size_t) (brace - s->route) : s->route_len;

        for (j = 0; j < i; j++) {
            t = &sh->slots[j];
            if (t->state == KX_SLOT_READY && t->status == KX_SLOT_COUNTER
                && (t->route_len == name_len
                    || (t->route_len > name_len
                        && t->route[name_len] == '{'))
                && ngx_memcmp(t->route, s->route, name_len) == 0)
            {
                break;
            }
        }

        if (j < i) {
            continue;   /* printed with the first of its family */
        }

        p = ngx_sprintf(p, "# TYPE %*s counter\n", name_len, s->route);

        for (j = i; j < sh->nslots; j++) {
            t = &sh->slots[j];
            if (t->state != KX_SLOT_READY || t->status != KX_SLOT_COUNTER
                || t->route_len < name_len
                || (t->route_len > name_len && t->route[name_len] != '{')
                || ngx_memcmp(t->route, s->route, name_len) != 0)
            {
                continue;
            }

            p = ngx_sprintf(p, "%*s{service=\"%*s\"", name_len, t->route,
                            svc_len, svc);

            /* the series' own labels follow the service's */
            len = t->route_len - name_len;
            if (len > 2) {
                *p++ = ',';
                p = ngx_cpymem(p, t->route + name_len + 1, len - 1);

            } else {
                *p++ = '}';
            }

            p = ngx_sprintf(p, " %uA\n", t->count);
        }
    }

    return p;
}


ngx_int_t
ngx_http_kx_metrics_handler(ngx_http_request_t *r)
{
    u_char                        *buf, *p, *svc;
    size_t                         size, svc_len;
    ngx_str_t                     *service;
    ngx_uint_t                     i, j, b, nready;
    ngx_atomic_uint_t              cum, count, sum, bucket[KX_METRICS_BUCKETS];
    ngx_http_kx_metrics_sh_t      *sh;
    ngx_http_kx_metrics_slot_t    *s, *t;
    ngx_http_kx_core_main_conf_t  *kmcf;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return ngx_http_kx_send_error(r, NGX_HTTP_NOT_ALLOWED, NULL, NULL);
    }

    kmcf = ngx_http_get_module_main_conf(r, ngx_http_kx_core_module);
    sh = kmcf->metrics_zone->data;

    nready = 0;
    for (i = 0; i < sh->nslots; i++) {
        nready += (sh->slots[i].state == KX_SLOT_READY);
    }

    service = ngx_http_kx_service_name(r);
    svc = ngx_pnalloc(r->pool, 2 * service->len);
    if (svc == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    svc_len = ngx_http_kx_metrics_label(svc, service->data, service->len)
              - svc;

    /* a line is at most the labels, a name and a 20-digit number */
    size = 2048 + nready * (KX_METRICS_BUCKETS + 3)
                  * (160 + 2 * KX_METRICS_ROUTE_MAX + svc_len);

    buf = ngx_pnalloc(r->pool, size);
    if (buf == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_sprintf(buf,
            "# HELP kx_up Whether the instance is serving.\n"
            "# TYPE kx_up gauge\n"
            "kx_up{service=\"%*s\"} 1\n"
            "# HELP kx_metrics_dropped_total Requests not counted: the "
            "series table was full.\n"
            "# TYPE kx_metrics_dropped_total counter\n"
            "kx_metrics_dropped_total{service=\"%*s\"} %uA\n"
            "# HELP kx_http_requests_total HTTP requests by route and "
            "status.\n"
            "# TYPE kx_http_requests_total counter\n",
            svc_len, svc, svc_len, svc, sh->dropped);

    for (i = 0; i < sh->nslots; i++) {
        s = &sh->slots[i];
        if (s->state != KX_SLOT_READY || s->status == KX_SLOT_COUNTER) {
            continue;
        }

        p = ngx_sprintf(p, "kx_http_requests_total{service=\"%*s\",route=\"",
                        svc_len, svc);
        p = ngx_http_kx_metrics_label(p, s->route, s->route_len);
        p = ngx_sprintf(p, "\",status=\"%ui\"} %uA\n", s->status, s->count);
    }

    p = ngx_sprintf(p,
            "# HELP kx_http_request_duration_seconds Request latency by "
            "route.\n"
            "# TYPE kx_http_request_duration_seconds histogram\n");

    /* a route's histogram sums its slots of every status */
    for (i = 0; i < sh->nslots; i++) {
        s = &sh->slots[i];
        if (s->state != KX_SLOT_READY || s->status == KX_SLOT_COUNTER) {
            continue;
        }

        for (j = 0; j < i; j++) {
            t = &sh->slots[j];
            if (t->state == KX_SLOT_READY && t->status != KX_SLOT_COUNTER
                && t->route_len == s->route_len
                && ngx_memcmp(t->route, s->route, s->route_len) == 0)
            {
                break;
            }
        }

        if (j < i) {
            continue;   /* already printed with its first slot */
        }

        count = 0;
        sum = 0;
        ngx_memzero(bucket, sizeof(bucket));

        for (j = i; j < sh->nslots; j++) {
            t = &sh->slots[j];
            if (t->state != KX_SLOT_READY || t->status == KX_SLOT_COUNTER
                || t->route_len != s->route_len
                || ngx_memcmp(t->route, s->route, s->route_len) != 0)
            {
                continue;
            }

            for (b = 0; b < KX_METRICS_BUCKETS; b++) {
                bucket[b] += t->bucket[b];
            }

            count += t->count;
            sum += t->sum_ms;
        }

        cum = 0;
        for (b = 0; b < KX_METRICS_BUCKETS; b++) {
            cum += bucket[b];

            p = ngx_sprintf(p, "kx_http_request_duration_seconds_bucket"
                            "{service=\"%*s\",route=\"", svc_len, svc);
            p = ngx_http_kx_metrics_label(p, s->route, s->route_len);

            if (b < KX_METRICS_BUCKETS - 1) {
                p = ngx_sprintf(p, "\",le=\"%M.%03M\"} %uA\n",
                                ngx_http_kx_metrics_le[b] / 1000,
                                ngx_http_kx_metrics_le[b] % 1000, cum);

            } else {
                /* +Inf equals _count by definition, even mid-update */
                p = ngx_sprintf(p, "\",le=\"+Inf\"} %uA\n", cum);
            }
        }

        p = ngx_sprintf(p, "kx_http_request_duration_seconds_sum"
                        "{service=\"%*s\",route=\"", svc_len, svc);
        p = ngx_http_kx_metrics_label(p, s->route, s->route_len);
        p = ngx_sprintf(p, "\"} %uA.%03uA\n", sum / 1000, sum % 1000);

        p = ngx_sprintf(p, "kx_http_request_duration_seconds_count"
                        "{service=\"%*s\",route=\"", svc_len, svc);
        p = ngx_http_kx_metrics_label(p, s->route, s->route_len);
        p = ngx_sprintf(p, "\"} %uA\n", cum);
    }

    p = ngx_http_kx_metrics_counters(p, sh, svc, svc_len);

#if (NGX_STAT_STUB)
    p = ngx_sprintf(p,
            "# HELP kx_nginx_connections Client connections by state.\n"
            "# TYPE kx_nginx_connections gauge\n"
            "kx_nginx_connections{service=\"%*s\",state=\"active\"} %uA\n"
            "kx_nginx_connections{service=\"%*s\",state=\"reading\"} %uA\n"
            "kx_nginx_connections{service=\"%*s\",state=\"writing\"} %uA\n"
            "kx_nginx_connections{service=\"%*s\",state=\"waiting\"} %uA\n"
            "# HELP kx_nginx_connections_accepted_total Accepted client "
            "connections.\n"
            "# TYPE kx_nginx_connections_accepted_total counter\n"
            "kx_nginx_connections_accepted_total{service=\"%*s\"} %uA\n",
            svc_len, svc, *ngx_stat_active, svc_len, svc, *ngx_stat_reading,
            svc_len, svc, *ngx_stat_writing, svc_len, svc, *ngx_stat_waiting,
            svc_len, svc, *ngx_stat_accepted);
#endif

    return ngx_http_kx_send(r, NGX_HTTP_OK, &ngx_http_kx_metrics_type, buf,
                            p - buf);
}


/* Prometheus label values escape backslash, double quote and newline */
static u_char *
ngx_http_kx_metrics_label(u_char *p, u_char *s, size_t len)
{
    while (len--) {
        switch (*s) {
        case '\\':
        case '"':
            *p++ = '\\';
            *p++ = *s;
            break;
        case '\n':
            *p++ = '\\';
            *p++ = 'n';
            break;
        default:
            *p++ = *s;
        }

        s++;
    }

    return p;
}
