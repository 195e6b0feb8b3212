/*
 * test_s2s_stream.c - the stream state machine's accept table and element
 * classification (edge/s2s_stream.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "jid.h"
#include "s2s_stream.h"
#include "s2s_stream_int.h"
#include "stanza.h"

static enum s2s_elem classify(const char *ns, const char *name)
{
    struct stanza *el = stanza_new(ns, name);
    assert_non_null(el);
    enum s2s_elem k = s2s_elem_classify(el);
    stanza_free(el);
    return k;
}

static void test_classify_first_level_elements(void **state)
{
    (void)state;
    assert_int_equal(classify(STANZA_NS_SERVER, "message"), S2S_EL_STANZA);
    assert_int_equal(classify(STANZA_NS_SERVER, "presence"), S2S_EL_STANZA);
    assert_int_equal(classify(STANZA_NS_SERVER, "iq"), S2S_EL_STANZA);
    assert_int_equal(classify(STANZA_NS_SERVER, "body"), S2S_EL_OTHER);
    /* a client-namespace stanza on an s2s stream is not a stanza here */
    assert_int_equal(classify(STANZA_NS_CLIENT, "message"), S2S_EL_OTHER);
    assert_int_equal(classify(STANZA_NS_STREAMS, "features"), S2S_EL_FEATURES);
    assert_int_equal(classify(STANZA_NS_STREAMS, "error"), S2S_EL_STREAM_ERROR);
    assert_int_equal(classify(STANZA_NS_TLS, "starttls"), S2S_EL_STARTTLS);
    assert_int_equal(classify(STANZA_NS_TLS, "proceed"), S2S_EL_PROCEED);
    assert_int_equal(classify(STANZA_NS_TLS, "failure"), S2S_EL_TLS_FAILURE);
    assert_int_equal(classify(STANZA_NS_SASL, "auth"), S2S_EL_SASL_AUTH);
    assert_int_equal(classify(STANZA_NS_SASL, "success"), S2S_EL_SASL_SUCCESS);
    assert_int_equal(classify(STANZA_NS_SASL, "failure"), S2S_EL_SASL_FAILURE);
    assert_int_equal(classify(STANZA_NS_SASL, "abort"), S2S_EL_SASL_OTHER);
    assert_int_equal(classify(STANZA_NS_DIALBACK, "result"), S2S_EL_DB_RESULT);
    assert_int_equal(classify(STANZA_NS_DIALBACK, "verify"), S2S_EL_DB_VERIFY);
    assert_int_equal(classify(STANZA_NS_DIALBACK, "other"), S2S_EL_OTHER);
    assert_int_equal(classify("urn:xmpp:bidi", "bidi"), S2S_EL_BIDI);
    assert_int_equal(classify("urn:example:evil", "x"), S2S_EL_OTHER);
}

static void test_stanzas_only_after_authentication(void **state)
{
    (void)state;
    for (int st = 0; st < S2S_ST_COUNT; st++) {
        bool in = s2s_state_accepts(S2S_IN, (enum s2s_state)st, S2S_EL_STANZA);
        assert_int_equal(in, st == S2S_ST_ESTABLISHED);
        /* outbound streams never take stanzas (no bidi requested) */
        assert_false(s2s_state_accepts(S2S_OUT, (enum s2s_state)st, S2S_EL_STANZA));
    }
    /* RFC 6120 section 4.3.4: a stanza before authentication */
    assert_int_equal(s2s_refusal(S2S_IN, S2S_ST_NEGOTIATING, S2S_EL_STANZA),
                     S2S_ERR_NOT_AUTHORIZED);
    assert_int_equal(s2s_refusal(S2S_OUT, S2S_ST_ESTABLISHED, S2S_EL_STANZA),
                     S2S_ERR_UNSUPPORTED_STANZA_TYPE);
}

static void test_negotiation_elements_per_state(void **state)
{
    (void)state;
    /* inbound: STARTTLS, SASL, dialback and bidi only while negotiating */
    assert_true(s2s_state_accepts(S2S_IN, S2S_ST_NEGOTIATING, S2S_EL_STARTTLS));
    assert_false(s2s_state_accepts(S2S_IN, S2S_ST_ESTABLISHED, S2S_EL_STARTTLS));
    assert_true(s2s_state_accepts(S2S_IN, S2S_ST_NEGOTIATING, S2S_EL_SASL_AUTH));
    assert_false(s2s_state_accepts(S2S_IN, S2S_ST_ESTABLISHED, S2S_EL_SASL_AUTH));
    assert_true(s2s_state_accepts(S2S_IN, S2S_ST_NEGOTIATING, S2S_EL_BIDI));
    /* several domain pairs on one stream (XEP-0220 section 2.6) */
    assert_true(s2s_state_accepts(S2S_IN, S2S_ST_ESTABLISHED, S2S_EL_DB_RESULT));
    assert_true(s2s_state_accepts(S2S_IN, S2S_ST_ESTABLISHED, S2S_EL_DB_VERIFY));
    /* an inbound peer never sends what only a receiving server sends */
    for (int st = 0; st < S2S_ST_COUNT; st++) {
        assert_false(s2s_state_accepts(S2S_IN, (enum s2s_state)st, S2S_EL_FEATURES));
        assert_false(s2s_state_accepts(S2S_IN, (enum s2s_state)st, S2S_EL_PROCEED));
        assert_false(s2s_state_accepts(S2S_IN, (enum s2s_state)st, S2S_EL_SASL_SUCCESS));
    }
    /* outbound: each answer only in the state that asked for it */
    assert_true(s2s_state_accepts(S2S_OUT, S2S_ST_FEATURES, S2S_EL_FEATURES));
    assert_false(s2s_state_accepts(S2S_OUT, S2S_ST_STARTTLS, S2S_EL_FEATURES));
    assert_true(s2s_state_accepts(S2S_OUT, S2S_ST_STARTTLS, S2S_EL_PROCEED));
    assert_false(s2s_state_accepts(S2S_OUT, S2S_ST_FEATURES, S2S_EL_PROCEED));
    assert_true(s2s_state_accepts(S2S_OUT, S2S_ST_SASL, S2S_EL_SASL_SUCCESS));
    assert_false(s2s_state_accepts(S2S_OUT, S2S_ST_DIALBACK, S2S_EL_SASL_SUCCESS));
    assert_true(s2s_state_accepts(S2S_OUT, S2S_ST_DIALBACK, S2S_EL_DB_RESULT));
    assert_false(s2s_state_accepts(S2S_OUT, S2S_ST_FEATURES, S2S_EL_DB_RESULT));
}

static void test_states_without_xml_accept_nothing(void **state)
{
    (void)state;
    enum s2s_state quiet[] = {S2S_ST_CONNECTING, S2S_ST_TLS, S2S_ST_HEADER, S2S_ST_CLOSING};
    for (size_t i = 0; i < sizeof(quiet) / sizeof(quiet[0]); i++)
        for (int e = 0; e < S2S_EL_COUNT; e++) {
            assert_false(s2s_state_accepts(S2S_IN, quiet[i], (enum s2s_elem)e));
            assert_false(s2s_state_accepts(S2S_OUT, quiet[i], (enum s2s_elem)e));
        }
}

static void test_unknown_elements_are_unsupported(void **state)
{
    (void)state;
    for (int st = 0; st < S2S_ST_COUNT; st++) {
        assert_false(s2s_state_accepts(S2S_IN, (enum s2s_state)st, S2S_EL_OTHER));
        assert_int_equal(s2s_refusal(S2S_IN, (enum s2s_state)st, S2S_EL_OTHER),
                         S2S_ERR_UNSUPPORTED_STANZA_TYPE);
    }
    /* out-of-range input never reads outside the table */
    assert_false(s2s_state_accepts(S2S_IN, S2S_ST_COUNT, S2S_EL_STANZA));
    assert_false(s2s_state_accepts(S2S_IN, S2S_ST_ESTABLISHED, S2S_EL_COUNT));
    assert_false(s2s_state_accepts((enum s2s_dir)7, S2S_ST_ESTABLISHED, S2S_EL_STANZA));
}

static void expect_domain(const char *jid, const char *want)
{
    char out[1100];
    int rc = s2s_jid_domain(jid, out, sizeof(out));
    if (want == NULL) {
        assert_int_equal(rc, -1);
    } else {
        assert_int_equal(rc, 0);
        assert_string_equal(out, want);
    }
}

static void test_jid_domain_fast_and_full_paths_agree(void **state)
{
    (void)state;
    expect_domain("alice@fabrikam.example/res", "fabrikam.example");
    expect_domain("fabrikam.example", "fabrikam.example");
    expect_domain("a.b_c+d@sub.fabrikam.example", "sub.fabrikam.example");
    expect_domain("Alice@Fabrikam.EXAMPLE", "fabrikam.example"); /* case folded */
    expect_domain("bob@xn--bcher-kva.example", "b\xc3\xbc"
                                               "cher.example"); /* A-label to U-label */
    expect_domain("fabrikam.example./r", "fabrikam.example");   /* trailing dot */
    expect_domain("", NULL);
    expect_domain("@fabrikam.example", NULL);
    expect_domain("alice@", NULL);
    expect_domain("alice@fabrikam.example/", NULL);
    expect_domain("alice@-bad.example", NULL);
    expect_domain("alice@bad-.example", NULL);
    expect_domain("alice@a..example", NULL);
    expect_domain("alice@exa mple.com", NULL);

    /* Whatever the fast path takes must come out as jid.h's full parse. */
    static const char *const v[] = {
        "a@b",
        "a@b.c",
        "a.b@c-d.e/r",
        "x@xn--a.example",
        "x@axn--b.example",
        "x@-a",
        "x@a-",
        "x@a.-b",
        "x@a.b-",
        "x@a..b",
        "x@.a",
        "x@a.",
        "x@a./r",
        "@a",
        "a@",
        "a@b/",
        "a@b/r/s",
        "A@b",
        "a@B",
        "a_b+c.d-e@f",
        "a!@b",
        "a@b_c",
        "a@b@c",
        "a/b@c",
        "b/@c",
        "0@1.2",
        "a@"
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" /* 63 */,
        "a@"
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" /* 64 */,
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        struct jid *j = jid_new(v[i], NULL);
        expect_domain(v[i], j ? jid_domain(j) : NULL);
        jid_free(j);
    }
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(s2s_state_name(S2S_ST_ESTABLISHED), "established");
    assert_string_equal(s2s_state_name(S2S_ST_COUNT), "unknown");
    assert_string_equal(s2s_elem_name(S2S_EL_DB_RESULT), "db:result");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classify_first_level_elements),
        cmocka_unit_test(test_stanzas_only_after_authentication),
        cmocka_unit_test(test_negotiation_elements_per_state),
        cmocka_unit_test(test_states_without_xml_accept_nothing),
        cmocka_unit_test(test_unknown_elements_are_unsupported),
        cmocka_unit_test(test_jid_domain_fast_and_full_paths_agree),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
