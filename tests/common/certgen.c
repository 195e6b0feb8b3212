/*
 * certgen.c - in-memory test certificates (see certgen.h).
 */
#include "certgen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

static void die(const char *what)
{
    fprintf(stderr, "certgen: %s failed\n", what);
    abort();
}

EVP_PKEY *certgen_key(void)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    if (k == NULL)
        die("EVP_EC_gen");
    return k;
}

static void add_other(GENERAL_NAMES *gens, int nid, int type, const void *v, size_t len)
{
    GENERAL_NAME *g = GENERAL_NAME_new();
    ASN1_TYPE *t = ASN1_TYPE_new();
    ASN1_STRING *s = ASN1_STRING_type_new(type);
    if (g == NULL || t == NULL || s == NULL || ASN1_STRING_set(s, v, (int)len) != 1)
        die("othername");
    ASN1_TYPE_set(t, type, s);
    if (GENERAL_NAME_set0_othername(g, OBJ_nid2obj(nid), t) != 1)
        die("GENERAL_NAME_set0_othername");
    sk_GENERAL_NAME_push(gens, g);
}

static void add_ia5(GENERAL_NAMES *gens, int gtype, const void *v, size_t len)
{
    GENERAL_NAME *g = GENERAL_NAME_new();
    ASN1_IA5STRING *s = ASN1_IA5STRING_new();
    if (g == NULL || s == NULL || ASN1_STRING_set(s, v, (int)len) != 1)
        die("ia5 name");
    GENERAL_NAME_set0_value(g, gtype, s);
    sk_GENERAL_NAME_push(gens, g);
}

static void add_ext(X509 *c, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer, c, NULL, NULL, 0);
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (e == NULL || X509_add_ext(c, e, -1) != 1)
        die("X509_add_ext");
    X509_EXTENSION_free(e);
}

X509 *certgen_cert(const struct certgen_spec *sp, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key)
{
    static long serial = 1000;
    X509 *c = X509_new();
    X509_NAME *n = X509_NAME_new();

    if (c == NULL || n == NULL)
        die("X509_new");
    X509_set_version(c, X509_VERSION_3);
    ASN1_INTEGER_set(X509_get_serialNumber(c), serial++);
    X509_gmtime_adj(X509_getm_notBefore(c), sp->from_days * 86400L - 60);
    X509_gmtime_adj(X509_getm_notAfter(c), (sp->to_days ? sp->to_days : 30) * 86400L);
    X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC, (const unsigned char *)"xfed tests", -1, -1,
                               0);
    if (sp->cn != NULL)
        X509_NAME_add_entry_by_NID(n, NID_commonName, MBSTRING_UTF8, (const unsigned char *)sp->cn,
                                   -1, -1, 0);
    if (sp->cn2 != NULL)
        X509_NAME_add_entry_by_NID(n, NID_commonName, MBSTRING_UTF8, (const unsigned char *)sp->cn2,
                                   -1, -1, 0);
    if (sp->raw_cn != NULL) {
        ASN1_STRING *s = ASN1_STRING_type_new(V_ASN1_UTF8STRING);
        if (s == NULL || ASN1_STRING_set(s, sp->raw_cn, (int)sp->raw_cn_len) != 1)
            die("raw cn");
        X509_NAME_ENTRY *e =
            X509_NAME_ENTRY_create_by_NID(NULL, NID_commonName, V_ASN1_UTF8STRING,
                                          ASN1_STRING_get0_data(s), ASN1_STRING_length(s));
        if (e == NULL || X509_NAME_add_entry(n, e, -1, 0) != 1)
            die("raw cn entry");
        X509_NAME_ENTRY_free(e);
        ASN1_STRING_free(s);
    }
    X509_set_subject_name(c, n);
    X509_set_issuer_name(c, issuer ? X509_get_subject_name(issuer) : n);
    X509_NAME_free(n);
    X509_set_pubkey(c, key);

    GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
    for (const char *const *p = sp->dns; p && *p; p++)
        add_ia5(gens, GEN_DNS, *p, strlen(*p));
    if (sp->raw_dns != NULL)
        add_ia5(gens, GEN_DNS, sp->raw_dns, sp->raw_dns_len);
    for (const char *const *p = sp->uri; p && *p; p++)
        add_ia5(gens, GEN_URI, *p, strlen(*p));
    if (sp->email != NULL)
        add_ia5(gens, GEN_EMAIL, sp->email, strlen(sp->email));
    for (const char *const *p = sp->ip; p && *p; p++) {
        GENERAL_NAME *g = a2i_GENERAL_NAME(NULL, NULL, NULL, GEN_IPADD, *p, 0);
        if (g == NULL || sk_GENERAL_NAME_push(gens, g) <= 0)
            die("iPAddress");
    }
    for (const char *const *p = sp->srv; p && *p; p++)
        add_other(gens, NID_SRVName, V_ASN1_IA5STRING, *p, strlen(*p));
    for (const char *const *p = sp->xmpp; p && *p; p++)
        add_other(gens, NID_XmppAddr, V_ASN1_UTF8STRING, *p, strlen(*p));
    if (sk_GENERAL_NAME_num(gens) > 0 &&
        X509_add1_ext_i2d(c, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT) != 1)
        die("subjectAltName");
    GENERAL_NAMES_free(gens);

    X509 *iss = issuer ? issuer : c;
    if (sp->ca) {
        add_ext(c, iss, NID_basic_constraints, "critical,CA:TRUE");
        add_ext(c, iss, NID_key_usage, "critical,keyCertSign,cRLSign");
        add_ext(c, iss, NID_subject_key_identifier, "hash");
    } else {
        add_ext(c, iss, NID_basic_constraints, "critical,CA:FALSE");
        add_ext(c, iss, NID_key_usage, "critical,digitalSignature");
    }
    if (issuer != NULL)
        add_ext(c, iss, NID_authority_key_identifier, "keyid");
    switch (sp->eku) {
    case CERTGEN_EKU_SERVER:
        add_ext(c, iss, NID_ext_key_usage, "serverAuth");
        break;
    case CERTGEN_EKU_CLIENT:
        add_ext(c, iss, NID_ext_key_usage, "clientAuth");
        break;
    case CERTGEN_EKU_BOTH:
        add_ext(c, iss, NID_ext_key_usage, "serverAuth,clientAuth");
        break;
    case CERTGEN_EKU_EMAIL:
        add_ext(c, iss, NID_ext_key_usage, "emailProtection");
        break;
    case CERTGEN_EKU_NONE:
        break;
    }
    if (X509_sign(c, issuer_key ? issuer_key : key, EVP_sha256()) <= 0)
        die("X509_sign");
    return c;
}

int certgen_write(const char *path, X509 *const *chain, size_t n, EVP_PKEY *key)
{
    FILE *f = fopen(path, "w");
    int rc = 0;

    if (f == NULL)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (PEM_write_X509(f, chain[i]) != 1)
            rc = -1;
    if (key != NULL && PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) != 1)
        rc = -1;
    if (fclose(f) != 0)
        rc = -1;
    return rc;
}
