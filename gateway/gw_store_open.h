/*
 * gw_store_open.h - chooses the state store's back end from one setting
 * (issue 6 item 2): the embedded SQLite file for one gateway, a shared
 * PostgreSQL database for several. The daemon calls gw_store_open() with
 * the configured spec and uses the gw_store_* wrappers of gw_store.h from
 * then on; nothing else in the gateway knows which back end it has.
 *
 * Spec forms:
 *   sqlite:PATH              SQLite database file (created if missing)
 *   postgresql:CONNINFO      libpq connection string, e.g.
 *                            "postgresql:host=db1 dbname=xfed user=xfed"
 *   postgresql://...         a libpq URI, used whole (also postgres://)
 *   PATH                     a plain path (no "word:" prefix) is SQLite
 * Any other "word:" prefix is refused, so that a typing error never
 * silently creates an SQLite file named after it.
 */
#ifndef XFED_GW_STORE_OPEN_H
#define XFED_GW_STORE_OPEN_H

#include <stddef.h>

#include "gw_store.h"

enum gw_store_kind { GW_STORE_SQLITE = 0, GW_STORE_POSTGRESQL };

/*
 * Splits spec without opening anything: *kind and *target (a pointer into
 * spec: the path or the conninfo). 0, or -1 with *why (static) when the
 * prefix is unknown or the target empty or, for PostgreSQL, does not
 * parse. For configuration checks (-n); logs nothing.
 */
int gw_store_spec_parse(const char *spec, enum gw_store_kind *kind, const char **target,
                        const char **why);

/*
 * What spec names, fit for a log line or -n output ("sqlite PATH",
 * "postgresql host=... dbname=... user=..."): never a password or other
 * connection parameters. A spec that does not parse reads "(invalid)".
 */
void gw_store_spec_describe(const char *spec, char *buf, size_t len);

/*
 * Opens the store that spec names and migrates its schema (see
 * gw_store_open_sqlite() and gw_store_open_pg() for what that blocks on).
 * Returns NULL with *why (static) on failure; why may be NULL.
 */
struct gw_store *gw_store_open(const char *spec, const char **why);

/* The schema version the store holds (-1 on error), whatever its back end;
 * compare with gw_store_schema_latest(). */
int gw_store_schema_version(struct gw_store *s);

#endif
