/*
 * conf_json.h - JSON views of the configuration for `xfedctl ... --json`
 * and the panel's /api/. One serialiser, so both show the same thing.
 * Secrets are never written: the dialback secret appears as
 * "dialback_secret_set": true|false.
 */
#ifndef XFED_CONF_JSON_H
#define XFED_CONF_JSON_H

#include "conf_model.h"
#include "conf_report.h"

/* A growable string buffer; NULL-safe free. */
struct jbuf {
    char *s;
    size_t len, cap;
    int failed; /* memory exhaustion seen */
};

void jbuf_init(struct jbuf *);
void jbuf_free(struct jbuf *);
void jbuf_raw(struct jbuf *, const char *s);
/* Appends s as a JSON string literal with all escaping (RFC 8259 section 7). */
void jbuf_str(struct jbuf *, const char *s);

void conf_json_partner(struct jbuf *, const struct conf *, const struct conf_partner *);
void conf_json_partners(struct jbuf *, const struct conf *, const struct conf_partner *const *v,
                        size_t n);
void conf_json_settings(struct jbuf *, const struct conf *);
void conf_json_access(struct jbuf *, const struct conf *);
void conf_json_report(struct jbuf *, const struct conf_report *);

#endif
