
/*
 * Copyright (C) Kianax
 */


#include <string.h>

#include "kx_tap.h"
#include "gateway/kx_enrich.h"


static kx_json_doc_t *
parse(const char *s)
{
    kx_json_doc_t  *doc;

    if (kx_json_parse(s, strlen(s), NULL, &doc, NULL) != KX_JSON_PE_OK) {
        return NULL;
    }

    return doc;
}


/* the string field key of obj equals want */
static int
field_is(const kx_json_node_t *obj, const char *key, const char *want)
{
    size_t       len;
    const char  *s;

    if (kx_json_get_str(obj, key, &s, &len) != KX_JSON_OK) {
        return 0;
    }

    return len == strlen(want) && memcmp(s, want, len) == 0;
}


int
main(void)
{
    size_t                 n, len;
    kx_jw_t                w;
    const char            *out, *sym;
    kx_json_doc_t         *pf, *q0, *res;
    const kx_json_node_t  *pos, *root, *p0, *p1, *quotes[2];

    pf = parse("{\"cash_balance\":\"1000.00\",\"reserved_cash\":\"10.00\","
               "\"realized_pl\":\"-3.50\",\"positions_value\":\"1.00\","
               "\"total_value\":\"1001.00\",\"unrealized_pl\":\"0.00\","
               "\"positions\":["
               "{\"symbol\":\"AAPL\",\"quantity\":\"1.5\","
               "\"avg_cost\":\"100.00\",\"current_price\":\"101.00\","
               "\"market_value\":\"151.50\",\"unrealized_pl\":\"1.50\"},"
               "{\"symbol\":\"TSLA\",\"quantity\":\"0.000001\","
               "\"avg_cost\":\"250.00\",\"current_price\":\"260.00\"}]}");
    q0 = parse("{\"symbol\":\"AAPL\",\"price\":\"110.01\",\"bid\":\"110.00\","
               "\"ask\":\"110.02\",\"change_percent\":\"1.25\","
               "\"timestamp\":\"2026-11-25T15:00:00.000Z\"}");

    kx_tap_ok(pf != NULL && q0 != NULL, "fixtures parse");

    pos = kx_enrich_positions(kx_json_root(pf), &n);
    kx_tap_ok(pos != NULL && n == 2, "two positions");

    sym = kx_enrich_symbol(pos, 1, &len);
    kx_tap_ok(sym && len == 4 && memcmp(sym, "TSLA", 4) == 0,
              "symbol of position 1");
    kx_tap_ok(kx_enrich_symbol(pos, 2, &len) == NULL, "no position 2");

    /* AAPL live at 110.01, TSLA without a quote: trading's 260.00 */
    quotes[0] = kx_json_root(q0);
    quotes[1] = NULL;

    kx_jw_init(&w);
    kx_tap_ok(kx_enrich_write(&w, kx_json_root(pf), quotes) == KX_ENRICH_OK,
              "enriched");
    kx_tap_ok(kx_jw_finish(&w, &out, &len) == KX_JW_OK, "valid JSON written");

    res = parse(out);
    root = kx_json_root(res);
    p0 = kx_json_arr_at(kx_json_obj_get(root, "positions"), 0);
    p1 = kx_json_arr_at(kx_json_obj_get(root, "positions"), 1);

    /* 1.5 x 110.01 = 165.015 exactly; 0.000001 x 260 = 0.00026 */
    kx_tap_ok(field_is(p0, "current_price", "110.01"), "live price used");
    kx_tap_ok(field_is(p0, "market_value", "165.015"),
              "market value exact, not rounded to cents");
    kx_tap_ok(field_is(p0, "unrealized_pl", "15.015"), "unrealized P&L");
    kx_tap_ok(field_is(p0, "change_percent", "1.25")
              && field_is(p0, "bid", "110.00")
              && field_is(p0, "quote_timestamp", "2026-11-25T15:00:00.000Z"),
              "quote fields added");
    kx_tap_ok(field_is(p0, "quote_status", "live"), "marked live");
    kx_tap_ok(field_is(p1, "current_price", "260.00")
              && field_is(p1, "market_value", "0.00026")
              && field_is(p1, "quote_status", "unavailable"),
              "no quote: trading's price kept, marked unavailable");
    kx_tap_ok(kx_json_obj_get(p1, "bid") == NULL, "no quote fields invented");

    kx_tap_ok(field_is(root, "positions_value", "165.01526"),
              "positions value is the exact sum");
    kx_tap_ok(field_is(root, "total_value", "1165.01526"),
              "total = cash + positions");
    kx_tap_ok(field_is(root, "unrealized_pl", "15.01501"),
              "total P&L: 15.015 + 0.000001 x 10");
    kx_tap_ok(field_is(root, "realized_pl", "-3.50")
              && field_is(root, "reserved_cash", "10.00"),
              "other fields pass through");

    kx_json_free(res);
    kx_jw_free(&w);

    /* no positions at all */
    kx_json_free(pf);
    pf = parse("{\"cash_balance\":\"5\",\"positions\":[]}");
    kx_jw_init(&w);
    kx_tap_ok(kx_enrich_write(&w, kx_json_root(pf), quotes) == KX_ENRICH_OK
              && kx_jw_finish(&w, &out, &len) == KX_JW_OK,
              "empty portfolio");
    res = parse(out);
    kx_tap_ok(field_is(kx_json_root(res), "total_value", "5.00"),
              "total of an empty portfolio is its cash");
    kx_json_free(res);
    kx_jw_free(&w);
    kx_json_free(pf);

    /* shapes that are refused, writing nothing */
    pf = parse("{\"positions\":[]}");
    kx_jw_init(&w);
    kx_tap_ok(kx_enrich_write(&w, kx_json_root(pf), quotes)
              == KX_ENRICH_EINVAL && w.len == 0, "no cash: refused");
    kx_jw_free(&w);
    kx_json_free(pf);

    pf = parse("{\"cash_balance\":\"1\",\"positions\":[{\"symbol\":\"A\"}]}");
    kx_jw_init(&w);
    kx_tap_ok(kx_enrich_write(&w, kx_json_root(pf), quotes)
              == KX_ENRICH_EINVAL && w.len == 0,
              "position without quantity: refused");
    kx_jw_free(&w);
    kx_json_free(pf);

    pf = parse("{\"cash_balance\":\"1\",\"positions\":"
               "[{\"symbol\":\"A\",\"quantity\":\"90000000000\","
               "\"avg_cost\":\"2\"}]}");
    kx_jw_init(&w);
    kx_tap_ok(kx_enrich_write(&w, kx_json_root(pf), quotes)
              == KX_ENRICH_ERANGE && w.len == 0, "overflow: refused");
    kx_jw_free(&w);
    kx_json_free(pf);

    /*
     * A position that carries fields the enrichment writes (found by
     * fuzz/fuzz_gateway_misc.c): each must come out once, or the answer
     * has duplicate keys and JSON readers disagree on its values.
     */
    pf = parse("{\"cash_balance\":\"1\",\"positions\":["
               "{\"symbol\":\"AAPL\",\"quantity\":\"1\",\"avg_cost\":\"1\","
               "\"quote_status\":\"stale\",\"bid\":\"1.00\","
               "\"quote_timestamp\":\"old\",\"note\":\"kept\"},"
               "{\"symbol\":\"TSLA\",\"quantity\":\"1\",\"avg_cost\":\"1\","
               "\"quote_status\":\"stale\",\"bid\":\"2.00\"}]}");
    quotes[0] = kx_json_root(q0);
    quotes[1] = NULL;
    kx_jw_init(&w);
    kx_tap_ok(kx_enrich_write(&w, kx_json_root(pf), quotes) == KX_ENRICH_OK
              && kx_jw_finish(&w, &out, &len) == KX_JW_OK,
              "position with fields of its own enriched");
    res = parse(out);
    kx_tap_ok(res != NULL, "no duplicate keys in the answer");
    root = kx_json_root(res);
    p0 = kx_json_arr_at(kx_json_obj_get(root, "positions"), 0);
    p1 = kx_json_arr_at(kx_json_obj_get(root, "positions"), 1);
    kx_tap_ok(field_is(p0, "quote_status", "live")
              && field_is(p0, "bid", "110.00")
              && field_is(p0, "quote_timestamp", "2026-11-25T15:00:00.000Z")
              && field_is(p0, "note", "kept"),
              "live: the quote's fields replace the position's");
    kx_tap_ok(field_is(p1, "quote_status", "unavailable")
              && field_is(p1, "bid", "2.00"),
              "no quote: the status replaced, the other fields kept");
    kx_json_free(res);
    kx_jw_free(&w);
    kx_json_free(pf);

    kx_json_free(q0);

    return kx_tap_done();
}
