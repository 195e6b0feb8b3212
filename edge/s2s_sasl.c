/*
 * s2s_sasl.c - the Cyrus SASL glue (EXTERNAL only, both roles).
 */
#include "s2s_sasl.h"

#include <sasl/sasl.h>
#include <sasl/saslutil.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define XFED_SASL_SERVICE "xmpp"

/* Only EXTERNAL, and no auxiliary property lookup: the identity is the
 * certificate's, so there is nothing to look up (and a lookup could block
 * on a database file). */
static int getopt_cb(void *context, const char *plugin_name, const char *option,
                     const char **result, unsigned *len)
{
    (void)context;
    (void)plugin_name;
    if (strcmp(option, "mech_list") == 0) {
        *result = "EXTERNAL";
    } else if (strcmp(option, "auxprop_plugin") == 0) {
        *result = "xfed-none";
    } else if (strcmp(option, "log_level") == 0) {
        *result = "0";
    } else {
        return SASL_FAIL;
    }
    if (len)
        *len = (unsigned)strlen(*result);
    return SASL_OK;
}

/* XEP-0178 section 3: the authorization identity, when present, must be
 * the domain the certificate was verified for. */
static int authorize_cb(sasl_conn_t *conn, void *context, const char *requested_user, unsigned rlen,
                        const char *auth_identity, unsigned alen, const char *def_realm,
                        unsigned urlen, struct propctx *propctx)
{
    (void)conn;
    (void)context;
    (void)def_realm;
    (void)urlen;
    (void)propctx;
    if (rlen == alen && strncasecmp(requested_user, auth_identity, rlen) == 0)
        return SASL_OK;
    return SASL_NOAUTHZ;
}

/* An empty authorization identity on the initiating side. */
static int user_cb(void *context, int id, const char **result, unsigned *len)
{
    (void)context;
    if (id != SASL_CB_USER && id != SASL_CB_AUTHNAME)
        return SASL_FAIL;
    *result = "";
    if (len)
        *len = 0;
    return SASL_OK;
}

typedef int (*sasl_cb_fn)(void);

static const sasl_callback_t server_cbs[] = {
    {SASL_CB_GETOPT, (sasl_cb_fn)(void *)getopt_cb, NULL},
    {SASL_CB_PROXY_POLICY, (sasl_cb_fn)(void *)authorize_cb, NULL},
    {SASL_CB_LIST_END, NULL, NULL},
};

static const sasl_callback_t client_cbs[] = {
    {SASL_CB_GETOPT, (sasl_cb_fn)(void *)getopt_cb, NULL},
    {SASL_CB_USER, (sasl_cb_fn)(void *)user_cb, NULL},
    {SASL_CB_AUTHNAME, (sasl_cb_fn)(void *)user_cb, NULL},
    {SASL_CB_LIST_END, NULL, NULL},
};

static int initialised;
static char client_response[64]; /* base64 initial response of EXTERNAL */

/* Runs the initiating side of EXTERNAL once (start-up only). */
static int client_prepare(char *err, size_t errlen)
{
    sasl_conn_t *conn = NULL;
    const char *resp = NULL, *mech = NULL;
    unsigned rlen = 0, elen = 0;
    sasl_interact_t *interact = NULL;

    int rc = sasl_client_new(XFED_SASL_SERVICE, "localhost", NULL, NULL, NULL, 0, &conn);
    if (rc == SASL_OK)
        rc = sasl_setprop(conn, SASL_AUTH_EXTERNAL, "localhost");
    if (rc == SASL_OK)
        rc = sasl_client_start(conn, "EXTERNAL", &interact, &resp, &rlen, &mech);
    if (rc != SASL_OK && rc != SASL_CONTINUE) {
        snprintf(err, errlen, "SASL EXTERNAL client: %s", sasl_errstring(rc, NULL, NULL));
        sasl_dispose(&conn);
        return -1;
    }
    /* RFC 6120 section 6.4.2: an empty response is sent as "=". */
    if (resp == NULL || rlen == 0)
        strcpy(client_response, "=");
    else if (sasl_encode64(resp, rlen, client_response, sizeof(client_response), &elen) !=
             SASL_OK) {
        snprintf(err, errlen, "SASL EXTERNAL client: response too long");
        sasl_dispose(&conn);
        return -1;
    }
    sasl_dispose(&conn);
    return 0;
}

int s2s_sasl_init(char *err, size_t errlen)
{
    int rc = sasl_server_init(server_cbs, "xfed-edge");
    if (rc != SASL_OK) {
        snprintf(err, errlen, "sasl_server_init: %s", sasl_errstring(rc, NULL, NULL));
        return -1;
    }
    rc = sasl_client_init(client_cbs);
    if (rc != SASL_OK) {
        snprintf(err, errlen, "sasl_client_init: %s", sasl_errstring(rc, NULL, NULL));
        sasl_server_done();
        return -1;
    }
    if (client_prepare(err, errlen) != 0) {
        sasl_client_done();
        sasl_server_done();
        return -1;
    }
    initialised = 1;
    return 0;
}

void s2s_sasl_done(void)
{
    if (!initialised)
        return;
    sasl_client_done();
    sasl_server_done();
    initialised = 0;
}

int s2s_sasl_server_external(const char *local_domain, const char *peer_domain, const char *b64,
                             size_t len, const char **condition)
{
    char authzid[1024];
    unsigned alen = 0;
    sasl_conn_t *conn = NULL;
    const char *out = NULL;
    unsigned outlen = 0;

    *condition = "not-authorized";
    /* Trim XML whitespace around the base64 text. */
    while (len > 0 && (*b64 == ' ' || *b64 == '\t' || *b64 == '\r' || *b64 == '\n')) {
        b64++;
        len--;
    }
    while (len > 0 && (b64[len - 1] == ' ' || b64[len - 1] == '\t' || b64[len - 1] == '\r' ||
                       b64[len - 1] == '\n'))
        len--;
    /* RFC 6120 section 6.4.2: "=" is an empty response. */
    if (!(len == 0 || (len == 1 && b64[0] == '='))) {
        if (len > 1300 ||
            sasl_decode64(b64, (unsigned)len, authzid, sizeof(authzid) - 1, &alen) != SASL_OK) {
            *condition = "incorrect-encoding";
            return -1;
        }
        if (memchr(authzid, '\0', alen)) {
            *condition = "invalid-authzid";
            return -1;
        }
    }
    authzid[alen] = '\0';
    if (alen > 0) {
        /* XEP-0178 section 3: an authorization identity must be the domain
         * the certificate was verified for; being equal to the
         * authentication identity, it then adds nothing, and Cyrus gets
         * the empty one (no authorization lookup, which could block). */
        if (strcasecmp(authzid, peer_domain) != 0) {
            *condition = "invalid-authzid";
            return -1;
        }
        alen = 0;
        authzid[0] = '\0';
    }
    /* An explicit server name: with NULL, Cyrus looks up the host's FQDN,
     * a blocking resolver call. */
    if (sasl_server_new(XFED_SASL_SERVICE, local_domain, NULL, NULL, NULL, NULL, 0, &conn) !=
        SASL_OK)
        return -1;
    int rc = sasl_setprop(conn, SASL_AUTH_EXTERNAL, peer_domain);
    if (rc == SASL_OK)
        rc = sasl_server_start(conn, "EXTERNAL", authzid, alen, &out, &outlen);
    if (rc == SASL_OK) {
        const void *user = NULL;
        /* The authenticated identity must be the certificate's domain. */
        if (sasl_getprop(conn, SASL_USERNAME, &user) != SASL_OK || user == NULL ||
            strcasecmp(user, peer_domain) != 0) {
            rc = SASL_NOAUTHZ;
        }
    }
    sasl_dispose(&conn);
    if (rc == SASL_NOAUTHZ)
        *condition = "invalid-authzid";
    return rc == SASL_OK ? 0 : -1;
}

int s2s_sasl_client_external(const char *local_domain, const char *remote_domain, char *out,
                             size_t outlen)
{
    (void)local_domain;
    (void)remote_domain;
    /* The response carries only the (empty) authorization identity, the
     * same for every stream: computed once by Cyrus at start-up, because
     * sasl_client_new() looks up this host's FQDN, a blocking call. */
    if (!initialised || strlen(client_response) + 1 > outlen)
        return -1;
    memcpy(out, client_response, strlen(client_response) + 1);
    return 0;
}
