/*
 * panel_routes.h - the handlers behind the router of panel_app.c: HTML pages
 * (panel_pages.c) and the JSON API (panel_api.c). Each is called only after
 * the router checked sign-in, role and CSRF token for its route.
 */
#ifndef XFED_PANEL_ROUTES_H
#define XFED_PANEL_ROUTES_H

#include "panel_app.h"

/* pages */
void page_root(struct panel_ctx *);
void page_signin(struct panel_ctx *);
void page_signin_post(struct panel_ctx *);
void page_signout(struct panel_ctx *);
void page_partners(struct panel_ctx *);
void page_partner_new(struct panel_ctx *);
void page_partner_new_post(struct panel_ctx *);
void page_partner_edit(struct panel_ctx *);
void page_partner_edit_post(struct panel_ctx *);
void page_partner_view(struct panel_ctx *);
void page_partner_delete(struct panel_ctx *);
void page_partner_delete_post(struct panel_ctx *);
void page_settings(struct panel_ctx *);
void page_settings_post(struct panel_ctx *);
void page_secret_post(struct panel_ctx *);
void page_domains(struct panel_ctx *);
void page_domains_add(struct panel_ctx *);
void page_domains_remove(struct panel_ctx *);
void page_access(struct panel_ctx *);
void page_access_default(struct panel_ctx *);
void page_access_rule(struct panel_ctx *);
void page_access_rule_remove(struct panel_ctx *);
void page_status(struct panel_ctx *);
void page_audit(struct panel_ctx *);
void page_static(struct panel_ctx *);
/* Error pages for the router. */
void page_error(struct panel_ctx *, int status, const char *message);

/* API */
void api_session_post(struct panel_ctx *);
void api_session_get(struct panel_ctx *);
void api_session_delete(struct panel_ctx *);
void api_partners_get(struct panel_ctx *);
void api_partners_post(struct panel_ctx *);
void api_partners_validate(struct panel_ctx *);
void api_partner_get(struct panel_ctx *);
void api_partner_put(struct panel_ctx *);
void api_partner_delete(struct panel_ctx *);
void api_settings_get(struct panel_ctx *);
void api_settings_put(struct panel_ctx *);
void api_secret_post(struct panel_ctx *);
void api_domains_get(struct panel_ctx *);
void api_domains_post(struct panel_ctx *);
void api_domain_delete(struct panel_ctx *);
void api_access_get(struct panel_ctx *);
void api_access_put(struct panel_ctx *);
void api_access_domain_put(struct panel_ctx *);
void api_access_domain_delete(struct panel_ctx *);
void api_access_user_put(struct panel_ctx *);
void api_access_user_delete(struct panel_ctx *);
void api_status_get(struct panel_ctx *);
void api_audit_get(struct panel_ctx *);

#endif
