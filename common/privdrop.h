/*
 * privdrop.h - give up root for the configured service user, once, for good.
 *
 * The daemons bind their listeners and open their files as root (when
 * started by root, e.g. by hand; under systemd they start as their own user
 * and this does nothing), then call privdrop_to() before entering the loop.
 */
#ifndef XFED_PRIVDROP_H
#define XFED_PRIVDROP_H

/* Not root: returns 0 and does nothing. Root with user NULL or "": logs a
 * warning naming conf_file (where 'user' is set) and returns 0. Otherwise
 * switches groups, gid and uid to the user's (setgroups, setresgid,
 * setresuid), checks that root cannot be regained, logs the result and
 * returns 0; returns -1 (logged) on an unknown user or any failure. */
int privdrop_to(const char *user, const char *conf_file);

#endif
