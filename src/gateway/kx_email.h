
/*
 * Copyright (C) Kianax
 */


#ifndef _KX_EMAIL_H_INCLUDED_
#define _KX_EMAIL_H_INCLUDED_


#include <stddef.h>


#define KX_EMAIL_MAX  254


/*
 * An account's e-mail address, normalised: surrounding spaces trimmed,
 * ASCII lower-cased (the unique key of auth.users).  Accepts the
 * practical shape local@domain.tld: no spaces or control characters, one
 * '@', a dot inside the domain, valid UTF-8, at most 254 bytes.  out has
 * room for KX_EMAIL_MAX + 1 bytes.  Returns the length, or 0 if invalid.
 */
size_t kx_email_normalize(const char *in, size_t len, char *out);


#endif /* _KX_EMAIL_H_INCLUDED_ */
