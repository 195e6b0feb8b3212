/*
 * gw_conf.h - everything xfed-gateway runs with: the replicated
 * configuration plane (DIR/xfed.conf: hosted domains, partners and their
 * types, access policy, subscription refresh interval) and the host-local
 * DIR/gateway.conf (SIP next hop and listener, the edges' IPC endpoints
 * and keys, this gateway's key pair, the state database, queue bounds,
 * message size limits, user).
 *
 * A reload is load, validate, swap (STYLE.md): gw_conf_load() builds a
 * complete new struct gw_conf or fails without side effects, and the
 * daemon swaps pointers. Nothing keeps pointers into a gw_conf across a
 * swap except the daemon's single current pointer.
 *
 * Loading reads files and resolves the SIP next hop (getaddrinfo): it
 * blocks, so it runs at start-up, on SIGHUP and when xfed.conf changed,
 * never per message.
 */
#ifndef XFED_GW_CONF_H
#define XFED_GW_CONF_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "conf_file.h"
#include "conf_model.h"
#include "conf_report.h"
#include "ipc_keys.h"

#define GW_CONF_FILE            "gateway.conf"
#define GW_STATE_DEFAULT        "/var/lib/xfed/gateway/state.db"
#define GW_CONFIG_CACHE_DEFAULT "/var/lib/xfed/gateway/xfed.conf"
#define GW_EDGES_MAX            16
#define GW_TRUSTED_MAX          16

/* gateway.conf, read with conf_local_read() through gw_local_keys[]. */
struct gw_local {
    char *name;            /* instance name on the IPC channel */
    char *edges;           /* edge IPC endpoints, comma or space separated */
    char *edge_keys;       /* one per edge: a Z85 key or a .pub file; NULL: DIR/keys/edge.pub */
    char *ipc_key;         /* base path of our pair (.key/.pub); NULL: DIR/keys/gateway/NAME */
    char *sip_server;      /* next hop "host[:port]" */
    char *sip_transport;   /* "tcp" or "tls" */
    char *sip_ca_file;     /* TLS: trust anchors for the next hop (NULL: system store) */
    char *sip_cert_file;   /* TLS: our client certificate (optional) */
    char *sip_key_file;    /* TLS: its key */
    char *sip_server_name; /* TLS: SNI; NULL: the host of sip_server */
    /* TLS listener: "required", "optional" or "none"; NULL: required with
     * sip_ca_file, optional without */
    char *sip_tls_verify_client;
    char *sip_listen;         /* address of the SIP listener; "" disables it */
    unsigned sip_port;        /* its port */
    char *sip_contact_host;   /* host in our Via and Contact; NULL: sip_listen */
    char *sip_source;         /* source address of the next-hop connection; NULL: any */
    char *sip_trusted;        /* addresses allowed on the listener; NULL: the next hop's */
    unsigned sip_t1_ms;       /* RFC 3261 T1; Timer B/F = 64 * T1 */
    unsigned sip_max_conns;   /* accepted SIP connections */
    unsigned reconnect_max_s; /* cap of the next-hop reconnect back-off */
    char *state_db;           /* store spec: SQLite path or postgresql:CONNINFO */
    unsigned queue_max;       /* outbound stanzas held while no edge is connected */
    unsigned queue_timeout;   /* seconds they may wait */
    unsigned max_queue_per_destination; /* XMPP messages waiting for one SIP user */
    unsigned max_sip_message_bytes;     /* whole MESSAGE toward SIP (RFC 3428 section 8) */
    unsigned max_xmpp_body_bytes;       /* body toward XMPP */
    unsigned error_wait_ms;          /* S->X MESSAGE: wait this long for an XMPP error before 202 */
    unsigned subscribe_expires;      /* X->S SUBSCRIBE Expires asked for; 0: subscription_refresh */
    unsigned max_expires;            /* S->X: cap of granted Expires */
    unsigned min_expires;            /* S->X: below this 423 */
    unsigned notify_min_interval_ms; /* S->X: between two state NOTIFYs of a dialog */
    unsigned max_subscriptions_per_user; /* dialogs of one XMPP user, both directions */
    unsigned max_subscriptions;          /* dialogs of the gateway */
    unsigned sub_lease_ms;               /* the lease on our subscriptions in the store */
    unsigned sub_takeover_ms;            /* lease renewal and takeover period, < sub_lease_ms */
    unsigned conf_check_ms;              /* how often xfed.conf is checked for a change */
    char *config_from;    /* "store" (DIR/xfed.conf) or "edges" (pushed by the edges) */
    char *config_cache;   /* config_from = edges: last copy received */
    char *user;           /* user to run as when started as root; NULL: stay */
    char *metrics_listen; /* "ADDR:PORT" of GET /metrics; "": none */
};

extern const struct conf_lkey gw_local_keys[];

struct gw_edge {
    char *endpoint;                       /* "tcp://10.0.0.1:5555" */
    char public_key[IPC_KEY_Z85_LEN + 1]; /* the edge's CURVE public key */
};

struct tls_ctx;

struct gw_conf {
    char *dir;             /* configuration directory */
    struct conf *conf;     /* xfed.conf, validated */
    struct gw_local local; /* gateway.conf */
    struct gw_edge edges[GW_EDGES_MAX];
    size_t n_edges;
    char *key_dir, *key_base; /* our key pair: key_dir/key_base.{key,pub} */
    /* the SIP next hop, resolved */
    struct sockaddr_storage next_hop;
    socklen_t next_hop_len;
    char next_hop_host[256]; /* as configured, without port */
    unsigned next_hop_port;
    bool tls; /* sip_transport is tls */
    /* TLS listener: what a connecting SIP server's certificate must be
     * (sip_tls_verify_client, resolved) */
    enum gw_verify_client {
        GW_VERIFY_CLIENT_REQUIRED = 0, /* present, chain verifies, names the SIP server */
        GW_VERIFY_CLIENT_OPTIONAL,     /* as required when one is presented */
        GW_VERIFY_CLIENT_NONE,         /* not checked (logged) */
    } verify_client;
    /* who may connect to the SIP listener; n_trusted 0 with trust_any false
     * never happens after a successful load */
    struct sockaddr_storage trusted[GW_TRUSTED_MAX];
    size_t n_trusted;
    bool trust_any;
    struct tls_ctx *sip_tls;  /* when tls */
    const char *contact_host; /* borrowed from local */
    bool from_edges;          /* config_from = edges: no store on this host */
    char *conf_path;          /* where conf was read: DIR/xfed.conf or config_cache */
    struct stat conf_stat;    /* of conf_path when read: change detection */
};

/* Loads DIR/gateway.conf and DIR/xfed.conf, validates both (every problem
 * collected in report before failing), parses the edge list, loads the
 * edges' public keys, resolves the next hop and builds the TLS context.
 * Returns the new configuration or NULL. Blocks (files, getaddrinfo). */
struct gw_conf *gw_conf_load(const char *dir, struct conf_report *report);

void gw_conf_free(struct gw_conf *);

/* True when DIR/xfed.conf differs (inode, size, mtime) from the copy gc
 * was loaded from. One stat(2). */
bool gw_conf_plane_changed(const struct gw_conf *gc);

/* True when a setting that only a restart applies differs between a and
 * b (listener, next hop, edges, keys, state database, user). */
bool gw_conf_needs_restart(const struct gw_conf *a, const struct gw_conf *b);

/* Effective XMPP access of an internal user "local@domain". */
bool gw_conf_user_allowed(const struct gw_conf *gc, const char *user);

/* Whether a normalised domain is hosted here. */
bool gw_conf_hosted(const struct gw_conf *gc, const char *domain);

#endif
