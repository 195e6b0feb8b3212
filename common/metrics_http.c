/*
 * metrics_http.c - GET /metrics over HTTP/1.1 with libevent's evhttp, the
 * only file of common/ that touches evhttp. The socket is bound here (not
 * by evhttp_bind_socket(), which resolves names and accepts wildcards) so
 * that exactly the configured address is used.
 */
#include "metrics_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "log.h"
#include "metrics.h"

/* Every method evhttp knows reaches the callback, so that each one that is
 * not GET gets 405 rather than evhttp's 501. */
#define ALL_METHODS                                                                            \
    (EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | \
     EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH)

struct metrics_http {
    struct evhttp *http;
    struct metrics *reg;
    unsigned max_headers;
    uint16_t port;
};

void metrics_http_settings_init(struct metrics_http_settings *s)
{
    s->listen = NULL;
    s->max_request_bytes = 8192;
    s->max_headers = 32;
    s->max_body_bytes = 1024;
    s->timeout_s = 10;
}

static int parse_port(const char *p, uint16_t *port)
{
    size_t n = strlen(p);
    if (n == 0 || n > 5 || strspn(p, "0123456789") != n)
        return -1;
    unsigned long v = strtoul(p, NULL, 10);
    if (v > 65535)
        return -1;
    *port = (uint16_t)v;
    return 0;
}

int metrics_http_parse_listen(const char *listen, struct sockaddr_storage *ss, socklen_t *sslen,
                              char *err, size_t errlen)
{
    char host[INET6_ADDRSTRLEN + 1];
    const char *port_text;
    bool v6;
    if (listen == NULL || listen[0] == '\0') {
        snprintf(err, errlen, "no address: the endpoint is off unless one is configured");
        return -1;
    }
    if (listen[0] == '[') {
        const char *close = strchr(listen, ']');
        if (close == NULL || close[1] != ':' || (size_t)(close - listen - 1) >= sizeof(host)) {
            snprintf(err, errlen, "\"%s\": expected [IPV6]:PORT", listen);
            return -1;
        }
        memcpy(host, listen + 1, (size_t)(close - listen - 1));
        host[close - listen - 1] = '\0';
        port_text = close + 2;
        v6 = true;
    } else {
        const char *colon = strrchr(listen, ':');
        if (colon == NULL || (size_t)(colon - listen) >= sizeof(host) ||
            memchr(listen, ':', (size_t)(colon - listen)) != NULL) {
            snprintf(err, errlen,
                     "\"%s\": expected IPV4:PORT or [IPV6]:PORT (IPv6 addresses go in brackets)",
                     listen);
            return -1;
        }
        memcpy(host, listen, (size_t)(colon - listen));
        host[colon - listen] = '\0';
        port_text = colon + 1;
        v6 = false;
    }
    uint16_t port;
    if (parse_port(port_text, &port) != 0) {
        snprintf(err, errlen, "\"%s\": the port must be a number from 0 to 65535", listen);
        return -1;
    }
    memset(ss, 0, sizeof(*ss));
    if (v6) {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(port);
        if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1) {
            snprintf(err, errlen, "\"%s\": not a numeric IPv6 address", host);
            return -1;
        }
        if (IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr) || IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
            snprintf(err, errlen,
                     "\"%s\": name one address (not :: or an IPv4-mapped one): a wildcard would "
                     "serve the metrics on every interface",
                     host);
            return -1;
        }
        *sslen = sizeof(*sin6);
    } else {
        struct sockaddr_in *sin = (struct sockaddr_in *)ss;
        sin->sin_family = AF_INET;
        sin->sin_port = htons(port);
        if (inet_pton(AF_INET, host, &sin->sin_addr) != 1) {
            snprintf(err, errlen, "\"%s\": not a numeric IPv4 address (no host names)", host);
            return -1;
        }
        if (sin->sin_addr.s_addr == htonl(INADDR_ANY)) {
            snprintf(err, errlen,
                     "\"%s\": name one address: a wildcard would serve the metrics on every "
                     "interface",
                     host);
            return -1;
        }
        *sslen = sizeof(*sin);
    }
    return 0;
}

static void reply_text(struct evhttp_request *req, int code, const char *reason, const char *body)
{
    struct evkeyvalq *out = evhttp_request_get_output_headers(req);
    evhttp_add_header(out, "Content-Type", "text/plain; charset=utf-8");
    struct evbuffer *b = evbuffer_new();
    if (b)
        evbuffer_add(b, body, strlen(body));
    evhttp_send_reply(req, code, reason, b);
    if (b)
        evbuffer_free(b);
}

static void free_text(const void *data, size_t len, void *arg)
{
    (void)len;
    (void)arg;
    free((void *)(uintptr_t)data);
}

static void on_request(struct evhttp_request *req, void *arg)
{
    struct metrics_http *h = arg;
    unsigned n = 0;
    struct evkeyval *kv;
    for (kv = TAILQ_FIRST(evhttp_request_get_input_headers(req)); kv; kv = TAILQ_NEXT(kv, next))
        n++;
    if (n > h->max_headers) {
        log_debug("metrics: request refused: %u header fields", n);
        reply_text(req, 431, "Request Header Fields Too Large", "too many header fields\n");
        return;
    }
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    if (path == NULL || strcmp(path, "/metrics") != 0) {
        reply_text(req, HTTP_NOTFOUND, "Not Found", "not found: the metrics are at /metrics\n");
        return;
    }
    if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET");
        reply_text(req, 405, "Method Not Allowed", "method not allowed: use GET\n");
        return;
    }
    size_t len;
    char *text = metrics_render(h->reg, &len);
    struct evbuffer *b = text ? evbuffer_new() : NULL;
    if (b == NULL || evbuffer_add_reference(b, text, len, free_text, NULL) != 0) {
        if (b)
            evbuffer_free(b);
        free(text);
        log_warnx("metrics: out of memory while rendering");
        reply_text(req, HTTP_INTERNAL, "Internal Server Error", "out of memory\n");
        return;
    }
    struct evkeyvalq *out = evhttp_request_get_output_headers(req);
    evhttp_add_header(out, "Content-Type", METRICS_CONTENT_TYPE);
    evhttp_add_header(out, "Cache-Control", "no-store");
    evhttp_send_reply(req, HTTP_OK, "OK", b);
    evbuffer_free(b);
}

static bool in_range(unsigned v, unsigned lo, unsigned hi)
{
    return v >= lo && v <= hi;
}

struct metrics_http *metrics_http_new(struct event_base *base, struct metrics *reg,
                                      const struct metrics_http_settings *s, char *err,
                                      size_t errlen)
{
    if (!in_range(s->max_request_bytes, 1024, 1048576) || !in_range(s->max_headers, 1, 1000) ||
        s->max_body_bytes > 1048576 || !in_range(s->timeout_s, 1, 3600)) {
        snprintf(err, errlen, "a metrics HTTP setting is out of its range");
        return NULL;
    }
    struct sockaddr_storage ss;
    socklen_t sslen;
    if (metrics_http_parse_listen(s->listen, &ss, &sslen, err, errlen) != 0)
        return NULL;

    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return NULL;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (ss.ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&ss, sslen) != 0 || listen(fd, 16) != 0) {
        snprintf(err, errlen, "cannot listen on %s: %s", s->listen, strerror(errno));
        close(fd);
        return NULL;
    }
    struct sockaddr_storage bound;
    socklen_t blen = sizeof(bound);
    if (getsockname(fd, (struct sockaddr *)&bound, &blen) != 0) {
        snprintf(err, errlen, "getsockname: %s", strerror(errno));
        close(fd);
        return NULL;
    }

    struct metrics_http *h = calloc(1, sizeof(*h));
    if (h == NULL || (h->http = evhttp_new(base)) == NULL) {
        snprintf(err, errlen, "out of memory");
        free(h);
        close(fd);
        return NULL;
    }
    h->reg = reg;
    h->max_headers = s->max_headers;
    h->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                : ((struct sockaddr_in *)&bound)->sin_port);
    evhttp_set_max_headers_size(h->http, (ev_ssize_t)s->max_request_bytes);
    evhttp_set_max_body_size(h->http, (ev_ssize_t)s->max_body_bytes);
    evhttp_set_timeout(h->http, (int)s->timeout_s);
    evhttp_set_allowed_methods(h->http, ALL_METHODS);
    evhttp_set_gencb(h->http, on_request, h);
    /* The listener takes the socket and closes it when freed. */
    if (evhttp_accept_socket_with_handle(h->http, fd) == NULL) {
        snprintf(err, errlen, "cannot serve on %s", s->listen);
        evhttp_free(h->http);
        free(h);
        close(fd);
        return NULL;
    }
    char addr[INET6_ADDRSTRLEN] = "?";
    if (bound.ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&bound)->sin6_addr, addr, sizeof(addr));
    else
        inet_ntop(AF_INET, &((struct sockaddr_in *)&bound)->sin_addr, addr, sizeof(addr));
    log_info("metrics: serving http://%s%s%s:%u/metrics", bound.ss_family == AF_INET6 ? "[" : "",
             addr, bound.ss_family == AF_INET6 ? "]" : "", (unsigned)h->port);
    return h;
}

void metrics_http_free(struct metrics_http *h)
{
    if (h == NULL)
        return;
    evhttp_free(h->http);
    free(h);
}

uint16_t metrics_http_port(const struct metrics_http *h)
{
    return h->port;
}

int metrics_http_check_listen(const char *listen, char *err, size_t errlen)
{
    if (listen == NULL || *listen == '\0')
        return 0;
    struct sockaddr_storage ss;
    socklen_t len;
    return metrics_http_parse_listen(listen, &ss, &len, err, errlen);
}
