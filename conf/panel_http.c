/*
 * panel_http.c - libmicrohttpd glue: TLS listener, request assembly,
 * response headers, and suspended (delayed) answers.
 */
#include "panel_http.h"

#include "log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* GnuTLS priority string: TLS 1.2 and 1.3 only (RFC 8996 retires 1.0/1.1). */
#define PANEL_TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

#define CSP                                                                     \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " \
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

struct delayed {
    struct MHD_Connection *conn;
    struct timespec due;
    struct delayed *next;
};

struct panel_http {
    struct MHD_Daemon *d;
    panel_handler_fn *fn;
    void *arg;
    size_t max_body;
    unsigned port;
    pthread_t timer;
    bool timer_started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stopping;
    struct delayed *pending;
};

enum conn_state { CS_BODY, CS_DELAYED, CS_READY };

struct conn_ctx {
    enum conn_state state;
    struct pbuf body;
    bool too_large;
    struct panel_resp resp;
};

static void resp_init(struct panel_resp *r)
{
    memset(r, 0, sizeof(*r));
    r->status = 200;
    r->content_type = "text/html; charset=utf-8";
    pbuf_init(&r->body);
}

static void resp_clear(struct panel_resp *r)
{
    pbuf_free(&r->body);
    pkv_clear(&r->headers);
}

static void mhd_logger(void *cls, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void mhd_logger(void *cls, const char *fmt, va_list ap)
{
    char line[512];
    (void)cls;
    vsnprintf(line, sizeof(line), fmt, ap);
    size_t n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    /* MHD reports client misbehaviour here too: INFO, never WARN (nginx's rule) */
    log_info("http: %s", line);
}

static enum MHD_Result collect_kv(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *value)
{
    (void)kind;
    struct pkv_list *l = cls;
    if (key == NULL)
        return MHD_YES;
    if (l->n >= 200)
        return MHD_NO;
    pkv_add(l, key, value != NULL ? value : "");
    return MHD_YES;
}

static void add_header(struct MHD_Response *r, const char *name, const char *value)
{
    if (MHD_add_response_header(r, name, value) == MHD_NO)
        log_info("http: cannot add header %s", name);
}

static enum MHD_Result queue(struct MHD_Connection *conn, struct panel_resp *pr)
{
    size_t len;
    if (pr->body.failed) {
        pbuf_free(&pr->body);
        pr->status = 500;
        pr->content_type = "text/plain; charset=utf-8";
        pbuf_puts(&pr->body, "out of memory\n");
    }
    char *body = pbuf_take(&pr->body, &len);
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body != NULL ? body : (char *)"",
                                                             body != NULL ? MHD_RESPMEM_MUST_FREE
                                                                          : MHD_RESPMEM_PERSISTENT);
    if (r == NULL) {
        free(body);
        return MHD_NO;
    }
    add_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, pr->content_type);
    add_header(r, "Content-Security-Policy", CSP);
    add_header(r, "Strict-Transport-Security", "max-age=31536000");
    add_header(r, "X-Content-Type-Options", "nosniff");
    /* not no-referrer: with it Chromium sends "Origin: null" on same-origin
     * form posts, which the Origin check must refuse */
    add_header(r, "Referrer-Policy", "same-origin");
    add_header(r, "X-Frame-Options", "DENY");
    add_header(r, "Cross-Origin-Opener-Policy", "same-origin");
    add_header(r, "Cross-Origin-Resource-Policy", "same-origin");
    add_header(r, "Cache-Control", pr->cacheable ? "private, max-age=3600" : "no-store");
    for (size_t i = 0; i < pr->headers.n; i++)
        add_header(r, pr->headers.v[i].name, pr->headers.v[i].value);
    enum MHD_Result rc = MHD_queue_response(conn, (unsigned)pr->status, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result queue_plain(struct MHD_Connection *conn, int status, const char *text)
{
    struct panel_resp pr;
    resp_init(&pr);
    pr.status = status;
    pr.content_type = "text/plain; charset=utf-8";
    pbuf_puts(&pr.body, text);
    enum MHD_Result rc = queue(conn, &pr);
    resp_clear(&pr);
    return rc;
}

static void timespec_add_ms(struct timespec *t, unsigned ms)
{
    t->tv_sec += ms / 1000;
    t->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (t->tv_nsec >= 1000000000L) {
        t->tv_sec++;
        t->tv_nsec -= 1000000000L;
    }
}

static bool due_before(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec <= b->tv_nsec);
}

/* The timer thread: resumes each suspended connection when it is due, and
 * all of them at once when the server stops. */
static void *timer_main(void *arg)
{
    struct panel_http *h = arg;
    pthread_mutex_lock(&h->mu);
    for (;;) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        struct delayed **pp = &h->pending;
        while (*pp != NULL) {
            struct delayed *dl = *pp;
            if (h->stopping || due_before(&dl->due, &now)) {
                *pp = dl->next;
                MHD_resume_connection(dl->conn);
                free(dl);
            } else {
                pp = &dl->next;
            }
        }
        if (h->stopping)
            break;
        if (h->pending == NULL) {
            pthread_cond_wait(&h->cv, &h->mu);
        } else {
            struct timespec first = h->pending->due;
            for (struct delayed *dl = h->pending; dl != NULL; dl = dl->next) {
                if (due_before(&dl->due, &first))
                    first = dl->due;
            }
            pthread_cond_timedwait(&h->cv, &h->mu, &first);
        }
    }
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

static int delay_connection(struct panel_http *h, struct MHD_Connection *conn, unsigned ms)
{
    struct delayed *dl = calloc(1, sizeof(*dl));
    if (dl == NULL)
        return -1;
    dl->conn = conn;
    clock_gettime(CLOCK_MONOTONIC, &dl->due);
    timespec_add_ms(&dl->due, ms);
    pthread_mutex_lock(&h->mu);
    if (h->stopping) {
        pthread_mutex_unlock(&h->mu);
        free(dl);
        return -1;
    }
    MHD_suspend_connection(conn);
    dl->next = h->pending;
    h->pending = dl;
    pthread_cond_signal(&h->cv);
    pthread_mutex_unlock(&h->mu);
    return 0;
}

static void client_text(struct MHD_Connection *conn, char *out, size_t outlen)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    snprintf(out, outlen, "unknown");
    if (ci == NULL || ci->client_addr == NULL)
        return;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
                  (socklen_t)outlen);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out,
                  (socklen_t)outlen);
}

static void run_handler(struct panel_http *h, struct MHD_Connection *conn, const char *url,
                        const char *method, struct conn_ctx *cc)
{
    struct panel_req rq;
    memset(&rq, 0, sizeof(rq));
    rq.method = method;
    rq.path = url;
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_kv, &rq.query);
    MHD_get_connection_values(conn, MHD_HEADER_KIND, collect_kv, &rq.headers);
    MHD_get_connection_values(conn, MHD_COOKIE_KIND, collect_kv, &rq.cookies);
    pbuf_add(&cc->body, "", 0); /* NUL-terminates an empty body too */
    rq.body = cc->body.s != NULL ? cc->body.s : "";
    rq.body_len = cc->body.len;
    client_text(conn, rq.client, sizeof(rq.client));
    resp_init(&cc->resp);
    h->fn(h->arg, &rq, &cc->resp);
    pkv_clear(&rq.query);
    pkv_clear(&rq.headers);
    pkv_clear(&rq.cookies);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    struct panel_http *h = cls;
    struct conn_ctx *cc = *con_cls;
    (void)version;

    if (cc == NULL) {
        cc = calloc(1, sizeof(*cc));
        if (cc == NULL)
            return MHD_NO;
        pbuf_init(&cc->body);
        *con_cls = cc;
        const char *cl =
            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl != NULL && strtoull(cl, NULL, 10) > h->max_body) {
            cc->too_large = true;
            return queue_plain(conn, 413, "request body too large\n");
        }
        return MHD_YES;
    }
    if (cc->state == CS_BODY && *upload_data_size > 0) {
        if (cc->too_large || cc->body.len + *upload_data_size > h->max_body) {
            /* a body without a length that grew too large: close */
            log_info("http: request body too large, closing");
            return MHD_NO;
        }
        pbuf_add(&cc->body, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return cc->body.failed ? MHD_NO : MHD_YES;
    }
    if (cc->too_large)
        return MHD_YES; /* the 413 is queued already */
    if (cc->state == CS_BODY) {
        run_handler(h, conn, url, method, cc);
        if (cc->resp.delay_ms > 0) {
            cc->state = CS_DELAYED;
            if (delay_connection(h, conn, cc->resp.delay_ms) == 0)
                return MHD_YES;
        }
        cc->state = CS_READY;
    } else if (cc->state == CS_DELAYED) {
        cc->state = CS_READY; /* resumed by the timer */
    }
    return queue(conn, &cc->resp);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    struct conn_ctx *cc = *con_cls;
    if (cc == NULL)
        return;
    pbuf_free(&cc->body);
    resp_clear(&cc->resp);
    free(cc);
    *con_cls = NULL;
}

struct panel_http *panel_http_start(const struct panel_http_conf *c, panel_handler_fn *fn,
                                    void *arg, char *err, size_t errlen)
{
    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
        snprintf(err, errlen, "libmicrohttpd was built without TLS support");
        return NULL;
    }
    struct panel_http *h = calloc(1, sizeof(*h));
    if (h == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    h->fn = fn;
    h->arg = arg;
    h->max_body = c->max_body;
    pthread_mutex_init(&h->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&h->cv, &ca);
    pthread_condattr_destroy(&ca);

    unsigned flags =
        MHD_USE_TLS | MHD_USE_AUTO_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    if (c->addr.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    uint16_t port = c->addr.ss_family == AF_INET6
                        ? ntohs(((const struct sockaddr_in6 *)(const void *)&c->addr)->sin6_port)
                        : ntohs(((const struct sockaddr_in *)(const void *)&c->addr)->sin_port);
    /* the logger goes first, or MHD prints earlier messages itself */
    h->d = MHD_start_daemon(
        flags, port, NULL, NULL, on_request, h, MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, h,
        MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)&c->addr, MHD_OPTION_HTTPS_MEM_CERT,
        c->cert_pem, MHD_OPTION_HTTPS_MEM_KEY, c->key_pem, MHD_OPTION_HTTPS_PRIORITIES,
        PANEL_TLS_PRIORITIES, MHD_OPTION_CONNECTION_LIMIT, c->max_connections,
        MHD_OPTION_CONNECTION_TIMEOUT, c->connection_timeout, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        32u, MHD_OPTION_NOTIFY_COMPLETED, on_completed, h, MHD_OPTION_END);
    if (h->d == NULL) {
        snprintf(err, errlen,
                 "cannot start the HTTPS server (address in use, or certificate and key unusable)");
        pthread_cond_destroy(&h->cv);
        pthread_mutex_destroy(&h->mu);
        free(h);
        return NULL;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    h->port = di != NULL ? di->port : port;
    if (pthread_create(&h->timer, NULL, timer_main, h) != 0) {
        snprintf(err, errlen, "cannot start the timer thread");
        MHD_stop_daemon(h->d);
        pthread_cond_destroy(&h->cv);
        pthread_mutex_destroy(&h->mu);
        free(h);
        return NULL;
    }
    h->timer_started = true;
    return h;
}

unsigned panel_http_port(const struct panel_http *h)
{
    return h->port;
}

void panel_http_stop(struct panel_http *h)
{
    if (h == NULL)
        return;
    /* MHD must not be stopped with suspended connections: resume them all */
    pthread_mutex_lock(&h->mu);
    h->stopping = true;
    pthread_cond_signal(&h->cv);
    pthread_mutex_unlock(&h->mu);
    if (h->timer_started)
        pthread_join(h->timer, NULL);
    MHD_stop_daemon(h->d);
    pthread_cond_destroy(&h->cv);
    pthread_mutex_destroy(&h->mu);
    free(h);
}
