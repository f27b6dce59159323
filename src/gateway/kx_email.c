
/*
 * Copyright (C) Kianax
 */


#include "core/kx_utf8.h"
#include "gateway/kx_email.h"


size_t
kx_email_normalize(const char *in, size_t len, char *out)
{
    size_t         i, at, dot;
    unsigned char  c;

    while (len && (in[0] == ' ' || in[0] == '\t')) {
        in++;
        len--;
    }

    while (len && (in[len - 1] == ' ' || in[len - 1] == '\t')) {
        len--;
    }

    if (len < 3 || len > KX_EMAIL_MAX || kx_utf8_validate(in, len) != len) {
        return 0;
    }

    at = len;
    dot = 0;

    for (i = 0; i < len; i++) {
        c = (unsigned char) in[i];

        if (c <= 0x20 || c == 0x7f || c == '<' || c == '>' || c == ','
            || c == ';' || c == '"' || c == '\\')
        {
            return 0;
        }

        if (c == '@') {
            if (at != len) {
                return 0;       /* a second '@' */
            }
            at = i;
        }

        if (c == '.' && at != len && i > at + 1 && i < len - 1) {
            dot = i;
        }

        out[i] = (c >= 'A' && c <= 'Z') ? (char) (c | 0x20) : (char) c;
    }

    /* something before '@', a dot inside the domain, no ".." at its ends */
    if (at == 0 || at == len || dot == 0 || in[at + 1] == '.'
        || in[len - 1] == '.')
    {
        return 0;
    }

    out[len] = '\0';

    return len;
}
