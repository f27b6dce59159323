
/*
 * Copyright (C) Kianax
 */


#include <stdio.h>
#include <string.h>

#include "core/kx_utf8.h"
#include "notify/kx_notify_prefs.h"


static int
kx_prefs_is(const char *key, size_t len, const char *name)
{
    return strlen(name) == len && memcmp(key, name, len) == 0;
}


static int
kx_prefs_time(const char *s, size_t len)
{
    if (!(len == 5 || len == 8)) {
        return 0;
    }

    if (s[0] < '0' || s[0] > '2' || s[1] < '0' || s[1] > '9'
        || (s[0] == '2' && s[1] > '3') || s[2] != ':'
        || s[3] < '0' || s[3] > '5' || s[4] < '0' || s[4] > '9')
    {
        return 0;
    }

    if (len == 8
        && (s[5] != ':' || s[6] < '0' || s[6] > '5' || s[7] < '0'
            || s[7] > '9'))
    {
        return 0;
    }

    return 1;
}


static int
kx_prefs_phone(const char *s, size_t len)
{
    size_t  i;

    if (len < 8 || len > 16 || s[0] != '+' || s[1] < '1' || s[1] > '9') {
        return 0;
    }

    for (i = 2; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return 0;
        }
    }

    return 1;
}


static int
kx_prefs_email(const char *s, size_t len)
{
    size_t       i, at;

    if (len < 3 || len > 254) {
        return 0;
    }

    /* len: none yet (0 would let "@a@b" through: an '@' at 0 is one) */
    at = len;

    for (i = 0; i < len; i++) {
        if (s[i] == '@') {
            if (at != len) {
                return 0;
            }

            at = i;

        } else if ((unsigned char) s[i] <= ' ') {
            return 0;
        }
    }

    return at > 0 && at < len - 1;
}


static int
kx_prefs_tz(const char *s, size_t len)
{
    size_t  i;
    char    c;

    if (len == 0 || len > 64 || s[0] == '/' || s[len - 1] == '/') {
        return 0;
    }

    for (i = 0; i < len; i++) {
        c = s[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '/' || c == '_' || c == '-'
              || c == '+'))
        {
            return 0;
        }
    }

    return 1;
}


static int
kx_prefs_per_type(const kx_json_node_t *obj, char *err, size_t size)
{
    size_t                 i, j, n, m, klen, clen;
    const char            *key, *ch;
    const kx_json_node_t  *v, *b;

    if (kx_json_type(obj) != KX_JSON_OBJECT) {
        snprintf(err, size, "per_type must be an object");
        return -1;
    }

    n = kx_json_obj_len(obj);

    if (n > 64) {
        snprintf(err, size, "per_type has at most 64 types");
        return -1;
    }

    for (i = 0; i < n; i++) {
        v = kx_json_obj_at(obj, i, &key, &klen);

        for (j = 0; j < klen; j++) {
            if (!((key[j] >= 'a' && key[j] <= 'z')
                  || (key[j] >= '0' && key[j] <= '9')
                  || key[j] == '_' || key[j] == '.'))
            {
                break;
            }
        }

        if (klen == 0 || klen > 64 || j < klen) {
            snprintf(err, size, "per_type keys are notification types "
                     "such as order_filled");
            return -1;
        }

        if (kx_json_type(v) != KX_JSON_OBJECT) {
            snprintf(err, size, "per_type.%.*s must be an object",
                     (int) klen, key);
            return -1;
        }

        m = kx_json_obj_len(v);

        for (j = 0; j < m; j++) {
            b = kx_json_obj_at(v, j, &ch, &clen);

            if (!(kx_prefs_is(ch, clen, "in_app")
                  || kx_prefs_is(ch, clen, "email")
                  || kx_prefs_is(ch, clen, "push")
                  || kx_prefs_is(ch, clen, "sms")))
            {
                snprintf(err, size, "per_type.%.*s: channels are in_app, "
                         "email, push, sms", (int) klen, key);
                return -1;
            }

            if (kx_json_type(b) != KX_JSON_BOOL) {
                snprintf(err, size, "per_type.%.*s.%.*s must be a boolean",
                         (int) klen, key, (int) clen, ch);
                return -1;
            }
        }
    }

    return 0;
}


int
kx_notify_prefs_validate(const kx_json_node_t *body, char *err, size_t size)
{
    size_t                 i, n, klen, len;
    const char            *key, *s;
    kx_json_type_e         t;
    const kx_json_node_t  *v;

    if (kx_json_type(body) != KX_JSON_OBJECT) {
        snprintf(err, size, "the body must be a JSON object");
        return -1;
    }

    n = kx_json_obj_len(body);

    if (n == 0) {
        snprintf(err, size, "nothing to update");
        return -1;
    }

    for (i = 0; i < n; i++) {
        v = kx_json_obj_at(body, i, &key, &klen);
        t = kx_json_type(v);
        s = kx_json_str(v, &len);

        if (kx_prefs_is(key, klen, "in_app_enabled")
            || kx_prefs_is(key, klen, "email_enabled")
            || kx_prefs_is(key, klen, "push_enabled")
            || kx_prefs_is(key, klen, "sms_enabled"))
        {
            if (t != KX_JSON_BOOL) {
                snprintf(err, size, "%.*s must be a boolean", (int) klen,
                         key);
                return -1;
            }

            continue;
        }

        if (kx_prefs_is(key, klen, "email_address")) {
            if (t != KX_JSON_NULL && !(s && kx_prefs_email(s, len))) {
                snprintf(err, size, "email_address must be an email "
                         "address or null");
                return -1;
            }

            continue;
        }

        if (kx_prefs_is(key, klen, "phone_number")) {
            if (t != KX_JSON_NULL && !(s && kx_prefs_phone(s, len))) {
                snprintf(err, size, "phone_number must be in E.164 form "
                         "(+14155550100) or null");
                return -1;
            }

            continue;
        }

        if (kx_prefs_is(key, klen, "quiet_hours_start")
            || kx_prefs_is(key, klen, "quiet_hours_end"))
        {
            if (t != KX_JSON_NULL && !(s && kx_prefs_time(s, len))) {
                snprintf(err, size, "%.*s must be HH:MM or null",
                         (int) klen, key);
                return -1;
            }

            continue;
        }

        if (kx_prefs_is(key, klen, "tz")) {
            if (!(s && kx_prefs_tz(s, len))) {
                snprintf(err, size, "tz must be a time zone name such as "
                         "America/New_York");
                return -1;
            }

            continue;
        }

        if (kx_prefs_is(key, klen, "per_type")) {
            if (kx_prefs_per_type(v, err, size) != 0) {
                return -1;
            }

            continue;
        }

        /*
         * at most 40 bytes of the key, and whole characters: the message
         * goes back to a person, and a character cut in two would come
         * out as U+FFFD
         */
        len = kx_utf8_validate(key, klen > 40 ? 40 : klen);

        snprintf(err, size, "unknown field %.*s", (int) len, key);
        return -1;
    }

    return 0;
}
