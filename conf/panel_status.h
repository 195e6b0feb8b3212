/*
 * panel_status.h - what the status page shows, behind a small source
 * interface.
 *
 * A status source fills a struct panel_status on request. Today the only
 * source is panel_status_none(): the edge and gateway publish no
 * statistics yet, so it reports honestly that nothing is connected. When the
 * IPC statistics exist, a source that reads them implements the same
 * collect() and panel_main.c passes it instead; pages and API do not change.
 */
#ifndef XFED_PANEL_STATUS_H
#define XFED_PANEL_STATUS_H

#include "panel_buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct panel_stream_stat {
    char partner[256];    /* primary domain of the partner */
    char direction[9];    /* "inbound" or "outbound" */
    char tls_version[16]; /* "TLSv1.3", or "" for plain TCP */
    char auth_method[16]; /* "sasl-external", "dialback" */
    time_t since;
    uint64_t stanzas_in, stanzas_out;
};

struct panel_edge_stat {
    char name[128];
    bool connected;
    uint64_t conf_version; /* configuration version the edge runs */
    time_t last_seen;
    struct panel_stream_stat *streams;
    size_t n_streams;
};

struct panel_gateway_stat {
    char name[128];
    char edge[128]; /* edge it is connected to */
    time_t since;
};

struct panel_status {
    bool available; /* false: no source of statistics is connected */
    char why[160];  /* when !available: shown as is */
    struct panel_edge_stat *edges;
    size_t n_edges;
    struct panel_gateway_stat *gateways;
    size_t n_gateways;
};

struct panel_status_source {
    const char *name;
    /* Fills *out (zeroed by the caller). Must not block for long: it runs
     * on the HTTP thread. Returns 0 or -1. */
    int (*collect)(void *arg, struct panel_status *out);
    void *arg;
};

/* The source used until the edge exists: never connected, no data. */
const struct panel_status_source *panel_status_none(void);

/* Collects from src into out (zeroed first). */
int panel_status_collect(const struct panel_status_source *src, struct panel_status *out);
void panel_status_clear(struct panel_status *);

/* JSON view for GET /api/status; stored_version is the version of xfed.conf
 * in the store (0 when unreadable). */
void panel_status_json(struct pbuf *, const struct panel_status *, uint64_t stored_version);

#endif
