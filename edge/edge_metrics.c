/*
 * edge_metrics.c - xfed-edge's registry, its cached per-condition handles,
 * the collect callback and the GET /metrics endpoint (docs/metrics.md).
 */
#include "edge_metrics.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "edge.h"
#include "edge_conf.h"
#include "edge_ipc.h"
#include "log.h"
#include "metrics.h"
#include "metrics_catalog.h"
#include "metrics_http.h"

/* RFC 6120 section 4.9.3: every defined stream error condition. */
static const char *const stream_conditions[] = {
    "bad-format",
    "bad-namespace-prefix",
    "conflict",
    "connection-timeout",
    "host-gone",
    "host-unknown",
    "improper-addressing",
    "internal-server-error",
    "invalid-from",
    "invalid-namespace",
    "invalid-xml",
    "not-authorized",
    "not-well-formed",
    "policy-violation",
    "remote-connection-failed",
    "reset",
    "resource-constraint",
    "restricted-xml",
    "see-other-host",
    "system-shutdown",
    "undefined-condition",
    "unsupported-encoding",
    "unsupported-feature",
    "unsupported-stanza-type",
    "unsupported-version",
};
#define N_STREAM_CONDITIONS (sizeof(stream_conditions) / sizeof(stream_conditions[0]))

/* RFC 6120 section 8.3.3: every defined stanza error condition. */
static const char *const stanza_conditions[] = {
    "bad-request",
    "conflict",
    "feature-not-implemented",
    "forbidden",
    "gone",
    "internal-server-error",
    "item-not-found",
    "jid-malformed",
    "not-acceptable",
    "not-allowed",
    "not-authorized",
    "policy-violation",
    "recipient-unavailable",
    "redirect",
    "registration-required",
    "remote-server-not-found",
    "remote-server-timeout",
    "resource-constraint",
    "service-unavailable",
    "subscription-required",
    "undefined-condition",
    "unexpected-request",
};
#define N_STANZA_CONDITIONS (sizeof(stanza_conditions) / sizeof(stanza_conditions[0]))

/* docs/metrics.md, xfed_edge_handshake_failures_total; "connect" first: the
 * fallback. */
static const char *const hs_reasons[] = {
    "connect", "dns", "tls", "certificate", "sasl", "dialback", "policy", "timeout", "stream_error",
};
#define N_HS_REASONS (sizeof(hs_reasons) / sizeof(hs_reasons[0]))

/* Handles looked up on first use, so the event paths never search the
 * registry by name more than once per label set. */
struct edge_metrics_cache {
    struct metric *stream_err[2][N_STREAM_CONDITIONS]; /* [sent][condition] */
    struct metric *bounced[N_STANZA_CONDITIONS];
    struct metric *hs[N_HS_REASONS];
    struct metric *accepted, *refused, *conf_version, *queue_depth, *pending[2];
    struct metric *sm_resent, *sm_unacked;
};

static size_t index_of(const char *const *v, size_t n, const char *name, size_t fallback)
{
    if (name == NULL)
        return fallback;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(v[i], name))
            return i;
    return fallback;
}

static const char *dir_name(enum s2s_dir d)
{
    return d == S2S_IN ? "in" : "out";
}

int edge_metrics_check_listen(const char *listen, char *err, size_t errlen)
{
    return metrics_http_check_listen(listen, err, errlen);
}

/* Sets the gauges from the edge's state just before a scrape. */
static void collect(struct metrics *reg, void *arg)
{
    struct edge *e = arg;
    struct edge_metrics_cache *c = e->metrics_cache;

    metrics_zero(reg, "xfed_edge_streams");
    int64_t pending[2] = {0, 0}, queued = 0, unacked = 0;
    for (struct s2s_stream *s = s2s_stream_first(e); s; s = s2s_stream_next(s)) {
        enum s2s_dir d = s2s_stream_dir(s);
        queued += (int64_t)s2s_stream_queued(s);
        unacked += (int64_t)s2s_stream_unacked(s);
        if (s2s_stream_state(s) == S2S_ST_CLOSING)
            continue;
        const char *partner = s2s_stream_partner_domain(s);
        if (s2s_stream_auth(s) != S2S_AUTH_NONE && partner)
            metric_inc(metrics_gauge(reg, "xfed_edge_streams", "partner", partner, "direction",
                                     dir_name(d)));
        else
            pending[d == S2S_IN ? 0 : 1]++;
    }
    metric_set(c->pending[0], pending[0]);
    metric_set(c->pending[1], pending[1]);
    metric_set(c->queue_depth, queued);
    metric_set(c->sm_unacked, unacked);
    metric_set(c->conf_version, (int64_t)e->ec->conf->version);
    /* Counters mirrored from struct edge_counters: only ever go up. */
    metric_set(c->accepted, (int64_t)e->counters.accepted);
    metric_set(c->refused, (int64_t)e->counters.refused);
    edge_ipc_metrics(e->ipc, reg);
}

int edge_metrics_init(struct edge *e, char *err, size_t errlen)
{
    struct edge_metrics_cache *c = calloc(1, sizeof(*c));
    e->metrics = metrics_new("xfed-edge", NULL);
    if (c == NULL || e->metrics == NULL ||
        metrics_define_catalog(e->metrics, METRICS_ROLE_EDGE) != 0 ||
        metrics_on_collect(e->metrics, collect, e) != 0) {
        snprintf(err, errlen, "cannot create the metrics registry: %s", strerror(errno));
        free(c);
        metrics_free(e->metrics);
        e->metrics = NULL;
        return -1;
    }
    e->metrics_cache = c;
    struct metrics *r = e->metrics;
    c->accepted = metrics_counter(r, "xfed_edge_connections_total", "result", "accepted");
    c->refused = metrics_counter(r, "xfed_edge_connections_total", "result", "refused");
    c->conf_version = metrics_gauge(r, "xfed_edge_config_version");
    c->queue_depth = metrics_gauge(r, "xfed_edge_outbound_queue_depth");
    c->sm_resent = metrics_counter(r, "xfed_edge_sm_resent_total");
    c->sm_unacked = metrics_gauge(r, "xfed_edge_sm_unacked");
    c->pending[0] = metrics_gauge(r, "xfed_edge_pending_streams", "direction", "in");
    c->pending[1] = metrics_gauge(r, "xfed_edge_pending_streams", "direction", "out");
    /* Every reason from the start, so that rate() sees the first failure. */
    for (size_t i = 0; i < N_HS_REASONS; i++)
        c->hs[i] =
            metrics_counter(r, "xfed_edge_handshake_failures_total", "reason", hs_reasons[i]);

    const char *listen = e->ec->local.metrics_listen;
    if (listen && *listen) {
        struct metrics_http_settings hs;
        metrics_http_settings_init(&hs);
        hs.listen = listen;
        e->metrics_http = metrics_http_new(e->base, r, &hs, err, errlen);
        if (e->metrics_http == NULL)
            return -1;
    }
    return 0;
}

void edge_metrics_free(struct edge *e)
{
    metrics_http_free(e->metrics_http);
    e->metrics_http = NULL;
    metrics_free(e->metrics);
    e->metrics = NULL;
    free(e->metrics_cache);
    e->metrics_cache = NULL;
}

struct metric *edge_metrics_stanzas(struct edge *e, const char *partner, enum s2s_dir dir)
{
    return metrics_counter(e->metrics, "xfed_edge_stanzas_total", "partner", partner ? partner : "",
                           "direction", dir_name(dir));
}

void edge_metrics_sm_resent(struct edge *e, size_t n)
{
    if (e->metrics_cache)
        metric_add(e->metrics_cache->sm_resent, (uint64_t)n);
}

void edge_metrics_bounce(struct edge *e, const char *condition)
{
    struct edge_metrics_cache *c = e->metrics_cache;
    if (c == NULL)
        return;
    size_t i = index_of(stanza_conditions, N_STANZA_CONDITIONS, condition,
                        index_of(stanza_conditions, N_STANZA_CONDITIONS, "undefined-condition", 0));
    if (c->bounced[i] == NULL)
        c->bounced[i] = metrics_counter(e->metrics, "xfed_edge_stanzas_bounced_total", "condition",
                                        stanza_conditions[i]);
    metric_inc(c->bounced[i]);
}

void edge_metrics_stream_error(struct edge *e, const char *condition, bool sent)
{
    struct edge_metrics_cache *c = e->metrics_cache;
    if (c == NULL)
        return;
    size_t i = index_of(stream_conditions, N_STREAM_CONDITIONS, condition,
                        index_of(stream_conditions, N_STREAM_CONDITIONS, "undefined-condition", 0));
    struct metric **m = &c->stream_err[sent ? 1 : 0][i];
    if (*m == NULL)
        *m = metrics_counter(e->metrics, "xfed_edge_stream_errors_total", "condition",
                             stream_conditions[i], "direction", sent ? "out" : "in");
    metric_inc(*m);
}

void edge_metrics_handshake_failure(struct edge *e, const char *reason)
{
    struct edge_metrics_cache *c = e->metrics_cache;
    if (c == NULL)
        return;
    metric_inc(c->hs[index_of(hs_reasons, N_HS_REASONS, reason, 0)]);
}
