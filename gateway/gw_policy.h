/*
 * gw_policy.h - partner types and the per-user XMPP access policy as pure
 * decisions (DESIGN.md section 2, issue 4 item 5).
 *
 * Inbound (a partner's XMPP user toward an internal SIP user):
 *   - the target domain must be one the gateway serves (a hosted domain),
 *     else item-not-found (INTERWORKING A17), and the sender's domain a
 *     partner, else service-unavailable (the edge already refuses
 *     non-partners; this is defence in depth);
 *   - an internal user without XMPP access: a message gets forbidden with a
 *     text saying so, a subscribe or probe gets unsubscribed, other
 *     presence is ignored;
 *   - Federated and PublicVerified partner users may message and subscribe
 *     without prior approval;
 *   - PublicUnverified partner users may message, subscribe or probe only
 *     after the internal user invited them (sent them a subscription or a
 *     message); until then a message gets forbidden, a subscribe or probe
 *     gets unsubscribed (RFC 6121 section 4.3.2), available presence is
 *     ignored -- never queued. Answers to our own requests (subscribed,
 *     unsubscribed, unsubscribe, unavailable) always pass.
 * Outbound (an internal SIP user toward a partner's XMPP user):
 *   - the From domain must be hosted (anti-spoofing, A18), else 403; the
 *     target domain a partner, else 404 (A17); the user needs XMPP access,
 *     else 403 with a reason phrase saying so;
 *   - a MESSAGE or SUBSCRIBE invites the partner user (to be stored).
 * Status notes (presence <status/>, PIDF <note/>) go to Federated partner
 * users only.
 * Nothing here blocks, logs or keeps state; the conf is only read.
 */
#ifndef XFED_GW_POLICY_H
#define XFED_GW_POLICY_H

#include <stdbool.h>

#include "conf_model.h"

enum gw_policy_op {
    GW_OP_MESSAGE = 0,
    GW_OP_SUBSCRIBE,
    GW_OP_PROBE,
    GW_OP_AVAILABLE, /* available presence */
    GW_OP_UNAVAILABLE,
    GW_OP_SUBSCRIBED,
    GW_OP_UNSUBSCRIBE,
    GW_OP_UNSUBSCRIBED,
};

enum gw_policy_action {
    GW_POLICY_ALLOW = 0,
    GW_POLICY_ERROR,        /* answer with the stanza error (or SIP code) given */
    GW_POLICY_UNSUBSCRIBED, /* answer <presence type='unsubscribed'/> */
    GW_POLICY_IGNORE,       /* drop silently (RFC 6121 section 8.5) */
};

struct gw_policy_decision {
    enum gw_policy_action action;
    const char *condition; /* ERROR, XMPP side */
    const char *type;
    const char *text;  /* human text for <text/> or the reason phrase */
    int sip_code;      /* ERROR, SIP side (outbound) */
    bool invites;      /* outbound ALLOW: record an invitation */
    bool status_notes; /* ALLOW: may carry status notes */
};

/* What the caller knows about the pair. partner_type is only read when
 * partner_known. */
struct gw_policy_pair {
    bool target_served; /* inbound: to-domain hosted; outbound: from-domain hosted */
    bool partner_known;
    enum conf_partner_type partner_type;
    bool user_has_access; /* the internal user may federate */
    bool invited;         /* inbound: the internal user invited this partner user */
};

void gw_policy_inbound(const struct gw_policy_pair *p, enum gw_policy_op op,
                       struct gw_policy_decision *out);
void gw_policy_outbound(const struct gw_policy_pair *p, enum gw_policy_op op,
                        struct gw_policy_decision *out);

/* True for Federated partners only. */
bool gw_policy_status_notes(enum conf_partner_type t);

/*
 * Fills *p from the configuration for an internal user "local@domain" and
 * a partner domain (both normalised); invited is left false for the
 * caller (the store knows). inbound selects which domain must be hosted
 * (always the internal user's).
 */
void gw_policy_pair_from_conf(const struct conf *c, const char *internal_user,
                              const char *partner_domain, struct gw_policy_pair *p);

#endif
