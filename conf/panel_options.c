/*
 * panel_options.c - the panel's option table and its tiny file format.
 */
#include "panel_options.h"

#include "conf_atomic.h"
#include "log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define OPT_U(n, f, d, lo, hi, doc)                                       \
    {                                                                     \
        n, false, offsetof(struct panel_options, f), d, lo, hi, NULL, doc \
    }
#define OPT_S(n, f, d, doc)                                         \
    {                                                               \
        n, true, offsetof(struct panel_options, f), 0, 0, 0, d, doc \
    }

const struct panel_option_key panel_option_keys[] = {
    OPT_S("listen", listen, "127.0.0.1:8443", "address:port to listen on (internal only)"),
    OPT_S("cert", cert, "tls/xfed.crt", "PEM certificate chain of the appliance"),
    OPT_S("key", key, "tls/xfed.key", "PEM private key of the appliance"),
    OPT_U("session_idle", session_idle, 900, 60, 86400, "seconds a session may stay unused"),
    OPT_U("session_max", session_max, 28800, 300, 604800, "seconds a session lives at most"),
    OPT_U("max_sessions", max_sessions, 256, 1, 65536, "sessions kept at once"),
    OPT_U("signin_delay_base", signin_delay_base, 500, 1, 60000,
          "milliseconds of delay after the first failed sign-in; doubles each time"),
    OPT_U("signin_delay_max", signin_delay_max, 30000, 1, 3600000,
          "milliseconds the delay grows to at most"),
    OPT_U("signin_forget", signin_forget, 900, 1, 86400,
          "seconds after which failed sign-ins are forgotten"),
    OPT_U("max_body", max_body, 65536, 1024, 1048576, "bytes of a request body"),
    OPT_U("max_connections", max_connections, 64, 1, 4096, "concurrent HTTPS connections"),
    OPT_U("connection_timeout", connection_timeout, 30, 1, 3600,
          "seconds an idle connection is kept"),
    OPT_U("audit_lines", audit_lines, 500, 1, 100000, "audit entries shown in the panel"),
    OPT_S("metrics_listen", metrics_listen, "",
          "address:port of the Prometheus endpoint (docs/metrics.md); absent: off"),
    {NULL, false, 0, 0, 0, 0, NULL, NULL},
};

void panel_options_defaults(struct panel_options *o)
{
    memset(o, 0, sizeof(*o));
    for (const struct panel_option_key *k = panel_option_keys; k->name != NULL; k++) {
        if (k->is_string)
            snprintf((char *)o + k->offset, 300, "%s", k->sdef);
        else
            *(unsigned *)(void *)((char *)o + k->offset) = k->def;
    }
}

static size_t string_size(const struct panel_option_key *k)
{
    if (strcmp(k->name, "metrics_listen") == 0)
        return sizeof(((struct panel_options *)0)->metrics_listen);
    return strcmp(k->name, "listen") == 0 ? sizeof(((struct panel_options *)0)->listen)
                                          : sizeof(((struct panel_options *)0)->cert);
}

int panel_options_set(struct panel_options *o, const char *key, const char *value, const char **why)
{
    for (const struct panel_option_key *k = panel_option_keys; k->name != NULL; k++) {
        if (strcmp(k->name, key) != 0)
            continue;
        if (k->is_string) {
            if (value[0] == '\0' || strlen(value) >= string_size(k)) {
                *why = "empty or too long";
                return -1;
            }
            memcpy((char *)o + k->offset, value, strlen(value) + 1);
            if (strcmp(key, "listen") == 0) {
                struct sockaddr_storage ss;
                unsigned len;
                if (panel_options_listen_addr(o, &ss, &len) < 0) {
                    *why = "must be IPv4:port or [IPv6]:port";
                    return -1;
                }
            }
            return 0;
        }
        char *end;
        errno = 0;
        unsigned long v = strtoul(value, &end, 10);
        if (errno != 0 || end == value || *end != '\0' || value[0] == '-' || v < k->min ||
            v > k->max) {
            *why = "not a whole number within the allowed range";
            return -1;
        }
        *(unsigned *)(void *)((char *)o + k->offset) = (unsigned)v;
        return 0;
    }
    *why = "unknown option";
    return -1;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

int panel_options_read(struct panel_options *o, const char *path)
{
    size_t len;
    char *text = conf_read_file(path, 64 * 1024, &len);
    if (text == NULL) {
        if (errno == ENOENT)
            return 0;
        log_warn("%s", path);
        return -1;
    }
    int rc = 0, lineno = 0;
    for (char *line = text, *next; line != NULL && *line != '\0'; line = next) {
        next = strchr(line, '\n');
        if (next != NULL)
            *next++ = '\0';
        lineno++;
        char *l = trim(line);
        if (*l == '\0' || *l == '#')
            continue;
        char *eq = strchr(l, '=');
        const char *why;
        if (eq == NULL) {
            log_warnx("%s:%d: expected key = value", path, lineno);
            rc = -1;
            continue;
        }
        *eq = '\0';
        char *k = trim(l), *v = trim(eq + 1);
        if (panel_options_set(o, k, v, &why) < 0) {
            log_warnx("%s:%d: %s: %s", path, lineno, k, why);
            rc = -1;
        }
    }
    free(text);
    return rc;
}

int panel_options_listen_addr(const struct panel_options *o, struct sockaddr_storage *ss,
                              unsigned *socklen)
{
    char host[300];
    const char *colon;
    memset(ss, 0, sizeof(*ss));
    if (o->listen[0] == '[') {
        const char *rb = strchr(o->listen, ']');
        if (rb == NULL || rb[1] != ':' || (size_t)(rb - o->listen - 1) >= sizeof(host))
            return -1;
        memcpy(host, o->listen + 1, (size_t)(rb - o->listen - 1));
        host[rb - o->listen - 1] = '\0';
        colon = rb + 1;
    } else {
        colon = strrchr(o->listen, ':');
        if (colon == NULL || (size_t)(colon - o->listen) >= sizeof(host))
            return -1;
        memcpy(host, o->listen, (size_t)(colon - o->listen));
        host[colon - o->listen] = '\0';
    }
    char *end;
    errno = 0;
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (errno != 0 || end == colon + 1 || *end != '\0' || port == 0 || port > 65535)
        return -1;
    struct sockaddr_in *s4 = (struct sockaddr_in *)(void *)ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)(void *)ss;
    if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        *socklen = sizeof(*s4);
        return 0;
    }
    if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        *socklen = sizeof(*s6);
        return 0;
    }
    return -1;
}

void panel_options_path(const char *confdir, const char *p, char *out, size_t outlen)
{
    if (p[0] == '/')
        snprintf(out, outlen, "%s", p);
    else
        snprintf(out, outlen, "%s/%s", confdir, p);
}
