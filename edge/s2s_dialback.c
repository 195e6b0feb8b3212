/*
 * s2s_dialback.c - Server Dialback, XEP-0220, all three roles.
 */
#include "s2s_dialback.h"

#include <stdlib.h>
#include <string.h>

#include "edge_conf.h"
#include "jid.h"
#include "log.h"
#include "s2s_stream_int.h"
#include "stanza.h"

#define DIALBACK_KEY_MAX 1024 /* bytes of a presented key we look at */

static int norm(const char *in, char *out, size_t outlen)
{
    if (in == NULL || *in == '\0')
        return -1;
    return jid_domain_normalize(in, strlen(in), out, outlen, NULL);
}

/* Builds <db:NAME from to [id] type>[<error type=cancel><cond/></error>]. */
static void send_db(struct s2s_stream *s, const char *name, const char *from, const char *to,
                    const char *id, const char *type, const char *condition, const char *text)
{
    struct stanza *el = stanza_new(STANZA_NS_DIALBACK, name);
    if (el == NULL)
        return;
    int rc = stanza_set_attr(el, "from", from) | stanza_set_attr(el, "to", to);
    if (id)
        rc |= stanza_set_attr(el, "id", id);
    if (type)
        rc |= stanza_set_attr(el, "type", type);
    if (type && !strcmp(type, "error")) {
        /* XEP-0220 section 2.5: a stanza error condition inside <error/>
         * qualified by jabber:server. */
        struct stanza *er = stanza_add_child(el, STANZA_NS_SERVER, "error");
        if (er == NULL || stanza_set_attr(er, "type", "cancel") != 0 ||
            stanza_add_child(er, STANZA_NS_STANZA_ERRORS,
                             condition ? condition : "undefined-condition") == NULL)
            rc = -1;
    }
    if (text)
        rc |= stanza_add_text(el, text, strlen(text));
    if (rc == 0)
        s2s_stream_send(s, el);
    stanza_free(el);
}

void s2s_dialback_send_result(struct s2s_stream *in, const char *local, const char *remote,
                              const char *type, const char *condition)
{
    send_db(in, "result", local, remote, NULL, type, condition, NULL);
}

/* Copies the key without surrounding XML whitespace; NULL when empty or
 * too long. */
static char *key_copy(struct stanza *el)
{
    const char *t = stanza_text(el);
    if (t == NULL)
        return NULL;
    while (*t == ' ' || *t == '\t' || *t == '\r' || *t == '\n')
        t++;
    size_t n = strlen(t);
    while (n > 0 && (t[n - 1] == ' ' || t[n - 1] == '\t' || t[n - 1] == '\r' || t[n - 1] == '\n'))
        n--;
    if (n == 0 || n > DIALBACK_KEY_MAX)
        return NULL;
    char *k = malloc(n + 1);
    if (k) {
        memcpy(k, t, n);
        k[n] = '\0';
    }
    return k;
}

static void forget_pair(struct s2s_stream *s, const char *local, const char *remote)
{
    struct s2s_pair *p = s2s_pair_find(s, local, remote);
    if (p == NULL)
        return;
    size_t i = (size_t)(p - s->pairs);
    free(p->local);
    free(p->remote);
    memmove(&s->pairs[i], &s->pairs[i + 1], (s->n_pairs - i - 1) * sizeof(*p));
    s->n_pairs--;
}

/* ---- receiving role (inbound <db:result/>) ---------------------------- */

int s2s_dialback_in_result(struct s2s_stream *s, struct stanza *el)
{
    struct edge *e = s->edge;
    char to[JID_PART_MAX + 1], from[JID_PART_MAX + 1];

    if (stanza_attr(el, "type")) {
        /* XEP-0220 section 2.2 and 3.1: no answer is expected on an inbound
         * stream; it matches no request of ours. */
        s2s_stream_close(s, S2S_ERR_NOT_AUTHORIZED, "dialback answer matches no request");
        return -1;
    }
    if (norm(stanza_attr(el, "to"), to, sizeof(to)) != 0 ||
        norm(stanza_attr(el, "from"), from, sizeof(from)) != 0) {
        s2s_stream_close(s, S2S_ERR_IMPROPER_ADDRESSING, "db:result without valid to and from");
        return -1;
    }
    if (!edge_conf_hosted(e->ec, to)) {
        /* XEP-0220 section 2.2.1: a dialback error, not a stream error. */
        send_db(s, "result", to, from, NULL, "error", "item-not-found", NULL);
        return 0;
    }
    const struct conf_partner *p = edge_conf_partner(e->ec, from);
    if (p == NULL) {
        s2s_stream_close(s, S2S_ERR_POLICY_VIOLATION, "dialback sender is not a partner domain");
        return -1;
    }
    struct s2s_policy pol = s2s_policy_of(p);
    const char *why = "";
    enum s2s_stream_error err = s2s_policy_in_accept_dialback(&pol, s->tls, &why);
    if (err != S2S_ERR_NONE) {
        s2s_log(s, "auth", "method=dialback outcome=refused pair=%s:%s reason=\"%s\"", to, from,
                why);
        s2s_stream_close(s, err, why);
        return -1;
    }
    struct s2s_pair *pair = s2s_pair_find(s, to, from);
    if (pair && pair->state == S2S_PAIR_VALID) {
        send_db(s, "result", to, from, NULL, "valid", NULL, NULL);
        return 0;
    }
    if (pair)
        return 0; /* already being verified */
    if (s->n_pairs >= e->ec->local.max_dialback_pairs) {
        send_db(s, "result", to, from, NULL, "error", "resource-constraint", NULL);
        return 0;
    }
    char *key = key_copy(el);
    if (key == NULL) {
        send_db(s, "result", to, from, NULL, "invalid", NULL, NULL);
        if (!s->authenticated) {
            s2s_stream_close(s, S2S_ERR_NOT_AUTHORIZED, "empty or oversized dialback key");
            return -1;
        }
        return 0;
    }
    if (s2s_pair_add(s, to, from) == NULL) {
        free(key);
        send_db(s, "result", to, from, NULL, "error", "resource-constraint", NULL);
        return 0;
    }
    if (s2s_policy_dialback_trusted_cert(&pol, s->tls, s2s_stream_cert_ok(s, from))) {
        /* XEP-0344 section 2.4, dialback without dialback: the certificate,
         * checked now (section 3.3), authenticates the sender as SASL
         * EXTERNAL would (section 3.1); no verify connection. */
        free(key);
        s2s_log(s, "dialback", "role=receiving pair=%s:%s action=trusted-cert", to, from);
        s2s_in_dialback_answer(e, s->serial, to, from, "valid", NULL);
        return 0;
    }
    s2s_log(s, "dialback", "role=receiving pair=%s:%s action=verify", to, from);
    /* XEP-0220 section 2.1.2: ask the authoritative server; XEP-0344
     * section 2.6: unless it shows the certificate the sender showed here. */
    unsigned char cert[TLS_CERT_DIGEST_LEN];
    bool has_cert = s->tls && tls_peer_cert_digest(s->ssl, cert) == 0;
    if (s2s_out_verify(e, s->serial, to, from, s->id, key, has_cert ? cert : NULL) != 0) {
        forget_pair(s, to, from);
        send_db(s, "result", to, from, NULL, "error", "remote-connection-failed", NULL);
    }
    free(key);
    return 0;
}

/* ---- authoritative role (inbound <db:verify/>) ------------------------ */

int s2s_dialback_in_verify(struct s2s_stream *s, struct stanza *el)
{
    struct edge *e = s->edge;
    char to[JID_PART_MAX + 1], from[JID_PART_MAX + 1];
    const char *id = stanza_attr(el, "id");

    if (stanza_attr(el, "type")) {
        s2s_stream_close(s, S2S_ERR_NOT_AUTHORIZED, "dialback answer matches no request");
        return -1;
    }
    if (norm(stanza_attr(el, "to"), to, sizeof(to)) != 0 ||
        norm(stanza_attr(el, "from"), from, sizeof(from)) != 0 || id == NULL || *id == '\0' ||
        strlen(id) > 256) {
        s2s_stream_close(s, S2S_ERR_IMPROPER_ADDRESSING, "db:verify without valid to, from, id");
        return -1;
    }
    if (!edge_conf_hosted(e->ec, to)) {
        send_db(s, "verify", to, from, id, "error", "item-not-found", NULL);
        return 0;
    }
    const struct conf_partner *p = edge_conf_partner(e->ec, from);
    if (p == NULL) {
        send_db(s, "verify", to, from, id, "error", "not-authorized", NULL);
        return 0;
    }
    struct s2s_policy pol = s2s_policy_of(p);
    if (!pol.dialback || pol.sasl == NEG_REQUIRED) {
        /* We never send dialback keys to this partner. */
        send_db(s, "verify", to, from, id, "error", "policy-violation", NULL);
        return 0;
    }
    const char *secret = e->ec->conf->settings.dialback_secret;
    const char *t = stanza_text(el);
    if (secret == NULL || *secret == '\0' || t == NULL) {
        send_db(s, "verify", to, from, id, "error", "internal-server-error", NULL);
        return 0;
    }
    size_t tl = strlen(t);
    /* XEP-0185 section 2: receiving = from, originating = to. */
    bool ok = tl <= DIALBACK_KEY_MAX && s2s_dialback_key_verify(secret, from, to, id, t, tl);
    send_db(s, "verify", to, from, id, ok ? "valid" : "invalid", NULL, NULL);
    s2s_log(s, "dialback", "role=authoritative pair=%s:%s outcome=%s", to, from,
            ok ? "valid" : "invalid");
    return 0;
}

/* ---- originating role (outbound) -------------------------------------- */

int s2s_dialback_out_start(struct s2s_stream *s)
{
    struct edge *e = s->edge;
    const char *secret = e->ec->conf->settings.dialback_secret;
    char key[S2S_DIALBACK_KEY_LEN + 1];

    if (secret == NULL || *secret == '\0') {
        s2s_stream_hs_reason(s, "dialback");
        s2s_out_fail(s, "remote-server-not-found", "no dialback secret configured");
        return -1;
    }
    if (s->id[0] == '\0' || strpbrk(s->id, " ") ||
        s2s_dialback_key(secret, s->remote, s->local, s->id, key) != 0) {
        s2s_stream_hs_reason(s, "dialback");
        s2s_out_fail(s, "remote-server-not-found", "peer sent no usable stream id");
        return -1;
    }
    struct s2s_pair *p = s2s_pair_add(s, s->local, s->remote);
    if (p == NULL) {
        s2s_out_fail(s, "resource-constraint", "out of memory");
        return -1;
    }
    p->auth = S2S_AUTH_DIALBACK;
    send_db(s, "result", s->local, s->remote, NULL, NULL, NULL, key);
    memset(key, 0, sizeof(key));
    s2s_log(s, "dialback", "role=originating action=key-sent");
    s2s_stream_set_state(s, S2S_ST_DIALBACK);
    s2s_dialback_out_send_verifies(s);
    return 0;
}

int s2s_dialback_out_result(struct s2s_stream *s, struct stanza *el)
{
    char to[JID_PART_MAX + 1], from[JID_PART_MAX + 1];
    const char *type = stanza_attr(el, "type");
    if (type == NULL || norm(stanza_attr(el, "to"), to, sizeof(to)) != 0 ||
        norm(stanza_attr(el, "from"), from, sizeof(from)) != 0) {
        s2s_stream_close(s, S2S_ERR_NOT_AUTHORIZED, "dialback element matches no request");
        return -1;
    }
    struct s2s_pair *p = s2s_pair_find(s, to, from);
    if (p == NULL || p->state != S2S_PAIR_PENDING) {
        /* XEP-0220 section 2.1.1: must correlate to a request sent over this
         * stream; section 3.1. */
        s2s_log(s, "dialback", "role=originating outcome=refused reason=\"unsolicited result\"");
        s2s_stream_close(s, S2S_ERR_NOT_AUTHORIZED, "dialback result matches no request");
        return -1;
    }
    if (!strcmp(type, "valid")) {
        p->state = S2S_PAIR_VALID;
        s2s_log(s, "auth", "method=dialback outcome=valid tls=%s cipher=%s",
                s->tls ? tls_version(s->ssl) : "none", s->tls ? tls_cipher(s->ssl) : "none");
        s2s_stream_established(s);
        s2s_dialback_out_send_verifies(s);
        s2s_out_flush(s);
        return 0;
    }
    s2s_stream_hs_reason(s, "dialback");
    if (!strcmp(type, "invalid")) {
        /* XEP-0220 section 2.1.1: queued stanzas get internal-server-error. */
        s2s_out_fail(s, "internal-server-error", "dialback key refused");
        return -1;
    }
    /* type='error': non-fatal for the stream, but our queue times out. */
    s2s_out_fail(s, "remote-server-timeout", "dialback error");
    return -1;
}

int s2s_dialback_out_verify(struct s2s_stream *s, struct stanza *el)
{
    char to[JID_PART_MAX + 1], from[JID_PART_MAX + 1];
    const char *type = stanza_attr(el, "type"), *id = stanza_attr(el, "id");
    struct s2s_verify_req *r = NULL;

    if (type && id && norm(stanza_attr(el, "to"), to, sizeof(to)) == 0 &&
        norm(stanza_attr(el, "from"), from, sizeof(from)) == 0) {
        TAILQ_FOREACH(r, &s->verifies, link)
        if (r->sent && !strcmp(r->local, to) && !strcmp(r->remote, from) && !strcmp(r->id, id))
            break;
    }
    if (r == NULL) {
        /* XEP-0220 section 2.1.2: must correlate to a request we sent. */
        s2s_log(s, "dialback", "role=receiving outcome=refused reason=\"unsolicited verify\"");
        s2s_stream_close(s, S2S_ERR_NOT_AUTHORIZED, "dialback verify matches no request");
        return -1;
    }
    TAILQ_REMOVE(&s->verifies, r, link);
    const char *answer = !strcmp(type, "valid")     ? "valid"
                         : !strcmp(type, "invalid") ? "invalid"
                                                    : "error";
    /* XEP-0220 section 2.5: an error in step 3 is reported as
     * remote-server-not-found; an invalid key is forwarded as invalid. */
    s2s_in_dialback_answer(s->edge, r->in_serial, r->local, r->remote, answer,
                           !strcmp(answer, "error") ? "remote-server-not-found" : NULL);
    free(r->local);
    free(r->remote);
    free(r->id);
    free(r->key);
    free(r);
    return 0;
}

void s2s_dialback_out_same_cert(struct s2s_stream *s)
{
    unsigned char cert[TLS_CERT_DIGEST_LEN];
    if (!s->tls || tls_peer_cert_digest(s->ssl, cert) != 0)
        return;
    struct s2s_verify_req *r, *next;
    for (r = TAILQ_FIRST(&s->verifies); r != NULL; r = next) {
        next = TAILQ_NEXT(r, link);
        /* Both TLS handshakes proved possession of the same certificate's
         * key: the sender is the server that DNS (or the partner's static
         * route) names as authoritative for its domain, which is what the
         * <db:verify/> round trip would establish (XEP-0344 sections 2.6
         * and 3.2). The shortcut adds no trust in the certificate. */
        if (r->sent || !r->has_cert || memcmp(r->cert, cert, sizeof(cert)) != 0 ||
            strcmp(r->remote, s->remote) != 0)
            continue;
        TAILQ_REMOVE(&s->verifies, r, link);
        s2s_log(s, "dialback", "role=receiving action=same-cert pair=%s:%s", r->local, r->remote);
        s2s_in_dialback_answer(s->edge, r->in_serial, r->local, r->remote, "valid", NULL);
        free(r->local);
        free(r->remote);
        free(r->id);
        free(r->key);
        free(r);
    }
}

void s2s_dialback_out_send_verifies(struct s2s_stream *s)
{
    struct s2s_verify_req *r;
    TAILQ_FOREACH(r, &s->verifies, link)
    {
        if (r->sent)
            continue;
        send_db(s, "verify", r->local, r->remote, r->id, NULL, NULL, r->key);
        r->sent = true;
        s2s_log(s, "dialback", "role=receiving action=verify-sent pair=%s:%s", r->local, r->remote);
    }
}
