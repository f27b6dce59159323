
/*
 * Copyright (C) Kianax
 */


#include "kx_base64.h"


static size_t kx_base64_enc(char *dst, const unsigned char *src, size_t len,
    const char *alphabet, int pad);
static long kx_base64_dec(unsigned char *dst, const char *src, size_t len,
    int url);


static const char  kx_b64_std[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char  kx_b64_url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";


size_t
kx_base64_encode(char *dst, const unsigned char *src, size_t len)
{
    return kx_base64_enc(dst, src, len, kx_b64_std, 1);
}


size_t
kx_base64url_encode(char *dst, const unsigned char *src, size_t len)
{
    return kx_base64_enc(dst, src, len, kx_b64_url, 0);
}


long
kx_base64_decode(unsigned char *dst, const char *src, size_t len)
{
    return kx_base64_dec(dst, src, len, 0);
}


long
kx_base64url_decode(unsigned char *dst, const char *src, size_t len)
{
    return kx_base64_dec(dst, src, len, 1);
}


static size_t
kx_base64_enc(char *dst, const unsigned char *src, size_t len,
    const char *alphabet, int pad)
{
    char      *p;
    uint32_t   v;

    p = dst;

    while (len >= 3) {
        v = (uint32_t) src[0] << 16 | (uint32_t) src[1] << 8 | src[2];
        *p++ = alphabet[v >> 18];
        *p++ = alphabet[(v >> 12) & 0x3f];
        *p++ = alphabet[(v >> 6) & 0x3f];
        *p++ = alphabet[v & 0x3f];
        src += 3;
        len -= 3;
    }

    if (len) {
        v = (uint32_t) src[0] << 16 | (len == 2 ? (uint32_t) src[1] << 8 : 0);
        *p++ = alphabet[v >> 18];
        *p++ = alphabet[(v >> 12) & 0x3f];

        if (len == 2) {
            *p++ = alphabet[(v >> 6) & 0x3f];
        } else if (pad) {
            *p++ = '=';
        }

        if (pad) {
            *p++ = '=';
        }
    }

    return p - dst;
}


static int
kx_base64_value(char c, int url)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }

    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }

    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }

    if (c == (url ? '-' : '+')) {
        return 62;
    }

    if (c == (url ? '_' : '/')) {
        return 63;
    }

    return -1;
}


static long
kx_base64_dec(unsigned char *dst, const char *src, size_t len, int url)
{
    int             d;
    size_t          i, n, rest;
    uint32_t        v;
    unsigned char  *p;

    if (!url) {
        /* padded: a multiple of 4, with at most two '=' at the end */
        if (len % 4) {
            return -1;
        }

        if (len && src[len - 1] == '=') {
            len--;
            if (src[len - 1] == '=') {
                len--;
            }
        }
    }

    rest = len % 4;
    if (rest == 1) {
        return -1;
    }

    p = dst;
    n = len - rest;

    for (i = 0; i < n; i += 4) {
        v = 0;
        for (int k = 0; k < 4; k++) {
            d = kx_base64_value(src[i + k], url);
            if (d < 0) {
                return -1;
            }
            v = v << 6 | (uint32_t) d;
        }

        *p++ = (unsigned char) (v >> 16);
        *p++ = (unsigned char) (v >> 8);
        *p++ = (unsigned char) v;
    }

    if (rest) {
        v = 0;
        for (size_t k = 0; k < rest; k++) {
            d = kx_base64_value(src[n + k], url);
            if (d < 0) {
                return -1;
            }
            v = v << 6 | (uint32_t) d;
        }

        if (rest == 2) {
            if (v & 0x0f) {
                return -1;      /* bits that no encoder would set */
            }
            *p++ = (unsigned char) (v >> 4);

        } else {
            if (v & 0x03) {
                return -1;
            }
            *p++ = (unsigned char) (v >> 10);
            *p++ = (unsigned char) (v >> 2);
        }
    }

    return (long) (p - dst);
}
