/*
 * gw_confpush.c - see gw_confpush.h.
 */
#include "gw_confpush.h"

#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf_atomic.h"
#include "conf_file.h"
#include "conf_report.h"
#include "conf_validate.h"
#include "gw_conf.h"
#include "log.h"

static bool refuse(char *reason, size_t rlen, const char *why, uint64_t version)
{
    log_warnx("event=config-push outcome=refused version=%llu reason=\"%s\"",
              (unsigned long long)version, why);
    snprintf(reason, rlen, "%s", why);
    return false;
}

/* Parses and validates text as version; on success writes it to the cache. */
static bool take_new(const struct gw_conf *gc, uint64_t version, const char *text, size_t len,
                     char *reason, size_t rlen)
{
    char why[512] = "";
    char *copy = malloc(len + 1);
    if (copy == NULL)
        return refuse(reason, rlen, "out of memory", version);
    memcpy(copy, text, len);
    copy[len] = '\0';
    struct conf_report rep;
    conf_report_init(&rep);
    struct conf *c = conf_file_parse(copy, "config-push", &rep);
    free(copy);
    if (c != NULL) {
        c->version = version;
        if (conf_validate(c, &rep) == CONF_REJECTED) {
            conf_free(c);
            c = NULL;
        }
    }
    if (c == NULL) {
        for (size_t i = 0; i < rep.n && why[0] == '\0'; i++)
            if (rep.v[i].severity == CONF_ERROR)
                snprintf(why, sizeof(why), "%s%s%s", rep.v[i].field, rep.v[i].field[0] ? ": " : "",
                         rep.v[i].message);
        conf_report_clear(&rep);
        return refuse(reason, rlen, why[0] ? why : "invalid configuration", version);
    }
    conf_report_clear(&rep);
    char *out = conf_file_format(c);
    conf_free(c);
    char *d = strdup(gc->local.config_cache), *b = strdup(gc->local.config_cache);
    int rc = -1;
    if (out && d && b)
        rc = conf_atomic_write(dirname(d), basename(b), out, strlen(out), 0640);
    free(out);
    free(d);
    free(b);
    if (rc != 0) {
        log_warn("event=config-push cannot write %s", gc->local.config_cache);
        return refuse(reason, rlen, "the gateway cannot keep the configuration", version);
    }
    log_info("event=config-push outcome=applied version=%llu cache=%s", (unsigned long long)version,
             gc->local.config_cache);
    return true;
}

bool gw_confpush_take(const struct gw_conf *gc, uint64_t *newest, uint64_t version,
                      const char *text, size_t len, char *reason, size_t rlen)
{
    reason[0] = '\0';
    if (version == *newest)
        return true;
    if (version < *newest) {
        char why[128];
        snprintf(why, sizeof(why), "version %llu is older than %llu; ignored",
                 (unsigned long long)version, (unsigned long long)*newest);
        log_info("event=config-push outcome=ignored version=%llu running=%llu",
                 (unsigned long long)version, (unsigned long long)*newest);
        snprintf(reason, rlen, "%s", why);
        return false;
    }
    if (!gc->from_edges) {
        char why[160];
        snprintf(why, sizeof(why),
                 "version %llu is newer than this gateway's store (%llu); config_from = store, so "
                 "the store decides",
                 (unsigned long long)version, (unsigned long long)*newest);
        return refuse(reason, rlen, why, version);
    }
    if (!take_new(gc, version, text, len, reason, rlen))
        return false;
    *newest = version;
    return true;
}
