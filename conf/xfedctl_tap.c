/*
 * xfedctl_tap.c - `xfedctl tap`: connects to an edge's IPC endpoint as a
 * gateway (CURVE, with a key pair on the edge's allow-list), prints every
 * stanza that arrives as one line and acknowledges it, and can inject one
 * stanza for the edge to send out to a partner. The operator's view of what
 * crosses the channel, and what tests use while no gateway runs.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "conf_atomic.h"
#include "exitcodes.h"
#include "ipc_channel.h"
#include "ipc_keys.h"
#include "log.h"
#include "ops_stats.h"
#include "xfedctl_util.h"

#define TAP_DEFAULT_ENDPOINT "tcp://127.0.0.1:5555"

static const char usage_tap[] =
    "tap [--endpoint URL] [--key BASE] [--edge-key KEY|FILE] [--name NAME]\n"
    "    [--count N] [--timeout SECONDS] [--ack-error CONDITION]\n"
    "    [--inject FILE|- --from DOMAIN --to DOMAIN] [--stats] [--verbose]\n"
    "Connects to an edge as a gateway and prints each stanza that arrives, one a line:\n"
    "  stanza id=ID incarnation=HEX remote=DOMAIN local=DOMAIN direction=inbound|outbound\n"
    "         stream=STREAM-ID bytes=N xml=XML\n"
    "(newlines, tabs and backslashes in XML are written as \\n, \\t, \\\\), then acknowledges\n"
    "it. Bounces of injected stanzas print as 'bounce id=ID condition=C text=T'.\n"
    "Options:\n"
    "  --endpoint URL        the edge's IPC endpoint (default " TAP_DEFAULT_ENDPOINT ")\n"
    "  --key BASE            this tap's key pair BASE.key + BASE.pub, e.g. from\n"
    "                        'xfedctl keys add-gateway tap' (default DIR/keys/gateway/tap)\n"
    "  --edge-key KEY|FILE   the edge's public key or a file holding it\n"
    "                        (default DIR/keys/edge.pub)\n"
    "  --name NAME           instance name announced to the edge (default tap)\n"
    "  --count N             exit after N stanzas\n"
    "  --timeout SECONDS     exit after this long\n"
    "  --ack-error COND      acknowledge stanzas with this XMPP error condition instead of ok\n"
    "  --inject FILE|-       send the stanza in FILE (or standard input) out to a partner;\n"
    "                        waits for its acknowledgement and prints 'ack id=ID status=...'\n"
    "  --from DOMAIN         hosted domain the injected stanza leaves from\n"
    "  --to DOMAIN           partner domain it goes to\n"
    "  --stats               ask the edge for its statistics and print them\n"
    "  --verbose             log the channel's events on standard error\n"
    "Without --count, --inject or --stats it runs until --timeout or a signal.\n"
    "Exit: 0 done, 1 fewer than N stanzas before the timeout or the injected stanza was\n"
    "refused, 2 usage, 3 system failure (keys unreadable, no session with the edge).\n"
    "Example: xfedctl tap --count 1 --timeout 30\n";

struct tap {
    struct event_base *base;
    struct ipc_channel *ch;
    unsigned count_max, got;
    const char *ack_error;
    uint8_t *inject;
    size_t inject_len;
    const char *from, *to;
    uint64_t inject_id;
    bool inject_sent;
    int inject_result; /* -1 waiting, 0 ok, 1 refused */
    bool stats, stats_done;
    bool connected;
    bool timed_out;
};

static void print_escaped(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        switch (p[i]) {
        case '\n':
            fputs("\\n", stdout);
            break;
        case '\r':
            fputs("\\r", stdout);
            break;
        case '\t':
            fputs("\\t", stdout);
            break;
        case '\\':
            fputs("\\\\", stdout);
            break;
        default:
            putchar(p[i]);
        }
    }
}

static bool tap_done(const struct tap *t)
{
    bool any = t->count_max || t->inject || t->stats;
    return any && (t->count_max == 0 || t->got >= t->count_max) &&
           (t->inject == NULL || t->inject_result >= 0) && (!t->stats || t->stats_done);
}

static void tap_check(struct tap *t)
{
    if (tap_done(t))
        event_base_loopbreak(t->base);
}

static void tap_send_inject(struct tap *t, struct ipc_peer *p)
{
    struct ipc_msg m = {.type = IPC_MSG_STANZA_OUT, .id = t->inject_id};
    m.stanza_out.from = t->from;
    m.stanza_out.to = t->to;
    m.stanza_out.stanza = t->inject;
    m.stanza_out.stanza_len = t->inject_len;
    if (ipc_channel_send(t->ch, p, &m) != 0) {
        xfedctl_err("cannot send the stanza: %s", strerror(errno));
        t->inject_result = 1;
        return;
    }
    t->inject_id = m.id;
    t->inject_sent = true;
}

static void tap_up(struct ipc_channel *ch, struct ipc_peer *p, void *arg)
{
    (void)ch;
    struct tap *t = arg;
    t->connected = true;
    fprintf(stderr, "tap: connected to edge %s\n", ipc_peer_name(p));
    if (t->inject && !t->inject_sent && t->inject_result < 0)
        tap_send_inject(t, p);
    if (t->stats && !t->stats_done) {
        struct ipc_msg m = {.type = IPC_MSG_STATS_REQUEST};
        if (ipc_channel_send(t->ch, p, &m) != 0)
            xfedctl_err("cannot ask for statistics: %s", strerror(errno));
    }
    tap_check(t);
}

static void tap_down(struct ipc_channel *ch, struct ipc_peer *p, const char *reason, void *arg)
{
    (void)ch;
    (void)p;
    (void)arg;
    fprintf(stderr, "tap: session with the edge lost: %s\n", reason);
}

static void tap_unacked(struct ipc_channel *ch, struct ipc_peer *p, const struct ipc_msg *m,
                        void *arg)
{
    (void)ch;
    (void)p;
    struct tap *t = arg;
    /* Sent again, with the same id, when the next session starts. */
    if (m->id == t->inject_id)
        t->inject_sent = false;
}

static void print_stats(const struct ipc_stats *s)
{
    printf("stats edge=%s conf_version=%" PRIu64 " streams=%u gateways=%u\n", s->name,
           s->conf_version, s->nstreams, s->ngateways);
    for (uint32_t i = 0; i < s->nstreams; i++) {
        const struct ipc_stats_stream *e = &s->streams[i];
        printf("stream id=%s local=%s partner=%s direction=%s tls=%s auth=%s since=%" PRIu64
               " in=%" PRIu64 " out=%" PRIu64 "\n",
               e->stream_id, e->local, e->partner, ops_direction_name(e->direction),
               e->tls_version[0] ? e->tls_version : "none", ops_auth_name(e->auth), e->since,
               e->stanzas_in, e->stanzas_out);
    }
    for (uint32_t i = 0; i < s->ngateways; i++)
        printf("gateway name=%s since=%" PRIu64 " unacked=%u users=%u\n", s->gateways[i].name,
               s->gateways[i].since, s->gateways[i].unacked, s->gateways[i].users);
}

static void tap_recv(struct ipc_channel *ch, struct ipc_peer *p, const struct ipc_msg *m, void *arg)
{
    struct tap *t = arg;
    switch (m->type) {
    case IPC_MSG_STANZA_IN: {
        const struct ipc_stanza_in *s = &m->stanza_in;
        printf("stanza id=%" PRIu64 " incarnation=%016" PRIx64
               " remote=%s local=%s direction=%s stream=%s bytes=%zu xml=",
               m->id, m->incarnation, s->remote, s->local, ops_direction_name(s->direction),
               s->stream_id, s->stanza_len);
        print_escaped(s->stanza, s->stanza_len);
        putchar('\n');
        fflush(stdout);
        if (ipc_channel_ack(ch, p, m->id, t->ack_error, t->ack_error ? "xfedctl tap" : NULL) != 0)
            xfedctl_err("cannot acknowledge id %" PRIu64 ": %s", m->id, strerror(errno));
        t->got++;
        break;
    }
    case IPC_MSG_BOUNCE:
        printf("bounce id=%" PRIu64 " condition=%s text=%s\n", m->bounce.stanza_id,
               m->bounce.condition, m->bounce.text);
        fflush(stdout);
        ipc_channel_ack(ch, p, m->id, NULL, NULL);
        break;
    case IPC_MSG_CONFIG_ACK:
        printf("config_ack version=%" PRIu64 " status=%s reason=%s\n", m->config_ack.version,
               m->config_ack.status == IPC_CONFIG_APPLIED ? "applied" : "refused",
               m->config_ack.reason);
        fflush(stdout);
        ipc_channel_ack(ch, p, m->id, NULL, NULL);
        break;
    case IPC_MSG_STATS:
        print_stats(&m->stats);
        fflush(stdout);
        t->stats_done = true;
        break;
    default:
        /* Not for a gateway (STANZA_OUT, CONFIG_PUSH): refuse, never drop. */
        if (ipc_msg_type_reliable(m->type))
            ipc_channel_ack(ch, p, m->id, "feature-not-implemented", "xfedctl tap");
        break;
    }
    tap_check(t);
}

static void tap_acked(struct ipc_channel *ch, struct ipc_peer *p, const struct ipc_msg *a,
                      void *arg)
{
    (void)ch;
    (void)p;
    struct tap *t = arg;
    if (a->ack.acked_id != t->inject_id || t->inject == NULL)
        return;
    if (a->ack.status == IPC_ACK_OK) {
        printf("ack id=%" PRIu64 " status=ok\n", a->ack.acked_id);
        t->inject_result = 0;
    } else {
        printf("ack id=%" PRIu64 " status=error condition=%s text=%s\n", a->ack.acked_id,
               a->ack.condition, a->ack.text);
        t->inject_result = 1;
    }
    fflush(stdout);
    tap_check(t);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    struct tap *t = arg;
    event_base_loopbreak(t->base);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct tap *t = arg;
    t->timed_out = true;
    event_base_loopbreak(t->base);
}

static uint8_t *read_stanza(const char *path, size_t max, size_t *len)
{
    uint8_t *buf = NULL;
    if (strcmp(path, "-") == 0) {
        size_t cap = 0, n = 0;
        for (;;) {
            if (n == cap) {
                if (cap > max) {
                    free(buf);
                    errno = EFBIG;
                    return NULL;
                }
                cap = cap ? cap * 2 : 4096;
                uint8_t *nb = realloc(buf, cap + 1);
                if (nb == NULL) {
                    free(buf);
                    return NULL;
                }
                buf = nb;
            }
            ssize_t r = read(STDIN_FILENO, buf + n, cap - n);
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0) {
                free(buf);
                return NULL;
            }
            if (r == 0)
                break;
            n += (size_t)r;
        }
        *len = n;
    } else {
        buf = (uint8_t *)conf_read_file(path, max + 64, len);
        if (buf == NULL)
            return NULL;
    }
    while (*len > 0 && (buf[*len - 1] == '\n' || buf[*len - 1] == '\r' || buf[*len - 1] == ' ' ||
                        buf[*len - 1] == '\t'))
        (*len)--;
    return buf;
}

static int tap_run(int argc, char **argv, const struct xfedctl_ctx *ctx)
{
    enum {
        O_ENDPOINT = 256,
        O_KEY,
        O_EDGE_KEY,
        O_NAME,
        O_COUNT,
        O_TIMEOUT,
        O_ACK_ERROR,
        O_INJECT,
        O_FROM,
        O_TO,
        O_STATS,
        O_VERBOSE,
    };
    static const struct option longopts[] = {
        {"endpoint", required_argument, NULL, O_ENDPOINT},
        {"key", required_argument, NULL, O_KEY},
        {"edge-key", required_argument, NULL, O_EDGE_KEY},
        {"name", required_argument, NULL, O_NAME},
        {"count", required_argument, NULL, O_COUNT},
        {"timeout", required_argument, NULL, O_TIMEOUT},
        {"ack-error", required_argument, NULL, O_ACK_ERROR},
        {"inject", required_argument, NULL, O_INJECT},
        {"from", required_argument, NULL, O_FROM},
        {"to", required_argument, NULL, O_TO},
        {"stats", no_argument, NULL, O_STATS},
        {"verbose", no_argument, NULL, O_VERBOSE},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *endpoint = TAP_DEFAULT_ENDPOINT, *key = NULL, *edge_key = NULL, *name = "tap";
    const char *inject_path = NULL;
    unsigned timeout = 0;
    struct tap t = {.inject_result = -1};
    int c;
    xfedctl_getopt_reset(argv);
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case O_ENDPOINT:
            endpoint = optarg;
            break;
        case O_KEY:
            key = optarg;
            break;
        case O_EDGE_KEY:
            edge_key = optarg;
            break;
        case O_NAME:
            name = optarg;
            break;
        case O_COUNT:
            if (xfedctl_parse_uint(optarg, &t.count_max) != 0 || t.count_max == 0)
                return xfedctl_usage("--count needs a positive number");
            break;
        case O_TIMEOUT:
            if (xfedctl_parse_uint(optarg, &timeout) != 0 || timeout == 0)
                return xfedctl_usage("--timeout needs a positive number of seconds");
            break;
        case O_ACK_ERROR:
            t.ack_error = optarg;
            break;
        case O_INJECT:
            inject_path = optarg;
            break;
        case O_FROM:
            t.from = optarg;
            break;
        case O_TO:
            t.to = optarg;
            break;
        case O_STATS:
            t.stats = true;
            break;
        case O_VERBOSE:
            log_set_level(LOG_LEVEL_INFO);
            break;
        case 'h':
            return xfedctl_help();
        default:
            return xfedctl_usage(NULL);
        }
    }
    if (optind != argc)
        return xfedctl_usage("unexpected argument");
    if (inject_path && (t.from == NULL || t.to == NULL))
        return xfedctl_usage("--inject needs --from and --to");
    if (!inject_path && (t.from || t.to))
        return xfedctl_usage("--from and --to go with --inject");
    if (t.ack_error && (t.ack_error[0] == '\0' || strlen(t.ack_error) > IPC_COND_MAX))
        return xfedctl_usage("--ack-error needs an XMPP error condition");

    char keybase[4096], edgepath[4096];
    struct ipc_keypair kp;
    char edge_pub[IPC_KEY_Z85_LEN + 1];
    if (key == NULL) {
        snprintf(keybase, sizeof(keybase), "%s/keys/gateway/tap", ctx->confdir);
        key = keybase;
    }
    if (ops_load_keypair(key, &kp) != 0) {
        xfedctl_err("cannot load the key pair %s.key/.pub: %s", key, strerror(errno));
        return XFED_EXIT_SYSTEM;
    }
    if (edge_key == NULL) {
        snprintf(edgepath, sizeof(edgepath), "%s/keys/edge.pub", ctx->confdir);
        edge_key = edgepath;
    }
    if (ops_load_public(edge_key, edge_pub) != 0) {
        xfedctl_err("cannot load the edge's public key %s: %s", edge_key, strerror(errno));
        ipc_keypair_wipe(&kp);
        return XFED_EXIT_SYSTEM;
    }
    struct ipc_channel_settings set;
    ipc_channel_settings_default(&set);
    if (inject_path) {
        t.inject = read_stanza(inject_path, set.limits.stanza_max, &t.inject_len);
        if (t.inject == NULL || t.inject_len == 0) {
            xfedctl_err("cannot read a stanza from %s: %s", inject_path,
                        t.inject ? "empty" : strerror(errno));
            free(t.inject);
            ipc_keypair_wipe(&kp);
            return t.inject ? XFED_EXIT_REJECTED : XFED_EXIT_SYSTEM;
        }
    }

    int code = XFED_EXIT_SYSTEM;
    t.base = event_base_new();
    struct event *sigint = NULL, *sigterm = NULL, *timer = NULL;
    if (t.base == NULL) {
        ipc_keypair_wipe(&kp);
        goto out;
    }
    static const struct ipc_channel_cbs cbs = {tap_up,    tap_down,    tap_recv,
                                               tap_acked, tap_unacked, NULL};
    t.ch = ipc_channel_client_new(t.base, endpoint, name, IPC_ROLE_GATEWAY, &kp, edge_pub, &set,
                                  &cbs, &t);
    ipc_keypair_wipe(&kp);
    if (t.ch == NULL) {
        xfedctl_err("cannot connect to %s", endpoint);
        goto out;
    }
    sigint = evsignal_new(t.base, SIGINT, on_signal, &t);
    sigterm = evsignal_new(t.base, SIGTERM, on_signal, &t);
    if (sigint == NULL || sigterm == NULL || event_add(sigint, NULL) != 0 ||
        event_add(sigterm, NULL) != 0)
        goto out;
    if (timeout) {
        struct timeval tv = {(time_t)timeout, 0};
        timer = evtimer_new(t.base, on_timeout, &t);
        if (timer == NULL || evtimer_add(timer, &tv) != 0)
            goto out;
    }
    event_base_dispatch(t.base);
    if (!t.connected) {
        xfedctl_err("no session with the edge at %s", endpoint);
        code = XFED_EXIT_SYSTEM;
    } else if (t.inject && t.inject_result != 0) {
        if (t.inject_result < 0)
            xfedctl_err("the injected stanza was not acknowledged");
        code = XFED_EXIT_REJECTED;
    } else if (t.count_max && t.got < t.count_max) {
        xfedctl_err("%u of %u stanzas before the timeout", t.got, t.count_max);
        code = XFED_EXIT_REJECTED;
    } else if (t.stats && !t.stats_done) {
        xfedctl_err("no statistics before the timeout");
        code = XFED_EXIT_REJECTED;
    } else {
        code = XFED_EXIT_OK;
    }
out:
    ipc_channel_free(t.ch);
    if (timer)
        event_free(timer);
    if (sigint)
        event_free(sigint);
    if (sigterm)
        event_free(sigterm);
    if (t.base)
        event_base_free(t.base);
    free(t.inject);
    return code;
}

static const struct xfedctl_sub tap_sub = {"tap", tap_run, usage_tap};

int xfedctl_tap_main(int argc, char **argv, const struct xfedctl_ctx *ctx)
{
    return xfedctl_run_single(&tap_sub, argc, argv, ctx);
}
