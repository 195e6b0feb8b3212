/*
 * panel_session.h - server-side sign-in sessions.
 *
 * A session is identified by 256 random bits (64 hex digits) sent only in
 * the cookie; it carries its own 256-bit CSRF token (panel_csrf.h), the
 * account name and role, and a fingerprint of the account's password hash so
 * that `xfedctl admin passwd` or `remove` ends existing sessions. A session
 * ends when idle for `idle_s`, `max_s` after it was created, at sign-out, or
 * when the store is full and it is the least recently used. Times are
 * passed in by the caller (seconds, monotonic) so tests control the clock.
 * Not thread-safe: the panel's single HTTP thread is its only user.
 */
#ifndef XFED_PANEL_SESSION_H
#define XFED_PANEL_SESSION_H

#include "panel_accounts.h"
#include "panel_form.h"

#include <stddef.h>
#include <stdint.h>

#define PANEL_TOKEN_LEN 64 /* hex digits of a session id or CSRF token */

struct panel_session {
    char id[PANEL_TOKEN_LEN + 1];
    char csrf[PANEL_TOKEN_LEN + 1];
    char user[PANEL_ACCOUNT_NAMEMAX + 1];
    enum panel_role role;
    uint64_t hash_fp; /* fingerprint of the password hash at sign-in */
    uint64_t created, last_used;
    /* one-shot messages shown by the next page: name is the field ("" for
     * the page), value the message; flash_kind "ok", "warning" or "error" */
    struct pkv_list flash;
    char flash_kind[8];
};

struct panel_sessions;

struct panel_sessions *panel_sessions_new(unsigned idle_s, unsigned max_s, size_t max_n);
void panel_sessions_free(struct panel_sessions *);

/* Fingerprint of a password hash (not a secret: the hash itself is not one
 * either, but it is never logged or sent). */
uint64_t panel_hash_fp(const char *hash);

/* Creates a session; evicts the least recently used one when full. The
 * pointer stays valid until the session is destroyed or expires (the next
 * call to find/create may expire it). NULL when randomness or memory fail. */
struct panel_session *panel_session_create(struct panel_sessions *, const char *user,
                                           enum panel_role role, uint64_t hash_fp, uint64_t now);

/* Looks up id (compared in constant time), drops it when expired, and
 * marks it used. NULL when unknown or expired. */
struct panel_session *panel_session_find(struct panel_sessions *, const char *id, uint64_t now);

void panel_session_destroy(struct panel_sessions *, struct panel_session *);

/* Number of live sessions (expired ones are counted until next touched). */
size_t panel_sessions_count(const struct panel_sessions *);

/* Replaces the flash messages. */
void panel_session_flash(struct panel_session *, const char *kind);

#endif
