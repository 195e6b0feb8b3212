/*
 * ipc_metrics.c - IPC channel counters into the metrics registry (see
 * ipc_metrics.h).
 */
#include "ipc_metrics.h"

#include "ipc_channel.h"
#include "metrics.h"

#define PEERS_MAX 256 /* per channel, as many as a metrics family holds */

void ipc_metrics_collect(struct metrics *reg, struct ipc_channel *const *chs, size_t n,
                         uint64_t extra_resends)
{
    metrics_zero(reg, "xfed_ipc_queue_depth");
    metrics_zero(reg, "xfed_ipc_peer_up");
    uint64_t sent = 0, received = 0, resent = extra_resends, dups = 0;
    for (size_t i = 0; i < n; i++) {
        if (chs[i] == NULL)
            continue;
        struct ipc_channel_counters c;
        ipc_channel_counters(chs[i], &c);
        sent += c.sent;
        received += c.received;
        resent += c.resent;
        dups += c.duplicates;
        struct ipc_peer *pv[PEERS_MAX];
        size_t np = ipc_channel_peers(chs[i], pv, PEERS_MAX);
        if (np > PEERS_MAX)
            np = PEERS_MAX;
        for (size_t k = 0; k < np; k++) {
            const char *name = ipc_peer_name(pv[k]);
            metric_set(metrics_gauge(reg, "xfed_ipc_queue_depth", "peer", name),
                       (int64_t)ipc_peer_unacked(pv[k]));
            metric_set(metrics_gauge(reg, "xfed_ipc_peer_up", "peer", name),
                       ipc_peer_alive(pv[k]) ? 1 : 0);
        }
    }
    metric_set(metrics_counter(reg, "xfed_ipc_resends_total"), (int64_t)resent);
    metric_set(metrics_counter(reg, "xfed_ipc_messages_total", "direction", "out"), (int64_t)sent);
    metric_set(metrics_counter(reg, "xfed_ipc_messages_total", "direction", "in"),
               (int64_t)received);
    metric_set(metrics_counter(reg, "xfed_ipc_duplicates_total"), (int64_t)dups);
}
