
/*
 * Copyright (C) Kianax
 */


#ifndef _KX_ARENA_H_INCLUDED_
#define _KX_ARENA_H_INCLUDED_


#include <stddef.h>


/*
 * A bump allocator: many small allocations, one kx_arena_free().  It
 * is what makes a parsed document cheap to build and impossible to
 * leak piecemeal, like an nginx pool without the nginx.
 */

typedef struct kx_arena_blk_s  kx_arena_blk_t;

typedef struct {
    kx_arena_blk_t  *blocks;
    char            *pos;
    char            *end;
    size_t           next;      /* size of the next block */
} kx_arena_t;


void kx_arena_init(kx_arena_t *a, size_t first);
void *kx_arena_alloc(kx_arena_t *a, size_t size);
void *kx_arena_memdup0(kx_arena_t *a, const void *p, size_t len);
void kx_arena_free(kx_arena_t *a);


#endif /* _KX_ARENA_H_INCLUDED_ */
