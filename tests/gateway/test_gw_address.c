/*
 * test_gw_address.c - RFC 7247 section 6 address mapping against the
 * conformance checklist of INTERWORKING.md section 7 (A1-A16).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gw_address.h"

static void expect_s2x(const char *uri, const char *full)
{
    struct gw_xmpp_addr a;
    char buf[4 * GW_ADDR_PART_MAX];
    assert_int_equal(gw_addr_sip_to_xmpp(uri, &a), GW_ADDR_OK);
    gw_addr_xmpp_format(&a, true, buf, sizeof buf);
    assert_string_equal(buf, full);
}

static void expect_x2s(const char *jid, const char *uri)
{
    char *out = NULL;
    assert_int_equal(gw_addr_xmpp_to_sip(jid, true, &out), GW_ADDR_OK);
    assert_non_null(out);
    assert_string_equal(out, uri);
    free(out);
}

/* S->X then X->S gives back the URI (parameters other than gr dropped). */
static void expect_roundtrip_sip(const char *uri)
{
    struct gw_xmpp_addr a;
    char buf[4 * GW_ADDR_PART_MAX];
    assert_int_equal(gw_addr_sip_to_xmpp(uri, &a), GW_ADDR_OK);
    gw_addr_xmpp_format(&a, true, buf, sizeof buf);
    expect_x2s(buf, uri);
}

static void expect_s2x_fail(const char *uri, enum gw_addr_status st)
{
    struct gw_xmpp_addr a;
    assert_int_equal(gw_addr_sip_to_xmpp(uri, &a), st);
}

static void expect_x2s_fail(const char *jid, enum gw_addr_status st)
{
    char *out = (char *)1;
    assert_int_equal(gw_addr_xmpp_to_sip(jid, true, &out), st);
    assert_null(out);
}

static void a1_plain_address_maps_unchanged_both_ways(void **state)
{
    (void)state;
    expect_s2x("sip:alice@sip.example", "alice@sip.example");
    expect_x2s("alice@sip.example", "sip:alice@sip.example");
    expect_roundtrip_sip("sip:alice@sip.example");
    /* im: and pres: are mapped like sip: (RFC 7247 section 6.4) */
    expect_s2x("im:alice@sip.example", "alice@sip.example");
    expect_s2x("pres:alice@sip.example", "alice@sip.example");
    expect_s2x("<sip:alice@sip.example>", "alice@sip.example");
}

static void a2_apostrophe_is_xep0106_escaped_and_back(void **state)
{
    (void)state;
    expect_s2x("sip:o'malley@sip.example", "o\\27malley@sip.example");
    expect_x2s("o\\27malley@sip.example", "sip:o'malley@sip.example");
}

static void a3_ampersand_and_slash_round_trip(void **state)
{
    (void)state;
    expect_x2s("m\\26m@xmpp.example", "sip:m&m@xmpp.example");
    expect_s2x("sip:m&m@xmpp.example", "m\\26m@xmpp.example");
    expect_s2x("sip:a/b@sip.example", "a\\2fb@sip.example");
    expect_x2s("a\\2fb@sip.example", "sip:a/b@sip.example");
}

static void a4_non_ascii_is_raw_utf8_in_jid_and_uppercase_pct_in_uri(void **state)
{
    (void)state;
    expect_s2x("sip:f%C3%BC@sip.example", "f\xc3\xbc@sip.example");
    expect_s2x("sip:f%c3%bc@sip.example", "f\xc3\xbc@sip.example");
    expect_x2s("tsch\xc3\xbcss@xmpp.example", "sip:tsch%C3%BCss@xmpp.example");
}

static void a5_uri_reserved_characters_are_percent_encoded_and_round_trip(void **state)
{
    (void)state;
    expect_x2s("a#b%c[d]e^f`g{h|i}j@xmpp.example",
               "sip:a%23b%25c%5Bd%5De%5Ef%60g%7Bh%7Ci%7Dj@xmpp.example");
    expect_s2x("sip:a%23b%25c%5Bd%5De%5Ef%60g%7Bh%7Ci%7Dj@xmpp.example",
               "a#b%c[d]e^f`g{h|i}j@xmpp.example");
    /* a lone backslash that starts no escape sequence stays a backslash */
    expect_x2s("a\\b@xmpp.example", "sip:a%5Cb@xmpp.example");
    expect_s2x("sip:a%5Cb@xmpp.example", "a\\b@xmpp.example");
}

static void a6_xmpp_reserved_characters_use_xep0106_never_raw(void **state)
{
    (void)state;
    expect_s2x("sip:a%22b%3Ac%3Cd%3Ee%40f%20g@sip.example",
               "a\\22b\\3ac\\3cd\\3ee\\40f\\20g@sip.example");
    expect_x2s("a\\22b\\3ac\\3cd\\3ee\\40f\\20g@sip.example",
               "sip:a%22b%3Ac%3Cd%3Ee%40f%20g@sip.example");
    /* a raw ':' in the userinfo is a password separator (dropped) */
    expect_s2x("sip:bob:secret@sip.example", "bob@sip.example");
}

static void a7_existing_escape_sequences_are_escaped_again(void **state)
{
    (void)state;
    /* SIP user "\27" (literal) -> \5c27; "\5c" -> \5c5c (XEP-0106 4.2) */
    expect_s2x("sip:a%5C27b@sip.example", "a\\5c27b@sip.example");
    expect_s2x("sip:a%5C5cb@sip.example", "a\\5c5cb@sip.example");
    expect_x2s("a\\5c27b@sip.example", "sip:a%5C27b@sip.example");
    expect_roundtrip_sip("sip:a%5C27b@sip.example");
    /* partial or unknown sequences are left alone */
    expect_s2x("sip:c%5C2plus@sip.example", "c\\2plus@sip.example");
    expect_s2x("sip:foo%5Cbar@sip.example", "foo\\bar@sip.example");
    expect_x2s("c\\2plus@sip.example", "sip:c%5C2plus@sip.example");
}

static void a8_invalid_utf8_or_bad_escapes_are_rejected(void **state)
{
    (void)state;
    expect_s2x_fail("sip:f%C3@sip.example", GW_ADDR_MALFORMED);
    expect_s2x_fail("sip:f%FF%FE@sip.example", GW_ADDR_MALFORMED);
    expect_s2x_fail("sip:%C0%AF@sip.example", GW_ADDR_MALFORMED);    /* overlong */
    expect_s2x_fail("sip:%ED%A0%80@sip.example", GW_ADDR_MALFORMED); /* surrogate */
    expect_s2x_fail("sip:a%2@sip.example", GW_ADDR_MALFORMED);
    expect_s2x_fail("sip:a%zz@sip.example", GW_ADDR_MALFORMED);
    expect_s2x_fail("sip:a%00b@sip.example", GW_ADDR_MALFORMED);
    expect_s2x_fail("sip:a%0Ab@sip.example", GW_ADDR_MALFORMED);
    expect_s2x_fail("sip:%20a@sip.example", GW_ADDR_MALFORMED);
    expect_s2x_fail("sip:a@b@sip.example", GW_ADDR_MALFORMED);
    expect_s2x_fail("sip:@sip.example", GW_ADDR_MALFORMED);
    expect_s2x_fail("sip:a@", GW_ADDR_MALFORMED);
    expect_s2x_fail("sip:a@host:99999999", GW_ADDR_MALFORMED);
    expect_s2x_fail("sip:a@ho st", GW_ADDR_MALFORMED);
    expect_s2x_fail("", GW_ADDR_MALFORMED);
    expect_s2x_fail("<sip:a@b", GW_ADDR_MALFORMED);
    expect_x2s_fail("\xff@xmpp.example", GW_ADDR_MALFORMED);
    expect_x2s_fail("@xmpp.example", GW_ADDR_MALFORMED);
    expect_x2s_fail("a@", GW_ADDR_MALFORMED);
    expect_x2s_fail("a@b/", GW_ADDR_MALFORMED);
    expect_x2s_fail("a@exa mple", GW_ADDR_MALFORMED);
    assert_int_equal(gw_addr_status_sip_code(GW_ADDR_MALFORMED), 400);
    assert_string_equal(gw_addr_status_xmpp_condition(GW_ADDR_MALFORMED), "jid-malformed");
}

static void a9_uppercase_user_is_case_folded(void **state)
{
    (void)state;
    expect_s2x("sip:Alice@SIP.Example", "alice@sip.example");
    expect_x2s("Alice@sip.example", "sip:alice@sip.example");
    expect_s2x("sip:%C3%9Cber@sip.example", "\xc3\xbc"
                                            "ber@sip.example");
}

static void a10_gr_parameter_is_the_resource_inside_the_brackets(void **state)
{
    (void)state;
    expect_s2x("sip:foo@sip.example;gr=bar", "foo@sip.example/bar");
    expect_x2s("baz@xmpp.example/qux", "sip:baz@xmpp.example;gr=qux");
    expect_roundtrip_sip("sip:baz@xmpp.example;gr=qux");
    char *out = NULL;
    assert_int_equal(gw_addr_xmpp_to_sip("baz@xmpp.example/qux", false, &out), GW_ADDR_OK);
    assert_string_equal(out, "sip:baz@xmpp.example");
    free(out);
}

static void a11_odd_resources_give_valid_gr_and_tuple_ids(void **state)
{
    (void)state;
    expect_x2s("a@x.example/my phone", "sip:a@x.example;gr=my%20phone");
    expect_x2s("a@x.example/caf\xc3\xa9", "sip:a@x.example;gr=caf%C3%A9");
    expect_x2s("a@x.example/a@b;c", "sip:a@x.example;gr=a%40b%3Bc");
    expect_s2x("sip:a@x.example;gr=my%20phone", "a@x.example/my phone");
    expect_s2x("sip:a@x.example;gr=a%40b%3Bc", "a@x.example/a@b;c");

    char id[64], back[64];
    gw_addr_tuple_id("1st phone", id, sizeof id);
    assert_string_equal(id, "ID-1st_20phone");
    assert_int_equal(gw_addr_tuple_id_resource(id, back, sizeof back), 0);
    assert_string_equal(back, "1st phone");
    gw_addr_tuple_id("a_b@c\xc3\xa9", id, sizeof id);
    assert_string_equal(id, "ID-a_5fb_40c_c3_a9");
    assert_int_equal(gw_addr_tuple_id_resource(id, back, sizeof back), 0);
    assert_string_equal(back, "a_b@c\xc3\xa9");
    gw_addr_tuple_id(NULL, id, sizeof id);
    assert_string_equal(id, "ID-");
    assert_int_equal(gw_addr_tuple_id_resource("0x1234", back, sizeof back), -1);
    assert_int_equal(gw_addr_tuple_id_resource("ID-a_zz", back, sizeof back), -1);
    /* truncation is reported snprintf-like */
    char small[5];
    assert_int_equal(gw_addr_tuple_id("abcdef", small, sizeof small), 9);
    assert_string_equal(small, "ID-a");
}

static void a12_temporary_gruu_maps_to_no_resource(void **state)
{
    (void)state;
    expect_s2x("sip:tgruu.7hs==jd7vnzga5w7fajsc7-ajd6fabz0f8g5@example.com;gr",
               "tgruu.7hs==jd7vnzga5w7fajsc7-ajd6fabz0f8g5@example.com");
    expect_s2x("sip:alice@example.com;gr=", "alice@example.com");
}

static void a13_part_length_limits(void **state)
{
    (void)state;
    char *jid = malloc(4 * GW_ADDR_PART_MAX + 16);
    char local[GW_ADDR_PART_MAX + 2];
    memset(local, 'l', GW_ADDR_PART_MAX);
    local[GW_ADDR_PART_MAX] = '\0';
    char res[GW_ADDR_PART_MAX + 2];
    memset(res, 'r', GW_ADDR_PART_MAX);
    res[GW_ADDR_PART_MAX] = '\0';
    char dom[GW_ADDR_PART_MAX + 2];
    memset(dom, 'd', GW_ADDR_PART_MAX);
    dom[GW_ADDR_PART_MAX] = '\0';

    sprintf(jid, "%s@%s/%s", local, dom, res);
    char *uri = NULL;
    assert_int_equal(gw_addr_xmpp_to_sip(jid, true, &uri), GW_ADDR_OK);
    struct gw_xmpp_addr a;
    assert_int_equal(gw_addr_sip_to_xmpp(uri, &a), GW_ADDR_OK);
    assert_int_equal(strlen(a.local), GW_ADDR_PART_MAX);
    assert_int_equal(strlen(a.domain), GW_ADDR_PART_MAX);
    assert_int_equal(strlen(a.resource), GW_ADDR_PART_MAX);
    free(uri);

    sprintf(jid, "%sx@%s", local, "x.example");
    expect_x2s_fail(jid, GW_ADDR_TOO_LONG);
    sprintf(jid, "a@%sx", dom);
    expect_x2s_fail(jid, GW_ADDR_TOO_LONG);
    sprintf(jid, "a@x.example/%sx", res);
    expect_x2s_fail(jid, GW_ADDR_TOO_LONG);
    sprintf(jid, "sip:%sx@x.example", local);
    expect_s2x_fail(jid, GW_ADDR_TOO_LONG);
    /* escaping can push a localpart over the limit: 400 quotes -> 1200 */
    char quotes[3 * 400 + 32];
    strcpy(quotes, "sip:");
    for (int i = 0; i < 400; i++)
        strcat(quotes, "%27");
    strcat(quotes, "@x.example");
    expect_s2x_fail(quotes, GW_ADDR_TOO_LONG);
    sprintf(jid, "sip:a@%sx", dom);
    expect_s2x_fail(jid, GW_ADDR_TOO_LONG);
    assert_int_equal(gw_addr_status_sip_code(GW_ADDR_TOO_LONG), 414);
    free(jid);
}

static void a14_uri_parameters_and_headers_are_dropped(void **state)
{
    (void)state;
    expect_s2x("sip:alice@sip.example;transport=tcp", "alice@sip.example");
    expect_s2x("sip:alice@sip.example:5070;transport=tcp;lr?subject=hi", "alice@sip.example");
    expect_s2x("sip:alice@sip.example?subject=hi&priority=urgent", "alice@sip.example");
    expect_s2x("sip:alice@sip.example;transport=tcp;gr=home;user=phone", "alice@sip.example/home");
    expect_s2x("sip:alice@[2001:db8::1]:5060", "alice@[2001:db8::1]");
    expect_s2x("sip:alice;ext=1@sip.example", "alice;ext=1@sip.example");
}

static void a15_non_sip_schemes_are_refused(void **state)
{
    (void)state;
    expect_s2x_fail("tel:+15551234567", GW_ADDR_UNSUPPORTED_SCHEME);
    expect_s2x_fail("mailto:a@b.example", GW_ADDR_UNSUPPORTED_SCHEME);
    expect_s2x_fail("xmpp:a@b.example", GW_ADDR_UNSUPPORTED_SCHEME);
    expect_s2x_fail("alice@sip.example", GW_ADDR_MALFORMED);
    assert_int_equal(gw_addr_status_sip_code(GW_ADDR_UNSUPPORTED_SCHEME), 416);
}

static void a16_sips_is_never_translated(void **state)
{
    (void)state;
    expect_s2x_fail("sips:alice@sip.example", GW_ADDR_SIPS);
    expect_s2x_fail("SIPS:alice@sip.example", GW_ADDR_SIPS);
    assert_int_equal(gw_addr_status_sip_code(GW_ADDR_SIPS), 416);
    assert_string_equal(gw_addr_status_name(GW_ADDR_SIPS), "sips");
}

static void idn_domain_is_written_as_a_label(void **state)
{
    (void)state;
    expect_x2s("a@b\xc3\xbc"
               "cher.example",
               "sip:a@xn--bcher-kva.example");
    expect_x2s("example.com", "sip:example.com");
    expect_s2x("sip:example.com", "example.com");
}

static void jid_split_follows_rfc7622(void **state)
{
    (void)state;
    struct gw_xmpp_addr a;
    assert_int_equal(gw_addr_jid_split("a@b/c@d/e", &a), GW_ADDR_OK);
    assert_string_equal(a.local, "a");
    assert_string_equal(a.domain, "b");
    assert_string_equal(a.resource, "c@d/e");
    assert_int_equal(gw_addr_jid_split("b/c@d", &a), GW_ADDR_OK);
    assert_string_equal(a.local, "");
    assert_string_equal(a.domain, "b");
    assert_string_equal(a.resource, "c@d");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a1_plain_address_maps_unchanged_both_ways),
        cmocka_unit_test(a2_apostrophe_is_xep0106_escaped_and_back),
        cmocka_unit_test(a3_ampersand_and_slash_round_trip),
        cmocka_unit_test(a4_non_ascii_is_raw_utf8_in_jid_and_uppercase_pct_in_uri),
        cmocka_unit_test(a5_uri_reserved_characters_are_percent_encoded_and_round_trip),
        cmocka_unit_test(a6_xmpp_reserved_characters_use_xep0106_never_raw),
        cmocka_unit_test(a7_existing_escape_sequences_are_escaped_again),
        cmocka_unit_test(a8_invalid_utf8_or_bad_escapes_are_rejected),
        cmocka_unit_test(a9_uppercase_user_is_case_folded),
        cmocka_unit_test(a10_gr_parameter_is_the_resource_inside_the_brackets),
        cmocka_unit_test(a11_odd_resources_give_valid_gr_and_tuple_ids),
        cmocka_unit_test(a12_temporary_gruu_maps_to_no_resource),
        cmocka_unit_test(a13_part_length_limits),
        cmocka_unit_test(a14_uri_parameters_and_headers_are_dropped),
        cmocka_unit_test(a15_non_sip_schemes_are_refused),
        cmocka_unit_test(a16_sips_is_never_translated),
        cmocka_unit_test(idn_domain_is_written_as_a_label),
        cmocka_unit_test(jid_split_follows_rfc7622),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
