
/*
 * Copyright (C) Kianax
 *
 * JWT verification keys from configuration directives, for every module
 * that verifies tokens (the http kx_jwt module, the stream quote feed):
 *
 *     kx_jwt_key  <kid|-> <HS256,RS256,...> <file | env:NAME>;
 *     kx_jwt_jwks <file>;
 *
 * Both read cf->args as the directive has them and add to ks.  Key
 * material is read when the configuration is read, so a reload picks up
 * rotated files; env:NAME is read from the master's environment.
 */


#ifndef _KX_JWT_CONF_H_INCLUDED_
#define _KX_JWT_CONF_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "gateway/kx_jwt.h"


char *kx_jwt_conf_key(ngx_conf_t *cf, kx_jwt_keyset_t *ks);
char *kx_jwt_conf_jwks(ngx_conf_t *cf, kx_jwt_keyset_t *ks);

/* frees ks with the configuration's pool */
ngx_int_t kx_jwt_conf_keyset_cleanup(ngx_conf_t *cf, kx_jwt_keyset_t *ks);


#endif /* _KX_JWT_CONF_H_INCLUDED_ */
