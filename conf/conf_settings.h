/*
 * conf_settings.h - the table of global settings: name, type, default and
 * range (Postfix's and Redis's habit). conf_file.c reads and writes the
 * `settings` group through it; xfedctl settings get|set uses it; the
 * configuration reference in docs/configuration.md lists the same rows.
 */
#ifndef XFED_CONF_SETTINGS_H
#define XFED_CONF_SETTINGS_H

#include "conf_model.h"

enum conf_key_type { CK_UINT, CK_BOOL, CK_SECRET };

struct conf_key {
    const char *name;
    enum conf_key_type type;
    size_t offset; /* into struct conf_settings */
    unsigned def, min, max;
    const char *doc;
};

/* The whole table, terminated by an entry with name NULL. */
extern const struct conf_key conf_settings_keys[];

const struct conf_key *conf_settings_key(const char *name);
void conf_settings_defaults(struct conf_settings *);

/* Parses value for key and stores it. Returns 0, or -1 with a static reason
 * ("unknown setting", "must be between 10 and 3600", ...). */
int conf_settings_set(struct conf_settings *, const char *key, const char *value, const char **why);

/* Minimum and maximum length of a dialback secret. */
#define CONF_SECRET_MIN 16
#define CONF_SECRET_MAX 256

#endif
