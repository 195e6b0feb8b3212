/*
 * ipc_idmap.h - a hash map from non-zero 64-bit message ids to pointers, for
 * the channel's unacknowledged queues and duplicate windows.
 *
 * Open addressing with linear probing in Robin Hood order and backward-shift
 * deletion (no tombstones). Runs of 4 consecutive ids share one group of
 * slots, the groups placed by a hash with a per-map random seed so that a
 * peer choosing ids cannot force collisions. Not thread-safe; nothing blocks.
 */
#ifndef XFED_IPC_IDMAP_H
#define XFED_IPC_IDMAP_H

#include <stddef.h>
#include <stdint.h>

struct ipc_idmap; /* opaque */

/* A map sized for about hint entries (it grows as needed). NULL on memory. */
struct ipc_idmap *ipc_idmap_new(size_t hint);
void ipc_idmap_free(struct ipc_idmap *);

/* The value stored under key (non-zero), or NULL. */
void *ipc_idmap_get(const struct ipc_idmap *, uint64_t key);

/* Stores val (non-NULL) under key (non-zero), replacing an old value.
 * Returns 0, or -1 (memory, key 0 or val NULL). */
int ipc_idmap_put(struct ipc_idmap *, uint64_t key, void *val);

/* Removes key; returns the value it had, or NULL. */
void *ipc_idmap_del(struct ipc_idmap *, uint64_t key);

size_t ipc_idmap_count(const struct ipc_idmap *);

#endif
