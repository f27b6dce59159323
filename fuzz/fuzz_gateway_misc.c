
/*
 * Copyright (C) Kianax
 */


/*
 * The gateway's small parsers of client and upstream input.  The first
 * byte picks:
 *
 *   0  an e-mail address: what normalises is the trimmed input
 *      lower-cased, at most KX_EMAIL_MAX bytes, one '@', and normalises
 *      to itself again; case and surrounding blanks change nothing;
 *   1  a portfolio and its quotes, JSON texts separated by NUL bytes,
 *      through the enrichment: the answer parses as JSON, passes the
 *      other fields through, and its totals add up; a refusal writes
 *      nothing.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/kx_decimal.h"
#include "core/kx_json.h"
#include "core/kx_utf8.h"
#include "gateway/kx_email.h"
#include "gateway/kx_enrich.h"

#include "fuzz_check.h"


#define QUOTES_MAX  32


static size_t
normalize(const char *in, size_t len, char **out)
{
    size_t  n;

    /* exactly the room the header promises, so ASan sees one byte more */
    *out = malloc(KX_EMAIL_MAX + 1);
    check(*out != NULL);

    n = kx_email_normalize(in, len, *out);

    if (n) {
        check(n <= KX_EMAIL_MAX && (*out)[n] == '\0' && strlen(*out) == n);
    }

    return n;
}


static void
check_email(const uint8_t *data, size_t size)
{
    char        *out, *out2, *var;
    size_t       n, n2, i, b, e, ats;
    const char  *in;

    in = (const char *) data;
    n = normalize(in, size, &out);

    /* the trimmed input, ASCII lower-cased */
    for (b = 0; b < size && (in[b] == ' ' || in[b] == '\t'); b++) {
        /* void */
    }

    for (e = size; e > b && (in[e - 1] == ' ' || in[e - 1] == '\t'); e--) {
        /* void */
    }

    if (n) {
        check(n == e - b);
        check(kx_utf8_validate(out, n) == n);

        for (i = 0, ats = 0; i < n; i++) {
            check(out[i] == ((in[b + i] >= 'A' && in[b + i] <= 'Z')
                             ? in[b + i] | 0x20 : in[b + i]));
            check((unsigned char) out[i] > 0x20 && out[i] != 0x7f);
            ats += (out[i] == '@');
        }

        check(ats == 1 && out[0] != '@' && out[n - 1] != '.');

        /* idempotent */
        n2 = normalize(out, n, &out2);
        check(n2 == n && memcmp(out, out2, n) == 0);
        free(out2);
    }

    /* upper case and blanks around: the same answer */
    var = malloc(size + 4);
    check(var != NULL);
    var[0] = ' ';
    var[1] = '\t';

    for (i = 0; i < size; i++) {
        var[i + 2] = (in[i] >= 'a' && in[i] <= 'z') ? in[i] & ~0x20 : in[i];
    }

    var[size + 2] = '\t';
    var[size + 3] = ' ';

    n2 = normalize(var, size + 4, &out2);
    check(n2 == n && (n == 0 || memcmp(out, out2, n) == 0));

    free(out2);
    free(var);
    free(out);
}


/* a node as compact JSON, malloc()ed, to compare two nodes */

static char *
text_of(const kx_json_node_t *node)
{
    char        *s;
    size_t       len;
    kx_jw_t      w;
    const char  *out;

    kx_jw_init(&w);
    kx_jw_node(&w, node);
    check(kx_jw_finish(&w, &out, &len) == KX_JW_OK);

    s = strdup(out);
    check(s != NULL);
    kx_jw_free(&w);

    return s;
}


static void
check_same(const kx_json_node_t *a, const kx_json_node_t *b)
{
    char  *sa, *sb;

    check(a != NULL && b != NULL);

    sa = text_of(a);
    sb = text_of(b);
    check(strcmp(sa, sb) == 0);
    free(sa);
    free(sb);
}


/* an amount written by the enrichment: a string with 2 places or more */

static kx_dec_t
money(const kx_json_node_t *obj, const char *key)
{
    size_t       len;
    kx_dec_t     d;
    const char  *s, *dot;

    check(kx_json_get_str(obj, key, &s, &len) == KX_JSON_OK);
    check(kx_dec_parse(s, len, &d) == KX_DEC_OK);

    dot = memchr(s, '.', len);
    check(dot != NULL && (size_t) (s + len - dot) >= 3);

    return d;
}


static int
is_one_of(const char *key, size_t len, const char *const *names)
{
    for ( /* void */ ; *names; names++) {
        if (strlen(*names) == len && memcmp(*names, key, len) == 0) {
            return 1;
        }
    }

    return 0;
}


static void
check_position(const kx_json_node_t *in, const kx_json_node_t *out,
    const kx_json_node_t *quote, kx_dec_t *mv, kx_dec_t *upl)
{
    int                    live;
    size_t                 i, klen, slen;
    kx_dec_t               price;
    const char            *key, *s;
    const kx_json_node_t  *v;

    static const char  *replaced[] = {
        "current_price", "market_value", "unrealized_pl", "quote_status",
        NULL
    };

    static const char  *from_quote[] = {
        "bid", "ask", "change_percent", NULL
    };

    check(kx_json_type(out) == KX_JSON_OBJECT);

    live = (quote != NULL
            && kx_json_get_dec(quote, "price", 8, &price) == KX_JSON_OK);

    check(kx_json_get_str(out, "quote_status", &s, &slen) == KX_JSON_OK);
    check(live ? (slen == 4 && memcmp(s, "live", 4) == 0)
               : (slen == 11 && memcmp(s, "unavailable", 11) == 0));

    if (live) {
        check(money(out, "current_price").v == price.v);
    }

    *mv = money(out, "market_value");
    *upl = money(out, "unrealized_pl");

    /* what the quote adds, from the quote */
    for (i = 0; live && from_quote[i]; i++) {
        v = kx_json_obj_get(quote, from_quote[i]);
        if (v) {
            check_same(v, kx_json_obj_get(out, from_quote[i]));
        }
    }

    if (live && kx_json_obj_get(quote, "timestamp")) {
        check_same(kx_json_obj_get(quote, "timestamp"),
                   kx_json_obj_get(out, "quote_timestamp"));
    }

    /* the rest of the position as it came */
    for (i = 0; i < kx_json_obj_len(in); i++) {
        v = kx_json_obj_at(in, i, &key, &klen);

        if (is_one_of(key, klen, replaced)
            || (live && is_one_of(key, klen, from_quote)
                && kx_json_obj_getn(quote, key, klen))
            || (live && klen == 15 && memcmp(key, "quote_timestamp", 15) == 0
                && kx_json_obj_get(quote, "timestamp")))
        {
            continue;
        }

        check_same(v, kx_json_obj_getn(out, key, klen));
    }
}


static void
check_enrich(const uint8_t *data, size_t size)
{
    int                    rc;
    size_t                 i, n, len, klen, plen;
    kx_jw_t                w;
    kx_dec_t               cash, sum_mv, sum_upl, mv, upl, total;
    const char            *out, *key, *s;
    const uint8_t         *p, *z, *end;
    kx_json_doc_t         *pf, *res, *qdoc[QUOTES_MAX];
    kx_json_limits_t       lim = { 4096, 8, 512 };
    const kx_json_node_t  *root, *positions, *pos, *quotes[QUOTES_MAX];
    const kx_json_node_t  *v;

    static const char  *replaced[] = {
        "positions", "positions_value", "unrealized_pl", "total_value", NULL
    };

    end = data + size;
    z = memchr(data, '\0', size);
    plen = z ? (size_t) (z - data) : size;

    if (kx_json_parse((const char *) data, plen, &lim, &pf, NULL)
        != KX_JSON_PE_OK)
    {
        return;
    }

    root = kx_json_root(pf);
    positions = kx_enrich_positions(root, &n);

    check((positions == NULL) == (kx_json_type(kx_json_obj_get(root,
                                                "positions"))
                                  != KX_JSON_ARRAY));

    if (n > QUOTES_MAX) {
        kx_json_free(pf);
        return;
    }

    /* quotes[i] for position i: the i-th text after the portfolio */
    p = z ? z + 1 : end;

    for (i = 0; i < n; i++) {
        quotes[i] = NULL;
        qdoc[i] = NULL;

        if (p < end) {
            z = memchr(p, '\0', end - p);
            len = z ? (size_t) (z - p) : (size_t) (end - p);

            if (kx_json_parse((const char *) p, len, &lim, &qdoc[i], NULL)
                == KX_JSON_PE_OK)
            {
                quotes[i] = kx_json_root(qdoc[i]);
            }

            p = z ? z + 1 : end;
        }

        s = kx_enrich_symbol(positions, i, &len);
        check(s == NULL
              || (len > 0
                  && kx_json_get_str(kx_json_arr_at(positions, i), "symbol",
                                     &s, &klen) == KX_JSON_OK
                  && klen == len));
    }

    check(kx_enrich_symbol(positions, n, &len) == NULL);

    kx_jw_init(&w);
    rc = kx_enrich_write(&w, root, quotes);

    if (rc != KX_ENRICH_OK) {
        check(rc == KX_ENRICH_EINVAL || rc == KX_ENRICH_ERANGE);
        check(w.len == 0);
        goto done;
    }

    rc = kx_jw_finish(&w, &out, &len);
    check(rc == KX_JW_OK);

    if (kx_json_parse(out, len, NULL, &res, NULL) != KX_JSON_PE_OK) {
        fprintf(stderr, "enriched portfolio does not parse:\n%.*s\n",
                (int) len, out);
        abort();
    }

    check(kx_json_type(kx_json_root(res)) == KX_JSON_OBJECT);
    check(kx_json_get_dec(root, "cash_balance", 8, &cash) == KX_JSON_OK);

    v = kx_json_obj_get(kx_json_root(res), "positions");
    check(kx_json_type(v) == KX_JSON_ARRAY && kx_json_arr_len(v) == n);

    sum_mv.v = 0;
    sum_upl.v = 0;

    for (i = 0; i < n; i++) {
        pos = kx_json_arr_at(positions, i);
        check_position(pos, kx_json_arr_at(v, i), quotes[i], &mv, &upl);
        check(kx_dec_add(sum_mv, mv, &sum_mv) == KX_DEC_OK);
        check(kx_dec_add(sum_upl, upl, &sum_upl) == KX_DEC_OK);
    }

    /* the totals are the sums of what is shown */
    check(money(kx_json_root(res), "positions_value").v == sum_mv.v);
    check(money(kx_json_root(res), "unrealized_pl").v == sum_upl.v);
    check(kx_dec_add(cash, sum_mv, &total) == KX_DEC_OK);
    check(money(kx_json_root(res), "total_value").v == total.v);

    for (i = 0; i < kx_json_obj_len(root); i++) {
        v = kx_json_obj_at(root, i, &key, &klen);

        if (!is_one_of(key, klen, replaced)) {
            check_same(v, kx_json_obj_getn(kx_json_root(res), key, klen));
        }
    }

    kx_json_free(res);

done:

    kx_jw_free(&w);

    for (i = 0; i < n; i++) {
        kx_json_free(qdoc[i]);
    }

    kx_json_free(pf);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 4096) {
        return 0;
    }

    if (data[0] & 1) {
        check_enrich(data + 1, size - 1);

    } else {
        check_email(data + 1, size - 1);
    }

    return 0;
}
