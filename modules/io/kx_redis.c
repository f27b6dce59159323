
/*
 * Copyright (C) Kianax
 *
 * hiredis 0.14 async on nginx events.
 *
 * A link is one redisAsyncContext: the command link of a client, or its
 * subscriber link.  Its socket is wrapped as an nginx connection whose
 * read and write events call redisAsyncHandleRead/Write; hiredis asks for
 * interest through addRead/delRead/addWrite/delWrite and tells us, through
 * the cleanup hook, that it is about to close the socket and free the
 * context.  That hook is the one place where a link forgets its context,
 * whatever the reason (error, EOF, deliberate free): it releases the nginx
 * connection (without closing the socket, which hiredis closes right after)
 * and schedules the reconnect.
 *
 * hiredis 0.14 traps handled here:
 *  - redisAsyncConnect() resolves with getaddrinfo(): only addresses reach
 *    it (names are resolved at configuration time);
 *  - it has no connect timeout: a cancelable timer of ours;
 *  - redisAsyncHandleRead() may free the context (EOF, error): the event
 *    handlers touch nothing after calling into hiredis;
 *  - it reads 16 KB per call: level-triggered events (kx_io_fd.h);
 *  - a deliberate free runs onDisconnect: none is set, and onConnect is
 *    cleared before a deliberate free;
 *  - when a context is freed every pending callback runs with a NULL reply:
 *    a command whose handler was already called (timeout, cancel) stays
 *    allocated until then, marked handler == NULL.
 *
 * A command that times out means the server (or the path to it) stalls, so
 * the link is reset: every command pending on it fails at once instead of
 * piling up behind the stall, and the link reconnects with backoff.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include "kx_io_fd.h"
#include "kx_redis.h"
#include "core/kx_fmt.h"


#define KX_REDIS_NONE        0
#define KX_REDIS_CONNECTING  1
#define KX_REDIS_CONNECTED   2
#define KX_REDIS_CLOSING     3

#define KX_REDIS_MAX_ARGS    1024


typedef struct {
    kx_redis_t            *rd;
    redisAsyncContext     *ac;
    ngx_connection_t      *c;
    ngx_event_t            connect_timer;
    ngx_event_t            reconnect;
    ngx_msec_t             backoff;
    kx_redis_status_e      fail_status;   /* for commands of a closing link */
    const char            *name;

    unsigned               state:2;
    unsigned               down:1;        /* the last connect failed */
    unsigned               up:1;          /* connected at some point */
    unsigned               deliberate:1;  /* we are freeing the context */
    unsigned               sub:1;         /* the subscriber link */
    unsigned               writing:1;     /* in redisAsyncHandleWrite() */
} kx_redis_link_t;


struct kx_redis_cmd_s {
    ngx_queue_t            queue;         /* rd->cmds */
    kx_redis_t            *rd;
    kx_redis_handler_pt    handler;       /* NULL: answered or cancelled */
    void                  *data;
    ngx_event_t            ev;            /* timeout, or a posted failure */
    kx_redis_status_e      status;

    unsigned               posted:1;
    unsigned               in_hiredis:1;
};


#define KX_REDIS_SUB_BUCKETS  1024


struct kx_redis_sub_s {
    ngx_queue_t            queue;         /* rd->subs */
    ngx_queue_t            bucket;        /* rd->buckets[hash % n] */
    kx_redis_t            *rd;
    ngx_str_t              channel;
    kx_redis_message_pt    handler;
    void                  *data;

    unsigned               pattern:1;
    unsigned               subscribed:1;
    unsigned               dead:1;        /* unsubscribed during dispatch */
};


struct kx_redis_s {
    kx_redis_conf_t       *conf;
    ngx_log_t             *log;
    kx_redis_link_t        cmd;
    kx_redis_link_t        sub;
    ngx_queue_t            cmds;
    ngx_queue_t            subs;
    ngx_uint_t             dispatching;

    /*
     * Subscriptions by name, so that a message costs the subscriptions
     * of its channel, not all of them: a notify worker holds one per
     * connected user besides the quote channels.
     */
    ngx_queue_t            buckets[KX_REDIS_SUB_BUCKETS];

    unsigned               destroyed:1;
};


static void kx_redis_link_init(kx_redis_t *rd, kx_redis_link_t *link,
    ngx_uint_t sub);
static void kx_redis_link_connect(kx_redis_link_t *link);
static void kx_redis_link_close(kx_redis_link_t *link,
    kx_redis_status_e status);
static void kx_redis_link_retry(kx_redis_link_t *link);
static void kx_redis_link_reconnect(ngx_event_t *ev);
static void kx_redis_link_connect_timeout(ngx_event_t *ev);
static void kx_redis_link_handler(ngx_event_t *ev);
static void kx_redis_on_connect(const redisAsyncContext *ac, int status);
static void kx_redis_setup_reply(redisAsyncContext *ac, void *r,
    void *privdata);

static void kx_redis_ev_add_read(void *privdata);
static void kx_redis_ev_del_read(void *privdata);
static void kx_redis_ev_add_write(void *privdata);
static void kx_redis_ev_del_write(void *privdata);
static void kx_redis_ev_cleanup(void *privdata);

static ngx_int_t kx_redis_send(kx_redis_link_t *link, redisCallbackFn *fn,
    void *privdata, ngx_uint_t nargs, ngx_str_t *args);
static void kx_redis_reply(redisAsyncContext *ac, void *r, void *privdata);
static void kx_redis_cmd_event(ngx_event_t *ev);
static void kx_redis_cmd_post(kx_redis_cmd_t *cmd, kx_redis_status_e status);
static void kx_redis_cmd_free(kx_redis_cmd_t *cmd);

static void kx_redis_sub_send(kx_redis_sub_t *sub, const char *verb);
static ngx_uint_t kx_redis_sub_shared(kx_redis_sub_t *sub,
    ngx_uint_t earlier);
static void kx_redis_sub_message(redisAsyncContext *ac, void *r,
    void *privdata);
static void kx_redis_sub_notify(kx_redis_t *rd, kx_redis_sub_event_e event,
    ngx_str_t *name, ngx_uint_t pattern, ngx_str_t *channel,
    ngx_str_t *message);
static void kx_redis_sub_sweep(kx_redis_t *rd);
static ngx_queue_t *kx_redis_sub_bucket(kx_redis_t *rd, ngx_str_t *name,
    ngx_uint_t pattern);
static void kx_redis_sub_free(kx_redis_sub_t *sub);


static const char  *kx_redis_status_names[] = {
    "ok",
    "error",
    "timeout",
    "unavailable",
    "connection_lost"
};


/* configuration */

char *
kx_redis_conf_addr(ngx_conf_t *cf, ngx_str_t *addr, kx_redis_conf_t *conf)
{
    u_char              *p;
    size_t               len;
    ngx_url_t            u;
#if (NGX_HAVE_UNIX_DOMAIN)
    struct sockaddr_un  *saun;
#endif

    ngx_memzero(&u, sizeof(ngx_url_t));

    u.url = *addr;
    u.default_port = 6379;

    if (ngx_parse_url(cf->pool, &u) != NGX_OK) {
        if (u.err) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "%s in Redis address \"%V\"", u.err, addr);
        }

        return NGX_CONF_ERROR;
    }

    if (u.naddrs == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "Redis address \"%V\" must be host:port or "
                           "unix:path", addr);
        return NGX_CONF_ERROR;
    }

#if (NGX_HAVE_UNIX_DOMAIN)

    if (u.addrs[0].sockaddr->sa_family == AF_UNIX) {
        /* a Redis on this host: no TCP/IP stack per command (port 0) */
        saun = (struct sockaddr_un *) u.addrs[0].sockaddr;
        len = ngx_strnlen((u_char *) saun->sun_path,
                          sizeof(saun->sun_path));
        ngx_memcpy(conf->host, saun->sun_path, len);
        conf->host[len] = '\0';
        conf->port = 0;

    } else

#endif
    {
        /* the first address; hiredis gets it as text: it resolves nothing */

        len = ngx_sock_ntop(u.addrs[0].sockaddr, u.addrs[0].socklen,
                            conf->host, NGX_SOCKADDR_STRLEN, 0);
        conf->host[len] = '\0';

        conf->port = ngx_inet_get_port(u.addrs[0].sockaddr);
    }

    p = ngx_pnalloc(cf->pool, NGX_SOCKADDR_STRLEN);
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    conf->target.data = p;
    conf->target.len = ngx_sock_ntop(u.addrs[0].sockaddr, u.addrs[0].socklen,
                                     p, NGX_SOCKADDR_STRLEN, 1);

    return NGX_CONF_OK;
}


/* the client */

kx_redis_t *
kx_redis_create(kx_redis_conf_t *conf, ngx_log_t *log)
{
    ngx_uint_t   i;
    kx_redis_t  *rd;

    rd = ngx_calloc(sizeof(kx_redis_t), log);
    if (rd == NULL) {
        return NULL;
    }

    rd->conf = conf;
    rd->log = log;

    ngx_queue_init(&rd->cmds);
    ngx_queue_init(&rd->subs);

    for (i = 0; i < KX_REDIS_SUB_BUCKETS; i++) {
        ngx_queue_init(&rd->buckets[i]);
    }

    kx_redis_link_init(rd, &rd->cmd, 0);
    kx_redis_link_init(rd, &rd->sub, 1);

    /* the subscriber link opens with the first subscription */
    kx_redis_link_connect(&rd->cmd);

    return rd;
}


/* at worker exit: no handler is called, everything is freed */

void
kx_redis_destroy(kx_redis_t *rd)
{
    ngx_queue_t     *q;
    kx_redis_cmd_t  *cmd;

    rd->destroyed = 1;

    for (q = ngx_queue_head(&rd->cmds);
         q != ngx_queue_sentinel(&rd->cmds);
         q = ngx_queue_next(q))
    {
        cmd = ngx_queue_data(q, kx_redis_cmd_t, queue);
        cmd->handler = NULL;
    }

    /* frees the commands hiredis holds, through kx_redis_reply() */
    kx_redis_link_close(&rd->cmd, KX_REDIS_UNAVAILABLE);
    kx_redis_link_close(&rd->sub, KX_REDIS_UNAVAILABLE);

    if (rd->cmd.reconnect.timer_set) {
        ngx_del_timer(&rd->cmd.reconnect);
    }

    if (rd->sub.reconnect.timer_set) {
        ngx_del_timer(&rd->sub.reconnect);
    }

    /* posted failures (hiredis ran every callback it held) */

    while (!ngx_queue_empty(&rd->cmds)) {
        q = ngx_queue_head(&rd->cmds);
        cmd = ngx_queue_data(q, kx_redis_cmd_t, queue);
        cmd->in_hiredis = 0;
        kx_redis_cmd_free(cmd);
    }

    while (!ngx_queue_empty(&rd->subs)) {
        q = ngx_queue_head(&rd->subs);
        kx_redis_sub_free(ngx_queue_data(q, kx_redis_sub_t, queue));
    }

    ngx_free(rd);
}


ngx_uint_t
kx_redis_available(kx_redis_t *rd)
{
    return rd->cmd.state == KX_REDIS_CONNECTED;
}


const char *
kx_redis_status_text(kx_redis_status_e status)
{
    if ((ngx_uint_t) status
        >= sizeof(kx_redis_status_names) / sizeof(kx_redis_status_names[0]))
    {
        return "unknown";
    }

    return kx_redis_status_names[status];
}


/* links */

static void
kx_redis_link_init(kx_redis_t *rd, kx_redis_link_t *link, ngx_uint_t sub)
{
    link->rd = rd;
    link->sub = sub;
    link->name = sub ? "subscriber" : "command";

    link->connect_timer.handler = kx_redis_link_connect_timeout;
    link->connect_timer.data = link;
    link->connect_timer.log = rd->log;
    link->connect_timer.cancelable = 1;

    link->reconnect.handler = kx_redis_link_reconnect;
    link->reconnect.data = link;
    link->reconnect.log = rd->log;
    link->reconnect.cancelable = 1;
}


static void
kx_redis_link_connect(kx_redis_link_t *link)
{
    int                 on;
    ngx_str_t           args[2];
    ngx_queue_t        *q;
    kx_redis_t         *rd;
    kx_redis_sub_t     *sub;
    kx_redis_conf_t    *conf;
    redisAsyncContext  *ac;
    u_char              db[NGX_INT_T_LEN];

    rd = link->rd;
    conf = rd->conf;

    ac = conf->port ? redisAsyncConnect((char *) conf->host, conf->port)
                    : redisAsyncConnectUnix((char *) conf->host);

    if (ac == NULL || ac->err) {
        ngx_log_error((link->down ? NGX_LOG_WARN : NGX_LOG_ERR), rd->log, 0,
                      "redis %s connect to %V failed: %s", link->name,
                      &conf->target, ac ? ac->errstr : "out of memory");

        if (ac) {
            redisAsyncFree(ac);
        }

        link->down = 1;
        kx_redis_link_retry(link);
        return;
    }

    link->c = kx_io_fd_wrap(ac->c.fd, kx_redis_link_handler, link, rd->log);

    if (link->c == NULL) {
        redisAsyncFree(ac);
        link->down = 1;
        kx_redis_link_retry(link);
        return;
    }

    if (conf->port) {
        on = 1;
        (void) setsockopt(ac->c.fd, SOL_SOCKET, SO_KEEPALIVE, &on,
                          sizeof(int));
    }

    ac->data = link;
    ac->ev.data = link;
    ac->ev.addRead = kx_redis_ev_add_read;
    ac->ev.delRead = kx_redis_ev_del_read;
    ac->ev.addWrite = kx_redis_ev_add_write;
    ac->ev.delWrite = kx_redis_ev_del_write;
    ac->ev.cleanup = kx_redis_ev_cleanup;

    link->ac = ac;
    link->state = KX_REDIS_CONNECTING;

    /* the connect completes with the first write event (this adds it) */
    (void) redisAsyncSetConnectCallback(ac, kx_redis_on_connect);
    kx_redis_ev_add_read(link);

    ngx_add_timer(&link->connect_timer, conf->connect_timeout);

    /* queued now, written first once connected */

    if (conf->password.len) {
        ngx_str_set(&args[0], "AUTH");
        args[1] = conf->password;

        (void) kx_redis_send(link, kx_redis_setup_reply, link, 2, args);
    }

    if (conf->db > 0) {
        ngx_str_set(&args[0], "SELECT");
        args[1].data = db;
        args[1].len = ngx_sprintf(db, "%i", conf->db) - db;

        (void) kx_redis_send(link, kx_redis_setup_reply, link, 2, args);
    }

    if (!link->sub) {
        return;
    }

    for (q = ngx_queue_head(&rd->subs);
         q != ngx_queue_sentinel(&rd->subs);
         q = ngx_queue_next(q))
    {
        sub = ngx_queue_data(q, kx_redis_sub_t, queue);

        if (!sub->dead && !kx_redis_sub_shared(sub, 1)) {
            kx_redis_sub_send(sub, "SUBSCRIBE");
        }
    }
}


/*
 * Free the link's context on purpose.  Pending commands get status; the
 * cleanup hook releases the socket and schedules the reconnect.
 */

static void
kx_redis_link_close(kx_redis_link_t *link, kx_redis_status_e status)
{
    redisAsyncContext  *ac;

    ac = link->ac;

    if (link->connect_timer.timer_set) {
        ngx_del_timer(&link->connect_timer);
    }

    if (ac == NULL || link->deliberate) {
        return;
    }

    link->state = KX_REDIS_CLOSING;
    link->fail_status = status;
    link->deliberate = 1;

    ac->onConnect = NULL;
    ac->onDisconnect = NULL;

    redisAsyncFree(ac);
}


static void
kx_redis_link_retry(kx_redis_link_t *link)
{
    ngx_msec_t        delay;
    kx_redis_conf_t  *conf;

    if (link->rd->destroyed || link->reconnect.timer_set) {
        return;
    }

    conf = link->rd->conf;

    link->backoff = link->backoff
                    ? ngx_min(link->backoff * 2, conf->backoff_max)
                    : conf->backoff_min;

    delay = link->backoff + ngx_random() % (link->backoff / 4 + 1);

    ngx_add_timer(&link->reconnect, delay);
}


static void
kx_redis_link_reconnect(ngx_event_t *ev)
{
    kx_redis_link_t *link = ev->data;

    if (ngx_exiting || ngx_quit || ngx_terminate || link->rd->destroyed
        || link->ac)
    {
        return;
    }

    if (link->sub && ngx_queue_empty(&link->rd->subs)) {
        return;
    }

    kx_redis_link_connect(link);
}


static void
kx_redis_link_connect_timeout(ngx_event_t *ev)
{
    kx_redis_link_t *link = ev->data;

    ngx_log_error((link->down ? NGX_LOG_WARN : NGX_LOG_ERR), link->rd->log, 0,
                  "redis %s connect to %V timed out", link->name,
                  &link->rd->conf->target);

    link->down = 1;
    kx_redis_link_close(link, KX_REDIS_UNAVAILABLE);
}


static void
kx_redis_link_handler(ngx_event_t *ev)
{
    ngx_connection_t  *c;
    kx_redis_link_t   *link;

    c = ev->data;
    link = c->data;

    if (link->ac == NULL) {
        return;
    }

    if (c->close) {
        /* worker_shutdown_timeout: nginx closes every connection */
        kx_redis_link_close(link, KX_REDIS_CONN_LOST);
        return;
    }

    /* either call may free the context and this connection: return after */

    if (ev->write) {
        /* a write that does not finish waits for EPOLLOUT: add_write */
        link->writing = 1;
        redisAsyncHandleWrite(link->ac);
        link->writing = 0;

    } else {
        redisAsyncHandleRead(link->ac);
    }
}


static void
kx_redis_on_connect(const redisAsyncContext *ac, int status)
{
    kx_redis_link_t  *link;

    link = ac->data;

    if (link->connect_timer.timer_set) {
        ngx_del_timer(&link->connect_timer);
    }

    if (status != REDIS_OK) {
        /* hiredis frees the context when this returns */
        ngx_log_error((link->down ? NGX_LOG_WARN : NGX_LOG_ERR), link->rd->log,
                      0, "redis %s connect to %V failed: %s", link->name,
                      &link->rd->conf->target, ac->errstr);

        link->down = 1;
        link->state = KX_REDIS_CLOSING;
        link->fail_status = KX_REDIS_UNAVAILABLE;
        return;
    }

    if (link->down) {
        ngx_log_error(NGX_LOG_NOTICE, link->rd->log, 0,
                      "redis %s connection to %V is up again", link->name,
                      &link->rd->conf->target);
    }

    /* the backoff resets only once a reply shows the server works */
    link->down = 0;
    link->up = 1;
    link->state = KX_REDIS_CONNECTED;
}


static void
kx_redis_setup_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    kx_redis_link_t  *link = privdata;
    redisReply       *reply = r;

    if (reply == NULL) {
        return;
    }

    link->backoff = 0;

    if (reply->type == REDIS_REPLY_ERROR) {
        ngx_log_error(NGX_LOG_ERR, link->rd->log, 0,
                      "redis %s connection setup failed: %*s", link->name,
                      (size_t) reply->len, reply->str);
    }
}


/* the event library adapter */

static void
kx_redis_ev_add_read(void *privdata)
{
    kx_redis_link_t *link = privdata;

    if (link->c && !link->c->read->active) {
        (void) kx_io_fd_watch(link->c, 1, link->c->write->active);
    }
}


static void
kx_redis_ev_del_read(void *privdata)
{
    kx_redis_link_t *link = privdata;

    if (link->c && link->c->read->active) {
        (void) kx_io_fd_watch(link->c, 0, link->c->write->active);
    }
}


static void
kx_redis_ev_add_write(void *privdata)
{
    kx_redis_link_t *link = privdata;

    ngx_connection_t  *c;

    c = link->c;

    if (c == NULL || c->write->active) {
        return;
    }

    /*
     * hiredis asks with every command.  Connected, the socket almost
     * always takes the bytes: write at the end of this turn of the event
     * loop (a posted event), so the turn's commands go out in one write
     * without two epoll_ctl() and a wait for EPOLLOUT.  Only a write that
     * did not finish, or a connect, waits for the socket.
     */

    if (link->state == KX_REDIS_CONNECTED && !link->writing) {
        if (!c->write->posted) {
            ngx_post_event(c->write, &ngx_posted_events);
        }

        return;
    }

    (void) kx_io_fd_watch(c, c->read->active, 1);
}


static void
kx_redis_ev_del_write(void *privdata)
{
    kx_redis_link_t *link = privdata;

    if (link->c && link->c->write->active) {
        (void) kx_io_fd_watch(link->c, link->c->read->active, 0);
    }
}


/*
 * hiredis frees the context: the socket is still open here and closed
 * right after.  Runs for every free, after the pending callbacks.
 */

static void
kx_redis_ev_cleanup(void *privdata)
{
    kx_redis_link_t *link = privdata;

    kx_redis_t          *rd;
    redisAsyncContext   *ac;

    rd = link->rd;
    ac = link->ac;

    if (link->c) {
        kx_io_fd_release(link->c);
        link->c = NULL;
    }

    if (link->connect_timer.timer_set) {
        ngx_del_timer(&link->connect_timer);
    }

    link->ac = NULL;
    link->state = KX_REDIS_NONE;

    if (rd->destroyed) {
        link->deliberate = 0;
        return;
    }

    if (!link->deliberate && link->up) {
        ngx_log_error(NGX_LOG_ERR, rd->log, 0,
                      "redis %s connection to %V lost: %s", link->name,
                      &rd->conf->target,
                      ac && ac->errstr ? ac->errstr : "closed");

        /*
         * A healthy connection went away (server restart, idle timeout):
         * try again at once, from the event loop rather than from inside
         * hiredis; the backoff starts if that fails too.
         */

        if (!link->reconnect.timer_set && link->backoff == 0) {
            ngx_add_timer(&link->reconnect, 1);
        }
    }

    link->deliberate = 0;
    link->up = 0;

    /* first, so that a handler subscribing now waits for the reconnect */
    kx_redis_link_retry(link);

    if (link->sub) {
        kx_redis_sub_notify(rd, KX_REDIS_SUB_LOST, NULL, 0, NULL, NULL);
    }
}


/* commands */

kx_redis_cmd_t *
kx_redis_command(kx_redis_t *rd, ngx_str_t *args, ngx_uint_t nargs,
    ngx_msec_t timeout, kx_redis_handler_pt handler, void *data)
{
    kx_redis_cmd_t   *cmd;
    kx_redis_link_t  *link;

    if (nargs == 0 || nargs > KX_REDIS_MAX_ARGS) {
        ngx_log_error(NGX_LOG_ALERT, rd->log, 0,
                      "invalid redis command: %ui arguments", nargs);
        return NULL;
    }

    cmd = ngx_calloc(sizeof(kx_redis_cmd_t), rd->log);
    if (cmd == NULL) {
        return NULL;
    }

    cmd->rd = rd;
    cmd->handler = handler;
    cmd->data = data;

    cmd->ev.handler = kx_redis_cmd_event;
    cmd->ev.data = cmd;
    cmd->ev.log = rd->log;

    ngx_queue_insert_tail(&rd->cmds, &cmd->queue);

    link = &rd->cmd;

    /*
     * While connecting after a failure, fail fast instead of queueing
     * behind a connect that will most likely fail too.
     */

    if (rd->destroyed
        || !(link->state == KX_REDIS_CONNECTED
             || (link->state == KX_REDIS_CONNECTING && !link->down)))
    {
        kx_redis_cmd_post(cmd, KX_REDIS_UNAVAILABLE);
        return cmd;
    }

    if (kx_redis_send(link, kx_redis_reply, cmd, nargs, args) != NGX_OK) {
        kx_redis_cmd_post(cmd, KX_REDIS_UNAVAILABLE);
        return cmd;
    }

    cmd->in_hiredis = 1;

    /* not cancelable: a graceful shutdown waits for it, one timeout long */
    ngx_add_timer(&cmd->ev, timeout ? timeout : rd->conf->timeout);

    return cmd;
}


void
kx_redis_cancel(kx_redis_cmd_t *cmd)
{
    if (cmd->posted) {
        kx_redis_cmd_free(cmd);
        return;
    }

    /*
     * hiredis still holds it: freed when the reply (or the end of the
     * connection) comes.  The timer stays, so a stall is still noticed.
     */
    cmd->handler = NULL;
}


/*
 * The command in RESP, formatted here and handed to hiredis as is:
 * hiredis's own formatter (redisAsyncCommandArgv) grows an sds string
 * with one sdscatfmt() per argument, which was the largest share of the
 * gateway's work for a rate-limit batch.  hiredis copies it into its
 * output buffer, so a buffer on the stack does for most commands.
 *
 * The text ends with a NUL that is not sent: for (P)SUBSCRIBE hiredis
 * walks the arguments with strchr() until it finds no further '$', so
 * without it the walk runs on into the rest of the buffer, and a stale
 * '$' there with no '\r' after it fails hiredis's assertion (seen once in
 * t/stream_quotes.t).
 */
static ngx_int_t
kx_redis_send(kx_redis_link_t *link, redisCallbackFn *fn, void *privdata,
    ngx_uint_t nargs, ngx_str_t *args)
{
    int          rc;
    u_char      *buf, *p, stack[2048];
    size_t       len;
    ngx_uint_t   i;

    if (link->ac == NULL) {
        return NGX_ERROR;
    }

    len = 1 + KX_FMT_U64_LEN + 2 + 1;

    for (i = 0; i < nargs; i++) {
        len += 1 + KX_FMT_U64_LEN + 2 + args[i].len + 2;
    }

    if (len <= sizeof(stack)) {
        buf = stack;

    } else {
        buf = ngx_alloc(len, link->rd->log);
        if (buf == NULL) {
            return NGX_ERROR;
        }
    }

    p = buf;
    *p++ = '*';
    p = (u_char *) kx_fmt_u64((char *) p, nargs);
    *p++ = CR; *p++ = LF;

    for (i = 0; i < nargs; i++) {
        *p++ = '$';
        p = (u_char *) kx_fmt_u64((char *) p, args[i].len);
        *p++ = CR; *p++ = LF;
        p = ngx_cpymem(p, args[i].data, args[i].len);
        *p++ = CR; *p++ = LF;
    }

    *p = '\0';

    rc = redisAsyncFormattedCommand(link->ac, fn, privdata, (char *) buf,
                                    p - buf);

    if (buf != stack) {
        ngx_free(buf);
    }

    return rc == REDIS_OK ? NGX_OK : NGX_ERROR;
}


static void
kx_redis_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    kx_redis_cmd_t *cmd = privdata;

    void                *data;
    redisReply          *reply;
    kx_redis_link_t     *link;
    kx_redis_status_e    status;
    kx_redis_handler_pt  handler;

    reply = r;
    link = ac->data;

    cmd->in_hiredis = 0;

    if (cmd->ev.timer_set) {
        ngx_del_timer(&cmd->ev);
    }

    if (reply) {
        link->backoff = 0;
        status = (reply->type == REDIS_REPLY_ERROR) ? KX_REDIS_ERROR
                                                    : KX_REDIS_OK;

    } else {
        /* the context is going away: nothing more goes on this link */

        switch (link->state) {

        case KX_REDIS_CLOSING:
            status = link->fail_status;
            break;

        case KX_REDIS_CONNECTED:
            status = KX_REDIS_CONN_LOST;
            break;

        default:
            status = KX_REDIS_UNAVAILABLE;
            break;
        }

        link->state = KX_REDIS_CLOSING;
        link->fail_status = status;
    }

    handler = cmd->handler;
    data = cmd->data;

    kx_redis_cmd_free(cmd);

    if (handler) {
        handler(status, reply, data);
    }
}


/* a posted failure, or a timeout */

static void
kx_redis_cmd_event(ngx_event_t *ev)
{
    kx_redis_cmd_t *cmd = ev->data;

    void                *data;
    kx_redis_t          *rd;
    kx_redis_status_e    status;
    kx_redis_handler_pt  handler;

    rd = cmd->rd;
    handler = cmd->handler;
    data = cmd->data;

    if (cmd->posted) {
        status = cmd->status;
        kx_redis_cmd_free(cmd);

        if (handler) {
            handler(status, NULL, data);
        }

        return;
    }

    ngx_log_error(NGX_LOG_WARN, rd->log, 0,
                  "redis command timed out, resetting the connection to %V",
                  &rd->conf->target);

    /*
     * Reset the link first (it frees cmd, and fails the other pending
     * commands), so that whatever the handler submits goes to a new
     * connection rather than behind the stall.
     */

    cmd->handler = NULL;
    rd->cmd.down = 1;
    kx_redis_link_close(&rd->cmd, KX_REDIS_CONN_LOST);

    if (handler) {
        handler(KX_REDIS_TIMEOUT, NULL, data);
    }
}


static void
kx_redis_cmd_post(kx_redis_cmd_t *cmd, kx_redis_status_e status)
{
    cmd->posted = 1;
    cmd->status = status;

    ngx_post_event(&cmd->ev, &ngx_posted_events);
}


static void
kx_redis_cmd_free(kx_redis_cmd_t *cmd)
{
    if (cmd->ev.timer_set) {
        ngx_del_timer(&cmd->ev);
    }

    if (cmd->ev.posted) {
        ngx_delete_posted_event(&cmd->ev);
    }

    ngx_queue_remove(&cmd->queue);
    ngx_free(cmd);
}


/* subscriptions */

kx_redis_sub_t *
kx_redis_subscribe(kx_redis_t *rd, ngx_str_t *channel, ngx_uint_t pattern,
    kx_redis_message_pt handler, void *data)
{
    kx_redis_sub_t   *sub;
    kx_redis_link_t  *link;

    if (channel->len == 0) {
        return NULL;
    }

    sub = ngx_calloc(sizeof(kx_redis_sub_t) + channel->len, rd->log);
    if (sub == NULL) {
        return NULL;
    }

    sub->rd = rd;
    sub->pattern = pattern ? 1 : 0;
    sub->handler = handler;
    sub->data = data;
    sub->channel.data = (u_char *) (sub + 1);
    sub->channel.len = channel->len;
    ngx_memcpy(sub->channel.data, channel->data, channel->len);

    ngx_queue_insert_tail(&rd->subs, &sub->queue);
    ngx_queue_insert_tail(kx_redis_sub_bucket(rd, &sub->channel, pattern),
                          &sub->bucket);

    link = &rd->sub;

    switch (link->state) {

    case KX_REDIS_NONE:
        if (!link->reconnect.timer_set && !rd->destroyed) {
            /* subscribes every subscription, this one included */
            kx_redis_link_connect(link);
        }

        break;

    case KX_REDIS_CONNECTING:
    case KX_REDIS_CONNECTED:
        /*
         * Even when subscribed for another subscription already: the
         * server confirms again, and that confirmation is this one's
         * SUBSCRIBED event.
         */
        kx_redis_sub_send(sub, "SUBSCRIBE");
        break;

    default:
        /* closing: subscribed on the next connection */
        break;
    }

    return sub;
}


void
kx_redis_unsubscribe(kx_redis_sub_t *sub)
{
    kx_redis_t       *rd;
    kx_redis_link_t  *link;

    rd = sub->rd;

    if (rd->dispatching) {
        /* a handler is running: kx_redis_sub_sweep() finishes the job */
        sub->dead = 1;
        sub->handler = NULL;
        return;
    }

    link = &rd->sub;

    ngx_queue_remove(&sub->queue);
    ngx_queue_remove(&sub->bucket);

    if ((link->state == KX_REDIS_CONNECTING
         || link->state == KX_REDIS_CONNECTED)
        && !kx_redis_sub_shared(sub, 0))
    {
        kx_redis_sub_send(sub, "UNSUBSCRIBE");
    }

    ngx_free(sub);
}


static void
kx_redis_sub_send(kx_redis_sub_t *sub, const char *verb)
{
    u_char      buf[sizeof("PUNSUBSCRIBE")];
    ngx_str_t   args[2];

    args[0].data = buf;
    args[0].len = ngx_sprintf(buf, "%s%s", sub->pattern ? "P" : "", verb)
                  - buf;
    args[1] = sub->channel;

    if (kx_redis_send(&sub->rd->sub, kx_redis_sub_message, &sub->rd->sub, 2,
                      args)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ERR, sub->rd->log, 0,
                      "redis %V \"%V\" not sent", &args[0], &sub->channel);
    }
}


/*
 * Another subscription in the list to the same channel (or pattern): a live
 * one before sub (earlier: who subscribes on a new link), or any other one,
 * live or awaiting the sweep (who unsubscribes: the last one removed does,
 * so that one channel is never unsubscribed twice, which hiredis 0.14 does
 * not survive when the second confirmation finds it out of subscribed mode).
 */

static ngx_uint_t
kx_redis_sub_shared(kx_redis_sub_t *sub, ngx_uint_t earlier)
{
    ngx_queue_t     *q, *b;
    kx_redis_sub_t  *s;

    /* a bucket keeps the subscriptions' order, so "earlier" holds */
    b = kx_redis_sub_bucket(sub->rd, &sub->channel, sub->pattern);

    for (q = ngx_queue_head(b);
         q != ngx_queue_sentinel(b);
         q = ngx_queue_next(q))
    {
        s = ngx_queue_data(q, kx_redis_sub_t, bucket);

        if (s == sub) {
            if (earlier) {
                return 0;
            }

            continue;
        }

        if ((!s->dead || !earlier) && s->pattern == sub->pattern
            && s->channel.len == sub->channel.len
            && ngx_memcmp(s->channel.data, sub->channel.data,
                          sub->channel.len) == 0)
        {
            return 1;
        }
    }

    return 0;
}


static void
kx_redis_sub_message(redisAsyncContext *ac, void *r, void *privdata)
{
    kx_redis_link_t  *link = privdata;
    redisReply       *reply = r;

    ngx_str_t     kind, name, channel, message;
    redisReply  **e;

    if (reply == NULL) {
        /* the context is going away; the cleanup hook reports it */
        return;
    }

    link->backoff = 0;

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 3) {
        return;
    }

    e = reply->element;

    if (e[0]->type != REDIS_REPLY_STRING || e[1]->type != REDIS_REPLY_STRING)
    {
        return;
    }

    kind.data = (u_char *) e[0]->str;
    kind.len = e[0]->len;
    name.data = (u_char *) e[1]->str;
    name.len = e[1]->len;

    if (kind.len == 7 && ngx_strncasecmp(kind.data, (u_char *) "message", 7)
                         == 0)
    {
        if (e[2]->type != REDIS_REPLY_STRING) {
            return;
        }

        message.data = (u_char *) e[2]->str;
        message.len = e[2]->len;

        kx_redis_sub_notify(link->rd, KX_REDIS_SUB_MESSAGE, &name, 0, &name,
                            &message);
        return;
    }

    if (kind.len == 8 && ngx_strncasecmp(kind.data, (u_char *) "pmessage", 8)
                         == 0)
    {
        if (reply->elements < 4 || e[2]->type != REDIS_REPLY_STRING
            || e[3]->type != REDIS_REPLY_STRING)
        {
            return;
        }

        channel.data = (u_char *) e[2]->str;
        channel.len = e[2]->len;
        message.data = (u_char *) e[3]->str;
        message.len = e[3]->len;

        kx_redis_sub_notify(link->rd, KX_REDIS_SUB_MESSAGE, &name, 1,
                            &channel, &message);
        return;
    }

    if (kind.len == 9
        && ngx_strncasecmp(kind.data, (u_char *) "subscribe", 9) == 0)
    {
        kx_redis_sub_notify(link->rd, KX_REDIS_SUB_SUBSCRIBED, &name, 0,
                            &name, NULL);
        return;
    }

    if (kind.len == 10
        && ngx_strncasecmp(kind.data, (u_char *) "psubscribe", 10) == 0)
    {
        kx_redis_sub_notify(link->rd, KX_REDIS_SUB_SUBSCRIBED, &name, 1,
                            &name, NULL);
    }

    /* (p)unsubscribe confirmations need nothing */
}


/*
 * Call the handlers of the subscriptions to name (all of them for LOST).
 * Handlers may subscribe and unsubscribe meanwhile: new ones go to the
 * tail, removed ones are only marked until the sweep.
 */

static void
kx_redis_sub_notify(kx_redis_t *rd, kx_redis_sub_event_e event,
    ngx_str_t *name, ngx_uint_t pattern, ngx_str_t *channel,
    ngx_str_t *message)
{
    ngx_queue_t     *q, *list;
    kx_redis_sub_t  *sub;

    rd->dispatching++;

    /* a lost link concerns every subscription; the rest, one name's */
    list = (event == KX_REDIS_SUB_LOST)
           ? &rd->subs : kx_redis_sub_bucket(rd, name, pattern);

    for (q = ngx_queue_head(list);
         q != ngx_queue_sentinel(list);
         q = ngx_queue_next(q))
    {
        sub = (event == KX_REDIS_SUB_LOST)
              ? ngx_queue_data(q, kx_redis_sub_t, queue)
              : ngx_queue_data(q, kx_redis_sub_t, bucket);

        if (sub->dead) {
            continue;
        }

        if (event == KX_REDIS_SUB_LOST) {
            if (!sub->subscribed) {
                continue;
            }

            sub->subscribed = 0;

            if (sub->handler) {
                sub->handler(event, &sub->channel, NULL, sub->data);
            }

            continue;
        }

        if (sub->pattern != pattern || sub->channel.len != name->len
            || ngx_memcmp(sub->channel.data, name->data, name->len) != 0)
        {
            continue;
        }

        if (event == KX_REDIS_SUB_SUBSCRIBED) {
            if (sub->subscribed) {
                continue;
            }

            sub->subscribed = 1;
        }

        if (sub->handler) {
            sub->handler(event, channel, message, sub->data);
        }
    }

    if (--rd->dispatching == 0) {
        kx_redis_sub_sweep(rd);
    }
}


static ngx_queue_t *
kx_redis_sub_bucket(kx_redis_t *rd, ngx_str_t *name, ngx_uint_t pattern)
{
    ngx_uint_t  key;

    key = ngx_hash_key(name->data, name->len) ^ (pattern ? 1 : 0);

    return &rd->buckets[key % KX_REDIS_SUB_BUCKETS];
}


static void
kx_redis_sub_sweep(kx_redis_t *rd)
{
    ngx_queue_t     *q, *next;
    kx_redis_sub_t  *sub;

    for (q = ngx_queue_head(&rd->subs);
         q != ngx_queue_sentinel(&rd->subs);
         q = next)
    {
        next = ngx_queue_next(q);
        sub = ngx_queue_data(q, kx_redis_sub_t, queue);

        if (sub->dead) {
            kx_redis_unsubscribe(sub);
        }
    }
}


static void
kx_redis_sub_free(kx_redis_sub_t *sub)
{
    ngx_queue_remove(&sub->queue);
    ngx_queue_remove(&sub->bucket);
    ngx_free(sub);
}
