/*
 * gw_router.h - xfed-gateway's glue between the edges (gw_ipc.h) and the
 * internal SIP server (gw_transport.h, gw_transaction.h, gw_dialog.h):
 * every stanza and SIP request passes through here once, is checked
 * against the partner type and access policy (gw_policy.h), mapped
 * (gw_address.h, gw_message.h, gw_pidf.h, gw_errors.h) and sent on.
 *
 * Instant messages (RFC 7572, RFC 3428; INTERWORKING.md section 3):
 *   XMPP -> SIP: one MESSAGE transaction per destination URI at a time, in
 *   order (RFC 3428 section 8); the STANZA_IN is acknowledged to the edge
 *   once the MESSAGE got its final response (a 2xx), or once the mapped
 *   XMPP error stanza (RFC 7247 section 7.2, type per RFC 6120 section
 *   8.3.3, the reason phrase as <text/>) was handed to the edge. Timer F
 *   gives remote-server-timeout.
 *   SIP -> XMPP: the stanza goes to an edge; the SIP sender gets 202 when
 *   the edge has written it to the partner and no XMPP error came back
 *   within error_wait_ms; an edge refusal, a BOUNCE or an error stanza
 *   from the partner within that window becomes the mapped response (RFC
 *   7247 section 7.1, full or bare JID variant); a later one is logged
 *   (late error). No edge within queue_timeout: 408.
 *
 * Presence (RFC 8048, RFC 6665, RFC 3856; INTERWORKING.md sections 2 and
 * 4) runs through gw_subscription.h's state machine with dialogs in
 * gw_dialog.h and state in gw_store.h; see gw_router.c.
 *
 * Other requests: OPTIONS 200; INVITE and other methods 405 with Allow;
 * Max-Forwards 0 gets 483 (E13). iq stanzas get service-unavailable.
 * Nothing here blocks except configuration and store writes.
 */
#ifndef XFED_GW_ROUTER_H
#define XFED_GW_ROUTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct gw_conf;
struct gw_router;

/* Binds the SIP listener, starts the next-hop connection and opens the
 * IPC channels described by gc (borrowed until the next
 * gw_router_set_conf()). NULL with a reason in err. */
struct gw_router *gw_router_new(struct event_base *base, const struct gw_conf *gc, char *err,
                                size_t errlen);

/* Opens the state database (after privileges were dropped, so that its
 * files belong to the running user), loads the subscriptions, pushes the
 * configuration and re-establishes subscriptions (refresh X->S, probe for
 * S->X). Returns 0, or -1 with a reason in err. */
int gw_router_start(struct gw_router *, char *err, size_t errlen);

/* Closes everything: pending X->S stanzas stay unacknowledged (the edge
 * re-sends them), open SIP transactions are dropped. NULL is fine. */
void gw_router_free(struct gw_router *);

/* Switches to a new configuration (the old one may be freed after the
 * call) and pushes its partner configuration to the edges when its
 * version differs from the last one pushed (or always when force). */
void gw_router_set_conf(struct gw_router *, const struct gw_conf *gc, bool force_push);

/* One status line for sd_notify / logs. */
void gw_router_status(const struct gw_router *, char *buf, size_t cap);

#endif
