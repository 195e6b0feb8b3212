/*
 * edge_main.c - xfed-edge: the Internet-facing XMPP server-to-server
 * daemon. The entry always runs the same steps (OpenSMTPD's habit): load
 * and validate the configuration, bind the listeners and the IPC endpoint,
 * drop privileges, register the signal events, run the loop.
 *
 * Usage: xfed-edge [-d] [-n] [-c DIR]
 *   -c DIR  configuration directory (default /etc/xfed): xfed.conf,
 *           edge.conf, the certificate and the IPC keys
 *   -n      check the configuration and exit (0 valid, 1 rejected)
 *   -d      debug logging; logs always go to stderr (foreground)
 * Signals: SIGHUP reloads (load, validate, swap; healthy streams stay),
 * SIGTERM and SIGINT stop cleanly (streams get <system-shutdown/>).
 * Under systemd (Type=notify, common/sd_notify.h): READY=1 once the
 * listeners, IPC and the metrics endpoint are bound and privileges are
 * dropped; WATCHDOG=1 from the loop every half WatchdogSec; RELOADING=1
 * then READY=1 around a SIGHUP; STOPPING=1 on SIGTERM/SIGINT. Metrics:
 * edge_metrics.h, GET /metrics when edge.conf sets metrics_listen.
 * Exit codes (common/exitcodes.h): 0 ok, 1 configuration rejected, 2 usage,
 * 3 system failure.
 */
#include <errno.h>
#include <event2/event.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf_report.h"
#include "conf_store.h"
#include "conf_validate.h"
#include "edge.h"
#include "edge_conf.h"
#include "edge_ipc.h"
#include "edge_metrics.h"
#include "exitcodes.h"
#include "log.h"
#include "privdrop.h"
#include "s2s_listen.h"
#include "s2s_policy.h"
#include "s2s_resolver.h"
#include "s2s_sasl.h"
#include "s2s_stream.h"
#include "sd_notify.h"
#include "stanza.h"
#include "tls.h"

#define SHUTDOWN_GRACE 5 /* seconds to flush streams on SIGTERM */

static void usage(void)
{
    fprintf(stderr, "usage: xfed-edge [-d] [-n] [-c DIR]\n");
    exit(XFED_EXIT_USAGE);
}

static struct edge_conf *load(const char *dir)
{
    struct conf_report rep;
    conf_report_init(&rep);
    struct edge_conf *ec = edge_conf_load(dir, &rep);
    conf_report_print(&rep, stderr);
    conf_report_clear(&rep);
    return ec;
}

static int check_only(struct edge_conf *ec)
{
    int rc = XFED_EXIT_OK;
    if (ec->tls == NULL) {
        fprintf(stderr, "error: TLS: %s\n", ec->tls_error ? ec->tls_error : "not configured");
        rc = XFED_EXIT_REJECTED;
    }
    char err[256];
    if (edge_metrics_check_listen(ec->local.metrics_listen, err, sizeof(err)) != 0) {
        fprintf(stderr, "error: edge.conf: metrics_listen: %s\n", err);
        rc = XFED_EXIT_REJECTED;
    }
    printf("configuration version %llu: %zu hosted domain(s), %zu partner(s)\n",
           (unsigned long long)ec->conf->version, ec->conf->hosted.n, ec->conf->n_partners);
    printf("certificates: %zu hosted domain(s) with their own in %s, the others %s\n",
           ec->n_domain_certs, ec->local.domain_cert_dir, ec->local.cert_file);
    for (size_t i = 0; i < ec->conf->n_partners; i++) {
        struct s2s_policy p = s2s_policy_of(&ec->conf->partners[i]);
        printf("partner %s: matrix row %d: %s\n", ec->conf->partners[i].domain, s2s_policy_row(&p),
               s2s_policy_describe(&p));
    }
    return rc;
}

/* ---- signals ------------------------------------------------------------ */

static void reload_apply(struct edge *e)
{
    struct conf_report rep;
    conf_report_init(&rep);
    struct edge_conf *ec = edge_conf_load(e->ec->dir, &rep);
    for (size_t i = 0; i < rep.n; i++)
        log_warnx("event=reload %s: %s%s%s", rep.v[i].severity == CONF_ERROR ? "error" : "warning",
                  rep.v[i].file ? rep.v[i].file : "", rep.v[i].file ? ": " : "", rep.v[i].message);
    conf_report_clear(&rep);
    if (ec == NULL) {
        log_warnx("event=reload outcome=refused reason=\"invalid configuration; the running one "
                  "stays\"");
        return;
    }
    if (ec->tls == NULL) {
        log_warnx("event=reload outcome=refused reason=\"TLS: %s\"",
                  ec->tls_error ? ec->tls_error : "not configured");
        edge_conf_free(ec);
        return;
    }
    edge_apply_conf(e, ec);
}

static void reload(struct edge *e)
{
    sd_notify_reloading();
    reload_apply(e);
    /* sd_notify.h: READY=1 once applied, or once refused (the running
     * configuration stays). */
    sd_notify_ready(NULL);
}

static void watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    sd_notify_watchdog();
}

static void stop_check(evutil_socket_t fd, short what, void *arg)
{
    struct edge *e = arg;
    (void)fd;
    (void)what;
    event_base_loopexit(e->base, NULL);
}

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
    struct edge *e = arg;
    (void)what;
    if (sig == SIGHUP) {
        log_info("event=signal signal=HUP");
        reload(e);
        return;
    }
    if (e->stopping)
        return;
    log_info("event=signal signal=%s action=stop", sig == SIGTERM ? "TERM" : "INT");
    sd_notify_stopping();
    e->stopping = true;
    for (size_t i = 0; i < 2; i++) {
        s2s_listen_free(e->listeners[i]);
        e->listeners[i] = NULL;
    }
    s2s_streams_shutdown(e);
    /* Streams flush and free themselves; leave when they are gone or the
     * grace period ends. */
    e->ev_stop = evtimer_new(e->base, stop_check, e);
    struct timeval tv = {e->n_streams ? SHUTDOWN_GRACE : 0, 200000};
    if (e->ev_stop)
        evtimer_add(e->ev_stop, &tv);
    else
        event_base_loopexit(e->base, NULL);
}

/* Streams that read nothing for a while give back their stanza buffers
 * (stanza_pool_idle_sweep()): memory per idle stream, issue 3. Freed
 * blocks sit between live allocations, where glibc's free() never returns
 * pages to the system; malloc_trim() gives back the whole free pages. */
static void idle_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    if (stanza_pool_idle_sweep() > 0) {
#ifdef __GLIBC__
        malloc_trim(0);
#endif
    }
}

int main(int argc, char **argv)
{
    const char *dir = CONF_DEFAULT_DIR;
    bool check = false, debug = false;
    int ch;

    while ((ch = getopt(argc, argv, "c:dn")) != -1) {
        switch (ch) {
        case 'c':
            dir = optarg;
            break;
        case 'd':
            debug = true;
            break;
        case 'n':
            check = true;
            break;
        default:
            usage();
        }
    }
    if (optind != argc)
        usage();
    log_init("xfed-edge", debug ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO, false);

    struct edge_conf *ec = load(dir);
    if (ec == NULL)
        return XFED_EXIT_REJECTED;
    if (check) {
        int rc = check_only(ec);
        edge_conf_free(ec);
        return rc;
    }
    if (ec->tls == NULL) {
        log_warnx("event=start TLS: %s", ec->tls_error ? ec->tls_error : "not configured");
        edge_conf_free(ec);
        return XFED_EXIT_REJECTED;
    }

    char err[512];
    if (s2s_sasl_init(err, sizeof(err)) != 0)
        fatalx("event=start %s", err);
    signal(SIGPIPE, SIG_IGN);

    struct edge e;
    memset(&e, 0, sizeof(e));
    TAILQ_INIT(&e.streams);
    e.ec = ec;
    e.base = event_base_new();
    if (e.base == NULL)
        fatalx("event=start cannot create the event loop");
    if (edge_metrics_init(&e, err, sizeof(err)) != 0)
        fatalx("event=start metrics: %s", err);

    if (ec->local.listen[0]) {
        e.listeners[0] =
            s2s_listen_new(&e, ec->local.listen, ec->local.port, false, err, sizeof(err));
        if (e.listeners[0] == NULL)
            fatalx("event=start %s", err);
    }
    if (ec->local.listen_tls[0]) {
        e.listeners[1] =
            s2s_listen_new(&e, ec->local.listen_tls, ec->local.port_tls, true, err, sizeof(err));
        if (e.listeners[1] == NULL)
            fatalx("event=start %s", err);
    }
    struct s2s_resolver_settings rs;
    s2s_resolver_settings_init(&rs);
    rs.nameserver = ec->local.resolver;
    rs.resolv_conf = ec->local.resolv_conf;
    rs.timeout_ms = ec->local.dns_timeout_ms;
    e.resolver = s2s_resolver_new(e.base, &rs, err, sizeof(err));
    if (e.resolver == NULL)
        fatalx("event=start resolver: %s", err);
    log_info("event=start resolver=%s", s2s_resolver_nameserver(e.resolver));
    if (ec->local.ipc_endpoint[0]) {
        e.ipc = edge_ipc_new(&e, err, sizeof(err));
        if (e.ipc == NULL)
            fatalx("event=start ipc: %s", err);
        log_info("event=start ipc=%s", ec->local.ipc_endpoint);
    }
    if (privdrop_to(ec->local.user, "edge.conf") != 0)
        fatalx("event=start cannot run as the configured user");

    struct event *sig[3];
    int signums[3] = {SIGHUP, SIGTERM, SIGINT};
    for (int i = 0; i < 3; i++) {
        sig[i] = evsignal_new(e.base, signums[i], signal_cb, &e);
        if (sig[i] == NULL || event_add(sig[i], NULL) != 0)
            fatalx("event=start cannot register signal %d", signums[i]);
    }
    log_info("event=start version=%s conf_version=%llu partners=%zu hosted=%zu", XFED_VERSION,
             (unsigned long long)ec->conf->version, ec->conf->n_partners, ec->conf->hosted.n);
    char status[128];
    snprintf(status, sizeof(status), "configuration version %llu, %zu partner(s)",
             (unsigned long long)ec->conf->version, ec->conf->n_partners);
    sd_notify_ready(status);
    uint64_t wd = sd_notify_watchdog_usec();
    if (wd > 0) {
        /* sd_notify.h: from the loop that does the work, at half the
         * timeout, so that a stuck loop is what the watchdog catches. */
        e.ev_watchdog = event_new(e.base, -1, EV_PERSIST, watchdog_cb, NULL);
        struct timeval wtv = {(time_t)(wd / 2 / 1000000), (suseconds_t)(wd / 2 % 1000000)};
        if (e.ev_watchdog == NULL || event_add(e.ev_watchdog, &wtv) != 0)
            log_warnx("event=start cannot arm the watchdog ping");
    }

    if (ec->local.idle_release > 0) {
        stanza_pool_idle_sweep(); /* this thread's pools join the sweeps from now */
        e.ev_idle = event_new(e.base, -1, EV_PERSIST, idle_cb, NULL);
        struct timeval itv = {(time_t)ec->local.idle_release, 0};
        if (e.ev_idle == NULL || event_add(e.ev_idle, &itv) != 0)
            log_warnx("event=start cannot arm the idle sweep");
    }

    int rc = event_base_dispatch(e.base) < 0 ? XFED_EXIT_SYSTEM : XFED_EXIT_OK;

    /* Whatever did not flush in the grace period goes now. */
    while (!TAILQ_EMPTY(&e.streams))
        s2s_stream_free(TAILQ_FIRST(&e.streams), "shutdown");
    edge_ipc_free(e.ipc);
    s2s_resolver_free(e.resolver);
    for (int i = 0; i < 2; i++)
        s2s_listen_free(e.listeners[i]);
    for (int i = 0; i < 3; i++)
        event_free(sig[i]);
    if (e.ev_stop)
        event_free(e.ev_stop);
    if (e.ev_watchdog)
        event_free(e.ev_watchdog);
    if (e.ev_idle)
        event_free(e.ev_idle);
    edge_metrics_free(&e);
    edge_conf_free(e.ec);
    event_base_free(e.base);
    s2s_sasl_done();
    log_info("event=stop");
    return rc;
}
