
/*
 * Copyright (C) Kianax
 */


#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/kx_fmt.h"

#include "kx_tap.h"


static void
u64_is(uint64_t n)
{
    char   got[KX_FMT_U64_LEN + 8], want[32];
    char  *end;

    memset(got, 'x', sizeof(got));
    end = kx_fmt_u64(got, n);
    snprintf(want, sizeof(want), "%" PRIu64, n);

    ok((size_t) (end - got) == strlen(want)
       && memcmp(got, want, strlen(want)) == 0
       && got[strlen(want)] == 'x',
       "kx_fmt_u64(%s): the digits, nothing after them", want);
}


static void
pad_is(uint64_t n, size_t width, const char *want)
{
    char   got[KX_FMT_U64_LEN + 8];
    char  *end;

    memset(got, 'x', sizeof(got));
    end = kx_fmt_u64_pad(got, n, width);

    ok((size_t) (end - got) == strlen(want)
       && memcmp(got, want, strlen(want)) == 0
       && got[strlen(want)] == 'x',
       "kx_fmt_u64_pad(%" PRIu64 ", %zu): %s", n, width, want);
}


int
main(void)
{
    uint64_t  n;

    pad_is(0, 0, "0");
    pad_is(0, 4, "0000");
    pad_is(7, 2, "07");
    pad_is(42, 2, "42");
    pad_is(123, 2, "123");
    pad_is(999999, 6, "999999");
    pad_is(5, 6, "000005");
    pad_is(UINT64_C(18446744073709551615), 25,
           "0000018446744073709551615");

    u64_is(0);
    u64_is(7);
    u64_is(10);
    u64_is(99);
    u64_is(100);
    u64_is(1234567890);
    u64_is(UINT64_C(18446744073709551615));

    /* every power of ten and its neighbours */
    for (n = 1; n <= UINT64_C(1000000000000000000); n *= 10) {
        u64_is(n - 1);
        u64_is(n);
        u64_is(n + 1);
    }

    return kx_tap_done();
}
