/*
 * jid.h - XMPP addresses (RFC 7622): parse, validate, normalise, compare.
 *
 * A JID is [localpart "@"] domainpart ["/" resourcepart]. Splitting follows
 * RFC 7622 section 3.2: the resourcepart starts at the first '/', the
 * localpart ends at the first '@' before that '/'; separators are matched
 * before any mapping. Each part is 1..1023 octets after normalisation
 * (JID_PART_MAX); a present separator with an empty part is invalid.
 *
 * Normalised ("enforced") forms, which are what every accessor returns and
 * what comparison uses (octet-for-octet, RFC 7622 sections 3.2.3, 3.3):
 *   domainpart   a trailing '.' is stripped first; then width mapping, lower
 *                case and NFC (RFC 5895 mappings, RFC 7622 section 3.2.2),
 *                IDNA2008 validation by libidn2 (RFC 5891/5892 code points,
 *                bidi and contextual rules, label <= 63 octets, name <= 253
 *                octets in A-label form, LDH rules for ASCII labels) and the
 *                result kept as U-labels (A-labels are converted to U-labels,
 *                section 3.2.1). An IPv4 address or a bracketed IPv6 literal
 *                is accepted (IPv6 in RFC 5952 canonical text).
 *   localpart    the PRECIS UsernameCaseMapped profile (RFC 8265 section 3.3,
 *                which RFC 7622 references as RFC 7613): width mapping, lower
 *                case, NFC, then the IdentifierClass checks, plus the excluded
 *                characters of RFC 7622 section 3.3.1 (" & ' / : < > @).
 *                Approximated, as libunistring allows: width mapping is NFKC of
 *                fullwidth/halfwidth code points (decomposition type
 *                <wide>/<narrow>); case mapping is Unicode toLowerCase; the
 *                IdentifierClass is approximated by general categories:
 *                letters (L*), marks (M*), digits (Nd) and printable ASCII are
 *                allowed, while spaces, controls, symbols and punctuation above
 *                ASCII, unassigned and private-use code points, surrogates,
 *                default-ignorables and code points that NFKC changes
 *                (HasCompat) are refused; so are the code points that have
 *                contextual rules in RFC 5892 (ZWJ, ZWNJ, middle dot, Greek
 *                keraia, Hebrew geresh and gershayim, katakana middle dot,
 *                Arabic-Indic digits) since those rules are not evaluated, and
 *                Old Hangul Jamo. The bidi rule is not applied.
 *   resourcepart kept as sent (no mapping, not even the NFC of the PRECIS
 *                OpaqueString profile), but must be valid UTF-8 of XML
 *                characters without controls and must not start with a space
 *                (RFC 7622 section 3.5, example 18); compared as an opaque
 *                string.
 *
 * All strings are UTF-8, NUL-terminated. Nothing here blocks or logs.
 */
#ifndef XFED_JID_H
#define XFED_JID_H

#include <stdbool.h>
#include <stddef.h>

#define JID_PART_MAX 1023 /* octets, per part (RFC 7622 section 3.1) */

struct jid; /* opaque, immutable once made */

/*
 * Parses and normalises s (len bytes; s need not be NUL-terminated and may
 * contain any bytes). Returns a new JID, or NULL when s is not a valid JID
 * or allocation failed; then *why (if why is not NULL) points to a static
 * human-readable reason such as "empty localpart", "invalid domainpart",
 * "out of memory". Free with jid_free().
 */
struct jid *jid_parse(const char *s, size_t len, const char **why);

/* jid_parse() on a NUL-terminated string. */
struct jid *jid_new(const char *s, const char **why);

/* Builds a JID from separate parts (local and resource may be NULL for
 * none; domain is required), each validated and normalised as above.
 * NULL and *why as jid_parse(). */
struct jid *jid_from_parts(const char *local, const char *domain, const char *resource,
                           const char **why);

/* Frees a JID. NULL is fine. */
void jid_free(struct jid *);

/* A new copy of j (NULL on allocation failure). */
struct jid *jid_dup(const struct jid *j);

/* A new JID without the resourcepart (NULL on allocation failure). */
struct jid *jid_to_bare(const struct jid *j);

/* Parts, normalised. local and resource are NULL when absent; domain is
 * never NULL. Valid as long as the JID. */
const char *jid_local(const struct jid *);
const char *jid_domain(const struct jid *);
const char *jid_resource(const struct jid *);

/* The normalised string forms: "local@domain/resource" and "local@domain"
 * (each without the absent parts). Valid as long as the JID. */
const char *jid_full(const struct jid *);
const char *jid_bare(const struct jid *);

/* Predicates. */
bool jid_is_bare(const struct jid *);                        /* no resourcepart */
bool jid_is_domain(const struct jid *);                      /* domainpart only */
bool jid_equal(const struct jid *, const struct jid *);      /* full JIDs equal */
bool jid_bare_equal(const struct jid *, const struct jid *); /* bare JIDs equal */

/* True if s (NUL-terminated) is a valid JID. */
bool jid_valid(const char *s);

/*
 * Normalises a bare domain name (a stream header's to/from, a configured
 * domain, a certificate's DNS-ID) as a JID domainpart: out receives the
 * U-label form, NUL-terminated. out must have room for outsz bytes;
 * JID_PART_MAX + 1 is always enough. Returns 0, or -1 if the domain is
 * invalid or does not fit (*why as jid_parse()).
 */
int jid_domain_normalize(const char *in, size_t len, char *out, size_t outsz, const char **why);

/*
 * The A-label (ASCII, "xn--" punycode) form of a normalised domainpart, as
 * used in DNS queries and RFC 6125 certificate matching; IP literals are
 * copied unchanged. out as above (254 bytes are always enough for a
 * name). Returns 0 or -1.
 */
int jid_domain_to_ascii(const char *domain, char *out, size_t outsz);

#endif
