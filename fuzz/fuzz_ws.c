
/*
 * Copyright (C) Kianax
 */


/*
 * The server side of RFC 6455 on what a client sends.  The input is a
 * byte of options, a byte that says where to split, then a stream of
 * (masked) client frames.
 *
 * Each frame is compared with a parse of our own, from an exact-size
 * copy (so ASan sees any read past it) and again in place; its payload
 * must be the masked bytes unmasked, and nothing outside it may change.
 * The stream is read whole, and in two chunks as the connection reads
 * it off the socket: both must give the same frames, the same error and
 * the same bytes left over.  The fragmentation rules follow a model of
 * our own, and every text message, close reason and the input itself go
 * through kx_utf8 and a reference UTF-8 decoder written from the bits
 * rather than from Table 3-7.  Frames built with kx_ws_client_frame()
 * parse back to what was built, and the handshake's accept key is
 * checked against a strict reading of base64 and a digest made here.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "core/kx_utf8.h"
#include "notify/kx_ws.h"

#include "fuzz_check.h"


#define FUZZ_WS_STREAM_MAX  4096
#define FUZZ_WS_LOG_MAX     (4 * FUZZ_WS_STREAM_MAX)
#define FUZZ_WS_GUID        "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


typedef struct {
    int                 rc;
    unsigned            opcode;
    unsigned            fin;
    unsigned            close_code;
    uint64_t            len;
    size_t              hlen;          /* with the mask */
    size_t              size;
    size_t              need;
} ref_frame_t;


typedef struct {
    unsigned char      *pending;       /* bytes of an incomplete frame */
    size_t              npending;
    int                 done;          /* failed or closed */
    int                 thorough;      /* compare each frame with ours */
    unsigned            nframes;

    /* what happened, to compare a split reading with a whole one */
    unsigned char       log[FUZZ_WS_LOG_MAX];
    size_t              nlog;

    /* fragmentation: kx_ws_frame_sequence()'s state and ours */
    unsigned            cur;
    unsigned            ref_cur;

    unsigned char       msg[FUZZ_WS_STREAM_MAX];
    size_t              mlen;
    unsigned            msg_op;
} stream_t;


static const uint64_t  max_payloads[8] = {
    0, 1, 125, 126, 1024, 65535, 65536, UINT64_MAX
};


/*
 * The code points the first bytes of an n-byte sequence leave possible,
 * [lo, hi], must meet the valid ones for that length: no overlong form,
 * not only surrogates, nothing above U+10FFFF.
 */
static int
ref_utf8_possible(uint32_t lo, uint32_t hi, int n)
{
    static const uint32_t  mins[5] = { 0, 0, 0x80, 0x800, 0x10000 };

    if (lo < mins[n]) {
        lo = mins[n];
    }

    if (hi > 0x10ffff) {
        hi = 0x10ffff;
    }

    return lo <= hi && !(lo >= 0xd800 && hi <= 0xdfff);
}


/*
 * Returns the length of the valid sequence at p and sets *cp, or minus
 * the length of the maximal subpart: the longest prefix that some valid
 * sequence starts with, at least one byte (Unicode 3.9, D93b).
 */
static int
ref_utf8_next(const unsigned char *p, size_t avail, uint32_t *cp)
{
    int       n, m, rest;
    uint32_t  c, lo;

    if (p[0] < 0x80) {
        *cp = p[0];
        return 1;
    }

    if ((p[0] & 0xe0) == 0xc0) {
        n = 2;
        c = p[0] & 0x1f;

    } else if ((p[0] & 0xf0) == 0xe0) {
        n = 3;
        c = p[0] & 0x0f;

    } else if ((p[0] & 0xf8) == 0xf0) {
        n = 4;
        c = p[0] & 0x07;

    } else {
        return -1;
    }

    for (m = 1; /* void */ ; m++) {
        rest = 6 * (n - m);
        lo = c << rest;

        if (!ref_utf8_possible(lo, lo | ((1u << rest) - 1), n)) {
            return m == 1 ? -1 : -(m - 1);
        }

        if (m == n) {
            *cp = c;
            return n;
        }

        if ((size_t) m >= avail || (p[m] & 0xc0) != 0x80) {
            return -m;
        }

        c = (c << 6) | (p[m] & 0x3f);
    }
}


static size_t
ref_utf8_validate(const unsigned char *p, size_t len)
{
    int       n;
    size_t    i;
    uint32_t  cp;

    for (i = 0; i < len; i += n) {
        n = ref_utf8_next(p + i, len - i, &cp);
        if (n < 0) {
            return i;
        }
    }

    return len;
}


static void
check_utf8(const unsigned char *p, size_t len)
{
    int       n, r;
    size_t    i;
    uint32_t  cp, rcp;

    check(kx_utf8_validate((const char *) p, len)
          == ref_utf8_validate(p, len));

    for (i = 0; i < len; i++) {
        cp = rcp = 0;
        n = kx_utf8_next(p + i, len - i, &cp);
        r = ref_utf8_next(p + i, len - i, &rcp);

        check(n == r);
        check(n < 0 || cp == rcp);
        check(n >= -3 && n <= 4 && n != 0);
    }
}


static void
ref_frame(const unsigned char *b, size_t n, uint64_t max, ref_frame_t *r)
{
    size_t    i;
    unsigned  op, len7;
    uint64_t  plen;

    memset(r, 0, sizeof(ref_frame_t));
    r->rc = KX_WS_AGAIN;

    if (n < 2) {
        return;
    }

    op = b[0] & 0x0f;
    len7 = b[1] & 0x7f;
    r->opcode = op;
    r->fin = b[0] >> 7;

    if ((b[0] & 0x70) != 0
        || (op > KX_WS_OP_BINARY && op < KX_WS_OP_CLOSE)
        || op > KX_WS_OP_PONG
        || (op >= KX_WS_OP_CLOSE && (!r->fin || len7 > 125))
        || (b[1] & 0x80) == 0)
    {
        r->rc = KX_WS_ERROR;
        r->close_code = KX_WS_CLOSE_PROTOCOL;
        return;
    }

    r->hlen = (len7 < 126) ? 2 : (len7 == 126 ? 4 : 10);

    if (n < r->hlen) {
        return;
    }

    plen = len7;

    if (len7 == 126) {
        plen = (uint64_t) b[2] * 256 + b[3];

        if (plen < 126) {
            r->rc = KX_WS_ERROR;
            r->close_code = KX_WS_CLOSE_PROTOCOL;
            return;
        }

    } else if (len7 == 127) {
        if (b[2] >= 0x80) {
            r->rc = KX_WS_ERROR;
            r->close_code = KX_WS_CLOSE_PROTOCOL;
            return;
        }

        for (plen = 0, i = 2; i < 10; i++) {
            plen = plen * 256 + b[i];
        }

        /* RFC 6455 5.2: the shortest form only */
        if (plen < 65536) {
            r->rc = KX_WS_ERROR;
            r->close_code = KX_WS_CLOSE_PROTOCOL;
            return;
        }
    }

    if (plen > max) {
        r->rc = KX_WS_ERROR;
        r->close_code = KX_WS_CLOSE_TOO_BIG;
        return;
    }

    r->hlen += 4;
    r->len = plen;

    if (n < r->hlen || (uint64_t) (n - r->hlen) < plen) {
        r->need = r->hlen + plen;
        return;
    }

    r->size = r->hlen + plen;
    r->rc = KX_WS_OK;
}


/* the parser's answer for buf (n bytes, orig before it ran) against ours */
static void
check_frame(unsigned char *buf, const unsigned char *orig, size_t n,
    uint64_t max, const ref_frame_t *r, const kx_ws_frame_t *f, int rc)
{
    size_t  i;

    check(rc == r->rc);

    switch (rc) {

    case KX_WS_ERROR:
        check(f->close_code == r->close_code);
        check(memcmp(buf, orig, n) == 0);
        break;

    case KX_WS_AGAIN:
        check(f->need == r->need);
        check(f->need == 0 || f->need > n);
        check(memcmp(buf, orig, n) == 0);
        break;

    default:
        check(f->opcode == r->opcode && f->fin == r->fin);
        check(f->len == r->len && f->len <= max);
        check(f->size == r->size && f->size <= n && f->need == 0);
        check(f->payload == buf + r->hlen);
        check(f->payload + f->len == buf + f->size);

        /* the mask is the four bytes before the payload */
        for (i = 0; i < f->len; i++) {
            check(f->payload[i]
                  == (orig[r->hlen + i] ^ orig[r->hlen - 4 + (i & 3)]));
        }

        check(memcmp(buf, orig, r->hlen) == 0);
        check(memcmp(buf + f->size, orig + f->size, n - f->size) == 0);
        break;
    }
}


/*
 * The frame at the start of p (avail bytes) on its own: from a copy of
 * exactly its bytes, and from the copy's prefixes.  Returns our parse.
 */
static void
check_frame_alone(const unsigned char *p, size_t avail, uint64_t max,
    int prefixes, ref_frame_t *r)
{
    int             rc;
    size_t          n, k;
    unsigned char  *buf;
    ref_frame_t     rp;
    kx_ws_frame_t   f;

    ref_frame(p, avail, max, r);

    n = (r->rc == KX_WS_OK) ? r->size : avail;

    buf = malloc(n ? n : 1);
    check(buf != NULL);

    memcpy(buf, p, n);
    rc = kx_ws_frame_parse(buf, n, max, &f);
    check_frame(buf, p, n, max, r, &f, rc);

    /* a second parse of the same bytes gives the same answer */
    memcpy(buf, p, n);
    rc = kx_ws_frame_parse(buf, n, max, &f);
    check_frame(buf, p, n, max, r, &f, rc);

    free(buf);

    if (!prefixes || r->rc != KX_WS_OK) {
        return;
    }

    /* the header bytes one at a time, and all but the last byte */
    for (k = 0; k < n; k = (k < KX_WS_CLIENT_HEADER_MAX) ? k + 1 : n - 1) {
        buf = malloc(k ? k : 1);
        check(buf != NULL);
        memcpy(buf, p, k);

        ref_frame(p, k, max, &rp);
        check(rp.rc == KX_WS_AGAIN);
        check(rp.need == 0 || rp.need == r->size);

        rc = kx_ws_frame_parse(buf, k, max, &f);
        check_frame(buf, p, k, max, &rp, &f, rc);

        free(buf);

        if (k == n - 1) {
            break;
        }
    }
}


static void
stream_log(stream_t *st, const void *p, size_t len)
{
    check(st->nlog + len <= FUZZ_WS_LOG_MAX);
    memcpy(st->log + st->nlog, p, len);
    st->nlog += len;
}


static void
check_close(const unsigned char *p, size_t len)
{
    unsigned  rc, code, c, want, want_code;

    want_code = KX_WS_CLOSE_NO_STATUS;
    want = 0;

    if (len == 1) {
        want = KX_WS_CLOSE_PROTOCOL;

    } else if (len >= 2) {
        c = (unsigned) p[0] * 256 + p[1];
        want_code = c;

        /*
         * 1004 is reserved, 1005, 1006 and 1015 only report what
         * happened locally, other codes under 3000 are not defined
         */
        if (c < 1000 || c >= 5000 || (c >= 1004 && c <= 1006)
            || (c >= 1015 && c < 3000))
        {
            want = KX_WS_CLOSE_PROTOCOL;

        } else if (ref_utf8_validate(p + 2, len - 2) != len - 2) {
            want = KX_WS_CLOSE_INVALID;
        }
    }

    code = 0xdead;
    rc = kx_ws_close_parse(p, len, &code);

    check(rc == want);
    check(len == 1 || code == want_code);
}


/* what the connection does with a frame, and our model of the rules */
static void
stream_frame(stream_t *st, const kx_ws_frame_t *f)
{
    unsigned       code, want, cur;
    unsigned char  rec[9];
    uint64_t       len;

    rec[0] = (unsigned char) (f->opcode | (f->fin << 7));
    len = f->len;
    memcpy(rec + 1, &len, 8);
    stream_log(st, rec, 9);
    stream_log(st, f->payload, (size_t) f->len);

    cur = st->ref_cur;
    want = 0;

    if (f->opcode >= KX_WS_OP_CLOSE) {
        /* control frames may come between fragments */

    } else if (f->opcode == KX_WS_OP_CONT) {
        if (cur == 0) {
            want = KX_WS_CLOSE_PROTOCOL;

        } else if (f->fin) {
            cur = 0;
        }

    } else if (cur != 0) {
        want = KX_WS_CLOSE_PROTOCOL;

    } else {
        cur = f->fin ? 0 : f->opcode;
    }

    code = kx_ws_frame_sequence(&st->cur, f);
    check(code == want);

    if (code) {
        st->done = 1;
        return;
    }

    check(st->cur == cur);
    st->ref_cur = cur;

    switch (f->opcode) {

    case KX_WS_OP_CLOSE:
        check_close(f->payload, (size_t) f->len);
        st->done = 1;
        return;

    case KX_WS_OP_PING:
    case KX_WS_OP_PONG:
        return;

    case KX_WS_OP_TEXT:
    case KX_WS_OP_BINARY:
        st->msg_op = f->opcode;
        st->mlen = 0;
        break;
    }

    /* the stream is at most FUZZ_WS_STREAM_MAX bytes, so is a message */
    check(st->mlen + f->len <= sizeof(st->msg));
    memcpy(st->msg + st->mlen, f->payload, (size_t) f->len);
    st->mlen += (size_t) f->len;

    if (f->fin && st->msg_op == KX_WS_OP_TEXT && st->thorough) {
        check_utf8(st->msg, st->mlen);
    }
}


/* the bytes of one read, after what was left of the last one */
static void
stream_feed(stream_t *st, const unsigned char *data, size_t len,
    uint64_t max)
{
    int             rc;
    size_t          n, avail;
    unsigned char  *buf, *p, *last, code[3];
    ref_frame_t     r;
    kx_ws_frame_t   f;

    if (st->done) {
        return;
    }

    n = st->npending + len;

    buf = malloc(n ? n : 1);
    check(buf != NULL);

    if (st->npending) {
        memcpy(buf, st->pending, st->npending);
    }

    memcpy(buf + st->npending, data, len);
    free(st->pending);
    st->pending = NULL;
    st->npending = 0;

    p = buf;
    last = buf + n;

    while (p < last && !st->done) {
        avail = last - p;

        if (st->thorough) {
            check_frame_alone(p, avail, max, st->nframes < 4, &r);
        }

        rc = kx_ws_frame_parse(p, avail, max, &f);

        if (st->thorough) {
            check(rc == r.rc);
        }

        if (rc == KX_WS_AGAIN) {
            check(f.need == 0 || f.need > avail);
            break;
        }

        if (rc == KX_WS_ERROR) {
            check(f.close_code == KX_WS_CLOSE_PROTOCOL
                  || f.close_code == KX_WS_CLOSE_TOO_BIG);

            code[0] = 0xee;
            code[1] = (unsigned char) (f.close_code >> 8);
            code[2] = (unsigned char) f.close_code;
            stream_log(st, code, 3);

            st->done = 1;
            break;
        }

        check(rc == KX_WS_OK);
        check(f.size >= 6 && f.size <= avail);
        check(f.payload >= p + 6 && f.payload + f.len == p + f.size);

        p += f.size;
        st->nframes++;

        stream_frame(st, &f);
    }

    if (!st->done && p < last) {
        st->npending = last - p;
        st->pending = malloc(st->npending);
        check(st->pending != NULL);
        memcpy(st->pending, p, st->npending);
    }

    free(buf);
}


static void
check_stream(const unsigned char *data, size_t len, size_t split,
    uint64_t max)
{
    stream_t  *whole, *parts;

    whole = calloc(1, sizeof(stream_t));
    parts = calloc(1, sizeof(stream_t));
    check(whole != NULL && parts != NULL);

    whole->thorough = 1;
    stream_feed(whole, data, len, max);

    stream_feed(parts, data, split, max);
    stream_feed(parts, data + split, len - split, max);

    check(whole->done == parts->done);
    check(whole->npending == parts->npending);
    check(whole->nlog == parts->nlog);
    check(memcmp(whole->log, parts->log, whole->nlog) == 0);

    free(whole->pending);
    free(parts->pending);
    free(whole);
    free(parts);
}


/* a frame made by kx_ws_client_frame() parses back to what was made */
static void
check_build(const unsigned char *data, size_t size)
{
    int             rc, valid;
    size_t          len, n, i, hlen;
    unsigned        op, fin;
    unsigned char  *payload, *buf, h[KX_WS_SERVER_HEADER_MAX];
    kx_ws_frame_t   f;

    if (size < 6) {
        return;
    }

    op = data[0] & 0x0f;
    fin = data[0] >> 7;
    len = size - 6;

    /*
     * the 16- and 64-bit lengths, from the input repeated; the 64-bit
     * ones are costly, so rare
     */
    switch ((data[0] >> 4) & 0x7) {
    case 1:
        len += 126 + data[5];
        break;
    case 2:
        if ((data[5] & 0x0f) == 0) {
            len += 65536 - 16 + data[5];
        }
        break;
    }

    payload = malloc(len ? len : 1);
    check(payload != NULL);

    for (i = 0; size > 6 && i < len; i += n) {
        n = (len - i < size - 6) ? len - i : size - 6;
        memcpy(payload + i, data + 6, n);
    }

    hlen = kx_ws_header(h, op, fin, len);
    check(hlen == kx_ws_frame_size(len) - len);
    check(hlen == (len < 126 ? 2 : (len < 65536 ? 4 : 10)));

    buf = malloc(len + KX_WS_CLIENT_HEADER_MAX);
    check(buf != NULL);

    n = kx_ws_client_frame(buf, op, fin, payload, len, data + 1);
    check(n == kx_ws_frame_size(len) + 4);
    check(buf[0] == h[0] && buf[1] == (h[1] | 0x80));
    check(memcmp(buf + 2, h + 2, hlen - 2) == 0);

    valid = op <= KX_WS_OP_BINARY
            || (op >= KX_WS_OP_CLOSE && op <= KX_WS_OP_PONG && fin
                && len <= KX_WS_CONTROL_MAX);

    rc = kx_ws_frame_parse(buf, n, len, &f);

    if (valid) {
        check(rc == KX_WS_OK);
        check(f.opcode == op && f.fin == fin && f.len == len && f.size == n);
        check(memcmp(f.payload, payload, len) == 0);

    } else {
        check(rc == KX_WS_ERROR && f.close_code == KX_WS_CLOSE_PROTOCOL);
    }

    if (valid && len > 0) {
        n = kx_ws_client_frame(buf, op, fin, payload, len, data + 1);
        rc = kx_ws_frame_parse(buf, n, len - 1, &f);
        check(rc == KX_WS_ERROR && f.close_code == KX_WS_CLOSE_TOO_BIG);
    }

    free(buf);
    free(payload);
}


static int
ref_b64_value(unsigned char c)
{
    const char  *s;
    static const char  alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    s = (c != '\0') ? strchr(alphabet, c) : NULL;

    return s ? (int) (s - alphabet) : -1;
}


static void
check_accept(const unsigned char *key, size_t len)
{
    int            rc, valid, v;
    char          *acc;
    size_t         i;
    unsigned       mdlen;
    unsigned char  md[EVP_MAX_MD_SIZE], buf[24 + sizeof(FUZZ_WS_GUID)],
                   want[KX_WS_ACCEPT_LEN + 1];

    /* 16 bytes are 22 characters, the last with 4 zero bits, and "==" */
    valid = (len == 24 && key[22] == '=' && key[23] == '=');

    for (i = 0; valid && i < 22; i++) {
        v = ref_b64_value(key[i]);
        valid = (v >= 0 && (i < 21 || (v & 0x0f) == 0));
    }

    /* exactly KX_WS_ACCEPT_LEN bytes, so that ASan sees one more */
    acc = malloc(KX_WS_ACCEPT_LEN);
    check(acc != NULL);

    rc = kx_ws_accept_key((const char *) key, len, acc);
    check(rc == (valid ? 0 : -1));

    if (valid) {
        memcpy(buf, key, 24);
        memcpy(buf + 24, FUZZ_WS_GUID, sizeof(FUZZ_WS_GUID) - 1);

        check(EVP_Digest(buf, 24 + sizeof(FUZZ_WS_GUID) - 1, md, &mdlen,
                         EVP_sha1(), NULL) == 1 && mdlen == 20);
        check(EVP_EncodeBlock(want, md, 20) == KX_WS_ACCEPT_LEN);
        check(memcmp(acc, want, KX_WS_ACCEPT_LEN) == 0);
    }

    free(acc);
}


/* the sequence at the start of p, as kx_utf8 and we read it */
static void
check_seq(const unsigned char *p, size_t len)
{
    int       n, r;
    uint32_t  cp, rcp;

    cp = rcp = 0;
    n = kx_utf8_next(p, len, &cp);
    r = ref_utf8_next(p, len, &rcp);

    check(n == r && (n < 0 || cp == rcp));
    check(kx_utf8_validate((const char *) p, len)
          == ref_utf8_validate(p, len));
}


/*
 * What a few bytes can say is checked once, all of it: every close
 * status, and every sequence that starts with a byte other than ASCII:
 * all second bytes, all third bytes after 3-byte leads and all fourth
 * bytes after 4-byte leads, with the third at the edges of the
 * continuation range.
 */
static void
check_all(void)
{
    unsigned       c, lead, i;
    unsigned char  p[4];

    static const unsigned char  edges[4] = { 0x7f, 0x80, 0xbf, 0xc0 };

    for (c = 0; c < 65536; c++) {
        p[0] = (unsigned char) (c >> 8);
        p[1] = (unsigned char) c;
        p[2] = 'x';

        check_close(p, 2);
        check_close(p, 3);
    }

    for (lead = 0x80; lead <= 0xff; lead++) {
        p[0] = (unsigned char) lead;

        for (c = 0; c < 256; c++) {
            p[1] = (unsigned char) c;

            for (i = 1; i <= 4; i++) {
                p[2] = edges[i & 3];
                p[3] = edges[i - 1];
                check_seq(p, 1);
                check_seq(p, 2);
                check_seq(p, 3);
                check_seq(p, 4);
            }
        }
    }

    for (lead = 0xe0; lead <= 0xef; lead++) {
        for (c = 0; c < 65536; c++) {
            p[0] = (unsigned char) lead;
            p[1] = (unsigned char) (c >> 8);
            p[2] = (unsigned char) c;

            check_seq(p, 3);
        }
    }

    for (lead = 0xf0; lead <= 0xf7; lead++) {
        for (c = 0; c < 4 * 65536; c++) {
            p[0] = (unsigned char) lead;
            p[1] = (unsigned char) (c >> 8);
            p[2] = edges[c >> 16];
            p[3] = (unsigned char) c;

            check_seq(p, 4);
        }
    }
}


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void) argc;
    (void) argv;

    check_all();

    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t          len, split;
    uint64_t        max;
    unsigned char   key[25];
    const uint8_t  *stream;

    if (size < 2) {
        return 0;
    }

    max = max_payloads[data[0] & 0x7];
    stream = data + 2;
    len = size - 2;

    if (len > FUZZ_WS_STREAM_MAX) {
        len = FUZZ_WS_STREAM_MAX;
    }

    split = len ? data[1] % (len + 1) : 0;

    /* the split byte's high values cut the stream near its end */
    if (data[1] >= 0xf0 && len >= 16) {
        split = len - (data[1] & 0x0f);
    }

    check_stream(stream, len, split, max);
    check_utf8(stream, len);
    check_build(stream, len);

    check_accept(stream, len);
    check_accept(stream, len < 24 ? len : 24);

    /* a key that is valid, from 16 bytes of the input */
    if (len >= 16) {
        check(EVP_EncodeBlock(key, stream, 16) == 24);
        check_accept(key, 24);
    }

    return 0;
}
