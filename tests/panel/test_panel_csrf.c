/*
 * test_panel_csrf.c - the CSRF rule: missing, wrong and right tokens, header
 * or form field, and which methods need one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "panel_csrf.h"
#include "panel_secret.h"

static struct panel_sessions *ps;
static struct panel_session *s;

static int setup(void **state)
{
    (void)state;
    ps = panel_sessions_new(900, 28800, 4);
    s = panel_session_create(ps, "alice", ROLE_ADMIN, 1, 1);
    return s != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    panel_sessions_free(ps);
    return 0;
}

static void test_missing_token_is_refused(void **state)
{
    (void)state;
    assert_false(panel_csrf_ok(s, NULL, NULL));
    assert_false(panel_csrf_ok(s, "", NULL));
    assert_false(panel_csrf_ok(s, NULL, ""));
}

static void test_wrong_token_is_refused(void **state)
{
    (void)state;
    char wrong[65];
    strcpy(wrong, s->csrf);
    wrong[0] = wrong[0] == '0' ? '1' : '0';
    assert_false(panel_csrf_ok(s, wrong, NULL));
    assert_false(panel_csrf_ok(s, NULL, wrong));
    /* another session's token is wrong too */
    struct panel_session *other = panel_session_create(ps, "bob", ROLE_ADMIN, 1, 1);
    assert_false(panel_csrf_ok(s, other->csrf, NULL));
    /* the session id is not the token */
    assert_false(panel_csrf_ok(s, s->id, NULL));
    /* a prefix is not the token */
    char prefix[65];
    strcpy(prefix, s->csrf);
    prefix[32] = '\0';
    assert_false(panel_csrf_ok(s, prefix, NULL));
}

static void test_right_token_in_header_or_form_is_accepted(void **state)
{
    (void)state;
    assert_true(panel_csrf_ok(s, s->csrf, NULL));
    assert_true(panel_csrf_ok(s, NULL, s->csrf));
}

static void test_header_wins_over_form_field(void **state)
{
    (void)state;
    char wrong[65];
    strcpy(wrong, s->csrf);
    wrong[5] = wrong[5] == 'f' ? 'e' : 'f';
    assert_false(panel_csrf_ok(s, wrong, s->csrf));
}

static void test_no_session_means_no_valid_token(void **state)
{
    (void)state;
    assert_false(panel_csrf_ok(NULL, s->csrf, s->csrf));
}

static void test_only_unsafe_methods_need_a_token(void **state)
{
    (void)state;
    assert_false(panel_csrf_needed("GET"));
    assert_false(panel_csrf_needed("HEAD"));
    assert_true(panel_csrf_needed("POST"));
    assert_true(panel_csrf_needed("PUT"));
    assert_true(panel_csrf_needed("DELETE"));
    assert_true(panel_csrf_needed("PATCH"));
}

static void test_constant_time_compare_is_exact(void **state)
{
    (void)state;
    assert_true(panel_ct_streq("abc", "abc"));
    assert_false(panel_ct_streq("abc", "abd"));
    assert_false(panel_ct_streq("abc", "ab"));
    assert_false(panel_ct_streq("", "a"));
    assert_true(panel_ct_streq("", ""));
    assert_false(panel_ct_streq(NULL, "a"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_missing_token_is_refused),
        cmocka_unit_test(test_wrong_token_is_refused),
        cmocka_unit_test(test_right_token_in_header_or_form_is_accepted),
        cmocka_unit_test(test_header_wins_over_form_field),
        cmocka_unit_test(test_no_session_means_no_valid_token),
        cmocka_unit_test(test_only_unsafe_methods_need_a_token),
        cmocka_unit_test(test_constant_time_compare_is_exact),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
