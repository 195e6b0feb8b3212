/*
 * test_gw_subscription.c - the subscription state machine, both
 * directions, transition by transition (checklist P3-P21, P34, P35, E16,
 * E18).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "gw_subscription.h"

#define T0 1000000

static struct gw_sub_cfg cfg;

static struct gw_sub_event ev(enum gw_sub_ev kind, int64_t now)
{
    struct gw_sub_event e;
    memset(&e, 0, sizeof e);
    e.kind = kind;
    e.now = now;
    e.expires = -1;
    e.min_expires = -1;
    e.ns_expires = -1;
    e.retry_after = -1;
    e.new_call_id = "cid-new";
    e.new_tag = "tag-new";
    return e;
}

/* The action kinds, as a compact string for comparisons. */
static const char *kinds(const struct gw_sub_actions *a)
{
    static char buf[256];
    static const char *const n[] = {"SUBSCRIBE",    "REPLY",          "NOTIFY",     "X-SUBSCRIBE",
                                    "X-SUBSCRIBED", "X-UNSUBSCRIBED", "X-PRESENCE", "X-UNAVAILABLE",
                                    "X-PROBE",      "GRANT",          "REVOKE",     "SAVE",
                                    "DELETE"};
    buf[0] = '\0';
    for (size_t i = 0; i < a->n; i++) {
        if (i)
            strcat(buf, " ");
        strcat(buf, n[a->a[i].kind]);
    }
    return buf;
}

static void run(struct gw_sub *s, const struct gw_sub_event *e, const char *want)
{
    struct gw_sub_actions a;
    assert_int_equal(gw_sub_handle(s, &cfg, e, &a), 0);
    if (strcmp(kinds(&a), want) != 0)
        fail_msg("event %d in %s: got [%s], want [%s]", e->kind, gw_sub_state_name(s->state),
                 kinds(&a), want);
}

static struct gw_sub_actions last;

static void run_keep(struct gw_sub *s, const struct gw_sub_event *e, const char *want)
{
    assert_int_equal(gw_sub_handle(s, &cfg, e, &last), 0);
    if (strcmp(kinds(&last), want) != 0)
        fail_msg("event %d: got [%s], want [%s]", e->kind, kinds(&last), want);
}

static struct gw_sub_event notify_ev(int64_t now, enum gw_notify_state ns, long exp,
                                     const char *reason, bool body, uint32_t cseq)
{
    struct gw_sub_event e = ev(GW_EV_SIP_NOTIFY, now);
    e.ns = ns;
    e.ns_expires = exp;
    e.reason = reason;
    e.has_body = body;
    e.cseq = cseq;
    e.remote_tag = "kam-tag";
    e.remote_target = "sip:presence@127.0.0.1:5060;transport=tcp";
    e.route_set = "<sip:127.0.0.1;lr>";
    return e;
}

static struct gw_sub_event response(int64_t now, int code, long expires)
{
    struct gw_sub_event e = ev(GW_EV_SIP_RESPONSE, now);
    e.code = code;
    e.expires = expires;
    return e;
}

static void x2s_new(struct gw_sub *s, bool authorized)
{
    assert_int_equal(gw_sub_init(s, GW_SUB_X2S, "juliet@fabrikam.example",
                                 "sip:romeo@contoso.example", authorized),
                     0);
}

static void p1_p2_p3_x2s_subscribe_pending_then_active(void **state)
{
    (void)state;
    struct gw_sub s;
    x2s_new(&s, false);
    struct gw_sub_event e = ev(GW_EV_XMPP_SUBSCRIBE, T0);
    run_keep(&s, &e, "SUBSCRIBE SAVE");
    assert_true(last.a[0].new_dialog);
    assert_int_equal(last.a[0].expires, 28800); /* the subscription refresh interval */
    assert_int_equal(s.state, GW_SUB_SUBSCRIBING);
    assert_string_equal(s.call_id, "cid-new");
    assert_string_equal(s.local_tag, "tag-new");
    assert_int_equal(s.local_cseq, 1);
    assert_int_equal(s.timer_at, T0 + GW_SUB_TIMER_N);
    /* P2: the 200 gives nothing to XMPP */
    e = response(T0 + 1, 200, 600);
    run(&s, &e, "SAVE");
    assert_int_equal(s.state, GW_SUB_SUBSCRIBING);
    /* P3: pending -> 200, nothing to XMPP */
    e = notify_ev(T0 + 1, GW_NS_PENDING, 600, NULL, false, 1);
    run_keep(&s, &e, "REPLY SAVE");
    assert_int_equal(last.a[0].code, 200);
    assert_int_equal(s.state, GW_SUB_PENDING);
    assert_string_equal(s.remote_tag, "kam-tag");
    assert_string_equal(s.route_set, "<sip:127.0.0.1;lr>");
    assert_int_equal(s.timer_at, T0 + 1 + 600 - 60); /* refresh before expiry */
    /* active with a body -> subscribed, then presence */
    e = notify_ev(T0 + 5, GW_NS_ACTIVE, 596, NULL, true, 2);
    run(&s, &e, "REPLY X-SUBSCRIBED GRANT X-PRESENCE SAVE");
    assert_int_equal(s.state, GW_SUB_ACTIVE);
    assert_true(s.authorized);
    /* later state changes: presence only; an empty NOTIFY changes nothing */
    e = notify_ev(T0 + 9, GW_NS_ACTIVE, 592, NULL, true, 3);
    run(&s, &e, "REPLY X-PRESENCE SAVE");
    e = notify_ev(T0 + 10, GW_NS_ACTIVE, 591, NULL, false, 4);
    run(&s, &e, "REPLY SAVE");
}

static void p4_active_with_empty_body_is_subscribed_and_unavailable(void **state)
{
    (void)state;
    struct gw_sub s;
    x2s_new(&s, false);
    struct gw_sub_event e = ev(GW_EV_XMPP_SUBSCRIBE, T0);
    run(&s, &e, "SUBSCRIBE SAVE");
    e = notify_ev(T0, GW_NS_ACTIVE, 3600, NULL, false, 1);
    run(&s, &e, "REPLY X-SUBSCRIBED GRANT X-UNAVAILABLE SAVE");
}

static void p5_notify_before_the_200_is_accepted(void **state)
{
    (void)state;
    struct gw_sub s;
    x2s_new(&s, false);
    struct gw_sub_event e = ev(GW_EV_XMPP_SUBSCRIBE, T0);
    run(&s, &e, "SUBSCRIBE SAVE");
    e = notify_ev(T0, GW_NS_ACTIVE, 3600, NULL, true, 1);
    run(&s, &e, "REPLY X-SUBSCRIBED GRANT X-PRESENCE SAVE");
    e = response(T0 + 1, 202, 3600); /* 202 is as 200 */
    run(&s, &e, "SAVE");
    assert_int_equal(s.state, GW_SUB_ACTIVE);
    assert_int_equal(s.expires_at, T0 + 1 + 3600);
}

static void p6_no_notify_within_timer_n_retries_later(void **state)
{
    (void)state;
    struct gw_sub s;
    x2s_new(&s, false);
    struct gw_sub_event e = ev(GW_EV_XMPP_SUBSCRIBE, T0);
    run(&s, &e, "SUBSCRIBE SAVE");
    struct gw_sub_actions a;
    e = ev(GW_EV_TIMER, T0 + 31);
    assert_int_equal(gw_sub_handle(&s, &cfg, &e, &a), -1); /* not due yet */
    e = ev(GW_EV_TIMER, T0 + 32);
    run(&s, &e, "SAVE");
    assert_int_equal(s.state, GW_SUB_WAITING);
    assert_int_equal(s.timer_at, T0 + 32 + 300);
    /* nothing said to XMPP; the authorisation request stays pending, and
     * the retry opens a new dialog */
    e = ev(GW_EV_TIMER, T0 + 332);
    e.new_call_id = "cid-2";
    run_keep(&s, &e, "SUBSCRIBE SAVE");
    assert_true(last.a[0].new_dialog);
    assert_string_equal(s.call_id, "cid-2");
    /* the second failure waits twice as long */
    e = ev(GW_EV_TIMER, T0 + 332 + 32);
    run(&s, &e, "SAVE");
    assert_int_equal(s.timer_at, T0 + 364 + 600);
}

static void p7_refresh_goes_out_in_the_dialog_before_expiry(void **state)
{
    (void)state;
    struct gw_sub s;
    x2s_new(&s, false);
    struct gw_sub_event e = ev(GW_EV_XMPP_SUBSCRIBE, T0);
    run(&s, &e, "SUBSCRIBE SAVE");
    e = notify_ev(T0, GW_NS_ACTIVE, 3600, NULL, true, 1);
    run(&s, &e, "REPLY X-SUBSCRIBED GRANT X-PRESENCE SAVE");
    assert_int_equal(s.timer_at, T0 + 3600 - 360);
    e = ev(GW_EV_TIMER, T0 + 3240);
    run_keep(&s, &e, "SUBSCRIBE SAVE");
    assert_false(last.a[0].new_dialog);
    assert_int_equal(s.local_cseq, 2); /* CSeq + 1 */
    assert_string_equal(s.call_id, "cid-new");
    assert_string_equal(s.route_set, "<sip:127.0.0.1;lr>"); /* from the NOTIFY */
    e = response(T0 + 3241, 200, 3600);
    run(&s, &e, "SAVE");
    assert_int_equal(s.timer_at, T0 + 3241 + 3240);
    /* P14: the watcher's initial presence refreshes at once */
    e = ev(GW_EV_XMPP_AVAILABLE, T0 + 4000);
    run(&s, &e, "SUBSCRIBE SAVE");
    assert_int_equal(s.local_cseq, 3);
}

static void p8_423_and_481_keep_the_authorisation(void **state)
{
    (void)state;
    struct gw_sub s;
    x2s_new(&s, false);
    struct gw_sub_event e = ev(GW_EV_XMPP_SUBSCRIBE, T0);
    run(&s, &e, "SUBSCRIBE SAVE");
    e = response(T0, 423, -1);
    e.min_expires = 7200;
    run_keep(&s, &e, "SUBSCRIBE SAVE");
    assert_int_equal(last.a[0].expires, 7200);
    assert_false(last.a[0].new_dialog);
    assert_int_equal(s.local_cseq, 2);
    e = notify_ev(T0 + 1, GW_NS_ACTIVE, 7200, NULL, true, 1);
    run(&s, &e, "REPLY X-SUBSCRIBED GRANT X-PRESENCE SAVE");
    e = ev(GW_EV_TIMER, s.timer_at);
    run(&s, &e, "SUBSCRIBE SAVE");
    e = response(s.timer_at, 481, -1);
    e.new_call_id = "cid-481";
    run_keep(&s, &e, "SUBSCRIBE SAVE");
    assert_true(last.a[0].new_dialog);
    assert_true(s.authorized);
    assert_string_equal(s.call_id, "cid-481");
    assert_string_equal(s.remote_tag, "");
}

static void p9_403_489_603_revoke_for_good(void **state)
{
    (void)state;
    static const int codes[] = {403, 489, 603};
    for (size_t i = 0; i < 3; i++) {
        struct gw_sub s;
        x2s_new(&s, true);
        struct gw_sub_event e = ev(GW_EV_XMPP_SUBSCRIBE, T0);
        run(&s, &e, "SUBSCRIBE SAVE");
        e = response(T0, codes[i], -1);
        run(&s, &e, "X-UNSUBSCRIBED REVOKE DELETE");
        assert_false(s.authorized);
        assert_int_equal(s.state, GW_SUB_TERMINATED);
    }
}

static void p10_e18_other_failures_retry_with_a_new_dialog(void **state)
{
    (void)state;
    static const int ends[] = {404, 405, 410, 416, 480, 482, 485, 501, 604, 500, 503, 600};
    for (size_t i = 0; i < sizeof ends / sizeof ends[0]; i++) {
        struct gw_sub s;
        x2s_new(&s, false);
        struct gw_sub_event e = ev(GW_EV_XMPP_SUBSCRIBE, T0);
        run(&s, &e, "SUBSCRIBE SAVE");
        e = notify_ev(T0, GW_NS_ACTIVE, 3600, NULL, true, 1);
        run(&s, &e, "REPLY X-SUBSCRIBED GRANT X-PRESENCE SAVE");
        e = ev(GW_EV_TIMER, s.timer_at);
        run(&s, &e, "SUBSCRIBE SAVE");
        e = response(T0 + 3300, ends[i], -1);
        run(&s, &e, "SAVE");
        assert_true(s.authorized);
        if (ends[i] >= 500 && ends[i] != 501 && ends[i] != 604) {
            /* not in RFC 6665's list: still valid until expiry */
            assert_int_equal(s.state, GW_SUB_ACTIVE);
            assert_true(s.timer_at < s.expires_at);
        } else {
            assert_int_equal(s.state, GW_SUB_WAITING);
            e = ev(GW_EV_TIMER, s.timer_at);
            e.new_call_id = "cid-fresh";
            e.new_tag = "tag-fresh";
            run_keep(&s, &e, "SUBSCRIBE SAVE");
            assert_true(last.a[0].new_dialog); /* new Call-ID and tag */
            assert_string_equal(s.local_tag, "tag-fresh");
        }
    }
    /* a transaction timeout counts as a failure too */
    struct gw_sub s;
    x2s_new(&s, false);
    struct gw_sub_event e = ev(GW_EV_XMPP_SUBSCRIBE, T0);
    run(&s, &e, "SUBSCRIBE SAVE");
    e = ev(GW_EV_SIP_TIMEOUT, T0 + 32);
    run(&s, &e, "SAVE");
    assert_int_equal(s.state, GW_SUB_WAITING);
}

static void p11_termination_reasons(void **state)
{
    (void)state;
    static const struct {
        const char *reason;
        const char *want;
        enum gw_sub_state st;
    } v[] = {
        {"rejected", "REPLY X-UNSUBSCRIBED REVOKE DELETE", GW_SUB_TERMINATED},
        {"noresource", "REPLY X-UNSUBSCRIBED REVOKE DELETE", GW_SUB_TERMINATED},
        {"invariant", "REPLY X-UNSUBSCRIBED REVOKE DELETE", GW_SUB_TERMINATED},
        {"deactivated", "REPLY SUBSCRIBE SAVE", GW_SUB_SUBSCRIBING},
        {"timeout", "REPLY SUBSCRIBE SAVE", GW_SUB_SUBSCRIBING},
        {"", "REPLY SUBSCRIBE SAVE", GW_SUB_SUBSCRIBING},
        {"probation", "REPLY SAVE", GW_SUB_WAITING},
        {"giveup", "REPLY SAVE", GW_SUB_WAITING},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        struct gw_sub s;
        x2s_new(&s, false);
        struct gw_sub_event e = ev(GW_EV_XMPP_SUBSCRIBE, T0);
        run(&s, &e, "SUBSCRIBE SAVE");
        e = notify_ev(T0, GW_NS_ACTIVE, 3600, NULL, true, 1);
        run(&s, &e, "REPLY X-SUBSCRIBED GRANT X-PRESENCE SAVE");
        e = notify_ev(T0 + 10, GW_NS_TERMINATED, -1, v[i].reason, false, 2);
        e.retry_after = 90;
        e.new_call_id = "cid-re";
        run(&s, &e, v[i].want);
        assert_int_equal(s.state, v[i].st);
        if (v[i].st == GW_SUB_WAITING)
            assert_int_equal(s.timer_at, T0 + 10 + 90); /* honours retry-after */
    }
}

static void p12_unsubscribe_expires_0_then_unsubscribed(void **state)
{
    (void)state;
    struct gw_sub s;
    x2s_new(&s, false);
    struct gw_sub_event e = ev(GW_EV_XMPP_SUBSCRIBE, T0);
    run(&s, &e, "SUBSCRIBE SAVE");
    e = notify_ev(T0, GW_NS_ACTIVE, 3600, NULL, true, 1);
    run(&s, &e, "REPLY X-SUBSCRIBED GRANT X-PRESENCE SAVE");
    e = ev(GW_EV_XMPP_UNSUBSCRIBE, T0 + 100);
    run_keep(&s, &e, "REVOKE SUBSCRIBE SAVE");
    assert_int_equal(last.a[1].expires, 0);
    assert_false(last.a[1].new_dialog);
    assert_int_equal(s.state, GW_SUB_UNSUBSCRIBING);
    e = response(T0 + 101, 200, 0);
    run(&s, &e, "X-UNSUBSCRIBED SAVE");
    e = notify_ev(T0 + 101, GW_NS_TERMINATED, -1, "timeout", true, 2);
    run(&s, &e, "REPLY X-PRESENCE DELETE");
    /* unsubscribe without any dialog: answered at once */
    x2s_new(&s, true);
    e = ev(GW_EV_XMPP_UNSUBSCRIBE, T0);
    run(&s, &e, "REVOKE X-UNSUBSCRIBED DELETE");
}

static void p13_probe_is_a_one_shot_poll(void **state)
{
    (void)state;
    struct gw_sub s;
    x2s_new(&s, true);
    struct gw_sub_event e = ev(GW_EV_XMPP_PROBE, T0);
    run_keep(&s, &e, "SUBSCRIBE SAVE");
    assert_int_equal(last.a[0].expires, 0);
    assert_true(last.a[0].new_dialog);
    e = response(T0, 200, 0);
    run(&s, &e, "SAVE");
    e = notify_ev(T0, GW_NS_TERMINATED, -1, "timeout", true, 1);
    run(&s, &e, "REPLY X-PRESENCE DELETE");
    /* no answer at all: unavailable to the prober */
    x2s_new(&s, true);
    e = ev(GW_EV_XMPP_PROBE, T0);
    run(&s, &e, "SUBSCRIBE SAVE");
    e = ev(GW_EV_TIMER, T0 + 32);
    run(&s, &e, "X-UNAVAILABLE DELETE");
}

static void p34_p35_and_forks_are_refused(void **state)
{
    (void)state;
    struct gw_sub s;
    x2s_new(&s, false);
    struct gw_sub_event e = ev(GW_EV_XMPP_SUBSCRIBE, T0);
    run(&s, &e, "SUBSCRIBE SAVE");
    e = notify_ev(T0, GW_NS_ACTIVE, 3600, NULL, true, 5);
    run(&s, &e, "REPLY X-SUBSCRIBED GRANT X-PRESENCE SAVE");
    e = notify_ev(T0, GW_NS_ACTIVE, 3600, NULL, true, 4);
    run_keep(&s, &e, "REPLY");
    assert_int_equal(last.a[0].code, 500);
    e = notify_ev(T0, GW_NS_NONE, 3600, NULL, true, 6);
    run_keep(&s, &e, "REPLY");
    assert_int_equal(last.a[0].code, 400);
    e = notify_ev(T0, GW_NS_ACTIVE, 3600, NULL, true, 6);
    e.remote_tag = "other-fork";
    run_keep(&s, &e, "REPLY");
    assert_int_equal(last.a[0].code, 481);
    /* a NOTIFY for a record that has no dialog: the caller answers 481 */
    struct gw_sub idle;
    x2s_new(&idle, false);
    struct gw_sub_actions a;
    e = notify_ev(T0, GW_NS_ACTIVE, 3600, NULL, true, 1);
    assert_int_equal(gw_sub_handle(&idle, &cfg, &e, &a), -1);
    assert_int_equal(a.n, 0);
    assert_int_equal(idle.state, GW_SUB_IDLE);
}

static void notify_expires_shortens_never_lengthens(void **state)
{
    (void)state;
    struct gw_sub s;
    x2s_new(&s, false);
    struct gw_sub_event e = ev(GW_EV_XMPP_SUBSCRIBE, T0);
    run(&s, &e, "SUBSCRIBE SAVE");
    e = response(T0, 200, 600);
    run(&s, &e, "SAVE");
    e = notify_ev(T0, GW_NS_ACTIVE, 99999, NULL, true, 1);
    run(&s, &e, "REPLY X-SUBSCRIBED GRANT X-PRESENCE SAVE");
    assert_int_equal(s.expires_at, T0 + 600);
    e = notify_ev(T0, GW_NS_ACTIVE, 100, NULL, true, 2);
    run(&s, &e, "REPLY X-PRESENCE SAVE");
    assert_int_equal(s.expires_at, T0 + 100);
}

/* ---- S2X ------------------------------------------------------------------ */

static struct gw_sub_event sub_ev(int64_t now, long expires, bool in_dialog, uint32_t cseq)
{
    struct gw_sub_event e = ev(GW_EV_SIP_SUBSCRIBE, now);
    e.expires = expires;
    e.in_dialog = in_dialog;
    e.cseq = cseq;
    e.remote_tag = "watcher-tag";
    e.remote_target = "sip:romeo@10.0.0.5:5060";
    e.route_set = "<sip:kamailio;lr>";
    e.new_call_id = "watcher-cid";
    e.new_tag = "gw-tag";
    return e;
}

static void s2x_new(struct gw_sub *s, bool authorized)
{
    assert_int_equal(gw_sub_init(s, GW_SUB_S2X, "juliet@fabrikam.example",
                                 "sip:romeo@contoso.example", authorized),
                     0);
}

static void p15_p16_s2x_subscribe_pending_then_approved(void **state)
{
    (void)state;
    struct gw_sub s;
    s2x_new(&s, false);
    struct gw_sub_event e = sub_ev(T0, 7200, false, 1);
    run_keep(&s, &e, "REPLY NOTIFY X-SUBSCRIBE SAVE");
    assert_int_equal(last.a[0].code, 200);
    assert_int_equal(last.a[0].expires, 3600); /* capped, <= requested */
    assert_int_equal(last.a[1].ns, GW_NS_PENDING);
    assert_int_equal(last.a[1].body, GW_BODY_NONE);
    assert_int_equal(s.state, GW_SUB_PENDING);
    assert_string_equal(s.remote_tag, "watcher-tag");
    assert_string_equal(s.local_tag, "gw-tag");
    assert_int_equal(s.local_cseq, 1);
    e = ev(GW_EV_XMPP_SUBSCRIBED, T0 + 10);
    run_keep(&s, &e, "GRANT NOTIFY SAVE");
    assert_int_equal(last.a[1].ns, GW_NS_ACTIVE);
    assert_int_equal(last.a[1].expires, 3590);
    assert_int_equal(last.a[1].body, GW_BODY_NONE); /* empty, then state */
    assert_int_equal(s.local_cseq, 2);
    e = ev(GW_EV_XMPP_AVAILABLE, T0 + 11);
    run_keep(&s, &e, "NOTIFY SAVE");
    assert_int_equal(last.a[0].body, GW_BODY_CURRENT);
    e = ev(GW_EV_XMPP_UNAVAILABLE, T0 + 12);
    run(&s, &e, "NOTIFY SAVE");
    assert_int_equal(s.local_cseq, 4);
}

static void e16_too_brief_expires_gets_423(void **state)
{
    (void)state;
    struct gw_sub s;
    s2x_new(&s, false);
    struct gw_sub_event e = sub_ev(T0, 30, false, 1);
    run_keep(&s, &e, "REPLY");
    assert_int_equal(last.a[0].code, 423);
    assert_int_equal(last.a[0].min_expires, 60);
    assert_int_equal(s.state, GW_SUB_IDLE);
    /* absent Expires means the package default, 3600 */
    e = sub_ev(T0, -1, false, 1);
    run_keep(&s, &e, "REPLY NOTIFY X-SUBSCRIBE SAVE");
    assert_int_equal(last.a[0].expires, 3600);
}

static void p17_unsubscribed_rejects_the_watcher(void **state)
{
    (void)state;
    struct gw_sub s;
    s2x_new(&s, false);
    struct gw_sub_event e = sub_ev(T0, 3600, false, 1);
    run(&s, &e, "REPLY NOTIFY X-SUBSCRIBE SAVE");
    e = ev(GW_EV_XMPP_UNSUBSCRIBED, T0 + 5);
    run_keep(&s, &e, "REVOKE NOTIFY DELETE");
    assert_int_equal(last.a[1].ns, GW_NS_TERMINATED);
    assert_string_equal(last.a[1].reason, "rejected");
    assert_int_equal(s.state, GW_SUB_TERMINATED);
}

static void p18_p19_refresh_and_cancel(void **state)
{
    (void)state;
    struct gw_sub s;
    s2x_new(&s, true); /* already authorised: active at once, with a probe */
    struct gw_sub_event e = sub_ev(T0, 600, false, 1);
    e.presence_known = true;
    run_keep(&s, &e, "REPLY NOTIFY X-PROBE SAVE");
    assert_int_equal(last.a[1].ns, GW_NS_ACTIVE);
    assert_int_equal(last.a[1].body, GW_BODY_CURRENT);
    /* refresh: current state, or an empty NOTIFY when unknown (MUST) */
    e = sub_ev(T0 + 500, 600, true, 2);
    e.presence_known = false;
    run_keep(&s, &e, "REPLY NOTIFY SAVE");
    assert_int_equal(last.a[1].body, GW_BODY_NONE);
    assert_int_equal(s.expires_at, T0 + 1100);
    e = sub_ev(T0 + 501, 600, true, 2); /* CSeq not higher */
    run_keep(&s, &e, "REPLY");
    assert_int_equal(last.a[0].code, 500);
    /* cancel: closed PIDF + terminated;timeout, unavailable to XMPP, no unsubscribe */
    e = sub_ev(T0 + 600, 0, true, 3);
    run_keep(&s, &e, "REPLY NOTIFY X-UNAVAILABLE DELETE");
    assert_int_equal(last.a[0].expires, 0);
    assert_int_equal(last.a[1].ns, GW_NS_TERMINATED);
    assert_string_equal(last.a[1].reason, "timeout");
    assert_int_equal(last.a[1].body, GW_BODY_CLOSED);
    assert_true(s.authorized);
}

static void p20_poll_probes_and_answers_with_the_reply(void **state)
{
    (void)state;
    struct gw_sub s;
    s2x_new(&s, true);
    struct gw_sub_event e = sub_ev(T0, 0, false, 1);
    run(&s, &e, "REPLY X-PROBE SAVE");
    assert_int_equal(s.state, GW_SUB_POLLING);
    e = ev(GW_EV_XMPP_AVAILABLE, T0 + 1);
    run_keep(&s, &e, "NOTIFY DELETE");
    assert_int_equal(last.a[0].ns, GW_NS_TERMINATED);
    assert_int_equal(last.a[0].body, GW_BODY_CURRENT);
    /* no answer within Timer N: an empty terminated NOTIFY */
    s2x_new(&s, true);
    e = sub_ev(T0, 0, false, 1);
    run(&s, &e, "REPLY X-PROBE SAVE");
    e = ev(GW_EV_TIMER, T0 + 32);
    run(&s, &e, "NOTIFY DELETE");
    /* a poll by an unauthorised watcher learns nothing */
    s2x_new(&s, false);
    e = sub_ev(T0, 0, false, 1);
    run_keep(&s, &e, "REPLY NOTIFY DELETE");
    assert_int_equal(last.a[1].body, GW_BODY_NONE);
}

static void p21_expiry_terminates_with_timeout(void **state)
{
    (void)state;
    struct gw_sub s;
    s2x_new(&s, true);
    struct gw_sub_event e = sub_ev(T0, 600, false, 1);
    run(&s, &e, "REPLY NOTIFY X-PROBE SAVE");
    e = ev(GW_EV_TIMER, T0 + 600);
    run_keep(&s, &e, "NOTIFY X-UNAVAILABLE DELETE");
    assert_string_equal(last.a[0].reason, "timeout");
}

static void failed_notify_removes_the_subscription(void **state)
{
    (void)state;
    static const int ends[] = {404, 405, 410, 416, 480, 481, 485, 489, 501, 604};
    for (size_t i = 0; i < sizeof ends / sizeof ends[0]; i++) {
        struct gw_sub s;
        s2x_new(&s, true);
        struct gw_sub_event e = sub_ev(T0, 600, false, 1);
        run(&s, &e, "REPLY NOTIFY X-PROBE SAVE");
        e = response(T0 + 1, ends[i], -1);
        run(&s, &e, "X-UNAVAILABLE DELETE");
    }
    struct gw_sub s;
    s2x_new(&s, true);
    struct gw_sub_event e = sub_ev(T0, 600, false, 1);
    run(&s, &e, "REPLY NOTIFY X-PROBE SAVE");
    e = response(T0 + 1, 200, -1);
    run(&s, &e, "");
    e = ev(GW_EV_SIP_TIMEOUT, T0 + 33);
    run(&s, &e, "X-UNAVAILABLE DELETE");
}

static void events_out_of_place_change_nothing(void **state)
{
    (void)state;
    struct gw_sub s, before;
    struct gw_sub_actions a;
    s2x_new(&s, false);
    before = s;
    struct gw_sub_event e = ev(GW_EV_XMPP_SUBSCRIBED, T0);
    assert_int_equal(gw_sub_handle(&s, &cfg, &e, &a), -1);
    e = sub_ev(T0, 600, true, 1); /* in-dialog for no dialog: 481 */
    assert_int_equal(gw_sub_handle(&s, &cfg, &e, &a), -1);
    e = ev(GW_EV_SIP_NOTIFY, T0); /* wrong direction */
    assert_int_equal(gw_sub_handle(&s, &cfg, &e, &a), -1);
    assert_memory_equal(&s, &before, sizeof s);
    assert_int_equal(a.n, 0);
    /* a new dialog needs fresh identifiers */
    struct gw_sub x;
    x2s_new(&x, false);
    e = ev(GW_EV_XMPP_SUBSCRIBE, T0);
    e.new_call_id = NULL;
    assert_int_equal(gw_sub_handle(&x, &cfg, &e, &a), -1);
    /* addresses that do not fit are refused */
    char big[GW_SUB_ADDR_MAX + 10];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(gw_sub_init(&x, GW_SUB_X2S, big, "sip:a@b", false), -1);
    assert_string_equal(gw_sub_state_name(GW_SUB_WAITING), "waiting");
}

int main(void)
{
    memset(&cfg, 0, sizeof cfg);
    gw_sub_cfg_default(&cfg);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(p1_p2_p3_x2s_subscribe_pending_then_active),
        cmocka_unit_test(p4_active_with_empty_body_is_subscribed_and_unavailable),
        cmocka_unit_test(p5_notify_before_the_200_is_accepted),
        cmocka_unit_test(p6_no_notify_within_timer_n_retries_later),
        cmocka_unit_test(p7_refresh_goes_out_in_the_dialog_before_expiry),
        cmocka_unit_test(p8_423_and_481_keep_the_authorisation),
        cmocka_unit_test(p9_403_489_603_revoke_for_good),
        cmocka_unit_test(p10_e18_other_failures_retry_with_a_new_dialog),
        cmocka_unit_test(p11_termination_reasons),
        cmocka_unit_test(p12_unsubscribe_expires_0_then_unsubscribed),
        cmocka_unit_test(p13_probe_is_a_one_shot_poll),
        cmocka_unit_test(p34_p35_and_forks_are_refused),
        cmocka_unit_test(notify_expires_shortens_never_lengthens),
        cmocka_unit_test(p15_p16_s2x_subscribe_pending_then_approved),
        cmocka_unit_test(e16_too_brief_expires_gets_423),
        cmocka_unit_test(p17_unsubscribed_rejects_the_watcher),
        cmocka_unit_test(p18_p19_refresh_and_cancel),
        cmocka_unit_test(p20_poll_probes_and_answers_with_the_reply),
        cmocka_unit_test(p21_expiry_terminates_with_timeout),
        cmocka_unit_test(failed_notify_removes_the_subscription),
        cmocka_unit_test(events_out_of_place_change_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
