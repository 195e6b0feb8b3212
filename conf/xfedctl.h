/*
 * xfedctl.h - the administrator's command line. xfedctl_main.c parses the
 * global options (-c DIR, -h) and dispatches the first word to one of the
 * command groups below; each lives in its own file xfedctl_<group>.c.
 *
 * Every group follows the same contract: argv[0] is the group name; it
 * prints results on stdout, warnings and errors on stderr, supports
 * --help on every subcommand, and returns an exit code of exitcodes.h:
 * 0 ok (warnings included), 1 rejected configuration or input, 2 usage,
 * 3 system failure.
 */
#ifndef XFED_XFEDCTL_H
#define XFED_XFEDCTL_H

struct xfedctl_ctx {
    const char *confdir; /* -c DIR, default CONF_DEFAULT_DIR */
};

typedef int xfedctl_group_fn(int argc, char **argv, const struct xfedctl_ctx *ctx);

#endif
