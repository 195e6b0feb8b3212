/*
 * rendezvous.c - see rendezvous.h.
 */
#include "rendezvous.h"

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

uint64_t rendezvous_hash(const char *user)
{
    uint64_t h = mix(fnv1a(user));
    return h ? h : 1;
}

uint64_t rendezvous_score(uint64_t user, const char *name)
{
    return mix(user ^ mix(fnv1a(name) + 0x9e3779b97f4a7c15ULL));
}

long rendezvous_pick(uint64_t user, const char *const *names, size_t n)
{
    long best = -1;
    uint64_t best_s = 0;
    for (size_t j = 0; j < n; j++) {
        uint64_t s = rendezvous_score(user, names[j]);
        if (best < 0 || s > best_s) {
            best = (long)j;
            best_s = s;
        }
    }
    return best;
}
