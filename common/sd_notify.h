/*
 * sd_notify.h - the systemd service notification protocol (sd_notify(3),
 * "Notification socket" in systemd.service(5)) without libsystemd.
 *
 * Under systemd, a Type=notify service gets NOTIFY_SOCKET in its
 * environment: an AF_UNIX datagram socket, either a file system path
 * ("/run/systemd/notify") or an abstract name written "@name". Each message
 * is one datagram of newline-separated KEY=VALUE lines. A unit with
 * WatchdogSec= also gets WATCHDOG_USEC (and WATCHDOG_PID, the process it
 * is meant for). Outside systemd (tests, a shell) NOTIFY_SOCKET is unset and
 * every sending call here does nothing and returns 0, so a daemon calls them
 * unconditionally.
 *
 * What an xfed daemon must call, and when (image/systemd/xfed-*.service are
 * Type=notify with WatchdogSec=30s and NotifyAccess=main):
 *
 *  1. Ready: sd_notify_ready("...") exactly once at start-up, as the last
 *     step before entering the event loop: after the configuration is
 *     loaded and checked, every listener is bound, the IPC endpoint is set
 *     up and privileges are dropped. Until READY=1 arrives systemd shows the
 *     service as "activating", holds back units ordered after it, and kills
 *     it after TimeoutStartSec=. A daemon that fails before this point exits
 *     with its exit code (1 rejected configuration, 3 system failure) and
 *     sends nothing.
 *  2. Watchdog: right after ready, read sd_notify_watchdog_usec(). When it is
 *     not 0, arm a persistent timer on the daemon's own event loop (libevent:
 *     event_new(base, -1, EV_PERSIST, cb, NULL) + event_add) firing every
 *     usec / 2 microseconds; its callback calls sd_notify_watchdog(). The
 *     ping must come from the loop that does the work, never from a helper
 *     thread, so that a stuck loop is what the watchdog catches: systemd
 *     then sends SIGABRT and Restart=on-failure starts the service again.
 *  3. Reload (SIGHUP, systemctl reload): sd_notify_reloading() when the
 *     loop starts handling the reload, then sd_notify_ready() once the new
 *     configuration is applied, or once it was refused and the old one kept
 *     (the refusal is logged; the service stays up).
 *  4. Stop (SIGTERM, SIGINT): sd_notify_stopping() when shutting down
 *     begins, before streams and connections are closed.
 *  5. Status, optional, any time: sd_notify_status("%u streams, %u gateways",
 *     ...) for the one line "systemctl status" shows. Keep it short and free
 *     of secrets; it ends up in the journal.
 *
 * Every call is non-blocking (MSG_DONTWAIT): when systemd's queue is full the
 * message is dropped and -1 is returned with errno EAGAIN. A failure is never
 * fatal: log it at debug level and carry on. The calls keep no state besides
 * reading the environment, so they are safe from any thread as long as no
 * thread changes the environment at the same time. Each sending call opens
 * and closes one socket.
 */
#ifndef XFED_SD_NOTIFY_H
#define XFED_SD_NOTIFY_H

#include <stdbool.h>
#include <stdint.h>

/* Longest message sent; a longer STATUS= is cut to fit. */
#define SD_NOTIFY_MAX 1024

/* True when NOTIFY_SOCKET is set, i.e. systemd listens for notifications. */
bool sd_notify_enabled(void);

/* Sends state (one or more "KEY=VALUE" lines separated by '\n') as one
 * datagram. Returns 0 when sent or when NOTIFY_SOCKET is unset; -1 with errno
 * when NOTIFY_SOCKET is not usable (EINVAL: neither an absolute path nor
 * "@name", or too long; EMSGSIZE: state longer than SD_NOTIFY_MAX) or the
 * datagram could not be sent (EAGAIN, ECONNREFUSED, ENOENT, ...). */
int sd_notify_send(const char *state);

/* "READY=1", plus "STATUS=<status>" when status is not NULL. */
int sd_notify_ready(const char *status);

/* "RELOADING=1" with "MONOTONIC_USEC=<now>" (the clock systemd 253 and later
 * use to match a reload with its READY=1). */
int sd_notify_reloading(void);

/* "STOPPING=1". */
int sd_notify_stopping(void);

/* "STATUS=<formatted text>"; line breaks become spaces. */
int sd_notify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* "WATCHDOG=1": the loop is alive. */
int sd_notify_watchdog(void);

/* The watchdog timeout in microseconds from WATCHDOG_USEC, or 0 when there
 * is none: unset, not a positive decimal number, or WATCHDOG_PID is set and
 * names another process. Ping at half this interval. */
uint64_t sd_notify_watchdog_usec(void);

#endif
