/*
 * xfedctl_util.c - dispatch, help and store plumbing shared by the xfedctl
 * command groups, so that every command maps outcomes to the same exit
 * codes (exitcodes.h) and prints reports the same way.
 */
#include "xfedctl_util.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf_domain.h"
#include "exitcodes.h"

static const struct xfedctl_sub *xfedctl_cur;
static const char *xfedctl_cur_group;

/* First line of a usage text. */
static void xfedctl_synopsis(FILE *f, const struct xfedctl_sub *s)
{
    const char *nl = strchr(s->usage, '\n');
    int len = nl != NULL ? (int)(nl - s->usage) : (int)strlen(s->usage);

    fprintf(f, "xfedctl %.*s\n", len, s->usage);
}

static void xfedctl_group_usage(FILE *f, const char *group, const struct xfedctl_sub *subs)
{
    fprintf(f, "usage: xfedctl [-c DIR] %s SUBCOMMAND [ARGS]\n", group);
    for (const struct xfedctl_sub *s = subs; s->name != NULL; s++) {
        fputs("       ", f);
        xfedctl_synopsis(f, s);
    }
    fprintf(f, "Run 'xfedctl %s SUBCOMMAND --help' for details.\n", group);
}

int xfedctl_dispatch(const char *group, const struct xfedctl_sub *subs, int argc, char **argv,
                     const struct xfedctl_ctx *ctx)
{
    xfedctl_cur_group = group;
    if (argc < 2) {
        xfedctl_err("%s: missing subcommand", group);
        xfedctl_group_usage(stderr, group, subs);
        return XFED_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        xfedctl_group_usage(stdout, group, subs);
        return XFED_EXIT_OK;
    }
    for (const struct xfedctl_sub *s = subs; s->name != NULL; s++) {
        if (strcmp(s->name, argv[1]) == 0) {
            xfedctl_cur = s;
            return s->fn(argc - 1, argv + 1, ctx);
        }
    }
    xfedctl_err("%s: unknown subcommand '%s'", group, argv[1]);
    xfedctl_group_usage(stderr, group, subs);
    return XFED_EXIT_USAGE;
}

int xfedctl_run_single(const struct xfedctl_sub *sub, int argc, char **argv,
                       const struct xfedctl_ctx *ctx)
{
    xfedctl_cur_group = NULL;
    xfedctl_cur = sub;
    return sub->fn(argc, argv, ctx);
}

void xfedctl_getopt_reset(char **argv)
{
    static char prog[96];

    if (xfedctl_cur_group != NULL)
        snprintf(prog, sizeof(prog), "xfedctl %s %s", xfedctl_cur_group, xfedctl_cur->name);
    else
        snprintf(prog, sizeof(prog), "xfedctl %s", xfedctl_cur->name);
    argv[0] = prog;
    optind = 0; /* glibc: 0 also resets its internal state */
    opterr = 1;
}

int xfedctl_help(void)
{
    fputs("usage: ", stdout);
    xfedctl_synopsis(stdout, xfedctl_cur);
    const char *nl = strchr(xfedctl_cur->usage, '\n');
    if (nl != NULL)
        fputs(nl + 1, stdout);
    return XFED_EXIT_OK;
}

int xfedctl_usage(const char *fmt, ...)
{
    if (fmt != NULL) {
        va_list ap;
        fputs("xfedctl: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
    }
    fputs("usage: ", stderr);
    xfedctl_synopsis(stderr, xfedctl_cur);
    if (xfedctl_cur_group != NULL)
        fprintf(stderr, "Try 'xfedctl %s %s --help'.\n", xfedctl_cur_group, xfedctl_cur->name);
    else
        fprintf(stderr, "Try 'xfedctl %s --help'.\n", xfedctl_cur->name);
    return XFED_EXIT_USAGE;
}

int xfedctl_no_options(int argc, char **argv, int min, int max)
{
    static const struct option longopts[] = {
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;

    xfedctl_getopt_reset(argv);
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'h':
            return xfedctl_help();
        default:
            return xfedctl_usage(NULL);
        }
    }
    int n = argc - optind;
    if (n < min)
        return xfedctl_usage("missing argument");
    if (n > max)
        return xfedctl_usage("unexpected argument '%s'", argv[optind + max]);
    return -1;
}

void xfedctl_err(const char *fmt, ...)
{
    va_list ap;

    fputs("xfedctl: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

void xfedctl_report(const char *prefix, const struct conf_report *report, bool errors_only)
{
    for (size_t i = 0; i < report->n; i++) {
        const struct conf_issue *is = &report->v[i];
        if (errors_only && is->severity != CONF_ERROR)
            continue;
        if (prefix != NULL)
            fprintf(stderr, "%s: ", prefix);
        if (is->file != NULL && is->line > 0)
            fprintf(stderr, "%s:%d: ", is->file, is->line);
        else if (is->file != NULL)
            fprintf(stderr, "%s: ", is->file);
        fputs(is->severity == CONF_ERROR ? "error: " : "warning: ", stderr);
        fputs(is->message, stderr);
        if (is->row > 0)
            fprintf(stderr, " (matrix row %d)", is->row);
        fputc('\n', stderr);
    }
}

int xfedctl_oom(void)
{
    xfedctl_err("out of memory");
    return XFED_EXIT_SYSTEM;
}

struct conf_store *xfedctl_store_open(const struct xfedctl_ctx *ctx, int *code)
{
    struct conf_store *store = conf_store_open(ctx->confdir);

    if (store == NULL) {
        int e = errno;
        if (e == ENOENT)
            xfedctl_err("configuration directory %s does not exist (create it with "
                        "'xfedctl -c %s init')",
                        ctx->confdir, ctx->confdir);
        else
            xfedctl_err("cannot open configuration directory %s: %s", ctx->confdir, strerror(e));
        *code = XFED_EXIT_SYSTEM;
    }
    return store;
}

/* A load that failed: a configuration that is there but not acceptable is a
 * rejection (1); anything else (missing file, I/O) is a system failure. */
static int xfedctl_load_failure(const struct conf_store *store, const struct conf_report *r)
{
    bool invalid = false;

    for (size_t i = 0; i < r->n; i++)
        if (r->v[i].line > 0 || r->v[i].row > 0 || (r->v[i].field && r->v[i].field[0] != '\0'))
            invalid = true;
    xfedctl_report(NULL, r, false);
    if (invalid) {
        xfedctl_err("the stored configuration %s is not valid; nothing was changed",
                    conf_store_path(store));
        return XFED_EXIT_REJECTED;
    }
    if (r->n == 0)
        xfedctl_err("cannot read %s: %s", conf_store_path(store), strerror(errno));
    return XFED_EXIT_SYSTEM;
}

struct conf *xfedctl_load(struct conf_store *store, int *code)
{
    struct conf_report r;

    conf_report_init(&r);
    struct conf *conf = conf_store_load(store, &r);
    if (conf == NULL)
        *code = xfedctl_load_failure(store, &r);
    conf_report_clear(&r);
    return conf;
}

int xfedctl_begin(struct conf_store *store, struct conf **conf)
{
    struct conf_report r;
    int code = XFED_EXIT_OK;

    conf_report_init(&r);
    if (conf_store_begin(store, conf, &r) < 0) {
        *conf = NULL;
        code = xfedctl_load_failure(store, &r);
    }
    conf_report_clear(&r);
    return code;
}

int xfedctl_commit(struct conf_store *store, struct conf *conf)
{
    struct conf_report r;
    int code = XFED_EXIT_OK;

    conf_report_init(&r);
    int rc = conf_store_commit(store, conf, &r);
    if (rc < 0) {
        xfedctl_report(NULL, &r, true);
        xfedctl_err("could not write %s; nothing was changed", conf_store_path(store));
        code = XFED_EXIT_SYSTEM;
    } else if (rc == CONF_REJECTED) {
        xfedctl_report(NULL, &r, true);
        code = XFED_EXIT_REJECTED;
    }
    conf_report_clear(&r);
    return code;
}

char *xfedctl_domain(const char *in)
{
    char buf[CONF_DOMAIN_BUFSZ];
    const char *why;

    if (conf_domain_normalize(in, buf, sizeof(buf), &why) == 0)
        return strdup(buf);
    return strdup(in);
}

int xfedctl_parse_uint(const char *s, unsigned *out)
{
    unsigned long v = 0;

    if (*s == '\0')
        return -1;
    for (const char *p = s; *p != '\0'; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (unsigned long)(*p - '0');
        if (v > 0xffffffffUL)
            return -1;
    }
    *out = (unsigned)v;
    return 0;
}

size_t xfedctl_width(const char *s)
{
    size_t w = 0;

    for (; *s != '\0'; s++)
        if (((unsigned char)*s & 0xc0) != 0x80)
            w++;
    return w;
}
