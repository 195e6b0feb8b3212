/*
 * conf_atomic.c - durable file replacement and directory locks.
 */
#include "conf_atomic.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n == -1) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int conf_atomic_write(const char *dir, const char *name, const void *data, size_t len, mode_t mode)
{
    char tmp[PATH_MAX], dst[PATH_MAX];
    int fd, dfd, saved;

    if ((size_t)snprintf(dst, sizeof(dst), "%s/%s", dir, name) >= sizeof(dst) ||
        (size_t)snprintf(tmp, sizeof(tmp), "%s/.%s.XXXXXX", dir, name) >= sizeof(tmp)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    if ((fd = mkstemp(tmp)) == -1)
        return -1;
    if (fchmod(fd, mode) == -1 || write_all(fd, data, len) == -1 || fsync(fd) == -1)
        goto fail;
    if (close(fd) == -1) {
        fd = -1;
        goto fail;
    }
    fd = -1;
    if (rename(tmp, dst) == -1)
        goto fail;
    /* The rename is durable only once the directory entry is on disk. */
    if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
        return -1;
    if (fsync(dfd) == -1) {
        saved = errno;
        close(dfd);
        errno = saved;
        return -1;
    }
    close(dfd);
    return 0;
fail:
    saved = errno;
    if (fd != -1)
        close(fd);
    unlink(tmp);
    errno = saved;
    return -1;
}

char *conf_read_file(const char *path, size_t maxlen, size_t *lenp)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    char *buf = NULL;
    size_t len = 0, cap;
    int saved;

    if (fd == -1)
        return NULL;
    if (fstat(fd, &st) == -1)
        goto fail;
    if (!S_ISREG(st.st_mode)) {
        errno = EINVAL;
        goto fail;
    }
    cap = (size_t)st.st_size + 1;
    if (cap > maxlen + 1) {
        errno = EFBIG;
        goto fail;
    }
    if ((buf = malloc(cap)) == NULL)
        goto fail;
    for (;;) {
        if (len + 1 == cap) { /* the file grew while we read it */
            if (cap > maxlen) {
                errno = EFBIG;
                goto fail;
            }
            char *nb = realloc(buf, cap * 2 > maxlen + 1 ? maxlen + 1 : cap * 2);
            if (nb == NULL)
                goto fail;
            cap = cap * 2 > maxlen + 1 ? maxlen + 1 : cap * 2;
            buf = nb;
        }
        ssize_t n = read(fd, buf + len, cap - 1 - len);
        if (n == -1) {
            if (errno == EINTR)
                continue;
            goto fail;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    buf[len] = '\0';
    if (lenp)
        *lenp = len;
    return buf;
fail:
    saved = errno;
    free(buf);
    close(fd);
    errno = saved;
    return NULL;
}

int conf_lock(const char *dir, const char *name)
{
    char path[PATH_MAX];
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    int fd;

    if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1)
        return -1;
    while (fcntl(fd, F_SETLKW, &fl) == -1) {
        if (errno != EINTR) {
            int saved = errno;
            close(fd);
            errno = saved;
            return -1;
        }
    }
    return fd;
}

void conf_unlock(int fd)
{
    if (fd >= 0)
        close(fd); /* closing releases the fcntl lock */
}
