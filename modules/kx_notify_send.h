
/*
 * Copyright (C) Kianax
 */


#ifndef _KX_NOTIFY_SEND_H_INCLUDED_
#define _KX_NOTIFY_SEND_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "core/kx_json.h"


/*
 * POST /v1/notifications for the user uid, with the request's JSON body:
 * an "alert" domain event, added to kx:events and to the user's stream
 * and published to their sockets in one Lua script (contract C3's
 * shape), so that it is replayable and stored by the notify consumer
 * like every other event.  Returns NGX_DONE (answered later) or an rc.
 */
ngx_int_t kx_notify_send(ngx_http_request_t *r, ngx_str_t *uid,
    kx_json_doc_t *doc);


#endif /* _KX_NOTIFY_SEND_H_INCLUDED_ */
