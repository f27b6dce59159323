
/*
 * Copyright (C) Kianax
 *
 * The market data provider port: what ngx_http_kx_market_module asks of
 * a source of quotes, bars and news, as a table of asynchronous
 * functions (the shape of nchan's store backends).  The module calls a
 * provider only on a cache miss (modules/kx_market_cache.c: Redis with
 * the seed's TTLs, one call per key in flight per worker), and the
 * publisher (modules/kx_market_publish.c, worker 0) takes its live
 * quotes from it.
 *
 *     kx_market_provider sim;                       (the default)
 *     kx_market_provider polygon key=value ...;     (H7's adapter)
 *
 * The words after the name go to the provider's configure() as they are.
 *
 * Rules every provider keeps:
 *
 *   - Nothing blocks the event loop: network I/O only through modules/io
 *     (kx_http for REST, its own connection for a WebSocket), heavy
 *     computation in a thread pool.
 *   - done() is never called from inside the call that started the work
 *     (post an event if the answer is at hand), and exactly once, unless
 *     the call was cancelled.  A call that cannot even start (no memory)
 *     returns NULL and never calls done().
 *   - A result and everything it points to belongs to the provider and
 *     lives until done() returns: the caller copies what it keeps.
 *   - Results are in our own types (src/market): exact kx_dec_t prices,
 *     times in Unix milliseconds UTC, symbols as in kx_symbols.h.  A
 *     quote's fields are those of GET /v1/quotes/:symbol (contract C1):
 *     set sym, price, bid, ask, bid_size, ask_size, open, prev_close,
 *     change_percent (2 places) and time_ms; seq may stay 0.
 *   - Bars follow kx_sim_bars' convention: bars whose start t is in
 *     [from_ms, to_ms), oldest first; with has_from the first `limit` of
 *     them, else the last `limit` (the newest before to_ms).  Completed
 *     bars only: the module never asks past the last completed one.
 *   - News: the newest `limit` items published before before_ms, newest
 *     first.  kx_market_news_t has fixed buffers for id, title, summary
 *     and url (cut what is longer); source points to memory that lives
 *     until done() returns.
 *   - Errors map to HTTP answers: NOT_FOUND 404, UNAVAILABLE 503 (down,
 *     circuit open, rate limited), TIMEOUT 504, ERROR 502.
 *
 * Everything runs in worker processes, on the event loop of the worker
 * that made the call.  conf is what configure() returned (per cycle).
 *
 * Hook for the Polygon adapter (H7): modules/kx_market_polygon.c defines
 *
 *     kx_market_provider_t  kx_market_provider_polygon = { "polygon", ... };
 *
 * The market module refers to it as a weak symbol, so the build stays
 * green without that file; `kx_market_provider polygon;` then fails at
 * configuration time with "not built in".  The adapter may use any
 * other file of its own (src/market/kx_polygon.c for parsing), but no
 * module of its own: directives go through configure().
 */


#ifndef _KX_MARKET_PROVIDER_H_INCLUDED_
#define _KX_MARKET_PROVIDER_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "market/kx_sim.h"
#include "market/kx_sim_bars.h"
#include "market/kx_sim_news.h"
#include "market/kx_symbols.h"


typedef kx_sim_quote_t  kx_market_quote_t;
typedef kx_sim_bar_t    kx_market_bar_t;
typedef kx_sim_news_t   kx_market_news_t;
typedef kx_sim_tf_e     kx_market_tf_e;     /* KX_SIM_TF_1M ... _1D */


typedef enum {
    KX_MARKET_OK = 0,
    KX_MARKET_NOT_FOUND,        /* the provider has no such symbol */
    KX_MARKET_UNAVAILABLE,      /* down, circuit open, rate limited */
    KX_MARKET_TIMEOUT,
    KX_MARKET_ERROR             /* a bad answer, or anything else */
} kx_market_status_e;


/* what a call asks for; the fields of the other kinds are ignored */
typedef struct {
    unsigned                sym;        /* index into kx_symbols */
    const char             *symbol;     /* "AAPL", NUL-terminated */

    /* bars */
    kx_market_tf_e          tf;
    ngx_uint_t              has_from;
    int64_t                 from_ms;
    int64_t                 to_ms;

    /* bars and news */
    size_t                  limit;

    /* news */
    int64_t                 before_ms;
} kx_market_query_t;


typedef struct {
    kx_market_status_e      status;
    const char             *detail;     /* for the log; may be NULL */

    kx_market_quote_t      *quote;      /* quote() */
    kx_market_bar_t        *bars;       /* bars() */
    size_t                  nbars;
    kx_market_news_t       *news;       /* news() */
    size_t                  nnews;
} kx_market_result_t;


/* a call in flight; the provider's own type */
typedef struct kx_market_call_s  kx_market_call_t;

typedef void (*kx_market_done_pt)(kx_market_result_t *res, void *data);

/* a live quote for the publisher; q lives until the handler returns */
typedef void (*kx_market_live_pt)(const kx_market_quote_t *q, void *data);


typedef struct {
    const char             *name;       /* as in kx_market_provider */

    /*
     * Configuration time.  args: the words after the name (nargs may be
     * 0).  Sets *conf (may stay NULL).  NGX_CONF_OK or an error string.
     */
    char                 *(*configure)(ngx_conf_t *cf, ngx_str_t *args,
                                       ngx_uint_t nargs, void **conf);

    /* every worker, after the io module's clients exist; may be NULL */
    ngx_int_t             (*init_process)(ngx_cycle_t *cycle, void *conf);
    void                  (*exit_process)(ngx_cycle_t *cycle, void *conf);

    /* the asynchronous reads; NULL return: could not start */
    kx_market_call_t     *(*quote)(void *conf, kx_market_query_t *q,
                                   ngx_log_t *log, kx_market_done_pt done,
                                   void *data);
    kx_market_call_t     *(*bars)(void *conf, kx_market_query_t *q,
                                  ngx_log_t *log, kx_market_done_pt done,
                                  void *data);
    kx_market_call_t     *(*news)(void *conf, kx_market_query_t *q,
                                  ngx_log_t *log, kx_market_done_pt done,
                                  void *data);

    /* done() of call will never be called; call is invalid afterwards */
    void                  (*cancel)(kx_market_call_t *call);

    /*
     * Live quotes, in worker 0 only, for the publisher.  live_start()
     * registers the handler: a streaming provider (Polygon's WebSocket)
     * calls it whenever a quote arrives, for any symbol of kx_symbols.
     * live_poll(), when not NULL, runs on every publisher tick before
     * the changed quotes go out: a provider without a push feed (the
     * simulated market) makes its quotes there and calls the handler.
     * The publisher keeps the newest quote of each symbol and publishes
     * those that changed since its previous tick.  live_stop() at exit.
     */
    ngx_int_t             (*live_start)(void *conf, ngx_cycle_t *cycle,
                                        kx_market_live_pt handler,
                                        void *data);
    void                  (*live_poll)(void *conf, int64_t now_ms);
    void                  (*live_stop)(void *conf);
} kx_market_provider_t;


/* the built-in simulated market (modules/kx_market_sim.c) */
extern kx_market_provider_t  kx_market_provider_sim;

/* the Polygon adapter (modules/kx_market_polygon.c, H7): may be absent */
extern kx_market_provider_t  kx_market_provider_polygon;


#endif /* _KX_MARKET_PROVIDER_H_INCLUDED_ */
