/*
 * ipc_msg.h - the only list of IPC message types between xfed-edge and
 * xfed-gateway (and operator tools such as `xfedctl tap`), their fields,
 * limits and wire layout. ipc_codec.c is the only code that turns these
 * structs into bytes and back; nothing ever sends a raw struct (the channel
 * crosses hosts, so byte order and padding must not matter).
 *
 * Transport (ipc_zmq.c): ZeroMQ over CURVE. The edge binds a ROUTER socket,
 * gateways connect DEALER sockets. On the ROUTER a message is two frames
 * (peer identity, encoded message); on the DEALER it is one frame (encoded
 * message). A frame holds one message, which may be a BATCH of several.
 *
 * Wire layout, all integers unsigned and in network byte order (big endian):
 *
 *   message := header body
 *   header  := version:u8 type:u8 incarnation:u64 id:u64          (18 bytes)
 *   str     := len:u16 bytes[len]     UTF-8 text without control characters
 *                                     (so no NUL and no newline), len <= the
 *                                     field's maximum below
 *   blob    := len:u32 bytes[len]     opaque bytes, len <= the field's cap
 *
 *   HELLO, HELLO_ACK := role:u8 proto_version:u16 capabilities:u32
 *                       heartbeat_ms:u32 name:str(IPC_NAME_MAX)
 *   HEARTBEAT        := (empty)
 *   GOODBYE          := reason:str(IPC_TEXT_MAX)
 *   STANZA_IN        := direction:u8 local:str(IPC_DOMAIN_MAX)
 *                       remote:str(IPC_DOMAIN_MAX) stream_id:str(IPC_STREAM_ID_MAX)
 *                       stanza:blob(limits.stanza_max, at least 1 byte)
 *   STANZA_OUT       := from:str(IPC_DOMAIN_MAX) to:str(IPC_DOMAIN_MAX)
 *                       stanza:blob(limits.stanza_max, at least 1 byte)
 *   ACK              := acked_id:u64 status:u8 condition:str(IPC_COND_MAX)
 *                       text:str(IPC_TEXT_MAX)
 *   BOUNCE           := stanza_id:u64 condition:str(IPC_COND_MAX) text:str(IPC_TEXT_MAX)
 *   CONFIG_PUSH      := version:u64 text:blob(limits.config_max)
 *   CONFIG_ACK       := version:u64 status:u8 reason:str(IPC_TEXT_MAX)
 *   STATS_REQUEST    := (empty)
 *   STATS            := request_id:u64 name:str(IPC_NAME_MAX) conf_version:u64
 *                       nstreams:u32 stream{nstreams} ngateways:u32 gateway{ngateways}
 *     stream  := stream_id:str(IPC_STREAM_ID_MAX) local:str(IPC_DOMAIN_MAX)
 *                partner:str(IPC_DOMAIN_MAX) direction:u8 tls_version:str(IPC_TLS_MAX)
 *                auth:u8 since:u64 stanzas_in:u64 stanzas_out:u64
 *     gateway := name:str(IPC_NAME_MAX) since:u64 unacked:u32 users:u32
 *   BATCH            := count:u16 item{count}                  (protocol version 2)
 *     item    := len:u32 message[len]
 *   ACK_RANGES       := nranges:u16 range{nranges}             (protocol version 2)
 *     range   := first:u64 count:u32
 *
 * BATCH carries several messages in one frame (see "Batching" below). Each
 * item is a complete encoded message of any type but BATCH (no nesting),
 * with the batch's incarnation, at most IPC_BATCH_ITEM_MAX bytes, decoded
 * and validated exactly as if it had come alone; count is 1 to
 * IPC_BATCH_COUNT_MAX, the whole frame at most IPC_BATCH_BYTES_MAX bytes, and
 * bytes after the last item are refused like any trailing bytes. One bad
 * item refuses the whole frame. BATCH and ACK_RANGES are best effort; their
 * senders put id 0 in the header.
 *
 * ACK_RANGES acknowledges with status ok every id in its ranges, each range
 * naming ids first .. first + count - 1: ranges in increasing order, neither
 * overlapping nor adjacent (canonical), first >= 1, count >= 1, no range past
 * 2^64 - 1, 1 to IPC_ACK_RANGES_MAX ranges covering at most IPC_ACK_IDS_MAX
 * ids in all. An error acknowledgement always travels as its own ACK, since
 * it carries a condition.
 *
 * A decoder (ipc_decode) rejects, each with its own error code: input
 * shorter than what the fields announce (IPC_ERR_TRUNCATED), bytes left after
 * the last field (IPC_ERR_TRAILING), a field or count above its maximum
 * (IPC_ERR_OVERSIZED), an unknown type (IPC_ERR_UNKNOWN_TYPE), a version other
 * than IPC_PROTOCOL_VERSION (IPC_ERR_VERSION), and a value out of range such
 * as an unknown enum, invalid UTF-8 or a control character in a string, an
 * empty stanza, an ACK whose status and condition disagree, an empty or
 * nested BATCH or one whose items come from another incarnation, or
 * ACK_RANGES that are empty, out of order, overlapping or adjacent
 * (IPC_ERR_BAD_VALUE).
 *
 * Identity and ids. Every process draws a random 64-bit incarnation id at
 * start-up and puts it in the header of every message it sends; the 64-bit
 * message id counts up from 1 within that incarnation, so (incarnation, id)
 * names one message globally and survives being re-sent to another peer
 * (issue 6: a dead gateway's unacknowledged stanzas go to a survivor with the
 * same id, and the SIP side drops duplicates by it). id 0 is never used by a
 * message that needs an acknowledgement.
 *
 * Reliability (ipc_channel.c): the types for which ipc_msg_type_reliable()
 * is true are kept by the sender until an ACK (or an ACK_RANGES) naming their
 * id arrives, and re-sent after a timeout; the receiver drops duplicates by
 * id and answers them with the same ACK again. Every other type is best
 * effort.
 *
 * Batching (ipc_channel.c, protocol version 2). One ZeroMQ frame per message
 * and one ACK frame back per stanza cost more than the stanza itself: each
 * frame is a CURVE box, a hand-over to ZeroMQ's I/O thread and a kernel
 * wake-up on both sides. So the channel keeps, per peer, the messages
 * produced during one turn of the event loop (everything the application
 * sends while handling one readable burst) and sends them as one frame when
 * that turn ends (a libevent event made active, so the latency added is one
 * loop iteration), or earlier when the batch reaches the channel's
 * batch_bytes_max or batch_count_max. A frame with a single message is that
 * message, not a BATCH of one. A message above IPC_BATCH_ITEM_MAX always
 * travels alone, so a batch never holds anything a peer could refuse for
 * its size: every peer accepts stanzas of IPC_STANZA_MAX_MIN bytes. The ok
 * acknowledgements given during the same turn go as one ACK_RANGES message
 * in that frame. Re-sending, duplicate suppression and exactly-once delivery
 * work per message as before; callbacks still run once per message.
 *
 * Version 2 (BATCH, ACK_RANGES) replaced version 1, which is refused: every
 * message header carries the version, so a version 1 peer's frames are
 * dropped as IPC_ERR_VERSION (its HELLO answered with a GOODBYE that says
 * so), and ours are refused by it the same way. Edge and gateway ship
 * together.
 */
#ifndef XFED_IPC_MSG_H
#define XFED_IPC_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bumped on any incompatible change of the layout above. */
#define IPC_PROTOCOL_VERSION 2

/* The message types. Values are on the wire: never renumber, only append. */
enum ipc_msg_type {
    IPC_MSG_HELLO = 1,          /* either side -> peer: who I am (client first) */
    IPC_MSG_HELLO_ACK = 2,      /* server -> client: who I am, session accepted */
    IPC_MSG_HEARTBEAT = 3,      /* both ways, every heartbeat interval */
    IPC_MSG_STANZA_IN = 4,      /* edge -> gateway: stanza from a partner (reliable) */
    IPC_MSG_STANZA_OUT = 5,     /* gateway -> edge: stanza to send to a partner (reliable) */
    IPC_MSG_ACK = 6,            /* receiver -> sender: a reliable message is handled */
    IPC_MSG_BOUNCE = 7,         /* edge -> gateway: an accepted STANZA_OUT failed (reliable) */
    IPC_MSG_CONFIG_PUSH = 8,    /* gateway/tool -> edge: versioned configuration (reliable) */
    IPC_MSG_CONFIG_ACK = 9,     /* edge -> pusher: version applied or refused (reliable) */
    IPC_MSG_STATS_REQUEST = 10, /* any -> edge: ask for a STATS */
    IPC_MSG_STATS = 11,         /* edge -> requester: live streams and gateways */
    IPC_MSG_GOODBYE = 12,       /* either side: orderly close, peer is gone now */
    IPC_MSG_BATCH = 13,         /* either side: several messages in one frame */
    IPC_MSG_ACK_RANGES = 14,    /* receiver -> sender: ranges of ids handled ok */
};
#define IPC_MSG_TYPE_MIN IPC_MSG_HELLO
#define IPC_MSG_TYPE_MAX IPC_MSG_ACK_RANGES

/* Fixed field maximums in bytes (the stanza and configuration caps are
 * settings, see struct ipc_limits). */
#define IPC_HEADER_LEN         18
#define IPC_NAME_MAX           255  /* instance name */
#define IPC_DOMAIN_MAX         1023 /* a domain name (RFC 7622 section 3.2: 1023 octets) */
#define IPC_STREAM_ID_MAX      255  /* an s2s stream id */
#define IPC_COND_MAX           64   /* an XMPP error condition, e.g. "remote-server-timeout" */
#define IPC_TEXT_MAX           1024 /* free text: reasons, error texts */
#define IPC_TLS_MAX            32   /* a TLS version name, e.g. "TLSv1.3" */
#define IPC_STATS_STREAMS_MAX  100000
#define IPC_STATS_GATEWAYS_MAX 4096

/* Batching (protocol version 2). A message in a BATCH is at most
 * IPC_BATCH_ITEM_MAX bytes encoded, so its stanza or text is below the
 * smallest stanza cap a peer may run (IPC_STANZA_MAX_MIN) and no peer refuses
 * a batch for the size of one of its items. A BATCH frame is at most
 * IPC_BATCH_BYTES_MAX bytes, which every peer's frame cap admits
 * (ipc_limits_frame_max() is never below it), with 1 to IPC_BATCH_COUNT_MAX
 * items; decoding one allocates what its items would need alone plus one
 * struct ipc_msg per item. */
#define IPC_BATCH_ITEM_MAX  IPC_STANZA_MAX_MIN
#define IPC_BATCH_COUNT_MAX 1024
#define IPC_BATCH_BYTES_MAX (1024u * 1024u)
#define IPC_BATCH_BYTES_MIN 16384u /* smallest batch cap a channel accepts as a setting */
#define IPC_ACK_RANGES_MAX  512    /* ranges in one ACK_RANGES (6,164 bytes at most) */
#define IPC_ACK_IDS_MAX     4096   /* ids one ACK_RANGES may acknowledge */

/* Defaults and hard bounds of the two settings-controlled caps. */
#define IPC_STANZA_MAX_DEFAULT (1024u * 1024u)       /* 1 MiB */
#define IPC_STANZA_MAX_MIN     10000u                /* RFC 6120 section 13.12 */
#define IPC_STANZA_MAX_MAX     (64u * 1024u * 1024u) /* 64 MiB */
#define IPC_CONFIG_MAX_DEFAULT (16u * 1024u * 1024u) /* 16 MiB */
#define IPC_CONFIG_MAX_MAX     (256u * 1024u * 1024u)

struct ipc_limits {
    uint32_t stanza_max; /* cap of STANZA_IN / STANZA_OUT stanza bytes */
    uint32_t config_max; /* cap of CONFIG_PUSH text */
};

/* Fills the defaults above. */
void ipc_limits_default(struct ipc_limits *);

/* The largest encoded message these limits allow (the socket's frame cap). */
size_t ipc_limits_frame_max(const struct ipc_limits *);

enum ipc_role {
    IPC_ROLE_EDGE = 1,
    IPC_ROLE_GATEWAY = 2,
    IPC_ROLE_TOOL = 3, /* xfedctl tap and other operator tools */
};

/* Capability bits announced in HELLO / HELLO_ACK. */
#define IPC_CAP_STANZA 0x1u /* carries STANZA_IN / STANZA_OUT / BOUNCE */
#define IPC_CAP_CONFIG 0x2u /* CONFIG_PUSH / CONFIG_ACK */
#define IPC_CAP_STATS  0x4u /* STATS_REQUEST / STATS */

/* Direction of the s2s stream a stanza travelled on, seen from the edge. */
enum ipc_direction {
    IPC_DIR_INBOUND = 1,  /* the partner opened the stream to us */
    IPC_DIR_OUTBOUND = 2, /* we opened it (bidi, XEP-0288, lets stanzas come back) */
};

enum ipc_ack_status {
    IPC_ACK_OK = 0,    /* handled; condition must be empty */
    IPC_ACK_ERROR = 1, /* not delivered; condition names why (XMPP stanza error
                          condition, RFC 6120 section 8.3.3, e.g.
                          "service-unavailable", "policy-violation") */
};

enum ipc_config_status {
    IPC_CONFIG_APPLIED = 0,
    IPC_CONFIG_REFUSED = 1, /* reason says why; the old configuration runs on */
};

enum ipc_auth {
    IPC_AUTH_NONE = 0, /* not (yet) authenticated */
    IPC_AUTH_SASL_EXTERNAL = 1,
    IPC_AUTH_DIALBACK = 2,
};

/* Strings below are NUL-terminated and contain no NUL; in a decoded message
 * they point into the message's own allocation. Blobs are pointer + length;
 * a decoded blob is also followed by a NUL byte (not counted in its length)
 * for convenience. In a message to encode every pointer is borrowed from the
 * caller and must not be NULL (use "" for an empty string). */

struct ipc_hello {          /* HELLO and HELLO_ACK */
    uint8_t role;           /* enum ipc_role */
    uint16_t proto_version; /* IPC_PROTOCOL_VERSION of the sender */
    uint32_t capabilities;  /* IPC_CAP_* */
    uint32_t heartbeat_ms;  /* the sender's heartbeat interval */
    const char *name;       /* instance name, e.g. "edge1", "gw-a" */
};

struct ipc_goodbye {
    const char *reason;
};

struct ipc_stanza_in {
    uint8_t direction;     /* enum ipc_direction */
    const char *local;     /* authenticated hosted domain (the stanza's to-domain) */
    const char *remote;    /* authenticated partner domain (the stanza's from-domain) */
    const char *stream_id; /* the s2s stream it arrived on */
    const uint8_t *stanza; /* serialised XML of one stanza */
    size_t stanza_len;
};

struct ipc_stanza_out {
    const char *from; /* hosted domain the stanza leaves from */
    const char *to;   /* partner domain it goes to */
    const uint8_t *stanza;
    size_t stanza_len;
};

struct ipc_ack {
    uint64_t acked_id;     /* id of the reliable message being acknowledged */
    uint8_t status;        /* enum ipc_ack_status */
    const char *condition; /* "" when ok, non-empty when error */
    const char *text;      /* optional human text, "" when none */
};

struct ipc_bounce {
    uint64_t stanza_id;    /* id of the STANZA_OUT that failed */
    const char *condition; /* e.g. "remote-server-not-found", "remote-server-timeout" */
    const char *text;
};

struct ipc_config_push {
    uint64_t version;    /* versions only move forward */
    const uint8_t *text; /* conf_file_format() output */
    size_t text_len;
};

struct ipc_config_ack {
    uint64_t version;   /* the version applied, or the one refused */
    uint8_t status;     /* enum ipc_config_status */
    const char *reason; /* why refused; "" when applied */
};

struct ipc_stats_stream {
    const char *stream_id;
    const char *local;
    const char *partner;
    uint8_t direction;       /* enum ipc_direction */
    const char *tls_version; /* "" when plain TCP */
    uint8_t auth;            /* enum ipc_auth */
    uint64_t since;          /* unix time the stream opened */
    uint64_t stanzas_in;
    uint64_t stanzas_out;
};

struct ipc_stats_gateway {
    const char *name;
    uint64_t since;   /* unix time it connected */
    uint32_t unacked; /* messages waiting for its acknowledgement */
    uint32_t users;   /* internal users of its share (edge_users.h); 0 for tools */
};

struct ipc_stats {
    uint64_t request_id;   /* id of the STATS_REQUEST answered, 0 if unsolicited */
    const char *name;      /* reporting instance */
    uint64_t conf_version; /* configuration version running */
    uint32_t nstreams;
    const struct ipc_stats_stream *streams;
    uint32_t ngateways;
    const struct ipc_stats_gateway *gateways;
};

struct ipc_ack_range {
    uint64_t first; /* first id acknowledged */
    uint32_t count; /* ids first .. first + count - 1 */
};

struct ipc_ack_ranges {
    uint16_t nranges; /* 1 .. IPC_ACK_RANGES_MAX */
    const struct ipc_ack_range *ranges;
};

struct ipc_msg;

struct ipc_batch {
    uint16_t count;             /* 1 .. IPC_BATCH_COUNT_MAX */
    const struct ipc_msg *msgs; /* count messages, none of them a BATCH; decoded:
                                   they live in the batch's own allocation */
};

struct ipc_msg {
    uint8_t version;      /* decoded: always IPC_PROTOCOL_VERSION; ignored by encode */
    uint8_t type;         /* enum ipc_msg_type */
    uint64_t incarnation; /* sender's incarnation id */
    uint64_t id;          /* message id (0 allowed only on best-effort types) */
    union {
        struct ipc_hello hello;
        struct ipc_goodbye goodbye;
        struct ipc_stanza_in stanza_in;
        struct ipc_stanza_out stanza_out;
        struct ipc_ack ack;
        struct ipc_bounce bounce;
        struct ipc_config_push config_push;
        struct ipc_config_ack config_ack;
        struct ipc_stats stats;
        struct ipc_batch batch;
        struct ipc_ack_ranges ack_ranges;
    };
};

/* True for the types a sender keeps until acknowledged: STANZA_IN,
 * STANZA_OUT, BOUNCE, CONFIG_PUSH, CONFIG_ACK. */
bool ipc_msg_type_reliable(int type);

/* Lower-case wire name of a type ("stanza_in"), "unknown" otherwise. Static. */
const char *ipc_msg_type_name(int type);

#endif
