/*
 * s2s_stream.h - one inbound or outbound XMPP server-to-server stream.
 *
 * A stream owns its socket (a libevent bufferevent: plain, then an OpenSSL
 * filter after STARTTLS, or OpenSSL from the first byte for direct TLS),
 * its XML parser, its input budget and one timer. The edge loop is its only
 * driver. The state machine is a state enum plus a table of the first-level
 * elements each state accepts (s2s_state_accepts()); anything else closes
 * the stream with a stream error: stanzas before authentication with
 * <not-authorized/> (RFC 6120 section 4.3.4), restricted XML with
 * <restricted-xml/> (section 11.1), caps with <policy-violation/>.
 * Inbound specifics live in s2s_in.c, outbound in s2s_out.c, dialback in
 * s2s_dialback.c. Nothing here blocks.
 *
 * Streams are owned by the edge's stream list and freed only from the loop
 * (a deferred event), never from inside a parser or bufferevent callback,
 * so a pointer to a stream obtained in a callback stays valid until that
 * callback returns. Objects that must refer to a stream later keep its
 * serial number and look it up with s2s_stream_find().
 */
#ifndef XFED_S2S_STREAM_H
#define XFED_S2S_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "s2s_policy.h"

struct edge;
struct s2s_stream; /* opaque outside the s2s_*.c files */
struct stanza;

enum s2s_dir {
    S2S_IN = 0, /* the peer connected to us */
    S2S_OUT,    /* we connected to the peer */
};

enum s2s_state {
    S2S_ST_CONNECTING = 0, /* out: resolving and connecting */
    S2S_ST_TLS,            /* TLS handshake running (direct TLS or after STARTTLS) */
    S2S_ST_HEADER,         /* waiting for the peer's stream header */
    S2S_ST_FEATURES,       /* out: header read, waiting for <stream:features/> */
    S2S_ST_NEGOTIATING,    /* in: features sent, waiting for STARTTLS, SASL or dialback */
    S2S_ST_STARTTLS,       /* out: <starttls/> sent, waiting for <proceed/> */
    S2S_ST_SASL,           /* out: <auth/> sent, waiting for <success/> */
    S2S_ST_DIALBACK,       /* out: <db:result/> sent, waiting for its answer */
    S2S_ST_ESTABLISHED,    /* authenticated: stanzas flow */
    S2S_ST_CLOSING,        /* closed by us or the peer; flushing, accepts nothing */
    S2S_ST_COUNT
};

/* Kinds of first-level elements (after the stream header). */
enum s2s_elem {
    S2S_EL_FEATURES = 0, /* stream:features */
    S2S_EL_STREAM_ERROR, /* stream:error */
    S2S_EL_STARTTLS,     /* urn:ietf:params:xml:ns:xmpp-tls starttls */
    S2S_EL_PROCEED,      /* ... proceed */
    S2S_EL_TLS_FAILURE,  /* ... failure */
    S2S_EL_SASL_AUTH,    /* urn:ietf:params:xml:ns:xmpp-sasl auth */
    S2S_EL_SASL_SUCCESS,
    S2S_EL_SASL_FAILURE,
    S2S_EL_SASL_OTHER, /* challenge, response, abort */
    S2S_EL_DB_RESULT,  /* jabber:server:dialback result */
    S2S_EL_DB_VERIFY,  /* jabber:server:dialback verify */
    S2S_EL_BIDI,       /* urn:xmpp:bidi bidi (XEP-0288) */
    S2S_EL_STANZA,     /* jabber:server message, presence, iq */
    S2S_EL_SM,         /* urn:xmpp:sm:3 enable, enabled, failed, r, a (XEP-0198) */
    S2S_EL_OTHER,      /* anything else: unsupported-stanza-type */
    S2S_EL_COUNT
};

/* Classifies a first-level element. */
enum s2s_elem s2s_elem_classify(const struct stanza *el);

/* The accept table: whether a stream of this direction in this state takes
 * an element of this kind (it may still be refused by policy). */
bool s2s_state_accepts(enum s2s_dir, enum s2s_state, enum s2s_elem);

/* The stream error for an element the table refuses: stanzas and other
 * negotiation elements before authentication are not-authorized (RFC 6120
 * sections 4.3.4, 4.9.3.12), unknown elements unsupported-stanza-type
 * (section 4.9.3.22). */
enum s2s_stream_error s2s_refusal(enum s2s_dir, enum s2s_state, enum s2s_elem);

const char *s2s_state_name(enum s2s_state);
const char *s2s_elem_name(enum s2s_elem);

/* Accepts an inbound stream on fd (taken over; closed on failure).
 * direct_tls: the XEP-0368 listener. Returns the stream or NULL. */
struct s2s_stream *s2s_in_accept(struct edge *, int fd, const struct sockaddr *sa, socklen_t salen,
                                 bool direct_tls);

/* Hands a stanza to the outbound side: from_domain (hosted) to to_domain
 * (a partner's). Takes ownership of st. The stanza goes out on an
 * authenticated stream for the pair (an outbound one, or an inbound one on
 * which bidi was negotiated), a new outbound stream is set up when none
 * exists, and it waits in that stream's queue until it is authenticated.
 * ipc_peer/ipc_id name the IPC message it came in (0/0 for the edge's own
 * stanzas such as error replies): it is acknowledged when written, or
 * acknowledged with the error condition when the stream cannot be set up.
 * Returns 0 when taken, -1 when refused at once (*condition says why; the
 * caller acknowledges). */
int s2s_out_route(struct edge *, const char *from_domain, const char *to_domain, struct stanza *st,
                  uint64_t ipc_peer, uint64_t ipc_id, const char **condition);

/* Closes with a stream error (S2S_ERR_NONE: a plain </stream:stream>), text
 * for <text/> and the log (static, never peer bytes). Idempotent. */
void s2s_stream_close(struct s2s_stream *, enum s2s_stream_error, const char *text);

/* Frees now: closes the socket, fails everything queued, logs
 * "event=closed reason=<reason>". Only from the loop, not from callbacks of
 * this stream's parser or bufferevent. */
void s2s_stream_free(struct s2s_stream *, const char *reason);

/* Iteration over every stream (closing ones included), for statistics. */
struct s2s_stream *s2s_stream_first(struct edge *);
struct s2s_stream *s2s_stream_next(struct s2s_stream *);

/* The live stream with this serial, or NULL. */
struct s2s_stream *s2s_stream_find(struct edge *, uint64_t serial);

/* After a configuration swap: closes with <policy-violation/> every stream
 * whose partner is gone or whose partner's policy no longer allows how the
 * stream was authenticated; healthy streams are kept. Returns how many were
 * closed. */
unsigned s2s_streams_reconcile(struct edge *);

/* Resumes reading on the streams paused by IPC backpressure. */
void s2s_streams_resume(struct edge *);

/* Closes every stream with <system-shutdown/>. */
void s2s_streams_shutdown(struct edge *);

/* Read-only facts for statistics and logs. Strings are valid as long as
 * the stream; NULL when not known yet. */
uint64_t s2s_stream_serial(const struct s2s_stream *);
enum s2s_dir s2s_stream_dir(const struct s2s_stream *);
enum s2s_state s2s_stream_state(const struct s2s_stream *);
const char *s2s_stream_id(const struct s2s_stream *);
const char *s2s_stream_local(const struct s2s_stream *);
const char *s2s_stream_remote(const struct s2s_stream *);
const char *s2s_stream_tls_version(const struct s2s_stream *); /* "" when plain */
enum s2s_auth s2s_stream_auth(const struct s2s_stream *);
uint64_t s2s_stream_since(const struct s2s_stream *);
uint64_t s2s_stream_stanzas_in(const struct s2s_stream *);
uint64_t s2s_stream_stanzas_out(const struct s2s_stream *);
/* The partner's primary domain (its record in xfed.conf), NULL before the
 * peer named a partner. */
const char *s2s_stream_partner_domain(const struct s2s_stream *);
/* Stanzas waiting in an outbound stream's queue for authentication. */
size_t s2s_stream_queued(const struct s2s_stream *);
/* Stanzas written on an outbound stream and waiting for an XEP-0198 ack. */
size_t s2s_stream_unacked(const struct s2s_stream *);

#endif
