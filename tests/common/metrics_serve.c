/*
 * metrics_serve.c - a registry with every catalogue family and a few
 * awkward series, served on 127.0.0.1 at a free port until SIGTERM, for
 * test_metrics_scrape.py to read with Prometheus's own Python parser.
 *
 * Prints "port N" on stdout once it serves. Series set (see the script):
 *   xfed_edge_stanzas_total{partner="fabrikam.example",direction="in"} 18234
 *   xfed_edge_stanzas_total{partner=<quote, backslash, newline, e-acute>,direction="out"} 2
 *   xfed_edge_handshake_failures_total{reason=<"bad" + byte 0xff>} 1
 *   xfed_edge_streams{partner="p0".."p3",direction="in"} 0..3, then
 *     p4 and p5 folded into partner="other",direction="other" (max_series 4)
 *   xfed_ipc_queue_depth{peer="gw1"} -1 (a gauge may go below zero)
 *   xfed_edge_config_version 42
 * Exit status 0 after SIGTERM, 3 when it cannot start.
 */
#include <signal.h>
#include <stdio.h>

#include <event2/event.h>

#include "metrics.h"
#include "metrics_catalog.h"
#include "metrics_http.h"

static void on_term(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    event_base_loopexit(arg, NULL);
}

int main(void)
{
    struct metrics_settings set;
    metrics_settings_init(&set);
    set.max_series = 4;
    struct metrics *reg = metrics_new("xfed-edge", &set);
    struct event_base *base = event_base_new();
    if (reg == NULL || base == NULL ||
        metrics_define_catalog(reg,
                               METRICS_ROLE_EDGE | METRICS_ROLE_GATEWAY | METRICS_ROLE_PANEL) != 0)
        return 3;

    metric_add(metrics_counter(reg, "xfed_edge_stanzas_total", "partner", "fabrikam.example",
                               "direction", "in"),
               18234);
    metric_add(metrics_counter(reg, "xfed_edge_stanzas_total", "partner", "q\"b\\n\nl\xc3\xa9",
                               "direction", "out"),
               2);
    metric_inc(metrics_counter(reg, "xfed_edge_handshake_failures_total", "reason", "bad\xff"));
    for (int i = 0; i < 6; i++) {
        char partner[8];
        snprintf(partner, sizeof(partner), "p%d", i);
        metric_set(metrics_gauge(reg, "xfed_edge_streams", "partner", partner, "direction", "in"),
                   i);
    }
    metric_dec(metrics_gauge(reg, "xfed_ipc_queue_depth", "peer", "gw1"));
    metric_set(metrics_gauge(reg, "xfed_edge_config_version"), 42);

    struct metrics_http_settings hs;
    metrics_http_settings_init(&hs);
    hs.listen = "127.0.0.1:0";
    char err[256];
    struct metrics_http *h = metrics_http_new(base, reg, &hs, err, sizeof(err));
    if (h == NULL) {
        fprintf(stderr, "metrics_serve: %s\n", err);
        return 3;
    }
    struct event *term = evsignal_new(base, SIGTERM, on_term, base);
    if (term == NULL || event_add(term, NULL) != 0)
        return 3;
    printf("port %u\n", (unsigned)metrics_http_port(h));
    fflush(stdout);
    event_base_dispatch(base);
    event_free(term);
    metrics_http_free(h);
    event_base_free(base);
    metrics_free(reg);
    return 0;
}
