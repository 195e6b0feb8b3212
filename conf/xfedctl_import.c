/*
 * xfedctl_import.c - `xfedctl partner import --lync FILE.csv`: moves the
 * partners of a Lync Server 2013 deployment, as exported with
 * `Get-CsXmppAllowedPartner | Export-Csv`, into the store.
 *
 * All or nothing: every row becomes a partner record checked by
 * conf_partner_validate() against the stored partners and the rows before
 * it (so duplicates inside the file are caught too); if any row is refused,
 * every refused row is reported with its line and nothing is written.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf_atomic.h"
#include "conf_domain.h"
#include "conf_lync.h"
#include "conf_validate.h"
#include "exitcodes.h"
#include "xfedctl_util.h"

/* Largest CSV accepted: far above any real partner list. */
#define IMPORT_MAX_FILE (16u * 1024 * 1024)

enum { OPT_LYNC = 256, OPT_DRY_RUN };

/* Column indexes of the export, -1 when a column is absent. */
struct import_cols {
    ssize_t identity, additional, limit, description, keepalive, type, proxy, sasl, dialback, tls;
};

static void import_find_cols(const struct conf_lync *csv, struct import_cols *c)
{
    c->identity = conf_lync_column(csv, "Identity");
    c->additional = conf_lync_column(csv, "AdditionalDomains");
    c->limit = conf_lync_column(csv, "ConnectionLimit");
    c->description = conf_lync_column(csv, "Description");
    c->keepalive = conf_lync_column(csv, "EnableKeepAlive");
    c->type = conf_lync_column(csv, "PartnerType");
    c->proxy = conf_lync_column(csv, "ProxyFqdn");
    c->sasl = conf_lync_column(csv, "SaslNegotiation");
    c->dialback = conf_lync_column(csv, "SupportDialbackNegotiation");
    c->tls = conf_lync_column(csv, "TlsNegotiation");
}

/* A copy of s without surrounding white space; NULL on memory exhaustion. */
static char *import_trim(const char *s)
{
    size_t n;

    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
        s++;
    n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        n--;
    return strndup(s, n);
}

/* AdditionalDomains: Export-Csv writes a collection either as its values
 * separated by spaces or as the collection's type name. */
static int import_additional(struct conf_partner *p, const char *field, struct conf_report *r)
{
    char *copy = import_trim(field), *save = NULL;

    if (copy == NULL)
        return -1;
    if (strstr(copy, "System.") != NULL) {
        conf_report_add(
            r, CONF_WARNING, "additional_domains", NULL, 0, 0,
            "AdditionalDomains holds the type name \"%s\", not domain names; imported without "
            "additional domains (add them with 'xfedctl partner set %s "
            "--add-additional-domain D')",
            copy, p->domain);
        free(copy);
        return 0;
    }
    for (char *t = strtok_r(copy, "{}, ;\t\r\n", &save); t != NULL;
         t = strtok_r(NULL, "{}, ;\t\r\n", &save)) {
        char *d = xfedctl_domain(t);
        if (d == NULL || conf_strlist_add(&p->additional, d) < 0) {
            free(d);
            free(copy);
            return -1;
        }
        free(d);
    }
    free(copy);
    return 0;
}

static void import_negotiation(const char *column, const char *field, const char *name,
                               enum conf_negotiation *out, struct conf_report *r)
{
    char *v = import_trim(field);

    if (v == NULL)
        conf_report_add(r, CONF_ERROR, name, NULL, 0, 0, "out of memory");
    else if (v[0] != '\0' && conf_negotiation_parse(v, out) < 0)
        conf_report_add(r, CONF_ERROR, name, NULL, 0, 0,
                        "%s: \"%s\" is not Required, Optional or NotSupported", column, v);
    free(v);
}

static void import_bool(const char *column, const char *field, const char *name, bool *out,
                        struct conf_report *r)
{
    char *v = import_trim(field);

    if (v == NULL)
        conf_report_add(r, CONF_ERROR, name, NULL, 0, 0, "out of memory");
    else if (v[0] != '\0' && conf_bool_parse(v, out) < 0)
        conf_report_add(r, CONF_ERROR, name, NULL, 0, 0, "%s: \"%s\" is not True or False", column,
                        v);
    free(v);
}

/* Builds the partner of one row into p (initialised here, cleared by the
 * caller). Problems that are the file's, not the model's, go to r. Returns
 * 0, -1 on memory exhaustion. */
static int import_row(const struct conf_lync *csv, size_t row, const struct import_cols *c,
                      struct conf_partner *p, struct conf_report *r)
{
    char *id = import_trim(conf_lync_field(csv, row, c->identity));
    char *domain = NULL;

    if (id == NULL)
        return -1;
    if (id[0] == '\0')
        conf_report_add(r, CONF_ERROR, "domain", NULL, 0, 0, "Identity is empty");
    domain = xfedctl_domain(id);
    free(id);
    if (domain == NULL || conf_partner_init(p, domain) < 0) {
        free(domain);
        return -1;
    }
    free(domain);

    char *desc = strdup(conf_lync_field(csv, row, c->description));
    if (desc == NULL)
        return -1;
    /* Lync allowed line breaks in a description; xfed.conf keeps one line. */
    bool folded = false;
    for (char *q = desc; *q != '\0'; q++) {
        if (*q == '\r' || *q == '\n' || *q == '\t') {
            *q = ' ';
            folded = true;
        }
    }
    if (folded)
        conf_report_add(r, CONF_WARNING, "description", NULL, 0, 0,
                        "Description: line breaks and tabs replaced by spaces");
    free(p->description);
    p->description = desc;

    if (import_additional(p, conf_lync_field(csv, row, c->additional), r) < 0)
        return -1;

    char *v = import_trim(conf_lync_field(csv, row, c->limit));
    if (v == NULL)
        return -1;
    if (v[0] != '\0' && xfedctl_parse_uint(v, &p->connection_limit) < 0)
        conf_report_add(r, CONF_ERROR, "connection_limit", NULL, 0, 0,
                        "ConnectionLimit: \"%s\" is not a number", v);
    free(v);

    v = import_trim(conf_lync_field(csv, row, c->type));
    if (v == NULL)
        return -1;
    if (v[0] != '\0' && conf_partner_type_parse(v, &p->type) < 0)
        conf_report_add(r, CONF_ERROR, "type", NULL, 0, 0,
                        "PartnerType: \"%s\" is not Federated, PublicVerified or PublicUnverified",
                        v);
    free(v);

    v = import_trim(conf_lync_field(csv, row, c->proxy));
    if (v == NULL)
        return -1;
    if (v[0] != '\0') {
        char host[CONF_DOMAIN_BUFSZ];
        unsigned port = 0;
        const char *why = "invalid";
        if (conf_hostport_parse(v, host, sizeof(host), &port, &why) < 0) {
            conf_report_add(r, CONF_ERROR, "proxy_fqdn", NULL, 0, 0, "ProxyFqdn: \"%s\": %s", v,
                            why);
        } else {
            p->proxy_host = strdup(host);
            p->proxy_port = (uint16_t)port;
            if (p->proxy_host == NULL) {
                free(v);
                return -1;
            }
        }
    }
    free(v);

    import_negotiation("TlsNegotiation", conf_lync_field(csv, row, c->tls), "tls", &p->tls, r);
    import_negotiation("SaslNegotiation", conf_lync_field(csv, row, c->sasl), "sasl", &p->sasl, r);
    import_bool("SupportDialbackNegotiation", conf_lync_field(csv, row, c->dialback), "dialback",
                &p->dialback, r);
    import_bool("EnableKeepAlive", conf_lync_field(csv, row, c->keepalive), "keepalive",
                &p->keepalive, r);
    return 0;
}

static void import_summary(const char *verb, const struct conf_partner *p)
{
    printf("%s %s: type %s, tls %s, sasl %s, dialback %s", verb, p->domain,
           conf_partner_type_name(p->type), conf_negotiation_name(p->tls),
           conf_negotiation_name(p->sasl), p->dialback ? "true" : "false");
    if (p->additional.n > 0) {
        fputs(", additional domains ", stdout);
        for (size_t i = 0; i < p->additional.n; i++)
            printf("%s%s", i > 0 ? " " : "", p->additional.v[i]);
    }
    fputc('\n', stdout);
}

/* Reads and parses the file; prints why not and returns an exit code, or
 * -1 with csv filled. */
static int import_read(const char *path, struct conf_lync *csv)
{
    size_t len = 0;
    char *data = conf_read_file(path, IMPORT_MAX_FILE, &len);
    struct conf_lync_error err;

    if (data == NULL) {
        int e = errno;
        if (e == EFBIG)
            xfedctl_err("%s: larger than %u bytes", path, IMPORT_MAX_FILE);
        else
            xfedctl_err("cannot read %s: %s", path, strerror(e));
        return e == ENOMEM ? XFED_EXIT_SYSTEM : XFED_EXIT_REJECTED;
    }
    int rc = conf_lync_parse(data, len, NULL, csv, &err);
    free(data);
    if (rc < 0) {
        fprintf(stderr, "%s:%zu: error: %s\n", path, err.line, err.message);
        return XFED_EXIT_REJECTED;
    }
    if (conf_lync_column(csv, "Identity") < 0) {
        fprintf(stderr, "%s:%zu: error: no Identity column in the header\n", path,
                csv->header.line);
        conf_lync_clear(csv);
        return XFED_EXIT_REJECTED;
    }
    return -1;
}

/* Adds every row to conf. Returns 0 when all were accepted, 1 when some
 * were refused (each reported), 3 on memory exhaustion. Warnings of the
 * accepted rows are kept in warn[row]. */
static int import_rows(const char *path, const struct conf_lync *csv, struct conf *conf,
                       struct conf_report *warn)
{
    struct import_cols cols;
    size_t refused = 0;

    import_find_cols(csv, &cols);
    for (size_t i = 0; i < csv->n_rows; i++) {
        struct conf_partner p;
        struct conf_report *r = &warn[i];
        char prefix[4096];

        memset(&p, 0, sizeof(p));
        snprintf(prefix, sizeof(prefix), "%s:%zu", path, csv->rows[i].line);
        if (import_row(csv, i, &cols, &p, r) < 0) {
            conf_partner_clear(&p);
            return xfedctl_oom();
        }
        if (!conf_report_has_errors(r))
            conf_partner_validate(conf, &p, NULL, r);
        if (conf_report_has_errors(r)) {
            xfedctl_report(prefix, r, false);
            refused++;
        } else if (conf_partner_add(conf, &p) < 0) {
            conf_partner_clear(&p);
            return xfedctl_oom();
        }
        conf_partner_clear(&p);
    }
    if (refused > 0) {
        xfedctl_err("%s: %zu of %zu rows refused; nothing was imported", path, refused,
                    csv->n_rows);
        return XFED_EXIT_REJECTED;
    }
    return XFED_EXIT_OK;
}

static void import_report(const char *path, const struct conf_lync *csv, const struct conf *conf,
                          size_t first, const struct conf_report *warn, const char *verb)
{
    for (size_t i = 0; i < csv->n_rows; i++) {
        char prefix[4096];
        snprintf(prefix, sizeof(prefix), "%s:%zu", path, csv->rows[i].line);
        import_summary(verb, &conf->partners[first + i]);
        fflush(stdout);
        xfedctl_report(prefix, &warn[i], false);
    }
}

int xfedctl_partner_import(int argc, char **argv, const struct xfedctl_ctx *ctx)
{
    static const struct option longopts[] = {
        {"help", no_argument, NULL, 'h'},
        {"lync", required_argument, NULL, OPT_LYNC},
        {"dry-run", no_argument, NULL, OPT_DRY_RUN},
        {NULL, 0, NULL, 0},
    };
    const char *path = NULL;
    bool dry_run = false;
    int c, code;

    xfedctl_getopt_reset(argv);
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'h':
            return xfedctl_help();
        case OPT_LYNC:
            path = optarg;
            break;
        case OPT_DRY_RUN:
            dry_run = true;
            break;
        default:
            return xfedctl_usage(NULL);
        }
    }
    if (optind < argc)
        return xfedctl_usage("unexpected argument '%s'", argv[optind]);
    if (path == NULL)
        return xfedctl_usage("--lync FILE is required");

    struct conf_lync csv;
    if ((code = import_read(path, &csv)) >= 0)
        return code;
    if (csv.n_rows == 0) {
        xfedctl_err("%s: no partner rows; nothing was imported", path);
        conf_lync_clear(&csv);
        return XFED_EXIT_OK;
    }
    struct conf_report *warn = calloc(csv.n_rows + 1, sizeof(*warn));
    if (warn == NULL) {
        conf_lync_clear(&csv);
        return xfedctl_oom();
    }
    for (size_t i = 0; i < csv.n_rows; i++)
        conf_report_init(&warn[i]);

    struct conf *conf = NULL;
    struct conf_store *store = xfedctl_store_open(ctx, &code);
    if (store == NULL)
        goto out;
    if (dry_run) {
        conf = xfedctl_load(store, &code);
        if (conf == NULL)
            goto out;
    } else if ((code = xfedctl_begin(store, &conf)) != XFED_EXIT_OK) {
        goto out;
    }
    size_t first = conf->n_partners;
    code = import_rows(path, &csv, conf, warn);
    if (dry_run) {
        if (code == XFED_EXIT_OK) {
            import_report(path, &csv, conf, first, warn, "would import");
            printf("dry run: %zu partners would be imported; nothing was written\n", csv.n_rows);
        }
        goto out;
    }
    if (code != XFED_EXIT_OK) {
        conf_store_abort(store);
        goto out;
    }
    code = xfedctl_commit(store, conf);
    if (code == XFED_EXIT_OK) {
        import_report(path, &csv, conf, first, warn, "imported");
        printf("imported %zu partners (configuration version %llu)\n", csv.n_rows,
               (unsigned long long)conf->version);
    }
out:
    for (size_t i = 0; i < csv.n_rows; i++)
        conf_report_clear(&warn[i]);
    free(warn);
    if (conf != NULL)
        conf_free(conf);
    if (store != NULL)
        conf_store_close(store);
    conf_lync_clear(&csv);
    return code;
}
