/*
 * edge_users.c - see edge_users.h. An open-addressing set of non-zero
 * 64-bit values (linear probing, never deleted), sized at twice its cap.
 */
#include "edge_users.h"

#include <stdlib.h>

struct edge_users {
    uint64_t *slot; /* 0: empty */
    size_t cap;     /* slots, a power of two */
    size_t n, max;
    bool full;
};

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (const char *p = s; *p; p++)
        h = (h ^ (uint8_t)*p) * 1099511628211ULL;
    return h;
}

/* splitmix64's finaliser: every input bit reaches every output bit. */
static uint64_t mix(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

uint64_t edge_users_hash(const char *user)
{
    uint64_t h = mix(fnv1a(user));
    return h ? h : 1;
}

uint64_t edge_users_score(uint64_t user, const char *name)
{
    return mix(user ^ mix(fnv1a(name) + 0x9e3779b97f4a7c15ULL));
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
        size_t best = 0;
        uint64_t best_s = edge_users_score(u->slot[i], names[0]);
        for (size_t j = 1; j < n; j++) {
            uint64_t s = edge_users_score(u->slot[i], names[j]);
            if (s > best_s) {
                best = j;
                best_s = s;
            }
        }
        counts[best]++;
    }
}
