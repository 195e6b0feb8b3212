/*
 * gw_store_open.c - the back end chosen by the store setting (see
 * gw_store_open.h).
 */
#include "gw_store_open.h"

#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "gw_store_pg.h"

/* Length of a leading "word:" (letters, digits, '+', '-', '.' after a
 * letter, as a URI scheme), 0 when spec has none. */
static size_t scheme_len(const char *spec)
{
    size_t n = 0;
    if (!isalpha((unsigned char)spec[0]))
        return 0;
    while (isalnum((unsigned char)spec[n]) || spec[n] == '+' || spec[n] == '-' || spec[n] == '.')
        n++;
    return spec[n] == ':' ? n : 0;
}

static bool is_scheme(const char *spec, size_t n, const char *name)
{
    return strlen(name) == n && strncasecmp(spec, name, n) == 0;
}

int gw_store_spec_parse(const char *spec, enum gw_store_kind *kind, const char **target,
                        const char **why)
{
    const char *dummy;
    if (why == NULL)
        why = &dummy;
    if (spec == NULL || spec[0] == '\0') {
        *why = "the store setting is empty";
        return -1;
    }
    size_t n = scheme_len(spec);
    if (n == 0) {
        *kind = GW_STORE_SQLITE;
        *target = spec;
        return 0;
    }
    if (is_scheme(spec, n, "sqlite")) {
        *kind = GW_STORE_SQLITE;
        *target = spec + n + 1;
        if (**target == '\0') {
            *why = "the store setting names no SQLite file";
            return -1;
        }
        return 0;
    }
    if (is_scheme(spec, n, "postgresql") || is_scheme(spec, n, "postgres")) {
        *kind = GW_STORE_POSTGRESQL;
        /* a URI goes to libpq whole; otherwise what follows the colon */
        *target = strncmp(spec + n + 1, "//", 2) == 0 ? spec : spec + n + 1;
        return gw_store_pg_conninfo_check(*target, why);
    }
    *why = "the store setting has an unknown type (use sqlite:PATH or postgresql:CONNINFO)";
    return -1;
}

void gw_store_spec_describe(const char *spec, char *buf, size_t len)
{
    const char *target;
    enum gw_store_kind kind;
    if (len == 0)
        return;
    if (gw_store_spec_parse(spec, &kind, &target, NULL) != 0) {
        snprintf(buf, len, "(invalid)");
        return;
    }
    if (kind == GW_STORE_SQLITE) {
        snprintf(buf, len, "sqlite %s", target);
        return;
    }
    char d[512];
    gw_store_pg_describe(target, d, sizeof d);
    snprintf(buf, len, "postgresql %s", d);
}

struct gw_store *gw_store_open(const char *spec, const char **why)
{
    const char *dummy, *target;
    enum gw_store_kind kind;
    if (why == NULL)
        why = &dummy;
    if (gw_store_spec_parse(spec, &kind, &target, why) != 0)
        return NULL;
    if (kind == GW_STORE_POSTGRESQL)
        return gw_store_open_pg(target, why);
    return gw_store_open_sqlite(target, why);
}

int gw_store_schema_version(struct gw_store *s)
{
    if (strcmp(s->ops->name, "postgresql") == 0)
        return gw_store_pg_version(s);
    return gw_store_sqlite_version(s);
}
