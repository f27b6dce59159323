
/*
 * Copyright (C) Kianax
 *
 * The transactional-outbox relay (contract C3): services write domain
 * events into an outbox table in the transaction that makes the change;
 * this module moves the unpublished rows of each configured table, in id
 * order, to Redis:
 *
 *     XADD kx:events MAXLEN ~ N * event_id .. type .. user_id ..
 *          payload .. occurred_at .. source ..               -> entry id E
 *     XADD kx:events:user:<user_id> MAXLEN ~ M E <same fields>
 *     PUBLISH kx:user:<user_id> {"id":"E","event_id":..,"type":..,
 *                                "data":<payload>,"occurred_at":..}
 *
 * one atomic Lua script per row, then deletes the published rows (or,
 * with kx_outbox_keep, marks them: published_at, stream_id) with one
 * statement per batch.  A row is one event, or, when its payload is a
 * JSON array (type kx.events, trading's 0017), the events of one
 * transaction, [{"event_id", "type", "payload"}, ...]: the fetch expands
 * it into one result row per event, in order, and the row's script adds
 * and publishes them all, in order, or none (stream_id: the last one's
 * entry id).
 *
 * One worker relays (ngx_worker 0).  A round:
 *
 *     probe     SELECT 1 ... WHERE published_at IS NULL LIMIT 1   (idle: stop;
 *               skipped after a round that found rows)
 *     BEGIN
 *     lock      pg_try_advisory_xact_lock(table)   (another relay: stop)
 *     fetch     SELECT ... WHERE published_at IS NULL ORDER BY id LIMIT n
 *               (the events of those n rows)
 *     publish   EVALSHA per row, pipelined on the shared Redis link
 *     mark      DELETE (or UPDATE) ... unnest(ids, stream ids, errors)
 *     COMMIT
 *
 * The relays have PostgreSQL connections of their own, one per table, on
 * worker 0: a round holds its transaction while Redis answers the
 * scripts (milliseconds; seconds when Redis stalls), and the worker's
 * requests must not queue behind it for the pool's connections (the
 * shipped configs give a worker one).
 *
 * Why polling and not LISTEN/NOTIFY: the kx_pg pool has no connection
 * that stays LISTENing (its idle connections drop notifications), and
 * NOTIFY takes a database-wide lock at commit that would serialise every
 * order transaction; an indexed probe every few milliseconds costs less.
 *
 * Guarantees:
 *  - at-least-once: a crash, or a lost PostgreSQL, between the scripts and
 *    the COMMIT republishes the rows; the script remembers each row by
 *    its (first) event_id (kx:outbox:seen:<event_id>, with a TTL: the
 *    entry ids, space-separated) and answers a republished row with its
 *    first entry ids instead of adding it again;
 *  - a user's events keep their order: each row's script names the
 *    previous row of the same user in the batch and refuses to run
 *    unless that one was published, so a failed row holds back only its
 *    own user's later events;
 *  - the lock is taken before the fetch (separate statements, so the
 *    fetch's snapshot sees the previous holder's marks): two instances
 *    relaying one table never publish a row twice.
 *  Writers must insert a user's events in commit order (the trading
 *  service holds the user's portfolio row lock when it inserts them):
 *  ids come from a sequence, so otherwise a transaction that commits
 *  late could carry a smaller id than one already relayed.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_kx.h"
#include "ngx_http_kx_io.h"
#include "core/kx_outbox.h"

#include <openssl/evp.h>


#define KX_OUTBOX_BATCH_MAX      5000
/* EVALSHA sha numkeys, 4 keys, 7 ARGV, then 3 ARGV per event */
#define KX_OUTBOX_NARGS(n)       (14 + 3 * (n))
#define KX_OUTBOX_ERROR_MAX      200

/* the advisory lock's first key: "KXOB" */
#define KX_OUTBOX_LOCK_CLASS     "1264078658"


typedef struct {
    ngx_str_t                   name;       /* schema.table */
    ngx_str_t                   source;     /* schema */
    u_char                     *m_published;    /* GET /metrics series */
    u_char                     *m_duplicates;
    u_char                     *m_failed;
    u_char                     *probe_sql;
    u_char                     *fetch_sql;
    u_char                     *mark_sql;
    u_char                     *probe_name;    /* prepared statements */
    u_char                     *fetch_name;
    u_char                     *mark_name;
} ngx_http_kx_outbox_table_t;


typedef struct {
    ngx_array_t                 tables;     /* ngx_http_kx_outbox_table_t */
    ngx_str_t                   stream;
    ngx_uint_t                  batch;
    ngx_msec_t                  interval_min;
    ngx_msec_t                  interval_max;
    ngx_msec_t                  retry_min;
    ngx_msec_t                  retry_max;
    ngx_uint_t                  maxlen;
    ngx_uint_t                  user_maxlen;
    time_t                      dedupe_ttl;
    ngx_flag_t                  keep;
    ngx_str_t                   maxlen_text;
    ngx_str_t                   user_maxlen_text;
    ngx_str_t                   ttl_text;
} ngx_http_kx_outbox_main_conf_t;


typedef struct ngx_http_kx_outbox_relay_s  ngx_http_kx_outbox_relay_t;


typedef struct {
    ngx_http_kx_outbox_relay_t *relay;
    kx_redis_cmd_t             *cmd;
    ngx_str_t                   id;
    ngx_str_t                  *args;
    ngx_uint_t                  nargs;
    ngx_uint_t                  nevents;
    ngx_str_t                   stream_id;  /* published: the last entry */
    ngx_str_t                   error;      /* failed: why */
    unsigned                    done:1;
    unsigned                    duplicate:1;
} ngx_http_kx_outbox_row_t;


struct ngx_http_kx_outbox_relay_s {
    ngx_http_kx_outbox_table_t      *table;
    ngx_http_kx_outbox_main_conf_t  *omcf;
    ngx_log_t                       *log;

    kx_pg_pool_t                    *pg;        /* the relays' own */
    kx_redis_t                      *rd;

    ngx_event_t                      timer;
    kx_pg_req_t                     *req;
    kx_pg_txn_t                     *txn;

    ngx_pool_t                      *pool;      /* one batch */
    ngx_http_kx_outbox_row_t        *rows;
    ngx_uint_t                       nrows;
    ngx_uint_t                       nevents;
    ngx_uint_t                       pending;   /* scripts in flight */
    ngx_uint_t                       failed;    /* rows not published */
    ngx_uint_t                       lost;      /* ... for want of Redis */

    kx_outbox_pace_t                 pace;
    ngx_uint_t                       skip_probe;
    ngx_uint_t                       failures;  /* rounds, for the log */
};


static void ngx_http_kx_outbox_round(ngx_event_t *ev);
static void ngx_http_kx_outbox_probed(kx_pg_result_t *res, void *data);
static void ngx_http_kx_outbox_begun(kx_pg_result_t *res, void *data);
static void ngx_http_kx_outbox_locked(kx_pg_result_t *res, void *data);
static void ngx_http_kx_outbox_fetched(kx_pg_result_t *res, void *data);
static ngx_int_t ngx_http_kx_outbox_load(ngx_http_kx_outbox_relay_t *relay,
    PGresult *res);
static ngx_int_t ngx_http_kx_outbox_row_args(
    ngx_http_kx_outbox_relay_t *relay, ngx_http_kx_outbox_row_t *row,
    PGresult *res, ngx_uint_t first, ngx_str_t *prev_event_id);
static void ngx_http_kx_outbox_publish(ngx_http_kx_outbox_relay_t *relay);
static void ngx_http_kx_outbox_published(kx_redis_status_e status,
    redisReply *reply, void *data);
static void ngx_http_kx_outbox_row_fail(ngx_http_kx_outbox_row_t *row,
    const char *text, size_t len);
static void ngx_http_kx_outbox_mark(ngx_http_kx_outbox_relay_t *relay);
static void ngx_http_kx_outbox_marked(kx_pg_result_t *res, void *data);
static void ngx_http_kx_outbox_committed(kx_pg_result_t *res, void *data);
static void ngx_http_kx_outbox_pg_failed(ngx_http_kx_outbox_relay_t *relay,
    const char *step, kx_pg_result_t *res);
static void ngx_http_kx_outbox_end(ngx_http_kx_outbox_relay_t *relay,
    kx_outbox_round_e round);
static u_char *ngx_http_kx_outbox_dup(ngx_pool_t *pool, const char *s,
    size_t len);
static u_char *ngx_http_kx_outbox_named(ngx_conf_t *cf, const char *fmt,
    ngx_str_t *table);
static void ngx_http_kx_outbox_mark_sql(ngx_http_kx_outbox_table_t *t,
    ngx_flag_t keep);
static char *ngx_http_kx_outbox(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_kx_outbox_interval(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_kx_outbox_maxlen(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static void *ngx_http_kx_outbox_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_kx_outbox_init_main_conf(ngx_conf_t *cf, void *conf);
static ngx_int_t ngx_http_kx_outbox_init(ngx_conf_t *cf);
static ngx_int_t ngx_http_kx_outbox_init_process(ngx_cycle_t *cycle);
static void ngx_http_kx_outbox_exit_process(ngx_cycle_t *cycle);


static ngx_command_t  ngx_http_kx_outbox_commands[] = {

    { ngx_string("kx_outbox"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_TAKE1,
      ngx_http_kx_outbox,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("kx_outbox_stream"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_kx_outbox_main_conf_t, stream),
      NULL },

    { ngx_string("kx_outbox_batch"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_kx_outbox_main_conf_t, batch),
      NULL },

    { ngx_string("kx_outbox_interval"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE12,
      ngx_http_kx_outbox_interval,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_kx_outbox_main_conf_t, interval_min),
      NULL },

    { ngx_string("kx_outbox_retry"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE12,
      ngx_http_kx_outbox_interval,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_kx_outbox_main_conf_t, retry_min),
      NULL },

    { ngx_string("kx_outbox_maxlen"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE2,
      ngx_http_kx_outbox_maxlen,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("kx_outbox_keep"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_kx_outbox_main_conf_t, keep),
      NULL },

    { ngx_string("kx_outbox_dedupe_ttl"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_kx_outbox_main_conf_t, dedupe_ttl),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_kx_outbox_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_http_kx_outbox_init,               /* postconfiguration */

    ngx_http_kx_outbox_create_main_conf,   /* create main configuration */
    ngx_http_kx_outbox_init_main_conf,     /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    NULL,                                  /* create location configuration */
    NULL                                   /* merge location configuration */
};


ngx_module_t  ngx_http_kx_outbox_module = {
    NGX_MODULE_V1,
    &ngx_http_kx_outbox_module_ctx,        /* module context */
    ngx_http_kx_outbox_commands,           /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_kx_outbox_init_process,       /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_kx_outbox_exit_process,       /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


/*
 * KEYS: the stream, the user's stream, the row's "seen" key (by its first
 * event_id), the seen key of the user's previous row in this batch (''
 * for none).
 * ARGV: user_id occurred_at source channel maxlen user_maxlen ttl, then
 * event_id type payload of each event of the row, in order.
 * Returns {1, "E1 E2 .."} (added), {0, "E1 .."} (added before, as those),
 * or an error.  Nothing is written unless everything is: the checks come
 * first, a refused XADD to the user's stream (its id must grow) takes
 * back the row's entries, and the messages go out last.
 */
static u_char  ngx_http_kx_outbox_script_sha[41];

static ngx_str_t  ngx_http_kx_outbox_script = ngx_string(
    "local e = redis.call('GET', KEYS[3]) "
    "if e then return {0, e} end "
    "if KEYS[4] ~= '' and redis.call('EXISTS', KEYS[4]) == 0 then "
    "  return redis.error_reply('KXORDER an earlier event of the user "
    "is not published yet') "
    "end "
    "local t = redis.call('TYPE', KEYS[2])['ok'] "
    "if t ~= 'none' and t ~= 'stream' then "
    "  return redis.error_reply('WRONGTYPE ' .. KEYS[2] .. ' is a ' .. t) "
    "end "
    "local ids = {} "
    "for i = 8, #ARGV, 3 do "
    "  local f = {'event_id', ARGV[i], 'type', ARGV[i + 1], "
    "    'user_id', ARGV[1], 'payload', ARGV[i + 2], "
    "    'occurred_at', ARGV[2], 'source', ARGV[3]} "
    "  e = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[5], '*', "
    "    unpack(f)) "
    "  local r = redis.pcall('XADD', KEYS[2], 'MAXLEN', '~', ARGV[6], e, "
    "    unpack(f)) "
    "  if type(r) == 'table' and r.err then "
    "    redis.call('XDEL', KEYS[1], e) "
    "    for j = 1, #ids do "
    "      redis.call('XDEL', KEYS[1], ids[j]) "
    "      redis.call('XDEL', KEYS[2], ids[j]) "
    "    end "
    "    return r "
    "  end "
    "  ids[#ids + 1] = e "
    "end "
    "for j = 1, #ids do "
    "  local i = 5 + 3 * j "
    "  redis.call('PUBLISH', ARGV[4], '{\"id\":\"' .. ids[j] .. "
    "    '\",\"event_id\":\"' .. ARGV[i] .. '\",\"type\":\"' .. "
    "    ARGV[i + 1] .. '\",\"data\":' .. ARGV[i + 2] .. "
    "    ',\"occurred_at\":\"' .. ARGV[2] .. '\"}') "
    "end "
    "e = table.concat(ids, ' ') "
    "redis.call('SET', KEYS[3], e, 'EX', ARGV[7]) "
    "return {1, e}");


static ngx_http_kx_outbox_relay_t  *ngx_http_kx_outbox_relays;
static ngx_uint_t                   ngx_http_kx_outbox_nrelays;
static kx_pg_pool_t                *ngx_http_kx_outbox_pg;


static void
ngx_http_kx_outbox_round(ngx_event_t *ev)
{
    ngx_http_kx_outbox_relay_t *relay = ev->data;

    kx_pg_stmt_t  st;

    if (ngx_exiting || ngx_terminate) {
        return;
    }

    if (relay->skip_probe) {
        /* the last batch was full: there is more, go straight in */
        relay->req = kx_pg_txn_begin(relay->pg, ngx_http_kx_outbox_begun,
                                     relay);

    } else {
        ngx_memzero(&st, sizeof(kx_pg_stmt_t));
        st.sql = (const char *) relay->table->probe_sql;
        st.name = (const char *) relay->table->probe_name;

        relay->req = kx_pg_query(relay->pg, &st, ngx_http_kx_outbox_probed,
                                 relay);
    }

    if (relay->req == NULL) {
        ngx_http_kx_outbox_end(relay, KX_OUTBOX_ROUND_FAILED);
    }
}


static void
ngx_http_kx_outbox_probed(kx_pg_result_t *res, void *data)
{
    ngx_http_kx_outbox_relay_t *relay = data;

    relay->req = NULL;

    if (res->status != KX_PG_OK) {
        ngx_http_kx_outbox_pg_failed(relay, "probe", res);
        return;
    }

    if (PQntuples(res->res) == 0) {
        ngx_http_kx_outbox_end(relay, KX_OUTBOX_ROUND_EMPTY);
        return;
    }

    relay->req = kx_pg_txn_begin(relay->pg, ngx_http_kx_outbox_begun, relay);
    if (relay->req == NULL) {
        ngx_http_kx_outbox_end(relay, KX_OUTBOX_ROUND_FAILED);
    }
}


static void
ngx_http_kx_outbox_begun(kx_pg_result_t *res, void *data)
{
    ngx_http_kx_outbox_relay_t *relay = data;

    const char    *values[1];
    kx_pg_stmt_t   st;

    relay->req = NULL;

    if (res->status != KX_PG_OK) {
        ngx_http_kx_outbox_pg_failed(relay, "begin", res);
        return;
    }

    relay->txn = res->txn;

    /*
     * One relay per table across instances.  A statement of its own: the
     * fetch that follows takes a new snapshot, which sees the marks of a
     * relay that held the lock until a moment ago.
     *
     * The round commits without waiting for its WAL to reach the disk: a
     * crash can lose only the marks, and the rows they marked are then
     * relayed again and answered by their "seen" keys (at-least-once, as
     * for a crash before the COMMIT).  The events themselves were made
     * durable by the writer's own commit.
     */
    values[0] = (const char *) relay->table->name.data;

    ngx_memzero(&st, sizeof(kx_pg_stmt_t));
    st.sql = "SELECT pg_try_advisory_xact_lock(" KX_OUTBOX_LOCK_CLASS
             ", hashtext($1)), "
             "set_config('synchronous_commit', 'off', true)";
    st.name = "kx_outbox_lock";
    st.nparams = 1;
    st.values = values;

    relay->req = kx_pg_txn_query(relay->txn, &st, ngx_http_kx_outbox_locked,
                                 relay);
    if (relay->req == NULL) {
        ngx_http_kx_outbox_end(relay, KX_OUTBOX_ROUND_FAILED);
    }
}


static void
ngx_http_kx_outbox_locked(kx_pg_result_t *res, void *data)
{
    ngx_http_kx_outbox_relay_t *relay = data;

    u_char         batch[NGX_INT_T_LEN + 1];
    const char    *values[1];
    kx_pg_stmt_t   st;

    relay->req = NULL;

    if (res->status != KX_PG_OK) {
        ngx_http_kx_outbox_pg_failed(relay, "lock", res);
        return;
    }

    if (PQntuples(res->res) != 1 || PQgetvalue(res->res, 0, 0)[0] != 't') {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, relay->log, 0,
                       "kx_outbox %V: another relay holds the table",
                       &relay->table->name);
        ngx_http_kx_outbox_end(relay, KX_OUTBOX_ROUND_EMPTY);
        return;
    }

    *ngx_sprintf(batch, "%ui", relay->omcf->batch) = '\0';
    values[0] = (const char *) batch;

    ngx_memzero(&st, sizeof(kx_pg_stmt_t));
    st.sql = (const char *) relay->table->fetch_sql;
    st.name = (const char *) relay->table->fetch_name;
    st.nparams = 1;
    st.values = values;

    relay->req = kx_pg_txn_query(relay->txn, &st, ngx_http_kx_outbox_fetched,
                                 relay);
    if (relay->req == NULL) {
        ngx_http_kx_outbox_end(relay, KX_OUTBOX_ROUND_FAILED);
    }
}


static void
ngx_http_kx_outbox_fetched(kx_pg_result_t *res, void *data)
{
    ngx_http_kx_outbox_relay_t *relay = data;

    relay->req = NULL;

    if (res->status != KX_PG_OK) {
        ngx_http_kx_outbox_pg_failed(relay, "fetch", res);
        return;
    }

    if (PQntuples(res->res) == 0) {
        ngx_http_kx_outbox_end(relay, KX_OUTBOX_ROUND_EMPTY);
        return;
    }

    if (PQnfields(res->res) != 6) {
        ngx_log_error(NGX_LOG_ERR, relay->log, 0,
                      "kx_outbox %V: unexpected columns",
                      &relay->table->name);
        ngx_http_kx_outbox_end(relay, KX_OUTBOX_ROUND_FAILED);
        return;
    }

    if (ngx_http_kx_outbox_load(relay, res->res) != NGX_OK) {
        ngx_http_kx_outbox_end(relay, KX_OUTBOX_ROUND_FAILED);
        return;
    }

    ngx_http_kx_outbox_publish(relay);
}


/*
 * The rows outlive the PGresult: copy them into the batch's pool.  The
 * result has one row per event; the events of a table row come
 * together, in order (the fetch).
 */

static ngx_int_t
ngx_http_kx_outbox_load(ngx_http_kx_outbox_relay_t *relay, PGresult *res)
{
    long                      *prev;
    size_t                    *scratch;
    ngx_uint_t                 i, n, r, nrows, *first;
    kx_outbox_str_t           *users;
    ngx_http_kx_outbox_row_t  *row;

    n = PQntuples(res);

    relay->pool = ngx_create_pool(16384, relay->log);
    if (relay->pool == NULL) {
        return NGX_ERROR;
    }

    /* the first result row of each table row */
    first = ngx_palloc(relay->pool, (n + 1) * sizeof(ngx_uint_t));
    if (first == NULL) {
        return NGX_ERROR;
    }

    nrows = 0;

    for (i = 0; i < n; i++) {
        if (i == 0
            || PQgetlength(res, i, 0) != PQgetlength(res, i - 1, 0)
            || ngx_strcmp(PQgetvalue(res, i, 0), PQgetvalue(res, i - 1, 0))
               != 0)
        {
            first[nrows++] = i;
        }
    }

    first[nrows] = n;

    relay->rows = ngx_pcalloc(relay->pool,
                              nrows * sizeof(ngx_http_kx_outbox_row_t));
    users = ngx_palloc(relay->pool, nrows * sizeof(kx_outbox_str_t));
    prev = ngx_palloc(relay->pool, nrows * sizeof(long));
    scratch = ngx_palloc(relay->pool, 2 * nrows * sizeof(size_t));

    if (relay->rows == NULL || users == NULL || prev == NULL
        || scratch == NULL)
    {
        return NGX_ERROR;
    }

    relay->nrows = nrows;
    relay->nevents = n;
    relay->failed = 0;
    relay->lost = 0;

    for (r = 0; r < nrows; r++) {
        users[r].data = PQgetvalue(res, first[r], 3);
        users[r].len = PQgetlength(res, first[r], 3);
    }

    kx_outbox_chain(users, nrows, prev, scratch);

    for (r = 0; r < nrows; r++) {
        row = &relay->rows[r];
        row->relay = relay;
        row->nevents = first[r + 1] - first[r];

        if (ngx_http_kx_outbox_row_args(relay, row, res, first[r],
                                        prev[r] < 0
                                        ? NULL
                                        : &relay->rows[prev[r]].args[14])
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_kx_outbox_row_args(ngx_http_kx_outbox_relay_t *relay,
    ngx_http_kx_outbox_row_t *row, PGresult *res, ngx_uint_t first,
    ngx_str_t *prev_event_id)
{
    u_char                          *p;
    size_t                           len;
    ngx_str_t                       *a, user;
    ngx_uint_t                       e, f, k;
    ngx_http_kx_outbox_main_conf_t  *omcf;

    static ngx_str_t  seen = ngx_string("kx:outbox:seen:");
    static ngx_str_t  channel = ngx_string("kx:user:");

    omcf = relay->omcf;

    row->nargs = KX_OUTBOX_NARGS(row->nevents);
    row->args = ngx_palloc(relay->pool, row->nargs * sizeof(ngx_str_t));
    if (row->args == NULL) {
        return NGX_ERROR;
    }

    a = row->args;

    row->id.len = PQgetlength(res, first, 0);
    row->id.data = ngx_http_kx_outbox_dup(relay->pool,
                                          PQgetvalue(res, first, 0),
                                          row->id.len);

    /* ARGV 1, 2: user_id occurred_at (columns 3, 5) */
    a[7].len = PQgetlength(res, first, 3);
    a[7].data = ngx_http_kx_outbox_dup(relay->pool, PQgetvalue(res, first, 3),
                                       a[7].len);
    a[8].len = PQgetlength(res, first, 5);
    a[8].data = ngx_http_kx_outbox_dup(relay->pool, PQgetvalue(res, first, 5),
                                       a[8].len);

    if (row->id.data == NULL || a[7].data == NULL || a[8].data == NULL) {
        return NGX_ERROR;
    }

    /* ARGV 8..: event_id type payload of each event (columns 1, 2, 4) */
    for (e = 0; e < row->nevents; e++) {
        for (f = 0; f < 3; f++) {
            k = 14 + 3 * e + f;
            a[k].len = PQgetlength(res, first + e, f == 2 ? 4 : f + 1);
            a[k].data = ngx_http_kx_outbox_dup(relay->pool,
                                               PQgetvalue(res, first + e,
                                                          f == 2 ? 4 : f + 1),
                                               a[k].len);
            if (a[k].data == NULL) {
                return NGX_ERROR;
            }
        }
    }

    user = a[7];

    ngx_str_set(&a[0], "EVALSHA");
    a[1].data = ngx_http_kx_outbox_script_sha;
    a[1].len = 40;
    ngx_str_set(&a[2], "4");

    len = omcf->stream.len + sizeof(":user:") - 1 + user.len
          + seen.len + a[14].len
          + (prev_event_id ? seen.len + prev_event_id->len : 0)
          + channel.len + user.len;

    p = ngx_pnalloc(relay->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    a[3] = omcf->stream;

    a[4].data = p;
    p = ngx_sprintf(p, "%V:user:%V", &omcf->stream, &user);
    a[4].len = p - a[4].data;

    a[5].data = p;
    p = ngx_sprintf(p, "%V%V", &seen, &a[14]);
    a[5].len = p - a[5].data;

    if (prev_event_id) {
        a[6].data = p;
        p = ngx_sprintf(p, "%V%V", &seen, prev_event_id);
        a[6].len = p - a[6].data;

    } else {
        ngx_str_set(&a[6], "");
    }

    a[9] = relay->table->source;

    a[10].data = p;
    p = ngx_sprintf(p, "%V%V", &channel, &user);
    a[10].len = p - a[10].data;

    a[11] = omcf->maxlen_text;
    a[12] = omcf->user_maxlen_text;
    a[13] = omcf->ttl_text;

    return NGX_OK;
}


static void
ngx_http_kx_outbox_publish(ngx_http_kx_outbox_relay_t *relay)
{
    ngx_uint_t                 i;
    ngx_http_kx_outbox_row_t  *row;

    if (!kx_redis_available(relay->rd)) {
        /* record the attempt on every row, so an operator sees why */
        for (i = 0; i < relay->nrows; i++) {
            ngx_http_kx_outbox_row_fail(&relay->rows[i],
                                        "redis unavailable",
                                        sizeof("redis unavailable") - 1);
        }

        relay->lost = relay->nrows;

        ngx_http_kx_outbox_mark(relay);
        return;
    }

    /*
     * Pipelined on one connection, so Redis runs the scripts in id order;
     * the handlers run later, from the event loop, never from here.
     */
    relay->pending = 0;

    for (i = 0; i < relay->nrows; i++) {
        row = &relay->rows[i];

        row->cmd = kx_redis_command(relay->rd, row->args, row->nargs, 0,
                                    ngx_http_kx_outbox_published, row);
        if (row->cmd == NULL) {
            ngx_http_kx_outbox_row_fail(row, "out of memory",
                                        sizeof("out of memory") - 1);
            relay->lost++;
            continue;
        }

        relay->pending++;
    }

    if (relay->pending == 0) {
        ngx_http_kx_outbox_mark(relay);
    }
}


static void
ngx_http_kx_outbox_published(kx_redis_status_e status, redisReply *reply,
    void *data)
{
    ngx_http_kx_outbox_row_t *row = data;

    char                        *last;
    u_char                       err[64];
    size_t                       len;
    const char                  *text;
    redisReply                  *flag, *id;
    ngx_http_kx_outbox_relay_t  *relay;

    relay = row->relay;
    row->cmd = NULL;

    if (status == KX_REDIS_ERROR && reply && reply->type == REDIS_REPLY_ERROR
        && reply->len >= 8 && ngx_strncmp(reply->str, "NOSCRIPT", 8) == 0
        && row->args[0].len == 7)
    {
        /*
         * A restarted or new server: send the script itself.  A later row
         * of the same user that overtakes this one meanwhile is refused by
         * its KXORDER check, so the order holds.
         */
        ngx_str_set(&row->args[0], "EVAL");
        row->args[1] = ngx_http_kx_outbox_script;

        row->cmd = kx_redis_command(relay->rd, row->args, row->nargs, 0,
                                    ngx_http_kx_outbox_published, row);
        if (row->cmd) {
            return;
        }
    }

    if (status == KX_REDIS_OK && reply->type == REDIS_REPLY_ARRAY
        && reply->elements == 2
        && reply->element[0]->type == REDIS_REPLY_INTEGER
        && reply->element[1]->type == REDIS_REPLY_STRING)
    {
        flag = reply->element[0];
        id = reply->element[1];

        /* "E1 E2 ..": the row's stream_id is the last */
        for (last = id->str + id->len; last > id->str; last--) {
            if (last[-1] == ' ') {
                break;
            }
        }

        len = id->str + id->len - last;

        row->stream_id.data = ngx_http_kx_outbox_dup(relay->pool, last, len);
        if (row->stream_id.data) {
            row->stream_id.len = len;
            row->duplicate = (flag->integer == 0);
            row->done = 1;

        } else {
            ngx_http_kx_outbox_row_fail(row, "out of memory",
                                        sizeof("out of memory") - 1);
            relay->lost++;
        }

    } else if (status == KX_REDIS_ERROR && reply
               && reply->type == REDIS_REPLY_ERROR)
    {
        ngx_http_kx_outbox_row_fail(row, reply->str, reply->len);

    } else if (status == KX_REDIS_OK) {
        ngx_http_kx_outbox_row_fail(row, "unexpected reply",
                                    sizeof("unexpected reply") - 1);

    } else {
        /* "redis timeout", "redis connection_lost": says whose */
        text = kx_redis_status_text(status);
        len = ngx_snprintf(err, sizeof(err), "redis %s", text) - err;
        ngx_http_kx_outbox_row_fail(row, (char *) err, len);
        relay->lost++;
    }

    if (--relay->pending == 0) {
        ngx_http_kx_outbox_mark(relay);
    }
}


static void
ngx_http_kx_outbox_row_fail(ngx_http_kx_outbox_row_t *row, const char *text,
    size_t len)
{
    u_char      *p;
    ngx_uint_t   i;

    row->relay->failed++;

    /* the first row of a batch, in rounds that are logged (see below) */
    if (row->relay->failed == 1
        && (row->relay->failures & (row->relay->failures + 1)) == 0)
    {
        ngx_log_error(NGX_LOG_WARN, row->relay->log, 0,
                      "kx_outbox %V: event %V (id %V) not published: %*s",
                      &row->relay->table->name, &row->args[14], &row->id,
                      ngx_min(len, KX_OUTBOX_ERROR_MAX), text);
    }

    len = ngx_min(len, KX_OUTBOX_ERROR_MAX);

    p = ngx_pnalloc(row->relay->pool, len);
    if (p == NULL) {
        ngx_str_set(&row->error, "out of memory");
        return;
    }

    /* the column is text: no NULs, no control bytes */
    for (i = 0; i < len; i++) {
        p[i] = (text[i] < 0x20 || text[i] == 0x7f) ? '?' : text[i];
    }

    row->error.data = p;
    row->error.len = len;
}


/*
 * One UPDATE for the batch, from three arrays: ids, entry ids (NULL:
 * not published) and errors (NULL: none).  Every row counts an attempt.
 */
static void
ngx_http_kx_outbox_mark(ngx_http_kx_outbox_relay_t *relay)
{
    u_char                    *p, *ids, *sids, *errs;
    size_t                     ilen, slen, elen;
    ngx_uint_t                 i, dups, failed;
    const char                *values[3];
    kx_pg_stmt_t               st;
    ngx_http_kx_outbox_row_t  *row;

    ilen = 3;
    slen = 3;
    elen = 3;

    for (i = 0; i < relay->nrows; i++) {
        row = &relay->rows[i];

        ilen += row->id.len + 1;
        slen += kx_outbox_array_elem(NULL, row->done
                                           ? (char *) row->stream_id.data
                                           : NULL,
                                     row->stream_id.len) + 1;
        elen += kx_outbox_array_elem(NULL, row->done
                                           ? NULL
                                           : (char *) row->error.data,
                                     row->error.len) + 1;
    }

    ids = ngx_pnalloc(relay->pool, ilen);
    sids = ngx_pnalloc(relay->pool, slen);
    errs = ngx_pnalloc(relay->pool, elen);

    if (ids == NULL || sids == NULL || errs == NULL) {
        ngx_http_kx_outbox_end(relay, KX_OUTBOX_ROUND_FAILED);
        return;
    }

    p = ids;
    *p++ = '{';

    for (i = 0; i < relay->nrows; i++) {
        p = ngx_cpymem(p, relay->rows[i].id.data, relay->rows[i].id.len);
        *p++ = ',';
    }

    p[-1] = '}';
    *p = '\0';

    p = sids;
    *p++ = '{';

    for (i = 0; i < relay->nrows; i++) {
        row = &relay->rows[i];
        p += kx_outbox_array_elem((char *) p,
                                  row->done ? (char *) row->stream_id.data
                                            : NULL,
                                  row->stream_id.len);
        *p++ = ',';
    }

    p[-1] = '}';
    *p = '\0';

    p = errs;
    *p++ = '{';
    dups = 0;
    failed = 0;

    for (i = 0; i < relay->nrows; i++) {
        row = &relay->rows[i];

        if (row->done) {
            dups += row->duplicate ? row->nevents : 0;

        } else {
            failed += row->nevents;
        }

        p += kx_outbox_array_elem((char *) p,
                                  row->done ? NULL : (char *) row->error.data,
                                  row->error.len);
        *p++ = ',';
    }

    p[-1] = '}';
    *p = '\0';

    /* events, not rows */
    ngx_http_kx_metrics_count((ngx_cycle_t *) ngx_cycle,
                              (char *) relay->table->m_published,
                              relay->nevents - failed - dups);
    ngx_http_kx_metrics_count((ngx_cycle_t *) ngx_cycle,
                              (char *) relay->table->m_failed, failed);

    if (dups) {
        /* rare: a round that failed after publishing, or a stalled Redis */
        ngx_http_kx_metrics_count((ngx_cycle_t *) ngx_cycle,
                                  (char *) relay->table->m_duplicates, dups);

        ngx_log_error(NGX_LOG_NOTICE, relay->log, 0,
                      "kx_outbox %V: %ui of %ui events were published "
                      "before (kept their first entry ids)",
                      &relay->table->name, dups, relay->nevents);
    }

    values[0] = (const char *) ids;
    values[1] = (const char *) sids;
    values[2] = (const char *) errs;

    ngx_memzero(&st, sizeof(kx_pg_stmt_t));
    st.sql = (const char *) relay->table->mark_sql;
    st.name = (const char *) relay->table->mark_name;
    st.nparams = 3;
    st.values = values;

    relay->req = kx_pg_txn_query(relay->txn, &st, ngx_http_kx_outbox_marked,
                                 relay);
    if (relay->req == NULL) {
        ngx_http_kx_outbox_end(relay, KX_OUTBOX_ROUND_FAILED);
    }
}


static void
ngx_http_kx_outbox_marked(kx_pg_result_t *res, void *data)
{
    ngx_http_kx_outbox_relay_t *relay = data;

    relay->req = NULL;

    if (res->status != KX_PG_OK) {
        ngx_http_kx_outbox_pg_failed(relay, "mark", res);
        return;
    }

    relay->req = kx_pg_txn_commit(relay->txn, ngx_http_kx_outbox_committed,
                                  relay);

    /* COMMIT ends the transaction, whatever its outcome */
    relay->txn = NULL;

    if (relay->req == NULL) {
        ngx_http_kx_outbox_end(relay, KX_OUTBOX_ROUND_FAILED);
    }
}


static void
ngx_http_kx_outbox_committed(kx_pg_result_t *res, void *data)
{
    ngx_http_kx_outbox_relay_t *relay = data;

    relay->req = NULL;

    if (res->status != KX_PG_OK) {
        /* the rows stay unpublished: the next round republishes them */
        ngx_http_kx_outbox_pg_failed(relay, "commit", res);
        return;
    }

    if (relay->lost) {
        /* Redis down, stalled or gone mid-batch: back off */
        ngx_http_kx_outbox_end(relay, KX_OUTBOX_ROUND_FAILED);

    } else if (relay->failed) {
        /*
         * Redis works but refused rows (one user's broken stream, and the
         * later events of that user): no backoff, which would slow every
         * other user's events down.
         */
        ngx_http_kx_outbox_end(relay, KX_OUTBOX_ROUND_STUCK);

    } else if (relay->nrows == relay->omcf->batch) {
        ngx_http_kx_outbox_end(relay, KX_OUTBOX_ROUND_FULL);

    } else {
        ngx_http_kx_outbox_end(relay, KX_OUTBOX_ROUND_SOME);
    }
}


static void
ngx_http_kx_outbox_pg_failed(ngx_http_kx_outbox_relay_t *relay,
    const char *step, kx_pg_result_t *res)
{
    /* log the first failure of a run, and then less and less often */
    if ((relay->failures & (relay->failures + 1)) == 0) {
        ngx_log_error(NGX_LOG_WARN, relay->log, 0,
                      "kx_outbox %V: %s failed (%s): %s",
                      &relay->table->name, step,
                      kx_pg_status_text(res->status), res->error);
    }

    ngx_http_kx_outbox_end(relay, KX_OUTBOX_ROUND_FAILED);
}


static void
ngx_http_kx_outbox_end(ngx_http_kx_outbox_relay_t *relay,
    kx_outbox_round_e round)
{
    int64_t  delay;

    if (relay->txn) {
        kx_pg_txn_rollback(relay->txn);
        relay->txn = NULL;
    }

    if (relay->pool) {
        ngx_destroy_pool(relay->pool);
        relay->pool = NULL;
        relay->rows = NULL;
        relay->nrows = 0;
        relay->nevents = 0;
    }

    if (round == KX_OUTBOX_ROUND_FAILED || relay->failed) {
        relay->failures++;
        relay->failed = 0;

    } else if (relay->failures) {
        ngx_log_error(NGX_LOG_NOTICE, relay->log, 0,
                      "kx_outbox %V: relaying again after %ui failed "
                      "rounds", &relay->table->name, relay->failures);
        relay->failures = 0;
    }

    /* rows found: more are likely by the next round, which needs no probe */
    relay->skip_probe = (round == KX_OUTBOX_ROUND_FULL
                         || round == KX_OUTBOX_ROUND_SOME);

    delay = kx_outbox_pace_next(&relay->pace, round, (uint32_t) ngx_random());

    if (ngx_exiting || ngx_terminate) {
        return;
    }

    ngx_add_timer(&relay->timer, (ngx_msec_t) delay);
}


static u_char *
ngx_http_kx_outbox_dup(ngx_pool_t *pool, const char *s, size_t len)
{
    u_char  *p;

    p = ngx_pnalloc(pool, len + 1);
    if (p == NULL) {
        return NULL;
    }

    ngx_memcpy(p, s, len);
    p[len] = '\0';

    return p;
}


/* fmt (one %V, ending in %Z) for the table's name: the two fit in its size */
static u_char *
ngx_http_kx_outbox_named(ngx_conf_t *cf, const char *fmt, ngx_str_t *table)
{
    u_char  *p;

    p = ngx_pnalloc(cf->pool, ngx_strlen(fmt) + table->len);
    if (p == NULL) {
        return NULL;
    }

    ngx_sprintf(p, fmt, table);

    return p;
}


/* kx_outbox schema.table; */
static char *
ngx_http_kx_outbox(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    u_char                          *p;
    size_t                           schema_len;
    ngx_str_t                       *value;
    ngx_uint_t                       i;
    ngx_http_kx_outbox_table_t      *t;
    ngx_http_kx_outbox_main_conf_t  *omcf;

    /* also allowed in server{}: the relay belongs to the instance */
    omcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_kx_outbox_module);

    value = cf->args->elts;

    if (kx_outbox_table_check((char *) value[1].data, value[1].len,
                              &schema_len)
        != 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid table \"%V\": want schema.table in "
                           "lower-case letters, digits and underscores",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    t = omcf->tables.elts;

    for (i = 0; i < omcf->tables.nelts; i++) {
        if (t[i].name.len == value[1].len
            && ngx_strncmp(t[i].name.data, value[1].data, value[1].len) == 0)
        {
            return "is duplicate";
        }
    }

    t = ngx_array_push(&omcf->tables);
    if (t == NULL) {
        return NGX_CONF_ERROR;
    }

    t->name = value[1];
    t->source.data = value[1].data;
    t->source.len = schema_len;

    /*
     * prepared statements: one set per table, as a relay connection may
     * serve any table; and the table's GET /metrics series
     */
    t->probe_name = ngx_http_kx_outbox_named(cf, "kx_outbox_probe %V%Z",
                                             &value[1]);
    t->fetch_name = ngx_http_kx_outbox_named(cf, "kx_outbox_fetch %V%Z",
                                             &value[1]);
    t->mark_name = ngx_http_kx_outbox_named(cf, "kx_outbox_mark %V%Z",
                                            &value[1]);
    t->m_published = ngx_http_kx_outbox_named(cf,
                         "kx_outbox_published_total{table=\"%V\"}%Z",
                         &value[1]);
    t->m_duplicates = ngx_http_kx_outbox_named(cf,
                          "kx_outbox_duplicates_total{table=\"%V\"}%Z",
                          &value[1]);
    t->m_failed = ngx_http_kx_outbox_named(cf,
                      "kx_outbox_failed_total{table=\"%V\"}%Z", &value[1]);

    if (t->probe_name == NULL || t->fetch_name == NULL
        || t->mark_name == NULL || t->m_published == NULL
        || t->m_duplicates == NULL || t->m_failed == NULL)
    {
        return NGX_CONF_ERROR;
    }

    /* the name was checked above: it may go into SQL text */

    t->probe_sql = ngx_pnalloc(cf->pool, 128 + value[1].len);
    t->fetch_sql = ngx_pnalloc(cf->pool, 1024 + value[1].len);
    /* mark_sql: by init_main_conf(), which knows kx_outbox_keep */
    t->mark_sql = ngx_pnalloc(cf->pool, 768 + 2 * value[1].len);

    if (t->probe_sql == NULL || t->fetch_sql == NULL || t->mark_sql == NULL) {
        return NGX_CONF_ERROR;
    }

    p = ngx_sprintf(t->probe_sql,
                    "SELECT 1 FROM %V WHERE published_at IS NULL LIMIT 1",
                    &value[1]);
    *p = '\0';

    /*
     * A row whose payload is an array: one result row per event.  An event
     * without its own event_id (a writer older than trading's 0017) gets
     * the row's if it is the first, else one derived from the row's and
     * its place: the same on every attempt, so still deduplicated.
     */
    p = ngx_sprintf(t->fetch_sql,
                    "SELECT o.id, coalesce(e.v->>'event_id', "
                    "CASE WHEN coalesce(e.n, 1) = 1 THEN o.event_id::text "
                    "ELSE md5(o.event_id::text || '/' || e.n)::uuid::text "
                    "END), coalesce(e.v->>'type', o.type), "
                    "o.user_id, coalesce((e.v->'payload')::text, "
                    "o.payload::text), "
                    "to_char(o.created_at AT TIME ZONE 'UTC', "
                    "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') "
                    "FROM (SELECT id, event_id, type, user_id, payload, "
                    "created_at FROM %V WHERE published_at IS NULL "
                    "ORDER BY id LIMIT $1::int) o "
                    "LEFT JOIN LATERAL jsonb_array_elements(CASE WHEN "
                    "jsonb_typeof(o.payload) = 'array' THEN o.payload END) "
                    "WITH ORDINALITY AS e(v, n) ON true "
                    "ORDER BY o.id, e.n",
                    &value[1]);
    *p = '\0';

    return NGX_CONF_OK;
}


/*
 * The statement that ends a round: $1 the rows' ids, $2 their entry ids
 * (NULL: not published), $3 why not.  A published row is deleted, or,
 * with kx_outbox_keep, marked (published_at, stream_id); a row that was
 * not counts the attempt and keeps its error.  Deleting is the default
 * because the mark is a second full copy of the row (payload included,
 * WAL and a new index entry per index: published_at is in the partial
 * index's predicate, so never a HOT update) and a dead one for vacuum;
 * the record of an event is the stream, and the order's history is in
 * the service's own tables (bench/orders: README, kx_outbox_keep).
 */
static void
ngx_http_kx_outbox_mark_sql(ngx_http_kx_outbox_table_t *t, ngx_flag_t keep)
{
    u_char  *p;

    if (keep) {
        p = ngx_sprintf(t->mark_sql,
                        "UPDATE %V AS o SET "
                        "published_at = CASE WHEN u.sid IS NULL THEN NULL "
                        "ELSE now() END, "
                        "stream_id = coalesce(u.sid, o.stream_id), "
                        "attempts = o.attempts + 1, "
                        "last_error = coalesce(u.err, o.last_error) "
                        "FROM unnest($1::bigint[], $2::text[], $3::text[]) "
                        "AS u(id, sid, err) "
                        "WHERE o.id = u.id AND o.published_at IS NULL",
                        &t->name);

    } else {
        /* the two parts touch disjoint rows: sid is NULL or not */
        p = ngx_sprintf(t->mark_sql,
                        "WITH u AS (SELECT * FROM unnest($1::bigint[], "
                        "$2::text[], $3::text[]) AS u(id, sid, err)), "
                        "d AS (DELETE FROM %V AS o USING u "
                        "WHERE o.id = u.id AND u.sid IS NOT NULL "
                        "AND o.published_at IS NULL) "
                        "UPDATE %V AS o SET attempts = o.attempts + 1, "
                        "last_error = coalesce(u.err, o.last_error) "
                        "FROM u WHERE o.id = u.id AND u.sid IS NULL "
                        "AND o.published_at IS NULL",
                        &t->name, &t->name);
    }

    *p = '\0';
}


/* kx_outbox_interval min [max];  kx_outbox_retry min [max]; */
static char *
ngx_http_kx_outbox_interval(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    ngx_str_t   *value;
    ngx_msec_t  *msp, min, max;

    msp = (ngx_msec_t *) (p + cmd->offset);

    if (*msp != NGX_CONF_UNSET_MSEC) {
        return "is duplicate";
    }

    value = cf->args->elts;

    min = ngx_parse_time(&value[1], 0);
    if (min == (ngx_msec_t) NGX_ERROR || min == 0) {
        return "has an invalid minimum";
    }

    max = min;

    if (cf->args->nelts == 3) {
        max = ngx_parse_time(&value[2], 0);
        if (max == (ngx_msec_t) NGX_ERROR || max < min) {
            return "has an invalid maximum (at least the minimum)";
        }
    }

    /* the _max field follows the _min one */
    msp[0] = min;
    msp[1] = max;

    return NGX_CONF_OK;
}


/* kx_outbox_maxlen stream_entries user_stream_entries; */
static char *
ngx_http_kx_outbox_maxlen(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_kx_outbox_main_conf_t *omcf = conf;

    ngx_int_t   n, m;
    ngx_str_t  *value;

    if (omcf->maxlen != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    n = ngx_atoi(value[1].data, value[1].len);
    m = ngx_atoi(value[2].data, value[2].len);

    if (n <= 0 || m <= 0) {
        return "takes two positive numbers";
    }

    omcf->maxlen = n;
    omcf->user_maxlen = m;

    return NGX_CONF_OK;
}


static void *
ngx_http_kx_outbox_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_kx_outbox_main_conf_t  *omcf;

    omcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_kx_outbox_main_conf_t));
    if (omcf == NULL) {
        return NULL;
    }

    if (ngx_array_init(&omcf->tables, cf->pool, 4,
                       sizeof(ngx_http_kx_outbox_table_t))
        != NGX_OK)
    {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     omcf->stream = { 0, NULL };
     */

    omcf->batch = NGX_CONF_UNSET_UINT;
    omcf->interval_min = NGX_CONF_UNSET_MSEC;
    omcf->interval_max = NGX_CONF_UNSET_MSEC;
    omcf->retry_min = NGX_CONF_UNSET_MSEC;
    omcf->retry_max = NGX_CONF_UNSET_MSEC;
    omcf->maxlen = NGX_CONF_UNSET_UINT;
    omcf->user_maxlen = NGX_CONF_UNSET_UINT;
    omcf->dedupe_ttl = NGX_CONF_UNSET;
    omcf->keep = NGX_CONF_UNSET;

    return omcf;
}


static char *
ngx_http_kx_outbox_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_kx_outbox_main_conf_t *omcf = conf;

    u_char                      *p;
    ngx_uint_t                   i;
    ngx_http_kx_outbox_table_t  *t;

    if (omcf->stream.data == NULL) {
        ngx_str_set(&omcf->stream, "kx:events");
    }

    if (omcf->stream.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "kx_outbox_stream must not be empty");
        return NGX_CONF_ERROR;
    }

    /* large enough that a relay behind under load catches up (bench/orders) */
    ngx_conf_init_uint_value(omcf->batch, 500);

    if (omcf->batch == 0 || omcf->batch > KX_OUTBOX_BATCH_MAX) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "kx_outbox_batch must be 1..%d",
                           KX_OUTBOX_BATCH_MAX);
        return NGX_CONF_ERROR;
    }

    if (omcf->interval_min == NGX_CONF_UNSET_MSEC) {
        /*
         * short rounds while busy: a round is a burst of work on PostgreSQL,
         * Redis and this worker, and bursts every 20 ms put the writers'
         * own requests in their shadow (bench/orders' p99)
         */
        omcf->interval_min = 5;
        omcf->interval_max = 500;
    }

    if (omcf->retry_min == NGX_CONF_UNSET_MSEC) {
        omcf->retry_min = 100;
        omcf->retry_max = 5000;
    }

    if (omcf->maxlen == NGX_CONF_UNSET_UINT) {
        omcf->maxlen = 1000000;
        omcf->user_maxlen = 1000;
    }

    ngx_conf_init_value(omcf->dedupe_ttl, 3600);
    ngx_conf_init_value(omcf->keep, 0);

    t = omcf->tables.elts;

    for (i = 0; i < omcf->tables.nelts; i++) {
        ngx_http_kx_outbox_mark_sql(&t[i], omcf->keep);
    }

    if (omcf->dedupe_ttl <= 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "kx_outbox_dedupe_ttl must be positive");
        return NGX_CONF_ERROR;
    }

    p = ngx_pnalloc(cf->pool, 3 * NGX_INT_T_LEN);
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    omcf->maxlen_text.data = p;
    p = ngx_sprintf(p, "%ui", omcf->maxlen);
    omcf->maxlen_text.len = p - omcf->maxlen_text.data;

    omcf->user_maxlen_text.data = p;
    p = ngx_sprintf(p, "%ui", omcf->user_maxlen);
    omcf->user_maxlen_text.len = p - omcf->user_maxlen_text.data;

    omcf->ttl_text.data = p;
    p = ngx_sprintf(p, "%T", omcf->dedupe_ttl);
    omcf->ttl_text.len = p - omcf->ttl_text.data;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_kx_outbox_init(ngx_conf_t *cf)
{
    u_char        digest[EVP_MAX_MD_SIZE];
    unsigned int  n;

    /* Redis names a script by the SHA-1 of its text */
    if (EVP_Digest(ngx_http_kx_outbox_script.data,
                   ngx_http_kx_outbox_script.len, digest, &n, EVP_sha1(),
                   NULL)
        != 1 || n != 20)
    {
        return NGX_ERROR;
    }

    ngx_hex_dump(ngx_http_kx_outbox_script_sha, digest, 20);

    return NGX_OK;
}


static ngx_int_t
ngx_http_kx_outbox_init_process(ngx_cycle_t *cycle)
{
    kx_redis_t                      *rd;
    ngx_uint_t                       i;
    kx_pg_pool_t                    *pg;
    kx_pg_conf_t                    *pgcf, *own;
    ngx_http_kx_outbox_table_t      *t;
    ngx_http_kx_outbox_relay_t      *relay;
    ngx_http_kx_outbox_main_conf_t  *omcf;

    if ((ngx_process != NGX_PROCESS_WORKER
         && ngx_process != NGX_PROCESS_SINGLE)
        || ngx_worker != 0)
    {
        return NGX_OK;
    }

    omcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_kx_outbox_module);
    if (omcf == NULL || omcf->tables.nelts == 0) {
        return NGX_OK;
    }

    /* the io module, listed before this one, made its clients already */
    pgcf = ngx_http_kx_io_pg_conf(cycle);
    rd = ngx_http_kx_io_redis_cycle(cycle);

    if (pgcf == NULL || rd == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "kx_outbox needs kx_pg_conninfo and kx_redis_addr");
        return NGX_ERROR;
    }

    /* the io module's settings, with a connection per relay */
    own = ngx_palloc(cycle->pool, sizeof(kx_pg_conf_t));
    if (own == NULL) {
        return NGX_ERROR;
    }

    *own = *pgcf;
    own->size = omcf->tables.nelts;

    pg = kx_pg_pool_create(own, cycle->log);
    if (pg == NULL) {
        return NGX_ERROR;
    }

    ngx_http_kx_outbox_pg = pg;

    relay = ngx_pcalloc(cycle->pool, omcf->tables.nelts
                                     * sizeof(ngx_http_kx_outbox_relay_t));
    if (relay == NULL) {
        return NGX_ERROR;
    }

    t = omcf->tables.elts;

    for (i = 0; i < omcf->tables.nelts; i++) {
        relay[i].table = &t[i];
        relay[i].omcf = omcf;
        relay[i].log = cycle->log;
        relay[i].pg = pg;
        relay[i].rd = rd;

        kx_outbox_pace_init(&relay[i].pace, omcf->interval_min,
                            omcf->interval_max, omcf->retry_min,
                            omcf->retry_max);

        relay[i].timer.handler = ngx_http_kx_outbox_round;
        relay[i].timer.data = &relay[i];
        relay[i].timer.log = cycle->log;
        relay[i].timer.cancelable = 1;

        /* the first round once the worker runs */
        ngx_add_timer(&relay[i].timer, 1);
    }

    ngx_http_kx_outbox_relays = relay;
    ngx_http_kx_outbox_nrelays = omcf->tables.nelts;

    return NGX_OK;
}


static void
ngx_http_kx_outbox_exit_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                   i;
    ngx_http_kx_outbox_relay_t  *relay;

    /*
     * The io module's exit_process ran first (it is listed before this
     * one) and freed every Redis command in flight without calling its
     * handler; the relays' own connections go the same way, then the
     * memory the statements used.
     */
    if (ngx_http_kx_outbox_pg) {
        kx_pg_pool_destroy(ngx_http_kx_outbox_pg);
        ngx_http_kx_outbox_pg = NULL;
    }

    for (i = 0; i < ngx_http_kx_outbox_nrelays; i++) {
        relay = &ngx_http_kx_outbox_relays[i];

        if (relay->timer.timer_set) {
            ngx_del_timer(&relay->timer);
        }

        if (relay->pool) {
            ngx_destroy_pool(relay->pool);
            relay->pool = NULL;
        }
    }

    ngx_http_kx_outbox_nrelays = 0;
    ngx_http_kx_outbox_relays = NULL;
}
