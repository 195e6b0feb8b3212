/*
 * test_conf_domain.c - domain normalisation (IDNA2008) and static routes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "conf_domain.h"

struct dcase {
    const char *in;
    const char *out; /* NULL: rejected */
    const char *why; /* substring of the reason when rejected */
};

static const struct dcase cases[] = {
    {"fabrikam.com", "fabrikam.com", NULL},
    {"Fabrikam.COM", "fabrikam.com", NULL},
    {"fabrikam.com.", "fabrikam.com", NULL},
    {"bücher.example", "bücher.example", NULL},
    {"BÜCHER.example", "bücher.example", NULL},
    {"xn--bcher-kva.example", "bücher.example", NULL},
    {"XN--BCHER-KVA.EXAMPLE", "bücher.example", NULL},
    {"a-b.c-d.example", "a-b.c-d.example", NULL},
    {"*.fabrikam.com", NULL, "wildcard"},
    {"fabrikam.com:5269", NULL, "port"},
    {"[::1]", NULL, "port"},
    {"192.0.2.1", NULL, "address"},
    {"localhost", NULL, "two labels"},
    {"", NULL, "empty"},
    {".", NULL, "empty"},
    {"a..b", NULL, ""},
    {"-a.example", NULL, "hyphen"},
    {"a_b.example", NULL, ""},
    {"user@fabrikam.com", NULL, "character"},
    {"fabrikam.com/res", NULL, "character"},
    {"fab rikam.com", NULL, "character"},
    {"xn--zz.example", NULL, "IDNA2008"},
};

static void normalisation_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[CONF_DOMAIN_BUFSZ];
        const char *why = NULL;
        int rc = conf_domain_normalize(cases[i].in, out, sizeof(out), &why);
        if (cases[i].out) {
            if (rc != 0)
                fail_msg("'%s' rejected: %s", cases[i].in, why);
            assert_string_equal(out, cases[i].out);
        } else {
            if (rc != -1)
                fail_msg("'%s' accepted as '%s'", cases[i].in, out);
            assert_non_null(why);
            if (strstr(why, cases[i].why) == NULL)
                fail_msg("'%s': reason '%s' lacks '%s'", cases[i].in, why, cases[i].why);
        }
    }
}

static void length_limits(void **state)
{
    (void)state;
    char in[400], out[CONF_DOMAIN_BUFSZ];
    const char *why;
    /* 63-octet label is fine, 64 is not (RFC 1035 section 2.3.4). */
    memset(in, 'a', 63);
    strcpy(in + 63, ".example");
    assert_int_equal(conf_domain_normalize(in, out, sizeof(out), &why), 0);
    memset(in, 'a', 64);
    strcpy(in + 64, ".example");
    assert_int_equal(conf_domain_normalize(in, out, sizeof(out), &why), -1);
    /* 253 octets total is fine, 254 is not. */
    size_t n = 0;
    while (n + 50 < 253) {
        memset(in + n, 'b', 49);
        in[n + 49] = '.';
        n += 50;
    }
    size_t rest = 253 - n;
    memset(in + n, 'c', rest);
    in[n + rest] = '\0';
    assert_int_equal(strlen(in), 253);
    assert_int_equal(conf_domain_normalize(in, out, sizeof(out), &why), 0);
    in[n + rest] = 'c';
    in[n + rest + 1] = '\0';
    assert_int_equal(conf_domain_normalize(in, out, sizeof(out), &why), -1);
    if (strstr(why, "253") == NULL)
        fail_msg("reason: %s", why);
}

static void ascii_form(void **state)
{
    (void)state;
    char out[CONF_DOMAIN_BUFSZ];
    assert_int_equal(conf_domain_to_ascii("bücher.example", out, sizeof(out)), 0);
    assert_string_equal(out, "xn--bcher-kva.example");
}

static void static_routes(void **state)
{
    (void)state;
    char host[CONF_DOMAIN_BUFSZ];
    unsigned port;
    const char *why;
    assert_int_equal(conf_hostport_parse("xmpp.fabrikam.com:5270", host, sizeof(host), &port, &why),
                     0);
    assert_string_equal(host, "xmpp.fabrikam.com");
    assert_int_equal(port, 5270);
    assert_int_equal(conf_hostport_parse("gateway", host, sizeof(host), &port, &why), 0);
    assert_int_equal(port, 0);
    assert_int_equal(conf_hostport_parse("192.0.2.7:5269", host, sizeof(host), &port, &why), 0);
    assert_string_equal(host, "192.0.2.7");
    assert_int_equal(conf_hostport_parse("[2001:db8::1]:5269", host, sizeof(host), &port, &why), 0);
    assert_string_equal(host, "2001:db8::1");
    assert_int_equal(conf_hostport_parse("2001:db8::1", host, sizeof(host), &port, &why), -1);
    assert_int_equal(conf_hostport_parse("host:0", host, sizeof(host), &port, &why), -1);
    assert_int_equal(conf_hostport_parse("host:65536", host, sizeof(host), &port, &why), -1);
    assert_int_equal(conf_hostport_parse("host:52x", host, sizeof(host), &port, &why), -1);
    assert_int_equal(conf_hostport_parse("*.host", host, sizeof(host), &port, &why), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(normalisation_table),
        cmocka_unit_test(length_limits),
        cmocka_unit_test(ascii_form),
        cmocka_unit_test(static_routes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
