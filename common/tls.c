/*
 * tls.c - OpenSSL 3 glue: contexts, sessions and the facts about a finished
 * handshake that XMPP needs. The policy is described in tls.h; the reasons
 * for each setting are next to it below.
 */
#include "tls.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <idn2.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define NAME_MAX_LEN 253

/* RFC 7590 section 3.3 and BCP 195: forward secret AEAD suites only for
 * TLS 1.2; TLS 1.3's default suites are all AEAD and forward secret. */
static const char tls12_ciphers[] = "ECDHE-ECDSA-AES256-GCM-SHA384:"
                                    "ECDHE-RSA-AES256-GCM-SHA384:"
                                    "ECDHE-ECDSA-CHACHA20-POLY1305:"
                                    "ECDHE-RSA-CHACHA20-POLY1305:"
                                    "ECDHE-ECDSA-AES128-GCM-SHA256:"
                                    "ECDHE-RSA-AES128-GCM-SHA256";
/* Not const: SSL_CTX_set1_groups_list() is a macro that casts to char *. */
static char tls_groups[] = "X25519:P-256:P-384";

/* ALPN wire format: length-prefixed protocol names (RFC 7301 section 3.1). */
static const unsigned char alpn_xmpp[] = "\x0bxmpp-server";
#define ALPN_XMPP_LEN (sizeof(alpn_xmpp) - 1)

/* One hosted domain's certificate. */
struct tls_domain {
    char name[NAME_MAX_LEN + 1]; /* A-label, lower case */
    SSL_CTX *ctx;
};

/* Hung on the default SSL_CTX as ex_data, so it lives exactly as long as
 * that context, which every SSL made from it references. */
struct tls_domains {
    struct tls_domain *v;
    size_t n;
    bool alpn_required;
};

/* Per-session state, hung on the SSL as ex_data and freed with it. */
struct tls_state {
    bool direct_tls;
    bool alpn_required;
    int first_error; /* first chain error that counts, X509_V_OK if none */
    SSL_CTX *home;   /* the default context, referenced, for SNI lookups */
};

struct tls_ctx {
    SSL_CTX *ctx; /* the default identity; one reference */
};

static int idx_ssl = -1;
static int idx_ctx = -1;

static void free_state(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
    struct tls_state *st = ptr;

    (void)parent;
    (void)ad;
    (void)idx;
    (void)argl;
    (void)argp;
    if (st == NULL)
        return;
    SSL_CTX_free(st->home);
    free(st);
}

static void free_domains(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
                         void *argp)
{
    struct tls_domains *d = ptr;

    (void)parent;
    (void)ad;
    (void)idx;
    (void)argl;
    (void)argp;
    if (d == NULL)
        return;
    for (size_t i = 0; i < d->n; i++)
        SSL_CTX_free(d->v[i].ctx);
    free(d->v);
    free(d);
}

static int ex_indexes(void)
{
    if (idx_ssl < 0)
        idx_ssl = SSL_get_ex_new_index(0, NULL, NULL, NULL, free_state);
    if (idx_ctx < 0)
        idx_ctx = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, free_domains);
    return idx_ssl >= 0 && idx_ctx >= 0 ? 0 : -1;
}

static struct tls_state *state_of(const SSL *s)
{
    return idx_ssl < 0 ? NULL : SSL_get_ex_data(s, idx_ssl);
}

/* The reason of the most recent OpenSSL error, the queue cleared. */
static const char *ssl_reason(void)
{
    unsigned long e, last = 0;

    while ((e = ERR_get_error()) != 0)
        last = e;
    return tls_error_string(last);
}

const char *tls_error_string(unsigned long code)
{
    const char *r = code != 0 ? ERR_reason_error_string(code) : NULL;
    return r != NULL ? r : "unknown";
}

const char *tls_last_error(void)
{
    return ssl_reason();
}

/* Lower-case A-label form of a domain name for SNI and the domain table;
 * only LDH host names (an IP literal is not a valid SNI, RFC 6066
 * section 3). Returns 0 or -1. */
static int domain_alabel(const char *in, char *out, size_t outlen)
{
    char buf[4 * NAME_MAX_LEN + 2];
    char *ascii = NULL;
    size_t len;

    if (in == NULL || (len = strlen(in)) == 0 || len >= sizeof(buf))
        return -1;
    memcpy(buf, in, len + 1);
    if (buf[len - 1] == '.')
        buf[--len] = '\0';
    if (idn2_to_ascii_8z(buf, &ascii, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL) != IDN2_OK)
        return -1;
    size_t alen = strlen(ascii);
    int rc = -1;
    bool ok = alen > 0 && alen <= NAME_MAX_LEN && alen < outlen;
    bool all_digits_dots = true;
    for (size_t i = 0; ok && i < alen; i++) {
        unsigned char c = (unsigned char)ascii[i];
        ok = isalnum(c) || c == '-' || (c == '.' && i > 0 && ascii[i - 1] != '.');
        if (isalpha(c) || c == '-')
            all_digits_dots = false;
    }
    if (ok && !all_digits_dots && ascii[alen - 1] != '.') {
        for (size_t i = 0; i <= alen; i++)
            out[i] = (char)tolower((unsigned char)ascii[i]);
        rc = 0;
    }
    idn2_free(ascii);
    return rc;
}

/* Records the first chain error that counts; never fails the handshake
 * (tls.h: XMPP decides afterwards). */
static int verify_cb(int preverify_ok, X509_STORE_CTX *x)
{
    if (preverify_ok)
        return 1;
    SSL *s = X509_STORE_CTX_get_ex_data(x, SSL_get_ex_data_X509_STORE_CTX_idx());
    struct tls_state *st = s != NULL ? state_of(s) : NULL;
    int err = X509_STORE_CTX_get_error(x);
    int depth = X509_STORE_CTX_get_error_depth(x);
    if (st == NULL)
        return 1;
    /* A server's certificate used as the client of an s2s stream often
     * carries serverAuth only: accept that purpose for the leaf. */
    if (err == X509_V_ERR_INVALID_PURPOSE && depth == 0 && SSL_is_server(s)) {
        X509 *leaf = X509_STORE_CTX_get_current_cert(x);
        if (leaf != NULL && (X509_get_extension_flags(leaf) & EXFLAG_XKUSAGE) &&
            (X509_get_extended_key_usage(leaf) & XKU_SSL_SERVER))
            return 1;
    }
    if (st->first_error == X509_V_OK)
        st->first_error = err;
    return 1;
}

/* Direct TLS listener with alpn_required: refuse a ClientHello without the
 * ALPN extension before anything else is negotiated. */
static int client_hello_cb(SSL *s, int *al, void *arg)
{
    const unsigned char *ext = NULL;
    size_t extlen = 0;
    struct tls_state *st = state_of(s);

    (void)arg;
    if (st == NULL || !st->direct_tls || !st->alpn_required)
        return SSL_CLIENT_HELLO_SUCCESS;
    if (SSL_client_hello_get0_ext(s, TLSEXT_TYPE_application_layer_protocol_negotiation, &ext,
                                  &extlen) == 1)
        return SSL_CLIENT_HELLO_SUCCESS;
    *al = SSL_AD_NO_APPLICATION_PROTOCOL;
    return SSL_CLIENT_HELLO_ERROR;
}

/* XEP-0368 section 3 rule 9: on the direct TLS listener the only protocol
 * is xmpp-server; a client offering only others gets the fatal alert
 * no_application_protocol (RFC 7301 section 3.2). After STARTTLS, ALPN is
 * not part of XMPP and is ignored. */
static int alpn_select_cb(SSL *s, const unsigned char **out, unsigned char *outlen,
                          const unsigned char *in, unsigned int inlen, void *arg)
{
    struct tls_state *st = state_of(s);

    (void)arg;
    if (st == NULL || !st->direct_tls)
        return SSL_TLSEXT_ERR_NOACK;
    for (unsigned int i = 0; i < inlen;) {
        unsigned int l = in[i];
        if (l == 0 || i + 1 + l > inlen)
            break;
        if (l == ALPN_XMPP_LEN - 1 && memcmp(in + i + 1, alpn_xmpp + 1, l) == 0) {
            *out = in + i + 1;
            *outlen = (unsigned char)l;
            return SSL_TLSEXT_ERR_OK;
        }
        i += 1 + l;
    }
    return SSL_TLSEXT_ERR_ALERT_FATAL;
}

/* SNI (RFC 6066 section 3): present the certificate of the hosted domain
 * the client asked for. An unknown or malformed name keeps the default
 * certificate; the stream header's 'to' is checked later anyway. */
static int servername_cb(SSL *s, int *al, void *arg)
{
    char name[NAME_MAX_LEN + 1];
    struct tls_state *st = state_of(s);

    (void)al;
    (void)arg;
    const char *sni = SSL_get_servername(s, TLSEXT_NAMETYPE_host_name);
    if (st == NULL || sni == NULL || idx_ctx < 0)
        return SSL_TLSEXT_ERR_OK;
    size_t len = strnlen(sni, sizeof(name));
    if (len == 0 || len >= sizeof(name))
        return SSL_TLSEXT_ERR_OK;
    for (size_t i = 0; i <= len; i++)
        name[i] = (char)tolower((unsigned char)sni[i]);
    if (len > 0 && name[len - 1] == '.')
        name[len - 1] = '\0';
    const struct tls_domains *d = SSL_CTX_get_ex_data(st->home, idx_ctx);
    for (size_t i = 0; d != NULL && i < d->n; i++) {
        if (strcmp(d->v[i].name, name) == 0) {
            SSL_set_SSL_CTX(s, d->v[i].ctx);
            break;
        }
    }
    return SSL_TLSEXT_ERR_OK;
}

/* Everything every context shares. Returns 0 or -1 with err set. */
static int ctx_policy(SSL_CTX *c, char *err, size_t errlen)
{
    /* RFC 7590 section 3.1: TLS 1.2 or later. */
    if (SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION) != 1 ||
        SSL_CTX_set_cipher_list(c, tls12_ciphers) != 1 ||
        SSL_CTX_set1_groups_list(c, tls_groups) != 1) {
        snprintf(err, errlen, "cannot set TLS protocol policy: %s", ssl_reason());
        return -1;
    }
    /* No compression (CRIME), no renegotiation (RFC 7590 section 3.3), the
     * server's order of suites, no tickets and no session cache (nothing to
     * resume, so no ticket key to rotate or share between processes). */
    SSL_CTX_set_options(c, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                               SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_TICKET);
    SSL_CTX_set_num_tickets(c, 0);
    SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_session_id_context(c, (const unsigned char *)"xfed", 4);
    /* An idle stream keeps no 16 KiB record buffers. */
    SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_security_level(c, 2);
    SSL_CTX_set_verify(c, SSL_VERIFY_PEER, verify_cb);
    SSL_CTX_set_verify_depth(c, 8);
    SSL_CTX_set_client_hello_cb(c, client_hello_cb, NULL);
    SSL_CTX_set_alpn_select_cb(c, alpn_select_cb, NULL);
    SSL_CTX_set_tlsext_servername_callback(c, servername_cb);
    return 0;
}

static int load_identity(SSL_CTX *c, const struct tls_conf *conf, char *err, size_t errlen)
{
    if (conf->cert_file == NULL)
        return 0;
    const char *key = conf->key_file != NULL ? conf->key_file : conf->cert_file;
    if (access(conf->cert_file, R_OK) != 0) {
        snprintf(err, errlen, "cannot read certificate chain %s: %s", conf->cert_file,
                 strerror(errno));
        return -1;
    }
    if (SSL_CTX_use_certificate_chain_file(c, conf->cert_file) != 1) {
        snprintf(err, errlen, "cannot load certificate chain %s: %s", conf->cert_file,
                 ssl_reason());
        return -1;
    }
    if (access(key, R_OK) != 0) {
        snprintf(err, errlen, "cannot read private key %s: %s", key, strerror(errno));
        return -1;
    }
    if (SSL_CTX_use_PrivateKey_file(c, key, SSL_FILETYPE_PEM) != 1) {
        if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH) {
            ERR_clear_error();
            snprintf(err, errlen, "private key %s does not match certificate %s", key,
                     conf->cert_file);
            return -1;
        }
        snprintf(err, errlen, "cannot load private key %s: %s", key, ssl_reason());
        return -1;
    }
    if (SSL_CTX_check_private_key(c) != 1) {
        ERR_clear_error();
        snprintf(err, errlen, "private key %s does not match certificate %s", key, conf->cert_file);
        return -1;
    }
    return 0;
}

static SSL_CTX *ctx_build(const struct tls_conf *conf, char *err, size_t errlen)
{
    SSL_CTX *c = SSL_CTX_new(TLS_method());
    if (c == NULL) {
        snprintf(err, errlen, "cannot create TLS context: %s", ssl_reason());
        return NULL;
    }
    if (ctx_policy(c, err, errlen) != 0 || load_identity(c, conf, err, errlen) != 0) {
        SSL_CTX_free(c);
        return NULL;
    }
    return c;
}

struct tls_ctx *tls_ctx_new(const struct tls_conf *conf, char *err, size_t errlen)
{
    struct tls_ctx *t = NULL;
    struct tls_domains *d = NULL;
    SSL_CTX *c = NULL;

    if (errlen > 0)
        err[0] = '\0';
    if (conf == NULL || ex_indexes() != 0) {
        snprintf(err, errlen, "cannot set up TLS: %s", conf == NULL ? "no settings" : "memory");
        return NULL;
    }
    if ((c = ctx_build(conf, err, errlen)) == NULL)
        return NULL;
    if (conf->ca_file != NULL || conf->ca_dir != NULL) {
        const char *what = conf->ca_file != NULL ? conf->ca_file : conf->ca_dir;
        if (access(what, R_OK) != 0) {
            snprintf(err, errlen, "cannot read CA store %s: %s", what, strerror(errno));
            goto fail;
        }
        if (SSL_CTX_load_verify_locations(c, conf->ca_file, conf->ca_dir) != 1) {
            snprintf(err, errlen, "cannot load CA store %s: %s", what, ssl_reason());
            goto fail;
        }
    } else if (SSL_CTX_set_default_verify_paths(c) != 1) {
        snprintf(err, errlen, "cannot load the system CA store: %s", ssl_reason());
        goto fail;
    }
    if ((d = calloc(1, sizeof(*d))) == NULL || (t = calloc(1, sizeof(*t))) == NULL) {
        snprintf(err, errlen, "cannot set up TLS: out of memory");
        goto fail;
    }
    d->alpn_required = conf->alpn_required;
    if (SSL_CTX_set_ex_data(c, idx_ctx, d) != 1) {
        snprintf(err, errlen, "cannot set up TLS: out of memory");
        goto fail;
    }
    t->ctx = c;
    return t;
fail:
    free(d);
    free(t);
    SSL_CTX_free(c);
    return NULL;
}

void tls_ctx_free(struct tls_ctx *t)
{
    if (t == NULL)
        return;
    SSL_CTX_free(t->ctx);
    free(t);
}

int tls_ctx_add_domain(struct tls_ctx *t, const char *domain, const struct tls_conf *conf,
                       char *err, size_t errlen)
{
    char name[NAME_MAX_LEN + 1];

    if (errlen > 0)
        err[0] = '\0';
    if (t == NULL || conf == NULL || conf->cert_file == NULL) {
        snprintf(err, errlen, "no certificate given for domain %s", domain ? domain : "?");
        return -1;
    }
    if (domain_alabel(domain, name, sizeof(name)) != 0) {
        snprintf(err, errlen, "invalid domain name %s", domain ? domain : "?");
        return -1;
    }
    struct tls_domains *d = SSL_CTX_get_ex_data(t->ctx, idx_ctx);
    if (d == NULL) {
        snprintf(err, errlen, "TLS context has no domain table");
        return -1;
    }
    SSL_CTX *c = ctx_build(conf, err, errlen);
    if (c == NULL)
        return -1;
    /* One trust store for all identities. */
    SSL_CTX_set1_cert_store(c, SSL_CTX_get_cert_store(t->ctx));
    for (size_t i = 0; i < d->n; i++) {
        if (strcmp(d->v[i].name, name) == 0) {
            SSL_CTX_free(d->v[i].ctx);
            d->v[i].ctx = c;
            return 0;
        }
    }
    struct tls_domain *v = realloc(d->v, (d->n + 1) * sizeof(*v));
    if (v == NULL) {
        SSL_CTX_free(c);
        snprintf(err, errlen, "cannot add domain %s: out of memory", name);
        return -1;
    }
    d->v = v;
    memcpy(v[d->n].name, name, sizeof(name));
    v[d->n].ctx = c;
    d->n++;
    return 0;
}

static SSL *ssl_new(struct tls_ctx *t, SSL_CTX *from, bool direct_tls)
{
    const struct tls_domains *d = SSL_CTX_get_ex_data(t->ctx, idx_ctx);
    struct tls_state *st = calloc(1, sizeof(*st));
    SSL *s = st != NULL ? SSL_new(from) : NULL;

    if (s == NULL) {
        free(st);
        ERR_clear_error();
        return NULL;
    }
    st->direct_tls = direct_tls;
    st->alpn_required = d != NULL && d->alpn_required;
    st->first_error = X509_V_OK;
    SSL_CTX_up_ref(t->ctx);
    st->home = t->ctx;
    if (SSL_set_ex_data(s, idx_ssl, st) != 1) {
        free_state(NULL, st, NULL, 0, 0, NULL);
        SSL_free(s);
        return NULL;
    }
    return s;
}

struct ssl_st *tls_ssl_new_server(struct tls_ctx *t, bool direct_tls)
{
    if (t == NULL)
        return NULL;
    SSL *s = ssl_new(t, t->ctx, direct_tls);
    if (s != NULL)
        SSL_set_accept_state(s);
    return s;
}

struct ssl_st *tls_ssl_new_client(struct tls_ctx *t, const char *local_domain,
                                  const char *remote_domain, bool direct_tls)
{
    char remote[NAME_MAX_LEN + 1], local[NAME_MAX_LEN + 1];
    SSL_CTX *from;

    unsigned char ip[16];
    bool literal = remote_domain != NULL && (inet_pton(AF_INET, remote_domain, ip) == 1 ||
                                             inet_pton(AF_INET6, remote_domain, ip) == 1);
    if (t == NULL || (!literal && domain_alabel(remote_domain, remote, sizeof(remote)) != 0))
        return NULL;
    from = t->ctx;
    const struct tls_domains *d = SSL_CTX_get_ex_data(t->ctx, idx_ctx);
    if (local_domain != NULL && d != NULL && domain_alabel(local_domain, local, sizeof(local)) == 0)
        for (size_t i = 0; i < d->n; i++)
            if (strcmp(d->v[i].name, local) == 0)
                from = d->v[i].ctx;
    SSL *s = ssl_new(t, from, direct_tls);
    if (s == NULL)
        return NULL;
    /* XEP-0368 rule 6 (and good practice after STARTTLS too): SNI is the
     * target domain; never an address literal (RFC 6066 section 3). */
    if ((!literal && SSL_set_tlsext_host_name(s, remote) != 1) ||
        (direct_tls && SSL_set_alpn_protos(s, alpn_xmpp, ALPN_XMPP_LEN) != 0)) {
        ERR_clear_error();
        SSL_free(s);
        return NULL;
    }
    SSL_set_connect_state(s);
    return s;
}

static enum tls_verify map_error(int e)
{
    switch (e) {
    case X509_V_OK:
        return TLS_VERIFY_OK;
    case X509_V_ERR_CERT_HAS_EXPIRED:
    case X509_V_ERR_CRL_HAS_EXPIRED:
        return TLS_VERIFY_EXPIRED;
    case X509_V_ERR_CERT_NOT_YET_VALID:
    case X509_V_ERR_CRL_NOT_YET_VALID:
        return TLS_VERIFY_NOT_YET_VALID;
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_CERT_UNTRUSTED:
    case X509_V_ERR_CERT_REJECTED:
    case X509_V_ERR_CERT_CHAIN_TOO_LONG:
        return TLS_VERIFY_UNTRUSTED;
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
    case X509_V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE:
    case X509_V_ERR_UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY:
    case X509_V_ERR_EE_KEY_TOO_SMALL:
    case X509_V_ERR_CA_KEY_TOO_SMALL:
    case X509_V_ERR_CA_MD_TOO_WEAK:
        return TLS_VERIFY_BAD_SIGNATURE;
    case X509_V_ERR_INVALID_PURPOSE:
    case X509_V_ERR_KEYUSAGE_NO_CERTSIGN:
        return TLS_VERIFY_BAD_PURPOSE;
    default:
        break;
    }
    return TLS_VERIFY_INVALID;
}

enum tls_verify tls_peer_verify(const struct ssl_st *s)
{
    if (s == NULL || !SSL_is_init_finished(s))
        return TLS_VERIFY_NOT_DONE;
    if (SSL_get0_peer_certificate(s) == NULL)
        return TLS_VERIFY_NO_CERT;
    const struct tls_state *st = state_of(s);
    if (st != NULL && st->first_error != X509_V_OK)
        return map_error(st->first_error);
    if (st == NULL)
        return map_error((int)SSL_get_verify_result(s));
    /* verify_cb excused a serverAuth-only leaf; anything else it saw is in
     * first_error, so the chain verified. */
    return TLS_VERIFY_OK;
}

struct x509_st *tls_peer_cert(const struct ssl_st *s)
{
    return s != NULL && SSL_is_init_finished(s) ? SSL_get0_peer_certificate(s) : NULL;
}

int tls_peer_cert_digest(const struct ssl_st *s, unsigned char out[TLS_CERT_DIGEST_LEN])
{
    const X509 *cert = tls_peer_cert(s);
    unsigned int len = 0;
    if (cert == NULL || X509_digest(cert, EVP_sha256(), out, &len) != 1 ||
        len != TLS_CERT_DIGEST_LEN)
        return -1;
    return 0;
}

/* Empties a chain in place: the SSL keeps an empty stack, which it frees. */
static int drop_chain(STACK_OF(X509) * sk)
{
    int n = 0;
    X509 *x;

    while (sk != NULL && (x = sk_X509_pop(sk)) != NULL) {
        X509_free(x);
        n++;
    }
    return n;
}

int tls_release_peer_chain(struct ssl_st *s)
{
    if (s == NULL || !SSL_is_init_finished(s))
        return 0;
    /* Both getters hand out the SSL's own stacks (not copies); every
     * element holds its own reference, and the leaf has one more in the
     * session (SSL_get0_peer_certificate()). */
    return drop_chain(SSL_get_peer_cert_chain(s)) + drop_chain(SSL_get0_verified_chain(s));
}

const char *tls_version(const struct ssl_st *s)
{
    return s != NULL && SSL_is_init_finished(s) ? SSL_get_version(s) : "none";
}

const char *tls_cipher(const struct ssl_st *s)
{
    const SSL_CIPHER *c = s != NULL && SSL_is_init_finished(s) ? SSL_get_current_cipher(s) : NULL;
    return c != NULL ? SSL_CIPHER_get_name(c) : "none";
}

const char *tls_sni(const struct ssl_st *s)
{
    return s != NULL ? SSL_get_servername(s, TLSEXT_NAMETYPE_host_name) : NULL;
}

bool tls_alpn_selected(const struct ssl_st *s)
{
    const unsigned char *p = NULL;
    unsigned int len = 0;

    if (s == NULL)
        return false;
    SSL_get0_alpn_selected(s, &p, &len);
    return p != NULL && len == ALPN_XMPP_LEN - 1 && memcmp(p, alpn_xmpp + 1, len) == 0;
}

const char *tls_verify_name(enum tls_verify v)
{
    switch (v) {
    case TLS_VERIFY_OK:
        return "ok";
    case TLS_VERIFY_NO_CERT:
        return "no-cert";
    case TLS_VERIFY_UNTRUSTED:
        return "untrusted";
    case TLS_VERIFY_EXPIRED:
        return "expired";
    case TLS_VERIFY_NOT_YET_VALID:
        return "not-yet-valid";
    case TLS_VERIFY_BAD_SIGNATURE:
        return "bad-signature";
    case TLS_VERIFY_BAD_PURPOSE:
        return "bad-purpose";
    case TLS_VERIFY_INVALID:
        return "invalid";
    case TLS_VERIFY_NOT_DONE:
        break;
    }
    return "not-done";
}

/* ---- certificate identity (RFC 6125 section 6) --------------------------
 *
 * Every presented identifier is peer input: its length comes from the ASN.1
 * string, never from strlen(), and a string whose length disagrees with
 * strlen() (an embedded NUL, the old "paypal.com\0.evil.com" trick) never
 * matches. */

/* Copies len octets of printable ASCII into out, dropping one trailing dot.
 * Returns 0, or -1 when they hold a NUL, a control or non-ASCII byte, or do
 * not fit. */
static int name_copy(const unsigned char *d, int len, char *out, size_t outlen)
{
    if (d == NULL || len <= 0 || (size_t)len >= outlen || len > NAME_MAX_LEN + 1)
        return -1;
    for (int i = 0; i < len; i++)
        if (d[i] <= 0x20 || d[i] >= 0x7f)
            return -1;
    memcpy(out, d, (size_t)len);
    out[len] = '\0';
    if (out[len - 1] == '.')
        out[--len] = '\0';
    return len > 0 && len <= NAME_MAX_LEN ? 0 : -1;
}

int tls_ia5_copy(const struct asn1_string_st *s, char *out, size_t outlen)
{
    if (s == NULL)
        return -1;
    return name_copy(ASN1_STRING_get0_data(s), ASN1_STRING_length(s), out, outlen);
}

bool tls_labels_ok(const char *s)
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
static enum tls_dns_match dns_id_match(const char *presented, const char *ref)
{
    if (!tls_labels_ok(presented))
        return TLS_DNS_NONE;
    const char *star = strchr(presented, '*');
    if (star == NULL)
        return strcasecmp(presented, ref) == 0 ? TLS_DNS_EXACT : TLS_DNS_NONE;
    if (star != presented || presented[1] != '.' || strchr(presented + 1, '*') != NULL)
        return TLS_DNS_NONE;
    const char *parent = presented + 2;
    if (strchr(parent, '.') == NULL)
        return TLS_DNS_NONE;
    const char *rdot = strchr(ref, '.');
    if (rdot == NULL || rdot == ref)
        return TLS_DNS_NONE;
    return strcasecmp(rdot + 1, parent) == 0 ? TLS_DNS_WILDCARD : TLS_DNS_NONE;
}

enum tls_dns_match tls_dns_id_match(const struct asn1_string_st *presented, const char *ref)
{
    char buf[NAME_MAX_LEN + 2];

    if (tls_ia5_copy(presented, buf, sizeof(buf)) != 0)
        return TLS_DNS_NONE;
    return dns_id_match(buf, ref);
}

/* Well-formed UTF-8 of len octets without NUL, overlong forms or
 * surrogates. */
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

int tls_text_to_alabel(const unsigned char *d, size_t len, char *out, size_t outlen)
{
    char buf[4 * NAME_MAX_LEN + 2];

    if (d == NULL || len == 0 || len >= sizeof(buf) || !utf8_ok(d, len))
        return -1;
    memcpy(buf, d, len);
    buf[len] = '\0';
    return domain_alabel(buf, out, outlen);
}

enum tls_dns_match tls_cn_id_match(const struct x509_st *cert, const char *ref)
{
    const X509_NAME *subj = X509_get_subject_name(cert);
    int idx = -1, last = -1;
    char a[NAME_MAX_LEN + 1];

    if (subj == NULL)
        return TLS_DNS_NONE;
    while ((idx = X509_NAME_get_index_by_NID(subj, NID_commonName, idx)) >= 0)
        last = idx;
    if (last < 0)
        return TLS_DNS_NONE;
    const X509_NAME_ENTRY *e = X509_NAME_get_entry(subj, last);
    const ASN1_STRING *s = X509_NAME_ENTRY_get_data(e);
    unsigned char *utf8 = NULL;
    int len = ASN1_STRING_to_UTF8(&utf8, s);
    if (len <= 0) {
        OPENSSL_free(utf8);
        return TLS_DNS_NONE;
    }
    enum tls_dns_match r = TLS_DNS_NONE;
    bool ascii = true;
    for (int i = 0; i < len; i++)
        if (utf8[i] >= 0x80)
            ascii = false;
    if (ascii) {
        char buf[NAME_MAX_LEN + 2];
        if (name_copy(utf8, len, buf, sizeof(buf)) == 0)
            r = dns_id_match(buf, ref);
    } else if (memchr(utf8, '*', (size_t)len) == NULL &&
               tls_text_to_alabel(utf8, (size_t)len, a, sizeof(a)) == 0 && strcmp(a, ref) == 0) {
        r = TLS_DNS_EXACT;
    }
    OPENSSL_free(utf8);
    return r;
}

/* RFC 5922 section 7.1: a URI-ID "sip:<domain>" without user part, port or
 * parameters names the SIP domain; the scheme and host compare
 * case-insensitively, no wildcard. */
static bool sip_uri_id_match(const ASN1_STRING *s, const char *ref)
{
    char buf[NAME_MAX_LEN + 6];
    const unsigned char *d = ASN1_STRING_get0_data(s);
    int len = ASN1_STRING_length(s);

    if (d == NULL || len <= 4 || strncasecmp((const char *)d, "sip:", 4) != 0 ||
        name_copy(d + 4, len - 4, buf, sizeof(buf)) != 0)
        return false;
    if (strpbrk(buf, "@:;?*") != NULL || !tls_labels_ok(buf))
        return false;
    return strcasecmp(buf, ref) == 0;
}

enum tls_host_match tls_cert_match_sip_host(const struct x509_st *cert, const char *host)
{
    char ref[NAME_MAX_LEN + 1];
    unsigned char ip[16];
    int crit = -1;

    if (cert == NULL || host == NULL || host[0] == '\0')
        return TLS_HOST_NO_MATCH;
    /* An address literal (the next hop configured by address): only an
     * iPAddress subjectAltName of the same address names it (RFC 5280
     * section 4.2.1.6), never a DNS-ID or the CN. */
    int iplen = inet_pton(AF_INET, host, ip) == 1 ? 4 : inet_pton(AF_INET6, host, ip) == 1 ? 16 : 0;
    if (iplen == 0 && domain_alabel(host, ref, sizeof(ref)) != 0)
        return TLS_HOST_NO_MATCH;

    GENERAL_NAMES *gens = X509_get_ext_d2i(cert, NID_subject_alt_name, &crit, NULL);
    if (gens == NULL) {
        /* RFC 5922 section 7.1: the CN only when there is no
         * subjectAltName at all (-1); a duplicate or undecodable extension
         * is refused. No wildcard (section 7.2). */
        if (crit == -1 && iplen == 0 && tls_cn_id_match(cert, ref) == TLS_DNS_EXACT)
            return TLS_HOST_CN;
        return TLS_HOST_NO_MATCH;
    }
    bool uri = false, dns = false, addr = false;
    for (int i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
        if (iplen != 0) {
            if (g->type == GEN_IPADD && ASN1_STRING_length(g->d.iPAddress) == iplen &&
                memcmp(ASN1_STRING_get0_data(g->d.iPAddress), ip, (size_t)iplen) == 0)
                addr = true;
        } else if (g->type == GEN_URI && sip_uri_id_match(g->d.uniformResourceIdentifier, ref))
            uri = true;
        /* RFC 5922 section 7.2: wildcards never match a SIP domain. */
        else if (g->type == GEN_DNS && tls_dns_id_match(g->d.dNSName, ref) == TLS_DNS_EXACT)
            dns = true;
    }
    GENERAL_NAMES_free(gens);
    return addr  ? TLS_HOST_IP_ADDR
           : uri ? TLS_HOST_URI_ID
           : dns ? TLS_HOST_DNS_ID
                 : TLS_HOST_NO_MATCH;
}

const char *tls_host_match_name(enum tls_host_match m)
{
    switch (m) {
    case TLS_HOST_URI_ID:
        return "uri-id";
    case TLS_HOST_DNS_ID:
        return "dns-id";
    case TLS_HOST_IP_ADDR:
        return "ip-addr";
    case TLS_HOST_CN:
        return "cn";
    case TLS_HOST_NO_MATCH:
        break;
    }
    return "none";
}
