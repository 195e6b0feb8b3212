/*
 * test_xml_stream_diff.c - differential test of the XMPP stream parser
 * (common/xml_stream.c, our own restricted-XML tokenizer) against the
 * expat-based parser it replaced (xml_stream_expat.c): the same inputs must
 * give the same events (headers, elements serialised, close), the same error
 * condition and, when a callback stops the stream, the same byte count.
 *
 * Inputs: the golden files and the fuzz seed corpus, then XMPP-like streams
 * generated from a fixed seed (stanzas with namespaces, references, CDATA,
 * CR LF, multi-byte UTF-8...) with random damage (inserted tokens that are
 * errors or restricted XML, deleted ranges, changed bytes, truncation), under
 * the default caps and under tight ones. Ours is fed at once and in random
 * chunks (1 to 17 bytes, so splits fall inside UTF-8 sequences, tags,
 * attribute values and references) and must give the same events either way.
 *
 * Allowed differences (each counted and printed; the test fails on any other):
 *   1. input that ends inside a token: expat refuses some malformed tokens
 *      before their end, ours when their end arrives; when the input ends
 *      first, expat reports not-well-formed and ours nothing yet. Then ours
 *      must report not-well-formed once bytes that end any token follow.
 *      The other way round too: text before the header or after the close
 *      is refused by ours at once, while expat waits for the end of what it
 *      takes for a name or a quoted literal there;
 *   2. several faults close together (the caveat in xml_stream.h): the
 *      events before the error are the same, the conditions differ, and
 *      expat fed the same bytes one at a time reports ours;
 *   3. names with characters outside ASCII that expat's XML 1.0 fourth
 *      edition tables refuse and ours (fifth edition ranges) accepts;
 *   (xml_diff.h says how each is checked).
 * XFED_DIFF_CASES sets the number of generated cases (default 30000).
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "xml_diff.h"
#include "xml_stream.h"
#include "xml_test_util.h"

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint32_t rnd(uint32_t n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return n == 0 ? 0 : (uint32_t)(rng_state % n);
}

struct tally {
    unsigned cases, same, truncated, multi_fault, names, failures;
};

static void compare(struct tally *t, const struct xml_limits *lim, const char *buf, size_t len)
{
    t->cases++;
    unsigned stop_at = rnd(4) == 0 ? 1 + rnd(3) : 0;
    char *logs = NULL;
    enum xml_diff_verdict v = xml_diff_compare(lim, buf, len, stop_at, rnd(UINT32_MAX), &logs);
    switch (v) {
    case XML_DIFF_SAME:
        t->same++;
        break;
    case XML_DIFF_TRUNCATED:
        t->truncated++;
        break;
    case XML_DIFF_NAMES:
    case XML_DIFF_DOCTYPE:
        t->names++;
        break;
    case XML_DIFF_SPLIT:
        if (++t->multi_fault <= 2) {
            print_message("allowed (several faults, expat depends on the split):\n%s\n", logs);
        }
        break;
    default:
        if (++t->failures <= 10) {
            print_error("%s:\n%s\n",
                        v == XML_DIFF_FAIL_SPLIT ? "ours differs at once and in pieces"
                                                 : "ours and expat differ",
                        logs);
        }
        break;
    }
    free(logs);
}

/* ---- Inputs ------------------------------------------------------------------ */

struct buf {
    char *p;
    size_t len, cap;
};

static void put(struct buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void puts_(struct buf *b, const char *s)
{
    put(b, s, strlen(s));
}

#define PICK(arr) (arr[rnd(sizeof(arr) / sizeof(arr[0]))])

static const char *const headers[] = {
    "<?xml version='1.0'?><stream:stream xmlns='jabber:server' "
    "xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' "
    "to='example.org' from='fabrikam.example' id='s1' version='1.0' xml:lang='en'>",
    "<stream:stream xmlns:stream=\"http://etherx.jabber.org/streams\" xmlns=\"jabber:client\" "
    "to=\"a&amp;b\"\r\n version='1.0'>",
    "\xef\xbb\xbf<?xml version=\"1.0\" encoding=\"utf-8\" standalone='yes' ?>\n"
    "<stream xmlns='http://etherx.jabber.org/streams' to='x' from='y'>",
};
static const char *const closers[] = {"</stream:stream>", "</stream:stream>", "</stream>"};

static const char *const names[] = {"message", "presence",   "iq",        "body",
                                    "x",       "p:q",        "db:result", "stream:error",
                                    "a-b.c_1", "caf\xc3\xa9"};
static const char *const attrs[] = {"to='romeo@example.org'",
                                    "from=\"juliet@fabrikam.example/balcony\"",
                                    "type='chat'",
                                    "id='x&amp;y'",
                                    "xml:lang='fr'",
                                    "xmlns='urn:x'",
                                    "xmlns:p='urn:p'",
                                    "p:a='1'",
                                    "v='a\tb\r\nc&#10;d&#x9;e\rf\ng'",
                                    "n='&lt;&gt;&quot;&apos;'",
                                    "u='caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 &#x1F600;'",
                                    "w = \"it's\"",
                                    "q='>'",
                                    "xmlns=''",
                                    "xmlns:q='urn:p'",
                                    "q:a='2'",
                                    "e=''"};
static const char *const texts[] = {"hello",        " ",
                                    "\r\n",         "a\rb",
                                    "&amp;",        "&#x1F600;",
                                    "&#233;",       "<![CDATA[raw <x> & ]]>",
                                    "<![CDATA[]]>", "]",
                                    "]]",           "x]y",
                                    "\xc3\xa9",     "\xe2\x82\xac",
                                    "\t",           "\r",
                                    "a>b",          "&lt;/body&gt;"};
static const char *const damage[] = {"<",
                                     ">",
                                     "&",
                                     "&amp;",
                                     "&#x41;",
                                     "&#0;",
                                     "&#xD800;",
                                     "&#x110000;",
                                     "&foo;",
                                     "&#;",
                                     "&#X41;",
                                     "<!--c-->",
                                     "<!-- a -- b -->",
                                     "<?pi x?>",
                                     "<?xml version='1.0'?>",
                                     "<?XML x?>",
                                     "<![CDATA[x]]>",
                                     "<![CDATX[",
                                     "]]>",
                                     "\r\n",
                                     "'",
                                     "\"",
                                     "=",
                                     " ",
                                     "xmlns:p='urn:p'",
                                     "p:",
                                     "xmlns=''",
                                     "xmlns:p=''",
                                     "xmlns:xml='urn:x'",
                                     "xmlns:xmlns='urn:x'",
                                     "xmlns:r='http://www.w3.org/XML/1998/namespace'",
                                     "a:b:c",
                                     ":a",
                                     "\xc3\xa9",
                                     "\xf0\x9f\x98\x80",
                                     "\xe4\xb8\xad",
                                     "\xcf\x8f",
                                     "\xe2\x82\xac",
                                     "\xc0\x80",
                                     "\xed\xa0\x80",
                                     "\xef\xbf\xbe",
                                     "\xf4\x90\x80\x80",
                                     "\xe0\x80\x80",
                                     "\xff",
                                     "\x80",
                                     "\x01",
                                     "\x7f",
                                     "</a>",
                                     "<a>",
                                     "<b/>",
                                     "<!DOCTYPE x>",
                                     "<!DOCTYPE x [<!ENTITY a 'b'>]>",
                                     "</stream:stream>",
                                     "x",
                                     "<stream:stream>",
                                     "<foo:bar xmlns:foo='jabber:server'/>",
                                     "a='1' a='2'",
                                     "/>",
                                     "\xc3"};

static void gen_element(struct buf *b, unsigned depth)
{
    const char *name = depth == 0 && rnd(3) != 0 ? PICK(names) : PICK(names);
    bool pref = strchr(name, ':') != NULL && strncmp(name, "db:", 3) != 0 &&
                strncmp(name, "stream:", 7) != 0;
    puts_(b, "<");
    puts_(b, name);
    if (pref && rnd(4) != 0) {
        puts_(b, " xmlns:p='urn:p'");
    }
    unsigned na = rnd(4);
    for (unsigned i = 0; i < na; i++) {
        puts_(b, rnd(8) == 0 ? "\n  " : " ");
        puts_(b, PICK(attrs));
    }
    if (rnd(4) == 0) {
        puts_(b, rnd(2) ? "/>" : " />");
        return;
    }
    puts_(b, ">");
    unsigned nc = rnd(4);
    for (unsigned i = 0; i < nc; i++) {
        if (depth < 5 && rnd(3) == 0) {
            gen_element(b, depth + 1);
        } else {
            puts_(b, PICK(texts));
        }
    }
    puts_(b, "</");
    puts_(b, name);
    puts_(b, rnd(8) == 0 ? " >" : ">");
}

static void gen_case(struct buf *b)
{
    b->len = 0;
    unsigned h = rnd(3);
    puts_(b, headers[h]);
    unsigned n = rnd(5);
    for (unsigned i = 0; i < n; i++) {
        static const char *const ws[] = {"", "", " ", "\n", "\r\n", "\t "};
        puts_(b, PICK(ws));
        gen_element(b, 0);
    }
    if (rnd(3) == 0) {
        puts_(b, closers[h]);
        if (rnd(2)) {
            puts_(b, "\n ");
        }
    }
    /* damage */
    unsigned nd = rnd(3);
    for (unsigned k = 0; k < nd; k++) {
        size_t at = b->len ? rnd((uint32_t)b->len + 1) : 0;
        switch (rnd(4)) {
        case 0:
        case 1: {
            const char *d = PICK(damage);
            size_t dl = strlen(d);
            if (d[0] == '\0') {
                dl = 1; /* never: kept for clarity */
            }
            struct buf t = {0};
            put(&t, b->p, at);
            put(&t, d, dl);
            put(&t, b->p + at, b->len - at);
            free(b->p);
            *b = t;
            break;
        }
        case 2: {
            size_t dl = 1 + rnd(8);
            if (at + dl > b->len) {
                dl = b->len - at;
            }
            memmove(b->p + at, b->p + at + dl, b->len - at - dl);
            b->len -= dl;
            break;
        }
        default:
            if (at < b->len) {
                b->p[at] = (char)rnd(256);
            }
            break;
        }
    }
    if (rnd(6) == 0 && b->len > 0) {
        b->len = rnd((uint32_t)b->len);
    }
}

static void tight_limits(struct xml_limits *l)
{
    xml_limits_default(l);
    l->max_element_bytes = XML_LIMIT_ELEMENT_BYTES_MIN;
    l->max_depth = 4;
    l->max_attrs = 3;
    l->max_attr_value_bytes = 16;
    l->max_text_bytes = 24;
    l->max_ns_decls = 4;
}

static void report(const char *what, const struct tally *t)
{
    print_message("%s: %u cases, %u identical, %u truncated in a token, %u with several "
                  "faults, %u names outside ASCII, %u failures\n",
                  what, t->cases, t->same, t->truncated, t->multi_fault, t->names, t->failures);
}

static void files_in(const char *dir, struct tally *t, const struct xml_limits *lim)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    char path[1024];
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || strstr(e->d_name, ".events") != NULL) {
            continue;
        }
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        size_t len;
        char *in = read_file(path, &len);
        assert_non_null(in);
        compare(t, lim, in, len);
        /* and every prefix of the small ones */
        if (len < 600) {
            for (size_t k = 0; k < len; k++) {
                compare(t, lim, in, k);
            }
        }
        free(in);
    }
    closedir(d);
}

static void files_agree_with_expat(void **state)
{
    (void)state;
    struct tally t = {0};
    struct xml_limits tight;
    tight_limits(&tight);
    files_in(XFED_TEST_DATA "/xml_stream", &t, NULL);
    files_in(XFED_TEST_DATA "/xml_corpus", &t, NULL);
    files_in(XFED_TEST_DATA "/xml_corpus", &t, &tight);
    report("files", &t);
    assert_int_equal(t.failures, 0);
}

static void generated_streams_agree_with_expat(void **state)
{
    (void)state;
    unsigned cases = 30000;
    const char *env = getenv("XFED_DIFF_CASES");
    if (env != NULL) {
        cases = (unsigned)strtoul(env, NULL, 10);
    }
    struct tally t = {0};
    struct xml_limits tight;
    tight_limits(&tight);
    struct buf b = {0};
    for (unsigned i = 0; i < cases; i++) {
        gen_case(&b);
        compare(&t, (i & 1) ? &tight : NULL, b.p, b.len);
    }
    free(b.p);
    report("generated", &t);
    assert_int_equal(t.failures, 0);
    /* the generator must reach both outcomes in numbers */
    assert_true(t.same > cases / 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(files_agree_with_expat),
        cmocka_unit_test(generated_streams_agree_with_expat),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
