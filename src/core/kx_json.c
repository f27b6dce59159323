
/*
 * Copyright (C) Kianax
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_parse.h>

#include "kx_arena.h"
#include "kx_utf8.h"
#include "kx_json.h"


/* objects up to this size are searched in order; larger ones by key */
#define KX_JSON_LINEAR  8


struct kx_json_node_s {
    kx_json_type_e      type;
    int                 b;
    const char         *key;        /* set when the parent is an object */
    size_t              key_len;
    kx_json_node_t     *next;       /* sibling, only while building */

    union {
        struct {
            const char     *p;
            size_t          len;
        } s;                        /* string, or number text */

        struct {
            kx_json_node_t **items;     /* document order */
            kx_json_node_t **sorted;    /* by key, large objects only */
            size_t          n;
        } c;
    } u;
};


struct kx_json_doc_s {
    kx_arena_t          arena;
    kx_json_node_t     *root;
};


typedef struct {
    kx_json_node_t     *node;
    kx_json_node_t     *head;
    kx_json_node_t     *tail;
    size_t              n;
    const char         *key;        /* the key waiting for its value */
    size_t              key_len;
} kx_json_frame_t;


typedef struct {
    kx_json_doc_t      *doc;
    kx_json_frame_t    *frames;
    unsigned            depth;
    unsigned            max_depth;
    size_t              nodes;
    size_t              max_nodes;
    kx_json_perr_t     *err;
} kx_json_ctx_t;


static int kx_json_prescan(const char *buf, size_t len, kx_json_perr_t *err);
static int kx_json_hex4(const char *p, const char *end, uint32_t *cp);
static void kx_json_fail(kx_json_perr_t *err, kx_json_perr_e code,
    size_t offset, const char *msg);
static int kx_json_nomem(kx_json_perr_t *err);
static kx_json_node_t *kx_json_add(kx_json_ctx_t *ctx, kx_json_type_e type);
static int kx_json_add_text(kx_json_ctx_t *ctx, kx_json_type_e type,
    const char *s, size_t len);
static int kx_json_open(kx_json_ctx_t *ctx, kx_json_type_e type);
static int kx_json_close(kx_json_ctx_t *ctx);
static int kx_json_check_keys(kx_json_ctx_t *ctx, kx_json_node_t *obj);
static int kx_json_key_cmp(const void *a, const void *b);
static int kx_json_cb_null(void *ctx);
static int kx_json_cb_bool(void *ctx, int b);
static int kx_json_cb_number(void *ctx, const char *s, size_t len);
static int kx_json_cb_string(void *ctx, const unsigned char *s, size_t len);
static int kx_json_cb_start_map(void *ctx);
static int kx_json_cb_map_key(void *ctx, const unsigned char *s, size_t len);
static int kx_json_cb_end(void *ctx);
static int kx_json_cb_start_array(void *ctx);
static int kx_json_run_yajl(kx_json_ctx_t *ctx, const char *buf, size_t len);


static const yajl_callbacks  kx_json_callbacks = {
    kx_json_cb_null,
    kx_json_cb_bool,
    NULL,                       /* every number comes raw, as text */
    NULL,
    kx_json_cb_number,
    kx_json_cb_string,
    kx_json_cb_start_map,
    kx_json_cb_map_key,
    kx_json_cb_end,
    kx_json_cb_start_array,
    kx_json_cb_end
};


int
kx_json_parse(const char *buf, size_t len, const kx_json_limits_t *lim,
    kx_json_doc_t **doc, kx_json_perr_t *err)
{
    int               rc;
    size_t            max_size, nframes;
    kx_json_ctx_t     ctx;
    kx_json_perr_t    local;
    kx_json_doc_t    *d;

    if (err == NULL) {
        err = &local;
    }

    err->code = KX_JSON_PE_OK;
    err->offset = 0;
    err->msg[0] = '\0';

    *doc = NULL;

    max_size = (lim && lim->max_size) ? lim->max_size
                                      : KX_JSON_DEFAULT_MAX_SIZE;

    if (len > max_size) {
        kx_json_fail(err, KX_JSON_PE_TOO_LARGE, max_size,
                     "JSON text is too large");
        return err->code;
    }

    /* yajl's own UTF-8 check admits overlongs and surrogates */
    rc = kx_json_prescan(buf, len, err);
    if (rc != KX_JSON_PE_OK) {
        return rc;
    }

    d = malloc(sizeof(kx_json_doc_t));
    if (d == NULL) {
        (void) kx_json_nomem(err);
        return err->code;
    }

    /* the copies of strings and numbers, then nodes: one or two blocks */
    kx_arena_init(&d->arena, len < 256 ? 1024 : len * 2);
    d->root = NULL;

    ctx.doc = d;
    ctx.depth = 0;
    ctx.max_depth = (lim && lim->max_depth) ? lim->max_depth
                                            : KX_JSON_DEFAULT_MAX_DEPTH;
    ctx.nodes = 0;
    ctx.max_nodes = (lim && lim->max_nodes) ? lim->max_nodes
                                            : KX_JSON_DEFAULT_MAX_NODES;
    ctx.err = err;

    /* each level costs at least one byte of input: "[" */
    nframes = ctx.max_depth;
    if (nframes > len) {
        nframes = len;
    }

    ctx.frames = kx_arena_alloc(&d->arena,
                                (nframes + 1) * sizeof(kx_json_frame_t));

    if (ctx.frames == NULL) {
        (void) kx_json_nomem(err);
        rc = err->code;

    } else {
        rc = kx_json_run_yajl(&ctx, buf, len);
    }

    if (rc != KX_JSON_PE_OK) {
        kx_json_free(d);
        return rc;
    }

    *doc = d;

    return KX_JSON_PE_OK;
}


static int
kx_json_run_yajl(kx_json_ctx_t *ctx, const char *buf, size_t len)
{
    int             done;
    size_t          n;
    yajl_handle     h;
    yajl_status     st;
    unsigned char  *text;

    h = yajl_alloc(&kx_json_callbacks, NULL, ctx);
    if (h == NULL) {
        (void) kx_json_nomem(ctx->err);
        return ctx->err->code;
    }

    /* the defaults, said out loud: the checks must not drift away */
    yajl_config(h, yajl_allow_comments, 0);
    yajl_config(h, yajl_dont_validate_strings, 0);
    yajl_config(h, yajl_allow_trailing_garbage, 0);
    yajl_config(h, yajl_allow_multiple_values, 0);
    yajl_config(h, yajl_allow_partial_values, 0);

    done = 0;
    st = yajl_status_ok;

    if (len) {
        st = yajl_parse(h, (const unsigned char *) buf, len);
    }

    if (st == yajl_status_ok) {
        done = 1;
        st = yajl_complete_parse(h);
    }

    if (st != yajl_status_ok && ctx->err->code == KX_JSON_PE_OK) {
        /* a syntax error: a callback failure has set its own code */
        text = yajl_get_error(h, 0, NULL, 0);

        kx_json_fail(ctx->err, KX_JSON_PE_SYNTAX,
                     done ? len : yajl_get_bytes_consumed(h),
                     text ? (const char *) text : "invalid JSON");

        if (text) {
            yajl_free_error(h, text);
        }

        /* yajl ends its messages with a newline */
        n = strlen(ctx->err->msg);
        while (n && (ctx->err->msg[n - 1] == '\n'
                     || ctx->err->msg[n - 1] == ' '))
        {
            ctx->err->msg[--n] = '\0';
        }

    } else if (st != yajl_status_ok) {
        ctx->err->offset = done ? len : yajl_get_bytes_consumed(h);
    }

    yajl_free(h);

    if (st == yajl_status_ok && ctx->doc->root == NULL) {
        kx_json_fail(ctx->err, KX_JSON_PE_SYNTAX, len, "no JSON value");
    }

    return ctx->err->code;
}


/*
 * Checks the whole text as strict UTF-8 (outside strings anything but
 * ASCII is a syntax error anyway) and that \u escapes pair surrogates:
 * yajl turns a lone high surrogate into "?" and a lone low one into
 * invalid UTF-8, and would glue a high one to any following escape.
 * Also refuses two things yajl lets through: \f and \v between tokens,
 * and a string left open at the end.
 */

static int
kx_json_prescan(const char *buf, size_t len, kx_json_perr_t *err)
{
    int          in_str, n;
    uint32_t     cp, lo;
    const char  *p, *end;

    p = buf;
    end = buf + len;
    in_str = 0;

    while (p < end) {

        if ((unsigned char) *p >= 0x80) {
            n = kx_utf8_next((const unsigned char *) p, end - p, &cp);
            if (n < 0) {
                kx_json_fail(err, KX_JSON_PE_BAD_UTF8, p - buf,
                             "invalid UTF-8");
                return err->code;
            }

            p += n;
            continue;
        }

        if (*p == '"') {
            in_str = !in_str;
            p++;
            continue;
        }

        if (!in_str && (*p == '\f' || *p == '\v')) {
            /* yajl takes them for whitespace; JSON does not (RFC 8259 2) */
            kx_json_fail(err, KX_JSON_PE_SYNTAX, p - buf,
                         "invalid whitespace");
            return err->code;
        }

        if (!in_str || *p != '\\') {
            p++;
            continue;
        }

        /* a malformed escape is left to yajl to report */
        if (end - p < 2 || p[1] != 'u' || kx_json_hex4(p + 2, end, &cp)) {
            p += (end - p >= 2 && (unsigned char) p[1] < 0x80) ? 2 : 1;
            continue;
        }

        if (cp >= 0xdc00 && cp <= 0xdfff) {
            goto unpaired;
        }

        if (cp >= 0xd800 && cp <= 0xdbff) {
            if (end - p < 12 || p[6] != '\\' || p[7] != 'u'
                || kx_json_hex4(p + 8, end, &lo)
                || lo < 0xdc00 || lo > 0xdfff)
            {
                goto unpaired;
            }

            p += 12;
            continue;
        }

        p += 6;
    }

    /*
     * yajl keeps a string still open at the end as an incomplete token
     * and, with the root value complete, answers OK: '{"a":1}"' parsed
     */
    if (in_str) {
        kx_json_fail(err, KX_JSON_PE_SYNTAX, len, "unterminated string");
        return err->code;
    }

    return KX_JSON_PE_OK;

unpaired:

    kx_json_fail(err, KX_JSON_PE_BAD_UTF8, p - buf,
                 "unpaired UTF-16 surrogate escape");

    return err->code;
}


static int
kx_json_hex4(const char *p, const char *end, uint32_t *cp)
{
    int       i;
    char      c;
    uint32_t  v;

    if (end - p < 4) {
        return -1;
    }

    v = 0;

    for (i = 0; i < 4; i++) {
        c = p[i];

        if (c >= '0' && c <= '9') {
            v = v * 16 + (uint32_t) (c - '0');

        } else if (c >= 'a' && c <= 'f') {
            v = v * 16 + (uint32_t) (c - 'a' + 10);

        } else if (c >= 'A' && c <= 'F') {
            v = v * 16 + (uint32_t) (c - 'A' + 10);

        } else {
            return -1;
        }
    }

    *cp = v;

    return 0;
}


static void
kx_json_fail(kx_json_perr_t *err, kx_json_perr_e code, size_t offset,
    const char *msg)
{
    err->code = code;
    err->offset = offset;
    snprintf(err->msg, sizeof(err->msg), "%s", msg);
}


/* returns 0 so that a yajl callback can return it */

static int
kx_json_nomem(kx_json_perr_t *err)
{
    kx_json_fail(err, KX_JSON_PE_NOMEM, 0, "out of memory");

    return 0;
}


static kx_json_node_t *
kx_json_add(kx_json_ctx_t *ctx, kx_json_type_e type)
{
    kx_json_node_t   *node;
    kx_json_frame_t  *f;

    if (ctx->nodes >= ctx->max_nodes) {
        kx_json_fail(ctx->err, KX_JSON_PE_TOO_MANY_NODES, 0,
                     "JSON has too many values");
        return NULL;
    }

    node = kx_arena_alloc(&ctx->doc->arena, sizeof(kx_json_node_t));
    if (node == NULL) {
        (void) kx_json_nomem(ctx->err);
        return NULL;
    }

    ctx->nodes++;

    memset(node, 0, sizeof(kx_json_node_t));
    node->type = type;

    if (ctx->depth == 0) {
        ctx->doc->root = node;
        return node;
    }

    f = &ctx->frames[ctx->depth - 1];

    if (f->node->type == KX_JSON_OBJECT) {
        node->key = f->key;
        node->key_len = f->key_len;
    }

    if (f->tail) {
        f->tail->next = node;

    } else {
        f->head = node;
    }

    f->tail = node;
    f->n++;

    return node;
}


static int
kx_json_open(kx_json_ctx_t *ctx, kx_json_type_e type)
{
    kx_json_node_t   *node;
    kx_json_frame_t  *f;

    if (ctx->depth >= ctx->max_depth) {
        kx_json_fail(ctx->err, KX_JSON_PE_TOO_DEEP, 0,
                     "JSON is nested too deeply");
        return 0;
    }

    node = kx_json_add(ctx, type);
    if (node == NULL) {
        return 0;
    }

    f = &ctx->frames[ctx->depth++];
    memset(f, 0, sizeof(kx_json_frame_t));
    f->node = node;

    return 1;
}


static int
kx_json_close(kx_json_ctx_t *ctx)
{
    size_t             i;
    kx_json_node_t    *node, *c, **items;
    kx_json_frame_t   *f;

    f = &ctx->frames[--ctx->depth];
    node = f->node;

    items = NULL;

    if (f->n) {
        items = kx_arena_alloc(&ctx->doc->arena,
                               f->n * sizeof(kx_json_node_t *));
        if (items == NULL) {
            return kx_json_nomem(ctx->err);
        }
    }

    for (i = 0, c = f->head; c; c = c->next) {
        items[i++] = c;
    }

    node->u.c.items = items;
    node->u.c.n = f->n;

    if (node->type == KX_JSON_OBJECT) {
        return kx_json_check_keys(ctx, node);
    }

    return 1;
}


/*
 * Rejects repeated keys.  Small objects are compared pairwise; large
 * ones are sorted once, which also gives kx_json_obj_getn() a binary
 * search, so 50,000 keys cost n log n and not n squared.
 */

static int
kx_json_check_keys(kx_json_ctx_t *ctx, kx_json_node_t *obj)
{
    size_t            i, j, n, k;
    kx_json_node_t  **items, **sorted, *dup;
    char              msg[64];

    items = obj->u.c.items;
    n = obj->u.c.n;
    dup = NULL;

    if (n <= KX_JSON_LINEAR) {
        for (i = 0; i < n && dup == NULL; i++) {
            for (j = i + 1; j < n; j++) {
                if (kx_json_key_cmp(&items[i], &items[j]) == 0) {
                    dup = items[j];
                    break;
                }
            }
        }

    } else {
        sorted = kx_arena_alloc(&ctx->doc->arena,
                                n * sizeof(kx_json_node_t *));
        if (sorted == NULL) {
            return kx_json_nomem(ctx->err);
        }

        memcpy(sorted, items, n * sizeof(kx_json_node_t *));
        qsort(sorted, n, sizeof(kx_json_node_t *), kx_json_key_cmp);

        for (i = 1; i < n; i++) {
            if (kx_json_key_cmp(&sorted[i - 1], &sorted[i]) == 0) {
                dup = sorted[i];
                break;
            }
        }

        obj->u.c.sorted = sorted;
    }

    if (dup == NULL) {
        return 1;
    }

    /* name the key, but only in printable ASCII: it goes to clients */
    k = 0;

    for (i = 0; i < dup->key_len && k < 32; i++) {
        msg[k++] = (dup->key[i] >= 0x20 && dup->key[i] < 0x7f)
                   ? dup->key[i] : '?';
    }

    msg[k] = '\0';

    snprintf(ctx->err->msg, sizeof(ctx->err->msg),
             "duplicate object key \"%s%s\"", msg,
             dup->key_len > k ? "..." : "");

    ctx->err->code = KX_JSON_PE_DUPLICATE_KEY;

    return 0;
}


static int
kx_json_key_cmp(const void *a, const void *b)
{
    int                    rc;
    size_t                 n;
    const kx_json_node_t  *x, *y;

    x = *(kx_json_node_t * const *) a;
    y = *(kx_json_node_t * const *) b;

    n = x->key_len < y->key_len ? x->key_len : y->key_len;

    rc = n ? memcmp(x->key, y->key, n) : 0;
    if (rc) {
        return rc;
    }

    return (x->key_len > y->key_len) - (x->key_len < y->key_len);
}


static int
kx_json_cb_null(void *ctx)
{
    return kx_json_add(ctx, KX_JSON_NULL) != NULL;
}


static int
kx_json_cb_bool(void *ctx, int b)
{
    kx_json_node_t  *node;

    node = kx_json_add(ctx, KX_JSON_BOOL);
    if (node == NULL) {
        return 0;
    }

    node->b = b ? 1 : 0;

    return 1;
}


static int
kx_json_cb_number(void *ctx, const char *s, size_t len)
{
    return kx_json_add_text(ctx, KX_JSON_NUMBER, s, len);
}


static int
kx_json_cb_string(void *ctx, const unsigned char *s, size_t len)
{
    return kx_json_add_text(ctx, KX_JSON_STRING, (const char *) s, len);
}


static int
kx_json_add_text(kx_json_ctx_t *ctx, kx_json_type_e type, const char *s,
    size_t len)
{
    kx_json_node_t  *node;

    node = kx_json_add(ctx, type);
    if (node == NULL) {
        return 0;
    }

    /* yajl may hand us its own buffer: keep a copy */
    node->u.s.p = kx_arena_memdup0(&ctx->doc->arena, s, len);
    node->u.s.len = len;

    if (node->u.s.p == NULL) {
        return kx_json_nomem(ctx->err);
    }

    return 1;
}


static int
kx_json_cb_start_map(void *ctx)
{
    return kx_json_open(ctx, KX_JSON_OBJECT);
}


static int
kx_json_cb_map_key(void *ctx, const unsigned char *s, size_t len)
{
    kx_json_ctx_t    *c = ctx;
    kx_json_frame_t  *f;

    f = &c->frames[c->depth - 1];

    f->key = kx_arena_memdup0(&c->doc->arena, s, len);
    f->key_len = len;

    if (f->key == NULL) {
        return kx_json_nomem(c->err);
    }

    return 1;
}


static int
kx_json_cb_end(void *ctx)
{
    return kx_json_close(ctx);
}


static int
kx_json_cb_start_array(void *ctx)
{
    return kx_json_open(ctx, KX_JSON_ARRAY);
}


void
kx_json_free(kx_json_doc_t *doc)
{
    if (doc == NULL) {
        return;
    }

    kx_arena_free(&doc->arena);
    free(doc);
}


const char *
kx_json_perr_name(kx_json_perr_e code)
{
    switch (code) {
    case KX_JSON_PE_OK:
        return "ok";
    case KX_JSON_PE_SYNTAX:
        return "syntax";
    case KX_JSON_PE_TOO_DEEP:
        return "too_deep";
    case KX_JSON_PE_TOO_LARGE:
        return "too_large";
    case KX_JSON_PE_TOO_MANY_NODES:
        return "too_many_nodes";
    case KX_JSON_PE_BAD_UTF8:
        return "bad_utf8";
    case KX_JSON_PE_DUPLICATE_KEY:
        return "duplicate_key";
    case KX_JSON_PE_NOMEM:
        return "nomem";
    }

    return "unknown";
}


const kx_json_node_t *
kx_json_root(const kx_json_doc_t *doc)
{
    return doc ? doc->root : NULL;
}


kx_json_type_e
kx_json_type(const kx_json_node_t *node)
{
    return node ? node->type : KX_JSON_NONE;
}


const char *
kx_json_type_name(kx_json_type_e type)
{
    switch (type) {
    case KX_JSON_NONE:
        return "missing";
    case KX_JSON_NULL:
        return "null";
    case KX_JSON_BOOL:
        return "boolean";
    case KX_JSON_NUMBER:
        return "number";
    case KX_JSON_STRING:
        return "string";
    case KX_JSON_ARRAY:
        return "array";
    case KX_JSON_OBJECT:
        return "object";
    }

    return "unknown";
}


const kx_json_node_t *
kx_json_obj_get(const kx_json_node_t *obj, const char *key)
{
    return kx_json_obj_getn(obj, key, key ? strlen(key) : 0);
}


const kx_json_node_t *
kx_json_obj_getn(const kx_json_node_t *obj, const char *key, size_t key_len)
{
    int              rc;
    size_t           i, lo, hi, mid;
    kx_json_node_t   probe, *pp;

    if (obj == NULL || obj->type != KX_JSON_OBJECT || key == NULL) {
        return NULL;
    }

    probe.key = key;
    probe.key_len = key_len;
    pp = &probe;

    if (obj->u.c.sorted == NULL) {
        for (i = 0; i < obj->u.c.n; i++) {
            if (kx_json_key_cmp(&pp, &obj->u.c.items[i]) == 0) {
                return obj->u.c.items[i];
            }
        }

        return NULL;
    }

    lo = 0;
    hi = obj->u.c.n;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        rc = kx_json_key_cmp(&pp, &obj->u.c.sorted[mid]);

        if (rc == 0) {
            return obj->u.c.sorted[mid];
        }

        if (rc < 0) {
            hi = mid;

        } else {
            lo = mid + 1;
        }
    }

    return NULL;
}


size_t
kx_json_obj_len(const kx_json_node_t *obj)
{
    return (obj && obj->type == KX_JSON_OBJECT) ? obj->u.c.n : 0;
}


const kx_json_node_t *
kx_json_obj_at(const kx_json_node_t *obj, size_t i, const char **key,
    size_t *key_len)
{
    const kx_json_node_t  *node;

    if (obj == NULL || obj->type != KX_JSON_OBJECT || i >= obj->u.c.n) {
        return NULL;
    }

    node = obj->u.c.items[i];

    if (key) {
        *key = node->key;
    }

    if (key_len) {
        *key_len = node->key_len;
    }

    return node;
}


size_t
kx_json_arr_len(const kx_json_node_t *arr)
{
    return (arr && arr->type == KX_JSON_ARRAY) ? arr->u.c.n : 0;
}


const kx_json_node_t *
kx_json_arr_at(const kx_json_node_t *arr, size_t i)
{
    if (arr == NULL || arr->type != KX_JSON_ARRAY || i >= arr->u.c.n) {
        return NULL;
    }

    return arr->u.c.items[i];
}


const char *
kx_json_str(const kx_json_node_t *node, size_t *len)
{
    if (node == NULL || node->type != KX_JSON_STRING) {
        return NULL;
    }

    if (len) {
        *len = node->u.s.len;
    }

    return node->u.s.p;
}


const char *
kx_json_num_raw(const kx_json_node_t *node, size_t *len)
{
    if (node == NULL || node->type != KX_JSON_NUMBER) {
        return NULL;
    }

    if (len) {
        *len = node->u.s.len;
    }

    return node->u.s.p;
}


int
kx_json_bool(const kx_json_node_t *node, int *out)
{
    if (node == NULL) {
        return KX_JSON_EMISSING;
    }

    if (node->type != KX_JSON_BOOL) {
        return KX_JSON_ETYPE;
    }

    *out = node->b;

    return KX_JSON_OK;
}


int
kx_json_int64(const kx_json_node_t *node, int64_t *out)
{
    int          neg;
    size_t       i;
    uint64_t     v, lim, d;
    const char  *p;

    if (node == NULL) {
        return KX_JSON_EMISSING;
    }

    if (node->type != KX_JSON_NUMBER) {
        return KX_JSON_ETYPE;
    }

    /* the lexer has checked the grammar: only "-" and digits remain */
    p = node->u.s.p;
    neg = (p[0] == '-');
    lim = neg ? (uint64_t) INT64_MAX + 1 : (uint64_t) INT64_MAX;
    v = 0;

    for (i = neg; i < node->u.s.len; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return KX_JSON_ETYPE;       /* "1.5" or "1e3": not an integer */
        }

        d = (uint64_t) (p[i] - '0');

        if (v > (lim - d) / 10) {
            /* keep scanning: "1e999..." is a type error, not a range one */
            for (i++; i < node->u.s.len; i++) {
                if (p[i] < '0' || p[i] > '9') {
                    return KX_JSON_ETYPE;
                }
            }

            return KX_JSON_ERANGE;
        }

        v = v * 10 + d;
    }

    *out = neg ? (int64_t) (UINT64_C(0) - v) : (int64_t) v;

    return KX_JSON_OK;
}


int
kx_json_dec(const kx_json_node_t *node, unsigned max_places, kx_dec_t *out)
{
    int  rc;

    if (node == NULL) {
        return KX_JSON_EMISSING;
    }

    if (node->type != KX_JSON_NUMBER && node->type != KX_JSON_STRING) {
        return KX_JSON_ETYPE;
    }

    rc = kx_dec_parse_places(node->u.s.p, node->u.s.len, max_places, out);

    switch (rc) {
    case KX_DEC_OK:
        return KX_JSON_OK;
    case KX_DEC_ERANGE:
        return KX_JSON_ERANGE;
    case KX_DEC_EPRECISION:
        return KX_JSON_EPRECISION;
    default:
        return KX_JSON_EVALUE;
    }
}


int
kx_json_get_str(const kx_json_node_t *obj, const char *key, const char **s,
    size_t *len)
{
    const kx_json_node_t  *node;

    node = kx_json_obj_get(obj, key);

    if (node == NULL) {
        return KX_JSON_EMISSING;
    }

    if (node->type != KX_JSON_STRING) {
        return KX_JSON_ETYPE;
    }

    *s = kx_json_str(node, len);

    return KX_JSON_OK;
}


int
kx_json_get_bool(const kx_json_node_t *obj, const char *key, int *out)
{
    return kx_json_bool(kx_json_obj_get(obj, key), out);
}


int
kx_json_get_int64(const kx_json_node_t *obj, const char *key, int64_t *out)
{
    return kx_json_int64(kx_json_obj_get(obj, key), out);
}


int
kx_json_get_dec(const kx_json_node_t *obj, const char *key,
    unsigned max_places, kx_dec_t *out)
{
    return kx_json_dec(kx_json_obj_get(obj, key), max_places, out);
}


const char *
kx_json_strerror(int rc)
{
    switch (rc) {
    case KX_JSON_OK:
        return "ok";
    case KX_JSON_EMISSING:
        return "is required";
    case KX_JSON_ETYPE:
        return "has the wrong type";
    case KX_JSON_EVALUE:
        return "is not a valid value";
    case KX_JSON_ERANGE:
        return "is out of range";
    case KX_JSON_EPRECISION:
        return "has too many decimal places";
    default:
        return "is invalid";
    }
}
