/*
 * conf_domain.h - domain names as xfed stores and compares them.
 *
 * Input may be U-labels or A-labels in any case; IDNA2008 (libidn2) decides
 * what is valid. The stored form is lower case, NFC, with U-labels
 * (RFC 7622 section 3.2), so that "BÜcher.example", "bücher.example" and
 * "xn--bcher-kva.example" are one domain. No wildcard, port, IP literal,
 * empty label or trailing data; at most 253 octets in A-label form and 63 per
 * label (RFC 1035 section 2.3.4); at least two labels.
 */
#ifndef XFED_CONF_DOMAIN_H
#define XFED_CONF_DOMAIN_H

#include <stddef.h>

/* Normalises in into out (size outlen). Returns 0, or -1 with a static
 * message in *why ("contains a wildcard", ...). */
int conf_domain_normalize(const char *in, char *out, size_t outlen, const char **why);

/* A-label (ASCII) form of an already normalised domain, for DNS and
 * certificates. Returns 0 or -1. */
int conf_domain_to_ascii(const char *domain, char *out, size_t outlen);

/* Buffer size that always holds a normalised domain (U-labels may need up to
 * 4 octets per character). */
#define CONF_DOMAIN_BUFSZ 1024

/* Validates "host" or "host:port" of a static route: host a domain name
 * (normalised as above, single labels allowed) or an IPv4/IPv6 literal
 * ("[v6]:port"); port 1..65535. Returns 0 or -1 with *why. */
int conf_hostport_parse(const char *in, char *host, size_t hostlen, unsigned *port,
                        const char **why);

#endif
