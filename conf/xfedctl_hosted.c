/*
 * xfedctl_hosted.c - `xfedctl hosted list|add|remove`: the internal
 * domains of this deployment, whose users live on the SIP side. Whether a
 * domain may be hosted (valid name, not claimed by a partner) is decided by
 * the store's validation when the change is committed.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exitcodes.h"
#include "xfedctl_util.h"

static const char usage_list[] = "hosted list\n"
                                 "Prints the hosted (internal) domains, one a line.\n"
                                 "Exit: 0, 1 invalid configuration, 3 system failure.\n"
                                 "Example: xfedctl hosted list\n";

static const char usage_add[] =
    "hosted add DOMAIN\n"
    "Adds a hosted (internal) domain. A domain that a partner uses is refused.\n"
    "Exit: 0 added, 1 rejected or already hosted, 2 usage, 3 system failure.\n"
    "Example: xfedctl hosted add contoso.com\n";

static const char usage_remove[] = "hosted remove DOMAIN\n"
                                   "Removes a hosted (internal) domain.\n"
                                   "Exit: 0 removed, 1 not hosted or rejected, 2 usage, 3 system "
                                   "failure.\n"
                                   "Example: xfedctl hosted remove contoso.com\n";

static int hosted_list(int argc, char **argv, const struct xfedctl_ctx *ctx)
{
    int code = xfedctl_no_options(argc, argv, 0, 0);

    if (code >= 0)
        return code;
    struct conf_store *store = xfedctl_store_open(ctx, &code);
    if (store == NULL)
        return code;
    struct conf *conf = xfedctl_load(store, &code);
    conf_store_close(store);
    if (conf == NULL)
        return code;
    for (size_t i = 0; i < conf->hosted.n; i++)
        printf("%s\n", conf->hosted.v[i]);
    conf_free(conf);
    return XFED_EXIT_OK;
}

static int hosted_change(int argc, char **argv, const struct xfedctl_ctx *ctx, bool add)
{
    int code = xfedctl_no_options(argc, argv, 1, 1);

    if (code >= 0)
        return code;
    const char *given = argv[optind];
    char *domain = xfedctl_domain(given);
    if (domain == NULL)
        return xfedctl_oom();
    struct conf *conf = NULL;
    struct conf_store *store = xfedctl_store_open(ctx, &code);
    if (store != NULL && (code = xfedctl_begin(store, &conf)) == XFED_EXIT_OK) {
        bool has = conf_strlist_has(&conf->hosted, domain);
        if (add && has) {
            xfedctl_err("%s is already a hosted domain", given);
            code = XFED_EXIT_REJECTED;
        } else if (!add && !has) {
            xfedctl_err("%s is not a hosted domain", given);
            code = XFED_EXIT_REJECTED;
        } else if (add && conf_strlist_add(&conf->hosted, domain) < 0) {
            code = xfedctl_oom();
        } else {
            if (!add)
                conf_strlist_remove(&conf->hosted, domain);
            code = xfedctl_commit(store, conf);
            if (code == XFED_EXIT_OK)
                printf("%s hosted domain %s (configuration version %llu)\n",
                       add ? "added" : "removed", domain, (unsigned long long)conf->version);
            conf_free(conf);
            conf_store_close(store);
            free(domain);
            return code;
        }
        conf_store_abort(store);
    }
    if (conf != NULL)
        conf_free(conf);
    if (store != NULL)
        conf_store_close(store);
    free(domain);
    return code;
}

static int hosted_add(int argc, char **argv, const struct xfedctl_ctx *ctx)
{
    return hosted_change(argc, argv, ctx, true);
}

static int hosted_remove(int argc, char **argv, const struct xfedctl_ctx *ctx)
{
    return hosted_change(argc, argv, ctx, false);
}

static const struct xfedctl_sub hosted_subs[] = {
    {"list", hosted_list, usage_list},
    {"add", hosted_add, usage_add},
    {"remove", hosted_remove, usage_remove},
    {NULL, NULL, NULL},
};

int xfedctl_hosted_main(int argc, char **argv, const struct xfedctl_ctx *ctx)
{
    return xfedctl_dispatch("hosted", hosted_subs, argc, argv, ctx);
}
