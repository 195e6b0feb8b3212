/*
 * panel_audit.h - the append-only audit log of configuration changes made
 * in the panel: "panel-audit.log" in the configuration directory, mode
 * 0600, one JSON object per line:
 *
 *   {"time":"2026-01-02T03:04:05Z","user":"alice","client":"127.0.0.1",
 *    "action":"partner.update","object":"example.org",
 *    "before":{...}|null,"after":{...}|null}
 *
 * before/after are the configuration views of conf_json.h, so secrets never
 * appear. Each line is written with one write(2) on an O_APPEND descriptor
 * and synced, so lines never interleave or get lost in a crash after the
 * change was reported. Calls block on disk I/O (request handlers only).
 */
#ifndef XFED_PANEL_AUDIT_H
#define XFED_PANEL_AUDIT_H

#include "panel_buf.h"

#include <stddef.h>
#include <time.h>

#define PANEL_AUDIT_FILE "panel-audit.log"

struct panel_audit;

/* Opens (creating with 0600) dir/panel-audit.log for appending. NULL with
 * errno on failure. */
struct panel_audit *panel_audit_open(const char *dir);
void panel_audit_close(struct panel_audit *);

/* Appends one line. before_json and after_json are JSON values written by
 * conf_json.h (or NULL for null); the other strings are escaped. Returns 0
 * or -1 (logged). */
int panel_audit_write(struct panel_audit *, time_t when, const char *user, const char *client,
                      const char *action, const char *object, const char *before_json,
                      const char *after_json);

/* Reads the newest lines, newest first, at most max_lines and at most the
 * last max_bytes of the file, appending them to out as a JSON array of the
 * line objects (lines that are not valid JSON objects are skipped).
 * Returns the number of entries, or -1. */
long panel_audit_tail(const char *dir, size_t max_lines, size_t max_bytes, struct pbuf *out);

#endif
