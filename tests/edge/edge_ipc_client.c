/*
 * edge_ipc_client.c - a test client of the edge's IPC channel for what
 * `xfedctl tap` does not do: push a configuration and read statistics.
 *
 *   edge_ipc_client ENDPOINT KEYBASE EDGE_PUB push FILE VERSION
 *   edge_ipc_client ENDPOINT KEYBASE EDGE_PUB stats
 *   edge_ipc_client ENDPOINT KEYBASE EDGE_PUB burst FROM TO FILE PACE_MS
 *
 * burst sends every line of FILE (one stanza per line) out from hosted
 * domain FROM to partner TO, one every PACE_MS milliseconds, as a gateway
 * (STANZA_OUT), and waits for every acknowledgement; it prints
 *   burst sent=N ok=K error=E
 * and one "error line=I condition=C" per refused stanza. Exit 0 when all
 * were acknowledged ok, 1 when some were refused, 3 when acknowledgements
 * stopped coming for 60 seconds.
 *
 * KEYBASE.key/.pub is a gateway key pair on the edge's allow-list, EDGE_PUB
 * the file with the edge's public key. Prints one line per answer:
 *   config_ack version=V status=applied|refused reason="..."
 *   stats conf_version=V streams=N gateways=G
 *   stream id=... local=... partner=... direction=in|out auth=N tls=...
 * Exit: 0 applied / stats received, 1 refused, 3 no session or no answer
 * within 20 seconds.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "conf_atomic.h"
#include "ipc_channel.h"
#include "ipc_keys.h"

struct client {
    struct event_base *base;
    struct ipc_channel *ch;
    const char *mode;
    char *text;
    size_t text_len;
    uint64_t version;
    int rc;
    /* burst */
    const char *from, *to;
    char **lines;
    size_t n_lines, next, ok, err;
    uint64_t *ids;
    unsigned pace_ms;
    struct ipc_peer *peer;
    struct event *ev_pace, *ev_timeout;
};

static void arm_timeout(struct client *c, unsigned seconds)
{
    struct timeval tv = {seconds, 0};
    evtimer_add(c->ev_timeout, &tv);
}

static void burst_next(evutil_socket_t fd, short what, void *arg)
{
    struct client *c = arg;
    (void)fd;
    (void)what;
    if (c->next >= c->n_lines || c->peer == NULL)
        return;
    struct ipc_msg m;
    memset(&m, 0, sizeof(m));
    m.type = IPC_MSG_STANZA_OUT;
    m.stanza_out.from = c->from;
    m.stanza_out.to = c->to;
    m.stanza_out.stanza = (const uint8_t *)c->lines[c->next];
    m.stanza_out.stanza_len = strlen(c->lines[c->next]);
    if (ipc_channel_send(c->ch, c->peer, &m) != 0) {
        fprintf(stderr, "send failed: %s\n", strerror(errno));
        event_base_loopexit(c->base, NULL);
        return;
    }
    c->ids[c->next++] = m.id;
    if (c->next < c->n_lines) {
        struct timeval tv = {c->pace_ms / 1000, (c->pace_ms % 1000) * 1000};
        evtimer_add(c->ev_pace, &tv);
    }
}

static void burst_acked(struct ipc_channel *ch, struct ipc_peer *peer, const struct ipc_msg *a,
                        void *arg)
{
    struct client *c = arg;
    (void)ch;
    (void)peer;
    if (c->lines == NULL)
        return; /* not a burst */
    for (size_t i = 0; i < c->next; i++) {
        if (c->ids[i] != a->ack.acked_id)
            continue;
        c->ids[i] = 0; /* counted once */
        if (a->ack.status == IPC_ACK_OK) {
            c->ok++;
        } else {
            c->err++;
            printf("error line=%zu condition=%s\n", i + 1, a->ack.condition);
        }
        break;
    }
    arm_timeout(c, 60);
    if (c->ok + c->err == c->n_lines) {
        printf("burst sent=%zu ok=%zu error=%zu\n", c->next, c->ok, c->err);
        c->rc = c->err ? 1 : 0;
        event_base_loopexit(c->base, NULL);
    }
}

static int burst_load(struct client *c, const char *path)
{
    c->text = conf_read_file(path, 64u * 1024 * 1024, &c->text_len);
    if (c->text == NULL)
        return -1;
    for (char *p = c->text; *p; p++)
        if (*p == '\n')
            c->n_lines++;
    c->lines = calloc(c->n_lines + 1, sizeof(*c->lines));
    c->ids = calloc(c->n_lines + 1, sizeof(*c->ids));
    if (c->lines == NULL || c->ids == NULL)
        return -1;
    size_t n = 0;
    for (char *save = NULL, *l = strtok_r(c->text, "\n", &save); l && n <= c->n_lines;
         l = strtok_r(NULL, "\n", &save))
        c->lines[n++] = l;
    c->n_lines = n;
    return n ? 0 : -1;
}

static void on_up(struct ipc_channel *ch, struct ipc_peer *peer, void *arg)
{
    struct client *c = arg;
    struct ipc_msg m;
    memset(&m, 0, sizeof(m));
    if (strcmp(c->mode, "burst") == 0) {
        if (c->peer == NULL) {
            c->peer = peer;
            burst_next(-1, 0, c);
        }
        return;
    }
    if (strcmp(c->mode, "push") == 0) {
        m.type = IPC_MSG_CONFIG_PUSH;
        m.config_push.version = c->version;
        m.config_push.text = (const uint8_t *)c->text;
        m.config_push.text_len = c->text_len;
    } else {
        m.type = IPC_MSG_STATS_REQUEST;
    }
    if (ipc_channel_send(ch, peer, &m) != 0) {
        fprintf(stderr, "send failed: %s\n", strerror(errno));
        event_base_loopexit(c->base, NULL);
    }
}

static void on_recv(struct ipc_channel *ch, struct ipc_peer *peer, const struct ipc_msg *m,
                    void *arg)
{
    struct client *c = arg;
    if (m->type == IPC_MSG_CONFIG_ACK) {
        ipc_channel_ack(ch, peer, m->id, NULL, NULL);
        printf("config_ack version=%llu status=%s reason=\"%s\"\n",
               (unsigned long long)m->config_ack.version,
               m->config_ack.status == IPC_CONFIG_APPLIED ? "applied" : "refused",
               m->config_ack.reason);
        c->rc = m->config_ack.status == IPC_CONFIG_APPLIED ? 0 : 1;
        event_base_loopexit(c->base, NULL);
    } else if (m->type == IPC_MSG_STATS) {
        printf("stats conf_version=%llu streams=%u gateways=%u\n",
               (unsigned long long)m->stats.conf_version, m->stats.nstreams, m->stats.ngateways);
        for (uint32_t i = 0; i < m->stats.nstreams; i++) {
            const struct ipc_stats_stream *s = &m->stats.streams[i];
            printf(
                "stream id=%s local=%s partner=%s direction=%s auth=%u tls=%s in=%llu out=%llu\n",
                s->stream_id, s->local, s->partner, s->direction == IPC_DIR_INBOUND ? "in" : "out",
                s->auth, s->tls_version[0] ? s->tls_version : "none",
                (unsigned long long)s->stanzas_in, (unsigned long long)s->stanzas_out);
        }
        c->rc = 0;
        event_base_loopexit(c->base, NULL);
    } else if (ipc_msg_type_reliable(m->type)) {
        ipc_channel_ack(ch, peer, m->id, NULL, NULL);
    }
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct client *c = arg;
    (void)fd;
    (void)what;
    fprintf(stderr, "no answer from the edge\n");
    event_base_loopexit(c->base, NULL);
}

int main(int argc, char **argv)
{
    struct client c;
    struct ipc_keypair kp;
    char edge_pub[IPC_KEY_Z85_LEN + 1];
    char dir[1024], *slash;

    memset(&c, 0, sizeof(c));
    c.rc = 3;
    if (argc < 5 || (strcmp(argv[4], "push") == 0 && argc != 7) ||
        (strcmp(argv[4], "burst") == 0 && argc != 9) ||
        (strcmp(argv[4], "push") != 0 && strcmp(argv[4], "stats") != 0 &&
         strcmp(argv[4], "burst") != 0)) {
        fprintf(stderr, "usage: edge_ipc_client ENDPOINT KEYBASE EDGE_PUB push FILE VERSION|stats|"
                        "burst FROM TO FILE PACE_MS\n");
        return 2;
    }
    c.mode = argv[4];
    snprintf(dir, sizeof(dir), "%s", argv[2]);
    slash = strrchr(dir, '/');
    if (slash == NULL) {
        fprintf(stderr, "KEYBASE must contain a directory\n");
        return 2;
    }
    *slash = '\0';
    if (ipc_keys_load_pair(dir, slash + 1, &kp) != 0 ||
        ipc_keys_load_public(argv[3], edge_pub) != 0) {
        fprintf(stderr, "cannot load keys: %s\n", strerror(errno));
        return 3;
    }
    if (strcmp(c.mode, "push") == 0) {
        c.text = conf_read_file(argv[5], 16u * 1024 * 1024, &c.text_len);
        if (c.text == NULL) {
            fprintf(stderr, "cannot read %s: %s\n", argv[5], strerror(errno));
            return 3;
        }
        c.version = strtoull(argv[6], NULL, 10);
    }
    bool burst = strcmp(c.mode, "burst") == 0;
    if (burst) {
        c.from = argv[5];
        c.to = argv[6];
        c.pace_ms = (unsigned)strtoul(argv[8], NULL, 10);
        if (burst_load(&c, argv[7]) != 0) {
            fprintf(stderr, "cannot read stanzas from %s\n", argv[7]);
            return 3;
        }
    }
    struct ipc_channel_settings st;
    ipc_channel_settings_default(&st);
    static const struct ipc_channel_cbs cbs = {
        .peer_up = on_up, .recv = on_recv, .acked = burst_acked};
    c.base = event_base_new();
    /* A burst travels as a gateway's stanzas (tools never carry any). */
    c.ch = ipc_channel_client_new(c.base, argv[1], "edge-test-client",
                                  burst ? IPC_ROLE_GATEWAY : IPC_ROLE_TOOL, &kp, edge_pub, &st,
                                  &cbs, &c);
    ipc_keypair_wipe(&kp);
    if (c.ch == NULL)
        return 3;
    struct event *t = evtimer_new(c.base, on_timeout, &c);
    c.ev_timeout = t;
    c.ev_pace = evtimer_new(c.base, burst_next, &c);
    arm_timeout(&c, burst ? 60 : 20);
    event_base_dispatch(c.base);
    if (burst && c.ok + c.err < c.n_lines)
        printf("burst sent=%zu ok=%zu error=%zu\n", c.next, c.ok, c.err);
    event_free(t);
    event_free(c.ev_pace);
    free(c.lines);
    free(c.ids);
    ipc_channel_free(c.ch);
    event_base_free(c.base);
    free(c.text);
    return c.rc;
}
