/*
 * s2s_policy.h - what the edge offers and accepts on a server-to-server
 * stream, decided from a partner's negotiation policy and the stream's state.
 *
 * Pure functions: no I/O, no allocation, no global state. They are the one
 * place that turns a row of the negotiation matrix (DESIGN.md section 2,
 * conf_matrix_check()) into wire behaviour:
 *   - SASL EXTERNAL only over TLS, and (inbound) only when the peer's
 *     certificate verifies for the claimed domain (RFC 6120 section 13.7.2,
 *     XEP-0178);
 *   - SASL Required: dialback is never used (matrix row 1 warning);
 *   - dialback over TLS when TLS is Required, over TLS or plain TCP when TLS
 *     is Optional, over plain TCP only when TLS is NotSupported;
 *   - TLS Required: TLS is attempted even when the peer does not advertise
 *     <starttls/> (RFC 7590 section 3.1) and nothing but STARTTLS is
 *     accepted before it;
 *   - TLS NotSupported: no TLS at all, direct TLS (XEP-0368) included.
 * A stream that cannot satisfy its partner's policy gets the RFC 6120
 * stream error these functions name.
 */
#ifndef XFED_S2S_POLICY_H
#define XFED_S2S_POLICY_H

#include <stdbool.h>

#include "conf_model.h"

/* The negotiation part of a partner record. */
struct s2s_policy {
    enum conf_negotiation tls;
    enum conf_negotiation sasl;
    bool dialback;
};

/* How a stream or domain pair was authenticated. */
enum s2s_auth {
    S2S_AUTH_NONE = 0,
    S2S_AUTH_SASL_EXTERNAL,
    S2S_AUTH_DIALBACK,
};

/* RFC 6120 section 4.9.3 stream error conditions the edge sends. */
enum s2s_stream_error {
    S2S_ERR_NONE = 0,
    S2S_ERR_BAD_FORMAT,
    S2S_ERR_BAD_NAMESPACE_PREFIX,
    S2S_ERR_CONNECTION_TIMEOUT,
    S2S_ERR_HOST_UNKNOWN,
    S2S_ERR_IMPROPER_ADDRESSING,
    S2S_ERR_INTERNAL_SERVER_ERROR,
    S2S_ERR_INVALID_FROM,
    S2S_ERR_INVALID_NAMESPACE,
    S2S_ERR_INVALID_XML,
    S2S_ERR_NOT_AUTHORIZED,
    S2S_ERR_NOT_WELL_FORMED,
    S2S_ERR_POLICY_VIOLATION,
    S2S_ERR_REMOTE_CONNECTION_FAILED,
    S2S_ERR_RESOURCE_CONSTRAINT,
    S2S_ERR_RESTRICTED_XML,
    S2S_ERR_SYSTEM_SHUTDOWN,
    S2S_ERR_UNDEFINED_CONDITION,
    S2S_ERR_UNSUPPORTED_ENCODING,
    S2S_ERR_UNSUPPORTED_FEATURE,
    S2S_ERR_UNSUPPORTED_STANZA_TYPE,
    S2S_ERR_UNSUPPORTED_VERSION,
};

/* The element name of a condition ("policy-violation"); a static string. */
const char *s2s_stream_error_name(enum s2s_stream_error);

/* The policy of a partner record (p must not be NULL). */
struct s2s_policy s2s_policy_of(const struct conf_partner *p);

/* Matrix row 1..18 (same numbering as conf_matrix_check()). */
int s2s_policy_row(const struct s2s_policy *);

/* Whether a TLS session may be used with this partner at all. */
bool s2s_policy_tls_allowed(const struct s2s_policy *);

/* Whether this partner may use a stream in the given transport state: a
 * direct TLS or STARTTLS-upgraded stream needs TLS allowed. Returns
 * S2S_ERR_NONE or the condition to close with (policy-violation). A plain
 * stream of a TLS Required partner is acceptable here: it still has
 * STARTTLS ahead of it (s2s_policy_in_offer()). */
enum s2s_stream_error s2s_policy_transport_check(const struct s2s_policy *, bool tls_active);

/* SASL EXTERNAL is usable: TLS active, SASL not NotSupported and the peer's
 * certificate verified for the claimed domain (inbound) or the receiving
 * server's certificate verified for the target domain (outbound). */
bool s2s_policy_sasl_allowed(const struct s2s_policy *, bool tls_active, bool cert_ok);

/* Dialback is usable on a stream in this transport state. */
bool s2s_policy_dialback_allowed(const struct s2s_policy *, bool tls_active);

/* The stream features an inbound stream offers once the header is
 * accepted (RFC 6120 section 4.3.2). */
struct s2s_offer {
    bool starttls;          /* <starttls/> */
    bool starttls_required; /* ... with <required/> */
    bool sasl_external;     /* <mechanisms><mechanism>EXTERNAL</mechanism> */
    bool dialback;          /* <dialback xmlns='urn:xmpp:features:dialback'><errors/> */
    bool bidi;              /* XEP-0288 <bidi xmlns='urn:xmpp:features:bidi'/> */
    /* S2S_ERR_NONE while some way to authenticate remains; otherwise the
     * condition to close the stream with instead of sending features. */
    enum s2s_stream_error refuse;
    const char *why; /* static text for logs and <text/> when refuse is set */
};

/* authenticated: the stream already has an authenticated domain (after the
 * restart that follows SASL success features are empty but for bidi). */
struct s2s_offer s2s_policy_in_offer(const struct s2s_policy *, bool tls_active, bool cert_ok,
                                     bool authenticated);

/* Inbound: may the peer start TLS now? (It must have been offered.) */
bool s2s_policy_in_accept_starttls(const struct s2s_policy *, bool tls_active);

/* Inbound: the peer sent <db:result/>. Returns S2S_ERR_NONE when dialback
 * may proceed, else the stream error (policy-violation, with *why set). */
enum s2s_stream_error s2s_policy_in_accept_dialback(const struct s2s_policy *, bool tls_active,
                                                    const char **why);

/* Inbound, receiving role, after s2s_policy_in_accept_dialback() allowed a
 * <db:result/>: may it be answered valid without asking the authoritative
 * server? XEP-0344 section 2.4 ("dialback without dialback"): only over TLS
 * and when the peer's certificate verified (chain and name) for the
 * result's sender domain at the time the result arrives (section 3.3),
 * which is as strong as SASL EXTERNAL (section 3.1). The row must allow
 * dialback over TLS; a certificate that does not verify falls back to the
 * verify round trip of XEP-0220. */
bool s2s_policy_dialback_trusted_cert(const struct s2s_policy *, bool tls_active, bool cert_ok);

/* Inbound: the peer sent <auth mechanism='EXTERNAL'/>. Returns true when it
 * may proceed; false means <failure/> (RFC 6120 section 6.4.5). */
bool s2s_policy_in_accept_sasl(const struct s2s_policy *, bool tls_active, bool cert_ok);

/* Outbound: whether to send <starttls/> after features. offered: the
 * receiving server advertised <starttls/>. Required partners get it always
 * (RFC 7590 section 3.1); NotSupported never. */
bool s2s_policy_out_starttls(const struct s2s_policy *, bool tls_active, bool offered);

/* Outbound: after the last features before authentication, which method to
 * use. offers_external: EXTERNAL listed in <mechanisms/>; cert_ok: the
 * receiving server's certificate verified for the target domain. Returns
 * S2S_AUTH_NONE when the policy leaves no method: the stream fails. */
enum s2s_auth s2s_policy_out_method(const struct s2s_policy *, bool tls_active, bool cert_ok,
                                    bool offers_external);

/* A short static description of the row's wire behaviour for docs and
 * `-n` output, e.g. "STARTTLS required; SASL EXTERNAL or dialback over TLS". */
const char *s2s_policy_describe(const struct s2s_policy *);

#endif
