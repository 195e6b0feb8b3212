/*
 * gw_transaction.h - RFC 3261 section 17 non-INVITE client and server
 * transactions over reliable transport (the gateway speaks TCP or TLS
 * only, so nothing is retransmitted: Timer E and Timer K are zero,
 * section 17.1.2.2).
 *
 * Client (section 17.1.2): a request goes to the next hop through
 * gw_transport; responses are matched by the top Via branch and the CSeq
 * method (section 17.1.3). Provisional responses are absorbed; the first
 * final response is reported once, later ones (forks, duplicates) are
 * dropped. Without a final response within Timer F = 64*T1 (Timer B for
 * INVITE, which the gateway never sends) the callback gets NULL and the
 * caller acts as on a 408 (section 8.1.3.1). A response that matches no
 * transaction is dropped (section 17.1.3) and counted.
 *
 * Server (section 17.2.2): a request is matched by its top Via branch and
 * method (section 17.2.3). A new request opens a transaction; a
 * retransmission of one still open is absorbed, and one whose transaction
 * is answered gets the final response again. CANCEL of an open non-INVITE
 * transaction is answered 200 and changes nothing (section 9.2); CANCEL
 * of an unknown transaction gets 481. ACK is absorbed. A transaction that
 * its owner has not answered after 60*T1 (before the client's Timer F)
 * is answered 500 by the layer and its owner told through the abandon
 * callback. Answered transactions are kept for 4*T1 to absorb a
 * retransmission that crossed the answer (Timer J is zero on reliable
 * transport, section 17.2.2; the short window bounds memory at high
 * message rates).
 *
 * Everything runs on the daemon's loop; callbacks never run from inside
 * the call that caused them except gw_txn_response(), whose whole job is
 * to report.
 */
#ifndef XFED_GW_TRANSACTION_H
#define XFED_GW_TRANSACTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gw_sip.h"

struct event_base;
struct gw_transport;
struct gw_txn;  /* the transaction layer */
struct gw_stxn; /* one server transaction */

/* A final response to a client transaction, or NULL when Timer F fired or
 * the request could not be handed to the transport (act as on 408). resp
 * is borrowed for the call. */
typedef void gw_txn_cb(void *arg, const struct gw_sip_msg *resp);

/* The layer answered a server transaction itself (timeout, shutdown): its
 * owner must forget the pointer. */
typedef void gw_stxn_abandon_cb(void *arg, struct gw_stxn *st);

struct gw_txn *gw_txn_new(struct event_base *base, struct gw_transport *tp, unsigned t1_ms);

/* Frees everything; no callback runs. NULL is fine. */
void gw_txn_free(struct gw_txn *);

/* ---- client ------------------------------------------------------------- */

/* Sends bytes (a complete request whose top Via carries branch and whose
 * CSeq method is method) toward the next hop and starts Timer F. Returns a
 * handle > 0; cb is called exactly once (unless forgotten). 0 on memory
 * exhaustion or a branch already in use (nothing sent). */
uint64_t gw_txn_client(struct gw_txn *, const char *branch, const char *method, const char *bytes,
                       size_t len, gw_txn_cb *cb, void *arg);

/* The caller no longer wants the callback of handle. */
void gw_txn_client_forget(struct gw_txn *, uint64_t handle);

/* A response from the transport (owned by the call: freed here). */
void gw_txn_response(struct gw_txn *, struct gw_sip_msg *resp);

/* ---- server ------------------------------------------------------------- */

/*
 * A request from the transport on connection conn_id (ownership passes
 * here). Returns a new open transaction for the caller to answer, or NULL
 * when the layer handled it (retransmission, CANCEL, ACK). The request is
 * valid as long as the transaction is open.
 */
struct gw_stxn *gw_txn_server(struct gw_txn *, uint64_t conn_id, struct gw_sip_msg *req);

/* The request of an open transaction. */
const struct gw_sip_msg *gw_stxn_request(const struct gw_stxn *);

/* Sets who is told when the layer answers st itself. */
void gw_stxn_set_owner(struct gw_stxn *, gw_stxn_abandon_cb *cb, void *arg);

/*
 * Sends a response (1xx keeps the transaction open; a final one closes it,
 * after which st must not be used). A to_tag is added for responses that
 * need one when r->to_tag is NULL. Returns 0, or -1 when the response
 * could not be built or queued (for a final response the transaction is
 * closed anyway).
 */
int gw_stxn_respond(struct gw_txn *, struct gw_stxn *st, const struct gw_sip_response *r);

/* A short form: code and reason phrase (NULL for the standard one). */
int gw_stxn_reply(struct gw_txn *, struct gw_stxn *st, int code, const char *reason);

/* SIP methods counted one by one (gw_txn_method_name()); the last index
 * counts every other method. */
#define GW_TXN_METHODS 12

struct gw_txn_counters {
    uint64_t client_started, client_timeouts, stray_responses;
    uint64_t server_started, retransmissions, abandoned;
    size_t client_open, server_open;
    /* [0] received, [1] sent: requests by method, responses by class
     * (1xx..6xx at [0]..[5]) */
    uint64_t requests[2][GW_TXN_METHODS];
    uint64_t responses[2][6];
};
void gw_txn_counters(const struct gw_txn *, struct gw_txn_counters *out);

/* "MESSAGE", "SUBSCRIBE", ..., "other" for index i < GW_TXN_METHODS. */
const char *gw_txn_method_name(unsigned i);

#endif
