/*
 * gw_takeover.c - the lease of a gateway in a shared store and taking over
 * the subscriptions of gateways whose lease ran out (issue 6 item 2; see
 * docs/operations.md). Part of the router (gw_router_int.h).
 */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_conf.h"
#include "gw_dialog.h"
#include "gw_store.h"
#include "gw_subscription.h"
#include "jid.h"
#include "log.h"
#include "rendezvous.h"

#include "gw_router_int.h"

/* ---- ownership: the lease and taking over (issue 6 item 2) --------------- */

#define TAKEOVER_FROM_MAX 16 /* previous owners named in the log per period */

struct takeover {
    struct gw_router *r;
    int64_t now;
    char **live; /* ids of the gateways with a current lease, ours included */
    size_t nlive, cap;
    struct {
        char from[GW_SUB_OWNER_MAX];
        size_t count;
    } from[TAKEOVER_FROM_MAX + 1]; /* the last one: "other" */
    size_t nfrom, claimed, refreshed, probed;
    bool failed;
};

static int live_add(void *arg, const char *id)
{
    struct takeover *t = arg;
    if (t->nlive == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 8;
        char **v = realloc(t->live, cap * sizeof(*v));
        if (v == NULL) {
            t->failed = true;
            return -1;
        }
        t->live = v;
        t->cap = cap;
    }
    if ((t->live[t->nlive] = strdup(id)) == NULL) {
        t->failed = true;
        return -1;
    }
    t->nlive++;
    return 0;
}

/* The gateway the edges give the internal user of s to (the SIP user, in
 * both directions) among the live ones: rendezvous hashing over the same
 * names as edge_ipc.c's pick_gateway. */
static bool serves(const struct takeover *t, const struct gw_sub *s)
{
    char bare[JID_BUF];
    const char *user = gwr_sip_to_bare(s->sip, bare, sizeof(bare)) == 0 ? bare : s->sip;
    long i = rendezvous_pick(rendezvous_hash(user), (const char *const *)t->live, t->nlive);
    return i >= 0 && strcmp(t->live[i], t->r->store->owner) == 0;
}

static void count_from(struct takeover *t, const char *owner)
{
    const char *name = owner[0] ? owner : "none";
    size_t i;
    for (i = 0; i < t->nfrom; i++)
        if (strcmp(t->from[i].from, name) == 0)
            break;
    if (i == t->nfrom) {
        if (t->nfrom == TAKEOVER_FROM_MAX) {
            i = TAKEOVER_FROM_MAX;
            name = "other";
        } else {
            t->nfrom++;
        }
        snprintf(t->from[i].from, sizeof(t->from[i].from), "%s", name);
    }
    t->from[i].count++;
}

/* An orphan (owner dead or none): claimed when its user is ours now. The
 * claim is one conditional UPDATE, so of two gateways that both think so
 * (their views of the live set differ for a moment) only one gets it. */
static int orphan_cb(void *arg, const struct gw_sub *s)
{
    struct takeover *t = arg;
    struct gw_router *r = t->r;
    if (s->state == GW_SUB_TERMINATED || !serves(t, s))
        return 0;
    if (gw_store_sub_claim(r->store, s->dir, s->xmpp, s->sip, s->poll, t->now, false) != 1)
        return 0;
    struct gw_sub copy = *s;
    count_from(t, s->owner);
    snprintf(copy.owner, sizeof(copy.owner), "%s", r->store->owner);
    struct gw_dlg *d = gw_dlg_adopt(r->dialogs, &copy);
    if (d == NULL) {
        log_warnx("event=sub-takeover-failed xmpp=%s sip=%s reason=\"out of memory\"", s->xmpp,
                  s->sip);
        return 0;
    }
    t->claimed++;
    gwr_recover_one(r, d, &t->refreshed, &t->probed);
    return 0;
}

/* Every sub_takeover_ms: renew our lease, then take over the orphaned
 * subscriptions whose users hash to us among the live gateways. For
 * sub_lease_ms after our start we only renew: when several gateways start
 * together (after a power cut), each first loads its own rows, instead of
 * the first one up claiming every row because it is alone. */
static void takeover_run(struct gw_router *r)
{
    struct takeover *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return;
    t->r = r;
    t->now = gwr_now_ms();
    if (gw_store_lease_renew(r->store, t->now, r->gc->local.sub_lease_ms) != 0) {
        log_warnx("event=sub-lease-failed gateway=%s", r->store->owner);
        free(t);
        return;
    }
    if (t->now < r->claim_from_ms) {
        free(t);
        return;
    }
    if (gw_store_live_each(r->store, t->now, live_add, t) == 0 && !t->failed &&
        gw_store_sub_each_where(r->store, GW_STORE_ORPHANS, t->now, orphan_cb, t) != 0)
        log_warnx("event=sub-takeover-failed reason=\"store\"");
    for (size_t i = 0; i <= TAKEOVER_FROM_MAX; i++)
        if (t->from[i].count > 0)
            log_info("event=sub-takeover from=%s count=%zu", t->from[i].from, t->from[i].count);
    if (t->claimed > 0) {
        r->ctr.subs_taken_over += t->claimed;
        log_info("event=sub-takeover-done claimed=%zu refreshed=%zu probed=%zu live=%zu",
                 t->claimed, t->refreshed, t->probed, t->nlive);
    }
    for (size_t i = 0; i < t->nlive; i++)
        free(t->live[i]);
    free(t->live);
    free(t);
}

static void takeover_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    takeover_run(arg);
}

/* (Re)arms the period from the configuration. */
/* Creates the periodic event (once, from gw_router_start). */
int gwr_takeover_start(struct gw_router *r)
{
    r->takeover_ev = event_new(r->base, -1, EV_PERSIST, takeover_cb, r);
    return r->takeover_ev == NULL ? -1 : gwr_takeover_arm(r);
}

int gwr_takeover_arm(struct gw_router *r)
{
    unsigned ms = r->gc->local.sub_takeover_ms;
    if (r->takeover_ev == NULL || ms == r->takeover_ms)
        return 0;
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};
    r->takeover_ms = ms;
    return event_add(r->takeover_ev, &tv);
}
