
/*
 * Copyright (C) Kianax
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/sha.h>

#include "kx_base64.h"
#include "kx_wsc.h"


/* the longest 101 answer header we wait for, blank line included */
#define KX_WSC_RESPONSE_MAX  16384


static const char  kx_wsc_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";


void
kx_wsc_key(const unsigned char nonce[16], char key[KX_WSC_KEY_LEN + 1])
{
    size_t  n;

    n = kx_base64_encode(key, nonce, 16);
    key[n] = '\0';
}


size_t
kx_wsc_request(char *buf, size_t size, const char *host, const char *path,
    const char *key)
{
    return (size_t) snprintf(buf, size,
                             "GET %s HTTP/1.1\r\n"
                             "Host: %s\r\n"
                             "Upgrade: websocket\r\n"
                             "Connection: Upgrade\r\n"
                             "Sec-WebSocket-Key: %s\r\n"
                             "Sec-WebSocket-Version: 13\r\n"
                             "User-Agent: kianax\r\n"
                             "\r\n",
                             path, host, key);
}


/* a comma-separated header value holds token (case-insensitive) */
static int
kx_wsc_has_token(const char *v, size_t len, const char *token)
{
    size_t  tlen, i, s, e;

    tlen = strlen(token);
    i = 0;

    while (i < len) {
        while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ',')) {
            i++;
        }

        s = i;
        while (i < len && v[i] != ',') {
            i++;
        }

        e = i;
        while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t')) {
            e--;
        }

        if (e - s == tlen && strncasecmp(v + s, token, tlen) == 0) {
            return 1;
        }
    }

    return 0;
}


int
kx_wsc_response(const char *buf, size_t len, const char *key, size_t *size,
    unsigned *status)
{
    size_t          end, max, ln, vlen, nlen, n;
    unsigned        upgrade, connection, accept;
    const char     *line, *colon, *v, *eol;
    unsigned char   sha[SHA_DIGEST_LENGTH];
    char            src[KX_WSC_KEY_LEN + sizeof(kx_wsc_guid)];
    char            want[32];

    *status = 0;

    /*
     * The header must end within its first KX_WSC_RESPONSE_MAX bytes
     * however the reads split it: the verdict depends on those bytes
     * only, not on whether the blank line came in the read that went
     * past the limit.
     */
    max = (len < KX_WSC_RESPONSE_MAX) ? len : KX_WSC_RESPONSE_MAX;

    for (end = 0; end + 3 < max; end++) {
        if (memcmp(buf + end, "\r\n\r\n", 4) == 0) {
            break;
        }
    }

    if (end + 3 >= max) {
        return (len >= KX_WSC_RESPONSE_MAX) ? KX_WSC_EHANDSHAKE
                                            : KX_WSC_AGAIN;
    }

    /*
     * "HTTP/1.1 101 Switching Protocols": three digits, then the space
     * before the reason (or the line's end), so "1/;" or "1010" is not
     * taken for 101
     */
    if (end < 12 || memcmp(buf, "HTTP/1.1 ", 9) != 0
        || buf[9] < '1' || buf[9] > '9'
        || buf[10] < '0' || buf[10] > '9'
        || buf[11] < '0' || buf[11] > '9'
        || (buf[12] != ' ' && buf[12] != '\r'))
    {
        return KX_WSC_EHANDSHAKE;
    }

    *status = (unsigned) ((buf[9] - '0') * 100 + (buf[10] - '0') * 10
                          + (buf[11] - '0'));

    if (*status != 101) {
        return KX_WSC_EHANDSHAKE;
    }

    n = strlen(key);
    if (n != KX_WSC_KEY_LEN) {
        return KX_WSC_EHANDSHAKE;
    }

    memcpy(src, key, n);
    memcpy(src + n, kx_wsc_guid, sizeof(kx_wsc_guid) - 1);
    SHA1((unsigned char *) src, n + sizeof(kx_wsc_guid) - 1, sha);
    n = kx_base64_encode(want, sha, SHA_DIGEST_LENGTH);
    want[n] = '\0';

    upgrade = connection = accept = 0;

    /* a 101 with no header lines at all lacks what is checked below */
    line = memchr(buf, '\n', end);
    if (line == NULL) {
        return KX_WSC_EHANDSHAKE;
    }

    line++;

    while (line < buf + end) {
        eol = memchr(line, '\r', (size_t) (buf + end + 2 - line));
        if (eol == NULL) {
            return KX_WSC_EHANDSHAKE;
        }

        ln = (size_t) (eol - line);
        colon = memchr(line, ':', ln);

        if (colon != NULL) {
            nlen = (size_t) (colon - line);
            v = colon + 1;
            vlen = (size_t) (eol - v);

            while (vlen && (*v == ' ' || *v == '\t')) {
                v++;
                vlen--;
            }

            while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t')) {
                vlen--;
            }

            if (nlen == 7 && strncasecmp(line, "upgrade", 7) == 0) {
                upgrade |= kx_wsc_has_token(v, vlen, "websocket");

            } else if (nlen == 10 && strncasecmp(line, "connection", 10) == 0)
            {
                connection |= kx_wsc_has_token(v, vlen, "upgrade");

            } else if (nlen == 20
                       && strncasecmp(line, "sec-websocket-accept", 20) == 0)
            {
                accept = (vlen == n && memcmp(v, want, n) == 0);
            }
        }

        line = eol + 2;
    }

    if (!(upgrade && connection && accept)) {
        return KX_WSC_EHANDSHAKE;
    }

    *size = end + 4;

    return KX_WSC_OK;
}


size_t
kx_wsc_frame(unsigned char *out, size_t size, unsigned opcode,
    const unsigned char *payload, size_t len, const unsigned char mask[4])
{
    size_t  h, i, total;

    h = (len < 126) ? 2 : (len <= 0xffff) ? 4 : 10;
    total = h + 4 + len;

    if (total > size) {
        return total;
    }

    out[0] = (unsigned char) (0x80 | (opcode & 0x0f));

    if (len < 126) {
        out[1] = (unsigned char) (0x80 | len);

    } else if (len <= 0xffff) {
        out[1] = 0x80 | 126;
        out[2] = (unsigned char) (len >> 8);
        out[3] = (unsigned char) len;

    } else {
        out[1] = 0x80 | 127;
        for (i = 0; i < 8; i++) {
            out[2 + i] = (unsigned char) ((uint64_t) len >> (56 - 8 * i));
        }
    }

    memcpy(out + h, mask, 4);

    for (i = 0; i < len; i++) {
        out[h + 4 + i] = payload[i] ^ mask[i & 3];
    }

    return total;
}


void
kx_wsc_init(kx_wsc_t *ws, size_t max_message)
{
    memset(ws, 0, sizeof(kx_wsc_t));
    ws->max_message = max_message;
}


void
kx_wsc_free(kx_wsc_t *ws)
{
    free(ws->buf);
    ws->buf = NULL;
    ws->len = ws->cap = 0;
    ws->opcode = 0;
}


static int
kx_wsc_append(kx_wsc_t *ws, const unsigned char *p, size_t len)
{
    size_t          cap;
    unsigned char  *nb;

    if (len > ws->max_message - ws->len) {
        return KX_WSC_ETOOBIG;
    }

    /* empty fragments: ws->buf may still be NULL, and NULL + 0 is UB */
    if (len == 0) {
        return KX_WSC_OK;
    }

    if (ws->len + len > ws->cap) {
        cap = ws->cap ? ws->cap : 4096;
        while (cap < ws->len + len) {
            cap *= 2;
        }

        nb = realloc(ws->buf, cap);
        if (nb == NULL) {
            return KX_WSC_ENOMEM;
        }

        ws->buf = nb;
        ws->cap = cap;
    }

    memcpy(ws->buf + ws->len, p, len);
    ws->len += len;

    return KX_WSC_OK;
}


int
kx_wsc_read(kx_wsc_t *ws, const unsigned char *buf, size_t len,
    size_t *used, kx_wsc_msg_t *msg)
{
    int        rc;
    size_t     h, i;
    unsigned   fin, opcode;
    uint64_t   plen;

    *used = 0;
    msg->opcode = 0;
    msg->data = NULL;
    msg->len = 0;

    if (len < 2) {
        return KX_WSC_AGAIN;
    }

    fin = buf[0] & 0x80;
    opcode = buf[0] & 0x0f;

    /* no extension was negotiated: RSV bits are errors; a server's
     * frames are never masked */
    if ((buf[0] & 0x70) || (buf[1] & 0x80)) {
        return KX_WSC_EPROTO;
    }

    plen = buf[1] & 0x7f;
    h = 2;

    if (plen == 126) {
        if (len < 4) {
            return KX_WSC_AGAIN;
        }
        plen = ((uint64_t) buf[2] << 8) | buf[3];
        h = 4;

    } else if (plen == 127) {
        if (len < 10) {
            return KX_WSC_AGAIN;
        }
        for (plen = 0, i = 0; i < 8; i++) {
            plen = (plen << 8) | buf[2 + i];
        }
        if (plen >> 63) {
            return KX_WSC_EPROTO;
        }
        h = 10;
    }

    if (opcode >= 0x8) {
        if (opcode > KX_WSC_OP_PONG || !fin || plen > 125) {
            return KX_WSC_EPROTO;
        }

    } else if (opcode > KX_WSC_OP_BINARY) {
        return KX_WSC_EPROTO;
    }

    if (plen > ws->max_message) {
        return KX_WSC_ETOOBIG;
    }

    if (len - h < plen) {
        return KX_WSC_AGAIN;
    }

    *used = h + (size_t) plen;

    if (opcode >= 0x8) {
        msg->opcode = opcode;
        msg->data = buf + h;
        msg->len = (size_t) plen;
        return KX_WSC_OK;
    }

    if (opcode == KX_WSC_OP_CONT) {
        if (ws->opcode == 0) {
            return KX_WSC_EPROTO;
        }

    } else {
        if (ws->opcode != 0) {
            return KX_WSC_EPROTO;
        }

        if (fin) {
            /* the common case: a whole message in one frame, no copy */
            msg->opcode = opcode;
            msg->data = buf + h;
            msg->len = (size_t) plen;
            return KX_WSC_OK;
        }

        ws->opcode = opcode;
        ws->len = 0;
    }

    rc = kx_wsc_append(ws, buf + h, (size_t) plen);
    if (rc != KX_WSC_OK) {
        return rc;
    }

    if (fin) {
        /* a message of empty fragments has no buffer: point at its
         * last (empty) payload, so data is never NULL */
        msg->opcode = ws->opcode;
        msg->data = ws->len ? ws->buf : buf + h;
        msg->len = ws->len;
        ws->opcode = 0;
    }

    return KX_WSC_OK;
}
