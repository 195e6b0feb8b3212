/*
 * test_gw_pidf.c - PIDF/RPID parse and build and the presence mapping both
 * ways (RFC 3863, RFC 4480, RFC 8048 section 6; checklist P22-P32), with
 * golden files in tests/gateway/data/pidf ($XFED_TEST_DATA).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gw_pidf.h"

static char *slurp(const char *name, size_t *len)
{
    const char *dir = getenv("XFED_TEST_DATA");
    char path[1024];
    assert_non_null(dir);
    snprintf(path, sizeof path, "%s/pidf/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        fail_msg("cannot open %s", path);
    char *buf = malloc(1 << 20);
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
}

static struct gw_pidf *parse_file(const char *name)
{
    size_t len;
    char *buf = slurp(name, &len);
    const char *why = NULL;
    struct gw_pidf *d = gw_pidf_parse(buf, len, NULL, &why);
    free(buf);
    if (d == NULL)
        fail_msg("%s: %s", name, why);
    return d;
}

static void parse_fails(const char *name, const char *reason)
{
    size_t len;
    char *buf = slurp(name, &len);
    const char *why = NULL;
    assert_null(gw_pidf_parse(buf, len, NULL, &why));
    free(buf);
    assert_string_equal(why, reason);
}

static void p29_kamailio_multi_tuple_document_aggregates(void **state)
{
    (void)state;
    struct gw_pidf *d = parse_file("kamailio_multi.xml");
    assert_string_equal(d->entity, "sip:carol@contoso.example");
    assert_int_equal(d->n_tuples, 3);
    assert_int_equal(d->n_persons, 2);
    assert_int_equal(d->tuples[0].basic, GW_BASIC_CLOSED);
    assert_int_equal(d->tuples[0].priority_milli, 1000);
    assert_int_equal(d->tuples[1].basic, GW_BASIC_OPEN);
    assert_int_equal(d->tuples[1].priority_milli, 800);
    assert_string_equal(d->tuples[1].contact, "sip:carol@10.0.0.9:5062;transport=tcp");
    assert_true(d->persons[0].activities & GW_RPID_BIT(GW_RPID_ON_THE_PHONE));
    assert_true(d->persons[1].activities & GW_RPID_BIT(GW_RPID_AWAY));
    assert_string_equal(d->persons[0].note, "On the phone");

    struct gw_presence p;
    gw_pidf_to_presence(d, true, &p);
    assert_true(p.available);              /* an open tuple exists (closed one ignored) */
    assert_int_equal(p.show, GW_SHOW_DND); /* on-the-phone beats away */
    assert_true(p.has_priority);
    assert_int_equal(p.priority, 102); /* P30: 0.8 -> 102 */
    assert_string_equal(p.status, "On the phone");
    assert_string_equal(p.lang, "en");
    gw_pidf_to_presence(d, false, &p); /* status notes only for Federated */
    assert_string_equal(p.status, "");
    gw_pidf_free(d);
}

static void p31_mustunderstand_extension_is_skipped_whole(void **state)
{
    (void)state;
    struct gw_pidf *d = parse_file("rfc3863_example.xml");
    assert_int_equal(d->n_tuples, 1);
    assert_string_equal(d->tuples[0].id, "bs35r9");
    assert_false(d->tuples[0].has_show); /* the show inside it was not processed */
    assert_string_equal(d->tuples[0].note, "Don't Disturb Please!");
    assert_string_equal(d->tuples[0].note_lang, "en");
    assert_string_equal(d->note, "I'll be in Tokyo next week");
    struct gw_presence p;
    gw_pidf_to_presence(d, true, &p);
    assert_true(p.available);
    assert_int_equal(p.show, GW_SHOW_NONE);
    assert_int_equal(p.priority, 95); /* round(0.75 * 127) */
    assert_string_equal(p.status, "Don't Disturb Please!");
    gw_pidf_free(d);
}

static void p28_jabber_show_note_and_priority_map_back(void **state)
{
    (void)state;
    struct gw_pidf *d = parse_file("xmpp_away.xml");
    struct gw_presence p;
    gw_pidf_to_presence(d, true, &p);
    assert_true(p.available);
    assert_int_equal(p.show, GW_SHOW_AWAY);
    assert_int_equal(p.priority, 5);
    assert_string_equal(p.status, "Out & about <3");
    assert_string_equal(p.lang, "en");
    gw_pidf_free(d);
}

static void p28_closed_and_empty_documents_are_unavailable(void **state)
{
    (void)state;
    struct gw_presence p;
    struct gw_pidf *d = parse_file("closed.xml");
    gw_pidf_to_presence(d, true, &p);
    assert_false(p.available);
    assert_int_equal(p.show, GW_SHOW_NONE);
    assert_false(p.has_priority);
    assert_string_equal(p.status, "Gone home");
    gw_pidf_free(d);
    d = parse_file("no_tuples.xml");
    gw_pidf_to_presence(d, true, &p);
    assert_false(p.available);
    assert_int_equal(p.show, GW_SHOW_NONE);
    assert_string_equal(p.status, "nothing published");
    gw_pidf_free(d);
}

static void rpid_vacation_is_xa(void **state)
{
    (void)state;
    struct gw_presence p;
    struct gw_pidf *d = parse_file("vacation.xml");
    gw_pidf_to_presence(d, true, &p);
    assert_true(p.available);
    assert_int_equal(p.show, GW_SHOW_XA);
    assert_false(p.has_priority);
    assert_string_equal(p.status, "Urlaub bis Montag");
    assert_string_equal(p.lang, "de");
    gw_pidf_free(d);
}

static void p32_hostile_and_malformed_documents_are_refused(void **state)
{
    (void)state;
    parse_fails("billion_laughs.xml", "doctype refused");
    parse_fails("external_entity.xml", "doctype refused");
    static const struct {
        const char *doc;
        const char *why;
    } bad[] = {
        {"", "not well-formed"},
        {"<presence xmlns='urn:ietf:params:xml:ns:pidf' entity='x'>", "not well-formed"},
        {"<presence xmlns='urn:other' entity='x'/>", "not a PIDF document"},
        {"<presence xmlns='urn:ietf:params:xml:ns:pidf'/>", "no entity"},
        {"<?xml version='1.0' encoding='ISO-8859-1'?><presence "
         "xmlns='urn:ietf:params:xml:ns:pidf' entity='x'/>",
         "encoding not UTF-8"},
        {"\xff\xfe<\0p\0", "encoding not UTF-8"},
        {"<presence xmlns='urn:ietf:params:xml:ns:pidf' entity='x'><note>\xc3</note></presence>",
         "not well-formed"},
        {"<presence xmlns='urn:ietf:params:xml:ns:pidf' entity='x'><note>&foo;</note></presence>",
         "not well-formed"},
        {"<presence xmlns='urn:ietf:params:xml:ns:pidf' entity='x'></presence><x/>",
         "not well-formed"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *why = NULL;
        size_t len = strlen(bad[i].doc);
        if (i == 5)
            len = 6;
        assert_null(gw_pidf_parse(bad[i].doc, len, NULL, &why));
        if (strcmp(why, bad[i].why) != 0)
            fail_msg("case %zu: %s, want %s", i, why, bad[i].why);
    }
}

static void caps_are_enforced(void **state)
{
    (void)state;
    char *doc = malloc(200000);
    const char *why;
    /* depth */
    strcpy(doc, "<presence xmlns='urn:ietf:params:xml:ns:pidf' entity='x'>");
    for (int i = 0; i < 40; i++)
        strcat(doc, "<a>");
    for (int i = 0; i < 40; i++)
        strcat(doc, "</a>");
    strcat(doc, "</presence>");
    assert_null(gw_pidf_parse(doc, strlen(doc), NULL, &why));
    assert_string_equal(why, "too deep");
    /* tuples */
    struct gw_pidf_limits lim = {.max_tuples = 2};
    strcpy(doc, "<presence xmlns='urn:ietf:params:xml:ns:pidf' entity='x'>");
    for (int i = 0; i < 3; i++)
        strcat(doc, "<tuple id='a'><status><basic>open</basic></status></tuple>");
    strcat(doc, "</presence>");
    assert_null(gw_pidf_parse(doc, strlen(doc), &lim, &why));
    assert_string_equal(why, "too many tuples");
    struct gw_pidf *d = gw_pidf_parse(doc, strlen(doc), NULL, &why);
    assert_non_null(d);
    assert_int_equal(d->n_tuples, 3);
    gw_pidf_free(d);
    /* size */
    struct gw_pidf_limits small = {.max_bytes = 50};
    assert_null(gw_pidf_parse(doc, strlen(doc), &small, &why));
    assert_string_equal(why, "too large");
    /* text */
    strcpy(doc, "<presence xmlns='urn:ietf:params:xml:ns:pidf' entity='x'><note>");
    memset(doc + strlen(doc), 'n', 5000);
    strcpy(doc + strlen("<presence xmlns='urn:ietf:params:xml:ns:pidf' entity='x'><note>") + 5000,
           "</note></presence>");
    assert_null(gw_pidf_parse(doc, strlen(doc), NULL, &why));
    assert_string_equal(why, "text too long");
    /* elements */
    struct gw_pidf_limits few = {.max_elements = 10};
    strcpy(doc, "<presence xmlns='urn:ietf:params:xml:ns:pidf' entity='x'>");
    for (int i = 0; i < 20; i++)
        strcat(doc, "<x/>");
    strcat(doc, "</presence>");
    assert_null(gw_pidf_parse(doc, strlen(doc), &few, &why));
    assert_string_equal(why, "too many elements");
    free(doc);
}

static void p26_priority_scale_both_ways(void **state)
{
    (void)state;
    static const struct {
        int p, milli;
    } v[] = {{0, 0}, {1, 7}, {2, 15}, {5, 39}, {126, 992}, {127, 1000}};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        assert_int_equal(gw_pidf_priority_to_milli(v[i].p), v[i].milli);
        assert_int_equal(gw_pidf_priority_from_milli(v[i].milli), v[i].p);
    }
    for (int p = 0; p <= 127; p++)
        assert_int_equal(gw_pidf_priority_from_milli(gw_pidf_priority_to_milli(p)), p);
    assert_int_equal(gw_pidf_priority_to_milli(-1), -1);
    assert_int_equal(gw_pidf_priority_from_milli(800), 102);
    /* invalid qvalues are ignored (RFC 3863 section 4.1.5) */
    static const char *const bad[] = {"1.5", "2", "0.8x", "-0.1", ".5", "0.1234"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char doc[300];
        snprintf(doc, sizeof doc,
                 "<presence xmlns='urn:ietf:params:xml:ns:pidf' entity='x'><tuple id='t'>"
                 "<status><basic>open</basic></status><contact priority='%s'>sip:a@b</contact>"
                 "</tuple></presence>",
                 bad[i]);
        struct gw_pidf *d = gw_pidf_parse(doc, strlen(doc), NULL, NULL);
        assert_non_null(d);
        assert_int_equal(d->tuples[0].priority_milli, -1);
        gw_pidf_free(d);
    }
}

static void expect_golden(const char *name, const char *got)
{
    size_t len;
    char *want = slurp(name, &len);
    if (strcmp(want, got) != 0)
        fail_msg("%s differs; got:\n%s", name, got);
    free(want);
}

static void p22_p24_p25_build_one_resource_matches_golden(void **state)
{
    (void)state;
    struct gw_presence p = {
        .available = true, .show = GW_SHOW_AWAY, .has_priority = true, .priority = 5};
    strcpy(p.status, "Out & about <3");
    strcpy(p.lang, "en");
    strcpy(p.resource, "balcony");
    size_t len;
    char *doc = gw_pidf_build("juliet@example.com", &p, 1, true, &len);
    assert_non_null(doc);
    assert_int_equal(strlen(doc), len);
    expect_golden("build_away.xml", doc);
    /* and it parses back to the same presence */
    struct gw_pidf *d = gw_pidf_parse(doc, len, NULL, NULL);
    assert_non_null(d);
    assert_string_equal(d->entity, "pres:juliet@example.com");
    assert_string_equal(d->tuples[0].id, "ID-balcony");
    struct gw_presence back;
    gw_pidf_to_presence(d, true, &back);
    assert_true(back.available);
    assert_int_equal(back.show, GW_SHOW_AWAY);
    assert_int_equal(back.priority, 5);
    assert_string_equal(back.status, "Out & about <3");
    assert_string_equal(back.lang, "en");
    gw_pidf_free(d);
    free(doc);
    /* without status notes (PublicVerified / PublicUnverified partners) */
    doc = gw_pidf_build("juliet@example.com", &p, 1, false, NULL);
    assert_null(strstr(doc, "<note"));
    free(doc);
}

static void p23_p27_two_resources_and_unavailable_match_golden(void **state)
{
    (void)state;
    struct gw_presence r[2];
    memset(r, 0, sizeof r);
    r[0].available = true;
    r[0].show = GW_SHOW_DND;
    r[0].has_priority = true;
    r[0].priority = -5; /* MUST NOT be mapped */
    strcpy(r[0].resource, "1st phone");
    r[1].available = false;
    strcpy(r[1].resource, "laptop");
    char *doc = gw_pidf_build("o\\27malley@xmpp.example", r, 2, true, NULL);
    assert_non_null(doc);
    expect_golden("build_two.xml", doc);
    struct gw_pidf *d = gw_pidf_parse(doc, strlen(doc), NULL, NULL);
    assert_non_null(d);
    assert_int_equal(d->n_tuples, 2);
    struct gw_presence back;
    gw_pidf_to_presence(d, true, &back);
    assert_true(back.available); /* one resource offline does not close the contact */
    assert_int_equal(back.show, GW_SHOW_DND);
    assert_false(back.has_priority);
    gw_pidf_free(d);
    free(doc);
    /* nothing known: one closed tuple */
    doc = gw_pidf_build("juliet@example.com", NULL, 0, true, NULL);
    expect_golden("build_closed.xml", doc);
    free(doc);
    /* an address that cannot be mapped */
    assert_null(gw_pidf_build("@bad", r, 1, true, NULL));
}

static void show_words(void **state)
{
    (void)state;
    enum gw_show s;
    assert_int_equal(gw_show_parse("xa", &s), 0);
    assert_int_equal(s, GW_SHOW_XA);
    assert_int_equal(gw_show_parse("online", &s), -1);
    assert_string_equal(gw_show_name(GW_SHOW_CHAT), "chat");
    assert_string_equal(gw_show_name(GW_SHOW_NONE), "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(p29_kamailio_multi_tuple_document_aggregates),
        cmocka_unit_test(p31_mustunderstand_extension_is_skipped_whole),
        cmocka_unit_test(p28_jabber_show_note_and_priority_map_back),
        cmocka_unit_test(p28_closed_and_empty_documents_are_unavailable),
        cmocka_unit_test(rpid_vacation_is_xa),
        cmocka_unit_test(p32_hostile_and_malformed_documents_are_refused),
        cmocka_unit_test(caps_are_enforced),
        cmocka_unit_test(p26_priority_scale_both_ways),
        cmocka_unit_test(p22_p24_p25_build_one_resource_matches_golden),
        cmocka_unit_test(p23_p27_two_resources_and_unavailable_match_golden),
        cmocka_unit_test(show_words),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
