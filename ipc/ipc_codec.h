/*
 * ipc_codec.h - encoding and decoding of the messages of ipc_msg.h, field by
 * field, in network byte order, with bounds and exact-length checks.
 *
 * Pure functions: no I/O, no logging, nothing blocks, thread-safe. Nothing in
 * the input of ipc_decode() can make it crash, read out of bounds or allocate
 * more than about twice the input length plus a small constant (for a BATCH,
 * plus one struct ipc_msg per item, at most IPC_BATCH_COUNT_MAX of them).
 */
#ifndef XFED_IPC_CODEC_H
#define XFED_IPC_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "ipc_msg.h"

/* Results of the codec. Every decoding failure has its own code. */
enum ipc_err {
    IPC_OK = 0,
    IPC_ERR_TRUNCATED = -1,    /* input ends before a field it announces */
    IPC_ERR_TRAILING = -2,     /* bytes after the last field */
    IPC_ERR_OVERSIZED = -3,    /* a field or count is above its maximum */
    IPC_ERR_UNKNOWN_TYPE = -4, /* type not in enum ipc_msg_type */
    IPC_ERR_VERSION = -5,      /* version byte is not IPC_PROTOCOL_VERSION */
    IPC_ERR_BAD_VALUE = -6,    /* enum out of range, NUL in a string, empty stanza,
                                  status/condition disagree, id 0 on a reliable type,
                                  an empty or nested BATCH or one mixing incarnations,
                                  ACK_RANGES out of order, overlapping or empty */
    IPC_ERR_NOMEM = -7,        /* allocation failed */
    IPC_ERR_NOSPACE = -8,      /* encode: the output buffer is too small */
};

/* Static text for an ipc_err ("truncated", "trailing bytes", ...). */
const char *ipc_strerror(int err);

/* The fixed header, readable even when the body is not. */
struct ipc_hdr {
    uint8_t version;
    uint8_t type;
    uint64_t incarnation;
    uint64_t id;
};

/* Reads the 18-byte header only. Returns IPC_OK or IPC_ERR_TRUNCATED; it does
 * not judge version or type, so a caller can log what a peer sent or answer
 * an oversized reliable message with an error ACK naming its id. */
int ipc_decode_header(const uint8_t *buf, size_t len, struct ipc_hdr *out);

/* Decodes exactly one message occupying all of buf[0..len). On IPC_OK *out is
 * a new message in one allocation (strings and blobs copied into it, and for
 * a BATCH its items too), freed with ipc_msg_free(); it keeps no pointer into
 * buf. On error *out is NULL and the negative enum ipc_err is returned: for a
 * BATCH the first error of any item (nothing of a refused batch is
 * returned). limits NULL means the defaults. */
int ipc_decode(const uint8_t *buf, size_t len, const struct ipc_limits *limits,
               struct ipc_msg **out);

/* Frees a message from ipc_decode(). NULL is fine. */
void ipc_msg_free(struct ipc_msg *);

/* Exact encoded size of m, or 0 if m cannot be encoded (unknown type). Does
 * not check limits; ipc_encode() does. */
size_t ipc_encoded_len(const struct ipc_msg *m);

/* Encodes m (version IPC_PROTOCOL_VERSION, m->version is ignored) into
 * buf[0..cap). Checks every field as the decoder would (maximums, limits,
 * enum ranges, NUL-free strings). Returns IPC_OK with *outlen set, or a
 * negative enum ipc_err (IPC_ERR_NOSPACE when cap < ipc_encoded_len(m)). */
int ipc_encode(const struct ipc_msg *m, const struct ipc_limits *limits, uint8_t *buf, size_t cap,
               size_t *outlen);

/* As ipc_encode() into a new malloc'd buffer stored in *out (caller frees). */
int ipc_encode_alloc(const struct ipc_msg *m, const struct ipc_limits *limits, uint8_t **out,
                     size_t *outlen);

/* Writing a BATCH around messages already encoded by ipc_encode(), without
 * building a struct ipc_msg for them again (what ipc_channel.c does): the
 * frame starts with IPC_BATCH_PREFIX_LEN bytes, filled by
 * ipc_batch_put_prefix() once the count is known, and every item is its
 * length, IPC_BATCH_ITEM_PREFIX_LEN bytes filled by ipc_batch_put_item_len(),
 * followed by the encoded message. The caller keeps to the rules of ipc_msg.h
 * (1 to IPC_BATCH_COUNT_MAX items of at most IPC_BATCH_ITEM_MAX bytes, none a
 * BATCH, all with this incarnation, IPC_BATCH_BYTES_MAX bytes in all), which
 * the receiver's ipc_decode() checks. Both only write their own bytes. */
#define IPC_BATCH_PREFIX_LEN      (IPC_HEADER_LEN + 2)
#define IPC_BATCH_ITEM_PREFIX_LEN 4
void ipc_batch_put_prefix(uint8_t *frame, uint64_t incarnation, uint16_t count);
void ipc_batch_put_item_len(uint8_t *at, uint32_t len);

#endif
