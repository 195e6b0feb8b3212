/*
 * panel_accounts.h - the panel's sign-in accounts, kept in the file
 * "panel-users" of the configuration directory (mode 0600).
 *
 * One account per line, "name:role:hash", where role is admin or viewer and
 * hash a crypt(3) yescrypt string (panel_password.h); lines starting with
 * '#' and empty lines are ignored. Writers (xfedctl admin) take the lock
 * "panel-users.lock" in the directory, load, change and save atomically
 * (conf_atomic_write), so no update is lost. The panel only reads the file.
 * All calls block on disk I/O.
 */
#ifndef XFED_PANEL_ACCOUNTS_H
#define XFED_PANEL_ACCOUNTS_H

#include <stdbool.h>
#include <stddef.h>

#define PANEL_USERS_FILE      "panel-users"
#define PANEL_USERS_LOCK      "panel-users.lock"
#define PANEL_ACCOUNT_NAMEMAX 64

enum panel_role { ROLE_VIEWER = 0, ROLE_ADMIN };

struct panel_account {
    char name[PANEL_ACCOUNT_NAMEMAX + 1];
    enum panel_role role;
    char *hash;
};

struct panel_accounts {
    struct panel_account *v;
    size_t n;
};

const char *panel_role_name(enum panel_role);
int panel_role_parse(const char *s, enum panel_role *out);

/* Account names: 1 to 64 characters of letters, digits, '.', '_', '-' and
 * '@', starting with a letter or digit. */
bool panel_account_name_ok(const char *name);

/* Reads dir/panel-users into a (emptied first). A missing file gives an
 * empty list. Returns 0, or -1 with a reason in err (a malformed line is
 * named by its number; a file readable by group or others is refused). */
int panel_accounts_load(const char *dir, struct panel_accounts *a, char *err, size_t errlen);

/* Writes a to dir/panel-users atomically with mode 0600. Returns 0 or -1
 * with errno. */
int panel_accounts_save(const char *dir, const struct panel_accounts *a);

void panel_accounts_clear(struct panel_accounts *a);
const struct panel_account *panel_accounts_find(const struct panel_accounts *a, const char *name);

/* Adds the account or replaces role and hash of an existing one (hash is
 * copied). Returns 0 or -1 (memory). */
int panel_accounts_set(struct panel_accounts *a, const char *name, enum panel_role role,
                       const char *hash);
/* Returns true when an account was removed. */
bool panel_accounts_remove(struct panel_accounts *a, const char *name);

#endif
