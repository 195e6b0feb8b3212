/*
 * gw_strmap.c - chained string hash map with a random seed.
 */
#include "gw_strmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

struct node {
    struct node *next;
    uint64_t hash;
    void *val;
    char key[]; /* NUL-terminated copy */
};

struct gw_strmap {
    struct node **b;
    size_t nb; /* power of two */
    size_t n;
    uint64_t seed0, seed1;
};

static uint64_t rotl(uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

/* A keyed 64-bit mix over 8-byte words (SipHash-1-3 rounds). */
static uint64_t hash_key(const struct gw_strmap *m, const char *s, size_t len)
{
    uint64_t v0 = m->seed0 ^ 0x736f6d6570736575ULL, v1 = m->seed1 ^ 0x646f72616e646f6dULL;
    uint64_t v2 = m->seed0 ^ 0x6c7967656e657261ULL, v3 = m->seed1 ^ 0x7465646279746573ULL;
#define SIPROUND           \
    do {                   \
        v0 += v1;          \
        v1 = rotl(v1, 13); \
        v1 ^= v0;          \
        v0 = rotl(v0, 32); \
        v2 += v3;          \
        v3 = rotl(v3, 16); \
        v3 ^= v2;          \
        v0 += v3;          \
        v3 = rotl(v3, 21); \
        v3 ^= v0;          \
        v2 += v1;          \
        v1 = rotl(v1, 17); \
        v1 ^= v2;          \
        v2 = rotl(v2, 32); \
    } while (0)
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        v3 ^= w;
        SIPROUND;
        v0 ^= w;
    }
    uint64_t last = (uint64_t)len << 56;
    for (size_t j = 0; i + j < len; j++)
        last |= (uint64_t)(uint8_t)s[i + j] << (8 * j);
    v3 ^= last;
    SIPROUND;
    v0 ^= last;
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
#undef SIPROUND
    return v0 ^ v1 ^ v2 ^ v3;
}

struct gw_strmap *gw_strmap_new(size_t hint)
{
    struct gw_strmap *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return NULL;
    m->nb = 16;
    while (m->nb < hint)
        m->nb <<= 1;
    m->b = calloc(m->nb, sizeof(*m->b));
    uint64_t seed[2] = {0x9e3779b97f4a7c15ULL, 0xbf58476d1ce4e5b9ULL};
    /* On failure the fixed seed stays: only collision resistance is lost. */
    (void)!getrandom(seed, sizeof(seed), GRND_NONBLOCK);
    m->seed0 = seed[0];
    m->seed1 = seed[1];
    if (m->b == NULL) {
        free(m);
        return NULL;
    }
    return m;
}

void gw_strmap_free(struct gw_strmap *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->nb; i++) {
        struct node *n = m->b[i];
        while (n) {
            struct node *next = n->next;
            free(n);
            n = next;
        }
    }
    free(m->b);
    free(m);
}

static struct node **find(const struct gw_strmap *m, const char *key, uint64_t h)
{
    struct node **pp = &m->b[h & (m->nb - 1)];
    while (*pp && ((*pp)->hash != h || strcmp((*pp)->key, key) != 0))
        pp = &(*pp)->next;
    return pp;
}

void *gw_strmap_get(const struct gw_strmap *m, const char *key)
{
    uint64_t h = hash_key(m, key, strlen(key));
    struct node *n = *find(m, key, h);
    return n ? n->val : NULL;
}

static void grow(struct gw_strmap *m)
{
    size_t nb = m->nb * 2;
    struct node **b = calloc(nb, sizeof(*b));
    if (b == NULL)
        return; /* longer chains, still correct */
    for (size_t i = 0; i < m->nb; i++) {
        struct node *n = m->b[i];
        while (n) {
            struct node *next = n->next;
            n->next = b[n->hash & (nb - 1)];
            b[n->hash & (nb - 1)] = n;
            n = next;
        }
    }
    free(m->b);
    m->b = b;
    m->nb = nb;
}

int gw_strmap_put(struct gw_strmap *m, const char *key, void *val)
{
    size_t len = strlen(key);
    uint64_t h = hash_key(m, key, len);
    struct node **pp = find(m, key, h);
    if (*pp) {
        (*pp)->val = val;
        return 0;
    }
    struct node *n = malloc(sizeof(*n) + len + 1);
    if (n == NULL)
        return -1;
    n->next = NULL;
    n->hash = h;
    n->val = val;
    memcpy(n->key, key, len + 1);
    *pp = n;
    if (++m->n > m->nb)
        grow(m);
    return 0;
}

void *gw_strmap_del(struct gw_strmap *m, const char *key)
{
    uint64_t h = hash_key(m, key, strlen(key));
    struct node **pp = find(m, key, h);
    struct node *n = *pp;
    if (n == NULL)
        return NULL;
    *pp = n->next;
    void *val = n->val;
    free(n);
    m->n--;
    return val;
}

size_t gw_strmap_count(const struct gw_strmap *m)
{
    return m->n;
}

void gw_strmap_each(const struct gw_strmap *m, void (*fn)(const char *key, void *val, void *arg),
                    void *arg)
{
    for (size_t i = 0; i < m->nb; i++)
        for (struct node *n = m->b[i]; n; n = n->next)
            fn(n->key, n->val, arg);
}
