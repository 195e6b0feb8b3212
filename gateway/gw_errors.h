/*
 * gw_errors.h - the two error tables of RFC 7247 section 7 as data, with
 * the stanza error types of RFC 6120 section 8.3.3.
 *
 * SIP -> XMPP (Table 3 of INTERWORKING.md, RFC 7247 section 7.2): every
 * listed SIP response code has a row; unlisted codes fall back by class
 * (3xx redirect, 4xx bad-request, 5xx internal-server-error, 6xx
 * recipient-unavailable). 1xx and 2xx have no mapping.
 *
 * XMPP -> SIP (Table 2, RFC 7247 section 7.1): every defined stanza error
 * condition has a row with the code for an error about a full JID and about
 * a bare JID (they differ for feature-not-implemented 405/501, forbidden
 * 403/603, item-not-found 404/604, not-acceptable 406/606,
 * recipient-unavailable 480/600). Choices where the RFC leaves one:
 *   gone                     301 when it carries a new address, else 410 (MUST)
 *   remote-server-not-found  404 (server does not exist) or 408 (cannot be
 *                            resolved), chosen by the caller's context
 *   service-unavailable      403, never 503 (NOT RECOMMENDED, note 5)
 *   unexpected-request       400 (491 is about pending INVITE transactions)
 *   an unknown condition     400, as undefined-condition (RFC 6120 8.3.2)
 * Pure data and lookups: nothing here allocates, blocks or logs.
 */
#ifndef XFED_GW_ERRORS_H
#define XFED_GW_ERRORS_H

#include <stdbool.h>
#include <stddef.h>

/* One row of the SIP -> XMPP table. */
struct gw_err_sip_row {
    int code;
    const char *condition;  /* RFC 6120 section 8.3.3 element name */
    const char *type;       /* "auth", "cancel", "modify", "wait" */
    bool gone_with_address; /* 301: the <gone/> MUST carry the Contact's address */
};

/* One row of the XMPP -> SIP table. */
struct gw_err_xmpp_row {
    const char *condition;
    int code_full;    /* the error concerns a full JID */
    int code_bare;    /* the error concerns a bare JID */
    const char *type; /* default error type for this condition */
};

/* The tables themselves, for iteration (tests, docs). *n receives the
 * number of rows. Static storage. */
const struct gw_err_sip_row *gw_err_sip_table(size_t *n);
const struct gw_err_xmpp_row *gw_err_xmpp_table(size_t *n);

/*
 * SIP final response code -> XMPP error. Returns true and fills *out (a
 * table row or the class fallback; out->code is the code asked for) for
 * 300..699; false for any other code (no XMPP equivalent).
 */
bool gw_err_sip_to_xmpp(int code, struct gw_err_sip_row *out);

/* What the XMPP -> SIP choice depends on. */
struct gw_err_ctx {
    bool full_jid;         /* the erroring address is a full JID */
    bool gone_has_address; /* <gone/> carries a new address */
    bool unresolvable;     /* remote-server-not-found: DNS failed (408) rather
                              than the server not existing (404) */
};

/* XMPP stanza error condition -> SIP response code (ctx NULL: a bare JID,
 * no address, not unresolvable). Never returns 503. */
int gw_err_xmpp_to_sip(const char *condition, const struct gw_err_ctx *ctx);

/* The default RFC 6120 section 8.3.3 type of a condition ("cancel" for an
 * unknown one). Static string. */
const char *gw_err_xmpp_type(const char *condition);

/* True if condition is one of RFC 6120 section 8.3.3's names. */
bool gw_err_condition_known(const char *condition);

/* A standard reason phrase for a SIP code (RFC 3261 section 21 and the
 * RFCs of Table 3), "Unknown" for others. Static string. */
const char *gw_err_sip_reason(int code);

#endif
