/*
 * test_gw_dialog.c - gw_dialog: the subscription table (indexes, timers, the
 * SQLite store across a "restart") and the in-dialog requests it builds
 * (RFC 3261 section 12.2.1.1, RFC 6665 sections 4.4.1 and 7.2), parsed back
 * with gw_sip.
 */
#include <event2/event.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "gw_dialog.h"
#include "gw_sip.h"
#include "gw_store.h"

static const struct gw_dlg_local LOC = {
    .via_transport = "TCP",
    .host = "10.0.0.5",
    .port = 5070,
    .contact = "sip:gw@10.0.0.5:5070;transport=tcp",
};

static struct gw_sip_msg *parse(const char *b, size_t len)
{
    const char *why = NULL;
    struct gw_sip_msg *m = gw_sip_parse(b, len, NULL, &why);
    if (m == NULL)
        fail_msg("does not parse: %s\n%.*s", why, (int)len, b);
    assert_int_equal(gw_sip_msg_check(m, NULL), 0);
    return m;
}

static void fill_dialog(struct gw_sub *s)
{
    strcpy(s->call_id, "cid-1@gw");
    strcpy(s->local_tag, "ltag");
    strcpy(s->remote_tag, "rtag");
    strcpy(s->remote_target, "sip:carol@10.0.0.9:5060;transport=tcp");
    strcpy(s->route_set, "<sip:10.0.0.1;lr;ftag=x>, <sip:10.0.0.2;transport=tcp;lr>");
    s->local_cseq = 7;
}

static void route_set_keeps_or_reverses_record_route_order(void **state)
{
    (void)state;
    const char *n = "NOTIFY sip:gw@10.0.0.5:5070 SIP/2.0\r\n"
                    "Via: SIP/2.0/TCP 10.0.0.1;branch=z9hG4bKaa\r\n"
                    "Record-Route: <sip:p1.example;lr>\r\n"
                    "Record-Route: <sip:p2.example;lr>\r\n"
                    "From: <sip:carol@contoso.example>;tag=a\r\n"
                    "To: <sip:alice@fabrikam.example>;tag=b\r\n"
                    "Call-ID: c1\r\nCSeq: 1 NOTIFY\r\nMax-Forwards: 70\r\n"
                    "Event: presence\r\nSubscription-State: active\r\nContent-Length: 0\r\n\r\n";
    struct gw_sip_msg *m = parse(n, strlen(n));
    char buf[256];
    assert_int_equal(gw_dlg_route_set(m, false, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "<sip:p1.example;lr>, <sip:p2.example;lr>");
    assert_int_equal(gw_dlg_route_set(m, true, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "<sip:p2.example;lr>, <sip:p1.example;lr>");
    char tiny[8];
    assert_int_equal(gw_dlg_route_set(m, false, tiny, sizeof(tiny)), -1);
    assert_string_equal(tiny, "");
    gw_sip_msg_free(m);
}

static void new_dialog_subscribe_goes_to_the_aor_without_route_or_to_tag(void **state)
{
    (void)state;
    struct gw_dlg d;
    assert_int_equal(gw_sub_init(&d.sub, GW_SUB_X2S, "alice@fabrikam.example",
                                 "sip:carol@contoso.example", false),
                     0);
    fill_dialog(&d.sub);
    char branch[40];
    size_t len = 0;
    char *b =
        gw_dlg_build_subscribe(&d, &LOC, "sip:alice@fabrikam.example", 3600, true, branch, &len);
    assert_non_null(b);
    assert_true(strncmp(branch, "z9hG4bK", 7) == 0 && strlen(branch) == 31);
    struct gw_sip_msg *m = parse(b, len);
    assert_string_equal(gw_sip_method(m), "SUBSCRIBE");
    assert_string_equal(gw_sip_request_uri(m), "sip:carol@contoso.example");
    assert_null(gw_sip_to_tag(m));
    assert_string_equal(gw_sip_from_tag(m), "ltag");
    assert_null(gw_sip_header(m, "Route"));
    assert_string_equal(gw_sip_event(m), "presence");
    assert_int_equal(gw_sip_expires(m), 3600);
    assert_true(gw_sip_accepts(m, "application/pidf+xml", false));
    assert_string_equal(gw_sip_contact_uri(m), LOC.contact); /* P1: routable to us */
    assert_string_equal(gw_sip_via_branch(m), branch);
    assert_int_equal(gw_sip_cseq(m), 7);
    gw_sip_msg_free(m);
    free(b);
}

static void in_dialog_subscribe_uses_target_tags_and_route_set(void **state)
{
    (void)state;
    struct gw_dlg d;
    gw_sub_init(&d.sub, GW_SUB_X2S, "alice@fabrikam.example", "sip:carol@contoso.example", true);
    fill_dialog(&d.sub);
    char branch[40];
    size_t len = 0;
    char *b =
        gw_dlg_build_subscribe(&d, &LOC, "sip:alice@fabrikam.example", 0, false, branch, &len);
    struct gw_sip_msg *m = parse(b, len);
    /* RFC 3261 section 12.2.1.1: remote target, remote tag, route set */
    assert_string_equal(gw_sip_request_uri(m), "sip:carol@10.0.0.9:5060;transport=tcp");
    assert_string_equal(gw_sip_to_tag(m), "rtag");
    assert_string_equal(gw_sip_call_id(m), "cid-1@gw");
    assert_int_equal(gw_sip_expires(m), 0); /* P12: unsubscribe */
    assert_non_null(strstr(b, "Route: <sip:10.0.0.1;lr;ftag=x>"));
    const char *r1 = strstr(b, "10.0.0.1;lr"), *r2 = strstr(b, "10.0.0.2;transport=tcp;lr");
    assert_true(r1 != NULL && r2 != NULL && r1 < r2); /* in stored order */
    gw_sip_msg_free(m);
    free(b);
}

static void notify_carries_subscription_state_and_body(void **state)
{
    (void)state;
    struct gw_dlg d;
    gw_sub_init(&d.sub, GW_SUB_S2X, "alice@fabrikam.example", "sip:carol@contoso.example", true);
    fill_dialog(&d.sub);
    char branch[40];
    size_t len = 0;
    const char *pidf = "<?xml version='1.0'?><presence xmlns='urn:ietf:params:xml:ns:pidf' "
                       "entity='pres:alice@fabrikam.example'/>";
    char *b = gw_dlg_build_notify(&d, &LOC, "sip:alice@fabrikam.example", GW_NS_ACTIVE, 600, NULL,
                                  pidf, strlen(pidf), branch, &len);
    struct gw_sip_msg *m = parse(b, len);
    struct gw_sip_substate ss;
    assert_int_equal(gw_sip_substate(m, &ss), 0);
    assert_int_equal(ss.state, GW_SUBSTATE_ACTIVE);
    assert_int_equal(ss.expires, 600); /* RFC 6665 section 4.1.3: active carries expires */
    assert_string_equal(gw_sip_content_type(m), "application/pidf+xml");
    size_t bl = 0;
    const char *body = gw_sip_body(m, &bl);
    assert_int_equal(bl, strlen(pidf));
    assert_memory_equal(body, pidf, bl);
    assert_string_equal(gw_sip_contact_uri(m), LOC.contact); /* P36 */
    assert_string_equal(gw_sip_event(m), "presence");
    gw_sip_msg_free(m);
    free(b);

    b = gw_dlg_build_notify(&d, &LOC, "sip:alice@fabrikam.example", GW_NS_PENDING, 30, NULL, NULL,
                            0, branch, &len);
    m = parse(b, len);
    gw_sip_substate(m, &ss);
    assert_int_equal(ss.state, GW_SUBSTATE_PENDING);
    assert_int_equal(ss.expires, 30);
    gw_sip_body(m, &bl);
    assert_int_equal(bl, 0); /* P15: pending and empty */
    gw_sip_msg_free(m);
    free(b);

    b = gw_dlg_build_notify(&d, &LOC, "sip:alice@fabrikam.example", GW_NS_TERMINATED, 0, "rejected",
                            NULL, 0, branch, &len);
    m = parse(b, len);
    gw_sip_substate(m, &ss);
    assert_int_equal(ss.state, GW_SUBSTATE_TERMINATED);
    assert_string_equal(ss.reason, "rejected"); /* P17 */
    gw_sip_msg_free(m);
    free(b);
}

/* ---- the table ----------------------------------------------------------- */

static int fired;
static struct gw_dlg *fired_dlg;

static void on_timer(void *arg, struct gw_dlg *d)
{
    struct event_base *base = arg;
    fired++;
    fired_dlg = d;
    event_base_loopbreak(base);
}

static void table_indexes_by_subscription_and_by_dialog(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    struct gw_dialogs *t = gw_dialogs_new(base, NULL, on_timer, base);
    struct gw_dlg *a = gw_dlg_create(t, GW_SUB_X2S, "alice@fabrikam.example",
                                     "sip:carol@contoso.example", false, false);
    struct gw_dlg *b = gw_dlg_create(t, GW_SUB_S2X, "alice@fabrikam.example",
                                     "sip:dave@contoso.example", false, true);
    struct gw_dlg *c = gw_dlg_create(t, GW_SUB_S2X, "bob@fabrikam.example",
                                     "sip:dave@contoso.example", false, true);
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(c);
    fill_dialog(&a->sub);
    assert_int_equal(gw_dlg_save(t, a), 0);
    assert_ptr_equal(
        gw_dlg_find(t, GW_SUB_X2S, "alice@fabrikam.example", "sip:carol@contoso.example", false),
        a);
    assert_null(gw_dlg_find(t, GW_SUB_X2S, "alice@fabrikam.example", "sip:carol@contoso.example",
                            true)); /* a poll is another record */
    assert_ptr_equal(gw_dlg_by_dialog(t, "cid-1@gw", "ltag"), a);
    assert_null(gw_dlg_by_dialog(t, "cid-1@gw", "rtag"));
    /* a new dialog moves the index */
    strcpy(a->sub.call_id, "cid-2@gw");
    gw_dlg_save(t, a);
    assert_null(gw_dlg_by_dialog(t, "cid-1@gw", "ltag"));
    assert_ptr_equal(gw_dlg_by_dialog(t, "cid-2@gw", "ltag"), a);

    struct gw_dlg *v[4];
    assert_int_equal(gw_dlg_for_xmpp(t, GW_SUB_S2X, "alice@fabrikam.example", v, 4), 1);
    assert_ptr_equal(v[0], b);
    assert_int_equal(gw_dialogs_count(t), 3);
    gw_dlg_delete(t, a);
    assert_null(gw_dlg_by_dialog(t, "cid-2@gw", "ltag"));
    assert_int_equal(gw_dlg_all(t, v, 4), 2);
    gw_dialogs_free(t);
    event_base_free(base);
}

static void due_timer_calls_back_on_the_loop(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    struct gw_dialogs *t = gw_dialogs_new(base, NULL, on_timer, base);
    struct gw_dlg *a = gw_dlg_create(t, GW_SUB_X2S, "alice@fabrikam.example",
                                     "sip:carol@contoso.example", false, false);
    a->sub.timer_at = (int64_t)time(NULL) - 5; /* overdue: fires at once */
    fired = 0;
    gw_dlg_save(t, a);
    struct timeval limit = {5, 0};
    event_base_loopexit(base, &limit);
    event_base_dispatch(base);
    assert_int_equal(fired, 1);
    assert_ptr_equal(fired_dlg, a);
    /* no timer: nothing fires */
    a->sub.timer_at = 0;
    gw_dlg_save(t, a);
    fired = 0;
    struct timeval shortly = {0, 200000};
    event_base_loopexit(base, &shortly);
    event_base_dispatch(base);
    assert_int_equal(fired, 0);
    gw_dialogs_free(t);
    event_base_free(base);
}

/* max_subscriptions_per_user counts every record of one XMPP user, both
 * directions and polls, and forgets deleted ones (INTERWORKING P40). */
static void records_are_counted_per_xmpp_user(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    struct gw_dialogs *t = gw_dialogs_new(base, NULL, on_timer, base);
    const char *alice = "alice@fabrikam.example", *bob = "bob@fabrikam.example";
    assert_int_equal(gw_dialogs_count_xmpp(t, alice), 0);
    struct gw_dlg *a =
        gw_dlg_create(t, GW_SUB_X2S, alice, "sip:carol@contoso.example", false, false);
    struct gw_dlg *p =
        gw_dlg_create(t, GW_SUB_X2S, alice, "sip:carol@contoso.example", true, false);
    struct gw_dlg *w = gw_dlg_create(t, GW_SUB_S2X, alice, "sip:dave@contoso.example", false, true);
    gw_dlg_create(t, GW_SUB_S2X, bob, "sip:dave@contoso.example", false, true);
    assert_int_equal(gw_dialogs_count_xmpp(t, alice), 3);
    assert_int_equal(gw_dialogs_count_xmpp(t, bob), 1);
    assert_int_equal(gw_dialogs_count(t), 4);
    /* a record replaced under the same key is counted once */
    gw_dlg_create(t, GW_SUB_X2S, alice, "sip:carol@contoso.example", false, false);
    assert_int_equal(gw_dialogs_count_xmpp(t, alice), 3);
    (void)a;
    gw_dlg_delete(t, p);
    gw_dlg_delete(t, w);
    assert_int_equal(gw_dialogs_count_xmpp(t, alice), 1);
    gw_dlg_delete(t, gw_dlg_find(t, GW_SUB_X2S, alice, "sip:carol@contoso.example", false));
    assert_int_equal(gw_dialogs_count_xmpp(t, alice), 0);
    assert_int_equal(gw_dialogs_count_xmpp(t, bob), 1);
    gw_dialogs_free(t);
    event_base_free(base);
}

static int notified;
static bool notify_passed;
static struct gw_dialogs *notify_table;

static void on_notify(void *arg, struct gw_dlg *d)
{
    (void)arg;
    notified++;
    /* the callee sends the latest state now: the throttle lets it through */
    notify_passed = gw_dlg_notify_may_send(notify_table, d, 300);
}

static int64_t ms_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void run_for(struct event_base *base, long ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    event_base_loopexit(base, &tv);
    event_base_dispatch(base);
}

/* P37 (RFC 6665 4.1.2.1, RFC 3856 6.10): one state NOTIFY per interval
 * per dialog, the changes in between coalesced into one sent when the
 * interval is up; a NOTIFY that must go at once still does and delivers a
 * held change. */
static void notifies_are_throttled_and_coalesced(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    struct gw_dialogs *t = gw_dialogs_new(base, NULL, on_timer, base);
    notify_table = t;
    gw_dialogs_set_notify_cb(t, on_notify);
    struct gw_dlg *a = gw_dlg_create(t, GW_SUB_S2X, "alice@fabrikam.example",
                                     "sip:carol@contoso.example", false, true);
    struct gw_dlg *b = gw_dlg_create(t, GW_SUB_S2X, "alice@fabrikam.example",
                                     "sip:dave@contoso.example", false, true);
    notified = 0;
    int64_t t0 = ms_now();
    assert_true(gw_dlg_notify_may_send(t, a, 300)); /* the first goes */
    assert_true(gw_dlg_notify_may_send(t, b, 300)); /* per dialog */
    for (int i = 0; i < 5; i++)                     /* five changes within the interval */
        assert_false(gw_dlg_notify_may_send(t, a, 300));
    assert_true(gw_dlg_notify_held(a));
    assert_false(gw_dlg_notify_held(b));
    run_for(base, 150);
    assert_int_equal(notified, 0); /* not before the interval */
    run_for(base, 400);
    assert_int_equal(notified, 1); /* once for the five */
    assert_true(notify_passed);
    assert_true(ms_now() - t0 >= 290);
    assert_false(gw_dlg_notify_held(a));
    /* and the next change waits again */
    assert_false(gw_dlg_notify_may_send(t, a, 300));
    /* a NOTIFY with state sent at once (a refresh) delivers the held change */
    gw_dlg_notify_sent(t, a, true);
    assert_false(gw_dlg_notify_held(a));
    run_for(base, 450);
    assert_int_equal(notified, 1);
    /* an empty one (after subscribed) counts its time but keeps a held change */
    gw_dlg_notify_sent(t, a, false);
    assert_false(gw_dlg_notify_may_send(t, a, 300));
    gw_dlg_notify_sent(t, a, false);
    assert_true(gw_dlg_notify_held(a));
    /* a deleted record's held change is dropped with it */
    gw_dlg_delete(t, a);
    run_for(base, 450);
    assert_int_equal(notified, 1);
    /* interval 0: no limit */
    assert_true(gw_dlg_notify_may_send(t, b, 0));
    assert_true(gw_dlg_notify_may_send(t, b, 0));
    gw_dialogs_free(t);
    event_base_free(base);
}

static void records_survive_a_restart_through_the_store(void **state)
{
    (void)state;
    char path[] = "/tmp/test_gw_dialog.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    unlink(path);
    const char *why = NULL;
    struct event_base *base = event_base_new();

    struct gw_store *st = gw_store_open_sqlite(path, &why);
    assert_non_null(st);
    struct gw_dialogs *t = gw_dialogs_new(base, st, on_timer, base);
    struct gw_dlg *a = gw_dlg_create(t, GW_SUB_X2S, "alice@fabrikam.example",
                                     "sip:carol@contoso.example", false, true);
    fill_dialog(&a->sub);
    a->sub.state = GW_SUB_ACTIVE;
    a->sub.timer_at = (int64_t)time(NULL) + 3000;
    gw_dlg_save(t, a);
    struct gw_dlg *gone = gw_dlg_create(t, GW_SUB_S2X, "bob@fabrikam.example",
                                        "sip:dave@contoso.example", false, true);
    gw_dlg_save(t, gone);
    gw_dlg_delete(t, gone);
    gw_dialogs_free(t);
    gw_store_close(st);

    /* the next process */
    st = gw_store_open_sqlite(path, &why);
    t = gw_dialogs_new(base, st, on_timer, base);
    assert_int_equal(gw_dialogs_load(t), 1);
    struct gw_dlg *b = gw_dlg_by_dialog(t, "cid-1@gw", "ltag");
    assert_non_null(b);
    assert_int_equal(b->sub.state, GW_SUB_ACTIVE);
    assert_true(b->sub.authorized);
    assert_string_equal(b->sub.route_set,
                        "<sip:10.0.0.1;lr;ftag=x>, <sip:10.0.0.2;transport=tcp;lr>");
    assert_string_equal(b->sub.remote_target, "sip:carol@10.0.0.9:5060;transport=tcp");
    assert_int_equal(b->sub.local_cseq, 7);
    assert_null(
        gw_dlg_find(t, GW_SUB_S2X, "bob@fabrikam.example", "sip:dave@contoso.example", false));
    gw_dialogs_free(t);
    gw_store_close(st);
    event_base_free(base);
    unlink(path);
    char aux[sizeof(path) + 8];
    snprintf(aux, sizeof(aux), "%s-wal", path);
    unlink(aux);
    snprintf(aux, sizeof(aux), "%s-shm", path);
    unlink(aux);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(route_set_keeps_or_reverses_record_route_order),
        cmocka_unit_test(new_dialog_subscribe_goes_to_the_aor_without_route_or_to_tag),
        cmocka_unit_test(in_dialog_subscribe_uses_target_tags_and_route_set),
        cmocka_unit_test(notify_carries_subscription_state_and_body),
        cmocka_unit_test(table_indexes_by_subscription_and_by_dialog),
        cmocka_unit_test(due_timer_calls_back_on_the_loop),
        cmocka_unit_test(records_survive_a_restart_through_the_store),
        cmocka_unit_test(records_are_counted_per_xmpp_user),
        cmocka_unit_test(notifies_are_throttled_and_coalesced),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
