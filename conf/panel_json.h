/*
 * panel_json.h - a small strict JSON parser (RFC 8259) for request bodies
 * of the panel's /api/.
 *
 * Input is untrusted: the parser enforces a byte limit, a nesting-depth limit
 * (so recursion is bounded), a limit on the number of values and on string
 * length, and refuses what RFC 8259 does not allow (comments, trailing
 * commas, single quotes, leading zeros, NaN, invalid UTF-8, unpaired
 * surrogates, control characters in strings) plus, for the panel's safety,
 * duplicate object keys and the character U+0000. It does no I/O and keeps
 * no pointer into the input. Output goes the other way through panel_buf.h
 * and conf_json.h.
 */
#ifndef XFED_PANEL_JSON_H
#define XFED_PANEL_JSON_H

#include <stdbool.h>
#include <stddef.h>

enum pjson_type { PJ_NULL, PJ_BOOL, PJ_NUMBER, PJ_STRING, PJ_ARRAY, PJ_OBJECT };

struct pjson {
    enum pjson_type type;
    bool b;             /* PJ_BOOL */
    char *str;          /* PJ_STRING: UTF-8 text; PJ_NUMBER: the number as written */
    size_t n;           /* PJ_ARRAY, PJ_OBJECT: number of members */
    struct pjson *item; /* members */
    char **key;         /* PJ_OBJECT: key of each member */
};

struct pjson_limits {
    size_t max_bytes;  /* whole document */
    size_t max_depth;  /* nesting of arrays and objects */
    size_t max_values; /* values in the whole document */
    size_t max_string; /* bytes of one string after unescaping */
};

/* The limits the panel uses for request bodies: 64 KiB, depth 16, 4096
 * values, strings of 8 KiB. */
extern const struct pjson_limits pjson_default_limits;

/* Parses text[0..len) (need not be NUL-terminated). Returns a tree the
 * caller frees with pjson_free(), or NULL with a static reason in *err
 * ("nesting too deep", "invalid UTF-8", ...) and the byte offset in *at. */
struct pjson *pjson_parse(const char *text, size_t len, const struct pjson_limits *lim,
                          const char **err, size_t *at);
void pjson_free(struct pjson *);

/* Member of an object by key, or NULL (also when v is not an object). */
const struct pjson *pjson_get(const struct pjson *v, const char *key);
/* The value as a whole number within [0, max]. Returns 0 or -1. */
int pjson_uint(const struct pjson *v, unsigned long max, unsigned long *out);

#endif
