/*
 * xfedctl_check.c - `xfedctl check [DIR]` (like `nginx -t`), `xfedctl
 * init` and `xfedctl version`: the commands about a configuration
 * directory as a whole rather than one part of it.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "conf_file.h"
#include "conf_validate.h"
#include "exitcodes.h"
#include "xfedctl_util.h"

enum { OPT_HOSTED = 256 };

static const char usage_check[] =
    "check [DIR]\n"
    "Reads DIR/xfed.conf (default: the -c directory) strictly and validates all of it,\n"
    "like 'nginx -t'. Every error is printed with file:line; warnings are printed too.\n"
    "DIR may also name a file to check instead of DIR/xfed.conf.\n"
    "Exit: 0 valid (warnings allowed), 1 invalid, 2 usage.\n"
    "Example: xfedctl check /etc/xfed\n";

static const char usage_init[] =
    "init [--hosted-domain DOMAIN ...]\n"
    "Creates the configuration directory (the -c directory) and an xfed.conf with every\n"
    "default, the given hosted domains and a fresh random dialback secret. An existing\n"
    "xfed.conf is left as it is.\n"
    "Options:\n"
    "  --hosted-domain DOMAIN   an internal domain of this deployment (repeatable)\n"
    "Exit: 0 created or already there, 1 rejected (invalid domain), 2 usage, 3 system failure.\n"
    "Example: xfedctl -c /etc/xfed init --hosted-domain contoso.com\n";

static const char usage_version[] = "version\n"
                                    "Prints the version number of the stored configuration; every\n"
                                    "change increments it.\n"
                                    "Exit: 0, 1 invalid configuration, 2 usage, 3 system failure.\n"
                                    "Example: xfedctl version\n";

static int check_run(int argc, char **argv, const struct xfedctl_ctx *ctx)
{
    int code = xfedctl_no_options(argc, argv, 0, 1);
    struct conf_report r;
    struct stat st;
    char *path = NULL;

    if (code >= 0)
        return code;
    const char *dir = optind < argc ? argv[optind] : ctx->confdir;
    if (stat(dir, &st) == 0 && S_ISREG(st.st_mode))
        path = strdup(dir);
    else if (asprintf(&path, "%s/xfed.conf", dir) < 0)
        path = NULL;
    if (path == NULL)
        return xfedctl_oom();

    conf_report_init(&r);
    struct conf *conf = conf_file_read(path, &r);
    if (conf != NULL)
        conf_validate(conf, &r);
    /* Validation issues carry no line of their own: name the file. */
    for (size_t i = 0; i < r.n; i++)
        if (r.v[i].file == NULL && (r.v[i].file = strdup(path)) == NULL) {
            conf_report_clear(&r);
            conf_free(conf);
            free(path);
            return xfedctl_oom();
        }
    xfedctl_report(NULL, &r, false);
    if (conf == NULL || conf_report_has_errors(&r)) {
        fprintf(stderr, "configuration %s is not valid (%zu errors)\n", path,
                conf_report_count(&r, CONF_ERROR));
        code = XFED_EXIT_REJECTED;
    } else {
        printf("configuration %s version %llu is valid\n", path, (unsigned long long)conf->version);
        code = XFED_EXIT_OK;
    }
    conf_report_clear(&r);
    conf_free(conf);
    free(path);
    return code;
}

static int init_run(int argc, char **argv, const struct xfedctl_ctx *ctx)
{
    static const struct option longopts[] = {
        {"help", no_argument, NULL, 'h'},
        {"hosted-domain", required_argument, NULL, OPT_HOSTED},
        {NULL, 0, NULL, 0},
    };
    struct conf_strlist hosted = {NULL, 0};
    struct conf_report r;
    int c, code;

    xfedctl_getopt_reset(argv);
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'h':
            conf_strlist_clear(&hosted);
            return xfedctl_help();
        case OPT_HOSTED: {
            char *d = xfedctl_domain(optarg);
            if (d == NULL || conf_strlist_add(&hosted, d) < 0) {
                free(d);
                conf_strlist_clear(&hosted);
                return xfedctl_oom();
            }
            free(d);
            break;
        }
        default:
            conf_strlist_clear(&hosted);
            return xfedctl_usage(NULL);
        }
    }
    if (optind < argc) {
        conf_strlist_clear(&hosted);
        return xfedctl_usage("unexpected argument '%s'", argv[optind]);
    }

    conf_report_init(&r);
    int rc = conf_store_init(ctx->confdir, &hosted, &r);
    if (rc == 0) {
        xfedctl_report(NULL, &r, false);
        printf("created configuration %s/xfed.conf (version 1)\n", ctx->confdir);
        code = XFED_EXIT_OK;
    } else if (rc == 1) {
        printf("configuration %s/xfed.conf already exists; nothing was changed\n", ctx->confdir);
        code = XFED_EXIT_OK;
    } else {
        /* Errors about a field are the input's; the rest are the system's. */
        code = XFED_EXIT_SYSTEM;
        for (size_t i = 0; i < r.n; i++)
            if (r.v[i].severity == CONF_ERROR && r.v[i].field[0] != '\0')
                code = XFED_EXIT_REJECTED;
        xfedctl_report(NULL, &r, code == XFED_EXIT_REJECTED);
        xfedctl_err("%s/xfed.conf was not created", ctx->confdir);
    }
    conf_report_clear(&r);
    conf_strlist_clear(&hosted);
    return code;
}

static int version_run(int argc, char **argv, const struct xfedctl_ctx *ctx)
{
    int code = xfedctl_no_options(argc, argv, 0, 0);

    if (code >= 0)
        return code;
    struct conf_store *store = xfedctl_store_open(ctx, &code);
    if (store == NULL)
        return code;
    struct conf *conf = xfedctl_load(store, &code);
    conf_store_close(store);
    if (conf == NULL)
        return code;
    printf("%llu\n", (unsigned long long)conf->version);
    conf_free(conf);
    return XFED_EXIT_OK;
}

int xfedctl_check_main(int argc, char **argv, const struct xfedctl_ctx *ctx)
{
    static const struct xfedctl_sub sub = {"check", check_run, usage_check};
    return xfedctl_run_single(&sub, argc, argv, ctx);
}

int xfedctl_init_main(int argc, char **argv, const struct xfedctl_ctx *ctx)
{
    static const struct xfedctl_sub sub = {"init", init_run, usage_init};
    return xfedctl_run_single(&sub, argc, argv, ctx);
}

int xfedctl_version_main(int argc, char **argv, const struct xfedctl_ctx *ctx)
{
    static const struct xfedctl_sub sub = {"version", version_run, usage_version};
    return xfedctl_run_single(&sub, argc, argv, ctx);
}
