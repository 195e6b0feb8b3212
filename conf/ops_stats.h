/*
 * ops_stats.h - the operator tools' view of the running edges: a small
 * blocking client of the IPC channel (ipc_channel.h) shared by
 * `xfedctl status` and xfed-panel's status page.
 *
 * Where the edges are: DIR/ops.conf, a host-local file of the host where
 * the operator tools run (libconfig syntax, strict, like edge.conf):
 *
 *   edges = "tcp://10.20.0.5:5555, tcp://10.20.0.6:5555";
 *   edge_keys = "keys/edge.pub, keys/edge2.pub";  # or Z85 keys; default DIR/keys/edge.pub
 *   ipc_key = "/etc/xfed/keys/gateway/operator";   # default DIR/keys/gateway/operator
 *   timeout_ms = 2000;
 *   cache_ms = 3000;
 *
 * The operator key pair is an ordinary allow-listed client key, made on the
 * edge's configuration with `xfedctl keys add-gateway operator` (the
 * allow-list does not tell gateways and tools apart). A missing ops.conf
 * means the defaults: one edge at tcp://127.0.0.1:5555 (the edge's default
 * ipc_endpoint). Relative paths are relative to DIR.
 *
 * A query connects to every configured edge at once as an IPC_ROLE_TOOL
 * client announcing the name "ops:PROGRAM", sends STATS_REQUEST when the
 * session is up (again every 250 ms until answered, since STATS is best
 * effort), and waits for the STATS answers, at most timeout_ms in all. An
 * edge that does not answer in time gets a reason instead of data; the
 * channel cannot tell "edge down" from "our key is not on its allow-list"
 * (the edge ignores a refused HELLO), and the reason says so. Operator
 * sessions ("ops:*" names) are left out of the gateway lists. The answer
 * is cached for cache_ms so that page refreshes do not hammer the edges.
 *
 * Blocking: ops_stats_query() blocks the calling thread for at most
 * timeout_ms waiting for answers, plus ZeroMQ's close linger (200 ms in
 * ipc_zmq.c) per edge that never connected. It reads the key files on
 * every uncached query (small files), so a key made after start-up is used
 * without a restart. Not thread-safe: one thread per struct ops_stats.
 */
#ifndef XFED_OPS_STATS_H
#define XFED_OPS_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf_file.h"
#include "conf_json.h"
#include "conf_report.h"
#include "ipc_keys.h"
#include "ipc_msg.h"

#define OPS_CONF_FILE    "ops.conf"
#define OPS_EDGES_MAX    64
#define OPS_DEFAULT_EDGE "tcp://127.0.0.1:5555"
#define OPS_DEFAULT_KEY  "keys/gateway/operator"
#define OPS_NAME_PREFIX  "ops:" /* announced instance names of operator sessions */
#define OPS_REASON_MAX   320

/* ops.conf, read with conf_local_read() through ops_local_keys[]. */
struct ops_local {
    char *edges;         /* IPC endpoints, comma or space separated */
    char *edge_keys;     /* one per edge: Z85 key or .pub file; NULL: DIR/keys/edge.pub */
    char *ipc_key;       /* base path of the operator key pair; NULL: DIR/OPS_DEFAULT_KEY */
    unsigned timeout_ms; /* 2000: the longest a query waits for answers */
    unsigned cache_ms;   /* 3000: an answer younger than this is reused */
};

extern const struct conf_lkey ops_local_keys[];

/* Fills the defaults, then reads DIR/ops.conf (missing: defaults). Returns
 * 0, or -1 with every problem in report; *out must be released with
 * ops_local_free() either way. */
int ops_local_read(const char *confdir, struct ops_local *out, struct conf_report *report);
void ops_local_free(struct ops_local *);

/* Replaces a string setting of l (edges, edge_keys, ipc_key) with a copy of
 * value, for command-line overrides. Returns 0 or -1 (memory). */
int ops_local_set(char **field, const char *value);

/* One s2s stream as the edge reported it. Strings are owned by the report. */
struct ops_stream {
    char *stream_id;
    char *local;                       /* hosted domain */
    char *partner;                     /* partner domain ("" before the stream header) */
    uint8_t direction;                 /* enum ipc_direction */
    char tls_version[IPC_TLS_MAX + 1]; /* "" for plain TCP */
    uint8_t auth;                      /* enum ipc_auth; IPC_AUTH_NONE: not authenticated yet */
    uint64_t since;                    /* unix time the stream opened */
    uint64_t stanzas_in, stanzas_out;
};

/* One gateway session of the edge. */
struct ops_gateway {
    char *name;
    uint64_t since;   /* unix time it connected */
    uint32_t unacked; /* messages waiting for its acknowledgement: its queue depth */
    uint32_t users;   /* internal users whose traffic the edge gives to it (its share) */
};

struct ops_edge {
    char *endpoint;              /* as configured */
    bool connected;              /* the edge answered this query */
    char reason[OPS_REASON_MAX]; /* !connected: why, for people */
    char *name;                  /* the edge's instance name; "" when !connected */
    uint64_t conf_version;       /* the configuration version it runs */
    uint64_t answered_at;        /* unix time of the answer; 0 when !connected */
    unsigned answer_ms;          /* time from the start of the query to the answer */
    struct ops_stream *streams;  /* sorted by partner, direction, since */
    size_t n_streams;
    struct ops_gateway *gateways; /* operator sessions left out; sorted by name */
    size_t n_gateways;
    size_t n_operators; /* operator sessions (OPS_NAME_PREFIX) it also reported */
};

struct ops_report {
    uint64_t at; /* unix time the query started */
    bool cached; /* this answer was reused from an earlier query */
    struct ops_edge *edges;
    size_t n_edges;
};

struct ops_stats; /* opaque: settings and the cached answer */

/* Checks l (endpoints tcp:// or ipc://, at most OPS_EDGES_MAX, one key per
 * edge when edge_keys is set) and keeps a copy. program names the caller
 * in the announced instance name "ops:PROGRAM". Relative key paths are
 * taken from confdir. Reads no key yet. Returns NULL with a reason in err. */
struct ops_stats *ops_stats_new(const char *confdir, const struct ops_local *l, const char *program,
                                char *err, size_t errlen);
void ops_stats_free(struct ops_stats *);

/* Number of configured edges. */
size_t ops_stats_edges(const struct ops_stats *);

/* Asks every edge (see the blocking note above). With allow_cached, an
 * answer younger than cache_ms is returned again (report->cached true).
 * The report is owned by s and valid until the next query or
 * ops_stats_free(). NULL only on memory exhaustion. */
const struct ops_report *ops_stats_query(struct ops_stats *s, bool allow_cached);

/* Words shared by xfedctl and the panel. Static strings. */
const char *ops_direction_name(int direction); /* "inbound", "outbound" */
const char *ops_auth_name(int auth);           /* "none", "sasl-external", "dialback" */

/* How an edge's configuration version compares with the store's:
 * "current", "stale" (older than the store), "ahead" (newer: this store is
 * not the one the edges follow) or "unknown" (no stored version). */
const char *ops_config_state(uint64_t edge_version, uint64_t stored_version);

/* Appends the JSON view shared by `xfedctl status --json` and the panel's
 * GET /api/status:
 *   {"available":B,"reason":S,"stored_config_version":N,"asked_at":TIME|null,
 *    "cached":B,"edges":[{"endpoint":S,
 *    "connected":B,"reason":S,"name":S,"config_version":N,"config_state":S,
 *    "last_seen":TIME|null,"answer_ms":N,"streams":[{"id":S,"local":S,"partner":S,
 *    "direction":S,"tls_version":S,"auth_method":S,"since":TIME,"stanzas_in":N,
 *    "stanzas_out":N}],"partners":[{"partner":S,"inbound":N,"outbound":N}],
 *    "gateways":[{"name":S,"since":TIME,"unacked":N,"users":N}]}]}
 * TIME is an RFC 3339 UTC string. r NULL means no source of statistics:
 * available false with why as the reason, and no edge. */
void ops_report_json(struct jbuf *, const struct ops_report *r, const char *why,
                     uint64_t stored_version);

/* Loads BASE.key and BASE.pub, BASE being a path without the extension
 * (as `xfedctl keys add-gateway NAME` makes them). 0, or -1 with errno. */
int ops_load_keypair(const char *base, struct ipc_keypair *out);

/* key_or_file is a Z85 public key or a file holding one. 0, or -1 with errno. */
int ops_load_public(const char *key_or_file, char out[IPC_KEY_Z85_LEN + 1]);

#endif
