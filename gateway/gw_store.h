/*
 * gw_store.h - the gateway's persistent state: subscriptions both ways
 * with their dialog data (struct gw_sub), presence authorisations, and
 * invitations (who an internal user invited, for PublicUnverified
 * partners). A restart reloads its own subscriptions (GW_STORE_MINE) and
 * so loses no authorisation and can re-establish its subscriptions.
 *
 * The store is a small interface (struct gw_store_ops, a function table)
 * so that a shared PostgreSQL back end can be added for several gateways
 * (issue 6) next to the embedded SQLite one, which is the only code in xfed
 * that touches SQLite. The SQLite schema is versioned with numbered
 * migrations (PRAGMA user_version) applied in order, each in its own
 * transaction, when the store opens; a database written by a newer
 * version is refused.
 *
 * Ownership (issue 6 item 2, several gateways on one shared store): every
 * subscription row names the gateway that owns it (struct gw_sub.owner,
 * the gateway id given with gw_store_set_owner(), "" = nobody), and the
 * table gateways holds each gateway's lease (id, lease_until in ms since
 * the epoch, from the gateways' clocks: keep them synchronised). Only the
 * owner refreshes a subscription. A gateway renews its lease every period
 * (gw_store_lease_renew); a row whose owner is "" or has no current lease
 * is an orphan (GW_STORE_ORPHANS) that another gateway may claim with
 * gw_store_sub_claim(), one conditional UPDATE: of two gateways claiming
 * one row, exactly one sees "claimed". gw_store_sub_put() writes a row only
 * when it is new, ours, or nobody's, so a gateway that lost a row to
 * another cannot take it back by writing it (it returns 1).
 *
 * Calls block on local disk I/O (SQLite, WAL journal, synchronous=NORMAL:
 * a crash never corrupts the database; a power loss may lose the last
 * transactions). Not thread-safe: one store, one thread.
 * Returns: actions 0 / -1; lookups 1 found, 0 not found, -1 error.
 */
#ifndef XFED_GW_STORE_H
#define XFED_GW_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "gw_subscription.h"

struct gw_store;

/* Which rows a walk visits. */
enum gw_store_filter {
    GW_STORE_ALL = 0, /* every row */
    GW_STORE_MINE,    /* owner = this store's owner id */
    GW_STORE_ORPHANS, /* not ours, and owner "" or whose lease ran out by now_ms (a
                         walk through the owner index: cheap when there are none) */
};

struct gw_store_ops {
    const char *name;
    void (*close)(struct gw_store *);
    /* subscriptions, keyed by (dir, xmpp, sip, poll) */
    int (*sub_put)(struct gw_store *, const struct gw_sub *);
    int (*sub_get)(struct gw_store *, enum gw_sub_dir, const char *xmpp, const char *sip, bool poll,
                   struct gw_sub *out);
    int (*sub_by_dialog)(struct gw_store *, const char *call_id, const char *local_tag,
                         struct gw_sub *out);
    int (*sub_delete)(struct gw_store *, enum gw_sub_dir, const char *xmpp, const char *sip,
                      bool poll);
    /* the records filter selects (now_ms: for GW_STORE_ORPHANS), in no
     * particular order; cb returns 0 to go on */
    int (*sub_each)(struct gw_store *, enum gw_store_filter filter, int64_t now_ms,
                    int (*cb)(void *arg, const struct gw_sub *), void *arg);
    /* owner = ours when the row is ours, nobody's, its owner has no lease
     * current at now_ms, or force: 1 claimed, 0 not (owned by a live
     * gateway, or no such row), -1 error */
    int (*sub_claim)(struct gw_store *, enum gw_sub_dir, const char *xmpp, const char *sip,
                     bool poll, int64_t now_ms, bool force);
    /* our lease: lease_until = now_ms + lease_ms */
    int (*lease_renew)(struct gw_store *, int64_t now_ms, int64_t lease_ms);
    /* the ids of the gateways whose lease is current at now_ms, by id */
    int (*live_each)(struct gw_store *, int64_t now_ms, int (*cb)(void *arg, const char *id),
                     void *arg);
    /* authorisations: dir GW_SUB_X2S = the XMPP user may see the SIP
     * user; GW_SUB_S2X = the SIP user may see the XMPP user */
    int (*auth_set)(struct gw_store *, enum gw_sub_dir, const char *xmpp, const char *sip,
                    bool granted);
    int (*auth_get)(struct gw_store *, enum gw_sub_dir, const char *xmpp, const char *sip);
    /* invitations: internal user (local@domain) invited a partner bare JID */
    int (*invite_add)(struct gw_store *, const char *internal, const char *partner, int64_t now);
    int (*invite_has)(struct gw_store *, const char *internal, const char *partner);
    int (*invite_del)(struct gw_store *, const char *internal, const char *partner);
};

/* Time spent in the store's calls (the wrappers below), for metrics. */
struct gw_store_timing {
    uint64_t calls;    /* calls made */
    uint64_t usec;     /* their total wall-clock time, microseconds */
    uint64_t usec_max; /* the longest one since the last gw_store_timing_take() */
};

/* The handle every back end starts with (zeroed: timing starts at 0). */
struct gw_store {
    const struct gw_store_ops *ops;
    struct gw_store_timing timing;
    char owner[GW_SUB_OWNER_MAX]; /* this gateway's id, "" until gw_store_set_owner() */
};

/* Sets the id written as the owner of the rows this store writes (the
 * gateway's IPC instance name: stable across restarts, and the name the
 * edges hash users over). Returns 0, or -1 when it is too long. */
int gw_store_set_owner(struct gw_store *, const char *id);

/* Copies the timing into out and starts a new usec_max period. */
void gw_store_timing_take(struct gw_store *, struct gw_store_timing *out);

/*
 * Opens (creating if needed) the SQLite database at path and migrates it
 * to the current schema. ":memory:" gives a private in-memory store.
 * Returns NULL with *why (static) on failure.
 */
struct gw_store *gw_store_open_sqlite(const char *path, const char **why);

/* The schema version this code writes, and the one a store holds. */
int gw_store_schema_latest(void);
int gw_store_sqlite_version(struct gw_store *);

/* Thin wrappers over the function table. */
void gw_store_close(struct gw_store *);
/* 0 written, 1 not written: the row is owned by another gateway; -1 error */
int gw_store_sub_put(struct gw_store *, const struct gw_sub *);
int gw_store_sub_get(struct gw_store *, enum gw_sub_dir, const char *xmpp, const char *sip,
                     bool poll, struct gw_sub *out);
int gw_store_sub_by_dialog(struct gw_store *, const char *call_id, const char *local_tag,
                           struct gw_sub *out);
int gw_store_sub_delete(struct gw_store *, enum gw_sub_dir, const char *xmpp, const char *sip,
                        bool poll);
int gw_store_sub_each(struct gw_store *, int (*cb)(void *arg, const struct gw_sub *), void *arg);
int gw_store_sub_each_where(struct gw_store *, enum gw_store_filter, int64_t now_ms,
                            int (*cb)(void *arg, const struct gw_sub *), void *arg);
int gw_store_sub_claim(struct gw_store *, enum gw_sub_dir, const char *xmpp, const char *sip,
                       bool poll, int64_t now_ms, bool force);
int gw_store_lease_renew(struct gw_store *, int64_t now_ms, int64_t lease_ms);
int gw_store_live_each(struct gw_store *, int64_t now_ms, int (*cb)(void *arg, const char *id),
                       void *arg);
int gw_store_auth_set(struct gw_store *, enum gw_sub_dir, const char *xmpp, const char *sip,
                      bool granted);
int gw_store_auth_get(struct gw_store *, enum gw_sub_dir, const char *xmpp, const char *sip);
int gw_store_invite_add(struct gw_store *, const char *internal, const char *partner, int64_t now);
int gw_store_invite_has(struct gw_store *, const char *internal, const char *partner);
int gw_store_invite_del(struct gw_store *, const char *internal, const char *partner);

#endif
