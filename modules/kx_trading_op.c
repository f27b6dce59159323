
/*
 * Copyright (C) Kianax
 *
 * One operation on one user's account (place, cancel, fill, expire, a
 * broker's answer), decided in C on one consistent read of the account
 * and written by one statement:
 *
 *     SELECT * FROM trading.order_lock(..., false)   the account, and the
 *                                                    portfolio's version
 *     ... decide in C (src/trading: risk, matching, positions, kx_txn) ...
 *     SELECT trading.order_apply($1::jsonb)          write everything if
 *                                                    the version still is
 *
 * Two round trips, no lock held while deciding.  If the account changed
 * in between (SQLSTATE KX002), the op decides again under the lock:
 * BEGIN, order_lock(..., true) (SELECT ... FOR UPDATE of the portfolio),
 * order_apply, COMMIT.  The portfolio row serializes every change of one
 * user's money, so the C checks see the truth; the conditional UPDATE
 * inside order_apply() is the last word on buying power all the same.
 * Users do not wait for each other.
 *
 * With kx_trading_account_cache, a new order of a user whose account the
 * instance remembers (kx_trading_cache.c) skips the read: one round
 * trip.  Every unlocked write returns its transaction id, the version it
 * left; a cached version that is gone (KX002), or a cached account that
 * would refuse the order, sends the order back to a fresh read.
 *
 * A remote broker (kx_trading_broker.h) is called between two such
 * operations: the order is stored before it is sent, and the answer is
 * applied by a second run of the same op (kind RESULT).
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include <sys/random.h>

#include "kx_trading.h"
#include "market/kx_sim_hours.h"
#include "io/ngx_http_kx_io.h"


#define KX_TRADING_LOCK_SQL                                                   \
    "SELECT * FROM trading.order_lock($1::uuid, $2::numeric, $3, $4::uuid, "  \
    "$5, $6::boolean)"

#define KX_TRADING_APPLY_SQL  "SELECT trading.order_apply($1::jsonb)"

#define KX_TRADING_COL_ORDER  13

/* decisions under the lock that may meet KX002 before the op gives up */
#define KX_TRADING_LOCK_TRIES  2


static kx_pg_req_t *kx_trading_op_read(kx_trading_op_t *op);
static void kx_trading_op_begun(kx_pg_result_t *res, void *data);
static void kx_trading_op_written(kx_trading_op_t *op);
static void kx_trading_op_locked(kx_pg_result_t *res, void *data);
static ngx_int_t kx_trading_op_cache_read(kx_trading_op_t *op);
static void kx_trading_op_posted(ngx_event_t *ev);
static void kx_trading_op_again(kx_trading_op_t *op, ngx_uint_t locked);
static void kx_trading_op_decide(kx_trading_op_t *op);
static void kx_trading_op_remember(kx_trading_op_t *op,
    const char *version);
static void kx_trading_op_applied(kx_pg_result_t *res, void *data);
static void kx_trading_op_committed(kx_pg_result_t *res, void *data);
static ngx_int_t kx_trading_op_compute(kx_trading_op_t *op);
static ngx_int_t kx_trading_op_apply_result(kx_trading_op_t *op);
static void kx_trading_op_broker(kx_trading_op_t *op);
static void kx_trading_op_broker_done(kx_broker_result_t *res, void *data);
static void kx_trading_op_remote_done(kx_broker_result_t *res, void *data);
static void kx_trading_op_rollback(kx_trading_op_t *op);
static void kx_trading_op_finish(kx_trading_op_t *op);
static ngx_int_t kx_trading_op_fail(kx_trading_op_t *op, ngx_uint_t status,
    const char *code, const char *fmt, ...);
static void kx_trading_op_pg_fail(kx_trading_op_t *op, kx_pg_result_t *res);


int64_t
kx_trading_now(void)
{
    struct timeval  tv;

    ngx_gettimeofday(&tv);

    return (int64_t) tv.tv_sec * 1000000 + tv.tv_usec;
}


/*
 * Random (v4) ids.  An order takes several (order, events, trade), so the
 * random bytes come 16 ids to a getrandom() call (256 bytes: never cut
 * short by a signal).  Each byte is used once, and only by the process
 * that read it: a new worker, forked with a copy of the buffer, reads
 * afresh.
 */

void
kx_trading_uuid(char out[KX_TXN_UUID_LEN + 1])
{
    u_char            *b;
    ngx_uint_t         i, n;
    static size_t      next;
    static u_char      pool[256];
    static ngx_pid_t   owner;
    static u_char      hex[] = "0123456789abcdef";

    if (owner != ngx_pid || next + 16 > sizeof(pool)) {
        owner = ngx_pid;
        next = 0;

        if (getrandom(pool, sizeof(pool), 0) != (ssize_t) sizeof(pool)) {
            /* never on Linux >= 3.17; still unique ids */
            for (i = 0; i < sizeof(pool); i++) {
                pool[i] = (u_char) (ngx_random() >> 7);
            }
        }
    }

    b = pool + next;
    next += 16;

    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;

    for (i = 0, n = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) {
            out[n++] = '-';
        }

        out[n++] = hex[b[i] >> 4];
        out[n++] = hex[b[i] & 0x0f];
    }

    out[n] = '\0';
}


int64_t
kx_trading_session_close(ngx_uint_t hours, int64_t usec)
{
    int64_t  ms, day, open, close;

    ms = usec / 1000;
    day = kx_sim_day_of((kx_sim_hours_e) hours, ms);

    if (kx_sim_session((kx_sim_hours_e) hours, day, &open, &close) == 0
        && ms < close)
    {
        return close * 1000;
    }

    /* placed after the close or on a closed day: the next session's */
    day = kx_sim_next_trading_day((kx_sim_hours_e) hours, day);

    if (kx_sim_session((kx_sim_hours_e) hours, day, &open, &close) != 0) {
        return 0;
    }

    return close * 1000;
}


kx_trading_op_t *
kx_trading_op_create(kx_trading_op_kind_e kind, kx_trading_main_conf_t *conf,
    kx_pg_pool_t *pg, ngx_log_t *log)
{
    kx_trading_op_t  *op;

    op = ngx_calloc(sizeof(kx_trading_op_t), log);
    if (op == NULL) {
        return NULL;
    }

    op->kind = kind;
    op->origin = kind;
    op->conf = conf;
    op->pg = pg;
    op->log = log;
    op->status = NGX_HTTP_OK;

    kx_order_init(&op->order);

    return op;
}


void
kx_trading_op_detach(kx_trading_op_t *op)
{
    op->detached = 1;
    op->done = NULL;
    op->log = ngx_cycle->log;
}


/*
 * First optimistically: read, decide, and write in one statement that
 * checks the portfolio's version (two round trips, no lock held while
 * deciding).  If someone changed the account meanwhile, decide again
 * under the lock (kx_trading_op_begun).
 */
ngx_int_t
kx_trading_op_run(kx_trading_op_t *op)
{
    if (op->locked) {
        op->req = kx_pg_txn_begin(op->pg, kx_trading_op_begun, op);

    } else if (kx_trading_op_cache_read(op)) {
        return NGX_OK;

    } else {
        op->req = kx_trading_op_read(op);
    }

    if (op->req == NULL) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


static kx_pg_req_t *
kx_trading_op_read(kx_trading_op_t *op)
{
    const char    *values[6];
    kx_pg_stmt_t   st;

    values[0] = op->user_id;
    values[1] = (const char *) op->conf->start_cash_text.data;
    values[2] = op->order.symbol[0] ? op->order.symbol : NULL;
    values[3] = op->order_id[0] ? op->order_id : NULL;
    values[4] = (op->kind == KX_TRADING_OP_PLACE
                 && op->order.client_order_id[0])
                ? op->order.client_order_id : NULL;
    values[5] = op->locked ? "true" : "false";

    ngx_memzero(&st, sizeof(kx_pg_stmt_t));
    st.sql = KX_TRADING_LOCK_SQL;
    st.name = "kx_trading_lock";
    st.nparams = 6;
    st.values = values;

    if (op->locked) {
        return kx_pg_txn_query(op->txn, &st, kx_trading_op_locked, op);
    }

    return kx_pg_query(op->pg, &st, kx_trading_op_locked, op);
}


static void
kx_trading_op_begun(kx_pg_result_t *res, void *data)
{
    kx_trading_op_t  *op = data;

    op->req = NULL;

    if (res->status != KX_PG_OK) {
        kx_trading_op_pg_fail(op, res);
        kx_trading_op_finish(op);
        return;
    }

    op->txn = res->txn;

    op->req = kx_trading_op_read(op);
    if (op->req == NULL) {
        kx_trading_op_fail(op, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL,
                           "out of memory");
        kx_trading_op_rollback(op);
        kx_trading_op_finish(op);
    }
}


static kx_dec_t
kx_trading_dec(PGresult *pr, int row, int col)
{
    char      *s;
    kx_dec_t   d;

    d.v = 0;

    if (PQgetisnull(pr, row, col)) {
        return d;
    }

    s = PQgetvalue(pr, row, col);

    if (kx_dec_parse(s, ngx_strlen(s), &d) != KX_DEC_OK) {
        d.v = 0;
    }

    return d;
}


static int64_t
kx_trading_int(PGresult *pr, int row, int col)
{
    if (PQgetisnull(pr, row, col)) {
        return 0;
    }

    return ngx_atoof((u_char *) PQgetvalue(pr, row, col),
                     ngx_strlen(PQgetvalue(pr, row, col)));
}


static void
kx_trading_str(PGresult *pr, int row, int col, char *dst, size_t size)
{
    size_t  n;

    dst[0] = '\0';

    if (PQgetisnull(pr, row, col)) {
        return;
    }

    n = ngx_min((size_t) PQgetlength(pr, row, col), size - 1);
    ngx_memcpy(dst, PQgetvalue(pr, row, col), n);
    dst[n] = '\0';
}


ngx_int_t
kx_trading_order_from_row(PGresult *pr, int row, int c, kx_order_t *o,
    kx_dec_t *reserved, char *broker, size_t broker_size,
    char *broker_order_id, size_t boid_size)
{
    char  *s;

    kx_order_init(o);

    if (PQgetisnull(pr, row, c)) {
        return NGX_DECLINED;
    }

    kx_trading_str(pr, row, c, o->id, sizeof(o->id));
    kx_trading_str(pr, row, c + 1, o->client_order_id,
                   sizeof(o->client_order_id));
    kx_trading_str(pr, row, c + 2, o->symbol, sizeof(o->symbol));

    s = PQgetvalue(pr, row, c + 3);
    if (kx_side_parse(s, ngx_strlen(s), &o->side) != 0) {
        return NGX_ERROR;
    }

    s = PQgetvalue(pr, row, c + 4);
    if (kx_order_type_parse(s, ngx_strlen(s), &o->type) != 0) {
        return NGX_ERROR;
    }

    s = PQgetvalue(pr, row, c + 5);
    if (kx_tif_parse(s, ngx_strlen(s), &o->tif) != 0) {
        return NGX_ERROR;
    }

    o->quantity = kx_trading_dec(pr, row, c + 6);
    o->notional = kx_trading_dec(pr, row, c + 7);
    o->limit_price = kx_trading_dec(pr, row, c + 8);
    o->stop_price = kx_trading_dec(pr, row, c + 9);
    o->filled_qty = kx_trading_dec(pr, row, c + 10);
    o->filled_avg_price = kx_trading_dec(pr, row, c + 11);

    if (reserved) {
        *reserved = kx_trading_dec(pr, row, c + 12);
    }

    s = PQgetvalue(pr, row, c + 13);
    if (kx_order_status_parse(s, ngx_strlen(s), &o->status) != 0) {
        return NGX_ERROR;
    }

    if (broker) {
        kx_trading_str(pr, row, c + 14, broker, broker_size);
    }

    if (broker_order_id) {
        kx_trading_str(pr, row, c + 15, broker_order_id, boid_size);
    }

    kx_trading_str(pr, row, c + 16, o->reject_reason,
                   sizeof(o->reject_reason));

    o->created_at = kx_trading_int(pr, row, c + 17);
    o->updated_at = kx_trading_int(pr, row, c + 18);
    o->filled_at = kx_trading_int(pr, row, c + 19);
    o->canceled_at = kx_trading_int(pr, row, c + 20);
    o->expired_at = kx_trading_int(pr, row, c + 21);
    o->triggered_at = kx_trading_int(pr, row, c + 22);

    return NGX_OK;
}


static void
kx_trading_op_locked(kx_pg_result_t *res, void *data)
{
    kx_trading_op_t  *op = data;

    size_t          n;
    ngx_int_t       rc;
    PGresult       *pr;
    kx_txn_acct_t  *a;

    op->req = NULL;

    if (res->status != KX_PG_OK) {
        kx_trading_op_pg_fail(op, res);
        kx_trading_op_rollback(op);
        kx_trading_op_finish(op);
        return;
    }

    pr = res->res;

    if (PQntuples(pr) != 1 || PQnfields(pr) != KX_TRADING_COL_ORDER + 24) {
        kx_trading_op_fail(op, NGX_HTTP_INTERNAL_SERVER_ERROR,
                           "database_error", "unexpected lock result");
        kx_trading_op_rollback(op);
        kx_trading_op_finish(op);
        return;
    }

    a = &op->acct;

    a->now = kx_trading_int(pr, 0, 0);
    ngx_memcpy(a->user_id, op->user_id, sizeof(a->user_id));

    a->version[0] = '\0';
    if (!op->locked) {
        kx_trading_str(pr, 0, KX_TRADING_COL_ORDER + 23, a->version,
                       sizeof(a->version));
    }
    a->cash = kx_trading_dec(pr, 0, 1);
    a->reserved = kx_trading_dec(pr, 0, 2);
    a->realized = kx_trading_dec(pr, 0, 3);
    a->allow_short = (PQgetvalue(pr, 0, 7)[0] == 't');
    a->pos.qty = kx_trading_dec(pr, 0, 8);
    a->pos.avg_cost = kx_trading_dec(pr, 0, 9);
    a->open_orders = (unsigned) kx_trading_int(pr, 0, 10);
    a->open_sell_qty = kx_trading_dec(pr, 0, 11);

    if (!PQgetisnull(pr, 0, 12)) {
        n = PQgetlength(pr, 0, 12);

        if (op->exec_ids) {
            ngx_free(op->exec_ids);
        }

        op->exec_ids = ngx_alloc(n + 1, op->log);
        if (op->exec_ids == NULL) {
            kx_trading_op_fail(op, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL,
                               "out of memory");
            kx_trading_op_rollback(op);
            kx_trading_op_finish(op);
            return;
        }

        ngx_memcpy(op->exec_ids, PQgetvalue(pr, 0, 12), n + 1);
        a->exec_ids = op->exec_ids;
        a->exec_ids_len = n;
    }

    rc = kx_trading_order_from_row(pr, 0, KX_TRADING_COL_ORDER, &a->order,
                                   &a->order_reserved, a->broker,
                                   sizeof(a->broker), a->broker_order_id,
                                   sizeof(a->broker_order_id));
    if (rc == NGX_ERROR) {
        kx_trading_op_fail(op, NGX_HTTP_INTERNAL_SERVER_ERROR,
                           "database_error", "unexpected order row");
        kx_trading_op_rollback(op);
        kx_trading_op_finish(op);
        return;
    }

    a->has_order = (rc == NGX_OK);

    /* the user's risk limits (NULL: none) */
    ngx_memzero(&op->limits, sizeof(kx_risk_limits_t));
    op->limits.max_order_value = kx_trading_dec(pr, 0, 4);
    op->limits.max_position_value = kx_trading_dec(pr, 0, 5);
    op->limits.max_open_orders = (unsigned) kx_trading_int(pr, 0, 6);
    op->limits.allow_short = a->allow_short;

    kx_trading_op_decide(op);
}


/*
 * A new order on the account as the cache knows it (see
 * kx_acct_cache.h): 1, and the op goes on from a posted event, so that
 * done is never called from inside kx_trading_op_run().
 */
static ngx_int_t
kx_trading_op_cache_read(kx_trading_op_t *op)
{
    kx_acct_snap_t   s;
    kx_txn_acct_t   *a;

    if (op->kind != KX_TRADING_OP_PLACE || op->no_cache
        || op->conf->acct_cache == NULL
        || !kx_trading_cache_get(op->conf, op->user_id, op->order.symbol, &s))
    {
        return 0;
    }

    a = &op->acct;
    ngx_memzero(a, sizeof(kx_txn_acct_t));

    a->now = kx_trading_now();
    ngx_memcpy(a->user_id, op->user_id, sizeof(a->user_id));
    ngx_memcpy(a->version, s.version, sizeof(a->version));
    a->cash = s.cash;
    a->reserved = s.reserved;
    a->realized = s.realized;
    a->allow_short = s.allow_short;
    a->pos.qty = s.sym.qty;
    a->pos.avg_cost = s.sym.avg_cost;
    a->open_orders = s.open_orders;
    a->open_sell_qty = s.sym.open_sell_qty;

    ngx_memzero(&op->limits, sizeof(kx_risk_limits_t));
    op->limits.max_order_value = s.max_order_value;
    op->limits.max_position_value = s.max_position_value;
    op->limits.max_open_orders = s.max_open_orders;
    op->limits.allow_short = s.allow_short;

    op->cached = 1;

    op->post.handler = kx_trading_op_posted;
    op->post.data = op;
    op->post.log = op->log;

    ngx_post_event(&op->post, &ngx_posted_events);

    return 1;
}


static void
kx_trading_op_posted(ngx_event_t *ev)
{
    kx_trading_op_decide(ev->data);
}


/*
 * Decide again on a new read of the account: under the lock (the account
 * changed between read and write), or unlocked and past the cache (the
 * cache's account failed its version, or would refuse the order).
 */
static void
kx_trading_op_again(kx_trading_op_t *op, ngx_uint_t locked)
{
    op->locked = locked;
    op->cached = 0;
    op->no_cache = 1;
    op->status = NGX_HTTP_OK;
    op->code = NULL;
    op->message[0] = '\0';
    op->existing = 0;
    op->broker_call = 0;

    if (op->kind == KX_TRADING_OP_PLACE) {
        /*
         * the id the first decision gave the new order is not one to look
         * up: the read must look for the client_order_id instead
         */
        op->order_id[0] = '\0';
    }

    if (kx_trading_op_run(op) != NGX_OK) {
        kx_trading_op_fail(op, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL,
                           "out of memory");
        kx_trading_op_finish(op);
    }
}


/* decide on op->acct and op->limits, and write what was decided */
static void
kx_trading_op_decide(kx_trading_op_t *op)
{
    size_t         n;
    ngx_int_t      rc;
    const char    *s;
    kx_jw_t        w;
    kx_pg_stmt_t   st;
    const char    *values[1];

    if (op->txn_inited) {
        kx_txn_free(&op->txn_state);
    }

    /* the account as read: the decision changes op->acct */
    op->before = op->acct;

    kx_txn_init(&op->txn_state, &op->acct, kx_trading_uuid);
    op->txn_inited = 1;

    /* the service's limits */
    op->limits.collar_pct = op->conf->collar_pct;
    op->limits.market_buffer_pct = op->conf->market_buffer_pct;

    rc = kx_trading_op_compute(op);

    if (rc != NGX_OK && op->cached) {
        /* the entry would send every order of the user back: forget it */
        kx_trading_cache_drop(op->conf, op->user_id);
        kx_trading_op_again(op, 0);
        return;
    }

    if (rc != NGX_OK) {
        kx_trading_op_rollback(op);

        if (rc == NGX_DECLINED && op->broker_call) {
            kx_trading_op_broker(op);
            return;
        }

        kx_trading_op_finish(op);
        return;
    }

    kx_jw_init(&w);

    if (kx_txn_finish(&op->txn_state, &w) != KX_ORDER_OK
        || kx_jw_finish(&w, &s, &n) != KX_JW_OK)
    {
        kx_jw_free(&w);
        kx_trading_op_fail(op, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL,
                           "the change could not be recorded");
        kx_trading_op_rollback(op);
        kx_trading_op_finish(op);
        return;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, op->log, 0,
                   "kx trading apply: %*s", n, s);

    values[0] = s;

    ngx_memzero(&st, sizeof(kx_pg_stmt_t));
    st.nparams = 1;
    st.values = values;

    if (op->locked) {
        st.sql = KX_TRADING_APPLY_SQL;
        st.name = "kx_trading_apply";

    } else {
        /* one statement: its transaction id is the new version */
        st.sql = KX_TRADING_APPLY_SQL ", pg_current_xact_id()::xid::text";
        st.name = "kx_trading_apply_version";
    }

    op->req = op->locked
              ? kx_pg_txn_query(op->txn, &st, kx_trading_op_applied, op)
              : kx_pg_query(op->pg, &st, kx_trading_op_applied, op);

    kx_jw_free(&w);

    if (op->req == NULL) {
        kx_trading_op_fail(op, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL,
                           "out of memory");
        kx_trading_op_rollback(op);
        kx_trading_op_finish(op);
    }
}


static void
kx_trading_op_applied(kx_pg_result_t *res, void *data)
{
    kx_trading_op_t  *op = data;

    op->req = NULL;

    if (res->status == KX_PG_ERROR && op->cached
        && ngx_strcmp(res->sqlstate, "KX002") == 0)
    {
        /* the cache's version is gone: as if read too early */
        ngx_http_kx_metrics_count((ngx_cycle_t *) ngx_cycle,
                                  "kx_trading_account_cache_total"
                                  "{result=\"stale\"}", 1);
        kx_trading_cache_drop(op->conf, op->user_id);
        kx_trading_op_again(op, 0);
        return;
    }

    if (res->status == KX_PG_ERROR && !op->locked
        && ngx_strcmp(res->sqlstate, "KX002") == 0)
    {
        /* the account changed since it was read: decide under the lock */
        kx_trading_op_again(op, 1);
        return;
    }

    if (res->status == KX_PG_ERROR && op->lock_tries < KX_TRADING_LOCK_TRIES
        && ngx_strcmp(res->sqlstate, "KX002") == 0)
    {
        /*
         * under the lock no writer can change the account, so this is
         * rare (a trigger, an operator's statement); a broker's answer
         * must not be dropped for it: decide once more
         */
        op->lock_tries++;
        kx_trading_op_rollback(op);
        kx_trading_op_again(op, 1);
        return;
    }

    if (res->status == KX_PG_ERROR
        && ngx_strcmp(res->sqlstate, "KX002") == 0)
    {
        kx_trading_op_fail(op, NGX_HTTP_CONFLICT, "conflict",
                           "the order changed meanwhile; try again");
        kx_trading_op_rollback(op);
        kx_trading_op_finish(op);
        return;
    }

    if (res->status == KX_PG_ERROR
        && ngx_strcmp(res->sqlstate, "KX001") == 0)
    {
        kx_trading_op_fail(op, NGX_HTTP_FORBIDDEN,
                           "insufficient_buying_power",
                           "insufficient buying power");
        kx_trading_op_rollback(op);
        kx_trading_op_finish(op);
        return;
    }

    if (res->status != KX_PG_OK) {
        kx_trading_op_pg_fail(op, res);
        kx_trading_op_rollback(op);
        kx_trading_op_finish(op);
        return;
    }

    if (PQntuples(res->res) != 1
        || ngx_strcmp(PQgetvalue(res->res, 0, 0), "1") != 0)
    {
        kx_trading_op_fail(op, NGX_HTTP_CONFLICT, "conflict",
                           "the order changed meanwhile; try again");
        kx_trading_op_rollback(op);
        kx_trading_op_finish(op);
        return;
    }

    if (!op->locked) {
        /* one statement: committed */
        kx_trading_op_remember(op, PQgetvalue(res->res, 0, 1));
        kx_trading_op_written(op);
        return;
    }

    op->req = kx_pg_txn_commit(op->txn, kx_trading_op_committed, op);
    op->txn = NULL;

    if (op->req == NULL) {
        kx_trading_op_fail(op, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL,
                           "out of memory");
        kx_trading_op_finish(op);
    }
}


static void
kx_trading_op_committed(kx_pg_result_t *res, void *data)
{
    kx_trading_op_t  *op = data;

    op->req = NULL;

    if (res->status != KX_PG_OK) {
        kx_trading_op_pg_fail(op, res);
        kx_trading_op_finish(op);
        return;
    }

    /* decided under the lock: the version is not known here */
    kx_trading_cache_drop(op->conf, op->user_id);

    kx_trading_op_written(op);
}


/* the account as the committed transaction left it, for the next order */
static void
kx_trading_op_remember(kx_trading_op_t *op, const char *version)
{
    kx_acct_snap_t  s;

    if (op->conf->acct_cache == NULL) {
        return;
    }

    if (version[0] == '\0'
        || kx_acct_cache_after(&op->before, &op->txn_state, version, &s)
           != 0)
    {
        kx_trading_cache_drop(op->conf, op->user_id);
        return;
    }

    s.max_order_value = op->limits.max_order_value;
    s.max_position_value = op->limits.max_position_value;
    s.max_open_orders = op->limits.max_open_orders;
    s.allow_short = op->limits.allow_short;

    kx_trading_cache_put(op->conf, op->user_id, op->before.version, &s);
}


static void
kx_trading_op_written(kx_trading_op_t *op)
{
    op->written = 1;
    op->cached = 0;
    op->out = op->txn_state.order;

    if (op->broker_call) {
        kx_trading_op_broker(op);
        return;
    }

    kx_trading_op_finish(op);
}


static ngx_int_t
kx_trading_op_compute(kx_trading_op_t *op)
{
    int                  rc;
    kx_txn_t            *t;
    kx_txn_acct_t       *a;
    kx_broker_call_t     call;
    kx_risk_result_t     r;
    kx_risk_account_t    ra;
    kx_trading_broker_t *broker;

    t = &op->txn_state;
    a = &op->acct;
    broker = op->conf->broker;

    switch (op->kind) {

    case KX_TRADING_OP_PLACE:

        if (a->has_order) {
            /* the same client_order_id again: the original order */
            op->existing = 1;
            op->out = a->order;
            op->status = NGX_HTTP_OK;
            return NGX_DECLINED;
        }

        ra.cash = a->cash;
        ra.reserved = a->reserved;
        ra.position_qty = a->pos.qty;
        ra.open_sell_qty = a->open_sell_qty;
        ra.open_orders = a->open_orders;

        if (kx_risk_check(&op->order, &op->quote, &ra, &op->limits, &r)
            != KX_RISK_OK)
        {
            return kx_trading_op_fail(op, kx_risk_status(r.code),
                                      kx_risk_code(r.code), "%s",
                                      r.message);
        }

        rc = kx_txn_place(t, &op->order, r.reserve, broker->name);
        if (rc != KX_ORDER_OK) {
            return kx_trading_op_fail(op, NGX_HTTP_KX_UNPROCESSABLE,
                                      "validation_failed",
                                      "amounts out of range");
        }

        op->status = NGX_HTTP_CREATED;
        ngx_memcpy(op->order_id, t->order.id, sizeof(op->order_id));

        if (!broker->local) {
            /* stored first, then sent: see kx_trading_broker.h */
            op->broker_call = 1;
            return NGX_OK;
        }

        ngx_memzero(&call, sizeof(kx_broker_call_t));
        call.log = op->log;
        call.conf = op->conf->broker_conf;
        call.order = &t->order;
        call.user_id.data = (u_char *) op->user_id;
        call.user_id.len = KX_TXN_UUID_LEN;
        call.quote = op->quote;
        call.session_close = kx_trading_session_close(op->conf->hours,
                                                      t->order.created_at);

        op->result.status = KX_BROKER_ERROR;
        op->result.reason = NULL;

        if (broker->submit(&call, kx_trading_op_broker_done, op) == NULL
            || op->result.status == KX_BROKER_ERROR)
        {
            return kx_trading_op_fail(op, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                      "broker_error", "%s",
                                      op->result.reason
                                      ? op->result.reason
                                      : "the broker failed");
        }

        return kx_trading_op_apply_result(op);

    case KX_TRADING_OP_RESULT:

        if (kx_txn_load(t) != KX_ORDER_OK) {
            return kx_trading_op_fail(op, NGX_HTTP_NOT_FOUND, "not_found",
                                      "order not found");
        }

        /*
         * the answer of the request this finishes: a placed order is 201,
         * also when this write is decided again (kx_trading_op_again)
         */
        op->status = (op->origin == KX_TRADING_OP_PLACE) ? NGX_HTTP_CREATED
                                                         : NGX_HTTP_OK;

        return kx_trading_op_apply_result(op);

    case KX_TRADING_OP_MATCH:

        if (kx_txn_load(t) != KX_ORDER_OK
            || !kx_order_status_is_open(t->order.status)
            || ngx_strcmp(a->broker, "paper") != 0)
        {
            return NGX_DECLINED;
        }

        {
            kx_broker_fill_t    fill;
            kx_broker_result_t  res;

            kx_trading_paper_decide(op->conf->broker_conf, &t->order,
                                    &op->quote, a->now,
                                    kx_trading_session_close(
                                        op->conf->hours,
                                        t->order.created_at),
                                    &res, &fill);

            if (res.status != KX_BROKER_OK) {
                return NGX_DECLINED;
            }

            kx_trading_op_broker_done(&res, op);
        }

        if (op->result.nfills == 0 && !op->result.triggered
            && (op->result.order_status == t->order.status
                || (op->result.order_status == KX_ORDER_ACCEPTED
                    && t->order.status == KX_ORDER_NEW)))
        {
            /* the order rests */
            return NGX_DECLINED;
        }

        return kx_trading_op_apply_result(op);

    case KX_TRADING_OP_CANCEL:

        if (kx_txn_load(t) != KX_ORDER_OK) {
            return kx_trading_op_fail(op, NGX_HTTP_NOT_FOUND, "not_found",
                                      "order not found");
        }

        op->out = t->order;

        if (!kx_order_status_is_open(t->order.status)) {
            return kx_trading_op_fail(op, NGX_HTTP_KX_UNPROCESSABLE,
                                      "order_not_cancelable",
                                      "the order is %s and cannot be "
                                      "canceled",
                                      kx_order_status_name(t->order.status));
        }

        if (ngx_strcmp(a->broker, "paper") != 0 && !broker->local) {
            /* ask the broker first; its answer is applied as a RESULT */
            op->broker_call = 1;
            return NGX_DECLINED;
        }

        if (kx_txn_status(t, KX_ORDER_CANCELED, NULL) != KX_ORDER_OK) {
            return kx_trading_op_fail(op, NGX_HTTP_KX_UNPROCESSABLE,
                                      "order_not_cancelable",
                                      "the order cannot be canceled");
        }

        op->status = NGX_HTTP_OK;
        return NGX_OK;

    default: /* KX_TRADING_OP_EXPIRE */

        if (kx_txn_load(t) != KX_ORDER_OK
            || !kx_order_status_is_open(t->order.status)
            || !kx_matching_expired(&t->order, a->now,
                                    kx_trading_session_close(
                                        op->conf->hours,
                                        t->order.created_at)))
        {
            return NGX_DECLINED;
        }

        if (kx_txn_status(t, KX_ORDER_EXPIRED, NULL) != KX_ORDER_OK) {
            return NGX_DECLINED;
        }

        return NGX_OK;
    }
}


/* a broker's answer, copied into the op (it lives until done returns) */
static void
kx_trading_op_broker_done(kx_broker_result_t *res, void *data)
{
    kx_trading_op_t  *op = data;

    size_t      n;
    ngx_uint_t  i;

    op->broker_handle = NULL;
    op->result = *res;
    op->result.fills = op->fills;
    op->result.nfills = ngx_min(res->nfills, 8);
    op->result.broker_order_id.len = 0;

    if (res->broker_order_id.len && res->broker_order_id.len
                                    <= KX_TXN_EXEC_MAX)
    {
        n = res->broker_order_id.len;
        ngx_memcpy(op->ids[8], res->broker_order_id.data, n);
        op->ids[8][n] = '\0';
        op->result.broker_order_id.data = (u_char *) op->ids[8];
        op->result.broker_order_id.len = n;
    }

    for (i = 0; i < op->result.nfills; i++) {
        op->fills[i] = res->fills[i];
        n = ngx_min(res->fills[i].execution_id.len, KX_TXN_EXEC_MAX);
        ngx_memcpy(op->ids[i], res->fills[i].execution_id.data, n);
        op->ids[i][n] = '\0';
        op->fills[i].execution_id.data = (u_char *) op->ids[i];
        op->fills[i].execution_id.len = n;
    }

    /* the reason may point into the broker's memory */
    if (res->reason) {
        ngx_cpystrn((u_char *) op->message, (u_char *) res->reason,
                    sizeof(op->message));
        op->result.reason = op->message;
    }
}


static ngx_int_t
kx_trading_op_apply_result(kx_trading_op_t *op)
{
    int                  rc;
    char                 id[KX_TXN_EXEC_MAX + 1];
    kx_dec_t             q, v1, v2, price;
    kx_txn_t            *t;
    ngx_uint_t           i, remote;
    kx_broker_result_t  *res;

    t = &op->txn_state;
    res = &op->result;
    remote = !op->conf->broker->local;

    if (op->origin == KX_TRADING_OP_CANCEL) {

        if (res->status == KX_BROKER_REJECTED) {
            return kx_trading_op_fail(op, NGX_HTTP_KX_UNPROCESSABLE,
                                      "order_not_cancelable", "%s",
                                      res->reason ? res->reason
                                                  : "refused by the broker");
        }

        if (res->status == KX_BROKER_NOT_FOUND) {
            /* never reached the broker: nothing there can fill it */
            rc = kx_txn_status(t, KX_ORDER_CANCELED,
                               "not at the broker");
            return rc == KX_ORDER_OK ? NGX_OK : NGX_DECLINED;
        }

    } else if (res->status == KX_BROKER_REJECTED
               || res->status == KX_BROKER_NOT_CONFIGURED
               || res->status == KX_BROKER_ERROR)
    {
        /* the broker will never execute it */
        rc = kx_txn_status(t, KX_ORDER_REJECTED,
                           res->reason ? res->reason : "rejected");
        return rc == KX_ORDER_OK ? NGX_OK : NGX_DECLINED;
    }

    if (res->status != KX_BROKER_OK) {
        /* unknown outcome: the order stays as it is, synced later */
        if (op->origin == KX_TRADING_OP_CANCEL) {
            return kx_trading_op_fail(op, NGX_HTTP_BAD_GATEWAY,
                                      "broker_error", "%s",
                                      res->reason ? res->reason
                                                  : "the broker failed");
        }

        op->out = t->order;
        return NGX_DECLINED;
    }

    if (res->broker_order_id.len) {
        kx_txn_broker_order_id(t, (char *) res->broker_order_id.data,
                               res->broker_order_id.len);
    }

    if (res->triggered) {
        kx_txn_triggered(t);
    }

    if (t->order.status == KX_ORDER_NEW && res->order_status != KX_ORDER_NEW)
    {
        if (kx_txn_status(t, KX_ORDER_ACCEPTED, NULL) != KX_ORDER_OK) {
            return kx_trading_op_fail(op, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                      NULL, "bad order state");
        }
    }

    for (i = 0; i < res->nfills; i++) {
        rc = kx_txn_fill(t, res->fills[i].qty, res->fills[i].price,
                         (char *) res->fills[i].execution_id.data,
                         res->fills[i].execution_id.len, remote);
        if (rc != KX_ORDER_OK) {
            ngx_log_error(NGX_LOG_ERR, op->log, 0,
                          "kx trading: fill of order %s not applied (%d)",
                          t->order.id, rc);

            if (!remote && kx_order_status_is_open(t->order.status)) {
                /* e.g. a sell that would go short now: give up */
                (void) kx_txn_status(t, KX_ORDER_CANCELED,
                                     "the fill could not be applied");
                return NGX_OK;
            }
        }
    }

    /* cumulative figures only: one fill of the difference */
    if (res->nfills == 0 && kx_dec_cmp(res->filled_qty, t->order.filled_qty)
                            > 0)
    {
        if (kx_dec_sub(res->filled_qty, t->order.filled_qty, &q)
            == KX_DEC_OK
            && kx_dec_mul(res->filled_qty, res->filled_avg_price,
                          KX_ROUND_HALF_EVEN, &v1) == KX_DEC_OK
            && kx_dec_mul(t->order.filled_qty, t->order.filled_avg_price,
                          KX_ROUND_HALF_EVEN, &v2) == KX_DEC_OK
            && kx_dec_sub(v1, v2, &v1) == KX_DEC_OK
            && kx_dec_div(v1, q, KX_ROUND_HALF_EVEN, &price) == KX_DEC_OK
            && price.v > 0)
        {
            /* the id of this step of the cumulative figures: repeated
             * reports of the same filled_qty are recorded once */
            ngx_memcpy(id, "cum:", 4);
            i = kx_dec_format_min(res->filled_qty, id + 4, sizeof(id) - 4);
            (void) kx_txn_fill(t, q, price, id, 4 + i, 1);
        }
    }

    if (kx_order_status_is_open(t->order.status)
        && (res->order_status == KX_ORDER_CANCELED
            || res->order_status == KX_ORDER_EXPIRED
            || res->order_status == KX_ORDER_REJECTED))
    {
        rc = kx_txn_status(t, res->order_status, res->reason);
        if (rc != KX_ORDER_OK) {
            return NGX_DECLINED;
        }
    }

    if (op->kind != KX_TRADING_OP_PLACE && !t->changed) {
        op->out = t->order;
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/*
 * The remote step: after the order was stored (PLACE), or after the
 * order was read (CANCEL), ask the broker; its answer is applied by a
 * second transaction (kind RESULT).
 */
static void
kx_trading_op_broker(kx_trading_op_t *op)
{
    kx_broker_call_t      call;
    kx_trading_broker_t  *broker;

    broker = op->conf->broker;

    op->origin = op->kind;
    op->broker_order = op->txn_state.order;

    ngx_memzero(&call, sizeof(kx_broker_call_t));
    call.log = op->log;
    call.conf = op->conf->broker_conf;
    call.order = &op->broker_order;
    call.user_id.data = (u_char *) op->user_id;
    call.user_id.len = KX_TXN_UUID_LEN;
    call.broker_order_id.data = (u_char *) op->acct.broker_order_id;
    call.broker_order_id.len = ngx_strlen(op->acct.broker_order_id);
    call.quote = op->quote;
    call.session_close = kx_trading_session_close(op->conf->hours,
                                                  op->broker_order.created_at);

    op->broker_handle = (op->kind == KX_TRADING_OP_PLACE)
                        ? broker->submit(&call, kx_trading_op_remote_done, op)
                        : broker->cancel(&call, kx_trading_op_remote_done, op);

    if (op->broker_handle == NULL) {
        if (op->kind == KX_TRADING_OP_PLACE) {
            /* stored, not sent: it stays "new" until a sync */
            op->out = op->broker_order;
            op->status = NGX_HTTP_CREATED;

        } else {
            kx_trading_op_fail(op, NGX_HTTP_SERVICE_UNAVAILABLE,
                               "broker_unavailable",
                               "the broker cannot be reached");
        }

        kx_trading_op_finish(op);
    }
}


static void
kx_trading_op_remote_done(kx_broker_result_t *res, void *data)
{
    kx_trading_op_t  *op = data;

    kx_trading_op_broker_done(res, op);

    op->broker_call = 0;

    if (res->status == KX_BROKER_UNAVAILABLE) {
        /* the outcome is unknown: the order stays as stored */
        if (op->origin == KX_TRADING_OP_PLACE) {
            op->out = op->broker_order;
            op->status = NGX_HTTP_CREATED;

        } else {
            kx_trading_op_fail(op, NGX_HTTP_SERVICE_UNAVAILABLE,
                               "broker_unavailable", "%s",
                               "the broker cannot be reached");
        }

        kx_trading_op_finish(op);
        return;
    }

    op->kind = KX_TRADING_OP_RESULT;
    op->locked = 0;
    ngx_memcpy(op->order_id, op->broker_order.id, sizeof(op->order_id));

    if (kx_trading_op_run(op) != NGX_OK) {
        kx_trading_op_fail(op, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL,
                           "out of memory");
        kx_trading_op_finish(op);
    }
}


static void
kx_trading_op_rollback(kx_trading_op_t *op)
{
    if (op->txn) {
        kx_pg_txn_rollback(op->txn);
        op->txn = NULL;
    }
}


static void
kx_trading_op_finish(kx_trading_op_t *op)
{
    if (op->done && !op->detached) {
        op->done(op);
    }

    if (op->broker_handle && op->conf->broker->abort) {
        op->conf->broker->abort(op->broker_handle);
    }

    if (op->txn_inited) {
        kx_txn_free(&op->txn_state);
    }

    if (op->exec_ids) {
        ngx_free(op->exec_ids);
    }

    ngx_free(op);
}


static ngx_int_t
kx_trading_op_fail(kx_trading_op_t *op, ngx_uint_t status, const char *code,
    const char *fmt, ...)
{
    u_char   *p;
    va_list   args;

    op->status = status;
    op->code = code;

    va_start(args, fmt);
    p = ngx_vslprintf((u_char *) op->message,
                      (u_char *) op->message + sizeof(op->message) - 1,
                      fmt, args);
    va_end(args);

    *p = '\0';

    return NGX_ERROR;
}


static void
kx_trading_op_pg_fail(kx_trading_op_t *op, kx_pg_result_t *res)
{
    switch (res->status) {

    case KX_PG_TIMEOUT:
        kx_trading_op_fail(op, NGX_HTTP_GATEWAY_TIME_OUT, "database_timeout",
                           "the database did not answer in time");
        break;

    case KX_PG_ERROR:
        ngx_log_error(NGX_LOG_ERR, op->log, 0,
                      "kx trading: database error %s: %s",
                      res->sqlstate, res->error);
        kx_trading_op_fail(op, NGX_HTTP_INTERNAL_SERVER_ERROR,
                           "database_error", "the database failed");
        break;

    default:
        kx_trading_op_fail(op, NGX_HTTP_SERVICE_UNAVAILABLE,
                           "database_unavailable",
                           "the database is unavailable");
    }
}


/* kx_trading_broker.h: a broker reports a change on its own */

static void
kx_trading_report_failed(kx_trading_op_t *op)
{
    if (op->report_failed && op->result.broker_order_id.len) {
        op->report_failed(&op->result.broker_order_id);
    }
}


static void
kx_trading_report_found(kx_pg_result_t *res, void *data)
{
    kx_trading_op_t  *op = data;

    op->req = NULL;

    if (res->status != KX_PG_OK) {
        ngx_log_error(NGX_LOG_WARN, op->log, 0,
                      "kx trading: a broker report not applied: %s",
                      kx_pg_status_text(res->status));

        if (res->status != KX_PG_ERROR) {
            kx_trading_report_failed(op);
        }

        kx_trading_op_finish(op);
        return;
    }

    if (PQntuples(res->res) != 1) {
        ngx_log_error(NGX_LOG_WARN, op->log, 0,
                      "kx trading: a broker report for an unknown order");
        kx_trading_op_finish(op);
        return;
    }

    ngx_cpystrn((u_char *) op->user_id, (u_char *) PQgetvalue(res->res, 0, 0),
                sizeof(op->user_id));
    ngx_cpystrn((u_char *) op->order_id,
                (u_char *) PQgetvalue(res->res, 0, 1), sizeof(op->order_id));

    if (kx_trading_op_run(op) != NGX_OK) {
        kx_trading_op_finish(op);
    }
}


static void
kx_trading_report_done(kx_trading_op_t *op)
{
    if (op->status >= NGX_HTTP_BAD_REQUEST) {
        ngx_log_error(NGX_LOG_WARN, op->log, 0,
                      "kx trading: broker report for order %s not applied: "
                      "%s", op->order_id, op->message);

        /*
         * passing: down, slow, a conflict; a statement the database
         * refused would be refused again: that waits for the resync
         */
        if (op->status == NGX_HTTP_SERVICE_UNAVAILABLE
            || op->status == NGX_HTTP_GATEWAY_TIME_OUT
            || op->status == NGX_HTTP_CONFLICT)
        {
            kx_trading_report_failed(op);
        }

    } else if (op->written) {
        ngx_log_error(NGX_LOG_INFO, op->log, 0,
                      "kx trading: order %s is %s (broker report)",
                      op->order_id, kx_order_status_name(op->out.status));
    }
}


ngx_int_t
kx_trading_broker_report(ngx_cycle_t *cycle,
    const kx_trading_broker_t *broker, ngx_str_t *broker_order_id,
    ngx_str_t *order_id, kx_broker_result_t *res,
    kx_broker_report_failed_pt failed)
{
    u_char                   boid[KX_ORDER_ID_MAX + 1];
    u_char                   oid[KX_TXN_UUID_LEN + 1];
    kx_pg_stmt_t             st;
    kx_pg_pool_t            *pg;
    kx_trading_op_t         *op;
    const char              *values[3];
    kx_trading_main_conf_t  *tmcf;

    tmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_kx_trading_module);
    pg = ngx_http_kx_io_pg_cycle(cycle);

    if (tmcf == NULL || pg == NULL
        || ((broker_order_id == NULL || broker_order_id->len == 0
             || broker_order_id->len > KX_ORDER_ID_MAX)
            && (order_id == NULL || order_id->len != KX_TXN_UUID_LEN)))
    {
        return NGX_ERROR;
    }

    op = kx_trading_op_create(KX_TRADING_OP_RESULT, tmcf, pg, cycle->log);
    if (op == NULL) {
        return NGX_ERROR;
    }

    kx_trading_op_broker_done(res, op);
    op->done = kx_trading_report_done;
    op->report_failed = failed;

    values[0] = broker->name;
    values[1] = NULL;
    values[2] = NULL;

    if (broker_order_id && broker_order_id->len
        && broker_order_id->len <= KX_ORDER_ID_MAX)
    {
        ngx_cpystrn(boid, broker_order_id->data, broker_order_id->len + 1);
        values[1] = (char *) boid;
    }

    if (order_id && order_id->len == KX_TXN_UUID_LEN) {
        ngx_cpystrn(oid, order_id->data, sizeof(oid));
        values[2] = (char *) oid;
    }

    ngx_memzero(&st, sizeof(kx_pg_stmt_t));
    st.sql = "SELECT o.user_id, o.id FROM trading.orders o"
             " WHERE o.broker = $1 AND (o.broker_order_id = $2"
             " OR o.id = $3::uuid) LIMIT 1";
    st.nparams = 3;
    st.values = values;

    op->req = kx_pg_query(pg, &st, kx_trading_report_found, op);
    if (op->req == NULL) {
        ngx_free(op);
        return NGX_ERROR;
    }

    return NGX_OK;
}
