/*
 * conf_report.c - collecting validation issues.
 */
#include "conf_report.h"
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void conf_report_init(struct conf_report *r)
{
    r->v = NULL;
    r->n = 0;
}

void conf_report_clear(struct conf_report *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free(r->v[i].field);
        free(r->v[i].file);
        free(r->v[i].message);
    }
    free(r->v);
    conf_report_init(r);
}

void conf_report_add(struct conf_report *r, enum conf_severity sev, const char *field,
                     const char *file, int line, int row, const char *fmt, ...)
{
    struct conf_issue *v = realloc(r->v, (r->n + 1) * sizeof(*v));
    if (v == NULL)
        fatal("conf_report_add");
    r->v = v;
    struct conf_issue *is = &r->v[r->n];
    va_list ap;
    va_start(ap, fmt);
    int rc = vasprintf(&is->message, fmt, ap);
    va_end(ap);
    is->field = strdup(field ? field : "");
    is->file = file ? strdup(file) : NULL;
    if (rc < 0 || is->field == NULL || (file && is->file == NULL))
        fatal("conf_report_add");
    is->severity = sev;
    is->line = line;
    is->row = row;
    r->n++;
}

bool conf_report_has_errors(const struct conf_report *r)
{
    return conf_report_count(r, CONF_ERROR) > 0;
}

size_t conf_report_count(const struct conf_report *r, enum conf_severity sev)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n; i++)
        if (r->v[i].severity == sev)
            n++;
    return n;
}

void conf_report_print(const struct conf_report *r, void *stdio_file)
{
    FILE *f = stdio_file;
    for (size_t i = 0; i < r->n; i++) {
        const struct conf_issue *is = &r->v[i];
        if (is->file && is->line > 0)
            fprintf(f, "%s:%d: ", is->file, is->line);
        else if (is->file)
            fprintf(f, "%s: ", is->file);
        fprintf(f, "%s: %s", is->severity == CONF_ERROR ? "error" : "warning", is->message);
        if (is->row > 0)
            fprintf(f, " (matrix row %d)", is->row);
        fputc('\n', f);
    }
}
