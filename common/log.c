/*
 * log.c - stderr or syslog lines with a level word and key=value fields.
 */
#include "log.h"
#include "exitcodes.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

static const char *log_progname = "xfed";
static enum log_level log_level = LOG_LEVEL_INFO;
static bool log_syslog;

void log_init(const char *progname, enum log_level level, bool use_syslog)
{
    log_progname = progname;
    log_level = level;
    log_syslog = use_syslog;
    if (use_syslog)
        openlog(progname, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void log_set_level(enum log_level level)
{
    log_level = level;
}

static void log_vwrite(int prio, const char *word, const char *fmt, va_list ap, int err)
    __attribute__((format(printf, 3, 0)));

static void log_vwrite(int prio, const char *word, const char *fmt, va_list ap, int err)
{
    char msg[2048];

    vsnprintf(msg, sizeof(msg), fmt, ap);
    if (log_syslog) {
        if (err)
            syslog(prio, "%s: %s", msg, strerror(err));
        else
            syslog(prio, "%s", msg);
        return;
    }
    struct timespec ts;
    struct tm tm;
    char stamp[32];
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
    if (err)
        fprintf(stderr, "%s.%03ldZ %s %s %s: %s\n", stamp, ts.tv_nsec / 1000000, log_progname, word,
                msg, strerror(err));
    else
        fprintf(stderr, "%s.%03ldZ %s %s %s\n", stamp, ts.tv_nsec / 1000000, log_progname, word,
                msg);
}

void log_warn(const char *fmt, ...)
{
    int err = errno;
    va_list ap;
    va_start(ap, fmt);
    log_vwrite(LOG_WARNING, "WARN", fmt, ap, err);
    va_end(ap);
}

void log_warnx(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vwrite(LOG_WARNING, "WARN", fmt, ap, 0);
    va_end(ap);
}

void log_info(const char *fmt, ...)
{
    if (log_level < LOG_LEVEL_INFO)
        return;
    va_list ap;
    va_start(ap, fmt);
    log_vwrite(LOG_INFO, "INFO", fmt, ap, 0);
    va_end(ap);
}

void log_debug(const char *fmt, ...)
{
    if (log_level < LOG_LEVEL_DEBUG)
        return;
    va_list ap;
    va_start(ap, fmt);
    log_vwrite(LOG_DEBUG, "DEBUG", fmt, ap, 0);
    va_end(ap);
}

void fatal(const char *fmt, ...)
{
    int err = errno;
    va_list ap;
    va_start(ap, fmt);
    log_vwrite(LOG_CRIT, "FATAL", fmt, ap, err);
    va_end(ap);
    exit(XFED_EXIT_SYSTEM);
}

void fatalx(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vwrite(LOG_CRIT, "FATAL", fmt, ap, 0);
    va_end(ap);
    exit(XFED_EXIT_SYSTEM);
}

const char *log_value(const char *s, char *buf, size_t cap)
{
    size_t n = 0;
    if (cap == 0)
        return "";
    for (; s && s[n] && n + 1 < cap; n++) {
        unsigned char ch = (unsigned char)s[n];
        buf[n] = ch < 0x20 || ch == 0x7f || ch == '"' || ch == '\\' ? '?' : (char)ch;
    }
    buf[n] = '\0';
    return buf;
}
