/*
 * gw_transport.c - SIP connections on bufferevents.
 */
#include "gw_transport.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gw_conf.h"
#include "gw_sip.h"
#include "ipc_idmap.h"
#include "log.h"
#include "tls.h"

#define OUTPUT_CAP (64u * 1024u * 1024u) /* bytes waiting toward one peer */

struct conn {
    struct gw_transport *t;
    uint64_t id;
    struct bufferevent *bev;
    bool next_hop; /* our connection to the next hop */
    bool closing;  /* flush, then free */
    char peer[64];
    LIST_ENTRY(conn) link;
};

struct gw_transport {
    struct event_base *base;
    struct gw_transport_cbs cbs;
    void *arg;
    struct sockaddr_storage next_hop;
    socklen_t next_hop_len;
    char server_name[256];
    bool tls;
    enum gw_verify_client verify_client; /* the listener's rule */
    struct tls_ctx *tls_ctx;             /* own copy: TLS settings change at restart only */
    char *source;
    struct evconnlistener *listener;
    struct sockaddr_storage trusted[GW_TRUSTED_MAX];
    size_t n_trusted;
    bool trust_any;
    struct ipc_idmap *conns; /* id -> struct conn */
    LIST_HEAD(, conn) all;
    uint64_t next_id;
    unsigned n_conns, max_conns;
    struct conn *hop; /* the next-hop connection, NULL between attempts */
    bool hop_up;
    unsigned backoff_s, backoff_max_s;
    struct event *reconnect;
    struct gw_sip_limits limits;
    struct gw_transport_counters ctr;
};

static void conn_free(struct conn *c, const char *reason);
static void schedule_reconnect(struct gw_transport *t);

static void peer_name(const struct sockaddr *sa, char *buf, size_t cap)
{
    char host[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s = (const struct sockaddr_in *)(const void *)sa;
        inet_ntop(AF_INET, &s->sin_addr, host, sizeof(host));
        port = ntohs(s->sin_port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)(const void *)sa;
        inet_ntop(AF_INET6, &s->sin6_addr, host, sizeof(host));
        port = ntohs(s->sin6_port);
    }
    snprintf(buf, cap, "%s:%u", host, port);
}

static int conn_write(struct conn *c, const char *buf, size_t len)
{
    struct evbuffer *out = bufferevent_get_output(c->bev);
    if (evbuffer_get_length(out) + len > OUTPUT_CAP) {
        errno = ENOBUFS;
        return -1;
    }
    if (evbuffer_add(out, buf, len) != 0) {
        errno = ENOMEM;
        return -1;
    }
    c->t->ctr.bytes_out += len;
    c->t->ctr.msgs_out++;
    return 0;
}

/* ---- input -------------------------------------------------------------- */

/* Answers what could not be framed or parsed, if a response can be built. */
static void answer_bad(struct conn *c, const char *buf, size_t len, int code, const char *why)
{
    size_t rl = 0;
    char *r = gw_sip_bad_request(buf, len, code, why, &rl);
    if (r) {
        conn_write(c, r, rl);
        free(r);
    }
}

static void read_cb(struct bufferevent *bev, void *arg)
{
    struct conn *c = arg;
    struct gw_transport *t = c->t;
    struct evbuffer *in = bufferevent_get_input(bev);
    if (c->closing) {
        evbuffer_drain(in, evbuffer_get_length(in));
        return;
    }
    size_t len = evbuffer_get_length(in);
    const char *buf = (const char *)evbuffer_pullup(in, -1);
    size_t off = 0;
    uint64_t id = c->id;
    t->ctr.bytes_in += len;
    while (off < len) {
        struct gw_sip_frame f;
        int r = gw_sip_frame(buf + off, len - off, &t->limits, &f);
        if (r == 0)
            break;
        if (r < 0) {
            t->ctr.bad_frames++;
            log_info("event=sip-frame-error peer=%s code=%d", c->peer, f.error_code);
            if (f.error_code)
                answer_bad(c, buf + off, len - off, f.error_code, NULL);
            evbuffer_drain(in, len);
            c->closing = true;
            if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
                conn_free(c, "framing error");
            return;
        }
        if (f.keepalive_ping)
            conn_write(c, "\r\n", 2);
        if (f.msg_len > 0) {
            const char *why = NULL;
            const char *mb = buf + off + f.msg_off;
            struct gw_sip_msg *m = gw_sip_parse(mb, f.msg_len, &t->limits, &why);
            if (m == NULL) {
                t->ctr.bad_parses++;
                log_info("event=sip-parse-error peer=%s reason=\"%s\"", c->peer,
                         why ? why : "unparsable");
                answer_bad(c, mb, f.msg_len, 400, why);
            } else {
                t->ctr.msgs_in++;
                t->cbs.message(t->arg, id, m);
                /* the callback may have closed this connection */
                if (ipc_idmap_get(t->conns, id) != c)
                    return;
            }
        }
        off += f.consumed;
    }
    evbuffer_drain(in, off);
}

static void write_cb(struct bufferevent *bev, void *arg)
{
    struct conn *c = arg;
    if (c->closing && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
        conn_free(c, "closed after error");
}

static const char *verify_client_name(enum gw_verify_client v)
{
    switch (v) {
    case GW_VERIFY_CLIENT_REQUIRED:
        return "required";
    case GW_VERIFY_CLIENT_OPTIONAL:
        return "optional";
    case GW_VERIFY_CLIENT_NONE:
        break;
    }
    return "none";
}

/*
 * After the handshake: is the peer's certificate acceptable? The next hop
 * must always present one whose chain verifies and which names the server
 * we meant (RFC 5922 section 7, RFC 6125); a SIP server connecting to the
 * listener the same, as sip_tls_verify_client says (RFC 5922 section 7.2
 * and 7.3: the name checked is sip_server_name, the only peer the listener
 * serves). Logs the outcome; frees c and returns false when refused.
 */
static bool tls_peer_ok(struct conn *c, struct ssl_st *ssl)
{
    struct gw_transport *t = c->t;
    enum tls_verify v = tls_peer_verify(ssl);
    bool check = c->next_hop || t->verify_client == GW_VERIFY_CLIENT_REQUIRED ||
                 (t->verify_client == GW_VERIFY_CLIENT_OPTIONAL && v != TLS_VERIFY_NO_CERT);
    const char *side = c->next_hop ? "next-hop" : "listener";
    const char *vc = c->next_hop ? "-" : verify_client_name(t->verify_client);
    if (check && v != TLS_VERIFY_OK) {
        log_warnx("event=sip-tls peer=%s side=%s outcome=refused verify=%s verify_client=%s",
                  c->peer, side, tls_verify_name(v), vc);
        conn_free(c, "certificate not verified");
        return false;
    }
    /* a chain that verifies is not enough, the certificate must name the
     * server we meant */
    enum tls_host_match hm = TLS_HOST_NO_MATCH;
    if (check) {
        hm = tls_cert_match_sip_host(tls_peer_cert(ssl), t->server_name);
        if (hm == TLS_HOST_NO_MATCH) {
            log_warnx("event=sip-tls peer=%s side=%s outcome=refused verify=ok verify_client=%s "
                      "reason=\"certificate does not name %s\"",
                      c->peer, side, vc, t->server_name);
            conn_free(c, "certificate names another host");
            return false;
        }
    }
    log_info("event=sip-tls peer=%s side=%s tls=%s cipher=%s verify=%s name=%s verify_client=%s",
             c->peer, side, tls_version(ssl), tls_cipher(ssl), tls_verify_name(v),
             check ? tls_host_match_name(hm) : "-", vc);
    return true;
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct conn *c = arg;
    struct gw_transport *t = c->t;
    if (what & BEV_EVENT_CONNECTED) {
        if (t->tls && !tls_peer_ok(c, bufferevent_openssl_get_ssl(bev)))
            return; /* c is freed */
        if (c->next_hop) {
            t->hop_up = true;
            t->backoff_s = 1;
            t->ctr.connects++;
            log_info("event=sip-next-hop-up peer=%s", c->peer);
            if (t->cbs.next_hop)
                t->cbs.next_hop(t->arg, true);
        }
        return;
    }
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
        const char *reason = (what & BEV_EVENT_EOF) ? "closed by peer" : "error";
        char detail[160] = "";
        if (what & BEV_EVENT_ERROR) {
            unsigned long e = t->tls ? bufferevent_get_openssl_error(bev) : 0;
            snprintf(detail, sizeof(detail), "%s",
                     e ? tls_error_string(e) : strerror(EVUTIL_SOCKET_ERROR()));
        }
        if (c->next_hop && !t->hop_up && t->backoff_s > 1)
            /* repeated failures to reach the next hop: once per back-off step */
            log_debug("event=sip-connect peer=%s outcome=failed reason=\"%s\"", c->peer, detail);
        else
            log_info("event=sip-conn-closed peer=%s reason=\"%s%s%s\"", c->peer, reason,
                     detail[0] ? ": " : "", detail);
        conn_free(c, reason);
    }
}

/* ---- connections -------------------------------------------------------- */

static struct conn *conn_new(struct gw_transport *t, struct bufferevent *bev, bool next_hop,
                             const char *peer)
{
    struct conn *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->t = t;
    c->id = ++t->next_id;
    c->bev = bev;
    c->next_hop = next_hop;
    snprintf(c->peer, sizeof(c->peer), "%s", peer);
    if (ipc_idmap_put(t->conns, c->id, c) != 0) {
        free(c);
        return NULL;
    }
    t->n_conns++;
    LIST_INSERT_HEAD(&t->all, c, link);
    bufferevent_setcb(bev, read_cb, write_cb, event_cb, c);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
    return c;
}

static void conn_free(struct conn *c, const char *reason)
{
    struct gw_transport *t = c->t;
    ipc_idmap_del(t->conns, c->id);
    LIST_REMOVE(c, link);
    t->n_conns--;
    bufferevent_free(c->bev);
    if (c == t->hop) {
        bool was_up = t->hop_up;
        t->hop = NULL;
        t->hop_up = false;
        if (was_up)
            log_info("event=sip-next-hop-down peer=%s reason=\"%s\"", c->peer, reason);
        else
            log_debug("event=sip-next-hop-retry peer=%s in=%us", c->peer, t->backoff_s);
        if (was_up && t->cbs.next_hop)
            t->cbs.next_hop(t->arg, false);
        schedule_reconnect(t);
    }
    free(c);
}

static void connect_next_hop(struct gw_transport *t)
{
    char peer[64];
    peer_name((const struct sockaddr *)&t->next_hop, peer, sizeof(peer));
    int fd = socket(t->next_hop.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        log_warn("event=sip-connect peer=%s", peer);
        schedule_reconnect(t);
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (t->source) {
        struct addrinfo hints = {.ai_family = t->next_hop.ss_family,
                                 .ai_socktype = SOCK_STREAM,
                                 .ai_flags = AI_NUMERICHOST | AI_PASSIVE},
                        *res = NULL;
        if (getaddrinfo(t->source, NULL, &hints, &res) != 0 || res == NULL ||
            bind(fd, res->ai_addr, res->ai_addrlen) != 0) {
            log_warn("event=sip-connect peer=%s source=%s cannot bind", peer, t->source);
            if (res)
                freeaddrinfo(res);
            close(fd);
            schedule_reconnect(t);
            return;
        }
        freeaddrinfo(res);
    }
    struct bufferevent *bev;
    if (t->tls) {
        struct ssl_st *ssl = tls_ssl_new_client(t->tls_ctx, NULL, t->server_name, false);
        bev = ssl ? bufferevent_openssl_socket_new(t->base, fd, ssl, BUFFEREVENT_SSL_CONNECTING,
                                                   BEV_OPT_CLOSE_ON_FREE)
                  : NULL;
    } else {
        bev = bufferevent_socket_new(t->base, fd, BEV_OPT_CLOSE_ON_FREE);
    }
    if (bev == NULL) {
        close(fd);
        schedule_reconnect(t);
        return;
    }
    struct conn *c = conn_new(t, bev, true, peer);
    if (c == NULL) {
        bufferevent_free(bev);
        schedule_reconnect(t);
        return;
    }
    t->hop = c;
    if (bufferevent_socket_connect(bev, (struct sockaddr *)&t->next_hop, (int)t->next_hop_len) !=
        0) {
        log_info("event=sip-connect peer=%s outcome=failed", peer);
        conn_free(c, "connect failed");
    }
}

static void reconnect_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    connect_next_hop(arg);
}

static void schedule_reconnect(struct gw_transport *t)
{
    if (t->reconnect == NULL)
        return; /* shutting down */
    struct timeval tv = {(time_t)t->backoff_s, 0};
    evtimer_add(t->reconnect, &tv);
    if (t->backoff_s < t->backoff_max_s)
        t->backoff_s = t->backoff_s * 2 > t->backoff_max_s ? t->backoff_max_s : t->backoff_s * 2;
}

/* The address part of two socket addresses is equal (ports ignored). */
static bool same_host(const struct sockaddr *a, const struct sockaddr_storage *b)
{
    if (a->sa_family != b->ss_family)
        return false;
    if (a->sa_family == AF_INET)
        return memcmp(&((const struct sockaddr_in *)(const void *)a)->sin_addr,
                      &((const struct sockaddr_in *)(const void *)b)->sin_addr,
                      sizeof(struct in_addr)) == 0;
    if (a->sa_family == AF_INET6)
        return memcmp(&((const struct sockaddr_in6 *)(const void *)a)->sin6_addr,
                      &((const struct sockaddr_in6 *)(const void *)b)->sin6_addr,
                      sizeof(struct in6_addr)) == 0;
    return false;
}

static void accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
                      void *arg)
{
    struct gw_transport *t = arg;
    (void)l;
    (void)salen;
    char peer[64];
    peer_name(sa, peer, sizeof(peer));
    bool trusted = t->trust_any;
    for (size_t i = 0; i < t->n_trusted && !trusted; i++)
        trusted = same_host(sa, &t->trusted[i]);
    if (!trusted) {
        /* only the SIP server hands requests to the gateway (sip_trusted) */
        log_info("event=sip-accept peer=%s outcome=refused reason=\"not a trusted address\"", peer);
        close(fd);
        return;
    }
    if (t->n_conns >= t->max_conns) {
        log_info("event=sip-accept peer=%s outcome=refused reason=\"too many connections\"", peer);
        close(fd);
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct bufferevent *bev;
    if (t->tls) {
        struct ssl_st *ssl = tls_ssl_new_server(t->tls_ctx, false);
        bev = ssl ? bufferevent_openssl_socket_new(t->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                                   BEV_OPT_CLOSE_ON_FREE)
                  : NULL;
    } else {
        bev = bufferevent_socket_new(t->base, fd, BEV_OPT_CLOSE_ON_FREE);
    }
    if (bev == NULL) {
        close(fd);
        return;
    }
    if (conn_new(t, bev, false, peer) == NULL) {
        bufferevent_free(bev);
        return;
    }
    log_debug("event=sip-accept peer=%s", peer);
}

struct gw_transport *gw_transport_new(struct event_base *base, const struct gw_conf *gc,
                                      const struct gw_transport_cbs *cbs, void *arg, char *err,
                                      size_t errlen)
{
    struct gw_transport *t = calloc(1, sizeof(*t));
    if (t == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    t->base = base;
    t->cbs = *cbs;
    t->arg = arg;
    LIST_INIT(&t->all);
    t->next_hop = gc->next_hop;
    t->next_hop_len = gc->next_hop_len;
    snprintf(t->server_name, sizeof(t->server_name), "%s",
             gc->local.sip_server_name ? gc->local.sip_server_name : gc->next_hop_host);
    t->tls = gc->tls;
    t->verify_client = gc->verify_client;
    if (t->tls) {
        struct tls_conf tc = {
            .cert_file = gc->local.sip_cert_file,
            .key_file = gc->local.sip_key_file,
            .ca_file = gc->local.sip_ca_file,
        };
        t->tls_ctx = tls_ctx_new(&tc, err, errlen);
        if (t->tls_ctx == NULL) {
            free(t);
            return NULL;
        }
    }
    t->source = gc->local.sip_source ? strdup(gc->local.sip_source) : NULL;
    t->max_conns = gc->local.sip_max_conns + 1;
    memcpy(t->trusted, gc->trusted, sizeof(t->trusted));
    t->n_trusted = gc->n_trusted;
    t->trust_any = gc->trust_any;
    t->backoff_s = 1;
    t->backoff_max_s = gc->local.reconnect_max_s;
    t->conns = ipc_idmap_new(64);
    t->reconnect = evtimer_new(base, reconnect_cb, t);
    if (t->conns == NULL || t->reconnect == NULL || (gc->local.sip_source && t->source == NULL)) {
        snprintf(err, errlen, "out of memory");
        gw_transport_free(t);
        return NULL;
    }
    const char *la = gc->local.sip_listen;
    if (la && la[0]) {
        struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
                                 .ai_flags = AI_NUMERICHOST | AI_PASSIVE},
                        *res = NULL;
        char port[16];
        snprintf(port, sizeof(port), "%u", gc->local.sip_port);
        int e = getaddrinfo(la, port, &hints, &res);
        if (e != 0 || res == NULL) {
            snprintf(err, errlen, "sip_listen '%s' is not an address: %s", la, gai_strerror(e));
            gw_transport_free(t);
            return NULL;
        }
        t->listener = evconnlistener_new_bind(
            base, accept_cb, t, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
            128, res->ai_addr, (int)res->ai_addrlen);
        freeaddrinfo(res);
        if (t->listener == NULL) {
            snprintf(err, errlen, "cannot listen on %s:%u: %s", la, gc->local.sip_port,
                     strerror(errno));
            gw_transport_free(t);
            return NULL;
        }
        log_info("event=start sip_listen=%s:%u transport=%s verify_client=%s", la,
                 gc->local.sip_port, t->tls ? "tls" : "tcp",
                 t->tls ? verify_client_name(t->verify_client) : "-");
    }
    connect_next_hop(t);
    return t;
}

void gw_transport_free(struct gw_transport *t)
{
    if (t == NULL)
        return;
    if (t->reconnect) {
        event_free(t->reconnect);
        t->reconnect = NULL;
    }
    if (t->listener)
        evconnlistener_free(t->listener);
    t->cbs.next_hop = NULL;
    while (!LIST_EMPTY(&t->all))
        conn_free(LIST_FIRST(&t->all), "shutdown");
    ipc_idmap_free(t->conns);
    tls_ctx_free(t->tls_ctx);
    free(t->source);
    free(t);
}

int gw_transport_send(struct gw_transport *t, const char *buf, size_t len)
{
    if (t->hop == NULL) {
        /* Between attempts: open now rather than wait for the back-off. */
        evtimer_del(t->reconnect);
        connect_next_hop(t);
        if (t->hop == NULL) {
            errno = ENOTCONN;
            return -1;
        }
    }
    return conn_write(t->hop, buf, len);
}

int gw_transport_reply(struct gw_transport *t, uint64_t conn_id, const char *buf, size_t len)
{
    struct conn *c = ipc_idmap_get(t->conns, conn_id);
    if (c == NULL || c->closing)
        return gw_transport_send(t, buf, len);
    return conn_write(c, buf, len);
}

bool gw_transport_up(const struct gw_transport *t)
{
    return t->hop_up;
}

const char *gw_transport_via(const struct gw_transport *t)
{
    return t->tls ? "TLS" : "TCP";
}

void gw_transport_counters(const struct gw_transport *t, struct gw_transport_counters *out)
{
    *out = t->ctr;
    out->conns = t->n_conns;
}
