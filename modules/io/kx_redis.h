
/*
 * Copyright (C) Kianax
 *
 * Redis on the nginx event loop: hiredis' async API with an adapter onto
 * nginx events, one pipelined command connection and one subscriber
 * connection per client, command timeouts, reconnect with backoff, and
 * resubscription after a reconnect.
 *
 * As with kx_pg, handlers are never called from inside the call that
 * started the work, and every failure arrives in the handler:
 *
 *     static void
 *     my_done(kx_redis_status_e status, redisReply *reply, void *data)
 *     {
 *         my_ctx_t *ctx = data;
 *
 *         ctx->cmd = NULL;
 *
 *         if (status == KX_REDIS_OK && reply->type == REDIS_REPLY_STRING) {
 *             ... reply->str, reply->len (valid until return) ...
 *         }
 *     }
 *
 *     ngx_str_t  args[2] = { ngx_string("GET"), key };
 *
 *     ctx->cmd = kx_redis_command(rd, args, 2, 0, my_done, ctx);
 *     if (ctx->cmd == NULL) { ... out of memory, no handler call ... }
 *
 *     ... and if the caller goes away first:  kx_redis_cancel(ctx->cmd);
 *
 * The command connection is shared and pipelined: a blocking command
 * (BLPOP, XREAD BLOCK) would hold up every other one.  Run those on a
 * client of their own (kx_redis_create() with the same configuration and
 * a timeout longer than the block time).
 */


#ifndef _KX_REDIS_H_INCLUDED_
#define _KX_REDIS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include <hiredis/hiredis.h>
#include <hiredis/async.h>


typedef struct kx_redis_s      kx_redis_t;
typedef struct kx_redis_cmd_s  kx_redis_cmd_t;
typedef struct kx_redis_sub_s  kx_redis_sub_t;


typedef enum {
    KX_REDIS_OK = 0,         /* reply: the server's answer */
    KX_REDIS_ERROR,          /* reply: an error reply from the server */
    KX_REDIS_TIMEOUT,        /* no answer in time (the connection resets) */
    KX_REDIS_UNAVAILABLE,    /* not connected: the server is down */
    KX_REDIS_CONN_LOST       /* connection lost with the command in flight */
} kx_redis_status_e;


typedef void (*kx_redis_handler_pt)(kx_redis_status_e status,
    redisReply *reply, void *data);


typedef enum {
    KX_REDIS_SUB_MESSAGE = 0,    /* channel, message */
    KX_REDIS_SUB_SUBSCRIBED,     /* (re)subscribed: channel; message NULL */
    KX_REDIS_SUB_LOST            /* connection lost: messages may be missed
                                    until the next SUBSCRIBED */
} kx_redis_sub_event_e;


/* for a pattern subscription, channel is the channel a message went to */
typedef void (*kx_redis_message_pt)(kx_redis_sub_event_e event,
    ngx_str_t *channel, ngx_str_t *message, void *data);


typedef struct {
    u_char               host[NGX_SOCKADDR_STRLEN + 1];  /* an address,
                                                            or a path */
    int                  port;             /* 0: host is a Unix socket */
    ngx_str_t            target;           /* "host:port", "unix:path" */
    ngx_str_t            password;         /* empty: no AUTH */
    ngx_int_t            db;               /* 0: no SELECT */
    ngx_msec_t           timeout;          /* per command */
    ngx_msec_t           connect_timeout;
    ngx_msec_t           backoff_min;
    ngx_msec_t           backoff_max;
} kx_redis_conf_t;


/*
 * configuration time: "ip:port" or "name:port" (resolved now), or
 * "unix:path"
 */
char *kx_redis_conf_addr(ngx_conf_t *cf, ngx_str_t *addr,
    kx_redis_conf_t *conf);

/* per worker: create (and start connecting), and close everything */
kx_redis_t *kx_redis_create(kx_redis_conf_t *conf, ngx_log_t *log);
void kx_redis_destroy(kx_redis_t *rd);

/* binary-safe arguments; timeout 0: the configured one */
kx_redis_cmd_t *kx_redis_command(kx_redis_t *rd, ngx_str_t *args,
    ngx_uint_t nargs, ngx_msec_t timeout, kx_redis_handler_pt handler,
    void *data);

/* the handler of cmd will never be called; cmd is invalid afterwards */
void kx_redis_cancel(kx_redis_cmd_t *cmd);

/*
 * Subscriptions live until kx_redis_unsubscribe() and survive reconnects:
 * they are subscribed again on every new subscriber connection.
 */
kx_redis_sub_t *kx_redis_subscribe(kx_redis_t *rd, ngx_str_t *channel,
    ngx_uint_t pattern, kx_redis_message_pt handler, void *data);
void kx_redis_unsubscribe(kx_redis_sub_t *sub);

ngx_uint_t kx_redis_available(kx_redis_t *rd);
const char *kx_redis_status_text(kx_redis_status_e status);


#endif /* _KX_REDIS_H_INCLUDED_ */
