
/*
 * Copyright (C) Kianax
 */


#ifndef _KX_JSON_H_INCLUDED_
#define _KX_JSON_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include "kx_decimal.h"


/*
 * Reading: kx_json_parse() builds a read-only tree in one arena, freed
 * by kx_json_free().  Numbers keep their raw text, so money is read
 * exactly by kx_dec_parse() and never passes through binary floating
 * point.
 *
 * The parser is strict on purpose, because requests move money:
 *   - exactly one value (any type) with only whitespace around it;
 *   - strings must be valid UTF-8 (no overlongs, no surrogates, nothing
 *     above U+10FFFF) and \u escapes must pair surrogates correctly;
 *   - an object may not repeat a key: {"qty":1,"qty":100} would mean
 *     different things to different readers, so it is rejected;
 *   - size, nesting depth and node count are bounded by the limits.
 * Depth counts open containers: "[]" is depth 1, a bare scalar depth 0.
 * Every value (scalar or container, not keys) counts as one node.
 */

typedef enum {
    KX_JSON_NONE = 0,           /* no node: a missing key or index */
    KX_JSON_NULL,
    KX_JSON_BOOL,
    KX_JSON_NUMBER,
    KX_JSON_STRING,
    KX_JSON_ARRAY,
    KX_JSON_OBJECT
} kx_json_type_e;


typedef enum {
    KX_JSON_PE_OK = 0,
    KX_JSON_PE_SYNTAX,
    KX_JSON_PE_TOO_DEEP,
    KX_JSON_PE_TOO_LARGE,
    KX_JSON_PE_TOO_MANY_NODES,
    KX_JSON_PE_BAD_UTF8,
    KX_JSON_PE_DUPLICATE_KEY,
    KX_JSON_PE_NOMEM
} kx_json_perr_e;


/* results of the typed getters */
enum {
    KX_JSON_OK = 0,
    KX_JSON_EMISSING,           /* no such key (or no node) */
    KX_JSON_ETYPE,              /* present, wrong JSON type (null too) */
    KX_JSON_EVALUE,             /* right type, not a valid value */
    KX_JSON_ERANGE,             /* number out of range */
    KX_JSON_EPRECISION          /* more decimal places than allowed */
};


typedef struct {
    size_t              max_size;   /* bytes of input */
    unsigned            max_depth;
    size_t              max_nodes;
} kx_json_limits_t;

/* zero fields in a caller's limits mean these defaults, too */
#define KX_JSON_DEFAULT_MAX_SIZE   (1024 * 1024)
#define KX_JSON_DEFAULT_MAX_DEPTH  32
#define KX_JSON_DEFAULT_MAX_NODES  100000

#define KX_JSON_LIMITS_DEFAULT                                                \
    { KX_JSON_DEFAULT_MAX_SIZE, KX_JSON_DEFAULT_MAX_DEPTH,                    \
      KX_JSON_DEFAULT_MAX_NODES }


typedef struct {
    kx_json_perr_e      code;
    size_t              offset;     /* about where in the input */
    char                msg[128];   /* short, for a 400 response */
} kx_json_perr_t;


typedef struct kx_json_doc_s   kx_json_doc_t;
typedef struct kx_json_node_s  kx_json_node_t;


/*
 * Returns KX_JSON_PE_OK and sets *doc, or an error code (also in err,
 * which may be NULL).  lim may be NULL for the defaults.
 */
int kx_json_parse(const char *buf, size_t len, const kx_json_limits_t *lim,
    kx_json_doc_t **doc, kx_json_perr_t *err);
void kx_json_free(kx_json_doc_t *doc);
const char *kx_json_perr_name(kx_json_perr_e code);

/*
 * Accessors accept NULL and wrong types and answer "nothing" (NULL,
 * 0, KX_JSON_NONE), so lookups chain without checks in between.
 * Strings and keys are NUL-terminated for convenience but may contain
 * NUL (from \u0000): use the length.
 */
const kx_json_node_t *kx_json_root(const kx_json_doc_t *doc);
kx_json_type_e kx_json_type(const kx_json_node_t *node);
const char *kx_json_type_name(kx_json_type_e type);

const kx_json_node_t *kx_json_obj_get(const kx_json_node_t *obj,
    const char *key);
const kx_json_node_t *kx_json_obj_getn(const kx_json_node_t *obj,
    const char *key, size_t key_len);
size_t kx_json_obj_len(const kx_json_node_t *obj);
const kx_json_node_t *kx_json_obj_at(const kx_json_node_t *obj, size_t i,
    const char **key, size_t *key_len);

size_t kx_json_arr_len(const kx_json_node_t *arr);
const kx_json_node_t *kx_json_arr_at(const kx_json_node_t *arr, size_t i);

const char *kx_json_str(const kx_json_node_t *node, size_t *len);
const char *kx_json_num_raw(const kx_json_node_t *node, size_t *len);

/*
 * Typed reads for handlers; each returns KX_JSON_OK or an error above,
 * enough to answer 422 "field qty must be a number".  A decimal may be
 * a JSON number or a string in the same grammar ("12.50"), as money
 * APIs commonly send it; an integer must be a JSON number written
 * without fraction or exponent.
 */
int kx_json_bool(const kx_json_node_t *node, int *out);
int kx_json_int64(const kx_json_node_t *node, int64_t *out);
int kx_json_dec(const kx_json_node_t *node, unsigned max_places,
    kx_dec_t *out);

int kx_json_get_str(const kx_json_node_t *obj, const char *key,
    const char **s, size_t *len);
int kx_json_get_bool(const kx_json_node_t *obj, const char *key, int *out);
int kx_json_get_int64(const kx_json_node_t *obj, const char *key,
    int64_t *out);
int kx_json_get_dec(const kx_json_node_t *obj, const char *key,
    unsigned max_places, kx_dec_t *out);

const char *kx_json_strerror(int rc);


/*
 * Writing: kx_jw_t appends to a growable malloc buffer, inserting
 * commas and colons itself.  Calls return nothing; the first error
 * (no memory, a call out of place, bad number text) sticks and makes
 * kx_jw_finish() fail, so a handler checks once at the end.  Any bytes
 * given as a string come out as valid JSON: control characters are
 * escaped and invalid UTF-8 becomes U+FFFD.
 */

#define KX_JW_MAX_DEPTH  256

enum {
    KX_JW_OK = 0,
    KX_JW_ENOMEM,
    KX_JW_ESTATE,               /* e.g. a key in an array, unbalanced end */
    KX_JW_EVALUE                /* raw number text that is not a number */
};

typedef struct {
    char               *buf;
    size_t              len;
    size_t              cap;
    unsigned            depth;
    int                 err;
    unsigned            after_key:1;
    unsigned            done:1;
    unsigned char       is_obj[KX_JW_MAX_DEPTH / 8];
    unsigned char       has_item[KX_JW_MAX_DEPTH / 8];
} kx_jw_t;


void kx_jw_init(kx_jw_t *w);
void kx_jw_reset(kx_jw_t *w);
void kx_jw_free(kx_jw_t *w);

/* KX_JW_OK with the NUL-terminated text, if one complete value was made */
int kx_jw_finish(kx_jw_t *w, const char **out, size_t *len);

void kx_jw_obj_begin(kx_jw_t *w);
void kx_jw_obj_end(kx_jw_t *w);
void kx_jw_arr_begin(kx_jw_t *w);
void kx_jw_arr_end(kx_jw_t *w);
void kx_jw_key(kx_jw_t *w, const char *key);
void kx_jw_keyn(kx_jw_t *w, const char *key, size_t len);
void kx_jw_str(kx_jw_t *w, const char *s);     /* NULL writes null */
void kx_jw_strn(kx_jw_t *w, const char *s, size_t len);
void kx_jw_int(kx_jw_t *w, int64_t v);
void kx_jw_num_raw(kx_jw_t *w, const char *s, size_t len);
void kx_jw_dec(kx_jw_t *w, kx_dec_t d, unsigned places);
void kx_jw_dec_min(kx_jw_t *w, kx_dec_t d);
void kx_jw_dec_str(kx_jw_t *w, kx_dec_t d, unsigned places);
void kx_jw_bool(kx_jw_t *w, int b);
void kx_jw_null(kx_jw_t *w);
void kx_jw_node(kx_jw_t *w, const kx_json_node_t *node);
void kx_jw_splice(kx_jw_t *w, kx_jw_t *part);  /* part: finished */

/*
 * The body of a JSON string for any bytes, without the quotes; like
 * snprintf, returns the full length and writes only if it fits.
 */
size_t kx_json_escape(char *dst, size_t size, const char *s, size_t len);


#endif /* _KX_JSON_H_INCLUDED_ */
