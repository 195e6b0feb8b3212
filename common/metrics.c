/*
 * metrics.c - the metric registry and the Prometheus text exposition
 * format, version 0.0.4 (Prometheus documentation, "Exposition formats",
 * "Text-based format"; names from "Data model" and "Metric and label
 * naming").
 *
 * Families live in an array sorted by name, the series of a family in an
 * array sorted by label values, so rendering walks both in order and a
 * lookup is a binary search. Each series is allocated on its own (its
 * address is the handle and never moves) together with its label values and
 * the text that precedes its value in the output ("name{a=\"x\"}"), built
 * once when the series is created; rendering then only copies that text and
 * formats a number.
 */
#include "metrics.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#ifndef XFED_VERSION
#define XFED_VERSION "unknown"
#endif

#define FAM_OWN   0x1u /* one of the registry's own families */
#define FAM_FLOAT 0x2u /* values are doubles (their bits in metric.v) */

#define OVERFLOW_FAMILY "xfed_metrics_label_overflow_total"

struct family;

struct metric {
    _Atomic uint64_t v;
    enum metric_type type;
    struct family *fam;
    const char *values[METRICS_MAX_LABELS]; /* sanitised, unescaped; point into data */
    const char *text;                       /* "name{l=\"v\",...}" escaped, points into data */
    size_t text_len;
    char data[];
};

struct family {
    char *name;
    char *help; /* escaped for the # HELP line */
    enum metric_type type;
    unsigned flags;
    unsigned nlabels;
    char *labels[METRICS_MAX_LABELS];
    struct metric **series; /* sorted by values */
    size_t n, cap;
    size_t n_regular;     /* series other than the overflow one */
    struct metric *other; /* the overflow series, once needed */
};

struct collector {
    metrics_collect_cb *cb;
    void *arg;
};

/* Handles of the registry's own process series (FAM_FLOAT or integers). */
enum proc_metric {
    PROC_START,
    PROC_CPU,
    PROC_RSS,
    PROC_VSIZE,
    PROC_OPEN_FDS,
    PROC_MAX_FDS,
    PROC_N,
};

struct metrics {
    pthread_mutex_t mu;
    struct metrics_settings set;
    struct family **fams; /* sorted by name */
    size_t nfam, capfam;
    struct collector collect[METRICS_MAX_COLLECT];
    size_t ncollect;
    struct metric *proc[PROC_N];
    double start_time;
    char *scratch; /* METRICS_MAX_LABELS sanitised values, max_label_bytes + 1 each */
};

/* Updates to it go nowhere that is rendered. */
static struct metric discard = {.type = METRIC_GAUGE};

/* ---- names and text --------------------------------------------------- */

static bool ident_valid(const char *s)
{
    if (s == NULL || s[0] == '\0' || (s[0] == '_' && s[1] == '_'))
        return false;
    for (const char *p = s; *p; p++) {
        char c = *p;
        bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
        if (!alpha && !(p != s && c >= '0' && c <= '9'))
            return false;
    }
    return true;
}

bool metrics_name_valid(const char *name)
{
    return ident_valid(name);
}

bool metrics_label_name_valid(const char *name)
{
    return ident_valid(name);
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

/* Length of the valid UTF-8 sequence at p (RFC 3629 section 4: no overlong
 * forms, no surrogates, nothing above U+10FFFF), or 0 if it is not one. */
static size_t utf8_seq(const unsigned char *p)
{
    unsigned char c = p[0];
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        return (p[1] & 0xC0) == 0x80 ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        unsigned char lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
        if (p[1] < lo || p[1] > hi || (p[2] & 0xC0) != 0x80)
            return 0;
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        unsigned char lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
        if (p[1] < lo || p[1] > hi || (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80)
            return 0;
        return 4;
    }
    return 0;
}

/* Copies in to out as valid UTF-8 of at most cap bytes: each byte that does
 * not start a valid sequence becomes U+FFFD, and the copy stops before the
 * first character that would not fit. out has room for cap + 1. The
 * data model wants label values in UTF-8; the cap keeps a peer-chosen value
 * (a partner domain, a SIP method) from growing the output. */
static void sanitize(const char *in, char *out, size_t cap)
{
    const unsigned char *p = (const unsigned char *)in;
    size_t o = 0;
    while (*p) {
        size_t k = utf8_seq(p);
        if (k == 0) {
            if (o + 3 > cap)
                break;
            memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3;
            p++;
            continue;
        }
        if (o + k > cap)
            break;
        memcpy(out + o, p, k);
        o += k;
        p += k;
    }
    out[o] = '\0';
}

/* Bytes needed to escape s; quote: also '"' (label values) or not (help). */
static size_t escaped_len(const char *s, bool quote)
{
    size_t n = 0;
    for (; *s; s++)
        n += (*s == '\\' || *s == '\n' || (quote && *s == '"')) ? 2 : 1;
    return n;
}

/* Writes s escaped as the text format wants it: "\\" for a backslash, "\n"
 * for a line feed and, in label values, "\"" for a double quote. Returns
 * the end of what was written (no NUL). */
static char *escape(char *out, const char *s, bool quote)
{
    for (; *s; s++) {
        if (*s == '\\') {
            *out++ = '\\';
            *out++ = '\\';
        } else if (*s == '\n') {
            *out++ = '\\';
            *out++ = 'n';
        } else if (quote && *s == '"') {
            *out++ = '\\';
            *out++ = '"';
        } else {
            *out++ = *s;
        }
    }
    return out;
}

/* ---- families and series ---------------------------------------------- */

void metrics_settings_init(struct metrics_settings *s)
{
    s->max_series = 256;
    s->max_label_bytes = 128;
    s->process = true;
}

static int fam_cmp_key(const char *name, const struct family *f)
{
    return strcmp(name, f->name);
}

/* Index of the family called name, or where it would go (*found false). */
static size_t fam_search(const struct metrics *r, const char *name, bool *found)
{
    size_t lo = 0, hi = r->nfam;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = fam_cmp_key(name, r->fams[mid]);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    *found = false;
    return lo;
}

static struct family *fam_find(const struct metrics *r, const char *name)
{
    bool found;
    size_t i = fam_search(r, name, &found);
    return found ? r->fams[i] : NULL;
}

static void fam_free(struct family *f)
{
    if (f == NULL)
        return;
    for (size_t i = 0; i < f->n; i++)
        free(f->series[i]);
    free(f->series);
    for (unsigned i = 0; i < f->nlabels; i++)
        free(f->labels[i]);
    free(f->name);
    free(f->help);
    free(f);
}

static int values_cmp(const struct family *f, const char *const *values, const struct metric *m)
{
    for (unsigned i = 0; i < f->nlabels; i++) {
        int c = strcmp(values[i], m->values[i]);
        if (c != 0)
            return c;
    }
    return 0;
}

static size_t series_search(const struct family *f, const char *const *values, bool *found)
{
    size_t lo = 0, hi = f->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = values_cmp(f, values, f->series[mid]);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    *found = false;
    return lo;
}

/* A new series of f with these (sanitised) values, inserted at index at. */
static struct metric *series_add(struct family *f, const char *const *values, size_t at)
{
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 4;
        struct metric **v = realloc(f->series, cap * sizeof(*v));
        if (v == NULL)
            return NULL;
        f->series = v;
        f->cap = cap;
    }
    size_t vlen = 0, tlen = strlen(f->name);
    for (unsigned i = 0; i < f->nlabels; i++) {
        vlen += strlen(values[i]) + 1;
        tlen += strlen(f->labels[i]) + 4 + escaped_len(values[i], true); /* ,l="v" or {l="v" */
    }
    if (f->nlabels > 0)
        tlen++; /* } */
    struct metric *m = calloc(1, sizeof(*m) + vlen + tlen + 1);
    if (m == NULL)
        return NULL;
    m->type = f->type;
    m->fam = f;
    char *p = m->data;
    for (unsigned i = 0; i < f->nlabels; i++) {
        size_t n = strlen(values[i]) + 1;
        memcpy(p, values[i], n);
        m->values[i] = p;
        p += n;
    }
    char *t = p;
    size_t nlen = strlen(f->name);
    memcpy(p, f->name, nlen);
    p += nlen;
    for (unsigned i = 0; i < f->nlabels; i++) {
        *p++ = i == 0 ? '{' : ',';
        size_t ln = strlen(f->labels[i]);
        memcpy(p, f->labels[i], ln);
        p += ln;
        *p++ = '=';
        *p++ = '"';
        p = escape(p, values[i], true);
        *p++ = '"';
    }
    if (f->nlabels > 0)
        *p++ = '}';
    *p = '\0';
    m->text = t;
    m->text_len = (size_t)(p - t);
    memmove(f->series + at + 1, f->series + at, (f->n - at) * sizeof(*f->series));
    f->series[at] = m;
    f->n++;
    return m;
}

static bool labels_equal(const struct family *f, const char *const *labels, unsigned n)
{
    if (f->nlabels != n)
        return false;
    for (unsigned i = 0; i < n; i++)
        if (strcmp(f->labels[i], labels[i]) != 0)
            return false;
    return true;
}

/* metrics_define() under the lock; flags FAM_OWN for the registry's own. */
static int define_locked(struct metrics *r, enum metric_type type, const char *name,
                         const char *help, const char *const *labels, unsigned flags)
{
    unsigned n = 0;
    if (!metrics_name_valid(name) || (type == METRIC_COUNTER && !ends_with(name, "_total"))) {
        log_warnx("metrics: invalid metric name \"%s\"", name ? name : "(null)");
        errno = EINVAL;
        return -1;
    }
    for (; labels && labels[n]; n++) {
        if (n == METRICS_MAX_LABELS || !metrics_label_name_valid(labels[n])) {
            log_warnx("metrics: %s: invalid label name or more than %d labels", name,
                      METRICS_MAX_LABELS);
            errno = EINVAL;
            return -1;
        }
        for (unsigned j = 0; j < n; j++) {
            if (strcmp(labels[j], labels[n]) == 0) {
                log_warnx("metrics: %s: label %s given twice", name, labels[n]);
                errno = EINVAL;
                return -1;
            }
        }
    }
    bool found;
    size_t at = fam_search(r, name, &found);
    if (found) {
        struct family *f = r->fams[at];
        if (f->type == type && labels_equal(f, labels, n) && !(f->flags & FAM_OWN))
            return 0;
        log_warnx("metrics: %s is defined already with another type or labels", name);
        errno = EEXIST;
        return -1;
    }
    if (r->nfam == r->capfam) {
        size_t cap = r->capfam ? r->capfam * 2 : 16;
        struct family **v = realloc(r->fams, cap * sizeof(*v));
        if (v == NULL)
            goto oom;
        r->fams = v;
        r->capfam = cap;
    }
    struct family *f = calloc(1, sizeof(*f));
    if (f == NULL)
        goto oom;
    f->type = type;
    f->flags = flags;
    f->name = strdup(name);
    if (help == NULL)
        help = "";
    f->help = malloc(escaped_len(help, false) + 1);
    if (f->help)
        *escape(f->help, help, false) = '\0';
    bool ok = f->name && f->help;
    for (f->nlabels = 0; ok && f->nlabels < n; f->nlabels++) {
        f->labels[f->nlabels] = strdup(labels[f->nlabels]);
        ok = f->labels[f->nlabels] != NULL;
    }
    if (ok && n == 0)
        ok = series_add(f, NULL, 0) != NULL;
    if (!ok) {
        fam_free(f);
        goto oom;
    }
    memmove(r->fams + at + 1, r->fams + at, (r->nfam - at) * sizeof(*r->fams));
    r->fams[at] = f;
    r->nfam++;
    return 0;
oom:
    log_warnx("metrics: %s: out of memory", name);
    errno = ENOMEM;
    return -1;
}

int metrics_define(struct metrics *r, enum metric_type type, const char *name, const char *help,
                   const char *const *labels)
{
    if (r == NULL) {
        errno = EINVAL;
        return -1;
    }
    pthread_mutex_lock(&r->mu);
    int rc = define_locked(r, type, name, help, labels, 0);
    pthread_mutex_unlock(&r->mu);
    return rc;
}

static bool all_other(const struct family *f, const char *const *values)
{
    for (unsigned i = 0; i < f->nlabels; i++)
        if (strcmp(values[i], METRICS_OTHER) != 0)
            return false;
    return f->nlabels > 0;
}

static struct metric *lookup_locked(struct metrics *r, enum metric_type type, const char *name,
                                    const char *const *pairs, size_t npairs, bool own);

/* The overflow series of f; counts one fold when count is set. */
static struct metric *fold(struct metrics *r, struct family *f, bool count)
{
    if (f->other == NULL) {
        const char *values[METRICS_MAX_LABELS];
        for (unsigned i = 0; i < f->nlabels; i++)
            values[i] = METRICS_OTHER;
        bool found;
        size_t at = series_search(f, values, &found);
        f->other = found ? f->series[at] : series_add(f, values, at);
        if (f->other == NULL)
            return &discard;
    }
    if (count && strcmp(f->name, OVERFLOW_FAMILY) != 0) {
        const char *pairs[2] = {"family", f->name};
        metric_inc(lookup_locked(r, METRIC_COUNTER, OVERFLOW_FAMILY, pairs, 1, true));
    }
    return f->other;
}

static struct metric *lookup_locked(struct metrics *r, enum metric_type type, const char *name,
                                    const char *const *pairs, size_t npairs, bool own)
{
    struct family *f = name ? fam_find(r, name) : NULL;
    if (f == NULL || f->type != type || ((f->flags & FAM_OWN) && !own)) {
        log_warnx("metrics: no %s family named %s%s", type == METRIC_COUNTER ? "counter" : "gauge",
                  name ? name : "(null)", f && (f->flags & FAM_OWN) ? " (the registry's own)" : "");
        return &discard;
    }
    if (npairs != f->nlabels)
        goto mismatch;
    const char *values[METRICS_MAX_LABELS] = {NULL};
    size_t stride = (size_t)r->set.max_label_bytes + 1;
    for (size_t i = 0; i < npairs; i++) {
        const char *ln = pairs[2 * i], *lv = pairs[2 * i + 1];
        unsigned j = 0;
        while (ln && j < f->nlabels && strcmp(f->labels[j], ln) != 0)
            j++;
        if (ln == NULL || lv == NULL || j == f->nlabels || values[j] != NULL)
            goto mismatch;
        char *dst = r->scratch + j * stride;
        sanitize(lv, dst, r->set.max_label_bytes);
        values[j] = dst;
    }
    if (f->nlabels == 0)
        return f->series[0];
    bool found;
    size_t at = series_search(f, values, &found);
    if (found)
        return f->series[at];
    if (all_other(f, values))
        return fold(r, f, false);
    /* The overflow counter itself has one series per family, which the
     * code defines: it cannot grow without bound. */
    if (f->n_regular >= r->set.max_series && strcmp(f->name, OVERFLOW_FAMILY) != 0)
        return fold(r, f, true);
    struct metric *m = series_add(f, values, at);
    if (m == NULL) {
        log_warnx("metrics: %s: out of memory", f->name);
        return &discard;
    }
    f->n_regular++;
    return m;
mismatch:
    log_warnx("metrics: %s: the labels given do not match the family's %u label(s)", f->name,
              f->nlabels);
    return &discard;
}

struct metric *metrics_series(struct metrics *r, enum metric_type type, const char *name,
                              const char *const *pairs, size_t npairs)
{
    if (r == NULL)
        return &discard;
    if (npairs > METRICS_MAX_LABELS) {
        log_warnx("metrics: %s: more than %d labels given", name ? name : "(null)",
                  METRICS_MAX_LABELS);
        return &discard;
    }
    pthread_mutex_lock(&r->mu);
    struct metric *m = lookup_locked(r, type, name, pairs, npairs, false);
    pthread_mutex_unlock(&r->mu);
    return m;
}

static struct metric *lookup_va(struct metrics *r, enum metric_type type, const char *name,
                                va_list ap)
{
    const char *pairs[2 * METRICS_MAX_LABELS];
    size_t n = 0;
    for (;;) {
        const char *ln = va_arg(ap, const char *);
        if (ln == NULL)
            break;
        const char *lv = va_arg(ap, const char *);
        if (n == METRICS_MAX_LABELS || lv == NULL) {
            log_warnx("metrics: %s: too many labels or a label without a value",
                      name ? name : "(null)");
            return &discard;
        }
        pairs[2 * n] = ln;
        pairs[2 * n + 1] = lv;
        n++;
    }
    return metrics_series(r, type, name, pairs, n);
}

struct metric *metrics_counter_v(struct metrics *r, const char *name, ...)
{
    va_list ap;
    va_start(ap, name);
    struct metric *m = lookup_va(r, METRIC_COUNTER, name, ap);
    va_end(ap);
    return m;
}

struct metric *metrics_gauge_v(struct metrics *r, const char *name, ...)
{
    va_list ap;
    va_start(ap, name);
    struct metric *m = lookup_va(r, METRIC_GAUGE, name, ap);
    va_end(ap);
    return m;
}

/* ---- values ------------------------------------------------------------ */

void metric_inc(struct metric *m)
{
    atomic_fetch_add_explicit(&m->v, 1, memory_order_relaxed);
}

void metric_add(struct metric *m, uint64_t n)
{
    atomic_fetch_add_explicit(&m->v, n, memory_order_relaxed);
}

void metric_dec(struct metric *m)
{
    if (m->type == METRIC_GAUGE)
        atomic_fetch_sub_explicit(&m->v, 1, memory_order_relaxed);
}

void metric_sub(struct metric *m, uint64_t n)
{
    if (m->type == METRIC_GAUGE)
        atomic_fetch_sub_explicit(&m->v, n, memory_order_relaxed);
}

void metric_set(struct metric *m, int64_t v)
{
    if (m->type == METRIC_GAUGE) {
        atomic_store_explicit(&m->v, (uint64_t)v, memory_order_relaxed);
        return;
    }
    uint64_t cur = atomic_load_explicit(&m->v, memory_order_relaxed);
    while (v >= 0 && (uint64_t)v > cur &&
           !atomic_compare_exchange_weak_explicit(&m->v, &cur, (uint64_t)v, memory_order_relaxed,
                                                  memory_order_relaxed))
        ;
}

int64_t metric_value(const struct metric *m)
{
    return (int64_t)atomic_load_explicit(&((struct metric *)(uintptr_t)m)->v, memory_order_relaxed);
}

bool metric_discarded(const struct metric *m)
{
    return m == &discard;
}

static void set_double(struct metric *m, double d)
{
    uint64_t bits;
    memcpy(&bits, &d, sizeof(bits));
    atomic_store_explicit(&m->v, bits, memory_order_relaxed);
}

int metrics_on_collect(struct metrics *r, metrics_collect_cb *cb, void *arg)
{
    if (r == NULL || cb == NULL) {
        errno = EINVAL;
        return -1;
    }
    int rc = 0;
    pthread_mutex_lock(&r->mu);
    if (r->ncollect == METRICS_MAX_COLLECT) {
        errno = ENOSPC;
        rc = -1;
    } else {
        r->collect[r->ncollect].cb = cb;
        r->collect[r->ncollect].arg = arg;
        r->ncollect++;
    }
    pthread_mutex_unlock(&r->mu);
    return rc;
}

int metrics_zero(struct metrics *r, const char *name)
{
    if (r == NULL || name == NULL) {
        errno = EINVAL;
        return -1;
    }
    pthread_mutex_lock(&r->mu);
    struct family *f = fam_find(r, name);
    bool ok = f && f->type == METRIC_GAUGE && !(f->flags & FAM_OWN);
    for (size_t i = 0; ok && i < f->n; i++)
        atomic_store_explicit(&f->series[i]->v, 0, memory_order_relaxed);
    pthread_mutex_unlock(&r->mu);
    if (!ok)
        errno = EINVAL;
    return ok ? 0 : -1;
}

/* ---- process metrics --------------------------------------------------- */

/* Reads a small /proc file into buf (NUL-terminated). Returns its length,
 * or -1. */
static ssize_t read_small(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t n = 0;
    while (n + 1 < cap) {
        ssize_t k = read(fd, buf + n, cap - 1 - n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        n += (size_t)k;
    }
    close(fd);
    buf[n] = '\0';
    return (ssize_t)n;
}

/* The process's start as Unix time: boot time (btime in /proc/stat) plus
 * field 22 of /proc/self/stat, starttime in clock ticks after boot
 * (proc(5)). The time of this call when either is unreadable. */
static double process_start_time(void)
{
    struct timeval now;
    gettimeofday(&now, NULL);
    double fallback = (double)now.tv_sec + (double)now.tv_usec / 1e6;
    char buf[4096];
    if (read_small("/proc/stat", buf, sizeof(buf)) <= 0)
        return fallback;
    const char *b = strstr(buf, "\nbtime ");
    if (b == NULL)
        return fallback;
    unsigned long long btime = strtoull(b + 7, NULL, 10);
    if (read_small("/proc/self/stat", buf, sizeof(buf)) <= 0)
        return fallback;
    /* The command name (field 2) may hold spaces and parentheses: count
     * from the last ')'. After it come field 3 (state) and onwards. */
    char *p = strrchr(buf, ')');
    if (p == NULL)
        return fallback;
    p++;
    for (int field = 3; field < 22; field++) {
        while (*p == ' ')
            p++;
        while (*p && *p != ' ')
            p++;
    }
    char *end;
    unsigned long long ticks = strtoull(p, &end, 10);
    long hz = sysconf(_SC_CLK_TCK);
    if (end == p || hz <= 0 || btime == 0)
        return fallback;
    return (double)btime + (double)ticks / (double)hz;
}

static int64_t open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL)
        return -1;
    int self = dirfd(d);
    int64_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (atoi(e->d_name) != self)
            n++;
    }
    closedir(d);
    return n;
}

static void process_update(struct metrics *r)
{
    set_double(r->proc[PROC_START], r->start_time);
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0) {
        double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                     (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
        set_double(r->proc[PROC_CPU], cpu);
    }
    char buf[256];
    unsigned long long size, resident;
    long page = sysconf(_SC_PAGESIZE);
    if (read_small("/proc/self/statm", buf, sizeof(buf)) > 0 &&
        sscanf(buf, "%llu %llu", &size, &resident) == 2 && page > 0) {
        metric_set(r->proc[PROC_RSS], (int64_t)(resident * (unsigned long long)page));
        metric_set(r->proc[PROC_VSIZE], (int64_t)(size * (unsigned long long)page));
    }
    int64_t fds = open_fds();
    if (fds >= 0)
        metric_set(r->proc[PROC_OPEN_FDS], fds);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
        metric_set(r->proc[PROC_MAX_FDS],
                   rl.rlim_cur == RLIM_INFINITY ? INT64_MAX : (int64_t)rl.rlim_cur);
}

/* ---- the registry ------------------------------------------------------ */

struct own_def {
    const char *name;
    enum metric_type type;
    unsigned flags;
    int proc; /* enum proc_metric, or -1 */
    const char *help;
};

static const struct own_def process_defs[] = {
    {"process_start_time_seconds", METRIC_GAUGE, FAM_FLOAT, PROC_START,
     "Start time of the process since the Unix epoch in seconds."},
    {"process_cpu_seconds_total", METRIC_COUNTER, FAM_FLOAT, PROC_CPU,
     "Total user and system CPU time spent in seconds."},
    {"process_resident_memory_bytes", METRIC_GAUGE, 0, PROC_RSS, "Resident memory size in bytes."},
    {"process_virtual_memory_bytes", METRIC_GAUGE, 0, PROC_VSIZE, "Virtual memory size in bytes."},
    {"process_open_fds", METRIC_GAUGE, 0, PROC_OPEN_FDS, "Number of open file descriptors."},
    {"process_max_fds", METRIC_GAUGE, 0, PROC_MAX_FDS, "Maximum number of open file descriptors."},
};

static int define_own(struct metrics *r, const char *name, enum metric_type type, unsigned flags,
                      const char *help, const char *const *labels)
{
    return define_locked(r, type, name, help, labels, FAM_OWN | flags);
}

struct metrics *metrics_new(const char *program, const struct metrics_settings *settings)
{
    struct metrics_settings set;
    metrics_settings_init(&set);
    if (settings)
        set = *settings;
    if (set.max_series < 1 || set.max_series > METRICS_MAX_SERIES_LIMIT ||
        set.max_label_bytes < 16 || set.max_label_bytes > METRICS_MAX_LABEL_LIMIT) {
        errno = EINVAL;
        return NULL;
    }
    struct metrics *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return NULL;
    r->set = set;
    if (pthread_mutex_init(&r->mu, NULL) != 0) {
        free(r);
        errno = ENOMEM;
        return NULL;
    }
    r->scratch = malloc(METRICS_MAX_LABELS * ((size_t)set.max_label_bytes + 1));
    if (r->scratch == NULL)
        goto fail;

    static const char *const build_labels[] = {"program", "version", NULL};
    static const char *const overflow_labels[] = {"family", NULL};
    if (define_own(r, "xfed_build_info", METRIC_GAUGE, 0,
                   "The program and version of this xfed process; always 1.", build_labels) != 0 ||
        define_own(r, OVERFLOW_FAMILY, METRIC_COUNTER, 0,
                   "Series lookups folded into the label value \"other\" because the family "
                   "reached its cap of label sets.",
                   overflow_labels) != 0)
        goto fail;
    const char *pairs[4] = {"program", program ? program : "", "version", XFED_VERSION};
    metric_set(lookup_locked(r, METRIC_GAUGE, "xfed_build_info", pairs, 2, true), 1);

    if (set.process) {
        r->start_time = process_start_time();
        for (size_t i = 0; i < sizeof(process_defs) / sizeof(process_defs[0]); i++) {
            const struct own_def *d = &process_defs[i];
            if (define_own(r, d->name, d->type, d->flags, d->help, NULL) != 0)
                goto fail;
            r->proc[d->proc] = fam_find(r, d->name)->series[0];
        }
    }
    return r;
fail:
    metrics_free(r);
    errno = ENOMEM;
    return NULL;
}

void metrics_free(struct metrics *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->nfam; i++)
        fam_free(r->fams[i]);
    free(r->fams);
    free(r->scratch);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

/* ---- rendering --------------------------------------------------------- */

struct out {
    char *p;
    size_t len, cap;
    bool oom;
};

static char *out_reserve(struct out *o, size_t n)
{
    if (o->oom)
        return NULL;
    if (o->len + n + 1 > o->cap) {
        size_t cap = o->cap ? o->cap : 4096;
        while (o->len + n + 1 > cap)
            cap *= 2;
        char *p = realloc(o->p, cap);
        if (p == NULL) {
            o->oom = true;
            return NULL;
        }
        o->p = p;
        o->cap = cap;
    }
    return o->p + o->len;
}

static void out_add(struct out *o, const char *s, size_t n)
{
    char *p = out_reserve(o, n);
    if (p) {
        memcpy(p, s, n);
        o->len += n;
    }
}

static void out_str(struct out *o, const char *s)
{
    out_add(o, s, strlen(s));
}

/* Decimal digits of v, written backwards into the end of buf; returns the
 * first digit. */
static char *u64_text(char *end, uint64_t v)
{
    *--end = '\0';
    do {
        *--end = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return end;
}

static void out_value(struct out *o, const struct family *f, uint64_t v)
{
    char buf[32];
    char *s;
    if (f->flags & FAM_FLOAT) {
        double d;
        memcpy(&d, &v, sizeof(d));
        snprintf(buf, sizeof(buf), "%.15g", d);
        s = buf;
    } else if (f->type == METRIC_GAUGE && (int64_t)v < 0) {
        s = u64_text(buf + sizeof(buf), (uint64_t)0 - v);
        *--s = '-';
    } else {
        s = u64_text(buf + sizeof(buf), v);
    }
    out_str(o, s);
}

static void render_family(struct out *o, const struct family *f)
{
    out_str(o, "# HELP ");
    out_str(o, f->name);
    out_add(o, " ", 1);
    out_str(o, f->help);
    out_str(o, "\n# TYPE ");
    out_str(o, f->name);
    out_str(o, f->type == METRIC_COUNTER ? " counter\n" : " gauge\n");
    for (size_t i = 0; i < f->n; i++) {
        const struct metric *m = f->series[i];
        out_add(o, m->text, m->text_len);
        out_add(o, " ", 1);
        out_value(o, f,
                  atomic_load_explicit(&((struct metric *)(uintptr_t)m)->v, memory_order_relaxed));
        out_add(o, "\n", 1);
    }
}

char *metrics_render(struct metrics *r, size_t *len)
{
    struct collector collect[METRICS_MAX_COLLECT];
    size_t ncollect;
    if (r == NULL) {
        errno = EINVAL;
        return NULL;
    }
    pthread_mutex_lock(&r->mu);
    ncollect = r->ncollect;
    memcpy(collect, r->collect, ncollect * sizeof(collect[0]));
    pthread_mutex_unlock(&r->mu);
    for (size_t i = 0; i < ncollect; i++)
        collect[i].cb(r, collect[i].arg);

    struct out o = {0};
    pthread_mutex_lock(&r->mu);
    if (r->set.process)
        process_update(r);
    for (size_t i = 0; i < r->nfam; i++)
        render_family(&o, r->fams[i]);
    pthread_mutex_unlock(&r->mu);
    if (out_reserve(&o, 0) == NULL) {
        free(o.p);
        errno = ENOMEM;
        return NULL;
    }
    o.p[o.len] = '\0';
    if (len)
        *len = o.len;
    return o.p;
}
