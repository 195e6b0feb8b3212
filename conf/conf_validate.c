/*
 * conf_validate.c - every rule about what configuration is acceptable.
 * The negotiation matrix is DESIGN.md section 2 (rows numbered as in the
 * Lync Server 2013 XMPP federation matrix).
 */
#include "conf_validate.h"
#include "conf_domain.h"
#include "conf_settings.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DESCRIPTION_MAX      1024
#define ADDITIONAL_MAX       256
#define CONNECTION_LIMIT_MAX 100000

const char *const conf_msg_sasl_needs_tls =
    "SASL requires TLS: set TLS to Required or Optional, or SASL to NotSupported";
const char *const conf_msg_no_auth = "SASL or dialback must be enabled";
const char *const conf_msg_dialback_unused =
    "dialback will never be used: TLS and SASL are both Required";
const char *const conf_msg_no_tls_no_sasl = "a partner that does not offer TLS cannot use SASL";

/* Rows 1-6 have SASL Required, 7-12 Optional, 13-18 NotSupported; within
 * each block TLS Required, Optional, NotSupported; dialback true then false. */
static int matrix_row(enum conf_negotiation tls, enum conf_negotiation sasl, bool dialback)
{
    return 1 + (int)sasl * 6 + (int)tls * 2 + (dialback ? 0 : 1);
}

struct conf_matrix_verdict conf_matrix_check(enum conf_negotiation tls, enum conf_negotiation sasl,
                                             bool dialback)
{
    struct conf_matrix_verdict v = {CONF_SAVED, matrix_row(tls, sasl, dialback), ""};

    if (tls == NEG_NOT_SUPPORTED && sasl != NEG_NOT_SUPPORTED) { /* 5, 6, 11, 12 */
        v.outcome = CONF_REJECTED;
        v.message = conf_msg_sasl_needs_tls;
    } else if (sasl == NEG_NOT_SUPPORTED && !dialback) { /* 14, 16, 18 */
        v.outcome = CONF_REJECTED;
        v.message = conf_msg_no_auth;
    } else if (tls == NEG_REQUIRED && sasl == NEG_REQUIRED && dialback) { /* 1 */
        v.outcome = CONF_SAVED_WARNING;
        v.message = conf_msg_dialback_unused;
    } else if (tls == NEG_OPTIONAL && sasl != NEG_NOT_SUPPORTED) { /* 3, 4, 9, 10 */
        v.outcome = CONF_SAVED_WARNING;
        v.message = conf_msg_no_tls_no_sasl;
    }
    return v;
}

static const char *matrix_fields(const struct conf_matrix_verdict *v)
{
    if (v->message == conf_msg_sasl_needs_tls)
        return "tls,sasl";
    if (v->message == conf_msg_no_auth)
        return "sasl,dialback";
    if (v->message == conf_msg_dialback_unused)
        return "dialback";
    return "tls";
}

/* A domain field must hold a valid name in its normalised form; file and
 * command readers normalise before storing, so a difference is an error. */
static bool domain_ok(const char *d, const char *field, const char *what,
                      struct conf_report *report)
{
    char norm[CONF_DOMAIN_BUFSZ];
    const char *why;

    if (d == NULL || conf_domain_normalize(d, norm, sizeof(norm), &why) == -1) {
        conf_report_add(report, CONF_ERROR, field, NULL, 0, 0, "%s '%s' %s", what, d ? d : "",
                        d ? why : "is missing");
        return false;
    }
    if (strcmp(norm, d) != 0) {
        conf_report_add(report, CONF_ERROR, field, NULL, 0, 0,
                        "%s '%s' is not in normalised form (write '%s')", what, d, norm);
        return false;
    }
    return true;
}

static bool text_ok(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return false;
    return true;
}

/* Which other partner (not skip) already uses domain d, primary or
 * additional? Returns its index or -1. */
static ssize_t domain_owner(const struct conf *conf, const char *d, ssize_t skip)
{
    for (size_t i = 0; i < conf->n_partners; i++) {
        if ((ssize_t)i == skip)
            continue;
        const struct conf_partner *o = &conf->partners[i];
        if ((o->domain && strcasecmp(o->domain, d) == 0) || conf_strlist_has(&o->additional, d))
            return (ssize_t)i;
    }
    return -1;
}

static void check_claim(const struct conf *conf, const char *d, const char *field, ssize_t skip,
                        struct conf_report *report)
{
    ssize_t owner = domain_owner(conf, d, skip);
    if (owner >= 0) {
        const struct conf_partner *o = &conf->partners[owner];
        if (strcasecmp(o->domain, d) == 0)
            conf_report_add(report, CONF_ERROR, field, NULL, 0, 0,
                            "domain '%s' is already a partner", d);
        else
            conf_report_add(report, CONF_ERROR, field, NULL, 0, 0,
                            "domain '%s' is already an additional domain of partner '%s'", d,
                            o->domain);
    }
    if (conf_strlist_has(&conf->hosted, d))
        conf_report_add(report, CONF_ERROR, field, NULL, 0, 0,
                        "domain '%s' is a hosted domain of this deployment and cannot be a partner",
                        d);
}

static enum conf_outcome outcome_of(const struct conf_report *r, size_t first)
{
    enum conf_outcome o = CONF_SAVED;
    for (size_t i = first; i < r->n; i++) {
        if (r->v[i].severity == CONF_ERROR)
            return CONF_REJECTED;
        o = CONF_SAVED_WARNING;
    }
    return o;
}

static enum conf_outcome partner_validate(const struct conf *conf, const struct conf_partner *p,
                                          ssize_t skip, struct conf_report *report)
{
    size_t first = report->n;

    struct conf_matrix_verdict v = conf_matrix_check(p->tls, p->sasl, p->dialback);
    if (v.outcome != CONF_SAVED)
        conf_report_add(report, v.outcome == CONF_REJECTED ? CONF_ERROR : CONF_WARNING,
                        matrix_fields(&v), NULL, 0, v.row, "%s", v.message);

    if (domain_ok(p->domain, "domain", "primary domain", report))
        check_claim(conf, p->domain, "domain", skip, report);

    if (p->additional.n > ADDITIONAL_MAX)
        conf_report_add(report, CONF_ERROR, "additional_domains", NULL, 0, 0,
                        "at most %d additional domains", ADDITIONAL_MAX);
    for (size_t i = 0; i < p->additional.n; i++) {
        const char *d = p->additional.v[i];
        if (!domain_ok(d, "additional_domains", "additional domain", report))
            continue;
        if (p->domain && strcasecmp(d, p->domain) == 0) {
            conf_report_add(report, CONF_ERROR, "additional_domains", NULL, 0, 0,
                            "additional domain '%s' is the primary domain", d);
            continue;
        }
        bool repeated = false;
        for (size_t j = 0; j < i; j++)
            if (strcasecmp(p->additional.v[j], d) == 0)
                repeated = true;
        if (repeated) {
            conf_report_add(report, CONF_ERROR, "additional_domains", NULL, 0, 0,
                            "additional domain '%s' is listed twice", d);
            continue;
        }
        check_claim(conf, d, "additional_domains", skip, report);
    }

    const char *desc = p->description ? p->description : "";
    if (strlen(desc) > DESCRIPTION_MAX)
        conf_report_add(report, CONF_ERROR, "description", NULL, 0, 0,
                        "description is longer than %d bytes", DESCRIPTION_MAX);
    else if (!text_ok(desc))
        conf_report_add(report, CONF_ERROR, "description", NULL, 0, 0,
                        "description contains control characters");

    if ((unsigned)p->type > PARTNER_PUBLIC_UNVERIFIED)
        conf_report_add(report, CONF_ERROR, "type", NULL, 0, 0, "unknown partner type");
    if (p->connection_limit > CONNECTION_LIMIT_MAX)
        conf_report_add(report, CONF_ERROR, "connection_limit", NULL, 0, 0,
                        "connection limit must be between 0 (use the global limit) and %d",
                        CONNECTION_LIMIT_MAX);

    if (p->proxy_host) {
        /* Stored without the port; an IPv6 literal without brackets. */
        char host[CONF_DOMAIN_BUFSZ], wrapped[CONF_DOMAIN_BUFSZ + 2];
        unsigned port;
        const char *why = NULL;
        bool v6 = strchr(p->proxy_host, ':') != NULL;
        snprintf(wrapped, sizeof(wrapped), v6 ? "[%s]" : "%s", p->proxy_host);
        if (conf_hostport_parse(wrapped, host, sizeof(host), &port, &why) == -1 || port != 0 ||
            strcmp(host, p->proxy_host) != 0)
            conf_report_add(report, CONF_ERROR, "proxy_fqdn", NULL, 0, 0,
                            "static route host '%s' %s", p->proxy_host,
                            port != 0 ? "must not carry a port here"
                            : why     ? why
                                      : "is not normalised");
    }
    return outcome_of(report, first);
}

enum conf_outcome conf_partner_validate(const struct conf *conf, const struct conf_partner *p,
                                        const char *replacing, struct conf_report *report)
{
    ssize_t skip = replacing ? conf_partner_index(conf, replacing) : -1;
    return partner_validate(conf, p, skip, report);
}

static void settings_validate(const struct conf_settings *s, struct conf_report *report)
{
    for (const struct conf_key *k = conf_settings_keys; k->name; k++) {
        const char *base = (const char *)s + k->offset;
        char field[64];
        snprintf(field, sizeof(field), "settings.%s", k->name);
        if (k->type == CK_UINT) {
            unsigned v = *(const unsigned *)(const void *)base;
            if (v < k->min || v > k->max)
                conf_report_add(report, CONF_ERROR, field, NULL, 0, 0,
                                "%s must be between %u and %u", k->name, k->min, k->max);
        } else if (k->type == CK_SECRET) {
            const char *sec = *(char *const *)(const void *)base;
            const char *why;
            struct conf_settings scratch = {0};
            if (sec == NULL)
                conf_report_add(report, CONF_WARNING, field, NULL, 0, 0,
                                "%s is not set: dialback is unavailable until it is", k->name);
            else if (conf_settings_set(&scratch, k->name, sec, &why) == -1)
                conf_report_add(report, CONF_ERROR, field, NULL, 0, 0, "%s %s", k->name, why);
            free(scratch.dialback_secret);
        }
    }
    if (s->max_connections_per_partner > s->max_connections)
        conf_report_add(report, CONF_ERROR, "settings.max_connections_per_partner", NULL, 0, 0,
                        "max_connections_per_partner (%u) must not exceed max_connections (%u)",
                        s->max_connections_per_partner, s->max_connections);
    if (s->inactivity_timeout <= s->keepalive_interval)
        conf_report_add(report, CONF_ERROR, "settings.inactivity_timeout", NULL, 0, 0,
                        "inactivity_timeout (%u) must be greater than keepalive_interval (%u)",
                        s->inactivity_timeout, s->keepalive_interval);
}

static void access_validate(const struct conf *conf, struct conf_report *report)
{
    const struct conf_access_policy *a = &conf->access;

    for (size_t i = 0; i < a->n_domains; i++) {
        const char *d = a->domains[i].subject;
        if (!domain_ok(d, "access.domains", "access rule domain", report))
            continue;
        if (!conf_strlist_has(&conf->hosted, d))
            conf_report_add(report, CONF_ERROR, "access.domains", NULL, 0, 0,
                            "access rule for '%s': not a hosted domain", d);
        for (size_t j = 0; j < i; j++)
            if (strcasecmp(a->domains[j].subject, d) == 0)
                conf_report_add(report, CONF_ERROR, "access.domains", NULL, 0, 0,
                                "access rule for domain '%s' is listed twice", d);
    }
    for (size_t i = 0; i < a->n_users; i++) {
        const char *u = a->users[i].subject;
        const char *at = u ? strrchr(u, '@') : NULL;
        if (u == NULL || at == NULL || at == u) {
            conf_report_add(report, CONF_ERROR, "access.users", NULL, 0, 0,
                            "access rule for user '%s': write user@domain", u ? u : "");
            continue;
        }
        for (const char *p = u; p < at; p++) {
            if ((unsigned char)*p <= 0x20 || strchr("\"&'/:<>@", *p)) {
                conf_report_add(
                    report, CONF_ERROR, "access.users", NULL, 0, 0,
                    "access rule for user '%s': the user part contains '%c', which RFC 7622 "
                    "forbids",
                    u, *p);
                break;
            }
        }
        if (!conf_strlist_has(&conf->hosted, at + 1))
            conf_report_add(report, CONF_ERROR, "access.users", NULL, 0, 0,
                            "access rule for user '%s': '%s' is not a hosted domain", u, at + 1);
        for (size_t j = 0; j < i; j++)
            if (strcasecmp(a->users[j].subject, u) == 0)
                conf_report_add(report, CONF_ERROR, "access.users", NULL, 0, 0,
                                "access rule for user '%s' is listed twice", u);
    }
}

enum conf_outcome conf_validate(const struct conf *conf, struct conf_report *report)
{
    size_t first = report->n;

    settings_validate(&conf->settings, report);
    for (size_t i = 0; i < conf->hosted.n; i++) {
        const char *d = conf->hosted.v[i];
        if (!domain_ok(d, "hosted_domains", "hosted domain", report))
            continue;
        for (size_t j = 0; j < i; j++)
            if (strcasecmp(conf->hosted.v[j], d) == 0)
                conf_report_add(report, CONF_ERROR, "hosted_domains", NULL, 0, 0,
                                "hosted domain '%s' is listed twice", d);
    }
    access_validate(conf, report);
    /* Each partner is checked against the others; a clash between two
     * partners is reported once, on the later one. */
    for (size_t i = 0; i < conf->n_partners; i++) {
        struct conf_report one;
        conf_report_init(&one);
        const struct conf_partner *p = &conf->partners[i];
        struct conf tmp = *conf;
        tmp.n_partners = i; /* only earlier partners count as owners */
        partner_validate(&tmp, p, -1, &one);
        for (size_t k = 0; k < one.n; k++) {
            const struct conf_issue *is = &one.v[k];
            conf_report_add(report, is->severity, is->field, NULL, p->line, is->row,
                            "partner '%s': %s", p->domain ? p->domain : "?", is->message);
        }
        conf_report_clear(&one);
    }
    return outcome_of(report, first);
}
