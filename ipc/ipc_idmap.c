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

/* Runs of GROUP consecutive ids (the channel numbers its messages 1, 2, 3,
 * ...) land in consecutive slots: sending and acknowledging in order then
 * walks the table instead of missing the cache once per id. The groups are
 * placed by the splitmix64 finaliser of the seeded group number (every input
 * bit reaches every output bit), so a peer choosing ids cannot aim them. */
#define GROUP_BITS 2

static size_t slot_of(const struct ipc_idmap *m, uint64_t k)
{
    uint64_t z = (k >> GROUP_BITS) ^ m->seed;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return (size_t)((z << GROUP_BITS) | (k & ((1u << GROUP_BITS) - 1))) & m->mask;
}

/* How far slot i lies from the home slot of its key. */
static size_t dist_of(const struct ipc_idmap *m, size_t i)
{
    return (i - slot_of(m, m->s[i].key)) & m->mask;
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

/* Robin Hood order: along a probe run, no key sits further from its home
 * than the key that displaced it would, so a search stops at the first slot
 * whose key is nearer its home than the searched key would be. */
static struct slot *find(const struct ipc_idmap *m, uint64_t key)
{
    for (size_t i = slot_of(m, key), d = 0;; i = (i + 1) & m->mask, d++) {
        if (m->s[i].key == key)
            return &m->s[i];
        if (m->s[i].key == 0 || dist_of(m, i) < d)
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
    bool carried = false; /* carrying a key displaced from its slot */
    for (size_t i = slot_of(m, key), d = 0;; i = (i + 1) & m->mask, d++) {
        struct slot *s = &m->s[i];
        if (s->key == 0) {
            s->key = key;
            s->val = val;
            m->n++;
            return;
        }
        if (!carried && s->key == key) {
            s->val = val;
            return;
        }
        size_t sd = dist_of(m, i);
        if (sd < d) {
            /* Take the slot of the key nearer its home; carry that on. */
            struct slot t = *s;
            s->key = key;
            s->val = val;
            key = t.key;
            val = t.val;
            d = sd;
            carried = true;
        }
    }
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
    /* Backward shift: pull the rest of the probe run one slot back, up to
     * an empty slot or a key in its home slot (Robin Hood order keeps the
     * run sorted by distance, so nothing after that can move). */
    for (size_t j = (i + 1) & m->mask; m->s[j].key != 0 && dist_of(m, j) > 0;
         j = (j + 1) & m->mask) {
        m->s[i] = m->s[j];
        i = j;
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
