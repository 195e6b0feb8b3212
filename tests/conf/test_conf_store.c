/*
 * test_conf_store.c - the store: init, versioned atomic commits, rejected
 * changes leave the file byte-for-byte unchanged, concurrent writers never
 * lose an update.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conf_atomic.h"
#include "conf_store.h"

static char dir[64];

static int setup(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/xfed-store-XXXXXX");
    assert_non_null(mkdtemp(dir));
    struct conf_strlist hosted = {0};
    struct conf_report rep;
    conf_report_init(&rep);
    conf_strlist_add(&hosted, "contoso.com");
    assert_int_equal(conf_store_init(dir, &hosted, &rep), 0);
    assert_int_equal(conf_store_init(dir, &hosted, &rep), 1); /* exists: untouched */
    conf_strlist_clear(&hosted);
    conf_report_clear(&rep);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static char *file_bytes(size_t *len)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/xfed.conf", dir);
    return conf_read_file(path, 1 << 20, len);
}

static int add_partner(const char *domain, enum conf_negotiation tls, enum conf_negotiation sasl)
{
    struct conf_store *s = conf_store_open(dir);
    struct conf_report rep;
    struct conf *c;
    struct conf_partner p;
    conf_report_init(&rep);
    if (s == NULL || conf_store_begin(s, &c, &rep) == -1)
        return -2;
    conf_partner_init(&p, domain);
    p.tls = tls;
    p.sasl = sasl;
    conf_partner_add(c, &p);
    conf_partner_clear(&p);
    int rc = conf_store_commit(s, c, &rep);
    conf_free(c);
    conf_report_clear(&rep);
    conf_store_close(s);
    return rc;
}

static uint64_t version(void)
{
    struct conf_store *s = conf_store_open(dir);
    struct conf_report rep;
    conf_report_init(&rep);
    struct conf *c = conf_store_load(s, &rep);
    assert_non_null(c);
    uint64_t v = c->version;
    conf_free(c);
    conf_store_close(s);
    conf_report_clear(&rep);
    return v;
}

static void init_writes_defaults_and_a_secret(void **state)
{
    (void)state;
    struct conf_store *s = conf_store_open(dir);
    struct conf_report rep;
    conf_report_init(&rep);
    struct conf *c = conf_store_load(s, &rep);
    assert_non_null(c);
    assert_int_equal(c->version, 1);
    assert_int_equal(c->settings.max_connections, 1000);
    assert_int_equal(c->settings.subscription_refresh, 28800);
    assert_non_null(c->settings.dialback_secret);
    assert_int_equal(strlen(c->settings.dialback_secret), 64);
    assert_string_equal(c->hosted.v[0], "contoso.com");
    conf_free(c);
    conf_store_close(s);
}

static void commit_bumps_version(void **state)
{
    (void)state;
    assert_int_equal(add_partner("fabrikam.com", NEG_REQUIRED, NEG_OPTIONAL), CONF_SAVED);
    assert_int_equal(version(), 2);
    assert_int_equal(add_partner("litware.com", NEG_REQUIRED, NEG_REQUIRED), CONF_SAVED);
    assert_int_equal(version(), 3);
}

static void rejected_change_leaves_bytes_unchanged(void **state)
{
    (void)state;
    size_t l1, l2;
    char *before = file_bytes(&l1);
    /* Row 5 and a duplicate: both rejected. */
    assert_int_equal(add_partner("adatum.com", NEG_NOT_SUPPORTED, NEG_REQUIRED), CONF_REJECTED);
    assert_int_equal(add_partner("fabrikam.com", NEG_REQUIRED, NEG_OPTIONAL), CONF_REJECTED);
    char *after = file_bytes(&l2);
    assert_int_equal(l1, l2);
    assert_memory_equal(before, after, l1);
    free(before);
    free(after);
    /* No temporary file is left behind. */
    DIR *d = opendir(dir);
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        assert_null(strstr(e->d_name, ".xfed.conf."));
    closedir(d);
}

static void concurrent_writers_lose_nothing(void **state)
{
    (void)state;
    uint64_t v0 = version();
    pid_t pids[20];
    for (int i = 0; i < 20; i++) {
        if ((pids[i] = fork()) == 0) {
            char d[64];
            snprintf(d, sizeof(d), "partner%02d.example", i);
            _exit(add_partner(d, NEG_REQUIRED, NEG_OPTIONAL) == CONF_SAVED ? 0 : 1);
        }
        assert_true(pids[i] > 0);
    }
    for (int i = 0; i < 20; i++) {
        int st;
        assert_int_equal(waitpid(pids[i], &st, 0), pids[i]);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    assert_int_equal(version(), v0 + 20);
    struct conf_store *s = conf_store_open(dir);
    struct conf_report rep;
    conf_report_init(&rep);
    struct conf *c = conf_store_load(s, &rep);
    for (int i = 0; i < 20; i++) {
        char d[64];
        snprintf(d, sizeof(d), "partner%02d.example", i);
        assert_true(conf_partner_index(c, d) >= 0);
    }
    conf_free(c);
    conf_store_close(s);
}

static void hand_edit_error_blocks_begin(void **state)
{
    (void)state;
    size_t len;
    char *orig = file_bytes(&len);
    char path[128];
    snprintf(path, sizeof(path), "%s/xfed.conf", dir);
    FILE *f = fopen(path, "a");
    fputs("\nsurprise = 1;\n", f);
    fclose(f);
    struct conf_store *s = conf_store_open(dir);
    struct conf_report rep;
    struct conf *c;
    conf_report_init(&rep);
    assert_int_equal(conf_store_begin(s, &c, &rep), -1);
    assert_int_equal(rep.n, 1);
    assert_true(rep.v[0].line > 0);
    conf_report_clear(&rep);
    /* The lock was released: a second begin blocks on nothing. */
    assert_int_equal(conf_atomic_write(dir, "xfed.conf", orig, len, 0640), 0);
    assert_int_equal(conf_store_begin(s, &c, &rep), 0);
    conf_store_abort(s);
    conf_free(c);
    conf_store_close(s);
    free(orig);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(init_writes_defaults_and_a_secret),
        cmocka_unit_test(commit_bumps_version),
        cmocka_unit_test(rejected_change_leaves_bytes_unchanged),
        cmocka_unit_test(concurrent_writers_lose_nothing),
        cmocka_unit_test(hand_edit_error_blocks_begin),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
