/*
 * test_gw_policy.c - partner types and the access policy (DESIGN.md
 * section 2): every partner type against every operation, both ways.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gw_policy.h"

static const enum conf_partner_type types[] = {PARTNER_FEDERATED, PARTNER_PUBLIC_VERIFIED,
                                               PARTNER_PUBLIC_UNVERIFIED};

static struct gw_policy_pair pair(enum conf_partner_type t, bool invited)
{
    struct gw_policy_pair p = {.target_served = true,
                               .partner_known = true,
                               .partner_type = t,
                               .user_has_access = true,
                               .invited = invited};
    return p;
}

static void federated_and_verified_need_no_invitation(void **state)
{
    (void)state;
    for (size_t i = 0; i < 2; i++) {
        struct gw_policy_pair p = pair(types[i], false);
        struct gw_policy_decision d;
        for (int op = GW_OP_MESSAGE; op <= GW_OP_UNSUBSCRIBED; op++) {
            gw_policy_inbound(&p, (enum gw_policy_op)op, &d);
            assert_int_equal(d.action, GW_POLICY_ALLOW);
            assert_int_equal(d.status_notes, types[i] == PARTNER_FEDERATED);
        }
    }
}

static void public_unverified_needs_an_invitation(void **state)
{
    (void)state;
    struct gw_policy_pair p = pair(PARTNER_PUBLIC_UNVERIFIED, false);
    struct gw_policy_decision d;
    gw_policy_inbound(&p, GW_OP_MESSAGE, &d);
    assert_int_equal(d.action, GW_POLICY_ERROR);
    assert_string_equal(d.condition, "forbidden");
    assert_string_equal(d.type, "auth");
    assert_string_equal(d.text, "the user has not invited you");
    gw_policy_inbound(&p, GW_OP_SUBSCRIBE, &d);
    assert_int_equal(d.action, GW_POLICY_UNSUBSCRIBED);
    gw_policy_inbound(&p, GW_OP_PROBE, &d);
    assert_int_equal(d.action, GW_POLICY_UNSUBSCRIBED);
    gw_policy_inbound(&p, GW_OP_AVAILABLE, &d);
    assert_int_equal(d.action, GW_POLICY_IGNORE);
    /* answers to the internal user's own requests always pass */
    static const enum gw_policy_op answers[] = {GW_OP_SUBSCRIBED, GW_OP_UNSUBSCRIBE,
                                                GW_OP_UNSUBSCRIBED, GW_OP_UNAVAILABLE};
    for (size_t i = 0; i < 4; i++) {
        gw_policy_inbound(&p, answers[i], &d);
        assert_int_equal(d.action, GW_POLICY_ALLOW);
        assert_false(d.status_notes);
    }
    /* once invited, everything passes, still without status notes */
    p.invited = true;
    for (int op = GW_OP_MESSAGE; op <= GW_OP_UNSUBSCRIBED; op++) {
        gw_policy_inbound(&p, (enum gw_policy_op)op, &d);
        assert_int_equal(d.action, GW_POLICY_ALLOW);
        assert_false(d.status_notes);
    }
}

static void user_without_access_is_refused_both_ways(void **state)
{
    (void)state;
    for (size_t i = 0; i < 3; i++) {
        struct gw_policy_pair p = pair(types[i], true);
        p.user_has_access = false;
        struct gw_policy_decision d;
        gw_policy_inbound(&p, GW_OP_MESSAGE, &d);
        assert_int_equal(d.action, GW_POLICY_ERROR);
        assert_string_equal(d.condition, "forbidden");
        assert_string_equal(d.text, "the user is not enabled for XMPP federation");
        gw_policy_inbound(&p, GW_OP_SUBSCRIBE, &d);
        assert_int_equal(d.action, GW_POLICY_UNSUBSCRIBED);
        gw_policy_inbound(&p, GW_OP_AVAILABLE, &d);
        assert_int_equal(d.action, GW_POLICY_IGNORE);
        gw_policy_outbound(&p, GW_OP_MESSAGE, &d);
        assert_int_equal(d.action, GW_POLICY_ERROR);
        assert_int_equal(d.sip_code, 403);
        assert_string_equal(d.text, "Not enabled for XMPP federation");
    }
}

static void outbound_invites_and_domain_checks(void **state)
{
    (void)state;
    for (size_t i = 0; i < 3; i++) {
        struct gw_policy_pair p = pair(types[i], false);
        struct gw_policy_decision d;
        gw_policy_outbound(&p, GW_OP_MESSAGE, &d);
        assert_int_equal(d.action, GW_POLICY_ALLOW);
        assert_true(d.invites);
        gw_policy_outbound(&p, GW_OP_SUBSCRIBE, &d);
        assert_true(d.invites);
        gw_policy_outbound(&p, GW_OP_AVAILABLE, &d);
        assert_false(d.invites);
        assert_int_equal(d.status_notes, types[i] == PARTNER_FEDERATED);
    }
    struct gw_policy_pair p = pair(PARTNER_FEDERATED, false);
    struct gw_policy_decision d;
    p.partner_known = false; /* A17 */
    gw_policy_outbound(&p, GW_OP_MESSAGE, &d);
    assert_int_equal(d.sip_code, 404);
    gw_policy_inbound(&p, GW_OP_MESSAGE, &d);
    assert_string_equal(d.condition, "service-unavailable");
    p = pair(PARTNER_FEDERATED, false);
    p.target_served = false; /* A18 outbound, A17 inbound */
    gw_policy_outbound(&p, GW_OP_MESSAGE, &d);
    assert_int_equal(d.sip_code, 403);
    gw_policy_inbound(&p, GW_OP_MESSAGE, &d);
    assert_string_equal(d.condition, "item-not-found");
}

static void pair_is_read_from_the_configuration(void **state)
{
    (void)state;
    struct conf *c = conf_new();
    assert_non_null(c);
    assert_int_equal(conf_strlist_add(&c->hosted, "contoso.example"), 0);
    struct conf_partner p;
    assert_int_equal(conf_partner_init(&p, "fabrikam.example"), 0);
    p.type = PARTNER_FEDERATED;
    assert_int_equal(conf_strlist_add(&p.additional, "fabrikam.test"), 0);
    assert_int_equal(conf_partner_add(c, &p), 0);
    conf_partner_clear(&p);
    c->access.users = calloc(1, sizeof *c->access.users);
    c->access.users[0].subject = strdup("mallory@contoso.example");
    c->access.users[0].access = ACCESS_DENY;
    c->access.n_users = 1;

    struct gw_policy_pair pp;
    gw_policy_pair_from_conf(c, "bob@contoso.example", "fabrikam.test", &pp);
    assert_true(pp.target_served);
    assert_true(pp.partner_known);
    assert_int_equal(pp.partner_type, PARTNER_FEDERATED);
    assert_true(pp.user_has_access);
    gw_policy_pair_from_conf(c, "mallory@contoso.example", "fabrikam.example", &pp);
    assert_false(pp.user_has_access);
    gw_policy_pair_from_conf(c, "bob@other.example", "unknown.example", &pp);
    assert_false(pp.target_served);
    assert_false(pp.partner_known);
    assert_true(gw_policy_status_notes(PARTNER_FEDERATED));
    assert_false(gw_policy_status_notes(PARTNER_PUBLIC_VERIFIED));
    assert_false(gw_policy_status_notes(PARTNER_PUBLIC_UNVERIFIED));
    conf_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(federated_and_verified_need_no_invitation),
        cmocka_unit_test(public_unverified_needs_an_invitation),
        cmocka_unit_test(user_without_access_is_refused_both_ways),
        cmocka_unit_test(outbound_invites_and_domain_checks),
        cmocka_unit_test(pair_is_read_from_the_configuration),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
