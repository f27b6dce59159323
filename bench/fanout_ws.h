
/*
 * Copyright (C) Kianax
 *
 * The piece of RFC 6455 both bench/fanout_client.c and
 * bench/fanout_floor.c need: Sec-WebSocket-Accept (SHA-1 and base64 of
 * the key and the GUID).  libc only; static functions, included once per
 * program.
 */


#ifndef _FANOUT_WS_H_INCLUDED_
#define _FANOUT_WS_H_INCLUDED_


#include <stdint.h>
#include <stdio.h>
#include <string.h>


/* SHA-1 (FIPS 180-4), only for Sec-WebSocket-Accept */

static uint32_t
fc_rol(uint32_t x, int n)
{
    return (x << n) | (x >> (32 - n));
}


static void
fc_sha1_block(uint32_t h[5], const unsigned char *p)
{
    int       i;
    uint32_t  w[80], a, b, c, d, e, f, k, t;

    for (i = 0; i < 16; i++) {
        w[i] = (uint32_t) p[4 * i] << 24 | (uint32_t) p[4 * i + 1] << 16
               | (uint32_t) p[4 * i + 2] << 8 | p[4 * i + 3];
    }

    for (i = 16; i < 80; i++) {
        w[i] = fc_rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    }

    a = h[0]; b = h[1]; c = h[2]; d = h[3]; e = h[4];

    for (i = 0; i < 80; i++) {
        if (i < 20) {
            f = (b & c) | (~b & d);
            k = 0x5a827999;

        } else if (i < 40) {
            f = b ^ c ^ d;
            k = 0x6ed9eba1;

        } else if (i < 60) {
            f = (b & c) | (b & d) | (c & d);
            k = 0x8f1bbcdc;

        } else {
            f = b ^ c ^ d;
            k = 0xca62c1d6;
        }

        t = fc_rol(a, 5) + f + e + k + w[i];
        e = d; d = c; c = fc_rol(b, 30); b = a; a = t;
    }

    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e;
}


static void
fc_sha1(const void *data, size_t len, unsigned char out[20])
{
    int                   i;
    size_t                n;
    uint32_t              h[5] = { 0x67452301, 0xefcdab89, 0x98badcfe,
                                   0x10325476, 0xc3d2e1f0 };
    uint64_t              bits;
    unsigned char         block[128];
    const unsigned char  *p;

    p = data;
    bits = (uint64_t) len * 8;

    for (n = len; n >= 64; n -= 64, p += 64) {
        fc_sha1_block(h, p);
    }

    memset(block, 0, sizeof(block));
    memcpy(block, p, n);
    block[n] = 0x80;
    n = (n < 56) ? 64 : 128;

    for (i = 0; i < 8; i++) {
        block[n - 1 - i] = (unsigned char) (bits >> (8 * i));
    }

    fc_sha1_block(h, block);
    if (n == 128) {
        fc_sha1_block(h, block + 64);
    }

    for (i = 0; i < 20; i++) {
        out[i] = (unsigned char) (h[i / 4] >> (24 - 8 * (i % 4)));
    }
}


static size_t
fc_base64(const unsigned char *src, size_t len, char *dst)
{
    size_t       i, n;
    uint32_t     v;
    static const char  tab[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    n = 0;

    for (i = 0; i + 2 < len; i += 3) {
        v = (uint32_t) src[i] << 16 | (uint32_t) src[i + 1] << 8 | src[i + 2];
        dst[n++] = tab[v >> 18];
        dst[n++] = tab[(v >> 12) & 63];
        dst[n++] = tab[(v >> 6) & 63];
        dst[n++] = tab[v & 63];
    }

    if (len - i == 1) {
        v = (uint32_t) src[i] << 16;
        dst[n++] = tab[v >> 18];
        dst[n++] = tab[(v >> 12) & 63];
        dst[n++] = '=';
        dst[n++] = '=';

    } else if (len - i == 2) {
        v = (uint32_t) src[i] << 16 | (uint32_t) src[i + 1] << 8;
        dst[n++] = tab[v >> 18];
        dst[n++] = tab[(v >> 12) & 63];
        dst[n++] = tab[(v >> 6) & 63];
        dst[n++] = '=';
    }

    dst[n] = '\0';
    return n;
}


static void
fc_ws_accept(const char *key, char *out)
{
    char           buf[128];
    unsigned char  digest[20];

    snprintf(buf, sizeof(buf), "%s258EAFA5-E914-47DA-95CA-C5AB0DC85B11",
             key);
    fc_sha1(buf, strlen(buf), digest);
    fc_base64(digest, 20, out);
}


#endif /* _FANOUT_WS_H_INCLUDED_ */
