/*
 * conf_lync.h - reader for the CSV that Lync Server 2013 writes with
 * `Get-CsXmppAllowedPartner | Export-Csv` (RFC 4180 rules).
 *
 * A pure parser: it takes the bytes the caller read and returns records of
 * strings; it does no I/O and knows nothing about partners (xfedctl's
 * `partner import --lync` maps the columns). Accepted input: an optional
 * UTF-8 byte order mark, an optional first line starting with "#TYPE"
 * (PowerShell's type annotation), a header row, then one record per row.
 * Fields are separated by commas and may be quoted; inside quotes "" is a
 * quote and commas and line breaks are data. Lines end with CRLF or LF.
 * Blank lines are skipped. Every record must have as many fields as the
 * header. Each record remembers the line it started on, for messages.
 *
 * Everything the input can make large is capped by conf_lync_limits; a
 * violation is an error with a line number, never a crash.
 */
#ifndef XFED_CONF_LYNC_H
#define XFED_CONF_LYNC_H

#include <stddef.h>
#include <sys/types.h>

/* Caps on what an input file may contain; zero members take the defaults. */
struct conf_lync_limits {
    size_t max_field;   /* bytes in one field, default CONF_LYNC_MAX_FIELD */
    size_t max_fields;  /* fields in one record, default CONF_LYNC_MAX_FIELDS */
    size_t max_records; /* records after the header, default CONF_LYNC_MAX_RECORDS */
};

#define CONF_LYNC_MAX_FIELD   65536
#define CONF_LYNC_MAX_FIELDS  256
#define CONF_LYNC_MAX_RECORDS 100000

struct conf_lync_record {
    size_t line;   /* 1-based line of the file where the record starts */
    size_t n;      /* number of fields */
    char **fields; /* NUL-terminated, owned by the record */
};

struct conf_lync {
    char *type;                     /* text after "#TYPE ", or NULL when absent */
    struct conf_lync_record header; /* column names */
    struct conf_lync_record *rows;  /* data records, in file order */
    size_t n_rows;
};

/* Why parsing failed. */
struct conf_lync_error {
    size_t line; /* 1-based line where the problem is */
    char message[192];
};

/* Parses len bytes of data (need not be NUL-terminated) into out, which the
 * caller then releases with conf_lync_clear(). limits may be NULL for the
 * defaults. Returns 0, or -1 with err filled and out left empty (also on
 * memory exhaustion, reported as such). */
int conf_lync_parse(const char *data, size_t len, const struct conf_lync_limits *limits,
                    struct conf_lync *out, struct conf_lync_error *err);

/* Frees everything out holds and leaves it empty. NULL-safe. */
void conf_lync_clear(struct conf_lync *out);

/* Index of the header column named name (ASCII case-insensitive, surrounding
 * spaces ignored), or -1 when there is none. */
ssize_t conf_lync_column(const struct conf_lync *csv, const char *name);

/* Field col of row, or "" when col is -1. The pointer stays valid until
 * conf_lync_clear(). */
const char *conf_lync_field(const struct conf_lync *csv, size_t row, ssize_t col);

#endif
