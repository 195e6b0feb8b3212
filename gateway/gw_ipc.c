/*
 * gw_ipc.c - stanzas and configuration between the gateway and its edges
 * over ipc_channel.h.
 */
#include "gw_ipc.h"

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>

#include "conf_file.h"
#include "conf_model.h"
#include "gw_conf.h"
#include "gw_confpush.h"
#include "ipc_channel.h"
#include "ipc_idmap.h"
#include "ipc_metrics.h"
#include "ipc_keys.h"
#include "log.h"

#define RECENT_MAX 4096 /* acknowledged sends remembered for BOUNCE */

struct out {
    uint64_t handle;
    gw_ipc_sent_cb *cb;
    void *arg;
    int edge; /* -1 while queued */
    uint64_t msg_id;
    double deadline; /* monotonic seconds, while queued */
    TAILQ_ENTRY(out) q;
    char *from, *to, *xml; /* while queued: one allocation */
    size_t len;
};
TAILQ_HEAD(outq, out);

struct gw_ipc_in {
    struct gw_ipc *ipc;
    int edge;
    uint64_t peer_id;
    uint64_t msg_id;
    uint64_t origin; /* the edge's incarnation, with msg_id unique and kept on re-sends */
};

struct edge_link {
    struct gw_ipc *ipc;
    int idx;
    struct ipc_channel *ch;
    char *endpoint;
    bool up;
    struct ipc_idmap *inflight; /* STANZA_OUT id -> struct out */
    uint64_t config_sent;       /* version last pushed in this session */
};

struct recent {
    int edge;
    uint64_t msg_id;
    uint64_t handle;
};

struct gw_ipc {
    struct event_base *base;
    struct gw_ipc_cbs cbs;
    void *arg;
    struct edge_link edges[GW_EDGES_MAX];
    size_t n_edges;
    struct ipc_idmap *handles; /* handle -> struct out, until its callback */
    uint64_t next_handle;
    struct outq queue;
    size_t n_queued;
    uint64_t n_dropped; /* refused because the queue was full */
    unsigned queue_max, queue_timeout;
    struct event *queue_timer;
    struct recent recent[RECENT_MAX];
    size_t recent_next;
    char *config_text;
    uint64_t config_version;
    const struct gw_conf *gc; /* the running configuration (gw_ipc_set_conf) */
    uint64_t conf_newest;     /* newest version running or written to config_cache */
};

static double now_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t key_hash(const char *s, const char *name)
{
    uint64_t h = 1469598103934665603ULL;
    for (const char *p = s; *p; p++)
        h = (h ^ (uint8_t)*p) * 1099511628211ULL;
    h = (h ^ 0xff) * 1099511628211ULL;
    for (const char *p = name; *p; p++)
        h = (h ^ (uint8_t)*p) * 1099511628211ULL;
    return h;
}

/* Rendezvous hashing of the partner domain over the connected edges, so
 * that one partner's stanzas share the edge's stream to it. */
static struct edge_link *pick_edge(struct gw_ipc *ipc, const char *to_domain, int skip)
{
    struct edge_link *best = NULL;
    uint64_t best_h = 0;
    for (size_t i = 0; i < ipc->n_edges; i++) {
        struct edge_link *e = &ipc->edges[i];
        if (!e->up || (int)i == skip || ipc_channel_server_peer(e->ch) == NULL)
            continue;
        uint64_t h = key_hash(to_domain, e->endpoint);
        if (best == NULL || h > best_h) {
            best = e;
            best_h = h;
        }
    }
    return best;
}

static void finish(struct gw_ipc *ipc, struct out *o, const char *condition, const char *text)
{
    ipc_idmap_del(ipc->handles, o->handle);
    if (o->cb)
        o->cb(o->arg, o->handle, condition, text ? text : "");
    free(o->from);
    free(o);
}

/* ---- the waiting queue ------------------------------------------------- */

static void arm_queue_timer(struct gw_ipc *ipc)
{
    struct out *o = TAILQ_FIRST(&ipc->queue);
    if (o == NULL) {
        evtimer_del(ipc->queue_timer);
        return;
    }
    double left = o->deadline - now_mono();
    if (left < 0)
        left = 0;
    struct timeval tv = {(time_t)left, (suseconds_t)((left - (double)(time_t)left) * 1e6)};
    evtimer_add(ipc->queue_timer, &tv);
}

static void queue_expire(evutil_socket_t fd, short what, void *arg)
{
    struct gw_ipc *ipc = arg;
    (void)fd;
    (void)what;
    double now = now_mono();
    struct out *o;
    while ((o = TAILQ_FIRST(&ipc->queue)) != NULL && o->deadline <= now) {
        TAILQ_REMOVE(&ipc->queue, o, q);
        ipc->n_queued--;
        log_info("event=ipc-queue-timeout handle=%llu to=%s", (unsigned long long)o->handle, o->to);
        finish(ipc, o, "remote-server-timeout", "no edge connected");
    }
    arm_queue_timer(ipc);
}

/* Hands o to an edge. Returns 0 sent, -1 no edge could take it (o is
 * unchanged). The payload is freed once sent: a dead edge's unacked
 * callback gives it back. */
static int transmit(struct gw_ipc *ipc, struct out *o, int skip)
{
    for (int attempt = 0; attempt < (int)ipc->n_edges; attempt++) {
        struct edge_link *e = pick_edge(ipc, o->to, attempt == 0 ? skip : -1);
        if (e == NULL)
            return -1;
        struct ipc_msg m = {.type = IPC_MSG_STANZA_OUT};
        m.stanza_out.from = o->from;
        m.stanza_out.to = o->to;
        m.stanza_out.stanza = (const uint8_t *)o->xml;
        m.stanza_out.stanza_len = o->len;
        if (ipc_channel_send(e->ch, ipc_channel_server_peer(e->ch), &m) != 0) {
            log_info("event=ipc-send-failed type=stanza_out edge=%s errno=%d", e->endpoint, errno);
            if (errno == EMSGSIZE || errno == EINVAL)
                return -2;
            skip = e->idx;
            continue;
        }
        if (ipc_idmap_put(e->inflight, m.id, o) != 0) {
            /* The acknowledgement then finds nothing: report now. */
            o->edge = -1;
            return -3;
        }
        o->edge = e->idx;
        o->msg_id = m.id;
        free(o->from);
        o->from = o->to = o->xml = NULL;
        return 0;
    }
    return -1;
}

static void flush_queue(struct gw_ipc *ipc)
{
    struct out *o;
    while ((o = TAILQ_FIRST(&ipc->queue)) != NULL) {
        int rc = transmit(ipc, o, -1);
        if (rc == -1)
            break;
        TAILQ_REMOVE(&ipc->queue, o, q);
        ipc->n_queued--;
        if (rc == -2)
            finish(ipc, o, "policy-violation", "stanza refused by the IPC channel");
        else if (rc == -3)
            finish(ipc, o, "internal-server-error", "out of memory");
    }
    arm_queue_timer(ipc);
}

static struct out *out_new(const char *from, const char *to, const char *xml, size_t len)
{
    struct out *o = calloc(1, sizeof(*o));
    size_t fl = strlen(from), tl = strlen(to);
    char *p = malloc(fl + tl + len + 3);
    if (o == NULL || p == NULL) {
        free(o);
        free(p);
        return NULL;
    }
    o->from = p;
    memcpy(p, from, fl + 1);
    o->to = p + fl + 1;
    memcpy(o->to, to, tl + 1);
    o->xml = o->to + tl + 1;
    memcpy(o->xml, xml, len);
    o->xml[len] = '\0';
    o->len = len;
    o->edge = -1;
    return o;
}

static int enqueue(struct gw_ipc *ipc, struct out *o, bool at_head)
{
    if (ipc->n_queued >= ipc->queue_max) {
        ipc->n_dropped++;
        return -1;
    }
    o->edge = -1;
    o->deadline = now_mono() + ipc->queue_timeout;
    if (at_head)
        TAILQ_INSERT_HEAD(&ipc->queue, o, q);
    else
        TAILQ_INSERT_TAIL(&ipc->queue, o, q);
    ipc->n_queued++;
    arm_queue_timer(ipc);
    return 0;
}

uint64_t gw_ipc_send(struct gw_ipc *ipc, const char *from_domain, const char *to_domain,
                     const char *xml, size_t len, gw_ipc_sent_cb *cb, void *cbarg)
{
    struct out *o = out_new(from_domain, to_domain, xml, len);
    if (o == NULL) {
        errno = ENOMEM;
        return 0;
    }
    o->handle = ++ipc->next_handle;
    o->cb = cb;
    o->arg = cbarg;
    if (ipc_idmap_put(ipc->handles, o->handle, o) != 0) {
        free(o->from);
        free(o);
        errno = ENOMEM;
        return 0;
    }
    int rc = TAILQ_EMPTY(&ipc->queue) ? transmit(ipc, o, -1) : -1;
    if (rc == 0)
        return o->handle;
    if (rc == -1 && enqueue(ipc, o, false) == 0)
        return o->handle;
    ipc_idmap_del(ipc->handles, o->handle);
    free(o->from);
    free(o);
    errno = rc == -2 ? EMSGSIZE : rc == -3 ? ENOMEM : ENOBUFS;
    return 0;
}

void gw_ipc_forget(struct gw_ipc *ipc, uint64_t handle)
{
    struct out *o = handle ? ipc_idmap_get(ipc->handles, handle) : NULL;
    if (o)
        o->cb = NULL;
}

/* ---- inbound ------------------------------------------------------------ */

int gw_ipc_in_done(struct gw_ipc *ipc, struct gw_ipc_in *in, const char *condition,
                   const char *text)
{
    struct edge_link *e = &ipc->edges[in->edge];
    struct ipc_peer *peer = ipc_channel_peer_find(e->ch, in->peer_id);
    int rc = -1;
    if (peer != NULL) {
        rc = ipc_channel_ack(e->ch, peer, in->msg_id, condition && *condition ? condition : NULL,
                             text ? text : "");
        if (rc != 0)
            log_info("event=ipc-ack-failed edge=%s id=%llu errno=%d", e->endpoint,
                     (unsigned long long)in->msg_id, errno);
    }
    free(in);
    return rc;
}

void gw_ipc_in_drop(struct gw_ipc_in *in)
{
    free(in);
}

uint64_t gw_ipc_in_id(const struct gw_ipc_in *in)
{
    return in->msg_id;
}

uint64_t gw_ipc_in_origin(const struct gw_ipc_in *in)
{
    return in->origin;
}

static void on_bounce(struct gw_ipc *ipc, struct edge_link *e, const struct ipc_msg *m)
{
    uint64_t handle = 0;
    struct out *o = ipc_idmap_get(e->inflight, m->bounce.stanza_id);
    if (o)
        handle = o->handle;
    for (size_t i = 0; i < RECENT_MAX && handle == 0; i++)
        if (ipc->recent[i].edge == e->idx && ipc->recent[i].msg_id == m->bounce.stanza_id)
            handle = ipc->recent[i].handle;
    log_info("event=bounce edge=%s id=%llu handle=%llu condition=%s", e->endpoint,
             (unsigned long long)m->bounce.stanza_id, (unsigned long long)handle,
             m->bounce.condition);
    if (ipc->cbs.bounce)
        ipc->cbs.bounce(ipc->arg, handle, m->bounce.condition, m->bounce.text);
}

/* ---- channel callbacks -------------------------------------------------- */

static void send_config(struct gw_ipc *ipc, struct edge_link *e)
{
    if (ipc->config_text == NULL || !e->up || e->config_sent == ipc->config_version)
        return;
    struct ipc_peer *peer = ipc_channel_server_peer(e->ch);
    if (peer == NULL)
        return;
    struct ipc_msg m = {.type = IPC_MSG_CONFIG_PUSH};
    m.config_push.version = ipc->config_version;
    m.config_push.text = (const uint8_t *)ipc->config_text;
    m.config_push.text_len = strlen(ipc->config_text);
    if (ipc_channel_send(e->ch, peer, &m) != 0) {
        log_warn("event=config-push edge=%s version=%llu outcome=not-sent", e->endpoint,
                 (unsigned long long)ipc->config_version);
        return;
    }
    e->config_sent = ipc->config_version;
    log_info("event=config-push edge=%s version=%llu bytes=%zu", e->endpoint,
             (unsigned long long)ipc->config_version, strlen(ipc->config_text));
}

static void peer_up(struct ipc_channel *ch, struct ipc_peer *peer, void *arg)
{
    struct edge_link *e = arg;
    (void)ch;
    e->up = true;
    e->config_sent = 0;
    log_info("event=edge-up edge=%s name=%s", e->endpoint, ipc_peer_name(peer));
    send_config(e->ipc, e);
    flush_queue(e->ipc);
    if (e->ipc->cbs.edges)
        e->ipc->cbs.edges(e->ipc->arg, gw_ipc_edges_up(e->ipc));
}

static void peer_down(struct ipc_channel *ch, struct ipc_peer *peer, const char *reason, void *arg)
{
    struct edge_link *e = arg;
    (void)ch;
    e->up = false;
    log_info("event=edge-down edge=%s name=%s reason=\"%s\"", e->endpoint, ipc_peer_name(peer),
             reason);
    if (e->ipc->cbs.edges)
        e->ipc->cbs.edges(e->ipc->arg, gw_ipc_edges_up(e->ipc));
}

static void recv_cb(struct ipc_channel *ch, struct ipc_peer *peer, const struct ipc_msg *m,
                    void *arg)
{
    struct edge_link *e = arg;
    struct gw_ipc *ipc = e->ipc;
    switch (m->type) {
    case IPC_MSG_STANZA_IN: {
        struct gw_ipc_in *in = malloc(sizeof(*in));
        if (in == NULL) {
            ipc_channel_ack(ch, peer, m->id, "resource-constraint", "gateway out of memory");
            return;
        }
        in->ipc = ipc;
        in->edge = e->idx;
        in->peer_id = ipc_peer_id(peer);
        in->msg_id = m->id;
        in->origin = m->incarnation;
        ipc->cbs.stanza(ipc->arg, in, m->stanza_in.local, m->stanza_in.remote,
                        (const char *)m->stanza_in.stanza, m->stanza_in.stanza_len);
        break;
    }
    case IPC_MSG_BOUNCE:
        ipc_channel_ack(ch, peer, m->id, NULL, NULL);
        on_bounce(ipc, e, m);
        break;
    case IPC_MSG_CONFIG_PUSH: {
        ipc_channel_ack(ch, peer, m->id, NULL, NULL);
        char reason[512];
        bool ok = gw_confpush_take(ipc->gc, &ipc->conf_newest, m->config_push.version,
                                   (const char *)m->config_push.text, m->config_push.text_len,
                                   reason, sizeof(reason));
        struct ipc_msg a = {.type = IPC_MSG_CONFIG_ACK};
        a.config_ack.version = m->config_push.version;
        a.config_ack.status = ok ? IPC_CONFIG_APPLIED : IPC_CONFIG_REFUSED;
        a.config_ack.reason = reason;
        if (ipc_channel_send(ch, peer, &a) != 0)
            log_info("event=ipc-send-failed type=config_ack edge=%s errno=%d", e->endpoint, errno);
        break;
    }
    case IPC_MSG_CONFIG_ACK:
        ipc_channel_ack(ch, peer, m->id, NULL, NULL);
        if (m->config_ack.status == IPC_CONFIG_APPLIED)
            log_info("event=config-ack edge=%s version=%llu outcome=applied", e->endpoint,
                     (unsigned long long)m->config_ack.version);
        else
            log_warnx("event=config-ack edge=%s version=%llu outcome=refused reason=\"%s\"",
                      e->endpoint, (unsigned long long)m->config_ack.version, m->config_ack.reason);
        break;
    default:
        if (ipc_msg_type_reliable(m->type))
            ipc_channel_ack(ch, peer, m->id, "feature-not-implemented",
                            "the gateway does not take this message");
        break;
    }
}

static void acked_cb(struct ipc_channel *ch, struct ipc_peer *peer, const struct ipc_msg *ack,
                     void *arg)
{
    struct edge_link *e = arg;
    struct gw_ipc *ipc = e->ipc;
    (void)ch;
    (void)peer;
    struct out *o = ipc_idmap_del(e->inflight, ack->ack.acked_id);
    if (o == NULL)
        return; /* a CONFIG_PUSH: its outcome comes as CONFIG_ACK */
    struct recent *r = &ipc->recent[ipc->recent_next++ % RECENT_MAX];
    r->edge = e->idx;
    r->msg_id = ack->ack.acked_id;
    r->handle = o->handle;
    if (ack->ack.status == IPC_ACK_OK)
        finish(ipc, o, NULL, NULL);
    else
        finish(ipc, o, ack->ack.condition[0] ? ack->ack.condition : "undefined-condition",
               ack->ack.text);
}

static void unacked_cb(struct ipc_channel *ch, struct ipc_peer *peer, const struct ipc_msg *msg,
                       void *arg)
{
    struct edge_link *e = arg;
    struct gw_ipc *ipc = e->ipc;
    (void)ch;
    (void)peer;
    if (msg->type != IPC_MSG_STANZA_OUT)
        return; /* a CONFIG_PUSH goes again when the session comes back */
    struct out *o = ipc_idmap_del(e->inflight, msg->id);
    if (o == NULL)
        return;
    struct out *copy = out_new(msg->stanza_out.from, msg->stanza_out.to,
                               (const char *)msg->stanza_out.stanza, msg->stanza_out.stanza_len);
    if (copy == NULL) {
        finish(ipc, o, "internal-server-error", "out of memory");
        return;
    }
    o->from = copy->from;
    o->to = copy->to;
    o->xml = copy->xml;
    o->len = copy->len;
    free(copy);
    int rc = transmit(ipc, o, e->idx);
    if (rc == 0)
        return;
    if (rc == -1 && enqueue(ipc, o, true) == 0)
        return;
    finish(ipc, o, "remote-server-timeout", "the edge went away and no other can take it");
}

/* ---- life cycle --------------------------------------------------------- */

struct gw_ipc *gw_ipc_new(struct event_base *base, const struct gw_conf *gc,
                          const struct gw_ipc_cbs *cbs, void *arg, char *err, size_t errlen)
{
    struct ipc_keypair kp;
    if (ipc_keys_load_pair(gc->key_dir, gc->key_base, &kp) != 0) {
        snprintf(err, errlen, "cannot load the gateway key pair %s/%s.key/.pub: %s", gc->key_dir,
                 gc->key_base, strerror(errno));
        return NULL;
    }
    struct gw_ipc *ipc = calloc(1, sizeof(*ipc));
    if (ipc == NULL) {
        ipc_keypair_wipe(&kp);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    ipc->base = base;
    ipc->cbs = *cbs;
    ipc->arg = arg;
    TAILQ_INIT(&ipc->queue);
    ipc->handles = ipc_idmap_new(1024);
    ipc->queue_timer = evtimer_new(base, queue_expire, ipc);
    for (size_t i = 0; i < RECENT_MAX; i++)
        ipc->recent[i].edge = -1;
    gw_ipc_set_conf(ipc, gc);
    if (ipc->handles == NULL || ipc->queue_timer == NULL) {
        ipc_keypair_wipe(&kp);
        gw_ipc_free(ipc);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    static const struct ipc_channel_cbs chcbs = {
        .peer_up = peer_up,
        .peer_down = peer_down,
        .recv = recv_cb,
        .acked = acked_cb,
        .unacked = unacked_cb,
    };
    struct ipc_channel_settings st;
    ipc_channel_settings_default(&st);
    for (size_t i = 0; i < gc->n_edges; i++) {
        struct edge_link *e = &ipc->edges[i];
        e->ipc = ipc;
        e->idx = (int)i;
        e->endpoint = strdup(gc->edges[i].endpoint);
        e->inflight = ipc_idmap_new(1024);
        ipc->n_edges++;
        if (e->endpoint && e->inflight)
            e->ch = ipc_channel_client_new(base, e->endpoint, gc->local.name, IPC_ROLE_GATEWAY, &kp,
                                           gc->edges[i].public_key, &st, &chcbs, e);
        if (e->ch == NULL) {
            snprintf(err, errlen, "cannot open the IPC channel to %s", gc->edges[i].endpoint);
            ipc_keypair_wipe(&kp);
            gw_ipc_free(ipc);
            return NULL;
        }
        log_info("event=start edge=%s", e->endpoint);
    }
    ipc_keypair_wipe(&kp);
    return ipc;
}

void gw_ipc_set_conf(struct gw_ipc *ipc, const struct gw_conf *gc)
{
    ipc->gc = gc;
    if (gc->conf->version > ipc->conf_newest)
        ipc->conf_newest = gc->conf->version;
    ipc->queue_max = gc->local.queue_max;
    ipc->queue_timeout = gc->local.queue_timeout;
}

void gw_ipc_free(struct gw_ipc *ipc)
{
    if (ipc == NULL)
        return;
    /* Channels first: their unacked callbacks put stanzas back in the
     * queue, which is failed below. */
    for (size_t i = 0; i < ipc->n_edges; i++)
        ipc->edges[i].up = false;
    for (size_t i = 0; i < ipc->n_edges; i++) {
        ipc_channel_free(ipc->edges[i].ch);
        ipc->edges[i].ch = NULL;
    }
    struct out *o;
    while ((o = TAILQ_FIRST(&ipc->queue)) != NULL) {
        TAILQ_REMOVE(&ipc->queue, o, q);
        finish(ipc, o, "remote-server-timeout", "shutting down");
    }
    for (size_t i = 0; i < ipc->n_edges; i++) {
        ipc_idmap_free(ipc->edges[i].inflight);
        free(ipc->edges[i].endpoint);
    }
    ipc_idmap_free(ipc->handles);
    if (ipc->queue_timer)
        event_free(ipc->queue_timer);
    free(ipc->config_text);
    free(ipc);
}

int gw_ipc_push_config(struct gw_ipc *ipc, const struct conf *conf)
{
    if (ipc->gc->from_edges)
        return 0; /* the edges are where it came from */
    char *text = conf_file_format(conf);
    if (text == NULL)
        return -1;
    free(ipc->config_text);
    ipc->config_text = text;
    ipc->config_version = conf->version;
    for (size_t i = 0; i < ipc->n_edges; i++) {
        ipc->edges[i].config_sent = 0;
        send_config(ipc, &ipc->edges[i]);
    }
    return 0;
}

size_t gw_ipc_edges_up(const struct gw_ipc *ipc)
{
    size_t n = 0;
    for (size_t i = 0; i < ipc->n_edges; i++)
        n += ipc->edges[i].up;
    return n;
}

size_t gw_ipc_queued(const struct gw_ipc *ipc)
{
    return ipc->n_queued;
}

uint64_t gw_ipc_dropped(const struct gw_ipc *ipc)
{
    return ipc->n_dropped;
}

void gw_ipc_metrics(struct gw_ipc *ipc, struct metrics *reg)
{
    struct ipc_channel *chs[GW_EDGES_MAX];
    for (size_t i = 0; i < ipc->n_edges; i++)
        chs[i] = ipc->edges[i].ch;
    ipc_metrics_collect(reg, chs, ipc->n_edges, 0);
}
