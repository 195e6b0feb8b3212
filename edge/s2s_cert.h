/*
 * s2s_cert.h - does a certificate name an XMPP server domain?
 *
 * The identity check of RFC 6120 section 13.7.2 and XEP-0178, following the
 * rules of RFC 6125 section 6 for a server-to-server stream. The caller first
 * checks that the chain verified (tls_peer_verify() == TLS_VERIFY_OK): this
 * file only compares names. Reference identifiers are built from the
 * domain; presented identifiers are, in order of preference:
 *
 *   1. SRV-ID (RFC 4985 otherName id-on-dnsSRV, 1.3.6.1.5.5.7.8.7, an
 *      IA5String) equal to "_xmpp-server.<domain>" or "_xmpps-server.<domain>"
 *      (XEP-0368), domain in A-label form; no wildcard.
 *   2. XmppAddr (otherName id-on-xmppAddr, 1.3.6.1.5.5.7.8.5, a UTF8String,
 *      RFC 6120 section 13.7.1.4) that is a domain JID equal to the domain;
 *      compared after conversion of both to A-labels; a JID with a local
 *      part or resource never matches; no wildcard.
 *   3. DNS-ID (subjectAltName dNSName) equal to the domain in A-label form,
 *      or a wildcard "*.<parent>" whose "*" is the complete left-most label
 *      and whose parent has at least two labels: "*.example.com" matches
 *      "a.example.com", not "example.com", not "a.b.example.com";
 *      "f*.example.com", "*f.example.com", "xn--*.example.com" and any other
 *      partial wildcard never match (RFC 6125 section 6.4.3, and never inside
 *      an A-label).
 *   4. CN-ID (the most specific, i.e. last, commonName of the subject), only
 *      when the certificate carries no subjectAltName identifier of the
 *      types DNS-ID, SRV-ID, URI-ID or XmppAddr at all (RFC 6125 section
 *      6.4.4). Chosen for interoperability with old certificates; compared
 *      with the DNS-ID rules, wildcard included.
 *
 * Comparison is ASCII case-insensitive over A-labels (RFC 6125 section
 * 6.4.1); one trailing dot on either side is ignored. A presented identifier
 * that is not valid text (an embedded NUL, non-ASCII bytes in an IA5String,
 * invalid UTF-8, an empty label, over 253 octets) never matches. Nothing
 * here allocates state that outlives a call, blocks or logs.
 */
#ifndef XFED_S2S_CERT_H
#define XFED_S2S_CERT_H

struct x509_st; /* OpenSSL's X509 */

/* Which presented identifier matched. */
enum s2s_cert_match {
    S2S_CERT_NO_MATCH = 0,
    S2S_CERT_SRV_ID,       /* _xmpp-server.<domain> or _xmpps-server.<domain> */
    S2S_CERT_XMPP_ADDR,    /* id-on-xmppAddr */
    S2S_CERT_DNS_ID,       /* dNSName, exact */
    S2S_CERT_DNS_WILDCARD, /* dNSName "*.<parent>" */
    S2S_CERT_CN,           /* subject commonName (no SAN identifiers) */
};

/* Matches cert against domain (U-label or A-label form, any case; an
 * invalid domain never matches). cert is borrowed for the call. Returns the
 * first identifier type, in the order above, that matches, or
 * S2S_CERT_NO_MATCH. */
enum s2s_cert_match s2s_cert_match(const struct x509_st *cert, const char *domain);

/* "srv-id", "xmppaddr", "dns-id", "dns-wildcard", "cn", "none" for log
 * lines. Static. */
const char *s2s_cert_match_name(enum s2s_cert_match);

#endif
