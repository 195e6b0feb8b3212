/*
 * log.h - the one logging interface of every xfed process.
 *
 * Lines go to stderr (foreground, the default) or syslog. Each line is
 * "LEVEL message" where the message carries key=value fields; callers put the
 * session id first. Nothing here ever receives a secret: callers must not pass
 * keys, passwords or dialback secrets, and message bodies only when the
 * global setting log_message_bodies is on.
 *
 * log_warn() appends ": strerror(errno)", log_warnx() does not; fatal() and
 * fatalx() are for start-up problems only and exit with XFED_EXIT_SYSTEM.
 * Nothing a network peer sends may reach fatal(): peers get INFO lines so
 * that they cannot raise our log severity (nginx's rule).
 */
#ifndef XFED_LOG_H
#define XFED_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

enum log_level { LOG_LEVEL_WARN = 0, LOG_LEVEL_INFO = 1, LOG_LEVEL_DEBUG = 2 };

/* Sets the program name shown in each line, the lowest level printed and
 * whether lines go to syslog instead of stderr. Call once at start-up. */
void log_init(const char *progname, enum log_level level, bool use_syslog);
void log_set_level(enum log_level level);

void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Peer input made safe for a quoted key="value" field: copies s into buf
 * (cap bytes, cut to fit) with '"', '\\' and control bytes replaced by '?'.
 * Returns buf; "" for a NULL s. */
const char *log_value(const char *s, char *buf, size_t cap);

#endif
