/*
 * panel_options.h - xfed-panel's own options: a table of name, default and
 * range, read from "panel.conf" in the configuration directory (lines
 * "key = value", '#' comments) and overridden from the command line
 * (-o key=value). The replicated configuration (xfed.conf) is not read
 * here: it belongs to conf_store.h.
 */
#ifndef XFED_PANEL_OPTIONS_H
#define XFED_PANEL_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>

#define PANEL_CONF_FILE "panel.conf"

struct panel_options {
    char listen[300];      /* "127.0.0.1:8443" or "[::1]:8443" */
    char cert[1024];       /* PEM certificate chain; relative: to the config dir */
    char key[1024];        /* PEM private key; relative: to the config dir */
    unsigned session_idle; /* seconds */
    unsigned session_max;  /* seconds */
    unsigned max_sessions;
    unsigned signin_delay_base; /* milliseconds */
    unsigned signin_delay_max;  /* milliseconds */
    unsigned signin_forget;     /* seconds */
    unsigned max_body;          /* bytes of a request body */
    unsigned max_connections;
    unsigned connection_timeout; /* seconds */
    unsigned audit_lines;        /* entries shown on the audit page */
    char metrics_listen[300];    /* GET /metrics address, "" off (docs/metrics.md) */
};

struct panel_option_key {
    const char *name;
    bool is_string;
    size_t offset;
    unsigned def, min, max;
    const char *sdef;
    const char *doc;
};

/* The table, terminated by a NULL name (docs/panel.md lists the same). */
extern const struct panel_option_key panel_option_keys[];

void panel_options_defaults(struct panel_options *);

/* Sets one option. Returns 0, or -1 with a static reason. */
int panel_options_set(struct panel_options *, const char *key, const char *value, const char **why);

/* Reads path; a missing file is fine. Every bad line is logged with
 * file:line; returns 0, or -1 after all lines were checked. */
int panel_options_read(struct panel_options *, const char *path);

/* Splits o->listen into an address for bind(2). Returns 0 or -1. */
struct sockaddr_storage;
int panel_options_listen_addr(const struct panel_options *, struct sockaddr_storage *ss,
                              unsigned *socklen);

/* Resolves a cert/key path against the config dir into out. */
void panel_options_path(const char *confdir, const char *p, char *out, size_t outlen);

#endif
