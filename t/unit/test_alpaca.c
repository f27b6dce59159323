
/*
 * Copyright (C) Kianax
 *
 * The Alpaca adapter's data layer (src/trading/kx_alpaca.c) against the
 * payloads of Alpaca's Trading API v2 documentation: the sample order,
 * position and account objects, trade_updates messages and error bodies.
 */


#include <stdlib.h>
#include <string.h>

#include "core/kx_json.h"
#include "trading/kx_alpaca.h"

#include "kx_tap.h"
#include "kx_test_dec.h"


static int
is_dec(kx_dec_t got, const char *want, const char *name)
{
    char  buf[KX_DEC_FMT_MAX];

    if (ok(kx_dec_cmp(got, dec(want)) == 0, "%s", name)) {
        return 1;
    }

    kx_dec_format_min(got, buf, sizeof(buf));
    diag("  got %s, want %s", buf, want);

    return 0;
}


static kx_json_doc_t *
parse(const char *src)
{
    kx_json_doc_t   *doc;
    kx_json_perr_t   perr;

    if (kx_json_parse(src, strlen(src), NULL, &doc, &perr)
        != KX_JSON_PE_OK)
    {
        diag("bad JSON in test: %s (%s)", src, perr.msg);
        exit(2);
    }

    return doc;
}


static int
order_parse(const char *src, kx_alpaca_order_t *a, kx_alpaca_err_t *err)
{
    int             rc;
    kx_json_doc_t  *doc;

    doc = parse(src);
    rc = kx_alpaca_order_parse(kx_json_root(doc), a, err);
    kx_json_free(doc);

    return rc;
}


static int64_t
t(const char *s)
{
    int64_t  us;

    if (kx_alpaca_time_parse(s, strlen(s), &us) != 0) {
        diag("bad time in test: %s", s);
        exit(2);
    }

    return us;
}


/* Alpaca's "Sample Order Object" (docs.alpaca.markets/reference/orders) */
static const char  sample_notional[] =
    "{\"id\": \"61e69015-8549-4bfd-b9c3-01e75843f47d\","
    " \"client_order_id\": \"eb9e2aaa-f71a-4f51-b5b4-52a6c565dad4\","
    " \"created_at\": \"2021-03-16T18:38:01.942282Z\","
    " \"updated_at\": \"2021-03-16T18:38:01.942282Z\","
    " \"submitted_at\": \"2021-03-16T18:38:01.937734Z\","
    " \"filled_at\": null, \"expired_at\": null, \"canceled_at\": null,"
    " \"failed_at\": null, \"replaced_at\": null, \"replaced_by\": null,"
    " \"replaces\": null,"
    " \"asset_id\": \"b0b6dd9d-8b9b-48a9-ba46-b9d54906e415\","
    " \"symbol\": \"AAPL\", \"asset_class\": \"us_equity\","
    " \"notional\": \"500\", \"qty\": null, \"filled_qty\": \"0\","
    " \"filled_avg_price\": null, \"order_class\": \"\","
    " \"order_type\": \"market\", \"type\": \"market\", \"side\": \"buy\","
    " \"time_in_force\": \"day\", \"limit_price\": null,"
    " \"stop_price\": null, \"status\": \"accepted\","
    " \"extended_hours\": false, \"legs\": null, \"trail_percent\": null,"
    " \"trail_price\": null, \"hwm\": null}";

/* a POST /v2/orders answer as the API gives it: nanosecond times */
static const char  sample_limit[] =
    "{\"id\":\"b3edb0f5-5950-4c7a-a472-ce64387a27d9\","
    "\"client_order_id\":\"cb7240f4-f2b1-464a-b2c2-4388b2de2082\","
    "\"created_at\":\"2024-03-22T20:40:50.916594602Z\","
    "\"updated_at\":\"2024-03-22T20:40:50.916637002Z\","
    "\"submitted_at\":\"2024-03-22T20:40:50.915476843Z\","
    "\"filled_at\":null,\"expired_at\":null,\"canceled_at\":null,"
    "\"failed_at\":null,\"replaced_at\":null,\"replaced_by\":null,"
    "\"replaces\":null,\"asset_id\":\"a1733398-6acc-4e92-af24-0d0667f78713\","
    "\"symbol\":\"AAPL\",\"asset_class\":\"us_equity\",\"notional\":null,"
    "\"qty\":\"2\",\"filled_qty\":\"0\",\"filled_avg_price\":null,"
    "\"order_class\":\"\",\"order_type\":\"limit\",\"type\":\"limit\","
    "\"side\":\"buy\",\"time_in_force\":\"gtc\",\"limit_price\":\"150\","
    "\"stop_price\":null,\"status\":\"pending_new\",\"extended_hours\":false,"
    "\"legs\":null,\"trail_percent\":null,\"trail_price\":null,\"hwm\":null,"
    "\"subtag\":null,\"source\":null}";


static void
test_order_body(void)
{
    int              rc;
    size_t           len;
    kx_jw_t          w;
    kx_order_t       o;
    const char      *out;
    kx_alpaca_err_t  err;

    kx_order_init(&o);
    strcpy(o.symbol, "AAPL");
    o.side = KX_SIDE_BUY;
    o.type = KX_ORDER_LIMIT;
    o.tif = KX_TIF_GTC;
    o.quantity = dec("1.5");
    o.limit_price = dec("187.1200");

    kx_jw_init(&w);
    rc = kx_alpaca_order_body(&w, &o, "0b5c1c9e-7f4a-4c3e-9d55-1d2f3a4b5c6d",
                              &err);
    ok(rc == KX_ALPACA_OK && kx_jw_finish(&w, &out, &len) == KX_JW_OK,
       "limit order body built");
    is_str(out, "{\"symbol\":\"AAPL\",\"qty\":\"1.5\",\"side\":\"buy\","
           "\"type\":\"limit\",\"time_in_force\":\"gtc\","
           "\"limit_price\":\"187.12\",\"client_order_id\":"
           "\"0b5c1c9e-7f4a-4c3e-9d55-1d2f3a4b5c6d\"}",
           "limit: decimals as exact strings, no stop_price");
    kx_jw_free(&w);

    kx_order_init(&o);
    strcpy(o.symbol, "MSFT");
    o.side = KX_SIDE_SELL;
    o.type = KX_ORDER_STOP_LIMIT;
    o.tif = KX_TIF_DAY;
    o.quantity = dec("0.000001");
    o.limit_price = dec("399.99");
    o.stop_price = dec("400.0001");

    kx_jw_init(&w);
    rc = kx_alpaca_order_body(&w, &o, "x", &err);
    ok(rc == KX_ALPACA_OK && kx_jw_finish(&w, &out, &len) == KX_JW_OK,
       "stop_limit body built");
    is_str(out, "{\"symbol\":\"MSFT\",\"qty\":\"0.000001\",\"side\":\"sell\","
           "\"type\":\"stop_limit\",\"time_in_force\":\"day\","
           "\"limit_price\":\"399.99\",\"stop_price\":\"400.0001\","
           "\"client_order_id\":\"x\"}",
           "stop_limit: both prices, a 6-place quantity");
    kx_jw_free(&w);

    kx_order_init(&o);
    strcpy(o.symbol, "BRK.B");
    o.side = KX_SIDE_BUY;
    o.type = KX_ORDER_MARKET;
    o.tif = KX_TIF_DAY;
    o.notional = dec("500.00");

    kx_jw_init(&w);
    rc = kx_alpaca_order_body(&w, &o, "abc", &err);
    ok(rc == KX_ALPACA_OK && kx_jw_finish(&w, &out, &len) == KX_JW_OK,
       "notional body built");
    is_str(out, "{\"symbol\":\"BRK.B\",\"notional\":\"500\",\"side\":\"buy\","
           "\"type\":\"market\",\"time_in_force\":\"day\","
           "\"client_order_id\":\"abc\"}",
           "notional market order: notional, no qty");
    kx_jw_free(&w);

    kx_jw_init(&w);
    rc = kx_alpaca_order_body(&w, &o,
                              "0123456789012345678901234567890123456789"
                              "012345678", &err);
    ok(rc == KX_ALPACA_EINVALID, "client_order_id over 48 refused: %s",
       err.message);
    rc = kx_alpaca_order_body(&w, &o, "", &err);
    ok(rc == KX_ALPACA_EINVALID, "empty client_order_id refused");
    o.quantity = dec("1");
    rc = kx_alpaca_order_body(&w, &o, "a", &err);
    ok(rc == KX_ALPACA_EINVALID, "both qty and notional refused");
    kx_jw_free(&w);
}


static void
test_order_parse(void)
{
    int                rc;
    char               src[2048];
    kx_alpaca_err_t    err;
    kx_alpaca_order_t  a;

    rc = order_parse(sample_notional, &a, &err);
    ok(rc == KX_ALPACA_OK, "documented sample order parses");
    is_str(a.id, "61e69015-8549-4bfd-b9c3-01e75843f47d", "id");
    is_str(a.client_order_id, "eb9e2aaa-f71a-4f51-b5b4-52a6c565dad4",
           "client_order_id");
    is_str(a.symbol, "AAPL", "symbol");
    is_str(a.status_name, "accepted", "Alpaca's status kept");
    ok(a.status == KX_ORDER_ACCEPTED, "accepted -> accepted");
    ok(a.side == KX_SIDE_BUY && a.type == KX_ORDER_MARKET
       && a.tif == KX_TIF_DAY, "side, type, time_in_force");
    ok(a.qty.v == 0, "qty null -> 0");
    is_dec(a.notional, "500", "notional");
    ok(a.filled_qty.v == 0 && a.filled_avg_price.v == 0,
       "nothing filled, filled_avg_price null");
    is_int(a.created_at, t("2021-03-16T18:38:01.942282Z"), "created_at");
    is_int(a.submitted_at, INT64_C(1615919881937734), "submitted_at in us");
    ok(a.filled_at == 0 && a.canceled_at == 0, "null times are 0");
    ok(!a.rounded, "nothing rounded");

    rc = order_parse(sample_limit, &a, &err);
    ok(rc == KX_ALPACA_OK, "POST answer with nanosecond times parses");
    ok(a.status == KX_ORDER_ACCEPTED, "pending_new -> accepted");
    is_dec(a.qty, "2", "qty");
    is_dec(a.limit_price, "150", "limit_price");
    is_int(a.created_at, INT64_C(1711140050916594),
           "nanoseconds truncated to microseconds");
    ok(a.tif == KX_TIF_GTC, "gtc");

    /* a filled notional order: 9-place quantity, rounded and flagged */
    rc = order_parse("{\"id\":\"o1\",\"client_order_id\":\"c1\","
                     "\"symbol\":\"AAPL\",\"notional\":\"500\",\"qty\":null,"
                     "\"filled_qty\":\"2.666666667\","
                     "\"filled_avg_price\":\"187.5\",\"side\":\"buy\","
                     "\"type\":\"market\",\"time_in_force\":\"day\","
                     "\"status\":\"filled\","
                     "\"filled_at\":\"2024-01-02T14:30:00.5-05:00\"}",
                     &a, &err);
    ok(rc == KX_ALPACA_OK, "filled notional order parses");
    is_dec(a.filled_qty, "2.66666666",
           "9-place filled_qty rounded toward zero to 8");
    ok(a.rounded, "and flagged as rounded");
    ok(a.status == KX_ORDER_FILLED, "filled -> filled");
    is_int(a.filled_at, t("2024-01-02T19:30:00.500000Z"),
           "an offset time is read as UTC");

    /* amounts as JSON numbers (older SDK fakes and some proxies) */
    rc = order_parse("{\"id\":\"o2\",\"status\":\"partially_filled\","
                     "\"qty\":10,\"filled_qty\":4,"
                     "\"filled_avg_price\":101.25}", &a, &err);
    ok(rc == KX_ALPACA_OK && a.status == KX_ORDER_PARTIALLY_FILLED,
       "numbers accepted, partially_filled");
    is_dec(a.filled_avg_price, "101.25", "numeric price exact");

    /* done_for_day and its friends depend on what is filled */
    rc = order_parse("{\"id\":\"o3\",\"status\":\"done_for_day\","
                     "\"filled_qty\":\"3\",\"filled_avg_price\":\"10\"}",
                     &a, &err);
    ok(rc == KX_ALPACA_OK && a.status == KX_ORDER_PARTIALLY_FILLED,
       "done_for_day with fills -> partially_filled");

    rc = order_parse("{\"id\":\"o3\",\"status\":\"pending_cancel\","
                     "\"filled_qty\":\"0\"}", &a, &err);
    ok(rc == KX_ALPACA_OK && a.status == KX_ORDER_ACCEPTED,
       "pending_cancel -> still accepted");

    /* refusals */
    rc = order_parse("{\"status\":\"new\",\"filled_qty\":\"0\"}", &a, &err);
    ok(rc == KX_ALPACA_EPARSE, "no id refused: %s", err.message);

    rc = order_parse("{\"id\":\"o\",\"status\":\"sleeping\","
                     "\"filled_qty\":\"0\"}", &a, &err);
    ok(rc == KX_ALPACA_EPARSE && strstr(err.message, "sleeping"),
       "unknown status refused: %s", err.message);

    rc = order_parse("{\"id\":\"o\",\"status\":\"new\"}", &a, &err);
    ok(rc == KX_ALPACA_EPARSE, "no filled_qty refused: %s", err.message);

    rc = order_parse("{\"id\":\"o\",\"status\":\"new\",\"filled_qty\":\"x\"}",
                     &a, &err);
    ok(rc == KX_ALPACA_EPARSE, "bad decimal refused: %s", err.message);

    rc = order_parse("{\"id\":\"o\",\"status\":\"new\",\"filled_qty\":\"0\","
                     "\"type\":\"trailing_stop\"}", &a, &err);
    ok(rc == KX_ALPACA_EPARSE, "trailing_stop is not ours: %s",
       err.message);

    rc = order_parse("{\"id\":\"o\",\"status\":\"new\",\"filled_qty\":\"0\","
                     "\"created_at\":\"yesterday\"}", &a, &err);
    ok(rc == KX_ALPACA_EPARSE, "bad time refused: %s", err.message);

    rc = order_parse("{\"id\":\"o\",\"status\":\"new\",\"filled_qty\":\"-1\"}",
                     &a, &err);
    ok(rc == KX_ALPACA_EPARSE, "negative filled_qty refused");

    rc = order_parse("[1]", &a, &err);
    ok(rc == KX_ALPACA_EPARSE, "not an object refused");

    snprintf(src, sizeof(src), "{\"id\":\"%0100d\",\"status\":\"new\","
             "\"filled_qty\":\"0\"}", 7);
    rc = order_parse(src, &a, &err);
    ok(rc == KX_ALPACA_EPARSE, "an id too long refused");
}


static void
test_status_map(void)
{
    size_t             i;
    kx_order_status_e  st;

    static const struct {
        const char         *alpaca;
        const char         *filled;
        kx_order_status_e   ours;
    } map[] = {
        { "new", "0", KX_ORDER_ACCEPTED },
        { "accepted", "0", KX_ORDER_ACCEPTED },
        { "pending_new", "0", KX_ORDER_ACCEPTED },
        { "accepted_for_bidding", "0", KX_ORDER_ACCEPTED },
        { "held", "0", KX_ORDER_ACCEPTED },
        { "stopped", "0", KX_ORDER_ACCEPTED },
        { "suspended", "0", KX_ORDER_ACCEPTED },
        { "calculated", "1", KX_ORDER_PARTIALLY_FILLED },
        { "done_for_day", "0", KX_ORDER_ACCEPTED },
        { "pending_replace", "2", KX_ORDER_PARTIALLY_FILLED },
        { "partially_filled", "2", KX_ORDER_PARTIALLY_FILLED },
        { "filled", "5", KX_ORDER_FILLED },
        { "canceled", "0", KX_ORDER_CANCELED },
        { "canceled", "2", KX_ORDER_CANCELED },
        { "replaced", "0", KX_ORDER_CANCELED },
        { "expired", "0", KX_ORDER_EXPIRED },
        { "rejected", "0", KX_ORDER_REJECTED }
    };

    for (i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        ok(kx_alpaca_status_map(map[i].alpaca, strlen(map[i].alpaca),
                                dec(map[i].filled), &st) == 0
           && st == map[i].ours,
           "status %s (filled %s) -> %s", map[i].alpaca, map[i].filled,
           kx_order_status_name(map[i].ours));
    }

    ok(kx_alpaca_status_map("FILLED", 6, dec("1"), &st) == -1,
       "statuses are case-sensitive");
    ok(kx_alpaca_status_map("fill", 4, dec("1"), &st) == -1,
       "an event name is not a status");
}


static kx_alpaca_order_t
alpaca(const char *status, const char *filled, const char *avg)
{
    kx_alpaca_order_t  a;

    memset(&a, 0, sizeof(a));
    strcpy(a.id, "al-1");
    strcpy(a.status_name, status);
    a.filled_qty = dec(filled);
    a.filled_avg_price = dec(avg);
    (void) kx_alpaca_status_map(status, strlen(status), a.filled_qty,
                                &a.status);
    a.updated_at = 1000;

    return a;
}


static void
test_apply(void)
{
    int                 rc;
    kx_order_t          o, saved;
    kx_alpaca_order_t   a;
    kx_alpaca_change_t  ch;

    kx_order_init(&o);
    strcpy(o.symbol, "AAPL");
    o.quantity = dec("10");
    o.type = KX_ORDER_LIMIT;
    o.limit_price = dec("101");

    a = alpaca("new", "0", "0");
    rc = kx_alpaca_order_apply(&o, &a, 500, &ch);
    ok(rc == KX_ALPACA_OK && ch.changed && ch.from == KX_ORDER_NEW
       && ch.to == KX_ORDER_ACCEPTED && ch.fill_qty.v == 0
       && o.status == KX_ORDER_ACCEPTED,
       "new at Alpaca: our new -> accepted, no fill");

    rc = kx_alpaca_order_apply(&o, &a, 600, &ch);
    ok(rc == KX_ALPACA_OK && !ch.changed, "the same again: no change");

    a = alpaca("partially_filled", "4", "100.5");
    rc = kx_alpaca_order_apply(&o, &a, 700, &ch);
    ok(rc == KX_ALPACA_OK && ch.changed
       && o.status == KX_ORDER_PARTIALLY_FILLED,
       "a partial fill: partially_filled");
    is_dec(ch.fill_qty, "4", "fill qty 4");
    is_dec(ch.fill_price, "100.5", "first fill at the average");
    is_dec(o.filled_qty, "4", "our filled_qty is Alpaca's");

    /* 4 @ 100.5 then 3 more make 7 @ 100.8: the 3 cost 100.8*7-402 */
    a = alpaca("partially_filled", "7", "100.8");
    rc = kx_alpaca_order_apply(&o, &a, 800, &ch);
    ok(rc == KX_ALPACA_OK && ch.changed
       && o.status == KX_ORDER_PARTIALLY_FILLED,
       "a second partial fill");
    is_dec(ch.fill_qty, "3", "fill qty 3");
    is_dec(ch.fill_price, "101.2", "its price recovered exactly");
    is_int(o.updated_at, 1000, "updated_at from Alpaca");

    /* 3 more at a price that does not divide: 10 @ 100.77777777 */
    a = alpaca("filled", "10", "100.77777777");
    a.filled_at = 2000;
    rc = kx_alpaca_order_apply(&o, &a, 900, &ch);
    ok(rc == KX_ALPACA_OK && o.status == KX_ORDER_FILLED
       && ch.to == KX_ORDER_FILLED, "filled");
    is_dec(ch.fill_qty, "3", "last fill qty 3");
    /* (1007.7777777 - 705.6) / 3 = 100.72592590 */
    is_dec(ch.fill_price, "100.7259259", "its price, half-even to 8");
    is_dec(o.filled_avg_price, "100.77777777", "average is Alpaca's");
    is_int(o.filled_at, 2000, "filled_at from Alpaca");

    saved = o;
    a = alpaca("canceled", "10", "100.77777777");
    rc = kx_alpaca_order_apply(&o, &a, 1000, &ch);
    ok(rc == KX_ALPACA_ESTATE && memcmp(&o, &saved, sizeof(o)) == 0,
       "filled cannot become canceled; order unchanged");

    /* partial fill then cancel */
    kx_order_init(&o);
    o.quantity = dec("10");
    o.status = KX_ORDER_ACCEPTED;

    a = alpaca("canceled", "2", "50");
    a.canceled_at = 3000;
    rc = kx_alpaca_order_apply(&o, &a, 1000, &ch);
    ok(rc == KX_ALPACA_OK && o.status == KX_ORDER_CANCELED
       && ch.fill_qty.v == dec("2").v && o.canceled_at == 3000,
       "fills found with a cancel: both reported, canceled_at Alpaca's");

    /* Alpaca reports less than we have: refused */
    kx_order_init(&o);
    o.quantity = dec("10");
    o.status = KX_ORDER_PARTIALLY_FILLED;
    o.filled_qty = dec("5");
    o.filled_avg_price = dec("10");
    saved = o;

    a = alpaca("partially_filled", "4", "10");
    rc = kx_alpaca_order_apply(&o, &a, 1000, &ch);
    ok(rc == KX_ALPACA_ESTATE && memcmp(&o, &saved, sizeof(o)) == 0,
       "filled_qty going back refused");

    a = alpaca("filled", "0", "0");
    kx_order_init(&o);
    o.quantity = dec("1");
    rc = kx_alpaca_order_apply(&o, &a, 1000, &ch);
    ok(rc == KX_ALPACA_ESTATE, "filled with nothing filled refused");

    a = alpaca("partially_filled", "1", "0");
    rc = kx_alpaca_order_apply(&o, &a, 1000, &ch);
    ok(rc == KX_ALPACA_ESTATE, "a fill without a price refused");

    kx_order_init(&o);
    o.quantity = dec("1");
    o.status = KX_ORDER_ACCEPTED;
    saved = o;

    a = alpaca("partially_filled", "0", "0");
    rc = kx_alpaca_order_apply(&o, &a, 1000, &ch);
    ok(rc == KX_ALPACA_ESTATE && memcmp(&o, &saved, sizeof(o)) == 0,
       "partially_filled with nothing filled refused, the order untouched");

    /* more filled than ordered: refused, the order untouched */
    kx_order_init(&o);
    o.quantity = dec("10");
    o.status = KX_ORDER_ACCEPTED;
    saved = o;

    a = alpaca("filled", "10.000001", "10");
    rc = kx_alpaca_order_apply(&o, &a, 1000, &ch);
    ok(rc == KX_ALPACA_ESTATE && memcmp(&o, &saved, sizeof(o)) == 0,
       "a fill beyond the order's quantity refused");

    a = alpaca("filled", "10", "10");
    rc = kx_alpaca_order_apply(&o, &a, 1000, &ch);
    ok(rc == KX_ALPACA_OK && o.status == KX_ORDER_FILLED,
       "a fill of exactly the order's quantity taken");

    /* rejected and expired straight from new */
    kx_order_init(&o);
    o.quantity = dec("1");
    a = alpaca("rejected", "0", "0");
    a.failed_at = 4000;
    rc = kx_alpaca_order_apply(&o, &a, 1000, &ch);
    ok(rc == KX_ALPACA_OK && o.status == KX_ORDER_REJECTED,
       "rejected at Alpaca: rejected");

    kx_order_init(&o);
    o.quantity = dec("1");
    o.status = KX_ORDER_ACCEPTED;
    a = alpaca("expired", "0", "0");
    rc = kx_alpaca_order_apply(&o, &a, 1000, &ch);
    ok(rc == KX_ALPACA_OK && o.status == KX_ORDER_EXPIRED
       && o.expired_at == 1000, "expired; expired_at from updated_at");

    /* a notional order Alpaca filled: the status is Alpaca's */
    kx_order_init(&o);
    o.notional = dec("500");
    o.status = KX_ORDER_ACCEPTED;
    a = alpaca("filled", "2.66666666", "187.5");
    rc = kx_alpaca_order_apply(&o, &a, 1000, &ch);
    ok(rc == KX_ALPACA_OK && o.status == KX_ORDER_FILLED,
       "notional order filled (a hair under the notional)");
    is_dec(ch.fill_price, "187.5", "at Alpaca's price");
}


static void
error_is(kx_alpaca_call_e call, unsigned status, const char *body,
    kx_err_e err, const char *flags, const char *name)
{
    char               got[8];
    kx_alpaca_error_t  e;

    kx_alpaca_error_map(call, status, body, body ? strlen(body) : 0, &e);

    snprintf(got, sizeof(got), "%s%s%s%s", e.retryable ? "t" : "",
             e.rejected ? "r" : "", e.duplicate ? "d" : "",
             e.not_found ? "n" : "");

    if (!ok(e.err == err && strcmp(got, flags) == 0, "%s", name)) {
        diag("  got %s flags \"%s\", want %s flags \"%s\"",
             kx_error_code(e.err), got, kx_error_code(err), flags);
    }
}


static void
test_errors(void)
{
    kx_alpaca_error_t  e;

    static const char  bp[] =
        "{\"buying_power\":\"176531.28\",\"code\":40310000,"
        "\"cost_basis\":\"48640000\","
        "\"message\":\"insufficient buying power\"}";

    kx_alpaca_error_map(KX_ALPACA_CALL_SUBMIT, 403, bp, strlen(bp), &e);
    ok(e.err == KX_ERR_INSUFFICIENT_BUYING_POWER && e.rejected
       && !e.retryable, "403 buying power -> insufficient_buying_power");
    is_int(e.code, 40310000, "Alpaca's code kept");
    is_str(e.message, "insufficient buying power", "Alpaca's message kept");
    is_int(kx_error_status(e.err), 403, "answered 403");

    error_is(KX_ALPACA_CALL_SUBMIT, 403,
             "{\"code\":40310000,\"message\":"
             "\"insufficient qty available for order (requested: 10, "
             "available: 0)\"}",
             KX_ERR_INSUFFICIENT_POSITION, "r",
             "403 insufficient qty -> insufficient_position");
    error_is(KX_ALPACA_CALL_SUBMIT, 403,
             "{\"code\":40310000,\"message\":"
             "\"new orders are rejected by user request\"}",
             KX_ERR_FORBIDDEN, "r", "other 403 -> forbidden, rejected");
    error_is(KX_ALPACA_CALL_SUBMIT, 422,
             "{\"code\":40010001,\"message\":\"qty must be > 0\"}",
             KX_ERR_UNPROCESSABLE, "r", "422 invalid -> unprocessable");
    error_is(KX_ALPACA_CALL_SUBMIT, 422,
             "{\"code\":40010001,\"message\":"
             "\"client_order_id must be unique\"}",
             KX_ERR_UNPROCESSABLE, "d", "422 reused client_order_id: dup");
    error_is(KX_ALPACA_CALL_SUBMIT, 422,
             "{\"code\":40010001,\"message\":"
             "\"client_order_id must be no more than 48 characters\"}",
             KX_ERR_UNPROCESSABLE, "r", "422 on client_order_id's length: "
             "rejected, not a duplicate");
    error_is(KX_ALPACA_CALL_CANCEL, 422,
             "{\"code\":42210000,\"message\":\"order is not cancelable\"}",
             KX_ERR_UNPROCESSABLE, "", "cancel 422 -> unprocessable");
    error_is(KX_ALPACA_CALL_CANCEL, 404,
             "{\"code\":40410000,\"message\":\"order not found\"}",
             KX_ERR_NOT_FOUND, "n", "cancel 404 -> not_found");
    error_is(KX_ALPACA_CALL_GET, 404, "{\"code\":40410000,"
             "\"message\":\"order not found for abc\"}",
             KX_ERR_NOT_FOUND, "n", "get 404 -> not_found");
    error_is(KX_ALPACA_CALL_SUBMIT, 404, "{\"message\":\"asset not found\"}",
             KX_ERR_UNPROCESSABLE, "r", "submit 404 -> unprocessable");
    error_is(KX_ALPACA_CALL_SUBMIT, 429,
             "{\"code\":42910000,\"message\":\"rate limit exceeded\"}",
             KX_ERR_SERVICE_UNAVAILABLE, "t", "429 -> 503, retryable");
    error_is(KX_ALPACA_CALL_SUBMIT, 500, "<html>oops</html>",
             KX_ERR_BAD_GATEWAY, "t", "500 (HTML) -> bad_gateway, retryable");
    error_is(KX_ALPACA_CALL_GET, 502, NULL,
             KX_ERR_BAD_GATEWAY, "t", "502 -> bad_gateway");
    error_is(KX_ALPACA_CALL_GET, 503, "", KX_ERR_SERVICE_UNAVAILABLE, "t",
             "503 -> service_unavailable");
    error_is(KX_ALPACA_CALL_SUBMIT, 504, "", KX_ERR_GATEWAY_TIMEOUT, "t",
             "504 -> gateway_timeout");
    error_is(KX_ALPACA_CALL_SUBMIT, 401,
             "{\"code\":40110000,\"message\":\"request is not authorized\"}",
             KX_ERR_BAD_GATEWAY, "", "401 (our keys) -> bad_gateway");
    error_is(KX_ALPACA_CALL_SUBMIT, 400, "{\"message\":\"bad json\"}",
             KX_ERR_BAD_GATEWAY, "r", "400 -> bad_gateway, rejected");

    kx_alpaca_error_map(KX_ALPACA_CALL_GET, 500, "x", 1, &e);
    is_str(e.message, "broker answered 500", "a default message");
}


static void
test_times(void)
{
    int64_t  us;

    ok(kx_alpaca_time_parse("1970-01-01T00:00:00Z", 20, &us) == 0 && us == 0,
       "the epoch");
    is_int(t("2021-03-16T18:38:01.942282Z"), INT64_C(1615919881942282),
           "microseconds");
    is_int(t("2021-03-16T18:38:01.9Z"), INT64_C(1615919881900000),
           "one fraction digit");
    is_int(t("2021-03-16T14:38:01.942282-04:00"), INT64_C(1615919881942282),
           "negative offset");
    is_int(t("2021-03-17T00:08:01.942282+05:30"), INT64_C(1615919881942282),
           "positive offset");
    is_int(t("2024-02-29T00:00:00Z"), INT64_C(1709164800000000), "leap day");
    is_int(t("2000-02-29T00:00:00Z"), INT64_C(951782400000000),
           "leap day of a century divisible by 400");
    ok(kx_alpaca_time_parse("2025-02-29T23:51:16Z", 20, &us) != 0,
       "29 February of a common year refused, not read as 1 March");
    ok(kx_alpaca_time_parse("1900-02-29T00:00:00Z", 20, &us) != 0,
       "29 February of 1900 refused");
    ok(kx_alpaca_time_parse("2024-04-31T00:00:00Z", 20, &us) != 0,
       "31 April refused");
    ok(kx_alpaca_time_parse("2021-03-16 18:38:01", 19, &us) != 0,
       "no zone refused");
    ok(kx_alpaca_time_parse("2021-13-16T18:38:01Z", 20, &us) != 0,
       "month 13 refused");
    ok(kx_alpaca_time_parse("2021-03-16T18:38:01.Z", 21, &us) != 0,
       "empty fraction refused");
    ok(kx_alpaca_time_parse("2021-03-16T18:38:01Zjunk", 24, &us) != 0,
       "trailing junk refused");
}


static void
test_position_account(void)
{
    int                   rc;
    kx_json_doc_t        *doc;
    kx_alpaca_err_t       err;
    kx_alpaca_account_t   acc;
    kx_alpaca_position_t  p;

    /* the documented sample, trailing blank in the symbol included */
    doc = parse("{\"asset_id\": \"904837e3-3b76-47ec-b432-046db621571b\","
                " \"symbol\": \"AAPL \", \"exchange\": \"NASDAQ\","
                " \"asset_class\": \"us_equity\","
                " \"avg_entry_price\": \"100.0\", \"qty\": \"5\","
                " \"qty_available\": \"4\", \"side\": \"long\","
                " \"market_value\": \"600.0\", \"cost_basis\": \"500.0\","
                " \"unrealized_pl\": \"100.0\", \"unrealized_plpc\": \"0.20\","
                " \"unrealized_intraday_pl\": \"10.0\","
                " \"unrealized_intraday_plpc\": \"0.0084\","
                " \"current_price\": \"120.0\", \"lastday_price\": \"119.0\","
                " \"change_today\": \"0.0084\"}");
    rc = kx_alpaca_position_parse(kx_json_root(doc), &p, &err);
    kx_json_free(doc);

    ok(rc == KX_ALPACA_OK, "documented sample position parses");
    is_str(p.symbol, "AAPL", "symbol trimmed");
    is_dec(p.qty, "5", "qty");
    is_dec(p.qty_available, "4", "qty_available");
    is_dec(p.avg_entry_price, "100", "avg_entry_price");
    is_dec(p.market_value, "600", "market_value");
    is_dec(p.cost_basis, "500", "cost_basis");
    is_dec(p.unrealized_pl, "100", "unrealized_pl");
    is_dec(p.current_price, "120", "current_price");

    doc = parse("{\"symbol\":\"TSLA\",\"qty\":\"3.000000019\","
                "\"side\":\"short\",\"avg_entry_price\":\"200.123456789\"}");
    rc = kx_alpaca_position_parse(kx_json_root(doc), &p, &err);
    kx_json_free(doc);
    ok(rc == KX_ALPACA_OK, "short position parses");
    is_dec(p.qty, "-3.00000001", "short qty negative, rounded toward zero");
    is_dec(p.avg_entry_price, "200.12345679", "long price rounded half-even");
    ok(p.rounded, "flagged");

    doc = parse("{\"symbol\":\"TSLA\",\"qty\":\"-3\",\"side\":\"short\","
                "\"avg_entry_price\":\"200\"}");
    rc = kx_alpaca_position_parse(kx_json_root(doc), &p, &err);
    kx_json_free(doc);
    ok(rc == KX_ALPACA_OK && p.qty.v == dec("-3").v,
       "already negative short qty kept");

    doc = parse("{\"symbol\":\"TSLA\",\"qty\":\"3\"}");
    rc = kx_alpaca_position_parse(kx_json_root(doc), &p, &err);
    kx_json_free(doc);
    ok(rc == KX_ALPACA_EPARSE, "position without avg_entry_price refused");

    /* the account example of Alpaca's OpenAPI document */
    doc = parse("{\"id\":\"1d9eed04-be39-4e01-9b84-a48ac5bbafcf\","
                "\"admin_configurations\":{},\"user_configurations\":null,"
                "\"account_number\":\"PALPACA_123\",\"status\":\"ACTIVE\","
                "\"crypto_status\":\"ACTIVE\",\"currency\":\"USD\","
                "\"buying_power\":\"245432.61\","
                "\"regt_buying_power\":\"245432.61\","
                "\"daytrading_buying_power\":\"0\","
                "\"non_marginable_buying_power\":\"122086.5\","
                "\"bod_dtbp\":0,\"cash\":\"122086.5\",\"accrued_fees\":\"0\","
                "\"portfolio_value\":\"123346.11\","
                "\"pattern_day_trader\":true,\"trading_blocked\":false,"
                "\"transfers_blocked\":false,\"account_blocked\":false,"
                "\"created_at\":\"2023-01-01T18:20:20.272275Z\","
                "\"trade_suspended_by_user\":false,\"multiplier\":\"2\","
                "\"shorting_enabled\":true,\"equity\":\"123346.11\","
                "\"last_equity\":\"122011.09751111286868\","
                "\"long_market_value\":\"1259.61\","
                "\"short_market_value\":\"0\"}");
    rc = kx_alpaca_account_parse(kx_json_root(doc), &acc, &err);
    kx_json_free(doc);

    ok(rc == KX_ALPACA_OK, "documented account parses");
    is_dec(acc.cash, "122086.5", "cash");
    is_dec(acc.buying_power, "245432.61", "buying_power");
    is_dec(acc.equity, "123346.11", "equity");
    is_dec(acc.long_market_value, "1259.61", "long_market_value");
    is_str(acc.status, "ACTIVE", "status");
    is_str(acc.currency, "USD", "currency");
    ok(acc.shorting_enabled && !acc.trading_blocked && !acc.account_blocked,
       "flags");
    ok(!acc.rounded, "cash and buying power exact");

    doc = parse("{\"cash\":\"1\"}");
    rc = kx_alpaca_account_parse(kx_json_root(doc), &acc, &err);
    kx_json_free(doc);
    ok(rc == KX_ALPACA_EPARSE, "account without buying_power refused: %s",
       err.message);
}


static void
test_stream(void)
{
    int               rc;
    size_t            len;
    kx_jw_t           w;
    const char       *out, *m;
    kx_alpaca_err_t   err;
    kx_alpaca_msg_t   msg;

    kx_jw_init(&w);
    kx_alpaca_stream_auth(&w, "AKID", "s\"ecret");
    kx_jw_finish(&w, &out, &len);
    is_str(out, "{\"action\":\"authenticate\",\"data\":{\"key_id\":\"AKID\","
           "\"secret_key\":\"s\\\"ecret\"}}", "authenticate frame");
    kx_jw_free(&w);

    kx_jw_init(&w);
    kx_alpaca_stream_listen(&w);
    kx_jw_finish(&w, &out, &len);
    is_str(out, "{\"action\":\"listen\",\"data\":{\"streams\":"
           "[\"trade_updates\"]}}", "listen frame");
    kx_jw_free(&w);

    m = "{\"stream\":\"authorization\",\"data\":{\"status\":\"authorized\","
        "\"action\":\"authenticate\"}}";
    rc = kx_alpaca_msg_parse(m, strlen(m), &msg, &err);
    ok(rc == KX_ALPACA_OK && msg.type == KX_ALPACA_MSG_AUTHORIZATION
       && msg.authorized, "authorized");

    m = "{\"stream\":\"authorization\",\"data\":{\"status\":\"unauthorized\","
        "\"action\":\"authenticate\"}}";
    rc = kx_alpaca_msg_parse(m, strlen(m), &msg, &err);
    ok(rc == KX_ALPACA_OK && msg.type == KX_ALPACA_MSG_AUTHORIZATION
       && !msg.authorized, "unauthorized");

    m = "{\"stream\":\"listening\",\"data\":{\"streams\":[\"trade_updates\"]}}";
    rc = kx_alpaca_msg_parse(m, strlen(m), &msg, &err);
    ok(rc == KX_ALPACA_OK && msg.type == KX_ALPACA_MSG_LISTENING
       && msg.trade_updates, "listening to trade_updates");

    m = "{\"stream\":\"trade_updates\",\"data\":{\"event\":\"partial_fill\","
        "\"execution_id\":\"5f2b1b3e-0a1c-4d2f-9f1e-2a3b4c5d6e7f\","
        "\"timestamp\":\"2024-01-02T15:04:05.123456789Z\","
        "\"price\":\"187.12\",\"qty\":\"3\",\"position_qty\":\"3\","
        "\"order\":{\"id\":\"904837e3-3b76-47ec-b432-046db621571b\","
        "\"client_order_id\":\"k1\",\"symbol\":\"AAPL\",\"qty\":\"10\","
        "\"filled_qty\":\"3\",\"filled_avg_price\":\"187.12\","
        "\"side\":\"buy\",\"type\":\"limit\",\"time_in_force\":\"day\","
        "\"limit_price\":\"187.50\",\"status\":\"partially_filled\"}}}";
    rc = kx_alpaca_msg_parse(m, strlen(m), &msg, &err);
    ok(rc == KX_ALPACA_OK && msg.type == KX_ALPACA_MSG_TRADE_UPDATE,
       "partial_fill trade update parses");
    is_str(msg.event, "partial_fill", "event");
    is_str(msg.execution_id, "5f2b1b3e-0a1c-4d2f-9f1e-2a3b4c5d6e7f",
           "execution_id");
    is_dec(msg.price, "187.12", "price");
    is_dec(msg.qty, "3", "qty");
    is_dec(msg.position_qty, "3", "position_qty");
    is_int(msg.timestamp, INT64_C(1704207845123456), "timestamp");
    ok(msg.order.status == KX_ORDER_PARTIALLY_FILLED
       && strcmp(msg.order.client_order_id, "k1") == 0, "its order");

    m = "{\"stream\":\"trade_updates\",\"data\":{\"event\":\"fill\","
        "\"timestamp\":\"2024-01-02T15:04:05Z\",\"order\":{\"id\":\"x\","
        "\"status\":\"filled\",\"filled_qty\":\"1\","
        "\"filled_avg_price\":\"1\"}}}";
    rc = kx_alpaca_msg_parse(m, strlen(m), &msg, &err);
    ok(rc == KX_ALPACA_EPARSE, "a fill without price refused: %s",
       err.message);

    m = "{\"stream\":\"trade_updates\",\"data\":{\"event\":\"canceled\","
        "\"timestamp\":\"2024-01-02T15:04:05Z\",\"order\":{\"id\":\"x\","
        "\"status\":\"canceled\",\"filled_qty\":\"0\"}}}";
    rc = kx_alpaca_msg_parse(m, strlen(m), &msg, &err);
    ok(rc == KX_ALPACA_OK && msg.order.status == KX_ORDER_CANCELED,
       "canceled event");

    m = "{\"stream\":\"trade_updates\",\"data\":{\"event\":\"new\"}}";
    rc = kx_alpaca_msg_parse(m, strlen(m), &msg, &err);
    ok(rc == KX_ALPACA_EPARSE, "an update without order refused");

    m = "{\"stream\":\"something_else\",\"data\":{}}";
    rc = kx_alpaca_msg_parse(m, strlen(m), &msg, &err);
    ok(rc == KX_ALPACA_OK && msg.type == KX_ALPACA_MSG_OTHER,
       "other streams ignored");

    m = "{\"stream\":";
    rc = kx_alpaca_msg_parse(m, strlen(m), &msg, &err);
    ok(rc == KX_ALPACA_EPARSE, "truncated frame refused");
}


int
main(void)
{
    test_order_body();
    test_order_parse();
    test_status_map();
    test_apply();
    test_errors();
    test_times();
    test_position_account();
    test_stream();

    return kx_tap_done();
}
