
/*
 * Copyright (C) Kianax
 *
 * Number formatting for hot paths (log lines, RESP framing), where a
 * printf-style formatter parses its format string on every call.
 */


#ifndef _KX_FMT_H_INCLUDED_
#define _KX_FMT_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


/* the longest an unsigned 64-bit number prints */
#define KX_FMT_U64_LEN  20


/* writes n in decimal at p, no NUL; returns the end */
char *kx_fmt_u64(char *p, uint64_t n);

/* the same, with leading zeros to at least width digits */
char *kx_fmt_u64_pad(char *p, uint64_t n, size_t width);


#endif /* _KX_FMT_H_INCLUDED_ */
