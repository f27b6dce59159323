
/*
 * Copyright (C) Kianax
 *
 * The WebSocket side of the notification service, shared by its files:
 *
 *   ngx_http_kx_notify_module.c   directives, REST endpoints, the
 *                                 kx:events consumer
 *   kx_ws_conn.c                  one WebSocket: handshake, frames in,
 *                                 queued frames out, close
 *   kx_ws_hub.c                   the worker's fan-out: symbol and user
 *                                 channels on Redis, replay of missed
 *                                 user events
 */


#ifndef _KX_WS_CONN_H_INCLUDED_
#define _KX_WS_CONN_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_kx.h"
#include "ngx_http_kx_io.h"
#include "notify/kx_notify_proto.h"
#include "notify/kx_outq.h"


typedef struct kx_ws_conn_s    kx_ws_conn_t;
typedef struct kx_ws_user_s    kx_ws_user_t;
typedef struct kx_ws_csub_s    kx_ws_csub_t;
typedef struct kx_ws_replay_s  kx_ws_replay_t;


typedef struct {
    ngx_flag_t              events;         /* kx_notify_events */
    ngx_str_t               consumer;       /* kx_notify_events_consumer */
    ngx_msec_t              ping_interval;
    ngx_msec_t              auth_timeout;
    ngx_msec_t              send_timeout;
    size_t                  max_message;
    ngx_uint_t              queue_messages;
    size_t                  queue_bytes;

    ngx_uint_t              ws_enabled;     /* a location has kx_notify_ws */
    ngx_int_t               sub_index;      /* $kx_jwt_sub */
    ngx_int_t               request_id_index;
    ngx_int_t               exp_index;      /* $kx_jwt_claim_exp */
} kx_notify_main_conf_t;


/* a socket's subscription to one symbol, in the symbol's list */
struct kx_ws_csub_s {
    ngx_queue_t             link;           /* the symbol's sockets */
    kx_ws_conn_t           *conn;
    kx_ws_csub_t           *next;           /* the socket's symbols */
    ngx_uint_t              sym;
};


struct kx_ws_conn_s {
    ngx_connection_t       *c;
    kx_notify_main_conf_t  *nmcf;
    void                  **main_conf;      /* of the handshake's location: */
    void                  **loc_conf;       /* kx_jwt settings for "auth" */
    ngx_queue_t             all;            /* every socket of the worker */

    kx_outq_t               out;
    kx_ws_csub_t           *subs;

    kx_ws_user_t           *user;
    ngx_queue_t             user_link;
    kx_stream_id_t          last_sent;      /* user events */
    kx_stream_id_t          resume_from;    /* asked before "auth" */
    uint64_t                since_ms;       /* opened, wall clock */
    time_t                  exp;            /* the token's, 0: none */
    kx_ws_replay_t         *replay;

    u_char                 *rbuf;           /* a partial frame, or NULL */
    size_t                  rlen;
    size_t                  rcap;
    u_char                 *msg;            /* a fragmented message */
    size_t                  mlen;
    unsigned                msg_op;         /* its opcode, 0: none */

    unsigned                authed:1;
    unsigned                resume:1;       /* resume_from is set */
    unsigned                gap:1;          /* Redis lost user events */
    unsigned                awaiting_pong:1;
    unsigned                close_sent:1;
    unsigned                closing:1;      /* close the TCP once flushed */
    unsigned                failed:1;       /* fail code set, not yet sent */
    unsigned                drop:1;         /* drop the queue: overflow */
    unsigned                fail_code:14;
};


/* a counter of /metrics (kx_notify_*_total) */
#define kx_ws_count(series, n)                                                \
    ngx_http_kx_metrics_count((ngx_cycle_t *) ngx_cycle, series, n)


/* kx_ws_conn.c */
ngx_int_t kx_ws_handshake(ngx_http_request_t *r);
void kx_ws_conn_push(kx_ws_conn_t *wc, kx_outq_msg_t *m, uint32_t key);
void kx_ws_conn_send_text(kx_ws_conn_t *wc, const char *s, size_t len);
void kx_ws_conn_send_error(kx_ws_conn_t *wc, const char *code,
    const char *message);
/* closes with code once the event loop is back (safe inside fan-out) */
void kx_ws_conn_fail(kx_ws_conn_t *wc, unsigned code);
void kx_ws_conns_shutdown(void);

/* a whole text frame made of the payload, refs 1; NULL: no memory */
kx_outq_msg_t *kx_ws_text_msg(const u_char *payload, size_t len);

/* kx_ws_hub.c */
ngx_int_t kx_ws_hub_init(ngx_cycle_t *cycle, kx_notify_main_conf_t *nmcf);
void kx_ws_hub_exit(void);
ngx_uint_t kx_ws_hub_exiting(void);
void kx_ws_hub_add(kx_ws_conn_t *wc);
/* detaches the socket from everything (before it is freed) */
void kx_ws_hub_remove(kx_ws_conn_t *wc);
ngx_int_t kx_ws_hub_subscribe(kx_ws_conn_t *wc, ngx_uint_t sym);
void kx_ws_hub_unsubscribe(kx_ws_conn_t *wc, ngx_uint_t sym);
ngx_int_t kx_ws_hub_user(kx_ws_conn_t *wc, u_char *uid, size_t len);
/* the socket's user id (lower case) */
ngx_str_t *kx_ws_hub_user_id(kx_ws_conn_t *wc);
/* replay from wc->resume_from, then live events (user attached first) */
ngx_int_t kx_ws_hub_resume(kx_ws_conn_t *wc);
/* the queue drained: the next page of a replay may go */
void kx_ws_hub_drained(kx_ws_conn_t *wc);
ngx_queue_t *kx_ws_hub_conns(void);


#endif /* _KX_WS_CONN_H_INCLUDED_ */
