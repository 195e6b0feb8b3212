/*
 * bench_ipc.c - throughput of the IPC codec and of the reliable channel over
 * CURVE on loopback TCP.
 *
 *   codec       encode + decode of STANZA_IN with a 300-byte and a 64 KiB
 *               stanza, one core, messages/s and MB/s;
 *   pipelined   an "edge" channel (main thread) sends N reliable STANZA_IN to
 *               a "gateway" channel (second thread, own event loop and
 *               ZeroMQ context), which acknowledges each; up to a window of
 *               messages in flight; messages/s and CPU seconds of the process;
 *   ping-pong   one message in flight at a time: round trip time.
 *
 * usage: bench_ipc [--quick] [--count N]   (--quick: a smoke run for ctest)
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <event2/event.h>

#include "ipc_channel.h"
#include "ipc_codec.h"
#include "ipc_keys.h"
#include "log.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static uint8_t *make_stanza(size_t n)
{
    static const char head[] = "<message from='alice@fabrikam.example/phone' "
                               "to='bob@contoso.example' type='chat' id='m1'><body>";
    static const char tail[] = "</body></message>";
    uint8_t *s = malloc(n);
    if (s == NULL)
        exit(3);
    memset(s, 'x', n);
    memcpy(s, head, sizeof(head) - 1);
    memcpy(s + n - (sizeof(tail) - 1), tail, sizeof(tail) - 1);
    return s;
}

static struct ipc_msg stanza_msg(const uint8_t *s, size_t n)
{
    struct ipc_msg m = {.type = IPC_MSG_STANZA_IN, .incarnation = 0x1234, .id = 1};
    m.stanza_in.direction = IPC_DIR_INBOUND;
    m.stanza_in.local = "contoso.example";
    m.stanza_in.remote = "fabrikam.example";
    m.stanza_in.stream_id = "9f8e7d6c5b4a";
    m.stanza_in.stanza = s;
    m.stanza_in.stanza_len = n;
    return m;
}

static void bench_codec(size_t stanza_len, unsigned n)
{
    uint8_t *s = make_stanza(stanza_len);
    struct ipc_msg m = stanza_msg(s, stanza_len);
    size_t cap = ipc_encoded_len(&m);
    uint8_t *buf = malloc(cap);
    double t0 = now_s();
    size_t len = 0;
    for (unsigned i = 0; i < n; i++) {
        m.id = i + 1;
        struct ipc_msg *d = NULL;
        if (ipc_encode(&m, NULL, buf, cap, &len) != IPC_OK ||
            ipc_decode(buf, len, NULL, &d) != IPC_OK || d->id != m.id)
            exit(1);
        ipc_msg_free(d);
    }
    double dt = now_s() - t0;
    printf("codec      encode+decode STANZA_IN, stanza %6zu B, frame %6zu B: %10.0f msg/s "
           "%8.1f MB/s\n",
           stanza_len, len, n / dt, (double)n * (double)len / dt / 1e6);
    free(buf);
    free(s);
}

/* ---- the gateway thread: acknowledges every stanza ---- */

struct gw {
    struct event_base *base;
    struct ipc_channel *ch;
    const char *endpoint;
    struct ipc_keypair kp;
    char edge_pub[IPC_KEY_Z85_LEN + 1];
    atomic_int stop;
};

static void gw_recv(struct ipc_channel *ch, struct ipc_peer *p, const struct ipc_msg *m, void *arg)
{
    (void)arg;
    if (ipc_msg_type_reliable(m->type))
        ipc_channel_ack(ch, p, m->id, NULL, NULL);
}

static void gw_poll(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct gw *g = arg;
    if (atomic_load(&g->stop))
        event_base_loopbreak(g->base);
}

static void *gw_thread(void *arg)
{
    struct gw *g = arg;
    g->base = event_base_new();
    static const struct ipc_channel_cbs cbs = {NULL, NULL, gw_recv, NULL, NULL};
    g->ch = ipc_channel_client_new(g->base, g->endpoint, "bench-gw", IPC_ROLE_GATEWAY, &g->kp,
                                   g->edge_pub, NULL, &cbs, g);
    if (g->ch == NULL)
        exit(3);
    struct event *poll = event_new(g->base, -1, EV_PERSIST, gw_poll, g);
    struct timeval tv = {0, 20000};
    event_add(poll, &tv);
    event_base_dispatch(g->base);
    event_free(poll);
    ipc_channel_free(g->ch);
    event_base_free(g->base);
    return NULL;
}

/* ---- the edge side, main thread ---- */

struct edge {
    struct event_base *base;
    struct ipc_channel *ch;
    struct ipc_peer *peer;
    const uint8_t *stanza;
    size_t stanza_len;
    unsigned total, sent, acked, window;
    double t_first;
};

static void edge_send_one(struct edge *e)
{
    struct ipc_msg m = stanza_msg(e->stanza, e->stanza_len);
    m.id = 0;
    if (ipc_channel_send(e->ch, e->peer, &m) != 0)
        exit(1);
    e->sent++;
}

static void edge_up(struct ipc_channel *ch, struct ipc_peer *p, void *arg)
{
    (void)ch;
    struct edge *e = arg;
    e->peer = p;
    event_base_loopbreak(e->base);
}

static void edge_acked(struct ipc_channel *ch, struct ipc_peer *p, const struct ipc_msg *a,
                       void *arg)
{
    (void)ch;
    (void)p;
    (void)a;
    struct edge *e = arg;
    e->acked++;
    if (e->sent < e->total && e->sent - e->acked < e->window)
        edge_send_one(e);
    if (e->acked == e->total)
        event_base_loopbreak(e->base);
}

static void run_phase(struct edge *e, unsigned total, unsigned window)
{
    e->total = total;
    e->sent = e->acked = 0;
    e->window = window;
    while (e->sent < window && e->sent < total)
        edge_send_one(e);
    struct timeval limit = {120, 0};
    event_base_loopexit(e->base, &limit);
    event_base_dispatch(e->base);
    if (e->acked != total) {
        fprintf(stderr, "bench_ipc: only %u of %u acknowledged\n", e->acked, total);
        exit(1);
    }
}

int main(int argc, char **argv)
{
    bool quick = false;
    unsigned count = 200000;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0)
            quick = true;
        else if (strcmp(argv[i], "--count") == 0 && i + 1 < argc)
            count = (unsigned)strtoul(argv[++i], NULL, 10);
    }
    if (quick)
        count = 5000;
    log_init("bench_ipc", LOG_LEVEL_WARN, false);

    bench_codec(300, quick ? 20000 : 2000000);
    bench_codec(64 * 1024, quick ? 500 : 20000);

    struct ipc_keypair edge_kp;
    struct gw g = {0};
    if (ipc_keys_generate(&edge_kp) != 0 || ipc_keys_generate(&g.kp) != 0)
        return 3;
    struct ipc_allow_entry entry = {"bench-gw", ""};
    memcpy(entry.public_key, g.kp.public_key, sizeof(entry.public_key));
    struct ipc_allowlist allow = {&entry, 1};
    memcpy(g.edge_pub, edge_kp.public_key, sizeof(g.edge_pub));

    struct edge e = {0};
    e.base = event_base_new();
    static const struct ipc_channel_cbs cbs = {edge_up, NULL, NULL, edge_acked, NULL};
    e.ch = ipc_channel_server_new(e.base, "tcp://127.0.0.1:*", "bench-edge", &edge_kp, &allow, NULL,
                                  &cbs, &e);
    if (e.ch == NULL)
        return 3;
    g.endpoint = ipc_channel_endpoint(e.ch);
    pthread_t th;
    if (pthread_create(&th, NULL, gw_thread, &g) != 0)
        return 3;
    struct timeval limit = {10, 0};
    event_base_loopexit(e.base, &limit);
    event_base_dispatch(e.base);
    if (e.peer == NULL) {
        fprintf(stderr, "bench_ipc: no session\n");
        return 1;
    }

    size_t sizes[2] = {300, 4096};
    for (int k = 0; k < 2; k++) {
        uint8_t *s = make_stanza(sizes[k]);
        e.stanza = s;
        e.stanza_len = sizes[k];
        run_phase(&e, count / 10 < 1000 ? count / 10 + 1 : 1000, 1000); /* warm-up */
        double c0 = cpu_s(), t0 = now_s();
        run_phase(&e, count, 10000);
        double dt = now_s() - t0, dc = cpu_s() - c0;
        printf("pipelined  CURVE loopback, reliable STANZA_IN + ACK, stanza %5zu B: %u msgs in "
               "%.2f s = %8.0f msg/s, %.2f CPU s (both ends + ZeroMQ I/O threads)\n",
               sizes[k], count, dt, count / dt, dc);
        free(s);
    }
    uint8_t *s = make_stanza(300);
    e.stanza = s;
    e.stanza_len = 300;
    unsigned rounds = quick ? 500 : 20000;
    double t0 = now_s();
    run_phase(&e, rounds, 1);
    double dt = now_s() - t0;
    printf("ping-pong  CURVE loopback, one in flight, stanza 300 B: %u round trips, mean %.1f us "
           "(%.0f/s)\n",
           rounds, dt / rounds * 1e6, rounds / dt);
    free(s);

    struct ipc_channel_counters c;
    ipc_channel_counters(e.ch, &c);
    printf("edge counters: sent=%llu resent=%llu acks_received=%llu\n", (unsigned long long)c.sent,
           (unsigned long long)c.resent, (unsigned long long)c.acks_received);
    atomic_store(&g.stop, 1);
    pthread_join(th, NULL);
    ipc_channel_free(e.ch);
    event_base_free(e.base);
    return 0;
}
