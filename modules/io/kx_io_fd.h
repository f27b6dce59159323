
/*
 * Copyright (C) Kianax
 *
 * A socket owned by a client library (libpq, hiredis), watched by nginx.
 *
 * The library opens and closes the descriptor; nginx only watches it, so
 * the nginx connection is released with kx_io_fd_release() and never with
 * ngx_close_connection() (which would close the descriptor a second time,
 * when its number may already belong to another socket).
 *
 * Events are level-triggered: the libraries read a bounded amount per call
 * (hiredis 16 KB, libpq one buffer), so with edge-triggered events the rest
 * of a large reply would wait for bytes that may never come.  Level
 * triggering makes the kernel report the socket again while bytes remain,
 * and keeps one busy socket from starving the others.
 */


#ifndef _KX_IO_FD_H_INCLUDED_
#define _KX_IO_FD_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>


ngx_connection_t *kx_io_fd_wrap(ngx_socket_t fd, ngx_event_handler_pt handler,
    void *data, ngx_log_t *log);
ngx_int_t kx_io_fd_watch(ngx_connection_t *c, ngx_uint_t read,
    ngx_uint_t write);
void kx_io_fd_unwatch(ngx_connection_t *c);
void kx_io_fd_forget(ngx_connection_t *c);
void kx_io_fd_release(ngx_connection_t *c);


#endif /* _KX_IO_FD_H_INCLUDED_ */
