
/*
 * Copyright (C) Kianax
 */


#include <stdlib.h>
#include <string.h>

#include "kx_outq.h"


#define KX_OUTQ_MIN_CAP  4


static int kx_outq_grow(kx_outq_t *q);


kx_outq_msg_t *
kx_outq_msg_create(const void *a, size_t alen, const void *b, size_t blen)
{
    kx_outq_msg_t  *m;

    if (alen > UINT32_MAX || blen > UINT32_MAX - alen) {
        return NULL;
    }

    m = malloc(sizeof(kx_outq_msg_t) + alen + blen);
    if (m == NULL) {
        return NULL;
    }

    m->refs = 1;
    m->len = (uint32_t) (alen + blen);

    if (alen) {
        memcpy(m->data, a, alen);
    }

    if (blen) {
        memcpy(m->data + alen, b, blen);
    }

    return m;
}


void
kx_outq_msg_unref(kx_outq_msg_t *m)
{
    if (--m->refs == 0) {
        free(m);
    }
}


void
kx_outq_init(kx_outq_t *q, uint32_t max_items, size_t max_bytes)
{
    memset(q, 0, sizeof(kx_outq_t));

    q->max_items = max_items ? max_items : 1;
    q->max_bytes = max_bytes;
}


void
kx_outq_free(kx_outq_t *q)
{
    uint32_t  i;

    for (i = 0; i < q->count; i++) {
        kx_outq_msg_unref(q->items[(q->head + i) & (q->cap - 1)].msg);
    }

    free(q->items);

    q->items = NULL;
    q->head = 0;
    q->count = 0;
    q->cap = 0;
    q->bytes = 0;
    q->sent = 0;
}


kx_outq_rc_e
kx_outq_push(kx_outq_t *q, kx_outq_msg_t *msg, uint32_t key)
{
    uint32_t         i, n;
    kx_outq_item_t  *it;

    /*
     * The newest item of the key, searched from the tail: there is at
     * most one, except behind a partly written head.  Queues are short
     * (a slow reader's quotes coalesce), so a scan beats an index that
     * every idle connection would pay for.
     */

    if (key) {
        for (n = q->count; n > 0; n--) {
            i = n - 1;
            it = &q->items[(q->head + i) & (q->cap - 1)];

            if (it->key != key) {
                continue;
            }

            if (i == 0 && q->sent) {
                break;
            }

            if (q->max_bytes
                && q->bytes - it->msg->len + msg->len > q->max_bytes)
            {
                return KX_OUTQ_FULL;
            }

            q->bytes = q->bytes - it->msg->len + msg->len;
            q->replaced++;

            kx_outq_msg_unref(it->msg);
            it->msg = kx_outq_msg_ref(msg);

            return KX_OUTQ_REPLACED;
        }
    }

    if (q->count >= q->max_items
        || (q->max_bytes && q->bytes + msg->len > q->max_bytes))
    {
        return KX_OUTQ_FULL;
    }

    if (q->count == q->cap && kx_outq_grow(q) != 0) {
        return KX_OUTQ_NOMEM;
    }

    it = &q->items[(q->head + q->count) & (q->cap - 1)];
    it->msg = kx_outq_msg_ref(msg);
    it->key = key;

    q->count++;
    q->bytes += msg->len;

    return KX_OUTQ_OK;
}


size_t
kx_outq_iov(const kx_outq_t *q, struct iovec *iov, size_t niov)
{
    size_t           n, skip;
    kx_outq_item_t  *it;

    skip = q->sent;

    for (n = 0; n < niov && n < q->count; n++) {
        it = &q->items[(q->head + n) & (q->cap - 1)];

        iov[n].iov_base = it->msg->data + skip;
        iov[n].iov_len = it->msg->len - skip;

        skip = 0;
    }

    return n;
}


void
kx_outq_advance(kx_outq_t *q, size_t n)
{
    size_t           left;
    kx_outq_item_t  *it;

    q->bytes -= n < q->bytes ? n : q->bytes;

    while (n && q->count) {
        it = &q->items[q->head];
        left = it->msg->len - q->sent;

        if (n < left) {
            q->sent += n;
            return;
        }

        n -= left;

        kx_outq_msg_unref(it->msg);

        q->head = (q->head + 1) & (q->cap - 1);
        q->count--;
        q->sent = 0;
    }
}


/* doubles the ring (up to the power of 2 above max_items), unrolling it */

static int
kx_outq_grow(kx_outq_t *q)
{
    uint32_t         cap, i;
    kx_outq_item_t  *items;

    cap = q->cap ? q->cap * 2 : KX_OUTQ_MIN_CAP;

    items = malloc(cap * sizeof(kx_outq_item_t));
    if (items == NULL) {
        return -1;
    }

    for (i = 0; i < q->count; i++) {
        items[i] = q->items[(q->head + i) & (q->cap - 1)];
    }

    free(q->items);

    q->items = items;
    q->cap = cap;
    q->head = 0;

    return 0;
}
