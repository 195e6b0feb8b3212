/*
 * test_panel_session.c - sessions: creation, lookup, idle and absolute
 * expiry, sign-out, eviction when full.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "panel_session.h"

static void test_create_gives_random_256_bit_id_and_token(void **state)
{
    (void)state;
    struct panel_sessions *ps = panel_sessions_new(900, 28800, 8);
    struct panel_session *a = panel_session_create(ps, "alice", ROLE_ADMIN, 1, 100);
    struct panel_session *b = panel_session_create(ps, "alice", ROLE_ADMIN, 1, 100);
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(strlen(a->id), 64);
    assert_int_equal(strlen(a->csrf), 64);
    assert_int_equal(strspn(a->id, "0123456789abcdef"), 64);
    assert_string_not_equal(a->id, b->id);
    assert_string_not_equal(a->id, a->csrf);
    assert_string_not_equal(a->csrf, b->csrf);
    assert_string_equal(a->user, "alice");
    assert_int_equal(a->role, ROLE_ADMIN);
    panel_sessions_free(ps);
}

static void test_find_returns_session_and_refreshes_idle_time(void **state)
{
    (void)state;
    struct panel_sessions *ps = panel_sessions_new(100, 10000, 8);
    struct panel_session *s = panel_session_create(ps, "bob", ROLE_VIEWER, 1, 1000);
    char id[65];
    strcpy(id, s->id);
    assert_ptr_equal(panel_session_find(ps, id, 1090), s);
    /* used at 1090: still alive at 1180 although 180 s after creation */
    assert_ptr_equal(panel_session_find(ps, id, 1180), s);
    panel_sessions_free(ps);
}

static void test_idle_session_expires(void **state)
{
    (void)state;
    struct panel_sessions *ps = panel_sessions_new(100, 10000, 8);
    struct panel_session *s = panel_session_create(ps, "bob", ROLE_VIEWER, 1, 1000);
    char id[65];
    strcpy(id, s->id);
    assert_null(panel_session_find(ps, id, 1100));
    /* and it is gone for good */
    assert_null(panel_session_find(ps, id, 1001));
    assert_int_equal(panel_sessions_count(ps), 0);
    panel_sessions_free(ps);
}

static void test_absolute_expiry_despite_activity(void **state)
{
    (void)state;
    struct panel_sessions *ps = panel_sessions_new(100, 300, 8);
    struct panel_session *s = panel_session_create(ps, "bob", ROLE_VIEWER, 1, 1000);
    char id[65];
    strcpy(id, s->id);
    for (uint64_t t = 1050; t < 1300; t += 50)
        assert_non_null(panel_session_find(ps, id, t));
    assert_null(panel_session_find(ps, id, 1300));
    panel_sessions_free(ps);
}

static void test_sign_out_invalidates(void **state)
{
    (void)state;
    struct panel_sessions *ps = panel_sessions_new(900, 28800, 8);
    struct panel_session *s = panel_session_create(ps, "alice", ROLE_ADMIN, 1, 10);
    char id[65];
    strcpy(id, s->id);
    panel_session_destroy(ps, s);
    assert_null(panel_session_find(ps, id, 11));
    panel_sessions_free(ps);
}

static void test_unknown_and_malformed_ids_are_refused(void **state)
{
    (void)state;
    struct panel_sessions *ps = panel_sessions_new(900, 28800, 8);
    struct panel_session *s = panel_session_create(ps, "alice", ROLE_ADMIN, 1, 10);
    char id[65];
    strcpy(id, s->id);
    id[63] = id[63] == 'a' ? 'b' : 'a';
    assert_null(panel_session_find(ps, id, 11));
    assert_null(panel_session_find(ps, "", 11));
    assert_null(panel_session_find(ps, NULL, 11));
    id[10] = '\0';
    assert_null(panel_session_find(ps, id, 11));
    panel_sessions_free(ps);
}

static void test_full_store_evicts_least_recently_used(void **state)
{
    (void)state;
    struct panel_sessions *ps = panel_sessions_new(900, 28800, 2);
    struct panel_session *a = panel_session_create(ps, "a", ROLE_ADMIN, 1, 10);
    struct panel_session *b = panel_session_create(ps, "b", ROLE_ADMIN, 1, 11);
    char ida[65], idb[65];
    strcpy(ida, a->id);
    strcpy(idb, b->id);
    assert_non_null(panel_session_find(ps, ida, 12)); /* a is now the most recent */
    assert_non_null(panel_session_create(ps, "c", ROLE_ADMIN, 1, 13));
    assert_non_null(panel_session_find(ps, ida, 14));
    assert_null(panel_session_find(ps, idb, 14));
    assert_int_equal(panel_sessions_count(ps), 2);
    panel_sessions_free(ps);
}

static void test_hash_fingerprint_changes_with_the_hash(void **state)
{
    (void)state;
    assert_int_equal(panel_hash_fp("$y$j9T$a$b"), panel_hash_fp("$y$j9T$a$b"));
    assert_int_not_equal(panel_hash_fp("$y$j9T$a$b"), panel_hash_fp("$y$j9T$a$c"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_gives_random_256_bit_id_and_token),
        cmocka_unit_test(test_find_returns_session_and_refreshes_idle_time),
        cmocka_unit_test(test_idle_session_expires),
        cmocka_unit_test(test_absolute_expiry_despite_activity),
        cmocka_unit_test(test_sign_out_invalidates),
        cmocka_unit_test(test_unknown_and_malformed_ids_are_refused),
        cmocka_unit_test(test_full_store_evicts_least_recently_used),
        cmocka_unit_test(test_hash_fingerprint_changes_with_the_hash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
