/*
 * gw_ipc.h - the gateway's side of the IPC channel (ipc_channel.h): one
 * client channel to every configured edge.
 *
 * Inbound: each STANZA_IN is handed to the router with a struct gw_ipc_in
 * that the router completes exactly once with gw_ipc_in_done() -- only once
 * the SIP side has taken the stanza (a 2xx, or a final answer that the
 * router turned into an XMPP error of its own), or the router decided an
 * error. Until then the edge keeps the stanza and re-sends it (or hands it
 * to another gateway) if this one dies: no silent loss (DESIGN.md section
 * 1). Other reliable messages the gateway does not take are refused with
 * feature-not-implemented.
 *
 * Outbound: gw_ipc_send() sends a stanza toward a partner through one
 * connected edge (chosen by a stable hash of the partner domain), and
 * calls back once with the edge's verdict: NULL condition when the edge
 * wrote it to the partner, else the XMPP error condition. While no edge is
 * connected, stanzas wait in a bounded queue (gateway.conf queue_max) for
 * at most queue_timeout seconds, then fail with remote-server-timeout; an
 * edge that dies before acknowledging hands its stanzas back to the queue.
 * A BOUNCE (an accepted stanza failed later) is reported with the handle
 * of the send when it is still remembered, else with handle 0 (late).
 *
 * Configuration: gw_ipc_push_config() sends the versioned partner
 * configuration (conf_file_format() text) as CONFIG_PUSH to every
 * connected edge, and again to each edge when its session (re)starts;
 * CONFIG_ACK is logged.
 *
 * Everything runs on the daemon's libevent loop; nothing blocks. Callbacks
 * never run from inside gw_ipc_send() or gw_ipc_in_done().
 */
#ifndef XFED_GW_IPC_H
#define XFED_GW_IPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct gw_conf;
struct conf;
struct gw_ipc;
struct gw_ipc_in; /* one STANZA_IN awaiting gw_ipc_in_done() */

struct gw_ipc_cbs {
    /* A partner's stanza (xml: len bytes, NUL-terminated, borrowed for the
     * call). local is the hosted to-domain and remote the authenticated
     * partner domain as the edge vouches for them. in is owned by gw_ipc
     * until gw_ipc_in_done(in) is called, which must happen exactly once. */
    void (*stanza)(void *arg, struct gw_ipc_in *in, const char *local, const char *remote,
                   const char *xml, size_t len);
    /* A stanza sent earlier failed after the edge accepted it: handle as
     * returned by gw_ipc_send(), or 0 when no longer known. */
    void (*bounce)(void *arg, uint64_t handle, const char *condition, const char *text);
    /* The number of connected edges changed. */
    void (*edges)(void *arg, size_t up);
};

/* Outcome of one gw_ipc_send(): condition NULL when the edge wrote the
 * stanza to the partner, else an XMPP stanza error condition (RFC 6120
 * section 8.3.3) and an optional text (never NULL). */
typedef void gw_ipc_sent_cb(void *arg, uint64_t handle, const char *condition, const char *text);

/* Loads this gateway's key pair and opens one client channel per edge of
 * gc. Returns NULL with a reason in err (keys unreadable, endpoint
 * refused). Blocks only while reading the key files. */
struct gw_ipc *gw_ipc_new(struct event_base *base, const struct gw_conf *gc,
                          const struct gw_ipc_cbs *cbs, void *arg, char *err, size_t errlen);

/* Fails every queued and unacknowledged stanza's callback with
 * remote-server-timeout ("shutting down"), says GOODBYE to the edges and
 * frees. Incomplete gw_ipc_in stay the caller's: gw_ipc_in_drop() them.
 * NULL is fine. */
void gw_ipc_free(struct gw_ipc *);

/* Takes the new queue bounds of gc (reload). */
void gw_ipc_set_conf(struct gw_ipc *, const struct gw_conf *gc);

/* Acknowledges a STANZA_IN: condition NULL or "" for taken, else the XMPP
 * condition the edge answers the partner with. Frees in. Returns 0, or -1
 * when the edge's session is gone (it will re-send). */
int gw_ipc_in_done(struct gw_ipc *, struct gw_ipc_in *in, const char *condition, const char *text);

/* Frees in without acknowledging it (shutdown: the edge re-sends it to
 * this gateway's next session or to another gateway). */
void gw_ipc_in_drop(struct gw_ipc_in *in);

/* The IPC message id of in (for logs). */
uint64_t gw_ipc_in_id(const struct gw_ipc_in *in);

/* The incarnation of the edge that sent in. With gw_ipc_in_id() it names
 * the stanza uniquely, and stays the same when the edge re-sends it to
 * another gateway after this one died (ipc_channel.h "message ids"). */
uint64_t gw_ipc_in_origin(const struct gw_ipc_in *in);

/* Sends one serialised stanza from hosted domain from_domain to partner
 * domain to_domain. cb (may be NULL) is called exactly once later unless
 * gw_ipc_forget() is called first. Returns a handle > 0, or 0 when the
 * stanza is refused at once (queue full, stanza too large): then cb is not
 * called and errno says why (ENOBUFS, EMSGSIZE, ENOMEM). */
uint64_t gw_ipc_send(struct gw_ipc *, const char *from_domain, const char *to_domain,
                     const char *xml, size_t len, gw_ipc_sent_cb *cb, void *cbarg);

/* Drops the callback of handle (the stanza itself still goes out). */
void gw_ipc_forget(struct gw_ipc *, uint64_t handle);

/* Sends conf (its version and conf_file_format() text) to every connected
 * edge now and to every edge whose session starts later; does nothing with
 * config_from = edges. Returns 0, or -1 when the text cannot be made
 * (memory). A CONFIG_PUSH from an edge goes to gw_confpush_take(). */
int gw_ipc_push_config(struct gw_ipc *, const struct conf *conf);

/* Connected edges now. */
size_t gw_ipc_edges_up(const struct gw_ipc *);

/* Stanzas waiting for an edge now. */
size_t gw_ipc_queued(const struct gw_ipc *);

/* Stanzas refused because that queue was full (queue_max). */
uint64_t gw_ipc_dropped(const struct gw_ipc *);

/* The xfed_ipc_* families over every edge's channel (ipc_metrics.h). */
struct metrics;
void gw_ipc_metrics(struct gw_ipc *, struct metrics *reg);

#endif
