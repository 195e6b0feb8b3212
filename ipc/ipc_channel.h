/*
 * ipc_channel.h - the reliable, authenticated message channel between
 * xfed-edge (server: binds, many peers) and xfed-gateway or an operator tool
 * (client: connects to one edge; a gateway that talks to several edges owns
 * one client channel per edge).
 *
 * What it adds on top of the CURVE socket of ipc_zmq.h:
 * - a session per peer: the client sends HELLO until the server answers
 *   HELLO_ACK; the server keeps per-peer state keyed by the peer's ZeroMQ
 *   identity, and accepts a HELLO only from a key on its allow-list (checked
 *   again on every HELLO, so removing a key refuses that gateway's next
 *   session);
 * - message ids: every message carries the sender's random incarnation id and
 *   an id counting up from 1 (see ipc_msg.h);
 * - acknowledgements: reliable types (ipc_msg_type_reliable()) stay in a
 *   bounded per-peer queue until the peer's ACK arrives and are re-sent every
 *   resend_ms until then; the receiver drops duplicates by id (bounded window
 *   per sending process, kept for a minute after its session ends so a
 *   reconnecting peer is still recognised) and answers a duplicate with the
 *   ACK it already gave;
 * - heartbeats both ways every heartbeat_ms, and peer-dead detection after
 *   dead_ms of silence. A dead peer's unacknowledged messages are handed back
 *   to the application one by one (cbs.unacked) so it can re-send them, with
 *   the same id, to a surviving peer (issue 6) or answer them with an error;
 * - batching (ipc_msg.h, "Batching"): what is sent to a peer during one turn
 *   of the event loop, acknowledgements included, leaves as one ZeroMQ frame
 *   when the turn ends (or sooner, when batch_bytes_max or batch_count_max is
 *   reached). ipc_channel_send() and ipc_channel_ack() queue; the frame goes
 *   from a libevent event the channel makes active, so a message waits at
 *   most one loop iteration. The application sees nothing of it: messages
 *   arrive one by one through cbs.recv and cbs.acked as before.
 *
 * The channel never acknowledges a reliable message by itself: the
 * application calls ipc_channel_ack() exactly once per delivered reliable
 * message, when it has taken responsibility for it (handed it on, or decided
 * the error), possibly long after the recv callback returned. Until then a
 * re-sent copy is silently dropped.
 *
 * Threading and blocking: everything runs on the caller's libevent
 * event_base, one thread. No call blocks. Callbacks run from the loop, never
 * from inside ipc_channel_send()/ipc_channel_ack(), so they may call any
 * function here, including ipc_channel_free() only from outside callbacks.
 *
 * Nothing a peer sends can crash the process: undecodable frames are counted
 * and logged at INFO with the peer's identity and the codec's reason, and
 * dropped; an oversized reliable message whose header is readable is answered
 * with an error ACK (condition "policy-violation") so its sender stops
 * re-sending it.
 */
#ifndef XFED_IPC_CHANNEL_H
#define XFED_IPC_CHANNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ipc_keys.h"
#include "ipc_msg.h"

struct event_base;
struct ipc_channel; /* opaque */
struct ipc_peer;    /* opaque, owned by the channel */

/* Every limit of the channel. Fill with ipc_channel_settings_default() and
 * change what you need. */
struct ipc_channel_settings {
    unsigned heartbeat_ms;    /* 500: a HEARTBEAT goes to each peer this often */
    unsigned dead_ms;         /* 2000: a peer silent this long is dead */
    unsigned resend_ms;       /* 1000: an unacknowledged message is re-sent after this */
    unsigned unacked_max;     /* 65536 per peer: ipc_channel_send() fails ENOBUFS above */
    unsigned dedup_window;    /* 131072 per peer: ids remembered for duplicate
                                 suppression; keep it above the peer's unacked_max */
    unsigned sndhwm;          /* 100000: ZeroMQ send high-water mark, messages */
    struct ipc_limits limits; /* stanza and configuration caps */
    unsigned drop_ack_one_in; /* fault injection for tests ONLY: do not transmit every
                                 Nth ACK (it is recorded as given). 0 = off (default);
                                 no configuration file reaches it */
    size_t unacked_bytes_max; /* 256 MiB per peer: encoded bytes kept for re-sending;
                                 ipc_channel_send() fails ENOBUFS above */
    size_t batch_bytes_max;   /* 65536: a batch frame goes out before it would grow past
                                 this many bytes (IPC_BATCH_BYTES_MIN .. IPC_BATCH_BYTES_MAX) */
    unsigned batch_count_max; /* 1024: ... or hold more messages than this (1 ..
                                 IPC_BATCH_COUNT_MAX; 1 sends every message in a frame
                                 of its own) */
};

void ipc_channel_settings_default(struct ipc_channel_settings *);

/* The application's callbacks. Any may be NULL. A borrowed struct ipc_peer *
 * stays valid until peers_down for it has returned; keep ipc_peer_id() and
 * look it up with ipc_channel_peer_find() when acknowledging later. A
 * borrowed struct ipc_msg * is valid only during the call. */
struct ipc_channel_cbs {
    /* A session is established (server: HELLO from an allowed key; client:
     * HELLO_ACK received). */
    void (*peer_up)(struct ipc_channel *, struct ipc_peer *, void *arg);

    /* The peer is dead ("heartbeat timeout"), said GOODBYE ("goodbye: ..."),
     * started a new incarnation ("restarted"), lost its key ("key removed")
     * or the channel is being freed ("shutdown"). Called once, before the
     * unacked callbacks for its messages; sending to it now fails ENOTCONN. */
    void (*peer_down)(struct ipc_channel *, struct ipc_peer *, const char *reason, void *arg);

    /* A message arrived: STANZA_IN, STANZA_OUT, BOUNCE, CONFIG_PUSH,
     * CONFIG_ACK (reliable: call ipc_channel_ack() for it exactly once), or
     * STATS_REQUEST, STATS (best effort). HELLO, HELLO_ACK, HEARTBEAT,
     * GOODBYE and ACK are handled by the channel and never appear here.
     * Each reliable (incarnation, id) is delivered at most once per peer
     * session. */
    void (*recv)(struct ipc_channel *, struct ipc_peer *, const struct ipc_msg *, void *arg);

    /* The peer acknowledged one of our reliable messages: ack->ack.acked_id
     * names it, ack->ack.status / condition / text say how it went. The
     * message is no longer ours to re-send. Called once per message. */
    void (*acked)(struct ipc_channel *, struct ipc_peer *, const struct ipc_msg *ack, void *arg);

    /* One of our reliable messages will not be delivered to this peer any
     * more (the peer went down before acknowledging it). msg is the message
     * as sent, id included: re-send it with ipc_channel_send() to another
     * peer (the id is kept) or answer it with an error. Called once per
     * message, in the order they were first sent. */
    void (*unacked)(struct ipc_channel *, struct ipc_peer *, const struct ipc_msg *msg, void *arg);

    /* The peer answered one of our reliable messages with an error ACK
     * (ack->ack.status IPC_ACK_ERROR); sent is that message as sent (decoded
     * from the channel's copy, id included), so the application need not keep
     * its own record of every message in flight to answer the failure. Called
     * just before acked for the same ACK, and only for error ACKs. */
    void (*refused)(struct ipc_channel *, struct ipc_peer *, const struct ipc_msg *ack,
                    const struct ipc_msg *sent, void *arg);
};

/* Server (edge): binds endpoint ("tcp://127.0.0.1:5555") as CURVE server with
 * the edge key pair; only client keys in allow (copied) may connect, a refused
 * key is logged with its public key and address. name is this instance's name
 * for HELLO_ACK. Returns NULL with an error logged (bad endpoint, address in
 * use, no CURVE support). Blocks only while binding. */
struct ipc_channel *ipc_channel_server_new(struct event_base *base, const char *endpoint,
                                           const char *name, const struct ipc_keypair *own,
                                           const struct ipc_allowlist *allow,
                                           const struct ipc_channel_settings *settings,
                                           const struct ipc_channel_cbs *cbs, void *arg);

/* Client (gateway or tool): connects to endpoint as CURVE client with its own
 * key pair and the server's public key, and keeps trying (ZeroMQ reconnects;
 * HELLO is repeated every heartbeat_ms until answered). role is
 * IPC_ROLE_GATEWAY or IPC_ROLE_TOOL. Returns NULL with an error logged. */
struct ipc_channel *ipc_channel_client_new(struct event_base *base, const char *endpoint,
                                           const char *name, enum ipc_role role,
                                           const struct ipc_keypair *own,
                                           const char *server_public_key,
                                           const struct ipc_channel_settings *settings,
                                           const struct ipc_channel_cbs *cbs, void *arg);

/* Sends GOODBYE to every live peer (best effort), calls peer_down and
 * unacked for each as for "shutdown", closes the socket, frees everything.
 * NULL is fine. Not from inside a callback of the same channel. */
void ipc_channel_free(struct ipc_channel *);

/* Server: replaces the allow-list (copied). Live peers whose key is no longer
 * on it go down with "key removed" and their later messages are dropped.
 * Returns 0, or -1 on a client channel (EINVAL) or memory. */
int ipc_channel_set_allowlist(struct ipc_channel *, const struct ipc_allowlist *allow);

/* Sends m to peer. m->incarnation is set to the channel's. For a reliable
 * type an id of 0 is replaced by the next id (written back into m->id); a
 * non-zero id is kept (re-sending a message from the unacked callback). The
 * message is encoded before returning: m and what it points to are borrowed
 * for the call only. It leaves in the peer's batch at the end of this loop
 * iteration at the latest (ipc_channel_free() sends what is still queued).
 * Returns 0 when queued (a reliable message is then owned
 * by the channel until acked or unacked reports it), or -1 with errno:
 * ENOTCONN peer is down, ENOBUFS its unacknowledged queue is full, EMSGSIZE a
 * field is above its limit, EINVAL a malformed message or a type the channel
 * sends itself (HELLO, HELLO_ACK, HEARTBEAT, ACK, GOODBYE), EAGAIN a best
 * effort message cannot be handed to ZeroMQ now: the peer's batch is full
 * and ZeroMQ refuses it (reliable ones wait in the queue instead and never
 * fail with EAGAIN). */
int ipc_channel_send(struct ipc_channel *, struct ipc_peer *peer, struct ipc_msg *m);

/* Acknowledges the reliable message id received from peer: condition NULL
 * or "" means ok, otherwise an XMPP stanza error condition (RFC 6120 section
 * 8.3.3) with optional text. Remembered in the duplicate window, so a re-sent
 * copy gets the same answer; an id already pushed out of the window is still
 * acknowledged. Returns 0, or -1 with errno: ENOTCONN peer down (its sender
 * will re-send, and the message is delivered again on the next session),
 * ENOENT id 0, EALREADY already acknowledged, EMSGSIZE condition or text too
 * long. An ok acknowledgement is coalesced with the others given during this
 * loop iteration into one ACK_RANGES; an error one travels as its own ACK.
 * Either leaves with the peer's batch. */
int ipc_channel_ack(struct ipc_channel *, struct ipc_peer *peer, uint64_t id, const char *condition,
                    const char *text);

/* Client: the server's session, or NULL while not established. */
struct ipc_peer *ipc_channel_server_peer(struct ipc_channel *);

/* Live peers in the order their sessions started; fills up to max entries of
 * v and returns how many there are in total. */
size_t ipc_channel_peers(struct ipc_channel *, struct ipc_peer **v, size_t max);

/* The live peer with this ipc_peer_id(), or NULL. */
struct ipc_peer *ipc_channel_peer_find(struct ipc_channel *, uint64_t peer_id);

/* Server: the endpoint actually bound ("tcp://127.0.0.1:*" resolved to its
 * port); client: the endpoint given. Valid as long as the channel. */
const char *ipc_channel_endpoint(const struct ipc_channel *);

/* This channel's incarnation id (random, drawn at creation). */
uint64_t ipc_channel_incarnation(const struct ipc_channel *);

struct ipc_channel_counters {
    uint64_t sent;       /* messages handed to ZeroMQ (alone or in a batch), re-sends included */
    uint64_t received;   /* frames received */
    uint64_t resent;     /* re-sends after a timeout */
    uint64_t duplicates; /* duplicate reliable messages dropped */
    uint64_t acks_sent;  /* ids acknowledged (each id of an ACK_RANGES counts one) */
    uint64_t acks_received;
    uint64_t decode_errors; /* frames refused by the codec */
    uint64_t refused;       /* HELLO from keys not allowed, messages from unknown peers */
    uint64_t peers_up;
    uint64_t peers_down;
    uint64_t frames_sent;   /* ZeroMQ frames the sent messages went in */
    uint64_t msgs_received; /* messages in the frames received (a batch's items one by one) */
};
void ipc_channel_counters(const struct ipc_channel *, struct ipc_channel_counters *out);

/* Peer accessors. Strings are valid as long as the peer. */
uint64_t ipc_peer_id(const struct ipc_peer *);          /* unique within the channel */
const char *ipc_peer_name(const struct ipc_peer *);     /* instance name from HELLO */
const char *ipc_peer_key_name(const struct ipc_peer *); /* server: allow-list name; client: "" */
enum ipc_role ipc_peer_role(const struct ipc_peer *);
uint64_t ipc_peer_incarnation(const struct ipc_peer *);
uint32_t ipc_peer_capabilities(const struct ipc_peer *);
uint64_t ipc_peer_since(const struct ipc_peer *); /* unix time the session started */
size_t ipc_peer_unacked(const struct ipc_peer *); /* our messages waiting for its ACK */
bool ipc_peer_alive(const struct ipc_peer *);

#endif
