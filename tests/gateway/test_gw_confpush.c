/*
 * test_gw_confpush.c - a gateway's answer to a configuration an edge pushes
 * (gateway/gw_confpush.h): versions only move forward, a gateway with a
 * store never takes one, a gateway without a store validates the whole
 * configuration before writing it atomically to its cache, and a refused
 * configuration leaves the cache byte for byte as it was.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <sys/stat.h>
#include <unistd.h>

#include "conf_atomic.h"
#include "conf_file.h"
#include "conf_report.h"
#include "gw_conf.h"
#include "gw_confpush.h"
#include "log.h"

struct fx {
    char dir[64];
    char cache[128];
    struct gw_conf gc;
};

static const char *good =
    "version = 7L;\n"
    "hosted_domains = [\"contoso.example\"];\n"
    "partners = ( { domain = \"fabrikam.example\"; type = \"Federated\"; } );\n";

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/xfed-confpush.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->cache, sizeof(f->cache), "%s/xfed.conf", f->dir);
    f->gc.local.config_cache = f->cache;
    f->gc.from_edges = true;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    unlink(f->cache);
    rmdir(f->dir);
    free(f);
    return 0;
}

static char *slurp(const char *path)
{
    size_t len;
    return conf_read_file(path, 1 << 20, &len);
}

static void takes_newer_and_writes_cache(void **state)
{
    struct fx *f = *state;
    uint64_t newest = 3;
    char reason[256];
    assert_true(gw_confpush_take(&f->gc, &newest, 7, good, strlen(good), reason, sizeof(reason)));
    assert_int_equal(newest, 7);
    struct conf_report rep;
    conf_report_init(&rep);
    struct conf *c = conf_file_read(f->cache, &rep);
    conf_report_clear(&rep);
    assert_non_null(c);
    assert_int_equal(c->version, 7);
    assert_int_equal(c->n_partners, 1);
    assert_true(conf_strlist_has(&c->hosted, "contoso.example"));
    conf_free(c);
    struct stat st;
    assert_int_equal(stat(f->cache, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0640);
}

static void version_is_the_push_not_the_text(void **state)
{
    struct fx *f = *state;
    uint64_t newest = 0;
    char reason[256];
    /* the text says 7; the message says 9: the message's version counts */
    assert_true(gw_confpush_take(&f->gc, &newest, 9, good, strlen(good), reason, sizeof(reason)));
    assert_int_equal(newest, 9);
    char *text = slurp(f->cache);
    assert_non_null(text);
    assert_non_null(strstr(text, "version = 9L;"));
    free(text);
}

static void same_version_is_applied_without_writing(void **state)
{
    struct fx *f = *state;
    uint64_t newest = 7;
    char reason[256];
    assert_true(gw_confpush_take(&f->gc, &newest, 7, good, strlen(good), reason, sizeof(reason)));
    assert_int_equal(access(f->cache, F_OK), -1);
}

static void older_is_ignored(void **state)
{
    struct fx *f = *state;
    uint64_t newest = 8;
    char reason[256];
    assert_false(gw_confpush_take(&f->gc, &newest, 7, good, strlen(good), reason, sizeof(reason)));
    assert_non_null(strstr(reason, "version 7 is older than 8"));
    assert_int_equal(newest, 8);
    assert_int_equal(access(f->cache, F_OK), -1);
}

static void store_gateway_never_takes(void **state)
{
    struct fx *f = *state;
    f->gc.from_edges = false;
    uint64_t newest = 2;
    char reason[256];
    assert_false(gw_confpush_take(&f->gc, &newest, 7, good, strlen(good), reason, sizeof(reason)));
    assert_non_null(strstr(reason, "config_from = store"));
    assert_int_equal(newest, 2);
    assert_int_equal(access(f->cache, F_OK), -1);
}

static void invalid_leaves_cache_unchanged(void **state)
{
    struct fx *f = *state;
    uint64_t newest = 0;
    char reason[256];
    assert_true(gw_confpush_take(&f->gc, &newest, 7, good, strlen(good), reason, sizeof(reason)));
    char *before = slurp(f->cache);
    assert_non_null(before);
    /* a partner that is also a hosted domain: parses, fails validation */
    const char *bad = "version = 8L;\nhosted_domains = [\"contoso.example\"];\n"
                      "partners = ( { domain = \"contoso.example\"; type = \"Federated\"; } );\n";
    assert_false(gw_confpush_take(&f->gc, &newest, 8, bad, strlen(bad), reason, sizeof(reason)));
    assert_non_null(strstr(reason, "hosted domain"));
    const char *syntax = "version = 9L;\nhosted_domains = [\"contoso.example\"\n";
    assert_false(
        gw_confpush_take(&f->gc, &newest, 9, syntax, strlen(syntax), reason, sizeof(reason)));
    assert_true(reason[0] != '\0');
    /* not NUL-terminated: only len bytes count */
    assert_false(gw_confpush_take(&f->gc, &newest, 10, good, 20, reason, sizeof(reason)));
    assert_int_equal(newest, 7);
    char *after = slurp(f->cache);
    assert_non_null(after);
    assert_string_equal(before, after);
    free(before);
    free(after);
}

int main(void)
{
    log_init("test_gw_confpush", LOG_LEVEL_WARN, false);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(takes_newer_and_writes_cache, setup, teardown),
        cmocka_unit_test_setup_teardown(version_is_the_push_not_the_text, setup, teardown),
        cmocka_unit_test_setup_teardown(same_version_is_applied_without_writing, setup, teardown),
        cmocka_unit_test_setup_teardown(older_is_ignored, setup, teardown),
        cmocka_unit_test_setup_teardown(store_gateway_never_takes, setup, teardown),
        cmocka_unit_test_setup_teardown(invalid_leaves_cache_unchanged, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
