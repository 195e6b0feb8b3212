/*
 * gw_main.c - xfed-gateway: the internal-side daemon translating between
 * the partners' XMPP users (through the edges) and the internal SIP
 * server. The entry always runs the same steps (OpenSMTPD's habit): load
 * and validate the configuration, bind the SIP listener and open the IPC
 * channels, drop privileges, open the state database, register the
 * signal and timer events, run the loop.
 *
 * Usage: xfed-gateway [-d] [-n] [-c DIR]
 *   -c DIR  configuration directory (default /etc/xfed): xfed.conf,
 *           gateway.conf, keys/
 *   -n      check the configuration and exit (0 valid, 1 rejected)
 *   -d      debug logging; logs always go to stderr (foreground)
 * Signals: SIGHUP reloads gateway.conf and xfed.conf (load, validate,
 * swap; listener, next hop, edges, keys, database and user change at
 * restart only); xfed.conf is also checked for a change every
 * conf_check_ms and pushed to the edges when its version moves. SIGTERM
 * and SIGINT stop cleanly.
 * Exit codes (common/exitcodes.h): 0 ok, 1 configuration rejected, 2 usage,
 * 3 system failure.
 */
#include <errno.h>
#include <event2/event.h>
#include <libgen.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf_report.h"
#include "exitcodes.h"
#include "gw_conf.h"
#include "gw_router.h"
#include "gw_store_open.h"
#include "ipc_keys.h"
#include "log.h"
#include "privdrop.h"
#include "sd_notify.h"

struct gw_daemon {
    struct event_base *base;
    struct gw_conf *gc;
    struct gw_router *router;
    struct event *conf_timer, *watchdog;
    struct stat failed_stat; /* xfed.conf as it was when a reload failed */
    bool stopping;
};

static void usage(void)
{
    fprintf(stderr, "usage: xfed-gateway [-d] [-n] [-c DIR]\n");
    exit(XFED_EXIT_USAGE);
}

static struct gw_conf *load(const char *dir, bool to_log)
{
    struct conf_report rep;
    conf_report_init(&rep);
    struct gw_conf *gc = gw_conf_load(dir, &rep);
    if (to_log) {
        for (size_t i = 0; i < rep.n; i++)
            log_warnx("event=reload %s: %s%s%s%s%s",
                      rep.v[i].severity == CONF_ERROR ? "error" : "warning",
                      rep.v[i].file ? rep.v[i].file : "", rep.v[i].file ? ": " : "", rep.v[i].field,
                      rep.v[i].field[0] ? ": " : "", rep.v[i].message);
    } else {
        conf_report_print(&rep, stderr);
    }
    conf_report_clear(&rep);
    return gc;
}

static int check_only(const struct gw_conf *gc)
{
    struct ipc_keypair kp;
    if (ipc_keys_load_pair(gc->key_dir, gc->key_base, &kp) != 0) {
        fprintf(stderr, "error: cannot load the gateway key pair %s/%s.key/.pub: %s\n", gc->key_dir,
                gc->key_base, strerror(errno));
        return XFED_EXIT_REJECTED;
    }
    ipc_keypair_wipe(&kp);
    printf("configuration version %llu: %zu hosted domain(s), %zu partner(s)\n",
           (unsigned long long)gc->conf->version, gc->conf->hosted.n, gc->conf->n_partners);
    printf("sip next hop %s:%u over %s, listener %s:%u, contact host %s\n", gc->next_hop_host,
           gc->next_hop_port, gc->tls ? "tls" : "tcp",
           gc->local.sip_listen[0] ? gc->local.sip_listen : "(none)", gc->local.sip_port,
           gc->contact_host);
    for (size_t i = 0; i < gc->n_edges; i++)
        printf("edge %s\n", gc->edges[i].endpoint);
    char store[600];
    gw_store_spec_describe(gc->local.state_db, store, sizeof store);
    printf("state database %s\n", store);
    return XFED_EXIT_OK;
}

/* ---- reload ------------------------------------------------------------- */

static void apply(struct gw_daemon *g, struct gw_conf *gc, bool force_push)
{
    if (gw_conf_needs_restart(g->gc, gc))
        log_warnx("event=reload listener, next hop, edges, keys, database and user change at "
                  "restart only");
    struct gw_conf *old = g->gc;
    g->gc = gc;
    gw_router_set_conf(g->router, gc, force_push);
    log_info("event=reload version=%llu partners=%zu hosted=%zu",
             (unsigned long long)gc->conf->version, gc->conf->n_partners, gc->conf->hosted.n);
    gw_conf_free(old);
}

static void reload(struct gw_daemon *g, bool force_push)
{
    sd_notify_reloading();
    struct gw_conf *gc = load(g->gc->dir, true);
    if (gc == NULL) {
        log_warnx("event=reload outcome=refused reason=\"invalid configuration; the running one "
                  "stays\"");
        if (stat(g->gc->conf_path, &g->failed_stat) != 0)
            memset(&g->failed_stat, 0, sizeof(g->failed_stat));
    } else {
        apply(g, gc, force_push);
    }
    sd_notify_ready(NULL);
}

static void conf_check_cb(evutil_socket_t fd, short what, void *arg)
{
    struct gw_daemon *g = arg;
    (void)fd;
    (void)what;
    if (!gw_conf_plane_changed(g->gc))
        return;
    const char *path = g->gc->conf_path;
    struct stat st;
    if (stat(path, &st) == 0 && st.st_ino == g->failed_stat.st_ino &&
        st.st_size == g->failed_stat.st_size &&
        st.st_mtim.tv_sec == g->failed_stat.st_mtim.tv_sec &&
        st.st_mtim.tv_nsec == g->failed_stat.st_mtim.tv_nsec)
        return; /* the same broken file: already reported */
    log_info("event=conf-changed file=%s", path);
    reload(g, false);
}

static void watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    sd_notify_watchdog();
}

static void stop_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    event_base_loopexit(arg, NULL);
}

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
    struct gw_daemon *g = arg;
    (void)what;
    if (sig == SIGHUP) {
        log_info("event=signal signal=HUP");
        reload(g, true);
        return;
    }
    if (g->stopping)
        return;
    g->stopping = true;
    log_info("event=signal signal=%s action=stop", sig == SIGTERM ? "TERM" : "INT");
    sd_notify_stopping();
    /* One short turn of the loop flushes answers already queued. */
    struct timeval tv = {0, 100000};
    event_base_once(g->base, -1, EV_TIMEOUT, stop_cb, g->base, &tv);
}

/* ---- privileges --------------------------------------------------------- */

/* SQLite: creates the state database's directory if missing, owned by the user
 * the daemon will run as. */
static int prepare_state_dir(const struct gw_conf *gc)
{
    const char *path;
    enum gw_store_kind kind;
    if (gw_store_spec_parse(gc->local.state_db, &kind, &path, NULL) != 0 || kind != GW_STORE_SQLITE)
        return 0; /* PostgreSQL: no directory here */
    char *copy = strdup(path);
    if (copy == NULL)
        return -1;
    char *dir = dirname(copy);
    struct stat st;
    int rc = 0;
    if (stat(dir, &st) != 0) {
        /* one level of parents is enough for /var/lib/xfed/gateway */
        char *pcopy = strdup(dir);
        if (pcopy) {
            mkdir(dirname(pcopy), 0755);
            free(pcopy);
        }
        if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
            log_warn("event=start cannot create %s", dir);
            rc = -1;
        }
    }
    if (rc == 0 && getuid() == 0 && gc->local.user && gc->local.user[0]) {
        struct passwd *pw = getpwnam(gc->local.user);
        if (pw && chown(dir, pw->pw_uid, pw->pw_gid) != 0)
            log_warn("event=start cannot give %s to %s", dir, gc->local.user);
    }
    free(copy);
    return rc;
}

int main(int argc, char **argv)
{
    const char *dir = "/etc/xfed";
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
    log_init("xfed-gateway", debug ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO, false);

    struct gw_daemon g;
    memset(&g, 0, sizeof(g));
    g.gc = load(dir, false);
    if (g.gc == NULL)
        return XFED_EXIT_REJECTED;
    if (check) {
        int rc = check_only(g.gc);
        gw_conf_free(g.gc);
        return rc;
    }
    signal(SIGPIPE, SIG_IGN);
    g.base = event_base_new();
    if (g.base == NULL)
        fatalx("event=start cannot create the event loop");
    if (prepare_state_dir(g.gc) != 0)
        fatalx("event=start the state database directory is not usable");

    char err[512];
    g.router = gw_router_new(g.base, g.gc, err, sizeof(err));
    if (g.router == NULL)
        fatalx("event=start %s", err);
    if (privdrop_to(g.gc->local.user, "gateway.conf") != 0)
        fatalx("event=start cannot run as the configured user");
    if (gw_router_start(g.router, err, sizeof(err)) != 0)
        fatalx("event=start %s", err);

    struct event *sig[3];
    int signums[3] = {SIGHUP, SIGTERM, SIGINT};
    for (int i = 0; i < 3; i++) {
        sig[i] = evsignal_new(g.base, signums[i], signal_cb, &g);
        if (sig[i] == NULL || event_add(sig[i], NULL) != 0)
            fatalx("event=start cannot register signal %d", signums[i]);
    }
    g.conf_timer = event_new(g.base, -1, EV_PERSIST, conf_check_cb, &g);
    struct timeval ctv = {(time_t)(g.gc->local.conf_check_ms / 1000),
                          (suseconds_t)((g.gc->local.conf_check_ms % 1000) * 1000)};
    if (g.conf_timer == NULL || event_add(g.conf_timer, &ctv) != 0)
        fatalx("event=start cannot arm the configuration check");

    log_info("event=start version=%s conf_version=%llu partners=%zu hosted=%zu", XFED_VERSION,
             (unsigned long long)g.gc->conf->version, g.gc->conf->n_partners, g.gc->conf->hosted.n);
    char status[256];
    gw_router_status(g.router, status, sizeof(status));
    sd_notify_ready(status);
    uint64_t wd = sd_notify_watchdog_usec();
    if (wd > 0) {
        g.watchdog = event_new(g.base, -1, EV_PERSIST, watchdog_cb, NULL);
        struct timeval wtv = {(time_t)(wd / 2 / 1000000), (suseconds_t)(wd / 2 % 1000000)};
        if (g.watchdog == NULL || event_add(g.watchdog, &wtv) != 0)
            log_warnx("event=start cannot arm the watchdog ping");
    }

    int rc = event_base_dispatch(g.base) < 0 ? XFED_EXIT_SYSTEM : XFED_EXIT_OK;

    gw_router_free(g.router);
    for (int i = 0; i < 3; i++)
        event_free(sig[i]);
    event_free(g.conf_timer);
    if (g.watchdog)
        event_free(g.watchdog);
    gw_conf_free(g.gc);
    event_base_free(g.base);
    log_info("event=stop");
    return rc;
}
