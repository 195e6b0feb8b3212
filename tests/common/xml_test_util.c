/*
 * xml_test_util.c - see xml_test_util.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xml_test_util.h"

static void append(struct recorder *r, const char *s, size_t n)
{
    if (r->len + n + 1 > r->cap) {
        size_t cap = r->cap ? r->cap : 256;
        while (cap < r->len + n + 1) {
            cap *= 2;
        }
        char *p = realloc(r->log, cap);
        if (p == NULL) {
            abort();
        }
        r->log = p;
        r->cap = cap;
    }
    memcpy(r->log + r->len, s, n);
    r->len += n;
    r->log[r->len] = '\0';
}

static void append_str(struct recorder *r, const char *s)
{
    append(r, s, strlen(s));
}

static void append_value(struct recorder *r, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\\') {
            append(r, "\\\\", 2);
        } else if (s[i] == '\n') {
            append(r, "\\n", 2);
        } else {
            append(r, s + i, 1);
        }
    }
}

static void append_field(struct recorder *r, const char *name, const char *v)
{
    append_str(r, " ");
    append_str(r, name);
    append_str(r, "=");
    if (v == NULL) {
        append_str(r, "-");
    } else {
        append_value(r, v, strlen(v));
    }
}

static int on_header(void *arg, const struct xml_stream_header *h)
{
    struct recorder *r = arg;
    r->headers++;
    append_str(r, "header");
    append_field(r, "to", h->to);
    append_field(r, "from", h->from);
    append_field(r, "id", h->id);
    append_field(r, "version", h->version);
    append_field(r, "lang", h->lang);
    append_field(r, "ns", h->default_ns);
    append_field(r, "prefixed", h->stream_prefixed ? "1" : "0");
    append_field(r, "db", h->db_declared ? "1" : "0");
    append_str(r, "\n");
    return 0;
}

static int on_element(void *arg, struct stanza *el)
{
    struct recorder *r = arg;
    r->elements++;
    char small[512];
    size_t n = stanza_serialize(el, small, sizeof(small));
    char *s = small;
    if (n >= sizeof(small)) {
        s = malloc(n + 1);
        if (s == NULL) {
            abort();
        }
        stanza_serialize(el, s, n + 1);
    }
    append_str(r, "element ");
    append_value(r, s, n);
    append_str(r, "\n");
    if (s != small) {
        free(s);
    }
    return r->stop_at_element == r->elements ? -1 : 0;
}

static int on_close(void *arg)
{
    struct recorder *r = arg;
    r->closes++;
    append_str(r, "close\n");
    return 0;
}

static void on_error(void *arg, enum xml_stream_error err, const char *condition, const char *text)
{
    struct recorder *r = arg;
    (void)text;
    r->errors++;
    r->err = err;
    append_str(r, "error ");
    append_str(r, condition);
    append_str(r, "\n");
}

const struct xml_stream_cb recorder_cb = {on_header, on_element, on_close, on_error};

void recorder_init(struct recorder *r)
{
    memset(r, 0, sizeof(*r));
    append(r, "", 0);
}

void recorder_free(struct recorder *r)
{
    free(r->log);
    memset(r, 0, sizeof(*r));
}

long recorder_run(struct recorder *r, const struct xml_limits *lim, const void *buf, size_t len,
                  size_t chunk)
{
    struct xml_stream *s = xml_stream_new(lim, &recorder_cb, r);
    if (s == NULL) {
        abort();
    }
    const char *b = buf;
    size_t off = 0;
    long consumed = 0;
    if (chunk == 0) {
        chunk = len > 0 ? len : 1;
    }
    while (off < len) {
        size_t n = len - off < chunk ? len - off : chunk;
        ssize_t rc = xml_stream_feed(s, b + off, n);
        if (rc < 0) {
            consumed = -1;
            break;
        }
        consumed += rc;
        if ((size_t)rc < n) {
            break; /* a callback stopped the stream */
        }
        off += n;
    }
    xml_stream_free(s);
    return consumed;
}

char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf != NULL) {
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (n < cap) {
            break;
        }
        char *p = realloc(buf, cap * 2);
        if (p == NULL) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = p;
        cap *= 2;
    }
    fclose(f);
    if (buf != NULL) {
        *len = n;
    }
    return buf;
}
