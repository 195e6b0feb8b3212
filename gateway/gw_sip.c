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

static const char *find_crlfcrlf(const char *p, size_t n)
{
    for (size_t i = 0; i + 3 < n; i++)
        if (p[i] == '\r' && p[i + 1] == '\n' && p[i + 2] == '\r' && p[i + 3] == '\n')
            return p + i;
    return NULL;
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
    for (size_t i = 0; i < sizeof(compact_names) / sizeof(compact_names[0]); i++) {
        if (strcasecmp(name, compact_names[i][0]) == 0)
            alt = compact_names[i][1];
        else if (strcasecmp(name, compact_names[i][1]) == 0)
            alt = compact_names[i][0];
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

static char *dup_uri(const osip_uri_t *u)
{
    char *s = NULL, *r;
    if (u == NULL || osip_uri_to_str(u, &s) != 0 || s == NULL)
        return NULL;
    r = strdup(s);
    osip_free(s);
    return r;
}

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
    char *hdr = malloc(hdr_len + 1);
    if (hdr == NULL || osip_message_init(&s->m) != 0) {
        free(hdr);
        free(s);
        *why = "out of memory";
        return NULL;
    }
    memcpy(hdr, buf, hdr_len);
    hdr[hdr_len] = '\0';
    blank_content_length(hdr, hdr_len);
    int prc = osip_message_parse(s->m, hdr, hdr_len);
    free(hdr);
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

    osip_message_t *m = s->m;
    if (MSG_IS_REQUEST(m)) {
        s->ruri = dup_uri(m->req_uri);
    }
    if (m->from != NULL) {
        s->from_uri = dup_uri(m->from->url);
        s->from_tag = gen_param(&m->from->gen_params, "tag");
    }
    if (m->to != NULL) {
        s->to_uri = dup_uri(m->to->url);
        s->to_tag = gen_param(&m->to->gen_params, "tag");
    }
    if (m->call_id != NULL) {
        char *c = NULL;
        if (osip_call_id_to_str(m->call_id, &c) == 0 && c != NULL) {
            s->call_id = strdup(c);
            osip_free(c);
        }
    }
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
    osip_contact_t *ct = osip_list_get(&m->contacts, 0);
    if (ct != NULL)
        s->contact_uri = dup_uri(ct->url);
    osip_record_route_t *rr;
    for (int pos = 0; (rr = osip_list_get(&m->record_routes, pos)) != NULL && s->n_rr < MAX_RR;
         pos++) {
        char *v = NULL;
        if (osip_record_route_to_str(rr, &v) == 0 && v != NULL) {
            s->rr[s->n_rr] = strdup(v);
            if (s->rr[s->n_rr] != NULL)
                s->n_rr++;
            osip_free(v);
        }
    }
    const char *ev = gw_sip_header(s, "Event");
    if (ev != NULL) {
        while (*ev == ' ' || *ev == '\t')
            ev++;
        size_t n = strcspn(ev, "; \t");
        s->event = strndup(ev, n);
    }
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
    for (size_t i = 0; i < s->n_rr; i++)
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
    if (req && (m->sip_method == NULL || s->ruri == NULL)) {
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
    if (s->from_uri == NULL || (req && (s->from_tag == NULL || s->from_tag[0] == '\0'))) {
        *why = "missing or bad From (tag required)";
        return 400;
    }
    if (s->to_uri == NULL) {
        *why = "missing or bad To";
        return 400;
    }
    if (s->call_id == NULL || s->call_id[0] == '\0') {
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

const char *gw_sip_request_uri(const struct gw_sip_msg *s)
{
    return s->ruri;
}

const char *gw_sip_from_uri(const struct gw_sip_msg *s)
{
    return s->from_uri;
}

const char *gw_sip_from_tag(const struct gw_sip_msg *s)
{
    return s->from_tag;
}

const char *gw_sip_to_uri(const struct gw_sip_msg *s)
{
    return s->to_uri;
}

const char *gw_sip_to_tag(const struct gw_sip_msg *s)
{
    return s->to_tag;
}

const char *gw_sip_call_id(const struct gw_sip_msg *s)
{
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
    return i < s->n_rr ? s->rr[i] : NULL;
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

static int set_hdr(osip_message_t *m, const char *name, const char *value)
{
    if (value == NULL)
        return 0;
    if (!value_ok(value))
        return -1;
    return osip_message_set_header(m, name, value) == 0 ? 0 : -1;
}

static int set_long_hdr(osip_message_t *m, const char *name, long v)
{
    char b[24];
    if (v < 0)
        return 0;
    snprintf(b, sizeof b, "%ld", v);
    return set_hdr(m, name, b);
}

static char *finish(osip_message_t *m, const char *body, size_t body_len, size_t *len,
                    const char **why)
{
    char cl[24];
    snprintf(cl, sizeof cl, "%zu", body_len);
    if (osip_message_set_content_length(m, cl) != 0) {
        *why = "Content-Length";
        return NULL;
    }
    if (body_len > 0 && osip_message_set_body(m, body, body_len) != 0) {
        *why = "body";
        return NULL;
    }
    char *dest = NULL;
    size_t dl = 0;
    if (osip_message_to_str(m, &dest, &dl) != 0 || dest == NULL) {
        *why = "serialisation";
        return NULL;
    }
    char *out = malloc(dl + 1);
    if (out != NULL) {
        memcpy(out, dest, dl);
        out[dl] = '\0';
        if (len != NULL)
            *len = dl;
    } else {
        *why = "out of memory";
    }
    osip_free(dest);
    return out;
}

char *gw_sip_request_build(const struct gw_sip_request *r, size_t *len, const char **why)
{
    const char *dummy;
    char b[2048];
    osip_message_t *m = NULL;
    osip_uri_t *u = NULL;
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
    if (r->cseq >= 2147483648U || strncmp(r->branch, "z9hG4bK", 7) != 0) {
        *why = "bad CSeq or branch";
        return NULL;
    }
    if (osip_message_init(&m) != 0) {
        *why = "out of memory";
        return NULL;
    }
    osip_message_set_version(m, osip_strdup("SIP/2.0"));
    osip_message_set_method(m, osip_strdup(r->method));
    if (osip_uri_init(&u) != 0 || osip_uri_parse(u, r->request_uri) != 0) {
        osip_uri_free(u);
        *why = "bad Request-URI";
        goto out;
    }
    osip_message_set_uri(m, u);

#define TRY(expr, what)    \
    do {                   \
        if ((expr) != 0) { \
            *why = (what); \
            goto out;      \
        }                  \
    } while (0)
#define FMT(...) (snprintf(b, sizeof b, __VA_ARGS__) >= (int)sizeof b || !value_ok(b) ? -1 : 0)

    if (r->via_port)
        TRY(FMT("SIP/2.0/%s %s:%u;branch=%s;rport", r->via_transport ? r->via_transport : "TCP",
                r->via_host, r->via_port, r->branch),
            "Via");
    else
        TRY(FMT("SIP/2.0/%s %s;branch=%s;rport", r->via_transport ? r->via_transport : "TCP",
                r->via_host, r->branch),
            "Via");
    TRY(osip_message_set_via(m, b), "Via");
    for (size_t i = 0; i < r->n_routes; i++) {
        TRY(value_ok(r->routes[i]) ? 0 : -1, "Route");
        TRY(osip_message_set_route(m, r->routes[i]), "Route");
    }
    TRY(FMT("%s%s%s<%s>;tag=%s", r->from_display ? "\"" : "",
            r->from_display ? r->from_display : "", r->from_display ? "\" " : "", r->from_uri,
            r->from_tag),
        "From");
    if (r->from_display && strpbrk(r->from_display, "\"\\") != NULL) {
        *why = "From display name";
        goto out;
    }
    TRY(osip_message_set_from(m, b), "From");
    if (r->to_tag)
        TRY(FMT("<%s>;tag=%s", r->to_uri, r->to_tag), "To");
    else
        TRY(FMT("<%s>", r->to_uri), "To");
    TRY(osip_message_set_to(m, b), "To");
    TRY(value_ok(r->call_id) ? 0 : -1, "Call-ID");
    TRY(osip_message_set_call_id(m, r->call_id), "Call-ID");
    TRY(FMT("%u %s", (unsigned)r->cseq, r->method), "CSeq");
    TRY(osip_message_set_cseq(m, b), "CSeq");
    if (r->contact) {
        TRY(FMT("<%s>", r->contact), "Contact");
        TRY(osip_message_set_contact(m, b), "Contact");
    }
    TRY(FMT("%d", r->max_forwards < 0 || r->max_forwards > 255 ? 70 : r->max_forwards),
        "Max-Forwards");
    TRY(set_hdr(m, "Max-Forwards", b), "Max-Forwards");
    TRY(set_hdr(m, "Event", r->event), "Event");
    TRY(set_long_hdr(m, "Expires", r->expires), "Expires");
    TRY(set_hdr(m, "Subscription-State", r->subscription_state), "Subscription-State");
    if (r->accept) {
        TRY(value_ok(r->accept) ? 0 : -1, "Accept");
        TRY(osip_message_set_accept(m, r->accept), "Accept");
    }
    TRY(set_hdr(m, "Allow-Events", r->allow_events), "Allow-Events");
    TRY(set_hdr(m, "Subject", r->subject), "Subject");
    TRY(set_hdr(m, "Content-Language", r->content_language), "Content-Language");
    if (r->content_type) {
        TRY(value_ok(r->content_type) ? 0 : -1, "Content-Type");
        TRY(osip_message_set_content_type(m, r->content_type), "Content-Type");
    }
    out = finish(m, r->body, r->body_len, len, why);
out:
    osip_message_free(m);
    return out;
#undef FMT
#undef TRY
}

char *gw_sip_response_build(const struct gw_sip_msg *reqmsg, const struct gw_sip_response *r,
                            size_t *len, const char **why)
{
    const char *dummy;
    osip_message_t *m = NULL;
    const osip_message_t *req = reqmsg->m;
    char *out = NULL;

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
    if (osip_message_init(&m) != 0) {
        *why = "out of memory";
        return NULL;
    }
    osip_message_set_version(m, osip_strdup("SIP/2.0"));
    osip_message_set_status_code(m, r->code);
    const char *reason = r->reason ? r->reason : gw_err_sip_reason(r->code);
    if (!value_ok(reason)) {
        *why = "reason";
        goto out;
    }
    osip_message_set_reason_phrase(m, osip_strdup(reason));
    osip_via_t *via;
    for (int pos = 0; (via = osip_list_get(&req->vias, pos)) != NULL; pos++) {
        osip_via_t *c = NULL;
        if (osip_via_clone(via, &c) != 0) {
            *why = "Via";
            goto out;
        }
        osip_list_add(&m->vias, c, -1);
    }
    if (osip_from_clone(req->from, &m->from) != 0 || osip_to_clone(req->to, &m->to) != 0 ||
        osip_call_id_clone(req->call_id, &m->call_id) != 0 ||
        osip_cseq_clone(req->cseq, &m->cseq) != 0) {
        *why = "copying headers";
        goto out;
    }
    if (r->code > 100 && r->to_tag != NULL && reqmsg->to_tag == NULL) {
        if (!value_ok(r->to_tag) || strpbrk(r->to_tag, ";,<> \t\"") != NULL) {
            *why = "To tag";
            goto out;
        }
        osip_to_set_tag(m->to, osip_strdup(r->to_tag));
    }
    if (req->sip_method != NULL &&
        (strcmp(req->sip_method, "SUBSCRIBE") == 0 || strcmp(req->sip_method, "NOTIFY") == 0)) {
        osip_record_route_t *rr;
        for (int pos = 0; (rr = osip_list_get(&req->record_routes, pos)) != NULL; pos++) {
            osip_record_route_t *c = NULL;
            if (osip_record_route_clone(rr, &c) != 0) {
                *why = "Record-Route";
                goto out;
            }
            osip_list_add(&m->record_routes, c, -1);
        }
    }
    if (r->contact) {
        char b[2048];
        if (snprintf(b, sizeof b, "<%s>", r->contact) >= (int)sizeof b || !value_ok(b) ||
            osip_message_set_contact(m, b) != 0) {
            *why = "Contact";
            goto out;
        }
    }
    if (set_long_hdr(m, "Expires", r->expires) != 0 ||
        set_long_hdr(m, "Min-Expires", r->min_expires) != 0 ||
        set_long_hdr(m, "Retry-After", r->retry_after) != 0 || set_hdr(m, "Allow", r->allow) != 0 ||
        set_hdr(m, "Allow-Events", r->allow_events) != 0 || set_hdr(m, "Accept", r->accept) != 0 ||
        set_hdr(m, "Warning", r->warning) != 0) {
        *why = "header value";
        goto out;
    }
    out = finish(m, NULL, 0, len, why);
out:
    osip_message_free(m);
    return out;
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
