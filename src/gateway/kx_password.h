
/*
 * Copyright (C) Kianax
 */


#ifndef _KX_PASSWORD_H_INCLUDED_
#define _KX_PASSWORD_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


/*
 * Passwords: the policy (8 to 256 characters of valid UTF-8), and
 * argon2id hashing in the PHC string format ("$argon2id$v=19$m=...").
 * Hashing is slow on purpose (tens of milliseconds): callers run it off
 * the event loop.
 */

#define KX_PASSWORD_MIN_CHARS   8
#define KX_PASSWORD_MAX_BYTES   1024
#define KX_PASSWORD_HASH_MAX    160
#define KX_PASSWORD_SALT_LEN    16


typedef struct {
    uint32_t    t_cost;         /* iterations */
    uint32_t    m_cost;         /* KiB */
    uint32_t    parallelism;
} kx_password_params_t;

/* OWASP's argon2id recommendation: 19 MiB, 2 iterations, 1 lane */
#define KX_PASSWORD_PARAMS_DEFAULT  { 2, 19456, 1 }


/* NULL when acceptable, else why not (for a 422 message) */
const char *kx_password_check(const char *pwd, size_t len);

/*
 * 0 on success: a new random salt.  Draw it in the thread that owns the
 * process (the event loop): OpenSSL gives each thread that asks for
 * random bytes a generator of its own, and a pool thread's is never
 * freed (the sanitizer build reports it when the worker exits).
 */
int kx_password_salt(unsigned char salt[KX_PASSWORD_SALT_LEN]);

/* 0 on success; out gets a NUL-terminated PHC string */
int kx_password_hash(const kx_password_params_t *p, const char *pwd,
    size_t len, const unsigned char salt[KX_PASSWORD_SALT_LEN], char *out,
    size_t size);

/* 1: matches; 0: does not (or the hash is unusable) */
int kx_password_verify(const char *encoded, const char *pwd, size_t len);

/*
 * Spends what a verify with these parameters would, for an account that
 * does not exist: login answers take the same time either way.
 */
void kx_password_burn(const kx_password_params_t *p, const char *pwd,
    size_t len);


#endif /* _KX_PASSWORD_H_INCLUDED_ */
