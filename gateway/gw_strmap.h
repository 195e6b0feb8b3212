/*
 * gw_strmap.h - a hash map from strings (Via branches, Call-IDs, stanza
 * ids, dialog keys) to pointers, for the gateway's transaction, dialog and
 * router tables.
 *
 * Chained buckets that double when the load passes 1; keys are copied and
 * hashed with SipHash-like mixing under a per-map random seed, so a peer
 * choosing Call-IDs or branches cannot force collisions. Not thread-safe;
 * nothing blocks or logs.
 */
#ifndef XFED_GW_STRMAP_H
#define XFED_GW_STRMAP_H

#include <stddef.h>

struct gw_strmap; /* opaque */

/* NULL on memory exhaustion. */
struct gw_strmap *gw_strmap_new(size_t hint);

/* Frees the map and its key copies (not the values). NULL is fine. */
void gw_strmap_free(struct gw_strmap *);

/* The value under key, or NULL. */
void *gw_strmap_get(const struct gw_strmap *, const char *key);

/* Stores val (not NULL) under key (copied), replacing an old value.
 * Returns 0 or -1 (memory). */
int gw_strmap_put(struct gw_strmap *, const char *key, void *val);

/* Removes key; returns its value or NULL. */
void *gw_strmap_del(struct gw_strmap *, const char *key);

size_t gw_strmap_count(const struct gw_strmap *);

/* Calls fn for every entry (in no particular order). fn must not change
 * the map. */
void gw_strmap_each(const struct gw_strmap *, void (*fn)(const char *key, void *val, void *arg),
                    void *arg);

#endif
