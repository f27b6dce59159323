
/*
 * Copyright (C) Kianax
 */


#include <stdlib.h>
#include <string.h>

#include "core/kx_utf8.h"
#include "market/kx_symbols.h"
#include "notify/kx_notify_prefs.h"
#include "notify/kx_notify_proto.h"

#include "kx_tap.h"


#define is_json(got, len, want, name)  is_mem(got, len, want, strlen(want), name)

/* "\u00e9" (2 bytes) 7 and 49 times: long lines of non-ASCII text */
#define E7   "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
#define E49  E7 E7 E7 E7 E7 E7 E7


static void
cmd_err(const char *json, const char *code)
{
    int              rc;
    kx_notify_cmd_t  cmd;

    rc = kx_notify_cmd_parse(json, strlen(json), &cmd);

    if (!ok(rc == -1 && cmd.error && strcmp(cmd.error, code) == 0,
            "%s -> %s", json, code))
    {
        diag("  got rc %d, %s", rc, cmd.error ? cmd.error : "(none)");
    }

    kx_notify_cmd_free(&cmd);
}


static void
test_cmd(void)
{
    const char       *j;
    kx_notify_cmd_t   cmd;

    j = "{\"action\":\"subscribe\",\"symbols\":[\"AAPL\",\"tsla\",\"AAPL\"]}";
    ok(kx_notify_cmd_parse(j, strlen(j), &cmd) == 0
       && cmd.action == KX_NOTIFY_ACT_SUBSCRIBE && cmd.nsymbols == 2
       && cmd.symbols[0] == kx_symbol_index("AAPL", 4)
       && cmd.symbols[1] == kx_symbol_index("TSLA", 4),
       "subscribe: two symbols, case folded, duplicates once");
    kx_notify_cmd_free(&cmd);

    j = "{\"action\":\"auth\",\"token\":\"abc.def.ghi\"}";
    ok(kx_notify_cmd_parse(j, strlen(j), &cmd) == 0
       && cmd.action == KX_NOTIFY_ACT_AUTH && cmd.token_len == 11
       && memcmp(cmd.token, "abc.def.ghi", 11) == 0, "auth with a token");
    kx_notify_cmd_free(&cmd);

    j = "{\"action\":\"resume\",\"last_event_id\":\"1700000000000-3\"}";
    ok(kx_notify_cmd_parse(j, strlen(j), &cmd) == 0
       && cmd.action == KX_NOTIFY_ACT_RESUME
       && cmd.last_id.ms == 1700000000000ULL && cmd.last_id.seq == 3,
       "resume with an id");
    kx_notify_cmd_free(&cmd);

    cmd_err("nope", "invalid_json");
    cmd_err("[1]", "invalid_json");
    cmd_err("{\"symbols\":[]}", "invalid_action");
    cmd_err("{\"action\":\"dance\"}", "unknown_action");
    cmd_err("{\"action\":\"subscribe\"}", "invalid_symbols");
    cmd_err("{\"action\":\"subscribe\",\"symbols\":[]}", "invalid_symbols");
    cmd_err("{\"action\":\"subscribe\",\"symbols\":[1]}", "invalid_symbols");
    cmd_err("{\"action\":\"subscribe\",\"symbols\":[\"NOPE1\"]}",
            "unknown_symbol");
    cmd_err("{\"action\":\"auth\"}", "invalid_token");
    cmd_err("{\"action\":\"resume\",\"last_event_id\":\"x-1\"}",
            "invalid_event_id");

    /* the message quotes 16 bytes of the symbol, whole characters */
    j = "{\"action\":\"subscribe\",\"symbols\":[\"K" E7 "\xc3\xa9\"]}";
    ok(kx_notify_cmd_parse(j, strlen(j), &cmd) == -1, "long symbol refused");
    is_str(cmd.message, "unknown symbol K\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
           "\xc3\xa9\xc3\xa9\xc3\xa9", "message cut between characters");
    kx_notify_cmd_free(&cmd);
}


static void
test_ids(void)
{
    char            buf[48];
    kx_stream_id_t  a, b;

    ok(kx_stream_id_parse("5-1", 3, &a) == 0 && a.ms == 5 && a.seq == 1,
       "5-1");
    ok(kx_stream_id_parse("7", 1, &b) == 0 && b.ms == 7 && b.seq == 0,
       "7 means 7-0");
    ok(kx_stream_id_cmp(&a, &b) < 0 && kx_stream_id_cmp(&b, &a) > 0
       && kx_stream_id_cmp(&a, &a) == 0, "ordering");
    ok(kx_stream_id_parse("", 0, &a) == -1
       && kx_stream_id_parse("1-", 2, &a) == -1
       && kx_stream_id_parse("-1", 2, &a) == -1
       && kx_stream_id_parse("1-2-3", 5, &a) == -1
       && kx_stream_id_parse("99999999999999999999", 20, &a) == -1,
       "bad ids refused");

    a.ms = 1700000000000ULL;
    a.seq = 12;
    kx_stream_id_format(&a, buf);
    is_str(buf, "1700000000000-12", "format");

    ok(kx_notify_uid_valid("0b9f4f3e-1c2d-4e5f-8a9b-0c1d2e3f4a5b", 36),
       "uuid valid");
    ok(!kx_notify_uid_valid("0b9f4f3e-1c2d-4e5f-8a9b-0c1d2e3f4a5", 35)
       && !kx_notify_uid_valid("0b9f4f3e-1c2d-4e5f-8a9b_0c1d2e3f4a5b", 36)
       && !kx_notify_uid_valid("zb9f4f3e-1c2d-4e5f-8a9b-0c1d2e3f4a5b", 36),
       "not uuids refused");
}


static void
test_events(void)
{
    char            t[KX_NOTIFY_TYPE_MAX];
    size_t          n, len;
    kx_jw_t         w;
    const char     *out, *j;
    kx_stream_id_t  id;
    const char     *f[12];
    size_t          l[12];
    size_t          i;

    n = kx_notify_ws_type("order.filled", 12, t);
    ok(n == 12 && memcmp(t, "order_filled", 12) == 0, "order_filled");
    n = kx_notify_ws_type("portfolio.updated", 17, t);
    ok(n == 16 && memcmp(t, "portfolio_update", 16) == 0,
       "portfolio_update");
    ok(kx_notify_ws_type("Order\"x", 7, t) == 0, "odd type refused");

    j = "{\"id\":\"1700000000000-1\",\"event_id\":\"e1\",\"type\":"
        "\"order.filled\",\"data\":{\"symbol\":\"AAPL\",\"qty\":\"1.5\"},"
        "\"occurred_at\":\"2026-01-01T00:00:00Z\"}";

    kx_jw_init(&w);
    ok(kx_notify_event_from_publish(j, strlen(j), &w, &id) == 0
       && kx_jw_finish(&w, &out, &len) == 0, "publish converted");
    is_json(out, len,
           "{\"type\":\"order_filled\",\"seq\":\"1700000000000-1\","
           "\"event_id\":\"e1\",\"data\":{\"symbol\":\"AAPL\",\"qty\":\"1.5\"},"
           "\"occurred_at\":\"2026-01-01T00:00:00Z\"}",
           "message shape");
    ok(id.ms == 1700000000000ULL && id.seq == 1, "its id");
    kx_jw_free(&w);

    kx_jw_init(&w);
    ok(kx_notify_event_from_publish("{\"type\":\"x\"}", 12, &w, &id) == -1,
       "publish without id refused");
    kx_jw_free(&w);

    f[0] = "event_id"; f[1] = "e2";
    f[2] = "type"; f[3] = "portfolio.updated";
    f[4] = "user_id"; f[5] = "u";
    f[6] = "payload"; f[7] = "{\"cash_balance\":\"10.00\"}";
    f[8] = "occurred_at"; f[9] = "2026-01-01T00:00:01Z";
    f[10] = "source"; f[11] = "trading";

    for (i = 0; i < 12; i++) {
        l[i] = strlen(f[i]);
    }

    kx_jw_init(&w);
    ok(kx_notify_event_from_fields("1700000000001-0", 15, f, l, 12, &w) == 0
       && kx_jw_finish(&w, &out, &len) == 0, "stream entry converted");
    is_json(out, len,
           "{\"type\":\"portfolio_update\",\"seq\":\"1700000000001-0\","
           "\"event_id\":\"e2\",\"data\":{\"cash_balance\":\"10.00\"},"
           "\"occurred_at\":\"2026-01-01T00:00:01Z\"}",
           "entry message shape");
    kx_jw_free(&w);
}


static void
test_render(void)
{
    char            title[128], body[256];
    const char     *j;
    kx_json_doc_t  *doc;

    j = "{\"symbol\":\"AAPL\",\"side\":\"buy\",\"fill\":{\"price\":\"228.50\","
        "\"quantity\":\"10\"}}";
    ok(kx_json_parse(j, strlen(j), NULL, &doc, NULL) == 0, "payload parsed");
    ok(kx_notify_render("order.filled", 12, kx_json_root(doc), title, body)
       == 1, "order.filled notifies");
    is_str(title, "Order filled: AAPL", "title");
    is_str(body, "Bought 10 AAPL @ 228.50", "body");
    ok(kx_notify_render("portfolio.updated", 17, kx_json_root(doc), title,
                        body) == 0, "portfolio.updated does not");
    kx_json_free(doc);

    /*
     * Fields of 98 bytes of "\u00e9" make lines longer than the buffers:
     * the cut falls inside a character, and the database refuses text
     * that is not UTF-8, so the notification was never stored.
     */
    j = "{\"symbol\":\"" E49 "\",\"side\":\"buy\",\"status\":\"" E49 "\","
        "\"fill\":{\"quantity\":\"" E49 "\",\"price\":\"1" E49 "\"}}";
    ok(kx_json_parse(j, strlen(j), NULL, &doc, NULL) == 0,
       "long payload parsed");

    ok(kx_notify_render("order.cancelled", 15, kx_json_root(doc), title,
                        body) == 1, "order.cancelled notifies");
    ok(kx_utf8_validate(title, strlen(title)) == strlen(title)
       && strlen(title) == 126, "long title cut between characters");

    ok(kx_notify_render("order.filled", 12, kx_json_root(doc), title, body)
       == 1, "order.filled notifies");
    ok(kx_utf8_validate(body, strlen(body)) == strlen(body)
       && strlen(body) == 254, "long body cut between characters");

    kx_json_free(doc);
}


static void
prefs(const char *json, int want, const char *what)
{
    int             rc;
    char            err[128];
    kx_json_doc_t  *doc;

    err[0] = '\0';

    if (kx_json_parse(json, strlen(json), NULL, &doc, NULL) != 0) {
        ok(0, "%s: parses", what);
        return;
    }

    rc = kx_notify_prefs_validate(kx_json_root(doc), err, sizeof(err));

    if (!ok(rc == want, "%s", what)) {
        diag("  %s", err);
    }

    kx_json_free(doc);
}


static void
test_prefs(void)
{
    char            err[128];
    const char     *j;
    kx_json_doc_t  *doc;

    prefs("{\"email_enabled\":false,\"tz\":\"Europe/Paris\","
          "\"quiet_hours_start\":\"22:00\",\"quiet_hours_end\":\"07:30:00\","
          "\"phone_number\":\"+14155550100\",\"email_address\":\"a@b.c\","
          "\"per_type\":{\"order_filled\":{\"email\":false,\"push\":true}}}",
          0, "a full update is valid");
    prefs("{\"email_address\":null,\"phone_number\":null}", 0, "nulls clear");
    prefs("{}", -1, "empty update refused");
    prefs("{\"colour\":\"red\"}", -1, "unknown field refused");
    prefs("{\"email_enabled\":\"yes\"}", -1, "boolean required");
    prefs("{\"email_address\":\"a@b@c\"}", -1, "two @ refused");
    prefs("{\"email_address\":\"@a@b.c\"}", -1,
          "two @ refused, the first leading");
    prefs("{\"phone_number\":\"0415\"}", -1, "not E.164");
    prefs("{\"quiet_hours_start\":\"25:00\"}", -1, "bad time");
    prefs("{\"tz\":\"Europe/Paris; DROP\"}", -1, "bad zone name");
    prefs("{\"per_type\":{\"order_filled\":{\"fax\":true}}}", -1,
          "unknown channel");
    prefs("{\"per_type\":{\"order_filled\":{\"email\":1}}}", -1,
          "channel flag must be boolean");

    /* the message names the first 40 bytes of a key, whole characters */
    j = "{\"x" E49 "\":1}";
    ok(kx_json_parse(j, strlen(j), NULL, &doc, NULL) == 0,
       "long key parsed");
    ok(kx_notify_prefs_validate(kx_json_root(doc), err, sizeof(err)) == -1,
       "long unknown key refused");
    is_str(err, "unknown field x" E7 E7 "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
           "\xc3\xa9", "message cut between characters");
    kx_json_free(doc);
}


int
main(void)
{
    test_cmd();
    test_ids();
    test_events();
    test_render();
    test_prefs();

    return kx_tap_done();
}
