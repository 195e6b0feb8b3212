/*
 * xfedctl_main.c - entry point of xfedctl: global options, then the first
 * operand picks a command group from one table. Adding a group is one row.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf_store.h"
#include "exitcodes.h"
#include "log.h"
#include "xfedctl.h"
#include "xfedctl_util.h"

struct xfedctl_group {
    const char *name;
    xfedctl_group_fn *fn;
    const char *help;
};

static const struct xfedctl_group xfedctl_groups[] = {
    {"partner", xfedctl_partner_main, "XMPP federated partners (new, set, get, remove, import)"},
    {"settings", xfedctl_settings_main, "global settings (get, set)"},
    {"hosted", xfedctl_hosted_main, "hosted (internal) domains (list, add, remove)"},
    {"access", xfedctl_access_main, "per-user XMPP access policy"},
    {"check", xfedctl_check_main, "validate a configuration directory, like nginx -t"},
    {"init", xfedctl_init_main, "create a configuration directory with the defaults"},
    {"version", xfedctl_version_main, "print the configuration version"},
    {"admin", xfedctl_admin_main, "accounts of the web control panel (add, passwd, remove, list)"},
    {"keys", xfedctl_keys_main, "CURVE keys of the IPC channel (init-edge, add-gateway, list)"},
    {"tap", xfedctl_tap_main, "connect to an edge as a gateway: print and inject stanzas"},
    {"status", xfedctl_status_main, "the running edges: streams, gateways, configuration versions"},
};

static void xfedctl_main_usage(FILE *f)
{
    fprintf(f,
            "usage: xfedctl [-c DIR] COMMAND [ARGS]\n"
            "       xfedctl -h | --help | --version\n"
            "\n"
            "Options:\n"
            "  -c, --config-dir DIR  configuration directory (default %s)\n"
            "  -h, --help            this help\n"
            "      --version         program version\n"
            "\n"
            "Commands:\n",
            CONF_DEFAULT_DIR);
    for (size_t i = 0; i < sizeof(xfedctl_groups) / sizeof(xfedctl_groups[0]); i++)
        fprintf(f, "  %-10s %s\n", xfedctl_groups[i].name, xfedctl_groups[i].help);
    fprintf(f, "\nRun 'xfedctl COMMAND --help' for a command's usage.\n"
               "Exit codes: 0 ok (warnings on stderr), 1 rejected, 2 usage, 3 system failure.\n");
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config-dir", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    struct xfedctl_ctx ctx = {.confdir = CONF_DEFAULT_DIR};
    int c;

    log_init("xfedctl", LOG_LEVEL_WARN, false);
    /* "+": stop at the command word; the rest belongs to the group. */
    while ((c = getopt_long(argc, argv, "+c:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            if (optarg[0] == '\0') {
                fprintf(stderr, "xfedctl: -c needs a directory\n");
                return XFED_EXIT_USAGE;
            }
            ctx.confdir = optarg;
            break;
        case 'h':
            xfedctl_main_usage(stdout);
            return XFED_EXIT_OK;
        case 'V':
            printf("xfedctl %s\n", XFED_VERSION);
            return XFED_EXIT_OK;
        default:
            xfedctl_main_usage(stderr);
            return XFED_EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "xfedctl: missing command\n");
        xfedctl_main_usage(stderr);
        return XFED_EXIT_USAGE;
    }
    const char *name = argv[optind];
    if (strcmp(name, "help") == 0) {
        xfedctl_main_usage(stdout);
        return XFED_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof(xfedctl_groups) / sizeof(xfedctl_groups[0]); i++) {
        if (strcmp(xfedctl_groups[i].name, name) == 0) {
            int code = xfedctl_groups[i].fn(argc - optind, argv + optind, &ctx);
            /* Output that did not reach its reader is a failure too. */
            if (fflush(stdout) != 0 || ferror(stdout)) {
                fprintf(stderr, "xfedctl: cannot write to standard output\n");
                if (code == XFED_EXIT_OK)
                    code = XFED_EXIT_SYSTEM;
            }
            return code;
        }
    }
    fprintf(stderr, "xfedctl: unknown command '%s'\n", name);
    xfedctl_main_usage(stderr);
    return XFED_EXIT_USAGE;
}
