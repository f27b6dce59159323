
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


int
main(void)
{
    uint64_t  n;

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
