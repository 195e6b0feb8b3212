/*
 * panel_password.h - password hashing with crypt(3) yescrypt (libxcrypt).
 * The only file that touches libxcrypt.
 *
 * Hashes have the form "$y$..." and are the only form in which passwords are
 * stored. Hashing and verifying take tens of milliseconds of CPU on purpose
 * and block the caller for that long.
 */
#ifndef XFED_PANEL_PASSWORD_H
#define XFED_PANEL_PASSWORD_H

#include <stdbool.h>

/* Password rules: 8 to 1024 bytes, valid UTF-8, no control characters. */
#define PANEL_PASSWORD_MIN 8
#define PANEL_PASSWORD_MAX 1024

/* NULL when acceptable, else a static reason. */
const char *panel_password_check(const char *password);

/* Hashes password with a fresh random salt and libxcrypt's default yescrypt
 * cost. Returns a malloc'd hash string, or NULL (memory, or crypt failed). */
char *panel_password_hash(const char *password);

/* true when hash is a complete yescrypt hash ("$y$" setting and checksum,
 * crypt_checksalt() content), as an administrator may hand one in (the
 * appliance seed's admin_password_hash). */
bool panel_password_hash_valid(const char *hash);

/* true when password matches hash. The comparison is constant-time; a hash
 * that is not a valid crypt string matches nothing. */
bool panel_password_verify(const char *password, const char *hash);

/* Spends the same time as a verification against a real hash and returns
 * false: used for unknown account names so that timing does not tell
 * whether an account exists. */
bool panel_password_verify_dummy(const char *password);

#endif
