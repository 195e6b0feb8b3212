/*
 * gw_store.c - the store interface and its SQLite back end (see
 * gw_store.h). The only code in xfed that touches SQLite.
 */
#include "gw_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

/* Numbered migrations: entry i takes the schema from version i to i + 1.
 * Never edit a released entry; append a new one. */
static const char *const migrations[] = {
    /* 1: the three tables */
    "CREATE TABLE subscriptions ("
    " dir INTEGER NOT NULL, xmpp TEXT NOT NULL, sip TEXT NOT NULL, poll INTEGER NOT NULL,"
    " state INTEGER NOT NULL, authorized INTEGER NOT NULL, notified INTEGER NOT NULL,"
    " call_id TEXT NOT NULL, local_tag TEXT NOT NULL, remote_tag TEXT NOT NULL,"
    " local_cseq INTEGER NOT NULL, remote_cseq INTEGER NOT NULL,"
    " remote_target TEXT NOT NULL, route_set TEXT NOT NULL,"
    " expires INTEGER NOT NULL, expires_at INTEGER NOT NULL, timer_at INTEGER NOT NULL,"
    " failures INTEGER NOT NULL,"
    " PRIMARY KEY (dir, xmpp, sip, poll));"
    "CREATE TABLE authorizations ("
    " dir INTEGER NOT NULL, xmpp TEXT NOT NULL, sip TEXT NOT NULL,"
    " PRIMARY KEY (dir, xmpp, sip));"
    "CREATE TABLE invitations ("
    " internal TEXT NOT NULL, partner TEXT NOT NULL, created INTEGER NOT NULL,"
    " PRIMARY KEY (internal, partner));",
    /* 2: find a dialog by Call-ID and our tag (in-dialog requests) */
    "CREATE INDEX subscriptions_dialog ON subscriptions (call_id, local_tag);",
    /* 3: an owner for every subscription, and the gateways' leases (several
     * gateways on one store, issue 6 item 2) */
    "ALTER TABLE subscriptions ADD COLUMN owner TEXT NOT NULL DEFAULT '';"
    "CREATE INDEX subscriptions_owner ON subscriptions (owner, dir, xmpp, sip, poll);"
    "CREATE TABLE gateways (id TEXT PRIMARY KEY, lease_until INTEGER NOT NULL);",
};

#define N_MIGRATIONS ((int)(sizeof migrations / sizeof migrations[0]))

int gw_store_schema_latest(void)
{
    return N_MIGRATIONS;
}

struct sql_store {
    struct gw_store base; /* first: the handle */
    sqlite3 *db;
};

static sqlite3 *db_of(struct gw_store *s)
{
    return ((struct sql_store *)s)->db;
}

static int exec(sqlite3 *db, const char *sql)
{
    return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

static int user_version(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    int v = -1;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return v;
}

int gw_store_sqlite_version(struct gw_store *s)
{
    return user_version(db_of(s));
}

/* Each migration runs in its own IMMEDIATE transaction that also reads the
 * version, so that processes opening one new file together apply every
 * migration exactly once. */
static int migrate(sqlite3 *db, const char **why)
{
    for (;;) {
        if (exec(db, "BEGIN IMMEDIATE") != 0) {
            *why = "cannot lock the database to read its schema version";
            return -1;
        }
        int v = user_version(db);
        if (v < 0 || v > N_MIGRATIONS) {
            exec(db, "ROLLBACK");
            *why = v < 0 ? "cannot read the schema version"
                         : "the database was written by a newer xfed-gateway";
            return -1;
        }
        if (v == N_MIGRATIONS)
            return exec(db, "COMMIT");
        char pragma[64];
        snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d;", v + 1);
        if (exec(db, migrations[v]) != 0 || exec(db, pragma) != 0 || exec(db, "COMMIT") != 0) {
            exec(db, "ROLLBACK");
            *why = "a schema migration failed";
            return -1;
        }
    }
}

/* ---- statements ------------------------------------------------------------ */

static sqlite3_stmt *prep(struct gw_store *s, const char *sql)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db_of(s), sql, -1, &st, NULL) != SQLITE_OK)
        return NULL;
    return st;
}

static int step_done(sqlite3_stmt *st)
{
    int rc = st ? sqlite3_step(st) : SQLITE_ERROR;
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
    sqlite3_bind_text(st, i, v ? v : "", -1, SQLITE_TRANSIENT);
}

/* The primary key (dir, xmpp, sip, poll) as parameters 1 to 4. */
static void bind_key(sqlite3_stmt *st, enum gw_sub_dir dir, const char *xmpp, const char *sip,
                     bool poll)
{
    sqlite3_bind_int(st, 1, dir);
    bind_text(st, 2, xmpp);
    bind_text(st, 3, sip);
    sqlite3_bind_int(st, 4, poll);
}

static void col_text(sqlite3_stmt *st, int i, char *dst, size_t cap)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    size_t n = t ? strlen((const char *)t) : 0;
    if (n >= cap)
        n = cap - 1;
    if (n > 0)
        memcpy(dst, t, n);
    dst[n] = '\0';
}

#define SUB_COLS                                                                                   \
    "dir, xmpp, sip, poll, state, authorized, notified, call_id, local_tag, remote_tag,"           \
    " local_cseq, remote_cseq, remote_target, route_set, expires, expires_at, timer_at, failures," \
    " owner"

static void row_to_sub(sqlite3_stmt *st, struct gw_sub *o)
{
    memset(o, 0, sizeof *o);
    o->dir = sqlite3_column_int(st, 0) ? GW_SUB_S2X : GW_SUB_X2S;
    col_text(st, 1, o->xmpp, sizeof o->xmpp);
    col_text(st, 2, o->sip, sizeof o->sip);
    o->poll = sqlite3_column_int(st, 3) != 0;
    int state = sqlite3_column_int(st, 4);
    o->state = (state >= GW_SUB_IDLE && state <= GW_SUB_TERMINATED) ? (enum gw_sub_state)state
                                                                    : GW_SUB_TERMINATED;
    o->authorized = sqlite3_column_int(st, 5) != 0;
    o->notified = sqlite3_column_int(st, 6) != 0;
    col_text(st, 7, o->call_id, sizeof o->call_id);
    col_text(st, 8, o->local_tag, sizeof o->local_tag);
    col_text(st, 9, o->remote_tag, sizeof o->remote_tag);
    o->local_cseq = (uint32_t)sqlite3_column_int64(st, 10);
    o->remote_cseq = (uint32_t)sqlite3_column_int64(st, 11);
    col_text(st, 12, o->remote_target, sizeof o->remote_target);
    col_text(st, 13, o->route_set, sizeof o->route_set);
    o->expires = (uint32_t)sqlite3_column_int64(st, 14);
    o->expires_at = sqlite3_column_int64(st, 15);
    o->timer_at = sqlite3_column_int64(st, 16);
    o->failures = (uint32_t)sqlite3_column_int64(st, 17);
    col_text(st, 18, o->owner, sizeof o->owner);
}

static int sql_sub_put(struct gw_store *s, const struct gw_sub *b)
{
    /* a new row, or ours, or nobody's; an id-less store writes any */
    sqlite3_stmt *st = prep(
        s, "INSERT INTO subscriptions (" SUB_COLS ") VALUES"
           " (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT (dir, xmpp, sip, poll)"
           " DO UPDATE SET state=excluded.state, authorized=excluded.authorized,"
           " notified=excluded.notified, call_id=excluded.call_id, local_tag=excluded.local_tag,"
           " remote_tag=excluded.remote_tag, local_cseq=excluded.local_cseq,"
           " remote_cseq=excluded.remote_cseq, remote_target=excluded.remote_target,"
           " route_set=excluded.route_set, expires=excluded.expires,"
           " expires_at=excluded.expires_at, timer_at=excluded.timer_at,"
           " failures=excluded.failures, owner=excluded.owner"
           " WHERE subscriptions.owner=excluded.owner OR subscriptions.owner=''"
           " OR excluded.owner=''");
    if (st == NULL)
        return -1;
    sqlite3_bind_int(st, 1, b->dir);
    bind_text(st, 2, b->xmpp);
    bind_text(st, 3, b->sip);
    sqlite3_bind_int(st, 4, b->poll);
    sqlite3_bind_int(st, 5, b->state);
    sqlite3_bind_int(st, 6, b->authorized);
    sqlite3_bind_int(st, 7, b->notified);
    bind_text(st, 8, b->call_id);
    bind_text(st, 9, b->local_tag);
    bind_text(st, 10, b->remote_tag);
    sqlite3_bind_int64(st, 11, b->local_cseq);
    sqlite3_bind_int64(st, 12, b->remote_cseq);
    bind_text(st, 13, b->remote_target);
    bind_text(st, 14, b->route_set);
    sqlite3_bind_int64(st, 15, b->expires);
    sqlite3_bind_int64(st, 16, b->expires_at);
    sqlite3_bind_int64(st, 17, b->timer_at);
    sqlite3_bind_int64(st, 18, b->failures);
    bind_text(st, 19, s->owner);
    if (step_done(st) != 0)
        return -1;
    return sqlite3_changes(db_of(s)) == 1 ? 0 : 1;
}

static int one_sub(sqlite3_stmt *st, struct gw_sub *out)
{
    if (st == NULL)
        return -1;
    int rc = sqlite3_step(st);
    int r = rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
    if (r == 1)
        row_to_sub(st, out);
    sqlite3_finalize(st);
    return r;
}

static int sql_sub_get(struct gw_store *s, enum gw_sub_dir dir, const char *xmpp, const char *sip,
                       bool poll, struct gw_sub *out)
{
    sqlite3_stmt *st = prep(s, "SELECT " SUB_COLS " FROM subscriptions WHERE dir=? AND xmpp=?"
                               " AND sip=? AND poll=?");
    if (st == NULL)
        return -1;
    bind_key(st, dir, xmpp, sip, poll);
    return one_sub(st, out);
}

static int sql_sub_by_dialog(struct gw_store *s, const char *call_id, const char *local_tag,
                             struct gw_sub *out)
{
    sqlite3_stmt *st = prep(s, "SELECT " SUB_COLS " FROM subscriptions WHERE call_id=? AND"
                               " local_tag=? AND call_id<>''");
    if (st == NULL)
        return -1;
    bind_text(st, 1, call_id);
    bind_text(st, 2, local_tag);
    return one_sub(st, out);
}

static int sql_sub_delete(struct gw_store *s, enum gw_sub_dir dir, const char *xmpp,
                          const char *sip, bool poll)
{
    sqlite3_stmt *st =
        prep(s, "DELETE FROM subscriptions WHERE dir=? AND xmpp=? AND sip=? AND poll=?");
    if (st == NULL)
        return -1;
    bind_key(st, dir, xmpp, sip, poll);
    return step_done(st);
}

/* Keyset pages in primary-key order, each read completely before its
 * callbacks run: a callback may write the record it was given (sub_put is
 * an upsert) without the walk
 * visiting it again or holding a read statement open across the write. */
#define SUB_EACH_PAGE 256

/* The WHERE clause of a filter: ?6 is our id, ?7 the time (ms). */
static const char *filter_sql(enum gw_store_filter f)
{
    switch (f) {
    case GW_STORE_MINE:
        return "owner = ?6";
    case GW_STORE_ORPHANS:
        /* through the owner index: nobody's rows and those of gateways
         * whose lease ran out (every owner has a lease row: a gateway
         * renews before it writes) */
        return "owner <> ?6 AND (owner = '' OR owner IN"
               " (SELECT id FROM gateways WHERE lease_until <= ?7))";
    case GW_STORE_ALL:
    default:
        return "1";
    }
}

static int sql_sub_each(struct gw_store *s, enum gw_store_filter filter, int64_t now_ms,
                        int (*cb)(void *, const struct gw_sub *), void *arg)
{
    struct gw_sub *page = calloc(SUB_EACH_PAGE, sizeof *page);
    char sql[768];
    bool first = true;
    int rc = 0;
    if (page == NULL)
        return -1;
    for (;;) {
        snprintf(sql, sizeof sql,
                 "SELECT " SUB_COLS " FROM subscriptions WHERE (%s)%s"
                 " ORDER BY dir, xmpp, sip, poll LIMIT ?5",
                 filter_sql(filter), first ? "" : " AND (dir, xmpp, sip, poll) > (?1, ?2, ?3, ?4)");
        sqlite3_stmt *st = prep(s, sql);
        if (st == NULL) {
            rc = -1;
            break;
        }
        if (!first) {
            const struct gw_sub *last = &page[SUB_EACH_PAGE - 1];
            sqlite3_bind_int(st, 1, last->dir);
            bind_text(st, 2, last->xmpp);
            bind_text(st, 3, last->sip);
            sqlite3_bind_int(st, 4, last->poll);
        }
        sqlite3_bind_int(st, 5, SUB_EACH_PAGE);
        if (filter != GW_STORE_ALL)
            bind_text(st, 6, s->owner);
        if (filter == GW_STORE_ORPHANS)
            sqlite3_bind_int64(st, 7, now_ms);
        size_t n = 0;
        int step;
        while ((step = sqlite3_step(st)) == SQLITE_ROW)
            row_to_sub(st, &page[n++]);
        sqlite3_finalize(st);
        if (step != SQLITE_DONE) {
            rc = -1;
            break;
        }
        for (size_t i = 0; i < n; i++)
            if (cb(arg, &page[i]) != 0)
                goto out;
        if (n < SUB_EACH_PAGE)
            break;
        first = false;
    }
out:
    free(page);
    return rc;
}

static int sql_sub_claim(struct gw_store *s, enum gw_sub_dir dir, const char *xmpp, const char *sip,
                         bool poll, int64_t now_ms, bool force)
{
    sqlite3_stmt *st = prep(s, "UPDATE subscriptions SET owner=?5 WHERE dir=?1 AND xmpp=?2"
                               " AND sip=?3 AND poll=?4 AND (owner=?5 OR owner='' OR ?7 OR"
                               " owner NOT IN (SELECT id FROM gateways WHERE lease_until > ?6))");
    if (st == NULL)
        return -1;
    bind_key(st, dir, xmpp, sip, poll);
    bind_text(st, 5, s->owner);
    sqlite3_bind_int64(st, 6, now_ms);
    sqlite3_bind_int(st, 7, force);
    if (step_done(st) != 0)
        return -1;
    return sqlite3_changes(db_of(s)) == 1 ? 1 : 0;
}

static int sql_lease_renew(struct gw_store *s, int64_t now_ms, int64_t lease_ms)
{
    sqlite3_stmt *st = prep(s, "INSERT INTO gateways (id, lease_until) VALUES (?1, ?2)"
                               " ON CONFLICT (id) DO UPDATE SET lease_until=excluded.lease_until");
    if (st == NULL)
        return -1;
    bind_text(st, 1, s->owner);
    sqlite3_bind_int64(st, 2, now_ms + lease_ms);
    return step_done(st);
}

static int sql_live_each(struct gw_store *s, int64_t now_ms, int (*cb)(void *, const char *),
                         void *arg)
{
    sqlite3_stmt *st = prep(s, "SELECT id FROM gateways WHERE lease_until > ? ORDER BY id");
    if (st == NULL)
        return -1;
    sqlite3_bind_int64(st, 1, now_ms);
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW)
        if (cb(arg, (const char *)sqlite3_column_text(st, 0)) != 0) {
            step = SQLITE_DONE;
            break;
        }
    sqlite3_finalize(st);
    return step == SQLITE_DONE ? 0 : -1;
}

static int sql_auth_set(struct gw_store *s, enum gw_sub_dir dir, const char *xmpp, const char *sip,
                        bool granted)
{
    sqlite3_stmt *st =
        prep(s, granted ? "INSERT OR IGNORE INTO authorizations (dir, xmpp, sip) VALUES (?,?,?)"
                        : "DELETE FROM authorizations WHERE dir=? AND xmpp=? AND sip=?");
    if (st == NULL)
        return -1;
    sqlite3_bind_int(st, 1, dir);
    bind_text(st, 2, xmpp);
    bind_text(st, 3, sip);
    return step_done(st);
}

static int exists(sqlite3_stmt *st)
{
    if (st == NULL)
        return -1;
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

static int sql_auth_get(struct gw_store *s, enum gw_sub_dir dir, const char *xmpp, const char *sip)
{
    sqlite3_stmt *st = prep(s, "SELECT 1 FROM authorizations WHERE dir=? AND xmpp=? AND sip=?");
    if (st == NULL)
        return -1;
    sqlite3_bind_int(st, 1, dir);
    bind_text(st, 2, xmpp);
    bind_text(st, 3, sip);
    return exists(st);
}

static int sql_invite_add(struct gw_store *s, const char *internal, const char *partner,
                          int64_t now)
{
    sqlite3_stmt *st = prep(s, "INSERT OR IGNORE INTO invitations (internal, partner, created)"
                               " VALUES (?,?,?)");
    if (st == NULL)
        return -1;
    bind_text(st, 1, internal);
    bind_text(st, 2, partner);
    sqlite3_bind_int64(st, 3, now);
    return step_done(st);
}

static int sql_invite_has(struct gw_store *s, const char *internal, const char *partner)
{
    sqlite3_stmt *st = prep(s, "SELECT 1 FROM invitations WHERE internal=? AND partner=?");
    if (st == NULL)
        return -1;
    bind_text(st, 1, internal);
    bind_text(st, 2, partner);
    return exists(st);
}

static int sql_invite_del(struct gw_store *s, const char *internal, const char *partner)
{
    sqlite3_stmt *st = prep(s, "DELETE FROM invitations WHERE internal=? AND partner=?");
    if (st == NULL)
        return -1;
    bind_text(st, 1, internal);
    bind_text(st, 2, partner);
    return step_done(st);
}

static void sql_close(struct gw_store *s)
{
    struct sql_store *q = (struct sql_store *)s;
    sqlite3_close(q->db);
    free(q);
}

static const struct gw_store_ops sqlite_ops = {
    .name = "sqlite",
    .close = sql_close,
    .sub_put = sql_sub_put,
    .sub_get = sql_sub_get,
    .sub_by_dialog = sql_sub_by_dialog,
    .sub_delete = sql_sub_delete,
    .sub_each = sql_sub_each,
    .sub_claim = sql_sub_claim,
    .lease_renew = sql_lease_renew,
    .live_each = sql_live_each,
    .auth_set = sql_auth_set,
    .auth_get = sql_auth_get,
    .invite_add = sql_invite_add,
    .invite_has = sql_invite_has,
    .invite_del = sql_invite_del,
};

struct gw_store *gw_store_open_sqlite(const char *path, const char **why)
{
    const char *dummy;
    struct sql_store *q = calloc(1, sizeof *q);

    if (why == NULL)
        why = &dummy;
    if (q == NULL) {
        *why = "out of memory";
        return NULL;
    }
    q->base.ops = &sqlite_ops;
    if (sqlite3_open_v2(path, &q->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        *why = "cannot open the database";
        sqlite3_close(q->db);
        free(q);
        return NULL;
    }
    sqlite3_busy_timeout(q->db, 1000);
    exec(q->db, "PRAGMA journal_mode=WAL"); /* ":memory:" stays in memory mode */
    *why = "cannot prepare the database";
    if (exec(q->db, "PRAGMA synchronous=NORMAL") != 0 || migrate(q->db, why) != 0) {
        sqlite3_close(q->db);
        free(q);
        return NULL;
    }
    return &q->base;
}

/* ---- wrappers ---------------------------------------------------------------- */

void gw_store_close(struct gw_store *s)
{
    if (s != NULL)
        s->ops->close(s);
}

static struct timespec timer_start(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t;
}

static void timer_stop(struct gw_store *s, const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    int64_t us = (int64_t)(t.tv_sec - t0->tv_sec) * 1000000 + (t.tv_nsec - t0->tv_nsec) / 1000;
    if (us < 0)
        us = 0;
    s->timing.calls++;
    s->timing.usec += (uint64_t)us;
    if ((uint64_t)us > s->timing.usec_max)
        s->timing.usec_max = (uint64_t)us;
}

void gw_store_timing_take(struct gw_store *s, struct gw_store_timing *out)
{
    *out = s->timing;
    s->timing.usec_max = 0;
}

int gw_store_sub_put(struct gw_store *s, const struct gw_sub *b)
{
    struct timespec t0 = timer_start();
    int rc = s->ops->sub_put(s, b);
    timer_stop(s, &t0);
    return rc;
}

int gw_store_sub_get(struct gw_store *s, enum gw_sub_dir d, const char *x, const char *p, bool poll,
                     struct gw_sub *o)
{
    struct timespec t0 = timer_start();
    int rc = s->ops->sub_get(s, d, x, p, poll, o);
    timer_stop(s, &t0);
    return rc;
}

int gw_store_sub_by_dialog(struct gw_store *s, const char *c, const char *t, struct gw_sub *o)
{
    struct timespec t0 = timer_start();
    int rc = s->ops->sub_by_dialog(s, c, t, o);
    timer_stop(s, &t0);
    return rc;
}

int gw_store_sub_delete(struct gw_store *s, enum gw_sub_dir d, const char *x, const char *p,
                        bool poll)
{
    struct timespec t0 = timer_start();
    int rc = s->ops->sub_delete(s, d, x, p, poll);
    timer_stop(s, &t0);
    return rc;
}

int gw_store_set_owner(struct gw_store *s, const char *id)
{
    size_t n = strlen(id);
    if (n >= sizeof s->owner)
        return -1;
    memcpy(s->owner, id, n + 1);
    return 0;
}

int gw_store_sub_each(struct gw_store *s, int (*cb)(void *, const struct gw_sub *), void *arg)
{
    return gw_store_sub_each_where(s, GW_STORE_ALL, 0, cb, arg);
}

int gw_store_sub_each_where(struct gw_store *s, enum gw_store_filter f, int64_t now_ms,
                            int (*cb)(void *, const struct gw_sub *), void *arg)
{
    struct timespec t0 = timer_start();
    int rc = s->ops->sub_each(s, f, now_ms, cb, arg);
    timer_stop(s, &t0);
    return rc;
}

int gw_store_sub_claim(struct gw_store *s, enum gw_sub_dir d, const char *x, const char *p,
                       bool poll, int64_t now_ms, bool force)
{
    struct timespec t0 = timer_start();
    int rc = s->ops->sub_claim(s, d, x, p, poll, now_ms, force);
    timer_stop(s, &t0);
    return rc;
}

int gw_store_lease_renew(struct gw_store *s, int64_t now_ms, int64_t lease_ms)
{
    struct timespec t0 = timer_start();
    int rc = s->ops->lease_renew(s, now_ms, lease_ms);
    timer_stop(s, &t0);
    return rc;
}

int gw_store_live_each(struct gw_store *s, int64_t now_ms, int (*cb)(void *, const char *),
                       void *arg)
{
    struct timespec t0 = timer_start();
    int rc = s->ops->live_each(s, now_ms, cb, arg);
    timer_stop(s, &t0);
    return rc;
}

int gw_store_auth_set(struct gw_store *s, enum gw_sub_dir d, const char *x, const char *p, bool g)
{
    struct timespec t0 = timer_start();
    int rc = s->ops->auth_set(s, d, x, p, g);
    timer_stop(s, &t0);
    return rc;
}

int gw_store_auth_get(struct gw_store *s, enum gw_sub_dir d, const char *x, const char *p)
{
    struct timespec t0 = timer_start();
    int rc = s->ops->auth_get(s, d, x, p);
    timer_stop(s, &t0);
    return rc;
}

int gw_store_invite_add(struct gw_store *s, const char *i, const char *p, int64_t now)
{
    struct timespec t0 = timer_start();
    int rc = s->ops->invite_add(s, i, p, now);
    timer_stop(s, &t0);
    return rc;
}

int gw_store_invite_has(struct gw_store *s, const char *i, const char *p)
{
    struct timespec t0 = timer_start();
    int rc = s->ops->invite_has(s, i, p);
    timer_stop(s, &t0);
    return rc;
}

int gw_store_invite_del(struct gw_store *s, const char *i, const char *p)
{
    struct timespec t0 = timer_start();
    int rc = s->ops->invite_del(s, i, p);
    timer_stop(s, &t0);
    return rc;
}
