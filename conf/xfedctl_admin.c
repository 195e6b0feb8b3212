/*
 * xfedctl_admin.c - `xfedctl admin add|passwd|remove|list`: the accounts
 * that may sign in to xfed-panel (panel_accounts.h). Passwords are read
 * from a terminal without echo (asked twice) or, for scripts, from one line
 * of standard input with --password-stdin; they are stored only as yescrypt
 * hashes and never printed. Changes are serialised by a lock file and
 * written atomically; a running panel notices them at the next request.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "conf_atomic.h"
#include "exitcodes.h"
#include "panel_accounts.h"
#include "panel_password.h"
#include "xfedctl_util.h"

static const char usage_add[] =
    "admin add NAME --role admin|viewer [--password-stdin | --password-hash HASH]\n"
    "Creates a panel account. admin may change configuration; viewer only reads.\n"
    "The password is asked twice on the terminal without echo, or read as one line\n"
    "from standard input with --password-stdin (8 to 1024 bytes), or given as a\n"
    "yescrypt hash made elsewhere ($y$..., e.g. by mkpasswd -m yescrypt).\n"
    "Exit: 0 created, 1 the account exists or the password is refused, 2 usage,\n"
    "3 system failure.\n"
    "Example: printf '%s\\n' \"$PW\" | xfedctl admin add alice --role admin --password-stdin\n";

static const char usage_passwd[] =
    "admin passwd NAME [--password-stdin]\n"
    "Sets a new password for a panel account; its open sessions end.\n"
    "Exit: 0 changed, 1 no such account or password refused, 2 usage, 3 system failure.\n"
    "Example: xfedctl admin passwd alice\n";

static const char usage_remove[] = "admin remove NAME\n"
                                   "Removes a panel account; its open sessions end.\n"
                                   "Exit: 0 removed, 1 no such account, 2 usage, 3 system "
                                   "failure.\n"
                                   "Example: xfedctl admin remove bob\n";

static const char usage_list[] = "admin list\n"
                                 "Prints the panel accounts, one a line: NAME ROLE.\n"
                                 "Exit: 0, 1 unreadable accounts file, 3 system failure.\n"
                                 "Example: xfedctl admin list\n";

/* Reads one line into buf without echo when from a terminal. Returns 0, or
 * -1 on end of input or error. The newline is removed. */
static int read_line(FILE *in, bool noecho, const char *prompt, char *buf, size_t len)
{
    struct termios old, quiet;
    bool restore = false;
    int fd = fileno(in);

    if (noecho) {
        /* echo goes off before the prompt appears, so nothing typed after
         * the prompt can be echoed */
        if (tcgetattr(fd, &old) == 0) {
            quiet = old;
            quiet.c_lflag &= (tcflag_t)~ECHO;
            quiet.c_lflag |= ECHONL;
            restore = tcsetattr(fd, TCSANOW, &quiet) == 0;
        }
        fputs(prompt, in);
        fflush(in);
    }
    char *got = fgets(buf, (int)len, in);
    if (restore)
        tcsetattr(fd, TCSANOW, &old);
    if (got == NULL)
        return -1;
    size_t n = strlen(buf);
    if (n > 0 && buf[n - 1] == '\n')
        buf[--n] = '\0';
    else if (n == len - 1) {
        /* longer than the buffer: refuse rather than cut */
        explicit_bzero(buf, len);
        return -2;
    }
    if (n > 0 && buf[n - 1] == '\r')
        buf[--n] = '\0';
    return 0;
}

/* Gets the new password; returns a hash (caller frees) or NULL with *code. */
static char *new_password_hash(bool from_stdin, int *code)
{
    char pw[PANEL_PASSWORD_MAX + 2], again[PANEL_PASSWORD_MAX + 2];
    char *hash = NULL;
    int rc;

    *code = XFED_EXIT_REJECTED;
    if (from_stdin) {
        rc = read_line(stdin, false, NULL, pw, sizeof(pw));
    } else {
        FILE *tty = fopen("/dev/tty", "r+");
        if (tty == NULL || !isatty(fileno(tty))) {
            if (tty != NULL)
                fclose(tty);
            xfedctl_err("no terminal to ask for the password: use --password-stdin");
            *code = XFED_EXIT_USAGE;
            return NULL;
        }
        rc = read_line(tty, true, "New password: ", pw, sizeof(pw));
        if (rc == 0) {
            rc = read_line(tty, true, "Repeat the password: ", again, sizeof(again));
            if (rc == 0 && strcmp(pw, again) != 0) {
                xfedctl_err("the two passwords differ");
                rc = -3;
            }
            explicit_bzero(again, sizeof(again));
        }
        fclose(tty);
    }
    if (rc == -1) {
        xfedctl_err("no password given");
    } else if (rc == -2) {
        xfedctl_err("password must have at most %d bytes", PANEL_PASSWORD_MAX);
    } else if (rc == 0) {
        const char *why = panel_password_check(pw);
        if (why != NULL) {
            xfedctl_err("%s", why);
        } else {
            hash = panel_password_hash(pw);
            if (hash == NULL) {
                xfedctl_err("cannot hash the password (yescrypt unavailable?)");
                *code = XFED_EXIT_SYSTEM;
            }
        }
    }
    explicit_bzero(pw, sizeof(pw));
    if (hash != NULL)
        *code = XFED_EXIT_OK;
    return hash;
}

/* Locks and loads the accounts. Returns the lock fd or -1 with *code. */
static int accounts_begin(const struct xfedctl_ctx *ctx, struct panel_accounts *a, int *code)
{
    char err[512];
    int fd = conf_lock(ctx->confdir, PANEL_USERS_LOCK);
    if (fd < 0) {
        xfedctl_err("%s: %s", ctx->confdir, strerror(errno));
        *code = XFED_EXIT_SYSTEM;
        return -1;
    }
    if (panel_accounts_load(ctx->confdir, a, err, sizeof(err)) < 0) {
        xfedctl_err("%s", err);
        conf_unlock(fd);
        *code = XFED_EXIT_REJECTED;
        return -1;
    }
    return fd;
}

static int accounts_commit(const struct xfedctl_ctx *ctx, struct panel_accounts *a, int fd)
{
    int code = XFED_EXIT_OK;
    if (panel_accounts_save(ctx->confdir, a) < 0) {
        xfedctl_err("%s/%s: %s", ctx->confdir, PANEL_USERS_FILE, strerror(errno));
        code = XFED_EXIT_SYSTEM;
    }
    conf_unlock(fd);
    panel_accounts_clear(a);
    return code;
}

enum { OPT_ROLE = 1, OPT_STDIN, OPT_HASH };

static const char *given_hash; /* --password-hash */

static int parse_opts(int argc, char **argv, bool want_role, const char **role, bool *from_stdin)
{
    static const struct option longopts[] = {
        {"role", required_argument, NULL, OPT_ROLE},
        {"password-stdin", no_argument, NULL, OPT_STDIN},
        {"password-hash", required_argument, NULL, OPT_HASH},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    xfedctl_getopt_reset(argv);
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_ROLE:
            if (!want_role)
                return xfedctl_usage("--role is not an option here");
            *role = optarg;
            break;
        case OPT_STDIN:
            *from_stdin = true;
            break;
        case OPT_HASH:
            if (!want_role)
                return xfedctl_usage("--password-hash is an option of admin add");
            given_hash = optarg;
            break;
        case 'h':
            return xfedctl_help();
        default:
            return xfedctl_usage(NULL);
        }
    }
    if (argc - optind != 1)
        return xfedctl_usage(argc - optind < 1 ? "missing account name" : "unexpected argument");
    if (!panel_account_name_ok(argv[optind]))
        return xfedctl_usage("account names have 1 to 64 letters, digits, '.', '_', '-' or "
                             "'@', starting with a letter or digit");
    return -1;
}

static int admin_add(int argc, char **argv, const struct xfedctl_ctx *ctx)
{
    const char *role_word = NULL;
    bool from_stdin = false;
    enum panel_role role;
    struct panel_accounts a = {0};
    int code = parse_opts(argc, argv, true, &role_word, &from_stdin);
    if (code >= 0)
        return code;
    const char *name = argv[optind];
    if (role_word == NULL || panel_role_parse(role_word, &role) < 0)
        return xfedctl_usage("--role admin or --role viewer is required");
    char *hash;
    if (given_hash != NULL) {
        if (from_stdin)
            return xfedctl_usage("--password-stdin and --password-hash exclude each other");
        if (!panel_password_hash_valid(given_hash)) {
            xfedctl_err("--password-hash: not a yescrypt hash ($y$...)");
            return XFED_EXIT_REJECTED;
        }
        if ((hash = strdup(given_hash)) == NULL)
            return xfedctl_oom();
    } else if ((hash = new_password_hash(from_stdin, &code)) == NULL) {
        return code;
    }
    int fd = accounts_begin(ctx, &a, &code);
    if (fd < 0) {
        free(hash);
        return code;
    }
    if (panel_accounts_find(&a, name) != NULL) {
        xfedctl_err("account %s exists: use 'xfedctl admin passwd %s'", name, name);
        conf_unlock(fd);
        panel_accounts_clear(&a);
        free(hash);
        return XFED_EXIT_REJECTED;
    }
    if (panel_accounts_set(&a, name, role, hash) < 0) {
        conf_unlock(fd);
        panel_accounts_clear(&a);
        free(hash);
        return xfedctl_oom();
    }
    free(hash);
    code = accounts_commit(ctx, &a, fd);
    if (code == XFED_EXIT_OK)
        printf("added panel account %s (%s)\n", name, panel_role_name(role));
    return code;
}

static int admin_passwd(int argc, char **argv, const struct xfedctl_ctx *ctx)
{
    const char *role_word = NULL;
    bool from_stdin = false;
    struct panel_accounts a = {0};
    int code = parse_opts(argc, argv, false, &role_word, &from_stdin);
    if (code >= 0)
        return code;
    const char *name = argv[optind];
    /* check the account first so nobody types a password for nothing */
    int fd = accounts_begin(ctx, &a, &code);
    if (fd < 0)
        return code;
    bool exists = panel_accounts_find(&a, name) != NULL;
    conf_unlock(fd);
    panel_accounts_clear(&a);
    if (!exists) {
        xfedctl_err("no panel account %s", name);
        return XFED_EXIT_REJECTED;
    }
    char *hash = new_password_hash(from_stdin, &code);
    if (hash == NULL)
        return code;
    fd = accounts_begin(ctx, &a, &code);
    if (fd < 0) {
        free(hash);
        return code;
    }
    const struct panel_account *acc = panel_accounts_find(&a, name);
    if (acc == NULL) {
        xfedctl_err("no panel account %s", name);
        code = XFED_EXIT_REJECTED;
    } else if (panel_accounts_set(&a, name, acc->role, hash) < 0) {
        code = xfedctl_oom();
    } else {
        code = XFED_EXIT_OK;
    }
    free(hash);
    if (code != XFED_EXIT_OK) {
        conf_unlock(fd);
        panel_accounts_clear(&a);
        return code;
    }
    code = accounts_commit(ctx, &a, fd);
    if (code == XFED_EXIT_OK)
        printf("changed the password of panel account %s\n", name);
    return code;
}

static int admin_remove(int argc, char **argv, const struct xfedctl_ctx *ctx)
{
    struct panel_accounts a = {0};
    int code = xfedctl_no_options(argc, argv, 1, 1);
    if (code >= 0)
        return code;
    const char *name = argv[optind];
    int fd = accounts_begin(ctx, &a, &code);
    if (fd < 0)
        return code;
    if (!panel_accounts_remove(&a, name)) {
        xfedctl_err("no panel account %s", name);
        conf_unlock(fd);
        panel_accounts_clear(&a);
        return XFED_EXIT_REJECTED;
    }
    code = accounts_commit(ctx, &a, fd);
    if (code == XFED_EXIT_OK)
        printf("removed panel account %s\n", name);
    return code;
}

static int admin_list(int argc, char **argv, const struct xfedctl_ctx *ctx)
{
    struct panel_accounts a = {0};
    char err[512];
    int code = xfedctl_no_options(argc, argv, 0, 0);
    if (code >= 0)
        return code;
    if (panel_accounts_load(ctx->confdir, &a, err, sizeof(err)) < 0) {
        xfedctl_err("%s", err);
        return XFED_EXIT_REJECTED;
    }
    for (size_t i = 0; i < a.n; i++)
        printf("%s %s\n", a.v[i].name, panel_role_name(a.v[i].role));
    panel_accounts_clear(&a);
    return XFED_EXIT_OK;
}

int xfedctl_admin_main(int argc, char **argv, const struct xfedctl_ctx *ctx)
{
    static const struct xfedctl_sub subs[] = {
        {"add", admin_add, usage_add},
        {"passwd", admin_passwd, usage_passwd},
        {"remove", admin_remove, usage_remove},
        {"list", admin_list, usage_list},
        {NULL, NULL, NULL},
    };
    return xfedctl_dispatch("admin", subs, argc, argv, ctx);
}
