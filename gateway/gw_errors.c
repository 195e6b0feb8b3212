/*
 * gw_errors.c - RFC 7247 section 7 error tables (see gw_errors.h).
 */
#include "gw_errors.h"

#include <string.h>

/* RFC 7247 section 7.2 (SIP response code -> XMPP condition); types from
 * RFC 6120 section 8.3.3. Notes as numbered in INTERWORKING.md section 1.3. */
static const struct gw_err_sip_row sip_rows[] = {
    {300, "redirect", "modify", false},
    {301, "gone", "cancel", true}, /* (1) carries the Contact address */
    {302, "redirect", "modify", false},
    {305, "redirect", "modify", false},
    {380, "not-acceptable", "modify", false},
    {400, "bad-request", "modify", false},
    {401, "not-authorized", "auth", false},
    {402, "bad-request", "modify", false}, /* (2) payment-required left RFC 6120 */
    {403, "forbidden", "auth", false},
    {404, "item-not-found", "cancel", false},
    {405, "feature-not-implemented", "cancel", false},
    {406, "not-acceptable", "modify", false},
    {407, "registration-required", "auth", false},
    {408, "remote-server-timeout", "wait", false},
    {410, "gone", "cancel", false}, /* (1) MUST NOT carry an address */
    {413, "policy-violation", "modify", false},
    {414, "policy-violation", "modify", false},
    {415, "not-acceptable", "modify", false},
    {416, "not-acceptable", "modify", false},
    {420, "feature-not-implemented", "cancel", false},
    {421, "not-acceptable", "modify", false},
    {423, "resource-constraint", "wait", false},
    {430, "recipient-unavailable", "wait", false},     /* (6) RFC 5626 */
    {439, "feature-not-implemented", "cancel", false}, /* (6) RFC 5626 */
    {440, "policy-violation", "modify", false},        /* (7) RFC 5393 */
    {480, "recipient-unavailable", "wait", false},
    {481, "item-not-found", "cancel", false},
    {482, "not-acceptable", "modify", false},
    {483, "not-acceptable", "modify", false},
    {484, "item-not-found", "cancel", false},
    {485, "item-not-found", "cancel", false},
    {486, "recipient-unavailable", "wait", false},
    {487, "recipient-unavailable", "wait", false},
    {488, "not-acceptable", "modify", false},
    {489, "policy-violation", "modify", false}, /* (8) RFC 6665 */
    {491, "unexpected-request", "wait", false},
    {493, "bad-request", "modify", false},
    {500, "internal-server-error", "cancel", false},
    {501, "feature-not-implemented", "cancel", false},
    {502, "remote-server-not-found", "cancel", false},
    {503, "internal-server-error", "cancel", false}, /* (9) */
    {504, "remote-server-timeout", "wait", false},
    {505, "not-acceptable", "modify", false},
    {513, "policy-violation", "modify", false},
    {600, "recipient-unavailable", "wait", false},
    {603, "recipient-unavailable", "wait", false},
    {604, "item-not-found", "cancel", false},
    {606, "not-acceptable", "modify", false},
};

/* RFC 7247 section 7.1 (XMPP condition -> SIP response code). */
static const struct gw_err_xmpp_row xmpp_rows[] = {
    {"bad-request", 400, 400, "modify"},
    {"conflict", 400, 400, "cancel"},
    {"feature-not-implemented", 405, 501, "cancel"}, /* (1) */
    {"forbidden", 403, 603, "auth"},                 /* (2) */
    {"gone", 410, 410, "cancel"},                    /* (3) 301 with an address */
    {"internal-server-error", 500, 500, "cancel"},
    {"item-not-found", 404, 604, "cancel"}, /* (2) */
    {"jid-malformed", 400, 400, "modify"},
    {"not-acceptable", 406, 606, "modify"}, /* (2) */
    {"not-allowed", 403, 403, "cancel"},
    {"not-authorized", 401, 401, "auth"},
    {"policy-violation", 403, 403, "modify"},
    {"recipient-unavailable", 480, 600, "wait"}, /* (2) */
    {"redirect", 302, 302, "modify"},
    {"registration-required", 407, 407, "auth"},
    {"remote-server-not-found", 404, 404, "cancel"}, /* (4) 408 when unresolvable */
    {"remote-server-timeout", 408, 408, "wait"},
    {"resource-constraint", 500, 500, "wait"},
    {"service-unavailable", 403, 403, "cancel"}, /* (5) never 503 */
    {"subscription-required", 400, 400, "auth"},
    {"undefined-condition", 400, 400, "cancel"},
    {"unexpected-request", 400, 400, "wait"},
};

#define NROWS(a) (sizeof(a) / sizeof((a)[0]))

const struct gw_err_sip_row *gw_err_sip_table(size_t *n)
{
    *n = NROWS(sip_rows);
    return sip_rows;
}

const struct gw_err_xmpp_row *gw_err_xmpp_table(size_t *n)
{
    *n = NROWS(xmpp_rows);
    return xmpp_rows;
}

bool gw_err_sip_to_xmpp(int code, struct gw_err_sip_row *out)
{
    if (code < 300 || code > 699)
        return false;
    for (size_t i = 0; i < NROWS(sip_rows); i++) {
        if (sip_rows[i].code == code) {
            *out = sip_rows[i];
            return true;
        }
    }
    /* class fallback, RFC 7247 section 7.2 */
    static const struct gw_err_sip_row fallback[] = {
        {300, "redirect", "modify", false},
        {400, "bad-request", "modify", false},
        {500, "internal-server-error", "cancel", false},
        {600, "recipient-unavailable", "wait", false},
    };
    *out = fallback[code / 100 - 3];
    out->code = code;
    return true;
}

static const struct gw_err_xmpp_row *xmpp_row(const char *condition)
{
    if (condition == NULL)
        return NULL;
    for (size_t i = 0; i < NROWS(xmpp_rows); i++)
        if (strcmp(xmpp_rows[i].condition, condition) == 0)
            return &xmpp_rows[i];
    return NULL;
}

int gw_err_xmpp_to_sip(const char *condition, const struct gw_err_ctx *ctx)
{
    static const struct gw_err_ctx none = {false, false, false};
    const struct gw_err_xmpp_row *r = xmpp_row(condition);

    if (ctx == NULL)
        ctx = &none;
    if (r == NULL)
        return 400;
    if (strcmp(r->condition, "gone") == 0)
        return ctx->gone_has_address ? 301 : 410;
    if (strcmp(r->condition, "remote-server-not-found") == 0)
        return ctx->unresolvable ? 408 : 404;
    return ctx->full_jid ? r->code_full : r->code_bare;
}

const char *gw_err_xmpp_type(const char *condition)
{
    const struct gw_err_xmpp_row *r = xmpp_row(condition);
    return r ? r->type : "cancel";
}

bool gw_err_condition_known(const char *condition)
{
    return xmpp_row(condition) != NULL;
}

const char *gw_err_sip_reason(int code)
{
    static const struct {
        int code;
        const char *reason;
    } reasons[] = {
        {100, "Trying"},
        {180, "Ringing"},
        {200, "OK"},
        {202, "Accepted"},
        {300, "Multiple Choices"},
        {301, "Moved Permanently"},
        {302, "Moved Temporarily"},
        {305, "Use Proxy"},
        {380, "Alternative Service"},
        {400, "Bad Request"},
        {401, "Unauthorized"},
        {402, "Payment Required"},
        {403, "Forbidden"},
        {404, "Not Found"},
        {405, "Method Not Allowed"},
        {406, "Not Acceptable"},
        {407, "Proxy Authentication Required"},
        {408, "Request Timeout"},
        {410, "Gone"},
        {413, "Request Entity Too Large"},
        {414, "Request-URI Too Long"},
        {415, "Unsupported Media Type"},
        {416, "Unsupported URI Scheme"},
        {420, "Bad Extension"},
        {421, "Extension Required"},
        {423, "Interval Too Brief"},
        {430, "Flow Failed"},
        {439, "First Hop Lacks Outbound Support"},
        {440, "Max-Breadth Exceeded"},
        {480, "Temporarily Unavailable"},
        {481, "Call/Transaction Does Not Exist"},
        {482, "Loop Detected"},
        {483, "Too Many Hops"},
        {484, "Address Incomplete"},
        {485, "Ambiguous"},
        {486, "Busy Here"},
        {487, "Request Terminated"},
        {488, "Not Acceptable Here"},
        {489, "Bad Event"},
        {491, "Request Pending"},
        {493, "Undecipherable"},
        {500, "Server Internal Error"},
        {501, "Not Implemented"},
        {502, "Bad Gateway"},
        {503, "Service Unavailable"},
        {504, "Server Time-out"},
        {505, "Version Not Supported"},
        {513, "Message Too Large"},
        {600, "Busy Everywhere"},
        {603, "Decline"},
        {604, "Does Not Exist Anywhere"},
        {606, "Not Acceptable"},
    };
    for (size_t i = 0; i < NROWS(reasons); i++)
        if (reasons[i].code == code)
            return reasons[i].reason;
    return "Unknown";
}
