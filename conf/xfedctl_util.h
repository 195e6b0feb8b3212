/*
 * xfedctl_util.h - what the xfedctl command groups share: the group entry
 * points of the dispatch table, subcommand dispatch and --help, opening the
 * store and running a transaction with the exit codes of exitcodes.h, and
 * printing reports.
 *
 * Every function here is for the command line only: it may print on stdout
 * or stderr and it blocks on the store's lock and disk.
 */
#ifndef XFED_XFEDCTL_UTIL_H
#define XFED_XFEDCTL_UTIL_H

#include <stdbool.h>
#include <stdio.h>

#include "conf_model.h"
#include "conf_report.h"
#include "conf_store.h"
#include "xfedctl.h"

/* Command groups (argv[0] is the group name; see xfedctl.h). */
int xfedctl_partner_main(int argc, char **argv, const struct xfedctl_ctx *ctx);
int xfedctl_settings_main(int argc, char **argv, const struct xfedctl_ctx *ctx);
int xfedctl_hosted_main(int argc, char **argv, const struct xfedctl_ctx *ctx);
int xfedctl_access_main(int argc, char **argv, const struct xfedctl_ctx *ctx);
int xfedctl_check_main(int argc, char **argv, const struct xfedctl_ctx *ctx);
int xfedctl_init_main(int argc, char **argv, const struct xfedctl_ctx *ctx);
int xfedctl_version_main(int argc, char **argv, const struct xfedctl_ctx *ctx);
/* The panel's accounts (xfedctl_admin.c). */
int xfedctl_admin_main(int argc, char **argv, const struct xfedctl_ctx *ctx);
/* The IPC channel's CURVE keys and the tap (xfedctl_keys.c, xfedctl_tap.c). */
int xfedctl_keys_main(int argc, char **argv, const struct xfedctl_ctx *ctx);
int xfedctl_tap_main(int argc, char **argv, const struct xfedctl_ctx *ctx);
/* The running edges' statistics (xfedctl_status.c, ops_stats.h). */
int xfedctl_status_main(int argc, char **argv, const struct xfedctl_ctx *ctx);
/* A new group is one declaration here and one row in the table of
 * xfedctl_main.c. */

/* `partner import` lives in its own file (xfedctl_import.c). */
int xfedctl_partner_import(int argc, char **argv, const struct xfedctl_ctx *ctx);

/* One subcommand of a group. usage is the full help text; its first line
 * is the synopsis without the leading "xfedctl " ("partner remove DOMAIN"),
 * the rest is printed by --help. */
struct xfedctl_sub {
    const char *name;
    int (*fn)(int argc, char **argv, const struct xfedctl_ctx *ctx);
    const char *usage;
};

/* Runs the subcommand named argv[1] of group (a table ended by a NULL
 * name) with argv[1..]. Handles "GROUP --help" and missing or unknown
 * subcommands (usage on stderr, exit 2). Returns the exit code. */
int xfedctl_dispatch(const char *group, const struct xfedctl_sub *subs, int argc, char **argv,
                     const struct xfedctl_ctx *ctx);

/* Runs a group that is a single command (check, init, version): makes sub
 * the current subcommand and calls it with argv as given. */
int xfedctl_run_single(const struct xfedctl_sub *sub, int argc, char **argv,
                       const struct xfedctl_ctx *ctx);

/* Prepares getopt_long for a subcommand's argv: resets getopt and names
 * argv[0] "xfedctl GROUP SUB" so that getopt's own messages read well. */
void xfedctl_getopt_reset(char **argv);

/* Prints the current subcommand's help on stdout; returns 0. */
int xfedctl_help(void);

/* Prints "xfedctl: <message>" (when fmt is not NULL) and the current
 * subcommand's synopsis on stderr; returns 2. */
int xfedctl_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Parses the options of a subcommand that takes none but --help, leaving
 * the operands at argv[optind..]. Checks that there are between min and
 * max operands. Returns -1 to go on, or the exit code (0 after --help). */
int xfedctl_no_options(int argc, char **argv, int min, int max);

/* Prints "xfedctl: " + message on stderr. */
void xfedctl_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints the issues of report on stderr, one a line, prefixed with
 * "<prefix>: " when prefix is not NULL: "file:line: error: message",
 * "error: message (matrix row N)", "warning: ...". With errors_only,
 * warnings are left out. */
void xfedctl_report(const char *prefix, const struct conf_report *report, bool errors_only);

/* Opens the store of ctx->confdir; on failure prints why and returns NULL
 * with *code set to the exit code. */
struct conf_store *xfedctl_store_open(const struct xfedctl_ctx *ctx, int *code);

/* Loads the current configuration read-only. Returns it (caller frees) or
 * NULL after printing the problem, with *code set. */
struct conf *xfedctl_load(struct conf_store *store, int *code);

/* Starts a transaction (conf_store_begin). Returns 0 with *conf set, or an
 * exit code after printing the problem. */
int xfedctl_begin(struct conf_store *store, struct conf **conf);

/* Commits conf (conf_store_commit) and prints the errors of a rejection
 * (warnings are the caller's to print: it knows which concern the change).
 * Returns 0 when written, 1 when rejected, 3 on system failure. */
int xfedctl_commit(struct conf_store *store, struct conf *conf);

/* Returns a malloc'd copy of the normalised form of domain when
 * conf_domain_normalize() accepts it, else a copy of the input as given, so
 * that validation reports the problem in its own words. NULL: memory. */
char *xfedctl_domain(const char *in);

/* Parses a decimal unsigned number (no sign, no spaces). Returns 0 or -1. */
int xfedctl_parse_uint(const char *s, unsigned *out);

/* Exit code for memory exhaustion, after a message. */
int xfedctl_oom(void);

/* Display width of a UTF-8 string in columns (code points). */
size_t xfedctl_width(const char *s);

#endif
