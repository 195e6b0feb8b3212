/*
 * panel_status.h - what the status page and GET /api/status show, behind a
 * small source interface.
 *
 * A status source fills a struct panel_status on request. xfed-panel uses
 * the IPC source (panel_status_ipc_new()): it asks every edge of DIR/ops.conf
 * for its statistics through ops_stats.h (live streams, gateways and their
 * queue depth, the configuration version it runs), caching the answer for
 * ops.conf's cache_ms, and reports an edge that does not answer as "not
 * connected" with the reason. panel_status_none() is the source without any
 * statistics: it reports honestly that nothing is connected.
 */
#ifndef XFED_PANEL_STATUS_H
#define XFED_PANEL_STATUS_H

#include "ops_stats.h"
#include "panel_buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct panel_status {
    bool available; /* false: no source of statistics */
    char why[160];  /* when !available: shown as is */
    /* When available: the edges' answers, borrowed from the source and
     * valid until its next collect() or until it is freed. */
    const struct ops_report *report;
};

struct panel_status_source {
    const char *name;
    /* Fills *out (zeroed by the caller). Runs on the HTTP thread and may
     * block for the source's bounded timeout (ops.conf's timeout_ms).
     * Returns 0 or -1. */
    int (*collect)(void *arg, struct panel_status *out);
    void *arg;
};

/* The source without statistics: never connected, no data. */
const struct panel_status_source *panel_status_none(void);

/* The IPC source for confdir: reads DIR/ops.conf (problems are logged with
 * file:line) and checks it; reads no key and opens no connection yet.
 * NULL with a reason in err when ops.conf is invalid. */
struct panel_status_source *panel_status_ipc_new(const char *confdir, char *err, size_t errlen);
void panel_status_ipc_free(struct panel_status_source *);

/* Collects from src into out (zeroed first). */
int panel_status_collect(const struct panel_status_source *src, struct panel_status *out);
void panel_status_clear(struct panel_status *);

/* JSON view for GET /api/status (ops_report_json()'s format); stored_version
 * is the version of xfed.conf in the store (0 when unreadable). */
void panel_status_json(struct pbuf *, const struct panel_status *, uint64_t stored_version);

/* The status page's "Edges" and "Gateways" sections. */
void panel_status_html(struct pbuf *, const struct panel_status *, uint64_t stored_version);

#endif
