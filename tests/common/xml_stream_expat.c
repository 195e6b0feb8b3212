/*
 * xml_stream_expat.c - the XMPP stream parser as it was on top of expat,
 * kept as the reference for the differential test of common/xml_stream.c
 * (test_xml_stream_diff.c): the same code with its public functions renamed
 * xml_ref_* (xml_stream_expat.h). Not linked into any program.
 *
 * expat parses incrementally and calls our handlers; we keep a depth
 * counter (0 outside the stream element, 1 between first-level elements,
 * 2 and more inside one), build the tree of the current first-level element
 * in a per-stream pool and hand it over when its end tag arrives. Every
 * restriction of RFC 6120 section 11 and every cap is checked in the
 * handlers or right after each XML_Parse() call; a violation records the
 * error and stops expat (XML_StopParser), which never resumes.
 */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include <expat.h>

#include "xml_stream_expat.h"

/* expat joins namespace URI, local name and prefix with this byte in the
 * names it reports (XML_ParserCreateNS + XML_SetReturnNSTriplet). It cannot
 * occur in a namespace name or an XML name. */
#define NS_SEP '\x1f'

enum stream_state {
    ST_PROLOG,  /* before the stream header */
    ST_OPEN,    /* inside <stream:stream> */
    ST_CLOSED,  /* after </stream:stream> */
    ST_STOPPED, /* a callback asked to stop */
    ST_FAILED,  /* a stream error was reported */
};

struct xml_ref_stream {
    XML_Parser parser;
    /* expat's hash salt (defence against hash flooding), drawn once per
     * stream: otherwise expat calls getrandom() for every document, which
     * costs as much as parsing a small stanza when a stream restarts or a
     * caller parses one stanza per document. */
    unsigned long hash_salt;
    struct xml_limits lim;
    struct xml_stream_cb cb;
    void *arg;
    struct stanza_pool *pool;
    enum stream_state state;
    enum xml_stream_error err;
    bool in_callback;
    bool stop;                  /* a callback returned -1 */
    unsigned long long stop_at; /* offset just past the event that stopped */
    unsigned long long fed;     /* bytes given to expat since the reset */
    /* Offset where the bytes counted against max_element_bytes start: the
     * first byte after the last complete stream-level token, or the '<' of
     * the first-level element being read. */
    unsigned long long boundary;
    unsigned depth;
    struct stanza *cur;  /* element being built (depth >= 2) */
    struct stanza *root; /* first-level element being built */
    size_t *text_bytes;  /* per stanza depth, [1..max_depth] */
    unsigned ns_decls;   /* declarations seen for the next start tag */
    /* stream header namespace declarations */
    bool hdr_bad_decl;
    bool hdr_db;
    const char *hdr_default;      /* a STANZA_NS_* constant, NULL if none */
    unsigned long long accepted;  /* bytes consumed by feeds since the reset */
    unsigned char first_bytes[2]; /* held back until both are here */
    unsigned nfirst;
};

static const char *const conditions[] = {
    [XML_STREAM_OK] = "",
    [XML_STREAM_BAD_FORMAT] = "bad-format",
    [XML_STREAM_BAD_NAMESPACE_PREFIX] = "bad-namespace-prefix",
    [XML_STREAM_INVALID_NAMESPACE] = "invalid-namespace",
    [XML_STREAM_NOT_WELL_FORMED] = "not-well-formed",
    [XML_STREAM_POLICY_VIOLATION] = "policy-violation",
    [XML_STREAM_RESOURCE_CONSTRAINT] = "resource-constraint",
    [XML_STREAM_RESTRICTED_XML] = "restricted-xml",
    [XML_STREAM_UNSUPPORTED_ENCODING] = "unsupported-encoding",
};

/* Records the first error, tells the owner once and stops expat. */
static void fail(struct xml_ref_stream *s, enum xml_stream_error err, const char *text)
{
    if (s->state == ST_FAILED) {
        return;
    }
    s->state = ST_FAILED;
    s->err = err;
    if (s->parser != NULL) {
        XML_StopParser(s->parser, XML_FALSE);
    }
    if (s->cb.error != NULL) {
        s->in_callback = true;
        s->cb.error(s->arg, err, conditions[err], text);
        s->in_callback = false;
    }
}

/* True while handlers should still act (not failed, not stopping). */
static bool live(const struct xml_ref_stream *s)
{
    return s->state != ST_FAILED && !s->stop;
}

static unsigned long long event_end(const struct xml_ref_stream *s)
{
    XML_Index idx = XML_GetCurrentByteIndex(s->parser);
    int cnt = XML_GetCurrentByteCount(s->parser);
    if (idx < 0) {
        return s->fed;
    }
    return (unsigned long long)idx + (unsigned long long)(cnt > 0 ? cnt : 0);
}

/* Handles a callback's verdict: -1 stops right after the current event. */
static void after_callback(struct xml_ref_stream *s, int rc)
{
    if (rc != 0 && s->state != ST_FAILED) {
        s->stop = true;
        s->stop_at = event_end(s);
        XML_StopParser(s->parser, XML_FALSE);
    }
}

/* A name as expat reports it: "uri\x1flocal\x1fprefix", "uri\x1flocal" or
 * "local" (no namespace). */
struct qname {
    const char *ns;
    size_t nslen;
    const char *local;
    size_t locallen;
    const char *prefix; /* NULL when unprefixed */
};

static void split_name(const char *n, struct qname *q)
{
    const char *a = strchr(n, NS_SEP);
    if (a == NULL) {
        q->ns = "";
        q->nslen = 0;
        q->local = n;
        q->locallen = strlen(n);
        q->prefix = NULL;
        return;
    }
    q->ns = n;
    q->nslen = (size_t)(a - n);
    q->local = a + 1;
    const char *b = strchr(q->local, NS_SEP);
    if (b == NULL) {
        q->locallen = strlen(q->local);
        q->prefix = NULL;
    } else {
        q->locallen = (size_t)(b - q->local);
        q->prefix = b + 1;
    }
}

static bool qname_is(const struct qname *q, const char *ns, const char *local)
{
    return q->nslen == strlen(ns) && memcmp(q->ns, ns, q->nslen) == 0 &&
           q->locallen == strlen(local) && memcmp(q->local, local, q->locallen) == 0;
}

static bool ns_is(const struct qname *q, const char *ns)
{
    return q->nslen == strlen(ns) && memcmp(q->ns, ns, q->nslen) == 0;
}

/* Checks shared by every start tag: attribute and namespace caps. */
static bool check_start_caps(struct xml_ref_stream *s, const char **atts)
{
    if (s->ns_decls > s->lim.max_ns_decls) {
        fail(s, XML_STREAM_POLICY_VIOLATION, "too many namespace declarations on one element");
        return false;
    }
    s->ns_decls = 0;
    unsigned n = 0;
    for (size_t i = 0; atts[i] != NULL; i += 2) {
        if (++n > s->lim.max_attrs) {
            fail(s, XML_STREAM_POLICY_VIOLATION, "too many attributes on one element");
            return false;
        }
        if (strlen(atts[i + 1]) > s->lim.max_attr_value_bytes) {
            fail(s, XML_STREAM_POLICY_VIOLATION, "attribute value too long");
            return false;
        }
    }
    return true;
}

static void stream_header(struct xml_ref_stream *s, const struct qname *q, const char **atts)
{
    /* RFC 6120 section 4.8.1: the root must be {streams}stream. */
    if (!ns_is(q, STANZA_NS_STREAMS)) {
        fail(s, XML_STREAM_INVALID_NAMESPACE, "stream element not in the stream namespace");
        return;
    }
    if (!qname_is(q, STANZA_NS_STREAMS, "stream")) {
        fail(s, XML_STREAM_BAD_FORMAT, "root element is not <stream:stream/>");
        return;
    }
    /* RFC 6120 section 4.8.5: only the prefix 'stream' is accepted. */
    if (q->prefix != NULL && strcmp(q->prefix, "stream") != 0) {
        fail(s, XML_STREAM_BAD_NAMESPACE_PREFIX, "stream namespace prefix is not 'stream'");
        return;
    }
    if (s->hdr_bad_decl) {
        fail(s, XML_STREAM_INVALID_NAMESPACE,
             "stream header declares a namespace other than the content, stream and "
             "dialback namespaces");
        return;
    }
    struct xml_stream_header h = {0};
    for (size_t i = 0; atts[i] != NULL; i += 2) {
        struct qname a;
        split_name(atts[i], &a);
        if (a.nslen == 0) {
            if (strcmp(a.local, "to") == 0) {
                h.to = atts[i + 1];
            } else if (strcmp(a.local, "from") == 0) {
                h.from = atts[i + 1];
            } else if (strcmp(a.local, "id") == 0) {
                h.id = atts[i + 1];
            } else if (strcmp(a.local, "version") == 0) {
                h.version = atts[i + 1];
            }
        } else if (qname_is(&a, STANZA_NS_XML, "lang")) {
            h.lang = atts[i + 1];
        }
    }
    /* Prefix-free canonicalisation declares the stream namespace as the
     * default; then there is no content namespace (RFC 6120 section 4.8.2). */
    if (s->hdr_default != NULL && strcmp(s->hdr_default, STANZA_NS_STREAMS) != 0) {
        h.default_ns = s->hdr_default;
    }
    h.stream_prefixed = q->prefix != NULL;
    h.db_declared = s->hdr_db;
    s->state = ST_OPEN;
    s->depth = 1;
    s->boundary = event_end(s);
    if (s->cb.header != NULL) {
        s->in_callback = true;
        int rc = s->cb.header(s->arg, &h);
        s->in_callback = false;
        after_callback(s, rc);
    }
    s->hdr_default = NULL;
    stanza_pool_clear(s->pool);
}

static void XMLCALL on_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
    struct xml_ref_stream *s = ud;
    if (!live(s)) {
        return;
    }
    if (!check_start_caps(s, atts)) {
        return;
    }
    struct qname q;
    split_name(name, &q);
    if (s->depth == 0) {
        stream_header(s, &q, atts);
        return;
    }
    /* RFC 6120 section 4.8.5: no prefix on elements qualified by the
     * jabber:client or jabber:server content namespace. */
    if (q.prefix != NULL && (ns_is(&q, STANZA_NS_SERVER) || ns_is(&q, STANZA_NS_CLIENT))) {
        fail(s, XML_STREAM_BAD_NAMESPACE_PREFIX, "prefix on an element in the content namespace");
        return;
    }
    unsigned sdepth = s->depth; /* depth inside the first-level element, 1-based */
    if (sdepth > s->lim.max_depth) {
        fail(s, XML_STREAM_POLICY_VIOLATION, "elements nested too deeply");
        return;
    }
    struct stanza *el;
    if (s->depth == 1) {
        XML_Index idx = XML_GetCurrentByteIndex(s->parser);
        s->boundary = idx >= 0 ? (unsigned long long)idx : s->fed;
        el = stanza_build_root(s->pool, q.ns, q.nslen, q.local, q.locallen);
        s->root = el;
    } else {
        el = stanza_build_child(s->cur, q.ns, q.nslen, q.local, q.locallen);
    }
    if (el == NULL) {
        fail(s, XML_STREAM_RESOURCE_CONSTRAINT, "out of memory");
        return;
    }
    for (size_t i = 0; atts[i] != NULL; i += 2) {
        struct qname a;
        split_name(atts[i], &a);
        if (stanza_build_attr(el, a.ns, a.nslen, a.local, a.locallen, atts[i + 1],
                              strlen(atts[i + 1])) < 0) {
            fail(s, XML_STREAM_RESOURCE_CONSTRAINT, "out of memory");
            return;
        }
    }
    s->text_bytes[sdepth] = 0;
    s->cur = el;
    s->depth++;
}

static void XMLCALL on_end(void *ud, const XML_Char *name)
{
    struct xml_ref_stream *s = ud;
    (void)name; /* expat checks that end tags match their start tags */
    if (!live(s)) {
        return;
    }
    if (s->depth == 1) {
        /* </stream:stream> (RFC 6120 section 4.4) */
        s->depth = 0;
        s->state = ST_CLOSED;
        s->boundary = event_end(s);
        if (s->cb.close != NULL) {
            s->in_callback = true;
            int rc = s->cb.close(s->arg);
            s->in_callback = false;
            after_callback(s, rc);
        }
        return;
    }
    s->depth--;
    if (s->depth > 1) {
        s->cur = stanza_parent(s->cur);
        return;
    }
    unsigned long long end = event_end(s);
    if (end - s->boundary > s->lim.max_element_bytes) {
        fail(s, XML_STREAM_POLICY_VIOLATION, "element larger than the stanza size limit");
        return;
    }
    s->boundary = end;
    struct stanza *root = s->root;
    s->cur = NULL;
    s->root = NULL;
    if (s->cb.element != NULL) {
        s->in_callback = true;
        int rc = s->cb.element(s->arg, root);
        s->in_callback = false;
        after_callback(s, rc);
    }
    stanza_pool_clear(s->pool);
}

static bool is_xml_space(const char *t, int len)
{
    for (int i = 0; i < len; i++) {
        if (t[i] != ' ' && t[i] != '\t' && t[i] != '\r' && t[i] != '\n') {
            return false;
        }
    }
    return true;
}

static void XMLCALL on_text(void *ud, const XML_Char *t, int len)
{
    struct xml_ref_stream *s = ud;
    if (!live(s) || len <= 0) {
        return;
    }
    if (s->depth == 1) {
        /* Whitespace between first-level elements (keep-alives, RFC 6120
         * section 4.6.1) is dropped; anything else is not XMPP. */
        if (!is_xml_space(t, len)) {
            fail(s, XML_STREAM_BAD_FORMAT, "text between first-level elements");
            return;
        }
        unsigned long long end = event_end(s);
        if (end > s->boundary) {
            s->boundary = end;
        }
        return;
    }
    if (s->depth < 2) {
        return;
    }
    size_t *tb = &s->text_bytes[s->depth - 1];
    *tb += (size_t)len;
    if (*tb > s->lim.max_text_bytes) {
        fail(s, XML_STREAM_POLICY_VIOLATION, "element text longer than the limit");
        return;
    }
    if (stanza_build_text(s->cur, t, (size_t)len) < 0) {
        fail(s, XML_STREAM_RESOURCE_CONSTRAINT, "out of memory");
    }
}

static void XMLCALL on_ns_start(void *ud, const XML_Char *prefix, const XML_Char *uri)
{
    struct xml_ref_stream *s = ud;
    if (!live(s)) {
        return;
    }
    s->ns_decls++;
    if (s->depth != 0) {
        return;
    }
    /* Declarations on the stream header (RFC 6120 section 4.8.5): the
     * content namespace as default (or the stream namespace, prefix-free),
     * 'stream' and the XEP-0220 'db' prefix; nothing for extended content. */
    if (uri == NULL) {
        uri = "";
    }
    if (prefix == NULL) {
        if (strcmp(uri, STANZA_NS_SERVER) != 0 && strcmp(uri, STANZA_NS_CLIENT) != 0 &&
            strcmp(uri, STANZA_NS_STREAMS) != 0) {
            s->hdr_bad_decl = true;
            return;
        }
        s->hdr_default = strcmp(uri, STANZA_NS_SERVER) == 0   ? STANZA_NS_SERVER
                         : strcmp(uri, STANZA_NS_CLIENT) == 0 ? STANZA_NS_CLIENT
                                                              : STANZA_NS_STREAMS;
    } else if (strcmp(prefix, "db") == 0 && strcmp(uri, STANZA_NS_DIALBACK) == 0) {
        s->hdr_db = true;
    } else if (strcmp(uri, STANZA_NS_STREAMS) == 0) {
        /* the element's prefix is checked in stream_header() */
    } else if (strcmp(prefix, "xml") == 0 && strcmp(uri, STANZA_NS_XML) == 0) {
        /* redundant but legal */
    } else {
        s->hdr_bad_decl = true;
    }
}

/* RFC 6120 section 11.1: no DTD, comments, processing instructions or
 * entity declarations in an XML stream. */
static void XMLCALL on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
                               const XML_Char *pubid, int has_internal_subset)
{
    (void)name, (void)sysid, (void)pubid, (void)has_internal_subset;
    fail(ud, XML_STREAM_RESTRICTED_XML, "DOCTYPE is not allowed (RFC 6120 section 11.1)");
}

static void XMLCALL on_comment(void *ud, const XML_Char *data)
{
    (void)data;
    fail(ud, XML_STREAM_RESTRICTED_XML, "comments are not allowed (RFC 6120 section 11.1)");
}

static void XMLCALL on_pi(void *ud, const XML_Char *target, const XML_Char *data)
{
    (void)target, (void)data;
    fail(ud, XML_STREAM_RESTRICTED_XML,
         "processing instructions are not allowed (RFC 6120 section 11.1)");
}

static void XMLCALL on_entity_decl(void *ud, const XML_Char *name, int is_pe, const XML_Char *value,
                                   int value_len, const XML_Char *base, const XML_Char *sysid,
                                   const XML_Char *pubid, const XML_Char *notation)
{
    (void)name, (void)is_pe, (void)value, (void)value_len, (void)base, (void)sysid, (void)pubid,
        (void)notation;
    fail(ud, XML_STREAM_RESTRICTED_XML,
         "entity declarations are not allowed (RFC 6120 section 11.1)");
}

static void XMLCALL on_skipped_entity(void *ud, const XML_Char *name, int is_pe)
{
    (void)name, (void)is_pe;
    fail(ud, XML_STREAM_RESTRICTED_XML,
         "entity references are not allowed (RFC 6120 section 11.1)");
}

static void XMLCALL on_xml_decl(void *ud, const XML_Char *version, const XML_Char *encoding,
                                int standalone)
{
    struct xml_ref_stream *s = ud;
    (void)version;
    /* RFC 6120 section 11.6: UTF-8 only. expat was told "UTF-8" at
     * creation and ignores the declaration, so it is checked here. */
    if (encoding != NULL && strcasecmp(encoding, "UTF-8") != 0) {
        fail(s, XML_STREAM_UNSUPPORTED_ENCODING, "encoding other than UTF-8 declared");
        return;
    }
    /* RFC 6120 section 11.5: standalone='no' means external markup. */
    if (standalone == 0) {
        fail(s, XML_STREAM_RESTRICTED_XML, "standalone='no' is not allowed (RFC 6120 11.5)");
    }
}

static int XMLCALL on_external_entity(XML_Parser p, const XML_Char *context, const XML_Char *base,
                                      const XML_Char *sysid, const XML_Char *pubid)
{
    (void)context, (void)base, (void)sysid, (void)pubid;
    fail(XML_GetUserData(p), XML_STREAM_RESTRICTED_XML,
         "external entities are not allowed (RFC 6120 section 11.1)");
    return XML_STATUS_ERROR;
}

/* Makes s->parser ready for a new document: a new expat parser, or the old
 * one reset, which keeps its buffers and namespace mode but clears every
 * handler and setting, so all are set again here. */
static int parser_open(struct xml_ref_stream *s)
{
    XML_Parser p = s->parser;
    if (p != NULL) {
        if (XML_ParserReset(p, "UTF-8") != XML_TRUE) {
            XML_ParserFree(p);
            s->parser = NULL;
            p = NULL;
        }
    }
    if (p == NULL) {
        p = XML_ParserCreateNS("UTF-8", NS_SEP);
        if (p == NULL) {
            return -1;
        }
    }
    XML_SetUserData(p, s);
    if (s->hash_salt != 0) {
        XML_SetHashSalt(p, s->hash_salt);
    }
    XML_SetReturnNSTriplet(p, 1);
    XML_SetElementHandler(p, on_start, on_end);
    XML_SetCharacterDataHandler(p, on_text);
    XML_SetStartNamespaceDeclHandler(p, on_ns_start);
    XML_SetStartDoctypeDeclHandler(p, on_doctype);
    XML_SetCommentHandler(p, on_comment);
    XML_SetProcessingInstructionHandler(p, on_pi);
    XML_SetEntityDeclHandler(p, on_entity_decl);
    XML_SetSkippedEntityHandler(p, on_skipped_entity);
    XML_SetXmlDeclHandler(p, on_xml_decl);
    XML_SetExternalEntityRefHandler(p, on_external_entity);
    XML_SetParamEntityParsing(p, XML_PARAM_ENTITY_PARSING_NEVER);
    /* expat 2.6 defers re-parsing a token that is still incomplete until
     * enough new bytes arrived (a defence against quadratic re-parsing of
     * huge tokens). For a stream that means a stanza's end tag can sit
     * unparsed until the peer sends more, so it is turned off: our caps on
     * element bytes bound the re-parse cost instead. Debian 12's expat
     * 2.5.0 carries this 2.6 change and declares the function (see
     * /usr/include/expat.h) from 2.5.0-1+deb12u2 on; older builds have
     * neither the deferral nor the function (CMake checks for it).
     * tests/common/test_xml_stream.c checks that a stanza's event fires as
     * soon as its last byte is fed. */
#ifdef XFED_HAVE_REPARSE_DEFERRAL
    XML_SetReparseDeferralEnabled(p, XML_FALSE);
#endif
    s->parser = p;
    return 0;
}

static void state_init(struct xml_ref_stream *s)
{
    s->state = ST_PROLOG;
    s->err = XML_STREAM_OK;
    s->stop = false;
    s->stop_at = 0;
    s->fed = 0;
    s->boundary = 0;
    s->depth = 0;
    s->cur = NULL;
    s->root = NULL;
    s->ns_decls = 0;
    s->hdr_bad_decl = false;
    s->hdr_db = false;
    s->hdr_default = NULL;
    s->accepted = 0;
    s->nfirst = 0;
}

struct xml_ref_stream *xml_ref_new(const struct xml_limits *limits, const struct xml_stream_cb *cb,
                                   void *arg)
{
    struct xml_ref_stream *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return NULL;
    }
    struct xml_limits d;
    xml_limits_default(&d);
    if (limits != NULL) {
        s->lim = *limits;
    }
    if (s->lim.max_element_bytes == 0) {
        s->lim.max_element_bytes = d.max_element_bytes;
    } else if (s->lim.max_element_bytes < XML_LIMIT_ELEMENT_BYTES_MIN) {
        s->lim.max_element_bytes = XML_LIMIT_ELEMENT_BYTES_MIN;
    }
    if (s->lim.max_depth == 0) {
        s->lim.max_depth = d.max_depth;
    }
    if (s->lim.max_attrs == 0) {
        s->lim.max_attrs = d.max_attrs;
    }
    if (s->lim.max_attr_value_bytes == 0) {
        s->lim.max_attr_value_bytes = d.max_attr_value_bytes;
    }
    if (s->lim.max_text_bytes == 0) {
        s->lim.max_text_bytes = d.max_text_bytes;
    }
    if (s->lim.max_ns_decls == 0) {
        s->lim.max_ns_decls = d.max_ns_decls;
    }
    if (cb != NULL) {
        s->cb = *cb;
    }
    s->arg = arg;
    if (getrandom(&s->hash_salt, sizeof(s->hash_salt), GRND_NONBLOCK) !=
        (ssize_t)sizeof(s->hash_salt)) {
        s->hash_salt = 0; /* expat draws its own */
    }
    s->text_bytes = calloc((size_t)s->lim.max_depth + 2, sizeof(*s->text_bytes));
    s->pool = stanza_pool_new();
    if (s->text_bytes == NULL || s->pool == NULL || parser_open(s) < 0) {
        xml_ref_free(s);
        return NULL;
    }
    state_init(s);
    return s;
}

void xml_ref_free(struct xml_ref_stream *s)
{
    if (s == NULL) {
        return;
    }
    if (s->parser != NULL) {
        XML_ParserFree(s->parser);
    }
    stanza_pool_free(s->pool);
    free(s->text_bytes);
    free(s);
}

int xml_ref_reset(struct xml_ref_stream *s)
{
    if (s->in_callback) {
        return -1;
    }
    stanza_pool_clear(s->pool);
    state_init(s);
    if (parser_open(s) < 0) {
        s->state = ST_FAILED;
        s->err = XML_STREAM_RESOURCE_CONSTRAINT;
        return -1;
    }
    return 0;
}

enum xml_stream_error xml_ref_error(const struct xml_ref_stream *s)
{
    return s->err;
}

size_t xml_ref_offset(const struct xml_ref_stream *s)
{
    return (size_t)s->accepted;
}

static enum xml_stream_error map_expat_error(enum XML_Error e, const char **text)
{
    switch (e) {
    case XML_ERROR_NO_MEMORY:
        *text = "out of memory";
        return XML_STREAM_RESOURCE_CONSTRAINT;
    case XML_ERROR_UNDEFINED_ENTITY:
    case XML_ERROR_RECURSIVE_ENTITY_REF:
    case XML_ERROR_BINARY_ENTITY_REF:
    case XML_ERROR_ATTRIBUTE_EXTERNAL_ENTITY_REF:
    case XML_ERROR_EXTERNAL_ENTITY_HANDLING:
    case XML_ERROR_NOT_STANDALONE:
    case XML_ERROR_ENTITY_DECLARED_IN_PE:
    case XML_ERROR_AMPLIFICATION_LIMIT_BREACH:
        *text = "entity references are not allowed (RFC 6120 section 11.1)";
        return XML_STREAM_RESTRICTED_XML;
    case XML_ERROR_MISPLACED_XML_PI:
        *text = "processing instructions are not allowed (RFC 6120 section 11.1)";
        return XML_STREAM_RESTRICTED_XML;
    case XML_ERROR_UNBOUND_PREFIX:
        *text = "unbound namespace prefix";
        return XML_STREAM_BAD_NAMESPACE_PREFIX;
    case XML_ERROR_UNDECLARING_PREFIX:
    case XML_ERROR_RESERVED_PREFIX_XML:
    case XML_ERROR_RESERVED_PREFIX_XMLNS:
    case XML_ERROR_RESERVED_NAMESPACE_URI:
        *text = "invalid namespace prefix declaration";
        return XML_STREAM_BAD_NAMESPACE_PREFIX;
    case XML_ERROR_UNKNOWN_ENCODING:
    case XML_ERROR_INCORRECT_ENCODING:
        *text = "encoding other than UTF-8";
        return XML_STREAM_UNSUPPORTED_ENCODING;
    case XML_ERROR_INVALID_TOKEN:
        *text = "not well-formed (invalid token or invalid UTF-8)";
        return XML_STREAM_NOT_WELL_FORMED;
    case XML_ERROR_JUNK_AFTER_DOC_ELEMENT:
        *text = "data after the end of the stream";
        return XML_STREAM_NOT_WELL_FORMED;
    default:
        *text = "not well-formed XML";
        return XML_STREAM_NOT_WELL_FORMED;
    }
}

/* RFC 6120 section 11.6: a UTF-16/UTF-32 byte order mark or a NUL among
 * the first two bytes means another encoding than UTF-8. The first two
 * bytes are held back until both are here and then given to expat in one
 * call: expat guesses an encoding from the first bytes it sees (a NUL second
 * byte means UTF-16 to it even when told UTF-8), so its verdict would
 * otherwise depend on how the peer's bytes were split. */
static bool sniff_encoding(struct xml_ref_stream *s)
{
    unsigned char c0 = s->first_bytes[0];
    if (c0 == 0xFE || c0 == 0xFF || c0 == 0x00 || (s->nfirst == 2 && s->first_bytes[1] == 0x00)) {
        fail(s, XML_STREAM_UNSUPPORTED_ENCODING, "encoding other than UTF-8");
        return false;
    }
    return true;
}

/* Gives len bytes to expat. Returns 0, -1 after a stream error, 1 when a
 * callback stopped the stream (s->stop_at tells where). */
static int parse_bytes(struct xml_ref_stream *s, const unsigned char *b, size_t len)
{
    /* Feed in slices of at most one element's worth so that expat never
     * holds more than about twice the cap of an unfinished element before
     * the check below refuses it. */
    size_t slice = s->lim.max_element_bytes;
    if (slice > INT32_MAX) {
        slice = INT32_MAX;
    }
    size_t done = 0;
    while (done < len) {
        size_t n = len - done;
        if (n > slice) {
            n = slice;
        }
        enum XML_Status st = XML_Parse(s->parser, (const char *)b + done, (int)n, XML_FALSE);
        s->fed += n;
        if (st != XML_STATUS_OK) {
            if (s->state == ST_FAILED) {
                return -1;
            }
            if (s->stop) {
                s->state = ST_STOPPED;
                return 1;
            }
            const char *text;
            enum xml_stream_error e = map_expat_error(XML_GetErrorCode(s->parser), &text);
            fail(s, e, text);
            return -1;
        }
        done += n;
        /* Caps while bytes arrive: the unfinished element (or header)
         * already holds more bytes than one may have. */
        if (s->state != ST_CLOSED && s->fed - s->boundary > s->lim.max_element_bytes) {
            fail(s, XML_STREAM_POLICY_VIOLATION,
                 s->state == ST_PROLOG ? "stream header larger than the size limit"
                                       : "element larger than the stanza size limit");
            return -1;
        }
    }
    return 0;
}

ssize_t xml_ref_feed(struct xml_ref_stream *s, const void *buf, size_t len)
{
    if (s->in_callback || s->state == ST_FAILED || s->state == ST_STOPPED) {
        return -1;
    }
    if (len > SSIZE_MAX) {
        len = SSIZE_MAX;
    }
    const unsigned char *b = buf;
    size_t rest = len;
    unsigned long long start = s->accepted;
    int rc = 0;
    if (s->nfirst < 2) {
        while (s->nfirst < 2 && rest > 0) {
            s->first_bytes[s->nfirst++] = *b++;
            rest--;
        }
        if (s->nfirst > 0 && !sniff_encoding(s)) {
            return -1;
        }
        if (s->nfirst == 2) {
            rc = parse_bytes(s, s->first_bytes, 2);
        }
    }
    if (rc == 0 && rest > 0) {
        rc = parse_bytes(s, b, rest);
    }
    if (rc < 0) {
        return -1;
    }
    if (rc > 0) {
        s->accepted = s->stop_at;
        return (ssize_t)(s->stop_at - start);
    }
    s->accepted += len;
    return (ssize_t)len;
}
