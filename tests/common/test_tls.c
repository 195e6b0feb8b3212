/*
 * test_tls.c - tls.h against real handshakes between two SSL objects over a
 * BIO pair in memory, with a test CA and certificates generated at start
 * (certgen.h) and written to a temporary directory removed at the end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "certgen.h"
#include "tls.h"

static char dir[64];
static char ca_pem[128], edge_pem[128], other_pem[128], partner_pem[128], expired_pem[128],
    future_pem[128], self_pem[128], email_pem[128], garbage_pem[128], wrongkey_pem[128],
    key_only_pem[128], missing_pem[128];
static struct tls_ctx *srv_ctx, *cli_ctx;

static void path(char *out, const char *name)
{
    snprintf(out, 128, "%s/%s", dir, name);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/xfed-test-tls-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    EVP_PKEY *cak = certgen_key(), *k = certgen_key(), *k2 = certgen_key();
    const struct certgen_spec caspec = {.cn = "xfed test CA", .ca = true, .to_days = 365};
    X509 *ca = certgen_cert(&caspec, cak, NULL, NULL);

    struct {
        char *file;
        struct certgen_spec spec;
        bool self;
        bool with_key;
    } leaves[] = {
        {edge_pem,
         {.cn = "edge.test",
          .dns = (const char *const[]){"edge.test", NULL},
          .eku = CERTGEN_EKU_SERVER},
         false,
         true},
        {other_pem,
         {.cn = "other.test",
          .dns = (const char *const[]){"other.test", NULL},
          .eku = CERTGEN_EKU_BOTH},
         false,
         true},
        {partner_pem,
         {.cn = "partner.test",
          .dns = (const char *const[]){"partner.test", NULL},
          .eku = CERTGEN_EKU_SERVER},
         false,
         true},
        {expired_pem,
         {.cn = "edge.test",
          .dns = (const char *const[]){"edge.test", NULL},
          .from_days = -30,
          .to_days = -1},
         false,
         true},
        {future_pem,
         {.cn = "edge.test",
          .dns = (const char *const[]){"edge.test", NULL},
          .from_days = 2,
          .to_days = 30},
         false,
         true},
        {self_pem,
         {.cn = "edge.test", .dns = (const char *const[]){"edge.test", NULL}},
         true,
         true},
        {email_pem,
         {.cn = "partner.test",
          .dns = (const char *const[]){"partner.test", NULL},
          .eku = CERTGEN_EKU_EMAIL},
         false,
         true},
    };
    path(ca_pem, "ca.pem");
    path(edge_pem, "edge.pem");
    path(other_pem, "other.pem");
    path(partner_pem, "partner.pem");
    path(expired_pem, "expired.pem");
    path(future_pem, "future.pem");
    path(self_pem, "self.pem");
    path(email_pem, "email.pem");
    path(garbage_pem, "garbage.pem");
    path(wrongkey_pem, "wrongkey.pem");
    path(key_only_pem, "key2.pem");
    path(missing_pem, "missing.pem");
    if (certgen_write(ca_pem, &ca, 1, NULL) != 0)
        return -1;
    for (size_t i = 0; i < sizeof(leaves) / sizeof(leaves[0]); i++) {
        X509 *c = certgen_cert(&leaves[i].spec, k, leaves[i].self ? NULL : ca,
                               leaves[i].self ? NULL : cak);
        X509 *chain[2] = {c, ca};
        if (certgen_write(leaves[i].file, chain, leaves[i].self ? 1 : 2, k) != 0)
            return -1;
        X509_free(c);
    }
    /* A certificate with another key's private key: a mismatch. */
    X509 *c = certgen_cert(&leaves[0].spec, k, ca, cak);
    if (certgen_write(wrongkey_pem, &c, 1, NULL) != 0 ||
        certgen_write(key_only_pem, NULL, 0, k2) != 0)
        return -1;
    X509_free(c);
    FILE *f = fopen(garbage_pem, "w");
    if (f == NULL)
        return -1;
    fputs("-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n", f);
    fclose(f);
    X509_free(ca);
    EVP_PKEY_free(cak);
    EVP_PKEY_free(k);
    EVP_PKEY_free(k2);

    char err[256];
    const struct tls_conf sc = {.cert_file = edge_pem, .ca_file = ca_pem};
    const struct tls_conf cc = {.cert_file = partner_pem, .ca_file = ca_pem};
    srv_ctx = tls_ctx_new(&sc, err, sizeof(err));
    cli_ctx = tls_ctx_new(&cc, err, sizeof(err));
    return srv_ctx != NULL && cli_ctx != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    const char *files[] = {ca_pem,   edge_pem,  other_pem,   partner_pem,  expired_pem, future_pem,
                           self_pem, email_pem, garbage_pem, wrongkey_pem, key_only_pem};

    (void)state;
    tls_ctx_free(srv_ctx);
    tls_ctx_free(cli_ctx);
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
        unlink(files[i]);
    rmdir(dir);
    return 0;
}

/* Runs both sides until both finish or one fails; bounded. Returns 0 when
 * both completed. */
static int handshake(SSL *c, SSL *s)
{
    BIO *bc = NULL, *bs = NULL;

    if (BIO_new_bio_pair(&bc, 0, &bs, 0) != 1)
        return -1;
    SSL_set_bio(c, bc, bc);
    SSL_set_bio(s, bs, bs);
    bool cdone = false, sdone = false;
    for (int i = 0; i < 50 && !(cdone && sdone); i++) {
        if (!cdone) {
            int rc = SSL_do_handshake(c);
            if (rc == 1)
                cdone = true;
            else if (SSL_get_error(c, rc) != SSL_ERROR_WANT_READ &&
                     SSL_get_error(c, rc) != SSL_ERROR_WANT_WRITE)
                return -1;
        }
        if (!sdone) {
            int rc = SSL_do_handshake(s);
            if (rc == 1)
                sdone = true;
            else if (SSL_get_error(s, rc) != SSL_ERROR_WANT_READ &&
                     SSL_get_error(s, rc) != SSL_ERROR_WANT_WRITE)
                return -1;
        }
    }
    if (!(cdone && sdone))
        return -1;
    /* TLS 1.3 post-handshake messages (tickets, if any were sent) reach the
     * client on its first read. */
    char b;
    if (SSL_read(c, &b, 1) <= 0)
        ERR_clear_error();
    return 0;
}

static struct tls_ctx *ctx_of(const char *cert, const char *ca, bool alpn_required)
{
    char err[256];
    const struct tls_conf conf = {.cert_file = cert, .ca_file = ca, .alpn_required = alpn_required};
    struct tls_ctx *t = tls_ctx_new(&conf, err, sizeof(err));
    if (t == NULL)
        print_error("tls_ctx_new: %s\n", err);
    assert_non_null(t);
    return t;
}

static void handshake_tls13_verifies_both_ways(void **state)
{
    (void)state;
    SSL *s = tls_ssl_new_server(srv_ctx, false);
    SSL *c = tls_ssl_new_client(cli_ctx, NULL, "edge.test", false);
    assert_non_null(s);
    assert_non_null(c);
    assert_string_equal(tls_version(c), "none");
    assert_string_equal(tls_cipher(c), "none");
    assert_int_equal(tls_peer_verify(s), TLS_VERIFY_NOT_DONE);
    assert_null(tls_peer_cert(s));
    assert_int_equal(handshake(c, s), 0);

    assert_string_equal(tls_version(c), "TLSv1.3");
    assert_string_equal(tls_version(s), "TLSv1.3");
    assert_string_equal(tls_cipher(s), tls_cipher(c));
    assert_string_not_equal(tls_cipher(s), "none");
    /* The client verified the edge's chain, and the edge the partner's,
     * although the partner's certificate says serverAuth only. */
    assert_int_equal(tls_peer_verify(c), TLS_VERIFY_OK);
    assert_int_equal(tls_peer_verify(s), TLS_VERIFY_OK);
    assert_non_null(tls_peer_cert(s));
    char cn[64];
    X509_NAME_get_text_by_NID(X509_get_subject_name(tls_peer_cert(s)), NID_commonName, cn,
                              sizeof(cn));
    assert_string_equal(cn, "partner.test");
    /* SNI: set by the client, read by the server. */
    assert_non_null(tls_sni(s));
    assert_string_equal(tls_sni(s), "edge.test");
    assert_string_equal(tls_sni(c), "edge.test");
    /* STARTTLS: no ALPN. */
    assert_false(tls_alpn_selected(s));
    assert_false(tls_alpn_selected(c));
    /* No resumption: no ticket arrived, the session cannot be resumed. */
    assert_int_equal(SSL_SESSION_is_resumable(SSL_get0_session(c)), 0);
    assert_true(SSL_get_options(s) & SSL_OP_NO_RENEGOTIATION);
    assert_true(SSL_get_options(s) & SSL_OP_NO_COMPRESSION);
    assert_null(SSL_get_current_compression(s));
    SSL_free(c);
    SSL_free(s);
}

/* tls_release_peer_chain(): both sides let go of the chain the peer sent
 * (leaf + CA here) and of the verified chain; the leaf and the verdict
 * stay, and the connection still carries data. */
static void release_peer_chain_keeps_leaf_and_verdict(void **state)
{
    (void)state;
    SSL *s = tls_ssl_new_server(srv_ctx, false);
    SSL *c = tls_ssl_new_client(cli_ctx, NULL, "edge.test", false);
    assert_non_null(s);
    assert_non_null(c);
    assert_int_equal(tls_release_peer_chain(s), 0); /* before the handshake: nothing */
    assert_int_equal(handshake(c, s), 0);
    assert_true(sk_X509_num(SSL_get_peer_cert_chain(s)) >= 1);
    assert_true(sk_X509_num(SSL_get0_verified_chain(s)) >= 2);
    X509 *leaf = tls_peer_cert(s);
    assert_non_null(leaf);
    assert_true(tls_release_peer_chain(s) >= 3);
    assert_true(tls_release_peer_chain(c) >= 3);
    assert_int_equal(sk_X509_num(SSL_get_peer_cert_chain(s)), 0);
    assert_int_equal(sk_X509_num(SSL_get0_verified_chain(s)), 0);
    assert_int_equal(tls_release_peer_chain(s), 0);
    assert_ptr_equal(tls_peer_cert(s), leaf);
    char cn[64];
    X509_NAME_get_text_by_NID(X509_get_subject_name(tls_peer_cert(s)), NID_commonName, cn,
                              sizeof(cn));
    assert_string_equal(cn, "partner.test");
    assert_int_equal(tls_peer_verify(s), TLS_VERIFY_OK);
    assert_int_equal(tls_peer_verify(c), TLS_VERIFY_OK);
    char buf[8];
    assert_int_equal(SSL_write(c, "ping", 4), 4);
    assert_int_equal(SSL_read(s, buf, sizeof(buf)), 4);
    assert_memory_equal(buf, "ping", 4);
    SSL_free(c);
    SSL_free(s);
}

static void idn_sni_is_sent_as_a_label(void **state)
{
    (void)state;
    SSL *s = tls_ssl_new_server(srv_ctx, false);
    SSL *c = tls_ssl_new_client(cli_ctx, NULL,
                                "B\xc3\x9c"
                                "cher.test",
                                false);
    assert_non_null(c);
    assert_int_equal(handshake(c, s), 0);
    assert_string_equal(tls_sni(s), "xn--bcher-kva.test");
    SSL_free(c);
    SSL_free(s);
    /* an address literal (a SIP next hop given by address) sends no SNI
     * (RFC 6066 section 3) */
    s = tls_ssl_new_server(srv_ctx, false);
    c = tls_ssl_new_client(cli_ctx, NULL, "192.0.2.1", false);
    assert_non_null(c);
    assert_int_equal(handshake(c, s), 0);
    assert_null(tls_sni(s));
    SSL_free(c);
    SSL_free(s);
    assert_null(tls_ssl_new_client(cli_ctx, NULL, "bad domain", false));
    assert_null(tls_ssl_new_client(cli_ctx, NULL, "", false));
}

static void tls12_uses_forward_secret_aead_only(void **state)
{
    (void)state;
    SSL *s = tls_ssl_new_server(srv_ctx, false);
    SSL *c = tls_ssl_new_client(cli_ctx, NULL, "edge.test", false);
    SSL_set_max_proto_version(c, TLS1_2_VERSION);
    assert_int_equal(handshake(c, s), 0);
    assert_string_equal(tls_version(s), "TLSv1.2");
    const char *cipher = tls_cipher(s);
    assert_true(strncmp(cipher, "ECDHE-", 6) == 0);
    assert_true(strstr(cipher, "GCM") != NULL || strstr(cipher, "CHACHA20") != NULL);
    SSL_free(c);
    SSL_free(s);

    /* A client that offers only CBC or non-forward-secret suites fails. */
    const char *weak[] = {"ECDHE-ECDSA-AES128-SHA", "AES128-GCM-SHA256",
                          "ECDHE-ECDSA-AES256-SHA384"};
    for (size_t i = 0; i < sizeof(weak) / sizeof(weak[0]); i++) {
        s = tls_ssl_new_server(srv_ctx, false);
        c = SSL_new(SSL_CTX_new(TLS_client_method()));
        SSL_CTX_free(SSL_get_SSL_CTX(c)); /* the SSL keeps its reference */
        SSL_set_connect_state(c);
        SSL_set_max_proto_version(c, TLS1_2_VERSION);
        assert_int_equal(SSL_set_cipher_list(c, weak[i]), 1);
        assert_int_equal(handshake(c, s), -1);
        ERR_clear_error();
        SSL_free(c);
        SSL_free(s);
    }
}

static void below_tls12_is_refused(void **state)
{
    (void)state;
    for (int v = TLS1_VERSION; v <= TLS1_1_VERSION; v++) {
        SSL *s = tls_ssl_new_server(srv_ctx, false);
        SSL *c = tls_ssl_new_client(cli_ctx, NULL, "edge.test", false);
        SSL_set_security_level(c, 0);
        SSL_set_min_proto_version(c, v);
        SSL_set_max_proto_version(c, v);
        assert_int_equal(handshake(c, s), -1);
        assert_string_not_equal(tls_last_error(), "");
        SSL_free(c);
        SSL_free(s);
    }
    /* And our client never goes below TLS 1.2 either. */
    SSL_CTX *old = SSL_CTX_new(TLS_server_method());
    SSL_CTX_use_certificate_chain_file(old, edge_pem);
    SSL_CTX_use_PrivateKey_file(old, edge_pem, SSL_FILETYPE_PEM);
    SSL_CTX_set_security_level(old, 0);
    SSL_CTX_set_min_proto_version(old, TLS1_VERSION);
    SSL_CTX_set_max_proto_version(old, TLS1_1_VERSION);
    SSL *s = SSL_new(old);
    SSL_set_accept_state(s);
    SSL *c = tls_ssl_new_client(cli_ctx, NULL, "edge.test", false);
    assert_int_equal(handshake(c, s), -1);
    ERR_clear_error();
    SSL_free(c);
    SSL_free(s);
    SSL_CTX_free(old);
}

static void direct_tls_negotiates_alpn(void **state)
{
    (void)state;
    SSL *s = tls_ssl_new_server(srv_ctx, true);
    SSL *c = tls_ssl_new_client(cli_ctx, NULL, "edge.test", true);
    assert_int_equal(handshake(c, s), 0);
    assert_true(tls_alpn_selected(s));
    assert_true(tls_alpn_selected(c));
    SSL_free(c);
    SSL_free(s);

    /* Other protocols only: no_application_protocol. */
    s = tls_ssl_new_server(srv_ctx, true);
    c = tls_ssl_new_client(cli_ctx, NULL, "edge.test", false);
    static const unsigned char h2[] = "\x02h2\x08http/1.1";
    SSL_set_alpn_protos(c, h2, sizeof(h2) - 1);
    assert_int_equal(handshake(c, s), -1);
    ERR_clear_error();
    SSL_free(c);
    SSL_free(s);

    /* xmpp-server among others: selected. */
    s = tls_ssl_new_server(srv_ctx, true);
    c = tls_ssl_new_client(cli_ctx, NULL, "edge.test", false);
    static const unsigned char mix[] = "\x02h2\x0bxmpp-server";
    SSL_set_alpn_protos(c, mix, sizeof(mix) - 1);
    assert_int_equal(handshake(c, s), 0);
    assert_true(tls_alpn_selected(s));
    SSL_free(c);
    SSL_free(s);

    /* No ALPN at all: accepted unless alpn_required. */
    s = tls_ssl_new_server(srv_ctx, true);
    c = tls_ssl_new_client(cli_ctx, NULL, "edge.test", false);
    assert_int_equal(handshake(c, s), 0);
    assert_false(tls_alpn_selected(s));
    SSL_free(c);
    SSL_free(s);

    struct tls_ctx *strict = ctx_of(edge_pem, ca_pem, true);
    s = tls_ssl_new_server(strict, true);
    c = tls_ssl_new_client(cli_ctx, NULL, "edge.test", false);
    assert_int_equal(handshake(c, s), -1);
    ERR_clear_error();
    SSL_free(c);
    SSL_free(s);
    /* ... but after STARTTLS nothing about ALPN is required. */
    s = tls_ssl_new_server(strict, false);
    c = tls_ssl_new_client(cli_ctx, NULL, "edge.test", false);
    assert_int_equal(handshake(c, s), 0);
    SSL_free(c);
    SSL_free(s);
    /* ... and after STARTTLS an offered ALPN is ignored, not enforced. */
    s = tls_ssl_new_server(strict, false);
    c = tls_ssl_new_client(cli_ctx, NULL, "edge.test", false);
    SSL_set_alpn_protos(c, h2, sizeof(h2) - 1);
    assert_int_equal(handshake(c, s), 0);
    assert_false(tls_alpn_selected(s));
    SSL_free(c);
    SSL_free(s);
    tls_ctx_free(strict);
}

static char *peer_cn(SSL *s, char *buf, size_t len)
{
    X509 *p = tls_peer_cert(s);
    buf[0] = '\0';
    if (p != NULL)
        X509_NAME_get_text_by_NID(X509_get_subject_name(p), NID_commonName, buf, (int)len);
    return buf;
}

static void sni_selects_hosted_domain_certificate(void **state)
{
    char err[256], cn[64];
    struct tls_ctx *t = ctx_of(edge_pem, ca_pem, false);
    const struct tls_conf other = {.cert_file = other_pem};

    (void)state;
    assert_int_equal(tls_ctx_add_domain(t, "Other.Test.", &other, err, sizeof(err)), 0);

    SSL *s = tls_ssl_new_server(t, false);
    SSL *c = tls_ssl_new_client(cli_ctx, NULL, "other.test", false);
    assert_int_equal(handshake(c, s), 0);
    assert_string_equal(peer_cn(c, cn, sizeof(cn)), "other.test");
    assert_int_equal(tls_peer_verify(c), TLS_VERIFY_OK);
    /* The switched context still verifies the client with the same store. */
    assert_int_equal(tls_peer_verify(s), TLS_VERIFY_OK);
    SSL_free(c);
    SSL_free(s);

    /* Unknown name: the default certificate. */
    s = tls_ssl_new_server(t, false);
    c = tls_ssl_new_client(cli_ctx, NULL, "unknown.test", false);
    assert_int_equal(handshake(c, s), 0);
    assert_string_equal(peer_cn(c, cn, sizeof(cn)), "edge.test");
    SSL_free(c);
    SSL_free(s);

    /* Client role: the local domain picks the certificate presented. */
    s = tls_ssl_new_server(srv_ctx, false);
    c = tls_ssl_new_client(t, "other.test", "edge.test", false);
    assert_int_equal(handshake(c, s), 0);
    assert_string_equal(peer_cn(s, cn, sizeof(cn)), "other.test");
    SSL_free(c);
    SSL_free(s);

    /* The context may go before its sessions. */
    s = tls_ssl_new_server(t, false);
    c = tls_ssl_new_client(cli_ctx, NULL, "other.test", false);
    tls_ctx_free(t);
    assert_int_equal(handshake(c, s), 0);
    assert_string_equal(peer_cn(c, cn, sizeof(cn)), "other.test");
    SSL_free(c);
    SSL_free(s);
}

static enum tls_verify client_sees(const char *server_cert)
{
    struct tls_ctx *t = ctx_of(server_cert, ca_pem, false);
    SSL *s = tls_ssl_new_server(t, false);
    SSL *c = tls_ssl_new_client(cli_ctx, NULL, "edge.test", false);
    assert_int_equal(handshake(c, s), 0);
    enum tls_verify v = tls_peer_verify(c);
    SSL_free(c);
    SSL_free(s);
    tls_ctx_free(t);
    return v;
}

static enum tls_verify server_sees(const char *client_cert)
{
    char err[256];
    const struct tls_conf cc = {.cert_file = client_cert, .ca_file = ca_pem};
    struct tls_ctx *t = tls_ctx_new(&cc, err, sizeof(err));
    assert_non_null(t);
    SSL *s = tls_ssl_new_server(srv_ctx, false);
    SSL *c = tls_ssl_new_client(t, NULL, "edge.test", false);
    assert_int_equal(handshake(c, s), 0);
    enum tls_verify v = tls_peer_verify(s);
    SSL_free(c);
    SSL_free(s);
    tls_ctx_free(t);
    return v;
}

static void verification_outcomes(void **state)
{
    (void)state;
    assert_int_equal(client_sees(edge_pem), TLS_VERIFY_OK);
    assert_int_equal(client_sees(expired_pem), TLS_VERIFY_EXPIRED);
    assert_int_equal(client_sees(future_pem), TLS_VERIFY_NOT_YET_VALID);
    assert_int_equal(client_sees(self_pem), TLS_VERIFY_UNTRUSTED);
    assert_int_equal(server_sees(partner_pem), TLS_VERIFY_OK);
    assert_int_equal(server_sees(email_pem), TLS_VERIFY_BAD_PURPOSE);
    assert_int_equal(server_sees(self_pem), TLS_VERIFY_UNTRUSTED);
    assert_int_equal(server_sees(expired_pem), TLS_VERIFY_EXPIRED);
    /* A client without certificate still completes the handshake. */
    char err[256];
    const struct tls_conf none = {.ca_file = ca_pem};
    struct tls_ctx *t = tls_ctx_new(&none, err, sizeof(err));
    assert_non_null(t);
    SSL *s = tls_ssl_new_server(srv_ctx, false);
    SSL *c = tls_ssl_new_client(t, NULL, "edge.test", false);
    assert_int_equal(handshake(c, s), 0);
    assert_int_equal(tls_peer_verify(s), TLS_VERIFY_NO_CERT);
    assert_null(tls_peer_cert(s));
    assert_int_equal(tls_peer_verify(c), TLS_VERIFY_OK);
    SSL_free(c);
    SSL_free(s);
    tls_ctx_free(t);
    /* A store without our CA: the edge is untrusted. */
    const struct tls_conf other_ca = {.cert_file = partner_pem, .ca_file = self_pem};
    t = tls_ctx_new(&other_ca, err, sizeof(err));
    assert_non_null(t);
    s = tls_ssl_new_server(srv_ctx, false);
    c = tls_ssl_new_client(t, NULL, "edge.test", false);
    assert_int_equal(handshake(c, s), 0);
    assert_int_equal(tls_peer_verify(c), TLS_VERIFY_UNTRUSTED);
    SSL_free(c);
    SSL_free(s);
    tls_ctx_free(t);
}

static void loading_errors_are_clear(void **state)
{
    char err[512];
    struct {
        struct tls_conf conf;
        const char *want1, *want2;
    } cases[] = {
        {{.cert_file = missing_pem}, "cannot read certificate chain", "No such file"},
        {{.cert_file = garbage_pem}, "cannot load certificate chain", garbage_pem},
        {{.cert_file = wrongkey_pem}, "cannot load private key", wrongkey_pem},
        {{.cert_file = edge_pem, .key_file = key_only_pem}, "does not match", key_only_pem},
        {{.cert_file = edge_pem, .key_file = missing_pem}, "cannot read private key", missing_pem},
        {{.cert_file = edge_pem, .ca_file = missing_pem}, "cannot read CA store", missing_pem},
        {{.cert_file = edge_pem, .ca_file = garbage_pem}, "cannot load CA store", garbage_pem},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        err[0] = 'x';
        struct tls_ctx *t = tls_ctx_new(&cases[i].conf, err, sizeof(err));
        if (t != NULL || strstr(err, cases[i].want1) == NULL || strstr(err, cases[i].want2) == NULL)
            print_error("case %zu: %s\n", i, err);
        assert_null(t);
        assert_non_null(strstr(err, cases[i].want1));
        assert_non_null(strstr(err, cases[i].want2));
        assert_null(strchr(err, '\n'));
    }
    assert_null(tls_ctx_new(NULL, err, sizeof(err)));
    const struct tls_conf ok = {.cert_file = edge_pem};
    struct tls_ctx *t = tls_ctx_new(&ok, err, sizeof(err));
    assert_non_null(t);
    const struct tls_conf bad = {.cert_file = missing_pem};
    assert_int_equal(tls_ctx_add_domain(t, "x.test", &bad, err, sizeof(err)), -1);
    assert_non_null(strstr(err, missing_pem));
    assert_int_equal(tls_ctx_add_domain(t, "bad domain", &ok, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "invalid domain"));
    tls_ctx_free(t);
    tls_ctx_free(NULL);
}

static void names_for_logs(void **state)
{
    (void)state;
    assert_string_equal(tls_verify_name(TLS_VERIFY_OK), "ok");
    assert_string_equal(tls_verify_name(TLS_VERIFY_NO_CERT), "no-cert");
    assert_string_equal(tls_verify_name(TLS_VERIFY_UNTRUSTED), "untrusted");
    assert_string_equal(tls_verify_name(TLS_VERIFY_EXPIRED), "expired");
    assert_string_equal(tls_verify_name(TLS_VERIFY_NOT_DONE), "not-done");
    assert_string_equal(tls_error_string(0), "unknown");
    assert_string_equal(tls_version(NULL), "none");
}

/* RFC 5922 section 7 / RFC 6125 section 6: which certificates name a SIP
 * server host. One table; each row's certificate is made in memory. */
#define L(...) ((const char *const[]){__VA_ARGS__, NULL})
struct sip_row {
    const char *what;
    struct certgen_spec spec;
    const char *host;
    enum tls_host_match want;
};
static const char nul_dns[] = "sip.example.com\0.evil.org";
static const struct sip_row sip_rows[] = {
    {"dns exact", {.dns = L("sip.example.com")}, "sip.example.com", TLS_HOST_DNS_ID},
    {"dns case", {.dns = L("SIP.Example.com")}, "sip.EXAMPLE.com", TLS_HOST_DNS_ID},
    {"dns trailing dot", {.dns = L("sip.example.com.")}, "sip.example.com", TLS_HOST_DNS_ID},
    {"dns other host", {.dns = L("other.example.com")}, "sip.example.com", TLS_HOST_NO_MATCH},
    {"dns parent", {.dns = L("example.com")}, "sip.example.com", TLS_HOST_NO_MATCH},
    {"dns suffix", {.dns = L("sip.example.com")}, "a.sip.example.com", TLS_HOST_NO_MATCH},
    {"wildcard never (5922 7.2)",
     {.dns = L("*.example.com")},
     "sip.example.com",
     TLS_HOST_NO_MATCH},
    {"leading dot never", {.dns = L(".example.com")}, "sip.example.com", TLS_HOST_NO_MATCH},
    {"second dns",
     {.dns = L("a.example.org", "sip.example.com")},
     "sip.example.com",
     TLS_HOST_DNS_ID},
    {"nul in dns",
     {.raw_dns = nul_dns, .raw_dns_len = sizeof(nul_dns) - 1},
     "sip.example.com",
     TLS_HOST_NO_MATCH},
    {"idn U-label reference",
     {.dns = L("xn--bcher-kva.example")},
     "b\xc3\xbc"
     "cher.example",
     TLS_HOST_DNS_ID},
    {"uri sip:domain", {.uri = L("sip:sip.example.com")}, "sip.example.com", TLS_HOST_URI_ID},
    {"uri case", {.uri = L("SIP:Sip.Example.COM")}, "sip.example.com", TLS_HOST_URI_ID},
    {"uri beats dns",
     {.dns = L("sip.example.com"), .uri = L("sip:sip.example.com")},
     "sip.example.com",
     TLS_HOST_URI_ID},
    {"uri with user part",
     {.uri = L("sip:bob@sip.example.com")},
     "sip.example.com",
     TLS_HOST_NO_MATCH},
    {"uri with port", {.uri = L("sip:sip.example.com:5061")}, "sip.example.com", TLS_HOST_NO_MATCH},
    {"uri with parameter",
     {.uri = L("sip:sip.example.com;transport=tls")},
     "sip.example.com",
     TLS_HOST_NO_MATCH},
    {"uri sips scheme", {.uri = L("sips:sip.example.com")}, "sip.example.com", TLS_HOST_NO_MATCH},
    {"uri other scheme",
     {.uri = L("https://sip.example.com")},
     "sip.example.com",
     TLS_HOST_NO_MATCH},
    {"uri wildcard", {.uri = L("sip:*.example.com")}, "sip.example.com", TLS_HOST_NO_MATCH},
    {"cn without san", {.cn = "sip.example.com"}, "sip.example.com", TLS_HOST_CN},
    {"cn last one counts",
     {.cn = "sip.example.com", .cn2 = "other.example.com"},
     "sip.example.com",
     TLS_HOST_NO_MATCH},
    {"cn wildcard never", {.cn = "*.example.com"}, "sip.example.com", TLS_HOST_NO_MATCH},
    {"cn ignored when a san exists",
     {.cn = "sip.example.com", .dns = L("other.example.com")},
     "sip.example.com",
     TLS_HOST_NO_MATCH},
    {"cn ignored next to an e-mail san",
     {.cn = "sip.example.com", .email = "a@example.com"},
     "sip.example.com",
     TLS_HOST_NO_MATCH},
    {"ip v4", {.ip = L("192.0.2.7")}, "192.0.2.7", TLS_HOST_IP_ADDR},
    {"ip v4 other", {.ip = L("192.0.2.8")}, "192.0.2.7", TLS_HOST_NO_MATCH},
    {"ip v6", {.ip = L("2001:db8::7")}, "2001:db8:0::7", TLS_HOST_IP_ADDR},
    {"ip literal needs an iPAddress",
     {.cn = "192.0.2.7", .dns = L("192.0.2.7")},
     "192.0.2.7",
     TLS_HOST_NO_MATCH},
    {"ip literal cn never", {.cn = "192.0.2.7"}, "192.0.2.7", TLS_HOST_NO_MATCH},
    {"ip san does not name a domain", {.ip = L("192.0.2.7")}, "sip.example.com", TLS_HOST_NO_MATCH},
    {"empty host", {.dns = L("sip.example.com")}, "", TLS_HOST_NO_MATCH},
    {"invalid host", {.dns = L("sip..example.com")}, "sip..example.com", TLS_HOST_NO_MATCH},
};

static void sip_host_table(void **state)
{
    (void)state;
    EVP_PKEY *k = certgen_key();
    for (size_t i = 0; i < sizeof(sip_rows) / sizeof(sip_rows[0]); i++) {
        const struct sip_row *r = &sip_rows[i];
        X509 *c = certgen_cert(&r->spec, k, NULL, NULL);
        enum tls_host_match got = tls_cert_match_sip_host(c, r->host);
        if (got != r->want)
            fail_msg("%s: got %s, want %s", r->what, tls_host_match_name(got),
                     tls_host_match_name(r->want));
        X509_free(c);
    }
    assert_int_equal(tls_cert_match_sip_host(NULL, "sip.example.com"), TLS_HOST_NO_MATCH);
    assert_string_equal(tls_host_match_name(TLS_HOST_URI_ID), "uri-id");
    assert_string_equal(tls_host_match_name(TLS_HOST_NO_MATCH), "none");
    EVP_PKEY_free(k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(handshake_tls13_verifies_both_ways),
        cmocka_unit_test(release_peer_chain_keeps_leaf_and_verdict),
        cmocka_unit_test(idn_sni_is_sent_as_a_label),
        cmocka_unit_test(tls12_uses_forward_secret_aead_only),
        cmocka_unit_test(below_tls12_is_refused),
        cmocka_unit_test(direct_tls_negotiates_alpn),
        cmocka_unit_test(sni_selects_hosted_domain_certificate),
        cmocka_unit_test(verification_outcomes),
        cmocka_unit_test(loading_errors_are_clear),
        cmocka_unit_test(names_for_logs),
        cmocka_unit_test(sip_host_table),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
