
/*
 * Copyright (C) Kianax
 */


#include <stdlib.h>
#include <string.h>

#include "core/kx_error.h"

#include "kx_tap.h"


#define S(lit)  lit, sizeof(lit) - 1


static void
status_is(const char *code, int want)
{
    const kx_error_t  *e;

    e = kx_error_find(code);

    if (!ok(e != NULL && e->status == want && strcmp(e->code, code) == 0,
            "%s is %d", code, want))
    {
        diag("  got %d", e ? e->status : -1);
    }
}


static void
json_is(const char *code, const char *msg, const char *want, size_t wlen,
    const char *name)
{
    char    buf[512];
    size_t  n;

    memset(buf, 'x', sizeof(buf));
    n = kx_error_json(buf, sizeof(buf), code, msg);

    if (!is_mem(buf, strlen(buf), want, wlen, name)) {
        return;
    }

    is_int((int64_t) n, (int64_t) wlen, "returned length matches");
}


static void
test_table(void)
{
    int                i, j, bad;
    const char        *c;
    const kx_error_t  *e, *f;

    status_is("bad_request", 400);
    status_is("malformed_json", 400);
    status_is("unauthorized", 401);
    status_is("invalid_token", 401);
    status_is("token_expired", 401);
    status_is("forbidden", 403);
    status_is("insufficient_buying_power", 403);
    status_is("insufficient_position", 403);
    status_is("not_found", 404);
    status_is("method_not_allowed", 405);
    status_is("conflict", 409);
    status_is("email_taken", 409);
    status_is("payload_too_large", 413);
    status_is("unsupported_media_type", 415);
    status_is("unprocessable", 422);
    status_is("validation_failed", 422);
    status_is("rate_limited", 429);
    status_is("internal_error", 500);
    status_is("not_implemented", 501);
    status_is("bad_gateway", 502);
    status_is("service_unavailable", 503);
    status_is("gateway_timeout", 504);

    ok(kx_error_find("no_such_code") == NULL, "unknown code");
    ok(kx_error_find(NULL) == NULL, "NULL code");

    is_int(kx_error_status(KX_ERR_EMAIL_TAKEN), 409, "enum status");
    is_str(kx_error_code(KX_ERR_INSUFFICIENT_BUYING_POWER),
           "insufficient_buying_power", "enum code");
    is_str(kx_error_message(KX_ERR_MALFORMED_JSON),
           "request body is not valid JSON", "enum message");
    is_str(kx_error_code((kx_err_e) 9999), "internal_error",
           "an out-of-range id is internal_error");
    is_str(kx_error_code((kx_err_e) -1), "internal_error",
           "a negative id is internal_error");

    /* codes are unique, snake_case, with an error status and a message */
    bad = 0;

    for (i = 0; i < KX_ERR_COUNT; i++) {
        e = kx_error_get((kx_err_e) i);

        if (e->status < 400 || e->status > 599 || e->message[0] == '\0') {
            diag("bad entry %s", e->code);
            bad++;
        }

        for (c = e->code; *c; c++) {
            if (!((*c >= 'a' && *c <= 'z') || *c == '_')) {
                diag("code %s is not snake_case", e->code);
                bad++;
                break;
            }
        }

        for (j = i + 1; j < KX_ERR_COUNT; j++) {
            f = kx_error_get((kx_err_e) j);

            if (strcmp(e->code, f->code) == 0) {
                diag("code %s twice", e->code);
                bad++;
            }
        }

        if (kx_error_find(e->code) != e) {
            diag("find(%s) is another entry", e->code);
            bad++;
        }
    }

    is_int(bad, 0, "every table entry is well-formed and unique");
}


static void
test_status(void)
{
    is_str(kx_error_code_for_status(400), "bad_request", "400");
    is_str(kx_error_code_for_status(401), "unauthorized", "401");
    is_str(kx_error_code_for_status(403), "forbidden", "403");
    is_str(kx_error_code_for_status(404), "not_found", "404");
    is_str(kx_error_code_for_status(405), "method_not_allowed", "405");
    is_str(kx_error_code_for_status(409), "conflict", "409");
    is_str(kx_error_code_for_status(413), "payload_too_large", "413");
    is_str(kx_error_code_for_status(422), "unprocessable", "422");
    is_str(kx_error_code_for_status(429), "rate_limited", "429");
    is_str(kx_error_code_for_status(500), "internal_error", "500");
    is_str(kx_error_code_for_status(501), "not_implemented", "501");
    is_str(kx_error_code_for_status(502), "bad_gateway", "502");
    is_str(kx_error_code_for_status(503), "service_unavailable", "503");
    is_str(kx_error_code_for_status(504), "gateway_timeout", "504");
    is_str(kx_error_code_for_status(418), "bad_request",
           "an unlisted 4xx is bad_request");
    is_str(kx_error_code_for_status(599), "internal_error",
           "an unlisted 5xx is internal_error");
    is_str(kx_error_code_for_status(200), "internal_error",
           "a non-error status is internal_error");

    is_str(kx_error_reason(404), "Not Found", "reason 404");
    is_str(kx_error_reason(422), "Unprocessable Entity", "reason 422");
    is_str(kx_error_reason(429), "Too Many Requests", "reason 429");
    is_str(kx_error_reason(504), "Gateway Timeout", "reason 504");
    is_str(kx_error_reason(418), "Client Error", "reason unlisted 4xx");
    is_str(kx_error_reason(599), "Server Error", "reason unlisted 5xx");
    is_str(kx_error_reason(0), "Error", "reason nonsense");
}


static void
test_json(void)
{
    int                    i;
    char                   buf[512], msg[300];
    size_t                 n, want, len;
    kx_jw_t                w;
    const char            *out, *s;
    kx_json_doc_t         *doc;
    const kx_json_node_t  *e;

    json_is("not_found", "no such order",
            S("{\"error\":{\"code\":\"not_found\","
              "\"message\":\"no such order\"}}"), "plain error");

    json_is("validation_failed", "field \"qty\"\nmust be > 0\t\\",
            S("{\"error\":{\"code\":\"validation_failed\","
              "\"message\":\"field \\\"qty\\\"\\nmust be > 0\\t\\\\\"}}"),
            "quotes, newline, tab and backslash are escaped");

    json_is("bad_request", "a\x01\x1f" "b\xff",
            S("{\"error\":{\"code\":\"bad_request\","
              "\"message\":\"a\\u0001\\u001fb\xef\xbf\xbd\"}}"),
            "control bytes and invalid UTF-8 are made valid");

    json_is("email_taken", NULL,
            S("{\"error\":{\"code\":\"email_taken\","
              "\"message\":\"email is already registered\"}}"),
            "NULL message is the code's default");

    json_is(NULL, NULL,
            S("{\"error\":{\"code\":\"internal_error\","
              "\"message\":\"Internal Server Error\"}}"),
            "NULL code is internal_error");

    json_is("my\"code", NULL,
            S("{\"error\":{\"code\":\"my\\\"code\",\"message\":\"\"}}"),
            "unknown codes are escaped, message empty");

    /* snprintf semantics: never truncated JSON */
    want = kx_error_json(NULL, 0, "not_found", "gone");
    is_int((int64_t) want, 47, "measures with a NULL buffer");

    memset(buf, 'x', sizeof(buf));
    n = kx_error_json(buf, want, "not_found", "gone");
    ok(n == want && buf[0] == '\0', "one byte short writes nothing");

    memset(buf, 'x', sizeof(buf));
    n = kx_error_json(buf, want + 1, "not_found", "gone");
    ok(n == want && strlen(buf) == want && buf[want - 1] == '}',
       "exact size writes it all");

    /* a long message with everything in it parses back to itself */
    for (i = 0; i < 299; i++) {
        msg[i] = (char) (i % 95 + 32);
    }
    msg[0] = '"';
    msg[1] = '\n';
    msg[299] = '\0';

    n = kx_error_json(buf, sizeof(buf), "rate_limited", msg);
    ok(n < sizeof(buf), "long message fits in 512");

    doc = NULL;
    ok(kx_json_parse(buf, n, NULL, &doc, NULL) == KX_JSON_PE_OK,
       "error JSON parses");
    e = kx_json_obj_get(kx_json_root(doc), "error");
    s = kx_json_str(kx_json_obj_get(e, "code"), &len);
    is_mem(s, len, S("rate_limited"), "code reads back");
    s = kx_json_str(kx_json_obj_get(e, "message"), &len);
    is_mem(s, len, msg, strlen(msg), "message reads back");
    is_int((int64_t) kx_json_obj_len(kx_json_root(doc)), 1,
           "one top-level member");
    kx_json_free(doc);

    /* the writer variant makes the same bytes */
    kx_jw_init(&w);
    kx_error_jw(&w, "validation_failed", "field \"qty\"\nmust be > 0\t\\");
    ok(kx_jw_finish(&w, &out, &len) == KX_JW_OK, "writer variant finishes");
    n = kx_error_json(buf, sizeof(buf), "validation_failed",
                      "field \"qty\"\nmust be > 0\t\\");
    is_mem(out, len, buf, n, "writer variant matches kx_error_json");
    kx_jw_free(&w);

    kx_jw_init(&w);
    kx_jw_obj_begin(&w);
    kx_jw_key(&w, "wrapped");
    kx_error_jw(&w, NULL, NULL);
    kx_jw_obj_end(&w);
    ok(kx_jw_finish(&w, &out, &len) == KX_JW_OK, "nested writer variant");
    is_mem(out, len, S("{\"wrapped\":{\"error\":{\"code\":\"internal_error\","
                       "\"message\":\"Internal Server Error\"}}}"),
           "writer variant nests as a value");
    kx_jw_free(&w);
}


int
main(void)
{
    test_table();
    test_status();
    test_json();

    return kx_tap_done();
}
