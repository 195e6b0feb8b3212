/*
 * panel_metrics.h - xfed-panel's metrics registry (common/metrics.h) and,
 * when panel.conf sets metrics_listen, its GET /metrics endpoint
 * (common/metrics_http.h, docs/metrics.md).
 *
 * metrics_http.h serves a registry on a libevent loop, and the panel has
 * none: libmicrohttpd runs its own thread and the main thread only waits
 * for signals. So the endpoint gets a small thread of its own that owns one
 * event_base and nothing else; it is stopped through a pipe (the loop reads
 * it), never by a signal. Counters are updated from the HTTP thread with
 * the registry's lock-free calls; rendering happens on the metrics thread.
 *
 * The thread blocks no signal by itself: start it after the caller has
 * blocked the signals it takes with sigwait(), so that it inherits the mask.
 */
#ifndef XFED_PANEL_METRICS_H
#define XFED_PANEL_METRICS_H

#include <stddef.h>

struct metrics;
struct panel_metrics;

/* Checks a metrics_listen value (numeric address and port, no wildcard;
 * "" means off). Returns 0, or -1 with the reason in err. Blocks nothing. */
int panel_metrics_check(const char *listen, char *err, size_t errlen);

/* Creates the registry with the panel's families of the catalogue, and,
 * when listen is not empty, binds it and starts the endpoint's thread.
 * Returns NULL with the reason in err (address unusable or in use, memory,
 * no thread). */
struct panel_metrics *panel_metrics_start(const char *listen, char *err, size_t errlen);

/* Stops the thread, closes the endpoint, frees the registry (every handle
 * taken from it becomes invalid). NULL is fine. */
void panel_metrics_stop(struct panel_metrics *);

/* The registry; valid until panel_metrics_stop(). */
struct metrics *panel_metrics_registry(struct panel_metrics *);

/* The port bound, 0 when there is no endpoint. */
unsigned panel_metrics_port(const struct panel_metrics *);

#endif
