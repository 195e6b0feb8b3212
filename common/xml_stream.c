/*
 * xml_stream.c - the XMPP stream parser (see xml_stream.h): a tokenizer for
 * the restricted XML of RFC 6120 section 11, written for this one job.
 *
 * An XMPP stream never carries a DTD, entity declarations, comments or
 * processing instructions (section 11.1), and only UTF-8 (section 11.6), so
 * a general XML parser does more than needed. This one reads exactly the
 * subset: an optional XML declaration, the stream header, first-level
 * elements with their attributes, namespace declarations, character data,
 * CDATA sections, the five predefined entities and character references.
 * Everything else is refused with the condition the expat-based parser
 * reported before it (tests/common/test_xml_stream_diff.c runs both on the
 * same inputs, split at random places).
 *
 * How it reads: scan() walks the bytes it is given and handles one token at
 * a time (a run of character data, a tag, a reference, a CDATA section
 * boundary...). A token that lies whole in the caller's buffer is used in
 * place: names, attribute values and text reach the stanza builder as
 * pointer and length into that buffer, decoded into a scratch buffer only
 * when they carry references or white space that XML normalises. A token
 * cut by the end of the buffer is copied to s->pend and completed from the
 * next feeds; its end is searched with a resumable finder (s->find_*), so a
 * large token fed in small pieces costs linear time, and the bytes held are
 * capped like the element they belong to.
 *
 * Stream structure is tracked as before: depth 0 outside the stream
 * element, 1 between first-level elements, 2 and more inside one. The tree
 * of the current first-level element is built in a per-stream pool and
 * handed over when its end tag arrives.
 *
 * Namespaces (Namespaces in XML 1.0): declarations are bindings on a stack
 * popped with their element; "xml" is bound to its namespace and cannot be
 * rebound, "xmlns" cannot be declared, a prefix cannot be undeclared, and
 * neither reserved namespace name can be bound to another prefix (or as the
 * default). Names are QNames: at most one colon, not first or last.
 *
 * Known difference from expat: names with characters outside ASCII are
 * checked against the XML 1.0 fifth edition name ranges (expat uses the
 * older tables of the fourth edition); characters above U+FFFF are refused
 * in names, as expat does.
 */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "xml_stream.h"

enum stream_state {
    ST_PROLOG,  /* before the stream header */
    ST_OPEN,    /* inside <stream:stream> */
    ST_CLOSED,  /* after </stream:stream> */
    ST_STOPPED, /* a callback asked to stop */
    ST_FAILED,  /* a stream error was reported */
};

/* Kinds of markup token, decided from the bytes after '<' or '&'. */
enum tok_kind {
    TK_UNKNOWN = 0,
    TK_START,   /* <name ...> or <name .../> */
    TK_END,     /* </name> */
    TK_PI,      /* <?target ...?> (the XML declaration included) */
    TK_COMMENT, /* <!-- ... --> */
    TK_CDATA,   /* <![CDATA[ (the opening only; the content is text) */
    TK_DOCTYPE, /* <!DOCTYPE name */
    TK_REF,     /* &...; */
    TK_BOM,     /* EF BB BF at the very start */
};

/* A namespace binding; prefix and URI live in s->nsbuf. plen 0: default. */
struct binding {
    size_t poff, plen, uoff, ulen;
};

/* An open element: its raw name (in s->names) and the bindings below it. */
struct frame {
    size_t name_off, name_len;
    size_t nbind;
};

/* One attribute of the start tag being read. */
struct attr {
    const unsigned char *name;
    size_t nlen;
    size_t colon; /* index of ':' in name, 0 if none */
    const unsigned char *raw;
    size_t rawlen;
    bool decode;     /* raw holds references or white space to normalise */
    bool plain;      /* only attr_plain bytes: nothing for a serialiser to escape */
    size_t voff;     /* decoded value in s->scratch, if decode */
    const char *val; /* the value (raw or decoded) */
    size_t vlen;     /* its length */
    const char *ns;  /* resolved namespace name */
    size_t nslen;    /* its length */
    bool xmlns;      /* a namespace declaration, not an attribute */
};

struct xml_stream {
    struct xml_limits lim;
    struct xml_stream_cb cb;
    void *arg;
    struct stanza_pool *pool;
    enum stream_state state;
    enum xml_stream_error err;
    bool in_callback;
    unsigned long long stop_at;  /* offset just past the event that stopped */
    unsigned long long accepted; /* bytes consumed since the reset */
    /* Offset where the bytes counted against max_element_bytes start: the
     * first byte after the last complete stream-level token, or the '<' of
     * the first-level element being read (0 for the header). */
    unsigned long long boundary;
    unsigned depth;
    struct stanza *cur;         /* element being built (depth >= 2) */
    struct stanza *root;        /* first-level element being built */
    size_t *text_bytes;         /* per stanza depth, [1..max_depth] */
    unsigned long long decl_at; /* offset where an XML declaration may start */
    bool in_cdata;
    bool skip_lf; /* a CR ended the last text: a LF right after it is its pair */
    /* the unfinished token, from its first byte */
    unsigned char *pend;
    size_t pend_len, pend_cap;
    unsigned long long pend_off;
    /* resumable search for the end of the token at pend[0] */
    enum tok_kind find_kind;
    size_t find_pos;
    unsigned find_state;
    size_t find_aux;
    /* open elements and namespace bindings */
    struct frame *frames;
    char *names;
    size_t names_len, names_cap;
    struct binding *binds;
    size_t nbinds, binds_cap;
    char *nsbuf;
    size_t nsbuf_len, nsbuf_cap;
    /* the start tag being read */
    struct attr *attrs;
    size_t attrs_cap;
    char *scratch;
    size_t scratch_len, scratch_cap;
    /* stream header namespace declarations */
    unsigned ns_decls;
    bool hdr_bad_decl;
    bool hdr_db;
    const char *hdr_default;
    unsigned char first_bytes[2];
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

const char *xml_stream_error_condition(enum xml_stream_error e)
{
    if ((size_t)e >= sizeof(conditions) / sizeof(conditions[0])) {
        return "undefined-condition";
    }
    return conditions[e];
}

void xml_limits_default(struct xml_limits *l)
{
    l->max_element_bytes = XML_LIMIT_ELEMENT_BYTES_DEFAULT;
    l->max_depth = XML_LIMIT_DEPTH_DEFAULT;
    l->max_attrs = XML_LIMIT_ATTRS_DEFAULT;
    l->max_attr_value_bytes = XML_LIMIT_ATTR_VALUE_DEFAULT;
    l->max_text_bytes = XML_LIMIT_TEXT_DEFAULT;
    l->max_ns_decls = XML_LIMIT_NS_DECLS_DEFAULT;
}

/* ---- Errors and callbacks ------------------------------------------------- */

/* Records the first error and tells the owner once. */
static void fail(struct xml_stream *s, enum xml_stream_error err, const char *text)
{
    if (s->state == ST_FAILED) {
        return;
    }
    s->state = ST_FAILED;
    s->err = err;
    if (s->cb.error != NULL) {
        s->in_callback = true;
        s->cb.error(s->arg, err, conditions[err], text);
        s->in_callback = false;
    }
}

static void nwf(struct xml_stream *s, const char *text)
{
    fail(s, XML_STREAM_NOT_WELL_FORMED, text);
}

static void oom(struct xml_stream *s)
{
    fail(s, XML_STREAM_RESOURCE_CONSTRAINT, "out of memory");
}

static bool live(const struct xml_stream *s)
{
    return s->state != ST_FAILED && s->state != ST_STOPPED;
}

/* A callback's verdict: -1 stops right after the event that ends at end. */
static void after_callback(struct xml_stream *s, int rc, unsigned long long end)
{
    if (rc != 0 && s->state != ST_FAILED) {
        s->state = ST_STOPPED;
        s->stop_at = end;
    }
}

static bool grow(void **buf, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) {
        return true;
    }
    /* Start at 64 bytes' worth or 8 elements: what a stream's usual
     * headers and stanzas need, and every stream keeps it for its life
     * (memory per idle stream, issue 3). */
    size_t n = *cap ? *cap : (elem < 8 ? 64 / elem : 8);
    while (n < need) {
        if (n > SIZE_MAX / 2 / elem) {
            return false;
        }
        n *= 2;
    }
    void *p = realloc(*buf, n * elem);
    if (p == NULL) {
        return false;
    }
    *buf = p;
    *cap = n;
    return true;
}

/* ---- Characters ------------------------------------------------------------ */

/* Byte classes for character data. */
enum {
    C_TEXT = 0, /* ASCII allowed as is in text */
    C_LT,
    C_AMP,
    C_RSQB,
    C_CR,
    C_BAD,  /* not an XML character (controls) or not a UTF-8 lead byte */
    C_UTF8, /* lead byte of a multi-byte sequence */
};

static unsigned char text_class[256];
static unsigned char name_class[256]; /* 1: ASCII name start; 2: other name char; 3: >= 0x80 */
/* 1: taken as is in an attribute value, and written back as is by
 * stanza_serialize() (which escapes & < > ' " TAB LF CR there). */
static unsigned char attr_plain[256];

static void init_tables(void)
{
    static bool done;
    if (done) {
        return;
    }
    for (unsigned c = 0; c < 256; c++) {
        unsigned char t = C_TEXT;
        if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') {
            t = C_BAD;
        } else if (c == '<') {
            t = C_LT;
        } else if (c == '&') {
            t = C_AMP;
        } else if (c == ']') {
            t = C_RSQB;
        } else if (c == '\r') {
            t = C_CR;
        } else if (c >= 0xC0 && c <= 0xF4) {
            t = C_UTF8;
        } else if (c >= 0x80) {
            t = C_BAD;
        }
        text_class[c] = t;
        unsigned char n = 0;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_') {
            n = 1;
        } else if ((c >= '0' && c <= '9') || c == '.' || c == '-') {
            n = 2;
        } else if (c >= 0x80) {
            n = 3;
        }
        name_class[c] = n;
        attr_plain[c] =
            c >= 0x20 && c < 0x80 && c != '<' && c != '>' && c != '&' && c != '\'' && c != '"';
    }
    done = true;
}

/* Bytes of the UTF-8 sequence that lead byte c (>= 0xC0) starts. */
static size_t utf8_len(unsigned char c)
{
    return c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
}

/* The multi-byte UTF-8 sequence at p (n bytes available, n >= 1, p[0] >=
 * 0x80): its length (2-4) when complete and a valid XML character (no
 * overlong form, surrogate, U+FFFE, U+FFFF or code point above U+10FFFF);
 * 0 when more bytes are needed; -1 when invalid. *cp gets the code point. */
static int utf8_char(const unsigned char *p, size_t n, uint32_t *cp)
{
    unsigned char c = p[0];
    if (c < 0xC0 || c > 0xF4) {
        return -1;
    }
    int len = (int)utf8_len(c);
    if (n < (size_t)len) {
        return 0; /* judged when complete, as expat does */
    }
    if (c < 0xC2) {
        return -1; /* overlong */
    }
    for (int i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80) {
            return -1;
        }
    }
    uint32_t v;
    if (len == 2) {
        v = ((uint32_t)(c & 0x1F) << 6) | (p[1] & 0x3F);
    } else if (len == 3) {
        v = ((uint32_t)(c & 0x0F) << 12) | ((uint32_t)(p[1] & 0x3F) << 6) | (p[2] & 0x3F);
        if (v < 0x800 || (v >= 0xD800 && v <= 0xDFFF) || v == 0xFFFE || v == 0xFFFF) {
            return -1;
        }
    } else {
        v = ((uint32_t)(c & 0x07) << 18) | ((uint32_t)(p[1] & 0x3F) << 12) |
            ((uint32_t)(p[2] & 0x3F) << 6) | (p[3] & 0x3F);
        if (v < 0x10000 || v > 0x10FFFF) {
            return -1;
        }
    }
    *cp = v;
    return len;
}

/* XML 1.0 (fifth edition) section 2.3 NameStartChar / NameChar above ASCII.
 * Characters above U+FFFF are refused (as expat does). */
static bool name_start_cp(uint32_t v)
{
    return (v >= 0xC0 && v <= 0xD6) || (v >= 0xD8 && v <= 0xF6) || (v >= 0xF8 && v <= 0x2FF) ||
           (v >= 0x370 && v <= 0x37D) || (v >= 0x37F && v <= 0x1FFF) ||
           (v >= 0x200C && v <= 0x200D) || (v >= 0x2070 && v <= 0x218F) ||
           (v >= 0x2C00 && v <= 0x2FEF) || (v >= 0x3001 && v <= 0xD7FF) ||
           (v >= 0xF900 && v <= 0xFDCF) || (v >= 0xFDF0 && v <= 0xFFFD);
}

static bool name_cp(uint32_t v)
{
    return name_start_cp(v) || v == 0xB7 || (v >= 0x300 && v <= 0x36F) ||
           (v >= 0x203F && v <= 0x2040);
}

/* Length of the NCName at p[0..n) (0 if none starts there): stops at the
 * first byte that cannot continue it. *bad is set to 1 when a non-ASCII
 * sequence there is not a name character (the name is then invalid), to 2
 * when the bytes end inside such a sequence. */
static size_t ncname(const unsigned char *p, size_t n, int *bad)
{
    size_t i = 0;
    *bad = 0;
    while (i < n) {
        unsigned char c = p[i];
        unsigned k = name_class[c];
        if (k == 1 || (k == 2 && i > 0)) {
            i++;
            continue;
        }
        if (k != 3) {
            break;
        }
        uint32_t v;
        int l = utf8_char(p + i, n - i, &v);
        if (l <= 0 || (i == 0 ? !name_start_cp(v) : !name_cp(v))) {
            *bad = l == 0 ? 2 : 1;
            return i;
        }
        i += (size_t)l;
    }
    return i;
}

/* The characters outside ASCII of a DOCTYPE's name p[0..n) (already split
 * off at its delimiters) are UTF-8 name characters: the name is checked
 * before the DOCTYPE is refused as restricted XML, as expat does. */
static bool doctype_name_ok(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n;) {
        if (name_class[p[i]] != 3) {
            i++;
            continue;
        }
        uint32_t v;
        int l = utf8_char(p + i, n - i, &v);
        if (l <= 0 || (i == 0 ? !name_start_cp(v) : !name_cp(v))) {
            return false;
        }
        i += (size_t)l;
    }
    return true;
}

/* Outcome of reading a piece of a start tag from bytes that may end early. */
enum { TAG_ERROR = -1, TAG_MORE = 0, TAG_DONE = 1 };

/* A QName at p[*i] (prefix:local or local): TAG_DONE (advances *i, sets
 * *colon, 0 when unprefixed), TAG_MORE when the bytes end inside it or
 * right after it, TAG_ERROR when none is there or it is malformed. */
static int qname(const unsigned char *p, size_t n, size_t *i, size_t *colon)
{
    int bad;
    size_t a = ncname(p + *i, n - *i, &bad);
    if (bad) {
        return bad == 2 ? TAG_MORE : TAG_ERROR;
    }
    if (a == 0) {
        return *i == n ? TAG_MORE : TAG_ERROR;
    }
    size_t j = *i + a;
    *colon = 0;
    if (j < n && p[j] == ':') {
        if (j + 1 == n) {
            return TAG_MORE;
        }
        size_t b = ncname(p + j + 1, n - j - 1, &bad);
        if (bad) {
            return bad == 2 ? TAG_MORE : TAG_ERROR;
        }
        if (b == 0) {
            return TAG_ERROR;
        }
        *colon = a;
        j += 1 + b;
        if (j < n && p[j] == ':') {
            return TAG_ERROR;
        }
    }
    if (j == n) {
        return TAG_MORE;
    }
    *i = j;
    return TAG_DONE;
}

static bool is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool all_space(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!is_space(p[i])) {
            return false;
        }
    }
    return true;
}

static bool xml_char(uint32_t v)
{
    return v == 0x9 || v == 0xA || v == 0xD || (v >= 0x20 && v <= 0xD7FF) ||
           (v >= 0xE000 && v <= 0xFFFD) || (v >= 0x10000 && v <= 0x10FFFF);
}

static size_t utf8_encode(uint32_t v, char *out)
{
    if (v < 0x80) {
        out[0] = (char)v;
        return 1;
    }
    if (v < 0x800) {
        out[0] = (char)(0xC0 | (v >> 6));
        out[1] = (char)(0x80 | (v & 0x3F));
        return 2;
    }
    if (v < 0x10000) {
        out[0] = (char)(0xE0 | (v >> 12));
        out[1] = (char)(0x80 | ((v >> 6) & 0x3F));
        out[2] = (char)(0x80 | (v & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (v >> 18));
    out[1] = (char)(0x80 | ((v >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((v >> 6) & 0x3F));
    out[3] = (char)(0x80 | (v & 0x3F));
    return 4;
}

/* The syntax of a reference p[0..n) from '&' to ';' inclusive: 1 for a
 * character reference, 2 for an entity reference, 0 if malformed. */
static int ref_syntax(const unsigned char *p, size_t n)
{
    if (n < 3 || p[n - 1] != ';') {
        return 0;
    }
    if (p[1] == '#') {
        size_t i = 2;
        bool hex = p[2] == 'x';
        if (hex) {
            i++;
        }
        if (i >= n - 1) {
            return 0;
        }
        for (; i < n - 1; i++) {
            unsigned char c = p[i];
            bool ok = (c >= '0' && c <= '9') ||
                      (hex && ((c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')));
            if (!ok) {
                return 0;
            }
        }
        return 1;
    }
    int bad;
    size_t l = ncname(p + 1, n - 2, &bad);
    return (!bad && l == n - 2) ? 2 : 0;
}

/* Resolves a reference whose syntax ref_syntax() accepted: writes its
 * UTF-8 to out (4 bytes room) and returns the length; 0 with the stream
 * failed for an undefined entity (restricted XML) or a character
 * reference to something that is not an XML character. */
static size_t ref_value(struct xml_stream *s, const unsigned char *p, size_t n, char *out)
{
    if (p[1] == '#') {
        bool hex = p[2] == 'x';
        uint32_t v = 0;
        for (size_t i = hex ? 3 : 2; i < n - 1; i++) {
            unsigned char c = p[i];
            unsigned d = c <= '9' ? (unsigned)(c - '0') : (unsigned)((c | 0x20) - 'a' + 10);
            v = v * (hex ? 16 : 10) + d;
            if (v > 0x10FFFF) {
                v = 0x110000;
            }
        }
        if (!xml_char(v)) {
            nwf(s, "character reference to a character XML does not allow");
            return 0;
        }
        return utf8_encode(v, out);
    }
    static const struct {
        const char *name;
        char c;
    } predef[] = {{"amp", '&'}, {"lt", '<'}, {"gt", '>'}, {"quot", '"'}, {"apos", '\''}};
    for (size_t k = 0; k < sizeof(predef) / sizeof(predef[0]); k++) {
        size_t l = strlen(predef[k].name);
        if (n - 2 == l && memcmp(p + 1, predef[k].name, l) == 0) {
            out[0] = predef[k].c;
            return 1;
        }
    }
    fail(s, XML_STREAM_RESTRICTED_XML, "entity references are not allowed (RFC 6120 section 11.1)");
    return 0;
}

/* ---- Namespaces -------------------------------------------------------------- */

static const char xmlns_uri[] = "http://www.w3.org/2000/xmlns/";

/* The namespace bound to prefix p (plen 0: the default); false if unbound.
 * The pointer stays valid until the next binding is pushed. */
static bool lookup_ns(const struct xml_stream *s, const char *p, size_t plen, const char **ns,
                      size_t *nslen)
{
    if (plen == 3 && memcmp(p, "xml", 3) == 0) {
        *ns = STANZA_NS_XML;
        *nslen = sizeof(STANZA_NS_XML) - 1;
        return true;
    }
    for (size_t i = s->nbinds; i-- > 0;) {
        const struct binding *b = &s->binds[i];
        if (b->plen == plen && memcmp(s->nsbuf + b->poff, p, plen) == 0) {
            *ns = s->nsbuf + b->uoff;
            *nslen = b->ulen;
            return true;
        }
    }
    if (plen == 0) {
        *ns = "";
        *nslen = 0;
        return true;
    }
    return false;
}

/* Declarations seen on the stream header (RFC 6120 section 4.8.5): the
 * content namespace as default (or the stream namespace, prefix-free),
 * 'stream' and the XEP-0220 'db' prefix; nothing for extended content. */
static void header_decl(struct xml_stream *s, const char *p, size_t plen, const char *u,
                        size_t ulen)
{
#define IS(str, lit) (str##len == sizeof(lit) - 1 && memcmp(str, lit, sizeof(lit) - 1) == 0)
    if (plen == 0) {
        if (IS(u, STANZA_NS_SERVER)) {
            s->hdr_default = STANZA_NS_SERVER;
        } else if (IS(u, STANZA_NS_CLIENT)) {
            s->hdr_default = STANZA_NS_CLIENT;
        } else if (IS(u, STANZA_NS_STREAMS)) {
            s->hdr_default = STANZA_NS_STREAMS;
        } else {
            s->hdr_bad_decl = true;
        }
    } else if (IS(p, "db") && IS(u, STANZA_NS_DIALBACK)) {
        s->hdr_db = true;
    } else if (IS(u, STANZA_NS_STREAMS)) {
        /* the element's prefix is checked in stream_header() */
    } else if (IS(p, "xml") && IS(u, STANZA_NS_XML)) {
        /* redundant but legal */
    } else {
        s->hdr_bad_decl = true;
    }
#undef IS
}

/* Pushes the binding of one declaration (Namespaces in XML 1.0 section 3,
 * the constraints on "xml" and "xmlns"). False with the stream failed. */
static bool bind(struct xml_stream *s, const char *p, size_t plen, const char *u, size_t ulen)
{
    bool is_xml_uri = ulen == sizeof(STANZA_NS_XML) - 1 && memcmp(u, STANZA_NS_XML, ulen) == 0;
    bool is_xmlns_uri = ulen == sizeof(xmlns_uri) - 1 && memcmp(u, xmlns_uri, ulen) == 0;
    bool is_xml_prefix = plen == 3 && memcmp(p, "xml", 3) == 0;
    if (plen > 0 && ulen == 0) {
        fail(s, XML_STREAM_BAD_NAMESPACE_PREFIX, "a namespace prefix cannot be undeclared");
        return false;
    }
    if ((plen == 5 && memcmp(p, "xmlns", 5) == 0) || is_xml_prefix != is_xml_uri || is_xmlns_uri) {
        fail(s, XML_STREAM_BAD_NAMESPACE_PREFIX, "invalid namespace prefix declaration");
        return false;
    }
    if (!grow((void **)&s->binds, &s->binds_cap, s->nbinds + 1, sizeof(*s->binds)) ||
        !grow((void **)&s->nsbuf, &s->nsbuf_cap, s->nsbuf_len + plen + ulen + 1, 1)) {
        oom(s);
        return false;
    }
    struct binding *b = &s->binds[s->nbinds++];
    b->poff = s->nsbuf_len;
    b->plen = plen;
    memcpy(s->nsbuf + s->nsbuf_len, p, plen);
    s->nsbuf_len += plen;
    b->uoff = s->nsbuf_len;
    b->ulen = ulen;
    memcpy(s->nsbuf + s->nsbuf_len, u, ulen);
    s->nsbuf_len += ulen;
    s->nsbuf[s->nsbuf_len++] = '\0';
    s->ns_decls++;
    if (s->depth == 0) {
        header_decl(s, p, plen, u, ulen);
    }
    return true;
}

static void unbind_to(struct xml_stream *s, size_t nbind)
{
    if (nbind < s->nbinds) {
        s->nsbuf_len = s->binds[nbind].poff;
        s->nbinds = nbind;
    }
}

/* ---- Text -------------------------------------------------------------------- */

/* Character data p[0..n) (already decoded and normalised) ending at
 * absolute offset end. */
static void emit_text(struct xml_stream *s, const char *p, size_t n, unsigned long long end)
{
    if (n == 0) {
        return;
    }
    if (s->depth >= 2) {
        size_t *tb = &s->text_bytes[s->depth - 1];
        *tb += n;
        if (*tb > s->lim.max_text_bytes) {
            fail(s, XML_STREAM_POLICY_VIOLATION, "element text longer than the limit");
            return;
        }
        if (stanza_build_text(s->cur, p, n) < 0) {
            oom(s);
        }
        return;
    }
    if (!all_space((const unsigned char *)p, n)) {
        if (s->depth == 1) {
            /* RFC 6120 section 4.6.1: only whitespace keep-alives. */
            fail(s, XML_STREAM_BAD_FORMAT, "text between first-level elements");
        } else {
            nwf(s, s->state == ST_CLOSED ? "data after the end of the stream"
                                         : "text before the stream header");
        }
        return;
    }
    if (s->depth == 1 || s->state == ST_CLOSED) {
        s->boundary = end;
    }
}

/*
 * Character data (or CDATA content when s->in_cdata) at p[0..n), base being
 * the absolute offset of p[0]: consumes it up to the next markup, the end
 * of the CDATA section, or the end of the bytes. Returns the bytes consumed;
 * fewer than n without an error means markup starts there or an incomplete
 * character (or a ']' that may start "]]>") waits for more bytes.
 */
static size_t scan_text(struct xml_stream *s, const unsigned char *p, size_t n,
                        unsigned long long base)
{
    size_t i = 0;
    if (s->skip_lf) {
        s->skip_lf = false;
        if (p[0] == '\n') {
            i = 1; /* the LF of a CR LF pair already given as "\n" */
        }
    }
    size_t start = i;
    for (;;) {
        while (i < n && text_class[p[i]] == C_TEXT) {
            i++;
        }
        if (i == n) {
            break;
        }
        unsigned char c = p[i];
        switch (text_class[c]) {
        case C_LT:
        case C_AMP:
            if (!s->in_cdata) {
                goto out;
            }
            i++;
            continue;
        case C_CR:
            /* XML 1.0 section 2.11: CR LF and a lone CR become LF. */
            emit_text(s, (const char *)p + start, i - start, base + i);
            if (!live(s)) {
                return i;
            }
            i++;
            if (i < n) {
                if (p[i] == '\n') {
                    i++;
                }
            } else {
                s->skip_lf = true;
            }
            emit_text(s, "\n", 1, base + i);
            if (!live(s)) {
                return i;
            }
            start = i;
            continue;
        case C_RSQB:
            if (i + 1 == n || (p[i + 1] == ']' && i + 2 == n)) {
                goto out; /* may be "]]>": wait */
            }
            if (p[i + 1] == ']' && p[i + 2] == '>') {
                emit_text(s, (const char *)p + start, i - start, base + i);
                if (!live(s)) {
                    return i;
                }
                if (!s->in_cdata) {
                    nwf(s, "']]>' in character data");
                    return i;
                }
                s->in_cdata = false;
                i += 3;
                if (s->depth == 1) {
                    s->boundary = base + i;
                }
                return i;
            }
            i++;
            continue;
        case C_UTF8: {
            uint32_t v;
            int l = utf8_char(p + i, n - i, &v);
            if (l == 0) {
                goto out;
            }
            if (l < 0) {
                emit_text(s, (const char *)p + start, i - start, base + i);
                nwf(s, "not well-formed (invalid token or invalid UTF-8)");
                return i;
            }
            i += (size_t)l;
            continue;
        }
        default:
            emit_text(s, (const char *)p + start, i - start, base + i);
            nwf(s, "not well-formed (invalid token or invalid UTF-8)");
            return i;
        }
    }
out:
    emit_text(s, (const char *)p + start, i - start, base + i);
    return i;
}

/* ---- Tags -------------------------------------------------------------------- */

/* Checks shared by every start tag: attribute and namespace caps. */
static bool check_start_caps(struct xml_stream *s, size_t natts)
{
    if (s->ns_decls > s->lim.max_ns_decls) {
        fail(s, XML_STREAM_POLICY_VIOLATION, "too many namespace declarations on one element");
        return false;
    }
    if (natts > s->lim.max_attrs) {
        fail(s, XML_STREAM_POLICY_VIOLATION, "too many attributes on one element");
        return false;
    }
    for (size_t i = 0, k = 0; k < natts; i++) {
        if (s->attrs[i].xmlns) {
            continue;
        }
        k++;
        if (s->attrs[i].vlen > s->lim.max_attr_value_bytes) {
            fail(s, XML_STREAM_POLICY_VIOLATION, "attribute value too long");
            return false;
        }
    }
    return true;
}

static bool push_frame(struct xml_stream *s, const unsigned char *name, size_t nlen, size_t nbind)
{
    if (!grow((void **)&s->names, &s->names_cap, s->names_len + nlen, 1)) {
        oom(s);
        return false;
    }
    struct frame *f = &s->frames[s->depth];
    f->name_off = s->names_len;
    f->name_len = nlen;
    f->nbind = nbind;
    memcpy(s->names + s->names_len, name, nlen);
    s->names_len += nlen;
    return true;
}

static void pop_frame(struct xml_stream *s)
{
    struct frame *f = &s->frames[s->depth - 1];
    s->names_len = f->name_off;
    unbind_to(s, f->nbind);
}

/* Copies p[0..n) and a NUL into the scratch buffer; returns its offset or
 * SIZE_MAX when out of memory. */
static size_t scratch_put(struct xml_stream *s, const char *p, size_t n)
{
    if (!grow((void **)&s->scratch, &s->scratch_cap, s->scratch_len + n + 1, 1)) {
        return SIZE_MAX;
    }
    size_t off = s->scratch_len;
    memcpy(s->scratch + off, p, n);
    s->scratch[off + n] = '\0';
    s->scratch_len += n + 1;
    return off;
}

/* Decodes an attribute value (XML 1.0 section 3.3.3: references resolved,
 * each white space character and CR LF pair becomes a space) into the
 * scratch buffer. False with the stream failed. */
static bool decode_value(struct xml_stream *s, struct attr *a)
{
    const unsigned char *p = a->raw;
    size_t n = a->rawlen;
    if (!grow((void **)&s->scratch, &s->scratch_cap, s->scratch_len + n + 1, 1)) {
        oom(s);
        return false;
    }
    char *out = s->scratch + s->scratch_len;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        unsigned char c = p[i];
        if (c == '&') {
            const unsigned char *semi = memchr(p + i, ';', n - i);
            size_t rl = (size_t)(semi - (p + i)) + 1;
            char v[4];
            size_t vl = ref_value(s, p + i, rl, v);
            if (vl == 0) {
                return false;
            }
            /* a reference is never longer than what it stands for */
            memcpy(out + o, v, vl);
            o += vl;
            i += rl;
        } else if (c == '\r') {
            out[o++] = ' ';
            i += (i + 1 < n && p[i + 1] == '\n') ? 2 : 1;
        } else if (c == '\t' || c == '\n') {
            out[o++] = ' ';
            i++;
        } else {
            out[o++] = (char)c;
            i++;
        }
    }
    out[o] = '\0';
    a->voff = s->scratch_len;
    a->vlen = o;
    s->scratch_len += o + 1;
    return true;
}

static void end_element(struct xml_stream *s, unsigned long long end);

static void stream_header(struct xml_stream *s, const unsigned char *name, size_t colon,
                          const char *ns, size_t nslen, size_t nlen, size_t natts,
                          unsigned long long end)
{
    const char *local = (const char *)name + (colon ? colon + 1 : 0);
    size_t llen = nlen - (colon ? colon + 1 : 0);
    /* RFC 6120 section 4.8.1: the root must be {streams}stream. */
    if (nslen != sizeof(STANZA_NS_STREAMS) - 1 || memcmp(ns, STANZA_NS_STREAMS, nslen) != 0) {
        fail(s, XML_STREAM_INVALID_NAMESPACE, "stream element not in the stream namespace");
        return;
    }
    if (llen != 6 || memcmp(local, "stream", 6) != 0) {
        fail(s, XML_STREAM_BAD_FORMAT, "root element is not <stream:stream/>");
        return;
    }
    /* RFC 6120 section 4.8.5: only the prefix 'stream' is accepted. */
    if (colon != 0 && (colon != 6 || memcmp(name, "stream", 6) != 0)) {
        fail(s, XML_STREAM_BAD_NAMESPACE_PREFIX, "stream namespace prefix is not 'stream'");
        return;
    }
    if (s->hdr_bad_decl) {
        fail(s, XML_STREAM_INVALID_NAMESPACE,
             "stream header declares a namespace other than the content, stream and "
             "dialback namespaces");
        return;
    }
    /* The header's strings are NUL-terminated copies in the scratch buffer,
     * grown once first so that the decoded values in it do not move. */
    size_t need = 0;
    for (size_t i = 0, k = 0; k < natts; i++) {
        if (!s->attrs[i].xmlns) {
            need += s->attrs[i].vlen + 1;
            k++;
        }
    }
    if (!grow((void **)&s->scratch, &s->scratch_cap, s->scratch_len + need, 1)) {
        oom(s);
        return;
    }
    size_t off[5] = {SIZE_MAX, SIZE_MAX, SIZE_MAX, SIZE_MAX, SIZE_MAX};
    for (size_t i = 0, k = 0; k < natts; i++) {
        struct attr *a = &s->attrs[i];
        if (a->xmlns) {
            continue;
        }
        k++;
        a->val = a->decode ? s->scratch + a->voff : (const char *)a->raw;
        int slot = -1;
        const char *an = (const char *)a->name;
        if (a->colon == 0) {
            if (a->nlen == 2 && memcmp(an, "to", 2) == 0) {
                slot = 0;
            } else if (a->nlen == 4 && memcmp(an, "from", 4) == 0) {
                slot = 1;
            } else if (a->nlen == 2 && memcmp(an, "id", 2) == 0) {
                slot = 2;
            } else if (a->nlen == 7 && memcmp(an, "version", 7) == 0) {
                slot = 3;
            }
        } else if (a->nslen == sizeof(STANZA_NS_XML) - 1 &&
                   memcmp(a->ns, STANZA_NS_XML, a->nslen) == 0 && a->nlen - a->colon - 1 == 4 &&
                   memcmp(an + a->colon + 1, "lang", 4) == 0) {
            slot = 4;
        }
        if (slot < 0) {
            continue;
        }
        off[slot] = scratch_put(s, a->val, a->vlen);
        if (off[slot] == SIZE_MAX) {
            oom(s);
            return;
        }
    }
    struct xml_stream_header h = {0};
    const char **fields[5] = {&h.to, &h.from, &h.id, &h.version, &h.lang};
    for (int k = 0; k < 5; k++) {
        *fields[k] = off[k] == SIZE_MAX ? NULL : s->scratch + off[k];
    }
    /* Prefix-free canonicalisation declares the stream namespace as the
     * default; then there is no content namespace (RFC 6120 section 4.8.2). */
    if (s->hdr_default != NULL && strcmp(s->hdr_default, STANZA_NS_STREAMS) != 0) {
        h.default_ns = s->hdr_default;
    }
    h.stream_prefixed = colon != 0;
    h.db_declared = s->hdr_db;
    s->state = ST_OPEN;
    s->depth = 1;
    s->boundary = end;
    if (s->cb.header != NULL) {
        s->in_callback = true;
        int rc = s->cb.header(s->arg, &h);
        s->in_callback = false;
        after_callback(s, rc, end);
    }
    s->hdr_default = NULL;
    stanza_pool_clear(s->pool);
}

static size_t find_end(struct xml_stream *s, const unsigned char *p, size_t n, bool resume);

/* A syntax fault in a start tag at t[0..n) that may be cut short: reported
 * only as early as the resumable search for the tag's end (find_end())
 * would report it, so that where the bytes were split never changes the
 * outcome. TAG_MORE while the tag's end has not arrived. */
static int tag_fault(struct xml_stream *s, const unsigned char *t, size_t n, const char *msg)
{
    size_t e = find_end(s, t, n, false);
    if (e == SIZE_MAX) {
        return TAG_ERROR; /* the search refused it first */
    }
    if (e == 0) {
        return TAG_MORE;
    }
    nwf(s, msg);
    return TAG_ERROR;
}

/*
 * A start tag at t[0..n), from '<', starting at absolute offset base. The
 * bytes may end before the tag does: TAG_MORE then, with nothing done.
 * Else TAG_ERROR (reported) or TAG_DONE with *len the tag's length. The
 * checks come in the order expat made them, so that the same condition is
 * reported when a tag has several faults: syntax first, then per attribute
 * duplicates, references and declarations, then prefixes, then the caps and
 * the XMPP rules.
 */
static int start_tag(struct xml_stream *s, const unsigned char *t, size_t n,
                     unsigned long long base, size_t *len)
{
    size_t i = 1, colon;
    int r = qname(t, n, &i, &colon);
    if (r != TAG_DONE) {
        return r == TAG_ERROR ? tag_fault(s, t, n, "not well-formed (invalid element name)") : r;
    }
    const unsigned char *name = t + 1;
    size_t nlen = i - 1;
    bool empty = false;
    size_t na = 0;
    for (;;) {
        bool ws = false;
        while (i < n && is_space(t[i])) {
            i++;
            ws = true;
        }
        if (i == n) {
            return TAG_MORE;
        }
        if (t[i] == '>') {
            break;
        }
        if (t[i] == '/') {
            if (i + 1 == n) {
                return TAG_MORE;
            }
            if (t[i + 1] != '>') {
                return tag_fault(s, t, n, "not well-formed (bad empty-element tag)");
            }
            empty = true;
            i++;
            break;
        }
        size_t acolon, astart = i;
        r = ws ? qname(t, n, &i, &acolon) : TAG_ERROR;
        if (r != TAG_DONE) {
            return r == TAG_ERROR ? tag_fault(s, t, n, "not well-formed (bad attribute)") : r;
        }
        size_t anlen = i - astart;
        while (i < n && is_space(t[i])) {
            i++;
        }
        if (i == n) {
            return TAG_MORE;
        }
        if (t[i] != '=') {
            return tag_fault(s, t, n, "not well-formed (attribute without value)");
        }
        i++;
        while (i < n && is_space(t[i])) {
            i++;
        }
        if (i == n) {
            return TAG_MORE;
        }
        unsigned char q = t[i];
        if (q != '\'' && q != '"') {
            return tag_fault(s, t, n, "not well-formed (unquoted attribute value)");
        }
        size_t vstart = ++i;
        bool decode = false, plain = true;
        for (;;) {
            while (i < n && attr_plain[t[i]]) {
                i++;
            }
            if (i == n) {
                return TAG_MORE;
            }
            unsigned char c = t[i];
            if (c == q) {
                break;
            }
            plain = false;
            switch (text_class[c]) {
            case C_TEXT: /* the other quote, TAB, LF */
            case C_RSQB:
                if (c == '\t' || c == '\n') {
                    decode = true;
                }
                i++;
                continue;
            case C_CR:
                decode = true;
                i++;
                continue;
            case C_AMP: {
                size_t k = i + 1;
                while (k < n && (name_class[t[k]] != 0 || t[k] == '#')) {
                    k++;
                }
                if (k == n) {
                    return TAG_MORE;
                }
                if (t[k] != ';' || ref_syntax(t + i, k + 1 - i) == 0) {
                    return tag_fault(s, t, n, "not well-formed (bad reference)");
                }
                decode = true;
                i = k + 1;
                continue;
            }
            case C_UTF8: {
                uint32_t v;
                int l = utf8_char(t + i, n - i, &v);
                if (l == 0) {
                    return TAG_MORE;
                }
                if (l < 0) {
                    return tag_fault(s, t, n, "not well-formed (invalid token or invalid UTF-8)");
                }
                i += (size_t)l;
                continue;
            }
            default:
                return tag_fault(s, t, n, "not well-formed (invalid character in attribute value)");
            }
        }
        if (!grow((void **)&s->attrs, &s->attrs_cap, na + 1, sizeof(*s->attrs))) {
            oom(s);
            return TAG_ERROR;
        }
        struct attr *a = &s->attrs[na++];
        a->name = t + astart;
        a->nlen = anlen;
        a->colon = acolon;
        a->raw = t + vstart;
        a->rawlen = i - vstart;
        a->decode = decode;
        a->plain = plain;
        i++; /* the closing quote */
    }
    /* Far more attributes than the caps allow: refused before the
     * duplicate check, whose cost grows with their square. (Fewer are
     * refused below, after the checks expat made first.) */
    if (na > 4 * ((size_t)s->lim.max_attrs + s->lim.max_ns_decls) + 64) {
        fail(s, XML_STREAM_POLICY_VIOLATION, "too many attributes on one element");
        return TAG_ERROR;
    }
    *len = i + 1;
    unsigned long long end = base + *len;
    size_t nbind = s->nbinds;
    s->ns_decls = 0;
    s->scratch_len = 0;
    size_t natts = 0;
    for (size_t k = 0; k < na; k++) {
        struct attr *a = &s->attrs[k];
        for (size_t j = 0; j < k; j++) {
            if (s->attrs[j].nlen == a->nlen && memcmp(s->attrs[j].name, a->name, a->nlen) == 0) {
                nwf(s, "duplicate attribute");
                return TAG_ERROR;
            }
        }
        if (a->decode) {
            if (!decode_value(s, a)) {
                return TAG_ERROR;
            }
        } else {
            a->vlen = a->rawlen;
        }
        const char *an = (const char *)a->name;
        a->xmlns = (a->colon == 0 && a->nlen == 5 && memcmp(an, "xmlns", 5) == 0) ||
                   (a->colon == 5 && memcmp(an, "xmlns", 5) == 0);
        if (a->xmlns) {
            const char *v = a->decode ? s->scratch + a->voff : (const char *)a->raw;
            size_t plen = a->colon ? a->nlen - 6 : 0;
            if (!bind(s, an + 6, plen, v, a->vlen)) {
                return TAG_ERROR;
            }
        } else {
            natts++;
        }
    }
    /* Values decoded: their addresses are stable now. */
    for (size_t k = 0; k < na; k++) {
        struct attr *a = &s->attrs[k];
        a->val = a->decode ? s->scratch + a->voff : (const char *)a->raw;
        if (a->xmlns) {
            continue;
        }
        if (a->colon == 0) {
            a->ns = "";
            a->nslen = 0;
            continue;
        }
        if (!lookup_ns(s, (const char *)a->name, a->colon, &a->ns, &a->nslen)) {
            fail(s, XML_STREAM_BAD_NAMESPACE_PREFIX, "unbound namespace prefix");
            return TAG_ERROR;
        }
        /* Namespaces in XML 1.0 section 6.3: no two attributes with the
         * same expanded name. */
        for (size_t j = 0; j < k; j++) {
            struct attr *b = &s->attrs[j];
            if (!b->xmlns && b->colon != 0 && b->nslen == a->nslen &&
                memcmp(b->ns, a->ns, a->nslen) == 0 && b->nlen - b->colon == a->nlen - a->colon &&
                memcmp(b->name + b->colon, a->name + a->colon, a->nlen - a->colon) == 0) {
                nwf(s, "duplicate attribute");
                return TAG_ERROR;
            }
        }
    }
    const char *ns;
    size_t nslen;
    if (!lookup_ns(s, (const char *)name, colon, &ns, &nslen)) {
        fail(s, XML_STREAM_BAD_NAMESPACE_PREFIX, "unbound namespace prefix");
        return TAG_ERROR;
    }
    if (!check_start_caps(s, natts)) {
        return TAG_ERROR;
    }
    if (s->state != ST_PROLOG && s->depth == 0) {
        nwf(s, "data after the end of the stream");
        return TAG_ERROR;
    }
    if (s->depth == 0) {
        if (!push_frame(s, name, nlen, nbind)) {
            return TAG_ERROR;
        }
        stream_header(s, name, colon, ns, nslen, nlen, natts, end);
        if (empty && live(s)) {
            end_element(s, end);
        }
        return TAG_DONE;
    }
    /* RFC 6120 section 4.8.5: no prefix on elements qualified by the
     * jabber:client or jabber:server content namespace. */
    if (colon != 0 &&
        ((nslen == sizeof(STANZA_NS_SERVER) - 1 && memcmp(ns, STANZA_NS_SERVER, nslen) == 0) ||
         (nslen == sizeof(STANZA_NS_CLIENT) - 1 && memcmp(ns, STANZA_NS_CLIENT, nslen) == 0))) {
        fail(s, XML_STREAM_BAD_NAMESPACE_PREFIX, "prefix on an element in the content namespace");
        return TAG_ERROR;
    }
    unsigned sdepth = s->depth; /* depth inside the first-level element, 1-based */
    if (sdepth > s->lim.max_depth) {
        fail(s, XML_STREAM_POLICY_VIOLATION, "elements nested too deeply");
        return TAG_ERROR;
    }
    const char *local = (const char *)name + (colon ? colon + 1 : 0);
    size_t llen = nlen - (colon ? colon + 1 : 0);
    struct stanza *el;
    if (s->depth == 1) {
        s->boundary = base;
        el = stanza_build_root(s->pool, ns, nslen, local, llen);
        s->root = el;
    } else {
        el = stanza_build_child(s->cur, ns, nslen, local, llen);
    }
    if (el == NULL) {
        oom(s);
        return TAG_ERROR;
    }
    for (size_t k = 0; k < na; k++) {
        struct attr *a = &s->attrs[k];
        if (a->xmlns) {
            continue;
        }
        size_t lo = a->colon ? a->colon + 1 : 0;
        if (stanza_build_attr_flags(el, a->ns, a->nslen, (const char *)a->name + lo, a->nlen - lo,
                                    a->val, a->vlen, a->plain ? STANZA_VALUE_PLAIN : 0) < 0) {
            oom(s);
            return TAG_ERROR;
        }
    }
    if (!push_frame(s, name, nlen, nbind)) {
        return TAG_ERROR;
    }
    s->text_bytes[sdepth] = 0;
    s->cur = el;
    s->depth++;
    if (empty) {
        end_element(s, end);
    }
    return TAG_DONE;
}

/* The element at the top of the stack ends at absolute offset end. */
static void end_element(struct xml_stream *s, unsigned long long end)
{
    pop_frame(s);
    if (s->depth == 1) {
        /* </stream:stream> (RFC 6120 section 4.4) */
        s->depth = 0;
        s->state = ST_CLOSED;
        s->boundary = end;
        if (s->cb.close != NULL) {
            s->in_callback = true;
            int rc = s->cb.close(s->arg);
            s->in_callback = false;
            after_callback(s, rc, end);
        }
        return;
    }
    s->depth--;
    if (s->depth > 1) {
        s->cur = stanza_parent(s->cur);
        return;
    }
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
        after_callback(s, rc, end);
    }
    stanza_pool_clear(s->pool);
}

static void end_tag(struct xml_stream *s, const unsigned char *t, size_t n, unsigned long long end)
{
    /* "</" name S? ">": the name must be the open element's, byte for byte */
    size_t i = 2;
    while (i < n && (name_class[t[i]] != 0 || t[i] == ':')) {
        i++;
    }
    size_t nlen = i - 2;
    while (is_space(t[i])) {
        i++;
    }
    if (nlen == 0 || i != n - 1) {
        nwf(s, "not well-formed (bad end tag)");
        return;
    }
    if (s->depth == 0) {
        nwf(s, s->state == ST_CLOSED ? "data after the end of the stream"
                                     : "end tag before the stream header");
        return;
    }
    const struct frame *f = &s->frames[s->depth - 1];
    if (f->name_len != nlen || memcmp(s->names + f->name_off, t + 2, nlen) != 0) {
        nwf(s, "mismatched end tag");
        return;
    }
    end_element(s, end);
}

/* ---- XML declaration, PIs, comments, DOCTYPE -------------------------------- */

/* The XML declaration t[0..n) ("<?xml" ... "?>", at the start of the
 * stream): version, then optional encoding and standalone, as expat
 * parses them. */
static void xml_decl(struct xml_stream *s, const unsigned char *t, size_t n)
{
    static const char *const names[] = {"version", "encoding", "standalone"};
    size_t i = 5, end = n - 2;
    int next = 0;
    bool have_version = false, other_encoding = false, standalone_no = false;
    while (i < end) {
        if (!is_space(t[i])) {
            goto bad;
        }
        while (i < end && is_space(t[i])) {
            i++;
        }
        if (i == end) {
            break;
        }
        size_t ns = i;
        while (i < end && t[i] != '=' && !is_space(t[i])) {
            i++;
        }
        size_t nl = i - ns;
        while (i < end && is_space(t[i])) {
            i++;
        }
        if (i == end || t[i] != '=') {
            goto bad;
        }
        i++;
        while (i < end && is_space(t[i])) {
            i++;
        }
        if (i == end || (t[i] != '\'' && t[i] != '"')) {
            goto bad;
        }
        unsigned char q = t[i++];
        size_t vs = i;
        while (i < end && t[i] != q) {
            unsigned char c = t[i];
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '-' || c == '_')) {
                goto bad;
            }
            i++;
        }
        if (i == end) {
            goto bad;
        }
        size_t vl = i - vs;
        i++;
        int which = -1;
        for (int k = next; k < 3; k++) {
            if (nl == strlen(names[k]) && memcmp(t + ns, names[k], nl) == 0) {
                which = k;
                break;
            }
        }
        if (which < 0 || (which > 0 && !have_version)) {
            goto bad;
        }
        next = which + 1;
        const char *v = (const char *)t + vs;
        if (which == 0) {
            have_version = true;
        } else if (which == 1) {
            if (vl == 0 || !((v[0] | 0x20) >= 'a' && (v[0] | 0x20) <= 'z')) {
                goto bad;
            }
            /* RFC 6120 section 11.6: UTF-8 only. */
            other_encoding = vl != 5 || strncasecmp(v, "UTF-8", 5) != 0;
        } else {
            standalone_no = vl == 2 && memcmp(v, "no", 2) == 0;
            if (!standalone_no && (vl != 3 || memcmp(v, "yes", 3) != 0)) {
                goto bad;
            }
        }
    }
    if (!have_version) {
        goto bad;
    }
    if (other_encoding) {
        fail(s, XML_STREAM_UNSUPPORTED_ENCODING, "encoding other than UTF-8 declared");
    } else if (standalone_no) {
        /* RFC 6120 section 11.5: standalone='no' means external markup. */
        fail(s, XML_STREAM_RESTRICTED_XML, "standalone='no' is not allowed (RFC 6120 11.5)");
    }
    return;
bad:
    nwf(s, "not well-formed (bad XML declaration)");
}

/* A complete PI t[0..n) ("<?" ... "?>"). */
static void pi(struct xml_stream *s, const unsigned char *t, size_t n, unsigned long long base)
{
    int bad;
    size_t l = ncname(t + 2, n - 2, &bad);
    size_t i = 2 + l;
    if (l == 0 || bad || !(is_space(t[i]) || (t[i] == '?' && i == n - 2))) {
        nwf(s, "not well-formed (bad processing instruction)");
        return;
    }
    bool is_xml = l == 3 && memcmp(t + 2, "xml", 3) == 0;
    if (!is_xml && l == 3 && (t[2] | 0x20) == 'x' && (t[3] | 0x20) == 'm' && (t[4] | 0x20) == 'l') {
        nwf(s, "not well-formed (reserved processing instruction target)");
        return;
    }
    if (is_xml && s->state == ST_PROLOG && base == s->decl_at) {
        xml_decl(s, t, n);
        return;
    }
    if (is_xml && s->state == ST_CLOSED) {
        nwf(s, "data after the end of the stream");
        return;
    }
    fail(s, XML_STREAM_RESTRICTED_XML,
         "processing instructions are not allowed (RFC 6120 section 11.1)");
}

/* ---- Finding the end of a token ---------------------------------------------- */

/*
 * Decides what markup starts at p[0] ('<' or '&') and where it ends.
 * Returns its length, 0 when more bytes are needed (the search resumes from
 * s->find_* next time when resume is set), or SIZE_MAX after an error. For
 * TK_CDATA and TK_DOCTYPE the "end" is the end of the part that decides.
 */
static size_t find_end(struct xml_stream *s, const unsigned char *p, size_t n, bool resume)
{
    if (!resume) {
        s->find_kind = TK_UNKNOWN;
        s->find_pos = 1;
        s->find_state = 0;
    }
    size_t i = s->find_pos;
    if (s->find_kind == TK_UNKNOWN) {
        if (p[0] == 0xEF) {
            s->find_kind = TK_BOM;
        } else if (p[0] == '&') {
            s->find_kind = TK_REF;
        } else {
            if (n < 2) {
                return 0;
            }
            switch (p[1]) {
            case '/':
                s->find_kind = TK_END;
                i = 2;
                break;
            case '?':
                s->find_kind = TK_PI;
                i = 2;
                break;
            case '!': {
                /* which of "<!--", "<![CDATA[", "<!DOCTYPE" fits this context */
                static const char com[] = "<!--", cdata[] = "<![CDATA[", doct[] = "<!DOCTYPE";
                bool c1 = true, c2 = s->depth >= 1, c3 = s->state == ST_PROLOG;
                bool comment = false;
                size_t k;
                for (k = 2; k < n && k < 9 && !comment; k++) {
                    c1 = c1 && k < 4 && p[k] == (unsigned char)com[k];
                    c2 = c2 && p[k] == (unsigned char)cdata[k];
                    c3 = c3 && p[k] == (unsigned char)doct[k];
                    if (!c1 && !c2 && !c3) {
                        nwf(s, "not well-formed (invalid markup)");
                        return SIZE_MAX;
                    }
                    comment = c1 && k == 3;
                }
                if (comment) {
                    s->find_kind = TK_COMMENT;
                    i = 4;
                } else if (k < 9) {
                    return 0;
                } else if (c2) {
                    return 9; /* <![CDATA[ */
                } else {
                    s->find_kind = TK_DOCTYPE;
                    i = 9;
                }
                break;
            }
            default:
                if (name_class[p[1]] != 1 && name_class[p[1]] != 3) {
                    nwf(s, "not well-formed (invalid token)");
                    return SIZE_MAX;
                }
                if (s->state == ST_CLOSED) {
                    nwf(s, "data after the end of the stream");
                    return SIZE_MAX;
                }
                s->find_kind = TK_START;
                i = 2;
                break;
            }
        }
    }
    size_t e = 0;
    switch (s->find_kind) {
    case TK_START: {
        /* '>' outside quotes. Some faults are refused at once, as expat
         * does: '<' anywhere, a byte that cannot be in a tag outside
         * quotes, anything but white space, '/' or '>' right after a
         * closing quote. State: 0 outside quotes, the quote character
         * inside a value, 1 right after its closing quote. */
        unsigned q = s->find_state;
        for (; i < n; i++) {
            unsigned char c = p[i];
            if (c == '<') {
                nwf(s, "not well-formed (invalid token)");
                return SIZE_MAX;
            }
            if (c >= 0xC0 && n - i < utf8_len(c)) {
                break; /* a character judged when complete, as expat does */
            }
            if (q > 1) {
                if (c == q) {
                    q = 1;
                }
                continue;
            }
            if (c == '>') {
                e = i + 1;
                break;
            }
            if (q == 1 && !is_space(c) && c != '/') {
                nwf(s, "not well-formed (no white space between attributes)");
                return SIZE_MAX;
            }
            q = 0;
            if (c == '\'' || c == '"') {
                q = c;
            } else if (name_class[c] == 0 && !is_space(c) && c != ':' && c != '=' && c != '/') {
                nwf(s, "not well-formed (invalid token)");
                return SIZE_MAX;
            }
        }
        s->find_state = q;
        break;
    }
    case TK_END:
        for (; i < n; i++) {
            unsigned char c = p[i];
            if (c == '>') {
                e = i + 1;
                break;
            }
            if (c >= 0xC0 && n - i < utf8_len(c)) {
                break;
            }
        }
        break;
    case TK_REF:
        for (; i < n; i++) {
            unsigned char c = p[i];
            if (c == ';') {
                e = i + 1;
                break;
            }
            if (name_class[c] == 0 && c != '#' && c != ':') {
                nwf(s, "not well-formed (bad reference)");
                return SIZE_MAX;
            }
        }
        break;
    case TK_BOM:
        if (n >= 3) {
            if (p[1] != 0xBB || p[2] != 0xBF) {
                nwf(s, "text before the stream header");
                return SIZE_MAX;
            }
            e = 3;
        }
        break;
    case TK_PI:
    case TK_COMMENT: {
        /* ends at "?>" or "-->"; in a comment "--" must be its end; the
         * characters must be XML characters */
        bool com = s->find_kind == TK_COMMENT;
        while (i < n) {
            unsigned char c = p[i];
            if (c == (com ? '-' : '?')) {
                if (com) {
                    if (i + 1 >= n) {
                        break;
                    }
                    if (p[i + 1] == '-') {
                        if (i + 2 >= n) {
                            break;
                        }
                        if (p[i + 2] != '>') {
                            nwf(s, "not well-formed ('--' in a comment)");
                            return SIZE_MAX;
                        }
                        e = i + 3;
                        break;
                    }
                } else {
                    if (i + 1 >= n) {
                        break;
                    }
                    if (p[i + 1] == '>') {
                        e = i + 2;
                        break;
                    }
                }
                i++;
                continue;
            }
            unsigned cl = text_class[c];
            if (cl == C_UTF8) {
                uint32_t v;
                int l = utf8_char(p + i, n - i, &v);
                if (l == 0) {
                    break;
                }
                if (l < 0) {
                    nwf(s, "not well-formed (invalid token or invalid UTF-8)");
                    return SIZE_MAX;
                }
                i += (size_t)l;
                continue;
            }
            if (cl == C_BAD) {
                nwf(s, "not well-formed (invalid token or invalid UTF-8)");
                return SIZE_MAX;
            }
            i++;
        }
        break;
    }
    case TK_DOCTYPE: {
        /* "<!DOCTYPE" S+ Name S* then '[', '>', SYSTEM or PUBLIC: where
         * expat reports the DOCTYPE (or earlier, a syntax error). States:
         * 0 before S, 1 in S, 2 in the name, 3 after it, 4 in the keyword
         * (from s->find_aux). */
        unsigned st = s->find_state;
        for (; i < n && e == 0; i++) {
            unsigned char c = p[i];
            if (st == 0) {
                if (!is_space(c)) {
                    nwf(s, "not well-formed (bad DOCTYPE)");
                    return SIZE_MAX;
                }
                st = 1;
            } else if (st == 1) {
                if (is_space(c)) {
                    continue;
                }
                if (name_class[c] != 1 && name_class[c] != 3) {
                    nwf(s, "not well-formed (bad DOCTYPE)");
                    return SIZE_MAX;
                }
                st = 2;
                s->find_aux = i;
            } else if (st == 2) {
                if ((is_space(c) || c == '[' || c == '>') &&
                    !doctype_name_ok(p + s->find_aux, i - s->find_aux)) {
                    nwf(s, "not well-formed (bad DOCTYPE name)");
                    return SIZE_MAX;
                }
                if (is_space(c)) {
                    st = 3;
                } else if (c == '[' || c == '>') {
                    e = i + 1;
                } else if (name_class[c] == 0 && c != ':') {
                    nwf(s, "not well-formed (bad DOCTYPE)");
                    return SIZE_MAX;
                }
            } else if (st == 3) {
                if (c == '[' || c == '>') {
                    e = i + 1;
                } else if (c == 'S' || c == 'P') {
                    st = 4;
                    s->find_aux = i;
                } else if (!is_space(c)) {
                    nwf(s, "not well-formed (bad DOCTYPE)");
                    return SIZE_MAX;
                }
            } else if (name_class[c] == 0) {
                /* an external identifier: SYSTEM or PUBLIC */
                size_t kl = i - s->find_aux;
                const char *kw = (const char *)p + s->find_aux;
                if (kl != 6 || (memcmp(kw, "SYSTEM", 6) != 0 && memcmp(kw, "PUBLIC", 6) != 0)) {
                    nwf(s, "not well-formed (bad DOCTYPE)");
                    return SIZE_MAX;
                }
                e = i + 1;
            }
        }
        s->find_state = st;
        break;
    }
    default:
        break;
    }
    if (e == 0) {
        s->find_pos = i;
    }
    return e;
}

/* A complete markup token t[0..n) at absolute offset base, of the kind
 * find_end() decided. */
static void markup(struct xml_stream *s, const unsigned char *t, size_t n, unsigned long long base)
{
    unsigned long long end = base + n;
    switch (s->find_kind) {
    case TK_START: {
        size_t len;
        if (start_tag(s, t, n, base, &len) == TAG_MORE) {
            nwf(s, "not well-formed (invalid token)"); /* not reached: t ends the tag */
        }
        break;
    }
    case TK_END:
        end_tag(s, t, n, end);
        break;
    case TK_REF: {
        if (ref_syntax(t, n) == 0) {
            nwf(s, "not well-formed (bad reference)");
            break;
        }
        char v[4];
        size_t vl = ref_value(s, t, n, v);
        if (vl > 0) {
            emit_text(s, v, vl, end);
        }
        break;
    }
    case TK_PI:
        pi(s, t, n, base);
        break;
    case TK_COMMENT:
        fail(s, XML_STREAM_RESTRICTED_XML, "comments are not allowed (RFC 6120 section 11.1)");
        break;
    case TK_DOCTYPE:
        /* RFC 6120 section 11.1: no entity is ever expanded, nothing of
         * the DTD is read */
        fail(s, XML_STREAM_RESTRICTED_XML, "DOCTYPE is not allowed (RFC 6120 section 11.1)");
        break;
    case TK_BOM:
        s->decl_at = end;
        break;
    default: /* <![CDATA[ */
        s->in_cdata = true;
        if (s->depth == 1) {
            s->boundary = end;
        }
        break;
    }
    s->skip_lf = false;
}

/*
 * Reads p[0..n), whose first byte is at absolute offset base. Returns the
 * bytes consumed: all of them, or up to the first byte of a token that is
 * not complete yet, or up to where the stream failed or stopped. resume:
 * p[0] starts the token whose end find_end() was looking for.
 */
static size_t scan(struct xml_stream *s, const unsigned char *p, size_t n, unsigned long long base,
                   bool resume)
{
    size_t i = 0;
    while (i < n && live(s)) {
        unsigned char c = p[i];
        bool is_markup = !s->in_cdata && (c == '<' || c == '&');
        if (c == 0xEF && base + i == 0) {
            is_markup = true; /* a byte order mark? */
        }
        if (!is_markup) {
            size_t k = scan_text(s, p + i, n - i, base + i);
            if (k == 0) {
                break;
            }
            i += k;
            continue;
        }
        if (c == '&' && s->depth == 0) {
            nwf(s, s->state == ST_CLOSED ? "data after the end of the stream"
                                         : "text before the stream header");
            break;
        }
        if (c == '<' && !(resume && i == 0) && i + 1 < n && s->state != ST_CLOSED &&
            (name_class[p[i + 1]] == 1 || name_class[p[i + 1]] == 3)) {
            /* A start tag, read in one pass where it lies; when it is cut
             * by the end of the bytes, the resumable search takes over. */
            size_t len;
            int r = start_tag(s, p + i, n - i, base + i, &len);
            if (r == TAG_DONE) {
                i += len;
                s->skip_lf = false;
                continue;
            }
            if (r == TAG_ERROR || find_end(s, p + i, n - i, false) != 0) {
                break;
            }
            break; /* incomplete */
        }
        size_t e = find_end(s, p + i, n - i, resume && i == 0);
        if (e == SIZE_MAX || e == 0) {
            break;
        }
        markup(s, p + i, e, base + i);
        i += e;
        if (s->depth == 1 && live(s) && s->boundary < base + i && c != '&') {
            s->boundary = base + i;
        }
    }
    return i;
}

/* ---- Creation, feeding ------------------------------------------------------- */

static void state_init(struct xml_stream *s)
{
    s->state = ST_PROLOG;
    s->err = XML_STREAM_OK;
    s->stop_at = 0;
    s->accepted = 0;
    s->boundary = 0;
    s->depth = 0;
    s->cur = NULL;
    s->root = NULL;
    s->decl_at = 0;
    s->in_cdata = false;
    s->skip_lf = false;
    s->pend_len = 0;
    s->pend_off = 0;
    s->find_kind = TK_UNKNOWN;
    s->find_pos = 1;
    s->find_state = 0;
    s->names_len = 0;
    s->nbinds = 0;
    s->nsbuf_len = 0;
    s->ns_decls = 0;
    s->hdr_bad_decl = false;
    s->hdr_db = false;
    s->hdr_default = NULL;
    s->nfirst = 0;
}

struct xml_stream *xml_stream_new(const struct xml_limits *limits, const struct xml_stream_cb *cb,
                                  void *arg)
{
    init_tables();
    struct xml_stream *s = calloc(1, sizeof(*s));
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
    s->text_bytes = calloc((size_t)s->lim.max_depth + 2, sizeof(*s->text_bytes));
    s->frames = calloc((size_t)s->lim.max_depth + 2, sizeof(*s->frames));
    s->pool = stanza_pool_new();
    if (s->text_bytes == NULL || s->frames == NULL || s->pool == NULL) {
        xml_stream_free(s);
        return NULL;
    }
    state_init(s);
    return s;
}

void xml_stream_free(struct xml_stream *s)
{
    if (s == NULL) {
        return;
    }
    stanza_pool_free(s->pool);
    free(s->text_bytes);
    free(s->frames);
    free(s->pend);
    free(s->names);
    free(s->binds);
    free(s->nsbuf);
    free(s->attrs);
    free(s->scratch);
    free(s);
}

int xml_stream_reset(struct xml_stream *s)
{
    if (s->in_callback) {
        return -1;
    }
    stanza_pool_clear(s->pool);
    state_init(s);
    return 0;
}

enum xml_stream_error xml_stream_error(const struct xml_stream *s)
{
    return s->err;
}

size_t xml_stream_offset(const struct xml_stream *s)
{
    return (size_t)s->accepted;
}

/* RFC 6120 section 11.6: a UTF-16/UTF-32 byte order mark or a NUL among
 * the first two bytes means another encoding than UTF-8. */
static bool sniff_encoding(struct xml_stream *s, const unsigned char *b, size_t len)
{
    for (size_t i = 0; i < len && s->nfirst < 2; i++) {
        s->first_bytes[s->nfirst++] = b[i];
    }
    if (s->nfirst == 0) {
        return true;
    }
    unsigned char c0 = s->first_bytes[0];
    if (c0 == 0xFE || c0 == 0xFF || c0 == 0x00 || (s->nfirst == 2 && s->first_bytes[1] == 0x00)) {
        fail(s, XML_STREAM_UNSUPPORTED_ENCODING, "encoding other than UTF-8");
        return false;
    }
    return true;
}

/* The bytes not consumed yet (of the stream header, of the first-level
 * element being read, or of a token between them) may not exceed the cap. */
static bool within_cap(struct xml_stream *s, unsigned long long upto)
{
    if (live(s) && upto - s->boundary > s->lim.max_element_bytes) {
        fail(s, XML_STREAM_POLICY_VIOLATION,
             s->state == ST_PROLOG ? "stream header larger than the size limit"
                                   : "element larger than the stanza size limit");
        return false;
    }
    return true;
}

static bool pend_append(struct xml_stream *s, const unsigned char *b, size_t n)
{
    if (n == 0) {
        return true;
    }
    if (!grow((void **)&s->pend, &s->pend_cap, s->pend_len + n, 1)) {
        oom(s);
        return false;
    }
    memcpy(s->pend + s->pend_len, b, n);
    s->pend_len += n;
    return true;
}

ssize_t xml_stream_feed(struct xml_stream *s, const void *buf, size_t len)
{
    if (s->in_callback || !live(s)) {
        return -1;
    }
    if (len == 0) {
        return 0;
    }
    if (len > SSIZE_MAX) {
        len = SSIZE_MAX;
    }
    const unsigned char *b = buf;
    unsigned long long start = s->accepted;
    if (s->nfirst < 2) {
        if (!sniff_encoding(s, b, len)) {
            return -1;
        }
        if (s->nfirst < 2) {
            /* The first byte alone is held back: with the second one it may
             * mean another encoding (section 11.6), which comes first. */
            s->accepted = len;
            s->pend_off = 0;
            return pend_append(s, b, len) ? (ssize_t)len : -1;
        }
    }
    size_t pos = 0;
    if (s->pend_len > 0) {
        /* Complete the held token with as few of the new bytes as needed. */
        size_t held = s->pend_len, added = 0, step = 64;
        for (;;) {
            size_t k = len - added < step ? len - added : step;
            if (!pend_append(s, b + added, k)) {
                return -1;
            }
            added += k;
            size_t c = scan(s, s->pend, s->pend_len, s->pend_off, true);
            if (s->state == ST_FAILED) {
                return -1;
            }
            if (s->state == ST_STOPPED) {
                s->pend_len = 0;
                s->accepted = s->stop_at;
                return (ssize_t)(s->stop_at - start);
            }
            if (c > 0 && c >= held) {
                /* the held bytes are used up; go on in the caller's buffer */
                pos = c - held;
                s->pend_len = 0;
                break;
            }
            if (c > 0) {
                /* a token ended inside the held bytes and another began */
                memmove(s->pend, s->pend + c, s->pend_len - c);
                s->pend_len -= c;
                s->pend_off += c;
                held -= c;
            }
            if (added == len) {
                s->accepted = start + len;
                if (!within_cap(s, s->accepted)) {
                    return -1;
                }
                return (ssize_t)len;
            }
            if (!within_cap(s, s->pend_off + s->pend_len)) {
                return -1;
            }
            step *= 2;
        }
    }
    if (pos < len) {
        size_t c = scan(s, b + pos, len - pos, start + pos, false);
        if (s->state == ST_FAILED) {
            return -1;
        }
        if (s->state == ST_STOPPED) {
            s->accepted = s->stop_at;
            return (ssize_t)(s->stop_at - start);
        }
        pos += c;
    }
    s->accepted = start + len;
    if (s->state != ST_CLOSED || pos < len) {
        if (!within_cap(s, s->accepted)) {
            return -1;
        }
    }
    if (pos < len) {
        s->pend_off = start + pos;
        if (!pend_append(s, b + pos, len - pos)) {
            return -1;
        }
    }
    return (ssize_t)len;
}
