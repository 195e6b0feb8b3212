/*
 * panel_edit.c - configuration changes: text to typed fields, store
 * transactions, audit lines.
 */
#include "panel_edit.h"

#include "conf_domain.h"
#include "conf_json.h"
#include "conf_settings.h"
#include "conf_store.h"
#include "conf_validate.h"
#include "log.h"
#include "panel_secret.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

const char *const panel_partner_fields[] = {
    "domain",   "description",      "additional_domains", "type",       "tls", "sasl",
    "dialback", "connection_limit", "keepalive",          "proxy_fqdn", NULL,
};

void panel_partner_input_from(struct panel_partner_input *in, const struct pkv_list *l)
{
    in->domain = pkv_get(l, "domain");
    in->description = pkv_get(l, "description");
    in->additional_domains = pkv_get(l, "additional_domains");
    in->type = pkv_get(l, "type");
    in->tls = pkv_get(l, "tls");
    in->sasl = pkv_get(l, "sasl");
    in->dialback = pkv_get(l, "dialback");
    in->connection_limit = pkv_get(l, "connection_limit");
    in->keepalive = pkv_get(l, "keepalive");
    in->proxy_fqdn = pkv_get(l, "proxy_fqdn");
}

int panel_partner_to_list(const struct conf_partner *p, struct pkv_list *l)
{
    char num[32], hp[CONF_DOMAIN_BUFSZ + 16];
    size_t total = 1;
    for (size_t i = 0; i < p->additional.n; i++)
        total += strlen(p->additional.v[i]) + 1;
    char *add = calloc(1, total);
    if (add == NULL)
        return -1;
    for (size_t i = 0; i < p->additional.n; i++) {
        strcat(add, p->additional.v[i]);
        if (i + 1 < p->additional.n)
            strcat(add, "\n");
    }
    snprintf(num, sizeof(num), "%u", p->connection_limit);
    hp[0] = '\0';
    if (p->proxy_host != NULL) {
        bool v6 = strchr(p->proxy_host, ':') != NULL;
        if (p->proxy_port != 0)
            snprintf(hp, sizeof(hp), v6 ? "[%s]:%u" : "%s:%u", p->proxy_host,
                     (unsigned)p->proxy_port);
        else
            snprintf(hp, sizeof(hp), v6 ? "[%s]" : "%s", p->proxy_host);
    }
    int rc = 0;
    rc |= pkv_add(l, "domain", p->domain != NULL ? p->domain : "");
    rc |= pkv_add(l, "description", p->description != NULL ? p->description : "");
    rc |= pkv_add(l, "additional_domains", add);
    rc |= pkv_add(l, "type", conf_partner_type_name(p->type));
    rc |= pkv_add(l, "tls", conf_negotiation_name(p->tls));
    rc |= pkv_add(l, "sasl", conf_negotiation_name(p->sasl));
    rc |= pkv_add(l, "dialback", p->dialback ? "true" : "false");
    rc |= pkv_add(l, "connection_limit", p->connection_limit ? num : "");
    rc |= pkv_add(l, "keepalive", p->keepalive ? "true" : "false");
    rc |= pkv_add(l, "proxy_fqdn", hp);
    free(add);
    return rc != 0 ? -1 : 0;
}

/* The normal form when conf_domain_normalize() accepts the name, else the
 * text as typed, so that validation reports the problem in its own words
 * (the same habit as xfedctl). */
static char *domain_or_raw(const char *in)
{
    char norm[CONF_DOMAIN_BUFSZ];
    const char *why;
    if (conf_domain_normalize(in, norm, sizeof(norm), &why) == 0)
        return strdup(norm);
    return strdup(in);
}

static char *trimmed(const char *s)
{
    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        n--;
    return strndup(s, n);
}

static int parse_additional(const char *text, struct conf_strlist *out, struct conf_report *rep)
{
    char *copy = strdup(text);
    if (copy == NULL)
        return -1;
    conf_strlist_clear(out);
    char *save = NULL;
    for (char *t = strtok_r(copy, ", \t\r\n", &save); t != NULL;
         t = strtok_r(NULL, ", \t\r\n", &save)) {
        char *d = domain_or_raw(t);
        if (d == NULL || conf_strlist_add(out, d) < 0) {
            free(d);
            free(copy);
            conf_report_add(rep, CONF_ERROR, "", NULL, 0, 0, "out of memory");
            return -1;
        }
        free(d);
    }
    free(copy);
    return 0;
}

int panel_partner_parse(const struct panel_partner_input *in, const struct conf_partner *base,
                        struct conf_partner *p, struct conf_report *rep)
{
    size_t before = conf_report_count(rep, CONF_ERROR);
    bool oom = false;

    memset(p, 0, sizeof(*p));
    if (base != NULL ? conf_partner_copy(p, base) < 0 : conf_partner_init(p, "") < 0) {
        conf_report_add(rep, CONF_ERROR, "", NULL, 0, 0, "out of memory");
        return -1;
    }
    if (in->domain != NULL) {
        char *t = trimmed(in->domain);
        char *d = t != NULL ? domain_or_raw(t) : NULL;
        free(t);
        if (d == NULL) {
            oom = true;
        } else {
            free(p->domain);
            p->domain = d;
        }
    }
    if (in->description != NULL) {
        char *d = trimmed(in->description);
        if (d == NULL) {
            oom = true;
        } else {
            free(p->description);
            p->description = d;
        }
    }
    if (in->additional_domains != NULL &&
        parse_additional(in->additional_domains, &p->additional, rep) < 0)
        oom = true;
    if (in->type != NULL && conf_partner_type_parse(in->type, &p->type) < 0)
        conf_report_add(rep, CONF_ERROR, "type", NULL, 0, 0,
                        "partner type must be Federated, PublicVerified or PublicUnverified");
    if (in->tls != NULL && conf_negotiation_parse(in->tls, &p->tls) < 0)
        conf_report_add(rep, CONF_ERROR, "tls", NULL, 0, 0,
                        "TLS negotiation must be Required, Optional or NotSupported");
    if (in->sasl != NULL && conf_negotiation_parse(in->sasl, &p->sasl) < 0)
        conf_report_add(rep, CONF_ERROR, "sasl", NULL, 0, 0,
                        "SASL negotiation must be Required, Optional or NotSupported");
    if (in->dialback != NULL && conf_bool_parse(in->dialback, &p->dialback) < 0)
        conf_report_add(rep, CONF_ERROR, "dialback", NULL, 0, 0, "dialback must be true or false");
    if (in->keepalive != NULL && conf_bool_parse(in->keepalive, &p->keepalive) < 0)
        conf_report_add(rep, CONF_ERROR, "keepalive", NULL, 0, 0,
                        "keep-alive must be true or false");
    if (in->connection_limit != NULL) {
        char *t = trimmed(in->connection_limit);
        if (t == NULL) {
            oom = true;
        } else if (t[0] == '\0') {
            p->connection_limit = 0;
        } else {
            char *end;
            errno = 0;
            unsigned long v = strtoul(t, &end, 10);
            if (t[0] < '0' || t[0] > '9' || *end != '\0' || errno != 0 || v > 0xffffffffUL)
                conf_report_add(
                    rep, CONF_ERROR, "connection_limit", NULL, 0, 0,
                    "connection limit must be a whole number (empty or 0: the global limit)");
            else
                p->connection_limit = (unsigned)v;
        }
        free(t);
    }
    if (in->proxy_fqdn != NULL) {
        char *t = trimmed(in->proxy_fqdn);
        free(p->proxy_host);
        p->proxy_host = NULL;
        p->proxy_port = 0;
        if (t == NULL) {
            oom = true;
        } else if (t[0] != '\0') {
            char host[CONF_DOMAIN_BUFSZ];
            unsigned port = 0;
            const char *why = NULL;
            if (conf_hostport_parse(t, host, sizeof(host), &port, &why) < 0) {
                conf_report_add(rep, CONF_ERROR, "proxy_fqdn", NULL, 0, 0, "static route '%s': %s",
                                t, why != NULL ? why : "invalid");
            } else {
                p->proxy_host = strdup(host);
                p->proxy_port = (uint16_t)port;
                if (p->proxy_host == NULL)
                    oom = true;
            }
        }
        free(t);
    }
    if (oom)
        conf_report_add(rep, CONF_ERROR, "", NULL, 0, 0, "out of memory");
    return conf_report_count(rep, CONF_ERROR) > before ? -1 : 0;
}

bool panel_issue_has_field(const struct conf_issue *is, const char *field)
{
    size_t fl = strlen(field);
    for (const char *f = is->field != NULL ? is->field : ""; *f != '\0';) {
        const char *comma = strchr(f, ',');
        size_t len = comma != NULL ? (size_t)(comma - f) : strlen(f);
        if (len == fl && strncmp(f, field, fl) == 0)
            return true;
        if (comma == NULL)
            break;
        f = comma + 1;
    }
    return false;
}

/* Audit helpers ------------------------------------------------------- */

static char *json_partner(const struct conf *c, const struct conf_partner *p)
{
    struct jbuf b;
    if (p == NULL)
        return NULL;
    jbuf_init(&b);
    conf_json_partner(&b, c, p);
    if (b.failed) {
        jbuf_free(&b);
        return NULL;
    }
    return b.s;
}

static char *json_settings(const struct conf *c)
{
    struct jbuf b;
    jbuf_init(&b);
    conf_json_settings(&b, c);
    if (b.failed) {
        jbuf_free(&b);
        return NULL;
    }
    return b.s;
}

static char *json_access(const struct conf *c)
{
    struct jbuf b;
    jbuf_init(&b);
    conf_json_access(&b, c);
    if (b.failed) {
        jbuf_free(&b);
        return NULL;
    }
    return b.s;
}

static void audit(struct panel_app *app, const struct panel_who *who, const char *action,
                  const char *object, const char *before, const char *after)
{
    if (app->audit == NULL || panel_audit_write(app->audit, time(NULL), who->user, who->client,
                                                action, object, before, after) < 0)
        log_warnx("audit: line not written user=%s action=%s object=%s", who->user, action, object);
    log_info("change: user=%s client=%s action=%s object=%s", who->user, who->client, action,
             object);
}

/* Transactions ---------------------------------------------------------- */

static int begin(struct panel_app *app, struct conf **c, struct conf_report *rep)
{
    if (conf_store_begin(app->store, c, rep) < 0) {
        log_warnx("store: cannot begin a change");
        return PANEL_EDIT_SYSTEM;
    }
    return 0;
}

static void abort_change(struct panel_app *app, struct conf *c)
{
    conf_store_abort(app->store);
    conf_free(c);
}

/* Commits; copies the commit's errors into rep, and its warnings whose
 * field starts with warn_prefix (NULL: none, the caller reported its own). */
static int commit(struct panel_app *app, struct conf *c, struct conf_report *rep,
                  const char *warn_prefix)
{
    struct conf_report own;
    conf_report_init(&own);
    int rc = conf_store_commit(app->store, c, &own);
    for (size_t i = 0; i < own.n; i++) {
        const struct conf_issue *is = &own.v[i];
        if (is->severity == CONF_ERROR ||
            (warn_prefix != NULL && strncmp(is->field, warn_prefix, strlen(warn_prefix)) == 0))
            conf_report_add(rep, is->severity, is->field, NULL, 0, is->row, "%s", is->message);
    }
    conf_report_clear(&own);
    if (rc < 0)
        return PANEL_EDIT_SYSTEM;
    if (rc == CONF_REJECTED)
        return CONF_REJECTED;
    return conf_report_count(rep, CONF_WARNING) > 0 ? CONF_SAVED_WARNING : CONF_SAVED;
}

static int partner_judge(struct conf *c, const char *original, const struct panel_partner_input *in,
                         struct conf_partner *p, ssize_t *idx, struct conf_report *rep)
{
    const struct conf_partner *base = NULL;
    *idx = -1;
    if (original != NULL) {
        *idx = conf_partner_index(c, original);
        if (*idx < 0) {
            conf_report_add(rep, CONF_ERROR, "", NULL, 0, 0, "partner '%s' does not exist",
                            original);
            memset(p, 0, sizeof(*p));
            return PANEL_EDIT_NOTFOUND;
        }
        base = &c->partners[*idx];
    }
    if (panel_partner_parse(in, base, p, rep) < 0) {
        /* the matrix and rules are still worth showing next to parse errors */
        conf_partner_validate(c, p, original, rep);
        return CONF_REJECTED;
    }
    return (int)conf_partner_validate(c, p, original, rep);
}

int panel_check_partner(struct panel_app *app, const char *original,
                        const struct panel_partner_input *in, struct conf_report *rep)
{
    struct conf_partner p;
    ssize_t idx;
    struct conf *c = conf_store_load(app->store, rep);
    if (c == NULL)
        return PANEL_EDIT_SYSTEM;
    int rc = partner_judge(c, original, in, &p, &idx, rep);
    conf_partner_clear(&p);
    conf_free(c);
    return rc;
}

int panel_edit_partner(struct panel_app *app, const struct panel_who *who, const char *original,
                       const struct panel_partner_input *in, struct conf_report *rep, char *saved,
                       size_t savedlen)
{
    struct conf *c;
    struct conf_partner p;
    ssize_t idx;
    int rc = begin(app, &c, rep);
    if (rc < 0)
        return rc;
    rc = partner_judge(c, original, in, &p, &idx, rep);
    if (rc == CONF_REJECTED || rc < 0) {
        conf_partner_clear(&p);
        abort_change(app, c);
        return rc;
    }
    char *before = idx >= 0 ? json_partner(c, &c->partners[idx]) : NULL;
    int add = idx >= 0 ? conf_partner_replace(c, (size_t)idx, &p) : conf_partner_add(c, &p);
    if (add < 0) {
        free(before);
        conf_partner_clear(&p);
        abort_change(app, c);
        conf_report_add(rep, CONF_ERROR, "", NULL, 0, 0, "out of memory");
        return PANEL_EDIT_SYSTEM;
    }
    int outcome = rc;
    rc = commit(app, c, rep, NULL);
    if (rc == CONF_SAVED || rc == CONF_SAVED_WARNING) {
        char *after = json_partner(c, &p);
        audit(app, who, original != NULL ? "partner.update" : "partner.create", p.domain, before,
              after);
        free(after);
        snprintf(saved, savedlen, "%s", p.domain);
        rc = outcome == CONF_SAVED_WARNING ? CONF_SAVED_WARNING : rc;
    }
    free(before);
    conf_partner_clear(&p);
    conf_free(c);
    return rc;
}

int panel_edit_partner_delete(struct panel_app *app, const struct panel_who *who,
                              const char *domain, struct conf_report *rep)
{
    struct conf *c;
    int rc = begin(app, &c, rep);
    if (rc < 0)
        return rc;
    ssize_t idx = conf_partner_index(c, domain);
    if (idx < 0) {
        conf_report_add(rep, CONF_ERROR, "", NULL, 0, 0, "partner '%s' does not exist", domain);
        abort_change(app, c);
        return PANEL_EDIT_NOTFOUND;
    }
    char *before = json_partner(c, &c->partners[idx]);
    conf_partner_remove(c, (size_t)idx);
    rc = commit(app, c, rep, NULL);
    if (rc == CONF_SAVED || rc == CONF_SAVED_WARNING)
        audit(app, who, "partner.delete", domain, before, NULL);
    free(before);
    conf_free(c);
    return rc;
}

int panel_edit_settings(struct panel_app *app, const struct panel_who *who,
                        const struct pkv_list *values, struct conf_report *rep)
{
    struct conf *c;
    int rc = begin(app, &c, rep);
    if (rc < 0)
        return rc;
    char *before = json_settings(c);
    for (size_t i = 0; i < values->n; i++) {
        const char *k = values->v[i].name, *why;
        char field[96];
        snprintf(field, sizeof(field), "settings.%s", k);
        const struct conf_key *key = conf_settings_key(k);
        if (key != NULL && key->type == CK_SECRET) {
            conf_report_add(rep, CONF_ERROR, field, NULL, 0, 0,
                            "the dialback secret is never entered: regenerate it instead");
            continue;
        }
        if (conf_settings_set(&c->settings, k, values->v[i].value, &why) < 0)
            conf_report_add(rep, CONF_ERROR, field, NULL, 0, 0, "%s: %s", k, why);
    }
    if (conf_report_has_errors(rep)) {
        free(before);
        abort_change(app, c);
        return CONF_REJECTED;
    }
    rc = commit(app, c, rep, "settings.");
    if (rc == CONF_SAVED || rc == CONF_SAVED_WARNING) {
        char *after = json_settings(c);
        audit(app, who, "settings.update", "settings", before, after);
        free(after);
    }
    free(before);
    conf_free(c);
    return rc;
}

int panel_edit_secret(struct panel_app *app, const struct panel_who *who, struct conf_report *rep)
{
    struct conf *c;
    char secret[65];
    const char *why;
    int rc = begin(app, &c, rep);
    if (rc < 0)
        return rc;
    char *before = json_settings(c);
    const struct conf_key *key = NULL;
    for (const struct conf_key *k = conf_settings_keys; k->name != NULL; k++) {
        if (k->type == CK_SECRET)
            key = k;
    }
    if (key == NULL || panel_random_hex(secret, 32) < 0 ||
        conf_settings_set(&c->settings, key->name, secret, &why) < 0) {
        explicit_bzero(secret, sizeof(secret));
        conf_report_add(rep, CONF_ERROR, "", NULL, 0, 0, "cannot create a new dialback secret");
        free(before);
        abort_change(app, c);
        return PANEL_EDIT_SYSTEM;
    }
    explicit_bzero(secret, sizeof(secret));
    rc = commit(app, c, rep, "settings.");
    if (rc == CONF_SAVED || rc == CONF_SAVED_WARNING) {
        /* the views say only whether a secret is set: the secret never
         * reaches the audit log */
        char *after = json_settings(c);
        audit(app, who, "settings.dialback_secret.regenerate", "dialback_secret", before, after);
        free(after);
    }
    free(before);
    conf_free(c);
    return rc;
}

static char *hosted_json(const struct conf *c)
{
    struct jbuf b;
    jbuf_init(&b);
    jbuf_raw(&b, "[");
    for (size_t i = 0; i < c->hosted.n; i++) {
        if (i)
            jbuf_raw(&b, ",");
        jbuf_str(&b, c->hosted.v[i]);
    }
    jbuf_raw(&b, "]");
    if (b.failed) {
        jbuf_free(&b);
        return NULL;
    }
    return b.s;
}

int panel_edit_hosted(struct panel_app *app, const struct panel_who *who, const char *domain,
                      bool add, struct conf_report *rep)
{
    struct conf *c;
    int rc = begin(app, &c, rep);
    if (rc < 0)
        return rc;
    char *t = trimmed(domain);
    char *d = t != NULL ? domain_or_raw(t) : NULL;
    free(t);
    if (d == NULL) {
        abort_change(app, c);
        conf_report_add(rep, CONF_ERROR, "", NULL, 0, 0, "out of memory");
        return PANEL_EDIT_SYSTEM;
    }
    char *before = hosted_json(c);
    if (add) {
        if (conf_strlist_has(&c->hosted, d)) {
            conf_report_add(rep, CONF_ERROR, "hosted_domains", NULL, 0, 0,
                            "hosted domain '%s' is listed already", d);
        } else if (conf_strlist_add(&c->hosted, d) < 0) {
            conf_report_add(rep, CONF_ERROR, "", NULL, 0, 0, "out of memory");
        }
    } else if (!conf_strlist_remove(&c->hosted, d)) {
        conf_report_add(rep, CONF_ERROR, "hosted_domains", NULL, 0, 0,
                        "'%s' is not a hosted domain", d);
        free(before);
        free(d);
        abort_change(app, c);
        return PANEL_EDIT_NOTFOUND;
    }
    if (conf_report_has_errors(rep)) {
        free(before);
        free(d);
        abort_change(app, c);
        return CONF_REJECTED;
    }
    /* the store's full validation decides: a hosted domain that is also a
     * partner, or one still named by access rules, is rejected there */
    rc = commit(app, c, rep, "hosted_domains");
    if (rc == CONF_SAVED || rc == CONF_SAVED_WARNING) {
        char *after = hosted_json(c);
        audit(app, who, add ? "hosted.add" : "hosted.remove", d, before, after);
        free(after);
    }
    free(before);
    free(d);
    conf_free(c);
    return rc;
}

int panel_edit_access_default(struct panel_app *app, const struct panel_who *who,
                              const char *access, struct conf_report *rep)
{
    struct conf *c;
    enum conf_access a;
    if (access == NULL || conf_access_parse(access, &a) < 0) {
        conf_report_add(rep, CONF_ERROR, "access.default", NULL, 0, 0,
                        "access must be allow or deny");
        return CONF_REJECTED;
    }
    int rc = begin(app, &c, rep);
    if (rc < 0)
        return rc;
    char *before = json_access(c);
    c->access.default_access = a;
    rc = commit(app, c, rep, "access.");
    if (rc == CONF_SAVED || rc == CONF_SAVED_WARNING) {
        char *after = json_access(c);
        audit(app, who, "access.default", "access", before, after);
        free(after);
    }
    free(before);
    conf_free(c);
    return rc;
}

int panel_edit_access_rule(struct panel_app *app, const struct panel_who *who, bool user,
                           const char *subject, const char *access, struct conf_report *rep)
{
    struct conf *c;
    enum conf_access a = ACCESS_ALLOW;
    const char *field = user ? "access.users" : "access.domains";
    if (access != NULL && conf_access_parse(access, &a) < 0) {
        conf_report_add(rep, CONF_ERROR, field, NULL, 0, 0, "access must be allow or deny");
        return CONF_REJECTED;
    }
    /* a user's domain part and a domain rule are domain names: normalise
     * them the same way as everywhere else; the local part stays as typed */
    char *t = trimmed(subject != NULL ? subject : "");
    char *s = NULL;
    if (t != NULL && user) {
        char *at = strrchr(t, '@');
        if (at != NULL) {
            *at = '\0';
            char *d = domain_or_raw(at + 1);
            if (d != NULL && asprintf(&s, "%s@%s", t, d) < 0)
                s = NULL;
            free(d);
        } else {
            s = strdup(t);
        }
    } else if (t != NULL) {
        s = domain_or_raw(t);
    }
    free(t);
    if (s == NULL) {
        conf_report_add(rep, CONF_ERROR, "", NULL, 0, 0, "out of memory");
        return PANEL_EDIT_SYSTEM;
    }
    int rc = begin(app, &c, rep);
    if (rc < 0) {
        free(s);
        return rc;
    }
    struct conf_access_rule **vp = user ? &c->access.users : &c->access.domains;
    size_t *np = user ? &c->access.n_users : &c->access.n_domains;
    ssize_t found = -1;
    for (size_t i = 0; i < *np; i++) {
        if (strcasecmp((*vp)[i].subject, s) == 0)
            found = (ssize_t)i;
    }
    char *before = json_access(c);
    if (access == NULL) {
        if (found < 0) {
            conf_report_add(rep, CONF_ERROR, field, NULL, 0, 0, "no access rule for '%s'", s);
            free(before);
            free(s);
            abort_change(app, c);
            return PANEL_EDIT_NOTFOUND;
        }
        free((*vp)[found].subject);
        memmove(&(*vp)[found], &(*vp)[found + 1], (*np - (size_t)found - 1) * sizeof(**vp));
        (*np)--;
    } else if (found >= 0) {
        (*vp)[found].access = a;
    } else {
        struct conf_access_rule *nv = realloc(*vp, (*np + 1) * sizeof(**vp));
        char *dup = strdup(s);
        if (nv == NULL || dup == NULL) {
            if (nv != NULL)
                *vp = nv;
            free(dup);
            free(before);
            free(s);
            abort_change(app, c);
            conf_report_add(rep, CONF_ERROR, "", NULL, 0, 0, "out of memory");
            return PANEL_EDIT_SYSTEM;
        }
        *vp = nv;
        nv[*np].subject = dup;
        nv[*np].access = a;
        (*np)++;
    }
    rc = commit(app, c, rep, "access.");
    if (rc == CONF_SAVED || rc == CONF_SAVED_WARNING) {
        char *after = json_access(c);
        audit(app, who, access == NULL ? "access.rule.remove" : "access.rule.set", s, before,
              after);
        free(after);
    }
    free(before);
    free(s);
    conf_free(c);
    return rc;
}
