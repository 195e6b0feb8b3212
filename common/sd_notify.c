/*
 * sd_notify.c - one AF_UNIX datagram per notification, as sd_notify(3)
 * describes the protocol; no libsystemd.
 */
#include "sd_notify.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

bool sd_notify_enabled(void)
{
    const char *e = getenv("NOTIFY_SOCKET");
    return e != NULL && e[0] != '\0';
}

/* Fills sa from NOTIFY_SOCKET: "/path" or "@abstract" (the '@' stands for
 * the leading NUL byte of an abstract address, unix(7)). */
static int notify_address(const char *e, struct sockaddr_un *sa, socklen_t *salen)
{
    size_t n = strlen(e);

    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    if (e[0] == '/') {
        if (n >= sizeof(sa->sun_path))
            return -1;
        memcpy(sa->sun_path, e, n + 1);
        *salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
        return 0;
    }
    if (e[0] == '@' && n > 1) {
        if (n > sizeof(sa->sun_path))
            return -1;
        /* sun_path[0] stays NUL; the name is not NUL-terminated. */
        memcpy(sa->sun_path + 1, e + 1, n - 1);
        *salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
        return 0;
    }
    return -1;
}

int sd_notify_send(const char *state)
{
    const char *e = getenv("NOTIFY_SOCKET");
    struct sockaddr_un sa;
    socklen_t salen;
    size_t len = strlen(state);

    if (e == NULL || e[0] == '\0')
        return 0;
    if (notify_address(e, &sa, &salen) < 0) {
        errno = EINVAL;
        return -1;
    }
    if (len > SD_NOTIFY_MAX) {
        errno = EMSGSIZE;
        return -1;
    }
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    /* The kernel attaches our credentials (systemd sets SO_PASSCRED), which
     * is how systemd checks NotifyAccess=main. Never block the loop: a full
     * queue drops this message, the next one will get through. */
    ssize_t w = sendto(fd, state, len, MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *)&sa, salen);
    int saved = errno;
    close(fd);
    if (w < 0) {
        errno = saved;
        return -1;
    }
    if ((size_t)w != len) {
        errno = EMSGSIZE;
        return -1;
    }
    return 0;
}

/* Appends "STATUS=" and text to buf, keeping the message on one line and
 * within SD_NOTIFY_MAX bytes. */
static void append_status(char *buf, size_t size, const char *text)
{
    size_t n = strlen(buf);
    int k = snprintf(buf + n, size - n, "STATUS=%s", text);
    if (k < 0)
        buf[n] = '\0';
    for (char *p = buf + n; *p != '\0'; p++) {
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    }
}

int sd_notify_ready(const char *status)
{
    char buf[SD_NOTIFY_MAX + 1] = "READY=1";
    if (status != NULL) {
        strcat(buf, "\n");
        append_status(buf, sizeof(buf), status);
    }
    return sd_notify_send(buf);
}

int sd_notify_reloading(void)
{
    char buf[64];
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    unsigned long long usec =
        (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000ULL;
    snprintf(buf, sizeof(buf), "RELOADING=1\nMONOTONIC_USEC=%llu", usec);
    return sd_notify_send(buf);
}

int sd_notify_stopping(void)
{
    return sd_notify_send("STOPPING=1");
}

int sd_notify_status(const char *fmt, ...)
{
    char text[SD_NOTIFY_MAX + 1];
    char buf[SD_NOTIFY_MAX + 1] = "";
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    append_status(buf, sizeof(buf), text);
    return sd_notify_send(buf);
}

int sd_notify_watchdog(void)
{
    return sd_notify_send("WATCHDOG=1");
}

/* A positive decimal number without sign, spaces or overflow, else 0. */
static unsigned long long parse_positive(const char *s)
{
    char *end;

    if (s == NULL || s[0] < '0' || s[0] > '9')
        return 0;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return 0;
    return v;
}

uint64_t sd_notify_watchdog_usec(void)
{
    const char *pid = getenv("WATCHDOG_PID");
    if (pid != NULL) {
        unsigned long long p = parse_positive(pid);
        if (p == 0 || p != (unsigned long long)getpid())
            return 0;
    }
    return parse_positive(getenv("WATCHDOG_USEC"));
}
