/*
 * test_gw_kamailio.c - gw_sip and gw_pidf against a real Kamailio 5.6
 * (registrar + presence + presence_xml, tests/gateway/kamailio/kamailio.cfg)
 * and real SIP user agents played by sipp (the scenarios in tests/gateway/sipp).
 *
 * The test stands in for xfed-gateway: it listens for SIP over TCP on
 * 127.0.0.2 (Kamailio trusts that source address as the gateway) and opens
 * its own TCP connection to Kamailio from 127.0.0.2. Kamailio listens on
 * 127.0.0.1 on a free port. Everything runs on loopback; Kamailio and every
 * sipp are started here, waited for with bounds and killed by pid; the
 * temporary directory is removed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "gw_address.h"
#include "gw_errors.h"
#include "gw_message.h"
#include "gw_pidf.h"
#include "gw_sip.h"
#include "gw_subscription.h"

#ifndef GW_TEST_DIR
#error GW_TEST_DIR must name tests/gateway
#endif

#define LOCAL_DOMAIN   "contoso.example"
#define PARTNER_DOMAIN "fabrikam.example"
#define KAM_ADDR       "127.0.0.1"
#define GW_ADDR        "127.0.0.2"
#define KAM_DB_SQL     "/usr/share/kamailio/db_sqlite"
#define MAX_CONNS      8

struct conn {
    int fd;
    char buf[65536];
    size_t len;
};

static struct {
    char dir[256];
    pid_t kam;
    int sip_port;
    int listen_fd;
    int gw_port;
    int out_fd; /* our connection to Kamailio */
    struct conn conns[MAX_CONNS];
    size_t n_conns;
    int bob_uas_port, carol_uas_port;
    bool registered;
    bool trouble;
    unsigned seq;
} E;

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void dump_log(const char *name)
{
    char path[512], line[1024];
    snprintf(path, sizeof path, "%s/%s", E.dir, name);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return;
    fprintf(stderr, "---- %s ----\n", name);
    while (fgets(line, sizeof line, f) != NULL)
        fputs(line, stderr);
    fclose(f);
}

#define CHECK(cond, ...)           \
    do {                           \
        if (!(cond)) {             \
            E.trouble = true;      \
            fail_msg(__VA_ARGS__); \
        }                          \
    } while (0)

/* ---- processes ----------------------------------------------------------- */

static pid_t spawn(char *const argv[], const char *logname)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", E.dir, logname);
    pid_t pid = fork();
    if (pid == 0) {
        setpgid(0, 0);
        int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0600);
        int nul = open("/dev/null", O_RDONLY);
        if (fd < 0 || nul < 0 || chdir(E.dir) != 0)
            _exit(127);
        dup2(nul, 0);
        dup2(fd, 1);
        dup2(fd, 2);
        execvp(argv[0], argv);
        _exit(127);
    }
    if (pid > 0)
        setpgid(pid, pid);
    return pid;
}

/* Waits up to ms for pid; on timeout kills its process group and reaps it.
 * Returns the exit status, or -1 on timeout or signal. */
static int wait_pid(pid_t pid, long ms)
{
    long end = now_ms() + ms;
    int st;
    for (;;) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        if (r < 0)
            return -1;
        if (now_ms() >= end)
            break;
        usleep(20000);
    }
    kill(-pid, SIGKILL);
    waitpid(pid, &st, 0);
    return -1;
}

static void stop_pid(pid_t pid)
{
    if (pid <= 0)
        return;
    kill(-pid, SIGTERM);
    if (wait_pid(pid, 5000) == -1)
        kill(-pid, SIGKILL);
}

static pid_t sipp(const char *scenario, int port, const char *log, const char *const *keys)
{
    char sf[512], p[16], remote[64];
    snprintf(sf, sizeof sf, "%s/sipp/%s", GW_TEST_DIR, scenario);
    snprintf(p, sizeof p, "%d", port);
    snprintf(remote, sizeof remote, "%s:%d", KAM_ADDR, E.sip_port);
    char *argv[64];
    size_t n = 0;
    argv[n++] = "sipp";
    argv[n++] = "-sf";
    argv[n++] = sf;
    argv[n++] = "-m";
    argv[n++] = "1";
    argv[n++] = "-i";
    argv[n++] = KAM_ADDR;
    argv[n++] = "-p";
    argv[n++] = p;
    argv[n++] = "-t";
    argv[n++] = "u1";
    argv[n++] = "-timeout";
    argv[n++] = "20s";
    argv[n++] = "-timeout_error";
    argv[n++] = "-nostdin";
    for (size_t i = 0; keys[i] != NULL && n < 58; i += 2) {
        argv[n++] = "-key";
        argv[n++] = (char *)(uintptr_t)keys[i];
        argv[n++] = (char *)(uintptr_t)keys[i + 1];
    }
    argv[n++] = remote;
    argv[n] = NULL;
    return spawn(argv, log);
}

/* ---- sockets ------------------------------------------------------------- */

static int bind_addr(int type, const char *addr, int port)
{
    int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, addr, &sa.sin_addr);
    int one = 1;
    if (type == SOCK_STREAM)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int bound_port(int fd)
{
    struct sockaddr_in sa;
    socklen_t sl = sizeof sa;
    getsockname(fd, (struct sockaddr *)&sa, &sl);
    return ntohs(sa.sin_port);
}

/* A port free for both UDP and TCP on addr. */
static int free_port(const char *addr, bool tcp_too)
{
    for (int i = 0; i < 50; i++) {
        int u = bind_addr(SOCK_DGRAM, addr, 0);
        if (u < 0)
            continue;
        int port = bound_port(u);
        int t = tcp_too ? bind_addr(SOCK_STREAM, addr, port) : 0;
        close(u);
        if (t >= 0) {
            if (tcp_too)
                close(t);
            return port;
        }
    }
    return -1;
}

/* True once something has bound UDP addr:port (we cannot). */
static bool udp_port_taken(int port)
{
    int fd = bind_addr(SOCK_DGRAM, KAM_ADDR, port);
    if (fd >= 0) {
        close(fd);
        return false;
    }
    return errno == EADDRINUSE;
}

static int connect_from_gw(void)
{
    int fd = bind_addr(SOCK_STREAM, GW_ADDR, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)E.sip_port)};
    inet_pton(AF_INET, KAM_ADDR, &sa.sin_addr);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static struct conn *add_conn(int fd)
{
    if (E.n_conns >= MAX_CONNS)
        return NULL;
    struct conn *c = &E.conns[E.n_conns++];
    c->fd = fd;
    c->len = 0;
    return c;
}

static void send_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        CHECK(n > 0, "send: %s", strerror(errno));
        buf += n;
        len -= (size_t)n;
    }
}

/*
 * Returns the next complete SIP message from any connection (accepting
 * new ones from Kamailio on the listener), waiting at most ms. *from
 * receives the connection's fd.
 */
static struct gw_sip_msg *next_msg(long ms, int *from)
{
    long end = now_ms() + ms;
    for (;;) {
        for (size_t i = 0; i < E.n_conns; i++) {
            struct conn *c = &E.conns[i];
            struct gw_sip_frame f;
            int r = gw_sip_frame(c->buf, c->len, NULL, &f);
            CHECK(r >= 0, "bad framing from Kamailio");
            if (r == 1) {
                struct gw_sip_msg *m = NULL;
                const char *why = NULL;
                if (f.msg_len > 0) {
                    m = gw_sip_parse(c->buf + f.msg_off, f.msg_len, NULL, &why);
                    CHECK(m != NULL, "unparsable SIP from Kamailio: %s", why);
                }
                memmove(c->buf, c->buf + f.consumed, c->len - f.consumed);
                c->len -= f.consumed;
                if (m != NULL) {
                    *from = c->fd;
                    return m;
                }
            }
        }
        long left = end - now_ms();
        if (left <= 0)
            return NULL;
        struct pollfd p[MAX_CONNS + 1];
        p[0].fd = E.listen_fd;
        p[0].events = POLLIN;
        for (size_t i = 0; i < E.n_conns; i++) {
            p[i + 1].fd = E.conns[i].fd;
            p[i + 1].events = POLLIN;
        }
        if (poll(p, E.n_conns + 1, (int)left) <= 0)
            continue;
        if (p[0].revents & POLLIN) {
            int fd = accept4(E.listen_fd, NULL, NULL, SOCK_CLOEXEC);
            if (fd >= 0 && add_conn(fd) == NULL)
                close(fd);
        }
        for (size_t i = 0; i < E.n_conns; i++) {
            if (!(p[i + 1].revents & (POLLIN | POLLHUP)))
                continue;
            struct conn *c = &E.conns[i];
            CHECK(c->len < sizeof c->buf, "connection buffer full");
            ssize_t n = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len, 0);
            if (n > 0) {
                c->len += (size_t)n;
            } else if (n == 0 || errno != EINTR) {
                close(c->fd);
                E.conns[i] = E.conns[--E.n_conns];
                break;
            }
        }
    }
}

/* Waits for the final response to our request with this Call-ID and CSeq
 * method; anything else arriving meanwhile is dropped. */
static struct gw_sip_msg *final_response(const char *call_id, const char *method, long ms)
{
    long end = now_ms() + ms;
    for (;;) {
        int fd;
        struct gw_sip_msg *m = next_msg(end - now_ms(), &fd);
        CHECK(m != NULL, "no final response to %s within %ld ms", method, ms);
        if (!gw_sip_is_request(m) && gw_sip_status(m) >= 200 &&
            strcmp(gw_sip_call_id(m), call_id) == 0 && strcmp(gw_sip_cseq_method(m), method) == 0)
            return m;
        gw_sip_msg_free(m);
    }
}

static void answer(int fd, const struct gw_sip_msg *req, int code)
{
    struct gw_sip_response r = {
        .code = code, .to_tag = "gwtest", .expires = -1, .min_expires = -1, .retry_after = -1};
    size_t len;
    const char *why = NULL;
    char *s = gw_sip_response_build(req, &r, &len, &why);
    CHECK(s != NULL, "response build: %s", why);
    send_all(fd, s, len);
    free(s);
}

/* Fills the fields every request from the "gateway" shares. */
static void gw_request(struct gw_sip_request *r, const char *method, char *call_id, char *tag,
                       char *branch)
{
    char tok[24];
    gw_sip_random_token(tok, sizeof tok);
    sprintf(call_id, "%s@gw", tok);
    gw_sip_random_token(tag, 16);
    strcpy(branch, "z9hG4bK");
    gw_sip_random_token(branch + 7, 17);
    memset(r, 0, sizeof *r);
    r->method = method;
    r->call_id = call_id;
    r->from_tag = tag;
    r->cseq = 1;
    r->via_transport = "TCP";
    r->via_host = GW_ADDR;
    r->via_port = (unsigned)E.gw_port;
    r->branch = branch;
    r->max_forwards = -1;
    r->expires = -1;
}

/* ---- setup --------------------------------------------------------------- */

static int exec_sql_file(sqlite3 *db, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", KAM_DB_SQL, name);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    char *sql = calloc(1, 1 << 20);
    size_t n = fread(sql, 1, (1 << 20) - 1, f);
    fclose(f);
    sql[n] = '\0';
    int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    free(sql);
    return rc == SQLITE_OK ? 0 : -1;
}

static char *replace_all(const char *s, const char *from, const char *to)
{
    size_t fl = strlen(from), tl = strlen(to), count = 0;
    for (const char *p = strstr(s, from); p; p = strstr(p + fl, from))
        count++;
    char *out = malloc(strlen(s) + count * (tl + 1) + 1);
    char *o = out;
    for (;;) {
        const char *p = strstr(s, from);
        if (p == NULL)
            break;
        memcpy(o, s, (size_t)(p - s));
        o += p - s;
        memcpy(o, to, tl);
        o += tl;
        s = p + fl;
    }
    strcpy(o, s);
    return out;
}

static int write_config(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/kamailio/kamailio.cfg", GW_TEST_DIR);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    char *cfg = calloc(1, 1 << 16);
    size_t n = fread(cfg, 1, (1 << 16) - 1, f);
    fclose(f);
    cfg[n] = '\0';
    char sp[16], gp[16], db[512];
    snprintf(sp, sizeof sp, "%d", E.sip_port);
    snprintf(gp, sizeof gp, "%d", E.gw_port);
    /* db_sqlite wants sqlite:// followed by the path; an absolute path
     * starts with '/', hence four slashes. */
    snprintf(db, sizeof db, "sqlite:///%s/kamailio.db", E.dir);
    const char *subst[][2] = {
        {"@SIP_ADDR@", KAM_ADDR},
        {"@SIP_PORT@", sp},
        {"@LOCAL_DOMAIN@", LOCAL_DOMAIN},
        {"@PARTNER_DOMAIN@", PARTNER_DOMAIN},
        {"@GW_ADDR@", GW_ADDR},
        {"@GW_PORT@", gp},
        {"@DB_URL@", db},
    };
    for (size_t i = 0; i < sizeof subst / sizeof subst[0]; i++) {
        char *next = replace_all(cfg, subst[i][0], subst[i][1]);
        free(cfg);
        cfg = next;
    }
    snprintf(path, sizeof path, "%s/kamailio.cfg", E.dir);
    f = fopen(path, "w");
    if (f == NULL) {
        free(cfg);
        return -1;
    }
    fputs(cfg, f);
    fclose(f);
    free(cfg);
    return 0;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int group_teardown(void **state)
{
    (void)state;
    for (size_t i = 0; i < E.n_conns; i++)
        close(E.conns[i].fd);
    E.n_conns = 0;
    if (E.listen_fd > 0)
        close(E.listen_fd);
    stop_pid(E.kam);
    if (E.trouble) {
        dump_log("kamailio.log");
        dump_log("sipp.log");
    }
    if (E.dir[0] != '\0')
        nftw(E.dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

static int group_setup(void **state)
{
    (void)state;
    memset(&E, 0, sizeof E);
    E.listen_fd = -1;
    strcpy(E.dir, "/tmp/xfed-gw-kamailio.XXXXXX");
    if (mkdtemp(E.dir) == NULL) {
        E.dir[0] = '\0';
        return -1;
    }
    /* the presence tables, from the Debian package's schema */
    char dbpath[512];
    snprintf(dbpath, sizeof dbpath, "%s/kamailio.db", E.dir);
    sqlite3 *db = NULL;
    if (sqlite3_open(dbpath, &db) != SQLITE_OK || exec_sql_file(db, "standard-create.sql") != 0 ||
        exec_sql_file(db, "presence-create.sql") != 0) {
        fprintf(stderr, "cannot create the Kamailio database from %s\n", KAM_DB_SQL);
        sqlite3_close(db);
        group_teardown(state);
        return -1;
    }
    sqlite3_close(db);

    E.listen_fd = bind_addr(SOCK_STREAM, GW_ADDR, 0);
    if (E.listen_fd < 0 || listen(E.listen_fd, 8) != 0) {
        fprintf(stderr, "cannot listen on %s\n", GW_ADDR);
        group_teardown(state);
        return -1;
    }
    E.gw_port = bound_port(E.listen_fd);
    E.sip_port = free_port(KAM_ADDR, true);
    E.bob_uas_port = free_port(KAM_ADDR, false);
    E.carol_uas_port = free_port(KAM_ADDR, false);
    if (E.sip_port < 0 || write_config() != 0) {
        group_teardown(state);
        return -1;
    }
    char cfg[512], pidf[512];
    snprintf(cfg, sizeof cfg, "%s/kamailio.cfg", E.dir);
    snprintf(pidf, sizeof pidf, "%s/kamailio.pid", E.dir);
    char *argv[] = {"kamailio", "-f", cfg,  "-DD", "-E", "-Y", E.dir, "-P",
                    pidf,       "-m", "64", "-M",  "8",  "-w", E.dir, NULL};
    E.kam = spawn(argv, "kamailio.log");
    /* ready when it answers OPTIONS from the gateway address (bounded) */
    long end = now_ms() + 15000;
    while (now_ms() < end) {
        int st;
        if (waitpid(E.kam, &st, WNOHANG) == E.kam) {
            E.kam = 0;
            fprintf(stderr, "kamailio exited at start\n");
            E.trouble = true;
            group_teardown(state);
            return -1;
        }
        int fd = connect_from_gw();
        if (fd >= 0) {
            E.out_fd = fd;
            add_conn(fd);
            break;
        }
        usleep(100000);
    }
    if (E.out_fd <= 0) {
        fprintf(stderr, "kamailio did not open its TCP port\n");
        E.trouble = true;
        group_teardown(state);
        return -1;
    }
    return 0;
}

/* ---- tests --------------------------------------------------------------- */

static void kamailio_answers_options_from_the_gateway(void **state)
{
    (void)state;
    struct gw_sip_request r;
    char cid[64], tag[16], br[32], uri[128];
    gw_request(&r, "OPTIONS", cid, tag, br);
    snprintf(uri, sizeof uri, "sip:%s:%d;transport=tcp", KAM_ADDR, E.sip_port);
    r.request_uri = uri;
    r.from_uri = "sip:gw@" PARTNER_DOMAIN;
    r.to_uri = uri;
    size_t len;
    char *s = gw_sip_request_build(&r, &len, NULL);
    send_all(E.out_fd, s, len);
    free(s);
    struct gw_sip_msg *m = final_response(cid, "OPTIONS", 5000);
    assert_int_equal(gw_sip_status(m), 200);
    gw_sip_msg_free(m);
}

static void two_users_register_with_sipp(void **state)
{
    (void)state;
    char bp[16], cp[16];
    snprintf(bp, sizeof bp, "%d", E.bob_uas_port);
    snprintf(cp, sizeof cp, "%d", E.carol_uas_port);
    const char *bob[] = {"user", "bob", "domain", LOCAL_DOMAIN, "contact_port", bp, NULL};
    const char *carol[] = {"user", "carol", "domain", LOCAL_DOMAIN, "contact_port", cp, NULL};
    pid_t a = sipp("register.xml", free_port(KAM_ADDR, false), "sipp.log", bob);
    int ra = wait_pid(a, 25000);
    pid_t b = sipp("register.xml", free_port(KAM_ADDR, false), "sipp.log", carol);
    int rb = wait_pid(b, 25000);
    CHECK(ra == 0 && rb == 0, "sipp REGISTER failed: bob %d carol %d", ra, rb);
    E.registered = true;
}

static void message_from_sip_user_is_routed_to_the_gateway(void **state)
{
    (void)state;
    assert_true(E.registered);
    const char *keys[] = {"user",   "carol",
                          "domain", LOCAL_DOMAIN,
                          "peer",   "someone@" PARTNER_DOMAIN,
                          "text",   "Hello from SIP, caf\xc3\xa9",
                          NULL};
    pid_t p = sipp("message_to_partner.xml", free_port(KAM_ADDR, false), "sipp.log", keys);
    int fd;
    struct gw_sip_msg *m = next_msg(15000, &fd);
    CHECK(m != NULL, "no MESSAGE reached the gateway");
    assert_true(gw_sip_is_request(m));
    assert_string_equal(gw_sip_method(m), "MESSAGE");
    assert_int_equal(gw_sip_msg_check(m, NULL), 0);
    /* the addresses map to JIDs (RFC 7247 section 6.4) */
    struct gw_xmpp_addr to, from;
    assert_int_equal(gw_addr_sip_to_xmpp(gw_sip_request_uri(m), &to), GW_ADDR_OK);
    assert_string_equal(to.local, "someone");
    assert_string_equal(to.domain, PARTNER_DOMAIN);
    assert_int_equal(gw_addr_sip_to_xmpp(gw_sip_from_uri(m), &from), GW_ADDR_OK);
    assert_string_equal(from.local, "carol");
    assert_string_equal(from.domain, LOCAL_DOMAIN);
    assert_string_equal(gw_sip_subject(m), "greetings");
    assert_string_equal(gw_sip_content_type(m), "text/plain");
    size_t bl;
    const char *body = gw_sip_body(m, &bl);
    CHECK(bl >= 21 && memcmp(body, "Hello from SIP, caf\xc3\xa9", 21) == 0, "body %.*s", (int)bl,
          body);
    assert_true(gw_sip_max_forwards(m) < 70);
    /* and the whole message maps to an XMPP <message/> (RFC 7572 section 5) */
    struct gw_s2x x;
    assert_int_equal(gw_message_s2x(m, NULL, &x), 0);
    assert_int_equal(x.action, GW_S2X_DELIVER);
    assert_int_equal(x.code, 202);
    assert_string_equal(x.im.to, "someone@" PARTNER_DOMAIN);
    assert_string_equal(x.im.from, "carol@" LOCAL_DOMAIN);
    assert_string_equal(x.im.subject, "greetings");
    assert_string_equal(x.im.thread, gw_sip_call_id(m));
    assert_memory_equal(x.im.body, "Hello from SIP, caf\xc3\xa9", 21);
    gw_s2x_clear(&x);
    answer(fd, m, 202); /* RFC 3428 section 7 */
    gw_sip_msg_free(m);
    int rc = wait_pid(p, 15000);
    CHECK(rc == 0, "the SIP sender did not get the 202 (sipp %d)", rc);
}

static void message_from_gateway_reaches_the_registered_sipp_user(void **state)
{
    (void)state;
    assert_true(E.registered);
    const char *keys[] = {NULL};
    pid_t uas = sipp("uas_message.xml", E.bob_uas_port, "sipp.log", keys);
    long end = now_ms() + 10000;
    while (!udp_port_taken(E.bob_uas_port) && now_ms() < end)
        usleep(50000);
    CHECK(udp_port_taken(E.bob_uas_port), "sipp UAS did not bind");
    /* the XMPP message a partner sent, mapped by gw_message (RFC 7572 s4) */
    struct gw_sip_request r;
    char cid[64], tag[16], br[32];
    gw_request(&r, "MESSAGE", cid, tag, br);
    struct gw_im_in im = {.from = "alice@" PARTNER_DOMAIN "/laptop",
                          .to = "bob@" LOCAL_DOMAIN,
                          .type = "chat",
                          .lang = "en",
                          .body = "Hello from XMPP \xe2\x9c\x93"};
    struct gw_x2s_txn txn = {.via_transport = "TCP",
                             .via_host = GW_ADDR,
                             .via_port = (unsigned)E.gw_port,
                             .branch = br,
                             .from_tag = tag,
                             .call_id_fallback = cid,
                             .cseq = 1};
    struct gw_x2s x;
    assert_int_equal(gw_message_x2s(&im, &txn, NULL, &x), 0);
    CHECK(x.action == GW_X2S_SEND, "x2s: %s", x.reason);
    assert_string_equal(x.request_uri, "sip:bob@" LOCAL_DOMAIN);
    send_all(E.out_fd, x.bytes, x.len);
    gw_x2s_clear(&x);
    struct gw_sip_msg *m = final_response(cid, "MESSAGE", 15000);
    CHECK(gw_sip_status(m) == 200, "MESSAGE to bob got %d", gw_sip_status(m));
    gw_sip_msg_free(m);
    int rc = wait_pid(uas, 15000);
    CHECK(rc == 0, "the sipp UAS did not count the MESSAGE (%d)", rc);
}

static void message_to_unknown_user_maps_to_item_not_found(void **state)
{
    (void)state;
    struct gw_sip_request r;
    char cid[64], tag[16], br[32];
    gw_request(&r, "MESSAGE", cid, tag, br);
    r.request_uri = "sip:nobody@" LOCAL_DOMAIN;
    r.to_uri = "sip:nobody@" LOCAL_DOMAIN;
    r.from_uri = "sip:alice@" PARTNER_DOMAIN;
    r.content_type = "text/plain";
    r.body = "anyone?";
    r.body_len = 7;
    size_t len;
    char *s = gw_sip_request_build(&r, &len, NULL);
    send_all(E.out_fd, s, len);
    free(s);
    struct gw_sip_msg *m = final_response(cid, "MESSAGE", 10000);
    assert_int_equal(gw_sip_status(m), 404);
    struct gw_err_sip_row e;
    assert_true(gw_err_sip_to_xmpp(gw_sip_status(m), &e));
    assert_string_equal(e.condition, "item-not-found");
    assert_string_equal(e.type, "cancel");
    gw_sip_msg_free(m);
}

static void gateway_request_claiming_a_local_domain_is_refused(void **state)
{
    (void)state;
    struct gw_sip_request r;
    char cid[64], tag[16], br[32];
    gw_request(&r, "MESSAGE", cid, tag, br);
    r.request_uri = "sip:bob@" LOCAL_DOMAIN;
    r.to_uri = "sip:bob@" LOCAL_DOMAIN;
    r.from_uri = "sip:mallory@" LOCAL_DOMAIN;
    r.content_type = "text/plain";
    r.body = "spoof";
    r.body_len = 5;
    size_t len;
    char *s = gw_sip_request_build(&r, &len, NULL);
    send_all(E.out_fd, s, len);
    free(s);
    struct gw_sip_msg *m = final_response(cid, "MESSAGE", 10000);
    assert_int_equal(gw_sip_status(m), 403);
    gw_sip_msg_free(m);
}

/* Waits for a NOTIFY in dialog cid, answers it 200 and returns it. */
static struct gw_sip_msg *expect_notify(const char *cid, long ms)
{
    long end = now_ms() + ms;
    for (;;) {
        int fd;
        struct gw_sip_msg *m = next_msg(end - now_ms(), &fd);
        CHECK(m != NULL, "no NOTIFY within %ld ms", ms);
        if (gw_sip_is_request(m) && strcmp(gw_sip_method(m), "NOTIFY") == 0 &&
            strcmp(gw_sip_call_id(m), cid) == 0) {
            answer(fd, m, 200);
            return m;
        }
        gw_sip_msg_free(m);
    }
}

static void subscribe_gets_notify_with_pidf_after_publish(void **state)
{
    (void)state;
    assert_true(E.registered);
    struct gw_sip_request r;
    char cid[64], tag[16], br[32], contact[128];
    gw_request(&r, "SUBSCRIBE", cid, tag, br);
    snprintf(contact, sizeof contact, "sip:alice@%s:%d;transport=tcp", GW_ADDR, E.gw_port);
    r.request_uri = "sip:carol@" LOCAL_DOMAIN;
    r.to_uri = "sip:carol@" LOCAL_DOMAIN;
    r.from_uri = "sip:alice@" PARTNER_DOMAIN;
    r.contact = contact;
    r.event = "presence";
    r.accept = "application/pidf+xml";
    r.expires = 600;
    size_t len;
    char *s = gw_sip_request_build(&r, &len, NULL);
    send_all(E.out_fd, s, len);
    free(s);

    /* 200 and the immediate NOTIFY, in either order (RFC 6665 4.1.2.4) */
    struct gw_sip_msg *ok = NULL, *first = NULL;
    long end = now_ms() + 15000;
    while ((ok == NULL || first == NULL) && now_ms() < end) {
        int fd;
        struct gw_sip_msg *m = next_msg(end - now_ms(), &fd);
        CHECK(m != NULL, "no answer to SUBSCRIBE");
        if (!gw_sip_is_request(m) && strcmp(gw_sip_call_id(m), cid) == 0 &&
            gw_sip_status(m) >= 200) {
            ok = m;
        } else if (gw_sip_is_request(m) && strcmp(gw_sip_method(m), "NOTIFY") == 0 &&
                   strcmp(gw_sip_call_id(m), cid) == 0) {
            answer(fd, m, 200);
            first = m;
        } else {
            gw_sip_msg_free(m);
        }
    }
    CHECK(ok != NULL && first != NULL, "SUBSCRIBE: 200 %p NOTIFY %p", (void *)ok, (void *)first);
    CHECK(gw_sip_status(ok) == 200, "SUBSCRIBE answered %d", gw_sip_status(ok));
    assert_true(gw_sip_expires(ok) > 0 && gw_sip_expires(ok) <= 600);
    struct gw_sip_substate ss;
    assert_int_equal(gw_sip_substate(first, &ss), 0);
    assert_int_equal(ss.state, GW_SUBSTATE_ACTIVE); /* force_active=1 */
    assert_string_equal(gw_sip_event(first), "presence");
    assert_string_equal(gw_sip_to_tag(first), tag); /* RFC 6665 4.4.1 matching */
    gw_sip_msg_free(ok);

    /* carol publishes; the presence module notifies with her PIDF */
    const char *keys[] = {"user", "carol", "domain", LOCAL_DOMAIN, NULL};
    pid_t p = sipp("publish.xml", free_port(KAM_ADDR, false), "sipp.log", keys);
    int rc = wait_pid(p, 15000);
    CHECK(rc == 0, "sipp PUBLISH failed (%d)", rc);
    struct gw_sip_msg *n = NULL;
    size_t bl = 0;
    end = now_ms() + 15000;
    while (bl == 0) {
        gw_sip_msg_free(n);
        n = expect_notify(cid, end - now_ms());
        gw_sip_body(n, &bl);
    }
    assert_string_equal(gw_sip_content_type(n), "application/pidf+xml");
    const char *why = NULL;
    struct gw_pidf *doc = gw_pidf_parse(gw_sip_body(n, NULL), bl, NULL, &why);
    CHECK(doc != NULL, "Kamailio's PIDF did not parse: %s", why);
    struct gw_presence pres;
    gw_pidf_to_presence(doc, true, &pres);
    assert_true(pres.available);
    assert_int_equal(pres.show, GW_SHOW_AWAY);
    assert_string_equal(pres.status, "In a meeting until noon");
    assert_true(pres.has_priority);
    assert_int_equal(pres.priority, 102);
    gw_pidf_free(doc);

    /* unsubscribe in the dialog (RFC 6665 4.1.2.3): Request-URI is the
     * NOTIFY's Contact, Route from its Record-Route (reversed), CSeq + 1 */
    const char *routes[8];
    size_t nr = gw_sip_record_route_count(n);
    for (size_t i = 0; i < nr && i < 8; i++)
        routes[i] = gw_sip_record_route(n, nr - 1 - i);
    char br2[32];
    strcpy(br2, "z9hG4bK");
    gw_sip_random_token(br2 + 7, 17);
    r.request_uri = gw_sip_contact_uri(n);
    r.to_tag = gw_sip_from_tag(n);
    r.cseq = 2;
    r.branch = br2;
    r.expires = 0;
    r.routes = routes;
    r.n_routes = nr < 8 ? nr : 8;
    s = gw_sip_request_build(&r, &len, &why);
    CHECK(s != NULL, "in-dialog SUBSCRIBE: %s", why);
    send_all(E.out_fd, s, len);
    free(s);
    gw_sip_msg_free(first);
    bool got200 = false, terminated = false;
    end = now_ms() + 15000;
    while ((!got200 || !terminated) && now_ms() < end) {
        int fd;
        struct gw_sip_msg *m = next_msg(end - now_ms(), &fd);
        CHECK(m != NULL, "unsubscribe: 200 %d terminated %d", got200, terminated);
        if (!gw_sip_is_request(m) && strcmp(gw_sip_call_id(m), cid) == 0 && gw_sip_cseq(m) == 2) {
            CHECK(gw_sip_status(m) == 200, "unsubscribe answered %d", gw_sip_status(m));
            got200 = true;
        } else if (gw_sip_is_request(m) && strcmp(gw_sip_method(m), "NOTIFY") == 0) {
            answer(fd, m, 200);
            if (gw_sip_substate(m, &ss) == 0 && ss.state == GW_SUBSTATE_TERMINATED)
                terminated = true;
        }
        gw_sip_msg_free(m);
    }
    CHECK(got200 && terminated, "unsubscribe: 200 %d terminated %d", got200, terminated);
    gw_sip_msg_free(n);
}

/* The gateway as notifier (S2X): carries out the state machine's actions
 * for the SIP watcher's dialog. sub_msg is the watcher's SUBSCRIBE. */
static void s2x_actions(struct gw_sub *s, const struct gw_sub_actions *a, int fd,
                        const struct gw_sip_msg *sub_msg, const char *contact,
                        const struct gw_presence *current)
{
    for (size_t i = 0; i < a->n; i++) {
        const struct gw_sub_action *x = &a->a[i];
        if (x->kind == GW_ACT_REPLY) {
            struct gw_sip_response r = {.code = x->code,
                                        .to_tag = s->local_tag,
                                        .contact = contact,
                                        .expires = x->expires,
                                        .min_expires = x->min_expires,
                                        .retry_after = -1};
            size_t len;
            char *b = gw_sip_response_build(sub_msg, &r, &len, NULL);
            CHECK(b != NULL, "reply build");
            send_all(fd, b, len);
            free(b);
        } else if (x->kind == GW_ACT_SEND_NOTIFY) {
            char ss[64], br[32], *from = NULL;
            if (x->ns == GW_NS_TERMINATED)
                snprintf(ss, sizeof ss, "terminated;reason=%s", x->reason);
            else
                snprintf(ss, sizeof ss, "%s;expires=%u",
                         x->ns == GW_NS_ACTIVE ? "active" : "pending", x->expires);
            strcpy(br, "z9hG4bK");
            gw_sip_random_token(br + 7, 17);
            char *pidf = NULL;
            size_t plen = 0;
            if (x->body != GW_BODY_NONE)
                pidf = gw_pidf_build(s->xmpp, current, 1, true, &plen);
            const char *routes[8];
            size_t nr = gw_sip_record_route_count(sub_msg);
            for (size_t k = 0; k < nr && k < 8; k++)
                routes[k] = gw_sip_record_route(sub_msg, k); /* UAS: in order */
            CHECK(gw_addr_xmpp_to_sip(s->xmpp, false, &from) == GW_ADDR_OK, "map %s", s->xmpp);
            struct gw_sip_request r = {.method = "NOTIFY",
                                       .request_uri = s->remote_target,
                                       .from_uri = from,
                                       .from_tag = s->local_tag,
                                       .to_uri = s->sip,
                                       .to_tag = s->remote_tag,
                                       .call_id = s->call_id,
                                       .cseq = s->local_cseq,
                                       .via_transport = "TCP",
                                       .via_host = GW_ADDR,
                                       .via_port = (unsigned)E.gw_port,
                                       .branch = br,
                                       .contact = contact,
                                       .routes = routes,
                                       .n_routes = nr < 8 ? nr : 8,
                                       .max_forwards = -1,
                                       .event = "presence",
                                       .expires = -1,
                                       .subscription_state = ss,
                                       .content_type = pidf ? "application/pidf+xml" : NULL,
                                       .body = pidf,
                                       .body_len = plen};
            size_t len;
            const char *why = NULL;
            char *b = gw_sip_request_build(&r, &len, &why);
            CHECK(b != NULL, "NOTIFY build: %s", why);
            usleep(100000); /* let the 200 to the SUBSCRIBE go first over UDP */
            send_all(E.out_fd, b, len);
            free(b);
            free(pidf);
            free(from);
            struct gw_sip_msg *m = final_response(s->call_id, "NOTIFY", 10000);
            CHECK(gw_sip_status(m) == 200, "NOTIFY answered %d", gw_sip_status(m));
            gw_sip_msg_free(m);
        }
    }
}

static void sip_watcher_of_an_xmpp_user_is_served_by_the_gateway(void **state)
{
    (void)state;
    assert_true(E.registered);
    const char *keys[] = {"user", "carol", "domain", LOCAL_DOMAIN, "peer", "juliet@" PARTNER_DOMAIN,
                          NULL};
    pid_t p = sipp("subscribe_watch.xml", free_port(KAM_ADDR, false), "sipp.log", keys);
    int fd;
    struct gw_sip_msg *m = NULL;
    long end = now_ms() + 15000;
    while (m == NULL && now_ms() < end) {
        m = next_msg(end - now_ms(), &fd);
        CHECK(m != NULL, "no SUBSCRIBE reached the gateway");
        if (!gw_sip_is_request(m) || strcmp(gw_sip_method(m), "SUBSCRIBE") != 0) {
            gw_sip_msg_free(m);
            m = NULL;
        }
    }
    assert_int_equal(gw_sip_msg_check(m, NULL), 0);
    assert_string_equal(gw_sip_event(m), "presence");
    assert_true(gw_sip_accepts(m, "application/pidf+xml", true));
    assert_true(gw_sip_record_route_count(m) >= 1); /* Kamailio stays in the path */
    struct gw_xmpp_addr presentity;
    assert_int_equal(gw_addr_sip_to_xmpp(gw_sip_request_uri(m), &presentity), GW_ADDR_OK);
    char jid[512];
    gw_addr_xmpp_format(&presentity, false, jid, sizeof jid);
    assert_string_equal(jid, "juliet@" PARTNER_DOMAIN);

    static struct gw_sub sub;
    assert_int_equal(gw_sub_init(&sub, GW_SUB_S2X, jid, gw_sip_from_uri(m), false), 0);
    char tag[16], contact[128];
    gw_sip_random_token(tag, sizeof tag);
    snprintf(contact, sizeof contact, "sip:juliet@%s:%d;transport=tcp", GW_ADDR, E.gw_port);
    struct gw_sub_event e = {.kind = GW_EV_SIP_SUBSCRIBE,
                             .now = time(NULL),
                             .expires = gw_sip_expires(m),
                             .min_expires = -1,
                             .ns_expires = -1,
                             .retry_after = -1,
                             .cseq = gw_sip_cseq(m),
                             .remote_tag = gw_sip_from_tag(m),
                             .remote_target = gw_sip_contact_uri(m),
                             .new_call_id = gw_sip_call_id(m),
                             .new_tag = tag};
    struct gw_sub_actions a;
    assert_int_equal(gw_sub_handle(&sub, NULL, &e, &a), 0);
    struct gw_presence cur = {.available = true};
    strcpy(cur.status, "Out walking");
    strcpy(cur.lang, "en");
    strcpy(cur.resource, "phone");
    /* 200 and NOTIFY pending; <presence type='subscribe'/> would go to XMPP */
    s2x_actions(&sub, &a, fd, m, contact, &cur);
    assert_int_equal(sub.state, GW_SUB_PENDING);
    /* the XMPP user approves, then sends presence */
    e.kind = GW_EV_XMPP_SUBSCRIBED;
    assert_int_equal(gw_sub_handle(&sub, NULL, &e, &a), 0);
    s2x_actions(&sub, &a, fd, m, contact, &cur);
    e.kind = GW_EV_XMPP_AVAILABLE;
    assert_int_equal(gw_sub_handle(&sub, NULL, &e, &a), 0);
    s2x_actions(&sub, &a, fd, m, contact, &cur);
    assert_int_equal(sub.state, GW_SUB_ACTIVE);
    assert_int_equal(sub.local_cseq, 3);
    gw_sip_msg_free(m);
    int rc = wait_pid(p, 15000);
    CHECK(rc == 0, "the sipp watcher did not get 200, pending, active and the PIDF (%d)", rc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(kamailio_answers_options_from_the_gateway),
        cmocka_unit_test(two_users_register_with_sipp),
        cmocka_unit_test(message_from_sip_user_is_routed_to_the_gateway),
        cmocka_unit_test(message_from_gateway_reaches_the_registered_sipp_user),
        cmocka_unit_test(message_to_unknown_user_maps_to_item_not_found),
        cmocka_unit_test(gateway_request_claiming_a_local_domain_is_refused),
        cmocka_unit_test(subscribe_gets_notify_with_pidf_after_publish),
        cmocka_unit_test(sip_watcher_of_an_xmpp_user_is_served_by_the_gateway),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
