
/*
 * Copyright (C) Kianax
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include "kx_io_fd.h"


ngx_connection_t *
kx_io_fd_wrap(ngx_socket_t fd, ngx_event_handler_pt handler, void *data,
    ngx_log_t *log)
{
    ngx_connection_t  *c;

    c = ngx_get_connection(fd, log);
    if (c == NULL) {
        return NULL;
    }

    c->data = data;
    c->read->handler = handler;
    c->write->handler = handler;
    c->read->log = log;
    c->write->log = log;

    return c;
}


/* make the interest in reading and writing exactly (read, write) */

ngx_int_t
kx_io_fd_watch(ngx_connection_t *c, ngx_uint_t read, ngx_uint_t write)
{
    if (read && !c->read->active) {
        if (ngx_add_event(c->read, NGX_READ_EVENT, NGX_LEVEL_EVENT)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

    } else if (!read && c->read->active) {
        if (ngx_del_event(c->read, NGX_READ_EVENT, 0) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    if (write && !c->write->active) {
        if (ngx_add_event(c->write, NGX_WRITE_EVENT, NGX_LEVEL_EVENT)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

    } else if (!write && c->write->active) {
        if (ngx_del_event(c->write, NGX_WRITE_EVENT, 0) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/* stop watching; the descriptor must still be open */

void
kx_io_fd_unwatch(ngx_connection_t *c)
{
    if (!c->read->active && !c->write->active) {
        return;
    }

    if (ngx_del_conn) {
        (void) ngx_del_conn(c, 0);
        return;
    }

    if (c->read->active) {
        (void) ngx_del_event(c->read, NGX_READ_EVENT, 0);
    }

    if (c->write->active) {
        (void) ngx_del_event(c->write, NGX_WRITE_EVENT, 0);
    }
}


/*
 * The library closed the descriptor behind our back (libpq does on EOF or
 * a socket error): the kernel dropped it from the event set, and its
 * number may belong to another socket already, so no system call may use
 * it.  Only the flags are cleared.
 */

void
kx_io_fd_forget(ngx_connection_t *c)
{
    if (ngx_del_conn) {
        (void) ngx_del_conn(c, NGX_CLOSE_EVENT);
        return;
    }

    if (c->read->active) {
        (void) ngx_del_event(c->read, NGX_READ_EVENT, NGX_CLOSE_EVENT);
    }

    if (c->write->active) {
        (void) ngx_del_event(c->write, NGX_WRITE_EVENT, NGX_CLOSE_EVENT);
    }
}


/*
 * Give the connection back to nginx without closing the descriptor.  Call
 * it while the descriptor is still open (before PQfinish(), or from
 * hiredis' cleanup hook, which runs before hiredis closes it), or after
 * kx_io_fd_unwatch() or kx_io_fd_forget().
 */

void
kx_io_fd_release(ngx_connection_t *c)
{
    kx_io_fd_unwatch(c);

    if (c->read->timer_set) {
        ngx_del_timer(c->read);
    }

    if (c->write->timer_set) {
        ngx_del_timer(c->write);
    }

    if (c->read->posted) {
        ngx_delete_posted_event(c->read);
    }

    if (c->write->posted) {
        ngx_delete_posted_event(c->write);
    }

    c->read->closed = 1;
    c->write->closed = 1;

    ngx_free_connection(c);

    /* stale events for this slot are recognised by fd == -1 */
    c->fd = (ngx_socket_t) -1;
}
