/*
 * panel_api.c - the JSON API under /api/ (documented in docs/panel.md).
 *
 * Same sessions, roles and CSRF rule as the pages (enforced by the router
 * in panel_app.c); same changes (panel_edit.h) and the same JSON views of
 * the configuration as `xfedctl --json` (conf_json.h), so secrets are never
 * sent. Bodies are parsed by panel_json.h with its limits.
 */
#include "conf_json.h"
#include "conf_settings.h"
#include "log.h"
#include "panel_auth.h"
#include "panel_edit.h"
#include "panel_routes.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void json_begin(struct panel_ctx *cx, int status)
{
    cx->rs->status = status;
    cx->rs->content_type = "application/json";
    pbuf_reset(&cx->rs->body);
}

static void add_jbuf(struct panel_ctx *cx, struct jbuf *j)
{
    if (j->failed)
        cx->rs->body.failed = true;
    else if (j->s != NULL)
        pbuf_puts(&cx->rs->body, j->s);
    jbuf_free(j);
}

static void add_report(struct panel_ctx *cx, const struct conf_report *rep)
{
    struct jbuf j;
    jbuf_init(&j);
    conf_json_report(&j, rep);
    add_jbuf(cx, &j);
}

static struct panel_who who_of(const struct panel_ctx *cx)
{
    struct panel_who w = {cx->s != NULL ? cx->s->user : "-", cx->rq->client};
    return w;
}

static const char *outcome_word(int rc)
{
    switch (rc) {
    case CONF_SAVED:
        return "saved";
    case CONF_SAVED_WARNING:
        return "saved_with_warning";
    case CONF_REJECTED:
        return "rejected";
    case PANEL_EDIT_NOTFOUND:
        return "not_found";
    default:
        return "failed";
    }
}

static int status_of(int rc, int ok)
{
    switch (rc) {
    case CONF_SAVED:
    case CONF_SAVED_WARNING:
        return ok;
    case CONF_REJECTED:
        return 422;
    case PANEL_EDIT_NOTFOUND:
        return 404;
    default:
        return 500;
    }
}

/* {"outcome":..., "issues":[...]} plus what extra appends */
static void change_result(struct panel_ctx *cx, int rc, int ok_status,
                          const struct conf_report *rep)
{
    json_begin(cx, status_of(rc, ok_status));
    pbuf_puts(&cx->rs->body, "{\"outcome\":");
    pbuf_json_str(&cx->rs->body, outcome_word(rc));
    if (rc != CONF_SAVED && rc != CONF_SAVED_WARNING)
        pbuf_puts(&cx->rs->body, ",\"error\":\"nothing was saved\"");
    pbuf_puts(&cx->rs->body, ",\"issues\":");
    add_report(cx, rep);
}

static bool need_object(struct panel_ctx *cx)
{
    if (cx->json == NULL || cx->json->type != PJ_OBJECT) {
        panel_json_error(cx, 400, "send a JSON object (Content-Type: application/json)");
        return false;
    }
    return true;
}

/* Turns a JSON value into the text the form would carry. */
static int value_text(const struct pjson *v, bool list, char **out)
{
    *out = NULL;
    switch (v->type) {
    case PJ_STRING:
        *out = strdup(v->str);
        break;
    case PJ_BOOL:
        *out = strdup(v->b ? "true" : "false");
        break;
    case PJ_NUMBER:
        *out = strdup(v->str);
        break;
    case PJ_NULL:
        *out = strdup("");
        break;
    case PJ_ARRAY: {
        if (!list)
            return -1;
        struct pbuf b;
        pbuf_init(&b);
        for (size_t i = 0; i < v->n; i++) {
            if (v->item[i].type != PJ_STRING) {
                pbuf_free(&b);
                return -1;
            }
            if (i)
                pbuf_puts(&b, "\n");
            pbuf_puts(&b, v->item[i].str);
        }
        pbuf_puts(&b, "");
        *out = pbuf_take(&b, NULL);
        if (*out == NULL)
            *out = strdup("");
        break;
    }
    default:
        return -1;
    }
    return *out != NULL ? 0 : -1;
}

/* Copies the partner fields of a JSON object into l; unknown keys and wrong
 * types are reported. Returns 0 or -1. */
static int partner_fields(const struct pjson *o, struct pkv_list *l, struct conf_report *rep)
{
    for (size_t i = 0; i < o->n; i++) {
        const char *k = o->key[i];
        bool known = false;
        for (size_t f = 0; panel_partner_fields[f] != NULL; f++)
            known |= strcmp(panel_partner_fields[f], k) == 0;
        if (!known) {
            if (strcmp(k, "effective_connection_limit") != 0) /* read-only, from GET */
                conf_report_add(rep, CONF_ERROR, k, NULL, 0, 0, "unknown field '%s'", k);
            continue;
        }
        char *text;
        if (value_text(&o->item[i], strcmp(k, "additional_domains") == 0, &text) < 0) {
            conf_report_add(rep, CONF_ERROR, k, NULL, 0, 0, "field '%s' has the wrong type", k);
            continue;
        }
        pkv_add(l, k, text);
        free(text);
    }
    return conf_report_has_errors(rep) ? -1 : 0;
}

/* Session ---------------------------------------------------------------------- */

static void session_json(struct panel_ctx *cx, int status)
{
    json_begin(cx, status);
    pbuf_puts(&cx->rs->body, "{\"user\":");
    pbuf_json_str(&cx->rs->body, cx->s->user);
    pbuf_printf(&cx->rs->body, ",\"role\":\"%s\",\"csrf_token\":\"%s\"}\n",
                panel_role_name(cx->s->role), cx->s->csrf);
}

void api_session_post(struct panel_ctx *cx)
{
    const char *name = NULL, *pw = NULL;
    if (cx->json != NULL) {
        const struct pjson *n = pjson_get(cx->json, "name");
        const struct pjson *p = pjson_get(cx->json, "password");
        name = n != NULL && n->type == PJ_STRING ? n->str : NULL;
        pw = p != NULL && p->type == PJ_STRING ? p->str : NULL;
    } else {
        name = panel_form(cx, "name");
        pw = panel_form(cx, "password");
    }
    if (name == NULL || pw == NULL) {
        panel_json_error(cx, 400, "send {\"name\": ..., \"password\": ...}");
        return;
    }
    if (cx->s != NULL)
        panel_session_destroy(cx->app->sessions, cx->s);
    cx->s = NULL;
    struct panel_session *s;
    uint64_t delay;
    char num[32];
    enum panel_signin res = panel_auth_signin(cx->app, name, pw, cx->rq->client, &s, &delay);
    panel_app_note_signin(cx->app, (int)res);
    switch (res) {
    case SIGNIN_OK:
        cx->s = s;
        panel_set_cookie(cx, s->id, cx->app->opts.session_max);
        session_json(cx, 201);
        return;
    case SIGNIN_FAILED:
        panel_json_error(cx, 401, "wrong account name or password");
        cx->rs->delay_ms = (unsigned)delay;
        return;
    case SIGNIN_THROTTLED:
        snprintf(num, sizeof(num), "%llu", (unsigned long long)((delay + 999) / 1000));
        pkv_add(&cx->rs->headers, "Retry-After", num);
        panel_json_error(cx, 429, "too many failed sign-ins: retry later (see Retry-After)");
        return;
    case SIGNIN_ERROR:
        panel_json_error(cx, 500, "sign-in is unavailable");
        return;
    }
}

void api_session_get(struct panel_ctx *cx)
{
    session_json(cx, 200);
}

void api_session_delete(struct panel_ctx *cx)
{
    log_info("auth: signed out user=%s", cx->s->user);
    panel_session_destroy(cx->app->sessions, cx->s);
    cx->s = NULL;
    panel_set_cookie(cx, NULL, 0);
    json_begin(cx, 200);
    pbuf_puts(&cx->rs->body, "{\"signed_out\":true}\n");
}

/* Partners ----------------------------------------------------------------------- */

static struct conf *load(struct panel_ctx *cx)
{
    struct conf_report rep;
    conf_report_init(&rep);
    struct conf *c = conf_store_load(cx->app->store, &rep);
    if (c == NULL) {
        json_begin(cx, 500);
        pbuf_puts(&cx->rs->body, "{\"error\":\"the configuration cannot be read\",\"issues\":");
        add_report(cx, &rep);
        pbuf_puts(&cx->rs->body, "}\n");
    }
    conf_report_clear(&rep);
    return c;
}

void api_partners_get(struct panel_ctx *cx)
{
    struct conf *c = load(cx);
    if (c == NULL)
        return;
    const struct conf_partner **v = calloc(c->n_partners + 1, sizeof(*v));
    if (v == NULL) {
        conf_free(c);
        panel_json_error(cx, 500, "out of memory");
        return;
    }
    for (size_t i = 0; i < c->n_partners; i++)
        v[i] = &c->partners[i];
    struct jbuf j;
    jbuf_init(&j);
    conf_json_partners(&j, c, (const struct conf_partner *const *)v, c->n_partners);
    json_begin(cx, 200);
    pbuf_printf(&cx->rs->body, "{\"version\":%" PRIu64 ",\"partners\":", c->version);
    add_jbuf(cx, &j);
    pbuf_puts(&cx->rs->body, "}\n");
    free(v);
    conf_free(c);
}

static void partner_out(struct panel_ctx *cx, const char *domain)
{
    struct conf_report rep;
    conf_report_init(&rep);
    struct conf *c = conf_store_load(cx->app->store, &rep);
    ssize_t idx = c != NULL ? conf_partner_index(c, domain) : -1;
    if (idx >= 0) {
        struct jbuf j;
        jbuf_init(&j);
        conf_json_partner(&j, c, &c->partners[idx]);
        add_jbuf(cx, &j);
    } else {
        pbuf_puts(&cx->rs->body, "null");
    }
    conf_free(c);
    conf_report_clear(&rep);
}

void api_partner_get(struct panel_ctx *cx)
{
    struct conf *c = load(cx);
    if (c == NULL)
        return;
    ssize_t idx = conf_partner_index(c, cx->param);
    if (idx < 0) {
        conf_free(c);
        panel_json_error(cx, 404, "no such partner");
        return;
    }
    struct jbuf j;
    jbuf_init(&j);
    conf_json_partner(&j, c, &c->partners[idx]);
    json_begin(cx, 200);
    add_jbuf(cx, &j);
    pbuf_puts(&cx->rs->body, "\n");
    conf_free(c);
}

static void partner_write(struct panel_ctx *cx, const char *original)
{
    struct pkv_list l = {0};
    struct conf_report rep;
    struct panel_partner_input in;
    char saved[1100] = "";
    int rc;

    if (!need_object(cx))
        return;
    conf_report_init(&rep);
    if (partner_fields(cx->json, &l, &rep) < 0) {
        rc = CONF_REJECTED;
    } else {
        panel_partner_input_from(&in, &l);
        if (original == NULL && in.domain == NULL) {
            conf_report_add(&rep, CONF_ERROR, "domain", NULL, 0, 0,
                            "the primary domain is required");
            rc = CONF_REJECTED;
        } else {
            struct panel_who w = who_of(cx);
            rc = panel_edit_partner(cx->app, &w, original, &in, &rep, saved, sizeof(saved));
        }
    }
    change_result(cx, rc, original == NULL ? 201 : 200, &rep);
    if (rc == CONF_SAVED || rc == CONF_SAVED_WARNING) {
        pbuf_puts(&cx->rs->body, ",\"partner\":");
        partner_out(cx, saved);
    }
    pbuf_puts(&cx->rs->body, "}\n");
    conf_report_clear(&rep);
    pkv_clear(&l);
}

void api_partners_post(struct panel_ctx *cx)
{
    partner_write(cx, NULL);
}

/* Validates without saving: the panel's script uses it to show the
 * server's verdict while the form is being filled in. For an edit, the
 * partner being replaced is named by ?original=DOMAIN. */
void api_partners_validate(struct panel_ctx *cx)
{
    struct pkv_list l = {0};
    struct conf_report rep;
    struct panel_partner_input in;
    const char *original = panel_query(cx, "original");

    if (!need_object(cx))
        return;
    conf_report_init(&rep);
    int rc = CONF_REJECTED;
    if (partner_fields(cx->json, &l, &rep) == 0) {
        panel_partner_input_from(&in, &l);
        rc = panel_check_partner(cx->app, original != NULL && original[0] ? original : NULL, &in,
                                 &rep);
    }
    json_begin(cx, rc == PANEL_EDIT_SYSTEM ? 500 : 200);
    pbuf_puts(&cx->rs->body, "{\"outcome\":");
    pbuf_json_str(&cx->rs->body, rc == CONF_REJECTED        ? "would_be_rejected"
                                 : rc == CONF_SAVED_WARNING ? "would_save_with_warning"
                                 : rc == CONF_SAVED         ? "would_save"
                                                            : outcome_word(rc));
    pbuf_puts(&cx->rs->body, ",\"issues\":");
    add_report(cx, &rep);
    pbuf_puts(&cx->rs->body, "}\n");
    conf_report_clear(&rep);
    pkv_clear(&l);
}

void api_partner_put(struct panel_ctx *cx)
{
    partner_write(cx, cx->param);
}

void api_partner_delete(struct panel_ctx *cx)
{
    struct conf_report rep;
    struct panel_who w = who_of(cx);
    conf_report_init(&rep);
    int rc = panel_edit_partner_delete(cx->app, &w, cx->param, &rep);
    change_result(cx, rc, 200, &rep);
    pbuf_puts(&cx->rs->body, "}\n");
    conf_report_clear(&rep);
}

/* Settings ------------------------------------------------------------------------- */

void api_settings_get(struct panel_ctx *cx)
{
    struct conf *c = load(cx);
    if (c == NULL)
        return;
    struct jbuf j;
    jbuf_init(&j);
    conf_json_settings(&j, c);
    json_begin(cx, 200);
    add_jbuf(cx, &j);
    pbuf_puts(&cx->rs->body, "\n");
    conf_free(c);
}

void api_settings_put(struct panel_ctx *cx)
{
    struct pkv_list l = {0};
    struct conf_report rep;
    struct panel_who w = who_of(cx);
    int rc;
    if (!need_object(cx))
        return;
    conf_report_init(&rep);
    for (size_t i = 0; i < cx->json->n; i++) {
        const char *k = cx->json->key[i];
        char *text, field[96];
        snprintf(field, sizeof(field), "settings.%s", k);
        /* read-only members of the GET view are ignored so a GET can be
         * edited and PUT back */
        if (strcmp(k, "version") == 0 || strcmp(k, "hosted_domains") == 0 ||
            strcmp(k, "dialback_secret_set") == 0)
            continue;
        if (value_text(&cx->json->item[i], false, &text) < 0) {
            conf_report_add(&rep, CONF_ERROR, field, NULL, 0, 0, "%s has the wrong type", k);
            continue;
        }
        pkv_add(&l, k, text);
        free(text);
    }
    if (conf_report_has_errors(&rep))
        rc = CONF_REJECTED;
    else
        rc = panel_edit_settings(cx->app, &w, &l, &rep);
    change_result(cx, rc, 200, &rep);
    if (rc == CONF_SAVED || rc == CONF_SAVED_WARNING) {
        struct conf *c = conf_store_load(cx->app->store, &rep);
        if (c != NULL) {
            struct jbuf j;
            jbuf_init(&j);
            conf_json_settings(&j, c);
            pbuf_puts(&cx->rs->body, ",\"settings\":");
            add_jbuf(cx, &j);
            conf_free(c);
        }
    }
    pbuf_puts(&cx->rs->body, "}\n");
    conf_report_clear(&rep);
    pkv_clear(&l);
}

void api_secret_post(struct panel_ctx *cx)
{
    struct conf_report rep;
    struct panel_who w = who_of(cx);
    conf_report_init(&rep);
    int rc = panel_edit_secret(cx->app, &w, &rep);
    change_result(cx, rc, 200, &rep);
    pbuf_puts(&cx->rs->body, ",\"dialback_secret_set\":true}\n");
    conf_report_clear(&rep);
}

/* Hosted domains ------------------------------------------------------------------- */

void api_domains_get(struct panel_ctx *cx)
{
    struct conf *c = load(cx);
    if (c == NULL)
        return;
    json_begin(cx, 200);
    pbuf_puts(&cx->rs->body, "{\"hosted_domains\":[");
    for (size_t i = 0; i < c->hosted.n; i++) {
        if (i)
            pbuf_puts(&cx->rs->body, ",");
        pbuf_json_str(&cx->rs->body, c->hosted.v[i]);
    }
    pbuf_puts(&cx->rs->body, "]}\n");
    conf_free(c);
}

static void domains_change(struct panel_ctx *cx, const char *d, bool add)
{
    struct conf_report rep;
    struct panel_who w = who_of(cx);
    conf_report_init(&rep);
    int rc = panel_edit_hosted(cx->app, &w, d, add, &rep);
    change_result(cx, rc, add ? 201 : 200, &rep);
    pbuf_puts(&cx->rs->body, "}\n");
    conf_report_clear(&rep);
}

void api_domains_post(struct panel_ctx *cx)
{
    if (!need_object(cx))
        return;
    const struct pjson *d = pjson_get(cx->json, "domain");
    if (d == NULL || d->type != PJ_STRING) {
        panel_json_error(cx, 400, "send {\"domain\": \"...\"}");
        return;
    }
    domains_change(cx, d->str, true);
}

void api_domain_delete(struct panel_ctx *cx)
{
    domains_change(cx, cx->param, false);
}

/* Access policy ---------------------------------------------------------------------- */

void api_access_get(struct panel_ctx *cx)
{
    struct conf *c = load(cx);
    if (c == NULL)
        return;
    struct jbuf j;
    jbuf_init(&j);
    conf_json_access(&j, c);
    json_begin(cx, 200);
    add_jbuf(cx, &j);
    pbuf_puts(&cx->rs->body, "\n");
    conf_free(c);
}

static const char *access_of(struct panel_ctx *cx)
{
    if (!need_object(cx))
        return NULL;
    const struct pjson *a = pjson_get(cx->json, "access");
    if (a == NULL || a->type != PJ_STRING) {
        panel_json_error(cx, 400, "send {\"access\": \"allow\"} or {\"access\": \"deny\"}");
        return NULL;
    }
    return a->str;
}

void api_access_put(struct panel_ctx *cx)
{
    if (!need_object(cx))
        return;
    const struct pjson *d = pjson_get(cx->json, "default");
    if (d == NULL || d->type != PJ_STRING || cx->json->n != 1) {
        panel_json_error(cx, 400,
                         "send {\"default\": \"allow\"|\"deny\"}; overrides have their "
                         "own resources");
        return;
    }
    struct conf_report rep;
    struct panel_who w = who_of(cx);
    conf_report_init(&rep);
    int rc = panel_edit_access_default(cx->app, &w, d->str, &rep);
    change_result(cx, rc, 200, &rep);
    pbuf_puts(&cx->rs->body, "}\n");
    conf_report_clear(&rep);
}

static void access_rule(struct panel_ctx *cx, bool user, bool remove)
{
    const char *access = NULL;
    if (!remove && (access = access_of(cx)) == NULL)
        return;
    struct conf_report rep;
    struct panel_who w = who_of(cx);
    conf_report_init(&rep);
    int rc = panel_edit_access_rule(cx->app, &w, user, cx->param, access, &rep);
    change_result(cx, rc, 200, &rep);
    pbuf_puts(&cx->rs->body, "}\n");
    conf_report_clear(&rep);
}

void api_access_domain_put(struct panel_ctx *cx)
{
    access_rule(cx, false, false);
}

void api_access_domain_delete(struct panel_ctx *cx)
{
    access_rule(cx, false, true);
}

void api_access_user_put(struct panel_ctx *cx)
{
    access_rule(cx, true, false);
}

void api_access_user_delete(struct panel_ctx *cx)
{
    access_rule(cx, true, true);
}

/* Status and audit ---------------------------------------------------------------------- */

void api_status_get(struct panel_ctx *cx)
{
    struct panel_status st;
    struct conf_report rep;
    conf_report_init(&rep);
    struct conf *c = conf_store_load(cx->app->store, &rep);
    if (panel_status_collect(cx->app->status, &st) < 0) {
        st.available = false;
        snprintf(st.why, sizeof(st.why), "the status source failed");
    }
    json_begin(cx, 200);
    panel_status_json(&cx->rs->body, &st, c != NULL ? c->version : 0);
    pbuf_puts(&cx->rs->body, "\n");
    panel_status_clear(&st);
    conf_free(c);
    conf_report_clear(&rep);
}

void api_audit_get(struct panel_ctx *cx)
{
    const char *lim = panel_query(cx, "limit");
    unsigned long n = cx->app->opts.audit_lines;
    if (lim != NULL) {
        char *end;
        unsigned long v = strtoul(lim, &end, 10);
        if (*end != '\0' || v == 0 || v > 100000) {
            panel_json_error(cx, 400, "limit must be between 1 and 100000");
            return;
        }
        n = v;
    }
    json_begin(cx, 200);
    pbuf_puts(&cx->rs->body, "{\"entries\":");
    if (panel_audit_tail(cx->app->confdir, n, 16 * 1024 * 1024, &cx->rs->body) < 0) {
        panel_json_error(cx, 500, "the audit log cannot be read");
        return;
    }
    pbuf_puts(&cx->rs->body, "}\n");
}
