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

#endif
