/*
 * gw_policy.c - partner-type and access decisions (see gw_policy.h).
 */
#include "gw_policy.h"

#include <string.h>

static void set_error(struct gw_policy_decision *d, const char *cond, const char *type,
                      const char *text, int code)
{
    d->action = GW_POLICY_ERROR;
    d->condition = cond;
    d->type = type;
    d->text = text;
    d->sip_code = code;
}

bool gw_policy_status_notes(enum conf_partner_type t)
{
    return t == PARTNER_FEDERATED;
}

/* Operations a partner user may always send: answers to the internal
 * user's own requests and the end of presence. */
static bool is_answer(enum gw_policy_op op)
{
    return op == GW_OP_SUBSCRIBED || op == GW_OP_UNSUBSCRIBE || op == GW_OP_UNSUBSCRIBED ||
           op == GW_OP_UNAVAILABLE;
}

/* How a refused inbound operation is answered. */
static void refuse_inbound(struct gw_policy_decision *d, enum gw_policy_op op, const char *text)
{
    switch (op) {
    case GW_OP_MESSAGE:
        set_error(d, "forbidden", "auth", text, 403);
        break;
    case GW_OP_SUBSCRIBE:
    case GW_OP_PROBE:
        d->action = GW_POLICY_UNSUBSCRIBED;
        d->text = text;
        break;
    default:
        d->action = GW_POLICY_IGNORE;
        d->text = text;
        break;
    }
}

void gw_policy_inbound(const struct gw_policy_pair *p, enum gw_policy_op op,
                       struct gw_policy_decision *out)
{
    memset(out, 0, sizeof *out);
    if (!p->target_served) {
        set_error(out, "item-not-found", "cancel", "no such domain here", 404);
        return;
    }
    if (!p->partner_known) {
        set_error(out, "service-unavailable", "cancel", "not a federated partner", 403);
        return;
    }
    if (!p->user_has_access) {
        refuse_inbound(out, op, "the user is not enabled for XMPP federation");
        return;
    }
    if (p->partner_type == PARTNER_PUBLIC_UNVERIFIED && !p->invited && !is_answer(op)) {
        refuse_inbound(out, op, "the user has not invited you");
        return;
    }
    out->action = GW_POLICY_ALLOW;
    out->status_notes = gw_policy_status_notes(p->partner_type);
}

void gw_policy_outbound(const struct gw_policy_pair *p, enum gw_policy_op op,
                        struct gw_policy_decision *out)
{
    memset(out, 0, sizeof *out);
    if (!p->target_served) {
        set_error(out, "forbidden", "auth", "From domain is not served here", 403);
        return;
    }
    if (!p->partner_known) {
        set_error(out, "remote-server-not-found", "cancel", "Not a federated XMPP domain", 404);
        return;
    }
    if (!p->user_has_access) {
        set_error(out, "forbidden", "auth", "Not enabled for XMPP federation", 403);
        return;
    }
    out->action = GW_POLICY_ALLOW;
    out->invites = op == GW_OP_MESSAGE || op == GW_OP_SUBSCRIBE;
    out->status_notes = gw_policy_status_notes(p->partner_type);
}

void gw_policy_pair_from_conf(const struct conf *c, const char *internal_user,
                              const char *partner_domain, struct gw_policy_pair *p)
{
    memset(p, 0, sizeof *p);
    const char *at = strrchr(internal_user, '@');
    p->target_served = at != NULL && conf_strlist_has(&c->hosted, at + 1);
    ssize_t i = conf_partner_find(c, partner_domain);
    p->partner_known = i >= 0;
    if (i >= 0)
        p->partner_type = c->partners[i].type;
    p->user_has_access = conf_access_for(c, internal_user) == ACCESS_ALLOW;
}
