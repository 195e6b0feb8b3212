/*
 * ipc_metrics.h - the xfed_ipc_* families of docs/metrics.md, mirrored
 * from one or more IPC channels (an edge has one, a gateway one per edge)
 * in a metrics collect callback. Runs on the loop that owns the channels.
 */
#ifndef XFED_IPC_METRICS_H
#define XFED_IPC_METRICS_H

#include <stddef.h>
#include <stdint.h>

struct ipc_channel;
struct metrics;

/* Sets xfed_ipc_messages_total, xfed_ipc_resends_total (the channels'
 * re-sends plus extra_resends, e.g. stanzas handed to another peer),
 * xfed_ipc_duplicates_total as the sums over chs[0..n) (NULL entries
 * skipped), and xfed_ipc_queue_depth / xfed_ipc_peer_up for every peer of
 * every channel after zeroing them, so that a peer gone reads 0. */
void ipc_metrics_collect(struct metrics *reg, struct ipc_channel *const *chs, size_t n,
                         uint64_t extra_resends);

#endif
