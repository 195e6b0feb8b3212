/*
 * ops_stats.c - ops.conf, the blocking STATS client of the operator tools,
 * and the JSON view of its answers.
 */
#include "ops_stats.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <event2/event.h>

#include "ipc_channel.h"
#include "ipc_edges.h"
#include "log.h"

#define OFF(f)          offsetof(struct ops_local, f)
#define RETRY_MS        250
#define TIMEOUT_MIN_MS  100
#define TIMEOUT_MAX_MS  60000
#define CACHE_MAX_MS    600000
#define OPS_PROGRAM_MAX 64

const struct conf_lkey ops_local_keys[] = {
    {"edges", LK_STRING, OFF(edges), 0, 0, 0, OPS_DEFAULT_EDGE,
     "IPC endpoints of the edges, comma separated (tcp://host:port or ipc://path)"},
    {"edge_keys", LK_STRING, OFF(edge_keys), 0, 0, 0, NULL,
     "the edges' public keys in the order of edges, comma separated: a Z85 key or a .pub "
     "file (default DIR/keys/edge.pub for every edge)"},
    {"ipc_key", LK_STRING, OFF(ipc_key), 0, 0, 0, NULL,
     "base path of the operator key pair, without .key/.pub (default "
     "DIR/" OPS_DEFAULT_KEY ", made by `xfedctl keys add-gateway operator`)"},
    {"timeout_ms", LK_UINT, OFF(timeout_ms), 2000, TIMEOUT_MIN_MS, TIMEOUT_MAX_MS, NULL,
     "the longest a status query waits for the edges' answers"},
    {"cache_ms", LK_UINT, OFF(cache_ms), 3000, 0, CACHE_MAX_MS, NULL,
     "an answer younger than this is shown again instead of asking the edges"},
    {NULL, LK_UINT, 0, 0, 0, 0, NULL, NULL},
};

int ops_local_read(const char *confdir, struct ops_local *out, struct conf_report *report)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", confdir, OPS_CONF_FILE);
    return conf_local_read(path, ops_local_keys, out, report);
}

void ops_local_free(struct ops_local *l)
{
    conf_local_free(ops_local_keys, l);
}

int ops_local_set(char **field, const char *value)
{
    char *c = strdup(value);
    if (c == NULL)
        return -1;
    free(*field);
    *field = c;
    return 0;
}

/* ---- keys -------------------------------------------------------------- */

int ops_load_keypair(const char *base, struct ipc_keypair *out)
{
    char dir[4096];
    if (base == NULL || base[0] == '\0' || strlen(base) >= sizeof(dir)) {
        errno = EINVAL;
        return -1;
    }
    snprintf(dir, sizeof(dir), "%s", base);
    char *slash = strrchr(dir, '/');
    if (slash == NULL)
        return ipc_keys_load_pair(".", base, out);
    *slash = '\0';
    return ipc_keys_load_pair(dir[0] == '\0' ? "/" : dir, slash + 1, out);
}

int ops_load_public(const char *key_or_file, char out[IPC_KEY_Z85_LEN + 1])
{
    if (ipc_key_valid(key_or_file)) {
        memcpy(out, key_or_file, IPC_KEY_Z85_LEN + 1);
        return 0;
    }
    return ipc_keys_load_public(key_or_file, out);
}

/* ---- words ------------------------------------------------------------- */

const char *ops_direction_name(int direction)
{
    return direction == IPC_DIR_OUTBOUND ? "outbound" : "inbound";
}

const char *ops_auth_name(int auth)
{
    switch (auth) {
    case IPC_AUTH_SASL_EXTERNAL:
        return "sasl-external";
    case IPC_AUTH_DIALBACK:
        return "dialback";
    default:
        return "none";
    }
}

const char *ops_config_state(uint64_t edge_version, uint64_t stored_version)
{
    if (stored_version == 0)
        return "unknown";
    if (edge_version == stored_version)
        return "current";
    return edge_version < stored_version ? "stale" : "ahead";
}

/* ---- settings ---------------------------------------------------------- */

struct ops_stats {
    char **endpoints;
    char **keys; /* per edge: Z85 key or absolute path */
    size_t n;
    char *keybase; /* absolute base path of the operator pair */
    char name[sizeof(OPS_NAME_PREFIX) + OPS_PROGRAM_MAX];
    unsigned timeout_ms, cache_ms;
    struct ops_report *last;
    uint64_t last_ms; /* monotonic time of last */
};

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static bool program_ok(const char *p)
{
    size_t n = strlen(p);
    if (n == 0 || n > OPS_PROGRAM_MAX)
        return false;
    for (; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_' || *p == '.'))
            return false;
    return true;
}

struct ops_stats *ops_stats_new(const char *confdir, const struct ops_local *l, const char *program,
                                char *err, size_t errlen)
{
    struct ipc_edge_spec v[OPS_EDGES_MAX];
    struct ops_stats *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (!program_ok(program)) {
        snprintf(err, errlen, "invalid program name");
        goto fail;
    }
    snprintf(s->name, sizeof(s->name), "%s%s", OPS_NAME_PREFIX, program);
    if (l->timeout_ms < TIMEOUT_MIN_MS || l->timeout_ms > TIMEOUT_MAX_MS ||
        l->cache_ms > CACHE_MAX_MS) {
        snprintf(err, errlen, "timeout_ms must be %u..%u and cache_ms at most %u", TIMEOUT_MIN_MS,
                 TIMEOUT_MAX_MS, CACHE_MAX_MS);
        goto fail;
    }
    s->timeout_ms = l->timeout_ms;
    s->cache_ms = l->cache_ms;
    const char *bad_key;
    char why[256];
    int ne = ipc_edges_parse(l->edges, l->edge_keys, confdir, "keys/edge.pub", v, OPS_EDGES_MAX,
                             &bad_key, why, sizeof(why));
    if (ne < 0) {
        snprintf(err, errlen, "%s%s%s", bad_key, *bad_key ? ": " : "", why);
        goto fail;
    }
    s->endpoints = calloc((size_t)ne + 1, sizeof(char *));
    s->keys = calloc((size_t)ne + 1, sizeof(char *));
    s->keybase = ipc_edges_resolve(confdir, l->ipc_key ? l->ipc_key : OPS_DEFAULT_KEY);
    if (s->endpoints == NULL || s->keys == NULL || s->keybase == NULL) {
        ipc_edges_free(v, ne);
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    for (int i = 0; i < ne; i++) {
        s->endpoints[i] = v[i].endpoint;
        s->keys[i] = v[i].key;
    }
    s->n = (size_t)ne;
    return s;
fail:
    ops_stats_free(s);
    return NULL;
}

static void report_free(struct ops_report *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->n_edges; i++) {
        struct ops_edge *e = &r->edges[i];
        for (size_t k = 0; k < e->n_streams; k++) {
            free(e->streams[k].stream_id);
            free(e->streams[k].local);
            free(e->streams[k].partner);
        }
        for (size_t k = 0; k < e->n_gateways; k++)
            free(e->gateways[k].name);
        free(e->streams);
        free(e->gateways);
        free(e->endpoint);
        free(e->name);
    }
    free(r->edges);
    free(r);
}

void ops_stats_free(struct ops_stats *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->n; i++) {
        free(s->endpoints[i]);
        free(s->keys[i]);
    }
    free(s->endpoints);
    free(s->keys);
    free(s->keybase);
    report_free(s->last);
    free(s);
}

size_t ops_stats_edges(const struct ops_stats *s)
{
    return s->n;
}

/* ---- one query --------------------------------------------------------- */

struct query;

struct slot {
    struct query *q;
    struct ops_edge *edge;
    struct ipc_channel *ch;
    bool up, done, had_session, stanza_seen;
    char down[200]; /* why the last session ended */
};

struct query {
    struct event_base *base;
    struct slot *slots;
    size_t n, pending;
    uint64_t t0;
};

static void ask(struct slot *sl)
{
    struct ipc_peer *p = ipc_channel_server_peer(sl->ch);
    struct ipc_msg m = {.type = IPC_MSG_STATS_REQUEST};
    /* Best effort: a failure (EAGAIN) is retried by the retry timer. */
    if (p != NULL && ipc_channel_send(sl->ch, p, &m) != 0)
        log_debug("ops: STATS_REQUEST not sent endpoint=%s errno=%d", sl->edge->endpoint, errno);
}

static void on_up(struct ipc_channel *ch, struct ipc_peer *p, void *arg)
{
    (void)ch;
    (void)p;
    struct slot *sl = arg;
    sl->up = true;
    sl->had_session = true;
    if (!sl->done)
        ask(sl);
}

static void on_down(struct ipc_channel *ch, struct ipc_peer *p, const char *reason, void *arg)
{
    (void)ch;
    (void)p;
    struct slot *sl = arg;
    sl->up = false;
    snprintf(sl->down, sizeof(sl->down), "%s", reason);
}

static char *dup_or_empty(const char *s)
{
    return strdup(s ? s : "");
}

static int cmp_stream(const void *a, const void *b)
{
    const struct ops_stream *x = a, *y = b;
    int c = strcmp(x->partner, y->partner);
    if (c != 0)
        return c;
    if (x->direction != y->direction)
        return x->direction < y->direction ? -1 : 1;
    if (x->since != y->since)
        return x->since < y->since ? -1 : 1;
    return strcmp(x->stream_id, y->stream_id);
}

static int cmp_gateway(const void *a, const void *b)
{
    const struct ops_gateway *x = a, *y = b;
    return strcmp(x->name, y->name);
}

/* Copies a STATS answer into the slot's edge. -1: memory. */
static int take_stats(struct slot *sl, const struct ipc_stats *st)
{
    struct ops_edge *e = sl->edge;
    free(e->name);
    e->name = dup_or_empty(st->name);
    e->conf_version = st->conf_version;
    e->streams = calloc(st->nstreams ? st->nstreams : 1, sizeof(*e->streams));
    e->gateways = calloc(st->ngateways ? st->ngateways : 1, sizeof(*e->gateways));
    if (e->name == NULL || e->streams == NULL || e->gateways == NULL)
        return -1;
    for (uint32_t i = 0; i < st->nstreams; i++) {
        const struct ipc_stats_stream *in = &st->streams[i];
        struct ops_stream *o = &e->streams[e->n_streams];
        o->stream_id = dup_or_empty(in->stream_id);
        o->local = dup_or_empty(in->local);
        o->partner = dup_or_empty(in->partner);
        e->n_streams++;
        if (o->stream_id == NULL || o->local == NULL || o->partner == NULL)
            return -1;
        o->direction = in->direction;
        snprintf(o->tls_version, sizeof(o->tls_version), "%s", in->tls_version);
        o->auth = in->auth;
        o->since = in->since;
        o->stanzas_in = in->stanzas_in;
        o->stanzas_out = in->stanzas_out;
    }
    for (uint32_t i = 0; i < st->ngateways; i++) {
        const struct ipc_stats_gateway *in = &st->gateways[i];
        if (strncmp(in->name, OPS_NAME_PREFIX, strlen(OPS_NAME_PREFIX)) == 0) {
            e->n_operators++;
            continue;
        }
        struct ops_gateway *o = &e->gateways[e->n_gateways];
        if ((o->name = strdup(in->name)) == NULL)
            return -1;
        o->since = in->since;
        o->unacked = in->unacked;
        o->users = in->users;
        e->n_gateways++;
    }
    qsort(e->streams, e->n_streams, sizeof(*e->streams), cmp_stream);
    qsort(e->gateways, e->n_gateways, sizeof(*e->gateways), cmp_gateway);
    return 0;
}

static void on_recv(struct ipc_channel *ch, struct ipc_peer *p, const struct ipc_msg *m, void *arg)
{
    (void)ch;
    (void)p;
    struct slot *sl = arg;
    if (m->type != IPC_MSG_STATS) {
        /* Edges give stanzas only to IPC_ROLE_GATEWAY sessions; an older
         * edge may hand one to any session that announced the stanza
         * capability. It is not acknowledged: when this session ends
         * (GOODBYE), the edge re-sends it to a gateway. */
        if (ipc_msg_type_reliable(m->type) && !sl->stanza_seen) {
            sl->stanza_seen = true;
            log_warnx("ops: edge %s handed a %s to this operator session; left unacknowledged "
                      "for the edge to re-send to a gateway",
                      sl->edge->endpoint, ipc_msg_type_name(m->type));
        }
        return;
    }
    if (sl->done)
        return;
    sl->done = true;
    sl->q->pending--;
    if (take_stats(sl, &m->stats) != 0) {
        snprintf(sl->edge->reason, sizeof(sl->edge->reason), "out of memory");
    } else {
        sl->edge->connected = true;
        sl->edge->answered_at = (uint64_t)time(NULL);
        sl->edge->answer_ms = (unsigned)(mono_ms() - sl->q->t0);
    }
    if (sl->q->pending == 0)
        event_base_loopbreak(sl->q->base);
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct query *q = arg;
    for (size_t i = 0; i < q->n; i++)
        if (q->slots[i].ch && q->slots[i].up && !q->slots[i].done)
            ask(&q->slots[i]);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct query *q = arg;
    event_base_loopbreak(q->base);
}

static void unanswered(struct ops_stats *s, struct slot *sl)
{
    struct ops_edge *e = sl->edge;
    if (e->reason[0] != '\0')
        return;
    double secs = s->timeout_ms / 1000.0;
    if (sl->had_session && sl->down[0] != '\0' && !sl->up)
        snprintf(e->reason, sizeof(e->reason), "the session ended before the edge answered (%s)",
                 sl->down);
    else if (sl->had_session)
        snprintf(e->reason, sizeof(e->reason), "connected, but no statistics arrived within %.1f s",
                 secs);
    else
        snprintf(e->reason, sizeof(e->reason),
                 "no answer within %.1f s: the edge is down or unreachable, the endpoint or "
                 "the edge's public key is wrong, or the operator key is not on its allow-list",
                 secs);
}

/* Runs one query into a new report. */
static struct ops_report *run_query(struct ops_stats *s)
{
    struct ops_report *r = calloc(1, sizeof(*r));
    struct query q = {.n = s->n, .t0 = mono_ms()};
    struct event *retry = NULL, *deadline = NULL;
    struct ipc_keypair kp;
    bool have_kp = false;
    if (r == NULL)
        return NULL;
    r->at = (uint64_t)time(NULL);
    r->edges = calloc(s->n ? s->n : 1, sizeof(*r->edges));
    q.slots = calloc(s->n ? s->n : 1, sizeof(*q.slots));
    if (r->edges == NULL || q.slots == NULL)
        goto oom;
    for (size_t i = 0; i < s->n; i++) {
        r->edges[i].endpoint = strdup(s->endpoints[i]);
        r->edges[i].name = strdup("");
        r->n_edges++;
        if (r->edges[i].endpoint == NULL || r->edges[i].name == NULL)
            goto oom;
        q.slots[i].q = &q;
        q.slots[i].edge = &r->edges[i];
    }
    if (s->n == 0)
        goto done;
    if (ops_load_keypair(s->keybase, &kp) != 0) {
        int err = errno;
        for (size_t i = 0; i < s->n; i++)
            snprintf(r->edges[i].reason, sizeof(r->edges[i].reason),
                     "cannot load the operator key pair %s.key/.pub: %s (create it with "
                     "'xfedctl keys add-gateway operator' on the edge's configuration)",
                     s->keybase, strerror(err));
        goto done;
    }
    have_kp = true;
    q.base = event_base_new();
    if (q.base == NULL)
        goto oom;
    struct ipc_channel_settings set;
    ipc_channel_settings_default(&set);
    static const struct ipc_channel_cbs cbs = {
        .peer_up = on_up,
        .peer_down = on_down,
        .recv = on_recv,
    };
    for (size_t i = 0; i < s->n; i++) {
        struct slot *sl = &q.slots[i];
        char pub[IPC_KEY_Z85_LEN + 1];
        if (ops_load_public(s->keys[i], pub) != 0) {
            snprintf(sl->edge->reason, sizeof(sl->edge->reason),
                     "cannot load the edge's public key %s: %s", s->keys[i], strerror(errno));
            continue;
        }
        sl->ch = ipc_channel_client_new(q.base, s->endpoints[i], s->name, IPC_ROLE_TOOL, &kp, pub,
                                        &set, &cbs, sl);
        if (sl->ch == NULL) {
            snprintf(sl->edge->reason, sizeof(sl->edge->reason), "cannot open an IPC client to %s",
                     s->endpoints[i]);
            continue;
        }
        q.pending++;
    }
    ipc_keypair_wipe(&kp);
    have_kp = false;
    if (q.pending > 0) {
        struct timeval tr = {0, RETRY_MS * 1000};
        struct timeval td = {(time_t)(s->timeout_ms / 1000),
                             (suseconds_t)(s->timeout_ms % 1000) * 1000};
        retry = event_new(q.base, -1, EV_PERSIST, on_retry, &q);
        deadline = evtimer_new(q.base, on_deadline, &q);
        if (retry == NULL || deadline == NULL || event_add(retry, &tr) != 0 ||
            evtimer_add(deadline, &td) != 0)
            goto oom;
        event_base_dispatch(q.base);
    }
    for (size_t i = 0; i < s->n; i++) {
        ipc_channel_free(q.slots[i].ch);
        q.slots[i].ch = NULL;
        if (!r->edges[i].connected)
            unanswered(s, &q.slots[i]);
    }
done:
    if (retry)
        event_free(retry);
    if (deadline)
        event_free(deadline);
    if (q.base)
        event_base_free(q.base);
    free(q.slots);
    return r;
oom:
    if (have_kp)
        ipc_keypair_wipe(&kp);
    for (size_t i = 0; q.slots && i < s->n; i++)
        ipc_channel_free(q.slots[i].ch);
    if (retry)
        event_free(retry);
    if (deadline)
        event_free(deadline);
    if (q.base)
        event_base_free(q.base);
    free(q.slots);
    report_free(r);
    return NULL;
}

const struct ops_report *ops_stats_query(struct ops_stats *s, bool allow_cached)
{
    uint64_t now = mono_ms();
    if (allow_cached && s->last != NULL && now - s->last_ms < s->cache_ms) {
        s->last->cached = true;
        return s->last;
    }
    struct ops_report *r = run_query(s);
    if (r == NULL)
        return NULL;
    report_free(s->last);
    s->last = r;
    s->last_ms = now;
    return r;
}

/* ---- JSON -------------------------------------------------------------- */

static void json_u64(struct jbuf *b, uint64_t v)
{
    char n[24];
    snprintf(n, sizeof(n), "%" PRIu64, v);
    jbuf_raw(b, n);
}

static void json_time(struct jbuf *b, uint64_t t)
{
    char ts[32];
    struct tm tm;
    time_t tt = (time_t)t;
    if (t == 0 || gmtime_r(&tt, &tm) == NULL) {
        jbuf_raw(b, "null");
        return;
    }
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
    jbuf_str(b, ts);
}

static void json_key(struct jbuf *b, bool first, const char *key)
{
    jbuf_raw(b, first ? "\"" : ",\"");
    jbuf_raw(b, key);
    jbuf_raw(b, "\":");
}

static void json_edge(struct jbuf *b, const struct ops_edge *e, uint64_t stored)
{
    json_key(b, true, "endpoint");
    jbuf_str(b, e->endpoint);
    json_key(b, false, "connected");
    jbuf_raw(b, e->connected ? "true" : "false");
    json_key(b, false, "reason");
    jbuf_str(b, e->connected ? "" : e->reason);
    json_key(b, false, "name");
    jbuf_str(b, e->name);
    json_key(b, false, "config_version");
    if (e->connected)
        json_u64(b, e->conf_version);
    else
        jbuf_raw(b, "null");
    json_key(b, false, "config_state");
    jbuf_str(b, e->connected ? ops_config_state(e->conf_version, stored) : "unknown");
    json_key(b, false, "last_seen");
    json_time(b, e->answered_at);
    json_key(b, false, "answer_ms");
    json_u64(b, e->answer_ms);
    json_key(b, false, "streams");
    jbuf_raw(b, "[");
    for (size_t k = 0; k < e->n_streams; k++) {
        const struct ops_stream *s = &e->streams[k];
        jbuf_raw(b, k ? ",{" : "{");
        json_key(b, true, "id");
        jbuf_str(b, s->stream_id);
        json_key(b, false, "local");
        jbuf_str(b, s->local);
        json_key(b, false, "partner");
        jbuf_str(b, s->partner);
        json_key(b, false, "direction");
        jbuf_str(b, ops_direction_name(s->direction));
        json_key(b, false, "tls_version");
        jbuf_str(b, s->tls_version);
        json_key(b, false, "auth_method");
        jbuf_str(b, ops_auth_name(s->auth));
        json_key(b, false, "since");
        json_time(b, s->since);
        json_key(b, false, "stanzas_in");
        json_u64(b, s->stanzas_in);
        json_key(b, false, "stanzas_out");
        json_u64(b, s->stanzas_out);
        jbuf_raw(b, "}");
    }
    jbuf_raw(b, "]");
    /* Per partner: streams come sorted by partner, so groups are runs. */
    json_key(b, false, "partners");
    jbuf_raw(b, "[");
    for (size_t k = 0, ngroups = 0; k < e->n_streams;) {
        size_t in = 0, out = 0, j = k;
        for (; j < e->n_streams && strcmp(e->streams[j].partner, e->streams[k].partner) == 0; j++) {
            if (e->streams[j].direction == IPC_DIR_OUTBOUND)
                out++;
            else
                in++;
        }
        jbuf_raw(b, ngroups++ ? ",{" : "{");
        json_key(b, true, "partner");
        jbuf_str(b, e->streams[k].partner);
        json_key(b, false, "inbound");
        json_u64(b, in);
        json_key(b, false, "outbound");
        json_u64(b, out);
        jbuf_raw(b, "}");
        k = j;
    }
    jbuf_raw(b, "]");
    json_key(b, false, "gateways");
    jbuf_raw(b, "[");
    for (size_t k = 0; k < e->n_gateways; k++) {
        const struct ops_gateway *g = &e->gateways[k];
        jbuf_raw(b, k ? ",{" : "{");
        json_key(b, true, "name");
        jbuf_str(b, g->name);
        json_key(b, false, "since");
        json_time(b, g->since);
        json_key(b, false, "unacked");
        json_u64(b, g->unacked);
        json_key(b, false, "users");
        json_u64(b, g->users);
        jbuf_raw(b, "}");
    }
    jbuf_raw(b, "]");
}

void ops_report_json(struct jbuf *b, const struct ops_report *r, const char *why,
                     uint64_t stored_version)
{
    jbuf_raw(b, "{");
    json_key(b, true, "available");
    jbuf_raw(b, r ? "true" : "false");
    json_key(b, false, "reason");
    jbuf_str(b, r ? "" : (why ? why : "no source of statistics"));
    json_key(b, false, "stored_config_version");
    json_u64(b, stored_version);
    json_key(b, false, "asked_at");
    json_time(b, r ? r->at : 0);
    json_key(b, false, "cached");
    jbuf_raw(b, r && r->cached ? "true" : "false");
    json_key(b, false, "edges");
    jbuf_raw(b, "[");
    for (size_t i = 0; r && i < r->n_edges; i++) {
        jbuf_raw(b, i ? ",{" : "{");
        json_edge(b, &r->edges[i], stored_version);
        jbuf_raw(b, "}");
    }
    jbuf_raw(b, "]}");
}
