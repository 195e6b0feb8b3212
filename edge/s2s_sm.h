/*
 * s2s_sm.h - XEP-0198 Stream Management counters and the queue of
 * unacknowledged stanzas of one s2s stream.
 *
 * Pure bookkeeping, no I/O: s2s_stream.c and s2s_out.c decide when to send
 * <enable/>, <r/> and <a/> and what to do with what is acknowledged.
 * Counters are 32-bit and wrap at 2^32 (XEP-0198 section 4: 'h' goes back
 * to zero after 2^32 - 1, i.e. arithmetic modulo 2^32), so every
 * difference is taken in uint32_t.
 *
 * Resumption (XEP-0198 section 5) is not offered nor used: no s2s peer
 * implements it. When a stream with unacknowledged stanzas breaks, the
 * outbound side sends them again on a fresh stream (section 5 says the
 * unacknowledged stanzas of a stream that is not resumed are to be handled
 * as not delivered; for a server that means routing them again), so a
 * stanza the peer handled but whose ack was lost with the stream can
 * arrive twice; none is lost.
 */
#ifndef XFED_S2S_SM_H
#define XFED_S2S_SM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#define S2S_NS_SM "urn:xmpp:sm:3"

struct s2s_queued;
TAILQ_HEAD(s2s_queue, s2s_queued);

struct s2s_sm {
    bool out_on;              /* counting what we send: we sent <enable/> (or got one) */
    bool in_on;               /* counting what we handle: the peer enabled, or we did */
    bool requested;           /* outbound: <enable/> sent */
    bool confirmed;           /* <enabled/> received (outbound) or sent (inbound) */
    bool r_pending;           /* an <r/> of ours is unanswered */
    uint32_t h_in;            /* stanzas handled from the peer, modulo 2^32 */
    uint32_t sent;            /* stanzas sent since enabling, modulo 2^32 */
    uint32_t acked;           /* the last 'h' the peer acknowledged */
    uint64_t resent;          /* stanzas of this stream sent again elsewhere */
    struct s2s_queue unacked; /* sent, not acknowledged yet, oldest first */
    size_t n_unacked;         /* entries in unacked */
};

void s2s_sm_init(struct s2s_sm *);

/* Parses an 'h' attribute: decimal digits only, 0 .. 2^32 - 1 (XEP-0198
 * section 4: xs:unsignedInt). Returns 0, or -1 for anything else. */
int s2s_sm_parse_h(const char *text, uint32_t *h);

/* A stanza was sent while out_on: counted; q (may be NULL when the stanza
 * is not kept) joins the tail of the unacknowledged queue. */
void s2s_sm_sent(struct s2s_sm *, struct s2s_queued *q);

/* Stanzas sent and not acknowledged yet, modulo 2^32. */
uint32_t s2s_sm_outstanding(const struct s2s_sm *);

/* The peer's <a h='h'/>: moves the stanzas it acknowledges (the oldest
 * ones) from the unacknowledged queue to the tail of done and returns how
 * many stanzas h acknowledges (0 for a repeated h). Returns -1 and changes
 * nothing when h acknowledges more than was sent (XEP-0198 section 4: the
 * stream is then closed with <undefined-condition/>). */
long s2s_sm_ack(struct s2s_sm *, uint32_t h, struct s2s_queue *done);

/* A stanza handled from the peer (in_on): returns the new h. */
uint32_t s2s_sm_handled(struct s2s_sm *);

#endif
