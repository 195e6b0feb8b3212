/*
 * s2s_sm.c - XEP-0198 counters and unacknowledged queue (s2s_sm.h).
 */
#include "s2s_sm.h"

#include "s2s_stream_int.h"

#include <event2/event.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "edge_conf.h"
#include "edge_metrics.h"
#include "stanza.h"

void s2s_sm_init(struct s2s_sm *sm)
{
    *sm = (struct s2s_sm){0};
    TAILQ_INIT(&sm->unacked);
}

int s2s_sm_parse_h(const char *text, uint32_t *h)
{
    if (text == NULL || *text == '\0')
        return -1;
    uint64_t v = 0;
    for (const char *p = text; *p; p++) {
        if (*p < '0' || *p > '9' || p - text >= 10)
            return -1;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    if (v > UINT32_MAX)
        return -1;
    *h = (uint32_t)v;
    return 0;
}

void s2s_sm_sent(struct s2s_sm *sm, struct s2s_queued *q)
{
    sm->sent++; /* wraps at 2^32 (XEP-0198 section 4) */
    if (q) {
        TAILQ_INSERT_TAIL(&sm->unacked, q, link);
        sm->n_unacked++;
    }
}

uint32_t s2s_sm_outstanding(const struct s2s_sm *sm)
{
    return sm->sent - sm->acked;
}

long s2s_sm_ack(struct s2s_sm *sm, uint32_t h, struct s2s_queue *done)
{
    uint32_t n = h - sm->acked;
    if (n > s2s_sm_outstanding(sm))
        return -1;
    sm->acked = h;
    /* The queue holds the newest stanzas sent; those sent before it kept
     * any (untracked) are acknowledged by count only. */
    uint32_t outstanding = s2s_sm_outstanding(sm);
    while (sm->n_unacked > outstanding) {
        struct s2s_queued *q = TAILQ_FIRST(&sm->unacked);
        TAILQ_REMOVE(&sm->unacked, q, link);
        sm->n_unacked--;
        TAILQ_INSERT_TAIL(done, q, link);
    }
    return (long)n;
}

uint32_t s2s_sm_handled(struct s2s_sm *sm)
{
    return ++sm->h_in;
}

/* ---- on a stream ------------------------------------------------------ */

static const struct edge_local *settings(const struct s2s_stream *s)
{
    return &s->edge->ec->local;
}

static void arm(struct s2s_stream *s, unsigned ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    evtimer_add(s->ev_sm, &tv);
}

static void request_ack(struct s2s_stream *s)
{
    s->sm.r_pending = true;
    s2s_stream_printf(s, "<r xmlns='" S2S_NS_SM "'/>");
    /* An unanswered <r/> is a dead peer, like an unanswered ping. */
    arm(s, settings(s)->ping_timeout * 1000u);
}

/* XEP-0198 is off for this stream (<failed/>, or no answer to <enable/>):
 * what was sent since <enable/> will never be acknowledged; it was written,
 * which is what acknowledges it without XEP-0198. */
static void sm_off(struct s2s_stream *s, const char *why)
{
    struct s2s_queued *q;
    s2s_log(s, "sm", "outcome=off reason=\"%s\" unacked=%zu", why, s->sm.n_unacked);
    while ((q = TAILQ_FIRST(&s->sm.unacked)) != NULL) {
        TAILQ_REMOVE(&s->sm.unacked, q, link);
        s->sm.n_unacked--;
        s2s_queued_done(s->edge, q, NULL, NULL);
    }
    s->sm.out_on = s->sm.in_on = s->sm.r_pending = false;
    if (s->ev_sm)
        evtimer_del(s->ev_sm);
    if (s->dir == S2S_OUT)
        s2s_out_flush(s);
}

static void sm_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct s2s_stream *s = arg;
    (void)fd;
    (void)what;
    if (s->state != S2S_ST_ESTABLISHED || !s->sm.out_on)
        return;
    if (!s->sm.confirmed) {
        /* A partner that offered <sm/> but answers <enable/> with nothing
         * (after dialback, say) is used without it rather than closed. */
        sm_off(s, "no answer to enable");
        return;
    }
    if (s->sm.r_pending) {
        s2s_stream_close(s, S2S_ERR_CONNECTION_TIMEOUT, "no XEP-0198 ack");
        return;
    }
    if (s2s_sm_outstanding(&s->sm) > 0)
        request_ack(s);
}

static int sm_timer(struct s2s_stream *s)
{
    if (s->ev_sm == NULL)
        s->ev_sm = evtimer_new(s->edge->base, sm_timer_cb, s);
    return s->ev_sm ? 0 : -1;
}

void s2s_sm_out_start(struct s2s_stream *s)
{
    if (s->dir != S2S_OUT || !s->feat_sm || s->sm.requested || !settings(s)->sm || sm_timer(s) != 0)
        return;
    /* XEP-0198 section 3: the initiating entity enables after
     * authentication; counting starts with <enable/> (no resumption on
     * s2s: 'resume' is not asked for). */
    s2s_stream_printf(s, "<enable xmlns='" S2S_NS_SM "'/>");
    s->sm.requested = true;
    s->sm.out_on = true;
    s->sm.in_on = true;
    /* <enabled/> or <failed/> within ping_timeout, else used without. */
    arm(s, settings(s)->ping_timeout * 1000u);
    s2s_log(s, "sm", "action=enable");
}

bool s2s_sm_may_send(const struct s2s_stream *s)
{
    return !s->sm.out_on || s->sm.n_unacked < settings(s)->sm_max_unacked;
}

bool s2s_sm_track(struct s2s_stream *s, struct s2s_queued *q)
{
    if (!s->sm.out_on)
        return false;
    bool keep = q != NULL && s->dir == S2S_OUT;
    s2s_sm_sent(&s->sm, keep ? q : NULL);
    if (s->sm.confirmed && !s->sm.r_pending && s->ev_sm) {
        /* Ask at once when half the window is used, else after the
         * interval, so that a burst costs few <r/>. */
        if (s->sm.n_unacked * 2 >= settings(s)->sm_max_unacked)
            request_ack(s);
        else if (!evtimer_pending(s->ev_sm, NULL))
            arm(s, settings(s)->sm_ack_interval_ms);
    }
    return keep;
}

static int on_ack(struct s2s_stream *s, struct stanza *el)
{
    uint32_t h;
    if (s2s_sm_parse_h(stanza_attr(el, "h"), &h) != 0) {
        s2s_stream_close(s, S2S_ERR_INVALID_XML, "XEP-0198 <a/> without a valid 'h'");
        return -1;
    }
    struct s2s_queue done = TAILQ_HEAD_INITIALIZER(done);
    long n = s2s_sm_ack(&s->sm, h, &done);
    if (n < 0) {
        /* XEP-0198 section 4: acknowledging more than was sent is an
         * <undefined-condition/> (handled-count-too-high). */
        char why[128];
        snprintf(why, sizeof(why), "handled-count-too-high h=%" PRIu32 " send-count=%" PRIu32, h,
                 s->sm.sent);
        s2s_log(s, "sm", "action=ack-too-high h=%" PRIu32 " sent=%" PRIu32, h, s->sm.sent);
        s2s_stream_close(s, S2S_ERR_UNDEFINED_CONDITION, why);
        return -1;
    }
    s->sm.r_pending = false;
    struct s2s_queued *q;
    while ((q = TAILQ_FIRST(&done)) != NULL) {
        TAILQ_REMOVE(&done, q, link);
        s2s_queued_done(s->edge, q, NULL, NULL);
    }
    if (s->ev_sm) {
        evtimer_del(s->ev_sm);
        if (s2s_sm_outstanding(&s->sm) > 0)
            arm(s, settings(s)->sm_ack_interval_ms);
    }
    if (s->dir == S2S_OUT)
        s2s_out_flush(s); /* the window may have room again */
    return 0;
}

int s2s_sm_element(struct s2s_stream *s, struct stanza *el)
{
    const char *n = stanza_name(el);
    if (!strcmp(n, "enable")) {
        /* XEP-0198 section 3: only once, only after authentication, and
         * only where we offered it. */
        const char *cond = !settings(s)->sm    ? "service-unavailable"
                           : !s->authenticated ? "unexpected-request"
                           : s->sm.in_on       ? "unexpected-request"
                           : sm_timer(s) != 0  ? "resource-constraint"
                                               : NULL;
        if (cond) {
            s2s_stream_printf(s,
                              "<failed xmlns='" S2S_NS_SM
                              "'><%s xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></failed>",
                              cond);
            s2s_log(s, "sm", "action=refuse-enable condition=%s", cond);
            return 0;
        }
        /* No resumption: <enabled/> without 'resume' (section 5). */
        s2s_stream_printf(s, "<enabled xmlns='" S2S_NS_SM "'/>");
        s->sm.in_on = true;
        s->sm.out_on = true;
        s->sm.confirmed = true;
        s2s_log(s, "sm", "action=enabled");
        return 0;
    }
    if (!strcmp(n, "enabled")) {
        if (!s->sm.out_on || s->sm.confirmed)
            return 0; /* not asked for (or off after a timeout) */
        s->sm.confirmed = true;
        s2s_log(s, "sm", "outcome=enabled");
        evtimer_del(s->ev_sm);
        if (s2s_sm_outstanding(&s->sm) > 0)
            request_ack(s);
        return 0;
    }
    if (!strcmp(n, "failed")) {
        if (s->sm.out_on)
            sm_off(s, "failed");
        return 0;
    }
    if (!strcmp(n, "r")) {
        if (!s->sm.in_on)
            return 0; /* not enabled: nothing to answer (as Prosody does) */
        s2s_stream_printf(s, "<a xmlns='" S2S_NS_SM "' h='%" PRIu32 "'/>", s->sm.h_in);
        return 0;
    }
    if (!strcmp(n, "a")) {
        if (!s->sm.out_on)
            return 0;
        return on_ack(s, el);
    }
    s2s_stream_close(s, S2S_ERR_UNSUPPORTED_STANZA_TYPE, "unknown XEP-0198 element");
    return -1;
}

size_t s2s_sm_out_resend(struct s2s_stream *s)
{
    struct edge *e = s->edge;
    if (s->dir != S2S_OUT || !s->sm.out_on || (s->sm.n_unacked == 0 && s->n_queue == 0) ||
        e->stopping || !s->local || !s->remote)
        return 0;
    /* This stream no longer counts as the pair's stream. */
    s->state = S2S_ST_CLOSING;
    const char *cond = NULL;
    struct s2s_stream *n = s2s_out_get(e, s->local, s->remote, &cond);
    if (n == NULL || n == s) {
        s2s_log(s, "sm", "action=resend-failed unacked=%zu condition=%s", s->sm.n_unacked,
                cond ? cond : "none");
        return 0;
    }
    /* Oldest first: the unacknowledged ones, then what never went out;
     * ahead of anything the new stream holds already. */
    size_t moved = 0, given_up = 0;
    struct s2s_queued *q;
    TAILQ_CONCAT(&s->sm.unacked, &s->queue, link);
    s->sm.n_unacked += s->n_queue;
    s->n_queue = 0;
    struct s2s_queued *last = NULL;
    while ((q = TAILQ_FIRST(&s->sm.unacked)) != NULL) {
        TAILQ_REMOVE(&s->sm.unacked, q, link);
        s->sm.n_unacked--;
        if (q->resends >= settings(s)->sm_max_resends) {
            given_up++;
            s2s_queued_done(e, q, "remote-server-timeout", "re-sent too often");
            continue;
        }
        q->resends++;
        if (last)
            TAILQ_INSERT_AFTER(&n->queue, last, q, link);
        else
            TAILQ_INSERT_HEAD(&n->queue, q, link);
        last = q;
        n->n_queue++;
        moved++;
    }
    s->sm.resent += moved;
    edge_metrics_sm_resent(e, moved);
    s2s_log(s, "sm", "action=resend count=%zu given_up=%zu new_stream=%llu", moved, given_up,
            (unsigned long long)n->serial);
    if (n->state == S2S_ST_ESTABLISHED)
        s2s_out_flush(n);
    return moved;
}

void s2s_sm_free(struct s2s_stream *s)
{
    if (s->ev_sm) {
        event_free(s->ev_sm);
        s->ev_sm = NULL;
    }
}
