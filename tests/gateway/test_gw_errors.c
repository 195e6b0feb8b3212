/*
 * test_gw_errors.c - both RFC 7247 section 7 error tables, row by row,
 * against the tables of INTERWORKING.md section 1.3 (checklist E1-E9).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "gw_errors.h"

/* Table 3, copied from INTERWORKING.md, with the RFC 6120 types. */
static const struct {
    int code;
    const char *cond, *type;
} table3[] = {
    {300, "redirect", "modify"},
    {301, "gone", "cancel"},
    {302, "redirect", "modify"},
    {305, "redirect", "modify"},
    {380, "not-acceptable", "modify"},
    {400, "bad-request", "modify"},
    {401, "not-authorized", "auth"},
    {402, "bad-request", "modify"},
    {403, "forbidden", "auth"},
    {404, "item-not-found", "cancel"},
    {405, "feature-not-implemented", "cancel"},
    {406, "not-acceptable", "modify"},
    {407, "registration-required", "auth"},
    {408, "remote-server-timeout", "wait"},
    {410, "gone", "cancel"},
    {413, "policy-violation", "modify"},
    {414, "policy-violation", "modify"},
    {415, "not-acceptable", "modify"},
    {416, "not-acceptable", "modify"},
    {420, "feature-not-implemented", "cancel"},
    {421, "not-acceptable", "modify"},
    {423, "resource-constraint", "wait"},
    {430, "recipient-unavailable", "wait"},
    {439, "feature-not-implemented", "cancel"},
    {440, "policy-violation", "modify"},
    {480, "recipient-unavailable", "wait"},
    {481, "item-not-found", "cancel"},
    {482, "not-acceptable", "modify"},
    {483, "not-acceptable", "modify"},
    {484, "item-not-found", "cancel"},
    {485, "item-not-found", "cancel"},
    {486, "recipient-unavailable", "wait"},
    {487, "recipient-unavailable", "wait"},
    {488, "not-acceptable", "modify"},
    {489, "policy-violation", "modify"},
    {491, "unexpected-request", "wait"},
    {493, "bad-request", "modify"},
    {500, "internal-server-error", "cancel"},
    {501, "feature-not-implemented", "cancel"},
    {502, "remote-server-not-found", "cancel"},
    {503, "internal-server-error", "cancel"},
    {504, "remote-server-timeout", "wait"},
    {505, "not-acceptable", "modify"},
    {513, "policy-violation", "modify"},
    {600, "recipient-unavailable", "wait"},
    {603, "recipient-unavailable", "wait"},
    {604, "item-not-found", "cancel"},
    {606, "not-acceptable", "modify"},
};

/* Table 2: condition, full-JID code, bare-JID code. */
static const struct {
    const char *cond;
    int full, bare;
} table2[] = {
    {"bad-request", 400, 400},
    {"conflict", 400, 400},
    {"feature-not-implemented", 405, 501},
    {"forbidden", 403, 603},
    {"gone", 410, 410},
    {"internal-server-error", 500, 500},
    {"item-not-found", 404, 604},
    {"jid-malformed", 400, 400},
    {"not-acceptable", 406, 606},
    {"not-allowed", 403, 403},
    {"not-authorized", 401, 401},
    {"policy-violation", 403, 403},
    {"recipient-unavailable", 480, 600},
    {"redirect", 302, 302},
    {"registration-required", 407, 407},
    {"remote-server-not-found", 404, 404},
    {"remote-server-timeout", 408, 408},
    {"resource-constraint", 500, 500},
    {"service-unavailable", 403, 403},
    {"subscription-required", 400, 400},
    {"undefined-condition", 400, 400},
    {"unexpected-request", 400, 400},
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void e1_every_table3_row_maps_with_its_type(void **state)
{
    (void)state;
    size_t n;
    gw_err_sip_table(&n);
    assert_int_equal(n, N(table3));
    for (size_t i = 0; i < N(table3); i++) {
        struct gw_err_sip_row r;
        assert_true(gw_err_sip_to_xmpp(table3[i].code, &r));
        if (strcmp(r.condition, table3[i].cond) != 0 || strcmp(r.type, table3[i].type) != 0)
            fail_msg("SIP %d -> %s/%s, want %s/%s", table3[i].code, r.condition, r.type,
                     table3[i].cond, table3[i].type);
        assert_int_equal(r.code, table3[i].code);
    }
}

static void e2_unlisted_codes_fall_back_by_class(void **state)
{
    (void)state;
    struct gw_err_sip_row r;
    static const struct {
        int code;
        const char *cond;
    } fb[] = {{399, "redirect"},
              {303, "redirect"},
              {409, "bad-request"},
              {499, "bad-request"},
              {422, "bad-request"},
              {599, "internal-server-error"},
              {580, "internal-server-error"},
              {699, "recipient-unavailable"},
              {607, "recipient-unavailable"}};
    for (size_t i = 0; i < N(fb); i++) {
        assert_true(gw_err_sip_to_xmpp(fb[i].code, &r));
        assert_string_equal(r.condition, fb[i].cond);
        assert_int_equal(r.code, fb[i].code);
    }
    assert_false(gw_err_sip_to_xmpp(100, &r));
    assert_false(gw_err_sip_to_xmpp(180, &r));
    assert_false(gw_err_sip_to_xmpp(200, &r));
    assert_false(gw_err_sip_to_xmpp(202, &r));
    assert_false(gw_err_sip_to_xmpp(700, &r));
    assert_false(gw_err_sip_to_xmpp(-1, &r));
}

static void e3_301_carries_the_address_410_does_not(void **state)
{
    (void)state;
    struct gw_err_sip_row r;
    assert_true(gw_err_sip_to_xmpp(301, &r));
    assert_true(r.gone_with_address);
    assert_true(gw_err_sip_to_xmpp(410, &r));
    assert_false(r.gone_with_address);
    assert_string_equal(r.condition, "gone");
}

static void e7_every_table2_row_full_and_bare(void **state)
{
    (void)state;
    size_t n;
    gw_err_xmpp_table(&n);
    assert_int_equal(n, N(table2));
    for (size_t i = 0; i < N(table2); i++) {
        struct gw_err_ctx full = {.full_jid = true};
        struct gw_err_ctx bare = {.full_jid = false};
        int f = gw_err_xmpp_to_sip(table2[i].cond, &full);
        int b = gw_err_xmpp_to_sip(table2[i].cond, &bare);
        if (f != table2[i].full || b != table2[i].bare)
            fail_msg("%s -> %d/%d, want %d/%d", table2[i].cond, f, b, table2[i].full,
                     table2[i].bare);
        assert_true(gw_err_condition_known(table2[i].cond));
    }
    assert_int_equal(gw_err_xmpp_to_sip("item-not-found", NULL), 604);
}

static void e8_service_unavailable_is_never_503(void **state)
{
    (void)state;
    struct gw_err_ctx full = {.full_jid = true};
    assert_int_equal(gw_err_xmpp_to_sip("service-unavailable", &full), 403);
    assert_int_equal(gw_err_xmpp_to_sip("service-unavailable", NULL), 403);
    size_t n;
    const struct gw_err_xmpp_row *rows = gw_err_xmpp_table(&n);
    for (size_t i = 0; i < n; i++) {
        assert_int_not_equal(rows[i].code_full, 503);
        assert_int_not_equal(rows[i].code_bare, 503);
    }
}

static void e9_gone_and_remote_server_not_found_follow_context(void **state)
{
    (void)state;
    struct gw_err_ctx addr = {.gone_has_address = true};
    assert_int_equal(gw_err_xmpp_to_sip("gone", &addr), 301);
    assert_int_equal(gw_err_xmpp_to_sip("gone", NULL), 410);
    struct gw_err_ctx unres = {.unresolvable = true};
    assert_int_equal(gw_err_xmpp_to_sip("remote-server-not-found", &unres), 408);
    assert_int_equal(gw_err_xmpp_to_sip("remote-server-not-found", NULL), 404);
}

static void unknown_conditions_are_undefined_condition(void **state)
{
    (void)state;
    assert_int_equal(gw_err_xmpp_to_sip("no-such-condition", NULL), 400);
    assert_int_equal(gw_err_xmpp_to_sip(NULL, NULL), 400);
    assert_false(gw_err_condition_known("payment-required"));
    assert_string_equal(gw_err_xmpp_type("no-such-condition"), "cancel");
    assert_string_equal(gw_err_xmpp_type("remote-server-timeout"), "wait");
    assert_string_equal(gw_err_xmpp_type("not-authorized"), "auth");
}

static void reason_phrases_cover_every_table_code(void **state)
{
    (void)state;
    for (size_t i = 0; i < N(table3); i++)
        assert_string_not_equal(gw_err_sip_reason(table3[i].code), "Unknown");
    assert_string_equal(gw_err_sip_reason(489), "Bad Event");
    assert_string_equal(gw_err_sip_reason(202), "Accepted");
    assert_string_equal(gw_err_sip_reason(299), "Unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(e1_every_table3_row_maps_with_its_type),
        cmocka_unit_test(e2_unlisted_codes_fall_back_by_class),
        cmocka_unit_test(e3_301_carries_the_address_410_does_not),
        cmocka_unit_test(e7_every_table2_row_full_and_bare),
        cmocka_unit_test(e8_service_unavailable_is_never_503),
        cmocka_unit_test(e9_gone_and_remote_server_not_found_follow_context),
        cmocka_unit_test(unknown_conditions_are_undefined_condition),
        cmocka_unit_test(reason_phrases_cover_every_table_code),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
