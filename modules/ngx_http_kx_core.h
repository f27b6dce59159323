
/*
 * Copyright (C) Kianax
 *
 * Internals shared by the parts of ngx_http_kx_core_module.
 */


#ifndef _NGX_HTTP_KX_CORE_H_INCLUDED_
#define _NGX_HTTP_KX_CORE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_kx.h"


typedef struct {
    const char                    *name;
    ngx_http_kx_health_check_pt    check;
    void                          *data;
} ngx_http_kx_health_dep_t;


typedef struct {
    ngx_str_t         service;
    size_t            metrics_size;
    ngx_msec_t        health_timeout;
    ngx_shm_zone_t   *metrics_zone;
    ngx_array_t       checks;          /* of ngx_http_kx_health_dep_t */
} ngx_http_kx_core_main_conf_t;


typedef struct {
    ngx_array_t      *origins;         /* of ngx_str_t; NULL: no CORS */
    time_t            max_age;
    ngx_flag_t        credentials;
} ngx_http_kx_cors_conf_t;


typedef struct ngx_http_kx_alog_s  ngx_http_kx_alog_t;


ngx_int_t ngx_http_kx_health_handler(ngx_http_request_t *r);

/* kx_access_log: the directive, and one line for a finished request */
char *ngx_http_kx_access_log_set(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
void ngx_http_kx_access_log(ngx_http_request_t *r, ngx_http_kx_alog_t *lg,
    ngx_str_t *service, ngx_str_t *request_id, ngx_str_t *route);

/* NGX_DECLINED to go on, else a status or rc to finalize with */
ngx_int_t ngx_http_kx_cors_handler(ngx_http_request_t *r,
    ngx_http_kx_cors_conf_t *cors);

ngx_int_t ngx_http_kx_metrics_init_zone(ngx_conf_t *cf,
    ngx_http_kx_core_main_conf_t *kmcf);
void ngx_http_kx_metrics_record(ngx_http_request_t *r, u_char *route,
    size_t route_len, ngx_uint_t status, ngx_msec_t ms);
ngx_int_t ngx_http_kx_metrics_handler(ngx_http_request_t *r);


#endif /* _NGX_HTTP_KX_CORE_H_INCLUDED_ */
