/*
 * test_stanza.c - stanza trees: lookup, building, copying, escaping and
 * namespaces in both serialisations, and parse -> serialise -> parse round
 * trips through the real stream parser.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "stanza.h"
#include "xml_stream.h"

#define HDR                                                                                 \
    "<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' " \
    "xmlns:db='jabber:server:dialback'>"

/* Parses HDR + xml and returns a copy of the first element (owned). */
struct first {
    struct stanza *el;
};

static int keep_first(void *arg, struct stanza *el)
{
    struct first *f = arg;
    if (f->el == NULL) {
        f->el = stanza_copy(el);
        assert_non_null(f->el);
    }
    return 0;
}

static struct stanza *parse_one(const char *xml)
{
    struct first f = {NULL};
    struct xml_stream_cb cb = {NULL, keep_first, NULL, NULL};
    struct xml_stream *s = xml_stream_new(NULL, &cb, &f);
    assert_non_null(s);
    assert_int_equal(xml_stream_feed(s, HDR, strlen(HDR)), (ssize_t)strlen(HDR));
    assert_int_equal(xml_stream_feed(s, xml, strlen(xml)), (ssize_t)strlen(xml));
    xml_stream_free(s);
    assert_non_null(f.el);
    return f.el;
}

static char *ser(const struct stanza *el)
{
    char *s = stanza_to_string(el, NULL);
    assert_non_null(s);
    return s;
}

static void lookup_helpers_find_children_attributes_and_text(void **state)
{
    (void)state;
    struct stanza *m =
        parse_one("<message to='romeo@example.org' type='chat' xml:lang='en'>"
                  "<body>Hello <b xmlns='urn:x'>big</b> world</body>"
                  "<body xml:lang='de'>Hallo</body>"
                  "<x xmlns='jabber:x:data' xmlns:p='urn:p' p:q='1' q='2'/></message>");
    assert_string_equal(stanza_name(m), "message");
    assert_string_equal(stanza_ns(m), "jabber:server");
    assert_true(stanza_is(m, "jabber:server", "message"));
    assert_true(stanza_is(m, NULL, "message"));
    assert_false(stanza_is(m, "jabber:client", "message"));
    assert_string_equal(stanza_attr(m, "to"), "romeo@example.org");
    assert_null(stanza_attr(m, "from"));
    assert_string_equal(stanza_lang(m), "en");
    assert_null(stanza_attr(m, "lang")); /* xml:lang is namespaced */
    assert_int_equal(stanza_attr_count(m), 3);
    const char *ns, *name, *value;
    assert_true(stanza_attr_at(m, 2, &ns, &name, &value));
    assert_string_equal(ns, STANZA_NS_XML);
    assert_string_equal(name, "lang");
    assert_string_equal(value, "en");
    assert_false(stanza_attr_at(m, 3, NULL, NULL, NULL));
    assert_null(stanza_parent(m));

    struct stanza *body = stanza_child(m, "jabber:server", "body");
    assert_non_null(body);
    assert_ptr_equal(stanza_parent(body), m);
    assert_string_equal(stanza_text(body), "Hello  world"); /* direct text only */
    struct stanza *b = stanza_first_child(body);
    assert_non_null(b);
    assert_string_equal(stanza_ns(b), "urn:x");
    assert_string_equal(stanza_text(b), "big");
    assert_null(stanza_next_sibling(b));

    struct stanza *body2 = stanza_next_sibling(body);
    assert_string_equal(stanza_lang(body2), "de");
    assert_string_equal(stanza_text(body2), "Hallo");
    struct stanza *x = stanza_child(m, "jabber:x:data", NULL);
    assert_non_null(x);
    assert_string_equal(stanza_attr_ns(x, "urn:p", "q"), "1");
    assert_string_equal(stanza_attr(x, "q"), "2");
    assert_string_equal(stanza_attr_ns(x, "", "q"), "2");
    assert_string_equal(stanza_text(x), "");
    assert_null(stanza_child(m, "urn:none", NULL));
    assert_ptr_equal(stanza_child(m, NULL, NULL), body);
    stanza_free(m);
}

static void builder_escapes_text_and_attributes(void **state)
{
    (void)state;
    struct stanza *m = stanza_new(STANZA_NS_SERVER, "message");
    assert_non_null(m);
    assert_int_equal(stanza_set_attr(m, "to", "a&b<c>d\"e'f"), 0);
    assert_int_equal(stanza_set_attr(m, "id", "tab\there\nnl\rcr"), 0);
    struct stanza *body = stanza_add_child(m, NULL, "body");
    assert_non_null(body);
    const char *t = "1 < 2 & 3 > 2 \"q\" 'a' ]]> \r\n end";
    assert_int_equal(stanza_add_text(body, t, strlen(t)), 0);
    char *s = ser(m);
    assert_string_equal(s, "<message xmlns='jabber:server' "
                           "to='a&amp;b&lt;c&gt;d&quot;e&apos;f' "
                           "id='tab&#x9;here&#xA;nl&#xD;cr'>"
                           "<body>1 &lt; 2 &amp; 3 &gt; 2 &quot;q&quot; &apos;a&apos; ]]&gt; "
                           "&#xD;\n end</body></message>");
    /* The serialisation parses back to the same values. */
    struct stanza *back = parse_one(s);
    assert_string_equal(stanza_attr(back, "to"), "a&b<c>d\"e'f");
    assert_string_equal(stanza_attr(back, "id"), "tab\there\nnl\rcr");
    assert_string_equal(stanza_text(stanza_child(back, NULL, "body")), t);
    char *s2 = ser(back);
    assert_string_equal(s2, s);
    free(s2);
    stanza_free(back);
    free(s);
    stanza_free(m);
}

static void builder_refuses_invalid_names_and_characters(void **state)
{
    (void)state;
    assert_null(stanza_new(STANZA_NS_SERVER, ""));
    assert_null(stanza_new(STANZA_NS_SERVER, "a:b"));
    assert_null(stanza_new(STANZA_NS_SERVER, "1abc"));
    assert_null(stanza_new(STANZA_NS_SERVER, "a b"));
    assert_null(stanza_new(STANZA_NS_XML, "x"));
    assert_null(stanza_new(NULL, "x"));
    struct stanza *m = stanza_new("", "x");
    assert_non_null(m);
    assert_null(stanza_add_child(m, "urn:a", "<bad"));
    assert_int_equal(stanza_set_attr(m, "bad name", "v"), -1);
    assert_int_equal(stanza_set_attr(m, "a", "\x01"), -1);
    assert_int_equal(stanza_set_attr(m, "a", "\xc3\x28"), -1);
    assert_int_equal(stanza_set_attr_ns(m, "http://www.w3.org/2000/xmlns/", "a", "v"), -1);
    assert_int_equal(stanza_add_text(m, "ok\0no", 5), -1);
    assert_int_equal(stanza_add_text(m, "\xed\xa0\x80", 3), -1);     /* surrogate */
    assert_int_equal(stanza_add_text(m, "\xef\xbf\xbe", 3), -1);     /* U+FFFE */
    assert_int_equal(stanza_add_text(m, "\xf4\x90\x80\x80", 4), -1); /* > U+10FFFF */
    assert_int_equal(stanza_add_text(m, "\xc0\xaf", 2), -1);         /* overlong */
    assert_int_equal(stanza_add_text(m, "caf\xc3\xa9 \xf0\x9f\x98\x80", 10), 0);
    char *s = ser(m);
    assert_string_equal(s, "<x>caf\xc3\xa9 \xf0\x9f\x98\x80</x>");
    free(s);
    stanza_free(m);
}

static void set_attr_replaces_and_removes(void **state)
{
    (void)state;
    struct stanza *m = stanza_new(STANZA_NS_SERVER, "iq");
    assert_int_equal(stanza_set_attr(m, "to", "a"), 0);
    assert_int_equal(stanza_set_attr(m, "from", "b"), 0);
    assert_int_equal(stanza_set_attr(m, "type", "get"), 0);
    assert_int_equal(stanza_set_attr(m, "to", "c"), 0);
    assert_int_equal(stanza_attr_count(m), 3);
    assert_string_equal(stanza_attr(m, "to"), "c");
    assert_int_equal(stanza_set_attr(m, "type", NULL), 0);
    assert_int_equal(stanza_set_attr(m, "missing", NULL), 0);
    assert_int_equal(stanza_attr_count(m), 2);
    assert_int_equal(stanza_set_attr(m, "id", "1"), 0);
    assert_int_equal(stanza_set_attr(m, "to", NULL), 0);
    assert_int_equal(stanza_set_attr_ns(m, STANZA_NS_XML, "lang", "en"), 0);
    char *s = ser(m);
    assert_string_equal(s, "<iq xmlns='jabber:server' from='b' id='1' xml:lang='en'/>");
    free(s);
    stanza_free(m);
}

/* to, from, id and type are indexed on the element (stanza.c core[]):
 * lookups must give what a walk of the attribute list gives, whatever
 * building, replacing, removing and copying did. */
static void routing_attributes_follow_every_change(void **state)
{
    (void)state;
    struct stanza_pool *p = stanza_pool_new();
    assert_non_null(p);
    struct stanza *el = stanza_build_root(p, STANZA_NS_SERVER, strlen(STANZA_NS_SERVER), "iq", 2);
    assert_non_null(el);
    /* qualified look-alikes are not the routing attributes */
    assert_int_equal(stanza_build_attr(el, "urn:x", 5, "to", 2, "q", 1), 0);
    assert_int_equal(stanza_build_attr(el, "", 0, "tox", 3, "n", 1), 0);
    assert_null(stanza_attr(el, "to"));
    assert_string_equal(stanza_attr_ns(el, "urn:x", "to"), "q");
    /* the trusted builder does not check duplicates: the first one wins,
     * and when it goes the next one takes its place */
    assert_int_equal(stanza_build_attr(el, "", 0, "to", 2, "first", 5), 0);
    assert_int_equal(stanza_build_attr(el, "", 0, "to", 2, "second", 6), 0);
    assert_int_equal(stanza_build_attr(el, "", 0, "type", 4, "get", 3), 0);
    assert_int_equal(stanza_build_attr(el, "", 0, "from", 4, "a@b/c", 5), 0);
    assert_string_equal(stanza_attr(el, "to"), "first");
    assert_string_equal(stanza_attr(el, "type"), "get");
    assert_string_equal(stanza_attr(el, "from"), "a@b/c");
    assert_null(stanza_attr(el, "id"));
    assert_null(stanza_attr(el, "t"));
    assert_null(stanza_attr(el, "fro"));
    assert_null(stanza_attr(el, ""));
    assert_int_equal(stanza_set_attr(el, "to", NULL), 0);
    assert_string_equal(stanza_attr(el, "to"), "second");
    assert_int_equal(stanza_set_attr(el, "to", "third"), 0);
    assert_string_equal(stanza_attr(el, "to"), "third");
    assert_int_equal(stanza_set_attr(el, "to", NULL), 0);
    assert_null(stanza_attr(el, "to"));
    assert_string_equal(stanza_attr_ns(el, "urn:x", "to"), "q");
    assert_int_equal(stanza_set_attr(el, "id", "i1"), 0);
    assert_string_equal(stanza_attr(el, "id"), "i1");
    /* a copy indexes its own attributes, and serialises the same */
    struct stanza *c = stanza_copy(el);
    assert_non_null(c);
    assert_int_equal(stanza_set_attr(el, "type", "set"), 0);
    assert_string_equal(stanza_attr(c, "type"), "get");
    assert_string_equal(stanza_attr(c, "id"), "i1");
    assert_string_equal(stanza_attr(c, "from"), "a@b/c");
    assert_null(stanza_attr(c, "to"));
    char *s = ser(c);
    assert_string_equal(s, "<iq xmlns='jabber:server' xmlns:a0='urn:x' a0:to='q' tox='n' "
                           "type='get' from='a@b/c' id='i1'/>");
    free(s);
    stanza_free(c);
    stanza_pool_free(p);
}

static void namespaces_are_declared_where_they_start(void **state)
{
    (void)state;
    struct stanza *m = stanza_new(STANZA_NS_SERVER, "message");
    struct stanza *body = stanza_add_child(m, NULL, "body");
    stanza_add_text(body, "x", 1);
    struct stanza *ev = stanza_add_child(m, "http://jabber.org/protocol/pubsub#event", "event");
    struct stanza *items = stanza_add_child(ev, NULL, "items");
    stanza_set_attr(items, "node", "n");
    struct stanza *none = stanza_add_child(items, "", "plain");
    stanza_add_child(none, "", "inner");
    stanza_set_attr_ns(none, "urn:a", "x", "1");
    stanza_set_attr_ns(none, "urn:b", "y", "2");
    stanza_set_attr_ns(none, "urn:a", "z", "3");
    char *s = ser(m);
    assert_string_equal(
        s, "<message xmlns='jabber:server'><body>x</body>"
           "<event xmlns='http://jabber.org/protocol/pubsub#event'><items node='n'>"
           "<plain xmlns='' xmlns:a0='urn:a' xmlns:a1='urn:b' a0:x='1' a1:y='2' a0:z='3'>"
           "<inner/></plain></items></event></message>");
    /* and it parses back to the same tree */
    struct stanza *back = parse_one(s);
    char *s2 = ser(back);
    assert_string_equal(s2, s);
    free(s2);
    stanza_free(back);
    free(s);
    stanza_free(m);
}

static void stream_serialisation_uses_stream_prefixes(void **state)
{
    (void)state;
    struct stanza *f = stanza_new(STANZA_NS_STREAMS, "features");
    stanza_add_child(stanza_add_child(f, STANZA_NS_TLS, "starttls"), NULL, "required");
    stanza_add_child(f, "urn:xmpp:features:dialback", "dialback");
    char buf[512];
    size_t n = stanza_serialize_stream(f, STANZA_NS_SERVER, buf, sizeof(buf));
    assert_int_equal(n, strlen(buf));
    assert_string_equal(buf, "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'>"
                             "<required/></starttls>"
                             "<dialback xmlns='urn:xmpp:features:dialback'/></stream:features>");
    stanza_free(f);

    struct stanza *r = stanza_new(STANZA_NS_DIALBACK, "result");
    stanza_set_attr(r, "from", "example.org");
    stanza_set_attr(r, "to", "fabrikam.example");
    stanza_add_text(r, "abc", 3);
    stanza_serialize_stream(r, STANZA_NS_SERVER, buf, sizeof(buf));
    assert_string_equal(buf, "<db:result from='example.org' to='fabrikam.example'>abc</db:result>");
    stanza_free(r);

    struct stanza *m = stanza_new(STANZA_NS_SERVER, "message");
    struct stanza *e = stanza_add_child(m, NULL, "error");
    stanza_add_child(e, STANZA_NS_STANZA_ERRORS, "service-unavailable");
    stanza_serialize_stream(m, STANZA_NS_SERVER, buf, sizeof(buf));
    assert_string_equal(buf, "<message><error><service-unavailable "
                             "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>");
    /* a stream without a default namespace */
    stanza_serialize_stream(m, NULL, buf, sizeof(buf));
    assert_string_equal(buf, "<message xmlns='jabber:server'><error><service-unavailable "
                             "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>");
    stanza_free(m);

    /* stream:error parsed from a stream comes back with its prefix */
    struct stanza *se = parse_one("<stream:error><host-unknown "
                                  "xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>");
    stanza_serialize_stream(se, STANZA_NS_SERVER, buf, sizeof(buf));
    assert_string_equal(buf, "<stream:error><host-unknown "
                             "xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>");
    stanza_free(se);
}

static void serialize_is_snprintf_like(void **state)
{
    (void)state;
    struct stanza *m = stanza_new(STANZA_NS_SERVER, "presence");
    const char *full = "<presence xmlns='jabber:server'/>";
    size_t want = strlen(full);
    assert_int_equal(stanza_serialize(m, NULL, 0), want);
    char buf[64];
    memset(buf, 'Z', sizeof(buf));
    assert_int_equal(stanza_serialize(m, buf, 10), want);
    assert_int_equal(buf[9], '\0');
    assert_memory_equal(buf, full, 9);
    assert_int_equal(buf[10], 'Z');
    assert_int_equal(stanza_serialize(m, buf, want), want); /* no room for NUL */
    assert_int_equal(strlen(buf), want - 1);
    assert_int_equal(stanza_serialize(m, buf, want + 1), want);
    assert_string_equal(buf, full);
    size_t len = 0;
    char *s = stanza_to_string(m, &len);
    assert_int_equal(len, want);
    assert_string_equal(s, full);
    free(s);
    stanza_free(m);
}

static void copy_is_independent_of_the_source(void **state)
{
    (void)state;
    struct stanza *m = stanza_new(STANZA_NS_SERVER, "message");
    struct stanza *b = stanza_add_child(m, NULL, "body");
    stanza_add_text(b, "one", 3);
    stanza_add_child(b, "urn:x", "i");
    stanza_add_text(b, "two", 3);
    struct stanza *c = stanza_copy(b);
    assert_non_null(c);
    assert_null(stanza_parent(c));
    stanza_free(m);
    char *s = ser(c);
    assert_string_equal(s, "<body xmlns='jabber:server'>one<i xmlns='urn:x'/>two</body>");
    assert_string_equal(stanza_text(c), "onetwo");
    free(s);
    stanza_add_text(c, "three", 5);
    assert_string_equal(stanza_text(c), "onetwothree");
    stanza_free(c);
    stanza_free(NULL);
}

static void pool_builds_large_trees_and_reuses_memory(void **state)
{
    (void)state;
    struct stanza_pool *p = stanza_pool_new();
    assert_non_null(p);
    for (int round = 0; round < 3; round++) {
        struct stanza *root = stanza_build_root(p, "jabber:server", 13, "iq", 2);
        assert_non_null(root);
        for (int i = 0; i < 2000; i++) {
            struct stanza *c = stanza_build_child(root, "urn:x", 5, "item", 4);
            assert_non_null(c);
            assert_int_equal(stanza_build_attr(c, "", 0, "n", 1, "value", 5), 0);
        }
        /* text grown in many pieces stays one text node */
        struct stanza *t = stanza_build_child(root, "urn:x", 5, "t", 1);
        for (int i = 0; i < 10000; i++) {
            assert_int_equal(stanza_build_text(t, "0123456789", 10), 0);
        }
        assert_int_equal(strlen(stanza_text(t)), 100000);
        size_t n = 0;
        for (struct stanza *c = stanza_first_child(root); c != NULL; c = stanza_next_sibling(c)) {
            n++;
        }
        assert_int_equal(n, 2001);
        stanza_pool_clear(p);
    }
    stanza_pool_free(p);
    stanza_pool_free(NULL);
}

/* stanza_pool_idle_sweep(): a pool cleared before the previous sweep and
 * not used since gives its block back; one cleared since, one holding a
 * tree, and the pools of a thread that never sweeps keep theirs. A released
 * pool builds again. */
static void pool_idle_sweep_releases_idle_blocks(void **state)
{
    (void)state;
    struct stanza_pool *idle = stanza_pool_new(), *busy = stanza_pool_new();
    struct stanza_pool *holding = stanza_pool_new(), *fresh = stanza_pool_new();
    assert_non_null(idle);
    assert_non_null(busy);
    assert_non_null(holding);
    assert_non_null(fresh);
    /* before the first sweep pools do not join the sweeps */
    assert_non_null(stanza_build_root(idle, "jabber:server", 13, "message", 7));
    stanza_pool_clear(idle);
    assert_int_equal(stanza_pool_idle_sweep(), 0);
    assert_int_equal(stanza_pool_idle_sweep(), 0);

    stanza_pool_clear(idle); /* joins now */
    assert_non_null(stanza_build_root(busy, "jabber:server", 13, "message", 7));
    stanza_pool_clear(busy);
    assert_non_null(stanza_build_root(holding, "jabber:server", 13, "iq", 2));
    stanza_pool_clear(holding);
    assert_int_equal(stanza_pool_idle_sweep(), 0); /* all cleared in this period */

    struct stanza *m = stanza_build_root(busy, "jabber:server", 13, "message", 7);
    assert_non_null(m);
    stanza_pool_clear(busy); /* busy again in the second period */
    struct stanza *held = stanza_build_root(holding, "jabber:server", 13, "iq", 2);
    assert_non_null(held);
    assert_int_equal(stanza_build_attr(held, "", 0, "id", 2, "x1", 2), 0);
    size_t released = stanza_pool_idle_sweep();
    assert_true(released >= 8192); /* idle's block, and only it */
    assert_true(released < 2 * 8192);
    assert_string_equal(stanza_attr(held, "id"), "x1"); /* the live tree is untouched */

    /* the released pool builds again, and the never-used one is fine */
    struct stanza *again = stanza_build_root(idle, "jabber:server", 13, "presence", 8);
    assert_non_null(again);
    assert_string_equal(stanza_name(again), "presence");
    stanza_pool_clear(fresh);
    stanza_pool_clear(idle);
    /* busy idles now, holding too after its clear */
    stanza_pool_clear(holding);
    released = stanza_pool_idle_sweep();
    assert_true(released >= 8192 && released < 2 * 8192); /* busy */
    released = stanza_pool_idle_sweep();
    assert_true(released >= 2 * 8192 && released < 3 * 8192); /* idle, holding */
    assert_int_equal(stanza_pool_idle_sweep(), 0);
    stanza_pool_free(idle);
    stanza_pool_free(busy);
    stanza_pool_free(holding);
    stanza_pool_free(fresh);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lookup_helpers_find_children_attributes_and_text),
        cmocka_unit_test(builder_escapes_text_and_attributes),
        cmocka_unit_test(builder_refuses_invalid_names_and_characters),
        cmocka_unit_test(set_attr_replaces_and_removes),
        cmocka_unit_test(routing_attributes_follow_every_change),
        cmocka_unit_test(namespaces_are_declared_where_they_start),
        cmocka_unit_test(stream_serialisation_uses_stream_prefixes),
        cmocka_unit_test(serialize_is_snprintf_like),
        cmocka_unit_test(copy_is_independent_of_the_source),
        cmocka_unit_test(pool_builds_large_trees_and_reuses_memory),
        cmocka_unit_test(pool_idle_sweep_releases_idle_blocks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
