
/*
 * Copyright (C) Kianax
 *
 * Account rules: e-mail normalisation, the password policy, argon2id.
 */


#include <string.h>

#include "kx_tap.h"
#include "gateway/kx_email.h"
#include "gateway/kx_password.h"


static int
email_is(const char *in, const char *want)
{
    char    out[KX_EMAIL_MAX + 1];
    size_t  n;

    n = kx_email_normalize(in, strlen(in), out);

    if (want == NULL) {
        return n == 0;
    }

    return n == strlen(want) && strcmp(out, want) == 0;
}


int
main(void)
{
    char                  hash[KX_PASSWORD_HASH_MAX], big[300];
    char                  again[KX_PASSWORD_HASH_MAX];
    unsigned char         salt[KX_PASSWORD_SALT_LEN];
    unsigned char         salt2[KX_PASSWORD_SALT_LEN];
    kx_password_params_t  p = { 1, 1024, 1 };     /* cheap for tests */

    kx_tap_ok(email_is("Alice@Example.COM", "alice@example.com"),
              "lower-cased");
    kx_tap_ok(email_is("  bob@example.org\t", "bob@example.org"), "trimmed");
    kx_tap_ok(email_is("a.b+tag@sub.example.co.uk",
                       "a.b+tag@sub.example.co.uk"), "plus tag, subdomains");
    kx_tap_ok(email_is("josé@exämple.com", "josé@exämple.com"),
              "UTF-8 kept");
    kx_tap_ok(email_is("no-at-sign.com", NULL), "no @");
    kx_tap_ok(email_is("two@@example.com", NULL), "two @");
    kx_tap_ok(email_is("a@b@example.com", NULL), "a second @");
    kx_tap_ok(email_is("@example.com", NULL), "nothing before @");
    kx_tap_ok(email_is("user@localhost", NULL), "no dot in the domain");
    kx_tap_ok(email_is("user@.example.com", NULL), "domain starts with a dot");
    kx_tap_ok(email_is("user@example.com.", NULL), "domain ends with a dot");
    kx_tap_ok(email_is("us er@example.com", NULL), "space inside");
    kx_tap_ok(email_is("user@exa\x01mple.com", NULL), "control character");
    kx_tap_ok(email_is("user@ex\xff.com", NULL), "invalid UTF-8");
    kx_tap_ok(email_is("", NULL), "empty");
    memset(big, 'a', sizeof(big));
    memcpy(big + 250, "@x.io", 6);
    kx_tap_ok(email_is(big, NULL), "over 254 bytes");

    kx_tap_ok(kx_password_check("12345678", 8) == NULL, "8 characters pass");
    kx_tap_ok(kx_password_check("1234567", 7) != NULL, "7 are too few");
    kx_tap_ok(kx_password_check("ééééééé", 14) != NULL,
              "7 two-byte characters are 7, not 14");
    kx_tap_ok(kx_password_check("éééééééé", 16) == NULL,
              "8 two-byte characters pass");
    kx_tap_ok(kx_password_check("abcdefg\xff", 8) != NULL, "invalid UTF-8");

    kx_tap_ok(kx_password_salt(salt) == 0, "a salt");
    kx_tap_ok(kx_password_hash(&p, "correct horse", 13, salt, hash,
                               sizeof(hash)) == 0, "hash");
    kx_tap_ok(strncmp(hash, "$argon2id$v=19$m=1024,t=1,p=1$", 30) == 0,
              "PHC string with our parameters: %s", hash);
    kx_tap_ok(kx_password_verify(hash, "correct horse", 13), "verify");
    kx_tap_ok(!kx_password_verify(hash, "correct horsf", 13), "wrong password");
    kx_tap_ok(!kx_password_verify(hash, "correct hors", 12), "prefix");

    /* the salt decides the string: the same one again, then another */
    kx_tap_ok(kx_password_hash(&p, "correct horse", 13, salt, again,
                               sizeof(again)) == 0
              && strcmp(again, hash) == 0, "same salt: same PHC string");
    kx_tap_ok(kx_password_salt(salt2) == 0
              && memcmp(salt, salt2, sizeof(salt)) != 0, "salts differ");
    kx_tap_ok(kx_password_hash(&p, "correct horse", 13, salt2, again,
                               sizeof(again)) == 0
              && strcmp(again, hash) != 0
              && kx_password_verify(again, "correct horse", 13),
              "another salt: another string, the same password");
    kx_tap_ok(!kx_password_verify("$6$notargon", "x", 1), "foreign hash");

    return kx_tap_done();
}
