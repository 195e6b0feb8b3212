/*
 * panel_http.h - the panel's HTTPS server. The only file that touches
 * libmicrohttpd (which does TLS with GnuTLS as Debian builds it).
 *
 * One internal MHD thread accepts connections, runs TLS and calls the
 * handler once per complete request (body included, at most max_body
 * bytes; larger bodies close the connection after a 413). The handler fills
 * a struct panel_resp; when it sets delay_ms the connection is suspended
 * and answered that much later by a small timer thread, so a slowed-down
 * sign-in never blocks other clients. Every response gets the panel's
 * security headers (CSP without inline script, frame-ancestors 'none',
 * HSTS, nosniff, Referrer-Policy, no-store unless marked cacheable).
 */
#ifndef XFED_PANEL_HTTP_H
#define XFED_PANEL_HTTP_H

#include "panel_buf.h"
#include "panel_form.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

/* A request as the handler sees it; everything is valid during the call. */
struct panel_req {
    const char *method;      /* "GET", "POST", ... */
    const char *path;        /* percent-decoded path without the query */
    struct pkv_list query;   /* decoded query arguments */
    struct pkv_list headers; /* names as sent; use pkv_get_ci() */
    struct pkv_list cookies;
    const char *body; /* NUL-terminated, body_len bytes (may hold NULs) */
    size_t body_len;
    char client[64]; /* client address, text form */
};

struct panel_resp {
    int status;
    const char *content_type; /* static string */
    struct pbuf body;
    struct pkv_list headers; /* extra headers: Location, Set-Cookie, ... */
    unsigned delay_ms;       /* hold the answer back this long */
    bool cacheable;          /* static assets may be cached */
};

/* Called on the HTTP thread; must not block for long. */
typedef void panel_handler_fn(void *arg, const struct panel_req *, struct panel_resp *);

struct panel_http_conf {
    struct sockaddr_storage addr;
    unsigned addrlen;
    const char *cert_pem; /* must stay valid until panel_http_stop() */
    const char *key_pem;  /* idem; never logged */
    size_t max_body;
    unsigned max_connections;
    unsigned connection_timeout; /* seconds */
};

struct panel_http;

/* Binds and starts serving. NULL with a reason in err on failure (address
 * in use, bad certificate, MHD built without TLS). */
struct panel_http *panel_http_start(const struct panel_http_conf *, panel_handler_fn *, void *arg,
                                    char *err, size_t errlen);

/* Answers every delayed connection, stops the thread, closes the socket. */
void panel_http_stop(struct panel_http *);

/* The port actually bound (useful with port 0). */
unsigned panel_http_port(const struct panel_http *);

#endif
