/*
 * edge_ipc.h - the edge's side of the IPC channel (ipc_channel.h).
 *
 * The edge binds its internal address and gateways connect. Each stanza
 * that passed authentication and policy on an s2s stream goes to one
 * gateway as STANZA_IN with its authenticated domain pair, direction,
 * stream id and a message id; gateways are chosen by a stable hash of the
 * internal user (the stanza's 'to' bare JID) over the live gateways, and a
 * dead gateway's unacknowledged stanzas are re-sent, with the same id, to a
 * survivor. A gateway's error acknowledgement becomes an XMPP error stanza
 * to the partner (never for an error stanza). STANZA_OUT from a gateway is
 * parsed, checked and handed to s2s_out_route(); it is acknowledged when
 * written to the partner, or with the error condition when that fails.
 * CONFIG_PUSH is validated, persisted as the last good copy (DIR/xfed.conf)
 * and applied; CONFIG_ACK reports the version. The running configuration
 * goes to every gateway as CONFIG_PUSH when its session starts and after
 * every version change, so that gateways without a store of their own
 * (config_from = edges) run it; their CONFIG_ACK is logged. Operator
 * tools (IPC_ROLE_TOOL) never get stanzas. STATS_REQUEST is answered
 * with the live streams and gateways. Nothing here blocks except the
 * configuration push's file write.
 */
#ifndef XFED_EDGE_IPC_H
#define XFED_EDGE_IPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct edge;
struct edge_ipc;
struct metrics;
struct s2s_stream;
struct stanza;

/* Binds the configured endpoint with the edge's CURVE keys and allow-list
 * (read from the keys directory). Returns NULL with a reason in err. */
struct edge_ipc *edge_ipc_new(struct edge *, char *err, size_t errlen);

/* Sends GOODBYE to gateways and frees. NULL is fine. */
void edge_ipc_free(struct edge_ipc *);

/* Re-reads the allow-list after a reload. */
void edge_ipc_reload(struct edge_ipc *);

/* Sends the running configuration to every connected gateway (after a
 * reload or an applied push; each gateway also gets it when its session
 * starts). NULL is fine. */
void edge_ipc_push_config(struct edge_ipc *);

/* Hands one authorised inbound stanza (borrowed) to a gateway. local is the
 * hosted to-domain, remote the authenticated from-domain. Returns 0 when
 * handed over (its acknowledgement follows), -1 when no gateway can take
 * it (the caller answers the partner with service-unavailable). */
int edge_ipc_deliver(struct edge_ipc *, struct s2s_stream *s, const char *local, const char *remote,
                     struct stanza *el);

/* True while a gateway holds so many unacknowledged stanzas that inbound
 * streams must stop reading (backpressure instead of refusals); streams
 * are resumed with s2s_streams_resume() when acknowledgements catch up. */
bool edge_ipc_congested(const struct edge_ipc *);

/* Acknowledges a STANZA_OUT: condition NULL for delivered, else the XMPP
 * stanza error condition. Unknown peers are ignored (their gateway re-sends
 * elsewhere). */
void edge_ipc_ack(struct edge_ipc *, uint64_t peer_id, uint64_t msg_id, const char *condition,
                  const char *text);

/* Sets the xfed_ipc_* families of docs/metrics.md in reg from the channel's
 * counters and live peers (for the metrics collect callback). ipc NULL
 * (IPC disabled): the per-peer gauges read 0. */
void edge_ipc_metrics(struct edge_ipc *, struct metrics *reg);

#endif
