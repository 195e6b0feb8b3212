/*
 * gw_address.h - address mapping between XMPP JIDs and SIP URIs (RFC 7247
 * section 6), both ways, as pure string functions.
 *
 * SIP -> XMPP (RFC 7247 section 6.4): scheme sip, im or pres; the userinfo
 * is percent-decoded (RFC 3986), must be UTF-8 of printable characters, is
 * case-folded (RFC 7622 section 3.3, UsernameCaseMapped: Unicode lower
 * case, NFC) and XEP-0106-escaped where XMPP reserves a character
 * (" & ' / : < > @ space, and a backslash that starts an escape sequence).
 * URI parameters and headers are dropped except `gr`: a gr with a value (a
 * public GRUU, section 6.3) becomes the resourcepart, a valueless gr (a
 * temporary GRUU, RFC 5627) maps to no resource. A password in the
 * userinfo and the port are dropped; the host is lower-cased.
 * sips: is never translated (RFC 7247 section 8); tel: and every other
 * scheme are refused.
 *
 * XMPP -> SIP (RFC 7247 section 6.5): the JID is split (RFC 7622 section
 * 3.2), the localpart lower-cased, XEP-0106 unescaped (every escape of the
 * XEP's table, so \20 \22 \3a \3c \3e \40 \5c round-trip as well as the RFC's
 * \26 \27 \2f), then every byte that a SIP `user` does not allow (RFC 3261
 * section 25.1) is percent-encoded with upper-case hex; the resource, if
 * any, becomes `;gr=` inside the URI, percent-encoded as a `paramchar`
 * string. The domain is written in its A-label form.
 *
 * Policy (INTERWORKING.md section 1.2 pitfalls): one escaping policy that
 * round-trips: S->X always produces the XEP-0106 form, X->S always the
 * percent form; a literal backslash sequence survives as \5c.. / %5C...
 * Limits: each JID part at most GW_ADDR_PART_MAX octets (RFC 7622 section
 * 3.1); input URIs at most GW_ADDR_URI_MAX octets.
 *
 * Nothing here blocks, logs or keeps state.
 */
#ifndef XFED_GW_ADDRESS_H
#define XFED_GW_ADDRESS_H

#include <stdbool.h>
#include <stddef.h>

#define GW_ADDR_PART_MAX 1023 /* octets per JID part, RFC 7622 section 3.1 */
#define GW_ADDR_URI_MAX  8192 /* octets of an input SIP URI */

enum gw_addr_status {
    GW_ADDR_OK = 0,
    GW_ADDR_MALFORMED,          /* unparsable, bad escape, invalid UTF-8, control characters */
    GW_ADDR_UNSUPPORTED_SCHEME, /* tel:, mailto:, ... (RFC 7247 section 6.1 scope) */
    GW_ADDR_SIPS,               /* sips: is never translated (RFC 7247 section 8) */
    GW_ADDR_TOO_LONG,           /* a part over GW_ADDR_PART_MAX, or the URI over GW_ADDR_URI_MAX */
};

/* A static word for logs: "ok", "malformed", "unsupported-scheme", "sips",
 * "too-long". */
const char *gw_addr_status_name(enum gw_addr_status);

/* The SIP response code to refuse a request whose URI mapped to st:
 * 400 malformed, 416 unsupported scheme and sips (RFC 3261 section
 * 8.2.2.1: the gateway does not support the scheme toward XMPP), 414 too
 * long; 0 for GW_ADDR_OK. */
int gw_addr_status_sip_code(enum gw_addr_status st);

/* The XMPP stanza error condition for a JID that failed to map:
 * "jid-malformed" (RFC 6120 section 8.3.3.8) for every failure; NULL for OK. */
const char *gw_addr_status_xmpp_condition(enum gw_addr_status st);

/* A JID as three parts; "" where a part is absent (local of a domain JID,
 * resource of a bare JID). */
struct gw_xmpp_addr {
    char local[GW_ADDR_PART_MAX + 1];
    char domain[GW_ADDR_PART_MAX + 1];
    char resource[GW_ADDR_PART_MAX + 1];
};

/*
 * Maps a SIP, im: or pres: URI (uri, NUL-terminated; optionally in <angle
 * brackets>) to an XMPP address. On GW_ADDR_OK *out is filled; otherwise
 * *out is undefined.
 */
enum gw_addr_status gw_addr_sip_to_xmpp(const char *uri, struct gw_xmpp_addr *out);

/*
 * Writes "local@domain" (bare, with_resource false) or
 * "local@domain/resource" into buf. snprintf-like: returns the length the
 * full string needs; the output is complete iff the return value < cap.
 */
size_t gw_addr_xmpp_format(const struct gw_xmpp_addr *a, bool with_resource, char *buf, size_t cap);

/*
 * Splits a JID string (RFC 7622 section 3.2: resource from the first '/',
 * localpart up to the first '@' before it) into *out without further
 * normalisation. GW_ADDR_MALFORMED for an empty part after a separator or
 * an empty domain; GW_ADDR_TOO_LONG for a part over GW_ADDR_PART_MAX.
 */
enum gw_addr_status gw_addr_jid_split(const char *jid, struct gw_xmpp_addr *out);

/*
 * Maps a JID to a sip: URI. with_gr: carry the resource (if any) as ;gr=.
 * Returns a new malloc'd NUL-terminated URI in *uri_out (caller frees) and
 * GW_ADDR_OK; on failure *uri_out is NULL. An allocation failure is
 * reported as GW_ADDR_MALFORMED with *uri_out NULL.
 */
enum gw_addr_status gw_addr_xmpp_to_sip(const char *jid, bool with_gr, char **uri_out);

/* The same from parts (local and resource may be "" or NULL). */
enum gw_addr_status gw_addr_parts_to_sip(const char *local, const char *domain,
                                         const char *resource, bool with_gr, char **uri_out);

/*
 * A PIDF tuple id (xs:ID, an NCName) for an XMPP resource (RFC 8048
 * section 6.2 note 2): "ID-" followed by the resource with every byte
 * other than ASCII letters, digits, '-' and '.' written as "_hh" (lower
 * hex), so distinct resources give distinct ids. NULL or "" gives "ID-".
 * snprintf-like return value; a resource of GW_ADDR_PART_MAX octets needs
 * at most 3 + 3 * GW_ADDR_PART_MAX + 1 bytes.
 */
size_t gw_addr_tuple_id(const char *resource, char *buf, size_t cap);

/* The reverse of gw_addr_tuple_id(): 0 and the resource in buf (cap
 * bytes), or -1 when id is not of that form or does not fit. */
int gw_addr_tuple_id_resource(const char *id, char *buf, size_t cap);

/* True if s is well-formed UTF-8 (no overlong forms, surrogates or code
 * points above U+10FFFF) of len bytes. */
bool gw_utf8_valid(const char *s, size_t len);

#endif
