/*
 * panel_secret.h - random tokens and constant-time comparison, shared by
 * sessions, CSRF tokens and password checks.
 */
#ifndef XFED_PANEL_SECRET_H
#define XFED_PANEL_SECRET_H

#include <stdbool.h>
#include <stddef.h>

/* Writes nbytes of kernel randomness (getrandom(2)) as 2*nbytes lower-case
 * hex digits and a NUL into out (size >= 2*nbytes+1). Returns 0 or -1. */
int panel_random_hex(char *out, size_t nbytes);

/* Compares two strings in time that depends only on their lengths, never on
 * where they first differ. NULL equals nothing. */
bool panel_ct_streq(const char *a, const char *b);

#endif
