/*
 * panel_json.c - strict recursive-descent JSON parser with limits.
 *
 * Recursion depth is bounded by lim->max_depth, checked before descending.
 * Grammar references are to RFC 8259 sections 2 (structure), 6 (numbers),
 * 7 (strings) and 8.1 (UTF-8).
 */
#include "panel_json.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

const struct pjson_limits pjson_default_limits = {
    .max_bytes = 64 * 1024,
    .max_depth = 16,
    .max_values = 4096,
    .max_string = 8 * 1024,
};

struct parser {
    const unsigned char *p, *end, *start;
    const struct pjson_limits *lim;
    size_t depth, values;
    const char *err;
};

static int parse_value(struct parser *, struct pjson *);

static int fail(struct parser *ps, const char *why)
{
    if (ps->err == NULL)
        ps->err = why;
    return -1;
}

static void skip_ws(struct parser *ps)
{
    /* RFC 8259 section 2: only these four are whitespace */
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

static void node_clear(struct pjson *v)
{
    free(v->str);
    for (size_t i = 0; i < v->n; i++) {
        node_clear(&v->item[i]);
        if (v->key != NULL)
            free(v->key[i]);
    }
    free(v->item);
    free(v->key);
    memset(v, 0, sizeof(*v));
}

void pjson_free(struct pjson *v)
{
    if (v == NULL)
        return;
    node_clear(v);
    free(v);
}

static int literal(struct parser *ps, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
        return fail(ps, "invalid literal");
    ps->p += n;
    return 0;
}

static int hex4(struct parser *ps, unsigned *out)
{
    unsigned v = 0;
    if (ps->end - ps->p < 4)
        return fail(ps, "truncated \\u escape");
    for (int i = 0; i < 4; i++) {
        unsigned char c = *ps->p++;
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= c - '0';
        else if (c >= 'a' && c <= 'f')
            v |= c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            v |= c - 'A' + 10;
        else
            return fail(ps, "invalid \\u escape");
    }
    *out = v;
    return 0;
}

/* Length of the valid UTF-8 sequence at p (RFC 3629 section 4), 0 if invalid. */
static size_t utf8_len(const unsigned char *p, const unsigned char *end)
{
    size_t avail = (size_t)(end - p);
    unsigned char c = p[0];
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        return avail >= 2 && (p[1] & 0xc0) == 0x80 ? 2 : 0;
    if (c >= 0xe0 && c <= 0xef) {
        if (avail < 3 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80)
            return 0;
        if (c == 0xe0 && p[1] < 0xa0)
            return 0; /* overlong */
        if (c == 0xed && p[1] >= 0xa0)
            return 0; /* UTF-16 surrogate */
        return 3;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        if (avail < 4 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80 || (p[3] & 0xc0) != 0x80)
            return 0;
        if (c == 0xf0 && p[1] < 0x90)
            return 0;
        if (c == 0xf4 && p[1] >= 0x90)
            return 0; /* above U+10FFFF */
        return 4;
    }
    return 0;
}

static size_t put_utf8(unsigned cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* RFC 8259 section 7. The unescaped text is never longer than the escaped
 * one, so one allocation of the raw length is enough. */
static int parse_string(struct parser *ps, char **out)
{
    const unsigned char *q = ++ps->p; /* after the opening quote */
    while (q < ps->end && *q != '"') {
        if (*q == '\\' && q + 1 < ps->end)
            q++;
        q++;
    }
    if (q >= ps->end)
        return fail(ps, "unterminated string");
    size_t raw = (size_t)(q - ps->p);
    char *s = malloc(raw + 1);
    if (s == NULL)
        return fail(ps, "out of memory");
    size_t n = 0;
    while (*ps->p != '"') {
        unsigned char c = *ps->p;
        if (c < 0x20) {
            free(s);
            return fail(ps, "control character in string");
        }
        if (c == '\\') {
            ps->p++;
            unsigned char e = *ps->p++;
            unsigned cp;
            switch (e) {
            case '"':
            case '\\':
            case '/':
                s[n++] = (char)e;
                break;
            case 'b':
                s[n++] = '\b';
                break;
            case 'f':
                s[n++] = '\f';
                break;
            case 'n':
                s[n++] = '\n';
                break;
            case 'r':
                s[n++] = '\r';
                break;
            case 't':
                s[n++] = '\t';
                break;
            case 'u':
                if (hex4(ps, &cp) < 0) {
                    free(s);
                    return -1;
                }
                if (cp >= 0xdc00 && cp <= 0xdfff) {
                    free(s);
                    return fail(ps, "unpaired surrogate");
                }
                if (cp >= 0xd800 && cp <= 0xdbff) {
                    unsigned lo;
                    if (ps->end - ps->p < 6 || ps->p[0] != '\\' || ps->p[1] != 'u') {
                        free(s);
                        return fail(ps, "unpaired surrogate");
                    }
                    ps->p += 2;
                    if (hex4(ps, &lo) < 0) {
                        free(s);
                        return -1;
                    }
                    if (lo < 0xdc00 || lo > 0xdfff) {
                        free(s);
                        return fail(ps, "unpaired surrogate");
                    }
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                }
                if (cp == 0) {
                    free(s);
                    return fail(ps, "U+0000 in string");
                }
                n += put_utf8(cp, s + n);
                break;
            default:
                free(s);
                return fail(ps, "invalid escape");
            }
        } else {
            size_t l = utf8_len(ps->p, ps->end);
            if (l == 0) {
                free(s);
                return fail(ps, "invalid UTF-8");
            }
            memcpy(s + n, ps->p, l);
            n += l;
            ps->p += l;
        }
        if (n > ps->lim->max_string) {
            free(s);
            return fail(ps, "string too long");
        }
    }
    ps->p++; /* closing quote */
    s[n] = '\0';
    *out = s;
    return 0;
}

/* RFC 8259 section 6: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static int parse_number(struct parser *ps, struct pjson *v)
{
    const unsigned char *b = ps->p;
    if (ps->p < ps->end && *ps->p == '-')
        ps->p++;
    if (ps->p >= ps->end)
        return fail(ps, "invalid number");
    if (*ps->p == '0') {
        ps->p++;
    } else if (*ps->p >= '1' && *ps->p <= '9') {
        while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
            ps->p++;
    } else {
        return fail(ps, "invalid number");
    }
    if (ps->p < ps->end && *ps->p == '.') {
        ps->p++;
        if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9')
            return fail(ps, "invalid number");
        while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
            ps->p++;
    }
    if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
        ps->p++;
        if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-'))
            ps->p++;
        if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9')
            return fail(ps, "invalid number");
        while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
            ps->p++;
    }
    size_t len = (size_t)(ps->p - b);
    if (len > 64)
        return fail(ps, "number too long");
    v->str = malloc(len + 1);
    if (v->str == NULL)
        return fail(ps, "out of memory");
    memcpy(v->str, b, len);
    v->str[len] = '\0';
    v->type = PJ_NUMBER;
    return 0;
}

static int grow(struct parser *ps, struct pjson *v, size_t *cap, bool keys)
{
    if (v->n < *cap)
        return 0;
    size_t nc = *cap ? *cap * 2 : 4;
    struct pjson *it = realloc(v->item, nc * sizeof(*it));
    if (it == NULL)
        return fail(ps, "out of memory");
    v->item = it;
    if (keys) {
        char **k = realloc(v->key, nc * sizeof(*k));
        if (k == NULL)
            return fail(ps, "out of memory");
        v->key = k;
    }
    *cap = nc;
    return 0;
}

static int parse_container(struct parser *ps, struct pjson *v, bool object)
{
    size_t cap = 0;
    unsigned char close = object ? '}' : ']';

    if (++ps->depth > ps->lim->max_depth)
        return fail(ps, "nesting too deep");
    v->type = object ? PJ_OBJECT : PJ_ARRAY;
    ps->p++;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == close) {
        ps->p++;
        ps->depth--;
        return 0;
    }
    for (;;) {
        char *key = NULL;
        skip_ws(ps);
        if (object) {
            if (ps->p >= ps->end || *ps->p != '"')
                return fail(ps, "expected a string key");
            if (parse_string(ps, &key) < 0)
                return -1;
            for (size_t i = 0; i < v->n; i++) {
                if (strcmp(v->key[i], key) == 0) {
                    free(key);
                    return fail(ps, "duplicate key");
                }
            }
            skip_ws(ps);
            if (ps->p >= ps->end || *ps->p != ':') {
                free(key);
                return fail(ps, "expected ':'");
            }
            ps->p++;
        }
        if (grow(ps, v, &cap, object) < 0) {
            free(key);
            return -1;
        }
        memset(&v->item[v->n], 0, sizeof(v->item[0]));
        if (object)
            v->key[v->n] = key;
        v->n++;
        if (parse_value(ps, &v->item[v->n - 1]) < 0)
            return -1;
        skip_ws(ps);
        if (ps->p >= ps->end)
            return fail(ps, object ? "unterminated object" : "unterminated array");
        if (*ps->p == ',') {
            ps->p++;
            continue;
        }
        if (*ps->p == close) {
            ps->p++;
            ps->depth--;
            return 0;
        }
        return fail(ps, "expected ',' or end of container");
    }
}

static int parse_value(struct parser *ps, struct pjson *v)
{
    if (++ps->values > ps->lim->max_values)
        return fail(ps, "too many values");
    skip_ws(ps);
    if (ps->p >= ps->end)
        return fail(ps, "unexpected end of input");
    switch (*ps->p) {
    case '{':
        return parse_container(ps, v, true);
    case '[':
        return parse_container(ps, v, false);
    case '"':
        v->type = PJ_STRING;
        return parse_string(ps, &v->str);
    case 't':
        v->type = PJ_BOOL;
        v->b = true;
        return literal(ps, "true");
    case 'f':
        v->type = PJ_BOOL;
        v->b = false;
        return literal(ps, "false");
    case 'n':
        v->type = PJ_NULL;
        return literal(ps, "null");
    default:
        return parse_number(ps, v);
    }
}

struct pjson *pjson_parse(const char *text, size_t len, const struct pjson_limits *lim,
                          const char **err, size_t *at)
{
    struct parser ps = {0};
    const char *dummy_err;
    size_t dummy_at;

    if (err == NULL)
        err = &dummy_err;
    if (at == NULL)
        at = &dummy_at;
    if (lim == NULL)
        lim = &pjson_default_limits;
    *err = NULL;
    *at = 0;
    if (len > lim->max_bytes) {
        *err = "document too large";
        return NULL;
    }
    struct pjson *v = calloc(1, sizeof(*v));
    if (v == NULL) {
        *err = "out of memory";
        return NULL;
    }
    ps.p = ps.start = (const unsigned char *)text;
    ps.end = ps.p + len;
    ps.lim = lim;
    if (parse_value(&ps, v) == 0) {
        skip_ws(&ps);
        if (ps.p == ps.end)
            return v;
        fail(&ps, "trailing data");
    }
    *err = ps.err;
    *at = (size_t)(ps.p - ps.start);
    pjson_free(v);
    return NULL;
}

const struct pjson *pjson_get(const struct pjson *v, const char *key)
{
    if (v == NULL || v->type != PJ_OBJECT)
        return NULL;
    for (size_t i = 0; i < v->n; i++) {
        if (strcmp(v->key[i], key) == 0)
            return &v->item[i];
    }
    return NULL;
}

int pjson_uint(const struct pjson *v, unsigned long max, unsigned long *out)
{
    if (v == NULL || v->type != PJ_NUMBER || v->str[0] == '-')
        return -1;
    for (const char *p = v->str; *p != '\0'; p++) {
        if (*p < '0' || *p > '9')
            return -1; /* fractions and exponents are not whole numbers here */
    }
    errno = 0;
    unsigned long n = strtoul(v->str, NULL, 10);
    if (errno != 0 || n > max)
        return -1;
    *out = n;
    return 0;
}
