
/*
 * Copyright (C) Kianax
 *
 * Accounts, served by the gateway: POST /v1/auth/register, POST
 * /v1/auth/login, GET /v1/users/me (schema auth).
 *
 * argon2id costs tens of milliseconds of CPU and ~19 MiB per hash, so it
 * runs in an nginx thread pool, never on the event loop; while it runs
 * the request is "blocked" so nginx cannot free it under the thread.  A
 * login for an unknown address spends the same hash time as a wrong
 * password, so answers do not tell which addresses have accounts.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_kx.h"
#include "ngx_http_kx_io.h"
#include "gateway/kx_email.h"
#include "gateway/kx_password.h"


#define KX_AUTH_BODY_MAX  16384

#define KX_AUTH_REGISTER  1
#define KX_AUTH_LOGIN     2
#define KX_AUTH_ME        3


typedef struct {
    ngx_str_t                 key_id;
    time_t                    ttl;
    ngx_str_t                 issuer;
    ngx_str_t                 audience;
    ngx_str_t                 thread_pool_name;
    ngx_thread_pool_t        *thread_pool;
    kx_password_params_t      params;
} ngx_http_kx_auth_main_conf_t;


typedef struct {
    ngx_uint_t                op;
} ngx_http_kx_auth_loc_conf_t;


typedef struct {
    ngx_http_request_t       *request;
    ngx_uint_t                op;
    kx_pg_req_t              *pg;

    char                      email[KX_EMAIL_MAX + 1];
    size_t                    email_len;
    char                     *password;
    size_t                    password_len;
    char                      hash[KX_PASSWORD_HASH_MAX];
    ngx_uint_t                hash_ok;
    ngx_uint_t                matched;

    ngx_str_t                 id;
    ngx_str_t                 created_at;
    u_char                   *sub;          /* GET me: the token's subject */

    /* a pending timer while a hash runs: a graceful shutdown waits */
    ngx_event_t               hashing;
} ngx_http_kx_auth_ctx_t;


typedef struct {
    ngx_http_kx_auth_ctx_t   *ctx;
    kx_password_params_t      params;
    u_char                    salt[KX_PASSWORD_SALT_LEN];    /* register */
} ngx_http_kx_auth_task_t;


static ngx_int_t ngx_http_kx_auth_handler(ngx_http_request_t *r);
static void ngx_http_kx_auth_body(ngx_http_request_t *r, kx_json_doc_t *doc);
static ngx_int_t ngx_http_kx_auth_hash_start(ngx_http_request_t *r,
    ngx_http_kx_auth_ctx_t *ctx);
static void ngx_http_kx_auth_hash_thread(void *data, ngx_log_t *log);
static void ngx_http_kx_auth_hash_done(ngx_event_t *ev);
static void ngx_http_kx_auth_hash_wait(ngx_event_t *ev);
static ngx_int_t ngx_http_kx_auth_query(ngx_http_request_t *r,
    ngx_http_kx_auth_ctx_t *ctx);
static void ngx_http_kx_auth_query_done(kx_pg_result_t *res, void *data);
static ngx_int_t ngx_http_kx_auth_answer(ngx_http_request_t *r,
    ngx_http_kx_auth_ctx_t *ctx, ngx_uint_t status);
static ngx_int_t ngx_http_kx_auth_copy_row(ngx_http_request_t *r,
    ngx_http_kx_auth_ctx_t *ctx, PGresult *res);
static void ngx_http_kx_auth_cleanup(void *data);
static char *ngx_http_kx_auth_op(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_kx_auth_argon2(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static void *ngx_http_kx_auth_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_kx_auth_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_kx_auth_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_kx_auth_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_int_t ngx_http_kx_auth_init_process(ngx_cycle_t *cycle);


static ngx_command_t  ngx_http_kx_auth_commands[] = {

    { ngx_string("kx_auth_register"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_kx_auth_op,
      NGX_HTTP_LOC_CONF_OFFSET,
      KX_AUTH_REGISTER,
      NULL },

    { ngx_string("kx_auth_login"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_kx_auth_op,
      NGX_HTTP_LOC_CONF_OFFSET,
      KX_AUTH_LOGIN,
      NULL },

    { ngx_string("kx_auth_me"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_kx_auth_op,
      NGX_HTTP_LOC_CONF_OFFSET,
      KX_AUTH_ME,
      NULL },

    { ngx_string("kx_auth_token_key"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_kx_auth_main_conf_t, key_id),
      NULL },

    { ngx_string("kx_auth_token_ttl"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_kx_auth_main_conf_t, ttl),
      NULL },

    { ngx_string("kx_auth_token_issuer"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_kx_auth_main_conf_t, issuer),
      NULL },

    { ngx_string("kx_auth_token_audience"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_kx_auth_main_conf_t, audience),
      NULL },

    { ngx_string("kx_auth_thread_pool"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_kx_auth_main_conf_t, thread_pool_name),
      NULL },

    { ngx_string("kx_auth_argon2"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE3,
      ngx_http_kx_auth_argon2,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_kx_auth_module_ctx = {
    NULL,                                  /* preconfiguration */
    NULL,                                  /* postconfiguration */

    ngx_http_kx_auth_create_main_conf,     /* create main configuration */
    ngx_http_kx_auth_init_main_conf,       /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_kx_auth_create_loc_conf,      /* create location configuration */
    ngx_http_kx_auth_merge_loc_conf        /* merge location configuration */
};


ngx_module_t  ngx_http_kx_auth_module = {
    NGX_MODULE_V1,
    &ngx_http_kx_auth_module_ctx,          /* module context */
    ngx_http_kx_auth_commands,             /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_kx_auth_init_process,         /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static const char  *ngx_http_kx_auth_user_cols =
    "id::text, email, "
    "to_char(created_at AT TIME ZONE 'UTC', "
    "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')";


static ngx_int_t
ngx_http_kx_auth_handler(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t           *cln;
    ngx_http_kx_auth_ctx_t       *ctx;
    ngx_http_variable_value_t    *vv;
    ngx_http_kx_auth_loc_conf_t  *alcf;
    static ngx_str_t              sub_name = ngx_string("kx_jwt_sub");

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_kx_auth_module);

    if (alcf->op == KX_AUTH_ME ? !(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))
                               : r->method != NGX_HTTP_POST)
    {
        return ngx_http_kx_send_error(r, NGX_HTTP_NOT_ALLOWED, NULL, NULL);
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_kx_auth_ctx_t));
    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (ctx == NULL || cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->request = r;
    ctx->op = alcf->op;
    cln->handler = ngx_http_kx_auth_cleanup;
    cln->data = ctx;

    ngx_http_set_ctx(r, ctx, ngx_http_kx_auth_module);

    if (ctx->op != KX_AUTH_ME) {
        return ngx_http_kx_read_json_body(r, KX_AUTH_BODY_MAX,
                                          ngx_http_kx_auth_body);
    }

    /* GET /v1/users/me: the subject kx_jwt verified */
    vv = ngx_http_get_variable(r, &sub_name,
                               ngx_hash_key(sub_name.data, sub_name.len));
    if (vv == NULL || vv->not_found || vv->len == 0) {
        return ngx_http_kx_send_error(r, NGX_HTTP_UNAUTHORIZED,
                                      "unauthorized",
                                      "a bearer token is required");
    }

    ctx->sub = ngx_pnalloc(r->pool, vv->len + 1);
    if (ctx->sub == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(ctx->sub, vv->data, vv->len);
    ctx->sub[vv->len] = '\0';

    if (ngx_http_kx_auth_query(r, ctx) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->main->count++;

    return NGX_DONE;
}


static void
ngx_http_kx_auth_body(ngx_http_request_t *r, kx_json_doc_t *doc)
{
    int                      rc;
    size_t                   len;
    const char              *s, *why;
    const kx_json_node_t    *root;
    ngx_http_kx_auth_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_kx_auth_module);
    root = kx_json_root(doc);

    rc = kx_json_get_str(root, "email", &s, &len);
    if (rc != KX_JSON_OK) {
        ngx_http_finalize_request(r, ngx_http_kx_send_error(r,
                                    NGX_HTTP_KX_UNPROCESSABLE,
                                    "validation_failed",
                                    "email: a string is required"));
        return;
    }

    ctx->email_len = kx_email_normalize(s, len, ctx->email);

    if (ctx->email_len == 0 && ctx->op == KX_AUTH_REGISTER) {
        ngx_http_finalize_request(r, ngx_http_kx_send_error(r,
                                    NGX_HTTP_KX_UNPROCESSABLE,
                                    "validation_failed",
                                    "email: not a valid e-mail address"));
        return;
    }

    rc = kx_json_get_str(root, "password", &s, &len);
    if (rc != KX_JSON_OK) {
        ngx_http_finalize_request(r, ngx_http_kx_send_error(r,
                                    NGX_HTTP_KX_UNPROCESSABLE,
                                    "validation_failed",
                                    "password: a string is required"));
        return;
    }

    if (ctx->op == KX_AUTH_REGISTER) {
        why = kx_password_check(s, len);

        if (why) {
            ngx_http_finalize_request(r, ngx_http_kx_send_error(r,
                                        NGX_HTTP_KX_UNPROCESSABLE,
                                        "validation_failed", why));
            return;
        }

    } else if (len > KX_PASSWORD_MAX_BYTES) {
        len = KX_PASSWORD_MAX_BYTES;    /* never matches; same work */
    }

    /* our own copy: the thread reads it, the cleanup wipes it */
    ctx->password = ngx_pnalloc(r->pool, len + 1);
    if (ctx->password == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_memcpy(ctx->password, s, len);
    ctx->password[len] = '\0';
    ctx->password_len = len;

    /* register: hash first, then insert; login: look up, then verify */
    if (ctx->op == KX_AUTH_REGISTER) {
        rc = ngx_http_kx_auth_hash_start(r, ctx);

    } else if (ctx->email_len == 0) {
        rc = ngx_http_kx_auth_hash_start(r, ctx);   /* no such account */

    } else {
        rc = ngx_http_kx_auth_query(r, ctx);
    }

    if (rc != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
    }
}


static ngx_int_t
ngx_http_kx_auth_hash_start(ngx_http_request_t *r,
    ngx_http_kx_auth_ctx_t *ctx)
{
    ngx_thread_task_t             *task;
    ngx_http_kx_auth_task_t       *t;
    ngx_http_kx_auth_main_conf_t  *amcf;

    amcf = ngx_http_get_module_main_conf(r, ngx_http_kx_auth_module);

    if (amcf->thread_pool == NULL) {
        return NGX_ERROR;
    }

    task = ngx_thread_task_alloc(r->pool, sizeof(ngx_http_kx_auth_task_t));
    if (task == NULL) {
        return NGX_ERROR;
    }

    t = task->ctx;
    t->ctx = ctx;
    t->params = amcf->params;

    /* here, not in the pool's thread (see kx_password_salt) */
    if (ctx->op == KX_AUTH_REGISTER && kx_password_salt(t->salt) != 0) {
        return NGX_ERROR;
    }

    task->handler = ngx_http_kx_auth_hash_thread;
    task->event.data = t;
    task->event.handler = ngx_http_kx_auth_hash_done;

    if (ngx_thread_task_post(amcf->thread_pool, task) != NGX_OK) {
        return NGX_ERROR;
    }

    /* nginx must not free the request while the thread uses its memory */
    r->main->blocked++;

    /*
     * A worker leaves once no timers are pending; without one, a graceful
     * shutdown would exit under requests that wait for the thread pool.
     */
    ctx->hashing.handler = ngx_http_kx_auth_hash_wait;
    ctx->hashing.data = ctx;
    ctx->hashing.log = r->connection->log;
    ngx_add_timer(&ctx->hashing, 60000);

    return NGX_OK;
}


/* in a thread of the pool: nothing of nginx but this data */
static void
ngx_http_kx_auth_hash_thread(void *data, ngx_log_t *log)
{
    ngx_http_kx_auth_task_t *t = data;

    ngx_http_kx_auth_ctx_t  *ctx;

    ctx = t->ctx;

    if (ctx->op == KX_AUTH_REGISTER) {
        ctx->hash_ok = kx_password_hash(&t->params, ctx->password,
                                        ctx->password_len, t->salt,
                                        ctx->hash, sizeof(ctx->hash)) == 0;
        return;
    }

    if (ctx->hash[0]) {
        ctx->matched = kx_password_verify(ctx->hash, ctx->password,
                                          ctx->password_len);
    } else {
        kx_password_burn(&t->params, ctx->password, ctx->password_len);
        ctx->matched = 0;
    }
}


static void
ngx_http_kx_auth_hash_done(ngx_event_t *ev)
{
    ngx_http_kx_auth_task_t *t = ev->data;

    ngx_int_t                rc;
    ngx_connection_t        *c;
    ngx_http_request_t      *r;
    ngx_http_kx_auth_ctx_t  *ctx;

    ctx = t->ctx;
    r = ctx->request;
    c = r->connection;

    r->main->blocked--;

    if (ctx->hashing.timer_set) {
        ngx_del_timer(&ctx->hashing);
    }

    if (r->connection->error) {
        /* the client left; let nginx finish the termination it posted */
        ngx_http_finalize_request(r, NGX_ERROR);
        ngx_http_run_posted_requests(c);
        return;
    }

    if (ctx->op == KX_AUTH_REGISTER) {
        if (!ctx->hash_ok) {
            rc = NGX_HTTP_INTERNAL_SERVER_ERROR;

        } else if (ngx_http_kx_auth_query(r, ctx) == NGX_OK) {
            return;

        } else {
            rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

    } else if (ctx->matched) {
        rc = ngx_http_kx_auth_answer(r, ctx, NGX_HTTP_OK);

    } else {
        rc = ngx_http_kx_send_error(r, NGX_HTTP_UNAUTHORIZED,
                                    "invalid_credentials",
                                    "wrong e-mail or password");
    }

    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(c);
}


static void
ngx_http_kx_auth_hash_wait(ngx_event_t *ev)
{
    /* the thread pool is far behind; the task still completes later */
    ngx_log_error(NGX_LOG_WARN, ev->log, 0,
                  "kx_auth: password hashing waits for over 60 s");
}


static ngx_int_t
ngx_http_kx_auth_query(ngx_http_request_t *r, ngx_http_kx_auth_ctx_t *ctx)
{
    u_char              *sql;
    const char          *values[2];
    kx_pg_stmt_t         st;
    kx_pg_pool_t        *pg;

    pg = ngx_http_kx_io_pg(r);
    if (pg == NULL) {
        return NGX_ERROR;
    }

    sql = ngx_pnalloc(r->pool, 512);
    if (sql == NULL) {
        return NGX_ERROR;
    }

    ngx_memzero(&st, sizeof(kx_pg_stmt_t));
    st.sql = (const char *) sql;
    st.values = values;

    switch (ctx->op) {

    case KX_AUTH_REGISTER:
        ngx_sprintf(sql, "INSERT INTO auth.users (email, password_hash) "
                    "VALUES ($1, $2) RETURNING %s%Z",
                    ngx_http_kx_auth_user_cols);
        values[0] = ctx->email;
        values[1] = ctx->hash;
        st.nparams = 2;
        break;

    case KX_AUTH_LOGIN:
        ngx_sprintf(sql, "SELECT %s, password_hash FROM auth.users "
                    "WHERE email = $1 AND status = 'active'%Z",
                    ngx_http_kx_auth_user_cols);
        values[0] = ctx->email;
        st.nparams = 1;
        break;

    default: /* KX_AUTH_ME */
        /* a subject that is no uuid matches nobody, without an error */
        ngx_sprintf(sql, "SELECT %s FROM auth.users WHERE id::text = $1%Z",
                    ngx_http_kx_auth_user_cols);
        values[0] = (const char *) ctx->sub;
        st.nparams = 1;
        break;
    }

    ctx->pg = kx_pg_query(pg, &st, ngx_http_kx_auth_query_done, ctx);

    return ctx->pg ? NGX_OK : NGX_ERROR;
}


static void
ngx_http_kx_auth_query_done(kx_pg_result_t *res, void *data)
{
    ngx_http_kx_auth_ctx_t *ctx = data;

    ngx_int_t            rc;
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    ctx->pg = NULL;
    r = ctx->request;
    c = r->connection;

    if (res->status == KX_PG_ERROR
        && ngx_strcmp(res->sqlstate, "23505") == 0)
    {
        rc = ngx_http_kx_send_error(r, NGX_HTTP_CONFLICT, "email_taken",
                                    "an account with this e-mail exists");
        goto done;
    }

    if (res->status != KX_PG_OK) {
        rc = ngx_http_kx_io_pg_error(r, res);
        goto done;
    }

    switch (ctx->op) {

    case KX_AUTH_REGISTER:
        rc = ngx_http_kx_auth_copy_row(r, ctx, res->res);
        if (rc == NGX_OK) {
            rc = ngx_http_kx_auth_answer(r, ctx, NGX_HTTP_CREATED);
        }
        break;

    case KX_AUTH_LOGIN:
        if (PQntuples(res->res) == 1) {
            if (ngx_http_kx_auth_copy_row(r, ctx, res->res) != NGX_OK
                || PQgetlength(res->res, 0, 3) >= KX_PASSWORD_HASH_MAX)
            {
                rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
                break;
            }

            ngx_memcpy(ctx->hash, PQgetvalue(res->res, 0, 3),
                       PQgetlength(res->res, 0, 3) + 1);
        }

        /* verify (or burn the same time) in the thread pool */
        if (ngx_http_kx_auth_hash_start(r, ctx) == NGX_OK) {
            return;
        }

        rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
        break;

    default: /* KX_AUTH_ME */
        if (PQntuples(res->res) != 1) {
            rc = ngx_http_kx_send_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                        "no such user");
            break;
        }

        rc = ngx_http_kx_auth_copy_row(r, ctx, res->res);
        if (rc == NGX_OK) {
            rc = ngx_http_kx_auth_answer(r, ctx, NGX_HTTP_OK);
        }
        break;
    }

done:

    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(c);
}


static ngx_int_t
ngx_http_kx_auth_copy_row(ngx_http_request_t *r, ngx_http_kx_auth_ctx_t *ctx,
    PGresult *res)
{
    ngx_uint_t   i;
    ngx_str_t   *f[3];
    ngx_str_t    email;

    if (PQntuples(res) != 1) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    f[0] = &ctx->id;
    f[1] = &email;
    f[2] = &ctx->created_at;

    for (i = 0; i < 3; i++) {
        f[i]->len = PQgetlength(res, 0, i);
        f[i]->data = ngx_pnalloc(r->pool, f[i]->len + 1);
        if (f[i]->data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_memcpy(f[i]->data, PQgetvalue(res, 0, i), f[i]->len + 1);
    }

    if (email.len <= KX_EMAIL_MAX) {
        ngx_memcpy(ctx->email, email.data, email.len + 1);
        ctx->email_len = email.len;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_kx_auth_answer(ngx_http_request_t *r, ngx_http_kx_auth_ctx_t *ctx,
    ngx_uint_t status)
{
    int                            rc;
    char                          *token;
    time_t                         now;
    kx_jw_t                        w;
    const kx_jwt_key_t            *key;
    ngx_http_kx_auth_main_conf_t  *amcf;

    amcf = ngx_http_get_module_main_conf(r, ngx_http_kx_auth_module);

    kx_jw_init(&w);
    kx_jw_obj_begin(&w);
    kx_jw_key(&w, "user");
    kx_jw_obj_begin(&w);
    kx_jw_key(&w, "id");
    kx_jw_strn(&w, (const char *) ctx->id.data, ctx->id.len);
    kx_jw_key(&w, "email");
    kx_jw_strn(&w, ctx->email, ctx->email_len);
    kx_jw_key(&w, "created_at");
    kx_jw_strn(&w, (const char *) ctx->created_at.data, ctx->created_at.len);
    kx_jw_obj_end(&w);

    if (ctx->op != KX_AUTH_ME) {
        key = ngx_http_kx_jwt_issuing_key(r, &amcf->key_id);
        if (key == NULL) {
            kx_jw_free(&w);
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "kx_auth: no HMAC kx_jwt_key to issue tokens with");
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        now = ngx_time();
        token = NULL;

        rc = kx_jwt_issue(key, NULL, (const char *) ctx->id.data, now, now + amcf->ttl,
                          amcf->issuer.len ? (char *) amcf->issuer.data : NULL,
                          amcf->audience.len ? (char *) amcf->audience.data
                                             : NULL,
                          &token);

        if (rc != KX_JWT_OK) {
            kx_jw_free(&w);
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        kx_jw_key(&w, "token");
        kx_jw_str(&w, token);
        kx_jw_key(&w, "token_type");
        kx_jw_str(&w, "Bearer");
        kx_jw_key(&w, "expires_in");
        kx_jw_int(&w, amcf->ttl);
        free(token);
    }

    kx_jw_obj_end(&w);

    return ngx_http_kx_send_jw(r, status, &w);
}


static void
ngx_http_kx_auth_cleanup(void *data)
{
    ngx_http_kx_auth_ctx_t *ctx = data;

    if (ctx->pg) {
        kx_pg_cancel(ctx->pg);
        ctx->pg = NULL;
    }

    if (ctx->password) {
        ngx_explicit_memzero(ctx->password, ctx->password_len);
    }

    ngx_explicit_memzero(ctx->hash, sizeof(ctx->hash));
}


static char *
ngx_http_kx_auth_op(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_kx_auth_loc_conf_t *alcf = conf;

    ngx_http_core_loc_conf_t  *clcf;

    if (alcf->op) {
        return "is duplicate";
    }

    alcf->op = cmd->offset;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_kx_auth_handler;

    return NGX_CONF_OK;
}


/* kx_auth_argon2 <t_cost> <m_cost KiB> <parallelism> */
static char *
ngx_http_kx_auth_argon2(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_kx_auth_main_conf_t *amcf = conf;

    ngx_int_t   n[3];
    ngx_str_t  *value;
    ngx_uint_t  i;

    value = cf->args->elts;

    for (i = 0; i < 3; i++) {
        n[i] = ngx_atoi(value[i + 1].data, value[i + 1].len);
        if (n[i] <= 0) {
            return "has an invalid value";
        }
    }

    if (n[1] < 8 * n[2]) {
        return "needs at least 8 KiB of memory per lane";
    }

    amcf->params.t_cost = (uint32_t) n[0];
    amcf->params.m_cost = (uint32_t) n[1];
    amcf->params.parallelism = (uint32_t) n[2];

    return NGX_CONF_OK;
}


static void *
ngx_http_kx_auth_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_kx_auth_main_conf_t  *amcf;

    amcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_kx_auth_main_conf_t));
    if (amcf == NULL) {
        return NULL;
    }

    amcf->ttl = NGX_CONF_UNSET;

    return amcf;
}


static char *
ngx_http_kx_auth_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_kx_auth_main_conf_t *amcf = conf;

    kx_password_params_t  def = KX_PASSWORD_PARAMS_DEFAULT;

    ngx_conf_init_value(amcf->ttl, 3600);

    if (amcf->params.t_cost == 0) {
        amcf->params = def;
    }

    if (amcf->thread_pool_name.len == 0) {
        ngx_str_set(&amcf->thread_pool_name, "default");
    }

    /* declares the pool (nginx makes "default" if no thread_pool names it) */
    amcf->thread_pool = ngx_thread_pool_add(cf, &amcf->thread_pool_name);
    if (amcf->thread_pool == NULL) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static void *
ngx_http_kx_auth_create_loc_conf(ngx_conf_t *cf)
{
    return ngx_pcalloc(cf->pool, sizeof(ngx_http_kx_auth_loc_conf_t));
}


static char *
ngx_http_kx_auth_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    /* a content handler: not inherited */
    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_kx_auth_init_process(ngx_cycle_t *cycle)
{
    ngx_http_kx_auth_main_conf_t  *amcf;

    amcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_kx_auth_module);

    if (amcf) {
        /* the pool object of this cycle, now that threads exist */
        amcf->thread_pool = ngx_thread_pool_get(cycle,
                                                &amcf->thread_pool_name);
    }

    return NGX_OK;
}
