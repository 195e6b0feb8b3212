/*
 * stanza.h - an element tree for one first-level XMPP element (a stanza such
 * as <message/>, <presence/>, <iq/>, or a nonza such as <stream:features/>,
 * <db:result/>, <starttls/>), with lookup helpers, a builder and canonical
 * serialisation.
 *
 * Names are namespace-aware: every element has a local name and a namespace
 * name (the URI; "" when the element is in no namespace). Prefixes seen on
 * the wire are not kept; serialisation chooses them (see stanza_serialize).
 * Attributes likewise have a namespace ("" for ordinary unqualified
 * attributes, STANZA_NS_XML for xml:lang) and a local name.
 *
 * Memory: all nodes and strings of one tree live in one pool (an arena) that
 * belongs to the tree's root. A tree is either
 *   - borrowed: handed to an xml_stream callback; valid only until that
 *     callback returns (the parser reuses the pool for the next element).
 *     Use stanza_copy() to keep it longer; never stanza_free() it.
 *   - owned: made by stanza_new() or stanza_copy(); freed with stanza_free()
 *     on its root, which frees every node and string of the tree at once.
 * Pointers returned by the accessors (names, values, text, child nodes) stay
 * valid as long as the tree does. Nothing here blocks or does I/O; nothing is
 * thread-safe (one tree, one thread).
 *
 * Mixed content is kept in order (text and child elements interleaved), so a
 * parsed element serialises back to equivalent XML. All strings are UTF-8
 * and NUL-terminated; XML 1.0 never carries U+0000, so no value or text
 * contains an embedded NUL.
 */
#ifndef XFED_STANZA_H
#define XFED_STANZA_H

#include <stdbool.h>
#include <stddef.h>

/* Namespace names used across xfed (RFC 6120 sections 4.8, 8; XEP-0220). */
#define STANZA_NS_STREAMS       "http://etherx.jabber.org/streams"
#define STANZA_NS_SERVER        "jabber:server"
#define STANZA_NS_CLIENT        "jabber:client"
#define STANZA_NS_DIALBACK      "jabber:server:dialback"
#define STANZA_NS_XML           "http://www.w3.org/XML/1998/namespace"
#define STANZA_NS_STREAM_ERRORS "urn:ietf:params:xml:ns:xmpp-streams"
#define STANZA_NS_STANZA_ERRORS "urn:ietf:params:xml:ns:xmpp-stanzas"
#define STANZA_NS_TLS           "urn:ietf:params:xml:ns:xmpp-tls"
#define STANZA_NS_SASL          "urn:ietf:params:xml:ns:xmpp-sasl"

struct stanza; /* opaque: one element node */

/* ---- Reading ---------------------------------------------------------- */

/* Local name of the element, e.g. "message". Never NULL. */
const char *stanza_name(const struct stanza *);

/* Namespace name, e.g. "jabber:server"; "" for no namespace. Never NULL. */
const char *stanza_ns(const struct stanza *);

/* True if the element has this local name and namespace. ns NULL matches
 * any namespace. */
bool stanza_is(const struct stanza *, const char *ns, const char *name);

/* Value of the unqualified attribute `name` (e.g. "to", "type"), or NULL if
 * absent. */
const char *stanza_attr(const struct stanza *, const char *name);

/* Value of the attribute {ns}name, or NULL. ns "" is the same as
 * stanza_attr(); ns STANZA_NS_XML with name "lang" gives xml:lang. */
const char *stanza_attr_ns(const struct stanza *, const char *ns, const char *name);

/* The element's own xml:lang attribute, or NULL (not inherited from
 * ancestors or from the stream header: callers apply that default). */
const char *stanza_lang(const struct stanza *);

/* Number of attributes, and the i-th one in document order (0-based).
 * stanza_attr_at() returns false when i is out of range; the out pointers
 * may be NULL when not wanted. */
size_t stanza_attr_count(const struct stanza *);
bool stanza_attr_at(const struct stanza *, size_t i, const char **ns, const char **name,
                    const char **value);

/* Child elements in document order (text nodes are skipped). NULL at the
 * end. stanza_parent() is NULL for the root of a tree. */
struct stanza *stanza_first_child(const struct stanza *);
struct stanza *stanza_next_sibling(const struct stanza *);
struct stanza *stanza_parent(const struct stanza *);

/* First child element with this namespace and local name (ns NULL: any
 * namespace; name NULL: any name), or NULL. */
struct stanza *stanza_child(const struct stanza *, const char *ns, const char *name);

/* The element's direct character data (the text of its text children,
 * concatenated in order, not including the text of descendant elements);
 * "" when it has none. Computed once and cached in the tree's pool, hence
 * the non-const argument; NULL only when that allocation fails. */
const char *stanza_text(struct stanza *);

/* ---- Building --------------------------------------------------------- */

/* A new owned tree with one root element {ns}name. ns may be "" (no
 * namespace). NULL on allocation failure. Free with stanza_free(). */
struct stanza *stanza_new(const char *ns, const char *name);

/* Frees an owned tree (from stanza_new or stanza_copy) given its root. NULL
 * is fine. Must not be called on a borrowed tree or on a non-root node. */
void stanza_free(struct stanza *);

/* A deep copy of the subtree at `el` as a new owned tree (its root has no
 * parent). NULL on allocation failure. */
struct stanza *stanza_copy(const struct stanza *el);

/* Appends a child element {ns}name to `parent`; ns NULL means the parent's
 * namespace. Returns the child (owned by the tree) or NULL on allocation
 * failure or when name is not a valid XML NCName. */
struct stanza *stanza_add_child(struct stanza *parent, const char *ns, const char *name);

/* Sets (replaces) the attribute {ns}name; ns NULL or "" means unqualified.
 * value NULL removes the attribute. Returns 0, or -1 on allocation failure,
 * an invalid name, or a value that is not valid UTF-8 made of XML 1.0
 * characters (such a value is never stored). */
int stanza_set_attr(struct stanza *, const char *name, const char *value);
int stanza_set_attr_ns(struct stanza *, const char *ns, const char *name, const char *value);

/* Appends len bytes of character data after the element's existing content.
 * Returns 0, or -1 on allocation failure or when the bytes are not valid
 * UTF-8 made of XML 1.0 characters (nothing is appended then). */
int stanza_add_text(struct stanza *, const char *text, size_t len);

/* ---- Pools (for parsers that build one tree after another) ------------ */

/*
 * A pool holds the nodes and strings of trees built in it and frees them all
 * at once. xml_stream.c keeps one per stream so that reading a stanza costs
 * no allocation once the pool has grown to the stream's usual stanza size.
 */
struct stanza_pool;

/* NULL on allocation failure. */
struct stanza_pool *stanza_pool_new(void);

/* Frees the pool and every tree in it. NULL is fine. */
void stanza_pool_free(struct stanza_pool *);

/* Invalidates every tree built in the pool and makes its memory reusable
 * (blocks beyond one of bounded size are returned to the system). */
void stanza_pool_clear(struct stanza_pool *);

/*
 * Idle release. A pool allocates its first block with its first node and
 * keeps one block across stanza_pool_clear(), so a busy stream reads
 * stanza after stanza without allocating; an idle one should not hold that
 * block (8 KiB) for hours. A thread that calls this periodically (the
 * edge's loop, every pool_idle_release seconds) gives back the block of
 * every pool of this thread that was cleared before the previous call and
 * not used since: idle for between one and two periods. Pools of threads
 * that never call it keep their block. Returns the bytes released. A pool
 * must be cleared and freed by the thread that sweeps it.
 */
size_t stanza_pool_idle_sweep(void);

/*
 * Fast building for parsers, from (pointer, length) strings that need not
 * be NUL-terminated. The input is trusted to be well-formed already (names
 * are XML names, values and text valid UTF-8 of XML characters): nothing is
 * validated, attributes are appended without a duplicate check. The tree
 * belongs to the pool: never stanza_free() it. Return NULL / -1 only on
 * allocation failure. stanza_build_text() appends to the element's last
 * text node when its last child is text, else adds a text node.
 */
struct stanza *stanza_build_root(struct stanza_pool *, const char *ns, size_t nslen,
                                 const char *name, size_t namelen);
struct stanza *stanza_build_child(struct stanza *parent, const char *ns, size_t nslen,
                                  const char *name, size_t namelen);
int stanza_build_attr(struct stanza *, const char *ns, size_t nslen, const char *name,
                      size_t namelen, const char *value, size_t valuelen);
/* The same, with what the parser knows of the value: STANZA_VALUE_PLAIN
 * says it has no byte that serialisation escapes (& < > " ' TAB LF CR), so
 * it is written without a look at each byte. */
#define STANZA_VALUE_PLAIN 1u
int stanza_build_attr_flags(struct stanza *, const char *ns, size_t nslen, const char *name,
                            size_t namelen, const char *value, size_t valuelen, unsigned flags);
int stanza_build_text(struct stanza *, const char *text, size_t len);

/* ---- Serialising ------------------------------------------------------ */

/*
 * Writes the subtree at `el` as canonical, standalone XML (used on the IPC
 * channel): the element's namespace is written as the default xmlns of the
 * top element (e.g. <message xmlns='jabber:server' ...>); a descendant in
 * another namespace declares it as its default xmlns where it starts;
 * namespaced attributes other than xml:* get a generated prefix declared on
 * their element. Attribute values use single quotes. In attribute values and
 * text, & < > " ' are escaped as entity references, and in attribute values
 * also TAB, LF, CR (and CR in text) as character references, so the output
 * parses back to the same tree. Empty elements are written as <x/>.
 *
 * snprintf-like: writes at most cap bytes including a terminating NUL (if
 * cap > 0) and returns the full length the serialisation needs, not
 * counting the NUL. The output is complete iff the return value < cap.
 */
size_t stanza_serialize(const struct stanza *el, char *buf, size_t cap);

/*
 * The same for writing onto an XMPP stream whose header declared
 * content_ns (e.g. "jabber:server") as the default namespace together with
 * xmlns:stream and xmlns:db: an element in content_ns gets no xmlns, an
 * element in STANZA_NS_STREAMS is written with the prefix "stream:" and one
 * in STANZA_NS_DIALBACK with "db:" (e.g. <stream:features>, <db:result>),
 * everything else as in stanza_serialize(). content_ns NULL means the
 * header declared no default namespace. Return value as stanza_serialize().
 */
size_t stanza_serialize_stream(const struct stanza *el, const char *content_ns, char *buf,
                               size_t cap);

/* stanza_serialize() into a new malloc'd, NUL-terminated string; its length
 * goes to *len if len is not NULL. The caller frees it with free(). NULL on
 * allocation failure. */
char *stanza_to_string(const struct stanza *el, size_t *len);

#endif
