
/*
 * Copyright (C) Kianax
 */


#include <string.h>

#include "core/kx_outbox.h"

#include "kx_tap.h"


static void
table_is(const char *name, int want_rc, size_t want_schema)
{
    int     rc;
    size_t  schema;

    schema = 12345;
    rc = kx_outbox_table_check(name, strlen(name), &schema);

    if (want_rc != 0) {
        ok(rc == -1, "table \"%s\" is refused", name);
        return;
    }

    if (!ok(rc == 0 && schema == want_schema,
            "table \"%s\" is accepted, schema of %zu bytes", name,
            want_schema))
    {
        diag("  got rc %d, schema %zu", rc, schema);
    }
}


static void
test_table(void)
{
    char  long_ident[80];

    table_is("trading.outbox", 0, 7);
    table_is("agents.outbox", 0, 6);
    table_is("_s.t_1", 0, 2);
    table_is("a.b", 0, 1);

    table_is("outbox", -1, 0);
    table_is("", -1, 0);
    table_is(".outbox", -1, 0);
    table_is("trading.", -1, 0);
    table_is("trading.out.box", -1, 0);
    table_is("Trading.outbox", -1, 0);
    table_is("trading.outbox;", -1, 0);
    table_is("trading.outbox where 1=1", -1, 0);
    table_is("trading.\"outbox\"", -1, 0);
    table_is("1trading.outbox", -1, 0);
    table_is("trading.out-box", -1, 0);

    memset(long_ident, 'a', sizeof(long_ident));
    memcpy(long_ident + 63, ".t", 3);
    table_is(long_ident, 0, 63);

    memset(long_ident, 'a', sizeof(long_ident));
    memcpy(long_ident + 64, ".t", 3);
    table_is(long_ident, -1, 0);
}


static void
test_chain(void)
{
    long              prev[8];
    size_t            i, scratch[16];
    kx_outbox_str_t   users[8];
    const char       *names[8] = { "u1", "u2", "u1", "u3", "u2", "u1",
                                   "u10", "u3" };
    long              want[8] = { -1, -1, 0, -1, 1, 2, -1, 3 };
    int               same;

    for (i = 0; i < 8; i++) {
        users[i].data = names[i];
        users[i].len = strlen(names[i]);
    }

    kx_outbox_chain(users, 8, prev, scratch);

    same = 1;
    for (i = 0; i < 8; i++) {
        if (prev[i] != want[i]) {
            diag("  row %zu: prev %ld, want %ld", i, prev[i], want[i]);
            same = 0;
        }
    }

    ok(same, "each row waits for the previous row of its user");

    /* one user only: a straight chain */
    for (i = 0; i < 8; i++) {
        users[i].data = "same-user";
        users[i].len = 9;
    }

    kx_outbox_chain(users, 8, prev, scratch);

    same = (prev[0] == -1);
    for (i = 1; i < 8; i++) {
        same = same && prev[i] == (long) i - 1;
    }

    ok(same, "one user: every row waits for the one before");

    kx_outbox_chain(users, 0, prev, scratch);
    ok(1, "an empty batch is fine");
}


static void
test_chain_big(void)
{
    static long              prev[1000];
    static size_t            scratch[2000];
    static char              names[1000][8];
    static kx_outbox_str_t   users[1000];

    long    last[37];
    size_t  i, u;
    int     same;

    /* 1000 rows over 37 users, checked against the obvious answer */
    for (i = 0; i < 1000; i++) {
        u = (i * 7919) % 37;
        users[i].len = snprintf(names[i], sizeof(names[i]), "u%zu", u);
        users[i].data = names[i];
    }

    kx_outbox_chain(users, 1000, prev, scratch);

    for (u = 0; u < 37; u++) {
        last[u] = -1;
    }

    same = 1;
    for (i = 0; i < 1000; i++) {
        u = (i * 7919) % 37;
        if (prev[i] != last[u]) {
            same = 0;
        }
        last[u] = (long) i;
    }

    ok(same, "1000 rows over 37 users: chains as expected");
}


static void
test_pace(void)
{
    int64_t           d;
    unsigned          i;
    kx_outbox_pace_t  p;

    kx_outbox_pace_init(&p, 20, 1000, 100, 5000);

    ok(kx_outbox_pace_next(&p, KX_OUTBOX_ROUND_FULL, 0) == 0,
       "a full batch: the next round at once");
    ok(kx_outbox_pace_next(&p, KX_OUTBOX_ROUND_SOME, 0) == 20,
       "some rows: interval_min");

    ok(kx_outbox_pace_next(&p, KX_OUTBOX_ROUND_EMPTY, 0) == 20,
       "idle 1: 20");
    ok(kx_outbox_pace_next(&p, KX_OUTBOX_ROUND_EMPTY, 0) == 40,
       "idle 2: 40");
    ok(kx_outbox_pace_next(&p, KX_OUTBOX_ROUND_EMPTY, 0) == 80,
       "idle 3: 80");

    for (i = 0; i < 10; i++) {
        d = kx_outbox_pace_next(&p, KX_OUTBOX_ROUND_EMPTY, 0);
    }

    ok(d == 1000, "idle: at most interval_max (%" PRId64 ")", d);

    ok(kx_outbox_pace_next(&p, KX_OUTBOX_ROUND_SOME, 0) == 20,
       "work again: back to interval_min");

    d = kx_outbox_pace_next(&p, KX_OUTBOX_ROUND_FAILED, 0);
    ok(d == 100, "first failure: retry_min (%" PRId64 ")", d);

    for (i = 0; i < 20; i++) {
        d = kx_outbox_pace_next(&p, KX_OUTBOX_ROUND_FAILED, UINT32_MAX);
        if (d < 100 || d > 5000) {
            break;
        }
    }

    ok(i == 20 && d == 5000, "failures: within [retry_min, retry_max], "
       "reaching retry_max (%" PRId64 ")", d);

    d = kx_outbox_pace_next(&p, KX_OUTBOX_ROUND_FAILED, 0);
    ok(d == 100, "jitter may give retry_min, never less");

    ok(kx_outbox_pace_next(&p, KX_OUTBOX_ROUND_EMPTY, 0) == 20,
       "after a failure, idle starts at interval_min");
    ok(p.failures == 0, "... and the failure count is reset");

    (void) kx_outbox_pace_next(&p, KX_OUTBOX_ROUND_FAILED, UINT32_MAX);
    (void) kx_outbox_pace_next(&p, KX_OUTBOX_ROUND_FAILED, UINT32_MAX);

    for (i = 0; i < 5; i++) {
        d = kx_outbox_pace_next(&p, KX_OUTBOX_ROUND_STUCK, UINT32_MAX);
        if (d != 100) {
            break;
        }
    }

    ok(i == 5 && p.failures == 0, "rows refused by a working Redis: "
       "retry_min every time, no backoff");
}


static void
elem_is(const char *s, const char *want)
{
    char    buf[64];
    size_t  n, len;

    len = s ? strlen(s) : 0;
    n = kx_outbox_array_elem(NULL, s, len);

    memset(buf, 0, sizeof(buf));
    if (kx_outbox_array_elem(buf, s, len) != n) {
        ok(0, "array element: same length twice");
        return;
    }

    if (!ok(n == strlen(want) && memcmp(buf, want, n) == 0,
            "array element %s", want))
    {
        kx_tap_diag_bytes("got", buf, n);
    }
}


static void
test_array_elem(void)
{
    elem_is(NULL, "NULL");
    elem_is("", "\"\"");
    elem_is("1700000000000-0", "\"1700000000000-0\"");
    elem_is("NULL", "\"NULL\"");
    elem_is("a\"b\\c", "\"a\\\"b\\\\c\"");
    elem_is("{x,y}", "\"{x,y}\"");
}


int
main(void)
{
    test_table();
    test_chain();
    test_chain_big();
    test_pace();
    test_array_elem();

    return kx_tap_done();
}
