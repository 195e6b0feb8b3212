/*
 * edge_metrics.h - xfed-edge's metrics (the xfed_edge_* and xfed_ipc_*
 * families of docs/metrics.md) and its GET /metrics endpoint.
 *
 * The registry always exists while the edge runs (the edge counts whether
 * or not it is scraped); the HTTP endpoint only when edge.conf names
 * metrics_listen. Counters that follow events are updated where they
 * happen through handles looked up once (per stream, or cached here per
 * condition), never by name per stanza; gauges that mirror state the edge
 * keeps anyway (streams, queues, configuration version, IPC peers) are set
 * by a collect callback just before each scrape. Everything runs on the
 * edge's loop; nothing here blocks.
 */
#ifndef XFED_EDGE_METRICS_H
#define XFED_EDGE_METRICS_H

#include <stdbool.h>
#include <stddef.h>

#include "s2s_policy.h"
#include "s2s_stream.h"

struct edge;
struct metric;
struct metrics;

/* Checks a metrics_listen value for -n: "" (off) or a numeric address
 * with a port (metrics_http.h). Returns 0, or -1 with the reason in err. */
int edge_metrics_check_listen(const char *listen, char *err, size_t errlen);

/* Creates e->metrics (catalogue of METRICS_ROLE_EDGE, collect callback)
 * and, when e->ec->local.metrics_listen is not "", binds the endpoint on
 * e->base. Call after event_base_new and before dropping privileges.
 * Returns 0, or -1 with the reason in err. */
int edge_metrics_init(struct edge *e, char *err, size_t errlen);

/* Closes the endpoint and frees the registry; every handle becomes
 * invalid, so call it after the last stream is freed. */
void edge_metrics_free(struct edge *e);

/* xfed_edge_stanzas_total for a partner domain and direction: the handle
 * a stream keeps. Never NULL (a discarding handle without registry). */
struct metric *edge_metrics_stanzas(struct edge *e, const char *partner, enum s2s_dir dir);

/* A stanza answered with a stanza error (RFC 6120 section 8.3.3
 * condition; anything else counts as undefined-condition). */
void edge_metrics_bounce(struct edge *e, const char *condition);

/* A stream error sent (sent true) or received, by RFC 6120 section 4.9.3
 * condition name; an unknown name counts as undefined-condition, so a peer
 * cannot add label values. */
void edge_metrics_stream_error(struct edge *e, const char *condition, bool sent);

/* A stream that ended before it was authenticated, by reason: dns,
 * connect, tls, certificate, sasl, dialback, policy, timeout or
 * stream_error (docs/metrics.md); anything else counts as connect. */
void edge_metrics_handshake_failure(struct edge *e, const char *reason);

/* n stanzas that a broken XEP-0198 stream had not had acknowledged (or
 * still queued) handed to a fresh stream to be sent again. */
void edge_metrics_sm_resent(struct edge *e, size_t n);

#endif
