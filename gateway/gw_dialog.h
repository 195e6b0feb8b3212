/*
 * gw_dialog.h - the gateway's RFC 6665 subscription dialogs: the live
 * table of struct gw_sub records (gw_subscription.h) in both directions,
 * indexed by subscription (direction, XMPP user, SIP user, poll) and by
 * dialog (Call-ID, local tag), each with its timer on the loop, written
 * through to the store (gw_store.h) so that a restart finds them again;
 * and the in-dialog requests built from a record (RFC 3261 section
 * 12.2.1.1: To = remote URI and tag, From = local URI and tag, the same
 * Call-ID, the CSeq the state machine counted, Request-URI = remote
 * target, Route = the route set; RFC 6665 section 7.2 headers Event,
 * Expires / Subscription-State, Contact).
 *
 * Records are owned by the table; a struct gw_dlg * stays valid until
 * gw_dlg_delete() or gw_dialogs_free(). Store writes block on local disk
 * (SQLite, see gw_store.h); nothing else blocks.
 */
#ifndef XFED_GW_DIALOG_H
#define XFED_GW_DIALOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gw_sip.h"
#include "gw_subscription.h"

struct event_base;
struct gw_store;
struct gw_dialogs;

struct gw_dlg {
    struct gw_sub sub; /* the state machine's data, persisted as is */
};

/* A record's timer (sub.timer_at) is due. */
typedef void gw_dlg_timer_cb(void *arg, struct gw_dlg *d);

/* What the gateway writes into its requests. Strings borrowed. */
struct gw_dlg_local {
    const char *via_transport; /* "TCP" or "TLS" */
    const char *host;          /* Via sent-by and Contact host */
    unsigned port;
    const char *contact; /* our Contact URI */
};

/* store may be NULL (records then live in memory only). */
struct gw_dialogs *gw_dialogs_new(struct event_base *base, struct gw_store *store,
                                  gw_dlg_timer_cb *cb, void *arg);

/* Frees every record (the store keeps them). NULL is fine. */
void gw_dialogs_free(struct gw_dialogs *);

/* Loads the store's records owned by this gateway (GW_STORE_MINE: all of
 * them with a store that has no owner id) and arms their timers. Returns
 * how many, or -1 when the store failed. */
int gw_dialogs_load(struct gw_dialogs *);

/* Puts a copy of s (read from the store, e.g. just claimed) in the table,
 * replacing a record with its key, and arms its timer. NULL on memory. */
struct gw_dlg *gw_dlg_adopt(struct gw_dialogs *, const struct gw_sub *s);

/* Lookups; NULL when absent. */
struct gw_dlg *gw_dlg_find(struct gw_dialogs *, enum gw_sub_dir, const char *xmpp, const char *sip,
                           bool poll);
struct gw_dlg *gw_dlg_by_dialog(struct gw_dialogs *, const char *call_id, const char *local_tag);

/* Records of one direction concerning an XMPP user (bare JID): up to max
 * into v; returns how many there are. */
size_t gw_dlg_for_xmpp(struct gw_dialogs *, enum gw_sub_dir, const char *xmpp, struct gw_dlg **v,
                       size_t max);

/* Every record, for recovery after a restart: up to max into v; returns
 * the total. */
size_t gw_dlg_all(struct gw_dialogs *, struct gw_dlg **v, size_t max);

/* A new record in the table (not yet stored: gw_dlg_save() does that).
 * NULL on memory or an address that does not fit. */
struct gw_dlg *gw_dlg_create(struct gw_dialogs *, enum gw_sub_dir, const char *xmpp,
                             const char *sip, bool poll, bool authorized);

/* Re-indexes d after the state machine changed it, re-arms its timer and
 * writes it to the store. Returns 0; 1 when the store did not take the
 * write because another gateway owns the record now (the caller forgets
 * d); -1 when the store write failed (the record lives on in memory). */
int gw_dlg_save(struct gw_dialogs *, struct gw_dlg *d);

/* Removes d from the table and frees it; the store keeps its row (another
 * gateway owns it). */
void gw_dlg_forget(struct gw_dialogs *, struct gw_dlg *d);

/* True once the store has held d (loaded, adopted, or a save went
 * through): a row missing now was removed by another gateway. */
bool gw_dlg_stored(const struct gw_dlg *d);

/* Removes d from the table and the store and frees it. */
void gw_dlg_delete(struct gw_dialogs *, struct gw_dlg *d);

/* Live records. */
size_t gw_dialogs_count(const struct gw_dialogs *);

/* Live records of one XMPP user (bare JID), both directions, polls
 * included: what max_subscriptions_per_user caps (INTERWORKING P40). */
size_t gw_dialogs_count_xmpp(const struct gw_dialogs *, const char *xmpp);

/*
 * NOTIFY throttle of the notifier (S->X), RFC 6665 section 4.1.2.1 and
 * section 6 ("throttle" the rate of notifications; RFC 3856 section 6.10:
 * at most one per 5 s), INTERWORKING P37. Only NOTIFYs that carry a
 * change of state pass through it; the NOTIFY that must follow a 2xx to
 * SUBSCRIBE at once (RFC 6665 section 4.2.1.2) and a final one go anyway
 * and are reported with gw_dlg_notify_sent(). Memory only: a restart
 * starts every dialog afresh.
 */

/* Called (with the table's arg) when a held change may go: the callee
 * sends the latest state, and gw_dlg_notify_may_send() lets it through. */
void gw_dialogs_set_notify_cb(struct gw_dialogs *, gw_dlg_timer_cb *cb);

/* True when a NOTIFY with a change may go now (its time is recorded).
 * False when the last one went less than interval_ms ago, or one is
 * already held: d is then held, and the notify callback runs once when the
 * interval is up, whatever number of changes came meanwhile (coalesced:
 * the callee sends the state of then). interval_ms 0: always true. */
bool gw_dlg_notify_may_send(struct gw_dialogs *, struct gw_dlg *d, unsigned interval_ms);

/* A NOTIFY went out without the throttle (after a SUBSCRIBE, a final or
 * an empty one): its time counts; carries_state (a PIDF body or a final
 * NOTIFY) also drops a held change, which that NOTIFY has delivered. */
void gw_dlg_notify_sent(struct gw_dialogs *, struct gw_dlg *d, bool carries_state);

/* True while d holds a change for the notify callback. */
bool gw_dlg_notify_held(const struct gw_dlg *d);

/* Route set helpers (RFC 3261 sections 12.1.1 and 12.1.2): the
 * Record-Route values of m in message order (reverse false: we are the
 * UAS) or reversed (we are the UAC, RFC 6665 section 4.4.1), joined by
 * ", " into buf. Returns 0, or -1 when they do not fit (buf then "").
 */
int gw_dlg_route_set(const struct gw_sip_msg *m, bool reverse, char *buf, size_t cap);

/*
 * Builds an X->S SUBSCRIBE for d (new_dialog: out of dialog, to the SIP
 * user's URI; else in the dialog), From = from_uri (the XMPP user's SIP
 * form) with d's local tag. branch (at least 32 bytes) receives the new
 * Via branch. Returns malloc'd bytes (length in *len) or NULL.
 */
char *gw_dlg_build_subscribe(const struct gw_dlg *d, const struct gw_dlg_local *loc,
                             const char *from_uri, uint32_t expires, bool new_dialog, char *branch,
                             size_t *len);

/* Builds an S->X NOTIFY for d: From = from_uri (the watched XMPP user)
 * with d's local tag, To = d's watcher with its tag, Subscription-State
 * from ns / expires / reason, and body (PIDF) when body_len > 0. */
char *gw_dlg_build_notify(const struct gw_dlg *d, const struct gw_dlg_local *loc,
                          const char *from_uri, enum gw_notify_state ns, uint32_t expires,
                          const char *reason, const char *body, size_t body_len, char *branch,
                          size_t *len);

#endif
