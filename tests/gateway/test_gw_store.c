/*
 * test_gw_store.c - the SQLite store: migrations from empty and from an
 * older schema, every operation, and a restart that keeps the state.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "gw_store.h"

static char dir[64];
static char path[128];

static int setup(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/xfed-gw-store.XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    snprintf(path, sizeof path, "%s/gateway.db", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    static const char *const suffix[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < 4; i++) {
        char p[160];
        snprintf(p, sizeof p, "%s%s", path, suffix[i]);
        unlink(p);
    }
    rmdir(dir);
    return 0;
}

static void sample(struct gw_sub *s, enum gw_sub_dir dir_, const char *xmpp, const char *sip)
{
    assert_int_equal(gw_sub_init(s, dir_, xmpp, sip, true), 0);
    s->state = GW_SUB_ACTIVE;
    s->notified = true;
    strcpy(s->call_id, "cid-1@gw");
    strcpy(s->local_tag, "lt");
    strcpy(s->remote_tag, "rt");
    s->local_cseq = 7;
    s->remote_cseq = 3;
    strcpy(s->remote_target, "sip:presence@127.0.0.1:5060;transport=tcp");
    strcpy(s->route_set, "<sip:127.0.0.1;lr;ftag=x>");
    s->expires = 3600;
    s->expires_at = 1700003600;
    s->timer_at = 1700003240;
    s->failures = 2;
}

static void migrations_run_from_empty(void **state)
{
    (void)state;
    const char *why = NULL;
    struct gw_store *s = gw_store_open_sqlite(path, &why);
    assert_non_null(s);
    assert_int_equal(gw_store_sqlite_version(s), gw_store_schema_latest());
    assert_true(gw_store_schema_latest() >= 2);
    gw_store_close(s);
    /* opening again migrates nothing and keeps the version */
    s = gw_store_open_sqlite(path, &why);
    assert_non_null(s);
    assert_int_equal(gw_store_sqlite_version(s), gw_store_schema_latest());
    gw_store_close(s);
}

static void older_schema_is_migrated_keeping_rows(void **state)
{
    (void)state;
    /* a version-1 database as the first release wrote it */
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(db,
                     "CREATE TABLE subscriptions (dir INTEGER NOT NULL, xmpp TEXT NOT NULL,"
                     " sip TEXT NOT NULL, poll INTEGER NOT NULL, state INTEGER NOT NULL,"
                     " authorized INTEGER NOT NULL, notified INTEGER NOT NULL,"
                     " call_id TEXT NOT NULL, local_tag TEXT NOT NULL, remote_tag TEXT NOT NULL,"
                     " local_cseq INTEGER NOT NULL, remote_cseq INTEGER NOT NULL,"
                     " remote_target TEXT NOT NULL, route_set TEXT NOT NULL,"
                     " expires INTEGER NOT NULL, expires_at INTEGER NOT NULL,"
                     " timer_at INTEGER NOT NULL, failures INTEGER NOT NULL,"
                     " PRIMARY KEY (dir, xmpp, sip, poll));"
                     "CREATE TABLE authorizations (dir INTEGER NOT NULL, xmpp TEXT NOT NULL,"
                     " sip TEXT NOT NULL, PRIMARY KEY (dir, xmpp, sip));"
                     "CREATE TABLE invitations (internal TEXT NOT NULL, partner TEXT NOT NULL,"
                     " created INTEGER NOT NULL, PRIMARY KEY (internal, partner));"
                     "INSERT INTO invitations VALUES ('bob@contoso.example',"
                     " 'eve@public.example', 5);"
                     "PRAGMA user_version = 1;",
                     NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    const char *why = NULL;
    struct gw_store *s = gw_store_open_sqlite(path, &why);
    assert_non_null(s);
    assert_int_equal(gw_store_sqlite_version(s), gw_store_schema_latest());
    assert_int_equal(gw_store_invite_has(s, "bob@contoso.example", "eve@public.example"), 1);
    gw_store_close(s);
    /* the dialog index of migration 2 exists */
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT 1 FROM sqlite_master WHERE type='index' AND"
                                        " name='subscriptions_dialog'",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    sqlite3_finalize(st);
    sqlite3_close(db);
}

static void newer_or_broken_databases_are_refused(void **state)
{
    (void)state;
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 99;", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    const char *why = NULL;
    assert_null(gw_store_open_sqlite(path, &why));
    assert_string_equal(why, "the database was written by a newer xfed-gateway");
    teardown(state);
    setup(state);
    FILE *f = fopen(path, "w");
    fputs("this is not a database, just some text long enough to look like a header....", f);
    fclose(f);
    assert_null(gw_store_open_sqlite(path, &why));
    assert_null(gw_store_open_sqlite("/nonexistent-dir/x.db", &why));
    assert_string_equal(why, "cannot open the database");
}

static void subscriptions_round_trip(void **state)
{
    (void)state;
    struct gw_store *s = gw_store_open_sqlite(":memory:", NULL);
    assert_non_null(s);
    struct gw_sub a, b, got;
    sample(&a, GW_SUB_X2S, "juliet@fabrikam.example", "sip:romeo@contoso.example");
    sample(&b, GW_SUB_S2X, "juliet@fabrikam.example", "sip:romeo@contoso.example");
    strcpy(b.call_id, "watcher-cid");
    strcpy(b.local_tag, "gw-tag");
    assert_int_equal(gw_store_sub_put(s, &a), 0);
    assert_int_equal(gw_store_sub_put(s, &b), 0);
    assert_int_equal(gw_store_sub_get(s, GW_SUB_X2S, a.xmpp, a.sip, false, &got), 1);
    assert_memory_equal(&got, &a, sizeof a);
    assert_int_equal(gw_store_sub_get(s, GW_SUB_X2S, a.xmpp, a.sip, true, &got), 0);
    assert_int_equal(gw_store_sub_by_dialog(s, "watcher-cid", "gw-tag", &got), 1);
    assert_int_equal(got.dir, GW_SUB_S2X);
    assert_int_equal(gw_store_sub_by_dialog(s, "watcher-cid", "other", &got), 0);
    /* put replaces */
    a.local_cseq = 8;
    a.state = GW_SUB_WAITING;
    assert_int_equal(gw_store_sub_put(s, &a), 0);
    assert_int_equal(gw_store_sub_get(s, GW_SUB_X2S, a.xmpp, a.sip, false, &got), 1);
    assert_int_equal(got.local_cseq, 8);
    assert_int_equal(got.state, GW_SUB_WAITING);
    assert_int_equal(gw_store_sub_delete(s, GW_SUB_X2S, a.xmpp, a.sip, false), 0);
    assert_int_equal(gw_store_sub_get(s, GW_SUB_X2S, a.xmpp, a.sip, false, &got), 0);
    /* strings with quotes and non-ASCII are stored as they are */
    struct gw_sub c;
    sample(&c, GW_SUB_X2S, "o\\27malley@xmpp.example", "sip:o'malley@contoso.example");
    strcpy(c.route_set, "<sip:a;lr>,<sip:b;lr>");
    assert_int_equal(gw_store_sub_put(s, &c), 0);
    assert_int_equal(gw_store_sub_get(s, GW_SUB_X2S, c.xmpp, c.sip, false, &got), 1);
    assert_string_equal(got.sip, "sip:o'malley@contoso.example");
    gw_store_close(s);
}

static void authorisations_and_invitations(void **state)
{
    (void)state;
    struct gw_store *s = gw_store_open_sqlite(":memory:", NULL);
    assert_int_equal(gw_store_auth_get(s, GW_SUB_X2S, "j@f", "sip:r@c"), 0);
    assert_int_equal(gw_store_auth_set(s, GW_SUB_X2S, "j@f", "sip:r@c", true), 0);
    assert_int_equal(gw_store_auth_set(s, GW_SUB_X2S, "j@f", "sip:r@c", true), 0);
    assert_int_equal(gw_store_auth_get(s, GW_SUB_X2S, "j@f", "sip:r@c"), 1);
    assert_int_equal(gw_store_auth_get(s, GW_SUB_S2X, "j@f", "sip:r@c"), 0);
    assert_int_equal(gw_store_auth_set(s, GW_SUB_X2S, "j@f", "sip:r@c", false), 0);
    assert_int_equal(gw_store_auth_get(s, GW_SUB_X2S, "j@f", "sip:r@c"), 0);
    assert_int_equal(gw_store_invite_has(s, "bob@contoso.example", "eve@p.example"), 0);
    assert_int_equal(gw_store_invite_add(s, "bob@contoso.example", "eve@p.example", 10), 0);
    assert_int_equal(gw_store_invite_add(s, "bob@contoso.example", "eve@p.example", 11), 0);
    assert_int_equal(gw_store_invite_has(s, "bob@contoso.example", "eve@p.example"), 1);
    assert_int_equal(gw_store_invite_has(s, "carol@contoso.example", "eve@p.example"), 0);
    assert_int_equal(gw_store_invite_del(s, "bob@contoso.example", "eve@p.example"), 0);
    assert_int_equal(gw_store_invite_has(s, "bob@contoso.example", "eve@p.example"), 0);
    gw_store_close(s);
}

static int count_cb(void *arg, const struct gw_sub *s)
{
    (void)s;
    (*(int *)arg)++;
    return 0;
}

static void restart_keeps_the_state(void **state)
{
    (void)state;
    struct gw_store *s = gw_store_open_sqlite(path, NULL);
    assert_non_null(s);
    struct gw_sub a;
    for (int i = 0; i < 5; i++) {
        char x[64];
        snprintf(x, sizeof x, "user%d@fabrikam.example", i);
        sample(&a, i % 2 ? GW_SUB_S2X : GW_SUB_X2S, x, "sip:romeo@contoso.example");
        assert_int_equal(gw_store_sub_put(s, &a), 0);
    }
    assert_int_equal(gw_store_auth_set(s, GW_SUB_S2X, "user1@fabrikam.example",
                                       "sip:romeo@contoso.example", true),
                     0);
    assert_int_equal(gw_store_invite_add(s, "romeo@contoso.example", "eve@p.example", 1), 0);
    gw_store_close(s); /* the gateway stops */

    s = gw_store_open_sqlite(path, NULL); /* and starts again */
    assert_non_null(s);
    int n = 0;
    assert_int_equal(gw_store_sub_each(s, count_cb, &n), 0);
    assert_int_equal(n, 5);
    struct gw_sub got;
    assert_int_equal(gw_store_sub_get(s, GW_SUB_X2S, "user4@fabrikam.example",
                                      "sip:romeo@contoso.example", false, &got),
                     1);
    assert_int_equal(got.state, GW_SUB_ACTIVE);
    assert_string_equal(got.remote_target, "sip:presence@127.0.0.1:5060;transport=tcp");
    assert_int_equal(got.timer_at, 1700003240);
    assert_int_equal(
        gw_store_auth_get(s, GW_SUB_S2X, "user1@fabrikam.example", "sip:romeo@contoso.example"), 1);
    assert_int_equal(gw_store_invite_has(s, "romeo@contoso.example", "eve@p.example"), 1);
    gw_store_close(s);
    gw_store_close(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(migrations_run_from_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(older_schema_is_migrated_keeping_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(newer_or_broken_databases_are_refused, setup, teardown),
        cmocka_unit_test(subscriptions_round_trip),
        cmocka_unit_test(authorisations_and_invitations),
        cmocka_unit_test_setup_teardown(restart_keeps_the_state, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
