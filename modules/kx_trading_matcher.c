
/*
 * Copyright (C) Kianax
 *
 * The paper broker's matcher, in worker 0 only (one matcher: no order is
 * matched twice at once; the fill's conditional UPDATE on the order's
 * status would refuse a second one anyway).
 *
 *   - gets every kx:quote:<SYM> (contract C1) from the worker's
 *     pattern subscription (kx_trading_quote.c); a quote of a symbol
 *     that has resting paper orders starts a pass: the open orders of
 *     the symbol are read, the paper rules (kx_matching) are asked about
 *     each, and each order the quote changes (fill, trigger, ioc/fok
 *     end) gets a MATCH operation, which decides again on the user's
 *     account as it is (kx_trading_op.c);
 *   - every kx_trading_sweep_interval: which symbols have resting paper
 *     orders (so that orders placed by other workers are followed), and
 *     day orders past the close of their session expire.
 *
 * One pass per symbol at a time; quotes that arrive meanwhile collapse
 * into the newest, matched when the pass ends.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "kx_trading.h"
#include "io/ngx_http_kx_io.h"


#define KX_MATCHER_SYMBOLS   512
#define KX_MATCHER_BATCH     500

#define KX_MATCHER_OPEN                                                       \
    " status IN ('new', 'accepted', 'partially_filled')"


typedef struct {
    char                      user_id[KX_TXN_UUID_LEN + 1];
    char                      order_id[KX_TXN_UUID_LEN + 1];
} kx_matcher_work_t;


typedef struct {
    char                      symbol[KX_ORDER_SYMBOL_MAX + 1];
    unsigned                  active:1;
    unsigned                  seen:1;
    unsigned                  busy:1;
    unsigned                  pending:1;
    kx_quote_t                quote;        /* of the pass */
    kx_quote_t                next;         /* arrived during the pass */
    kx_pg_req_t              *req;
    kx_trading_op_t          *op;
    kx_matcher_work_t        *work;
    ngx_uint_t                nwork;
    ngx_uint_t                done;
} kx_matcher_sym_t;


typedef struct {
    kx_trading_main_conf_t   *conf;
    kx_pg_pool_t             *pg;
    kx_redis_t               *rd;
    ngx_event_t               timer;
    kx_pg_req_t              *req;
    ngx_log_t                *log;
    kx_matcher_sym_t          syms[KX_MATCHER_SYMBOLS];
    ngx_uint_t                nsyms;
} kx_matcher_t;


static void kx_matcher_pass(kx_matcher_sym_t *s);
static void kx_matcher_orders(kx_pg_result_t *res, void *data);
static void kx_matcher_next(kx_matcher_sym_t *s);
static void kx_matcher_op_done(kx_trading_op_t *op);
static void kx_matcher_end(kx_matcher_sym_t *s);
static void kx_matcher_tick(ngx_event_t *ev);
static void kx_matcher_symbols(kx_pg_result_t *res, void *data);
static void kx_matcher_expiring(kx_pg_result_t *res, void *data);
static void kx_matcher_arm(void);


static kx_matcher_t  *kx_matcher;


ngx_int_t
kx_trading_matcher_start(ngx_cycle_t *cycle, kx_trading_main_conf_t *conf)
{
    kx_matcher = ngx_calloc(sizeof(kx_matcher_t), cycle->log);
    if (kx_matcher == NULL) {
        return NGX_ERROR;
    }

    kx_matcher->conf = conf;
    kx_matcher->log = cycle->log;
    kx_matcher->pg = ngx_http_kx_io_pg_cycle(cycle);
    kx_matcher->rd = ngx_http_kx_io_redis_cycle(cycle);

    if (kx_matcher->pg == NULL) {
        ngx_log_error(NGX_LOG_WARN, cycle->log, 0,
                      "kx trading: no database, the matcher is off");
        ngx_free(kx_matcher);
        kx_matcher = NULL;
        return NGX_OK;
    }

    if (kx_matcher->rd == NULL) {
        ngx_log_error(NGX_LOG_WARN, cycle->log, 0,
                      "kx trading: no Redis, resting orders do not follow "
                      "quotes");
    }

    kx_matcher->timer.handler = kx_matcher_tick;
    kx_matcher->timer.data = kx_matcher;
    kx_matcher->timer.log = cycle->log;
    kx_matcher->timer.cancelable = 1;

    ngx_add_timer(&kx_matcher->timer, 10);

    return NGX_OK;
}


void
kx_trading_matcher_stop(void)
{
    ngx_uint_t         i;
    kx_redis_t        *rd;
    kx_pg_pool_t      *pg;
    kx_matcher_sym_t  *s;

    if (kx_matcher == NULL) {
        return;
    }

    if (kx_matcher->timer.timer_set) {
        ngx_del_timer(&kx_matcher->timer);
    }

    /*
     * The io module's exit_process runs first and frees its clients with
     * every pending request (no handler is called): touch them only if
     * they are still there.
     */
    rd = ngx_http_kx_io_redis_cycle((ngx_cycle_t *) ngx_cycle);
    pg = ngx_http_kx_io_pg_cycle((ngx_cycle_t *) ngx_cycle);

    (void) rd;

    if (kx_matcher->req && pg == kx_matcher->pg) {
        kx_pg_cancel(kx_matcher->req);
    }

    for (i = 0; i < kx_matcher->nsyms; i++) {
        s = &kx_matcher->syms[i];

        if (s->req && pg == kx_matcher->pg) {
            kx_pg_cancel(s->req);
        }

        if (s->op) {
            kx_trading_op_detach(s->op);
        }

        if (s->work) {
            ngx_free(s->work);
        }
    }

    ngx_free(kx_matcher);
    kx_matcher = NULL;
}


static kx_matcher_sym_t *
kx_matcher_find(const char *symbol, size_t len, ngx_uint_t add)
{
    ngx_uint_t         i;
    kx_matcher_sym_t  *s;

    if (len == 0 || len > KX_ORDER_SYMBOL_MAX) {
        return NULL;
    }

    for (i = 0; i < kx_matcher->nsyms; i++) {
        s = &kx_matcher->syms[i];

        if (ngx_strncmp(s->symbol, symbol, len) == 0
            && s->symbol[len] == '\0')
        {
            return s;
        }
    }

    if (!add || kx_matcher->nsyms == KX_MATCHER_SYMBOLS) {
        return NULL;
    }

    s = &kx_matcher->syms[kx_matcher->nsyms++];
    ngx_memcpy(s->symbol, symbol, len);
    s->symbol[len] = '\0';

    return s;
}


void
kx_trading_matcher_watch(const char *symbol)
{
    kx_matcher_sym_t  *s;

    if (kx_matcher == NULL) {
        return;
    }

    s = kx_matcher_find(symbol, ngx_strlen(symbol), 1);
    if (s) {
        s->active = 1;
    }
}


void
kx_trading_matcher_quote(const char *symbol, kx_quote_t *q)
{
    kx_matcher_sym_t  *s;

    if (kx_matcher == NULL || ngx_exiting || ngx_terminate) {
        return;
    }

    s = kx_matcher_find(symbol, ngx_strlen(symbol), 0);
    if (s == NULL || !s->active) {
        return;
    }

    if (s->busy) {
        s->next = *q;
        s->pending = 1;
        return;
    }

    s->quote = *q;
    kx_matcher_pass(s);
}


static void
kx_matcher_pass(kx_matcher_sym_t *s)
{
    kx_pg_stmt_t   st;
    const char    *values[2];

    values[0] = s->symbol;

    ngx_memzero(&st, sizeof(kx_pg_stmt_t));
    st.sql = "SELECT o.user_id, " KX_TRADING_ORDER_COLS
             " FROM trading.orders o WHERE o.broker = 'paper'"
             " AND o.symbol = $1 AND o." KX_MATCHER_OPEN
             " ORDER BY o.created_at LIMIT 500";
    st.nparams = 1;
    st.values = values;

    s->busy = 1;
    s->req = kx_pg_query(kx_matcher->pg, &st, kx_matcher_orders, s);

    if (s->req == NULL) {
        s->busy = 0;
    }
}


static void
kx_matcher_orders(kx_pg_result_t *res, void *data)
{
    kx_matcher_sym_t  *s = data;

    int                 i, n;
    int64_t             now;
    kx_order_t          o;
    kx_broker_fill_t    fill;
    kx_broker_result_t  br;

    s->req = NULL;

    if (res->status != KX_PG_OK) {
        kx_matcher_end(s);
        return;
    }

    n = PQntuples(res->res);
    now = kx_trading_now();

    if (n == 0) {
        s->active = 0;
        kx_matcher_end(s);
        return;
    }

    s->work = ngx_alloc(n * sizeof(kx_matcher_work_t), kx_matcher->log);
    if (s->work == NULL) {
        kx_matcher_end(s);
        return;
    }

    s->nwork = 0;
    s->done = 0;

    for (i = 0; i < n; i++) {
        if (kx_trading_order_from_row(res->res, i, 1, &o, NULL, NULL, 0,
                                      NULL, 0) != NGX_OK)
        {
            continue;
        }

        kx_trading_paper_decide(kx_matcher->conf->broker_conf, &o,
                                &s->quote, now,
                                kx_trading_session_close(
                                    kx_matcher->conf->hours, o.created_at),
                                &br, &fill);

        if (br.status != KX_BROKER_OK
            || (br.nfills == 0 && !br.triggered
                && (br.order_status == o.status
                    || (br.order_status == KX_ORDER_ACCEPTED
                        && o.status == KX_ORDER_NEW))))
        {
            continue;
        }

        ngx_cpystrn((u_char *) s->work[s->nwork].user_id,
                    (u_char *) PQgetvalue(res->res, i, 0),
                    KX_TXN_UUID_LEN + 1);
        ngx_memcpy(s->work[s->nwork].order_id, o.id, KX_TXN_UUID_LEN + 1);
        s->nwork++;
    }

    kx_matcher_next(s);
}


static void
kx_matcher_next(kx_matcher_sym_t *s)
{
    kx_trading_op_t    *op;
    kx_matcher_work_t  *w;

    while (s->done < s->nwork && !ngx_exiting && !ngx_terminate) {
        w = &s->work[s->done++];

        op = kx_trading_op_create(KX_TRADING_OP_MATCH, kx_matcher->conf,
                                  kx_matcher->pg, kx_matcher->log);
        if (op == NULL) {
            break;
        }

        ngx_memcpy(op->user_id, w->user_id, sizeof(op->user_id));
        ngx_memcpy(op->order_id, w->order_id, sizeof(op->order_id));
        op->quote = s->quote;
        op->done = kx_matcher_op_done;
        op->data = s;

        if (kx_trading_op_run(op) != NGX_OK) {
            ngx_free(op);
            continue;
        }

        s->op = op;
        return;
    }

    kx_matcher_end(s);
}


static void
kx_matcher_op_done(kx_trading_op_t *op)
{
    kx_matcher_sym_t  *s = op->data;

    s->op = NULL;

    if (op->status >= NGX_HTTP_BAD_REQUEST) {
        ngx_log_error(NGX_LOG_WARN, kx_matcher->log, 0,
                      "kx trading: matching order %s: %s",
                      op->order_id, op->message);

    } else if (op->written) {
        ngx_log_error(NGX_LOG_INFO, kx_matcher->log, 0,
                      "kx trading: order %s is %s at the quote",
                      op->order_id,
                      kx_order_status_name(op->out.status));
    }

    kx_matcher_next(s);
}


static void
kx_matcher_end(kx_matcher_sym_t *s)
{
    if (s->work) {
        ngx_free(s->work);
        s->work = NULL;
    }

    s->nwork = 0;
    s->done = 0;
    s->busy = 0;

    if (s->pending && s->active && !ngx_exiting && !ngx_terminate) {
        s->pending = 0;
        s->quote = s->next;
        kx_matcher_pass(s);
    }
}


static void
kx_matcher_tick(ngx_event_t *ev)
{
    kx_pg_stmt_t  st;

    if (ngx_exiting || ngx_terminate || kx_matcher == NULL) {
        return;
    }

    ngx_memzero(&st, sizeof(kx_pg_stmt_t));
    st.sql = "SELECT DISTINCT o.symbol FROM trading.orders o"
             " WHERE o.broker = 'paper' AND o." KX_MATCHER_OPEN;

    kx_matcher->req = kx_pg_query(kx_matcher->pg, &st, kx_matcher_symbols,
                                  kx_matcher);
    if (kx_matcher->req == NULL) {
        kx_matcher_arm();
    }
}


static void
kx_matcher_symbols(kx_pg_result_t *res, void *data)
{
    int                i, n;
    char              *v;
    ngx_uint_t         k;
    kx_pg_stmt_t       st;
    kx_matcher_sym_t  *s;

    kx_matcher->req = NULL;

    if (res->status == KX_PG_OK) {
        for (k = 0; k < kx_matcher->nsyms; k++) {
            kx_matcher->syms[k].seen = 0;
        }

        n = PQntuples(res->res);

        for (i = 0; i < n; i++) {
            v = PQgetvalue(res->res, i, 0);
            s = kx_matcher_find(v, ngx_strlen(v), 1);
            if (s) {
                s->active = 1;
                s->seen = 1;
            }
        }

        for (k = 0; k < kx_matcher->nsyms; k++) {
            if (!kx_matcher->syms[k].seen && !kx_matcher->syms[k].busy) {
                kx_matcher->syms[k].active = 0;
            }
        }
    }

    if (ngx_exiting || ngx_terminate) {
        return;
    }

    ngx_memzero(&st, sizeof(kx_pg_stmt_t));
    st.sql = "SELECT o.user_id, o.id, trading.usec(o.created_at)"
             " FROM trading.orders o WHERE o.broker = 'paper'"
             " AND o.time_in_force = 'day' AND o." KX_MATCHER_OPEN
             " ORDER BY o.created_at LIMIT 500";

    kx_matcher->req = kx_pg_query(kx_matcher->pg, &st, kx_matcher_expiring,
                                  kx_matcher);
    if (kx_matcher->req == NULL) {
        kx_matcher_arm();
    }
}


static void
kx_matcher_expiring(kx_pg_result_t *res, void *data)
{
    int               i, n;
    int64_t           now, created, close;
    kx_trading_op_t  *op;

    kx_matcher->req = NULL;

    if (res->status == KX_PG_OK) {
        n = PQntuples(res->res);
        now = kx_trading_now();

        for (i = 0; i < n; i++) {
            created = ngx_atoof((u_char *) PQgetvalue(res->res, i, 2),
                                PQgetlength(res->res, i, 2));
            close = kx_trading_session_close(kx_matcher->conf->hours,
                                             created);

            if (close == 0 || now < close) {
                /* oldest first: the rest are younger */
                break;
            }

            op = kx_trading_op_create(KX_TRADING_OP_EXPIRE, kx_matcher->conf,
                                      kx_matcher->pg, kx_matcher->log);
            if (op == NULL) {
                break;
            }

            ngx_cpystrn((u_char *) op->user_id,
                        (u_char *) PQgetvalue(res->res, i, 0),
                        sizeof(op->user_id));
            ngx_cpystrn((u_char *) op->order_id,
                        (u_char *) PQgetvalue(res->res, i, 1),
                        sizeof(op->order_id));

            /* runs to its end on its own; nobody waits for it */
            if (kx_trading_op_run(op) != NGX_OK) {
                ngx_free(op);
                break;
            }
        }
    }

    kx_matcher_arm();
}


static void
kx_matcher_arm(void)
{
    if (kx_matcher && !ngx_exiting && !ngx_terminate) {
        ngx_add_timer(&kx_matcher->timer, kx_matcher->conf->sweep_interval);
    }
}
