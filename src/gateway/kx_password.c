
/*
 * Copyright (C) Kianax
 */


#include <argon2.h>
#include <openssl/rand.h>

#include "core/kx_utf8.h"
#include "gateway/kx_password.h"


#define KX_PASSWORD_HASH_LEN  32


const char *
kx_password_check(const char *pwd, size_t len)
{
    size_t  chars, i;

    if (len > KX_PASSWORD_MAX_BYTES) {
        return "password must be at most 1024 bytes";
    }

    if (kx_utf8_validate(pwd, len) != len) {
        return "password must be valid UTF-8";
    }

    /* characters, not bytes: count the bytes that start one */
    chars = 0;
    for (i = 0; i < len; i++) {
        chars += ((unsigned char) pwd[i] & 0xc0) != 0x80;
    }

    if (chars < KX_PASSWORD_MIN_CHARS) {
        return "password must be at least 8 characters";
    }

    return NULL;
}


int
kx_password_salt(unsigned char salt[KX_PASSWORD_SALT_LEN])
{
    return RAND_bytes(salt, KX_PASSWORD_SALT_LEN) == 1 ? 0 : -1;
}


int
kx_password_hash(const kx_password_params_t *p, const char *pwd, size_t len,
    const unsigned char salt[KX_PASSWORD_SALT_LEN], char *out, size_t size)
{
    if (argon2id_hash_encoded(p->t_cost, p->m_cost, p->parallelism, pwd, len,
                              salt, KX_PASSWORD_SALT_LEN,
                              KX_PASSWORD_HASH_LEN, out, size)
        != ARGON2_OK)
    {
        return -1;
    }

    return 0;
}


int
kx_password_verify(const char *encoded, const char *pwd, size_t len)
{
    return argon2id_verify(encoded, pwd, len) == ARGON2_OK;
}


void
kx_password_burn(const kx_password_params_t *p, const char *pwd, size_t len)
{
    unsigned char  hash[KX_PASSWORD_HASH_LEN];
    unsigned char  salt[KX_PASSWORD_SALT_LEN] = { 0 };

    (void) argon2id_hash_raw(p->t_cost, p->m_cost, p->parallelism, pwd, len,
                             salt, sizeof(salt), hash, sizeof(hash));
}
