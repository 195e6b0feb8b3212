/*
 * panel_metrics.c - the panel's registry and its /metrics thread.
 */
#include "panel_metrics.h"

#include "log.h"
#include "metrics.h"
#include "metrics_catalog.h"
#include "metrics_http.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

struct panel_metrics {
    struct metrics *reg;
    struct event_base *base;
    struct metrics_http *http;
    struct event *stop_ev;
    int stop_pipe[2];
    pthread_t thread;
    bool started;
};

int panel_metrics_check(const char *listen, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t len;
    if (listen == NULL || listen[0] == '\0')
        return 0;
    return metrics_http_parse_listen(listen, &ss, &len, err, errlen);
}

static void on_stop(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    event_base_loopbreak(arg);
}

static void *metrics_main(void *arg)
{
    struct panel_metrics *pm = arg;
    event_base_dispatch(pm->base);
    return NULL;
}

struct panel_metrics *panel_metrics_start(const char *listen, char *err, size_t errlen)
{
    struct panel_metrics *pm = calloc(1, sizeof(*pm));
    if (pm == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pm->stop_pipe[0] = pm->stop_pipe[1] = -1;
    pm->reg = metrics_new("xfed-panel", NULL);
    if (pm->reg == NULL || metrics_define_catalog(pm->reg, METRICS_ROLE_PANEL) != 0) {
        snprintf(err, errlen, "cannot create the metrics registry");
        goto fail;
    }
    if (listen == NULL || listen[0] == '\0')
        return pm;
    pm->base = event_base_new();
    if (pm->base == NULL || pipe2(pm->stop_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
        snprintf(err, errlen, "cannot set up the metrics loop: %s", strerror(errno));
        goto fail;
    }
    struct metrics_http_settings hs;
    metrics_http_settings_init(&hs);
    hs.listen = listen;
    pm->http = metrics_http_new(pm->base, pm->reg, &hs, err, errlen);
    if (pm->http == NULL)
        goto fail;
    pm->stop_ev = event_new(pm->base, pm->stop_pipe[0], EV_READ, on_stop, pm->base);
    if (pm->stop_ev == NULL || event_add(pm->stop_ev, NULL) != 0) {
        snprintf(err, errlen, "cannot set up the metrics loop");
        goto fail;
    }
    int rc = pthread_create(&pm->thread, NULL, metrics_main, pm);
    if (rc != 0) {
        snprintf(err, errlen, "cannot start the metrics thread: %s", strerror(rc));
        goto fail;
    }
    pm->started = true;
    return pm;
fail:
    panel_metrics_stop(pm);
    return NULL;
}

void panel_metrics_stop(struct panel_metrics *pm)
{
    if (pm == NULL)
        return;
    if (pm->started) {
        /* the loop reads the pipe and breaks; a full pipe means it is
         * already told */
        ssize_t w;
        do
            w = write(pm->stop_pipe[1], "x", 1);
        while (w < 0 && errno == EINTR);
        pthread_join(pm->thread, NULL);
    }
    metrics_http_free(pm->http);
    if (pm->stop_ev)
        event_free(pm->stop_ev);
    if (pm->base)
        event_base_free(pm->base);
    for (int i = 0; i < 2; i++)
        if (pm->stop_pipe[i] >= 0)
            close(pm->stop_pipe[i]);
    metrics_free(pm->reg);
    free(pm);
}

struct metrics *panel_metrics_registry(struct panel_metrics *pm)
{
    return pm ? pm->reg : NULL;
}

unsigned panel_metrics_port(const struct panel_metrics *pm)
{
    return pm && pm->http ? metrics_http_port(pm->http) : 0;
}
