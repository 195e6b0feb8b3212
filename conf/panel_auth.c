/*
 * panel_auth.c - sign-in, account cache and the role table.
 */
#include "panel_auth.h"

#include "log.h"
#include "panel_password.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

bool panel_role_allows(enum panel_role role, enum panel_action act)
{
    switch (act) {
    case ACT_READ:
        return role == ROLE_VIEWER || role == ROLE_ADMIN;
    case ACT_CHANGE:
    case ACT_AUDIT:
        return role == ROLE_ADMIN;
    }
    return false;
}

static bool same_file(const struct stat *a, const struct stat *b)
{
    return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
           a->st_mode == b->st_mode;
}

int panel_auth_refresh(struct panel_app *app)
{
    char path[2048], err[512];
    struct stat st;
    snprintf(path, sizeof(path), "%s/%s", app->confdir, PANEL_USERS_FILE);
    if (stat(path, &st) < 0) {
        if (errno != ENOENT) {
            log_warn("auth: %s", path);
            return -1;
        }
        memset(&st, 0, sizeof(st));
    }
    if (app->accounts_loaded && same_file(&st, &app->accounts_st))
        return 0;
    struct panel_accounts fresh = {0};
    if (panel_accounts_load(app->confdir, &fresh, err, sizeof(err)) < 0) {
        log_warnx("auth: %s", err);
        return -1;
    }
    panel_accounts_clear(&app->accounts);
    app->accounts = fresh;
    app->accounts_st = st;
    app->accounts_loaded = true;
    log_info("auth: accounts loaded count=%zu", app->accounts.n);
    return 0;
}

bool panel_auth_session_valid(struct panel_app *app, struct panel_session *s)
{
    panel_auth_refresh(app);
    const struct panel_account *a = panel_accounts_find(&app->accounts, s->user);
    if (a == NULL || panel_hash_fp(a->hash) != s->hash_fp)
        return false;
    s->role = a->role;
    return true;
}

enum panel_signin panel_auth_signin(struct panel_app *app, const char *name, const char *password,
                                    const char *client, struct panel_session **out,
                                    uint64_t *delay_ms)
{
    uint64_t now = panel_now_ms();
    *out = NULL;
    *delay_ms = panel_throttle_wait(app->throttle, name, client, now);
    if (*delay_ms > 0) {
        log_info("auth: sign-in throttled client=%s retry_ms=%llu", client,
                 (unsigned long long)*delay_ms);
        return SIGNIN_THROTTLED;
    }
    if (panel_auth_refresh(app) < 0 && !app->accounts_loaded)
        return SIGNIN_ERROR;
    const struct panel_account *a =
        panel_account_name_ok(name) ? panel_accounts_find(&app->accounts, name) : NULL;
    bool ok = a != NULL ? panel_password_verify(password, a->hash)
                        : panel_password_verify_dummy(password);
    if (!ok) {
        *delay_ms = panel_throttle_failed(app->throttle, name, client, panel_now_ms());
        /* an unknown name is not logged: it may be a password typed into
         * the wrong field */
        log_info("auth: sign-in failed user=%s client=%s delay_ms=%llu",
                 a != NULL ? a->name : "(unknown)", client, (unsigned long long)*delay_ms);
        return SIGNIN_FAILED;
    }
    panel_throttle_succeeded(app->throttle, name, client);
    *out = panel_session_create(app->sessions, a->name, a->role, panel_hash_fp(a->hash),
                                panel_now_s());
    if (*out == NULL) {
        log_warnx("auth: cannot create a session");
        return SIGNIN_ERROR;
    }
    log_info("auth: signed in user=%s role=%s client=%s", a->name, panel_role_name(a->role),
             client);
    return SIGNIN_OK;
}
