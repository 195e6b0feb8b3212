/*
 * gw_router.c - the glue of xfed-gateway (see gw_router.h).
 *
 * Presence, as carried out here around gw_subscription.h:
 *   - records live in gw_dialog.h (memory + store); every event runs
 *     gw_sub_handle() and the returned actions are executed in order;
 *   - the gateway caches the XMPP users' presence per resource (from the
 *     presence stanzas partners send to internal watchers) for NOTIFY
 *     bodies, and the last presence of each watched SIP user (from
 *     NOTIFY) to answer XMPP probes without a poll SUBSCRIBE;
 *   - a partner user's first available presence toward an internal user
 *     refreshes the X->S subscription (RFC 8048 section 5.2.2);
 *   - after a restart every X->S subscription is refreshed at once (a 481
 *     from the SIP server starts a new dialog, authorisation kept) and
 *     every active S->X subscription probes its XMPP user so that the
 *     watcher gets a current NOTIFY (P38).
 * Presence stanzas are acknowledged to the edge once their effect is
 * stored (the SIP requests they cause are retried by the state machine).
 */
#include "gw_router.h"

#include <errno.h>
#include <inttypes.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>

#include "conf_model.h"
#include "gw_address.h"
#include "gw_conf.h"
#include "gw_dialog.h"
#include "gw_errors.h"
#include "gw_ipc.h"
#include "gw_message.h"
#include "gw_pidf.h"
#include "gw_policy.h"
#include "gw_sip.h"
#include "gw_store.h"
#include "gw_store_open.h"
#include "gw_strmap.h"
#include "gw_subscription.h"
#include "gw_transaction.h"
#include "gw_transport.h"
#include "ipc_idmap.h"
#include "ipc_msg.h"
#include "jid.h"
#include "log.h"
#include "metrics.h"
#include "metrics_catalog.h"
#include "metrics_http.h"
#include "rendezvous.h"
#include "stanza.h"
#include "xml_stream.h"

#define ALLOW_METHODS  "MESSAGE, SUBSCRIBE, NOTIFY, OPTIONS"
#define MAX_RESOURCES  8   /* cached presences per XMPP user */
#define MAX_PER_USER   256 /* records touched per presence stanza */
#define JID_BUF        (3 * JID_PART_MAX + 3)
#define BRANCH_LEN     32
#define PIDF_LIMIT_CAP 65536
/* Retry-After of a SUBSCRIBE refused while the store is down: a few of the
 * PostgreSQL back end's reconnection attempts (one per second). */
#define STORE_RETRY_AFTER_S 5

struct gw_router;

/* ---- X->S messages: one pending MESSAGE per Request-URI --------------- */

struct destq;

struct x2s_msg {
    struct gw_router *r;
    struct gw_ipc_in *in;
    struct destq *q;
    TAILQ_ENTRY(x2s_msg) link;
    char branch[BRANCH_LEN + 8];
    char *bytes;
    size_t len;
    uint64_t txn;
    /* what an error stanza needs: one allocation at from */
    char *from, *to, *id, *local, *remote;
};

struct destq {
    char *uri;
    TAILQ_HEAD(, x2s_msg) q;
    size_t n;
    bool busy;
};

/* ---- S->X messages awaiting the edge and the error window -------------- */

struct s2x_msg {
    struct gw_router *r;
    struct gw_stxn *st;
    uint64_t handle;
    char *id; /* stanza id = the MESSAGE's branch */
    bool full_jid;
    bool sent; /* the edge wrote it: waiting for an XMPP error */
    struct event *wait;
    LIST_ENTRY(s2x_msg) link;
};

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

static int64_t now_s(void)
{
    return (int64_t)time(NULL);
}

/* Wall-clock milliseconds: leases in a shared store compare the clocks
 * of several hosts (keep them synchronised). */
static int64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static int new_branch(char *b)
{
    memcpy(b, "z9hG4bK", 7);
    return gw_sip_random_token(b + 7, BRANCH_LEN - 7);
}

/* ---- XMPP output ------------------------------------------------------- */

/* Serialises and sends st (freed here) from hosted domain local to
 * partner domain remote. Returns the IPC handle or 0. */
static uint64_t send_stanza(struct gw_router *r, struct stanza *st, const char *local,
                            const char *remote, gw_ipc_sent_cb *cb, void *arg)
{
    size_t len = 0;
    char *xml = stanza_to_string(st, &len);
    stanza_free(st);
    if (xml == NULL)
        return 0;
    uint64_t h = gw_ipc_send(r->ipc, local, remote, xml, len, cb, arg);
    if (h != 0)
        r->ctr.stanzas_out++;
    if (h == 0)
        log_info("event=ipc-send-refused local=%s remote=%s errno=%d", local, remote, errno);
    free(xml);
    return h;
}

static struct stanza *new_stanza(const char *name, const char *from, const char *to,
                                 const char *type, const char *id)
{
    struct stanza *s = stanza_new(STANZA_NS_SERVER, name);
    if (s == NULL)
        return NULL;
    int rc = stanza_set_attr(s, "from", from) | stanza_set_attr(s, "to", to);
    if (type)
        rc |= stanza_set_attr(s, "type", type);
    if (id)
        rc |= stanza_set_attr(s, "id", id);
    if (rc != 0) {
        stanza_free(s);
        return NULL;
    }
    return s;
}

static int add_text_child(struct stanza *parent, const char *name, const char *text,
                          const char *lang)
{
    struct stanza *c = stanza_add_child(parent, NULL, name);
    if (c == NULL || stanza_add_text(c, text, strlen(text)) != 0)
        return -1;
    if (lang && lang[0] && stanza_set_attr_ns(c, STANZA_NS_XML, "lang", lang) != 0)
        return -1;
    return 0;
}

static const char *domain_of(const char *jid)
{
    const char *at = strchr(jid, '@');
    const char *d = at ? at + 1 : jid;
    return d;
}

/* Copies the domain of a bare JID (no resource) into buf. */
static void domain_copy(const char *jid, char *buf, size_t cap)
{
    const char *d = domain_of(jid);
    size_t n = strcspn(d, "/");
    if (n >= cap)
        n = cap - 1;
    memcpy(buf, d, n);
    buf[n] = '\0';
}

/* An error stanza answering (name, from, to, id) with condition / type,
 * optional text, and for <gone/> the new address. RFC 6120 section 8.3.1:
 * from and to swapped, id kept; never for an error. */
static struct stanza *error_stanza(const char *name, const char *orig_from, const char *orig_to,
                                   const char *id, const char *condition, const char *etype,
                                   const char *text, const char *gone)
{
    struct stanza *s = new_stanza(name, orig_to, orig_from, "error", id);
    if (s == NULL)
        return NULL;
    struct stanza *e = stanza_add_child(s, NULL, "error");
    struct stanza *c = e ? stanza_add_child(e, STANZA_NS_STANZA_ERRORS, condition) : NULL;
    if (c == NULL || stanza_set_attr(e, "type", etype ? etype : gw_err_xmpp_type(condition)) != 0 ||
        (gone && stanza_add_text(c, gone, strlen(gone)) != 0)) {
        stanza_free(s);
        return NULL;
    }
    if (text && text[0]) {
        struct stanza *t = stanza_add_child(e, STANZA_NS_STANZA_ERRORS, "text");
        if (t)
            stanza_add_text(t, text, strlen(text));
    }
    return s;
}

/* Answers an inbound stanza with an error through the edge and
 * acknowledges it; when the error cannot be sent the edge answers. Logs one
 * line (event=x2s-error): the stanza, addresses, condition, the SIP status
 * that caused it (code, 0: none), why (internal detail, may be NULL), the
 * text sent, and who answered (sent=gateway, edge, or none for an error
 * stanza, which never gets an error). No body is ever logged. */
static void x2s_fail(struct gw_router *r, struct gw_ipc_in *in, const char *name, const char *from,
                     const char *to, const char *id, const char *type, const char *local,
                     const char *remote, const char *condition, const char *etype, const char *text,
                     const char *gone, int code, const char *why)
{
    r->ctr.x2s_errors++;
    bool for_error = type && strcmp(type, "error") == 0;
    const char *sent = "none";
    if (for_error) {
        gw_ipc_in_done(r->ipc, in, NULL, NULL); /* never an error for an error */
    } else {
        struct stanza *e =
            from && to ? error_stanza(name, from, to, id, condition, etype, text, gone) : NULL;
        if (e && send_stanza(r, e, local, remote, NULL, NULL) != 0) {
            gw_ipc_in_done(r->ipc, in, NULL, NULL);
            sent = "gateway";
        } else {
            gw_ipc_in_done(r->ipc, in, condition, text);
            sent = "edge";
        }
    }
    char vf[JID_BUF], vt[JID_BUF], vi[128], vw[160], vx[160];
    log_info("event=x2s-error stanza=%s from=\"%s\" to=\"%s\" id=\"%s\" condition=%s type=%s "
             "code=%d why=\"%s\" text=\"%s\" sent=%s",
             name, log_value(from, vf, sizeof vf), log_value(to, vt, sizeof vt),
             log_value(id, vi, sizeof vi), condition, etype ? etype : gw_err_xmpp_type(condition),
             code, log_value(why, vw, sizeof vw), log_value(text, vx, sizeof vx), sent);
}

static bool status_notes_for(const struct gw_router *r, const char *xmpp_jid)
{
    char d[JID_PART_MAX + 1];
    domain_copy(xmpp_jid, d, sizeof(d));
    ssize_t i = conf_partner_find(r->gc->conf, d);
    return i >= 0 && gw_policy_status_notes(r->gc->conf->partners[i].type);
}

/* ---- XMPP -> SIP messages ---------------------------------------------- */

static void destq_send_next(struct gw_router *r, struct destq *q);
static void s2x_answer(struct s2x_msg *p, int code, const char *reason);

static void x2s_msg_free(struct x2s_msg *m)
{
    m->r->x2s_pending--;
    free(m->bytes);
    free(m->from);
    free(m);
}

static void x2s_msg_done(struct gw_router *r, struct x2s_msg *m, const struct gw_sip_msg *resp)
{
    int code = resp ? gw_sip_status(resp) : 408;
    if (code >= 200 && code < 300) {
        gw_ipc_in_done(r->ipc, m->in, NULL, NULL);
        return;
    }
    struct gw_err_sip_row row;
    if (!gw_err_sip_to_xmpp(code, &row)) {
        row.condition = "undefined-condition";
        row.type = "cancel";
        row.gone_with_address = false;
    }
    char gone[JID_BUF + 8] = "";
    if (row.gone_with_address && resp && gw_sip_contact_uri(resp)) {
        /* RFC 7247 section 7.2 note 1: 301 carries the new address */
        struct gw_xmpp_addr *a = malloc(sizeof(*a));
        if (a && gw_addr_sip_to_xmpp(gw_sip_contact_uri(resp), a) == GW_ADDR_OK) {
            memcpy(gone, "xmpp:", 5);
            gw_addr_xmpp_format(a, false, gone + 5, sizeof(gone) - 5);
        }
        free(a);
    }
    const char *text = resp ? gw_sip_reason(resp) : "no answer from the SIP server";
    x2s_fail(r, m->in, "message", m->from, m->to, m->id, NULL, m->local, m->remote, row.condition,
             resp ? row.type : "wait", text, gone[0] ? gone : NULL, code, "SIP failure");
}

static void x2s_msg_cb(void *arg, const struct gw_sip_msg *resp)
{
    struct x2s_msg *m = arg;
    struct gw_router *r = m->r;
    struct destq *q = m->q;
    TAILQ_REMOVE(&q->q, m, link);
    q->n--;
    q->busy = false;
    x2s_msg_done(r, m, resp);
    x2s_msg_free(m);
    if (resp == NULL) {
        /* The destination did not answer within Timer F: the messages
         * queued behind would each wait as long (RFC 3428 section 8 allows
         * one at a time), so they fail now with the same error. */
        while ((m = TAILQ_FIRST(&q->q)) != NULL) {
            TAILQ_REMOVE(&q->q, m, link);
            q->n--;
            x2s_fail(r, m->in, "message", m->from, m->to, m->id, NULL, m->local, m->remote,
                     "remote-server-timeout", "wait", "no answer from the SIP server", NULL, 0,
                     NULL);
            x2s_msg_free(m);
        }
    }
    destq_send_next(r, q);
}

static void destq_send_next(struct gw_router *r, struct destq *q)
{
    while (!q->busy) {
        struct x2s_msg *m = TAILQ_FIRST(&q->q);
        if (m == NULL) {
            gw_strmap_del(r->destqs, q->uri);
            free(q->uri);
            free(q);
            return;
        }
        m->txn = gw_txn_client(r->txn, m->branch, "MESSAGE", m->bytes, m->len, x2s_msg_cb, m);
        if (m->txn != 0) {
            q->busy = true;
            return;
        }
        TAILQ_REMOVE(&q->q, m, link);
        q->n--;
        x2s_fail(r, m->in, "message", m->from, m->to, m->id, NULL, m->local, m->remote,
                 "internal-server-error", "cancel", "gateway out of memory", NULL, 0, NULL);
        x2s_msg_free(m);
    }
}

static char *dupn(const char *const *v, size_t n, char **out)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += (v[i] ? strlen(v[i]) : 0) + 1;
    char *p = malloc(total ? total : 1);
    if (p == NULL)
        return NULL;
    char *w = p;
    for (size_t i = 0; i < n; i++) {
        if (v[i] == NULL) {
            out[i] = NULL;
            continue;
        }
        size_t l = strlen(v[i]);
        memcpy(w, v[i], l + 1);
        out[i] = w;
        w += l + 1;
    }
    return p;
}

/* Invitations are read on every message from a PublicUnverified partner and
 * made by every outbound MESSAGE or SUBSCRIBE: known ones are kept in memory
 * (bounded) so that the store is read once and written once per pair. */
#define INVITES_CACHED_MAX 200000

static void invite_key(char *key, size_t cap, const char *internal, const char *partner)
{
    snprintf(key, cap, "%s\n%s", internal, partner);
}

static void invite_remember(struct gw_router *r, const char *key)
{
    if (gw_strmap_count(r->invites) < INVITES_CACHED_MAX)
        gw_strmap_put(r->invites, key, r); /* any non-NULL value */
}

static bool invited(struct gw_router *r, const struct gw_policy_pair *pair, const char *internal,
                    const char *partner_bare)
{
    if (!pair->partner_known || pair->partner_type != PARTNER_PUBLIC_UNVERIFIED)
        return false; /* only PublicUnverified partners need one (gw_policy.h) */
    char key[2 * JID_BUF + 2];
    invite_key(key, sizeof(key), internal, partner_bare);
    if (gw_strmap_get(r->invites, key))
        return true;
    if (r->store && gw_store_invite_has(r->store, internal, partner_bare) == 1) {
        invite_remember(r, key);
        return true;
    }
    return false;
}

static void invite_add(struct gw_router *r, const char *internal, const char *partner_bare)
{
    char key[2 * JID_BUF + 2];
    invite_key(key, sizeof(key), internal, partner_bare);
    if (gw_strmap_get(r->invites, key))
        return;
    if (r->store && gw_store_invite_add(r->store, internal, partner_bare, now_s()) != 0) {
        log_warnx("event=store-write-failed what=invitation");
        return;
    }
    invite_remember(r, key);
}

static void x2s_message(struct gw_router *r, struct stanza *st, const struct jid *from,
                        const struct jid *to)
{
    struct gw_ipc_in *in = r->cur_in;
    const char *type = stanza_attr(st, "type"), *id = stanza_attr(st, "id");
    const char *local = r->cur_local, *remote = r->cur_remote;
    r->ctr.x2s_messages++;

    if (type && strcmp(type, "error") == 0) {
        /* An answer to a message we sent: the mapped SIP response while
         * its transaction waits (E7), else a logged late error (E10). */
        struct s2x_msg *p = id ? gw_strmap_get(r->s2x_by_id, id) : NULL;
        struct stanza *er = stanza_child(st, NULL, "error");
        const char *cond = "undefined-condition";
        bool gone_addr = false;
        for (struct stanza *c = er ? stanza_first_child(er) : NULL; c; c = stanza_next_sibling(c))
            if (strcmp(stanza_ns(c), STANZA_NS_STANZA_ERRORS) == 0 &&
                strcmp(stanza_name(c), "text") != 0) {
                cond = stanza_name(c);
                const char *t = stanza_text(c);
                gone_addr = t && t[0];
                break;
            }
        if (p && p->st) {
            struct gw_err_ctx ctx = {.full_jid = p->full_jid, .gone_has_address = gone_addr};
            int code = gw_err_xmpp_to_sip(cond, &ctx);
            log_info("event=s2x-message-error id=%s condition=%s code=%d", id, cond, code);
            if (p->handle)
                gw_ipc_forget(r->ipc, p->handle);
            s2x_answer(p, code, NULL);
            r->ctr.s2x_errors++;
        } else {
            r->ctr.late_errors++;
            log_info("event=late-error from=%s id=%s condition=%s", jid_full(from), id ? id : "",
                     cond);
        }
        gw_ipc_in_done(r->ipc, in, NULL, NULL);
        return;
    }

    struct gw_policy_pair pair;
    gw_policy_pair_from_conf(r->gc->conf, jid_bare(to), jid_domain(from), &pair);
    pair.invited = invited(r, &pair, jid_bare(to), jid_bare(from));
    struct gw_policy_decision d;
    gw_policy_inbound(&pair, GW_OP_MESSAGE, &d);
    if (d.action == GW_POLICY_IGNORE) {
        gw_ipc_in_done(r->ipc, in, NULL, NULL);
        return;
    }
    if (d.action != GW_POLICY_ALLOW) {
        r->ctr.refused++;
        x2s_fail(r, in, "message", stanza_attr(st, "from"), stanza_attr(st, "to"), id, type, local,
                 remote, d.condition ? d.condition : "forbidden", d.type, d.text, NULL, 0,
                 "access policy");
        return;
    }

    /* RFC 6121 section 5.2.3: choose one body */
    struct gw_im_body bodies[16];
    size_t nb = 0;
    const char *subject = NULL, *thread = NULL;
    for (struct stanza *c = stanza_first_child(st); c; c = stanza_next_sibling(c)) {
        if (strcmp(stanza_ns(c), STANZA_NS_SERVER) != 0)
            continue;
        if (strcmp(stanza_name(c), "body") == 0 && nb < 16) {
            bodies[nb].lang = stanza_lang(c);
            bodies[nb].text = stanza_text(c);
            nb++;
        } else if (strcmp(stanza_name(c), "subject") == 0 && subject == NULL) {
            subject = stanza_text(c);
        } else if (strcmp(stanza_name(c), "thread") == 0 && thread == NULL) {
            thread = stanza_text(c);
        }
    }
    int bi = gw_message_pick_body(bodies, nb, stanza_lang(st));
    struct gw_im_in im = {
        .from = jid_full(from),
        .to = jid_full(to),
        .id = id,
        .type = type,
        .lang = stanza_lang(st),
        .subject = subject,
        .thread = thread,
        .body = bi >= 0 ? bodies[bi].text : NULL,
    };
    /* Call-ID (without a thread) and From tag come from the edge's message
     * id, not from chance: when this gateway dies after the SIP side took the
     * MESSAGE but before the edge heard so, the survivor that gets the stanza
     * again sends a MESSAGE with the same Call-ID, From tag and CSeq, which
     * the SIP side can recognise as the one it has (issue 6, DESIGN.md
     * section 3 flow 5; RFC 3261 section 8.2.2.2 names a request by them). */
    char from_tag[24], cid[48], branch[BRANCH_LEN + 8];
    uint64_t origin = gw_ipc_in_origin(in), mid = gw_ipc_in_id(in);
    snprintf(from_tag, sizeof(from_tag), "x%016" PRIx64,
             (origin ^ (mid * UINT64_C(0x9E3779B97F4A7C15))));
    snprintf(cid, sizeof(cid), "%016" PRIx64 "-%" PRIx64 "@xfed", origin, mid);
    new_branch(branch);
    struct gw_x2s_txn tx = {
        .via_transport = gw_transport_via(r->tp),
        .via_host = r->gc->contact_host,
        .via_port = r->gc->local.sip_port,
        .branch = branch,
        .from_tag = from_tag,
        .call_id_fallback = cid,
        .cseq = 1,
    };
    struct gw_msg_limits lim = {.max_sip_bytes = r->gc->local.max_sip_message_bytes,
                                .max_xmpp_bytes = r->gc->local.max_xmpp_body_bytes};
    struct gw_x2s out;
    if (gw_message_x2s(&im, &tx, &lim, &out) != 0) {
        x2s_fail(r, in, "message", stanza_attr(st, "from"), stanza_attr(st, "to"), id, type, local,
                 remote, "resource-constraint", "wait", "gateway out of memory", NULL, 0, NULL);
        return;
    }
    if (out.action == GW_X2S_DROP) {
        gw_x2s_clear(&out);
        gw_ipc_in_done(r->ipc, in, NULL, NULL);
        return;
    }
    if (out.action == GW_X2S_REJECT) {
        x2s_fail(r, in, "message", stanza_attr(st, "from"), stanza_attr(st, "to"), id, type, local,
                 remote, out.condition, out.type, NULL, NULL, 0, out.reason);
        gw_x2s_clear(&out);
        return;
    }
    if (r->x2s_pending >= r->gc->local.queue_max) {
        gw_x2s_clear(&out);
        x2s_fail(r, in, "message", stanza_attr(st, "from"), stanza_attr(st, "to"), id, type, local,
                 remote, "resource-constraint", "wait", "too many messages waiting", NULL, 0, NULL);
        return;
    }
    struct x2s_msg *m = calloc(1, sizeof(*m));
    const char *f[5] = {stanza_attr(st, "from"), stanza_attr(st, "to"), id, local, remote};
    char *fv[5];
    char *block = m ? dupn(f, 5, fv) : NULL;
    struct destq *q = gw_strmap_get(r->destqs, out.request_uri);
    if (q == NULL && block) {
        q = calloc(1, sizeof(*q));
        if (q) {
            q->uri = strdup(out.request_uri);
            TAILQ_INIT(&q->q);
            if (q->uri == NULL || gw_strmap_put(r->destqs, q->uri, q) != 0) {
                free(q->uri);
                free(q);
                q = NULL;
            }
        }
    }
    if (q && q->n >= r->gc->local.max_queue_per_destination) {
        free(block);
        free(m);
        gw_x2s_clear(&out);
        x2s_fail(r, in, "message", f[0], f[1], id, type, local, remote, "resource-constraint",
                 "wait", "too many messages waiting for this user", NULL, 0, NULL);
        return;
    }
    if (m == NULL || block == NULL || q == NULL) {
        free(block);
        free(m);
        gw_x2s_clear(&out);
        x2s_fail(r, in, "message", f[0], f[1], id, type, local, remote, "resource-constraint",
                 "wait", "gateway out of memory", NULL, 0, NULL);
        return;
    }
    m->r = r;
    m->in = in;
    m->q = q;
    memcpy(m->branch, branch, sizeof(branch));
    m->bytes = out.bytes;
    m->len = out.len;
    out.bytes = NULL;
    m->from = fv[0];
    m->to = fv[1];
    m->id = fv[2];
    m->local = fv[3];
    m->remote = fv[4];
    r->x2s_pending++;
    TAILQ_INSERT_TAIL(&q->q, m, link);
    q->n++;
    gw_x2s_clear(&out);
    destq_send_next(r, q);
}

/* ---- SIP -> XMPP messages ---------------------------------------------- */

static void s2x_msg_free(struct s2x_msg *p)
{
    struct gw_router *r = p->r;
    if (p->id && gw_strmap_get(r->s2x_by_id, p->id) == p)
        gw_strmap_del(r->s2x_by_id, p->id);
    if (p->handle && ipc_idmap_get(r->s2x_by_handle, p->handle) == p)
        ipc_idmap_del(r->s2x_by_handle, p->handle);
    if (p->st)
        gw_stxn_set_owner(p->st, NULL, NULL);
    if (p->wait)
        event_free(p->wait);
    LIST_REMOVE(p, link);
    free(p->id);
    free(p);
}

static void s2x_answer(struct s2x_msg *p, int code, const char *reason)
{
    if (p->st)
        gw_stxn_reply(p->r->txn, p->st, code, reason);
    p->st = NULL;
    s2x_msg_free(p);
}

static void s2x_wait_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    s2x_answer(arg, 202, NULL); /* RFC 3428 section 7: accepted by a gateway */
}

static void s2x_sent_cb(void *arg, uint64_t handle, const char *condition, const char *text)
{
    struct s2x_msg *p = arg;
    (void)handle;
    (void)text;
    /* the handle stays mapped until p is freed: a BOUNCE may follow */
    if (condition) {
        struct gw_err_ctx ctx = {.full_jid = p->full_jid,
                                 .unresolvable = strcmp(condition, "remote-server-not-found") == 0};
        int code = gw_err_xmpp_to_sip(condition, &ctx);
        p->r->ctr.s2x_errors++;
        log_info("event=s2x-message-failed id=%s condition=%s code=%d", p->id, condition, code);
        s2x_answer(p, code, NULL);
        return;
    }
    unsigned ms = p->r->gc->local.error_wait_ms;
    if (ms == 0 || p->st == NULL) {
        s2x_answer(p, 202, NULL);
        return;
    }
    p->sent = true;
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};
    evtimer_add(p->wait, &tv);
}

static void s2x_abandon_cb(void *arg, struct gw_stxn *st)
{
    struct s2x_msg *p = arg;
    (void)st;
    p->st = NULL;
    if (p->handle)
        gw_ipc_forget(p->r->ipc, p->handle);
    s2x_msg_free(p);
}

static void on_bounce(void *arg, uint64_t handle, const char *condition, const char *text)
{
    struct gw_router *r = arg;
    (void)text;
    struct s2x_msg *p = handle ? ipc_idmap_get(r->s2x_by_handle, handle) : NULL;
    if (p == NULL || p->st == NULL) {
        r->ctr.late_errors++;
        log_info("event=late-error source=bounce condition=%s", condition);
        return;
    }
    /* still within the error window: the mapped response (RFC 7247 7.1) */
    struct gw_err_ctx ctx = {.full_jid = p->full_jid,
                             .unresolvable = strcmp(condition, "remote-server-not-found") == 0};
    int code = gw_err_xmpp_to_sip(condition, &ctx);
    log_info("event=s2x-message-bounced id=%s condition=%s code=%d", p->id ? p->id : "", condition,
             code);
    r->ctr.s2x_errors++;
    s2x_answer(p, code, NULL);
}

/* Builds the <message/> of RFC 7572 section 5 (no type attribute). */
static struct stanza *s2x_stanza(const struct gw_im_out *im)
{
    struct stanza *s = new_stanza("message", im->from, im->to, NULL, im->id);
    if (s == NULL)
        return NULL;
    if ((im->lang && stanza_set_attr_ns(s, STANZA_NS_XML, "lang", im->lang) != 0) ||
        (im->subject && add_text_child(s, "subject", im->subject, NULL) != 0) ||
        add_text_child(s, "body", im->body, NULL) != 0 ||
        (im->thread && add_text_child(s, "thread", im->thread, NULL) != 0)) {
        stanza_free(s);
        return NULL;
    }
    return s;
}

/* The internal user and partner of an S->X request, and the policy. */
static bool s2x_policy(struct gw_router *r, struct gw_stxn *st, const char *from_jid,
                       const char *to_jid, enum gw_policy_op op, struct jid **fj, struct jid **tj)
{
    *fj = jid_new(from_jid, NULL);
    *tj = jid_new(to_jid, NULL);
    if (*fj == NULL || *tj == NULL) {
        gw_stxn_reply(r->txn, st, 400, "Address does not map to XMPP");
        return false;
    }
    struct gw_policy_pair pair;
    gw_policy_pair_from_conf(r->gc->conf, jid_bare(*fj), jid_domain(*tj), &pair);
    struct gw_policy_decision d;
    gw_policy_outbound(&pair, op, &d);
    if (d.action != GW_POLICY_ALLOW) {
        r->ctr.refused++;
        log_info("event=s2x-refused from=%s to=%s code=%d reason=\"%s\"", jid_bare(*fj),
                 jid_full(*tj), d.sip_code, d.text ? d.text : "");
        gw_stxn_reply(r->txn, st, d.sip_code ? d.sip_code : 403, d.text);
        return false;
    }
    if (d.invites)
        invite_add(r, jid_bare(*fj), jid_bare(*tj));
    return true;
}

static void s2x_message(struct gw_router *r, struct gw_stxn *st)
{
    const struct gw_sip_msg *req = gw_stxn_request(st);
    struct gw_msg_limits lim = {.max_sip_bytes = r->gc->local.max_sip_message_bytes,
                                .max_xmpp_bytes = r->gc->local.max_xmpp_body_bytes};
    struct gw_s2x out;
    r->ctr.s2x_messages++;
    if (gw_message_s2x(req, &lim, &out) != 0) {
        gw_stxn_reply(r->txn, st, 500, "Gateway out of memory");
        return;
    }
    if (out.action == GW_S2X_REFUSE) {
        struct gw_sip_response resp = {.code = out.code,
                                       .reason = out.reason,
                                       .accept = out.accept,
                                       .expires = -1,
                                       .min_expires = -1,
                                       .retry_after = -1};
        gw_stxn_respond(r->txn, st, &resp);
        gw_s2x_clear(&out);
        return;
    }
    struct jid *fj = NULL, *tj = NULL;
    if (!s2x_policy(r, st, out.im.from, out.im.to, GW_OP_MESSAGE, &fj, &tj)) {
        jid_free(fj);
        jid_free(tj);
        gw_s2x_clear(&out);
        return;
    }
    struct s2x_msg *p = calloc(1, sizeof(*p));
    struct stanza *s = s2x_stanza(&out.im);
    if (p == NULL || s == NULL || (p->wait = evtimer_new(r->base, s2x_wait_cb, p)) == NULL ||
        (out.im.id && (p->id = strdup(out.im.id)) == NULL)) {
        stanza_free(s);
        if (p && p->wait)
            event_free(p->wait);
        free(p);
        gw_stxn_reply(r->txn, st, 500, "Gateway out of memory");
        goto out;
    }
    p->r = r;
    p->st = st;
    LIST_INSERT_HEAD(&r->s2x_all, p, link);
    p->full_jid = jid_resource(tj) != NULL;
    p->handle = send_stanza(r, s, jid_domain(fj), jid_domain(tj), s2x_sent_cb, p);
    if (p->handle == 0) {
        p->st = NULL;
        s2x_msg_free(p);
        gw_stxn_reply(r->txn, st, 500, "Gateway queue full");
        goto out;
    }
    ipc_idmap_put(r->s2x_by_handle, p->handle, p);
    if (p->id)
        gw_strmap_put(r->s2x_by_id, p->id, p);
    gw_stxn_set_owner(st, s2x_abandon_cb, p);
out:
    jid_free(fj);
    jid_free(tj);
    gw_s2x_clear(&out);
}

/* ---- presence: stanzas ------------------------------------------------- */

static void send_presence(struct gw_router *r, const char *from, const char *to, const char *type,
                          const struct gw_presence *p, bool notes)
{
    struct stanza *s = new_stanza("presence", from, to, type, NULL);
    if (s == NULL)
        return;
    int rc = 0;
    if (p && p->available) {
        if (p->show != GW_SHOW_NONE)
            rc |= add_text_child(s, "show", gw_show_name(p->show), NULL);
        if (notes && p->status[0])
            rc |= add_text_child(s, "status", p->status, p->lang);
        if (p->has_priority) {
            char pr[8];
            snprintf(pr, sizeof(pr), "%d", p->priority);
            rc |= add_text_child(s, "priority", pr, NULL);
        }
    }
    if (rc != 0) {
        stanza_free(s);
        return;
    }
    char fd[JID_PART_MAX + 1], td[JID_PART_MAX + 1];
    domain_copy(from, fd, sizeof(fd));
    domain_copy(to, td, sizeof(td));
    r->ctr.presence_out++;
    send_stanza(r, s, fd, td, NULL, NULL);
}

/* The bare JID of a SIP user's URI (canonical: lower case, escaped). */
static int sip_to_bare(const char *uri, char *buf, size_t cap)
{
    struct gw_xmpp_addr *a = malloc(sizeof(*a));
    int rc = -1;
    if (a && gw_addr_sip_to_xmpp(uri, a) == GW_ADDR_OK && a->local[0]) {
        size_t n = gw_addr_xmpp_format(a, false, buf, cap);
        rc = n < cap ? 0 : -1;
    }
    free(a);
    return rc;
}

/* The canonical SIP URI (AOR) of a bare JID, malloc'd. */
static char *bare_to_sip(const char *bare)
{
    char *uri = NULL;
    if (gw_addr_xmpp_to_sip(bare, false, &uri) != GW_ADDR_OK)
        return NULL;
    return uri;
}

/* ---- presence: actions ------------------------------------------------- */

struct act_ctx {
    struct gw_stxn *st; /* the request being answered (REPLY frees its message) */
    /* X->S NOTIFY: a copy of its body, which outlives the REPLY action */
    const char *body;
    size_t body_len;
    bool pidf; /* Content-Type application/pidf+xml */
};

static void sub_resp_cb(void *arg, const struct gw_sip_msg *resp);
static void sub_ref_free(struct sub_ref *ref);
static void run_event(struct gw_router *r, struct gw_dlg *d, struct gw_sub_event *ev,
                      const struct act_ctx *ctx);

static struct sub_ref *sub_ref_new(struct gw_router *r, const struct gw_sub *s)
{
    struct sub_ref *ref = malloc(sizeof(*ref));
    if (ref == NULL)
        return NULL;
    ref->r = r;
    ref->dir = s->dir;
    ref->poll = s->poll;
    memcpy(ref->call_id, s->call_id, sizeof(ref->call_id));
    memcpy(ref->xmpp, s->xmpp, sizeof(ref->xmpp));
    memcpy(ref->sip, s->sip, sizeof(ref->sip));
    LIST_INSERT_HEAD(&r->refs, ref, link);
    return ref;
}

static struct xpres *xpres_get(struct gw_router *r, const char *bare)
{
    return gw_strmap_get(r->xmpp_presence, bare);
}

static char *pidf_current(struct gw_router *r, const struct gw_sub *s, size_t *len, bool closed)
{
    struct xpres *xp = closed ? NULL : xpres_get(r, s->xmpp);
    return gw_pidf_build(s->xmpp, xp ? xp->res : NULL, xp ? xp->n : 0, status_notes_for(r, s->xmpp),
                         len);
}

static void act_send_subscribe(struct gw_router *r, struct gw_dlg *d, const struct gw_sub_action *a)
{
    char *from = bare_to_sip(d->sub.xmpp);
    char branch[BRANCH_LEN + 8];
    size_t len = 0;
    char *b =
        from ? gw_dlg_build_subscribe(d, &r->loc, from, a->expires, a->new_dialog, branch, &len)
             : NULL;
    free(from);
    struct sub_ref *ref = b ? sub_ref_new(r, &d->sub) : NULL;
    if (ref == NULL || gw_txn_client(r->txn, branch, "SUBSCRIBE", b, len, sub_resp_cb, ref) == 0) {
        /* The state machine's Timer N / retry takes it from here. */
        log_warnx("event=subscribe-not-sent xmpp=%s sip=%s", d->sub.xmpp, d->sub.sip);
        if (ref)
            sub_ref_free(ref);
    } else {
        log_debug("event=subscribe-sent xmpp=%s sip=%s expires=%u new=%d", d->sub.xmpp, d->sub.sip,
                  a->expires, a->new_dialog);
    }
    free(b);
}

static void act_send_notify(struct gw_router *r, struct gw_dlg *d, const struct gw_sub_action *a)
{
    char *from = bare_to_sip(d->sub.xmpp);
    char *body = NULL;
    size_t blen = 0;
    if (a->body == GW_BODY_CURRENT || a->body == GW_BODY_CLOSED)
        body = pidf_current(r, &d->sub, &blen, a->body == GW_BODY_CLOSED);
    char branch[BRANCH_LEN + 8];
    size_t len = 0;
    char *b = from ? gw_dlg_build_notify(d, &r->loc, from, a->ns, a->expires, a->reason, body,
                                         body ? blen : 0, branch, &len)
                   : NULL;
    free(from);
    free(body);
    struct sub_ref *ref = b ? sub_ref_new(r, &d->sub) : NULL;
    if (ref == NULL || gw_txn_client(r->txn, branch, "NOTIFY", b, len, sub_resp_cb, ref) == 0) {
        log_warnx("event=notify-not-sent xmpp=%s sip=%s", d->sub.xmpp, d->sub.sip);
        if (ref)
            sub_ref_free(ref);
    } else {
        r->ctr.notifies_out++;
    }
    free(b);
}

static void act_reply(struct gw_router *r, struct gw_dlg *d, const struct gw_sub_action *a,
                      const struct act_ctx *ctx)
{
    if (ctx == NULL || ctx->st == NULL)
        return;
    const struct gw_sip_msg *req = gw_stxn_request(ctx->st);
    bool subscribe = strcmp(gw_sip_method(req), "SUBSCRIBE") == 0;
    struct gw_sip_response resp = {
        .code = a->code,
        .expires = (subscribe && a->code >= 200 && a->code < 300) ? (long)a->expires : -1,
        .min_expires = a->min_expires,
        .retry_after = -1,
        /* S->X: our To tag is the dialog's local tag (RFC 3261 12.1.1) */
        .to_tag = d->sub.dir == GW_SUB_S2X && d->sub.local_tag[0] ? d->sub.local_tag : NULL,
        .contact = subscribe && a->code < 300 ? r->contact : NULL,
    };
    gw_stxn_respond(r->txn, ctx->st, &resp);
}

static void act_xmpp_presence(struct gw_router *r, struct gw_dlg *d, const struct act_ctx *ctx)
{
    char from[JID_BUF];
    if (ctx == NULL || ctx->body == NULL || sip_to_bare(d->sub.sip, from, sizeof(from)) != 0)
        return;
    size_t bl = ctx->body_len;
    const char *body = ctx->body;
    struct gw_presence *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return;
    const char *why = NULL;
    struct gw_pidf *doc = NULL;
    if (bl > 0 && ctx->pidf) {
        struct gw_pidf_limits lim = {.max_bytes = PIDF_LIMIT_CAP};
        doc = gw_pidf_parse(body, bl, &lim, &why);
    }
    if (doc == NULL) {
        /* P32: nothing bogus to XMPP for a document we cannot read */
        log_info("event=notify-body-ignored xmpp=%s sip=%s reason=\"%s\"", d->sub.xmpp, d->sub.sip,
                 why ? why : "not PIDF");
        free(p);
        return;
    }
    bool notes = status_notes_for(r, d->sub.xmpp);
    gw_pidf_to_presence(doc, notes, p);
    gw_pidf_free(doc);
    send_presence(r, from, d->sub.xmpp, p->available ? NULL : "unavailable", p, notes);
    /* kept to answer probes */
    char key[2 * GW_SUB_ADDR_MAX + 2];
    snprintf(key, sizeof(key), "%s|%s", d->sub.xmpp, d->sub.sip);
    struct gw_presence *old = gw_strmap_get(r->sip_presence, key);
    if (gw_strmap_put(r->sip_presence, key, p) == 0)
        free(old);
    else
        free(p);
}

static void act_stanza(struct gw_router *r, struct gw_dlg *d, const char *type)
{
    char sip_bare[JID_BUF];
    if (sip_to_bare(d->sub.sip, sip_bare, sizeof(sip_bare)) != 0)
        return;
    send_presence(r, sip_bare, d->sub.xmpp, type, NULL, false);
}

static void run_actions(struct gw_router *r, struct gw_dlg *d, const struct gw_sub_actions *acts,
                        const struct act_ctx *ctx)
{
    bool del = false, lost = false;
    for (size_t i = 0; i < acts->n; i++) {
        const struct gw_sub_action *a = &acts->a[i];
        switch (a->kind) {
        case GW_ACT_SEND_SUBSCRIBE:
            act_send_subscribe(r, d, a);
            break;
        case GW_ACT_REPLY:
            act_reply(r, d, a, ctx);
            break;
        case GW_ACT_SEND_NOTIFY:
            /* P37: a change of state is throttled per dialog; the NOTIFY
             * answering a SUBSCRIBE (ctx) and final ones go at once. */
            if (d->sub.dir == GW_SUB_S2X && a->ns == GW_NS_ACTIVE && a->body == GW_BODY_CURRENT &&
                (ctx == NULL || ctx->st == NULL)) {
                if (!gw_dlg_notify_may_send(r->dialogs, d, r->gc->local.notify_min_interval_ms)) {
                    r->ctr.notifies_held++;
                    break;
                }
            } else {
                gw_dlg_notify_sent(r->dialogs, d,
                                   a->body != GW_BODY_NONE || a->ns == GW_NS_TERMINATED);
            }
            act_send_notify(r, d, a);
            break;
        case GW_ACT_XMPP_SUBSCRIBE:
            act_stanza(r, d, "subscribe");
            break;
        case GW_ACT_XMPP_SUBSCRIBED:
            act_stanza(r, d, "subscribed");
            break;
        case GW_ACT_XMPP_UNSUBSCRIBED:
            act_stanza(r, d, "unsubscribed");
            break;
        case GW_ACT_XMPP_PRESENCE:
            act_xmpp_presence(r, d, ctx);
            break;
        case GW_ACT_XMPP_UNAVAILABLE:
            act_stanza(r, d, "unavailable");
            break;
        case GW_ACT_XMPP_PROBE:
            act_stanza(r, d, "probe");
            break;
        case GW_ACT_AUTH_GRANT:
        case GW_ACT_AUTH_REVOKE:
            if (r->store && gw_store_auth_set(r->store, d->sub.dir, d->sub.xmpp, d->sub.sip,
                                              a->kind == GW_ACT_AUTH_GRANT) != 0)
                log_warnx("event=store-write-failed what=authorization");
            break;
        case GW_ACT_SAVE:
            lost = gw_dlg_save(r->dialogs, d) == 1;
            break;
        case GW_ACT_DELETE:
            del = true;
            break;
        }
    }
    if (del) {
        gw_dlg_delete(r->dialogs, d);
    } else if (lost) {
        /* another gateway took the subscription over (its user's traffic
         * goes there now): it refreshes it, we forget it */
        r->ctr.subs_lost++;
        log_info("event=sub-released dir=%s xmpp=%s sip=%s reason=\"owned by another gateway\"",
                 d->sub.dir == GW_SUB_X2S ? "x2s" : "s2x", d->sub.xmpp, d->sub.sip);
        gw_dlg_forget(r->dialogs, d);
    }
}

/* Fresh identifiers for a new dialog, in ev. */
struct fresh {
    char call_id[48];
    char tag[20];
};

static void fresh_ids(struct gw_router *r, struct fresh *f, struct gw_sub_event *ev)
{
    gw_sip_random_token(f->call_id, 25);
    snprintf(f->call_id + 24, sizeof(f->call_id) - 24, "@%.20s", r->gc->contact_host);
    gw_sip_random_token(f->tag, 17);
    ev->new_call_id = f->call_id;
    ev->new_tag = f->tag;
}

static struct gw_sub_cfg sub_cfg(const struct gw_router *r)
{
    /* The refresh interval of the configuration plane is what the gateway
     * asks for (DESIGN.md section 2); the notifier may grant less. */
    unsigned want = r->gc->local.subscribe_expires ? r->gc->local.subscribe_expires
                                                   : r->gc->conf->settings.subscription_refresh;
    struct gw_sub_cfg c = {
        .subscribe_expires = want,
        .max_expires = r->gc->local.max_expires,
        .min_expires = r->gc->local.min_expires,
        .refresh_interval = r->gc->conf->settings.subscription_refresh,
    };
    gw_sub_cfg_default(&c);
    return c;
}

static void run_event(struct gw_router *r, struct gw_dlg *d, struct gw_sub_event *ev,
                      const struct act_ctx *ctx)
{
    struct fresh f;
    if (ev->new_call_id == NULL)
        fresh_ids(r, &f, ev);
    ev->now = now_s();
    struct gw_sub_cfg c = sub_cfg(r);
    struct gw_sub_actions acts;
    enum gw_sub_state before = d->sub.state;
    if (gw_sub_handle(&d->sub, &c, ev, &acts) != 0) {
        log_debug("event=sub-event-ignored kind=%d state=%s xmpp=%s sip=%s", (int)ev->kind,
                  gw_sub_state_name(d->sub.state), d->sub.xmpp, d->sub.sip);
        /* a record nobody started is not kept */
        if (d->sub.state == GW_SUB_IDLE)
            gw_dlg_delete(r->dialogs, d);
        return;
    }
    log_debug("event=sub dir=%s xmpp=%s sip=%s kind=%d state=%s->%s actions=%zu",
              d->sub.dir == GW_SUB_X2S ? "x2s" : "s2x", d->sub.xmpp, d->sub.sip, (int)ev->kind,
              gw_sub_state_name(before), gw_sub_state_name(d->sub.state), acts.n);
    run_actions(r, d, &acts, ctx);
}

static void sub_ref_free(struct sub_ref *ref)
{
    LIST_REMOVE(ref, link);
    free(ref);
}

static void sub_resp_cb(void *arg, const struct gw_sip_msg *resp)
{
    struct sub_ref *ref = arg;
    struct gw_router *r = ref->r;
    struct gw_dlg *d = gw_dlg_find(r->dialogs, ref->dir, ref->xmpp, ref->sip, ref->poll);
    if (d == NULL || strcmp(d->sub.call_id, ref->call_id) != 0) {
        sub_ref_free(ref); /* an answer about a dialog that is gone */
        return;
    }
    struct gw_sub_event ev = {.kind = resp ? GW_EV_SIP_RESPONSE : GW_EV_SIP_TIMEOUT,
                              .expires = -1,
                              .min_expires = -1,
                              .ns_expires = -1,
                              .retry_after = -1};
    if (resp) {
        ev.code = gw_sip_status(resp);
        ev.expires = gw_sip_expires(resp);
        ev.min_expires = gw_sip_min_expires(resp);
        if (ev.code >= 300)
            log_info("event=sub-request-failed dir=%s xmpp=%s sip=%s method=%s code=%d",
                     ref->dir == GW_SUB_X2S ? "x2s" : "s2x", ref->xmpp, ref->sip,
                     gw_sip_cseq_method(resp), ev.code);
    }
    sub_ref_free(ref);
    run_event(r, d, &ev, NULL);
}

/* A held presence change may go now (gw_dlg_notify_may_send): the state
 * of now, which is the latest, goes in one NOTIFY. */
static void dlg_notify_cb(void *arg, struct gw_dlg *d)
{
    struct gw_router *r = arg;
    struct gw_sub_event ev = {.kind = GW_EV_XMPP_AVAILABLE,
                              .now = now_s(),
                              .expires = -1,
                              .min_expires = -1,
                              .ns_expires = -1,
                              .retry_after = -1};
    ev.presence_known = xpres_get(r, d->sub.xmpp) != NULL;
    if (d->sub.state == GW_SUB_ACTIVE)
        run_event(r, d, &ev, NULL);
}

/* INTERWORKING P40: may one more subscription dialog of this XMPP user be
 * made? Logs the refusal. */
static bool sub_room(struct gw_router *r, const char *xmpp, const char *sip)
{
    size_t mine = gw_dialogs_count_xmpp(r->dialogs, xmpp), all = gw_dialogs_count(r->dialogs);
    if (mine < r->gc->local.max_subscriptions_per_user && all < r->gc->local.max_subscriptions)
        return true;
    r->ctr.subs_capped++;
    log_warnx("event=subscription-refused xmpp=%s sip=%s reason=\"%s\" count=%zu", xmpp, sip,
              mine >= r->gc->local.max_subscriptions_per_user ? "max_subscriptions_per_user"
                                                              : "max_subscriptions",
              mine >= r->gc->local.max_subscriptions_per_user ? mine : all);
    return false;
}

/* True when the store says another gateway owns d now (it took d over, and
 * may have ended it since: the row is gone): d is then forgotten. One
 * primary-key read, before a timer acts (a refresh, a retry, an expiry), so
 * that two gateways never both refresh one subscription and a subscription
 * another gateway ended is not brought back. A store that cannot answer
 * leaves d alone. */
static bool owned_elsewhere(struct gw_router *r, struct gw_dlg *d)
{
    if (r->store == NULL || r->store->owner[0] == '\0')
        return false;
    struct gw_sub *row = malloc(sizeof(*row));
    if (row == NULL)
        return false;
    int rc = gw_store_sub_get(r->store, d->sub.dir, d->sub.xmpp, d->sub.sip, d->sub.poll, row);
    bool other = (rc == 1 && row->owner[0] != '\0' && strcmp(row->owner, r->store->owner) != 0) ||
                 (rc == 0 && gw_dlg_stored(d));
    if (other) {
        r->ctr.subs_lost++;
        log_info("event=sub-released dir=%s xmpp=%s sip=%s owner=%s",
                 d->sub.dir == GW_SUB_X2S ? "x2s" : "s2x", d->sub.xmpp, d->sub.sip,
                 rc == 1 ? row->owner : "(removed)");
        gw_dlg_forget(r->dialogs, d);
    }
    free(row);
    return other;
}

static void dlg_timer_cb(void *arg, struct gw_dlg *d)
{
    struct gw_router *r = arg;
    if (owned_elsewhere(r, d))
        return;
    struct gw_sub_event ev = {
        .kind = GW_EV_TIMER, .expires = -1, .min_expires = -1, .ns_expires = -1, .retry_after = -1};
    run_event(r, d, &ev, NULL);
}

/* A subscription the store holds but this gateway does not: another
 * gateway's (a dead one's, or one whose users the edges now send here).
 * Its user's traffic comes here, so this gateway takes it over (forced:
 * the previous owner forgets it at its next timer or write) and goes on
 * with the stored dialog instead of starting a second one. */
static struct gw_dlg *take_stored(struct gw_router *r, enum gw_sub_dir dir, const char *xmpp,
                                  const char *sip, bool poll)
{
    if (r->store == NULL)
        return NULL;
    struct gw_sub *row = malloc(sizeof(*row));
    struct gw_dlg *d = NULL;
    if (row && gw_store_sub_get(r->store, dir, xmpp, sip, poll, row) == 1 &&
        row->state != GW_SUB_TERMINATED &&
        gw_store_sub_claim(r->store, dir, xmpp, sip, poll, now_ms(), true) == 1) {
        log_info("event=sub-takeover from=%s count=1 reason=traffic",
                 row->owner[0] ? row->owner : "none");
        snprintf(row->owner, sizeof(row->owner), "%s", r->store->owner);
        d = gw_dlg_adopt(r->dialogs, row);
        if (d)
            r->ctr.subs_taken_over++;
    }
    free(row);
    return d;
}

/* The record in memory, else the one the store holds (taken over). */
static struct gw_dlg *find_or_take(struct gw_router *r, enum gw_sub_dir dir, const char *xmpp,
                                   const char *sip, bool poll)
{
    struct gw_dlg *d = gw_dlg_find(r->dialogs, dir, xmpp, sip, poll);
    return d ? d : take_stored(r, dir, xmpp, sip, poll);
}

/* The record, or a new one when max_subscriptions(_per_user) leave room
 * (*capped is set when they do not) and the store answers: *store_down is
 * set when it does not (PostgreSQL stopped or unreachable), so that a new
 * subscription the gateway could not keep across a restart or a takeover is
 * refused with an error the subscriber can retry, not accepted and lost. */
static struct gw_dlg *get_or_create(struct gw_router *r, enum gw_sub_dir dir, const char *xmpp,
                                    const char *sip, bool poll, bool *capped, bool *store_down)
{
    struct gw_dlg *d = gw_dlg_find(r->dialogs, dir, xmpp, sip, poll);
    *capped = false;
    *store_down = false;
    if (d)
        return d;
    if (!sub_room(r, xmpp, sip)) {
        *capped = true;
        return NULL;
    }
    d = take_stored(r, dir, xmpp, sip, poll);
    if (d)
        return d;
    int auth = r->store ? gw_store_auth_get(r->store, dir, xmpp, sip) : 0;
    if (auth < 0) {
        *store_down = true;
        r->ctr.subs_store_refused++;
        log_warnx("event=subscription-refused xmpp=%s sip=%s reason=\"store_unavailable\" dir=%s",
                  xmpp, sip, dir == GW_SUB_X2S ? "x2s" : "s2x");
        return NULL;
    }
    return gw_dlg_create(r->dialogs, dir, xmpp, sip, poll, auth == 1);
}

/* ---- presence: XMPP -> gateway ------------------------------------------ */

static void xpres_update(struct gw_router *r, const struct jid *from, struct stanza *st,
                         bool available, bool *first_available)
{
    const char *bare = jid_bare(from), *res = jid_resource(from) ? jid_resource(from) : "";
    struct xpres *xp = xpres_get(r, bare);
    *first_available = false;
    if (xp == NULL) {
        if (!available)
            return;
        xp = calloc(1, sizeof(*xp));
        if (xp == NULL || gw_strmap_put(r->xmpp_presence, bare, xp) != 0) {
            free(xp);
            return;
        }
    }
    size_t i = 0;
    while (i < xp->n && strcmp(xp->res[i].resource, res) != 0)
        i++;
    if (!available) {
        if (res[0] == '\0')
            xp->n = 0; /* unavailable from the bare JID: every resource */
        else if (i < xp->n)
            xp->res[i] = xp->res[--xp->n];
        return;
    }
    *first_available = xp->n == 0;
    if (i == xp->n) {
        if (xp->n == MAX_RESOURCES)
            i = xp->n - 1; /* the newest replaces the last */
        else
            xp->n++;
    }
    struct gw_presence *p = &xp->res[i];
    memset(p, 0, sizeof(*p));
    p->available = true;
    snprintf(p->resource, sizeof(p->resource), "%s", res);
    struct stanza *c;
    if ((c = stanza_child(st, STANZA_NS_SERVER, "show")) != NULL) {
        enum gw_show sh;
        if (gw_show_parse(stanza_text(c), &sh) == 0)
            p->show = sh;
    }
    if ((c = stanza_child(st, STANZA_NS_SERVER, "status")) != NULL) {
        snprintf(p->status, sizeof(p->status), "%s", stanza_text(c));
        const char *l = stanza_lang(c) ? stanza_lang(c) : stanza_lang(st);
        snprintf(p->lang, sizeof(p->lang), "%s", l ? l : "");
    }
    if ((c = stanza_child(st, STANZA_NS_SERVER, "priority")) != NULL) {
        char *end;
        long v = strtol(stanza_text(c), &end, 10);
        if (*end == '\0' && v >= -128 && v <= 127) {
            p->has_priority = true;
            p->priority = (int)v;
        }
    }
}

/* Returns true when it has answered the edge for this stanza itself (an
 * error sent back), false when the caller acknowledges it. */
static bool x2s_presence(struct gw_router *r, struct stanza *st, const struct jid *from,
                         const struct jid *to)
{
    const char *type = stanza_attr(st, "type");
    enum gw_policy_op op;
    r->ctr.presence_in++;
    if (type == NULL)
        op = GW_OP_AVAILABLE;
    else if (!strcmp(type, "unavailable"))
        op = GW_OP_UNAVAILABLE;
    else if (!strcmp(type, "subscribe"))
        op = GW_OP_SUBSCRIBE;
    else if (!strcmp(type, "subscribed"))
        op = GW_OP_SUBSCRIBED;
    else if (!strcmp(type, "unsubscribe"))
        op = GW_OP_UNSUBSCRIBE;
    else if (!strcmp(type, "unsubscribed"))
        op = GW_OP_UNSUBSCRIBED;
    else if (!strcmp(type, "probe"))
        op = GW_OP_PROBE;
    else if (!strcmp(type, "error"))
        op = GW_OP_UNSUBSCRIBED; /* [DESIGN] INTERWORKING.md 2.2: ends what it answers */
    else
        return false; /* unknown type: ignored (RFC 6121 section 4.7.1) */

    const char *xmpp = jid_bare(from);
    char *sip = bare_to_sip(jid_bare(to));
    if (sip == NULL)
        return false;
    struct gw_policy_pair pair;
    gw_policy_pair_from_conf(r->gc->conf, jid_bare(to), jid_domain(from), &pair);
    pair.invited = invited(r, &pair, jid_bare(to), xmpp);
    struct gw_policy_decision pd;
    gw_policy_inbound(&pair, op, &pd);
    if (pd.action != GW_POLICY_ALLOW) {
        r->ctr.refused++;
        log_info("event=x2s-presence-refused from=%s to=%s type=%s action=%d", xmpp, jid_bare(to),
                 type ? type : "available", (int)pd.action);
        if (pd.action == GW_POLICY_UNSUBSCRIBED)
            send_presence(r, jid_bare(to), xmpp, "unsubscribed", NULL, false);
        free(sip);
        return false;
    }
    struct gw_sub_event ev = {
        .expires = -1, .min_expires = -1, .ns_expires = -1, .retry_after = -1};
    struct gw_dlg *d;
    bool capped = false, store_down = false;
    switch (op) {
    case GW_OP_AVAILABLE:
    case GW_OP_UNAVAILABLE: {
        bool first = false;
        xpres_update(r, from, st, op == GW_OP_AVAILABLE, &first);
        d = find_or_take(r, GW_SUB_S2X, xmpp, sip, false);
        if (d) {
            ev.kind = op == GW_OP_AVAILABLE ? GW_EV_XMPP_AVAILABLE : GW_EV_XMPP_UNAVAILABLE;
            struct xpres *xp = xpres_get(r, xmpp);
            ev.presence_known = xp != NULL;
            run_event(r, d, &ev, NULL);
        }
        d = first ? find_or_take(r, GW_SUB_X2S, xmpp, sip, false) : NULL;
        if (d) { /* RFC 8048 section 5.2.2: initial presence refreshes */
            struct gw_sub_event e2 = ev;
            e2.kind = GW_EV_XMPP_AVAILABLE;
            e2.new_call_id = NULL;
            run_event(r, d, &e2, NULL);
        }
        break;
    }
    case GW_OP_SUBSCRIBE:
        d = get_or_create(r, GW_SUB_X2S, xmpp, sip, false, &capped, &store_down);
        if (d) {
            ev.kind = GW_EV_XMPP_SUBSCRIBE;
            run_event(r, d, &ev, NULL);
        }
        break;
    case GW_OP_UNSUBSCRIBE:
        if (r->store)
            gw_store_auth_set(r->store, GW_SUB_X2S, xmpp, sip, false);
        d = find_or_take(r, GW_SUB_X2S, xmpp, sip, false);
        if (d) {
            ev.kind = GW_EV_XMPP_UNSUBSCRIBE;
            run_event(r, d, &ev, NULL);
        }
        break;
    case GW_OP_SUBSCRIBED:
        if (r->store)
            gw_store_auth_set(r->store, GW_SUB_S2X, xmpp, sip, true);
        d = find_or_take(r, GW_SUB_S2X, xmpp, sip, false);
        if (d) {
            ev.kind = GW_EV_XMPP_SUBSCRIBED;
            run_event(r, d, &ev, NULL);
        }
        break;
    case GW_OP_UNSUBSCRIBED:
        if (r->store && (type == NULL || strcmp(type, "error") != 0))
            gw_store_auth_set(r->store, GW_SUB_S2X, xmpp, sip, false);
        d = find_or_take(r, GW_SUB_S2X, xmpp, sip, false);
        if (d) {
            ev.kind = GW_EV_XMPP_UNSUBSCRIBED;
            run_event(r, d, &ev, NULL);
        }
        d = find_or_take(r, GW_SUB_S2X, xmpp, sip, true);
        if (d) {
            ev.kind = GW_EV_XMPP_UNSUBSCRIBED;
            run_event(r, d, &ev, NULL);
        }
        break;
    case GW_OP_PROBE: {
        d = find_or_take(r, GW_SUB_X2S, xmpp, sip, false);
        char key[2 * GW_SUB_ADDR_MAX + 2];
        snprintf(key, sizeof(key), "%s|%s", xmpp, sip);
        struct gw_presence *known = gw_strmap_get(r->sip_presence, key);
        if (d && d->sub.state == GW_SUB_ACTIVE && known) {
            bool notes = status_notes_for(r, xmpp);
            send_presence(r, jid_bare(to), xmpp, known->available ? NULL : "unavailable", known,
                          notes);
        } else if (d && (d->sub.state == GW_SUB_ACTIVE || d->sub.state == GW_SUB_PENDING)) {
            ev.kind = GW_EV_XMPP_AVAILABLE; /* refresh: the NOTIFY answers */
            run_event(r, d, &ev, NULL);
        } else if (gw_dlg_find(r->dialogs, GW_SUB_X2S, xmpp, sip, true) == NULL) {
            capped = !sub_room(r, xmpp, sip);
            d = capped ? NULL : gw_dlg_create(r->dialogs, GW_SUB_X2S, xmpp, sip, true, false);
            if (d) {
                ev.kind = GW_EV_XMPP_PROBE;
                run_event(r, d, &ev, NULL);
            }
        }
        break;
    }
    default:
        break;
    }
    free(sip);
    if (capped || store_down) /* P40: the subscribe or probe is answered with an error */
        x2s_fail(r, r->cur_in, "presence", stanza_attr(st, "from"), stanza_attr(st, "to"),
                 stanza_attr(st, "id"), type, r->cur_local, r->cur_remote, "resource-constraint",
                 "wait", capped ? "too many subscriptions" : "subscription store unavailable", NULL,
                 0, NULL);
    return capped || store_down;
}

/* ---- presence: SIP -> gateway ------------------------------------------- */

static void sip_notify(struct gw_router *r, struct gw_stxn *st)
{
    const struct gw_sip_msg *req = gw_stxn_request(st);
    r->ctr.notifies_in++;
    struct gw_dlg *d = gw_dlg_by_dialog(r->dialogs, gw_sip_call_id(req), gw_sip_to_tag(req));
    if (d == NULL || d->sub.dir != GW_SUB_X2S) {
        gw_stxn_reply(r->txn, st, 481, NULL); /* RFC 6665 section 4.1.3 (P33) */
        return;
    }
    const char *event = gw_sip_event(req);
    if (event == NULL || strcmp(event, "presence") != 0) {
        struct gw_sip_response resp = {.code = 489,
                                       .allow_events = "presence",
                                       .expires = -1,
                                       .min_expires = -1,
                                       .retry_after = -1};
        gw_stxn_respond(r->txn, st, &resp);
        return;
    }
    struct gw_sip_substate ss;
    struct gw_sub_event ev = {.kind = GW_EV_SIP_NOTIFY, .expires = -1, .min_expires = -1};
    if (gw_sip_substate(req, &ss) == 0) {
        ev.ns = ss.state == GW_SUBSTATE_ACTIVE       ? GW_NS_ACTIVE
                : ss.state == GW_SUBSTATE_PENDING    ? GW_NS_PENDING
                : ss.state == GW_SUBSTATE_TERMINATED ? GW_NS_TERMINATED
                                                     : GW_NS_NONE;
        ev.ns_expires = ss.expires;
        ev.retry_after = ss.retry_after;
        ev.reason = ss.reason;
    } else {
        ev.ns = GW_NS_NONE;
        ev.ns_expires = -1;
        ev.retry_after = -1;
    }
    size_t bl = 0;
    const char *body = gw_sip_body(req, &bl);
    const char *ct = gw_sip_content_type(req);
    ev.has_body = bl > 0;
    ev.cseq = gw_sip_cseq(req);
    ev.remote_tag = gw_sip_from_tag(req);
    ev.remote_target = gw_sip_contact_uri(req);
    char rs[GW_SUB_ROUTE_MAX];
    gw_dlg_route_set(req, true, rs, sizeof(rs));
    ev.route_set = rs;
    struct act_ctx ctx = {
        .st = st, .body_len = bl, .pidf = ct && strcmp(ct, "application/pidf+xml") == 0};
    char *copy = bl ? malloc(bl) : NULL;
    if (copy)
        memcpy(copy, body, bl);
    ctx.body = copy;
    run_event(r, d, &ev, &ctx);
    free(copy);
    /* whatever the machine decided, the NOTIFY gets an answer */
    if (gw_stxn_request(st) != NULL)
        gw_stxn_reply(r->txn, st, 481, NULL);
}

static void sip_subscribe(struct gw_router *r, struct gw_stxn *st)
{
    const struct gw_sip_msg *req = gw_stxn_request(st);
    const char *event = gw_sip_event(req);
    if (event == NULL || strcmp(event, "presence") != 0) {
        struct gw_sip_response resp = {.code = 489,
                                       .allow_events = "presence",
                                       .expires = -1,
                                       .min_expires = -1,
                                       .retry_after = -1};
        gw_stxn_respond(r->txn, st, &resp); /* E14 */
        return;
    }
    struct gw_sub_event ev = {.kind = GW_EV_SIP_SUBSCRIBE,
                              .expires = gw_sip_expires(req),
                              .min_expires = -1,
                              .ns_expires = -1,
                              .retry_after = -1,
                              .cseq = gw_sip_cseq(req),
                              .remote_tag = gw_sip_from_tag(req),
                              .remote_target = gw_sip_contact_uri(req)};
    char rs[GW_SUB_ROUTE_MAX];
    gw_dlg_route_set(req, false, rs, sizeof(rs));
    ev.route_set = rs;
    struct act_ctx ctx = {.st = st};
    struct gw_dlg *d;
    if (gw_sip_to_tag(req) != NULL) {
        d = gw_dlg_by_dialog(r->dialogs, gw_sip_call_id(req), gw_sip_to_tag(req));
        if (d == NULL || d->sub.dir != GW_SUB_S2X) {
            gw_stxn_reply(r->txn, st, 481, NULL); /* E17 */
            return;
        }
        ev.in_dialog = true;
        ev.presence_known = xpres_get(r, d->sub.xmpp) != NULL;
        run_event(r, d, &ev, &ctx);
        if (gw_stxn_request(st) != NULL)
            gw_stxn_reply(r->txn, st, 481, NULL);
        return;
    }
    if (!gw_sip_accepts(req, "application/pidf+xml", true)) {
        struct gw_sip_response resp = {.code = 406,
                                       .accept = "application/pidf+xml",
                                       .expires = -1,
                                       .min_expires = -1,
                                       .retry_after = -1};
        gw_stxn_respond(r->txn, st, &resp); /* E15 */
        return;
    }
    struct gw_xmpp_addr *a = malloc(sizeof(*a));
    char xmpp[JID_BUF], watcher[JID_BUF];
    enum gw_addr_status as =
        a ? gw_addr_sip_to_xmpp(gw_sip_request_uri(req), a) : GW_ADDR_MALFORMED;
    if (as == GW_ADDR_OK)
        gw_addr_xmpp_format(a, false, xmpp, sizeof(xmpp));
    free(a);
    if (as != GW_ADDR_OK) {
        gw_stxn_reply(r->txn, st, gw_addr_status_sip_code(as), NULL);
        return;
    }
    if (sip_to_bare(gw_sip_from_uri(req), watcher, sizeof(watcher)) != 0) {
        gw_stxn_reply(r->txn, st, 400, "From does not map to XMPP");
        return;
    }
    struct jid *fj = NULL, *tj = NULL;
    if (!s2x_policy(r, st, watcher, xmpp, GW_OP_SUBSCRIBE, &fj, &tj)) {
        jid_free(fj);
        jid_free(tj);
        return;
    }
    char *sip = bare_to_sip(jid_bare(fj));
    bool poll = ev.expires == 0;
    d = sip ? gw_dlg_find(r->dialogs, GW_SUB_S2X, jid_bare(tj), sip, poll) : NULL;
    if (d) /* a new dialog from the same watcher replaces the old one */
        gw_dlg_delete(r->dialogs, d);
    bool capped = false, store_down = false;
    d = sip ? get_or_create(r, GW_SUB_S2X, jid_bare(tj), sip, poll, &capped, &store_down) : NULL;
    if (d == NULL && store_down) {
        /* RFC 3261 section 21.5.4: temporary; a proxy may try another gateway */
        struct gw_sip_response resp = {.code = 503,
                                       .reason = "Subscription store unavailable",
                                       .expires = -1,
                                       .min_expires = -1,
                                       .retry_after = STORE_RETRY_AFTER_S};
        gw_stxn_respond(r->txn, st, &resp);
    } else if (d == NULL && capped) {
        gw_stxn_reply(r->txn, st, 503, "Too many subscriptions"); /* P40 */
    } else if (d == NULL) {
        gw_stxn_reply(r->txn, st, 500, "Gateway out of memory");
    } else {
        struct fresh f;
        fresh_ids(r, &f, &ev);
        ev.new_call_id = gw_sip_call_id(req); /* the watcher's Call-ID */
        ev.presence_known = xpres_get(r, d->sub.xmpp) != NULL;
        run_event(r, d, &ev, &ctx);
        if (gw_stxn_request(st) != NULL)
            gw_stxn_reply(r->txn, st, 500, "Subscription not accepted");
    }
    free(sip);
    jid_free(fj);
    jid_free(tj);
}

/* ---- the edges ----------------------------------------------------------- */

static const char synthetic_header[] =
    "<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' "
    "version='1.0'>";

static void dispatch_stanza(struct gw_router *r, struct stanza *st)
{
    struct gw_ipc_in *in = r->cur_in;
    const char *name = stanza_name(st), *type = stanza_attr(st, "type");
    const char *fa = stanza_attr(st, "from"), *ta = stanza_attr(st, "to");
    struct jid *from = fa ? jid_new(fa, NULL) : NULL, *to = ta ? jid_new(ta, NULL) : NULL;
    bool query =
        strcmp(name, "iq") == 0 && type && (strcmp(type, "get") == 0 || strcmp(type, "set") == 0);
    r->cur_handled = true;
    if (from == NULL || to == NULL) {
        x2s_fail(r, in, name, fa, ta, stanza_attr(st, "id"), type, r->cur_local, r->cur_remote,
                 "jid-malformed", "modify", NULL, NULL, 0, NULL);
    } else if (jid_local(to) == NULL || jid_local(from) == NULL || strcmp(name, "iq") == 0) {
        /* the gateway serves users, not the domain itself, and no iq */
        if (query)
            x2s_fail(r, in, name, fa, ta, stanza_attr(st, "id"), type, r->cur_local, r->cur_remote,
                     "service-unavailable", "cancel", NULL, NULL, 0, NULL);
        else
            gw_ipc_in_done(r->ipc, in, NULL, NULL);
    } else if (strcmp(jid_domain(from), r->cur_remote) != 0 ||
               strcmp(jid_domain(to), r->cur_local) != 0) {
        /* the edge vouches for the domain pair: the stanza must match it */
        x2s_fail(r, in, name, fa, ta, stanza_attr(st, "id"), type, r->cur_local, r->cur_remote,
                 "bad-request", "modify", "addresses do not match the stream", NULL, 0, NULL);
    } else if (strcmp(name, "message") == 0) {
        x2s_message(r, st, from, to);
    } else if (strcmp(name, "presence") == 0) {
        if (!x2s_presence(r, st, from, to))
            gw_ipc_in_done(r->ipc, in, NULL, NULL);
    } else {
        gw_ipc_in_done(r->ipc, in, NULL, NULL);
    }
    jid_free(from);
    jid_free(to);
}

static int xml_element(void *arg, struct stanza *el)
{
    struct gw_router *r = arg;
    if (r->cur_handled)
        return -1;
    if (strcmp(stanza_ns(el), STANZA_NS_SERVER) != 0) {
        r->cur_handled = true;
        gw_ipc_in_done(r->ipc, r->cur_in, "bad-request", "not a jabber:server stanza");
        return -1;
    }
    dispatch_stanza(r, el);
    return 0;
}

static const struct xml_stream_cb xml_cbs = {.element = xml_element};

static void on_stanza(void *arg, struct gw_ipc_in *in, const char *local, const char *remote,
                      const char *xml, size_t len)
{
    struct gw_router *r = arg;
    r->ctr.stanzas_in++;
    r->cur_in = in;
    r->cur_local = local;
    r->cur_remote = remote;
    r->cur_handled = false;
    if (xml_stream_reset(r->xml) == 0 &&
        xml_stream_feed(r->xml, synthetic_header, sizeof(synthetic_header) - 1) ==
            (ssize_t)(sizeof(synthetic_header) - 1))
        xml_stream_feed(r->xml, xml, len);
    if (!r->cur_handled) {
        log_info("event=stanza-refused local=%s remote=%s reason=\"not one stanza\"", local,
                 remote);
        gw_ipc_in_done(r->ipc, in, "bad-request", "not one well-formed stanza");
    }
    r->cur_in = NULL;
}

static void on_edges(void *arg, size_t up)
{
    struct gw_router *r = arg;
    (void)r;
    log_info("event=edges up=%zu", up);
}

/* ---- the SIP side -------------------------------------------------------- */

static void on_sip(void *arg, uint64_t conn_id, struct gw_sip_msg *m)
{
    struct gw_router *r = arg;
    if (!gw_sip_is_request(m)) {
        if (gw_sip_msg_check(m, NULL) != 0) {
            gw_sip_msg_free(m);
            return;
        }
        gw_txn_response(r->txn, m);
        return;
    }
    struct gw_stxn *st = gw_txn_server(r->txn, conn_id, m);
    if (st == NULL)
        return;
    const struct gw_sip_msg *req = gw_stxn_request(st);
    const char *why = NULL;
    int code = gw_sip_msg_check(req, &why);
    if (code != 0) {
        log_info("event=sip-request-refused code=%d reason=\"%s\"", code, why ? why : "");
        gw_stxn_reply(r->txn, st, code, NULL);
        return;
    }
    const char *method = gw_sip_method(req);
    if (strcmp(method, "MESSAGE") == 0) {
        s2x_message(r, st);
    } else if (strcmp(method, "SUBSCRIBE") == 0) {
        sip_subscribe(r, st);
    } else if (strcmp(method, "NOTIFY") == 0) {
        sip_notify(r, st);
    } else if (strcmp(method, "OPTIONS") == 0) {
        struct gw_sip_response resp = {.code = 200,
                                       .allow = ALLOW_METHODS,
                                       .expires = -1,
                                       .min_expires = -1,
                                       .retry_after = -1};
        gw_stxn_respond(r->txn, st, &resp);
    } else {
        struct gw_sip_response resp = {.code = 405,
                                       .allow = ALLOW_METHODS,
                                       .expires = -1,
                                       .min_expires = -1,
                                       .retry_after = -1};
        gw_stxn_respond(r->txn, st, &resp);
    }
}

static void on_next_hop(void *arg, bool up)
{
    struct gw_router *r = arg;
    (void)r;
    log_info("event=sip-next-hop state=%s", up ? "up" : "down");
}

/* ---- life cycle ---------------------------------------------------------- */

/* Re-establishes one record loaded from the store (after a restart or a
 * takeover): X->S refreshed in its dialog (a 481 starts a new one), or
 * started again when its SUBSCRIBE died with the previous process; an
 * active S->X probes its XMPP user, and the answer becomes a NOTIFY (P38),
 * which also gives the watcher this gateway's Contact. */
static void recover_one(struct gw_router *r, struct gw_dlg *d, size_t *refreshed, size_t *probed)
{
    struct gw_sub_event ev = {
        .expires = -1, .min_expires = -1, .ns_expires = -1, .retry_after = -1};
    if (d->sub.dir == GW_SUB_X2S && !d->sub.poll &&
        (d->sub.state == GW_SUB_ACTIVE || d->sub.state == GW_SUB_PENDING)) {
        ev.kind = GW_EV_XMPP_AVAILABLE; /* refresh in the dialog now (P38) */
        run_event(r, d, &ev, NULL);
        (*refreshed)++;
    } else if (d->sub.dir == GW_SUB_X2S && !d->sub.poll && d->sub.state == GW_SUB_SUBSCRIBING) {
        d->sub.state = GW_SUB_IDLE; /* its SUBSCRIBE died with us: start over */
        ev.kind = GW_EV_XMPP_SUBSCRIBE;
        run_event(r, d, &ev, NULL);
        (*refreshed)++;
    } else if (d->sub.dir == GW_SUB_S2X && d->sub.state == GW_SUB_ACTIVE) {
        act_stanza(r, d, "probe"); /* the answer becomes a NOTIFY */
        (*probed)++;
    }
}

static void recover(struct gw_router *r)
{
    size_t n = gw_dlg_all(r->dialogs, NULL, 0);
    struct gw_dlg **v = n ? calloc(n, sizeof(*v)) : NULL;
    if (n && v == NULL)
        return;
    gw_dlg_all(r->dialogs, v, n);
    size_t refreshed = 0, probed = 0;
    for (size_t i = 0; i < n; i++)
        recover_one(r, v[i], &refreshed, &probed);
    free(v);
    log_info("event=recovered subscriptions=%zu refreshed=%zu probed=%zu", n, refreshed, probed);
}

/* ---- ownership: the lease and taking over (issue 6 item 2) --------------- */

#define TAKEOVER_FROM_MAX 16 /* previous owners named in the log per period */

struct takeover {
    struct gw_router *r;
    int64_t now;
    char **live; /* ids of the gateways with a current lease, ours included */
    size_t nlive, cap;
    struct {
        char from[GW_SUB_OWNER_MAX];
        size_t count;
    } from[TAKEOVER_FROM_MAX + 1]; /* the last one: "other" */
    size_t nfrom, claimed, refreshed, probed;
    bool failed;
};

static int live_add(void *arg, const char *id)
{
    struct takeover *t = arg;
    if (t->nlive == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 8;
        char **v = realloc(t->live, cap * sizeof(*v));
        if (v == NULL) {
            t->failed = true;
            return -1;
        }
        t->live = v;
        t->cap = cap;
    }
    if ((t->live[t->nlive] = strdup(id)) == NULL) {
        t->failed = true;
        return -1;
    }
    t->nlive++;
    return 0;
}

/* The gateway the edges give the internal user of s to (the SIP user, in
 * both directions) among the live ones: rendezvous hashing over the same
 * names as edge_ipc.c's pick_gateway. */
static bool serves(const struct takeover *t, const struct gw_sub *s)
{
    char bare[JID_BUF];
    const char *user = sip_to_bare(s->sip, bare, sizeof(bare)) == 0 ? bare : s->sip;
    long i = rendezvous_pick(rendezvous_hash(user), (const char *const *)t->live, t->nlive);
    return i >= 0 && strcmp(t->live[i], t->r->store->owner) == 0;
}

static void count_from(struct takeover *t, const char *owner)
{
    const char *name = owner[0] ? owner : "none";
    size_t i;
    for (i = 0; i < t->nfrom; i++)
        if (strcmp(t->from[i].from, name) == 0)
            break;
    if (i == t->nfrom) {
        if (t->nfrom == TAKEOVER_FROM_MAX) {
            i = TAKEOVER_FROM_MAX;
            name = "other";
        } else {
            t->nfrom++;
        }
        snprintf(t->from[i].from, sizeof(t->from[i].from), "%s", name);
    }
    t->from[i].count++;
}

/* An orphan (owner dead or none): claimed when its user is ours now. The
 * claim is one conditional UPDATE, so of two gateways that both think so
 * (their views of the live set differ for a moment) only one gets it. */
static int orphan_cb(void *arg, const struct gw_sub *s)
{
    struct takeover *t = arg;
    struct gw_router *r = t->r;
    if (s->state == GW_SUB_TERMINATED || !serves(t, s))
        return 0;
    if (gw_store_sub_claim(r->store, s->dir, s->xmpp, s->sip, s->poll, t->now, false) != 1)
        return 0;
    struct gw_sub copy = *s;
    count_from(t, s->owner);
    snprintf(copy.owner, sizeof(copy.owner), "%s", r->store->owner);
    struct gw_dlg *d = gw_dlg_adopt(r->dialogs, &copy);
    if (d == NULL) {
        log_warnx("event=sub-takeover-failed xmpp=%s sip=%s reason=\"out of memory\"", s->xmpp,
                  s->sip);
        return 0;
    }
    t->claimed++;
    recover_one(r, d, &t->refreshed, &t->probed);
    return 0;
}

/* Every sub_takeover_ms: renew our lease, then take over the orphaned
 * subscriptions whose users hash to us among the live gateways. For
 * sub_lease_ms after our start we only renew: when several gateways start
 * together (after a power cut), each first loads its own rows, instead of
 * the first one up claiming every row because it is alone. */
static void takeover_run(struct gw_router *r)
{
    struct takeover *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return;
    t->r = r;
    t->now = now_ms();
    if (gw_store_lease_renew(r->store, t->now, r->gc->local.sub_lease_ms) != 0) {
        log_warnx("event=sub-lease-failed gateway=%s", r->store->owner);
        free(t);
        return;
    }
    if (t->now < r->claim_from_ms) {
        free(t);
        return;
    }
    if (gw_store_live_each(r->store, t->now, live_add, t) == 0 && !t->failed &&
        gw_store_sub_each_where(r->store, GW_STORE_ORPHANS, t->now, orphan_cb, t) != 0)
        log_warnx("event=sub-takeover-failed reason=\"store\"");
    for (size_t i = 0; i <= TAKEOVER_FROM_MAX; i++)
        if (t->from[i].count > 0)
            log_info("event=sub-takeover from=%s count=%zu", t->from[i].from, t->from[i].count);
    if (t->claimed > 0) {
        r->ctr.subs_taken_over += t->claimed;
        log_info("event=sub-takeover-done claimed=%zu refreshed=%zu probed=%zu live=%zu",
                 t->claimed, t->refreshed, t->probed, t->nlive);
    }
    for (size_t i = 0; i < t->nlive; i++)
        free(t->live[i]);
    free(t->live);
    free(t);
}

static void takeover_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    takeover_run(arg);
}

/* (Re)arms the period from the configuration. */
static int takeover_arm(struct gw_router *r)
{
    unsigned ms = r->gc->local.sub_takeover_ms;
    if (r->takeover_ev == NULL || ms == r->takeover_ms)
        return 0;
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};
    r->takeover_ms = ms;
    return event_add(r->takeover_ev, &tv);
}

/* ---- metrics (docs/metrics.md, xfed-gateway) ------------------------------ */

static const char *const resp_class[6] = {"1xx", "2xx", "3xx", "4xx", "5xx", "6xx"};

/* Before each scrape: every xfed_gateway_* and xfed_ipc_* value mirrored
 * from the counters and tables the gateway keeps anyway, so that nothing
 * on the message path looks a series up. */
static void collect(struct metrics *reg, void *arg)
{
    struct gw_router *r = arg;
    struct gw_txn_counters tc;
    gw_txn_counters(r->txn, &tc);
    for (int out = 0; out < 2; out++) {
        const char *dir = out ? "out" : "in";
        for (unsigned i = 0; i < GW_TXN_METHODS; i++)
            if (tc.requests[out][i] > 0)
                metric_set(metrics_counter(reg, "xfed_gateway_sip_requests_total", "method",
                                           gw_txn_method_name(i), "direction", dir),
                           (int64_t)tc.requests[out][i]);
        for (unsigned i = 0; i < 6; i++)
            if (tc.responses[out][i] > 0)
                metric_set(metrics_counter(reg, "xfed_gateway_sip_responses_total", "class",
                                           resp_class[i], "direction", dir),
                           (int64_t)tc.responses[out][i]);
    }
    metric_set(metrics_gauge(reg, "xfed_gateway_sip_transactions", "role", "client"),
               (int64_t)tc.client_open);
    metric_set(metrics_gauge(reg, "xfed_gateway_sip_transactions", "role", "server"),
               (int64_t)tc.server_open);
    metric_set(metrics_counter(reg, "xfed_gateway_sip_timeouts_total"),
               (int64_t)tc.client_timeouts);
    metric_set(metrics_counter(reg, "xfed_gateway_messages_total", "direction", "to_sip"),
               (int64_t)r->ctr.x2s_messages);
    metric_set(metrics_counter(reg, "xfed_gateway_messages_total", "direction", "to_xmpp"),
               (int64_t)r->ctr.s2x_messages);
    metric_set(metrics_counter(reg, "xfed_gateway_stanzas_total", "direction", "in"),
               (int64_t)r->ctr.stanzas_in);
    metric_set(metrics_counter(reg, "xfed_gateway_stanzas_total", "direction", "out"),
               (int64_t)r->ctr.stanzas_out);
    metric_set(metrics_counter(reg, "xfed_gateway_notifies_held_total"),
               (int64_t)r->ctr.notifies_held);
    metric_set(metrics_counter(reg, "xfed_gateway_subscriptions_refused_total"),
               (int64_t)r->ctr.subs_capped);
    metric_set(metrics_counter(reg, "xfed_gateway_subscriptions_taken_over_total"),
               (int64_t)r->ctr.subs_taken_over);
    metric_set(metrics_counter(reg, "xfed_gateway_subscriptions_released_total"),
               (int64_t)r->ctr.subs_lost);
    metric_set(metrics_counter(reg, "xfed_gateway_subscriptions_store_refused_total"),
               (int64_t)r->ctr.subs_store_refused);
    int64_t subs[2] = {0, 0}, dialogs = 0;
    if (r->dialogs) {
        size_t n = gw_dialogs_count(r->dialogs);
        struct gw_dlg **v = n ? calloc(n, sizeof(*v)) : NULL;
        n = v ? gw_dlg_all(r->dialogs, v, n) : 0;
        for (size_t i = 0; i < n; i++) {
            if (!v[i]->sub.poll)
                subs[v[i]->sub.dir == GW_SUB_X2S ? 0 : 1]++;
            if (v[i]->sub.remote_tag[0])
                dialogs++;
        }
        free(v);
    }
    /* X2S: presence flows from SIP to XMPP */
    metric_set(metrics_gauge(reg, "xfed_gateway_subscriptions", "direction", "to_xmpp"), subs[0]);
    metric_set(metrics_gauge(reg, "xfed_gateway_subscriptions", "direction", "to_sip"), subs[1]);
    metric_set(metrics_gauge(reg, "xfed_gateway_dialogs"), dialogs);
    if (r->ipc) {
        metric_set(metrics_gauge(reg, "xfed_gateway_queue_depth"), (int64_t)gw_ipc_queued(r->ipc));
        metric_set(metrics_counter(reg, "xfed_gateway_queue_dropped_total"),
                   (int64_t)gw_ipc_dropped(r->ipc));
        gw_ipc_metrics(r->ipc, reg);
    }
    metric_set(metrics_gauge(reg, "xfed_gateway_config_version"), (int64_t)r->gc->conf->version);
    if (r->store) {
        struct gw_store_timing st;
        gw_store_timing_take(r->store, &st);
        metric_set(metrics_counter(reg, "xfed_gateway_store_calls_total"), (int64_t)st.calls);
        metric_set(metrics_counter(reg, "xfed_gateway_store_microseconds_total"), (int64_t)st.usec);
        metric_set(metrics_gauge(reg, "xfed_gateway_store_max_microseconds"), (int64_t)st.usec_max);
    }
}

static int metrics_start(struct gw_router *r, char *err, size_t errlen)
{
    r->metrics = metrics_new("xfed-gateway", NULL);
    if (r->metrics == NULL || metrics_define_catalog(r->metrics, METRICS_ROLE_GATEWAY) != 0 ||
        metrics_on_collect(r->metrics, collect, r) != 0) {
        snprintf(err, errlen, "cannot create the metrics registry: %s", strerror(errno));
        return -1;
    }
    const char *listen = r->gc->local.metrics_listen;
    if (listen && *listen) {
        struct metrics_http_settings hs;
        metrics_http_settings_init(&hs);
        hs.listen = listen;
        r->metrics_http = metrics_http_new(r->base, r->metrics, &hs, err, errlen);
        if (r->metrics_http == NULL)
            return -1;
        log_info("event=start metrics_listen=%s", listen);
    }
    return 0;
}

struct gw_router *gw_router_new(struct event_base *base, const struct gw_conf *gc, char *err,
                                size_t errlen)
{
    struct gw_router *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    r->base = base;
    r->gc = gc;
    LIST_INIT(&r->s2x_all);
    LIST_INIT(&r->refs);
    r->destqs = gw_strmap_new(256);
    r->s2x_by_id = gw_strmap_new(1024);
    r->s2x_by_handle = ipc_idmap_new(1024);
    r->xmpp_presence = gw_strmap_new(256);
    r->sip_presence = gw_strmap_new(256);
    r->invites = gw_strmap_new(1024);
    struct xml_limits xl;
    xml_limits_default(&xl);
    xl.max_element_bytes = IPC_STANZA_MAX_DEFAULT;
    xl.max_text_bytes = IPC_STANZA_MAX_DEFAULT;
    r->xml = xml_stream_new(&xl, &xml_cbs, r);
    if (!r->destqs || !r->s2x_by_id || !r->s2x_by_handle || !r->xmpp_presence || !r->sip_presence ||
        !r->invites || !r->xml) {
        snprintf(err, errlen, "out of memory");
        gw_router_free(r);
        return NULL;
    }
    static const struct gw_transport_cbs tcbs = {.message = on_sip, .next_hop = on_next_hop};
    r->tp = gw_transport_new(base, gc, &tcbs, r, err, errlen);
    if (r->tp == NULL) {
        gw_router_free(r);
        return NULL;
    }
    r->txn = gw_txn_new(base, r->tp, gc->local.sip_t1_ms);
    if (r->txn == NULL) {
        snprintf(err, errlen, "out of memory");
        gw_router_free(r);
        return NULL;
    }
    snprintf(r->contact, sizeof(r->contact), "sip:gw@%s:%u;transport=%s", gc->contact_host,
             gc->local.sip_port, gc->tls ? "tls" : "tcp");
    r->loc.via_transport = gw_transport_via(r->tp);
    r->loc.host = gc->contact_host;
    r->loc.port = gc->local.sip_port;
    r->loc.contact = r->contact;
    static const struct gw_ipc_cbs icbs = {
        .stanza = on_stanza, .bounce = on_bounce, .edges = on_edges};
    r->ipc = gw_ipc_new(base, gc, &icbs, r, err, errlen);
    if (r->ipc == NULL || metrics_start(r, err, errlen) != 0) {
        gw_router_free(r);
        return NULL;
    }
    return r;
}

int gw_router_start(struct gw_router *r, char *err, size_t errlen)
{
    const char *why = NULL;
    char what[600];
    gw_store_spec_describe(r->gc->local.state_db, what, sizeof what);
    r->store = gw_store_open(r->gc->local.state_db, &why);
    if (r->store == NULL) {
        snprintf(err, errlen, "cannot open the state database %s: %s", what, why ? why : "?");
        return -1;
    }
    if (gw_store_set_owner(r->store, r->gc->local.name) != 0 ||
        gw_store_lease_renew(r->store, now_ms(), r->gc->local.sub_lease_ms) != 0) {
        snprintf(err, errlen, "cannot write this gateway's lease to %s", what);
        return -1;
    }
    log_info("event=start store=\"%s\" gateway=%s", what, r->store->owner);
    r->dialogs = gw_dialogs_new(r->base, r->store, dlg_timer_cb, r);
    if (r->dialogs)
        gw_dialogs_set_notify_cb(r->dialogs, dlg_notify_cb);
    if (r->dialogs == NULL || gw_dialogs_load(r->dialogs) < 0) {
        snprintf(err, errlen, "cannot load the subscriptions from %s", what);
        return -1;
    }
    r->takeover_ev = event_new(r->base, -1, EV_PERSIST, takeover_cb, r);
    if (r->takeover_ev == NULL || takeover_arm(r) != 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    gw_router_set_conf(r, r->gc, true);
    recover(r); /* our own subscriptions; the orphans after sub_lease_ms */
    r->claim_from_ms = now_ms() + r->gc->local.sub_lease_ms;
    return 0;
}

static void free_destq(const char *key, void *val, void *arg)
{
    struct destq *q = val;
    (void)key;
    (void)arg;
    struct x2s_msg *m;
    while ((m = TAILQ_FIRST(&q->q)) != NULL) {
        TAILQ_REMOVE(&q->q, m, link);
        gw_ipc_in_drop(m->in); /* the edge re-sends it */
        m->r->x2s_pending--;
        free(m->bytes);
        free(m->from);
        free(m);
    }
    free(q->uri);
    free(q);
}

static void free_val(const char *key, void *val, void *arg)
{
    (void)key;
    (void)arg;
    free(val);
}

void gw_router_free(struct gw_router *r)
{
    if (r == NULL)
        return;
    /* The endpoint first: a scrape reads everything below. */
    metrics_http_free(r->metrics_http);
    r->metrics_http = NULL;
    /* The edges first: their callbacks still find everything. */
    gw_ipc_free(r->ipc);
    r->ipc = NULL;
    if (r->destqs) {
        gw_strmap_each(r->destqs, free_destq, NULL);
        gw_strmap_free(r->destqs);
    }
    while (!LIST_EMPTY(&r->s2x_all)) {
        struct s2x_msg *p = LIST_FIRST(&r->s2x_all);
        p->st = NULL;
        p->handle = 0;
        s2x_msg_free(p);
    }
    gw_strmap_free(r->s2x_by_id);
    ipc_idmap_free(r->s2x_by_handle);
    gw_txn_free(r->txn); /* no callback runs: free what they would have */
    while (!LIST_EMPTY(&r->refs))
        sub_ref_free(LIST_FIRST(&r->refs));
    gw_transport_free(r->tp);
    gw_dialogs_free(r->dialogs);
    if (r->takeover_ev)
        event_free(r->takeover_ev);
    if (r->store)
        gw_store_close(r->store);
    if (r->xmpp_presence) {
        gw_strmap_each(r->xmpp_presence, free_val, NULL);
        gw_strmap_free(r->xmpp_presence);
    }
    if (r->sip_presence) {
        gw_strmap_each(r->sip_presence, free_val, NULL);
        gw_strmap_free(r->sip_presence);
    }
    gw_strmap_free(r->invites);
    xml_stream_free(r->xml);
    metrics_free(r->metrics);
    free(r);
}

void gw_router_set_conf(struct gw_router *r, const struct gw_conf *gc, bool force_push)
{
    r->gc = gc;
    /* the dialogs' Via host points into the configuration: follow it to the
     * new one (same value: changing it needs a restart), or SUBSCRIBEs and
     * NOTIFYs after a reload carry freed memory in their Via */
    r->loc.host = gc->contact_host;
    gw_ipc_set_conf(r->ipc, gc);
    if (takeover_arm(r) != 0)
        log_warnx("event=sub-takeover-failed reason=\"cannot re-arm the period\"");
    if (force_push || gc->conf->version != r->pushed_version) {
        if (gw_ipc_push_config(r->ipc, gc->conf) == 0)
            r->pushed_version = gc->conf->version;
        else
            log_warnx("event=config-push outcome=not-made version=%llu",
                      (unsigned long long)gc->conf->version);
    }
}

void gw_router_status(const struct gw_router *r, char *buf, size_t cap)
{
    snprintf(buf, cap, "%zu edge(s), SIP %s, %zu subscription(s), %zu queued",
             gw_ipc_edges_up(r->ipc), gw_transport_up(r->tp) ? "up" : "down",
             r->dialogs ? gw_dialogs_count(r->dialogs) : 0, gw_ipc_queued(r->ipc));
}
