
/*
 * Copyright (C) Kianax
 */


#ifndef _KX_NOTIFY_PREFS_H_INCLUDED_
#define _KX_NOTIFY_PREFS_H_INCLUDED_


#include <stddef.h>

#include "core/kx_json.h"


/*
 * PUT /v1/preferences: the body is a partial update; every field given
 * must be valid, unknown fields are refused.
 *
 *     in_app_enabled, email_enabled, push_enabled, sms_enabled   boolean
 *     email_address        "a@b" or null
 *     phone_number         E.164 ("+14155550100") or null
 *     quiet_hours_start    "HH:MM" or "HH:MM:SS" or null (with _end)
 *     quiet_hours_end
 *     tz                   an IANA zone name ("Europe/Paris")
 *     per_type             {"order_filled":{"email":false,...},...}
 *
 * Returns 0, or -1 with a message naming the field (NUL-terminated, at
 * most size bytes).  The database checks what only it knows (the zone
 * exists, quiet hours come in pairs).
 */
int kx_notify_prefs_validate(const kx_json_node_t *body, char *err,
    size_t size);


#endif /* _KX_NOTIFY_PREFS_H_INCLUDED_ */
