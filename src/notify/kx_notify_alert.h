
/*
 * Copyright (C) Kianax
 */


#ifndef _KX_NOTIFY_ALERT_H_INCLUDED_
#define _KX_NOTIFY_ALERT_H_INCLUDED_


#include <stddef.h>

#include "core/kx_json.h"


#define KX_NOTIFY_ALERT_TITLE_MAX    200     /* characters */
#define KX_NOTIFY_ALERT_MESSAGE_MAX  2000


/*
 * POST /v1/notifications (the seed's "send notification"): a user's own
 * alert, {"title", "message"?, "data"?}.  Validates the body and writes
 * the event payload {"title","message","data"} on one line; 0 on
 * success, else -1 with a message naming the field in err.
 */
int kx_notify_alert_payload(const kx_json_node_t *body, kx_jw_t *w,
    char *err, size_t size);


#endif /* _KX_NOTIFY_ALERT_H_INCLUDED_ */
