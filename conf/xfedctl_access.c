/*
 * xfedctl_access.c - `xfedctl access ...`: which internal users may
 * federate over XMPP. A default, overridden per hosted domain, overridden
 * per user; conf_access_for() is the one function that decides, and
 * `access test` shows its answer and the rule behind it.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf_domain.h"
#include "conf_json.h"
#include "exitcodes.h"
#include "xfedctl_util.h"

enum { OPT_JSON = 256 };

static const char usage_show[] =
    "access show [--json]\n"
    "Shows the per-user XMPP access policy: the default, then the rules per hosted\n"
    "domain and per user. A user rule beats a domain rule, which beats the default.\n"
    "Options:\n"
    "  --json   JSON instead of text\n"
    "Exit: 0, 1 invalid configuration, 2 usage, 3 system failure.\n"
    "Example: xfedctl access show\n";

static const char usage_default[] = "access default allow|deny\n"
                                    "Sets the access of users that no rule names.\n"
                                    "Exit: 0 changed, 1 rejected, 2 usage, 3 system failure.\n"
                                    "Example: xfedctl access default deny\n";

static const char usage_domain[] =
    "access domain DOMAIN allow|deny|clear\n"
    "Sets or clears the rule for every user of a hosted domain.\n"
    "Exit: 0 changed, 1 rejected (not a hosted domain, no rule to clear), 2 usage,\n"
    "3 system failure.\n"
    "Example: xfedctl access domain contoso.com allow\n";

static const char usage_user[] =
    "access user USER@DOMAIN allow|deny|clear\n"
    "Sets or clears the rule for one user of a hosted domain.\n"
    "Exit: 0 changed, 1 rejected (domain not hosted, no rule to clear), 2 usage,\n"
    "3 system failure.\n"
    "Example: xfedctl access user alice@contoso.com deny\n";

static const char usage_test[] = "access test USER@DOMAIN\n"
                                 "Prints whether the user may federate and which rule decides.\n"
                                 "Exit: 0, 1 invalid configuration, 2 usage, 3 system failure.\n"
                                 "Example: xfedctl access test alice@contoso.com\n";

/* "local@domain" with the domain in its normalised form, as conf_file.c
 * stores user rules; a domain that does not normalise is kept as given so
 * that validation names it. NULL when there is no '@' (*bad set) or on
 * memory exhaustion. */
static char *access_user_subject(const char *given, bool *bad)
{
    const char *at = strrchr(given, '@');
    char norm[CONF_DOMAIN_BUFSZ];
    const char *why;
    char *s = NULL;

    *bad = at == NULL || at == given || at[1] == '\0';
    if (*bad)
        return NULL;
    const char *domain =
        conf_domain_normalize(at + 1, norm, sizeof(norm), &why) == 0 ? norm : at + 1;
    if (asprintf(&s, "%.*s@%s", (int)(at - given), given, domain) < 0)
        return NULL;
    return s;
}

static void access_print_rules(const char *kind, const struct conf_access_rule *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        printf("%s %s: %s\n", kind, v[i].subject, conf_access_name(v[i].access));
}

static int access_show(int argc, char **argv, const struct xfedctl_ctx *ctx)
{
    static const struct option longopts[] = {
        {"help", no_argument, NULL, 'h'},
        {"json", no_argument, NULL, OPT_JSON},
        {NULL, 0, NULL, 0},
    };
    bool json = false;
    int c, code;

    xfedctl_getopt_reset(argv);
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'h':
            return xfedctl_help();
        case OPT_JSON:
            json = true;
            break;
        default:
            return xfedctl_usage(NULL);
        }
    }
    if (optind < argc)
        return xfedctl_usage("unexpected argument '%s'", argv[optind]);
    struct conf_store *store = xfedctl_store_open(ctx, &code);
    if (store == NULL)
        return code;
    struct conf *conf = xfedctl_load(store, &code);
    conf_store_close(store);
    if (conf == NULL)
        return code;
    code = XFED_EXIT_OK;
    if (json) {
        struct jbuf jb;
        jbuf_init(&jb);
        conf_json_access(&jb, conf);
        if (jb.failed || jb.s == NULL)
            code = xfedctl_oom();
        else
            printf("%s\n", jb.s);
        jbuf_free(&jb);
    } else {
        printf("default: %s\n", conf_access_name(conf->access.default_access));
        access_print_rules("domain", conf->access.domains, conf->access.n_domains);
        access_print_rules("user", conf->access.users, conf->access.n_users);
    }
    conf_free(conf);
    return code;
}

/* Sets (access given) or clears (access NULL) the rule for subject in the
 * array *v of *n rules. Returns 0, 1 when there was nothing to clear, -1 on
 * memory exhaustion. */
static int access_rule_edit(struct conf_access_rule **v, size_t *n, const char *subject,
                            const enum conf_access *access)
{
    for (size_t i = 0; i < *n; i++) {
        if (strcasecmp((*v)[i].subject, subject) != 0)
            continue;
        if (access != NULL) {
            (*v)[i].access = *access;
            return 0;
        }
        free((*v)[i].subject);
        memmove(&(*v)[i], &(*v)[i + 1], (*n - i - 1) * sizeof(**v));
        (*n)--;
        return 0;
    }
    if (access == NULL)
        return 1;
    struct conf_access_rule *nv = realloc(*v, (*n + 1) * sizeof(*nv));
    if (nv == NULL)
        return -1;
    *v = nv;
    if ((nv[*n].subject = strdup(subject)) == NULL)
        return -1;
    nv[*n].access = *access;
    (*n)++;
    return 0;
}

/* Parses "allow", "deny" or (when clear_ok) "clear". Returns 0 with *set
 * NULL for clear, or -1. */
static int access_word(const char *w, bool clear_ok, enum conf_access *a,
                       const enum conf_access **set)
{
    if (clear_ok && strcasecmp(w, "clear") == 0) {
        *set = NULL;
        return 0;
    }
    if (conf_access_parse(w, a) < 0)
        return -1;
    *set = a;
    return 0;
}

/* access default|domain|user: one transaction on the policy. */
static int access_change(int argc, char **argv, const struct xfedctl_ctx *ctx, int kind)
{
    int code = xfedctl_no_options(argc, argv, kind == 0 ? 1 : 2, kind == 0 ? 1 : 2);
    enum conf_access a;
    const enum conf_access *set = NULL;
    char *subject = NULL;

    if (code >= 0)
        return code;
    const char *word = argv[argc - 1];
    if (access_word(word, kind != 0, &a, &set) < 0)
        return xfedctl_usage("'%s' is not %s", word,
                             kind == 0 ? "allow or deny" : "allow, deny or clear");
    if (kind == 1) {
        subject = xfedctl_domain(argv[optind]);
        if (subject == NULL)
            return xfedctl_oom();
    } else if (kind == 2) {
        bool bad;
        subject = access_user_subject(argv[optind], &bad);
        if (bad)
            return xfedctl_usage("'%s' is not USER@DOMAIN", argv[optind]);
        if (subject == NULL)
            return xfedctl_oom();
    }

    struct conf *conf = NULL;
    struct conf_store *store = xfedctl_store_open(ctx, &code);
    if (store == NULL || (code = xfedctl_begin(store, &conf)) != XFED_EXIT_OK)
        goto out;
    int rc = 0;
    if (kind == 0)
        conf->access.default_access = a;
    else if (kind == 1)
        rc = access_rule_edit(&conf->access.domains, &conf->access.n_domains, subject, set);
    else
        rc = access_rule_edit(&conf->access.users, &conf->access.n_users, subject, set);
    if (rc != 0) {
        conf_store_abort(store);
        if (rc < 0) {
            code = xfedctl_oom();
        } else {
            xfedctl_err("no access rule for %s %s; nothing was changed",
                        kind == 1 ? "domain" : "user", argv[optind]);
            code = XFED_EXIT_REJECTED;
        }
        goto out;
    }
    code = xfedctl_commit(store, conf);
    if (code == XFED_EXIT_OK) {
        if (kind == 0)
            printf("access default: %s", conf_access_name(a));
        else if (set == NULL)
            printf("cleared access rule for %s %s", kind == 1 ? "domain" : "user", subject);
        else
            printf("access %s %s: %s", kind == 1 ? "domain" : "user", subject, conf_access_name(a));
        printf(" (configuration version %llu)\n", (unsigned long long)conf->version);
    }
out:
    if (conf != NULL)
        conf_free(conf);
    if (store != NULL)
        conf_store_close(store);
    free(subject);
    return code;
}

static int access_default(int argc, char **argv, const struct xfedctl_ctx *ctx)
{
    return access_change(argc, argv, ctx, 0);
}

static int access_domain(int argc, char **argv, const struct xfedctl_ctx *ctx)
{
    return access_change(argc, argv, ctx, 1);
}

static int access_user(int argc, char **argv, const struct xfedctl_ctx *ctx)
{
    return access_change(argc, argv, ctx, 2);
}

static const struct conf_access_rule *access_rule_find(const struct conf_access_rule *v, size_t n,
                                                       const char *subject)
{
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(v[i].subject, subject) == 0)
            return &v[i];
    return NULL;
}

static int access_test(int argc, char **argv, const struct xfedctl_ctx *ctx)
{
    int code = xfedctl_no_options(argc, argv, 1, 1);
    bool bad;

    if (code >= 0)
        return code;
    char *user = access_user_subject(argv[optind], &bad);
    if (bad)
        return xfedctl_usage("'%s' is not USER@DOMAIN", argv[optind]);
    if (user == NULL)
        return xfedctl_oom();
    struct conf_store *store = xfedctl_store_open(ctx, &code);
    struct conf *conf = store != NULL ? xfedctl_load(store, &code) : NULL;
    if (conf != NULL) {
        const char *domain = strrchr(user, '@') + 1;
        enum conf_access a = conf_access_for(conf, user);
        const struct conf_access_rule *r;
        /* Name the rule that conf_access_for() applied, in its order. */
        if ((r = access_rule_find(conf->access.users, conf->access.n_users, user)) != NULL)
            printf("%s: %s (user rule %s)\n", user, conf_access_name(a), r->subject);
        else if ((r = access_rule_find(conf->access.domains, conf->access.n_domains, domain)))
            printf("%s: %s (domain rule %s)\n", user, conf_access_name(a), r->subject);
        else
            printf("%s: %s (default)\n", user, conf_access_name(a));
        if (!conf_strlist_has(&conf->hosted, domain))
            fprintf(stderr,
                    "warning: %s is not a hosted domain; the access policy applies to "
                    "internal users only\n",
                    domain);
        conf_free(conf);
        code = XFED_EXIT_OK;
    }
    if (store != NULL)
        conf_store_close(store);
    free(user);
    return code;
}

static const struct xfedctl_sub access_subs[] = {
    {"show", access_show, usage_show},       {"default", access_default, usage_default},
    {"domain", access_domain, usage_domain}, {"user", access_user, usage_user},
    {"test", access_test, usage_test},       {NULL, NULL, NULL},
};

int xfedctl_access_main(int argc, char **argv, const struct xfedctl_ctx *ctx)
{
    return xfedctl_dispatch("access", access_subs, argc, argv, ctx);
}
