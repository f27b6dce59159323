
/*
 * Copyright (C) Kianax
 */


#include "kx_utf8.h"


int
kx_utf8_next(const unsigned char *p, size_t avail, uint32_t *cp)
{
    int            n, i;
    uint32_t       c;
    unsigned char  b, lo, hi;

    b = p[0];

    if (b < 0x80) {
        *cp = b;
        return 1;
    }

    /* the second byte's range is what rules out overlongs and surrogates */
    lo = 0x80;
    hi = 0xbf;

    if (b >= 0xc2 && b <= 0xdf) {
        n = 2;
        c = b & 0x1f;

    } else if (b >= 0xe0 && b <= 0xef) {
        n = 3;
        c = b & 0x0f;

        if (b == 0xe0) {
            lo = 0xa0;

        } else if (b == 0xed) {
            hi = 0x9f;
        }

    } else if (b >= 0xf0 && b <= 0xf4) {
        n = 4;
        c = b & 0x07;

        if (b == 0xf0) {
            lo = 0x90;

        } else if (b == 0xf4) {
            hi = 0x8f;
        }

    } else {
        return -1;
    }

    for (i = 1; i < n; i++) {
        if ((size_t) i >= avail) {
            return -i;
        }

        b = p[i];

        if (b < lo || b > hi) {
            return -i;
        }

        lo = 0x80;
        hi = 0xbf;
        c = (c << 6) | (b & 0x3f);
    }

    *cp = c;

    return n;
}


size_t
kx_utf8_validate(const char *s, size_t len)
{
    int                   n;
    size_t                i;
    uint32_t              cp;
    const unsigned char  *p;

    p = (const unsigned char *) s;
    i = 0;

    while (i < len) {
        if (p[i] < 0x80) {
            i++;
            continue;
        }

        n = kx_utf8_next(p + i, len - i, &cp);
        if (n < 0) {
            return i;
        }

        i += n;
    }

    return len;
}
