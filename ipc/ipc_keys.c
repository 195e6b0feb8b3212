/*
 * ipc_keys.c - CURVE key files: generation, storage as Z85 text, loading and
 * the gateway allow-list. Secret keys never reach a log line or stdout from
 * here; the buffers that held them are wiped.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf_atomic.h"
#include "ipc_keys.h"
#include "ipc_zmq.h"
#include "log.h"

#define KEYS_DIR     "keys"
#define ALLOW_DIR    "keys/gateways"
#define GW_PAIR_DIR  "keys/gateway"
#define KEY_FILE_MAX 256

static const char z85_chars[] = "0123456789abcdefghijklmnopqrstuvwxyz"
                                "ABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

void ipc_keypair_wipe(struct ipc_keypair *kp)
{
    explicit_bzero(kp->secret_key, sizeof(kp->secret_key));
}

bool ipc_key_valid(const char *s)
{
    if (s == NULL || strlen(s) != IPC_KEY_Z85_LEN)
        return false;
    for (size_t i = 0; i < IPC_KEY_Z85_LEN; i++)
        if (strchr(z85_chars, s[i]) == NULL)
            return false;
    return true;
}

bool ipc_key_name_valid(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > IPC_KEY_NAME_MAX || name[0] == '.' || name[0] == '-')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-'))
            return false;
    }
    return true;
}

int ipc_keys_generate(struct ipc_keypair *out)
{
    memset(out, 0, sizeof(*out));
    if (ipc_zmq_curve_keypair(out->public_key, out->secret_key) != 0) {
        errno = ENOTSUP;
        return -1;
    }
    return 0;
}

static int path_join(char *dst, size_t cap, const char *a, const char *b)
{
    if ((size_t)snprintf(dst, cap, "%s/%s", a, b) >= cap) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}

static int mkdir_p1(const char *path, mode_t mode)
{
    if (mkdir(path, mode) == 0 || errno == EEXIST)
        return 0;
    return -1;
}

/* Makes confdir/sub (one or two levels under an existing confdir). */
static int ensure_dir(const char *confdir, const char *sub, mode_t mode, char *out, size_t cap)
{
    char keys[PATH_MAX];
    if (path_join(keys, sizeof(keys), confdir, KEYS_DIR) != 0 || mkdir_p1(keys, 0750) != 0)
        return -1;
    if (path_join(out, cap, confdir, sub) != 0 || mkdir_p1(out, mode) != 0)
        return -1;
    return 0;
}

/* Reads one key file: 40 Z85 characters, optional trailing white space. */
static int read_key(const char *path, char out[IPC_KEY_Z85_LEN + 1], bool secret)
{
    if (secret) {
        struct stat st;
        if (stat(path, &st) != 0)
            return -1;
        if (st.st_mode & 077) {
            log_warnx("ipc: secret key file is accessible by others path=%s mode=%03o", path,
                      (unsigned)(st.st_mode & 0777));
            errno = EACCES;
            return -1;
        }
    }
    size_t len = 0;
    char *buf = conf_read_file(path, KEY_FILE_MAX, &len);
    if (buf == NULL)
        return -1;
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' ' ||
                       buf[len - 1] == '\t'))
        buf[--len] = '\0';
    int rc = 0;
    if (!ipc_key_valid(buf)) {
        log_warnx("ipc: malformed key file path=%s", path);
        errno = EINVAL;
        rc = -1;
    } else {
        memcpy(out, buf, IPC_KEY_Z85_LEN + 1);
    }
    explicit_bzero(buf, len);
    free(buf);
    return rc;
}

static int write_key(const char *dir, const char *name, const char *key, mode_t mode)
{
    char line[IPC_KEY_Z85_LEN + 2];
    memcpy(line, key, IPC_KEY_Z85_LEN);
    line[IPC_KEY_Z85_LEN] = '\n';
    line[IPC_KEY_Z85_LEN + 1] = '\0';
    int rc = conf_atomic_write(dir, name, line, IPC_KEY_Z85_LEN + 1, mode);
    int saved = errno;
    explicit_bzero(line, sizeof(line));
    errno = saved;
    return rc;
}

int ipc_keys_load_public(const char *path, char out[IPC_KEY_Z85_LEN + 1])
{
    return read_key(path, out, false);
}

int ipc_keys_load_pair(const char *dir, const char *base, struct ipc_keypair *out)
{
    char path[PATH_MAX], derived[IPC_KEY_Z85_LEN + 1];
    memset(out, 0, sizeof(*out));
    if ((size_t)snprintf(path, sizeof(path), "%s/%s.key", dir, base) >= sizeof(path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    if (read_key(path, out->secret_key, true) != 0)
        goto fail;
    if ((size_t)snprintf(path, sizeof(path), "%s/%s.pub", dir, base) >= sizeof(path)) {
        errno = ENAMETOOLONG;
        goto fail;
    }
    if (read_key(path, out->public_key, false) != 0)
        goto fail;
    if (ipc_zmq_curve_public(derived, out->secret_key) != 0 ||
        strcmp(derived, out->public_key) != 0) {
        log_warnx("ipc: public key does not match secret key path=%s", path);
        errno = EINVAL;
        goto fail;
    }
    return 0;
fail : {
    int saved = errno;
    ipc_keypair_wipe(out);
    errno = saved;
    return -1;
}
}

int ipc_keys_load_edge(const char *confdir, struct ipc_keypair *out)
{
    char dir[PATH_MAX];
    if (path_join(dir, sizeof(dir), confdir, KEYS_DIR) != 0)
        return -1;
    return ipc_keys_load_pair(dir, "edge", out);
}

/* Writes base.key (0600) then base.pub (0644) into dir. */
static int write_pair(const char *dir, const char *base, const struct ipc_keypair *kp)
{
    char name[IPC_KEY_NAME_MAX + 8];
    snprintf(name, sizeof(name), "%s.key", base);
    if (write_key(dir, name, kp->secret_key, 0600) != 0)
        return -1;
    snprintf(name, sizeof(name), "%s.pub", base);
    return write_key(dir, name, kp->public_key, 0644);
}

int ipc_keys_init_edge(const char *confdir, bool force, struct ipc_keypair *out)
{
    char dir[PATH_MAX], path[PATH_MAX];
    struct stat st;
    if (stat(confdir, &st) != 0)
        return -1;
    if (path_join(dir, sizeof(dir), confdir, KEYS_DIR) != 0 || mkdir_p1(dir, 0750) != 0 ||
        path_join(path, sizeof(path), dir, "edge.key") != 0)
        return -1;
    if (!force && access(path, F_OK) == 0) {
        if (out) {
            struct ipc_keypair kp;
            if (ipc_keys_load_edge(confdir, &kp) != 0)
                return -1;
            *out = kp;
            ipc_keypair_wipe(&kp);
        }
        return 1;
    }
    struct ipc_keypair kp;
    if (ipc_keys_generate(&kp) != 0)
        return -1;
    int rc = write_pair(dir, "edge", &kp);
    int saved = errno;
    if (rc == 0 && out)
        *out = kp;
    ipc_keypair_wipe(&kp);
    errno = saved;
    return rc;
}

static int allow_path(const char *confdir, const char *name, char *path, size_t cap)
{
    if (!ipc_key_name_valid(name)) {
        errno = EINVAL;
        return -1;
    }
    if ((size_t)snprintf(path, cap, "%s/%s/%s.pub", confdir, ALLOW_DIR, name) >= cap) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}

int ipc_keys_allow(const char *confdir, const char *name, const char *public_key)
{
    char dir[PATH_MAX], path[PATH_MAX], file[IPC_KEY_NAME_MAX + 8];
    if (!ipc_key_valid(public_key) || allow_path(confdir, name, path, sizeof(path)) != 0) {
        errno = EINVAL;
        return -1;
    }
    if (access(path, F_OK) == 0) {
        errno = EEXIST;
        return -1;
    }
    if (ensure_dir(confdir, ALLOW_DIR, 0750, dir, sizeof(dir)) != 0)
        return -1;
    snprintf(file, sizeof(file), "%s.pub", name);
    return write_key(dir, file, public_key, 0644);
}

int ipc_keys_add_gateway(const char *confdir, const char *name, struct ipc_keypair *out)
{
    char dir[PATH_MAX], path[PATH_MAX];
    if (allow_path(confdir, name, path, sizeof(path)) != 0)
        return -1;
    if (access(path, F_OK) == 0) {
        errno = EEXIST;
        return -1;
    }
    struct ipc_keypair kp;
    if (ipc_keys_generate(&kp) != 0)
        return -1;
    int rc = -1;
    /* The pair first: an allow-list entry without its pair is useless. */
    if (ensure_dir(confdir, GW_PAIR_DIR, 0700, dir, sizeof(dir)) == 0 &&
        write_pair(dir, name, &kp) == 0 && ipc_keys_allow(confdir, name, kp.public_key) == 0)
        rc = 0;
    int saved = errno;
    if (rc == 0 && out)
        *out = kp;
    ipc_keypair_wipe(&kp);
    errno = saved;
    return rc;
}

static int sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

int ipc_keys_remove_gateway(const char *confdir, const char *name)
{
    char path[PATH_MAX], dir[PATH_MAX];
    if (allow_path(confdir, name, path, sizeof(path)) != 0)
        return -1;
    if (unlink(path) != 0)
        return -1;
    if (path_join(dir, sizeof(dir), confdir, ALLOW_DIR) != 0 || sync_dir(dir) != 0)
        return -1;
    if (path_join(dir, sizeof(dir), confdir, GW_PAIR_DIR) != 0)
        return -1;
    const char *ext[] = {".key", ".pub"};
    bool any = false;
    for (size_t i = 0; i < 2; i++) {
        if ((size_t)snprintf(path, sizeof(path), "%s/%s%s", dir, name, ext[i]) >= sizeof(path)) {
            errno = ENAMETOOLONG;
            return -1;
        }
        if (unlink(path) == 0)
            any = true;
        else if (errno != ENOENT)
            return -1;
    }
    if (any && sync_dir(dir) != 0)
        return -1;
    return 0;
}

static int cmp_entry(const void *a, const void *b)
{
    const struct ipc_allow_entry *x = a, *y = b;
    return strcmp(x->name, y->name);
}

void ipc_allowlist_free(struct ipc_allowlist *l)
{
    if (l == NULL)
        return;
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

int ipc_keys_load_allowlist(const char *confdir, struct ipc_allowlist *out)
{
    char dir[PATH_MAX], path[PATH_MAX];
    out->v = NULL;
    out->n = 0;
    if (path_join(dir, sizeof(dir), confdir, ALLOW_DIR) != 0)
        return -1;
    DIR *d = opendir(dir);
    if (d == NULL)
        return errno == ENOENT ? 0 : -1;
    size_t cap = 0;
    struct dirent *de;
    int rc = 0;
    while ((de = readdir(d)) != NULL) {
        const char *fn = de->d_name;
        size_t len = strlen(fn);
        /* Skips ".", "..", conf_atomic_write's ".NAME.XXXXXX" temporaries
         * and anything that is not NAME.pub. */
        if (fn[0] == '.' || len < 5 || strcmp(fn + len - 4, ".pub") != 0)
            continue;
        char name[IPC_KEY_NAME_MAX + 1];
        if (len - 4 > IPC_KEY_NAME_MAX) {
            log_warnx("ipc: ignoring allow-list file with too long a name in %s", dir);
            continue;
        }
        memcpy(name, fn, len - 4);
        name[len - 4] = '\0';
        if (!ipc_key_name_valid(name)) {
            log_warnx("ipc: ignoring allow-list file with invalid name in %s", dir);
            continue;
        }
        if (out->n == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            struct ipc_allow_entry *nv = realloc(out->v, ncap * sizeof(*nv));
            if (nv == NULL) {
                rc = -1;
                break;
            }
            out->v = nv;
            cap = ncap;
        }
        struct ipc_allow_entry *e = &out->v[out->n];
        memset(e, 0, sizeof(*e));
        memcpy(e->name, name, strlen(name) + 1);
        if (path_join(path, sizeof(path), dir, fn) != 0 ||
            ipc_keys_load_public(path, e->public_key) != 0) {
            rc = -1;
            break;
        }
        out->n++;
    }
    int saved = errno;
    closedir(d);
    if (rc != 0) {
        ipc_allowlist_free(out);
        errno = saved;
        return -1;
    }
    if (out->n > 1)
        qsort(out->v, out->n, sizeof(*out->v), cmp_entry);
    return 0;
}
