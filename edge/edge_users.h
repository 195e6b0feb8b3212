/*
 * edge_users.h - the internal users an edge has routed stanzas for, and how
 * they spread over the gateways (issue 6 items 1 and 6).
 *
 * An edge gives each internal user to one gateway by rendezvous (highest
 * random weight) hashing: every live gateway gets a score for the user and
 * the highest wins, so a gateway that joins or leaves moves only its own
 * share. The score is built from a 64-bit hash of the user's bare JID, so
 * the edge can remember users as 64-bit values (8 bytes each, no strings)
 * and count each gateway's share for `xfedctl status` at any time.
 */
#ifndef XFED_EDGE_USERS_H
#define XFED_EDGE_USERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct edge_users; /* opaque */

/* A set that remembers at most max users (a setting; 0: none). NULL on memory. */
struct edge_users *edge_users_new(size_t max);
void edge_users_free(struct edge_users *);

/* 64-bit hash of a normalised bare JID (never 0). */
uint64_t edge_users_hash(const char *user);

/* The rendezvous score of user (edge_users_hash) for the gateway called name. */
uint64_t edge_users_score(uint64_t user, const char *name);

/* Remembers user. Returns 0 (added or known) or -1 when the set is full
 * (the user is then not counted; edge_users_full() says so). */
int edge_users_add(struct edge_users *, uint64_t user);

size_t edge_users_count(const struct edge_users *);
bool edge_users_full(const struct edge_users *);

/* For every remembered user, the gateway among names[0..n) with the highest
 * score gets one more in counts[0..n) (zeroed first): each gateway's share. */
void edge_users_share(const struct edge_users *, const char *const *names, size_t n,
                      uint32_t *counts);

#endif
