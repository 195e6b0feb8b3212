/*
 * conf_atomic.h - durable replacement of a small file and an exclusive lock
 * on a directory. Used for xfed.conf, the panel's accounts and the IPC keys.
 * Blocking calls: never on a hot path.
 */
#ifndef XFED_CONF_ATOMIC_H
#define XFED_CONF_ATOMIC_H

#include <stddef.h>
#include <sys/types.h>

/* Replaces dir/name with data: writes dir/.name.XXXXXX with the given mode,
 * fsync, rename over dir/name, fsync dir. On failure nothing changes and
 * -1 is returned with errno set; 0 on success. */
int conf_atomic_write(const char *dir, const char *name, const void *data, size_t len, mode_t mode);

/* Reads a whole file (at most maxlen bytes) into a malloc'd NUL-terminated
 * buffer. Returns NULL with errno set (EFBIG when larger than maxlen). */
char *conf_read_file(const char *path, size_t maxlen, size_t *len);

/* Takes an exclusive fcntl lock on dir/name (created 0600 if missing),
 * waiting for it. Returns the fd to pass to conf_unlock, or -1 with errno.
 * The lock dies with the process. */
int conf_lock(const char *dir, const char *name);
void conf_unlock(int fd);

#endif
