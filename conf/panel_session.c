/*
 * panel_session.c - the session table.
 *
 * Sessions live in a fixed-size array; lookups scan it and compare every id
 * in constant time, which costs nothing at the sizes an administration panel
 * sees and leaks no timing about which prefix matched.
 */
#include "panel_session.h"

#include "panel_secret.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct panel_sessions {
    unsigned idle_s, max_s;
    size_t max_n;
    struct panel_session **v; /* max_n slots, NULL when free */
};

struct panel_sessions *panel_sessions_new(unsigned idle_s, unsigned max_s, size_t max_n)
{
    struct panel_sessions *ps = calloc(1, sizeof(*ps));
    if (ps == NULL)
        return NULL;
    ps->idle_s = idle_s;
    ps->max_s = max_s;
    ps->max_n = max_n > 0 ? max_n : 1;
    ps->v = calloc(ps->max_n, sizeof(*ps->v));
    if (ps->v == NULL) {
        free(ps);
        return NULL;
    }
    return ps;
}

static void session_free(struct panel_session *s)
{
    pkv_clear(&s->flash);
    explicit_bzero(s, sizeof(*s));
    free(s);
}

void panel_sessions_free(struct panel_sessions *ps)
{
    if (ps == NULL)
        return;
    for (size_t i = 0; i < ps->max_n; i++) {
        if (ps->v[i] != NULL)
            session_free(ps->v[i]);
    }
    free(ps->v);
    free(ps);
}

uint64_t panel_hash_fp(const char *hash)
{
    /* FNV-1a: a change detector, not a security function */
    uint64_t h = 1469598103934665603ULL;
    for (const unsigned char *p = (const unsigned char *)(hash != NULL ? hash : ""); *p; p++) {
        h ^= *p;
        h *= 1099511628211ULL;
    }
    return h;
}

static bool expired(const struct panel_sessions *ps, const struct panel_session *s, uint64_t now)
{
    return now >= s->created + ps->max_s || now >= s->last_used + ps->idle_s;
}

struct panel_session *panel_session_create(struct panel_sessions *ps, const char *user,
                                           enum panel_role role, uint64_t hash_fp, uint64_t now)
{
    size_t slot = ps->max_n;
    for (size_t i = 0; i < ps->max_n; i++) {
        if (ps->v[i] != NULL && expired(ps, ps->v[i], now)) {
            session_free(ps->v[i]);
            ps->v[i] = NULL;
        }
        if (ps->v[i] == NULL && slot == ps->max_n)
            slot = i;
    }
    if (slot == ps->max_n) {
        slot = 0;
        for (size_t i = 1; i < ps->max_n; i++) {
            if (ps->v[i]->last_used < ps->v[slot]->last_used)
                slot = i;
        }
        session_free(ps->v[slot]);
        ps->v[slot] = NULL;
    }
    struct panel_session *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    if (panel_random_hex(s->id, PANEL_TOKEN_LEN / 2) < 0 ||
        panel_random_hex(s->csrf, PANEL_TOKEN_LEN / 2) < 0 ||
        strlen(user) > PANEL_ACCOUNT_NAMEMAX) {
        session_free(s);
        return NULL;
    }
    strcpy(s->user, user);
    s->role = role;
    s->hash_fp = hash_fp;
    s->created = s->last_used = now;
    ps->v[slot] = s;
    return s;
}

struct panel_session *panel_session_find(struct panel_sessions *ps, const char *id, uint64_t now)
{
    struct panel_session *found = NULL;
    if (id == NULL || strlen(id) != PANEL_TOKEN_LEN)
        return NULL;
    for (size_t i = 0; i < ps->max_n; i++) {
        if (ps->v[i] != NULL && panel_ct_streq(ps->v[i]->id, id))
            found = ps->v[i];
    }
    if (found == NULL)
        return NULL;
    if (expired(ps, found, now)) {
        panel_session_destroy(ps, found);
        return NULL;
    }
    found->last_used = now;
    return found;
}

void panel_session_destroy(struct panel_sessions *ps, struct panel_session *s)
{
    for (size_t i = 0; i < ps->max_n; i++) {
        if (ps->v[i] == s) {
            session_free(s);
            ps->v[i] = NULL;
            return;
        }
    }
}

size_t panel_sessions_count(const struct panel_sessions *ps)
{
    size_t n = 0;
    for (size_t i = 0; i < ps->max_n; i++)
        n += ps->v[i] != NULL;
    return n;
}

void panel_session_flash(struct panel_session *s, const char *kind)
{
    pkv_clear(&s->flash);
    snprintf(s->flash_kind, sizeof(s->flash_kind), "%s", kind);
}
