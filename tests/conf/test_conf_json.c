/*
 * test_conf_json.c - JSON views: escaping, and no secret ever.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "conf_json.h"

static void strings_are_escaped(void **state)
{
    (void)state;
    struct jbuf b;
    jbuf_init(&b);
    jbuf_str(&b, "a\"b\\c\n\x01<script>é");
    assert_string_equal(b.s, "\"a\\\"b\\\\c\\n\\u0001\\u003cscript\\u003eé\"");
    jbuf_free(&b);
}

static void partner_and_settings(void **state)
{
    (void)state;
    struct conf *c = conf_new();
    c->settings.dialback_secret = strdup("supersecretvalue1234");
    conf_strlist_add(&c->hosted, "contoso.com");
    struct conf_partner p;
    conf_partner_init(&p, "fabrikam.com");
    conf_strlist_add(&p.additional, "fabrikam.net");
    p.proxy_host = strdup("xmpp.fabrikam.com");
    p.proxy_port = 5270;
    struct jbuf b;
    jbuf_init(&b);
    conf_json_partner(&b, c, &p);
    assert_string_equal(
        b.s,
        "{\"domain\":\"fabrikam.com\",\"description\":\"\",\"additional_domains\":"
        "[\"fabrikam.net\"],\"type\":\"PublicUnverified\",\"tls\":\"Required\",\"sasl\":"
        "\"Required\",\"dialback\":true,\"connection_limit\":0,\"effective_connection_limit\":20,"
        "\"keepalive\":true,\"proxy_fqdn\":\"xmpp.fabrikam.com:5270\"}");
    jbuf_free(&b);
    conf_json_settings(&b, c);
    assert_null(strstr(b.s, "supersecret"));
    assert_non_null(strstr(b.s, "\"dialback_secret_set\":true"));
    assert_non_null(strstr(b.s, "\"max_connections\":1000"));
    jbuf_free(&b);
    conf_partner_clear(&p);
    conf_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(strings_are_escaped),
        cmocka_unit_test(partner_and_settings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
