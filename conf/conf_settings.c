/*
 * conf_settings.c - the table of global settings (DESIGN.md section 2, as
 * Set-CsXmppGatewayConfiguration). Adding a setting is one row here and one
 * field in struct conf_settings; files, xfedctl and the panel follow.
 */
#include "conf_settings.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OFF(f) offsetof(struct conf_settings, f)

const struct conf_key conf_settings_keys[] = {
    {"max_connections", CK_UINT, OFF(max_connections), 1000, 1, 1000000,
     "total concurrent server-to-server streams"},
    {"max_connections_per_partner", CK_UINT, OFF(max_connections_per_partner), 20, 1, 100000,
     "concurrent streams with one partner unless its connection_limit says otherwise"},
    {"dialback_secret", CK_SECRET, OFF(dialback_secret), 0, CONF_SECRET_MIN, CONF_SECRET_MAX,
     "XEP-0185 dialback key secret, shared by every edge of the deployment"},
    {"log_message_bodies", CK_BOOL, OFF(log_message_bodies), 0, 0, 1,
     "write message bodies into logs"},
    {"keepalive_interval", CK_UINT, OFF(keepalive_interval), 300, 10, 3600,
     "seconds of silence before a whitespace keep-alive is sent"},
    {"establish_timeout", CK_UINT, OFF(establish_timeout), 60, 5, 600,
     "seconds a stream may take from TCP connect to authenticated"},
    {"inactivity_timeout", CK_UINT, OFF(inactivity_timeout), 600, 30, 86400,
     "seconds without traffic before an idle stream is probed and closed"},
    {"subscription_refresh", CK_UINT, OFF(subscription_refresh), 28800, 60, 604800,
     "seconds between refreshes of SIP presence subscriptions"},
    {NULL, CK_UINT, 0, 0, 0, 0, NULL},
};

const struct conf_key *conf_settings_key(const char *name)
{
    for (const struct conf_key *k = conf_settings_keys; k->name; k++)
        if (strcmp(k->name, name) == 0)
            return k;
    return NULL;
}

void conf_settings_defaults(struct conf_settings *s)
{
    memset(s, 0, sizeof(*s));
    for (const struct conf_key *k = conf_settings_keys; k->name; k++) {
        char *base = (char *)s + k->offset;
        if (k->type == CK_UINT)
            *(unsigned *)(void *)base = k->def;
        else if (k->type == CK_BOOL)
            *(bool *)(void *)base = k->def != 0;
    }
}

int conf_settings_set(struct conf_settings *s, const char *key, const char *value, const char **why)
{
    const struct conf_key *k = conf_settings_key(key);
    if (k == NULL) {
        *why = "unknown setting";
        return -1;
    }
    char *base = (char *)s + k->offset;
    switch (k->type) {
    case CK_UINT: {
        char *end;
        errno = 0;
        if (value[0] < '0' || value[0] > '9') {
            *why = "must be a whole number";
            return -1;
        }
        unsigned long v = strtoul(value, &end, 10);
        if (errno || *end != '\0') {
            *why = "must be a whole number";
            return -1;
        }
        if (v < k->min || v > k->max) {
            static _Thread_local char msg[64];
            snprintf(msg, sizeof(msg), "must be between %u and %u", k->min, k->max);
            *why = msg;
            return -1;
        }
        *(unsigned *)(void *)base = (unsigned)v;
        return 0;
    }
    case CK_BOOL: {
        bool b;
        if (conf_bool_parse(value, &b) == -1) {
            *why = "must be true or false";
            return -1;
        }
        *(bool *)(void *)base = b;
        return 0;
    }
    case CK_SECRET: {
        size_t len = strlen(value);
        if (len < CONF_SECRET_MIN || len > CONF_SECRET_MAX) {
            *why = "must be 16 to 256 characters";
            return -1;
        }
        for (const char *p = value; *p; p++) {
            if (*p < 0x21 || *p > 0x7e) {
                *why = "must be printable ASCII without spaces";
                return -1;
            }
        }
        char *copy = strdup(value);
        if (copy == NULL) {
            *why = "out of memory";
            return -1;
        }
        char **slot = (char **)(void *)base;
        free(*slot);
        *slot = copy;
        return 0;
    }
    }
    *why = "unknown setting";
    return -1;
}
