
/*
 * Copyright (C) Kianax
 */


#include <stdio.h>
#include <string.h>

#include "kx_notify_alert.h"


static int kx_notify_alert_text(const kx_json_node_t *body, const char *key,
    size_t min, size_t max, const char **s, size_t *len, char *err,
    size_t size);


int
kx_notify_alert_payload(const kx_json_node_t *body, kx_jw_t *w, char *err,
    size_t size)
{
    size_t                 i, tlen, mlen, klen;
    const char            *title, *message, *key;
    const kx_json_node_t  *data;

    if (kx_json_type(body) != KX_JSON_OBJECT) {
        snprintf(err, size, "the body must be a JSON object");
        return -1;
    }

    for (i = 0; i < kx_json_obj_len(body); i++) {
        (void) kx_json_obj_at(body, i, &key, &klen);

        if (!((klen == 5 && memcmp(key, "title", 5) == 0)
              || (klen == 7 && memcmp(key, "message", 7) == 0)
              || (klen == 4 && memcmp(key, "data", 4) == 0)))
        {
            snprintf(err, size, "%.*s: unknown field (title, message, data)",
                     (int) (klen > 32 ? 32 : klen), key);
            return -1;
        }
    }

    if (kx_notify_alert_text(body, "title", 1, KX_NOTIFY_ALERT_TITLE_MAX,
                             &title, &tlen, err, size) != 0)
    {
        return -1;
    }

    message = "";
    mlen = 0;

    if (kx_json_obj_get(body, "message")
        && kx_notify_alert_text(body, "message", 0,
                                KX_NOTIFY_ALERT_MESSAGE_MAX, &message, &mlen,
                                err, size)
           != 0)
    {
        return -1;
    }

    data = kx_json_obj_get(body, "data");

    if (data && kx_json_type(data) != KX_JSON_OBJECT) {
        snprintf(err, size, "data: must be an object");
        return -1;
    }

    kx_jw_obj_begin(w);
    kx_jw_key(w, "title");
    kx_jw_strn(w, title, tlen);
    kx_jw_key(w, "message");
    kx_jw_strn(w, message, mlen);
    kx_jw_key(w, "data");

    if (data) {
        kx_jw_node(w, data);

    } else {
        kx_jw_obj_begin(w);
        kx_jw_obj_end(w);
    }

    kx_jw_obj_end(w);

    return 0;
}


static int
kx_notify_alert_text(const kx_json_node_t *body, const char *key, size_t min,
    size_t max, const char **s, size_t *len, char *err, size_t size)
{
    size_t  i, chars;

    if (kx_json_get_str(body, key, s, len) != KX_JSON_OK) {
        snprintf(err, size, "%s: must be a string", key);
        return -1;
    }

    /* the parser let only valid UTF-8 through: count lead bytes */
    for (i = 0, chars = 0; i < *len; i++) {
        chars += (((unsigned char) (*s)[i]) & 0xc0) != 0x80;
    }

    if (chars < min || chars > max) {
        snprintf(err, size, "%s: %zu to %zu characters", key, min, max);
        return -1;
    }

    return 0;
}
