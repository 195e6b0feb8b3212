/*
 * edge_users.c - see edge_users.h. An open-addressing set of non-zero
 * 64-bit values (linear probing, never deleted), sized at twice its cap.
 */
#include "edge_users.h"

#include <stdlib.h>

#include "rendezvous.h"

struct edge_users {
    uint64_t *slot; /* 0: empty */
    size_t cap;     /* slots, a power of two */
    size_t n, max;
    bool full;
};

uint64_t edge_users_hash(const char *user)
{
    return rendezvous_hash(user);
}

uint64_t edge_users_score(uint64_t user, const char *name)
{
    return rendezvous_score(user, name);
}

struct edge_users *edge_users_new(size_t max)
{
    struct edge_users *u = calloc(1, sizeof(*u));
    if (u == NULL)
        return NULL;
    u->max = max;
    u->cap = 16;
    while (u->cap < 2 * max)
        u->cap *= 2;
    u->slot = calloc(u->cap, sizeof(uint64_t));
    if (u->slot == NULL) {
        free(u);
        return NULL;
    }
    return u;
}

void edge_users_free(struct edge_users *u)
{
    if (u == NULL)
        return;
    free(u->slot);
    free(u);
}

int edge_users_add(struct edge_users *u, uint64_t user)
{
    if (user == 0)
        user = 1;
    size_t mask = u->cap - 1;
    for (size_t i = user & mask;; i = (i + 1) & mask) {
        if (u->slot[i] == user)
            return 0;
        if (u->slot[i] == 0) {
            if (u->n >= u->max) {
                u->full = true;
                return -1;
            }
            u->slot[i] = user;
            u->n++;
            return 0;
        }
    }
}

size_t edge_users_count(const struct edge_users *u)
{
    return u->n;
}

bool edge_users_full(const struct edge_users *u)
{
    return u->full;
}

void edge_users_share(const struct edge_users *u, const char *const *names, size_t n,
                      uint32_t *counts)
{
    for (size_t j = 0; j < n; j++)
        counts[j] = 0;
    if (n == 0)
        return;
    for (size_t i = 0; i < u->cap; i++) {
        if (u->slot[i] == 0)
            continue;
        size_t best = (size_t)rendezvous_pick(u->slot[i], names, n);
        counts[best]++;
    }
}
