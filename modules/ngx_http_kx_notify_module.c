
/*
 * Copyright (C) Kianax
 *
 * The notification service (seed section 6):
 *
 *   kx_notify_ws;      GET /ws, /v1/market/stream: a WebSocket of live
 *                      quotes and the user's own events (kx_ws_conn.c,
 *                      kx_ws_hub.c)
 *   kx_notify_api;     GET /v1/notifications   ?limit=&cursor=&unread=
 *                      POST /v1/notifications  {"title","message","data"}:
 *                                   the user's own alert (kx_notify_send.c)
 *                      POST /v1/notifications/read
 *                                   {"ids":["<id>",...]} or {"all":true}
 *                      GET /v1/preferences
 *                      PUT /v1/preferences     (a partial update)
 *
 * and, with "kx_notify_events on", one worker consumes the domain event
 * stream kx:events in the consumer group "notify" (its own Redis client:
 * XREADGROUP BLOCK holds the connection) and stores the user-facing
 * events as in-app notifications, honouring the user's preferences,
 * once per event (the unique index on event_id), acknowledging each
 * batch after it is stored.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_kx.h"
#include "kx_ws_conn.h"
#include "kx_notify_send.h"
#include "notify/kx_notify_prefs.h"


#define KX_NOTIFY_GROUP          "notify"
#define KX_NOTIFY_STREAM         "kx:events"
#define KX_NOTIFY_BATCH          64
#define KX_NOTIFY_BLOCK          "5000"
#define KX_NOTIFY_RETRY          1000
#define KX_NOTIFY_LIMIT_DEFAULT  20
#define KX_NOTIFY_LIMIT_MAX      100
#define KX_NOTIFY_BODY_MAX       16384


typedef struct {
    ngx_http_request_t     *request;
    kx_pg_req_t            *pg;
} kx_notify_req_ctx_t;


/* one entry of a batch read from kx:events */
typedef struct {
    ngx_str_t               id;
    ngx_str_t               event_id;
    ngx_str_t               type;
    ngx_str_t               user_id;
    ngx_str_t               payload;
} kx_notify_entry_t;


typedef struct {
    kx_redis_conf_t         conf;
    kx_redis_t             *rd;
    kx_pg_pool_t           *pg;
    ngx_log_t              *log;
    ngx_str_t               consumer;
    kx_redis_cmd_t         *cmd;
    kx_pg_req_t            *req;
    ngx_event_t             retry;

    kx_notify_entry_t      *entries;
    ngx_uint_t              n;
    ngx_uint_t              next;

    unsigned                created:1;
    unsigned                history:1;      /* our pending entries first */
} kx_notify_consumer_t;


static ngx_int_t ngx_http_kx_notify_api_handler(ngx_http_request_t *r);
static ngx_int_t kx_notify_list(ngx_http_request_t *r, ngx_str_t *uid);
static ngx_int_t kx_notify_prefs_get(ngx_http_request_t *r, ngx_str_t *uid);
static void kx_notify_prefs_put(ngx_http_request_t *r, kx_json_doc_t *doc);
static void kx_notify_mark_read(ngx_http_request_t *r, kx_json_doc_t *doc);
static void kx_notify_send_body(ngx_http_request_t *r, kx_json_doc_t *doc);
static ngx_int_t kx_notify_query(ngx_http_request_t *r, const char *sql,
    ngx_uint_t n, const char **values);
static void kx_notify_query_done(kx_pg_result_t *res, void *data);
static void kx_notify_req_cleanup(void *data);
static ngx_int_t kx_notify_uid(ngx_http_request_t *r, ngx_str_t *uid,
    ngx_int_t *rc);

static void kx_notify_consumer_start(kx_notify_consumer_t *nc);
static void kx_notify_consumer_created(kx_redis_status_e status,
    redisReply *reply, void *data);
static void kx_notify_consumer_read(kx_notify_consumer_t *nc);
static void kx_notify_consumer_batch(kx_redis_status_e status,
    redisReply *reply, void *data);
static ngx_int_t kx_notify_consumer_copy(kx_notify_consumer_t *nc,
    redisReply *entries);
static void kx_notify_consumer_store(kx_notify_consumer_t *nc);
static void kx_notify_consumer_stored(kx_pg_result_t *res, void *data);
static void kx_notify_consumer_ack(kx_notify_consumer_t *nc);
static void kx_notify_consumer_acked(kx_redis_status_e status,
    redisReply *reply, void *data);
static void kx_notify_consumer_free_batch(kx_notify_consumer_t *nc);
static void kx_notify_consumer_later(kx_notify_consumer_t *nc);
static void kx_notify_consumer_retry(ngx_event_t *ev);

static char *ngx_http_kx_notify_ws(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_kx_notify_api(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_kx_notify_queue(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static void *ngx_http_kx_notify_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_kx_notify_init_main_conf(ngx_conf_t *cf, void *conf);
static ngx_int_t ngx_http_kx_notify_init_process(ngx_cycle_t *cycle);
static void ngx_http_kx_notify_exit_process(ngx_cycle_t *cycle);


static ngx_command_t  ngx_http_kx_notify_commands[] = {

    { ngx_string("kx_notify_ws"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_kx_notify_ws,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("kx_notify_api"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_kx_notify_api,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("kx_notify_events"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(kx_notify_main_conf_t, events),
      NULL },

    { ngx_string("kx_notify_events_consumer"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(kx_notify_main_conf_t, consumer),
      NULL },

    { ngx_string("kx_notify_ping_interval"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(kx_notify_main_conf_t, ping_interval),
      NULL },

    { ngx_string("kx_notify_auth_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(kx_notify_main_conf_t, auth_timeout),
      NULL },

    { ngx_string("kx_notify_send_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(kx_notify_main_conf_t, send_timeout),
      NULL },

    { ngx_string("kx_notify_max_message_size"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(kx_notify_main_conf_t, max_message),
      NULL },

    { ngx_string("kx_notify_queue"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE2,
      ngx_http_kx_notify_queue,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_kx_notify_module_ctx = {
    NULL,                                  /* preconfiguration */
    NULL,                                  /* postconfiguration */

    ngx_http_kx_notify_create_main_conf,   /* create main configuration */
    ngx_http_kx_notify_init_main_conf,     /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    NULL,                                  /* create location configuration */
    NULL                                   /* merge location configuration */
};


ngx_module_t  ngx_http_kx_notify_module = {
    NGX_MODULE_V1,
    &ngx_http_kx_notify_module_ctx,        /* module context */
    ngx_http_kx_notify_commands,           /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_kx_notify_init_process,       /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_kx_notify_exit_process,       /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


/* this worker's consumer of kx:events, or NULL */
static kx_notify_consumer_t  *kx_notify_consumer;


/* GET /v1/notifications */

static const char  kx_notify_list_sql[] =
    "WITH page AS ("
    "  SELECT n.id, n.type, n.title, n.body, n.payload, n.event_id,"
    "         n.created_at, n.read_at"
    "    FROM notify.notifications n"
    "   WHERE n.user_id = $1::uuid AND n.channel = 'in_app'"
    "     AND (NOT $2::boolean OR n.read_at IS NULL)"
    "     AND ($3::bigint IS NULL OR (n.created_at, n.id) <"
    "          (timestamptz 'epoch' + $3::bigint * interval '1 microsecond',"
    "           $4::uuid))"
    "   ORDER BY n.created_at DESC, n.id DESC"
    "   LIMIT $5::int + 1),"
    " shown AS (SELECT * FROM page ORDER BY created_at DESC, id DESC"
    "           LIMIT $5::int)"
    "SELECT json_build_object("
    "  'notifications', COALESCE((SELECT json_agg(json_build_object("
    "       'id', s.id, 'type', s.type, 'title', s.title, 'body', s.body,"
    "       'data', s.payload, 'event_id', s.event_id,"
    "       'created_at', to_char(s.created_at AT TIME ZONE 'UTC',"
    "                     'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),"
    "       'read', s.read_at IS NOT NULL)"
    "       ORDER BY s.created_at DESC, s.id DESC) FROM shown s), '[]'),"
    "  'next_cursor', (SELECT (extract(epoch FROM l.created_at) * 1000000)"
    "                         ::bigint || '_' || l.id"
    "                    FROM (SELECT * FROM shown ORDER BY created_at, id"
    "                          LIMIT 1) l"
    "                   WHERE (SELECT count(*) FROM page) > $5::int),"
    "  'unread_count', (SELECT count(*) FROM notify.notifications u"
    "                    WHERE u.user_id = $1::uuid AND u.channel = 'in_app'"
    "                      AND u.read_at IS NULL))::text";


/* POST /v1/notifications/read: the CTE's update is not seen by the count */

static const char  kx_notify_read_sql[] =
    "WITH u AS ("
    "  UPDATE notify.notifications SET read_at = now()"
    "   WHERE user_id = $1::uuid AND channel = 'in_app' AND read_at IS NULL"
    "     AND ($2::boolean OR id = ANY ($3::uuid[]))"
    "  RETURNING 1)"
    "SELECT json_build_object('updated', (SELECT count(*) FROM u),"
    "  'unread_count', (SELECT count(*) FROM notify.notifications"
    "                    WHERE user_id = $1::uuid AND channel = 'in_app'"
    "                      AND read_at IS NULL)"
    "                  - (SELECT count(*) FROM u))::text";


/* GET /v1/preferences: the stored row, or the defaults */

#define KX_NOTIFY_PREFS_JSON                                                  \
    "json_build_object('in_app_enabled', p.in_app_enabled,"                   \
    " 'email_enabled', p.email_enabled, 'push_enabled', p.push_enabled,"      \
    " 'sms_enabled', p.sms_enabled, 'email_address', p.email_address,"        \
    " 'phone_number', p.phone_number,"                                        \
    " 'quiet_hours_start', to_char(p.quiet_hours_start, 'HH24:MI:SS'),"       \
    " 'quiet_hours_end', to_char(p.quiet_hours_end, 'HH24:MI:SS'),"           \
    " 'tz', p.tz, 'per_type', p.per_type,"                                    \
    " 'updated_at', to_char(p.updated_at AT TIME ZONE 'UTC',"                 \
    "               'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'))::text"

static const char  kx_notify_prefs_get_sql[] =
    "SELECT COALESCE((SELECT " KX_NOTIFY_PREFS_JSON
    "                   FROM notify.preferences p"
    "                  WHERE p.user_id = $1::uuid),"
    "  json_build_object('in_app_enabled', true, 'email_enabled', true,"
    "   'push_enabled', false, 'sms_enabled', false, 'email_address', NULL,"
    "   'phone_number', NULL, 'quiet_hours_start', NULL,"
    "   'quiet_hours_end', NULL, 'tz', 'America/New_York',"
    "   'per_type', '{}'::json, 'updated_at', NULL)::text)";

/* a partial update: a field absent from the body keeps its value */

#define KX_NOTIFY_KEEP(col)                                                   \
    " " col " = CASE WHEN $2::jsonb ? '" col "' THEN EXCLUDED." col           \
    " ELSE p." col " END"

static const char  kx_notify_prefs_put_sql[] =
    "WITH b AS (SELECT $2::jsonb AS j),"
    " up AS ("
    "  INSERT INTO notify.preferences AS p (user_id, in_app_enabled,"
    "     email_enabled, push_enabled, sms_enabled, email_address,"
    "     phone_number, quiet_hours_start, quiet_hours_end, tz, per_type)"
    "  SELECT $1::uuid,"
    "     COALESCE((j->>'in_app_enabled')::boolean, true),"
    "     COALESCE((j->>'email_enabled')::boolean, true),"
    "     COALESCE((j->>'push_enabled')::boolean, false),"
    "     COALESCE((j->>'sms_enabled')::boolean, false),"
    "     j->>'email_address', j->>'phone_number',"
    "     (j->>'quiet_hours_start')::time, (j->>'quiet_hours_end')::time,"
    "     COALESCE(j->>'tz', 'America/New_York'),"
    "     COALESCE(j->'per_type', '{}')"
    "    FROM b"
    "   WHERE (now() AT TIME ZONE COALESCE(j->>'tz', 'UTC')) IS NOT NULL"
    "  ON CONFLICT (user_id) DO UPDATE SET"
    KX_NOTIFY_KEEP("in_app_enabled") ","
    KX_NOTIFY_KEEP("email_enabled") ","
    KX_NOTIFY_KEEP("push_enabled") ","
    KX_NOTIFY_KEEP("sms_enabled") ","
    KX_NOTIFY_KEEP("email_address") ","
    KX_NOTIFY_KEEP("phone_number") ","
    KX_NOTIFY_KEEP("quiet_hours_start") ","
    KX_NOTIFY_KEEP("quiet_hours_end") ","
    KX_NOTIFY_KEEP("tz") ","
    KX_NOTIFY_KEEP("per_type")
    "  RETURNING p.*)"
    "SELECT " KX_NOTIFY_PREFS_JSON " FROM up p";

/* one event, once, unless the user turned in-app notifications off */

static const char  kx_notify_store_sql[] =
    "INSERT INTO notify.notifications (user_id, type, title, body, payload,"
    "       channel, status, event_id, sent_at)"
    " SELECT $1::uuid, $2, $3, $4, $5::jsonb, 'in_app', 'sent', $6::uuid,"
    "        now()"
    "  WHERE NOT EXISTS (SELECT 1 FROM notify.preferences p"
    "                     WHERE p.user_id = $1::uuid"
    "                       AND (NOT p.in_app_enabled"
    "                            OR p.per_type -> $2 ->> 'in_app' = 'false'))"
    " ON CONFLICT (user_id, event_id, channel) WHERE event_id IS NOT NULL"
    " DO NOTHING";


/* the REST endpoints */

static ngx_int_t
ngx_http_kx_notify_api_handler(ngx_http_request_t *r)
{
    ngx_int_t   rc;
    ngx_str_t   uid, path;

    if (r->uri.len < 4 || ngx_strncmp(r->uri.data, "/v1/", 4) != 0) {
        return ngx_http_kx_send_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                      "no such route");
    }

    path.data = r->uri.data + 4;
    path.len = r->uri.len - 4;

    if (path.len && path.data[path.len - 1] == '/') {
        path.len--;
    }

    if (kx_notify_uid(r, &uid, &rc) != NGX_OK) {
        return rc;
    }

    if (path.len == 13 && ngx_strncmp(path.data, "notifications", 13) == 0) {
        if (r->method == NGX_HTTP_POST) {
            return ngx_http_kx_read_json_body(r, KX_NOTIFY_BODY_MAX,
                                              kx_notify_send_body);
        }

        if (r->method != NGX_HTTP_GET && r->method != NGX_HTTP_HEAD) {
            return ngx_http_kx_send_error(r, NGX_HTTP_NOT_ALLOWED,
                                          "method_not_allowed",
                                          "GET or POST only");
        }

        return kx_notify_list(r, &uid);
    }

    if (path.len == 18
        && ngx_strncmp(path.data, "notifications/read", 18) == 0)
    {
        if (r->method != NGX_HTTP_POST) {
            return ngx_http_kx_send_error(r, NGX_HTTP_NOT_ALLOWED,
                                          "method_not_allowed",
                                          "POST only");
        }

        return ngx_http_kx_read_json_body(r, KX_NOTIFY_BODY_MAX,
                                          kx_notify_mark_read);
    }

    if (path.len == 11 && ngx_strncmp(path.data, "preferences", 11) == 0) {
        if (r->method == NGX_HTTP_GET || r->method == NGX_HTTP_HEAD) {
            return kx_notify_prefs_get(r, &uid);
        }

        if (r->method == NGX_HTTP_PUT) {
            return ngx_http_kx_read_json_body(r, KX_NOTIFY_BODY_MAX,
                                              kx_notify_prefs_put);
        }

        return ngx_http_kx_send_error(r, NGX_HTTP_NOT_ALLOWED,
                                      "method_not_allowed",
                                      "GET or PUT only");
    }

    return ngx_http_kx_send_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                  "no such route");
}


/* the verified subject, a user id; else NGX_DECLINED, answered with *rc */
static ngx_int_t
kx_notify_uid(ngx_http_request_t *r, ngx_str_t *uid, ngx_int_t *rc)
{
    kx_notify_main_conf_t      *nmcf;
    ngx_http_variable_value_t  *vv;

    nmcf = ngx_http_get_module_main_conf(r, ngx_http_kx_notify_module);
    vv = ngx_http_get_indexed_variable(r, nmcf->sub_index);

    if (vv == NULL || vv->not_found) {
        *rc = ngx_http_kx_send_error(r, NGX_HTTP_UNAUTHORIZED,
                                     "unauthorized",
                                     "a bearer token is required");
        return NGX_DECLINED;
    }

    if (!kx_notify_uid_valid((const char *) vv->data, vv->len)) {
        *rc = ngx_http_kx_send_error(r, NGX_HTTP_FORBIDDEN, "forbidden",
                                     "the token's subject is not a user");
        return NGX_DECLINED;
    }

    uid->data = ngx_pnalloc(r->pool, vv->len + 1);
    if (uid->data == NULL) {
        *rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
        return NGX_DECLINED;
    }

    *ngx_cpymem(uid->data, vv->data, vv->len) = '\0';
    uid->len = vv->len;

    return NGX_OK;
}


static ngx_int_t
kx_notify_list(ngx_http_request_t *r, ngx_str_t *uid)
{
    u_char      *p, *us;
    ngx_str_t    v;
    ngx_int_t    limit;
    const char  *values[5];
    u_char       lim[NGX_INT_T_LEN + 1];

    values[0] = (const char *) uid->data;
    values[1] = "false";
    values[2] = NULL;
    values[3] = NULL;

    limit = KX_NOTIFY_LIMIT_DEFAULT;

    if (ngx_http_arg(r, (u_char *) "limit", 5, &v) == NGX_OK) {
        limit = (v.len > 3) ? NGX_ERROR : ngx_atoi(v.data, v.len);

        if (limit == NGX_ERROR || limit < 1 || limit > KX_NOTIFY_LIMIT_MAX) {
            return ngx_http_kx_send_error(r, NGX_HTTP_KX_UNPROCESSABLE,
                                          "validation_failed",
                                          "limit: an integer from 1 to 100");
        }
    }

    if (ngx_http_arg(r, (u_char *) "unread", 6, &v) == NGX_OK) {
        if (v.len == 4 && ngx_strncmp(v.data, "true", 4) == 0) {
            values[1] = "true";

        } else if (!(v.len == 5 && ngx_strncmp(v.data, "false", 5) == 0)) {
            return ngx_http_kx_send_error(r, NGX_HTTP_KX_UNPROCESSABLE,
                                          "validation_failed",
                                          "unread: true or false");
        }
    }

    /* cursor: "<created_at in epoch microseconds>_<id>", from next_cursor */

    if (ngx_http_arg(r, (u_char *) "cursor", 6, &v) == NGX_OK) {
        us = ngx_strlchr(v.data, v.data + v.len, '_');

        if (us == NULL || us == v.data || us - v.data > 18
            || ngx_atoi(v.data, us - v.data) == NGX_ERROR
            || !kx_notify_uid_valid((const char *) us + 1,
                                    v.data + v.len - us - 1))
        {
            return ngx_http_kx_send_error(r, NGX_HTTP_KX_UNPROCESSABLE,
                                          "validation_failed",
                                          "cursor: use next_cursor of the "
                                          "previous page");
        }

        p = ngx_pnalloc(r->pool, v.len + 2);
        if (p == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_memcpy(p, v.data, us - v.data);
        p[us - v.data] = '\0';
        values[2] = (const char *) p;

        p += us - v.data + 1;
        ngx_memcpy(p, us + 1, 36);
        p[36] = '\0';
        values[3] = (const char *) p;
    }

    *ngx_sprintf(lim, "%i", limit) = '\0';
    values[4] = (const char *) lim;

    return kx_notify_query(r, kx_notify_list_sql, 5, values);
}


static ngx_int_t
kx_notify_prefs_get(ngx_http_request_t *r, ngx_str_t *uid)
{
    const char  *values[1];

    values[0] = (const char *) uid->data;

    return kx_notify_query(r, kx_notify_prefs_get_sql, 1, values);
}


static void
kx_notify_prefs_put(ngx_http_request_t *r, kx_json_doc_t *doc)
{
    size_t       len;
    u_char      *body;
    ngx_int_t    rc;
    ngx_str_t    uid;
    const char  *out, *values[2];
    kx_jw_t      w;
    char         err[160];

    if (kx_notify_uid(r, &uid, &rc) != NGX_OK) {
        ngx_http_finalize_request(r, rc);
        return;
    }

    if (kx_notify_prefs_validate(kx_json_root(doc), err, sizeof(err)) != 0) {
        ngx_http_finalize_request(r,
            ngx_http_kx_send_error(r, NGX_HTTP_KX_UNPROCESSABLE,
                                   "validation_failed", err));
        return;
    }

    /* the validated body, re-encoded: the statement reads it as jsonb */
    kx_jw_init(&w);
    kx_jw_node(&w, kx_json_root(doc));

    if (kx_jw_finish(&w, &out, &len) != 0
        || (body = ngx_pnalloc(r->pool, len + 1)) == NULL)
    {
        kx_jw_free(&w);
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    *ngx_cpymem(body, out, len) = '\0';
    kx_jw_free(&w);

    values[0] = (const char *) uid.data;
    values[1] = (const char *) body;

    /* the body reader's reference is ours: finalized when the query is */
    rc = kx_notify_query(r, kx_notify_prefs_put_sql, 2, values);

    if (rc == NGX_DONE) {
        r->main->count--;
        return;
    }

    ngx_http_finalize_request(r, rc);
}


static void
kx_notify_mark_read(ngx_http_request_t *r, kx_json_doc_t *doc)
{
    int                    all;
    u_char                *p, *ids;
    size_t                 i, n, len;
    ngx_int_t              rc;
    ngx_str_t              uid;
    const char            *s, *values[3], *err;
    const kx_json_node_t  *root, *arr;

    if (kx_notify_uid(r, &uid, &rc) != NGX_OK) {
        ngx_http_finalize_request(r, rc);
        return;
    }

    root = kx_json_root(doc);
    arr = kx_json_obj_get(root, "ids");
    all = 0;
    err = NULL;

    if (kx_json_type(kx_json_obj_get(root, "all")) != KX_JSON_NONE
        && (kx_json_get_bool(root, "all", &all) != KX_JSON_OK || !all))
    {
        err = "all: true, or ids";

    } else if (!all && (kx_json_type(arr) != KX_JSON_ARRAY
                        || kx_json_arr_len(arr) == 0
                        || kx_json_arr_len(arr) > KX_NOTIFY_LIMIT_MAX))
    {
        err = "ids: an array of 1 to 100 notification ids (or all: true)";
    }

    n = all ? 0 : kx_json_arr_len(arr);

    /* a uuid[] literal: {id,id,...} */
    ids = ngx_pnalloc(r->pool, n * 37 + 3);
    if (ids == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    p = ids;
    *p++ = '{';

    for (i = 0; err == NULL && i < n; i++) {
        s = kx_json_str(kx_json_arr_at(arr, i), &len);

        if (s == NULL || !kx_notify_uid_valid(s, len)) {
            err = "ids: notification ids are UUIDs";
            break;
        }

        if (i) {
            *p++ = ',';
        }

        p = ngx_cpymem(p, s, len);
    }

    *p++ = '}';
    *p = '\0';

    if (err) {
        ngx_http_finalize_request(r,
            ngx_http_kx_send_error(r, NGX_HTTP_KX_UNPROCESSABLE,
                                   "validation_failed", err));
        return;
    }

    values[0] = (const char *) uid.data;
    values[1] = all ? "true" : "false";
    values[2] = (const char *) ids;

    rc = kx_notify_query(r, kx_notify_read_sql, 3, values);

    if (rc == NGX_DONE) {
        r->main->count--;
        return;
    }

    ngx_http_finalize_request(r, rc);
}


/* POST /v1/notifications: the user's own alert (kx_notify_send.c) */
static void
kx_notify_send_body(ngx_http_request_t *r, kx_json_doc_t *doc)
{
    ngx_int_t  rc;
    ngx_str_t  uid;

    if (kx_notify_uid(r, &uid, &rc) != NGX_OK) {
        ngx_http_finalize_request(r, rc);
        return;
    }

    rc = kx_notify_send(r, &uid, doc);

    /* the body reader's reference is ours: finalized when Redis answers */
    if (rc == NGX_DONE) {
        r->main->count--;
        return;
    }

    ngx_http_finalize_request(r, rc);
}


/* one statement whose one value is the JSON answer */
static ngx_int_t
kx_notify_query(ngx_http_request_t *r, const char *sql, ngx_uint_t n,
    const char **values)
{
    kx_pg_stmt_t          st;
    kx_pg_pool_t         *pool;
    ngx_pool_cleanup_t   *cln;
    kx_notify_req_ctx_t  *ctx;

    pool = ngx_http_kx_io_pg(r);
    if (pool == NULL) {
        return ngx_http_kx_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                      "not_configured",
                                      "kx_pg_conninfo is not set");
    }

    ctx = ngx_pcalloc(r->pool, sizeof(kx_notify_req_ctx_t));
    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (ctx == NULL || cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->request = r;
    cln->handler = kx_notify_req_cleanup;
    cln->data = ctx;

    ngx_memzero(&st, sizeof(kx_pg_stmt_t));
    st.sql = sql;
    st.nparams = n;
    st.values = values;

    ctx->pg = kx_pg_query(pool, &st, kx_notify_query_done, ctx);
    if (ctx->pg == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->main->count++;
    r->read_event_handler = ngx_http_test_reading;

    return NGX_DONE;
}


static void
kx_notify_query_done(kx_pg_result_t *res, void *data)
{
    kx_notify_req_ctx_t *ctx = data;

    ngx_int_t            rc;
    const char          *st;
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = ctx->request;
    c = r->connection;
    ctx->pg = NULL;

    st = res->sqlstate;

    if (res->status == KX_PG_OK && PQntuples(res->res) == 1
        && !PQgetisnull(res->res, 0, 0))
    {
        rc = ngx_http_kx_send_json(r, NGX_HTTP_OK,
                                   (u_char *) PQgetvalue(res->res, 0, 0),
                                   PQgetlength(res->res, 0, 0));

    } else if (res->status == KX_PG_ERROR
               && (ngx_strcmp(st, "23514") == 0    /* check violation */
                   || ngx_strcmp(st, "22023") == 0 /* unknown time zone */
                   || ngx_strncmp(st, "2200", 4) == 0
                   || ngx_strcmp(st, "22P02") == 0))
    {
        rc = ngx_http_kx_send_error(r, NGX_HTTP_KX_UNPROCESSABLE,
                                    "validation_failed",
                                    ngx_strcmp(st, "23514") == 0
                                    ? "quiet_hours_start and "
                                      "quiet_hours_end go together"
                                    : "a value the database refused "
                                      "(an unknown time zone?)");

    } else if (res->status == KX_PG_OK) {
        rc = NGX_HTTP_INTERNAL_SERVER_ERROR;

    } else {
        if (res->status == KX_PG_ERROR) {
            ngx_log_error(NGX_LOG_ERR, c->log, 0,
                          "kx_notify: query failed: %s", res->error);
        }

        rc = ngx_http_kx_io_pg_error(r, res);
    }

    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(c);
}


static void
kx_notify_req_cleanup(void *data)
{
    kx_notify_req_ctx_t *ctx = data;

    if (ctx->pg) {
        kx_pg_cancel(ctx->pg);
        ctx->pg = NULL;
    }
}


/* the consumer of kx:events */

static void
kx_notify_consumer_start(kx_notify_consumer_t *nc)
{
    ngx_str_t  args[6];

    ngx_str_set(&args[0], "XGROUP");
    ngx_str_set(&args[1], "CREATE");
    ngx_str_set(&args[2], KX_NOTIFY_STREAM);
    ngx_str_set(&args[3], KX_NOTIFY_GROUP);
    /* the whole stream: what happened before the first start notifies too */
    ngx_str_set(&args[4], "0");
    ngx_str_set(&args[5], "MKSTREAM");

    nc->cmd = kx_redis_command(nc->rd, args, 6, 0,
                               kx_notify_consumer_created, nc);
    if (nc->cmd == NULL) {
        kx_notify_consumer_later(nc);
    }
}


static void
kx_notify_consumer_created(kx_redis_status_e status, redisReply *reply,
    void *data)
{
    kx_notify_consumer_t *nc = data;

    nc->cmd = NULL;

    /* "BUSYGROUP": it exists already, which is as good */
    if (status == KX_REDIS_OK
        || (status == KX_REDIS_ERROR && reply->len >= 9
            && ngx_strncmp(reply->str, "BUSYGROUP", 9) == 0))
    {
        nc->created = 1;
        nc->history = 1;
        kx_notify_consumer_read(nc);
        return;
    }

    kx_notify_consumer_later(nc);
}


static void
kx_notify_consumer_read(kx_notify_consumer_t *nc)
{
    ngx_str_t  args[11];

    if (ngx_exiting || ngx_terminate || ngx_quit) {
        return;
    }

    ngx_str_set(&args[0], "XREADGROUP");
    ngx_str_set(&args[1], "GROUP");
    ngx_str_set(&args[2], KX_NOTIFY_GROUP);
    args[3] = nc->consumer;
    ngx_str_set(&args[4], "COUNT");
    ngx_str_set(&args[5], "64");
    ngx_str_set(&args[6], "BLOCK");
    ngx_str_set(&args[7], KX_NOTIFY_BLOCK);
    ngx_str_set(&args[8], "STREAMS");
    ngx_str_set(&args[9], KX_NOTIFY_STREAM);

    /* after a restart, our own unacknowledged entries first */
    if (nc->history) {
        ngx_str_set(&args[10], "0");

    } else {
        ngx_str_set(&args[10], ">");
    }

    nc->cmd = kx_redis_command(nc->rd, args, 11, 0,
                               kx_notify_consumer_batch, nc);

    if (nc->cmd == NULL) {
        kx_notify_consumer_later(nc);
    }
}


static void
kx_notify_consumer_batch(kx_redis_status_e status, redisReply *reply,
    void *data)
{
    kx_notify_consumer_t *nc = data;

    redisReply  *s;

    nc->cmd = NULL;

    if (status == KX_REDIS_ERROR && reply->len >= 7
        && ngx_strncmp(reply->str, "NOGROUP", 7) == 0)
    {
        /* the stream or the group went away (FLUSHALL): make them again */
        nc->created = 0;
        kx_notify_consumer_later(nc);
        return;
    }

    if (status != KX_REDIS_OK) {
        kx_notify_consumer_later(nc);
        return;
    }

    if (reply->type == REDIS_REPLY_NIL) {
        /* BLOCK ran out: nothing new */
        kx_notify_consumer_read(nc);
        return;
    }

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 1
        || reply->element[0]->type != REDIS_REPLY_ARRAY
        || reply->element[0]->elements < 2)
    {
        kx_notify_consumer_later(nc);
        return;
    }

    s = reply->element[0]->element[1];

    if (s->type != REDIS_REPLY_ARRAY) {
        kx_notify_consumer_later(nc);
        return;
    }

    if (s->elements == 0) {
        if (nc->history) {
            nc->history = 0;
        }

        kx_notify_consumer_read(nc);
        return;
    }

    if (kx_notify_consumer_copy(nc, s) != NGX_OK) {
        kx_notify_consumer_later(nc);
        return;
    }

    kx_notify_consumer_store(nc);
}


/* the batch outlives the reply: copy what is needed */
static ngx_int_t
kx_notify_consumer_copy(kx_notify_consumer_t *nc, redisReply *entries)
{
    u_char             *p;
    size_t              size, i, j;
    ngx_str_t          *dst;
    redisReply         *e, *f, *k, *v;
    kx_notify_entry_t  *en;

    size = entries->elements * sizeof(kx_notify_entry_t);

    for (i = 0; i < entries->elements; i++) {
        e = entries->element[i];

        if (e->type != REDIS_REPLY_ARRAY || e->elements < 2
            || e->element[0]->type != REDIS_REPLY_STRING)
        {
            continue;
        }

        size += e->element[0]->len;
        f = e->element[1];

        for (j = 0; f->type == REDIS_REPLY_ARRAY && j < f->elements; j++) {
            if (f->element[j]->type == REDIS_REPLY_STRING) {
                size += f->element[j]->len + 1;
            }
        }
    }

    nc->entries = ngx_calloc(size, nc->log);
    if (nc->entries == NULL) {
        return NGX_ERROR;
    }

    p = (u_char *) (nc->entries + entries->elements);
    nc->n = 0;
    nc->next = 0;

    for (i = 0; i < entries->elements; i++) {
        e = entries->element[i];

        if (e->type != REDIS_REPLY_ARRAY || e->elements < 2
            || e->element[0]->type != REDIS_REPLY_STRING)
        {
            continue;
        }

        en = &nc->entries[nc->n++];

        en->id.data = p;
        en->id.len = e->element[0]->len;
        p = ngx_cpymem(p, e->element[0]->str, en->id.len);

        f = e->element[1];

        for (j = 0; f->type == REDIS_REPLY_ARRAY && j + 1 < f->elements;
             j += 2)
        {
            k = f->element[j];
            v = f->element[j + 1];

            if (k->type != REDIS_REPLY_STRING
                || v->type != REDIS_REPLY_STRING)
            {
                continue;
            }

            if (k->len == 8 && ngx_strncmp(k->str, "event_id", 8) == 0) {
                dst = &en->event_id;

            } else if (k->len == 4 && ngx_strncmp(k->str, "type", 4) == 0) {
                dst = &en->type;

            } else if (k->len == 7 && ngx_strncmp(k->str, "user_id", 7) == 0)
            {
                dst = &en->user_id;

            } else if (k->len == 7 && ngx_strncmp(k->str, "payload", 7) == 0)
            {
                dst = &en->payload;

            } else {
                continue;
            }

            dst->data = p;
            dst->len = v->len;
            p = ngx_cpymem(p, v->str, v->len);
            *p++ = '\0';
        }
    }

    return NGX_OK;
}


static void
kx_notify_consumer_store(kx_notify_consumer_t *nc)
{
    size_t              n;
    kx_pg_stmt_t        st;
    kx_json_doc_t      *doc;
    kx_notify_entry_t  *en;
    char                title[128], body[256], type[KX_NOTIFY_TYPE_MAX + 1];
    const char         *values[6];

    for ( /* void */ ; nc->next < nc->n; nc->next++) {
        en = &nc->entries[nc->next];

        if (en->type.len == 0 || en->payload.len == 0
            || !kx_notify_uid_valid((const char *) en->user_id.data,
                                    en->user_id.len)
            || !kx_notify_uid_valid((const char *) en->event_id.data,
                                    en->event_id.len))
        {
            /* nothing for a user here; acknowledged with the batch */
            continue;
        }

        n = kx_notify_ws_type((const char *) en->type.data, en->type.len,
                              type);
        if (n == 0) {
            continue;
        }

        type[n] = '\0';

        if (kx_json_parse((const char *) en->payload.data, en->payload.len,
                          NULL, &doc, NULL) != KX_JSON_PE_OK)
        {
            continue;
        }

        n = kx_notify_render((const char *) en->type.data, en->type.len,
                             kx_json_root(doc), title, body);
        kx_json_free(doc);

        if (n == 0) {
            continue;
        }

        values[0] = (const char *) en->user_id.data;
        values[1] = type;
        values[2] = title;
        values[3] = body;
        values[4] = (const char *) en->payload.data;
        values[5] = (const char *) en->event_id.data;

        ngx_memzero(&st, sizeof(kx_pg_stmt_t));
        st.sql = kx_notify_store_sql;
        st.nparams = 6;
        st.values = values;

        nc->req = kx_pg_query(nc->pg, &st, kx_notify_consumer_stored, nc);
        if (nc->req == NULL) {
            kx_notify_consumer_free_batch(nc);
            kx_notify_consumer_later(nc);
        }

        return;
    }

    kx_notify_consumer_ack(nc);
}


static void
kx_notify_consumer_stored(kx_pg_result_t *res, void *data)
{
    kx_notify_consumer_t *nc = data;

    kx_notify_entry_t  *en;

    nc->req = NULL;
    en = &nc->entries[nc->next];

    if (res->status == KX_PG_OK) {
        kx_ws_count("kx_notify_events_stored_total",
                    ngx_atoi((u_char *) PQcmdTuples(res->res),
                             ngx_strlen(PQcmdTuples(res->res))) == 1);

    } else if (res->status == KX_PG_ERROR) {
        kx_ws_count("kx_notify_events_failed_total", 1);

        /* this event cannot be stored, ever: skip it, do not stall */
        ngx_log_error(NGX_LOG_ERR, nc->log, 0,
                      "kx_notify: event %V (%V) not stored: %s", &en->id,
                      &en->type, res->error);

    } else if (res->status != KX_PG_OK) {
        /* the database is away: read our pending entries again later */
        ngx_log_error(NGX_LOG_WARN, nc->log, 0,
                      "kx_notify: storing events paused: %s",
                      kx_pg_status_text(res->status));
        kx_notify_consumer_free_batch(nc);
        nc->history = 1;
        kx_notify_consumer_later(nc);
        return;
    }

    nc->next++;
    kx_notify_consumer_store(nc);
}


static void
kx_notify_consumer_ack(kx_notify_consumer_t *nc)
{
    ngx_uint_t  i;
    ngx_str_t   args[3 + KX_NOTIFY_BATCH];

    ngx_str_set(&args[0], "XACK");
    ngx_str_set(&args[1], KX_NOTIFY_STREAM);
    ngx_str_set(&args[2], KX_NOTIFY_GROUP);

    for (i = 0; i < nc->n && i < KX_NOTIFY_BATCH; i++) {
        args[3 + i] = nc->entries[i].id;
    }

    if (i == 0) {
        kx_notify_consumer_free_batch(nc);
        kx_notify_consumer_read(nc);
        return;
    }

    nc->cmd = kx_redis_command(nc->rd, args, 3 + i, 0,
                               kx_notify_consumer_acked, nc);
    if (nc->cmd == NULL) {
        kx_notify_consumer_free_batch(nc);
        kx_notify_consumer_later(nc);
    }
}


static void
kx_notify_consumer_acked(kx_redis_status_e status, redisReply *reply,
    void *data)
{
    kx_notify_consumer_t *nc = data;

    nc->cmd = NULL;
    kx_notify_consumer_free_batch(nc);

    if (status != KX_REDIS_OK) {
        /* stored but not acknowledged: the unique index absorbs a retry */
        nc->history = 1;
        kx_notify_consumer_later(nc);
        return;
    }

    kx_notify_consumer_read(nc);
}


static void
kx_notify_consumer_free_batch(kx_notify_consumer_t *nc)
{
    if (nc->entries) {
        ngx_free(nc->entries);
        nc->entries = NULL;
    }

    nc->n = 0;
    nc->next = 0;
}


static void
kx_notify_consumer_later(kx_notify_consumer_t *nc)
{
    if (ngx_exiting || ngx_terminate || ngx_quit || nc->retry.timer_set) {
        return;
    }

    ngx_add_timer(&nc->retry, KX_NOTIFY_RETRY);
}


static void
kx_notify_consumer_retry(ngx_event_t *ev)
{
    kx_notify_consumer_t *nc = ev->data;

    if (ngx_exiting || ngx_terminate || ngx_quit) {
        return;
    }

    if (!nc->created) {
        kx_notify_consumer_start(nc);
        return;
    }

    kx_notify_consumer_read(nc);
}


/* configuration */

static char *
ngx_http_kx_notify_ws(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t  *clcf;
    kx_notify_main_conf_t     *nmcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = kx_ws_handshake;

    nmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_kx_notify_module);
    nmcf->ws_enabled = 1;

    return NGX_CONF_OK;
}


static char *
ngx_http_kx_notify_api(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_kx_notify_api_handler;

    return NGX_CONF_OK;
}


static void *
ngx_http_kx_notify_create_main_conf(ngx_conf_t *cf)
{
    kx_notify_main_conf_t  *nmcf;

    nmcf = ngx_pcalloc(cf->pool, sizeof(kx_notify_main_conf_t));
    if (nmcf == NULL) {
        return NULL;
    }

    nmcf->events = NGX_CONF_UNSET;
    nmcf->ping_interval = NGX_CONF_UNSET_MSEC;
    nmcf->auth_timeout = NGX_CONF_UNSET_MSEC;
    nmcf->send_timeout = NGX_CONF_UNSET_MSEC;
    nmcf->max_message = NGX_CONF_UNSET_SIZE;
    nmcf->queue_messages = NGX_CONF_UNSET_UINT;
    nmcf->queue_bytes = NGX_CONF_UNSET_SIZE;

    return nmcf;
}


static char *
ngx_http_kx_notify_init_main_conf(ngx_conf_t *cf, void *conf)
{
    kx_notify_main_conf_t *nmcf = conf;

    static ngx_str_t  sub = ngx_string("kx_jwt_sub");
    static ngx_str_t  rid = ngx_string("kx_request_id");
    static ngx_str_t  exp = ngx_string("kx_jwt_claim_exp");

    ngx_conf_init_value(nmcf->events, 0);
    ngx_conf_init_msec_value(nmcf->ping_interval, 30000);
    ngx_conf_init_msec_value(nmcf->auth_timeout, 10000);
    ngx_conf_init_msec_value(nmcf->send_timeout, 10000);
    ngx_conf_init_size_value(nmcf->max_message, 65536);
    ngx_conf_init_uint_value(nmcf->queue_messages, 256);
    ngx_conf_init_size_value(nmcf->queue_bytes, 262144);

    if (nmcf->consumer.len == 0) {
        ngx_str_set(&nmcf->consumer, "notify");
    }

    nmcf->sub_index = ngx_http_get_variable_index(cf, &sub);
    if (nmcf->sub_index == NGX_ERROR) {
        return NGX_CONF_ERROR;
    }

    nmcf->request_id_index = ngx_http_get_variable_index(cf, &rid);
    if (nmcf->request_id_index == NGX_ERROR) {
        return NGX_CONF_ERROR;
    }

    nmcf->exp_index = ngx_http_get_variable_index(cf, &exp);
    if (nmcf->exp_index == NGX_ERROR) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* kx_notify_queue <messages> <size> */
static char *
ngx_http_kx_notify_queue(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    kx_notify_main_conf_t *nmcf = conf;

    ngx_str_t  *value;

    if (nmcf->queue_messages != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    nmcf->queue_messages = ngx_atoi(value[1].data, value[1].len);
    nmcf->queue_bytes = ngx_parse_size(&value[2]);

    if (nmcf->queue_messages == (ngx_uint_t) NGX_ERROR
        || nmcf->queue_messages < 2 || nmcf->queue_messages > 65536
        || nmcf->queue_bytes == (size_t) NGX_ERROR
        || nmcf->queue_bytes < 1024)
    {
        return "invalid value";
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_kx_notify_init_process(ngx_cycle_t *cycle)
{
    kx_redis_conf_t        *rcf;
    kx_notify_consumer_t   *nc;
    kx_notify_main_conf_t  *nmcf;

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    nmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_kx_notify_module);
    if (nmcf == NULL) {
        return NGX_OK;
    }

    if (nmcf->ws_enabled && kx_ws_hub_init(cycle, nmcf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (!nmcf->events || ngx_worker != 0) {
        return NGX_OK;
    }

    rcf = ngx_http_kx_io_redis_conf(cycle);

    if (rcf == NULL || ngx_http_kx_io_pg_cycle(cycle) == NULL) {
        ngx_log_error(NGX_LOG_WARN, cycle->log, 0,
                      "kx_notify_events needs kx_redis_addr and "
                      "kx_pg_conninfo; not consuming kx:events");
        return NGX_OK;
    }

    nc = ngx_calloc(sizeof(kx_notify_consumer_t), cycle->log);
    if (nc == NULL) {
        return NGX_ERROR;
    }

    /* a client of its own, whose timeout outlasts the BLOCK */
    nc->conf = *rcf;
    nc->conf.timeout = rcf->timeout + 5000 + 5000;
    nc->log = cycle->log;
    nc->pg = ngx_http_kx_io_pg_cycle(cycle);
    nc->consumer = nmcf->consumer;

    nc->retry.handler = kx_notify_consumer_retry;
    nc->retry.data = nc;
    nc->retry.log = cycle->log;
    nc->retry.cancelable = 1;

    nc->rd = kx_redis_create(&nc->conf, cycle->log);
    if (nc->rd == NULL) {
        ngx_free(nc);
        return NGX_ERROR;
    }

    kx_notify_consumer = nc;

    kx_notify_consumer_start(nc);

    return NGX_OK;
}


static void
ngx_http_kx_notify_exit_process(ngx_cycle_t *cycle)
{
    kx_notify_consumer_t  *nc;

    /* the io module, listed first, has closed the shared clients */
    kx_ws_hub_exit();

    nc = kx_notify_consumer;

    if (nc == NULL) {
        return;
    }

    kx_notify_consumer = NULL;

    if (nc->retry.timer_set) {
        ngx_del_timer(&nc->retry);
    }

    /* no handler runs; the PostgreSQL pool is gone with its requests */
    kx_redis_destroy(nc->rd);
    kx_notify_consumer_free_batch(nc);
    ngx_free(nc);
}
