/*
 * fuzz_pidf.c - libFuzzer target for the PIDF parser and the presence
 * mapping (gw_pidf.c). Built with XFED_FUZZ=ON and clang; every build
 * replays the committed seeds in tests/gateway/fuzz/pidf (fuzz_replay.c).
 */
#include <stddef.h>
#include <stdint.h>

#include "gw_pidf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct gw_pidf_limits lim = {.max_tuples = 8, .max_elements = 512};
    struct gw_pidf *d = gw_pidf_parse((const char *)data, size, &lim, NULL);
    if (d != NULL) {
        struct gw_presence p;
        gw_pidf_to_presence(d, true, &p);
        gw_pidf_free(d);
    }
    return 0;
}
