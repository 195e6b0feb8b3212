/*
 * panel_status.c - status sources and the status JSON view.
 */
#include "panel_status.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int none_collect(void *arg, struct panel_status *out)
{
    (void)arg;
    out->available = false;
    snprintf(out->why, sizeof(out->why), "No edge or gateway statistics reach this panel yet");
    return 0;
}

static const struct panel_status_source none_source = {
    .name = "none",
    .collect = none_collect,
    .arg = NULL,
};

const struct panel_status_source *panel_status_none(void)
{
    return &none_source;
}

int panel_status_collect(const struct panel_status_source *src, struct panel_status *out)
{
    memset(out, 0, sizeof(*out));
    return src->collect(src->arg, out);
}

void panel_status_clear(struct panel_status *st)
{
    for (size_t i = 0; i < st->n_edges; i++)
        free(st->edges[i].streams);
    free(st->edges);
    free(st->gateways);
    memset(st, 0, sizeof(*st));
}

static void time_json(struct pbuf *b, time_t t)
{
    struct tm tm;
    char ts[32];
    if (t == 0) {
        pbuf_puts(b, "null");
        return;
    }
    gmtime_r(&t, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
    pbuf_json_str(b, ts);
}

void panel_status_json(struct pbuf *b, const struct panel_status *st, uint64_t stored_version)
{
    pbuf_printf(b, "{\"available\":%s,\"reason\":", st->available ? "true" : "false");
    pbuf_json_str(b, st->available ? "" : st->why);
    pbuf_printf(b, ",\"stored_config_version\":%" PRIu64 ",\"edges\":[", stored_version);
    for (size_t i = 0; i < st->n_edges; i++) {
        const struct panel_edge_stat *e = &st->edges[i];
        pbuf_puts(b, i ? ",{\"name\":" : "{\"name\":");
        pbuf_json_str(b, e->name);
        pbuf_printf(b, ",\"connected\":%s,\"config_version\":%" PRIu64 ",\"last_seen\":",
                    e->connected ? "true" : "false", e->conf_version);
        time_json(b, e->last_seen);
        pbuf_puts(b, ",\"streams\":[");
        for (size_t k = 0; k < e->n_streams; k++) {
            const struct panel_stream_stat *s = &e->streams[k];
            pbuf_puts(b, k ? ",{\"partner\":" : "{\"partner\":");
            pbuf_json_str(b, s->partner);
            pbuf_puts(b, ",\"direction\":");
            pbuf_json_str(b, s->direction);
            pbuf_puts(b, ",\"tls_version\":");
            pbuf_json_str(b, s->tls_version);
            pbuf_puts(b, ",\"auth_method\":");
            pbuf_json_str(b, s->auth_method);
            pbuf_puts(b, ",\"since\":");
            time_json(b, s->since);
            pbuf_printf(b, ",\"stanzas_in\":%" PRIu64 ",\"stanzas_out\":%" PRIu64 "}",
                        s->stanzas_in, s->stanzas_out);
        }
        pbuf_puts(b, "]}");
    }
    pbuf_puts(b, "],\"gateways\":[");
    for (size_t i = 0; i < st->n_gateways; i++) {
        const struct panel_gateway_stat *g = &st->gateways[i];
        pbuf_puts(b, i ? ",{\"name\":" : "{\"name\":");
        pbuf_json_str(b, g->name);
        pbuf_puts(b, ",\"edge\":");
        pbuf_json_str(b, g->edge);
        pbuf_puts(b, ",\"since\":");
        time_json(b, g->since);
        pbuf_puts(b, "}");
    }
    pbuf_puts(b, "]}");
}
