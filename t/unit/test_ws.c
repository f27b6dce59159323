
/*
 * Copyright (C) Kianax
 */


#include <stdlib.h>
#include <string.h>

#include "notify/kx_ws.h"

#include "kx_tap.h"


static const unsigned char  mask[4] = { 0x37, 0xfa, 0x21, 0x3d };


static void
test_accept(void)
{
    char  acc[KX_WS_ACCEPT_LEN + 1];

    /* the example of RFC 6455 1.3 */
    memset(acc, 0, sizeof(acc));
    ok(kx_ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", 24, acc) == 0,
       "RFC 6455 sample key accepted");
    is_str(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", "accept value");

    ok(kx_ws_accept_key("dGhlIHNhbXBsZSBub25jZQ=", 23, acc) == -1,
       "short key refused");
    ok(kx_ws_accept_key("dGhlIHNhbXBsZSBub25j!!==", 24, acc) == -1,
       "non-base64 key refused");
    ok(kx_ws_accept_key("dGhlIHNhbXBsZSBub25jZWE=", 24, acc) == -1,
       "key of 17 bytes refused");
}


static void
test_parse(void)
{
    int             rc;
    size_t          n, i;
    unsigned char   buf[70000], big[66000];
    kx_ws_frame_t   f;

    /* RFC 6455 5.7: a masked "Hello" */
    n = kx_ws_client_frame(buf, KX_WS_OP_TEXT, 1, (unsigned char *) "Hello",
                           5, mask);
    is_int(n, 11, "masked Hello is 11 bytes");
    ok(buf[0] == 0x81 && buf[1] == 0x85 && buf[6] == 0x7f && buf[10] == 0x58,
       "bytes as in RFC 6455 5.7");

    for (i = 0; i < n; i++) {
        rc = kx_ws_frame_parse(buf, i, 1024, &f);
        if (rc != KX_WS_AGAIN) {
            break;
        }
    }

    ok(i == n, "every prefix is incomplete");
    is_int(f.need, 11, "need known once the header is there");

    rc = kx_ws_frame_parse(buf, n + 3, 1024, &f);
    ok(rc == KX_WS_OK && f.fin && f.opcode == KX_WS_OP_TEXT && f.len == 5
       && f.size == 11 && memcmp(f.payload, "Hello", 5) == 0,
       "whole frame parsed and unmasked");

    /* 16-bit and 64-bit lengths */
    memset(big, 'x', sizeof(big));
    n = kx_ws_client_frame(buf, KX_WS_OP_BINARY, 1, big, 300, mask);
    rc = kx_ws_frame_parse(buf, n, 1024, &f);
    ok(rc == KX_WS_OK && f.len == 300 && f.payload[299] == 'x'
       && f.size == 308, "16-bit length");

    n = kx_ws_client_frame(buf, KX_WS_OP_BINARY, 1, big, 65536, mask);
    rc = kx_ws_frame_parse(buf, n, 70000, &f);
    ok(rc == KX_WS_OK && f.len == 65536 && f.size == 65536 + 14
       && f.payload[65535] == 'x', "64-bit length");

    rc = kx_ws_frame_parse(buf, 10, 1024, &f);
    ok(rc == KX_WS_ERROR && f.close_code == KX_WS_CLOSE_TOO_BIG,
       "too big known from the header: 1009");

    /* errors */
    n = kx_ws_client_frame(buf, KX_WS_OP_TEXT, 1, (unsigned char *) "a", 1,
                           mask);
    buf[1] &= 0x7f;
    rc = kx_ws_frame_parse(buf, n, 1024, &f);
    ok(rc == KX_WS_ERROR && f.close_code == KX_WS_CLOSE_PROTOCOL,
       "unmasked frame: 1002");

    n = kx_ws_client_frame(buf, KX_WS_OP_TEXT, 1, (unsigned char *) "a", 1,
                           mask);
    buf[0] |= 0x40;
    rc = kx_ws_frame_parse(buf, n, 1024, &f);
    ok(rc == KX_WS_ERROR && f.close_code == KX_WS_CLOSE_PROTOCOL,
       "RSV1 set: 1002");

    n = kx_ws_client_frame(buf, 0x3, 1, (unsigned char *) "a", 1, mask);
    rc = kx_ws_frame_parse(buf, n, 1024, &f);
    ok(rc == KX_WS_ERROR, "reserved opcode: error");

    /* RFC 6455 5.2: a length in more bytes than it needs */
    memcpy(buf, "\x82\xfe\x00\x7d", 4);
    rc = kx_ws_frame_parse(buf, 4, 1024, &f);
    ok(rc == KX_WS_ERROR && f.close_code == KX_WS_CLOSE_PROTOCOL,
       "125 in a 16-bit length: 1002");

    memcpy(buf, "\x82\xff\x00\x00\x00\x00\x00\x00\xff\xff", 10);
    rc = kx_ws_frame_parse(buf, 10, 70000, &f);
    ok(rc == KX_WS_ERROR && f.close_code == KX_WS_CLOSE_PROTOCOL,
       "65535 in a 64-bit length: 1002");

    n = kx_ws_client_frame(buf, KX_WS_OP_PING, 0, (unsigned char *) "a", 1,
                           mask);
    rc = kx_ws_frame_parse(buf, n, 1024, &f);
    ok(rc == KX_WS_ERROR, "fragmented ping: error");

    n = kx_ws_client_frame(buf, KX_WS_OP_PING, 1, big, 126, mask);
    rc = kx_ws_frame_parse(buf, n, 1024, &f);
    ok(rc == KX_WS_ERROR && f.close_code == KX_WS_CLOSE_PROTOCOL,
       "ping of 126 bytes: 1002");

    n = kx_ws_client_frame(buf, KX_WS_OP_BINARY, 1, big, 65536, mask);
    buf[2] = 0x80;
    rc = kx_ws_frame_parse(buf, n, (uint64_t) -1, &f);
    ok(rc == KX_WS_ERROR, "64-bit length with the top bit set: error");
}


static void
test_sequence(void)
{
    unsigned       cur;
    kx_ws_frame_t  f;

    cur = 0;
    memset(&f, 0, sizeof(f));

    f.opcode = KX_WS_OP_TEXT;
    f.fin = 0;
    ok(kx_ws_frame_sequence(&cur, &f) == 0 && cur == KX_WS_OP_TEXT,
       "first fragment starts a message");

    f.opcode = KX_WS_OP_PING;
    f.fin = 1;
    ok(kx_ws_frame_sequence(&cur, &f) == 0 && cur == KX_WS_OP_TEXT,
       "ping between fragments");

    f.opcode = KX_WS_OP_BINARY;
    f.fin = 1;
    ok(kx_ws_frame_sequence(&cur, &f) == KX_WS_CLOSE_PROTOCOL,
       "new message inside a fragmented one: 1002");

    f.opcode = KX_WS_OP_CONT;
    f.fin = 1;
    ok(kx_ws_frame_sequence(&cur, &f) == 0 && cur == 0,
       "last fragment ends it");

    ok(kx_ws_frame_sequence(&cur, &f) == KX_WS_CLOSE_PROTOCOL,
       "continuation with nothing to continue: 1002");
}


static void
test_close(void)
{
    unsigned  code;

    ok(kx_ws_close_parse(NULL, 0, &code) == 0 && code == 1005,
       "empty close: 1005");
    ok(kx_ws_close_parse((unsigned char *) "\x03", 1, &code) == 1002,
       "one-byte close: 1002");
    ok(kx_ws_close_parse((unsigned char *) "\x03\xe8" "bye", 5, &code) == 0
       && code == 1000, "1000 with a reason");
    ok(kx_ws_close_parse((unsigned char *) "\x03\xed", 2, &code) == 1002,
       "1005 may not be sent");
    ok(kx_ws_close_parse((unsigned char *) "\x0f\xa0", 2, &code) == 0
       && code == 4000, "4000 is the application's");
    ok(kx_ws_close_parse((unsigned char *) "\x03\xe8\xc0\xaf", 4, &code)
       == 1007, "reason not UTF-8: 1007");
}


static void
test_header(void)
{
    size_t         n;
    unsigned char  h[KX_WS_SERVER_HEADER_MAX];

    n = kx_ws_header(h, KX_WS_OP_TEXT, 1, 5);
    ok(n == 2 && h[0] == 0x81 && h[1] == 5, "short header");
    is_int(kx_ws_frame_size(5), 7, "size of a short frame");

    n = kx_ws_header(h, KX_WS_OP_TEXT, 1, 126);
    ok(n == 4 && h[1] == 126 && h[2] == 0 && h[3] == 126, "16-bit header");
    is_int(kx_ws_frame_size(65535), 65539, "size of a 16-bit frame");

    n = kx_ws_header(h, KX_WS_OP_BINARY, 0, 65536);
    ok(n == 10 && h[0] == 0x02 && h[1] == 127 && h[7] == 1 && h[9] == 0,
       "64-bit header, no FIN");
    is_int(kx_ws_frame_size(65536), 65546, "size of a 64-bit frame");
}


int
main(void)
{
    test_accept();
    test_parse();
    test_sequence();
    test_close();
    test_header();

    return kx_tap_done();
}
