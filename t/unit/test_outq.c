
/*
 * Copyright (C) Kianax
 */


#include <string.h>

#include "notify/kx_outq.h"

#include "kx_tap.h"


/* everything the queue would write now, as one string */
static size_t
pending(kx_outq_t *q, char *buf, size_t size)
{
    size_t        i, n, len;
    struct iovec  iov[64];

    n = kx_outq_iov(q, iov, 64);
    len = 0;

    for (i = 0; i < n && len + iov[i].iov_len <= size; i++) {
        memcpy(buf + len, iov[i].iov_base, iov[i].iov_len);
        len += iov[i].iov_len;
    }

    return len;
}


static kx_outq_msg_t *
msg(const char *s)
{
    return kx_outq_msg_create(s, strlen(s), "\n", 1);
}


static void
test_msg(void)
{
    kx_outq_msg_t  *m;

    m = kx_outq_msg_create("abc", 3, "\n", 1);
    ok(m != NULL && m->refs == 1 && m->len == 4
       && memcmp(m->data, "abc\n", 4) == 0, "a message is a + b, one ref");

    kx_outq_msg_ref(m);
    ok(m->refs == 2, "ref");
    kx_outq_msg_unref(m);
    ok(m->refs == 1, "unref");
    kx_outq_msg_unref(m);

    m = kx_outq_msg_create(NULL, 0, NULL, 0);
    ok(m != NULL && m->len == 0, "an empty message");
    kx_outq_msg_unref(m);

    ok(kx_outq_msg_create("x", 1, "y", (size_t) UINT32_MAX) == NULL,
       "a message over 4 GiB is refused");
}


static void
test_order_and_sharing(void)
{
    char            buf[256];
    size_t          len;
    kx_outq_t       q1, q2;
    kx_outq_msg_t  *a, *b, *r;

    kx_outq_init(&q1, 8, 0);
    kx_outq_init(&q2, 8, 0);

    ok(kx_outq_empty(&q1) && q1.items == NULL,
       "a new queue is empty and allocates nothing");

    a = msg("A1");
    b = msg("B1");
    r = msg("reply");

    is_int(kx_outq_push(&q1, a, 1), KX_OUTQ_OK, "push A (key 1)");
    is_int(kx_outq_push(&q1, r, 0), KX_OUTQ_OK, "push a reply (key 0)");
    is_int(kx_outq_push(&q1, b, 2), KX_OUTQ_OK, "push B (key 2)");
    is_int(kx_outq_push(&q2, a, 1), KX_OUTQ_OK, "A into a second queue");

    is_int(a->refs, 3, "A is shared: the creator's ref and two queues");

    kx_outq_msg_unref(a);
    kx_outq_msg_unref(b);
    kx_outq_msg_unref(r);

    len = pending(&q1, buf, sizeof(buf));
    is_mem(buf, len, "A1\nreply\nB1\n", 12, "written in push order");
    is_int(q1.bytes, 12, "bytes counted");

    kx_outq_free(&q1);
    is_int(a->refs, 1, "freeing a queue releases its refs");
    kx_outq_free(&q2);
}


static void
test_replace(void)
{
    char            buf[256];
    size_t          len;
    kx_outq_t       q;
    kx_outq_msg_t  *m;

    kx_outq_init(&q, 8, 0);

    m = msg("A1");
    kx_outq_push(&q, m, 1);
    kx_outq_msg_unref(m);

    m = msg("B1");
    kx_outq_push(&q, m, 2);
    kx_outq_msg_unref(m);

    m = msg("A2-newer");
    is_int(kx_outq_push(&q, m, 1), KX_OUTQ_REPLACED,
           "a newer message of key 1 replaces the queued one");
    kx_outq_msg_unref(m);

    m = msg("r1");
    kx_outq_push(&q, m, 0);
    kx_outq_msg_unref(m);

    m = msg("r2");
    is_int(kx_outq_push(&q, m, 0), KX_OUTQ_OK, "key 0 is never replaced");
    kx_outq_msg_unref(m);

    len = pending(&q, buf, sizeof(buf));
    is_mem(buf, len, "A2-newer\nB1\nr1\nr2\n", 18,
           "the replacement keeps the old item's place");
    is_int(q.count, 4, "four items");
    is_int(q.bytes, 18, "bytes follow the replacement");
    is_int(q.replaced, 1, "one message replaced");

    /* a partly written head is not replaced: it is on the wire */

    kx_outq_advance(&q, 3);
    is_int(q.sent, 3, "three bytes of the head written");

    m = msg("A3");
    is_int(kx_outq_push(&q, m, 1), KX_OUTQ_OK,
           "a partly written item of the key is not replaced");
    kx_outq_msg_unref(m);

    m = msg("A4");
    is_int(kx_outq_push(&q, m, 1), KX_OUTQ_REPLACED,
           "the item queued behind it is");
    kx_outq_msg_unref(m);

    len = pending(&q, buf, sizeof(buf));
    is_mem(buf, len, "newer\nB1\nr1\nr2\nA4\n", 18,
           "the head's rest, then the rest, then the newest of key 1");
    is_int(q.bytes, 18, "bytes exclude what was written");

    kx_outq_free(&q);
}


static void
test_bounds(void)
{
    kx_outq_t       q;
    kx_outq_msg_t  *m, *m2, *big;

    kx_outq_init(&q, 3, 0);

    m = msg("x");
    ok(kx_outq_push(&q, m, 1) == KX_OUTQ_OK
       && kx_outq_push(&q, m, 2) == KX_OUTQ_OK
       && kx_outq_push(&q, m, 3) == KX_OUTQ_OK, "three items fit");
    is_int(kx_outq_push(&q, m, 4), KX_OUTQ_FULL, "a fourth key is refused");
    is_int(kx_outq_push(&q, m, 0), KX_OUTQ_FULL, "so is a reply");
    is_int(kx_outq_push(&q, m, 2), KX_OUTQ_REPLACED,
           "a full queue still takes a newer message of a queued key");
    is_int(m->refs, 4, "a refused message is not referenced");
    kx_outq_free(&q);

    kx_outq_init(&q, 100, 10);
    ok(kx_outq_push(&q, m, 1) == KX_OUTQ_OK
       && kx_outq_push(&q, m, 2) == KX_OUTQ_OK, "4 of 10 bytes");

    big = kx_outq_msg_create("0123456", 7, NULL, 0);
    is_int(kx_outq_push(&q, big, 3), KX_OUTQ_FULL,
           "past the byte bound: refused");
    m2 = kx_outq_msg_create("012345678", 9, NULL, 0);
    is_int(kx_outq_push(&q, m2, 2), KX_OUTQ_FULL,
           "a replacement past the byte bound too");
    kx_outq_msg_unref(m2);
    kx_outq_advance(&q, 2);
    is_int(kx_outq_push(&q, big, 3), KX_OUTQ_OK,
           "written bytes free the room");
    is_int(q.bytes, 9, "9 bytes queued");

    kx_outq_free(&q);
    kx_outq_msg_unref(big);
    kx_outq_msg_unref(m);
}


static void
test_advance_and_wrap(void)
{
    char            buf[1024], want[1024], s[16];
    size_t          len, wlen, i, n;
    kx_outq_t       q;
    struct iovec    iov[2];
    kx_outq_msg_t  *m;

    kx_outq_init(&q, 1000, 0);
    wlen = 0;

    /* pushes and partial writes interleaved, so the ring wraps and grows */

    for (i = 0; i < 40; i++) {
        n = (size_t) snprintf(s, sizeof(s), "m%zu", i);
        m = kx_outq_msg_create(s, n, "\n", 1);
        kx_outq_push(&q, m, 0);
        kx_outq_msg_unref(m);

        memcpy(want + wlen, s, n);
        want[wlen + n] = '\n';
        wlen += n + 1;

        if (i % 3 == 2) {
            len = pending(&q, buf, sizeof(buf));
            kx_outq_advance(&q, len / 2 + 1);
            memmove(want, want + len / 2 + 1, wlen - (len / 2 + 1));
            wlen -= len / 2 + 1;
        }
    }

    len = pending(&q, buf, sizeof(buf));
    is_mem(buf, len, want, wlen, "bytes survive wrapping and growth");
    is_int(q.bytes, wlen, "bytes counted across partial writes");

    n = kx_outq_iov(&q, iov, 2);
    is_int(n, 2, "kx_outq_iov() stops at niov");

    kx_outq_advance(&q, q.bytes);
    ok(kx_outq_empty(&q) && q.bytes == 0 && q.sent == 0,
       "everything written: empty");
    is_int(kx_outq_iov(&q, iov, 2), 0, "nothing to write");

    kx_outq_free(&q);
}


int
main(void)
{
    test_msg();
    test_order_and_sharing();
    test_replace();
    test_bounds();
    test_advance_and_wrap();

    return kx_tap_done();
}
