
/*
 * Copyright (C) Kianax
 */


#include <stdio.h>
#include <string.h>

#include "core/kx_json.h"
#include "core/kx_utf8.h"
#include "market/kx_symbols.h"
#include "notify/kx_notify_proto.h"


#define KX_NOTIFY_CMD_MAX_SIZE  16384


static int
kx_notify_cmd_fail(kx_notify_cmd_t *cmd, const char *code, const char *msg)
{
    cmd->error = code;
    snprintf(cmd->message, sizeof(cmd->message), "%s", msg);

    return -1;
}


static int
kx_notify_cmd_symbols(kx_notify_cmd_t *cmd, const kx_json_node_t *arr)
{
    int          sym;
    size_t       n, i, j, len;
    unsigned     k;
    const char  *s;
    char         up[KX_SYMBOL_MAX_LEN];

    n = kx_json_arr_len(arr);

    if (kx_json_type(arr) != KX_JSON_ARRAY || n == 0) {
        return kx_notify_cmd_fail(cmd, "invalid_symbols",
                                  "symbols must be a non-empty array");
    }

    if (n > KX_NOTIFY_SYMBOLS_MAX) {
        return kx_notify_cmd_fail(cmd, "invalid_symbols",
                                  "at most 64 symbols per message");
    }

    for (i = 0; i < n; i++) {
        s = kx_json_str(kx_json_arr_at(arr, i), &len);

        if (s == NULL) {
            return kx_notify_cmd_fail(cmd, "invalid_symbols",
                                      "symbols must be strings");
        }

        sym = -1;

        if (len > 0 && len <= KX_SYMBOL_MAX_LEN) {
            for (j = 0; j < len; j++) {
                up[j] = (s[j] >= 'a' && s[j] <= 'z') ? s[j] - 'a' + 'A'
                                                     : s[j];
            }

            sym = kx_symbol_index(up, len);
        }

        if (sym < 0) {
            /* 16 bytes of it, in whole characters: JSON carries UTF-8 */
            cmd->error = "unknown_symbol";
            snprintf(cmd->message, sizeof(cmd->message),
                     "unknown symbol %.*s",
                     (int) kx_utf8_validate(s, len > 16 ? 16 : len), s);
            return -1;
        }

        for (k = 0; k < cmd->nsymbols; k++) {
            if (cmd->symbols[k] == sym) {
                break;
            }
        }

        if (k == cmd->nsymbols) {
            cmd->symbols[cmd->nsymbols++] = sym;
        }
    }

    return 0;
}


int
kx_notify_cmd_parse(const char *buf, size_t len, kx_notify_cmd_t *cmd)
{
    size_t                 alen, ilen;
    const char            *action, *id;
    kx_json_limits_t       lim = { KX_NOTIFY_CMD_MAX_SIZE, 8, 256 };
    const kx_json_node_t  *root;

    memset(cmd, 0, sizeof(kx_notify_cmd_t));

    if (kx_json_parse(buf, len, &lim, &cmd->doc, NULL) != KX_JSON_PE_OK) {
        cmd->doc = NULL;
        return kx_notify_cmd_fail(cmd, "invalid_json",
                                  "a message is one JSON object");
    }

    root = kx_json_root(cmd->doc);

    if (kx_json_type(root) != KX_JSON_OBJECT) {
        return kx_notify_cmd_fail(cmd, "invalid_json",
                                  "a message is one JSON object");
    }

    if (kx_json_get_str(root, "action", &action, &alen) != KX_JSON_OK) {
        return kx_notify_cmd_fail(cmd, "invalid_action",
                                  "action must be a string");
    }

    if (alen == 9 && memcmp(action, "subscribe", 9) == 0) {
        cmd->action = KX_NOTIFY_ACT_SUBSCRIBE;
        return kx_notify_cmd_symbols(cmd, kx_json_obj_get(root, "symbols"));
    }

    if (alen == 11 && memcmp(action, "unsubscribe", 11) == 0) {
        cmd->action = KX_NOTIFY_ACT_UNSUBSCRIBE;
        return kx_notify_cmd_symbols(cmd, kx_json_obj_get(root, "symbols"));
    }

    if (alen == 4 && memcmp(action, "auth", 4) == 0) {
        cmd->action = KX_NOTIFY_ACT_AUTH;

        if (kx_json_get_str(root, "token", &cmd->token, &cmd->token_len)
            != KX_JSON_OK || cmd->token_len == 0)
        {
            return kx_notify_cmd_fail(cmd, "invalid_token",
                                      "token must be a non-empty string");
        }

        return 0;
    }

    if (alen == 6 && memcmp(action, "resume", 6) == 0) {
        cmd->action = KX_NOTIFY_ACT_RESUME;

        if (kx_json_get_str(root, "last_event_id", &id, &ilen) != KX_JSON_OK
            || kx_stream_id_parse(id, ilen, &cmd->last_id) != 0)
        {
            return kx_notify_cmd_fail(cmd, "invalid_event_id",
                                      "last_event_id must be a stream id "
                                      "such as \"1700000000000-0\"");
        }

        return 0;
    }

    if (alen == 4 && memcmp(action, "ping", 4) == 0) {
        cmd->action = KX_NOTIFY_ACT_PING;
        return 0;
    }

    return kx_notify_cmd_fail(cmd, "unknown_action",
                              "action is one of subscribe, unsubscribe, "
                              "auth, resume, ping");
}


void
kx_notify_cmd_free(kx_notify_cmd_t *cmd)
{
    if (cmd->doc) {
        kx_json_free(cmd->doc);
        cmd->doc = NULL;
    }
}


static int
kx_stream_num(const char *s, size_t len, uint64_t *out)
{
    size_t    i;
    uint64_t  v;

    if (len == 0 || len > 19) {
        return -1;
    }

    for (v = 0, i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }

        v = v * 10 + (uint64_t) (s[i] - '0');
    }

    *out = v;

    return 0;
}


int
kx_stream_id_parse(const char *s, size_t len, kx_stream_id_t *id)
{
    const char  *dash;

    dash = memchr(s, '-', len);

    if (dash == NULL) {
        id->seq = 0;
        return kx_stream_num(s, len, &id->ms);
    }

    if (kx_stream_num(s, dash - s, &id->ms) != 0
        || kx_stream_num(dash + 1, len - (dash - s) - 1, &id->seq) != 0)
    {
        return -1;
    }

    return 0;
}


int
kx_stream_id_cmp(const kx_stream_id_t *a, const kx_stream_id_t *b)
{
    if (a->ms != b->ms) {
        return a->ms < b->ms ? -1 : 1;
    }

    if (a->seq != b->seq) {
        return a->seq < b->seq ? -1 : 1;
    }

    return 0;
}


size_t
kx_stream_id_format(const kx_stream_id_t *id, char *buf)
{
    return (size_t) sprintf(buf, "%llu-%llu", (unsigned long long) id->ms,
                            (unsigned long long) id->seq);
}


int
kx_notify_uid_valid(const char *s, size_t len)
{
    size_t  i;
    char    c;

    if (len != 36) {
        return 0;
    }

    for (i = 0; i < 36; i++) {
        c = s[i];

        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-') {
                return 0;
            }

            continue;
        }

        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')
              || (c >= 'A' && c <= 'F')))
        {
            return 0;
        }
    }

    return 1;
}


size_t
kx_notify_ws_type(const char *type, size_t len, char *out)
{
    size_t  i;
    char    c;

    if (len == 0 || len >= KX_NOTIFY_TYPE_MAX) {
        return 0;
    }

    if (len == 17 && memcmp(type, "portfolio.updated", 17) == 0) {
        memcpy(out, "portfolio_update", 16);
        return 16;
    }

    for (i = 0; i < len; i++) {
        c = type[i];

        if (c == '.') {
            c = '_';

        } else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
                     || c == '_'))
        {
            return 0;
        }

        out[i] = c;
    }

    return len;
}


/* the common shape of both sources; data may be NULL (then {}) */
static int
kx_notify_event_write(kx_jw_t *w, const char *type, size_t type_len,
    const char *id, size_t id_len, const char *event_id, size_t eid_len,
    const kx_json_node_t *data, const char *at, size_t at_len)
{
    size_t  n;
    char    wt[KX_NOTIFY_TYPE_MAX];

    n = kx_notify_ws_type(type, type_len, wt);
    if (n == 0) {
        return -1;
    }

    kx_jw_obj_begin(w);
    kx_jw_key(w, "type");
    kx_jw_strn(w, wt, n);
    kx_jw_key(w, "seq");
    kx_jw_strn(w, id, id_len);

    if (event_id) {
        kx_jw_key(w, "event_id");
        kx_jw_strn(w, event_id, eid_len);
    }

    kx_jw_key(w, "data");

    if (data) {
        kx_jw_node(w, data);

    } else {
        kx_jw_obj_begin(w);
        kx_jw_obj_end(w);
    }

    if (at) {
        kx_jw_key(w, "occurred_at");
        kx_jw_strn(w, at, at_len);
    }

    kx_jw_obj_end(w);

    return w->err ? -1 : 0;
}


int
kx_notify_event_from_publish(const char *buf, size_t len, kx_jw_t *w,
    kx_stream_id_t *id)
{
    int                    rc;
    size_t                 id_len, type_len, eid_len, at_len;
    const char            *sid, *type, *eid, *at;
    kx_json_doc_t         *doc;
    const kx_json_node_t  *root;

    if (kx_json_parse(buf, len, NULL, &doc, NULL) != KX_JSON_PE_OK) {
        return -1;
    }

    root = kx_json_root(doc);
    rc = -1;

    if (kx_json_get_str(root, "id", &sid, &id_len) != KX_JSON_OK
        || kx_stream_id_parse(sid, id_len, id) != 0
        || kx_json_get_str(root, "type", &type, &type_len) != KX_JSON_OK)
    {
        goto done;
    }

    if (kx_json_get_str(root, "event_id", &eid, &eid_len) != KX_JSON_OK) {
        eid = NULL;
        eid_len = 0;
    }

    if (kx_json_get_str(root, "occurred_at", &at, &at_len) != KX_JSON_OK) {
        at = NULL;
        at_len = 0;
    }

    rc = kx_notify_event_write(w, type, type_len, sid, id_len, eid, eid_len,
                               kx_json_obj_get(root, "data"), at, at_len);

done:

    kx_json_free(doc);

    return rc;
}


int
kx_notify_event_from_fields(const char *id, size_t id_len,
    const char **fields, const size_t *lens, size_t n, kx_jw_t *w)
{
    int              rc;
    size_t           i, type_len, eid_len, at_len, pl_len;
    const char      *type, *eid, *at, *pl;
    kx_json_doc_t   *doc;
    kx_stream_id_t   sid;

    if (kx_stream_id_parse(id, id_len, &sid) != 0) {
        return -1;
    }

    type = eid = at = pl = NULL;
    type_len = eid_len = at_len = pl_len = 0;

    for (i = 0; i + 1 < n; i += 2) {

#define KX_FIELD(name, p, l)                                                  \
        if (lens[i] == sizeof(name) - 1                                      \
            && memcmp(fields[i], name, sizeof(name) - 1) == 0)               \
        {                                                                     \
            p = fields[i + 1];                                               \
            l = lens[i + 1];                                                 \
            continue;                                                         \
        }

        KX_FIELD("type", type, type_len)
        KX_FIELD("event_id", eid, eid_len)
        KX_FIELD("occurred_at", at, at_len)
        KX_FIELD("payload", pl, pl_len)

#undef KX_FIELD
    }

    if (type == NULL) {
        return -1;
    }

    doc = NULL;

    if (pl && kx_json_parse(pl, pl_len, NULL, &doc, NULL) != KX_JSON_PE_OK) {
        doc = NULL;
    }

    rc = kx_notify_event_write(w, type, type_len, id, id_len, eid, eid_len,
                               doc ? kx_json_root(doc) : NULL, at, at_len);

    if (doc) {
        kx_json_free(doc);
    }

    return rc;
}


static const char *
kx_notify_field(const kx_json_node_t *obj, const char *key, const char *dflt)
{
    size_t       len;
    const char  *s;

    s = kx_json_str(kx_json_obj_get(obj, key), &len);
    if (s == NULL) {
        s = kx_json_num_raw(kx_json_obj_get(obj, key), &len);
    }

    /* short fields only: a title or body line, never a dump */
    return (s && len && len < 100 && memchr(s, '\0', len) == NULL) ? s : dflt;
}


int
kx_notify_render(const char *type, size_t type_len,
    const kx_json_node_t *payload, char *title, char *body)
{
    const char            *sym, *side, *qty, *price, *status, *name;
    const kx_json_node_t  *fill;

    sym = kx_notify_field(payload, "symbol", "?");
    side = kx_notify_field(payload, "side", "");

#define KX_IS(t)  (type_len == sizeof(t) - 1 && memcmp(type, t, type_len) == 0)

    if (KX_IS("order.filled")) {
        fill = kx_json_obj_get(payload, "fill");
        qty = kx_notify_field(fill, "quantity",
                              kx_notify_field(payload, "filled_quantity",
                                              "?"));
        price = kx_notify_field(fill, "price",
                                kx_notify_field(payload, "filled_avg_price",
                                                "?"));

        snprintf(title, 128, "Order filled: %s", sym);
        snprintf(body, 256, "%s %s %s @ %s",
                 strcmp(side, "sell") == 0 ? "Sold" : "Bought", qty, sym,
                 price);
        goto rendered;
    }

    if (KX_IS("order.cancelled")) {
        status = kx_notify_field(payload, "status", "cancelled");
        snprintf(title, 128, "Order %s: %s", status, sym);
        snprintf(body, 256, "%s order for %s %s was %s", *side ? side : "An",
                 kx_notify_field(payload, "quantity", "?"), sym, status);
        goto rendered;
    }

    if (KX_IS("agent.executed")) {
        name = kx_notify_field(payload, "name",
                               kx_notify_field(payload, "agent_id", "agent"));
        snprintf(title, 128, "Agent ran: %s", name);
        snprintf(body, 256, "%s",
                 kx_notify_field(payload, "summary", "The agent executed."));
        goto rendered;
    }

    if (KX_IS("alert") || KX_IS("trigger.fired")) {
        snprintf(title, 128, "%s",
                 kx_notify_field(payload, "title", "Alert"));
        snprintf(body, 256, "%s", kx_notify_field(payload, "message", ""));
        goto rendered;
    }

#undef KX_IS

    return 0;

rendered:

    /*
     * snprintf() cuts long lines at a byte, maybe inside a character,
     * and the database refuses text that is not UTF-8: the notification
     * would be lost.  The fields are UTF-8, so only the cut can be bad.
     */
    title[kx_utf8_validate(title, strlen(title))] = '\0';
    body[kx_utf8_validate(body, strlen(body))] = '\0';

    return 1;
}
