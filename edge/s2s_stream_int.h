/*
 * s2s_stream_int.h - the inside of struct s2s_stream, shared only by the
 * s2s_*.c files of the edge (s2s_stream.c, s2s_in.c, s2s_out.c,
 * s2s_dialback.c). Everything else uses s2s_stream.h.
 */
#ifndef XFED_S2S_STREAM_INT_H
#define XFED_S2S_STREAM_INT_H

#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <time.h>

#include "edge.h"
#include "s2s_dialback_key.h"
#include "s2s_policy.h"
#include "s2s_resolver.h"
#include "s2s_sm.h"
#include "s2s_stream.h"
#include "tls.h"
#include "xml_stream.h"

struct bufferevent;
struct event;
struct metric;
struct xml_stream_header;

/* Direction-specific behaviour (s2s_in.c, s2s_out.c). */
struct s2s_ops {
    /* The peer's stream header. Return 0 to go on, -1 to stop parsing
     * (the stream was closed or restarted). */
    int (*header)(struct s2s_stream *, const struct xml_stream_header *);
    /* A first-level element the accept table allows. Same return. */
    int (*element)(struct s2s_stream *, enum s2s_elem, struct stanza *);
    /* TCP connected (outbound plain connect). */
    void (*connected)(struct s2s_stream *);
    /* TLS handshake finished. */
    void (*tls_done)(struct s2s_stream *);
    /* The transport failed before the stream was established (outbound:
     * try the next address). Return true when handled (the stream lives
     * on), false to free it. */
    bool (*transport_failed)(struct s2s_stream *, const char *reason);
    /* The stream is being freed: release direction-specific state. */
    void (*cleanup)(struct s2s_stream *, const char *reason);
};

extern const struct s2s_ops s2s_in_ops;
extern const struct s2s_ops s2s_out_ops;

/* A domain pair authorised on a stream (XEP-0220 section 2.6). */
enum s2s_pair_state { S2S_PAIR_PENDING = 0, S2S_PAIR_VALID };
struct s2s_pair {
    char *local;  /* hosted domain */
    char *remote; /* partner domain */
    enum s2s_pair_state state;
    enum s2s_auth auth;
};

/* An outbound stanza waiting for its stream (or for the TCP to drain). */
struct s2s_queued {
    TAILQ_ENTRY(s2s_queued) link;
    struct stanza *st;
    uint64_t ipc_peer, ipc_id;
    unsigned resends; /* times sent again after an XEP-0198 stream broke */
};

/* A <db:verify/> we owe the authoritative server (receiving role, XEP-0220
 * section 2.1.2), sent on the outbound stream for (local, remote). */
struct s2s_verify_req {
    TAILQ_ENTRY(s2s_verify_req) link;
    uint64_t in_serial; /* the inbound stream that received the key */
    char *local, *remote, *id, *key;
    bool sent;
    /* XEP-0344 section 2.6: the certificate the originating server showed
     * on the inbound stream, when it showed one over TLS. */
    bool has_cert;
    unsigned char cert[TLS_CERT_DIGEST_LEN];
};
TAILQ_HEAD(s2s_verify_list, s2s_verify_req);

struct s2s_endpoint_copy {
    struct sockaddr_storage addr;
    socklen_t addrlen;
    bool direct_tls;
    char host[S2S_DNS_NAME_BUFSZ];
};

struct s2s_stream {
    TAILQ_ENTRY(s2s_stream) link;
    struct edge *edge;
    const struct s2s_ops *ops;
    uint64_t serial;
    enum s2s_dir dir;
    enum s2s_state state;
    struct bufferevent *bev;
    struct ssl_st *ssl; /* owned by bev once TLS started */
    struct xml_stream *xml;
    struct event *ev_timer;
    struct event *ev_free;

    bool tls;               /* TLS active */
    bool direct_tls;        /* XEP-0368 */
    enum tls_verify verify; /* chain verification of the peer's certificate */
    bool header_sent;       /* our stream header is out */
    bool restart;           /* parser must restart before the next byte */
    bool start_tls;         /* TLS must start before the next byte */
    bool counted_pending;   /* counted in edge->n_pending_in */
    bool bidi;              /* XEP-0288 negotiated */
    bool authenticated;     /* at least one pair valid / SASL done */
    bool sasl_done;         /* SASL EXTERNAL succeeded (any hosted local allowed) */
    bool shut_wr;           /* closing: our side is half-closed */
    bool paused;            /* reading stopped by IPC backpressure */
    bool feat_sm;           /* the peer offered XEP-0198 <sm xmlns='urn:xmpp:sm:3'/> */
    unsigned sasl_failures;
    const char *free_reason;

    char peer[INET6_ADDRSTRLEN + 8]; /* "addr:port" for logs */
    char id[64];                     /* the stream id: ours (in) or the peer's (out) */
    char *local;                     /* hosted domain of the header (in: to, out: from) */
    char *remote;                    /* partner domain of the header (in: from, out: to) */
    char *partner;                   /* primary domain of remote's partner record */
    struct s2s_pair *pairs;
    size_t n_pairs;

    /* timers: monotonic seconds; 0 = not armed */
    time_t t_establish; /* deadline to become established */
    time_t t_connect;   /* out: deadline of the current connect attempt */
    time_t last_in, last_out;
    time_t t_ping;  /* deadline for the answer to our ping; 0 none */
    time_t t_close; /* deadline to finish flushing */
    uint64_t ping_seq;

    size_t unauth_in; /* bytes read before authentication */
    uint64_t since;   /* unix time */
    uint64_t stanzas_in, stanzas_out;
    /* XEP-0198 (s2s_sm.h): counters, the unacknowledged stanzas of an
     * outbound stream, and the timer that requests acks. */
    struct s2s_sm sm;
    struct event *ev_sm;
    /* xfed_edge_stanzas_total of partner and direction, looked up once the
     * stream is authenticated (discarding handles until then). */
    struct metric *m_stanzas_in, *m_stanzas_out;
    /* Why the handshake failed, once known (a static string of
     * edge_metrics_handshake_failure()); counted when a stream that never
     * authenticated is freed. */
    const char *hs_reason;

    /* outbound */
    struct s2s_lookup *lookup;
    struct s2s_endpoint_copy *eps;
    size_t n_eps, next_ep;
    bool saw_timeout; /* some attempt timed out (bounce with -timeout) */
    bool feat_starttls, feat_external, feat_dialback_errors, feat_bidi;
    bool cert_ok;     /* peer certificate verified for remote */
    bool verify_only; /* opened to verify keys only */
    struct s2s_queue queue;
    size_t n_queue;
    struct s2s_verify_list verifies;
    const char *fail_condition; /* bounce condition when it fails */
};

/* s2s_stream.c */
struct s2s_stream *s2s_stream_new(struct edge *, enum s2s_dir, const struct s2s_ops *);
/* Attaches a bufferevent (taken over) and enables reading. */
void s2s_stream_attach(struct s2s_stream *, struct bufferevent *bev);
/* Starts TLS on the current bufferevent (STARTTLS); ssl taken over.
 * connecting: client role. Returns 0 or -1. */
int s2s_stream_tls_start(struct s2s_stream *, struct ssl_st *ssl, bool connecting);
/* Records the peer's certificate verification result after the handshake
 * and logs the TLS parameters. */
void s2s_stream_tls_record(struct s2s_stream *);
/* Writes raw bytes / a formatted string / an element. */
void s2s_stream_write(struct s2s_stream *, const char *buf, size_t len);
void s2s_stream_printf(struct s2s_stream *, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void s2s_stream_send(struct s2s_stream *, const struct stanza *el);
/* Our stream header: from/to/id as given (id NULL: none). */
void s2s_stream_send_header(struct s2s_stream *, const char *from, const char *to, const char *id);
/* A fresh random stream id into s->id (RFC 6120 section 4.7.3). */
int s2s_stream_new_id(struct s2s_stream *);
/* Schedules the parser restart after the current element. */
void s2s_stream_want_restart(struct s2s_stream *);
/* Changes state and re-arms the timer. */
void s2s_stream_set_state(struct s2s_stream *, enum s2s_state);
/* The stream became authenticated: stops the establishment timer. */
void s2s_stream_established(struct s2s_stream *);
/* Re-arms the timer after a deadline changed. */
void s2s_stream_timer_update(struct s2s_stream *);
/* Records why the handshake failed, unless the stream is authenticated or
 * a reason is known already (the first, most specific one stays). */
void s2s_stream_hs_reason(struct s2s_stream *, const char *reason);
/* Frees from the loop soon (never inside callbacks). */
void s2s_stream_free_later(struct s2s_stream *, const char *reason);
time_t s2s_now(void);
/* One log line: "stream=<serial> dir=.. peer=.. local=.. remote=.. event=<event> <fields>". */
void s2s_log(const struct s2s_stream *, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Pairs. */
struct s2s_pair *s2s_pair_find(struct s2s_stream *, const char *local, const char *remote);
struct s2s_pair *s2s_pair_add(struct s2s_stream *, const char *local, const char *remote);
/* Whether stanzas from remote to local may flow on this stream in the
 * direction the peer sends. */
bool s2s_pair_valid(struct s2s_stream *, const char *local, const char *remote);

/* The peer's certificate chain verified and names domain (RFC 6120 section
 * 13.7.2, s2s_cert.h), checked now on the live TLS session. */
bool s2s_stream_cert_ok(struct s2s_stream *, const char *domain);

/* The partner record of the stream's remote domain in the current
 * configuration, or NULL when it is no longer a partner. */
const struct conf_partner *s2s_stream_partner(const struct s2s_stream *);

/* Domain of a JID attribute value, normalised into out; -1 if invalid. */
int s2s_jid_domain(const char *jid, char *out, size_t outlen);

/* s2s_in.c */
/* Delivers the answer of an authoritative server to the inbound stream that
 * received the key (valid: "valid", "invalid" or "error" with condition). */
void s2s_in_dialback_answer(struct edge *, uint64_t in_serial, const char *local,
                            const char *remote, const char *type, const char *condition);

/* s2s_out.c */
/* Asks the authoritative server for remote whether key is valid for
 * (local, remote, id) on behalf of inbound stream in_serial. Returns 0, or
 * -1 when no outbound stream can be made (the caller answers with an
 * error). in_cert: SHA-256 of the certificate the originating server showed
 * on the inbound TLS stream, or NULL (XEP-0344 section 2.6). */
int s2s_out_verify(struct edge *, uint64_t in_serial, const char *local, const char *remote,
                   const char *id, const char *key, const unsigned char *in_cert);
/* Fails an outbound stream: bounces its queue with condition, fails its
 * verify requests, and closes. */
void s2s_out_fail(struct s2s_stream *, const char *condition, const char *why);
/* Finds or starts the outbound stream for (local, remote); NULL with
 * *condition set when none can be had. */
struct s2s_stream *s2s_out_get(struct edge *, const char *local, const char *remote,
                               const char **condition);
/* Sends what waits in the queue (established streams). */
void s2s_out_flush(struct s2s_stream *);
/* XEP-0198 on an established stream: a first-level element of
 * urn:xmpp:sm:3 (enable, enabled, failed, r, a). Returns 0, or -1 when the
 * stream was closed. */
int s2s_sm_element(struct s2s_stream *, struct stanza *el);
/* Outbound, once authenticated: sends <enable/> when the peer offered it
 * and edge.conf allows it. */
void s2s_sm_out_start(struct s2s_stream *);
/* Whether an outbound stream may write one more stanza now (false while
 * sm_max_unacked stanzas wait for their ack). */
bool s2s_sm_may_send(const struct s2s_stream *);
/* A stanza was written on s: kept until acknowledged when XEP-0198 runs
 * on this outbound stream (returns true: q taken), false otherwise (the
 * caller acknowledges q at once). q NULL: counted only. */
bool s2s_sm_track(struct s2s_stream *, struct s2s_queued *q);
/* Outbound stream going away: hands its unacknowledged stanzas, oldest
 * first, followed by those still queued, to a fresh stream for the same
 * pair. Returns how many were handed over (0 when nothing applies). */
size_t s2s_sm_out_resend(struct s2s_stream *);
/* Releases the XEP-0198 timer (s2s_stream_free). */
void s2s_sm_free(struct s2s_stream *);

/* Acknowledges (condition NULL: ok) the IPC message of a queued stanza,
 * or bounces an own stanza. Frees q. */
void s2s_queued_done(struct edge *, struct s2s_queued *q, const char *condition, const char *text);

#endif
