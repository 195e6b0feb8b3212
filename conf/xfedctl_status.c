/*
 * xfedctl_status.c - `xfedctl status`: the running edges as their IPC
 * statistics show them (ops_stats.h): reachable or not and why, the
 * configuration version each runs against the store's, live s2s streams
 * per partner and direction, and the gateways connected to each edge with
 * their queue depth (messages waiting for their acknowledgement).
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf_json.h"
#include "exitcodes.h"
#include "ops_stats.h"
#include "xfedctl_util.h"

static const char usage_status[] =
    "status [--json] [--endpoint URL]... [--edge-key KEY|FILE]... [--key BASE]\n"
    "    [--timeout MS]\n"
    "Asks every edge for its statistics over the IPC channel and prints, per edge:\n"
    "whether it answered (and why not), the configuration version it runs against the\n"
    "store's (current, stale, or ahead), its live s2s streams per partner and direction\n"
    "(TLS version, authentication, since, stanzas in and out; 'auth=none' is a stream\n"
    "still negotiating), and its gateways with the time they connected and their queue\n"
    "depth (unacked: messages waiting for the gateway's acknowledgement) and share\n"
    "(users: internal users whose traffic the edge gives to it).\n"
    "The edges, their public keys and the operator key pair come from DIR/" OPS_CONF_FILE "\n"
    "(default: one edge at " OPS_DEFAULT_EDGE ", DIR/keys/edge.pub, the key pair\n"
    "DIR/" OPS_DEFAULT_KEY " made by 'xfedctl keys add-gateway operator').\n"
    "Options:\n"
    "  --json                one JSON object (the panel's GET /api/status format)\n"
    "  --endpoint URL        ask this edge instead of those of " OPS_CONF_FILE " (repeatable)\n"
    "  --edge-key KEY|FILE   the edge's public key, one per --endpoint in the same order\n"
    "  --key BASE            the operator key pair BASE.key + BASE.pub\n"
    "  --timeout MS          the longest to wait for the answers (default from " OPS_CONF_FILE ",\n"
    "                        2000)\n"
    "Exit: 0 every edge answered, 1 an edge did not answer or " OPS_CONF_FILE " is invalid,\n"
    "2 usage, 3 system failure.\n"
    "Example: xfedctl status --json\n";

static void print_time(uint64_t t)
{
    char ts[32];
    struct tm tm;
    time_t tt = (time_t)t;
    if (t == 0 || gmtime_r(&tt, &tm) == NULL) {
        fputs("-", stdout);
        return;
    }
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
    fputs(ts, stdout);
}

static const char *plural(size_t n)
{
    return n == 1 ? "" : "s";
}

static void print_edge(const struct ops_edge *e, uint64_t stored)
{
    if (!e->connected) {
        printf("edge %s: not connected: %s\n", e->endpoint, e->reason);
        return;
    }
    printf("edge %s at %s: connected, configuration version %" PRIu64, e->name, e->endpoint,
           e->conf_version);
    const char *state = ops_config_state(e->conf_version, stored);
    if (strcmp(state, "stale") == 0)
        printf(" (STALE: the store has %" PRIu64 ")", stored);
    else if (strcmp(state, "ahead") == 0)
        printf(" (ahead of the store's %" PRIu64 ")", stored);
    else
        printf(" (%s)", state);
    printf(", %zu stream%s, %zu gateway%s\n", e->n_streams, plural(e->n_streams), e->n_gateways,
           plural(e->n_gateways));
    /* Streams come sorted by partner and direction: one heading per partner. */
    for (size_t k = 0; k < e->n_streams;) {
        size_t in = 0, out = 0, j = k;
        for (; j < e->n_streams && strcmp(e->streams[j].partner, e->streams[k].partner) == 0; j++)
            e->streams[j].direction == IPC_DIR_OUTBOUND ? out++ : in++;
        printf("  partner %s: %zu inbound, %zu outbound\n",
               e->streams[k].partner[0] ? e->streams[k].partner : "(not yet known)", in, out);
        for (size_t i = k; i < j; i++) {
            const struct ops_stream *s = &e->streams[i];
            printf("    stream %s id=%s local=%s tls=%s auth=%s since=",
                   ops_direction_name(s->direction), s->stream_id, s->local[0] ? s->local : "-",
                   s->tls_version[0] ? s->tls_version : "none", ops_auth_name(s->auth));
            print_time(s->since);
            printf(" in=%" PRIu64 " out=%" PRIu64 "\n", s->stanzas_in, s->stanzas_out);
        }
        k = j;
    }
    for (size_t k = 0; k < e->n_gateways; k++) {
        printf("  gateway %s: since ", e->gateways[k].name);
        print_time(e->gateways[k].since);
        printf(", unacked %" PRIu32 ", users %" PRIu32 "\n", e->gateways[k].unacked,
               e->gateways[k].users);
    }
}

/* Appends s to a comma-separated list held in *list; a relative file name
 * is made absolute, since ops.conf's names are relative to DIR but the
 * command line's to the working directory. 0 or -1. */
static int list_add(char **list, const char *s, bool path)
{
    char cwd[4096] = "";
    if (path && s[0] != '/' && !ipc_key_valid(s) && getcwd(cwd, sizeof(cwd) - 1) == NULL)
        return -1;
    if (cwd[0] != '\0')
        strcat(cwd, "/");
    size_t n = (*list ? strlen(*list) + 1 : 0) + strlen(cwd) + strlen(s) + 1;
    char *l = malloc(n);
    if (l == NULL)
        return -1;
    snprintf(l, n, "%s%s%s%s", *list ? *list : "", *list ? "," : "", cwd, s);
    free(*list);
    *list = l;
    return 0;
}

static int status_run(int argc, char **argv, const struct xfedctl_ctx *ctx)
{
    enum { O_JSON = 256, O_ENDPOINT, O_EDGE_KEY, O_KEY, O_TIMEOUT };
    static const struct option longopts[] = {
        {"json", no_argument, NULL, O_JSON},
        {"endpoint", required_argument, NULL, O_ENDPOINT},
        {"edge-key", required_argument, NULL, O_EDGE_KEY},
        {"key", required_argument, NULL, O_KEY},
        {"timeout", required_argument, NULL, O_TIMEOUT},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool json = false;
    char *endpoints = NULL, *edge_keys = NULL;
    char *key = NULL;
    unsigned timeout = 0;
    int c, code = XFED_EXIT_USAGE;

    xfedctl_getopt_reset(argv);
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case O_JSON:
            json = true;
            break;
        case O_ENDPOINT:
        case O_EDGE_KEY:
            if (strchr(optarg, ',') != NULL || optarg[0] == '\0') {
                code = xfedctl_usage("give one value per --endpoint or --edge-key");
                goto out;
            }
            if (list_add(c == O_ENDPOINT ? &endpoints : &edge_keys, optarg, c == O_EDGE_KEY) != 0) {
                code = xfedctl_oom();
                goto out;
            }
            break;
        case O_KEY:
            free(key);
            key = NULL;
            if (list_add(&key, optarg, true) != 0) {
                code = xfedctl_oom();
                goto out;
            }
            break;
        case O_TIMEOUT:
            if (xfedctl_parse_uint(optarg, &timeout) != 0 || timeout < 100 || timeout > 60000) {
                code = xfedctl_usage("--timeout needs milliseconds, 100 to 60000");
                goto out;
            }
            break;
        case 'h':
            code = xfedctl_help();
            goto out;
        default:
            code = xfedctl_usage(NULL);
            goto out;
        }
    }
    if (optind != argc) {
        code = xfedctl_usage("unexpected argument");
        goto out;
    }
    if (edge_keys && !endpoints) {
        code = xfedctl_usage("--edge-key goes with --endpoint");
        goto out;
    }

    struct ops_local l;
    struct conf_report rep;
    conf_report_init(&rep);
    int rc = ops_local_read(ctx->confdir, &l, &rep);
    if (rc != 0) {
        xfedctl_report(NULL, &rep, true);
        conf_report_clear(&rep);
        ops_local_free(&l);
        code = XFED_EXIT_REJECTED;
        goto out;
    }
    conf_report_clear(&rep);
    if (endpoints) {
        /* --endpoint replaces the file's edges, and their keys with it:
         * --edge-key or DIR/keys/edge.pub for each */
        free(l.edge_keys);
        l.edge_keys = NULL;
    }
    if ((endpoints && ops_local_set(&l.edges, endpoints) != 0) ||
        (edge_keys && ops_local_set(&l.edge_keys, edge_keys) != 0) ||
        (key && ops_local_set(&l.ipc_key, key) != 0)) {
        ops_local_free(&l);
        code = xfedctl_oom();
        goto out;
    }
    if (timeout)
        l.timeout_ms = timeout;
    char err[256];
    struct ops_stats *os = ops_stats_new(ctx->confdir, &l, "xfedctl", err, sizeof(err));
    ops_local_free(&l);
    if (os == NULL) {
        if (endpoints)
            xfedctl_err("--endpoint, --edge-key: %s", err);
        else
            xfedctl_err("%s/%s: %s", ctx->confdir, OPS_CONF_FILE, err);
        code = XFED_EXIT_REJECTED;
        goto out;
    }

    /* The store's version, to flag edges that run an older one. */
    uint64_t stored = 0;
    int scode;
    struct conf_store *store = xfedctl_store_open(ctx, &scode);
    if (store != NULL) {
        struct conf *conf = xfedctl_load(store, &scode);
        if (conf != NULL)
            stored = conf->version;
        conf_free(conf);
        conf_store_close(store);
    }

    const struct ops_report *r = ops_stats_query(os, false);
    if (r == NULL) {
        ops_stats_free(os);
        code = xfedctl_oom();
        goto out;
    }
    size_t answered = 0;
    for (size_t i = 0; i < r->n_edges; i++)
        answered += r->edges[i].connected;
    if (json) {
        struct jbuf b;
        jbuf_init(&b);
        ops_report_json(&b, r, NULL, stored);
        if (b.failed) {
            jbuf_free(&b);
            ops_stats_free(os);
            code = xfedctl_oom();
            goto out;
        }
        printf("%s\n", b.s);
        jbuf_free(&b);
    } else {
        if (stored)
            printf("store: configuration version %" PRIu64 "\n", stored);
        else
            printf("store: configuration version unknown\n");
        for (size_t i = 0; i < r->n_edges; i++)
            print_edge(&r->edges[i], stored);
    }
    if (answered < r->n_edges)
        xfedctl_err("%zu of %zu edge%s did not answer", r->n_edges - answered, r->n_edges,
                    plural(r->n_edges));
    code = answered == r->n_edges ? XFED_EXIT_OK : XFED_EXIT_REJECTED;
    ops_stats_free(os);
out:
    free(endpoints);
    free(edge_keys);
    free(key);
    return code;
}

static const struct xfedctl_sub status_sub = {"status", status_run, usage_status};

int xfedctl_status_main(int argc, char **argv, const struct xfedctl_ctx *ctx)
{
    return xfedctl_run_single(&status_sub, argc, argv, ctx);
}
