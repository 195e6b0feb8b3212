/*
 * test_privdrop.c - privdrop_to() in forked children, so that this process
 * keeps its own identity: as root the child really becomes the user (real,
 * effective and saved ids, supplementary groups) and cannot become root
 * again; an unknown user fails; an empty user keeps root. As another user
 * the call changes nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <grp.h>
#include <pwd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "privdrop.h"

/* Child exit codes: 0 as expected, anything else names the failed check. */
static int run_child(const char *user, int (*check)(const char *user))
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(check(user));
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

static int check_becomes_user(const char *user)
{
    struct passwd *pw = getpwnam(user);
    if (pw == NULL)
        return 10;
    uid_t before = getuid();
    if (privdrop_to(user, "test.conf") != 0)
        return 11;
    if (before != 0)
        return getuid() == before ? 0 : 12;
    uid_t r, e, s;
    gid_t rg, eg, sg;
    if (getresuid(&r, &e, &s) != 0 || r != pw->pw_uid || e != pw->pw_uid || s != pw->pw_uid)
        return 13;
    if (getresgid(&rg, &eg, &sg) != 0 || rg != pw->pw_gid || eg != pw->pw_gid || sg != pw->pw_gid)
        return 14;
    gid_t groups[8];
    int n = getgroups(8, groups);
    if (n != 1 || groups[0] != pw->pw_gid)
        return 15;
    if (setuid(0) == 0 || seteuid(0) == 0)
        return 16;
    return 0;
}

static int check_unknown_fails(const char *user)
{
    if (getuid() != 0)
        return privdrop_to(user, "test.conf") == 0 ? 0 : 20;
    return privdrop_to(user, "test.conf") == -1 && getuid() == 0 ? 0 : 21;
}

static int check_empty_keeps(const char *user)
{
    uid_t before = getuid();
    if (privdrop_to(user, "test.conf") != 0)
        return 30;
    return getuid() == before ? 0 : 31;
}

static void becomes_nobody(void **state)
{
    (void)state;
    assert_int_equal(run_child("nobody", check_becomes_user), 0);
}

static void unknown_user_fails(void **state)
{
    (void)state;
    assert_int_equal(run_child("xfed-no-such-user-4711", check_unknown_fails), 0);
}

static void empty_user_keeps_identity(void **state)
{
    (void)state;
    assert_int_equal(run_child("", check_empty_keeps), 0);
    assert_int_equal(run_child(NULL, check_empty_keeps), 0);
}

int main(void)
{
    log_init("test_privdrop", LOG_LEVEL_INFO, false);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(becomes_nobody),
        cmocka_unit_test(unknown_user_fails),
        cmocka_unit_test(empty_user_keeps_identity),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
