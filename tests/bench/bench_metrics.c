/*
 * bench_metrics.c - the cost of metrics on one core: updates per second
 * through a kept handle (the hot path), lookups per second by name and
 * labels (what keeping the handle saves), and the time to render 10,000
 * series (10 families of 500 partners x 2 directions) as one scrape would.
 *
 * Usage: bench_metrics [--quick]
 *   --quick  a short smoke pass (for ctest): checks that every update is
 *            counted and every series rendered, makes no claim about speed.
 * Exit status 0, or 1 if an update or a series went missing.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "metrics.h"

#define FAMILIES 10
#define PARTNERS 500
#define SERIES   (FAMILIES * PARTNERS * 2)

static double now(clockid_t clk)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Wall-clock and CPU time of one measured loop. */
struct span {
    double wall, cpu;
};

static void span_start(struct span *s)
{
    s->wall = now(CLOCK_MONOTONIC);
    s->cpu = now(CLOCK_PROCESS_CPUTIME_ID);
}

static void span_report(const struct span *s, const char *what, unsigned long n)
{
    double wall = now(CLOCK_MONOTONIC) - s->wall, cpu = now(CLOCK_PROCESS_CPUTIME_ID) - s->cpu;
    printf("%-44s %11lu ops: %8.2f M/s CPU (%6.2f ns each), %8.2f M/s wall\n", what, n,
           (double)n / cpu / 1e6, cpu * 1e9 / (double)n, (double)n / wall / 1e6);
}

static int bench_updates(unsigned long n)
{
    struct metrics *r = metrics_new("bench", NULL);
    static const char *const l[] = {"partner", "direction", NULL};
    if (r == NULL || metrics_define(r, METRIC_COUNTER, "xfed_bench_total", "h", l) != 0 ||
        metrics_define(r, METRIC_GAUGE, "xfed_bench_gauge", "h", l) != 0)
        return 1;
    struct metric *c =
        metrics_counter(r, "xfed_bench_total", "partner", "fabrikam.example", "direction", "in");
    struct metric *g =
        metrics_gauge(r, "xfed_bench_gauge", "partner", "fabrikam.example", "direction", "in");
    struct span sp;
    span_start(&sp);
    for (unsigned long i = 0; i < n; i++)
        metric_inc(c);
    span_report(&sp, "metric_inc, counter, kept handle", n);
    span_start(&sp);
    for (unsigned long i = 0; i < n; i++)
        metric_set(g, (int64_t)i);
    span_report(&sp, "metric_set, gauge, kept handle", n);

    /* Looking the series up every time instead, among 1,000 series. */
    char partner[64];
    for (int p = 0; p < PARTNERS; p++) {
        snprintf(partner, sizeof(partner), "partner-%05d.example", p);
        metrics_counter(r, "xfed_bench_total", "partner", partner, "direction", "out");
        metrics_counter(r, "xfed_bench_total", "partner", partner, "direction", "in");
    }
    unsigned long lookups = n / 50;
    span_start(&sp);
    for (unsigned long i = 0; i < lookups; i++) {
        snprintf(partner, sizeof(partner), "partner-%05lu.example", i % PARTNERS);
        metric_inc(metrics_counter(r, "xfed_bench_total", "partner", partner, "direction", "out"));
    }
    span_report(&sp, "metrics_counter lookup + inc, 1,000 series", lookups);
    int rc = (unsigned long)metric_value(c) == n ? 0 : 1;
    if (rc)
        fprintf(stderr, "counter reads %lld, expected %lu\n", (long long)metric_value(c), n);
    metrics_free(r);
    return rc;
}

static int bench_render(int rounds)
{
    struct metrics_settings s;
    metrics_settings_init(&s);
    s.max_series = PARTNERS * 2;
    struct metrics *r = metrics_new("bench", &s);
    if (r == NULL)
        return 1;
    static const char *const l[] = {"partner", "direction", NULL};
    double t0 = now(CLOCK_MONOTONIC);
    for (int f = 0; f < FAMILIES; f++) {
        char name[64];
        snprintf(name, sizeof(name), "xfed_bench_family_%02d_total", f);
        if (metrics_define(r, METRIC_COUNTER, name, "A benchmark family.", l) != 0)
            return 1;
        for (int p = 0; p < PARTNERS; p++) {
            char partner[64];
            snprintf(partner, sizeof(partner), "partner-%05d.example", p);
            metric_add(metrics_counter(r, name, "partner", partner, "direction", "in"),
                       (uint64_t)p * 1000003u);
            metric_add(metrics_counter(r, name, "partner", partner, "direction", "out"),
                       (uint64_t)p * 7919u);
        }
    }
    double t1 = now(CLOCK_MONOTONIC);
    printf("creating %d series: %.1f ms\n", SERIES, (t1 - t0) * 1e3);

    size_t len = 0;
    double best = 1e9, total = 0;
    int rc = 0;
    double cpu0 = now(CLOCK_PROCESS_CPUTIME_ID);
    for (int i = 0; i < rounds; i++) {
        double a = now(CLOCK_MONOTONIC);
        char *text = metrics_render(r, &len);
        double b = now(CLOCK_MONOTONIC);
        if (text == NULL)
            return 1;
        if (i == 0) {
            size_t samples = 0;
            for (char *p = text; (p = strchr(p, '\n')) != NULL; p++)
                if (p[1] != '#' && p[1] != '\0')
                    samples++;
            /* Counted after each '\n': the first line is a # HELP. Ours
             * plus the registry's own (build info, process metrics). */
            if (samples < SERIES) {
                fprintf(stderr, "rendered %zu samples, expected at least %d\n", samples, SERIES);
                rc = 1;
            }
        }
        free(text);
        total += b - a;
        if (b - a < best)
            best = b - a;
    }
    double cpu = now(CLOCK_PROCESS_CPUTIME_ID) - cpu0;
    printf("rendering %d series (%zu bytes), %d renders: CPU %.2f ms each; wall best %.2f ms, "
           "mean %.2f ms\n",
           SERIES, len, rounds, cpu / rounds * 1e3, best * 1e3, total / rounds * 1e3);
    metrics_free(r);
    return rc;
}

int main(int argc, char **argv)
{
    bool quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
    if (argc > 2 || (argc == 2 && !quick)) {
        fprintf(stderr, "usage: bench_metrics [--quick]\n");
        return 2;
    }
    int rc = bench_updates(quick ? 1000000ul : 200000000ul);
    rc |= bench_render(quick ? 3 : 50);
    return rc ? 1 : 0;
}
