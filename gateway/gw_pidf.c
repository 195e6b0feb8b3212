/*
 * gw_pidf.c - PIDF/RPID parse and build, presence mapping (see gw_pidf.h).
 */
#include "gw_pidf.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <expat.h>

#define NS_PIDF   "urn:ietf:params:xml:ns:pidf"
#define NS_DM     "urn:ietf:params:xml:ns:pidf:data-model"
#define NS_RPID   "urn:ietf:params:xml:ns:pidf:rpid"
#define NS_CLIENT "jabber:client"
#define NS_XML    "http://www.w3.org/XML/1998/namespace"
#define SEP       '\x01'

static const char *const show_names[] = {"", "chat", "away", "xa", "dnd"};

const char *gw_show_name(enum gw_show s)
{
    return (unsigned)s < 5 ? show_names[s] : "";
}

int gw_show_parse(const char *s, enum gw_show *out)
{
    for (int i = 1; i < 5; i++) {
        if (strcmp(s, show_names[i]) == 0) {
            *out = (enum gw_show)i;
            return 0;
        }
    }
    return -1;
}

static const char *const rpid_names[GW_RPID_COUNT] = {
    "appointment",
    "away",
    "breakfast",
    "busy",
    "dinner",
    "holiday",
    "in-transit",
    "looking-for-work",
    "lunch",
    "meal",
    "meeting",
    "on-the-phone",
    "other",
    "performance",
    "permanent-absence",
    "playing",
    "presentation",
    "shopping",
    "sleeping",
    "spectator",
    "steering",
    "travel",
    "tv",
    "unknown",
    "vacation",
    "working",
    "worship",
};

/* ---- parser ------------------------------------------------------------- */

enum capture {
    CAP_NONE = 0,
    CAP_BASIC,
    CAP_SHOW,
    CAP_CONTACT,
    CAP_TUPLE_NOTE,
    CAP_PERSON_NOTE,
    CAP_DOC_NOTE
};

struct pctx {
    XML_Parser p;
    struct gw_pidf *doc;
    struct gw_pidf_limits lim;
    const char *why;
    unsigned depth, elements;
    unsigned skip_depth; /* > 0: inside a skipped mustUnderstand subtree */
    bool root_seen;
    /* where we are */
    struct gw_pidf_tuple *tuple; /* inside a tuple */
    unsigned tuple_depth;
    bool in_status;
    unsigned status_depth;
    struct gw_pidf_person *person;
    unsigned person_depth;
    bool in_activities;
    unsigned activities_depth;
    enum capture cap;
    unsigned cap_depth;
    char *text;
    size_t text_len;
    char lang[64];
};

static void fail(struct pctx *c, const char *why)
{
    if (c->why == NULL)
        c->why = why;
    XML_StopParser(c->p, XML_FALSE);
}

/* Splits an expat "uri\x01local" name. */
static void split_name(const char *name, const char **ns, size_t *nslen, const char **local)
{
    const char *s = strchr(name, SEP);
    if (s == NULL) {
        *ns = "";
        *nslen = 0;
        *local = name;
    } else {
        *ns = name;
        *nslen = (size_t)(s - name);
        *local = s + 1;
    }
}

static bool ns_is(const char *ns, size_t nslen, const char *want)
{
    return nslen == strlen(want) && memcmp(ns, want, nslen) == 0;
}

static const char *attr(const char **atts, const char *name)
{
    for (size_t i = 0; atts[i] != NULL; i += 2)
        if (strcmp(atts[i], name) == 0)
            return atts[i + 1];
    return NULL;
}

static void copy_str(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n >= cap) {
        n = cap - 1;
        while (n > 0 && ((unsigned char)src[n] & 0xc0) == 0x80)
            n--; /* do not cut a UTF-8 sequence */
    }
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static void start_capture(struct pctx *c, enum capture cap, const char **atts)
{
    c->cap = cap;
    c->cap_depth = c->depth;
    c->text_len = 0;
    const char *lang = attr(atts, NS_XML "\x01lang");
    copy_str(c->lang, sizeof c->lang, lang ? lang : "");
}

static void XMLCALL on_start(void *arg, const char *name, const char **atts)
{
    struct pctx *c = arg;
    const char *ns, *local;
    size_t nslen;

    c->depth++;
    if (++c->elements > c->lim.max_elements) {
        fail(c, "too many elements");
        return;
    }
    if (c->depth > c->lim.max_depth) {
        fail(c, "too deep");
        return;
    }
    if (c->skip_depth > 0)
        return;
    split_name(name, &ns, &nslen, &local);
    if (c->depth == 1) {
        if (!ns_is(ns, nslen, NS_PIDF) || strcmp(local, "presence") != 0) {
            fail(c, "not a PIDF document");
            return;
        }
        const char *e = attr(atts, "entity");
        if (e == NULL || e[0] == '\0') {
            fail(c, "no entity");
            return;
        }
        copy_str(c->doc->entity, sizeof c->doc->entity, e);
        c->root_seen = true;
        return;
    }
    /* RFC 3863 section 4.2.3: an unrecognised element marked
     * mustUnderstand is not processed, nor anything inside it. */
    const char *mu = attr(atts, "mustUnderstand");
    if (mu != NULL && (strcmp(mu, "1") == 0 || strcmp(mu, "true") == 0) &&
        !ns_is(ns, nslen, NS_PIDF)) {
        c->skip_depth = c->depth;
        return;
    }
    if (c->cap != CAP_NONE)
        return; /* markup inside captured text is ignored */

    if (c->depth == 2 && ns_is(ns, nslen, NS_PIDF) && strcmp(local, "tuple") == 0) {
        if (c->doc->n_tuples >= c->lim.max_tuples) {
            fail(c, "too many tuples");
            return;
        }
        c->tuple = &c->doc->tuples[c->doc->n_tuples++];
        c->tuple->priority_milli = -1;
        c->tuple_depth = c->depth;
        const char *id = attr(atts, "id");
        copy_str(c->tuple->id, sizeof c->tuple->id, id ? id : "");
        return;
    }
    if (c->depth == 2 && ns_is(ns, nslen, NS_DM) && strcmp(local, "person") == 0) {
        if (c->doc->n_persons >= c->lim.max_persons) {
            fail(c, "too many persons");
            return;
        }
        c->person = &c->doc->persons[c->doc->n_persons++];
        c->person_depth = c->depth;
        const char *id = attr(atts, "id");
        copy_str(c->person->id, sizeof c->person->id, id ? id : "");
        return;
    }
    if (c->depth == 2 && ns_is(ns, nslen, NS_PIDF) && strcmp(local, "note") == 0) {
        if (c->doc->note[0] == '\0')
            start_capture(c, CAP_DOC_NOTE, atts);
        return;
    }
    if (c->in_activities && ns_is(ns, nslen, NS_RPID) && c->depth == c->activities_depth + 1) {
        for (int i = 0; i < GW_RPID_COUNT; i++) {
            if (strcmp(local, rpid_names[i]) == 0) {
                if (c->person)
                    c->person->activities |= GW_RPID_BIT(i);
                else if (c->tuple)
                    c->tuple->activities |= GW_RPID_BIT(i);
            }
        }
        return;
    }
    if (ns_is(ns, nslen, NS_RPID) && strcmp(local, "activities") == 0 &&
        (c->person != NULL || c->tuple != NULL)) {
        c->in_activities = true;
        c->activities_depth = c->depth;
        return;
    }
    if (c->tuple != NULL) {
        if (c->depth == c->tuple_depth + 1 && ns_is(ns, nslen, NS_PIDF)) {
            if (strcmp(local, "status") == 0) {
                c->in_status = true;
                c->status_depth = c->depth;
            } else if (strcmp(local, "contact") == 0) {
                const char *pr = attr(atts, "priority");
                c->tuple->priority_milli = -1;
                if (pr != NULL) {
                    /* qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ) */
                    int milli = -1;
                    if ((pr[0] == '0' || pr[0] == '1') && (pr[1] == '\0' || pr[1] == '.')) {
                        milli = (pr[0] - '0') * 1000;
                        int scale = 100, k = 0;
                        const char *d = pr[1] == '.' ? pr + 2 : pr + 1;
                        for (; *d && isdigit((unsigned char)*d) && k < 3; d++, k++, scale /= 10)
                            milli += (*d - '0') * scale;
                        if (*d != '\0' || milli > 1000)
                            milli = -1;
                    }
                    c->tuple->priority_milli = milli;
                }
                start_capture(c, CAP_CONTACT, atts);
            } else if (strcmp(local, "note") == 0 && c->tuple->note[0] == '\0') {
                start_capture(c, CAP_TUPLE_NOTE, atts);
            }
            return;
        }
        if (c->in_status && c->depth == c->status_depth + 1) {
            if (ns_is(ns, nslen, NS_PIDF) && strcmp(local, "basic") == 0)
                start_capture(c, CAP_BASIC, atts);
            else if (ns_is(ns, nslen, NS_CLIENT) && strcmp(local, "show") == 0)
                start_capture(c, CAP_SHOW, atts);
        }
        return;
    }
    if (c->person != NULL && c->depth == c->person_depth + 1 && strcmp(local, "note") == 0 &&
        (ns_is(ns, nslen, NS_DM) || ns_is(ns, nslen, NS_PIDF)) && c->person->note[0] == '\0')
        start_capture(c, CAP_PERSON_NOTE, atts);
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        s[--n] = '\0';
    return s;
}

static void end_capture(struct pctx *c)
{
    c->text[c->text_len] = '\0';
    char *t = trim(c->text);
    switch (c->cap) {
    case CAP_BASIC:
        if (strcmp(t, "open") == 0)
            c->tuple->basic = GW_BASIC_OPEN;
        else if (strcmp(t, "closed") == 0)
            c->tuple->basic = GW_BASIC_CLOSED;
        break;
    case CAP_SHOW:
        if (gw_show_parse(t, &c->tuple->show) == 0)
            c->tuple->has_show = true;
        break;
    case CAP_CONTACT:
        copy_str(c->tuple->contact, sizeof c->tuple->contact, t);
        break;
    case CAP_TUPLE_NOTE:
        copy_str(c->tuple->note, sizeof c->tuple->note, t);
        copy_str(c->tuple->note_lang, sizeof c->tuple->note_lang, c->lang);
        break;
    case CAP_PERSON_NOTE:
        copy_str(c->person->note, sizeof c->person->note, t);
        copy_str(c->person->note_lang, sizeof c->person->note_lang, c->lang);
        break;
    case CAP_DOC_NOTE:
        copy_str(c->doc->note, sizeof c->doc->note, t);
        copy_str(c->doc->note_lang, sizeof c->doc->note_lang, c->lang);
        break;
    case CAP_NONE:
        break;
    }
    c->cap = CAP_NONE;
}

static void XMLCALL on_end(void *arg, const char *name)
{
    struct pctx *c = arg;
    (void)name;

    if (c->skip_depth > 0) {
        if (c->depth == c->skip_depth)
            c->skip_depth = 0;
        c->depth--;
        return;
    }
    if (c->cap != CAP_NONE && c->depth == c->cap_depth)
        end_capture(c);
    if (c->in_activities && c->depth == c->activities_depth)
        c->in_activities = false;
    if (c->in_status && c->depth == c->status_depth)
        c->in_status = false;
    if (c->tuple != NULL && c->depth == c->tuple_depth)
        c->tuple = NULL;
    if (c->person != NULL && c->depth == c->person_depth)
        c->person = NULL;
    c->depth--;
}

static void XMLCALL on_text(void *arg, const char *s, int len)
{
    struct pctx *c = arg;
    if (c->cap == CAP_NONE || c->skip_depth > 0 || len <= 0)
        return;
    if (c->text_len + (size_t)len > c->lim.max_text) {
        fail(c, "text too long");
        return;
    }
    memcpy(c->text + c->text_len, s, (size_t)len);
    c->text_len += (size_t)len;
}

static void XMLCALL on_doctype(void *arg, const char *name, const char *sysid, const char *pubid,
                               int has_internal)
{
    (void)name;
    (void)sysid;
    (void)pubid;
    (void)has_internal;
    fail(arg, "doctype refused");
}

static void XMLCALL on_entity(void *arg, const char *name, int is_param, const char *value,
                              int value_len, const char *base, const char *sysid, const char *pubid,
                              const char *notation)
{
    (void)name;
    (void)is_param;
    (void)value;
    (void)value_len;
    (void)base;
    (void)sysid;
    (void)pubid;
    (void)notation;
    fail(arg, "entity refused");
}

/* The XML declaration's encoding, if any, must be UTF-8 (or US-ASCII, a
 * subset); a UTF-16/32 byte order mark is refused. */
static bool encoding_ok(const char *buf, size_t len)
{
    if (len >= 2 && (((unsigned char)buf[0] == 0xfe && (unsigned char)buf[1] == 0xff) ||
                     ((unsigned char)buf[0] == 0xff && (unsigned char)buf[1] == 0xfe)))
        return false;
    if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0) {
        buf += 3;
        len -= 3;
    }
    if (len < 5 || memcmp(buf, "<?xml", 5) != 0)
        return true;
    const char *end = memchr(buf, '>', len < 256 ? len : 256);
    if (end == NULL)
        return false;
    for (const char *q = buf; q + 8 < end; q++) {
        if (memcmp(q, "encoding", 8) != 0)
            continue;
        q += 8;
        while (q < end && (*q == ' ' || *q == '=' || *q == '\t'))
            q++;
        if (q >= end || (*q != '"' && *q != '\''))
            return false;
        char quote = *q++;
        const char *ve = memchr(q, quote, (size_t)(end - q));
        if (ve == NULL)
            return false;
        size_t vl = (size_t)(ve - q);
        return (vl == 5 && strncasecmp(q, "UTF-8", 5) == 0) ||
               (vl == 4 && strncasecmp(q, "UTF8", 4) == 0) ||
               (vl == 8 && strncasecmp(q, "US-ASCII", 8) == 0);
    }
    return true;
}

struct gw_pidf *gw_pidf_parse(const char *buf, size_t len, const struct gw_pidf_limits *lim,
                              const char **why)
{
    const char *dummy;
    struct pctx c;

    if (why == NULL)
        why = &dummy;
    memset(&c, 0, sizeof c);
    c.lim.max_bytes = lim && lim->max_bytes ? lim->max_bytes : GW_PIDF_MAX_BYTES_DEFAULT;
    c.lim.max_depth = lim && lim->max_depth ? lim->max_depth : GW_PIDF_MAX_DEPTH_DEFAULT;
    c.lim.max_tuples = lim && lim->max_tuples ? lim->max_tuples : GW_PIDF_MAX_TUPLES_DEFAULT;
    c.lim.max_persons = lim && lim->max_persons ? lim->max_persons : GW_PIDF_MAX_PERSONS_DEFAULT;
    c.lim.max_elements =
        lim && lim->max_elements ? lim->max_elements : GW_PIDF_MAX_ELEMENTS_DEFAULT;
    c.lim.max_text = lim && lim->max_text ? lim->max_text : GW_PIDF_TEXT_MAX_DEFAULT;
    if (c.lim.max_tuples > GW_PIDF_TUPLES_MAX)
        c.lim.max_tuples = GW_PIDF_TUPLES_MAX;
    if (c.lim.max_persons > GW_PIDF_PERSONS_MAX)
        c.lim.max_persons = GW_PIDF_PERSONS_MAX;
    if (len > c.lim.max_bytes || len > INT32_MAX) {
        *why = "too large";
        return NULL;
    }
    if (!encoding_ok(buf, len)) {
        *why = "encoding not UTF-8";
        return NULL;
    }
    c.doc = calloc(1, sizeof *c.doc);
    c.text = malloc(c.lim.max_text + 1);
    c.p = XML_ParserCreateNS("UTF-8", SEP);
    if (c.doc == NULL || c.text == NULL || c.p == NULL) {
        *why = "out of memory";
        goto bad;
    }
    XML_SetUserData(c.p, &c);
    XML_SetElementHandler(c.p, on_start, on_end);
    XML_SetCharacterDataHandler(c.p, on_text);
    XML_SetStartDoctypeDeclHandler(c.p, on_doctype);
    XML_SetEntityDeclHandler(c.p, on_entity);
    XML_SetParamEntityParsing(c.p, XML_PARAM_ENTITY_PARSING_NEVER);
    if (XML_Parse(c.p, buf, (int)len, XML_TRUE) == XML_STATUS_ERROR) {
        *why = c.why ? c.why : "not well-formed";
        goto bad;
    }
    if (c.why != NULL || !c.root_seen) {
        *why = c.why ? c.why : "not a PIDF document";
        goto bad;
    }
    XML_ParserFree(c.p);
    free(c.text);
    return c.doc;
bad:
    if (c.p)
        XML_ParserFree(c.p);
    free(c.text);
    free(c.doc);
    return NULL;
}

void gw_pidf_free(struct gw_pidf *d)
{
    free(d);
}

/* ---- mapping ------------------------------------------------------------ */

int gw_pidf_priority_from_milli(int milli)
{
    if (milli < 0)
        return 0;
    if (milli > 1000)
        milli = 1000;
    return (milli * 127 + 500) / 1000;
}

int gw_pidf_priority_to_milli(int priority)
{
    if (priority < 0)
        return -1;
    if (priority > 127)
        priority = 127;
    return priority * 1000 / 127;
}

static enum gw_show show_from_activities(unsigned a)
{
    const unsigned dnd = GW_RPID_BIT(GW_RPID_BUSY) | GW_RPID_BIT(GW_RPID_ON_THE_PHONE) |
                         GW_RPID_BIT(GW_RPID_MEETING) | GW_RPID_BIT(GW_RPID_APPOINTMENT) |
                         GW_RPID_BIT(GW_RPID_PRESENTATION) | GW_RPID_BIT(GW_RPID_PERFORMANCE);
    const unsigned xa = GW_RPID_BIT(GW_RPID_VACATION) | GW_RPID_BIT(GW_RPID_HOLIDAY);
    const unsigned away = GW_RPID_BIT(GW_RPID_AWAY) | GW_RPID_BIT(GW_RPID_PERMANENT_ABSENCE);
    if (a & dnd)
        return GW_SHOW_DND;
    if (a & xa)
        return GW_SHOW_XA;
    if (a & away)
        return GW_SHOW_AWAY;
    return GW_SHOW_NONE;
}

void gw_pidf_to_presence(const struct gw_pidf *d, bool include_status, struct gw_presence *out)
{
    const struct gw_pidf_tuple *best = NULL;

    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < d->n_tuples; i++) {
        const struct gw_pidf_tuple *t = &d->tuples[i];
        if (t->basic != GW_BASIC_OPEN)
            continue;
        if (best == NULL || t->priority_milli > best->priority_milli)
            best = t;
    }
    out->available = best != NULL;
    if (best == NULL && d->n_tuples > 0)
        best = &d->tuples[0];
    if (out->available) {
        if (best->has_show) {
            out->show = best->show;
        } else {
            unsigned acts = best->activities;
            for (size_t i = 0; i < d->n_persons; i++)
                acts |= d->persons[i].activities;
            out->show = show_from_activities(acts);
        }
        if (best->priority_milli >= 0) {
            out->has_priority = true;
            out->priority = gw_pidf_priority_from_milli(best->priority_milli);
        }
    }
    if (!include_status)
        return;
    const char *note = NULL, *lang = NULL;
    if (best != NULL && best->note[0]) {
        note = best->note;
        lang = best->note_lang;
    }
    for (size_t i = 0; note == NULL && i < d->n_persons; i++) {
        if (d->persons[i].note[0]) {
            note = d->persons[i].note;
            lang = d->persons[i].note_lang;
        }
    }
    if (note == NULL && d->note[0]) {
        note = d->note;
        lang = d->note_lang;
    }
    if (note != NULL) {
        copy_str(out->status, sizeof out->status, note);
        copy_str(out->lang, sizeof out->lang, lang);
    }
}

/* ---- builder ------------------------------------------------------------ */

struct obuf {
    char *p;
    size_t len, cap;
    bool oom;
};

static void ob_putn(struct obuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 1024;
        while (nc < b->len + n + 1)
            nc *= 2;
        char *np = realloc(b->p, nc);
        if (np == NULL) {
            b->oom = true;
            return;
        }
        b->p = np;
        b->cap = nc;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void ob_puts(struct obuf *b, const char *s)
{
    ob_putn(b, s, strlen(s));
}

/* XML-escaped text or attribute value (single-quoted attributes). */
static void ob_esc(struct obuf *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&':
            ob_puts(b, "&amp;");
            break;
        case '<':
            ob_puts(b, "&lt;");
            break;
        case '>':
            ob_puts(b, "&gt;");
            break;
        case '\'':
            ob_puts(b, "&apos;");
            break;
        case '"':
            ob_puts(b, "&quot;");
            break;
        default:
            ob_putn(b, s, 1);
        }
    }
}

/* Text that may go into a document: valid UTF-8, no control characters
 * other than TAB/LF/CR (XML 1.0 Char). */
static bool xml_text_ok(const char *s)
{
    size_t n = strlen(s);
    if (!gw_utf8_valid(s, n))
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x20 && ch != '\t' && ch != '\n' && ch != '\r')
            return false;
    }
    return true;
}

static int show_rank(const struct gw_presence *p)
{
    if (!p->available)
        return 0;
    switch (p->show) {
    case GW_SHOW_CHAT:
        return 5;
    case GW_SHOW_NONE:
        return 4;
    case GW_SHOW_AWAY:
        return 3;
    case GW_SHOW_XA:
        return 2;
    case GW_SHOW_DND:
        return 1;
    }
    return 0;
}

char *gw_pidf_build(const char *bare_jid, const struct gw_presence *res, size_t n,
                    bool include_status, size_t *len)
{
    struct gw_xmpp_addr *a = malloc(sizeof *a);
    char *sip = NULL;
    struct obuf b = {0};
    static const struct gw_presence closed = {0};

    if (a == NULL)
        return NULL;
    if (gw_addr_jid_split(bare_jid, a) != GW_ADDR_OK ||
        gw_addr_parts_to_sip(a->local, a->domain, NULL, false, &sip) != GW_ADDR_OK) {
        free(a);
        return NULL;
    }
    ob_puts(&b, "<?xml version='1.0' encoding='UTF-8'?>\n"
                "<presence xmlns='" NS_PIDF "' xmlns:dm='" NS_DM "' xmlns:rpid='" NS_RPID
                "' entity='pres:");
    ob_esc(&b, sip + 4); /* RFC 8048 section 6.2: a pres: URI */
    ob_puts(&b, "'>\n");
    if (n == 0) {
        res = &closed;
        n = 1;
    }
    const struct gw_presence *most = NULL;
    for (size_t i = 0; i < n; i++) {
        const struct gw_presence *p = &res[i];
        char id[3 + 3 * GW_ADDR_PART_MAX + 1];
        gw_addr_tuple_id(p->resource, id, sizeof id);
        if (most == NULL || show_rank(p) > show_rank(most))
            most = p;
        ob_puts(&b, "<tuple id='");
        ob_esc(&b, id);
        ob_puts(&b, "'>\n<status><basic>");
        ob_puts(&b, p->available ? "open" : "closed");
        ob_puts(&b, "</basic>");
        if (p->available && p->show != GW_SHOW_NONE) {
            ob_puts(&b, "<show xmlns='" NS_CLIENT "'>");
            ob_puts(&b, gw_show_name(p->show));
            ob_puts(&b, "</show>");
        }
        ob_puts(&b, "</status>\n");
        char *contact = NULL;
        if (gw_addr_parts_to_sip(a->local, a->domain, p->resource, true, &contact) == GW_ADDR_OK) {
            int milli = p->has_priority ? gw_pidf_priority_to_milli(p->priority) : -1;
            if (milli >= 0) {
                char pr[16];
                snprintf(pr, sizeof pr, "%d.%03d", milli / 1000, milli % 1000);
                ob_puts(&b, "<contact priority='");
                ob_puts(&b, pr);
                ob_puts(&b, "'>");
            } else {
                ob_puts(&b, "<contact>");
            }
            ob_esc(&b, contact);
            ob_puts(&b, "</contact>\n");
            free(contact);
        }
        if (include_status && p->status[0] && xml_text_ok(p->status)) {
            ob_puts(&b, "<note");
            if (p->lang[0] && xml_text_ok(p->lang)) {
                ob_puts(&b, " xml:lang='");
                ob_esc(&b, p->lang);
                ob_puts(&b, "'");
            }
            ob_puts(&b, ">");
            ob_esc(&b, p->status);
            ob_puts(&b, "</note>\n");
        }
        ob_puts(&b, "</tuple>\n");
    }
    if (most != NULL && most->available &&
        (most->show == GW_SHOW_AWAY || most->show == GW_SHOW_XA || most->show == GW_SHOW_DND)) {
        ob_puts(&b, "<dm:person id='p-1'>\n<rpid:activities><rpid:");
        ob_puts(&b, most->show == GW_SHOW_DND ? "busy" : "away");
        ob_puts(&b, "/></rpid:activities>\n</dm:person>\n");
    }
    ob_puts(&b, "</presence>\n");
    free(sip);
    free(a);
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    if (len != NULL)
        *len = b.len;
    return b.p;
}
