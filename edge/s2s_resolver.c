/*
 * s2s_resolver.c - DNS over UDP and TCP on the edge's libevent loop.
 *
 * A lookup runs in stages (SRV, then addresses), each a set of queries
 * asked in parallel; a stage ends when all its queries have an outcome.
 * Every query has one socket and one deadline timer at a time. Spoofing
 * defences (RFC 5452): a fresh random ID and a fresh kernel-chosen source
 * port per attempt, a socket connected to the nameserver so that the kernel
 * drops datagrams from elsewhere, and s2s_dns_reply_parse() rejecting any
 * reply whose ID or question differs (such a datagram is ignored and the
 * query keeps waiting until its deadline).
 */
#include "s2s_resolver.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <event2/event.h>

#define DNS_PORT        53
#define UDP_READS_MAX   16    /* datagrams read per wake-up */
#define TCP_REPLY_MAX   65535 /* RFC 1035 section 4.2.2 length prefix */
#define RESOLV_LINE_MAX 1024

enum qstate { Q_PENDING = 0, Q_ANSWER, Q_TIMEOUT, Q_ERROR };

struct query {
    struct s2s_lookup *l;
    enum s2s_dns_qtype type;
    char name[S2S_DNS_NAME_BUFSZ]; /* domain, A-label form */
    size_t target;                 /* index into l->targets (address queries) */
    enum qstate state;
    unsigned attempt; /* attempts made on the current transport */
    bool tcp;
    bool send_failed; /* the deadline timer was fired early */
    uint16_t id;
    int fd;
    struct event *io;
    struct event *timer;
    uint8_t *out; /* TCP: length prefix + query; UDP: the query */
    size_t outlen, outoff;
    uint8_t *in; /* TCP reply: 2 octets of length, then the message */
    size_t inlen, inneed;
    struct s2s_dns_reply *reply; /* SRV queries with an answer */
    enum s2s_dns_rcode rcode;
    size_t n_addr;
    struct s2s_dns_addr addr[S2S_DNS_MAX_RECORDS];
};

enum lkind { LK_SRV, LK_ADDR, LK_RESOLVE };
enum lstage { ST_START, ST_SRV, ST_ADDR };

struct s2s_lookup {
    struct s2s_resolver *r;
    struct s2s_lookup *prev, *next;
    enum lkind kind;
    enum lstage stage;
    s2s_srv_cb *srv_cb;
    s2s_addr_cb *addr_cb;
    void *arg;
    char domain[S2S_DNS_NAME_BUFSZ];
    struct event *defer;
    bool refused; /* too many lookups in flight: deliver ERROR */
    bool in_cb;
    bool literal;
    struct sockaddr_storage lit;
    socklen_t litlen;
    struct query **q;
    size_t nq, ndone;
    struct s2s_target *targets;
    size_t n_targets;
    struct s2s_srv_result srv;
};

struct s2s_resolver {
    struct event_base *base;
    struct sockaddr_storage ns;
    socklen_t nslen;
    char ns_text[INET6_ADDRSTRLEN + IF_NAMESIZE + 10];
    unsigned timeout_ms, retries, max_targets, max_pending;
    s2s_dns_random_fn *random;
    void *random_arg;
    size_t pending;
    struct s2s_lookup *head;
    unsigned depth; /* callbacks running */
    bool dying;     /* freed from inside a callback */
    struct s2s_dns_reply scratch;
    uint8_t buf[65536];
};

static void query_send(struct query *q);
static void lookup_query_done(struct s2s_lookup *l);
static void resolver_destroy(struct s2s_resolver *r);

static uint32_t random_u32(void *arg)
{
    uint32_t v = 0;

    (void)arg;
    /* getrandom() only blocks before the kernel's pool is initialised at
     * early boot, long before the edge runs. */
    while (getrandom(&v, sizeof(v), 0) != (ssize_t)sizeof(v))
        if (errno != EINTR)
            break;
    return v;
}

void s2s_resolver_settings_init(struct s2s_resolver_settings *s)
{
    memset(s, 0, sizeof(*s));
    s->timeout_ms = S2S_RESOLVER_TIMEOUT_MS;
    s->retries = S2S_RESOLVER_RETRIES;
    s->max_targets = S2S_RESOLVER_MAX_TARGETS;
    s->max_pending = S2S_RESOLVER_MAX_PENDING;
}

const char *s2s_resolve_status_name(enum s2s_resolve_status s)
{
    switch (s) {
    case S2S_RESOLVE_OK:
        return "ok";
    case S2S_RESOLVE_NOT_FOUND:
        return "not-found";
    case S2S_RESOLVE_UNAVAILABLE:
        return "unavailable";
    case S2S_RESOLVE_TIMEOUT:
        return "timeout";
    case S2S_RESOLVE_ERROR:
        break;
    }
    return "error";
}

/* Parses an IP literal, optionally with a port: "1.2.3.4", "1.2.3.4:53",
 * "::1", "[::1]", "[::1]:53", "fe80::1%eth0". Returns 0 or -1. */
static int parse_ip(const char *in, uint16_t defport, struct sockaddr_storage *ss, socklen_t *len)
{
    char host[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
    const char *portp = NULL;
    size_t hl;

    memset(ss, 0, sizeof(*ss));
    if (in == NULL || in[0] == '\0')
        return -1;
    if (in[0] == '[') {
        const char *e = strchr(in, ']');
        if (e == NULL)
            return -1;
        hl = (size_t)(e - in - 1);
        if (e[1] == ':')
            portp = e + 2;
        else if (e[1] != '\0')
            return -1;
        in++;
    } else {
        const char *c = strchr(in, ':');
        if (c != NULL && strchr(c + 1, ':') == NULL) {
            hl = (size_t)(c - in);
            portp = c + 1;
        } else {
            hl = strlen(in);
        }
    }
    if (hl == 0 || hl >= sizeof(host))
        return -1;
    memcpy(host, in, hl);
    host[hl] = '\0';

    unsigned long port = defport;
    if (portp != NULL) {
        char *end;
        errno = 0;
        port = strtoul(portp, &end, 10);
        if (errno != 0 || *end != '\0' || end == portp || port == 0 || port > 65535)
            return -1;
    }
    struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        *len = sizeof(*v4);
        return 0;
    }
    char *pct = strchr(host, '%');
    if (pct != NULL)
        *pct++ = '\0';
    if (inet_pton(AF_INET6, host, &v6->sin6_addr) != 1)
        return -1;
    if (pct != NULL && (v6->sin6_scope_id = if_nametoindex(pct)) == 0)
        return -1;
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons((uint16_t)port);
    *len = sizeof(*v6);
    return 0;
}

static void format_ns(struct s2s_resolver *r)
{
    char a[INET6_ADDRSTRLEN] = "?";

    if (r->ns.ss_family == AF_INET) {
        const struct sockaddr_in *v4 = (const struct sockaddr_in *)&r->ns;
        inet_ntop(AF_INET, &v4->sin_addr, a, sizeof(a));
        snprintf(r->ns_text, sizeof(r->ns_text), "%s:%u", a, ntohs(v4->sin_port));
    } else {
        const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)&r->ns;
        inet_ntop(AF_INET6, &v6->sin6_addr, a, sizeof(a));
        snprintf(r->ns_text, sizeof(r->ns_text), "[%s]:%u", a, ntohs(v6->sin6_port));
    }
}

/* resolv.conf(5): the first "nameserver" line. Parsed here so that no
 * resolver library call (which could block or keep state) is involved. */
static int nameserver_from_file(const char *path, struct s2s_resolver *r, char *err, size_t errlen)
{
    char line[RESOLV_LINE_MAX];
    FILE *f = fopen(path, "re");

    if (f == NULL) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    int rc = -1;
    bool bad = false;
    while (fgets(line, sizeof(line), f) != NULL) {
        char *save = NULL;
        char *kw = strtok_r(line, " \t\r\n", &save);
        if (kw == NULL || kw[0] == '#' || kw[0] == ';' || strcmp(kw, "nameserver") != 0)
            continue;
        char *addr = strtok_r(NULL, " \t\r\n", &save);
        /* A bare address only: resolv.conf has no port syntax. */
        if (addr != NULL && strchr(addr, '[') == NULL &&
            (strchr(addr, ':') == NULL || strchr(strchr(addr, ':') + 1, ':') != NULL) &&
            parse_ip(addr, DNS_PORT, &r->ns, &r->nslen) == 0) {
            rc = 0;
            break;
        }
        bad = true;
    }
    fclose(f);
    if (rc != 0)
        snprintf(err, errlen, "%s has no %snameserver line", path, bad ? "valid " : "");
    return rc;
}

struct s2s_resolver *s2s_resolver_new(struct event_base *base,
                                      const struct s2s_resolver_settings *s, char *err,
                                      size_t errlen)
{
    struct s2s_resolver_settings def;

    if (errlen > 0)
        err[0] = '\0';
    if (s == NULL) {
        s2s_resolver_settings_init(&def);
        s = &def;
    }
    if (base == NULL) {
        snprintf(err, errlen, "resolver: no event loop");
        return NULL;
    }
    unsigned timeout = s->timeout_ms ? s->timeout_ms : S2S_RESOLVER_TIMEOUT_MS;
    unsigned maxt = s->max_targets ? s->max_targets : S2S_RESOLVER_MAX_TARGETS;
    if (timeout < 50 || timeout > 60000) {
        snprintf(err, errlen, "resolver timeout must be between 50 and 60000 ms");
        return NULL;
    }
    if (s->retries > 10) {
        snprintf(err, errlen, "resolver retries must be between 0 and 10");
        return NULL;
    }
    if (maxt > S2S_DNS_MAX_RECORDS) {
        snprintf(err, errlen, "resolver max targets must be between 1 and %d", S2S_DNS_MAX_RECORDS);
        return NULL;
    }
    struct s2s_resolver *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        snprintf(err, errlen, "resolver: out of memory");
        return NULL;
    }
    r->base = base;
    r->timeout_ms = timeout;
    r->retries = s->retries;
    r->max_targets = maxt;
    r->max_pending = s->max_pending ? s->max_pending : S2S_RESOLVER_MAX_PENDING;
    r->random = s->random ? s->random : random_u32;
    r->random_arg = s->random ? s->random_arg : NULL;
    if (s->nameserver != NULL && s->nameserver[0] != '\0') {
        if (parse_ip(s->nameserver, DNS_PORT, &r->ns, &r->nslen) != 0) {
            snprintf(err, errlen, "invalid nameserver address %s", s->nameserver);
            free(r);
            return NULL;
        }
    } else if (nameserver_from_file(s->resolv_conf ? s->resolv_conf : "/etc/resolv.conf", r, err,
                                    errlen) != 0) {
        free(r);
        return NULL;
    }
    format_ns(r);
    return r;
}

const char *s2s_resolver_nameserver(const struct s2s_resolver *r)
{
    return r->ns_text;
}

/* ---- queries ---------------------------------------------------------- */

static void query_close(struct query *q)
{
    if (q->io != NULL) {
        event_free(q->io);
        q->io = NULL;
    }
    if (q->timer != NULL)
        event_del(q->timer);
    if (q->fd >= 0) {
        close(q->fd);
        q->fd = -1;
    }
    free(q->in);
    q->in = NULL;
    q->inlen = q->inneed = 0;
}

static void query_free(struct query *q)
{
    if (q == NULL)
        return;
    query_close(q);
    if (q->timer != NULL)
        event_free(q->timer);
    free(q->out);
    free(q->reply);
    free(q);
}

/* Records the outcome; the lookup may free q (and everything else) before
 * this returns, so callers return right after. */
static void query_finish(struct query *q, enum qstate st)
{
    query_close(q);
    q->state = st;
    q->l->ndone++;
    lookup_query_done(q->l);
}

static void attempt_failed(struct query *q, bool timeout)
{
    query_close(q);
    if (q->attempt <= q->l->r->retries) {
        query_send(q);
        return;
    }
    query_finish(q, timeout ? Q_TIMEOUT : Q_ERROR);
}

/* Takes a checked reply. Returns after query_finish() or a switch to TCP. */
static void query_reply(struct query *q, const struct s2s_dns_reply *rep)
{
    if (rep->truncated) {
        if (q->tcp) {
            query_finish(q, Q_ERROR); /* TC over TCP makes no sense */
            return;
        }
        /* RFC 7766 section 5: ask again over TCP. */
        query_close(q);
        q->tcp = true;
        q->attempt = 0;
        query_send(q);
        return;
    }
    q->rcode = rep->rcode;
    if (q->type == S2S_DNS_SRV_XMPPS || q->type == S2S_DNS_SRV_XMPP) {
        q->reply = malloc(sizeof(*q->reply));
        if (q->reply == NULL) {
            query_finish(q, Q_ERROR);
            return;
        }
        memcpy(q->reply, rep, sizeof(*rep));
    } else {
        q->n_addr = rep->n_addr;
        memcpy(q->addr, rep->addr, rep->n_addr * sizeof(rep->addr[0]));
    }
    query_finish(q, Q_ANSWER);
}

static void udp_cb(evutil_socket_t fd, short what, void *arg)
{
    struct query *q = arg;
    struct s2s_resolver *r = q->l->r;

    (void)what;
    for (int i = 0; i < UDP_READS_MAX; i++) {
        ssize_t n = recv(fd, r->buf, sizeof(r->buf), MSG_TRUNC);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                return;
            /* ECONNREFUSED (ICMP port unreachable) and the like. */
            attempt_failed(q, false);
            return;
        }
        if ((size_t)n > sizeof(r->buf))
            continue;
        if (s2s_dns_reply_parse(r->buf, (size_t)n, q->type, q->name, q->id, &r->scratch) != 0)
            continue; /* not the answer to this query: keep waiting */
        query_reply(q, &r->scratch);
        return;
    }
}

static void tcp_cb(evutil_socket_t fd, short what, void *arg)
{
    struct query *q = arg;
    struct s2s_resolver *r = q->l->r;

    if (what & EV_WRITE) {
        int soerr = 0;
        socklen_t sl = sizeof(soerr);
        if (q->outoff == 0 &&
            (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0 || soerr != 0)) {
            attempt_failed(q, false);
            return;
        }
        ssize_t n = send(fd, q->out + q->outoff, q->outlen - q->outoff, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                return;
            attempt_failed(q, false);
            return;
        }
        q->outoff += (size_t)n;
        if (q->outoff < q->outlen)
            return;
        event_free(q->io);
        q->io = event_new(r->base, fd, EV_READ | EV_PERSIST, tcp_cb, q);
        if (q->io == NULL || event_add(q->io, NULL) != 0) {
            attempt_failed(q, false);
            return;
        }
        return;
    }
    if (q->in == NULL) {
        q->in = malloc(2 + TCP_REPLY_MAX);
        q->inneed = 2;
        if (q->in == NULL) {
            attempt_failed(q, false);
            return;
        }
    }
    ssize_t n = recv(fd, q->in + q->inlen, q->inneed - q->inlen, 0);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            return;
        attempt_failed(q, false);
        return;
    }
    if (n == 0) {
        attempt_failed(q, false);
        return;
    }
    q->inlen += (size_t)n;
    if (q->inlen < q->inneed)
        return;
    if (q->inneed == 2) {
        size_t mlen = ((size_t)q->in[0] << 8) | q->in[1];
        if (mlen < 12) {
            attempt_failed(q, false);
            return;
        }
        q->inneed = 2 + mlen;
        return;
    }
    if (s2s_dns_reply_parse(q->in + 2, q->inlen - 2, q->type, q->name, q->id, &r->scratch) != 0) {
        /* On a connection only the nameserver can answer: a wrong reply is
         * a failed attempt, not one to wait past. */
        attempt_failed(q, false);
        return;
    }
    query_reply(q, &r->scratch);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct query *q = arg;

    (void)fd;
    (void)what;
    bool timeout = !q->send_failed;
    q->send_failed = false;
    attempt_failed(q, timeout);
}

/* A failure to even send is reported from the loop, not from here: the
 * caller may be in the middle of creating a stage's queries. */
static void send_failed(struct query *q)
{
    query_close(q);
    q->send_failed = true;
    event_active(q->timer, EV_TIMEOUT, 1);
}

static void query_send(struct query *q)
{
    struct s2s_resolver *r = q->l->r;
    struct timeval tv = {r->timeout_ms / 1000, (long)(r->timeout_ms % 1000) * 1000};
    uint8_t *wire = NULL;
    size_t wlen = 0;

    q->attempt++;
    /* IDs always come from the kernel, whatever source the SRV weights use. */
    q->id = (uint16_t)random_u32(NULL);
    free(q->out);
    q->out = NULL;
    q->outlen = q->outoff = 0;
    if (event_add(q->timer, &tv) != 0) {
        send_failed(q);
        return;
    }
    if (s2s_dns_query_build(q->type, q->name, q->id, &wire, &wlen) != 0) {
        send_failed(q);
        return;
    }
    if (q->tcp) {
        q->out = malloc(wlen + 2);
        if (q->out != NULL) {
            q->out[0] = (uint8_t)(wlen >> 8);
            q->out[1] = (uint8_t)wlen;
            memcpy(q->out + 2, wire, wlen);
            q->outlen = wlen + 2;
        }
        free(wire);
    } else {
        q->out = wire;
        q->outlen = wlen;
    }
    if (q->out == NULL) {
        send_failed(q);
        return;
    }

    int type = (q->tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC;
    q->fd = socket(r->ns.ss_family, type, 0);
    if (q->fd < 0) {
        send_failed(q);
        return;
    }
    /* Port 0: the kernel picks a random ephemeral source port. */
    struct sockaddr_storage any;
    memset(&any, 0, sizeof(any));
    any.ss_family = r->ns.ss_family;
    socklen_t anylen =
        r->ns.ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
    if (bind(q->fd, (struct sockaddr *)&any, anylen) != 0) {
        send_failed(q);
        return;
    }
    if (connect(q->fd, (const struct sockaddr *)&r->ns, r->nslen) != 0 &&
        !(q->tcp && errno == EINPROGRESS)) {
        send_failed(q);
        return;
    }
    if (q->tcp) {
        q->io = event_new(r->base, q->fd, EV_WRITE | EV_PERSIST, tcp_cb, q);
    } else {
        if (send(q->fd, q->out, q->outlen, 0) != (ssize_t)q->outlen) {
            send_failed(q);
            return;
        }
        q->io = event_new(r->base, q->fd, EV_READ | EV_PERSIST, udp_cb, q);
    }
    if (q->io == NULL || event_add(q->io, NULL) != 0)
        send_failed(q);
}

static struct query *query_new(struct s2s_lookup *l, enum s2s_dns_qtype t, const char *name,
                               size_t target)
{
    struct query *q = calloc(1, sizeof(*q));

    if (q == NULL)
        return NULL;
    q->l = l;
    q->type = t;
    q->fd = -1;
    q->target = target;
    snprintf(q->name, sizeof(q->name), "%s", name);
    q->timer = evtimer_new(l->r->base, timer_cb, q);
    if (q->timer == NULL) {
        free(q);
        return NULL;
    }
    return q;
}

/* ---- lookups ---------------------------------------------------------- */

static void free_queries(struct s2s_lookup *l)
{
    for (size_t i = 0; i < l->nq; i++)
        query_free(l->q[i]);
    free(l->q);
    l->q = NULL;
    l->nq = l->ndone = 0;
}

static void lookup_free(struct s2s_lookup *l)
{
    struct s2s_resolver *r = l->r;

    free_queries(l);
    if (l->defer != NULL)
        event_free(l->defer);
    free(l->targets);
    if (l->prev != NULL)
        l->prev->next = l->next;
    else
        r->head = l->next;
    if (l->next != NULL)
        l->next->prev = l->prev;
    r->pending--;
    free(l);
}

/* Calls the callback, then frees the lookup (and the resolver when it was
 * freed from inside the callback). */
static void deliver_srv(struct s2s_lookup *l)
{
    struct s2s_resolver *r = l->r;

    l->in_cb = true;
    r->depth++;
    l->srv_cb(&l->srv, l->arg);
    r->depth--;
    lookup_free(l);
    if (r->dying && r->depth == 0)
        resolver_destroy(r);
}

static void deliver_addr(struct s2s_lookup *l, enum s2s_resolve_status st,
                         const struct s2s_endpoint *ep, size_t n)
{
    struct s2s_resolver *r = l->r;
    struct s2s_addr_result res = {st, ep, n, l->kind == LK_RESOLVE ? &l->srv : NULL};

    l->in_cb = true;
    r->depth++;
    l->addr_cb(&res, l->arg);
    r->depth--;
    lookup_free(l);
    if (r->dying && r->depth == 0)
        resolver_destroy(r);
}

static void deliver_error(struct s2s_lookup *l, enum s2s_resolve_status st)
{
    if (l->kind == LK_SRV) {
        l->srv.status = st;
        deliver_srv(l);
    } else {
        deliver_addr(l, st, NULL, 0);
    }
}

static int add_query(struct s2s_lookup *l, enum s2s_dns_qtype t, const char *name, size_t target)
{
    struct query *q = query_new(l, t, name, target);

    if (q == NULL)
        return -1;
    l->q[l->nq++] = q;
    return 0;
}

static void start_srv_stage(struct s2s_lookup *l)
{
    l->stage = ST_SRV;
    l->q = calloc(2, sizeof(*l->q));
    if (l->q == NULL || add_query(l, S2S_DNS_SRV_XMPPS, l->domain, 0) != 0 ||
        add_query(l, S2S_DNS_SRV_XMPP, l->domain, 0) != 0) {
        deliver_error(l, S2S_RESOLVE_ERROR);
        return;
    }
    for (size_t i = 0; i < l->nq; i++)
        query_send(l->q[i]);
}

static void start_addr_stage(struct s2s_lookup *l)
{
    free_queries(l);
    l->stage = ST_ADDR;
    l->q = calloc(2 * l->n_targets, sizeof(*l->q));
    if (l->q == NULL) {
        deliver_error(l, S2S_RESOLVE_ERROR);
        return;
    }
    for (size_t i = 0; i < l->n_targets; i++) {
        if (add_query(l, S2S_DNS_AAAA, l->targets[i].host, i) != 0 ||
            add_query(l, S2S_DNS_A, l->targets[i].host, i) != 0) {
            deliver_error(l, S2S_RESOLVE_ERROR);
            return;
        }
    }
    for (size_t i = 0; i < l->nq; i++)
        query_send(l->q[i]);
}

static const struct s2s_dns_reply *usable(const struct query *q)
{
    return q->state == Q_ANSWER && q->reply != NULL && q->rcode != S2S_DNS_SERVFAIL ? q->reply
                                                                                    : NULL;
}

static void finish_srv_stage(struct s2s_lookup *l)
{
    struct s2s_resolver *r = l->r;
    const struct s2s_dns_reply *xs = usable(l->q[0]), *x = usable(l->q[1]);

    l->targets = calloc(r->max_targets, sizeof(*l->targets));
    if (l->targets == NULL) {
        deliver_error(l, S2S_RESOLVE_ERROR);
        return;
    }
    enum s2s_dns_plan plan = s2s_dns_plan_targets(xs, x, l->domain, r->random, r->random_arg,
                                                  l->targets, r->max_targets, &l->n_targets);
    l->srv.plan = plan;
    l->srv.targets = l->targets;
    l->srv.n_targets = l->n_targets;
    if (plan == S2S_PLAN_UNAVAILABLE)
        l->srv.status = S2S_RESOLVE_UNAVAILABLE;
    else if (xs == NULL && x == NULL)
        l->srv.status = l->q[0]->state == Q_TIMEOUT || l->q[1]->state == Q_TIMEOUT
                            ? S2S_RESOLVE_TIMEOUT
                            : S2S_RESOLVE_ERROR;
    else
        l->srv.status = l->n_targets > 0 ? S2S_RESOLVE_OK : S2S_RESOLVE_ERROR;

    if (l->kind == LK_SRV) {
        free_queries(l);
        deliver_srv(l);
        return;
    }
    if (l->n_targets == 0) {
        free_queries(l);
        deliver_addr(l, l->srv.status == S2S_RESOLVE_OK ? S2S_RESOLVE_NOT_FOUND : l->srv.status,
                     NULL, 0);
        return;
    }
    start_addr_stage(l);
}

static void fill_endpoint(struct s2s_endpoint *e, const struct s2s_dns_addr *a,
                          const struct s2s_target *t)
{
    memset(e, 0, sizeof(*e));
    e->target = t;
    if (a->family == AF_INET) {
        struct sockaddr_in *v4 = (struct sockaddr_in *)&e->addr;
        v4->sin_family = AF_INET;
        v4->sin_port = htons(t->port);
        v4->sin_addr = a->u.v4;
        e->addrlen = sizeof(*v4);
    } else {
        struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&e->addr;
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(t->port);
        v6->sin6_addr = a->u.v6;
        e->addrlen = sizeof(*v6);
    }
}

static void finish_addr_stage(struct s2s_lookup *l)
{
    size_t total = 0;
    bool timeout = false, error = false;

    for (size_t i = 0; i < l->nq; i++) {
        const struct query *q = l->q[i];
        if (q->state == Q_ANSWER && q->rcode == S2S_DNS_NOERROR)
            total += q->n_addr;
        else if (q->state == Q_TIMEOUT)
            timeout = true;
        else if (q->state == Q_ERROR || (q->state == Q_ANSWER && q->rcode == S2S_DNS_SERVFAIL))
            error = true;
    }
    struct s2s_endpoint *ep = total > 0 ? calloc(total, sizeof(*ep)) : NULL;
    if (total > 0 && ep == NULL) {
        free_queries(l);
        deliver_addr(l, S2S_RESOLVE_ERROR, NULL, 0);
        return;
    }
    /* Queries were created per target as AAAA then A, so this order is
     * target order, IPv6 first within a target. */
    size_t n = 0;
    for (size_t i = 0; i < l->nq; i++) {
        const struct query *q = l->q[i];
        if (q->state != Q_ANSWER || q->rcode != S2S_DNS_NOERROR)
            continue;
        for (size_t k = 0; k < q->n_addr; k++) {
            bool want = (q->type == S2S_DNS_AAAA) == (q->addr[k].family == AF_INET6);
            if (want)
                fill_endpoint(&ep[n++], &q->addr[k], &l->targets[q->target]);
        }
    }
    free_queries(l);
    enum s2s_resolve_status st = n > 0     ? S2S_RESOLVE_OK
                                 : timeout ? S2S_RESOLVE_TIMEOUT
                                 : error   ? S2S_RESOLVE_ERROR
                                           : S2S_RESOLVE_NOT_FOUND;
    deliver_addr(l, st, ep, n);
    free(ep);
}

static void lookup_query_done(struct s2s_lookup *l)
{
    if (l->ndone < l->nq)
        return;
    if (l->stage == ST_SRV)
        finish_srv_stage(l);
    else
        finish_addr_stage(l);
}

static void defer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct s2s_lookup *l = arg;

    (void)fd;
    (void)what;
    if (l->refused) {
        deliver_error(l, S2S_RESOLVE_ERROR);
        return;
    }
    if (l->literal) {
        struct s2s_endpoint e;
        memset(&e, 0, sizeof(e));
        memcpy(&e.addr, &l->lit, sizeof(e.addr));
        e.addrlen = l->litlen;
        e.target = &l->targets[0];
        deliver_addr(l, S2S_RESOLVE_OK, &e, 1);
        return;
    }
    if (l->kind == LK_ADDR)
        start_addr_stage(l);
    else
        start_srv_stage(l);
}

static struct s2s_lookup *lookup_new(struct s2s_resolver *r, enum lkind kind, void *arg)
{
    if (r == NULL || r->dying)
        return NULL;
    struct s2s_lookup *l = calloc(1, sizeof(*l));
    if (l == NULL)
        return NULL;
    l->r = r;
    l->kind = kind;
    l->arg = arg;
    l->defer = evtimer_new(r->base, defer_cb, l);
    if (l->defer == NULL) {
        free(l);
        return NULL;
    }
    l->refused = r->pending >= r->max_pending;
    l->next = r->head;
    if (r->head != NULL)
        r->head->prev = l;
    r->head = l;
    r->pending++;
    return l;
}

/* Every lookup starts from the loop, so no callback runs inside the call
 * that started it. */
static struct s2s_lookup *lookup_go(struct s2s_lookup *l)
{
    event_active(l->defer, EV_TIMEOUT, 1);
    return l;
}

struct s2s_lookup *s2s_resolver_srv(struct s2s_resolver *r, const char *domain, s2s_srv_cb *cb,
                                    void *arg)
{
    char d[S2S_DNS_NAME_BUFSZ];

    if (cb == NULL || s2s_dns_to_alabel(domain, d, sizeof(d)) != 0)
        return NULL;
    struct s2s_lookup *l = lookup_new(r, LK_SRV, arg);
    if (l == NULL)
        return NULL;
    l->srv_cb = cb;
    memcpy(l->domain, d, sizeof(d));
    return lookup_go(l);
}

struct s2s_lookup *s2s_resolver_resolve(struct s2s_resolver *r, const char *domain, s2s_addr_cb *cb,
                                        void *arg)
{
    char d[S2S_DNS_NAME_BUFSZ];

    if (cb == NULL || s2s_dns_to_alabel(domain, d, sizeof(d)) != 0)
        return NULL;
    struct s2s_lookup *l = lookup_new(r, LK_RESOLVE, arg);
    if (l == NULL)
        return NULL;
    l->addr_cb = cb;
    memcpy(l->domain, d, sizeof(d));
    return lookup_go(l);
}

struct s2s_lookup *s2s_resolver_addr(struct s2s_resolver *r, const char *host, uint16_t port,
                                     bool direct_tls, s2s_addr_cb *cb, void *arg)
{
    char d[S2S_DNS_NAME_BUFSZ];
    struct sockaddr_storage lit;
    socklen_t litlen = 0;
    bool literal = false;

    if (cb == NULL || host == NULL || port == 0)
        return NULL;
    /* An IP literal, bare or bracketed, with no port of its own. */
    size_t hl = strlen(host);
    if (host[0] == '[') {
        literal = hl > 2 && host[hl - 1] == ']' && parse_ip(host, port, &lit, &litlen) == 0;
        if (!literal)
            return NULL;
    } else if (strchr(host, ':') != NULL) {
        char tmp[INET6_ADDRSTRLEN + IF_NAMESIZE + 4];
        if (hl + 3 > sizeof(tmp))
            return NULL;
        snprintf(tmp, sizeof(tmp), "[%s]", host);
        literal = parse_ip(tmp, port, &lit, &litlen) == 0;
        if (!literal)
            return NULL;
    } else {
        literal = parse_ip(host, port, &lit, &litlen) == 0;
    }
    if (literal)
        snprintf(d, sizeof(d), "%s", host);
    else if (s2s_dns_to_alabel(host, d, sizeof(d)) != 0)
        return NULL;
    struct s2s_lookup *l = lookup_new(r, LK_ADDR, arg);
    if (l == NULL)
        return NULL;
    l->addr_cb = cb;
    memcpy(l->domain, d, sizeof(d));
    l->targets = calloc(1, sizeof(*l->targets));
    if (l->targets == NULL) {
        lookup_free(l);
        return NULL;
    }
    memcpy(l->targets[0].host, d, sizeof(d));
    l->targets[0].port = port;
    l->targets[0].direct_tls = direct_tls;
    l->n_targets = 1;
    if (literal) {
        l->literal = true;
        l->lit = lit;
        l->litlen = litlen;
    }
    return lookup_go(l);
}

void s2s_lookup_cancel(struct s2s_lookup *l)
{
    if (l == NULL || l->in_cb)
        return;
    lookup_free(l);
}

static void resolver_destroy(struct s2s_resolver *r)
{
    while (r->head != NULL)
        lookup_free(r->head);
    free(r);
}

void s2s_resolver_free(struct s2s_resolver *r)
{
    if (r == NULL)
        return;
    if (r->depth > 0) {
        /* Inside a callback: the running lookup is freed after it returns,
         * the others now, the resolver last. */
        struct s2s_lookup *l = r->head, *next;
        for (; l != NULL; l = next) {
            next = l->next;
            if (!l->in_cb)
                lookup_free(l);
        }
        r->dying = true;
        return;
    }
    resolver_destroy(r);
}
