
/*
 * Copyright (C) Kianax
 */


#ifndef _KX_BASE64_H_INCLUDED_
#define _KX_BASE64_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


/* the output sizes, for a buffer the caller allocates */
#define kx_base64_encoded_len(n)  ((((n) + 2) / 3) * 4)
#define kx_base64_decoded_max(n)  ((((n) + 3) / 4) * 3)

/*
 * Standard (RFC 4648 §4, padded) and URL-safe (§5, no padding, as JWT
 * and JWK use it) alphabets.  Encoders return the length written and do
 * not NUL-terminate.  Decoders are strict: a character outside the
 * alphabet, a misplaced '=', non-zero trailing bits or an impossible
 * length is an error (-1), so one token has one encoding.
 */
size_t kx_base64_encode(char *dst, const unsigned char *src, size_t len);
size_t kx_base64url_encode(char *dst, const unsigned char *src, size_t len);
long kx_base64_decode(unsigned char *dst, const char *src, size_t len);
long kx_base64url_decode(unsigned char *dst, const char *src, size_t len);


#endif /* _KX_BASE64_H_INCLUDED_ */
