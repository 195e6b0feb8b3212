/*
 * panel_form.c - decoding form bodies and cookies into name/value lists.
 */
#include "panel_form.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int pkv_add(struct pkv_list *l, const char *name, const char *value)
{
    struct pkv *v = realloc(l->v, (l->n + 1) * sizeof(*v));
    if (v == NULL)
        return -1;
    l->v = v;
    v[l->n].name = strdup(name);
    v[l->n].value = strdup(value);
    if (v[l->n].name == NULL || v[l->n].value == NULL) {
        free(v[l->n].name);
        free(v[l->n].value);
        return -1;
    }
    l->n++;
    return 0;
}

void pkv_clear(struct pkv_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].name);
        free(l->v[i].value);
    }
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

const char *pkv_get(const struct pkv_list *l, const char *name)
{
    for (size_t i = 0; i < l->n; i++) {
        if (strcmp(l->v[i].name, name) == 0)
            return l->v[i].value;
    }
    return NULL;
}

const char *pkv_get_ci(const struct pkv_list *l, const char *name)
{
    for (size_t i = 0; i < l->n; i++) {
        if (strcasecmp(l->v[i].name, name) == 0)
            return l->v[i].value;
    }
    return NULL;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes in[0..len) into a new string; NULL when malformed. */
static char *form_decode(const char *in, size_t len)
{
    char *out = malloc(len + 1);
    size_t n = 0;
    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            int hi = i + 2 < len ? hexval(in[i + 1]) : -1;
            int lo = i + 2 < len ? hexval(in[i + 2]) : -1;
            if (hi < 0 || lo < 0) {
                free(out);
                return NULL;
            }
            c = (char)(hi << 4 | lo);
            i += 2;
        }
        if (c == '\0') {
            free(out);
            return NULL;
        }
        out[n++] = c;
    }
    out[n] = '\0';
    if (!panel_text_ok(out)) {
        free(out);
        return NULL;
    }
    return out;
}

int panel_form_parse(struct pkv_list *l, const char *body, size_t len, size_t max_fields)
{
    size_t i = 0, fields = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && body[j] != '&')
            j++;
        if (j > i) {
            size_t eq = i;
            while (eq < j && body[eq] != '=')
                eq++;
            if (++fields > max_fields)
                return -1;
            char *name = form_decode(body + i, eq - i);
            char *value = form_decode(body + (eq < j ? eq + 1 : j), eq < j ? j - eq - 1 : 0);
            int rc = name != NULL && value != NULL ? pkv_add(l, name, value) : -1;
            free(name);
            free(value);
            if (rc < 0)
                return -1;
        }
        i = j + 1;
    }
    return 0;
}

int panel_cookie_parse(struct pkv_list *l, const char *header, size_t max_cookies)
{
    size_t count = 0;
    const char *p = header;
    while (p != NULL && *p != '\0') {
        while (*p == ' ' || *p == ';')
            p++;
        const char *end = strchr(p, ';');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        if (eq != NULL && eq > p) {
            if (++count > max_cookies)
                return -1;
            char *name = strndup(p, (size_t)(eq - p));
            char *value = strndup(eq + 1, len - (size_t)(eq - p) - 1);
            int rc = name != NULL && value != NULL ? pkv_add(l, name, value) : -1;
            free(name);
            free(value);
            if (rc < 0)
                return -1;
        }
        p = end;
    }
    return 0;
}

int panel_text_ok(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p != '\0') {
        unsigned char c = *p;
        size_t l;
        if (c < 0x20 && c != '\t' && c != '\n' && c != '\r')
            return 0;
        if (c == 0x7f)
            return 0;
        if (c < 0x80) {
            p++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf)
            l = 2;
        else if (c >= 0xe0 && c <= 0xef)
            l = 3;
        else if (c >= 0xf0 && c <= 0xf4)
            l = 4;
        else
            return 0;
        for (size_t k = 1; k < l; k++) {
            if ((p[k] & 0xc0) != 0x80)
                return 0;
        }
        if ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] >= 0xa0) ||
            (c == 0xf0 && p[1] < 0x90) || (c == 0xf4 && p[1] >= 0x90))
            return 0;
        p += l;
    }
    return 1;
}
