/*
 * conf_report.h - what validation found: errors and warnings, each with the
 * field it concerns and, for hand-edited files, file:line.
 *
 * Every check appends to a report instead of stopping at the first problem,
 * so an administrator sees all of them at once (OpenSMTPD's parse.y habit).
 */
#ifndef XFED_CONF_REPORT_H
#define XFED_CONF_REPORT_H

#include <stdbool.h>
#include <stddef.h>

enum conf_severity { CONF_WARNING = 0, CONF_ERROR };

struct conf_issue {
    enum conf_severity severity;
    char *field; /* the field(s) concerned, comma-separated: "tls,sasl",
                  * "additional_domains", "settings.keepalive_interval", or "" */
    char *file;  /* NULL unless the issue comes from a file */
    int line;    /* 0 when unknown */
    int row;     /* negotiation matrix row 1..18, or 0 */
    char *message;
};

struct conf_report {
    struct conf_issue *v;
    size_t n;
};

void conf_report_init(struct conf_report *);
void conf_report_clear(struct conf_report *);

/* Appends one issue; file may be NULL. Memory exhaustion is fatal: a report
 * that silently lost an error could let bad configuration through. */
void conf_report_add(struct conf_report *, enum conf_severity, const char *field, const char *file,
                     int line, int row, const char *fmt, ...) __attribute__((format(printf, 7, 8)));

bool conf_report_has_errors(const struct conf_report *);
size_t conf_report_count(const struct conf_report *, enum conf_severity);

/* Writes one line per issue: "file:line: error: message" or
 * "warning: message (matrix row N)". */
void conf_report_print(const struct conf_report *, void *stdio_file);

#endif
