/*
 * conf_lync.c - RFC 4180 reader for Lync's Export-Csv files.
 *
 * The whole file is in memory (the caller caps its size), so the parser is a
 * single pass over a byte range with a line counter; every growth is
 * checked against the limits before memory is taken.
 */
#include "conf_lync.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct lync_buf {
    char *s;
    size_t len, cap;
};

struct lync_parser {
    const char *p, *end;
    size_t line;
    struct conf_lync_limits lim;
    struct conf_lync_error *err;
    struct lync_buf field;
};

static int lync_fail(struct lync_parser *ps, size_t line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int lync_fail(struct lync_parser *ps, size_t line, const char *fmt, ...)
{
    va_list ap;

    ps->err->line = line;
    va_start(ap, fmt);
    vsnprintf(ps->err->message, sizeof(ps->err->message), fmt, ap);
    va_end(ap);
    return -1;
}

static int lync_putc(struct lync_parser *ps, char c, size_t field_line)
{
    struct lync_buf *b = &ps->field;

    if (b->len >= ps->lim.max_field)
        return lync_fail(ps, field_line, "field longer than %zu bytes", ps->lim.max_field);
    if (b->len + 1 >= b->cap) {
        size_t ncap = b->cap ? b->cap * 2 : 64;
        char *ns = realloc(b->s, ncap);
        if (ns == NULL)
            return lync_fail(ps, field_line, "out of memory");
        b->s = ns;
        b->cap = ncap;
    }
    b->s[b->len++] = c;
    return 0;
}

static void lync_record_clear(struct conf_lync_record *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->fields[i]);
    free(r->fields);
    r->fields = NULL;
    r->n = 0;
}

static int lync_push_field(struct lync_parser *ps, struct conf_lync_record *r)
{
    if (r->n >= ps->lim.max_fields)
        return lync_fail(ps, r->line, "more than %zu fields in one record", ps->lim.max_fields);
    char **nv = realloc(r->fields, (r->n + 1) * sizeof(*nv));
    if (nv == NULL)
        return lync_fail(ps, r->line, "out of memory");
    r->fields = nv;
    char *s = malloc(ps->field.len + 1);
    if (s == NULL)
        return lync_fail(ps, r->line, "out of memory");
    if (ps->field.len > 0)
        memcpy(s, ps->field.s, ps->field.len);
    s[ps->field.len] = '\0';
    r->fields[r->n++] = s;
    ps->field.len = 0;
    return 0;
}

/* Consumes a line end at ps->p if there is one: "\r\n", "\n", or a "\r" that
 * ends the input. */
static bool lync_eol(struct lync_parser *ps)
{
    if (ps->p < ps->end && *ps->p == '\n') {
        ps->p++;
        ps->line++;
        return true;
    }
    if (ps->p < ps->end && *ps->p == '\r') {
        if (ps->p + 1 < ps->end && ps->p[1] == '\n') {
            ps->p += 2;
            ps->line++;
            return true;
        }
        if (ps->p + 1 == ps->end) {
            ps->p++;
            return true;
        }
    }
    return false;
}

/* Reads one record into r. Returns 0 with a record, 1 at end of input or
 * for a blank line (r->n == 0), -1 on error. */
static int lync_record(struct lync_parser *ps, struct conf_lync_record *r)
{
    r->line = ps->line;
    r->n = 0;
    r->fields = NULL;
    if (ps->p >= ps->end)
        return 1;
    if (lync_eol(ps))
        return 1;

    for (;;) {
        size_t field_line = ps->line;
        ps->field.len = 0;
        if (ps->p < ps->end && *ps->p == '"') {
            ps->p++;
            for (;;) {
                if (ps->p >= ps->end)
                    return lync_fail(ps, field_line, "quoted field is not terminated");
                char c = *ps->p++;
                if (c == '"') {
                    if (ps->p < ps->end && *ps->p == '"') {
                        ps->p++;
                    } else {
                        break;
                    }
                } else if (c == '\n') {
                    ps->line++;
                } else if (c == '\0') {
                    return lync_fail(ps, ps->line, "NUL byte in the file");
                }
                if (lync_putc(ps, c, field_line) < 0)
                    return -1;
            }
            if (lync_push_field(ps, r) < 0)
                return -1;
            if (ps->p >= ps->end || lync_eol(ps))
                return 0;
            if (*ps->p != ',')
                return lync_fail(ps, ps->line, "unexpected character after a closing quote");
            ps->p++;
            continue;
        }
        for (;;) {
            if (ps->p >= ps->end) {
                if (lync_push_field(ps, r) < 0)
                    return -1;
                return 0;
            }
            char c = *ps->p;
            if (c == ',') {
                ps->p++;
                if (lync_push_field(ps, r) < 0)
                    return -1;
                break;
            }
            if (lync_eol(ps)) {
                if (lync_push_field(ps, r) < 0)
                    return -1;
                return 0;
            }
            if (c == '"')
                return lync_fail(ps, ps->line, "quote inside an unquoted field");
            if (c == '\0')
                return lync_fail(ps, ps->line, "NUL byte in the file");
            ps->p++;
            if (lync_putc(ps, c, field_line) < 0)
                return -1;
        }
    }
}

/* Reads the next non-blank record. 0 record, 1 end of input, -1 error. */
static int lync_next(struct lync_parser *ps, struct conf_lync_record *r)
{
    for (;;) {
        int rc = lync_record(ps, r);
        if (rc != 1)
            return rc;
        if (ps->p >= ps->end)
            return 1;
    }
}

static void lync_trim(const char *s, const char **start, size_t *len)
{
    size_t n = strlen(s);
    while (n > 0 && (*s == ' ' || *s == '\t')) {
        s++;
        n--;
    }
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    *start = s;
    *len = n;
}

static bool lync_name_eq(const char *a, const char *b)
{
    const char *sa, *sb;
    size_t la, lb;

    lync_trim(a, &sa, &la);
    lync_trim(b, &sb, &lb);
    return la == lb && strncasecmp(sa, sb, la) == 0;
}

static int lync_type_line(struct lync_parser *ps, struct conf_lync *out)
{
    static const char tag[] = "#TYPE";
    size_t taglen = sizeof(tag) - 1;

    if ((size_t)(ps->end - ps->p) < taglen || strncasecmp(ps->p, tag, taglen) != 0)
        return 0;
    const char *s = ps->p + taglen;
    const char *e = s;
    while (e < ps->end && *e != '\n')
        e++;
    ps->p = e < ps->end ? e + 1 : e;
    ps->line++;
    while (s < e && (*s == ' ' || *s == '\t'))
        s++;
    while (e > s && (e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
        e--;
    if (memchr(s, '\0', (size_t)(e - s)) != NULL)
        return lync_fail(ps, 1, "NUL byte in the file");
    out->type = strndup(s, (size_t)(e - s));
    if (out->type == NULL)
        return lync_fail(ps, 1, "out of memory");
    return 0;
}

static int lync_parse(struct lync_parser *ps, struct conf_lync *out)
{
    if (ps->end - ps->p >= 2 &&
        (((unsigned char)ps->p[0] == 0xff && (unsigned char)ps->p[1] == 0xfe) ||
         ((unsigned char)ps->p[0] == 0xfe && (unsigned char)ps->p[1] == 0xff)))
        return lync_fail(ps, 1, "the file is UTF-16; export it again with -Encoding UTF8");
    if (ps->end - ps->p >= 3 && memcmp(ps->p, "\xef\xbb\xbf", 3) == 0)
        ps->p += 3;
    if (lync_type_line(ps, out) < 0)
        return -1;

    int rc = lync_next(ps, &out->header);
    if (rc < 0)
        return -1;
    if (rc == 1)
        return lync_fail(ps, ps->line, "no header row");
    for (size_t i = 0; i < out->header.n; i++)
        for (size_t j = 0; j < i; j++)
            if (lync_name_eq(out->header.fields[i], out->header.fields[j]))
                return lync_fail(ps, out->header.line, "column \"%s\" appears twice",
                                 out->header.fields[i]);

    for (;;) {
        struct conf_lync_record r;
        rc = lync_next(ps, &r);
        if (rc < 0) {
            lync_record_clear(&r);
            return -1;
        }
        if (rc == 1)
            return 0;
        if (r.n != out->header.n) {
            size_t line = r.line, n = r.n;
            lync_record_clear(&r);
            return lync_fail(ps, line, "record has %zu fields, the header has %zu", n,
                             out->header.n);
        }
        if (out->n_rows >= ps->lim.max_records) {
            lync_record_clear(&r);
            return lync_fail(ps, r.line, "more than %zu records", ps->lim.max_records);
        }
        struct conf_lync_record *nv = realloc(out->rows, (out->n_rows + 1) * sizeof(*nv));
        if (nv == NULL) {
            lync_record_clear(&r);
            return lync_fail(ps, r.line, "out of memory");
        }
        out->rows = nv;
        out->rows[out->n_rows++] = r;
    }
}

int conf_lync_parse(const char *data, size_t len, const struct conf_lync_limits *limits,
                    struct conf_lync *out, struct conf_lync_error *err)
{
    struct lync_parser ps;

    memset(out, 0, sizeof(*out));
    memset(err, 0, sizeof(*err));
    memset(&ps, 0, sizeof(ps));
    ps.p = data;
    ps.end = data + len;
    ps.line = 1;
    ps.err = err;
    if (limits != NULL)
        ps.lim = *limits;
    if (ps.lim.max_field == 0)
        ps.lim.max_field = CONF_LYNC_MAX_FIELD;
    if (ps.lim.max_fields == 0)
        ps.lim.max_fields = CONF_LYNC_MAX_FIELDS;
    if (ps.lim.max_records == 0)
        ps.lim.max_records = CONF_LYNC_MAX_RECORDS;

    int rc = lync_parse(&ps, out);
    free(ps.field.s);
    if (rc < 0)
        conf_lync_clear(out);
    return rc;
}

void conf_lync_clear(struct conf_lync *out)
{
    if (out == NULL)
        return;
    free(out->type);
    lync_record_clear(&out->header);
    for (size_t i = 0; i < out->n_rows; i++)
        lync_record_clear(&out->rows[i]);
    free(out->rows);
    memset(out, 0, sizeof(*out));
}

ssize_t conf_lync_column(const struct conf_lync *csv, const char *name)
{
    for (size_t i = 0; i < csv->header.n; i++)
        if (lync_name_eq(csv->header.fields[i], name))
            return (ssize_t)i;
    return -1;
}

const char *conf_lync_field(const struct conf_lync *csv, size_t row, ssize_t col)
{
    if (col < 0 || row >= csv->n_rows || (size_t)col >= csv->rows[row].n)
        return "";
    return csv->rows[row].fields[col];
}
