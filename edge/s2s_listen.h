/*
 * s2s_listen.h - the s2s listening sockets: 5269 (STARTTLS) and 5270
 * (direct TLS, XEP-0368). Accepted sockets go to s2s_in_accept(). Binding
 * happens at start-up, before privileges are dropped; accepting never
 * blocks. Running out of descriptors pauses accepting for a second instead
 * of spinning.
 */
#ifndef XFED_S2S_LISTEN_H
#define XFED_S2S_LISTEN_H

#include <stdbool.h>
#include <stddef.h>

struct edge;
struct s2s_listener;

/* Binds addr (IPv4 or IPv6 literal) and port. Returns NULL with a reason in
 * err. */
struct s2s_listener *s2s_listen_new(struct edge *, const char *addr, unsigned port, bool direct_tls,
                                    char *err, size_t errlen);

/* Closes the socket. NULL is fine. */
void s2s_listen_free(struct s2s_listener *);

/* The bound port (useful when port 0 was asked for). */
unsigned s2s_listen_port(const struct s2s_listener *);

#endif
