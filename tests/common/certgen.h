/*
 * certgen.h - test certificates made in memory with the OpenSSL API, so that
 * no key is ever committed. For tests only: a CA, leaves with any mix of
 * subjectAltName identifiers (dNSName, SRVName, XmppAddr, URI, e-mail, raw
 * bytes), validity windows in the past or future, and PEM files for code
 * that loads from disk.
 */
#ifndef XFED_TEST_CERTGEN_H
#define XFED_TEST_CERTGEN_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

enum certgen_eku {
    CERTGEN_EKU_NONE = 0, /* no extendedKeyUsage extension */
    CERTGEN_EKU_SERVER,   /* serverAuth only */
    CERTGEN_EKU_CLIENT,   /* clientAuth only */
    CERTGEN_EKU_BOTH,
    CERTGEN_EKU_EMAIL, /* emailProtection only */
};

struct certgen_spec {
    const char *cn;          /* subject commonName; NULL: none */
    const char *cn2;         /* a second (last, most specific) commonName */
    const char *const *dns;  /* dNSName values, NULL-terminated; NULL: none */
    const char *const *srv;  /* SRVName (IA5String) values */
    const char *const *xmpp; /* XmppAddr (UTF8String) values */
    const char *const *uri;  /* uniformResourceIdentifier values */
    const char *email;       /* one rfc822Name */
    const char *const *ip;   /* iPAddress values (IPv4 or IPv6 text) */
    const void *raw_dns;     /* one dNSName of exactly raw_dns_len bytes */
    size_t raw_dns_len;
    const void *raw_cn; /* a commonName (UTF8String) of exactly raw_cn_len bytes */
    size_t raw_cn_len;
    long from_days; /* notBefore, days from now (negative: past) */
    long to_days;   /* notAfter, days from now; 0 means 30 */
    bool ca;        /* basicConstraints CA:TRUE, keyCertSign */
    enum certgen_eku eku;
};

/* A new P-256 key. Aborts the test program on failure. */
EVP_PKEY *certgen_key(void);

/* A certificate for key, signed by issuer_key (issuer's subject copied from
 * issuer) or self-signed when issuer is NULL. Aborts on failure. */
X509 *certgen_cert(const struct certgen_spec *spec, EVP_PKEY *key, X509 *issuer,
                   EVP_PKEY *issuer_key);

/* Writes the certificates (leaf first) and then, when key is not NULL, the
 * private key as PEM to path. Returns 0 or -1. */
int certgen_write(const char *path, X509 *const *chain, size_t n, EVP_PKEY *key);

#endif
