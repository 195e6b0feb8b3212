/*
 * test_metrics.c - the metric registry: the exposition text byte for byte
 * for a small registry (golden string), escaping, UTF-8 repair and cuts,
 * folding into "other" at the cap, name validation, lookup mistakes,
 * gauge and counter arithmetic, collect callbacks, the process metrics,
 * updates from two threads, and the catalogue against docs/metrics.md.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <sys/time.h>
#include <time.h>

#include "metrics.h"
#include "metrics_catalog.h"

static struct metrics *new_plain(unsigned max_series)
{
    struct metrics_settings s;
    metrics_settings_init(&s);
    s.process = false;
    s.max_series = max_series;
    struct metrics *r = metrics_new("test", &s);
    assert_non_null(r);
    return r;
}

static char *render(struct metrics *r)
{
    size_t len;
    char *t = metrics_render(r, &len);
    assert_non_null(t);
    assert_int_equal(strlen(t), len);
    return t;
}

/* The value on the line that starts with series text ("name{...} "), or
 * fails the test when there is no such line. */
static double value_of(const char *text, const char *series)
{
    size_t n = strlen(series);
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (strncmp(p, series, n) == 0 && p[n] == ' ')
            return strtod(p + n + 1, NULL);
    }
    fail_msg("no series %s in:\n%s", series, text);
    return 0;
}

static bool has_line_prefix(const char *text, const char *prefix)
{
    size_t n = strlen(prefix);
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (strncmp(p, prefix, n) == 0)
            return true;
    return false;
}

static void exposition_matches_golden_text(void **state)
{
    (void)state;
    struct metrics *r = new_plain(256);
    static const char *const sl[] = {"partner", "direction", NULL};
    static const char *const ql[] = {"peer", NULL};
    assert_int_equal(metrics_define(r, METRIC_COUNTER, "xfed_stanzas_total",
                                    "Stanzas by partner and direction.", sl),
                     0);
    assert_int_equal(metrics_define(r, METRIC_GAUGE, "xfed_queue_depth",
                                    "Queue depth with a \\ backslash\nand a newline.", ql),
                     0);
    assert_int_equal(metrics_define(r, METRIC_COUNTER, "xfed_apples_total", NULL, NULL), 0);

    /* Created out of order: the output is sorted. */
    metric_add(
        metrics_counter(r, "xfed_stanzas_total", "direction", "out", "partner", "fabrikam.example"),
        7);
    struct metric *in =
        metrics_counter(r, "xfed_stanzas_total", "partner", "fabrikam.example", "direction", "in");
    metric_inc(in);
    metric_inc(in);
    metric_inc(
        metrics_counter(r, "xfed_stanzas_total", "partner", "contoso.example", "direction", "in"));
    metric_set(metrics_gauge(r, "xfed_queue_depth", "peer", "gw2"), 3);
    metric_set(metrics_gauge(r, "xfed_queue_depth", "peer", "gw1"), -2);

    char *t = render(r);
    static const char golden[] =
        "# HELP xfed_apples_total \n"
        "# TYPE xfed_apples_total counter\n"
        "xfed_apples_total 0\n"
        "# HELP xfed_build_info The program and version of this xfed process; always 1.\n"
        "# TYPE xfed_build_info gauge\n"
        "xfed_build_info{program=\"test\",version=\"" XFED_VERSION "\"} 1\n"
        "# HELP xfed_metrics_label_overflow_total Series lookups folded into the label value "
        "\"other\" because the family reached its cap of label sets.\n"
        "# TYPE xfed_metrics_label_overflow_total counter\n"
        "# HELP xfed_queue_depth Queue depth with a \\\\ backslash\\nand a newline.\n"
        "# TYPE xfed_queue_depth gauge\n"
        "xfed_queue_depth{peer=\"gw1\"} -2\n"
        "xfed_queue_depth{peer=\"gw2\"} 3\n"
        "# HELP xfed_stanzas_total Stanzas by partner and direction.\n"
        "# TYPE xfed_stanzas_total counter\n"
        "xfed_stanzas_total{partner=\"contoso.example\",direction=\"in\"} 1\n"
        "xfed_stanzas_total{partner=\"fabrikam.example\",direction=\"in\"} 2\n"
        "xfed_stanzas_total{partner=\"fabrikam.example\",direction=\"out\"} 7\n";
    assert_string_equal(t, golden);
    free(t);
    /* Rendering twice gives the same text. */
    t = render(r);
    assert_string_equal(t, golden);
    free(t);
    metrics_free(r);
}

static void label_values_are_escaped(void **state)
{
    (void)state;
    struct metrics *r = new_plain(256);
    static const char *const l[] = {"reason", NULL};
    assert_int_equal(metrics_define(r, METRIC_COUNTER, "xfed_x_total", "h", l), 0);
    metric_inc(metrics_counter(r, "xfed_x_total", "reason", "a\\b\"c\nd"));
    char *t = render(r);
    assert_non_null(strstr(t, "\nxfed_x_total{reason=\"a\\\\b\\\"c\\nd\"} 1\n"));
    free(t);
    metrics_free(r);
}

static void label_values_are_utf8_and_cut(void **state)
{
    (void)state;
    struct metrics_settings s;
    metrics_settings_init(&s);
    s.process = false;
    s.max_label_bytes = 16;
    struct metrics *r = metrics_new("test", &s);
    assert_non_null(r);
    static const char *const l[] = {"partner", NULL};
    assert_int_equal(metrics_define(r, METRIC_GAUGE, "xfed_g", "h", l), 0);
    /* An invalid byte, an overlong '/', a surrogate: each byte becomes U+FFFD. */
    metric_set(metrics_gauge(r, "xfed_g", "partner", "a\xff"), 1);
    metric_set(metrics_gauge(r, "xfed_g", "partner", "b\xc0\xaf"), 2);
    metric_set(metrics_gauge(r, "xfed_g", "partner", "c\xed\xa0\x80"), 3);
    /* 17 bytes are cut to 16; a 2-byte character that would straddle the
     * cut is left out whole. */
    metric_set(metrics_gauge(r, "xfed_g", "partner", "0123456789abcdefg"), 4);
    metric_set(metrics_gauge(r, "xfed_g", "partner", "0123456789abcde\xc3\xa9"), 5);
    /* Cut to the same text: the same series. */
    struct metric *a = metrics_gauge(r, "xfed_g", "partner", "0123456789abcdefXYZ");
    assert_int_equal(metric_value(a), 4);
    char *t = render(r);
    assert_int_equal(value_of(t, "xfed_g{partner=\"a\xEF\xBF\xBD\"}"), 1);
    assert_int_equal(value_of(t, "xfed_g{partner=\"b\xEF\xBF\xBD\xEF\xBF\xBD\"}"), 2);
    assert_int_equal(value_of(t, "xfed_g{partner=\"c\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"}"), 3);
    assert_int_equal(value_of(t, "xfed_g{partner=\"0123456789abcdef\"}"), 4);
    assert_int_equal(value_of(t, "xfed_g{partner=\"0123456789abcde\"}"), 5);
    /* A valid 4-byte character passes. */
    metric_set(metrics_gauge(r, "xfed_g", "partner", "\xf0\x9f\x98\x80"), 6);
    free(t);
    t = render(r);
    assert_int_equal(value_of(t, "xfed_g{partner=\"\xf0\x9f\x98\x80\"}"), 6);
    free(t);
    metrics_free(r);
}

static void series_beyond_the_cap_fold_into_other(void **state)
{
    (void)state;
    struct metrics *r = new_plain(2);
    static const char *const l[] = {"partner", "direction", NULL};
    assert_int_equal(metrics_define(r, METRIC_COUNTER, "xfed_s_total", "h", l), 0);
    struct metric *a = metrics_counter(r, "xfed_s_total", "partner", "a", "direction", "in");
    struct metric *b = metrics_counter(r, "xfed_s_total", "partner", "b", "direction", "in");
    struct metric *c = metrics_counter(r, "xfed_s_total", "partner", "c", "direction", "in");
    struct metric *d = metrics_counter(r, "xfed_s_total", "partner", "d", "direction", "out");
    assert_ptr_not_equal(a, b);
    assert_ptr_equal(c, d);
    assert_false(metric_discarded(c));
    /* Known tuples still get their own series at the cap. */
    assert_ptr_equal(metrics_counter(r, "xfed_s_total", "partner", "a", "direction", "in"), a);
    /* Asking for the overflow tuple itself is not a fold. */
    assert_ptr_equal(
        metrics_counter(r, "xfed_s_total", "partner", METRICS_OTHER, "direction", METRICS_OTHER),
        c);
    metric_inc(a);
    metric_add(c, 5);
    metric_inc(d);
    char *t = render(r);
    assert_int_equal(value_of(t, "xfed_s_total{partner=\"a\",direction=\"in\"}"), 1);
    assert_int_equal(value_of(t, "xfed_s_total{partner=\"b\",direction=\"in\"}"), 0);
    assert_int_equal(value_of(t, "xfed_s_total{partner=\"other\",direction=\"other\"}"), 6);
    assert_int_equal(value_of(t, "xfed_metrics_label_overflow_total{family=\"xfed_s_total\"}"), 2);
    assert_null(strstr(t, "partner=\"c\""));
    assert_null(strstr(t, "partner=\"d\""));
    free(t);

    /* A second family has its own cap and its own overflow count. */
    static const char *const g[] = {"peer", NULL};
    assert_int_equal(metrics_define(r, METRIC_GAUGE, "xfed_q", "h", g), 0);
    for (int i = 0; i < 5; i++) {
        char peer[8];
        snprintf(peer, sizeof(peer), "gw%d", i);
        metric_inc(metrics_gauge(r, "xfed_q", "peer", peer));
    }
    t = render(r);
    assert_int_equal(value_of(t, "xfed_q{peer=\"other\"}"), 3);
    assert_int_equal(value_of(t, "xfed_metrics_label_overflow_total{family=\"xfed_q\"}"), 3);
    assert_int_equal(value_of(t, "xfed_metrics_label_overflow_total{family=\"xfed_s_total\"}"), 2);
    free(t);
    metrics_free(r);
}

static void names_follow_the_data_model(void **state)
{
    (void)state;
    assert_true(metrics_name_valid("xfed_edge_streams"));
    assert_true(metrics_name_valid("_x9"));
    assert_true(metrics_name_valid("A"));
    assert_false(metrics_name_valid(""));
    assert_false(metrics_name_valid(NULL));
    assert_false(metrics_name_valid("9lives"));
    assert_false(metrics_name_valid("__reserved"));
    assert_false(metrics_name_valid("a:b")); /* colons are for recording rules */
    assert_false(metrics_name_valid("a-b"));
    assert_false(metrics_name_valid("a b"));
    assert_false(metrics_name_valid("caf\xc3\xa9"));
    assert_true(metrics_label_name_valid("partner"));
    assert_false(metrics_label_name_valid("__name__"));
    assert_false(metrics_label_name_valid("1st"));
    assert_false(metrics_label_name_valid("a.b"));

    struct metrics *r = new_plain(256);
    static const char *const bad[] = {"ok", "no-dash", NULL};
    static const char *const twice[] = {"a", "a", NULL};
    static const char *const five[] = {"a", "b", "c", "d", "e", NULL};
    static const char *const one[] = {"a", NULL};
    static const char *const other[] = {"b", NULL};
    errno = 0;
    assert_int_equal(metrics_define(r, METRIC_COUNTER, "xfed_requests", "h", NULL), -1);
    assert_int_equal(errno, EINVAL); /* a counter ends in _total */
    assert_int_equal(metrics_define(r, METRIC_GAUGE, "xfed:g", "h", NULL), -1);
    assert_int_equal(metrics_define(r, METRIC_GAUGE, "xfed_g", "h", bad), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(metrics_define(r, METRIC_GAUGE, "xfed_g", "h", twice), -1);
    assert_int_equal(metrics_define(r, METRIC_GAUGE, "xfed_g", "h", five), -1);
    assert_int_equal(metrics_define(r, METRIC_GAUGE, "xfed_g", "h", one), 0);
    /* The same definition again is fine; another one is not. */
    assert_int_equal(metrics_define(r, METRIC_GAUGE, "xfed_g", "other help", one), 0);
    assert_int_equal(metrics_define(r, METRIC_GAUGE, "xfed_g", "h", other), -1);
    assert_int_equal(errno, EEXIST);
    assert_int_equal(metrics_define(r, METRIC_GAUGE, "xfed_g", "h", NULL), -1);
    /* The registry's own names are taken. */
    assert_int_equal(metrics_define(r, METRIC_GAUGE, "xfed_build_info", "h", NULL), -1);
    assert_int_equal(errno, EEXIST);
    assert_int_equal(metrics_define(r, METRIC_COUNTER, "xfed_metrics_label_overflow_total", "h",
                                    (const char *const[]){"family", NULL}),
                     -1);
    metrics_free(r);

    struct metrics *p = metrics_new("test", NULL);
    assert_non_null(p);
    assert_int_equal(metrics_define(p, METRIC_GAUGE, "process_open_fds", "h", NULL), -1);
    metrics_free(p);

    struct metrics_settings s;
    metrics_settings_init(&s);
    s.max_series = 0;
    assert_null(metrics_new("test", &s));
    s.max_series = METRICS_MAX_SERIES_LIMIT + 1;
    assert_null(metrics_new("test", &s));
    metrics_settings_init(&s);
    s.max_label_bytes = 8;
    assert_null(metrics_new("test", &s));
}

static void lookup_mistakes_return_the_discarding_handle(void **state)
{
    (void)state;
    struct metrics *r = new_plain(256);
    static const char *const l[] = {"a", "b", NULL};
    assert_int_equal(metrics_define(r, METRIC_COUNTER, "xfed_c_total", "h", l), 0);
    assert_int_equal(metrics_define(r, METRIC_GAUGE, "xfed_plain", "h", NULL), 0);
    struct metric *m[] = {
        metrics_counter(r, "xfed_nope_total"),
        metrics_gauge(r, "xfed_c_total", "a", "1", "b", "2"),             /* wrong type */
        metrics_counter(r, "xfed_c_total", "a", "1"),                     /* missing b */
        metrics_counter(r, "xfed_c_total", "a", "1", "b", "2", "c", "3"), /* extra */
        metrics_counter(r, "xfed_c_total", "a", "1", "a", "2"),           /* a twice */
        metrics_counter(r, "xfed_c_total", "a", "1", "x", "2"),           /* unknown */
        metrics_gauge(r, "xfed_plain", "a", "1"),                         /* none expected */
        metrics_gauge(r, "xfed_build_info", "program", "p", "version", "v"),
        metrics_counter(r, "xfed_metrics_label_overflow_total", "family", "f"),
        metrics_counter(NULL, "xfed_c_total", "a", "1", "b", "2"),
        metrics_series(r, METRIC_COUNTER, NULL, NULL, 0),
    };
    for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
        assert_non_null(m[i]);
        assert_true(metric_discarded(m[i]));
        metric_inc(m[i]);
        metric_set(m[i], 42);
    }
    const char *pairs[] = {"a", "1", "b", NULL};
    assert_true(metric_discarded(metrics_series(r, METRIC_COUNTER, "xfed_c_total", pairs, 2)));
    assert_false(metric_discarded(metrics_gauge(r, "xfed_plain")));
    assert_null(metrics_render(NULL, NULL));
    char *t = render(r);
    assert_null(strstr(t, "42"));
    assert_null(strstr(t, "xfed_c_total{"));
    assert_false(has_line_prefix(t, "xfed_metrics_label_overflow_total{"));
    free(t);
    metrics_free(r);
}

static void gauges_move_both_ways_and_counters_only_up(void **state)
{
    (void)state;
    struct metrics *r = new_plain(256);
    assert_int_equal(metrics_define(r, METRIC_GAUGE, "xfed_g", "h", NULL), 0);
    assert_int_equal(metrics_define(r, METRIC_COUNTER, "xfed_c_total", "h", NULL), 0);
    struct metric *g = metrics_gauge(r, "xfed_g");
    struct metric *c = metrics_counter(r, "xfed_c_total");
    metric_inc(g);
    metric_add(g, 10);
    metric_dec(g);
    metric_sub(g, 20);
    assert_int_equal(metric_value(g), -10);
    metric_set(g, 5);
    assert_int_equal(metric_value(g), 5);

    metric_add(c, 10);
    metric_dec(c);
    metric_sub(c, 3);
    assert_int_equal(metric_value(c), 10);
    metric_set(c, 4); /* lower: ignored */
    assert_int_equal(metric_value(c), 10);
    metric_set(c, -1);
    assert_int_equal(metric_value(c), 10);
    metric_set(c, 1000); /* mirroring a count kept elsewhere */
    assert_int_equal(metric_value(c), 1000);
    metric_add(c, UINT64_C(18446744073709550615)); /* up to 2^64 - 1, the largest value */
    char *t = render(r);
    assert_non_null(strstr(t, "\nxfed_c_total 18446744073709551615\n"));
    assert_non_null(strstr(t, "\nxfed_g 5\n"));
    free(t);
    metrics_free(r);
}

struct collect_state {
    int calls;
    struct metric *g;
};

static void on_collect(struct metrics *r, void *arg)
{
    struct collect_state *cs = arg;
    cs->calls++;
    metrics_zero(r, "xfed_streams");
    /* Only "b" is live now. */
    metric_set(metrics_gauge(r, "xfed_streams", "partner", "b"), cs->calls * 10);
}

static void collect_callbacks_run_before_each_render(void **state)
{
    (void)state;
    struct metrics *r = new_plain(256);
    static const char *const l[] = {"partner", NULL};
    assert_int_equal(metrics_define(r, METRIC_GAUGE, "xfed_streams", "h", l), 0);
    metric_set(metrics_gauge(r, "xfed_streams", "partner", "a"), 7);
    struct collect_state cs = {0};
    assert_int_equal(metrics_on_collect(r, on_collect, &cs), 0);
    char *t = render(r);
    assert_int_equal(cs.calls, 1);
    assert_int_equal(value_of(t, "xfed_streams{partner=\"a\"}"), 0);
    assert_int_equal(value_of(t, "xfed_streams{partner=\"b\"}"), 10);
    free(t);
    t = render(r);
    assert_int_equal(value_of(t, "xfed_streams{partner=\"b\"}"), 20);
    free(t);
    assert_int_equal(metrics_zero(r, "xfed_nope"), -1);
    assert_int_equal(metrics_zero(r, "xfed_build_info"), -1);
    for (int i = 1; i < METRICS_MAX_COLLECT; i++)
        assert_int_equal(metrics_on_collect(r, on_collect, &cs), 0);
    assert_int_equal(metrics_on_collect(r, on_collect, &cs), -1);
    assert_int_equal(errno, ENOSPC);
    metrics_free(r);
}

static void process_metrics_are_plausible(void **state)
{
    (void)state;
    struct metrics *r = metrics_new("xfed-test", NULL);
    assert_non_null(r);
    /* Some CPU time to measure: 20 ms, or 5 s of wall time at most. */
    struct timespec cpu, wall0, wall;
    clock_gettime(CLOCK_MONOTONIC, &wall0);
    do {
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu);
        clock_gettime(CLOCK_MONOTONIC, &wall);
    } while (cpu.tv_sec == 0 && cpu.tv_nsec < 20000000 && wall.tv_sec - wall0.tv_sec < 5);
    char *t = render(r);
    struct timeval now;
    gettimeofday(&now, NULL);
    double start = value_of(t, "process_start_time_seconds");
    assert_true(start > (double)now.tv_sec - 3600 && start <= (double)now.tv_sec + 1);
    assert_true(value_of(t, "process_cpu_seconds_total") > 0);
    assert_true(value_of(t, "process_resident_memory_bytes") > 100000);
    assert_true(value_of(t, "process_virtual_memory_bytes") >=
                value_of(t, "process_resident_memory_bytes"));
    double fds = value_of(t, "process_open_fds");
    assert_true(fds >= 3 && fds < 1000);
    assert_true(value_of(t, "process_max_fds") >= fds);
    assert_non_null(strstr(t, "# TYPE process_cpu_seconds_total counter\n"));
    assert_non_null(strstr(t, "# TYPE process_open_fds gauge\n"));
    assert_non_null(
        strstr(t, "xfed_build_info{program=\"xfed-test\",version=\"" XFED_VERSION "\"} 1\n"));
    /* process_* sorts before xfed_*. */
    assert_true(strstr(t, "process_max_fds") < strstr(t, "xfed_build_info"));
    free(t);
    metrics_free(r);
}

#define THREAD_INCREMENTS 1000000

static void *incrementer(void *arg)
{
    struct metric *m = arg;
    for (int i = 0; i < THREAD_INCREMENTS; i++)
        metric_inc(m);
    return NULL;
}

static void updates_from_two_threads_are_all_counted(void **state)
{
    (void)state;
    struct metrics *r = new_plain(256);
    assert_int_equal(metrics_define(r, METRIC_COUNTER, "xfed_c_total", "h", NULL), 0);
    struct metric *c = metrics_counter(r, "xfed_c_total");
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, incrementer, c), 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    assert_int_equal(metric_value(c), 2 * THREAD_INCREMENTS);
    metrics_free(r);
}

/* ---- the catalogue and docs/metrics.md -------------------------------- */

struct doc_row {
    char name[128];
    char type[16];
    char labels[128]; /* comma-separated, no spaces */
};

/* Rows "| `name` | counter-or-gauge | `l1`, `l2` | ... |" of the tables in
 * the doc. */
static size_t read_doc_rows(struct doc_row *rows, size_t max)
{
    FILE *f = fopen(XFED_SRC_DIR "/docs/metrics.md", "r");
    assert_non_null(f);
    char line[1024];
    size_t n = 0;
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, "| `", 3) != 0)
            continue;
        assert_true(n < max);
        struct doc_row *r = &rows[n];
        memset(r, 0, sizeof(*r));
        char *cell[4] = {NULL};
        char *p = line + 1;
        for (int i = 0; i < 4 && p; i++) {
            cell[i] = p;
            p = strchr(p, '|');
            if (p)
                *p++ = '\0';
        }
        /* Other tables (requests, expressions) are not metric rows. */
        if (cell[1] == NULL || sscanf(cell[1], " %15s", r->type) != 1 ||
            (strcmp(r->type, "counter") != 0 && strcmp(r->type, "gauge") != 0))
            continue;
        assert_non_null(cell[3]);
        assert_int_equal(sscanf(cell[0], " `%127[^`]`", r->name), 1);
        for (char *q = cell[2]; (q = strchr(q, '`')) != NULL;) {
            char *end = strchr(q + 1, '`');
            assert_non_null(end);
            if (r->labels[0])
                strcat(r->labels, ",");
            strncat(r->labels, q + 1, (size_t)(end - q - 1));
            q = end + 1;
        }
        n++;
    }
    fclose(f);
    return n;
}

static bool has_type_line(const char *text, const char *name, const char *type)
{
    size_t n = strlen(name), m = strlen(type);
    for (const char *p = strstr(text, "# TYPE "); p; p = strstr(p + 1, "# TYPE ")) {
        if (strncmp(p + 7, name, n) == 0 && p[7 + n] == ' ' && strncmp(p + 8 + n, type, m) == 0 &&
            p[8 + n + m] == '\n')
            return true;
    }
    return false;
}

static void catalogue_matches_docs(void **state)
{
    (void)state;
    static struct doc_row rows[128];
    size_t n = read_doc_rows(rows, 128);
    assert_true(n > 10);

    /* Every family the processes export, with all roles, is documented
     * with its type and labels in order; every documented one exists. */
    struct metrics *r = metrics_new("test", NULL);
    assert_non_null(r);
    assert_int_equal(
        metrics_define_catalog(r, METRICS_ROLE_EDGE | METRICS_ROLE_GATEWAY | METRICS_ROLE_PANEL),
        0);
    char *t = render(r);
    size_t found = 0;
    for (size_t i = 0; i < n; i++) {
        if (!has_type_line(t, rows[i].name, rows[i].type))
            fail_msg("docs/metrics.md: %s %s is not exported", rows[i].name, rows[i].type);
        found++;
    }
    for (const char *p = strstr(t, "# TYPE "); p; p = strstr(p + 1, "# TYPE ")) {
        char name[128];
        assert_int_equal(sscanf(p, "# TYPE %127s", name), 1);
        size_t i = 0;
        while (i < n && strcmp(rows[i].name, name) != 0)
            i++;
        if (i == n)
            fail_msg("%s is exported but not in docs/metrics.md", name);
    }
    for (const struct metrics_def *d = metrics_catalog; d->name; d++) {
        char labels[128] = "";
        for (int j = 0; d->labels[j]; j++) {
            if (j)
                strcat(labels, ",");
            strcat(labels, d->labels[j]);
        }
        size_t i = 0;
        while (i < n && strcmp(rows[i].name, d->name) != 0)
            i++;
        assert_true(i < n);
        if (strcmp(rows[i].labels, labels) != 0)
            fail_msg("%s: labels \"%s\" in the docs, \"%s\" in the catalogue", d->name,
                     rows[i].labels, labels);
        assert_true(d->roles != 0);
        assert_non_null(d->help);
    }
    assert_int_equal(found, n);
    free(t);
    metrics_free(r);

    /* One role defines only its own. */
    r = new_plain(256);
    assert_int_equal(metrics_define_catalog(r, METRICS_ROLE_PANEL), 0);
    assert_false(metric_discarded(metrics_counter(r, "xfed_panel_signins_total", "result", "ok")));
    assert_true(metric_discarded(metrics_gauge(r, "xfed_edge_config_version")));
    metrics_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(exposition_matches_golden_text),
        cmocka_unit_test(label_values_are_escaped),
        cmocka_unit_test(label_values_are_utf8_and_cut),
        cmocka_unit_test(series_beyond_the_cap_fold_into_other),
        cmocka_unit_test(names_follow_the_data_model),
        cmocka_unit_test(lookup_mistakes_return_the_discarding_handle),
        cmocka_unit_test(gauges_move_both_ways_and_counters_only_up),
        cmocka_unit_test(collect_callbacks_run_before_each_render),
        cmocka_unit_test(process_metrics_are_plausible),
        cmocka_unit_test(updates_from_two_threads_are_all_counted),
        cmocka_unit_test(catalogue_matches_docs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
