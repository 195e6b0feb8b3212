/*
 * panel_auth.h - signing in and who may do what.
 *
 * Accounts come from panel-users (panel_accounts.h), re-read whenever the
 * file changes, so `xfedctl admin add|passwd|remove` takes effect without a
 * restart: a removed account or a changed password ends that account's
 * sessions at their next request, and a changed role applies at once.
 * Sign-in attempts go through the throttle (panel_throttle.h).
 */
#ifndef XFED_PANEL_AUTH_H
#define XFED_PANEL_AUTH_H

#include "panel_app.h"

enum panel_action {
    ACT_READ,   /* every page and GET of the API except the audit log */
    ACT_CHANGE, /* anything that changes configuration */
    ACT_AUDIT,  /* reading the audit log */
};

/* The role table: viewers read; admins read, change and read the audit
 * log. */
bool panel_role_allows(enum panel_role, enum panel_action);

enum panel_signin {
    SIGNIN_OK,        /* *out is the new session */
    SIGNIN_FAILED,    /* wrong name or password: answer after *delay_ms */
    SIGNIN_THROTTLED, /* too early after failures: retry after *delay_ms */
    SIGNIN_ERROR,     /* accounts unreadable or memory: logged */
};

/* Checks name and password for a client address. Never logs the password.
 * Blocks for the duration of one yescrypt computation. */
enum panel_signin panel_auth_signin(struct panel_app *, const char *name, const char *password,
                                    const char *client, struct panel_session **out,
                                    uint64_t *delay_ms);

/* Re-reads panel-users when it changed. Returns 0, or -1 (logged; the
 * previous accounts stay in use... none on the first load). */
int panel_auth_refresh(struct panel_app *);

/* true when the session's account still exists with the same password
 * hash; updates the session's role from the file. */
bool panel_auth_session_valid(struct panel_app *, struct panel_session *);

#endif
