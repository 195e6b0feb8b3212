/*
 * s2s_in.c - inbound streams: a partner connected to us (RFC 6120 sections
 * 4 to 6, XEP-0178, XEP-0220 receiving and authoritative roles, XEP-0288).
 */
#include "s2s_stream_int.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/util.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "edge_conf.h"
#include "edge_ipc.h"
#include "edge_metrics.h"
#include "jid.h"
#include "log.h"
#include "metrics.h"
#include "s2s_dialback.h"
#include "s2s_sasl.h"
#include "stanza.h"

#define NS_PING          "urn:xmpp:ping"
#define NS_FEAT_DIALBACK "urn:xmpp:features:dialback"
#define PING_ID_PREFIX   "xfed-ping-"

static void format_peer(char *out, size_t outlen, const struct sockaddr *sa)
{
    char host[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
        port = ntohs(in->sin_port);
        snprintf(out, outlen, "%s:%u", host, port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
        port = ntohs(in6->sin6_port);
        snprintf(out, outlen, "[%s]:%u", host, port);
    } else {
        snprintf(out, outlen, "unknown");
    }
}

struct s2s_stream *s2s_in_accept(struct edge *e, int fd, const struct sockaddr *sa, socklen_t salen,
                                 bool direct_tls)
{
    char peer[INET6_ADDRSTRLEN + 8];
    (void)salen;
    format_peer(peer, sizeof(peer), sa);
    e->counters.accepted++;
    if (e->stopping || e->n_streams >= e->ec->conf->settings.max_connections ||
        e->n_pending_in >= e->ec->local.max_pending_accept) {
        /* Refused before any byte is read: no parser, no TLS, no memory. */
        e->counters.refused++;
        log_info("stream=- dir=in peer=%s event=refused reason=\"%s\"", peer,
                 e->stopping ? "shutting down" : "connection limit");
        close(fd);
        return NULL;
    }
    if (direct_tls && e->ec->tls == NULL) {
        close(fd);
        return NULL;
    }
    evutil_make_socket_nonblocking(fd);
    struct s2s_stream *s = s2s_stream_new(e, S2S_IN, &s2s_in_ops);
    if (s == NULL) {
        close(fd);
        return NULL;
    }
    memcpy(s->peer, peer, sizeof(s->peer));
    s->counted_pending = true;
    e->n_pending_in++;
    struct bufferevent *bev;
    if (direct_tls) {
        /* XEP-0368: TLS from the first byte, ALPN xmpp-server. */
        struct ssl_st *ssl = tls_ssl_new_server(e->ec->tls, true);
        bev = ssl ? bufferevent_openssl_socket_new(e->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                                   BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS)
                  : NULL;
        if (bev) {
            bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
            s->ssl = ssl;
            s->direct_tls = true;
            s->state = S2S_ST_TLS;
        }
    } else {
        bev = bufferevent_socket_new(e->base, fd, BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
    }
    if (bev == NULL) {
        close(fd);
        s2s_stream_free(s, "out of memory");
        return NULL;
    }
    s2s_stream_attach(s, bev);
    s2s_log(s, "accepted", "direct_tls=%s", direct_tls ? "yes" : "no");
    s2s_stream_timer_update(s);
    return s;
}

/* ---- header and features --------------------------------------------- */

static unsigned partner_streams(struct edge *e, const char *partner, const struct s2s_stream *self)
{
    unsigned n = 0;
    struct s2s_stream *s;
    TAILQ_FOREACH(s, &e->streams, link)
    if (s != self && s->partner && s->state != S2S_ST_CLOSING && !strcmp(s->partner, partner))
        n++;
    return n;
}

static bool version_ok(const char *v)
{
    /* RFC 6120 section 4.7.5: major version 1, any minor. */
    return v && v[0] == '1' && v[1] == '.' && v[2] >= '0' && v[2] <= '9';
}

static void send_features(struct s2s_stream *s, const struct s2s_offer *o)
{
    s2s_stream_printf(
        s, "<stream:features>%s%s%s%s%s</stream:features>",
        o->starttls ? (o->starttls_required
                           ? "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/>"
                             "</starttls>"
                           : "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
                    : "",
        o->sasl_external ? "<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>"
                           "<mechanism>EXTERNAL</mechanism></mechanisms>"
                         : "",
        /* XEP-0220 section 2.4.2: dialback with error handling. */
        o->dialback ? "<dialback xmlns='urn:xmpp:features:dialback'><errors/></dialback>" : "",
        o->bidi ? "<bidi xmlns='urn:xmpp:features:bidi'/>" : "",
        /* XEP-0198 section 2: the feature; <enable/> is taken once the
         * stream is authenticated (the restarted stream after SASL, or a
         * dialback pair valid), earlier it gets <failed/>. */
        s->edge->ec->local.sm && !o->starttls_required ? "<sm xmlns='" S2S_NS_SM "'/>" : "");
}

static int in_header(struct s2s_stream *s, const struct xml_stream_header *h)
{
    struct edge *e = s->edge;
    char to[JID_PART_MAX + 1], from[JID_PART_MAX + 1];

    if (s2s_stream_new_id(s) != 0) {
        s2s_stream_close(s, S2S_ERR_INTERNAL_SERVER_ERROR, "no randomness");
        return -1;
    }
    if (!version_ok(h->version)) {
        s2s_stream_close(s, S2S_ERR_UNSUPPORTED_VERSION, "version 1.0 required");
        return -1;
    }
    if (h->default_ns == NULL || strcmp(h->default_ns, STANZA_NS_SERVER) != 0) {
        s2s_stream_close(s, S2S_ERR_INVALID_NAMESPACE, "content namespace must be jabber:server");
        return -1;
    }
    if (h->to == NULL || jid_domain_normalize(h->to, strlen(h->to), to, sizeof(to), NULL) != 0 ||
        !edge_conf_hosted(e->ec, to)) {
        s2s_stream_close(s, S2S_ERR_HOST_UNKNOWN, "'to' is not a domain hosted here");
        return -1;
    }
    if (s->local == NULL && (s->local = strdup(to)) == NULL) {
        s2s_stream_close(s, S2S_ERR_RESOURCE_CONSTRAINT, "out of memory");
        return -1;
    }
    if (h->from == NULL ||
        jid_domain_normalize(h->from, strlen(h->from), from, sizeof(from), NULL) != 0) {
        s2s_stream_close(s, S2S_ERR_POLICY_VIOLATION, "'from' is required and must be a domain");
        return -1;
    }
    if (s->remote && strcmp(s->remote, from) != 0) {
        /* A restarted stream keeps its identity (RFC 6120 section 4.3.3). */
        s2s_stream_close(s, S2S_ERR_INVALID_FROM, "'from' changed on stream restart");
        return -1;
    }
    if (strcmp(s->local, to) != 0) {
        s2s_stream_close(s, S2S_ERR_HOST_UNKNOWN, "'to' changed on stream restart");
        return -1;
    }
    const struct conf_partner *p = edge_conf_partner(e->ec, from);
    if (p == NULL) {
        if (s->remote == NULL)
            s->remote = strdup(from);
        s2s_stream_close(s, S2S_ERR_POLICY_VIOLATION, "'from' is not a partner domain");
        return -1;
    }
    if (s->remote == NULL) {
        s->remote = strdup(from);
        s->partner = strdup(p->domain);
        if (!s->remote || !s->partner) {
            s2s_stream_close(s, S2S_ERR_RESOURCE_CONSTRAINT, "out of memory");
            return -1;
        }
        unsigned limit = edge_conf_partner_limit(e->ec, p);
        if (limit && partner_streams(e, s->partner, s) >= limit) {
            s2s_stream_close(s, S2S_ERR_POLICY_VIOLATION, "partner connection limit reached");
            return -1;
        }
    }
    struct s2s_policy pol = s2s_policy_of(p);
    bool cert_ok = s2s_stream_cert_ok(s, from);
    struct s2s_offer o = s2s_policy_in_offer(&pol, s->tls, cert_ok, s->sasl_done);
    if (o.starttls && e->ec->tls == NULL) {
        o.starttls = false;
        if (o.starttls_required) {
            s2s_stream_close(s, S2S_ERR_INTERNAL_SERVER_ERROR, "TLS is not configured");
            return -1;
        }
    }
    s2s_log(s, "header", "id=%s row=%d tls=%s cipher=%s cert=%s offer=%s%s%s%s", s->id,
            s2s_policy_row(&pol), s->tls ? tls_version(s->ssl) : "none",
            s->tls ? tls_cipher(s->ssl) : "none",
            s->tls ? (cert_ok ? "ok" : tls_verify_name(s->verify)) : "none",
            o.starttls ? (o.starttls_required ? "starttls-required," : "starttls,") : "",
            o.sasl_external ? "external," : "", o.dialback ? "dialback," : "",
            o.bidi ? "bidi" : "");
    s2s_stream_send_header(s, s->local, s->remote, s->id);
    if (o.refuse != S2S_ERR_NONE) {
        s2s_stream_close(s, o.refuse, o.why);
        return -1;
    }
    send_features(s, &o);
    if (s->sasl_done)
        s2s_stream_established(s);
    else if (s->authenticated)
        s2s_stream_set_state(s, S2S_ST_ESTABLISHED);
    else
        s2s_stream_set_state(s, S2S_ST_NEGOTIATING);
    return 0;
}

/* ---- negotiation ------------------------------------------------------ */

static struct s2s_policy stream_policy(struct s2s_stream *s, bool *ok)
{
    const struct conf_partner *p = s2s_stream_partner(s);
    struct s2s_policy pol = {NEG_REQUIRED, NEG_REQUIRED, false};
    *ok = p != NULL;
    if (p)
        pol = s2s_policy_of(p);
    return pol;
}

static int in_starttls(struct s2s_stream *s)
{
    bool ok;
    struct s2s_policy pol = stream_policy(s, &ok);
    if (!ok || !s2s_policy_in_accept_starttls(&pol, s->tls) || s->edge->ec->tls == NULL) {
        /* RFC 6120 section 5.4.2.2: <failure/> then close. */
        s2s_stream_printf(s, "<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
        s2s_stream_hs_reason(s, "policy");
        s2s_stream_close(s, S2S_ERR_NONE, "STARTTLS not offered");
        return -1;
    }
    s2s_stream_printf(s, "<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    s->start_tls = true;
    s2s_log(s, "starttls", "action=proceed");
    return -1;
}

static void sasl_failure(struct s2s_stream *s, const char *condition, const char *why)
{
    s2s_stream_printf(s, "<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><%s/></failure>",
                      condition);
    s2s_log(s, "auth", "method=sasl-external outcome=failure condition=%s reason=\"%s\"", condition,
            why);
    s2s_stream_hs_reason(s, "sasl");
    /* RFC 6120 section 6.4.5: a bounded number of retries, then
     * <policy-violation/>. */
    if (++s->sasl_failures >= 2)
        s2s_stream_close(s, S2S_ERR_POLICY_VIOLATION, "too many SASL failures");
}

static int in_sasl(struct s2s_stream *s, enum s2s_elem kind, struct stanza *el)
{
    bool ok;
    struct s2s_policy pol = stream_policy(s, &ok);
    if (kind != S2S_EL_SASL_AUTH) {
        sasl_failure(s, "aborted", "SASL exchange aborted");
        return 0;
    }
    const char *mech = stanza_attr(el, "mechanism");
    if (mech == NULL || strcmp(mech, "EXTERNAL") != 0) {
        sasl_failure(s, "invalid-mechanism", "only EXTERNAL is offered");
        return 0;
    }
    bool cert_ok = s2s_stream_cert_ok(s, s->remote);
    if (!ok || !s2s_policy_in_accept_sasl(&pol, s->tls, cert_ok)) {
        /* XEP-0178 section 3 / RFC 6120 section 13.7.2: EXTERNAL only with a
         * certificate that verifies for the claimed domain. */
        s2s_stream_hs_reason(s, ok && !cert_ok ? "certificate" : "policy");
        sasl_failure(s, "not-authorized", "certificate does not verify for the stream's 'from'");
        return 0;
    }
    const char *text = stanza_text(el);
    const char *cond = NULL;
    if (text == NULL ||
        s2s_sasl_server_external(s->local, s->remote, text, strlen(text), &cond) != 0) {
        sasl_failure(s, cond ? cond : "not-authorized", "SASL EXTERNAL refused");
        return 0;
    }
    s2s_stream_printf(s, "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>");
    s->sasl_done = true;
    struct s2s_pair *pr = s2s_pair_add(s, s->local, s->remote);
    if (pr) {
        pr->state = S2S_PAIR_VALID;
        pr->auth = S2S_AUTH_SASL_EXTERNAL;
    }
    if (s->counted_pending) {
        s->counted_pending = false;
        s->edge->n_pending_in--;
    }
    s->authenticated = true;
    s->t_establish = 0;
    s2s_log(s, "auth", "method=sasl-external outcome=success tls=%s cipher=%s", tls_version(s->ssl),
            tls_cipher(s->ssl));
    /* RFC 6120 section 6.4.6: the stream restarts after <success/>. */
    s->state = S2S_ST_HEADER;
    s2s_stream_want_restart(s);
    return -1;
}

static int in_bidi(struct s2s_stream *s)
{
    bool ok;
    struct s2s_policy pol = stream_policy(s, &ok);
    /* XEP-0288 section 2.1: STARTTLS first when TLS is to be used. */
    if (!ok || (!s->tls && pol.tls == NEG_REQUIRED)) {
        s2s_stream_close(s, S2S_ERR_NOT_AUTHORIZED, "bidi before TLS");
        return -1;
    }
    s->bidi = true;
    s2s_log(s, "bidi", "outcome=enabled");
    return 0;
}

/* ---- stanzas ---------------------------------------------------------- */

static bool is_ping(struct stanza *el)
{
    const char *type = stanza_attr(el, "type");
    return !strcmp(stanza_name(el), "iq") && type && !strcmp(type, "get") &&
           stanza_child(el, NS_PING, "ping") != NULL;
}

/* An answer to one of our XEP-0199 probes: consumed here. */
static bool is_pong(struct edge *e, struct stanza *el, const char *to)
{
    const char *type = stanza_attr(el, "type"), *id = stanza_attr(el, "id");
    if (strcmp(stanza_name(el), "iq") != 0 || type == NULL || id == NULL ||
        (strcmp(type, "result") != 0 && strcmp(type, "error") != 0) || strchr(to, '@') ||
        strchr(to, '/') || strncmp(id, PING_ID_PREFIX, strlen(PING_ID_PREFIX)) != 0)
        return false;
    unsigned long long serial = strtoull(id + strlen(PING_ID_PREFIX), NULL, 10);
    struct s2s_stream *o = s2s_stream_find(e, serial);
    if (o) {
        o->t_ping = 0;
        o->last_in = s2s_now();
        s2s_stream_timer_update(o);
    }
    return true;
}

/* Answers a stanza with an error stanza (RFC 6120 section 8.3), never an
 * error with an error (section 8.3.1). */
static void reply_error(struct edge *e, struct stanza *el, const char *local, const char *remote,
                        const char *condition)
{
    const char *type = stanza_attr(el, "type");
    if (type && !strcmp(type, "error"))
        return;
    if (!strcmp(stanza_name(el), "presence") && type && strcmp(type, "probe") != 0 &&
        strcmp(type, "subscribe") != 0)
        return;
    struct stanza *r = stanza_new(STANZA_NS_SERVER, stanza_name(el));
    if (r == NULL)
        return;
    const char *id = stanza_attr(el, "id");
    stanza_set_attr(r, "from", stanza_attr(el, "to"));
    stanza_set_attr(r, "to", stanza_attr(el, "from"));
    if (id)
        stanza_set_attr(r, "id", id);
    stanza_set_attr(r, "type", "error");
    edge_metrics_bounce(e, condition);
    struct stanza *er = stanza_add_child(r, NULL, "error");
    struct stanza *c = er ? stanza_add_child(er, STANZA_NS_STANZA_ERRORS, condition) : NULL;
    if (c == NULL || stanza_set_attr(er, "type", "cancel") != 0) {
        stanza_free(r);
        return;
    }
    const char *cond = NULL;
    if (s2s_out_route(e, local, remote, r, 0, 0, &cond) != 0)
        log_info("event=error-reply-dropped local=%s remote=%s reason=%s", local, remote, cond);
}

static int in_stanza(struct s2s_stream *s, struct stanza *el)
{
    struct edge *e = s->edge;
    char to[JID_PART_MAX + 1], from[JID_PART_MAX + 1];
    const char *to_attr = stanza_attr(el, "to"), *from_attr = stanza_attr(el, "from");

    if (!s->authenticated) {
        s2s_stream_close(s, S2S_ERR_NOT_AUTHORIZED, "stanza before authentication");
        return -1;
    }
    /* RFC 6120 section 8.1.1.1 / 8.1.2.1: both addresses on s2s. */
    if (s2s_jid_domain(to_attr, to, sizeof(to)) != 0 ||
        s2s_jid_domain(from_attr, from, sizeof(from)) != 0) {
        s2s_stream_close(s, S2S_ERR_IMPROPER_ADDRESSING, "stanza without valid 'to' and 'from'");
        return -1;
    }
    if (!edge_conf_hosted(e->ec, to)) {
        s2s_stream_close(s, S2S_ERR_HOST_UNKNOWN, "stanza 'to' is not hosted here");
        return -1;
    }
    if (!s2s_pair_valid(s, to, from)) {
        /* RFC 6120 section 4.9.3.9: 'from' not authenticated on this stream. */
        s2s_stream_close(s, S2S_ERR_INVALID_FROM,
                         "stanza 'from' is not a domain authenticated on this stream");
        return -1;
    }
    s->stanzas_in++;
    e->counters.stanzas_in++;
    /* XEP-0198: handled once accepted here; the IPC channel keeps it until
     * a gateway acknowledges and re-sends it to a survivor, and anything
     * it cannot take is answered with an error, so an ack means "will not
     * be lost". */
    if (s->sm.in_on)
        s2s_sm_handled(&s->sm);
    metric_inc(s->m_stanzas_in);
    if (is_pong(e, el, to_attr))
        return 0;
    if (is_ping(el) && !strchr(to_attr, '@') && !strchr(to_attr, '/')) {
        /* XEP-0199 section 4.2: the server answers pings to its domain. */
        struct stanza *r = stanza_new(STANZA_NS_SERVER, "iq");
        const char *id = stanza_attr(el, "id"), *cond = NULL;
        if (r && stanza_set_attr(r, "from", to_attr) == 0 &&
            stanza_set_attr(r, "to", from_attr) == 0 &&
            (id == NULL || stanza_set_attr(r, "id", id) == 0) &&
            stanza_set_attr(r, "type", "result") == 0)
            s2s_out_route(e, to, from, r, 0, 0, &cond);
        else
            stanza_free(r);
        return 0;
    }
    if (e->ec->conf->settings.log_message_bodies && !strcmp(stanza_name(el), "message")) {
        struct stanza *b = stanza_child(el, STANZA_NS_SERVER, "body");
        const char *t = b ? stanza_text(b) : NULL;
        s2s_log(s, "message", "from=%s to=%s body=\"%.200s\"", from_attr, to_attr, t ? t : "");
    }
    if (edge_ipc_deliver(e->ipc, s, to, from, el) != 0)
        reply_error(e, el, to, from, "service-unavailable");
    return 0;
}

static int in_element(struct s2s_stream *s, enum s2s_elem kind, struct stanza *el)
{
    switch (kind) {
    case S2S_EL_STARTTLS:
        return in_starttls(s);
    case S2S_EL_SASL_AUTH:
    case S2S_EL_SASL_OTHER:
        return in_sasl(s, kind, el);
    case S2S_EL_DB_RESULT:
        return s2s_dialback_in_result(s, el);
    case S2S_EL_DB_VERIFY:
        return s2s_dialback_in_verify(s, el);
    case S2S_EL_BIDI:
        return in_bidi(s);
    case S2S_EL_SM:
        return s2s_sm_element(s, el);
    case S2S_EL_STANZA:
        return in_stanza(s, el);
    default:
        s2s_stream_close(s, s2s_refusal(s->dir, s->state, kind), "unexpected element");
        return -1;
    }
}

/* ---- dialback answers ------------------------------------------------- */

void s2s_in_dialback_answer(struct edge *e, uint64_t in_serial, const char *local,
                            const char *remote, const char *type, const char *condition)
{
    struct s2s_stream *s = s2s_stream_find(e, in_serial);
    if (s == NULL)
        return; /* XEP-0220 section 2.1.2: no such stream, dropped */
    struct s2s_pair *p = s2s_pair_find(s, local, remote);
    if (p == NULL || p->state != S2S_PAIR_PENDING)
        return;
    s2s_dialback_send_result(s, local, remote, type, condition);
    if (!strcmp(type, "valid")) {
        p->state = S2S_PAIR_VALID;
        p->auth = S2S_AUTH_DIALBACK;
        s2s_log(s, "auth", "method=dialback outcome=valid pair=%s:%s tls=%s cipher=%s", local,
                remote, s->tls ? tls_version(s->ssl) : "none",
                s->tls ? tls_cipher(s->ssl) : "none");
        if (!s->authenticated)
            s2s_stream_established(s);
        return;
    }
    s2s_log(s, "auth", "method=dialback outcome=%s pair=%s:%s condition=%s", type, local, remote,
            condition ? condition : "none");
    s2s_stream_hs_reason(s, "dialback");
    /* Forget the pair. */
    size_t i = (size_t)(p - s->pairs);
    free(p->local);
    free(p->remote);
    memmove(&s->pairs[i], &s->pairs[i + 1], (s->n_pairs - i - 1) * sizeof(*p));
    s->n_pairs--;
    /* XEP-0220 section 2.2.1: invalid with no other valid pair closes. */
    if (!strcmp(type, "invalid") && !s->authenticated)
        s2s_stream_close(s, S2S_ERR_NOT_AUTHORIZED, "dialback key invalid");
}

static void in_tls_done(struct s2s_stream *s)
{
    s2s_stream_set_state(s, S2S_ST_HEADER);
}

static void in_connected(struct s2s_stream *s)
{
    (void)s;
}

static bool in_transport_failed(struct s2s_stream *s, const char *reason)
{
    (void)s;
    (void)reason;
    return false;
}

const struct s2s_ops s2s_in_ops = {
    .header = in_header,
    .element = in_element,
    .connected = in_connected,
    .tls_done = in_tls_done,
    .transport_failed = in_transport_failed,
    .cleanup = NULL,
};
