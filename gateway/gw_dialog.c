/*
 * gw_dialog.c - the table of subscription dialogs (see gw_dialog.h).
 */
#include "gw_dialog.h"

#include <event2/event.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>

#include "gw_store.h"
#include "gw_strmap.h"
#include "log.h"

#define KEY_MAX   (2 * GW_SUB_ADDR_MAX + 16)
#define DKEY_MAX  (2 * GW_SUB_TOKEN_MAX + 2)
#define ROUTE_MAX 16 /* Route headers in one request */

struct rec {
    struct gw_dlg d; /* first: a struct gw_dlg * is a struct rec * */
    struct gw_dialogs *t;
    char key[KEY_MAX];   /* subscription key */
    char dkey[DKEY_MAX]; /* dialog key, "" when not indexed */
    struct event *timer;
    bool counted; /* in per_xmpp */
    bool stored;  /* the store has held it: loaded, adopted or saved */
    /* NOTIFY throttle (gw_dlg_notify_may_send), memory only */
    struct event *notify_ev;
    int64_t notify_last_ms; /* monotonic time of the last state NOTIFY, 0 none */
    bool notify_held;       /* a change waits for notify_ev */
    bool notify_due;        /* notify_ev fired: the next one goes */
    LIST_ENTRY(rec) link;
};

struct gw_dialogs {
    struct event_base *base;
    struct gw_store *store;
    gw_dlg_timer_cb *cb;
    void *arg;
    struct gw_strmap *by_key;    /* key -> rec */
    struct gw_strmap *by_dialog; /* dkey -> rec */
    struct gw_strmap *per_xmpp;  /* bare JID -> records (a count in the pointer) */
    gw_dlg_timer_cb *notify_cb;
    LIST_HEAD(, rec) all;
    size_t n;
};

static void count_xmpp(struct gw_dialogs *t, struct rec *r, int delta)
{
    uintptr_t n = (uintptr_t)gw_strmap_get(t->per_xmpp, r->d.sub.xmpp);
    if (delta > 0) {
        if (gw_strmap_put(t->per_xmpp, r->d.sub.xmpp, (void *)(n + 1)) == 0)
            r->counted = true;
    } else if (r->counted) {
        r->counted = false;
        if (n <= 1)
            gw_strmap_del(t->per_xmpp, r->d.sub.xmpp);
        else
            gw_strmap_put(t->per_xmpp, r->d.sub.xmpp, (void *)(n - 1));
    }
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sub_key(char *key, enum gw_sub_dir dir, const char *xmpp, const char *sip, bool poll)
{
    snprintf(key, KEY_MAX, "%d|%d|%s|%s", (int)dir, poll ? 1 : 0, xmpp, sip);
}

static void dlg_key(char *key, const char *call_id, const char *local_tag)
{
    snprintf(key, DKEY_MAX, "%s|%s", call_id, local_tag);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct rec *r = arg;
    (void)fd;
    (void)what;
    r->t->cb(r->t->arg, &r->d);
}

struct gw_dialogs *gw_dialogs_new(struct event_base *base, struct gw_store *store,
                                  gw_dlg_timer_cb *cb, void *arg)
{
    struct gw_dialogs *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return NULL;
    t->base = base;
    t->store = store;
    t->cb = cb;
    t->arg = arg;
    LIST_INIT(&t->all);
    t->by_key = gw_strmap_new(256);
    t->by_dialog = gw_strmap_new(256);
    t->per_xmpp = gw_strmap_new(256);
    if (t->by_key == NULL || t->by_dialog == NULL || t->per_xmpp == NULL) {
        gw_dialogs_free(t);
        return NULL;
    }
    return t;
}

static void rec_free(struct rec *r)
{
    struct gw_dialogs *t = r->t;
    if (gw_strmap_get(t->by_key, r->key) == r)
        gw_strmap_del(t->by_key, r->key);
    if (r->dkey[0] && gw_strmap_get(t->by_dialog, r->dkey) == r)
        gw_strmap_del(t->by_dialog, r->dkey);
    count_xmpp(t, r, -1);
    LIST_REMOVE(r, link);
    t->n--;
    if (r->timer)
        event_free(r->timer);
    if (r->notify_ev)
        event_free(r->notify_ev);
    free(r);
}

void gw_dialogs_free(struct gw_dialogs *t)
{
    if (t == NULL)
        return;
    while (!LIST_EMPTY(&t->all))
        rec_free(LIST_FIRST(&t->all));
    gw_strmap_free(t->by_key);
    gw_strmap_free(t->by_dialog);
    gw_strmap_free(t->per_xmpp);
    free(t);
}

static struct rec *rec_new(struct gw_dialogs *t)
{
    struct rec *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return NULL;
    r->t = t;
    r->timer = evtimer_new(t->base, timer_cb, r);
    if (r->timer == NULL) {
        free(r);
        return NULL;
    }
    LIST_INSERT_HEAD(&t->all, r, link);
    t->n++;
    return r;
}

/* Index and timer from the record's current data. */
static int rec_index(struct rec *r)
{
    struct gw_dialogs *t = r->t;
    const struct gw_sub *s = &r->d.sub;
    char dkey[DKEY_MAX] = "";
    if (s->call_id[0] && s->local_tag[0])
        dlg_key(dkey, s->call_id, s->local_tag);
    if (strcmp(dkey, r->dkey) != 0) {
        if (r->dkey[0] && gw_strmap_get(t->by_dialog, r->dkey) == r)
            gw_strmap_del(t->by_dialog, r->dkey);
        memcpy(r->dkey, dkey, sizeof(dkey));
        if (r->dkey[0] && gw_strmap_put(t->by_dialog, r->dkey, r) != 0)
            return -1;
    }
    evtimer_del(r->timer);
    if (s->timer_at > 0) {
        int64_t left = s->timer_at - (int64_t)time(NULL);
        struct timeval tv = {left > 0 ? (time_t)left : 0, left > 0 ? 0 : 1000};
        evtimer_add(r->timer, &tv);
    }
    return 0;
}

struct gw_dlg *gw_dlg_adopt(struct gw_dialogs *t, const struct gw_sub *s)
{
    struct rec *r = rec_new(t);
    if (r == NULL)
        return NULL;
    r->d.sub = *s;
    sub_key(r->key, s->dir, s->xmpp, s->sip, s->poll);
    struct rec *old = gw_strmap_get(t->by_key, r->key);
    if (old)
        rec_free(old);
    if (gw_strmap_put(t->by_key, r->key, r) != 0 || rec_index(r) != 0) {
        rec_free(r);
        return NULL;
    }
    r->stored = true;
    count_xmpp(t, r, 1);
    return &r->d;
}

static int load_one(void *arg, const struct gw_sub *s)
{
    struct gw_dialogs *t = arg;
    if (s->state == GW_SUB_TERMINATED)
        return 0;
    return gw_dlg_adopt(t, s) ? 0 : -1;
}

int gw_dialogs_load(struct gw_dialogs *t)
{
    if (t->store == NULL)
        return 0;
    if (gw_store_sub_each_where(t->store, GW_STORE_MINE, 0, load_one, t) != 0)
        return -1;
    return (int)t->n;
}

struct gw_dlg *gw_dlg_find(struct gw_dialogs *t, enum gw_sub_dir dir, const char *xmpp,
                           const char *sip, bool poll)
{
    char key[KEY_MAX];
    sub_key(key, dir, xmpp, sip, poll);
    struct rec *r = gw_strmap_get(t->by_key, key);
    return r ? &r->d : NULL;
}

struct gw_dlg *gw_dlg_by_dialog(struct gw_dialogs *t, const char *call_id, const char *local_tag)
{
    if (call_id == NULL || local_tag == NULL)
        return NULL;
    char key[DKEY_MAX];
    dlg_key(key, call_id, local_tag);
    struct rec *r = gw_strmap_get(t->by_dialog, key);
    return r ? &r->d : NULL;
}

size_t gw_dlg_for_xmpp(struct gw_dialogs *t, enum gw_sub_dir dir, const char *xmpp,
                       struct gw_dlg **v, size_t max)
{
    size_t n = 0;
    struct rec *r;
    LIST_FOREACH(r, &t->all, link)
    {
        if (r->d.sub.dir != dir || strcmp(r->d.sub.xmpp, xmpp) != 0)
            continue;
        if (n < max)
            v[n] = &r->d;
        n++;
    }
    return n;
}

size_t gw_dlg_all(struct gw_dialogs *t, struct gw_dlg **v, size_t max)
{
    size_t n = 0;
    struct rec *r;
    LIST_FOREACH(r, &t->all, link)
    {
        if (n < max)
            v[n] = &r->d;
        n++;
    }
    return n;
}

struct gw_dlg *gw_dlg_create(struct gw_dialogs *t, enum gw_sub_dir dir, const char *xmpp,
                             const char *sip, bool poll, bool authorized)
{
    struct rec *r = rec_new(t);
    if (r == NULL)
        return NULL;
    if (gw_sub_init(&r->d.sub, dir, xmpp, sip, authorized) != 0) {
        rec_free(r);
        return NULL;
    }
    r->d.sub.poll = poll;
    sub_key(r->key, dir, xmpp, sip, poll);
    struct rec *old = gw_strmap_get(t->by_key, r->key);
    if (old)
        rec_free(old);
    if (gw_strmap_put(t->by_key, r->key, r) != 0) {
        rec_free(r);
        return NULL;
    }
    count_xmpp(t, r, 1);
    return &r->d;
}

int gw_dlg_save(struct gw_dialogs *t, struct gw_dlg *d)
{
    struct rec *r = (struct rec *)d;
    int rc = rec_index(r);
    int put = t->store ? gw_store_sub_put(t->store, &d->sub) : 0;
    if (put < 0) {
        log_warnx("event=store-write-failed what=subscription xmpp=%s", d->sub.xmpp);
        rc = -1;
    } else if (put == 1 && rc == 0) {
        rc = 1;
    } else if (put == 0) {
        r->stored = true;
    }
    return rc;
}

bool gw_dlg_stored(const struct gw_dlg *d)
{
    return ((const struct rec *)d)->stored;
}

void gw_dlg_forget(struct gw_dialogs *t, struct gw_dlg *d)
{
    (void)t;
    rec_free((struct rec *)d);
}

void gw_dlg_delete(struct gw_dialogs *t, struct gw_dlg *d)
{
    struct rec *r = (struct rec *)d;
    if (t->store &&
        gw_store_sub_delete(t->store, d->sub.dir, d->sub.xmpp, d->sub.sip, d->sub.poll) != 0)
        log_warnx("event=store-write-failed what=subscription-delete xmpp=%s", d->sub.xmpp);
    rec_free(r);
}

size_t gw_dialogs_count(const struct gw_dialogs *t)
{
    return t->n;
}

size_t gw_dialogs_count_xmpp(const struct gw_dialogs *t, const char *xmpp)
{
    return (size_t)(uintptr_t)gw_strmap_get(t->per_xmpp, xmpp);
}

/* ---- NOTIFY throttle ------------------------------------------------------ */

static void notify_ev_cb(evutil_socket_t fd, short what, void *arg)
{
    struct rec *r = arg;
    (void)fd;
    (void)what;
    if (!r->notify_held)
        return;
    r->notify_held = false;
    r->notify_due = true;
    if (r->t->notify_cb)
        r->t->notify_cb(r->t->arg, &r->d);
    r->notify_due = false;
}

void gw_dialogs_set_notify_cb(struct gw_dialogs *t, gw_dlg_timer_cb *cb)
{
    t->notify_cb = cb;
}

bool gw_dlg_notify_may_send(struct gw_dialogs *t, struct gw_dlg *d, unsigned interval_ms)
{
    struct rec *r = (struct rec *)d;
    int64_t now = mono_ms();
    if (r->notify_held)
        return false; /* the held one will carry this change too */
    if (interval_ms == 0 || r->notify_due || r->notify_last_ms == 0 ||
        now - r->notify_last_ms >= (int64_t)interval_ms) {
        r->notify_last_ms = now;
        r->notify_due = false;
        return true;
    }
    if (r->notify_ev == NULL && (r->notify_ev = evtimer_new(t->base, notify_ev_cb, r)) == NULL)
        return true; /* no timer: better an early NOTIFY than a lost one */
    int64_t wait = r->notify_last_ms + (int64_t)interval_ms - now;
    struct timeval tv = {(time_t)(wait / 1000), (suseconds_t)(wait % 1000) * 1000};
    evtimer_add(r->notify_ev, &tv);
    r->notify_held = true;
    return false;
}

void gw_dlg_notify_sent(struct gw_dialogs *t, struct gw_dlg *d, bool carries_state)
{
    struct rec *r = (struct rec *)d;
    (void)t;
    r->notify_last_ms = mono_ms();
    if (carries_state && r->notify_held) {
        r->notify_held = false;
        evtimer_del(r->notify_ev);
    }
}

bool gw_dlg_notify_held(const struct gw_dlg *d)
{
    return ((const struct rec *)d)->notify_held;
}

/* ---- requests ----------------------------------------------------------- */

int gw_dlg_route_set(const struct gw_sip_msg *m, bool reverse, char *buf, size_t cap)
{
    size_t n = gw_sip_record_route_count(m), off = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        const char *v = gw_sip_record_route(m, reverse ? n - 1 - i : i);
        if (v == NULL)
            continue;
        int w = snprintf(buf + off, cap - off, "%s%s", off ? ", " : "", v);
        if (w < 0 || (size_t)w >= cap - off) {
            buf[0] = '\0';
            return -1;
        }
        off += (size_t)w;
    }
    return 0;
}

/* Splits a stored route set at the commas outside <...> into v (pointers
 * into copy). */
static size_t split_routes(char *copy, const char **v, size_t max)
{
    size_t n = 0;
    int depth = 0;
    char *start = copy;
    for (char *p = copy;; p++) {
        if (*p == '<')
            depth++;
        else if (*p == '>' && depth > 0)
            depth--;
        if (*p == '\0' || (*p == ',' && depth == 0)) {
            char end = *p;
            *p = '\0';
            while (*start == ' ')
                start++;
            if (*start && n < max)
                v[n++] = start;
            if (end == '\0')
                break;
            start = p + 1;
        }
    }
    return n;
}

static int new_branch(char *branch)
{
    memcpy(branch, "z9hG4bK", 7);
    return gw_sip_random_token(branch + 7, 25);
}

char *gw_dlg_build_subscribe(const struct gw_dlg *d, const struct gw_dlg_local *loc,
                             const char *from_uri, uint32_t expires, bool new_dialog, char *branch,
                             size_t *len)
{
    const struct gw_sub *s = &d->sub;
    char routes[GW_SUB_ROUTE_MAX];
    const char *rv[ROUTE_MAX];
    size_t nr = 0;
    if (new_branch(branch) != 0)
        return NULL;
    if (!new_dialog) {
        memcpy(routes, s->route_set, sizeof(routes));
        nr = split_routes(routes, rv, ROUTE_MAX);
    }
    struct gw_sip_request r = {
        .method = "SUBSCRIBE",
        .request_uri = (!new_dialog && s->remote_target[0]) ? s->remote_target : s->sip,
        .from_uri = from_uri,
        .from_tag = s->local_tag,
        .to_uri = s->sip,
        .to_tag = (!new_dialog && s->remote_tag[0]) ? s->remote_tag : NULL,
        .call_id = s->call_id,
        .cseq = s->local_cseq,
        .via_transport = loc->via_transport,
        .via_host = loc->host,
        .via_port = loc->port,
        .branch = branch,
        .contact = loc->contact,
        .routes = rv,
        .n_routes = nr,
        .max_forwards = -1,
        .event = "presence",
        .expires = (long)expires,
        .accept = "application/pidf+xml",
    };
    return gw_sip_request_build(&r, len, NULL);
}

char *gw_dlg_build_notify(const struct gw_dlg *d, const struct gw_dlg_local *loc,
                          const char *from_uri, enum gw_notify_state ns, uint32_t expires,
                          const char *reason, const char *body, size_t body_len, char *branch,
                          size_t *len)
{
    const struct gw_sub *s = &d->sub;
    char routes[GW_SUB_ROUTE_MAX], state[96];
    const char *rv[ROUTE_MAX];
    if (new_branch(branch) != 0)
        return NULL;
    memcpy(routes, s->route_set, sizeof(routes));
    size_t nr = split_routes(routes, rv, ROUTE_MAX);
    switch (ns) {
    case GW_NS_ACTIVE:
        snprintf(state, sizeof(state), "active;expires=%u", expires);
        break;
    case GW_NS_PENDING:
        snprintf(state, sizeof(state), "pending;expires=%u", expires);
        break;
    default:
        snprintf(state, sizeof(state), "terminated%s%s", reason ? ";reason=" : "",
                 reason ? reason : "");
        break;
    }
    struct gw_sip_request r = {
        .method = "NOTIFY",
        .request_uri = s->remote_target[0] ? s->remote_target : s->sip,
        .from_uri = from_uri,
        .from_tag = s->local_tag,
        .to_uri = s->sip,
        .to_tag = s->remote_tag[0] ? s->remote_tag : NULL,
        .call_id = s->call_id,
        .cseq = s->local_cseq,
        .via_transport = loc->via_transport,
        .via_host = loc->host,
        .via_port = loc->port,
        .branch = branch,
        .contact = loc->contact,
        .routes = rv,
        .n_routes = nr,
        .max_forwards = -1,
        .event = "presence",
        .expires = -1,
        .subscription_state = state,
        .content_type = body_len ? "application/pidf+xml" : NULL,
        .body = body_len ? body : NULL,
        .body_len = body_len,
    };
    return gw_sip_request_build(&r, len, NULL);
}
