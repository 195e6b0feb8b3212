/*
 * edge_conf.h - everything xfed-edge runs with: the replicated configuration
 * (xfed.conf: partners, global settings, hosted domains), the host-local
 * edge.conf (listeners, certificate files, IPC endpoint, user, resolver,
 * input caps) and the TLS context built from them.
 *
 * A reload is load, validate, swap (STYLE.md): edge_conf_load() builds a
 * complete new struct edge_conf or fails without side effects, and the
 * daemon swaps pointers. Streams never keep pointers into an edge_conf:
 * they copy the domains they need and look partners up again on each
 * decision, so the old one can be freed right after the swap (OpenSSL keeps
 * its own references for live TLS sessions).
 *
 * Loading reads files and blocks: start-up, SIGHUP and configuration push
 * only, never per stanza.
 */
#ifndef XFED_EDGE_CONF_H
#define XFED_EDGE_CONF_H

#include <stdbool.h>
#include <stddef.h>

#include "conf_file.h"
#include "conf_model.h"
#include "conf_report.h"
#include "xml_stream.h"

#define EDGE_CONF_FILE "edge.conf"

/* edge.conf, read with conf_local_read() through edge_local_keys[]. */
struct edge_local {
    char *name;            /* instance name on the IPC channel */
    char *listen;          /* address of the STARTTLS listener ("" disables it) */
    unsigned port;         /* 5269 */
    char *listen_tls;      /* address of the direct TLS listener ("" disables it) */
    unsigned port_tls;     /* 5270 (XEP-0368) */
    char *cert_file;       /* PEM chain of the edge; NULL: DIR/edge.crt */
    char *key_file;        /* NULL: DIR/edge.key */
    char *domain_cert_dir; /* DOMAIN.crt/.key per hosted domain; NULL: DIR/certs */
    char *ca_file;         /* trust anchors; NULL and ca_dir NULL: system store */
    char *ca_dir;
    bool alpn_required; /* direct TLS: refuse clients without ALPN */
    char *ipc_endpoint; /* ZeroMQ bind address, "" disables IPC */
    char *ipc_keys_dir; /* holds keys/edge.key...; NULL: DIR */
    char *user;         /* user to run as when started as root; NULL: stay */
    char *resolver;     /* nameserver "addr[:port]"; NULL: resolv.conf */
    char *resolv_conf;  /* NULL: /etc/resolv.conf */
    unsigned dns_timeout_ms;
    unsigned max_stanza_bytes;     /* one first-level element, >= 10000 */
    unsigned max_depth;            /* nesting inside one element */
    unsigned max_attrs;            /* attributes on one element */
    unsigned max_attr_value_bytes; /* one attribute value */
    unsigned max_unauth_bytes;     /* bytes a peer may send before authenticating */
    unsigned max_output_bytes;     /* unsent bytes queued towards a slow peer */
    unsigned max_queue;            /* stanzas queued per outbound stream before auth */
    unsigned max_dialback_pairs;   /* domain pairs per stream (XEP-0220 section 2.6) */
    unsigned max_pending_accept;   /* inbound streams not yet authenticated */
    unsigned connect_timeout;      /* seconds per outbound TCP connect attempt */
    unsigned ping_timeout;         /* seconds to wait for an XEP-0199 pong */
    unsigned close_timeout;        /* seconds to flush a closing stream */
    unsigned idle_release;         /* seconds between idle sweeps of parse pools; 0 off */
    char *metrics_listen;          /* GET /metrics "ADDR:PORT"; "" off (docs/metrics.md) */
    unsigned max_tracked_users;    /* users remembered for the gateways' shares (edge_users.h) */
    bool sm;                       /* XEP-0198 on s2s streams */
    unsigned sm_max_unacked;       /* stanzas written and not acknowledged, per stream */
    unsigned sm_ack_interval_ms;   /* delay before <r/> for a few unacknowledged stanzas */
    unsigned sm_max_resends;       /* times one stanza goes again after broken streams */
};

extern const struct conf_lkey edge_local_keys[];

struct tls_ctx;

struct edge_conf {
    char *dir;                    /* configuration directory */
    struct conf *conf;            /* xfed.conf, validated */
    struct edge_local local;      /* edge.conf */
    struct xml_limits xml;        /* parser caps derived from local */
    struct tls_ctx *tls;          /* NULL when no certificate is configured */
    char *tls_error;              /* why tls is NULL; NULL when it is not */
    bool domain_cert_dir_default; /* domain_cert_dir not configured (may be absent) */
    size_t n_domain_certs;        /* hosted domains with their own certificate */
};

/* Loads DIR/edge.conf and DIR/xfed.conf, validates both and builds the TLS
 * context. Returns the new configuration, or NULL with every problem in
 * report (errors of both files are collected before failing). A missing or
 * unreadable certificate is not fatal here (tls stays NULL, tls_error says
 * why): edge_main decides. */
struct edge_conf *edge_conf_load(const char *dir, struct conf_report *report);

/* A copy of cur whose replicated part is replaced by conf (taken over, even
 * on failure). The TLS context is rebuilt from cur's files. For a
 * configuration push. Returns NULL with the problems in report. */
struct edge_conf *edge_conf_replace(const struct edge_conf *cur, struct conf *conf,
                                    struct conf_report *report);

void edge_conf_free(struct edge_conf *);

/* Partner of a normalised domain (primary or additional), or NULL. The
 * pointer is valid as long as the edge_conf. */
const struct conf_partner *edge_conf_partner(const struct edge_conf *, const char *domain);

/* Whether a normalised domain is hosted here. */
bool edge_conf_hosted(const struct edge_conf *, const char *domain);

/* Effective connection limit of a partner. */
unsigned edge_conf_partner_limit(const struct edge_conf *, const struct conf_partner *);

/* Writes edge.conf's keys with their defaults and ranges to f (for -n and
 * docs). */
void edge_conf_print_keys(void *stdio_file);

#endif
