
/*
 * Copyright (C) Kianax
 */


#include <stdlib.h>
#include <string.h>

#include "core/kx_json.h"

#include "kx_tap.h"


#define S(lit)  lit, sizeof(lit) - 1


static kx_json_doc_t *
parse_ok(const char *buf, size_t len, const char *name)
{
    int              rc;
    kx_json_doc_t   *doc;
    kx_json_perr_t   err;

    rc = kx_json_parse(buf, len, NULL, &doc, &err);

    if (!ok(rc == KX_JSON_PE_OK && doc != NULL, "parses: %s", name)) {
        diag("  error %s at %zu: %s", kx_json_perr_name(err.code),
             err.offset, err.msg);
    }

    return doc;
}


static void
parse_fails(const char *buf, size_t len, const kx_json_limits_t *lim,
    kx_json_perr_e want, const char *name)
{
    int              rc;
    kx_json_doc_t   *doc;
    kx_json_perr_t   err;

    doc = (kx_json_doc_t *) &rc;        /* must come back NULL */
    rc = kx_json_parse(buf, len, lim, &doc, &err);

    if (!ok(rc == (int) want && err.code == want && doc == NULL
            && err.msg[0] != '\0' && err.offset <= len,
            "rejects %s: %s", kx_json_perr_name(want), name))
    {
        diag("  got %s (%d) at %zu: %s", kx_json_perr_name(err.code), rc,
             err.offset, err.msg);
    }

    if (rc == KX_JSON_PE_OK) {
        kx_json_free(doc);
    }
}


/* a string of n '[' then n ']' */

static char *
nested(unsigned n, size_t *len)
{
    char  *s;

    s = malloc(2 * n + 1);
    if (s == NULL) {
        exit(2);
    }

    memset(s, '[', n);
    memset(s + n, ']', n);
    s[2 * n] = '\0';
    *len = 2 * n;

    return s;
}


static void
write_is(kx_jw_t *w, const char *want, size_t want_len, const char *name)
{
    int          rc;
    size_t       len;
    const char  *out;

    out = NULL;
    len = 0;
    rc = kx_jw_finish(w, &out, &len);

    if (!ok(rc == KX_JW_OK, "writer finishes: %s", name)) {
        diag("  writer error %d", rc);
        return;
    }

    is_mem(out, len, want, want_len, name);
    ok(out[len] == '\0', "writer output is NUL-terminated: %s", name);
}


static void
test_parse_basic(void)
{
    int                    b;
    size_t                 len, klen;
    const char            *s, *key;
    kx_json_doc_t         *doc;
    const kx_json_node_t  *root, *arr, *n;

    doc = parse_ok(S(" {\"a\":1,\"b\":[true,false,null],\"c\":\"x\","
                     "\"d\":{}, \"e\":[]} \n"), "small object");
    root = kx_json_root(doc);

    is_int(kx_json_type(root), KX_JSON_OBJECT, "root is an object");
    is_int((int64_t) kx_json_obj_len(root), 5, "5 members");

    s = kx_json_num_raw(kx_json_obj_get(root, "a"), &len);
    is_mem(s, len, S("1"), "a is the number 1");

    arr = kx_json_obj_get(root, "b");
    is_int((int64_t) kx_json_arr_len(arr), 3, "b has 3 items");
    ok(kx_json_bool(kx_json_arr_at(arr, 0), &b) == KX_JSON_OK && b == 1,
       "b[0] is true");
    ok(kx_json_bool(kx_json_arr_at(arr, 1), &b) == KX_JSON_OK && b == 0,
       "b[1] is false");
    is_int(kx_json_type(kx_json_arr_at(arr, 2)), KX_JSON_NULL,
           "b[2] is null");
    ok(kx_json_arr_at(arr, 3) == NULL, "b[3] is nothing");
    is_int(kx_json_type(kx_json_arr_at(arr, 3)), KX_JSON_NONE,
           "type of nothing is NONE");

    s = kx_json_str(kx_json_obj_get(root, "c"), &len);
    is_mem(s, len, S("x"), "c is \"x\"");
    is_int(kx_json_type(kx_json_obj_get(root, "d")), KX_JSON_OBJECT,
           "d is an object");
    is_int((int64_t) kx_json_obj_len(kx_json_obj_get(root, "d")), 0,
           "d is empty");
    is_int((int64_t) kx_json_arr_len(kx_json_obj_get(root, "e")), 0,
           "e is empty");

    ok(kx_json_obj_get(root, "z") == NULL, "no member z");
    ok(kx_json_obj_get(kx_json_obj_get(root, "z"), "y") == NULL,
       "lookups chain through NULL");
    ok(kx_json_obj_get(arr, "a") == NULL, "an array has no members");
    ok(kx_json_arr_at(root, 0) == NULL, "an object has no items");
    ok(kx_json_str(kx_json_obj_get(root, "a"), &len) == NULL,
       "a number is not a string");
    ok(kx_json_num_raw(kx_json_obj_get(root, "c"), &len) == NULL,
       "a string is not a number");

    /* members iterate in document order */
    n = kx_json_obj_at(root, 0, &key, &klen);
    ok(n && klen == 1 && key[0] == 'a', "member 0 is a");
    n = kx_json_obj_at(root, 4, &key, &klen);
    ok(n && klen == 1 && key[0] == 'e', "member 4 is e");
    ok(kx_json_obj_at(root, 5, &key, &klen) == NULL, "no member 5");

    kx_json_free(doc);
    kx_json_free(NULL);

    doc = parse_ok(S("\"top\""), "a bare string");
    s = kx_json_str(kx_json_root(doc), &len);
    is_mem(s, len, S("top"), "top-level string");
    kx_json_free(doc);

    doc = parse_ok(S(" \t\r\n42 \n"), "a bare number in whitespace");
    s = kx_json_num_raw(kx_json_root(doc), &len);
    is_mem(s, len, S("42"), "top-level number");
    kx_json_free(doc);

    doc = parse_ok(S("null"), "null");
    is_int(kx_json_type(kx_json_root(doc)), KX_JSON_NULL, "top-level null");
    kx_json_free(doc);

    ok(kx_json_root(NULL) == NULL, "root of no document");
    is_str(kx_json_type_name(KX_JSON_STRING), "string", "type name");
}


static void
test_numbers_exact(void)
{
    size_t                 len;
    const char            *s;
    kx_dec_t               d;
    kx_json_doc_t         *doc;
    const kx_json_node_t  *a;

    doc = parse_ok(S("[0.1, 12345678901234567890.12345678, -0, 1e400, "
                     "1E-5, -0.0000000000000000000001, 100]"),
                   "numbers");
    a = kx_json_root(doc);

    s = kx_json_num_raw(kx_json_arr_at(a, 0), &len);
    is_mem(s, len, S("0.1"), "0.1 stays 0.1");
    s = kx_json_num_raw(kx_json_arr_at(a, 1), &len);
    is_mem(s, len, S("12345678901234567890.12345678"), "big number raw");
    s = kx_json_num_raw(kx_json_arr_at(a, 2), &len);
    is_mem(s, len, S("-0"), "-0 raw");
    s = kx_json_num_raw(kx_json_arr_at(a, 3), &len);
    is_mem(s, len, S("1e400"), "1e400 raw (no double overflow)");
    s = kx_json_num_raw(kx_json_arr_at(a, 4), &len);
    is_mem(s, len, S("1E-5"), "1E-5 raw");
    s = kx_json_num_raw(kx_json_arr_at(a, 6), &len);
    is_mem(s, len, S("100"), "last number raw (buffered by the lexer)");

    ok(kx_json_dec(kx_json_arr_at(a, 0), 8, &d) == KX_JSON_OK
       && d.v == 10000000, "0.1 as a decimal is exact");
    is_int(kx_json_dec(kx_json_arr_at(a, 1), 8, &d), KX_JSON_ERANGE,
           "the big number is out of decimal range");
    is_int(kx_json_dec(kx_json_arr_at(a, 3), 8, &d), KX_JSON_ERANGE,
           "1e400 is out of range");
    ok(kx_json_dec(kx_json_arr_at(a, 4), 8, &d) == KX_JSON_OK
       && d.v == 1000, "1E-5 is 1000e-8");
    is_int(kx_json_dec(kx_json_arr_at(a, 5), 8, &d), KX_JSON_EPRECISION,
           "1e-22 has too many places");
    kx_json_free(doc);

    doc = parse_ok(S("100"), "a bare number at the end of input");
    s = kx_json_num_raw(kx_json_root(doc), &len);
    is_mem(s, len, S("100"), "bare 100 raw");
    kx_json_free(doc);
}


static void
test_getters(void)
{
    int                    b;
    size_t                 len;
    int64_t                i;
    kx_dec_t               d;
    const char            *s;
    kx_json_doc_t         *doc;
    const kx_json_node_t  *o;

    doc = parse_ok(S("{\"qty\":10,\"price\":\"187.23\",\"px\":187.235,"
                     "\"name\":\"AAPL\",\"flag\":true,\"nul\":null,"
                     "\"min\":-9223372036854775808,"
                     "\"max\":9223372036854775807,"
                     "\"big\":9223372036854775808,"
                     "\"bigexp\":92233720368547758080e-1,"
                     "\"one\":1.0,\"k\":1e3,\"sq\":\"10\","
                     "\"bad\":\"12,5\",\"neg0\":-0}"),
                   "getter object");
    o = kx_json_root(doc);

    ok(kx_json_get_int64(o, "qty", &i) == KX_JSON_OK && i == 10, "qty = 10");
    ok(kx_json_get_int64(o, "min", &i) == KX_JSON_OK && i == INT64_MIN,
       "INT64_MIN reads");
    ok(kx_json_get_int64(o, "max", &i) == KX_JSON_OK && i == INT64_MAX,
       "INT64_MAX reads");
    ok(kx_json_get_int64(o, "neg0", &i) == KX_JSON_OK && i == 0,
       "-0 reads as 0");
    is_int(kx_json_get_int64(o, "big", &i), KX_JSON_ERANGE,
           "INT64_MAX + 1 is out of range");
    is_int(kx_json_get_int64(o, "bigexp", &i), KX_JSON_ETYPE,
           "an exponent is not an integer, even a big one");
    is_int(kx_json_get_int64(o, "one", &i), KX_JSON_ETYPE,
           "1.0 is not an integer");
    is_int(kx_json_get_int64(o, "k", &i), KX_JSON_ETYPE,
           "1e3 is not an integer");
    is_int(kx_json_get_int64(o, "sq", &i), KX_JSON_ETYPE,
           "a string is not an integer");
    is_int(kx_json_get_int64(o, "nope", &i), KX_JSON_EMISSING,
           "missing integer");

    ok(kx_json_get_dec(o, "price", 2, &d) == KX_JSON_OK
       && d.v == 18723000000, "decimal from a string");
    ok(kx_json_get_dec(o, "px", 3, &d) == KX_JSON_OK
       && d.v == 18723500000, "decimal from a number");
    is_int(kx_json_get_dec(o, "px", 2, &d), KX_JSON_EPRECISION,
           "187.235 to cents is a precision error");
    is_int(kx_json_get_dec(o, "bad", 8, &d), KX_JSON_EVALUE,
           "\"12,5\" is not a decimal");
    is_int(kx_json_get_dec(o, "flag", 8, &d), KX_JSON_ETYPE,
           "a bool is not a decimal");
    is_int(kx_json_get_dec(o, "nul", 8, &d), KX_JSON_ETYPE,
           "null is not a decimal");
    is_int(kx_json_get_dec(o, "nope", 8, &d), KX_JSON_EMISSING,
           "missing decimal");

    ok(kx_json_get_str(o, "name", &s, &len) == KX_JSON_OK
       && len == 4 && memcmp(s, "AAPL", 4) == 0, "name = AAPL");
    is_int(kx_json_get_str(o, "qty", &s, &len), KX_JSON_ETYPE,
           "a number is not a string");
    is_int(kx_json_get_str(o, "nope", &s, &len), KX_JSON_EMISSING,
           "missing string");

    ok(kx_json_get_bool(o, "flag", &b) == KX_JSON_OK && b == 1, "flag");
    is_int(kx_json_get_bool(o, "nul", &b), KX_JSON_ETYPE,
           "null is not a bool");
    is_int(kx_json_get_int64(kx_json_obj_get(o, "name"), "x", &i),
           KX_JSON_EMISSING, "getter on a non-object: missing");

    is_str(kx_json_strerror(KX_JSON_ETYPE), "has the wrong type",
           "strerror");

    kx_json_free(doc);
}


static void
test_strings(void)
{
    size_t                 len;
    const char            *s;
    kx_json_doc_t         *doc;
    const kx_json_node_t  *a, *o;

    doc = parse_ok(S("[\"a\\u0000b\", \"\\u00e9\", \"\\ud83d\\ude00\","
                     "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\", \"\\\\ud800\","
                     "\"\xf0\x9f\x98\x80\", \"\xef\xbf\xbf\","
                     "\"\xf4\x8f\xbf\xbf\", \"\\uDBFF\\uDFFF\", \"\"]"),
                   "escapes");
    a = kx_json_root(doc);

    s = kx_json_str(kx_json_arr_at(a, 0), &len);
    is_mem(s, len, S("a\0b"), "\\u0000 keeps its NUL and length");
    s = kx_json_str(kx_json_arr_at(a, 1), &len);
    is_mem(s, len, S("\xc3\xa9"), "\\u00e9 decodes");
    s = kx_json_str(kx_json_arr_at(a, 2), &len);
    is_mem(s, len, S("\xf0\x9f\x98\x80"), "surrogate pair decodes");
    s = kx_json_str(kx_json_arr_at(a, 3), &len);
    is_mem(s, len, S("\"\\/\b\f\n\r\t"), "short escapes decode");
    s = kx_json_str(kx_json_arr_at(a, 4), &len);
    is_mem(s, len, S("\\ud800"), "an escaped backslash is not an escape");
    s = kx_json_str(kx_json_arr_at(a, 5), &len);
    is_mem(s, len, S("\xf0\x9f\x98\x80"), "raw 4-byte UTF-8");
    s = kx_json_str(kx_json_arr_at(a, 6), &len);
    is_mem(s, len, S("\xef\xbf\xbf"), "U+FFFF is valid");
    s = kx_json_str(kx_json_arr_at(a, 7), &len);
    is_mem(s, len, S("\xf4\x8f\xbf\xbf"), "U+10FFFF is valid");
    s = kx_json_str(kx_json_arr_at(a, 8), &len);
    is_mem(s, len, S("\xf4\x8f\xbf\xbf"), "\\uDBFF\\uDFFF is U+10FFFF");
    s = kx_json_str(kx_json_arr_at(a, 9), &len);
    ok(s != NULL && len == 0 && s[0] == '\0', "empty string");
    kx_json_free(doc);

    /* keys are length-aware too */
    doc = parse_ok(S("{\"a\\u0000b\":1,\"a\\u0000c\":2,\"a\":3,"
                     "\"a\\u0000\":4}"), "keys with NUL");
    o = kx_json_root(doc);
    s = kx_json_num_raw(kx_json_obj_getn(o, "a\0b", 3), &len);
    is_mem(s, len, S("1"), "getn finds a\\0b");
    s = kx_json_num_raw(kx_json_obj_getn(o, "a\0", 2), &len);
    is_mem(s, len, S("4"), "getn finds a\\0");
    s = kx_json_num_raw(kx_json_obj_get(o, "a"), &len);
    is_mem(s, len, S("3"), "get finds a, not a\\0...");
    kx_json_free(doc);
}


static void
test_big_object(void)
{
    int                    i;
    char                   buf[4096], key[16];
    size_t                 n, len;
    const char            *s;
    kx_json_doc_t         *doc;
    const kx_json_node_t  *o;

    n = 0;
    buf[n++] = '{';

    for (i = 0; i < 100; i++) {
        n += (size_t) snprintf(buf + n, sizeof(buf) - n, "%s\"k%d\":%d",
                               i ? "," : "", (i * 37) % 100, i);
    }

    buf[n++] = '}';

    doc = parse_ok(buf, n, "100 keys");
    o = kx_json_root(doc);

    s = kx_json_num_raw(kx_json_obj_get(o, "k0"), &len);
    is_mem(s, len, S("0"), "k0 found by binary search");
    s = kx_json_num_raw(kx_json_obj_get(o, "k37"), &len);
    is_mem(s, len, S("1"), "k37 found");
    s = kx_json_num_raw(kx_json_obj_get(o, "k99"), &len);
    is_mem(s, len, S("27"), "k99 found");          /* 27 * 37 = 999 */
    ok(kx_json_obj_get(o, "k100") == NULL, "k100 absent");
    ok(kx_json_obj_get(o, "k") == NULL, "k absent");
    ok(kx_json_obj_get(o, "") == NULL, "empty key absent");

    kx_json_obj_at(o, 1, &s, &len);
    is_mem(s, len, S("k37"), "iteration stays in document order");

    for (i = 0; i < 100; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        if (kx_json_obj_get(o, key) == NULL) {
            break;
        }
    }

    is_int(i, 100, "all 100 keys found");

    kx_json_free(doc);

    /* the same with one key repeated far apart */
    memcpy(buf + 2, "k5", 2);
    parse_fails(buf, n, NULL, KX_JSON_PE_DUPLICATE_KEY,
                "a repeat in a large object");
}


static void
test_errors(void)
{
    char              *s;
    size_t             len;
    kx_json_perr_t     err;
    kx_json_doc_t     *doc;
    kx_json_limits_t   lim;

    parse_fails(S(""), NULL, KX_JSON_PE_SYNTAX, "empty input");
    parse_fails(S("   "), NULL, KX_JSON_PE_SYNTAX, "only whitespace");
    parse_fails(S("{"), NULL, KX_JSON_PE_SYNTAX, "unclosed object");
    parse_fails(S("[1,]"), NULL, KX_JSON_PE_SYNTAX, "trailing comma");
    parse_fails(S("{\"a\"}"), NULL, KX_JSON_PE_SYNTAX, "key without value");
    parse_fails(S("{a:1}"), NULL, KX_JSON_PE_SYNTAX, "bare key");
    parse_fails(S("[1] [2]"), NULL, KX_JSON_PE_SYNTAX, "two values");
    parse_fails(S("{} x"), NULL, KX_JSON_PE_SYNTAX, "trailing garbage");
    parse_fails(S("{\"a\":1}\""), NULL, KX_JSON_PE_SYNTAX,
                "trailing open string");
    parse_fails(S("[1]\"xx"), NULL, KX_JSON_PE_SYNTAX,
                "trailing open string with text");
    parse_fails(S("{\f\"a\":1\v}"), NULL, KX_JSON_PE_SYNTAX,
                "form feed and vertical tab are not whitespace");
    parse_fails(S("\"a\\\""), NULL, KX_JSON_PE_SYNTAX,
                "a string whose last quote is escaped");
    parse_fails(S("1 2"), NULL, KX_JSON_PE_SYNTAX, "two numbers");
    parse_fails(S("01"), NULL, KX_JSON_PE_SYNTAX, "leading zero");
    parse_fails(S("[.5]"), NULL, KX_JSON_PE_SYNTAX, "no leading digit");
    parse_fails(S("[1.]"), NULL, KX_JSON_PE_SYNTAX, "no fraction digits");
    parse_fails(S("[1e]"), NULL, KX_JSON_PE_SYNTAX, "no exponent digits");
    parse_fails(S("NaN"), NULL, KX_JSON_PE_SYNTAX, "NaN");
    parse_fails(S("[Infinity]"), NULL, KX_JSON_PE_SYNTAX, "Infinity");
    parse_fails(S("// c\n1"), NULL, KX_JSON_PE_SYNTAX, "a comment");
    parse_fails(S("[1]/*c*/"), NULL, KX_JSON_PE_SYNTAX, "a block comment");
    parse_fails(S("'a'"), NULL, KX_JSON_PE_SYNTAX, "single quotes");
    parse_fails(S("\"a\tb\""), NULL, KX_JSON_PE_SYNTAX, "raw tab in string");
    parse_fails(S("\"a\0b\""), NULL, KX_JSON_PE_SYNTAX, "raw NUL in string");
    parse_fails(S("[1]\0"), NULL, KX_JSON_PE_SYNTAX, "NUL after the value");
    parse_fails(S("tru"), NULL, KX_JSON_PE_SYNTAX, "truncated literal");
    parse_fails(S("\"\\x41\""), NULL, KX_JSON_PE_SYNTAX, "bad escape");
    parse_fails(S("\"\\u12\""), NULL, KX_JSON_PE_SYNTAX, "short \\u");
    parse_fails(S("\"abc"), NULL, KX_JSON_PE_SYNTAX, "unterminated string");

    memset(&err, 0, sizeof(err));
    kx_json_parse(S("[1,,2]"), NULL, &doc, &err);
    len = strlen(err.msg);
    ok(len > 0 && err.msg[len - 1] != '\n', "syntax message has no newline");
    diag("syntax message: %s", err.msg);

    ok(kx_json_parse(S("[x]"), NULL, &doc, NULL) == KX_JSON_PE_SYNTAX,
       "err may be NULL");

    /* depth: "[]" is 1; the limit itself is allowed */
    s = nested(32, &len);
    doc = parse_ok(s, len, "depth 32 with the default limit");
    kx_json_free(doc);
    free(s);

    s = nested(33, &len);
    parse_fails(s, len, NULL, KX_JSON_PE_TOO_DEEP, "depth 33");
    free(s);

    s = nested(100000, &len);
    lim.max_size = 0;
    lim.max_depth = 0;
    lim.max_nodes = 0;
    parse_fails(s, len, &lim, KX_JSON_PE_TOO_DEEP,
                "depth 100000 (zero limits mean defaults)");
    free(s);

    lim.max_size = 1000;
    lim.max_depth = 3;
    lim.max_nodes = 1000;
    doc = NULL;
    ok(kx_json_parse(S("{\"a\":[{}]}"), &lim, &doc, NULL) == KX_JSON_PE_OK,
       "mixed depth 3 with limit 3");
    kx_json_free(doc);
    parse_fails(S("{\"a\":[{\"b\":[]}]}"), &lim, KX_JSON_PE_TOO_DEEP,
                "mixed depth 4 with limit 3");
    ok(kx_json_parse(S("1"), &lim, &doc, NULL) == KX_JSON_PE_OK,
       "a scalar is depth 0");
    kx_json_free(doc);

    /* size */
    lim.max_size = 10;
    lim.max_depth = 32;
    ok(kx_json_parse(S("[1,2,3,40]"), &lim, &doc, NULL) == KX_JSON_PE_OK,
       "10 bytes with max_size 10");
    kx_json_free(doc);
    parse_fails(S("[1,2,3,400]"), &lim, KX_JSON_PE_TOO_LARGE,
                "11 bytes with max_size 10");
    parse_fails(S("\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"), &lim,
                KX_JSON_PE_TOO_LARGE, "size is checked first");

    /* nodes: every value, containers included */
    lim.max_size = 1000;
    lim.max_nodes = 4;
    ok(kx_json_parse(S("[1,2,3]"), &lim, &doc, NULL) == KX_JSON_PE_OK,
       "4 nodes with max_nodes 4");
    kx_json_free(doc);
    ok(kx_json_parse(S("{\"a\":1,\"b\":2,\"c\":[]}"), &lim, &doc, NULL)
       == KX_JSON_PE_OK, "keys are not nodes");
    kx_json_free(doc);
    parse_fails(S("[1,2,3,4]"), &lim, KX_JSON_PE_TOO_MANY_NODES,
                "5 nodes with max_nodes 4");
    parse_fails(S("[[[[[]]]]]"), &lim, KX_JSON_PE_TOO_MANY_NODES,
                "5 nested nodes with max_nodes 4");

    is_str(kx_json_perr_name(KX_JSON_PE_TOO_MANY_NODES), "too_many_nodes",
           "perr name");
}


static void
test_utf8(void)
{
    kx_json_perr_t   err;
    kx_json_doc_t   *doc;

    parse_fails(S("\"\xc0\xaf\""), NULL, KX_JSON_PE_BAD_UTF8,
                "overlong 2-byte /");
    parse_fails(S("\"\xc1\xbf\""), NULL, KX_JSON_PE_BAD_UTF8,
                "overlong 2-byte C1");
    parse_fails(S("\"\xe0\x80\xaf\""), NULL, KX_JSON_PE_BAD_UTF8,
                "overlong 3-byte");
    parse_fails(S("\"\xf0\x80\x80\xaf\""), NULL, KX_JSON_PE_BAD_UTF8,
                "overlong 4-byte");
    parse_fails(S("\"\xed\xa0\x80\""), NULL, KX_JSON_PE_BAD_UTF8,
                "raw high surrogate");
    parse_fails(S("\"\xed\xbf\xbf\""), NULL, KX_JSON_PE_BAD_UTF8,
                "raw low surrogate");
    parse_fails(S("\"\xed\xa0\xbd\xed\xb8\x80\""), NULL, KX_JSON_PE_BAD_UTF8,
                "CESU-8 surrogate pair");
    parse_fails(S("\"\xf4\x90\x80\x80\""), NULL, KX_JSON_PE_BAD_UTF8,
                "above U+10FFFF");
    parse_fails(S("\"\xf5\x80\x80\x80\""), NULL, KX_JSON_PE_BAD_UTF8,
                "F5 lead byte");
    parse_fails(S("\"\xe2\x82\""), NULL, KX_JSON_PE_BAD_UTF8,
                "truncated 3-byte sequence");
    parse_fails(S("\"\xf0\x9f\x98\""), NULL, KX_JSON_PE_BAD_UTF8,
                "truncated 4-byte sequence");
    parse_fails(S("\"\xe2\x82"), NULL, KX_JSON_PE_BAD_UTF8,
                "truncated at the end of input");
    parse_fails(S("\"\x80\""), NULL, KX_JSON_PE_BAD_UTF8,
                "lone continuation byte");
    parse_fails(S("\"\xff\""), NULL, KX_JSON_PE_BAD_UTF8, "FF byte");
    parse_fails(S("{\"\xc0\xaf\":1}"), NULL, KX_JSON_PE_BAD_UTF8,
                "bad UTF-8 in a key");
    parse_fails(S("[1]\xff"), NULL, KX_JSON_PE_BAD_UTF8,
                "bad UTF-8 outside strings");

    parse_fails(S("\"\\ud800\""), NULL, KX_JSON_PE_BAD_UTF8,
                "lone high surrogate escape");
    parse_fails(S("\"\\udc00\""), NULL, KX_JSON_PE_BAD_UTF8,
                "lone low surrogate escape");
    parse_fails(S("\"\\ud800\\u0041\""), NULL, KX_JSON_PE_BAD_UTF8,
                "high surrogate then not a low one");
    parse_fails(S("\"\\ud800\\ud800\""), NULL, KX_JSON_PE_BAD_UTF8,
                "two high surrogates");
    parse_fails(S("\"\\ud800x\""), NULL, KX_JSON_PE_BAD_UTF8,
                "high surrogate then a letter");
    parse_fails(S("\"\\uDFFF\\uD800\""), NULL, KX_JSON_PE_BAD_UTF8,
                "surrogates in the wrong order");
    parse_fails(S("{\"\\ud800\":1}"), NULL, KX_JSON_PE_BAD_UTF8,
                "lone surrogate escape in a key");

    kx_json_parse(S("[\"ab\xff\"]"), NULL, &doc, &err);
    is_int((int64_t) err.offset, 4, "bad UTF-8 offset is exact");
}


static void
test_duplicates(void)
{
    kx_json_perr_t   err;
    kx_json_doc_t   *doc;

    parse_fails(S("{\"a\":1,\"a\":2}"), NULL, KX_JSON_PE_DUPLICATE_KEY,
                "a repeated key");
    parse_fails(S("{\"qty\":1,\"x\":2,\"qty\":1}"), NULL,
                KX_JSON_PE_DUPLICATE_KEY, "a repeated key, same value");
    parse_fails(S("{\"x\":{\"a\":1,\"a\":1}}"), NULL,
                KX_JSON_PE_DUPLICATE_KEY, "a repeated key, nested");
    parse_fails(S("{\"\\u0061\":1,\"a\":2}"), NULL,
                KX_JSON_PE_DUPLICATE_KEY, "a repeat spelt with an escape");

    doc = parse_ok(S("[{\"a\":1},{\"a\":2}]"), "same key in two objects");
    kx_json_free(doc);
    doc = parse_ok(S("{\"a\":{\"a\":1}}"), "same key at two levels");
    kx_json_free(doc);

    kx_json_parse(S("{\"qty\":1,\"qty\":2}"), NULL, &doc, &err);
    ok(strstr(err.msg, "\"qty\"") != NULL, "the message names the key");
    diag("duplicate message: %s", err.msg);

    kx_json_parse(S("{\"\\n\xc3\xa9\":1,\"\\n\xc3\xa9\":2}"), NULL, &doc, &err);
    is_str(err.msg, "duplicate object key \"???\"",
           "the key in the message is printable ASCII");
}


static void
test_writer(void)
{
    int                i;
    char               buf[64];
    size_t             n;
    kx_jw_t            w;
    kx_dec_t           d;
    const char        *out;

    kx_jw_init(&w);
    kx_jw_obj_begin(&w);
    kx_jw_key(&w, "a");
    kx_jw_int(&w, 1);
    kx_jw_key(&w, "b");
    kx_jw_arr_begin(&w);
    kx_jw_bool(&w, 1);
    kx_jw_null(&w);
    kx_jw_str(&w, "x");
    kx_jw_bool(&w, 0);
    kx_jw_arr_end(&w);
    kx_jw_key(&w, "c");
    kx_jw_obj_begin(&w);
    kx_jw_obj_end(&w);
    kx_jw_key(&w, "d");
    kx_jw_arr_begin(&w);
    kx_jw_arr_end(&w);
    kx_jw_key(&w, "e");
    kx_jw_str(&w, NULL);
    kx_jw_obj_end(&w);
    write_is(&w, S("{\"a\":1,\"b\":[true,null,\"x\",false],\"c\":{},"
                   "\"d\":[],\"e\":null}"), "commas and colons");

    kx_jw_reset(&w);
    kx_jw_arr_begin(&w);
    kx_jw_int(&w, INT64_MIN);
    kx_jw_int(&w, INT64_MAX);
    kx_jw_num_raw(&w, S("1e400"));
    kx_jw_num_raw(&w, S("-0.10"));
    d.v = 150000000;
    kx_jw_dec(&w, d, 2);
    kx_jw_dec_min(&w, d);
    kx_jw_dec_str(&w, d, 4);
    d.v = -1;
    kx_jw_dec(&w, d, 8);
    kx_jw_dec(&w, d, 2);
    kx_jw_arr_end(&w);
    write_is(&w, S("[-9223372036854775808,9223372036854775807,1e400,-0.10,"
                   "1.50,1.5,\"1.5000\",-0.00000001,0.00]"),
             "numbers and decimals");

    /* escaping */
    kx_jw_reset(&w);
    kx_jw_strn(&w, S("\x00\x01\x1f\"\\/\b\f\n\r\t\x7f" "A"));
    write_is(&w, S("\"\\u0000\\u0001\\u001f\\\"\\\\/\\b\\f\\n\\r\\t\x7f"
                   "A\""), "control characters are escaped");

    kx_jw_reset(&w);
    kx_jw_strn(&w, S("a\xff" "b"));
    write_is(&w, S("\"a\xef\xbf\xbd" "b\""), "FF becomes U+FFFD");

    kx_jw_reset(&w);
    kx_jw_strn(&w, S("\xc0\xaf"));
    write_is(&w, S("\"\xef\xbf\xbd\xef\xbf\xbd\""),
             "overlong: one U+FFFD per byte");

    kx_jw_reset(&w);
    kx_jw_strn(&w, S("\xe2\x82" "x"));
    write_is(&w, S("\"\xef\xbf\xbdx\""),
             "truncated sequence: one U+FFFD for the maximal subpart");

    kx_jw_reset(&w);
    kx_jw_strn(&w, S("\xed\xa0\x80"));
    write_is(&w, S("\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\""),
             "surrogate: three U+FFFD");

    kx_jw_reset(&w);
    kx_jw_strn(&w, S("\xf0\x9f\x98"));
    write_is(&w, S("\"\xef\xbf\xbd\""), "truncated at the end");

    kx_jw_reset(&w);
    kx_jw_strn(&w, S("caf\xc3\xa9 \xf0\x9f\x98\x80"));
    write_is(&w, S("\"caf\xc3\xa9 \xf0\x9f\x98\x80\""),
             "valid UTF-8 passes through");

    kx_jw_reset(&w);
    kx_jw_obj_begin(&w);
    kx_jw_keyn(&w, S("k\"\n\x80"));
    kx_jw_int(&w, 0);
    kx_jw_obj_end(&w);
    write_is(&w, S("{\"k\\\"\\n\xef\xbf\xbd\":0}"), "keys are escaped");

    /* misuse sticks and fails finish */
    kx_jw_reset(&w);
    kx_jw_arr_begin(&w);
    kx_jw_key(&w, "a");
    is_int(kx_jw_finish(&w, &out, &n), KX_JW_ESTATE,
           "a key in an array");

    kx_jw_reset(&w);
    kx_jw_obj_begin(&w);
    kx_jw_int(&w, 1);
    is_int(kx_jw_finish(&w, &out, &n), KX_JW_ESTATE,
           "a value without a key");

    kx_jw_reset(&w);
    kx_jw_obj_begin(&w);
    kx_jw_key(&w, "a");
    kx_jw_obj_end(&w);
    is_int(kx_jw_finish(&w, &out, &n), KX_JW_ESTATE,
           "a key without a value");

    kx_jw_reset(&w);
    kx_jw_int(&w, 1);
    kx_jw_int(&w, 2);
    is_int(kx_jw_finish(&w, &out, &n), KX_JW_ESTATE,
           "two top-level values");

    kx_jw_reset(&w);
    kx_jw_obj_begin(&w);
    kx_jw_arr_end(&w);
    is_int(kx_jw_finish(&w, &out, &n), KX_JW_ESTATE,
           "mismatched end");

    kx_jw_reset(&w);
    kx_jw_arr_begin(&w);
    is_int(kx_jw_finish(&w, &out, &n), KX_JW_ESTATE,
           "unclosed array");

    kx_jw_reset(&w);
    is_int(kx_jw_finish(&w, &out, &n), KX_JW_ESTATE,
           "nothing written");

    kx_jw_reset(&w);
    kx_jw_arr_end(&w);
    is_int(kx_jw_finish(&w, &out, &n), KX_JW_ESTATE,
           "end without begin");

    kx_jw_reset(&w);
    kx_jw_arr_begin(&w);
    kx_jw_num_raw(&w, S("1."));
    kx_jw_arr_end(&w);
    is_int(kx_jw_finish(&w, &out, &n), KX_JW_EVALUE,
           "raw number text is checked");

    /* depth: the limit is allowed, one more is not */
    kx_jw_reset(&w);
    for (i = 0; i < KX_JW_MAX_DEPTH; i++) {
        kx_jw_arr_begin(&w);
    }
    for (i = 0; i < KX_JW_MAX_DEPTH; i++) {
        kx_jw_arr_end(&w);
    }
    ok(kx_jw_finish(&w, &out, &n) == KX_JW_OK
       && n == 2 * KX_JW_MAX_DEPTH, "writer depth at the limit");

    kx_jw_reset(&w);
    for (i = 0; i <= KX_JW_MAX_DEPTH; i++) {
        kx_jw_arr_begin(&w);
    }
    is_int(kx_jw_finish(&w, &out, &n), KX_JW_ESTATE,
           "writer depth past the limit");

    kx_jw_free(&w);

    /* kx_json_escape behaves like snprintf */
    n = kx_json_escape(buf, sizeof(buf), S("a\"b"));
    ok(n == 4 && strcmp(buf, "a\\\"b") == 0, "escape into a buffer");
    memset(buf, 'x', sizeof(buf));
    n = kx_json_escape(buf, 4, S("a\"b"));
    ok(n == 4 && buf[0] == '\0', "escape too small writes \"\"");
    n = kx_json_escape(NULL, 0, S("\x01"));
    is_int((int64_t) n, 6, "escape measures");
}


static void
test_writer_all_bytes(void)
{
    int                    i, bad, plain;
    char                   c, in[512];
    size_t                 len, slen;
    kx_jw_t                w;
    const char            *out, *s;
    kx_json_doc_t         *doc;

    /* every byte value, then every pair around the UTF-8 boundaries */
    for (i = 0; i < 256; i++) {
        in[i] = (char) i;
        in[256 + i] = (char) (i ^ 0xc3);
    }

    kx_jw_init(&w);
    kx_jw_arr_begin(&w);
    kx_jw_strn(&w, in, sizeof(in));
    kx_jw_strn(&w, S("plain"));
    kx_jw_arr_end(&w);

    if (!ok(kx_jw_finish(&w, &out, &len) == KX_JW_OK, "writer: any bytes")) {
        kx_jw_free(&w);
        return;
    }

    doc = parse_ok(out, len, "the writer's output of any bytes");
    s = kx_json_str(kx_json_arr_at(kx_json_root(doc), 0), &slen);
    ok(s && slen > 128 && memcmp(s, in, 128) == 0,
       "ASCII comes back unchanged");
    s = kx_json_str(kx_json_arr_at(kx_json_root(doc), 1), &slen);
    is_mem(s, slen, S("plain"), "the next string is intact");

    kx_json_free(doc);

    /* each ASCII byte alone: as it is exactly when JSON allows it raw */
    bad = 0;

    for (i = 0; i < 128; i++) {
        c = (char) i;
        plain = (i >= 0x20 && c != '"' && c != '\\');

        kx_jw_reset(&w);
        kx_jw_strn(&w, &c, 1);

        if (kx_jw_finish(&w, &out, &len) != KX_JW_OK
            || (plain ? len != 3 || out[1] != c
                      : len < 4 || out[1] != '\\'))
        {
            bad++;
        }
    }

    ok(bad == 0, "each ASCII byte escaped exactly when it must be (%d not)",
       bad);

    kx_jw_free(&w);
}


static void
test_writer_node(void)
{
    size_t          len;
    kx_jw_t         w;
    const char     *out;
    kx_json_doc_t  *doc;

    doc = parse_ok(S(" { \"a\" : [ 1 , 2.50 , -0 , 1e-7 ] , \"b\" : { } ,"
                     " \"c\" : \"\\u00e9\\u0000\\n\" , \"d\" : [ [ ] , "
                     "{ \"x\" : null } ] , \"e\" : true } "),
                   "a document to serialise");

    kx_jw_init(&w);
    kx_jw_node(&w, kx_json_root(doc));
    write_is(&w, S("{\"a\":[1,2.50,-0,1e-7],\"b\":{},"
                   "\"c\":\"\xc3\xa9\\u0000\\n\",\"d\":[[],{\"x\":null}],"
                   "\"e\":true}"), "a DOM serialises minified and exact");

    kx_jw_reset(&w);
    kx_jw_arr_begin(&w);
    kx_jw_node(&w, kx_json_obj_get(kx_json_root(doc), "d"));
    kx_jw_node(&w, kx_json_obj_get(kx_json_root(doc), "e"));
    kx_jw_arr_end(&w);
    write_is(&w, S("[[[],{\"x\":null}],true]"), "subtrees serialise");

    kx_jw_reset(&w);
    kx_jw_node(&w, NULL);
    ok(kx_jw_finish(&w, &out, &len) == KX_JW_ESTATE, "no node is an error");

    kx_jw_free(&w);
    kx_json_free(doc);
}



/* part as the one item of an array w: how finishing w ends */
static int
splice_in_array(kx_jw_t *w, kx_jw_t *part)
{
    size_t       len;
    const char  *out;

    kx_jw_reset(w);
    kx_jw_arr_begin(w);
    kx_jw_splice(w, part);
    kx_jw_arr_end(w);

    return kx_jw_finish(w, &out, &len);
}


static void
test_writer_splice(void)
{
    size_t       len;
    kx_jw_t      w, part;
    const char  *out;

    kx_jw_init(&w);
    kx_jw_init(&part);

    /* a part built apart, as a member and as array items */
    kx_jw_arr_begin(&part);
    kx_jw_str(&part, "a\"b");
    kx_jw_obj_begin(&part);
    kx_jw_key(&part, "k");
    kx_jw_int(&part, 7);
    kx_jw_obj_end(&part);
    kx_jw_arr_end(&part);

    kx_jw_obj_begin(&w);
    kx_jw_key(&w, "x");
    kx_jw_int(&w, 1);
    kx_jw_key(&w, "events");
    kx_jw_splice(&w, &part);
    kx_jw_key(&w, "y");
    kx_jw_arr_begin(&w);
    kx_jw_splice(&w, &part);
    kx_jw_splice(&w, &part);
    kx_jw_arr_end(&w);
    kx_jw_obj_end(&w);
    write_is(&w, S("{\"x\":1,\"events\":[\"a\\\"b\",{\"k\":7}],"
                   "\"y\":[[\"a\\\"b\",{\"k\":7}],"
                   "[\"a\\\"b\",{\"k\":7}]]}"),
             "a finished part joins as one value, commas and all");

    /* a part still open, or in error, makes the whole fail */
    kx_jw_reset(&part);
    kx_jw_arr_begin(&part);
    ok(splice_in_array(&w, &part) == KX_JW_ESTATE,
       "an unfinished part is an error");

    kx_jw_reset(&part);
    kx_jw_num_raw(&part, S("1."));
    ok(splice_in_array(&w, &part) == KX_JW_EVALUE, "a part's error sticks");

    /* where no value may go: after a value at the top */
    kx_jw_reset(&part);
    kx_jw_int(&part, 1);
    kx_jw_reset(&w);
    kx_jw_int(&w, 2);
    kx_jw_splice(&w, &part);
    ok(kx_jw_finish(&w, &out, &len) == KX_JW_ESTATE,
       "a part out of place is an error");

    kx_jw_free(&part);
    kx_jw_free(&w);
}


int
main(void)
{
    test_parse_basic();
    test_numbers_exact();
    test_getters();
    test_strings();
    test_big_object();
    test_errors();
    test_utf8();
    test_duplicates();
    test_writer();
    test_writer_all_bytes();
    test_writer_node();
    test_writer_splice();

    return kx_tap_done();
}
