/*
 * metrics_catalog.c - the names, types, labels and help texts of xfed's
 * metrics (docs/metrics.md explains each, with its label values).
 */
#include "metrics_catalog.h"

#include <errno.h>

#define EDGE    METRICS_ROLE_EDGE
#define GATEWAY METRICS_ROLE_GATEWAY
#define PANEL   METRICS_ROLE_PANEL

const struct metrics_def metrics_catalog[] = {
    /* xfed-edge: XMPP server-to-server (RFC 6120). */
    {"xfed_edge_streams",
     METRIC_GAUGE,
     EDGE,
     {"partner", "direction", NULL},
     "Authenticated s2s streams open now, by partner domain and direction (in, out)."},
    {"xfed_edge_pending_streams",
     METRIC_GAUGE,
     EDGE,
     {"direction", NULL},
     "s2s streams open now that are not authenticated yet (TLS, SASL or dialback in progress)."},
    {"xfed_edge_connections_total",
     METRIC_COUNTER,
     EDGE,
     {"result", NULL},
     "Inbound TCP connections, accepted or refused at accept time (limits)."},
    {"xfed_edge_stanzas_total",
     METRIC_COUNTER,
     EDGE,
     {"partner", "direction", NULL},
     "Stanzas received from (in) or written to (out) a partner domain."},
    {"xfed_edge_stanzas_bounced_total",
     METRIC_COUNTER,
     EDGE,
     {"condition", NULL},
     "Stanzas answered with a stanza error by the edge, by RFC 6120 section 8.3.3 condition."},
    {"xfed_edge_stream_errors_total",
     METRIC_COUNTER,
     EDGE,
     {"condition", "direction", NULL},
     "Stream errors sent (out) or received (in), by RFC 6120 section 4.9.3 condition."},
    {"xfed_edge_handshake_failures_total",
     METRIC_COUNTER,
     EDGE,
     {"reason", NULL},
     "s2s streams that ended before they were authenticated, by reason."},
    {"xfed_edge_outbound_queue_depth",
     METRIC_GAUGE,
     EDGE,
     {NULL},
     "Stanzas waiting for an outbound stream to be authenticated."},
    {"xfed_edge_config_version",
     METRIC_GAUGE,
     EDGE,
     {NULL},
     "Version of the configuration the edge runs."},

    /* The IPC channel between edges and gateways (both sides). */
    {"xfed_ipc_resends_total",
     METRIC_COUNTER,
     EDGE | GATEWAY,
     {NULL},
     "IPC messages sent again: after an ACK timeout, or to a survivor when a peer died."},
    {"xfed_ipc_queue_depth",
     METRIC_GAUGE,
     EDGE | GATEWAY,
     {"peer", NULL},
     "IPC messages sent to a peer and waiting for its ACK."},
    {"xfed_ipc_peer_up",
     METRIC_GAUGE,
     EDGE | GATEWAY,
     {"peer", NULL},
     "1 while a peer's heartbeats arrive, 0 once it is declared dead."},
    {"xfed_ipc_messages_total",
     METRIC_COUNTER,
     EDGE | GATEWAY,
     {"direction", NULL},
     "IPC messages sent (out, re-sends included) and received (in)."},
    {"xfed_ipc_duplicates_total",
     METRIC_COUNTER,
     EDGE | GATEWAY,
     {NULL},
     "Reliable IPC messages received again and dropped (already delivered)."},

    /* xfed-gateway: XMPP <-> SIP. */
    {"xfed_gateway_sip_requests_total",
     METRIC_COUNTER,
     GATEWAY,
     {"method", "direction", NULL},
     "SIP requests received (in) or sent (out), by method."},
    {"xfed_gateway_sip_responses_total",
     METRIC_COUNTER,
     GATEWAY,
     {"class", "direction", NULL},
     "SIP final and provisional responses received (in) or sent (out), by class (1xx to 6xx)."},
    {"xfed_gateway_messages_total",
     METRIC_COUNTER,
     GATEWAY,
     {"direction", NULL},
     "Messages translated, by direction (to_sip, to_xmpp)."},
    {"xfed_gateway_subscriptions",
     METRIC_GAUGE,
     GATEWAY,
     {"direction", NULL},
     "Presence subscriptions held now, by the way presence flows (to_sip, to_xmpp)."},
    {"xfed_gateway_queue_depth",
     METRIC_GAUGE,
     GATEWAY,
     {NULL},
     "Stanzas waiting for an edge to be reachable."},
    {"xfed_gateway_queue_dropped_total",
     METRIC_COUNTER,
     GATEWAY,
     {NULL},
     "Stanzas refused because the queue towards the edges was full."},
    {"xfed_gateway_users",
     METRIC_GAUGE,
     GATEWAY,
     {NULL},
     "Internal users whose share this gateway holds now."},
    {"xfed_gateway_config_version",
     METRIC_GAUGE,
     GATEWAY,
     {NULL},
     "Version of the configuration the gateway runs."},

    /* xfed-panel: the web control panel. */
    {"xfed_panel_signins_total",
     METRIC_COUNTER,
     PANEL,
     {"result", NULL},
     "Sign-in attempts, by result (ok, failed, throttled, error)."},
    {"xfed_panel_sessions", METRIC_GAUGE, PANEL, {NULL}, "Panel sessions open now."},

    {NULL, METRIC_COUNTER, 0, {NULL}, NULL},
};

int metrics_define_catalog(struct metrics *reg, unsigned roles)
{
    for (const struct metrics_def *d = metrics_catalog; d->name; d++) {
        if ((d->roles & roles) == 0)
            continue;
        if (metrics_define(reg, d->type, d->name, d->help, d->labels) != 0)
            return -1;
    }
    return 0;
}
