/*
 * test_gw_message.c - RFC 7572 / RFC 3428 message mapping both ways
 * (checklist M1-M18 where they concern the mapping).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gw_message.h"

static const struct gw_x2s_txn txn = {
    .via_transport = "TCP",
    .via_host = "gw.contoso.example",
    .via_port = 5070,
    .branch = "z9hG4bKabc",
    .from_tag = "t1",
    .call_id_fallback = "fallback-1@gw",
    .cseq = 1,
};

static struct gw_sip_msg *parse(const char *raw, size_t len)
{
    const char *why = NULL;
    struct gw_sip_msg *m = gw_sip_parse(raw, len, NULL, &why);
    if (m == NULL)
        fail_msg("parse: %s", why);
    assert_int_equal(gw_sip_msg_check(m, &why), 0);
    return m;
}

static void m1_m2_m3_chat_message_becomes_a_message_request(void **state)
{
    (void)state;
    struct gw_im_in im = {.from = "juliet@fabrikam.example/balcony",
                          .to = "romeo@contoso.example",
                          .id = "m1",
                          .type = "chat",
                          .lang = "cs",
                          .subject = "Greetings",
                          .thread = "e0ffe42b28561960c6b12b944a092794b9683a38",
                          .body = "Art thou not Romeo, and a Montague?"};
    struct gw_x2s x;
    assert_int_equal(gw_message_x2s(&im, &txn, NULL, &x), 0);
    assert_int_equal(x.action, GW_X2S_SEND);
    assert_string_equal(x.request_uri, "sip:romeo@contoso.example");
    assert_string_equal(x.call_id, "e0ffe42b28561960c6b12b944a092794b9683a38");
    struct gw_sip_msg *m = parse(x.bytes, x.len);
    assert_string_equal(gw_sip_method(m), "MESSAGE");
    assert_string_equal(gw_sip_request_uri(m), "sip:romeo@contoso.example");
    assert_string_equal(gw_sip_to_uri(m), "sip:romeo@contoso.example");
    assert_string_equal(gw_sip_from_uri(m), "sip:juliet@fabrikam.example;gr=balcony");
    assert_string_equal(gw_sip_subject(m), "Greetings");
    assert_string_equal(gw_sip_content_language(m), "cs");
    assert_string_equal(gw_sip_content_type(m), "text/plain");
    assert_string_equal(gw_sip_call_id(m), "e0ffe42b28561960c6b12b944a092794b9683a38");
    assert_null(gw_sip_contact_uri(m)); /* RFC 3428 section 4 */
    assert_int_equal(gw_sip_max_forwards(m), 70);
    assert_non_null(gw_sip_via_branch(m));
    assert_string_equal(gw_sip_from_tag(m), "t1");
    size_t bl;
    const char *b = gw_sip_body(m, &bl);
    assert_int_equal(bl, strlen(im.body));
    assert_memory_equal(b, im.body, bl);
    gw_sip_msg_free(m);
    gw_x2s_clear(&x);
}

static void m11_types_and_m12_bodiless_messages(void **state)
{
    (void)state;
    struct gw_im_in im = {.from = "a@fabrikam.example/r", .to = "b@contoso.example", .body = "hi"};
    struct gw_x2s x;
    static const char *const sent[] = {NULL, "normal", "chat", "headline"};
    for (size_t i = 0; i < 4; i++) {
        im.type = sent[i];
        assert_int_equal(gw_message_x2s(&im, &txn, NULL, &x), 0);
        assert_int_equal(x.action, GW_X2S_SEND);
        assert_string_equal(x.call_id, "fallback-1@gw"); /* no thread */
        gw_x2s_clear(&x);
    }
    im.type = "groupchat";
    assert_int_equal(gw_message_x2s(&im, &txn, NULL, &x), 0);
    assert_int_equal(x.action, GW_X2S_REJECT);
    assert_string_equal(x.condition, "feature-not-implemented");
    assert_string_equal(x.type, "cancel");
    gw_x2s_clear(&x);
    im.type = "error";
    assert_int_equal(gw_message_x2s(&im, &txn, NULL, &x), 0);
    assert_int_equal(x.action, GW_X2S_DROP);
    gw_x2s_clear(&x);
    im.type = "chat";
    im.body = NULL; /* chat state only */
    assert_int_equal(gw_message_x2s(&im, &txn, NULL, &x), 0);
    assert_int_equal(x.action, GW_X2S_DROP);
    assert_string_equal(x.reason, "no body");
    im.body = "";
    assert_int_equal(gw_message_x2s(&im, &txn, NULL, &x), 0);
    assert_int_equal(x.action, GW_X2S_DROP);
    im.type = "bogus";
    im.body = "x";
    assert_int_equal(gw_message_x2s(&im, &txn, NULL, &x), 0);
    assert_int_equal(x.action, GW_X2S_REJECT);
    assert_string_equal(x.condition, "bad-request");
}

static void m9_message_over_1300_bytes_is_policy_violation(void **state)
{
    (void)state;
    char *big = malloc(1400);
    memset(big, 'x', 1399);
    big[1399] = '\0';
    struct gw_im_in im = {.from = "a@fabrikam.example", .to = "b@contoso.example", .body = big};
    struct gw_x2s x;
    assert_int_equal(gw_message_x2s(&im, &txn, NULL, &x), 0);
    assert_int_equal(x.action, GW_X2S_REJECT);
    assert_string_equal(x.condition, "policy-violation");
    assert_string_equal(x.type, "modify");
    assert_null(x.bytes);
    /* the limit is a setting */
    struct gw_msg_limits lim = {.max_sip_bytes = 4000};
    assert_int_equal(gw_message_x2s(&im, &txn, &lim, &x), 0);
    assert_int_equal(x.action, GW_X2S_SEND);
    assert_true(x.len > 1300 && x.len <= 4000);
    gw_x2s_clear(&x);
    /* a headline over the limit is dropped, not answered with an error */
    im.type = "headline";
    assert_int_equal(gw_message_x2s(&im, &txn, NULL, &x), 0);
    assert_int_equal(x.action, GW_X2S_DROP);
    free(big);
}

static void bad_addresses_and_unusable_fields(void **state)
{
    (void)state;
    struct gw_im_in im = {.from = "a@fabrikam.example", .to = "@contoso.example", .body = "x"};
    struct gw_x2s x;
    assert_int_equal(gw_message_x2s(&im, &txn, NULL, &x), 0);
    assert_int_equal(x.action, GW_X2S_REJECT);
    assert_string_equal(x.condition, "jid-malformed");
    /* a thread that is no Call-ID word falls back; a subject with a line
     * break and a bogus language are left out rather than injected */
    im.to = "b@contoso.example";
    im.thread = "has space";
    im.subject = "line1\r\nX-Injected: 1";
    im.lang = "en\r\nX: y";
    assert_int_equal(gw_message_x2s(&im, &txn, NULL, &x), 0);
    assert_int_equal(x.action, GW_X2S_SEND);
    assert_string_equal(x.call_id, "fallback-1@gw");
    assert_null(strstr(x.bytes, "X-Injected"));
    assert_null(strstr(x.bytes, "Subject"));
    assert_null(strstr(x.bytes, "Content-Language"));
    gw_x2s_clear(&x);
}

static void m15_default_language_body_is_chosen(void **state)
{
    (void)state;
    struct gw_im_body b[] = {{"de", "Hallo"}, {NULL, "Hello"}, {"fr", "Salut"}};
    assert_int_equal(gw_message_pick_body(b, 3, "fr"), 1);
    struct gw_im_body c[] = {{"de", "Hallo"}, {"fr", "Salut"}};
    assert_int_equal(gw_message_pick_body(c, 2, "fr"), 1);
    assert_int_equal(gw_message_pick_body(c, 2, NULL), 0);
    assert_int_equal(gw_message_pick_body(c, 0, NULL), -1);
}

static const char *sip_message(char *buf, size_t cap, const char *ruri, const char *from,
                               const char *extra, const char *body)
{
    snprintf(buf, cap,
             "MESSAGE %s SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1;branch=z9hG4bKs2x1\r\n"
             "From: <%s>;tag=9\r\nTo: <%s>\r\nCall-ID: conv-42@sip\r\nCSeq: 5 MESSAGE\r\n"
             "Max-Forwards: 69\r\n%sContent-Length: %zu\r\n\r\n%s",
             ruri, from, ruri, extra, strlen(body), body);
    return buf;
}

static void m4_m5_m10_m14_sip_message_becomes_xmpp_message(void **state)
{
    (void)state;
    char raw[4096];
    const char *body = "caf\xc3\xa9 & <tags> \"q\" 'a'\r\nline2";
    sip_message(
        raw, sizeof raw, "sip:Juliet@fabrikam.example", "sip:romeo@contoso.example;gr=pc1",
        "Subject: Re: hi\r\nContent-Language: fr\r\nContent-Type: text/plain;charset=UTF-8\r\n",
        body);
    struct gw_sip_msg *m = parse(raw, strlen(raw));
    struct gw_s2x s;
    assert_int_equal(gw_message_s2x(m, NULL, &s), 0);
    assert_int_equal(s.action, GW_S2X_DELIVER);
    assert_int_equal(s.code, 202);
    assert_string_equal(s.im.to, "juliet@fabrikam.example");
    assert_string_equal(s.im.from, "romeo@contoso.example/pc1");
    assert_string_equal(s.im.thread, "conv-42@sip");
    assert_string_equal(s.im.subject, "Re: hi");
    assert_string_equal(s.im.lang, "fr");
    assert_string_equal(s.im.id, "z9hG4bKs2x1");
    assert_string_equal(s.im.body, body); /* byte-exact; escaping is the stanza's job */
    gw_s2x_clear(&s);
    gw_sip_msg_free(m);
    /* no gr: bare from; no Content-Type with an empty body is fine */
    sip_message(raw, sizeof raw, "sip:j@fabrikam.example", "sip:romeo@contoso.example", "", "");
    m = parse(raw, strlen(raw));
    assert_int_equal(gw_message_s2x(m, NULL, &s), 0);
    assert_int_equal(s.action, GW_S2X_DELIVER);
    assert_string_equal(s.im.from, "romeo@contoso.example");
    assert_string_equal(s.im.body, "");
    assert_null(s.im.subject);
    gw_s2x_clear(&s);
    gw_sip_msg_free(m);
}

static void m7_html_becomes_plain_text(void **state)
{
    (void)state;
    char raw[4096];
    sip_message(raw, sizeof raw, "sip:j@fabrikam.example", "sip:r@contoso.example",
                "Content-Type: text/html\r\n",
                "<html><head><style>p{color:red}</style><script>alert(1)</script></head>"
                "<body><p>Hello <b>there</b> &amp; &lt;you&gt; &#233;&#x263A;</p>"
                "<div>line 2<br/>line 3</div></body></html>");
    struct gw_sip_msg *m = parse(raw, strlen(raw));
    struct gw_s2x s;
    assert_int_equal(gw_message_s2x(m, NULL, &s), 0);
    assert_int_equal(s.action, GW_S2X_DELIVER);
    assert_string_equal(s.im.body, "Hello there & <you> \xc3\xa9\xe2\x98\xba\nline 2\nline 3");
    gw_s2x_clear(&s);
    gw_sip_msg_free(m);
    char *t = gw_message_html_to_text("a &bogus; &#0; &#xD800; &#99999999; <unclosed", 45);
    assert_string_equal(t, "a &bogus; &#0; &#xD800; &#99999999;");
    free(t);
}

static void sip_refusals_use_the_documented_codes(void **state)
{
    (void)state;
    char raw[4096];
    struct gw_s2x s;
    struct gw_sip_msg *m;
    /* M7: other content types -> 415 with Accept */
    sip_message(raw, sizeof raw, "sip:j@fabrikam.example", "sip:r@contoso.example",
                "Content-Type: application/im-iscomposing+xml\r\n", "<x/>");
    m = parse(raw, strlen(raw));
    assert_int_equal(gw_message_s2x(m, NULL, &s), 0);
    assert_int_equal(s.action, GW_S2X_REFUSE);
    assert_int_equal(s.code, 415);
    assert_non_null(s.accept);
    gw_s2x_clear(&s);
    gw_sip_msg_free(m);
    /* non-UTF-8 charset and bytes */
    sip_message(raw, sizeof raw, "sip:j@fabrikam.example", "sip:r@contoso.example",
                "Content-Type: text/plain;charset=ISO-8859-1\r\n", "caf\xe9");
    m = parse(raw, strlen(raw));
    assert_int_equal(gw_message_s2x(m, NULL, &s), 0);
    assert_int_equal(s.code, 415);
    gw_s2x_clear(&s);
    gw_sip_msg_free(m);
    sip_message(raw, sizeof raw, "sip:j@fabrikam.example", "sip:r@contoso.example",
                "Content-Type: text/plain\r\n", "caf\xe9");
    m = parse(raw, strlen(raw));
    assert_int_equal(gw_message_s2x(m, NULL, &s), 0);
    assert_int_equal(s.code, 400);
    gw_s2x_clear(&s);
    gw_sip_msg_free(m);
    /* A16: sips is never translated */
    sip_message(raw, sizeof raw, "sips:j@fabrikam.example", "sip:r@contoso.example", "", "x");
    m = parse(raw, strlen(raw));
    assert_int_equal(gw_message_s2x(m, NULL, &s), 0);
    assert_int_equal(s.action, GW_S2X_REFUSE);
    assert_int_equal(s.code, 416);
    gw_s2x_clear(&s);
    gw_sip_msg_free(m);
    /* A8: a From that does not map */
    sip_message(raw, sizeof raw, "sip:j@fabrikam.example", "sip:r%FF@contoso.example", "", "x");
    m = parse(raw, strlen(raw));
    assert_int_equal(gw_message_s2x(m, NULL, &s), 0);
    assert_int_equal(s.code, 400);
    gw_s2x_clear(&s);
    gw_sip_msg_free(m);
    /* M18: over the XMPP limit -> 513 */
    struct gw_msg_limits lim = {.max_xmpp_bytes = 10};
    sip_message(raw, sizeof raw, "sip:j@fabrikam.example", "sip:r@contoso.example",
                "Content-Type: text/plain\r\n", "0123456789A");
    m = parse(raw, strlen(raw));
    assert_int_equal(gw_message_s2x(m, &lim, &s), 0);
    assert_int_equal(s.code, 513);
    gw_s2x_clear(&s);
    /* ... and accepted up to it (the default is far above RFC 3428's 1300) */
    assert_int_equal(gw_message_s2x(m, NULL, &s), 0);
    assert_int_equal(s.code, 202);
    gw_s2x_clear(&s);
    gw_sip_msg_free(m);
}

static void control_characters_are_removed(void **state)
{
    (void)state;
    char raw[4096];
    sip_message(raw, sizeof raw, "sip:j@fabrikam.example", "sip:r@contoso.example",
                "Content-Type: text/plain\r\n",
                "a\x01"
                "b\x1b[31mc\td");
    struct gw_sip_msg *m = parse(raw, strlen(raw));
    struct gw_s2x s;
    assert_int_equal(gw_message_s2x(m, NULL, &s), 0);
    assert_string_equal(s.im.body, "ab[31mc\td");
    gw_s2x_clear(&s);
    gw_sip_msg_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(m1_m2_m3_chat_message_becomes_a_message_request),
        cmocka_unit_test(m11_types_and_m12_bodiless_messages),
        cmocka_unit_test(m9_message_over_1300_bytes_is_policy_violation),
        cmocka_unit_test(bad_addresses_and_unusable_fields),
        cmocka_unit_test(m15_default_language_body_is_chosen),
        cmocka_unit_test(m4_m5_m10_m14_sip_message_becomes_xmpp_message),
        cmocka_unit_test(m7_html_becomes_plain_text),
        cmocka_unit_test(sip_refusals_use_the_documented_codes),
        cmocka_unit_test(control_characters_are_removed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
