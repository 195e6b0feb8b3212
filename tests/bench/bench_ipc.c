/*
 * bench_ipc.c - throughput of the IPC codec and of the reliable channel over
 * CURVE on loopback TCP.
 *
 *   codec       encode + decode of STANZA_IN with a 300-byte and a 64 KiB
 *               stanza, one core, messages/s and MB/s (and, with batching,
 *               decoding a BATCH of 200 such 300-byte stanzas);
 *   one-way     an "edge" channel (this process) sends N reliable STANZA_IN
 *               to a "gateway" channel in a child process of its own (own
 *               event loop and ZeroMQ context, as in production), which
 *               acknowledges each; up to a window of messages in flight.
 *               Stanzas/s over the wall time, and the CPU seconds of each
 *               end (the process's utime + stime, its ZeroMQ I/O thread
 *               included), with stanzas per CPU second of each;
 *   ping-pong   one message in flight at a time: round trip time.
 *
 * usage: bench_ipc [--quick] [--count N] [--window N] [--batch-count N]
 *   --quick         a smoke run for ctest (checks every stanza is acknowledged)
 *   --batch-count N the channels' batch_count_max (1: every message in a frame
 *                   of its own); only when built against a channel that batches
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

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

static double cpu_self(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* utime + stime of another process, all its threads, from /proc. */
static double cpu_of(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    unsigned long ut = 0, st = 0;
    /* after the name: state, then fields 4..13, utime and stime are 14, 15 */
    if (p == NULL ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return 0;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
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

#ifdef IPC_BATCH_COUNT_MAX
/* Decoding one BATCH of k stanzas, as a receiving channel does per frame. */
static void bench_codec_batch(size_t stanza_len, unsigned k, unsigned n)
{
    uint8_t *s = make_stanza(stanza_len);
    struct ipc_msg *items = calloc(k, sizeof(*items));
    for (unsigned i = 0; i < k; i++) {
        items[i] = stanza_msg(s, stanza_len);
        items[i].id = i + 1;
    }
    struct ipc_msg b = {.type = IPC_MSG_BATCH, .incarnation = 0x1234};
    b.batch.count = (uint16_t)k;
    b.batch.msgs = items;
    uint8_t *buf = NULL;
    size_t len = 0;
    if (ipc_encode_alloc(&b, NULL, &buf, &len) != IPC_OK)
        exit(1);
    double t0 = now_s();
    for (unsigned i = 0; i < n; i++) {
        struct ipc_msg *d = NULL;
        if (ipc_decode(buf, len, NULL, &d) != IPC_OK || d->batch.count != k)
            exit(1);
        ipc_msg_free(d);
    }
    double dt = now_s() - t0;
    printf("codec      decode BATCH of %u STANZA_IN, stanza %zu B, frame %zu B: %10.0f msg/s\n", k,
           stanza_len, len, (double)n * k / dt);
    free(buf);
    free(items);
    free(s);
}
#endif

static void set_batch(struct ipc_channel_settings *st, unsigned batch_count)
{
    ipc_channel_settings_default(st);
#ifdef IPC_BATCH_COUNT_MAX
    if (batch_count)
        st->batch_count_max = batch_count;
#else
    (void)batch_count;
#endif
}

/* ---- the gateway, a child process: acknowledges every stanza ---- */

struct gw {
    struct event_base *base;
};

static void gw_recv(struct ipc_channel *ch, struct ipc_peer *p, const struct ipc_msg *m, void *arg)
{
    (void)arg;
    if (ipc_msg_type_reliable(m->type))
        ipc_channel_ack(ch, p, m->id, NULL, NULL);
}

/* The parent closed its end of the pipe: time to go. */
static void gw_stop(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    char c;
    if (read(fd, &c, 1) <= 0)
        event_base_loopbreak(((struct gw *)arg)->base);
}

static void gw_main(int ctl, const struct ipc_keypair *kp, const char *edge_pub,
                    unsigned batch_count)
{
    char endpoint[256];
    ssize_t n = read(ctl, endpoint, sizeof(endpoint) - 1);
    if (n <= 0)
        _exit(3);
    endpoint[n] = '\0';
    struct gw g = {event_base_new()};
    struct ipc_channel_settings st;
    set_batch(&st, batch_count);
    static const struct ipc_channel_cbs cbs = {NULL, NULL, gw_recv, NULL, NULL, NULL};
    struct ipc_channel *ch = ipc_channel_client_new(g.base, endpoint, "bench-gw", IPC_ROLE_GATEWAY,
                                                    kp, edge_pub, &st, &cbs, &g);
    if (ch == NULL)
        _exit(3);
    struct event *stop = event_new(g.base, ctl, EV_READ | EV_PERSIST, gw_stop, &g);
    event_add(stop, NULL);
    event_base_dispatch(g.base);
    event_free(stop);
    ipc_channel_free(ch);
    event_base_free(g.base);
    _exit(0);
}

/* ---- the edge side, this process ---- */

static uint64_t frames_out(const struct ipc_channel_counters *now,
                           const struct ipc_channel_counters *before)
{
#ifdef IPC_BATCH_COUNT_MAX
    return now->frames_sent - before->frames_sent;
#else
    return now->sent - before->sent; /* one message per frame */
#endif
}

struct edge {
    struct event_base *base;
    struct ipc_channel *ch;
    struct ipc_peer *peer;
    const uint8_t *stanza;
    size_t stanza_len;
    unsigned total, sent, acked, window;
};

static void edge_send_one(struct edge *e)
{
    struct ipc_msg m = stanza_msg(e->stanza, e->stanza_len);
    m.id = 0;
    if (ipc_channel_send(e->ch, e->peer, &m) != 0) {
        fprintf(stderr, "bench_ipc: send: %s\n", strerror(errno));
        exit(1);
    }
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

static void give_up(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    event_base_loopbreak(arg);
}

/* Runs the loop until something breaks it or seconds pass. A timer of its
 * own, freed after: a pending event_base_loopexit() would end a later run. */
static void dispatch_for(struct event_base *base, time_t seconds)
{
    struct event *t = evtimer_new(base, give_up, base);
    struct timeval tv = {seconds, 0};
    if (t == NULL || evtimer_add(t, &tv) != 0)
        exit(3);
    event_base_dispatch(base);
    event_free(t);
}

static void run_phase(struct edge *e, unsigned total, unsigned window)
{
    e->total = total;
    e->sent = e->acked = 0;
    e->window = window;
    while (e->sent < window && e->sent < total)
        edge_send_one(e);
    dispatch_for(e->base, 120);
    if (e->acked != total) {
        fprintf(stderr, "bench_ipc: only %u of %u acknowledged\n", e->acked, total);
        exit(1);
    }
}

int main(int argc, char **argv)
{
    bool quick = false;
    unsigned count = 500000, window = 10000, batch_count = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0)
            quick = true;
        else if (strcmp(argv[i], "--count") == 0 && i + 1 < argc)
            count = (unsigned)strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--window") == 0 && i + 1 < argc)
            window = (unsigned)strtoul(argv[++i], NULL, 10);
#ifdef IPC_BATCH_COUNT_MAX
        else if (strcmp(argv[i], "--batch-count") == 0 && i + 1 < argc)
            batch_count = (unsigned)strtoul(argv[++i], NULL, 10);
#endif
        else {
            fprintf(stderr, "usage: bench_ipc [--quick] [--count N] [--window N]"
#ifdef IPC_BATCH_COUNT_MAX
                            " [--batch-count N]"
#endif
                            "\n");
            return 2;
        }
    }
    if (quick)
        count = 5000;
    if (count == 0 || window == 0) {
        fprintf(stderr, "bench_ipc: --count and --window must be positive\n");
        return 2;
    }
    log_init("bench_ipc", LOG_LEVEL_WARN, false);
    signal(SIGPIPE, SIG_IGN);

    bench_codec(300, quick ? 20000 : 2000000);
    bench_codec(64 * 1024, quick ? 500 : 20000);
#ifdef IPC_BATCH_COUNT_MAX
    bench_codec_batch(300, 200, quick ? 100 : 10000);
#endif

    struct ipc_keypair edge_kp, gw_kp;
    if (ipc_keys_generate(&edge_kp) != 0 || ipc_keys_generate(&gw_kp) != 0)
        return 3;
    struct ipc_allow_entry entry = {"bench-gw", ""};
    memcpy(entry.public_key, gw_kp.public_key, sizeof(entry.public_key));
    struct ipc_allowlist allow = {&entry, 1};

    /* The child before any ZeroMQ context or event base exists here. */
    int ctl[2];
    if (pipe(ctl) != 0)
        return 3;
    fflush(stdout);
    pid_t child = fork();
    if (child < 0)
        return 3;
    if (child == 0) {
        close(ctl[1]);
        gw_main(ctl[0], &gw_kp, edge_kp.public_key, batch_count);
    }
    close(ctl[0]);

    struct edge e = {0};
    e.base = event_base_new();
    struct ipc_channel_settings st;
    set_batch(&st, batch_count);
    static const struct ipc_channel_cbs cbs = {edge_up, NULL, NULL, edge_acked, NULL, NULL};
    e.ch = ipc_channel_server_new(e.base, "tcp://127.0.0.1:*", "bench-edge", &edge_kp, &allow, &st,
                                  &cbs, &e);
    if (e.ch == NULL)
        return 3;
    const char *ep = ipc_channel_endpoint(e.ch);
    if (write(ctl[1], ep, strlen(ep)) != (ssize_t)strlen(ep))
        return 3;
    dispatch_for(e.base, 10);
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
        struct ipc_channel_counters c0, c1;
        ipc_channel_counters(e.ch, &c0);
        double ce0 = cpu_self(), cg0 = cpu_of(child), t0 = now_s();
        run_phase(&e, count, window);
        double dt = now_s() - t0, ce = cpu_self() - ce0, cg = cpu_of(child) - cg0;
        ipc_channel_counters(e.ch, &c1);
        printf("one-way    CURVE loopback, reliable STANZA_IN + ACK, stanza %4zu B, window %u: "
               "%u in %.2f s = %.0f stanzas/s\n"
               "           CPU s: edge %.2f (%.0f stanzas per CPU s), gateway %.2f (%.0f per "
               "CPU s); edge frames out %llu, in %llu\n",
               sizes[k], window, count, dt, count / dt, ce, ce > 0 ? count / ce : 0, cg,
               cg > 0 ? count / cg : 0, (unsigned long long)frames_out(&c1, &c0),
               (unsigned long long)(c1.received - c0.received));
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
    printf("edge counters: sent=%llu resent=%llu acks_received=%llu frames_in=%llu\n",
           (unsigned long long)c.sent, (unsigned long long)c.resent,
           (unsigned long long)c.acks_received, (unsigned long long)c.received);
    close(ctl[1]);
    int status = 0;
    waitpid(child, &status, 0);
    ipc_channel_free(e.ch);
    event_base_free(e.base);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "bench_ipc: the gateway process failed\n");
        return 1;
    }
    return 0;
}
