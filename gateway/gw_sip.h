/*
 * gw_sip.h - SIP message framing, parsing and building for xfed-gateway.
 * The only code in xfed that touches libosip2.
 *
 * Framing (RFC 3261 section 18.3): over TCP a message ends Content-Length
 * bytes after the blank line that ends its headers; Content-Length is
 * mandatory over TCP. Leading CRLFs (RFC 5626 section 3.5.1 keep-alive
 * pings) are skipped and reported. Every cap is a struct gw_sip_limits
 * setting; a frame that breaks one fails cleanly.
 *
 * Parsing: headers are parsed by libosip2, the body is taken from the
 * frame as raw bytes (never interpreted here). A message that parses but
 * lacks what RFC 3261 section 8.1.1 requires (Via, From with tag for
 * requests, To, Call-ID, CSeq whose method matches) is refused by
 * gw_sip_msg_check() with the 400 to send. Input that libosip2 cannot parse
 * at all can still be answered with gw_sip_bad_request(), which copies the
 * fields a response needs from the raw bytes when they are there.
 *
 * Building: the structured parts of a request (Request-URI, Via, From, To,
 * Call-ID, CSeq, Contact, Route) are libosip2 objects made by setting their
 * fields (only URIs and Route values go through libosip2's parser, which
 * checks them); a response is written from the request's parsed objects.
 * Both are serialised once, in libosip2's syntax (test_gw_sip checks it
 * against osip_message_to_str), into a buffer reused by every build, and
 * returned as malloc'd bytes with a correct Content-Length. Parsed
 * messages make their URI, Call-ID and Record-Route strings on first use.
 *
 * Nothing here blocks or logs; global state: libosip2's one-time parser
 * tables (initialised on first use), the build buffers and the random
 * pool. Not thread-safe.
 */
#ifndef XFED_GW_SIP_H
#define XFED_GW_SIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Defaults of struct gw_sip_limits. */
#define GW_SIP_MAX_HEADER_BYTES_DEFAULT 16384
#define GW_SIP_MAX_BODY_BYTES_DEFAULT   65536
#define GW_SIP_MAX_HEADERS_DEFAULT      96

/* Every cap is a setting; 0 means the default. */
struct gw_sip_limits {
    size_t max_header_bytes; /* start line + headers + blank line */
    size_t max_body_bytes;   /* Content-Length above this: 413 */
    unsigned max_headers;    /* header lines */
};

/* ---- Framing ------------------------------------------------------------ */

struct gw_sip_frame {
    size_t consumed;     /* bytes to drop from the input buffer */
    size_t msg_off;      /* the message starts here (after leading CRLFs) */
    size_t msg_len;      /* 0 when only keep-alive CRLFs were consumed */
    size_t body_off;     /* the body starts here (msg_off + header bytes) */
    size_t body_len;     /* Content-Length */
    bool keepalive_ping; /* a CRLFCRLF ping was seen: answer CRLF (RFC 5626) */
    int error_code;      /* on -1: the response to send if one can be (400, 413) */
};

/*
 * Finds the first complete message in buf[0..len). Returns 1 with *f filled
 * (a complete message, or msg_len 0 for keep-alive bytes only), 0 when more
 * bytes are needed, -1 when the stream is broken (headers too long or too
 * many, Content-Length missing, repeated with different values or not a
 * number, body over the limit): f->error_code says what to answer before
 * closing the connection. Keeps no pointer into buf.
 */
int gw_sip_frame(const char *buf, size_t len, const struct gw_sip_limits *lim,
                 struct gw_sip_frame *f);

/* ---- Parsed messages ---------------------------------------------------- */

struct gw_sip_msg; /* opaque */

/*
 * Parses one framed message (len bytes, as located by gw_sip_frame: start
 * line, headers, blank line and exactly body bytes; a message without
 * Content-Length is accepted here with the rest as body). Returns a new
 * message, or NULL when it cannot be parsed; then *why (if not NULL)
 * points to a static reason. Free with gw_sip_msg_free().
 */
struct gw_sip_msg *gw_sip_parse(const char *buf, size_t len, const struct gw_sip_limits *lim,
                                const char **why);

void gw_sip_msg_free(struct gw_sip_msg *);

/*
 * RFC 3261 section 8.1.1 / 8.2 checks of a parsed message. Returns 0 when
 * it is usable, else the response code to send for a request (400 with
 * *why, 483 for Max-Forwards 0 of a request that is not addressed to us --
 * the caller decides, see gw_sip_max_forwards()) -- for a response the
 * code means "drop it".
 */
int gw_sip_msg_check(const struct gw_sip_msg *, const char **why);

/* Accessors. Strings are borrowed: valid until gw_sip_msg_free(); NULL when
 * the header or part is absent. */
bool gw_sip_is_request(const struct gw_sip_msg *);
const char *gw_sip_method(const struct gw_sip_msg *); /* requests; upper case as sent */
int gw_sip_status(const struct gw_sip_msg *);         /* responses; 0 for requests */
const char *gw_sip_reason(const struct gw_sip_msg *);
const char *gw_sip_request_uri(const struct gw_sip_msg *);
const char *gw_sip_from_uri(const struct gw_sip_msg *);
const char *gw_sip_from_tag(const struct gw_sip_msg *);
const char *gw_sip_to_uri(const struct gw_sip_msg *);
const char *gw_sip_to_tag(const struct gw_sip_msg *);
const char *gw_sip_call_id(const struct gw_sip_msg *);
uint32_t gw_sip_cseq(const struct gw_sip_msg *);
const char *gw_sip_cseq_method(const struct gw_sip_msg *);
const char *gw_sip_via_branch(const struct gw_sip_msg *);      /* top Via */
int gw_sip_max_forwards(const struct gw_sip_msg *);            /* -1 if absent */
long gw_sip_expires(const struct gw_sip_msg *);                /* -1 if absent or not a number */
long gw_sip_min_expires(const struct gw_sip_msg *);            /* -1 if absent */
const char *gw_sip_event(const struct gw_sip_msg *);           /* package, no parameters */
const char *gw_sip_content_type(const struct gw_sip_msg *);    /* "type/subtype", lower case */
const char *gw_sip_content_charset(const struct gw_sip_msg *); /* charset parameter */
const char *gw_sip_content_language(const struct gw_sip_msg *);
const char *gw_sip_subject(const struct gw_sip_msg *);
const char *gw_sip_contact_uri(const struct gw_sip_msg *);       /* first Contact's URI */
const char *gw_sip_body(const struct gw_sip_msg *, size_t *len); /* not NUL-terminated */

/* Record-Route values in message order ("<sip:p.example;lr>"); i from 0. */
size_t gw_sip_record_route_count(const struct gw_sip_msg *);
const char *gw_sip_record_route(const struct gw_sip_msg *, size_t i);

/* The first value of any header by name, case-insensitive, the compact
 * form included (e.g. "Event" also finds "o"). */
const char *gw_sip_header(const struct gw_sip_msg *, const char *name);

/* True if the Accept headers list type (e.g. "application/pidf+xml") or
 * a wildcard covering it, or when there is no Accept header and
 * absent_means_yes (RFC 3856 section 6.5: none means PIDF). */
bool gw_sip_accepts(const struct gw_sip_msg *, const char *type, bool absent_means_yes);

/* Subscription-State (RFC 6665 section 8.4). */
enum gw_substate {
    GW_SUBSTATE_NONE = 0,
    GW_SUBSTATE_ACTIVE,
    GW_SUBSTATE_PENDING,
    GW_SUBSTATE_TERMINATED,
    GW_SUBSTATE_OTHER
};
struct gw_sip_substate {
    enum gw_substate state;
    long expires;     /* -1 if absent */
    long retry_after; /* -1 if absent */
    char reason[32];  /* "" if absent; lower case, truncated */
};
/* Parses the message's Subscription-State into *out; returns 0, or -1 when
 * the header is absent or unparsable (out->state NONE). */
int gw_sip_substate(const struct gw_sip_msg *, struct gw_sip_substate *out);

/* ---- Building ----------------------------------------------------------- */

/* A request outside or inside a dialog. Unused fields are NULL / 0 / -1 as
 * noted. Strings are copied. */
struct gw_sip_request {
    const char *method;        /* "MESSAGE", "SUBSCRIBE", "NOTIFY", ... */
    const char *request_uri;   /* required */
    const char *from_uri;      /* required */
    const char *from_display;  /* optional display name */
    const char *from_tag;      /* required (RFC 3261 section 8.1.1.3) */
    const char *to_uri;        /* required */
    const char *to_tag;        /* in-dialog requests */
    const char *call_id;       /* required */
    uint32_t cseq;             /* required, < 2^31 */
    const char *via_transport; /* "TCP" (default), "TLS", "UDP" */
    const char *via_host;      /* required */
    unsigned via_port;         /* 0: none */
    const char *branch;        /* required, starts with z9hG4bK */
    const char *contact;       /* URI or NULL (MESSAGE must have none, RFC 3428 section 4) */
    const char *const *routes; /* Route values in order, e.g. "<sip:p;lr>" */
    size_t n_routes;
    int max_forwards;               /* < 0: 70 */
    const char *event;              /* "presence" */
    long expires;                   /* < 0: none */
    const char *subscription_state; /* e.g. "active;expires=600" */
    const char *accept;             /* e.g. "application/pidf+xml" */
    const char *allow_events;
    const char *content_type; /* required when body_len > 0 */
    const char *content_language;
    const char *subject;
    const char *body;
    size_t body_len;
};

/* Builds the request. Returns malloc'd bytes (NUL-terminated; the length,
 * without the NUL, in *len), or NULL when a required field is missing or a
 * value is refused by libosip2 (*why then says which, if why is not NULL). */
char *gw_sip_request_build(const struct gw_sip_request *r, size_t *len, const char **why);

/* A response to a parsed request. Via, From, To, Call-ID and CSeq are
 * copied from the request (RFC 3261 section 8.2.6.2); to_tag is added to
 * To when the request's To had none (except for 100). For SUBSCRIBE and
 * NOTIFY responses Record-Route is copied (section 12.1.1). */
struct gw_sip_response {
    int code;
    const char *reason; /* NULL: the standard phrase */
    const char *to_tag;
    const char *contact;      /* URI or NULL */
    long expires;             /* < 0: none */
    long min_expires;         /* < 0: none (423, RFC 6665 section 4.2.1.1) */
    long retry_after;         /* < 0: none */
    const char *allow;        /* 405 */
    const char *allow_events; /* 489 */
    const char *accept;       /* 415, 406 */
    const char *warning;      /* e.g. "399 gw \"text\"" */
};

char *gw_sip_response_build(const struct gw_sip_msg *req, const struct gw_sip_response *r,
                            size_t *len, const char **why);

/*
 * A 400 (or code) for bytes that did not parse: Via, From, To, Call-ID and
 * CSeq lines are copied from the raw header block when present and sane.
 * Returns NULL when the input is not a request or lacks any of these (then
 * no response can be sent and the caller closes the connection).
 */
char *gw_sip_bad_request(const char *buf, size_t len, int code, const char *reason, size_t *outlen);

/* Fills buf with n-1 random characters [a-z0-9] and a NUL (tags, Call-IDs,
 * branches after "z9hG4bK"). The bytes come from getrandom() through a
 * 512-byte pool refilled when empty (each byte used once), so a message
 * costs no system call of its own; returns 0 or -1. One thread only (the
 * daemon's loop), and no fork() after the first call. */
int gw_sip_random_token(char *buf, size_t n);

#endif
