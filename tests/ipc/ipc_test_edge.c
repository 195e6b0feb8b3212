/*
 * ipc_test_edge.c - a stand-in for the edge's IPC side, for testing
 * `xfedctl tap` and `xfedctl keys` end to end while they are developed
 * apart from xfed-edge. It runs the real server channel with the keys of a
 * configuration directory and:
 *   - sends --send N STANZA_IN to each gateway that connects;
 *   - prints each STANZA_OUT as "stanza_out id=.. from=.. to=.. xml=.." and
 *     acknowledges it: ok, or remote-server-not-found for to=unknown.example;
 *     for to=bounce.example it acknowledges ok and then sends a BOUNCE;
 *   - prints each acknowledgement of its stanzas as "acked id=.. status=..";
 *   - answers STATS_REQUEST with one made-up stream and its live gateways.
 * It writes the endpoint it bound to ENDPOINT_FILE and exits on SIGTERM or
 * after 120 s.
 *
 * usage: ipc_test_edge CONFDIR ENDPOINT_FILE [--send N]
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "ipc_channel.h"
#include "ipc_keys.h"
#include "log.h"

static unsigned send_n;
static struct event_base *base;

static const uint8_t xml[] = "<message from='alice@fabrikam.example' to='bob@contoso.example' "
                             "type='chat'><body>line one\nline two</body></message>";

static void up(struct ipc_channel *ch, struct ipc_peer *p, void *arg)
{
    (void)arg;
    printf("peer_up name=%s key=%s\n", ipc_peer_name(p), ipc_peer_key_name(p));
    for (unsigned i = 0; i < send_n; i++) {
        struct ipc_msg m = {.type = IPC_MSG_STANZA_IN};
        m.stanza_in.direction = IPC_DIR_INBOUND;
        m.stanza_in.local = "contoso.example";
        m.stanza_in.remote = "fabrikam.example";
        m.stanza_in.stream_id = "test-stream-1";
        m.stanza_in.stanza = xml;
        m.stanza_in.stanza_len = sizeof(xml) - 1;
        if (ipc_channel_send(ch, p, &m) != 0)
            printf("send failed\n");
    }
    fflush(stdout);
}

static void down(struct ipc_channel *ch, struct ipc_peer *p, const char *reason, void *arg)
{
    (void)ch;
    (void)arg;
    printf("peer_down name=%s reason=%s\n", ipc_peer_name(p), reason);
    fflush(stdout);
}

static void recv_msg(struct ipc_channel *ch, struct ipc_peer *p, const struct ipc_msg *m, void *arg)
{
    (void)arg;
    if (m->type == IPC_MSG_STANZA_OUT) {
        printf("stanza_out id=%" PRIu64 " from=%s to=%s xml=%.*s\n", m->id, m->stanza_out.from,
               m->stanza_out.to, (int)m->stanza_out.stanza_len, (const char *)m->stanza_out.stanza);
        if (strcmp(m->stanza_out.to, "unknown.example") == 0) {
            ipc_channel_ack(ch, p, m->id, "remote-server-not-found", "no such domain");
        } else {
            ipc_channel_ack(ch, p, m->id, NULL, NULL);
            if (strcmp(m->stanza_out.to, "bounce.example") == 0) {
                struct ipc_msg b = {.type = IPC_MSG_BOUNCE};
                b.bounce.stanza_id = m->id;
                b.bounce.condition = "remote-server-timeout";
                b.bounce.text = "no stream in time";
                ipc_channel_send(ch, p, &b);
            }
        }
    } else if (m->type == IPC_MSG_STATS_REQUEST) {
        struct ipc_peer *peers[16];
        size_t n = ipc_channel_peers(ch, peers, 16);
        struct ipc_stats_gateway gw[16];
        for (size_t i = 0; i < n && i < 16; i++) {
            gw[i].name = ipc_peer_name(peers[i]);
            gw[i].since = ipc_peer_since(peers[i]);
            gw[i].unacked = (uint32_t)ipc_peer_unacked(peers[i]);
        }
        struct ipc_stats_stream st = {"test-stream-1",
                                      "contoso.example",
                                      "fabrikam.example",
                                      IPC_DIR_INBOUND,
                                      "TLSv1.3",
                                      IPC_AUTH_SASL_EXTERNAL,
                                      (uint64_t)time(NULL),
                                      3,
                                      1};
        struct ipc_msg s = {.type = IPC_MSG_STATS};
        s.stats.request_id = m->id;
        s.stats.name = "test-edge";
        s.stats.conf_version = 7;
        s.stats.nstreams = 1;
        s.stats.streams = &st;
        s.stats.ngateways = (uint32_t)(n < 16 ? n : 16);
        s.stats.gateways = gw;
        ipc_channel_send(ch, p, &s);
    } else if (ipc_msg_type_reliable(m->type)) {
        ipc_channel_ack(ch, p, m->id, NULL, NULL);
    }
    fflush(stdout);
}

static void acked(struct ipc_channel *ch, struct ipc_peer *p, const struct ipc_msg *a, void *arg)
{
    (void)ch;
    (void)p;
    (void)arg;
    printf("acked id=%" PRIu64 " status=%s condition=%s\n", a->ack.acked_id,
           a->ack.status == IPC_ACK_OK ? "ok" : "error", a->ack.condition);
    fflush(stdout);
}

static void on_signal(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    event_base_loopbreak(base);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: ipc_test_edge CONFDIR ENDPOINT_FILE [--send N]\n");
        return 2;
    }
    if (argc == 5 && strcmp(argv[3], "--send") == 0)
        send_n = (unsigned)strtoul(argv[4], NULL, 10);
    log_init("ipc_test_edge", LOG_LEVEL_INFO, false);
    struct ipc_keypair kp;
    struct ipc_allowlist allow;
    if (ipc_keys_load_edge(argv[1], &kp) != 0 || ipc_keys_load_allowlist(argv[1], &allow) != 0) {
        fprintf(stderr, "ipc_test_edge: cannot load keys from %s\n", argv[1]);
        return 3;
    }
    base = event_base_new();
    static const struct ipc_channel_cbs cbs = {up, down, recv_msg, acked, NULL, NULL};
    struct ipc_channel *ch = ipc_channel_server_new(base, "tcp://127.0.0.1:*", "test-edge", &kp,
                                                    &allow, NULL, &cbs, NULL);
    ipc_keypair_wipe(&kp);
    ipc_allowlist_free(&allow);
    if (ch == NULL)
        return 3;
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp", argv[2]);
    FILE *f = fopen(tmp, "w");
    if (f == NULL || fprintf(f, "%s\n", ipc_channel_endpoint(ch)) < 0 || fclose(f) != 0 ||
        rename(tmp, argv[2]) != 0)
        return 3;
    struct event *sig = evsignal_new(base, SIGTERM, on_signal, NULL);
    event_add(sig, NULL);
    struct timeval tv = {120, 0};
    event_base_loopexit(base, &tv);
    event_base_dispatch(base);
    ipc_channel_free(ch);
    event_free(sig);
    event_base_free(base);
    return 0;
}
