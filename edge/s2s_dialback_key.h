/*
 * s2s_dialback_key.h - dialback keys as XEP-0185 section 2 recommends.
 *
 *   key = HEX( HMAC-SHA256( HEX( SHA256(secret) ),
 *                           receiving + " " + originating + " " + stream-id ) )
 *
 * HEX is lower-case hexadecimal (XEP-0185 note 4), so a key is always 64
 * characters. Domains are used as the caller passes them: pass them in the
 * one form both ends of the stream saw (the stream header's to/from).
 * Several edges of one domain share the secret (DESIGN.md section 1). The
 * secret and the derived HMAC key are never logged, and are wiped from the
 * stack after use. Nothing here blocks or logs.
 */
#ifndef XFED_S2S_DIALBACK_KEY_H
#define XFED_S2S_DIALBACK_KEY_H

#include <stdbool.h>
#include <stddef.h>

/* Length of a key in characters, not counting the terminating NUL. */
#define S2S_DIALBACK_KEY_LEN 64

/* Writes the NUL-terminated key into out. secret must not be empty;
 * receiving, originating and stream_id are NUL-terminated and must not
 * contain a space (they would make the concatenation ambiguous, XEP-0185
 * note 5). Returns 0, or -1 on invalid input or a crypto failure (out is
 * then an empty string). */
int s2s_dialback_key(const char *secret, const char *receiving, const char *originating,
                     const char *stream_id, char out[S2S_DIALBACK_KEY_LEN + 1]);

/* Constant-time comparison of a key we computed (expected, 64 lower-case
 * hex characters) with a key a peer presented (presented, len bytes, not
 * necessarily NUL-terminated; XML whitespace around it is ignored and hex
 * digits compare case-insensitively). The time taken depends only on len,
 * not on where the keys differ. Returns true when they are equal. */
bool s2s_dialback_key_equal(const char *expected, const char *presented, size_t len);

/* Computes the key for (receiving, originating, stream_id) and compares it
 * with presented as s2s_dialback_key_equal(). Returns false on any invalid
 * input. This is the authoritative server's check (XEP-0220 section 2.3). */
bool s2s_dialback_key_verify(const char *secret, const char *receiving, const char *originating,
                             const char *stream_id, const char *presented, size_t len);

#endif
