/*
 * panel_form.h - name/value lists: HTML form bodies
 * (application/x-www-form-urlencoded), query strings, headers and cookies as
 * the panel's request handlers see them.
 */
#ifndef XFED_PANEL_FORM_H
#define XFED_PANEL_FORM_H

#include <stddef.h>

struct pkv {
    char *name;
    char *value;
};

struct pkv_list {
    struct pkv *v;
    size_t n;
};

/* Appends copies of name and value. Returns 0 or -1 (memory). */
int pkv_add(struct pkv_list *, const char *name, const char *value);
void pkv_clear(struct pkv_list *);
/* First value for name (exact match), or NULL. Valid until the list is
 * cleared. */
const char *pkv_get(const struct pkv_list *, const char *name);
/* As pkv_get, but the name is compared ignoring ASCII case (headers). */
const char *pkv_get_ci(const struct pkv_list *, const char *name);

/* Decodes an application/x-www-form-urlencoded body (WHATWG URL standard,
 * section 5.1: '+' is a space, %XX a byte) into list. At most max_fields
 * pairs; a malformed escape, a NUL byte or invalid UTF-8 in a value makes
 * the whole body invalid. Returns 0 or -1 (malformed, too many fields or
 * memory); the list then holds what was decoded before the problem. */
int panel_form_parse(struct pkv_list *, const char *body, size_t len, size_t max_fields);

/* Splits a Cookie header (RFC 6265 section 5.4) into name/value pairs. */
int panel_cookie_parse(struct pkv_list *, const char *header, size_t max_cookies);

/* true when s is valid UTF-8 without control characters other than TAB, LF
 * and CR. */
int panel_text_ok(const char *s);

#endif
