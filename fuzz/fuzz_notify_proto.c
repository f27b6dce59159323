
/*
 * Copyright (C) Kianax
 */


/*
 * The notification service's parsers of what clients, Redis and the
 * publishers send, on arbitrary bytes.
 *
 * A client command gets the answer a model of the protocol (written
 * from kx_notify_proto.h) gives, twice.  Stream ids that parse format
 * canonically and parse back to themselves; their order is the order of
 * (ms, seq).  User ids and event types follow their grammars.  Events,
 * from a PUBLISH or from stream fields (the input split at newlines),
 * come out as JSON that parses and says what came in.  Rendered
 * notifications and every message meant for a person stay inside their
 * buffers and are valid UTF-8, since the database and clients refuse
 * anything else.  A preferences body is valid exactly when each of its
 * fields is valid alone, whatever the size of the error buffer, and
 * stays valid once re-encoded as the module re-encodes it.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/kx_json.h"
#include "core/kx_utf8.h"
#include "market/kx_symbols.h"
#include "notify/kx_notify_prefs.h"
#include "notify/kx_notify_proto.h"

#include "fuzz_check.h"


#define FUZZ_NP_FIELDS_MAX   32
#define FUZZ_NP_PREFS_ALONE  16         /* fields checked one by one */


/* what the outputs are re-read with: one level deeper than the inputs */
static const kx_json_limits_t  out_limits = { 4 * 1024 * 1024, 64, 1000000 };


static int
text_ok(const char *s, size_t size)
{
    const char  *end;

    end = memchr(s, '\0', size);

    return end != NULL
           && kx_utf8_validate(s, end - s) == (size_t) (end - s);
}


/* the same JSON value: the writer is deterministic and minifies */
static int
node_same(const kx_json_node_t *a, const kx_json_node_t *b)
{
    int          same;
    size_t       la, lb;
    kx_jw_t      wa, wb;
    const char  *oa, *ob;

    kx_jw_init(&wa);
    kx_jw_init(&wb);
    kx_jw_node(&wa, a);
    kx_jw_node(&wb, b);

    check(kx_jw_finish(&wa, &oa, &la) == KX_JW_OK);
    check(kx_jw_finish(&wb, &ob, &lb) == KX_JW_OK);

    same = (la == lb && memcmp(oa, ob, la) == 0);

    kx_jw_free(&wa);
    kx_jw_free(&wb);

    return same;
}


static int
str_is(const kx_json_node_t *node, const char *s, size_t len)
{
    size_t       n;
    const char  *v;

    v = kx_json_str(node, &n);

    return v != NULL && n == len && memcmp(v, s, len) == 0;
}


/* stream ids: our own reading of "<ms>-<seq>" or "<ms>" */

static int
ref_stream_num(const char *s, size_t len, uint64_t *v)
{
    size_t  i;

    if (len == 0 || len > 19) {
        return -1;
    }

    for (*v = 0, i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }

        *v = *v * 10 + (uint64_t) (s[i] - '0');
    }

    return 0;
}


static int
ref_stream_id(const char *s, size_t len, kx_stream_id_t *id)
{
    size_t  i;

    for (i = 0; i < len && s[i] != '-'; i++) {
        /* void */
    }

    id->seq = 0;

    if (ref_stream_num(s, i, &id->ms) != 0) {
        return -1;
    }

    return i == len ? 0 : ref_stream_num(s + i + 1, len - i - 1, &id->seq);
}


static int
ref_cmp(const kx_stream_id_t *a, const kx_stream_id_t *b)
{
    unsigned __int128  x, y;

    x = ((unsigned __int128) a->ms << 64) | a->seq;
    y = ((unsigned __int128) b->ms << 64) | b->seq;

    return (x > y) - (x < y);
}


static void
check_id_text(const char *s, size_t len)
{
    int             rc;
    char           *buf;
    size_t          n;
    kx_stream_id_t  id, want, again;

    rc = kx_stream_id_parse(s, len, &id);
    check(rc == ref_stream_id(s, len, &want));

    if (rc != 0) {
        return;
    }

    check(id.ms == want.ms && id.seq == want.seq);

    /* the documented size, exactly, so that ASan sees a byte more */
    buf = malloc(42);
    check(buf != NULL);

    n = kx_stream_id_format(&id, buf);
    check(n < 42 && strlen(buf) == n);
    check(kx_stream_id_parse(buf, n, &again) == 0);
    check(kx_stream_id_cmp(&id, &again) == 0);

    /* canonical: no leading zero, always the seq */
    check(buf[0] != '0' || buf[1] == '-');
    check(memchr(buf, '-', n) != NULL);

    free(buf);
}


static void
check_id_order(const uint8_t *data, size_t size)
{
    int             ab, bc, ac;
    char            buf[48];
    size_t          n;
    kx_stream_id_t  id[3], again;
    unsigned        i;

    if (size < 48) {
        return;
    }

    for (i = 0; i < 3; i++) {
        memcpy(&id[i].ms, data + 16 * i, 8);
        memcpy(&id[i].seq, data + 16 * i + 8, 8);

        /* the ids Redis makes: the clock's milliseconds, a small seq */
        if (data[0] & (1 << i)) {
            id[i].ms %= 4000000000000ULL;
            id[i].seq %= 1000;
        }

        n = kx_stream_id_format(&id[i], buf);
        check(n < 42 && strlen(buf) == n);

        if (id[i].ms < 10000000000000000000ULL
            && id[i].seq < 10000000000000000000ULL)
        {
            check(kx_stream_id_parse(buf, n, &again) == 0);
            check(again.ms == id[i].ms && again.seq == id[i].seq);
        }

        check(kx_stream_id_cmp(&id[i], &id[i]) == 0);
    }

    ab = kx_stream_id_cmp(&id[0], &id[1]);
    bc = kx_stream_id_cmp(&id[1], &id[2]);
    ac = kx_stream_id_cmp(&id[0], &id[2]);

    check(ab == ref_cmp(&id[0], &id[1]));
    check(bc == ref_cmp(&id[1], &id[2]));
    check(ac == ref_cmp(&id[0], &id[2]));
    check(kx_stream_id_cmp(&id[1], &id[0]) == -ab);
}


static void
check_uid(const char *s, size_t len)
{
    int     want;
    size_t  i;
    char    c;

    want = (len == 36);

    for (i = 0; want && i < 36; i++) {
        c = s[i];

        if (i == 8 || i == 13 || i == 18 || i == 23) {
            want = (c == '-');

        } else {
            want = (strchr("0123456789abcdefABCDEF", c) != NULL && c != '\0');
        }
    }

    check(kx_notify_uid_valid(s, len) == want);
}


static void
check_ws_type(const char *s, size_t len)
{
    char    *out;
    size_t   n, i;

    out = malloc(KX_NOTIFY_TYPE_MAX);
    check(out != NULL);

    n = kx_notify_ws_type(s, len, out);

    if (len == 17 && memcmp(s, "portfolio.updated", 17) == 0) {
        check(n == 16 && memcmp(out, "portfolio_update", 16) == 0);
        free(out);
        return;
    }

    for (i = 0; i < len && len < KX_NOTIFY_TYPE_MAX; i++) {
        if (strchr("abcdefghijklmnopqrstuvwxyz0123456789_.", s[i]) == NULL
            || s[i] == '\0')
        {
            break;
        }
    }

    check(n == ((len > 0 && i == len) ? len : 0));

    for (i = 0; i < n; i++) {
        check(out[i] == (s[i] == '.' ? '_' : s[i]));
    }

    free(out);
}


/* a client command against the protocol of kx_notify_proto.h */

static const char *
ref_cmd(const kx_json_doc_t *doc, kx_notify_cmd_t *want)
{
    int                    sym;
    size_t                 n, i, j, len;
    unsigned               k;
    const char            *a, *s;
    char                   up[KX_SYMBOL_MAX_LEN];
    const kx_json_node_t  *root, *arr;

    memset(want, 0, sizeof(kx_notify_cmd_t));

    root = kx_json_root(doc);

    if (doc == NULL || kx_json_type(root) != KX_JSON_OBJECT) {
        return "invalid_json";
    }

    a = kx_json_str(kx_json_obj_get(root, "action"), &len);

    if (a == NULL) {
        return "invalid_action";
    }

    if ((len == 9 && memcmp(a, "subscribe", 9) == 0)
        || (len == 11 && memcmp(a, "unsubscribe", 11) == 0))
    {
        want->action = (len == 9) ? KX_NOTIFY_ACT_SUBSCRIBE
                                  : KX_NOTIFY_ACT_UNSUBSCRIBE;

        arr = kx_json_obj_get(root, "symbols");
        n = kx_json_arr_len(arr);

        if (kx_json_type(arr) != KX_JSON_ARRAY || n == 0
            || n > KX_NOTIFY_SYMBOLS_MAX)
        {
            return "invalid_symbols";
        }

        for (i = 0; i < n; i++) {
            s = kx_json_str(kx_json_arr_at(arr, i), &len);

            if (s == NULL) {
                return "invalid_symbols";
            }

            if (len == 0 || len > KX_SYMBOL_MAX_LEN) {
                return "unknown_symbol";
            }

            for (j = 0; j < len; j++) {
                up[j] = (s[j] >= 'a' && s[j] <= 'z') ? s[j] - 32 : s[j];
            }

            sym = kx_symbol_index(up, len);

            if (sym < 0) {
                return "unknown_symbol";
            }

            for (k = 0; k < want->nsymbols && want->symbols[k] != sym; k++) {
                /* void */
            }

            if (k == want->nsymbols) {
                want->symbols[want->nsymbols++] = sym;
            }
        }

        return NULL;
    }

    if (len == 4 && memcmp(a, "auth", 4) == 0) {
        want->action = KX_NOTIFY_ACT_AUTH;
        want->token = kx_json_str(kx_json_obj_get(root, "token"),
                                  &want->token_len);

        return (want->token && want->token_len) ? NULL : "invalid_token";
    }

    if (len == 6 && memcmp(a, "resume", 6) == 0) {
        want->action = KX_NOTIFY_ACT_RESUME;
        s = kx_json_str(kx_json_obj_get(root, "last_event_id"), &len);

        return (s && ref_stream_id(s, len, &want->last_id) == 0)
               ? NULL : "invalid_event_id";
    }

    if (len == 4 && memcmp(a, "ping", 4) == 0) {
        want->action = KX_NOTIFY_ACT_PING;
        return NULL;
    }

    return "unknown_action";
}


static void
check_cmd(const char *buf, size_t len)
{
    int               rc, i;
    const char       *err;
    kx_json_doc_t    *doc;
    kx_notify_cmd_t   cmd, cmd2, want;
    kx_json_limits_t  lim = { 16384, 8, 256 };

    if (kx_json_parse(buf, len, &lim, &doc, NULL) != KX_JSON_PE_OK) {
        doc = NULL;
    }

    err = ref_cmd(doc, &want);

    for (i = 0; i < 2; i++) {
        rc = kx_notify_cmd_parse(buf, len, i ? &cmd2 : &cmd);
        check(rc == (err ? -1 : 0));
    }

    if (err) {
        check(cmd.error != NULL && strcmp(cmd.error, err) == 0);
        check(text_ok(cmd.message, sizeof(cmd.message)));
        check(strcmp(cmd.message, cmd2.message) == 0);

    } else {
        check(cmd.error == NULL);
        check(cmd.action == want.action && cmd.nsymbols == want.nsymbols);
        check(memcmp(cmd.symbols, want.symbols,
                     want.nsymbols * sizeof(int)) == 0);

        if (want.action == KX_NOTIFY_ACT_AUTH) {
            check(cmd.token_len == want.token_len);
            check(memcmp(cmd.token, want.token, want.token_len) == 0);
            check(cmd.token[cmd.token_len] == '\0');
        }

        if (want.action == KX_NOTIFY_ACT_RESUME) {
            check(kx_stream_id_cmp(&cmd.last_id, &want.last_id) == 0);
        }
    }

    kx_notify_cmd_free(&cmd);
    kx_notify_cmd_free(&cmd2);
    check(cmd.doc == NULL);

    if (doc) {
        kx_json_free(doc);
    }
}


/*
 * An event message as it leaves: a JSON object of the type's WebSocket
 * name, the entry id, the optional event id and time, and the data.
 */
static void
check_event_out(kx_jw_t *w, const char *type, size_t type_len,
    const char *id, size_t id_len, const kx_json_node_t *eid,
    const kx_json_node_t *data, const kx_json_node_t *at)
{
    char                   wt[KX_NOTIFY_TYPE_MAX];
    size_t                 len, n;
    const char            *out;
    kx_json_doc_t         *doc;
    const kx_json_node_t  *root, *d;

    check(kx_jw_finish(w, &out, &len) == KX_JW_OK);
    check(kx_utf8_validate(out, len) == len);
    check(kx_json_parse(out, len, &out_limits, &doc, NULL) == KX_JSON_PE_OK);

    root = kx_json_root(doc);
    n = kx_notify_ws_type(type, type_len, wt);

    check(n > 0 && str_is(kx_json_obj_get(root, "type"), wt, n));
    check(str_is(kx_json_obj_get(root, "seq"), id, id_len));

    d = kx_json_obj_get(root, "data");

    if (data) {
        check(node_same(d, data));

    } else {
        check(kx_json_type(d) == KX_JSON_OBJECT && kx_json_obj_len(d) == 0);
    }

    check(kx_json_obj_len(root) == 3 + (eid != NULL) + (at != NULL));
    check(eid == NULL || node_same(kx_json_obj_get(root, "event_id"), eid));
    check(at == NULL || node_same(kx_json_obj_get(root, "occurred_at"), at));

    kx_json_free(doc);
}


static void
check_publish(const char *buf, size_t len)
{
    int                    rc, want;
    char                   wt[KX_NOTIFY_TYPE_MAX];
    size_t                 id_len, type_len;
    kx_jw_t                w;
    const char            *sid, *type;
    kx_json_doc_t         *doc;
    kx_stream_id_t         id, wid;
    const kx_json_node_t  *root, *eid, *at;

    if (kx_json_parse(buf, len, NULL, &doc, NULL) != KX_JSON_PE_OK) {
        doc = NULL;
    }

    root = kx_json_root(doc);
    sid = kx_json_str(kx_json_obj_get(root, "id"), &id_len);
    type = kx_json_str(kx_json_obj_get(root, "type"), &type_len);

    want = (sid && ref_stream_id(sid, id_len, &wid) == 0 && type
            && kx_notify_ws_type(type, type_len, wt) > 0);

    kx_jw_init(&w);

    rc = kx_notify_event_from_publish(buf, len, &w, &id);
    check(rc == (want ? 0 : -1));

    if (rc == 0) {
        check(kx_stream_id_cmp(&id, &wid) == 0);

        eid = kx_json_obj_get(root, "event_id");
        at = kx_json_obj_get(root, "occurred_at");

        check_event_out(&w, type, type_len, sid, id_len,
                        kx_json_type(eid) == KX_JSON_STRING ? eid : NULL,
                        kx_json_obj_get(root, "data"),
                        kx_json_type(at) == KX_JSON_STRING ? at : NULL);
    }

    kx_jw_free(&w);

    if (doc) {
        kx_json_free(doc);
    }
}


/*
 * A stream entry: the input's lines are the id, then fields and values,
 * each in a buffer of its own size so that ASan sees reads past it.
 */
/* the event id or time as the message should carry it */
static kx_json_doc_t *
field_doc(const char *s, size_t len)
{
    size_t          olen;
    kx_jw_t         w;
    const char     *out;
    kx_json_doc_t  *doc;

    kx_jw_init(&w);
    kx_jw_strn(&w, s, len);
    check(kx_jw_finish(&w, &out, &olen) == KX_JW_OK);
    check(kx_json_parse(out, olen, &out_limits, &doc, NULL)
          == KX_JSON_PE_OK);
    kx_jw_free(&w);

    return doc;
}


/*
 * A stream entry: the input's lines are the id, then fields and values,
 * each in a buffer of its own size so that ASan sees reads past it.
 */
static void
check_fields(const char *buf, size_t len)
{
    int              rc, want;
    char            *f[FUZZ_NP_FIELDS_MAX + 1], wt[KX_NOTIFY_TYPE_MAX];
    size_t           l[FUZZ_NP_FIELDS_MAX + 1], n, i, off, type_len,
                     pl_len, eid_i, at_i;
    kx_jw_t          w;
    const char      *nl, *type, *pl;
    kx_json_doc_t   *doc, *eid, *at;
    kx_stream_id_t   sid;

    off = 0;

    for (n = 0; n <= FUZZ_NP_FIELDS_MAX; n++) {
        nl = memchr(buf + off, '\n', len - off);
        l[n] = (nl ? (size_t) (nl - buf) : len) - off;

        f[n] = malloc(l[n] ? l[n] : 1);
        check(f[n] != NULL);
        memcpy(f[n], buf + off, l[n]);

        off += l[n];

        if (off == len) {
            n++;
            break;
        }

        off++;
    }

    /* our reading: where a field repeats, the last one counts */
    type = pl = NULL;
    type_len = pl_len = 0;
    eid_i = at_i = 0;

    for (i = 1; i + 2 <= n; i += 2) {
        if (l[i] == 4 && memcmp(f[i], "type", 4) == 0) {
            type = f[i + 1];
            type_len = l[i + 1];

        } else if (l[i] == 7 && memcmp(f[i], "payload", 7) == 0) {
            pl = f[i + 1];
            pl_len = l[i + 1];

        } else if (l[i] == 8 && memcmp(f[i], "event_id", 8) == 0) {
            eid_i = i + 1;

        } else if (l[i] == 11 && memcmp(f[i], "occurred_at", 11) == 0) {
            at_i = i + 1;
        }
    }

    want = (ref_stream_id(f[0], l[0], &sid) == 0 && type != NULL
            && kx_notify_ws_type(type, type_len, wt) > 0);

    kx_jw_init(&w);

    rc = kx_notify_event_from_fields(f[0], l[0], (const char **) f + 1,
                                     l + 1, n - 1, &w);
    check(rc == (want ? 0 : -1));

    if (rc == 0) {
        /* a payload that is not JSON is sent as {} */
        if (pl == NULL
            || kx_json_parse(pl, pl_len, NULL, &doc, NULL) != KX_JSON_PE_OK)
        {
            doc = NULL;
        }

        eid = eid_i ? field_doc(f[eid_i], l[eid_i]) : NULL;
        at = at_i ? field_doc(f[at_i], l[at_i]) : NULL;

        check_event_out(&w, type, type_len, f[0], l[0],
                        eid ? kx_json_root(eid) : NULL,
                        doc ? kx_json_root(doc) : NULL,
                        at ? kx_json_root(at) : NULL);

        if (doc) {
            kx_json_free(doc);
        }

        if (eid) {
            kx_json_free(eid);
        }

        if (at) {
            kx_json_free(at);
        }
    }

    kx_jw_free(&w);

    for (i = 0; i < n; i++) {
        free(f[i]);
    }
}


static void
check_render(const kx_json_node_t *payload, const char *type, size_t len)
{
    int          rc;
    char        *title, *body;
    size_t       i;

    static const char  *types[] = {
        "order.filled", "order.cancelled", "agent.executed", "alert",
        "trigger.fired", "portfolio.updated", "order.created"
    };

    /* the documented sizes, exactly */
    title = malloc(128);
    body = malloc(256);
    check(title != NULL && body != NULL);

    /* the known types, then the input's first bytes as one */
    for (i = 0; i <= 7; i++) {
        if (i < 7) {
            rc = kx_notify_render(types[i], strlen(types[i]), payload, title,
                                  body);
            check(rc == (i < 5));

        } else {
            rc = kx_notify_render(type, len, payload, title, body);
            check(rc == 0 || rc == 1);
        }

        if (rc) {
            check(text_ok(title, 128));
            check(text_ok(body, 256));
        }
    }

    free(title);
    free(body);
}


/* the preferences body of kx_notify_prefs.h, one field at a time */

static int
ref_digits(const char *s, size_t len, unsigned *v)
{
    size_t  i;

    for (*v = 0, i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return 0;
        }

        *v = *v * 10 + (unsigned) (s[i] - '0');
    }

    return 1;
}


static int
ref_time(const char *s, size_t len)
{
    unsigned  h, m, sec;

    if (len != 5 && len != 8) {
        return 0;
    }

    return ref_digits(s, 2, &h) && h < 24 && s[2] == ':'
           && ref_digits(s + 3, 2, &m) && m < 60
           && (len == 5
               || (s[5] == ':' && ref_digits(s + 6, 2, &sec) && sec < 60));
}


static int
ref_prefs_field(const char *key, size_t klen, const kx_json_node_t *v)
{
    size_t                 i, j, n, len, clen, ats;
    unsigned               d;
    const char            *s, *k, *at;
    kx_json_type_e         t;
    const kx_json_node_t  *b;

#define KEY_IS(name)                                                          \
    (klen == sizeof(name) - 1 && memcmp(key, name, klen) == 0)

    t = kx_json_type(v);
    s = kx_json_str(v, &len);

    if (KEY_IS("in_app_enabled") || KEY_IS("email_enabled")
        || KEY_IS("push_enabled") || KEY_IS("sms_enabled"))
    {
        return t == KX_JSON_BOOL;
    }

    if (KEY_IS("email_address")) {
        if (t == KX_JSON_NULL) {
            return 1;
        }

        if (s == NULL || len < 3 || len > 254) {
            return 0;
        }

        for (ats = 0, i = 0; i < len; i++) {
            ats += (s[i] == '@');

            if ((unsigned char) s[i] <= 0x20) {
                return 0;
            }
        }

        at = memchr(s, '@', len);

        return ats == 1 && at != s && at != s + len - 1;
    }

    if (KEY_IS("phone_number")) {
        /* E.164: a country code not starting with 0, 7 to 15 digits */
        return t == KX_JSON_NULL
               || (s && len >= 8 && len <= 16 && s[0] == '+' && s[1] != '0'
                   && ref_digits(s + 1, len - 1, &d));
    }

    if (KEY_IS("quiet_hours_start") || KEY_IS("quiet_hours_end")) {
        return t == KX_JSON_NULL || (s && ref_time(s, len));
    }

    if (KEY_IS("tz")) {
        if (s == NULL || len == 0 || len > 64 || s[0] == '/'
            || s[len - 1] == '/')
        {
            return 0;
        }

        return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                         "0123456789/_-+") == len;
    }

    if (KEY_IS("per_type")) {
        n = kx_json_obj_len(v);

        if (t != KX_JSON_OBJECT || n > 64) {
            return 0;
        }

        for (i = 0; i < n; i++) {
            b = kx_json_obj_at(v, i, &k, &len);

            if (len == 0 || len > 64
                || strspn(k, "abcdefghijklmnopqrstuvwxyz0123456789_.") != len
                || kx_json_type(b) != KX_JSON_OBJECT)
            {
                return 0;
            }

            for (j = 0; j < kx_json_obj_len(b); j++) {
                if (kx_json_type(kx_json_obj_at(b, j, &k, &clen))
                    != KX_JSON_BOOL
                    || !((clen == 6 && memcmp(k, "in_app", 6) == 0)
                         || (clen == 5 && memcmp(k, "email", 5) == 0)
                         || (clen == 4 && memcmp(k, "push", 4) == 0)
                         || (clen == 3 && memcmp(k, "sms", 3) == 0)))
                {
                    return 0;
                }
            }
        }

        return 1;
    }

#undef KEY_IS

    return 0;
}


static int
prefs(const kx_json_node_t *body, char *err, size_t size)
{
    int    rc;
    char  *buf;

    /* exactly size bytes, so that ASan sees a write past them */
    buf = malloc(size);
    check(buf != NULL);

    memset(buf, 'x', size);
    rc = kx_notify_prefs_validate(body, buf, size);
    check(rc == 0 || rc == -1);

    if (rc != 0) {
        check(memchr(buf, '\0', size) != NULL);
        memcpy(err, buf, strlen(buf) + 1);
    }

    free(buf);

    return rc;
}


static void
check_prefs(const kx_json_node_t *body)
{
    int                    rc, rc1, all;
    char                   err[160], small[160], one[160];
    size_t                 i, n, klen, len;
    kx_jw_t                w;
    const char            *key, *out;
    kx_json_doc_t         *doc;
    const kx_json_node_t  *v;

    rc = prefs(body, err, sizeof(err));

    if (rc != 0) {
        /* it goes into an error document, and from there to a person */
        check(text_ok(err, sizeof(err)));
        check(err[0] != '\0');
    }

    /* a smaller buffer: the same answer, cut short */
    check(prefs(body, small, 16) == rc);
    check(rc == 0 || strncmp(small, err, strlen(small)) == 0);
    check(prefs(body, small, 1) == rc);
    check(rc == 0 || small[0] == '\0');

    n = kx_json_obj_len(body);

    if (kx_json_type(body) != KX_JSON_OBJECT || n == 0) {
        check(rc == -1);
        return;
    }

    /* valid exactly when every field is valid alone */
    all = 1;

    for (i = 0; i < n && i < FUZZ_NP_PREFS_ALONE; i++) {
        v = kx_json_obj_at(body, i, &key, &klen);

        kx_jw_init(&w);
        kx_jw_obj_begin(&w);
        kx_jw_keyn(&w, key, klen);
        kx_jw_node(&w, v);
        kx_jw_obj_end(&w);
        check(kx_jw_finish(&w, &out, &len) == KX_JW_OK);

        check(kx_json_parse(out, len, &out_limits, &doc, NULL)
              == KX_JSON_PE_OK);

        rc1 = prefs(kx_json_root(doc), one, sizeof(one));
        check(rc1 == (ref_prefs_field(key, klen, v) ? 0 : -1));

        /* the first invalid field is the one the whole body names */
        if (rc1 != 0 && all) {
            check(rc != 0 && strcmp(one, err) == 0);
        }

        all = all && rc1 == 0;

        kx_json_free(doc);
        kx_jw_free(&w);
    }

    if (n <= FUZZ_NP_PREFS_ALONE) {
        check(rc == (all ? 0 : -1));
    }

    if (rc != 0) {
        return;
    }

    /* the module stores the body re-encoded: that must be valid too */
    kx_jw_init(&w);
    kx_jw_node(&w, body);
    check(kx_jw_finish(&w, &out, &len) == KX_JW_OK);
    check(kx_json_parse(out, len, &out_limits, &doc, NULL) == KX_JSON_PE_OK);
    check(prefs(kx_json_root(doc), err, sizeof(err)) == 0);

    kx_json_free(doc);
    kx_jw_free(&w);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char     *s;
    kx_json_doc_t  *doc;

    s = (const char *) data;

    check_cmd(s, size);
    check_id_text(s, size);
    check_id_order(data, size);
    check_uid(s, size);
    check_ws_type(s, size);
    check_publish(s, size);
    check_fields(s, size);

    if (kx_json_parse(s, size, NULL, &doc, NULL) == KX_JSON_PE_OK) {
        check_render(kx_json_root(doc), s, size < 64 ? size : 64);
        check_prefs(kx_json_root(doc));
        kx_json_free(doc);
    }

    return 0;
}
