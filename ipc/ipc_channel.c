/*
 * ipc_channel.c - sessions, ids, acknowledgements, re-sending, duplicate
 * suppression and heartbeats over ipc_zmq (contract in ipc_channel.h).
 *
 * Per peer session the sender keeps two queues of encoded reliable messages:
 * "pending" (not yet taken by ZeroMQ: queued during this loop iteration, or
 * its high-water mark was reached) and "inflight" (handed to ZeroMQ, ordered
 * by last transmission, so the ones due for re-sending are at the head). An
 * id map finds an entry when its ACK arrives.
 *
 * Batching (ipc_msg.h). Each peer has one batch buffer: IPC_BATCH_PREFIX_LEN
 * bytes left free for the BATCH header, then items (length, encoded
 * message). Messages that are not kept for re-sending (acknowledgements,
 * best-effort messages, the channel's own) are written into it when made;
 * ok acknowledgements are first collected as ids and written as ACK_RANGES
 * when the batch is flushed. A flush (peer_flush) adds the pending reliable
 * messages after them, sends full batches as they fill, and moves what went
 * to "inflight"; when ZeroMQ refuses a frame (EAGAIN) the reliable copies are
 * taken out of the buffer again and the peer is "stuck" until ZeroMQ says it
 * is writable or the next tick, so a slow peer costs no repeated copying.
 * Flushes run from one event made active whenever a peer gets something to
 * send, so they happen once the callbacks of this loop iteration are done.
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
    int fd;      /* its TCP connection's descriptor, from its last frame; -1 unknown */
    const char *doom_reason;
    uint64_t last_rx_ms, last_tx_ms;
    struct out_list pending, inflight;
    size_t nout;
    size_t nout_bytes;
    size_t npending, pending_bytes; /* in "pending", bytes with their item prefixes */
    struct ipc_idmap *out;
    struct dedup *dd;
    uint8_t *bbuf;   /* the batch: prefix, then items; batch_bytes_max bytes */
    size_t blen;     /* bytes used, prefix included */
    unsigned bcount; /* items in it */
    uint64_t *acks;  /* ok acknowledgements not yet in the batch (IPC_ACK_IDS_MAX) */
    size_t nacks;
    bool dirty; /* has something to flush at the end of this loop iteration */
    bool stuck; /* ZeroMQ refused its last frame: wait for writable or the tick */
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
    struct event *flush; /* active when some peer is dirty */
    bool flush_armed;
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
    char badframe_key[48]; /* reason and peer of the last refused frame logged */
    uint64_t badframe_ms;
    unsigned badframe_suppressed;
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
    s->batch_bytes_max = 64u * 1024;
    s->batch_count_max = IPC_BATCH_COUNT_MAX;
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

/* Hands one frame holding nmsgs messages to ZeroMQ. */
static int frame_send(struct ipc_channel *ch, struct ipc_peer *p, const uint8_t *buf, size_t len,
                      unsigned nmsgs)
{
    int rc = ipc_zmq_send(ch->z, p ? p->ident : NULL, p ? p->ident_len : 0, buf, len);
    if (rc == 0) {
        ch->c.sent += nmsgs;
        ch->c.frames_sent++;
        if (p)
            p->last_tx_ms = now_ms();
    }
    return rc;
}

static void schedule_flush(struct ipc_channel *ch, struct ipc_peer *p)
{
    p->dirty = true;
    if (!ch->flush_armed) {
        ch->flush_armed = true;
        event_active(ch->flush, EV_TIMEOUT, 0);
    }
}

/* Whether an encoded message of len bytes can join p's batch now. */
static bool batch_fits(const struct ipc_channel *ch, const struct ipc_peer *p, size_t len)
{
    return len <= IPC_BATCH_ITEM_MAX && p->bcount < ch->set.batch_count_max &&
           p->blen + IPC_BATCH_ITEM_PREFIX_LEN + len <= ch->set.batch_bytes_max;
}

static void batch_append(struct ipc_peer *p, const uint8_t *buf, size_t len)
{
    ipc_batch_put_item_len(p->bbuf + p->blen, (uint32_t)len);
    memcpy(p->bbuf + p->blen + IPC_BATCH_ITEM_PREFIX_LEN, buf, len);
    p->blen += IPC_BATCH_ITEM_PREFIX_LEN + len;
    p->bcount++;
}

/* Encodes m straight into p's batch; the caller checked it fits. */
static int batch_encode(struct ipc_channel *ch, struct ipc_peer *p, const struct ipc_msg *m)
{
    size_t at = p->blen + IPC_BATCH_ITEM_PREFIX_LEN, len = 0;
    int err = ipc_encode(m, &ch->set.limits, p->bbuf + at, ch->set.batch_bytes_max - at, &len);
    if (err != IPC_OK)
        return err;
    ipc_batch_put_item_len(p->bbuf + p->blen, (uint32_t)len);
    p->blen = at + len;
    p->bcount++;
    return IPC_OK;
}

/* Sends p's batch as one frame (a batch of one is sent as that message).
 * 0 when ZeroMQ took it, or refused it for a reason other than EAGAIN (the
 * batch is then lost, as a single message would be: reliable messages in it
 * are re-sent on their timer); -1 on EAGAIN with the batch kept. */
static int batch_send(struct ipc_channel *ch, struct ipc_peer *p)
{
    if (p->bcount == 0)
        return 0;
    const uint8_t *f = p->bbuf;
    size_t n = p->blen;
    if (p->bcount == 1) {
        f += IPC_BATCH_PREFIX_LEN + IPC_BATCH_ITEM_PREFIX_LEN;
        n -= IPC_BATCH_PREFIX_LEN + IPC_BATCH_ITEM_PREFIX_LEN;
    } else {
        ipc_batch_put_prefix(p->bbuf, ch->incarnation, (uint16_t)p->bcount);
    }
    if (frame_send(ch, p, f, n, p->bcount) != 0 && errno == EAGAIN)
        return -1;
    p->blen = IPC_BATCH_PREFIX_LEN;
    p->bcount = 0;
    return 0;
}

/* The first k entries of list went to ZeroMQ (or were refused for a reason
 * a later re-send may overcome, such as EHOSTUNREACH while the peer
 * reconnects): either way they are timed from now, at the tail of inflight. */
static void entries_sent(struct ipc_channel *ch, struct ipc_peer *p, struct out_list *list,
                         size_t k, uint64_t now)
{
    while (k-- > 0) {
        struct out_entry *e = TAILQ_FIRST(list);
        TAILQ_REMOVE(list, e, link);
        if (e->inflight) {
            ch->c.resent++;
        } else {
            e->inflight = true;
            p->npending--;
            p->pending_bytes -= IPC_BATCH_ITEM_PREFIX_LEN + e->len;
        }
        e->last_ms = now;
        TAILQ_INSERT_TAIL(&p->inflight, e, link);
    }
}

static bool entry_due(const struct ipc_channel *ch, const struct out_entry *e, bool resend,
                      uint64_t now)
{
    return !resend || now - e->last_ms >= ch->set.resend_ms;
}

/* Sends what p's batch holds, then the entries at the head of list: all of
 * "pending", or those of "inflight" due for re-sending (each at most once),
 * in as few frames as the caps allow; one too large for a batch goes alone
 * in its turn. full_only: only full batches go, the rest waits for the end
 * of the loop iteration. 0 when all went, -1 when ZeroMQ refused a frame
 * (EAGAIN): what did not go stays where it was, in order. */
static int send_entries(struct ipc_channel *ch, struct ipc_peer *p, struct out_list *list,
                        uint64_t now, bool full_only)
{
    bool resend = list == &p->inflight;
    size_t budget = resend ? p->nout : SIZE_MAX;
    for (;;) {
        size_t mark_len = p->blen;
        unsigned mark_count = p->bcount;
        size_t k = 0;
        struct out_entry *e = TAILQ_FIRST(list);
        while (e != NULL && k < budget && entry_due(ch, e, resend, now) &&
               batch_fits(ch, p, e->len)) {
            batch_append(p, e->buf, e->len);
            k++;
            e = TAILQ_NEXT(e, link);
        }
        bool more = e != NULL && k < budget && entry_due(ch, e, resend, now);
        if (full_only && !more) {
            p->blen = mark_len;
            p->bcount = mark_count;
            return 0;
        }
        if (p->bcount == 0) {
            if (!more)
                return 0;
            /* Above IPC_BATCH_ITEM_MAX: a frame of its own. */
            if (frame_send(ch, p, e->buf, e->len, 1) != 0 && errno == EAGAIN)
                return -1;
            entries_sent(ch, p, list, 1, now);
            budget--;
            continue;
        }
        if (batch_send(ch, p) != 0) {
            p->blen = mark_len; /* our copies out again: they stay queued */
            p->bcount = mark_count;
            return -1;
        }
        entries_sent(ch, p, list, k, now);
        budget -= k;
        if (!more)
            return 0;
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Writes the ok acknowledgements collected since the last flush into p's
 * batch as ACK_RANGES messages (a repeated id once), sending full batches on
 * the way. 0, or -1 when ZeroMQ refused a full batch (EAGAIN): the ids not
 * yet written stay collected. */
static int acks_to_batch(struct ipc_channel *ch, struct ipc_peer *p)
{
    if (p->nacks == 0)
        return 0;
    bool sorted = true;
    for (size_t i = 1; i < p->nacks && sorted; i++)
        sorted = p->acks[i - 1] <= p->acks[i];
    if (!sorted)
        qsort(p->acks, p->nacks, sizeof(*p->acks), cmp_u64);
    struct ipc_ack_range r[IPC_ACK_RANGES_MAX];
    size_t i = 0;
    while (i < p->nacks) {
        size_t j = i, nr = 0;
        uint32_t nid = 0;
        for (; j < p->nacks; j++) {
            uint64_t id = p->acks[j];
            if (nr > 0 && id - r[nr - 1].first < r[nr - 1].count)
                continue; /* the same id acknowledged twice (two copies arrived) */
            if (nid == IPC_ACK_IDS_MAX)
                break;
            if (nr > 0 && id - r[nr - 1].first == r[nr - 1].count) {
                r[nr - 1].count++;
                nid++;
                continue;
            }
            if (nr == IPC_ACK_RANGES_MAX)
                break;
            r[nr].first = id;
            r[nr].count = 1;
            nr++;
            nid++;
        }
        struct ipc_msg m = {.type = IPC_MSG_ACK_RANGES, .incarnation = ch->incarnation};
        m.ack_ranges.nranges = (uint16_t)nr;
        m.ack_ranges.ranges = r;
        if (!batch_fits(ch, p, IPC_HEADER_LEN + 2 + 12 * nr) && batch_send(ch, p) != 0) {
            memmove(p->acks, p->acks + i, (p->nacks - i) * sizeof(*p->acks));
            p->nacks -= i;
            return -1;
        }
        if (batch_encode(ch, p, &m) == IPC_OK)
            ch->c.acks_sent += nid;
        i = j;
    }
    p->nacks = 0;
    return 0;
}

/* Sends everything queued for p: acknowledgements, the batch, the pending
 * reliable messages. 0, or -1 when ZeroMQ refused (p is then stuck). Never
 * calls back into the application. */
static int peer_flush(struct ipc_channel *ch, struct ipc_peer *p)
{
    p->dirty = false;
    int rc = acks_to_batch(ch, p);
    if (rc == 0)
        rc = send_entries(ch, p, &p->pending, now_ms(), false);
    p->stuck = rc != 0;
    return rc;
}

/* The pending messages fill more than a batch: send the full ones now, so
 * a burst travels in full frames while it is being produced. */
static void peer_flush_full(struct ipc_channel *ch, struct ipc_peer *p)
{
    if (send_entries(ch, p, &p->pending, now_ms(), true) != 0)
        p->stuck = true;
}

static void flush_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct ipc_channel *ch = arg;
    ch->flush_armed = false;
    struct ipc_peer *p;
    TAILQ_FOREACH(p, &ch->peers, link)
    {
        /* A stuck peer stays dirty until ZeroMQ takes frames again. */
        if (p->dirty && !p->stuck)
            peer_flush(ch, p);
    }
}

/* Puts a message that is not kept for re-sending (an acknowledgement, a
 * best-effort message, one of the channel's own) in p's batch, after the
 * ok acknowledgements collected so far, or in a frame of its own after
 * everything queued before it when it is too large for a batch. 0, or -1
 * with errno: EAGAIN (the batch is full and ZeroMQ refuses it), EMSGSIZE or
 * EINVAL (m cannot be encoded), ENOMEM. */
static int queue_msg(struct ipc_channel *ch, struct ipc_peer *p, struct ipc_msg *m)
{
    /* The acknowledgements given so far go first: the peer must see them
     * before, say, our GOODBYE ends its session. */
    if (p->nacks > 0 && !p->stuck)
        acks_to_batch(ch, p);
    m->incarnation = ch->incarnation;
    size_t len = ipc_encoded_len(m);
    if (len == 0) {
        errno = EINVAL;
        return -1;
    }
    int err;
    if (len > IPC_BATCH_ITEM_MAX) {
        uint8_t *buf = NULL;
        err = ipc_encode_alloc(m, &ch->set.limits, &buf, &len);
        if (err == IPC_OK && peer_flush(ch, p) != 0) {
            free(buf);
            errno = EAGAIN;
            return -1;
        }
        if (err == IPC_OK) {
            int rc = frame_send(ch, p, buf, len, 1);
            int saved = errno;
            free(buf);
            errno = saved;
            return rc;
        }
    } else {
        if (!batch_fits(ch, p, len) && (p->stuck || peer_flush(ch, p) != 0)) {
            errno = EAGAIN;
            return -1;
        }
        err = batch_encode(ch, p, m);
        if (err == IPC_OK) {
            schedule_flush(ch, p);
            return 0;
        }
    }
    errno = err == IPC_ERR_OVERSIZED ? EMSGSIZE : (err == IPC_ERR_NOMEM ? ENOMEM : EINVAL);
    return -1;
}

/* As queue_msg(), then flushes p: for the channel's own messages that must
 * not wait (HELLO_ACK, HEARTBEAT, GOODBYE), in order after what is queued. */
static int send_now(struct ipc_channel *ch, struct ipc_peer *p, struct ipc_msg *m)
{
    if (queue_msg(ch, p, m) != 0)
        return -1;
    return peer_flush(ch, p);
}

/* Encodes and sends a best-effort message the channel makes itself: to a
 * peer through its batch, at once; to an identity without a session (p
 * NULL) in a frame of its own. */
static int send_ctl(struct ipc_channel *ch, struct ipc_peer *p, const uint8_t *ident,
                    size_t ident_len, struct ipc_msg *m)
{
    if (p)
        return send_now(ch, p, m);
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
    int rc = ipc_zmq_send(ch->z, ident, ident_len, buf, len);
    if (rc == 0) {
        ch->c.sent++;
        ch->c.frames_sent++;
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

/* An ok acknowledgement joins the ids of this loop iteration (one
 * ACK_RANGES at the flush); an error one is an ACK of its own in the batch.
 * A lost acknowledgement (no room while ZeroMQ refuses) only costs a
 * re-send, answered from the duplicate window. */
static void send_ack(struct ipc_channel *ch, struct ipc_peer *p, uint64_t id, const char *cond,
                     const char *text)
{
    ch->ack_seq++;
    if (ch->set.drop_ack_one_in && ch->ack_seq % ch->set.drop_ack_one_in == 0)
        return; /* fault injection for tests: the ACK is "lost" */
    if (cond == NULL || cond[0] == '\0') {
        if (p->nacks == IPC_ACK_IDS_MAX && (p->stuck || acks_to_batch(ch, p) != 0))
            return;
        p->acks[p->nacks++] = id;
        schedule_flush(ch, p);
        return;
    }
    struct ipc_msg m = {.type = IPC_MSG_ACK};
    m.ack.acked_id = id;
    m.ack.status = IPC_ACK_ERROR;
    m.ack.condition = cond;
    m.ack.text = text ? text : "";
    if (queue_msg(ch, p, &m) == 0)
        ch->c.acks_sent++;
}

/* ---- peers ---- */

static void peer_release(struct ipc_peer *p)
{
    ipc_idmap_free(p->out);
    free(p->bbuf);
    free(p->acks);
    free(p);
}

static struct ipc_peer *peer_new(struct ipc_channel *ch, const uint8_t *ident, size_t ident_len)
{
    struct ipc_peer *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return NULL;
    p->out = ipc_idmap_new(1024);
    p->bbuf = malloc(ch->set.batch_bytes_max);
    p->acks = malloc(IPC_ACK_IDS_MAX * sizeof(*p->acks));
    if (p->out == NULL || p->bbuf == NULL || p->acks == NULL) {
        peer_release(p);
        return NULL;
    }
    p->blen = IPC_BATCH_PREFIX_LEN;
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
    p->fd = -1;
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
    peer_release(p); /* what its batch still held was for this session only */
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

/* The peer acknowledged id; ack is the ACK to show the application. */
static void acked(struct ipc_channel *ch, struct ipc_peer *p, uint64_t id,
                  const struct ipc_msg *ack)
{
    ch->c.acks_received++;
    struct out_entry *e = ipc_idmap_del(p->out, id);
    if (e == NULL)
        return; /* an ACK of a re-sent copy we already had: harmless */
    if (e->inflight) {
        TAILQ_REMOVE(&p->inflight, e, link);
    } else {
        TAILQ_REMOVE(&p->pending, e, link);
        p->npending--;
        p->pending_bytes -= IPC_BATCH_ITEM_PREFIX_LEN + e->len;
    }
    p->nout--;
    p->nout_bytes -= e->len;
    if (ack->ack.status != IPC_ACK_OK && ch->cbs.refused) {
        struct ipc_msg *sent = NULL;
        if (ipc_decode(e->buf, e->len, &ch->set.limits, &sent) == IPC_OK)
            ch->cbs.refused(ch, p, ack, sent, ch->arg);
        ipc_msg_free(sent);
    }
    free(e);
    if (ch->cbs.acked)
        ch->cbs.acked(ch, p, ack, ch->arg);
}

/* Every id of the ranges, one ok ACK each for the application. The decoder
 * capped them at IPC_ACK_IDS_MAX ids. */
static void on_ack_ranges(struct ipc_channel *ch, struct ipc_peer *p, const struct ipc_msg *m)
{
    struct ipc_msg a = {.version = m->version, .type = IPC_MSG_ACK, .incarnation = m->incarnation};
    a.ack.status = IPC_ACK_OK;
    a.ack.condition = "";
    a.ack.text = "";
    for (uint16_t i = 0; i < m->ack_ranges.nranges; i++) {
        const struct ipc_ack_range *r = &m->ack_ranges.ranges[i];
        for (uint32_t k = 0; k < r->count; k++) {
            a.ack.acked_id = r->first + k;
            acked(ch, p, a.ack.acked_id, &a);
        }
    }
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

/* One decoded message, alone or an item of a batch. The peer is looked up
 * for each: the one before may have ended its session. */
static void on_msg(struct ipc_channel *ch, const uint8_t *ident, size_t ident_len,
                   const char *user_id, const struct ipc_msg *m, uint64_t now)
{
    ch->c.msgs_received++;
    struct ipc_peer *p = ch->server ? peer_by_ident(ch, ident, ident_len) : TAILQ_FIRST(&ch->peers);
    if (p && p->alive) {
        p->last_rx_ms = now;
        p->fd = ipc_zmq_current_fd(ch->z);
    }
    if (m->type == IPC_MSG_HELLO || m->type == IPC_MSG_HELLO_ACK) {
        if (m->type == IPC_MSG_HELLO)
            on_hello(ch, ident, ident_len, user_id, p, m);
        else
            on_hello_ack(ch, p, m);
        return;
    }
    if (p == NULL || !p->alive) {
        ch->c.refused++;
        /* A peer we have no session with (we restarted, or declared it
         * dead): tell it so it says HELLO again. Never answer a GOODBYE. */
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
        return;
    }
    if (m->incarnation != p->incarnation) {
        peer_down(ch, p, "restarted");
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
        acked(ch, p, m->ack.acked_id, m);
        break;
    case IPC_MSG_ACK_RANGES:
        on_ack_ranges(ch, p, m);
        break;
    default:
        if (ipc_msg_type_reliable(m->type))
            on_reliable(ch, p, m);
        else if (ch->cbs.recv)
            ch->cbs.recv(ch, p, m, ch->arg);
        break;
    }
}

/* A frame the codec refused: counted, logged at INFO (the same reason from
 * the same peer once a minute, with how many were left out), and answered
 * when that helps the sender: an error ACK for an oversized reliable
 * message, so it is not re-sent for ever, and a GOODBYE saying so for a
 * HELLO of another protocol version (a peer of an older release). */
static void on_bad_frame(struct ipc_channel *ch, const uint8_t *ident, size_t ident_len,
                         const uint8_t *payload, size_t len, int err)
{
    ch->c.decode_errors++;
    struct ipc_peer *p = ch->server ? peer_by_ident(ch, ident, ident_len) : TAILQ_FIRST(&ch->peers);
    struct ipc_hdr h = {0};
    ipc_decode_header(payload, len, &h);
    const char *who = p ? (p->ident_hex[0] ? p->ident_hex : "server") : "unknown";
    char key[sizeof(ch->badframe_key)];
    snprintf(key, sizeof(key), "%d %s", err, who);
    uint64_t now = now_ms();
    if (strcmp(key, ch->badframe_key) != 0 || now - ch->badframe_ms >= 60000) {
        log_info("ipc: refused message peer=%s type=%u version=%u len=%zu reason=\"%s\" "
                 "suppressed=%u",
                 who, (unsigned)h.type, (unsigned)h.version, len, ipc_strerror(err),
                 ch->badframe_suppressed);
        snprintf(ch->badframe_key, sizeof(ch->badframe_key), "%s", key);
        ch->badframe_ms = now;
        ch->badframe_suppressed = 0;
    } else {
        ch->badframe_suppressed++;
    }
    /* Tell the sender not to re-send what we will never accept. */
    if (p && p->alive && err == IPC_ERR_OVERSIZED && h.version == IPC_PROTOCOL_VERSION &&
        ipc_msg_type_reliable(h.type) && h.id != 0)
        send_ack(ch, p, h.id, "policy-violation", "message above the size limit");
    if (ch->server && err == IPC_ERR_VERSION && h.type == IPC_MSG_HELLO &&
        (ident_len != ch->nosession_len || memcmp(ident, ch->nosession_ident, ident_len) != 0 ||
         now - ch->nosession_ms >= 60000)) {
        if (ident_len <= sizeof(ch->nosession_ident)) {
            memcpy(ch->nosession_ident, ident, ident_len);
            ch->nosession_len = ident_len;
        }
        ch->nosession_ms = now;
        char reason[96];
        snprintf(reason, sizeof(reason), "protocol version %u not supported, this edge speaks %u",
                 (unsigned)h.version, (unsigned)IPC_PROTOCOL_VERSION);
        send_goodbye(ch, NULL, ident, ident_len, reason);
    }
}

/* A TCP connection closed. A peer process that died (kill -9, crash) closes
 * its connection at once, so its session ends now rather than after dead_ms
 * of silence, and its unacknowledged messages go to a survivor within
 * milliseconds (issue 6: recovery under 2 seconds). A peer that was only cut
 * off by the network says HELLO again when ZeroMQ reconnects; what it had
 * in flight is re-sent and duplicates are dropped by id. */
static void on_disconnected(int fd, void *arg)
{
    struct ipc_channel *ch = arg;
    struct ipc_peer *p;
    bool any = false;
    TAILQ_FOREACH(p, &ch->peers, link)
    {
        if (!p->alive || p->doomed || (ch->server && (fd < 0 || p->fd != fd)))
            continue;
        p->doomed = true;
        p->doom_reason = "connection closed";
        any = true;
    }
    if (any)
        event_active(ch->tick, EV_TIMEOUT, 0);
}

static void on_frame(const uint8_t *ident, size_t ident_len, const char *user_id,
                     const uint8_t *payload, size_t len, void *arg)
{
    struct ipc_channel *ch = arg;
    ch->c.received++;
    struct ipc_msg *m = NULL;
    int err = ipc_decode(payload, len, &ch->set.limits, &m);
    if (err != IPC_OK) {
        on_bad_frame(ch, ident, ident_len, payload, len, err);
        return;
    }
    uint64_t now = now_ms();
    if (m->type == IPC_MSG_BATCH) {
        for (uint16_t i = 0; i < m->batch.count; i++)
            on_msg(ch, ident, ident_len, user_id, &m->batch.msgs[i], now);
    } else {
        on_msg(ch, ident, ident_len, user_id, m, now);
    }
    ipc_msg_free(m);
}

static void on_writable(void *arg)
{
    struct ipc_channel *ch = arg;
    struct ipc_peer *p;
    TAILQ_FOREACH(p, &ch->peers, link)
    {
        if (p->stuck || p->dirty)
            peer_flush(ch, p);
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
        if (p->dirty || p->stuck || !TAILQ_EMPTY(&p->pending))
            peer_flush(ch, p);
        if (!p->stuck && send_entries(ch, p, &p->inflight, now, false) != 0)
            p->stuck = true;
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
    /* Batches rely on every peer taking items of IPC_BATCH_ITEM_MAX bytes. */
    if (ch->set.batch_bytes_max < IPC_BATCH_BYTES_MIN ||
        ch->set.batch_bytes_max > IPC_BATCH_BYTES_MAX || ch->set.batch_count_max == 0 ||
        ch->set.batch_count_max > IPC_BATCH_COUNT_MAX ||
        ch->set.limits.stanza_max < IPC_STANZA_MAX_MIN ||
        ch->set.limits.config_max < IPC_BATCH_ITEM_MAX) {
        log_warnx("ipc: channel batch or size settings out of range (batch %zu bytes, %u "
                  "messages; stanza cap %u, configuration cap %u)",
                  ch->set.batch_bytes_max, ch->set.batch_count_max, ch->set.limits.stanza_max,
                  ch->set.limits.config_max);
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
    ch->flush = event_new(base, -1, 0, flush_cb, ch);
    struct timeval tv = {.tv_sec = ch->tick_ms / 1000, .tv_usec = (ch->tick_ms % 1000) * 1000};
    if (ch->tick == NULL || ch->flush == NULL || event_add(ch->tick, &tv) != 0) {
        if (ch->tick)
            event_free(ch->tick);
        if (ch->flush)
            event_free(ch->flush);
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
    ipc_zmq_set_disconnected_cb(ch->z, on_disconnected);
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
    ipc_zmq_set_disconnected_cb(ch->z, on_disconnected);
    /* The first HELLO goes out from the loop's first tick. */
    return ch;
}

void ipc_channel_free(struct ipc_channel *ch)
{
    if (ch == NULL)
        return;
    struct ipc_peer *p;
    while ((p = TAILQ_FIRST(&ch->peers)) != NULL) {
        /* What this loop iteration queued (the last ACKs) goes first. */
        if (ch->z && p->alive)
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
    if (ch->flush)
        event_free(ch->flush);
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
    case IPC_MSG_BATCH:
    case IPC_MSG_ACK_RANGES:
        errno = EINVAL;
        return -1;
    default:
        break;
    }
    bool reliable = ipc_msg_type_reliable(m->type);
    if (!reliable)
        return queue_msg(ch, p, m);
    if (p->nout >= ch->set.unacked_max) {
        errno = ENOBUFS;
        return -1;
    }
    uint64_t old_id = m->id;
    if (m->id == 0)
        m->id = ++ch->next_id;
    else if (ipc_idmap_get(p->out, m->id) != NULL) {
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
        if (old_id == 0) {
            m->id = 0;
            ch->next_id--;
        }
        errno = err == IPC_ERR_OVERSIZED ? EMSGSIZE : (err == IPC_ERR_NOMEM ? ENOMEM : EINVAL);
        return -1;
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
    p->npending++;
    p->pending_bytes += IPC_BATCH_ITEM_PREFIX_LEN + e->len;
    /* Full batches leave now; the rest at the end of this loop iteration. */
    if (!p->stuck && (p->blen + p->pending_bytes > ch->set.batch_bytes_max ||
                      p->bcount + p->npending > ch->set.batch_count_max))
        peer_flush_full(ch, p);
    schedule_flush(ch, p);
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
