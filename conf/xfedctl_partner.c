/*
 * xfedctl_partner.c - `xfedctl partner new|set|get|remove`, the
 * New-/Set-/Get-/Remove-CsXmppAllowedPartner cmdlets of Lync Server 2013.
 *
 * Every change is one store transaction: the partner is built from the
 * options, checked with conf_partner_validate() (the one validation
 * function; its messages are printed as they are), then committed, which
 * validates the whole configuration again before writing it atomically.
 */
#include <fnmatch.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf_domain.h"
#include "conf_json.h"
#include "conf_validate.h"
#include "exitcodes.h"
#include "xfedctl_util.h"

enum {
    OPT_DESCRIPTION = 256,
    OPT_ADDITIONAL,
    OPT_TYPE,
    OPT_TLS,
    OPT_SASL,
    OPT_DIALBACK,
    OPT_LIMIT,
    OPT_KEEPALIVE,
    OPT_PROXY,
    OPT_ADD,
    OPT_REMOVE,
    OPT_CLEAR,
    OPT_FILTER,
    OPT_JSON,
};

#define PARTNER_COMMON_OPTS                                                                      \
    {"help", no_argument, NULL, 'h'}, {"description", required_argument, NULL, OPT_DESCRIPTION}, \
        {"additional-domains", required_argument, NULL, OPT_ADDITIONAL},                         \
        {"type", required_argument, NULL, OPT_TYPE}, {"tls", required_argument, NULL, OPT_TLS},  \
        {"sasl", required_argument, NULL, OPT_SASL},                                             \
        {"dialback", required_argument, NULL, OPT_DIALBACK},                                     \
        {"connection-limit", required_argument, NULL, OPT_LIMIT},                                \
        {"keepalive", required_argument, NULL, OPT_KEEPALIVE},                                   \
    {                                                                                            \
        "proxy-fqdn", required_argument, NULL, OPT_PROXY                                         \
    }

#define PARTNER_OPTIONS_HELP                                                                    \
    "  --description TEXT            free text\n"                                               \
    "  --additional-domains A,B      other domains of the same partner\n"                       \
    "  --type Federated|PublicVerified|PublicUnverified   (default PublicUnverified)\n"         \
    "  --tls Required|Optional|NotSupported               (default Required)\n"                 \
    "  --sasl Required|Optional|NotSupported              (default Required)\n"                 \
    "  --dialback true|false         Server Dialback, XEP-0220 (default true)\n"                \
    "  --connection-limit N          concurrent streams; 0 uses the global per-partner limit\n" \
    "  --keepalive true|false        send keep-alives (default true)\n"                         \
    "  --proxy-fqdn HOST[:PORT]      static route instead of DNS SRV\n"

static const char usage_new[] =
    "partner new DOMAIN [options]\n"
    "Adds an XMPP federated partner (New-CsXmppAllowedPartner).\n"
    "Options:\n" PARTNER_OPTIONS_HELP
    "Enumeration words are not case-sensitive. A combination the negotiation matrix\n"
    "rejects is refused with its message and matrix row; nothing is written.\n"
    "Exit: 0 created (warnings on stderr), 1 rejected, 2 usage, 3 system failure.\n"
    "Example: xfedctl partner new fabrikam.com --type Federated --tls Required --sasl Optional\n";

static const char usage_set[] =
    "partner set DOMAIN [options]\n"
    "Changes an existing partner (Set-CsXmppAllowedPartner); unnamed fields keep their value.\n"
    "Options:\n" PARTNER_OPTIONS_HELP
    "  --proxy-fqdn ''               remove the static route (use DNS SRV)\n"
    "  --add-additional-domain D     add one additional domain (repeatable)\n"
    "  --remove-additional-domain D  remove one additional domain (repeatable)\n"
    "  --clear-additional-domains    remove every additional domain\n"
    "Exit: 0 changed (warnings on stderr), 1 rejected or no such partner, 2 usage, 3 system "
    "failure.\n"
    "Example: xfedctl partner set fabrikam.com --add-additional-domain fabrikam.net\n";

static const char usage_get[] =
    "partner get [DOMAIN | --filter GLOB] [--json]\n"
    "Shows partners (Get-CsXmppAllowedPartner): all of them as a table, those whose\n"
    "primary domain matches GLOB (shell wildcards, not case-sensitive), or one partner\n"
    "in detail (DOMAIN may be its primary or an additional domain).\n"
    "Options:\n"
    "  --filter GLOB   only partners whose primary domain matches, e.g. '*.org'\n"
    "  --json          JSON instead of text\n"
    "Exit: 0 shown, 1 no such partner or invalid configuration, 2 usage, 3 system failure.\n"
    "Example: xfedctl partner get --filter '*.org' --json\n";

static const char usage_remove[] =
    "partner remove DOMAIN\n"
    "Removes a partner (Remove-CsXmppAllowedPartner).\n"
    "Exit: 0 removed, 1 no such partner, 2 usage, 3 system failure.\n"
    "Example: xfedctl partner remove fabrikam.com\n";

static const char usage_import[] =
    "partner import --lync FILE.csv [--dry-run]\n"
    "Imports the partners that Lync Server 2013 exported with\n"
    "  Get-CsXmppAllowedPartner | Export-Csv FILE.csv\n"
    "Columns are found by header name (any order, not case-sensitive): Identity (required),\n"
    "AdditionalDomains, ConnectionLimit, Description, EnableKeepAlive, PartnerType, ProxyFqdn,\n"
    "SaslNegotiation, SupportDialbackNegotiation, TlsNegotiation; others are ignored.\n"
    "Every row is validated as 'partner new' would validate it, duplicates included; if any\n"
    "row is refused nothing is written and every refused row is reported with its line.\n"
    "Options:\n"
    "  --lync FILE    the CSV file\n"
    "  --dry-run      validate and report, write nothing\n"
    "Exit: 0 imported (warnings on stderr), 1 rejected, 2 usage, 3 system failure.\n"
    "Example: xfedctl partner import --lync partners.csv --dry-run\n";

/* What the command line asked to change. */
struct partner_opts {
    const char *description;
    const char *additional; /* --additional-domains: replaces the list */
    const char *proxy;      /* "" clears */
    bool type_set, tls_set, sasl_set, dialback_set, limit_set, keepalive_set, clear;
    enum conf_partner_type type;
    enum conf_negotiation tls, sasl;
    bool dialback, keepalive;
    unsigned limit;
    struct conf_strlist add, del;
};

static void partner_opts_clear(struct partner_opts *o)
{
    conf_strlist_clear(&o->add);
    conf_strlist_clear(&o->del);
}

static bool partner_opts_empty(const struct partner_opts *o)
{
    return o->description == NULL && o->additional == NULL && o->proxy == NULL && !o->type_set &&
           !o->tls_set && !o->sasl_set && !o->dialback_set && !o->limit_set && !o->keepalive_set &&
           !o->clear && o->add.n == 0 && o->del.n == 0;
}

/* Parses one option shared by new and set. Returns 0 handled, 1 not a
 * shared option, or an exit code > 1. */
static int partner_opt(struct partner_opts *o, int c, const char *arg)
{
    switch (c) {
    case OPT_DESCRIPTION:
        o->description = arg;
        return 0;
    case OPT_ADDITIONAL:
        o->additional = arg;
        return 0;
    case OPT_PROXY:
        o->proxy = arg;
        return 0;
    case OPT_TYPE:
        if (conf_partner_type_parse(arg, &o->type) < 0)
            return xfedctl_usage("--type: '%s' is not Federated, PublicVerified or "
                                 "PublicUnverified",
                                 arg);
        o->type_set = true;
        return 0;
    case OPT_TLS:
    case OPT_SASL: {
        enum conf_negotiation n;
        if (conf_negotiation_parse(arg, &n) < 0)
            return xfedctl_usage("--%s: '%s' is not Required, Optional or NotSupported",
                                 c == OPT_TLS ? "tls" : "sasl", arg);
        if (c == OPT_TLS) {
            o->tls = n;
            o->tls_set = true;
        } else {
            o->sasl = n;
            o->sasl_set = true;
        }
        return 0;
    }
    case OPT_DIALBACK:
        if (conf_bool_parse(arg, &o->dialback) < 0)
            return xfedctl_usage("--dialback: '%s' is not true or false", arg);
        o->dialback_set = true;
        return 0;
    case OPT_KEEPALIVE:
        if (conf_bool_parse(arg, &o->keepalive) < 0)
            return xfedctl_usage("--keepalive: '%s' is not true or false", arg);
        o->keepalive_set = true;
        return 0;
    case OPT_LIMIT:
        if (xfedctl_parse_uint(arg, &o->limit) < 0)
            return xfedctl_usage("--connection-limit: '%s' is not a number", arg);
        o->limit_set = true;
        return 0;
    case OPT_ADD:
    case OPT_REMOVE:
        if (conf_strlist_add(c == OPT_ADD ? &o->add : &o->del, arg) < 0)
            return xfedctl_oom();
        return 0;
    case OPT_CLEAR:
        o->clear = true;
        return 0;
    default:
        return 1;
    }
}

/* Adds every domain of a comma- or space-separated list, normalised where
 * possible (validation reports the others in its own words). */
static int partner_add_list(struct conf_strlist *l, const char *list)
{
    char *copy = strdup(list), *save = NULL;

    if (copy == NULL)
        return -1;
    for (char *t = strtok_r(copy, ", \t", &save); t != NULL; t = strtok_r(NULL, ", \t", &save)) {
        char *d = xfedctl_domain(t);
        if (d == NULL || conf_strlist_add(l, d) < 0) {
            free(d);
            free(copy);
            return -1;
        }
        free(d);
    }
    free(copy);
    return 0;
}

/* Applies o to p. Returns 0, or an exit code after printing why. */
static int partner_apply(struct conf_partner *p, const struct partner_opts *o)
{
    if (o->description != NULL) {
        char *d = strdup(o->description);
        if (d == NULL)
            return xfedctl_oom();
        free(p->description);
        p->description = d;
    }
    if (o->type_set)
        p->type = o->type;
    if (o->tls_set)
        p->tls = o->tls;
    if (o->sasl_set)
        p->sasl = o->sasl;
    if (o->dialback_set)
        p->dialback = o->dialback;
    if (o->keepalive_set)
        p->keepalive = o->keepalive;
    if (o->limit_set)
        p->connection_limit = o->limit;
    if (o->proxy != NULL) {
        free(p->proxy_host);
        p->proxy_host = NULL;
        p->proxy_port = 0;
        if (o->proxy[0] != '\0') {
            char host[CONF_DOMAIN_BUFSZ];
            unsigned port = 0;
            const char *why = "invalid";
            if (conf_hostport_parse(o->proxy, host, sizeof(host), &port, &why) < 0) {
                xfedctl_err("--proxy-fqdn: '%s': %s", o->proxy, why);
                return XFED_EXIT_REJECTED;
            }
            p->proxy_host = strdup(host);
            if (p->proxy_host == NULL)
                return xfedctl_oom();
            p->proxy_port = (uint16_t)port;
        }
    }
    if (o->clear)
        conf_strlist_clear(&p->additional);
    if (o->additional != NULL) {
        conf_strlist_clear(&p->additional);
        if (partner_add_list(&p->additional, o->additional) < 0)
            return xfedctl_oom();
    }
    for (size_t i = 0; i < o->del.n; i++) {
        char *d = xfedctl_domain(o->del.v[i]);
        if (d == NULL)
            return xfedctl_oom();
        bool removed = conf_strlist_remove(&p->additional, d);
        if (!removed)
            xfedctl_err("%s is not an additional domain of partner %s", o->del.v[i], p->domain);
        free(d);
        if (!removed)
            return XFED_EXIT_REJECTED;
    }
    for (size_t i = 0; i < o->add.n; i++)
        if (partner_add_list(&p->additional, o->add.v[i]) < 0)
            return xfedctl_oom();
    return XFED_EXIT_OK;
}

/* Validates p for conf, then stores it (replacing the partner whose primary
 * domain is `replacing`, or appending), commits and reports. */
static int partner_save(struct conf_store *store, struct conf *conf, struct conf_partner *p,
                        const char *replacing, const char *verb)
{
    struct conf_report r;
    int code;

    conf_report_init(&r);
    if (conf_partner_validate(conf, p, replacing, &r) == CONF_REJECTED) {
        xfedctl_report(NULL, &r, false);
        conf_report_clear(&r);
        conf_store_abort(store);
        return XFED_EXIT_REJECTED;
    }
    int rc;
    if (replacing != NULL)
        rc = conf_partner_replace(conf, (size_t)conf_partner_index(conf, replacing), p);
    else
        rc = conf_partner_add(conf, p);
    if (rc < 0) {
        conf_report_clear(&r);
        conf_store_abort(store);
        return xfedctl_oom();
    }
    code = xfedctl_commit(store, conf);
    if (code == XFED_EXIT_OK) {
        xfedctl_report(NULL, &r, false);
        printf("%s partner %s (configuration version %llu)\n", verb, p->domain,
               (unsigned long long)conf->version);
    }
    conf_report_clear(&r);
    return code;
}

static int partner_parse(int argc, char **argv, const struct option *longopts,
                         struct partner_opts *o)
{
    int c;

    xfedctl_getopt_reset(argv);
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (c == 'h')
            return xfedctl_help();
        if (c == '?' || c == ':')
            return xfedctl_usage(NULL);
        int rc = partner_opt(o, c, optarg);
        if (rc > 1)
            return rc;
        if (rc == 1)
            return xfedctl_usage(NULL);
    }
    if (argc - optind < 1)
        return xfedctl_usage("missing DOMAIN");
    if (argc - optind > 1)
        return xfedctl_usage("unexpected argument '%s'", argv[optind + 1]);
    return -1;
}

static int partner_new(int argc, char **argv, const struct xfedctl_ctx *ctx)
{
    static const struct option longopts[] = {
        PARTNER_COMMON_OPTS,
        {NULL, 0, NULL, 0},
    };
    struct partner_opts o = {0};
    struct conf_partner p;
    struct conf *conf = NULL;
    int code = partner_parse(argc, argv, longopts, &o);

    if (code >= 0) {
        partner_opts_clear(&o);
        return code;
    }
    char *domain = xfedctl_domain(argv[optind]);
    if (domain == NULL || conf_partner_init(&p, domain) < 0) {
        free(domain);
        partner_opts_clear(&o);
        return xfedctl_oom();
    }
    free(domain);
    code = partner_apply(&p, &o);
    partner_opts_clear(&o);
    if (code != XFED_EXIT_OK) {
        conf_partner_clear(&p);
        return code;
    }
    struct conf_store *store = xfedctl_store_open(ctx, &code);
    if (store != NULL) {
        code = xfedctl_begin(store, &conf);
        if (code == XFED_EXIT_OK)
            code = partner_save(store, conf, &p, NULL, "created");
        if (conf != NULL)
            conf_free(conf);
        conf_store_close(store);
    }
    conf_partner_clear(&p);
    return code;
}

/* Index of the partner whose primary domain is domain, or -1 after saying
 * why there is none. */
static ssize_t partner_lookup(const struct conf *conf, const char *domain, const char *given)
{
    ssize_t i = conf_partner_index(conf, domain);

    if (i >= 0)
        return i;
    i = conf_partner_find(conf, domain);
    if (i >= 0)
        xfedctl_err("%s is an additional domain of partner %s; name the partner by its primary "
                    "domain",
                    given, conf->partners[i].domain);
    else
        xfedctl_err("no partner %s", given);
    return -1;
}

static int partner_set(int argc, char **argv, const struct xfedctl_ctx *ctx)
{
    static const struct option longopts[] = {
        PARTNER_COMMON_OPTS,
        {"add-additional-domain", required_argument, NULL, OPT_ADD},
        {"remove-additional-domain", required_argument, NULL, OPT_REMOVE},
        {"clear-additional-domains", no_argument, NULL, OPT_CLEAR},
        {NULL, 0, NULL, 0},
    };
    struct partner_opts o = {0};
    struct conf *conf = NULL;
    int code = partner_parse(argc, argv, longopts, &o);

    if (code >= 0) {
        partner_opts_clear(&o);
        return code;
    }
    if (partner_opts_empty(&o)) {
        partner_opts_clear(&o);
        return xfedctl_usage("nothing to change");
    }
    const char *given = argv[optind];
    char *domain = xfedctl_domain(given);
    if (domain == NULL) {
        partner_opts_clear(&o);
        return xfedctl_oom();
    }
    struct conf_store *store = xfedctl_store_open(ctx, &code);
    if (store != NULL && (code = xfedctl_begin(store, &conf)) == XFED_EXIT_OK) {
        ssize_t i = partner_lookup(conf, domain, given);
        struct conf_partner p;
        if (i < 0) {
            conf_store_abort(store);
            code = XFED_EXIT_REJECTED;
        } else if (conf_partner_copy(&p, &conf->partners[i]) < 0) {
            conf_store_abort(store);
            code = xfedctl_oom();
        } else {
            code = partner_apply(&p, &o);
            if (code == XFED_EXIT_OK)
                code = partner_save(store, conf, &p, conf->partners[i].domain, "changed");
            else
                conf_store_abort(store);
            conf_partner_clear(&p);
        }
    }
    if (conf != NULL)
        conf_free(conf);
    if (store != NULL)
        conf_store_close(store);
    free(domain);
    partner_opts_clear(&o);
    return code;
}

static int partner_remove(int argc, char **argv, const struct xfedctl_ctx *ctx)
{
    struct conf *conf = NULL;
    int code = xfedctl_no_options(argc, argv, 1, 1);

    if (code >= 0)
        return code;
    const char *given = argv[optind];
    char *domain = xfedctl_domain(given);
    if (domain == NULL)
        return xfedctl_oom();
    struct conf_store *store = xfedctl_store_open(ctx, &code);
    if (store != NULL && (code = xfedctl_begin(store, &conf)) == XFED_EXIT_OK) {
        ssize_t i = partner_lookup(conf, domain, given);
        if (i < 0) {
            conf_store_abort(store);
            code = XFED_EXIT_REJECTED;
        } else {
            conf_partner_remove(conf, (size_t)i);
            code = xfedctl_commit(store, conf);
            if (code == XFED_EXIT_OK)
                printf("removed partner %s (configuration version %llu)\n", domain,
                       (unsigned long long)conf->version);
        }
    }
    if (conf != NULL)
        conf_free(conf);
    if (store != NULL)
        conf_store_close(store);
    free(domain);
    return code;
}

static void partner_print_list(const struct conf_strlist *l, const char *sep)
{
    if (l->n == 0) {
        fputs("-", stdout);
        return;
    }
    for (size_t i = 0; i < l->n; i++)
        printf("%s%s", i > 0 ? sep : "", l->v[i]);
}

static void partner_pad(const char *s, size_t width)
{
    fputs(s, stdout);
    for (size_t w = xfedctl_width(s); w < width; w++)
        fputc(' ', stdout);
}

static void partner_table(const struct conf_partner *const *v, size_t n)
{
    size_t wd = strlen("DOMAIN"), wt = strlen("TYPE");

    for (size_t i = 0; i < n; i++) {
        size_t w = xfedctl_width(v[i]->domain);
        if (w > wd)
            wd = w;
        w = strlen(conf_partner_type_name(v[i]->type));
        if (w > wt)
            wt = w;
    }
    partner_pad("DOMAIN", wd + 2);
    partner_pad("TYPE", wt + 2);
    printf("%-14s%-14s%-10s%s\n", "TLS", "SASL", "DIALBACK", "ADDITIONAL DOMAINS");
    for (size_t i = 0; i < n; i++) {
        partner_pad(v[i]->domain, wd + 2);
        partner_pad(conf_partner_type_name(v[i]->type), wt + 2);
        printf("%-14s%-14s%-10s", conf_negotiation_name(v[i]->tls),
               conf_negotiation_name(v[i]->sasl), v[i]->dialback ? "true" : "false");
        partner_print_list(&v[i]->additional, ",");
        fputc('\n', stdout);
    }
}

static void partner_detail(const struct conf *conf, const struct conf_partner *p)
{
    struct conf_matrix_verdict mv = conf_matrix_check(p->tls, p->sasl, p->dialback);
    char ascii[CONF_DOMAIN_BUFSZ];

    printf("domain:              %s\n", p->domain);
    if (conf_domain_to_ascii(p->domain, ascii, sizeof(ascii)) == 0 && strcmp(ascii, p->domain) != 0)
        printf("domain (A-label):    %s\n", ascii);
    printf("description:         %s\n", p->description);
    printf("additional domains:  ");
    partner_print_list(&p->additional, ", ");
    printf("\ntype:                %s\n", conf_partner_type_name(p->type));
    printf("tls:                 %s\n", conf_negotiation_name(p->tls));
    printf("sasl:                %s\n", conf_negotiation_name(p->sasl));
    printf("dialback:            %s\n", p->dialback ? "true" : "false");
    if (p->connection_limit == 0)
        printf("connection limit:    %u (global per-partner limit)\n", conf_partner_limit(conf, p));
    else
        printf("connection limit:    %u\n", p->connection_limit);
    printf("keepalive:           %s\n", p->keepalive ? "true" : "false");
    if (p->proxy_host == NULL)
        printf("proxy fqdn:          (none: DNS SRV)\n");
    else if (strchr(p->proxy_host, ':') != NULL)
        printf("proxy fqdn:          [%s]:%u\n", p->proxy_host,
               p->proxy_port ? p->proxy_port : 5269);
    else
        printf("proxy fqdn:          %s:%u\n", p->proxy_host, p->proxy_port ? p->proxy_port : 5269);
    printf("negotiation:         matrix row %d%s%s\n", mv.row, mv.message[0] ? ": " : "",
           mv.message);
}

static int partner_get(int argc, char **argv, const struct xfedctl_ctx *ctx)
{
    static const struct option longopts[] = {
        {"help", no_argument, NULL, 'h'},
        {"filter", required_argument, NULL, OPT_FILTER},
        {"json", no_argument, NULL, OPT_JSON},
        {NULL, 0, NULL, 0},
    };
    const char *filter = NULL;
    bool json = false;
    int c, code;

    xfedctl_getopt_reset(argv);
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'h':
            return xfedctl_help();
        case OPT_FILTER:
            filter = optarg;
            break;
        case OPT_JSON:
            json = true;
            break;
        default:
            return xfedctl_usage(NULL);
        }
    }
    if (argc - optind > 1)
        return xfedctl_usage("unexpected argument '%s'", argv[optind + 1]);
    const char *given = argc - optind == 1 ? argv[optind] : NULL;
    if (given != NULL && filter != NULL)
        return xfedctl_usage("give either DOMAIN or --filter");

    struct conf_store *store = xfedctl_store_open(ctx, &code);
    if (store == NULL)
        return code;
    struct conf *conf = xfedctl_load(store, &code);
    conf_store_close(store);
    if (conf == NULL)
        return code;

    code = XFED_EXIT_OK;
    if (given != NULL) {
        char *domain = xfedctl_domain(given);
        ssize_t i = domain != NULL ? conf_partner_find(conf, domain) : -1;
        free(domain);
        if (i < 0) {
            xfedctl_err("no partner %s", given);
            code = XFED_EXIT_REJECTED;
        } else if (json) {
            struct jbuf jb;
            jbuf_init(&jb);
            conf_json_partner(&jb, conf, &conf->partners[i]);
            if (jb.failed || jb.s == NULL)
                code = xfedctl_oom();
            else
                printf("%s\n", jb.s);
            jbuf_free(&jb);
        } else {
            partner_detail(conf, &conf->partners[i]);
        }
        conf_free(conf);
        return code;
    }

    const struct conf_partner **v = calloc(conf->n_partners + 1, sizeof(*v));
    size_t n = 0;
    if (v == NULL) {
        conf_free(conf);
        return xfedctl_oom();
    }
    for (size_t i = 0; i < conf->n_partners; i++)
        if (filter == NULL || fnmatch(filter, conf->partners[i].domain, FNM_CASEFOLD) == 0)
            v[n++] = &conf->partners[i];
    if (json) {
        struct jbuf jb;
        jbuf_init(&jb);
        conf_json_partners(&jb, conf, v, n);
        if (jb.failed || jb.s == NULL)
            code = xfedctl_oom();
        else
            printf("%s\n", jb.s);
        jbuf_free(&jb);
    } else if (n > 0) {
        partner_table(v, n);
    }
    free(v);
    conf_free(conf);
    return code;
}

static const struct xfedctl_sub partner_subs[] = {
    {"new", partner_new, usage_new},
    {"set", partner_set, usage_set},
    {"get", partner_get, usage_get},
    {"remove", partner_remove, usage_remove},
    {"import", xfedctl_partner_import, usage_import},
    {NULL, NULL, NULL},
};

int xfedctl_partner_main(int argc, char **argv, const struct xfedctl_ctx *ctx)
{
    return xfedctl_dispatch("partner", partner_subs, argc, argv, ctx);
}
