/*
 * panel_app.c - application state and the router. Sign-in, roles, the
 * Origin check and the CSRF token are enforced here, from one route table,
 * before any handler runs; handlers never repeat these checks.
 */
#include "panel_app.h"

#include "log.h"
#include "metrics.h"
#include "panel_auth.h"
#include "panel_csrf.h"
#include "panel_routes.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

enum route_access {
    R_PUBLIC, /* no session needed */
    R_READ,   /* any signed-in role */
    R_CHANGE, /* admin */
    R_AUDIT,  /* admin */
};

struct route {
    const char *method;
    const char *path;
    bool prefix; /* path is a prefix; the rest is ctx->param */
    bool api;
    enum route_access access;
    panel_route_fn *fn;
};

/* Exact paths before prefixes of the same family: the first match wins. */
static const struct route routes[] = {
    {"GET", "/", false, false, R_READ, page_root},
    {"GET", "/signin", false, false, R_PUBLIC, page_signin},
    {"POST", "/signin", false, false, R_PUBLIC, page_signin_post},
    {"POST", "/signout", false, false, R_READ, page_signout},
    {"GET", "/partners", false, false, R_READ, page_partners},
    {"GET", "/partners/new", false, false, R_CHANGE, page_partner_new},
    {"POST", "/partners/new", false, false, R_CHANGE, page_partner_new_post},
    {"GET", "/partners/edit", false, false, R_CHANGE, page_partner_edit},
    {"POST", "/partners/edit", false, false, R_CHANGE, page_partner_edit_post},
    {"GET", "/partners/view", false, false, R_READ, page_partner_view},
    {"GET", "/partners/delete", false, false, R_CHANGE, page_partner_delete},
    {"POST", "/partners/delete", false, false, R_CHANGE, page_partner_delete_post},
    {"GET", "/settings", false, false, R_READ, page_settings},
    {"POST", "/settings", false, false, R_CHANGE, page_settings_post},
    {"POST", "/settings/secret", false, false, R_CHANGE, page_secret_post},
    {"GET", "/domains", false, false, R_READ, page_domains},
    {"POST", "/domains/add", false, false, R_CHANGE, page_domains_add},
    {"POST", "/domains/remove", false, false, R_CHANGE, page_domains_remove},
    {"GET", "/access", false, false, R_READ, page_access},
    {"POST", "/access/default", false, false, R_CHANGE, page_access_default},
    {"POST", "/access/rule", false, false, R_CHANGE, page_access_rule},
    {"POST", "/access/rule/remove", false, false, R_CHANGE, page_access_rule_remove},
    {"GET", "/status", false, false, R_READ, page_status},
    {"GET", "/audit", false, false, R_AUDIT, page_audit},
    {"GET", "/static/", true, false, R_PUBLIC, page_static},

    {"POST", "/api/session", false, true, R_PUBLIC, api_session_post},
    {"GET", "/api/session", false, true, R_READ, api_session_get},
    {"DELETE", "/api/session", false, true, R_READ, api_session_delete},
    {"GET", "/api/partners", false, true, R_READ, api_partners_get},
    {"POST", "/api/partners", false, true, R_CHANGE, api_partners_post},
    {"POST", "/api/partners/validate", false, true, R_CHANGE, api_partners_validate},
    {"GET", "/api/partners/", true, true, R_READ, api_partner_get},
    {"PUT", "/api/partners/", true, true, R_CHANGE, api_partner_put},
    {"DELETE", "/api/partners/", true, true, R_CHANGE, api_partner_delete},
    {"GET", "/api/settings", false, true, R_READ, api_settings_get},
    {"PUT", "/api/settings", false, true, R_CHANGE, api_settings_put},
    {"POST", "/api/settings/dialback-secret", false, true, R_CHANGE, api_secret_post},
    {"GET", "/api/domains", false, true, R_READ, api_domains_get},
    {"POST", "/api/domains", false, true, R_CHANGE, api_domains_post},
    {"DELETE", "/api/domains/", true, true, R_CHANGE, api_domain_delete},
    {"GET", "/api/access", false, true, R_READ, api_access_get},
    {"PUT", "/api/access", false, true, R_CHANGE, api_access_put},
    {"PUT", "/api/access/domains/", true, true, R_CHANGE, api_access_domain_put},
    {"DELETE", "/api/access/domains/", true, true, R_CHANGE, api_access_domain_delete},
    {"PUT", "/api/access/users/", true, true, R_CHANGE, api_access_user_put},
    {"DELETE", "/api/access/users/", true, true, R_CHANGE, api_access_user_delete},
    {"GET", "/api/status", false, true, R_READ, api_status_get},
    {"GET", "/api/audit", false, true, R_AUDIT, api_audit_get},
};

uint64_t panel_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec;
}

uint64_t panel_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct panel_app *panel_app_new(const char *confdir, const struct panel_options *o,
                                const struct panel_status_source *status, char *err, size_t errlen)
{
    struct panel_app *app = calloc(1, sizeof(*app));
    if (app == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    snprintf(app->confdir, sizeof(app->confdir), "%s", confdir);
    panel_app_set_metrics(app, NULL);
    app->opts = *o;
    app->status = status;
    app->store = conf_store_open(confdir);
    if (app->store == NULL) {
        snprintf(err, errlen, "%s: %s", confdir, strerror(errno));
        panel_app_free(app);
        return NULL;
    }
    app->sessions = panel_sessions_new(o->session_idle, o->session_max, o->max_sessions);
    struct panel_throttle_conf tc = {
        .base_ms = o->signin_delay_base,
        .max_ms = o->signin_delay_max,
        .forget_s = o->signin_forget,
        .max_entries = 4096,
    };
    app->throttle = panel_throttle_new(&tc);
    if (app->sessions == NULL || app->throttle == NULL) {
        snprintf(err, errlen, "out of memory");
        panel_app_free(app);
        return NULL;
    }
    app->audit = panel_audit_open(confdir);
    if (app->audit == NULL) {
        snprintf(err, errlen, "%s/%s: %s", confdir, PANEL_AUDIT_FILE, strerror(errno));
        panel_app_free(app);
        return NULL;
    }
    if (panel_auth_refresh(app) < 0) {
        snprintf(err, errlen, "cannot read %s/%s", confdir, PANEL_USERS_FILE);
        panel_app_free(app);
        return NULL;
    }
    return app;
}

void panel_app_set_metrics(struct panel_app *app, struct metrics *reg)
{
    static const char *const results[] = {"ok", "failed", "throttled", "error"};
    for (int i = 0; i < 4; i++)
        app->m_signins[i] = metrics_counter(reg, "xfed_panel_signins_total", "result", results[i]);
    app->m_sessions = metrics_gauge(reg, "xfed_panel_sessions");
}

void panel_app_note_signin(struct panel_app *app, int result)
{
    if (result >= SIGNIN_OK && result <= SIGNIN_ERROR)
        metric_inc(app->m_signins[result]);
}

uint64_t panel_app_busy_ms(const struct panel_app *app)
{
    uint64_t since = atomic_load(&app->busy_since_ms);
    uint64_t now = panel_now_ms();
    return since == 0 || now < since ? 0 : now - since;
}

void panel_app_free(struct panel_app *app)
{
    if (app == NULL)
        return;
    conf_store_close(app->store);
    panel_sessions_free(app->sessions);
    panel_throttle_free(app->throttle);
    panel_audit_close(app->audit);
    panel_accounts_clear(&app->accounts);
    free(app);
}

void panel_redirect(struct panel_ctx *cx, const char *location)
{
    cx->rs->status = 303;
    pkv_add(&cx->rs->headers, "Location", location);
    cx->rs->content_type = "text/plain; charset=utf-8";
    pbuf_reset(&cx->rs->body);
}

void panel_json_error(struct panel_ctx *cx, int status, const char *message)
{
    cx->rs->status = status;
    cx->rs->content_type = "application/json";
    pbuf_reset(&cx->rs->body);
    pbuf_puts(&cx->rs->body, "{\"error\":");
    pbuf_json_str(&cx->rs->body, message);
    pbuf_puts(&cx->rs->body, "}\n");
}

const char *panel_form(const struct panel_ctx *cx, const char *name)
{
    return pkv_get(&cx->form, name);
}

const char *panel_query(const struct panel_ctx *cx, const char *name)
{
    return pkv_get(&cx->rq->query, name);
}

void panel_set_cookie(struct panel_ctx *cx, const char *id, unsigned max_age)
{
    char v[256];
    /* RFC 6265bis: the __Host- prefix pins Secure, Path=/ and no Domain */
    if (id != NULL)
        snprintf(v, sizeof(v), "%s=%s; Secure; HttpOnly; SameSite=Strict; Path=/; Max-Age=%u",
                 PANEL_COOKIE, id, max_age);
    else
        snprintf(v, sizeof(v), "%s=; Secure; HttpOnly; SameSite=Strict; Path=/; Max-Age=0",
                 PANEL_COOKIE);
    pkv_add(&cx->rs->headers, "Set-Cookie", v);
}

static void deny(struct panel_ctx *cx, bool api, int status, const char *message)
{
    if (api)
        panel_json_error(cx, status, message);
    else
        page_error(cx, status, message);
}

/* A browser sends Origin with every POST, PUT and DELETE; when present it
 * must name this server (RFC 6454 section 7.3). Scripts without Origin rely
 * on the CSRF token alone. */
static bool origin_ok(const struct panel_req *rq)
{
    const char *origin = pkv_get_ci(&rq->headers, "Origin");
    const char *host = pkv_get_ci(&rq->headers, "Host");
    if (origin == NULL)
        return true;
    if (host == NULL || strncmp(origin, "https://", 8) != 0)
        return false;
    return strcasecmp(origin + 8, host) == 0;
}

static bool is_json(const struct panel_req *rq)
{
    const char *ct = pkv_get_ci(&rq->headers, "Content-Type");
    return ct != NULL && strncasecmp(ct, "application/json", 16) == 0;
}

static bool is_form(const struct panel_req *rq)
{
    const char *ct = pkv_get_ci(&rq->headers, "Content-Type");
    return ct != NULL && strncasecmp(ct, "application/x-www-form-urlencoded", 33) == 0;
}

static const struct route *match(const char *method, const char *path, const char **param,
                                 bool *path_known)
{
    *path_known = false;
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        const struct route *r = &routes[i];
        bool hit;
        if (r->prefix) {
            size_t n = strlen(r->path);
            hit =
                strncmp(path, r->path, n) == 0 && path[n] != '\0' && strchr(path + n, '/') == NULL;
            if (hit)
                *param = path + n;
        } else {
            hit = strcmp(path, r->path) == 0;
            if (hit)
                *param = "";
        }
        if (!hit)
            continue;
        *path_known = true;
        if (strcmp(r->method, method) == 0 ||
            (strcmp(method, "HEAD") == 0 && strcmp(r->method, "GET") == 0))
            return r;
    }
    return NULL;
}

static void find_session(struct panel_ctx *cx)
{
    const char *id = pkv_get(&cx->rq->cookies, PANEL_COOKIE);
    if (id == NULL)
        return;
    struct panel_session *s = panel_session_find(cx->app->sessions, id, panel_now_s());
    if (s != NULL && !panel_auth_session_valid(cx->app, s)) {
        log_info("session: ended user=%s reason=account-changed", s->user);
        panel_session_destroy(cx->app->sessions, s);
        s = NULL;
    }
    cx->s = s;
}

static void handle(void *arg, const struct panel_req *rq, struct panel_resp *rs)
{
    struct panel_ctx cx = {.app = arg, .rq = rq, .rs = rs, .param = ""};
    bool api = strncmp(rq->path, "/api/", 5) == 0 || strcmp(rq->path, "/api") == 0;
    const char *param = "";
    bool known;

    if (!panel_text_ok(rq->path)) {
        deny(&cx, api, 400, "bad request");
        return;
    }
    const struct route *r = match(rq->method, rq->path, &param, &known);
    if (r == NULL) {
        if (known) {
            pkv_add(&rs->headers, "Allow", "GET, POST, PUT, DELETE");
            deny(&cx, api, 405, "method not allowed");
        } else {
            deny(&cx, api, 404, "not found");
        }
        return;
    }
    cx.param = param;
    if (r->fn != page_static)
        find_session(&cx);
    if (r->access != R_PUBLIC && cx.s == NULL) {
        if (api)
            panel_json_error(&cx, 401, "sign in first: POST /api/session");
        else
            panel_redirect(&cx, "/signin");
        return;
    }
    if ((r->access == R_CHANGE && (cx.s == NULL || !panel_role_allows(cx.s->role, ACT_CHANGE))) ||
        (r->access == R_AUDIT && (cx.s == NULL || !panel_role_allows(cx.s->role, ACT_AUDIT)))) {
        log_info("access: refused user=%s role=%s method=%s path=%s", cx.s->user,
                 panel_role_name(cx.s->role), rq->method, rq->path);
        deny(&cx, api, 403, "your role may not do this: an admin account is needed");
        return;
    }
    if (panel_csrf_needed(rq->method)) {
        if (!origin_ok(rq)) {
            log_info("access: refused cross-origin request path=%s", rq->path);
            deny(&cx, api, 403, "cross-origin request refused");
            return;
        }
        if (rq->body_len > 0) {
            if (is_form(rq)) {
                if (panel_form_parse(&cx.form, rq->body, rq->body_len, 256) < 0) {
                    pkv_clear(&cx.form);
                    deny(&cx, api, 400, "malformed form data");
                    return;
                }
            } else if (is_json(rq)) {
                const char *why;
                size_t at;
                struct pjson_limits lim = pjson_default_limits;
                lim.max_bytes = cx.app->opts.max_body;
                cx.json = pjson_parse(rq->body, rq->body_len, &lim, &why, &at);
                if (cx.json == NULL) {
                    char msg[160];
                    snprintf(msg, sizeof(msg), "malformed JSON at byte %zu: %s", at, why);
                    deny(&cx, api, 400, msg);
                    return;
                }
            } else {
                deny(&cx, api, 415, "send application/json or a form");
                return;
            }
        }
        /* signing in has no session yet; everything else needs its token */
        if (r->access != R_PUBLIC &&
            !panel_csrf_ok(cx.s, pkv_get_ci(&rq->headers, PANEL_CSRF_HEADER),
                           pkv_get(&cx.form, PANEL_CSRF_FIELD))) {
            log_info("access: refused missing or wrong CSRF token user=%s path=%s", cx.s->user,
                     rq->path);
            deny(&cx, api, 403, "missing or wrong CSRF token: reload the page and try again");
            pkv_clear(&cx.form);
            pjson_free(cx.json);
            return;
        }
    }
    r->fn(&cx);
    pkv_clear(&cx.form);
    pjson_free(cx.json);
}

void panel_app_handle(void *arg, const struct panel_req *rq, struct panel_resp *rs)
{
    struct panel_app *app = arg;
    uint64_t now = panel_now_ms();
    atomic_store(&app->busy_since_ms, now ? now : 1);
    handle(arg, rq, rs);
    metric_set(app->m_sessions, (int64_t)panel_sessions_count(app->sessions));
    atomic_store(&app->busy_since_ms, 0);
}
