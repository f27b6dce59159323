
/*
 * Copyright (C) Kianax
 */


#ifndef _KX_OUTQ_H_INCLUDED_
#define _KX_OUTQ_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>


/*
 * The output queue of one live-feed connection (the TCP quote feed of
 * ngx_stream_kx_quotes_module; written to be shared with the WebSocket
 * side of the notify module too): pure C, no nginx types.
 *
 * Messages are refcounted byte strings built once per published message
 * and shared by every connection that gets it, so a fan-out to N
 * connections is N pointer pushes, not N copies.  The bytes are whatever
 * goes on the wire (a quote line with its "\n", or a WebSocket frame with
 * its header).
 *
 * A queue item has a key: a newer message with the key of an item still
 * waiting replaces it in place (a slow reader gets the latest quote of a
 * symbol, not every stale one), unless that item is partly written.  Key 0
 * is never replaced (replies, user events).  The queue is bounded by items
 * and by bytes: a push past either bound fails with KX_OUTQ_FULL and the
 * caller closes the connection.
 *
 * Writing: kx_outq_iov() gives the unwritten bytes as an iovec array for
 * one writev(); kx_outq_advance() drops what the kernel took.
 */


typedef struct {
    uint32_t        refs;
    uint32_t        len;
    unsigned char   data[];
} kx_outq_msg_t;


typedef struct {
    kx_outq_msg_t  *msg;
    uint32_t        key;
} kx_outq_item_t;


typedef struct {
    kx_outq_item_t *items;          /* a ring, cap a power of 2 */
    uint32_t        head;
    uint32_t        count;
    uint32_t        cap;
    uint32_t        max_items;
    size_t          max_bytes;
    size_t          bytes;          /* unwritten bytes queued */
    size_t          sent;           /* bytes of the head item written */
    uint64_t        replaced;       /* messages replaced before written */
} kx_outq_t;


typedef enum {
    KX_OUTQ_OK = 0,
    KX_OUTQ_REPLACED,               /* took the place of an older item */
    KX_OUTQ_FULL,                   /* not queued: past a bound */
    KX_OUTQ_NOMEM
} kx_outq_rc_e;


/* a + b concatenated, refs 1; NULL when out of memory or over 4 GiB */
kx_outq_msg_t *kx_outq_msg_create(const void *a, size_t alen, const void *b,
    size_t blen);

static inline kx_outq_msg_t *
kx_outq_msg_ref(kx_outq_msg_t *m)
{
    m->refs++;
    return m;
}

void kx_outq_msg_unref(kx_outq_msg_t *m);


/* max_items >= 1; nothing is allocated before the first push */
void kx_outq_init(kx_outq_t *q, uint32_t max_items, size_t max_bytes);

/* releases every queued message */
void kx_outq_free(kx_outq_t *q);

/* takes a reference to msg when queued (OK or REPLACED) */
kx_outq_rc_e kx_outq_push(kx_outq_t *q, kx_outq_msg_t *msg, uint32_t key);

/* the unwritten bytes, at most niov pieces; returns the number used */
size_t kx_outq_iov(const kx_outq_t *q, struct iovec *iov, size_t niov);

/* n bytes of what kx_outq_iov() gave were written */
void kx_outq_advance(kx_outq_t *q, size_t n);

#define kx_outq_empty(q)  ((q)->count == 0)


#endif /* _KX_OUTQ_H_INCLUDED_ */
