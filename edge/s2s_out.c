/*
 * s2s_out.c - outbound streams: we connect to a partner (RFC 6120 section
 * 3.2 resolution, sections 4 to 6 negotiation, RFC 7590, XEP-0368,
 * XEP-0178 and XEP-0220 originating role).
 *
 * One outbound stream per domain pair, reused; stanzas wait in its queue
 * until it is authenticated, and each one is acknowledged to its gateway
 * when written, or answered with the error that says why the stream could
 * not be set up (remote-server-not-found, remote-server-timeout, ...).
 */
#include "s2s_stream_int.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge_conf.h"
#include "edge_ipc.h"
#include "edge_metrics.h"
#include "log.h"
#include "metrics.h"
#include "s2s_cert.h"
#include "s2s_dialback.h"
#include "s2s_sasl.h"
#include "stanza.h"

#define NS_FEAT_DIALBACK "urn:xmpp:features:dialback"
#define NS_FEAT_BIDI     "urn:xmpp:features:bidi"

static bool try_next_endpoint(struct s2s_stream *s);

/* ---- acknowledgements ------------------------------------------------- */

void s2s_queued_done(struct edge *e, struct s2s_queued *q, const char *condition, const char *text)
{
    if (condition) {
        e->counters.bounced++;
        edge_metrics_bounce(e, condition);
        log_info("event=bounce condition=%s reason=\"%s\" ipc_id=%llu", condition, text ? text : "",
                 (unsigned long long)q->ipc_id);
    }
    if (q->ipc_id)
        edge_ipc_ack(e->ipc, q->ipc_peer, q->ipc_id, condition, text);
    stanza_free(q->st);
    free(q);
}

static void write_stanza(struct s2s_stream *s, struct s2s_queued *q)
{
    s2s_stream_send(s, q->st);
    s->stanzas_out++;
    s->edge->counters.stanzas_out++;
    metric_inc(s->m_stanzas_out);
    /* With XEP-0198 the gateway's message is acknowledged when the peer
     * acknowledges the stanza, not when it is written. */
    if (!s2s_sm_track(s, q))
        s2s_queued_done(s->edge, q, NULL, NULL);
}

void s2s_out_flush(struct s2s_stream *s)
{
    struct s2s_queued *q;
    if (s->state == S2S_ST_ESTABLISHED)
        s2s_sm_out_start(s);
    while ((q = TAILQ_FIRST(&s->queue)) != NULL && s->state == S2S_ST_ESTABLISHED &&
           s2s_sm_may_send(s)) {
        TAILQ_REMOVE(&s->queue, q, link);
        s->n_queue--;
        write_stanza(s, q);
    }
}

static void fail_queue(struct s2s_stream *s, const char *condition, const char *why)
{
    struct s2s_queued *q;
    while ((q = TAILQ_FIRST(&s->queue)) != NULL) {
        TAILQ_REMOVE(&s->queue, q, link);
        s->n_queue--;
        s2s_queued_done(s->edge, q, condition, why);
    }
}

static void fail_verifies(struct s2s_stream *s, const char *condition)
{
    struct s2s_verify_req *r;
    while ((r = TAILQ_FIRST(&s->verifies)) != NULL) {
        TAILQ_REMOVE(&s->verifies, r, link);
        s2s_in_dialback_answer(s->edge, r->in_serial, r->local, r->remote, "error", condition);
        free(r->local);
        free(r->remote);
        free(r->id);
        free(r->key);
        free(r);
    }
}

void s2s_out_fail(struct s2s_stream *s, const char *condition, const char *why)
{
    if (s->state == S2S_ST_CLOSING)
        return;
    s2s_log(s, "failed", "condition=%s reason=\"%s\" queued=%zu", condition, why ? why : "",
            s->n_queue);
    if (!strcmp(condition, "remote-server-timeout"))
        s2s_stream_hs_reason(s, "timeout");
    fail_queue(s, condition, why);
    /* XEP-0220 section 2.5: the receiving server reports why it could not
     * reach the authoritative server. */
    fail_verifies(s, !strcmp(condition, "remote-server-timeout") ? "remote-server-timeout"
                                                                 : "remote-connection-failed");
    s2s_stream_close(s, S2S_ERR_NONE, why);
}

/* ---- finding or making the stream ------------------------------------- */

static struct s2s_stream *find_out(struct edge *e, const char *local, const char *remote)
{
    struct s2s_stream *s;
    TAILQ_FOREACH(s, &e->streams, link)
    {
        if (s->dir != S2S_OUT || s->state == S2S_ST_CLOSING || !s->local || !s->remote)
            continue;
        if (!strcmp(s->local, local) && !strcmp(s->remote, remote))
            return s;
    }
    return NULL;
}

/* XEP-0288: an inbound stream with bidi on which the peer authenticated as
 * remote for local may carry our stanzas from local to remote. */
static struct s2s_stream *find_bidi(struct edge *e, const char *local, const char *remote)
{
    struct s2s_stream *s;
    TAILQ_FOREACH(s, &e->streams, link)
    {
        if (s->dir == S2S_IN && s->bidi && s->state == S2S_ST_ESTABLISHED &&
            s2s_pair_valid(s, local, remote))
            return s;
    }
    return NULL;
}

static unsigned partner_count(struct edge *e, const char *partner)
{
    unsigned n = 0;
    struct s2s_stream *s;
    TAILQ_FOREACH(s, &e->streams, link)
    if (s->partner && s->state != S2S_ST_CLOSING && !strcmp(s->partner, partner))
        n++;
    return n;
}

static void resolved(const struct s2s_addr_result *r, void *arg)
{
    struct s2s_stream *s = arg;
    s->lookup = NULL;
    if (r->status != S2S_RESOLVE_OK || r->n_endpoints == 0) {
        enum s2s_resolve_status st =
            r->srv && r->srv->status != S2S_RESOLVE_OK ? r->srv->status : r->status;
        s2s_log(s, "resolve", "outcome=%s", s2s_resolve_status_name(st));
        s2s_stream_hs_reason(s, "dns");
        s2s_out_fail(
            s, st == S2S_RESOLVE_TIMEOUT ? "remote-server-timeout" : "remote-server-not-found",
            "no address for the partner");
        return;
    }
    s->eps = calloc(r->n_endpoints, sizeof(*s->eps));
    if (s->eps == NULL) {
        s2s_out_fail(s, "resource-constraint", "out of memory");
        return;
    }
    for (size_t i = 0; i < r->n_endpoints; i++) {
        memcpy(&s->eps[i].addr, &r->endpoints[i].addr, r->endpoints[i].addrlen);
        s->eps[i].addrlen = r->endpoints[i].addrlen;
        s->eps[i].direct_tls = r->endpoints[i].target->direct_tls;
        snprintf(s->eps[i].host, sizeof(s->eps[i].host), "%s", r->endpoints[i].target->host);
    }
    s->n_eps = r->n_endpoints;
    s->next_ep = 0;
    s2s_log(s, "resolve", "outcome=ok endpoints=%zu", s->n_eps);
    if (!try_next_endpoint(s)) {
        s2s_stream_hs_reason(s, "connect");
        s2s_out_fail(s, s->saw_timeout ? "remote-server-timeout" : "remote-server-not-found",
                     "no endpoint could be reached");
    }
}

static struct s2s_stream *out_new(struct edge *e, const char *local, const char *remote,
                                  const struct conf_partner *p)
{
    struct s2s_stream *s = s2s_stream_new(e, S2S_OUT, &s2s_out_ops);
    if (s == NULL)
        return NULL;
    s->local = strdup(local);
    s->remote = strdup(remote);
    s->partner = strdup(p->domain);
    if (!s->local || !s->remote || !s->partner) {
        s2s_stream_free(s, "out of memory");
        return NULL;
    }
    e->counters.outbound++;
    if (p->proxy_host) {
        /* The partner's static route replaces DNS SRV. */
        s->lookup =
            s2s_resolver_addr(e->resolver, p->proxy_host,
                              p->proxy_port ? p->proxy_port : S2S_DEFAULT_PORT, false, resolved, s);
    } else {
        s->lookup = s2s_resolver_resolve(e->resolver, remote, resolved, s);
    }
    s2s_log(s, "connect", "route=%s", p->proxy_host ? p->proxy_host : "srv");
    if (s->lookup == NULL) {
        s2s_stream_hs_reason(s, "dns");
        s2s_stream_free(s, "cannot resolve");
        return NULL;
    }
    s2s_stream_timer_update(s);
    return s;
}

/* Finds or starts the outbound stream for (local, remote). NULL with
 * *condition set when none can be had. */
struct s2s_stream *s2s_out_get(struct edge *e, const char *local, const char *remote,
                               const char **condition)
{
    struct s2s_stream *s = find_out(e, local, remote);
    if (s)
        return s;
    if (e->stopping) {
        *condition = "remote-server-timeout";
        return NULL;
    }
    const struct conf_partner *p = edge_conf_partner(e->ec, remote);
    if (p == NULL) {
        *condition = "remote-server-not-found";
        return NULL;
    }
    if (e->n_streams >= e->ec->conf->settings.max_connections) {
        *condition = "resource-constraint";
        return NULL;
    }
    unsigned limit = edge_conf_partner_limit(e->ec, p);
    if (limit && partner_count(e, p->domain) >= limit) {
        *condition = "resource-constraint";
        return NULL;
    }
    s = out_new(e, local, remote, p);
    if (s == NULL)
        *condition = "remote-server-not-found";
    return s;
}

int s2s_out_route(struct edge *e, const char *from_domain, const char *to_domain, struct stanza *st,
                  uint64_t ipc_peer, uint64_t ipc_id, const char **condition)
{
    *condition = NULL;
    if (!edge_conf_hosted(e->ec, from_domain)) {
        *condition = "not-allowed";
        stanza_free(st);
        return -1;
    }
    struct s2s_queued *q = calloc(1, sizeof(*q));
    if (q == NULL) {
        *condition = "resource-constraint";
        stanza_free(st);
        return -1;
    }
    q->st = st;
    q->ipc_peer = ipc_peer;
    q->ipc_id = ipc_id;
    struct s2s_stream *s = find_bidi(e, from_domain, to_domain);
    if (s) {
        write_stanza(s, q);
        return 0;
    }
    s = s2s_out_get(e, from_domain, to_domain, condition);
    if (s == NULL) {
        q->ipc_id = 0; /* the caller acknowledges with *condition */
        s2s_queued_done(e, q, NULL, NULL);
        e->counters.bounced++;
        edge_metrics_bounce(e, *condition);
        return -1;
    }
    if (s->state == S2S_ST_ESTABLISHED && TAILQ_EMPTY(&s->queue) && s2s_sm_may_send(s)) {
        write_stanza(s, q);
        return 0;
    }
    if (s->n_queue >= e->ec->local.max_queue) {
        *condition = "resource-constraint";
        q->ipc_id = 0;
        s2s_queued_done(e, q, NULL, NULL);
        e->counters.bounced++;
        edge_metrics_bounce(e, *condition);
        return -1;
    }
    TAILQ_INSERT_TAIL(&s->queue, q, link);
    s->n_queue++;
    return 0;
}

int s2s_out_verify(struct edge *e, uint64_t in_serial, const char *local, const char *remote,
                   const char *id, const char *key, const unsigned char *in_cert)
{
    const char *cond = NULL;
    struct s2s_stream *s = s2s_out_get(e, local, remote, &cond);
    if (s == NULL)
        return -1;
    struct s2s_verify_req *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return -1;
    r->in_serial = in_serial;
    r->local = strdup(local);
    r->remote = strdup(remote);
    r->id = strdup(id);
    r->key = strdup(key);
    if (!r->local || !r->remote || !r->id || !r->key) {
        free(r->local);
        free(r->remote);
        free(r->id);
        free(r->key);
        free(r);
        return -1;
    }
    if (in_cert != NULL) {
        r->has_cert = true;
        memcpy(r->cert, in_cert, sizeof(r->cert));
    }
    TAILQ_INSERT_TAIL(&s->verifies, r, link);
    if (s->tls)
        s2s_dialback_out_same_cert(s);
    if (s->state == S2S_ST_DIALBACK || s->state == S2S_ST_ESTABLISHED)
        s2s_dialback_out_send_verifies(s);
    return 0;
}

/* ---- connecting ------------------------------------------------------- */

static void reset_attempt(struct s2s_stream *s)
{
    if (s->bev) {
        bufferevent_free(s->bev);
        s->bev = NULL;
    }
    s->ssl = NULL;
    s->tls = false;
    s->direct_tls = false;
    s->header_sent = false;
    s->start_tls = false;
    s->restart = false;
    s->cert_ok = false;
    s->sasl_done = false;
    s->hs_reason = NULL; /* a new attempt: only the last one's failure counts */
    s->id[0] = '\0';
    s->feat_starttls = s->feat_external = s->feat_dialback_errors = s->feat_bidi = false;
    s->feat_sm = false;
    for (size_t i = 0; i < s->n_pairs; i++) {
        free(s->pairs[i].local);
        free(s->pairs[i].remote);
    }
    s->n_pairs = 0;
    struct s2s_verify_req *r;
    TAILQ_FOREACH(r, &s->verifies, link)
    r->sent = false;
    xml_stream_reset(s->xml);
}

static bool try_next_endpoint(struct s2s_stream *s)
{
    struct edge *e = s->edge;
    const struct conf_partner *p = s2s_stream_partner(s);
    if (p == NULL)
        return false;
    struct s2s_policy pol = s2s_policy_of(p);
    while (s->next_ep < s->n_eps) {
        struct s2s_endpoint_copy *ep = &s->eps[s->next_ep++];
        reset_attempt(s);
        struct bufferevent *bev;
        if (ep->direct_tls) {
            /* XEP-0368: only where TLS is allowed at all. */
            if (!s2s_policy_tls_allowed(&pol) || e->ec->tls == NULL)
                continue;
            struct ssl_st *ssl = tls_ssl_new_client(e->ec->tls, s->local, s->remote, true);
            bev = ssl ? bufferevent_openssl_socket_new(e->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
                                                       BEV_OPT_CLOSE_ON_FREE |
                                                           BEV_OPT_DEFER_CALLBACKS)
                      : NULL;
            if (bev == NULL)
                continue;
            bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
            s->ssl = ssl;
            s->direct_tls = true;
            s->state = S2S_ST_TLS;
        } else {
            bev = bufferevent_socket_new(e->base, -1,
                                         BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
            if (bev == NULL)
                continue;
            s->state = S2S_ST_CONNECTING;
        }
        s2s_stream_attach(s, bev);
        char addr[INET6_ADDRSTRLEN] = "?";
        unsigned port = 0;
        if (ep->addr.ss_family == AF_INET) {
            const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)&ep->addr;
            inet_ntop(AF_INET, &in->sin_addr, addr, sizeof(addr));
            port = ntohs(in->sin_port);
            snprintf(s->peer, sizeof(s->peer), "%s:%u", addr, port);
        } else {
            const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)&ep->addr;
            inet_ntop(AF_INET6, &in6->sin6_addr, addr, sizeof(addr));
            port = ntohs(in6->sin6_port);
            snprintf(s->peer, sizeof(s->peer), "[%s]:%u", addr, port);
        }
        if (bufferevent_socket_connect(bev, (struct sockaddr *)&ep->addr, (int)ep->addrlen) != 0) {
            s2s_log(s, "connect", "target=%s outcome=failed", ep->host);
            continue;
        }
        s->t_connect = s2s_now() + e->ec->local.connect_timeout;
        s2s_log(s, "connect", "target=%s direct_tls=%s", ep->host, ep->direct_tls ? "yes" : "no");
        s2s_stream_timer_update(s);
        return true;
    }
    if (s->bev) {
        bufferevent_free(s->bev);
        s->bev = NULL;
    }
    return false;
}

static bool out_transport_failed(struct s2s_stream *s, const char *reason)
{
    s2s_log(s, "connect", "outcome=failed reason=\"%s\"", reason);
    /* TCP failed, unless the TLS layer already said why. */
    const char *why = s->hs_reason ? s->hs_reason : "connect";
    /* RFC 6120 section 3.2.1 step 7: next target, while nothing of the
     * stream was negotiated with this one. */
    if (s->state == S2S_ST_CONNECTING || s->state == S2S_ST_TLS || s->state == S2S_ST_HEADER) {
        if (try_next_endpoint(s))
            return true;
    }
    s2s_stream_hs_reason(s, why);
    s2s_out_fail(s, s->saw_timeout ? "remote-server-timeout" : "remote-server-not-found", reason);
    return true; /* freed from the loop */
}

static void out_connected(struct s2s_stream *s)
{
    s2s_stream_send_header(s, s->local, s->remote, NULL);
    s2s_stream_set_state(s, S2S_ST_HEADER);
}

static void out_tls_done(struct s2s_stream *s)
{
    const struct x509_st *cert = tls_peer_cert(s->ssl);
    /* RFC 6120 section 13.7.2 / RFC 7590 section 3.4: the receiving server's
     * certificate must name the target domain. */
    s->cert_ok =
        s->verify == TLS_VERIFY_OK && cert && s2s_cert_match(cert, s->remote) != S2S_CERT_NO_MATCH;
    s2s_log(s, "tls-peer", "cert=%s", s->cert_ok ? "ok" : "unverified");
    s2s_dialback_out_same_cert(s);
    s2s_stream_send_header(s, s->local, s->remote, NULL);
    s2s_stream_set_state(s, S2S_ST_HEADER);
}

/* ---- negotiation ------------------------------------------------------ */

static int choose_method(struct s2s_stream *s)
{
    const struct conf_partner *p = s2s_stream_partner(s);
    if (p == NULL) {
        s2s_out_fail(s, "remote-server-not-found", "partner removed");
        return -1;
    }
    struct s2s_policy pol = s2s_policy_of(p);
    if (s2s_policy_out_starttls(&pol, s->tls, s->feat_starttls)) {
        if (s->edge->ec->tls == NULL) {
            s2s_stream_hs_reason(s, "tls");
            s2s_out_fail(s, "remote-server-not-found", "TLS is not configured");
            return -1;
        }
        /* RFC 7590 section 3.1: attempted even when not advertised. */
        s2s_stream_printf(s, "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
        s2s_stream_set_state(s, S2S_ST_STARTTLS);
        return 0;
    }
    enum s2s_auth m = s2s_policy_out_method(&pol, s->tls, s->cert_ok, s->feat_external);
    s2s_log(s, "negotiate", "row=%d tls=%s method=%s", s2s_policy_row(&pol),
            s->tls ? tls_version(s->ssl) : "none",
            m == S2S_AUTH_SASL_EXTERNAL ? "sasl-external"
            : m == S2S_AUTH_DIALBACK    ? "dialback"
                                        : "none");
    if (m == S2S_AUTH_SASL_EXTERNAL) {
        char resp[1024];
        if (s2s_sasl_client_external(s->local, s->remote, resp, sizeof(resp)) != 0) {
            s2s_stream_hs_reason(s, "sasl");
            s2s_out_fail(s, "remote-server-not-found", "SASL client failed");
            return -1;
        }
        s2s_stream_printf(
            s, "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>%s</auth>",
            resp);
        /* Nothing more until the outcome: the peer restarts its parser
         * after <success/> (RFC 6120 section 6.4.6); verify requests wait. */
        s2s_stream_set_state(s, S2S_ST_SASL);
        return 0;
    }
    if (m == S2S_AUTH_DIALBACK)
        return s2s_dialback_out_start(s);
    /* No method left: for want of a certificate that verifies, or because
     * the partner's row forbids what is possible. */
    s2s_stream_hs_reason(s, s->tls && !s->cert_ok ? "certificate" : "policy");
    s2s_out_fail(s, "remote-server-not-found",
                 "the partner's policy leaves no authentication method on this stream");
    return -1;
}

static int out_header(struct s2s_stream *s, const struct xml_stream_header *h)
{
    if (h->default_ns == NULL || strcmp(h->default_ns, STANZA_NS_SERVER) != 0) {
        s2s_out_fail(s, "remote-server-not-found", "peer's content namespace is not jabber:server");
        return -1;
    }
    if (h->id == NULL || strlen(h->id) >= sizeof(s->id) || strpbrk(h->id, " '\"<>&")) {
        s2s_out_fail(s, "remote-server-not-found", "peer sent no usable stream id");
        return -1;
    }
    memcpy(s->id, h->id, strlen(h->id) + 1);
    s2s_log(s, "header", "id=%s version=%s", s->id, h->version ? h->version : "none");
    if (h->version == NULL || h->version[0] < '1') {
        /* Pre-1.0 peer: no features will come (RFC 6120 section 4.7.5). */
        s->state = S2S_ST_FEATURES;
        return choose_method(s);
    }
    s2s_stream_set_state(s, S2S_ST_FEATURES);
    return 0;
}

static int out_features(struct s2s_stream *s, struct stanza *el)
{
    s->feat_starttls = stanza_child(el, STANZA_NS_TLS, "starttls") != NULL;
    s->feat_external = false;
    struct stanza *mechs = stanza_child(el, STANZA_NS_SASL, "mechanisms");
    for (struct stanza *m = mechs ? stanza_first_child(mechs) : NULL; m;
         m = stanza_next_sibling(m)) {
        const char *t = stanza_is(m, STANZA_NS_SASL, "mechanism") ? stanza_text(m) : NULL;
        if (t && !strcmp(t, "EXTERNAL"))
            s->feat_external = true;
    }
    struct stanza *db = stanza_child(el, NS_FEAT_DIALBACK, "dialback");
    s->feat_dialback_errors = db && stanza_child(db, NS_FEAT_DIALBACK, "errors");
    s->feat_bidi = stanza_child(el, NS_FEAT_BIDI, "bidi") != NULL;
    s->feat_sm = stanza_child(el, S2S_NS_SM, "sm") != NULL;
    if (s->sasl_done) {
        /* RFC 6120 section 6.4.6: the restarted stream is authenticated. */
        s2s_stream_established(s);
        s2s_dialback_out_send_verifies(s);
        s2s_out_flush(s);
        return 0;
    }
    return choose_method(s);
}

static int out_element(struct s2s_stream *s, enum s2s_elem kind, struct stanza *el)
{
    switch (kind) {
    case S2S_EL_FEATURES:
        return out_features(s, el);
    case S2S_EL_PROCEED:
        s->start_tls = true;
        return -1;
    case S2S_EL_TLS_FAILURE:
        s2s_stream_hs_reason(s, "tls");
        s2s_out_fail(s, "remote-server-not-found", "peer refused STARTTLS");
        return -1;
    case S2S_EL_SASL_SUCCESS: {
        s->sasl_done = true;
        struct s2s_pair *p = s2s_pair_add(s, s->local, s->remote);
        if (p) {
            p->state = S2S_PAIR_VALID;
            p->auth = S2S_AUTH_SASL_EXTERNAL;
        }
        s2s_log(s, "auth", "method=sasl-external outcome=success tls=%s cipher=%s",
                tls_version(s->ssl), tls_cipher(s->ssl));
        s->state = S2S_ST_HEADER;
        s2s_stream_want_restart(s);
        s2s_stream_send_header(s, s->local, s->remote, NULL);
        return -1;
    }
    case S2S_EL_SASL_FAILURE:
    case S2S_EL_SASL_OTHER: {
        const struct conf_partner *p = s2s_stream_partner(s);
        struct s2s_policy pol = p ? s2s_policy_of(p) : (struct s2s_policy){0, 0, false};
        s2s_log(s, "auth", "method=sasl-external outcome=failure");
        if (p && s2s_policy_dialback_allowed(&pol, s->tls))
            return s2s_dialback_out_start(s);
        s2s_stream_hs_reason(s, "sasl");
        s2s_out_fail(s, "remote-server-not-found", "SASL EXTERNAL refused");
        return -1;
    }
    case S2S_EL_DB_RESULT:
        return s2s_dialback_out_result(s, el);
    case S2S_EL_DB_VERIFY:
        return s2s_dialback_out_verify(s, el);
    case S2S_EL_SM:
        return s2s_sm_element(s, el);
    default:
        s2s_stream_close(s, s2s_refusal(s->dir, s->state, kind), "unexpected element");
        return -1;
    }
}

static void out_cleanup(struct s2s_stream *s, const char *reason)
{
    if (s->lookup) {
        s2s_lookup_cancel(s->lookup);
        s->lookup = NULL;
    }
    /* XEP-0198 without resumption: what the peer did not acknowledge goes
     * again on a fresh stream; bounced only when none can be had. */
    s2s_sm_out_resend(s);
    struct s2s_queued *q;
    while ((q = TAILQ_FIRST(&s->sm.unacked)) != NULL) {
        TAILQ_REMOVE(&s->sm.unacked, q, link);
        s->sm.n_unacked--;
        s2s_queued_done(s->edge, q, "remote-server-timeout", reason);
    }
    fail_queue(s, s->authenticated ? "remote-server-timeout" : "remote-server-not-found", reason);
    fail_verifies(s, "remote-connection-failed");
}

const struct s2s_ops s2s_out_ops = {
    .header = out_header,
    .element = out_element,
    .connected = out_connected,
    .tls_done = out_tls_done,
    .transport_failed = out_transport_failed,
    .cleanup = out_cleanup,
};
