
/*
 * Copyright (C) Kianax
 */


#ifndef _KX_UTF8_H_INCLUDED_
#define _KX_UTF8_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


/*
 * Strict UTF-8 (RFC 3629, Unicode table 3-7): overlong forms, UTF-16
 * surrogates (U+D800..U+DFFF) and anything above U+10FFFF are invalid.
 * Looser decoders let such bytes smuggle a second meaning past checks
 * that compare text, so every string we accept or emit goes through
 * this one decoder.
 */

#define KX_UTF8_REPLACEMENT  0xFFFD

/*
 * Decodes the sequence at p (avail > 0).  Returns its length (1..4) and
 * sets *cp, or returns minus the number of bytes to skip (1..3): the
 * "maximal subpart" of an ill-formed sequence, which is where Unicode
 * recommends a replacement character to resynchronise.
 */
int kx_utf8_next(const unsigned char *p, size_t avail, uint32_t *cp);

/* Returns the offset of the first invalid byte, or len if all is valid. */
size_t kx_utf8_validate(const char *s, size_t len);


#endif /* _KX_UTF8_H_INCLUDED_ */
