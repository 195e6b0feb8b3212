/*
 * test_s2s_sasl.c - SASL EXTERNAL through Cyrus SASL on both sides
 * (edge/s2s_sasl.h, XEP-0178 section 3).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "s2s_sasl.h"

static int setup(void **state)
{
    char err[256];
    (void)state;
    return s2s_sasl_init(err, sizeof(err));
}

static int teardown(void **state)
{
    (void)state;
    s2s_sasl_done();
    return 0;
}

static int server(const char *b64, const char **cond)
{
    *cond = NULL;
    return s2s_sasl_server_external("contoso.example", "fabrikam.example", b64, strlen(b64), cond);
}

static void test_empty_authzid_is_the_certificate_identity(void **state)
{
    const char *cond;
    (void)state;
    assert_int_equal(server("=", &cond), 0);
    assert_int_equal(server(" = ", &cond), 0);
}

static void test_authzid_equal_to_the_certificate_domain_is_accepted(void **state)
{
    const char *cond;
    (void)state;
    assert_int_equal(server("ZmFicmlrYW0uZXhhbXBsZQ==", &cond), 0); /* fabrikam.example */
    assert_int_equal(server("RkFCUklLQU0uRVhBTVBMRQ==", &cond), 0); /* FABRIKAM.EXAMPLE */
}

static void test_authzid_for_another_domain_is_refused(void **state)
{
    const char *cond;
    (void)state;
    assert_int_equal(server("ZXZpbC5leGFtcGxl", &cond), -1); /* evil.example */
    assert_string_equal(cond, "invalid-authzid");
}

static void test_bad_base64_is_incorrect_encoding(void **state)
{
    const char *cond;
    (void)state;
    assert_int_equal(server("!!!not base64", &cond), -1);
    assert_string_equal(cond, "incorrect-encoding");
}

static void test_embedded_nul_is_refused(void **state)
{
    const char *cond;
    (void)state;
    assert_int_equal(server("ZmFi AHJpa2Ft", &cond), -1);
    assert_int_equal(server("AGZhYnJpa2FtLmV4YW1wbGU=", &cond), -1); /* "\0fabrikam.example" */
    assert_string_equal(cond, "invalid-authzid");
}

static void test_client_sends_an_empty_response(void **state)
{
    char out[64];
    (void)state;
    assert_int_equal(
        s2s_sasl_client_external("contoso.example", "fabrikam.example", out, sizeof(out)), 0);
    assert_string_equal(out, "=");
    assert_int_equal(s2s_sasl_client_external("contoso.example", "fabrikam.example", out, 1), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_authzid_is_the_certificate_identity),
        cmocka_unit_test(test_authzid_equal_to_the_certificate_domain_is_accepted),
        cmocka_unit_test(test_authzid_for_another_domain_is_refused),
        cmocka_unit_test(test_bad_base64_is_incorrect_encoding),
        cmocka_unit_test(test_embedded_nul_is_refused),
        cmocka_unit_test(test_client_sends_an_empty_response),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
