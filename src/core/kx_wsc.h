
/*
 * Copyright (C) Kianax
 */


#ifndef _KX_WSC_H_INCLUDED_
#define _KX_WSC_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


/*
 * The client side of RFC 6455 without I/O, for our connections to
 * providers' streams (Polygon): the opening handshake (request, and
 * the check of the server's 101 answer and its Sec-WebSocket-Accept),
 * masked client frames, and a reader of the server's frames that
 * joins fragments into messages and hands control frames over as they
 * come.
 *
 * A client must mask every frame with a fresh unpredictable key, and a
 * server must not mask (RFC 6455 5.1): the caller supplies the keys
 * (RAND_bytes in the glue), so this file stays deterministic for tests.
 */


#define KX_WSC_OP_CONT       0x0
#define KX_WSC_OP_TEXT       0x1
#define KX_WSC_OP_BINARY     0x2
#define KX_WSC_OP_CLOSE      0x8
#define KX_WSC_OP_PING       0x9
#define KX_WSC_OP_PONG       0xa

#define KX_WSC_KEY_LEN       24     /* base64 of 16 bytes */
#define KX_WSC_HEADER_MAX    14     /* 2 + 8 length + 4 mask */


enum {
    KX_WSC_OK = 0,
    KX_WSC_AGAIN,               /* incomplete: read more */
    KX_WSC_EPROTO,              /* the peer broke the protocol: close 1002 */
    KX_WSC_ETOOBIG,             /* a message over the limit: close 1009 */
    KX_WSC_EHANDSHAKE,          /* not a valid 101 answer */
    KX_WSC_ENOMEM
};


typedef struct {
    unsigned         opcode;    /* TEXT, BINARY, CLOSE, PING, PONG */
    const unsigned char  *data; /* valid until the next kx_wsc_read() */
    size_t           len;
} kx_wsc_msg_t;


typedef struct {
    size_t           max_message;   /* bytes of a joined message */
    unsigned         opcode;        /* of the message being joined; 0 */
    unsigned char   *buf;           /* its fragments so far (malloc) */
    size_t           len;
    size_t           cap;
} kx_wsc_t;


/* the key for the handshake from 16 random bytes; NUL-terminated */
void kx_wsc_key(const unsigned char nonce[16], char key[KX_WSC_KEY_LEN + 1]);

/*
 * "GET path HTTP/1.1" with Host, Upgrade, Connection, Sec-WebSocket-Key
 * and -Version; like snprintf.  host is "name" or "name:port".
 */
size_t kx_wsc_request(char *buf, size_t size, const char *host,
    const char *path, const char *key);

/*
 * Checks the server's answer at the start of buf: KX_WSC_AGAIN until
 * the header is complete; KX_WSC_OK when it is "101" with Upgrade:
 * websocket, Connection: upgrade and the right Sec-WebSocket-Accept,
 * *size then being the header's length (frames may follow in the same
 * read); KX_WSC_EHANDSHAKE otherwise, *status set when a status line
 * was read (e.g. 401), and also when the header has not ended within
 * its first 16 KiB.
 */
int kx_wsc_response(const char *buf, size_t len, const char *key,
    size_t *size, unsigned *status);

/* a whole masked frame (FIN set); returns its size: len + 6..14 */
size_t kx_wsc_frame(unsigned char *out, size_t size, unsigned opcode,
    const unsigned char *payload, size_t len, const unsigned char mask[4]);

void kx_wsc_init(kx_wsc_t *ws, size_t max_message);
void kx_wsc_free(kx_wsc_t *ws);

/*
 * Reads one frame at the start of buf.  KX_WSC_AGAIN: the frame is
 * incomplete (*used 0); KX_WSC_OK: *used bytes were taken, and when
 * msg->opcode is not 0 a message is ready: a control frame, or the
 * last fragment of a data message.  Errors are final.
 */
int kx_wsc_read(kx_wsc_t *ws, const unsigned char *buf, size_t len,
    size_t *used, kx_wsc_msg_t *msg);


#endif /* _KX_WSC_H_INCLUDED_ */
