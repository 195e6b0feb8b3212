/*
 * ipc_zmq.h - the one glue file to ZeroMQ: a CURVE ROUTER (server) or DEALER
 * (client) socket driven by a libevent event_base.
 *
 * The server binds, enforces its allow-list of client public keys with a ZAP
 * handler on the same loop (a refused key is logged with its public key and
 * address) and refuses plaintext clients (CURVE is mandatory). The client
 * connects with its key pair and the server's public key. Each object owns
 * its own ZeroMQ context, so several can live in one process.
 *
 * ZMQ_FD is edge-triggered: after every send and receive ZMQ_EVENTS is read
 * again and pending input is drained (in bounded batches, continued from the
 * loop so one busy peer cannot starve it). Nothing blocks after creation.
 * Frames: the server receives/sends (identity, payload); the client
 * (payload). Frames of any other shape are dropped and counted.
 */
#ifndef XFED_IPC_ZMQ_H
#define XFED_IPC_ZMQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ipc_keys.h"

struct event_base;
struct ipc_zmq; /* opaque */

#define IPC_ZMQ_IDENT_MAX 255

/* One received frame. ident (server only, else NULL/0) and payload are
 * borrowed for the call. user_id is the ZAP User-Id of the sending
 * connection: on the server the client's Z85 public key, on the client "". */
typedef void ipc_zmq_recv_cb(const uint8_t *ident, size_t ident_len, const char *user_id,
                             const uint8_t *payload, size_t len, void *arg);

/* The socket can take messages again after a send failed with EAGAIN. */
typedef void ipc_zmq_writable_cb(void *arg);

/* A TCP connection of the socket closed (the socket monitor's
 * ZMQ_EVENT_DISCONNECTED): fd is the descriptor it had, as
 * ipc_zmq_current_fd() reported it for the frames that came over it. */
typedef void ipc_zmq_disconnected_cb(int fd, void *arg);

/* Server: binds endpoint with the key pair; allow is copied. maxmsgsize caps
 * one received frame (a larger one drops that connection). sndhwm is the
 * per-peer send queue in messages. NULL on error (logged). */
struct ipc_zmq *ipc_zmq_server_new(struct event_base *base, const char *endpoint,
                                   const struct ipc_keypair *own, const struct ipc_allowlist *allow,
                                   size_t maxmsgsize, unsigned sndhwm, ipc_zmq_recv_cb *recv,
                                   ipc_zmq_writable_cb *writable, void *arg);

/* Client: connects endpoint. NULL on error (logged). */
struct ipc_zmq *ipc_zmq_client_new(struct event_base *base, const char *endpoint,
                                   const struct ipc_keypair *own, const char *server_public_key,
                                   size_t maxmsgsize, unsigned sndhwm, ipc_zmq_recv_cb *recv,
                                   ipc_zmq_writable_cb *writable, void *arg);

/* Plaintext (NULL mechanism) client, for tests that must see it refused. */
struct ipc_zmq *ipc_zmq_plain_client_new(struct event_base *base, const char *endpoint,
                                         size_t maxmsgsize, ipc_zmq_recv_cb *recv, void *arg);

/* Closes the socket and frees. Blocks at most 200 ms while messages still
 * queued for a connected peer (last ACKs, GOODBYE) leave. NULL is fine. Not
 * from inside this object's recv callback. */
void ipc_zmq_free(struct ipc_zmq *);

/* Server: replaces the allow-list used for new connections. 0 or -1 (ENOMEM). */
int ipc_zmq_set_allowlist(struct ipc_zmq *, const struct ipc_allowlist *allow);

/* Sends one message without blocking; ident is required on the server and
 * ignored on the client. Returns 0, or -1 with errno: EAGAIN (peer's queue
 * full or not connected yet: writable is called when that may have changed),
 * EHOSTUNREACH (server: no such peer connection), others from ZeroMQ. */
int ipc_zmq_send(struct ipc_zmq *, const uint8_t *ident, size_t ident_len, const uint8_t *buf,
                 size_t len);

/* The endpoint actually bound (a "tcp://127.0.0.1:*" bind resolves the
 * port), valid while the object lives; on the client the endpoint given. */
const char *ipc_zmq_endpoint(const struct ipc_zmq *);

/* Client: a CURVE session with the server is up (handshake succeeded and no
 * disconnect since, as the socket monitor reports it). Server: true. */
bool ipc_zmq_connected(const struct ipc_zmq *);

/* Called for every closed connection from now on (NULL: none). */
void ipc_zmq_set_disconnected_cb(struct ipc_zmq *, ipc_zmq_disconnected_cb *cb);

/* During an ipc_zmq_recv_cb: the descriptor of the TCP connection the frame
 * came over (libzmq's ZMQ_SRCFD), or -1 when unknown. */
int ipc_zmq_current_fd(const struct ipc_zmq *);

/* Frames dropped because of their shape (multipart count, identity). */
uint64_t ipc_zmq_bad_frames(const struct ipc_zmq *);

/* CURVE helpers for ipc_keys.c: fresh pair, and public from secret. 0 / -1. */
int ipc_zmq_curve_keypair(char public_z85[41], char secret_z85[41]);
int ipc_zmq_curve_public(char public_z85[41], const char *secret_z85);

#endif
