
/*
 * Copyright (C) Kianax
 */


#include <string.h>

#include "kx_error.h"


#define KX_ERROR_HEAD  "{\"error\":{\"code\":\""
#define KX_ERROR_MID   "\",\"message\":\""
#define KX_ERROR_TAIL  "\"}}"

#define kx_error_lit(s)  (sizeof(s) - 1)


typedef struct {
    int                 status;
    const char         *reason;
} kx_error_reason_t;


static void kx_error_defaults(const char **code, const char **message);


/* in kx_err_e order; the first entry of a status is its generic code */
static const kx_error_t  kx_errors[KX_ERR_COUNT] = {
    { 400, "bad_request", "Bad Request" },
    { 400, "malformed_json", "request body is not valid JSON" },
    { 401, "unauthorized", "authentication required" },
    { 401, "invalid_token", "invalid access token" },
    { 401, "token_expired", "access token has expired" },
    { 403, "forbidden", "Forbidden" },
    { 403, "insufficient_buying_power", "insufficient buying power" },
    { 403, "insufficient_position", "not enough shares to sell" },
    { 404, "not_found", "Not Found" },
    { 405, "method_not_allowed", "Method Not Allowed" },
    { 409, "conflict", "Conflict" },
    { 409, "email_taken", "email is already registered" },
    { 413, "payload_too_large", "Payload Too Large" },
    { 415, "unsupported_media_type", "request body must be JSON" },
    { 422, "unprocessable", "Unprocessable Entity" },
    { 422, "validation_failed", "validation failed" },
    { 429, "rate_limited", "too many requests" },
    { 500, "internal_error", "Internal Server Error" },
    { 501, "not_implemented", "Not Implemented" },
    { 502, "bad_gateway", "Bad Gateway" },
    { 503, "service_unavailable", "Service Unavailable" },
    { 504, "gateway_timeout", "Gateway Timeout" }
};


static const kx_error_reason_t  kx_error_reasons[] = {
    { 400, "Bad Request" },
    { 401, "Unauthorized" },
    { 402, "Payment Required" },
    { 403, "Forbidden" },
    { 404, "Not Found" },
    { 405, "Method Not Allowed" },
    { 406, "Not Acceptable" },
    { 408, "Request Timeout" },
    { 409, "Conflict" },
    { 410, "Gone" },
    { 411, "Length Required" },
    { 412, "Precondition Failed" },
    { 413, "Payload Too Large" },
    { 414, "URI Too Long" },
    { 415, "Unsupported Media Type" },
    { 416, "Range Not Satisfiable" },
    { 422, "Unprocessable Entity" },
    { 426, "Upgrade Required" },
    { 428, "Precondition Required" },
    { 429, "Too Many Requests" },
    { 431, "Request Header Fields Too Large" },
    { 500, "Internal Server Error" },
    { 501, "Not Implemented" },
    { 502, "Bad Gateway" },
    { 503, "Service Unavailable" },
    { 504, "Gateway Timeout" },
    { 0, NULL }
};


const kx_error_t *
kx_error_get(kx_err_e id)
{
    if ((unsigned) id >= KX_ERR_COUNT) {
        id = KX_ERR_INTERNAL;
    }

    return &kx_errors[id];
}


int
kx_error_status(kx_err_e id)
{
    return kx_error_get(id)->status;
}


const char *
kx_error_code(kx_err_e id)
{
    return kx_error_get(id)->code;
}


const char *
kx_error_message(kx_err_e id)
{
    return kx_error_get(id)->message;
}


const kx_error_t *
kx_error_find(const char *code)
{
    unsigned  i;

    if (code == NULL) {
        return NULL;
    }

    for (i = 0; i < KX_ERR_COUNT; i++) {
        if (strcmp(kx_errors[i].code, code) == 0) {
            return &kx_errors[i];
        }
    }

    return NULL;
}


const char *
kx_error_code_for_status(int status)
{
    unsigned  i;

    for (i = 0; i < KX_ERR_COUNT; i++) {
        if (kx_errors[i].status == status) {
            return kx_errors[i].code;
        }
    }

    if (status >= 400 && status < 500) {
        return kx_errors[KX_ERR_BAD_REQUEST].code;
    }

    return kx_errors[KX_ERR_INTERNAL].code;
}


const char *
kx_error_reason(int status)
{
    const kx_error_reason_t  *r;

    for (r = kx_error_reasons; r->reason; r++) {
        if (r->status == status) {
            return r->reason;
        }
    }

    if (status >= 400 && status < 500) {
        return "Client Error";
    }

    if (status >= 500 && status < 600) {
        return "Server Error";
    }

    return "Error";
}


size_t
kx_error_json(char *buf, size_t size, const char *code, const char *message)
{
    char    *p;
    size_t   clen, mlen, n;

    kx_error_defaults(&code, &message);

    clen = kx_json_escape(NULL, 0, code, strlen(code));
    mlen = kx_json_escape(NULL, 0, message, strlen(message));

    n = kx_error_lit(KX_ERROR_HEAD) + clen + kx_error_lit(KX_ERROR_MID)
        + mlen + kx_error_lit(KX_ERROR_TAIL);

    if (n >= size) {
        if (size) {
            buf[0] = '\0';
        }

        return n;
    }

    p = buf;

    memcpy(p, KX_ERROR_HEAD, kx_error_lit(KX_ERROR_HEAD));
    p += kx_error_lit(KX_ERROR_HEAD);

    kx_json_escape(p, clen + 1, code, strlen(code));
    p += clen;

    memcpy(p, KX_ERROR_MID, kx_error_lit(KX_ERROR_MID));
    p += kx_error_lit(KX_ERROR_MID);

    kx_json_escape(p, mlen + 1, message, strlen(message));
    p += mlen;

    memcpy(p, KX_ERROR_TAIL, kx_error_lit(KX_ERROR_TAIL) + 1);

    return n;
}


void
kx_error_jw(kx_jw_t *w, const char *code, const char *message)
{
    kx_error_defaults(&code, &message);

    kx_jw_obj_begin(w);
    kx_jw_key(w, "error");
    kx_jw_obj_begin(w);
    kx_jw_key(w, "code");
    kx_jw_str(w, code);
    kx_jw_key(w, "message");
    kx_jw_str(w, message);
    kx_jw_obj_end(w);
    kx_jw_obj_end(w);
}


static void
kx_error_defaults(const char **code, const char **message)
{
    const kx_error_t  *e;

    if (*code == NULL) {
        *code = kx_errors[KX_ERR_INTERNAL].code;
    }

    if (*message == NULL) {
        e = kx_error_find(*code);
        *message = e ? e->message : "";
    }
}
