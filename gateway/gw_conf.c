/*
 * gw_conf.c - gateway.conf's table, and loading the gateway's whole
 * configuration as one unit so that a reload is load, validate, swap.
 */
#include "gw_conf.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf_file.h"
#include "conf_store.h"
#include "conf_validate.h"
#include "gw_store_open.h"
#include "ipc_edges.h"
#include "metrics_http.h"
#include "tls.h"

#define OFF(f) offsetof(struct gw_local, f)

/* Every host-local setting: name, type, offset, default, min, max. */
const struct conf_lkey gw_local_keys[] = {
    {"name", LK_STRING, OFF(name), 0, 0, 0, "gateway",
     "instance name on the IPC channel (and default key pair name)"},
    {"edges", LK_STRING, OFF(edges), 0, 0, 0, "tcp://127.0.0.1:5555",
     "IPC endpoints of the edges, comma separated; the gateway connects to each"},
    {"edge_keys", LK_STRING, OFF(edge_keys), 0, 0, 0, NULL,
     "the edges' public keys in the order of edges, comma separated: a Z85 key or a .pub "
     "file (default DIR/keys/edge.pub for every edge)"},
    {"ipc_key", LK_STRING, OFF(ipc_key), 0, 0, 0, NULL,
     "base path of this gateway's key pair, without .key/.pub (default "
     "DIR/keys/gateway/NAME, as made by `xfedctl keys add-gateway NAME`)"},
    {"sip_server", LK_STRING, OFF(sip_server), 0, 0, 0, "127.0.0.1:5060",
     "the internal SIP server (next hop), host[:port]; port 5060 for tcp, 5061 for tls"},
    {"sip_transport", LK_STRING, OFF(sip_transport), 0, 0, 0, "tcp",
     "transport toward the next hop and on the listener: tcp or tls"},
    {"sip_ca_file", LK_STRING, OFF(sip_ca_file), 0, 0, 0, NULL,
     "tls: PEM trust anchors for the SIP server's certificate (default: system store)"},
    {"sip_cert_file", LK_STRING, OFF(sip_cert_file), 0, 0, 0, NULL,
     "tls: PEM certificate chain the gateway presents (client and listener)"},
    {"sip_key_file", LK_STRING, OFF(sip_key_file), 0, 0, 0, NULL,
     "tls: PEM private key of sip_cert_file"},
    {"sip_server_name", LK_STRING, OFF(sip_server_name), 0, 0, 0, NULL,
     "tls: name the SIP server's certificate must carry (RFC 5922 section 7: sip: URI or "
     "dNSName, no wildcard), also sent as SNI (default: the host of sip_server)"},
    {"sip_tls_verify_client", LK_STRING, OFF(sip_tls_verify_client), 0, 0, 0, NULL,
     "tls: the certificate a SIP server connecting to the listener must present: \"required\" "
     "(its chain verifies against sip_ca_file and it names sip_server_name, RFC 5922 section "
     "7), \"optional\" (checked the same when presented) or \"none\" (default: required when "
     "sip_ca_file is set, optional with the system store)"},
    {"sip_listen", LK_STRING, OFF(sip_listen), 0, 0, 0, "127.0.0.1",
     "address where the SIP server reaches the gateway; \"\" disables the listener"},
    {"sip_port", LK_UINT, OFF(sip_port), 5070, 1, 65535, NULL, "port of the SIP listener"},
    {"sip_contact_host", LK_STRING, OFF(sip_contact_host), 0, 0, 0, NULL,
     "host written in Via and Contact (default: sip_listen)"},
    {"sip_source", LK_STRING, OFF(sip_source), 0, 0, 0, NULL,
     "source address of the connection to the next hop (default: chosen by the system)"},
    {"sip_trusted", LK_STRING, OFF(sip_trusted), 0, 0, 0, NULL,
     "addresses the SIP listener accepts connections from, comma separated, or \"any\" "
     "(default: the address of sip_server): only the SIP server may hand requests to the "
     "gateway"},
    {"sip_t1_ms", LK_UINT, OFF(sip_t1_ms), 500, 50, 10000, NULL,
     "RFC 3261 T1; transactions time out after 64*T1 (Timer B/F)"},
    {"sip_max_conns", LK_UINT, OFF(sip_max_conns), 256, 1, 65535, NULL,
     "SIP connections accepted at once"},
    {"reconnect_max_s", LK_UINT, OFF(reconnect_max_s), 30, 1, 3600, NULL,
     "longest pause between attempts to reconnect to the next hop"},
    {"state_db", LK_STRING, OFF(state_db), 0, 0, 0, GW_STATE_DEFAULT,
     "state store with subscriptions, dialogs and invitations: an SQLite file (PATH or "
     "sqlite:PATH, one gateway) or a shared PostgreSQL database (postgresql:CONNINFO or a "
     "postgresql:// URI, several gateways)"},
    {"queue_max", LK_UINT, OFF(queue_max), 10000, 1, 10000000, NULL,
     "outbound stanzas held while no edge is connected"},
    {"queue_timeout", LK_UINT, OFF(queue_timeout), 20, 1, 3600, NULL,
     "seconds a held stanza waits for an edge before its SIP sender gets an error"},
    {"max_queue_per_destination", LK_UINT, OFF(max_queue_per_destination), 1000, 1, 1000000, NULL,
     "XMPP messages waiting for one SIP user (one MESSAGE at a time per user, RFC 3428 section "
     "8); more get resource-constraint"},
    {"max_sip_message_bytes", LK_UINT, OFF(max_sip_message_bytes), 1300, 300, 65536, NULL,
     "largest MESSAGE sent toward SIP (RFC 3428 section 8); larger gets policy-violation"},
    {"max_xmpp_body_bytes", LK_UINT, OFF(max_xmpp_body_bytes), 65536, 1024, 1048576, NULL,
     "largest message body sent toward XMPP; larger gets 513"},
    {"error_wait_ms", LK_UINT, OFF(error_wait_ms), 500, 0, 30000, NULL,
     "SIP to XMPP MESSAGE: how long after the edge sent it an XMPP error may still become "
     "the SIP response; 0 answers 202 as soon as the edge took it"},
    {"subscribe_expires", LK_UINT, OFF(subscribe_expires), 0, 0, 604800, NULL,
     "Expires the gateway asks for in SUBSCRIBE toward SIP; 0: the configuration plane's "
     "subscription refresh interval (the SIP server may grant less; the gateway refreshes "
     "before the granted time runs out)"},
    {"max_expires", LK_UINT, OFF(max_expires), 3600, 60, 86400, NULL,
     "longest subscription the gateway grants to a SIP watcher"},
    {"min_expires", LK_UINT, OFF(min_expires), 60, 1, 3600, NULL,
     "shortest subscription a SIP watcher may ask for (423 below)"},
    {"notify_min_interval_ms", LK_UINT, OFF(notify_min_interval_ms), 5000, 0, 600000, NULL,
     "shortest time between two NOTIFYs carrying a presence change in one SIP watcher's "
     "subscription (RFC 6665 section 4.1.2.1 and RFC 3856 section 6.10: one per 5 s); changes "
     "meanwhile are coalesced and the latest state goes when the time is up; 0: no limit"},
    {"max_subscriptions_per_user", LK_UINT, OFF(max_subscriptions_per_user), 200, 1, 1000000, NULL,
     "subscription dialogs one XMPP user may have, both directions (INTERWORKING P40): "
     "beyond it a subscribe or probe gets resource-constraint and a SIP SUBSCRIBE 503"},
    {"max_subscriptions", LK_UINT, OFF(max_subscriptions), 20000, 1, 10000000, NULL,
     "subscription dialogs of the whole gateway (about 8 KiB of memory each); refused "
     "as with max_subscriptions_per_user beyond it"},
    {"sub_lease_ms", LK_UINT, OFF(sub_lease_ms), 15000, 1000, 3600000, NULL,
     "how long this gateway's hold on its subscriptions in the state store lasts without "
     "renewal; when a gateway dies, the survivors take its subscriptions over after this "
     "(plus up to sub_takeover_ms), and refresh them"},
    {"sub_takeover_ms", LK_UINT, OFF(sub_takeover_ms), 5000, 100, 600000, NULL,
     "how often the gateway renews that hold and takes over the subscriptions of dead "
     "gateways whose users it now serves; below sub_lease_ms"},
    {"conf_check_ms", LK_UINT, OFF(conf_check_ms), 2000, 100, 600000, NULL,
     "how often xfed.conf is checked for a change"},
    {"config_from", LK_STRING, OFF(config_from), 0, 0, 0, "store",
     "where the configuration plane comes from: \"store\" (DIR/xfed.conf on this host, "
     "pushed to the edges) or \"edges\" (no store here: the version the edges push, kept in "
     "config_cache)"},
    {"config_cache", LK_STRING, OFF(config_cache), 0, 0, 0, GW_CONFIG_CACHE_DEFAULT,
     "config_from = edges: the last configuration received from an edge, used at start"},
    {"user", LK_STRING, OFF(user), 0, 0, 0, NULL, "user to run as when started as root"},
    {"metrics_listen", LK_STRING, OFF(metrics_listen), 0, 0, 0, "",
     "ADDR:PORT of the Prometheus endpoint (GET /metrics, docs/metrics.md), a numeric "
     "loopback or internal address, never a wildcard; \"\" (default): none"},
    {NULL, LK_UINT, 0, 0, 0, 0, NULL, NULL},
};

static int load_edges(struct gw_conf *gc, struct conf_report *r)
{
    struct ipc_edge_spec v[GW_EDGES_MAX];
    const char *bad_key;
    char err[256];
    int ne = ipc_edges_parse(gc->local.edges, gc->local.edge_keys, gc->dir, "keys/edge.pub", v,
                             GW_EDGES_MAX, &bad_key, err, sizeof(err));
    if (ne < 0) {
        conf_report_add(r, CONF_ERROR, bad_key, NULL, 0, 0, "%s", err);
        return -1;
    }
    int rc = 0;
    for (int i = 0; i < ne; i++) {
        struct gw_edge *e = &gc->edges[gc->n_edges++];
        e->endpoint = v[i].endpoint;
        v[i].endpoint = NULL;
        if (ipc_key_valid(v[i].key)) {
            memcpy(e->public_key, v[i].key, IPC_KEY_Z85_LEN + 1);
        } else if (ipc_keys_load_public(v[i].key, e->public_key) != 0) {
            conf_report_add(r, CONF_ERROR, "edge_keys", NULL, 0, 0,
                            "cannot load the public key of edge %s from %s: %s", e->endpoint,
                            v[i].key, strerror(errno));
            rc = -1;
        }
    }
    ipc_edges_free(v, ne);
    return rc;
}

static int load_key_path(struct gw_conf *gc, struct conf_report *r)
{
    char *full = gc->local.ipc_key ? strdup(gc->local.ipc_key) : NULL;
    if (full == NULL) {
        size_t n = strlen(gc->dir) + strlen(gc->local.name) + 32;
        full = malloc(n);
        if (full)
            snprintf(full, n, "%s/keys/gateway/%s", gc->dir, gc->local.name);
    }
    if (full == NULL) {
        conf_report_add(r, CONF_ERROR, "", NULL, 0, 0, "out of memory");
        return -1;
    }
    char *slash = strrchr(full, '/');
    if (slash == NULL) {
        gc->key_dir = strdup(".");
        gc->key_base = strdup(full);
    } else {
        *slash = '\0';
        gc->key_dir = strdup(full[0] ? full : "/");
        gc->key_base = strdup(slash + 1);
    }
    free(full);
    if (gc->key_dir == NULL || gc->key_base == NULL || gc->key_base[0] == '\0') {
        conf_report_add(r, CONF_ERROR, "ipc_key", NULL, 0, 0, "no key pair name");
        return -1;
    }
    return 0;
}

/* host[:port], [v6]:port. */
static int split_hostport(const char *s, char *host, size_t hostcap, unsigned *port)
{
    const char *colon;
    size_t hl;
    if (s[0] == '[') {
        const char *end = strchr(s, ']');
        if (end == NULL)
            return -1;
        hl = (size_t)(end - s - 1);
        if (hl == 0 || hl >= hostcap)
            return -1;
        memcpy(host, s + 1, hl);
        host[hl] = '\0';
        colon = end[1] == ':' ? end + 1 : NULL;
        if (end[1] != '\0' && colon == NULL)
            return -1;
    } else {
        colon = strrchr(s, ':');
        if (colon && strchr(s, ':') != colon)
            return -1; /* a bare IPv6 address needs brackets */
        hl = colon ? (size_t)(colon - s) : strlen(s);
        if (hl == 0 || hl >= hostcap)
            return -1;
        memcpy(host, s, hl);
        host[hl] = '\0';
    }
    if (colon) {
        char *end;
        unsigned long p = strtoul(colon + 1, &end, 10);
        if (*end != '\0' || p == 0 || p > 65535 || colon[1] == '\0')
            return -1;
        *port = (unsigned)p;
    }
    return 0;
}

static int resolve_next_hop(struct gw_conf *gc, struct conf_report *r)
{
    const char *s = gc->local.sip_server ? gc->local.sip_server : "";
    gc->next_hop_port = gc->tls ? 5061 : 5060;
    if (split_hostport(s, gc->next_hop_host, sizeof(gc->next_hop_host), &gc->next_hop_port) != 0) {
        conf_report_add(r, CONF_ERROR, "sip_server", NULL, 0, 0,
                        "'%s' is not host[:port] (an IPv6 address in brackets)", s);
        return -1;
    }
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    char port[16];
    snprintf(port, sizeof(port), "%u", gc->next_hop_port);
    int e = getaddrinfo(gc->next_hop_host, port, &hints, &res);
    if (e != 0 || res == NULL) {
        conf_report_add(r, CONF_ERROR, "sip_server", NULL, 0, 0, "cannot resolve '%s': %s",
                        gc->next_hop_host, gai_strerror(e));
        return -1;
    }
    memcpy(&gc->next_hop, res->ai_addr, res->ai_addrlen);
    gc->next_hop_len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

static int load_trusted(struct gw_conf *gc, struct conf_report *r)
{
    const char *s = gc->local.sip_trusted;
    if (s == NULL) {
        gc->trusted[0] = gc->next_hop;
        gc->n_trusted = 1;
        return 0;
    }
    if (strcmp(s, "any") == 0) {
        gc->trust_any = true;
        return 0;
    }
    char *copy = strdup(s), *tok[GW_TRUSTED_MAX];
    if (copy == NULL) {
        conf_report_add(r, CONF_ERROR, "", NULL, 0, 0, "out of memory");
        return -1;
    }
    int n = conf_local_split(copy, tok, GW_TRUSTED_MAX), rc = 0;
    if (n <= 0) {
        conf_report_add(r, CONF_ERROR, "sip_trusted", NULL, 0, 0,
                        n < 0 ? "more than 16 addresses" : "no address (use \"any\" for all)");
        rc = -1;
    }
    for (int i = 0; i < n; i++) {
        struct addrinfo hints = {.ai_flags = AI_NUMERICHOST}, *res = NULL;
        if (getaddrinfo(tok[i], NULL, &hints, &res) != 0 || res == NULL) {
            conf_report_add(r, CONF_ERROR, "sip_trusted", NULL, 0, 0, "'%s' is not an IP address",
                            tok[i]);
            rc = -1;
            continue;
        }
        memcpy(&gc->trusted[gc->n_trusted++], res->ai_addr, res->ai_addrlen);
        freeaddrinfo(res);
    }
    free(copy);
    return rc;
}

static int check_local(struct gw_conf *gc, struct conf_report *r)
{
    int rc = 0;
    struct gw_local *l = &gc->local;
    if (l->sip_transport == NULL ||
        (strcmp(l->sip_transport, "tcp") != 0 && strcmp(l->sip_transport, "tls") != 0)) {
        conf_report_add(r, CONF_ERROR, "sip_transport", NULL, 0, 0,
                        "sip_transport must be \"tcp\" or \"tls\"");
        rc = -1;
    } else {
        gc->tls = strcmp(l->sip_transport, "tls") == 0;
    }
    const char *vc = l->sip_tls_verify_client;
    if (vc == NULL)
        gc->verify_client = l->sip_ca_file ? GW_VERIFY_CLIENT_REQUIRED : GW_VERIFY_CLIENT_OPTIONAL;
    else if (strcmp(vc, "required") == 0)
        gc->verify_client = GW_VERIFY_CLIENT_REQUIRED;
    else if (strcmp(vc, "optional") == 0)
        gc->verify_client = GW_VERIFY_CLIENT_OPTIONAL;
    else if (strcmp(vc, "none") == 0)
        gc->verify_client = GW_VERIFY_CLIENT_NONE;
    else {
        conf_report_add(r, CONF_ERROR, "sip_tls_verify_client", NULL, 0, 0,
                        "sip_tls_verify_client must be \"required\", \"optional\" or \"none\"");
        rc = -1;
    }
    if (l->name == NULL || !ipc_key_name_valid(l->name)) {
        conf_report_add(r, CONF_ERROR, "name", NULL, 0, 0,
                        "name must be letters, digits, '.', '_' or '-' (at most %d)",
                        IPC_KEY_NAME_MAX);
        rc = -1;
    }
    char merr[256];
    if (metrics_http_check_listen(l->metrics_listen, merr, sizeof(merr)) != 0) {
        conf_report_add(r, CONF_ERROR, "metrics_listen", NULL, 0, 0, "%s", merr);
        rc = -1;
    }
    if (l->min_expires > l->max_expires) {
        conf_report_add(r, CONF_ERROR, "min_expires", NULL, 0, 0,
                        "min_expires (%u) is above max_expires (%u)", l->min_expires,
                        l->max_expires);
        rc = -1;
    }
    if (l->sub_takeover_ms >= l->sub_lease_ms) {
        conf_report_add(r, CONF_ERROR, "sub_takeover_ms", NULL, 0, 0,
                        "sub_takeover_ms (%u) must be below sub_lease_ms (%u)", l->sub_takeover_ms,
                        l->sub_lease_ms);
        rc = -1;
    }
    gc->contact_host = l->sip_contact_host ? l->sip_contact_host : l->sip_listen;
    if (gc->contact_host == NULL || gc->contact_host[0] == '\0' ||
        !strcmp(gc->contact_host, "0.0.0.0") || !strcmp(gc->contact_host, "::")) {
        conf_report_add(r, CONF_ERROR, "sip_contact_host", NULL, 0, 0,
                        "the SIP server must be able to reach the gateway: set sip_listen to an "
                        "address or sip_contact_host to a name");
        rc = -1;
    }
    const char *store_why = NULL, *store_target;
    enum gw_store_kind store_kind;
    if (gw_store_spec_parse(l->state_db, &store_kind, &store_target, &store_why) != 0) {
        /* the value is not quoted back: a connection string may hold a password */
        conf_report_add(r, CONF_ERROR, "state_db", NULL, 0, 0, "state_db: %s", store_why);
        rc = -1;
    }
    if (l->config_from == NULL ||
        (strcmp(l->config_from, "store") != 0 && strcmp(l->config_from, "edges") != 0)) {
        conf_report_add(r, CONF_ERROR, "config_from", NULL, 0, 0,
                        "config_from must be \"store\" or \"edges\", not '%s'",
                        l->config_from ? l->config_from : "");
        rc = -1;
    } else {
        gc->from_edges = strcmp(l->config_from, "edges") == 0;
    }
    if (gc->from_edges && (l->config_cache == NULL || l->config_cache[0] != '/' ||
                           strrchr(l->config_cache, '/')[1] == '\0')) {
        conf_report_add(r, CONF_ERROR, "config_cache", NULL, 0, 0,
                        "config_cache must be an absolute file name");
        rc = -1;
    }
    return rc;
}

static int build_tls(struct gw_conf *gc, struct conf_report *r)
{
    if (!gc->tls)
        return 0;
    char err[512];
    struct tls_conf tc = {
        .cert_file = gc->local.sip_cert_file,
        .key_file = gc->local.sip_key_file,
        .ca_file = gc->local.sip_ca_file,
    };
    gc->sip_tls = tls_ctx_new(&tc, err, sizeof(err));
    if (gc->sip_tls == NULL) {
        conf_report_add(r, CONF_ERROR, "sip_transport", NULL, 0, 0, "TLS: %s", err);
        return -1;
    }
    return 0;
}

/* config_from = store: DIR/xfed.conf through the store (read, validated). */
static void load_from_store(struct gw_conf *gc, struct conf_report *report)
{
    struct conf_store *store = conf_store_open(gc->dir);
    if (store == NULL) {
        conf_report_add(report, CONF_ERROR, "", gc->dir, 0, 0,
                        "cannot open configuration directory: %s", strerror(errno));
        return;
    }
    gc->conf_path = strdup(conf_store_path(store));
    if (stat(conf_store_path(store), &gc->conf_stat) != 0)
        memset(&gc->conf_stat, 0, sizeof(gc->conf_stat));
    gc->conf = conf_store_load(store, report);
    conf_store_close(store);
    if (gc->conf_path == NULL) {
        conf_report_add(report, CONF_ERROR, "", NULL, 0, 0, "out of memory");
        conf_free(gc->conf);
        gc->conf = NULL;
    }
}

/* config_from = edges: the last copy an edge pushed (written only after it
 * validated, see gw_confpush.c), or an empty configuration at version 0
 * until the first push when there is none yet. */
static void load_from_cache(struct gw_conf *gc, struct conf_report *report)
{
    gc->conf_path = strdup(gc->local.config_cache);
    if (gc->conf_path == NULL) {
        conf_report_add(report, CONF_ERROR, "", NULL, 0, 0, "out of memory");
        return;
    }
    if (stat(gc->conf_path, &gc->conf_stat) != 0) {
        memset(&gc->conf_stat, 0, sizeof(gc->conf_stat));
        if (errno != ENOENT) {
            conf_report_add(report, CONF_ERROR, "config_cache", gc->conf_path, 0, 0, "%s",
                            strerror(errno));
            return;
        }
        gc->conf = conf_new();
        if (gc->conf == NULL)
            conf_report_add(report, CONF_ERROR, "", NULL, 0, 0, "out of memory");
        return;
    }
    struct conf *c = conf_file_read(gc->conf_path, report);
    if (c && conf_validate(c, report) == CONF_REJECTED) {
        conf_free(c);
        c = NULL;
    }
    if (c == NULL)
        conf_report_add(report, CONF_ERROR, "config_cache", gc->conf_path, 0, 0,
                        "the cached configuration is not valid; remove the file to start empty "
                        "and wait for an edge's copy");
    gc->conf = c;
}

struct gw_conf *gw_conf_load(const char *dir, struct conf_report *report)
{
    struct gw_conf *gc = calloc(1, sizeof(*gc));
    if (gc == NULL || (gc->dir = strdup(dir)) == NULL) {
        free(gc);
        conf_report_add(report, CONF_ERROR, "", NULL, 0, 0, "out of memory");
        return NULL;
    }
    char *lpath = conf_path_join(dir, GW_CONF_FILE);
    int lrc = lpath ? conf_local_read(lpath, gw_local_keys, &gc->local, report) : -1;
    free(lpath);

    /* Every check runs, whatever failed before, so that all problems are
     * reported at once (bad keys hold their defaults). */
    int rc = lrc;
    rc |= check_local(gc, report);
    if (gc->from_edges)
        load_from_cache(gc, report);
    else
        load_from_store(gc, report);
    rc |= load_key_path(gc, report);
    rc |= load_edges(gc, report);
    int hop = resolve_next_hop(gc, report);
    rc |= hop;
    if (hop == 0)
        rc |= load_trusted(gc, report);
    if (rc == 0)
        rc |= build_tls(gc, report);
    if (rc != 0 || gc->conf == NULL) {
        gw_conf_free(gc);
        return NULL;
    }
    return gc;
}

void gw_conf_free(struct gw_conf *gc)
{
    if (gc == NULL)
        return;
    conf_local_free(gw_local_keys, &gc->local);
    conf_free(gc->conf);
    for (size_t i = 0; i < gc->n_edges; i++)
        free(gc->edges[i].endpoint);
    tls_ctx_free(gc->sip_tls);
    free(gc->key_dir);
    free(gc->key_base);
    free(gc->conf_path);
    free(gc->dir);
    free(gc);
}

bool gw_conf_plane_changed(const struct gw_conf *gc)
{
    struct stat st;
    if (stat(gc->conf_path, &st) != 0)
        return false;
    return st.st_ino != gc->conf_stat.st_ino || st.st_size != gc->conf_stat.st_size ||
           st.st_mtim.tv_sec != gc->conf_stat.st_mtim.tv_sec ||
           st.st_mtim.tv_nsec != gc->conf_stat.st_mtim.tv_nsec;
}

static bool str_differs(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return a != b;
    return strcmp(a, b) != 0;
}

bool gw_conf_needs_restart(const struct gw_conf *a, const struct gw_conf *b)
{
    const struct gw_local *x = &a->local, *y = &b->local;
    return str_differs(x->name, y->name) || str_differs(x->edges, y->edges) ||
           str_differs(x->edge_keys, y->edge_keys) || str_differs(x->ipc_key, y->ipc_key) ||
           str_differs(x->sip_server, y->sip_server) ||
           str_differs(x->sip_transport, y->sip_transport) ||
           str_differs(x->sip_listen, y->sip_listen) || x->sip_port != y->sip_port ||
           str_differs(x->sip_source, y->sip_source) || str_differs(x->state_db, y->state_db) ||
           str_differs(x->sip_trusted, y->sip_trusted) || str_differs(x->user, y->user) ||
           str_differs(x->config_from, y->config_from) ||
           str_differs(x->config_cache, y->config_cache) ||
           str_differs(x->metrics_listen, y->metrics_listen) ||
           str_differs(a->contact_host, b->contact_host);
}

bool gw_conf_user_allowed(const struct gw_conf *gc, const char *user)
{
    return conf_access_for(gc->conf, user) == ACCESS_ALLOW;
}

bool gw_conf_hosted(const struct gw_conf *gc, const char *domain)
{
    return conf_strlist_has(&gc->conf->hosted, domain);
}
