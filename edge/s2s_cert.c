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

#define MAX_NAME 253

/* Copies an ASN.1 string of printable ASCII (the IA5String of a dNSName or
 * SRVName) into out, dropping one trailing dot. Returns 0, or -1 when it
 * holds a NUL, a control or non-ASCII byte, or does not fit. */
static int ia5_copy(const ASN1_STRING *s, char *out, size_t outlen)
{
    if (s == NULL)
        return -1;
    const unsigned char *d = ASN1_STRING_get0_data(s);
    int len = ASN1_STRING_length(s);
    if (d == NULL || len <= 0 || (size_t)len >= outlen || len > MAX_NAME + 1)
        return -1;
    for (int i = 0; i < len; i++)
        if (d[i] <= 0x20 || d[i] >= 0x7f)
            return -1;
    memcpy(out, d, (size_t)len);
    out[len] = '\0';
    if (out[len - 1] == '.')
        out[--len] = '\0';
    return len > 0 && len <= MAX_NAME ? 0 : -1;
}

/* No empty label anywhere ("a..b", ".a"). */
static bool labels_ok(const char *s)
{
    if (s[0] == '.' || s[0] == '\0')
        return false;
    for (const char *p = s; *p != '\0'; p++)
        if (p[0] == '.' && (p[1] == '.' || p[1] == '\0'))
            return false;
    return true;
}

/* RFC 6125 section 6.4.3, the strict reading: "*" only as the whole
 * left-most label, at least two labels after it, never matching more or
 * less than one label, and never a partial label ("f*", "*f", "xn--*"). */
enum dns_result { DNS_NONE, DNS_EXACT, DNS_WILD };

static enum dns_result dns_id_match(const char *presented, const char *ref)
{
    if (!labels_ok(presented))
        return DNS_NONE;
    const char *star = strchr(presented, '*');
    if (star == NULL)
        return strcasecmp(presented, ref) == 0 ? DNS_EXACT : DNS_NONE;
    if (star != presented || presented[1] != '.' || strchr(presented + 1, '*') != NULL)
        return DNS_NONE;
    const char *parent = presented + 2;
    if (strchr(parent, '.') == NULL)
        return DNS_NONE;
    const char *rdot = strchr(ref, '.');
    if (rdot == NULL || rdot == ref)
        return DNS_NONE;
    return strcasecmp(rdot + 1, parent) == 0 ? DNS_WILD : DNS_NONE;
}

/* RFC 4985 SRVName "_Service.Name": the service must be _xmpp-server or
 * _xmpps-server (XEP-0368), the name the reference domain; no wildcard. */
static bool srv_id_match(const ASN1_STRING *s, const char *ref)
{
    char buf[MAX_NAME + 2];

    if (ia5_copy(s, buf, sizeof(buf)) != 0 || !labels_ok(buf) || strchr(buf, '*') != NULL)
        return false;
    const char *dot = strchr(buf, '.');
    if (dot == NULL)
        return false;
    size_t sl = (size_t)(dot - buf);
    bool service_ok = (sl == 12 && strncasecmp(buf, "_xmpp-server", 12) == 0) ||
                      (sl == 13 && strncasecmp(buf, "_xmpps-server", 13) == 0);
    return service_ok && strcasecmp(dot + 1, ref) == 0;
}

/* Checks that s is well-formed UTF-8 of len octets without NUL, overlong
 * forms or surrogates. */
static bool utf8_ok(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        size_t n;
        unsigned cp;
        if (c == 0)
            return false;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            n = 1;
            cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            n = 2;
            cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            n = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (i + n >= len)
            return false;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += n + 1;
    }
    return true;
}

/* A textual name (UTF-8, possibly U-labels) converted to A-labels: 0 or -1. */
static int text_to_alabel(const unsigned char *d, int len, char *out, size_t outlen)
{
    char buf[4 * MAX_NAME + 2];

    if (d == NULL || len <= 0 || (size_t)len >= sizeof(buf) || !utf8_ok(d, (size_t)len))
        return -1;
    memcpy(buf, d, (size_t)len);
    buf[len] = '\0';
    return s2s_dns_to_alabel(buf, out, outlen);
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
    if (text_to_alabel(d, len, a, sizeof(a)) != 0)
        return false;
    return strcmp(a, ref) == 0;
}

/* The last (most specific) commonName of the subject, compared with the
 * DNS-ID rules. */
static enum dns_result cn_match(const X509 *cert, const char *ref)
{
    const X509_NAME *subj = X509_get_subject_name(cert);
    int idx = -1, last = -1;
    char a[S2S_DNS_NAME_BUFSZ];

    if (subj == NULL)
        return DNS_NONE;
    while ((idx = X509_NAME_get_index_by_NID(subj, NID_commonName, idx)) >= 0)
        last = idx;
    if (last < 0)
        return DNS_NONE;
    const X509_NAME_ENTRY *e = X509_NAME_get_entry(subj, last);
    const ASN1_STRING *s = X509_NAME_ENTRY_get_data(e);
    unsigned char *utf8 = NULL;
    int len = ASN1_STRING_to_UTF8(&utf8, s);
    if (len <= 0) {
        OPENSSL_free(utf8);
        return DNS_NONE;
    }
    enum dns_result r = DNS_NONE;
    bool ascii = true;
    for (int i = 0; i < len; i++)
        if (utf8[i] >= 0x80)
            ascii = false;
    if (ascii) {
        char buf[MAX_NAME + 2];
        ASN1_IA5STRING *tmp = ASN1_IA5STRING_new();
        if (tmp != NULL && ASN1_STRING_set(tmp, utf8, len) == 1 &&
            ia5_copy(tmp, buf, sizeof(buf)) == 0)
            r = dns_id_match(buf, ref);
        ASN1_IA5STRING_free(tmp);
    } else if (memchr(utf8, '*', (size_t)len) == NULL &&
               text_to_alabel(utf8, len, a, sizeof(a)) == 0 && strcmp(a, ref) == 0) {
        r = DNS_EXACT;
    }
    OPENSSL_free(utf8);
    return r;
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
        switch (cn_match(cert, ref)) {
        case DNS_EXACT:
        case DNS_WILD:
            return S2S_CERT_CN;
        case DNS_NONE:
            break;
        }
        return S2S_CERT_NO_MATCH;
    }

    bool has_ids = false, srv = false, xmpp = false, dns = false, wild = false;
    for (int i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
        if (g->type == GEN_DNS) {
            char buf[MAX_NAME + 2];
            has_ids = true;
            if (ia5_copy(g->d.dNSName, buf, sizeof(buf)) != 0)
                continue;
            switch (dns_id_match(buf, ref)) {
            case DNS_EXACT:
                dns = true;
                break;
            case DNS_WILD:
                wild = true;
                break;
            case DNS_NONE:
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
        switch (cn_match(cert, ref)) {
        case DNS_EXACT:
        case DNS_WILD:
            return S2S_CERT_CN;
        case DNS_NONE:
            break;
        }
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
