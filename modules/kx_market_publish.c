
/*
 * Copyright (C) Kianax
 *
 * The quote publisher (contracts C1 and C2), in worker 0 of the market
 * instance only.  Every kx_market_publish_interval it
 *
 *   - lets the provider make its quotes (live_poll: the simulated market
 *     ticks; a streaming provider has pushed them meanwhile), keeping
 *     the newest quote of each symbol;
 *   - for each symbol whose quote changed since the previous tick,
 *     pipelines  SET kx:mkt:<source>:quote:<SYM> <body> PX <ttl>  (the
 *     cache GET /v1/quotes/<SYM> reads, so every worker answers with the
 *     published quote) and  PUBLISH kx:quote:<SYM> {"type":"quote",...};
 *   - publishes {"type":"market.opened"|"market.closed","at":...} on
 *     kx:market for every session transition since the previous check
 *     (kx_session.h; none in "always" hours).
 *
 * With several market instances on one Redis, only the holder of the
 * publisher lease (kx_market_lease.c) sends.
 *
 * Nothing waits: commands go out on the shared pipelined connection and
 * their replies are only counted.  While Redis is down, or more than a
 * few ticks of commands are unanswered, quotes stay pending (newest
 * wins) and go out at the first tick Redis takes them again.  Session
 * events are never dropped for that: they wait, in order.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_kx.h"
#include "ngx_http_kx_io.h"
#include "kx_market.h"
#include "market/kx_session.h"


#define KX_PUB_SESSION_MAX   8
#define KX_PUB_MSG_MAX       1024


typedef struct {
    kx_market_quote_t   q;
    ngx_uint_t          dirty;
} kx_market_pub_quote_t;


static void kx_market_publish_tick(ngx_event_t *ev);
static void kx_market_publish_quote(const kx_market_quote_t *q,
    void *data);
static ngx_uint_t kx_market_publish_send(kx_redis_t *rd,
    kx_market_pub_quote_t *pq);
static void kx_market_publish_sessions(kx_redis_t *rd, int64_t now);
static void kx_market_publish_done(kx_redis_status_e status,
    redisReply *reply, void *data);


static ngx_event_t                      kx_market_pub_ev;
/* the timer's data: nginx's debug log reads it as a connection */
static ngx_connection_t                 kx_market_pub_conn;
static ngx_http_kx_market_main_conf_t  *kx_market_pub_mmcf;
static kx_market_pub_quote_t           *kx_market_pub_quotes;
static ngx_uint_t                       kx_market_pub_inflight;
static int64_t                          kx_market_pub_session_ms;

/* transitions seen but not yet sent (Redis was away) */
static kx_session_event_t  kx_market_pub_pending[KX_PUB_SESSION_MAX];
static size_t              kx_market_pub_npending;


ngx_int_t
kx_market_publish_init(ngx_cycle_t *cycle,
    ngx_http_kx_market_main_conf_t *mmcf)
{
    kx_market_provider_t  *p;

    p = mmcf->provider;

    if (mmcf->publish_interval == 0 || p->live_start == NULL) {
        return NGX_OK;
    }

    if (ngx_http_kx_io_redis_cycle(cycle) == NULL) {
        ngx_log_error(NGX_LOG_WARN, cycle->log, 0,
                      "kx_market: no kx_redis_addr, quotes are not "
                      "published");
        return NGX_OK;
    }

    kx_market_pub_quotes = ngx_calloc(KX_SIM_MAX_SYMBOLS
                                      * sizeof(kx_market_pub_quote_t),
                                      cycle->log);
    if (kx_market_pub_quotes == NULL) {
        return NGX_ERROR;
    }

    kx_market_pub_mmcf = mmcf;
    kx_market_pub_inflight = 0;
    kx_market_pub_npending = 0;
    kx_market_pub_session_ms = kx_market_now(mmcf);

    if (p->live_start(mmcf->provider_conf, cycle, kx_market_publish_quote,
                      NULL)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ERR, cycle->log, 0,
                      "kx_market: the %s provider has no live quotes",
                      p->name);
        ngx_free(kx_market_pub_quotes);
        kx_market_pub_quotes = NULL;
        return NGX_OK;
    }

    kx_market_pub_ev.handler = kx_market_publish_tick;
    kx_market_pub_ev.log = cycle->log;
    kx_market_pub_conn.fd = (ngx_socket_t) -1;
    kx_market_pub_ev.data = &kx_market_pub_conn;
    kx_market_pub_ev.cancelable = 1;

    kx_market_lease_init(cycle, mmcf->publish_lease);

    ngx_add_timer(&kx_market_pub_ev, mmcf->publish_interval);

    return NGX_OK;
}


void
kx_market_publish_exit(void)
{
    if (kx_market_pub_ev.timer_set) {
        ngx_del_timer(&kx_market_pub_ev);
    }

    kx_market_lease_exit();

    if (kx_market_pub_mmcf && kx_market_pub_mmcf->provider->live_stop) {
        kx_market_pub_mmcf->provider->live_stop(
                                           kx_market_pub_mmcf->provider_conf);
    }

    if (kx_market_pub_quotes) {
        ngx_free(kx_market_pub_quotes);
        kx_market_pub_quotes = NULL;
    }

    kx_market_pub_mmcf = NULL;
}


/* a provider's live quote: the newest of each symbol waits for the tick */
static void
kx_market_publish_quote(const kx_market_quote_t *q, void *data)
{
    if (kx_market_pub_quotes == NULL || q->sym >= KX_SIM_MAX_SYMBOLS) {
        return;
    }

    kx_market_pub_quotes[q->sym].q = *q;
    kx_market_pub_quotes[q->sym].dirty = 1;
}


static void
kx_market_publish_tick(ngx_event_t *ev)
{
    int64_t                          now;
    ngx_uint_t                       i, n, sent;
    kx_redis_t                      *rd;
    kx_market_provider_t            *p;
    ngx_http_kx_market_main_conf_t  *mmcf;

    if (ngx_exiting || ngx_terminate || kx_market_pub_mmcf == NULL) {
        return;
    }

    mmcf = kx_market_pub_mmcf;
    p = mmcf->provider;
    now = kx_market_now(mmcf);

    if (p->live_poll) {
        p->live_poll(mmcf->provider_conf, now);
    }

    rd = ngx_http_kx_io_redis_cycle((ngx_cycle_t *) ngx_cycle);
    n = kx_symbols_count();

    if (!kx_market_lease_check(rd)) {
        /*
         * Not (yet) the publisher: the newest quote of each symbol stays
         * pending, to go out if this instance takes over (a streaming
         * provider may not send a symbol again soon); session events
         * are the publisher's to send.
         */
        kx_market_pub_npending = 0;
        kx_market_pub_session_ms = ngx_max(kx_market_pub_session_ms, now);

        ngx_add_timer(ev, mmcf->publish_interval);
        return;
    }

    kx_market_publish_sessions(rd, now);

    /*
     * Two commands a symbol a tick; more than four ticks of them
     * unanswered means Redis is slow: hold on, newest quotes win.
     */
    if (rd && kx_redis_available(rd)
        && kx_market_pub_inflight < 8 * n + 4 * KX_PUB_SESSION_MAX)
    {
        sent = 0;

        for (i = 0; i < n; i++) {
            if (kx_market_pub_quotes[i].dirty) {
                sent += kx_market_publish_send(rd, &kx_market_pub_quotes[i]);
            }
        }

        if (sent) {
            ngx_http_kx_metrics_count((ngx_cycle_t *) ngx_cycle,
                                      "kx_market_quotes_published_total",
                                      sent);
        }
    }

    ngx_add_timer(ev, mmcf->publish_interval);
}


/* SET the cached body and PUBLISH the message: 1 if both went out */
static ngx_uint_t
kx_market_publish_send(kx_redis_t *rd, kx_market_pub_quote_t *pq)
{
    u_char              *p;
    size_t               len;
    kx_jw_t              w;
    ngx_str_t            args[5];
    const char          *body;
    kx_redis_cmd_t      *cmd;
    const kx_symbol_t   *s;
    u_char               key[128], channel[64], ttl[NGX_INT_T_LEN];
    u_char               msg[KX_PUB_MSG_MAX];

    s = kx_symbol_at(pq->q.sym);
    if (s == NULL) {
        pq->dirty = 0;
        return 0;
    }

    kx_jw_init(&w);
    kx_sim_quote_json(&w, &pq->q);

    if (kx_jw_finish(&w, &body, &len) != 0
        || len < 2 || len + 16 > KX_PUB_MSG_MAX)
    {
        kx_jw_free(&w);
        pq->dirty = 0;
        return 0;
    }

    /* the message is the body with its type first: {"type":"quote",... */
    p = ngx_cpymem(msg, "{\"type\":\"quote\",", 16);
    p = ngx_cpymem(p, body + 1, len - 1);

    ngx_str_set(&args[0], "SET");
    args[1].data = key;
    args[1].len = ngx_sprintf(key, KX_MARKET_QUOTE_KEY,
                              &kx_market_pub_mmcf->key_prefix, s->symbol)
                  - key;
    args[2].data = (u_char *) body;
    args[2].len = len;
    ngx_str_set(&args[3], "PX");
    args[4].data = ttl;
    args[4].len = ngx_sprintf(ttl, "%M",
                              kx_market_pub_mmcf->ttl[KX_MARKET_KIND_QUOTE])
                  - ttl;

    /* SET first: a client that hears the quote and asks finds it cached */
    cmd = kx_redis_command(rd, args, 5, 0, kx_market_publish_done, NULL);
    if (cmd) {
        kx_market_pub_inflight++;
    }

    ngx_str_set(&args[0], "PUBLISH");
    args[1].data = channel;
    args[1].len = ngx_sprintf(channel, "kx:quote:%s", s->symbol) - channel;
    args[2].data = msg;
    args[2].len = p - msg;

    cmd = kx_redis_command(rd, args, 3, 0, kx_market_publish_done, NULL);
    if (cmd) {
        kx_market_pub_inflight++;
    }

    kx_jw_free(&w);

    /* sent or not, this quote is done; the next tick has a newer one */
    pq->dirty = 0;

    return cmd != NULL;
}


static void
kx_market_publish_sessions(kx_redis_t *rd, int64_t now)
{
    size_t               i, n, room;
    kx_jw_t              w;
    ngx_str_t            args[3];
    const char          *body;
    size_t               len;
    kx_session_event_t   ev[KX_PUB_SESSION_MAX];

    room = KX_PUB_SESSION_MAX - kx_market_pub_npending;

    n = kx_session_transitions((kx_sim_hours_e) kx_market_pub_mmcf->hours,
                               kx_market_pub_session_ms, now, ev,
                               room ? room : 1);

    if (now > kx_market_pub_session_ms) {
        kx_market_pub_session_ms = now;
    }

    for (i = 0; i < n; i++) {
        if (kx_market_pub_npending == KX_PUB_SESSION_MAX) {
            /* keep the newest: drop the oldest pending */
            ngx_memmove(&kx_market_pub_pending[0], &kx_market_pub_pending[1],
                        (KX_PUB_SESSION_MAX - 1)
                        * sizeof(kx_session_event_t));
            kx_market_pub_npending--;
        }

        kx_market_pub_pending[kx_market_pub_npending++] = ev[i];
    }

    if (kx_market_pub_npending == 0 || rd == NULL || !kx_redis_available(rd))
    {
        return;
    }

    for (i = 0; i < kx_market_pub_npending; i++) {
        kx_jw_init(&w);
        kx_session_event_json(&w, &kx_market_pub_pending[i]);

        if (kx_jw_finish(&w, &body, &len) == 0) {
            ngx_str_set(&args[0], "PUBLISH");
            ngx_str_set(&args[1], "kx:market");
            args[2].data = (u_char *) body;
            args[2].len = len;

            if (kx_redis_command(rd, args, 3, 0, kx_market_publish_done,
                                 NULL))
            {
                kx_market_pub_inflight++;
            }

            ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                          "kx_market: %*s", len, body);
        }

        kx_jw_free(&w);
    }

    ngx_http_kx_metrics_count((ngx_cycle_t *) ngx_cycle,
                              "kx_market_session_events_total",
                              kx_market_pub_npending);

    kx_market_pub_npending = 0;
}


static void
kx_market_publish_done(kx_redis_status_e status, redisReply *reply,
    void *data)
{
    if (kx_market_pub_inflight) {
        kx_market_pub_inflight--;
    }

    if (status != KX_REDIS_OK) {
        ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                      "kx_market: publish failed: %s",
                      kx_redis_status_text(status));
    }
}
