
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


char *
kx_fmt_u64_pad(char *p, uint64_t n, size_t width)
{
    char    tmp[KX_FMT_U64_LEN];
    size_t  len;

    len = (size_t) (kx_fmt_u64(tmp, n) - tmp);

    for ( /* void */ ; width > len; width--) {
        *p++ = '0';
    }

    memcpy(p, tmp, len);

    return p + len;
}
