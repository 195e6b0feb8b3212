/*
 * test_s2s_policy.c - every row of the negotiation matrix against what the
 * edge offers and accepts (edge/s2s_policy.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "s2s_policy.h"

#define R NEG_REQUIRED
#define O NEG_OPTIONAL
#define N NEG_NOT_SUPPORTED

/* One row per saved matrix combination: the policy and the expected
 * behaviour in each transport state. */
struct row {
    int row;
    struct s2s_policy p;
    /* inbound, plain TCP, header accepted */
    bool plain_starttls, plain_required, plain_dialback;
    /* inbound over TLS, certificate verifies / does not */
    bool tls_sasl_ok, tls_dialback;
    enum s2s_stream_error tls_badcert_refuse;
    /* outbound method: over TLS with a good cert offering EXTERNAL, over
     * TLS with a bad cert, over plain TCP */
    enum s2s_auth out_tls_good, out_tls_bad, out_plain;
    /* outbound: send <starttls/> when not advertised */
    bool out_starttls_unadvertised;
};

static const struct row rows[] = {
    {1,
     {R, R, true},
     true,
     true,
     false,
     true,
     false,
     S2S_ERR_NOT_AUTHORIZED,
     S2S_AUTH_SASL_EXTERNAL,
     S2S_AUTH_NONE,
     S2S_AUTH_NONE,
     true},
    {2,
     {R, R, false},
     true,
     true,
     false,
     true,
     false,
     S2S_ERR_NOT_AUTHORIZED,
     S2S_AUTH_SASL_EXTERNAL,
     S2S_AUTH_NONE,
     S2S_AUTH_NONE,
     true},
    {3,
     {O, R, true},
     true,
     false,
     false,
     true,
     false,
     S2S_ERR_NOT_AUTHORIZED,
     S2S_AUTH_SASL_EXTERNAL,
     S2S_AUTH_NONE,
     S2S_AUTH_NONE,
     false},
    {4,
     {O, R, false},
     true,
     false,
     false,
     true,
     false,
     S2S_ERR_NOT_AUTHORIZED,
     S2S_AUTH_SASL_EXTERNAL,
     S2S_AUTH_NONE,
     S2S_AUTH_NONE,
     false},
    {7,
     {R, O, true},
     true,
     true,
     false,
     true,
     true,
     S2S_ERR_NONE,
     S2S_AUTH_SASL_EXTERNAL,
     S2S_AUTH_DIALBACK,
     S2S_AUTH_NONE,
     true},
    {8,
     {R, O, false},
     true,
     true,
     false,
     true,
     false,
     S2S_ERR_NOT_AUTHORIZED,
     S2S_AUTH_SASL_EXTERNAL,
     S2S_AUTH_NONE,
     S2S_AUTH_NONE,
     true},
    {9,
     {O, O, true},
     true,
     false,
     true,
     true,
     true,
     S2S_ERR_NONE,
     S2S_AUTH_SASL_EXTERNAL,
     S2S_AUTH_DIALBACK,
     S2S_AUTH_DIALBACK,
     false},
    {10,
     {O, O, false},
     true,
     false,
     false,
     true,
     false,
     S2S_ERR_NOT_AUTHORIZED,
     S2S_AUTH_SASL_EXTERNAL,
     S2S_AUTH_NONE,
     S2S_AUTH_NONE,
     false},
    {13,
     {R, N, true},
     true,
     true,
     false,
     false,
     true,
     S2S_ERR_NONE,
     S2S_AUTH_DIALBACK,
     S2S_AUTH_DIALBACK,
     S2S_AUTH_NONE,
     true},
    {15,
     {O, N, true},
     true,
     false,
     true,
     false,
     true,
     S2S_ERR_NONE,
     S2S_AUTH_DIALBACK,
     S2S_AUTH_DIALBACK,
     S2S_AUTH_DIALBACK,
     false},
    {17,
     {N, N, true},
     false,
     false,
     true,
     false,
     false,
     S2S_ERR_POLICY_VIOLATION,
     S2S_AUTH_NONE,
     S2S_AUTH_NONE,
     S2S_AUTH_DIALBACK,
     false},
};

static void test_row_numbers_follow_the_matrix(void **state)
{
    (void)state;
    int seen[19] = {0};
    for (int s = 0; s < 3; s++)
        for (int t = 0; t < 3; t++)
            for (int d = 0; d < 2; d++) {
                struct s2s_policy p = {(enum conf_negotiation)t, (enum conf_negotiation)s, d == 0};
                int r = s2s_policy_row(&p);
                assert_in_range(r, 1, 18);
                seen[r]++;
            }
    for (int r = 1; r <= 18; r++)
        assert_int_equal(seen[r], 1);
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        assert_int_equal(s2s_policy_row(&rows[i].p), rows[i].row);
}

static void test_inbound_plain_offer_per_row(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const struct row *r = &rows[i];
        struct s2s_offer o = s2s_policy_in_offer(&r->p, false, false, false);
        print_message("row %d\n", r->row);
        assert_int_equal(o.starttls, r->plain_starttls);
        assert_int_equal(o.starttls_required, r->plain_required);
        assert_false(o.sasl_external); /* never without TLS */
        assert_int_equal(o.dialback, r->plain_dialback);
        assert_int_equal(o.refuse, S2S_ERR_NONE);
        assert_true(o.bidi);
        const char *why = NULL;
        enum s2s_stream_error e = s2s_policy_in_accept_dialback(&r->p, false, &why);
        assert_int_equal(e == S2S_ERR_NONE, r->plain_dialback);
        assert_non_null(why);
        if (e != S2S_ERR_NONE) {
            assert_int_equal(e, S2S_ERR_POLICY_VIOLATION);
            assert_true(strlen(why) > 0);
        }
        assert_false(s2s_policy_in_accept_sasl(&r->p, false, true));
        assert_int_equal(s2s_policy_in_accept_starttls(&r->p, false), r->plain_starttls);
    }
}

static void test_inbound_tls_offer_per_row(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const struct row *r = &rows[i];
        print_message("row %d\n", r->row);
        struct s2s_offer good = s2s_policy_in_offer(&r->p, true, true, false);
        struct s2s_offer bad = s2s_policy_in_offer(&r->p, true, false, false);
        assert_false(good.starttls);
        assert_false(bad.starttls);
        assert_false(s2s_policy_in_accept_starttls(&r->p, true));
        if (r->p.tls == NEG_NOT_SUPPORTED) {
            /* direct TLS from a partner whose TLS is NotSupported */
            assert_int_equal(good.refuse, S2S_ERR_POLICY_VIOLATION);
            assert_int_equal(bad.refuse, S2S_ERR_POLICY_VIOLATION);
            assert_int_equal(s2s_policy_transport_check(&r->p, true), S2S_ERR_POLICY_VIOLATION);
            continue;
        }
        assert_int_equal(s2s_policy_transport_check(&r->p, true), S2S_ERR_NONE);
        assert_int_equal(good.sasl_external, r->tls_sasl_ok);
        assert_int_equal(good.dialback, r->tls_dialback);
        assert_int_equal(good.refuse, S2S_ERR_NONE);
        /* EXTERNAL is never offered when the certificate does not verify
         * (RFC 6120 section 13.7.2, XEP-0178). */
        assert_false(bad.sasl_external);
        assert_false(s2s_policy_in_accept_sasl(&r->p, true, false));
        assert_int_equal(s2s_policy_in_accept_sasl(&r->p, true, true), r->tls_sasl_ok);
        assert_int_equal(bad.dialback, r->tls_dialback);
        assert_int_equal(bad.refuse, r->tls_badcert_refuse);
        if (bad.refuse != S2S_ERR_NONE)
            assert_true(strlen(bad.why) > 0);
    }
}

static void test_after_authentication_nothing_more_is_offered(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const struct row *r = &rows[i];
        if (r->p.tls == NEG_NOT_SUPPORTED)
            continue;
        struct s2s_offer o = s2s_policy_in_offer(&r->p, true, true, true);
        assert_false(o.starttls || o.sasl_external || o.dialback || o.bidi);
        assert_int_equal(o.refuse, S2S_ERR_NONE);
    }
}

static void test_outbound_starttls_per_row(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const struct row *r = &rows[i];
        print_message("row %d\n", r->row);
        /* RFC 7590 section 3.1: Required partners get STARTTLS even when
         * the receiving server does not advertise it. */
        assert_int_equal(s2s_policy_out_starttls(&r->p, false, false),
                         r->out_starttls_unadvertised);
        assert_int_equal(s2s_policy_out_starttls(&r->p, false, true),
                         r->p.tls != NEG_NOT_SUPPORTED);
        assert_false(s2s_policy_out_starttls(&r->p, true, true));
    }
}

static void test_outbound_method_per_row(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const struct row *r = &rows[i];
        print_message("row %d\n", r->row);
        assert_int_equal(s2s_policy_out_method(&r->p, true, true, true), r->out_tls_good);
        assert_int_equal(s2s_policy_out_method(&r->p, true, false, true), r->out_tls_bad);
        assert_int_equal(s2s_policy_out_method(&r->p, false, false, false), r->out_plain);
        /* a receiving server that does not list EXTERNAL */
        enum s2s_auth no_ext = s2s_policy_out_method(&r->p, true, true, false);
        assert_true(no_ext != S2S_AUTH_SASL_EXTERNAL);
    }
}

static void test_sasl_required_never_uses_dialback(void **state)
{
    (void)state;
    for (int t = 0; t < 3; t++)
        for (int tls = 0; tls < 2; tls++) {
            struct s2s_policy p = {(enum conf_negotiation)t, NEG_REQUIRED, true};
            assert_false(s2s_policy_dialback_allowed(&p, tls != 0));
        }
}

static void test_dialback_false_is_refused_with_policy_violation(void **state)
{
    (void)state;
    struct s2s_policy p = {NEG_REQUIRED, NEG_OPTIONAL, false};
    const char *why = NULL;
    assert_int_equal(s2s_policy_in_accept_dialback(&p, true, &why), S2S_ERR_POLICY_VIOLATION);
    assert_string_equal(why, "dialback is disabled for this partner");
}

/* XEP-0344 section 2.4: a db:result is answered without a verify round trip
 * only over TLS with a certificate that verifies for the sender, and only
 * in rows that accept dialback over TLS at all. */
static void test_dialback_trusted_cert_per_row(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const struct row *r = &rows[i];
        print_message("row %d\n", r->row);
        assert_int_equal(s2s_policy_dialback_trusted_cert(&r->p, true, true), r->tls_dialback);
        assert_false(s2s_policy_dialback_trusted_cert(&r->p, true, false));
        assert_false(s2s_policy_dialback_trusted_cert(&r->p, false, true));
        assert_false(s2s_policy_dialback_trusted_cert(&r->p, false, false));
    }
    /* Rows 13 and 15 (SASL NotSupported) use it; 1 and 2 (SASL Required)
     * and 17 (no TLS) never. */
    struct s2s_policy row13 = {R, N, true}, row15 = {O, N, true}, row1 = {R, R, true},
                      row17 = {N, N, true}, row8 = {R, O, false};
    assert_true(s2s_policy_dialback_trusted_cert(&row13, true, true));
    assert_true(s2s_policy_dialback_trusted_cert(&row15, true, true));
    assert_false(s2s_policy_dialback_trusted_cert(&row1, true, true));
    assert_false(s2s_policy_dialback_trusted_cert(&row17, true, true));
    assert_false(s2s_policy_dialback_trusted_cert(&row8, true, true));
}

static void test_stream_error_names(void **state)
{
    (void)state;
    assert_string_equal(s2s_stream_error_name(S2S_ERR_RESTRICTED_XML), "restricted-xml");
    assert_string_equal(s2s_stream_error_name(S2S_ERR_INVALID_FROM), "invalid-from");
    assert_string_equal(s2s_stream_error_name(S2S_ERR_HOST_UNKNOWN), "host-unknown");
    assert_string_equal(s2s_stream_error_name((enum s2s_stream_error)999), "undefined-condition");
}

static void test_every_row_has_a_description(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        assert_null(strstr(s2s_policy_describe(&rows[i].p), "rejected"));
    struct s2s_policy bad = {NEG_NOT_SUPPORTED, NEG_REQUIRED, true};
    assert_non_null(strstr(s2s_policy_describe(&bad), "rejected"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_row_numbers_follow_the_matrix),
        cmocka_unit_test(test_inbound_plain_offer_per_row),
        cmocka_unit_test(test_inbound_tls_offer_per_row),
        cmocka_unit_test(test_after_authentication_nothing_more_is_offered),
        cmocka_unit_test(test_outbound_starttls_per_row),
        cmocka_unit_test(test_outbound_method_per_row),
        cmocka_unit_test(test_sasl_required_never_uses_dialback),
        cmocka_unit_test(test_dialback_false_is_refused_with_policy_violation),
        cmocka_unit_test(test_dialback_trusted_cert_per_row),
        cmocka_unit_test(test_stream_error_names),
        cmocka_unit_test(test_every_row_has_a_description),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
