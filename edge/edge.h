/*
 * edge.h - the state of one xfed-edge process, shared by the edge's files.
 *
 * One struct edge exists per process, made by edge_main.c. It owns the
 * event base, the current configuration (swapped on reload), the resolver,
 * the IPC side, the listeners, the list of live streams and the metrics
 * registry. Everything runs on its one libevent loop.
 */
#ifndef XFED_EDGE_H
#define XFED_EDGE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

struct event_base;
struct edge_conf;
struct edge_ipc;
struct edge_metrics_cache;
struct event;
struct metrics;
struct metrics_http;
struct s2s_resolver;
struct s2s_stream;
struct s2s_listener;

TAILQ_HEAD(s2s_stream_list, s2s_stream);

struct edge_counters {
    uint64_t accepted;      /* inbound TCP connections */
    uint64_t refused;       /* inbound connections refused at accept (limits) */
    uint64_t outbound;      /* outbound streams started */
    uint64_t stream_errors; /* stream errors we sent */
    uint64_t stanzas_in;    /* stanzas accepted from partners */
    uint64_t stanzas_out;   /* stanzas written to partners */
    uint64_t bounced;       /* outbound stanzas answered with an error */
};

struct edge {
    struct event_base *base;
    struct edge_conf *ec; /* current configuration; swapped by edge_reload() */
    struct s2s_resolver *resolver;
    struct edge_ipc *ipc;
    struct s2s_listener *listeners[2];
    struct s2s_stream_list streams; /* every live stream */
    unsigned n_streams;
    unsigned n_pending_in; /* inbound streams not yet authenticated */
    uint64_t next_serial;
    bool stopping;
    struct event *ev_stop;     /* ends the loop after the shutdown grace period */
    struct event *ev_watchdog; /* systemd watchdog ping (sd_notify.h); NULL without */
    struct event *ev_idle;     /* idle sweep every idle_release s (stanza.h); NULL when off */
    struct edge_counters counters;
    struct metrics *metrics;                  /* the registry (edge_metrics.h) */
    struct metrics_http *metrics_http;        /* GET /metrics; NULL when not configured */
    struct edge_metrics_cache *metrics_cache; /* handles per condition and reason */
};

/* Replaces the running configuration with ec (taken over): swaps, closes
 * the streams the new configuration no longer allows, frees the old one
 * and logs the new version. Never fails. */
void edge_apply_conf(struct edge *, struct edge_conf *ec);

#endif
