/*
 * conf_store.h - the configuration directory (default /etc/xfed).
 *
 * The directory holds xfed.conf (the replicated configuration) and a lock
 * file. A change is a transaction: conf_store_begin() takes an exclusive
 * lock (fcntl, released if the process dies) and loads the current file;
 * the caller edits the struct conf it got; conf_store_commit() validates the
 * whole result and, only if it is acceptable, writes it atomically
 * (temporary file, fsync, rename, fsync of the directory) with version + 1.
 * A rejected change leaves the file byte-for-byte unchanged. Concurrent
 * writers are serialised, so no update is lost.
 *
 * These calls block on the lock and on disk I/O: they are for xfedctl, the
 * panel's request handlers and daemon start-up/reload, never a hot path.
 */
#ifndef XFED_CONF_STORE_H
#define XFED_CONF_STORE_H

#include "conf_model.h"
#include "conf_report.h"
#include "conf_validate.h"

#define CONF_DEFAULT_DIR "/etc/xfed"
#define CONF_FILE_NAME   "xfed.conf"

struct conf_store;

/* Opens dir (not created). NULL with errno set when dir is unusable. */
struct conf_store *conf_store_open(const char *dir);
void conf_store_close(struct conf_store *);

/* Path of xfed.conf inside the store; valid while the store is open. */
const char *conf_store_path(const struct conf_store *);

/* Reads and validates the current configuration without locking for
 * writing. Returns a conf the caller frees, or NULL with report filled. */
struct conf *conf_store_load(struct conf_store *, struct conf_report *report);

/* Locks the store and loads the current configuration into *out (the caller
 * owns it). Returns 0, or -1 with report filled (the lock is then released). */
int conf_store_begin(struct conf_store *, struct conf **out, struct conf_report *report);

/* Validates conf and writes it as the next version. Always releases the
 * lock. Returns CONF_SAVED or CONF_REJECTED (then nothing was written and
 * only the errors are added to report: warnings belong to the change the
 * caller made, which it checked with conf_partner_validate()). A system
 * failure (disk full, ...) is reported as an error and returns -1. conf's
 * version is set to the written version on success. */
int conf_store_commit(struct conf_store *, struct conf *conf, struct conf_report *report);

/* Releases the lock without writing. */
void conf_store_abort(struct conf_store *);

/* Creates dir (mode 0750) and an initial xfed.conf with every default, the
 * given hosted domains and a fresh random dialback secret, unless xfed.conf
 * already exists (then returns 1 and changes nothing). Returns 0 created,
 * 1 existed, -1 error with report filled. */
int conf_store_init(const char *dir, const struct conf_strlist *hosted, struct conf_report *report);

#endif
