/*
 * gw_store_pg.c - the state store's PostgreSQL back end (see gw_store_pg.h
 * for the contract). The only code in xfed that touches libpq.
 */
#include "gw_store_pg.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "gw_address.h"
#include "log.h"

/* Numbered migrations, one for one with gw_store.c's SQLite list (the same
 * tables and columns; SQLite's 64-bit INTEGER is bigint here): entry i
 * takes the schema from version i to i + 1. Never edit a released entry;
 * append a new one to both lists. */
static const char *const migrations[] = {
    /* 1: the three tables */
    "CREATE TABLE subscriptions ("
    " dir integer NOT NULL, xmpp text NOT NULL, sip text NOT NULL, poll integer NOT NULL,"
    " state integer NOT NULL, authorized integer NOT NULL, notified integer NOT NULL,"
    " call_id text NOT NULL, local_tag text NOT NULL, remote_tag text NOT NULL,"
    " local_cseq bigint NOT NULL, remote_cseq bigint NOT NULL,"
    " remote_target text NOT NULL, route_set text NOT NULL,"
    " expires bigint NOT NULL, expires_at bigint NOT NULL, timer_at bigint NOT NULL,"
    " failures bigint NOT NULL,"
    " PRIMARY KEY (dir, xmpp, sip, poll));"
    "CREATE TABLE authorizations ("
    " dir integer NOT NULL, xmpp text NOT NULL, sip text NOT NULL,"
    " PRIMARY KEY (dir, xmpp, sip));"
    "CREATE TABLE invitations ("
    " internal text NOT NULL, partner text NOT NULL, created bigint NOT NULL,"
    " PRIMARY KEY (internal, partner));",
    /* 2: find a dialog by Call-ID and our tag (in-dialog requests) */
    "CREATE INDEX subscriptions_dialog ON subscriptions (call_id, local_tag);",
    /* 3: an owner for every subscription, and the gateways' leases */
    "ALTER TABLE subscriptions ADD COLUMN owner text NOT NULL DEFAULT '';"
    "CREATE INDEX subscriptions_owner ON subscriptions (owner, dir, xmpp, sip, poll);"
    "CREATE TABLE gateways (id text PRIMARY KEY, lease_until bigint NOT NULL);",
};

#define N_MIGRATIONS ((int)(sizeof migrations / sizeof migrations[0]))

#define SUB_COLS                                                                                   \
    "dir, xmpp, sip, poll, state, authorized, notified, call_id, local_tag, remote_tag,"           \
    " local_cseq, remote_cseq, remote_target, route_set, expires, expires_at, timer_at, failures," \
    " owner"
#define SUB_KEY "dir, xmpp, sip, poll"

enum stmt {
    ST_SUB_PUT = 0,
    ST_SUB_GET,
    ST_SUB_BY_DIALOG,
    ST_SUB_DELETE,
    ST_SUB_FIRST,
    ST_SUB_NEXT,
    ST_SUB_FIRST_OWNER,
    ST_SUB_NEXT_OWNER,
    ST_EXPIRED,
    ST_SUB_CLAIM,
    ST_LEASE_RENEW,
    ST_LIVE,
    ST_AUTH_ADD,
    ST_AUTH_DEL,
    ST_AUTH_GET,
    ST_INV_ADD,
    ST_INV_HAS,
    ST_INV_DEL,
    ST_VERSION,
    ST_COUNT
};

static const struct {
    const char *name;
    const char *sql;
} stmts[ST_COUNT] = {
    [ST_SUB_PUT] = {"xfed_sub_put",
                    "INSERT INTO subscriptions (" SUB_COLS ") VALUES"
                    " ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19)"
                    " ON CONFLICT (" SUB_KEY ") DO UPDATE SET state = EXCLUDED.state,"
                    " authorized = EXCLUDED.authorized, notified = EXCLUDED.notified,"
                    " call_id = EXCLUDED.call_id, local_tag = EXCLUDED.local_tag,"
                    " remote_tag = EXCLUDED.remote_tag, local_cseq = EXCLUDED.local_cseq,"
                    " remote_cseq = EXCLUDED.remote_cseq, remote_target = EXCLUDED.remote_target,"
                    " route_set = EXCLUDED.route_set, expires = EXCLUDED.expires,"
                    " expires_at = EXCLUDED.expires_at, timer_at = EXCLUDED.timer_at,"
                    " failures = EXCLUDED.failures, owner = EXCLUDED.owner"
                    /* a new row, or ours, or nobody's; an id-less store writes any */
                    " WHERE subscriptions.owner = EXCLUDED.owner OR subscriptions.owner = ''"
                    " OR EXCLUDED.owner = ''"},
    [ST_SUB_GET] = {"xfed_sub_get", "SELECT " SUB_COLS " FROM subscriptions"
                                    " WHERE dir=$1 AND xmpp=$2 AND sip=$3 AND poll=$4"},
    [ST_SUB_BY_DIALOG] = {"xfed_sub_by_dialog",
                          "SELECT " SUB_COLS " FROM subscriptions"
                          " WHERE call_id=$1 AND local_tag=$2 AND call_id<>'' LIMIT 1"},
    [ST_SUB_DELETE] = {"xfed_sub_delete",
                       "DELETE FROM subscriptions WHERE dir=$1 AND xmpp=$2 AND sip=$3 AND poll=$4"},
    /* sub_each pages through the primary key (keyset pagination): no
     * cursor stays open, so the callback may use the store. */
    [ST_SUB_FIRST] = {"xfed_sub_first",
                      "SELECT " SUB_COLS " FROM subscriptions ORDER BY " SUB_KEY " LIMIT $1"},
    [ST_SUB_NEXT] = {"xfed_sub_next", "SELECT " SUB_COLS " FROM subscriptions"
                                      " WHERE (" SUB_KEY ") > ($1::integer, $2::text, $3::text,"
                                      " $4::integer) ORDER BY " SUB_KEY " LIMIT $5"},
    /* one owner's rows, through the index (owner, dir, xmpp, sip, poll) */
    [ST_SUB_FIRST_OWNER] = {"xfed_sub_first_owner",
                            "SELECT " SUB_COLS " FROM subscriptions WHERE owner = $2"
                            " ORDER BY " SUB_KEY " LIMIT $1"},
    [ST_SUB_NEXT_OWNER] = {"xfed_sub_next_owner",
                           "SELECT " SUB_COLS " FROM subscriptions"
                           " WHERE (" SUB_KEY ") > ($1::integer, $2::text, $3::text,"
                           " $4::integer) AND owner = $6 ORDER BY " SUB_KEY " LIMIT $5"},
    /* the other gateways whose lease ran out: their rows are orphans */
    [ST_EXPIRED] = {"xfed_expired", "SELECT id FROM gateways WHERE lease_until <= $1::bigint"
                                    " AND id <> $2 ORDER BY id"},
    /* one row, one statement: of two gateways claiming it at once the
     * second waits for the first's commit, re-checks the row (READ
     * COMMITTED) and finds it owned by a live gateway */
    [ST_SUB_CLAIM] = {"xfed_sub_claim",
                      "UPDATE subscriptions SET owner = $5 WHERE dir=$1 AND xmpp=$2 AND sip=$3"
                      " AND poll=$4 AND (owner = $5 OR owner = '' OR $7::integer <> 0 OR"
                      " owner NOT IN (SELECT id FROM gateways WHERE lease_until > $6::bigint))"},
    [ST_LEASE_RENEW] = {"xfed_lease_renew",
                        "INSERT INTO gateways (id, lease_until) VALUES ($1, $2) ON CONFLICT (id)"
                        " DO UPDATE SET lease_until = EXCLUDED.lease_until"},
    [ST_LIVE] = {"xfed_live", "SELECT id FROM gateways WHERE lease_until > $1 ORDER BY id"},
    [ST_AUTH_ADD] = {"xfed_auth_add", "INSERT INTO authorizations (dir, xmpp, sip)"
                                      " VALUES ($1,$2,$3) ON CONFLICT DO NOTHING"},
    [ST_AUTH_DEL] = {"xfed_auth_del",
                     "DELETE FROM authorizations WHERE dir=$1 AND xmpp=$2 AND sip=$3"},
    [ST_AUTH_GET] = {"xfed_auth_get",
                     "SELECT 1 FROM authorizations WHERE dir=$1 AND xmpp=$2 AND sip=$3"},
    [ST_INV_ADD] = {"xfed_inv_add", "INSERT INTO invitations (internal, partner, created)"
                                    " VALUES ($1,$2,$3) ON CONFLICT DO NOTHING"},
    [ST_INV_HAS] = {"xfed_inv_has", "SELECT 1 FROM invitations WHERE internal=$1 AND partner=$2"},
    [ST_INV_DEL] = {"xfed_inv_del", "DELETE FROM invitations WHERE internal=$1 AND partner=$2"},
    [ST_VERSION] = {"xfed_version", "SELECT version FROM xfed_schema"},
};

struct pg_store {
    struct gw_store base; /* first: the handle */
    PGconn *conn;         /* NULL after a failed reconnection */
    char *conninfo;       /* kept to reconnect; may hold a password: never logged */
    int64_t next_try_ms;  /* after a failed reconnection: no new attempt before this */
    int retry_ms;         /* the wait after the last failed attempt (0: none failed) */
    PGconn *pending;      /* a reconnection under way (PQconnectStart), or NULL */
    PostgresPollingStatusType pending_st; /* what PQconnectPoll last asked for */
    int64_t pending_until_ms;             /* the attempt is given up at this time */
    int64_t last_slice_ms;                /* when a call last waited for it */
};

static int64_t mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static struct pg_store *pg_of(struct gw_store *s)
{
    return (struct pg_store *)s;
}

/* ---- connection -------------------------------------------------------------- */

/* libpq's messages span lines (with tabs); a log line does not. */
static const char *oneline(const char *msg, char *buf, size_t cap)
{
    size_t n = 0;
    bool space = false;
    for (const char *p = msg ? msg : ""; *p && n + 1 < cap; p++) {
        bool ws = *p == ' ' || *p == '\t' || *p == '\n' || *p == '\r';
        if (ws && (space || n == 0))
            continue;
        buf[n++] = ws ? ' ' : *p;
        space = ws;
    }
    if (n > 0 && buf[n - 1] == ' ')
        n--;
    buf[n] = '\0';
    return buf;
}

/* Server notices (e.g. from a migration) go to the debug log, not stderr. */
static void notice(void *arg, const char *msg)
{
    char b[512];
    (void)arg;
    log_debug("store: PostgreSQL notice: %s", oneline(msg, b, sizeof b));
}

/* The defaults come before conninfo, which may override them; the client
 * encoding comes after: this code speaks UTF-8 only. */
static PGconn *connect_db(const char *conninfo, bool start_only)
{
    static const char *const keys[] = {"connect_timeout",
                                       "keepalives",
                                       "keepalives_idle",
                                       "keepalives_interval",
                                       "keepalives_count",
                                       "tcp_user_timeout",
                                       "application_name",
                                       "options",
                                       "dbname",
                                       "client_encoding",
                                       NULL};
    const char *vals[] = {
        "5",      "1",    "10", "2", "3", "10000", "xfed-gateway", "-c statement_timeout=5000",
        conninfo, "UTF8", NULL};
    PGconn *c = start_only ? PQconnectStartParams(keys, vals, 1) : PQconnectdbParams(keys, vals, 1);
    if (c != NULL)
        PQsetNoticeProcessor(c, notice, NULL);
    return c;
}

/* Where we are connected, without secrets. */
static void log_target(const char *what, PGconn *c)
{
    log_info("store: %s backend=postgresql host=%s port=%s db=%s user=%s", what, PQhost(c),
             PQport(c), PQdb(c), PQuser(c));
}

static int prepare_all(PGconn *c)
{
    for (int i = 0; i < ST_COUNT; i++) {
        PGresult *r = PQprepare(c, stmts[i].name, stmts[i].sql, 0, NULL);
        int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        if (!ok) {
            char b[512];
            log_warnx("store: PostgreSQL cannot prepare statement=%s: %s", stmts[i].name,
                      oneline(PQresultErrorMessage(r), b, sizeof b));
        }
        PQclear(r);
        if (!ok)
            return -1;
    }
    return 0;
}

/* Runs simple-protocol SQL expecting no rows. */
static int exec(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
    if (!ok) {
        char b[512];
        log_warnx("store: PostgreSQL schema statement failed: %s",
                  oneline(PQresultErrorMessage(r), b, sizeof b));
    }
    PQclear(r);
    return ok ? 0 : -1;
}

/* The version in xfed_schema (0 when the table is new or empty), -1 on
 * error, -2 when the table holds several rows. */
static int read_version(PGconn *c, bool create)
{
    PGresult *r = PQexec(c, "SELECT to_regclass('xfed_schema') IS NOT NULL");
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        PQclear(r);
        return -1;
    }
    bool have = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    if (!have) {
        if (!create)
            return -1;
        return exec(c, "CREATE TABLE xfed_schema (version integer NOT NULL);"
                       "INSERT INTO xfed_schema (version) VALUES (0)") == 0
                   ? 0
                   : -1;
    }
    r = PQexec(c, "SELECT version FROM xfed_schema");
    int v = -1;
    if (PQresultStatus(r) == PGRES_TUPLES_OK) {
        if (PQntuples(r) == 1)
            v = atoi(PQgetvalue(r, 0, 0));
        else if (PQntuples(r) == 0 && create)
            v = exec(c, "INSERT INTO xfed_schema (version) VALUES (0)") == 0 ? 0 : -1;
        else
            v = -2;
    }
    PQclear(r);
    return v;
}

/* Brings the schema to N_MIGRATIONS in one transaction under the advisory
 * lock: a second gateway starting at the same moment waits on the lock,
 * then sees the current version and migrates nothing. PostgreSQL's DDL is
 * transactional, so a failed migration leaves the database as it was. */
static int migrate(PGconn *c, const char **why)
{
    char lock[96];
    snprintf(lock, sizeof lock, "SELECT pg_advisory_xact_lock(%" PRId64 ")", GW_STORE_PG_LOCK);
    *why = "a schema migration failed";
    /* READ COMMITTED whatever the server's default: the version must be
     * read in a snapshot taken after the lock was granted */
    if (exec(c, "BEGIN ISOLATION LEVEL READ COMMITTED") != 0)
        return -1;
    if (exec(c, "SET LOCAL statement_timeout = 300000") != 0 || exec(c, lock) != 0)
        goto fail;
    int v = read_version(c, true);
    if (v == -2)
        *why = "the table xfed_schema holds several rows";
    if (v < 0)
        goto fail;
    if (v > N_MIGRATIONS) {
        *why = "the database was written by a newer xfed-gateway";
        goto fail;
    }
    if (v == N_MIGRATIONS) {
        exec(c, "ROLLBACK");
        return 0;
    }
    for (int i = v; i < N_MIGRATIONS; i++)
        if (exec(c, migrations[i]) != 0)
            goto fail;
    char set[64];
    snprintf(set, sizeof set, "UPDATE xfed_schema SET version = %d", N_MIGRATIONS);
    if (exec(c, set) != 0 || exec(c, "COMMIT") != 0)
        goto fail;
    log_info("store: PostgreSQL schema migrated from=%d to=%d", v, N_MIGRATIONS);
    return 0;
fail:
    exec(c, "ROLLBACK");
    return -1;
}

/* c, connected, made ready for statements: UTF-8 database, schema current
 * (migrated first when allowed), statements prepared. NULL (c finished)
 * when it cannot be. */
static PGconn *setup_conn(PGconn *c, bool do_migrate, const char **why)
{
    const char *enc = PQparameterStatus(c, "server_encoding");
    if (enc == NULL || strcmp(enc, "UTF8") != 0) {
        log_warnx("store: PostgreSQL database encoding=%s, UTF8 required", enc ? enc : "?");
        *why = "the PostgreSQL database encoding is not UTF8";
        PQfinish(c);
        return NULL;
    }
    if (do_migrate) {
        if (migrate(c, why) != 0) {
            PQfinish(c);
            return NULL;
        }
    } else {
        /* a reconnection: another gateway may have upgraded the schema */
        int v = read_version(c, false);
        if (v != N_MIGRATIONS) {
            log_warnx("store: PostgreSQL schema version=%d, this gateway needs %d", v,
                      N_MIGRATIONS);
            *why = "the schema version changed";
            PQfinish(c);
            return NULL;
        }
    }
    if (prepare_all(c) != 0) {
        *why = "cannot prepare the statements";
        PQfinish(c);
        return NULL;
    }
    return c;
}

static void log_connect_failed(PGconn *c, const char **why)
{
    char b[512];
    log_warnx("store: cannot connect to PostgreSQL: %s",
              oneline(c ? PQerrorMessage(c) : "out of memory", b, sizeof b));
    *why = "cannot connect to the PostgreSQL database";
}

/* A new connection that is ready for statements (at start: it blocks). */
static PGconn *open_conn(const char *conninfo, bool do_migrate, const char **why)
{
    PGconn *c = connect_db(conninfo, false);
    if (c == NULL || PQstatus(c) != CONNECTION_OK) {
        log_connect_failed(c, why);
        PQfinish(c);
        return NULL;
    }
    return setup_conn(c, do_migrate, why);
}

/* Advances the reconnection under way, waiting at most slice_ms (nothing
 * when a call waited less than 5 * GW_STORE_PG_CONNECT_SLICE_MS ago, so that
 * a burst of calls does not add up): 1 connected (p->pending is the
 * connection), 0 still under way, -1 failed or given up (*why says why). */
static int advance_pending(struct pg_store *p, int slice_ms, const char **why)
{
    int64_t now = mono_ms();
    int64_t slice_end =
        now - p->last_slice_ms < 5 * GW_STORE_PG_CONNECT_SLICE_MS ? now : now + slice_ms;
    p->last_slice_ms = now;
    for (;;) {
        if (p->pending_st == PGRES_POLLING_OK)
            return 1;
        if (p->pending_st == PGRES_POLLING_FAILED) {
            log_connect_failed(p->pending, why);
            return -1;
        }
        now = mono_ms();
        if (now >= p->pending_until_ms) {
            log_warnx("store: cannot connect to PostgreSQL: no answer within %d ms",
                      GW_STORE_PG_CONNECT_MS);
            *why = "the PostgreSQL server did not answer";
            return -1;
        }
        int64_t end = slice_end < p->pending_until_ms ? slice_end : p->pending_until_ms;
        struct pollfd pf = {.fd = PQsocket(p->pending),
                            .events = p->pending_st == PGRES_POLLING_READING ? POLLIN : POLLOUT};
        int n = poll(&pf, 1, end > now ? (int)(end - now) : 0);
        if (n < 0 && errno != EINTR) {
            *why = "cannot wait for the PostgreSQL connection";
            return -1;
        }
        if (n > 0)
            p->pending_st = PQconnectPoll(p->pending);
        else if (mono_ms() >= slice_end && mono_ms() < p->pending_until_ms)
            return 0;
    }
}

/* Before each call: reconnect when the last call lost the link. The
 * connection is made without blocking the caller for more than a slice
 * (PQconnectStart/PQconnectPoll, GW_STORE_PG_CONNECT_SLICE_MS per call,
 * given up after GW_STORE_PG_CONNECT_MS): a server that drops packets does
 * not stall the gateway's loop; calls fail at once meanwhile. While the
 * server stays unreachable, attempts back off from GW_STORE_PG_RETRY_MS,
 * doubling up to GW_STORE_PG_RETRY_MAX_MS. */
static PGconn *conn_of(struct pg_store *p)
{
    if (p->conn != NULL && PQstatus(p->conn) == CONNECTION_OK)
        return p->conn;
    const char *why = NULL;
    int slice_ms = GW_STORE_PG_CONNECT_SLICE_MS;
    if (p->pending == NULL) {
        if (p->conn == NULL && mono_ms() < p->next_try_ms) {
            log_debug("store: PostgreSQL unavailable, next reconnection in %" PRId64 " ms",
                      p->next_try_ms - mono_ms());
            return NULL;
        }
        PQfinish(p->conn);
        p->conn = NULL;
        p->pending = connect_db(p->conninfo, true);
        p->pending_st = p->pending == NULL || PQstatus(p->pending) == CONNECTION_BAD
                            ? PGRES_POLLING_FAILED
                            : PGRES_POLLING_WRITING; /* libpq: the first poll waits to write */
        p->pending_until_ms = mono_ms() + GW_STORE_PG_CONNECT_MS;
        p->last_slice_ms = 0;
        slice_ms = GW_STORE_PG_CONNECT_FIRST_MS; /* a server that answers is done in it */
    }
    int rc = advance_pending(p, slice_ms, &why);
    if (rc == 0)
        return NULL; /* still connecting: this call fails at once */
    PGconn *c = p->pending;
    p->pending = NULL;
    if (rc > 0)
        p->conn = setup_conn(c, false, &why);
    else
        PQfinish(c);
    if (p->conn == NULL) {
        p->retry_ms = p->retry_ms == 0                              ? GW_STORE_PG_RETRY_MS
                      : p->retry_ms >= GW_STORE_PG_RETRY_MAX_MS / 2 ? GW_STORE_PG_RETRY_MAX_MS
                                                                    : 2 * p->retry_ms;
        p->next_try_ms = mono_ms() + p->retry_ms;
        log_warnx("store: PostgreSQL reconnection failed: %s; calls fail until the next attempt"
                  " in %d ms",
                  why, p->retry_ms);
        return NULL;
    }
    p->retry_ms = 0;
    log_target("reconnected", p->conn);
    return p->conn;
}

/* Runs a prepared statement; the result when it succeeded, else NULL
 * with one WARN line that says whether the connection was lost. */
static PGresult *run(struct pg_store *p, enum stmt id, int n, const char *const *vals)
{
    PGconn *c = conn_of(p);
    if (c == NULL)
        return NULL;
    PGresult *r = PQexecPrepared(c, stmts[id].name, n, vals, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return r;
    char b[512];
    if (PQstatus(c) != CONNECTION_OK) {
        log_warnx("store: PostgreSQL connection lost statement=%s: %s; the next call reconnects",
                  stmts[id].name, oneline(PQerrorMessage(c), b, sizeof b));
    } else {
        const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
        log_warnx("store: PostgreSQL statement=%s failed sqlstate=%s: %s", stmts[id].name,
                  state ? state : "?",
                  oneline(r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : PQerrorMessage(c), b,
                          sizeof b));
    }
    PQclear(r);
    return NULL;
}

static int run_done(struct pg_store *p, enum stmt id, int n, const char *const *vals)
{
    PGresult *r = run(p, id, n, vals);
    PQclear(r);
    return r != NULL ? 0 : -1;
}

/* 1 when the statement returned a row, 0 none, -1 error. */
static int run_exists(struct pg_store *p, enum stmt id, int n, const char *const *vals)
{
    PGresult *r = run(p, id, n, vals);
    if (r == NULL)
        return -1;
    int found = PQntuples(r) > 0;
    PQclear(r);
    return found;
}

/* ---- values ------------------------------------------------------------------ */

/* NULL is stored as "" (as the SQLite back end does). The database holds
 * UTF-8 only, so other bytes are settled here rather than by a server
 * error: a write refuses them (-1, logged by field name), while a lookup or
 * a removal knows that no such row can exist (0). */
static bool text_ok(const char **v)
{
    if (*v == NULL)
        *v = "";
    return gw_utf8_valid(*v, strlen(*v));
}

static int refuse(const char *field)
{
    log_info("store: PostgreSQL refused field=%s: not UTF-8", field);
    return -1;
}

#define INT_CHARS 24

static const char *num(char buf[INT_CHARS], int64_t v)
{
    snprintf(buf, INT_CHARS, "%" PRId64, v);
    return buf;
}

static void col_text(const PGresult *r, int row, int col, char *dst, size_t cap)
{
    const char *t = PQgetvalue(r, row, col);
    size_t n = t ? strlen(t) : 0;
    if (n >= cap)
        n = cap - 1;
    if (n > 0)
        memcpy(dst, t, n);
    dst[n] = '\0';
}

static int64_t col_int(const PGresult *r, int row, int col)
{
    return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static void row_to_sub(const PGresult *r, int row, struct gw_sub *o)
{
    memset(o, 0, sizeof *o);
    o->dir = col_int(r, row, 0) ? GW_SUB_S2X : GW_SUB_X2S;
    col_text(r, row, 1, o->xmpp, sizeof o->xmpp);
    col_text(r, row, 2, o->sip, sizeof o->sip);
    o->poll = col_int(r, row, 3) != 0;
    int64_t state = col_int(r, row, 4);
    o->state = (state >= GW_SUB_IDLE && state <= GW_SUB_TERMINATED) ? (enum gw_sub_state)state
                                                                    : GW_SUB_TERMINATED;
    o->authorized = col_int(r, row, 5) != 0;
    o->notified = col_int(r, row, 6) != 0;
    col_text(r, row, 7, o->call_id, sizeof o->call_id);
    col_text(r, row, 8, o->local_tag, sizeof o->local_tag);
    col_text(r, row, 9, o->remote_tag, sizeof o->remote_tag);
    o->local_cseq = (uint32_t)col_int(r, row, 10);
    o->remote_cseq = (uint32_t)col_int(r, row, 11);
    col_text(r, row, 12, o->remote_target, sizeof o->remote_target);
    col_text(r, row, 13, o->route_set, sizeof o->route_set);
    o->expires = (uint32_t)col_int(r, row, 14);
    o->expires_at = col_int(r, row, 15);
    o->timer_at = col_int(r, row, 16);
    o->failures = (uint32_t)col_int(r, row, 17);
    col_text(r, row, 18, o->owner, sizeof o->owner);
}

/* ---- operations -------------------------------------------------------------- */

static int pg_sub_put(struct gw_store *s, const struct gw_sub *b)
{
    char n[11][INT_CHARS];
    const char *xmpp = b->xmpp, *sip = b->sip, *cid = b->call_id, *lt = b->local_tag,
               *rt = b->remote_tag, *target = b->remote_target, *route = b->route_set;
    const char **texts[] = {&xmpp, &sip, &cid, &lt, &rt, &target, &route};
    static const char *const names[] = {"xmpp",       "sip",           "call_id",  "local_tag",
                                        "remote_tag", "remote_target", "route_set"};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
        if (!text_ok(texts[i]))
            return refuse(names[i]);
    const char *owner = s->owner;
    if (!text_ok(&owner))
        return refuse("owner");
    const char *const v[19] = {num(n[0], b->dir),
                               xmpp,
                               sip,
                               num(n[1], b->poll),
                               num(n[2], b->state),
                               num(n[3], b->authorized),
                               num(n[4], b->notified),
                               cid,
                               lt,
                               rt,
                               num(n[5], b->local_cseq),
                               num(n[6], b->remote_cseq),
                               target,
                               route,
                               num(n[7], b->expires),
                               num(n[8], b->expires_at),
                               num(n[9], b->timer_at),
                               num(n[10], b->failures),
                               owner};
    PGresult *r = run(pg_of(s), ST_SUB_PUT, 19, v);
    if (r == NULL)
        return -1;
    int changed = atoi(PQcmdTuples(r));
    PQclear(r);
    return changed == 1 ? 0 : 1;
}

/* The four key parameters of (dir, xmpp, sip, poll); false when a text is
 * not UTF-8. */
static bool key_params(const char *v[4], char d[INT_CHARS], char q[INT_CHARS], enum gw_sub_dir dir,
                       const char *xmpp, const char *sip, bool poll)
{
    v[0] = num(d, dir);
    v[1] = xmpp;
    v[2] = sip;
    v[3] = num(q, poll);
    return text_ok(&v[1]) && text_ok(&v[2]);
}

static int one_sub(struct pg_store *p, enum stmt id, int n, const char *const *vals,
                   struct gw_sub *out)
{
    PGresult *r = run(p, id, n, vals);
    if (r == NULL)
        return -1;
    int found = PQntuples(r) > 0;
    if (found)
        row_to_sub(r, 0, out);
    PQclear(r);
    return found;
}

static int pg_sub_get(struct gw_store *s, enum gw_sub_dir dir, const char *xmpp, const char *sip,
                      bool poll, struct gw_sub *out)
{
    const char *v[4];
    char d[INT_CHARS], q[INT_CHARS];
    if (!key_params(v, d, q, dir, xmpp, sip, poll))
        return 0;
    return one_sub(pg_of(s), ST_SUB_GET, 4, v, out);
}

static int pg_sub_by_dialog(struct gw_store *s, const char *call_id, const char *local_tag,
                            struct gw_sub *out)
{
    const char *v[2] = {call_id, local_tag};
    if (!text_ok(&v[0]) || !text_ok(&v[1]))
        return 0;
    return one_sub(pg_of(s), ST_SUB_BY_DIALOG, 2, v, out);
}

static int pg_sub_delete(struct gw_store *s, enum gw_sub_dir dir, const char *xmpp, const char *sip,
                         bool poll)
{
    const char *v[4];
    char d[INT_CHARS], q[INT_CHARS];
    if (!key_params(v, d, q, dir, xmpp, sip, poll))
        return 0;
    return run_done(pg_of(s), ST_SUB_DELETE, 4, v);
}

/* The primary key of the last row of a page, copied whole from the result
 * (a struct gw_sub may hold a truncated copy, which would sort before the
 * row and bring it back forever). */
struct page_key {
    char dir[INT_CHARS];
    char poll[INT_CHARS];
    char *xmpp;
    char *sip;
};

/* Every row (owner NULL) or one owner's, in pages by primary key. */
static int pg_walk(struct pg_store *p, const char *owner, int (*cb)(void *, const struct gw_sub *),
                   void *arg)
{
    struct gw_sub *sub = malloc(sizeof *sub);
    struct page_key k = {.xmpp = NULL, .sip = NULL};
    char limit[INT_CHARS];
    int rc = -1;

    if (sub == NULL)
        return -1;
    num(limit, GW_STORE_PG_PAGE);
    for (bool first = true;; first = false) {
        PGresult *r;
        if (first) {
            const char *const v[2] = {limit, owner};
            r = run(p, owner ? ST_SUB_FIRST_OWNER : ST_SUB_FIRST, owner ? 2 : 1, v);
        } else {
            const char *const v[6] = {k.dir, k.xmpp, k.sip, k.poll, limit, owner};
            r = run(p, owner ? ST_SUB_NEXT_OWNER : ST_SUB_NEXT, owner ? 6 : 5, v);
        }
        if (r == NULL)
            break;
        int rows = PQntuples(r);
        if (rows > 0) {
            free(k.xmpp);
            free(k.sip);
            snprintf(k.dir, sizeof k.dir, "%s", PQgetvalue(r, rows - 1, 0));
            snprintf(k.poll, sizeof k.poll, "%s", PQgetvalue(r, rows - 1, 3));
            k.xmpp = strdup(PQgetvalue(r, rows - 1, 1));
            k.sip = strdup(PQgetvalue(r, rows - 1, 2));
            if (k.xmpp == NULL || k.sip == NULL) {
                PQclear(r);
                break;
            }
        }
        bool stop = false;
        for (int i = 0; i < rows && !stop; i++) {
            row_to_sub(r, i, sub);
            stop = cb(arg, sub) != 0;
        }
        PQclear(r);
        if (stop) {
            rc = 1;
            break;
        }
        if (rows < GW_STORE_PG_PAGE) {
            rc = 0;
            break;
        }
    }
    free(k.xmpp);
    free(k.sip);
    free(sub);
    return rc;
}

/* Orphans: nobody's rows (unless we are nobody), then those of each other
 * gateway whose lease ran out, one owner at a time through the index. */
static int pg_sub_each(struct gw_store *s, enum gw_store_filter filter, int64_t now_ms,
                       int (*cb)(void *, const struct gw_sub *), void *arg)
{
    struct pg_store *p = pg_of(s);
    const char *me = s->owner;
    if ((unsigned)filter > GW_STORE_ORPHANS || !text_ok(&me))
        return -1;
    if (filter != GW_STORE_ORPHANS) {
        int rc = pg_walk(p, filter == GW_STORE_MINE ? me : NULL, cb, arg);
        return rc < 0 ? -1 : 0;
    }
    char now[INT_CHARS];
    const char *const v[2] = {num(now, now_ms), me};
    PGresult *r = run(p, ST_EXPIRED, 2, v);
    if (r == NULL)
        return -1;
    int rc = me[0] != '\0' ? pg_walk(p, "", cb, arg) : 0;
    for (int i = 0; i < PQntuples(r) && rc == 0; i++)
        rc = pg_walk(p, PQgetvalue(r, i, 0), cb, arg);
    PQclear(r);
    return rc < 0 ? -1 : 0;
}

static int pg_sub_claim(struct gw_store *s, enum gw_sub_dir dir, const char *xmpp, const char *sip,
                        bool poll, int64_t now_ms, bool force)
{
    const char *v[7];
    char d[INT_CHARS], q[INT_CHARS], t[INT_CHARS], f[INT_CHARS];
    if (!key_params(v, d, q, dir, xmpp, sip, poll))
        return 0;
    v[4] = s->owner;
    v[5] = num(t, now_ms);
    v[6] = num(f, force);
    if (!text_ok(&v[4]))
        return refuse("owner");
    PGresult *r = run(pg_of(s), ST_SUB_CLAIM, 7, v);
    if (r == NULL)
        return -1;
    int changed = atoi(PQcmdTuples(r));
    PQclear(r);
    return changed == 1 ? 1 : 0;
}

static int pg_lease_renew(struct gw_store *s, int64_t now_ms, int64_t lease_ms)
{
    char t[INT_CHARS];
    const char *v[2] = {s->owner, num(t, now_ms + lease_ms)};
    if (!text_ok(&v[0]))
        return refuse("owner");
    return run_done(pg_of(s), ST_LEASE_RENEW, 2, v);
}

static int pg_live_each(struct gw_store *s, int64_t now_ms, int (*cb)(void *, const char *),
                        void *arg)
{
    char t[INT_CHARS];
    const char *v[1] = {num(t, now_ms)};
    PGresult *r = run(pg_of(s), ST_LIVE, 1, v);
    if (r == NULL)
        return -1;
    for (int i = 0; i < PQntuples(r); i++)
        if (cb(arg, PQgetvalue(r, i, 0)) != 0)
            break;
    PQclear(r);
    return 0;
}

static int pg_auth_set(struct gw_store *s, enum gw_sub_dir dir, const char *xmpp, const char *sip,
                       bool granted)
{
    const char *v[4];
    char d[INT_CHARS], q[INT_CHARS];
    if (!key_params(v, d, q, dir, xmpp, sip, false))
        return granted ? refuse("xmpp or sip") : 0;
    return run_done(pg_of(s), granted ? ST_AUTH_ADD : ST_AUTH_DEL, 3, v);
}

static int pg_auth_get(struct gw_store *s, enum gw_sub_dir dir, const char *xmpp, const char *sip)
{
    const char *v[4];
    char d[INT_CHARS], q[INT_CHARS];
    if (!key_params(v, d, q, dir, xmpp, sip, false))
        return 0;
    return run_exists(pg_of(s), ST_AUTH_GET, 3, v);
}

static int pg_invite_add(struct gw_store *s, const char *internal, const char *partner, int64_t now)
{
    char t[INT_CHARS];
    const char *v[3] = {internal, partner, num(t, now)};
    if (!text_ok(&v[0]) || !text_ok(&v[1]))
        return refuse("internal or partner");
    return run_done(pg_of(s), ST_INV_ADD, 3, v);
}

static int pg_invite_has(struct gw_store *s, const char *internal, const char *partner)
{
    const char *v[2] = {internal, partner};
    if (!text_ok(&v[0]) || !text_ok(&v[1]))
        return 0;
    return run_exists(pg_of(s), ST_INV_HAS, 2, v);
}

static int pg_invite_del(struct gw_store *s, const char *internal, const char *partner)
{
    const char *v[2] = {internal, partner};
    if (!text_ok(&v[0]) || !text_ok(&v[1]))
        return 0;
    return run_done(pg_of(s), ST_INV_DEL, 2, v);
}

static void pg_close(struct gw_store *s)
{
    struct pg_store *p = pg_of(s);
    PQfinish(p->conn);
    PQfinish(p->pending);
    if (p->conninfo != NULL) {
        explicit_bzero(p->conninfo, strlen(p->conninfo)); /* it may hold a password */
        free(p->conninfo);
    }
    free(p);
}

static const struct gw_store_ops pg_ops = {
    .name = "postgresql",
    .close = pg_close,
    .sub_put = pg_sub_put,
    .sub_get = pg_sub_get,
    .sub_by_dialog = pg_sub_by_dialog,
    .sub_delete = pg_sub_delete,
    .sub_each = pg_sub_each,
    .sub_claim = pg_sub_claim,
    .lease_renew = pg_lease_renew,
    .live_each = pg_live_each,
    .auth_set = pg_auth_set,
    .auth_get = pg_auth_get,
    .invite_add = pg_invite_add,
    .invite_has = pg_invite_has,
    .invite_del = pg_invite_del,
};

struct gw_store *gw_store_open_pg(const char *conninfo, const char **why)
{
    const char *dummy;
    struct pg_store *p;

    if (why == NULL)
        why = &dummy;
    if (conninfo == NULL) {
        *why = "no PostgreSQL connection string";
        return NULL;
    }
    p = calloc(1, sizeof *p);
    if (p == NULL || (p->conninfo = strdup(conninfo)) == NULL) {
        free(p);
        *why = "out of memory";
        return NULL;
    }
    p->base.ops = &pg_ops;
    p->conn = open_conn(conninfo, true, why);
    if (p->conn == NULL) {
        pg_close(&p->base);
        return NULL;
    }
    log_target("opened", p->conn);
    return &p->base;
}

int gw_store_pg_version(struct gw_store *s)
{
    PGresult *r = run(pg_of(s), ST_VERSION, 0, NULL);
    if (r == NULL)
        return -1;
    int v = PQntuples(r) == 1 ? atoi(PQgetvalue(r, 0, 0)) : -1;
    PQclear(r);
    return v;
}

int gw_store_pg_conninfo_check(const char *conninfo, const char **why)
{
    char *err = NULL;
    const char *dummy;
    if (why == NULL)
        why = &dummy;
    if (conninfo == NULL || conninfo[0] == '\0') {
        *why = "the PostgreSQL connection string is empty";
        return -1;
    }
    /* a bare word is a database name (libpq's expand_dbname) */
    if (strchr(conninfo, '=') == NULL && strstr(conninfo, "://") == NULL) {
        if (strpbrk(conninfo, " \t\r\n") == NULL)
            return 0;
        *why = "the PostgreSQL connection string does not parse";
        return -1;
    }
    PQconninfoOption *o = PQconninfoParse(conninfo, &err);
    if (o == NULL) {
        /* libpq's message may quote the string, password included: not logged */
        PQfreemem(err);
        *why = "the PostgreSQL connection string does not parse";
        return -1;
    }
    PQconninfoFree(o);
    return 0;
}

void gw_store_pg_describe(const char *conninfo, char *buf, size_t len)
{
    static const char *const shown[] = {"host", "hostaddr", "port", "dbname", "user"};
    char *err = NULL;
    size_t used = 0;
    if (len == 0)
        return;
    buf[0] = '\0';
    if (strchr(conninfo, '=') == NULL && strstr(conninfo, "://") == NULL) {
        snprintf(buf, len, "dbname=%s", conninfo); /* a bare database name */
        return;
    }
    PQconninfoOption *o = PQconninfoParse(conninfo, &err);
    if (o == NULL) {
        PQfreemem(err); /* may quote the string, password included */
        snprintf(buf, len, "(unparsable)");
        return;
    }
    for (size_t i = 0; i < sizeof shown / sizeof shown[0]; i++)
        for (PQconninfoOption *x = o; x->keyword != NULL; x++) {
            if (strcmp(x->keyword, shown[i]) != 0 || x->val == NULL || x->val[0] == '\0')
                continue;
            int n =
                snprintf(buf + used, len - used, "%s%s=%s", used ? " " : "", x->keyword, x->val);
            if (n < 0 || (size_t)n >= len - used)
                return;
            used += (size_t)n;
        }
    if (used == 0)
        snprintf(buf, len, "(libpq defaults)");
    PQconninfoFree(o);
}
