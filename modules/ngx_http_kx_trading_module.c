
/*
 * Copyright (C) Kianax
 *
 * The trading service: portfolios, positions, orders and trades of the
 * user the verified JWT names.
 *
 *   GET     /v1/portfolio       cash, reserved, values, P&L, positions
 *   GET     /v1/positions
 *   POST    /v1/orders          place (Alpaca v2 order model)
 *   GET     /v1/orders          ?status=open|closed|all&symbol=&limit=
 *                               &cursor=
 *   GET     /v1/orders/{id}
 *   DELETE  /v1/orders/{id}     cancel
 *   GET     /v1/trades          ?symbol=&limit=&cursor=
 *
 * The domain logic is src/trading (validation, risk, matching, position
 * accounting, the changes of a transaction); every change of money is
 * one transaction (kx_trading_op.c); orders go to a broker through
 * kx_trading_broker.h (paper by default).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "kx_trading.h"
#include "io/ngx_http_kx_io.h"
#include "io/kx_http.h"
#include "core/kx_base64.h"
#include "market/kx_sim_hours.h"
#include "trading/kx_position.h"


#define KX_TRADING_BODY_MAX       16384
#define KX_TRADING_LIMIT_DEFAULT  50
#define KX_TRADING_LIMIT_MAX      500
#define KX_TRADING_POSITIONS_MAX  1000

#define KX_TRADING_PORTFOLIO      1
#define KX_TRADING_POSITIONS      2
#define KX_TRADING_ORDERS         3
#define KX_TRADING_ORDER          4
#define KX_TRADING_TRADES         5

#define KX_TRADING_OPEN_SQL                                                   \
    "('new', 'accepted', 'partially_filled')"


typedef struct {
    ngx_flag_t                enabled;
} kx_trading_loc_conf_t;


typedef struct {
    kx_dec_t                  qty;
    kx_dec_t                  avg_cost;
    kx_dec_t                  price;
    char                      symbol[KX_ORDER_SYMBOL_MAX + 1];
} kx_trading_holding_t;


typedef struct {
    ngx_http_request_t       *request;
    ngx_uint_t                op;
    char                      user_id[KX_TXN_UUID_LEN + 1];
    char                      order_id[KX_TXN_UUID_LEN + 1];

    kx_pg_req_t              *req;
    void                     *quote;
    kx_http_req_t            *http;
    kx_trading_op_t          *top;

    kx_order_t                order;
    ngx_uint_t                limit;

    /* GET /portfolio, /positions */
    kx_dec_t                  cash;
    kx_dec_t                  reserved;
    kx_dec_t                  realized;
    kx_trading_holding_t     *holdings;
    ngx_uint_t                nholdings;
} kx_trading_ctx_t;


static ngx_int_t ngx_http_kx_trading_handler(ngx_http_request_t *r);
static void ngx_http_kx_trading_cleanup(void *data);
static void ngx_http_kx_trading_body(ngx_http_request_t *r,
    kx_json_doc_t *doc);
static void ngx_http_kx_trading_quoted(ngx_int_t rc, kx_quote_t *q,
    void *data);
static void ngx_http_kx_trading_op_done(kx_trading_op_t *op);
static ngx_int_t ngx_http_kx_trading_cancel(ngx_http_request_t *r,
    kx_trading_ctx_t *ctx);
static ngx_int_t ngx_http_kx_trading_get_order(ngx_http_request_t *r,
    kx_trading_ctx_t *ctx);
static ngx_int_t ngx_http_kx_trading_list(ngx_http_request_t *r,
    kx_trading_ctx_t *ctx);
static ngx_int_t ngx_http_kx_trading_portfolio(ngx_http_request_t *r,
    kx_trading_ctx_t *ctx);
static void ngx_http_kx_trading_rows(kx_pg_result_t *res, void *data);
static void ngx_http_kx_trading_prices(kx_http_response_t *res, void *data);
static ngx_int_t ngx_http_kx_trading_send_portfolio(ngx_http_request_t *r,
    kx_trading_ctx_t *ctx);
static void ngx_http_kx_trading_finish(kx_trading_ctx_t *ctx, ngx_int_t rc);

static char *ngx_http_kx_trading(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_kx_trading_broker(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_kx_trading_dec_slot(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static void *ngx_http_kx_trading_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_kx_trading_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_kx_trading_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_kx_trading_merge_loc_conf(ngx_conf_t *cf,
    void *parent, void *child);
static ngx_int_t ngx_http_kx_trading_init_process(ngx_cycle_t *cycle);
static void ngx_http_kx_trading_exit_process(ngx_cycle_t *cycle);


static ngx_conf_enum_t  ngx_http_kx_trading_hours[] = {
    { ngx_string("always"), KX_SIM_HOURS_ALWAYS },
    { ngx_string("nyse"), KX_SIM_HOURS_NYSE },
    { ngx_null_string, 0 }
};


static ngx_command_t  ngx_http_kx_trading_commands[] = {

    { ngx_string("kx_trading"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_kx_trading,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("kx_trading_market_url"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(kx_trading_main_conf_t, market_url),
      NULL },

    { ngx_string("kx_trading_start_cash"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_kx_trading_dec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(kx_trading_main_conf_t, start_cash),
      NULL },

    { ngx_string("kx_trading_price_collar"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_kx_trading_dec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(kx_trading_main_conf_t, collar_pct),
      NULL },

    { ngx_string("kx_trading_market_buffer"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_kx_trading_dec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(kx_trading_main_conf_t, market_buffer_pct),
      NULL },

    { ngx_string("kx_trading_market_hours"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(kx_trading_main_conf_t, hours),
      &ngx_http_kx_trading_hours },

    { ngx_string("kx_trading_quote_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(kx_trading_main_conf_t, quote_timeout),
      NULL },

    { ngx_string("kx_trading_quote_max_age"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(kx_trading_main_conf_t, quote_max_age),
      NULL },

    { ngx_string("kx_trading_matcher"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(kx_trading_main_conf_t, matcher),
      NULL },

    { ngx_string("kx_trading_sweep_interval"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(kx_trading_main_conf_t, sweep_interval),
      NULL },

    { ngx_string("kx_trading_account_cache"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      kx_trading_cache_conf,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("kx_trading_broker"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_kx_trading_broker,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_kx_trading_module_ctx = {
    NULL,                                  /* preconfiguration */
    NULL,                                  /* postconfiguration */

    ngx_http_kx_trading_create_main_conf,  /* create main configuration */
    ngx_http_kx_trading_init_main_conf,    /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_kx_trading_create_loc_conf,   /* create location configuration */
    ngx_http_kx_trading_merge_loc_conf     /* merge location configuration */
};


ngx_module_t  ngx_http_kx_trading_module = {
    NGX_MODULE_V1,
    &ngx_http_kx_trading_module_ctx,       /* module context */
    ngx_http_kx_trading_commands,          /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_kx_trading_init_process,      /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_kx_trading_exit_process,      /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_int_t
ngx_http_kx_trading_is_uuid(u_char *p, size_t len)
{
    size_t  i;

    if (len != KX_TXN_UUID_LEN) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (p[i] != '-') {
                return 0;
            }

        } else if (!((p[i] >= '0' && p[i] <= '9')
                     || (p[i] >= 'a' && p[i] <= 'f')
                     || (p[i] >= 'A' && p[i] <= 'F')))
        {
            return 0;
        }
    }

    return 1;
}


static ngx_int_t
ngx_http_kx_trading_handler(ngx_http_request_t *r)
{
    u_char                     *p, *end;
    ngx_int_t                   rc;
    ngx_str_t                   rest;
    ngx_uint_t                  op, methods;
    kx_trading_ctx_t           *ctx;
    ngx_pool_cleanup_t         *cln;
    ngx_http_variable_value_t  *vv;
    static ngx_str_t            sub_name = ngx_string("kx_jwt_sub");

    p = r->uri.data;
    end = p + r->uri.len;
    op = 0;
    rest.len = 0;
    rest.data = NULL;

#define kx_path_is(lit)                                                       \
    ((size_t) (end - p) == sizeof(lit) - 1                                    \
     && ngx_strncmp(p, lit, sizeof(lit) - 1) == 0)

    if (kx_path_is("/v1/portfolio")) {
        op = KX_TRADING_PORTFOLIO;

    } else if (kx_path_is("/v1/positions")) {
        op = KX_TRADING_POSITIONS;

    } else if (kx_path_is("/v1/orders")) {
        op = KX_TRADING_ORDERS;

    } else if (kx_path_is("/v1/trades")) {
        op = KX_TRADING_TRADES;

    } else if ((size_t) (end - p) > sizeof("/v1/orders/") - 1
               && ngx_strncmp(p, "/v1/orders/", sizeof("/v1/orders/") - 1)
                  == 0)
    {
        op = KX_TRADING_ORDER;
        rest.data = p + sizeof("/v1/orders/") - 1;
        rest.len = end - rest.data;
    }

#undef kx_path_is

    if (op == 0) {
        return ngx_http_kx_send_error(r, NGX_HTTP_NOT_FOUND, NULL, NULL);
    }

    methods = NGX_HTTP_GET|NGX_HTTP_HEAD;
    if (op == KX_TRADING_ORDERS) {
        methods |= NGX_HTTP_POST;

    } else if (op == KX_TRADING_ORDER) {
        methods |= NGX_HTTP_DELETE;
    }

    if (!(r->method & methods)) {
        return ngx_http_kx_send_error(r, NGX_HTTP_NOT_ALLOWED, NULL, NULL);
    }

    vv = ngx_http_get_variable(r, &sub_name,
                               ngx_hash_key(sub_name.data, sub_name.len));
    if (vv == NULL || vv->not_found || vv->len == 0) {
        return ngx_http_kx_send_error(r, NGX_HTTP_UNAUTHORIZED,
                                      "unauthorized",
                                      "a bearer token is required");
    }

    if (!ngx_http_kx_trading_is_uuid(vv->data, vv->len)) {
        return ngx_http_kx_send_error(r, NGX_HTTP_FORBIDDEN, "forbidden",
                                      "the token's subject is not a user");
    }

    if (ngx_http_kx_io_pg(r) == NULL) {
        return ngx_http_kx_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                      "database_unavailable",
                                      "no database configured");
    }

    ctx = ngx_pcalloc(r->pool, sizeof(kx_trading_ctx_t));
    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (ctx == NULL || cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->request = r;
    ctx->op = op;
    ngx_memcpy(ctx->user_id, vv->data, KX_TXN_UUID_LEN);
    ngx_strlow((u_char *) ctx->user_id, (u_char *) ctx->user_id,
               KX_TXN_UUID_LEN);

    cln->handler = ngx_http_kx_trading_cleanup;
    cln->data = ctx;

    ngx_http_set_ctx(r, ctx, ngx_http_kx_trading_module);

    if (op == KX_TRADING_ORDERS && r->method == NGX_HTTP_POST) {
        return ngx_http_kx_read_json_body(r, KX_TRADING_BODY_MAX,
                                          ngx_http_kx_trading_body);
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    if (op == KX_TRADING_ORDER) {
        if (!ngx_http_kx_trading_is_uuid(rest.data, rest.len)) {
            return ngx_http_kx_send_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                          "order not found");
        }

        ngx_memcpy(ctx->order_id, rest.data, KX_TXN_UUID_LEN);
        ngx_strlow((u_char *) ctx->order_id, (u_char *) ctx->order_id,
                   KX_TXN_UUID_LEN);

        rc = (r->method == NGX_HTTP_DELETE)
             ? ngx_http_kx_trading_cancel(r, ctx)
             : ngx_http_kx_trading_get_order(r, ctx);

    } else if (op == KX_TRADING_ORDERS || op == KX_TRADING_TRADES) {
        rc = ngx_http_kx_trading_list(r, ctx);

    } else {
        rc = ngx_http_kx_trading_portfolio(r, ctx);
    }

    if (rc != NGX_DONE) {
        return rc;
    }

    r->main->count++;

    return NGX_DONE;
}


static void
ngx_http_kx_trading_cleanup(void *data)
{
    kx_trading_ctx_t  *ctx = data;

    if (ctx->req) {
        kx_pg_cancel(ctx->req);
        ctx->req = NULL;
    }

    if (ctx->quote) {
        kx_trading_quote_cancel(ctx->quote);
        ctx->quote = NULL;
    }

    if (ctx->http) {
        kx_http_cancel(ctx->http);
        ctx->http = NULL;
    }

    if (ctx->top) {
        /* the change goes on to its end without the client */
        kx_trading_op_detach(ctx->top);
        ctx->top = NULL;
    }
}


static void
ngx_http_kx_trading_finish(kx_trading_ctx_t *ctx, ngx_int_t rc)
{
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = ctx->request;
    c = r->connection;

    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(c);
}


/* POST /v1/orders */

static void
ngx_http_kx_trading_body(ngx_http_request_t *r, kx_json_doc_t *doc)
{
    ngx_str_t               *auth;
    kx_quote_t               q;
    kx_order_err_t           err;
    kx_trading_ctx_t        *ctx;
    kx_trading_main_conf_t  *tmcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_kx_trading_module);
    tmcf = ngx_http_get_module_main_conf(r, ngx_http_kx_trading_module);

    if (kx_order_validate(kx_json_root(doc), &ctx->order, &err)
        != KX_ORDER_OK)
    {
        ngx_http_finalize_request(r, ngx_http_kx_send_error(r,
                                    NGX_HTTP_KX_UNPROCESSABLE,
                                    "validation_failed", err.message));
        return;
    }

    if (kx_trading_quote_cached(ctx->order.symbol, tmcf->quote_max_age, &q))
    {
        /* the quote the market published last: no request needed */
        ngx_http_kx_trading_quoted(NGX_OK, &q, ctx);
        return;
    }

    auth = r->headers_in.authorization ? &r->headers_in.authorization->value
                                       : NULL;

    ctx->quote = kx_trading_quote_get(tmcf, ctx->order.symbol, auth,
                                      r->connection->log,
                                      ngx_http_kx_trading_quoted, ctx);
    if (ctx->quote == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    r->read_event_handler = ngx_http_test_reading;
}


static void
ngx_http_kx_trading_quoted(ngx_int_t rc, kx_quote_t *q, void *data)
{
    kx_trading_ctx_t  *ctx = data;

    char                     msg[64];
    kx_trading_op_t         *op;
    ngx_http_request_t      *r;
    kx_trading_main_conf_t  *tmcf;

    ctx->quote = NULL;
    r = ctx->request;
    tmcf = ngx_http_get_module_main_conf(r, ngx_http_kx_trading_module);

    if (rc == NGX_DECLINED) {
        ngx_snprintf((u_char *) msg, sizeof(msg), "symbol: unknown symbol %s%Z",
                     ctx->order.symbol);
        ngx_http_kx_trading_finish(ctx, ngx_http_kx_send_error(r,
                                     NGX_HTTP_KX_UNPROCESSABLE,
                                     "validation_failed", msg));
        return;
    }

    if (rc != NGX_OK) {
        ngx_http_kx_trading_finish(ctx, ngx_http_kx_send_error(r,
                                     NGX_HTTP_SERVICE_UNAVAILABLE,
                                     "quote_unavailable",
                                     "no quote from the market service"));
        return;
    }

    op = kx_trading_op_create(KX_TRADING_OP_PLACE, tmcf,
                              ngx_http_kx_io_pg(r), r->connection->log);
    if (op == NULL) {
        ngx_http_kx_trading_finish(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_memcpy(op->user_id, ctx->user_id, sizeof(op->user_id));
    op->order = ctx->order;
    op->quote = *q;
    op->done = ngx_http_kx_trading_op_done;
    op->data = ctx;

    if (kx_trading_op_run(op) != NGX_OK) {
        ngx_free(op);
        ngx_http_kx_trading_finish(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ctx->top = op;
    r->read_event_handler = ngx_http_test_reading;
}


static void
ngx_http_kx_trading_op_done(kx_trading_op_t *op)
{
    kx_trading_ctx_t  *ctx = op->data;

    kx_jw_t              w;
    ngx_int_t            rc;
    ngx_http_request_t  *r;

    ctx->top = NULL;
    r = ctx->request;

    if (op->written && kx_order_status_is_open(op->out.status)) {
        /* resting: worker 0 follows its quotes at once (others learn it
         * within kx_trading_sweep_interval) */
        kx_trading_matcher_watch(op->out.symbol);
    }

    if (op->status >= NGX_HTTP_BAD_REQUEST) {
        rc = ngx_http_kx_send_error(r, op->status, op->code,
                                    op->message[0] ? op->message : NULL);

    } else {
        kx_jw_init(&w);
        kx_order_jw(&w, &op->out);
        rc = ngx_http_kx_send_jw(r, op->status, &w);
    }

    ngx_http_kx_trading_finish(ctx, rc);
}


/* DELETE /v1/orders/{id} */

static ngx_int_t
ngx_http_kx_trading_cancel(ngx_http_request_t *r, kx_trading_ctx_t *ctx)
{
    kx_trading_op_t         *op;
    kx_trading_main_conf_t  *tmcf;

    tmcf = ngx_http_get_module_main_conf(r, ngx_http_kx_trading_module);

    op = kx_trading_op_create(KX_TRADING_OP_CANCEL, tmcf,
                              ngx_http_kx_io_pg(r), r->connection->log);
    if (op == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(op->user_id, ctx->user_id, sizeof(op->user_id));
    ngx_memcpy(op->order_id, ctx->order_id, sizeof(op->order_id));
    op->done = ngx_http_kx_trading_op_done;
    op->data = ctx;

    if (kx_trading_op_run(op) != NGX_OK) {
        ngx_free(op);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->top = op;
    r->read_event_handler = ngx_http_test_reading;

    return NGX_DONE;
}


/* GET /v1/orders/{id} */

static ngx_int_t
ngx_http_kx_trading_query(ngx_http_request_t *r, kx_trading_ctx_t *ctx,
    const char *sql, const char **values, ngx_uint_t n)
{
    kx_pg_stmt_t  st;

    ngx_memzero(&st, sizeof(kx_pg_stmt_t));
    st.sql = sql;
    st.nparams = n;
    st.values = values;

    ctx->req = kx_pg_query(ngx_http_kx_io_pg(r), &st,
                           ngx_http_kx_trading_rows, ctx);
    if (ctx->req == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->read_event_handler = ngx_http_test_reading;

    return NGX_DONE;
}


static ngx_int_t
ngx_http_kx_trading_get_order(ngx_http_request_t *r, kx_trading_ctx_t *ctx)
{
    const char  *values[2];

    values[0] = ctx->order_id;
    values[1] = ctx->user_id;

    return ngx_http_kx_trading_query(r, ctx,
               "SELECT " KX_TRADING_ORDER_COLS " FROM trading.orders o"
               " WHERE o.id = $1::uuid AND o.user_id = $2::uuid",
               values, 2);
}


/* GET /v1/orders, GET /v1/trades */

static ngx_int_t
ngx_http_kx_trading_arg(ngx_http_request_t *r, const char *name,
    char *buf, size_t size, ngx_str_t *raw)
{
    u_char     *dst, *src;
    ngx_str_t   v;

    if (ngx_http_arg(r, (u_char *) name, ngx_strlen(name), &v) != NGX_OK) {
        return NGX_DECLINED;
    }

    if (v.len >= size) {
        return NGX_ERROR;
    }

    dst = (u_char *) buf;
    src = v.data;
    ngx_unescape_uri(&dst, &src, v.len, NGX_UNESCAPE_URI);
    *dst = '\0';

    if (raw) {
        raw->data = (u_char *) buf;
        raw->len = dst - (u_char *) buf;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_kx_trading_bad_arg(ngx_http_request_t *r, const char *msg)
{
    return ngx_http_kx_send_error(r, NGX_HTTP_KX_UNPROCESSABLE,
                                  "validation_failed", msg);
}


static ngx_int_t
ngx_http_kx_trading_list(ngx_http_request_t *r, kx_trading_ctx_t *ctx)
{
    char         status[16], symbol[32], limit[16], cursor[128], *p;
    u_char       dec[128];
    long         n;
    ngx_int_t    rc, lim;
    ngx_str_t    v;
    ngx_uint_t   i;
    const char  *values[6];
    char        *usec, *id, *lim_text;

    values[1] = "open";
    values[2] = NULL;
    values[3] = NULL;
    values[4] = NULL;

    if (ctx->op == KX_TRADING_ORDERS) {
        rc = ngx_http_kx_trading_arg(r, "status", status, sizeof(status),
                                     &v);
        if (rc == NGX_ERROR
            || (rc == NGX_OK && ngx_strcmp(status, "open") != 0
                && ngx_strcmp(status, "closed") != 0
                && ngx_strcmp(status, "all") != 0))
        {
            return ngx_http_kx_trading_bad_arg(r,
                       "status: one of open, closed, all");
        }

        if (rc == NGX_OK) {
            values[1] = status;
        }
    }

    rc = ngx_http_kx_trading_arg(r, "symbol", symbol, sizeof(symbol), &v);
    if (rc == NGX_ERROR || (rc == NGX_OK && v.len == 0)) {
        return ngx_http_kx_trading_bad_arg(r, "symbol: not a symbol");
    }

    if (rc == NGX_OK) {
        for (i = 0; i < v.len; i++) {
            symbol[i] = ngx_toupper(symbol[i]);
        }

        values[2] = symbol;
    }

    lim = KX_TRADING_LIMIT_DEFAULT;

    rc = ngx_http_kx_trading_arg(r, "limit", limit, sizeof(limit), &v);
    if (rc == NGX_OK) {
        lim = ngx_atoi(v.data, v.len);
        if (lim < 1 || lim > KX_TRADING_LIMIT_MAX) {
            return ngx_http_kx_trading_bad_arg(r,
                       "limit: an integer from 1 to 500");
        }

    } else if (rc == NGX_ERROR) {
        return ngx_http_kx_trading_bad_arg(r,
                   "limit: an integer from 1 to 500");
    }

    ctx->limit = lim;

    /* the cursor: base64url of "<created_at usec>,<uuid>" */
    rc = ngx_http_kx_trading_arg(r, "cursor", cursor, sizeof(cursor), &v);
    if (rc == NGX_ERROR) {
        return ngx_http_kx_trading_bad_arg(r, "cursor: not a cursor");
    }

    if (rc == NGX_OK) {
        n = kx_base64url_decode(dec, cursor, v.len);
        if (n <= 0 || n >= (long) sizeof(dec) - 1) {
            return ngx_http_kx_trading_bad_arg(r, "cursor: not a cursor");
        }

        dec[n] = '\0';
        p = ngx_strchr(dec, ',');

        if (p == NULL
            || ngx_atoof(dec, (u_char *) p - dec) == NGX_ERROR
            || !ngx_http_kx_trading_is_uuid((u_char *) p + 1,
                                            ngx_strlen(p + 1)))
        {
            return ngx_http_kx_trading_bad_arg(r, "cursor: not a cursor");
        }

        *p = '\0';
        usec = ngx_pnalloc(r->pool, n + 1);
        if (usec == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_memcpy(usec, dec, n + 1);
        id = usec + (p - (char *) dec) + 1;

        values[3] = usec;
        values[4] = id;
    }

    lim_text = ngx_pnalloc(r->pool, NGX_INT_T_LEN + 1);
    if (lim_text == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    *ngx_sprintf((u_char *) lim_text, "%i", lim + 1) = '\0';

    values[0] = ctx->user_id;
    values[5] = lim_text;

    if (ctx->op == KX_TRADING_ORDERS) {
        return ngx_http_kx_trading_query(r, ctx,
            "SELECT " KX_TRADING_ORDER_COLS " FROM trading.orders o"
            " WHERE o.user_id = $1::uuid"
            " AND ($2 = 'all' OR ($2 = 'open') = (o.status IN "
            KX_TRADING_OPEN_SQL "))"
            " AND ($3::text IS NULL OR o.symbol = $3)"
            " AND ($4::bigint IS NULL OR (o.created_at, o.id) <"
            " ('epoch'::timestamptz + $4::bigint * interval '1 microsecond',"
            " $5::uuid))"
            " ORDER BY o.created_at DESC, o.id DESC LIMIT $6::int",
            values, 6);
    }

    values[1] = values[2];
    values[2] = values[3];
    values[3] = values[4];
    values[4] = values[5];

    return ngx_http_kx_trading_query(r, ctx,
        "SELECT t.id, t.order_id, t.symbol, t.side, t.quantity, t.price,"
        " t.fee, t.execution_id, trading.usec(t.executed_at)"
        " FROM trading.trades t WHERE t.user_id = $1::uuid"
        " AND ($2::text IS NULL OR t.symbol = $2)"
        " AND ($3::bigint IS NULL OR (t.executed_at, t.id) <"
        " ('epoch'::timestamptz + $3::bigint * interval '1 microsecond',"
        " $4::uuid))"
        " ORDER BY t.executed_at DESC, t.id DESC LIMIT $5::int",
        values, 5);
}


static void
ngx_http_kx_trading_cursor(kx_jw_t *w, int64_t usec, const char *id)
{
    u_char  raw[96];
    char    enc[160];
    size_t  n;

    n = ngx_snprintf(raw, sizeof(raw), "%L,%s", usec, id) - raw;
    n = kx_base64url_encode(enc, raw, n);

    kx_jw_strn(w, enc, n);
}


static kx_dec_t
ngx_http_kx_trading_dec(PGresult *pr, int row, int col)
{
    char      *s;
    kx_dec_t   d;

    d.v = 0;

    if (!PQgetisnull(pr, row, col)) {
        s = PQgetvalue(pr, row, col);
        if (kx_dec_parse(s, ngx_strlen(s), &d) != KX_DEC_OK) {
            d.v = 0;
        }
    }

    return d;
}


static ngx_int_t
ngx_http_kx_trading_send_rows(ngx_http_request_t *r, kx_trading_ctx_t *ctx,
    PGresult *pr)
{
    int          i, n, more;
    char         tbuf[KX_ORDER_TIME_MAX + 1];
    size_t       len;
    int64_t      usec;
    kx_jw_t      w;
    kx_order_t   o;

    n = PQntuples(pr);

    if (ctx->op == KX_TRADING_ORDER) {
        if (n == 0
            || kx_trading_order_from_row(pr, 0, 0, &o, NULL, NULL, 0, NULL,
                                         0) != NGX_OK)
        {
            return ngx_http_kx_send_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                          "order not found");
        }

        kx_jw_init(&w);
        kx_order_jw(&w, &o);

        return ngx_http_kx_send_jw(r, NGX_HTTP_OK, &w);
    }

    more = (n > (int) ctx->limit);
    if (more) {
        n = ctx->limit;
    }

    kx_jw_init(&w);
    kx_jw_obj_begin(&w);

    if (ctx->op == KX_TRADING_ORDERS) {
        kx_jw_key(&w, "orders");
        kx_jw_arr_begin(&w);

        for (i = 0; i < n; i++) {
            if (kx_trading_order_from_row(pr, i, 0, &o, NULL, NULL, 0, NULL,
                                          0) == NGX_OK)
            {
                kx_order_jw(&w, &o);
            }
        }

        kx_jw_arr_end(&w);
        kx_jw_key(&w, "next_cursor");

        if (more && kx_trading_order_from_row(pr, n - 1, 0, &o, NULL, NULL,
                                              0, NULL, 0) == NGX_OK)
        {
            ngx_http_kx_trading_cursor(&w, o.created_at, o.id);

        } else {
            kx_jw_null(&w);
        }

    } else {
        kx_jw_key(&w, "trades");
        kx_jw_arr_begin(&w);

        for (i = 0; i < n; i++) {
            kx_jw_obj_begin(&w);
            kx_jw_key(&w, "id");
            kx_jw_str(&w, PQgetvalue(pr, i, 0));
            kx_jw_key(&w, "order_id");
            kx_jw_str(&w, PQgetvalue(pr, i, 1));
            kx_jw_key(&w, "symbol");
            kx_jw_str(&w, PQgetvalue(pr, i, 2));
            kx_jw_key(&w, "side");
            kx_jw_str(&w, PQgetvalue(pr, i, 3));
            kx_jw_key(&w, "quantity");
            kx_txn_amount_jw(&w, ngx_http_kx_trading_dec(pr, i, 4), 0);
            kx_jw_key(&w, "price");
            kx_txn_amount_jw(&w, ngx_http_kx_trading_dec(pr, i, 5), 2);
            kx_jw_key(&w, "fee");
            kx_txn_amount_jw(&w, ngx_http_kx_trading_dec(pr, i, 6), 2);
            kx_jw_key(&w, "execution_id");
            kx_jw_str(&w, PQgetisnull(pr, i, 7) ? NULL
                                                : PQgetvalue(pr, i, 7));
            kx_jw_key(&w, "executed_at");
            usec = ngx_atoof((u_char *) PQgetvalue(pr, i, 8),
                             PQgetlength(pr, i, 8));
            len = kx_order_time_format(usec, tbuf, sizeof(tbuf));
            kx_jw_strn(&w, tbuf, len);
            kx_jw_obj_end(&w);
        }

        kx_jw_arr_end(&w);
        kx_jw_key(&w, "next_cursor");

        if (more) {
            usec = ngx_atoof((u_char *) PQgetvalue(pr, n - 1, 8),
                             PQgetlength(pr, n - 1, 8));
            ngx_http_kx_trading_cursor(&w, usec, PQgetvalue(pr, n - 1, 0));

        } else {
            kx_jw_null(&w);
        }
    }

    kx_jw_obj_end(&w);

    return ngx_http_kx_send_jw(r, NGX_HTTP_OK, &w);
}


/* GET /v1/portfolio, /v1/positions */

static ngx_int_t
ngx_http_kx_trading_portfolio(ngx_http_request_t *r, kx_trading_ctx_t *ctx)
{
    const char              *values[2];
    kx_trading_main_conf_t  *tmcf;

    tmcf = ngx_http_get_module_main_conf(r, ngx_http_kx_trading_module);

    values[0] = ctx->user_id;
    values[1] = (const char *) tmcf->start_cash_text.data;

    /* created lazily, race-free; a new portfolio is not visible to the
     * rest of the statement, so it is returned by the INSERT */
    return ngx_http_kx_trading_query(r, ctx,
        "WITH ins AS (INSERT INTO trading.portfolios (user_id, cash_balance)"
        " VALUES ($1::uuid, $2::numeric) ON CONFLICT (user_id) DO NOTHING"
        " RETURNING cash_balance, reserved_cash, realized_pl)"
        " SELECT 0 AS k, cash_balance, reserved_cash, realized_pl,"
        " NULL::text AS symbol, NULL::numeric AS quantity,"
        " NULL::numeric AS avg_cost FROM ins"
        " UNION ALL SELECT 0, cash_balance, reserved_cash, realized_pl,"
        " NULL, NULL, NULL FROM trading.portfolios WHERE user_id = $1::uuid"
        " UNION ALL SELECT 1, NULL, NULL, NULL, symbol, quantity, avg_cost"
        " FROM trading.positions WHERE user_id = $1::uuid"
        " ORDER BY 1, 5",
        values, 2);
}


static void
ngx_http_kx_trading_rows(kx_pg_result_t *res, void *data)
{
    kx_trading_ctx_t  *ctx = data;

    int                      i, n;
    u_char                  *p, *last;
    ngx_int_t                rc;
    PGresult                *pr;
    kx_http_spec_t           spec;
    ngx_http_request_t      *r;
    kx_trading_holding_t    *h;
    kx_trading_main_conf_t  *tmcf;
    ngx_str_t                hdr;
    u_char                   hbuf[2048];

    ctx->req = NULL;
    r = ctx->request;

    if (res->status != KX_PG_OK) {
        ngx_http_kx_trading_finish(ctx, ngx_http_kx_io_pg_error(r, res));
        return;
    }

    pr = res->res;

    if (ctx->op != KX_TRADING_PORTFOLIO && ctx->op != KX_TRADING_POSITIONS) {
        ngx_http_kx_trading_finish(ctx,
                                   ngx_http_kx_trading_send_rows(r, ctx, pr));
        return;
    }

    tmcf = ngx_http_get_module_main_conf(r, ngx_http_kx_trading_module);

    ctx->cash = tmcf->start_cash;
    n = PQntuples(pr);

    ctx->holdings = ngx_pcalloc(r->pool,
                                (n + 1) * sizeof(kx_trading_holding_t));
    if (ctx->holdings == NULL) {
        ngx_http_kx_trading_finish(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    for (i = 0; i < n; i++) {
        if (PQgetvalue(pr, i, 0)[0] == '0') {
            ctx->cash = ngx_http_kx_trading_dec(pr, i, 1);
            ctx->reserved = ngx_http_kx_trading_dec(pr, i, 2);
            ctx->realized = ngx_http_kx_trading_dec(pr, i, 3);
            continue;
        }

        h = &ctx->holdings[ctx->nholdings++];
        ngx_cpystrn((u_char *) h->symbol, (u_char *) PQgetvalue(pr, i, 4),
                    sizeof(h->symbol));
        h->qty = ngx_http_kx_trading_dec(pr, i, 5);
        h->avg_cost = ngx_http_kx_trading_dec(pr, i, 6);
    }

    if (ctx->nholdings == 0 || tmcf->market_url.len == 0) {
        ngx_http_kx_trading_finish(ctx,
            ngx_http_kx_trading_send_portfolio(r, ctx));
        return;
    }

    /* current prices: one batch request to the market service */
    p = ngx_pnalloc(r->pool, tmcf->market_url.len + 32
                             + ctx->nholdings * (KX_ORDER_SYMBOL_MAX + 3));
    if (p == NULL) {
        ngx_http_kx_trading_finish(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    last = ngx_sprintf(p, "%V/v1/quotes/batch?symbols=", &tmcf->market_url);

    for (i = 0; i < (int) ctx->nholdings && i < 100; i++) {
        last = ngx_sprintf(last, "%s%s", i ? "%2C" : "",
                           ctx->holdings[i].symbol);
    }

    ngx_memzero(&spec, sizeof(kx_http_spec_t));
    spec.url.data = p;
    spec.url.len = last - p;
    spec.timeout = tmcf->quote_timeout;
    spec.max_retries = 1;
    spec.idempotent = 1;
    spec.log = ngx_cycle->log;

    if (r->headers_in.authorization
        && r->headers_in.authorization->value.len < sizeof(hbuf) - 32)
    {
        hdr.data = hbuf;
        hdr.len = ngx_sprintf(hbuf, "Authorization: %V",
                              &r->headers_in.authorization->value) - hbuf;
        spec.headers = &hdr;
        spec.nheaders = 1;
    }

    ctx->http = kx_http_request(&spec, ngx_http_kx_trading_prices, ctx);
    if (ctx->http == NULL) {
        rc = ngx_http_kx_trading_send_portfolio(r, ctx);
        ngx_http_kx_trading_finish(ctx, rc);
    }
}


static void
ngx_http_kx_trading_prices(kx_http_response_t *res, void *data)
{
    kx_trading_ctx_t  *ctx = data;

    ngx_uint_t             i;
    kx_json_doc_t         *doc;
    const kx_json_node_t  *quotes, *q;

    ctx->http = NULL;

    if (res->error == KX_HTTP_OK && res->status == 200
        && kx_json_parse((char *) res->body.data, res->body.len, NULL, &doc,
                         NULL) == KX_JSON_PE_OK)
    {
        quotes = kx_json_obj_get(kx_json_root(doc), "quotes");

        for (i = 0; i < ctx->nholdings; i++) {
            q = kx_json_obj_get(quotes, ctx->holdings[i].symbol);
            if (kx_json_get_dec(q, "price", 8, &ctx->holdings[i].price)
                != KX_JSON_OK || ctx->holdings[i].price.v < 0)
            {
                ctx->holdings[i].price.v = 0;
            }
        }

        kx_json_free(doc);

    } else {
        ngx_log_error(NGX_LOG_WARN, ctx->request->connection->log, 0,
                      "kx trading: no prices from the market service: %s, "
                      "status %ui", res->message, res->status);
    }

    ngx_http_kx_trading_finish(ctx,
        ngx_http_kx_trading_send_portfolio(ctx->request, ctx));
}


static ngx_int_t
ngx_http_kx_trading_send_portfolio(ngx_http_request_t *r,
    kx_trading_ctx_t *ctx)
{
    kx_jw_t                w;
    kx_dec_t               d;
    ngx_uint_t             i;
    kx_holding_t          *hs;
    kx_portfolio_t         pf;
    kx_trading_holding_t  *h;

    hs = ngx_pcalloc(r->pool, (ctx->nholdings + 1) * sizeof(kx_holding_t));
    if (hs == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    for (i = 0; i < ctx->nholdings; i++) {
        hs[i].pos.qty = ctx->holdings[i].qty;
        hs[i].pos.avg_cost = ctx->holdings[i].avg_cost;
        hs[i].price = ctx->holdings[i].price;
    }

    if (kx_portfolio_summary(ctx->cash, ctx->realized, hs, ctx->nholdings,
                             &pf) != KX_POSITION_OK)
    {
        return ngx_http_kx_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                      NULL, "portfolio out of range");
    }

    kx_jw_init(&w);
    kx_jw_obj_begin(&w);

    if (ctx->op == KX_TRADING_PORTFOLIO) {
        kx_jw_key(&w, "currency");
        kx_jw_str(&w, "USD");
        kx_jw_key(&w, "cash_balance");
        kx_txn_amount_jw(&w, ctx->cash, 2);
        kx_jw_key(&w, "reserved_cash");
        kx_txn_amount_jw(&w, ctx->reserved, 2);
        kx_jw_key(&w, "buying_power");
        (void) kx_dec_sub(ctx->cash, ctx->reserved, &d);
        kx_txn_amount_jw(&w, d, 2);
        kx_jw_key(&w, "positions_value");
        kx_txn_amount_jw(&w, pf.positions_value, 2);
        kx_jw_key(&w, "total_value");
        kx_txn_amount_jw(&w, pf.total_value, 2);
        kx_jw_key(&w, "realized_pl");
        kx_txn_amount_jw(&w, pf.realized_pl, 2);
        kx_jw_key(&w, "unrealized_pl");
        kx_txn_amount_jw(&w, pf.unrealized_pl, 2);
    }

    kx_jw_key(&w, "positions");
    kx_jw_arr_begin(&w);

    for (i = 0; i < ctx->nholdings; i++) {
        h = &ctx->holdings[i];

        kx_jw_obj_begin(&w);
        kx_jw_key(&w, "symbol");
        kx_jw_str(&w, h->symbol);
        kx_jw_key(&w, "quantity");
        kx_txn_amount_jw(&w, h->qty, 0);
        kx_jw_key(&w, "avg_cost");
        kx_txn_amount_jw(&w, h->avg_cost, 2);
        kx_jw_key(&w, "cost_basis");
        (void) kx_position_cost_basis(&hs[i].pos, &d);
        kx_txn_amount_jw(&w, d, 2);
        kx_jw_key(&w, "current_price");
        if (h->price.v) {
            kx_txn_amount_jw(&w, h->price, 2);
        } else {
            kx_jw_null(&w);
        }
        kx_jw_key(&w, "market_value");
        (void) kx_position_market_value(&hs[i].pos,
                                        h->price.v ? h->price : h->avg_cost,
                                        &d);
        kx_txn_amount_jw(&w, d, 2);
        kx_jw_key(&w, "unrealized_pl");
        (void) kx_position_unrealized_pl(&hs[i].pos,
                                         h->price.v ? h->price : h->avg_cost,
                                         &d);
        kx_txn_amount_jw(&w, d, 2);
        kx_jw_obj_end(&w);
    }

    kx_jw_arr_end(&w);
    kx_jw_obj_end(&w);

    return ngx_http_kx_send_jw(r, NGX_HTTP_OK, &w);
}


/* configuration */

static char *
ngx_http_kx_trading(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    kx_trading_loc_conf_t     *tlcf = conf;

    ngx_http_core_loc_conf_t  *clcf;
    kx_trading_main_conf_t    *tmcf;

    if (tlcf->enabled != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    tlcf->enabled = 1;

    tmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_kx_trading_module);
    tmcf->enabled = 1;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_kx_trading_handler;

    return NGX_CONF_OK;
}


static char *
ngx_http_kx_trading_dec_slot(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    kx_dec_t   *d;
    ngx_str_t  *value;

    d = (kx_dec_t *) (p + cmd->offset);

    if (d->v != -1) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (kx_dec_parse_places((char *) value[1].data, value[1].len, 8, d)
        != KX_DEC_OK || d->v < 0)
    {
        d->v = -1;
        return "invalid value: a decimal >= 0 is required";
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_kx_trading_broker(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    kx_trading_main_conf_t  *tmcf = conf;

    ngx_str_t            *value;
    kx_trading_broker_t  *b;

    if (tmcf->broker != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len == 5 && ngx_strncmp(value[1].data, "paper", 5) == 0) {
        b = &kx_trading_broker_paper;

    } else if (value[1].len == 6
               && ngx_strncmp(value[1].data, "alpaca", 6) == 0)
    {
        b = &kx_trading_broker_alpaca;

        if (b == NULL) {
            return "alpaca: the broker is not built in";
        }

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "unknown broker \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    tmcf->broker = b;

    if (b->configure) {
        tmcf->broker_conf = b->configure(cf, &value[2], cf->args->nelts - 2);
        if (tmcf->broker_conf == NULL) {
            return NGX_CONF_ERROR;
        }

    } else if (cf->args->nelts > 2) {
        return "the broker takes no options";
    }

    return NGX_CONF_OK;
}


static void *
ngx_http_kx_trading_create_main_conf(ngx_conf_t *cf)
{
    kx_trading_main_conf_t  *tmcf;

    tmcf = ngx_pcalloc(cf->pool, sizeof(kx_trading_main_conf_t));
    if (tmcf == NULL) {
        return NULL;
    }

    tmcf->start_cash.v = -1;
    tmcf->collar_pct.v = -1;
    tmcf->market_buffer_pct.v = -1;
    tmcf->hours = NGX_CONF_UNSET_UINT;
    tmcf->quote_timeout = NGX_CONF_UNSET_MSEC;
    tmcf->quote_max_age = NGX_CONF_UNSET_MSEC;
    tmcf->sweep_interval = NGX_CONF_UNSET_MSEC;
    tmcf->matcher = NGX_CONF_UNSET;
    tmcf->acct_cache = NGX_CONF_UNSET_PTR;

    return tmcf;
}


static char *
ngx_http_kx_trading_init_main_conf(ngx_conf_t *cf, void *conf)
{
    kx_trading_main_conf_t  *tmcf = conf;

    u_char  *p;
    char     buf[KX_DEC_FMT_MAX];
    size_t   n;

    if (tmcf->start_cash.v == -1) {
        tmcf->start_cash.v = 100000 * KX_DEC_ONE;
    }

    if (tmcf->collar_pct.v == -1) {
        tmcf->collar_pct.v = 10 * KX_DEC_ONE;
    }

    if (tmcf->market_buffer_pct.v == -1) {
        tmcf->market_buffer_pct.v = 0;
    }

    ngx_conf_init_uint_value(tmcf->hours, KX_SIM_HOURS_ALWAYS);
    ngx_conf_init_msec_value(tmcf->quote_timeout, 2000);
    ngx_conf_init_msec_value(tmcf->quote_max_age, 1000);
    ngx_conf_init_msec_value(tmcf->sweep_interval, 1000);
    ngx_conf_init_value(tmcf->matcher, 1);
    ngx_conf_init_ptr_value(tmcf->acct_cache, NULL);

    if (tmcf->broker == NULL) {
        tmcf->broker = &kx_trading_broker_paper;
        tmcf->broker_conf = kx_trading_broker_paper.configure(cf, NULL, 0);
        if (tmcf->broker_conf == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    /* strip a trailing slash of the market URL */
    while (tmcf->market_url.len
           && tmcf->market_url.data[tmcf->market_url.len - 1] == '/')
    {
        tmcf->market_url.len--;
    }

    n = kx_dec_format_min(tmcf->start_cash, buf, sizeof(buf));

    p = ngx_pnalloc(cf->pool, n + 1);
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memcpy(p, buf, n);
    p[n] = '\0';

    tmcf->start_cash_text.data = p;
    tmcf->start_cash_text.len = n;

    return NGX_CONF_OK;
}


static void *
ngx_http_kx_trading_create_loc_conf(ngx_conf_t *cf)
{
    kx_trading_loc_conf_t  *tlcf;

    tlcf = ngx_pcalloc(cf->pool, sizeof(kx_trading_loc_conf_t));
    if (tlcf == NULL) {
        return NULL;
    }

    tlcf->enabled = NGX_CONF_UNSET;

    return tlcf;
}


static char *
ngx_http_kx_trading_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child)
{
    kx_trading_loc_conf_t  *conf = child;

    (void) parent;

    if (conf->enabled == NGX_CONF_UNSET) {
        conf->enabled = 0;
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_kx_trading_init_process(ngx_cycle_t *cycle)
{
    ngx_uint_t               matcher;
    kx_trading_main_conf_t  *tmcf;

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    tmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_kx_trading_module);
    if (tmcf == NULL || !tmcf->enabled) {
        return NGX_OK;
    }

    if (tmcf->broker->init_process
        && tmcf->broker->init_process(cycle, tmcf->broker_conf) != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* one worker matches resting paper orders: no double work */
    matcher = (tmcf->matcher && ngx_worker == 0
               && tmcf->broker == &kx_trading_broker_paper);

    if (kx_trading_quotes_start(cycle, matcher) != NGX_OK) {
        return NGX_ERROR;
    }

    if (matcher) {
        return kx_trading_matcher_start(cycle, tmcf);
    }

    return NGX_OK;
}


static void
ngx_http_kx_trading_exit_process(ngx_cycle_t *cycle)
{
    kx_trading_main_conf_t  *tmcf;

    tmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_kx_trading_module);
    if (tmcf == NULL || !tmcf->enabled) {
        return;
    }

    kx_trading_matcher_stop();
    kx_trading_quotes_stop();

    if (tmcf->broker->exit_process) {
        tmcf->broker->exit_process(cycle, tmcf->broker_conf);
    }
}
