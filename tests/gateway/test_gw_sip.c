/*
 * test_gw_sip.c - SIP framing, parsing and building (gw_sip.c, libosip2):
 * every message kind the gateway sends or receives, and broken input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <ctype.h>
#include <osipparser2/osip_parser.h>

#include "gw_sip.h"

static struct gw_sip_msg *parse_ok(const char *raw)
{
    const char *why = NULL;
    struct gw_sip_frame f;
    assert_int_equal(gw_sip_frame(raw, strlen(raw), NULL, &f), 1);
    assert_int_equal(f.consumed, strlen(raw));
    struct gw_sip_msg *m = gw_sip_parse(raw + f.msg_off, f.msg_len, NULL, &why);
    if (m == NULL)
        fail_msg("parse: %s", why);
    return m;
}

static const char notify_raw[] =
    "NOTIFY sip:juliet@gw.example:5070;transport=tcp SIP/2.0\r\n"
    "Via: SIP/2.0/TCP 127.0.0.1:5060;branch=z9hG4bK776asdhds\r\n"
    "Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKaaa\r\n"
    "Record-Route: <sip:p1.example.com;lr>\r\n"
    "Record-Route: <sip:p2.example.com;lr>\r\n"
    "Max-Forwards: 69\r\n"
    "f: <sip:romeo@example.net>;tag=ffff\r\n"
    "t: <sip:juliet@example.com>;tag=xfed1\r\n"
    "i: abc123@gw\r\n"
    "CSeq: 7 NOTIFY\r\n"
    "o: presence;id=1\r\n"
    "Subscription-State: terminated;reason=Probation;retry-after=30\r\n"
    "m: <sip:kamailio@127.0.0.1:5060;transport=tcp>\r\n"
    "c: application/pidf+xml\r\n"
    "l: 5\r\n"
    "\r\n"
    "<x/>\n";

static void message_request_is_built_per_rfc3428(void **state)
{
    (void)state;
    struct gw_sip_request r = {0};
    r.method = "MESSAGE";
    r.request_uri = "sip:romeo@example.net";
    r.from_uri = "sip:juliet@example.com;gr=yn0cl4bnw0yr3vym";
    r.from_tag = "12345";
    r.to_uri = "sip:romeo@example.net";
    r.call_id = "thread-e0ffe42b28561960c6b12b944a092794b9683a38";
    r.cseq = 1;
    r.via_host = "gw.example.com";
    r.via_port = 5070;
    r.branch = "z9hG4bK123";
    r.max_forwards = -1;
    r.expires = -1;
    r.content_type = "text/plain;charset=UTF-8";
    r.content_language = "cs";
    r.subject = "Hello";
    r.body = "Art thou not Romeo, and a Montague? \xc3\xbc";
    r.body_len = strlen(r.body);
    size_t len;
    const char *why;
    char *s = gw_sip_request_build(&r, &len, &why);
    assert_non_null(s);
    assert_int_equal(strlen(s), len);
    assert_non_null(strstr(s, "MESSAGE sip:romeo@example.net SIP/2.0\r\n"));
    assert_non_null(strstr(s, "From: <sip:juliet@example.com;gr=yn0cl4bnw0yr3vym>;tag=12345"));
    assert_non_null(strstr(s, "Max-Forwards: 70\r\n"));
    assert_non_null(strstr(s, "branch=z9hG4bK123"));
    assert_non_null(strstr(s, "CSeq: 1 MESSAGE\r\n"));
    assert_null(strstr(s, "Contact:")); /* RFC 3428 section 4 (M3) */

    /* it parses back, with Content-Length counting bytes (M10) */
    struct gw_sip_msg *m = parse_ok(s);
    assert_int_equal(gw_sip_msg_check(m, &why), 0);
    assert_true(gw_sip_is_request(m));
    assert_string_equal(gw_sip_method(m), "MESSAGE");
    assert_string_equal(gw_sip_subject(m), "Hello");
    assert_string_equal(gw_sip_content_language(m), "cs");
    assert_string_equal(gw_sip_content_type(m), "text/plain");
    assert_string_equal(gw_sip_content_charset(m), "UTF-8");
    assert_string_equal(gw_sip_call_id(m), "thread-e0ffe42b28561960c6b12b944a092794b9683a38");
    size_t bl;
    const char *b = gw_sip_body(m, &bl);
    assert_int_equal(bl, strlen(r.body));
    assert_memory_equal(b, r.body, bl);
    gw_sip_msg_free(m);
    free(s);
}

static void subscribe_request_carries_rfc6665_headers(void **state)
{
    (void)state;
    const char *routes[] = {"<sip:p2.example.com;lr>", "<sip:p1.example.com;lr>"};
    struct gw_sip_request r = {
        .method = "SUBSCRIBE",
        .request_uri = "sip:romeo@example.net",
        .from_uri = "sip:juliet@example.com",
        .from_tag = "ffff",
        .to_uri = "sip:romeo@example.net",
        .to_tag = "tttt",
        .call_id = "cid1",
        .cseq = 2,
        .via_host = "127.0.0.1",
        .branch = "z9hG4bKsub",
        .contact = "sip:juliet@gw.example.com:5070;transport=tcp",
        .routes = routes,
        .n_routes = 2,
        .max_forwards = -1,
        .event = "presence",
        .expires = 3600,
        .accept = "application/pidf+xml",
    };
    size_t len;
    char *s = gw_sip_request_build(&r, &len, NULL);
    assert_non_null(s);
    struct gw_sip_msg *m = parse_ok(s);
    assert_int_equal(gw_sip_msg_check(m, NULL), 0);
    assert_string_equal(gw_sip_event(m), "presence");
    assert_int_equal(gw_sip_expires(m), 3600);
    assert_true(gw_sip_accepts(m, "application/pidf+xml", false));
    assert_false(gw_sip_accepts(m, "text/plain", false));
    assert_string_equal(gw_sip_to_tag(m), "tttt");
    assert_string_equal(gw_sip_contact_uri(m), "sip:juliet@gw.example.com:5070;transport=tcp");
    assert_int_equal(gw_sip_cseq(m), 2);
    /* Route order is kept */
    const char *p1 = strstr(s, "Route: <sip:p2.example.com;lr>");
    const char *p2 = strstr(s, "Route: <sip:p1.example.com;lr>");
    assert_non_null(p1);
    assert_non_null(p2);
    assert_true(p1 < p2);
    gw_sip_msg_free(m);
    free(s);
}

static void notify_with_compact_headers_is_parsed(void **state)
{
    (void)state;
    struct gw_sip_msg *m = parse_ok(notify_raw);
    const char *why;
    assert_int_equal(gw_sip_msg_check(m, &why), 0);
    assert_string_equal(gw_sip_method(m), "NOTIFY");
    assert_string_equal(gw_sip_request_uri(m), "sip:juliet@gw.example:5070;transport=tcp");
    assert_string_equal(gw_sip_from_uri(m), "sip:romeo@example.net");
    assert_string_equal(gw_sip_from_tag(m), "ffff");
    assert_string_equal(gw_sip_to_tag(m), "xfed1");
    assert_string_equal(gw_sip_call_id(m), "abc123@gw");
    assert_int_equal(gw_sip_cseq(m), 7);
    assert_string_equal(gw_sip_cseq_method(m), "NOTIFY");
    assert_string_equal(gw_sip_via_branch(m), "z9hG4bK776asdhds");
    assert_int_equal(gw_sip_max_forwards(m), 69);
    assert_string_equal(gw_sip_event(m), "presence");
    assert_string_equal(gw_sip_content_type(m), "application/pidf+xml");
    assert_string_equal(gw_sip_contact_uri(m), "sip:kamailio@127.0.0.1:5060;transport=tcp");
    assert_int_equal(gw_sip_record_route_count(m), 2);
    assert_non_null(strstr(gw_sip_record_route(m, 0), "p1.example.com"));
    assert_non_null(strstr(gw_sip_record_route(m, 1), "p2.example.com"));
    assert_null(gw_sip_record_route(m, 2));
    assert_true(gw_sip_accepts(m, "application/pidf+xml", true)); /* no Accept */
    assert_false(gw_sip_accepts(m, "application/pidf+xml", false));
    struct gw_sip_substate ss;
    assert_int_equal(gw_sip_substate(m, &ss), 0);
    assert_int_equal(ss.state, GW_SUBSTATE_TERMINATED);
    assert_string_equal(ss.reason, "probation");
    assert_int_equal(ss.retry_after, 30);
    assert_int_equal(ss.expires, -1);
    size_t bl;
    assert_memory_equal(gw_sip_body(m, &bl), "<x/>\n", 5);
    assert_int_equal(bl, 5);

    /* the 200 copies Via (both), From, To (tag kept), Call-ID, CSeq and
     * Record-Route (RFC 3261 sections 8.2.6.2, 12.1.1) */
    struct gw_sip_response rs = {
        .code = 200, .to_tag = "new", .expires = -1, .min_expires = -1, .retry_after = -1};
    size_t len;
    char *resp = gw_sip_response_build(m, &rs, &len, &why);
    assert_non_null(resp);
    assert_non_null(strstr(resp, "SIP/2.0 200 OK\r\n"));
    assert_non_null(strstr(resp, "branch=z9hG4bK776asdhds"));
    assert_non_null(strstr(resp, "branch=z9hG4bKaaa"));
    assert_non_null(strstr(resp, ";tag=xfed1"));
    assert_null(strstr(resp, "tag=new"));
    assert_non_null(strstr(resp, "Record-Route: <sip:p1.example.com;lr>"));
    assert_non_null(strstr(resp, "CSeq: 7 NOTIFY"));
    assert_non_null(strstr(resp, "Content-Length: 0"));
    struct gw_sip_msg *rm = parse_ok(resp);
    assert_false(gw_sip_is_request(rm));
    assert_int_equal(gw_sip_status(rm), 200);
    assert_string_equal(gw_sip_reason(rm), "OK");
    assert_int_equal(gw_sip_msg_check(rm, NULL), 0);
    gw_sip_msg_free(rm);
    free(resp);
    gw_sip_msg_free(m);
}

static void responses_carry_error_headers(void **state)
{
    (void)state;
    struct gw_sip_msg *m = parse_ok(notify_raw);
    struct gw_sip_response rs = {.code = 423,
                                 .expires = -1,
                                 .min_expires = 600,
                                 .retry_after = -1,
                                 .allow_events = "presence",
                                 .allow = "MESSAGE, SUBSCRIBE, NOTIFY",
                                 .accept = "application/pidf+xml",
                                 .warning = "399 gw \"why\""};
    char *resp = gw_sip_response_build(m, &rs, NULL, NULL);
    assert_non_null(resp);
    assert_non_null(strstr(resp, "SIP/2.0 423 Interval Too Brief\r\n"));
    assert_non_null(strstr(resp, "Min-Expires: 600\r\n"));
    assert_non_null(strstr(resp, "Allow-Events: presence\r\n"));
    assert_non_null(strstr(resp, "Warning: 399 gw \"why\"\r\n"));
    free(resp);
    /* header injection through a value is refused */
    struct gw_sip_response bad = {
        .code = 400, .reason = "Bad\r\nX: y", .expires = -1, .min_expires = -1, .retry_after = -1};
    assert_null(gw_sip_response_build(m, &bad, NULL, NULL));
    struct gw_sip_response badtag = {
        .code = 200, .to_tag = "a;b", .expires = -1, .min_expires = -1, .retry_after = -1};
    gw_sip_msg_free(m);
    /* a request whose To has no tag gets ours; a tag with ';' is refused */
    const char *raw = "MESSAGE sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\n"
                      "From: <sip:c@d>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: x\r\n"
                      "CSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n";
    m = parse_ok(raw);
    assert_null(gw_sip_response_build(m, &badtag, NULL, NULL));
    struct gw_sip_response ok = {
        .code = 202, .to_tag = "gw1", .expires = -1, .min_expires = -1, .retry_after = -1};
    resp = gw_sip_response_build(m, &ok, NULL, NULL);
    assert_non_null(strstr(resp, "To: <sip:a@b>;tag=gw1"));
    assert_null(strstr(resp, "Record-Route"));
    free(resp);
    gw_sip_msg_free(m);
}

static void request_builder_refuses_missing_or_injected_fields(void **state)
{
    (void)state;
    struct gw_sip_request r = {.method = "MESSAGE",
                               .request_uri = "sip:a@b",
                               .from_uri = "sip:c@d",
                               .from_tag = "1",
                               .to_uri = "sip:a@b",
                               .call_id = "x",
                               .cseq = 1,
                               .via_host = "h",
                               .branch = "z9hG4bK1",
                               .max_forwards = -1,
                               .expires = -1};
    char *s = gw_sip_request_build(&r, NULL, NULL);
    assert_non_null(s);
    assert_non_null(strstr(s, "Content-Length: 0"));
    free(s);
    const char *why = NULL;
    struct gw_sip_request t = r;
    t.branch = "abc";
    assert_null(gw_sip_request_build(&t, NULL, &why));
    t = r;
    t.from_tag = NULL;
    assert_null(gw_sip_request_build(&t, NULL, &why));
    t = r;
    t.subject = "x\r\nInjected: 1";
    assert_null(gw_sip_request_build(&t, NULL, &why));
    assert_string_equal(why, "Subject");
    t = r;
    t.call_id = "a\nb";
    assert_null(gw_sip_request_build(&t, NULL, &why));
    t = r;
    t.request_uri = "not a uri";
    assert_null(gw_sip_request_build(&t, NULL, &why));
    t = r;
    t.body = "x";
    t.body_len = 1;
    assert_null(gw_sip_request_build(&t, NULL, &why)); /* body without type */
    t = r;
    t.from_display = "Eve\" <sip:evil>";
    assert_null(gw_sip_request_build(&t, NULL, &why));
    t = r;
    t.from_display = "Juliet Capulet";
    s = gw_sip_request_build(&t, NULL, NULL);
    assert_non_null(strstr(s, "From: \"Juliet Capulet\" <sip:c@d>;tag=1"));
    free(s);
}

static void framing_handles_partial_pipelined_and_keepalive_input(void **state)
{
    (void)state;
    struct gw_sip_frame f;
    size_t n = strlen(notify_raw);
    /* every strict prefix needs more */
    for (size_t i = 1; i < n; i++)
        assert_int_equal(gw_sip_frame(notify_raw, i, NULL, &f), 0);
    /* two messages back to back, with a CRLFCRLF ping in front */
    char *two = malloc(2 * n + 5);
    memcpy(two, "\r\n\r\n", 4);
    memcpy(two + 4, notify_raw, n);
    memcpy(two + 4 + n, notify_raw, n);
    assert_int_equal(gw_sip_frame(two, 2 * n + 4, NULL, &f), 1);
    assert_true(f.keepalive_ping);
    assert_int_equal(f.msg_off, 4);
    assert_int_equal(f.msg_len, n);
    assert_int_equal(f.body_len, 5);
    assert_int_equal(f.consumed, n + 4);
    assert_int_equal(gw_sip_frame(two + f.consumed, n, NULL, &f), 1);
    assert_int_equal(f.msg_off, 0);
    assert_false(f.keepalive_ping);
    free(two);
    /* keep-alive only */
    assert_int_equal(gw_sip_frame("\r\n\r\n", 4, NULL, &f), 1);
    assert_true(f.keepalive_ping);
    assert_int_equal(f.msg_len, 0);
    assert_int_equal(f.consumed, 4);
    assert_int_equal(gw_sip_frame("\r\n", 2, NULL, &f), 1);
    assert_false(f.keepalive_ping);
    assert_int_equal(gw_sip_frame("", 0, NULL, &f), 0);
}

static void framing_refuses_broken_streams(void **state)
{
    (void)state;
    struct gw_sip_frame f;
    const char *nocl = "MESSAGE sip:a@b SIP/2.0\r\nVia: x\r\n\r\nbody";
    assert_int_equal(gw_sip_frame(nocl, strlen(nocl), NULL, &f), -1);
    assert_int_equal(f.error_code, 400);
    const char *badcl = "MESSAGE sip:a@b SIP/2.0\r\nContent-Length: 1x\r\n\r\n";
    assert_int_equal(gw_sip_frame(badcl, strlen(badcl), NULL, &f), -1);
    const char *neg = "MESSAGE sip:a@b SIP/2.0\r\nContent-Length: -1\r\n\r\n";
    assert_int_equal(gw_sip_frame(neg, strlen(neg), NULL, &f), -1);
    const char *two = "MESSAGE sip:a@b SIP/2.0\r\nl: 1\r\nContent-Length: 2\r\n\r\nab";
    assert_int_equal(gw_sip_frame(two, strlen(two), NULL, &f), -1);
    const char *huge = "MESSAGE sip:a@b SIP/2.0\r\nContent-Length: 99999999999\r\n\r\n";
    assert_int_equal(gw_sip_frame(huge, strlen(huge), NULL, &f), -1);
    struct gw_sip_limits lim = {.max_body_bytes = 10};
    const char *big = "MESSAGE sip:a@b SIP/2.0\r\nContent-Length: 11\r\n\r\n";
    assert_int_equal(gw_sip_frame(big, strlen(big), &lim, &f), -1);
    assert_int_equal(f.error_code, 413);
    /* headers that never end */
    struct gw_sip_limits hl = {.max_header_bytes = 64};
    char junk[200];
    memset(junk, 'A', sizeof junk);
    assert_int_equal(gw_sip_frame(junk, sizeof junk, &hl, &f), -1);
    assert_int_equal(f.error_code, 513);
    assert_int_equal(gw_sip_frame(junk, sizeof junk, NULL, &f), 0); /* below the default */
    /* too many header lines */
    struct gw_sip_limits nh = {.max_headers = 3};
    const char *many = "MESSAGE sip:a@b SIP/2.0\r\na: 1\r\nb: 1\r\nc: 1\r\nd: 1\r\n"
                       "Content-Length: 0\r\n\r\n";
    assert_int_equal(gw_sip_frame(many, strlen(many), &nh, &f), -1);
}

static void malformed_messages_never_crash_and_get_400(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "\r\n\r\n",
        "garbage\r\n\r\n",
        "MESSAGE\r\n\r\n",
        "MESSAGE sip:a@b\r\n\r\n",
        "MESSAGE sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nFrom: <<<\r\n\r\n",
        "MESSAGE sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nCSeq: x\r\n\r\n",
        "SIP/2.0 abc OK\r\n\r\n",
        "MESSAGE sip:a@b SIP/2.0\r\nTo: \x01\r\n\r\n",
        "MESSAGE sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h\r\nFrom: <sip:c@d>;tag=\r\n\r\n",
        "MESSAGE sip:a@b SIP/2.0",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *why = NULL;
        struct gw_sip_msg *m = gw_sip_parse(bad[i], strlen(bad[i]), NULL, &why);
        if (m != NULL) {
            int code = gw_sip_msg_check(m, &why);
            if (code == 0)
                fail_msg("accepted bad input %zu", i);
            assert_non_null(why);
            gw_sip_msg_free(m);
        } else {
            assert_non_null(why);
        }
    }
    /* usable messages with one fault each: check() names it */
    static const struct {
        const char *raw;
        int code;
    } faults[] = {
        {"MESSAGE sip:a@b SIP/2.0\r\nFrom: <sip:c@d>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: x\r\n"
         "CSeq: 1 MESSAGE\r\n\r\n",
         400}, /* no Via */
        {"MESSAGE sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nFrom: <sip:c@d>\r\n"
         "To: <sip:a@b>\r\nCall-ID: x\r\nCSeq: 1 MESSAGE\r\n\r\n",
         400}, /* From without tag */
        {"MESSAGE sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\n"
         "From: <sip:c@d>;tag=1\r\nTo: <sip:a@b>\r\nCSeq: 1 MESSAGE\r\n\r\n",
         400}, /* no Call-ID */
        {"MESSAGE sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\n"
         "From: <sip:c@d>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: x\r\nCSeq: 1 NOTIFY\r\n\r\n",
         400}, /* CSeq method mismatch */
        {"MESSAGE sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\n"
         "From: <sip:c@d>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: x\r\nCSeq: 1 MESSAGE\r\n"
         "Max-Forwards: 0\r\n\r\n",
         483}, /* E13 */
        {"MESSAGE sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\n"
         "From: <sip:c@d>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: x\r\nCSeq: 1 MESSAGE\r\n"
         "Max-Forwards: many\r\n\r\n",
         400},
        {"SUBSCRIBE sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\n"
         "From: <sip:c@d>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: x\r\nCSeq: 1 SUBSCRIBE\r\n"
         "Expires: soon\r\n\r\n",
         400},
    };
    for (size_t i = 0; i < sizeof faults / sizeof faults[0]; i++) {
        const char *why = NULL;
        struct gw_sip_msg *m = gw_sip_parse(faults[i].raw, strlen(faults[i].raw), NULL, &why);
        if (m == NULL)
            fail_msg("fault %zu did not parse: %s", i, why);
        assert_int_equal(gw_sip_msg_check(m, &why), faults[i].code);
        gw_sip_msg_free(m);
    }
}

static void bad_request_is_answered_from_raw_bytes(void **state)
{
    (void)state;
    const char *raw = "MESSAGE sip:a@b SIP/2.0\r\n"
                      "v: SIP/2.0/TCP 127.0.0.1:5060;branch=z9hG4bKq\r\n"
                      "From: <sip:c@d>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: x\r\n"
                      "CSeq: 1 MESSAGE\r\nContent-Type: <<<broken\r\nContent-Length: 0\r\n\r\n";
    size_t len;
    char *r = gw_sip_bad_request(raw, strlen(raw), 400, "Bad Content-Type", &len);
    assert_non_null(r);
    assert_int_equal(strlen(r), len);
    assert_non_null(strstr(r, "SIP/2.0 400 Bad Content-Type\r\n"));
    assert_non_null(strstr(r, "v: SIP/2.0/TCP 127.0.0.1:5060;branch=z9hG4bKq\r\n"));
    assert_non_null(strstr(r, "To: <sip:a@b>;tag=gw400\r\n"));
    assert_null(strstr(r, "Content-Type: <<<"));
    /* the answer itself parses */
    struct gw_sip_msg *m = gw_sip_parse(r, len, NULL, NULL);
    assert_non_null(m);
    assert_int_equal(gw_sip_status(m), 400);
    gw_sip_msg_free(m);
    free(r);
    /* nothing to answer: a response, or missing fields */
    assert_null(gw_sip_bad_request("SIP/2.0 200 OK\r\n\r\n", 19, 400, NULL, NULL));
    const char *nocid = "MESSAGE sip:a@b SIP/2.0\r\nVia: x\r\nFrom: y\r\nTo: z\r\n"
                        "CSeq: 1 MESSAGE\r\n\r\n";
    assert_null(gw_sip_bad_request(nocid, strlen(nocid), 400, NULL, NULL));
}

static void subscription_state_variants(void **state)
{
    (void)state;
    static const struct {
        const char *hdr;
        int rc;
        enum gw_substate st;
        long expires;
        const char *reason;
    } v[] = {
        {"active;expires=3600", 0, GW_SUBSTATE_ACTIVE, 3600, ""},
        {"Pending ; expires = 60", 0, GW_SUBSTATE_PENDING, 60, ""},
        {"terminated;reason=timeout", 0, GW_SUBSTATE_TERMINATED, -1, "timeout"},
        {"terminated;reason=rejected", 0, GW_SUBSTATE_TERMINATED, -1, "rejected"},
        {"waiting;foo=bar", 0, GW_SUBSTATE_OTHER, -1, ""},
        {"active;expires=abc", -1, GW_SUBSTATE_NONE, -1, ""},
        {"", -1, GW_SUBSTATE_NONE, -1, ""},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        char raw[512];
        snprintf(raw, sizeof raw,
                 "NOTIFY sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\n"
                 "From: <sip:c@d>;tag=1\r\nTo: <sip:a@b>;tag=2\r\nCall-ID: x\r\n"
                 "CSeq: 1 NOTIFY\r\nEvent: presence\r\nSubscription-State: %s\r\n"
                 "Content-Length: 0\r\n\r\n",
                 v[i].hdr);
        struct gw_sip_msg *m = parse_ok(raw);
        struct gw_sip_substate ss;
        assert_int_equal(gw_sip_substate(m, &ss), v[i].rc);
        assert_int_equal(ss.state, v[i].st);
        assert_int_equal(ss.expires, v[i].expires);
        assert_string_equal(ss.reason, v[i].reason);
        gw_sip_msg_free(m);
    }
    /* absent */
    struct gw_sip_msg *m = parse_ok(
        "NOTIFY sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nFrom: <sip:c@d>;tag=1\r\n"
        "To: <sip:a@b>;tag=2\r\nCall-ID: x\r\nCSeq: 1 NOTIFY\r\nContent-Length: 0\r\n\r\n");
    struct gw_sip_substate ss;
    assert_int_equal(gw_sip_substate(m, &ss), -1);
    assert_null(gw_sip_event(m));
    assert_int_equal(gw_sip_expires(m), -1);
    assert_int_equal(gw_sip_max_forwards(m), -1);
    gw_sip_msg_free(m);
}

static void accept_wildcards(void **state)
{
    (void)state;
    struct gw_sip_msg *m =
        parse_ok("SUBSCRIBE sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nFrom: "
                 "<sip:c@d>;tag=1\r\n"
                 "To: <sip:a@b>\r\nCall-ID: x\r\nCSeq: 1 SUBSCRIBE\r\nEvent: presence.winfo\r\n"
                 "Accept: application/*, text/plain\r\nContent-Length: 0\r\n\r\n");
    assert_true(gw_sip_accepts(m, "application/pidf+xml", false));
    assert_true(gw_sip_accepts(m, "text/plain", false));
    assert_false(gw_sip_accepts(m, "text/html", false));
    assert_string_equal(gw_sip_event(m), "presence.winfo");
    gw_sip_msg_free(m);
}

static void random_tokens_are_distinct(void **state)
{
    (void)state;
    char a[17], b[17];
    assert_int_equal(gw_sip_random_token(a, sizeof a), 0);
    assert_int_equal(gw_sip_random_token(b, sizeof b), 0);
    assert_int_equal(strlen(a), 16);
    assert_string_not_equal(a, b);
    assert_int_equal(gw_sip_random_token(a, 0), -1);
}

/* The lines of a message, lower case (libosip2 changes the case of header
 * names), without the spaces it adds (padding of Content-Length, after ';'
 * in Content-Type), sorted (it orders some
 * headers differently); the body after the blank line kept apart. */
static size_t norm_lines(const char *msg, char lines[][512], size_t max, const char **body)
{
    size_t n = 0;
    const char *p = msg;
    while (*p && n < max) {
        const char *e = strstr(p, "\r\n");
        assert_non_null(e);
        if (e == p) {
            *body = e + 2;
            break;
        }
        size_t l = (size_t)(e - p), o = 0;
        assert_true(l < 511);
        for (size_t i = 0; i < l; i++) {
            char c = (char)tolower((unsigned char)p[i]);
            if (c == ' ' && o > 0 && (lines[n][o - 1] == ' ' || lines[n][o - 1] == ';'))
                continue; /* "Content-Length:     5", "text/plain; charset" */
            lines[n][o++] = c;
        }
        lines[n][o] = '\0';
        n++;
        p = e + 2;
    }
    qsort(lines, n, sizeof lines[0], (int (*)(const void *, const void *))strcmp);
    return n;
}

/* What the gateway writes is what libosip2 itself would serialise after
 * parsing it: the same headers, values, URI escaping and body. */
static void assert_osip_round_trip(const char *built)
{
    osip_message_t *m = NULL;
    assert_int_equal(osip_message_init(&m), 0);
    assert_int_equal(osip_message_parse(m, built, strlen(built)), 0);
    char *again = NULL;
    size_t alen = 0;
    assert_int_equal(osip_message_to_str(m, &again, &alen), 0);
    static char la[48][512], lb[48][512];
    const char *ba = "", *bb = "";
    size_t na = norm_lines(built, la, 48, &ba), nb = norm_lines(again, lb, 48, &bb);
    for (size_t i = 0; i < na && i < nb; i++)
        if (strcmp(la[i], lb[i]) != 0)
            fail_msg("built '%s', libosip2 '%s'", la[i], lb[i]);
    assert_int_equal(na, nb);
    assert_string_equal(ba, bb);
    osip_free(again);
    osip_message_free(m);
}

static void built_messages_serialise_as_libosip2_does(void **state)
{
    (void)state;
    parser_init();
    const char *routes[] = {"<sip:p1.example.com;lr>", "<sip:[2001:db8::1]:5061;lr;transport=tls>"};
    struct gw_sip_request r = {0};
    r.method = "NOTIFY";
    r.request_uri = "sip:ju%40liet%20x@[2001:db8::9]:5070;transport=tcp;gr=a%3Bb?subject=a%20b";
    r.from_uri = "sip:rom%5Ceo@example.net;gr=urn:uuid:1";
    r.from_display = "Romeo M. <x>";
    r.from_tag = "a.b-c_d";
    r.to_uri = "sips:user:pw%3A@example.com";
    r.to_tag = "xfed1";
    r.call_id = "abc123@gw.example";
    r.cseq = 2147483647U;
    r.via_transport = "TLS";
    r.via_host = "2001:db8::2";
    r.via_port = 5071;
    r.branch = "z9hG4bKx.y";
    r.contact = "sip:gw@192.0.2.1:5070;transport=tls";
    r.routes = routes;
    r.n_routes = 2;
    r.max_forwards = 69;
    r.event = "presence;id=7";
    r.expires = 600;
    r.subscription_state = "active;expires=600";
    r.accept = "application/pidf+xml";
    r.allow_events = "presence";
    r.subject = "caf\xc3\xa9";
    r.content_language = "cs";
    r.content_type = "application/pidf+xml;charset=UTF-8";
    r.body = "<presence/>\r\n";
    r.body_len = strlen(r.body);
    size_t len = 0;
    const char *why = NULL;
    char *s = gw_sip_request_build(&r, &len, &why);
    if (s == NULL)
        fail_msg("build: %s", why);
    assert_int_equal(len, strlen(s));
    assert_non_null(strstr(s, "Via: SIP/2.0/TLS [2001:db8::2]:5071;branch=z9hG4bKx.y;rport\r\n"));
    assert_non_null(strstr(s, "From: \"Romeo M. <x>\" <sip:rom%5Ceo@example.net;gr=urn:uuid:1>;"
                              "tag=a.b-c_d\r\n"));
    assert_non_null(strstr(s, "Content-Length: 13\r\n\r\n<presence/>\r\n"));
    assert_osip_round_trip(s);
    /* a response to it, and to the NOTIFY with compact headers */
    struct gw_sip_msg *m = parse_ok(s);
    struct gw_sip_response rs = {.code = 200,
                                 .to_tag = "new",
                                 .contact = "sip:gw@192.0.2.1",
                                 .expires = 60,
                                 .min_expires = -1,
                                 .retry_after = -1,
                                 .warning = "399 gw \"w\""};
    char *resp = gw_sip_response_build(m, &rs, NULL, NULL);
    assert_non_null(resp);
    assert_osip_round_trip(resp);
    assert_null(strstr(resp, "Route:")); /* the request's Route is not copied */
    free(resp);
    gw_sip_msg_free(m);
    free(s);
    m = parse_ok(notify_raw);
    rs.to_tag = NULL;
    rs.contact = NULL;
    resp = gw_sip_response_build(m, &rs, NULL, NULL);
    assert_non_null(resp);
    assert_non_null(strstr(resp, "Record-Route: <sip:p1.example.com;lr>\r\n"
                                 "Record-Route: <sip:p2.example.com;lr>\r\n"));
    assert_osip_round_trip(resp);
    free(resp);
    gw_sip_msg_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(message_request_is_built_per_rfc3428),
        cmocka_unit_test(subscribe_request_carries_rfc6665_headers),
        cmocka_unit_test(notify_with_compact_headers_is_parsed),
        cmocka_unit_test(responses_carry_error_headers),
        cmocka_unit_test(request_builder_refuses_missing_or_injected_fields),
        cmocka_unit_test(framing_handles_partial_pipelined_and_keepalive_input),
        cmocka_unit_test(framing_refuses_broken_streams),
        cmocka_unit_test(malformed_messages_never_crash_and_get_400),
        cmocka_unit_test(bad_request_is_answered_from_raw_bytes),
        cmocka_unit_test(subscription_state_variants),
        cmocka_unit_test(accept_wildcards),
        cmocka_unit_test(random_tokens_are_distinct),
        cmocka_unit_test(built_messages_serialise_as_libosip2_does),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
