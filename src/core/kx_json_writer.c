
/*
 * Copyright (C) Kianax
 */


#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kx_utf8.h"
#include "kx_json.h"


#define KX_JW_MIN_CAP  256

#define kx_jw_bit(a, i)      ((a)[(i) >> 3] & (1u << ((i) & 7)))
#define kx_jw_bit_set(a, i)                                                   \
    ((a)[(i) >> 3] |= (unsigned char) (1u << ((i) & 7)))
#define kx_jw_bit_clr(a, i)                                                   \
    ((a)[(i) >> 3] &= (unsigned char) ~(1u << ((i) & 7)))


static size_t kx_json_plain_end(const unsigned char *p, size_t i,
    size_t len);
static size_t kx_json_escape_to(char *dst, const char *s, size_t len);
static int kx_jw_reserve(kx_jw_t *w, size_t n);
static void kx_jw_append(kx_jw_t *w, const char *s, size_t n);
static int kx_jw_value(kx_jw_t *w);
static void kx_jw_begin(kx_jw_t *w, int obj);
static void kx_jw_end(kx_jw_t *w, int obj);
static void kx_jw_quoted(kx_jw_t *w, const char *s, size_t len);


void
kx_jw_init(kx_jw_t *w)
{
    memset(w, 0, sizeof(kx_jw_t));
}


void
kx_jw_reset(kx_jw_t *w)
{
    char    *buf;
    size_t   cap;

    buf = w->buf;
    cap = w->cap;

    memset(w, 0, sizeof(kx_jw_t));

    w->buf = buf;
    w->cap = cap;
}


void
kx_jw_free(kx_jw_t *w)
{
    free(w->buf);
    memset(w, 0, sizeof(kx_jw_t));
}


int
kx_jw_finish(kx_jw_t *w, const char **out, size_t *len)
{
    if (w->err == KX_JW_OK && (w->depth != 0 || !w->done)) {
        w->err = KX_JW_ESTATE;
    }

    if (w->err != KX_JW_OK) {
        return w->err;
    }

    /* every append reserves one byte more than it uses */
    w->buf[w->len] = '\0';

    *out = w->buf;
    *len = w->len;

    return KX_JW_OK;
}


void
kx_jw_obj_begin(kx_jw_t *w)
{
    kx_jw_begin(w, 1);
}


void
kx_jw_obj_end(kx_jw_t *w)
{
    kx_jw_end(w, 1);
}


void
kx_jw_arr_begin(kx_jw_t *w)
{
    kx_jw_begin(w, 0);
}


void
kx_jw_arr_end(kx_jw_t *w)
{
    kx_jw_end(w, 0);
}


void
kx_jw_key(kx_jw_t *w, const char *key)
{
    kx_jw_keyn(w, key, key ? strlen(key) : 0);
}


void
kx_jw_keyn(kx_jw_t *w, const char *key, size_t len)
{
    unsigned  top;

    if (w->err) {
        return;
    }

    if (w->depth == 0 || key == NULL || w->after_key
        || !kx_jw_bit(w->is_obj, w->depth - 1))
    {
        w->err = KX_JW_ESTATE;
        return;
    }

    top = w->depth - 1;

    if (kx_jw_bit(w->has_item, top)) {
        kx_jw_append(w, ",", 1);
    }

    kx_jw_bit_set(w->has_item, top);

    kx_jw_quoted(w, key, len);
    kx_jw_append(w, ":", 1);

    w->after_key = 1;
}


void
kx_jw_str(kx_jw_t *w, const char *s)
{
    if (s == NULL) {
        kx_jw_null(w);
        return;
    }

    kx_jw_strn(w, s, strlen(s));
}


void
kx_jw_strn(kx_jw_t *w, const char *s, size_t len)
{
    if (kx_jw_value(w)) {
        kx_jw_quoted(w, s, len);
    }
}


void
kx_jw_int(kx_jw_t *w, int64_t v)
{
    int   n;
    char  tmp[24];

    if (kx_jw_value(w)) {
        n = snprintf(tmp, sizeof(tmp), "%" PRId64, v);
        kx_jw_append(w, tmp, (size_t) n);
    }
}


void
kx_jw_num_raw(kx_jw_t *w, const char *s, size_t len)
{
    if (w->err) {
        return;
    }

    /* our decimal grammar is exactly JSON's number grammar */
    if (kx_dec_check_syntax(s, len) != KX_DEC_OK) {
        w->err = KX_JW_EVALUE;
        return;
    }

    if (kx_jw_value(w)) {
        kx_jw_append(w, s, len);
    }
}


/*
 * The whole text of another writer's finished value, as one value here:
 * a part built apart (a transaction's events) joins the document without
 * being parsed and written again.  The other writer's error, or a value
 * not yet finished, sticks here.
 */
void
kx_jw_splice(kx_jw_t *w, kx_jw_t *part)
{
    size_t       len;
    const char  *s;
    int          rc;

    if (w->err) {
        return;
    }

    rc = kx_jw_finish(part, &s, &len);
    if (rc != KX_JW_OK) {
        w->err = rc;
        return;
    }

    if (kx_jw_value(w)) {
        kx_jw_append(w, s, len);
    }
}


void
kx_jw_dec(kx_jw_t *w, kx_dec_t d, unsigned places)
{
    size_t  n;
    char    tmp[KX_DEC_FMT_MAX];

    if (kx_jw_value(w)) {
        n = kx_dec_format(d, places, tmp, sizeof(tmp));
        kx_jw_append(w, tmp, n);
    }
}


void
kx_jw_dec_min(kx_jw_t *w, kx_dec_t d)
{
    size_t  n;
    char    tmp[KX_DEC_FMT_MAX];

    if (kx_jw_value(w)) {
        n = kx_dec_format_min(d, tmp, sizeof(tmp));
        kx_jw_append(w, tmp, n);
    }
}


void
kx_jw_dec_str(kx_jw_t *w, kx_dec_t d, unsigned places)
{
    size_t  n;
    char    tmp[KX_DEC_FMT_MAX + 2];

    if (kx_jw_value(w)) {
        tmp[0] = '"';
        n = kx_dec_format(d, places, tmp + 1, sizeof(tmp) - 2);
        tmp[n + 1] = '"';
        kx_jw_append(w, tmp, n + 2);
    }
}


void
kx_jw_bool(kx_jw_t *w, int b)
{
    if (kx_jw_value(w)) {
        kx_jw_append(w, b ? "true" : "false", b ? 4 : 5);
    }
}


void
kx_jw_null(kx_jw_t *w)
{
    if (kx_jw_value(w)) {
        kx_jw_append(w, "null", 4);
    }
}


/*
 * Recursion is bounded: kx_jw_begin() stops at KX_JW_MAX_DEPTH and
 * every call returns at once once an error is set.
 */

void
kx_jw_node(kx_jw_t *w, const kx_json_node_t *node)
{
    int                    b;
    size_t                 i, n, len;
    const char            *s, *key;
    const kx_json_node_t  *c;

    if (w->err) {
        return;
    }

    switch (kx_json_type(node)) {

    case KX_JSON_NULL:
        kx_jw_null(w);
        break;

    case KX_JSON_BOOL:
        b = 0;
        (void) kx_json_bool(node, &b);
        kx_jw_bool(w, b);
        break;

    case KX_JSON_NUMBER:
        s = kx_json_num_raw(node, &len);
        kx_jw_num_raw(w, s, len);
        break;

    case KX_JSON_STRING:
        s = kx_json_str(node, &len);
        kx_jw_strn(w, s, len);
        break;

    case KX_JSON_ARRAY:
        kx_jw_arr_begin(w);
        n = kx_json_arr_len(node);

        for (i = 0; i < n && w->err == KX_JW_OK; i++) {
            kx_jw_node(w, kx_json_arr_at(node, i));
        }

        kx_jw_arr_end(w);
        break;

    case KX_JSON_OBJECT:
        kx_jw_obj_begin(w);
        n = kx_json_obj_len(node);

        for (i = 0; i < n && w->err == KX_JW_OK; i++) {
            c = kx_json_obj_at(node, i, &key, &len);
            kx_jw_keyn(w, key, len);
            kx_jw_node(w, c);
        }

        kx_jw_obj_end(w);
        break;

    default:
        w->err = KX_JW_ESTATE;
        break;
    }
}


size_t
kx_json_escape(char *dst, size_t size, const char *s, size_t len)
{
    size_t  n;

    n = kx_json_escape_to(NULL, s, len);

    if (n < size) {
        kx_json_escape_to(dst, s, len);
        dst[n] = '\0';

    } else if (size) {
        dst[0] = '\0';
    }

    return n;
}


/*
 * Bytes a JSON string carries as they are: printable ASCII but '"' and
 * '\\' (one bit each, as ngx_escape_uri's tables).
 */

static const uint32_t  kx_json_plain[] = {
    0x00000000,     /* 0x00-0x1f: control characters */
    0xfffffffb,     /* 0x20-0x3f: all but '"' (0x22) */
    0xefffffff,     /* 0x40-0x5f: all but '\\' (0x5c) */
    0xffffffff,     /* 0x60-0x7f */
    0x00000000,     /* 0x80-0xff: UTF-8, checked one sequence at a time */
    0x00000000,
    0x00000000,
    0x00000000
};


/* where the run of plain bytes that starts at i ends */

static size_t
kx_json_plain_end(const unsigned char *p, size_t i, size_t len)
{
    while (i < len && (kx_json_plain[p[i] >> 5] & (1u << (p[i] & 0x1f)))) {
        i++;
    }

    return i;
}


/*
 * One routine both measures (dst == NULL) and writes, so the length
 * reserved can never disagree with the bytes written.
 */

static size_t
kx_json_escape_to(char *dst, const char *s, size_t len)
{
    int                   k;
    size_t                i, n, run;
    uint32_t              cp;
    unsigned char         c;
    const char           *e;
    const unsigned char  *p;
    char                  esc[6];

    static const char     hex[] = "0123456789abcdef";

    p = (const unsigned char *) s;
    n = 0;
    i = 0;

    while (i < len) {

        run = kx_json_plain_end(p, i, len);

        if (run > i) {
            if (dst) {
                memcpy(dst + n, s + i, run - i);
            }

            n += run - i;
            i = run;
            continue;
        }

        c = p[i];

        if (c >= 0x80) {
            k = kx_utf8_next(p + i, len - i, &cp);

            if (k > 0) {
                e = s + i;
                i += k;

            } else {
                /* skip the maximal ill-formed subpart, as Unicode advises */
                e = "\xef\xbf\xbd";     /* U+FFFD */
                i += (size_t) -k;
                k = 3;
            }

        } else {
            esc[0] = '\\';
            k = 2;

            switch (c) {
            case '"':  esc[1] = '"'; break;
            case '\\': esc[1] = '\\'; break;
            case '\b': esc[1] = 'b'; break;
            case '\f': esc[1] = 'f'; break;
            case '\n': esc[1] = 'n'; break;
            case '\r': esc[1] = 'r'; break;
            case '\t': esc[1] = 't'; break;
            default:
                esc[1] = 'u';
                esc[2] = '0';
                esc[3] = '0';
                esc[4] = hex[c >> 4];
                esc[5] = hex[c & 0xf];
                k = 6;
            }

            e = esc;
            i++;
        }

        if (dst) {
            memcpy(dst + n, e, (size_t) k);
        }

        n += (size_t) k;
    }

    return n;
}


static int
kx_jw_reserve(kx_jw_t *w, size_t n)
{
    char    *buf;
    size_t   cap;

    if (w->err) {
        return 0;
    }

    if (n < w->cap - w->len) {
        return 1;                       /* room for n and a NUL */
    }

    if (n > SIZE_MAX / 4 - w->len) {
        w->err = KX_JW_ENOMEM;
        return 0;
    }

    cap = w->cap ? w->cap : KX_JW_MIN_CAP;

    while (cap <= w->len + n) {
        cap *= 2;
    }

    buf = realloc(w->buf, cap);
    if (buf == NULL) {
        w->err = KX_JW_ENOMEM;
        return 0;
    }

    w->buf = buf;
    w->cap = cap;

    return 1;
}


static void
kx_jw_append(kx_jw_t *w, const char *s, size_t n)
{
    if (kx_jw_reserve(w, n)) {
        memcpy(w->buf + w->len, s, n);
        w->len += n;
    }
}


/* places a value: a comma in arrays, nothing after a key, once at top */

static int
kx_jw_value(kx_jw_t *w)
{
    unsigned  top;

    if (w->err) {
        return 0;
    }

    if (w->depth == 0) {
        if (w->done) {
            w->err = KX_JW_ESTATE;
            return 0;
        }

        w->done = 1;
        return 1;
    }

    top = w->depth - 1;

    if (kx_jw_bit(w->is_obj, top)) {
        if (!w->after_key) {
            w->err = KX_JW_ESTATE;
            return 0;
        }

        w->after_key = 0;
        return 1;
    }

    if (kx_jw_bit(w->has_item, top)) {
        kx_jw_append(w, ",", 1);
    }

    kx_jw_bit_set(w->has_item, top);

    return w->err == KX_JW_OK;
}


static void
kx_jw_begin(kx_jw_t *w, int obj)
{
    if (!kx_jw_value(w)) {
        return;
    }

    if (w->depth >= KX_JW_MAX_DEPTH) {
        w->err = KX_JW_ESTATE;
        return;
    }

    if (obj) {
        kx_jw_bit_set(w->is_obj, w->depth);

    } else {
        kx_jw_bit_clr(w->is_obj, w->depth);
    }

    kx_jw_bit_clr(w->has_item, w->depth);
    w->depth++;

    kx_jw_append(w, obj ? "{" : "[", 1);
}


static void
kx_jw_end(kx_jw_t *w, int obj)
{
    if (w->err) {
        return;
    }

    if (w->depth == 0 || w->after_key
        || !kx_jw_bit(w->is_obj, w->depth - 1) != !obj)
    {
        w->err = KX_JW_ESTATE;
        return;
    }

    w->depth--;

    kx_jw_append(w, obj ? "}" : "]", 1);
}


static void
kx_jw_quoted(kx_jw_t *w, const char *s, size_t len)
{
    size_t  n;

    /* most strings need no escaping: one scan and one copy */

    if (kx_json_plain_end((const unsigned char *) s, 0, len) == len) {
        if (kx_jw_reserve(w, len + 2)) {
            w->buf[w->len++] = '"';
            memcpy(w->buf + w->len, s, len);
            w->len += len;
            w->buf[w->len++] = '"';
        }

        return;
    }

    n = kx_json_escape_to(NULL, s, len);

    if (kx_jw_reserve(w, n + 2)) {
        w->buf[w->len++] = '"';
        kx_json_escape_to(w->buf + w->len, s, len);
        w->len += n;
        w->buf[w->len++] = '"';
    }
}
