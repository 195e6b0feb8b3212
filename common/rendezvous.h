/*
 * rendezvous.h - rendezvous (highest random weight) hashing of internal
 * users over named gateways (issue 6 item 1, DESIGN.md section 1). The
 * edge gives each internal user's stanzas to the live gateway with the
 * highest score; a gateway uses the same functions over the gateways whose
 * store lease is current to decide which orphaned subscriptions it takes
 * over, so both sides agree on one user's gateway. Pure functions.
 */
#ifndef XFED_RENDEZVOUS_H
#define XFED_RENDEZVOUS_H

#include <stddef.h>
#include <stdint.h>

/* 64-bit hash of a normalised bare JID (never 0). */
uint64_t rendezvous_hash(const char *user);

/* The score of user (rendezvous_hash) for the gateway called name. */
uint64_t rendezvous_score(uint64_t user, const char *name);

/* The index in names[0..n) of the gateway with the highest score for user
 * (rendezvous_hash), or -1 when n is 0. */
long rendezvous_pick(uint64_t user, const char *const *names, size_t n);

#endif
