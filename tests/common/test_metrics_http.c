/*
 * test_metrics_http.c - GET /metrics over real HTTP on loopback: the
 * endpoint runs on a libevent loop in this process, and each case talks
 * to it through a plain non-blocking socket while turning the loop, so
 * what is checked is the bytes on the wire (status line, headers, body),
 * with every wait bounded.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "metrics.h"
#include "metrics_http.h"

#define WAIT_MS 5000

struct fixture {
    struct event_base *base;
    struct metrics *reg;
    struct metrics_http *http;
    struct metric *hits;
    int collects;
};

struct response {
    int status;
    char *raw; /* whole response, NUL-terminated */
    size_t len;
    const char *body; /* into raw */
    size_t body_len;
    bool eof; /* the server closed the connection */
};

static void on_collect(struct metrics *reg, void *arg)
{
    struct fixture *fx = arg;
    fx->collects++;
    metric_set(metrics_gauge(reg, "xfed_test_collects"), fx->collects);
}

static struct metrics_http *serve(struct fixture *fx, const char *listen, unsigned timeout_s)
{
    struct metrics_http_settings s;
    metrics_http_settings_init(&s);
    s.listen = listen;
    if (timeout_s)
        s.timeout_s = timeout_s;
    char err[256];
    struct metrics_http *h = metrics_http_new(fx->base, fx->reg, &s, err, sizeof(err));
    if (h == NULL)
        print_message("metrics_http_new(%s): %s\n", listen, err);
    return h;
}

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    assert_non_null(fx);
    fx->base = event_base_new();
    assert_non_null(fx->base);
    fx->reg = metrics_new("xfed-test", NULL);
    assert_non_null(fx->reg);
    static const char *const l[] = {"partner", NULL};
    assert_int_equal(metrics_define(fx->reg, METRIC_COUNTER, "xfed_test_hits_total",
                                    "Hits with \"quotes\" and a \\.", l),
                     0);
    assert_int_equal(metrics_define(fx->reg, METRIC_GAUGE, "xfed_test_collects", "Scrapes.", NULL),
                     0);
    fx->hits = metrics_counter(fx->reg, "xfed_test_hits_total", "partner", "fabrikam.example");
    metric_add(fx->hits, 41);
    metric_inc(metrics_counter(fx->reg, "xfed_test_hits_total", "partner", "we\"ird\\one\nx"));
    assert_int_equal(metrics_on_collect(fx->reg, on_collect, fx), 0);
    fx->http = serve(fx, "127.0.0.1:0", 0);
    assert_non_null(fx->http);
    assert_true(metrics_http_port(fx->http) != 0);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    metrics_http_free(fx->http);
    metrics_free(fx->reg);
    event_base_free(fx->base);
    free(fx);
    return 0;
}

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int connect_to(int family, uint16_t port)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    socklen_t len;
    if (family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons(port);
        a->sin6_addr = in6addr_loopback;
        len = sizeof(*a);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_port = htons(port);
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        len = sizeof(*a);
    }
    int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    int rc = connect(fd, (struct sockaddr *)&ss, len);
    assert_true(rc == 0 || errno == EINPROGRESS);
    return fd;
}

static void parse_response(struct response *r)
{
    r->status = 0;
    r->body = NULL;
    if (sscanf(r->raw, "HTTP/1.%*d %d ", &r->status) != 1)
        return;
    const char *end = strstr(r->raw, "\r\n\r\n");
    if (end) {
        r->body = end + 4;
        r->body_len = r->len - (size_t)(r->body - r->raw);
    }
}

/* Sends req (len bytes) on fd, turning the loop until the server closes
 * the connection, want_bytes of response arrived (0: wait for the close)
 * or WAIT_MS pass. */
static struct response talk_fd(struct fixture *fx, int fd, const char *req, size_t len,
                               size_t want_bytes)
{
    struct response r = {0};
    size_t cap = 1 << 16, sent = 0;
    r.raw = malloc(cap);
    assert_non_null(r.raw);
    long deadline = now_ms() + WAIT_MS;
    while (now_ms() < deadline) {
        event_base_loop(fx->base, EVLOOP_NONBLOCK);
        if (sent < len) {
            ssize_t k = send(fd, req + sent, len - sent, MSG_NOSIGNAL);
            if (k > 0)
                sent += (size_t)k;
            else if (k < 0 && errno != EAGAIN && errno != ENOTCONN)
                sent = len; /* refused part-way: read what came back */
        }
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 2) <= 0)
            continue;
        if (r.len + 4096 + 1 > cap) {
            cap *= 2;
            r.raw = realloc(r.raw, cap);
            assert_non_null(r.raw);
        }
        ssize_t k = recv(fd, r.raw + r.len, cap - r.len - 1, 0);
        if (k > 0) {
            r.len += (size_t)k;
            if (want_bytes && r.len >= want_bytes)
                break;
        } else if (k == 0 || (errno != EAGAIN && errno != EINTR)) {
            r.eof = true;
            break;
        }
    }
    r.raw[r.len] = '\0';
    parse_response(&r);
    return r;
}

static struct response talk(struct fixture *fx, const char *req, size_t len)
{
    int fd = connect_to(AF_INET, metrics_http_port(fx->http));
    struct response r = talk_fd(fx, fd, req, len, 0);
    close(fd);
    return r;
}

static struct response talk_str(struct fixture *fx, const char *req)
{
    return talk(fx, req, strlen(req));
}

/* The value of header name in r, or NULL; copied into buf. */
static const char *header(const struct response *r, const char *name, char *buf, size_t cap)
{
    size_t n = strlen(name);
    for (const char *p = strstr(r->raw, "\r\n"); p && p + 2 < (r->body ? r->body : r->raw + r->len);
         p = strstr(p + 2, "\r\n")) {
        const char *h = p + 2;
        if (strncasecmp(h, name, n) == 0 && h[n] == ':') {
            h += n + 1;
            while (*h == ' ')
                h++;
            const char *e = strstr(h, "\r\n");
            size_t len = (size_t)(e - h) < cap - 1 ? (size_t)(e - h) : cap - 1;
            memcpy(buf, h, len);
            buf[len] = '\0';
            return buf;
        }
    }
    return NULL;
}

/* ---- a strict reader of the text format (0.0.4) ---------------------- */

static bool is_name(const char **p, bool metric)
{
    const char *s = *p;
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_' ||
          (metric && *s == ':')))
        return false;
    while ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
           *s == '_' || (metric && *s == ':'))
        s++;
    *p = s;
    return true;
}

/* Checks one sample line; its name must have had a # TYPE line. Returns
 * the value. */
static double check_sample(const char *line, const char *typed)
{
    const char *p = line;
    assert_true(is_name(&p, true));
    char name[128];
    assert_true((size_t)(p - line) < sizeof(name));
    memcpy(name, line, (size_t)(p - line));
    name[p - line] = '\0';
    char want[160];
    snprintf(want, sizeof(want), "\n%s\n", name);
    if (strstr(typed, want) == NULL)
        fail_msg("sample %s without a # TYPE line", name);
    if (*p == '{') {
        p++;
        while (*p != '}') {
            assert_true(is_name(&p, false));
            assert_int_equal(*p++, '=');
            assert_int_equal(*p++, '"');
            while (*p != '"') {
                assert_true(*p != '\0' && *p != '\n');
                if (*p == '\\') {
                    p++;
                    assert_true(*p == '\\' || *p == '"' || *p == 'n');
                }
                p++;
            }
            p++;
            if (*p == ',')
                p++;
            else
                assert_int_equal(*p, '}');
        }
        p++;
    }
    assert_int_equal(*p++, ' ');
    char *end;
    double v = strtod(p, &end);
    assert_true(end != p && *end == '\0');
    return v;
}

/* Parses a whole body: comments and samples, each sample typed. Returns
 * the number of samples. */
static size_t check_body(const char *body, size_t len)
{
    char *text = strndup(body, len);
    assert_non_null(text);
    assert_true(len > 0 && text[len - 1] == '\n');
    size_t typed_cap = len + 2, samples = 0;
    char *typed = calloc(1, typed_cap);
    assert_non_null(typed);
    strcpy(typed, "\n");
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (strncmp(line, "# TYPE ", 7) == 0) {
            char name[128], type[16];
            assert_int_equal(sscanf(line, "# TYPE %127s %15s", name, type), 2);
            assert_true(strcmp(type, "counter") == 0 || strcmp(type, "gauge") == 0);
            strcat(typed, name);
            strcat(typed, "\n");
        } else if (strncmp(line, "# HELP ", 7) == 0) {
            const char *p = line + 7;
            assert_true(is_name(&p, true));
        } else {
            assert_true(line[0] != '#');
            check_sample(line, typed);
            samples++;
        }
    }
    free(typed);
    free(text);
    return samples;
}

/* ---- cases ----------------------------------------------------------- */

static void get_metrics_answers_200_with_the_text_format(void **state)
{
    struct fixture *fx = *state;
    struct response r =
        talk_str(fx, "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    assert_int_equal(r.status, 200);
    assert_true(r.eof);
    char buf[256];
    assert_non_null(header(&r, "Content-Type", buf, sizeof(buf)));
    assert_true(strncmp(buf, "text/plain; version=0.0.4", 25) == 0);
    assert_non_null(header(&r, "Content-Length", buf, sizeof(buf)));
    assert_int_equal(strtoul(buf, NULL, 10), r.body_len);
    assert_true(check_body(r.body, r.body_len) >= 8);
    assert_non_null(strstr(r.body, "\nxfed_test_hits_total{partner=\"fabrikam.example\"} 41\n"));
    assert_non_null(strstr(r.body, "\nxfed_test_hits_total{partner=\"we\\\"ird\\\\one\\nx\"} 1\n"));
    assert_non_null(strstr(r.body, "\nxfed_test_collects 1\n"));
    assert_non_null(strstr(r.body, "\nprocess_open_fds "));
    free(r.raw);

    /* A second scrape sees the updates and runs the collect callback again. */
    metric_inc(fx->hits);
    r = talk_str(fx, "GET /metrics?x=1 HTTP/1.0\r\n\r\n");
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\nxfed_test_hits_total{partner=\"fabrikam.example\"} 42\n"));
    assert_non_null(strstr(r.body, "\nxfed_test_collects 2\n"));
    free(r.raw);
}

static void keep_alive_serves_two_requests_on_one_connection(void **state)
{
    struct fixture *fx = *state;
    static const char req[] = "GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n"
                              "GET /metrics HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    struct response r = talk_str(fx, req);
    assert_int_equal(r.status, 200);
    assert_true(r.eof);
    const char *second = strstr(r.body, "HTTP/1.1 200 OK\r\n");
    assert_non_null(second);
    free(r.raw);
}

static void other_methods_get_405(void **state)
{
    struct fixture *fx = *state;
    static const char *const reqs[] = {
        "POST /metrics HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc",
        "PUT /metrics HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        "DELETE /metrics HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        "HEAD /metrics HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        "OPTIONS /metrics HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
        struct response r = talk_str(fx, reqs[i]);
        assert_int_equal(r.status, 405);
        char buf[64];
        assert_non_null(header(&r, "Allow", buf, sizeof(buf)));
        assert_string_equal(buf, "GET");
        assert_null(strstr(r.raw, "xfed_test_hits_total"));
        free(r.raw);
    }
    assert_int_equal(fx->collects, 0);
}

static void other_paths_get_404(void **state)
{
    struct fixture *fx = *state;
    static const char *const paths[] = {"/",          "/metric",    "/metrics/",
                                        "/metrics/x", "/x/metrics", "/METRICS"};
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        char req[256];
        snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
                 paths[i]);
        struct response r = talk_str(fx, req);
        assert_int_equal(r.status, 404);
        assert_null(strstr(r.raw, "xfed_test_hits_total"));
        free(r.raw);
    }
    struct response r =
        talk_str(fx, "POST /other HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    assert_int_equal(r.status, 404);
    free(r.raw);
}

static void oversized_requests_are_refused(void **state)
{
    struct fixture *fx = *state;
    size_t big = 20000;
    char *req = malloc(big + 256);
    assert_non_null(req);

    /* A header line beyond max_request_bytes (8192). libevent 2.1 answers
     * 400 to headers over its limit (413 is for bodies). */
    int n = snprintf(req, 256, "GET /metrics HTTP/1.1\r\nHost: a\r\nX-Big: ");
    memset(req + n, 'a', big);
    memcpy(req + n + big, "\r\n\r\n", 4);
    struct response r = talk(fx, req, (size_t)n + big + 4);
    print_message("header of %zu bytes: %d\n", big, r.status);
    assert_true(r.status == 400 || r.status == 413 || r.status == 431);
    assert_true(r.eof);
    assert_null(strstr(r.raw, "xfed_test_hits_total"));
    free(r.raw);

    /* A request line beyond it. */
    n = snprintf(req, 256, "GET /metrics?");
    memset(req + n, 'q', big);
    n += (int)big;
    n += snprintf(req + n, 256, " HTTP/1.1\r\nHost: a\r\n\r\n");
    r = talk(fx, req, (size_t)n);
    print_message("request line of %zu bytes: %d\n", big, r.status);
    assert_true(r.status == 400 || r.status == 413 || r.status == 414);
    assert_true(r.eof);
    assert_null(strstr(r.raw, "xfed_test_hits_total"));
    free(r.raw);

    /* A body beyond max_body_bytes (1024). */
    n = snprintf(req, 256, "POST /metrics HTTP/1.1\r\nHost: a\r\nContent-Length: %zu\r\n\r\n", big);
    memset(req + n, 'b', big);
    r = talk(fx, req, (size_t)n + big);
    assert_int_equal(r.status, 413);
    assert_true(r.eof);
    free(r.raw);

    /* More header fields than max_headers (32), each one small. */
    n = snprintf(req, 256, "GET /metrics HTTP/1.1\r\nHost: a\r\n");
    for (int i = 0; i < 40; i++)
        n += snprintf(req + n, 64, "X-H%d: v\r\n", i);
    n += snprintf(req + n, 64, "Connection: close\r\n\r\n");
    r = talk(fx, req, (size_t)n);
    assert_int_equal(r.status, 431);
    assert_null(strstr(r.raw, "xfed_test_hits_total"));
    free(r.raw);
    free(req);

    /* Neither rendered anything, and the endpoint still serves. */
    assert_int_equal(fx->collects, 0);
    r = talk_str(fx, "GET /metrics HTTP/1.0\r\n\r\n");
    assert_int_equal(r.status, 200);
    free(r.raw);
}

static void garbage_gets_400(void **state)
{
    struct fixture *fx = *state;
    struct response r = talk_str(fx, "HELLO\r\n\r\n");
    assert_int_equal(r.status, 400);
    free(r.raw);
    r = talk_str(fx, "GET /metrics HTTP/1.1\r\nno colon here\r\n\r\n");
    assert_int_equal(r.status, 400);
    free(r.raw);
}

static void idle_connections_are_closed(void **state)
{
    struct fixture *fx = *state;
    struct metrics_http *h = serve(fx, "127.0.0.1:0", 1);
    assert_non_null(h);
    int fd = connect_to(AF_INET, metrics_http_port(h));
    long t0 = now_ms();
    bool closed = false;
    char c;
    while (now_ms() - t0 < WAIT_MS && !closed) {
        event_base_loop(fx->base, EVLOOP_NONBLOCK);
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 5) > 0)
            closed = recv(fd, &c, 1, 0) <= 0;
    }
    long took = now_ms() - t0;
    close(fd);
    metrics_http_free(h);
    assert_true(closed);
    assert_true(took >= 500 && took < 3500);
}

static void listen_addresses_are_checked(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "0.0.0.0:9269",
        "[::]:9269",
        "[::ffff:127.0.0.1]:9269",
        "localhost:9269",
        "127.0.0.1",
        "127.0.0.1:",
        "127.0.0.1:65536",
        "127.0.0.1:-1",
        "127.0.0.1:9x",
        "::1:9269",
        "[::1]9269",
        "[::1",
        "[fe80::1%lo]:9269",
        "1.2.3:9269",
        "127.0.0.1:000009269",
    };
    struct sockaddr_storage ss;
    socklen_t len;
    char err[256];
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        if (metrics_http_parse_listen(bad[i], &ss, &len, err, sizeof(err)) == 0)
            fail_msg("\"%s\" was accepted", bad[i]);
        assert_true(err[0] != '\0');
    }
    assert_int_equal(metrics_http_parse_listen(NULL, &ss, &len, err, sizeof(err)), -1);

    assert_int_equal(metrics_http_parse_listen("127.0.0.1:9269", &ss, &len, err, sizeof(err)), 0);
    assert_int_equal(ss.ss_family, AF_INET);
    assert_int_equal(ntohs(((struct sockaddr_in *)&ss)->sin_port), 9269);
    assert_int_equal(len, sizeof(struct sockaddr_in));
    assert_int_equal(metrics_http_parse_listen("10.1.2.3:1", &ss, &len, err, sizeof(err)), 0);
    assert_int_equal(metrics_http_parse_listen("[::1]:9269", &ss, &len, err, sizeof(err)), 0);
    assert_int_equal(ss.ss_family, AF_INET6);
    assert_int_equal(len, sizeof(struct sockaddr_in6));
    assert_int_equal(metrics_http_parse_listen("[fd00::5]:80", &ss, &len, err, sizeof(err)), 0);
}

static void only_the_configured_address_is_bound(void **state)
{
    struct fixture *fx = *state;
    /* An address this host does not have: refused, nothing else bound. */
    assert_null(serve(fx, "192.0.2.1:0", 0));
    /* A wildcard never reaches bind(). */
    assert_null(serve(fx, "0.0.0.0:0", 0));
    /* The port of a running endpoint is taken. */
    char listen[64];
    snprintf(listen, sizeof(listen), "127.0.0.1:%u", (unsigned)metrics_http_port(fx->http));
    assert_null(serve(fx, listen, 0));
    /* Settings out of range. */
    struct metrics_http_settings s;
    metrics_http_settings_init(&s);
    s.listen = "127.0.0.1:0";
    s.max_headers = 0;
    char err[256];
    assert_null(metrics_http_new(fx->base, fx->reg, &s, err, sizeof(err)));

    /* Bound to 127.0.0.1 only: 127.0.0.2 (also loopback) is not served. */
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(metrics_http_port(fx->http))};
    inet_pton(AF_INET, "127.0.0.2", &a.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), -1);
    assert_int_equal(errno, ECONNREFUSED);
    close(fd);
}

static void ipv6_loopback_serves(void **state)
{
    struct fixture *fx = *state;
    int probe = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    bool have_v6 = probe >= 0 && bind(probe, (struct sockaddr *)&a, sizeof(a)) == 0;
    if (probe >= 0)
        close(probe);
    if (!have_v6)
        skip();
    struct metrics_http *h = serve(fx, "[::1]:0", 0);
    assert_non_null(h);
    int fd = connect_to(AF_INET6, metrics_http_port(h));
    static const char req[] = "GET /metrics HTTP/1.0\r\n\r\n";
    struct response r = talk_fd(fx, fd, req, sizeof(req) - 1, 0);
    close(fd);
    metrics_http_free(h);
    assert_int_equal(r.status, 200);
    assert_true(check_body(r.body, r.body_len) > 0);
    free(r.raw);
}

static void freeing_closes_the_port(void **state)
{
    struct fixture *fx = *state;
    struct metrics_http *h = serve(fx, "127.0.0.1:0", 0);
    assert_non_null(h);
    uint16_t port = metrics_http_port(h);
    /* An open connection goes too. */
    int open_fd = connect_to(AF_INET, port);
    for (int i = 0; i < 20; i++) {
        event_base_loop(fx->base, EVLOOP_NONBLOCK);
        poll(NULL, 0, 2);
    }
    metrics_http_free(h);
    char c;
    struct pollfd p = {.fd = open_fd, .events = POLLIN};
    assert_int_equal(poll(&p, 1, WAIT_MS), 1);
    assert_true(recv(open_fd, &c, 1, 0) <= 0);
    close(open_fd);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), -1);
    assert_int_equal(errno, ECONNREFUSED);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(get_metrics_answers_200_with_the_text_format, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(keep_alive_serves_two_requests_on_one_connection, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(other_methods_get_405, setup, teardown),
        cmocka_unit_test_setup_teardown(other_paths_get_404, setup, teardown),
        cmocka_unit_test_setup_teardown(oversized_requests_are_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(garbage_gets_400, setup, teardown),
        cmocka_unit_test_setup_teardown(idle_connections_are_closed, setup, teardown),
        cmocka_unit_test(listen_addresses_are_checked),
        cmocka_unit_test_setup_teardown(only_the_configured_address_is_bound, setup, teardown),
        cmocka_unit_test_setup_teardown(ipv6_loopback_serves, setup, teardown),
        cmocka_unit_test_setup_teardown(freeing_closes_the_port, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
