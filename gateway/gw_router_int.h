/*
 * gw_router_int.h - what the router's files share (gw_router.c: messages,
 * edges, SIP side, life cycle, metrics; gw_presence.c: presence;
 * gw_takeover.c: lease and takeover). Not for other modules: they use
 * gw_router.h.
 */
#ifndef XFED_GW_ROUTER_INT_H
#define XFED_GW_ROUTER_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include "gw_dialog.h"
#include "gw_policy.h"
#include "gw_ipc.h"
#include "gw_pidf.h"
#include "gw_router.h"
#include "gw_subscription.h"
#include "gw_transaction.h"
#include "jid.h"
#include "stanza.h"

#define ALLOW_METHODS  "MESSAGE, SUBSCRIBE, NOTIFY, OPTIONS"
#define MAX_RESOURCES  8   /* cached presences per XMPP user */
#define MAX_PER_USER   256 /* records touched per presence stanza */
#define JID_BUF        (3 * JID_PART_MAX + 3)
#define BRANCH_LEN     32
#define PIDF_LIMIT_CAP 65536
/* Retry-After of a SUBSCRIBE refused while the store is down: a few of the
 * PostgreSQL back end's reconnection attempts (one per second). */
#define STORE_RETRY_AFTER_S 5

struct act_ctx; /* gw_presence.c */

/* ---- presence caches ----------------------------------------------------- */

struct xpres { /* an XMPP user's presence, per resource */
    size_t n;
    struct gw_presence res[MAX_RESOURCES];
};

/* A pending client transaction of a subscription record: the record is
 * looked up again by key when the answer comes (it may be gone). */
struct sub_ref {
    struct gw_router *r;
    enum gw_sub_dir dir;
    bool poll;
    char call_id[GW_SUB_TOKEN_MAX];
    char xmpp[GW_SUB_ADDR_MAX];
    char sip[GW_SUB_ADDR_MAX];
    LIST_ENTRY(sub_ref) link; /* freed at shutdown when still pending */
};

struct gw_router {
    struct event_base *base;
    const struct gw_conf *gc;
    uint64_t pushed_version;
    struct gw_ipc *ipc;
    struct gw_transport *tp;
    struct gw_txn *txn;
    struct gw_store *store;
    struct gw_dialogs *dialogs;
    struct event *takeover_ev;         /* lease renewal and takeover, every sub_takeover_ms */
    unsigned takeover_ms;              /* its period now */
    int64_t claim_from_ms;             /* no orphan claimed before (start + sub_lease_ms) */
    struct metrics *metrics;           /* always (the gateway counts unscraped) */
    struct metrics_http *metrics_http; /* GET /metrics when metrics_listen is set */
    struct xml_stream *xml;
    /* the stanza being parsed */
    struct gw_ipc_in *cur_in;
    const char *cur_local, *cur_remote;
    bool cur_handled;
    struct gw_strmap *destqs; /* Request-URI -> struct destq */
    size_t x2s_pending;
    struct gw_strmap *s2x_by_id;     /* stanza id -> struct s2x_msg */
    struct ipc_idmap *s2x_by_handle; /* IPC handle -> struct s2x_msg */
    LIST_HEAD(, s2x_msg) s2x_all;
    LIST_HEAD(, sub_ref) refs;
    struct gw_strmap *xmpp_presence; /* bare JID -> struct xpres */
    struct gw_strmap *sip_presence;  /* "xmpp|sip" -> struct gw_presence */
    struct gw_strmap *invites;       /* "internal\npartner" known to be stored */
    char contact[512];
    struct gw_dlg_local loc;
    struct {
        uint64_t x2s_messages, s2x_messages, x2s_errors, s2x_errors, late_errors;
        uint64_t presence_in, presence_out, notifies_in, notifies_out, refused;
        uint64_t notifies_held, subs_capped, subs_store_refused, stanzas_in, stanzas_out;
        uint64_t subs_taken_over, subs_lost;
    } ctr;
};

/* ---- gw_router.c --------------------------------------------------------- */

/* Wall-clock seconds (subscription expiry, invitation times). */
int64_t gwr_now_s(void);

/* Wall-clock milliseconds: leases in a shared store compare the clocks
 * of several hosts (keep them synchronised). */
int64_t gwr_now_ms(void);

/* A Via branch: the RFC 3261 section 8.1.1.7 cookie and random characters,
 * BRANCH_LEN of them in b (BRANCH_LEN + 1 bytes). 0 / -1. */
int gwr_new_branch(char *b);

/* Serialises and sends st (freed here) from hosted domain local to
 * partner domain remote. Returns the IPC handle or 0. */
uint64_t gwr_send_stanza(struct gw_router *r, struct stanza *st, const char *local,
                         const char *remote, gw_ipc_sent_cb *cb, void *arg);

/* A stanza name in jabber:server with from, to and, when not NULL, type
 * and id; NULL when out of memory or an attribute is invalid. */
struct stanza *gwr_new_stanza(const char *name, const char *from, const char *to, const char *type,
                              const char *id);

/* Adds <name xml:lang=lang>text</name> to parent (lang may be NULL). */
int gwr_add_text_child(struct stanza *parent, const char *name, const char *text, const char *lang);

/* Copies the domain of a bare JID (no resource) into buf. */
void gwr_domain_copy(const char *jid, char *buf, size_t cap);

/* Answers an inbound stanza with an error through the edge and
 * acknowledges it; when the error cannot be sent the edge answers. Logs one
 * line (event=x2s-error): the stanza, addresses, condition, the SIP status
 * that caused it (code, 0: none), why (internal detail, may be NULL), the
 * text sent, and who answered (sent=gateway, edge, or none for an error
 * stanza, which never gets an error). No body is ever logged. */
void gwr_x2s_fail(struct gw_router *r, struct gw_ipc_in *in, const char *name, const char *from,
                  const char *to, const char *id, const char *type, const char *local,
                  const char *remote, const char *condition, const char *etype, const char *text,
                  const char *gone, int code, const char *why);

/* Whether the partner of xmpp_jid gets status notes (Federated only,
 * DESIGN.md section 2). */
bool gwr_status_notes_for(const struct gw_router *r, const char *xmpp_jid);

/* Whether internal has invited partner_bare (PublicUnverified partners
 * only; cached, then asked of the store). */
bool gwr_invited(struct gw_router *r, const struct gw_policy_pair *pair, const char *internal,
                 const char *partner_bare);

/* The internal user and partner of an S->X request, and the policy. */
bool gwr_s2x_policy(struct gw_router *r, struct gw_stxn *st, const char *from_jid,
                    const char *to_jid, enum gw_policy_op op, struct jid **fj, struct jid **tj);

/* ---- gw_presence.c ------------------------------------------------------- */

/* The bare JID of a SIP user's URI (canonical: lower case, escaped). */
int gwr_sip_to_bare(const char *uri, char *buf, size_t cap);

/* Sends a presence stanza of type from the record's SIP user to its
 * XMPP user (a probe, subscribed, ...). */
void gwr_act_stanza(struct gw_router *r, struct gw_dlg *d, const char *type);

/* Runs one event through the record's state machine (gw_subscription.h)
 * and carries out the actions it returns, in order; ctx the request being
 * answered, or NULL. */
void gwr_run_event(struct gw_router *r, struct gw_dlg *d, struct gw_sub_event *ev,
                   const struct act_ctx *ctx);

/* Frees a pending transaction's reference (answer came, or shutdown). */
void gwr_sub_ref_free(struct sub_ref *ref);

/* A held presence change may go now (gw_dlg_notify_may_send): the state
 * of now, which is the latest, goes in one NOTIFY. */
void gwr_dlg_notify_cb(void *arg, struct gw_dlg *d);

/* A record's timer (refresh, expiry, retry) fired: unless another
 * gateway owns it now, runs the timer event. */
void gwr_dlg_timer_cb(void *arg, struct gw_dlg *d);

/* Returns true when it has answered the edge for this stanza itself (an
 * error sent back), false when the caller acknowledges it. */
bool gwr_x2s_presence(struct gw_router *r, struct stanza *st, const struct jid *from,
                      const struct jid *to);

/* A NOTIFY in an X->S subscription's dialog (481 outside one). */
void gwr_sip_notify(struct gw_router *r, struct gw_stxn *st);

/* A SUBSCRIBE from an internal watcher (Event: presence; 489 otherwise). */
void gwr_sip_subscribe(struct gw_router *r, struct gw_stxn *st);

/* Re-establishes one record loaded from the store (after a restart or a
 * takeover), counting what it refreshed and probed. */
void gwr_recover_one(struct gw_router *r, struct gw_dlg *d, size_t *refreshed, size_t *probed);

/* Re-establishes every record of this gateway (at start). */
void gwr_recover(struct gw_router *r);

/* ---- gw_takeover.c ------------------------------------------------------- */

/* Creates and arms the lease renewal and takeover period (gw_router_start). */
int gwr_takeover_start(struct gw_router *r);

/* Re-arms the period when the configuration changed it. */
int gwr_takeover_arm(struct gw_router *r);

#endif
