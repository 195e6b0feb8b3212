/*
 * s2s_cert.c - RFC 6125 / RFC 6120 section 13.7.2 / XEP-0178 identity
 * matching over OpenSSL's X509 structures (no SSL API here).
 *
 * Every presented identifier is peer input: its length comes from the ASN.1
 * string, never from strlen(), and a string whose length disagrees with
 * strlen() (an embedded NUL, the old "paypal.com\0.evil.com" trick) never
 * matches.
 */
#include "s2s_cert.h"

#include <ctype.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include <openssl/asn1.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "s2s_dns.h"
#include "tls.h"

#define MAX_NAME 253

/* RFC 4985 SRVName "_Service.Name": the service must be _xmpp-server or
 * _xmpps-server (XEP-0368), the name the reference domain; no wildcard. */
static bool srv_id_match(const ASN1_STRING *s, const char *ref)
{
    char buf[MAX_NAME + 2];

    if (tls_ia5_copy(s, buf, sizeof(buf)) != 0 || !tls_labels_ok(buf) || strchr(buf, '*') != NULL)
        return false;
    const char *dot = strchr(buf, '.');
    if (dot == NULL)
        return false;
    size_t sl = (size_t)(dot - buf);
    bool service_ok = (sl == 12 && strncasecmp(buf, "_xmpp-server", 12) == 0) ||
                      (sl == 13 && strncasecmp(buf, "_xmpps-server", 13) == 0);
    return service_ok && strcasecmp(dot + 1, ref) == 0;
}

/* RFC 6120 section 13.7.1.4: an XmppAddr that is a bare domain JID equal to
 * the reference domain. */
static bool xmpp_addr_match(const ASN1_TYPE *v, const char *ref)
{
    char a[S2S_DNS_NAME_BUFSZ];

    if (v == NULL || v->type != V_ASN1_UTF8STRING)
        return false;
    const ASN1_STRING *s = v->value.utf8string;
    const unsigned char *d = ASN1_STRING_get0_data(s);
    int len = ASN1_STRING_length(s);
    if (d == NULL || len <= 0 || memchr(d, '@', (size_t)len) || memchr(d, '/', (size_t)len) ||
        memchr(d, '*', (size_t)len))
        return false;
    if (tls_text_to_alabel(d, (size_t)len, a, sizeof(a)) != 0)
        return false;
    return strcmp(a, ref) == 0;
}

enum s2s_cert_match s2s_cert_match(const struct x509_st *cert, const char *domain)
{
    char ref[S2S_DNS_NAME_BUFSZ];
    int crit = -1;

    if (cert == NULL || s2s_dns_to_alabel(domain, ref, sizeof(ref)) != 0)
        return S2S_CERT_NO_MATCH;

    GENERAL_NAMES *gens = X509_get_ext_d2i(cert, NID_subject_alt_name, &crit, NULL);
    if (gens == NULL) {
        /* -1: no subjectAltName at all, so the CN may be used. Anything
         * else (duplicate or undecodable extension) is refused outright. */
        if (crit != -1)
            return S2S_CERT_NO_MATCH;
        if (tls_cn_id_match(cert, ref) != TLS_DNS_NONE)
            return S2S_CERT_CN;
        return S2S_CERT_NO_MATCH;
    }

    bool has_ids = false, srv = false, xmpp = false, dns = false, wild = false;
    for (int i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
        if (g->type == GEN_DNS) {
            has_ids = true;
            switch (tls_dns_id_match(g->d.dNSName, ref)) {
            case TLS_DNS_EXACT:
                dns = true;
                break;
            case TLS_DNS_WILDCARD:
                wild = true;
                break;
            case TLS_DNS_NONE:
                break;
            }
        } else if (g->type == GEN_URI) {
            has_ids = true;
        } else if (g->type == GEN_OTHERNAME) {
            int nid = OBJ_obj2nid(g->d.otherName->type_id);
            const ASN1_TYPE *v = g->d.otherName->value;
            if (nid == NID_SRVName) {
                has_ids = true;
                if (v != NULL && v->type == V_ASN1_IA5STRING &&
                    srv_id_match(v->value.ia5string, ref))
                    srv = true;
            } else if (nid == NID_XmppAddr) {
                has_ids = true;
                if (xmpp_addr_match(v, ref))
                    xmpp = true;
            }
        }
    }
    GENERAL_NAMES_free(gens);

    if (srv)
        return S2S_CERT_SRV_ID;
    if (xmpp)
        return S2S_CERT_XMPP_ADDR;
    if (dns)
        return S2S_CERT_DNS_ID;
    if (wild)
        return S2S_CERT_DNS_WILDCARD;
    /* RFC 6125 section 6.4.4: the CN only when no identifier of a type we
     * understand is in the subjectAltName (an e-mail or IP address entry
     * alone leaves the CN usable). */
    if (!has_ids) {
        if (tls_cn_id_match(cert, ref) != TLS_DNS_NONE)
            return S2S_CERT_CN;
    }
    return S2S_CERT_NO_MATCH;
}

const char *s2s_cert_match_name(enum s2s_cert_match m)
{
    switch (m) {
    case S2S_CERT_SRV_ID:
        return "srv-id";
    case S2S_CERT_XMPP_ADDR:
        return "xmppaddr";
    case S2S_CERT_DNS_ID:
        return "dns-id";
    case S2S_CERT_DNS_WILDCARD:
        return "dns-wildcard";
    case S2S_CERT_CN:
        return "cn";
    case S2S_CERT_NO_MATCH:
        break;
    }
    return "none";
}
