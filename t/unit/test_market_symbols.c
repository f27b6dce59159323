
/*
 * Copyright (C) Kianax
 */


#include <stdlib.h>
#include <string.h>

#include "core/kx_decimal.h"
#include "core/kx_json.h"
#include "market/kx_symbols.h"

#include "kx_tap.h"


static int
is_upper_symbol(const char *s)
{
    size_t  i, n;

    n = strlen(s);

    if (n == 0 || n > KX_SYMBOL_MAX_LEN) {
        return 0;
    }

    for (i = 0; i < n; i++) {
        if (s[i] < 'A' || s[i] > 'Z') {
            return 0;
        }
    }

    return 1;
}


static void
test_table(void)
{
    size_t              i, n, etfs, bad_sorted, bad_field, bad_price;
    kx_dec_t            p;
    const kx_symbol_t  *s, *prev;

    n = kx_symbols_count();
    ok(n >= 50, "at least 50 symbols (%zu)", n);
    ok(kx_symbol_at(n) == NULL, "kx_symbol_at(count) is NULL");

    etfs = 0;
    bad_sorted = 0;
    bad_field = 0;
    bad_price = 0;
    prev = NULL;

    for (i = 0; i < n; i++) {
        s = kx_symbol_at(i);

        if (prev != NULL && strcmp(prev->symbol, s->symbol) >= 0) {
            bad_sorted++;
            diag("  out of order: %s then %s", prev->symbol, s->symbol);
        }

        if (!is_upper_symbol(s->symbol) || s->name[0] == '\0'
            || s->sector[0] == '\0'
            || (strcmp(s->exchange, "NASDAQ") != 0
                && strcmp(s->exchange, "NYSE") != 0
                && strcmp(s->exchange, "NYSE Arca") != 0)
            || s->vol_bp < 50 || s->vol_bp > 1000 || s->avg_volume <= 0)
        {
            bad_field++;
            diag("  bad entry: %s", s->symbol);
        }

        /* exact cents, positive */
        if (kx_dec_parse_places(s->base_price, strlen(s->base_price), 2, &p)
            != KX_DEC_OK || p.v <= 0 || kx_symbol_base_price(s, &p) != 0)
        {
            bad_price++;
            diag("  bad base price: %s %s", s->symbol, s->base_price);
        }

        etfs += s->type == KX_SYMBOL_ETF;
        prev = s;
    }

    ok(bad_sorted == 0, "strictly sorted by symbol");
    ok(bad_field == 0, "every entry is well formed");
    ok(bad_price == 0, "every base price is an exact positive amount in "
       "cents");
    ok(etfs >= 2, "a few ETFs (%zu)", etfs);
}


static void
test_lookup(void)
{
    size_t              i, n, bad;
    const kx_symbol_t  *s;
    kx_dec_t            p;
    static const char  *need[] = {
        "AAPL", "TSLA", "MSFT", "AMZN", "GOOGL", "META", "NVDA", "JPM", "V",
        "SPY", "QQQ"
    };

    for (i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
        s = kx_symbol_find(need[i], strlen(need[i]));
        ok(s != NULL && strcmp(s->symbol, need[i]) == 0, "%s is listed",
           need[i]);
    }

    n = kx_symbols_count();
    bad = 0;

    for (i = 0; i < n; i++) {
        s = kx_symbol_at(i);

        if (kx_symbol_index(s->symbol, strlen(s->symbol)) != (int) i) {
            bad++;
        }
    }

    ok(bad == 0, "every symbol is found at its own index");

    s = kx_symbol_find("AAPL", 4);
    ok(s != NULL && strcmp(s->name, "Apple Inc.") == 0
       && strcmp(s->exchange, "NASDAQ") == 0
       && strcmp(s->sector, "Information Technology") == 0
       && s->type == KX_SYMBOL_STOCK, "AAPL: Apple Inc., NASDAQ, IT, stock");
    ok(s != NULL && kx_symbol_base_price(s, &p) == KX_DEC_OK
       && p.v == INT64_C(22850000000), "AAPL base price 228.50");

    s = kx_symbol_find("SPY", 3);
    ok(s != NULL && s->type == KX_SYMBOL_ETF
       && strcmp(s->exchange, "NYSE Arca") == 0, "SPY is an ETF on NYSE "
       "Arca");

    is_int(kx_symbol_index("aapl", 4), -1, "lower case is not found");
    is_int(kx_symbol_index("AAP", 3), -1, "a prefix is not found");
    is_int(kx_symbol_index("AAPLX", 5), -1, "a longer name is not found");
    is_int(kx_symbol_index("AAPL", 3), -1, "the length counts: AAP");
    is_int(kx_symbol_index("", 0), -1, "empty is not found");
    is_int(kx_symbol_index(NULL, 4), -1, "NULL is not found");
    is_int(kx_symbol_index("ZZZZ", 4), -1, "past the end is not found");
    is_int(kx_symbol_index("A", 1), -1, "before the start is not found");
    is_int(kx_symbol_index("AAPL\0", 5), -1, "a trailing NUL counts");
    is_int(kx_symbol_index("ABCDEFGHIJ", 10), -1, "too long");
    ok(kx_symbol_index("XOM", 3) == (int) n - 1, "the last one is found");
    ok(kx_symbol_index("AAPL", 4) == 0, "the first one is found");
}


static void
test_json(void)
{
    size_t       len;
    kx_jw_t      w;
    const char  *out;

    kx_jw_init(&w);
    kx_symbol_json(&w, kx_symbol_find("JPM", 3));

    if (ok(kx_jw_finish(&w, &out, &len) == KX_JW_OK, "symbol JSON")) {
        is_str(out, "{\"symbol\":\"JPM\",\"name\":\"JPMorgan Chase & Co.\","
               "\"exchange\":\"NYSE\",\"sector\":\"Financials\","
               "\"type\":\"stock\"}", "JPM as JSON");
    }

    kx_jw_free(&w);

    is_str(kx_symbol_type_name(KX_SYMBOL_ETF), "etf", "type name etf");
}


int
main(void)
{
    test_table();
    test_lookup();
    test_json();

    return kx_tap_done();
}
