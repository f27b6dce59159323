
/*
 * Copyright (C) Kianax
 *
 * The worker's fan-out of live quotes and user events to its WebSockets.
 *
 * Quotes (contract C1): a worker subscribes to kx:quote:<SYM> while at
 * least one of its sockets wants SYM.  Each published message becomes
 * ONE text frame (header + the published bytes, untouched), shared by
 * reference among the symbol's sockets; a socket's queue replaces an
 * unwritten older quote of the same symbol with it.
 *
 * User events (C3, C5): a worker subscribes to kx:user:<uid> while the
 * user has a socket here, and converts each message once for all of
 * them.  Replay of what a client missed (?last_event_id=, or "resume")
 * reads kx:events:user:<uid> with XRANGE only once the subscription is
 * confirmed, buffering live events meanwhile, so nothing falls between
 * the two; every socket remembers the last entry id it sent and drops
 * anything not newer.  The same replay fills the gap when the Redis
 * subscriber connection was lost and comes back.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_kx.h"
#include "kx_ws_conn.h"
#include "core/kx_utf8.h"
#include "market/kx_symbols.h"


#define KX_WS_REPLAY_PAGE    100
#define KX_WS_REPLAY_FIELDS  32
#define KX_WS_REPLAY_RETRY   250
#define KX_WS_REPLAY_TRIES   20


typedef struct {
    ngx_queue_t             conns;          /* kx_ws_csub_t */
    ngx_uint_t              n;
    ngx_uint_t              index;
    kx_redis_sub_t         *sub;
} kx_ws_sym_t;


struct kx_ws_user_s {
    ngx_str_node_t          sn;
    ngx_queue_t             conns;          /* kx_ws_conn_t.user_link */
    ngx_uint_t              n;
    kx_redis_sub_t         *sub;
    unsigned                subscribed:1;
    u_char                  uid[KX_NOTIFY_UID_MAX];
};


struct kx_ws_replay_s {
    kx_redis_cmd_t         *cmd;
    kx_ws_conn_t           *conn;
    ngx_event_t             retry;          /* Redis reconnecting */
    ngx_uint_t              tries;
    kx_stream_id_t          from;           /* exclusive */
    kx_outq_msg_t         **pending;        /* live events meanwhile */
    kx_stream_id_t         *pending_ids;
    ngx_uint_t              npending;
    ngx_uint_t              cap;
    unsigned                waiting:1;      /* for the subscription */
    unsigned                more:1;         /* next page once drained */
    unsigned                again:1;        /* lost events meanwhile */
};


typedef struct {
    kx_notify_main_conf_t  *nmcf;
    kx_redis_t             *redis;
    kx_redis_t             *users_redis;    /* user channels: our own */
    ngx_log_t              *log;
    ngx_queue_t             conns;
    kx_ws_sym_t            *syms;
    ngx_uint_t              nsyms;
    ngx_rbtree_t            users;
    ngx_rbtree_node_t       sentinel;
    ngx_uint_t              exiting;
} kx_ws_hub_t;


static void kx_ws_hub_quote(kx_redis_sub_event_e event, ngx_str_t *channel,
    ngx_str_t *message, void *data);
static void kx_ws_hub_user_event(kx_redis_sub_event_e event,
    ngx_str_t *channel, ngx_str_t *message, void *data);
static void kx_ws_hub_user_message(kx_ws_user_t *u, ngx_str_t *message);
static ngx_int_t kx_ws_hub_replay_start(kx_ws_conn_t *wc,
    kx_stream_id_t *from);
static void kx_ws_hub_replay_fetch(kx_ws_conn_t *wc);
static void kx_ws_hub_replay_retry(ngx_event_t *ev);
static void kx_ws_hub_replay_done(kx_redis_status_e status,
    redisReply *reply, void *data);
static void kx_ws_hub_replay_entry(kx_ws_conn_t *wc, redisReply *e);
static void kx_ws_hub_replay_finish(kx_ws_conn_t *wc);
static void kx_ws_hub_replay_free(kx_ws_conn_t *wc);
static void kx_ws_hub_deliver(kx_ws_conn_t *wc, kx_outq_msg_t *m,
    kx_stream_id_t *id);


static kx_ws_hub_t  kx_ws_hub;


ngx_int_t
kx_ws_hub_init(ngx_cycle_t *cycle, kx_notify_main_conf_t *nmcf)
{
    ngx_uint_t  i;

    kx_ws_hub.nmcf = nmcf;
    kx_ws_hub.log = cycle->log;
    kx_ws_hub.redis = ngx_http_kx_io_redis_cycle(cycle);
    kx_ws_hub.exiting = 0;

    ngx_queue_init(&kx_ws_hub.conns);
    ngx_rbtree_init(&kx_ws_hub.users, &kx_ws_hub.sentinel,
                    ngx_str_rbtree_insert_value);

    if (kx_ws_hub.redis == NULL) {
        ngx_log_error(NGX_LOG_WARN, cycle->log, 0,
                      "kx_notify: no kx_redis_addr, so no quotes and no "
                      "user events reach WebSockets");

    } else {
        /*
         * A client matches each message against its subscriptions one by
         * one: thousands of user channels beside the few dozen symbols
         * would cost every quote that scan.  They get a connection of
         * their own.
         */
        kx_ws_hub.users_redis = kx_redis_create(
                                    ngx_http_kx_io_redis_conf(cycle),
                                    cycle->log);
        if (kx_ws_hub.users_redis == NULL) {
            return NGX_ERROR;
        }
    }

    kx_ws_hub.nsyms = kx_symbols_count();
    kx_ws_hub.syms = ngx_calloc(kx_ws_hub.nsyms * sizeof(kx_ws_sym_t),
                                cycle->log);
    if (kx_ws_hub.syms == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < kx_ws_hub.nsyms; i++) {
        ngx_queue_init(&kx_ws_hub.syms[i].conns);
        kx_ws_hub.syms[i].index = i;
    }

    return NGX_OK;
}


/* after the io module closed Redis (it exits first): no Redis calls */

void
kx_ws_hub_exit(void)
{
    if (kx_ws_hub.syms == NULL) {
        return;
    }

    kx_ws_hub.exiting = 1;

    kx_ws_conns_shutdown();

    if (kx_ws_hub.users_redis) {
        kx_redis_destroy(kx_ws_hub.users_redis);
        kx_ws_hub.users_redis = NULL;
    }

    ngx_free(kx_ws_hub.syms);
    kx_ws_hub.syms = NULL;
}


ngx_uint_t
kx_ws_hub_exiting(void)
{
    return kx_ws_hub.exiting;
}


ngx_queue_t *
kx_ws_hub_conns(void)
{
    return &kx_ws_hub.conns;
}


void
kx_ws_hub_add(kx_ws_conn_t *wc)
{
    ngx_time_t  *tp;

    tp = ngx_timeofday();
    wc->since_ms = (uint64_t) tp->sec * 1000 + tp->msec;

    ngx_queue_insert_tail(&kx_ws_hub.conns, &wc->all);
}


void
kx_ws_hub_remove(kx_ws_conn_t *wc)
{
    kx_ws_user_t  *u;

    while (wc->subs) {
        kx_ws_hub_unsubscribe(wc, wc->subs->sym);
    }

    kx_ws_hub_replay_free(wc);

    u = wc->user;

    if (u) {
        ngx_queue_remove(&wc->user_link);
        wc->user = NULL;

        if (--u->n == 0) {
            if (u->sub && !kx_ws_hub.exiting) {
                kx_redis_unsubscribe(u->sub);
            }

            ngx_rbtree_delete(&kx_ws_hub.users, &u->sn.node);
            ngx_free(u);
        }
    }

    if (wc->all.next) {
        ngx_queue_remove(&wc->all);
        wc->all.next = NULL;
    }
}


/* quotes */

ngx_int_t
kx_ws_hub_subscribe(kx_ws_conn_t *wc, ngx_uint_t sym)
{
    u_char        *p;
    ngx_str_t      channel;
    kx_ws_sym_t   *s;
    kx_ws_csub_t  *cs;
    u_char         buf[sizeof("kx:quote:") + KX_SYMBOL_MAX_LEN];

    if (sym >= kx_ws_hub.nsyms) {
        return NGX_OK;
    }

    for (cs = wc->subs; cs; cs = cs->next) {
        if (cs->sym == sym) {
            return NGX_OK;
        }
    }

    cs = ngx_alloc(sizeof(kx_ws_csub_t), wc->c->log);
    if (cs == NULL) {
        return NGX_ERROR;
    }

    s = &kx_ws_hub.syms[sym];

    cs->conn = wc;
    cs->sym = sym;
    cs->next = wc->subs;
    wc->subs = cs;

    ngx_queue_insert_tail(&s->conns, &cs->link);

    if (s->n++ == 0 && kx_ws_hub.redis) {
        p = ngx_sprintf(buf, "kx:quote:%s", kx_symbol_at(sym)->symbol);
        channel.data = buf;
        channel.len = p - buf;

        s->sub = kx_redis_subscribe(kx_ws_hub.redis, &channel, 0,
                                    kx_ws_hub_quote, s);
        if (s->sub == NULL) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


void
kx_ws_hub_unsubscribe(kx_ws_conn_t *wc, ngx_uint_t sym)
{
    kx_ws_sym_t   *s;
    kx_ws_csub_t  *cs, **prev;

    for (prev = &wc->subs, cs = wc->subs; cs; prev = &cs->next, cs = cs->next)
    {
        if (cs->sym == sym) {
            break;
        }
    }

    if (cs == NULL) {
        return;
    }

    *prev = cs->next;
    ngx_queue_remove(&cs->link);
    ngx_free(cs);

    s = &kx_ws_hub.syms[sym];

    if (--s->n == 0 && s->sub) {
        if (!kx_ws_hub.exiting) {
            kx_redis_unsubscribe(s->sub);
        }

        s->sub = NULL;
    }
}


/* the hot path: one frame per published quote, shared by its sockets */

static void
kx_ws_hub_quote(kx_redis_sub_event_e event, ngx_str_t *channel,
    ngx_str_t *message, void *data)
{
    kx_ws_sym_t *s = data;

    ngx_queue_t    *q;
    kx_ws_csub_t   *cs;
    kx_outq_msg_t  *m;

    if (event != KX_REDIS_SUB_MESSAGE || ngx_queue_empty(&s->conns)) {
        return;
    }

    /* a text frame must be UTF-8; checked once, not per socket */
    if (kx_utf8_validate((const char *) message->data, message->len)
        != message->len)
    {
        ngx_log_error(NGX_LOG_WARN, kx_ws_hub.log, 0,
                      "kx_notify: a message on \"%V\" is not UTF-8, dropped",
                      channel);
        return;
    }

    m = kx_ws_text_msg(message->data, message->len);
    if (m == NULL) {
        return;
    }

    for (q = ngx_queue_head(&s->conns);
         q != ngx_queue_sentinel(&s->conns);
         q = ngx_queue_next(q))
    {
        cs = ngx_queue_data(q, kx_ws_csub_t, link);
        kx_ws_conn_push(cs->conn, m, (uint32_t) s->index + 1);
    }

    kx_outq_msg_unref(m);

    kx_ws_count("kx_notify_quotes_total", 1);
    kx_ws_count("kx_notify_quote_deliveries_total", s->n);
}


/* users */

ngx_int_t
kx_ws_hub_user(kx_ws_conn_t *wc, u_char *uid, size_t len)
{
    u_char        *p;
    uint32_t       hash;
    ngx_str_t      key, channel;
    ngx_uint_t     i;
    kx_ws_user_t  *u;
    u_char         lc[KX_NOTIFY_UID_MAX];
    u_char         buf[sizeof("kx:user:") + KX_NOTIFY_UID_MAX];

    if (len > KX_NOTIFY_UID_MAX) {
        return NGX_ERROR;
    }

    /* one channel per user, whatever case the token used */
    for (i = 0; i < len; i++) {
        lc[i] = ngx_tolower(uid[i]);
    }

    key.data = lc;
    key.len = len;
    hash = ngx_crc32_short(lc, len);

    u = (kx_ws_user_t *) ngx_str_rbtree_lookup(&kx_ws_hub.users, &key, hash);

    if (u == NULL) {
        u = ngx_calloc(sizeof(kx_ws_user_t), wc->c->log);
        if (u == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(u->uid, lc, len);
        u->sn.str.data = u->uid;
        u->sn.str.len = len;
        u->sn.node.key = hash;
        ngx_queue_init(&u->conns);

        ngx_rbtree_insert(&kx_ws_hub.users, &u->sn.node);

        if (kx_ws_hub.users_redis) {
            p = ngx_sprintf(buf, "kx:user:%*s", len, lc);
            channel.data = buf;
            channel.len = p - buf;

            u->sub = kx_redis_subscribe(kx_ws_hub.users_redis, &channel, 0,
                                        kx_ws_hub_user_event, u);
        }
    }

    u->n++;
    wc->user = u;
    ngx_queue_insert_tail(&u->conns, &wc->user_link);

    return NGX_OK;
}


ngx_str_t *
kx_ws_hub_user_id(kx_ws_conn_t *wc)
{
    return &wc->user->sn.str;
}


static void
kx_ws_hub_user_event(kx_redis_sub_event_e event, ngx_str_t *channel,
    ngx_str_t *message, void *data)
{
    kx_ws_user_t *u = data;

    ngx_queue_t     *q, *next;
    kx_ws_conn_t    *wc;
    kx_stream_id_t   from;

    switch (event) {

    case KX_REDIS_SUB_MESSAGE:
        kx_ws_hub_user_message(u, message);
        return;

    case KX_REDIS_SUB_LOST:
        u->subscribed = 0;

        for (q = ngx_queue_head(&u->conns);
             q != ngx_queue_sentinel(&u->conns);
             q = ngx_queue_next(q))
        {
            wc = ngx_queue_data(q, kx_ws_conn_t, user_link);
            wc->gap = 1;
        }

        return;

    case KX_REDIS_SUB_SUBSCRIBED:
        u->subscribed = 1;

        for (q = ngx_queue_head(&u->conns);
             q != ngx_queue_sentinel(&u->conns);
             q = next)
        {
            next = ngx_queue_next(q);
            wc = ngx_queue_data(q, kx_ws_conn_t, user_link);

            if (wc->replay) {
                if (wc->replay->waiting) {
                    wc->replay->waiting = 0;
                    kx_ws_hub_replay_fetch(wc);

                } else if (wc->gap) {
                    wc->replay->again = 1;
                }

                wc->gap = 0;
                continue;
            }

            if (wc->gap) {
                /* what was published while the subscriber was away */
                wc->gap = 0;

                from = wc->last_sent;

                if (from.ms == 0 && from.seq == 0) {
                    from.ms = wc->since_ms;
                }

                if (kx_ws_hub_replay_start(wc, &from) != NGX_OK) {
                    kx_ws_conn_fail(wc, 1011);
                }
            }
        }

        return;
    }
}


static void
kx_ws_hub_user_message(kx_ws_user_t *u, ngx_str_t *message)
{
    size_t           len;
    kx_jw_t          w;
    const char      *out;
    ngx_queue_t     *q;
    kx_ws_conn_t    *wc;
    kx_outq_msg_t   *m;
    kx_stream_id_t   id;

    if (ngx_queue_empty(&u->conns)) {
        return;
    }

    kx_jw_init(&w);

    if (kx_notify_event_from_publish((const char *) message->data,
                                     message->len, &w, &id) != 0
        || kx_jw_finish(&w, &out, &len) != 0)
    {
        ngx_log_error(NGX_LOG_WARN, kx_ws_hub.log, 0,
                      "kx_notify: a malformed event for user %V dropped",
                      &u->sn.str);
        kx_jw_free(&w);
        return;
    }

    m = kx_ws_text_msg((const u_char *) out, len);
    kx_jw_free(&w);

    if (m == NULL) {
        return;
    }

    for (q = ngx_queue_head(&u->conns);
         q != ngx_queue_sentinel(&u->conns);
         q = ngx_queue_next(q))
    {
        wc = ngx_queue_data(q, kx_ws_conn_t, user_link);
        kx_ws_hub_deliver(wc, m, &id);
    }

    kx_outq_msg_unref(m);

    kx_ws_count("kx_notify_user_events_total", 1);
}


/* in order, once: a replay buffers live events until it is done */

static void
kx_ws_hub_deliver(kx_ws_conn_t *wc, kx_outq_msg_t *m, kx_stream_id_t *id)
{
    ngx_uint_t       cap;
    kx_outq_msg_t  **pm;
    kx_stream_id_t  *pi;
    kx_ws_replay_t  *r;

    r = wc->replay;

    if (r == NULL) {
        if (kx_stream_id_cmp(id, &wc->last_sent) > 0) {
            wc->last_sent = *id;
            kx_ws_conn_push(wc, m, 0);
        }

        return;
    }

    if (r->npending == r->cap) {
        cap = r->cap ? r->cap * 2 : 8;

        if (cap > wc->nmcf->queue_messages) {
            kx_ws_conn_fail(wc, 1008);
            return;
        }

        pm = ngx_alloc(cap * (sizeof(kx_outq_msg_t *)
                              + sizeof(kx_stream_id_t)), wc->c->log);
        if (pm == NULL) {
            kx_ws_conn_fail(wc, 1011);
            return;
        }

        pi = (kx_stream_id_t *) (pm + cap);

        if (r->npending) {
            ngx_memcpy(pm, r->pending, r->npending * sizeof(kx_outq_msg_t *));
            ngx_memcpy(pi, r->pending_ids,
                       r->npending * sizeof(kx_stream_id_t));
            ngx_free(r->pending);
        }

        r->pending = pm;
        r->pending_ids = pi;
        r->cap = cap;
    }

    r->pending[r->npending] = kx_outq_msg_ref(m);
    r->pending_ids[r->npending] = *id;
    r->npending++;
}


/* replay */

ngx_int_t
kx_ws_hub_resume(kx_ws_conn_t *wc)
{
    kx_stream_id_t  from;

    wc->resume = 0;
    from = wc->resume_from;

    /* nothing at or before the client's id goes out again */
    if (kx_stream_id_cmp(&from, &wc->last_sent) > 0) {
        wc->last_sent = from;
    }

    return kx_ws_hub_replay_start(wc, &from);
}


static ngx_int_t
kx_ws_hub_replay_start(kx_ws_conn_t *wc, kx_stream_id_t *from)
{
    kx_ws_replay_t  *r;

    if (wc->replay) {
        wc->replay->again = 1;
        return NGX_OK;
    }

    r = ngx_calloc(sizeof(kx_ws_replay_t), wc->c->log);
    if (r == NULL) {
        return NGX_ERROR;
    }

    r->from = *from;
    r->conn = wc;
    r->retry.handler = kx_ws_hub_replay_retry;
    r->retry.data = r;
    r->retry.log = wc->c->log;
    r->retry.cancelable = 1;
    wc->replay = r;

    if (wc->user && wc->user->subscribed) {
        kx_ws_hub_replay_fetch(wc);

    } else {
        r->waiting = 1;
    }

    return NGX_OK;
}


static void
kx_ws_hub_replay_fetch(kx_ws_conn_t *wc)
{
    u_char          *p;
    ngx_str_t        args[6];
    kx_ws_replay_t  *r;
    u_char           key[sizeof("kx:events:user:") + KX_NOTIFY_UID_MAX];
    u_char           from[48];

    r = wc->replay;

    if (kx_ws_hub.redis == NULL) {
        kx_ws_conn_fail(wc, 1011);
        return;
    }

    p = ngx_sprintf(key, "kx:events:user:%V", &wc->user->sn.str);
    args[1].data = key;
    args[1].len = p - key;

    from[0] = '(';
    args[2].data = from;
    args[2].len = 1 + kx_stream_id_format(&r->from, (char *) from + 1);

    ngx_str_set(&args[0], "XRANGE");
    ngx_str_set(&args[3], "+");
    ngx_str_set(&args[4], "COUNT");
    ngx_str_set(&args[5], "100");

    r->cmd = kx_redis_command(kx_ws_hub.redis, args, 6, 0,
                              kx_ws_hub_replay_done, wc);
    if (r->cmd == NULL) {
        kx_ws_conn_fail(wc, 1011);
    }
}


static void
kx_ws_hub_replay_done(kx_redis_status_e status, redisReply *reply,
    void *data)
{
    kx_ws_conn_t *wc = data;

    size_t           i;
    kx_ws_replay_t  *r;

    r = wc->replay;
    r->cmd = NULL;

    if ((status == KX_REDIS_UNAVAILABLE || status == KX_REDIS_CONN_LOST)
        && r->tries++ < KX_WS_REPLAY_TRIES && !ngx_exiting)
    {
        /* Redis is coming back (its links reconnect one by one) */
        ngx_add_timer(&r->retry, KX_WS_REPLAY_RETRY);
        return;
    }

    if (status != KX_REDIS_OK || reply->type != REDIS_REPLY_ARRAY) {
        ngx_log_error(NGX_LOG_WARN, wc->c->log, 0,
                      "kx_notify: replay for user %V failed: %s",
                      &wc->user->sn.str, kx_redis_status_text(status));

        kx_ws_conn_send_error(wc, "replay_unavailable",
                              "missed events cannot be read now; "
                              "reconnect with the same last_event_id");
        kx_ws_conn_fail(wc, 1013);
        return;
    }

    r->tries = 0;

    for (i = 0; i < reply->elements; i++) {
        kx_ws_hub_replay_entry(wc, reply->element[i]);
    }

    if (reply->elements) {
        kx_ws_count("kx_notify_replayed_events_total", reply->elements);
    }

    if (reply->elements == KX_WS_REPLAY_PAGE) {
        if (kx_outq_empty(&wc->out)) {
            kx_ws_hub_replay_fetch(wc);

        } else {
            /* the next page when this one is written */
            r->more = 1;
        }

        return;
    }

    kx_ws_hub_replay_finish(wc);
}


static void
kx_ws_hub_replay_entry(kx_ws_conn_t *wc, redisReply *e)
{
    size_t           i, n, len;
    kx_jw_t          w;
    const char      *out;
    redisReply      *id, *fl;
    kx_outq_msg_t   *m;
    kx_stream_id_t   sid;
    size_t           lens[KX_WS_REPLAY_FIELDS];
    const char      *fields[KX_WS_REPLAY_FIELDS];

    if (e->type != REDIS_REPLY_ARRAY || e->elements < 2) {
        return;
    }

    id = e->element[0];
    fl = e->element[1];

    if (id->type != REDIS_REPLY_STRING || fl->type != REDIS_REPLY_ARRAY
        || kx_stream_id_parse(id->str, id->len, &sid) != 0)
    {
        return;
    }

    wc->replay->from = sid;

    n = ngx_min(fl->elements, KX_WS_REPLAY_FIELDS);

    for (i = 0; i < n; i++) {
        if (fl->element[i]->type != REDIS_REPLY_STRING) {
            return;
        }

        fields[i] = fl->element[i]->str;
        lens[i] = fl->element[i]->len;
    }

    kx_jw_init(&w);

    if (kx_notify_event_from_fields(id->str, id->len, fields, lens, n, &w)
        == 0
        && kx_jw_finish(&w, &out, &len) == 0
        && kx_stream_id_cmp(&sid, &wc->last_sent) > 0)
    {
        m = kx_ws_text_msg((const u_char *) out, len);

        if (m) {
            wc->last_sent = sid;
            kx_ws_conn_push(wc, m, 0);
            kx_outq_msg_unref(m);
        }
    }

    kx_jw_free(&w);
}


static void
kx_ws_hub_replay_finish(kx_ws_conn_t *wc)
{
    ngx_uint_t       i, again;
    kx_ws_replay_t  *r;
    kx_stream_id_t   from;

    r = wc->replay;

    for (i = 0; i < r->npending; i++) {
        if (kx_stream_id_cmp(&r->pending_ids[i], &wc->last_sent) > 0) {
            wc->last_sent = r->pending_ids[i];
            kx_ws_conn_push(wc, r->pending[i], 0);
        }
    }

    again = r->again;
    kx_ws_hub_replay_free(wc);

    if (again) {
        from = wc->last_sent;

        if (kx_ws_hub_replay_start(wc, &from) != NGX_OK) {
            kx_ws_conn_fail(wc, 1011);
        }
    }
}


static void
kx_ws_hub_replay_retry(ngx_event_t *ev)
{
    kx_ws_replay_t *r = ev->data;

    kx_ws_hub_replay_fetch(r->conn);
}


void
kx_ws_hub_drained(kx_ws_conn_t *wc)
{
    if (wc->replay && wc->replay->more && wc->replay->cmd == NULL) {
        wc->replay->more = 0;
        kx_ws_hub_replay_fetch(wc);
    }
}


static void
kx_ws_hub_replay_free(kx_ws_conn_t *wc)
{
    ngx_uint_t       i;
    kx_ws_replay_t  *r;

    r = wc->replay;

    if (r == NULL) {
        return;
    }

    if (r->cmd && !kx_ws_hub.exiting) {
        kx_redis_cancel(r->cmd);
    }

    if (r->retry.timer_set) {
        ngx_del_timer(&r->retry);
    }

    for (i = 0; i < r->npending; i++) {
        kx_outq_msg_unref(r->pending[i]);
    }

    if (r->pending) {
        ngx_free(r->pending);
    }

    ngx_free(r);
    wc->replay = NULL;
}
