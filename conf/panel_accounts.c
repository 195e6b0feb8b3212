/*
 * panel_accounts.c - reading and writing the panel-users file.
 */
#include "panel_accounts.h"

#include "conf_atomic.h"
#include "panel_buf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ACCOUNTS_MAXBYTES (1024 * 1024)

const char *panel_role_name(enum panel_role r)
{
    return r == ROLE_ADMIN ? "admin" : "viewer";
}

int panel_role_parse(const char *s, enum panel_role *out)
{
    if (s != NULL && strcmp(s, "admin") == 0) {
        *out = ROLE_ADMIN;
        return 0;
    }
    if (s != NULL && strcmp(s, "viewer") == 0) {
        *out = ROLE_VIEWER;
        return 0;
    }
    return -1;
}

bool panel_account_name_ok(const char *name)
{
    size_t len = name != NULL ? strlen(name) : 0;
    if (len == 0 || len > PANEL_ACCOUNT_NAMEMAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-' && c != '@')))
            return false;
    }
    return true;
}

static bool hash_ok(const char *h)
{
    if (strncmp(h, "$y$", 3) != 0 || strlen(h) > 512)
        return false;
    for (const char *p = h; *p != '\0'; p++) {
        if (*p <= ' ' || *p == ':' || *p > '~')
            return false;
    }
    return true;
}

void panel_accounts_clear(struct panel_accounts *a)
{
    for (size_t i = 0; i < a->n; i++)
        free(a->v[i].hash);
    free(a->v);
    a->v = NULL;
    a->n = 0;
}

const struct panel_account *panel_accounts_find(const struct panel_accounts *a, const char *name)
{
    for (size_t i = 0; i < a->n; i++) {
        if (strcmp(a->v[i].name, name) == 0)
            return &a->v[i];
    }
    return NULL;
}

int panel_accounts_set(struct panel_accounts *a, const char *name, enum panel_role role,
                       const char *hash)
{
    if (!panel_account_name_ok(name) || !hash_ok(hash))
        return -1;
    char *h = strdup(hash);
    if (h == NULL)
        return -1;
    for (size_t i = 0; i < a->n; i++) {
        if (strcmp(a->v[i].name, name) == 0) {
            free(a->v[i].hash);
            a->v[i].hash = h;
            a->v[i].role = role;
            return 0;
        }
    }
    struct panel_account *v = realloc(a->v, (a->n + 1) * sizeof(*v));
    if (v == NULL) {
        free(h);
        return -1;
    }
    a->v = v;
    memset(&v[a->n], 0, sizeof(v[a->n]));
    memcpy(v[a->n].name, name, strlen(name) + 1);
    v[a->n].role = role;
    v[a->n].hash = h;
    a->n++;
    return 0;
}

bool panel_accounts_remove(struct panel_accounts *a, const char *name)
{
    for (size_t i = 0; i < a->n; i++) {
        if (strcmp(a->v[i].name, name) == 0) {
            free(a->v[i].hash);
            memmove(&a->v[i], &a->v[i + 1], (a->n - i - 1) * sizeof(a->v[0]));
            a->n--;
            return true;
        }
    }
    return false;
}

int panel_accounts_load(const char *dir, struct panel_accounts *a, char *err, size_t errlen)
{
    char path[4096];
    struct stat st;
    size_t len;

    panel_accounts_clear(a);
    snprintf(path, sizeof(path), "%s/%s", dir, PANEL_USERS_FILE);
    if (stat(path, &st) < 0) {
        if (errno == ENOENT)
            return 0;
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    if ((st.st_mode & 077) != 0) {
        snprintf(err, errlen, "%s: readable by group or others; run chmod 600", path);
        return -1;
    }
    char *text = conf_read_file(path, ACCOUNTS_MAXBYTES, &len);
    if (text == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    int lineno = 0, rc = 0;
    for (char *line = text, *next; line != NULL && *line != '\0'; line = next) {
        next = strchr(line, '\n');
        if (next != NULL)
            *next++ = '\0';
        lineno++;
        size_t l = strlen(line);
        if (l > 0 && line[l - 1] == '\r')
            line[--l] = '\0';
        if (l == 0 || line[0] == '#')
            continue;
        char *c1 = strchr(line, ':');
        char *c2 = c1 != NULL ? strchr(c1 + 1, ':') : NULL;
        enum panel_role role;
        if (c1 == NULL || c2 == NULL) {
            snprintf(err, errlen, "%s:%d: expected name:role:hash", path, lineno);
            rc = -1;
            break;
        }
        *c1 = '\0';
        *c2 = '\0';
        if (!panel_account_name_ok(line) || panel_role_parse(c1 + 1, &role) < 0 ||
            !hash_ok(c2 + 1)) {
            snprintf(err, errlen, "%s:%d: bad name, role or yescrypt hash", path, lineno);
            rc = -1;
            break;
        }
        if (panel_accounts_find(a, line) != NULL) {
            snprintf(err, errlen, "%s:%d: account listed twice", path, lineno);
            rc = -1;
            break;
        }
        if (panel_accounts_set(a, line, role, c2 + 1) < 0) {
            snprintf(err, errlen, "out of memory");
            rc = -1;
            break;
        }
    }
    explicit_bzero(text, len);
    free(text);
    if (rc < 0)
        panel_accounts_clear(a);
    return rc;
}

int panel_accounts_save(const char *dir, const struct panel_accounts *a)
{
    struct pbuf b;
    pbuf_init(&b);
    pbuf_puts(&b, "# xfed-panel accounts: name:role:yescrypt-hash. Managed by `xfedctl admin`.\n");
    for (size_t i = 0; i < a->n; i++)
        pbuf_printf(&b, "%s:%s:%s\n", a->v[i].name, panel_role_name(a->v[i].role), a->v[i].hash);
    if (b.failed) {
        pbuf_free(&b);
        errno = ENOMEM;
        return -1;
    }
    int rc = conf_atomic_write(dir, PANEL_USERS_FILE, b.s, b.len, 0600);
    pbuf_free(&b);
    return rc;
}
