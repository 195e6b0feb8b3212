/*
 * test_s2s_sm.c - XEP-0198 bookkeeping (edge/s2s_sm.h): 'h' parsing, the
 * unacknowledged queue, acknowledgements in order, repeated and too high
 * 'h', and the wrap-around of the counters at 2^32 (XEP-0198 section 4).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "s2s_sm.h"
#include "s2s_stream.h"
#include "s2s_stream_int.h"
#include "stanza.h"

#define N 8

static struct s2s_queued items[N];

static size_t drain(struct s2s_queue *done, size_t first_expected)
{
    size_t n = 0;
    struct s2s_queued *q;
    while ((q = TAILQ_FIRST(done)) != NULL) {
        TAILQ_REMOVE(done, q, link);
        /* oldest first, nothing skipped */
        assert_ptr_equal(q, &items[first_expected + n]);
        n++;
    }
    return n;
}

static void test_parse_h(void **state)
{
    (void)state;
    uint32_t h = 7;
    assert_int_equal(s2s_sm_parse_h("0", &h), 0);
    assert_int_equal(h, 0);
    assert_int_equal(s2s_sm_parse_h("4294967295", &h), 0);
    assert_int_equal(h, UINT32_MAX);
    assert_int_equal(s2s_sm_parse_h("0000000012", &h), 0);
    assert_int_equal(h, 12);
    assert_int_equal(s2s_sm_parse_h("4294967296", &h), -1);
    assert_int_equal(s2s_sm_parse_h("99999999999", &h), -1);
    assert_int_equal(s2s_sm_parse_h("-1", &h), -1);
    assert_int_equal(s2s_sm_parse_h("+1", &h), -1);
    assert_int_equal(s2s_sm_parse_h("1 ", &h), -1);
    assert_int_equal(s2s_sm_parse_h("0x10", &h), -1);
    assert_int_equal(s2s_sm_parse_h("", &h), -1);
    assert_int_equal(s2s_sm_parse_h(NULL, &h), -1);
    assert_int_equal(h, 12); /* unchanged by refusals */
}

static void test_ack_in_order(void **state)
{
    (void)state;
    struct s2s_sm sm;
    struct s2s_queue done = TAILQ_HEAD_INITIALIZER(done);
    s2s_sm_init(&sm);
    for (size_t i = 0; i < 5; i++)
        s2s_sm_sent(&sm, &items[i]);
    assert_int_equal(sm.n_unacked, 5);
    assert_int_equal(s2s_sm_outstanding(&sm), 5);
    assert_int_equal(s2s_sm_ack(&sm, 2, &done), 2);
    assert_int_equal(drain(&done, 0), 2);
    assert_int_equal(sm.n_unacked, 3);
    /* a repeated h acknowledges nothing more */
    assert_int_equal(s2s_sm_ack(&sm, 2, &done), 0);
    assert_int_equal(drain(&done, 2), 0);
    assert_int_equal(s2s_sm_ack(&sm, 5, &done), 3);
    assert_int_equal(drain(&done, 2), 3);
    assert_int_equal(sm.n_unacked, 0);
    assert_int_equal(s2s_sm_outstanding(&sm), 0);
}

static void test_ack_too_high_changes_nothing(void **state)
{
    (void)state;
    struct s2s_sm sm;
    struct s2s_queue done = TAILQ_HEAD_INITIALIZER(done);
    s2s_sm_init(&sm);
    s2s_sm_sent(&sm, &items[0]);
    s2s_sm_sent(&sm, &items[1]);
    assert_int_equal(s2s_sm_ack(&sm, 3, &done), -1);
    assert_true(TAILQ_EMPTY(&done));
    assert_int_equal(sm.n_unacked, 2);
    assert_int_equal(sm.acked, 0);
    /* an h "behind" the last one is, modulo 2^32, far ahead: too high */
    assert_int_equal(s2s_sm_ack(&sm, 1, &done), 1);
    assert_int_equal(drain(&done, 0), 1);
    assert_int_equal(s2s_sm_ack(&sm, 0, &done), -1);
    assert_int_equal(sm.n_unacked, 1);
}

static void test_wraps_at_2_32(void **state)
{
    (void)state;
    struct s2s_sm sm;
    struct s2s_queue done = TAILQ_HEAD_INITIALIZER(done);
    s2s_sm_init(&sm);
    /* 2^32 - 3 stanzas were sent and acknowledged already */
    sm.sent = sm.acked = UINT32_MAX - 2;
    for (size_t i = 0; i < 6; i++)
        s2s_sm_sent(&sm, &items[i]);
    assert_int_equal(sm.sent, 3); /* wrapped */
    assert_int_equal(s2s_sm_outstanding(&sm), 6);
    assert_int_equal(s2s_sm_ack(&sm, UINT32_MAX, &done), 2);
    assert_int_equal(drain(&done, 0), 2);
    assert_int_equal(s2s_sm_ack(&sm, 1, &done), 2); /* 2^32 - 1 -> 0 -> 1 */
    assert_int_equal(drain(&done, 2), 2);
    assert_int_equal(s2s_sm_ack(&sm, 4, &done), -1);
    assert_int_equal(s2s_sm_ack(&sm, 3, &done), 2);
    assert_int_equal(drain(&done, 4), 2);
    assert_int_equal(sm.n_unacked, 0);

    /* the handled counter wraps the same way */
    sm.h_in = UINT32_MAX;
    assert_int_equal(s2s_sm_handled(&sm), 0);
    assert_int_equal(s2s_sm_handled(&sm), 1);
}

static void test_untracked_sends_count_only(void **state)
{
    (void)state;
    struct s2s_sm sm;
    struct s2s_queue done = TAILQ_HEAD_INITIALIZER(done);
    s2s_sm_init(&sm);
    /* two stanzas counted but not kept (inbound bidi), then one kept */
    s2s_sm_sent(&sm, NULL);
    s2s_sm_sent(&sm, NULL);
    s2s_sm_sent(&sm, &items[0]);
    assert_int_equal(sm.n_unacked, 1);
    assert_int_equal(s2s_sm_ack(&sm, 2, &done), 2);
    assert_true(TAILQ_EMPTY(&done)); /* the kept one is the newest */
    assert_int_equal(s2s_sm_ack(&sm, 3, &done), 1);
    assert_int_equal(drain(&done, 0), 1);
}

static void test_sm_elements_classified(void **state)
{
    (void)state;
    const char *names[] = {"enable", "enabled", "failed", "r", "a", "resume"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        struct stanza *el = stanza_new(S2S_NS_SM, names[i]);
        assert_non_null(el);
        assert_int_equal(s2s_elem_classify(el), S2S_EL_SM);
        stanza_free(el);
    }
    /* accepted once authenticated in both directions; inbound also while
     * negotiating, so that an early <enable/> gets <failed/> */
    assert_true(s2s_state_accepts(S2S_IN, S2S_ST_ESTABLISHED, S2S_EL_SM));
    assert_true(s2s_state_accepts(S2S_OUT, S2S_ST_ESTABLISHED, S2S_EL_SM));
    assert_true(s2s_state_accepts(S2S_IN, S2S_ST_NEGOTIATING, S2S_EL_SM));
    assert_false(s2s_state_accepts(S2S_OUT, S2S_ST_FEATURES, S2S_EL_SM));
    assert_false(s2s_state_accepts(S2S_OUT, S2S_ST_DIALBACK, S2S_EL_SM));
    assert_string_equal(s2s_elem_name(S2S_EL_SM), "sm");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_h),
        cmocka_unit_test(test_ack_in_order),
        cmocka_unit_test(test_ack_too_high_changes_nothing),
        cmocka_unit_test(test_wraps_at_2_32),
        cmocka_unit_test(test_untracked_sends_count_only),
        cmocka_unit_test(test_sm_elements_classified),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
