/*
 * metrics.h - the counters and gauges of one process, rendered in the
 * Prometheus text exposition format, version 0.0.4 (the format every
 * Prometheus server scrapes; docs/metrics.md lists xfed's metric names).
 *
 * A registry holds metric families. A family has a name, a type (counter or
 * gauge), a help text and up to METRICS_MAX_LABELS label names, fixed when
 * it is defined. A series is one family with one tuple of label values; its
 * handle (struct metric *) is looked up once, by name and label pairs, and
 * kept by the caller, so that the hot path is one atomic add:
 *
 *     struct metric *m = metrics_counter(reg, "xfed_edge_stanzas_total",
 *                                        "partner", "fabrikam.example",
 *                                        "direction", "in");
 *     ...
 *     metric_inc(m);
 *
 * Bounded: a family holds at most settings.max_series label tuples. A
 * lookup of a new tuple beyond that returns the family's overflow series,
 * whose every label value is "other", and counts one in
 * xfed_metrics_label_overflow_total{family="<name>"}. Label values are cut
 * to settings.max_label_bytes (at a UTF-8 character boundary) and bytes that
 * are not UTF-8 become U+FFFD, so a peer-supplied string cannot grow the
 * registry or break the text format. Series are never removed: handles stay
 * valid until metrics_free().
 *
 * Mistakes never crash: a lookup of an undefined family, of the wrong type,
 * or with label names that do not match the definition logs a warning and
 * returns a discarding handle (metric_discarded() is true; updates go
 * nowhere). metrics_*() lookups with reg == NULL return that handle too, so
 * code may keep handles when a process runs without a registry.
 *
 * Output: families sorted by name, series by label values (byte order), each
 * family with its "# HELP" and "# TYPE" lines; label values escaped
 * (backslash, double quote, newline), help texts escaped (backslash,
 * newline). The registry adds its own families: xfed_build_info{program,
 * version} 1, xfed_metrics_label_overflow_total{family}, and unless
 * settings.process is false the standard process_* metrics
 * (process_start_time_seconds, process_cpu_seconds_total from getrusage(2),
 * process_resident_memory_bytes and process_virtual_memory_bytes from
 * /proc/self/statm, process_open_fds, process_max_fds). These names are the
 * registry's own: lookups of them return the discarding handle.
 *
 * Threads: every function is thread-safe. Lookups, definitions and
 * rendering take the registry's mutex; metric_*() updates are lock-free
 * atomic operations (relaxed order) and never block. Nothing here does I/O
 * except metrics_render(), which reads /proc/self (never blocks on disk).
 */
#ifndef XFED_METRICS_H
#define XFED_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define METRICS_MAX_LABELS       4       /* label names per family */
#define METRICS_MAX_SERIES_LIMIT 100000  /* highest accepted settings.max_series */
#define METRICS_MAX_LABEL_LIMIT  1024    /* highest accepted settings.max_label_bytes */
#define METRICS_OTHER            "other" /* label value of the overflow series */

enum metric_type { METRIC_COUNTER, METRIC_GAUGE };

struct metrics_settings {
    unsigned max_series;      /* 256: label tuples per family (1..METRICS_MAX_SERIES_LIMIT) */
    unsigned max_label_bytes; /* 128: bytes of one label value (16..METRICS_MAX_LABEL_LIMIT) */
    bool process;             /* true: export the process_* metrics */
};

struct metrics;
struct metric;

/* Fills in the defaults above. */
void metrics_settings_init(struct metrics_settings *);

/* A new registry for the program named program ("xfed-edge"), shown in
 * xfed_build_info with XFED_VERSION. settings NULL means the defaults.
 * Returns NULL when out of memory or a setting is out of its range (errno
 * ENOMEM or EINVAL). Reads /proc/self/stat once for the start time. */
struct metrics *metrics_new(const char *program, const struct metrics_settings *);

/* Frees the registry and every series: all handles become invalid. NULL is
 * fine. No other thread may use the registry during or after the call. */
void metrics_free(struct metrics *);

/* Predicates of the Prometheus data model, narrowed for an exporter:
 * metric names match [a-zA-Z_][a-zA-Z0-9_]* (no colon: colons are for
 * recording rules), label names the same; neither starts with "__"
 * (reserved). */
bool metrics_name_valid(const char *name);
bool metrics_label_name_valid(const char *name);

/* Defines a family. labels is a NULL-terminated list of label names (NULL:
 * none), copied. help may be NULL ("" then); it is copied. A counter's name
 * must end in "_total". Defining again with the same type and label names
 * is fine (the first help text stays). A family without labels gets its
 * one series at once, so it is exported as 0 before its first update.
 * Returns 0, or -1 with errno EINVAL (invalid name or label name, too many
 * labels, a label twice, a counter not ending in _total), EEXIST (defined
 * with another type or labels, or one of the registry's own names) or
 * ENOMEM; -1 is logged. */
int metrics_define(struct metrics *, enum metric_type, const char *name, const char *help,
                   const char *const *labels);

/* Looks up (creating when new) the series of family name with the label
 * values given as pairs: label name, label value, ..., then NULL. Every
 * label of the family must be given exactly once, in any order. Returns the
 * series, the family's overflow series (see above), or the discarding
 * handle; never NULL. Not for the hot path: O(log n) under the mutex.
 * Use the macros, which add the terminating NULL. */
struct metric *metrics_counter_v(struct metrics *, const char *name, ...) __attribute__((sentinel));
struct metric *metrics_gauge_v(struct metrics *, const char *name, ...) __attribute__((sentinel));
#define metrics_counter(reg, ...) metrics_counter_v((reg), __VA_ARGS__, (const char *)NULL)
#define metrics_gauge(reg, ...)   metrics_gauge_v((reg), __VA_ARGS__, (const char *)NULL)

/* The same with the pairs in an array: pairs[2*i] is a label name,
 * pairs[2*i+1] its value, for i < npairs. */
struct metric *metrics_series(struct metrics *, enum metric_type, const char *name,
                              const char *const *pairs, size_t npairs);

/* Hot path: O(1), lock-free, never fail. */
void metric_inc(struct metric *);
void metric_add(struct metric *, uint64_t n);
/* Gauges only; on a counter they do nothing (counters never go down). */
void metric_dec(struct metric *);
void metric_sub(struct metric *, uint64_t n);
/* A gauge takes v. A counter takes v only when v is larger than its value:
 * this is for mirroring a count that something else keeps (for instance
 * ipc_channel_counters() in a collect callback); a smaller v is ignored. */
void metric_set(struct metric *, int64_t v);
/* The current value (a counter's reads as its uint64 value cast). */
int64_t metric_value(const struct metric *);
/* True for the discarding handle returned when a lookup went wrong. */
bool metric_discarded(const struct metric *);

/* Called at the start of every metrics_render(), before the mutex is taken,
 * in the order registered: the place to set gauges from state the process
 * keeps anyway (streams per partner, queue depths, configuration version)
 * instead of updating them on every change. The callback runs on the thread
 * that renders (the event loop's, with metrics_http.h); it may look up
 * series and update them; it must not block or free the registry. Returns 0,
 * or -1 (ENOSPC: METRICS_MAX_COLLECT callbacks are registered already). */
#define METRICS_MAX_COLLECT 16
typedef void metrics_collect_cb(struct metrics *, void *arg);
int metrics_on_collect(struct metrics *, metrics_collect_cb *, void *arg);

/* Sets every series of gauge family name to 0; for a collect callback that
 * then sets the live ones, so that a partner that is gone reads 0. Returns
 * 0, or -1 (EINVAL: no such gauge family). */
int metrics_zero(struct metrics *, const char *name);

/* Renders the whole registry: runs the collect callbacks, then writes the
 * exposition text into a new NUL-terminated buffer that the caller frees
 * with free(). *len gets its length without the NUL. Returns NULL when out
 * of memory (ENOMEM) or reg is NULL (EINVAL). */
char *metrics_render(struct metrics *, size_t *len);

/* The Content-Type of metrics_render()'s output. */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

#endif
