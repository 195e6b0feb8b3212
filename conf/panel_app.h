/*
 * panel_app.h - the panel application: shared state, the request context
 * handed to page and API handlers, and the router that enforces sign-in,
 * roles and CSRF in one place before any handler runs.
 *
 * Everything here runs on the single HTTP thread (panel_http.h), so the
 * state needs no locks. Handlers that change configuration go through
 * panel_edit.h (store transaction, validation, audit).
 */
#ifndef XFED_PANEL_APP_H
#define XFED_PANEL_APP_H

#include "conf_store.h"
#include "panel_accounts.h"
#include "panel_audit.h"
#include "panel_http.h"
#include "panel_json.h"
#include "panel_options.h"
#include "panel_session.h"
#include "panel_status.h"
#include "panel_throttle.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

struct metric;
struct metrics;

#define PANEL_COOKIE "__Host-xfed-session"

struct panel_app {
    char confdir[1024];
    struct panel_options opts;
    struct conf_store *store;
    struct panel_sessions *sessions;
    struct panel_throttle *throttle;
    struct panel_audit *audit;
    const struct panel_status_source *status;
    struct panel_accounts accounts; /* cache of panel-users, see panel_auth.h */
    struct stat accounts_st;
    bool accounts_loaded;
    /* metrics (docs/metrics.md): never NULL, discarding until set */
    struct metric *m_signins[4]; /* by enum panel_signin */
    struct metric *m_sessions;
    _Atomic uint64_t busy_since_ms; /* panel_now_ms() when the running request
                                       started; 0 while idle (the watchdog) */
};

/* One request as handlers see it. */
struct panel_ctx {
    struct panel_app *app;
    const struct panel_req *rq;
    struct panel_resp *rs;
    struct panel_session *s; /* NULL when not signed in */
    struct pkv_list form;    /* urlencoded body, decoded */
    struct pjson *json;      /* JSON body, or NULL */
    const char *param;       /* path parameter of a prefix route, or "" */
};

typedef void panel_route_fn(struct panel_ctx *);

/* Creates the application for confdir with its options and status source.
 * Opens the store and the audit log. NULL with a reason in err. */
struct panel_app *panel_app_new(const char *confdir, const struct panel_options *,
                                const struct panel_status_source *, char *err, size_t errlen);
void panel_app_free(struct panel_app *);

/* Takes the panel's series from reg (NULL: discard updates). */
void panel_app_set_metrics(struct panel_app *, struct metrics *reg);

/* Counts one sign-in outcome (an enum panel_signin) in
 * xfed_panel_signins_total. */
void panel_app_note_signin(struct panel_app *, int result);

/* How long the request being handled has been running, in ms; 0 when the
 * HTTP thread is idle. Safe from any thread. */
uint64_t panel_app_busy_ms(const struct panel_app *);

/* The panel_handler_fn given to panel_http_start(); arg is the app. */
void panel_app_handle(void *arg, const struct panel_req *, struct panel_resp *);

/* Monotonic clock in seconds and milliseconds (sessions, throttle). */
uint64_t panel_now_s(void);
uint64_t panel_now_ms(void);

/* Response helpers shared by pages and API. */
void panel_redirect(struct panel_ctx *, const char *location);
void panel_json_error(struct panel_ctx *, int status, const char *message);
/* Value of a form field (HTML) or NULL. */
const char *panel_form(const struct panel_ctx *, const char *name);
/* Value of a query argument or NULL. */
const char *panel_query(const struct panel_ctx *, const char *name);
/* Sets the session cookie (id) or clears it (id NULL). */
void panel_set_cookie(struct panel_ctx *, const char *id, unsigned max_age);

#endif
