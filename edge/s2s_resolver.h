/*
 * s2s_resolver.h - non-blocking DNS resolution of XMPP server domains on the
 * edge's libevent loop.
 *
 * The loop owns the sockets: each query gets its own UDP socket bound to
 * port 0 (a kernel-chosen source port) and connected to the nameserver, a
 * random 16-bit ID (getrandom), a per-attempt timeout and a bounded number
 * of retries; a truncated reply is asked again over TCP (RFC 7766). Packets
 * are built and parsed by s2s_dns.h. Nothing here blocks after
 * s2s_resolver_new().
 *
 * Three lookups, each delivering its result through a callback:
 *   - s2s_resolver_srv(): the ordered (host, port, direct_tls) targets of a
 *     domain from _xmpps-server and _xmpp-server SRV records, or the
 *     fallback {domain, 5269}, per s2s_dns_plan_targets();
 *   - s2s_resolver_addr(): the IPv6 and IPv4 addresses of one host (an IP
 *     literal is returned as is, without a query);
 *   - s2s_resolver_resolve(): both, giving every (address, host, port,
 *     direct_tls) endpoint to try in order (RFC 6120 3.2.1 steps 4 to 7).
 *
 * Callbacks are always called from the loop, never from inside the call
 * that started the lookup, and exactly once unless the lookup is cancelled.
 * A lookup handle stays valid until its callback returns or until
 * s2s_lookup_cancel(); the resolver frees it then.
 */
#ifndef XFED_S2S_RESOLVER_H
#define XFED_S2S_RESOLVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "s2s_dns.h"

struct event_base;
struct s2s_resolver; /* opaque */
struct s2s_lookup;   /* opaque */

/* Defaults of the settings below. */
#define S2S_RESOLVER_TIMEOUT_MS  2000 /* per attempt */
#define S2S_RESOLVER_RETRIES     2    /* attempts after the first */
#define S2S_RESOLVER_MAX_TARGETS 16   /* targets kept from SRV records */
#define S2S_RESOLVER_MAX_PENDING 1024 /* lookups in flight */

struct s2s_resolver_settings {
    /* Nameserver as "addr" or "addr:port" or "[v6addr]:port" (IP literal
     * only, port 53 by default); NULL or "": the first `nameserver` line of
     * resolv_conf. */
    const char *nameserver;
    const char *resolv_conf; /* NULL: /etc/resolv.conf */
    unsigned timeout_ms;     /* 0: S2S_RESOLVER_TIMEOUT_MS; else 50..60000 */
    unsigned retries;        /* attempts after the first, 0..10 */
    unsigned max_targets;    /* 0: S2S_RESOLVER_MAX_TARGETS; at most 64 */
    unsigned max_pending;    /* 0: S2S_RESOLVER_MAX_PENDING */
    /* Random source for SRV weights; NULL: getrandom(). Tests inject one. */
    s2s_dns_random_fn *random;
    void *random_arg;
};

/* Fills s with the defaults above (nameserver NULL, retries
 * S2S_RESOLVER_RETRIES). */
void s2s_resolver_settings_init(struct s2s_resolver_settings *s);

/* Outcome of a lookup. */
enum s2s_resolve_status {
    S2S_RESOLVE_OK = 0,      /* at least one target / address */
    S2S_RESOLVE_NOT_FOUND,   /* NXDOMAIN, or the name has no such records */
    S2S_RESOLVE_UNAVAILABLE, /* SRV "." : service decidedly not available */
    S2S_RESOLVE_TIMEOUT,     /* no answer after every attempt */
    S2S_RESOLVE_ERROR,       /* SERVFAIL/REFUSED, socket errors, too many
                                lookups in flight */
};

/* Result of s2s_resolver_srv(). Everything is borrowed for the duration of
 * the callback only: copy what you keep. When neither SRV query got an
 * answer (status TIMEOUT or ERROR), plan is FALLBACK and targets holds the
 * fallback target {domain, 5269}: RFC 6120 section 3.2.1 step 9 says to try
 * it, and s2s_resolver_resolve() does. */
struct s2s_srv_result {
    enum s2s_resolve_status status;
    enum s2s_dns_plan plan;           /* meaningful when status is OK or UNAVAILABLE */
    const struct s2s_target *targets; /* ordered; n_targets >= 1 when OK */
    size_t n_targets;
};

/* One address to connect to, with the target it came from. */
struct s2s_endpoint {
    struct sockaddr_storage addr; /* port set */
    socklen_t addrlen;
    const struct s2s_target *target; /* host, port and direct_tls */
};

/* Result of s2s_resolver_addr() and s2s_resolver_resolve(); borrowed for
 * the duration of the callback only. For s2s_resolver_resolve() the
 * endpoints of the first target come first, then those of the next, ...;
 * within a target IPv6 addresses come before IPv4 (RFC 6724); targets whose
 * names did not resolve are skipped. srv gives the SRV stage's outcome
 * (status NOT_FOUND/UNAVAILABLE/... there explains an empty list); it is
 * NULL for s2s_resolver_addr(). */
struct s2s_addr_result {
    enum s2s_resolve_status status;
    const struct s2s_endpoint *endpoints;
    size_t n_endpoints;
    const struct s2s_srv_result *srv;
};

typedef void s2s_srv_cb(const struct s2s_srv_result *, void *arg);
typedef void s2s_addr_cb(const struct s2s_addr_result *, void *arg);

/* Creates a resolver on base (borrowed; must outlive the resolver). Reads
 * resolv_conf when no nameserver is set (a short read of a local file:
 * start-up and reload only). Returns NULL and a one-line reason in err on
 * invalid settings, no nameserver found, or memory exhaustion. */
struct s2s_resolver *s2s_resolver_new(struct event_base *base,
                                      const struct s2s_resolver_settings *settings, char *err,
                                      size_t errlen);

/* Cancels every pending lookup (no callback is called) and frees the
 * resolver; handles held by callers become invalid. NULL is fine. */
void s2s_resolver_free(struct s2s_resolver *);

/* The nameserver in use, "addr:port" / "[addr]:port", for log lines.
 * Borrowed, valid as long as the resolver. */
const char *s2s_resolver_nameserver(const struct s2s_resolver *);

/* Starts the SRV lookups of domain (U-label or A-label). Returns the handle,
 * or NULL without a callback when domain is not a valid domain name or on
 * memory exhaustion. */
struct s2s_lookup *s2s_resolver_srv(struct s2s_resolver *, const char *domain, s2s_srv_cb *cb,
                                    void *arg);

/* Starts the A and AAAA lookups of host (domain name or IP literal), the
 * endpoints getting port. The target of each endpoint is {host, port,
 * direct_tls}. Returns the handle, or NULL without a callback as above. */
struct s2s_lookup *s2s_resolver_addr(struct s2s_resolver *, const char *host, uint16_t port,
                                     bool direct_tls, s2s_addr_cb *cb, void *arg);

/* SRV lookups of domain, then address lookups of every target (at most
 * max_targets), delivering all endpoints in order. Returns the handle, or
 * NULL without a callback as above. */
struct s2s_lookup *s2s_resolver_resolve(struct s2s_resolver *, const char *domain, s2s_addr_cb *cb,
                                        void *arg);

/* Cancels a pending lookup: its callback will not be called, its sockets
 * and timers are released now. Safe to call at any time before the callback
 * runs; calling it on a lookup from inside that lookup's own callback is a
 * harmless no-op. NULL is fine. */
void s2s_lookup_cancel(struct s2s_lookup *);

/* "ok", "not-found", "unavailable", "timeout", "error" for log lines. */
const char *s2s_resolve_status_name(enum s2s_resolve_status);

#endif
