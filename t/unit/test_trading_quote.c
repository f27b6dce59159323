
/*
 * Copyright (C) Kianax
 *
 * kx_quote_parse: quotes as the market service writes them (GET
 * /v1/quotes/{symbol} and kx:quote:<SYM> messages, contract C1).
 */


#include <string.h>

#include "trading/kx_quote.h"

#include "kx_tap.h"


static int
parse(const char *s, kx_quote_t *q, char *sym)
{
    return kx_quote_parse(s, strlen(s), q, sym, 11);
}


int
main(void)
{
    char        sym[11];
    kx_quote_t  q;

    ok(parse("{\"type\":\"quote\",\"symbol\":\"AAPL\",\"price\":\"189.97\","
             "\"bid\":\"189.95\",\"ask\":\"189.99\",\"bid_size\":300,"
             "\"ask_size\":200,\"open\":\"188.00\",\"prev_close\":\"187.5\","
             "\"change_percent\":\"1.32\",\"timestamp\":"
             "\"2026-11-25T20:29:00.250Z\",\"sent_ns\":12345}", &q, sym)
       == 0, "a published quote, with an extra field");
    is_str(sym, "AAPL", "symbol");
    ok(q.bid.v == INT64_C(18995000000) && q.ask.v == INT64_C(18999000000)
       && q.last.v == INT64_C(18997000000), "bid, ask, last exact");
    ok(q.bid_size.v == INT64_C(30000000000)
       && q.ask_size.v == INT64_C(20000000000), "sizes");

    ok(parse("{\"symbol\":\"MSFT\",\"bid\":null,\"ask\":\"410.1\"}", &q, sym)
       == 0 && q.bid.v == 0 && q.last.v == 0, "null or absent: none");

    ok(parse("{\"symbol\":\"MSFT\",\"bid\":\"-1\"}", &q, sym) != 0,
       "a negative price is refused");
    ok(parse("{\"symbol\":\"MSFT\",\"ask\":\"1.123456789\"}", &q, sym) != 0,
       "more than 8 places is refused");
    ok(parse("{\"bid\":\"1\"}", &q, sym) != 0, "no symbol");
    ok(parse("{\"symbol\":\"ABCDEFGHIJKL\"}", &q, sym) != 0,
       "a symbol too long");
    ok(parse("not json", &q, sym) != 0, "not JSON");

    return kx_tap_done();
}
