/*
 * test_ipc_keys.c - CURVE key files: layout, modes, loading checks and the
 * allow-list, in a temporary configuration directory.
 */
#include <errno.h>
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

#include "ipc_keys.h"
#include "log.h"

static char dir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/xfed-keys.XXXXXX");
    assert_non_null(mkdtemp(dir));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

static void write_file(const char *rel, const char *text, mode_t mode)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    chmod(path, mode);
}

static void chmod_rel(const char *rel, mode_t mode)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    assert_int_equal(chmod(path, mode), 0);
}

static mode_t mode_of(const char *rel)
{
    char path[256];
    struct stat st;
    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    assert_int_equal(stat(path, &st), 0);
    return st.st_mode & 0777;
}

static void edge_pair_is_created_once_and_loads(void **state)
{
    (void)state;
    struct ipc_keypair a, b, c;
    assert_int_equal(ipc_keys_init_edge(dir, false, &a), 0);
    assert_true(ipc_key_valid(a.public_key));
    assert_int_equal(mode_of("keys/edge.key"), 0600);
    assert_int_equal(mode_of("keys/edge.pub"), 0644);
    assert_int_equal(ipc_keys_init_edge(dir, false, &b), 1);
    assert_string_equal(a.public_key, b.public_key);
    assert_int_equal(ipc_keys_load_edge(dir, &c), 0);
    assert_string_equal(c.public_key, a.public_key);
    assert_string_equal(c.secret_key, a.secret_key);
    assert_int_equal(ipc_keys_init_edge(dir, true, &b), 0);
    assert_string_not_equal(a.public_key, b.public_key);
    ipc_keypair_wipe(&c);
    assert_int_equal(c.secret_key[0], 0);
}

static void loading_refuses_bad_files(void **state)
{
    (void)state;
    struct ipc_keypair kp, other;
    assert_int_equal(ipc_keys_init_edge(dir, false, &kp), 0);
    assert_int_equal(ipc_keys_load_edge(dir, &kp), 0);
    /* a secret key readable by others */
    chmod_rel("keys/edge.key", 0644);
    assert_int_equal(ipc_keys_load_edge(dir, &kp), -1);
    assert_int_equal(errno, EACCES);
    chmod_rel("keys/edge.key", 0600);
    /* a public key of another pair */
    assert_int_equal(ipc_keys_generate(&other), 0);
    char line[64];
    snprintf(line, sizeof(line), "%s\n", other.public_key);
    write_file("keys/edge.pub", line, 0644);
    assert_int_equal(ipc_keys_load_edge(dir, &kp), -1);
    assert_int_equal(errno, EINVAL);
    /* not Z85, wrong length */
    write_file("keys/edge.pub", "short\n", 0644);
    assert_int_equal(ipc_keys_load_edge(dir, &kp), -1);
    assert_int_equal(errno, EINVAL);
    write_file("keys/edge.pub", "0123456789012345678901234567890123456789 \n", 0644);
    char pub[IPC_KEY_Z85_LEN + 1];
    char path[256];
    snprintf(path, sizeof(path), "%s/keys/edge.pub", dir);
    assert_int_equal(ipc_keys_load_public(path, pub), 0); /* trailing space is fine */
    write_file("keys/edge.pub", "01234567890123456789012345678901234567\"9\n", 0644);
    assert_int_equal(ipc_keys_load_public(path, pub), -1);
    assert_false(ipc_key_valid(NULL));
    assert_false(ipc_key_valid("0123456789012345678901234567890123456789a"));
}

static void allow_list_add_list_remove(void **state)
{
    (void)state;
    struct ipc_keypair g1, g2;
    struct ipc_allowlist l;
    assert_int_equal(ipc_keys_load_allowlist(dir, &l), 0); /* no directory: empty */
    assert_int_equal(l.n, 0);
    assert_int_equal(ipc_keys_add_gateway(dir, "zeta", &g1), 0);
    assert_int_equal(ipc_keys_add_gateway(dir, "alpha", &g2), 0);
    assert_int_equal(ipc_keys_add_gateway(dir, "alpha", &g2), -1);
    assert_int_equal(errno, EEXIST);
    assert_int_equal(mode_of("keys/gateway/alpha.key"), 0600);
    assert_int_equal(mode_of("keys/gateway"), 0700);
    /* a leftover temporary of an interrupted write and a stray file */
    write_file("keys/gateways/.alpha.pub.AbC123", "junk", 0644);
    write_file("keys/gateways/README", "not a key", 0644);
    assert_int_equal(ipc_keys_load_allowlist(dir, &l), 0);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.v[0].name, "alpha");
    assert_string_equal(l.v[0].public_key, g2.public_key);
    assert_string_equal(l.v[1].name, "zeta");
    ipc_allowlist_free(&l);
    struct ipc_keypair ext;
    assert_int_equal(ipc_keys_generate(&ext), 0);
    assert_int_equal(ipc_keys_allow(dir, "ext", ext.public_key), 0);
    assert_int_equal(ipc_keys_allow(dir, "bad", "nope"), -1);
    assert_int_equal(ipc_keys_remove_gateway(dir, "zeta"), 0);
    assert_int_equal(ipc_keys_remove_gateway(dir, "zeta"), -1);
    assert_int_equal(errno, ENOENT);
    assert_int_equal(ipc_keys_remove_gateway(dir, "ext"), 0); /* no pair: fine */
    assert_int_equal(ipc_keys_load_allowlist(dir, &l), 0);
    assert_int_equal(l.n, 1);
    ipc_allowlist_free(&l);
    /* a malformed entry fails the whole load */
    write_file("keys/gateways/broken.pub", "xx\n", 0644);
    assert_int_equal(ipc_keys_load_allowlist(dir, &l), -1);
    assert_int_equal(errno, EINVAL);
}

static void gateway_names_are_checked(void **state)
{
    (void)state;
    assert_true(ipc_key_name_valid("gw-1.example_a"));
    assert_false(ipc_key_name_valid(""));
    assert_false(ipc_key_name_valid(NULL));
    assert_false(ipc_key_name_valid("../etc"));
    assert_false(ipc_key_name_valid("a/b"));
    assert_false(ipc_key_name_valid(".hidden"));
    assert_false(ipc_key_name_valid("-opt"));
    assert_false(ipc_key_name_valid("sp ace"));
    char longname[IPC_KEY_NAME_MAX + 2];
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    assert_false(ipc_key_name_valid(longname));
    longname[IPC_KEY_NAME_MAX] = '\0';
    assert_true(ipc_key_name_valid(longname));
    struct ipc_keypair kp;
    assert_int_equal(ipc_keys_add_gateway(dir, "../x", &kp), -1);
    assert_int_equal(errno, EINVAL);
}

int main(void)
{
    log_init("test_ipc_keys", LOG_LEVEL_WARN, false);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(edge_pair_is_created_once_and_loads, setup, teardown),
        cmocka_unit_test_setup_teardown(loading_refuses_bad_files, setup, teardown),
        cmocka_unit_test_setup_teardown(allow_list_add_list_remove, setup, teardown),
        cmocka_unit_test_setup_teardown(gateway_names_are_checked, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
