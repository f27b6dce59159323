
/*
 * Copyright (C) Kianax
 */


#include <stdlib.h>
#include <string.h>

#include "core/kx_json.h"
#include "trading/kx_order.h"

#include "kx_tap.h"
#include "kx_test_dec.h"


/* 1700000000 s is 2023-11-14T22:13:20Z */
#define T0  INT64_C(1700000000123456)


/* JSON written with single quotes, for readability */
static int
validate(const char *src, kx_order_t *o, kx_order_err_t *err)
{
    int             rc;
    char           *buf, *p;
    size_t          len;
    kx_json_doc_t  *doc;
    kx_json_perr_t  perr;

    len = strlen(src);
    buf = strdup(src);

    for (p = buf; *p; p++) {
        if (*p == '\'') {
            *p = '"';
        }
    }

    if (kx_json_parse(buf, len, NULL, &doc, &perr) != KX_JSON_PE_OK) {
        diag("bad JSON in test: %s (%s)", src, perr.msg);
        exit(2);
    }

    rc = kx_order_validate(kx_json_root(doc), o, err);

    kx_json_free(doc);
    free(buf);

    return rc;
}


static int
accepts(const char *src, kx_order_t *o, const char *name)
{
    int             rc;
    kx_order_err_t  err;

    rc = validate(src, o, &err);

    if (!ok(rc == KX_ORDER_OK, "accepts: %s", name)) {
        diag("  %s", err.message);
        return 0;
    }

    return 1;
}


/* the message must be exactly want, and the field its first word */
static void
refuses(const char *src, const char *want, const char *name)
{
    int             rc;
    size_t          flen;
    kx_order_t      o;
    kx_order_err_t  err;

    memset(&o, 0x5a, sizeof(o));
    rc = validate(src, &o, &err);
    flen = strchr(want, ':') - want;

    if (!ok(rc == KX_ORDER_EINVALID
            && strcmp(err.message, want) == 0
            && strlen(err.field) == flen
            && memcmp(err.field, want, flen) == 0
            && o.symbol[0] == 0x5a,
            "refuses: %s", name))
    {
        diag("  rc %d, field \"%s\", message \"%s\"", rc, err.field,
             err.message);
        diag("  want \"%s\"", want);
    }
}


static void
test_accepted(void)
{
    kx_order_t  o;
    char        src[256], id[49];

    if (accepts("{'symbol':'AAPL','side':'buy','type':'market',"
                "'quantity':10}", &o, "a minimal market buy"))
    {
        ok(strcmp(o.symbol, "AAPL") == 0 && o.side == KX_SIDE_BUY
           && o.type == KX_ORDER_MARKET && o.tif == KX_TIF_DAY
           && o.quantity.v == 10 * KX_DEC_ONE && o.notional.v == 0
           && o.limit_price.v == 0 && o.stop_price.v == 0
           && o.status == KX_ORDER_NEW && o.client_order_id[0] == '\0'
           && o.filled_qty.v == 0 && o.created_at == 0,
           "  fields: day by default, status new, nothing else set");
    }

    if (accepts("{'symbol':'MSFT','side':'sell','type':'market',"
                "'quantity':'0.000001'}", &o, "6-place quantity as string"))
    {
        is_int(o.quantity.v, 100, "  0.000001 exactly");
        ok(o.side == KX_SIDE_SELL, "  sell");
    }

    if (accepts("{'symbol':'MSFT','side':'buy','type':'market',"
                "'qty':'1.5'}", &o, "qty, Alpaca's name"))
    {
        is_int(o.quantity.v, 150000000, "  qty read as quantity");
    }

    if (accepts("{'symbol':'MSFT','side':'buy','type':'market',"
                "'quantity':'1.500000000'}", &o, "zeros past 6 places"))
    {
        is_int(o.quantity.v, 150000000, "  1.5");
    }

    if (accepts("{'symbol':'MSFT','side':'buy','type':'market',"
                "'quantity':1e2}", &o, "exponent quantity"))
    {
        is_int(o.quantity.v, 100 * KX_DEC_ONE, "  100");
    }

    if (accepts("{'symbol':'AAPL','side':'buy','type':'market',"
                "'notional':'100.25'}", &o, "notional market day"))
    {
        ok(o.notional.v == 10025000000 && o.quantity.v == 0,
           "  notional 100.25, no quantity");
    }

    accepts("{'symbol':'AAPL','side':'buy','type':'market',"
            "'notional':100,'time_in_force':'day'}", &o,
            "notional with explicit day");

    if (accepts("{'symbol':'AAPL','side':'buy','type':'limit',"
                "'quantity':5,'limit_price':'150.1234',"
                "'time_in_force':'gtc'}", &o, "limit gtc, 4-place price"))
    {
        ok(o.type == KX_ORDER_LIMIT && o.tif == KX_TIF_GTC
           && o.limit_price.v == 15012340000 && o.stop_price.v == 0,
           "  limit 150.1234, gtc");
    }

    if (accepts("{'symbol':'AAPL','side':'sell','type':'stop',"
                "'quantity':5,'stop_price':140,'time_in_force':'ioc'}",
                &o, "stop ioc"))
    {
        ok(o.type == KX_ORDER_STOP && o.tif == KX_TIF_IOC
           && o.stop_price.v == 140 * KX_DEC_ONE && o.limit_price.v == 0,
           "  stop 140, ioc");
    }

    if (accepts("{'symbol':'AAPL','side':'buy','type':'stop_limit',"
                "'quantity':5,'stop_price':'151','limit_price':'152.5',"
                "'time_in_force':'fok'}", &o, "stop_limit fok"))
    {
        ok(o.type == KX_ORDER_STOP_LIMIT && o.tif == KX_TIF_FOK
           && o.stop_price.v == 151 * KX_DEC_ONE
           && o.limit_price.v == 15250000000,
           "  stop 151, limit 152.5, fok");
    }

    memset(id, 'x', 48);
    id[48] = '\0';
    memcpy(id, "Ab9._:-", 7);
    snprintf(src, sizeof(src), "{'symbol':'AAPL','side':'buy','type':"
             "'market','quantity':1,'client_order_id':'%s'}", id);

    if (accepts(src, &o, "client_order_id of 48 allowed characters")) {
        is_str(o.client_order_id, id, "  client_order_id kept");
    }

    if (accepts("{'symbol':'BRK.B','side':'buy','type':'market',"
                "'quantity':1}", &o, "symbol with a dot"))
    {
        is_str(o.symbol, "BRK.B", "  BRK.B");
    }

    accepts("{'symbol':'A','side':'buy','type':'market','quantity':1}", &o,
            "one-letter symbol");
    accepts("{'symbol':'ABCDEFGHIJ','side':'buy','type':'market',"
            "'quantity':1}", &o, "ten-letter symbol");

    if (accepts("{'symbol':'AAPL','side':'buy','type':'market',"
                "'quantity':1,'limit_price':null,'stop_price':null,"
                "'notional':null,'client_order_id':null,"
                "'time_in_force':null}", &o, "nulls count as absent"))
    {
        ok(o.limit_price.v == 0 && o.tif == KX_TIF_DAY
           && o.client_order_id[0] == '\0', "  absent, defaults");
    }
}


static void
test_refused(void)
{
    char  src[256];

    refuses("[]", "body: must be a JSON object", "an array body");
    refuses("'AAPL'", "body: must be a JSON object", "a string body");

    refuses("{'symbol':'AAPL','side':'buy','type':'market','qyt':1}",
            "qyt: unknown field", "a misspelt key");
    refuses("{'symbol':'AAPL','side':'buy','type':'limit','quantity':1,"
            "'limit':150}", "limit: unknown field",
            "'limit' for 'limit_price'");
    refuses("{'symbol':'AAPL','side':'buy','type':'market','quantity':1,"
            "'extended_hours':true}", "extended_hours: not supported",
            "an Alpaca option we do not support");
    refuses("{'symbol':'AAPL','side':'buy','type':'market','quantity':1,"
            "'trail_percent':'1'}", "trail_percent: not supported",
            "trailing stops");
    refuses("{'symbol':'AAPL','side':'buy','type':'market','quantity':1,"
            "'a \\\"key\\u0001':1}", "a??key?: unknown field",
            "an unknown key is made printable");
    refuses("{'symbol':'AAPL','quantity':1,'side':'buy','type':'market',"
            "'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa':1}",
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...: unknown field",
            "a long unknown key is cut");
    refuses("{'Symbol':'AAPL','side':'buy','type':'market','quantity':1}",
            "Symbol: unknown field", "keys are case-sensitive");

    refuses("{'side':'buy','type':'market','quantity':1}",
            "symbol: required", "no symbol");
    refuses("{'symbol':null,'side':'buy','type':'market','quantity':1}",
            "symbol: required", "null symbol");
    refuses("{'symbol':'aapl','side':'buy','type':'market','quantity':1}",
            "symbol: must be 1-10 upper-case letters or dots, starting "
            "with a letter", "lower-case symbol");
    refuses("{'symbol':'ABCDEFGHIJK','side':'buy','type':'market',"
            "'quantity':1}",
            "symbol: must be 1-10 upper-case letters or dots, starting "
            "with a letter", "11-letter symbol");
    refuses("{'symbol':'','side':'buy','type':'market','quantity':1}",
            "symbol: must be 1-10 upper-case letters or dots, starting "
            "with a letter", "empty symbol");
    refuses("{'symbol':'.A','side':'buy','type':'market','quantity':1}",
            "symbol: must be 1-10 upper-case letters or dots, starting "
            "with a letter", "symbol starting with a dot");
    refuses("{'symbol':'BTC/USD','side':'buy','type':'market',"
            "'quantity':1}",
            "symbol: must be 1-10 upper-case letters or dots, starting "
            "with a letter", "symbol with a slash");
    refuses("{'symbol':'A1','side':'buy','type':'market','quantity':1}",
            "symbol: must be 1-10 upper-case letters or dots, starting "
            "with a letter", "symbol with a digit");
    refuses("{'symbol':42,'side':'buy','type':'market','quantity':1}",
            "symbol: must be 1-10 upper-case letters or dots, starting "
            "with a letter", "numeric symbol");

    refuses("{'symbol':'AAPL','type':'market','quantity':1}",
            "side: required", "no side");
    refuses("{'symbol':'AAPL','side':'BUY','type':'market','quantity':1}",
            "side: must be one of buy, sell", "upper-case side");
    refuses("{'symbol':'AAPL','side':'short','type':'market','quantity':1}",
            "side: must be one of buy, sell", "unknown side");
    refuses("{'symbol':'AAPL','side':1,'type':'market','quantity':1}",
            "side: must be one of buy, sell", "numeric side");

    refuses("{'symbol':'AAPL','side':'buy','quantity':1}",
            "type: required", "no type");
    refuses("{'symbol':'AAPL','side':'buy','type':'trailing_stop',"
            "'quantity':1}",
            "type: must be one of market, limit, stop, stop_limit",
            "trailing_stop type");

    refuses("{'symbol':'AAPL','side':'buy','type':'market','quantity':1,"
            "'time_in_force':'opg'}",
            "time_in_force: must be one of day, gtc, ioc, fok",
            "opg time in force");
    refuses("{'symbol':'AAPL','side':'buy','type':'market','quantity':1,"
            "'time_in_force':'DAY'}",
            "time_in_force: must be one of day, gtc, ioc, fok",
            "upper-case time in force");

    refuses("{'symbol':'AAPL','side':'buy','type':'market','quantity':0}",
            "quantity: must be greater than 0", "zero quantity");
    refuses("{'symbol':'AAPL','side':'buy','type':'market','quantity':-1}",
            "quantity: must be greater than 0", "negative quantity");
    refuses("{'symbol':'AAPL','side':'buy','type':'market',"
            "'quantity':'-0.5'}",
            "quantity: must be greater than 0", "negative string quantity");
    refuses("{'symbol':'AAPL','side':'buy','type':'market',"
            "'quantity':1.0000001}",
            "quantity: at most 6 decimal places", "7-place quantity");
    refuses("{'symbol':'AAPL','side':'buy','type':'market','qty':'0.1234567'}",
            "qty: at most 6 decimal places", "7-place qty");
    refuses("{'symbol':'AAPL','side':'buy','type':'market','quantity':'ten'}",
            "quantity: not a valid number", "quantity in words");
    refuses("{'symbol':'AAPL','side':'buy','type':'market','quantity':' 1'}",
            "quantity: not a valid number", "quantity with a space");
    refuses("{'symbol':'AAPL','side':'buy','type':'market','quantity':true}",
            "quantity: must be a number or a numeric string",
            "boolean quantity");
    refuses("{'symbol':'AAPL','side':'buy','type':'market','quantity':[1]}",
            "quantity: must be a number or a numeric string",
            "array quantity");
    refuses("{'symbol':'AAPL','side':'buy','type':'market','quantity':1e20}",
            "quantity: out of range", "huge quantity");
    refuses("{'symbol':'AAPL','side':'buy','type':'market','quantity':1,"
            "'qty':1}", "qty: give quantity or qty (the same), not both",
            "quantity and qty");

    refuses("{'symbol':'AAPL','side':'buy','type':'market'}",
            "quantity: required (or notional)", "no quantity or notional");
    refuses("{'symbol':'AAPL','side':'buy','type':'market','quantity':1,"
            "'notional':100}", "notional: give quantity or notional, not both",
            "quantity and notional");
    refuses("{'symbol':'AAPL','side':'buy','type':'market',"
            "'notional':'10.001'}",
            "notional: at most 2 decimal places", "3-place notional");
    refuses("{'symbol':'AAPL','side':'buy','type':'market','notional':0}",
            "notional: must be greater than 0", "zero notional");
    refuses("{'symbol':'AAPL','side':'buy','type':'limit','notional':100,"
            "'limit_price':10}",
            "notional: only for market orders with time_in_force day",
            "notional limit order");
    refuses("{'symbol':'AAPL','side':'buy','type':'market','notional':100,"
            "'time_in_force':'gtc'}",
            "notional: only for market orders with time_in_force day",
            "notional gtc");
    refuses("{'symbol':'AAPL','side':'sell','type':'market','notional':100,"
            "'time_in_force':'ioc'}",
            "notional: only for market orders with time_in_force day",
            "notional ioc");

    refuses("{'symbol':'AAPL','side':'buy','type':'limit','quantity':1}",
            "limit_price: required for limit orders", "limit without price");
    refuses("{'symbol':'AAPL','side':'buy','type':'limit','quantity':1,"
            "'limit_price':null}",
            "limit_price: required for limit orders", "null limit price");
    refuses("{'symbol':'AAPL','side':'buy','type':'stop_limit','quantity':1,"
            "'stop_price':10}",
            "limit_price: required for stop_limit orders",
            "stop_limit without limit");
    refuses("{'symbol':'AAPL','side':'buy','type':'stop_limit','quantity':1,"
            "'limit_price':10}",
            "stop_price: required for stop_limit orders",
            "stop_limit without stop");
    refuses("{'symbol':'AAPL','side':'buy','type':'stop','quantity':1}",
            "stop_price: required for stop orders", "stop without price");
    refuses("{'symbol':'AAPL','side':'buy','type':'market','quantity':1,"
            "'limit_price':10}",
            "limit_price: not allowed for market orders", "market + limit");
    refuses("{'symbol':'AAPL','side':'buy','type':'stop','quantity':1,"
            "'stop_price':10,'limit_price':11}",
            "limit_price: not allowed for stop orders", "stop + limit");
    refuses("{'symbol':'AAPL','side':'buy','type':'limit','quantity':1,"
            "'limit_price':10,'stop_price':9}",
            "stop_price: not allowed for limit orders", "limit + stop");
    refuses("{'symbol':'AAPL','side':'buy','type':'market','quantity':1,"
            "'stop_price':10}",
            "stop_price: not allowed for market orders", "market + stop");
    refuses("{'symbol':'AAPL','side':'buy','type':'limit','quantity':1,"
            "'limit_price':'150.12345'}",
            "limit_price: at most 4 decimal places", "5-place limit price");
    refuses("{'symbol':'AAPL','side':'buy','type':'limit','quantity':1,"
            "'limit_price':0}",
            "limit_price: must be greater than 0", "zero limit price");
    refuses("{'symbol':'AAPL','side':'sell','type':'stop','quantity':1,"
            "'stop_price':-5}",
            "stop_price: must be greater than 0", "negative stop price");
    refuses("{'symbol':'AAPL','side':'sell','type':'stop','quantity':1,"
            "'stop_price':'0.00001'}",
            "stop_price: at most 4 decimal places", "5-place stop price");
    refuses("{'symbol':'AAPL','side':'sell','type':'stop','quantity':1,"
            "'stop_price':{}}",
            "stop_price: must be a number or a numeric string",
            "object stop price");

    refuses("{'symbol':'AAPL','side':'buy','type':'market','quantity':1,"
            "'client_order_id':''}",
            "client_order_id: must be 1-48 characters of A-Z a-z 0-9 . _ : -",
            "empty client_order_id");
    snprintf(src, sizeof(src), "{'symbol':'AAPL','side':'buy','type':"
             "'market','quantity':1,'client_order_id':'%049d'}", 0);
    refuses(src,
            "client_order_id: must be 1-48 characters of A-Z a-z 0-9 . _ : -",
            "49-character client_order_id");
    refuses("{'symbol':'AAPL','side':'buy','type':'market','quantity':1,"
            "'client_order_id':'a b'}",
            "client_order_id: must be 1-48 characters of A-Z a-z 0-9 . _ : -",
            "client_order_id with a space");
    refuses("{'symbol':'AAPL','side':'buy','type':'market','quantity':1,"
            "'client_order_id':'a/b'}",
            "client_order_id: must be 1-48 characters of A-Z a-z 0-9 . _ : -",
            "client_order_id with a slash");
    refuses("{'symbol':'AAPL','side':'buy','type':'market','quantity':1,"
            "'client_order_id':12}",
            "client_order_id: must be 1-48 characters of A-Z a-z 0-9 . _ : -",
            "numeric client_order_id");

    /* the first failure in a fixed order: keys, then field by field */
    refuses("{'symbol':'aapl','side':'x','type':'market','bogus':1}",
            "bogus: unknown field", "unknown keys are reported first");
    refuses("{'symbol':'aapl','side':'x'}",
            "symbol: must be 1-10 upper-case letters or dots, starting "
            "with a letter", "then the symbol");
}


static void
test_names(void)
{
    int                i, all;
    kx_side_e          side;
    kx_tif_e           tif;
    kx_order_type_e    type;
    kx_order_status_e  st;
    const char        *n;

    all = 1;

    for (i = 0; i < KX_ORDER_STATUS_COUNT; i++) {
        n = kx_order_status_name((kx_order_status_e) i);
        all &= kx_order_status_parse(n, strlen(n), &st) == 0
               && st == (kx_order_status_e) i;
    }

    ok(all, "every status name parses back to its status");
    is_str(kx_order_status_name(KX_ORDER_PARTIALLY_FILLED),
           "partially_filled", "partially_filled");
    is_str(kx_order_status_name(KX_ORDER_STATUS_COUNT), "unknown",
           "out-of-range status names as unknown");
    ok(kx_order_status_parse("cancelled", 9, &st) == -1,
       "British 'cancelled' is not a status");
    ok(kx_order_status_parse("new", 2, &st) == -1, "a prefix is not a status");

    ok(kx_side_parse("sell", 4, &side) == 0 && side == KX_SIDE_SELL
       && strcmp(kx_side_name(side), "sell") == 0, "side sell round trip");
    ok(kx_order_type_parse("stop_limit", 10, &type) == 0
       && type == KX_ORDER_STOP_LIMIT
       && strcmp(kx_order_type_name(type), "stop_limit") == 0,
       "type stop_limit round trip");
    ok(kx_tif_parse("fok", 3, &tif) == 0 && tif == KX_TIF_FOK
       && strcmp(kx_tif_name(tif), "fok") == 0, "tif fok round trip");
    ok(kx_tif_parse("opg", 3, &tif) == -1, "opg is not ours");
}


static void
test_transitions(void)
{
    int       from, to, all, want;
    /* rows: from; columns: to; in enum order */
    static const char  legal[KX_ORDER_STATUS_COUNT][KX_ORDER_STATUS_COUNT] = {
        /*            new acc par fil can rej exp */
        /* new */   { 0,  1,  1,  1,  1,  1,  1 },
        /* acc */   { 0,  0,  1,  1,  1,  1,  1 },
        /* par */   { 0,  0,  1,  1,  1,  0,  1 },
        /* fil */   { 0,  0,  0,  0,  0,  0,  0 },
        /* can */   { 0,  0,  0,  0,  0,  0,  0 },
        /* rej */   { 0,  0,  0,  0,  0,  0,  0 },
        /* exp */   { 0,  0,  0,  0,  0,  0,  0 }
    };

    all = 1;

    for (from = 0; from < KX_ORDER_STATUS_COUNT; from++) {
        for (to = 0; to < KX_ORDER_STATUS_COUNT; to++) {
            want = legal[from][to];

            if (kx_order_transition_ok((kx_order_status_e) from,
                                       (kx_order_status_e) to)
                != want)
            {
                diag("  %s -> %s should be %s",
                     kx_order_status_name((kx_order_status_e) from),
                     kx_order_status_name((kx_order_status_e) to),
                     want ? "legal" : "illegal");
                all = 0;
            }
        }
    }

    ok(all, "the transition table, all 49 pairs");

    ok(!kx_order_transition_ok(KX_ORDER_FILLED, KX_ORDER_CANCELED),
       "a filled order cannot be canceled");
    ok(!kx_order_transition_ok(KX_ORDER_NEW, KX_ORDER_STATUS_COUNT)
       && !kx_order_transition_ok(KX_ORDER_STATUS_COUNT, KX_ORDER_NEW),
       "out-of-range statuses never move");

    all = 1;

    for (from = 0; from < KX_ORDER_STATUS_COUNT; from++) {
        want = (from >= KX_ORDER_FILLED);
        all &= kx_order_status_is_final((kx_order_status_e) from) == want
               && kx_order_status_is_open((kx_order_status_e) from) == !want;
    }

    ok(all, "new, accepted, partially_filled open; the rest final");
}


static void
test_set_status(void)
{
    kx_order_t  o;

    kx_order_init(&o);
    o.created_at = T0;

    ok(kx_order_set_status(&o, KX_ORDER_ACCEPTED, T0 + 1) == KX_ORDER_OK
       && o.status == KX_ORDER_ACCEPTED && o.updated_at == T0 + 1,
       "new -> accepted stamps updated_at");
    ok(kx_order_set_status(&o, KX_ORDER_NEW, T0 + 2) == KX_ORDER_ESTATE
       && o.status == KX_ORDER_ACCEPTED && o.updated_at == T0 + 1,
       "accepted -> new refused, order unchanged");
    ok(kx_order_set_status(&o, KX_ORDER_CANCELED, T0 + 3) == KX_ORDER_OK
       && o.canceled_at == T0 + 3 && o.updated_at == T0 + 3,
       "cancel stamps canceled_at");
    ok(kx_order_set_status(&o, KX_ORDER_CANCELED, T0 + 4) == KX_ORDER_ESTATE
       && o.canceled_at == T0 + 3, "a second cancel is refused");

    kx_order_init(&o);
    o.status = KX_ORDER_ACCEPTED;
    ok(kx_order_set_status(&o, KX_ORDER_EXPIRED, T0) == KX_ORDER_OK
       && o.expired_at == T0 && o.filled_at == 0 && o.canceled_at == 0,
       "expiry stamps expired_at only");
}


static void
test_fill(void)
{
    kx_dec_t    rest;
    kx_order_t  o;

    kx_order_init(&o);
    o.quantity = dec("10");
    o.status = KX_ORDER_ACCEPTED;

    ok(kx_order_fill(&o, dec("4"), dec("100"), T0) == KX_ORDER_OK
       && o.status == KX_ORDER_PARTIALLY_FILLED
       && o.filled_qty.v == dec("4").v
       && o.filled_avg_price.v == dec("100").v && o.filled_at == 0,
       "4 of 10 at 100: partially filled, average 100");

    ok(kx_order_remaining_qty(&o, &rest) == KX_ORDER_OK
       && rest.v == dec("6").v, "6 remain");

    ok(kx_order_fill(&o, dec("6.000001"), dec("101"), T0 + 1)
       == KX_ORDER_EINVALID && o.filled_qty.v == dec("4").v,
       "more than remains is refused, order unchanged");
    ok(kx_order_fill(&o, dec("0"), dec("101"), T0 + 1) == KX_ORDER_EINVALID,
       "a zero fill is refused");
    ok(kx_order_fill(&o, dec("1"), dec("0"), T0 + 1) == KX_ORDER_EINVALID,
       "a zero price is refused");

    ok(kx_order_fill(&o, dec("6"), dec("101"), T0 + 2) == KX_ORDER_OK
       && o.status == KX_ORDER_FILLED && o.filled_at == T0 + 2
       && o.filled_qty.v == dec("10").v
       && o.filled_avg_price.v == dec("100.6").v,
       "the rest at 101: filled, average (400 + 606) / 10 = 100.6");

    ok(kx_order_fill(&o, dec("1"), dec("101"), T0 + 3) == KX_ORDER_ESTATE,
       "no fill after filled");

    kx_order_init(&o);
    o.quantity = dec("1");
    ok(kx_order_fill(&o, dec("0.000003"), dec("1.23456789"), T0)
       == KX_ORDER_OK && o.filled_avg_price.v == dec("1.23456789").v,
       "a tiny fill averages to exactly its price");
    ok(kx_order_fill(&o, dec("0.000001"), dec("1"), T0) == KX_ORDER_OK
       && o.filled_avg_price.v == dec("1.17592592").v,
       "the weighted average is exact, then half-even "
       "(4.70370367 / 4 = 1.1759259175)");

    /* notional: filled when the rest buys less than 0.000001 share */
    kx_order_init(&o);
    o.notional = dec("100");
    o.status = KX_ORDER_ACCEPTED;

    ok(kx_order_remaining_notional(&o, &rest) == KX_ORDER_OK
       && rest.v == dec("100").v, "notional: 100 remains");
    ok(kx_order_fill(&o, dec("0.5"), dec("150"), T0) == KX_ORDER_OK
       && o.status == KX_ORDER_PARTIALLY_FILLED,
       "notional: 75 of 100 spent, partially filled");
    ok(kx_order_remaining_notional(&o, &rest) == KX_ORDER_OK
       && rest.v == dec("25").v, "notional: 25 remains");
    ok(kx_order_remaining_qty(&o, &rest) == KX_ORDER_OK && rest.v == 0,
       "a notional order has no remaining quantity");
    ok(kx_order_fill(&o, dec("0.2"), dec("150"), T0) == KX_ORDER_EINVALID,
       "notional: a fill worth more than the rest is refused");
    ok(kx_order_fill(&o, dec("0.166666"), dec("150"), T0 + 5) == KX_ORDER_OK
       && o.status == KX_ORDER_FILLED && o.filled_at == T0 + 5,
       "notional: 24.9999 more, 0.0001 left buys nothing: filled");
}


static void
test_writer(void)
{
    size_t       len;
    kx_jw_t      w;
    const char  *out;
    kx_order_t   o;

    kx_order_init(&o);
    strcpy(o.id, "9f0c2a4e-8b8e-4c5e-9d47-3f0a1b2c3d4e");
    strcpy(o.client_order_id, "my-1");
    strcpy(o.symbol, "AAPL");
    o.side = KX_SIDE_BUY;
    o.type = KX_ORDER_STOP_LIMIT;
    o.tif = KX_TIF_GTC;
    o.quantity = dec("1.5");
    o.limit_price = dec("150");
    o.stop_price = dec("149.1234");
    o.status = KX_ORDER_FILLED;
    o.filled_qty = dec("1.5");
    o.filled_avg_price = dec("149.5");
    o.created_at = T0;
    o.updated_at = T0 + 1000000;
    o.filled_at = T0 + 1000000;

    kx_jw_init(&w);
    kx_order_jw(&w, &o);

    if (ok(kx_jw_finish(&w, &out, &len) == KX_JW_OK, "writes an order")) {
        is_str(out,
               "{\"id\":\"9f0c2a4e-8b8e-4c5e-9d47-3f0a1b2c3d4e\","
               "\"client_order_id\":\"my-1\",\"symbol\":\"AAPL\","
               "\"side\":\"buy\",\"type\":\"stop_limit\","
               "\"time_in_force\":\"gtc\",\"quantity\":\"1.5\","
               "\"qty\":\"1.5\",\"notional\":null,"
               "\"limit_price\":\"150.00\",\"stop_price\":\"149.1234\","
               "\"filled_qty\":\"1.5\",\"filled_avg_price\":\"149.50\","
               "\"status\":\"filled\","
               "\"created_at\":\"2023-11-14T22:13:20.123456Z\","
               "\"updated_at\":\"2023-11-14T22:13:21.123456Z\","
               "\"filled_at\":\"2023-11-14T22:13:21.123456Z\","
               "\"canceled_at\":null,\"expired_at\":null,"
               "\"triggered_at\":null,\"reject_reason\":null}",
               "  every field, decimals as exact strings");
    }

    kx_jw_free(&w);

    kx_order_init(&o);
    strcpy(o.symbol, "MSFT");
    o.side = KX_SIDE_SELL;
    o.notional = dec("100.5");
    o.filled_avg_price = dec("0.00012345");

    kx_jw_init(&w);
    kx_order_jw(&w, &o);

    if (ok(kx_jw_finish(&w, &out, &len) == KX_JW_OK,
           "writes a new notional order"))
    {
        is_str(out,
               "{\"id\":null,\"client_order_id\":null,\"symbol\":\"MSFT\","
               "\"side\":\"sell\",\"type\":\"market\","
               "\"time_in_force\":\"day\",\"quantity\":null,\"qty\":null,"
               "\"notional\":\"100.50\",\"limit_price\":null,"
               "\"stop_price\":null,\"filled_qty\":\"0\","
               "\"filled_avg_price\":\"0.00012345\",\"status\":\"new\","
               "\"created_at\":null,\"updated_at\":null,\"filled_at\":null,"
               "\"canceled_at\":null,\"expired_at\":null,"
               "\"triggered_at\":null,\"reject_reason\":null}",
               "  absent amounts and times are null, filled_qty \"0\"");
    }

    kx_jw_free(&w);
}


static void
time_is(int64_t usec, const char *want)
{
    char    buf[KX_ORDER_TIME_MAX + 1];
    size_t  n;

    n = kx_order_time_format(usec, buf, sizeof(buf));

    if (want == NULL) {
        ok(n == 0 && buf[0] == '\0', "time %" PRId64 " has no RFC 3339 form",
           usec);
        return;
    }

    if (!ok(n == strlen(want) && strcmp(buf, want) == 0, "time %s", want)) {
        diag("  got %s", buf);
    }
}


static void
test_time(void)
{
    char  small[KX_ORDER_TIME_MAX];

    time_is(0, "1970-01-01T00:00:00.000000Z");
    time_is(-1, "1969-12-31T23:59:59.999999Z");
    time_is(T0, "2023-11-14T22:13:20.123456Z");
    time_is(INT64_C(1709164800) * 1000000, "2024-02-29T00:00:00.000000Z");
    time_is(INT64_C(951868799) * 1000000 + 999999,
            "2000-02-29T23:59:59.999999Z");
    time_is(INT64_C(253402300799) * 1000000 + 999999,
            "9999-12-31T23:59:59.999999Z");
    time_is(INT64_C(-62167219200) * 1000000, "0000-01-01T00:00:00.000000Z");
    time_is(INT64_C(253402300800) * 1000000, NULL);
    time_is(INT64_MIN, NULL);

    ok(kx_order_time_format(0, small, sizeof(small)) == 0
       && small[0] == '\0', "a buffer too small gets nothing");
}


int
main(void)
{
    test_accepted();
    test_refused();
    test_names();
    test_transitions();
    test_set_status();
    test_fill();
    test_writer();
    test_time();

    return kx_tap_done();
}
