/*
 * gw_message.h - page-mode instant messages between XMPP and SIP (RFC 7572,
 * RFC 3428; INTERWORKING.md section 3): pure decisions and field mapping.
 *
 * XMPP -> SIP (gw_message_x2s), RFC 7572 section 4:
 *   body -> MESSAGE body, text/plain;charset=UTF-8; subject -> Subject;
 *   thread -> Call-ID (when it is a valid Call-ID word of at most 128
 *   bytes, else the caller's fallback Call-ID); from -> From (bare JID,
 *   resource as ;gr= inside the URI); to -> Request-URI and To; xml:lang
 *   -> Content-Language; type -> no mapping. No Contact (RFC 3428 section 4).
 *   Types chat, normal, headline and none are sent; groupchat is refused
 *   with feature-not-implemented (page mode only, RFC 7702 is not done);
 *   error is never translated (dropped; the daemon correlates it by id);
 *   a message without body (chat states, receipts) is dropped, never sent
 *   as an empty MESSAGE. A message whose SIP form would exceed the size
 *   limit (default 1300 bytes, RFC 3428 section 8) is refused with
 *   policy-violation (RFC 7572 section 6) and nothing is sent. Refusals of
 *   headline messages are dropped instead (no error stanzas for headlines).
 *   XHTML-IM (XEP-0071) is not carried: its mandatory plain <body/> is.
 *
 * SIP -> XMPP (gw_message_s2x), RFC 7572 section 5:
 *   Request-URI -> to; From -> from (full JID when the From URI carries a
 *   GRUU, else bare); Call-ID -> thread; Subject -> subject;
 *   Content-Language -> xml:lang; body -> body; the Via branch -> id; no
 *   type attribute (MUST: none or normal). The sender gets 202 (RFC 3428
 *   section 7: a gateway into a non-SIP domain); refusals: sips: or a
 *   non-SIP scheme -> 416, malformed addresses -> 400, body not UTF-8 ->
 *   400, body over the XMPP limit -> 513, content types other than
 *   text/plain and text/html -> 415 with Accept. text/html becomes its plain
 *   text (tags dropped, block ends as line breaks, script/style content
 *   removed, entities decoded); control characters XML cannot carry are
 *   removed from body and subject.
 *
 * Nothing here blocks, logs or keeps state.
 */
#ifndef XFED_GW_MESSAGE_H
#define XFED_GW_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gw_sip.h"

#define GW_MSG_SIP_MAX_DEFAULT  1300  /* RFC 3428 section 8 */
#define GW_MSG_XMPP_MAX_DEFAULT 65536 /* body bytes toward XMPP */
#define GW_MSG_CALLID_MAX       128

/* Every limit is a setting; 0 means the default. */
struct gw_msg_limits {
    size_t max_sip_bytes;  /* whole MESSAGE, X->S */
    size_t max_xmpp_bytes; /* body, S->X */
};

/* One <body/> candidate of an XMPP message (RFC 6121 section 5.2.3). */
struct gw_im_body {
    const char *lang; /* its xml:lang, NULL if none */
    const char *text;
};

/* RFC 6121 section 5.2.3 / INTERWORKING M15: the body to carry is the one
 * without xml:lang or in the stanza's language (stanza_lang may be NULL),
 * else the first. Returns its index, or -1 when n is 0. */
int gw_message_pick_body(const struct gw_im_body *b, size_t n, const char *stanza_lang);

/* An XMPP message as read from a stanza; strings borrowed, NULL if absent. */
struct gw_im_in {
    const char *from; /* full JID of the partner user */
    const char *to;   /* JID of the internal user */
    const char *id;
    const char *type; /* NULL, "chat", "normal", "headline", "groupchat", "error" */
    const char *lang;
    const char *subject;
    const char *thread;
    const char *body; /* the chosen body (gw_message_pick_body) */
};

/* The transaction values the daemon chooses for the MESSAGE. */
struct gw_x2s_txn {
    const char *via_transport; /* "TCP" or "TLS" */
    const char *via_host;
    unsigned via_port;
    const char *branch; /* z9hG4bK... */
    const char *from_tag;
    const char *call_id_fallback; /* when the thread cannot be the Call-ID */
    uint32_t cseq;
    const char *const *routes; /* pre-loaded route set toward the next hop, may be NULL */
    size_t n_routes;
};

enum gw_x2s_action { GW_X2S_SEND = 0, GW_X2S_DROP, GW_X2S_REJECT };

struct gw_x2s {
    enum gw_x2s_action action;
    const char *condition; /* REJECT: RFC 6120 stanza error condition */
    const char *type;      /* REJECT: its error type */
    const char *reason;    /* every action: a static word for logs */
    char *request_uri;     /* SEND: destination (one pending MESSAGE per URI, RFC 3428 s8) */
    char *call_id;         /* SEND: the Call-ID used */
    char *bytes;           /* SEND: the MESSAGE */
    size_t len;
};

/* Decides and, for SEND, builds. Returns 0 (see out->action), or -1 on
 * allocation failure (out is cleared). Free out with gw_x2s_clear(). */
int gw_message_x2s(const struct gw_im_in *im, const struct gw_x2s_txn *txn,
                   const struct gw_msg_limits *lim, struct gw_x2s *out);
void gw_x2s_clear(struct gw_x2s *);

/* An XMPP message to emit; every string owned (NULL if absent). */
struct gw_im_out {
    char *from, *to, *id, *lang, *subject, *thread, *body;
};

enum gw_s2x_action { GW_S2X_DELIVER = 0, GW_S2X_REFUSE };

struct gw_s2x {
    enum gw_s2x_action action;
    int code;            /* DELIVER: 202 to send; REFUSE: the SIP code */
    const char *reason;  /* reason phrase for the response */
    const char *accept;  /* 415: the Accept header value */
    struct gw_im_out im; /* DELIVER */
};

/* Maps a parsed MESSAGE request (already checked by gw_sip_msg_check).
 * Returns 0 (see out->action) or -1 on allocation failure. Free with
 * gw_s2x_clear(). */
int gw_message_s2x(const struct gw_sip_msg *m, const struct gw_msg_limits *lim, struct gw_s2x *out);
void gw_s2x_clear(struct gw_s2x *);

/* text/html -> plain text as described above. Returns a malloc'd string
 * (never longer than len) or NULL on allocation failure. */
char *gw_message_html_to_text(const char *html, size_t len);

#endif
