/*
 * test_ipc_channel.c - the IPC channel over real ZeroMQ with CURVE on
 * loopback TCP (127.0.0.1, a port the kernel picks): sessions, the
 * allow-list, plaintext refusal, acknowledgements, exactly-once delivery
 * with lost ACKs, size caps, dead-peer detection of a killed process and the
 * hand-back of a dead gateway's unacknowledged stanzas to a survivor; and
 * batching (protocol version 2): a loop turn's messages and acknowledgements
 * in one frame, the caps as settings, order kept around a message too large
 * for a batch, a full ZeroMQ queue, the last ACKs leaving before GOODBYE,
 * and a version 1 peer refused with a GOODBYE that says why.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "ipc_channel.h"
#include "ipc_codec.h"
#include "ipc_keys.h"
#include "ipc_zmq.h"
#include "log.h"

#define MAX_IDS 65536

struct side {
    const char *label;
    struct ipc_channel *ch;
    int ups, downs;
    char last_down[256];
    uint64_t peer_id;
    /* receiving */
    int recvd;
    uint8_t *count; /* deliveries per id */
    int last_type;
    uint64_t last_id;
    bool ack;                  /* acknowledge what arrives */
    const char *ack_condition; /* NULL: ok */
    /* sending */
    int acked_ok, acked_err;
    uint8_t *acked; /* acks per id */
    char last_cond[IPC_COND_MAX + 1];
    int unacked;
    bool down_before_unacked;
    int refused; /* error ACKs handed back with the message as sent */
    uint64_t refused_id;
    int refused_type;
    int refused_before_acked; /* refused came before acked for the same ACK */
    /* best effort */
    int stats;
    /* order and sizes of what arrived */
    uint64_t prev_id;
    int reordered;
    size_t last_len;
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void cb_up(struct ipc_channel *ch, struct ipc_peer *p, void *arg)
{
    (void)ch;
    struct side *s = arg;
    s->ups++;
    s->peer_id = ipc_peer_id(p);
}

static void cb_down(struct ipc_channel *ch, struct ipc_peer *p, const char *reason, void *arg)
{
    (void)ch;
    (void)p;
    struct side *s = arg;
    s->downs++;
    snprintf(s->last_down, sizeof(s->last_down), "%s", reason);
    if (s->unacked == 0)
        s->down_before_unacked = true;
}

static void cb_recv(struct ipc_channel *ch, struct ipc_peer *p, const struct ipc_msg *m, void *arg)
{
    struct side *s = arg;
    s->recvd++;
    s->last_type = m->type;
    if (m->id <= s->prev_id)
        s->reordered++;
    s->prev_id = m->id;
    s->last_id = m->id;
    if (m->type == IPC_MSG_STANZA_IN)
        s->last_len = m->stanza_in.stanza_len;
    if (s->count && m->id < MAX_IDS && s->count[m->id] < 255)
        s->count[m->id]++;
    if (m->type == IPC_MSG_STATS_REQUEST) {
        struct ipc_msg st = {.type = IPC_MSG_STATS};
        st.stats.request_id = m->id;
        st.stats.name = "edge-test";
        st.stats.conf_version = 3;
        assert_int_equal(ipc_channel_send(ch, p, &st), 0);
        return;
    }
    if (m->type == IPC_MSG_STATS) {
        s->stats++;
        return;
    }
    if (s->ack && ipc_msg_type_reliable(m->type))
        assert_int_equal(ipc_channel_ack(ch, p, m->id, s->ack_condition, "test"), 0);
}

static void cb_acked(struct ipc_channel *ch, struct ipc_peer *p, const struct ipc_msg *a, void *arg)
{
    (void)ch;
    (void)p;
    struct side *s = arg;
    if (a->ack.status == IPC_ACK_OK)
        s->acked_ok++;
    else
        s->acked_err++;
    snprintf(s->last_cond, sizeof(s->last_cond), "%s", a->ack.condition);
    if (s->acked && a->ack.acked_id < MAX_IDS && s->acked[a->ack.acked_id] < 255)
        s->acked[a->ack.acked_id]++;
}

static void cb_unacked(struct ipc_channel *ch, struct ipc_peer *p, const struct ipc_msg *m,
                       void *arg)
{
    (void)ch;
    (void)p;
    (void)m;
    struct side *s = arg;
    s->unacked++;
}

static void cb_refused(struct ipc_channel *ch, struct ipc_peer *p, const struct ipc_msg *a,
                       const struct ipc_msg *sent, void *arg)
{
    (void)ch;
    (void)p;
    struct side *s = arg;
    assert_int_equal(a->ack.status, IPC_ACK_ERROR);
    assert_true(a->ack.acked_id == sent->id);
    s->refused++;
    s->refused_id = sent->id;
    s->refused_type = sent->type;
    if (s->acked_err == s->refused - 1)
        s->refused_before_acked++;
}

static const struct ipc_channel_cbs cbs = {cb_up,    cb_down,    cb_recv,
                                           cb_acked, cb_unacked, cb_refused};

static void tick_noop(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
}

/* Runs the loop until pred holds or timeout_ms pass; returns pred. */
static bool run_until(struct event_base *b, bool (*pred)(void *), void *arg, unsigned timeout_ms)
{
    struct event *t = event_new(b, -1, EV_PERSIST, tick_noop, NULL);
    struct timeval tv = {0, 10000};
    event_add(t, &tv);
    uint64_t end = now_ms() + timeout_ms;
    bool ok;
    while (!(ok = pred(arg)) && now_ms() < end)
        event_base_loop(b, EVLOOP_ONCE);
    event_free(t);
    return ok;
}

static bool never(void *arg)
{
    (void)arg;
    return false;
}

static void run_for(struct event_base *b, unsigned ms)
{
    run_until(b, never, NULL, ms);
}

struct pair_ctx {
    struct side *a, *b;
};

static bool both_up(void *arg)
{
    struct pair_ctx *c = arg;
    return c->a->ups > 0 && c->b->ups > 0;
}

/* ---- fixtures ---- */

struct fixture {
    struct event_base *base;
    struct ipc_keypair edge, gw, stranger;
    struct ipc_allowlist allow;
    struct ipc_allow_entry entry;
};

static struct fixture fx;

static int setup(void **state)
{
    (void)state;
    memset(&fx, 0, sizeof(fx));
    fx.base = event_base_new();
    assert_non_null(fx.base);
    assert_int_equal(ipc_keys_generate(&fx.edge), 0);
    assert_int_equal(ipc_keys_generate(&fx.gw), 0);
    assert_int_equal(ipc_keys_generate(&fx.stranger), 0);
    snprintf(fx.entry.name, sizeof(fx.entry.name), "gw1");
    memcpy(fx.entry.public_key, fx.gw.public_key, sizeof(fx.entry.public_key));
    fx.allow.v = &fx.entry;
    fx.allow.n = 1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    event_base_free(fx.base);
    return 0;
}

static struct ipc_channel *server(struct side *s, const struct ipc_channel_settings *set)
{
    s->ch = ipc_channel_server_new(fx.base, "tcp://127.0.0.1:*", "edge-test", &fx.edge, &fx.allow,
                                   set, &cbs, s);
    assert_non_null(s->ch);
    assert_non_null(strstr(ipc_channel_endpoint(s->ch), "tcp://127.0.0.1:"));
    return s->ch;
}

static struct ipc_channel *client(struct side *s, const struct ipc_channel *srv,
                                  const struct ipc_keypair *kp, const char *name,
                                  const struct ipc_channel_settings *set)
{
    s->ch = ipc_channel_client_new(fx.base, ipc_channel_endpoint(srv), name, IPC_ROLE_GATEWAY, kp,
                                   fx.edge.public_key, set, &cbs, s);
    assert_non_null(s->ch);
    return s->ch;
}

/* stderr into a file, to check what the server logs */
struct capture {
    int saved;
    char path[64];
};

static void capture_begin(struct capture *c)
{
    snprintf(c->path, sizeof(c->path), "/tmp/xfed-ipc-log.XXXXXX");
    int fd = mkstemp(c->path);
    assert_true(fd >= 0);
    fflush(stderr);
    c->saved = dup(2);
    dup2(fd, 2);
    close(fd);
}

static char *capture_end(struct capture *c)
{
    fflush(stderr);
    dup2(c->saved, 2);
    close(c->saved);
    FILE *f = fopen(c->path, "r");
    assert_non_null(f);
    static char text[65536];
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    text[n] = '\0';
    fclose(f);
    unlink(c->path);
    fputs(text, stderr); /* keep it visible in the test output */
    return text;
}

static const uint8_t xml[] = "<message from='a@fabrikam.example' to='b@contoso.example'>"
                             "<body>hi</body></message>";

static struct ipc_msg stanza_in(void)
{
    struct ipc_msg m = {.type = IPC_MSG_STANZA_IN};
    m.stanza_in.direction = IPC_DIR_INBOUND;
    m.stanza_in.local = "contoso.example";
    m.stanza_in.remote = "fabrikam.example";
    m.stanza_in.stream_id = "s2s-1";
    m.stanza_in.stanza = xml;
    m.stanza_in.stanza_len = sizeof(xml) - 1;
    return m;
}

static struct ipc_msg stanza_out(void)
{
    struct ipc_msg m = {.type = IPC_MSG_STANZA_OUT};
    m.stanza_out.from = "contoso.example";
    m.stanza_out.to = "fabrikam.example";
    m.stanza_out.stanza = xml;
    m.stanza_out.stanza_len = sizeof(xml) - 1;
    return m;
}

static bool pred_int_ge(void *arg)
{
    int **v = arg;
    return *v[0] >= *v[1];
}

static void wait_count(int *counter, int want, unsigned ms)
{
    int *v[2] = {counter, &want};
    run_until(fx.base, pred_int_ge, v, ms);
}

/* ---- tests ---- */

static void allowed_gateway_exchanges_stanzas_with_acks(void **state)
{
    (void)state;
    struct side e = {.label = "edge", .ack = true, .ack_condition = "remote-server-not-found"};
    struct side g = {.label = "gw", .ack = true};
    server(&e, NULL);
    client(&g, e.ch, &fx.gw, "gw-a", NULL);
    struct pair_ctx pc = {&e, &g};
    assert_true(run_until(fx.base, both_up, &pc, 5000));

    struct ipc_peer *gp = ipc_channel_peer_find(e.ch, e.peer_id);
    assert_non_null(gp);
    assert_string_equal(ipc_peer_name(gp), "gw-a");
    assert_string_equal(ipc_peer_key_name(gp), "gw1");
    assert_int_equal(ipc_peer_role(gp), IPC_ROLE_GATEWAY);
    struct ipc_peer *ep = ipc_channel_server_peer(g.ch);
    assert_non_null(ep);
    assert_string_equal(ipc_peer_name(ep), "edge-test");
    assert_true(ipc_peer_incarnation(ep) == ipc_channel_incarnation(e.ch));

    /* edge -> gateway, acknowledged ok */
    struct ipc_msg m = stanza_in();
    assert_int_equal(ipc_channel_send(e.ch, gp, &m), 0);
    assert_true(m.id != 0);
    assert_int_equal(ipc_peer_unacked(gp), 1);
    wait_count(&e.acked_ok, 1, 3000);
    assert_int_equal(e.acked_ok, 1);
    assert_int_equal(g.recvd, 1);
    assert_int_equal(g.last_type, IPC_MSG_STANZA_IN);
    assert_true(g.last_id == m.id);
    assert_int_equal(ipc_peer_unacked(gp), 0);

    /* gateway -> edge, answered with an error condition */
    struct ipc_msg o = stanza_out();
    assert_int_equal(ipc_channel_send(g.ch, ep, &o), 0);
    wait_count(&g.acked_err, 1, 3000);
    assert_int_equal(g.acked_err, 1);
    assert_string_equal(g.last_cond, "remote-server-not-found");
    assert_int_equal(e.last_type, IPC_MSG_STANZA_OUT);
    /* the error ACK hands the message back as sent, before acked; an ok
     * ACK does not */
    assert_int_equal(g.refused, 1);
    assert_int_equal(g.refused_before_acked, 1);
    assert_true(g.refused_id == o.id);
    assert_int_equal(g.refused_type, IPC_MSG_STANZA_OUT);
    assert_int_equal(e.refused, 0);

    /* a configuration push is reliable too; stats are best effort */
    struct ipc_msg c = {.type = IPC_MSG_CONFIG_PUSH};
    c.config_push.version = 4;
    c.config_push.text = (const uint8_t *)"settings = {};\n";
    c.config_push.text_len = 15;
    assert_int_equal(ipc_channel_send(g.ch, ep, &c), 0);
    wait_count(&g.acked_err, 2, 3000);
    assert_int_equal(e.last_type, IPC_MSG_CONFIG_PUSH);
    struct ipc_msg sr = {.type = IPC_MSG_STATS_REQUEST};
    assert_int_equal(ipc_channel_send(g.ch, ep, &sr), 0);
    wait_count(&g.stats, 1, 3000);
    assert_int_equal(g.stats, 1);

    /* the channel's own types cannot be sent by the application */
    struct ipc_msg hb = {.type = IPC_MSG_HEARTBEAT};
    assert_int_equal(ipc_channel_send(g.ch, ep, &hb), -1);
    assert_int_equal(errno, EINVAL);
    /* a second ACK of the same id is refused */
    assert_int_equal(ipc_channel_ack(g.ch, ep, m.id, NULL, NULL), -1);
    assert_int_equal(errno, EALREADY);

    /* heartbeats keep an idle session alive well past dead_ms */
    run_for(fx.base, 2600);
    assert_int_equal(e.downs, 0);
    assert_int_equal(g.downs, 0);

    ipc_channel_free(g.ch);
    wait_count(&e.downs, 1, 3000);
    assert_string_equal(e.last_down, "goodbye: shutdown");
    ipc_channel_free(e.ch);
}

static void key_not_on_allow_list_is_refused_and_logged(void **state)
{
    (void)state;
    struct side e = {.label = "edge", .ack = true};
    struct side g = {.label = "stranger", .ack = true};
    struct capture cap;
    capture_begin(&cap);
    server(&e, NULL);
    client(&g, e.ch, &fx.stranger, "gw-x", NULL);
    run_for(fx.base, 1500);
    char *log = capture_end(&cap);
    assert_int_equal(e.ups, 0);
    assert_int_equal(g.ups, 0);
    assert_int_equal(e.recvd, 0);
    struct ipc_channel_counters c;
    ipc_channel_counters(e.ch, &c);
    assert_true(c.received == 0); /* not even a HELLO got through */
    assert_non_null(strstr(log, "refused connection"));
    assert_non_null(strstr(log, fx.stranger.public_key));
    assert_null(strstr(log, fx.stranger.secret_key));
    assert_null(strstr(log, fx.edge.secret_key));
    ipc_channel_free(g.ch);
    ipc_channel_free(e.ch);
}

static int plain_frames;
static void plain_recv(const uint8_t *ident, size_t ident_len, const char *uid,
                       const uint8_t *payload, size_t len, void *arg)
{
    (void)ident;
    (void)ident_len;
    (void)uid;
    (void)payload;
    (void)len;
    (void)arg;
    plain_frames++;
}

static void plaintext_client_is_refused(void **state)
{
    (void)state;
    struct side e = {.label = "edge", .ack = true};
    struct capture cap;
    capture_begin(&cap);
    server(&e, NULL);
    struct ipc_zmq *pz =
        ipc_zmq_plain_client_new(fx.base, ipc_channel_endpoint(e.ch), 1 << 20, plain_recv, NULL);
    assert_non_null(pz);
    /* a well-formed HELLO, sent in clear, again and again */
    struct ipc_msg h = {.type = IPC_MSG_HELLO, .incarnation = 1};
    h.hello.role = IPC_ROLE_GATEWAY;
    h.hello.proto_version = IPC_PROTOCOL_VERSION;
    h.hello.name = "plain";
    uint8_t buf[128];
    size_t len;
    assert_int_equal(ipc_encode(&h, NULL, buf, sizeof(buf), &len), IPC_OK);
    for (int i = 0; i < 10; i++) {
        ipc_zmq_send(pz, NULL, 0, buf, len);
        run_for(fx.base, 100);
    }
    run_for(fx.base, 300);
    char *log = capture_end(&cap);
    assert_int_equal(e.ups, 0);
    struct ipc_channel_counters c;
    ipc_channel_counters(e.ch, &c);
    assert_true(c.received == 0);
    assert_int_equal(plain_frames, 0);
    assert_non_null(strstr(log, "handshake failed"));
    ipc_zmq_free(pz);
    ipc_channel_free(e.ch);
}

struct both {
    struct side *e, *g;
    int n;
};

static bool all_acked(void *arg)
{
    struct both *b = arg;
    return b->e->acked_ok >= b->n && b->g->acked_ok >= b->n;
}

static void exactly_once_over_10000_with_lost_acks(void **state)
{
    (void)state;
    enum { N = 10000 };
    struct ipc_channel_settings es, gs;
    ipc_channel_settings_default(&es);
    ipc_channel_settings_default(&gs);
    es.resend_ms = gs.resend_ms = 200;
    es.drop_ack_one_in = 5; /* the edge loses every 5th ACK it sends */
    gs.drop_ack_one_in = 7; /* the gateway every 7th */
    struct side e = {.label = "edge", .ack = true}, g = {.label = "gw", .ack = true};
    e.count = calloc(MAX_IDS, 1);
    e.acked = calloc(MAX_IDS, 1);
    g.count = calloc(MAX_IDS, 1);
    g.acked = calloc(MAX_IDS, 1);
    server(&e, &es);
    client(&g, e.ch, &fx.gw, "gw-a", &gs);
    struct pair_ctx pc = {&e, &g};
    assert_true(run_until(fx.base, both_up, &pc, 5000));
    struct ipc_peer *gp = ipc_channel_peer_find(e.ch, e.peer_id);
    struct ipc_peer *ep = ipc_channel_server_peer(g.ch);
    uint64_t t0 = now_ms();
    for (int i = 0; i < N; i++) {
        struct ipc_msg m = stanza_in();
        assert_int_equal(ipc_channel_send(e.ch, gp, &m), 0);
        struct ipc_msg o = stanza_out();
        assert_int_equal(ipc_channel_send(g.ch, ep, &o), 0);
    }
    struct both b = {&e, &g, N};
    assert_true(run_until(fx.base, all_acked, &b, 60000));
    uint64_t t1 = now_ms();
    run_for(fx.base, 500); /* late duplicates would show up here */
    int once_g = 0, once_e = 0, acked_g = 0, acked_e = 0;
    for (int id = 1; id <= N; id++) {
        once_g += g.count[id] == 1;
        once_e += e.count[id] == 1;
        acked_e += e.acked[id] == 1;
        acked_g += g.acked[id] == 1;
    }
    assert_int_equal(once_g, N);
    assert_int_equal(once_e, N);
    assert_int_equal(g.recvd, N);
    assert_int_equal(e.recvd, N);
    assert_int_equal(acked_e, N);
    assert_int_equal(acked_g, N);
    struct ipc_channel_counters ce, cg;
    ipc_channel_counters(e.ch, &ce);
    ipc_channel_counters(g.ch, &cg);
    print_message("%d each way in %llu ms; edge: resent=%llu duplicates dropped=%llu; gateway: "
                  "resent=%llu duplicates dropped=%llu\n",
                  N, (unsigned long long)(t1 - t0), (unsigned long long)ce.resent,
                  (unsigned long long)ce.duplicates, (unsigned long long)cg.resent,
                  (unsigned long long)cg.duplicates);
    assert_true(ce.resent > 0 && cg.resent > 0);
    assert_true(ce.duplicates > 0 && cg.duplicates > 0);
    assert_int_equal(ipc_peer_unacked(gp), 0);
    assert_int_equal(ipc_peer_unacked(ep), 0);
    ipc_channel_free(g.ch);
    ipc_channel_free(e.ch);
    free(e.count);
    free(e.acked);
    free(g.count);
    free(g.acked);
}

static void message_above_the_cap_is_refused(void **state)
{
    (void)state;
    struct ipc_channel_settings big;
    ipc_channel_settings_default(&big);
    big.limits.stanza_max = 4u * 1024 * 1024;
    struct side e = {.label = "edge", .ack = true}, g = {.label = "gw", .ack = true};
    server(&e, NULL); /* default cap: 1 MiB */
    client(&g, e.ch, &fx.gw, "gw-a", &big);
    struct pair_ctx pc = {&e, &g};
    assert_true(run_until(fx.base, both_up, &pc, 5000));
    struct ipc_peer *ep = ipc_channel_server_peer(g.ch);
    size_t n = 2u * 1024 * 1024;
    uint8_t *huge = malloc(n);
    memset(huge, 'x', n);
    struct ipc_msg o = stanza_out();
    o.stanza_out.stanza = huge;
    o.stanza_out.stanza_len = n;
    assert_int_equal(ipc_channel_send(g.ch, ep, &o), 0);
    wait_count(&g.acked_err, 1, 5000);
    assert_int_equal(g.acked_err, 1);
    assert_string_equal(g.last_cond, "policy-violation");
    assert_int_equal(e.recvd, 0);
    struct ipc_channel_counters c;
    ipc_channel_counters(e.ch, &c);
    assert_true(c.decode_errors >= 1);
    /* and the edge itself will not send above its own cap */
    struct ipc_peer *gp = ipc_channel_peer_find(e.ch, e.peer_id);
    struct ipc_msg m = stanza_in();
    m.stanza_in.stanza = huge;
    m.stanza_in.stanza_len = IPC_STANZA_MAX_DEFAULT + 1;
    assert_int_equal(ipc_channel_send(e.ch, gp, &m), -1);
    assert_int_equal(errno, EMSGSIZE);
    assert_int_equal(ipc_peer_unacked(gp), 0);
    free(huge);
    ipc_channel_free(g.ch);
    ipc_channel_free(e.ch);
}

/* The child is a gateway in its own process; SIGKILL ends it without a
 * GOODBYE, as a crash or power loss would. */
static int free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
    socklen_t l = sizeof(a);
    getsockname(s, (struct sockaddr *)&a, &l);
    close(s);
    return ntohs(a.sin_port);
}

static void child_gateway(const char *endpoint)
{
    struct event_base *b = event_base_new();
    struct side g = {.label = "child", .ack = false};
    g.ch = ipc_channel_client_new(b, endpoint, "gw-child", IPC_ROLE_GATEWAY, &fx.gw,
                                  fx.edge.public_key, NULL, &cbs, &g);
    if (g.ch == NULL)
        _exit(3);
    struct timeval tv = {20, 0};
    event_base_loopexit(b, &tv);
    event_base_dispatch(b);
    _exit(0);
}

/* A child gateway gets one stanza it never acknowledges; then it is killed
 * (its connection closes) or stopped (connected but silent). The edge must
 * declare it dead with the expected reason within limit_ms and hand the
 * stanza back. */
static void peer_dies(int sig, const char *reason, uint64_t limit_ms)
{
    char endpoint[64];
    snprintf(endpoint, sizeof(endpoint), "tcp://127.0.0.1:%d", free_port());
    fflush(stderr);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        child_gateway(endpoint);
    struct side e = {.label = "edge", .ack = true};
    e.ch =
        ipc_channel_server_new(fx.base, endpoint, "edge-test", &fx.edge, &fx.allow, NULL, &cbs, &e);
    assert_non_null(e.ch);
    wait_count(&e.ups, 1, 10000);
    assert_int_equal(e.ups, 1);
    struct ipc_peer *gp = ipc_channel_peer_find(e.ch, e.peer_id);
    struct ipc_msg m = stanza_in();
    assert_int_equal(ipc_channel_send(e.ch, gp, &m), 0);
    run_for(fx.base, 700); /* delivered, never acknowledged by the child */
    assert_int_equal(ipc_peer_unacked(gp), 1);
    assert_int_equal(kill(pid, sig), 0);
    uint64_t t0 = now_ms();
    wait_count(&e.downs, 1, 5000);
    uint64_t dt = now_ms() - t0;
    print_message("peer declared dead (%s) %llu ms after signal %d (dead_ms 2000, heartbeat "
                  "500)\n",
                  e.last_down, (unsigned long long)dt, sig);
    if (sig != SIGKILL)
        kill(pid, SIGKILL);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_int_equal(e.downs, 1);
    assert_string_equal(e.last_down, reason);
    assert_true(dt <= limit_ms);
    assert_true(e.down_before_unacked);
    assert_int_equal(e.unacked, 1); /* handed back, not lost */
    ipc_channel_free(e.ch);
}

/* A killed peer's connection closes: its session ends at once, not after
 * 2 s of silence (issue 6: recovery under 2 seconds). */
static void killed_peer_detected_at_once(void **state)
{
    (void)state;
    peer_dies(SIGKILL, "connection closed", 300);
}

/* A peer that hangs with its connection open: 2 s of silence, measured from
 * its last heartbeat, plus one 50 ms tick. */
static void silent_peer_detected_within_two_seconds(void **state)
{
    (void)state;
    peer_dies(SIGSTOP, "heartbeat timeout", 2050);
}

/* issue 6: a dead gateway's unacknowledged stanzas go to a survivor with the
 * same ids. */
static struct side *survivor_side;
static void failover_unacked(struct ipc_channel *ch, struct ipc_peer *p, const struct ipc_msg *m,
                             void *arg)
{
    (void)p;
    struct side *s = arg;
    s->unacked++;
    struct ipc_peer *to = ipc_channel_peer_find(ch, survivor_side->peer_id);
    assert_non_null(to);
    struct ipc_msg copy = *m;
    uint64_t id = copy.id;
    assert_int_equal(ipc_channel_send(ch, to, &copy), 0);
    assert_true(copy.id == id);
}

static void cb_up_keep_first(struct ipc_channel *ch, struct ipc_peer *p, void *arg)
{
    (void)ch;
    struct side *s = arg;
    s->ups++;
    if (s->ups == 1)
        s->peer_id = ipc_peer_id(p);
    else
        survivor_side->peer_id = ipc_peer_id(p);
}

static void unacked_stanzas_move_to_a_survivor_with_their_ids(void **state)
{
    (void)state;
    struct ipc_channel_cbs fcbs = cbs;
    fcbs.unacked = failover_unacked;
    fcbs.peer_up = cb_up_keep_first;
    struct side e = {.label = "edge", .ack = true};
    struct side surv = {.label = "survivor"};
    survivor_side = &surv;
    struct side a = {.label = "gw-a", .ack = false}, b = {.label = "gw-b", .ack = true};
    a.count = calloc(MAX_IDS, 1);
    b.count = calloc(MAX_IDS, 1);
    e.ch = ipc_channel_server_new(fx.base, "tcp://127.0.0.1:*", "edge-test", &fx.edge, &fx.allow,
                                  NULL, &fcbs, &e);
    assert_non_null(e.ch);
    client(&a, e.ch, &fx.gw, "gw-a", NULL);
    wait_count(&e.ups, 1, 5000);
    client(&b, e.ch, &fx.gw, "gw-b", NULL);
    wait_count(&e.ups, 2, 5000);
    wait_count(&b.ups, 1, 5000);
    struct ipc_peer *pa = ipc_channel_peer_find(e.ch, e.peer_id);
    assert_non_null(pa);
    assert_string_equal(ipc_peer_name(pa), "gw-a");
    for (int i = 0; i < 100; i++) {
        struct ipc_msg m = stanza_in();
        assert_int_equal(ipc_channel_send(e.ch, pa, &m), 0);
    }
    wait_count(&a.recvd, 100, 3000);
    assert_int_equal(ipc_peer_unacked(pa), 100);
    ipc_channel_free(a.ch); /* gw-a goes away without acknowledging */
    wait_count(&e.acked_ok, 100, 5000);
    assert_int_equal(e.unacked, 100);
    assert_int_equal(e.acked_ok, 100);
    for (int id = 1; id <= 100; id++) {
        assert_int_equal(a.count[id], 1);
        assert_int_equal(b.count[id], 1); /* the same ids reached the survivor */
    }
    ipc_channel_free(b.ch);
    ipc_channel_free(e.ch);
    free(a.count);
    free(b.count);
}

static void removed_key_loses_its_session(void **state)
{
    (void)state;
    struct side e = {.label = "edge", .ack = true}, g = {.label = "gw", .ack = true};
    server(&e, NULL);
    client(&g, e.ch, &fx.gw, "gw-a", NULL);
    struct pair_ctx pc = {&e, &g};
    assert_true(run_until(fx.base, both_up, &pc, 5000));
    struct ipc_allowlist none = {0};
    assert_int_equal(ipc_channel_set_allowlist(e.ch, &none), 0);
    wait_count(&e.downs, 1, 3000);
    assert_string_equal(e.last_down, "key removed");
    wait_count(&g.downs, 1, 3000);
    assert_int_equal(g.downs, 1);
    run_for(fx.base, 1200); /* its renewed HELLOs are refused */
    assert_int_equal(e.ups, 1);
    assert_int_equal(ipc_channel_peers(e.ch, NULL, 0), 0);
    assert_null(ipc_channel_server_peer(g.ch));
    ipc_channel_free(g.ch);
    ipc_channel_free(e.ch);
}

/* An edge restart is absorbed: the gateway's session ends, it reconnects by
 * itself to the new edge process (a new incarnation) and traffic flows. */
static void gateway_reconnects_after_an_edge_restart(void **state)
{
    (void)state;
    struct side e1 = {.label = "edge1", .ack = true}, e2 = {.label = "edge2", .ack = true};
    struct side g = {.label = "gw", .ack = true};
    server(&e1, NULL);
    char endpoint[128];
    snprintf(endpoint, sizeof(endpoint), "%s", ipc_channel_endpoint(e1.ch));
    client(&g, e1.ch, &fx.gw, "gw-a", NULL);
    struct pair_ctx pc = {&e1, &g};
    assert_true(run_until(fx.base, both_up, &pc, 5000));
    uint64_t first = ipc_peer_incarnation(ipc_channel_server_peer(g.ch));
    ipc_channel_free(e1.ch);
    wait_count(&g.downs, 1, 3000);
    assert_string_equal(g.last_down, "goodbye: shutdown");
    e2.ch = ipc_channel_server_new(fx.base, endpoint, "edge-test", &fx.edge, &fx.allow, NULL, &cbs,
                                   &e2);
    assert_non_null(e2.ch);
    wait_count(&g.ups, 2, 8000);
    assert_int_equal(g.ups, 2);
    struct ipc_peer *ep = ipc_channel_server_peer(g.ch);
    assert_non_null(ep);
    assert_true(ipc_peer_incarnation(ep) != first);
    struct ipc_msg o = stanza_out();
    assert_int_equal(ipc_channel_send(g.ch, ep, &o), 0);
    wait_count(&g.acked_ok, 1, 3000);
    assert_int_equal(g.acked_ok, 1);
    assert_int_equal(e2.recvd, 1);
    ipc_channel_free(g.ch);
    ipc_channel_free(e2.ch);
}

/* ---- batching (protocol version 2) ---- */

static bool all_acked_ok(void *arg)
{
    struct both *b = arg;
    return b->e->acked_ok >= b->n;
}

static void connect_pair(struct side *e, struct side *g, const struct ipc_channel_settings *es,
                         const struct ipc_channel_settings *gs, struct ipc_peer **gp,
                         struct ipc_peer **ep)
{
    server(e, es);
    client(g, e->ch, &fx.gw, "gw-a", gs);
    struct pair_ctx pc = {e, g};
    assert_true(run_until(fx.base, both_up, &pc, 5000));
    *gp = ipc_channel_peer_find(e->ch, e->peer_id);
    *ep = ipc_channel_server_peer(g->ch);
    assert_non_null(*gp);
    assert_non_null(*ep);
}

static void messages_of_one_loop_turn_share_a_frame(void **state)
{
    (void)state;
    enum { N = 1000 };
    struct side e = {.label = "edge", .ack = true}, g = {.label = "gw", .ack = true};
    g.count = calloc(MAX_IDS, 1);
    struct ipc_peer *gp, *ep;
    connect_pair(&e, &g, NULL, NULL, &gp, &ep);
    struct ipc_msg probe = stanza_in();
    probe.id = 1;
    size_t item = ipc_encoded_len(&probe) + 4; /* a stanza's bytes in a batch */
    size_t full = N * item / (64 * 1024);      /* full 64 KiB batches N make */
    struct ipc_channel_counters e0, g0, e1, g1;
    ipc_channel_counters(e.ch, &e0);
    ipc_channel_counters(g.ch, &g0);
    for (int i = 0; i < N; i++) {
        struct ipc_msg m = stanza_in();
        assert_int_equal(ipc_channel_send(e.ch, gp, &m), 0);
        /* queued, not yet sent: the loop has not turned and no batch is full */
        ipc_channel_counters(e.ch, &e1);
        if (i < 100)
            assert_true(e1.frames_sent == e0.frames_sent);
    }
    /* only full batches left so far */
    ipc_channel_counters(e.ch, &e1);
    assert_true(e1.frames_sent - e0.frames_sent <= full);
    assert_int_equal(ipc_peer_unacked(gp), N);
    struct both b = {&e, &g, N};
    assert_true(run_until(fx.base, all_acked_ok, &b, 5000));
    ipc_channel_counters(e.ch, &e1);
    ipc_channel_counters(g.ch, &g1);
    unsigned long long frames_out = e1.frames_sent - e0.frames_sent;
    unsigned long long msgs_out = e1.sent - e0.sent;
    unsigned long long ack_frames = g1.frames_sent - g0.frames_sent;
    print_message(
        "%d stanzas in %llu frames (%llu messages), %llu acknowledgements in %llu frames\n", N,
        frames_out, msgs_out, (unsigned long long)(g1.acks_sent - g0.acks_sent), ack_frames);
    /* 1,000 small stanzas fit in a few 64 KiB batches... */
    assert_true(msgs_out == N);
    assert_true(frames_out <= full + 1);
    /* ...and their acknowledgements in a few frames of ACK_RANGES */
    assert_true(g1.acks_sent - g0.acks_sent == N);
    assert_true(ack_frames <= frames_out + 2);
    assert_true(g1.msgs_received - g0.msgs_received >= N);
    assert_true(g1.received - g0.received <= frames_out + 2);
    /* each exactly once, in the order sent, every ACK seen */
    assert_int_equal(g.recvd, N);
    assert_int_equal(g.reordered, 0);
    for (int id = 1; id <= N; id++)
        assert_int_equal(g.count[id], 1);
    assert_int_equal(e.acked_ok, N);
    assert_int_equal(ipc_peer_unacked(gp), 0);
    ipc_channel_free(g.ch);
    ipc_channel_free(e.ch);
    free(g.count);
}

/* The receiving loop keeps turning under a stream of batches: a frame may
 * carry up to IPC_BATCH_COUNT_MAX messages, and a receiver that drained a
 * fixed number of frames per callback (and came back before its timers)
 * once spent seconds on one backlog without sending a heartbeat, so its
 * peer declared it dead. A timer due at every loop turn counts the messages
 * delivered between two of its runs. */
struct turn_probe {
    struct event *ev;
    const struct side *s;
    int last, max, runs;
};

static void turn_probe_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct turn_probe *t = arg;
    static const struct timeval now = {0, 0};
    int d = t->s->recvd - t->last;
    if (d > t->max)
        t->max = d;
    t->last = t->s->recvd;
    t->runs++;
    event_add(t->ev, &now);
}

static bool g_has_n(void *arg)
{
    struct both *b = arg;
    return b->g->recvd >= b->n;
}

static void receiver_loop_turns_between_batches(void **state)
{
    (void)state;
    enum { N = 30000 };
    struct side e = {.label = "edge", .ack = true}, g = {.label = "gw", .ack = true};
    struct ipc_peer *gp, *ep;
    connect_pair(&e, &g, NULL, NULL, &gp, &ep);
    struct ipc_msg probe = stanza_in();
    probe.id = 1;
    size_t item = ipc_encoded_len(&probe) + 4;
    for (int i = 0; i < N; i++) {
        struct ipc_msg m = stanza_in();
        assert_int_equal(ipc_channel_send(e.ch, gp, &m), 0);
    }
    /* one turn sends the rest; then give ZeroMQ's I/O threads time to move
     * the backlog into the receiver's queue, so that it is there at once */
    event_base_loop(fx.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
    struct timespec pause = {0, 300 * 1000 * 1000};
    nanosleep(&pause, NULL);
    struct turn_probe t = {.s = &g};
    t.ev = evtimer_new(fx.base, turn_probe_cb, &t);
    static const struct timeval now = {0, 0};
    event_add(t.ev, &now);
    struct both b = {&e, &g, N};
    assert_true(run_until(fx.base, g_has_n, &b, 10000));
    event_free(t.ev);
    /* a turn may serve the socket twice (its descriptor's event and the
     * timer of input left over), each time at most 256 KiB of input plus
     * the frame that crossed that */
    int bound = 2 * (int)((256 + 64) * 1024 / item) + 1;
    print_message("%d stanzas of %zu bytes: at most %d between two loop turns (bound %d), %d "
                  "turns\n",
                  N, item, t.max, bound, t.runs);
    assert_int_equal(g.recvd, N);
    assert_true(t.max <= bound);
    assert_true(t.runs > N / bound);
    ipc_channel_free(g.ch);
    ipc_channel_free(e.ch);
}

static void batch_caps_are_settings(void **state)
{
    (void)state;
    enum { N = 200 };
    struct ipc_channel_settings es;
    ipc_channel_settings_default(&es);
    es.batch_count_max = 10;
    struct side e = {.label = "edge", .ack = true}, g = {.label = "gw", .ack = true};
    struct ipc_peer *gp, *ep;
    connect_pair(&e, &g, &es, NULL, &gp, &ep);
    struct ipc_channel_counters c0, c1;
    ipc_channel_counters(e.ch, &c0);
    for (int i = 0; i < N; i++) {
        struct ipc_msg m = stanza_in();
        assert_int_equal(ipc_channel_send(e.ch, gp, &m), 0);
    }
    struct both b = {&e, &g, N};
    assert_true(run_until(fx.base, all_acked_ok, &b, 5000));
    ipc_channel_counters(e.ch, &c1);
    assert_true(c1.frames_sent - c0.frames_sent >= N / 10);
    assert_int_equal(g.recvd, N);
    assert_int_equal(g.reordered, 0);
    ipc_channel_free(g.ch);
    ipc_channel_free(e.ch);

    /* the byte cap: 1,000-byte stanzas under a 16 KiB cap */
    ipc_channel_settings_default(&es);
    es.batch_bytes_max = IPC_BATCH_BYTES_MIN;
    struct side e2 = {.label = "edge", .ack = true}, g2 = {.label = "gw", .ack = true};
    connect_pair(&e2, &g2, &es, NULL, &gp, &ep);
    uint8_t big[1000];
    memset(big, 'y', sizeof(big));
    ipc_channel_counters(e2.ch, &c0);
    for (int i = 0; i < N; i++) {
        struct ipc_msg m = stanza_in();
        m.stanza_in.stanza = big;
        m.stanza_in.stanza_len = sizeof(big);
        assert_int_equal(ipc_channel_send(e2.ch, gp, &m), 0);
    }
    struct both b2 = {&e2, &g2, N};
    assert_true(run_until(fx.base, all_acked_ok, &b2, 5000));
    ipc_channel_counters(e2.ch, &c1);
    assert_true(c1.frames_sent - c0.frames_sent >= N * sizeof(big) / IPC_BATCH_BYTES_MIN);
    assert_int_equal(g2.recvd, N);
    ipc_channel_free(g2.ch);
    ipc_channel_free(e2.ch);

    /* out of range: refused at creation */
    ipc_channel_settings_default(&es);
    es.batch_count_max = IPC_BATCH_COUNT_MAX + 1;
    assert_null(ipc_channel_server_new(fx.base, "tcp://127.0.0.1:*", "x", &fx.edge, &fx.allow, &es,
                                       &cbs, NULL));
    ipc_channel_settings_default(&es);
    es.batch_bytes_max = IPC_BATCH_BYTES_MAX + 1;
    assert_null(ipc_channel_server_new(fx.base, "tcp://127.0.0.1:*", "x", &fx.edge, &fx.allow, &es,
                                       &cbs, NULL));
    ipc_channel_settings_default(&es);
    es.limits.stanza_max = IPC_STANZA_MAX_MIN - 1;
    assert_null(ipc_channel_server_new(fx.base, "tcp://127.0.0.1:*", "x", &fx.edge, &fx.allow, &es,
                                       &cbs, NULL));
}

static void large_message_goes_alone_in_order(void **state)
{
    (void)state;
    struct side e = {.label = "edge", .ack = true}, g = {.label = "gw", .ack = true};
    struct ipc_peer *gp, *ep;
    connect_pair(&e, &g, NULL, NULL, &gp, &ep);
    size_t sizes[] = {50, 20000, 60, 300000, 70};
    uint8_t *big = malloc(300000);
    memset(big, 'z', 300000);
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        struct ipc_msg m = stanza_in();
        m.stanza_in.stanza = big;
        m.stanza_in.stanza_len = sizes[i];
        assert_int_equal(ipc_channel_send(e.ch, gp, &m), 0);
    }
    struct both b = {&e, &g, 5};
    assert_true(run_until(fx.base, all_acked_ok, &b, 5000));
    assert_int_equal(g.recvd, 5);
    assert_int_equal(g.reordered, 0);
    assert_int_equal(g.last_len, 70);
    free(big);
    ipc_channel_free(g.ch);
    ipc_channel_free(e.ch);
}

/* A tiny ZeroMQ queue makes sends fail with EAGAIN: the channel waits and
 * goes on, nothing lost, nothing twice, order kept. */
static void full_zeromq_queue_delays_but_loses_nothing(void **state)
{
    (void)state;
    enum { N = 3000 };
    struct ipc_channel_settings es;
    ipc_channel_settings_default(&es);
    es.sndhwm = 2;
    es.batch_count_max = 1; /* every message a frame of its own */
    struct side e = {.label = "edge", .ack = true}, g = {.label = "gw", .ack = true};
    g.count = calloc(MAX_IDS, 1);
    struct ipc_peer *gp, *ep;
    connect_pair(&e, &g, &es, NULL, &gp, &ep);
    uint8_t big[4000];
    memset(big, 'w', sizeof(big));
    for (int i = 0; i < N; i++) {
        struct ipc_msg m = stanza_in();
        m.stanza_in.stanza = big;
        m.stanza_in.stanza_len = sizeof(big);
        assert_int_equal(ipc_channel_send(e.ch, gp, &m), 0);
    }
    struct both b = {&e, &g, N};
    assert_true(run_until(fx.base, all_acked_ok, &b, 20000));
    run_for(fx.base, 300);
    assert_int_equal(g.recvd, N);
    assert_int_equal(g.reordered, 0);
    for (int id = 1; id <= N; id++)
        assert_int_equal(g.count[id], 1);
    assert_int_equal(e.acked_ok, N);
    ipc_channel_free(g.ch);
    ipc_channel_free(e.ch);
    free(g.count);
}

static void last_acks_leave_before_goodbye(void **state)
{
    (void)state;
    enum { N = 500 };
    struct side e = {.label = "edge", .ack = true}, g = {.label = "gw", .ack = false};
    struct ipc_peer *gp, *ep;
    connect_pair(&e, &g, NULL, NULL, &gp, &ep);
    for (int i = 0; i < N; i++) {
        struct ipc_msg m = stanza_in();
        assert_int_equal(ipc_channel_send(e.ch, gp, &m), 0);
    }
    wait_count(&g.recvd, N, 5000);
    assert_int_equal(g.recvd, N);
    /* acknowledged outside the loop, then the channel closes at once: the
     * queued acknowledgements must still leave, ahead of the GOODBYE */
    for (uint64_t id = 1; id <= N; id++)
        assert_int_equal(
            ipc_channel_ack(g.ch, ep, id, id == 7 ? "service-unavailable" : NULL, NULL), 0);
    ipc_channel_free(g.ch);
    wait_count(&e.downs, 1, 3000);
    assert_string_equal(e.last_down, "goodbye: shutdown");
    assert_int_equal(e.acked_ok, N - 1);
    assert_int_equal(e.acked_err, 1);
    assert_int_equal(e.unacked, 0); /* nothing handed back */
    ipc_channel_free(e.ch);
}

struct raw {
    int frames;
    struct ipc_msg *last;
};

static void raw_recv(const uint8_t *ident, size_t ident_len, const char *uid,
                     const uint8_t *payload, size_t len, void *arg)
{
    (void)ident;
    (void)ident_len;
    (void)uid;
    struct raw *r = arg;
    r->frames++;
    ipc_msg_free(r->last);
    r->last = NULL;
    ipc_decode(payload, len, NULL, &r->last);
}

/* A gateway of the release before batching (protocol version 1) says HELLO
 * in its own format: no session, a GOODBYE that names the versions (which
 * its own decoder will log as a version it does not speak), and the log
 * says why, once. */
static void version_1_peer_refused_cleanly(void **state)
{
    (void)state;
    struct side e = {.label = "edge", .ack = true};
    struct capture cap;
    capture_begin(&cap);
    server(&e, NULL);
    struct raw r = {0};
    struct ipc_zmq *z = ipc_zmq_client_new(fx.base, ipc_channel_endpoint(e.ch), &fx.gw,
                                           fx.edge.public_key, 1 << 20, 1000, raw_recv, NULL, &r);
    assert_non_null(z);
    /* HELLO as version 1 wrote it: header version 1, the same fields */
    static const uint8_t v1_hello[] = {
        1, 1, 0, 0, 0, 0, 0, 0, 0, 9, 0,    0, 0, 0,   0,   0,   0,   0, /* header */
        2, 0, 1, 0, 0, 0, 7, 0, 0, 1, 0xf4, 0, 5, 'o', 'l', 'd', 'g', 'w'};
    for (int i = 0; i < 6; i++) {
        ipc_zmq_send(z, NULL, 0, v1_hello, sizeof(v1_hello));
        run_for(fx.base, 100);
    }
    run_for(fx.base, 300);
    char *log = capture_end(&cap);
    assert_int_equal(e.ups, 0);
    struct ipc_channel_counters c;
    ipc_channel_counters(e.ch, &c);
    assert_true(c.decode_errors >= 1);
    assert_true(r.frames >= 1);
    assert_non_null(r.last);
    assert_int_equal(r.last->type, IPC_MSG_GOODBYE);
    assert_non_null(strstr(r.last->goodbye.reason, "protocol version 1 not supported"));
    assert_non_null(strstr(log, "reason=\"unsupported protocol version\""));
    /* logged once, the repetitions counted, not printed */
    const char *first = strstr(log, "unsupported protocol version");
    assert_null(strstr(first + 1, "unsupported protocol version"));
    ipc_msg_free(r.last);
    ipc_zmq_free(z);
    ipc_channel_free(e.ch);
}

int main(void)
{
    log_init("test_ipc_channel", LOG_LEVEL_INFO, false);
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(killed_peer_detected_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(silent_peer_detected_within_two_seconds, setup, teardown),
        cmocka_unit_test_setup_teardown(allowed_gateway_exchanges_stanzas_with_acks, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(key_not_on_allow_list_is_refused_and_logged, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(plaintext_client_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(exactly_once_over_10000_with_lost_acks, setup, teardown),
        cmocka_unit_test_setup_teardown(message_above_the_cap_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(unacked_stanzas_move_to_a_survivor_with_their_ids, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(removed_key_loses_its_session, setup, teardown),
        cmocka_unit_test_setup_teardown(gateway_reconnects_after_an_edge_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(messages_of_one_loop_turn_share_a_frame, setup, teardown),
        cmocka_unit_test_setup_teardown(receiver_loop_turns_between_batches, setup, teardown),
        cmocka_unit_test_setup_teardown(batch_caps_are_settings, setup, teardown),
        cmocka_unit_test_setup_teardown(large_message_goes_alone_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(full_zeromq_queue_delays_but_loses_nothing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(last_acks_leave_before_goodbye, setup, teardown),
        cmocka_unit_test_setup_teardown(version_1_peer_refused_cleanly, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
