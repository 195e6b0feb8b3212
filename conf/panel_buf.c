/*
 * panel_buf.c - growable buffer and the escaping the panel's output needs.
 */
#include "panel_buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void pbuf_init(struct pbuf *b)
{
    memset(b, 0, sizeof(*b));
}

void pbuf_free(struct pbuf *b)
{
    if (b == NULL)
        return;
    free(b->s);
    memset(b, 0, sizeof(*b));
}

void pbuf_reset(struct pbuf *b)
{
    b->len = 0;
    if (b->s != NULL)
        b->s[0] = '\0';
}

static bool pbuf_reserve(struct pbuf *b, size_t more)
{
    if (b->failed)
        return false;
    if (more > ((size_t)-1) / 2 - b->len) {
        b->failed = true;
        return false;
    }
    size_t need = b->len + more + 1;
    if (need <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    char *s = realloc(b->s, cap);
    if (s == NULL) {
        b->failed = true;
        return false;
    }
    b->s = s;
    b->cap = cap;
    return true;
}

void pbuf_add(struct pbuf *b, const void *data, size_t len)
{
    if (!pbuf_reserve(b, len))
        return;
    if (len > 0)
        memcpy(b->s + b->len, data, len);
    b->len += len;
    b->s[b->len] = '\0';
}

void pbuf_puts(struct pbuf *b, const char *s)
{
    if (s != NULL)
        pbuf_add(b, s, strlen(s));
}

void pbuf_printf(struct pbuf *b, const char *fmt, ...)
{
    va_list ap;
    char small[256];

    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = true;
        return;
    }
    if ((size_t)n < sizeof(small)) {
        pbuf_add(b, small, (size_t)n);
        return;
    }
    if (!pbuf_reserve(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void pbuf_html(struct pbuf *b, const char *s)
{
    if (s == NULL)
        return;
    for (const char *p = s; *p != '\0'; p++) {
        switch (*p) {
        case '&':
            pbuf_puts(b, "&amp;");
            break;
        case '<':
            pbuf_puts(b, "&lt;");
            break;
        case '>':
            pbuf_puts(b, "&gt;");
            break;
        case '"':
            pbuf_puts(b, "&quot;");
            break;
        case '\'':
            pbuf_puts(b, "&#39;");
            break;
        default:
            pbuf_add(b, p, 1);
        }
    }
}

void pbuf_json_str(struct pbuf *b, const char *s)
{
    if (s == NULL) {
        pbuf_puts(b, "null");
        return;
    }
    pbuf_add(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        switch (*p) {
        case '"':
            pbuf_puts(b, "\\\"");
            break;
        case '\\':
            pbuf_puts(b, "\\\\");
            break;
        case '\n':
            pbuf_puts(b, "\\n");
            break;
        case '\r':
            pbuf_puts(b, "\\r");
            break;
        case '\t':
            pbuf_puts(b, "\\t");
            break;
        case '<':
            /* keeps "</script>" and HTML comments out of JSON embedded anywhere */
            pbuf_puts(b, "\\u003c");
            break;
        default:
            if (*p < 0x20)
                pbuf_printf(b, "\\u%04x", *p);
            else
                pbuf_add(b, p, 1);
        }
    }
    pbuf_add(b, "\"", 1);
}

void pbuf_url(struct pbuf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    if (s == NULL)
        return;
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '.' || *p == '_' || *p == '~') {
            pbuf_add(b, p, 1);
        } else {
            char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            pbuf_add(b, e, 3);
        }
    }
}

char *pbuf_take(struct pbuf *b, size_t *len)
{
    char *s = b->failed ? NULL : b->s;
    if (len != NULL)
        *len = s != NULL ? b->len : 0;
    if (b->failed)
        free(b->s);
    memset(b, 0, sizeof(*b));
    return s;
}
