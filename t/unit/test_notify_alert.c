
/*
 * Copyright (C) Kianax
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kx_tap.h"
#include "notify/kx_notify_alert.h"


/* the payload written for body, or NULL with err set */
static char *
payload(const char *body, char *err, size_t size)
{
    int             rc;
    char           *out;
    size_t          len;
    kx_jw_t         w;
    const char     *text;
    kx_json_doc_t  *doc;

    err[0] = '\0';

    if (kx_json_parse(body, strlen(body), NULL, &doc, NULL) != KX_JSON_PE_OK) {
        snprintf(err, size, "parse");
        return NULL;
    }

    kx_jw_init(&w);
    rc = kx_notify_alert_payload(kx_json_root(doc), &w, err, size);
    out = NULL;

    if (rc == 0 && kx_jw_finish(&w, &text, &len) == KX_JW_OK) {
        out = strdup(text);
    }

    kx_jw_free(&w);
    kx_json_free(doc);

    return out;
}


int
main(void)
{
    char   err[160], big[2100], *p;

    p = payload("{\"title\":\"AAPL above 200\",\"message\":\"line\\none\","
                "\"data\":{\"symbol\":\"AAPL\",\"price\":\"200.01\"}}",
                err, sizeof(err));
    kx_tap_ok(p && strcmp(p, "{\"title\":\"AAPL above 200\",\"message\":"
                          "\"line\\none\",\"data\":{\"symbol\":\"AAPL\","
                          "\"price\":\"200.01\"}}") == 0,
              "payload: title, message, data; one line (%s)", p ? p : err);
    free(p);

    p = payload("{\"title\":\"x\"}", err, sizeof(err));
    kx_tap_ok(p && strcmp(p, "{\"title\":\"x\",\"message\":\"\",\"data\":{}}")
                   == 0, "defaults for message and data");
    free(p);

    p = payload("{\"title\":\"\\u00e9t\\u00e9\"}", err, sizeof(err));
    kx_tap_ok(p != NULL, "UTF-8 title accepted");
    free(p);

    kx_tap_ok(payload("{}", err, sizeof(err)) == NULL
              && strncmp(err, "title:", 6) == 0, "title required: %s", err);
    kx_tap_ok(payload("{\"title\":\"\"}", err, sizeof(err)) == NULL
              && strncmp(err, "title:", 6) == 0, "empty title refused");
    kx_tap_ok(payload("{\"title\":5}", err, sizeof(err)) == NULL
              && strncmp(err, "title:", 6) == 0, "title of the wrong type");
    kx_tap_ok(payload("{\"title\":\"a\",\"message\":null}", err, sizeof(err))
              == NULL && strncmp(err, "message:", 8) == 0,
              "message null refused");
    kx_tap_ok(payload("{\"title\":\"a\",\"data\":[1]}", err, sizeof(err))
              == NULL && strncmp(err, "data:", 5) == 0,
              "data must be an object");
    kx_tap_ok(payload("{\"title\":\"a\",\"type\":\"order_filled\"}", err,
                      sizeof(err)) == NULL
              && strncmp(err, "type:", 5) == 0,
              "no other fields (a user cannot forge an order event)");
    kx_tap_ok(payload("[]", err, sizeof(err)) == NULL, "not an object");

    memset(big, 'a', sizeof(big));
    memcpy(big, "{\"title\":\"", 10);
    big[10 + 201] = '"';
    big[10 + 202] = '}';
    big[10 + 203] = '\0';
    kx_tap_ok(payload(big, err, sizeof(err)) == NULL
              && strncmp(err, "title:", 6) == 0, "201 characters refused");
    big[10 + 200] = '"';
    big[10 + 201] = '}';
    big[10 + 202] = '\0';
    p = payload(big, err, sizeof(err));
    kx_tap_ok(p != NULL, "200 characters accepted");
    free(p);

    return kx_tap_done();
}
