/*
 * conf_json.c - JSON views of the configuration (RFC 8259). Secrets are
 * never serialised.
 */
#include "conf_json.h"
#include "conf_settings.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void jbuf_init(struct jbuf *b)
{
    memset(b, 0, sizeof(*b));
}

void jbuf_free(struct jbuf *b)
{
    free(b->s);
    jbuf_init(b);
}

static void jbuf_put(struct jbuf *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *ns = realloc(b->s, cap);
        if (ns == NULL) {
            b->failed = 1;
            return;
        }
        b->s = ns;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

void jbuf_raw(struct jbuf *b, const char *s)
{
    jbuf_put(b, s, strlen(s));
}

static void jbuf_fmt(struct jbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void jbuf_fmt(struct jbuf *b, const char *fmt, ...)
{
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n > 0)
        jbuf_put(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

void jbuf_str(struct jbuf *b, const char *s)
{
    jbuf_put(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        switch (*p) {
        case '"':
            jbuf_put(b, "\\\"", 2);
            break;
        case '\\':
            jbuf_put(b, "\\\\", 2);
            break;
        case '\n':
            jbuf_put(b, "\\n", 2);
            break;
        case '\r':
            jbuf_put(b, "\\r", 2);
            break;
        case '\t':
            jbuf_put(b, "\\t", 2);
            break;
        default:
            if (*p < 0x20 || *p == 0x7f)
                jbuf_fmt(b, "\\u%04x", *p);
            else if (*p == '<' || *p == '>' || *p == '&')
                jbuf_fmt(b, "\\u%04x", *p); /* safe to embed in HTML */
            else
                jbuf_put(b, (const char *)p, 1);
        }
    }
    jbuf_put(b, "\"", 1);
}

static void key(struct jbuf *b, const char *k, bool first)
{
    if (!first)
        jbuf_raw(b, ",");
    jbuf_str(b, k);
    jbuf_raw(b, ":");
}

void conf_json_partner(struct jbuf *b, const struct conf *c, const struct conf_partner *p)
{
    jbuf_raw(b, "{");
    key(b, "domain", true);
    jbuf_str(b, p->domain);
    key(b, "description", false);
    jbuf_str(b, p->description);
    key(b, "additional_domains", false);
    jbuf_raw(b, "[");
    for (size_t i = 0; i < p->additional.n; i++) {
        if (i)
            jbuf_raw(b, ",");
        jbuf_str(b, p->additional.v[i]);
    }
    jbuf_raw(b, "]");
    key(b, "type", false);
    jbuf_str(b, conf_partner_type_name(p->type));
    key(b, "tls", false);
    jbuf_str(b, conf_negotiation_name(p->tls));
    key(b, "sasl", false);
    jbuf_str(b, conf_negotiation_name(p->sasl));
    key(b, "dialback", false);
    jbuf_raw(b, p->dialback ? "true" : "false");
    key(b, "connection_limit", false);
    jbuf_fmt(b, "%u", p->connection_limit);
    key(b, "effective_connection_limit", false);
    jbuf_fmt(b, "%u", conf_partner_limit(c, p));
    key(b, "keepalive", false);
    jbuf_raw(b, p->keepalive ? "true" : "false");
    key(b, "proxy_fqdn", false);
    if (p->proxy_host == NULL) {
        jbuf_raw(b, "null");
    } else {
        char hp[1100];
        bool v6 = strchr(p->proxy_host, ':') != NULL;
        if (p->proxy_port)
            snprintf(hp, sizeof(hp), v6 ? "[%s]:%u" : "%s:%u", p->proxy_host,
                     (unsigned)p->proxy_port);
        else
            snprintf(hp, sizeof(hp), "%s", p->proxy_host);
        jbuf_str(b, hp);
    }
    jbuf_raw(b, "}");
}

void conf_json_partners(struct jbuf *b, const struct conf *c, const struct conf_partner *const *v,
                        size_t n)
{
    jbuf_raw(b, "[");
    for (size_t i = 0; i < n; i++) {
        if (i)
            jbuf_raw(b, ",");
        conf_json_partner(b, c, v[i]);
    }
    jbuf_raw(b, "]");
}

void conf_json_settings(struct jbuf *b, const struct conf *c)
{
    bool first = true;
    jbuf_raw(b, "{");
    key(b, "version", true);
    jbuf_fmt(b, "%llu", (unsigned long long)c->version);
    first = false;
    for (const struct conf_key *k = conf_settings_keys; k->name; k++) {
        const char *base = (const char *)&c->settings + k->offset;
        if (k->type == CK_UINT) {
            key(b, k->name, first);
            jbuf_fmt(b, "%u", *(const unsigned *)(const void *)base);
        } else if (k->type == CK_BOOL) {
            key(b, k->name, first);
            jbuf_raw(b, *(const bool *)(const void *)base ? "true" : "false");
        } else {
            char name[80];
            snprintf(name, sizeof(name), "%s_set", k->name);
            key(b, name, first);
            jbuf_raw(b, *(char *const *)(const void *)base ? "true" : "false");
        }
    }
    key(b, "hosted_domains", false);
    jbuf_raw(b, "[");
    for (size_t i = 0; i < c->hosted.n; i++) {
        if (i)
            jbuf_raw(b, ",");
        jbuf_str(b, c->hosted.v[i]);
    }
    jbuf_raw(b, "]}");
}

static void rules(struct jbuf *b, const char *name, const char *subject,
                  const struct conf_access_rule *v, size_t n)
{
    key(b, name, false);
    jbuf_raw(b, "[");
    for (size_t i = 0; i < n; i++) {
        if (i)
            jbuf_raw(b, ",");
        jbuf_raw(b, "{");
        key(b, subject, true);
        jbuf_str(b, v[i].subject);
        key(b, "access", false);
        jbuf_str(b, conf_access_name(v[i].access));
        jbuf_raw(b, "}");
    }
    jbuf_raw(b, "]");
}

void conf_json_access(struct jbuf *b, const struct conf *c)
{
    jbuf_raw(b, "{");
    key(b, "default", true);
    jbuf_str(b, conf_access_name(c->access.default_access));
    rules(b, "domains", "domain", c->access.domains, c->access.n_domains);
    rules(b, "users", "user", c->access.users, c->access.n_users);
    jbuf_raw(b, "}");
}

void conf_json_report(struct jbuf *b, const struct conf_report *r)
{
    jbuf_raw(b, "[");
    for (size_t i = 0; i < r->n; i++) {
        const struct conf_issue *is = &r->v[i];
        if (i)
            jbuf_raw(b, ",");
        jbuf_raw(b, "{");
        key(b, "severity", true);
        jbuf_str(b, is->severity == CONF_ERROR ? "error" : "warning");
        key(b, "field", false);
        jbuf_str(b, is->field);
        key(b, "row", false);
        jbuf_fmt(b, "%d", is->row);
        key(b, "message", false);
        jbuf_str(b, is->message);
        if (is->file) {
            key(b, "file", false);
            jbuf_str(b, is->file);
            key(b, "line", false);
            jbuf_fmt(b, "%d", is->line);
        }
        jbuf_raw(b, "}");
    }
    jbuf_raw(b, "]");
}
