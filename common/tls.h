/*
 * tls.h - TLS contexts and sessions for XMPP streams (the only user of
 * OpenSSL's SSL API; libevent's bufferevent_openssl drives the SSL objects
 * made here).
 *
 * One struct tls_ctx serves both roles: it accepts streams (server role, on
 * the STARTTLS and the direct TLS listener) and opens them (client role, for
 * outbound streams and dialback verify connections). Policy, fixed here and
 * not configurable:
 *   - TLS 1.2 minimum (RFC 7590 section 3.1); for TLS 1.2 only ECDHE with
 *     AES-GCM or CHACHA20-POLY1305 (forward secret AEAD), TLS 1.3 with
 *     OpenSSL's default suites; groups X25519, P-256, P-384;
 *   - no compression, no renegotiation, server cipher preference;
 *   - no session resumption at all: no tickets (TLS 1.2 or 1.3) and no
 *     server session cache, so no ticket key ever needs rotating;
 *   - SSL_MODE_RELEASE_BUFFERS, so an idle stream keeps no record buffers;
 *   - ALPN `xmpp-server` (XEP-0368 section 3 rules 7 and 9): offered by the
 *     client on direct TLS only; a server session made for direct TLS
 *     refuses a client that offers other protocols but not `xmpp-server`,
 *     and, when tls_conf.alpn_required is set, one that offers none;
 *   - SNI: the client sends the target domain (A-label form, XEP-0368 rule
 *     6); the server reads it (tls_sni()) and presents the certificate of
 *     that hosted domain when one was added with tls_ctx_add_domain().
 *
 * Peer verification: both roles ask for the peer's certificate and check its
 * chain against the configured CA store (the system store by default), but
 * the handshake never fails because of it: XMPP decides afterwards what an
 * unverified peer may still do (dialback, RFC 6120 section 13.7.2.2 and
 * XEP-0178 section 3). tls_peer_verify() gives the outcome, s2s_cert.h
 * decides whether the verified certificate names the peer's domain. On the
 * server role a leaf certificate whose extendedKeyUsage allows serverAuth
 * but not clientAuth is accepted: servers present their server certificate
 * as the client of an s2s stream.
 *
 * Nothing here blocks except tls_ctx_new() and tls_ctx_add_domain(), which
 * read files and are for start-up and reload only. Nothing here logs: errors
 * come back as text for the caller's log line, and never contain key
 * material.
 */
#ifndef XFED_TLS_H
#define XFED_TLS_H

#include <stdbool.h>
#include <stddef.h>

struct ssl_st;  /* OpenSSL's SSL */
struct x509_st; /* OpenSSL's X509 */

struct tls_ctx; /* opaque */

/* Files of one identity and the trust store. Strings are borrowed for the
 * duration of the call only. */
struct tls_conf {
    const char *cert_file; /* PEM chain, leaf first; NULL: no certificate
                              (a client-only context) */
    const char *key_file;  /* PEM private key of the leaf; NULL: read it
                              from cert_file */
    const char *ca_file;   /* PEM bundle of trust anchors; NULL and ca_dir
                              NULL: the system's default store */
    const char *ca_dir;    /* hashed directory (c_rehash); may be NULL */
    bool alpn_required;    /* server role, direct TLS: refuse a client that
                              sends no ALPN extension (default false: such
                              clients are accepted, XEP-0368 says SHOULD) */
};

/* Verification outcome of the peer's certificate chain. */
enum tls_verify {
    TLS_VERIFY_OK = 0,        /* chains to the CA store, in its validity */
    TLS_VERIFY_NO_CERT,       /* peer sent no certificate */
    TLS_VERIFY_UNTRUSTED,     /* no path to a trust anchor, self-signed */
    TLS_VERIFY_EXPIRED,       /* a certificate of the chain has expired */
    TLS_VERIFY_NOT_YET_VALID, /* a certificate is not yet valid */
    TLS_VERIFY_BAD_SIGNATURE, /* signature or key does not verify */
    TLS_VERIFY_BAD_PURPOSE,   /* key usage / extended key usage forbid it */
    TLS_VERIFY_INVALID,       /* malformed, bad extensions, bad CA, ... */
    TLS_VERIFY_NOT_DONE,      /* handshake not complete */
};

/* ALPN protocol identifier of XEP-0368 for server-to-server streams. */
#define TLS_ALPN_XMPP_SERVER "xmpp-server"

/* Builds a context from the files in conf. Returns NULL on failure and
 * writes a one-line reason naming the file and the problem into err
 * ("cannot read private key /etc/xfed/key.pem: bad decrypt", "private key
 * /k.pem does not match certificate /c.pem", ...), suitable for fatalx().
 * Reads files: start-up and reload only. Free with tls_ctx_free(). */
struct tls_ctx *tls_ctx_new(const struct tls_conf *conf, char *err, size_t errlen);

/* Frees the context. SSL objects made from it stay valid (OpenSSL counts
 * references). NULL is fine. */
void tls_ctx_free(struct tls_ctx *);

/* Adds the certificate and key of one hosted domain (U-label or A-label
 * form, any case). The server role presents it when the client's SNI names
 * that domain; the client role presents it when tls_ssl_new_client() is
 * given that local domain. The trust store and alpn_required of conf are
 * ignored (the context's own apply). Returns 0, or -1 with a reason in err
 * as tls_ctx_new(). Start-up and reload only. */
int tls_ctx_add_domain(struct tls_ctx *, const char *domain, const struct tls_conf *conf, char *err,
                       size_t errlen);

/* A server session for an accepted stream: direct_tls true for the XEP-0368
 * listener (ALPN enforced as described above), false after <starttls/>.
 * Returns a new SSL the caller owns (bufferevent_openssl may take it over
 * with BEV_OPT_CLOSE_ON_FREE), or NULL on memory exhaustion. */
struct ssl_st *tls_ssl_new_server(struct tls_ctx *, bool direct_tls);

/* A client session towards remote_domain (U-label or A-label; sent as SNI in
 * A-label form; an IPv4/IPv6 literal is accepted and sends no SNI). local_domain, when not NULL, selects the certificate added
 * for it with tls_ctx_add_domain() (otherwise the context's default one is
 * presented, if any). direct_tls offers ALPN `xmpp-server`. Returns a new
 * SSL the caller owns, or NULL (memory, or remote_domain not a valid
 * domain name). */
struct ssl_st *tls_ssl_new_client(struct tls_ctx *, const char *local_domain,
                                  const char *remote_domain, bool direct_tls);

/* Outcome of the peer's chain verification. Valid after the handshake. */
enum tls_verify tls_peer_verify(const struct ssl_st *);

/* The peer's leaf certificate, borrowed: valid as long as the SSL, never
 * to be freed. NULL if the peer sent none or before the handshake. */
struct x509_st *tls_peer_cert(const struct ssl_st *);
/* SHA-256 of the peer certificate's DER encoding into out; 0, or -1 when the
 * handshake is not done or the peer sent no certificate. */
#define TLS_CERT_DIGEST_LEN 32
int tls_peer_cert_digest(const struct ssl_st *, unsigned char out[TLS_CERT_DIGEST_LEN]);

/* After the handshake and tls_peer_verify(): lets go of the certificates
 * the peer sent besides its leaf (intermediates, often its CA) and of the
 * verified chain, which OpenSSL keeps for the connection's life (about
 * 4 KiB each, decoded). The leaf stays (tls_peer_cert()); the verification
 * outcome is unchanged. Nothing of xfed reads the chains afterwards, and no
 * session is cached or resumed. Returns how many references it dropped. */
int tls_release_peer_chain(struct ssl_st *);

/* "TLSv1.3", "TLSv1.2", ... for log lines; "none" before the handshake.
 * Static strings. */
const char *tls_version(const struct ssl_st *);

/* "TLS_AES_256_GCM_SHA384", ... for log lines; "none" before the handshake.
 * Static strings. */
const char *tls_cipher(const struct ssl_st *);

/* The server name the client sent (server role) or asked for (client
 * role), A-label form as sent; NULL when none. Borrowed, valid as long as
 * the SSL. Peer input: the caller normalises it before comparing. */
const char *tls_sni(const struct ssl_st *);

/* True when the handshake selected ALPN `xmpp-server`. */
bool tls_alpn_selected(const struct ssl_st *);

/* "ok", "no-cert", "untrusted", "expired", ... for log lines. Static. */
const char *tls_verify_name(enum tls_verify);

/* The peer-visible reason of the last failed handshake on this thread for
 * a log line ("wrong version number", "no application protocol", ...);
 * clears OpenSSL's error queue. Static or thread-local storage, never NULL. */
const char *tls_last_error(void);

/* The reason text of one OpenSSL error code, as bufferevent_get_openssl_error()
 * returns them; "unknown" when OpenSSL has none. Static. */
const char *tls_error_string(unsigned long code);

/* ---- certificate identity (RFC 6125 section 6) ---------------------------
 * Name comparison over the presented identifiers of a certificate whose
 * chain the caller has already found valid (tls_peer_verify()). Reference
 * names are lower-case A-labels without a trailing dot; presented ones are
 * peer input, compared ASCII case-insensitively (RFC 6125 section 6.4.1)
 * with one trailing dot ignored; one holding a NUL, a control or non-ASCII
 * byte, an empty label or more than 253 octets never matches. The XMPP
 * rules (SRV-ID, XmppAddr) build on these in edge/s2s_cert.c. */

struct asn1_string_st; /* OpenSSL's ASN1_STRING */

enum tls_dns_match {
    TLS_DNS_NONE = 0,
    TLS_DNS_EXACT,    /* the name itself */
    TLS_DNS_WILDCARD, /* "*.<parent>": "*" the whole left-most label, the
                         parent of two labels or more, one label matched
                         (RFC 6125 section 6.4.3); "f*", "*f", "xn--*" never */
};

/* A DNS-ID (the IA5String of a dNSName) against ref. */
enum tls_dns_match tls_dns_id_match(const struct asn1_string_st *presented, const char *ref);

/* The subject's last (most specific) commonName against ref, with the
 * DNS-ID rules; a non-ASCII CN is converted to A-labels and never a
 * wildcard. Whether the CN may be used at all is the caller's rule. */
enum tls_dns_match tls_cn_id_match(const struct x509_st *cert, const char *ref);

/* Copies an IA5String of printable ASCII into out, dropping one trailing
 * dot: 0, or -1 (NUL, control or non-ASCII byte, too long for out or for a
 * domain name). */
int tls_ia5_copy(const struct asn1_string_st *s, char *out, size_t outlen);

/* No empty label ("a..b", ".a", ""). */
bool tls_labels_ok(const char *name);

/* UTF-8 text of len octets (peer input: checked for NUL, overlong forms and
 * surrogates) converted to a lower-case A-label name: 0 or -1. */
int tls_text_to_alabel(const unsigned char *text, size_t len, char *out, size_t outlen);

/* Which identifier named a SIP server (tls_cert_match_sip_host). */
enum tls_host_match {
    TLS_HOST_NO_MATCH = 0,
    TLS_HOST_URI_ID,  /* subjectAltName URI "sip:<domain>" (RFC 5922 7.1) */
    TLS_HOST_DNS_ID,  /* subjectAltName dNSName equal to the domain */
    TLS_HOST_IP_ADDR, /* host is an address literal; iPAddress equal */
    TLS_HOST_CN,      /* subject CN, only when no subjectAltName at all */
};

/* Does cert name the SIP server host (a domain name in U-label or A-label
 * form, any case, or an IPv4/IPv6 literal)? RFC 5922 section 7 with RFC
 * 6125 section 6: URI-ID "sip:<domain>" (no user part, port or parameter)
 * or an exact DNS-ID; wildcards never match (RFC 5922 section 7.2); the CN
 * only when the certificate has no subjectAltName extension; an address
 * literal only by an iPAddress entry. */
enum tls_host_match tls_cert_match_sip_host(const struct x509_st *cert, const char *host);

/* "uri-id", "dns-id", "ip-addr", "cn", "none" for log lines. Static. */
const char *tls_host_match_name(enum tls_host_match);

#endif
