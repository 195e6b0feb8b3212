/*
 * panel_edit.h - every configuration change the panel makes, shared by the
 * HTML pages and the JSON API.
 *
 * Each change is one store transaction (conf_store.h): begin (lock, load),
 * edit, conf_store_commit() (validates the whole configuration again and
 * writes atomically, or writes nothing), then one audit line. Partner
 * records are judged by conf_partner_validate(), the one validation
 * function; this file only turns text input into typed fields (enumeration
 * words, numbers, domain normal form) and says which field a parse problem
 * concerns. Calls block on the store's lock and disk.
 *
 * Return values: an enum conf_outcome (CONF_SAVED, CONF_SAVED_WARNING,
 * CONF_REJECTED: nothing written), or PANEL_EDIT_SYSTEM (I/O, memory) or
 * PANEL_EDIT_NOTFOUND; the report says why in every case but CONF_SAVED.
 */
#ifndef XFED_PANEL_EDIT_H
#define XFED_PANEL_EDIT_H

#include "conf_model.h"
#include "conf_report.h"
#include "panel_app.h"
#include "panel_form.h"

#define PANEL_EDIT_SYSTEM   (-1)
#define PANEL_EDIT_NOTFOUND (-2)

/* Partner fields as text (form fields or JSON values). NULL: not given,
 * keep the base value. additional: names separated by commas, spaces or
 * line breaks. The names match the report's field names. */
struct panel_partner_input {
    const char *domain;
    const char *description;
    const char *additional_domains;
    const char *type;
    const char *tls;
    const char *sasl;
    const char *dialback;
    const char *connection_limit;
    const char *keepalive;
    const char *proxy_fqdn;
};

/* The form's field names, in display order. */
extern const char *const panel_partner_fields[];

/* Fills in from a name/value list (the list must outlive in). */
void panel_partner_input_from(struct panel_partner_input *in, const struct pkv_list *l);

/* Writes the text form of partner p into l (one pair per field). */
int panel_partner_to_list(const struct conf_partner *p, struct pkv_list *l);

/* Builds *p from base (copied; NULL: the defaults) and the given fields.
 * Problems turning text into values are added to report as errors; returns
 * 0 when there were none, -1 otherwise (p is then still initialised and
 * must be cleared). */
int panel_partner_parse(const struct panel_partner_input *in, const struct conf_partner *base,
                        struct conf_partner *p, struct conf_report *report);

struct panel_who {
    const char *user;
    const char *client;
};

/* Creates a partner (original NULL) or updates the one whose primary
 * domain is original. The saved primary domain is copied to saved. */
int panel_edit_partner(struct panel_app *, const struct panel_who *, const char *original,
                       const struct panel_partner_input *in, struct conf_report *report,
                       char *saved, size_t savedlen);

/* Validates like panel_edit_partner() without saving or locking. */
int panel_check_partner(struct panel_app *, const char *original,
                        const struct panel_partner_input *in, struct conf_report *report);

int panel_edit_partner_delete(struct panel_app *, const struct panel_who *, const char *domain,
                              struct conf_report *report);

/* Sets global settings from name/value pairs (names of conf_settings.h;
 * the secret cannot be set this way). */
int panel_edit_settings(struct panel_app *, const struct panel_who *, const struct pkv_list *values,
                        struct conf_report *report);

/* Replaces the dialback secret with 256 fresh random bits. */
int panel_edit_secret(struct panel_app *, const struct panel_who *, struct conf_report *report);

int panel_edit_hosted(struct panel_app *, const struct panel_who *, const char *domain, bool add,
                      struct conf_report *report);

int panel_edit_access_default(struct panel_app *, const struct panel_who *, const char *access,
                              struct conf_report *report);

/* Sets (access != NULL) or removes the override of a hosted domain
 * (user false) or of a user "local@domain" (user true). */
int panel_edit_access_rule(struct panel_app *, const struct panel_who *, bool user,
                           const char *subject, const char *access, struct conf_report *report);

/* true when issue i of report concerns field (its field list holds it). */
bool panel_issue_has_field(const struct conf_issue *is, const char *field);

#endif
