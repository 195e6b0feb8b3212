/*
 * test_jid.c - RFC 7622 JIDs: a table of valid and invalid addresses with
 * their normalised forms (RFC 7622 section 3.5 examples included), part
 * accessors, comparison, domain normalisation and A-labels.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "jid.h"

struct jid_case {
    const char *in;
    const char *full;  /* normalised, NULL if the input is invalid */
    const char *local; /* NULL: none */
    const char *domain;
    const char *resource; /* NULL: none */
};

static const struct jid_case cases[] = {
    /* RFC 7622 section 3.5.1 valid examples */
    {"juliet@example.com", "juliet@example.com", "juliet", "example.com", NULL},
    {"juliet@example.com/foo", "juliet@example.com/foo", "juliet", "example.com", "foo"},
    {"juliet@example.com/foo bar", "juliet@example.com/foo bar", "juliet", "example.com",
     "foo bar"},
    {"juliet@example.com/foo@bar", "juliet@example.com/foo@bar", "juliet", "example.com",
     "foo@bar"},
    {"foo\\20bar@example.com", "foo\\20bar@example.com", "foo\\20bar", "example.com", NULL},
    {"fussball@example.com", "fussball@example.com", "fussball", "example.com", NULL},
    {"fu\xc3\x9f"
     "ball@example.com",
     "fu\xc3\x9f"
     "ball@example.com",
     "fu\xc3\x9f"
     "ball",
     "example.com", NULL},
    {"\xcf\x80@example.com", "\xcf\x80@example.com", "\xcf\x80", "example.com", NULL},
    {"\xce\xa3@example.com/foo", "\xcf\x83@example.com/foo", "\xcf\x83", "example.com", "foo"},
    {"\xcf\x83@example.com/foo", "\xcf\x83@example.com/foo", "\xcf\x83", "example.com", "foo"},
    {"\xcf\x82@example.com/foo", "\xcf\x82@example.com/foo", "\xcf\x82", "example.com", "foo"},
    {"king@example.com/\xe2\x99\x9a", "king@example.com/\xe2\x99\x9a", "king", "example.com",
     "\xe2\x99\x9a"},
    {"example.com", "example.com", NULL, "example.com", NULL},
    {"example.com/foobar", "example.com/foobar", NULL, "example.com", "foobar"},
    {"a.example.com/b@example.net", "a.example.com/b@example.net", NULL, "a.example.com",
     "b@example.net"},
    /* RFC 7622 section 3.5.2 invalid examples */
    {"\"juliet\"@example.com", NULL, NULL, NULL, NULL},
    {"foo bar@example.com", NULL, NULL, NULL, NULL},
    {"juliet@example.com/ foo", NULL, NULL, NULL, NULL},
    {"@example.com/", NULL, NULL, NULL, NULL},
    {"henry\xe2\x85\xa3@example.com", NULL, NULL, NULL, NULL}, /* ROMAN NUMERAL FOUR */
    {"\xe2\x99\x9a@example.com", NULL, NULL, NULL, NULL},      /* BLACK CHESS KING */
    {"juliet@", NULL, NULL, NULL, NULL},
    {"/foobar", NULL, NULL, NULL, NULL},
    /* case folding and mapping */
    {"Juliet@Example.COM/Balcony", "juliet@example.com/Balcony", "juliet", "example.com",
     "Balcony"},
    {"\xef\xbc\xaa\xef\xbd\x95liet@example.com", "juliet@example.com", "juliet", "example.com",
     NULL}, /* fullwidth J u */
    {"user@\xef\xbd\x85xample.com", "user@example.com", "user", "example.com", NULL},
    {"Ren\xc3\x89@example.com", "ren\xc3\xa9@example.com", "ren\xc3\xa9", "example.com", NULL},
    {"rene\xcc\x81@example.com", "ren\xc3\xa9@example.com", "ren\xc3\xa9", "example.com",
     NULL}, /* NFC */
    /* IDN domains: U-labels kept, A-labels converted, upper case folded */
    {"user@b\xc3\xbc"
     "cher.example",
     "user@b\xc3\xbc"
     "cher.example",
     "user",
     "b\xc3\xbc"
     "cher.example",
     NULL},
    {"user@xn--bcher-kva.example",
     "user@b\xc3\xbc"
     "cher.example",
     "user",
     "b\xc3\xbc"
     "cher.example",
     NULL},
    {"user@XN--BCHER-KVA.Example",
     "user@b\xc3\xbc"
     "cher.example",
     "user",
     "b\xc3\xbc"
     "cher.example",
     NULL},
    {"user@B\xc3\x9c"
     "CHER.example",
     "user@b\xc3\xbc"
     "cher.example",
     "user",
     "b\xc3\xbc"
     "cher.example",
     NULL},
    {"\xe5\xb1\xb1\xe7\x94\xb0@\xe6\x97\xa5\xe6\x9c\xac.example",
     "\xe5\xb1\xb1\xe7\x94\xb0@\xe6\x97\xa5\xe6\x9c\xac.example", "\xe5\xb1\xb1\xe7\x94\xb0",
     "\xe6\x97\xa5\xe6\x9c\xac.example", NULL},
    {"user@xn--zz-ab.example", NULL, NULL, NULL, NULL},     /* not an A-label */
    {"user@xn--bcher-kvb.example", NULL, NULL, NULL, NULL}, /* bad punycode */
    {"user@ab--cd.example", NULL, NULL, NULL, NULL},        /* reserved R-LDH label */
    {"user@exa_mple.com", NULL, NULL, NULL, NULL},
    {"user@-example.com", NULL, NULL, NULL, NULL},
    {"user@example-.com", NULL, NULL, NULL, NULL},
    {"user@example..com", NULL, NULL, NULL, NULL},
    {"user@.example.com", NULL, NULL, NULL, NULL},
    {"user@ex ample.com", NULL, NULL, NULL, NULL},
    {"user@\xe2\x98\x83.example", NULL, NULL, NULL, NULL}, /* SNOWMAN: not IDNA2008 */
    /* trailing dot stripped (RFC 7622 section 3.2) */
    {"user@example.com./res", "user@example.com/res", "user", "example.com", "res"},
    {"example.com.", "example.com", NULL, "example.com", NULL},
    {".", NULL, NULL, NULL, NULL},
    /* IP literals */
    {"user@192.0.2.1", "user@192.0.2.1", "user", "192.0.2.1", NULL},
    {"user@[2001:DB8:0:0::1]/r", "user@[2001:db8::1]/r", "user", "[2001:db8::1]", "r"},
    {"user@[2001:db8::zz]", NULL, NULL, NULL, NULL},
    {"user@[192.0.2.1", NULL, NULL, NULL, NULL},
    /* '@' and '/' rules (RFC 7622 section 3.2 parsing order) */
    {"a@b@example.com", NULL, NULL, NULL, NULL},
    {"example.com/a@b/c", "example.com/a@b/c", NULL, "example.com", "a@b/c"},
    {"a@example.com/", NULL, NULL, NULL, NULL},
    {"@example.com", NULL, NULL, NULL, NULL},
    {"a@/r", NULL, NULL, NULL, NULL},
    {"", NULL, NULL, NULL, NULL},
    {"a:b@example.com", NULL, NULL, NULL, NULL},
    {"a<b@example.com", NULL, NULL, NULL, NULL},
    {"a&b@example.com", NULL, NULL, NULL, NULL},
    {"a'b@example.com", NULL, NULL, NULL, NULL},
    {"tab\t@example.com", NULL, NULL, NULL, NULL},
    {"user@example.com/ctl\x01", NULL, NULL, NULL, NULL},
    {"user@example.com/bad\xc3\x28", NULL, NULL, NULL, NULL},
    {"us\xc3\x28r@example.com", NULL, NULL, NULL, NULL},
    {"user@exa\xff.com", NULL, NULL, NULL, NULL},
    {"\xe2\x80\x8b"
     "a@example.com",
     NULL, NULL, NULL, NULL}, /* ZERO WIDTH SPACE */
    {"a\xc2\xa0"
     "b@example.com",
     NULL, NULL, NULL, NULL},                             /* NO-BREAK SPACE */
    {"\xef\xac\x81@example.com", NULL, NULL, NULL, NULL}, /* LIGATURE FI: HasCompat */
};

static void jid_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct jid_case *c = &cases[i];
        const char *why = NULL;
        struct jid *j = jid_new(c->in, &why);
        if ((j == NULL) != (c->full == NULL)) {
            print_error("case %zu <%s>: expected %s, got %s (%s)\n", i, c->in,
                        c->full ? c->full : "invalid", j ? jid_full(j) : "invalid", why ? why : "");
            fail();
        }
        assert_int_equal(jid_valid(c->in), c->full != NULL);
        if (j == NULL) {
            assert_non_null(why);
            continue;
        }
        assert_string_equal(jid_full(j), c->full);
        if (c->local == NULL) {
            assert_null(jid_local(j));
        } else {
            assert_string_equal(jid_local(j), c->local);
        }
        assert_string_equal(jid_domain(j), c->domain);
        if (c->resource == NULL) {
            assert_null(jid_resource(j));
            assert_true(jid_is_bare(j));
        } else {
            assert_string_equal(jid_resource(j), c->resource);
            assert_false(jid_is_bare(j));
        }
        assert_int_equal(jid_is_domain(j), c->local == NULL && c->resource == NULL);
        /* normalisation is idempotent */
        struct jid *again = jid_new(jid_full(j), NULL);
        assert_non_null(again);
        assert_true(jid_equal(j, again));
        jid_free(again);
        /* the same from separate parts */
        struct jid *parts = jid_from_parts(c->local, c->domain, c->resource, NULL);
        assert_non_null(parts);
        assert_string_equal(jid_full(parts), c->full);
        jid_free(parts);
        jid_free(j);
    }
}

static char *repeat(char ch, size_t n, const char *prefix, const char *suffix)
{
    size_t pl = strlen(prefix), sl = strlen(suffix);
    char *s = malloc(pl + n + sl + 1);
    assert_non_null(s);
    memcpy(s, prefix, pl);
    memset(s + pl, ch, n);
    memcpy(s + pl + n, suffix, sl + 1);
    return s;
}

static void part_length_limits_are_1023_octets(void **state)
{
    (void)state;
    char *ok = repeat('a', 1023, "", "@example.com");
    char *bad = repeat('a', 1024, "", "@example.com");
    assert_true(jid_valid(ok));
    assert_false(jid_valid(bad));
    free(ok);
    free(bad);
    ok = repeat('r', 1023, "a@example.com/", "");
    bad = repeat('r', 1024, "a@example.com/", "");
    assert_true(jid_valid(ok));
    assert_false(jid_valid(bad));
    free(ok);
    free(bad);
    /* 1023 octets of a two-octet character would be 1022 + half: use 511
     * characters (1022 octets) and 512 (1024 octets). */
    char local[2048];
    size_t n = 0;
    for (int i = 0; i < 511; i++) {
        local[n++] = '\xc3';
        local[n++] = '\xa9';
    }
    local[n] = '\0';
    char buf[4096];
    snprintf(buf, sizeof(buf), "%s@example.com", local);
    assert_true(jid_valid(buf));
    snprintf(buf, sizeof(buf), "%s\xc3\xa9@example.com", local);
    assert_false(jid_valid(buf));
    /* domain labels: 63 octets max, 253 for the name (A-label form) */
    char *label63 = repeat('d', 63, "", ".example");
    char *label64 = repeat('d', 64, "", ".example");
    assert_true(jid_valid(label63));
    assert_false(jid_valid(label64));
    free(label63);
    free(label64);
    char name[400];
    n = 0;
    while (n + 10 <= 250) {
        memcpy(name + n, "abcdefghi.", 10);
        n += 10;
    }
    memcpy(name + n, "abc", 3); /* 253 */
    name[n + 3] = '\0';
    assert_int_equal(strlen(name), 253);
    assert_true(jid_valid(name));
    name[n + 3] = 'd';
    name[n + 4] = '\0';
    assert_false(jid_valid(name));
}

static void comparison_uses_normalised_forms(void **state)
{
    (void)state;
    struct jid *a = jid_new("Romeo@Example.ORG/Orchard", NULL);
    struct jid *b = jid_new("romeo@example.org/Orchard", NULL);
    struct jid *c = jid_new("romeo@example.org/orchard", NULL);
    struct jid *d = jid_new("romeo@xn--exmple-cua.org", NULL);
    assert_true(jid_equal(a, b));
    assert_false(jid_equal(a, c)); /* resourceparts are case-sensitive */
    assert_true(jid_bare_equal(a, c));
    assert_false(jid_bare_equal(a, d));
    assert_string_equal(jid_bare(a), "romeo@example.org");
    struct jid *bare = jid_to_bare(a);
    assert_string_equal(jid_full(bare), "romeo@example.org");
    assert_true(jid_is_bare(bare));
    struct jid *dup = jid_dup(a);
    assert_true(jid_equal(dup, a));
    assert_string_equal(jid_domain(d), "ex\xc3\xa4mple.org");
    jid_free(a);
    jid_free(b);
    jid_free(c);
    jid_free(d);
    jid_free(bare);
    jid_free(dup);
    jid_free(NULL);
}

static void parse_takes_lengths_and_refuses_nul(void **state)
{
    (void)state;
    struct jid *j = jid_parse("user@example.orgXXX", 16, NULL);
    assert_non_null(j);
    assert_string_equal(jid_full(j), "user@example.org");
    jid_free(j);
    const char *why = NULL;
    assert_null(jid_parse("user@exa\0mple.org", 17, &why));
    assert_non_null(why);
    assert_null(jid_new(NULL, &why));
}

static void from_parts_refuses_separators_in_the_domain(void **state)
{
    (void)state;
    assert_null(jid_from_parts("a", "b@example.com", NULL, NULL));
    assert_null(jid_from_parts("a", "example.com/x", NULL, NULL));
    assert_null(jid_from_parts("a@b", "example.com", NULL, NULL));
    assert_null(jid_from_parts(NULL, NULL, NULL, NULL));
    struct jid *j = jid_from_parts(NULL, "Example.COM", "a/b", NULL);
    assert_non_null(j);
    assert_string_equal(jid_full(j), "example.com/a/b");
    jid_free(j);
}

static void domain_normalize_and_to_ascii(void **state)
{
    (void)state;
    char out[JID_PART_MAX + 1];
    const char *why = NULL;
    assert_int_equal(jid_domain_normalize("XN--BCHER-KVA.Example.", 22, out, sizeof(out), &why), 0);
    assert_string_equal(out, "b\xc3\xbc"
                             "cher.example");
    char a[256];
    assert_int_equal(jid_domain_to_ascii(out, a, sizeof(a)), 0);
    assert_string_equal(a, "xn--bcher-kva.example");
    assert_int_equal(jid_domain_to_ascii("example.org", a, sizeof(a)), 0);
    assert_string_equal(a, "example.org");
    assert_int_equal(jid_domain_to_ascii("example.org", a, 5), -1);
    assert_int_equal(jid_domain_normalize("example.org", 11, out, 5, &why), -1);
    assert_int_equal(jid_domain_normalize("bad domain", 10, out, sizeof(out), &why), -1);
    assert_non_null(why);
    assert_int_equal(jid_domain_normalize("", 0, out, sizeof(out), &why), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(jid_table),
        cmocka_unit_test(part_length_limits_are_1023_octets),
        cmocka_unit_test(comparison_uses_normalised_forms),
        cmocka_unit_test(parse_takes_lengths_and_refuses_nul),
        cmocka_unit_test(from_parts_refuses_separators_in_the_domain),
        cmocka_unit_test(domain_normalize_and_to_ascii),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
