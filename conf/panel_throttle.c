/*
 * panel_throttle.c - failure counters for sign-in attempts.
 */
#include "panel_throttle.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define KEYMAX 96

struct entry {
    char key[KEYMAX]; /* "a:" account or "c:" client address */
    unsigned failures;
    uint64_t last_ms;  /* time of the last failure */
    uint64_t until_ms; /* no attempt evaluated before */
};

struct panel_throttle {
    struct panel_throttle_conf c;
    struct entry *v;
    size_t n;
};

struct panel_throttle *panel_throttle_new(const struct panel_throttle_conf *c)
{
    struct panel_throttle *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return NULL;
    t->c = *c;
    if (t->c.max_entries == 0)
        t->c.max_entries = 1;
    t->v = calloc(t->c.max_entries, sizeof(*t->v));
    if (t->v == NULL) {
        free(t);
        return NULL;
    }
    return t;
}

void panel_throttle_free(struct panel_throttle *t)
{
    if (t == NULL)
        return;
    free(t->v);
    free(t);
}

static void make_key(char *key, char kind, const char *s)
{
    key[0] = kind;
    key[1] = ':';
    /* longer keys are cut: two names sharing a 93-byte prefix share a counter,
     * which only makes throttling stricter */
    strncpy(key + 2, s != NULL ? s : "", KEYMAX - 3);
    key[KEYMAX - 1] = '\0';
}

static void expire(struct panel_throttle *t, struct entry *e, uint64_t now_ms)
{
    if (e->failures > 0 && now_ms > e->last_ms &&
        now_ms - e->last_ms > (uint64_t)t->c.forget_s * 1000 && now_ms >= e->until_ms)
        e->failures = 0;
}

static struct entry *lookup(struct panel_throttle *t, const char *key, uint64_t now_ms, bool create)
{
    for (size_t i = 0; i < t->n; i++) {
        if (strcmp(t->v[i].key, key) == 0) {
            expire(t, &t->v[i], now_ms);
            return &t->v[i];
        }
    }
    if (!create)
        return NULL;
    size_t slot = t->n;
    if (t->n == t->c.max_entries) {
        /* reuse a forgotten entry, else the one idle longest */
        slot = 0;
        for (size_t i = 0; i < t->n; i++) {
            expire(t, &t->v[i], now_ms);
            if (t->v[i].failures == 0) {
                slot = i;
                break;
            }
            if (t->v[i].last_ms < t->v[slot].last_ms)
                slot = i;
        }
    } else {
        t->n++;
    }
    memset(&t->v[slot], 0, sizeof(t->v[slot]));
    strcpy(t->v[slot].key, key);
    return &t->v[slot];
}

uint64_t panel_throttle_wait(struct panel_throttle *t, const char *account, const char *addr,
                             uint64_t now_ms)
{
    char ka[KEYMAX], kc[KEYMAX];
    uint64_t wait = 0;
    make_key(ka, 'a', account);
    make_key(kc, 'c', addr);
    const struct entry *ea = lookup(t, ka, now_ms, false);
    const struct entry *ec = lookup(t, kc, now_ms, false);
    if (ea != NULL && ea->until_ms > now_ms)
        wait = ea->until_ms - now_ms;
    if (ec != NULL && ec->until_ms > now_ms && ec->until_ms - now_ms > wait)
        wait = ec->until_ms - now_ms;
    return wait;
}

static uint64_t delay_for(const struct panel_throttle *t, unsigned failures)
{
    uint64_t d = t->c.base_ms;
    for (unsigned i = 1; i < failures && d < t->c.max_ms; i++)
        d *= 2;
    return d < t->c.max_ms ? d : t->c.max_ms;
}

uint64_t panel_throttle_failed(struct panel_throttle *t, const char *account, const char *addr,
                               uint64_t now_ms)
{
    char ka[KEYMAX], kc[KEYMAX];
    make_key(ka, 'a', account);
    make_key(kc, 'c', addr);
    struct entry *ea = lookup(t, ka, now_ms, true);
    ea->failures++;
    ea->last_ms = now_ms;
    unsigned fa = ea->failures;
    /* the second lookup may evict in a full table, so ea is not used after it */
    struct entry *ec = lookup(t, kc, now_ms, true);
    ec->failures++;
    ec->last_ms = now_ms;
    unsigned fc = ec->failures;
    uint64_t d = delay_for(t, fa > fc ? fa : fc);
    ec->until_ms = now_ms + d;
    ea = lookup(t, ka, now_ms, true);
    if (ea->failures == 0) { /* it was evicted: keep the count we had */
        ea->failures = fa;
        ea->last_ms = now_ms;
    }
    ea->until_ms = now_ms + d;
    return d;
}

void panel_throttle_succeeded(struct panel_throttle *t, const char *account, const char *addr)
{
    char ka[KEYMAX], kc[KEYMAX];
    make_key(ka, 'a', account);
    make_key(kc, 'c', addr);
    struct entry *e = lookup(t, ka, 0, false);
    if (e != NULL) {
        e->failures = 0;
        e->until_ms = 0;
    }
    e = lookup(t, kc, 0, false);
    if (e != NULL) {
        e->failures = 0;
        e->until_ms = 0;
    }
}
