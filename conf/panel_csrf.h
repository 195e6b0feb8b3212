/*
 * panel_csrf.h - the anti-CSRF rule of the panel: every POST, PUT and
 * DELETE made with a session must carry that session's token, in the
 * X-CSRF-Token header (API, scripts) or the form field "csrf" (HTML forms).
 * The token is per session (panel_session.h) and compared in constant time.
 * SameSite=Strict cookies and the Origin check in panel_app.c are further
 * layers; this token is the one that is required.
 */
#ifndef XFED_PANEL_CSRF_H
#define XFED_PANEL_CSRF_H

#include "panel_session.h"

#include <stdbool.h>

#define PANEL_CSRF_HEADER "X-CSRF-Token"
#define PANEL_CSRF_FIELD  "csrf"

/* true when the header token (preferred when present) or else the form
 * token equals the session's. NULL tokens or a NULL session fail. */
bool panel_csrf_ok(const struct panel_session *s, const char *header_token, const char *form_token);

/* true for methods that change state and so need the token. */
bool panel_csrf_needed(const char *method);

#endif
