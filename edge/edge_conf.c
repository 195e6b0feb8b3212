/*
 * edge_conf.c - edge.conf's table, and loading the edge's whole
 * configuration as one unit so that a reload is load, validate, swap.
 */
#include "edge_conf.h"

#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "conf_store.h"
#include "edge.h"
#include "edge_ipc.h"
#include "log.h"
#include "s2s_stream.h"
#include "conf_validate.h"
#include "s2s_cert.h"
#include "tls.h"

#include <openssl/pem.h>
#include <openssl/x509.h>

#define OFF(f) offsetof(struct edge_local, f)

/* Every host-local setting: name, type, offset, default, min, max. The caps
 * are tighter than what a partner needs and never below what RFC 6120
 * section 13.12 requires (10,000 bytes per stanza). */
const struct conf_lkey edge_local_keys[] = {
    {"name", LK_STRING, OFF(name), 0, 0, 0, "edge", "instance name on the IPC channel"},
    {"listen", LK_STRING, OFF(listen), 0, 0, 0, "0.0.0.0",
     "address of the STARTTLS s2s listener; \"\" disables it"},
    {"port", LK_UINT, OFF(port), 5269, 1, 65535, NULL, "port of the STARTTLS listener"},
    {"listen_tls", LK_STRING, OFF(listen_tls), 0, 0, 0, "0.0.0.0",
     "address of the direct TLS listener (XEP-0368); \"\" disables it"},
    {"port_tls", LK_UINT, OFF(port_tls), 5270, 1, 65535, NULL, "port of the direct TLS listener"},
    {"cert_file", LK_STRING, OFF(cert_file), 0, 0, 0, NULL,
     "PEM certificate chain of the edge (default DIR/edge.crt)"},
    {"key_file", LK_STRING, OFF(key_file), 0, 0, 0, NULL,
     "PEM private key of the edge (default DIR/edge.key)"},
    {"domain_cert_dir", LK_STRING, OFF(domain_cert_dir), 0, 0, 0, NULL,
     "per hosted domain certificates DOMAIN.crt and DOMAIN.key, chosen by SNI inbound and "
     "presented as client for that domain outbound (default DIR/certs; a domain without "
     "files uses cert_file)"},
    {"ca_file", LK_STRING, OFF(ca_file), 0, 0, 0, NULL,
     "PEM trust anchors for peer certificates (default: the system store)"},
    {"ca_dir", LK_STRING, OFF(ca_dir), 0, 0, 0, NULL, "hashed directory of trust anchors"},
    {"alpn_required", LK_BOOL, OFF(alpn_required), 0, 0, 1, NULL,
     "direct TLS: refuse clients that send no ALPN"},
    {"ipc_endpoint", LK_STRING, OFF(ipc_endpoint), 0, 0, 0, "tcp://127.0.0.1:5555",
     "ZeroMQ address the edge binds for gateways; \"\" disables IPC"},
    {"ipc_keys_dir", LK_STRING, OFF(ipc_keys_dir), 0, 0, 0, NULL,
     "directory holding keys/edge.key and keys/gateways/ (default DIR)"},
    {"user", LK_STRING, OFF(user), 0, 0, 0, NULL, "user to run as when started as root"},
    {"resolver", LK_STRING, OFF(resolver), 0, 0, 0, NULL,
     "DNS server \"addr[:port]\" (default: first nameserver of resolv_conf)"},
    {"resolv_conf", LK_STRING, OFF(resolv_conf), 0, 0, 0, NULL,
     "resolver configuration file (default /etc/resolv.conf)"},
    {"dns_timeout_ms", LK_UINT, OFF(dns_timeout_ms), 2000, 50, 60000, NULL,
     "DNS timeout per attempt"},
    {"max_stanza_bytes", LK_UINT, OFF(max_stanza_bytes), 262144, 10000, 67108864, NULL,
     "bytes of one stanza or other first-level element"},
    {"max_depth", LK_UINT, OFF(max_depth), 32, 4, 1024, NULL, "element nesting inside a stanza"},
    {"max_attrs", LK_UINT, OFF(max_attrs), 64, 8, 1024, NULL, "attributes on one element"},
    {"max_attr_value_bytes", LK_UINT, OFF(max_attr_value_bytes), 8192, 1024, 1048576, NULL,
     "bytes of one attribute value"},
    {"max_unauth_bytes", LK_UINT, OFF(max_unauth_bytes), 65536, 4096, 16777216, NULL,
     "bytes a peer may send before its stream is authenticated"},
    {"max_output_bytes", LK_UINT, OFF(max_output_bytes), 4194304, 65536, 268435456, NULL,
     "unsent bytes queued towards a peer before its stream is closed"},
    {"max_queue", LK_UINT, OFF(max_queue), 1000, 1, 1000000, NULL,
     "stanzas queued on an outbound stream until it is authenticated"},
    {"max_dialback_pairs", LK_UINT, OFF(max_dialback_pairs), 16, 1, 1024, NULL,
     "dialback domain pairs on one stream"},
    {"max_pending_accept", LK_UINT, OFF(max_pending_accept), 512, 1, 100000, NULL,
     "inbound streams not yet authenticated"},
    {"connect_timeout", LK_UINT, OFF(connect_timeout), 10, 1, 300, NULL,
     "seconds per outbound TCP connection attempt"},
    {"ping_timeout", LK_UINT, OFF(ping_timeout), 30, 1, 3600, NULL,
     "seconds to wait for the answer to an XEP-0199 ping probe"},
    {"close_timeout", LK_UINT, OFF(close_timeout), 5, 1, 60, NULL,
     "seconds to flush a closing stream"},
    {"idle_release", LK_UINT, OFF(idle_release), 10, 0, 3600, NULL,
     "seconds between sweeps that take back the stanza buffer (8 KiB) of streams that read "
     "nothing since the sweep before (idle for one to two periods); 0 keeps the buffers"},
    {"metrics_listen", LK_STRING, OFF(metrics_listen), 0, 0, 0, "",
     "numeric \"ADDR:PORT\" serving GET /metrics (Prometheus); \"\" disables it"},
    {"max_tracked_users", LK_UINT, OFF(max_tracked_users), 100000, 0, 10000000, NULL,
     "internal users remembered (8 bytes each) to show each gateway's share in xfedctl "
     "status; 0 turns it off"},
    {"sm", LK_BOOL, OFF(sm), 1, 0, 1, NULL,
     "XEP-0198 stream management on s2s streams: offered inbound, used outbound when the "
     "partner offers it"},
    {"sm_max_unacked", LK_UINT, OFF(sm_max_unacked), 1000, 1, 1000000, NULL,
     "stanzas written on an outbound stream and not yet acknowledged (XEP-0198); more wait in "
     "the stream's queue"},
    {"sm_ack_interval_ms", LK_UINT, OFF(sm_ack_interval_ms), 500, 10, 60000, NULL,
     "milliseconds before an XEP-0198 ack request for stanzas not acknowledged yet (at once "
     "when half of sm_max_unacked is used); an unanswered request closes the stream after "
     "ping_timeout"},
    {"sm_max_resends", LK_UINT, OFF(sm_max_resends), 3, 0, 100, NULL,
     "times one unacknowledged stanza is sent again after XEP-0198 streams broke; then it is "
     "bounced with remote-server-timeout"},
    {NULL, LK_UINT, 0, 0, 0, 0, NULL, NULL},
};

static int fill_defaults(struct edge_conf *ec, struct conf_report *report)
{
    if (ec->local.cert_file == NULL)
        ec->local.cert_file = conf_path_join(ec->dir, "edge.crt");
    if (ec->local.key_file == NULL)
        ec->local.key_file = conf_path_join(ec->dir, "edge.key");
    if (ec->local.ipc_keys_dir == NULL)
        ec->local.ipc_keys_dir = strdup(ec->dir);
    if (ec->local.domain_cert_dir == NULL) {
        ec->local.domain_cert_dir = conf_path_join(ec->dir, "certs");
        ec->domain_cert_dir_default = true;
    }
    if (!ec->local.cert_file || !ec->local.key_file || !ec->local.ipc_keys_dir ||
        !ec->local.domain_cert_dir) {
        conf_report_add(report, CONF_ERROR, "", NULL, 0, 0, "out of memory");
        return -1;
    }
    return 0;
}

static void build_limits(struct edge_conf *ec)
{
    xml_limits_default(&ec->xml);
    ec->xml.max_element_bytes = ec->local.max_stanza_bytes;
    ec->xml.max_depth = ec->local.max_depth;
    ec->xml.max_attrs = ec->local.max_attrs;
    ec->xml.max_attr_value_bytes = ec->local.max_attr_value_bytes;
    /* Text directly inside one element can never exceed the element. */
    if (ec->xml.max_text_bytes > ec->local.max_stanza_bytes)
        ec->xml.max_text_bytes = ec->local.max_stanza_bytes;
}

/* The leaf (first) certificate of a PEM file names domain (RFC 6125 rules of
 * s2s_cert.h). 0, or -1 with the reason in err. */
static int cert_covers(const char *file, const char *domain, char *err, size_t errlen)
{
    FILE *f = fopen(file, "r");
    if (f == NULL) {
        snprintf(err, errlen, "cannot read certificate %s: %s", file, strerror(errno));
        return -1;
    }
    X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    if (x == NULL) {
        snprintf(err, errlen, "no PEM certificate in %s", file);
        return -1;
    }
    enum s2s_cert_match m = s2s_cert_match(x, domain);
    X509_free(x);
    if (m == S2S_CERT_NO_MATCH) {
        snprintf(err, errlen, "certificate %s does not cover hosted domain %s", file, domain);
        return -1;
    }
    return 0;
}

/* One hosted domain's files, if its .crt is there. 1 added, 0 no file, or
 * -1 with err. */
static int add_domain_cert(struct edge_conf *ec, const char *domain, const char *crt,
                           const char *key, char *err, size_t errlen)
{
    if (access(crt, F_OK) != 0)
        return 0;
    if (access(key, R_OK) != 0) {
        snprintf(err, errlen, "cannot read private key %s for %s: %s", key, crt, strerror(errno));
        return -1;
    }
    struct tls_conf tc = {.cert_file = crt, .key_file = key};
    if (cert_covers(crt, domain, err, errlen) != 0 ||
        tls_ctx_add_domain(ec->tls, domain, &tc, err, errlen) != 0)
        return -1;
    ec->n_domain_certs++;
    return 1;
}

/* Whether domain_cert_dir is there: 1 yes, 0 absent and not configured (no
 * per-domain certificates), -1 with err otherwise. */
static int domain_cert_dir_ok(const struct edge_conf *ec, char *err, size_t errlen)
{
    const char *dir = ec->local.domain_cert_dir;
    struct stat st;
    if (stat(dir, &st) != 0) {
        if (ec->domain_cert_dir_default && errno == ENOENT)
            return 0;
        snprintf(err, errlen, "domain_cert_dir %s: %s", dir, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "domain_cert_dir %s: not a directory", dir);
        return -1;
    }
    return 1;
}

/* Per hosted domain identities: DIR/certs/DOMAIN.crt and DOMAIN.key (the
 * domain as xfed.conf spells it, normalised). A domain without a .crt uses
 * the default identity (a warning in report when cert_file does not cover
 * it). A .crt that is there must come with its key, match it and cover the
 * domain, else the whole TLS set-up fails with the reason. An explicitly
 * configured directory must exist. 0, or -1 with err. */
static int add_domain_certs(struct edge_conf *ec, struct conf_report *report, char *err,
                            size_t errlen)
{
    const char *dir = ec->local.domain_cert_dir;
    int rc = domain_cert_dir_ok(ec, err, errlen);
    bool have_dir = rc == 1;
    const struct conf_strlist *h = &ec->conf->hosted;
    for (size_t i = 0; i < h->n && rc >= 0; i++) {
        char *crt = NULL, *key = NULL;
        size_t n = strlen(dir) + strlen(h->v[i]) + 6;
        rc = 0;
        if (have_dir && ((crt = malloc(n)) == NULL || (key = malloc(n)) == NULL)) {
            snprintf(err, errlen, "out of memory");
            rc = -1;
        } else if (have_dir) {
            snprintf(crt, n, "%s/%s.crt", dir, h->v[i]);
            snprintf(key, n, "%s/%s.key", dir, h->v[i]);
            rc = add_domain_cert(ec, h->v[i], crt, key, err, errlen);
        }
        free(crt);
        free(key);
        char why[512];
        if (rc == 0 && cert_covers(ec->local.cert_file, h->v[i], why, sizeof(why)) != 0)
            conf_report_add(report, CONF_WARNING, "", NULL, 0, 0,
                            "hosted domain %s has no certificate of its own in %s and the "
                            "default one does not serve it (%s): peers will not accept it",
                            h->v[i], dir, why);
    }
    return rc < 0 ? -1 : 0;
}

static void build_tls(struct edge_conf *ec, struct conf_report *report)
{
    char err[512];
    struct tls_conf tc = {
        .cert_file = ec->local.cert_file,
        .key_file = ec->local.key_file,
        .ca_file = ec->local.ca_file,
        .ca_dir = ec->local.ca_dir,
        .alpn_required = ec->local.alpn_required,
    };
    ec->tls = tls_ctx_new(&tc, err, sizeof(err));
    if (ec->tls != NULL && add_domain_certs(ec, report, err, sizeof(err)) != 0) {
        tls_ctx_free(ec->tls);
        ec->tls = NULL;
    }
    if (ec->tls == NULL)
        ec->tls_error = strdup(err);
}

static struct edge_conf *edge_conf_alloc(const char *dir)
{
    struct edge_conf *ec = calloc(1, sizeof(*ec));
    if (ec == NULL)
        return NULL;
    ec->dir = strdup(dir);
    if (ec->dir == NULL) {
        free(ec);
        return NULL;
    }
    return ec;
}

struct edge_conf *edge_conf_load(const char *dir, struct conf_report *report)
{
    struct edge_conf *ec = edge_conf_alloc(dir);
    if (ec == NULL) {
        conf_report_add(report, CONF_ERROR, "", NULL, 0, 0, "out of memory");
        return NULL;
    }
    char *lpath = conf_path_join(dir, EDGE_CONF_FILE);
    int lrc = lpath ? conf_local_read(lpath, edge_local_keys, &ec->local, report) : -1;
    free(lpath);

    struct conf_store *store = conf_store_open(dir);
    if (store == NULL) {
        conf_report_add(report, CONF_ERROR, "", dir, 0, 0,
                        "cannot open configuration directory: %s", strerror(errno));
    } else {
        ec->conf = conf_store_load(store, report);
        conf_store_close(store);
    }
    if (lrc != 0 || ec->conf == NULL || fill_defaults(ec, report) != 0) {
        edge_conf_free(ec);
        return NULL;
    }
    build_limits(ec);
    build_tls(ec, report);
    return ec;
}

struct edge_conf *edge_conf_replace(const struct edge_conf *cur, struct conf *conf,
                                    struct conf_report *report)
{
    if (conf_validate(conf, report) == CONF_REJECTED) {
        conf_free(conf);
        return NULL;
    }
    struct edge_conf *ec = edge_conf_alloc(cur->dir);
    if (ec == NULL) {
        conf_free(conf);
        conf_report_add(report, CONF_ERROR, "", NULL, 0, 0, "out of memory");
        return NULL;
    }
    ec->conf = conf;
    ec->domain_cert_dir_default = cur->domain_cert_dir_default;
    /* Copy the host-local part key by key through the table. */
    conf_local_defaults(edge_local_keys, &ec->local);
    for (const struct conf_lkey *k = edge_local_keys; k->name; k++) {
        const char *src = (const char *)&cur->local + k->offset;
        char *dst = (char *)&ec->local + k->offset;
        if (k->type == LK_UINT) {
            memcpy(dst, src, sizeof(unsigned));
        } else if (k->type == LK_BOOL) {
            memcpy(dst, src, sizeof(bool));
        } else {
            char *const *s = (char *const *)(const void *)src;
            char **d = (char **)(void *)dst;
            free(*d);
            *d = *s ? strdup(*s) : NULL;
            if (*s && *d == NULL) {
                conf_report_add(report, CONF_ERROR, "", NULL, 0, 0, "out of memory");
                edge_conf_free(ec);
                return NULL;
            }
        }
    }
    build_limits(ec);
    build_tls(ec, report);
    return ec;
}

void edge_conf_free(struct edge_conf *ec)
{
    if (ec == NULL)
        return;
    conf_local_free(edge_local_keys, &ec->local);
    conf_free(ec->conf);
    tls_ctx_free(ec->tls);
    free(ec->tls_error);
    free(ec->dir);
    free(ec);
}

const struct conf_partner *edge_conf_partner(const struct edge_conf *ec, const char *domain)
{
    ssize_t i = conf_partner_find(ec->conf, domain);
    return i < 0 ? NULL : &ec->conf->partners[i];
}

bool edge_conf_hosted(const struct edge_conf *ec, const char *domain)
{
    return conf_strlist_has(&ec->conf->hosted, domain);
}

unsigned edge_conf_partner_limit(const struct edge_conf *ec, const struct conf_partner *p)
{
    return conf_partner_limit(ec->conf, p);
}

void edge_conf_print_keys(void *stdio_file)
{
    FILE *f = stdio_file;
    for (const struct conf_lkey *k = edge_local_keys; k->name; k++) {
        switch (k->type) {
        case LK_UINT:
            fprintf(f, "%-22s uint   default %u, %u..%u: %s\n", k->name, k->def, k->min, k->max,
                    k->doc);
            break;
        case LK_BOOL:
            fprintf(f, "%-22s bool   default %s: %s\n", k->name, k->def ? "true" : "false", k->doc);
            break;
        case LK_STRING:
            fprintf(f, "%-22s string default %s%s%s: %s\n", k->name, k->sdef ? "\"" : "",
                    k->sdef ? k->sdef : "(none)", k->sdef ? "\"" : "", k->doc);
            break;
        }
    }
}

/* The swap of a reload (SIGHUP or configuration push). */
void edge_apply_conf(struct edge *e, struct edge_conf *ec)
{
    struct edge_conf *old = e->ec;
    e->ec = ec;
    unsigned closed = s2s_streams_reconcile(e);
    log_info("event=reload version=%llu partners=%zu closed_streams=%u",
             (unsigned long long)ec->conf->version, ec->conf->n_partners, closed);
    if (old && (strcmp(old->local.listen, ec->local.listen) || old->local.port != ec->local.port ||
                strcmp(old->local.listen_tls, ec->local.listen_tls) ||
                old->local.port_tls != ec->local.port_tls ||
                strcmp(old->local.ipc_endpoint, ec->local.ipc_endpoint) ||
                strcmp(old->local.metrics_listen, ec->local.metrics_listen)))
        log_warnx("event=reload listen addresses, the IPC endpoint and metrics_listen change at "
                  "restart only");
    uint64_t was = old ? old->conf->version : 0;
    edge_conf_free(old);
    edge_ipc_reload(e->ipc);
    if (ec->conf->version != was)
        edge_ipc_push_config(e->ipc);
}
