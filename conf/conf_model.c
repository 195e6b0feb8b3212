/*
 * conf_model.c - construction, copying and lookup of the configuration
 * model. No validation and no I/O here.
 */
#include "conf_model.h"
#include "conf_settings.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static char *xstrdup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

int conf_strlist_add(struct conf_strlist *l, const char *s)
{
    char **v = realloc(l->v, (l->n + 1) * sizeof(*v));
    if (v == NULL)
        return -1;
    l->v = v;
    if ((l->v[l->n] = strdup(s)) == NULL)
        return -1;
    l->n++;
    return 0;
}

bool conf_strlist_has(const struct conf_strlist *l, const char *s)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcasecmp(l->v[i], s) == 0)
            return true;
    return false;
}

bool conf_strlist_remove(struct conf_strlist *l, const char *s)
{
    for (size_t i = 0; i < l->n; i++) {
        if (strcasecmp(l->v[i], s) == 0) {
            free(l->v[i]);
            memmove(&l->v[i], &l->v[i + 1], (l->n - i - 1) * sizeof(*l->v));
            l->n--;
            return true;
        }
    }
    return false;
}

void conf_strlist_clear(struct conf_strlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

static int strlist_copy(struct conf_strlist *dst, const struct conf_strlist *src)
{
    dst->v = NULL;
    dst->n = 0;
    for (size_t i = 0; i < src->n; i++)
        if (conf_strlist_add(dst, src->v[i]) == -1)
            return -1;
    return 0;
}

int conf_partner_init(struct conf_partner *p, const char *domain)
{
    memset(p, 0, sizeof(*p));
    p->type = PARTNER_PUBLIC_UNVERIFIED;
    p->tls = NEG_REQUIRED;
    p->sasl = NEG_REQUIRED;
    p->dialback = true;
    p->keepalive = true;
    p->domain = strdup(domain);
    p->description = strdup("");
    if (p->domain == NULL || p->description == NULL) {
        conf_partner_clear(p);
        return -1;
    }
    return 0;
}

void conf_partner_clear(struct conf_partner *p)
{
    free(p->domain);
    free(p->description);
    free(p->proxy_host);
    conf_strlist_clear(&p->additional);
    memset(p, 0, sizeof(*p));
}

int conf_partner_copy(struct conf_partner *dst, const struct conf_partner *src)
{
    *dst = *src;
    dst->domain = xstrdup_or_null(src->domain);
    dst->description = strdup(src->description ? src->description : "");
    dst->proxy_host = xstrdup_or_null(src->proxy_host);
    int rc = strlist_copy(&dst->additional, &src->additional);
    if (rc == -1 || (src->domain && dst->domain == NULL) || dst->description == NULL ||
        (src->proxy_host && dst->proxy_host == NULL)) {
        conf_partner_clear(dst);
        return -1;
    }
    return 0;
}

struct conf *conf_new(void)
{
    struct conf *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    conf_settings_defaults(&c->settings);
    c->access.default_access = ACCESS_ALLOW;
    return c;
}

static void rules_free(struct conf_access_rule *r, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(r[i].subject);
    free(r);
}

void conf_free(struct conf *c)
{
    if (c == NULL)
        return;
    free(c->settings.dialback_secret);
    conf_strlist_clear(&c->hosted);
    rules_free(c->access.domains, c->access.n_domains);
    rules_free(c->access.users, c->access.n_users);
    for (size_t i = 0; i < c->n_partners; i++)
        conf_partner_clear(&c->partners[i]);
    free(c->partners);
    free(c);
}

static int rules_copy(struct conf_access_rule **dst, const struct conf_access_rule *src, size_t n)
{
    *dst = NULL;
    if (n == 0)
        return 0;
    if ((*dst = calloc(n, sizeof(**dst))) == NULL)
        return -1;
    for (size_t i = 0; i < n; i++) {
        (*dst)[i].access = src[i].access;
        if (((*dst)[i].subject = strdup(src[i].subject)) == NULL)
            return -1;
    }
    return 0;
}

struct conf *conf_dup(const struct conf *src)
{
    struct conf *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->version = src->version;
    c->settings = src->settings;
    c->settings.dialback_secret = NULL;
    c->access.default_access = src->access.default_access;
    c->access.n_domains = src->access.n_domains;
    c->access.n_users = src->access.n_users;
    if ((src->settings.dialback_secret &&
         (c->settings.dialback_secret = strdup(src->settings.dialback_secret)) == NULL) ||
        strlist_copy(&c->hosted, &src->hosted) == -1 ||
        rules_copy(&c->access.domains, src->access.domains, src->access.n_domains) == -1 ||
        rules_copy(&c->access.users, src->access.users, src->access.n_users) == -1)
        goto fail;
    if (src->n_partners > 0) {
        if ((c->partners = calloc(src->n_partners, sizeof(*c->partners))) == NULL)
            goto fail;
        for (size_t i = 0; i < src->n_partners; i++) {
            if (conf_partner_copy(&c->partners[i], &src->partners[i]) == -1)
                goto fail;
            c->n_partners++;
        }
    }
    return c;
fail:
    conf_free(c);
    return NULL;
}

ssize_t conf_partner_index(const struct conf *c, const char *domain)
{
    for (size_t i = 0; i < c->n_partners; i++)
        if (strcasecmp(c->partners[i].domain, domain) == 0)
            return (ssize_t)i;
    return -1;
}

ssize_t conf_partner_find(const struct conf *c, const char *domain)
{
    for (size_t i = 0; i < c->n_partners; i++) {
        if (strcasecmp(c->partners[i].domain, domain) == 0 ||
            conf_strlist_has(&c->partners[i].additional, domain))
            return (ssize_t)i;
    }
    return -1;
}

int conf_partner_add(struct conf *c, const struct conf_partner *p)
{
    struct conf_partner *v = realloc(c->partners, (c->n_partners + 1) * sizeof(*v));
    if (v == NULL)
        return -1;
    c->partners = v;
    if (conf_partner_copy(&c->partners[c->n_partners], p) == -1)
        return -1;
    c->n_partners++;
    return 0;
}

int conf_partner_replace(struct conf *c, size_t i, const struct conf_partner *p)
{
    struct conf_partner copy;
    if (i >= c->n_partners || conf_partner_copy(&copy, p) == -1)
        return -1;
    conf_partner_clear(&c->partners[i]);
    c->partners[i] = copy;
    return 0;
}

void conf_partner_remove(struct conf *c, size_t i)
{
    if (i >= c->n_partners)
        return;
    conf_partner_clear(&c->partners[i]);
    memmove(&c->partners[i], &c->partners[i + 1], (c->n_partners - i - 1) * sizeof(*c->partners));
    c->n_partners--;
}

static const struct conf_access_rule *rule_find(const struct conf_access_rule *r, size_t n,
                                                const char *subject)
{
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(r[i].subject, subject) == 0)
            return &r[i];
    return NULL;
}

enum conf_access conf_access_for(const struct conf *c, const char *user)
{
    const struct conf_access_rule *r;
    const char *at = strrchr(user, '@');

    if ((r = rule_find(c->access.users, c->access.n_users, user)) != NULL)
        return r->access;
    if (at && (r = rule_find(c->access.domains, c->access.n_domains, at + 1)) != NULL)
        return r->access;
    return c->access.default_access;
}

unsigned conf_partner_limit(const struct conf *c, const struct conf_partner *p)
{
    return p->connection_limit ? p->connection_limit : c->settings.max_connections_per_partner;
}

static const char *const type_names[] = {"Federated", "PublicVerified", "PublicUnverified"};
static const char *const neg_names[] = {"Required", "Optional", "NotSupported"};
static const char *const access_names[] = {"allow", "deny"};

static int name_parse(const char *const *names, size_t n, const char *s, int *out)
{
    for (size_t i = 0; i < n; i++) {
        if (strcasecmp(names[i], s) == 0) {
            *out = (int)i;
            return 0;
        }
    }
    return -1;
}

const char *conf_partner_type_name(enum conf_partner_type t)
{
    return (unsigned)t < 3 ? type_names[t] : "?";
}

int conf_partner_type_parse(const char *s, enum conf_partner_type *out)
{
    int v;
    if (name_parse(type_names, 3, s, &v) == -1)
        return -1;
    *out = (enum conf_partner_type)v;
    return 0;
}

const char *conf_negotiation_name(enum conf_negotiation n)
{
    return (unsigned)n < 3 ? neg_names[n] : "?";
}

int conf_negotiation_parse(const char *s, enum conf_negotiation *out)
{
    int v;
    if (name_parse(neg_names, 3, s, &v) == -1)
        return -1;
    *out = (enum conf_negotiation)v;
    return 0;
}

const char *conf_access_name(enum conf_access a)
{
    return (unsigned)a < 2 ? access_names[a] : "?";
}

int conf_access_parse(const char *s, enum conf_access *out)
{
    int v;
    if (name_parse(access_names, 2, s, &v) == -1)
        return -1;
    *out = (enum conf_access)v;
    return 0;
}

int conf_bool_parse(const char *s, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    int v;
    if (name_parse(yes, 4, s, &v) == 0) {
        *out = true;
        return 0;
    }
    if (name_parse(no, 4, s, &v) == 0) {
        *out = false;
        return 0;
    }
    return -1;
}
