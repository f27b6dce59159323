
/*
 * Copyright (C) Kianax
 */


#ifndef _KX_WS_H_INCLUDED_
#define _KX_WS_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


/*
 * The server side of RFC 6455 framing, without I/O: the handshake's
 * accept key, parsing of (masked) client frames in place, the
 * fragmentation rules, close payloads, and headers of server frames.
 *
 * Server frames are never masked, so a frame is a header plus the
 * payload's own bytes: one frame serves every socket it goes to.
 */


#define KX_WS_OP_CONT        0x0
#define KX_WS_OP_TEXT        0x1
#define KX_WS_OP_BINARY      0x2
#define KX_WS_OP_CLOSE       0x8
#define KX_WS_OP_PING        0x9
#define KX_WS_OP_PONG        0xa

#define KX_WS_CLOSE_NORMAL       1000
#define KX_WS_CLOSE_GOING_AWAY   1001
#define KX_WS_CLOSE_PROTOCOL     1002
#define KX_WS_CLOSE_UNSUPPORTED  1003
#define KX_WS_CLOSE_NO_STATUS    1005   /* never sent */
#define KX_WS_CLOSE_ABNORMAL     1006   /* never sent */
#define KX_WS_CLOSE_INVALID      1007   /* e.g. bad UTF-8 in a text frame */
#define KX_WS_CLOSE_POLICY       1008
#define KX_WS_CLOSE_TOO_BIG      1009
#define KX_WS_CLOSE_INTERNAL     1011
#define KX_WS_CLOSE_TRY_LATER    1013

/* a server frame's header: 2 + 8 length bytes, no mask */
#define KX_WS_SERVER_HEADER_MAX  10
/* a client frame's header: 2 + 8 + 4 mask bytes */
#define KX_WS_CLIENT_HEADER_MAX  14
#define KX_WS_CONTROL_MAX        125

/* "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" */
#define KX_WS_ACCEPT_LEN         28


enum {
    KX_WS_OK = 0,
    KX_WS_AGAIN = 1,                /* an incomplete frame: read more */
    KX_WS_ERROR = -1                /* close with frame->close_code */
};


typedef struct {
    unsigned        opcode;
    unsigned        fin;
    unsigned char  *payload;        /* unmasked in place */
    uint64_t        len;            /* of the payload */
    size_t          size;           /* header + payload */
    size_t          need;           /* KX_WS_AGAIN: bytes the frame needs,
                                       0 while the header is incomplete */
    unsigned        close_code;     /* KX_WS_ERROR */
} kx_ws_frame_t;


/*
 * Sec-WebSocket-Key must be the base64 of 16 bytes.  Writes the
 * KX_WS_ACCEPT_LEN characters of Sec-WebSocket-Accept; -1 if the key is
 * not valid.
 */
int kx_ws_accept_key(const char *key, size_t len, char *accept);

/*
 * Parses the client frame at the start of buf.  KX_WS_OK: a whole frame,
 * its payload unmasked in place; KX_WS_AGAIN: incomplete; KX_WS_ERROR:
 * close_code says why (unmasked frame, reserved bits or opcodes, a
 * control frame fragmented or over 125 bytes: 1002; payload over
 * max_payload: 1009, known from the header alone).
 */
int kx_ws_frame_parse(unsigned char *buf, size_t len, uint64_t max_payload,
    kx_ws_frame_t *frame);

/*
 * The fragmentation rules: *cur is the opcode of the data message in
 * progress (0: none).  Returns 0, or 1002 for a continuation out of
 * place or a new data frame inside a fragmented message.
 */
unsigned kx_ws_frame_sequence(unsigned *cur, const kx_ws_frame_t *frame);

/*
 * A received close payload: *code is its status (1005 when empty).
 * Returns 0, or the code to close with: 1002 for a one-byte payload or a
 * status a peer may not send, 1007 for a reason that is not UTF-8.
 */
unsigned kx_ws_close_parse(const unsigned char *p, size_t len,
    unsigned *code);

/* writes a server frame header (FIN set when fin); returns its length */
size_t kx_ws_header(unsigned char *buf, unsigned opcode, unsigned fin,
    uint64_t len);

/* header + payload of a whole server frame, in a buffer of enough size */
size_t kx_ws_frame_size(uint64_t len);

/* client side, for tests and load clients: a masked frame into buf */
size_t kx_ws_client_frame(unsigned char *buf, unsigned opcode, unsigned fin,
    const unsigned char *payload, size_t len, const unsigned char mask[4]);


#endif /* _KX_WS_H_INCLUDED_ */
