/*
 * fuzz_ipc_codec.c - libFuzzer target for the IPC decoder (ipc_codec.c).
 *
 * Beyond "no crash, no out-of-bounds read, no leak", it checks that the
 * encoding is canonical: whatever the decoder accepts, the encoder writes
 * back byte for byte, under the default limits and under small ones; that a
 * refusal is one of the documented error codes with no message; that a
 * decoded BATCH holds no BATCH and only its sender's messages; and that the
 * input wrapped as the single item of a BATCH decodes as it does alone
 * (refused as nested if it is itself a BATCH), so the batch walk adds its own
 * rules and nothing else. tests/ipc/fuzz_replay_main.c replays the seed
 * corpus in every build.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ipc_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int decode_and_check(const uint8_t *data, size_t size, const struct ipc_limits *limits,
                            const struct ipc_hdr *h)
{
    struct ipc_msg *m = NULL;
    int rc = ipc_decode(data, size, limits, &m);
    if (rc != IPC_OK) {
        if (m != NULL || rc < IPC_ERR_NOSPACE || rc > IPC_ERR_TRUNCATED)
            abort();
        return rc;
    }
    if (m->type != h->type || m->id != h->id || m->incarnation != h->incarnation)
        abort();
    if (m->type == IPC_MSG_BATCH) {
        if (m->batch.count == 0 || m->batch.count > IPC_BATCH_COUNT_MAX)
            abort();
        for (uint32_t i = 0; i < m->batch.count; i++)
            if (m->batch.msgs[i].type == IPC_MSG_BATCH ||
                m->batch.msgs[i].incarnation != m->incarnation)
                abort();
    }
    uint8_t *out = NULL;
    size_t len = 0;
    if (ipc_encode_alloc(m, limits, &out, &len) != IPC_OK || len != size ||
        memcmp(out, data, size) != 0)
        abort();
    free(out);
    ipc_msg_free(m);
    return IPC_OK;
}

/* data as the one item of a BATCH from its own incarnation. */
static void as_batch_item(const uint8_t *data, size_t size, const struct ipc_limits *limits,
                          const struct ipc_hdr *h, int alone)
{
    if (size < IPC_HEADER_LEN || size > IPC_BATCH_ITEM_MAX)
        return;
    size_t n = IPC_BATCH_PREFIX_LEN + IPC_BATCH_ITEM_PREFIX_LEN + size;
    uint8_t *frame = malloc(n);
    if (frame == NULL)
        abort();
    ipc_batch_put_prefix(frame, h->incarnation, 1);
    ipc_batch_put_item_len(frame + IPC_BATCH_PREFIX_LEN, (uint32_t)size);
    memcpy(frame + IPC_BATCH_PREFIX_LEN + IPC_BATCH_ITEM_PREFIX_LEN, data, size);
    struct ipc_hdr bh;
    if (ipc_decode_header(frame, n, &bh) != IPC_OK)
        abort();
    /* The nesting check follows the version and type checks. */
    int want = alone;
    if (h->type == IPC_MSG_BATCH && h->version == IPC_PROTOCOL_VERSION)
        want = IPC_ERR_BAD_VALUE;
    if (decode_and_check(frame, n, limits, &bh) != want)
        abort();
    free(frame);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct ipc_limits small = {.stanza_max = 16384, .config_max = 16384};
    const struct ipc_limits *limits[2] = {NULL, &small};
    struct ipc_hdr h;
    if (ipc_decode_header(data, size, &h) != IPC_OK && size >= IPC_HEADER_LEN)
        abort();
    for (int i = 0; i < 2; i++) {
        int rc = decode_and_check(data, size, limits[i], &h);
        as_batch_item(data, size, limits[i], &h, rc);
    }
    return 0;
}
