/*
 * panel_status.c - status sources (none, IPC through ops_stats.h) and the
 * status views: JSON for the API, HTML sections for the page.
 */
#include "panel_status.h"

#include "conf_report.h"
#include "log.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int none_collect(void *arg, struct panel_status *out)
{
    (void)arg;
    out->available = false;
    snprintf(out->why, sizeof(out->why), "No edge or gateway statistics reach this panel");
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

/* ---- the IPC source ---------------------------------------------------- */

struct ipc_source {
    struct panel_status_source src; /* first: the pointer handed out */
    struct ops_stats *ops;
};

static int ipc_collect(void *arg, struct panel_status *out)
{
    struct ipc_source *is = arg;
    const struct ops_report *r = ops_stats_query(is->ops, true);
    if (r == NULL)
        return -1;
    out->available = true;
    out->report = r;
    return 0;
}

struct panel_status_source *panel_status_ipc_new(const char *confdir, char *err, size_t errlen)
{
    struct ops_local l;
    struct conf_report rep;
    conf_report_init(&rep);
    int rc = ops_local_read(confdir, &l, &rep);
    for (size_t i = 0; i < rep.n; i++) {
        const struct conf_issue *is = &rep.v[i];
        log_warnx("%s:%d: %s: %s", is->file ? is->file : OPS_CONF_FILE, is->line,
                  is->severity == CONF_ERROR ? "error" : "warning", is->message);
    }
    conf_report_clear(&rep);
    if (rc != 0) {
        ops_local_free(&l);
        snprintf(err, errlen, "%s/%s: rejected", confdir, OPS_CONF_FILE);
        return NULL;
    }
    char why[256];
    struct ops_stats *ops = ops_stats_new(confdir, &l, "panel", why, sizeof(why));
    ops_local_free(&l);
    if (ops == NULL) {
        snprintf(err, errlen, "%s/%s: %s", confdir, OPS_CONF_FILE, why);
        return NULL;
    }
    struct ipc_source *is = calloc(1, sizeof(*is));
    if (is == NULL) {
        ops_stats_free(ops);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    is->ops = ops;
    is->src.name = "ipc";
    is->src.collect = ipc_collect;
    is->src.arg = is;
    return &is->src;
}

void panel_status_ipc_free(struct panel_status_source *src)
{
    if (src == NULL)
        return;
    struct ipc_source *is = (struct ipc_source *)(void *)src;
    ops_stats_free(is->ops);
    free(is);
}

int panel_status_collect(const struct panel_status_source *src, struct panel_status *out)
{
    memset(out, 0, sizeof(*out));
    return src->collect(src->arg, out);
}

void panel_status_clear(struct panel_status *st)
{
    /* the report belongs to the source */
    memset(st, 0, sizeof(*st));
}

/* ---- JSON -------------------------------------------------------------- */

void panel_status_json(struct pbuf *b, const struct panel_status *st, uint64_t stored_version)
{
    struct jbuf j;
    jbuf_init(&j);
    ops_report_json(&j, st->available ? st->report : NULL, st->why, stored_version);
    if (j.failed)
        b->failed = true;
    else
        pbuf_add(b, j.s, j.len);
    jbuf_free(&j);
}

/* ---- HTML -------------------------------------------------------------- */

static void when(struct pbuf *b, uint64_t t)
{
    struct tm tm;
    char ts[40];
    time_t tt = (time_t)t;
    if (t == 0 || gmtime_r(&tt, &tm) == NULL) {
        pbuf_puts(b, "&mdash;");
        return;
    }
    strftime(ts, sizeof(ts), "%Y-%m-%d %H:%M:%S UTC", &tm);
    pbuf_html(b, ts);
}

static const char *plural(size_t n)
{
    return n == 1 ? "" : "s";
}

static void config_pill(struct pbuf *b, const struct ops_edge *e, uint64_t stored)
{
    const char *state = ops_config_state(e->conf_version, stored);
    if (strcmp(state, "current") == 0)
        pbuf_puts(b, " <span class=\"pill req\" data-config=\"current\">current</span>");
    else if (strcmp(state, "stale") == 0)
        pbuf_printf(b,
                    " <span class=\"pill opt\" data-config=\"stale\">stale: the store has "
                    "version %" PRIu64 "</span>",
                    stored);
    else if (strcmp(state, "ahead") == 0)
        pbuf_printf(b,
                    " <span class=\"pill opt\" data-config=\"ahead\">newer than this store's "
                    "version %" PRIu64 "</span>",
                    stored);
    else
        pbuf_puts(b, " <span class=\"pill off\" data-config=\"unknown\">store version "
                     "unknown</span>");
}

static void streams_table(struct pbuf *b, const struct ops_edge *e)
{
    if (e->n_streams == 0) {
        pbuf_puts(b, "<p>No stream.</p>");
        return;
    }
    pbuf_puts(b,
              "<div class=\"table-wrap\"><table class=\"list streams\"><caption class=\"sr-only\">"
              "Streams of ");
    pbuf_html(b, e->name);
    pbuf_puts(b, "</caption><thead><tr><th scope=\"col\">Partner</th><th scope=\"col\">Direction"
                 "</th><th scope=\"col\">TLS</th><th scope=\"col\">Authentication</th>"
                 "<th scope=\"col\">Since</th><th scope=\"col\">Stanzas in</th>"
                 "<th scope=\"col\">Stanzas out</th></tr></thead><tbody>");
    for (size_t k = 0; k < e->n_streams; k++) {
        const struct ops_stream *s = &e->streams[k];
        pbuf_puts(b, "<tr><th scope=\"row\">");
        pbuf_html(b, s->partner[0] ? s->partner : "(not yet known)");
        pbuf_puts(b, "</th><td data-label=\"Direction\">");
        pbuf_puts(b, ops_direction_name(s->direction));
        pbuf_puts(b, "</td><td data-label=\"TLS\">");
        pbuf_html(b, s->tls_version[0] ? s->tls_version : "none");
        pbuf_puts(b, "</td><td data-label=\"Authentication\">");
        if (s->auth == IPC_AUTH_NONE)
            pbuf_puts(b, "none <span class=\"badge warn\">negotiating</span>");
        else
            pbuf_puts(b, ops_auth_name(s->auth));
        pbuf_puts(b, "</td><td data-label=\"Since\">");
        when(b, s->since);
        pbuf_printf(b,
                    "</td><td data-label=\"Stanzas in\">%" PRIu64
                    "</td><td data-label=\"Stanzas out\">%" PRIu64 "</td></tr>",
                    s->stanzas_in, s->stanzas_out);
    }
    pbuf_puts(b, "</tbody></table></div>");
}

static void edge_article(struct pbuf *b, const struct ops_edge *e, uint64_t stored)
{
    pbuf_puts(b, "<article class=\"edge\" data-endpoint=\"");
    pbuf_html(b, e->endpoint);
    pbuf_printf(b, "\" data-state=\"%s\"><h3>", e->connected ? "connected" : "not-connected");
    pbuf_html(b, e->connected && e->name[0] ? e->name : e->endpoint);
    if (e->connected && e->name[0]) {
        pbuf_puts(b, " <span class=\"meta\">");
        pbuf_html(b, e->endpoint);
        pbuf_puts(b, "</span>");
    }
    pbuf_puts(b, "</h3>");
    if (!e->connected) {
        pbuf_puts(b, "<p class=\"state off\"><strong>Not connected.</strong> ");
        pbuf_html(b, e->reason);
        pbuf_puts(b, ".</p></article>");
        return;
    }
    pbuf_printf(b,
                "<p class=\"state on\">Connected: runs configuration version <strong>%" PRIu64
                "</strong>",
                e->conf_version);
    config_pill(b, e, stored);
    pbuf_printf(b, "; %zu stream%s, %zu gateway%s; answered in %u ms at ", e->n_streams,
                plural(e->n_streams), e->n_gateways, plural(e->n_gateways), e->answer_ms);
    when(b, e->answered_at);
    pbuf_puts(b, ".</p>");
    streams_table(b, e);
    pbuf_puts(b, "</article>");
}

static void gateways_section(struct pbuf *b, const struct panel_status *st, size_t connected)
{
    pbuf_puts(b, "<section><h2>Gateways</h2>");
    if (!st->available) {
        pbuf_puts(b, "<p class=\"state off\" id=\"gateway-state\"><strong>Not connected.</strong> "
                     "No data about gateways.</p></section>");
        return;
    }
    const struct ops_report *r = st->report;
    size_t total = 0;
    for (size_t i = 0; i < r->n_edges; i++)
        total += r->edges[i].n_gateways;
    if (connected == 0) {
        pbuf_puts(b, "<p class=\"state off\" id=\"gateway-state\"><strong>Not connected.</strong> "
                     "No edge answered, so nothing is known of the gateways.</p></section>");
        return;
    }
    if (total == 0) {
        pbuf_puts(b, "<p class=\"state off\" id=\"gateway-state\">No gateway is connected to the "
                     "edges that answered.</p></section>");
        return;
    }
    pbuf_printf(b,
                "<p class=\"state on\" id=\"gateway-state\">%zu gateway session%s. Unacked is the "
                "gateway's queue depth: messages the edge sent it that wait for its "
                "acknowledgement. Users is its share: the internal users whose traffic the "
                "edge gives to it.</p>",
                total, plural(total));
    pbuf_puts(b, "<div class=\"table-wrap\"><table class=\"list gateways\"><thead><tr>"
                 "<th scope=\"col\">Gateway</th><th scope=\"col\">Edge</th>"
                 "<th scope=\"col\">Connected since</th><th scope=\"col\">Unacked</th>"
                 "<th scope=\"col\">Users</th></tr>"
                 "</thead><tbody>");
    for (size_t i = 0; i < r->n_edges; i++) {
        const struct ops_edge *e = &r->edges[i];
        for (size_t k = 0; k < e->n_gateways; k++) {
            pbuf_puts(b, "<tr><th scope=\"row\">");
            pbuf_html(b, e->gateways[k].name);
            pbuf_puts(b, "</th><td data-label=\"Edge\">");
            pbuf_html(b, e->name[0] ? e->name : e->endpoint);
            pbuf_puts(b, "</td><td data-label=\"Connected since\">");
            when(b, e->gateways[k].since);
            pbuf_printf(b,
                        "</td><td data-label=\"Unacked\">%" PRIu32
                        "</td><td data-label=\"Users\">%" PRIu32 "</td></tr>",
                        e->gateways[k].unacked, e->gateways[k].users);
        }
    }
    pbuf_puts(b, "</tbody></table></div></section>");
}

void panel_status_html(struct pbuf *b, const struct panel_status *st, uint64_t stored_version)
{
    size_t connected = 0;
    pbuf_puts(b, "<section><h2>Edges</h2>");
    if (!st->available) {
        pbuf_puts(b, "<p class=\"state off\" id=\"edge-state\"><strong>Not connected.</strong> ");
        pbuf_html(b, st->why);
        pbuf_puts(b, ".</p><p>No data: live streams per partner (direction, TLS version, "
                     "authentication method, since when, stanzas in and out) and the "
                     "configuration version each edge runs appear here once edges report "
                     "statistics.</p></section>");
        gateways_section(b, st, 0);
        return;
    }
    const struct ops_report *r = st->report;
    for (size_t i = 0; i < r->n_edges; i++)
        connected += r->edges[i].connected;
    if (connected == 0)
        pbuf_printf(b,
                    "<p class=\"state off\" id=\"edge-state\"><strong>Not connected.</strong> "
                    "None of the %zu configured edge%s answered.</p>",
                    r->n_edges, plural(r->n_edges));
    else
        pbuf_printf(b, "<p class=\"state on\" id=\"edge-state\">%zu of %zu edge%s connected.</p>",
                    connected, r->n_edges, plural(r->n_edges));
    pbuf_puts(b, "<p class=\"meta\">Asked at ");
    when(b, r->at);
    pbuf_puts(b, r->cached ? " (a recent answer, shown again)." : ".");
    pbuf_puts(b, " The edges are listed in ops.conf.</p>");
    for (size_t i = 0; i < r->n_edges; i++)
        edge_article(b, &r->edges[i], stored_version);
    pbuf_puts(b, "</section>");
    gateways_section(b, st, connected);
}
