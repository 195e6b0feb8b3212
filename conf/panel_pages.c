/*
 * panel_pages.c - the HTML pages. Server-rendered, working as plain HTML
 * forms (POST, then 303 to a page: no resubmission on reload); panel.js
 * only adds conveniences. Edit controls are rendered only for roles that may
 * change (panel_auth.h); the router refuses the change anyway.
 */
#include "conf_json.h"
#include "conf_settings.h"
#include "conf_validate.h"
#include "log.h"
#include "panel_assets.h"
#include "panel_auth.h"
#include "panel_csrf.h"
#include "panel_edit.h"
#include "panel_routes.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* Layout ------------------------------------------------------------------ */

struct nav_item {
    const char *href;
    const char *label;
    enum panel_action needs;
};

static const struct nav_item nav_federation[] = {
    {"/partners", "XMPP Federated Partners", ACT_READ},
    {"/domains", "Hosted domains", ACT_READ},
    {"/access", "User access policy", ACT_READ},
    {"/settings", "Global settings", ACT_READ},
    {NULL, NULL, ACT_READ},
};

static const struct nav_item nav_monitoring[] = {
    {"/status", "Status", ACT_READ},
    {"/audit", "Audit log", ACT_AUDIT},
    {NULL, NULL, ACT_READ},
};

static bool can(const struct panel_ctx *cx, enum panel_action a)
{
    return cx->s != NULL && panel_role_allows(cx->s->role, a);
}

static void nav_list(struct panel_ctx *cx, struct pbuf *b, const char *title,
                     const struct nav_item *items, const char *current)
{
    pbuf_puts(b, "<h2>");
    pbuf_html(b, title);
    pbuf_puts(b, "</h2><ul>");
    for (const struct nav_item *n = items; n->href != NULL; n++) {
        if (!can(cx, n->needs))
            continue;
        pbuf_printf(b, "<li><a href=\"%s\"%s>", n->href,
                    strcmp(n->href, current) == 0 ? " aria-current=\"page\"" : "");
        pbuf_html(b, n->label);
        pbuf_puts(b, "</a></li>");
    }
    pbuf_puts(b, "</ul>");
}

static void csrf_field(const struct panel_ctx *cx, struct pbuf *b)
{
    if (cx->s == NULL)
        return;
    pbuf_printf(b, "<input type=\"hidden\" name=\"%s\" value=\"%s\">", PANEL_CSRF_FIELD,
                cx->s->csrf);
}

static void page_begin(struct panel_ctx *cx, const char *title, const char *current)
{
    struct pbuf *b = &cx->rs->body;
    cx->rs->content_type = "text/html; charset=utf-8";
    pbuf_reset(b);
    pbuf_puts(b, "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                 "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                 "<title>");
    pbuf_html(b, title);
    pbuf_puts(b, " - xfed</title><link rel=\"stylesheet\" href=\"/static/panel.css\">"
                 "<link rel=\"icon\" href=\"/static/favicon.svg\" type=\"image/svg+xml\">"
                 "<script src=\"/static/panel.js\" defer></script>");
    if (cx->s != NULL)
        pbuf_printf(b, "<meta name=\"csrf-token\" content=\"%s\">", cx->s->csrf);
    pbuf_puts(b, "</head><body><a class=\"skip\" href=\"#main\">Skip to content</a>"
                 "<header class=\"top\"><a class=\"brand\" href=\"/\">xfed</a>"
                 "<span class=\"product\">XMPP federation control panel</span>");
    if (cx->s != NULL) {
        pbuf_puts(b, "<div class=\"who\"><span>");
        pbuf_html(b, cx->s->user);
        pbuf_printf(b, " <span class=\"role\">%s</span></span>", panel_role_name(cx->s->role));
        pbuf_puts(b, "<form method=\"post\" action=\"/signout\">");
        csrf_field(cx, b);
        pbuf_puts(b, "<button type=\"submit\" class=\"link\">Sign out</button></form></div>");
    }
    pbuf_puts(b, "</header><div class=\"layout\">");
    if (cx->s != NULL) {
        pbuf_puts(b, "<nav class=\"side\" aria-label=\"Sections\">");
        nav_list(cx, b, "Federation and External Access", nav_federation, current);
        nav_list(cx, b, "Monitoring", nav_monitoring, current);
        pbuf_puts(b, "</nav>");
    }
    pbuf_puts(b, "<main id=\"main\" tabindex=\"-1\">");
}

static void page_end(struct panel_ctx *cx)
{
    pbuf_puts(&cx->rs->body, "</main></div></body></html>\n");
}

/* Shows and clears the session's one-shot messages that concern no field
 * on this page (fields: the ones the page shows next to its inputs). */
static void flash_general(struct panel_ctx *cx)
{
    struct pbuf *b = &cx->rs->body;
    if (cx->s == NULL || cx->s->flash.n == 0)
        return;
    const char *kind = cx->s->flash_kind[0] ? cx->s->flash_kind : "ok";
    pbuf_printf(b, "<div class=\"flash %s\" role=\"%s\"><ul>", kind,
                strcmp(kind, "ok") == 0 ? "status" : "alert");
    for (size_t i = 0; i < cx->s->flash.n; i++) {
        pbuf_puts(b, "<li>");
        pbuf_html(b, cx->s->flash.v[i].value);
        pbuf_puts(b, "</li>");
    }
    pbuf_puts(b, "</ul></div>");
    pkv_clear(&cx->s->flash);
    cx->s->flash_kind[0] = '\0';
}

static void flash_set(struct panel_ctx *cx, const char *kind, const char *msg)
{
    if (cx->s == NULL)
        return;
    panel_session_flash(cx->s, kind);
    pkv_add(&cx->s->flash, "", msg);
}

static void flash_report(struct panel_ctx *cx, const char *kind, const char *lead,
                         const struct conf_report *rep)
{
    if (cx->s == NULL)
        return;
    panel_session_flash(cx->s, kind);
    if (lead != NULL)
        pkv_add(&cx->s->flash, "", lead);
    for (size_t i = 0; i < rep->n; i++)
        pkv_add(&cx->s->flash, rep->v[i].field, rep->v[i].message);
}

void page_error(struct panel_ctx *cx, int status, const char *message)
{
    cx->rs->status = status;
    page_begin(cx, "Error", "");
    pbuf_printf(&cx->rs->body, "<h1>Error %d</h1><p class=\"flash error\" role=\"alert\">", status);
    pbuf_html(&cx->rs->body, message);
    pbuf_puts(&cx->rs->body, "</p><p><a href=\"/\">Back to the panel</a></p>");
    page_end(cx);
}

static struct conf *load_conf(struct panel_ctx *cx)
{
    struct conf_report rep;
    conf_report_init(&rep);
    struct conf *c = conf_store_load(cx->app->store, &rep);
    if (c == NULL) {
        log_warnx("store: cannot load the configuration issues=%zu", rep.n);
        page_error(cx, 500, rep.n > 0 ? rep.v[0].message : "the configuration cannot be read");
    }
    conf_report_clear(&rep);
    return c;
}

static struct panel_who who_of(const struct panel_ctx *cx)
{
    struct panel_who w = {cx->s != NULL ? cx->s->user : "-", cx->rq->client};
    return w;
}

/* Sign-in ----------------------------------------------------------------- */

static void signin_form(struct panel_ctx *cx, const char *name, const char *message)
{
    struct pbuf *b = &cx->rs->body;
    page_begin(cx, "Sign in", "");
    pbuf_puts(b, "<section class=\"signin\"><h1>Sign in</h1>");
    if (message != NULL) {
        pbuf_puts(b, "<p class=\"flash error\" role=\"alert\" id=\"signin-msg\">");
        pbuf_html(b, message);
        pbuf_puts(b, "</p>");
    }
    pbuf_puts(b, "<form method=\"post\" action=\"/signin\" class=\"stack\">"
                 "<label for=\"name\">Account name</label>"
                 "<input id=\"name\" name=\"name\" autocomplete=\"username\" required "
                 "autofocus maxlength=\"64\" value=\"");
    pbuf_html(b, name);
    pbuf_puts(b, "\"><label for=\"password\">Password</label>"
                 "<input id=\"password\" name=\"password\" type=\"password\" "
                 "autocomplete=\"current-password\" required maxlength=\"1024\">"
                 "<button type=\"submit\" class=\"primary\">Sign in</button></form></section>");
    page_end(cx);
}

void page_signin(struct panel_ctx *cx)
{
    if (cx->s != NULL) {
        panel_redirect(cx, "/partners");
        return;
    }
    signin_form(cx, "", NULL);
}

void page_signin_post(struct panel_ctx *cx)
{
    const char *name = panel_form(cx, "name");
    const char *pw = panel_form(cx, "password");
    struct panel_session *s = NULL;
    uint64_t delay = 0;
    char msg[160];

    if (name == NULL || pw == NULL) {
        cx->rs->status = 400;
        signin_form(cx, "", "Enter an account name and a password.");
        return;
    }
    if (cx->s != NULL) /* signing in again replaces the old session */
        panel_session_destroy(cx->app->sessions, cx->s);
    cx->s = NULL;
    enum panel_signin res = panel_auth_signin(cx->app, name, pw, cx->rq->client, &s, &delay);
    panel_app_note_signin(cx->app, (int)res);
    switch (res) {
    case SIGNIN_OK:
        panel_set_cookie(cx, s->id, cx->app->opts.session_max);
        panel_redirect(cx, "/partners");
        return;
    case SIGNIN_FAILED:
        cx->rs->status = 401;
        cx->rs->delay_ms = (unsigned)delay;
        signin_form(cx, name, "Wrong account name or password.");
        return;
    case SIGNIN_THROTTLED: {
        unsigned secs = (unsigned)((delay + 999) / 1000);
        snprintf(msg, sizeof(msg), "%u", secs);
        pkv_add(&cx->rs->headers, "Retry-After", msg);
        cx->rs->status = 429;
        snprintf(msg, sizeof(msg), "Too many failed sign-ins. Wait %u second%s and try again.",
                 secs, secs == 1 ? "" : "s");
        signin_form(cx, name, msg);
        return;
    }
    case SIGNIN_ERROR:
        cx->rs->status = 500;
        signin_form(cx, name, "Sign-in is unavailable: the accounts cannot be read.");
        return;
    }
}

void page_signout(struct panel_ctx *cx)
{
    log_info("auth: signed out user=%s", cx->s->user);
    panel_session_destroy(cx->app->sessions, cx->s);
    cx->s = NULL;
    panel_set_cookie(cx, NULL, 0);
    panel_redirect(cx, "/signin");
}

void page_root(struct panel_ctx *cx)
{
    panel_redirect(cx, "/partners");
}

/* Partner list -------------------------------------------------------------- */

struct sort_ctx {
    const struct conf *c;
    const char *key;
    bool desc;
};

static struct sort_ctx sort_state; /* qsort has no argument: one HTTP thread */

static int cmp_partner(const void *a, const void *b)
{
    const struct conf_partner *p = *(const struct conf_partner *const *)a;
    const struct conf_partner *q = *(const struct conf_partner *const *)b;
    int r = 0;
    if (strcmp(sort_state.key, "type") == 0)
        r = strcmp(conf_partner_type_name(p->type), conf_partner_type_name(q->type));
    else if (strcmp(sort_state.key, "tls") == 0)
        r = (int)p->tls - (int)q->tls;
    else if (strcmp(sort_state.key, "sasl") == 0)
        r = (int)p->sasl - (int)q->sasl;
    else if (strcmp(sort_state.key, "dialback") == 0)
        r = (int)q->dialback - (int)p->dialback;
    if (r == 0)
        r = strcmp(p->domain, q->domain);
    return sort_state.desc ? -r : r;
}

static bool contains_ci(const char *hay, const char *needle)
{
    return hay != NULL && strcasestr(hay, needle) != NULL;
}

static bool partner_matches(const struct conf_partner *p, const char *q)
{
    if (q == NULL || q[0] == '\0')
        return true;
    if (contains_ci(p->domain, q) || contains_ci(p->description, q) ||
        contains_ci(conf_partner_type_name(p->type), q))
        return true;
    for (size_t i = 0; i < p->additional.n; i++) {
        if (contains_ci(p->additional.v[i], q))
            return true;
    }
    return false;
}

static void sort_header(struct pbuf *b, const char *key, const char *label, const char *cur,
                        bool desc, const char *q)
{
    bool active = strcmp(cur, key) == 0;
    pbuf_printf(b, "<th scope=\"col\"%s><a href=\"/partners?sort=%s&amp;dir=%s",
                active ? (desc ? " aria-sort=\"descending\"" : " aria-sort=\"ascending\"") : "",
                key, active && !desc ? "desc" : "asc");
    if (q != NULL && q[0] != '\0') {
        pbuf_puts(b, "&amp;q=");
        pbuf_url(b, q);
    }
    pbuf_puts(b, "\">");
    pbuf_html(b, label);
    if (active)
        pbuf_puts(b, desc ? " <span aria-hidden=\"true\">&#9660;</span>"
                          : " <span aria-hidden=\"true\">&#9650;</span>");
    pbuf_puts(b, "</a></th>");
}

static const char *neg_class(enum conf_negotiation n)
{
    return n == NEG_REQUIRED ? "req" : n == NEG_OPTIONAL ? "opt" : "off";
}

void page_partners(struct panel_ctx *cx)
{
    struct conf *c = load_conf(cx);
    if (c == NULL)
        return;
    struct pbuf *b = &cx->rs->body;
    const char *q = panel_query(cx, "q");
    const char *sort = panel_query(cx, "sort");
    const char *dir = panel_query(cx, "dir");
    if (sort == NULL || (strcmp(sort, "type") != 0 && strcmp(sort, "tls") != 0 &&
                         strcmp(sort, "sasl") != 0 && strcmp(sort, "dialback") != 0))
        sort = "domain";
    bool desc = dir != NULL && strcmp(dir, "desc") == 0;
    bool admin = can(cx, ACT_CHANGE);

    const struct conf_partner **v = calloc(c->n_partners + 1, sizeof(*v));
    size_t n = 0;
    if (v == NULL) {
        conf_free(c);
        page_error(cx, 500, "out of memory");
        return;
    }
    for (size_t i = 0; i < c->n_partners; i++) {
        if (partner_matches(&c->partners[i], q))
            v[n++] = &c->partners[i];
    }
    sort_state = (struct sort_ctx){c, sort, desc};
    qsort(v, n, sizeof(*v), cmp_partner);

    page_begin(cx, "XMPP Federated Partners", "/partners");
    pbuf_puts(b, "<h1>XMPP Federated Partners</h1>");
    flash_general(cx);
    pbuf_puts(b, "<div class=\"toolbar\">");
    if (admin)
        pbuf_puts(b,
                  "<a class=\"button primary\" href=\"/partners/new\" id=\"new-partner\">New</a>");
    pbuf_puts(b, "<form method=\"get\" action=\"/partners\" class=\"filter\" role=\"search\">"
                 "<label for=\"q\">Filter</label><input type=\"search\" id=\"q\" name=\"q\" "
                 "data-filter-table=\"partners\" value=\"");
    pbuf_html(b, q);
    pbuf_printf(b,
                "\"><input type=\"hidden\" name=\"sort\" value=\"%s\">"
                "<input type=\"hidden\" name=\"dir\" value=\"%s\">"
                "<button type=\"submit\">Apply</button></form></div>",
                sort, desc ? "desc" : "asc");
    pbuf_printf(b, "<p class=\"count\" id=\"partner-count\">%zu of %zu partner%s</p>", n,
                c->n_partners, c->n_partners == 1 ? "" : "s");
    if (n == 0) {
        pbuf_puts(b, c->n_partners == 0 ? "<p>No partner is configured yet.</p>"
                                        : "<p>No partner matches the filter.</p>");
    } else {
        pbuf_puts(b,
                  "<div class=\"table-wrap\"><table class=\"list\" id=\"partners\">"
                  "<caption class=\"sr-only\">Partners, policy at a glance</caption><thead><tr>");
        sort_header(b, "domain", "Partner", sort, desc, q);
        sort_header(b, "type", "Type", sort, desc, q);
        sort_header(b, "tls", "TLS", sort, desc, q);
        sort_header(b, "sasl", "SASL", sort, desc, q);
        sort_header(b, "dialback", "Dialback", sort, desc, q);
        if (admin)
            pbuf_puts(b, "<th scope=\"col\"><span class=\"sr-only\">Actions</span></th>");
        pbuf_puts(b, "</tr></thead><tbody>");
        for (size_t i = 0; i < n; i++) {
            const struct conf_partner *p = v[i];
            struct conf_matrix_verdict mv = conf_matrix_check(p->tls, p->sasl, p->dialback);
            pbuf_puts(b, "<tr><th scope=\"row\" data-label=\"Partner\"><a href=\"");
            pbuf_puts(b, admin ? "/partners/edit?domain=" : "/partners/view?domain=");
            pbuf_url(b, p->domain);
            pbuf_puts(b, "\">");
            pbuf_html(b, p->domain);
            pbuf_puts(b, "</a>");
            if (mv.outcome == CONF_SAVED_WARNING) {
                pbuf_printf(b, " <span class=\"badge warn\" title=\"");
                pbuf_html(b, mv.message);
                pbuf_printf(b, "\">matrix row %d: warning</span>", mv.row);
            }
            if (p->description[0] != '\0') {
                pbuf_puts(b, "<span class=\"sub\">");
                pbuf_html(b, p->description);
                pbuf_puts(b, "</span>");
            }
            if (p->additional.n > 0) {
                pbuf_puts(b, "<span class=\"sub\">Also: ");
                for (size_t k = 0; k < p->additional.n; k++) {
                    if (k)
                        pbuf_puts(b, ", ");
                    pbuf_html(b, p->additional.v[k]);
                }
                pbuf_puts(b, "</span>");
            }
            pbuf_printf(b, "</th><td data-label=\"Type\">%s</td>", conf_partner_type_name(p->type));
            pbuf_printf(b, "<td data-label=\"TLS\"><span class=\"pill %s\">%s</span></td>",
                        neg_class(p->tls), conf_negotiation_name(p->tls));
            pbuf_printf(b, "<td data-label=\"SASL\"><span class=\"pill %s\">%s</span></td>",
                        neg_class(p->sasl), conf_negotiation_name(p->sasl));
            pbuf_printf(b, "<td data-label=\"Dialback\"><span class=\"pill %s\">%s</span></td>",
                        p->dialback ? "req" : "off", p->dialback ? "Yes" : "No");
            if (admin) {
                pbuf_puts(b, "<td class=\"row-actions\"><a class=\"button small\" "
                             "href=\"/partners/edit?domain=");
                pbuf_url(b, p->domain);
                pbuf_puts(b, "\">Edit<span class=\"sr-only\"> ");
                pbuf_html(b, p->domain);
                pbuf_puts(
                    b,
                    "</span></a> <a class=\"button small danger\" href=\"/partners/delete?domain=");
                pbuf_url(b, p->domain);
                pbuf_puts(b, "\">Delete<span class=\"sr-only\"> ");
                pbuf_html(b, p->domain);
                pbuf_puts(b, "</span></a></td>");
            }
            pbuf_puts(b, "</tr>");
        }
        pbuf_puts(b, "</tbody></table></div>");
    }
    page_end(cx);
    free(v);
    conf_free(c);
}

/* Partner form -------------------------------------------------------------- */

static const char *const type_words[] = {"Federated", "PublicVerified", "PublicUnverified", NULL};
static const char *const neg_words[] = {"Required", "Optional", "NotSupported", NULL};

static void issues_for(struct pbuf *b, const struct conf_report *rep, const char *field,
                       bool *shown)
{
    if (rep == NULL)
        return;
    for (size_t i = 0; i < rep->n; i++) {
        if (!panel_issue_has_field(&rep->v[i], field))
            continue;
        /* an issue naming several fields is shown once, at the first */
        if (shown[i])
            continue;
        shown[i] = true;
        bool err = rep->v[i].severity == CONF_ERROR;
        pbuf_printf(b, "<p class=\"field-msg %s\" id=\"%s-msg\">", err ? "error" : "warning",
                    field);
        pbuf_puts(b, err ? "<strong>Rejected:</strong> " : "<strong>Warning:</strong> ");
        pbuf_html(b, rep->v[i].message);
        if (rep->v[i].row > 0)
            pbuf_printf(b, " <span class=\"row\">(matrix row %d)</span>", rep->v[i].row);
        pbuf_puts(b, "</p>");
    }
}

static bool field_has_issue(const struct conf_report *rep, const char *field, bool errors_only)
{
    for (size_t i = 0; rep != NULL && i < rep->n; i++) {
        if (panel_issue_has_field(&rep->v[i], field) &&
            (!errors_only || rep->v[i].severity == CONF_ERROR))
            return true;
    }
    return false;
}

static void field_attrs(struct pbuf *b, const struct conf_report *rep, const char *field)
{
    if (field_has_issue(rep, field, false))
        pbuf_printf(b, " aria-describedby=\"%s-msg\"", field);
    if (field_has_issue(rep, field, true))
        pbuf_puts(b, " aria-invalid=\"true\"");
}

static void select_field(struct pbuf *b, const char *field, const char *label,
                         const char *const *words, const char *const *labels, const char *value,
                         const struct conf_report *rep, bool *shown)
{
    pbuf_printf(b, "<div class=\"field\"><label for=\"f-%s\">", field);
    pbuf_html(b, label);
    pbuf_printf(b, "</label><select id=\"f-%s\" name=\"%s\"", field, field);
    field_attrs(b, rep, field);
    pbuf_puts(b, ">");
    for (size_t i = 0; words[i] != NULL; i++) {
        pbuf_printf(b, "<option value=\"%s\"%s>", words[i],
                    value != NULL && strcasecmp(value, words[i]) == 0 ? " selected" : "");
        pbuf_html(b, labels != NULL ? labels[i] : words[i]);
        pbuf_puts(b, "</option>");
    }
    pbuf_puts(b, "</select>");
    issues_for(b, rep, field, shown);
    pbuf_puts(b, "</div>");
}

static void text_field(struct pbuf *b, const char *field, const char *label, const char *hint,
                       const char *value, const char *extra, const struct conf_report *rep,
                       bool *shown)
{
    pbuf_printf(b, "<div class=\"field\"><label for=\"f-%s\">", field);
    pbuf_html(b, label);
    pbuf_puts(b, "</label>");
    if (hint != NULL) {
        pbuf_printf(b, "<p class=\"hint\" id=\"%s-hint\">", field);
        pbuf_html(b, hint);
        pbuf_puts(b, "</p>");
    }
    pbuf_printf(b, "<input id=\"f-%s\" name=\"%s\" %s", field, field, extra != NULL ? extra : "");
    if (hint != NULL && !field_has_issue(rep, field, false))
        pbuf_printf(b, " aria-describedby=\"%s-hint\"", field);
    field_attrs(b, rep, field);
    pbuf_puts(b, " value=\"");
    pbuf_html(b, value);
    pbuf_puts(b, "\">");
    issues_for(b, rep, field, shown);
    pbuf_puts(b, "</div>");
}

static const char *const bool_words[] = {"true", "false", NULL};

/* Renders the partner form from text values (what the user typed, or the
 * stored partner), with the report's messages next to their fields. */
static void partner_form(struct panel_ctx *cx, const char *original, const struct pkv_list *vals,
                         const struct conf_report *rep, const char *banner_kind, const char *banner)
{
    struct pbuf *b = &cx->rs->body;
    bool *shown = calloc((rep != NULL ? rep->n : 0) + 1, sizeof(bool));
    static const char *const dialback_labels[] = {"Yes (supported)", "No", NULL};
    static const char *const keepalive_labels[] = {"Yes", "No", NULL};
    char title[300];

    if (shown == NULL) {
        page_error(cx, 500, "out of memory");
        return;
    }
    snprintf(title, sizeof(title), original != NULL ? "Edit partner %s" : "New partner",
             original != NULL ? original : "");
    page_begin(cx, title, "/partners");
    pbuf_puts(
        b,
        "<p class=\"crumbs\"><a href=\"/partners\">XMPP Federated Partners</a> &rsaquo;</p><h1>");
    pbuf_html(b, title);
    pbuf_puts(b, "</h1>");
    flash_general(cx);
    if (banner != NULL) {
        pbuf_printf(b, "<div class=\"flash %s\" role=\"%s\" id=\"form-banner\"><p>", banner_kind,
                    strcmp(banner_kind, "ok") == 0 ? "status" : "alert");
        pbuf_html(b, banner);
        pbuf_puts(b, "</p>");
        /* warnings are repeated here, where the eye lands after a save;
         * errors are listed here only when no field shows them */
        for (size_t i = 0; rep != NULL && i < rep->n; i++) {
            bool placed = rep->v[i].severity == CONF_ERROR ? false : true;
            for (size_t f = 0; panel_partner_fields[f] != NULL; f++)
                placed |= panel_issue_has_field(&rep->v[i], panel_partner_fields[f]);
            if (rep->v[i].severity == CONF_WARNING) {
                pbuf_puts(b, "<p><strong>Warning:</strong> ");
                pbuf_html(b, rep->v[i].message);
                pbuf_puts(b, "</p>");
            } else if (!placed) {
                pbuf_puts(b, "<p>");
                pbuf_html(b, rep->v[i].message);
                pbuf_puts(b, "</p>");
            }
        }
        pbuf_puts(b, "</div>");
    }
    pbuf_printf(b,
                "<form method=\"post\" action=\"%s\" class=\"partner-form\" id=\"partner-form\" "
                "novalidate>",
                original != NULL ? "/partners/edit" : "/partners/new");
    csrf_field(cx, b);
    if (original != NULL) {
        pbuf_puts(b, "<input type=\"hidden\" name=\"original\" value=\"");
        pbuf_html(b, original);
        pbuf_puts(b, "\">");
    }
    pbuf_puts(b, "<fieldset><legend>Partner</legend>");
    text_field(b, "domain", "Primary domain (required)",
               "The partner's XMPP domain, for example example.org.", pkv_get(vals, "domain"),
               "required maxlength=\"1000\" autocomplete=\"off\" spellcheck=\"false\"", rep, shown);
    text_field(b, "description", "Description", NULL, pkv_get(vals, "description"),
               "maxlength=\"1024\"", rep, shown);
    pbuf_puts(b,
              "<div class=\"field\"><label for=\"f-additional_domains\">Additional domains</label>"
              "<p class=\"hint\" id=\"additional_domains-hint\">One per line: other domains "
              "served by this partner.</p><textarea id=\"f-additional_domains\" "
              "name=\"additional_domains\" rows=\"3\" spellcheck=\"false\"");
    if (!field_has_issue(rep, "additional_domains", false))
        pbuf_puts(b, " aria-describedby=\"additional_domains-hint\"");
    field_attrs(b, rep, "additional_domains");
    pbuf_puts(b, ">");
    pbuf_html(b, pkv_get(vals, "additional_domains"));
    pbuf_puts(b, "</textarea>");
    issues_for(b, rep, "additional_domains", shown);
    pbuf_puts(b, "</div>");
    select_field(b, "type", "Partner type (required)", type_words, NULL, pkv_get(vals, "type"), rep,
                 shown);
    pbuf_puts(b, "</fieldset><fieldset class=\"negotiation\"><legend>Negotiation</legend>"
                 "<div class=\"grid3\">");
    select_field(b, "tls", "TLS negotiation", neg_words, NULL, pkv_get(vals, "tls"), rep, shown);
    select_field(b, "sasl", "SASL negotiation", neg_words, NULL, pkv_get(vals, "sasl"), rep, shown);
    select_field(b, "dialback", "Support for dialback", bool_words, dialback_labels,
                 pkv_get(vals, "dialback"), rep, shown);
    pbuf_puts(b, "</div><p class=\"live\" id=\"matrix-live\" aria-live=\"polite\"></p></fieldset>");
    bool adv_issue = field_has_issue(rep, "connection_limit", false) ||
                     field_has_issue(rep, "keepalive", false) ||
                     field_has_issue(rep, "proxy_fqdn", false);
    pbuf_printf(
        b, "<details%s><summary>Advanced: connection limit, keep-alive, static route</summary>",
        adv_issue ? " open" : "");
    text_field(
        b, "connection_limit", "Connection limit",
        "Concurrent streams with this partner; empty or 0 uses the global per-partner limit.",
        pkv_get(vals, "connection_limit"), "inputmode=\"numeric\" maxlength=\"10\"", rep, shown);
    select_field(b, "keepalive", "Keep-alive", bool_words, keepalive_labels,
                 pkv_get(vals, "keepalive"), rep, shown);
    text_field(b, "proxy_fqdn", "Static route (proxy FQDN)",
               "host or host:port used instead of DNS SRV; empty uses DNS SRV.",
               pkv_get(vals, "proxy_fqdn"), "maxlength=\"1000\" spellcheck=\"false\"", rep, shown);
    pbuf_puts(b, "</details><div class=\"actions\"><button type=\"submit\" class=\"primary\" "
                 "id=\"commit\">Commit</button> <a class=\"button\" href=\"/partners\">Cancel</a>");
    if (original != NULL) {
        pbuf_puts(b, " <a class=\"button danger\" href=\"/partners/delete?domain=");
        pbuf_url(b, original);
        pbuf_puts(b, "\">Delete</a>");
    }
    pbuf_puts(b, "</div></form>");
    page_end(cx);
    free(shown);
}

static void partner_defaults(struct pkv_list *vals)
{
    struct conf_partner p;
    if (conf_partner_init(&p, "") == 0) {
        panel_partner_to_list(&p, vals);
        conf_partner_clear(&p);
    }
}

void page_partner_new(struct panel_ctx *cx)
{
    struct pkv_list vals = {0};
    partner_defaults(&vals);
    partner_form(cx, NULL, &vals, NULL, NULL, NULL);
    pkv_clear(&vals);
}

/* Shows the stored partner; the flash (set by a commit) carries the
 * warnings of the last save, shown next to their fields. */
void page_partner_edit(struct panel_ctx *cx)
{
    const char *d = panel_query(cx, "domain");
    struct conf *c = load_conf(cx);
    if (c == NULL)
        return;
    ssize_t idx = d != NULL ? conf_partner_index(c, d) : -1;
    if (idx < 0) {
        conf_free(c);
        page_error(cx, 404, "no such partner");
        return;
    }
    struct pkv_list vals = {0};
    struct conf_report rep;
    conf_report_init(&rep);
    panel_partner_to_list(&c->partners[idx], &vals);
    const char *banner = NULL;
    char text[1400], kind[sizeof(cx->s->flash_kind)] = "ok";
    if (cx->s->flash.n > 0) {
        /* the flash of a save: first line is the banner, the rest issues */
        if (cx->s->flash_kind[0] != '\0')
            memcpy(kind, cx->s->flash_kind, sizeof(kind));
        snprintf(text, sizeof(text), "%s", cx->s->flash.v[0].value);
        banner = text;
        for (size_t i = 1; i < cx->s->flash.n; i++)
            conf_report_add(&rep, CONF_WARNING, cx->s->flash.v[i].name, NULL, 0, 0, "%s",
                            cx->s->flash.v[i].value);
        pkv_clear(&cx->s->flash);
        cx->s->flash_kind[0] = '\0';
    }
    /* matrix rows of the warnings are worth showing again */
    struct conf_matrix_verdict mv =
        conf_matrix_check(c->partners[idx].tls, c->partners[idx].sasl, c->partners[idx].dialback);
    for (size_t i = 0; i < rep.n; i++) {
        if (strcmp(rep.v[i].message, mv.message) == 0)
            rep.v[i].row = mv.row;
    }
    partner_form(cx, c->partners[idx].domain, &vals, &rep, kind, banner);
    conf_report_clear(&rep);
    pkv_clear(&vals);
    conf_free(c);
}

static void partner_commit(struct panel_ctx *cx, const char *original)
{
    struct panel_partner_input in;
    struct conf_report rep;
    struct panel_who w = who_of(cx);
    char saved[1100] = "";

    panel_partner_input_from(&in, &cx->form);
    conf_report_init(&rep);
    int rc = panel_edit_partner(cx->app, &w, original, &in, &rep, saved, sizeof(saved));
    if (rc == CONF_SAVED || rc == CONF_SAVED_WARNING) {
        char loc[1300], lead[1200];
        struct pbuf u;
        pbuf_init(&u);
        pbuf_url(&u, saved);
        snprintf(loc, sizeof(loc), "/partners/edit?domain=%s", u.s != NULL ? u.s : "");
        pbuf_free(&u);
        if (rc == CONF_SAVED_WARNING) {
            snprintf(lead, sizeof(lead), "Saved partner %s, with a warning.", saved);
            flash_report(cx, "warning", lead, &rep);
            panel_redirect(cx, loc);
        } else {
            snprintf(lead, sizeof(lead), "Saved partner %s.", saved);
            flash_set(cx, "ok", lead);
            panel_redirect(cx, "/partners");
        }
    } else {
        /* rejected, or a system failure: nothing was saved; show the form
         * again with what was typed and each message at its field */
        cx->rs->status = rc == PANEL_EDIT_SYSTEM ? 500 : rc == PANEL_EDIT_NOTFOUND ? 404 : 422;
        partner_form(cx, original, &cx->form, &rep, "error",
                     rc == PANEL_EDIT_SYSTEM
                         ? "Nothing was saved: the configuration could not be written."
                         : "Nothing was saved. Correct the fields marked below.");
    }
    conf_report_clear(&rep);
}

void page_partner_new_post(struct panel_ctx *cx)
{
    partner_commit(cx, NULL);
}

void page_partner_edit_post(struct panel_ctx *cx)
{
    const char *orig = panel_form(cx, "original");
    if (orig == NULL) {
        page_error(cx, 400, "which partner? (the form lacks the original domain)");
        return;
    }
    partner_commit(cx, orig);
}

void page_partner_view(struct panel_ctx *cx)
{
    const char *d = panel_query(cx, "domain");
    struct conf *c = load_conf(cx);
    if (c == NULL)
        return;
    ssize_t idx = d != NULL ? conf_partner_index(c, d) : -1;
    if (idx < 0) {
        conf_free(c);
        page_error(cx, 404, "no such partner");
        return;
    }
    const struct conf_partner *p = &c->partners[idx];
    struct pkv_list vals = {0};
    struct pbuf *b = &cx->rs->body;
    static const char *const labels[] = {"Primary domain",
                                         "Description",
                                         "Additional domains",
                                         "Partner type",
                                         "TLS negotiation",
                                         "SASL negotiation",
                                         "Support for dialback",
                                         "Connection limit",
                                         "Keep-alive",
                                         "Static route (proxy FQDN)",
                                         NULL};
    panel_partner_to_list(p, &vals);
    page_begin(cx, p->domain, "/partners");
    pbuf_puts(
        b,
        "<p class=\"crumbs\"><a href=\"/partners\">XMPP Federated Partners</a> &rsaquo;</p><h1>");
    pbuf_html(b, p->domain);
    pbuf_puts(b, "</h1><dl class=\"details\">");
    for (size_t i = 0; labels[i] != NULL; i++) {
        const char *v = pkv_get(&vals, panel_partner_fields[i]);
        pbuf_puts(b, "<dt>");
        pbuf_html(b, labels[i]);
        pbuf_puts(b, "</dt><dd>");
        if (strcmp(panel_partner_fields[i], "connection_limit") == 0 && p->connection_limit == 0)
            pbuf_printf(b, "global limit (%u)", conf_partner_limit(c, p));
        else if (v == NULL || v[0] == '\0')
            pbuf_puts(b, "&mdash;");
        else
            pbuf_html(b, v);
        pbuf_puts(b, "</dd>");
    }
    pbuf_puts(b, "</dl>");
    page_end(cx);
    pkv_clear(&vals);
    conf_free(c);
}

void page_partner_delete(struct panel_ctx *cx)
{
    const char *d = panel_query(cx, "domain");
    struct conf *c = load_conf(cx);
    if (c == NULL)
        return;
    ssize_t idx = d != NULL ? conf_partner_index(c, d) : -1;
    if (idx < 0) {
        conf_free(c);
        page_error(cx, 404, "no such partner");
        return;
    }
    struct pbuf *b = &cx->rs->body;
    const struct conf_partner *p = &c->partners[idx];
    page_begin(cx, "Delete partner", "/partners");
    pbuf_puts(b, "<h1>Delete partner ");
    pbuf_html(b, p->domain);
    pbuf_puts(b, "?</h1><p>Users of ");
    pbuf_html(b, p->domain);
    if (p->additional.n > 0)
        pbuf_printf(b, " and its %zu additional domain%s", p->additional.n,
                    p->additional.n == 1 ? "" : "s");
    pbuf_puts(b, " will no longer reach your users over XMPP; open streams with them are "
                 "closed when the edge applies the change.</p>"
                 "<form method=\"post\" action=\"/partners/delete\" class=\"actions\">");
    csrf_field(cx, b);
    pbuf_puts(b, "<input type=\"hidden\" name=\"domain\" value=\"");
    pbuf_html(b, p->domain);
    pbuf_puts(b, "\"><button type=\"submit\" class=\"danger\" id=\"confirm-delete\">Delete ");
    pbuf_html(b, p->domain);
    pbuf_puts(b, "</button> <a class=\"button\" href=\"/partners\">Cancel</a></form>");
    page_end(cx);
    conf_free(c);
}

void page_partner_delete_post(struct panel_ctx *cx)
{
    const char *d = panel_form(cx, "domain");
    struct conf_report rep;
    struct panel_who w = who_of(cx);
    char lead[1200];
    conf_report_init(&rep);
    int rc = d != NULL ? panel_edit_partner_delete(cx->app, &w, d, &rep) : PANEL_EDIT_NOTFOUND;
    if (rc == CONF_SAVED || rc == CONF_SAVED_WARNING) {
        snprintf(lead, sizeof(lead), "Deleted partner %s.", d);
        flash_set(cx, "ok", lead);
    } else {
        flash_report(cx, "error", "Nothing was deleted.", &rep);
    }
    panel_redirect(cx, "/partners");
    conf_report_clear(&rep);
}

/* Global settings ---------------------------------------------------------- */

void page_settings(struct panel_ctx *cx)
{
    struct conf *c = load_conf(cx);
    if (c == NULL)
        return;
    struct pbuf *b = &cx->rs->body;
    bool admin = can(cx, ACT_CHANGE);
    page_begin(cx, "Global settings", "/settings");
    pbuf_puts(b, "<h1>Global settings</h1>");
    flash_general(cx);
    if (admin) {
        pbuf_puts(b, "<form method=\"post\" action=\"/settings\" id=\"settings-form\">");
        csrf_field(cx, b);
    }
    pbuf_puts(b, "<div class=\"settings\">");
    for (const struct conf_key *k = conf_settings_keys; k->name != NULL; k++) {
        const char *base = (const char *)&c->settings + k->offset;
        if (k->type == CK_SECRET)
            continue;
        pbuf_printf(b,
                    "<div class=\"field\"><label for=\"s-%s\">%s</label><p class=\"hint\" "
                    "id=\"s-%s-hint\">",
                    k->name, k->name, k->name);
        pbuf_html(b, k->doc);
        if (k->type == CK_UINT)
            pbuf_printf(b, " (%u to %u, default %u)", k->min, k->max, k->def);
        pbuf_puts(b, "</p>");
        if (k->type == CK_UINT) {
            unsigned v = *(const unsigned *)(const void *)base;
            if (admin)
                pbuf_printf(b,
                            "<input id=\"s-%s\" name=\"%s\" inputmode=\"numeric\" "
                            "aria-describedby=\"s-%s-hint\" value=\"%u\">",
                            k->name, k->name, k->name, v);
            else
                pbuf_printf(b, "<p class=\"value\" id=\"s-%s\">%u</p>", k->name, v);
        } else {
            bool v = *(const bool *)(const void *)base;
            if (admin)
                pbuf_printf(b,
                            "<select id=\"s-%s\" name=\"%s\" aria-describedby=\"s-%s-hint\">"
                            "<option value=\"false\"%s>No</option><option value=\"true\"%s>Yes"
                            "</option></select>",
                            k->name, k->name, k->name, v ? "" : " selected", v ? " selected" : "");
            else
                pbuf_printf(b, "<p class=\"value\" id=\"s-%s\">%s</p>", k->name, v ? "Yes" : "No");
        }
        pbuf_puts(b, "</div>");
    }
    pbuf_puts(b, "</div>");
    if (admin)
        pbuf_puts(b, "<div class=\"actions\"><button type=\"submit\" class=\"primary\">Commit"
                     "</button></div></form>");
    for (const struct conf_key *k = conf_settings_keys; k->name != NULL; k++) {
        if (k->type != CK_SECRET)
            continue;
        bool set = *(char *const *)(const void *)((const char *)&c->settings + k->offset) != NULL;
        pbuf_puts(b, "<section class=\"secret\"><h2>Dialback secret</h2><p>");
        pbuf_html(b, k->doc);
        pbuf_printf(b, ". It is never shown. Current state: <strong>%s</strong>.</p>",
                    set ? "set" : "not set");
        if (admin) {
            pbuf_puts(b, "<form method=\"post\" action=\"/settings/secret\">");
            csrf_field(cx, b);
            pbuf_puts(b, "<p class=\"hint\">A new secret invalidates dialback keys that edges "
                         "issued with the old one; streams re-authenticate.</p>"
                         "<button type=\"submit\">Regenerate the secret</button></form>");
        }
        pbuf_puts(b, "</section>");
    }
    pbuf_printf(b, "<p class=\"meta\">Configuration version %" PRIu64 ".</p>", c->version);
    page_end(cx);
    conf_free(c);
}

void page_settings_post(struct panel_ctx *cx)
{
    struct pkv_list vals = {0};
    struct conf_report rep;
    struct panel_who w = who_of(cx);
    for (size_t i = 0; i < cx->form.n; i++) {
        if (conf_settings_key(cx->form.v[i].name) != NULL)
            pkv_add(&vals, cx->form.v[i].name, cx->form.v[i].value);
    }
    conf_report_init(&rep);
    int rc = panel_edit_settings(cx->app, &w, &vals, &rep);
    if (rc == CONF_SAVED)
        flash_set(cx, "ok", "Saved the global settings.");
    else if (rc == CONF_SAVED_WARNING)
        flash_report(cx, "warning", "Saved the global settings, with a warning.", &rep);
    else
        flash_report(cx, "error", "Nothing was saved.", &rep);
    panel_redirect(cx, "/settings");
    conf_report_clear(&rep);
    pkv_clear(&vals);
}

void page_secret_post(struct panel_ctx *cx)
{
    struct conf_report rep;
    struct panel_who w = who_of(cx);
    conf_report_init(&rep);
    int rc = panel_edit_secret(cx->app, &w, &rep);
    if (rc == CONF_SAVED || rc == CONF_SAVED_WARNING)
        flash_set(cx, "ok", "A new dialback secret was generated and saved.");
    else
        flash_report(cx, "error", "The secret was not changed.", &rep);
    panel_redirect(cx, "/settings");
    conf_report_clear(&rep);
}

/* Hosted domains ------------------------------------------------------------ */

void page_domains(struct panel_ctx *cx)
{
    struct conf *c = load_conf(cx);
    if (c == NULL)
        return;
    struct pbuf *b = &cx->rs->body;
    bool admin = can(cx, ACT_CHANGE);
    page_begin(cx, "Hosted domains", "/domains");
    pbuf_puts(b, "<h1>Hosted domains</h1><p>The internal domains of this deployment: their users "
                 "reach partners through the gateway. A hosted domain cannot be a partner.</p>");
    flash_general(cx);
    if (c->hosted.n == 0)
        pbuf_puts(b, "<p>No hosted domain yet.</p>");
    else
        pbuf_puts(b, "<ul class=\"rows\" id=\"hosted\">");
    for (size_t i = 0; i < c->hosted.n; i++) {
        pbuf_puts(b, "<li><span>");
        pbuf_html(b, c->hosted.v[i]);
        pbuf_puts(b, "</span>");
        if (admin) {
            pbuf_puts(b, "<form method=\"post\" action=\"/domains/remove\">");
            csrf_field(cx, b);
            pbuf_puts(b, "<input type=\"hidden\" name=\"domain\" value=\"");
            pbuf_html(b, c->hosted.v[i]);
            pbuf_puts(b, "\"><button type=\"submit\" class=\"small danger\">Remove<span "
                         "class=\"sr-only\"> ");
            pbuf_html(b, c->hosted.v[i]);
            pbuf_puts(b, "</span></button></form>");
        }
        pbuf_puts(b, "</li>");
    }
    if (c->hosted.n > 0)
        pbuf_puts(b, "</ul>");
    if (admin) {
        pbuf_puts(b, "<form method=\"post\" action=\"/domains/add\" class=\"inline\">");
        csrf_field(cx, b);
        pbuf_puts(b, "<label for=\"h-domain\">Add a hosted domain</label><input id=\"h-domain\" "
                     "name=\"domain\" required spellcheck=\"false\"><button type=\"submit\">Add"
                     "</button></form>");
    }
    page_end(cx);
    conf_free(c);
}

static void domains_change(struct panel_ctx *cx, bool add)
{
    struct conf_report rep;
    struct panel_who w = who_of(cx);
    const char *d = panel_form(cx, "domain");
    char lead[1200];
    conf_report_init(&rep);
    int rc = panel_edit_hosted(cx->app, &w, d != NULL ? d : "", add, &rep);
    if (rc == CONF_SAVED || rc == CONF_SAVED_WARNING) {
        snprintf(lead, sizeof(lead), "%s hosted domain %s.", add ? "Added" : "Removed",
                 d != NULL ? d : "");
        if (rc == CONF_SAVED)
            flash_set(cx, "ok", lead);
        else
            flash_report(cx, "warning", lead, &rep);
    } else {
        flash_report(cx, "error", "Nothing was saved.", &rep);
    }
    panel_redirect(cx, "/domains");
    conf_report_clear(&rep);
}

void page_domains_add(struct panel_ctx *cx)
{
    domains_change(cx, true);
}

void page_domains_remove(struct panel_ctx *cx)
{
    domains_change(cx, false);
}

/* Access policy ------------------------------------------------------------- */

static void rules_table(struct panel_ctx *cx, const char *title, const char *kind,
                        const struct conf_access_rule *v, size_t n, bool admin)
{
    struct pbuf *b = &cx->rs->body;
    pbuf_printf(b, "<h2>%s</h2>", title);
    if (n == 0) {
        pbuf_puts(b, "<p>None.</p>");
        return;
    }
    pbuf_printf(b,
                "<table class=\"list\" id=\"rules-%s\"><thead><tr><th scope=\"col\">%s</th>"
                "<th scope=\"col\">Access</th>%s</tr></thead><tbody>",
                kind, strcmp(kind, "user") == 0 ? "User" : "Domain",
                admin ? "<th scope=\"col\"><span class=\"sr-only\">Actions</span></th>" : "");
    for (size_t i = 0; i < n; i++) {
        pbuf_puts(b, "<tr><th scope=\"row\">");
        pbuf_html(b, v[i].subject);
        pbuf_printf(b, "</th><td><span class=\"pill %s\">%s</span></td>",
                    v[i].access == ACCESS_ALLOW ? "req" : "off", conf_access_name(v[i].access));
        if (admin) {
            pbuf_puts(b, "<td><form method=\"post\" action=\"/access/rule/remove\">");
            csrf_field(cx, b);
            pbuf_printf(b,
                        "<input type=\"hidden\" name=\"kind\" value=\"%s\">"
                        "<input type=\"hidden\" name=\"subject\" value=\"",
                        kind);
            pbuf_html(b, v[i].subject);
            pbuf_puts(b, "\"><button type=\"submit\" class=\"small danger\">Remove<span "
                         "class=\"sr-only\"> ");
            pbuf_html(b, v[i].subject);
            pbuf_puts(b, "</span></button></form></td>");
        }
        pbuf_puts(b, "</tr>");
    }
    pbuf_puts(b, "</tbody></table>");
}

void page_access(struct panel_ctx *cx)
{
    struct conf *c = load_conf(cx);
    if (c == NULL)
        return;
    struct pbuf *b = &cx->rs->body;
    bool admin = can(cx, ACT_CHANGE);
    const char *def = conf_access_name(c->access.default_access);
    page_begin(cx, "User access policy", "/access");
    pbuf_puts(b, "<h1>User access policy</h1><p>Which internal users may use XMPP federation: a "
                 "default, overridden per hosted domain, overridden per user.</p>");
    flash_general(cx);
    pbuf_puts(b, "<h2>Default</h2>");
    if (admin) {
        pbuf_puts(b, "<form method=\"post\" action=\"/access/default\" class=\"inline\">");
        csrf_field(cx, b);
        pbuf_printf(b,
                    "<label for=\"a-default\">Default access</label><select id=\"a-default\" "
                    "name=\"access\"><option value=\"allow\"%s>allow</option><option "
                    "value=\"deny\"%s>deny</option></select><button type=\"submit\">Commit"
                    "</button></form>",
                    c->access.default_access == ACCESS_ALLOW ? " selected" : "",
                    c->access.default_access == ACCESS_DENY ? " selected" : "");
    } else {
        pbuf_printf(b, "<p>Default access: <strong>%s</strong></p>", def);
    }
    rules_table(cx, "Hosted domain overrides", "domain", c->access.domains, c->access.n_domains,
                admin);
    rules_table(cx, "User overrides", "user", c->access.users, c->access.n_users, admin);
    if (admin) {
        pbuf_puts(b, "<h2>Add or change an override</h2><form method=\"post\" "
                     "action=\"/access/rule\" class=\"inline\">");
        csrf_field(cx, b);
        pbuf_puts(b, "<label for=\"r-kind\">For</label><select id=\"r-kind\" name=\"kind\">"
                     "<option value=\"user\">a user (name@hosted-domain)</option><option "
                     "value=\"domain\">a hosted domain</option></select>"
                     "<label for=\"r-subject\">User or domain</label><input id=\"r-subject\" "
                     "name=\"subject\" required spellcheck=\"false\">"
                     "<label for=\"r-access\">Access</label><select id=\"r-access\" "
                     "name=\"access\"><option value=\"allow\">allow</option><option "
                     "value=\"deny\">deny</option></select><button type=\"submit\">Commit"
                     "</button></form>");
    }
    page_end(cx);
    conf_free(c);
}

static void access_done(struct panel_ctx *cx, int rc, const struct conf_report *rep)
{
    if (rc == CONF_SAVED)
        flash_set(cx, "ok", "Saved the access policy.");
    else if (rc == CONF_SAVED_WARNING)
        flash_report(cx, "warning", "Saved the access policy, with a warning.", rep);
    else
        flash_report(cx, "error", "Nothing was saved.", rep);
    panel_redirect(cx, "/access");
}

void page_access_default(struct panel_ctx *cx)
{
    struct conf_report rep;
    struct panel_who w = who_of(cx);
    conf_report_init(&rep);
    int rc = panel_edit_access_default(cx->app, &w, panel_form(cx, "access"), &rep);
    access_done(cx, rc, &rep);
    conf_report_clear(&rep);
}

static void access_rule(struct panel_ctx *cx, bool remove)
{
    struct conf_report rep;
    struct panel_who w = who_of(cx);
    const char *kind = panel_form(cx, "kind");
    const char *subject = panel_form(cx, "subject");
    conf_report_init(&rep);
    int rc;
    if (kind == NULL || subject == NULL ||
        (strcmp(kind, "user") != 0 && strcmp(kind, "domain") != 0)) {
        conf_report_add(&rep, CONF_ERROR, "", NULL, 0, 0, "choose a user or a domain");
        rc = CONF_REJECTED;
    } else if (!remove && panel_form(cx, "access") == NULL) {
        conf_report_add(&rep, CONF_ERROR, "", NULL, 0, 0, "choose allow or deny");
        rc = CONF_REJECTED;
    } else {
        rc = panel_edit_access_rule(cx->app, &w, strcmp(kind, "user") == 0, subject,
                                    remove ? NULL : panel_form(cx, "access"), &rep);
    }
    access_done(cx, rc, &rep);
    conf_report_clear(&rep);
}

void page_access_rule(struct panel_ctx *cx)
{
    access_rule(cx, false);
}

void page_access_rule_remove(struct panel_ctx *cx)
{
    access_rule(cx, true);
}

/* Status ---------------------------------------------------------------------- */

void page_status(struct panel_ctx *cx)
{
    struct panel_status st;
    struct pbuf *b = &cx->rs->body;
    struct conf_report rep;
    conf_report_init(&rep);
    struct conf *c = conf_store_load(cx->app->store, &rep);
    int rc = panel_status_collect(cx->app->status, &st);

    page_begin(cx, "Status", "/status");
    pbuf_puts(b, "<h1>Status</h1><div data-autorefresh=\"15\"></div>");
    pbuf_puts(b, "<section><h2>Stored configuration</h2>");
    if (c != NULL)
        pbuf_printf(b,
                    "<p>Version <strong>%" PRIu64 "</strong> with %zu partner%s and %zu "
                    "hosted domain%s.</p>",
                    c->version, c->n_partners, c->n_partners == 1 ? "" : "s", c->hosted.n,
                    c->hosted.n == 1 ? "" : "s");
    else
        pbuf_puts(b, "<p class=\"flash error\">The stored configuration cannot be read.</p>");
    pbuf_puts(b, "</section>");
    if (rc < 0) {
        st.available = false;
        snprintf(st.why, sizeof(st.why), "The status source failed");
    }
    panel_status_html(b, &st, c != NULL ? c->version : 0);
    pbuf_puts(b, "<p><a href=\"/status\">Refresh</a></p>");
    page_end(cx);
    panel_status_clear(&st);
    conf_free(c);
    conf_report_clear(&rep);
}

/* Audit log ---------------------------------------------------------------- */

static void json_compact(struct pbuf *b, const struct pjson *v)
{
    switch (v->type) {
    case PJ_NULL:
        pbuf_puts(b, "null");
        break;
    case PJ_BOOL:
        pbuf_puts(b, v->b ? "true" : "false");
        break;
    case PJ_NUMBER:
        pbuf_puts(b, v->str);
        break;
    case PJ_STRING:
        pbuf_json_str(b, v->str);
        break;
    case PJ_ARRAY:
    case PJ_OBJECT:
        pbuf_puts(b, v->type == PJ_ARRAY ? "[" : "{");
        for (size_t i = 0; i < v->n; i++) {
            if (i)
                pbuf_puts(b, v->type == PJ_ARRAY ? ", " : ",\n  ");
            else if (v->type == PJ_OBJECT)
                pbuf_puts(b, "\n  ");
            if (v->type == PJ_OBJECT) {
                pbuf_json_str(b, v->key[i]);
                pbuf_puts(b, ": ");
            }
            json_compact(b, &v->item[i]);
        }
        pbuf_puts(b, v->type == PJ_ARRAY ? "]" : (v->n ? "\n}" : "}"));
        break;
    }
}

static const char *jstr(const struct pjson *o, const char *k)
{
    const struct pjson *v = pjson_get(o, k);
    return v != NULL && v->type == PJ_STRING ? v->str : "";
}

void page_audit(struct panel_ctx *cx)
{
    struct pbuf arr, *b = &cx->rs->body;
    pbuf_init(&arr);
    long n = panel_audit_tail(cx->app->confdir, cx->app->opts.audit_lines, 4 * 1024 * 1024, &arr);
    struct pjson_limits lim = {arr.len + 1, 32, arr.len + 1, arr.len + 1};
    struct pjson *list = n >= 0 ? pjson_parse(arr.s, arr.len, &lim, NULL, NULL) : NULL;

    page_begin(cx, "Audit log", "/audit");
    pbuf_puts(b, "<h1>Audit log</h1><p>Every change made in the panel, newest first: who, when, "
                 "what, and the configuration before and after. Secrets never appear.</p>");
    if (list == NULL) {
        pbuf_puts(b, "<p class=\"flash error\">The audit log cannot be read.</p>");
    } else if (list->n == 0) {
        pbuf_puts(b, "<p>No change yet.</p>");
    } else {
        pbuf_puts(b, "<div class=\"table-wrap\"><table class=\"list audit\" id=\"audit\"><thead>"
                     "<tr><th scope=\"col\">When (UTC)</th><th scope=\"col\">Who</th>"
                     "<th scope=\"col\">From</th><th scope=\"col\">What</th><th scope=\"col\">"
                     "Object</th><th scope=\"col\">Before and after</th></tr></thead><tbody>");
        for (size_t i = 0; i < list->n; i++) {
            const struct pjson *e = &list->item[i];
            pbuf_puts(b, "<tr><td data-label=\"When\">");
            pbuf_html(b, jstr(e, "time"));
            pbuf_puts(b, "</td><td data-label=\"Who\">");
            pbuf_html(b, jstr(e, "user"));
            pbuf_puts(b, "</td><td data-label=\"From\">");
            pbuf_html(b, jstr(e, "client"));
            pbuf_puts(b, "</td><td data-label=\"What\">");
            pbuf_html(b, jstr(e, "action"));
            pbuf_puts(b, "</td><td data-label=\"Object\">");
            pbuf_html(b, jstr(e, "object"));
            pbuf_puts(b, "</td><td data-label=\"Before and after\"><details><summary>Show"
                         "</summary><div class=\"diff\"><div><h3>Before</h3><pre>");
            struct pbuf tmp;
            pbuf_init(&tmp);
            const struct pjson *before = pjson_get(e, "before");
            const struct pjson *after = pjson_get(e, "after");
            if (before != NULL)
                json_compact(&tmp, before);
            pbuf_html(b, tmp.s);
            pbuf_reset(&tmp);
            pbuf_puts(b, "</pre></div><div><h3>After</h3><pre>");
            if (after != NULL)
                json_compact(&tmp, after);
            pbuf_html(b, tmp.s);
            pbuf_free(&tmp);
            pbuf_puts(b, "</pre></div></div></details></td></tr>");
        }
        pbuf_puts(b, "</tbody></table></div>");
    }
    page_end(cx);
    pjson_free(list);
    pbuf_free(&arr);
}

/* Static assets -------------------------------------------------------------- */

void page_static(struct panel_ctx *cx)
{
    const struct panel_asset *a = panel_asset_find(cx->param);
    if (a == NULL) {
        cx->rs->status = 404;
        cx->rs->content_type = "text/plain; charset=utf-8";
        pbuf_puts(&cx->rs->body, "not found\n");
        return;
    }
    cx->rs->content_type = panel_asset_type(a->name);
    cx->rs->cacheable = true;
    pbuf_add(&cx->rs->body, a->data, a->len);
}
