/*
 * test_s2s_resolver.c - the non-blocking resolver against a real DNS server
 * (dnsmasq on 127.0.0.1, a free high port, started and killed by pid here),
 * plus an in-process hostile nameserver, an unresponsive one and a closed
 * port. Every wait is bounded by a loop timer.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "s2s_resolver.h"

#define MANY_RECORDS 40

static pid_t dnsmasq_pid = -1;
static char dnsmasq_ns[64];
static char logpath[64];
static struct event_base *base;

/* ---- dnsmasq ---------------------------------------------------------------- */

static int free_port(void)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    int u = socket(AF_INET, SOCK_DGRAM, 0), t = socket(AF_INET, SOCK_STREAM, 0);
    int port = -1;

    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (u >= 0 && t >= 0 && bind(u, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(u, (struct sockaddr *)&a, &len) == 0 &&
        bind(t, (struct sockaddr *)&a, sizeof(a)) == 0)
        port = ntohs(a.sin_port);
    if (u >= 0)
        close(u);
    if (t >= 0)
        close(t);
    return port;
}

static bool tcp_ready(int port)
{
    struct sockaddr_in a;
    int s = socket(AF_INET, SOCK_STREAM, 0);
    bool ok;

    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok = s >= 0 && connect(s, (struct sockaddr *)&a, sizeof(a)) == 0;
    if (s >= 0)
        close(s);
    return ok;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void stop_dnsmasq(void)
{
    if (dnsmasq_pid <= 0)
        return;
    kill(dnsmasq_pid, SIGTERM);
    for (int i = 0; i < 100; i++) {
        if (waitpid(dnsmasq_pid, NULL, WNOHANG) == dnsmasq_pid) {
            dnsmasq_pid = -1;
            return;
        }
        sleep_ms(20);
    }
    kill(dnsmasq_pid, SIGKILL);
    waitpid(dnsmasq_pid, NULL, 0);
    dnsmasq_pid = -1;
}

static int start_dnsmasq(void)
{
    static char args[MANY_RECORDS + 40][160];
    char *argv[MANY_RECORDS + 41];
    int port = free_port();
    int n = 0;

    if (port <= 0)
        return -1;
#define ARG(...) snprintf(args[n], sizeof(args[n]), __VA_ARGS__), argv[n] = args[n], n++
    ARG("dnsmasq");
    ARG("--keep-in-foreground");
    ARG("--port=%d", port);
    ARG("--listen-address=127.0.0.1");
    ARG("--bind-interfaces");
    ARG("--no-resolv");
    ARG("--no-hosts");
    ARG("--conf-file=/dev/null");
    ARG("--pid-file=");
    ARG("--local=/test/");
    ARG("--log-facility=-");
    ARG("--log-queries");
    /* srv.test: a direct-TLS record at priority 5, two at 10 (weights 0
     * and 100, so an injected random source decides their order whatever
     * order the reply lists them in), one at 20. */
    ARG("--srv-host=_xmpps-server._tcp.srv.test,d.srv.test,5223,5,0");
    ARG("--srv-host=_xmpp-server._tcp.srv.test,a.srv.test,5269,10,0");
    ARG("--srv-host=_xmpp-server._tcp.srv.test,b.srv.test,5270,10,100");
    ARG("--srv-host=_xmpp-server._tcp.srv.test,c.srv.test,5271,20,0");
    ARG("--host-record=a.srv.test,127.0.0.11,::11");
    ARG("--host-record=b.srv.test,127.0.0.12");
    ARG("--host-record=c.srv.test,127.0.0.13");
    ARG("--host-record=d.srv.test,127.0.0.14");
    /* dot.test: "." target, no fallback (RFC 2782, RFC 6120 3.2.1). */
    ARG("--srv-host=_xmpp-server._tcp.dot.test");
    ARG("--host-record=dot.test,127.0.0.30");
    /* nodirect.test: "." for _xmpps-server only (XEP-0368). */
    ARG("--srv-host=_xmpps-server._tcp.nodirect.test");
    ARG("--srv-host=_xmpp-server._tcp.nodirect.test,x.nodirect.test,5269,0,0");
    ARG("--host-record=x.nodirect.test,127.0.0.40");
    /* fallback.test: no SRV, addresses of the domain on 5269. */
    ARG("--host-record=fallback.test,127.0.0.20,::20");
    /* many.test: more SRV records than fit in 512 octets -> TC -> TCP. */
    for (int i = 0; i < MANY_RECORDS; i++)
        ARG("--srv-host=_xmpp-server._tcp.many.test,host-number-%02d.many.test,%d,%d,1", i,
            6000 + i, i);
#undef ARG
    argv[n] = NULL;

    int logfd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        if (logfd >= 0) {
            dup2(logfd, 1);
            dup2(logfd, 2);
        }
        execvp("dnsmasq", argv);
        execv("/usr/sbin/dnsmasq", argv);
        _exit(127);
    }
    if (logfd >= 0)
        close(logfd);
    dnsmasq_pid = pid;
    for (int i = 0; i < 200; i++) {
        if (waitpid(pid, NULL, WNOHANG) == pid) {
            dnsmasq_pid = -1;
            return -1;
        }
        if (tcp_ready(port)) {
            snprintf(dnsmasq_ns, sizeof(dnsmasq_ns), "127.0.0.1:%d", port);
            return 0;
        }
        sleep_ms(25);
    }
    stop_dnsmasq();
    return -1;
}

static int group_setup(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    snprintf(logpath, sizeof(logpath), "/tmp/xfed-test-dnsmasq-%ld.log", (long)getpid());
    base = event_base_new();
    if (base == NULL)
        return -1;
    for (int attempt = 0; attempt < 3; attempt++)
        if (start_dnsmasq() == 0)
            return 0;
    fprintf(stderr, "cannot start dnsmasq (is it installed? see %s)\n", logpath);
    return -1;
}

static int group_teardown(void **state)
{
    (void)state;
    stop_dnsmasq();
    unlink(logpath);
    event_base_free(base);
    return 0;
}

/* ---- running the loop --------------------------------------------------- */

struct outcome {
    bool done;
    int calls;
    struct s2s_srv_result srv;
    struct s2s_target targets[S2S_DNS_MAX_RECORDS];
    enum s2s_resolve_status status;
    enum s2s_resolve_status srv_status;
    bool has_srv;
    size_t n_ep;
    struct s2s_endpoint ep[64];
    struct s2s_target ep_target[64];
};

static void on_srv(const struct s2s_srv_result *r, void *arg)
{
    struct outcome *o = arg;
    o->calls++;
    o->done = true;
    o->srv = *r;
    for (size_t i = 0; i < r->n_targets && i < S2S_DNS_MAX_RECORDS; i++)
        o->targets[i] = r->targets[i];
    o->srv.targets = o->targets;
}

static void on_addr(const struct s2s_addr_result *r, void *arg)
{
    struct outcome *o = arg;
    o->calls++;
    o->done = true;
    o->status = r->status;
    o->has_srv = r->srv != NULL;
    if (r->srv != NULL)
        o->srv_status = r->srv->status;
    o->n_ep = r->n_endpoints < 64 ? r->n_endpoints : 64;
    for (size_t i = 0; i < o->n_ep; i++) {
        o->ep[i] = r->endpoints[i];
        o->ep_target[i] = *r->endpoints[i].target;
        o->ep[i].target = &o->ep_target[i];
    }
}

static void loop_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    *(bool *)arg = true;
}

/* Runs the loop until *done or ms elapse. Returns the elapsed ms. */
static long run_until(const bool *done, long ms)
{
    bool expired = false;
    struct event *t = evtimer_new(base, loop_timeout, &expired);
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    struct timespec a, b;

    clock_gettime(CLOCK_MONOTONIC, &a);
    evtimer_add(t, &tv);
    while (!*done && !expired)
        event_base_loop(base, EVLOOP_ONCE);
    event_free(t);
    clock_gettime(CLOCK_MONOTONIC, &b);
    return (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
}

static uint32_t always(void *arg)
{
    return *(const uint32_t *)arg;
}

static struct s2s_resolver *resolver_at(const char *ns, unsigned timeout_ms, unsigned retries,
                                        s2s_dns_random_fn *rnd, void *rarg)
{
    struct s2s_resolver_settings s;
    char err[256];

    s2s_resolver_settings_init(&s);
    s.nameserver = ns;
    s.timeout_ms = timeout_ms;
    s.retries = retries;
    s.random = rnd;
    s.random_arg = rarg;
    s.max_targets = 64;
    struct s2s_resolver *r = s2s_resolver_new(base, &s, err, sizeof(err));
    if (r == NULL)
        print_error("s2s_resolver_new: %s\n", err);
    assert_non_null(r);
    return r;
}

static const char *ep_text(const struct s2s_endpoint *e, char *buf, size_t len)
{
    char a[INET6_ADDRSTRLEN];
    if (e->addr.ss_family == AF_INET) {
        const struct sockaddr_in *v4 = (const struct sockaddr_in *)&e->addr;
        inet_ntop(AF_INET, &v4->sin_addr, a, sizeof(a));
        snprintf(buf, len, "%s:%u", a, ntohs(v4->sin_port));
    } else {
        const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)&e->addr;
        inet_ntop(AF_INET6, &v6->sin6_addr, a, sizeof(a));
        snprintf(buf, len, "[%s]:%u", a, ntohs(v6->sin6_port));
    }
    return buf;
}

/* ---- against dnsmasq ------------------------------------------------------ */

static void srv_targets_ordered_by_priority_and_weight(void **state)
{
    (void)state;
    /* r = 0: the weight-0 record (a) wins within priority 10. */
    uint32_t low = 0;
    struct s2s_resolver *r = resolver_at(dnsmasq_ns, 1000, 1, always, &low);
    struct outcome o = {0};
    struct s2s_lookup *l = s2s_resolver_srv(r, "SRV.test", on_srv, &o);
    assert_non_null(l);
    assert_false(o.done); /* never called from inside the start */
    run_until(&o.done, 5000);
    assert_true(o.done);
    assert_int_equal(o.calls, 1);
    assert_int_equal(o.srv.status, S2S_RESOLVE_OK);
    assert_int_equal(o.srv.plan, S2S_PLAN_SRV);
    assert_int_equal(o.srv.n_targets, 4);
    /* XEP-0368: both services merged, xmpps at priority 5 first. */
    assert_string_equal(o.targets[0].host, "d.srv.test");
    assert_int_equal(o.targets[0].port, 5223);
    assert_true(o.targets[0].direct_tls);
    assert_string_equal(o.targets[1].host, "a.srv.test");
    assert_int_equal(o.targets[1].port, 5269);
    assert_false(o.targets[1].direct_tls);
    assert_string_equal(o.targets[2].host, "b.srv.test");
    assert_string_equal(o.targets[3].host, "c.srv.test");
    assert_int_equal(o.targets[3].port, 5271);
    s2s_resolver_free(r);

    /* r = sum: the weight-100 record (b) wins. */
    uint32_t high = 0xffffffffu;
    r = resolver_at(dnsmasq_ns, 1000, 1, always, &high);
    memset(&o, 0, sizeof(o));
    assert_non_null(s2s_resolver_srv(r, "srv.test", on_srv, &o));
    run_until(&o.done, 5000);
    assert_int_equal(o.srv.status, S2S_RESOLVE_OK);
    assert_int_equal(o.srv.n_targets, 4);
    assert_string_equal(o.targets[1].host, "b.srv.test");
    assert_string_equal(o.targets[2].host, "a.srv.test");
    s2s_resolver_free(r);
}

static void resolve_gives_endpoints_in_target_order(void **state)
{
    uint32_t low = 0;
    char t[80];

    (void)state;
    struct s2s_resolver *r = resolver_at(dnsmasq_ns, 1000, 1, always, &low);
    struct outcome o = {0};
    assert_non_null(s2s_resolver_resolve(r, "srv.test", on_addr, &o));
    run_until(&o.done, 5000);
    assert_true(o.done);
    assert_int_equal(o.status, S2S_RESOLVE_OK);
    assert_true(o.has_srv);
    assert_int_equal(o.srv_status, S2S_RESOLVE_OK);
    assert_int_equal(o.n_ep, 5);
    assert_string_equal(ep_text(&o.ep[0], t, sizeof(t)), "127.0.0.14:5223");
    assert_true(o.ep[0].target->direct_tls);
    assert_string_equal(ep_text(&o.ep[1], t, sizeof(t)), "[::11]:5269"); /* IPv6 first */
    assert_string_equal(ep_text(&o.ep[2], t, sizeof(t)), "127.0.0.11:5269");
    assert_string_equal(o.ep[2].target->host, "a.srv.test");
    assert_false(o.ep[2].target->direct_tls);
    assert_string_equal(ep_text(&o.ep[3], t, sizeof(t)), "127.0.0.12:5270");
    assert_string_equal(ep_text(&o.ep[4], t, sizeof(t)), "127.0.0.13:5271");
    s2s_resolver_free(r);
}

static void no_srv_falls_back_to_domain_on_5269(void **state)
{
    char t[80];

    (void)state;
    struct s2s_resolver *r = resolver_at(dnsmasq_ns, 1000, 1, NULL, NULL);
    struct outcome o = {0};
    assert_non_null(s2s_resolver_srv(r, "fallback.test", on_srv, &o));
    run_until(&o.done, 5000);
    assert_int_equal(o.srv.status, S2S_RESOLVE_OK);
    assert_int_equal(o.srv.plan, S2S_PLAN_FALLBACK);
    assert_int_equal(o.srv.n_targets, 1);
    assert_string_equal(o.targets[0].host, "fallback.test");
    assert_int_equal(o.targets[0].port, 5269);
    assert_false(o.targets[0].direct_tls);

    memset(&o, 0, sizeof(o));
    assert_non_null(s2s_resolver_resolve(r, "fallback.test", on_addr, &o));
    run_until(&o.done, 5000);
    assert_int_equal(o.status, S2S_RESOLVE_OK);
    assert_int_equal(o.n_ep, 2);
    assert_string_equal(ep_text(&o.ep[0], t, sizeof(t)), "[::20]:5269");
    assert_string_equal(ep_text(&o.ep[1], t, sizeof(t)), "127.0.0.20:5269");
    s2s_resolver_free(r);
}

static void dot_target_means_unavailable(void **state)
{
    (void)state;
    struct s2s_resolver *r = resolver_at(dnsmasq_ns, 1000, 1, NULL, NULL);
    struct outcome o = {0};
    assert_non_null(s2s_resolver_srv(r, "dot.test", on_srv, &o));
    run_until(&o.done, 5000);
    assert_int_equal(o.srv.status, S2S_RESOLVE_UNAVAILABLE);
    assert_int_equal(o.srv.plan, S2S_PLAN_UNAVAILABLE);
    assert_int_equal(o.srv.n_targets, 0);

    /* No A/AAAA fallback although dot.test has an address. */
    memset(&o, 0, sizeof(o));
    assert_non_null(s2s_resolver_resolve(r, "dot.test", on_addr, &o));
    run_until(&o.done, 5000);
    assert_int_equal(o.status, S2S_RESOLVE_UNAVAILABLE);
    assert_int_equal(o.n_ep, 0);

    /* "." for direct TLS only: the STARTTLS record is used. */
    memset(&o, 0, sizeof(o));
    assert_non_null(s2s_resolver_srv(r, "nodirect.test", on_srv, &o));
    run_until(&o.done, 5000);
    assert_int_equal(o.srv.status, S2S_RESOLVE_OK);
    assert_int_equal(o.srv.n_targets, 1);
    assert_string_equal(o.targets[0].host, "x.nodirect.test");
    assert_false(o.targets[0].direct_tls);
    s2s_resolver_free(r);
}

static void nxdomain_is_not_found(void **state)
{
    (void)state;
    struct s2s_resolver *r = resolver_at(dnsmasq_ns, 1000, 1, NULL, NULL);
    struct outcome o = {0};
    assert_non_null(s2s_resolver_resolve(r, "no-such-domain.test", on_addr, &o));
    run_until(&o.done, 5000);
    assert_true(o.done);
    assert_int_equal(o.status, S2S_RESOLVE_NOT_FOUND);
    assert_int_equal(o.srv_status, S2S_RESOLVE_OK); /* SRV NXDOMAIN: fallback */
    assert_int_equal(o.n_ep, 0);

    memset(&o, 0, sizeof(o));
    assert_non_null(s2s_resolver_addr(r, "no-such-host.test", 5269, false, on_addr, &o));
    run_until(&o.done, 5000);
    assert_int_equal(o.status, S2S_RESOLVE_NOT_FOUND);
    assert_false(o.has_srv);
    s2s_resolver_free(r);
}

static void truncated_udp_answer_retried_over_tcp(void **state)
{
    (void)state;
    struct s2s_resolver *r = resolver_at(dnsmasq_ns, 2000, 1, NULL, NULL);
    struct outcome o = {0};
    assert_non_null(s2s_resolver_srv(r, "many.test", on_srv, &o));
    run_until(&o.done, 8000);
    assert_int_equal(o.srv.status, S2S_RESOLVE_OK);
    /* 40 records do not fit in a 512-octet UDP reply: all of them came,
     * so they came over TCP; and in priority order. */
    assert_int_equal(o.srv.n_targets, MANY_RECORDS);
    for (int i = 0; i < MANY_RECORDS; i++) {
        char want[64];
        snprintf(want, sizeof(want), "host-number-%02d.many.test", i);
        assert_string_equal(o.targets[i].host, want);
        assert_int_equal(o.targets[i].port, 6000 + i);
    }
    s2s_resolver_free(r);
}

static void addr_lookups_and_literals(void **state)
{
    char t[80];

    (void)state;
    struct s2s_resolver *r = resolver_at(dnsmasq_ns, 1000, 1, NULL, NULL);
    struct outcome o = {0};
    assert_non_null(s2s_resolver_addr(r, "a.srv.test", 5299, true, on_addr, &o));
    run_until(&o.done, 5000);
    assert_int_equal(o.status, S2S_RESOLVE_OK);
    assert_int_equal(o.n_ep, 2);
    assert_string_equal(ep_text(&o.ep[0], t, sizeof(t)), "[::11]:5299");
    assert_string_equal(ep_text(&o.ep[1], t, sizeof(t)), "127.0.0.11:5299");
    assert_true(o.ep[0].target->direct_tls);
    assert_string_equal(o.ep[0].target->host, "a.srv.test");

    const char *lit[][2] = {{"192.0.2.1", "192.0.2.1:5269"},
                            {"::1", "[::1]:5269"},
                            {"[2001:db8::5]", "[2001:db8::5]:5269"}};
    for (size_t i = 0; i < 3; i++) {
        memset(&o, 0, sizeof(o));
        assert_non_null(s2s_resolver_addr(r, lit[i][0], 5269, false, on_addr, &o));
        assert_false(o.done);
        run_until(&o.done, 1000);
        assert_int_equal(o.status, S2S_RESOLVE_OK);
        assert_int_equal(o.n_ep, 1);
        assert_string_equal(ep_text(&o.ep[0], t, sizeof(t)), lit[i][1]);
    }
    /* Invalid names are refused at once, without a callback. */
    assert_null(s2s_resolver_addr(r, "bad name", 5269, false, on_addr, &o));
    assert_null(s2s_resolver_addr(r, "[::1", 5269, false, on_addr, &o));
    assert_null(s2s_resolver_addr(r, "a.srv.test", 0, false, on_addr, &o));
    assert_null(s2s_resolver_srv(r, "", on_srv, &o));
    assert_null(s2s_resolver_srv(r, "a..b", on_srv, &o));
    assert_null(s2s_resolver_resolve(r, "*.example.com", on_addr, &o));
    s2s_resolver_free(r);
}

static void cancel_is_safe_at_any_time(void **state)
{
    (void)state;
    struct s2s_resolver *r = resolver_at(dnsmasq_ns, 1000, 1, NULL, NULL);
    struct outcome o1 = {0}, o2 = {0}, o3 = {0};

    /* Before it starts. */
    struct s2s_lookup *l1 = s2s_resolver_resolve(r, "srv.test", on_addr, &o1);
    s2s_lookup_cancel(l1);
    /* While queries are in flight: one loop turn sends them. */
    struct s2s_lookup *l2 = s2s_resolver_resolve(r, "srv.test", on_addr, &o2);
    struct s2s_lookup *l3 = s2s_resolver_srv(r, "srv.test", on_srv, &o3);
    event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
    s2s_lookup_cancel(l2);
    run_until(&o3.done, 5000);
    assert_true(o3.done);
    (void)l3;
    /* Let anything that would still fire fire. */
    bool never = false;
    run_until(&never, 300);
    assert_int_equal(o1.calls, 0);
    assert_int_equal(o2.calls, 0);
    assert_int_equal(o3.calls, 1);
    s2s_lookup_cancel(NULL);

    /* Freeing the resolver with lookups pending calls nothing. */
    struct outcome o4 = {0};
    assert_non_null(s2s_resolver_resolve(r, "srv.test", on_addr, &o4));
    event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
    s2s_resolver_free(r);
    run_until(&never, 300);
    assert_int_equal(o4.calls, 0);
}

/* A callback that cancels itself (a no-op) and starts a new lookup. */
struct chain {
    struct s2s_resolver *r;
    struct s2s_lookup *self;
    struct outcome next;
    bool first_done;
};

static void chain_cb(const struct s2s_srv_result *res, void *arg)
{
    struct chain *c = arg;
    (void)res;
    s2s_lookup_cancel(c->self);
    c->first_done = true;
    assert_non_null(s2s_resolver_srv(c->r, "srv.test", on_srv, &c->next));
}

static void callback_may_cancel_itself_and_start_another(void **state)
{
    (void)state;
    struct chain c = {0};
    c.r = resolver_at(dnsmasq_ns, 1000, 1, NULL, NULL);
    c.self = s2s_resolver_srv(c.r, "dot.test", chain_cb, &c);
    run_until(&c.next.done, 5000);
    assert_true(c.first_done);
    assert_int_equal(c.next.calls, 1);
    assert_int_equal(c.next.srv.status, S2S_RESOLVE_OK);
    s2s_resolver_free(c.r);
}

/* ---- unresponsive and hostile nameservers ------------------------------- */

static int udp_bound(int *port)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);

    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_true(s >= 0);
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(s, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return s;
}

static void silent_server_times_out_bounded(void **state)
{
    int port;
    char ns[64];

    (void)state;
    int s = udp_bound(&port); /* bound, never read: every query is dropped */
    snprintf(ns, sizeof(ns), "127.0.0.1:%d", port);
    struct s2s_resolver *r = resolver_at(ns, 200, 1, NULL, NULL);
    struct outcome o = {0};
    assert_non_null(s2s_resolver_srv(r, "srv.test", on_srv, &o));
    long ms = run_until(&o.done, 5000);
    assert_true(o.done);
    assert_int_equal(o.srv.status, S2S_RESOLVE_TIMEOUT);
    /* RFC 6120 3.2.1 step 9: the fallback target is still offered. */
    assert_int_equal(o.srv.plan, S2S_PLAN_FALLBACK);
    assert_int_equal(o.srv.n_targets, 1);
    /* Two attempts of 200 ms, in parallel for both services. */
    assert_in_range(ms, 350, 2000);

    memset(&o, 0, sizeof(o));
    assert_non_null(s2s_resolver_resolve(r, "srv.test", on_addr, &o));
    ms = run_until(&o.done, 5000);
    assert_int_equal(o.status, S2S_RESOLVE_TIMEOUT);
    assert_int_equal(o.srv_status, S2S_RESOLVE_TIMEOUT);
    assert_in_range(ms, 700, 3000);
    s2s_resolver_free(r);
    close(s);
}

static void closed_port_fails_fast(void **state)
{
    int port;
    char ns[64];

    (void)state;
    int s = udp_bound(&port);
    close(s); /* nothing listens there now: ICMP port unreachable */
    snprintf(ns, sizeof(ns), "127.0.0.1:%d", port);
    struct s2s_resolver *r = resolver_at(ns, 3000, 2, NULL, NULL);
    struct outcome o = {0};
    assert_non_null(s2s_resolver_srv(r, "srv.test", on_srv, &o));
    long ms = run_until(&o.done, 8000);
    assert_true(o.done);
    assert_int_equal(o.srv.status, S2S_RESOLVE_ERROR);
    assert_true(ms < 2000);
    s2s_resolver_free(r);
}

/* An in-process nameserver that answers every A query three times: with a
 * wrong ID, with the right ID but another question, then correctly. */
struct fake {
    int fd;
    struct event *ev;
    int queries;
};

static void fake_cb(evutil_socket_t fd, short what, void *arg)
{
    struct fake *f = arg;
    uint8_t q[512], out[600];
    struct sockaddr_storage from;
    socklen_t fl = sizeof(from);

    (void)what;
    ssize_t n = recvfrom(fd, q, sizeof(q), 0, (struct sockaddr *)&from, &fl);
    if (n < 12)
        return;
    f->queries++;
    size_t qend = 12;
    while (qend < (size_t)n && q[qend] != 0)
        qend += q[qend] + 1;
    qend += 5; /* root label, type, class */
    if (qend > (size_t)n)
        return;
    uint16_t qtype = (uint16_t)((q[qend - 4] << 8) | q[qend - 3]);
    static const uint8_t answer_a[] = {0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 77};

    /* 1: wrong ID */
    memcpy(out, q, qend);
    out[1] ^= 0x55;
    out[2] = 0x81;
    out[3] = 0x80;
    out[7] = qtype == 1 ? 1 : 0;
    size_t len = qend;
    if (qtype == 1) {
        memcpy(out + len, answer_a, sizeof(answer_a));
        len += sizeof(answer_a);
    }
    sendto(fd, out, len, 0, (struct sockaddr *)&from, fl);
    /* 2: right ID, question changed (first label's first letter) */
    out[1] ^= 0x55;
    out[13] ^= 0x01;
    sendto(fd, out, len, 0, (struct sockaddr *)&from, fl);
    /* 3: the real answer */
    out[13] ^= 0x01;
    sendto(fd, out, len, 0, (struct sockaddr *)&from, fl);
}

static void spoofed_replies_are_ignored(void **state)
{
    struct fake f = {0};
    int port;
    char ns[64], t[80];

    (void)state;
    f.fd = udp_bound(&port);
    f.ev = event_new(base, f.fd, EV_READ | EV_PERSIST, fake_cb, &f);
    event_add(f.ev, NULL);
    snprintf(ns, sizeof(ns), "127.0.0.1:%d", port);
    struct s2s_resolver *r = resolver_at(ns, 1000, 0, NULL, NULL);
    struct outcome o = {0};
    assert_non_null(s2s_resolver_addr(r, "host.example.test", 5269, false, on_addr, &o));
    run_until(&o.done, 5000);
    assert_int_equal(o.status, S2S_RESOLVE_OK);
    assert_int_equal(o.n_ep, 1);
    assert_string_equal(ep_text(&o.ep[0], t, sizeof(t)), "127.0.0.77:5269");
    assert_int_equal(f.queries, 2); /* A and AAAA, no retry needed */
    s2s_resolver_free(r);
    event_free(f.ev);
    close(f.fd);
}

/* ---- configuration ---------------------------------------------------------- */

static void nameserver_from_resolv_conf(void **state)
{
    char path[64], err[256];
    struct s2s_resolver_settings s;

    (void)state;
    snprintf(path, sizeof(path), "/tmp/xfed-test-resolv-%ld.conf", (long)getpid());
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("# comment\n; nameserver 10.9.9.9\nsearch example.com\noptions ndots:1\n"
          "nameserver   127.0.0.53  \nnameserver 127.0.0.54\n",
          f);
    fclose(f);
    s2s_resolver_settings_init(&s);
    s.resolv_conf = path;
    struct s2s_resolver *r = s2s_resolver_new(base, &s, err, sizeof(err));
    assert_non_null(r);
    assert_string_equal(s2s_resolver_nameserver(r), "127.0.0.53:53");
    s2s_resolver_free(r);

    f = fopen(path, "w");
    fputs("nameserver ::1\n", f);
    fclose(f);
    r = s2s_resolver_new(base, &s, err, sizeof(err));
    assert_non_null(r);
    assert_string_equal(s2s_resolver_nameserver(r), "[::1]:53");
    s2s_resolver_free(r);

    f = fopen(path, "w");
    fputs("search example.com\nnameserver not-an-address\n", f);
    fclose(f);
    assert_null(s2s_resolver_new(base, &s, err, sizeof(err)));
    assert_non_null(strstr(err, "no valid nameserver"));
    unlink(path);
    assert_null(s2s_resolver_new(base, &s, err, sizeof(err)));
    assert_non_null(strstr(err, path));

    /* Settings win over the file; bad settings are refused. */
    s.nameserver = "[::1]:5353";
    r = s2s_resolver_new(base, &s, err, sizeof(err));
    assert_non_null(r);
    assert_string_equal(s2s_resolver_nameserver(r), "[::1]:5353");
    s2s_resolver_free(r);
    s.nameserver = "example.com";
    assert_null(s2s_resolver_new(base, &s, err, sizeof(err)));
    s.nameserver = "127.0.0.1:99999";
    assert_null(s2s_resolver_new(base, &s, err, sizeof(err)));
    s.nameserver = "127.0.0.1";
    s.timeout_ms = 10;
    assert_null(s2s_resolver_new(base, &s, err, sizeof(err)));
    s.timeout_ms = 0;
    s.retries = 11;
    assert_null(s2s_resolver_new(base, &s, err, sizeof(err)));
    s.retries = 0;
    s.max_targets = 65;
    assert_null(s2s_resolver_new(base, &s, err, sizeof(err)));
    assert_null(s2s_resolver_new(NULL, &s, err, sizeof(err)));
    s2s_resolver_free(NULL);
    assert_string_equal(s2s_resolve_status_name(S2S_RESOLVE_UNAVAILABLE), "unavailable");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(srv_targets_ordered_by_priority_and_weight),
        cmocka_unit_test(resolve_gives_endpoints_in_target_order),
        cmocka_unit_test(no_srv_falls_back_to_domain_on_5269),
        cmocka_unit_test(dot_target_means_unavailable),
        cmocka_unit_test(nxdomain_is_not_found),
        cmocka_unit_test(truncated_udp_answer_retried_over_tcp),
        cmocka_unit_test(addr_lookups_and_literals),
        cmocka_unit_test(cancel_is_safe_at_any_time),
        cmocka_unit_test(callback_may_cancel_itself_and_start_another),
        cmocka_unit_test(silent_server_times_out_bounded),
        cmocka_unit_test(closed_port_fails_fast),
        cmocka_unit_test(spoofed_replies_are_ignored),
        cmocka_unit_test(nameserver_from_resolv_conf),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
