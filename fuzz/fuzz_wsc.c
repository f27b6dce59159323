
/*
 * Copyright (C) Kianax
 */


/*
 * What a WebSocket server (Polygon's stream, or anyone in the path of a
 * ws:// connection) sends our client: the 101 answer, then frames, as
 * the glue reads them (frames may follow the header in the same read).
 *
 * The input is two bytes of settings (max_message, a split point) and
 * then the bytes on the wire.  Checked: the answer is accepted only as
 * a complete "HTTP/1.1 101" header ending at the first blank line, and
 * any prefix of it is "again" or the same verdict; the frame reader
 * gives the same messages and the same final result whether the bytes
 * come whole, in two reads split anywhere, or one at a time; it never
 * takes more than it was given, a frame's size is its header plus its
 * payload length, an unfragmented payload is the bytes at the end of
 * its frame and a joined message is its fragments' payloads in order.
 * Our own frames (kx_wsc_frame) carry the payload they were given.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "core/kx_base64.h"
#include "core/kx_wsc.h"

#include "fuzz_check.h"


/* kx_wsc.c's bound on the answer's header, blank line included */
#define FZ_RESPONSE_MAX  16384


/* RFC 6455 1.3's key; its accept value is in the seeds */
static const char  fz_key[] = "dGhlIHNhbXBsZSBub25jZQ==";

static const size_t  fz_max_message[8] = {
    0, 1, 5, 125, 126, 200, 4096, 1024 * 1024
};


/* what a read sequence produced: messages and the final result */
typedef struct {
    unsigned char   *buf;
    size_t           len;
    size_t           cap;
    size_t           consumed;
    int              rc;
} fz_log_t;


static void
fz_log_add(fz_log_t *log, const void *p, size_t len)
{
    check(log->len + len <= log->cap);
    if (len) {
        memcpy(log->buf + log->len, p, len);
        log->len += len;
    }
}


static void
fz_log_msg(fz_log_t *log, const kx_wsc_msg_t *msg)
{
    unsigned char  op;
    uint32_t       n;

    op = (unsigned char) msg->opcode;
    n = (uint32_t) msg->len;

    fz_log_add(log, &op, 1);
    fz_log_add(log, &n, sizeof(n));
    fz_log_add(log, msg->data, msg->len);
}


/* a server frame's size as RFC 6455 5.2 reads it; 0 when incomplete */
static uint64_t
fz_frame_size(const unsigned char *p, size_t len, uint64_t *plen)
{
    uint64_t  n;
    size_t    h, i;

    if (len < 2) {
        return 0;
    }

    n = p[1] & 0x7f;
    h = 2;

    if (n == 126) {
        h = 4;
    } else if (n == 127) {
        h = 10;
    }

    if (len < h) {
        return 0;
    }

    if (h > 2) {
        for (n = 0, i = 2; i < h; i++) {
            n = (n << 8) | p[i];
        }
    }

    *plen = n;

    return h + n;
}


/*
 * Reads data[0..size) with the bytes made available in steps: "step"
 * bytes at a time (0: all at once), or "split" then the rest.  Every
 * call sees everything not yet taken, as the glue's buffer does.
 */

static void
fz_read(const unsigned char *data, size_t size, size_t max_message,
    size_t step, size_t split, fz_log_t *log)
{
    int                  rc;
    size_t               avail, off, used, shadow_len;
    uint64_t             fsize, plen;
    unsigned             op, fin, joining;
    kx_wsc_t             ws;
    kx_wsc_msg_t         msg;
    unsigned char       *shadow;
    const unsigned char  *p;

    kx_wsc_init(&ws, max_message);

    shadow = malloc(size + 1);
    check(shadow != NULL);
    shadow_len = 0;
    joining = 0;

    log->len = 0;
    log->rc = KX_WSC_AGAIN;
    off = 0;
    avail = (step == 0) ? size : (split ? split : step);

    for ( ;; ) {
        if (avail > size) {
            avail = size;
        }

        while (off < avail) {
            p = data + off;
            rc = kx_wsc_read(&ws, p, avail - off, &used, &msg);

            if (rc == KX_WSC_AGAIN) {
                check(used == 0 && msg.opcode == 0);
                break;
            }

            if (rc != KX_WSC_OK) {
                check(rc == KX_WSC_EPROTO || rc == KX_WSC_ETOOBIG);
                log->rc = rc;
                goto done;
            }

            /* what was taken was there, and is exactly one frame */
            check(used >= 2 && used <= avail - off);
            fsize = fz_frame_size(p, used, &plen);
            check(fsize == used);

            op = p[0] & 0x0f;
            fin = p[0] & 0x80;

            check(!(p[0] & 0x70) && !(p[1] & 0x80));
            check(op <= KX_WSC_OP_BINARY
                  || (op >= KX_WSC_OP_CLOSE && op <= KX_WSC_OP_PONG));
            check(plen <= max_message);

            if (op >= KX_WSC_OP_CLOSE) {
                /* control frames: whole, small, between fragments */
                check(fin && plen <= 125);
                check(msg.opcode == op && msg.len == plen);
                check(msg.data == p + used - plen);

            } else if (op != KX_WSC_OP_CONT && fin) {
                check(!joining);
                check(msg.opcode == op && msg.len == plen);
                check(msg.data == p + used - plen);

            } else {
                /* a fragment: the message is its fragments in order */
                check(op == KX_WSC_OP_CONT ? joining != 0 : !joining);

                if (op != KX_WSC_OP_CONT) {
                    joining = op;
                    shadow_len = 0;
                }

                memcpy(shadow + shadow_len, p + used - plen, plen);
                shadow_len += plen;
                check(shadow_len <= max_message);

                if (fin) {
                    check(msg.opcode == joining && msg.len == shadow_len);
                    check(msg.data != NULL);
                    check(msg.len == 0
                          || memcmp(msg.data, shadow, msg.len) == 0);
                    joining = 0;

                } else {
                    check(msg.opcode == 0 && msg.len == 0);
                }
            }

            if (msg.opcode != 0) {
                fz_log_msg(log, &msg);
            }

            off += used;
        }

        if (avail == size) {
            break;
        }

        avail = (step == 0 || split) ? size : avail + step;
    }

done:

    log->consumed = off;

    kx_wsc_free(&ws);
    free(shadow);
}


static void
fz_check_response(const char *buf, size_t len, size_t split, size_t *hs)
{
    int       rc, rc2;
    size_t    size, size2, i, first;
    unsigned  status, status2;

    *hs = 0;

    for (first = 0; first + 3 < len; first++) {
        if (memcmp(buf + first, "\r\n\r\n", 4) == 0) {
            break;
        }
    }

    size = 0;
    rc = kx_wsc_response(buf, len, fz_key, &size, &status);

    /* the same bytes, the same verdict */
    size2 = 0;
    rc2 = kx_wsc_response(buf, len, fz_key, &size2, &status2);
    check(rc == rc2 && status == status2 && size == size2);

    if (status != 0) {
        /* a status code is three digits */
        check(len > 12);
        for (i = 9; i < 12; i++) {
            check(buf[i] >= '0' && buf[i] <= '9');
        }
        check(status == (unsigned) ((buf[9] - '0') * 100
                                    + (buf[10] - '0') * 10 + buf[11] - '0'));
    }

    if (first + 3 >= len || first + 4 > FZ_RESPONSE_MAX) {
        /* no blank line yet: wait, unless the header is too long */
        check(status == 0);
        check(rc == (len >= FZ_RESPONSE_MAX ? KX_WSC_EHANDSHAKE
                                            : KX_WSC_AGAIN));
        return;
    }

    switch (rc) {

    case KX_WSC_EHANDSHAKE:
        break;

    case KX_WSC_OK:
        /* the header up to the first blank line, a 101 */
        check(status == 101);
        check(size == first + 4);
        check(memcmp(buf, "HTTP/1.1 101", 12) == 0);
        check(buf[12] == ' ' || buf[12] == '\r');
        *hs = size;
        break;

    default:
        check(0);
    }

    /* the header alone, and any shorter read, agree */
    rc2 = kx_wsc_response(buf, first + 4, fz_key, &size2, &status2);
    check(rc2 == rc && status2 == status);
    check(rc != KX_WSC_OK || size2 == size);

    if (split < first + 3) {
        rc2 = kx_wsc_response(buf, split, fz_key, &size2, &status2);
        check(rc2 == KX_WSC_AGAIN);
    }

    rc2 = kx_wsc_response(buf, first + 3, fz_key, &size2, &status2);
    check(rc2 == KX_WSC_AGAIN);
}


/*
 * Any nonce: the key is 24 characters of base64, our request carries
 * it, and the answer with its accept value (RFC 6455 4.2.2, computed
 * here) is taken, whatever else the header holds.
 */

static void
fz_check_key(const unsigned char nonce[16], const char *extra, size_t elen)
{
    int             rc;
    char            key[KX_WSC_KEY_LEN + 1], src[KX_WSC_KEY_LEN + 36];
    char           *buf, req[512];
    size_t          n, len, size;
    unsigned        status;
    unsigned char   sha[SHA_DIGEST_LENGTH];
    char            accept[32];

    memset(key, 'x', sizeof(key));
    kx_wsc_key(nonce, key);
    check(strlen(key) == KX_WSC_KEY_LEN);

    n = kx_wsc_request(req, sizeof(req), "h:1", "/", key);
    check(n < sizeof(req) && strlen(req) == n);
    check(strstr(req, key) != NULL);

    memcpy(src, key, KX_WSC_KEY_LEN);
    memcpy(src + KX_WSC_KEY_LEN, "258EAFA5-E914-47DA-95CA-C5AB0DC85B11", 36);
    SHA1((unsigned char *) src, sizeof(src), sha);
    n = kx_base64_encode(accept, sha, SHA_DIGEST_LENGTH);
    accept[n] = '\0';

    /* the fuzzer's bytes as one more header line, when they are one */
    if (memchr(extra, '\r', elen) != NULL
        || memchr(extra, '\n', elen) != NULL)
    {
        elen = 0;
    }

    buf = malloc(elen + 256);
    check(buf != NULL);

    len = (size_t) sprintf(buf, "HTTP/1.1 101 Switching Protocols\r\n"
                                "Upgrade: websocket\r\n"
                                "X-Any: %.*s\r\n"
                                "Connection: Upgrade\r\n"
                                "Sec-WebSocket-Accept: %s\r\n\r\n",
                           (int) elen, extra, accept);

    rc = kx_wsc_response(buf, len, key, &size, &status);
    check(rc == KX_WSC_OK && size == len && status == 101);

    free(buf);
}


static int
fz_log_equal(const fz_log_t *a, const fz_log_t *b)
{
    return a->rc == b->rc && a->consumed == b->consumed && a->len == b->len
           && memcmp(a->buf, b->buf, a->len) == 0;
}


/* our frame of the payload, unmasked, as a server would send it */
static void
fz_check_frame(const unsigned char *payload, size_t len, unsigned opcode,
    const unsigned char mask[4])
{
    int             rc;
    size_t          n, h, i, used;
    uint64_t        plen;
    kx_wsc_t        ws;
    kx_wsc_msg_t    msg;
    unsigned char  *out;
    unsigned char   small[8];

    n = kx_wsc_frame(small, sizeof(small), opcode, payload, len, mask);
    check(n == len + (len < 126 ? 6 : len <= 0xffff ? 8 : 14));

    out = malloc(n);
    check(out != NULL);
    check(kx_wsc_frame(out, n, opcode, payload, len, mask) == n);

    /* FIN, the opcode, masked, the shortest length form */
    check(out[0] == (0x80 | opcode));
    check(out[1] & 0x80);
    h = n - len - 4;
    check((h == 2) == (len < 126) && (h == 4) == (len >= 126 && len < 65536));
    check(memcmp(out + h, mask, 4) == 0);

    for (i = 0; i < len; i++) {
        out[h + 4 + i] ^= mask[i & 3];
    }
    check(memcmp(out + h + 4, payload, len) == 0);

    /* what a server sends: no mask bit, no key */
    out[1] &= 0x7f;
    memmove(out + h, out + h + 4, len);

    check(fz_frame_size(out, n - 4, &plen) == n - 4 && plen == len);

    kx_wsc_init(&ws, len);
    rc = kx_wsc_read(&ws, out, n - 4, &used, &msg);

    if (opcode >= KX_WSC_OP_CLOSE && len > 125) {
        check(rc == KX_WSC_EPROTO);
    } else {
        check(rc == KX_WSC_OK && used == n - 4 && msg.opcode == opcode
              && msg.len == len && memcmp(msg.data, payload, len) == 0);
    }

    kx_wsc_free(&ws);
    free(out);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t          hs, len, split, max, cap;
    fz_log_t        whole, parts, bytes;
    uint8_t         mask[4];
    const uint8_t  *wire;
    static const unsigned  ops[4] = {
        KX_WSC_OP_TEXT, KX_WSC_OP_BINARY, KX_WSC_OP_PING, KX_WSC_OP_CLOSE
    };

    if (size < 2 || size > 65536) {
        return 0;
    }

    max = fz_max_message[data[0] & 7];
    wire = data + 2;
    len = size - 2;
    split = len ? data[1] % (len + 1) : 0;

    fz_check_response((const char *) wire, len, split, &hs);

    mask[0] = data[1];
    mask[1] = (uint8_t) ~data[1];
    mask[2] = data[0];
    mask[3] = (uint8_t) (data[0] ^ 0x5a);

    fz_check_frame(wire, len, ops[(data[0] >> 3) & 3], mask);

    if (len >= 16) {
        fz_check_key(wire, (const char *) wire + 16, len - 16);
    }

    /* frames after the header, or a stream of frames alone */
    wire += hs;
    len -= hs;
    split = len ? data[1] % (len + 1) : 0;

    /* each message is logged with 5 bytes for a frame of at least 2 */
    cap = 3 * len + 16;
    whole.buf = malloc(cap);
    parts.buf = malloc(cap);
    bytes.buf = malloc(cap);
    check(whole.buf && parts.buf && bytes.buf);
    whole.cap = parts.cap = bytes.cap = cap;

    fz_read(wire, len, max, 0, 0, &whole);
    fz_read(wire, len, max, len, split, &parts);
    fz_read(wire, len, max, 1, 0, &bytes);

    check(whole.consumed <= len);
    check(fz_log_equal(&whole, &parts));
    check(fz_log_equal(&whole, &bytes));

    free(whole.buf);
    free(parts.buf);
    free(bytes.buf);

    return 0;
}
