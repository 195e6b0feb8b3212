/*
 * panel_main.c - xfed-panel: the web control panel over HTTPS.
 *
 * Runs in the foreground with logs on stderr. Start-up always takes the
 * same steps: options (panel.conf, then -o), accounts, store, ops.conf (the
 * edges the status page asks, ops_stats.h), certificate and key, then the
 * metrics endpoint (when metrics_listen is set) and the HTTPS server, and
 * READY=1 to systemd (sd_notify.h). The main thread then only waits for
 * SIGINT, SIGTERM or SIGHUP (sigwait: signals never interrupt a handler),
 * and, when systemd asks for a watchdog (WATCHDOG_USEC), wakes every half
 * interval to send WATCHDOG=1 unless a request has been running on the
 * HTTP thread for that long: a stuck handler stops the pings.
 * Exit codes (common/exitcodes.h): 0 ok or configuration valid (-n),
 * 1 configuration rejected, 2 usage, 3 system failure.
 */
#include "conf_atomic.h"
#include "conf_store.h"
#include "exitcodes.h"
#include "log.h"
#include "panel_accounts.h"
#include "panel_app.h"
#include "panel_http.h"
#include "panel_metrics.h"
#include "panel_options.h"
#include "panel_status.h"
#include "sd_notify.h"

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PEM_MAX (256 * 1024)

static void usage(FILE *f)
{
    fprintf(f,
            "usage: xfed-panel [-n] [-v] [-c DIR] [-f FILE] [-l ADDR:PORT] [-o KEY=VALUE]...\n"
            "\n"
            "  -c DIR         configuration directory (default %s)\n"
            "  -f FILE        panel options file (default DIR/%s)\n"
            "  -l ADDR:PORT   listen address, same as -o listen=ADDR:PORT\n"
            "  -o KEY=VALUE   set one panel option (see docs/panel.md)\n"
            "  -n             check the configuration and exit (0 valid, 1 not)\n"
            "  -v             debug logging\n"
            "  -h             this help\n"
            "\n"
            "Exit codes: 0 ok, 1 rejected configuration, 2 usage, 3 system failure.\n",
            CONF_DEFAULT_DIR, PANEL_CONF_FILE);
}

/* Half a watchdog interval has passed: ping unless the HTTP thread has
 * been inside one request for that long. */
static void watchdog_tick(const struct panel_app *app, uint64_t usec, bool *stuck)
{
    uint64_t busy = panel_app_busy_ms(app);
    if (busy * 1000 >= usec / 2) {
        if (!*stuck)
            log_warnx("watchdog: a request has been running for %llu ms; not pinging systemd",
                      (unsigned long long)busy);
        *stuck = true;
        return;
    }
    *stuck = false;
    if (sd_notify_watchdog() != 0)
        log_debug("watchdog: sd_notify: %s", strerror(errno));
}

static int override(struct panel_options *o, const char *kv)
{
    char key[64];
    const char *eq = strchr(kv, '=');
    const char *why;
    if (eq == NULL || (size_t)(eq - kv) >= sizeof(key)) {
        fprintf(stderr, "xfed-panel: -o wants KEY=VALUE\n");
        return -1;
    }
    memcpy(key, kv, (size_t)(eq - kv));
    key[eq - kv] = '\0';
    if (panel_options_set(o, key, eq + 1, &why) < 0) {
        fprintf(stderr, "xfed-panel: -o %s: %s\n", key, why);
        return -1;
    }
    return 0;
}

static char *read_pem(const char *confdir, const char *p, const char *what)
{
    char path[2048];
    size_t len;
    panel_options_path(confdir, p, path, sizeof(path));
    char *pem = conf_read_file(path, PEM_MAX, &len);
    if (pem == NULL) {
        log_warn("%s %s", what, path);
        return NULL;
    }
    if (strstr(pem, "-----BEGIN ") == NULL) {
        log_warnx("%s %s: not PEM", what, path);
        explicit_bzero(pem, len);
        free(pem);
        return NULL;
    }
    return pem;
}

static void free_pem(char *pem)
{
    if (pem != NULL) {
        explicit_bzero(pem, strlen(pem));
        free(pem);
    }
}

int main(int argc, char **argv)
{
    const char *confdir = CONF_DEFAULT_DIR, *optfile = NULL;
    bool check = false, verbose = false;
    struct panel_options o;
    int c;

    /* -o and -l are applied after the file: collect them first */
    char **overrides = calloc((size_t)argc + 1, sizeof(char *));
    size_t n_over = 0;
    if (overrides == NULL)
        return XFED_EXIT_SYSTEM;
    char *listen_arg = NULL;
    while ((c = getopt(argc, argv, "c:f:l:o:nvh")) != -1) {
        switch (c) {
        case 'c':
            confdir = optarg;
            break;
        case 'f':
            optfile = optarg;
            break;
        case 'l':
            listen_arg = optarg;
            break;
        case 'o':
            overrides[n_over++] = optarg;
            break;
        case 'n':
            check = true;
            break;
        case 'v':
            verbose = true;
            break;
        case 'h':
            usage(stdout);
            free(overrides);
            return XFED_EXIT_OK;
        default:
            usage(stderr);
            free(overrides);
            return XFED_EXIT_USAGE;
        }
    }
    if (optind != argc) {
        usage(stderr);
        free(overrides);
        return XFED_EXIT_USAGE;
    }
    log_init("xfed-panel", verbose ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO, false);

    panel_options_defaults(&o);
    char optpath[2048];
    if (optfile != NULL)
        snprintf(optpath, sizeof(optpath), "%s", optfile);
    else
        snprintf(optpath, sizeof(optpath), "%s/%s", confdir, PANEL_CONF_FILE);
    int rc = panel_options_read(&o, optpath);
    for (size_t i = 0; i < n_over; i++) {
        if (override(&o, overrides[i]) < 0) {
            free(overrides);
            return XFED_EXIT_USAGE;
        }
    }
    free(overrides);
    if (listen_arg != NULL) {
        const char *why;
        if (panel_options_set(&o, "listen", listen_arg, &why) < 0) {
            fprintf(stderr, "xfed-panel: -l %s: %s\n", listen_arg, why);
            return XFED_EXIT_USAGE;
        }
    }
    if (rc < 0) {
        log_warnx("%s: rejected", optpath);
        return XFED_EXIT_REJECTED;
    }

    /* the replicated configuration must be readable and valid too */
    struct conf_store *store = conf_store_open(confdir);
    if (store == NULL) {
        log_warn("configuration directory %s", confdir);
        return XFED_EXIT_SYSTEM;
    }
    struct conf_report rep;
    conf_report_init(&rep);
    struct conf *cf = conf_store_load(store, &rep);
    for (size_t i = 0; i < rep.n; i++) {
        const struct conf_issue *is = &rep.v[i];
        if (is->file != NULL)
            log_warnx("%s:%d: %s: %s", is->file, is->line,
                      is->severity == CONF_ERROR ? "error" : "warning", is->message);
        else
            log_warnx("%s: %s", is->severity == CONF_ERROR ? "error" : "warning", is->message);
    }
    conf_report_clear(&rep);
    conf_store_close(store);
    if (cf == NULL)
        return XFED_EXIT_REJECTED;
    conf_free(cf);

    char err[512];
    if (panel_metrics_check(o.metrics_listen, err, sizeof(err)) < 0) {
        log_warnx("metrics_listen %s: %s", o.metrics_listen, err);
        return XFED_EXIT_REJECTED;
    }
    /* the edges of the status page: ops.conf must be valid too */
    struct panel_status_source *status = panel_status_ipc_new(confdir, err, sizeof(err));
    if (status == NULL) {
        log_warnx("%s", err);
        return XFED_EXIT_REJECTED;
    }

    char *cert = read_pem(confdir, o.cert, "certificate");
    char *key = read_pem(confdir, o.key, "private key");
    if (check) {
        /* -n writes nothing: the accounts are read, no audit log is opened */
        struct panel_accounts acc = {0};
        bool ok = cert != NULL && key != NULL;
        if (panel_accounts_load(confdir, &acc, err, sizeof(err)) < 0) {
            log_warnx("%s", err);
            ok = false;
        } else if (acc.n == 0) {
            log_warnx(
                "no panel account yet: create one with 'xfedctl admin add NAME --role admin'");
        }
        panel_accounts_clear(&acc);
        panel_status_ipc_free(status);
        free_pem(cert);
        free_pem(key);
        if (ok)
            log_info("configuration ok: %s, listen=%s", confdir, o.listen);
        return ok ? XFED_EXIT_OK : XFED_EXIT_REJECTED;
    }
    struct panel_app *app = panel_app_new(confdir, &o, status, err, sizeof(err));
    if (app == NULL)
        log_warnx("%s", err);
    if (cert == NULL || key == NULL || app == NULL) {
        free_pem(cert);
        free_pem(key);
        panel_app_free(app);
        panel_status_ipc_free(status);
        return XFED_EXIT_SYSTEM;
    }

    /* signals are taken by sigwait() below, never by a handler thread */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* after the mask: its thread must not take the signals */
    struct panel_metrics *metrics = panel_metrics_start(o.metrics_listen, err, sizeof(err));
    if (metrics == NULL) {
        log_warnx("metrics_listen %s: %s", o.metrics_listen, err);
        free_pem(cert);
        free_pem(key);
        panel_app_free(app);
        panel_status_ipc_free(status);
        return XFED_EXIT_SYSTEM;
    }
    panel_app_set_metrics(app, panel_metrics_registry(metrics));

    struct panel_http_conf hc = {
        .cert_pem = cert,
        .key_pem = key,
        .max_body = o.max_body,
        .max_connections = o.max_connections,
        .connection_timeout = o.connection_timeout,
    };
    if (panel_options_listen_addr(&o, &hc.addr, &hc.addrlen) < 0) {
        log_warnx("listen %s: not an address", o.listen);
        panel_app_free(app);
        panel_status_ipc_free(status);
        panel_metrics_stop(metrics);
        free_pem(cert);
        free_pem(key);
        return XFED_EXIT_REJECTED;
    }
    struct panel_http *http = panel_http_start(&hc, panel_app_handle, app, err, sizeof(err));
    if (http == NULL) {
        log_warnx("listen %s: %s", o.listen, err);
        free_pem(cert);
        free_pem(key);
        panel_app_free(app);
        panel_status_ipc_free(status);
        panel_metrics_stop(metrics);
        return XFED_EXIT_SYSTEM;
    }
    log_info("listening on %s port=%u confdir=%s", o.listen, panel_http_port(http), confdir);
    if (panel_metrics_port(metrics))
        log_info("metrics on %s port=%u", o.metrics_listen, panel_metrics_port(metrics));
    if (sd_notify_ready("serving") != 0)
        log_debug("sd_notify READY: %s", strerror(errno));
    uint64_t wd_usec = sd_notify_watchdog_usec();
    uint64_t wd_next = panel_now_ms() + wd_usec / 2000;
    bool stuck = false;

    for (;;) {
        int sig = 0;
        if (wd_usec != 0) {
            /* a deadline, not a period: signals do not postpone the ping */
            uint64_t now = panel_now_ms();
            if (now >= wd_next) {
                watchdog_tick(app, wd_usec, &stuck);
                wd_next = now + wd_usec / 2000;
            }
            uint64_t left = wd_next - now > wd_usec / 2000 ? wd_usec / 2000 : wd_next - now;
            struct timespec ts = {(time_t)(left / 1000), (long)(left % 1000) * 1000000};
            sig = sigtimedwait(&set, NULL, &ts);
            if (sig < 0)
                continue; /* EAGAIN: time to ping; EINTR: try again */
        } else if (sigwait(&set, &sig) != 0) {
            continue;
        }
        if (sig == SIGHUP) {
            /* accounts and configuration are re-read on use; nothing to do */
            sd_notify_reloading();
            log_info("SIGHUP: accounts and configuration are re-read on use");
            sd_notify_ready(NULL);
            continue;
        }
        log_info("stopping on signal %d", sig);
        sd_notify_stopping();
        break;
    }
    panel_http_stop(http);
    panel_app_free(app);
    panel_status_ipc_free(status);
    panel_metrics_stop(metrics);
    free_pem(cert);
    free_pem(key);
    return XFED_EXIT_OK;
}
