/*
 * gw_transport.h - SIP over TCP and TLS (RFC 3261 section 18) on libevent
 * bufferevents: one connection to the configured next hop (the internal
 * SIP server), re-opened with a doubling back-off when it fails, and a
 * listener accepting the connections on which the SIP server sends the
 * requests it routes to the gateway.
 *
 * Framing is by Content-Length through gw_sip_frame(); every complete
 * message is parsed with gw_sip_parse() and handed to the callback. Bytes
 * that do not frame close the connection (after the 400/413 gw_sip says
 * to send, when one can be built); a request that frames but does not parse
 * is answered 400 with gw_sip_bad_request() and the connection goes on.
 * CRLFCRLF keep-alive pings are answered with CRLF (RFC 5626 section
 * 3.5.1).
 *
 * TLS uses common/tls.h contexts (the next hop's chain must verify against
 * sip_ca_file or the system store; the listener presents sip_cert_file).
 * Nothing here blocks; it runs on the daemon's loop.
 */
#ifndef XFED_GW_TRANSPORT_H
#define XFED_GW_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct gw_conf;
struct gw_sip_msg;
struct gw_transport;

struct gw_transport_cbs {
    /* One message from connection conn_id; m is the callee's (free it with
     * gw_sip_msg_free). Requests are already past gw_sip_msg_check() only
     * if the callee checks: nothing is checked here beyond parsing. */
    void (*message)(void *arg, uint64_t conn_id, struct gw_sip_msg *m);
    /* The next-hop connection came up (true) or went down (false). */
    void (*next_hop)(void *arg, bool up);
};

/* Binds the listener (when sip_listen is not "") and starts connecting to
 * the next hop. NULL with a reason in err. */
struct gw_transport *gw_transport_new(struct event_base *base, const struct gw_conf *gc,
                                      const struct gw_transport_cbs *cbs, void *arg, char *err,
                                      size_t errlen);

/* Closes every connection and the listener. NULL is fine. */
void gw_transport_free(struct gw_transport *);

/* Queues bytes toward the next hop. While the connection is being
 * (re)opened the bytes wait in its output buffer and go out once it is up;
 * they are lost with it if it fails (the transaction layer's timers turn
 * that into 408). Returns 0, or -1 with errno ENOBUFS when more than the
 * output cap is waiting. */
int gw_transport_send(struct gw_transport *, const char *buf, size_t len);

/* Queues bytes on connection conn_id (a response goes back on the
 * connection its request came on, RFC 3261 section 18.2.2); when that
 * connection is gone, toward the next hop instead. 0 or -1 as above. */
int gw_transport_reply(struct gw_transport *, uint64_t conn_id, const char *buf, size_t len);

/* True while the next-hop connection is established. */
bool gw_transport_up(const struct gw_transport *);

/* "TCP" or "TLS" for Via headers. */
const char *gw_transport_via(const struct gw_transport *);

struct gw_transport_counters {
    uint64_t msgs_in, msgs_out, bytes_in, bytes_out, bad_frames, bad_parses, connects;
    unsigned conns;
};
void gw_transport_counters(const struct gw_transport *, struct gw_transport_counters *out);

#endif
