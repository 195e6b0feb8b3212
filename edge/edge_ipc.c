/*
 * edge_ipc.c - stanzas, configuration and statistics between the edge and
 * its gateways over ipc_channel.h.
 */
#include "edge_ipc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf_atomic.h"
#include "conf_file.h"
#include "conf_report.h"
#include "conf_store.h"
#include "edge.h"
#include "edge_conf.h"
#include "edge_metrics.h"
#include "edge_users.h"
#include "ipc_channel.h"
#include "ipc_keys.h"
#include "ipc_metrics.h"
#include "jid.h"
#include "log.h"
#include "metrics.h"
#include "s2s_stream.h"
#include "stanza.h"
#include "xml_stream.h"

#define MAX_GATEWAYS 256

struct edge_ipc {
    struct edge *edge;
    struct ipc_channel *ch;
    char *buf; /* serialisation buffer */
    size_t bufcap;
    struct xml_stream *xml; /* parses STANZA_OUT payloads */
    struct stanza *parsed;
    unsigned n_parsed;
    size_t hwm, lwm;          /* unacknowledged stanzas per gateway: pause, resume */
    uint64_t congested_peer;  /* peer id over hwm; 0 when none */
    uint64_t handed_over;     /* a dead gateway's stanzas re-sent to a survivor */
    struct edge_users *users; /* internal users seen, for the gateways' shares */
};

bool edge_ipc_congested(const struct edge_ipc *ipc)
{
    return ipc != NULL && ipc->congested_peer != 0;
}

/* ---- choosing a gateway ----------------------------------------------- */

/* Rendezvous hashing of the internal user (uh: its edge_users_hash()) over
 * the live gateways: one user's stanzas go to one gateway while it lives,
 * and only that gateway's users move when it dies (DESIGN.md section 1). */
static struct ipc_peer *pick_gateway(struct edge_ipc *ipc, uint64_t uh)
{
    struct ipc_peer *v[MAX_GATEWAYS], *best = NULL;
    uint64_t best_h = 0;
    size_t n = ipc_channel_peers(ipc->ch, v, MAX_GATEWAYS), live = 0;
    if (n > MAX_GATEWAYS)
        n = MAX_GATEWAYS;
    for (size_t i = 0; i < n; i++) {
        /* Operator tools (IPC_ROLE_TOOL: xfedctl status, the panel's live
         * status) never take stanzas; xfedctl tap connects as a gateway. */
        if (ipc_peer_alive(v[i]) && ipc_peer_role(v[i]) == IPC_ROLE_GATEWAY &&
            (ipc_peer_capabilities(v[i]) & IPC_CAP_STANZA))
            v[live++] = v[i];
    }
    if (live <= 1) /* no choice to make: no scores to compute */
        return live ? v[0] : NULL;
    for (size_t i = 0; i < live; i++) {
        uint64_t h = edge_users_score(uh, ipc_peer_name(v[i]));
        if (best == NULL || h > best_h) {
            best = v[i];
            best_h = h;
        }
    }
    return best;
}

/* ---- inbound stanzas --------------------------------------------------- */

static char *serialize(struct edge_ipc *ipc, struct stanza *el, size_t *len)
{
    size_t n = stanza_serialize(el, ipc->buf, ipc->bufcap);
    if (n >= ipc->bufcap) {
        size_t cap = n + 1 > 2 * ipc->bufcap ? n + 1 : 2 * ipc->bufcap;
        char *b = realloc(ipc->buf, cap);
        if (b == NULL)
            return NULL;
        ipc->buf = b;
        ipc->bufcap = cap;
        n = stanza_serialize(el, ipc->buf, ipc->bufcap);
    }
    *len = n;
    return ipc->buf;
}

/* Answers the partner with an error stanza for a stanza no gateway took:
 * el is that stanza as sent over IPC, local and remote its domain pair. */
static void answer_error(struct edge_ipc *ipc, const struct stanza *el, const char *local,
                         const char *remote, const char *condition, const char *text)
{
    const char *name = stanza_name(el), *type = stanza_attr(el, "type");
    const char *id = stanza_attr(el, "id"), *from = stanza_attr(el, "from");
    const char *to = stanza_attr(el, "to");
    if (type && !strcmp(type, "error"))
        return; /* RFC 6120 section 8.3.1: never an error for an error */
    if (!strcmp(name, "presence") && type && strcmp(type, "probe") != 0 &&
        strcmp(type, "subscribe") != 0)
        return;
    if (!strcmp(name, "presence") && type == NULL)
        return;
    struct stanza *r = stanza_new(STANZA_NS_SERVER, name);
    if (r == NULL)
        return;
    int rc = stanza_set_attr(r, "from", to ? to : "") | stanza_set_attr(r, "to", from ? from : "") |
             stanza_set_attr(r, "type", "error");
    if (id)
        rc |= stanza_set_attr(r, "id", id);
    struct stanza *er = stanza_add_child(r, NULL, "error");
    if (er == NULL || rc != 0 || stanza_set_attr(er, "type", "cancel") != 0 ||
        stanza_add_child(er, STANZA_NS_STANZA_ERRORS, condition) == NULL) {
        stanza_free(r);
        return;
    }
    if (text && *text) {
        struct stanza *t = stanza_add_child(er, STANZA_NS_STANZA_ERRORS, "text");
        if (t)
            stanza_add_text(t, text, strlen(text));
    }
    edge_metrics_bounce(ipc->edge, condition);
    const char *why = NULL;
    if (s2s_out_route(ipc->edge, local, remote, r, 0, 0, &why) != 0)
        log_info("event=error-reply-dropped local=%s remote=%s reason=%s", local, remote,
                 why ? why : "");
}

/* The internal user a stanza is for, as the gateway hash key. */
static void user_key(const char *to, char *out, size_t outlen)
{
    /* Fast path: an all-ASCII lower-case bare JID is already normalised. */
    size_t n = 0;
    bool plain = to != NULL;
    for (; plain && to[n] && to[n] != '/'; n++) {
        char c = to[n];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
              c == '_' || c == '@' || c == '+'))
            plain = false;
    }
    if (plain && n > 0 && n < outlen) {
        memcpy(out, to, n);
        out[n] = '\0';
        return;
    }
    struct jid *j = to ? jid_new(to, NULL) : NULL;
    snprintf(out, outlen, "%s", j ? jid_bare(j) : (to ? to : ""));
    jid_free(j);
}

int edge_ipc_deliver(struct edge_ipc *ipc, struct s2s_stream *s, const char *local,
                     const char *remote, struct stanza *el)
{
    if (ipc == NULL)
        return -1;
    char user[2 * JID_PART_MAX + 2];
    user_key(stanza_attr(el, "to"), user, sizeof(user));
    uint64_t uh = edge_users_hash(user);
    struct ipc_peer *peer = pick_gateway(ipc, uh);
    if (peer == NULL)
        return -1;
    if (ipc->users)
        edge_users_add(ipc->users, uh);
    /* Nothing is kept of the stanza here: the channel keeps the message
     * until it is acknowledged, and hands it back (refused_cb, unacked_cb)
     * when an error must be answered. */
    size_t len = 0;
    char *xml = serialize(ipc, el, &len);
    if (xml == NULL)
        return -1;
    struct ipc_msg m = {.type = IPC_MSG_STANZA_IN};
    m.stanza_in.direction = s2s_stream_dir(s) == S2S_IN ? IPC_DIR_INBOUND : IPC_DIR_OUTBOUND;
    m.stanza_in.local = local;
    m.stanza_in.remote = remote;
    m.stanza_in.stream_id = s2s_stream_id(s);
    m.stanza_in.stanza = (const uint8_t *)xml;
    m.stanza_in.stanza_len = len;
    if (ipc_channel_send(ipc->ch, peer, &m) != 0) {
        log_info("event=ipc-send-failed type=stanza_in gateway=%s errno=%d", ipc_peer_name(peer),
                 errno);
        return -1;
    }
    if (ipc_peer_unacked(peer) >= ipc->hwm && ipc->congested_peer == 0) {
        ipc->congested_peer = ipc_peer_id(peer);
        log_info("event=ipc-congested gateway=%s unacked=%zu action=pause-reading",
                 ipc_peer_name(peer), ipc_peer_unacked(peer));
    }
    return 0;
}

/* ---- outbound stanzas ------------------------------------------------- */

static int xml_element(void *arg, struct stanza *el)
{
    struct edge_ipc *ipc = arg;
    ipc->n_parsed++;
    if (ipc->parsed == NULL)
        ipc->parsed = stanza_copy(el);
    return 0;
}

static const struct xml_stream_cb xml_cbs = {
    .element = xml_element,
};

static const char synthetic_header[] =
    "<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' "
    "version='1.0'>";

/* One stanza from a gateway's bytes, or NULL. */
static struct stanza *parse_stanza(struct edge_ipc *ipc, const uint8_t *buf, size_t len)
{
    ipc->parsed = NULL;
    ipc->n_parsed = 0;
    if (xml_stream_reset(ipc->xml) != 0 ||
        xml_stream_feed(ipc->xml, synthetic_header, sizeof(synthetic_header) - 1) !=
            (ssize_t)(sizeof(synthetic_header) - 1))
        return NULL;
    ssize_t n = xml_stream_feed(ipc->xml, buf, len);
    if (n != (ssize_t)len || ipc->n_parsed != 1) {
        stanza_free(ipc->parsed);
        ipc->parsed = NULL;
        return NULL;
    }
    struct stanza *st = ipc->parsed;
    ipc->parsed = NULL;
    return st;
}

static void on_stanza_out(struct edge_ipc *ipc, struct ipc_peer *peer, const struct ipc_msg *m)
{
    const struct ipc_stanza_out *so = &m->stanza_out;
    char from[JID_PART_MAX + 1], to[JID_PART_MAX + 1], fd[JID_PART_MAX + 1], td[JID_PART_MAX + 1];
    struct stanza *st = parse_stanza(ipc, so->stanza, so->stanza_len);
    const char *cond = NULL;

    if (st == NULL || strcmp(stanza_ns(st), STANZA_NS_SERVER) != 0 ||
        (strcmp(stanza_name(st), "message") && strcmp(stanza_name(st), "presence") &&
         strcmp(stanza_name(st), "iq")))
        cond = "bad-request";
    else if (jid_domain_normalize(so->from, strlen(so->from), fd, sizeof(fd), NULL) != 0 ||
             jid_domain_normalize(so->to, strlen(so->to), td, sizeof(td), NULL) != 0)
        cond = "jid-malformed";
    else {
        const char *fa = stanza_attr(st, "from"), *ta = stanza_attr(st, "to");
        struct jid *fj = fa ? jid_new(fa, NULL) : NULL, *tj = ta ? jid_new(ta, NULL) : NULL;
        if (!fj || !tj)
            cond = "jid-malformed";
        else if (strcmp(jid_domain(fj), fd) != 0 || strcmp(jid_domain(tj), td) != 0)
            cond = "bad-request"; /* the envelope must match the stanza */
        else {
            snprintf(from, sizeof(from), "%s", fd);
            snprintf(to, sizeof(to), "%s", td);
        }
        jid_free(fj);
        jid_free(tj);
    }
    if (cond) {
        stanza_free(st);
        ipc_channel_ack(ipc->ch, peer, m->id, cond, "stanza refused by the edge");
        return;
    }
    if (s2s_out_route(ipc->edge, from, to, st, ipc_peer_id(peer), m->id, &cond) != 0)
        ipc_channel_ack(ipc->ch, peer, m->id, cond ? cond : "internal-server-error",
                        "the edge cannot send to this partner now");
}

void edge_ipc_ack(struct edge_ipc *ipc, uint64_t peer_id, uint64_t msg_id, const char *condition,
                  const char *text)
{
    if (ipc == NULL)
        return;
    struct ipc_peer *peer = ipc_channel_peer_find(ipc->ch, peer_id);
    if (peer == NULL)
        return;
    if (ipc_channel_ack(ipc->ch, peer, msg_id, condition, text ? text : "") != 0)
        log_info("event=ipc-ack-failed id=%llu errno=%d", (unsigned long long)msg_id, errno);
}

/* ---- configuration push ----------------------------------------------- */

static void config_ack(struct edge_ipc *ipc, struct ipc_peer *peer, uint64_t version, bool ok,
                       const char *reason)
{
    struct ipc_msg a = {.type = IPC_MSG_CONFIG_ACK};
    a.config_ack.version = version;
    a.config_ack.status = ok ? IPC_CONFIG_APPLIED : IPC_CONFIG_REFUSED;
    a.config_ack.reason = reason ? reason : "";
    if (ipc_channel_send(ipc->ch, peer, &a) != 0)
        log_info("event=ipc-send-failed type=config_ack errno=%d", errno);
}

static void on_config_push(struct edge_ipc *ipc, struct ipc_peer *peer, const struct ipc_msg *m)
{
    struct edge *e = ipc->edge;
    const struct ipc_config_push *cp = &m->config_push;
    struct conf_report rep;
    char reason[512] = "";

    ipc_channel_ack(ipc->ch, peer, m->id, NULL, NULL);
    if (cp->version < e->ec->conf->version) {
        snprintf(reason, sizeof(reason), "version %llu is older than the running %llu",
                 (unsigned long long)cp->version, (unsigned long long)e->ec->conf->version);
        config_ack(ipc, peer, cp->version, false, reason);
        return;
    }
    if (cp->version == e->ec->conf->version) {
        config_ack(ipc, peer, cp->version, true, "");
        return;
    }
    conf_report_init(&rep);
    struct conf *c = conf_file_parse((const char *)cp->text, "config-push", &rep);
    struct edge_conf *nec = NULL;
    if (c) {
        c->version = cp->version;
        nec = edge_conf_replace(e->ec, c, &rep);
    }
    if (nec == NULL) {
        for (size_t i = 0; i < rep.n; i++)
            if (rep.v[i].severity == CONF_ERROR) {
                snprintf(reason, sizeof(reason), "%s%s%s", rep.v[i].field,
                         rep.v[i].field[0] ? ": " : "", rep.v[i].message);
                break;
            }
        conf_report_clear(&rep);
        log_warnx("event=config-push outcome=refused version=%llu reason=\"%s\"",
                  (unsigned long long)cp->version, reason);
        config_ack(ipc, peer, cp->version, false, reason[0] ? reason : "invalid configuration");
        return;
    }
    for (size_t i = 0; i < rep.n; i++)
        log_warnx("event=config-push warning: %s", rep.v[i].message);
    conf_report_clear(&rep);
    if (nec->tls == NULL) {
        /* A per-domain certificate of a newly hosted domain may be bad:
         * keep running with the current configuration and TLS context. */
        snprintf(reason, sizeof(reason), "TLS: %s",
                 nec->tls_error ? nec->tls_error : "not configured");
        edge_conf_free(nec);
        log_warnx("event=config-push outcome=refused version=%llu reason=\"%s\"",
                  (unsigned long long)cp->version, reason);
        config_ack(ipc, peer, cp->version, false, reason);
        return;
    }
    /* The last good copy, so that this edge can restart alone. */
    char *text = conf_file_format(nec->conf);
    if (text == NULL ||
        conf_atomic_write(nec->dir, CONF_FILE_NAME, text, strlen(text), 0640) != 0) {
        log_warn("event=config-push outcome=refused version=%llu reason=\"cannot persist\"",
                 (unsigned long long)cp->version);
        free(text);
        edge_conf_free(nec);
        config_ack(ipc, peer, cp->version, false, "cannot persist the configuration");
        return;
    }
    free(text);
    log_info("event=config-push outcome=applied version=%llu", (unsigned long long)cp->version);
    edge_apply_conf(e, nec);
    config_ack(ipc, peer, cp->version, true, "");
}

/* The running configuration to one gateway: a gateway without a store
 * (config_from = edges) runs what the edges push; one with a store
 * answers with its view of the version (gateway/gw_confpush.h). */
static void push_config_to(struct edge_ipc *ipc, struct ipc_peer *peer)
{
    const struct conf *c = ipc->edge->ec->conf;
    if (ipc_peer_role(peer) != IPC_ROLE_GATEWAY || !(ipc_peer_capabilities(peer) & IPC_CAP_CONFIG))
        return;
    char *text = conf_file_format(c);
    if (text == NULL) {
        log_warnx("event=config-push gateway=%s outcome=not-made", ipc_peer_name(peer));
        return;
    }
    struct ipc_msg m = {.type = IPC_MSG_CONFIG_PUSH};
    m.config_push.version = c->version;
    m.config_push.text = (const uint8_t *)text;
    m.config_push.text_len = strlen(text);
    if (ipc_channel_send(ipc->ch, peer, &m) != 0)
        log_info("event=ipc-send-failed type=config_push gateway=%s errno=%d", ipc_peer_name(peer),
                 errno);
    else
        log_info("event=config-push gateway=%s version=%llu bytes=%zu", ipc_peer_name(peer),
                 (unsigned long long)c->version, m.config_push.text_len);
    free(text);
}

void edge_ipc_push_config(struct edge_ipc *ipc)
{
    if (ipc == NULL)
        return;
    struct ipc_peer *v[MAX_GATEWAYS];
    size_t n = ipc_channel_peers(ipc->ch, v, MAX_GATEWAYS);
    if (n > MAX_GATEWAYS)
        n = MAX_GATEWAYS;
    for (size_t i = 0; i < n; i++)
        if (ipc_peer_alive(v[i]))
            push_config_to(ipc, v[i]);
}

static void on_config_ack(struct ipc_peer *peer, const struct ipc_msg *m)
{
    if (m->config_ack.status == IPC_CONFIG_APPLIED)
        log_info("event=config-ack gateway=%s version=%llu outcome=applied", ipc_peer_name(peer),
                 (unsigned long long)m->config_ack.version);
    else
        log_info("event=config-ack gateway=%s version=%llu outcome=refused reason=\"%s\"",
                 ipc_peer_name(peer), (unsigned long long)m->config_ack.version,
                 m->config_ack.reason);
}

/* ---- statistics -------------------------------------------------------- */

static void on_stats_request(struct edge_ipc *ipc, struct ipc_peer *peer, const struct ipc_msg *m)
{
    struct edge *e = ipc->edge;
    size_t ns = e->n_streams > IPC_STATS_STREAMS_MAX ? IPC_STATS_STREAMS_MAX : e->n_streams;
    struct ipc_stats_stream *sv = calloc(ns ? ns : 1, sizeof(*sv));
    struct ipc_peer *pv[MAX_GATEWAYS];
    size_t np = ipc_channel_peers(ipc->ch, pv, MAX_GATEWAYS);
    if (np > MAX_GATEWAYS)
        np = MAX_GATEWAYS;
    struct ipc_stats_gateway gv[MAX_GATEWAYS];
    if (sv == NULL)
        return;
    size_t i = 0;
    for (struct s2s_stream *s = s2s_stream_first(e); s && i < ns; s = s2s_stream_next(s)) {
        sv[i].stream_id = s2s_stream_id(s);
        sv[i].local = s2s_stream_local(s) ? s2s_stream_local(s) : "";
        sv[i].partner = s2s_stream_remote(s) ? s2s_stream_remote(s) : "";
        sv[i].direction = s2s_stream_dir(s) == S2S_IN ? IPC_DIR_INBOUND : IPC_DIR_OUTBOUND;
        sv[i].tls_version = s2s_stream_tls_version(s);
        enum s2s_auth a = s2s_stream_auth(s);
        sv[i].auth = a == S2S_AUTH_SASL_EXTERNAL ? IPC_AUTH_SASL_EXTERNAL
                     : a == S2S_AUTH_DIALBACK    ? IPC_AUTH_DIALBACK
                                                 : IPC_AUTH_NONE;
        sv[i].since = s2s_stream_since(s);
        sv[i].stanzas_in = s2s_stream_stanzas_in(s);
        sv[i].stanzas_out = s2s_stream_stanzas_out(s);
        i++;
    }
    /* Each gateway's share: the remembered users its stanzas would go to
     * now (the same rendezvous hashing as pick_gateway over the same set of
     * live gateways; tools and dead sessions have none). */
    const char *names[MAX_GATEWAYS];
    size_t idx[MAX_GATEWAYS], nlive = 0;
    uint32_t share[MAX_GATEWAYS];
    for (size_t j = 0; j < np; j++) {
        gv[j].name = ipc_peer_name(pv[j]);
        gv[j].since = ipc_peer_since(pv[j]);
        gv[j].unacked = (uint32_t)ipc_peer_unacked(pv[j]);
        gv[j].users = 0;
        if (ipc_peer_alive(pv[j]) && ipc_peer_role(pv[j]) == IPC_ROLE_GATEWAY &&
            (ipc_peer_capabilities(pv[j]) & IPC_CAP_STANZA)) {
            idx[nlive] = j;
            names[nlive++] = gv[j].name;
        }
    }
    if (ipc->users)
        edge_users_share(ipc->users, names, nlive, share);
    for (size_t k = 0; ipc->users && k < nlive; k++)
        gv[idx[k]].users = share[k];
    struct ipc_msg r = {.type = IPC_MSG_STATS};
    r.stats.request_id = m->id;
    r.stats.name = e->ec->local.name;
    r.stats.conf_version = e->ec->conf->version;
    r.stats.nstreams = (uint32_t)i;
    r.stats.streams = sv;
    r.stats.ngateways = (uint32_t)np;
    r.stats.gateways = gv;
    if (ipc_channel_send(ipc->ch, peer, &r) != 0)
        log_info("event=ipc-send-failed type=stats errno=%d", errno);
    free(sv);
}

/* ---- metrics ---------------------------------------------------------- */

void edge_ipc_metrics(struct edge_ipc *ipc, struct metrics *reg)
{
    struct ipc_channel *ch = ipc ? ipc->ch : NULL;
    ipc_metrics_collect(reg, &ch, 1, ipc ? ipc->handed_over : 0);
}

/* ---- channel callbacks ------------------------------------------------ */

static void uncongest(struct edge_ipc *ipc, struct ipc_peer *peer, bool gone);

static void peer_up(struct ipc_channel *ch, struct ipc_peer *peer, void *arg)
{
    (void)ch;
    (void)arg;
    log_info("event=gateway-up gateway=%s key=%s role=%d", ipc_peer_name(peer),
             ipc_peer_key_name(peer), (int)ipc_peer_role(peer));
    push_config_to(arg, peer);
}

static void peer_down(struct ipc_channel *ch, struct ipc_peer *peer, const char *reason, void *arg)
{
    (void)ch;
    log_info("event=gateway-down gateway=%s reason=\"%s\"", ipc_peer_name(peer), reason);
    uncongest(arg, peer, true);
}

static void recv_cb(struct ipc_channel *ch, struct ipc_peer *peer, const struct ipc_msg *m,
                    void *arg)
{
    struct edge_ipc *ipc = arg;
    switch (m->type) {
    case IPC_MSG_STANZA_OUT:
        on_stanza_out(ipc, peer, m);
        break;
    case IPC_MSG_CONFIG_PUSH:
        on_config_push(ipc, peer, m);
        break;
    case IPC_MSG_STATS_REQUEST:
        on_stats_request(ipc, peer, m);
        break;
    case IPC_MSG_CONFIG_ACK:
        ipc_channel_ack(ch, peer, m->id, NULL, NULL);
        on_config_ack(peer, m);
        break;
    default:
        if (ipc_msg_type_reliable(m->type))
            ipc_channel_ack(ch, peer, m->id, "feature-not-implemented",
                            "the edge does not take this message");
        break;
    }
}

static void uncongest(struct edge_ipc *ipc, struct ipc_peer *peer, bool gone)
{
    if (ipc->congested_peer == 0 || ipc->congested_peer != ipc_peer_id(peer))
        return;
    if (!gone && ipc_peer_unacked(peer) > ipc->lwm)
        return;
    ipc->congested_peer = 0;
    log_info("event=ipc-congested gateway=%s action=resume-reading", ipc_peer_name(peer));
    s2s_streams_resume(ipc->edge);
}

static void acked_cb(struct ipc_channel *ch, struct ipc_peer *peer, const struct ipc_msg *ack,
                     void *arg)
{
    struct edge_ipc *ipc = arg;
    (void)ch;
    (void)ack;
    uncongest(ipc, peer, false);
}

/* A gateway refused a stanza: answer the partner (RFC 6120 section 8.3). */
static void refused_cb(struct ipc_channel *ch, struct ipc_peer *peer, const struct ipc_msg *ack,
                       const struct ipc_msg *sent, void *arg)
{
    struct edge_ipc *ipc = arg;
    (void)ch;
    (void)peer;
    if (sent->type != IPC_MSG_STANZA_IN)
        return;
    const struct ipc_stanza_in *si = &sent->stanza_in;
    struct stanza *el = parse_stanza(ipc, si->stanza, si->stanza_len);
    if (el == NULL)
        return;
    answer_error(ipc, el, si->local, si->remote,
                 ack->ack.condition[0] ? ack->ack.condition : "undefined-condition", ack->ack.text);
    stanza_free(el);
}

static void unacked_cb(struct ipc_channel *ch, struct ipc_peer *peer, const struct ipc_msg *msg,
                       void *arg)
{
    struct edge_ipc *ipc = arg;
    (void)peer;
    if (msg->type != IPC_MSG_STANZA_IN)
        return;
    const struct ipc_stanza_in *si = &msg->stanza_in;
    struct stanza *el = parse_stanza(ipc, si->stanza, si->stanza_len);
    char user[2 * JID_PART_MAX + 2];
    user_key(el ? stanza_attr(el, "to") : NULL, user, sizeof(user));
    struct ipc_peer *other = pick_gateway(ipc, edge_users_hash(user));
    if (other) {
        /* Same id, so the SIP side can drop a duplicate (issue 6). */
        struct ipc_msg copy = *msg;
        if (ipc_channel_send(ch, other, &copy) == 0) {
            ipc->handed_over++;
            stanza_free(el);
            return;
        }
    }
    if (el)
        answer_error(ipc, el, si->local, si->remote, "service-unavailable", "no gateway available");
    stanza_free(el);
}

struct edge_ipc *edge_ipc_new(struct edge *e, char *err, size_t errlen)
{
    struct ipc_keypair kp;
    struct ipc_allowlist allow = {NULL, 0};
    struct ipc_channel_settings st;
    const char *dir = e->ec->local.ipc_keys_dir;

    if (ipc_keys_load_edge(dir, &kp) != 0) {
        snprintf(err, errlen, "cannot load the edge's IPC keys from %s/keys: %s", dir,
                 strerror(errno));
        return NULL;
    }
    if (ipc_keys_load_allowlist(dir, &allow) != 0) {
        ipc_keypair_wipe(&kp);
        snprintf(err, errlen, "cannot load the gateway allow-list from %s/keys/gateways: %s", dir,
                 strerror(errno));
        return NULL;
    }
    struct edge_ipc *ipc = calloc(1, sizeof(*ipc));
    if (ipc == NULL) {
        ipc_keypair_wipe(&kp);
        ipc_allowlist_free(&allow);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    ipc->edge = e;
    ipc->bufcap = 4096;
    ipc->buf = malloc(ipc->bufcap);
    ipc->xml = xml_stream_new(&e->ec->xml, &xml_cbs, ipc);
    ipc->users = edge_users_new(e->ec->local.max_tracked_users);
    ipc_channel_settings_default(&st);
    ipc->hwm = st.unacked_max / 2;
    ipc->lwm = st.unacked_max / 4;
    if (st.limits.stanza_max < e->ec->local.max_stanza_bytes)
        st.limits.stanza_max = e->ec->local.max_stanza_bytes;
    static const struct ipc_channel_cbs cbs = {
        .peer_up = peer_up,
        .peer_down = peer_down,
        .recv = recv_cb,
        .acked = acked_cb,
        .unacked = unacked_cb,
        .refused = refused_cb,
    };
    if (ipc->buf && ipc->xml && ipc->users)
        ipc->ch = ipc_channel_server_new(e->base, e->ec->local.ipc_endpoint, e->ec->local.name, &kp,
                                         &allow, &st, &cbs, ipc);
    ipc_keypair_wipe(&kp);
    ipc_allowlist_free(&allow);
    if (ipc->ch == NULL) {
        snprintf(err, errlen, "cannot bind the IPC endpoint %s", e->ec->local.ipc_endpoint);
        edge_ipc_free(ipc);
        return NULL;
    }
    return ipc;
}

void edge_ipc_reload(struct edge_ipc *ipc)
{
    struct ipc_allowlist allow = {NULL, 0};
    if (ipc == NULL)
        return;
    if (ipc_keys_load_allowlist(ipc->edge->ec->local.ipc_keys_dir, &allow) != 0) {
        log_warn("event=reload allow-list kept: cannot read it");
        return;
    }
    if (ipc_channel_set_allowlist(ipc->ch, &allow) != 0)
        log_warnx("event=reload allow-list not replaced");
    ipc_allowlist_free(&allow);
}

void edge_ipc_free(struct edge_ipc *ipc)
{
    if (ipc == NULL)
        return;
    ipc_channel_free(ipc->ch);
    xml_stream_free(ipc->xml);
    edge_users_free(ipc->users);
    free(ipc->buf);
    free(ipc);
}
