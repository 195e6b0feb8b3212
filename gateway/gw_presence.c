/*
 * gw_presence.c - presence in xfed-gateway (part of the router, see
 * gw_router_int.h), carried out around gw_subscription.h:
 *   - records live in gw_dialog.h (memory + store); every event runs
 *     gw_sub_handle() and the returned actions are executed in order;
 *   - the gateway caches the XMPP users' presence per resource (from the
 *     presence stanzas partners send to internal watchers) for NOTIFY
 *     bodies, and the last presence of each watched SIP user (from
 *     NOTIFY) to answer XMPP probes without a poll SUBSCRIBE;
 *   - a partner user's first available presence toward an internal user
 *     refreshes the X->S subscription (RFC 8048 section 5.2.2);
 *   - after a restart every X->S subscription is refreshed at once (a 481
 *     from the SIP server starts a new dialog, authorisation kept) and
 *     every active S->X subscription probes its XMPP user so that the
 *     watcher gets a current NOTIFY (P38).
 * Presence stanzas are acknowledged to the edge once their effect is
 * stored (the SIP requests they cause are retried by the state machine).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "gw_address.h"
#include "gw_conf.h"
#include "gw_dialog.h"
#include "gw_pidf.h"
#include "gw_policy.h"
#include "gw_sip.h"
#include "gw_store.h"
#include "gw_strmap.h"
#include "gw_subscription.h"
#include "gw_transaction.h"
#include "jid.h"
#include "log.h"
#include "stanza.h"

#include "gw_router_int.h"

/* ---- presence: stanzas ------------------------------------------------- */

static void send_presence(struct gw_router *r, const char *from, const char *to, const char *type,
                          const struct gw_presence *p, bool notes)
{
    struct stanza *s = gwr_new_stanza("presence", from, to, type, NULL);
    if (s == NULL)
        return;
    int rc = 0;
    if (p && p->available) {
        if (p->show != GW_SHOW_NONE)
            rc |= gwr_add_text_child(s, "show", gw_show_name(p->show), NULL);
        if (notes && p->status[0])
            rc |= gwr_add_text_child(s, "status", p->status, p->lang);
        if (p->has_priority) {
            char pr[8];
            snprintf(pr, sizeof(pr), "%d", p->priority);
            rc |= gwr_add_text_child(s, "priority", pr, NULL);
        }
    }
    if (rc != 0) {
        stanza_free(s);
        return;
    }
    char fd[JID_PART_MAX + 1], td[JID_PART_MAX + 1];
    gwr_domain_copy(from, fd, sizeof(fd));
    gwr_domain_copy(to, td, sizeof(td));
    r->ctr.presence_out++;
    gwr_send_stanza(r, s, fd, td, NULL, NULL);
}

/* The bare JID of a SIP user's URI (canonical: lower case, escaped). */
int gwr_sip_to_bare(const char *uri, char *buf, size_t cap)
{
    struct gw_xmpp_addr *a = malloc(sizeof(*a));
    int rc = -1;
    if (a && gw_addr_sip_to_xmpp(uri, a) == GW_ADDR_OK && a->local[0]) {
        size_t n = gw_addr_xmpp_format(a, false, buf, cap);
        rc = n < cap ? 0 : -1;
    }
    free(a);
    return rc;
}

/* The canonical SIP URI (AOR) of a bare JID, malloc'd. */
static char *bare_to_sip(const char *bare)
{
    char *uri = NULL;
    if (gw_addr_xmpp_to_sip(bare, false, &uri) != GW_ADDR_OK)
        return NULL;
    return uri;
}

/* ---- presence: actions ------------------------------------------------- */

struct act_ctx {
    struct gw_stxn *st; /* the request being answered (REPLY frees its message) */
    /* X->S NOTIFY: a copy of its body, which outlives the REPLY action */
    const char *body;
    size_t body_len;
    bool pidf; /* Content-Type application/pidf+xml */
};

static void sub_resp_cb(void *arg, const struct gw_sip_msg *resp);

static struct sub_ref *sub_ref_new(struct gw_router *r, const struct gw_sub *s)
{
    struct sub_ref *ref = malloc(sizeof(*ref));
    if (ref == NULL)
        return NULL;
    ref->r = r;
    ref->dir = s->dir;
    ref->poll = s->poll;
    memcpy(ref->call_id, s->call_id, sizeof(ref->call_id));
    memcpy(ref->xmpp, s->xmpp, sizeof(ref->xmpp));
    memcpy(ref->sip, s->sip, sizeof(ref->sip));
    LIST_INSERT_HEAD(&r->refs, ref, link);
    return ref;
}

static struct xpres *xpres_get(struct gw_router *r, const char *bare)
{
    return gw_strmap_get(r->xmpp_presence, bare);
}

static char *pidf_current(struct gw_router *r, const struct gw_sub *s, size_t *len, bool closed)
{
    struct xpres *xp = closed ? NULL : xpres_get(r, s->xmpp);
    return gw_pidf_build(s->xmpp, xp ? xp->res : NULL, xp ? xp->n : 0,
                         gwr_status_notes_for(r, s->xmpp), len);
}

static void act_send_subscribe(struct gw_router *r, struct gw_dlg *d, const struct gw_sub_action *a)
{
    char *from = bare_to_sip(d->sub.xmpp);
    char branch[BRANCH_LEN + 8];
    size_t len = 0;
    char *b =
        from ? gw_dlg_build_subscribe(d, &r->loc, from, a->expires, a->new_dialog, branch, &len)
             : NULL;
    free(from);
    struct sub_ref *ref = b ? sub_ref_new(r, &d->sub) : NULL;
    if (ref == NULL || gw_txn_client(r->txn, branch, "SUBSCRIBE", b, len, sub_resp_cb, ref) == 0) {
        /* The state machine's Timer N / retry takes it from here. */
        log_warnx("event=subscribe-not-sent xmpp=%s sip=%s", d->sub.xmpp, d->sub.sip);
        if (ref)
            gwr_sub_ref_free(ref);
    } else {
        log_debug("event=subscribe-sent xmpp=%s sip=%s expires=%u new=%d", d->sub.xmpp, d->sub.sip,
                  a->expires, a->new_dialog);
    }
    free(b);
}

static void act_send_notify(struct gw_router *r, struct gw_dlg *d, const struct gw_sub_action *a)
{
    char *from = bare_to_sip(d->sub.xmpp);
    char *body = NULL;
    size_t blen = 0;
    if (a->body == GW_BODY_CURRENT || a->body == GW_BODY_CLOSED)
        body = pidf_current(r, &d->sub, &blen, a->body == GW_BODY_CLOSED);
    char branch[BRANCH_LEN + 8];
    size_t len = 0;
    char *b = from ? gw_dlg_build_notify(d, &r->loc, from, a->ns, a->expires, a->reason, body,
                                         body ? blen : 0, branch, &len)
                   : NULL;
    free(from);
    free(body);
    struct sub_ref *ref = b ? sub_ref_new(r, &d->sub) : NULL;
    if (ref == NULL || gw_txn_client(r->txn, branch, "NOTIFY", b, len, sub_resp_cb, ref) == 0) {
        log_warnx("event=notify-not-sent xmpp=%s sip=%s", d->sub.xmpp, d->sub.sip);
        if (ref)
            gwr_sub_ref_free(ref);
    } else {
        r->ctr.notifies_out++;
    }
    free(b);
}

static void act_reply(struct gw_router *r, struct gw_dlg *d, const struct gw_sub_action *a,
                      const struct act_ctx *ctx)
{
    if (ctx == NULL || ctx->st == NULL)
        return;
    const struct gw_sip_msg *req = gw_stxn_request(ctx->st);
    bool subscribe = strcmp(gw_sip_method(req), "SUBSCRIBE") == 0;
    struct gw_sip_response resp = {
        .code = a->code,
        .expires = (subscribe && a->code >= 200 && a->code < 300) ? (long)a->expires : -1,
        .min_expires = a->min_expires,
        .retry_after = -1,
        /* S->X: our To tag is the dialog's local tag (RFC 3261 12.1.1) */
        .to_tag = d->sub.dir == GW_SUB_S2X && d->sub.local_tag[0] ? d->sub.local_tag : NULL,
        .contact = subscribe && a->code < 300 ? r->contact : NULL,
    };
    gw_stxn_respond(r->txn, ctx->st, &resp);
}

static void act_xmpp_presence(struct gw_router *r, struct gw_dlg *d, const struct act_ctx *ctx)
{
    char from[JID_BUF];
    if (ctx == NULL || ctx->body == NULL || gwr_sip_to_bare(d->sub.sip, from, sizeof(from)) != 0)
        return;
    size_t bl = ctx->body_len;
    const char *body = ctx->body;
    struct gw_presence *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return;
    const char *why = NULL;
    struct gw_pidf *doc = NULL;
    if (bl > 0 && ctx->pidf) {
        struct gw_pidf_limits lim = {.max_bytes = PIDF_LIMIT_CAP};
        doc = gw_pidf_parse(body, bl, &lim, &why);
    }
    if (doc == NULL) {
        /* P32: nothing bogus to XMPP for a document we cannot read */
        log_info("event=notify-body-ignored xmpp=%s sip=%s reason=\"%s\"", d->sub.xmpp, d->sub.sip,
                 why ? why : "not PIDF");
        free(p);
        return;
    }
    bool notes = gwr_status_notes_for(r, d->sub.xmpp);
    gw_pidf_to_presence(doc, notes, p);
    gw_pidf_free(doc);
    send_presence(r, from, d->sub.xmpp, p->available ? NULL : "unavailable", p, notes);
    /* kept to answer probes */
    char key[2 * GW_SUB_ADDR_MAX + 2];
    snprintf(key, sizeof(key), "%s|%s", d->sub.xmpp, d->sub.sip);
    struct gw_presence *old = gw_strmap_get(r->sip_presence, key);
    if (gw_strmap_put(r->sip_presence, key, p) == 0)
        free(old);
    else
        free(p);
}

void gwr_act_stanza(struct gw_router *r, struct gw_dlg *d, const char *type)
{
    char sip_bare[JID_BUF];
    if (gwr_sip_to_bare(d->sub.sip, sip_bare, sizeof(sip_bare)) != 0)
        return;
    send_presence(r, sip_bare, d->sub.xmpp, type, NULL, false);
}

static void run_actions(struct gw_router *r, struct gw_dlg *d, const struct gw_sub_actions *acts,
                        const struct act_ctx *ctx)
{
    bool del = false, lost = false;
    for (size_t i = 0; i < acts->n; i++) {
        const struct gw_sub_action *a = &acts->a[i];
        switch (a->kind) {
        case GW_ACT_SEND_SUBSCRIBE:
            act_send_subscribe(r, d, a);
            break;
        case GW_ACT_REPLY:
            act_reply(r, d, a, ctx);
            break;
        case GW_ACT_SEND_NOTIFY:
            /* P37: a change of state is throttled per dialog; the NOTIFY
             * answering a SUBSCRIBE (ctx) and final ones go at once. */
            if (d->sub.dir == GW_SUB_S2X && a->ns == GW_NS_ACTIVE && a->body == GW_BODY_CURRENT &&
                (ctx == NULL || ctx->st == NULL)) {
                if (!gw_dlg_notify_may_send(r->dialogs, d, r->gc->local.notify_min_interval_ms)) {
                    r->ctr.notifies_held++;
                    break;
                }
            } else {
                gw_dlg_notify_sent(r->dialogs, d,
                                   a->body != GW_BODY_NONE || a->ns == GW_NS_TERMINATED);
            }
            act_send_notify(r, d, a);
            break;
        case GW_ACT_XMPP_SUBSCRIBE:
            gwr_act_stanza(r, d, "subscribe");
            break;
        case GW_ACT_XMPP_SUBSCRIBED:
            gwr_act_stanza(r, d, "subscribed");
            break;
        case GW_ACT_XMPP_UNSUBSCRIBED:
            gwr_act_stanza(r, d, "unsubscribed");
            break;
        case GW_ACT_XMPP_PRESENCE:
            act_xmpp_presence(r, d, ctx);
            break;
        case GW_ACT_XMPP_UNAVAILABLE:
            gwr_act_stanza(r, d, "unavailable");
            break;
        case GW_ACT_XMPP_PROBE:
            gwr_act_stanza(r, d, "probe");
            break;
        case GW_ACT_AUTH_GRANT:
        case GW_ACT_AUTH_REVOKE:
            if (r->store && gw_store_auth_set(r->store, d->sub.dir, d->sub.xmpp, d->sub.sip,
                                              a->kind == GW_ACT_AUTH_GRANT) != 0)
                log_warnx("event=store-write-failed what=authorization");
            break;
        case GW_ACT_SAVE:
            lost = gw_dlg_save(r->dialogs, d) == 1;
            break;
        case GW_ACT_DELETE:
            del = true;
            break;
        }
    }
    if (del) {
        gw_dlg_delete(r->dialogs, d);
    } else if (lost) {
        /* another gateway took the subscription over (its user's traffic
         * goes there now): it refreshes it, we forget it */
        r->ctr.subs_lost++;
        log_info("event=sub-released dir=%s xmpp=%s sip=%s reason=\"owned by another gateway\"",
                 d->sub.dir == GW_SUB_X2S ? "x2s" : "s2x", d->sub.xmpp, d->sub.sip);
        gw_dlg_forget(r->dialogs, d);
    }
}

/* Fresh identifiers for a new dialog, in ev. */
struct fresh {
    char call_id[48];
    char tag[20];
};

static void fresh_ids(struct gw_router *r, struct fresh *f, struct gw_sub_event *ev)
{
    gw_sip_random_token(f->call_id, 25);
    snprintf(f->call_id + 24, sizeof(f->call_id) - 24, "@%.20s", r->gc->contact_host);
    gw_sip_random_token(f->tag, 17);
    ev->new_call_id = f->call_id;
    ev->new_tag = f->tag;
}

static struct gw_sub_cfg sub_cfg(const struct gw_router *r)
{
    /* The refresh interval of the configuration plane is what the gateway
     * asks for (DESIGN.md section 2); the notifier may grant less. */
    unsigned want = r->gc->local.subscribe_expires ? r->gc->local.subscribe_expires
                                                   : r->gc->conf->settings.subscription_refresh;
    struct gw_sub_cfg c = {
        .subscribe_expires = want,
        .max_expires = r->gc->local.max_expires,
        .min_expires = r->gc->local.min_expires,
        .refresh_interval = r->gc->conf->settings.subscription_refresh,
    };
    gw_sub_cfg_default(&c);
    return c;
}

void gwr_run_event(struct gw_router *r, struct gw_dlg *d, struct gw_sub_event *ev,
                   const struct act_ctx *ctx)
{
    struct fresh f;
    if (ev->new_call_id == NULL)
        fresh_ids(r, &f, ev);
    ev->now = gwr_now_s();
    struct gw_sub_cfg c = sub_cfg(r);
    struct gw_sub_actions acts;
    enum gw_sub_state before = d->sub.state;
    if (gw_sub_handle(&d->sub, &c, ev, &acts) != 0) {
        log_debug("event=sub-event-ignored kind=%d state=%s xmpp=%s sip=%s", (int)ev->kind,
                  gw_sub_state_name(d->sub.state), d->sub.xmpp, d->sub.sip);
        /* a record nobody started is not kept */
        if (d->sub.state == GW_SUB_IDLE)
            gw_dlg_delete(r->dialogs, d);
        return;
    }
    log_debug("event=sub dir=%s xmpp=%s sip=%s kind=%d state=%s->%s actions=%zu",
              d->sub.dir == GW_SUB_X2S ? "x2s" : "s2x", d->sub.xmpp, d->sub.sip, (int)ev->kind,
              gw_sub_state_name(before), gw_sub_state_name(d->sub.state), acts.n);
    run_actions(r, d, &acts, ctx);
}

void gwr_sub_ref_free(struct sub_ref *ref)
{
    LIST_REMOVE(ref, link);
    free(ref);
}

static void sub_resp_cb(void *arg, const struct gw_sip_msg *resp)
{
    struct sub_ref *ref = arg;
    struct gw_router *r = ref->r;
    struct gw_dlg *d = gw_dlg_find(r->dialogs, ref->dir, ref->xmpp, ref->sip, ref->poll);
    if (d == NULL || strcmp(d->sub.call_id, ref->call_id) != 0) {
        gwr_sub_ref_free(ref); /* an answer about a dialog that is gone */
        return;
    }
    struct gw_sub_event ev = {.kind = resp ? GW_EV_SIP_RESPONSE : GW_EV_SIP_TIMEOUT,
                              .expires = -1,
                              .min_expires = -1,
                              .ns_expires = -1,
                              .retry_after = -1};
    if (resp) {
        ev.code = gw_sip_status(resp);
        ev.expires = gw_sip_expires(resp);
        ev.min_expires = gw_sip_min_expires(resp);
        if (ev.code >= 300)
            log_info("event=sub-request-failed dir=%s xmpp=%s sip=%s method=%s code=%d",
                     ref->dir == GW_SUB_X2S ? "x2s" : "s2x", ref->xmpp, ref->sip,
                     gw_sip_cseq_method(resp), ev.code);
    }
    gwr_sub_ref_free(ref);
    gwr_run_event(r, d, &ev, NULL);
}

/* A held presence change may go now (gw_dlg_notify_may_send): the state
 * of now, which is the latest, goes in one NOTIFY. */
void gwr_dlg_notify_cb(void *arg, struct gw_dlg *d)
{
    struct gw_router *r = arg;
    struct gw_sub_event ev = {.kind = GW_EV_XMPP_AVAILABLE,
                              .now = gwr_now_s(),
                              .expires = -1,
                              .min_expires = -1,
                              .ns_expires = -1,
                              .retry_after = -1};
    ev.presence_known = xpres_get(r, d->sub.xmpp) != NULL;
    if (d->sub.state == GW_SUB_ACTIVE)
        gwr_run_event(r, d, &ev, NULL);
}

/* INTERWORKING P40: may one more subscription dialog of this XMPP user be
 * made? Logs the refusal. */
static bool sub_room(struct gw_router *r, const char *xmpp, const char *sip)
{
    size_t mine = gw_dialogs_count_xmpp(r->dialogs, xmpp), all = gw_dialogs_count(r->dialogs);
    if (mine < r->gc->local.max_subscriptions_per_user && all < r->gc->local.max_subscriptions)
        return true;
    r->ctr.subs_capped++;
    log_warnx("event=subscription-refused xmpp=%s sip=%s reason=\"%s\" count=%zu", xmpp, sip,
              mine >= r->gc->local.max_subscriptions_per_user ? "max_subscriptions_per_user"
                                                              : "max_subscriptions",
              mine >= r->gc->local.max_subscriptions_per_user ? mine : all);
    return false;
}

/* True when the store says another gateway owns d now (it took d over, and
 * may have ended it since: the row is gone): d is then forgotten. One
 * primary-key read, before a timer acts (a refresh, a retry, an expiry), so
 * that two gateways never both refresh one subscription and a subscription
 * another gateway ended is not brought back. A store that cannot answer
 * leaves d alone. */
static bool owned_elsewhere(struct gw_router *r, struct gw_dlg *d)
{
    if (r->store == NULL || r->store->owner[0] == '\0')
        return false;
    struct gw_sub *row = malloc(sizeof(*row));
    if (row == NULL)
        return false;
    int rc = gw_store_sub_get(r->store, d->sub.dir, d->sub.xmpp, d->sub.sip, d->sub.poll, row);
    bool other = (rc == 1 && row->owner[0] != '\0' && strcmp(row->owner, r->store->owner) != 0) ||
                 (rc == 0 && gw_dlg_stored(d));
    if (other) {
        r->ctr.subs_lost++;
        log_info("event=sub-released dir=%s xmpp=%s sip=%s owner=%s",
                 d->sub.dir == GW_SUB_X2S ? "x2s" : "s2x", d->sub.xmpp, d->sub.sip,
                 rc == 1 ? row->owner : "(removed)");
        gw_dlg_forget(r->dialogs, d);
    }
    free(row);
    return other;
}

void gwr_dlg_timer_cb(void *arg, struct gw_dlg *d)
{
    struct gw_router *r = arg;
    if (owned_elsewhere(r, d))
        return;
    struct gw_sub_event ev = {
        .kind = GW_EV_TIMER, .expires = -1, .min_expires = -1, .ns_expires = -1, .retry_after = -1};
    gwr_run_event(r, d, &ev, NULL);
}

/* A subscription the store holds but this gateway does not: another
 * gateway's (a dead one's, or one whose users the edges now send here).
 * Its user's traffic comes here, so this gateway takes it over (forced:
 * the previous owner forgets it at its next timer or write) and goes on
 * with the stored dialog instead of starting a second one. */
static struct gw_dlg *take_stored(struct gw_router *r, enum gw_sub_dir dir, const char *xmpp,
                                  const char *sip, bool poll)
{
    if (r->store == NULL)
        return NULL;
    struct gw_sub *row = malloc(sizeof(*row));
    struct gw_dlg *d = NULL;
    if (row && gw_store_sub_get(r->store, dir, xmpp, sip, poll, row) == 1 &&
        row->state != GW_SUB_TERMINATED &&
        gw_store_sub_claim(r->store, dir, xmpp, sip, poll, gwr_now_ms(), true) == 1) {
        log_info("event=sub-takeover from=%s count=1 reason=traffic",
                 row->owner[0] ? row->owner : "none");
        snprintf(row->owner, sizeof(row->owner), "%s", r->store->owner);
        d = gw_dlg_adopt(r->dialogs, row);
        if (d)
            r->ctr.subs_taken_over++;
    }
    free(row);
    return d;
}

/* The record in memory, else the one the store holds (taken over). */
static struct gw_dlg *find_or_take(struct gw_router *r, enum gw_sub_dir dir, const char *xmpp,
                                   const char *sip, bool poll)
{
    struct gw_dlg *d = gw_dlg_find(r->dialogs, dir, xmpp, sip, poll);
    return d ? d : take_stored(r, dir, xmpp, sip, poll);
}

/* The record, or a new one when max_subscriptions(_per_user) leave room
 * (*capped is set when they do not) and the store answers: *store_down is
 * set when it does not (PostgreSQL stopped or unreachable), so that a new
 * subscription the gateway could not keep across a restart or a takeover is
 * refused with an error the subscriber can retry, not accepted and lost. */
static struct gw_dlg *get_or_create(struct gw_router *r, enum gw_sub_dir dir, const char *xmpp,
                                    const char *sip, bool poll, bool *capped, bool *store_down)
{
    struct gw_dlg *d = gw_dlg_find(r->dialogs, dir, xmpp, sip, poll);
    *capped = false;
    *store_down = false;
    if (d)
        return d;
    if (!sub_room(r, xmpp, sip)) {
        *capped = true;
        return NULL;
    }
    d = take_stored(r, dir, xmpp, sip, poll);
    if (d)
        return d;
    int auth = r->store ? gw_store_auth_get(r->store, dir, xmpp, sip) : 0;
    if (auth < 0) {
        *store_down = true;
        r->ctr.subs_store_refused++;
        log_warnx("event=subscription-refused xmpp=%s sip=%s reason=\"store_unavailable\" dir=%s",
                  xmpp, sip, dir == GW_SUB_X2S ? "x2s" : "s2x");
        return NULL;
    }
    return gw_dlg_create(r->dialogs, dir, xmpp, sip, poll, auth == 1);
}

/* ---- presence: XMPP -> gateway ------------------------------------------ */

/* Runs event kind (the rest of ev as filled in) on d, when there is one. */
static void run_if(struct gw_router *r, struct gw_dlg *d, struct gw_sub_event *ev,
                   enum gw_sub_ev kind)
{
    if (d) {
        ev->kind = kind;
        gwr_run_event(r, d, ev, NULL);
    }
}

static void xpres_update(struct gw_router *r, const struct jid *from, struct stanza *st,
                         bool available, bool *first_available)
{
    const char *bare = jid_bare(from), *res = jid_resource(from) ? jid_resource(from) : "";
    struct xpres *xp = xpres_get(r, bare);
    *first_available = false;
    if (xp == NULL) {
        if (!available)
            return;
        xp = calloc(1, sizeof(*xp));
        if (xp == NULL || gw_strmap_put(r->xmpp_presence, bare, xp) != 0) {
            free(xp);
            return;
        }
    }
    size_t i = 0;
    while (i < xp->n && strcmp(xp->res[i].resource, res) != 0)
        i++;
    if (!available) {
        if (res[0] == '\0')
            xp->n = 0; /* unavailable from the bare JID: every resource */
        else if (i < xp->n)
            xp->res[i] = xp->res[--xp->n];
        return;
    }
    *first_available = xp->n == 0;
    if (i == xp->n) {
        if (xp->n == MAX_RESOURCES)
            i = xp->n - 1; /* the newest replaces the last */
        else
            xp->n++;
    }
    struct gw_presence *p = &xp->res[i];
    memset(p, 0, sizeof(*p));
    p->available = true;
    snprintf(p->resource, sizeof(p->resource), "%s", res);
    struct stanza *c;
    if ((c = stanza_child(st, STANZA_NS_SERVER, "show")) != NULL) {
        enum gw_show sh;
        if (gw_show_parse(stanza_text(c), &sh) == 0)
            p->show = sh;
    }
    if ((c = stanza_child(st, STANZA_NS_SERVER, "status")) != NULL) {
        snprintf(p->status, sizeof(p->status), "%s", stanza_text(c));
        const char *l = stanza_lang(c) ? stanza_lang(c) : stanza_lang(st);
        snprintf(p->lang, sizeof(p->lang), "%s", l ? l : "");
    }
    if ((c = stanza_child(st, STANZA_NS_SERVER, "priority")) != NULL) {
        char *end;
        long v = strtol(stanza_text(c), &end, 10);
        if (*end == '\0' && v >= -128 && v <= 127) {
            p->has_priority = true;
            p->priority = (int)v;
        }
    }
}

/* Returns true when it has answered the edge for this stanza itself (an
 * error sent back), false when the caller acknowledges it. */
bool gwr_x2s_presence(struct gw_router *r, struct stanza *st, const struct jid *from,
                      const struct jid *to)
{
    const char *type = stanza_attr(st, "type");
    enum gw_policy_op op;
    r->ctr.presence_in++;
    if (type == NULL)
        op = GW_OP_AVAILABLE;
    else if (!strcmp(type, "unavailable"))
        op = GW_OP_UNAVAILABLE;
    else if (!strcmp(type, "subscribe"))
        op = GW_OP_SUBSCRIBE;
    else if (!strcmp(type, "subscribed"))
        op = GW_OP_SUBSCRIBED;
    else if (!strcmp(type, "unsubscribe"))
        op = GW_OP_UNSUBSCRIBE;
    else if (!strcmp(type, "unsubscribed"))
        op = GW_OP_UNSUBSCRIBED;
    else if (!strcmp(type, "probe"))
        op = GW_OP_PROBE;
    else if (!strcmp(type, "error"))
        op = GW_OP_UNSUBSCRIBED; /* [DESIGN] INTERWORKING.md 2.2: ends what it answers */
    else
        return false; /* unknown type: ignored (RFC 6121 section 4.7.1) */

    const char *xmpp = jid_bare(from);
    char *sip = bare_to_sip(jid_bare(to));
    if (sip == NULL)
        return false;
    struct gw_policy_pair pair;
    gw_policy_pair_from_conf(r->gc->conf, jid_bare(to), jid_domain(from), &pair);
    pair.invited = gwr_invited(r, &pair, jid_bare(to), xmpp);
    struct gw_policy_decision pd;
    gw_policy_inbound(&pair, op, &pd);
    if (pd.action != GW_POLICY_ALLOW) {
        r->ctr.refused++;
        log_info("event=x2s-presence-refused from=%s to=%s type=%s action=%d", xmpp, jid_bare(to),
                 type ? type : "available", (int)pd.action);
        if (pd.action == GW_POLICY_UNSUBSCRIBED)
            send_presence(r, jid_bare(to), xmpp, "unsubscribed", NULL, false);
        free(sip);
        return false;
    }
    struct gw_sub_event ev = {
        .expires = -1, .min_expires = -1, .ns_expires = -1, .retry_after = -1};
    struct gw_dlg *d;
    bool capped = false, store_down = false;
    switch (op) {
    case GW_OP_AVAILABLE:
    case GW_OP_UNAVAILABLE: {
        bool first = false;
        xpres_update(r, from, st, op == GW_OP_AVAILABLE, &first);
        d = find_or_take(r, GW_SUB_S2X, xmpp, sip, false);
        if (d) {
            ev.kind = op == GW_OP_AVAILABLE ? GW_EV_XMPP_AVAILABLE : GW_EV_XMPP_UNAVAILABLE;
            struct xpres *xp = xpres_get(r, xmpp);
            ev.presence_known = xp != NULL;
            gwr_run_event(r, d, &ev, NULL);
        }
        d = first ? find_or_take(r, GW_SUB_X2S, xmpp, sip, false) : NULL;
        if (d) { /* RFC 8048 section 5.2.2: initial presence refreshes */
            struct gw_sub_event e2 = ev;
            e2.kind = GW_EV_XMPP_AVAILABLE;
            e2.new_call_id = NULL;
            gwr_run_event(r, d, &e2, NULL);
        }
        break;
    }
    case GW_OP_SUBSCRIBE:
        d = get_or_create(r, GW_SUB_X2S, xmpp, sip, false, &capped, &store_down);
        run_if(r, d, &ev, GW_EV_XMPP_SUBSCRIBE);
        break;
    case GW_OP_UNSUBSCRIBE:
        if (r->store)
            gw_store_auth_set(r->store, GW_SUB_X2S, xmpp, sip, false);
        d = find_or_take(r, GW_SUB_X2S, xmpp, sip, false);
        run_if(r, d, &ev, GW_EV_XMPP_UNSUBSCRIBE);
        break;
    case GW_OP_SUBSCRIBED:
        if (r->store)
            gw_store_auth_set(r->store, GW_SUB_S2X, xmpp, sip, true);
        d = find_or_take(r, GW_SUB_S2X, xmpp, sip, false);
        run_if(r, d, &ev, GW_EV_XMPP_SUBSCRIBED);
        break;
    case GW_OP_UNSUBSCRIBED:
        if (r->store && (type == NULL || strcmp(type, "error") != 0))
            gw_store_auth_set(r->store, GW_SUB_S2X, xmpp, sip, false);
        d = find_or_take(r, GW_SUB_S2X, xmpp, sip, false);
        run_if(r, d, &ev, GW_EV_XMPP_UNSUBSCRIBED);
        d = find_or_take(r, GW_SUB_S2X, xmpp, sip, true);
        run_if(r, d, &ev, GW_EV_XMPP_UNSUBSCRIBED);
        break;
    case GW_OP_PROBE: {
        d = find_or_take(r, GW_SUB_X2S, xmpp, sip, false);
        char key[2 * GW_SUB_ADDR_MAX + 2];
        snprintf(key, sizeof(key), "%s|%s", xmpp, sip);
        struct gw_presence *known = gw_strmap_get(r->sip_presence, key);
        if (d && d->sub.state == GW_SUB_ACTIVE && known) {
            bool notes = gwr_status_notes_for(r, xmpp);
            send_presence(r, jid_bare(to), xmpp, known->available ? NULL : "unavailable", known,
                          notes);
        } else if (d && (d->sub.state == GW_SUB_ACTIVE || d->sub.state == GW_SUB_PENDING)) {
            ev.kind = GW_EV_XMPP_AVAILABLE; /* refresh: the NOTIFY answers */
            gwr_run_event(r, d, &ev, NULL);
        } else if (gw_dlg_find(r->dialogs, GW_SUB_X2S, xmpp, sip, true) == NULL) {
            capped = !sub_room(r, xmpp, sip);
            d = capped ? NULL : gw_dlg_create(r->dialogs, GW_SUB_X2S, xmpp, sip, true, false);
            run_if(r, d, &ev, GW_EV_XMPP_PROBE);
        }
        break;
    }
    default:
        break;
    }
    free(sip);
    if (capped || store_down) /* P40: the subscribe or probe is answered with an error */
        gwr_x2s_fail(
            r, r->cur_in, "presence", stanza_attr(st, "from"), stanza_attr(st, "to"),
            stanza_attr(st, "id"), type, r->cur_local, r->cur_remote, "resource-constraint", "wait",
            capped ? "too many subscriptions" : "subscription store unavailable", NULL, 0, NULL);
    return capped || store_down;
}

/* ---- presence: SIP -> gateway ------------------------------------------- */

void gwr_sip_notify(struct gw_router *r, struct gw_stxn *st)
{
    const struct gw_sip_msg *req = gw_stxn_request(st);
    r->ctr.notifies_in++;
    struct gw_dlg *d = gw_dlg_by_dialog(r->dialogs, gw_sip_call_id(req), gw_sip_to_tag(req));
    if (d == NULL || d->sub.dir != GW_SUB_X2S) {
        gw_stxn_reply(r->txn, st, 481, NULL); /* RFC 6665 section 4.1.3 (P33) */
        return;
    }
    const char *event = gw_sip_event(req);
    if (event == NULL || strcmp(event, "presence") != 0) {
        struct gw_sip_response resp = {.code = 489,
                                       .allow_events = "presence",
                                       .expires = -1,
                                       .min_expires = -1,
                                       .retry_after = -1};
        gw_stxn_respond(r->txn, st, &resp);
        return;
    }
    struct gw_sip_substate ss;
    struct gw_sub_event ev = {.kind = GW_EV_SIP_NOTIFY, .expires = -1, .min_expires = -1};
    if (gw_sip_substate(req, &ss) == 0) {
        ev.ns = ss.state == GW_SUBSTATE_ACTIVE       ? GW_NS_ACTIVE
                : ss.state == GW_SUBSTATE_PENDING    ? GW_NS_PENDING
                : ss.state == GW_SUBSTATE_TERMINATED ? GW_NS_TERMINATED
                                                     : GW_NS_NONE;
        ev.ns_expires = ss.expires;
        ev.retry_after = ss.retry_after;
        ev.reason = ss.reason;
    } else {
        ev.ns = GW_NS_NONE;
        ev.ns_expires = -1;
        ev.retry_after = -1;
    }
    size_t bl = 0;
    const char *body = gw_sip_body(req, &bl);
    const char *ct = gw_sip_content_type(req);
    ev.has_body = bl > 0;
    ev.cseq = gw_sip_cseq(req);
    ev.remote_tag = gw_sip_from_tag(req);
    ev.remote_target = gw_sip_contact_uri(req);
    char rs[GW_SUB_ROUTE_MAX];
    gw_dlg_route_set(req, true, rs, sizeof(rs));
    ev.route_set = rs;
    struct act_ctx ctx = {
        .st = st, .body_len = bl, .pidf = ct && strcmp(ct, "application/pidf+xml") == 0};
    char *copy = bl ? malloc(bl) : NULL;
    if (copy)
        memcpy(copy, body, bl);
    ctx.body = copy;
    gwr_run_event(r, d, &ev, &ctx);
    free(copy);
    /* whatever the machine decided, the NOTIFY gets an answer */
    if (gw_stxn_request(st) != NULL)
        gw_stxn_reply(r->txn, st, 481, NULL);
}

void gwr_sip_subscribe(struct gw_router *r, struct gw_stxn *st)
{
    const struct gw_sip_msg *req = gw_stxn_request(st);
    const char *event = gw_sip_event(req);
    if (event == NULL || strcmp(event, "presence") != 0) {
        struct gw_sip_response resp = {.code = 489,
                                       .allow_events = "presence",
                                       .expires = -1,
                                       .min_expires = -1,
                                       .retry_after = -1};
        gw_stxn_respond(r->txn, st, &resp); /* E14 */
        return;
    }
    struct gw_sub_event ev = {.kind = GW_EV_SIP_SUBSCRIBE,
                              .expires = gw_sip_expires(req),
                              .min_expires = -1,
                              .ns_expires = -1,
                              .retry_after = -1,
                              .cseq = gw_sip_cseq(req),
                              .remote_tag = gw_sip_from_tag(req),
                              .remote_target = gw_sip_contact_uri(req)};
    char rs[GW_SUB_ROUTE_MAX];
    gw_dlg_route_set(req, false, rs, sizeof(rs));
    ev.route_set = rs;
    struct act_ctx ctx = {.st = st};
    struct gw_dlg *d;
    if (gw_sip_to_tag(req) != NULL) {
        d = gw_dlg_by_dialog(r->dialogs, gw_sip_call_id(req), gw_sip_to_tag(req));
        if (d == NULL || d->sub.dir != GW_SUB_S2X) {
            gw_stxn_reply(r->txn, st, 481, NULL); /* E17 */
            return;
        }
        ev.in_dialog = true;
        ev.presence_known = xpres_get(r, d->sub.xmpp) != NULL;
        gwr_run_event(r, d, &ev, &ctx);
        if (gw_stxn_request(st) != NULL)
            gw_stxn_reply(r->txn, st, 481, NULL);
        return;
    }
    if (!gw_sip_accepts(req, "application/pidf+xml", true)) {
        struct gw_sip_response resp = {.code = 406,
                                       .accept = "application/pidf+xml",
                                       .expires = -1,
                                       .min_expires = -1,
                                       .retry_after = -1};
        gw_stxn_respond(r->txn, st, &resp); /* E15 */
        return;
    }
    struct gw_xmpp_addr *a = malloc(sizeof(*a));
    char xmpp[JID_BUF], watcher[JID_BUF];
    enum gw_addr_status as =
        a ? gw_addr_sip_to_xmpp(gw_sip_request_uri(req), a) : GW_ADDR_MALFORMED;
    if (as == GW_ADDR_OK)
        gw_addr_xmpp_format(a, false, xmpp, sizeof(xmpp));
    free(a);
    if (as != GW_ADDR_OK) {
        gw_stxn_reply(r->txn, st, gw_addr_status_sip_code(as), NULL);
        return;
    }
    if (gwr_sip_to_bare(gw_sip_from_uri(req), watcher, sizeof(watcher)) != 0) {
        gw_stxn_reply(r->txn, st, 400, "From does not map to XMPP");
        return;
    }
    struct jid *fj = NULL, *tj = NULL;
    if (!gwr_s2x_policy(r, st, watcher, xmpp, GW_OP_SUBSCRIBE, &fj, &tj)) {
        jid_free(fj);
        jid_free(tj);
        return;
    }
    char *sip = bare_to_sip(jid_bare(fj));
    bool poll = ev.expires == 0;
    d = sip ? gw_dlg_find(r->dialogs, GW_SUB_S2X, jid_bare(tj), sip, poll) : NULL;
    if (d) /* a new dialog from the same watcher replaces the old one */
        gw_dlg_delete(r->dialogs, d);
    bool capped = false, store_down = false;
    d = sip ? get_or_create(r, GW_SUB_S2X, jid_bare(tj), sip, poll, &capped, &store_down) : NULL;
    if (d == NULL && store_down) {
        /* RFC 3261 section 21.5.4: temporary; a proxy may try another gateway */
        struct gw_sip_response resp = {.code = 503,
                                       .reason = "Subscription store unavailable",
                                       .expires = -1,
                                       .min_expires = -1,
                                       .retry_after = STORE_RETRY_AFTER_S};
        gw_stxn_respond(r->txn, st, &resp);
    } else if (d == NULL && capped) {
        gw_stxn_reply(r->txn, st, 503, "Too many subscriptions"); /* P40 */
    } else if (d == NULL) {
        gw_stxn_reply(r->txn, st, 500, "Gateway out of memory");
    } else {
        struct fresh f;
        fresh_ids(r, &f, &ev);
        ev.new_call_id = gw_sip_call_id(req); /* the watcher's Call-ID */
        ev.presence_known = xpres_get(r, d->sub.xmpp) != NULL;
        gwr_run_event(r, d, &ev, &ctx);
        if (gw_stxn_request(st) != NULL)
            gw_stxn_reply(r->txn, st, 500, "Subscription not accepted");
    }
    free(sip);
    jid_free(fj);
    jid_free(tj);
}

/* Re-establishes one record loaded from the store (after a restart or a
 * takeover): X->S refreshed in its dialog (a 481 starts a new one), or
 * started again when its SUBSCRIBE died with the previous process; an
 * active S->X probes its XMPP user, and the answer becomes a NOTIFY (P38),
 * which also gives the watcher this gateway's Contact. */
void gwr_recover_one(struct gw_router *r, struct gw_dlg *d, size_t *refreshed, size_t *probed)
{
    struct gw_sub_event ev = {
        .expires = -1, .min_expires = -1, .ns_expires = -1, .retry_after = -1};
    if (d->sub.dir == GW_SUB_X2S && !d->sub.poll &&
        (d->sub.state == GW_SUB_ACTIVE || d->sub.state == GW_SUB_PENDING)) {
        ev.kind = GW_EV_XMPP_AVAILABLE; /* refresh in the dialog now (P38) */
        gwr_run_event(r, d, &ev, NULL);
        (*refreshed)++;
    } else if (d->sub.dir == GW_SUB_X2S && !d->sub.poll && d->sub.state == GW_SUB_SUBSCRIBING) {
        d->sub.state = GW_SUB_IDLE; /* its SUBSCRIBE died with us: start over */
        ev.kind = GW_EV_XMPP_SUBSCRIBE;
        gwr_run_event(r, d, &ev, NULL);
        (*refreshed)++;
    } else if (d->sub.dir == GW_SUB_S2X && d->sub.state == GW_SUB_ACTIVE) {
        gwr_act_stanza(r, d, "probe"); /* the answer becomes a NOTIFY */
        (*probed)++;
    }
}

void gwr_recover(struct gw_router *r)
{
    size_t n = gw_dlg_all(r->dialogs, NULL, 0);
    struct gw_dlg **v = n ? calloc(n, sizeof(*v)) : NULL;
    if (n && v == NULL)
        return;
    gw_dlg_all(r->dialogs, v, n);
    size_t refreshed = 0, probed = 0;
    for (size_t i = 0; i < n; i++)
        gwr_recover_one(r, v[i], &refreshed, &probed);
    free(v);
    log_info("event=recovered subscriptions=%zu refreshed=%zu probed=%zu", n, refreshed, probed);
}
