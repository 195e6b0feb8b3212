/*
 * test_panel_password.c - yescrypt hashing and verification, the password
 * rules, and the accounts file (round trip, mode, malformed lines).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "panel_accounts.h"
#include "panel_password.h"

static void test_hash_is_yescrypt_and_salted(void **state)
{
    (void)state;
    char *a = panel_password_hash("correct horse battery");
    char *b = panel_password_hash("correct horse battery");
    assert_non_null(a);
    assert_non_null(b);
    assert_memory_equal(a, "$y$", 3);
    assert_string_not_equal(a, b); /* fresh salt each time */
    assert_null(strstr(a, "correct"));
    free(a);
    free(b);
}

static void test_right_password_verifies(void **state)
{
    (void)state;
    char *h = panel_password_hash("correct horse battery");
    assert_true(panel_password_verify("correct horse battery", h));
    free(h);
}

static void test_wrong_password_fails(void **state)
{
    (void)state;
    char *h = panel_password_hash("correct horse battery");
    assert_false(panel_password_verify("correct horse batterY", h));
    assert_false(panel_password_verify("", h));
    assert_false(panel_password_verify("correct horse battery ", h));
    assert_false(panel_password_verify(NULL, h));
    free(h);
}

static void test_non_yescrypt_hashes_match_nothing(void **state)
{
    (void)state;
    assert_false(panel_password_verify("x", ""));
    assert_false(panel_password_verify("x", "*"));
    assert_false(panel_password_verify("x", NULL));
    /* DES crypt of "x" with salt "ab": refused, only $y$ is accepted */
    assert_false(panel_password_verify("x", "abQ9KY.KfrYrc"));
    assert_false(panel_password_verify_dummy("anything"));
}

static void test_password_rules(void **state)
{
    (void)state;
    char big[PANEL_PASSWORD_MAX + 2];
    assert_non_null(panel_password_check("short"));
    assert_null(panel_password_check("long enough"));
    assert_non_null(panel_password_check("has\na newline"));
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_non_null(panel_password_check(big));
    assert_non_null(panel_password_check("bad \xff utf8 text"));
}

static void test_accounts_round_trip_with_mode_0600(void **state)
{
    (void)state;
    char dir[] = "/tmp/xfed-panel-test-XXXXXX";
    assert_non_null(mkdtemp(dir));
    struct panel_accounts a = {0}, b = {0};
    char err[256], path[512];
    char *h = panel_password_hash("s3cret-pass");
    assert_int_equal(panel_accounts_set(&a, "alice", ROLE_ADMIN, h), 0);
    assert_int_equal(panel_accounts_set(&a, "bob.v", ROLE_VIEWER, h), 0);
    assert_int_equal(panel_accounts_save(dir, &a), 0);
    snprintf(path, sizeof(path), "%s/%s", dir, PANEL_USERS_FILE);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(panel_accounts_load(dir, &b, err, sizeof(err)), 0);
    assert_int_equal(b.n, 2);
    assert_int_equal(panel_accounts_find(&b, "bob.v")->role, ROLE_VIEWER);
    assert_true(panel_password_verify("s3cret-pass", panel_accounts_find(&b, "alice")->hash));
    assert_true(panel_accounts_remove(&b, "alice"));
    assert_false(panel_accounts_remove(&b, "alice"));
    assert_null(panel_accounts_find(&b, "alice"));

    /* group-readable files are refused */
    chmod(path, 0640);
    assert_int_equal(panel_accounts_load(dir, &b, err, sizeof(err)), -1);
    /* malformed lines are named by number */
    FILE *f = fopen(path, "w");
    fprintf(f, "# comment\n\nalice:admin:%s\nbob:root:%s\n", h, h);
    fclose(f);
    chmod(path, 0600);
    assert_int_equal(panel_accounts_load(dir, &b, err, sizeof(err)), -1);
    assert_non_null(strstr(err, ":4:"));
    unlink(path);
    /* a missing file is an empty list */
    assert_int_equal(panel_accounts_load(dir, &b, err, sizeof(err)), 0);
    assert_int_equal(b.n, 0);
    rmdir(dir);
    panel_accounts_clear(&a);
    panel_accounts_clear(&b);
    free(h);
}

static void test_account_names_and_roles(void **state)
{
    (void)state;
    enum panel_role r;
    assert_true(panel_account_name_ok("alice"));
    assert_true(panel_account_name_ok("ops.team-1@corp"));
    assert_false(panel_account_name_ok(""));
    assert_false(panel_account_name_ok(".alice"));
    assert_false(panel_account_name_ok("al:ice"));
    assert_false(panel_account_name_ok("al ice"));
    assert_int_equal(panel_role_parse("admin", &r), 0);
    assert_int_equal(r, ROLE_ADMIN);
    assert_int_equal(panel_role_parse("viewer", &r), 0);
    assert_int_equal(r, ROLE_VIEWER);
    assert_int_equal(panel_role_parse("root", &r), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_is_yescrypt_and_salted),
        cmocka_unit_test(test_right_password_verifies),
        cmocka_unit_test(test_wrong_password_fails),
        cmocka_unit_test(test_non_yescrypt_hashes_match_nothing),
        cmocka_unit_test(test_password_rules),
        cmocka_unit_test(test_accounts_round_trip_with_mode_0600),
        cmocka_unit_test(test_account_names_and_roles),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
