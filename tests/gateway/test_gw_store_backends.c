/*
 * test_gw_store_backends.c - the same store test cases against both back
 * ends, opened through gw_store_open() as the daemon opens them.
 *
 *   test_gw_store_backends [sqlite]   SQLite files in a temporary directory
 *   test_gw_store_backends postgresql a running PostgreSQL server, described
 *                                     by the environment pg_store_test.py
 *                                     sets (it starts and removes the server):
 *     XFED_PG_CONNINFO  libpq conninfo of an empty database
 *     XFED_PG_CTL       pg_ctl, XFED_PG_DATA its data directory,
 *     XFED_PG_OPTS      the server options (-o), XFED_PG_LOG its log file,
 *     XFED_PG_USER      the user pg_ctl runs as ("" = this user)
 *
 * Cases: migrations from empty, from an older schema, refusal of a newer
 * one, every operation with exact round trips, a restart, paging through
 * many records (and saving them from the walk: PostgreSQL), two processes (two gateways) upserting the same records at
 * once, subscription owners (leases, claims of a dead gateway's rows, three
 * processes claiming the same rows at once: one owner each), several processes opening an empty database at once (PostgreSQL),
 * connection loss and reconnection across a server restart and a stop
 * (PostgreSQL), text that is not UTF-8 (PostgreSQL) and the spec syntax.
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include "gw_store.h"
#include "gw_store_open.h"
#include "gw_store_pg.h"

static bool use_pg;
static char dir[64];        /* SQLite: the temporary directory */
static char path[128];      /* SQLite: the database file */
static char spec[2048];     /* what gw_store_open() gets */
static const char *pg_info; /* PostgreSQL: XFED_PG_CONNINFO */

/* ---- raw access to the database, per back end ----------------------------- */

static void quiet(void *arg, const char *msg)
{
    (void)arg;
    (void)msg;
}

/* Runs SQL outside the store. 0 or -1. */
static int raw_exec(const char *sql)
{
    if (use_pg) {
        PGconn *c = PQconnectdb(pg_info);
        int ok = PQstatus(c) == CONNECTION_OK;
        PQsetNoticeProcessor(c, quiet, NULL);
        if (ok) {
            PGresult *r = PQexec(c, sql);
            ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
            if (!ok)
                fprintf(stderr, "raw_exec: %s", PQresultErrorMessage(r));
            PQclear(r);
        }
        PQfinish(c);
        return ok ? 0 : -1;
    }
    sqlite3 *db;
    int rc = sqlite3_open(path, &db);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    sqlite3_close(db);
    return rc == SQLITE_OK ? 0 : -1;
}

/* The integer in the first column of the first row; -1 on error or none. */
static long raw_int(const char *sql)
{
    long v = -1;
    if (use_pg) {
        PGconn *c = PQconnectdb(pg_info);
        if (PQstatus(c) == CONNECTION_OK) {
            PGresult *r = PQexec(c, sql);
            if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0)
                v = atol(PQgetvalue(r, 0, 0));
            PQclear(r);
        }
        PQfinish(c);
        return v;
    }
    sqlite3 *db;
    sqlite3_stmt *st = NULL;
    if (sqlite3_open(path, &db) == SQLITE_OK &&
        sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = (long)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static int raw_set_version(int v)
{
    char sql[96];
    if (use_pg)
        snprintf(sql, sizeof sql, "UPDATE xfed_schema SET version = %d", v);
    else
        snprintf(sql, sizeof sql, "PRAGMA user_version = %d", v);
    return raw_exec(sql);
}

static long raw_count(const char *table)
{
    char sql[96];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", table);
    return raw_int(sql);
}

/* ---- fixtures -------------------------------------------------------------- */

static int pg_drop_all(void)
{
    return raw_exec("DROP TABLE IF EXISTS subscriptions, authorizations, invitations,"
                    " gateways, xfed_schema");
}

static int setup(void **state)
{
    (void)state;
    if (use_pg) {
        snprintf(spec, sizeof spec, "postgresql:%s", pg_info);
        return pg_drop_all();
    }
    strcpy(dir, "/tmp/xfed-gw-store-b.XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    snprintf(path, sizeof path, "%s/state.db", dir);
    snprintf(spec, sizeof spec, "sqlite:%s", path);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (use_pg)
        return pg_drop_all();
    static const char *const suffix[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < 4; i++) {
        char p[160];
        snprintf(p, sizeof p, "%s%s", path, suffix[i]);
        unlink(p);
    }
    rmdir(dir);
    return 0;
}

static struct gw_store *open_store(void)
{
    const char *why = NULL;
    struct gw_store *s = gw_store_open(spec, &why);
    if (s == NULL)
        fprintf(stderr, "gw_store_open: %s\n", why ? why : "?");
    assert_non_null(s);
    assert_string_equal(s->ops->name, use_pg ? "postgresql" : "sqlite");
    return s;
}

/* A field set whole: the bytes after the string are zero, as they are in a
 * record the store reads back, so records compare with memcmp. */
#define SET(field, value)                           \
    do {                                            \
        memset(field, 0, sizeof field);             \
        snprintf(field, sizeof field, "%s", value); \
    } while (0)

static void sample(struct gw_sub *s, enum gw_sub_dir d, const char *xmpp, const char *sip)
{
    assert_int_equal(gw_sub_init(s, d, xmpp, sip, true), 0);
    s->state = GW_SUB_ACTIVE;
    s->notified = true;
    SET(s->call_id, "cid-1@gw");
    SET(s->local_tag, "lt");
    SET(s->remote_tag, "rt");
    s->local_cseq = 4000000000u; /* above INT32_MAX: kept as the unsigned value */
    s->remote_cseq = 3;
    SET(s->remote_target, "sip:presence@127.0.0.1:5060;transport=tcp");
    SET(s->route_set, "<sip:127.0.0.1;lr;ftag=x>");
    s->expires = 3600;
    s->expires_at = 1700003600;
    s->timer_at = 1700003240;
    s->failures = 2;
}

/* ---- child processes (bounded) ---------------------------------------------- */

/* Waits up to ms for pid; kills it on timeout. Its exit status, -1 if
 * it did not exit normally in time. */
static int wait_child(pid_t pid, int ms)
{
    int st;
    for (int waited = 0; waited < ms; waited += 10) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        if (r < 0)
            return -1;
        struct timespec t = {0, 10 * 1000 * 1000};
        nanosleep(&t, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    return -1;
}

/* Runs pg_ctl ARGS (as XFED_PG_USER when set); 0 when it succeeded. */
static int pg_ctl(const char *action)
{
    const char *user = getenv("XFED_PG_USER");
    const char *argv[16];
    size_t n = 0;
    if (user != NULL && user[0] != '\0') {
        argv[n++] = "runuser";
        argv[n++] = "-u";
        argv[n++] = user;
        argv[n++] = "--";
    }
    argv[n++] = getenv("XFED_PG_CTL");
    argv[n++] = action;
    argv[n++] = "-D";
    argv[n++] = getenv("XFED_PG_DATA");
    argv[n++] = "-w";
    argv[n++] = "-t";
    argv[n++] = "30";
    if (strcmp(action, "stop") != 0) {
        argv[n++] = "-o";
        argv[n++] = getenv("XFED_PG_OPTS");
        argv[n++] = "-l";
        argv[n++] = getenv("XFED_PG_LOG");
    } else {
        argv[n++] = "-m";
        argv[n++] = "fast";
    }
    argv[n] = NULL;
    for (size_t i = 0; i < n; i++)
        if (argv[i] == NULL)
            return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        execvp(argv[0], (char *const *)(uintptr_t)argv);
        _exit(127);
    }
    return wait_child(pid, 60000) == 0 ? 0 : -1;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* ---- cases ----------------------------------------------------------------- */

static void migrations_run_from_empty(void **state)
{
    (void)state;
    struct gw_store *s = open_store();
    assert_int_equal(gw_store_schema_version(s), gw_store_schema_latest());
    assert_true(gw_store_schema_latest() >= 2);
    gw_store_close(s);
    /* opening again migrates nothing and keeps the version */
    s = open_store();
    assert_int_equal(gw_store_schema_version(s), gw_store_schema_latest());
    gw_store_close(s);
    if (use_pg)
        assert_int_equal(raw_count("xfed_schema"), 1);
}

/* Version 1 as the first release wrote it, with one invitation in it. */
static const char v1_sqlite[] =
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
    "INSERT INTO invitations VALUES ('bob@contoso.example', 'eve@public.example', 5);"
    "PRAGMA user_version = 1;";

static const char v1_pg[] =
    "CREATE TABLE subscriptions (dir integer NOT NULL, xmpp text NOT NULL,"
    " sip text NOT NULL, poll integer NOT NULL, state integer NOT NULL,"
    " authorized integer NOT NULL, notified integer NOT NULL,"
    " call_id text NOT NULL, local_tag text NOT NULL, remote_tag text NOT NULL,"
    " local_cseq bigint NOT NULL, remote_cseq bigint NOT NULL,"
    " remote_target text NOT NULL, route_set text NOT NULL,"
    " expires bigint NOT NULL, expires_at bigint NOT NULL,"
    " timer_at bigint NOT NULL, failures bigint NOT NULL,"
    " PRIMARY KEY (dir, xmpp, sip, poll));"
    "CREATE TABLE authorizations (dir integer NOT NULL, xmpp text NOT NULL,"
    " sip text NOT NULL, PRIMARY KEY (dir, xmpp, sip));"
    "CREATE TABLE invitations (internal text NOT NULL, partner text NOT NULL,"
    " created bigint NOT NULL, PRIMARY KEY (internal, partner));"
    "INSERT INTO invitations VALUES ('bob@contoso.example', 'eve@public.example', 5);"
    "CREATE TABLE xfed_schema (version integer NOT NULL);"
    "INSERT INTO xfed_schema VALUES (1);";

static void older_schema_is_migrated_keeping_rows(void **state)
{
    (void)state;
    assert_int_equal(raw_exec(use_pg ? v1_pg : v1_sqlite), 0);
    struct gw_store *s = open_store();
    assert_int_equal(gw_store_schema_version(s), gw_store_schema_latest());
    assert_int_equal(gw_store_invite_has(s, "bob@contoso.example", "eve@public.example"), 1);
    gw_store_close(s);
    /* the dialog index of migration 2 exists */
    assert_int_equal(raw_int(use_pg ? "SELECT 1 FROM pg_indexes WHERE"
                                      " indexname='subscriptions_dialog'"
                                    : "SELECT 1 FROM sqlite_master WHERE type='index' AND"
                                      " name='subscriptions_dialog'"),
                     1);
    /* and the owners of migration 3 */
    assert_int_equal(raw_int(use_pg ? "SELECT 1 FROM pg_indexes WHERE"
                                      " indexname='subscriptions_owner'"
                                    : "SELECT 1 FROM sqlite_master WHERE type='index' AND"
                                      " name='subscriptions_owner'"),
                     1);
    assert_int_equal(raw_count("gateways"), 0);
}

static void newer_database_is_refused_and_left_alone(void **state)
{
    (void)state;
    struct gw_store *s = open_store();
    struct gw_sub a;
    sample(&a, GW_SUB_X2S, "juliet@fabrikam.example", "sip:romeo@contoso.example");
    assert_int_equal(gw_store_sub_put(s, &a), 0);
    gw_store_close(s);
    assert_int_equal(raw_set_version(99), 0);
    const char *why = NULL;
    assert_null(gw_store_open(spec, &why));
    assert_string_equal(why, "the database was written by a newer xfed-gateway");
    /* nothing was changed by the refused open */
    assert_int_equal(raw_int(use_pg ? "SELECT version FROM xfed_schema" : "PRAGMA user_version"),
                     99);
    assert_int_equal(raw_count("subscriptions"), 1);
}

static void unreachable_database_is_reported(void **state)
{
    (void)state;
    const char *why = NULL;
    if (use_pg) {
        /* the right server, a database that does not exist */
        char bad[2048];
        snprintf(bad, sizeof bad, "postgresql:%s dbname=xfed_no_such_db", pg_info);
        assert_null(gw_store_open(bad, &why));
        assert_string_equal(why, "cannot connect to the PostgreSQL database");
    } else {
        assert_null(gw_store_open("sqlite:/nonexistent-dir/x.db", &why));
        assert_string_equal(why, "cannot open the database");
    }
}

static void subscriptions_round_trip(void **state)
{
    (void)state;
    struct gw_store *s = open_store();
    struct gw_sub a, b, got;
    sample(&a, GW_SUB_X2S, "juliet@fabrikam.example", "sip:romeo@contoso.example");
    sample(&b, GW_SUB_S2X, "juliet@fabrikam.example", "sip:romeo@contoso.example");
    SET(b.call_id, "watcher-cid");
    SET(b.local_tag, "gw-tag");
    assert_int_equal(gw_store_sub_put(s, &a), 0);
    assert_int_equal(gw_store_sub_put(s, &b), 0);
    assert_int_equal(gw_store_sub_get(s, GW_SUB_X2S, a.xmpp, a.sip, false, &got), 1);
    assert_memory_equal(&got, &a, sizeof a);
    assert_int_equal(gw_store_sub_get(s, GW_SUB_S2X, b.xmpp, b.sip, false, &got), 1);
    assert_memory_equal(&got, &b, sizeof b);
    assert_int_equal(gw_store_sub_get(s, GW_SUB_X2S, a.xmpp, a.sip, true, &got), 0);
    assert_int_equal(gw_store_sub_by_dialog(s, "watcher-cid", "gw-tag", &got), 1);
    assert_int_equal(got.dir, GW_SUB_S2X);
    assert_int_equal(gw_store_sub_by_dialog(s, "watcher-cid", "other", &got), 0);
    /* a record without a dialog is never found by an empty Call-ID */
    struct gw_sub w;
    sample(&w, GW_SUB_X2S, "romeo@fabrikam.example", "sip:juliet@contoso.example");
    w.call_id[0] = w.local_tag[0] = '\0';
    w.state = GW_SUB_WAITING;
    assert_int_equal(gw_store_sub_put(s, &w), 0);
    assert_int_equal(gw_store_sub_by_dialog(s, "", "", &got), 0);
    /* put replaces */
    a.local_cseq = 8;
    a.state = GW_SUB_WAITING;
    a.expires_at = INT64_C(5000000000);
    assert_int_equal(gw_store_sub_put(s, &a), 0);
    assert_int_equal(gw_store_sub_get(s, GW_SUB_X2S, a.xmpp, a.sip, false, &got), 1);
    assert_memory_equal(&got, &a, sizeof a);
    assert_int_equal(raw_count("subscriptions"), 3);
    assert_int_equal(gw_store_sub_delete(s, GW_SUB_X2S, a.xmpp, a.sip, false), 0);
    assert_int_equal(gw_store_sub_get(s, GW_SUB_X2S, a.xmpp, a.sip, false, &got), 0);
    /* deleting what is not there is not an error */
    assert_int_equal(gw_store_sub_delete(s, GW_SUB_X2S, a.xmpp, a.sip, false), 0);
    /* quotes, backslashes, SQL and non-ASCII UTF-8 are stored as they are */
    struct gw_sub c;
    sample(&c, GW_SUB_X2S, "o\\27malley@xmpp.example", "sip:o'malley@contoso.example");
    SET(c.route_set, "<sip:a;lr>,<sip:b;lr>");
    SET(c.remote_tag, "'); DROP TABLE subscriptions; --");
    assert_int_equal(gw_store_sub_put(s, &c), 0);
    assert_int_equal(gw_store_sub_get(s, GW_SUB_X2S, c.xmpp, c.sip, false, &got), 1);
    assert_memory_equal(&got, &c, sizeof c);
    sample(&c, GW_SUB_S2X, "j\xc3\xbcrgen@m\xc3\xbcnchen.example",
           "sip:\xe5\xbc\xa0@contoso.example");
    c.poll = true;
    assert_int_equal(gw_store_sub_put(s, &c), 0);
    assert_int_equal(gw_store_sub_get(s, GW_SUB_S2X, c.xmpp, c.sip, true, &got), 1);
    assert_memory_equal(&got, &c, sizeof c);
    /* values at the limits of the record's fields */
    struct gw_sub big;
    sample(&big, GW_SUB_X2S, "long@fabrikam.example", "sip:long@contoso.example");
    memset(big.route_set, 'r', sizeof big.route_set - 1);
    big.route_set[sizeof big.route_set - 1] = '\0';
    memset(big.call_id, 'c', sizeof big.call_id - 1);
    big.call_id[sizeof big.call_id - 1] = '\0';
    big.remote_cseq = UINT32_MAX;
    big.failures = UINT32_MAX;
    big.timer_at = INT64_MAX;
    assert_int_equal(gw_store_sub_put(s, &big), 0);
    assert_int_equal(gw_store_sub_get(s, GW_SUB_X2S, big.xmpp, big.sip, false, &got), 1);
    assert_memory_equal(&got, &big, sizeof big);
    gw_store_close(s);
}

static void authorisations_and_invitations(void **state)
{
    (void)state;
    struct gw_store *s = open_store();
    assert_int_equal(gw_store_auth_get(s, GW_SUB_X2S, "j@f", "sip:r@c"), 0);
    assert_int_equal(gw_store_auth_set(s, GW_SUB_X2S, "j@f", "sip:r@c", true), 0);
    assert_int_equal(gw_store_auth_set(s, GW_SUB_X2S, "j@f", "sip:r@c", true), 0);
    assert_int_equal(gw_store_auth_get(s, GW_SUB_X2S, "j@f", "sip:r@c"), 1);
    assert_int_equal(gw_store_auth_get(s, GW_SUB_S2X, "j@f", "sip:r@c"), 0);
    assert_int_equal(raw_count("authorizations"), 1);
    assert_int_equal(gw_store_auth_set(s, GW_SUB_X2S, "j@f", "sip:r@c", false), 0);
    assert_int_equal(gw_store_auth_get(s, GW_SUB_X2S, "j@f", "sip:r@c"), 0);
    assert_int_equal(gw_store_auth_set(s, GW_SUB_X2S, "j@f", "sip:r@c", false), 0);
    assert_int_equal(gw_store_invite_has(s, "bob@contoso.example", "eve@p.example"), 0);
    assert_int_equal(gw_store_invite_add(s, "bob@contoso.example", "eve@p.example", 10), 0);
    assert_int_equal(gw_store_invite_add(s, "bob@contoso.example", "eve@p.example", 11), 0);
    assert_int_equal(gw_store_invite_has(s, "bob@contoso.example", "eve@p.example"), 1);
    assert_int_equal(gw_store_invite_has(s, "carol@contoso.example", "eve@p.example"), 0);
    assert_int_equal(raw_count("invitations"), 1);
    /* the first invitation's time is kept */
    assert_int_equal(raw_int("SELECT created FROM invitations"), 10);
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
    struct gw_store *s = open_store();
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

    s = open_store(); /* and starts again */
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

#define MANY 700 /* more than two PostgreSQL pages */

struct seen {
    unsigned char hit[MANY];
    int calls, dup, bad, stop_after;
};

static int seen_cb(void *arg, const struct gw_sub *s)
{
    struct seen *z = arg;
    unsigned i;
    z->calls++;
    if (sscanf(s->xmpp, "u%u@", &i) != 1 || i >= MANY) {
        z->bad++;
        return 0;
    }
    if (z->hit[i]++)
        z->dup++;
    return z->stop_after > 0 && z->calls >= z->stop_after;
}

static void each_visits_every_record_once(void **state)
{
    (void)state;
    struct gw_store *s = open_store();
    struct gw_sub a;
    for (unsigned i = 0; i < MANY; i++) {
        char x[64];
        snprintf(x, sizeof x, "u%u@fabrikam.example", i);
        /* both directions and poll flags, so keys differ in every column */
        sample(&a, i % 3 ? GW_SUB_S2X : GW_SUB_X2S, x,
               i % 2 ? "sip:romeo@contoso.example" : "sip:alice@contoso.example");
        a.poll = i % 5 == 0;
        assert_int_equal(gw_store_sub_put(s, &a), 0);
    }
    struct seen *z = calloc(1, sizeof *z);
    assert_non_null(z);
    assert_int_equal(gw_store_sub_each(s, seen_cb, z), 0);
    assert_int_equal(z->calls, MANY);
    assert_int_equal(z->dup, 0);
    assert_int_equal(z->bad, 0);
    /* a callback that returns non-zero stops the walk, which succeeded */
    memset(z, 0, sizeof *z);
    z->stop_after = 3;
    assert_int_equal(gw_store_sub_each(s, seen_cb, z), 0);
    assert_int_equal(z->calls, 3);
    free(z);
    /* an empty store calls nothing */
    int n = 0;
    gw_store_close(s);
    teardown(state);
    setup(state);
    s = open_store();
    assert_int_equal(gw_store_sub_each(s, count_cb, &n), 0);
    assert_int_equal(n, 0);
    gw_store_close(s);
}

struct refresh {
    struct gw_store *s;
    int calls, fails;
};

/* What a gateway does at start-up: walk its records and save each one
 * with a new timer. */
static int refresh_cb(void *arg, const struct gw_sub *sub)
{
    struct refresh *z = arg;
    struct gw_sub c = *sub;
    c.timer_at += 1000;
    z->fails += gw_store_sub_put(z->s, &c) != 0;
    return ++z->calls > 10 * MANY; /* a walk that revisits rows ends here */
}

static void each_callback_may_save_the_records(void **state)
{
    (void)state;
    struct gw_store *s = open_store();
    struct gw_sub a;
    for (unsigned i = 0; i < MANY; i++) {
        char x[64];
        snprintf(x, sizeof x, "u%u@fabrikam.example", i);
        sample(&a, GW_SUB_X2S, x, "sip:romeo@contoso.example");
        assert_int_equal(gw_store_sub_put(s, &a), 0);
    }
    struct refresh z = {.s = s};
    assert_int_equal(gw_store_sub_each(s, refresh_cb, &z), 0);
    assert_int_equal(z.calls, MANY);
    assert_int_equal(z.fails, 0);
    assert_int_equal(raw_int("SELECT count(*) FROM subscriptions WHERE timer_at = 1700004240"),
                     MANY);
    gw_store_close(s);
}

/* ---- two gateways ---------------------------------------------------------- */

#define ROUNDS 300
#define KEYS   20

/* One "gateway": opens its own store and upserts the same records as the
 * other one, as fast as it can. Exit 0 when every call succeeded. */
static int gateway_child(int id, int go)
{
    char c;
    if (read(go, &c, 1) < 0) /* the barrier: EOF when the parent closes it */
        return 2;
    const char *why = NULL;
    struct gw_store *s = gw_store_open(spec, &why);
    if (s == NULL) {
        fprintf(stderr, "child %d: open: %s\n", id, why);
        return 3;
    }
    int fails = 0;
    struct gw_sub a;
    for (int i = 0; i < ROUNDS; i++) {
        char x[64];
        snprintf(x, sizeof x, "user%d@fabrikam.example", i % KEYS);
        if (gw_sub_init(&a, GW_SUB_X2S, x, "sip:romeo@contoso.example", true) != 0)
            return 4;
        a.state = GW_SUB_ACTIVE;
        a.local_cseq = (uint32_t)(id * 100000 + i);
        snprintf(a.call_id, sizeof a.call_id, "cid-%d-%d", id, i);
        fails += gw_store_sub_put(s, &a) != 0;
        /* the same subscription, hammered by both */
        if (gw_sub_init(&a, GW_SUB_S2X, "hot@fabrikam.example", "sip:romeo@contoso.example",
                        true) != 0)
            return 4;
        a.local_cseq = (uint32_t)(id * 100000 + i);
        fails += gw_store_sub_put(s, &a) != 0;
        fails += gw_store_auth_set(s, GW_SUB_X2S, x, "sip:romeo@contoso.example", true) != 0;
        fails += gw_store_invite_add(s, "romeo@contoso.example", x, i) != 0;
    }
    gw_store_close(s);
    if (fails)
        fprintf(stderr, "child %d: %d failed calls\n", id, fails);
    return fails ? 1 : 0;
}

/* Starts n children running fn at the same moment; their exit statuses. */
static void run_together(int n, int (*fn)(int id, int go), int *status)
{
    int go[2];
    pid_t pid[8];
    assert_true(n <= 8);
    assert_int_equal(pipe(go), 0);
    fflush(NULL);
    for (int i = 0; i < n; i++) {
        pid[i] = fork();
        assert_true(pid[i] >= 0);
        if (pid[i] == 0) {
            close(go[1]);
            _exit(fn(i + 1, go[0]));
        }
    }
    close(go[0]);
    close(go[1]); /* go */
    for (int i = 0; i < n; i++)
        status[i] = wait_child(pid[i], 90000);
}

static void two_gateways_upserting_never_duplicate(void **state)
{
    (void)state;
    struct gw_store *s = open_store(); /* migrated before the race */
    gw_store_close(s);
    int st[2];
    double t0 = now_s();
    run_together(2, gateway_child, st);
    fprintf(stderr, "# two gateways: %d upserts each in %.2f s\n", ROUNDS * 4, now_s() - t0);
    assert_int_equal(st[0], 0);
    assert_int_equal(st[1], 0);
    assert_int_equal(raw_count("subscriptions"), KEYS + 1);
    assert_int_equal(raw_count("authorizations"), KEYS);
    assert_int_equal(raw_count("invitations"), KEYS);
    s = open_store();
    struct gw_sub got;
    assert_int_equal(gw_store_sub_get(s, GW_SUB_S2X, "hot@fabrikam.example",
                                      "sip:romeo@contoso.example", false, &got),
                     1);
    /* the record is one writer's last write, whole */
    assert_true(got.local_cseq == 100000 + ROUNDS - 1 || got.local_cseq == 200000 + ROUNDS - 1);
    int n = 0;
    assert_int_equal(gw_store_sub_each(s, count_cb, &n), 0);
    assert_int_equal(n, KEYS + 1);
    gw_store_close(s);
}

/* ---- ownership: leases and claims (issue 6 item 2) -------------------------- */

static struct gw_store *open_as(const char *id)
{
    struct gw_store *s = open_store();
    assert_int_equal(gw_store_set_owner(s, id), 0);
    return s;
}

static void put_user(struct gw_store *s, const char *xmpp)
{
    struct gw_sub a;
    sample(&a, GW_SUB_X2S, xmpp, "sip:romeo@contoso.example");
    assert_int_equal(gw_store_sub_put(s, &a), 0);
}

static int owner_of(struct gw_store *s, const char *xmpp, char *owner, size_t cap)
{
    struct gw_sub got;
    int rc = gw_store_sub_get(s, GW_SUB_X2S, xmpp, "sip:romeo@contoso.example", false, &got);
    snprintf(owner, cap, "%s", rc == 1 ? got.owner : "(none)");
    return rc;
}

struct seen_ids {
    char ids[8][64];
    int n;
};

static int id_cb(void *arg, const char *id)
{
    struct seen_ids *v = arg;
    if (v->n < 8)
        snprintf(v->ids[v->n++], sizeof v->ids[0], "%s", id);
    return 0;
}

struct seen_owner {
    int n;
    char owner[GW_SUB_OWNER_MAX];
};

static int owner_cb(void *arg, const struct gw_sub *s)
{
    struct seen_owner *v = arg;
    v->n++;
    snprintf(v->owner, sizeof v->owner, "%s", s->owner);
    return 0;
}

static int64_t each_count(struct gw_store *s, enum gw_store_filter f, int64_t now)
{
    struct seen_owner v = {0};
    assert_int_equal(gw_store_sub_each_where(s, f, now, owner_cb, &v), 0);
    return v.n;
}

/* gw2 owns a row; while its lease runs nobody else may claim it; once the
 * lease ran out it is an orphan, claimed by exactly one of gw1 and gw3;
 * gw2, come back, cannot write it back to itself by saving it. */
static void a_dead_gateways_subscription_is_claimed_once(void **state)
{
    (void)state;
    struct gw_store *g1 = open_as("gw1"), *g2 = open_as("gw2"), *g3 = open_as("gw3");
    char owner[GW_SUB_OWNER_MAX];
    const char *x = "juliet@fabrikam.example";
    assert_int_equal(gw_store_lease_renew(g1, 1000, 500), 0);
    assert_int_equal(gw_store_lease_renew(g2, 1000, 500), 0);
    assert_int_equal(gw_store_lease_renew(g3, 1000, 500), 0);
    put_user(g2, x);
    assert_int_equal(owner_of(g1, x, owner, sizeof owner), 1);
    assert_string_equal(owner, "gw2");
    assert_int_equal(each_count(g2, GW_STORE_MINE, 1200), 1);
    assert_int_equal(each_count(g1, GW_STORE_MINE, 1200), 0);
    assert_int_equal(each_count(g1, GW_STORE_ALL, 1200), 1);
    /* gw2's lease runs until 1500 */
    assert_int_equal(each_count(g1, GW_STORE_ORPHANS, 1499), 0);
    assert_int_equal(
        gw_store_sub_claim(g1, GW_SUB_X2S, x, "sip:romeo@contoso.example", false, 1499, false), 0);
    struct seen_ids live = {0};
    assert_int_equal(gw_store_live_each(g1, 1499, id_cb, &live), 0);
    assert_int_equal(live.n, 3);
    assert_string_equal(live.ids[0], "gw1");
    assert_string_equal(live.ids[2], "gw3");
    /* gw2 dies; gw1 and gw3 renew */
    assert_int_equal(gw_store_lease_renew(g1, 1600, 500), 0);
    assert_int_equal(gw_store_lease_renew(g3, 1600, 500), 0);
    memset(&live, 0, sizeof live);
    assert_int_equal(gw_store_live_each(g3, 1600, id_cb, &live), 0);
    assert_int_equal(live.n, 2);
    struct seen_owner orphans = {0};
    assert_int_equal(gw_store_sub_each_where(g1, GW_STORE_ORPHANS, 1600, owner_cb, &orphans), 0);
    assert_int_equal(orphans.n, 1);
    assert_string_equal(orphans.owner, "gw2"); /* who it comes from, for the log */
    assert_int_equal(
        gw_store_sub_claim(g1, GW_SUB_X2S, x, "sip:romeo@contoso.example", false, 1600, false), 1);
    assert_int_equal(
        gw_store_sub_claim(g3, GW_SUB_X2S, x, "sip:romeo@contoso.example", false, 1600, false), 0);
    /* claiming what is already ours says so again */
    assert_int_equal(
        gw_store_sub_claim(g1, GW_SUB_X2S, x, "sip:romeo@contoso.example", false, 1601, false), 1);
    assert_int_equal(owner_of(g3, x, owner, sizeof owner), 1);
    assert_string_equal(owner, "gw1");
    assert_int_equal(each_count(g1, GW_STORE_ORPHANS, 1600), 0);
    assert_int_equal(each_count(g3, GW_STORE_ORPHANS, 1600), 0);
    assert_int_equal(each_count(g1, GW_STORE_MINE, 1600), 1);
    /* gw2 comes back and saves its old copy: refused, the row stays gw1's */
    assert_int_equal(gw_store_lease_renew(g2, 1700, 500), 0);
    struct gw_sub old;
    sample(&old, GW_SUB_X2S, x, "sip:romeo@contoso.example");
    old.local_cseq = 7;
    assert_int_equal(gw_store_sub_put(g2, &old), 1);
    struct gw_sub got;
    assert_int_equal(gw_store_sub_get(g2, GW_SUB_X2S, x, "sip:romeo@contoso.example", false, &got),
                     1);
    assert_string_equal(got.owner, "gw1");
    assert_int_not_equal(got.local_cseq, 7);
    /* the owner's own writes go through; a forced claim (the user's traffic
     * goes to gw3 now) moves it, and gw1 can no longer write it */
    assert_int_equal(gw_store_sub_put(g1, &old), 0);
    assert_int_equal(
        gw_store_sub_claim(g3, GW_SUB_X2S, x, "sip:romeo@contoso.example", false, 1700, true), 1);
    assert_int_equal(gw_store_sub_put(g1, &old), 1);
    assert_int_equal(owner_of(g1, x, owner, sizeof owner), 1);
    assert_string_equal(owner, "gw3");
    /* no such row: nothing claimed */
    assert_int_equal(gw_store_sub_claim(g3, GW_SUB_X2S, "nobody@fabrikam.example",
                                        "sip:romeo@contoso.example", false, 1700, true),
                     0);
    gw_store_close(g1);
    gw_store_close(g2);
    gw_store_close(g3);
}

/* Rows written before owners existed (migration 3: owner "") are orphans
 * for every gateway, and a gateway loads only its own rows. */
static void rows_without_owner_are_orphans(void **state)
{
    (void)state;
    struct gw_store *legacy = open_store(); /* no id: owner "" */
    put_user(legacy, "a@fabrikam.example");
    put_user(legacy, "b@fabrikam.example");
    gw_store_close(legacy);
    struct gw_store *g1 = open_as("gw1");
    assert_int_equal(gw_store_lease_renew(g1, 5000, 1000), 0);
    assert_int_equal(each_count(g1, GW_STORE_MINE, 5000), 0);
    assert_int_equal(each_count(g1, GW_STORE_ORPHANS, 5000), 2);
    assert_int_equal(gw_store_sub_claim(g1, GW_SUB_X2S, "a@fabrikam.example",
                                        "sip:romeo@contoso.example", false, 5000, false),
                     1);
    assert_int_equal(each_count(g1, GW_STORE_MINE, 5000), 1);
    assert_int_equal(each_count(g1, GW_STORE_ORPHANS, 5000), 1);
    /* a nobody's row is written by anyone, and becomes the writer's */
    put_user(g1, "b@fabrikam.example");
    assert_int_equal(each_count(g1, GW_STORE_MINE, 5000), 2);
    gw_store_close(g1);
}

#define SCAN_ROWS 20000

/* What each gateway's takeover period costs: the orphan walk over a store of
 * SCAN_ROWS subscriptions of three live gateways and 20 of a dead one finds
 * exactly those 20 (the time is printed: it runs every sub_takeover_ms on
 * every gateway). */
static void orphan_walk_over_many_rows(void **state)
{
    (void)state;
    struct gw_store *g1 = open_as("gw1");
    char sql[1024];
    snprintf(sql, sizeof sql,
             "INSERT INTO subscriptions (dir, xmpp, sip, poll, state, authorized, notified,"
             " call_id, local_tag, remote_tag, local_cseq, remote_cseq, remote_target, route_set,"
             " expires, expires_at, timer_at, failures, owner)"
             " WITH RECURSIVE g(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM g WHERE x < %d)"
             " SELECT 0, 'u' || x || '@fabrikam.example', 'sip:romeo@contoso.example', 0, 3, 1,"
             " 1, 'c' || x, 't', 'r', 1, 1, '', '', 3600, 0, 0, 0,"
             " CASE WHEN x <= 20 THEN 'gw9' ELSE 'gw' || (x %% 3 + 1) END FROM g",
             SCAN_ROWS);
    assert_int_equal(raw_exec(sql), 0);
    struct gw_store *g2 = open_as("gw2"), *g3 = open_as("gw3"), *g9 = open_as("gw9");
    assert_int_equal(gw_store_lease_renew(g9, 0, 1000), 0);
    assert_int_equal(gw_store_lease_renew(g1, 100000, 15000), 0);
    assert_int_equal(gw_store_lease_renew(g2, 100000, 15000), 0);
    assert_int_equal(gw_store_lease_renew(g3, 100000, 15000), 0);
    if (use_pg)
        assert_int_equal(raw_exec("ANALYZE subscriptions; ANALYZE gateways"), 0);
    double best = 1e9;
    for (int i = 0; i < 3; i++) {
        double t0 = now_s();
        assert_int_equal(each_count(g1, GW_STORE_ORPHANS, 100000), 20);
        double t = now_s() - t0;
        if (t < best)
            best = t;
    }
    fprintf(stderr, "# orphan walk over %d rows (20 orphans): %.2f ms\n", SCAN_ROWS, best * 1e3);
    gw_store_close(g1);
    gw_store_close(g2);
    gw_store_close(g3);
    gw_store_close(g9);
}

#define CLAIM_ROWS 60

/* One of three gateways claiming the same orphans at once: exits with the
 * number it got (or 200+ on a failed call). */
static int claimer_child(int id, int go)
{
    char c, me[16];
    const char *why = NULL;
    struct gw_store *s = gw_store_open(spec, &why);
    if (s == NULL)
        return 201;
    snprintf(me, sizeof me, "gw%d", id);
    if (gw_store_set_owner(s, me) != 0 || gw_store_lease_renew(s, 10000, 60000) != 0)
        return 202;
    if (read(go, &c, 1) < 0)
        return 203;
    int got = 0;
    for (int k = 0; k < CLAIM_ROWS; k++) {
        char x[64];
        int i = (k + id * CLAIM_ROWS / 3) % CLAIM_ROWS; /* each starts elsewhere, then overlaps */
        snprintf(x, sizeof x, "user%d@fabrikam.example", i);
        int rc =
            gw_store_sub_claim(s, GW_SUB_X2S, x, "sip:romeo@contoso.example", false, 10000, false);
        if (rc < 0)
            return 204;
        got += rc;
    }
    gw_store_close(s);
    return got;
}

static void racing_claims_give_each_row_one_owner(void **state)
{
    (void)state;
    struct gw_store *dead = open_as("gw9"); /* owned every row, lease long gone */
    assert_int_equal(gw_store_lease_renew(dead, 0, 1), 0);
    for (int i = 0; i < CLAIM_ROWS; i++) {
        char x[64];
        snprintf(x, sizeof x, "user%d@fabrikam.example", i);
        put_user(dead, x);
    }
    gw_store_close(dead);
    int st[3];
    run_together(3, claimer_child, st);
    int total = 0;
    for (int i = 0; i < 3; i++) {
        char sql[96];
        assert_true(st[i] >= 0 && st[i] <= CLAIM_ROWS);
        snprintf(sql, sizeof sql, "SELECT count(*) FROM subscriptions WHERE owner='gw%d'", i + 1);
        assert_int_equal(raw_int(sql), st[i]); /* what each saw is what it owns */
        total += st[i];
    }
    fprintf(stderr, "# racing claims: gw1 %d, gw2 %d, gw3 %d of %d\n", st[0], st[1], st[2],
            CLAIM_ROWS);
    assert_int_equal(total, CLAIM_ROWS); /* every row claimed exactly once */
    assert_int_equal(raw_int("SELECT count(*) FROM subscriptions WHERE owner='gw9'"), 0);
}

static int opener_child(int id, int go)
{
    char c;
    (void)id;
    if (read(go, &c, 1) < 0)
        return 2;
    const char *why = NULL;
    struct gw_store *s = gw_store_open(spec, &why);
    if (s == NULL) {
        fprintf(stderr, "opener %d: %s\n", id, why);
        return 1;
    }
    int v = gw_store_schema_version(s);
    gw_store_close(s);
    return v == gw_store_schema_latest() ? 0 : 5;
}

static void gateways_starting_together_migrate_once(void **state)
{
    (void)state;
    int st[6];
    run_together(6, opener_child, st);
    for (int i = 0; i < 6; i++)
        assert_int_equal(st[i], 0);
    assert_int_equal(raw_count("xfed_schema"), 1);
    assert_int_equal(raw_int("SELECT version FROM xfed_schema"), gw_store_schema_latest());
}

/* ---- PostgreSQL: the connection ------------------------------------------- */

static void reconnects_after_a_server_restart(void **state)
{
    (void)state;
    struct gw_store *s = open_store();
    struct gw_sub a, got;
    sample(&a, GW_SUB_X2S, "juliet@fabrikam.example", "sip:romeo@contoso.example");
    assert_int_equal(gw_store_sub_put(s, &a), 0);
    double t0 = now_s();
    assert_int_equal(pg_ctl("restart"), 0);
    fprintf(stderr, "# server restart took %.2f s\n", now_s() - t0);
    /* the call that meets the lost connection fails ... */
    assert_int_equal(gw_store_sub_get(s, GW_SUB_X2S, a.xmpp, a.sip, false, &got), -1);
    /* ... and the next one reconnects and works, prepared statements too */
    assert_int_equal(gw_store_sub_get(s, GW_SUB_X2S, a.xmpp, a.sip, false, &got), 1);
    assert_memory_equal(&got, &a, sizeof a);
    a.local_cseq++;
    assert_int_equal(gw_store_sub_put(s, &a), 0);
    assert_int_equal(gw_store_invite_add(s, "romeo@contoso.example", "eve@p.example", 1), 0);
    gw_store_close(s);
}

/* Asks for romeo's invitation every 100 ms, at most tries times, until the
 * store answers 1 (it is back); the last answer. */
static int invitation_back(struct gw_store *s, int tries)
{
    int r = -1;
    for (int i = 0; i < tries && r != 1; i++) {
        r = gw_store_invite_has(s, "romeo@contoso.example", "eve@p.example");
        if (r != 1) {
            struct timespec t = {0, 100 * 1000 * 1000};
            nanosleep(&t, NULL);
        }
    }
    return r;
}

static void fails_fast_while_the_server_is_down_then_recovers(void **state)
{
    (void)state;
    struct gw_store *s = open_store();
    assert_int_equal(gw_store_invite_add(s, "romeo@contoso.example", "eve@p.example", 1), 0);
    assert_int_equal(pg_ctl("stop"), 0);
    double t0 = now_s();
    /* lost, then one failed reconnection per call; none of them hangs */
    assert_int_equal(gw_store_invite_has(s, "romeo@contoso.example", "eve@p.example"), -1);
    assert_int_equal(gw_store_invite_has(s, "romeo@contoso.example", "eve@p.example"), -1);
    assert_int_equal(gw_store_invite_add(s, "romeo@contoso.example", "bob@p.example", 2), -1);
    int n = 0;
    assert_int_equal(gw_store_sub_each(s, count_cb, &n), -1);
    assert_int_equal(gw_store_schema_version(s), -1);
    double took = now_s() - t0;
    fprintf(stderr, "# five calls with the server down: %.3f s\n", took);
    assert_true(took < 5.0);
    assert_int_equal(pg_ctl("start"), 0);
    /* within GW_STORE_PG_RETRY_MS of the failed attempt, calls still fail
     * without trying; then the next call reconnects */
    assert_int_equal(invitation_back(s, 40), 1);
    fprintf(stderr, "# back %.2f s after the first failure\n", now_s() - t0);
    assert_true(now_s() - t0 >= GW_STORE_PG_RETRY_MS / 1000.0);
    assert_int_equal(gw_store_schema_version(s), gw_store_schema_latest());
    gw_store_close(s);
    /* a store cannot be opened while the server is down */
    assert_int_equal(pg_ctl("stop"), 0);
    const char *why = NULL;
    assert_null(gw_store_open(spec, &why));
    assert_string_equal(why, "cannot connect to the PostgreSQL database");
    assert_int_equal(pg_ctl("start"), 0);
}

static void sleep_until(double t)
{
    double d = t - now_s();
    if (d > 0) {
        struct timespec ts = {(time_t)d, (long)((d - (double)(time_t)d) * 1e9)};
        nanosleep(&ts, NULL);
    }
}

/* gw_store_pg.h: the wait after a failed reconnection doubles (1 s, 2 s, ...
 * up to GW_STORE_PG_RETRY_MAX_MS); calls within it fail without trying, even
 * once the server is back; a success resets it. */
static void reconnection_attempts_back_off(void **state)
{
    (void)state;
    assert_true(GW_STORE_PG_RETRY_MAX_MS >= 2 * GW_STORE_PG_RETRY_MS);
    struct gw_store *s = open_store();
    assert_int_equal(gw_store_invite_add(s, "romeo@contoso.example", "eve@p.example", 1), 0);
    assert_int_equal(pg_ctl("stop"), 0);
    assert_int_equal(gw_store_invite_has(s, "romeo@contoso.example", "eve@p.example"), -1);
    /* attempt 1 fails: no attempt for GW_STORE_PG_RETRY_MS */
    assert_int_equal(gw_store_invite_has(s, "romeo@contoso.example", "eve@p.example"), -1);
    double t1 = now_s();
    sleep_until(t1 + GW_STORE_PG_RETRY_MS / 1000.0 + 0.1);
    /* attempt 2 fails: no attempt for twice as long */
    assert_int_equal(gw_store_invite_has(s, "romeo@contoso.example", "eve@p.example"), -1);
    double t2 = now_s();
    assert_int_equal(pg_ctl("start"), 0);
    sleep_until(t2 + GW_STORE_PG_RETRY_MS / 1000.0 + 0.1);
    /* the server answers a new connection, but this store is still waiting */
    const char *why = NULL;
    struct gw_store *other = gw_store_open(spec, &why);
    assert_non_null(other);
    gw_store_close(other);
    if (now_s() < t2 + 2 * GW_STORE_PG_RETRY_MS / 1000.0 - 0.1)
        assert_int_equal(gw_store_invite_has(s, "romeo@contoso.example", "eve@p.example"), -1);
    else
        fprintf(stderr, "# the server took too long to start: the wait was not observed\n");
    sleep_until(t2 + 2 * GW_STORE_PG_RETRY_MS / 1000.0 + 0.1);
    assert_int_equal(gw_store_invite_has(s, "romeo@contoso.example", "eve@p.example"), 1);
    /* reset: after the next failed attempt the wait is GW_STORE_PG_RETRY_MS again */
    assert_int_equal(pg_ctl("stop"), 0);
    assert_int_equal(gw_store_invite_has(s, "romeo@contoso.example", "eve@p.example"), -1);
    assert_int_equal(gw_store_invite_has(s, "romeo@contoso.example", "eve@p.example"), -1);
    double t3 = now_s();
    assert_int_equal(pg_ctl("start"), 0);
    sleep_until(t3 + GW_STORE_PG_RETRY_MS / 1000.0 + 0.1);
    assert_int_equal(gw_store_invite_has(s, "romeo@contoso.example", "eve@p.example"), 1);
    gw_store_close(s);
}

/* A server that takes the connection and never answers (to libpq, a host
 * that drops packets looks the same: nothing comes back). The store's
 * reconnection must not block the gateway's loop meanwhile: no call waits
 * longer than GW_STORE_PG_CONNECT_FIRST_MS; the attempt is given up after
 * GW_STORE_PG_CONNECT_MS; the store comes back with the server. Before,
 * each attempt blocked for connect_timeout (5 s). */
static void reconnection_never_blocks_on_a_silent_server(void **state)
{
    (void)state;
    char host[512] = "";
    int port = 0;
    const char *h = strstr(pg_info, "host="), *pt = strstr(pg_info, "port=");
    assert_non_null(h);
    assert_non_null(pt);
    assert_int_equal(sscanf(h, "host=%511s", host), 1);
    assert_int_equal(sscanf(pt, "port=%d", &port), 1);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int n = snprintf(sa.sun_path, sizeof sa.sun_path, "%s/.s.PGSQL.%d", host, port);
    assert_true(n > 0 && (size_t)n < sizeof sa.sun_path);

    struct gw_store *s = open_store();
    assert_int_equal(gw_store_invite_add(s, "romeo@contoso.example", "eve@p.example", 1), 0);
    assert_int_equal(pg_ctl("stop"), 0);
    int l = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(l >= 0);
    assert_int_equal(bind(l, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(l, 16), 0); /* never accepted: the kernel queues them */
    double t0 = now_s(), worst = 0;
    int calls = 0;
    while (now_s() - t0 < GW_STORE_PG_CONNECT_MS / 1000.0 + 1.5) {
        double c0 = now_s();
        assert_int_equal(gw_store_invite_has(s, "romeo@contoso.example", "eve@p.example"), -1);
        if (now_s() - c0 > worst)
            worst = now_s() - c0;
        calls++;
        struct timespec t = {0, 50 * 1000 * 1000};
        nanosleep(&t, NULL);
    }
    fprintf(stderr, "# %d calls against a silent server in %.1f s, the longest %.3f s\n", calls,
            now_s() - t0, worst);
    assert_true(worst < (GW_STORE_PG_CONNECT_FIRST_MS + 150) / 1000.0);
    close(l);
    unlink(sa.sun_path);
    assert_int_equal(pg_ctl("start"), 0);
    assert_int_equal(invitation_back(s, 150), 1);
    gw_store_close(s);
}

static void reconnection_refuses_a_schema_another_gateway_upgraded(void **state)
{
    (void)state;
    struct gw_store *s = open_store();
    assert_int_equal(pg_ctl("restart"), 0);
    assert_int_equal(raw_set_version(gw_store_schema_latest() + 1), 0);
    assert_int_equal(gw_store_invite_has(s, "a@b", "c@d"), -1); /* lost */
    assert_int_equal(gw_store_invite_has(s, "a@b", "c@d"), -1); /* refused */
    assert_int_equal(raw_set_version(gw_store_schema_latest()), 0);
    /* the next attempt, GW_STORE_PG_RETRY_MS later, succeeds */
    assert_int_equal(gw_store_invite_has(s, "a@b", "c@d"), -1);
    struct timespec t = {GW_STORE_PG_RETRY_MS / 1000, (GW_STORE_PG_RETRY_MS % 1000) * 1000000L};
    nanosleep(&t, NULL);
    assert_int_equal(gw_store_invite_has(s, "a@b", "c@d"), 0); /* back */
    gw_store_close(s);
}

static void text_that_is_not_utf8_is_refused(void **state)
{
    (void)state;
    struct gw_store *s = open_store();
    struct gw_sub a, got;
    sample(&a, GW_SUB_X2S, "juliet@fabrikam.example", "sip:romeo@contoso.example");
    SET(a.route_set, "<sip:\xff\xfe;lr>");
    assert_int_equal(gw_store_sub_put(s, &a), -1);
    assert_int_equal(gw_store_sub_get(s, GW_SUB_X2S, "j\xc0\xafx", a.sip, false, &got), 0);
    assert_int_equal(gw_store_sub_delete(s, GW_SUB_X2S, "j\xc0\xafx", a.sip, false), 0);
    assert_int_equal(gw_store_auth_set(s, GW_SUB_X2S, "j\xc0\xafx", a.sip, true), -1);
    assert_int_equal(gw_store_auth_get(s, GW_SUB_X2S, "j\xc0\xafx", a.sip), 0);
    assert_int_equal(gw_store_invite_add(s, "r@c", "\xed\xa0\x80@x", 1), -1);
    assert_int_equal(gw_store_invite_has(s, "r@c", "\xed\xa0\x80@x"), 0);
    /* the connection is still good */
    SET(a.route_set, "<sip:ok;lr>");
    assert_int_equal(gw_store_sub_put(s, &a), 0);
    assert_int_equal(raw_count("subscriptions"), 1);
    gw_store_close(s);
}

/* ---- the spec ------------------------------------------------------------- */

static void store_spec_names_the_back_end(void **state)
{
    (void)state;
    enum gw_store_kind k;
    const char *t, *why;
    assert_int_equal(gw_store_spec_parse("/var/lib/xfed/gateway/state.db", &k, &t, &why), 0);
    assert_int_equal(k, GW_STORE_SQLITE);
    assert_string_equal(t, "/var/lib/xfed/gateway/state.db");
    assert_int_equal(gw_store_spec_parse("sqlite:/tmp/x.db", &k, &t, &why), 0);
    assert_int_equal(k, GW_STORE_SQLITE);
    assert_string_equal(t, "/tmp/x.db");
    assert_int_equal(gw_store_spec_parse(":memory:", &k, &t, &why), 0);
    assert_int_equal(k, GW_STORE_SQLITE);
    assert_int_equal(gw_store_spec_parse("state.db", &k, &t, &why), 0);
    assert_int_equal(k, GW_STORE_SQLITE);
    assert_int_equal(gw_store_spec_parse("postgresql:host=db1 dbname=xfed user=xfed", &k, &t, &why),
                     0);
    assert_int_equal(k, GW_STORE_POSTGRESQL);
    assert_string_equal(t, "host=db1 dbname=xfed user=xfed");
    assert_int_equal(gw_store_spec_parse("postgresql://xfed@db1:5433/xfed", &k, &t, &why), 0);
    assert_int_equal(k, GW_STORE_POSTGRESQL);
    assert_string_equal(t, "postgresql://xfed@db1:5433/xfed");
    assert_int_equal(gw_store_spec_parse("postgres:xfed", &k, &t, &why), 0);
    assert_string_equal(t, "xfed");
    assert_int_equal(gw_store_spec_parse("PostgreSQL:dbname=x", &k, &t, &why), 0);
    assert_int_equal(k, GW_STORE_POSTGRESQL);
    /* refused */
    assert_int_equal(gw_store_spec_parse("", &k, &t, &why), -1);
    assert_int_equal(gw_store_spec_parse(NULL, &k, &t, &why), -1);
    assert_int_equal(gw_store_spec_parse("sqlite:", &k, &t, &why), -1);
    assert_int_equal(gw_store_spec_parse("postgresql:", &k, &t, &why), -1);
    assert_int_equal(gw_store_spec_parse("postgresql:host=db1 dbname", &k, &t, &why), -1);
    assert_int_equal(gw_store_spec_parse("postgresql:nosuchkey=1", &k, &t, &why), -1);
    assert_int_equal(gw_store_spec_parse("mysql:host=db1", &k, &t, &why), -1);
    assert_string_equal(why, "the store setting has an unknown type (use sqlite:PATH or"
                             " postgresql:CONNINFO)");
    assert_null(gw_store_open("mysql:host=db1", &why));
    assert_null(gw_store_open("mysql:host=db1", NULL));
}

/* What -n and the start log show of state_db: never the password. */
static void store_spec_description_hides_the_password(void **state)
{
    (void)state;
    char b[256];
    gw_store_spec_describe("/var/lib/x/state.db", b, sizeof b);
    assert_string_equal(b, "sqlite /var/lib/x/state.db");
    gw_store_spec_describe("postgresql:host=db1 port=5433 dbname=xfed user=gw "
                           "password=S3cr3t sslmode=require",
                           b, sizeof b);
    assert_string_equal(b, "postgresql host=db1 port=5433 dbname=xfed user=gw");
    gw_store_spec_describe("postgresql://gw:S3cr3t@db1:5433/xfed?sslpassword=S3cr3t", b, sizeof b);
    assert_string_equal(b, "postgresql host=db1 port=5433 dbname=xfed user=gw");
    gw_store_spec_describe("postgres:xfed", b, sizeof b);
    assert_string_equal(b, "postgresql dbname=xfed");
    gw_store_spec_describe("postgresql:password=S3cr3t", b, sizeof b);
    assert_null(strstr(b, "S3cr3t"));
    gw_store_spec_describe("postgresql:host='db1 password=S3cr3t", b, sizeof b);
    assert_string_equal(b, "(invalid)");
    gw_store_spec_describe("mysql:x", b, sizeof b);
    assert_string_equal(b, "(invalid)");
    gw_store_spec_describe("postgresql:host=db1", b, 8); /* truncated, terminated */
    assert_int_equal(strlen(b), 7);
}

int main(int argc, char **argv)
{
    const char *backend = argc > 1 ? argv[1] : "sqlite";
    if (strcmp(backend, "postgresql") == 0) {
        use_pg = true;
        pg_info = getenv("XFED_PG_CONNINFO");
        if (pg_info == NULL || strlen(pg_info) > 1500) {
            fprintf(stderr, "XFED_PG_CONNINFO is not set: run me through pg_store_test.py\n");
            return 1;
        }
    } else if (strcmp(backend, "sqlite") != 0) {
        fprintf(stderr, "usage: %s [sqlite|postgresql]\n", argv[0]);
        return 2;
    }
    /* Cases for every back end, then cases that only PostgreSQL has a
     * meaning for (a server to restart, several gateways on one database,
     * text checks SQLite does not make). */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(store_spec_names_the_back_end),
        cmocka_unit_test(store_spec_description_hides_the_password),
        cmocka_unit_test_setup_teardown(migrations_run_from_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(older_schema_is_migrated_keeping_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(newer_database_is_refused_and_left_alone, setup, teardown),
        cmocka_unit_test_setup_teardown(unreachable_database_is_reported, setup, teardown),
        cmocka_unit_test_setup_teardown(subscriptions_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(authorisations_and_invitations, setup, teardown),
        cmocka_unit_test_setup_teardown(restart_keeps_the_state, setup, teardown),
        cmocka_unit_test_setup_teardown(each_visits_every_record_once, setup, teardown),
        cmocka_unit_test_setup_teardown(each_callback_may_save_the_records, setup, teardown),
        cmocka_unit_test_setup_teardown(two_gateways_upserting_never_duplicate, setup, teardown),
        cmocka_unit_test_setup_teardown(a_dead_gateways_subscription_is_claimed_once, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(rows_without_owner_are_orphans, setup, teardown),
        cmocka_unit_test_setup_teardown(racing_claims_give_each_row_one_owner, setup, teardown),
        cmocka_unit_test_setup_teardown(orphan_walk_over_many_rows, setup, teardown),
    };
    const struct CMUnitTest pg_tests[] = {
        cmocka_unit_test_setup_teardown(gateways_starting_together_migrate_once, setup, teardown),
        cmocka_unit_test_setup_teardown(reconnects_after_a_server_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(fails_fast_while_the_server_is_down_then_recovers, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(reconnection_refuses_a_schema_another_gateway_upgraded,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(reconnection_attempts_back_off, setup, teardown),
        cmocka_unit_test_setup_teardown(reconnection_never_blocks_on_a_silent_server, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(text_that_is_not_utf8_is_refused, setup, teardown),
    };
    int failed = cmocka_run_group_tests_name(use_pg ? "store: postgresql" : "store: sqlite", tests,
                                             NULL, NULL);
    if (use_pg)
        failed += cmocka_run_group_tests_name("store: postgresql only", pg_tests, NULL, NULL);
    return failed;
}
