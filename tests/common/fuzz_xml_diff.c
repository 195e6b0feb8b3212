/*
 * fuzz_xml_diff.c - libFuzzer target comparing the XMPP stream parser
 * (common/xml_stream.c) with the expat-based parser it replaced
 * (xml_stream_expat.c) on the same input: they must agree (xml_diff.h lists
 * the allowed differences), and ours must give the same events at once and
 * in pieces. Traps on any other difference. The first byte of the input
 * picks the caps (defaults or tight ones that inputs reach) and whether a
 * callback stops the stream; the rest is the stream.
 * Built as a libFuzzer binary with XFED_FUZZ=ON under clang, and in every
 * build as common_xml_diff_corpus, which replays the seed corpus
 * (fuzz_replay.c).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "xml_diff.h"
#include "xml_stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) {
        return 0;
    }
    unsigned sel = data[0];
    struct xml_limits lim;
    xml_limits_default(&lim);
    if (sel & 1) {
        lim.max_element_bytes = XML_LIMIT_ELEMENT_BYTES_MIN;
        lim.max_depth = 4;
        lim.max_attrs = 3;
        lim.max_attr_value_bytes = 16;
        lim.max_text_bytes = 24;
        lim.max_ns_decls = 4;
    }
    unsigned stop_at = (sel >> 1) & 3;
    char *logs = NULL;
    enum xml_diff_verdict v = xml_diff_compare(&lim, (const char *)data + 1, size - 1, stop_at,
                                               (uint32_t)size * 2654435761u, &logs);
    if (v == XML_DIFF_FAIL || v == XML_DIFF_FAIL_SPLIT) {
        fprintf(stderr, "%s:\n%s\n",
                v == XML_DIFF_FAIL ? "ours and expat differ" : "ours differs at once and in pieces",
                logs);
        abort();
    }
    free(logs);
    return 0;
}
