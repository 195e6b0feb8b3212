/*
 * s2s_dialback.h - Server Dialback (XEP-0220) in its three roles, with keys
 * per XEP-0185 (s2s_dialback_key.h) from the global dialback secret.
 *
 *   receiving:     <db:result/> on an inbound stream: the key is checked with
 *                  the authoritative server over our outbound stream to the
 *                  sender domain (<db:verify/>), then answered valid,
 *                  invalid or error on the inbound stream (section 2.2.1);
 *                  over TLS with a certificate that verifies for the sender
 *                  it is answered valid at once (XEP-0344 section 2.4,
 *                  s2s_policy_dialback_trusted_cert());
 *   originating:   our outbound stream sends <db:result/> and waits for the
 *                  answer (section 2.1.1);
 *   authoritative: <db:verify/> on an inbound stream is answered from the
 *                  secret alone (section 2.2.2), so every edge sharing the
 *                  secret can answer for keys any of them made.
 * Several domain pairs share one stream (section 2.6). An answer that
 * matches no request we sent on that stream is refused (section 3.1). The
 * partner's row of the negotiation matrix decides whether dialback may run
 * on the stream at all (s2s_policy.h). Nothing here blocks; keys and the
 * secret are never logged.
 *
 * The element functions return what struct s2s_ops element callbacks
 * return: 0 to go on, -1 when the stream was closed.
 */
#ifndef XFED_S2S_DIALBACK_H
#define XFED_S2S_DIALBACK_H

struct s2s_stream;
struct stanza;

/* Inbound: untyped <db:result/> (receiving role). */
int s2s_dialback_in_result(struct s2s_stream *in, struct stanza *el);

/* Inbound: untyped <db:verify/> (authoritative role). */
int s2s_dialback_in_verify(struct s2s_stream *in, struct stanza *el);

/* Outbound: sends our key for the stream's pair (originating role) and
 * enters S2S_ST_DIALBACK. Returns 0, or -1 when the stream was failed. */
int s2s_dialback_out_start(struct s2s_stream *out);

/* Outbound: typed <db:result/> (the answer to our key). */
int s2s_dialback_out_result(struct s2s_stream *out, struct stanza *el);

/* Outbound: typed <db:verify/> (the answer to a verify request). */
int s2s_dialback_out_verify(struct s2s_stream *out, struct stanza *el);

/* Outbound: writes the verify requests not sent yet. */
void s2s_dialback_out_send_verifies(struct s2s_stream *out);

/* Outbound, once TLS is up: answers "valid" without a <db:verify/> every
 * waiting verify request whose originating server showed the very
 * certificate this authoritative server shows (XEP-0344 section 2.6). */
void s2s_dialback_out_same_cert(struct s2s_stream *out);

/* Inbound: writes <db:result from=local to=remote type=.../> with an error
 * child for "error". */
void s2s_dialback_send_result(struct s2s_stream *in, const char *local, const char *remote,
                              const char *type, const char *condition);

#endif
