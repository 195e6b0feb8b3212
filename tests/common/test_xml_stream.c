/*
 * test_xml_stream.c - the XMPP stream parser: golden files (every
 * tests/common/data/xml_stream/NAME.xml must give the events in NAME.events,
 * whether fed at once, one byte at a time or in odd chunks), caps, restricted
 * XML, stop/reset, and events firing on the last byte.
 *
 * XFED_UPDATE_GOLDEN=1 in the environment rewrites missing .events files
 * from the current output (review them before committing).
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "xml_stream.h"
#include "xml_test_util.h"

#define HDR                                                                              \
    "<?xml version='1.0'?><stream:stream xmlns='jabber:server' "                         \
    "xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' " \
    "to='example.org' from='fabrikam.example' version='1.0'>"

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ---- Golden files -------------------------------------------------------- */

static void golden_case(const char *dir, const char *name)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    size_t len;
    char *in = read_file(path, &len);
    assert_non_null(in);

    struct recorder whole;
    recorder_init(&whole);
    recorder_run(&whole, NULL, in, len, 0);

    /* Resumable at any byte boundary: the same events, byte by byte and in
     * chunks of various sizes. */
    static const size_t chunks[] = {1, 2, 3, 7, 64, 4096};
    for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
        struct recorder part;
        recorder_init(&part);
        recorder_run(&part, NULL, in, len, chunks[i]);
        if (strcmp(part.log, whole.log) != 0) {
            print_error("%s: chunk %zu gives\n%s\ninstead of\n%s\n", name, chunks[i], part.log,
                        whole.log);
        }
        assert_string_equal(part.log, whole.log);
        recorder_free(&part);
    }

    char gpath[1024];
    snprintf(gpath, sizeof(gpath), "%s/%.*s.events", dir, (int)(strlen(name) - 4), name);
    size_t glen;
    char *golden = read_file(gpath, &glen);
    if (golden == NULL && getenv("XFED_UPDATE_GOLDEN") != NULL) {
        FILE *f = fopen(gpath, "wb");
        assert_non_null(f);
        fwrite(whole.log, 1, whole.len, f);
        fclose(f);
        golden = read_file(gpath, &glen);
    }
    if (golden == NULL) {
        print_error("missing golden file %s; output was:\n%s", gpath, whole.log);
        fail();
    }
    char *g = realloc(golden, glen + 1);
    assert_non_null(g);
    g[glen] = '\0';
    if (strcmp(g, whole.log) != 0) {
        print_error("%s: events\n%s\ndiffer from %s:\n%s\n", name, whole.log, gpath, g);
    }
    assert_string_equal(whole.log, g);
    /* Files named err_* must end in an error, the others must not fail. */
    if (strncmp(name, "err_", 4) == 0) {
        assert_int_equal(whole.errors, 1);
    } else {
        assert_int_equal(whole.errors, 0);
    }
    free(g);
    free(in);
    recorder_free(&whole);
}

static void golden_files_give_expected_events(void **state)
{
    (void)state;
    const char *dir = XFED_TEST_DATA "/xml_stream";
    DIR *d = opendir(dir);
    assert_non_null(d);
    char *names[256];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l > 4 && strcmp(e->d_name + l - 4, ".xml") == 0) {
            assert_true(n < sizeof(names) / sizeof(names[0]));
            names[n++] = strdup(e->d_name);
        }
    }
    closedir(d);
    assert_true(n >= 30);
    qsort(names, n, sizeof(names[0]), cmp_names);
    for (size_t i = 0; i < n; i++) {
        golden_case(dir, names[i]);
        free(names[i]);
    }
}

/* ---- Events fire on the last byte ---------------------------------------- */

static void stanza_event_fires_on_its_last_byte(void **state)
{
    (void)state;
    struct recorder r;
    recorder_init(&r);
    struct xml_stream *s = xml_stream_new(NULL, &recorder_cb, &r);
    assert_non_null(s);
    const char hdr[] = HDR;
    assert_int_equal(xml_stream_feed(s, hdr, strlen(hdr) - 1), (ssize_t)strlen(hdr) - 1);
    assert_int_equal(r.headers, 0);
    assert_int_equal(xml_stream_feed(s, ">", 1), 1);
    assert_int_equal(r.headers, 1);

    const char msg[] = "<message to='a@example.org'><body>hi</body></message>";
    size_t n = strlen(msg);
    assert_int_equal(xml_stream_feed(s, msg, n - 1), (ssize_t)n - 1);
    assert_int_equal(r.elements, 0);
    assert_int_equal(xml_stream_feed(s, msg + n - 1, 1), 1);
    assert_int_equal(r.elements, 1);

    /* An empty element and the stream close likewise. */
    assert_int_equal(xml_stream_feed(s, "<presence/", 10), 10);
    assert_int_equal(r.elements, 1);
    assert_int_equal(xml_stream_feed(s, ">", 1), 1);
    assert_int_equal(r.elements, 2);
    assert_int_equal(xml_stream_feed(s, "</stream:stream", 15), 15);
    assert_int_equal(r.closes, 0);
    assert_int_equal(xml_stream_feed(s, ">", 1), 1);
    assert_int_equal(r.closes, 1);
    assert_int_equal(r.errors, 0);
    xml_stream_free(s);
    recorder_free(&r);
}

/* ---- Caps ----------------------------------------------------------------- */

/* A message of exactly `size` bytes from '<' to '>'. */
static char *message_of_size(size_t size)
{
    const char *open = "<message><body>";
    const char *close = "</body></message>";
    size_t fixed = strlen(open) + strlen(close);
    assert_true(size > fixed);
    char *m = malloc(size + 1);
    assert_non_null(m);
    strcpy(m, open);
    memset(m + strlen(open), 'x', size - fixed);
    strcpy(m + size - strlen(close), close);
    assert_int_equal(strlen(m), size);
    return m;
}

static void run_size_case(size_t size, size_t chunk, bool expect_ok)
{
    struct xml_limits lim;
    xml_limits_default(&lim);
    lim.max_element_bytes = 10000;
    char *m = message_of_size(size);
    size_t total = strlen(HDR) + size + 2 + strlen("<presence/>");
    char *buf = malloc(total + 1);
    assert_non_null(buf);
    snprintf(buf, total + 1, "%s%s\n\n<presence/>", HDR, m);
    struct recorder r;
    recorder_init(&r);
    recorder_run(&r, &lim, buf, total, chunk);
    if (expect_ok) {
        assert_int_equal(r.errors, 0);
        assert_int_equal(r.elements, 2);
    } else {
        assert_int_equal(r.errors, 1);
        assert_int_equal(r.err, XML_STREAM_POLICY_VIOLATION);
        assert_int_equal(r.elements, 0);
    }
    recorder_free(&r);
    free(buf);
    free(m);
}

static void element_of_exactly_the_limit_passes_and_one_more_byte_fails(void **state)
{
    (void)state;
    static const size_t chunks[] = {0, 1, 100, 9999, 10000, 10001};
    for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
        run_size_case(10000, chunks[i], true);
        run_size_case(10001, chunks[i], false);
    }
}

static void limits_below_the_floor_are_raised(void **state)
{
    (void)state;
    struct xml_limits lim;
    xml_limits_default(&lim);
    lim.max_element_bytes = 100; /* RFC 6120 section 13.12: not below 10000 */
    char *m = message_of_size(9000);
    size_t total = strlen(HDR) + strlen(m);
    char *buf = malloc(total + 1);
    assert_non_null(buf);
    snprintf(buf, total + 1, "%s%s", HDR, m);
    struct recorder r;
    recorder_init(&r);
    recorder_run(&r, &lim, buf, total, 0);
    assert_int_equal(r.errors, 0);
    assert_int_equal(r.elements, 1);
    recorder_free(&r);
    free(buf);
    free(m);
}

/* Feeds a 10 MB stanza in 16 KB chunks; the error must come as soon as the
 * cap is passed, not at the end. */
static void huge_stanza_is_refused_while_it_arrives(void **state)
{
    (void)state;
    struct recorder r;
    recorder_init(&r);
    struct xml_stream *s = xml_stream_new(NULL, &recorder_cb, &r);
    assert_non_null(s);
    assert_true(xml_stream_feed(s, HDR, strlen(HDR)) > 0);
    static char chunk[16384];
    memset(chunk, 'a', sizeof(chunk));
    memcpy(chunk, "<message><body>", 15);
    size_t fed = 0;
    ssize_t rc = 0;
    while (fed < 10 * 1024 * 1024) {
        rc = xml_stream_feed(s, chunk, sizeof(chunk));
        if (rc < 0) {
            break;
        }
        fed += sizeof(chunk);
        memset(chunk, 'a', 15);
    }
    assert_int_equal(rc, -1);
    assert_int_equal(r.err, XML_STREAM_POLICY_VIOLATION);
    /* refused within one chunk after the default cap */
    assert_true(fed <= XML_LIMIT_ELEMENT_BYTES_DEFAULT);
    assert_true(fed + sizeof(chunk) > XML_LIMIT_ELEMENT_BYTES_DEFAULT);
    /* and stays failed */
    assert_int_equal(xml_stream_feed(s, "<a/>", 4), -1);
    assert_int_equal(r.errors, 1);
    xml_stream_free(s);
    recorder_free(&r);
}

/* A start tag that never ends is refused at the cap too. */
static void endless_start_tag_is_refused(void **state)
{
    (void)state;
    struct recorder r;
    recorder_init(&r);
    struct xml_stream *s = xml_stream_new(NULL, &recorder_cb, &r);
    assert_non_null(s);
    assert_true(xml_stream_feed(s, HDR, strlen(HDR)) > 0);
    assert_int_equal(xml_stream_feed(s, "<message to='", 13), 13);
    static char chunk[8192];
    memset(chunk, 'b', sizeof(chunk));
    ssize_t rc = 0;
    size_t fed = 0;
    for (int i = 0; i < 1000 && rc >= 0; i++) {
        rc = xml_stream_feed(s, chunk, sizeof(chunk));
        fed += sizeof(chunk);
    }
    assert_int_equal(rc, -1);
    assert_int_equal(r.err, XML_STREAM_POLICY_VIOLATION);
    assert_true(fed <= XML_LIMIT_ELEMENT_BYTES_DEFAULT + sizeof(chunk));
    xml_stream_free(s);
    recorder_free(&r);
}

static void endless_stream_header_is_refused(void **state)
{
    (void)state;
    struct recorder r;
    recorder_init(&r);
    struct xml_stream *s = xml_stream_new(NULL, &recorder_cb, &r);
    assert_non_null(s);
    const char *start = "<stream:stream xmlns:stream='http://etherx.jabber.org/streams' id='";
    assert_true(xml_stream_feed(s, start, strlen(start)) > 0);
    static char chunk[8192];
    memset(chunk, 'c', sizeof(chunk));
    ssize_t rc = 0;
    for (int i = 0; i < 1000 && rc >= 0; i++) {
        rc = xml_stream_feed(s, chunk, sizeof(chunk));
    }
    assert_int_equal(rc, -1);
    assert_int_equal(r.err, XML_STREAM_POLICY_VIOLATION);
    xml_stream_free(s);
    recorder_free(&r);
}

static void deep_nesting_is_refused(void **state)
{
    (void)state;
    size_t depth = 10000;
    size_t len = strlen(HDR) + depth * 3;
    char *buf = malloc(len + 1);
    assert_non_null(buf);
    strcpy(buf, HDR);
    for (size_t i = 0; i < depth; i++) {
        memcpy(buf + strlen(HDR) + i * 3, "<a>", 3);
    }
    buf[len] = '\0';
    struct recorder r;
    recorder_init(&r);
    assert_int_equal(recorder_run(&r, NULL, buf, len, 0), -1);
    assert_int_equal(r.err, XML_STREAM_POLICY_VIOLATION);
    recorder_free(&r);

    /* Exactly at the limit is fine. */
    struct xml_limits lim;
    xml_limits_default(&lim);
    lim.max_depth = 4;
    const char *ok = HDR "<a><b><c><d/></c></b></a>";
    const char *deep = HDR "<a><b><c><d><e/></d></c></b></a>";
    recorder_init(&r);
    assert_int_equal(recorder_run(&r, &lim, ok, strlen(ok), 1), (long)strlen(ok));
    assert_int_equal(r.elements, 1);
    recorder_free(&r);
    recorder_init(&r);
    assert_int_equal(recorder_run(&r, &lim, deep, strlen(deep), 0), -1);
    assert_int_equal(r.err, XML_STREAM_POLICY_VIOLATION);
    recorder_free(&r);
    free(buf);
}

/* Builds HDR + "<message" + n attributes a0='v'... + "/>" */
static char *message_with_attrs(unsigned n, size_t value_len)
{
    size_t cap = strlen(HDR) + 32 + (size_t)n * (16 + value_len);
    char *buf = malloc(cap);
    assert_non_null(buf);
    size_t off = (size_t)snprintf(buf, cap, "%s<message", HDR);
    for (unsigned i = 0; i < n; i++) {
        off += (size_t)snprintf(buf + off, cap - off, " a%u='", i);
        memset(buf + off, 'v', value_len);
        off += value_len;
        buf[off++] = '\'';
    }
    snprintf(buf + off, cap - off, "/>");
    return buf;
}

static void attribute_caps_are_enforced(void **state)
{
    (void)state;
    struct recorder r;
    char *ok = message_with_attrs(XML_LIMIT_ATTRS_DEFAULT, 1);
    char *bad = message_with_attrs(XML_LIMIT_ATTRS_DEFAULT + 1, 1);
    recorder_init(&r);
    recorder_run(&r, NULL, ok, strlen(ok), 0);
    assert_int_equal(r.errors, 0);
    assert_int_equal(r.elements, 1);
    recorder_free(&r);
    recorder_init(&r);
    assert_int_equal(recorder_run(&r, NULL, bad, strlen(bad), 0), -1);
    assert_int_equal(r.err, XML_STREAM_POLICY_VIOLATION);
    recorder_free(&r);
    free(ok);
    free(bad);

    ok = message_with_attrs(1, XML_LIMIT_ATTR_VALUE_DEFAULT);
    bad = message_with_attrs(1, XML_LIMIT_ATTR_VALUE_DEFAULT + 1);
    recorder_init(&r);
    recorder_run(&r, NULL, ok, strlen(ok), 0);
    assert_int_equal(r.errors, 0);
    recorder_free(&r);
    recorder_init(&r);
    assert_int_equal(recorder_run(&r, NULL, bad, strlen(bad), 0), -1);
    assert_int_equal(r.err, XML_STREAM_POLICY_VIOLATION);
    recorder_free(&r);
    free(ok);
    free(bad);
}

static void text_and_namespace_caps_are_enforced(void **state)
{
    (void)state;
    struct xml_limits lim;
    xml_limits_default(&lim);
    lim.max_text_bytes = 5;
    lim.max_ns_decls = 3; /* the header has 3 */
    struct recorder r;
    const char *ok = HDR
        "<message><body>12345</body><x xmlns='urn:a' xmlns:b='urn:b' xmlns:c='urn:c'/></message>";
    const char *text = HDR "<message><body>12&amp;45</body>6</message><message><body>123456";
    const char *ns =
        HDR "<message><x xmlns='urn:a' xmlns:b='urn:b' xmlns:c='urn:c' xmlns:d='urn:d'/></message>";
    recorder_init(&r);
    recorder_run(&r, &lim, ok, strlen(ok), 1);
    assert_int_equal(r.errors, 0);
    assert_int_equal(r.elements, 1);
    recorder_free(&r);
    recorder_init(&r);
    assert_int_equal(recorder_run(&r, &lim, text, strlen(text), 1), -1);
    assert_int_equal(r.elements, 1);
    assert_int_equal(r.err, XML_STREAM_POLICY_VIOLATION);
    recorder_free(&r);
    recorder_init(&r);
    assert_int_equal(recorder_run(&r, &lim, ns, strlen(ns), 0), -1);
    assert_int_equal(r.err, XML_STREAM_POLICY_VIOLATION);
    recorder_free(&r);
}

/* ---- Restricted XML ----------------------------------------------------------- */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Billion laughs with a 10 MB payload fed in 64 KB chunks: refused at the
 * DOCTYPE, in the first chunk, without expanding anything. */
static void billion_laughs_stops_at_the_doctype(void **state)
{
    (void)state;
    size_t total = 10 * 1024 * 1024;
    char *buf = malloc(total);
    assert_non_null(buf);
    size_t off =
        (size_t)snprintf(buf, total,
                         "<?xml version='1.0'?>\n<!DOCTYPE lolz [\n <!ENTITY lol 'lol'>\n"
                         " <!ENTITY lol1 '&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;'>\n");
    for (int i = 2; i < 10; i++) {
        off += (size_t)snprintf(
            buf + off, total - off,
            " <!ENTITY lol%d '&lol%d;&lol%d;&lol%d;&lol%d;&lol%d;&lol%d;&lol%d;&lol%d;&lol%d;"
            "&lol%d;'>\n",
            i, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1);
    }
    off += (size_t)snprintf(buf + off, total - off,
                            "]>\n<stream:stream xmlns='jabber:server' "
                            "xmlns:stream='http://etherx.jabber.org/streams'><message><body>");
    while (off + 8 < total) {
        memcpy(buf + off, "&lol9;", 6);
        off += 6;
    }
    struct recorder r;
    recorder_init(&r);
    double t0 = now();
    struct xml_stream *s = xml_stream_new(NULL, &recorder_cb, &r);
    assert_non_null(s);
    size_t fed = 0;
    ssize_t rc = 0;
    while (fed < off) {
        size_t n = off - fed < 65536 ? off - fed : 65536;
        rc = xml_stream_feed(s, buf + fed, n);
        if (rc < 0) {
            break;
        }
        fed += n;
    }
    double dt = now() - t0;
    assert_int_equal(rc, -1);
    assert_int_equal(fed, 0);
    assert_int_equal(r.err, XML_STREAM_RESTRICTED_XML);
    assert_int_equal(r.headers, 0);
    assert_true(dt < 1.0);
    xml_stream_free(s);
    recorder_free(&r);

    /* Byte by byte it also stops at the DOCTYPE. */
    recorder_init(&r);
    s = xml_stream_new(NULL, &recorder_cb, &r);
    assert_non_null(s);
    for (fed = 0; fed < off; fed++) {
        if (xml_stream_feed(s, buf + fed, 1) < 0) {
            break;
        }
    }
    assert_true(fed < 64);
    assert_int_equal(r.err, XML_STREAM_RESTRICTED_XML);
    xml_stream_free(s);
    recorder_free(&r);
    free(buf);
}

/* ---- Stop and reset ----------------------------------------------------------- */

static void stop_reports_bytes_up_to_the_element(void **state)
{
    (void)state;
    const char *a = HDR "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>";
    const char *tail = "\x16\x03\x01 not xml";
    char buf[1024];
    snprintf(buf, sizeof(buf), "%s%s", a, tail);
    struct recorder r;
    recorder_init(&r);
    r.stop_at_element = 1;
    struct xml_stream *s = xml_stream_new(NULL, &recorder_cb, &r);
    assert_non_null(s);
    assert_int_equal(xml_stream_feed(s, buf, strlen(buf)), (ssize_t)strlen(a));
    assert_int_equal(r.elements, 1);
    assert_int_equal(r.errors, 0);
    /* stopped: refuses input until reset */
    assert_int_equal(xml_stream_feed(s, "<a/>", 4), -1);
    assert_int_equal(r.errors, 0);
    assert_int_equal(xml_stream_error(s), XML_STREAM_OK);

    /* Stream restart (RFC 6120 section 5.4.3.3): a new header, a new
     * XML declaration is fine again. */
    assert_int_equal(xml_stream_reset(s), 0);
    r.stop_at_element = 0;
    const char *again = HDR "<message/>";
    assert_int_equal(xml_stream_feed(s, again, strlen(again)), (ssize_t)strlen(again));
    assert_int_equal(r.headers, 2);
    assert_int_equal(r.elements, 2);
    assert_int_equal(xml_stream_offset(s), strlen(again));
    xml_stream_free(s);
    recorder_free(&r);
}

static void stop_in_split_feed_counts_from_this_call(void **state)
{
    (void)state;
    const char *pre = HDR "<message/><succ";
    const char *rest = "ess xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/><stream:stream>";
    struct recorder r;
    recorder_init(&r);
    r.stop_at_element = 2;
    struct xml_stream *s = xml_stream_new(NULL, &recorder_cb, &r);
    assert_non_null(s);
    assert_int_equal(xml_stream_feed(s, pre, strlen(pre)), (ssize_t)strlen(pre));
    ssize_t rc = xml_stream_feed(s, rest, strlen(rest));
    assert_int_equal(rc, (ssize_t)(strchr(rest, '>') - rest + 1));
    assert_int_equal(r.elements, 2);
    xml_stream_free(s);
    recorder_free(&r);
}

static void reset_after_an_error_gives_a_fresh_stream(void **state)
{
    (void)state;
    struct recorder r;
    recorder_init(&r);
    struct xml_stream *s = xml_stream_new(NULL, &recorder_cb, &r);
    assert_non_null(s);
    const char *bad = "<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'b'>]><x>&a;</x>";
    const char *good = HDR "<message xmlns:p='urn:p' p:a='1'><body>ok</body></message>";
    for (unsigned i = 0; i < 3; i++) {
        assert_int_equal(xml_stream_feed(s, bad, strlen(bad)), -1);
        assert_int_equal(xml_stream_error(s), XML_STREAM_RESTRICTED_XML);
        assert_int_equal(xml_stream_reset(s), 0);
        assert_int_equal(xml_stream_error(s), XML_STREAM_OK);
        /* byte by byte, to cover the held-back first bytes after a reset */
        for (size_t k = 0; k < strlen(good); k++) {
            assert_int_equal(xml_stream_feed(s, good + k, 1), 1);
        }
        assert_int_equal(r.headers, i + 1);
        assert_int_equal(r.elements, i + 1);
        assert_int_equal(xml_stream_offset(s), strlen(good));
        assert_int_equal(xml_stream_reset(s), 0);
    }
    assert_non_null(strstr(r.log, "element <message xmlns='jabber:server' xmlns:a0='urn:p' "
                                  "a0:a='1'><body>ok</body></message>"));
    assert_int_equal(r.errors, 3);
    xml_stream_free(s);
    recorder_free(&r);
}

static int reset_inside_callback(void *arg, struct stanza *el)
{
    (void)el;
    struct xml_stream **sp = arg;
    assert_int_equal(xml_stream_reset(*sp), -1);
    assert_int_equal(xml_stream_feed(*sp, "x", 1), -1);
    return 0;
}

static void reset_and_feed_are_refused_inside_callbacks(void **state)
{
    (void)state;
    struct xml_stream *s = NULL;
    struct xml_stream_cb cb = {NULL, reset_inside_callback, NULL, NULL};
    s = xml_stream_new(NULL, &cb, &s);
    assert_non_null(s);
    const char *in = HDR "<message/><message/>";
    assert_int_equal(xml_stream_feed(s, in, strlen(in)), (ssize_t)strlen(in));
    xml_stream_free(s);
}

static void error_conditions_have_rfc_names(void **state)
{
    (void)state;
    assert_string_equal(xml_stream_error_condition(XML_STREAM_RESTRICTED_XML), "restricted-xml");
    assert_string_equal(xml_stream_error_condition(XML_STREAM_POLICY_VIOLATION),
                        "policy-violation");
    assert_string_equal(xml_stream_error_condition(XML_STREAM_UNSUPPORTED_ENCODING),
                        "unsupported-encoding");
    assert_string_equal(xml_stream_error_condition(XML_STREAM_OK), "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(golden_files_give_expected_events),
        cmocka_unit_test(stanza_event_fires_on_its_last_byte),
        cmocka_unit_test(element_of_exactly_the_limit_passes_and_one_more_byte_fails),
        cmocka_unit_test(limits_below_the_floor_are_raised),
        cmocka_unit_test(huge_stanza_is_refused_while_it_arrives),
        cmocka_unit_test(endless_start_tag_is_refused),
        cmocka_unit_test(endless_stream_header_is_refused),
        cmocka_unit_test(deep_nesting_is_refused),
        cmocka_unit_test(attribute_caps_are_enforced),
        cmocka_unit_test(text_and_namespace_caps_are_enforced),
        cmocka_unit_test(billion_laughs_stops_at_the_doctype),
        cmocka_unit_test(stop_reports_bytes_up_to_the_element),
        cmocka_unit_test(stop_in_split_feed_counts_from_this_call),
        cmocka_unit_test(reset_after_an_error_gives_a_fresh_stream),
        cmocka_unit_test(reset_and_feed_are_refused_inside_callbacks),
        cmocka_unit_test(error_conditions_have_rfc_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
