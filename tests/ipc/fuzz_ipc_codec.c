/*
 * fuzz_ipc_codec.c - libFuzzer target for the IPC decoder (ipc_codec.c).
 *
 * Beyond "no crash, no out-of-bounds read, no leak", it checks that the
 * encoding is canonical: whatever the decoder accepts, the encoder writes
 * back byte for byte, under the default limits and under small ones; and
 * that a refusal is one of the documented error codes with no message.
 * tests/ipc/fuzz_replay_main.c replays the seed corpus in every build.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ipc_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct ipc_limits small = {.stanza_max = 16384, .config_max = 16384};
    const struct ipc_limits *limits[2] = {NULL, &small};
    struct ipc_hdr h;
    if (ipc_decode_header(data, size, &h) != IPC_OK && size >= IPC_HEADER_LEN)
        abort();
    for (int i = 0; i < 2; i++) {
        struct ipc_msg *m = NULL;
        int rc = ipc_decode(data, size, limits[i], &m);
        if (rc != IPC_OK) {
            if (m != NULL || rc < IPC_ERR_NOSPACE || rc > IPC_ERR_TRUNCATED)
                abort();
            continue;
        }
        if (m->type != h.type || m->id != h.id || m->incarnation != h.incarnation)
            abort();
        uint8_t *out = NULL;
        size_t len = 0;
        if (ipc_encode_alloc(m, limits[i], &out, &len) != IPC_OK || len != size ||
            memcmp(out, data, size) != 0)
            abort();
        free(out);
        ipc_msg_free(m);
    }
    return 0;
}
