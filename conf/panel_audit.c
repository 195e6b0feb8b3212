/*
 * panel_audit.c - writing and reading the audit log.
 */
#include "panel_audit.h"

#include "log.h"
#include "panel_json.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct panel_audit {
    int fd;
    char path[4096];
};

struct panel_audit *panel_audit_open(const char *dir)
{
    struct panel_audit *a = calloc(1, sizeof(*a));
    if (a == NULL)
        return NULL;
    snprintf(a->path, sizeof(a->path), "%s/%s", dir, PANEL_AUDIT_FILE);
    a->fd = open(a->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (a->fd < 0) {
        int e = errno;
        free(a);
        errno = e;
        return NULL;
    }
    return a;
}

void panel_audit_close(struct panel_audit *a)
{
    if (a == NULL)
        return;
    close(a->fd);
    free(a);
}

/* Appends a JSON value on one line: raw newlines can only be whitespace in
 * valid JSON (RFC 8259 section 7 forbids them inside strings). */
static void add_compact(struct pbuf *b, const char *json)
{
    if (json == NULL) {
        pbuf_puts(b, "null");
        return;
    }
    for (const char *p = json; *p != '\0'; p++)
        pbuf_add(b, *p == '\n' || *p == '\r' ? " " : p, 1);
}

int panel_audit_write(struct panel_audit *a, time_t when, const char *user, const char *client,
                      const char *action, const char *object, const char *before_json,
                      const char *after_json)
{
    struct pbuf b;
    struct tm tm;
    char ts[32];

    gmtime_r(&when, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
    pbuf_init(&b);
    pbuf_puts(&b, "{\"time\":");
    pbuf_json_str(&b, ts);
    pbuf_puts(&b, ",\"user\":");
    pbuf_json_str(&b, user);
    pbuf_puts(&b, ",\"client\":");
    pbuf_json_str(&b, client);
    pbuf_puts(&b, ",\"action\":");
    pbuf_json_str(&b, action);
    pbuf_puts(&b, ",\"object\":");
    pbuf_json_str(&b, object);
    pbuf_puts(&b, ",\"before\":");
    add_compact(&b, before_json);
    pbuf_puts(&b, ",\"after\":");
    add_compact(&b, after_json);
    pbuf_puts(&b, "}\n");
    if (b.failed) {
        pbuf_free(&b);
        log_warnx("audit: out of memory action=%s", action);
        return -1;
    }
    /* the line is valid JSON only if the embedded views are: a line we
     * could not read back would hide a change, so refuse to write it */
    struct pjson_limits lim = pjson_default_limits;
    lim.max_bytes = b.len;
    lim.max_values = b.len;
    lim.max_string = b.len;
    struct pjson *check = pjson_parse(b.s, b.len, &lim, NULL, NULL);
    if (check == NULL) {
        log_warnx("audit: refusing malformed line action=%s", action);
        pbuf_free(&b);
        return -1;
    }
    pjson_free(check);
    ssize_t n = write(a->fd, b.s, b.len);
    int rc = 0;
    if (n < 0 || (size_t)n != b.len) {
        log_warn("audit: write %s", a->path);
        rc = -1;
    } else if (fsync(a->fd) < 0) {
        log_warn("audit: fsync %s", a->path);
        rc = -1;
    }
    pbuf_free(&b);
    return rc;
}

long panel_audit_tail(const char *dir, size_t max_lines, size_t max_bytes, struct pbuf *out)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, PANEL_AUDIT_FILE);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        if (errno == ENOENT) {
            pbuf_puts(out, "[]");
            return 0;
        }
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        close(fd);
        return -1;
    }
    off_t start = st.st_size > (off_t)max_bytes ? st.st_size - (off_t)max_bytes : 0;
    size_t want = (size_t)(st.st_size - start);
    char *text = malloc(want + 1);
    if (text == NULL) {
        close(fd);
        return -1;
    }
    size_t got = 0;
    while (got < want) {
        ssize_t n = pread(fd, text + got, want - got, start + (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    text[got] = '\0';
    /* when we started mid-file, the first partial line is skipped */
    char *first = text;
    if (start > 0) {
        char *nl = strchr(text, '\n');
        first = nl != NULL ? nl + 1 : text + got;
    }
    long count = 0;
    pbuf_puts(out, "[");
    char *end = text + got;
    while (end > first && (size_t)count < max_lines) {
        char *line_end = end;
        if (line_end > first && line_end[-1] == '\n')
            line_end--;
        char *line = line_end;
        while (line > first && line[-1] != '\n')
            line--;
        size_t len = (size_t)(line_end - line);
        struct pjson_limits lim = pjson_default_limits;
        lim.max_bytes = len;
        lim.max_values = len + 1;
        lim.max_string = len;
        struct pjson *v = len > 0 ? pjson_parse(line, len, &lim, NULL, NULL) : NULL;
        if (v != NULL && v->type == PJ_OBJECT) {
            if (count > 0)
                pbuf_puts(out, ",");
            pbuf_add(out, line, len);
            count++;
        }
        pjson_free(v);
        end = line;
    }
    pbuf_puts(out, "]");
    free(text);
    return out->failed ? -1 : count;
}
