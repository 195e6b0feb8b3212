/*
 * s2s_dns.h - DNS messages for finding XMPP servers (the only user of ldns).
 *
 * Builds query packets and parses reply packets; does no I/O (the loop owns
 * the sockets, s2s_resolver.c). Every reply is hostile input: a reply is
 * accepted only when its ID, QR bit, opcode, question (name, type, class)
 * match the query; the RCODE and the TC bit are reported, never a partial
 * truncated answer; records are used only when their owner is the question
 * name or the end of a CNAME chain starting there (at most
 * S2S_DNS_MAX_CNAME links); records of other types, classes or owners are
 * ignored; names are length-checked and counts are capped.
 *
 * It also holds the pure rules of RFC 2782, RFC 6120 section 3.2 and
 * XEP-0368 section 3 for turning the two SRV replies into an ordered target
 * list, with the random source injected so that tests are exact.
 */
#ifndef XFED_S2S_DNS_H
#define XFED_S2S_DNS_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A domain name in A-label form plus its NUL: at most 253 octets
 * (RFC 1035 section 2.3.4, without the trailing dot). */
#define S2S_DNS_NAME_BUFSZ 254

#define S2S_DNS_MAX_CNAME   8    /* CNAME links followed within one reply */
#define S2S_DNS_MAX_RECORDS 64   /* SRV or address records kept per reply */
#define S2S_DEFAULT_PORT    5269 /* RFC 6120 section 3.2.2 fallback port */

enum s2s_dns_qtype {
    S2S_DNS_SRV_XMPPS, /* _xmpps-server._tcp.<domain> SRV (XEP-0368) */
    S2S_DNS_SRV_XMPP,  /* _xmpp-server._tcp.<domain> SRV (RFC 6120 3.2.1) */
    S2S_DNS_A,
    S2S_DNS_AAAA,
};

/* What a reply says, after all checks. */
enum s2s_dns_rcode {
    S2S_DNS_NOERROR = 0, /* records (possibly none: "no data") */
    S2S_DNS_NXDOMAIN,    /* the name does not exist */
    S2S_DNS_SERVFAIL,    /* SERVFAIL, REFUSED, NOTIMP, any other RCODE */
};

/* One SRV record. A target of "." is kept as the string "."; the port of
 * such a record is meaningless. */
struct s2s_dns_srv {
    uint16_t priority;
    uint16_t weight;
    uint16_t port;
    bool direct_tls; /* from _xmpps-server (XEP-0368 section 3 rule 2) */
    char target[S2S_DNS_NAME_BUFSZ];
};

/* One address record. */
struct s2s_dns_addr {
    int family; /* AF_INET or AF_INET6 */
    union {
        struct in_addr v4;
        struct in6_addr v6;
    } u;
};

/* A parsed and checked reply (about 18 KiB: allocate it, keep it off small
 * stacks). */
struct s2s_dns_reply {
    enum s2s_dns_rcode rcode;
    bool truncated; /* TC set: nothing else is filled; ask again over TCP */
    size_t n_srv;   /* SRV queries */
    struct s2s_dns_srv srv[S2S_DNS_MAX_RECORDS];
    size_t n_addr; /* A and AAAA queries */
    struct s2s_dns_addr addr[S2S_DNS_MAX_RECORDS];
};

/* A connection target: host (A-label form) and port, and whether to start
 * with direct TLS (XEP-0368) or plain TCP with STARTTLS. */
struct s2s_target {
    char host[S2S_DNS_NAME_BUFSZ];
    uint16_t port;
    bool direct_tls;
};

/* Converts a domain (U-labels or A-labels, any case, one optional trailing
 * dot) into lower-case A-label form with libidn2 (IDNA2008, non-transitional).
 * Rejects empty labels, labels over 63 octets, names over 253 octets, and
 * anything that is not a host name. Returns 0, or -1 (out is then ""). */
int s2s_dns_to_alabel(const char *domain, char *out, size_t outlen);

/* The question name of a query for domain (already in A-label form):
 * "_xmpp-server._tcp.<domain>", or domain itself for A/AAAA. Returns 0, or
 * -1 when it does not fit. */
int s2s_dns_qname(enum s2s_dns_qtype, const char *domain_alabel, char *out, size_t outlen);

/* Builds a recursive query (RD set, one question, class IN, no EDNS) for
 * the question of qtype and domain_alabel with the given id. On success
 * returns 0 and a malloc'ed packet in *wire (free()) of *len octets;
 * returns -1 on an invalid name or memory exhaustion. */
int s2s_dns_query_build(enum s2s_dns_qtype, const char *domain_alabel, uint16_t id, uint8_t **wire,
                        size_t *len);

/* Parses a reply to the query (qtype, domain_alabel, id) into *out.
 * Returns 0 when the reply answers that query (then look at out->rcode and
 * out->truncated), -1 when it must be ignored or counted as a failure:
 * malformed, wrong ID, not a response, wrong opcode or question. wire is
 * borrowed for the call. */
int s2s_dns_reply_parse(const uint8_t *wire, size_t len, enum s2s_dns_qtype,
                        const char *domain_alabel, uint16_t id, struct s2s_dns_reply *out);

/* A source of uniformly distributed 32-bit numbers. */
typedef uint32_t s2s_dns_random_fn(void *arg);

/* Orders the n records of rr in place as RFC 2782 says: ascending priority;
 * within one priority, repeatedly pick by weighted random choice (records of
 * weight 0 first in the running order so that they have a small chance, as
 * RFC 2782 specifies). rnd is called once per pick. */
void s2s_dns_srv_order(struct s2s_dns_srv *rr, size_t n, s2s_dns_random_fn *rnd, void *arg);

/* How the target list of a domain was decided. */
enum s2s_dns_plan {
    S2S_PLAN_SRV = 0,     /* targets from SRV records (either service) */
    S2S_PLAN_FALLBACK,    /* no SRV: the domain itself on port 5269
                            (RFC 6120 section 3.2.2) */
    S2S_PLAN_UNAVAILABLE, /* "." target and nothing else: the service is
                             decidedly not available, no fallback
                             (RFC 2782, RFC 6120 3.2.1 step 3, XEP-0368) */
};

/* Decides the ordered targets for domain_alabel from the reply to the
 * _xmpps-server query (xmpps) and the _xmpp-server query (xmpp); either may
 * be NULL when no usable reply came (timeout, SERVFAIL, truncated and the
 * TCP retry failed). Rules:
 *   - the records of both services are merged and ordered together by
 *     priority and weight (XEP-0368 rule 1), "." targets dropped;
 *   - a service whose only record is "." is not available; if the other
 *     service has no records either, the plan is UNAVAILABLE;
 *   - no records at all (NXDOMAIN, no data, or no reply) and no "." gives
 *     FALLBACK with the single target {domain, 5269, plain};
 *   - at most max targets are written to out (duplicates of host, port and
 *     direct_tls are dropped), and *n_out is set.
 * Returns the plan. */
enum s2s_dns_plan s2s_dns_plan_targets(const struct s2s_dns_reply *xmpps,
                                       const struct s2s_dns_reply *xmpp, const char *domain_alabel,
                                       s2s_dns_random_fn *rnd, void *arg, struct s2s_target *out,
                                       size_t max, size_t *n_out);

#endif
