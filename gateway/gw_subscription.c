/*
 * gw_subscription.c - presence subscription state machine (see
 * gw_subscription.h).
 */
#include "gw_subscription.h"

#include <string.h>

const char *gw_sub_state_name(enum gw_sub_state s)
{
    static const char *const names[] = {"idle",          "subscribing", "pending", "active",
                                        "unsubscribing", "polling",     "waiting", "terminated"};
    return (unsigned)s < sizeof names / sizeof names[0] ? names[s] : "unknown";
}

void gw_sub_cfg_default(struct gw_sub_cfg *c)
{
    if (c->refresh_interval == 0)
        c->refresh_interval = 28800; /* DESIGN.md section 2 */
    /* X2S asks for subscriptions as long as the refresh interval; the
     * notifier shortens them (RFC 6665 section 4.2.1.1), and each is
     * refreshed before the granted expiry */
    if (c->subscribe_expires == 0)
        c->subscribe_expires = c->refresh_interval;
    if (c->max_expires == 0)
        c->max_expires = 3600; /* RFC 3856 section 6.4 */
    if (c->min_expires == 0)
        c->min_expires = 60;
    if (c->retry_delay == 0)
        c->retry_delay = 300;
}

static bool set_str(char *dst, size_t cap, const char *src)
{
    if (src == NULL)
        src = "";
    size_t n = strlen(src);
    if (n >= cap)
        return false;
    memcpy(dst, src, n + 1);
    return true;
}

int gw_sub_init(struct gw_sub *s, enum gw_sub_dir dir, const char *xmpp, const char *sip,
                bool authorized)
{
    memset(s, 0, sizeof *s);
    s->dir = dir;
    s->state = GW_SUB_IDLE;
    s->authorized = authorized;
    if (!set_str(s->xmpp, sizeof s->xmpp, xmpp) || !set_str(s->sip, sizeof s->sip, sip))
        return -1;
    return 0;
}

/* ---- action helpers ------------------------------------------------------ */

static struct gw_sub_action *push(struct gw_sub_actions *o, enum gw_act_kind k)
{
    if (o->n >= GW_SUB_ACTIONS_MAX)
        return &o->a[GW_SUB_ACTIONS_MAX - 1]; /* cannot happen: at most 6 per event */
    struct gw_sub_action *a = &o->a[o->n++];
    memset(a, 0, sizeof *a);
    a->kind = k;
    a->min_expires = -1;
    return a;
}

static void reply(struct gw_sub_actions *o, int code, uint32_t expires, long min_expires)
{
    struct gw_sub_action *a = push(o, GW_ACT_REPLY);
    a->code = code;
    a->expires = expires;
    a->min_expires = min_expires;
}

static void notify(struct gw_sub *s, struct gw_sub_actions *o, enum gw_notify_state ns,
                   uint32_t expires, const char *reason, enum gw_notify_body body)
{
    s->local_cseq++;
    struct gw_sub_action *a = push(o, GW_ACT_SEND_NOTIFY);
    a->ns = ns;
    a->expires = expires;
    a->reason = reason;
    a->body = body;
}

static void simple(struct gw_sub_actions *o, enum gw_act_kind k)
{
    push(o, k);
}

/* ---- X2S ------------------------------------------------------------------ */

/* Seconds before expiry at which we refresh. */
static uint32_t refresh_margin(uint32_t granted)
{
    uint32_t m = granted / 10;
    if (m < 5)
        m = granted / 2;
    if (m > 600)
        m = 600;
    return m;
}

static void x2s_subscribe(struct gw_sub *s, const struct gw_sub_event *ev, struct gw_sub_actions *o,
                          uint32_t expires, bool new_dialog)
{
    if (new_dialog) {
        set_str(s->call_id, sizeof s->call_id, ev->new_call_id);
        set_str(s->local_tag, sizeof s->local_tag, ev->new_tag);
        s->remote_tag[0] = '\0';
        s->remote_target[0] = '\0';
        s->route_set[0] = '\0';
        s->remote_cseq = 0;
        s->local_cseq = 0;
        s->notified = false;
    }
    s->local_cseq++;
    struct gw_sub_action *a = push(o, GW_ACT_SEND_SUBSCRIBE);
    a->expires = expires;
    a->new_dialog = new_dialog;
}

static bool can_new_dialog(const struct gw_sub_event *ev)
{
    return ev->new_call_id != NULL && ev->new_call_id[0] && ev->new_tag != NULL && ev->new_tag[0] &&
           strlen(ev->new_call_id) < GW_SUB_TOKEN_MAX && strlen(ev->new_tag) < GW_SUB_TOKEN_MAX;
}

/* A new dialog now (SUBSCRIBING, Timer N). */
static void x2s_start(struct gw_sub *s, const struct gw_sub_cfg *c, const struct gw_sub_event *ev,
                      struct gw_sub_actions *o)
{
    x2s_subscribe(s, ev, o, s->poll ? 0 : c->subscribe_expires, true);
    s->state = GW_SUB_SUBSCRIBING;
    s->timer_at = ev->now + GW_SUB_TIMER_N;
}

/* The dialog ended but the authorisation stays: retry later (back-off). */
static void x2s_wait_retry(struct gw_sub *s, const struct gw_sub_cfg *c, int64_t now,
                           long retry_after, struct gw_sub_actions *o)
{
    uint64_t d = c->retry_delay;
    for (uint32_t i = 0; i < s->failures && d < c->refresh_interval; i++)
        d *= 2;
    if (d > c->refresh_interval)
        d = c->refresh_interval;
    if (retry_after >= 0)
        d = (uint64_t)retry_after;
    s->failures++;
    s->state = GW_SUB_WAITING;
    s->timer_at = now + (int64_t)d;
    s->remote_tag[0] = '\0';
    simple(o, GW_ACT_SAVE);
}

static void x2s_revoke(struct gw_sub *s, struct gw_sub_actions *o)
{
    s->authorized = false;
    s->state = GW_SUB_TERMINATED;
    s->timer_at = 0;
    simple(o, GW_ACT_XMPP_UNSUBSCRIBED);
    simple(o, GW_ACT_AUTH_REVOKE);
    simple(o, GW_ACT_DELETE);
}

static void x2s_done(struct gw_sub *s, struct gw_sub_actions *o)
{
    s->state = GW_SUB_TERMINATED;
    s->timer_at = 0;
    simple(o, GW_ACT_DELETE);
}

/* Sets expiry and the refresh timer from a granted duration. */
static void x2s_granted(struct gw_sub *s, int64_t now, long granted)
{
    if (granted < 0)
        return;
    s->expires = (uint32_t)granted;
    s->expires_at = now + granted;
    if (s->state == GW_SUB_PENDING || s->state == GW_SUB_ACTIVE)
        s->timer_at = s->expires_at - refresh_margin((uint32_t)granted);
}

static bool code_in(int code, const int *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (list[i] == code)
            return true;
    return false;
}

static int x2s_response(struct gw_sub *s, const struct gw_sub_cfg *c, const struct gw_sub_event *ev,
                        struct gw_sub_actions *o, bool timeout)
{
    static const int permanent[] = {403, 489, 603};
    int code = timeout ? 408 : ev->code;

    if (s->state != GW_SUB_SUBSCRIBING && s->state != GW_SUB_PENDING && s->state != GW_SUB_ACTIVE &&
        s->state != GW_SUB_UNSUBSCRIBING)
        return -1;
    if (code >= 200 && code < 300) { /* 202 is as 200 (RFC 6665 section 8.3.1) */
        if (s->state == GW_SUB_UNSUBSCRIBING) {
            if (!s->poll)
                simple(o, GW_ACT_XMPP_UNSUBSCRIBED); /* RFC 8048 section 5.2.3 */
            s->timer_at = ev->now + GW_SUB_TIMER_N;  /* wait for the final NOTIFY */
            simple(o, GW_ACT_SAVE);
            return 0;
        }
        s->failures = 0;
        long granted = ev->expires >= 0 ? ev->expires : (long)c->subscribe_expires;
        if (s->state == GW_SUB_SUBSCRIBING) {
            s->expires = (uint32_t)granted;
            s->expires_at = ev->now + granted; /* Timer N keeps running */
        } else {
            x2s_granted(s, ev->now, granted);
        }
        simple(o, GW_ACT_SAVE);
        return 0;
    }
    if (s->state == GW_SUB_UNSUBSCRIBING) { /* the dialog is gone anyway */
        if (!s->poll)
            simple(o, GW_ACT_XMPP_UNSUBSCRIBED);
        x2s_done(s, o);
        return 0;
    }
    if (code_in(code, permanent, 3)) { /* RFC 8048 section 5.2.2 */
        if (s->poll) {
            simple(o, GW_ACT_XMPP_UNAVAILABLE);
            x2s_done(s, o);
        } else {
            x2s_revoke(s, o);
        }
        return 0;
    }
    if (s->poll) {
        simple(o, GW_ACT_XMPP_UNAVAILABLE);
        x2s_done(s, o);
        return 0;
    }
    if (code == 423 && ev->min_expires > 0 && !timeout) { /* RFC 6665 section 4.2.1.1 */
        bool fresh = s->state == GW_SUB_SUBSCRIBING;
        x2s_subscribe(s, ev, o, (uint32_t)ev->min_expires, false);
        if (fresh)
            s->timer_at = ev->now + GW_SUB_TIMER_N;
        simple(o, GW_ACT_SAVE);
        return 0;
    }
    if (code == 481 && can_new_dialog(ev)) {
        x2s_start(s, c, ev, o);
        simple(o, GW_ACT_SAVE);
        return 0;
    }
    /* RFC 6665 section 4.1.2.2: these end the subscription; any other
     * failure leaves a refreshed subscription valid until it expires. */
    static const int ends[] = {404, 405, 410, 416, 480, 481, 482, 483, 484, 485, 501, 604};
    bool refresh = s->state == GW_SUB_ACTIVE || s->state == GW_SUB_PENDING;
    if (refresh && !code_in(code, ends, sizeof ends / sizeof ends[0]) &&
        s->expires_at > ev->now + (int64_t)GW_SUB_TIMER_N) {
        s->timer_at = ev->now + (s->expires_at - ev->now) / 2;
        simple(o, GW_ACT_SAVE);
        return 0;
    }
    x2s_wait_retry(s, c, ev->now, -1, o);
    return 0;
}

static int x2s_notify(struct gw_sub *s, const struct gw_sub_cfg *c, const struct gw_sub_event *ev,
                      struct gw_sub_actions *o)
{
    if (s->state != GW_SUB_SUBSCRIBING && s->state != GW_SUB_PENDING && s->state != GW_SUB_ACTIVE &&
        s->state != GW_SUB_UNSUBSCRIBING)
        return -1; /* the caller answers 481 */
    if (ev->ns == GW_NS_NONE) {
        reply(o, 400, 0, -1); /* P35 */
        return 0;
    }
    const char *rt = ev->remote_tag ? ev->remote_tag : "";
    if (s->remote_tag[0] != '\0' && strcmp(s->remote_tag, rt) != 0) {
        reply(o, 481, 0, -1); /* a second (forked) dialog, RFC 6665 section 4.1.4 */
        return 0;
    }
    if (s->remote_tag[0] != '\0' && ev->cseq < s->remote_cseq) {
        reply(o, 500, 0, -1); /* RFC 3261 section 12.2.2 (P34) */
        return 0;
    }
    if (s->remote_tag[0] == '\0') {
        /* the NOTIFY creates the dialog usage: route set and target come
         * from it, not from the 200 (RFC 6665 section 4.4.1) */
        set_str(s->remote_tag, sizeof s->remote_tag, rt);
        set_str(s->route_set, sizeof s->route_set, ev->route_set);
    }
    if (ev->remote_target != NULL && ev->remote_target[0])
        set_str(s->remote_target, sizeof s->remote_target, ev->remote_target);
    s->remote_cseq = ev->cseq;
    reply(o, 200, 0, -1);

    if (ev->ns == GW_NS_TERMINATED) {
        const char *r = ev->reason ? ev->reason : "";
        if (ev->has_body)
            simple(o, GW_ACT_XMPP_PRESENCE);
        else if (s->poll)
            simple(o, GW_ACT_XMPP_UNAVAILABLE);
        if (s->state == GW_SUB_UNSUBSCRIBING || s->poll) {
            x2s_done(s, o);
            return 0;
        }
        if (strcmp(r, "rejected") == 0 || strcmp(r, "noresource") == 0 ||
            strcmp(r, "invariant") == 0) {
            x2s_revoke(s, o); /* do not retry (RFC 6665 section 4.1.3) */
            return 0;
        }
        if (strcmp(r, "probation") == 0 || strcmp(r, "giveup") == 0) {
            x2s_wait_retry(s, c, ev->now, ev->retry_after, o);
            return 0;
        }
        /* deactivated, timeout, none or unknown: re-subscribe now */
        if (can_new_dialog(ev)) {
            x2s_start(s, c, ev, o);
            simple(o, GW_ACT_SAVE);
        } else {
            x2s_wait_retry(s, c, ev->now, 0, o);
        }
        return 0;
    }
    if (s->state == GW_SUB_UNSUBSCRIBING) {
        simple(o, GW_ACT_SAVE);
        return 0; /* a NOTIFY racing our Expires 0: nothing to XMPP */
    }
    if (ev->ns == GW_NS_PENDING) {
        s->state = GW_SUB_PENDING; /* P3: nothing to XMPP */
    } else {
        if (!s->authorized && !s->poll) {
            simple(o, GW_ACT_XMPP_SUBSCRIBED);
            simple(o, GW_ACT_AUTH_GRANT);
            s->authorized = true;
        }
        if (ev->has_body)
            simple(o, GW_ACT_XMPP_PRESENCE);
        else if (!s->notified)
            simple(o, GW_ACT_XMPP_UNAVAILABLE); /* P4 */
        s->notified = true;
        s->state = GW_SUB_ACTIVE;
    }
    s->failures = 0;
    long left = ev->ns_expires >= 0 ? ev->ns_expires : (long)s->expires;
    if (s->expires_at > 0 && ev->now + left > s->expires_at)
        left = (long)(s->expires_at - ev->now); /* may shorten, never lengthen */
    if (left < 0)
        left = 0;
    x2s_granted(s, ev->now, left);
    simple(o, GW_ACT_SAVE);
    return 0;
}

static int x2s_handle(struct gw_sub *s, const struct gw_sub_cfg *c, const struct gw_sub_event *ev,
                      struct gw_sub_actions *o)
{
    switch (ev->kind) {
    case GW_EV_XMPP_SUBSCRIBE:
        if (s->state == GW_SUB_ACTIVE) {
            /* already subscribed: confirm and refresh (RFC 6121 3.1.3) */
            simple(o, GW_ACT_XMPP_SUBSCRIBED);
            x2s_subscribe(s, ev, o, c->subscribe_expires, false);
            simple(o, GW_ACT_SAVE);
            return 0;
        }
        if (s->state == GW_SUB_SUBSCRIBING || s->state == GW_SUB_PENDING)
            return 0; /* already under way */
        if (!can_new_dialog(ev))
            return -1;
        s->poll = false;
        s->failures = 0;
        x2s_start(s, c, ev, o);
        simple(o, GW_ACT_SAVE);
        return 0;
    case GW_EV_XMPP_PROBE:
        if (s->state != GW_SUB_IDLE || !can_new_dialog(ev))
            return -1;
        s->poll = true; /* RFC 8048 section 7.1 */
        x2s_start(s, c, ev, o);
        simple(o, GW_ACT_SAVE);
        return 0;
    case GW_EV_XMPP_UNSUBSCRIBE:
        s->authorized = false;
        simple(o, GW_ACT_AUTH_REVOKE);
        if (s->state == GW_SUB_SUBSCRIBING || s->state == GW_SUB_PENDING ||
            s->state == GW_SUB_ACTIVE) {
            x2s_subscribe(s, ev, o, 0, false);
            s->state = GW_SUB_UNSUBSCRIBING;
            s->timer_at = ev->now + GW_SUB_TIMER_N;
            simple(o, GW_ACT_SAVE);
            return 0;
        }
        simple(o, GW_ACT_XMPP_UNSUBSCRIBED);
        x2s_done(s, o);
        return 0;
    case GW_EV_XMPP_AVAILABLE:
        /* RFC 8048 section 5.2.2: the watcher's initial presence works
         * like a probe: refresh now */
        if (s->state == GW_SUB_ACTIVE || s->state == GW_SUB_PENDING) {
            x2s_subscribe(s, ev, o, c->subscribe_expires, false);
            simple(o, GW_ACT_SAVE);
            return 0;
        }
        if (s->state == GW_SUB_WAITING && can_new_dialog(ev)) {
            x2s_start(s, c, ev, o);
            simple(o, GW_ACT_SAVE);
            return 0;
        }
        return -1;
    case GW_EV_SIP_RESPONSE:
        return x2s_response(s, c, ev, o, false);
    case GW_EV_SIP_TIMEOUT:
        return x2s_response(s, c, ev, o, true);
    case GW_EV_SIP_NOTIFY:
        return x2s_notify(s, c, ev, o);
    case GW_EV_TIMER:
        if (s->timer_at == 0 || ev->now < s->timer_at)
            return -1;
        switch (s->state) {
        case GW_SUB_SUBSCRIBING: /* Timer N: no NOTIFY (P6) */
            if (s->poll) {
                simple(o, GW_ACT_XMPP_UNAVAILABLE);
                x2s_done(s, o);
            } else {
                x2s_wait_retry(s, c, ev->now, -1, o);
            }
            return 0;
        case GW_SUB_PENDING:
        case GW_SUB_ACTIVE:
            if (s->expires_at > 0 && ev->now >= s->expires_at) {
                x2s_wait_retry(s, c, ev->now, 0, o); /* expired: new dialog */
                return 0;
            }
            x2s_subscribe(s, ev, o, c->subscribe_expires, false); /* refresh (P7) */
            s->timer_at = s->expires_at > ev->now ? s->expires_at : ev->now + GW_SUB_TIMER_N;
            simple(o, GW_ACT_SAVE);
            return 0;
        case GW_SUB_UNSUBSCRIBING:
            x2s_done(s, o);
            return 0;
        case GW_SUB_WAITING:
            /* the record lives until unsubscribe: the XMPP user still
             * wants this subscription, approved or not */
            if (!can_new_dialog(ev))
                return -1;
            x2s_start(s, c, ev, o);
            simple(o, GW_ACT_SAVE);
            return 0;
        default:
            return -1;
        }
    default:
        return -1;
    }
}

/* ---- S2X ------------------------------------------------------------------ */

static uint32_t time_left(const struct gw_sub *s, int64_t now)
{
    return s->expires_at > now ? (uint32_t)(s->expires_at - now) : 0;
}

static void s2x_end(struct gw_sub *s, struct gw_sub_actions *o)
{
    s->state = GW_SUB_TERMINATED;
    s->timer_at = 0;
    simple(o, GW_ACT_DELETE);
}

static int s2x_subscribe(struct gw_sub *s, const struct gw_sub_cfg *c,
                         const struct gw_sub_event *ev, struct gw_sub_actions *o)
{
    long req = ev->expires >= 0 ? ev->expires : 3600; /* RFC 3856 section 6.4 */
    if (!ev->in_dialog) {
        if (s->state != GW_SUB_IDLE)
            return -1;
    } else {
        if (s->state != GW_SUB_PENDING && s->state != GW_SUB_ACTIVE)
            return -1; /* 481 */
        if (ev->cseq <= s->remote_cseq) {
            reply(o, 500, 0, -1); /* RFC 3261 section 12.2.2 */
            return 0;
        }
    }
    if (req > 0 && req < (long)c->min_expires && req < 3600) {
        reply(o, 423, 0, (long)c->min_expires); /* RFC 6665 section 4.2.1.1 */
        return 0;
    }
    uint32_t granted = req > (long)c->max_expires ? c->max_expires : (uint32_t)req;
    if (!ev->in_dialog) {
        if (!can_new_dialog(ev))
            return -1;
        /* our To tag is the local tag; the Call-ID is the watcher's */
        set_str(s->call_id, sizeof s->call_id, ev->new_call_id);
        set_str(s->local_tag, sizeof s->local_tag, ev->new_tag);
        set_str(s->remote_tag, sizeof s->remote_tag, ev->remote_tag);
        set_str(s->route_set, sizeof s->route_set, ev->route_set);
        s->local_cseq = 0;
    }
    s->remote_cseq = ev->cseq;
    if (ev->remote_target != NULL && ev->remote_target[0])
        set_str(s->remote_target, sizeof s->remote_target, ev->remote_target);
    s->expires = granted;
    s->expires_at = ev->now + granted;
    s->timer_at = granted > 0 ? s->expires_at : 0;
    /* RFC 6665 section 4.2.1.1: answer at once; 4.2.1.2: NOTIFY at once */
    reply(o, 200, granted, -1);
    if (granted == 0) {
        if (ev->in_dialog) { /* cancel (P19): authorisation kept */
            notify(s, o, GW_NS_TERMINATED, 0, "timeout", GW_BODY_CLOSED);
            simple(o, GW_ACT_XMPP_UNAVAILABLE);
            s2x_end(s, o);
            return 0;
        }
        /* a poll (RFC 8048 section 7.2) */
        if (!s->authorized) {
            notify(s, o, GW_NS_TERMINATED, 0, "timeout", GW_BODY_NONE);
            s2x_end(s, o);
            return 0;
        }
        if (ev->presence_known) {
            notify(s, o, GW_NS_TERMINATED, 0, "timeout", GW_BODY_CURRENT);
            s2x_end(s, o);
            return 0;
        }
        s->poll = true;
        s->state = GW_SUB_POLLING;
        s->timer_at = ev->now + GW_SUB_TIMER_N;
        simple(o, GW_ACT_XMPP_PROBE);
        simple(o, GW_ACT_SAVE);
        return 0;
    }
    if (ev->in_dialog) { /* refresh (P18): the current state or nothing */
        if (s->state == GW_SUB_ACTIVE)
            notify(s, o, GW_NS_ACTIVE, granted, NULL,
                   ev->presence_known ? GW_BODY_CURRENT : GW_BODY_NONE);
        else
            notify(s, o, GW_NS_PENDING, granted, NULL, GW_BODY_NONE);
        simple(o, GW_ACT_SAVE);
        return 0;
    }
    if (s->authorized) {
        s->state = GW_SUB_ACTIVE;
        notify(s, o, GW_NS_ACTIVE, granted, NULL,
               ev->presence_known ? GW_BODY_CURRENT : GW_BODY_NONE);
        simple(o, GW_ACT_XMPP_PROBE);
    } else {
        s->state = GW_SUB_PENDING; /* P15 */
        notify(s, o, GW_NS_PENDING, granted, NULL, GW_BODY_NONE);
        simple(o, GW_ACT_XMPP_SUBSCRIBE);
    }
    simple(o, GW_ACT_SAVE);
    return 0;
}

static int s2x_handle(struct gw_sub *s, const struct gw_sub_cfg *c, const struct gw_sub_event *ev,
                      struct gw_sub_actions *o)
{
    static const int ends[] = {404, 405, 410, 416, 480, 481, 482, 483, 484, 485, 489, 501, 604};
    switch (ev->kind) {
    case GW_EV_SIP_SUBSCRIBE:
        return s2x_subscribe(s, c, ev, o);
    case GW_EV_XMPP_SUBSCRIBED:
        if (s->state != GW_SUB_PENDING)
            return -1;
        s->authorized = true;
        s->state = GW_SUB_ACTIVE;
        simple(o, GW_ACT_AUTH_GRANT);
        notify(s, o, GW_NS_ACTIVE, time_left(s, ev->now), NULL, GW_BODY_NONE); /* P16 */
        simple(o, GW_ACT_SAVE);
        return 0;
    case GW_EV_XMPP_UNSUBSCRIBED:
        s->authorized = false;
        simple(o, GW_ACT_AUTH_REVOKE);
        if (s->state == GW_SUB_PENDING || s->state == GW_SUB_ACTIVE || s->state == GW_SUB_POLLING)
            notify(s, o, GW_NS_TERMINATED, 0, "rejected", GW_BODY_NONE); /* P17 */
        s2x_end(s, o);
        return 0;
    case GW_EV_XMPP_AVAILABLE:
    case GW_EV_XMPP_UNAVAILABLE:
        if (s->state == GW_SUB_ACTIVE) {
            notify(s, o, GW_NS_ACTIVE, time_left(s, ev->now), NULL, GW_BODY_CURRENT);
            simple(o, GW_ACT_SAVE);
            return 0;
        }
        if (s->state == GW_SUB_POLLING) {
            notify(s, o, GW_NS_TERMINATED, 0, "timeout", GW_BODY_CURRENT);
            s2x_end(s, o);
            return 0;
        }
        return -1;
    case GW_EV_SIP_RESPONSE:
    case GW_EV_SIP_TIMEOUT:
        if (s->state == GW_SUB_IDLE || s->state == GW_SUB_TERMINATED)
            return -1;
        if (ev->kind == GW_EV_SIP_TIMEOUT ||
            code_in(ev->code, ends, sizeof ends / sizeof ends[0])) {
            /* RFC 6665 section 4.2.2: the watcher is gone */
            simple(o, GW_ACT_XMPP_UNAVAILABLE);
            s2x_end(s, o);
            return 0;
        }
        return 0;
    case GW_EV_TIMER:
        if (s->timer_at == 0 || ev->now < s->timer_at)
            return -1;
        if (s->state == GW_SUB_POLLING) {
            notify(s, o, GW_NS_TERMINATED, 0, "timeout", GW_BODY_NONE);
            s2x_end(s, o);
            return 0;
        }
        if (s->state == GW_SUB_PENDING || s->state == GW_SUB_ACTIVE) {
            notify(s, o, GW_NS_TERMINATED, 0, "timeout", GW_BODY_NONE); /* P21 */
            simple(o, GW_ACT_XMPP_UNAVAILABLE);
            s2x_end(s, o);
            return 0;
        }
        return -1;
    default:
        return -1;
    }
}

int gw_sub_handle(struct gw_sub *s, const struct gw_sub_cfg *cfg_in, const struct gw_sub_event *ev,
                  struct gw_sub_actions *out)
{
    struct gw_sub_cfg c = cfg_in ? *cfg_in : (struct gw_sub_cfg){0};
    struct gw_sub saved = *s;

    gw_sub_cfg_default(&c);
    out->n = 0;
    int r = s->dir == GW_SUB_X2S ? x2s_handle(s, &c, ev, out) : s2x_handle(s, &c, ev, out);
    if (r != 0) {
        *s = saved;
        out->n = 0;
    }
    return r;
}
