
/*
 * Copyright (C) Kianax
 */


#include <string.h>

#include "core/kx_backoff.h"
#include "core/kx_outbox.h"


static int kx_outbox_ident_check(const char *s, size_t len);
static uint64_t kx_outbox_hash(const char *s, size_t len);


int
kx_outbox_table_check(const char *name, size_t len, size_t *schema_len)
{
    const char  *dot;

    dot = memchr(name, '.', len);
    if (dot == NULL) {
        return -1;
    }

    if (kx_outbox_ident_check(name, dot - name) != 0
        || kx_outbox_ident_check(dot + 1, len - (dot - name) - 1) != 0)
    {
        return -1;
    }

    *schema_len = dot - name;

    return 0;
}


static int
kx_outbox_ident_check(const char *s, size_t len)
{
    size_t  i;

    if (len == 0 || len > KX_OUTBOX_IDENT_MAX) {
        return -1;
    }

    if (!((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_')) {
        return -1;
    }

    for (i = 1; i < len; i++) {
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9')
              || s[i] == '_'))
        {
            return -1;
        }
    }

    return 0;
}


void
kx_outbox_chain(const kx_outbox_str_t *users, size_t n, long *prev,
    size_t *scratch)
{
    size_t   i, h, nslots, *slot;

    /* open addressing: a slot holds 1 + the index of the user's last row */

    nslots = 2 * n;

    if (nslots == 0) {
        return;
    }

    memset(scratch, 0, nslots * sizeof(size_t));

    for (i = 0; i < n; i++) {
        h = kx_outbox_hash(users[i].data, users[i].len) % nslots;

        for ( ;; ) {
            slot = &scratch[h];

            if (*slot == 0) {
                prev[i] = -1;
                break;
            }

            if (users[*slot - 1].len == users[i].len
                && memcmp(users[*slot - 1].data, users[i].data,
                          users[i].len) == 0)
            {
                prev[i] = (long) (*slot - 1);
                break;
            }

            h = (h + 1) % nslots;
        }

        *slot = i + 1;
    }
}


/* FNV-1a */

static uint64_t
kx_outbox_hash(const char *s, size_t len)
{
    size_t    i;
    uint64_t  h;

    h = UINT64_C(14695981039346656037);

    for (i = 0; i < len; i++) {
        h ^= (unsigned char) s[i];
        h *= UINT64_C(1099511628211);
    }

    return h;
}


void
kx_outbox_pace_init(kx_outbox_pace_t *pace, int64_t interval_min,
    int64_t interval_max, int64_t retry_min, int64_t retry_max)
{
    pace->interval_min = interval_min;
    pace->interval_max = interval_max < interval_min ? interval_min
                                                     : interval_max;
    pace->retry_min = retry_min;
    pace->retry_max = retry_max < retry_min ? retry_min : retry_max;
    pace->idle = interval_min;
    pace->failures = 0;
}


int64_t
kx_outbox_pace_next(kx_outbox_pace_t *pace, kx_outbox_round_e round,
    uint32_t rnd)
{
    int64_t  d;

    switch (round) {

    case KX_OUTBOX_ROUND_FULL:
        pace->failures = 0;
        pace->idle = pace->interval_min;
        return 0;

    case KX_OUTBOX_ROUND_SOME:
        pace->failures = 0;
        pace->idle = pace->interval_min;
        return pace->interval_min;

    case KX_OUTBOX_ROUND_EMPTY:
        pace->failures = 0;
        d = pace->idle;
        pace->idle = (d > pace->interval_max / 2) ? pace->interval_max
                                                  : 2 * d;
        if (pace->idle < pace->interval_min) {
            pace->idle = pace->interval_min;
        }
        return d;

    case KX_OUTBOX_ROUND_STUCK:
        pace->failures = 0;
        pace->idle = pace->interval_min;
        return pace->retry_min;

    default: /* KX_OUTBOX_ROUND_FAILED */
        if (pace->failures < 64) {
            pace->failures++;
        }

        /* after a failure, look again soon once things work */
        pace->idle = pace->interval_min;

        /* at least retry_min: a dead server is not hammered */
        d = kx_backoff_full(pace->retry_min, pace->retry_max, pace->failures,
                            rnd);
        return d < pace->retry_min ? pace->retry_min : d;
    }
}


size_t
kx_outbox_array_elem(char *dst, const char *s, size_t len)
{
    char    *p;
    size_t   i, n;

    if (s == NULL) {
        if (dst) {
            memcpy(dst, "NULL", 4);
        }
        return 4;
    }

    n = 2;

    for (i = 0; i < len; i++) {
        n += (s[i] == '"' || s[i] == '\\') ? 2 : 1;
    }

    if (dst == NULL) {
        return n;
    }

    p = dst;
    *p++ = '"';

    for (i = 0; i < len; i++) {
        if (s[i] == '"' || s[i] == '\\') {
            *p++ = '\\';
        }
        *p++ = s[i];
    }

    *p = '"';

    return n;
}
