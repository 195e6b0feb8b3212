/*
 * s2s_listen.c - listening sockets on the edge loop (libevent's
 * evconnlistener).
 */
#include "s2s_listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "edge.h"
#include "log.h"
#include "s2s_stream.h"

struct s2s_listener {
    struct edge *edge;
    struct evconnlistener *l;
    struct event *ev_resume;
    bool direct_tls;
    unsigned port;
};

static void accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
                      void *arg)
{
    struct s2s_listener *sl = arg;
    (void)l;
    s2s_in_accept(sl->edge, fd, sa, (socklen_t)salen, sl->direct_tls);
}

static void resume_cb(evutil_socket_t fd, short what, void *arg)
{
    struct s2s_listener *sl = arg;
    (void)fd;
    (void)what;
    evconnlistener_enable(sl->l);
}

static void error_cb(struct evconnlistener *l, void *arg)
{
    struct s2s_listener *sl = arg;
    int err = EVUTIL_SOCKET_ERROR();
    log_warnx("event=accept-error port=%u error=\"%s\"", sl->port,
              evutil_socket_error_to_string(err));
    /* EMFILE and friends: pause instead of spinning on a ready socket. */
    evconnlistener_disable(l);
    struct timeval tv = {1, 0};
    evtimer_add(sl->ev_resume, &tv);
}

struct s2s_listener *s2s_listen_new(struct edge *e, const char *addr, unsigned port,
                                    bool direct_tls, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t sl_len;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in *in = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, addr, &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t)port);
        sl_len = sizeof(*in);
    } else if (inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        sl_len = sizeof(*in6);
    } else {
        snprintf(err, errlen, "listen address '%s' is not an IP address", addr);
        return NULL;
    }
    struct s2s_listener *sl = calloc(1, sizeof(*sl));
    if (sl == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    sl->edge = e;
    sl->direct_tls = direct_tls;
    sl->ev_resume = evtimer_new(e->base, resume_cb, sl);
    sl->l = evconnlistener_new_bind(
        e->base, accept_cb, sl, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
        512, (struct sockaddr *)&ss, (int)sl_len);
    if (sl->l == NULL || sl->ev_resume == NULL) {
        snprintf(err, errlen, "cannot listen on %s port %u: %s", addr, port, strerror(errno));
        s2s_listen_free(sl);
        return NULL;
    }
    evconnlistener_set_error_cb(sl->l, error_cb);
    struct sockaddr_storage bound;
    socklen_t blen = sizeof(bound);
    sl->port = port;
    if (getsockname(evconnlistener_get_fd(sl->l), (struct sockaddr *)&bound, &blen) == 0)
        sl->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                     : ((struct sockaddr_in *)&bound)->sin_port);
    log_info("event=listen address=%s port=%u direct_tls=%s", addr, sl->port,
             direct_tls ? "yes" : "no");
    return sl;
}

void s2s_listen_free(struct s2s_listener *sl)
{
    if (sl == NULL)
        return;
    if (sl->l)
        evconnlistener_free(sl->l);
    if (sl->ev_resume)
        event_free(sl->ev_resume);
    free(sl);
}

unsigned s2s_listen_port(const struct s2s_listener *sl)
{
    return sl->port;
}
