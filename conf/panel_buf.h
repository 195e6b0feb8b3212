/*
 * panel_buf.h - a growable byte buffer for building HTTP bodies (HTML, JSON,
 * audit lines) in the panel.
 *
 * Memory exhaustion sets `failed` and turns every later append into a no-op,
 * so callers build a whole page and check once at the end (the HTTP layer
 * answers 500 for a failed buffer). The content is always NUL-terminated
 * when s != NULL.
 */
#ifndef XFED_PANEL_BUF_H
#define XFED_PANEL_BUF_H

#include <stdbool.h>
#include <stddef.h>

struct pbuf {
    char *s;
    size_t len, cap;
    bool failed;
};

void pbuf_init(struct pbuf *);
void pbuf_free(struct pbuf *);
void pbuf_reset(struct pbuf *);
void pbuf_add(struct pbuf *, const void *data, size_t len);
void pbuf_puts(struct pbuf *, const char *s);
void pbuf_printf(struct pbuf *, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s with &, <, >, " and ' escaped for HTML text and attribute
 * values. NULL appends nothing. */
void pbuf_html(struct pbuf *, const char *s);
/* Appends s as a JSON string literal (RFC 8259 section 7), quotes included.
 * NULL appends null. */
void pbuf_json_str(struct pbuf *, const char *s);
/* Appends s percent-encoded for a URL query value (RFC 3986 section 2.1). */
void pbuf_url(struct pbuf *, const char *s);
/* Gives up the content: returns the malloc'd string (or NULL when failed or
 * empty-and-unallocated) and resets the buffer. */
char *pbuf_take(struct pbuf *, size_t *len);

#endif
