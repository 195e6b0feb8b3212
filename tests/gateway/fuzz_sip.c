/*
 * fuzz_sip.c - libFuzzer target for SIP input handling: framing, parsing,
 * the checks, every accessor, a response, the raw 400 and the MESSAGE
 * mapping (gw_sip.c, gw_message.c). Built with XFED_FUZZ=ON and clang;
 * every build replays the seeds in tests/gateway/fuzz/sip (fuzz_replay.c).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gw_message.h"
#include "gw_sip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void use(const char *s)
{
    volatile size_t n = s ? strlen(s) : 0;
    (void)n;
}

static void one(const char *buf, size_t len)
{
    const char *why = NULL;
    struct gw_sip_msg *m = gw_sip_parse(buf, len, NULL, &why);
    if (m == NULL) {
        size_t n;
        free(gw_sip_bad_request(buf, len, 400, why, &n));
        return;
    }
    int code = gw_sip_msg_check(m, &why);
    use(gw_sip_method(m));
    use(gw_sip_reason(m));
    use(gw_sip_request_uri(m));
    use(gw_sip_from_uri(m));
    use(gw_sip_from_tag(m));
    use(gw_sip_to_uri(m));
    use(gw_sip_to_tag(m));
    use(gw_sip_call_id(m));
    use(gw_sip_cseq_method(m));
    use(gw_sip_via_branch(m));
    use(gw_sip_event(m));
    use(gw_sip_content_type(m));
    use(gw_sip_content_charset(m));
    use(gw_sip_content_language(m));
    use(gw_sip_subject(m));
    use(gw_sip_contact_uri(m));
    for (size_t i = 0; i < gw_sip_record_route_count(m); i++)
        use(gw_sip_record_route(m, i));
    (void)gw_sip_max_forwards(m);
    (void)gw_sip_expires(m);
    (void)gw_sip_min_expires(m);
    (void)gw_sip_accepts(m, "application/pidf+xml", true);
    struct gw_sip_substate ss;
    (void)gw_sip_substate(m, &ss);
    if (gw_sip_is_request(m)) {
        struct gw_sip_response r = {.code = code ? code : 200,
                                    .to_tag = "fz",
                                    .expires = 60,
                                    .min_expires = -1,
                                    .retry_after = -1};
        free(gw_sip_response_build(m, &r, NULL, NULL));
        if (code == 0 && gw_sip_method(m) && strcmp(gw_sip_method(m), "MESSAGE") == 0) {
            struct gw_s2x s;
            if (gw_message_s2x(m, NULL, &s) == 0)
                gw_s2x_clear(&s);
        }
    }
    gw_sip_msg_free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    struct gw_sip_limits lim = {.max_header_bytes = 8192, .max_body_bytes = 8192};
    struct gw_sip_frame f;
    size_t off = 0;
    for (int i = 0; i < 8 && off < size; i++) {
        int r = gw_sip_frame(buf + off, size - off, &lim, &f);
        if (r <= 0)
            break;
        if (f.msg_len > 0)
            one(buf + off + f.msg_off, f.msg_len);
        off += f.consumed;
    }
    /* the parser must also survive unframed input */
    if (size < 20000)
        one(buf, size);
    return 0;
}
