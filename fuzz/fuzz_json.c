
/*
 * Copyright (C) Kianax
 */


/*
 * Arbitrary bytes through the JSON reader and writer.  Whatever parses
 * must serialise, re-parse to an equal tree and serialise to the same
 * bytes again; whatever bytes the writer is given as a string must come
 * out as JSON that parses.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/kx_error.h"
#include "core/kx_json.h"
#include "core/kx_utf8.h"

#include "fuzz_check.h"


static int
node_equal(const kx_json_node_t *a, const kx_json_node_t *b)
{
    int          x, y;
    size_t       i, n, la, lb, ka, kb;
    const char  *sa, *sb, *keya, *keyb;

    if (kx_json_type(a) != kx_json_type(b)) {
        return 0;
    }

    switch (kx_json_type(a)) {

    case KX_JSON_BOOL:
        check(kx_json_bool(a, &x) == KX_JSON_OK);
        check(kx_json_bool(b, &y) == KX_JSON_OK);
        return x == y;

    case KX_JSON_NUMBER:
        sa = kx_json_num_raw(a, &la);
        sb = kx_json_num_raw(b, &lb);
        return la == lb && memcmp(sa, sb, la) == 0;

    case KX_JSON_STRING:
        sa = kx_json_str(a, &la);
        sb = kx_json_str(b, &lb);
        return la == lb && memcmp(sa, sb, la) == 0;

    case KX_JSON_ARRAY:
        n = kx_json_arr_len(a);
        if (n != kx_json_arr_len(b)) {
            return 0;
        }

        for (i = 0; i < n; i++) {
            if (!node_equal(kx_json_arr_at(a, i), kx_json_arr_at(b, i))) {
                return 0;
            }
        }

        return 1;

    case KX_JSON_OBJECT:
        n = kx_json_obj_len(a);
        if (n != kx_json_obj_len(b)) {
            return 0;
        }

        for (i = 0; i < n; i++) {
            if (!node_equal(kx_json_obj_at(a, i, &keya, &ka),
                            kx_json_obj_at(b, i, &keyb, &kb))
                || ka != kb || memcmp(keya, keyb, ka) != 0)
            {
                return 0;
            }
        }

        return 1;

    default:
        return 1;
    }
}


/* the accessors agree with each other on every node */

static void
node_walk(const kx_json_node_t *node)
{
    size_t                 i, n, klen, len;
    int64_t                iv;
    kx_dec_t               d;
    const char            *key, *s;
    const kx_json_node_t  *c;

    switch (kx_json_type(node)) {

    case KX_JSON_OBJECT:
        n = kx_json_obj_len(node);

        for (i = 0; i < n; i++) {
            c = kx_json_obj_at(node, i, &key, &klen);
            check(c != NULL && key != NULL && key[klen] == '\0');
            check(kx_json_obj_getn(node, key, klen) == c);
            check(kx_utf8_validate(key, klen) == klen);
            node_walk(c);
        }

        check(kx_json_obj_at(node, n, &key, &klen) == NULL);
        break;

    case KX_JSON_ARRAY:
        n = kx_json_arr_len(node);

        for (i = 0; i < n; i++) {
            node_walk(kx_json_arr_at(node, i));
        }

        check(kx_json_arr_at(node, n) == NULL);
        break;

    case KX_JSON_STRING:
        s = kx_json_str(node, &len);
        check(s != NULL && s[len] == '\0');
        check(kx_utf8_validate(s, len) == len);
        (void) kx_json_dec(node, 8, &d);
        break;

    case KX_JSON_NUMBER:
        s = kx_json_num_raw(node, &len);
        check(kx_dec_check_syntax(s, len) == KX_DEC_OK);

        if (kx_json_int64(node, &iv) == KX_JSON_OK
            && kx_json_dec(node, 8, &d) == KX_JSON_OK)
        {
            check(d.v / KX_DEC_ONE == iv && d.v % KX_DEC_ONE == 0);
        }

        break;

    default:
        break;
    }
}


static void
check_parse(const uint8_t *data, size_t size)
{
    int                rc;
    size_t             len1, len2;
    kx_jw_t            w1, w2;
    const char        *out1, *out2;
    kx_json_doc_t     *doc, *doc2;
    kx_json_perr_t     err;
    kx_json_limits_t   lim = { 64 * 1024, 16, 4000 };

    rc = kx_json_parse((const char *) data, size, &lim, &doc, &err);

    if (rc != KX_JSON_PE_OK) {
        check(doc == NULL && (int) err.code == rc && err.msg[0] != '\0');
        check(err.offset <= size);
        return;
    }

    check(kx_utf8_validate((const char *) data, size) == size);
    node_walk(kx_json_root(doc));

    kx_jw_init(&w1);
    kx_jw_node(&w1, kx_json_root(doc));
    check(kx_jw_finish(&w1, &out1, &len1) == KX_JW_OK);

    /* minified, and escapes never grow: the limits still hold */
    check(len1 <= size);

    rc = kx_json_parse(out1, len1, &lim, &doc2, &err);
    if (rc != KX_JSON_PE_OK) {
        fprintf(stderr, "re-parse failed: %s: %s\n%.*s\n",
                kx_json_perr_name(err.code), err.msg, (int) len1, out1);
        abort();
    }

    check(node_equal(kx_json_root(doc), kx_json_root(doc2)));

    kx_jw_init(&w2);
    kx_jw_node(&w2, kx_json_root(doc2));
    check(kx_jw_finish(&w2, &out2, &len2) == KX_JW_OK);
    check(len1 == len2 && memcmp(out1, out2, len1) == 0);

    kx_jw_free(&w1);
    kx_jw_free(&w2);
    kx_json_free(doc);
    kx_json_free(doc2);
}


static void
check_escape(const uint8_t *data, size_t size)
{
    int                rc;
    char              *msg, *buf;
    size_t             len, slen, n;
    kx_jw_t            w;
    const char        *out, *s;
    kx_json_doc_t     *doc;
    kx_json_limits_t   lim = { 16 * 1024 * 1024, 4, 16 };

    kx_jw_init(&w);
    kx_jw_arr_begin(&w);
    kx_jw_strn(&w, (const char *) data, size);
    kx_jw_arr_end(&w);
    check(kx_jw_finish(&w, &out, &len) == KX_JW_OK);
    check(kx_json_escape(NULL, 0, (const char *) data, size) == len - 4);

    rc = kx_json_parse(out, len, &lim, &doc, NULL);
    check(rc == KX_JSON_PE_OK);

    s = kx_json_str(kx_json_arr_at(kx_json_root(doc), 0), &slen);
    check(s != NULL);

    if (kx_utf8_validate((const char *) data, size) == size) {
        check(slen == size && memcmp(s, data, size) == 0);
    }

    kx_json_free(doc);
    kx_jw_free(&w);

    /* the error document, from a NUL-terminated message */
    msg = malloc(size + 1);
    check(msg != NULL);
    memcpy(msg, data, size);
    msg[size] = '\0';

    n = kx_error_json(NULL, 0, "validation_failed", msg);
    buf = malloc(n + 1);
    check(buf != NULL);
    check(kx_error_json(buf, n + 1, "validation_failed", msg) == n);
    check(strlen(buf) == n);
    check(kx_json_parse(buf, n, &lim, &doc, NULL) == KX_JSON_PE_OK);

    kx_json_free(doc);
    free(buf);
    free(msg);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_parse(data, size);
    check_escape(data, size);

    return 0;
}
