/*
 * s2s_policy.c - the negotiation matrix turned into wire behaviour.
 *
 * DESIGN.md section 2: "SASL EXTERNAL only over TLS; dialback over TLS when
 * TLS is Required; dialback over TLS or plain TCP when TLS is Optional;
 * plain TCP dialback only when TLS is NotSupported." A SASL Required partner
 * never uses dialback (matrix row 1: "dialback will never be used").
 */
#include "s2s_policy.h"

#include <stddef.h>

static const char *const stream_error_names[] = {
    [S2S_ERR_NONE] = "none",
    [S2S_ERR_BAD_FORMAT] = "bad-format",
    [S2S_ERR_BAD_NAMESPACE_PREFIX] = "bad-namespace-prefix",
    [S2S_ERR_CONNECTION_TIMEOUT] = "connection-timeout",
    [S2S_ERR_HOST_UNKNOWN] = "host-unknown",
    [S2S_ERR_IMPROPER_ADDRESSING] = "improper-addressing",
    [S2S_ERR_INTERNAL_SERVER_ERROR] = "internal-server-error",
    [S2S_ERR_INVALID_FROM] = "invalid-from",
    [S2S_ERR_INVALID_NAMESPACE] = "invalid-namespace",
    [S2S_ERR_INVALID_XML] = "invalid-xml",
    [S2S_ERR_NOT_AUTHORIZED] = "not-authorized",
    [S2S_ERR_NOT_WELL_FORMED] = "not-well-formed",
    [S2S_ERR_POLICY_VIOLATION] = "policy-violation",
    [S2S_ERR_REMOTE_CONNECTION_FAILED] = "remote-connection-failed",
    [S2S_ERR_RESOURCE_CONSTRAINT] = "resource-constraint",
    [S2S_ERR_RESTRICTED_XML] = "restricted-xml",
    [S2S_ERR_SYSTEM_SHUTDOWN] = "system-shutdown",
    [S2S_ERR_UNDEFINED_CONDITION] = "undefined-condition",
    [S2S_ERR_UNSUPPORTED_ENCODING] = "unsupported-encoding",
    [S2S_ERR_UNSUPPORTED_FEATURE] = "unsupported-feature",
    [S2S_ERR_UNSUPPORTED_STANZA_TYPE] = "unsupported-stanza-type",
    [S2S_ERR_UNSUPPORTED_VERSION] = "unsupported-version",
};

const char *s2s_stream_error_name(enum s2s_stream_error e)
{
    if ((size_t)e >= sizeof(stream_error_names) / sizeof(stream_error_names[0]) ||
        stream_error_names[e] == NULL)
        return "undefined-condition";
    return stream_error_names[e];
}

struct s2s_policy s2s_policy_of(const struct conf_partner *p)
{
    struct s2s_policy pol = {.tls = p->tls, .sasl = p->sasl, .dialback = p->dialback};
    return pol;
}

int s2s_policy_row(const struct s2s_policy *p)
{
    /* Rows of the Lync 2013 matrix: SASL is the outer loop, TLS the
     * middle one, dialback true before false (conf_validate.c). */
    return (int)p->sasl * 6 + (int)p->tls * 2 + (p->dialback ? 1 : 2);
}

bool s2s_policy_tls_allowed(const struct s2s_policy *p)
{
    return p->tls != NEG_NOT_SUPPORTED;
}

enum s2s_stream_error s2s_policy_transport_check(const struct s2s_policy *p, bool tls_active)
{
    if (tls_active && !s2s_policy_tls_allowed(p))
        return S2S_ERR_POLICY_VIOLATION;
    return S2S_ERR_NONE;
}

bool s2s_policy_sasl_allowed(const struct s2s_policy *p, bool tls_active, bool cert_ok)
{
    /* RFC 6120 section 13.7.2 and XEP-0178 section 3: EXTERNAL only over
     * TLS, only when the certificate verifies for the domain. */
    return tls_active && cert_ok && p->sasl != NEG_NOT_SUPPORTED && p->tls != NEG_NOT_SUPPORTED;
}

bool s2s_policy_dialback_allowed(const struct s2s_policy *p, bool tls_active)
{
    if (!p->dialback || p->sasl == NEG_REQUIRED)
        return false;
    switch (p->tls) {
    case NEG_REQUIRED:
        return tls_active;
    case NEG_OPTIONAL:
        return true;
    case NEG_NOT_SUPPORTED:
        return !tls_active;
    }
    return false;
}

struct s2s_offer s2s_policy_in_offer(const struct s2s_policy *p, bool tls_active, bool cert_ok,
                                     bool authenticated)
{
    struct s2s_offer o = {.refuse = S2S_ERR_NONE, .why = ""};

    if (s2s_policy_transport_check(p, tls_active) != S2S_ERR_NONE) {
        o.refuse = S2S_ERR_POLICY_VIOLATION;
        o.why = "TLS is not supported with this partner";
        return o;
    }
    if (authenticated)
        return o; /* RFC 6120 section 6.4.6: after SASL, no more auth features */
    /* XEP-0288 section 2.1: advertised before and after TLS. */
    o.bidi = true;
    if (!tls_active && p->tls != NEG_NOT_SUPPORTED) {
        o.starttls = true;
        /* RFC 6120 section 5.3.1: mandatory-to-negotiate is signalled by
         * <required/>; nothing else is offered before it then. */
        o.starttls_required = p->tls == NEG_REQUIRED;
        if (o.starttls_required)
            return o;
    }
    o.sasl_external = s2s_policy_sasl_allowed(p, tls_active, cert_ok);
    o.dialback = s2s_policy_dialback_allowed(p, tls_active);
    if (o.starttls || o.sasl_external || o.dialback)
        return o;
    if (tls_active && p->sasl != NEG_NOT_SUPPORTED && !cert_ok) {
        o.refuse = S2S_ERR_NOT_AUTHORIZED;
        o.why = "certificate does not verify for the claimed domain and the policy allows no "
                "other method";
    } else {
        o.refuse = S2S_ERR_POLICY_VIOLATION;
        o.why = "the partner's policy allows no authentication method on this stream";
    }
    o.bidi = false;
    return o;
}

bool s2s_policy_in_accept_starttls(const struct s2s_policy *p, bool tls_active)
{
    return !tls_active && p->tls != NEG_NOT_SUPPORTED;
}

enum s2s_stream_error s2s_policy_in_accept_dialback(const struct s2s_policy *p, bool tls_active,
                                                    const char **why)
{
    if (s2s_policy_dialback_allowed(p, tls_active)) {
        *why = "";
        return S2S_ERR_NONE;
    }
    if (!p->dialback)
        *why = "dialback is disabled for this partner";
    else if (p->sasl == NEG_REQUIRED)
        *why = "SASL is required for this partner";
    else if (!tls_active)
        *why = "TLS is required before dialback for this partner";
    else
        *why = "TLS is not supported with this partner";
    return S2S_ERR_POLICY_VIOLATION;
}

bool s2s_policy_dialback_trusted_cert(const struct s2s_policy *p, bool tls_active, bool cert_ok)
{
    /* XEP-0344 sections 2.4 and 3.1. */
    return tls_active && cert_ok && s2s_policy_dialback_allowed(p, true);
}

bool s2s_policy_in_accept_sasl(const struct s2s_policy *p, bool tls_active, bool cert_ok)
{
    return s2s_policy_sasl_allowed(p, tls_active, cert_ok);
}

bool s2s_policy_out_starttls(const struct s2s_policy *p, bool tls_active, bool offered)
{
    if (tls_active)
        return false;
    switch (p->tls) {
    case NEG_REQUIRED:
        return true; /* RFC 7590 section 3.1: even when not advertised */
    case NEG_OPTIONAL:
        return offered;
    case NEG_NOT_SUPPORTED:
        return false;
    }
    return false;
}

enum s2s_auth s2s_policy_out_method(const struct s2s_policy *p, bool tls_active, bool cert_ok,
                                    bool offers_external)
{
    if (p->tls == NEG_REQUIRED && !tls_active)
        return S2S_AUTH_NONE;
    if (s2s_policy_transport_check(p, tls_active) != S2S_ERR_NONE)
        return S2S_AUTH_NONE;
    if (offers_external && s2s_policy_sasl_allowed(p, tls_active, cert_ok))
        return S2S_AUTH_SASL_EXTERNAL;
    if (s2s_policy_dialback_allowed(p, tls_active))
        return S2S_AUTH_DIALBACK;
    return S2S_AUTH_NONE;
}

const char *s2s_policy_describe(const struct s2s_policy *p)
{
    switch (s2s_policy_row(p)) {
    case 1:
    case 2:
        return "STARTTLS required; SASL EXTERNAL only";
    case 3:
    case 4:
        return "STARTTLS offered; SASL EXTERNAL only, so a peer without TLS cannot authenticate";
    case 7:
        return "STARTTLS required; SASL EXTERNAL when the certificate verifies, else dialback "
               "over TLS";
    case 8:
        return "STARTTLS required; SASL EXTERNAL only";
    case 9:
        return "STARTTLS offered; SASL EXTERNAL over TLS when the certificate verifies, "
               "dialback over TLS or plain TCP";
    case 10:
        return "STARTTLS offered; SASL EXTERNAL over TLS only";
    case 13:
        return "STARTTLS required; dialback over TLS";
    case 15:
        return "STARTTLS offered; dialback over TLS or plain TCP";
    case 17:
        return "no TLS; dialback over plain TCP";
    default:
        return "rejected by the negotiation matrix: no stream is accepted";
    }
}
