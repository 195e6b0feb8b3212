/*
 * bench_gateway_e2e_sip.c - the SIP side of tests/bench/bench_gateway_e2e.py:
 * a load source and a sink of SIP MESSAGEs over TCP, light enough not to be
 * the bottleneck (no SIP stack: headers are copied as text, which is all a
 * 200 OK to a MESSAGE needs, RFC 3261 section 8.2.6.2).
 *
 *   sink   --listen IP:PORT --server IP:PORT --domain D --user PREFIX --users K
 *          --count N [--timeout S] [--ids 1]
 *     registers PREFIX0..PREFIX<K-1>@D with Contact <sip:..@IP:PORT;transport=tcp>
 *     at the SIP server, prints "ready", then answers every MESSAGE 200 until N
 *     arrived (or S seconds pass without one); each body carries "t=<ns>", the
 *     sender's CLOCK_REALTIME, so the sink measures the delivery latency.
 *     --ids 1 prints "got <CLOCK_REALTIME ns> <id> <port> <Call-ID>" for every MESSAGE
 *     whose body carries "id=<id>" (duplicates included), so that a test
 *     counts each message by its id (tests/gateway/scale_failover.py); port
 *     is the sent-by port of the last Via, the hop that sent the request
 *     first (the gateway's SIP listener when Kamailio relays it).
 *   source --server IP:PORT --domain D --from USER --to URI-USER@HOST --count N
 *          [--rate R] [--window W] [--timeout S] [--users K] [--ids 1]
 *     sends N MESSAGEs over one TCP connection, R per second (0: as fast as W
 *     outstanding transactions allow), and counts the final responses. Message
 *     i's body is "t=<ns> i=<i>" and its Call-ID "s<i>-<pid>@<ip>". --users K
 *     sends message i from USER<i mod K> (a dispatcher that hashes the From URI
 *     spreads them over its gateways); --ids 1 prints "final <i> <code> <ns>"
 *     for every final response as it arrives (CLOCK_REALTIME ns), so that a
 *     test knows the outcome of each message (tests/gateway/dispatch_failover.py).
 *
 * Both print one "result ..." line of key=value figures on stdout. Every loop
 * is bounded by --timeout. Network namespaces share CLOCK_REALTIME, so the
 * latency of a message from another namespace is meaningful.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 64
#define BUF_CAP   (4u * 1024u * 1024u)

struct conn {
    int fd;
    char *in;
    size_t in_len;
    char *out;
    size_t out_len;
};

static struct conn conns[MAX_CONNS];
static size_t n_conns;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t real_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int parse_addr(const char *s, struct sockaddr_in *sa)
{
    char host[64];
    const char *colon = strrchr(s, ':');
    if (colon == NULL || (size_t)(colon - s) >= sizeof(host))
        return -1;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';
    memset(sa, 0, sizeof(*sa));
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)atoi(colon + 1));
    return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? 0 : -1;
}

static struct conn *conn_add(int fd)
{
    if (n_conns == MAX_CONNS) {
        close(fd);
        return NULL;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    struct conn *c = &conns[n_conns++];
    c->fd = fd;
    c->in = malloc(BUF_CAP);
    c->out = malloc(BUF_CAP);
    c->in_len = c->out_len = 0;
    if (c->in == NULL || c->out == NULL) {
        fprintf(stderr, "out of memory\n");
        exit(3);
    }
    return c;
}

static void conn_close(size_t i)
{
    close(conns[i].fd);
    free(conns[i].in);
    free(conns[i].out);
    conns[i] = conns[--n_conns];
}

static int queue_out(struct conn *c, const char *b, size_t n)
{
    if (c->out_len + n > BUF_CAP)
        return -1;
    memcpy(c->out + c->out_len, b, n);
    c->out_len += n;
    return 0;
}

static void flush_out(struct conn *c)
{
    while (c->out_len > 0) {
        ssize_t w = send(c->fd, c->out, c->out_len, MSG_NOSIGNAL);
        if (w <= 0)
            return;
        memmove(c->out, c->out + w, c->out_len - (size_t)w);
        c->out_len -= (size_t)w;
    }
}

/* The value of a header (full or compact name) in the header block, or NULL;
 * *len receives its length. */
static const char *header(const char *h, size_t hl, const char *name, const char *compact,
                          size_t *len)
{
    const char *p = h, *end = h + hl;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (eol == NULL)
            eol = end;
        const char *colon = memchr(p, ':', (size_t)(eol - p));
        if (colon) {
            size_t nl = (size_t)(colon - p);
            while (nl > 0 && (p[nl - 1] == ' ' || p[nl - 1] == '\t'))
                nl--;
            if ((nl == strlen(name) && strncasecmp(p, name, nl) == 0) ||
                (compact && nl == strlen(compact) && strncasecmp(p, compact, nl) == 0)) {
                const char *v = colon + 1;
                while (v < eol && (*v == ' ' || *v == '\t'))
                    v++;
                const char *ve = eol;
                while (ve > v && (ve[-1] == '\r' || ve[-1] == ' '))
                    ve--;
                *len = (size_t)(ve - v);
                return v;
            }
        }
        p = eol + 1;
    }
    return NULL;
}

/* One complete message at the start of buf: returns its length, 0 when more
 * bytes are needed, and the header block length in *hl. */
static size_t frame(const char *buf, size_t len, size_t *hl)
{
    size_t i = 0;
    while (i < len && (buf[i] == '\r' || buf[i] == '\n'))
        i++;
    if (i > 0)
        return i; /* keep-alive bytes: consumed as a "message" of no headers */
    const char *e = NULL;
    for (size_t k = 0; k + 3 < len; k++)
        if (buf[k] == '\r' && buf[k + 1] == '\n' && buf[k + 2] == '\r' && buf[k + 3] == '\n') {
            e = buf + k;
            break;
        }
    if (e == NULL)
        return 0;
    *hl = (size_t)(e - buf) + 4;
    size_t cl_len = 0;
    const char *cl = header(buf, *hl, "Content-Length", "l", &cl_len);
    size_t body = cl ? (size_t)strtoul(cl, NULL, 10) : 0;
    return *hl + body <= len ? *hl + body : 0;
}

/* Appends the lines of name/compact from h to out (all of them: Via). */
static size_t copy_headers(char *out, size_t cap, size_t off, const char *h, size_t hl,
                           const char *name, const char *compact, bool all, const char *suffix)
{
    const char *p = h, *end = h + hl;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (eol == NULL)
            break;
        const char *colon = memchr(p, ':', (size_t)(eol - p));
        if (colon) {
            size_t nl = (size_t)(colon - p);
            if ((nl == strlen(name) && strncasecmp(p, name, nl) == 0) ||
                (compact && nl == strlen(compact) && strncasecmp(p, compact, nl) == 0)) {
                size_t ll = (size_t)(eol - p);
                if (ll > 0 && p[ll - 1] == '\r')
                    ll--;
                int w = snprintf(out + off, cap - off, "%.*s%s\r\n", (int)ll, p, suffix);
                if (w > 0 && (size_t)w < cap - off)
                    off += (size_t)w;
                if (!all)
                    break;
            }
        }
        p = eol + 1;
    }
    return off;
}

static void usage(void)
{
    fprintf(stderr, "usage: bench_gateway_e2e_sip sink|source [options] (see the source)\n");
    exit(2);
}

/* ---- sink --------------------------------------------------------------- */

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* The value of the first header name (or its compact form) in the head
 * (hl bytes): its length, *v pointing at it; 0 if absent. */
static int header_value(const char *msg, size_t hl, const char *name, const char *compact,
                        const char **v)
{
    const char *p = msg, *end = msg + hl;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (eol == NULL)
            eol = end;
        const char *colon = memchr(p, ':', (size_t)(eol - p));
        if (colon) {
            size_t nl = (size_t)(colon - p);
            while (nl > 0 && p[nl - 1] == ' ')
                nl--;
            if ((nl == strlen(name) && strncasecmp(p, name, nl) == 0) ||
                (compact && nl == strlen(compact) && strncasecmp(p, compact, nl) == 0)) {
                const char *b = colon + 1, *e = eol;
                while (b < e && *b == ' ')
                    b++;
                while (e > b && (e[-1] == '\r' || e[-1] == ' '))
                    e--;
                *v = b;
                return (int)(e - b);
            }
        }
        p = eol + 1;
    }
    return 0;
}

/* The port in the last Via header of the head (hl bytes), 0 if none. */
static unsigned first_hop_port(const char *msg, size_t hl)
{
    const char *last = NULL, *p = msg, *end = msg + hl;
    while ((p = memmem(p, (size_t)(end - p), "\nVia:", 5)) != NULL) {
        last = p + 5;
        p += 5;
    }
    if (last == NULL)
        return 0;
    const char *eol = memchr(last, '\n', (size_t)(end - last));
    if (eol == NULL)
        eol = end;
    const char *sp = memchr(last, ' ', (size_t)(eol - last)); /* after the leading space */
    while (sp && sp < eol && *sp == ' ')
        sp++;
    sp = sp ? memchr(sp, ' ', (size_t)(eol - sp)) : NULL; /* "SIP/2.0/TCP host:port" */
    if (sp == NULL)
        return 0;
    const char *colon = memchr(sp, ':', (size_t)(eol - sp));
    return colon ? (unsigned)strtoul(colon + 1, NULL, 10) : 0;
}

static int run_sink(int argc, char **argv)
{
    const char *listen_s = NULL, *server_s = NULL, *domain = NULL, *user = "bob";
    unsigned users = 1, timeout = 60;
    unsigned long count = 0;
    bool ids = false;
    for (int i = 0; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--listen"))
            listen_s = argv[i + 1];
        else if (!strcmp(argv[i], "--server"))
            server_s = argv[i + 1];
        else if (!strcmp(argv[i], "--domain"))
            domain = argv[i + 1];
        else if (!strcmp(argv[i], "--user"))
            user = argv[i + 1];
        else if (!strcmp(argv[i], "--users"))
            users = (unsigned)atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--count"))
            count = strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--timeout"))
            timeout = (unsigned)atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--ids"))
            ids = atoi(argv[i + 1]) != 0;
        else
            usage();
    }
    struct sockaddr_in la, sa;
    if (!listen_s || !server_s || !domain || !count || parse_addr(listen_s, &la) ||
        parse_addr(server_s, &sa))
        usage();
    int lfd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(lfd, (struct sockaddr *)&la, sizeof(la)) != 0 || listen(lfd, 64) != 0) {
        perror("listen");
        return 3;
    }
    fcntl(lfd, F_SETFL, fcntl(lfd, F_GETFL) | O_NONBLOCK);
    /* REGISTER every user over one connection and wait for the 200s */
    int rfd = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(rfd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        perror("connect");
        return 3;
    }
    struct conn *rc = conn_add(rfd);
    char ip[32];
    inet_ntop(AF_INET, &la.sin_addr, ip, sizeof(ip));
    for (unsigned u = 0; u < users; u++) {
        char req[1024];
        int n = snprintf(req, sizeof(req),
                         "REGISTER sip:%s SIP/2.0\r\nVia: SIP/2.0/TCP %s:%u;branch=z9hG4bKreg%u\r\n"
                         "From: <sip:%s%u@%s>;tag=r%u\r\nTo: <sip:%s%u@%s>\r\n"
                         "Call-ID: reg%u-%u@%s\r\nCSeq: 1 REGISTER\r\nMax-Forwards: 70\r\n"
                         "Contact: <sip:%s%u@%s:%u;transport=tcp>\r\nExpires: 3600\r\n"
                         "Content-Length: 0\r\n\r\n",
                         domain, ip, ntohs(la.sin_port), u, user, u, domain, u, user, u, domain, u,
                         (unsigned)getpid(), ip, user, u, ip, ntohs(la.sin_port));
        queue_out(rc, req, (size_t)n);
    }
    unsigned ok = 0;
    double end = now_s() + 20;
    while (ok < users && now_s() < end) {
        flush_out(rc);
        struct pollfd p = {.fd = rfd, .events = POLLIN};
        if (poll(&p, 1, 100) <= 0)
            continue;
        ssize_t r = recv(rfd, rc->in + rc->in_len, BUF_CAP - rc->in_len, 0);
        if (r <= 0)
            break;
        rc->in_len += (size_t)r;
        size_t hl = 0, m;
        while ((m = frame(rc->in, rc->in_len, &hl)) > 0) {
            if (rc->in_len >= 12 && strncmp(rc->in, "SIP/2.0 200", 11) == 0)
                ok++;
            memmove(rc->in, rc->in + m, rc->in_len - m);
            rc->in_len -= m;
        }
    }
    conn_close(0);
    if (ok < users) {
        fprintf(stderr, "only %u of %u users registered\n", ok, users);
        return 1;
    }
    printf("ready\n");
    fflush(stdout);

    uint32_t *lat = calloc(count, sizeof(*lat));
    unsigned long got = 0, bad = 0;
    double first = 0, last = 0, idle_since = now_s();
    while (got < count && now_s() - idle_since < timeout) {
        struct pollfd p[MAX_CONNS + 1];
        p[0].fd = lfd;
        p[0].events = POLLIN;
        for (size_t i = 0; i < n_conns; i++) {
            p[i + 1].fd = conns[i].fd;
            p[i + 1].events = POLLIN | (conns[i].out_len ? POLLOUT : 0);
        }
        if (poll(p, n_conns + 1, 200) <= 0)
            continue;
        if (p[0].revents & POLLIN) {
            int fd;
            while ((fd = accept(lfd, NULL, NULL)) >= 0)
                conn_add(fd);
        }
        for (size_t i = 0; i < n_conns && i < MAX_CONNS; i++) {
            struct conn *c = &conns[i];
            if (!(p[i + 1].revents & (POLLIN | POLLHUP | POLLERR))) {
                flush_out(c);
                continue;
            }
            ssize_t r = recv(c->fd, c->in + c->in_len, BUF_CAP - c->in_len, 0);
            if (r <= 0) {
                if (r == 0 || errno != EAGAIN) {
                    conn_close(i);
                    break;
                }
                continue;
            }
            c->in_len += (size_t)r;
            size_t hl = 0, m, off = 0;
            while ((m = frame(c->in + off, c->in_len - off, &hl)) > 0) {
                const char *msg = c->in + off;
                if (hl > 0 && strncmp(msg, "MESSAGE ", 8) == 0) {
                    char resp[4096];
                    size_t o = (size_t)snprintf(resp, sizeof(resp), "SIP/2.0 200 OK\r\n");
                    o = copy_headers(resp, sizeof(resp), o, msg, hl, "Via", "v", true, "");
                    o = copy_headers(resp, sizeof(resp), o, msg, hl, "From", "f", false, "");
                    o = copy_headers(resp, sizeof(resp), o, msg, hl, "To", "t", false, ";tag=bs");
                    o = copy_headers(resp, sizeof(resp), o, msg, hl, "Call-ID", "i", false, "");
                    o = copy_headers(resp, sizeof(resp), o, msg, hl, "CSeq", NULL, false, "");
                    o += (size_t)snprintf(resp + o, sizeof(resp) - o, "Content-Length: 0\r\n\r\n");
                    queue_out(c, resp, o);
                    const char *t = memmem(msg + hl, m - hl, "t=", 2);
                    uint64_t now = real_ns();
                    const char *id = ids ? memmem(msg + hl, m - hl, "id=", 3) : NULL;
                    if (id) {
                        int idl = 0;
                        while (id + 3 + idl < msg + m && idl < 64 &&
                               (unsigned char)id[3 + idl] > ' ')
                            idl++;
                        const char *cid = NULL;
                        int cl = header_value(msg, hl, "Call-ID", "i", &cid);
                        printf("got %llu %.*s %u %.*s\n", (unsigned long long)now, idl, id + 3,
                               first_hop_port(msg, hl), cl, cl ? cid : "");
                        fflush(stdout); /* the test reads it as it comes */
                    }
                    if (t && got < count) {
                        uint64_t sent = strtoull(t + 2, NULL, 10);
                        uint64_t us = now > sent ? (now - sent) / 1000 : 0;
                        lat[got] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
                    } else {
                        bad++;
                    }
                    if (got == 0)
                        first = now_s();
                    got++;
                    last = now_s();
                    idle_since = last;
                }
                off += m;
            }
            memmove(c->in, c->in + off, c->in_len - off);
            c->in_len -= off;
            flush_out(c);
        }
    }
    for (size_t i = 0; i < n_conns; i++)
        flush_out(&conns[i]);
    size_t n = got < count ? got : count;
    qsort(lat, n, sizeof(*lat), cmp_u32);
    double span = last > first ? last - first : 0;
    printf("result received=%lu no_timestamp=%lu span_s=%.3f rate=%.0f p50_us=%u p99_us=%u "
           "max_us=%u\n",
           got, bad, span, span > 0 ? (double)(got - 1) / span : 0, n ? lat[n / 2] : 0,
           n ? lat[(size_t)((double)n * 0.99)] : 0, n ? lat[n - 1] : 0);
    fflush(stdout);
    free(lat);
    return got >= count ? 0 : 1;
}

/* ---- source ------------------------------------------------------------- */

static int run_source(int argc, char **argv)
{
    const char *server_s = NULL, *domain = NULL, *from = "carol", *to = NULL;
    unsigned long count = 0, rate = 0, window = 2000, users = 0;
    unsigned timeout = 60;
    bool ids = false;
    for (int i = 0; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--server"))
            server_s = argv[i + 1];
        else if (!strcmp(argv[i], "--domain"))
            domain = argv[i + 1];
        else if (!strcmp(argv[i], "--from"))
            from = argv[i + 1];
        else if (!strcmp(argv[i], "--to"))
            to = argv[i + 1];
        else if (!strcmp(argv[i], "--count"))
            count = strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--rate"))
            rate = strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--window"))
            window = strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--timeout"))
            timeout = (unsigned)atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--users"))
            users = strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--ids"))
            ids = atoi(argv[i + 1]) != 0;
        else
            usage();
    }
    struct sockaddr_in sa;
    if (!server_s || !domain || !to || !count || parse_addr(server_s, &sa))
        usage();
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        perror("connect");
        return 3;
    }
    struct sockaddr_in me;
    socklen_t ml = sizeof(me);
    getsockname(fd, (struct sockaddr *)&me, &ml);
    char ip[32];
    inet_ntop(AF_INET, &me.sin_addr, ip, sizeof(ip));
    struct conn *c = conn_add(fd);
    unsigned long sent = 0, final = 0, ok = 0;
    unsigned long codes[7] = {0};
    double t0 = now_s(), deadline = t0 + timeout, last_final = t0;
    while (final < count && now_s() < deadline) {
        double now = now_s();
        unsigned long due = rate ? (unsigned long)((now - t0) * (double)rate) + 1 : count;
        while (sent < count && sent < due && sent - final < window) {
            char body[64], req[1024], user[64];
            int bl =
                snprintf(body, sizeof(body), "t=%llu i=%lu", (unsigned long long)real_ns(), sent);
            if (users)
                snprintf(user, sizeof(user), "%s%lu", from, sent % users);
            else
                snprintf(user, sizeof(user), "%s", from);
            int n =
                snprintf(req, sizeof(req),
                         "MESSAGE sip:%s SIP/2.0\r\nVia: SIP/2.0/TCP %s:%u;branch=z9hG4bKs%lu\r\n"
                         "From: <sip:%s@%s>;tag=s%lu\r\nTo: <sip:%s>\r\n"
                         "Call-ID: s%lu-%u@%s\r\nCSeq: 1 MESSAGE\r\nMax-Forwards: 70\r\n"
                         "Content-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s",
                         to, ip, ntohs(me.sin_port), sent, user, domain, sent, to, sent,
                         (unsigned)getpid(), ip, bl, body);
            if (queue_out(c, req, (size_t)n) != 0)
                break;
            sent++;
        }
        flush_out(c);
        struct pollfd p = {.fd = fd, .events = POLLIN | (c->out_len ? POLLOUT : 0)};
        if (poll(&p, 1, rate ? 1 : 50) <= 0)
            continue;
        if (p.revents & POLLIN) {
            ssize_t r = recv(fd, c->in + c->in_len, BUF_CAP - c->in_len, 0);
            if (r == 0 || (r < 0 && errno != EAGAIN))
                break;
            if (r > 0)
                c->in_len += (size_t)r;
            size_t hl = 0, m, off = 0;
            while ((m = frame(c->in + off, c->in_len - off, &hl)) > 0) {
                const char *msg = c->in + off;
                if (hl > 0 && strncmp(msg, "SIP/2.0 ", 8) == 0) {
                    int code = atoi(msg + 8);
                    if (code >= 200) {
                        if (ids) {
                            const char *cid = NULL;
                            int cl = header_value(msg, hl, "Call-ID", "i", &cid);
                            printf("final %lu %d %llu\n",
                                   cl > 1 && cid[0] == 's' ? strtoul(cid + 1, NULL, 10) : ~0ul,
                                   code, (unsigned long long)real_ns());
                            fflush(stdout);
                        }
                        final++;
                        last_final = now_s();
                        codes[code / 100 < 7 ? code / 100 : 6]++;
                        if (code < 300)
                            ok++;
                    }
                }
                off += m;
            }
            memmove(c->in, c->in + off, c->in_len - off);
            c->in_len -= off;
        }
    }
    double span = last_final - t0;
    printf("result sent=%lu final=%lu ok=%lu 4xx=%lu 5xx=%lu 6xx=%lu span_s=%.3f rate=%.0f\n", sent,
           final, ok, codes[4], codes[5], codes[6], span, span > 0 ? (double) final / span : 0);
    fflush(stdout);
    conn_close(0);
    return final == count ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        usage();
    if (!strcmp(argv[1], "sink"))
        return run_sink(argc - 2, argv + 2);
    if (!strcmp(argv[1], "source"))
        return run_source(argc - 2, argv + 2);
    usage();
    return 2;
}
