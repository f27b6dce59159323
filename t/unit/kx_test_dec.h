
/*
 * Copyright (C) Kianax
 *
 * Decimal literals for the unit tests; include after kx_tap.h.
 */


#ifndef _KX_TEST_DEC_H_INCLUDED_
#define _KX_TEST_DEC_H_INCLUDED_


#include <stdlib.h>
#include <string.h>

#include "core/kx_decimal.h"


/* a literal of the test; a bad one ends the program */
static inline kx_dec_t
dec(const char *s)
{
    kx_dec_t  d;

    if (kx_dec_parse(s, strlen(s), &d) != KX_DEC_OK) {
        diag("bad literal in test: %s", s);
        exit(2);
    }

    return d;
}


/* got, in its shortest form, is want */
static inline int
dec_is(kx_dec_t got, const char *want, const char *name)
{
    char  buf[KX_DEC_FMT_MAX];

    kx_dec_format_min(got, buf, sizeof(buf));

    return is_str(buf, want, name);
}


#endif /* _KX_TEST_DEC_H_INCLUDED_ */
