/*
 * s2s_sasl.h - SASL EXTERNAL for server-to-server streams (RFC 6120 section
 * 6, XEP-0178), both sides, through Cyrus SASL. The only file that touches
 * Cyrus SASL is s2s_sasl.c.
 *
 * Only EXTERNAL is used, in its single step: the identity comes from the TLS
 * certificate that the caller has already verified for the peer's domain
 * (s2s_cert.h), so no password store, auxiliary property plugin or server
 * round trip is involved and nothing here blocks after s2s_sasl_init().
 * Nothing here logs; nothing is kept between calls.
 */
#ifndef XFED_S2S_SASL_H
#define XFED_S2S_SASL_H

#include <stddef.h>

/* Initialises the library for both roles. Start-up only (it loads plugins
 * from disk). Returns 0, or -1 with a reason in err. */
int s2s_sasl_init(char *err, size_t errlen);

/* Releases the library at exit. */
void s2s_sasl_done(void);

/*
 * Receiving side: the peer sent <auth mechanism='EXTERNAL'>b64</auth>
 * (b64 is the element's text, "=" or "" for an empty response). peer_domain
 * is the domain its certificate verified for (the stream's 'from'),
 * local_domain our stream 'to' (the SASL server name). The
 * authorization identity, if any, must equal peer_domain (XEP-0178 section
 * 3, case-insensitive). Returns 0 on success; -1 with *condition set to the
 * SASL failure condition ("incorrect-encoding", "invalid-authzid",
 * "not-authorized") otherwise.
 */
int s2s_sasl_server_external(const char *local_domain, const char *peer_domain, const char *b64,
                             size_t len, const char **condition);

/*
 * Initiating side: writes the base64 initial response for <auth
 * mechanism='EXTERNAL'> into out ("=" for an empty authorization identity,
 * which XEP-0178 section 3 recommends when it equals the certificate's
 * identity). Cyrus computes it once in s2s_sasl_init() (its client
 * context creation looks up the host name, which may block), since it is
 * the same for every stream. local_domain is our stream 'from', remote_domain its 'to' (the
 * SASL server name). Returns 0 or -1.
 */
int s2s_sasl_client_external(const char *local_domain, const char *remote_domain, char *out,
                             size_t outlen);

#endif
