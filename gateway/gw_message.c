/*
 * gw_message.c - RFC 7572 page-mode IM mapping (see gw_message.h).
 */
#include "gw_message.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gw_address.h"

int gw_message_pick_body(const struct gw_im_body *b, size_t n, const char *stanza_lang)
{
    if (n == 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (b[i].lang == NULL)
            return (int)i;
    for (size_t i = 0; stanza_lang != NULL && i < n; i++)
        if (strcasecmp(b[i].lang, stanza_lang) == 0)
            return (int)i;
    return 0;
}

/* RFC 3261 section 25.1: callid = word [ "@" word ]. */
static bool callid_ok(const char *s)
{
    size_t n = strlen(s);
    int ats = 0;
    if (n == 0 || n > GW_MSG_CALLID_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '@') {
            if (++ats > 1 || i == 0 || i == n - 1)
                return false;
            continue;
        }
        if (!(isalnum(c) || strchr("-.!%*_+`'~()<>:\\\"/[]?{}", c) != NULL))
            return false;
    }
    return true;
}

/* A language tag we pass on (RFC 5646 characters, bounded). */
static bool lang_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 35)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(isalnum((unsigned char)s[i]) || s[i] == '-'))
            return false;
    return true;
}

/* A Subject we can carry in a SIP header: UTF-8, no control characters. */
static bool header_text_ok(const char *s)
{
    if (!gw_utf8_valid(s, strlen(s)))
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return false;
    return true;
}

void gw_x2s_clear(struct gw_x2s *x)
{
    free(x->request_uri);
    free(x->call_id);
    free(x->bytes);
    memset(x, 0, sizeof *x);
}

static int x2s_refuse(struct gw_x2s *out, bool headline, const char *cond, const char *type,
                      const char *reason)
{
    gw_x2s_clear(out);
    out->reason = reason;
    if (headline) { /* INTERWORKING 3.3: no error stanzas for headlines */
        out->action = GW_X2S_DROP;
        return 0;
    }
    out->action = GW_X2S_REJECT;
    out->condition = cond;
    out->type = type;
    return 0;
}

int gw_message_x2s(const struct gw_im_in *im, const struct gw_x2s_txn *txn,
                   const struct gw_msg_limits *lim, struct gw_x2s *out)
{
    size_t max = lim && lim->max_sip_bytes ? lim->max_sip_bytes : GW_MSG_SIP_MAX_DEFAULT;
    const char *type = im->type ? im->type : "normal";
    bool headline = strcmp(type, "headline") == 0;

    memset(out, 0, sizeof *out);
    if (strcmp(type, "error") == 0) {
        /* RFC 6120 section 8.3.1: never translated, never answered */
        out->action = GW_X2S_DROP;
        out->reason = "error stanza";
        return 0;
    }
    if (strcmp(type, "groupchat") == 0)
        return x2s_refuse(out, false, "feature-not-implemented", "cancel", "groupchat");
    if (strcmp(type, "chat") != 0 && strcmp(type, "normal") != 0 && !headline)
        return x2s_refuse(out, false, "bad-request", "modify", "unknown type");
    if (im->body == NULL || im->body[0] == '\0') {
        out->action = GW_X2S_DROP; /* M12: no empty MESSAGE */
        out->reason = "no body";
        return 0;
    }
    if (im->from == NULL || im->to == NULL)
        return x2s_refuse(out, headline, "jid-malformed", "modify", "missing address");
    char *from = NULL, *to = NULL;
    enum gw_addr_status st = gw_addr_xmpp_to_sip(im->from, true, &from);
    if (st == GW_ADDR_OK)
        st = gw_addr_xmpp_to_sip(im->to, true, &to);
    if (st != GW_ADDR_OK) {
        free(from);
        free(to);
        return x2s_refuse(out, headline, "jid-malformed", "modify", "address does not map");
    }
    const char *call_id =
        (im->thread && callid_ok(im->thread)) ? im->thread : txn->call_id_fallback;
    struct gw_sip_request r = {
        .method = "MESSAGE",
        .request_uri = to,
        .from_uri = from,
        .from_tag = txn->from_tag,
        .to_uri = to,
        .call_id = call_id,
        .cseq = txn->cseq,
        .via_transport = txn->via_transport,
        .via_host = txn->via_host,
        .via_port = txn->via_port,
        .branch = txn->branch,
        .routes = txn->routes,
        .n_routes = txn->n_routes,
        .max_forwards = -1,
        .expires = -1,
        .content_type = "text/plain;charset=UTF-8",
        .content_language = (im->lang && lang_ok(im->lang)) ? im->lang : NULL,
        .subject =
            (im->subject && im->subject[0] && header_text_ok(im->subject)) ? im->subject : NULL,
        .body = im->body,
        .body_len = strlen(im->body),
    };
    const char *why = NULL;
    size_t len = 0;
    char *bytes = gw_sip_request_build(&r, &len, &why);
    if (bytes == NULL) {
        free(from);
        free(to);
        return x2s_refuse(out, headline, "bad-request", "modify", "MESSAGE not buildable");
    }
    if (len > max) {
        free(bytes);
        free(from);
        free(to);
        return x2s_refuse(out, headline, "policy-violation", "modify", "too large");
    }
    out->action = GW_X2S_SEND;
    out->reason = "send";
    out->request_uri = to;
    out->call_id = strdup(call_id ? call_id : "");
    out->bytes = bytes;
    out->len = len;
    free(from);
    if (out->call_id == NULL) {
        gw_x2s_clear(out);
        return -1;
    }
    return 0;
}

/* ---- SIP -> XMPP ---------------------------------------------------------- */

void gw_s2x_clear(struct gw_s2x *s)
{
    free(s->im.from);
    free(s->im.to);
    free(s->im.id);
    free(s->im.lang);
    free(s->im.subject);
    free(s->im.thread);
    free(s->im.body);
    memset(s, 0, sizeof *s);
}

/* Copies s, dropping ASCII control characters other than TAB, LF and CR
 * (XML 1.0 Char), and, when single_line, those too. */
static char *xml_clean(const char *s, size_t n, bool single_line)
{
    char *o = malloc(n + 1);
    size_t k = 0;
    if (o == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 && (single_line || (c != '\t' && c != '\n' && c != '\r')))
            continue;
        if (c == 0x7f)
            continue;
        o[k++] = (char)c;
    }
    o[k] = '\0';
    return o;
}

static int s2x_refuse(struct gw_s2x *out, int code, const char *reason)
{
    gw_s2x_clear(out);
    out->action = GW_S2X_REFUSE;
    out->code = code;
    out->reason = reason;
    return 0;
}

static void put_utf8(char *o, size_t *k, unsigned long cp)
{
    if (cp < 0x80) {
        o[(*k)++] = (char)cp;
    } else if (cp < 0x800) {
        o[(*k)++] = (char)(0xc0 | (cp >> 6));
        o[(*k)++] = (char)(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        o[(*k)++] = (char)(0xe0 | (cp >> 12));
        o[(*k)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[(*k)++] = (char)(0x80 | (cp & 0x3f));
    } else {
        o[(*k)++] = (char)(0xf0 | (cp >> 18));
        o[(*k)++] = (char)(0x80 | ((cp >> 12) & 0x3f));
        o[(*k)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[(*k)++] = (char)(0x80 | (cp & 0x3f));
    }
}

/* Decodes the entity at s[0] == '&' (n bytes left). Returns the bytes it
 * used (0 when it is not an entity we know) and appends its text. */
static size_t html_entity(const char *s, size_t n, char *o, size_t *k)
{
    static const struct {
        const char *name;
        unsigned long cp;
    } named[] = {{"amp", '&'},  {"lt", '<'},    {"gt", '>'},
                 {"quot", '"'}, {"apos", '\''}, {"nbsp", 0xa0}};
    const char *semi = memchr(s, ';', n < 12 ? n : 12);
    if (semi == NULL)
        return 0;
    size_t el = (size_t)(semi - s) - 1;
    const char *e = s + 1;
    if (el >= 2 && e[0] == '#') {
        unsigned long cp = 0;
        size_t i = 1;
        bool hex = e[1] == 'x' || e[1] == 'X';
        if (hex)
            i = 2;
        if (i >= el)
            return 0;
        for (; i < el; i++) {
            int d = isdigit((unsigned char)e[i])           ? e[i] - '0'
                    : hex && isxdigit((unsigned char)e[i]) ? tolower((unsigned char)e[i]) - 'a' + 10
                                                           : -1;
            if (d < 0)
                return 0;
            cp = cp * (hex ? 16 : 10) + (unsigned long)d;
            if (cp > 0x10ffff)
                return 0;
        }
        if (cp == 0 || (cp >= 0xd800 && cp <= 0xdfff) || (cp < 0x20 && cp != '\t' && cp != '\n'))
            return 0;
        put_utf8(o, k, cp);
        return el + 2;
    }
    for (size_t i = 0; i < sizeof named / sizeof named[0]; i++) {
        if (strlen(named[i].name) == el && memcmp(e, named[i].name, el) == 0) {
            put_utf8(o, k, named[i].cp);
            return el + 2;
        }
    }
    return 0;
}

static bool tag_is(const char *t, size_t tl, const char *name)
{
    size_t nl = strlen(name);
    return tl >= nl && strncasecmp(t, name, nl) == 0 &&
           (tl == nl || t[nl] == ' ' || t[nl] == '>' || t[nl] == '/' || t[nl] == '\t' ||
            t[nl] == '\n' || t[nl] == '\r');
}

char *gw_message_html_to_text(const char *h, size_t n)
{
    char *o = malloc(n + 1);
    size_t k = 0;
    const char *skip_until = NULL; /* "</script" or "</style" */

    if (o == NULL)
        return NULL;
    for (size_t i = 0; i < n;) {
        if (skip_until != NULL) {
            size_t sl = strlen(skip_until);
            if (n - i >= sl && strncasecmp(h + i, skip_until, sl) == 0)
                skip_until = NULL;
            else
                i++;
            continue;
        }
        if (h[i] == '<') {
            const char *gt = memchr(h + i, '>', n - i);
            if (gt == NULL)
                break; /* an unfinished tag ends the text */
            const char *t = h + i + 1;
            size_t tl = (size_t)(gt - t);
            bool closing = tl > 0 && t[0] == '/';
            const char *name = closing ? t + 1 : t;
            size_t nl = closing ? tl - 1 : tl;
            if (!closing && (tag_is(name, nl, "script") || tag_is(name, nl, "style")))
                skip_until = tag_is(name, nl, "script") ? "</script" : "</style";
            else if (tag_is(name, nl, "br") ||
                     (closing && (tag_is(name, nl, "p") || tag_is(name, nl, "div") ||
                                  tag_is(name, nl, "li") || tag_is(name, nl, "tr"))))
                if (k > 0 && o[k - 1] != '\n')
                    o[k++] = '\n';
            i = (size_t)(gt - h) + 1;
            continue;
        }
        if (h[i] == '&') {
            size_t used = html_entity(h + i, n - i, o, &k);
            if (used > 0) {
                i += used;
                continue;
            }
        }
        o[k++] = h[i++];
    }
    while (k > 0 && (o[k - 1] == '\n' || o[k - 1] == ' '))
        k--;
    o[k] = '\0';
    return o;
}

int gw_message_s2x(const struct gw_sip_msg *m, const struct gw_msg_limits *lim, struct gw_s2x *out)
{
    size_t max = lim && lim->max_xmpp_bytes ? lim->max_xmpp_bytes : GW_MSG_XMPP_MAX_DEFAULT;
    struct gw_xmpp_addr addr, *a = &addr; /* on the stack: see gw_addr_xmpp_to_sip() */
    char jid[4 * GW_ADDR_PART_MAX + 8];

    memset(out, 0, sizeof *out);
    /* to: the Request-URI (RFC 7572 section 5, Table 2) */
    enum gw_addr_status st = gw_addr_sip_to_xmpp(gw_sip_request_uri(m), a);
    if (st != GW_ADDR_OK) {
        return s2x_refuse(out, gw_addr_status_sip_code(st),
                          st == GW_ADDR_SIPS ? "SIPS is not carried to XMPP" : "Bad Request-URI");
    }
    gw_addr_xmpp_format(a, true, jid, sizeof jid);
    out->im.to = strdup(jid);
    st = gw_addr_sip_to_xmpp(gw_sip_from_uri(m), a);
    if (st != GW_ADDR_OK) {
        return s2x_refuse(out, gw_addr_status_sip_code(st) == 416 ? 416 : 400, "Bad From");
    }
    gw_addr_xmpp_format(a, true, jid, sizeof jid); /* full JID when gr is known */
    out->im.from = strdup(jid);

    const char *ct = gw_sip_content_type(m);
    const char *cs = gw_sip_content_charset(m);
    size_t bl = 0;
    const char *body = gw_sip_body(m, &bl);
    bool html = ct != NULL && strcmp(ct, "text/html") == 0;
    if (bl > 0 && (ct == NULL || (strcmp(ct, "text/plain") != 0 && !html))) {
        int r = s2x_refuse(out, 415, "Unsupported Media Type");
        out->accept = "text/plain, text/html";
        return r;
    }
    if (cs != NULL && strcasecmp(cs, "utf-8") != 0 && strcasecmp(cs, "us-ascii") != 0) {
        int r = s2x_refuse(out, 415, "Only UTF-8 text");
        out->accept = "text/plain;charset=UTF-8, text/html;charset=UTF-8";
        return r;
    }
    if (!gw_utf8_valid(body, bl))
        return s2x_refuse(out, 400, "Body is not UTF-8");
    if (bl > max)
        return s2x_refuse(out, 513, "Message Too Large"); /* M18 */
    if (html) {
        char *text = gw_message_html_to_text(body, bl);
        if (text == NULL) {
            gw_s2x_clear(out);
            return -1;
        }
        out->im.body = xml_clean(text, strlen(text), false);
        free(text);
    } else {
        out->im.body = xml_clean(body, bl, false);
    }
    const char *subj = gw_sip_subject(m);
    if (subj != NULL && subj[0] && gw_utf8_valid(subj, strlen(subj)))
        out->im.subject = xml_clean(subj, strlen(subj), true);
    const char *cl = gw_sip_content_language(m);
    if (cl != NULL) {
        while (*cl == ' ')
            cl++;
        char lang[36];
        size_t n = strcspn(cl, " ,;");
        if (n < sizeof lang) {
            memcpy(lang, cl, n);
            lang[n] = '\0';
            if (lang_ok(lang))
                out->im.lang = strdup(lang);
        }
    }
    const char *cid = gw_sip_call_id(m);
    if (cid != NULL && gw_utf8_valid(cid, strlen(cid)))
        out->im.thread = xml_clean(cid, strlen(cid), true);
    const char *br = gw_sip_via_branch(m);
    if (br != NULL && gw_utf8_valid(br, strlen(br)))
        out->im.id = xml_clean(br, strlen(br), true);
    if (out->im.to == NULL || out->im.from == NULL || out->im.body == NULL) {
        gw_s2x_clear(out);
        return -1;
    }
    out->action = GW_S2X_DELIVER;
    out->code = 202; /* RFC 3428 section 7 */
    out->reason = "Accepted";
    return 0;
}
