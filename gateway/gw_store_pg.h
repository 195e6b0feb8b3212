/*
 * gw_store_pg.h - the PostgreSQL back end of the gateway's state store
 * (gw_store.h), for several gateways sharing one database (issue 6 item 2,
 * DESIGN.md section 1 "Horizontal scale"). The only code in xfed that
 * touches libpq.
 *
 * Same function table, semantics and return conventions as the SQLite
 * back end: actions 0 / -1; lookups 1 found, 0 not found, -1 error;
 * gw_store_sub_each() stops, returning 0, when its callback returns
 * non-zero, and the callback may call the store itself (records are read
 * in pages of GW_STORE_PG_PAGE by primary key, not under an open cursor).
 *
 * Schema: the same tables and columns as the SQLite schema (subscriptions,
 * authorizations, invitations) in the connection's search_path, with the
 * same numbered migrations; the version is the single row of the table
 * xfed_schema(version). gw_store_open_pg() applies the missing migrations
 * in ONE transaction holding pg_advisory_xact_lock(GW_STORE_PG_LOCK), so
 * two gateways starting together never race (the second waits, then finds
 * the schema current); a database written by a newer version is refused.
 *
 * Concurrency between gateways: every change is one statement, atomic on
 * its own; gw_store_sub_put() is an INSERT ... ON CONFLICT DO UPDATE on the
 * primary key (dir, xmpp, sip, poll), so two gateways writing the same
 * subscription at once leave one row (the last writer's). Authorisations
 * and invitations are INSERT ... ON CONFLICT DO NOTHING. The only
 * multi-statement change, the migration, is one transaction. Ownership
 * (gw_store.h): gw_store_sub_put() updates a row only when it is ours or
 * nobody's (ON CONFLICT DO UPDATE ... WHERE), and gw_store_sub_claim() is one
 * UPDATE whose WHERE names the owners it may replace: of two gateways
 * claiming one row at once, the second waits for the first's commit,
 * re-checks the row (READ COMMITTED) and finds a live owner, so it changes
 * nothing.
 *
 * Text: the database encoding must be UTF8 (checked at open). A field
 * that is not well-formed UTF-8 is refused by a write (-1, logged with the
 * field name) where SQLite would store the bytes as they are; a lookup or
 * removal with such a key finds nothing (0). Addresses reach the store
 * already checked as UTF-8 (gw_address.h); dialog fields come from SIP
 * headers and are ASCII in practice.
 *
 * Blocking: every call is a synchronous round trip to the server (prepared
 * statements, one per call; sub_each one per page). The gateway's loop
 * calls them as it calls SQLite's: they are short when the database is
 * near (same site, indexed primary-key statements) and bounded when it is
 * not, by defaults that the conninfo may override: connect_timeout=5 (s),
 * keepalives (idle 10 s, interval 2 s, count 3), tcp_user_timeout=10000
 * (ms), statement_timeout=5000 (ms, through options). Migrations at open
 * may run for up to 300 s.
 *
 * Connection loss: the call that meets it returns -1 and logs one WARN
 * line "store: PostgreSQL connection lost ..."; the next call reconnects
 * once (checks the schema version and prepares the statements again)
 * before running. If that fails it returns -1 with a WARN line, and so does
 * every call for the next GW_STORE_PG_RETRY_MS without waiting; the first
 * call after that tries again, and each further failure doubles the wait up
 * to GW_STORE_PG_RETRY_MAX_MS (a success resets it). So a dead database
 * costs the loop no connect_timeout at all: reconnections are made without
 * blocking (GW_STORE_PG_CONNECT_FIRST_MS, then GW_STORE_PG_CONNECT_SLICE_MS
 * per call at most). A
 * statement is never retried by the store: every call is idempotent, so
 * the caller may repeat it.
 *
 * Not thread-safe: one store, one thread (one libpq connection).
 */
#ifndef XFED_GW_STORE_PG_H
#define XFED_GW_STORE_PG_H

#include "gw_store.h"

/* The advisory lock key held while migrating: "xfedgw" + schema lock 1. */
#define GW_STORE_PG_LOCK INT64_C(0x7866656467770001)
/* After a failed reconnection, calls fail at once for this long, doubled
 * after each further failure up to the maximum. */
#define GW_STORE_PG_RETRY_MS     1000
#define GW_STORE_PG_RETRY_MAX_MS 8000
/* A reconnection is made without blocking: the call that starts it waits
 * for it at most GW_STORE_PG_CONNECT_FIRST_MS, later calls at most
 * GW_STORE_PG_CONNECT_SLICE_MS (calls in quick succession not at all), and
 * it is given up after GW_STORE_PG_CONNECT_MS (connect_timeout applies to
 * the first connection at start only). */
#define GW_STORE_PG_CONNECT_FIRST_MS 200
#define GW_STORE_PG_CONNECT_SLICE_MS 20
#define GW_STORE_PG_CONNECT_MS       5000
/* Records per page in gw_store_sub_each(). */
#define GW_STORE_PG_PAGE 256

/*
 * Connects with conninfo (a libpq connection string, "host=... dbname=..."
 * or a postgresql:// URI; parameters given there override the defaults
 * above), migrates the schema and prepares the statements. Blocks up to
 * connect_timeout, then for the migration. Returns NULL with *why
 * (static) on failure, and logs libpq's reason at WARN (never the
 * conninfo, which may hold a password). why may be NULL.
 */
struct gw_store *gw_store_open_pg(const char *conninfo, const char **why);

/* The schema version the database holds, -1 on error (s must be a store
 * that gw_store_open_pg() returned). */
int gw_store_pg_version(struct gw_store *s);

/* Checks that conninfo parses (key=value pairs, a postgresql:// URI, or a
 * bare database name) without connecting: 0, or -1 with *why (static).
 * For configuration checks; nothing is logged (a password could be). */
int gw_store_pg_conninfo_check(const char *conninfo, const char **why);

/* Writes "host=H port=P dbname=D user=U" (the parts conninfo names) into
 * buf for log lines and -n output: never the password or any other
 * parameter. "(unparsable)" when conninfo does not parse. */
void gw_store_pg_describe(const char *conninfo, char *buf, size_t len);

#endif
