/*
 * metrics_http.h - the internal HTTP endpoint that Prometheus scrapes:
 * GET /metrics answers 200 with metrics_render()'s text
 * (Content-Type: text/plain; version=0.0.4; charset=utf-8).
 *
 * It runs on the process's own libevent loop (evhttp): the loop owns the
 * listening socket and every connection, and nothing here blocks. Other
 * paths get 404, other methods on /metrics 405 (with "Allow: GET"), a
 * request line plus headers longer than max_request_bytes or a body longer
 * than max_body_bytes 413, more than max_headers header fields 431, and a
 * connection idle for timeout_s seconds is closed.
 *
 * Only the configured address is bound: a numeric IPv4 address or a
 * bracketed IPv6 address with a port ("127.0.0.1:9269", "[::1]:9269");
 * no host names (no DNS at start-up), and no wildcard (0.0.0.0, ::), which
 * would put the metrics on every interface, the Internet-facing one of an
 * edge included. The endpoint is off unless a daemon's configuration names
 * an address (metrics_listen = "127.0.0.1:9269"); use 127.0.0.1 or an
 * internal management address (docs/metrics.md).
 *
 * Not covered: a cap on simultaneous connections (libevent 2.1's evhttp
 * has none); idle ones are closed after timeout_s, and the address is an
 * internal one.
 */
#ifndef XFED_METRICS_HTTP_H
#define XFED_METRICS_HTTP_H

#include <stdint.h>
#include <sys/socket.h>

struct event_base;
struct metrics;
struct metrics_http;

struct metrics_http_settings {
    const char *listen;         /* "ADDR:PORT" as above; required */
    unsigned max_request_bytes; /* 8192: request line and headers (1024..1048576) */
    unsigned max_headers;       /* 32: header fields (1..1000) */
    unsigned max_body_bytes;    /* 1024: request body (0..1048576) */
    unsigned timeout_s;         /* 10: idle connection timeout (1..3600) */
};

/* Fills in the defaults above, with listen NULL. */
void metrics_http_settings_init(struct metrics_http_settings *);

/* Parses an "ADDR:PORT" listen address as described above into *ss and
 * *sslen. Port 0 asks the kernel for a free port (tests). Returns 0, or -1
 * with the reason in err. For a daemon's configuration check (-n). */
int metrics_http_parse_listen(const char *listen, struct sockaddr_storage *ss, socklen_t *sslen,
                              char *err, size_t errlen);

/* A configuration value of metrics_listen: NULL or "" (no endpoint) or
 * what metrics_http_parse_listen() accepts. Returns 0, or -1 with the
 * reason in err. */
int metrics_http_check_listen(const char *listen, char *err, size_t errlen);

/* Binds s->listen (SO_REUSEADDR, IPv6 only for an IPv6 address) and serves
 * reg on base. reg and base are borrowed and must outlive the endpoint.
 * Returns NULL with the reason in err when the address is invalid, cannot
 * be bound, or a setting is out of its range. Call before dropping
 * privileges if the port is below 1024. Logs the bound address. */
struct metrics_http *metrics_http_new(struct event_base *base, struct metrics *reg,
                                      const struct metrics_http_settings *s, char *err,
                                      size_t errlen);

/* Closes the listener and every open connection. NULL is fine. */
void metrics_http_free(struct metrics_http *);

/* The port actually bound (useful with port 0). */
uint16_t metrics_http_port(const struct metrics_http *);

#endif
