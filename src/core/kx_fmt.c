
/*
 * Copyright (C) Kianax
 */


#include <string.h>

#include "core/kx_fmt.h"


char *
kx_fmt_u64(char *p, uint64_t n)
{
    char   tmp[KX_FMT_U64_LEN], *t;

    t = tmp + KX_FMT_U64_LEN;

    do {
        *--t = (char) ('0' + n % 10);
        n /= 10;
    } while (n);

    memcpy(p, t, (size_t) (tmp + KX_FMT_U64_LEN - t));

    return p + (tmp + KX_FMT_U64_LEN - t);
}
