
/*
 * Copyright (C) Kianax
 */


#include <string.h>

#include <openssl/evp.h>

#include "core/kx_base64.h"
#include "core/kx_utf8.h"
#include "notify/kx_ws.h"


#define KX_WS_GUID  "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define KX_WS_KEY_LEN  24       /* base64 of 16 bytes */


int
kx_ws_accept_key(const char *key, size_t len, char *accept)
{
    unsigned       mdlen;
    unsigned char  raw[18], md[EVP_MAX_MD_SIZE];
    char           buf[KX_WS_KEY_LEN + sizeof(KX_WS_GUID) - 1];

    if (len != KX_WS_KEY_LEN || kx_base64_decode(raw, key, len) != 16) {
        return -1;
    }

    memcpy(buf, key, len);
    memcpy(buf + len, KX_WS_GUID, sizeof(KX_WS_GUID) - 1);

    if (EVP_Digest(buf, sizeof(buf), md, &mdlen, EVP_sha1(), NULL) != 1
        || mdlen != 20)
    {
        return -1;
    }

    (void) kx_base64_encode(accept, md, 20);

    return 0;
}


static void
kx_ws_unmask(unsigned char *p, uint64_t len, const unsigned char *key)
{
    uint64_t  i, m8, w;

    /* a word at a time: the key repeats every 4 bytes */
    memcpy(&m8, key, 4);
    memcpy((unsigned char *) &m8 + 4, key, 4);

    for (i = 0; i + 8 <= len; i += 8) {
        memcpy(&w, p + i, 8);
        w ^= m8;
        memcpy(p + i, &w, 8);
    }

    for ( /* void */ ; i < len; i++) {
        p[i] ^= key[i & 3];
    }
}


int
kx_ws_frame_parse(unsigned char *buf, size_t len, uint64_t max_payload,
    kx_ws_frame_t *f)
{
    size_t    hlen;
    uint64_t  plen;
    unsigned  b0, b1, i;

    memset(f, 0, sizeof(kx_ws_frame_t));

    if (len < 2) {
        return KX_WS_AGAIN;
    }

    b0 = buf[0];
    b1 = buf[1];

    f->fin = (b0 & 0x80) ? 1 : 0;
    f->opcode = b0 & 0x0f;

    /* no extension is negotiated, so no reserved bit may be set */
    if (b0 & 0x70) {
        goto protocol;
    }

    switch (f->opcode) {

    case KX_WS_OP_CONT:
    case KX_WS_OP_TEXT:
    case KX_WS_OP_BINARY:
        break;

    case KX_WS_OP_CLOSE:
    case KX_WS_OP_PING:
    case KX_WS_OP_PONG:
        if (!f->fin || (b1 & 0x7f) > KX_WS_CONTROL_MAX) {
            goto protocol;
        }

        break;

    default:
        goto protocol;
    }

    /* RFC 6455 5.1: a server closes on an unmasked client frame */
    if (!(b1 & 0x80)) {
        goto protocol;
    }

    plen = b1 & 0x7f;
    hlen = 2;

    if (plen == 126) {
        if (len < 4) {
            return KX_WS_AGAIN;
        }

        plen = ((uint64_t) buf[2] << 8) | buf[3];
        hlen = 4;

        /* RFC 6455 5.2: the length in the fewest bytes that hold it */
        if (plen < 126) {
            goto protocol;
        }

    } else if (plen == 127) {
        if (len < 10) {
            return KX_WS_AGAIN;
        }

        if (buf[2] & 0x80) {
            goto protocol;
        }

        plen = 0;

        for (i = 2; i < 10; i++) {
            plen = (plen << 8) | buf[i];
        }

        hlen = 10;

        if (plen <= 0xffff) {
            goto protocol;
        }
    }

    if (plen > max_payload) {
        f->close_code = KX_WS_CLOSE_TOO_BIG;
        return KX_WS_ERROR;
    }

    hlen += 4;
    f->len = plen;
    f->need = hlen + (size_t) plen;

    if (len < f->need) {
        return KX_WS_AGAIN;
    }

    f->size = f->need;
    f->need = 0;
    f->payload = buf + hlen;

    kx_ws_unmask(f->payload, plen, buf + hlen - 4);

    return KX_WS_OK;

protocol:

    f->close_code = KX_WS_CLOSE_PROTOCOL;
    return KX_WS_ERROR;
}


unsigned
kx_ws_frame_sequence(unsigned *cur, const kx_ws_frame_t *f)
{
    if (f->opcode & 0x8) {
        /* control frames may come between fragments */
        return 0;
    }

    if (f->opcode == KX_WS_OP_CONT) {
        if (*cur == 0) {
            return KX_WS_CLOSE_PROTOCOL;
        }

    } else if (*cur != 0) {
        return KX_WS_CLOSE_PROTOCOL;

    } else {
        *cur = f->opcode;
    }

    if (f->fin) {
        *cur = 0;
    }

    return 0;
}


unsigned
kx_ws_close_parse(const unsigned char *p, size_t len, unsigned *code)
{
    unsigned  c;

    if (len == 0) {
        *code = KX_WS_CLOSE_NO_STATUS;
        return 0;
    }

    if (len == 1) {
        return KX_WS_CLOSE_PROTOCOL;
    }

    c = ((unsigned) p[0] << 8) | p[1];
    *code = c;

    /* what a peer may send: the defined codes in use, and 3000-4999 */
    if (!((c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1014)
          || (c >= 3000 && c <= 4999)))
    {
        return KX_WS_CLOSE_PROTOCOL;
    }

    if (kx_utf8_validate((const char *) p + 2, len - 2) != len - 2) {
        return KX_WS_CLOSE_INVALID;
    }

    return 0;
}


size_t
kx_ws_header(unsigned char *buf, unsigned opcode, unsigned fin, uint64_t len)
{
    unsigned  i;

    buf[0] = (unsigned char) ((fin ? 0x80 : 0) | (opcode & 0x0f));

    if (len < 126) {
        buf[1] = (unsigned char) len;
        return 2;
    }

    if (len <= 0xffff) {
        buf[1] = 126;
        buf[2] = (unsigned char) (len >> 8);
        buf[3] = (unsigned char) len;
        return 4;
    }

    buf[1] = 127;

    for (i = 0; i < 8; i++) {
        buf[9 - i] = (unsigned char) (len >> (8 * i));
    }

    return 10;
}


size_t
kx_ws_frame_size(uint64_t len)
{
    return (size_t) len + (len < 126 ? 2 : (len <= 0xffff ? 4 : 10));
}


size_t
kx_ws_client_frame(unsigned char *buf, unsigned opcode, unsigned fin,
    const unsigned char *payload, size_t len, const unsigned char mask[4])
{
    size_t  h, i;

    h = kx_ws_header(buf, opcode, fin, len);
    buf[1] |= 0x80;
    memcpy(buf + h, mask, 4);
    h += 4;

    for (i = 0; i < len; i++) {
        buf[h + i] = payload[i] ^ mask[i & 3];
    }

    return h + len;
}
