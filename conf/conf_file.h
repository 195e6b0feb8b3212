/*
 * conf_file.h - reading and writing xfed.conf (libconfig syntax).
 *
 * The only file that touches libconfig. Reading is strict: an unknown key, a
 * wrong type, an out-of-range value or a bad enumeration word is an error
 * reported with file:line, and every error is collected before failing once.
 * Reading does not apply the cross-record rules; call conf_validate() for
 * those (conf_store does both).
 */
#ifndef XFED_CONF_FILE_H
#define XFED_CONF_FILE_H

#include "conf_model.h"
#include "conf_report.h"

/* Parses path into a new conf. Returns it, or NULL with the errors in
 * report (also for a missing file or a syntax error). */
struct conf *conf_file_read(const char *path, struct conf_report *report);

/* Parses a configuration held in memory; name is used in messages. */
struct conf *conf_file_parse(const char *text, const char *name, struct conf_report *report);

/* Serialises conf in the canonical layout, comments included. Returns a
 * malloc'd NUL-terminated string or NULL (memory). Reading the result back
 * gives an equal configuration. */
char *conf_file_format(const struct conf *conf);

/*
 * Host-local configuration files (edge.conf, gateway.conf, ...): a flat
 * libconfig file of `name = value;` lines described by a table that the
 * owning program defines (address to listen on, certificate paths, caps).
 * Same strictness as xfed.conf: unknown keys, wrong types and out-of-range
 * values are errors with file:line; all are collected before failing.
 * A missing file means "all defaults" and is not an error.
 */
enum conf_lkey_type {
    LK_UINT,   /* unsigned at offset; range min..max */
    LK_BOOL,   /* bool at offset */
    LK_STRING, /* char * at offset, owned by the struct; NULL when sdef is NULL */
};

struct conf_lkey {
    const char *name;
    enum conf_lkey_type type;
    size_t offset;
    unsigned def, min, max; /* LK_UINT */
    const char *sdef;       /* LK_STRING default, may be NULL */
    const char *doc;
};

/* table is terminated by an entry whose name is NULL. out points at the
 * program's struct. conf_local_read fills defaults first, then the file.
 * Returns 0, or -1 with every problem in report (out then holds defaults
 * for the bad keys and must still be released with conf_local_free). */
void conf_local_defaults(const struct conf_lkey *table, void *out);
int conf_local_read(const char *path, const struct conf_lkey *table, void *out,
                    struct conf_report *report);
void conf_local_free(const struct conf_lkey *table, void *out);

/* dir/name, malloc'd (NULL: out of memory). */
char *conf_path_join(const char *dir, const char *name);

/* Splits a list value of a host-local file in place at commas and white
 * space into at most max tokens pointing into buf; returns the count, or -1
 * when there are more than max. */
int conf_local_split(char *buf, char **tok, int max);

#endif
