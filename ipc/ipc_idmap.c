/*
 * ipc_idmap.c - open-addressing map of 64-bit ids (see ipc_idmap.h).
 */
#include <stdbool.h>
#include <stdlib.h>
#include <sys/random.h>

#include "ipc_idmap.h"

struct slot {
    uint64_t key; /* 0: empty */
    void *val;
};

struct ipc_idmap {
    struct slot *s;
    size_t mask; /* capacity - 1, capacity a power of two */
    size_t n;
    uint64_t seed;
};

/* splitmix64 finaliser: every input bit reaches every output bit. */
static size_t slot_of(const struct ipc_idmap *m, uint64_t k)
{
    uint64_t z = k ^ m->seed;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return (size_t)z & m->mask;
}

struct ipc_idmap *ipc_idmap_new(size_t hint)
{
    struct ipc_idmap *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return NULL;
    size_t cap = 16;
    while (cap < hint * 2 && cap < ((size_t)1 << 40))
        cap <<= 1;
    m->s = calloc(cap, sizeof(*m->s));
    if (m->s == NULL) {
        free(m);
        return NULL;
    }
    m->mask = cap - 1;
    if (getrandom(&m->seed, sizeof(m->seed), GRND_NONBLOCK) != (ssize_t)sizeof(m->seed))
        m->seed = (uint64_t)(uintptr_t)m * 0x9e3779b97f4a7c15ULL;
    return m;
}

void ipc_idmap_free(struct ipc_idmap *m)
{
    if (m == NULL)
        return;
    free(m->s);
    free(m);
}

static struct slot *find(const struct ipc_idmap *m, uint64_t key)
{
    for (size_t i = slot_of(m, key);; i = (i + 1) & m->mask) {
        if (m->s[i].key == key)
            return &m->s[i];
        if (m->s[i].key == 0)
            return NULL;
    }
}

void *ipc_idmap_get(const struct ipc_idmap *m, uint64_t key)
{
    if (key == 0)
        return NULL;
    struct slot *s = find(m, key);
    return s ? s->val : NULL;
}

static void insert(struct ipc_idmap *m, uint64_t key, void *val)
{
    size_t i = slot_of(m, key);
    while (m->s[i].key != 0 && m->s[i].key != key)
        i = (i + 1) & m->mask;
    if (m->s[i].key == 0)
        m->n++;
    m->s[i].key = key;
    m->s[i].val = val;
}

static int grow(struct ipc_idmap *m)
{
    size_t cap = (m->mask + 1) * 2;
    struct slot *old = m->s, *ns = calloc(cap, sizeof(*ns));
    if (ns == NULL)
        return -1;
    size_t oldcap = m->mask + 1;
    m->s = ns;
    m->mask = cap - 1;
    m->n = 0;
    for (size_t i = 0; i < oldcap; i++)
        if (old[i].key)
            insert(m, old[i].key, old[i].val);
    free(old);
    return 0;
}

int ipc_idmap_put(struct ipc_idmap *m, uint64_t key, void *val)
{
    if (key == 0 || val == NULL)
        return -1;
    /* Load factor at most 1/2 keeps probe sequences short. */
    if ((m->n + 1) * 2 > m->mask + 1 && grow(m) != 0)
        return -1;
    insert(m, key, val);
    return 0;
}

void *ipc_idmap_del(struct ipc_idmap *m, uint64_t key)
{
    if (key == 0)
        return NULL;
    struct slot *s = find(m, key);
    if (s == NULL)
        return NULL;
    void *val = s->val;
    size_t i = (size_t)(s - m->s);
    /* Backward shift: pull later members of the probe run into the hole
     * when their home slot does not lie cyclically in (hole, here]. */
    size_t j = i;
    for (;;) {
        j = (j + 1) & m->mask;
        if (m->s[j].key == 0)
            break;
        size_t home = slot_of(m, m->s[j].key);
        bool movable = (i <= j) ? (home <= i || home > j) : (home <= i && home > j);
        if (movable) {
            m->s[i] = m->s[j];
            i = j;
        }
    }
    m->s[i].key = 0;
    m->s[i].val = NULL;
    m->n--;
    return val;
}

size_t ipc_idmap_count(const struct ipc_idmap *m)
{
    return m->n;
}
