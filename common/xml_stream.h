/*
 * xml_stream.h - the XMPP stream parser (RFC 6120 sections 4 and 11) for
 * untrusted input: a tokenizer of its own for the restricted XML an XMPP
 * stream may carry (xml_stream.c), no general XML parser underneath.
 *
 * It takes bytes and emits typed events through callbacks; it does no I/O
 * and resumes at any byte boundary: feeding one byte at a time gives exactly
 * the events that feeding everything at once gives, error conditions
 * included, and each event fires as soon as the last byte of what it
 * reports has been fed. It reports what the expat-based parser it replaced
 * reported (tests/common/test_xml_stream_diff.c compares them), except
 * where expat's verdict depended on how the bytes were split (two faults
 * close together) and for names with characters outside ASCII, which are
 * checked against the ranges of XML 1.0 fifth edition (expat used the
 * fourth edition's tables). The events:
 *   header  - the stream header <stream:stream ...> was read;
 *   element - one complete first-level element (stanza or nonza: message,
 *             presence, iq, stream:features, stream:error, starttls,
 *             proceed, SASL auth/success/failure, db:result, db:verify...)
 *             as a borrowed struct stanza tree;
 *   close   - </stream:stream> was read;
 *   error   - the stream must be closed with the given RFC 6120 section
 *             4.9.3 stream error condition. Fires at most once, after which
 *             the stream refuses input until xml_stream_reset().
 *
 * What is refused, with the condition reported:
 *   restricted-xml      DOCTYPE, entity declarations, entity references other
 *                       than the five predefined ones and character references,
 *                       comments, processing instructions (an XML declaration at
 *                       the very start is allowed), standalone='no' (RFC 6120
 *                       sections 11.1, 11.5). No entity is ever expanded: the
 *                       parser stops at the DOCTYPE.
 *   not-well-formed     XML or XML-namespace well-formedness errors, invalid UTF-8,
 *                       junk after </stream:stream>.
 *   unsupported-encoding an encoding declaration other than UTF-8, a UTF-16 or
 *                       UTF-32 byte order mark, a NUL among the first two bytes
 *                       (section 11.6).
 *   invalid-namespace   a root element outside the stream namespace, a default
 *                       namespace on the header other than jabber:server or
 *                       jabber:client, other namespace declarations on the header
 *                       than the default, stream and db ones (sections 4.8.1,
 *                       4.8.2, 4.8.5, 4.9.3.10).
 *   bad-namespace-prefix an unbound prefix; a stream-namespace prefix other than
 *                       "stream"; a prefix on an element qualified by jabber:server
 *                       or jabber:client (sections 4.8.5, 4.9.3.2).
 *   bad-format          a root element in the stream namespace not named "stream";
 *                       non-whitespace text between first-level elements.
 *   policy-violation    a cap of struct xml_limits exceeded (section 4.9.3.14).
 *   resource-constraint memory allocation failed.
 *
 * Caps are enforced while bytes arrive: a first-level element (or the stream
 * header) is refused as soon as more than max_element_bytes of it have been
 * fed, without first buffering the whole element.
 *
 * Nothing here blocks, logs or allocates per byte: one pool per stream holds
 * the tree of the element being read and is reused for the next one.
 * Not thread-safe; one stream, one thread.
 */
#ifndef XFED_XML_STREAM_H
#define XFED_XML_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "stanza.h"

/* Defaults and floors of struct xml_limits. */
#define XML_LIMIT_ELEMENT_BYTES_DEFAULT 262144
#define XML_LIMIT_ELEMENT_BYTES_MIN     10000 /* RFC 6120 section 13.12 item 4 */
#define XML_LIMIT_DEPTH_DEFAULT         32
#define XML_LIMIT_ATTRS_DEFAULT         64
#define XML_LIMIT_ATTR_VALUE_DEFAULT    8192
#define XML_LIMIT_TEXT_DEFAULT          262144
#define XML_LIMIT_NS_DECLS_DEFAULT      16

/* Every cap is a setting. A value of 0 means "use the default";
 * max_element_bytes below XML_LIMIT_ELEMENT_BYTES_MIN is raised to it. */
struct xml_limits {
    /* bytes of one first-level element from its '<' to the end of its end
     * tag; the same cap applies to the stream header (XML declaration
     * included) */
    size_t max_element_bytes;
    /* nesting inside a first-level element: the element itself is depth 1,
     * its children depth 2, ... */
    unsigned max_depth;
    /* attributes on any one element (the stream header included) */
    unsigned max_attrs;
    /* bytes of any one attribute value (after entity decoding) */
    size_t max_attr_value_bytes;
    /* bytes of character data directly inside any one element */
    size_t max_text_bytes;
    /* namespace declarations (xmlns, xmlns:p) on any one element */
    unsigned max_ns_decls;
};

/* Fills *l with the defaults above. */
void xml_limits_default(struct xml_limits *l);

/* Stream error conditions (RFC 6120 section 4.9.3) the parser reports. */
enum xml_stream_error {
    XML_STREAM_OK = 0,
    XML_STREAM_BAD_FORMAT,
    XML_STREAM_BAD_NAMESPACE_PREFIX,
    XML_STREAM_INVALID_NAMESPACE,
    XML_STREAM_NOT_WELL_FORMED,
    XML_STREAM_POLICY_VIOLATION,
    XML_STREAM_RESOURCE_CONSTRAINT,
    XML_STREAM_RESTRICTED_XML,
    XML_STREAM_UNSUPPORTED_ENCODING,
};

/* The condition's element name, e.g. "restricted-xml" ("" for OK). */
const char *xml_stream_error_condition(enum xml_stream_error);

/* What the stream header carried. All strings are borrowed: valid only
 * during the header callback. Absent attributes are NULL. */
struct xml_stream_header {
    const char *to;
    const char *from;
    const char *id;
    const char *version;
    const char *lang;       /* xml:lang */
    const char *default_ns; /* declared default namespace: "jabber:server",
                               "jabber:client", or NULL if none declared
                               (prefix-free canonicalisation) */
    bool stream_prefixed;   /* the header was <stream:stream>, not <stream xmlns=...> */
    bool db_declared;       /* xmlns:db='jabber:server:dialback' declared (XEP-0220) */
};

/*
 * Callbacks. Each returns 0 to go on parsing, or -1 to stop: the stream
 * then stops right after the event and xml_stream_feed() returns how many
 * bytes it consumed up to there (e.g. after <starttls/> or a SASL
 * <success/>, so the caller can restart the stream and route the remaining
 * bytes elsewhere). A stopped stream refuses input until xml_stream_reset().
 * Callbacks must not call xml_stream_feed, xml_stream_reset or
 * xml_stream_free on their own stream. Any callback may be NULL (ignored,
 * counts as 0).
 */
struct xml_stream_cb {
    int (*header)(void *arg, const struct xml_stream_header *h);
    /* el is borrowed: the tree and all its strings are valid only until
     * this callback returns (stanza_copy() keeps one). */
    int (*element)(void *arg, struct stanza *el);
    int (*close)(void *arg);
    /* condition: e.g. "policy-violation"; text: a short human explanation
     * for logs and the stream error <text/>, never containing peer bytes. */
    void (*error)(void *arg, enum xml_stream_error err, const char *condition, const char *text);
};

struct xml_stream; /* opaque */

/* A parser for one stream. limits NULL means defaults; *limits and *cb are
 * copied. arg is passed to every callback. NULL on allocation failure. */
struct xml_stream *xml_stream_new(const struct xml_limits *limits, const struct xml_stream_cb *cb,
                                  void *arg);

/* Frees the parser and its pool. NULL is fine. */
void xml_stream_free(struct xml_stream *);

/*
 * Parses len bytes. Returns:
 *   len          everything consumed (events fired as far as the bytes go);
 *   0..len-1     a callback returned -1: that many bytes were consumed, up
 *                to and including the last byte of the event it reported;
 *   -1           a stream error: the error callback has run (once); or the
 *                stream was already failed or stopped.
 * Keeps no pointer into buf.
 */
ssize_t xml_stream_feed(struct xml_stream *, const void *buf, size_t len);

/* Starts over for a stream restart (after STARTTLS or SASL success, RFC
 * 6120 sections 5.4.3.3, 6.4.6): a fresh parser with the same limits,
 * callbacks and arg, expecting an optional XML declaration and a new
 * stream header. Returns 0, or -1 on allocation failure (the stream is then
 * failed: feed returns -1). */
int xml_stream_reset(struct xml_stream *);

/* The error recorded by the last failure, XML_STREAM_OK if none. */
enum xml_stream_error xml_stream_error(const struct xml_stream *);

/* Total bytes consumed since creation or the last reset. */
size_t xml_stream_offset(const struct xml_stream *);

#endif
