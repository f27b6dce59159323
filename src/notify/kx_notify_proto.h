
/*
 * Copyright (C) Kianax
 */


#ifndef _KX_NOTIFY_PROTO_H_INCLUDED_
#define _KX_NOTIFY_PROTO_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include "core/kx_json.h"


/*
 * The notification service's WebSocket protocol, without I/O.
 *
 * Client messages (text frames, one JSON object each):
 *     {"action":"subscribe","symbols":["AAPL","TSLA"]}
 *     {"action":"unsubscribe","symbols":["AAPL"]}
 *     {"action":"auth","token":"<JWT>"}
 *     {"action":"resume","last_event_id":"1700000000000-0"}
 *     {"action":"ping"}
 *
 * User events (contracts C3, C5) come from two places, the live PUBLISH
 * on kx:user:<uid> and the entries of the stream kx:events:user:<uid>
 * (replay), and leave in one shape:
 *     {"type":"order_filled","seq":"<entry id>","event_id":"...",
 *      "data":{...},"occurred_at":"..."}
 */


#define KX_NOTIFY_SYMBOLS_MAX   64      /* in one message */
#define KX_NOTIFY_TYPE_MAX      64
#define KX_NOTIFY_UID_MAX       64


typedef enum {
    KX_NOTIFY_ACT_NONE = 0,
    KX_NOTIFY_ACT_SUBSCRIBE,
    KX_NOTIFY_ACT_UNSUBSCRIBE,
    KX_NOTIFY_ACT_AUTH,
    KX_NOTIFY_ACT_RESUME,
    KX_NOTIFY_ACT_PING
} kx_notify_action_e;


/* a Redis stream entry id, "<ms>-<seq>" */
typedef struct {
    uint64_t                ms;
    uint64_t                seq;
} kx_stream_id_t;


typedef struct {
    kx_notify_action_e      action;
    unsigned                nsymbols;
    int                     symbols[KX_NOTIFY_SYMBOLS_MAX];  /* indexes */
    const char             *token;          /* into the parsed document */
    size_t                  token_len;
    kx_stream_id_t          last_id;

    /* on error: a code for {"type":"error","code":...} and a message */
    const char             *error;
    char                    message[96];

    kx_json_doc_t          *doc;            /* kx_notify_cmd_free() */
} kx_notify_cmd_t;


/* 0, or -1 with cmd->error and cmd->message set */
int kx_notify_cmd_parse(const char *buf, size_t len, kx_notify_cmd_t *cmd);
void kx_notify_cmd_free(kx_notify_cmd_t *cmd);

/* "<ms>-<seq>" or "<ms>" (seq 0); 0 or -1 */
int kx_stream_id_parse(const char *s, size_t len, kx_stream_id_t *id);
int kx_stream_id_cmp(const kx_stream_id_t *a, const kx_stream_id_t *b);
/* NUL-terminated; buf of at least 42 bytes; returns the length */
size_t kx_stream_id_format(const kx_stream_id_t *id, char *buf);

/*
 * A user id fit for a channel name and a SQL uuid parameter: a UUID in
 * its canonical text form (any case).
 */
int kx_notify_uid_valid(const char *s, size_t len);

/*
 * Event type (C4) to WebSocket message type (C5): order.filled ->
 * order_filled, portfolio.updated -> portfolio_update, other dots
 * become underscores.  Returns the length, 0 if the type is not
 * [a-z0-9_.]{1,63}.
 */
size_t kx_notify_ws_type(const char *type, size_t len, char *out);

/*
 * The live PUBLISH of C3 ({"id","event_id","type","data","occurred_at"})
 * to the client's message, written to w; *id is its entry id.  0 or -1.
 */
int kx_notify_event_from_publish(const char *buf, size_t len, kx_jw_t *w,
    kx_stream_id_t *id);

/*
 * A stream entry (id and field/value pairs: event_id, type, user_id,
 * payload, occurred_at, source) to the client's message.  0 or -1.
 */
int kx_notify_event_from_fields(const char *id, size_t id_len,
    const char **fields, const size_t *lens, size_t n, kx_jw_t *w);

/*
 * The in-app notification an event makes, or 0 when the event type makes
 * none (portfolio.updated, order.created: the live socket shows them).
 * title and body are NUL-terminated, size 128 and 256.
 */
int kx_notify_render(const char *type, size_t type_len,
    const kx_json_node_t *payload, char *title, char *body);


#endif /* _KX_NOTIFY_PROTO_H_INCLUDED_ */
