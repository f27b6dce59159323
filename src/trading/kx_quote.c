
/*
 * Copyright (C) Kianax
 */


#include <string.h>

#include "core/kx_json.h"
#include "trading/kx_quote.h"


static int
kx_quote_field(const kx_json_node_t *root, const char *key, kx_dec_t *out)
{
    int  rc;

    rc = kx_json_get_dec(root, key, 8, out);

    if (rc == KX_JSON_EMISSING
        || (rc == KX_JSON_ETYPE
            && kx_json_type(kx_json_obj_get(root, key)) == KX_JSON_NULL))
    {
        out->v = 0;
        return 0;
    }

    if (rc != KX_JSON_OK || out->v < 0) {
        return -1;
    }

    return 0;
}


int
kx_quote_parse(const char *buf, size_t len, kx_quote_t *q, char *symbol,
    size_t size)
{
    int                    rc;
    size_t                 n;
    const char            *s;
    kx_json_doc_t         *doc;
    const kx_json_node_t  *root;

    memset(q, 0, sizeof(kx_quote_t));

    if (kx_json_parse(buf, len, NULL, &doc, NULL) != KX_JSON_PE_OK) {
        return -1;
    }

    root = kx_json_root(doc);
    rc = -1;

    if (kx_json_get_str(root, "symbol", &s, &n) != KX_JSON_OK
        || n == 0 || n >= size)
    {
        goto done;
    }

    memcpy(symbol, s, n);
    symbol[n] = '\0';

    if (kx_quote_field(root, "bid", &q->bid) != 0
        || kx_quote_field(root, "ask", &q->ask) != 0
        || kx_quote_field(root, "price", &q->last) != 0
        || kx_quote_field(root, "bid_size", &q->bid_size) != 0
        || kx_quote_field(root, "ask_size", &q->ask_size) != 0)
    {
        goto done;
    }

    rc = 0;

done:

    kx_json_free(doc);

    return rc;
}
