/*
 * conf_store.c - the configuration directory: lock, load, validate, write.
 */
#include "conf_store.h"
#include "conf_atomic.h"
#include "conf_file.h"

#include <errno.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOCK_NAME ".xfed.lock"
#define CONF_MODE 0640 /* holds the dialback secret */

struct conf_store {
    char *dir;
    char *path;
    int lockfd;
};

struct conf_store *conf_store_open(const char *dir)
{
    struct stat st;
    if (stat(dir, &st) == -1)
        return NULL;
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return NULL;
    }
    struct conf_store *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->lockfd = -1;
    s->dir = strdup(dir);
    if (s->dir == NULL || asprintf(&s->path, "%s/%s", dir, CONF_FILE_NAME) < 0) {
        free(s->dir);
        free(s);
        errno = ENOMEM;
        return NULL;
    }
    return s;
}

void conf_store_close(struct conf_store *s)
{
    if (s == NULL)
        return;
    conf_unlock(s->lockfd);
    free(s->dir);
    free(s->path);
    free(s);
}

const char *conf_store_path(const struct conf_store *s)
{
    return s->path;
}

static struct conf *load_valid(struct conf_store *s, struct conf_report *report)
{
    struct conf *c = conf_file_read(s->path, report);
    if (c == NULL)
        return NULL;
    struct conf_report own;
    conf_report_init(&own);
    if (conf_validate(c, &own) == CONF_REJECTED) {
        for (size_t i = 0; i < own.n; i++)
            conf_report_add(report, own.v[i].severity, own.v[i].field, s->path, 0, own.v[i].row,
                            "%s", own.v[i].message);
        conf_report_clear(&own);
        conf_free(c);
        return NULL;
    }
    conf_report_clear(&own);
    return c;
}

struct conf *conf_store_load(struct conf_store *s, struct conf_report *report)
{
    return load_valid(s, report);
}

int conf_store_begin(struct conf_store *s, struct conf **out, struct conf_report *report)
{
    *out = NULL;
    if (s->lockfd != -1) {
        conf_report_add(report, CONF_ERROR, "", s->dir, 0, 0, "store is already locked");
        return -1;
    }
    if ((s->lockfd = conf_lock(s->dir, LOCK_NAME)) == -1) {
        conf_report_add(report, CONF_ERROR, "", s->dir, 0, 0, "cannot lock: %s", strerror(errno));
        return -1;
    }
    if ((*out = load_valid(s, report)) == NULL) {
        conf_store_abort(s);
        return -1;
    }
    return 0;
}

int conf_store_commit(struct conf_store *s, struct conf *c, struct conf_report *report)
{
    struct conf_report own;
    int rc;

    if (s->lockfd == -1) {
        conf_report_add(report, CONF_ERROR, "", s->dir, 0, 0, "commit without begin");
        return -1;
    }
    conf_report_init(&own);
    if (conf_validate(c, &own) == CONF_REJECTED) {
        /* Only errors: callers show the warnings of their own change. */
        for (size_t i = 0; i < own.n; i++)
            if (own.v[i].severity == CONF_ERROR)
                conf_report_add(report, CONF_ERROR, own.v[i].field, NULL, 0, own.v[i].row, "%s",
                                own.v[i].message);
        conf_report_clear(&own);
        conf_store_abort(s);
        return CONF_REJECTED;
    }
    rc = CONF_SAVED;
    conf_report_clear(&own);

    c->version++;
    char *text = conf_file_format(c);
    if (text == NULL ||
        conf_atomic_write(s->dir, CONF_FILE_NAME, text, strlen(text), CONF_MODE) == -1) {
        conf_report_add(report, CONF_ERROR, "", s->path, 0, 0, "cannot write: %s", strerror(errno));
        c->version--;
        rc = -1;
    }
    free(text);
    conf_store_abort(s);
    return rc;
}

void conf_store_abort(struct conf_store *s)
{
    conf_unlock(s->lockfd);
    s->lockfd = -1;
}

int conf_store_init(const char *dir, const struct conf_strlist *hosted, struct conf_report *report)
{
    char path[4096];
    unsigned char raw[32];
    char hex[65];

    /* Refuse bad input before anything touches the disk. */
    struct conf *probe = conf_new();
    if (probe == NULL)
        return -1;
    for (size_t i = 0; hosted && i < hosted->n; i++)
        conf_strlist_add(&probe->hosted, hosted->v[i]);
    probe->settings.dialback_secret = strdup("0123456789abcdef");
    int bad = conf_validate(probe, report) == CONF_REJECTED;
    conf_free(probe);
    if (bad)
        return -1;
    if (mkdir(dir, 0750) == -1 && errno != EEXIST) {
        conf_report_add(report, CONF_ERROR, "", dir, 0, 0, "cannot create: %s", strerror(errno));
        return -1;
    }
    int lockfd = conf_lock(dir, LOCK_NAME);
    if (lockfd == -1) {
        conf_report_add(report, CONF_ERROR, "", dir, 0, 0, "cannot lock: %s", strerror(errno));
        return -1;
    }
    snprintf(path, sizeof(path), "%s/%s", dir, CONF_FILE_NAME);
    if (access(path, F_OK) == 0) {
        conf_unlock(lockfd);
        return 1;
    }
    struct conf *c = conf_new();
    int rc = -1;
    if (c == NULL || RAND_bytes(raw, sizeof(raw)) != 1) {
        conf_report_add(report, CONF_ERROR, "", dir, 0, 0, "cannot create a dialback secret");
        goto out;
    }
    for (size_t i = 0; i < sizeof(raw); i++)
        snprintf(hex + 2 * i, 3, "%02x", raw[i]);
    OPENSSL_cleanse(raw, sizeof(raw));
    if ((c->settings.dialback_secret = strdup(hex)) == NULL)
        goto out;
    OPENSSL_cleanse(hex, sizeof(hex));
    for (size_t i = 0; hosted && i < hosted->n; i++)
        if (conf_strlist_add(&c->hosted, hosted->v[i]) == -1)
            goto out;
    if (conf_validate(c, report) == CONF_REJECTED)
        goto out;
    c->version = 1;
    char *text = conf_file_format(c);
    if (text == NULL || conf_atomic_write(dir, CONF_FILE_NAME, text, strlen(text), CONF_MODE) == -1)
        conf_report_add(report, CONF_ERROR, "", path, 0, 0, "cannot write: %s", strerror(errno));
    else
        rc = 0;
    free(text);
out:
    conf_free(c);
    conf_unlock(lockfd);
    return rc;
}
