/*
 * panel_csrf.c - checking the per-session anti-CSRF token.
 */
#include "panel_csrf.h"

#include "panel_secret.h"

#include <string.h>

bool panel_csrf_ok(const struct panel_session *s, const char *header_token, const char *form_token)
{
    if (s == NULL)
        return false;
    const char *t = header_token != NULL ? header_token : form_token;
    if (t == NULL || strlen(t) != PANEL_TOKEN_LEN)
        return false;
    return panel_ct_streq(s->csrf, t);
}

bool panel_csrf_needed(const char *method)
{
    /* RFC 9110 section 9.2.1: only these are safe; everything else changes */
    return strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0 &&
           strcmp(method, "OPTIONS") != 0;
}
