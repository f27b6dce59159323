
/*
 * Copyright (C) Kianax
 */


#ifndef _KX_TAP_H_INCLUDED_
#define _KX_TAP_H_INCLUDED_


/*
 * Plain TAP for C unit tests, so prove runs them beside the Perl
 * suites.  Include it in exactly one file per test binary; finish with
 * "return kx_tap_done();".
 */

#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>


static int  kx_tap_n;
static int  kx_tap_failed;


__attribute__((format(printf, 2, 3), unused))
static int
kx_tap_ok(int pass, const char *fmt, ...)
{
    va_list  ap;

    kx_tap_n++;

    printf("%sok %d - ", pass ? "" : "not ", kx_tap_n);

    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);

    printf("\n");

    if (!pass) {
        kx_tap_failed++;
    }

    fflush(stdout);

    return pass;
}


__attribute__((format(printf, 1, 2), unused))
static void
kx_tap_diag(const char *fmt, ...)
{
    va_list  ap;

    printf("# ");

    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);

    printf("\n");
}


/* prints bytes readably, so a failing string comparison can be read */
__attribute__((unused))
static void
kx_tap_diag_bytes(const char *label, const char *s, size_t len)
{
    size_t  i;

    printf("#   %s: ", label);

    if (s == NULL) {
        printf("(null)\n");
        return;
    }

    printf("\"");

    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char) s[i];

        if (c >= 0x20 && c < 0x7f && c != '\\' && c != '"') {
            putchar(c);

        } else {
            printf("\\x%02x", c);
        }
    }

    printf("\" (%zu bytes)\n", len);
}


__attribute__((unused))
static int
kx_tap_is_int(int64_t got, int64_t want, const char *name)
{
    if (kx_tap_ok(got == want, "%s", name)) {
        return 1;
    }

    kx_tap_diag("  got: %" PRId64, got);
    kx_tap_diag(" want: %" PRId64, want);

    return 0;
}


__attribute__((unused))
static int
kx_tap_is_mem(const char *got, size_t got_len, const char *want,
    size_t want_len, const char *name)
{
    int  pass;

    pass = got != NULL && got_len == want_len
           && memcmp(got, want, want_len) == 0;

    if (kx_tap_ok(pass, "%s", name)) {
        return 1;
    }

    kx_tap_diag_bytes(" got", got, got ? got_len : 0);
    kx_tap_diag_bytes("want", want, want_len);

    return 0;
}


__attribute__((unused))
static int
kx_tap_is_str(const char *got, const char *want, const char *name)
{
    return kx_tap_is_mem(got, got ? strlen(got) : 0, want, strlen(want),
                         name);
}


__attribute__((unused))
static int
kx_tap_done(void)
{
    printf("1..%d\n", kx_tap_n);

    if (kx_tap_failed) {
        kx_tap_diag("failed %d of %d tests", kx_tap_failed, kx_tap_n);
    }

    return kx_tap_failed ? 1 : 0;
}


#define ok(cond, ...)                 kx_tap_ok(!!(cond), __VA_ARGS__)
#define is_int(got, want, name)       kx_tap_is_int((got), (want), (name))
#define is_str(got, want, name)       kx_tap_is_str((got), (want), (name))
/* variadic so that a (pointer, length) macro can fill two arguments */
#define is_mem(...)                   kx_tap_is_mem(__VA_ARGS__)
#define diag(...)                     kx_tap_diag(__VA_ARGS__)


#endif /* _KX_TAP_H_INCLUDED_ */
