/*
 * gw_router.c - the glue of xfed-gateway (see gw_router.h): messages both
 * ways, the edges and the SIP side, life cycle and metrics. Presence is in
 * gw_presence.c, the subscriptions' lease and takeover in gw_takeover.c;
 * gw_router_int.h is what the three share.
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
#include "stanza.h"
#include "xml_stream.h"

#include "gw_router_int.h"

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

int64_t gwr_now_s(void)
{
    return (int64_t)time(NULL);
}

/* Wall-clock milliseconds: leases in a shared store compare the clocks
 * of several hosts (keep them synchronised). */
int64_t gwr_now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

int gwr_new_branch(char *b)
{
    memcpy(b, "z9hG4bK", 7);
    return gw_sip_random_token(b + 7, BRANCH_LEN - 7);
}

/* ---- XMPP output ------------------------------------------------------- */

/* Serialises and sends st (freed here) from hosted domain local to
 * partner domain remote. Returns the IPC handle or 0. */
uint64_t gwr_send_stanza(struct gw_router *r, struct stanza *st, const char *local,
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

struct stanza *gwr_new_stanza(const char *name, const char *from, const char *to, const char *type,
                              const char *id)
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

int gwr_add_text_child(struct stanza *parent, const char *name, const char *text, const char *lang)
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
void gwr_domain_copy(const char *jid, char *buf, size_t cap)
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
    struct stanza *s = gwr_new_stanza(name, orig_to, orig_from, "error", id);
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
void gwr_x2s_fail(struct gw_router *r, struct gw_ipc_in *in, const char *name, const char *from,
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
        if (e && gwr_send_stanza(r, e, local, remote, NULL, NULL) != 0) {
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

bool gwr_status_notes_for(const struct gw_router *r, const char *xmpp_jid)
{
    char d[JID_PART_MAX + 1];
    gwr_domain_copy(xmpp_jid, d, sizeof(d));
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
    gwr_x2s_fail(r, m->in, "message", m->from, m->to, m->id, NULL, m->local, m->remote,
                 row.condition, resp ? row.type : "wait", text, gone[0] ? gone : NULL, code,
                 "SIP failure");
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
            gwr_x2s_fail(r, m->in, "message", m->from, m->to, m->id, NULL, m->local, m->remote,
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
        gwr_x2s_fail(r, m->in, "message", m->from, m->to, m->id, NULL, m->local, m->remote,
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

bool gwr_invited(struct gw_router *r, const struct gw_policy_pair *pair, const char *internal,
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
    if (r->store && gw_store_invite_add(r->store, internal, partner_bare, gwr_now_s()) != 0) {
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
    pair.invited = gwr_invited(r, &pair, jid_bare(to), jid_bare(from));
    struct gw_policy_decision d;
    gw_policy_inbound(&pair, GW_OP_MESSAGE, &d);
    if (d.action == GW_POLICY_IGNORE) {
        gw_ipc_in_done(r->ipc, in, NULL, NULL);
        return;
    }
    if (d.action != GW_POLICY_ALLOW) {
        r->ctr.refused++;
        gwr_x2s_fail(r, in, "message", stanza_attr(st, "from"), stanza_attr(st, "to"), id, type,
                     local, remote, d.condition ? d.condition : "forbidden", d.type, d.text, NULL,
                     0, "access policy");
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
    gwr_new_branch(branch);
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
        gwr_x2s_fail(r, in, "message", stanza_attr(st, "from"), stanza_attr(st, "to"), id, type,
                     local, remote, "resource-constraint", "wait", "gateway out of memory", NULL, 0,
                     NULL);
        return;
    }
    if (out.action == GW_X2S_DROP) {
        gw_x2s_clear(&out);
        gw_ipc_in_done(r->ipc, in, NULL, NULL);
        return;
    }
    if (out.action == GW_X2S_REJECT) {
        gwr_x2s_fail(r, in, "message", stanza_attr(st, "from"), stanza_attr(st, "to"), id, type,
                     local, remote, out.condition, out.type, NULL, NULL, 0, out.reason);
        gw_x2s_clear(&out);
        return;
    }
    if (r->x2s_pending >= r->gc->local.queue_max) {
        gw_x2s_clear(&out);
        gwr_x2s_fail(r, in, "message", stanza_attr(st, "from"), stanza_attr(st, "to"), id, type,
                     local, remote, "resource-constraint", "wait", "too many messages waiting",
                     NULL, 0, NULL);
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
        gwr_x2s_fail(r, in, "message", f[0], f[1], id, type, local, remote, "resource-constraint",
                     "wait", "too many messages waiting for this user", NULL, 0, NULL);
        return;
    }
    if (m == NULL || block == NULL || q == NULL) {
        free(block);
        free(m);
        gw_x2s_clear(&out);
        gwr_x2s_fail(r, in, "message", f[0], f[1], id, type, local, remote, "resource-constraint",
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
    struct stanza *s = gwr_new_stanza("message", im->from, im->to, NULL, im->id);
    if (s == NULL)
        return NULL;
    if ((im->lang && stanza_set_attr_ns(s, STANZA_NS_XML, "lang", im->lang) != 0) ||
        (im->subject && gwr_add_text_child(s, "subject", im->subject, NULL) != 0) ||
        gwr_add_text_child(s, "body", im->body, NULL) != 0 ||
        (im->thread && gwr_add_text_child(s, "thread", im->thread, NULL) != 0)) {
        stanza_free(s);
        return NULL;
    }
    return s;
}

/* The internal user and partner of an S->X request, and the policy. */
bool gwr_s2x_policy(struct gw_router *r, struct gw_stxn *st, const char *from_jid,
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
    if (!gwr_s2x_policy(r, st, out.im.from, out.im.to, GW_OP_MESSAGE, &fj, &tj)) {
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
    p->handle = gwr_send_stanza(r, s, jid_domain(fj), jid_domain(tj), s2x_sent_cb, p);
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
        gwr_x2s_fail(r, in, name, fa, ta, stanza_attr(st, "id"), type, r->cur_local, r->cur_remote,
                     "jid-malformed", "modify", NULL, NULL, 0, NULL);
    } else if (jid_local(to) == NULL || jid_local(from) == NULL || strcmp(name, "iq") == 0) {
        /* the gateway serves users, not the domain itself, and no iq */
        if (query)
            gwr_x2s_fail(r, in, name, fa, ta, stanza_attr(st, "id"), type, r->cur_local,
                         r->cur_remote, "service-unavailable", "cancel", NULL, NULL, 0, NULL);
        else
            gw_ipc_in_done(r->ipc, in, NULL, NULL);
    } else if (strcmp(jid_domain(from), r->cur_remote) != 0 ||
               strcmp(jid_domain(to), r->cur_local) != 0) {
        /* the edge vouches for the domain pair: the stanza must match it */
        gwr_x2s_fail(r, in, name, fa, ta, stanza_attr(st, "id"), type, r->cur_local, r->cur_remote,
                     "bad-request", "modify", "addresses do not match the stream", NULL, 0, NULL);
    } else if (strcmp(name, "message") == 0) {
        x2s_message(r, st, from, to);
    } else if (strcmp(name, "presence") == 0) {
        if (!gwr_x2s_presence(r, st, from, to))
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
        gwr_sip_subscribe(r, st);
    } else if (strcmp(method, "NOTIFY") == 0) {
        gwr_sip_notify(r, st);
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
        gw_store_lease_renew(r->store, gwr_now_ms(), r->gc->local.sub_lease_ms) != 0) {
        snprintf(err, errlen, "cannot write this gateway's lease to %s", what);
        return -1;
    }
    log_info("event=start store=\"%s\" gateway=%s", what, r->store->owner);
    r->dialogs = gw_dialogs_new(r->base, r->store, gwr_dlg_timer_cb, r);
    if (r->dialogs)
        gw_dialogs_set_notify_cb(r->dialogs, gwr_dlg_notify_cb);
    if (r->dialogs == NULL || gw_dialogs_load(r->dialogs) < 0) {
        snprintf(err, errlen, "cannot load the subscriptions from %s", what);
        return -1;
    }
    if (gwr_takeover_start(r) != 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    gw_router_set_conf(r, r->gc, true);
    gwr_recover(r); /* our own subscriptions; the orphans after sub_lease_ms */
    r->claim_from_ms = gwr_now_ms() + r->gc->local.sub_lease_ms;
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
        gwr_sub_ref_free(LIST_FIRST(&r->refs));
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
    if (gwr_takeover_arm(r) != 0)
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
