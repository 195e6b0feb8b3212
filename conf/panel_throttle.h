/*
 * panel_throttle.h - growing delay after failed sign-ins, per account name
 * and per client address.
 *
 * After the n-th consecutive failure of an account or of an address the
 * answer to that failed attempt is held back for base * 2^(n-1)
 * milliseconds (capped at max), and until that time has passed every new
 * attempt for the same account or from the same address is refused at once
 * (HTTP 429 with Retry-After) without looking at the password. So attempts
 * cannot be made faster than the delays allow, even in parallel, and no
 * thread ever sleeps: the HTTP layer suspends the one connection. A success
 * clears both counters; counters are forgotten after `forget` seconds without
 * a failure. The table is bounded (oldest entry evicted). Not thread-safe:
 * the panel's single HTTP thread is its only user.
 */
#ifndef XFED_PANEL_THROTTLE_H
#define XFED_PANEL_THROTTLE_H

#include <stddef.h>
#include <stdint.h>

struct panel_throttle_conf {
    unsigned base_ms;   /* delay after the first failure */
    unsigned max_ms;    /* cap */
    unsigned forget_s;  /* a counter idle this long starts again at zero */
    size_t max_entries; /* table size */
};

struct panel_throttle;

struct panel_throttle *panel_throttle_new(const struct panel_throttle_conf *);
void panel_throttle_free(struct panel_throttle *);

/* Milliseconds until an attempt for account from addr may be evaluated; 0
 * when it may be now. */
uint64_t panel_throttle_wait(struct panel_throttle *, const char *account, const char *addr,
                             uint64_t now_ms);

/* Records a failed attempt; returns the delay in milliseconds to hold the
 * answer back (the larger of the account's and the address's). */
uint64_t panel_throttle_failed(struct panel_throttle *, const char *account, const char *addr,
                               uint64_t now_ms);

/* Records a success: both counters start again at zero. */
void panel_throttle_succeeded(struct panel_throttle *, const char *account, const char *addr);

#endif
