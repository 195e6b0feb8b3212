/*
 * s2s_stream.c - the transport, parser, timer and state machine shared by
 * inbound and outbound streams. Direction-specific decisions are made in
 * s2s_in.c and s2s_out.c through struct s2s_ops.
 */
#include "s2s_stream_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "edge_conf.h"
#include "edge_ipc.h"
#include "edge_metrics.h"
#include "jid.h"
#include "log.h"
#include "metrics.h"
#include "s2s_cert.h"
#include "stanza.h"

#define NS_BIDI "urn:xmpp:bidi"

/* ---- the accept table ------------------------------------------------ */

#define B(e) (1u << (e))

/* Which first-level elements each state takes, per direction. A stream
 * error is the answer to anything else (s2s_refusal()). */
static const uint32_t accept_table[2][S2S_ST_COUNT] = {
    [S2S_IN] =
        {
            [S2S_ST_NEGOTIATING] = B(S2S_EL_STARTTLS) | B(S2S_EL_SASL_AUTH) | B(S2S_EL_SASL_OTHER) |
                                   B(S2S_EL_DB_RESULT) | B(S2S_EL_DB_VERIFY) | B(S2S_EL_BIDI) |
                                   B(S2S_EL_SM) | B(S2S_EL_STREAM_ERROR),
            [S2S_ST_ESTABLISHED] = B(S2S_EL_STANZA) | B(S2S_EL_DB_RESULT) | B(S2S_EL_DB_VERIFY) |
                                   B(S2S_EL_SM) | B(S2S_EL_STREAM_ERROR),
        },
    [S2S_OUT] =
        {
            [S2S_ST_FEATURES] = B(S2S_EL_FEATURES) | B(S2S_EL_STREAM_ERROR),
            [S2S_ST_STARTTLS] = B(S2S_EL_PROCEED) | B(S2S_EL_TLS_FAILURE) | B(S2S_EL_STREAM_ERROR),
            [S2S_ST_SASL] = B(S2S_EL_SASL_SUCCESS) | B(S2S_EL_SASL_FAILURE) | B(S2S_EL_SASL_OTHER) |
                            B(S2S_EL_DB_VERIFY) | B(S2S_EL_STREAM_ERROR),
            [S2S_ST_DIALBACK] = B(S2S_EL_DB_RESULT) | B(S2S_EL_DB_VERIFY) | B(S2S_EL_STREAM_ERROR),
            [S2S_ST_ESTABLISHED] =
                B(S2S_EL_DB_RESULT) | B(S2S_EL_DB_VERIFY) | B(S2S_EL_SM) | B(S2S_EL_STREAM_ERROR),
        },
};

bool s2s_state_accepts(enum s2s_dir d, enum s2s_state st, enum s2s_elem e)
{
    if ((unsigned)d > S2S_OUT || st >= S2S_ST_COUNT || e >= S2S_EL_COUNT)
        return false;
    return (accept_table[d][st] & B(e)) != 0;
}

enum s2s_stream_error s2s_refusal(enum s2s_dir d, enum s2s_state st, enum s2s_elem e)
{
    (void)d;
    if (e == S2S_EL_OTHER)
        return S2S_ERR_UNSUPPORTED_STANZA_TYPE;
    if (e == S2S_EL_STANZA && st == S2S_ST_ESTABLISHED)
        return S2S_ERR_UNSUPPORTED_STANZA_TYPE; /* outbound without bidi */
    /* RFC 6120 section 4.3.4: stanzas before negotiation completes; other
     * negotiation elements out of order are "not authorized to perform an
     * action related to stream negotiation" (section 4.9.3.12). */
    return S2S_ERR_NOT_AUTHORIZED;
}

static const char *const state_names[S2S_ST_COUNT] = {
    "connecting", "tls",  "header",   "features",    "negotiating",
    "starttls",   "sasl", "dialback", "established", "closing",
};

const char *s2s_state_name(enum s2s_state st)
{
    return st < S2S_ST_COUNT ? state_names[st] : "unknown";
}

static const char *const elem_names[S2S_EL_COUNT] = {
    "features",  "stream-error", "starttls", "proceed",    "tls-failure",
    "auth",      "success",      "failure",  "sasl-other", "db:result",
    "db:verify", "bidi",         "stanza",   "sm",         "other",
};

const char *s2s_elem_name(enum s2s_elem e)
{
    return e < S2S_EL_COUNT ? elem_names[e] : "unknown";
}

enum s2s_elem s2s_elem_classify(const struct stanza *el)
{
    const char *ns = stanza_ns(el), *n = stanza_name(el);
    if (strcmp(ns, STANZA_NS_SERVER) == 0) {
        if (!strcmp(n, "message") || !strcmp(n, "presence") || !strcmp(n, "iq"))
            return S2S_EL_STANZA;
        return S2S_EL_OTHER;
    }
    if (strcmp(ns, STANZA_NS_DIALBACK) == 0) {
        if (!strcmp(n, "result"))
            return S2S_EL_DB_RESULT;
        if (!strcmp(n, "verify"))
            return S2S_EL_DB_VERIFY;
        return S2S_EL_OTHER;
    }
    if (strcmp(ns, STANZA_NS_STREAMS) == 0) {
        if (!strcmp(n, "features"))
            return S2S_EL_FEATURES;
        if (!strcmp(n, "error"))
            return S2S_EL_STREAM_ERROR;
        return S2S_EL_OTHER;
    }
    if (strcmp(ns, STANZA_NS_TLS) == 0) {
        if (!strcmp(n, "starttls"))
            return S2S_EL_STARTTLS;
        if (!strcmp(n, "proceed"))
            return S2S_EL_PROCEED;
        if (!strcmp(n, "failure"))
            return S2S_EL_TLS_FAILURE;
        return S2S_EL_OTHER;
    }
    if (strcmp(ns, STANZA_NS_SASL) == 0) {
        if (!strcmp(n, "auth"))
            return S2S_EL_SASL_AUTH;
        if (!strcmp(n, "success"))
            return S2S_EL_SASL_SUCCESS;
        if (!strcmp(n, "failure"))
            return S2S_EL_SASL_FAILURE;
        return S2S_EL_SASL_OTHER;
    }
    if (strcmp(ns, NS_BIDI) == 0 && !strcmp(n, "bidi"))
        return S2S_EL_BIDI;
    if (strcmp(ns, S2S_NS_SM) == 0)
        return S2S_EL_SM;
    return S2S_EL_OTHER;
}

/* ---- helpers ---------------------------------------------------------- */

time_t s2s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return ts.tv_sec;
}

void s2s_log(const struct s2s_stream *s, const char *event, const char *fmt, ...)
{
    char extra[768] = "";
    if (fmt && *fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(extra, sizeof(extra), fmt, ap);
        va_end(ap);
    }
    log_info("stream=%llu dir=%s peer=%s local=%s remote=%s event=%s%s%s",
             (unsigned long long)s->serial, s->dir == S2S_IN ? "in" : "out",
             s->peer[0] ? s->peer : "-", s->local ? s->local : "-", s->remote ? s->remote : "-",
             event, extra[0] ? " " : "", extra);
}

/* Bytes of an address already in its one normalised form (fast path of
 * s2s_jid_domain): JC_LDH lower-case letters, digits and '-' (domain
 * labels), JC_LOCAL those and '.', '_', '+' (a plain localpart). */
enum { JC_LOCAL = 1, JC_LDH = 2 };
static const unsigned char jid_class[256] = {
    ['a' ... 'z'] = JC_LOCAL | JC_LDH,
    ['0' ... '9'] = JC_LOCAL | JC_LDH,
    ['-'] = JC_LOCAL | JC_LDH,
    ['.'] = JC_LOCAL,
    ['_'] = JC_LOCAL,
    ['+'] = JC_LOCAL,
};

/* A domain that is already in the one normalised form: lower-case LDH
 * labels of 1..63 octets, no A-label ("xn--", those become U-labels), at
 * most 253 octets. Anything else takes the full path (jid.h). */
static bool domain_is_plain(const char *d, size_t n)
{
    if (n == 0 || n > 253)
        return false;
    const unsigned char *u = (const unsigned char *)d;
    size_t i = 0;
    for (;;) { /* one label per turn */
        size_t start = i;
        while (i < n && (jid_class[u[i]] & JC_LDH))
            i++;
        size_t label = i - start;
        if (label == 0 || label > 63 || u[start] == '-' || u[i - 1] == '-' ||
            (label >= 4 && u[start] == 'x' && u[start + 1] == 'n' && u[start + 2] == '-' &&
             u[start + 3] == '-'))
            return false;
        if (i == n)
            return true;
        if (u[i] != '.' || i + 1 == n) /* another byte, or a trailing dot */
            return false;
        i++;
    }
}

static bool local_is_plain(const char *l, size_t n)
{
    if (n == 0 || n > 1023)
        return false;
    const unsigned char *u = (const unsigned char *)l;
    for (size_t i = 0; i < n; i++)
        if (!(jid_class[u[i]] & JC_LOCAL))
            return false;
    return true;
}

int s2s_jid_domain(const char *jidstr, char *out, size_t outlen)
{
    if (jidstr == NULL || *jidstr == '\0')
        return -1;
    /* Fast path for the common all-ASCII, already normalised address; the
     * resourcepart is opaque (RFC 7622 section 3.4) and the parser has
     * already checked it is UTF-8 of XML characters. */
    size_t len = strlen(jidstr);
    const char *slash = memchr(jidstr, '/', len);
    size_t bare = slash ? (size_t)(slash - jidstr) : len;
    const char *at = memchr(jidstr, '@', bare);
    const char *d = at ? at + 1 : jidstr;
    size_t dl = (size_t)(jidstr + bare - d);
    if ((at == NULL || local_is_plain(jidstr, (size_t)(at - jidstr))) && domain_is_plain(d, dl) &&
        (slash == NULL || (slash[1] != '\0' && len - bare - 1 <= 1023))) {
        if (dl + 1 > outlen)
            return -1;
        memcpy(out, d, dl);
        out[dl] = '\0';
        return 0;
    }
    struct jid *j = jid_new(jidstr, NULL);
    if (j == NULL)
        return -1;
    int rc = 0;
    const char *nd = jid_domain(j);
    if (strlen(nd) + 1 > outlen)
        rc = -1;
    else
        memcpy(out, nd, strlen(nd) + 1);
    jid_free(j);
    return rc;
}

const struct conf_partner *s2s_stream_partner(const struct s2s_stream *s)
{
    if (s->remote == NULL)
        return NULL;
    return edge_conf_partner(s->edge->ec, s->remote);
}

/* ---- pairs ------------------------------------------------------------ */

struct s2s_pair *s2s_pair_find(struct s2s_stream *s, const char *local, const char *remote)
{
    for (size_t i = 0; i < s->n_pairs; i++)
        if (!strcmp(s->pairs[i].local, local) && !strcmp(s->pairs[i].remote, remote))
            return &s->pairs[i];
    return NULL;
}

struct s2s_pair *s2s_pair_add(struct s2s_stream *s, const char *local, const char *remote)
{
    struct s2s_pair *p = s2s_pair_find(s, local, remote);
    if (p)
        return p;
    struct s2s_pair *v = realloc(s->pairs, (s->n_pairs + 1) * sizeof(*v));
    if (v == NULL)
        return NULL;
    s->pairs = v;
    p = &v[s->n_pairs];
    p->local = strdup(local);
    p->remote = strdup(remote);
    if (!p->local || !p->remote) {
        free(p->local);
        free(p->remote);
        return NULL;
    }
    p->state = S2S_PAIR_PENDING;
    p->auth = S2S_AUTH_NONE;
    s->n_pairs++;
    return p;
}

bool s2s_pair_valid(struct s2s_stream *s, const char *local, const char *remote)
{
    if (s->sasl_done && s->remote && !strcmp(remote, s->remote))
        return edge_conf_hosted(s->edge->ec, local);
    struct s2s_pair *p = s2s_pair_find(s, local, remote);
    return p && p->state == S2S_PAIR_VALID;
}

bool s2s_stream_cert_ok(struct s2s_stream *s, const char *domain)
{
    if (!s->tls || s->verify != TLS_VERIFY_OK)
        return false;
    const struct x509_st *cert = tls_peer_cert(s->ssl);
    return cert && s2s_cert_match(cert, domain) != S2S_CERT_NO_MATCH;
}

/* ---- output ----------------------------------------------------------- */

static void note_output(struct s2s_stream *s)
{
    s->last_out = s2s_now();
    if (s->bev == NULL)
        return;
    size_t pending = evbuffer_get_length(bufferevent_get_output(s->bev));
    if (pending > s->edge->ec->local.max_output_bytes && s->state != S2S_ST_CLOSING) {
        /* A peer that does not read cannot make us buffer without bound. */
        s2s_log(s, "output-limit", "pending=%zu", pending);
        bufferevent_disable(s->bev, EV_READ);
        s->state = S2S_ST_CLOSING;
        s2s_stream_free_later(s, "output limit");
    }
}

void s2s_stream_write(struct s2s_stream *s, const char *buf, size_t len)
{
    if (s->bev == NULL)
        return;
    bufferevent_write(s->bev, buf, len);
    note_output(s);
}

void s2s_stream_printf(struct s2s_stream *s, const char *fmt, ...)
{
    if (s->bev == NULL)
        return;
    va_list ap;
    va_start(ap, fmt);
    evbuffer_add_vprintf(bufferevent_get_output(s->bev), fmt, ap);
    va_end(ap);
    note_output(s);
}

void s2s_stream_send(struct s2s_stream *s, const struct stanza *el)
{
    if (s->bev == NULL)
        return;
    struct evbuffer *out = bufferevent_get_output(s->bev);
    struct evbuffer_iovec v;
    size_t cap = 2048;
    for (int attempt = 0; attempt < 2; attempt++) {
        if (evbuffer_reserve_space(out, (ev_ssize_t)cap, &v, 1) < 1)
            return;
        size_t n = stanza_serialize_stream(el, STANZA_NS_SERVER, v.iov_base, v.iov_len);
        if (n < v.iov_len) {
            v.iov_len = n;
            evbuffer_commit_space(out, &v, 1);
            note_output(s);
            return;
        }
        cap = n + 1;
    }
}

/* Domains in headers are normalised JID domainparts and our own ids are
 * hex, so none can hold a quote; this keeps it so. */
static const char *attr_safe(const char *v)
{
    return v && !strpbrk(v, "'\"<>&") ? v : "";
}

/* The same for character data: our own static texts, never peer bytes;
 * quotes are fine in text, markup is not. */
static const char *text_safe(const char *v)
{
    return v && !strpbrk(v, "<>&") ? v : "";
}

void s2s_stream_send_header(struct s2s_stream *s, const char *from, const char *to, const char *id)
{
    s2s_stream_printf(
        s,
        "<?xml version='1.0'?><stream:stream xmlns='jabber:server' "
        "xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback'"
        "%s%s%s%s%s%s%s%s%s version='1.0'>",
        from ? " from='" : "", from ? attr_safe(from) : "", from ? "'" : "", to ? " to='" : "",
        to ? attr_safe(to) : "", to ? "'" : "", id ? " id='" : "", id ? attr_safe(id) : "",
        id ? "'" : "");
    s->header_sent = true;
}

int s2s_stream_new_id(struct s2s_stream *s)
{
    uint8_t r[16];
    /* RFC 6120 section 4.7.3 and 13.6: unpredictable, fresh per stream
     * (re)start; it keys dialback (XEP-0185). */
    if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
        return -1;
    for (size_t i = 0; i < sizeof(r); i++)
        snprintf(s->id + 2 * i, 3, "%02x", r[i]);
    return 0;
}

/* Bytes not yet handed to the kernel, the TLS filter's underlying
 * bufferevent included (a filter's own buffer empties into it at once). */
static size_t pending_out(struct s2s_stream *s)
{
    if (s->bev == NULL)
        return 0;
    size_t n = evbuffer_get_length(bufferevent_get_output(s->bev));
    struct bufferevent *u = bufferevent_get_underlying(s->bev);
    if (u)
        n += evbuffer_get_length(bufferevent_get_output(u));
    return n;
}

void s2s_stream_close(struct s2s_stream *s, enum s2s_stream_error err, const char *text)
{
    if (s->state == S2S_ST_CLOSING)
        return;
    if (s->bev && s->state != S2S_ST_CONNECTING && s->state != S2S_ST_TLS) {
        if (!s->header_sent && s->dir == S2S_IN) {
            /* RFC 6120 section 4.9.1.1: open the stream before the error. */
            if (s->id[0] == '\0')
                s2s_stream_new_id(s);
            s2s_stream_send_header(s, s->local, s->remote, s->id);
        }
        if (err != S2S_ERR_NONE) {
            /* RFC 6120 section 4.9.2: <text/> is OPTIONAL; never send an
             * empty one. */
            const char *t = text_safe(text);
            s2s_stream_printf(
                s,
                "<stream:error><%s xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>%s%s%s"
                "</stream:error>",
                s2s_stream_error_name(err),
                *t ? "<text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>" : "", t,
                *t ? "</text>" : "");
            s->edge->counters.stream_errors++;
            edge_metrics_stream_error(s->edge, s2s_stream_error_name(err), true);
        }
        if (s->header_sent)
            s2s_stream_write(s, "</stream:stream>", 16);
    }
    if (err == S2S_ERR_CONNECTION_TIMEOUT)
        s2s_stream_hs_reason(s, "timeout");
    else if (err != S2S_ERR_NONE && err != S2S_ERR_SYSTEM_SHUTDOWN)
        s2s_stream_hs_reason(s, "policy"); /* refused by our checks */
    s2s_log(s, "stream-error", "condition=%s state=%s reason=\"%s\"",
            err == S2S_ERR_NONE ? "none" : s2s_stream_error_name(err), s2s_state_name(s->state),
            text ? text : "");
    s->state = S2S_ST_CLOSING;
    s->t_close = s2s_now() + s->edge->ec->local.close_timeout;
    s->free_reason = err == S2S_ERR_NONE ? "closed" : s2s_stream_error_name(err);
    if (s->bev == NULL)
        s2s_stream_free_later(s, s->free_reason);
    else
        s2s_stream_timer_update(s);
}

/* ---- timers ----------------------------------------------------------- */

static time_t min_deadline(time_t a, time_t b)
{
    if (a == 0)
        return b;
    if (b == 0)
        return a;
    return a < b ? a : b;
}

static bool keepalive_on(const struct s2s_stream *s)
{
    const struct conf_partner *p = s2s_stream_partner(s);
    return p && p->keepalive && s->edge->ec->conf->settings.keepalive_interval > 0;
}

void s2s_stream_timer_update(struct s2s_stream *s)
{
    const struct conf_settings *g = &s->edge->ec->conf->settings;
    time_t next = 0;
    if (s->state == S2S_ST_CLOSING) {
        /* Poll the flush every 100 ms until t_close. */
        struct timeval poll = {0, 100000};
        evtimer_add(s->ev_timer, &poll);
        return;
    } else {
        next = min_deadline(next, s->t_establish);
        next = min_deadline(next, s->t_connect);
        next = min_deadline(next, s->t_ping);
        if (s->state == S2S_ST_ESTABLISHED) {
            if (g->inactivity_timeout && s->t_ping == 0)
                next = min_deadline(next, s->last_in + g->inactivity_timeout);
            if (keepalive_on(s))
                next = min_deadline(next, s->last_out + g->keepalive_interval);
        }
    }
    if (next == 0) {
        evtimer_del(s->ev_timer);
        return;
    }
    time_t now = s2s_now();
    struct timeval tv = {next > now ? next - now : 0, 0};
    evtimer_add(s->ev_timer, &tv);
}

/* A lingering close (nginx's habit): once everything we wrote is out, half
 * close and read until the peer closes or t_close passes, so that bytes the
 * peer is still sending do not turn our close into a reset that destroys
 * the stream error before the peer reads it. */
static void linger(struct s2s_stream *s)
{
    if (s->shut_wr || s->bev == NULL || pending_out(s) != 0)
        return;
    evutil_socket_t fd = bufferevent_getfd(s->bev);
    if (fd >= 0)
        shutdown(fd, SHUT_WR);
    s->shut_wr = true;
}

static void send_ping(struct s2s_stream *s)
{
    /* XEP-0199 section 4.2: server-to-server ping probes a silent peer. */
    s->ping_seq++;
    s2s_stream_printf(
        s,
        "<iq type='get' from='%s' to='%s' id='xfed-ping-%llu-%llu'><ping xmlns='urn:xmpp:ping'/>"
        "</iq>",
        attr_safe(s->local), attr_safe(s->remote), (unsigned long long)s->serial,
        (unsigned long long)s->ping_seq);
    s->t_ping = s2s_now() + s->edge->ec->local.ping_timeout;
    s2s_log(s, "ping", "id=xfed-ping-%llu-%llu", (unsigned long long)s->serial,
            (unsigned long long)s->ping_seq);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct s2s_stream *s = arg;
    const struct conf_settings *g = &s->edge->ec->conf->settings;
    time_t now = s2s_now();
    (void)fd;
    (void)what;

    if (s->state == S2S_ST_CLOSING) {
        if (now >= s->t_close || s->bev == NULL)
            s2s_stream_free(s, s->free_reason ? s->free_reason : "close timeout");
        else {
            linger(s);
            s2s_stream_timer_update(s);
        }
        return;
    }
    if (s->t_connect && now >= s->t_connect) {
        s->t_connect = 0;
        s->saw_timeout = true;
        if (s->ops->transport_failed && s->ops->transport_failed(s, "connect timeout"))
            return;
        s2s_stream_free(s, "connect timeout");
        return;
    }
    if (s->t_establish && now >= s->t_establish) {
        s->t_establish = 0;
        s2s_stream_hs_reason(s, "timeout");
        if (s->dir == S2S_OUT)
            s2s_out_fail(s, "remote-server-timeout", "establishment timeout");
        else
            s2s_stream_close(s, S2S_ERR_CONNECTION_TIMEOUT, "stream establishment timeout");
        return;
    }
    if (s->t_ping && now >= s->t_ping) {
        s->t_ping = 0;
        s2s_stream_close(s, S2S_ERR_CONNECTION_TIMEOUT, "no answer to ping");
        return;
    }
    if (s->state == S2S_ST_ESTABLISHED) {
        if (g->inactivity_timeout && s->t_ping == 0 && now >= s->last_in + g->inactivity_timeout) {
            /* We may only send on outbound streams or bidi ones. */
            if (s->dir == S2S_OUT || s->bidi)
                send_ping(s);
            else {
                s2s_stream_close(s, S2S_ERR_CONNECTION_TIMEOUT, "inactivity timeout");
                return;
            }
        }
        if (keepalive_on(s) && now >= s->last_out + g->keepalive_interval) {
            /* RFC 6120 section 4.6.1: whitespace keep-alive. */
            s2s_stream_write(s, " ", 1);
        }
    }
    s2s_stream_timer_update(s);
}

void s2s_stream_set_state(struct s2s_stream *s, enum s2s_state st)
{
    if (s->state == S2S_ST_CLOSING)
        return;
    s->state = st;
    s2s_stream_timer_update(s);
}

void s2s_stream_established(struct s2s_stream *s)
{
    if (!s->authenticated && s->counted_pending) {
        s->counted_pending = false;
        s->edge->n_pending_in--;
    }
    s->authenticated = true;
    s->t_establish = 0;
    s->last_in = s->last_out = s2s_now();
    if (metric_discarded(s->m_stanzas_in)) {
        s->m_stanzas_in = edge_metrics_stanzas(s->edge, s->partner, S2S_IN);
        s->m_stanzas_out = edge_metrics_stanzas(s->edge, s->partner, S2S_OUT);
    }
    s2s_stream_set_state(s, S2S_ST_ESTABLISHED);
}

void s2s_stream_want_restart(struct s2s_stream *s)
{
    s->restart = true;
}

/* ---- parser callbacks ------------------------------------------------- */

static enum s2s_stream_error map_xml_error(enum xml_stream_error e)
{
    switch (e) {
    case XML_STREAM_BAD_FORMAT:
        return S2S_ERR_BAD_FORMAT;
    case XML_STREAM_BAD_NAMESPACE_PREFIX:
        return S2S_ERR_BAD_NAMESPACE_PREFIX;
    case XML_STREAM_INVALID_NAMESPACE:
        return S2S_ERR_INVALID_NAMESPACE;
    case XML_STREAM_NOT_WELL_FORMED:
        return S2S_ERR_NOT_WELL_FORMED;
    case XML_STREAM_POLICY_VIOLATION:
        return S2S_ERR_POLICY_VIOLATION;
    case XML_STREAM_RESOURCE_CONSTRAINT:
        return S2S_ERR_RESOURCE_CONSTRAINT;
    case XML_STREAM_RESTRICTED_XML:
        /* RFC 6120 section 11.1: no DTD, comments, PIs or entity references
         * other than the predefined ones; <restricted-xml/>. */
        return S2S_ERR_RESTRICTED_XML;
    case XML_STREAM_UNSUPPORTED_ENCODING:
        return S2S_ERR_UNSUPPORTED_ENCODING;
    case XML_STREAM_OK:
        break;
    }
    return S2S_ERR_UNDEFINED_CONDITION;
}

static int on_header(void *arg, const struct xml_stream_header *h)
{
    struct s2s_stream *s = arg;
    if (s->state != S2S_ST_HEADER) {
        s2s_stream_close(s, S2S_ERR_NOT_AUTHORIZED, "unexpected stream header");
        return -1;
    }
    return s->ops->header(s, h);
}

static int on_element(void *arg, struct stanza *el)
{
    struct s2s_stream *s = arg;
    if (s->state == S2S_ST_CLOSING)
        return -1;
    enum s2s_elem kind = s2s_elem_classify(el);
    if (kind == S2S_EL_STREAM_ERROR) {
        struct stanza *c = stanza_child(el, STANZA_NS_STREAM_ERRORS, NULL);
        s2s_log(s, "peer-stream-error", "condition=%s", c ? stanza_name(c) : "none");
        edge_metrics_stream_error(s->edge, c ? stanza_name(c) : NULL, false);
        s2s_stream_hs_reason(s, "stream_error");
    }
    if (!s2s_state_accepts(s->dir, s->state, kind)) {
        enum s2s_stream_error e = s2s_refusal(s->dir, s->state, kind);
        char why[96];
        snprintf(why, sizeof(why), "%s not accepted in state %s", s2s_elem_name(kind),
                 s2s_state_name(s->state));
        s2s_stream_close(s, e, why);
        return -1;
    }
    if (kind == S2S_EL_STREAM_ERROR) {
        s->free_reason = "peer stream error";
        if (s->dir == S2S_OUT && !s->authenticated) {
            s2s_out_fail(s, "remote-server-not-found", "peer stream error");
        } else {
            s2s_stream_close(s, S2S_ERR_NONE, "peer stream error");
        }
        return -1;
    }
    int rc = s->ops->element(s, kind, el);
    if (s->restart || s->start_tls || s->state == S2S_ST_CLOSING)
        return -1;
    return rc;
}

static int on_close(void *arg)
{
    struct s2s_stream *s = arg;
    if (s->dir == S2S_OUT && !s->authenticated)
        s2s_out_fail(s, "remote-server-not-found", "peer closed the stream");
    else
        s2s_stream_close(s, S2S_ERR_NONE, "peer closed the stream");
    return -1;
}

static void on_error(void *arg, enum xml_stream_error err, const char *condition, const char *text)
{
    struct s2s_stream *s = arg;
    (void)condition;
    if (s->dir == S2S_OUT && !s->authenticated) {
        s2s_out_fail(s, "remote-server-not-found", text);
        return;
    }
    s2s_stream_close(s, map_xml_error(err), text);
}

static const struct xml_stream_cb parser_cbs = {
    .header = on_header,
    .element = on_element,
    .close = on_close,
    .error = on_error,
};

/* ---- bufferevent callbacks -------------------------------------------- */

static void read_cb(struct bufferevent *bev, void *arg)
{
    struct s2s_stream *s = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    size_t budget = s->edge->ec->local.max_unauth_bytes;

    if (s->state == S2S_ST_CLOSING) {
        evbuffer_drain(in, evbuffer_get_length(in));
        return;
    }
    s->last_in = s2s_now();
    if (s->t_ping && s->dir == S2S_IN) {
        /* any traffic answers the probe on a bidi stream */
        s->t_ping = 0;
    }
    while (s->state != S2S_ST_CLOSING && !s->start_tls && evbuffer_get_length(in) > 0) {
        if (s->authenticated && edge_ipc_congested(s->edge->ipc)) {
            /* Backpressure: the gateways are behind; stop reading so TCP
             * slows the partner down instead of refusing its stanzas. */
            s->paused = true;
            bufferevent_disable(bev, EV_READ);
            break;
        }
        struct evbuffer_iovec v;
        if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
            break;
        size_t len = v.iov_len;
        if (!s->authenticated) {
            /* Tighter budget before authentication (Redis's and nginx's habit). */
            if (s->unauth_in + len > budget) {
                len = budget > s->unauth_in ? budget - s->unauth_in : 0;
                if (len == 0) {
                    s2s_stream_close(s, S2S_ERR_POLICY_VIOLATION,
                                     "too many bytes before authentication");
                    break;
                }
            }
            s->unauth_in += len;
        }
        ssize_t n = xml_stream_feed(s->xml, v.iov_base, len);
        if (n < 0) {
            if (s->state != S2S_ST_CLOSING)
                s2s_stream_close(s, S2S_ERR_INTERNAL_SERVER_ERROR, "parser stopped");
            break;
        }
        evbuffer_drain(in, (size_t)n);
        if (s->restart) {
            s->restart = false;
            if (xml_stream_reset(s->xml) != 0) {
                s2s_stream_close(s, S2S_ERR_RESOURCE_CONSTRAINT, "out of memory");
                break;
            }
            continue;
        }
        if ((size_t)n < len && !s->start_tls && s->state != S2S_ST_CLOSING) {
            /* a callback stopped without a reason we know: never loop */
            s2s_stream_close(s, S2S_ERR_INTERNAL_SERVER_ERROR, "parser stopped");
            break;
        }
    }
    if (s->state == S2S_ST_CLOSING) {
        evbuffer_drain(in, evbuffer_get_length(in));
        return;
    }
    if (s->start_tls) {
        /* RFC 6120 section 5.4.3.3: TLS starts right after <proceed/>; the
         * bytes still in the input buffer belong to the TLS handshake. */
        struct tls_ctx *ctx = s->edge->ec->tls;
        struct ssl_st *ssl = NULL;
        if (ctx)
            ssl = s->dir == S2S_IN ? tls_ssl_new_server(ctx, false)
                                   : tls_ssl_new_client(ctx, s->local, s->remote, false);
        if (ssl == NULL || s2s_stream_tls_start(s, ssl, s->dir == S2S_OUT) != 0) {
            s->start_tls = false;
            s2s_stream_hs_reason(s, "tls");
            if (s->dir == S2S_OUT)
                s2s_out_fail(s, "remote-server-not-found", "cannot start TLS");
            else
                s2s_stream_free_later(s, "cannot start TLS");
        }
    }
}

static void write_cb(struct bufferevent *bev, void *arg)
{
    struct s2s_stream *s = arg;
    (void)bev;
    if (s->state == S2S_ST_CLOSING)
        linger(s);
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct s2s_stream *s = arg;
    (void)bev;
    if (what & BEV_EVENT_CONNECTED) {
        s->t_connect = 0;
        if (s->state == S2S_ST_TLS) {
            s2s_stream_tls_record(s);
            s->ops->tls_done(s);
        } else if (s->state == S2S_ST_CONNECTING) {
            s->ops->connected(s);
        }
        return;
    }
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) {
        char reason[160];
        unsigned long sslerr = s->ssl ? bufferevent_get_openssl_error(s->bev) : 0;
        if (sslerr) {
            snprintf(reason, sizeof(reason), "tls error: %s", tls_error_string(sslerr));
            s2s_stream_hs_reason(s, "tls");
        } else if (what & BEV_EVENT_EOF)
            snprintf(reason, sizeof(reason), "peer closed the connection");
        else
            snprintf(reason, sizeof(reason), "socket error: %s",
                     evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
        if (s->state == S2S_ST_CLOSING) {
            s2s_stream_free(s, s->free_reason ? s->free_reason : reason);
            return;
        }
        if (!s->authenticated && s->ops->transport_failed && s->ops->transport_failed(s, reason))
            return;
        s2s_stream_free(s, reason);
    }
}

void s2s_stream_attach(struct s2s_stream *s, struct bufferevent *bev)
{
    s->bev = bev;
    bufferevent_setcb(bev, read_cb, write_cb, event_cb, s);
    bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
}

/* STARTTLS on the socket itself: when nothing waits in the plain
 * bufferevent either way (our <proceed/> or <starttls/> written out at once,
 * no byte of the handshake read yet), TLS runs on one bufferevent over the
 * fd instead of a TLS filter over the plain one, which would live as long as
 * the stream with its two buffers (memory per idle stream, issue 3). NULL
 * when that cannot be (the caller layers the filter; what was written stays
 * written, the rest flushes through the filter). */
static struct bufferevent *tls_on_socket(struct s2s_stream *s, struct ssl_st *ssl,
                                         enum bufferevent_ssl_state st)
{
    struct bufferevent *plain = s->bev;
    evutil_socket_t fd = bufferevent_getfd(plain);
    struct evbuffer *out = bufferevent_get_output(plain);

    if (fd < 0 || bufferevent_get_underlying(plain) != NULL ||
        evbuffer_get_length(bufferevent_get_input(plain)) > 0)
        return NULL;
    /* The plain bufferevent keeps the start of its output frozen outside
     * its own write callback. */
    evbuffer_unfreeze(out, 1);
    while (evbuffer_get_length(out) > 0 && evbuffer_write(out, fd) > 0)
        ;
    bool flushed = evbuffer_get_length(out) == 0;
    evbuffer_freeze(out, 1);
    if (!flushed)
        return NULL;
    struct bufferevent *b = bufferevent_openssl_socket_new(
        s->edge->base, fd, ssl, st, BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
    if (b == NULL)
        return NULL;
    /* The fd now belongs to b: the plain bufferevent goes without closing it. */
    bufferevent_setfd(plain, -1);
    bufferevent_free(plain);
    return b;
}

int s2s_stream_tls_start(struct s2s_stream *s, struct ssl_st *ssl, bool connecting)
{
    enum bufferevent_ssl_state st =
        connecting ? BUFFEREVENT_SSL_CONNECTING : BUFFEREVENT_SSL_ACCEPTING;
    struct bufferevent *f = tls_on_socket(s, ssl, st);
    if (f == NULL)
        f = bufferevent_openssl_filter_new(s->edge->base, s->bev, ssl, st,
                                           BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
    if (f == NULL)
        return -1;
    bufferevent_openssl_set_allow_dirty_shutdown(f, 1);
    s->ssl = ssl;
    s->start_tls = false;
    s->state = S2S_ST_TLS;
    s2s_stream_attach(s, f);
    if (xml_stream_reset(s->xml) != 0)
        return -1;
    s2s_stream_timer_update(s);
    return 0;
}

void s2s_stream_tls_record(struct s2s_stream *s)
{
    s->tls = true;
    s->verify = tls_peer_verify(s->ssl);
    /* The chain has been judged; the leaf is all s2s_stream_cert_ok()
     * reads from now on (memory per idle stream, issue 3). */
    tls_release_peer_chain(s->ssl);
    s2s_log(s, "tls", "tls=%s cipher=%s verify=%s direct=%s", tls_version(s->ssl),
            tls_cipher(s->ssl), tls_verify_name(s->verify), s->direct_tls ? "yes" : "no");
}

/* ---- life cycle ------------------------------------------------------- */

static void free_cb(evutil_socket_t fd, short what, void *arg)
{
    struct s2s_stream *s = arg;
    (void)fd;
    (void)what;
    s2s_stream_free(s, s->free_reason ? s->free_reason : "closed");
}

void s2s_stream_free_later(struct s2s_stream *s, const char *reason)
{
    if (s->free_reason == NULL)
        s->free_reason = reason;
    s->state = S2S_ST_CLOSING;
    event_active(s->ev_free, EV_TIMEOUT, 0);
}

struct s2s_stream *s2s_stream_new(struct edge *e, enum s2s_dir dir, const struct s2s_ops *ops)
{
    struct s2s_stream *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->edge = e;
    s->ops = ops;
    s->dir = dir;
    s->serial = ++e->next_serial;
    s->state = dir == S2S_IN ? S2S_ST_HEADER : S2S_ST_CONNECTING;
    s->since = (uint64_t)time(NULL);
    s->last_in = s->last_out = s2s_now();
    TAILQ_INIT(&s->queue);
    TAILQ_INIT(&s->verifies);
    s2s_sm_init(&s->sm);
    s->m_stanzas_in = s->m_stanzas_out = metrics_counter(NULL, "xfed_edge_stanzas_total");
    s->xml = xml_stream_new(&e->ec->xml, &parser_cbs, s);
    s->ev_timer = evtimer_new(e->base, timer_cb, s);
    s->ev_free = event_new(e->base, -1, 0, free_cb, s);
    if (!s->xml || !s->ev_timer || !s->ev_free) {
        xml_stream_free(s->xml);
        if (s->ev_timer)
            event_free(s->ev_timer);
        if (s->ev_free)
            event_free(s->ev_free);
        free(s);
        return NULL;
    }
    unsigned est = e->ec->conf->settings.establish_timeout;
    s->t_establish = est ? s2s_now() + est : 0;
    TAILQ_INSERT_TAIL(&e->streams, s, link);
    e->n_streams++;
    return s;
}

void s2s_stream_free(struct s2s_stream *s, const char *reason)
{
    if (s == NULL)
        return;
    s2s_log(s, "closed", "reason=\"%s\" state=%s stanzas_in=%llu stanzas_out=%llu", reason,
            s2s_state_name(s->state), (unsigned long long)s->stanzas_in,
            (unsigned long long)s->stanzas_out);
    if (s->ops->cleanup)
        s->ops->cleanup(s, reason);
    s2s_sm_free(s);
    /* A stream that never authenticated is a failed handshake, unless the
     * edge is shutting down; a closed connection is all we know when no
     * step said more. */
    if (!s->authenticated && !s->edge->stopping)
        edge_metrics_handshake_failure(s->edge, s->hs_reason ? s->hs_reason : "connect");
    if (s->counted_pending)
        s->edge->n_pending_in--;
    TAILQ_REMOVE(&s->edge->streams, s, link);
    s->edge->n_streams--;
    if (s->bev)
        bufferevent_free(s->bev);
    xml_stream_free(s->xml);
    event_free(s->ev_timer);
    event_free(s->ev_free);
    for (size_t i = 0; i < s->n_pairs; i++) {
        free(s->pairs[i].local);
        free(s->pairs[i].remote);
    }
    free(s->pairs);
    free(s->local);
    free(s->remote);
    free(s->partner);
    free(s->eps);
    free(s);
}

struct s2s_stream *s2s_stream_first(struct edge *e)
{
    return TAILQ_FIRST(&e->streams);
}

struct s2s_stream *s2s_stream_next(struct s2s_stream *s)
{
    return TAILQ_NEXT(s, link);
}

struct s2s_stream *s2s_stream_find(struct edge *e, uint64_t serial)
{
    struct s2s_stream *s;
    TAILQ_FOREACH(s, &e->streams, link)
    if (s->serial == serial)
        return s->state == S2S_ST_CLOSING ? NULL : s;
    return NULL;
}

unsigned s2s_streams_reconcile(struct edge *e)
{
    struct s2s_stream *s, *next;
    unsigned closed = 0;
    for (s = TAILQ_FIRST(&e->streams); s; s = next) {
        next = TAILQ_NEXT(s, link);
        if (s->state == S2S_ST_CLOSING || s->remote == NULL)
            continue;
        const struct conf_partner *p = s2s_stream_partner(s);
        const char *why = NULL;
        if (p == NULL)
            why = "partner removed";
        else if (s->local && !edge_conf_hosted(e->ec, s->local))
            why = "domain no longer hosted";
        else if (s->authenticated) {
            struct s2s_policy pol = s2s_policy_of(p);
            if (s2s_policy_transport_check(&pol, s->tls) != S2S_ERR_NONE ||
                (pol.tls == NEG_REQUIRED && !s->tls))
                why = "partner policy no longer allows this transport";
            else if (s->sasl_done && !s2s_policy_sasl_allowed(&pol, s->tls, true))
                why = "partner policy no longer allows SASL";
            else if (!s->sasl_done && !s2s_policy_dialback_allowed(&pol, s->tls))
                why = "partner policy no longer allows dialback";
        }
        if (why) {
            if (s->dir == S2S_OUT && !s->authenticated)
                s2s_out_fail(s, "remote-server-not-found", why);
            else
                s2s_stream_close(s, S2S_ERR_POLICY_VIOLATION, why);
            closed++;
        }
    }
    return closed;
}

void s2s_streams_resume(struct edge *e)
{
    struct s2s_stream *s;
    TAILQ_FOREACH(s, &e->streams, link)
    {
        if (!s->paused || s->bev == NULL)
            continue;
        s->paused = false;
        bufferevent_enable(s->bev, EV_READ);
        /* what is already buffered is parsed now, not at the next read */
        bufferevent_trigger(s->bev, EV_READ, BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
    }
}

void s2s_streams_shutdown(struct edge *e)
{
    struct s2s_stream *s, *next;
    for (s = TAILQ_FIRST(&e->streams); s; s = next) {
        next = TAILQ_NEXT(s, link);
        if (s->dir == S2S_OUT && !s->authenticated)
            s2s_out_fail(s, "remote-server-timeout", "edge shutting down");
        else
            s2s_stream_close(s, S2S_ERR_SYSTEM_SHUTDOWN, "edge shutting down");
    }
}

uint64_t s2s_stream_serial(const struct s2s_stream *s)
{
    return s->serial;
}
enum s2s_dir s2s_stream_dir(const struct s2s_stream *s)
{
    return s->dir;
}
enum s2s_state s2s_stream_state(const struct s2s_stream *s)
{
    return s->state;
}
const char *s2s_stream_id(const struct s2s_stream *s)
{
    return s->id;
}
const char *s2s_stream_local(const struct s2s_stream *s)
{
    return s->local;
}
const char *s2s_stream_remote(const struct s2s_stream *s)
{
    return s->remote;
}
const char *s2s_stream_tls_version(const struct s2s_stream *s)
{
    return s->tls && s->ssl ? tls_version(s->ssl) : "";
}
enum s2s_auth s2s_stream_auth(const struct s2s_stream *s)
{
    if (s->sasl_done)
        return S2S_AUTH_SASL_EXTERNAL;
    return s->authenticated ? S2S_AUTH_DIALBACK : S2S_AUTH_NONE;
}
uint64_t s2s_stream_since(const struct s2s_stream *s)
{
    return s->since;
}
uint64_t s2s_stream_stanzas_in(const struct s2s_stream *s)
{
    return s->stanzas_in;
}
uint64_t s2s_stream_stanzas_out(const struct s2s_stream *s)
{
    return s->stanzas_out;
}
const char *s2s_stream_partner_domain(const struct s2s_stream *s)
{
    return s->partner;
}
size_t s2s_stream_queued(const struct s2s_stream *s)
{
    return s->n_queue;
}

size_t s2s_stream_unacked(const struct s2s_stream *s)
{
    return s->sm.n_unacked;
}

void s2s_stream_hs_reason(struct s2s_stream *s, const char *reason)
{
    if (!s->authenticated && s->hs_reason == NULL)
        s->hs_reason = reason;
}
