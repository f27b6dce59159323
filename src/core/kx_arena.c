
/*
 * Copyright (C) Kianax
 */


#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kx_arena.h"


#define KX_ARENA_ALIGN     16
#define KX_ARENA_MIN       512
#define KX_ARENA_MAX_STEP  (1024 * 1024)

#define kx_arena_align(n)  (((n) + KX_ARENA_ALIGN - 1)                       \
                            & ~(size_t) (KX_ARENA_ALIGN - 1))


struct kx_arena_blk_s {
    kx_arena_blk_t  *next;
    size_t           pad;       /* keeps the payload 16-byte aligned */
};


void
kx_arena_init(kx_arena_t *a, size_t first)
{
    a->blocks = NULL;
    a->pos = NULL;
    a->end = NULL;
    a->next = first < KX_ARENA_MIN ? KX_ARENA_MIN : first;
}


void *
kx_arena_alloc(kx_arena_t *a, size_t size)
{
    char            *p;
    size_t           need, bsize;
    kx_arena_blk_t  *b;

    if (size > SIZE_MAX / 2) {
        return NULL;
    }

    need = kx_arena_align(size == 0 ? 1 : size);

    if (a->pos != NULL && (size_t) (a->end - a->pos) >= need) {
        p = a->pos;
        a->pos += need;
        return p;
    }

    /*
     * Blocks grow twofold up to a step, so small documents cost one malloc
     * and big ones a few dozen; an oversized request gets its own.
     */
    bsize = a->next;

    if (bsize < need) {
        bsize = need;
    }

    b = malloc(sizeof(kx_arena_blk_t) + bsize);
    if (b == NULL) {
        return NULL;
    }

    b->next = a->blocks;
    a->blocks = b;

    if (a->next < KX_ARENA_MAX_STEP) {
        a->next *= 2;
    }

    p = (char *) (b + 1);
    a->pos = p + need;
    a->end = p + bsize;

    return p;
}


void *
kx_arena_memdup0(kx_arena_t *a, const void *p, size_t len)
{
    char  *d;

    if (len == SIZE_MAX) {
        return NULL;
    }

    d = kx_arena_alloc(a, len + 1);
    if (d == NULL) {
        return NULL;
    }

    if (len) {
        memcpy(d, p, len);
    }

    d[len] = '\0';

    return d;
}


void
kx_arena_free(kx_arena_t *a)
{
    kx_arena_blk_t  *b, *next;

    for (b = a->blocks; b; b = next) {
        next = b->next;
        free(b);
    }

    a->blocks = NULL;
    a->pos = NULL;
    a->end = NULL;
}
