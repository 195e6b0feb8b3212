/*
 * conf_file.c - the only file that touches libconfig.
 *
 * Reading is strict and exhaustive: each problem becomes an error with
 * file:line, reading continues to find the rest, and the caller gets NULL
 * if there was any. Writing produces one canonical layout by hand (not
 * config_write) so that the file keeps its comments and stays diff-friendly.
 */
#include "conf_file.h"
#include "conf_domain.h"
#include "conf_settings.h"

#include "conf_atomic.h"

#include <errno.h>
#include <stdarg.h>
#include <libconfig.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct reader {
    const char *file;
    struct conf_report *report;
};

static int line_of(const config_setting_t *s)
{
    return s ? (int)config_setting_source_line(s) : 0;
}

static void err(struct reader *r, const config_setting_t *s, const char *field, const char *fmt,
                ...) __attribute__((format(printf, 4, 5)));

static void err(struct reader *r, const config_setting_t *s, const char *field, const char *fmt,
                ...)
{
    char *msg;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    va_end(ap);
    conf_report_add(r->report, CONF_ERROR, field, r->file, line_of(s), 0, "%s",
                    msg ? msg : "out of memory");
    free(msg);
}

static bool get_uint(struct reader *r, const config_setting_t *s, const char *field, unsigned min,
                     unsigned max, unsigned *out)
{
    int t = config_setting_type(s);
    if (t != CONFIG_TYPE_INT && t != CONFIG_TYPE_INT64) {
        err(r, s, field, "%s must be a whole number", config_setting_name(s));
        return false;
    }
    long long v = config_setting_get_int64(s);
    if (v < (long long)min || v > (long long)max) {
        err(r, s, field, "%s must be between %u and %u (found %lld)", config_setting_name(s), min,
            max, v);
        return false;
    }
    *out = (unsigned)v;
    return true;
}

static bool get_bool(struct reader *r, const config_setting_t *s, const char *field, bool *out)
{
    if (config_setting_type(s) != CONFIG_TYPE_BOOL) {
        err(r, s, field, "%s must be true or false", config_setting_name(s));
        return false;
    }
    *out = config_setting_get_bool(s) != 0;
    return true;
}

static const char *get_string(struct reader *r, const config_setting_t *s, const char *field)
{
    if (config_setting_type(s) != CONFIG_TYPE_STRING) {
        err(r, s, field, "%s must be a string in double quotes",
            config_setting_name(s) ? config_setting_name(s) : "value");
        return NULL;
    }
    return config_setting_get_string(s);
}

static char *get_domain(struct reader *r, const config_setting_t *s, const char *field,
                        const char *what)
{
    const char *v = get_string(r, s, field);
    char norm[CONF_DOMAIN_BUFSZ];
    const char *why;
    if (v == NULL)
        return NULL;
    if (conf_domain_normalize(v, norm, sizeof(norm), &why) == -1) {
        err(r, s, field, "%s '%s' %s", what, v, why);
        return NULL;
    }
    char *d = strdup(norm);
    if (d == NULL)
        err(r, s, field, "out of memory");
    return d;
}

static bool is_group(struct reader *r, const config_setting_t *s, const char *what)
{
    if (config_setting_type(s) != CONFIG_TYPE_GROUP) {
        err(r, s, what, "%s must be a group { ... }", what);
        return false;
    }
    return true;
}

static bool is_list(struct reader *r, const config_setting_t *s, const char *what)
{
    int t = config_setting_type(s);
    if (t != CONFIG_TYPE_LIST && t != CONFIG_TYPE_ARRAY) {
        err(r, s, what, "%s must be a list ( ... ) or array [ ... ]", what);
        return false;
    }
    return true;
}

static void read_settings(struct reader *r, const config_setting_t *g, struct conf_settings *out)
{
    if (!is_group(r, g, "settings"))
        return;
    for (int i = 0; i < config_setting_length(g); i++) {
        const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
        const char *name = config_setting_name(s);
        const struct conf_key *k = conf_settings_key(name);
        char field[64];
        snprintf(field, sizeof(field), "settings.%s", name);
        if (k == NULL) {
            err(r, s, field, "unknown setting '%s'", name);
            continue;
        }
        char *base = (char *)out + k->offset;
        if (k->type == CK_UINT) {
            get_uint(r, s, field, k->min, k->max, (unsigned *)(void *)base);
        } else if (k->type == CK_BOOL) {
            get_bool(r, s, field, (bool *)(void *)base);
        } else {
            const char *v = get_string(r, s, field);
            const char *why;
            if (v && conf_settings_set(out, name, v, &why) == -1)
                err(r, s, field, "%s %s", name, why); /* never echo the secret */
        }
    }
}

static void read_strlist(struct reader *r, const config_setting_t *l, const char *field,
                         const char *what, struct conf_strlist *out)
{
    if (!is_list(r, l, field))
        return;
    for (int i = 0; i < config_setting_length(l); i++) {
        const config_setting_t *e = config_setting_get_elem(l, (unsigned)i);
        char *d = get_domain(r, e, field, what);
        if (d == NULL)
            continue;
        if (conf_strlist_add(out, d) == -1)
            err(r, e, field, "out of memory");
        free(d);
    }
}

static void read_rules(struct reader *r, const config_setting_t *l, const char *field,
                       const char *subject_key, struct conf_access_rule **out, size_t *n)
{
    if (!is_list(r, l, field))
        return;
    int len = config_setting_length(l);
    if (len == 0)
        return;
    *out = calloc((size_t)len, sizeof(**out));
    if (*out == NULL) {
        err(r, l, field, "out of memory");
        return;
    }
    for (int i = 0; i < len; i++) {
        const config_setting_t *g = config_setting_get_elem(l, (unsigned)i);
        char *subject = NULL;
        bool have_access = false;
        enum conf_access access = ACCESS_ALLOW;
        if (!is_group(r, g, field))
            continue;
        for (int j = 0; j < config_setting_length(g); j++) {
            const config_setting_t *s = config_setting_get_elem(g, (unsigned)j);
            const char *name = config_setting_name(s);
            if (strcmp(name, subject_key) == 0) {
                if (strcmp(subject_key, "domain") == 0) {
                    subject = get_domain(r, s, field, "access rule domain");
                } else {
                    const char *v = get_string(r, s, field);
                    const char *at = v ? strrchr(v, '@') : NULL;
                    char norm[CONF_DOMAIN_BUFSZ];
                    const char *why;
                    if (v == NULL)
                        continue;
                    if (at == NULL || at == v) {
                        err(r, s, field, "user '%s' must be written user@domain", v);
                        continue;
                    }
                    if (conf_domain_normalize(at + 1, norm, sizeof(norm), &why) == -1) {
                        err(r, s, field, "user '%s': domain %s", v, why);
                        continue;
                    }
                    if (asprintf(&subject, "%.*s@%s", (int)(at - v), v, norm) < 0)
                        subject = NULL;
                }
            } else if (strcmp(name, "access") == 0) {
                const char *v = get_string(r, s, field);
                if (v && conf_access_parse(v, &access) == -1)
                    err(r, s, field, "access must be \"allow\" or \"deny\" (found \"%s\")", v);
                else if (v)
                    have_access = true;
            } else {
                err(r, s, field, "unknown key '%s' in an access rule", name);
            }
        }
        if (subject == NULL || !have_access) {
            if (subject == NULL && config_setting_get_member(g, subject_key) == NULL)
                err(r, g, field, "access rule without '%s'", subject_key);
            if (!have_access && config_setting_get_member(g, "access") == NULL)
                err(r, g, field, "access rule without 'access'");
            free(subject);
            continue;
        }
        (*out)[*n].subject = subject;
        (*out)[*n].access = access;
        (*n)++;
    }
}

static void read_access(struct reader *r, const config_setting_t *g, struct conf *c)
{
    if (!is_group(r, g, "access"))
        return;
    for (int i = 0; i < config_setting_length(g); i++) {
        const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
        const char *name = config_setting_name(s);
        if (strcmp(name, "default") == 0) {
            const char *v = get_string(r, s, "access.default");
            if (v && conf_access_parse(v, &c->access.default_access) == -1)
                err(r, s, "access.default", "default must be \"allow\" or \"deny\" (found \"%s\")",
                    v);
        } else if (strcmp(name, "domains") == 0) {
            read_rules(r, s, "access.domains", "domain", &c->access.domains, &c->access.n_domains);
        } else if (strcmp(name, "users") == 0) {
            read_rules(r, s, "access.users", "user", &c->access.users, &c->access.n_users);
        } else {
            err(r, s, "access", "unknown key '%s' in access", name);
        }
    }
}

static void read_enum_neg(struct reader *r, const config_setting_t *s, const char *field,
                          enum conf_negotiation *out)
{
    const char *v = get_string(r, s, field);
    if (v && conf_negotiation_parse(v, out) == -1)
        err(r, s, field, "%s must be Required, Optional or NotSupported (found \"%s\")", field, v);
}

static void read_partner(struct reader *r, const config_setting_t *g, struct conf *c)
{
    struct conf_partner p;
    bool ok = true;

    if (!is_group(r, g, "partners"))
        return;
    if (conf_partner_init(&p, "") == -1) {
        err(r, g, "partners", "out of memory");
        return;
    }
    free(p.domain);
    p.domain = NULL;
    p.line = line_of(g);
    for (int i = 0; i < config_setting_length(g); i++) {
        const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
        const char *name = config_setting_name(s);
        size_t before = r->report->n;
        if (strcmp(name, "domain") == 0) {
            free(p.domain);
            p.domain = get_domain(r, s, "domain", "primary domain");
        } else if (strcmp(name, "description") == 0) {
            const char *v = get_string(r, s, "description");
            if (v) {
                free(p.description);
                p.description = strdup(v);
            }
        } else if (strcmp(name, "additional_domains") == 0) {
            read_strlist(r, s, "additional_domains", "additional domain", &p.additional);
        } else if (strcmp(name, "type") == 0) {
            const char *v = get_string(r, s, "type");
            if (v && conf_partner_type_parse(v, &p.type) == -1)
                err(r, s, "type",
                    "type must be Federated, PublicVerified or PublicUnverified (found \"%s\")", v);
        } else if (strcmp(name, "tls") == 0) {
            read_enum_neg(r, s, "tls", &p.tls);
        } else if (strcmp(name, "sasl") == 0) {
            read_enum_neg(r, s, "sasl", &p.sasl);
        } else if (strcmp(name, "dialback") == 0) {
            get_bool(r, s, "dialback", &p.dialback);
        } else if (strcmp(name, "keepalive") == 0) {
            get_bool(r, s, "keepalive", &p.keepalive);
        } else if (strcmp(name, "connection_limit") == 0) {
            get_uint(r, s, "connection_limit", 0, 100000, &p.connection_limit);
        } else if (strcmp(name, "proxy_fqdn") == 0) {
            const char *v = get_string(r, s, "proxy_fqdn");
            char host[CONF_DOMAIN_BUFSZ];
            unsigned port;
            const char *why;
            if (v && *v) {
                if (conf_hostport_parse(v, host, sizeof(host), &port, &why) == -1) {
                    err(r, s, "proxy_fqdn", "proxy_fqdn '%s' %s", v, why);
                } else {
                    free(p.proxy_host);
                    p.proxy_host = strdup(host);
                    p.proxy_port = (uint16_t)port;
                }
            }
        } else {
            err(r, s, "partners", "unknown key '%s' in a partner", name);
        }
        if (r->report->n != before)
            ok = false;
    }
    if (p.domain == NULL && config_setting_get_member(g, "domain") == NULL) {
        err(r, g, "domain", "partner without 'domain'");
        ok = false;
    }
    if (ok && conf_partner_add(c, &p) == -1)
        err(r, g, "partners", "out of memory");
    conf_partner_clear(&p);
}

static struct conf *read_config(config_t *cfg, const char *name, struct conf_report *report)
{
    struct reader r = {name, report};
    size_t first = report->n;
    struct conf *c = conf_new();
    const config_setting_t *root = config_root_setting(cfg);

    if (c == NULL) {
        conf_report_add(report, CONF_ERROR, "", name, 0, 0, "out of memory");
        return NULL;
    }
    for (int i = 0; i < config_setting_length(root); i++) {
        const config_setting_t *s = config_setting_get_elem(root, (unsigned)i);
        const char *key = config_setting_name(s);
        if (strcmp(key, "version") == 0) {
            int t = config_setting_type(s);
            long long v = config_setting_get_int64(s);
            if ((t != CONFIG_TYPE_INT && t != CONFIG_TYPE_INT64) || v < 0)
                err(&r, s, "version", "version must be a whole number >= 0");
            else
                c->version = (uint64_t)v;
        } else if (strcmp(key, "settings") == 0) {
            read_settings(&r, s, &c->settings);
        } else if (strcmp(key, "hosted_domains") == 0) {
            read_strlist(&r, s, "hosted_domains", "hosted domain", &c->hosted);
        } else if (strcmp(key, "access") == 0) {
            read_access(&r, s, c);
        } else if (strcmp(key, "partners") == 0) {
            if (is_list(&r, s, "partners"))
                for (int j = 0; j < config_setting_length(s); j++)
                    read_partner(&r, config_setting_get_elem(s, (unsigned)j), c);
        } else {
            err(&r, s, "", "unknown key '%s'", key);
        }
    }
    for (size_t i = first; i < report->n; i++) {
        if (report->v[i].severity == CONF_ERROR) {
            conf_free(c);
            return NULL;
        }
    }
    return c;
}

static void syntax_error(config_t *cfg, const char *name, struct conf_report *report)
{
    const char *f = config_error_file(cfg);
    if (f == NULL)
        f = name;
    if (config_error_type(cfg) == CONFIG_ERR_FILE_IO)
        conf_report_add(report, CONF_ERROR, "", name, 0, 0, "cannot read: %s", strerror(errno));
    else
        conf_report_add(report, CONF_ERROR, "", f, config_error_line(cfg), 0, "syntax error: %s",
                        config_error_text(cfg));
}

static void config_setup(config_t *cfg)
{
    config_init(cfg);
    config_set_options(cfg, 0); /* no automatic type conversion */
}

/* libconfig 1.5 always honours @include; the store is one file, replicated
 * as one, so an include is refused before libconfig sees the text. */
static bool has_include(const char *text, const char *name, struct conf_report *report)
{
    int line = 1;
    for (const char *p = text; *p; p++) {
        if (p == text || p[-1] == '\n') {
            const char *q = p;
            while (*q == ' ' || *q == '\t')
                q++;
            if (strncmp(q, "@include", 8) == 0) {
                conf_report_add(report, CONF_ERROR, "", name, line, 0,
                                "@include is not allowed in this file");
                return true;
            }
        }
        if (*p == '\n')
            line++;
    }
    return false;
}

/* The configuration of a large deployment is well under this. */
#define CONF_FILE_MAX (64u << 20)

struct conf *conf_file_read(const char *path, struct conf_report *report)
{
    size_t len;
    char *text = conf_read_file(path, CONF_FILE_MAX, &len);
    if (text == NULL) {
        conf_report_add(report, CONF_ERROR, "", path, 0, 0, "cannot read: %s", strerror(errno));
        return NULL;
    }
    if (strlen(text) != len) {
        conf_report_add(report, CONF_ERROR, "", path, 0, 0, "contains a NUL byte");
        free(text);
        return NULL;
    }
    struct conf *c = conf_file_parse(text, path, report);
    free(text);
    return c;
}

struct conf *conf_file_parse(const char *text, const char *name, struct conf_report *report)
{
    config_t cfg;
    struct conf *c = NULL;

    if (has_include(text, name, report))
        return NULL;
    config_setup(&cfg);
    if (config_read_string(&cfg, text) == CONFIG_TRUE)
        c = read_config(&cfg, name, report);
    else
        syntax_error(&cfg, name, report);
    config_destroy(&cfg);
    return c;
}

/* Output ---------------------------------------------------------------- */

static void put_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(f, "\\x%02x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

static void put_strlist(FILE *f, const struct conf_strlist *l)
{
    fputc('[', f);
    for (size_t i = 0; i < l->n; i++) {
        fputs(i ? ", " : " ", f);
        put_str(f, l->v[i]);
    }
    fputs(l->n ? " ]" : "]", f);
}

static void put_rules(FILE *f, const char *name, const char *key, const struct conf_access_rule *v,
                      size_t n)
{
    fprintf(f, "  %s = (", name);
    for (size_t i = 0; i < n; i++) {
        fprintf(f, "%s\n    { %s = ", i ? "," : "", key);
        put_str(f, v[i].subject);
        fprintf(f, "; access = \"%s\"; }", conf_access_name(v[i].access));
    }
    fputs(n ? "\n  );\n" : ");\n", f);
}

char *conf_file_format(const struct conf *c)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (f == NULL)
        return NULL;

    fputs("# xfed configuration (docs/configuration.md). Written by xfedctl and the panel;\n"
          "# hand edits are allowed and checked by `xfedctl check`.\n",
          f);
    fprintf(f, "version = %lluL;\n\nsettings = {\n", (unsigned long long)c->version);
    for (const struct conf_key *k = conf_settings_keys; k->name; k++) {
        const char *base = (const char *)&c->settings + k->offset;
        if (k->type == CK_UINT) {
            fprintf(f, "  %s = %u;\n", k->name, *(const unsigned *)(const void *)base);
        } else if (k->type == CK_BOOL) {
            fprintf(f, "  %s = %s;\n", k->name,
                    *(const bool *)(const void *)base ? "true" : "false");
        } else {
            const char *sec = *(char *const *)(const void *)base;
            if (sec) {
                fprintf(f, "  %s = ", k->name);
                put_str(f, sec);
                fputs(";\n", f);
            }
        }
    }
    fputs("};\n\n# Internal domains served by this deployment.\nhosted_domains = ", f);
    put_strlist(f, &c->hosted);
    fprintf(f,
            ";\n\n# Which internal users may federate over XMPP.\naccess = {\n"
            "  default = \"%s\";\n",
            conf_access_name(c->access.default_access));
    put_rules(f, "domains", "domain", c->access.domains, c->access.n_domains);
    put_rules(f, "users", "user", c->access.users, c->access.n_users);
    fputs("};\n\n# XMPP federated partners.\npartners = (", f);
    for (size_t i = 0; i < c->n_partners; i++) {
        const struct conf_partner *p = &c->partners[i];
        fprintf(f, "%s\n  {\n    domain = ", i ? "," : "");
        put_str(f, p->domain);
        fputs(";\n    description = ", f);
        put_str(f, p->description ? p->description : "");
        fputs(";\n    additional_domains = ", f);
        put_strlist(f, &p->additional);
        fprintf(f,
                ";\n    type = \"%s\";\n    tls = \"%s\";\n    sasl = \"%s\";\n"
                "    dialback = %s;\n    connection_limit = %u;\n    keepalive = %s;\n"
                "    proxy_fqdn = ",
                conf_partner_type_name(p->type), conf_negotiation_name(p->tls),
                conf_negotiation_name(p->sasl), p->dialback ? "true" : "false", p->connection_limit,
                p->keepalive ? "true" : "false");
        if (p->proxy_host == NULL) {
            put_str(f, "");
        } else {
            char hp[CONF_DOMAIN_BUFSZ + 16];
            bool v6 = strchr(p->proxy_host, ':') != NULL;
            if (p->proxy_port)
                snprintf(hp, sizeof(hp), v6 ? "[%s]:%u" : "%s:%u", p->proxy_host,
                         (unsigned)p->proxy_port);
            else
                snprintf(hp, sizeof(hp), v6 ? "[%s]" : "%s", p->proxy_host);
            put_str(f, hp);
        }
        fputs(";\n  }", f);
    }
    fputs(c->n_partners ? "\n);\n" : ");\n", f);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* Host-local files ---------------------------------------------------- */

void conf_local_defaults(const struct conf_lkey *t, void *out)
{
    for (; t->name; t++) {
        char *base = (char *)out + t->offset;
        switch (t->type) {
        case LK_UINT:
            *(unsigned *)(void *)base = t->def;
            break;
        case LK_BOOL:
            *(bool *)(void *)base = t->def != 0;
            break;
        case LK_STRING:
            *(char **)(void *)base = t->sdef ? strdup(t->sdef) : NULL;
            break;
        }
    }
}

void conf_local_free(const struct conf_lkey *t, void *out)
{
    for (; t->name; t++) {
        if (t->type == LK_STRING) {
            char **slot = (char **)(void *)((char *)out + t->offset);
            free(*slot);
            *slot = NULL;
        }
    }
}

int conf_local_read(const char *path, const struct conf_lkey *table, void *out,
                    struct conf_report *report)
{
    config_t cfg;
    struct reader r = {path, report};
    size_t first = report->n;
    size_t len;

    conf_local_defaults(table, out);
    char *text = conf_read_file(path, CONF_FILE_MAX, &len);
    if (text == NULL) {
        if (errno == ENOENT)
            return 0;
        conf_report_add(report, CONF_ERROR, "", path, 0, 0, "cannot read: %s", strerror(errno));
        return -1;
    }
    if (strlen(text) != len || has_include(text, path, report)) {
        if (strlen(text) != len)
            conf_report_add(report, CONF_ERROR, "", path, 0, 0, "contains a NUL byte");
        free(text);
        return -1;
    }
    config_setup(&cfg);
    if (config_read_string(&cfg, text) != CONFIG_TRUE) {
        syntax_error(&cfg, path, report);
        config_destroy(&cfg);
        free(text);
        return -1;
    }
    free(text);
    const config_setting_t *root = config_root_setting(&cfg);
    for (int i = 0; i < config_setting_length(root); i++) {
        const config_setting_t *s = config_setting_get_elem(root, (unsigned)i);
        const char *name = config_setting_name(s);
        const struct conf_lkey *k;
        for (k = table; k->name; k++)
            if (strcmp(k->name, name) == 0)
                break;
        if (k->name == NULL) {
            err(&r, s, name, "unknown key '%s'", name);
            continue;
        }
        char *base = (char *)out + k->offset;
        if (k->type == LK_UINT) {
            get_uint(&r, s, name, k->min, k->max, (unsigned *)(void *)base);
        } else if (k->type == LK_BOOL) {
            get_bool(&r, s, name, (bool *)(void *)base);
        } else {
            const char *v = get_string(&r, s, name);
            char *copy;
            if (v && (copy = strdup(v)) != NULL) {
                char **slot = (char **)(void *)base;
                free(*slot);
                *slot = copy;
            }
        }
    }
    config_destroy(&cfg);
    return report->n > first && conf_report_has_errors(report) ? -1 : 0;
}

int conf_local_split(char *buf, char **tok, int max)
{
    int n = 0;
    for (char *save = NULL, *t = strtok_r(buf, ", \t\n", &save); t;
         t = strtok_r(NULL, ", \t\n", &save)) {
        if (n == max)
            return -1;
        tok[n++] = t;
    }
    return n;
}

char *conf_path_join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", dir, name);
    return p;
}
