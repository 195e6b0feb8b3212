/*
 * ipc_zmq.c - the only file that touches ZeroMQ (STYLE.md: one glue file per
 * library). CURVE ROUTER/DEALER sockets, the ZAP handler that enforces the
 * allow-list, a socket monitor that logs failed handshakes, all driven by
 * libevent through ZMQ_FD.
 *
 * ZMQ_FD only signals that the socket's state may have changed and is edge
 * triggered: after every recv and send ZMQ_EVENTS must be read again and
 * input drained, or a message can sit unread forever. Input is drained in
 * batches; when a batch ends with input still pending the read event is
 * activated by hand so the loop comes back after serving others.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <zmq.h>

#include "ipc_zmq.h"
#include "log.h"

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
/* One read callback takes at most RECV_BATCH frames and RECV_BATCH_BYTES
 * bytes, then lets the loop serve timers and other sockets before coming
 * back. A frame may be a BATCH of up to IPC_BATCH_COUNT_MAX messages, so a
 * cap on frames alone let a busy gateway spend seconds in one callback
 * (256 frames of about 260 stanzas each) without its tick sending a
 * heartbeat: the edge then declared it dead and bounced what it had sent. */
#define RECV_BATCH       256
#define RECV_BATCH_BYTES (256u * 1024)
#define ENDPOINT_MAX     256

/* The same refusal is logged once a minute, with how many were not. */
struct ratelimit {
    char last[128];
    uint64_t at_ms;
    unsigned suppressed;
};

struct zsock {
    void *s;
    struct event *ev;
    struct event *later; /* input still pending: back at the next loop turn */
    struct ipc_zmq *owner;
    void (*on_input)(struct ipc_zmq *);
};

struct ipc_zmq {
    void *ctx;
    bool server;
    struct zsock main;
    struct zsock zap;     /* server only */
    struct zsock monitor; /* monitor of main */
    struct ipc_allowlist allow;
    ipc_zmq_recv_cb *recv;
    ipc_zmq_writable_cb *writable;
    ipc_zmq_disconnected_cb *disconnected;
    int current_fd; /* during recv: the frame's connection */
    void *arg;
    bool want_writable;
    bool connected; /* client: handshake done and not disconnected since */
    uint64_t bad_frames;
    char endpoint[ENDPOINT_MAX];
    char monitor_ep[64];
    struct ratelimit rl_zap, rl_handshake;
};

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* True when this refusal should be logged; *suppressed gets the number of
 * identical ones left out since the last line. */
static bool rl_allow(struct ratelimit *r, const char *key, unsigned *suppressed)
{
    uint64_t now = mono_ms();
    if (strcmp(key, r->last) == 0 && now - r->at_ms < 60000) {
        r->suppressed++;
        return false;
    }
    snprintf(r->last, sizeof(r->last), "%s", key);
    r->at_ms = now;
    *suppressed = r->suppressed;
    r->suppressed = 0;
    return true;
}

static bool has_input(void *s, bool *out)
{
    int ev = 0;
    size_t sz = sizeof(ev);
    if (zmq_getsockopt(s, ZMQ_EVENTS, &ev, &sz) != 0)
        return false;
    if (out)
        *out = (ev & ZMQ_POLLOUT) != 0;
    return (ev & ZMQ_POLLIN) != 0;
}

/* Re-arms the edge-triggered fd: if input is already pending, no edge will
 * come, so wake ourselves. Through a timer that is due at once rather than
 * event_active(): libevent runs an event activated from a callback in the
 * same pass over its active queue, before it looks at timers or polls other
 * descriptors again, so a steady stream of input would starve the
 * channel's tick (heartbeats, re-sends) and every other socket. */
static void come_back(struct zsock *z)
{
    static const struct timeval now = {0, 0};
    if (z->later && !evtimer_pending(z->later, NULL))
        event_add(z->later, &now);
}

static void rearm(struct zsock *z)
{
    if (z->s && has_input(z->s, NULL))
        come_back(z);
}

static void zsock_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct zsock *z = arg;
    z->on_input(z->owner);
}

static int zsock_attach(struct ipc_zmq *z, struct zsock *zs, struct event_base *base,
                        void (*on_input)(struct ipc_zmq *))
{
    int fd = -1;
    size_t sz = sizeof(fd);
    if (zmq_getsockopt(zs->s, ZMQ_FD, &fd, &sz) != 0)
        return -1;
    zs->owner = z;
    zs->on_input = on_input;
    zs->ev = event_new(base, fd, EV_READ | EV_PERSIST, zsock_cb, zs);
    if (zs->ev == NULL || event_add(zs->ev, NULL) != 0)
        return -1;
    zs->later = evtimer_new(base, zsock_cb, zs);
    if (zs->later == NULL)
        return -1;
    /* Something may already be pending before the first edge. */
    event_active(zs->ev, EV_READ, 0);
    return 0;
}

static void zsock_close(struct zsock *zs)
{
    if (zs->ev)
        event_free(zs->ev);
    zs->ev = NULL;
    if (zs->later)
        event_free(zs->later);
    zs->later = NULL;
    if (zs->s)
        zmq_close(zs->s);
    zs->s = NULL;
}

/* Drains the remaining parts of a multipart message. */
static void skip_parts(void *s)
{
    int more = 0;
    size_t sz = sizeof(more);
    while (zmq_getsockopt(s, ZMQ_RCVMORE, &more, &sz) == 0 && more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, s, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            return;
        }
        zmq_msg_close(&m);
    }
}

/* Receives one frame. Returns 1 got it, 0 nothing pending, -1 error. */
static int recv_frame(void *s, zmq_msg_t *m, bool *more)
{
    zmq_msg_init(m);
    if (zmq_msg_recv(m, s, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(m);
        return errno == EAGAIN ? 0 : -1;
    }
    *more = zmq_msg_more(m) != 0;
    return 1;
}

/* Each ZMQ_EVENTS query processes the socket's command mailbox (a poll()
 * and a getpid() in libzmq): asked once when the turn starts, for the
 * writable notice, and once at the end (rearm); in between, a receive that
 * finds nothing (EAGAIN) ends the batch. */
static void main_input(struct ipc_zmq *z)
{
    bool can_write = false;
    bool in = has_input(z->main.s, &can_write);
    if (can_write && z->want_writable) {
        z->want_writable = false;
        if (z->writable)
            z->writable(z->arg);
    }
    if (!in)
        return;
    size_t bytes = 0;
    for (int n = 0; n < RECV_BATCH && bytes < RECV_BATCH_BYTES; n++) {
        zmq_msg_t id, payload;
        bool more = false;
        int r;
        if (z->server) {
            r = recv_frame(z->main.s, &id, &more);
            if (r <= 0)
                break; /* nothing more now: rearm() asks ZMQ_EVENTS once */
            if (!more || zmq_msg_size(&id) == 0 || zmq_msg_size(&id) > IPC_ZMQ_IDENT_MAX) {
                z->bad_frames++;
                zmq_msg_close(&id);
                skip_parts(z->main.s);
                continue;
            }
        }
        r = recv_frame(z->main.s, &payload, &more);
        if (r <= 0) {
            if (z->server)
                zmq_msg_close(&id);
            break;
        }
        if (more) {
            z->bad_frames++;
            skip_parts(z->main.s);
        } else {
            const char *uid = zmq_msg_gets(&payload, "User-Id");
            bytes += zmq_msg_size(&payload);
            z->current_fd = zmq_msg_get(&payload, ZMQ_SRCFD);
            z->recv(z->server ? zmq_msg_data(&id) : NULL, z->server ? zmq_msg_size(&id) : 0,
                    uid ? uid : "", zmq_msg_data(&payload), zmq_msg_size(&payload), z->arg);
        }
        zmq_msg_close(&payload);
        if (z->server)
            zmq_msg_close(&id);
    }
    rearm(&z->main);
}

static bool allowed(const struct ipc_zmq *z, const char *key, const char **name)
{
    for (size_t i = 0; i < z->allow.n; i++) {
        if (strcmp(z->allow.v[i].public_key, key) == 0) {
            *name = z->allow.v[i].name;
            return true;
        }
    }
    return false;
}

static void zap_send(void *s, const char *part, size_t len, bool more)
{
    zmq_send(s, part, len, more ? ZMQ_SNDMORE : 0);
}

/* One ZAP request (RFC 27/ZAP): version, request id, domain, address,
 * identity, mechanism, credentials. The answer's User-Id is the client's
 * public key, which the channel maps to the allow-list name. */
static void zap_handle(struct ipc_zmq *z)
{
    enum { NPART = 7 };
    zmq_msg_t part[NPART + 1];
    int n = 0;
    bool more = true;
    while (more && n < NPART + 1) {
        if (recv_frame(z->zap.s, &part[n], &more) <= 0)
            break;
        n++;
    }
    if (more)
        skip_parts(z->zap.s);
    if (n < 6) {
        /* Not a request we can answer; a REP socket must still reply. */
        for (int i = 0; i < n; i++)
            zmq_msg_close(&part[i]);
        if (n > 0)
            zap_send(z->zap.s, "", 0, false);
        return;
    }
    char addr[64] = "", mech[16] = "", key[IPC_KEY_Z85_LEN + 1] = "";
    size_t al =
        zmq_msg_size(&part[3]) < sizeof(addr) - 1 ? zmq_msg_size(&part[3]) : sizeof(addr) - 1;
    memcpy(addr, zmq_msg_data(&part[3]), al);
    size_t ml =
        zmq_msg_size(&part[5]) < sizeof(mech) - 1 ? zmq_msg_size(&part[5]) : sizeof(mech) - 1;
    memcpy(mech, zmq_msg_data(&part[5]), ml);
    const char *status = "400", *text = "not allowed", *name = NULL;
    if (strcmp(mech, "CURVE") == 0 && n == 7 && zmq_msg_size(&part[6]) == 32) {
        zmq_z85_encode(key, zmq_msg_data(&part[6]), 32);
        if (allowed(z, key, &name)) {
            status = "200";
            text = "OK";
        }
    }
    unsigned skipped = 0;
    if (name) {
        log_debug("ipc: accepted key name=%s address=%s", name, addr);
    } else {
        char rlkey[128];
        snprintf(rlkey, sizeof(rlkey), "%s %s", key, addr);
        if (rl_allow(&z->rl_zap, rlkey, &skipped))
            log_info("ipc: refused connection reason=\"key not on allow-list\" mechanism=%s "
                     "key=%s address=%s suppressed=%u",
                     mech, key[0] ? key : "-", addr, skipped);
    }
    zap_send(z->zap.s, "1.0", 3, true);
    zap_send(z->zap.s, zmq_msg_data(&part[1]), zmq_msg_size(&part[1]), true);
    zap_send(z->zap.s, status, 3, true);
    zap_send(z->zap.s, text, strlen(text), true);
    zap_send(z->zap.s, name ? key : "", name ? strlen(key) : 0, true);
    zap_send(z->zap.s, "", 0, false);
    for (int i = 0; i < n; i++)
        zmq_msg_close(&part[i]);
}

static void zap_input(struct ipc_zmq *z)
{
    for (int n = 0; n < RECV_BATCH; n++) {
        if (!has_input(z->zap.s, NULL))
            return;
        zap_handle(z);
    }
    rearm(&z->zap);
}

static const char *handshake_reason(unsigned ev, uint32_t value)
{
    if (ev == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
        return "authentication refused";
    if (ev == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL) {
        if (value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH)
            return "security mechanism mismatch (plaintext peer?)";
        return "protocol error";
    }
    return "handshake failed";
}

/* Socket monitor: logs refused handshakes (a plaintext client, a bad key on
 * the client side) which ZAP does not see. */
static void monitor_input(struct ipc_zmq *z)
{
    for (int n = 0; n < RECV_BATCH; n++) {
        if (!has_input(z->monitor.s, NULL))
            return;
        zmq_msg_t ev, ep;
        bool more = false;
        if (recv_frame(z->monitor.s, &ev, &more) <= 0)
            return;
        if (!more) {
            zmq_msg_close(&ev);
            continue;
        }
        if (recv_frame(z->monitor.s, &ep, &more) <= 0) {
            zmq_msg_close(&ev);
            return;
        }
        if (more)
            skip_parts(z->monitor.s);
        if (zmq_msg_size(&ev) == 6) {
            const uint8_t *d = zmq_msg_data(&ev);
            uint16_t event;
            uint32_t value;
            memcpy(&event, d, 2); /* host byte order, as libzmq writes it */
            memcpy(&value, d + 2, 4);
            int el = (int)(zmq_msg_size(&ep) < 200 ? zmq_msg_size(&ep) : 200);
            unsigned skipped = 0;
            char rlkey[64];
            snprintf(rlkey, sizeof(rlkey), "%u %u", (unsigned)event, (unsigned)value);
            if ((event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL ||
                 event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH ||
                 event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) &&
                rl_allow(&z->rl_handshake, rlkey, &skipped))
                log_info("ipc: handshake failed endpoint=%.*s reason=\"%s\" code=0x%x "
                         "suppressed=%u",
                         el, (const char *)zmq_msg_data(&ep), handshake_reason(event, value),
                         (unsigned)value, skipped);
            else if (event == ZMQ_EVENT_DISCONNECTED)
                log_debug("ipc: disconnected endpoint=%.*s", el, (const char *)zmq_msg_data(&ep));
            if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
                z->connected = true;
            else if (event == ZMQ_EVENT_DISCONNECTED) {
                z->connected = false;
                if (z->disconnected)
                    z->disconnected((int)value, z->arg);
            }
        }
        zmq_msg_close(&ev);
        zmq_msg_close(&ep);
    }
    rearm(&z->monitor);
}

static int setopt_int(void *s, int opt, int v)
{
    return zmq_setsockopt(s, opt, &v, sizeof(v));
}

static int copy_allow(struct ipc_allowlist *dst, const struct ipc_allowlist *src)
{
    struct ipc_allow_entry *v = NULL;
    if (src && src->n) {
        v = calloc(src->n, sizeof(*v));
        if (v == NULL)
            return -1;
        memcpy(v, src->v, src->n * sizeof(*v));
    }
    free(dst->v);
    dst->v = v;
    dst->n = src ? src->n : 0;
    return 0;
}

static struct ipc_zmq *zmq_common_new(bool server, ipc_zmq_recv_cb *recv,
                                      ipc_zmq_writable_cb *writable, void *arg)
{
    struct ipc_zmq *z = calloc(1, sizeof(*z));
    if (z == NULL)
        return NULL;
    z->server = server;
    z->recv = recv;
    z->writable = writable;
    z->arg = arg;
    z->current_fd = -1;
    z->ctx = zmq_ctx_new();
    if (z->ctx == NULL) {
        free(z);
        return NULL;
    }
    return z;
}

static int main_options(void *s, size_t maxmsgsize, unsigned sndhwm)
{
    int64_t maxsz = (int64_t)maxmsgsize;
    /* A positive linger also keeps a closing peer's last messages in its
     * pipe until read rather than dropping them with the connection. */
    if (setopt_int(s, ZMQ_LINGER, 200) != 0 || setopt_int(s, ZMQ_SNDHWM, (int)sndhwm) != 0 ||
        setopt_int(s, ZMQ_RCVHWM, (int)sndhwm) != 0 ||
        zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &maxsz, sizeof(maxsz)) != 0 ||
        setopt_int(s, ZMQ_HANDSHAKE_IVL, 5000) != 0 ||
        /* Our own HEARTBEAT messages judge the peer (ipc_channel.c). Half-open
         * TCP connections are dropped by TCP keep-alive (idle 2 s, then 3
         * probes 1 s apart) so that ZeroMQ reconnects. ZMTP heartbeats
         * (ZMQ_HEARTBEAT_IVL) are deliberately not used: libzmq 4.3 aborts
         * with "Assertion failed: _input_stopped" when a PING arrives while
         * the receive pipe is at its high-water mark (zeromq/libzmq#3596,
         * #3937, open), which a busy gateway can reach. */
        setopt_int(s, ZMQ_TCP_KEEPALIVE, 1) != 0 || setopt_int(s, ZMQ_TCP_KEEPALIVE_IDLE, 2) != 0 ||
        setopt_int(s, ZMQ_TCP_KEEPALIVE_INTVL, 1) != 0 ||
        setopt_int(s, ZMQ_TCP_KEEPALIVE_CNT, 3) != 0)
        return -1;
    return 0;
}

static int start_monitor(struct ipc_zmq *z, struct event_base *base)
{
    snprintf(z->monitor_ep, sizeof(z->monitor_ep), "inproc://xfed-ipc-monitor-%p", (void *)z);
    if (zmq_socket_monitor(z->main.s, z->monitor_ep,
                           ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_SUCCEEDED |
                               ZMQ_EVENT_DISCONNECTED) != 0)
        return -1;
    z->monitor.s = zmq_socket(z->ctx, ZMQ_PAIR);
    if (z->monitor.s == NULL || setopt_int(z->monitor.s, ZMQ_LINGER, 0) != 0 ||
        zmq_connect(z->monitor.s, z->monitor_ep) != 0)
        return -1;
    return zsock_attach(z, &z->monitor, base, monitor_input);
}

struct ipc_zmq *ipc_zmq_server_new(struct event_base *base, const char *endpoint,
                                   const struct ipc_keypair *own, const struct ipc_allowlist *allow,
                                   size_t maxmsgsize, unsigned sndhwm, ipc_zmq_recv_cb *recv,
                                   ipc_zmq_writable_cb *writable, void *arg)
{
    struct ipc_zmq *z = zmq_common_new(true, recv, writable, arg);
    if (z == NULL) {
        log_warnx("ipc: cannot create ZeroMQ context");
        return NULL;
    }
    if (!zmq_has("curve")) {
        log_warnx("ipc: this libzmq has no CURVE support");
        goto fail;
    }
    if (copy_allow(&z->allow, allow) != 0)
        goto fail;
    /* The ZAP handler must be bound before the server socket accepts
     * anybody: without one libzmq lets every CURVE key in. */
    z->zap.s = zmq_socket(z->ctx, ZMQ_REP);
    if (z->zap.s == NULL || setopt_int(z->zap.s, ZMQ_LINGER, 0) != 0 ||
        zmq_bind(z->zap.s, ZAP_ENDPOINT) != 0) {
        log_warnx("ipc: cannot bind ZAP handler: %s", zmq_strerror(errno));
        goto fail;
    }
    if (zsock_attach(z, &z->zap, base, zap_input) != 0)
        goto fail;
    z->main.s = zmq_socket(z->ctx, ZMQ_ROUTER);
    if (z->main.s == NULL)
        goto fail;
    if (main_options(z->main.s, maxmsgsize, sndhwm) != 0 ||
        setopt_int(z->main.s, ZMQ_ROUTER_MANDATORY, 1) != 0 ||
        setopt_int(z->main.s, ZMQ_CURVE_SERVER, 1) != 0 ||
        zmq_setsockopt(z->main.s, ZMQ_CURVE_SECRETKEY, own->secret_key, IPC_KEY_Z85_LEN + 1) != 0 ||
        zmq_setsockopt(z->main.s, ZMQ_ZAP_DOMAIN, "xfed", 4) != 0) {
        log_warnx("ipc: cannot set server socket options: %s", zmq_strerror(errno));
        goto fail;
    }
    if (start_monitor(z, base) != 0) {
        log_warnx("ipc: cannot monitor server socket: %s", zmq_strerror(errno));
        goto fail;
    }
    if (zmq_bind(z->main.s, endpoint) != 0) {
        log_warnx("ipc: cannot bind endpoint=%s: %s", endpoint, zmq_strerror(errno));
        goto fail;
    }
    size_t el = sizeof(z->endpoint);
    if (zmq_getsockopt(z->main.s, ZMQ_LAST_ENDPOINT, z->endpoint, &el) != 0)
        snprintf(z->endpoint, sizeof(z->endpoint), "%s", endpoint);
    if (zsock_attach(z, &z->main, base, main_input) != 0)
        goto fail;
    log_info("ipc: listening endpoint=%s allowed_keys=%zu", z->endpoint, z->allow.n);
    return z;
fail:
    ipc_zmq_free(z);
    return NULL;
}

static struct ipc_zmq *client_new(struct event_base *base, const char *endpoint,
                                  const struct ipc_keypair *own, const char *server_public_key,
                                  size_t maxmsgsize, unsigned sndhwm, ipc_zmq_recv_cb *recv,
                                  ipc_zmq_writable_cb *writable, void *arg)
{
    struct ipc_zmq *z = zmq_common_new(false, recv, writable, arg);
    if (z == NULL) {
        log_warnx("ipc: cannot create ZeroMQ context");
        return NULL;
    }
    snprintf(z->endpoint, sizeof(z->endpoint), "%s", endpoint);
    z->main.s = zmq_socket(z->ctx, ZMQ_DEALER);
    if (z->main.s == NULL)
        goto fail;
    if (main_options(z->main.s, maxmsgsize, sndhwm) != 0 ||
        /* ZMQ_IMMEDIATE stays off: with it, a disconnect discards the
         * messages not yet read (the edge's last ACKs and GOODBYE). */
        setopt_int(z->main.s, ZMQ_RECONNECT_IVL, 100) != 0 ||
        setopt_int(z->main.s, ZMQ_RECONNECT_IVL_MAX, 2000) != 0) {
        log_warnx("ipc: cannot set client socket options: %s", zmq_strerror(errno));
        goto fail;
    }
    if (own) {
        if (!zmq_has("curve")) {
            log_warnx("ipc: this libzmq has no CURVE support");
            goto fail;
        }
        if (zmq_setsockopt(z->main.s, ZMQ_CURVE_SERVERKEY, server_public_key,
                           IPC_KEY_Z85_LEN + 1) != 0 ||
            zmq_setsockopt(z->main.s, ZMQ_CURVE_PUBLICKEY, own->public_key, IPC_KEY_Z85_LEN + 1) !=
                0 ||
            zmq_setsockopt(z->main.s, ZMQ_CURVE_SECRETKEY, own->secret_key, IPC_KEY_Z85_LEN + 1) !=
                0) {
            log_warnx("ipc: cannot set CURVE keys: %s", zmq_strerror(errno));
            goto fail;
        }
    }
    if (start_monitor(z, base) != 0) {
        log_warnx("ipc: cannot monitor client socket: %s", zmq_strerror(errno));
        goto fail;
    }
    if (zmq_connect(z->main.s, endpoint) != 0) {
        log_warnx("ipc: cannot connect endpoint=%s: %s", endpoint, zmq_strerror(errno));
        goto fail;
    }
    if (zsock_attach(z, &z->main, base, main_input) != 0)
        goto fail;
    return z;
fail:
    ipc_zmq_free(z);
    return NULL;
}

struct ipc_zmq *ipc_zmq_client_new(struct event_base *base, const char *endpoint,
                                   const struct ipc_keypair *own, const char *server_public_key,
                                   size_t maxmsgsize, unsigned sndhwm, ipc_zmq_recv_cb *recv,
                                   ipc_zmq_writable_cb *writable, void *arg)
{
    if (own == NULL || server_public_key == NULL) {
        errno = EINVAL;
        return NULL;
    }
    return client_new(base, endpoint, own, server_public_key, maxmsgsize, sndhwm, recv, writable,
                      arg);
}

struct ipc_zmq *ipc_zmq_plain_client_new(struct event_base *base, const char *endpoint,
                                         size_t maxmsgsize, ipc_zmq_recv_cb *recv, void *arg)
{
    return client_new(base, endpoint, NULL, NULL, maxmsgsize, 1000, recv, NULL, arg);
}

void ipc_zmq_free(struct ipc_zmq *z)
{
    if (z == NULL)
        return;
    /* The main socket's linger (200 ms) lets queued ACKs and GOODBYE leave. */
    zsock_close(&z->main);
    zsock_close(&z->monitor);
    zsock_close(&z->zap);
    if (z->ctx)
        zmq_ctx_term(z->ctx);
    free(z->allow.v);
    free(z);
}

int ipc_zmq_set_allowlist(struct ipc_zmq *z, const struct ipc_allowlist *allow)
{
    if (copy_allow(&z->allow, allow) != 0) {
        errno = ENOMEM;
        return -1;
    }
    return 0;
}

int ipc_zmq_send(struct ipc_zmq *z, const uint8_t *ident, size_t ident_len, const uint8_t *buf,
                 size_t len)
{
    int rc;
    if (z->server) {
        rc = zmq_send(z->main.s, ident, ident_len, ZMQ_SNDMORE | ZMQ_DONTWAIT);
        if (rc >= 0)
            rc = zmq_send(z->main.s, buf, len, ZMQ_DONTWAIT);
    } else {
        rc = zmq_send(z->main.s, buf, len, ZMQ_DONTWAIT);
    }
    int saved = errno;
    if (rc < 0 && saved == EAGAIN)
        z->want_writable = true;
    /* Sending may have consumed the fd's edge for pending input: look again
     * (main_input) at the next loop turn, not once per message (see
     * rearm() for why not event_active()). */
    come_back(&z->main);
    if (rc < 0) {
        errno = saved;
        return -1;
    }
    return 0;
}

bool ipc_zmq_connected(const struct ipc_zmq *z)
{
    return z->server || z->connected;
}

const char *ipc_zmq_endpoint(const struct ipc_zmq *z)
{
    return z->endpoint;
}

uint64_t ipc_zmq_bad_frames(const struct ipc_zmq *z)
{
    return z->bad_frames;
}

int ipc_zmq_curve_keypair(char public_z85[41], char secret_z85[41])
{
    return zmq_curve_keypair(public_z85, secret_z85) == 0 ? 0 : -1;
}

int ipc_zmq_curve_public(char public_z85[41], const char *secret_z85)
{
    return zmq_curve_public(public_z85, secret_z85) == 0 ? 0 : -1;
}

void ipc_zmq_set_disconnected_cb(struct ipc_zmq *z, ipc_zmq_disconnected_cb *cb)
{
    z->disconnected = cb;
}

int ipc_zmq_current_fd(const struct ipc_zmq *z)
{
    return z->current_fd;
}
