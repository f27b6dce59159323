
/*
 * Copyright (C) Kianax
 *
 * The pure parts of the transactional-outbox relay
 * (modules/ngx_http_kx_outbox_module.c): which table names may go into
 * SQL text, which earlier row of the same user each row of a batch must
 * wait for, how the relay paces its rounds, and PostgreSQL array
 * literals for the batched UPDATE that marks rows published.
 */


#ifndef _KX_OUTBOX_H_INCLUDED_
#define _KX_OUTBOX_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


#define KX_OUTBOX_IDENT_MAX  63          /* PostgreSQL's NAMEDATALEN - 1 */


/*
 * "schema.table", each part [a-z_][a-z0-9_]* and at most 63 bytes: the
 * name goes into SQL text unquoted, so only plain lower-case
 * identifiers are accepted.  Returns 0 and the length of the schema
 * part, or -1.
 */
int kx_outbox_table_check(const char *name, size_t len, size_t *schema_len);


typedef struct {
    const char  *data;
    size_t       len;
} kx_outbox_str_t;


/*
 * For each row i of a batch (in id order), prev[i] = the index of the
 * previous row with the same user, or -1 when it is the user's first in
 * the batch.  The relay publishes row i only if prev[i] got published,
 * so one user's events never overtake each other while other users'
 * events go on.  scratch must hold 2 * n entries.  O(n) expected.
 */
void kx_outbox_chain(const kx_outbox_str_t *users, size_t n, long *prev,
    size_t *scratch);


/*
 * Pacing.  After a round that found work, the next one comes after
 * interval_min (at once when the batch was full); every round that finds
 * nothing doubles the delay up to interval_max; failures back off from
 * retry_min to retry_max with full jitter.  Rows that Redis refuses while
 * it works (one user's broken stream) are tried again every retry_min,
 * without backoff, so the other users' events are not slowed down.
 */
typedef enum {
    KX_OUTBOX_ROUND_FULL = 0,    /* a whole batch published: more waits */
    KX_OUTBOX_ROUND_SOME,        /* rows published, the table drained */
    KX_OUTBOX_ROUND_EMPTY,       /* nothing to do (or another relay has it) */
    KX_OUTBOX_ROUND_STUCK,       /* Redis refused some rows, the rest went */
    KX_OUTBOX_ROUND_FAILED       /* PostgreSQL or Redis failed */
} kx_outbox_round_e;


typedef struct {
    int64_t    interval_min;     /* ms */
    int64_t    interval_max;
    int64_t    retry_min;
    int64_t    retry_max;

    int64_t    idle;             /* the current idle delay */
    unsigned   failures;         /* consecutive failed rounds */
} kx_outbox_pace_t;


void kx_outbox_pace_init(kx_outbox_pace_t *pace, int64_t interval_min,
    int64_t interval_max, int64_t retry_min, int64_t retry_max);

/* the delay before the next round, in ms; rnd: one random 32-bit value */
int64_t kx_outbox_pace_next(kx_outbox_pace_t *pace, kx_outbox_round_e round,
    uint32_t rnd);


/*
 * One element of a PostgreSQL array literal of text: "..." with '"' and
 * '\' escaped, or NULL when s is NULL.  Writes to dst unless it is NULL;
 * returns the length (the most it can be is 2 * len + 2, or 4).
 */
size_t kx_outbox_array_elem(char *dst, const char *s, size_t len);


#endif /* _KX_OUTBOX_H_INCLUDED_ */
