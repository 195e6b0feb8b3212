/*
 * fuzz_xml_stream.c - libFuzzer target for the XMPP stream parser.
 *
 * Besides "must not crash, leak or trip a sanitizer", each input checks
 * three properties and traps when one fails:
 *   1. resumability: feeding the input at once and in chunks of varying
 *      sizes (down to one byte) gives the same events (the condition of a
 *      final error aside, see same_events());
 *   2. serialisation round trip: every element, serialised and parsed again
 *      inside a fresh stream, serialises to the same bytes, and so does its
 *      stanza_copy();
 *   3. JIDs: a normalised JID parses again to itself.
 * Built as a libFuzzer binary with XFED_FUZZ=ON under clang, and in every
 * build as common_xml_corpus, which replays the seed corpus through
 * LLVMFuzzerTestOneInput() (fuzz_replay.c).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jid.h"
#include "stanza.h"
#include "xml_stream.h"
#include "xml_test_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)    \
    do {               \
        if (!(cond)) { \
            abort();   \
        }              \
    } while (0)

/* No default namespace: the standalone serialisation of an element in no
 * namespace carries no xmlns and must stay in no namespace. */
static const char reparse_header[] =
    "<stream:stream xmlns:stream='http://etherx.jabber.org/streams'>";

struct reparse {
    const char *expect;
    size_t expect_len;
    unsigned elements;
};

static int reparse_element(void *arg, struct stanza *el)
{
    struct reparse *r = arg;
    r->elements++;
    char *s = stanza_to_string(el, NULL);
    CHECK(s != NULL);
    CHECK(strlen(s) == r->expect_len && memcmp(s, r->expect, r->expect_len) == 0);
    free(s);
    return 0;
}

static void check_jid(const char *v)
{
    if (v == NULL) {
        return;
    }
    struct jid *j = jid_new(v, NULL);
    if (j == NULL) {
        return;
    }
    struct jid *again = jid_new(jid_full(j), NULL);
    CHECK(again != NULL);
    CHECK(jid_equal(j, again));
    jid_free(again);
    jid_free(j);
}

static int check_element(void *arg, struct stanza *el)
{
    (void)arg;
    size_t len;
    char *s = stanza_to_string(el, &len);
    CHECK(s != NULL);

    struct stanza *copy = stanza_copy(el);
    CHECK(copy != NULL);
    char *c = stanza_to_string(copy, NULL);
    CHECK(c != NULL && strcmp(c, s) == 0);
    free(c);
    stanza_free(copy);

    /* The serialisation must parse back to itself. Its size can exceed the
     * original's (escaping, namespace declarations), hence generous caps. */
    struct xml_limits lim;
    xml_limits_default(&lim);
    lim.max_element_bytes = 16 * len + 65536;
    lim.max_attr_value_bytes = lim.max_element_bytes;
    lim.max_text_bytes = lim.max_element_bytes;
    lim.max_depth = 1000;
    lim.max_attrs = 1000;
    lim.max_ns_decls = 1000;
    struct reparse r = {s, len, 0};
    struct xml_stream_cb cb = {NULL, reparse_element, NULL, NULL};
    struct xml_stream *xs = xml_stream_new(&lim, &cb, &r);
    CHECK(xs != NULL);
    CHECK(xml_stream_feed(xs, reparse_header, strlen(reparse_header)) ==
          (ssize_t)strlen(reparse_header));
    CHECK(xml_stream_feed(xs, s, len) == (ssize_t)len);
    CHECK(r.elements == 1);
    xml_stream_free(xs);

    check_jid(stanza_attr(el, "to"));
    check_jid(stanza_attr(el, "from"));
    free(s);
    return 0;
}

/* Event logs must be equal, except that when both end in an error the
 * condition may differ: with several faults in the input, expat reports
 * some well-formedness errors (e.g. "]]>" in text) before the character data
 * that precedes them when both arrive in one call, and after it otherwise,
 * so non-whitespace text between stanzas (bad-format) followed by "]]>"
 * (not-well-formed) is reported either way (see xml_stream.h). */
static bool same_events(const char *a, const char *b)
{
    const char *ea = strstr(a, "error ");
    const char *eb = strstr(b, "error ");
    if (ea != NULL && eb != NULL && ea - a == eb - b) {
        return memcmp(a, b, (size_t)(ea - a)) == 0;
    }
    return strcmp(a, b) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Small caps (the RFC 6120 floor) so that inputs reach them. */
    struct xml_limits lim;
    xml_limits_default(&lim);
    lim.max_element_bytes = XML_LIMIT_ELEMENT_BYTES_MIN;
    lim.max_depth = 16;
    lim.max_attrs = 16;
    lim.max_attr_value_bytes = 1024;
    lim.max_text_bytes = 4096;
    lim.max_ns_decls = 8;

    struct recorder whole;
    recorder_init(&whole);
    recorder_run(&whole, &lim, data, size, 0);

    /* The same bytes in chunks of 1..16 bytes drawn from the input. */
    struct recorder parts;
    recorder_init(&parts);
    struct xml_stream *s = xml_stream_new(&lim, &recorder_cb, &parts);
    CHECK(s != NULL);
    uint32_t seed = (uint32_t)size * 2654435761u;
    size_t off = 0;
    while (off < size) {
        seed = seed * 1103515245u + 12345u;
        size_t n = 1 + (seed >> 16) % 16;
        if (n > size - off) {
            n = size - off;
        }
        if (xml_stream_feed(s, data + off, n) < 0) {
            break;
        }
        off += n;
    }
    xml_stream_free(s);
    CHECK(same_events(whole.log, parts.log));
    recorder_free(&whole);
    recorder_free(&parts);

    /* Round trips of every element. */
    struct xml_stream_cb cb = {NULL, check_element, NULL, NULL};
    s = xml_stream_new(&lim, &cb, NULL);
    CHECK(s != NULL);
    xml_stream_feed(s, data, size);
    xml_stream_free(s);
    return 0;
}
