
/*
 * Copyright (C) Kianax
 */


#ifndef _KX_ERROR_H_INCLUDED_
#define _KX_ERROR_H_INCLUDED_


#include <stddef.h>

#include "kx_json.h"


/*
 * The platform's error model.  Every error response is
 *
 *     {"error":{"code":"<stable code>","message":"<for humans>"}}
 *
 * with the HTTP status of its code.  Codes are a public contract that
 * clients switch on: add new ones, never rename or renumber them.
 */

typedef enum {
    KX_ERR_BAD_REQUEST = 0,
    KX_ERR_MALFORMED_JSON,
    KX_ERR_UNAUTHORIZED,
    KX_ERR_INVALID_TOKEN,
    KX_ERR_TOKEN_EXPIRED,
    KX_ERR_FORBIDDEN,
    KX_ERR_INSUFFICIENT_BUYING_POWER,
    KX_ERR_INSUFFICIENT_POSITION,
    KX_ERR_NOT_FOUND,
    KX_ERR_METHOD_NOT_ALLOWED,
    KX_ERR_CONFLICT,
    KX_ERR_EMAIL_TAKEN,
    KX_ERR_PAYLOAD_TOO_LARGE,
    KX_ERR_UNSUPPORTED_MEDIA_TYPE,
    KX_ERR_UNPROCESSABLE,
    KX_ERR_VALIDATION_FAILED,
    KX_ERR_RATE_LIMITED,
    KX_ERR_INTERNAL,
    KX_ERR_NOT_IMPLEMENTED,
    KX_ERR_BAD_GATEWAY,
    KX_ERR_SERVICE_UNAVAILABLE,
    KX_ERR_GATEWAY_TIMEOUT,
    KX_ERR_COUNT
} kx_err_e;


typedef struct {
    int                 status;
    const char         *code;
    const char         *message;    /* default message */
} kx_error_t;


/* an out-of-range id answers as KX_ERR_INTERNAL */
const kx_error_t *kx_error_get(kx_err_e id);
int kx_error_status(kx_err_e id);
const char *kx_error_code(kx_err_e id);
const char *kx_error_message(kx_err_e id);

/* the entry for a code string, or NULL */
const kx_error_t *kx_error_find(const char *code);

/*
 * The generic code for a status ("not_found" for 404); an unlisted 4xx
 * is "bad_request", anything else "internal_error".  kx_error_reason()
 * is the HTTP reason phrase ("Not Found"), for default messages.
 */
const char *kx_error_code_for_status(int status);
const char *kx_error_reason(int status);

/*
 * Writes the error document.  code NULL means "internal_error"; message
 * NULL means the code's default message.  Both are JSON-escaped.  Like
 * snprintf: returns the full length and writes only if it fits
 * entirely (return < size), so the output is never truncated JSON.
 */
size_t kx_error_json(char *buf, size_t size, const char *code,
    const char *message);

/* the same {"error":{...}} object as one value of a writer */
void kx_error_jw(kx_jw_t *w, const char *code, const char *message);


#endif /* _KX_ERROR_H_INCLUDED_ */
