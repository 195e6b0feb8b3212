/*
 * gw_subscription.h - the presence subscription state machine of the
 * gateway, both directions (RFC 8048 sections 5 and 7, RFC 6665, RFC 3856;
 * INTERWORKING.md sections 2.2, 2.3 and 4.3). Pure: the caller passes the
 * time and every fact it has parsed, and gets back the actions to carry
 * out (SIP requests and replies, XMPP stanzas, timers, storage). Nothing
 * here does I/O, allocates, blocks or logs.
 *
 * X2S (an XMPP user watches an internal SIP user; the gateway is the SIP
 * subscriber on the XMPP user's behalf):
 *   subscribe            new SUBSCRIBE (Event presence, Expires = the
 *                        configured request, normally the subscription
 *                        refresh interval; the notifier may shorten it);
 *                        Timer N (32 s) runs until the first NOTIFY
 *   NOTIFY pending       200, nothing to XMPP (P3)
 *   NOTIFY active        200, <presence type='subscribed'/> the first time,
 *                        then presence from the body (an empty first one:
 *                        unavailable, P4; later empty ones change nothing)
 *   NOTIFY terminated    200; rejected, noresource, invariant: unsubscribed
 *                        to XMPP, authorisation revoked; deactivated,
 *                        timeout or none: re-subscribe now in a new dialog;
 *                        probation, giveup: re-subscribe after retry-after
 *   SUBSCRIBE 2xx        granted Expires recorded, refresh scheduled before
 *                        expiry (RFC 6665 section 4.1.2.1); 202 is as 200
 *   403, 489, 603        unsubscribed to XMPP, authorisation revoked (P9)
 *   423                  retry at once with Min-Expires (P8)
 *   481                  new dialog at once, authorisation kept (P8)
 *   404 405 410 416 480-485 501 604 and every other failure or timeout:
 *                        the dialog ends, the authorisation is kept, a new
 *                        dialog is tried after the retry delay (doubling up
 *                        to the refresh interval) (P10, E18)
 *   unsubscribe          in-dialog SUBSCRIBE Expires 0; its 2xx sends
 *                        unsubscribed to XMPP; the final NOTIFY is answered
 *                        200 (P12, RFC 6665 not 8048 Ex. 10)
 *   probe                a separate one-shot record (poll): new-dialog
 *                        SUBSCRIBE Expires 0, the final NOTIFY's body
 *                        becomes presence (P13); no NOTIFY within Timer N:
 *                        unavailable
 *   available presence   from the XMPP watcher: refresh now (P14)
 *   NOTIFY CSeq lower than the last one: 500 (P34); another remote tag
 *   (a forked second dialog): 481; no Subscription-State: 400 (P35).
 *
 * S2X (an internal SIP user watches an XMPP user; the gateway is notifier):
 *   SUBSCRIBE new         200 at once (Expires <= requested, capped by
 *                         max_expires), NOTIFY pending (empty) at once and
 *                         <presence type='subscribe'/> to XMPP (P15); when
 *                         already authorised: NOTIFY active with the known
 *                         state and a probe to XMPP
 *   0 < Expires < min     423 with Min-Expires (E16)
 *   SUBSCRIBE refresh     200 and a NOTIFY with the current state (P18)
 *   SUBSCRIBE Expires 0   in a dialog: NOTIFY terminated;reason=timeout
 *                         with a closed PIDF, unavailable to XMPP, the
 *                         authorisation kept (P19); in a new dialog (poll):
 *                         probe to XMPP, NOTIFY terminated with the answer
 *                         (P20), or empty after Timer N
 *   XMPP subscribed       empty NOTIFY active (P16), authorisation granted
 *   XMPP unsubscribed     empty NOTIFY terminated;reason=rejected, dialog
 *                         removed, authorisation revoked (P17)
 *   XMPP presence         NOTIFY active with the state (when active)
 *   expiry                NOTIFY terminated;reason=timeout (P21)
 *   NOTIFY failed with 404 405 410 416 480-485 489 501 604 or timed out:
 *                         subscription removed (RFC 6665 section 4.2.2)
 */
#ifndef XFED_GW_SUBSCRIPTION_H
#define XFED_GW_SUBSCRIPTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GW_SUB_ADDR_MAX  1024 /* bytes of a stored address, NUL included */
#define GW_SUB_TOKEN_MAX 130  /* Call-ID and tags, NUL included */
#define GW_SUB_ROUTE_MAX 2048 /* the route set as comma-separated Route values */
#define GW_SUB_OWNER_MAX 256  /* a gateway id (its IPC instance name), NUL included */

#define GW_SUB_TIMER_N 32 /* 64 * T1 seconds, RFC 6665 section 4.1.2.4 */

enum gw_sub_dir { GW_SUB_X2S = 0, GW_SUB_S2X = 1 };

enum gw_sub_state {
    GW_SUB_IDLE = 0,
    GW_SUB_SUBSCRIBING,   /* X2S: SUBSCRIBE sent, no NOTIFY yet */
    GW_SUB_PENDING,       /* both: pending */
    GW_SUB_ACTIVE,        /* both: active */
    GW_SUB_UNSUBSCRIBING, /* X2S: Expires 0 sent */
    GW_SUB_POLLING,       /* S2X: Expires 0 poll waiting for the probe answer */
    GW_SUB_WAITING,       /* X2S: no dialog, a retry is scheduled */
    GW_SUB_TERMINATED,    /* gone; the record is deleted */
};

const char *gw_sub_state_name(enum gw_sub_state);

/* Everything the gateway keeps about one subscription dialog
 * (INTERWORKING.md section 4.4). Plain data: stored by gw_store. */
struct gw_sub {
    enum gw_sub_dir dir;
    enum gw_sub_state state;
    bool poll;                  /* X2S: a one-shot probe; S2X: an Expires 0 poll */
    bool authorized;            /* the XMPP-side authorisation (roster subscription) */
    bool notified;              /* X2S: an active NOTIFY was seen in this dialog */
    char xmpp[GW_SUB_ADDR_MAX]; /* the XMPP user, bare JID */
    char sip[GW_SUB_ADDR_MAX];  /* the SIP user's URI (AOR) */
    /* dialog, RFC 3261 section 12 */
    char call_id[GW_SUB_TOKEN_MAX];
    char local_tag[GW_SUB_TOKEN_MAX];
    char remote_tag[GW_SUB_TOKEN_MAX];
    uint32_t local_cseq;  /* last CSeq we sent */
    uint32_t remote_cseq; /* last CSeq received, 0 none */
    char remote_target[GW_SUB_ADDR_MAX];
    char route_set[GW_SUB_ROUTE_MAX];
    /* timing, seconds since the epoch; 0 = none */
    uint32_t expires;   /* last granted duration */
    int64_t expires_at; /* the dialog's end */
    int64_t timer_at;   /* next EV_TIMER due */
    uint32_t failures;  /* consecutive X2S failures (retry back-off) */
    /* the gateway that owns the record in a shared store ("" none): read
     * by the store; gw_store_sub_put() writes the store's own id instead */
    char owner[GW_SUB_OWNER_MAX];
};

struct gw_sub_cfg {
    uint32_t subscribe_expires; /* X2S Expires asked for; default refresh_interval */
    uint32_t max_expires;       /* S2X cap on granted Expires; default 3600 */
    uint32_t min_expires;       /* S2X: below -> 423; default 60 */
    uint32_t refresh_interval;  /* the subscription refresh interval setting
                                   (conf_settings.subscription_refresh):
                                   X2S Expires asked for and back-off cap;
                                   default 28800 */
    uint32_t retry_delay;       /* X2S first retry after a failure; default 300 */
};

/* Fills the defaults above (0 in a field means its default as well). */
void gw_sub_cfg_default(struct gw_sub_cfg *c);

enum gw_sub_ev {
    GW_EV_XMPP_SUBSCRIBE = 0, /* X2S */
    GW_EV_XMPP_UNSUBSCRIBE,   /* X2S */
    GW_EV_XMPP_PROBE,         /* X2S, on a fresh poll record */
    GW_EV_XMPP_AVAILABLE,     /* X2S: the watcher's initial presence; S2X: presence update */
    GW_EV_XMPP_UNAVAILABLE,   /* S2X: presence update */
    GW_EV_XMPP_SUBSCRIBED,    /* S2X */
    GW_EV_XMPP_UNSUBSCRIBED,  /* S2X */
    GW_EV_SIP_RESPONSE,       /* X2S: final response to our SUBSCRIBE; S2X: to our NOTIFY */
    GW_EV_SIP_TIMEOUT,        /* the same, no final response (Timer F) */
    GW_EV_SIP_NOTIFY,         /* X2S */
    GW_EV_SIP_SUBSCRIBE,      /* S2X */
    GW_EV_TIMER,
};

enum gw_notify_state { GW_NS_NONE = 0, GW_NS_ACTIVE, GW_NS_PENDING, GW_NS_TERMINATED };

struct gw_sub_event {
    enum gw_sub_ev kind;
    int64_t now;
    /* SIP_RESPONSE */
    int code;
    long expires;     /* Expires of the response or request, -1 absent */
    long min_expires; /* 423 */
    /* SIP_NOTIFY (X2S) */
    enum gw_notify_state ns; /* NONE when Subscription-State is missing */
    long ns_expires;         /* its expires parameter, -1 absent */
    long retry_after;        /* -1 absent */
    const char *reason;      /* terminated reason, "" or NULL if absent */
    bool has_body;
    /* SIP_NOTIFY and SIP_SUBSCRIBE: the dialog facts */
    uint32_t cseq;
    const char *remote_tag;
    const char *remote_target; /* Contact */
    const char *route_set;     /* already ordered for our requests */
    bool in_dialog;            /* SIP_SUBSCRIBE: had a To tag */
    /* S2X: the gateway knows the XMPP user's current presence */
    bool presence_known;
    /* fresh identifiers for a new dialog (gw_sip_random_token) */
    const char *new_call_id;
    const char *new_tag;
};

enum gw_act_kind {
    GW_ACT_SEND_SUBSCRIBE = 0, /* X2S: expires, new_dialog (dialog fields already updated) */
    GW_ACT_REPLY,              /* reply to the request being handled: code, expires, min_expires */
    GW_ACT_SEND_NOTIFY,        /* S2X: ns, expires, reason, body */
    GW_ACT_XMPP_SUBSCRIBE,     /* S2X: <presence type='subscribe'/> SIP user -> XMPP user */
    GW_ACT_XMPP_SUBSCRIBED,    /* X2S: SIP user -> XMPP watcher */
    GW_ACT_XMPP_UNSUBSCRIBED,  /* X2S */
    GW_ACT_XMPP_PRESENCE,      /* X2S: presence from the NOTIFY body (gw_pidf) */
    GW_ACT_XMPP_UNAVAILABLE,   /* both: <presence type='unavailable'/> */
    GW_ACT_XMPP_PROBE,         /* S2X: probe the XMPP user */
    GW_ACT_AUTH_GRANT,         /* persist the authorisation */
    GW_ACT_AUTH_REVOKE,
    GW_ACT_SAVE,   /* persist the record */
    GW_ACT_DELETE, /* remove the record */
};

enum gw_notify_body { GW_BODY_NONE = 0, GW_BODY_CURRENT, GW_BODY_CLOSED };

struct gw_sub_action {
    enum gw_act_kind kind;
    int code;
    uint32_t expires;
    long min_expires;         /* REPLY 423, else -1 */
    bool new_dialog;          /* SEND_SUBSCRIBE */
    enum gw_notify_state ns;  /* SEND_NOTIFY */
    const char *reason;       /* SEND_NOTIFY terminated reason (static) */
    enum gw_notify_body body; /* SEND_NOTIFY */
};

#define GW_SUB_ACTIONS_MAX 8

struct gw_sub_actions {
    struct gw_sub_action a[GW_SUB_ACTIONS_MAX];
    size_t n;
};

/* Starts a record: state IDLE, addresses copied (truncation refused: -1). */
int gw_sub_init(struct gw_sub *s, enum gw_sub_dir dir, const char *xmpp, const char *sip,
                bool authorized);

/*
 * Runs one event. Updates *s and fills *out (cleared first) with the
 * actions, in the order they must be carried out. Returns 0, or -1 when
 * the event does not apply in this state or direction (nothing changed,
 * no action; for SIP requests the caller answers 481 or 405).
 */
int gw_sub_handle(struct gw_sub *s, const struct gw_sub_cfg *cfg, const struct gw_sub_event *ev,
                  struct gw_sub_actions *out);

#endif
