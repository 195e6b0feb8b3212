/*
 * gw_sip.c - SIP framing, parsing and building on libosip2 (see gw_sip.h).
 */
#include "gw_sip.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include <osipparser2/osip_message.h>
#include <osipparser2/osip_parser.h>
#include <osipparser2/osip_port.h>

#include "gw_errors.h"

#define MAX_RR 32 /* Record-Route entries kept */

struct gw_sip_msg {
    osip_message_t *m;
    char *ruri;
    char *from_uri, *to_uri, *contact_uri;
    const char *from_tag, *to_tag;
    char *call_id;
    uint32_t cseq;
    bool cseq_ok;
    const char *cseq_method;
    const char *branch;
    char *ctype; /* "type/subtype" lower case */
    const char *charset;
    char *body;
    size_t body_len;
    char *rr[MAX_RR];
    size_t n_rr;
    char *event;
};

static void limits_fill(const struct gw_sip_limits *in, struct gw_sip_limits *out)
{
    out->max_header_bytes =
        (in && in->max_header_bytes) ? in->max_header_bytes : GW_SIP_MAX_HEADER_BYTES_DEFAULT;
    out->max_body_bytes =
        (in && in->max_body_bytes) ? in->max_body_bytes : GW_SIP_MAX_BODY_BYTES_DEFAULT;
    out->max_headers = (in && in->max_headers) ? in->max_headers : GW_SIP_MAX_HEADERS_DEFAULT;
}

/* libosip2 traces parse errors to stderr by default; peers must not be
 * able to write to our logs that way, so tracing goes nowhere. */
static void osip_quiet(const char *fi, int li, osip_trace_level_t level, const char *chfr,
                       va_list ap)
{
    (void)fi;
    (void)li;
    (void)level;
    (void)chfr;
    (void)ap;
}

static void osip_once(void)
{
    static bool done;
    if (!done) {
        osip_trace_initialize_func(END_TRACE_LEVEL, osip_quiet);
        for (int l = TRACE_LEVEL0; l < END_TRACE_LEVEL; l++)
            osip_trace_disable_level((osip_trace_level_t)l);
        parser_init();
        done = true;
    }
}

/* ---- Framing ------------------------------------------------------------ */

/* The blank line ending the headers: memmem's vectorised search instead of a
 * byte loop (it ran twice per message: framing and parsing). */
static const char *find_crlfcrlf(const char *p, size_t n)
{
    return memmem(p, n, "\r\n\r\n", 4);
}

/* Is the line [s, e) the header `name` or its compact form `compact`? Puts
 * the value start in *val. */
static bool line_is_header(const char *s, const char *e, const char *name, const char *compact,
                           const char **val)
{
    const char *c = memchr(s, ':', (size_t)(e - s));
    if (c == NULL)
        return false;
    const char *ne = c;
    while (ne > s && (ne[-1] == ' ' || ne[-1] == '\t'))
        ne--;
    size_t nl = (size_t)(ne - s);
    bool match = (nl == strlen(name) && strncasecmp(s, name, nl) == 0) ||
                 (compact != NULL && nl == strlen(compact) && strncasecmp(s, compact, nl) == 0);
    if (match)
        *val = c + 1;
    return match;
}

int gw_sip_frame(const char *buf, size_t len, const struct gw_sip_limits *lim_in,
                 struct gw_sip_frame *f)
{
    struct gw_sip_limits lim;
    size_t off = 0;

    limits_fill(lim_in, &lim);
    memset(f, 0, sizeof *f);
    while (off < len && (buf[off] == '\r' || buf[off] == '\n'))
        off++;
    if (off >= 4 && memcmp(buf, "\r\n\r\n", 4) == 0)
        f->keepalive_ping = true;
    if (off == len) {
        if (off == 0)
            return 0;
        f->consumed = off;
        f->msg_off = off;
        return 1;
    }
    const char *hs = buf + off;
    size_t avail = len - off;
    const char *he = find_crlfcrlf(hs, avail < lim.max_header_bytes ? avail : lim.max_header_bytes);
    if (he == NULL) {
        if (avail >= lim.max_header_bytes) {
            f->error_code = 513;
            return -1;
        }
        if (off > 0) { /* hand back the keep-alive bytes first */
            f->consumed = off;
            f->msg_off = off;
            return 1;
        }
        return 0;
    }
    size_t hdr_len = (size_t)(he - hs) + 4;
    long clen = -1;
    unsigned lines = 0;
    const char *ls = hs;
    while (ls < he) {
        const char *le = memchr(ls, '\r', (size_t)(he + 2 - ls));
        if (le == NULL)
            le = he;
        const char *val;
        if (lines > 0 && ls[0] != ' ' && ls[0] != '\t' &&
            line_is_header(ls, le, "Content-Length", "l", &val)) {
            while (val < le && (*val == ' ' || *val == '\t'))
                val++;
            const char *de = val;
            long v = 0;
            while (de < le && isdigit((unsigned char)*de) && de - val < 10)
                v = v * 10 + (*de++ - '0');
            const char *te = de;
            while (te < le && (*te == ' ' || *te == '\t'))
                te++;
            if (de == val || te != le || (clen >= 0 && clen != v)) {
                f->error_code = 400;
                return -1;
            }
            clen = v;
        }
        if (++lines > lim.max_headers + 1) {
            f->error_code = 513;
            return -1;
        }
        ls = le + 2;
    }
    if (clen < 0) { /* RFC 3261 section 18.3: MUST over a stream transport */
        f->error_code = 400;
        return -1;
    }
    if ((size_t)clen > lim.max_body_bytes) {
        f->error_code = 413;
        return -1;
    }
    if (avail - hdr_len < (size_t)clen)
        return 0;
    f->msg_off = off;
    f->msg_len = hdr_len + (size_t)clen;
    f->body_off = off + hdr_len;
    f->body_len = (size_t)clen;
    f->consumed = off + f->msg_len;
    return 1;
}

/* ---- Parsing ------------------------------------------------------------ */

static const char *const compact_names[][2] = {
    {"event", "o"},
    {"subject", "s"},
    {"allow-events", "u"},
    {"supported", "k"},
    {"content-type", "c"},
    {"content-length", "l"},
    {"content-encoding", "e"},
    {"contact", "m"},
    {"call-id", "i"},
    {"from", "f"},
    {"to", "t"},
    {"via", "v"},
    {"refer-to", "r"},
    {"referred-by", "b"},
    {"accept-contact", "a"},
};

const char *gw_sip_header(const struct gw_sip_msg *s, const char *name)
{
    const char *alt = NULL;
    bool compact = name[0] != '\0' && name[1] == '\0';
    int c0 = tolower((unsigned char)name[0]);
    for (size_t i = 0; i < sizeof(compact_names) / sizeof(compact_names[0]); i++) {
        /* the first letter decides most comparisons (this runs for
         * several headers of every message) */
        const char *other = compact_names[i][compact ? 1 : 0];
        if (c0 == other[0] && strcasecmp(name, other) == 0) {
            alt = compact_names[i][compact ? 0 : 1];
            break;
        }
    }
    osip_header_t *h = NULL;
    for (int pos = 0; (h = osip_list_get(&s->m->headers, pos)) != NULL; pos++) {
        if (h->hname == NULL)
            continue;
        if (strcasecmp(h->hname, name) == 0 || (alt && strcasecmp(h->hname, alt) == 0))
            return h->hvalue ? h->hvalue : "";
    }
    return NULL;
}

/* Header-block sanity before libosip2 sees it: printable ASCII or UTF-8,
 * HTAB, CR and LF only; no NUL. */
static bool header_bytes_ok(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c < 0x20 && c != '\t' && c != '\r' && c != '\n')
            return false;
        if (c == 0x7f)
            return false;
    }
    return true;
}

struct wbuf {
    char *p;
    size_t len, cap;
    bool bad; /* out of memory or a value that cannot be written */
};
static struct wbuf parse_buf; /* gw_sip_parse's copy of the header block */
static void w_mem(struct wbuf *w, const char *s, size_t n);
static bool uri_ok(const osip_uri_t *u);
static char *uri_dup(const osip_uri_t *u);
static char *nameaddr_dup(const osip_from_t *f);

static const char *gen_param(osip_list_t *params, const char *name)
{
    osip_generic_param_t *p = NULL;
    if (osip_generic_param_get_byname(params, (char *)(uintptr_t)name, &p) != 0 || p == NULL)
        return NULL;
    return p->gvalue;
}

static long parse_long(const char *v)
{
    if (v == NULL)
        return -1;
    while (*v == ' ' || *v == '\t')
        v++;
    if (!isdigit((unsigned char)*v))
        return -1;
    long r = 0;
    int n = 0;
    while (isdigit((unsigned char)*v)) {
        if (++n > 10)
            return -1;
        r = r * 10 + (*v++ - '0');
    }
    while (*v == ' ' || *v == '\t')
        v++;
    return *v == '\0' ? r : -1;
}

/* Rewrites every Content-Length value of the header block to a
 * space-padded "0" of the same length. */
static void blank_content_length(char *h, size_t n)
{
    char *end = h + n;
    char *ls = h;
    bool first = true;
    while (ls < end) {
        char *le = memchr(ls, '\r', (size_t)(end - ls));
        if (le == NULL)
            le = end;
        const char *val;
        if (!first && ls[0] != ' ' && ls[0] != '\t' &&
            line_is_header(ls, le, "Content-Length", "l", &val)) {
            char *v = (char *)(uintptr_t)val;
            char *last = NULL;
            for (char *q = v; q < le; q++) {
                if (*q != ' ' && *q != '\t') {
                    *q = ' ';
                    last = q;
                }
            }
            if (last != NULL)
                *last = '0';
            else if (v < le)
                le[-1] = '0';
        }
        first = false;
        ls = le + 2;
    }
}

struct gw_sip_msg *gw_sip_parse(const char *buf, size_t len, const struct gw_sip_limits *lim_in,
                                const char **why)
{
    struct gw_sip_limits lim;
    const char *dummy;

    if (why == NULL)
        why = &dummy;
    limits_fill(lim_in, &lim);
    osip_once();
    const char *he = find_crlfcrlf(buf, len);
    if (he == NULL) {
        *why = "no end of headers";
        return NULL;
    }
    size_t hdr_len = (size_t)(he - buf) + 4;
    if (hdr_len > lim.max_header_bytes) {
        *why = "headers too long";
        return NULL;
    }
    if (!header_bytes_ok(buf, hdr_len)) {
        *why = "control characters in headers";
        return NULL;
    }
    if (len - hdr_len > lim.max_body_bytes) {
        *why = "body too long";
        return NULL;
    }
    struct gw_sip_msg *s = calloc(1, sizeof *s);
    if (s == NULL) {
        *why = "out of memory";
        return NULL;
    }
    /* libosip2 sees the headers only, with Content-Length values blanked
     * to 0: the body is ours, as raw bytes, and never MIME-parsed. */
    /* the copy libosip2 parses lives in a buffer reused by every parse
     * (libosip2 makes its own copies of what it keeps) */
    parse_buf.len = 0;
    parse_buf.bad = false;
    w_mem(&parse_buf, buf, hdr_len);
    if (parse_buf.bad || osip_message_init(&s->m) != 0) {
        free(s);
        *why = "out of memory";
        return NULL;
    }
    char *hdr = parse_buf.p;
    blank_content_length(hdr, hdr_len);
    int prc = osip_message_parse(s->m, hdr, hdr_len);
    if (prc != 0) {
        gw_sip_msg_free(s);
        *why = "unparsable message";
        return NULL;
    }
    s->body_len = len - hdr_len;
    s->body = malloc(s->body_len + 1);
    if (s->body == NULL) {
        gw_sip_msg_free(s);
        *why = "out of memory";
        return NULL;
    }
    memcpy(s->body, buf + hdr_len, s->body_len);
    s->body[s->body_len] = '\0';

    /* URIs, the Call-ID, Record-Route values and the Event package are made
     * into strings when first asked for (most messages need few of them) */
    osip_message_t *m = s->m;
    if (m->from != NULL)
        s->from_tag = gen_param(&m->from->gen_params, "tag");
    if (m->to != NULL)
        s->to_tag = gen_param(&m->to->gen_params, "tag");
    if (m->cseq != NULL && m->cseq->number != NULL && m->cseq->method != NULL) {
        long n = parse_long(m->cseq->number);
        if (n >= 0 && n < 2147483648L) {
            s->cseq = (uint32_t)n;
            s->cseq_ok = true;
        }
        s->cseq_method = m->cseq->method;
    }
    osip_via_t *via = osip_list_get(&m->vias, 0);
    if (via != NULL)
        s->branch = gen_param(&via->via_params, "branch");
    if (m->content_type != NULL && m->content_type->type && m->content_type->subtype) {
        size_t n = strlen(m->content_type->type) + strlen(m->content_type->subtype) + 2;
        s->ctype = malloc(n);
        if (s->ctype != NULL) {
            snprintf(s->ctype, n, "%s/%s", m->content_type->type, m->content_type->subtype);
            for (char *q = s->ctype; *q; q++)
                *q = (char)tolower((unsigned char)*q);
        }
        s->charset = gen_param(&m->content_type->gen_params, "charset");
    }
    int nrr = osip_list_size(&m->record_routes);
    s->n_rr = nrr < 0 ? 0 : nrr > MAX_RR ? MAX_RR : (size_t)nrr;
    return s;
}

void gw_sip_msg_free(struct gw_sip_msg *s)
{
    if (s == NULL)
        return;
    if (s->m != NULL)
        osip_message_free(s->m);
    free(s->ruri);
    free(s->from_uri);
    free(s->to_uri);
    free(s->contact_uri);
    free(s->call_id);
    free(s->ctype);
    free(s->body);
    free(s->event);
    for (size_t i = 0; i < MAX_RR; i++)
        free(s->rr[i]);
    free(s);
}

int gw_sip_msg_check(const struct gw_sip_msg *s, const char **why)
{
    const char *dummy;
    if (why == NULL)
        why = &dummy;
    osip_message_t *m = s->m;
    bool req = MSG_IS_REQUEST(m);
    if (req && (m->sip_method == NULL || !uri_ok(m->req_uri))) {
        *why = "bad request line";
        return 400;
    }
    if (!req && (m->status_code < 100 || m->status_code > 699)) {
        *why = "bad status code";
        return 400;
    }
    if (m->sip_version == NULL || strcmp(m->sip_version, "SIP/2.0") != 0) {
        *why = "unsupported SIP version";
        return req ? 505 : 400;
    }
    if (osip_list_size(&m->vias) < 1) {
        *why = "missing Via";
        return 400;
    }
    if (m->from == NULL || !uri_ok(m->from->url) ||
        (req && (s->from_tag == NULL || s->from_tag[0] == '\0'))) {
        *why = "missing or bad From (tag required)";
        return 400;
    }
    if (m->to == NULL || !uri_ok(m->to->url)) {
        *why = "missing or bad To";
        return 400;
    }
    if (m->call_id == NULL || m->call_id->number == NULL || m->call_id->number[0] == '\0') {
        *why = "missing Call-ID";
        return 400;
    }
    if (!s->cseq_ok || s->cseq_method == NULL) {
        *why = "missing or bad CSeq";
        return 400;
    }
    if (req && strcmp(s->cseq_method, m->sip_method) != 0) {
        *why = "CSeq method does not match the request";
        return 400;
    }
    const char *mf = gw_sip_header(s, "Max-Forwards");
    if (mf != NULL && (parse_long(mf) < 0 || parse_long(mf) > 255)) {
        *why = "bad Max-Forwards";
        return 400;
    }
    if (req && gw_sip_max_forwards(s) == 0 && strcmp(m->sip_method, "OPTIONS") != 0) {
        *why = "Max-Forwards is 0";
        return 483;
    }
    const char *ex = gw_sip_header(s, "Expires");
    if (ex != NULL && parse_long(ex) < 0) {
        *why = "bad Expires";
        return 400;
    }
    return 0;
}

bool gw_sip_is_request(const struct gw_sip_msg *s)
{
    return MSG_IS_REQUEST(s->m);
}

const char *gw_sip_method(const struct gw_sip_msg *s)
{
    return MSG_IS_REQUEST(s->m) ? s->m->sip_method : NULL;
}

int gw_sip_status(const struct gw_sip_msg *s)
{
    return MSG_IS_REQUEST(s->m) ? 0 : s->m->status_code;
}

const char *gw_sip_reason(const struct gw_sip_msg *s)
{
    return s->m->reason_phrase;
}

/* The accessors below fill these caches of a const message on first use:
 * the message belongs to one thread (gw_sip.h). */
#define LAZY(s) ((struct gw_sip_msg *)(uintptr_t)(s))

const char *gw_sip_request_uri(const struct gw_sip_msg *s)
{
    if (s->ruri == NULL && MSG_IS_REQUEST(s->m))
        LAZY(s)->ruri = uri_dup(s->m->req_uri);
    return s->ruri;
}

const char *gw_sip_from_uri(const struct gw_sip_msg *s)
{
    if (s->from_uri == NULL && s->m->from != NULL)
        LAZY(s)->from_uri = uri_dup(s->m->from->url);
    return s->from_uri;
}

const char *gw_sip_from_tag(const struct gw_sip_msg *s)
{
    return s->from_tag;
}

const char *gw_sip_to_uri(const struct gw_sip_msg *s)
{
    if (s->to_uri == NULL && s->m->to != NULL)
        LAZY(s)->to_uri = uri_dup(s->m->to->url);
    return s->to_uri;
}

const char *gw_sip_to_tag(const struct gw_sip_msg *s)
{
    return s->to_tag;
}

const char *gw_sip_call_id(const struct gw_sip_msg *s)
{
    const osip_call_id_t *c = s->m->call_id;
    if (s->call_id == NULL && c != NULL && c->number != NULL) {
        size_t n = strlen(c->number), h = c->host ? strlen(c->host) : 0;
        char *v = malloc(n + h + 2);
        if (v != NULL) {
            memcpy(v, c->number, n);
            if (c->host) {
                v[n] = '@';
                memcpy(v + n + 1, c->host, h + 1);
            } else {
                v[n] = '\0';
            }
        }
        LAZY(s)->call_id = v;
    }
    return s->call_id;
}

uint32_t gw_sip_cseq(const struct gw_sip_msg *s)
{
    return s->cseq;
}

const char *gw_sip_cseq_method(const struct gw_sip_msg *s)
{
    return s->cseq_method;
}

const char *gw_sip_via_branch(const struct gw_sip_msg *s)
{
    return s->branch;
}

int gw_sip_max_forwards(const struct gw_sip_msg *s)
{
    long v = parse_long(gw_sip_header(s, "Max-Forwards"));
    return v > 255 ? -1 : (int)v;
}

long gw_sip_expires(const struct gw_sip_msg *s)
{
    return parse_long(gw_sip_header(s, "Expires"));
}

long gw_sip_min_expires(const struct gw_sip_msg *s)
{
    return parse_long(gw_sip_header(s, "Min-Expires"));
}

const char *gw_sip_event(const struct gw_sip_msg *s)
{
    const char *ev;
    if (s->event == NULL && (ev = gw_sip_header(s, "Event")) != NULL) {
        while (*ev == ' ' || *ev == '\t')
            ev++;
        LAZY(s)->event = strndup(ev, strcspn(ev, "; \t"));
    }
    return s->event;
}

const char *gw_sip_content_type(const struct gw_sip_msg *s)
{
    return s->ctype;
}

const char *gw_sip_content_charset(const struct gw_sip_msg *s)
{
    return s->charset;
}

const char *gw_sip_content_language(const struct gw_sip_msg *s)
{
    return gw_sip_header(s, "Content-Language");
}

const char *gw_sip_subject(const struct gw_sip_msg *s)
{
    return gw_sip_header(s, "Subject");
}

const char *gw_sip_contact_uri(const struct gw_sip_msg *s)
{
    const osip_contact_t *ct = osip_list_get(&s->m->contacts, 0);
    if (s->contact_uri == NULL && ct != NULL)
        LAZY(s)->contact_uri = uri_dup(ct->url);
    return s->contact_uri;
}

const char *gw_sip_body(const struct gw_sip_msg *s, size_t *len)
{
    if (len != NULL)
        *len = s->body_len;
    return s->body;
}

size_t gw_sip_record_route_count(const struct gw_sip_msg *s)
{
    return s->n_rr;
}

const char *gw_sip_record_route(const struct gw_sip_msg *s, size_t i)
{
    if (i >= s->n_rr)
        return NULL;
    if (s->rr[i] == NULL)
        LAZY(s)->rr[i] = nameaddr_dup(osip_list_get(&s->m->record_routes, (int)i));
    return s->rr[i];
}

bool gw_sip_accepts(const struct gw_sip_msg *s, const char *type, bool absent_means_yes)
{
    osip_accept_t *a;
    const char *slash = strchr(type, '/');
    size_t tl = slash ? (size_t)(slash - type) : strlen(type);
    const char *sub = slash ? slash + 1 : "";
    int n = 0;

    for (int pos = 0; (a = osip_list_get(&s->m->accepts, pos)) != NULL; pos++) {
        n++;
        if (a->type == NULL || a->subtype == NULL)
            continue;
        bool tmatch = strcmp(a->type, "*") == 0 ||
                      (strlen(a->type) == tl && strncasecmp(a->type, type, tl) == 0);
        bool smatch = strcmp(a->subtype, "*") == 0 || strcasecmp(a->subtype, sub) == 0;
        if (tmatch && smatch)
            return true;
    }
    return n == 0 && absent_means_yes;
}

int gw_sip_substate(const struct gw_sip_msg *s, struct gw_sip_substate *out)
{
    memset(out, 0, sizeof *out);
    out->expires = -1;
    out->retry_after = -1;
    const char *v = gw_sip_header(s, "Subscription-State");
    if (v == NULL)
        return -1;
    while (*v == ' ' || *v == '\t')
        v++;
    size_t n = strcspn(v, "; \t");
    if (n == 0)
        return -1;
    if (n == 6 && strncasecmp(v, "active", 6) == 0)
        out->state = GW_SUBSTATE_ACTIVE;
    else if (n == 7 && strncasecmp(v, "pending", 7) == 0)
        out->state = GW_SUBSTATE_PENDING;
    else if (n == 10 && strncasecmp(v, "terminated", 10) == 0)
        out->state = GW_SUBSTATE_TERMINATED;
    else
        out->state = GW_SUBSTATE_OTHER;
    const char *p = v + n;
    while (*p != '\0') {
        while (*p == ' ' || *p == '\t' || *p == ';')
            p++;
        if (*p == '\0')
            break;
        const char *ns = p;
        while (*p && *p != '=' && *p != ';' && *p != ' ' && *p != '\t')
            p++;
        size_t nl = (size_t)(p - ns);
        while (*p == ' ' || *p == '\t')
            p++;
        const char *vs = NULL;
        size_t vl = 0;
        if (*p == '=') {
            p++;
            while (*p == ' ' || *p == '\t')
                p++;
            vs = p;
            while (*p && *p != ';' && *p != ' ' && *p != '\t')
                p++;
            vl = (size_t)(p - vs);
        }
        char val[32] = "";
        if (vs != NULL && vl < sizeof val) {
            memcpy(val, vs, vl);
            val[vl] = '\0';
        }
        if (nl == 7 && strncasecmp(ns, "expires", 7) == 0) {
            out->expires = parse_long(val);
            if (vs == NULL || out->expires < 0) {
                out->state = GW_SUBSTATE_NONE;
                return -1;
            }
        } else if (nl == 11 && strncasecmp(ns, "retry-after", 11) == 0) {
            out->retry_after = parse_long(val);
        } else if (nl == 6 && strncasecmp(ns, "reason", 6) == 0 && vs != NULL) {
            size_t k;
            for (k = 0; k < vl && k + 1 < sizeof out->reason; k++)
                out->reason[k] = (char)tolower((unsigned char)vs[k]);
            out->reason[k] = '\0';
        }
    }
    return 0;
}

/* ---- Building ----------------------------------------------------------- */

/* A header value we write must not smuggle a line break or a NUL. */
static bool value_ok(const char *v)
{
    for (; *v; v++)
        if (*v == '\r' || *v == '\n')
            return false;
    return true;
}

/* ---- Serialising ---------------------------------------------------------
 * One pass over libosip2's objects into a buffer that lives as long as the
 * process (one thread, see gw_sip.h) and grows to the largest message
 * built; the caller gets one malloc'd copy. osip_message_to_str() formats
 * every header into its own allocation, concatenates them and pads
 * Content-Length; this writes the same syntax (RFC 3261 section 25.1; URI
 * escaping as libosip2 does it: every byte outside 0x21-0x7e and the
 * set of each part) without an allocation per header. */

static struct wbuf wb; /* reused by every build */

static void w_mem(struct wbuf *w, const char *s, size_t n)
{
    if (w->bad)
        return;
    if (w->len + n + 1 > w->cap) {
        size_t cap = w->cap ? w->cap : 2048;
        while (w->len + n + 1 > cap)
            cap *= 2;
        char *p = realloc(w->p, cap);
        if (p == NULL) {
            w->bad = true;
            return;
        }
        w->p = p;
        w->cap = cap;
    }
    memcpy(w->p + w->len, s, n);
    w->len += n;
    w->p[w->len] = '\0';
}

static void w_str(struct wbuf *w, const char *s)
{
    if (s == NULL) {
        w->bad = true;
        return;
    }
    w_mem(w, s, strlen(s));
}

static void w_ulong(struct wbuf *w, unsigned long v)
{
    char b[24];
    int n = snprintf(b, sizeof b, "%lu", v);
    w_mem(w, b, (size_t)n);
}

/* Bytes that libosip2's osip_uri_to_str() escapes in each URI part besides
 * controls, space and non-ASCII (measured against libosip2 5.3). */
static const char ESC_USER[] = "\"#%:<>@[\\]^`{|}";
static const char ESC_PASSWORD[] = "\"#%/:;<>?@[\\]^`{|}";
static const char ESC_PARAM[] = "\"#%,;<=>?@\\^`{|}";
static const char ESC_HEADER[] = "\"#%&,;<=>@\\^`{|}";

static void w_esc(struct wbuf *w, const char *s, const char *set)
{
    static const char hex[] = "0123456789ABCDEF";
    if (s == NULL) {
        w->bad = true;
        return;
    }
    const char *run = s;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c > 0x20 && c < 0x7f && strchr(set, c) == NULL)
            continue;
        w_mem(w, run, (size_t)(s - run));
        char e[3] = {'%', hex[c >> 4], hex[c & 15]};
        w_mem(w, e, 3);
        run = s + 1;
    }
    w_mem(w, run, (size_t)(s - run));
}

/* host with brackets when it is an IPv6 literal, then ":port" */
static void w_hostport(struct wbuf *w, const char *host, const char *port)
{
    bool v6 = strchr(host, ':') != NULL && host[0] != '[';
    if (v6)
        w_mem(w, "[", 1);
    w_str(w, host);
    if (v6)
        w_mem(w, "]", 1);
    if (port) {
        w_mem(w, ":", 1);
        w_str(w, port);
    }
}

static void w_uri(struct wbuf *w, const osip_uri_t *u)
{
    if (u == NULL || u->scheme == NULL) {
        w->bad = true;
        return;
    }
    w_str(w, u->scheme);
    w_mem(w, ":", 1);
    if (u->host == NULL) { /* tel:, or another scheme kept as text */
        w_str(w, u->string);
        return;
    }
    if (u->username) {
        w_esc(w, u->username, ESC_USER);
        if (u->password) {
            w_mem(w, ":", 1);
            w_esc(w, u->password, ESC_PASSWORD);
        }
        w_mem(w, "@", 1);
    }
    w_hostport(w, u->host, u->port);
    const osip_uri_param_t *p;
    for (int i = 0; (p = osip_list_get(&u->url_params, i)) != NULL; i++) {
        w_mem(w, ";", 1);
        w_esc(w, p->gname, ESC_PARAM);
        if (p->gvalue) {
            w_mem(w, "=", 1);
            w_esc(w, p->gvalue, ESC_PARAM);
        }
    }
    for (int i = 0; (p = osip_list_get(&u->url_headers, i)) != NULL; i++) {
        w_mem(w, i ? "&" : "?", 1);
        w_esc(w, p->gname, ESC_HEADER);
        w_mem(w, "=", 1);
        if (p->gvalue)
            w_esc(w, p->gvalue, ESC_HEADER);
    }
}

/* ;name[=value] as parsed (quoted values keep their quotes) */
static void w_gparams(struct wbuf *w, const osip_list_t *l)
{
    const osip_generic_param_t *p;
    for (int i = 0; (p = osip_list_get(l, i)) != NULL; i++) {
        w_mem(w, ";", 1);
        w_str(w, p->gname);
        if (p->gvalue) {
            w_mem(w, "=", 1);
            w_str(w, p->gvalue);
        }
    }
}

/* From, To, Contact, Route, Record-Route: [display-name SP] <uri> params */
static void w_nameaddr(struct wbuf *w, const char *name, const osip_from_t *f, const char *tag)
{
    w_str(w, name);
    if (f->url == NULL) { /* Contact: * */
        w_str(w, f->displayname);
    } else {
        if (f->displayname) {
            w_str(w, f->displayname);
            w_mem(w, " ", 1);
        }
        w_mem(w, "<", 1);
        w_uri(w, f->url);
        w_mem(w, ">", 1);
    }
    w_gparams(w, &f->gen_params);
    if (tag) {
        w_mem(w, ";tag=", 5);
        w_str(w, tag);
    }
    w_mem(w, "\r\n", 2);
}

static void w_via(struct wbuf *w, const osip_via_t *v)
{
    w_mem(w, "Via: SIP/", 9);
    w_str(w, v->version);
    w_mem(w, "/", 1);
    w_str(w, v->protocol);
    w_mem(w, " ", 1);
    if (v->host == NULL)
        w->bad = true;
    else
        w_hostport(w, v->host, v->port);
    w_gparams(w, &v->via_params);
    if (v->comment) {
        w_mem(w, " (", 2);
        w_str(w, v->comment);
        w_mem(w, ")", 1);
    }
    w_mem(w, "\r\n", 2);
}

/* Via, Record-Route (rr), Route (routes; either may be NULL), From, To
 * (with ;tag=to_tag added when not NULL), Call-ID and CSeq from the
 * libosip2 objects of m. */
static void w_common(struct wbuf *w, const osip_message_t *m, const osip_list_t *rr,
                     const osip_list_t *routes, const char *to_tag)
{
    const osip_via_t *v;
    for (int i = 0; (v = osip_list_get(&m->vias, i)) != NULL; i++)
        w_via(w, v);
    const osip_from_t *r;
    for (int i = 0; rr && (r = osip_list_get(rr, i)) != NULL; i++)
        w_nameaddr(w, "Record-Route: ", r, NULL);
    for (int i = 0; routes && (r = osip_list_get(routes, i)) != NULL; i++)
        w_nameaddr(w, "Route: ", r, NULL);
    if (m->from == NULL || m->to == NULL || m->call_id == NULL || m->cseq == NULL) {
        w->bad = true;
        return;
    }
    w_nameaddr(w, "From: ", m->from, NULL);
    w_nameaddr(w, "To: ", m->to, to_tag);
    w_mem(w, "Call-ID: ", 9);
    w_str(w, m->call_id->number);
    if (m->call_id->host) {
        w_mem(w, "@", 1);
        w_str(w, m->call_id->host);
    }
    w_mem(w, "\r\nCSeq: ", 8);
    w_str(w, m->cseq->number);
    w_mem(w, " ", 1);
    w_str(w, m->cseq->method);
    w_mem(w, "\r\n", 2);
}

/* name: value when value is not NULL (already checked with value_ok) */
static void w_header(struct wbuf *w, const char *name, const char *value)
{
    if (value == NULL)
        return;
    w_str(w, name);
    w_mem(w, ": ", 2);
    w_str(w, value);
    w_mem(w, "\r\n", 2);
}

static void w_long_header(struct wbuf *w, const char *name, long v)
{
    if (v < 0)
        return;
    w_str(w, name);
    w_mem(w, ": ", 2);
    w_ulong(w, (unsigned long)v);
    w_mem(w, "\r\n", 2);
}

/* Content-Length, the blank line and the body; returns a malloc'd copy of
 * the whole message, or NULL with *why. */
static char *w_finish(struct wbuf *w, const char *body, size_t body_len, size_t *len,
                      const char **why)
{
    w_mem(w, "Content-Length: ", 16);
    w_ulong(w, (unsigned long)body_len);
    w_mem(w, "\r\n\r\n", 4);
    if (body_len > 0)
        w_mem(w, body, body_len);
    if (w->bad) {
        *why = "serialisation";
        return NULL;
    }
    char *out = malloc(w->len + 1);
    if (out == NULL) {
        *why = "out of memory";
        return NULL;
    }
    memcpy(out, w->p, w->len + 1);
    if (len != NULL)
        *len = w->len;
    return out;
}

/* What osip_uri_to_str() would refuse: no scheme, neither host nor text. */
static bool uri_ok(const osip_uri_t *u)
{
    return u != NULL && u->scheme != NULL && (u->host != NULL || u->string != NULL);
}

static struct wbuf sb; /* for the accessors' strings, apart from wb */

static char *sb_dup(void)
{
    return sb.bad ? NULL : strndup(sb.p, sb.len);
}

static char *uri_dup(const osip_uri_t *u)
{
    if (!uri_ok(u))
        return NULL;
    sb.len = 0;
    sb.bad = false;
    w_uri(&sb, u);
    return sb_dup();
}

/* "<sip:p.example;lr>" of a Record-Route */
static char *nameaddr_dup(const osip_from_t *f)
{
    if (f == NULL)
        return NULL;
    sb.len = 0;
    sb.bad = false;
    w_nameaddr(&sb, "", f, NULL);
    if (sb.len >= 2)
        sb.len -= 2; /* the CRLF */
    return sb_dup();
}

static struct wbuf *w_start(void)
{
    wb.len = 0;
    wb.bad = false;
    return &wb;
}

/* Whether v is not empty and holds only letters, digits and characters of
 * extra. */
static bool chars_ok(const char *v, const char *extra)
{
    if (*v == '\0')
        return false;
    for (; *v; v++)
        if (!isalnum((unsigned char)*v) && strchr(extra, *v) == NULL)
            return false;
    return true;
}

/* RFC 3261 section 25.1 token characters (tags, branches, transports). */
static bool token_ok(const char *v)
{
    return chars_ok(v, "-.!%*_+`'~");
}

/* Call-ID: word ["@" word] (section 25.1). */
static bool callid_ok(const char *v)
{
    if (*v == '\0' || *v == '@')
        return false;
    bool at = false;
    for (; *v; v++) {
        if (*v == '@' && !at && v[1] != '\0') {
            at = true;
            continue;
        }
        if (!isalnum((unsigned char)*v) && strchr("-.!%*_+`'~()<>:\\\"/[]?{}", *v) == NULL)
            return false;
    }
    return true;
}

/* A Via host: a domain name, an IPv4 literal or a bracketed or bare IPv6
 * literal (written with brackets). */
static bool host_ok(const char *v)
{
    return chars_ok(v, "-.:[]");
}

/* A URI parsed by libosip2 (it refuses what is not one), or NULL. */
static osip_uri_t *uri_new(const char *s)
{
    osip_uri_t *u = NULL;
    if (!value_ok(s) || osip_uri_init(&u) != 0)
        return NULL;
    if (osip_uri_parse(u, s) != 0) {
        osip_uri_free(u);
        return NULL;
    }
    return u;
}

/* A From or To header: <uri>;tag=tag, display name quoted. The URI is
 * parsed from uri, or is shared (borrowed: the caller detaches it before
 * freeing the header). */
static osip_from_t *nameaddr_new(const char *uri, osip_uri_t *shared, const char *display,
                                 const char *tag)
{
    osip_from_t *f = NULL;
    if (osip_from_init(&f) != 0)
        return NULL;
    f->url = shared ? shared : uri_new(uri);
    if (f->url == NULL)
        goto bad;
    if (display) {
        size_t n = strlen(display) + 3;
        f->displayname = osip_malloc(n);
        if (f->displayname == NULL)
            goto bad;
        snprintf(f->displayname, n, "\"%s\"", display);
    }
    if (tag && osip_from_set_tag(f, osip_strdup(tag)) != 0)
        goto bad;
    return f;
bad:
    if (shared)
        f->url = NULL;
    osip_from_free(f);
    return NULL;
}

/*
 * Requests: the parts with structure (Request-URI, Via, From, To, Call-ID,
 * CSeq, Contact, Route) become libosip2 objects by setting their fields --
 * only the URIs (and Route values, in-dialog requests only) go through
 * libosip2's parser, which is what checks them -- and the simple headers
 * are written as they are after value_ok(); the whole message is then
 * serialised once.
 */
char *gw_sip_request_build(const struct gw_sip_request *r, size_t *len, const char **why)
{
    const char *dummy;
    osip_message_t *m = NULL;
    char *out = NULL;

    if (why == NULL)
        why = &dummy;
    osip_once();
    if (r->method == NULL || r->request_uri == NULL || r->from_uri == NULL || r->from_tag == NULL ||
        r->to_uri == NULL || r->call_id == NULL || r->via_host == NULL || r->branch == NULL ||
        (r->body_len > 0 && r->content_type == NULL)) {
        *why = "missing required field";
        return NULL;
    }
    if (r->cseq >= 2147483648U || strncmp(r->branch, "z9hG4bK", 7) != 0 || !token_ok(r->branch)) {
        *why = "bad CSeq or branch";
        return NULL;
    }
    if (!token_ok(r->method)) {
        *why = "method";
        return NULL;
    }
    if (osip_message_init(&m) != 0) {
        *why = "out of memory";
        return NULL;
    }

#define TRY(cond, what)    \
    do {                   \
        if (!(cond)) {     \
            *why = (what); \
            goto out;      \
        }                  \
    } while (0)

    m->req_uri = uri_new(r->request_uri);
    TRY(m->req_uri != NULL, "bad Request-URI");
    const char *transport = r->via_transport ? r->via_transport : "TCP";
    TRY(token_ok(transport) && host_ok(r->via_host), "Via");
    osip_via_t *via = NULL;
    TRY(osip_via_init(&via) == 0, "Via");
    osip_list_add(&m->vias, via, -1);
    via->version = osip_strdup("2.0");
    via->protocol = osip_strdup(transport);
    via->host = osip_strdup(r->via_host);
    if (r->via_port) {
        char p[12];
        snprintf(p, sizeof p, "%u", r->via_port);
        via->port = osip_strdup(p);
    }
    TRY(osip_via_set_branch(via, osip_strdup(r->branch)) == 0 &&
            osip_via_param_add(via, osip_strdup("rport"), NULL) == 0,
        "Via");
    for (size_t i = 0; i < r->n_routes; i++) {
        TRY(value_ok(r->routes[i]), "Route");
        TRY(osip_message_set_route(m, r->routes[i]) == 0, "Route");
    }
    TRY(r->from_display == NULL ||
            (value_ok(r->from_display) && strpbrk(r->from_display, "\"\\") == NULL),
        "From display name");
    TRY(token_ok(r->from_tag), "From");
    m->from = nameaddr_new(r->from_uri, NULL, r->from_display, r->from_tag);
    TRY(m->from != NULL, "From");
    TRY(r->to_tag == NULL || token_ok(r->to_tag), "To");
    /* a MESSAGE's To is usually its Request-URI: parsed once */
    bool to_is_ruri = strcmp(r->to_uri, r->request_uri) == 0;
    m->to = nameaddr_new(r->to_uri, to_is_ruri ? m->req_uri : NULL, NULL, r->to_tag);
    TRY(m->to != NULL, "To");
    TRY(callid_ok(r->call_id) && osip_call_id_init(&m->call_id) == 0, "Call-ID");
    m->call_id->number = osip_strdup(r->call_id);
    char n[12];
    snprintf(n, sizeof n, "%u", (unsigned)r->cseq);
    TRY(osip_cseq_init(&m->cseq) == 0, "CSeq");
    m->cseq->number = osip_strdup(n);
    m->cseq->method = osip_strdup(r->method);
    if (r->contact) {
        osip_contact_t *c = NULL;
        TRY(osip_contact_init(&c) == 0, "Contact");
        osip_list_add(&m->contacts, c, -1);
        c->url = uri_new(r->contact);
        TRY(c->url != NULL, "Contact");
    }
    TRY(r->event == NULL || value_ok(r->event), "Event");
    TRY(r->subscription_state == NULL || value_ok(r->subscription_state), "Subscription-State");
    TRY(r->accept == NULL || value_ok(r->accept), "Accept");
    TRY(r->allow_events == NULL || value_ok(r->allow_events), "Allow-Events");
    TRY(r->subject == NULL || value_ok(r->subject), "Subject");
    TRY(r->content_language == NULL || value_ok(r->content_language), "Content-Language");
    TRY(r->content_type == NULL || value_ok(r->content_type), "Content-Type");

    struct wbuf *w = w_start();
    w_str(w, r->method);
    w_mem(w, " ", 1);
    w_uri(w, m->req_uri);
    w_mem(w, " SIP/2.0\r\n", 10);
    w_common(w, m, NULL, &m->routes, NULL);
    const osip_contact_t *c = osip_list_get(&m->contacts, 0);
    if (c)
        w_nameaddr(w, "Contact: ", c, NULL);
    w_long_header(w, "Max-Forwards",
                  r->max_forwards < 0 || r->max_forwards > 255 ? 70 : r->max_forwards);
    w_header(w, "Event", r->event);
    w_long_header(w, "Expires", r->expires);
    w_header(w, "Subscription-State", r->subscription_state);
    w_header(w, "Accept", r->accept);
    w_header(w, "Allow-Events", r->allow_events);
    w_header(w, "Subject", r->subject);
    w_header(w, "Content-Language", r->content_language);
    w_header(w, "Content-Type", r->content_type);
    out = w_finish(w, r->body, r->body_len, len, why);
out:
    if (m->to && m->to->url == m->req_uri)
        m->to->url = NULL; /* shared, freed with the Request-URI */
    osip_message_free(m);
    return out;
#undef TRY
}

/* Responses are written straight from the request's parsed objects (RFC
 * 3261 section 8.2.6.2: Via, From, To, Call-ID and CSeq copied), without
 * cloning them into a new message. */
char *gw_sip_response_build(const struct gw_sip_msg *reqmsg, const struct gw_sip_response *r,
                            size_t *len, const char **why)
{
    const char *dummy;
    const osip_message_t *req = reqmsg->m;

    if (why == NULL)
        why = &dummy;
    osip_once();
    if (!MSG_IS_REQUEST(req) || r->code < 100 || r->code > 699) {
        *why = "not a request or bad code";
        return NULL;
    }
    if (req->from == NULL || req->to == NULL || req->call_id == NULL || req->cseq == NULL ||
        osip_list_size(&req->vias) < 1) {
        *why = "request lacks Via, From, To, Call-ID or CSeq";
        return NULL;
    }
    const char *reason = r->reason ? r->reason : gw_err_sip_reason(r->code);
    if (!value_ok(reason)) {
        *why = "reason";
        return NULL;
    }
    const char *to_tag = NULL;
    if (r->code > 100 && r->to_tag != NULL && reqmsg->to_tag == NULL) {
        if (!value_ok(r->to_tag) || strpbrk(r->to_tag, ";,<> \t\"") != NULL ||
            r->to_tag[0] == '\0') {
            *why = "To tag";
            return NULL;
        }
        to_tag = r->to_tag;
    }
    osip_uri_t *contact = NULL;
    if (r->contact && (contact = uri_new(r->contact)) == NULL) {
        *why = "Contact";
        return NULL;
    }
    const char *hv[] = {r->allow, r->allow_events, r->accept, r->warning};
    for (size_t i = 0; i < sizeof hv / sizeof hv[0]; i++) {
        if (hv[i] && !value_ok(hv[i])) {
            osip_uri_free(contact);
            *why = "header value";
            return NULL;
        }
    }
    bool dialog = req->sip_method != NULL && (strcmp(req->sip_method, "SUBSCRIBE") == 0 ||
                                              strcmp(req->sip_method, "NOTIFY") == 0);

    struct wbuf *w = w_start();
    w_mem(w, "SIP/2.0 ", 8);
    w_ulong(w, (unsigned long)r->code);
    w_mem(w, " ", 1);
    w_str(w, reason);
    w_mem(w, "\r\n", 2);
    /* the request's Route headers are not the response's: only Via,
     * (Record-Route for dialogs, section 12.1.1), From, To, Call-ID, CSeq */
    w_common(w, req, dialog ? &req->record_routes : NULL, NULL, to_tag);
    if (contact) {
        w_mem(w, "Contact: <", 10);
        w_uri(w, contact);
        w_mem(w, ">\r\n", 3);
        osip_uri_free(contact);
    }
    w_long_header(w, "Expires", r->expires);
    w_long_header(w, "Min-Expires", r->min_expires);
    w_long_header(w, "Retry-After", r->retry_after);
    w_header(w, "Allow", r->allow);
    w_header(w, "Allow-Events", r->allow_events);
    w_header(w, "Accept", r->accept);
    w_header(w, "Warning", r->warning);
    return w_finish(w, NULL, 0, len, why);
}

/* ---- 400 for unparsable input ---------------------------------------------- */

char *gw_sip_bad_request(const char *buf, size_t len, int code, const char *reason, size_t *outlen)
{
    static const char *const names[][2] = {
        {"Via", "v"}, {"From", "f"}, {"To", "t"}, {"Call-ID", "i"}, {"CSeq", NULL},
    };
    bool seen[5] = {false};
    char out[8192];
    size_t o = 0;
    const char *he = find_crlfcrlf(buf, len);
    const char *end = he ? he + 2 : buf + len;

    if (code < 400 || code > 699)
        code = 400;
    if (reason == NULL || !value_ok(reason) || strlen(reason) > 100)
        reason = gw_err_sip_reason(code);
    /* a request line: METHOD SP ... SP SIP/2.0 */
    const char *le = memchr(buf, '\r', (size_t)(end - buf));
    if (le == NULL || le - buf < 12 || memcmp(le - 8, " SIP/2.0", 8) != 0 ||
        !isupper((unsigned char)buf[0]))
        return NULL;
    int n = snprintf(out, sizeof out, "SIP/2.0 %d %s\r\n", code, reason);
    o = (size_t)n;
    for (const char *ls = le + 2; ls < end;) {
        const char *lend = memchr(ls, '\r', (size_t)(end - ls));
        if (lend == NULL)
            lend = end;
        const char *val;
        for (size_t k = 0; k < 5; k++) {
            if (!line_is_header(ls, lend, names[k][0], names[k][1], &val))
                continue;
            size_t ll = (size_t)(lend - ls);
            if (ll > 1024 || !header_bytes_ok(ls, ll) || memchr(ls, '\n', ll) != NULL)
                return NULL;
            if (k > 0 && seen[k]) /* one From/To/Call-ID/CSeq only */
                return NULL;
            if (o + ll + 2 >= sizeof out)
                return NULL;
            memcpy(out + o, ls, ll);
            o += ll;
            if (k == 2 && memmem(ls, ll, ";tag=", 5) == NULL && ll < 1000) {
                memcpy(out + o, ";tag=gw400", 10);
                o += 10;
            }
            memcpy(out + o, "\r\n", 2);
            o += 2;
            seen[k] = true;
        }
        ls = lend + 2;
    }
    for (size_t k = 0; k < 5; k++)
        if (!seen[k])
            return NULL;
    const char *tail = "Content-Length: 0\r\n\r\n";
    if (o + strlen(tail) + 1 > sizeof out)
        return NULL;
    memcpy(out + o, tail, strlen(tail) + 1);
    o += strlen(tail);
    char *r = malloc(o + 1);
    if (r == NULL)
        return NULL;
    memcpy(r, out, o + 1);
    if (outlen != NULL)
        *outlen = o;
    return r;
}

/* Random bytes for tokens, from getrandom() RANDOM_POOL bytes at a time:
 * one system call per about 20 messages instead of three per message. */
#define RANDOM_POOL 512
static unsigned char pool[RANDOM_POOL];
static size_t pool_left;

static int random_byte(unsigned char *out)
{
    while (pool_left == 0) {
        ssize_t got = getrandom(pool, sizeof pool, 0);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return -1;
        pool_left = (size_t)got;
    }
    size_t at = sizeof pool - pool_left--;
    *out = pool[at];
    pool[at] = 0; /* used once */
    return 0;
}

int gw_sip_random_token(char *buf, size_t n)
{
    static const char al[] = "abcdefghijklmnopqrstuvwxyz0123456789";

    if (n == 0)
        return -1;
    for (size_t i = 0; i + 1 < n; i++) {
        unsigned char b;
        /* 252 = 7 * 36: rejecting the rest keeps every character equally likely */
        do {
            if (random_byte(&b) != 0) {
                buf[0] = '\0';
                return -1;
            }
        } while (b >= 252);
        buf[i] = al[b % 36];
    }
    buf[n - 1] = '\0';
    return 0;
}
