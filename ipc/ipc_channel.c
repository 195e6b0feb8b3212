/*
 * ipc_channel.c - sessions, ids, acknowledgements, re-sending, duplicate
 * suppression and heartbeats over ipc_zmq (contract in ipc_channel.h).
 *
 * Per peer session the sender keeps two queues of encoded reliable messages:
 * "pending" (not yet taken by ZeroMQ, e.g. its high-water mark was reached)
 * and "inflight" (handed to ZeroMQ, ordered by last transmission, so the
 * ones due for re-sending are at the head). An id map finds an entry when
 * its ACK arrives.
 *
 * The receiver's duplicate window is keyed by the sender's incarnation, not
 * by the session, and outlives the session for dedup_keep_ms: a gateway whose
 * TCP connection was re-established (new ZeroMQ identity, same process)
 * still gets the ACK it was already given instead of a second delivery.
 * Entries still waiting for the application's ACK are dropped from the
 * window when their session ends, because that ACK can no longer be sent on
 * it: the sender re-sends, and the message is delivered again.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "ipc_channel.h"
#include "ipc_codec.h"
#include "ipc_idmap.h"
#include "ipc_zmq.h"
#include "log.h"

#define DEDUP_KEEP_MS 60000
#define CAPS_ALL      (IPC_CAP_STANZA | IPC_CAP_CONFIG | IPC_CAP_STATS)

struct out_entry {
    TAILQ_ENTRY(out_entry) link;
    uint64_t id;
    uint64_t seq; /* order of first send, for handing back */
    uint64_t last_ms;
    bool inflight;
    size_t len;
    uint8_t buf[];
};
TAILQ_HEAD(out_list, out_entry);

/* State of one id in a duplicate window. The map's value is either a tagged
 * integer (ring position << 2 | DUP_PENDING or DUP_OK) or, for an error ACK,
 * a pointer to struct dup_error (low bits zero). Knowing the ring position
 * lets eviction tell a slot's own entry from a newer one for the same id. */
#define DUP_PENDING 1u
#define DUP_OK      2u
#define DUP_ERROR   0u
struct dup_error {
    uint64_t pos;
    char condition[IPC_COND_MAX + 1];
    char text[IPC_TEXT_MAX + 1];
};

static unsigned dup_state(const void *v)
{
    return (unsigned)((uintptr_t)v & 3u);
}

static uint64_t dup_pos(const void *v)
{
    if (dup_state(v) == DUP_ERROR)
        return ((const struct dup_error *)v)->pos;
    return (uint64_t)((uintptr_t)v >> 2);
}

static void *dup_tag(uint64_t pos, unsigned state)
{
    return (void *)(uintptr_t)((pos << 2) | state);
}

struct dedup {
    LIST_ENTRY(dedup) link;
    uint64_t incarnation;
    struct ipc_idmap *map;
    uint64_t *ring; /* ids in arrival order */
    size_t cap, n;
    uint64_t total;           /* ids ever added: the next ring position */
    struct ipc_peer *session; /* the live session using it, or NULL */
    uint64_t idle_since_ms;
};

struct ipc_peer {
    TAILQ_ENTRY(ipc_peer) link;
    struct ipc_channel *ch;
    uint64_t pid;
    uint8_t ident[IPC_ZMQ_IDENT_MAX];
    size_t ident_len;
    char ident_hex[2 * 16 + 1];
    char name[IPC_NAME_MAX + 1];
    char key_name[IPC_KEY_NAME_MAX + 1];
    char key[IPC_KEY_Z85_LEN + 1];
    enum ipc_role role;
    uint64_t incarnation;
    uint32_t caps;
    uint32_t peer_heartbeat_ms;
    uint64_t since;
    bool alive;
    bool doomed; /* to be taken down at the next tick */
    const char *doom_reason;
    uint64_t last_rx_ms, last_tx_ms;
    struct out_list pending, inflight;
    size_t nout;
    size_t nout_bytes;
    struct ipc_idmap *out;
    struct dedup *dd;
};
TAILQ_HEAD(peer_list, ipc_peer);

struct ipc_channel {
    struct event_base *base;
    struct ipc_zmq *z;
    bool server;
    enum ipc_role role;
    char name[IPC_NAME_MAX + 1];
    char server_key[IPC_KEY_Z85_LEN + 1];
    struct ipc_channel_settings set;
    struct ipc_channel_cbs cbs;
    void *arg;
    uint64_t incarnation;
    uint64_t next_id, next_pid, next_seq;
    struct peer_list peers;
    LIST_HEAD(, dedup) dedups;
    struct ipc_allowlist allow;
    struct event *tick;
    unsigned tick_ms;
    uint64_t last_hello_ms;
    uint64_t ack_seq;
    struct ipc_channel_counters c;
    /* Repeated refusals are answered and logged once per period, so a
     * misconfigured or stale peer cannot flood the log or the socket. */
    char refused_key[IPC_KEY_Z85_LEN + 1];
    uint64_t refused_ms;
    uint8_t nosession_ident[IPC_ZMQ_IDENT_MAX];
    size_t nosession_len;
    uint64_t nosession_ms;
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t random_u64(void)
{
    uint64_t v = 0;
    while (v == 0) {
        if (getrandom(&v, sizeof(v), 0) != (ssize_t)sizeof(v)) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            v = ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)ts.tv_nsec ^ (uint64_t)getpid();
        }
    }
    return v;
}

void ipc_channel_settings_default(struct ipc_channel_settings *s)
{
    memset(s, 0, sizeof(*s));
    s->heartbeat_ms = 500;
    s->dead_ms = 2000;
    s->resend_ms = 1000;
    s->unacked_max = 65536;
    s->dedup_window = 131072;
    s->sndhwm = 100000;
    ipc_limits_default(&s->limits);
    s->drop_ack_one_in = 0;
    s->unacked_bytes_max = 256u * 1024 * 1024;
}

/* ---- duplicate windows ---- */

static void dup_val_free(void *v)
{
    if (v != NULL && dup_state(v) == DUP_ERROR)
        free(v);
}

/* Forgets the entry at ring position pos unless a newer one replaced it. */
static void dedup_evict(struct dedup *d, uint64_t pos)
{
    uint64_t id = d->ring[pos % d->cap];
    void *v = ipc_idmap_get(d->map, id);
    if (v != NULL && dup_pos(v) == pos)
        dup_val_free(ipc_idmap_del(d->map, id));
}

static void dedup_free(struct dedup *d)
{
    if (d == NULL)
        return;
    if (d->map && d->ring)
        for (uint64_t pos = d->total - d->n; pos < d->total; pos++)
            dedup_evict(d, pos);
    ipc_idmap_free(d->map);
    free(d->ring);
    free(d);
}

static struct dedup *dedup_get(struct ipc_channel *ch, uint64_t incarnation)
{
    struct dedup *d;
    LIST_FOREACH(d, &ch->dedups, link)
    {
        if (d->incarnation == incarnation)
            return d;
    }
    d = calloc(1, sizeof(*d));
    if (d == NULL)
        return NULL;
    d->incarnation = incarnation;
    d->cap = ch->set.dedup_window;
    d->ring = calloc(d->cap, sizeof(*d->ring));
    d->map = ipc_idmap_new(d->cap < 4096 ? d->cap : 4096);
    if (d->ring == NULL || d->map == NULL) {
        dedup_free(d);
        return NULL;
    }
    LIST_INSERT_HEAD(&ch->dedups, d, link);
    return d;
}

/* Records id as delivered and waiting for the application's ACK. */
static int dedup_add(struct dedup *d, uint64_t id)
{
    if (d->n == d->cap) {
        dedup_evict(d, d->total - d->n);
        d->n--;
    }
    uint64_t pos = d->total;
    if (ipc_idmap_put(d->map, id, dup_tag(pos, DUP_PENDING)) != 0)
        return -1;
    d->ring[pos % d->cap] = id;
    d->total++;
    d->n++;
    return 0;
}

/* Records the application's ACK of id. 0, or -1 on memory (id stays
 * pending: a duplicate is then dropped rather than answered). */
static int dedup_acked(struct dedup *d, uint64_t id, void *cur, const char *cond, const char *text)
{
    uint64_t pos = dup_pos(cur);
    if (cond == NULL)
        return ipc_idmap_put(d->map, id, dup_tag(pos, DUP_OK));
    struct dup_error *de = calloc(1, sizeof(*de));
    if (de == NULL)
        return -1;
    de->pos = pos;
    snprintf(de->condition, sizeof(de->condition), "%s", cond);
    snprintf(de->text, sizeof(de->text), "%s", text ? text : "");
    if (ipc_idmap_put(d->map, id, de) != 0) {
        free(de);
        return -1;
    }
    return 0;
}

/* The session ended: pending ids can no longer be acknowledged on it, so
 * forget them (a re-sent copy must be delivered again). Their ring slots
 * stay; eviction later sees they no longer own the id. */
static void dedup_detach(struct dedup *d)
{
    for (uint64_t pos = d->total - d->n; pos < d->total; pos++) {
        uint64_t id = d->ring[pos % d->cap];
        void *v = ipc_idmap_get(d->map, id);
        if (v != NULL && dup_pos(v) == pos && dup_state(v) == DUP_PENDING)
            ipc_idmap_del(d->map, id);
    }
    d->session = NULL;
    d->idle_since_ms = now_ms();
}

/* ---- sending ---- */

static void hex_ident(struct ipc_peer *p)
{
    static const char hx[] = "0123456789abcdef";
    size_t n = p->ident_len < 16 ? p->ident_len : 16;
    for (size_t i = 0; i < n; i++) {
        p->ident_hex[2 * i] = hx[p->ident[i] >> 4];
        p->ident_hex[2 * i + 1] = hx[p->ident[i] & 15];
    }
    p->ident_hex[2 * n] = '\0';
}

static int raw_send(struct ipc_channel *ch, struct ipc_peer *p, const uint8_t *buf, size_t len)
{
    int rc = ipc_zmq_send(ch->z, p ? p->ident : NULL, p ? p->ident_len : 0, buf, len);
    if (rc == 0) {
        ch->c.sent++;
        if (p)
            p->last_tx_ms = now_ms();
    }
    return rc;
}

/* Encodes and sends a best-effort message the channel makes itself. */
static int send_ctl(struct ipc_channel *ch, struct ipc_peer *p, const uint8_t *ident,
                    size_t ident_len, struct ipc_msg *m)
{
    uint8_t small[2048];
    uint8_t *buf = small;
    size_t len = 0;
    m->incarnation = ch->incarnation;
    int err = ipc_encode(m, &ch->set.limits, small, sizeof(small), &len);
    if (err == IPC_ERR_NOSPACE)
        err = ipc_encode_alloc(m, &ch->set.limits, &buf, &len);
    if (err != IPC_OK) {
        errno = EINVAL;
        return -1;
    }
    int rc;
    if (p) {
        rc = raw_send(ch, p, buf, len);
    } else {
        rc = ipc_zmq_send(ch->z, ident, ident_len, buf, len);
        if (rc == 0)
            ch->c.sent++;
    }
    if (buf != small)
        free(buf);
    return rc;
}

static void send_hello(struct ipc_channel *ch, struct ipc_peer *p, const uint8_t *ident,
                       size_t ident_len, int type)
{
    struct ipc_msg m = {.type = (uint8_t)type};
    m.hello.role = (uint8_t)ch->role;
    m.hello.proto_version = IPC_PROTOCOL_VERSION;
    m.hello.capabilities = CAPS_ALL;
    m.hello.heartbeat_ms = ch->set.heartbeat_ms;
    m.hello.name = ch->name;
    send_ctl(ch, p, ident, ident_len, &m);
}

static void send_goodbye(struct ipc_channel *ch, struct ipc_peer *p, const uint8_t *ident,
                         size_t ident_len, const char *reason)
{
    struct ipc_msg m = {.type = IPC_MSG_GOODBYE};
    m.goodbye.reason = reason;
    send_ctl(ch, p, ident, ident_len, &m);
}

static void send_ack(struct ipc_channel *ch, struct ipc_peer *p, uint64_t id, const char *cond,
                     const char *text)
{
    ch->ack_seq++;
    if (ch->set.drop_ack_one_in && ch->ack_seq % ch->set.drop_ack_one_in == 0)
        return; /* fault injection for tests: the ACK is "lost" */
    struct ipc_msg m = {.type = IPC_MSG_ACK};
    m.ack.acked_id = id;
    m.ack.status = (cond && cond[0]) ? IPC_ACK_ERROR : IPC_ACK_OK;
    m.ack.condition = cond ? cond : "";
    m.ack.text = text ? text : "";
    if (send_ctl(ch, p, NULL, 0, &m) == 0)
        ch->c.acks_sent++;
}

/* Hands pending entries to ZeroMQ in order until it refuses. */
static void flush_pending(struct ipc_channel *ch, struct ipc_peer *p)
{
    struct out_entry *e;
    while ((e = TAILQ_FIRST(&p->pending)) != NULL) {
        if (raw_send(ch, p, e->buf, e->len) != 0 && errno == EAGAIN)
            return;
        /* Sent, or refused for a reason a later re-send may overcome
         * (EHOSTUNREACH while reconnecting): either way it is now timed. */
        TAILQ_REMOVE(&p->pending, e, link);
        e->inflight = true;
        e->last_ms = now_ms();
        TAILQ_INSERT_TAIL(&p->inflight, e, link);
    }
}

static void resend_due(struct ipc_channel *ch, struct ipc_peer *p, uint64_t now)
{
    struct out_entry *e;
    size_t budget = p->nout;
    while (budget-- > 0 && (e = TAILQ_FIRST(&p->inflight)) != NULL &&
           now - e->last_ms >= ch->set.resend_ms) {
        if (raw_send(ch, p, e->buf, e->len) != 0 && errno == EAGAIN)
            return;
        ch->c.resent++;
        TAILQ_REMOVE(&p->inflight, e, link);
        e->last_ms = now;
        TAILQ_INSERT_TAIL(&p->inflight, e, link);
    }
}

/* ---- peers ---- */

static struct ipc_peer *peer_new(struct ipc_channel *ch, const uint8_t *ident, size_t ident_len)
{
    struct ipc_peer *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return NULL;
    p->out = ipc_idmap_new(1024);
    if (p->out == NULL) {
        free(p);
        return NULL;
    }
    p->ch = ch;
    p->pid = ++ch->next_pid;
    if (ident_len > sizeof(p->ident))
        ident_len = sizeof(p->ident);
    if (ident)
        memcpy(p->ident, ident, ident_len);
    p->ident_len = ident_len;
    hex_ident(p);
    TAILQ_INIT(&p->pending);
    TAILQ_INIT(&p->inflight);
    p->since = (uint64_t)time(NULL);
    p->last_rx_ms = p->last_tx_ms = now_ms();
    return p;
}

static int cmp_seq(const void *a, const void *b)
{
    const struct out_entry *x = *(struct out_entry *const *)a;
    const struct out_entry *y = *(struct out_entry *const *)b;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Takes a session down: peer_down, then each unacknowledged message in the
 * order first sent, then frees it. */
static void peer_down(struct ipc_channel *ch, struct ipc_peer *p, const char *reason)
{
    p->alive = false;
    ch->c.peers_down++;
    log_info("ipc: peer down peer=%s name=%s key=%s incarnation=%016" PRIx64
             " unacked=%zu reason=\"%s\"",
             p->ident_hex[0] ? p->ident_hex : "server", p->name, p->key_name[0] ? p->key_name : "-",
             p->incarnation, p->nout, reason);
    if (ch->cbs.peer_down)
        ch->cbs.peer_down(ch, p, reason, ch->arg);
    struct out_entry **v = p->nout ? calloc(p->nout, sizeof(*v)) : NULL;
    size_t n = 0;
    struct out_entry *e;
    struct out_list *lists[2] = {&p->pending, &p->inflight};
    for (int l = 0; l < 2; l++) {
        while ((e = TAILQ_FIRST(lists[l])) != NULL) {
            TAILQ_REMOVE(lists[l], e, link);
            ipc_idmap_del(p->out, e->id);
            if (v)
                v[n++] = e;
            else if (ch->cbs.unacked) {
                /* No memory to sort: hand back unsorted rather than lose. */
                struct ipc_msg *m = NULL;
                if (ipc_decode(e->buf, e->len, &ch->set.limits, &m) == IPC_OK)
                    ch->cbs.unacked(ch, p, m, ch->arg);
                ipc_msg_free(m);
                free(e);
            } else {
                free(e);
            }
        }
    }
    if (v) {
        qsort(v, n, sizeof(*v), cmp_seq);
        for (size_t i = 0; i < n; i++) {
            struct ipc_msg *m = NULL;
            if (ch->cbs.unacked && ipc_decode(v[i]->buf, v[i]->len, &ch->set.limits, &m) == IPC_OK)
                ch->cbs.unacked(ch, p, m, ch->arg);
            ipc_msg_free(m);
            free(v[i]);
        }
        free(v);
    }
    p->nout = 0;
    p->nout_bytes = 0;
    if (p->dd && p->dd->session == p)
        dedup_detach(p->dd);
    TAILQ_REMOVE(&ch->peers, p, link);
    ipc_idmap_free(p->out);
    free(p);
}

static struct ipc_peer *peer_by_ident(struct ipc_channel *ch, const uint8_t *ident, size_t len)
{
    struct ipc_peer *p;
    TAILQ_FOREACH(p, &ch->peers, link)
    {
        if (p->ident_len == len && memcmp(p->ident, ident, len) == 0)
            return p;
    }
    return NULL;
}

static const char *allow_name(const struct ipc_channel *ch, const char *key)
{
    for (size_t i = 0; i < ch->allow.n; i++)
        if (strcmp(ch->allow.v[i].public_key, key) == 0)
            return ch->allow.v[i].name;
    return NULL;
}

static void peer_up(struct ipc_channel *ch, struct ipc_peer *p, const struct ipc_msg *m)
{
    p->role = m->hello.role;
    p->incarnation = m->incarnation;
    p->caps = m->hello.capabilities;
    p->peer_heartbeat_ms = m->hello.heartbeat_ms;
    snprintf(p->name, sizeof(p->name), "%s", m->hello.name);
    p->dd = dedup_get(ch, m->incarnation);
    if (p->dd && p->dd->session && p->dd->session != p) {
        /* The same process opened a second session: the old one is stale. */
        struct ipc_peer *old = p->dd->session;
        old->doomed = true;
        old->doom_reason = "replaced by a new session";
        old->dd = NULL;
        dedup_detach(p->dd);
        event_active(ch->tick, EV_TIMEOUT, 0);
    }
    if (p->dd)
        p->dd->session = p;
    p->alive = true;
    TAILQ_INSERT_TAIL(&ch->peers, p, link);
    ch->c.peers_up++;
    log_info("ipc: peer up peer=%s name=%s key=%s role=%u incarnation=%016" PRIx64,
             p->ident_hex[0] ? p->ident_hex : "server", p->name, p->key_name[0] ? p->key_name : "-",
             (unsigned)p->role, p->incarnation);
    if (ch->cbs.peer_up)
        ch->cbs.peer_up(ch, p, ch->arg);
}

/* ---- receiving ---- */

static void on_ack(struct ipc_channel *ch, struct ipc_peer *p, const struct ipc_msg *m)
{
    ch->c.acks_received++;
    struct out_entry *e = ipc_idmap_del(p->out, m->ack.acked_id);
    if (e == NULL)
        return; /* an ACK of a re-sent copy we already had: harmless */
    TAILQ_REMOVE(e->inflight ? &p->inflight : &p->pending, e, link);
    p->nout--;
    p->nout_bytes -= e->len;
    free(e);
    if (ch->cbs.acked)
        ch->cbs.acked(ch, p, m, ch->arg);
}

static void on_reliable(struct ipc_channel *ch, struct ipc_peer *p, const struct ipc_msg *m)
{
    if (p->dd == NULL) {
        /* No window (memory): deliver; duplicates are then possible. */
        if (ch->cbs.recv)
            ch->cbs.recv(ch, p, m, ch->arg);
        return;
    }
    void *st = ipc_idmap_get(p->dd->map, m->id);
    if (st != NULL) {
        ch->c.duplicates++;
        if (dup_state(st) == DUP_OK) {
            send_ack(ch, p, m->id, NULL, NULL);
        } else if (dup_state(st) == DUP_ERROR) {
            const struct dup_error *de = st;
            send_ack(ch, p, m->id, de->condition, de->text);
        }
        /* DUP_PENDING: the application has not answered yet; its ACK will. */
        return;
    }
    if (dedup_add(p->dd, m->id) != 0)
        log_warnx("ipc: duplicate window full of memory peer=%s", p->ident_hex);
    if (ch->cbs.recv)
        ch->cbs.recv(ch, p, m, ch->arg);
}

static void on_hello(struct ipc_channel *ch, const uint8_t *ident, size_t ident_len,
                     const char *user_id, struct ipc_peer *p, const struct ipc_msg *m)
{
    if (!ch->server || m->type != IPC_MSG_HELLO)
        return;
    const char *kname = allow_name(ch, user_id);
    if (kname == NULL) {
        ch->c.refused++;
        uint64_t now = now_ms();
        if (strcmp(ch->refused_key, user_id) != 0 || now - ch->refused_ms >= 60000) {
            snprintf(ch->refused_key, sizeof(ch->refused_key), "%s", user_id);
            ch->refused_ms = now;
            log_info("ipc: refused hello reason=\"key not on allow-list\" key=%s name=%s",
                     user_id[0] ? user_id : "-", m->hello.name);
        }
        return;
    }
    if (m->hello.proto_version != IPC_PROTOCOL_VERSION ||
        (m->hello.role != IPC_ROLE_GATEWAY && m->hello.role != IPC_ROLE_TOOL)) {
        ch->c.refused++;
        log_info("ipc: refused hello reason=\"version or role\" version=%u role=%u name=%s",
                 (unsigned)m->hello.proto_version, (unsigned)m->hello.role, m->hello.name);
        send_goodbye(ch, NULL, ident, ident_len, "protocol version or role not supported");
        return;
    }
    if (p && p->incarnation == m->incarnation) {
        send_hello(ch, p, NULL, 0, IPC_MSG_HELLO_ACK); /* a repeated HELLO */
        return;
    }
    if (p)
        peer_down(ch, p, "restarted");
    p = peer_new(ch, ident, ident_len);
    if (p == NULL)
        return;
    snprintf(p->key_name, sizeof(p->key_name), "%s", kname);
    snprintf(p->key, sizeof(p->key), "%s", user_id);
    send_hello(ch, p, NULL, 0, IPC_MSG_HELLO_ACK);
    peer_up(ch, p, m);
}

static void on_hello_ack(struct ipc_channel *ch, struct ipc_peer *p, const struct ipc_msg *m)
{
    if (ch->server)
        return;
    if (p && p->incarnation == m->incarnation)
        return;
    if (p)
        peer_down(ch, p, "restarted");
    if (m->hello.role != IPC_ROLE_EDGE || m->hello.proto_version != IPC_PROTOCOL_VERSION) {
        log_info("ipc: refused hello_ack reason=\"version or role\" version=%u role=%u",
                 (unsigned)m->hello.proto_version, (unsigned)m->hello.role);
        return;
    }
    p = peer_new(ch, NULL, 0);
    if (p)
        peer_up(ch, p, m);
}

static void on_frame(const uint8_t *ident, size_t ident_len, const char *user_id,
                     const uint8_t *payload, size_t len, void *arg)
{
    struct ipc_channel *ch = arg;
    ch->c.received++;
    struct ipc_peer *p = ch->server ? peer_by_ident(ch, ident, ident_len) : TAILQ_FIRST(&ch->peers);
    struct ipc_msg *m = NULL;
    int err = ipc_decode(payload, len, &ch->set.limits, &m);
    if (err != IPC_OK) {
        ch->c.decode_errors++;
        struct ipc_hdr h = {0};
        ipc_decode_header(payload, len, &h);
        log_info("ipc: refused message peer=%s type=%u version=%u len=%zu reason=\"%s\"",
                 p ? p->ident_hex : "unknown", (unsigned)h.type, (unsigned)h.version, len,
                 ipc_strerror(err));
        /* Tell the sender not to re-send what we will never accept. */
        if (p && p->alive && err == IPC_ERR_OVERSIZED && h.version == IPC_PROTOCOL_VERSION &&
            ipc_msg_type_reliable(h.type) && h.id != 0)
            send_ack(ch, p, h.id, "policy-violation", "message above the size limit");
        return;
    }
    if (p && p->alive)
        p->last_rx_ms = now_ms();
    if (m->type == IPC_MSG_HELLO || m->type == IPC_MSG_HELLO_ACK) {
        if (m->type == IPC_MSG_HELLO)
            on_hello(ch, ident, ident_len, user_id, p, m);
        else
            on_hello_ack(ch, p, m);
        ipc_msg_free(m);
        return;
    }
    if (p == NULL || !p->alive) {
        ch->c.refused++;
        /* A peer we have no session with (we restarted, or declared it
         * dead): tell it so it says HELLO again. Never answer a GOODBYE. */
        uint64_t now = now_ms();
        if (ch->server && m->type != IPC_MSG_GOODBYE &&
            (ident_len != ch->nosession_len || memcmp(ident, ch->nosession_ident, ident_len) != 0 ||
             now - ch->nosession_ms >= ch->set.heartbeat_ms)) {
            if (ident_len <= sizeof(ch->nosession_ident)) {
                memcpy(ch->nosession_ident, ident, ident_len);
                ch->nosession_len = ident_len;
            }
            ch->nosession_ms = now;
            send_goodbye(ch, NULL, ident, ident_len, "no session");
        }
        ipc_msg_free(m);
        return;
    }
    if (m->incarnation != p->incarnation) {
        peer_down(ch, p, "restarted");
        ipc_msg_free(m);
        return;
    }
    switch (m->type) {
    case IPC_MSG_HEARTBEAT:
        break;
    case IPC_MSG_GOODBYE: {
        char reason[IPC_TEXT_MAX + 16];
        snprintf(reason, sizeof(reason), "goodbye: %s", m->goodbye.reason);
        peer_down(ch, p, reason);
        break;
    }
    case IPC_MSG_ACK:
        on_ack(ch, p, m);
        break;
    default:
        if (ipc_msg_type_reliable(m->type))
            on_reliable(ch, p, m);
        else if (ch->cbs.recv)
            ch->cbs.recv(ch, p, m, ch->arg);
        break;
    }
    ipc_msg_free(m);
}

static void on_writable(void *arg)
{
    struct ipc_channel *ch = arg;
    struct ipc_peer *p;
    TAILQ_FOREACH(p, &ch->peers, link)
    {
        flush_pending(ch, p);
    }
}

/* ---- timer ---- */

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct ipc_channel *ch = arg;
    uint64_t now = now_ms();
    struct ipc_peer *p, *next;
    for (p = TAILQ_FIRST(&ch->peers); p != NULL; p = next) {
        next = TAILQ_NEXT(p, link);
        if (p->doomed) {
            peer_down(ch, p, p->doom_reason);
            continue;
        }
        uint64_t dead = ch->set.dead_ms;
        /* Never judge a peer by a shorter period than its own heartbeat
         * allows (three missed beats). */
        if (p->peer_heartbeat_ms && (uint64_t)p->peer_heartbeat_ms * 3 > dead)
            dead = (uint64_t)p->peer_heartbeat_ms * 3;
        if (now - p->last_rx_ms >= dead) {
            peer_down(ch, p, "heartbeat timeout");
            continue;
        }
        flush_pending(ch, p);
        resend_due(ch, p, now);
        if (now - p->last_tx_ms >= ch->set.heartbeat_ms) {
            struct ipc_msg m = {.type = IPC_MSG_HEARTBEAT};
            send_ctl(ch, p, NULL, 0, &m);
        }
    }
    /* HELLO only over an established connection: ZeroMQ would otherwise
     * queue one per interval for as long as the edge is away. */
    if (!ch->server && TAILQ_EMPTY(&ch->peers) && ipc_zmq_connected(ch->z) &&
        now - ch->last_hello_ms >= ch->set.heartbeat_ms) {
        ch->last_hello_ms = now;
        send_hello(ch, NULL, NULL, 0, IPC_MSG_HELLO);
    }
    struct dedup *d, *dn;
    for (d = LIST_FIRST(&ch->dedups); d != NULL; d = dn) {
        dn = LIST_NEXT(d, link);
        if (d->session == NULL && now - d->idle_since_ms >= DEDUP_KEEP_MS) {
            LIST_REMOVE(d, link);
            dedup_free(d);
        }
    }
}

/* ---- construction ---- */

static struct ipc_channel *channel_new(struct event_base *base, const char *name,
                                       const struct ipc_channel_settings *settings,
                                       const struct ipc_channel_cbs *cbs, void *arg)
{
    struct ipc_channel *ch = calloc(1, sizeof(*ch));
    if (ch == NULL)
        return NULL;
    ch->base = base;
    snprintf(ch->name, sizeof(ch->name), "%s", name ? name : "");
    if (settings)
        ch->set = *settings;
    else
        ipc_channel_settings_default(&ch->set);
    if (ch->set.heartbeat_ms == 0 || ch->set.dead_ms == 0 || ch->set.resend_ms == 0 ||
        ch->set.unacked_max == 0 || ch->set.dedup_window == 0 || ch->set.sndhwm == 0 ||
        ch->set.unacked_bytes_max == 0) {
        log_warnx("ipc: channel settings must all be positive");
        free(ch);
        return NULL;
    }
    if (cbs)
        ch->cbs = *cbs;
    ch->arg = arg;
    ch->incarnation = random_u64();
    TAILQ_INIT(&ch->peers);
    LIST_INIT(&ch->dedups);
    unsigned t =
        ch->set.heartbeat_ms < ch->set.resend_ms ? ch->set.heartbeat_ms : ch->set.resend_ms;
    t /= 10;
    ch->tick_ms = t < 5 ? 5 : (t > 50 ? 50 : t);
    ch->tick = event_new(base, -1, EV_PERSIST, tick_cb, ch);
    struct timeval tv = {.tv_sec = ch->tick_ms / 1000, .tv_usec = (ch->tick_ms % 1000) * 1000};
    if (ch->tick == NULL || event_add(ch->tick, &tv) != 0) {
        if (ch->tick)
            event_free(ch->tick);
        free(ch);
        return NULL;
    }
    return ch;
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

struct ipc_channel *ipc_channel_server_new(struct event_base *base, const char *endpoint,
                                           const char *name, const struct ipc_keypair *own,
                                           const struct ipc_allowlist *allow,
                                           const struct ipc_channel_settings *settings,
                                           const struct ipc_channel_cbs *cbs, void *arg)
{
    struct ipc_channel *ch = channel_new(base, name, settings, cbs, arg);
    if (ch == NULL)
        return NULL;
    ch->server = true;
    ch->role = IPC_ROLE_EDGE;
    if (copy_allow(&ch->allow, allow) != 0)
        goto fail;
    ch->z = ipc_zmq_server_new(base, endpoint, own, allow, ipc_limits_frame_max(&ch->set.limits),
                               ch->set.sndhwm, on_frame, on_writable, ch);
    if (ch->z == NULL)
        goto fail;
    return ch;
fail:
    ipc_channel_free(ch);
    return NULL;
}

struct ipc_channel *ipc_channel_client_new(struct event_base *base, const char *endpoint,
                                           const char *name, enum ipc_role role,
                                           const struct ipc_keypair *own,
                                           const char *server_public_key,
                                           const struct ipc_channel_settings *settings,
                                           const struct ipc_channel_cbs *cbs, void *arg)
{
    if (role != IPC_ROLE_GATEWAY && role != IPC_ROLE_TOOL) {
        log_warnx("ipc: a client channel is a gateway or a tool");
        return NULL;
    }
    if (!ipc_key_valid(server_public_key)) {
        log_warnx("ipc: malformed server public key");
        return NULL;
    }
    struct ipc_channel *ch = channel_new(base, name, settings, cbs, arg);
    if (ch == NULL)
        return NULL;
    ch->role = role;
    snprintf(ch->server_key, sizeof(ch->server_key), "%s", server_public_key);
    ch->z = ipc_zmq_client_new(base, endpoint, own, server_public_key,
                               ipc_limits_frame_max(&ch->set.limits), ch->set.sndhwm, on_frame,
                               on_writable, ch);
    if (ch->z == NULL) {
        ipc_channel_free(ch);
        return NULL;
    }
    /* The first HELLO goes out from the loop's first tick. */
    return ch;
}

void ipc_channel_free(struct ipc_channel *ch)
{
    if (ch == NULL)
        return;
    struct ipc_peer *p;
    while ((p = TAILQ_FIRST(&ch->peers)) != NULL) {
        if (ch->z)
            send_goodbye(ch, p, NULL, 0, "shutdown");
        peer_down(ch, p, "shutdown");
    }
    struct dedup *d;
    while ((d = LIST_FIRST(&ch->dedups)) != NULL) {
        LIST_REMOVE(d, link);
        dedup_free(d);
    }
    if (ch->tick)
        event_free(ch->tick);
    ipc_zmq_free(ch->z);
    free(ch->allow.v);
    free(ch);
}

int ipc_channel_set_allowlist(struct ipc_channel *ch, const struct ipc_allowlist *allow)
{
    if (!ch->server) {
        errno = EINVAL;
        return -1;
    }
    if (copy_allow(&ch->allow, allow) != 0 || ipc_zmq_set_allowlist(ch->z, allow) != 0) {
        errno = ENOMEM;
        return -1;
    }
    struct ipc_peer *p;
    bool any = false;
    TAILQ_FOREACH(p, &ch->peers, link)
    {
        if (allow_name(ch, p->key) == NULL) {
            p->doomed = true;
            p->doom_reason = "key removed";
            any = true;
        }
    }
    if (any)
        event_active(ch->tick, EV_TIMEOUT, 0);
    return 0;
}

/* ---- the application's verbs ---- */

int ipc_channel_send(struct ipc_channel *ch, struct ipc_peer *p, struct ipc_msg *m)
{
    if (p == NULL || !p->alive || p->doomed) {
        errno = ENOTCONN;
        return -1;
    }
    switch (m->type) {
    case IPC_MSG_HELLO:
    case IPC_MSG_HELLO_ACK:
    case IPC_MSG_HEARTBEAT:
    case IPC_MSG_ACK:
    case IPC_MSG_GOODBYE:
        errno = EINVAL;
        return -1;
    default:
        break;
    }
    bool reliable = ipc_msg_type_reliable(m->type);
    if (reliable && p->nout >= ch->set.unacked_max) {
        errno = ENOBUFS;
        return -1;
    }
    uint64_t old_id = m->id;
    if (reliable && m->id == 0)
        m->id = ++ch->next_id;
    else if (reliable && ipc_idmap_get(p->out, m->id) != NULL) {
        errno = EINVAL; /* already waiting for this peer's ACK */
        return -1;
    }
    m->incarnation = ch->incarnation;
    size_t len = ipc_encoded_len(m);
    if (len == 0) {
        m->id = old_id;
        errno = EINVAL;
        return -1;
    }
    struct out_entry *e = malloc(sizeof(*e) + len);
    if (e == NULL) {
        m->id = old_id;
        errno = ENOMEM;
        return -1;
    }
    int err = ipc_encode(m, &ch->set.limits, e->buf, len, &e->len);
    if (err != IPC_OK) {
        free(e);
        if (reliable && old_id == 0) {
            m->id = 0;
            ch->next_id--;
        }
        errno = err == IPC_ERR_OVERSIZED ? EMSGSIZE : (err == IPC_ERR_NOMEM ? ENOMEM : EINVAL);
        return -1;
    }
    if (!reliable) {
        int rc = raw_send(ch, p, e->buf, e->len);
        int saved = errno;
        free(e);
        errno = saved;
        return rc;
    }
    if (p->nout_bytes + e->len > ch->set.unacked_bytes_max) {
        free(e);
        if (old_id == 0) {
            m->id = 0;
            ch->next_id--;
        }
        errno = ENOBUFS;
        return -1;
    }
    e->id = m->id;
    e->seq = ++ch->next_seq;
    e->inflight = false;
    e->last_ms = 0;
    if (ipc_idmap_put(p->out, e->id, e) != 0) {
        free(e);
        errno = ENOMEM;
        return -1;
    }
    TAILQ_INSERT_TAIL(&p->pending, e, link);
    p->nout++;
    p->nout_bytes += e->len;
    flush_pending(ch, p);
    return 0;
}

int ipc_channel_ack(struct ipc_channel *ch, struct ipc_peer *p, uint64_t id, const char *condition,
                    const char *text)
{
    if (p == NULL || !p->alive) {
        errno = ENOTCONN;
        return -1;
    }
    bool ok = condition == NULL || condition[0] == '\0';
    if ((!ok && strlen(condition) > IPC_COND_MAX) || (text && strlen(text) > IPC_TEXT_MAX)) {
        errno = EMSGSIZE;
        return -1;
    }
    if (id == 0) {
        errno = ENOENT;
        return -1;
    }
    if (p->dd) {
        void *st = ipc_idmap_get(p->dd->map, id);
        if (st != NULL && dup_state(st) != DUP_PENDING) {
            errno = EALREADY;
            return -1;
        }
        if (st != NULL)
            dedup_acked(p->dd, id, st, ok ? NULL : condition, text);
        /* An id already evicted from the window is acknowledged anyway. */
    }
    send_ack(ch, p, id, ok ? NULL : condition, text);
    return 0;
}

struct ipc_peer *ipc_channel_server_peer(struct ipc_channel *ch)
{
    if (ch->server)
        return NULL;
    struct ipc_peer *p = TAILQ_FIRST(&ch->peers);
    return p && p->alive && !p->doomed ? p : NULL;
}

size_t ipc_channel_peers(struct ipc_channel *ch, struct ipc_peer **v, size_t max)
{
    size_t n = 0;
    struct ipc_peer *p;
    TAILQ_FOREACH(p, &ch->peers, link)
    {
        if (!p->alive || p->doomed)
            continue;
        if (n < max && v)
            v[n] = p;
        n++;
    }
    return n;
}

struct ipc_peer *ipc_channel_peer_find(struct ipc_channel *ch, uint64_t peer_id)
{
    struct ipc_peer *p;
    TAILQ_FOREACH(p, &ch->peers, link)
    {
        if (p->pid == peer_id && p->alive && !p->doomed)
            return p;
    }
    return NULL;
}

const char *ipc_channel_endpoint(const struct ipc_channel *ch)
{
    return ipc_zmq_endpoint(ch->z);
}

uint64_t ipc_channel_incarnation(const struct ipc_channel *ch)
{
    return ch->incarnation;
}

void ipc_channel_counters(const struct ipc_channel *ch, struct ipc_channel_counters *out)
{
    *out = ch->c;
}

uint64_t ipc_peer_id(const struct ipc_peer *p)
{
    return p->pid;
}

const char *ipc_peer_name(const struct ipc_peer *p)
{
    return p->name;
}

const char *ipc_peer_key_name(const struct ipc_peer *p)
{
    return p->key_name;
}

enum ipc_role ipc_peer_role(const struct ipc_peer *p)
{
    return p->role;
}

uint64_t ipc_peer_incarnation(const struct ipc_peer *p)
{
    return p->incarnation;
}

uint32_t ipc_peer_capabilities(const struct ipc_peer *p)
{
    return p->caps;
}

uint64_t ipc_peer_since(const struct ipc_peer *p)
{
    return p->since;
}

size_t ipc_peer_unacked(const struct ipc_peer *p)
{
    return p->nout;
}

bool ipc_peer_alive(const struct ipc_peer *p)
{
    return p->alive && !p->doomed;
}
