/*
 * test_s2s_cert.c - the RFC 6125 / RFC 6120 13.7.2 / XEP-0178 matcher over a
 * table of certificates generated in memory (certgen.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/x509v3.h>

#include "certgen.h"
#include "s2s_cert.h"

#define L(...) ((const char *const[]){__VA_ARGS__, NULL})

struct row {
    const char *what;
    struct certgen_spec spec;
    const char *domain;
    enum s2s_cert_match want;
};

static const char nul_dns[] = "example.com\0.evil.org";
static const char nul_cn[] = "example.com\0.evil.org";
static const char ulabel_dns[] = "b\xc3\xbc"
                                 "cher.example";

static const struct row rows[] = {
    /* DNS-ID, exact (RFC 6125 6.4.1) */
    {"dns exact", {.dns = L("example.com")}, "example.com", S2S_CERT_DNS_ID},
    {"dns case-insensitive", {.dns = L("EXAMPLE.com")}, "example.COM", S2S_CERT_DNS_ID},
    {"dns other domain", {.dns = L("example.org")}, "example.com", S2S_CERT_NO_MATCH},
    {"dns suffix is not a match", {.dns = L("example.com")}, "a.example.com", S2S_CERT_NO_MATCH},
    {"dns parent is not a match", {.dns = L("a.example.com")}, "example.com", S2S_CERT_NO_MATCH},
    {"dns empty label", {.dns = L("a..example.com")}, "a..example.com", S2S_CERT_NO_MATCH},
    {"dns empty label vs valid", {.dns = L("a..example.com")}, "a.example.com", S2S_CERT_NO_MATCH},
    /* Trailing dots: one on either side is ignored */
    {"trailing dot presented", {.dns = L("example.com.")}, "example.com", S2S_CERT_DNS_ID},
    {"trailing dot reference", {.dns = L("example.com")}, "example.com.", S2S_CERT_DNS_ID},
    {"trailing dot both", {.dns = L("example.com.")}, "example.com.", S2S_CERT_DNS_ID},
    {"two trailing dots presented", {.dns = L("example.com..")}, "example.com", S2S_CERT_NO_MATCH},
    {"two trailing dots reference", {.dns = L("example.com")}, "example.com..", S2S_CERT_NO_MATCH},
    /* Wildcards (RFC 6125 6.4.3) */
    {"wildcard one label", {.dns = L("*.example.com")}, "a.example.com", S2S_CERT_DNS_WILDCARD},
    {"wildcard case", {.dns = L("*.EXAMPLE.com")}, "A.example.COM", S2S_CERT_DNS_WILDCARD},
    {"wildcard not the parent", {.dns = L("*.example.com")}, "example.com", S2S_CERT_NO_MATCH},
    {"wildcard not two labels", {.dns = L("*.example.com")}, "a.b.example.com", S2S_CERT_NO_MATCH},
    {"wildcard partial prefix", {.dns = L("f*.example.com")}, "foo.example.com", S2S_CERT_NO_MATCH},
    {"wildcard partial suffix", {.dns = L("*o.example.com")}, "foo.example.com", S2S_CERT_NO_MATCH},
    {"wildcard partial middle",
     {.dns = L("f*o.example.com")},
     "foo.example.com",
     S2S_CERT_NO_MATCH},
    {"wildcard A-label partial",
     {.dns = L("xn--*.example.com")},
     "xn--bcher-kva.example.com",
     S2S_CERT_NO_MATCH},
    {"wildcard A-label partial vs U-label",
     {.dns = L("xn--*.example.com")},
     "b\xc3\xbc"
     "cher.example.com",
     S2S_CERT_NO_MATCH},
    {"wildcard not left-most", {.dns = L("a.*.example.com")}, "a.b.example.com", S2S_CERT_NO_MATCH},
    {"wildcard two stars", {.dns = L("*.*.example.com")}, "a.b.example.com", S2S_CERT_NO_MATCH},
    {"wildcard over a TLD", {.dns = L("*.com")}, "example.com", S2S_CERT_NO_MATCH},
    {"wildcard alone", {.dns = L("*")}, "example", S2S_CERT_NO_MATCH},
    {"wildcard whole label vs A-label",
     {.dns = L("*.example.com")},
     "b\xc3\xbc"
     "cher.example.com",
     S2S_CERT_DNS_WILDCARD},
    {"wildcard does not match literally",
     {.dns = L("*.example.com")},
     "*.example.com",
     S2S_CERT_NO_MATCH},
    /* IDN: DNS-IDs are A-labels, the reference converted with libidn2 */
    {"idn U-label reference",
     {.dns = L("xn--bcher-kva.example")},
     "b\xc3\xbc"
     "cher.example",
     S2S_CERT_DNS_ID},
    {"idn upper-case U-label reference",
     {.dns = L("xn--bcher-kva.example")},
     "B\xc3\x9c"
     "CHER.example",
     S2S_CERT_DNS_ID},
    {"idn A-label reference",
     {.dns = L("xn--bcher-kva.example")},
     "xn--bcher-kva.example",
     S2S_CERT_DNS_ID},
    {"idn U-label in dNSName is invalid",
     {.raw_dns = ulabel_dns, .raw_dns_len = sizeof(ulabel_dns) - 1},
     "b\xc3\xbc"
     "cher.example",
     S2S_CERT_NO_MATCH},
    {"idn different name",
     {.dns = L("xn--bcher-kva.example")},
     "bucher.example",
     S2S_CERT_NO_MATCH},
    /* Embedded NUL */
    {"nul in dNSName",
     {.raw_dns = nul_dns, .raw_dns_len = sizeof(nul_dns) - 1},
     "example.com",
     S2S_CERT_NO_MATCH},
    {"nul in dNSName vs tail",
     {.raw_dns = nul_dns, .raw_dns_len = sizeof(nul_dns) - 1},
     "evil.org",
     S2S_CERT_NO_MATCH},
    {"nul in CN",
     {.raw_cn = nul_cn, .raw_cn_len = sizeof(nul_cn) - 1},
     "example.com",
     S2S_CERT_NO_MATCH},
    /* Multiple SANs */
    {"multiple dns second", {.dns = L("other.org", "example.com")}, "example.com", S2S_CERT_DNS_ID},
    {"multiple dns wildcard",
     {.dns = L("other.org", "*.example.com")},
     "x.example.com",
     S2S_CERT_DNS_WILDCARD},
    {"multiple dns exact beats wildcard",
     {.dns = L("*.example.com", "x.example.com")},
     "x.example.com",
     S2S_CERT_DNS_ID},
    {"multiple dns none",
     {.dns = L("other.org", "example.net", "*.example.org")},
     "example.com",
     S2S_CERT_NO_MATCH},
    {"nul san does not hide a good one",
     {.dns = L("example.com"), .raw_dns = nul_dns, .raw_dns_len = sizeof(nul_dns) - 1},
     "example.com",
     S2S_CERT_DNS_ID},
    /* SRV-ID (RFC 4985, RFC 6120 13.7.1.2.1, XEP-0368) */
    {"srv xmpp-server", {.srv = L("_xmpp-server.example.com")}, "example.com", S2S_CERT_SRV_ID},
    {"srv xmpps-server", {.srv = L("_xmpps-server.example.com")}, "example.com", S2S_CERT_SRV_ID},
    {"srv case", {.srv = L("_XMPP-Server.Example.COM")}, "example.com", S2S_CERT_SRV_ID},
    {"srv client service is not s2s",
     {.srv = L("_xmpp-client.example.com")},
     "example.com",
     S2S_CERT_NO_MATCH},
    {"srv other domain", {.srv = L("_xmpp-server.example.org")}, "example.com", S2S_CERT_NO_MATCH},
    {"srv no wildcard",
     {.srv = L("_xmpp-server.*.example.com")},
     "a.example.com",
     S2S_CERT_NO_MATCH},
    {"srv idn",
     {.srv = L("_xmpp-server.xn--bcher-kva.example")},
     "b\xc3\xbc"
     "cher.example",
     S2S_CERT_SRV_ID},
    {"srv without service", {.srv = L("example.com")}, "example.com", S2S_CERT_NO_MATCH},
    {"srv beats dns",
     {.srv = L("_xmpp-server.example.com"), .dns = L("example.com")},
     "example.com",
     S2S_CERT_SRV_ID},
    {"srv for other, dns for us",
     {.srv = L("_xmpp-server.other.org"), .dns = L("example.com")},
     "example.com",
     S2S_CERT_DNS_ID},
    /* XmppAddr (RFC 6120 13.7.1.4) */
    {"xmppaddr domain", {.xmpp = L("example.com")}, "example.com", S2S_CERT_XMPP_ADDR},
    {"xmppaddr case", {.xmpp = L("Example.COM")}, "example.com", S2S_CERT_XMPP_ADDR},
    {"xmppaddr U-label",
     {.xmpp = L("b\xc3\xbc"
                "cher.example")},
     "xn--bcher-kva.example",
     S2S_CERT_XMPP_ADDR},
    {"xmppaddr with local part", {.xmpp = L("user@example.com")}, "example.com", S2S_CERT_NO_MATCH},
    {"xmppaddr with resource", {.xmpp = L("example.com/res")}, "example.com", S2S_CERT_NO_MATCH},
    {"xmppaddr no wildcard", {.xmpp = L("*.example.com")}, "a.example.com", S2S_CERT_NO_MATCH},
    {"xmppaddr invalid utf-8",
     {.xmpp = L("ex\xff"
                "ample.com")},
     "example.com",
     S2S_CERT_NO_MATCH},
    {"xmppaddr beats dns",
     {.xmpp = L("example.com"), .dns = L("example.com")},
     "example.com",
     S2S_CERT_XMPP_ADDR},
    {"srv beats xmppaddr",
     {.xmpp = L("example.com"), .srv = L("_xmpp-server.example.com")},
     "example.com",
     S2S_CERT_SRV_ID},
    /* CN-ID only without SAN identifiers (RFC 6125 6.4.4) */
    {"cn without san", {.cn = "example.com"}, "example.com", S2S_CERT_CN},
    {"cn case", {.cn = "EXAMPLE.COM"}, "example.com", S2S_CERT_CN},
    {"cn wildcard without san", {.cn = "*.example.com"}, "a.example.com", S2S_CERT_CN},
    {"cn partial wildcard", {.cn = "a*.example.com"}, "ab.example.com", S2S_CERT_NO_MATCH},
    {"cn ignored when dns present",
     {.cn = "example.com", .dns = L("other.org")},
     "example.com",
     S2S_CERT_NO_MATCH},
    {"cn ignored when srv present",
     {.cn = "example.com", .srv = L("_xmpp-server.other.org")},
     "example.com",
     S2S_CERT_NO_MATCH},
    {"cn ignored when xmppaddr present",
     {.cn = "example.com", .xmpp = L("other.org")},
     "example.com",
     S2S_CERT_NO_MATCH},
    {"cn ignored when uri present",
     {.cn = "example.com", .uri = L("xmpp:other.org")},
     "example.com",
     S2S_CERT_NO_MATCH},
    {"cn used when san has only e-mail",
     {.cn = "example.com", .email = "admin@example.com"},
     "example.com",
     S2S_CERT_CN},
    {"cn last is the most specific",
     {.cn = "other.org", .cn2 = "example.com"},
     "example.com",
     S2S_CERT_CN},
    {"cn first is not used",
     {.cn = "example.com", .cn2 = "other.org"},
     "example.com",
     S2S_CERT_NO_MATCH},
    {"cn U-label",
     {.cn = "b\xc3\xbc"
            "cher.example"},
     "xn--bcher-kva.example",
     S2S_CERT_CN},
    {"no identifiers at all", {.cn = NULL}, "example.com", S2S_CERT_NO_MATCH},
    /* Invalid reference identifiers never match */
    {"reference with space", {.dns = L("example.com")}, "exa mple.com", S2S_CERT_NO_MATCH},
    {"reference empty", {.dns = L("example.com")}, "", S2S_CERT_NO_MATCH},
    {"reference wildcard", {.dns = L("*.example.com")}, "*.example.com", S2S_CERT_NO_MATCH},
};

static EVP_PKEY *key;

static void table(void **state)
{
    int failures = 0;

    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const struct row *r = &rows[i];
        X509 *c = certgen_cert(&r->spec, key, NULL, NULL);
        enum s2s_cert_match got = s2s_cert_match(c, r->domain);
        if (got != r->want) {
            print_error("row %zu \"%s\": got %s, want %s\n", i, r->what, s2s_cert_match_name(got),
                        s2s_cert_match_name(r->want));
            failures++;
        }
        X509_free(c);
    }
    assert_int_equal(failures, 0);
}

static void null_arguments_never_match(void **state)
{
    const struct certgen_spec sp = {.dns = L("example.com")};
    X509 *c = certgen_cert(&sp, key, NULL, NULL);

    (void)state;
    assert_int_equal(s2s_cert_match(NULL, "example.com"), S2S_CERT_NO_MATCH);
    assert_int_equal(s2s_cert_match(c, NULL), S2S_CERT_NO_MATCH);
    X509_free(c);
}

static void duplicate_san_extension_never_matches(void **state)
{
    const struct certgen_spec sp = {.dns = L("example.com"), .cn = "example.com"};
    X509 *c = certgen_cert(&sp, key, NULL, NULL);
    GENERAL_NAMES *g = sk_GENERAL_NAME_new_null();
    GENERAL_NAME *n = GENERAL_NAME_new();
    ASN1_IA5STRING *s = ASN1_IA5STRING_new();

    (void)state;
    ASN1_STRING_set(s, "example.com", -1);
    GENERAL_NAME_set0_value(n, GEN_DNS, s);
    sk_GENERAL_NAME_push(g, n);
    /* X509V3_ADD_APPEND adds a second subjectAltName extension. */
    assert_int_equal(X509_add1_ext_i2d(c, NID_subject_alt_name, g, 0, X509V3_ADD_APPEND), 1);
    GENERAL_NAMES_free(g);
    assert_int_equal(s2s_cert_match(c, "example.com"), S2S_CERT_NO_MATCH);
    X509_free(c);
}

static void names_for_logs(void **state)
{
    (void)state;
    assert_string_equal(s2s_cert_match_name(S2S_CERT_SRV_ID), "srv-id");
    assert_string_equal(s2s_cert_match_name(S2S_CERT_XMPP_ADDR), "xmppaddr");
    assert_string_equal(s2s_cert_match_name(S2S_CERT_DNS_ID), "dns-id");
    assert_string_equal(s2s_cert_match_name(S2S_CERT_DNS_WILDCARD), "dns-wildcard");
    assert_string_equal(s2s_cert_match_name(S2S_CERT_CN), "cn");
    assert_string_equal(s2s_cert_match_name(S2S_CERT_NO_MATCH), "none");
}

static int setup(void **state)
{
    (void)state;
    key = certgen_key();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    EVP_PKEY_free(key);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(table),
        cmocka_unit_test(null_arguments_never_match),
        cmocka_unit_test(duplicate_san_extension_never_matches),
        cmocka_unit_test(names_for_logs),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
