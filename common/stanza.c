/*
 * stanza.c - element trees in an arena, lookup, building and canonical
 * serialisation (see stanza.h for the contracts).
 */
#include <stdalign.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stanza.h"

/* ---- Pool ------------------------------------------------------------- */

/* The first block is big enough for a typical message stanza and its tree;
 * larger stanzas chain more blocks, each at least twice the previous. It is
 * allocated with the pool's first node, not with the pool. */
#define POOL_FIRST_BLOCK 8192
/* The largest block kept across stanza_pool_clear(); bigger ones go back to
 * the system so one huge stanza does not pin its memory for the stream's
 * life. */
#define POOL_KEEP_MAX (64 * 1024)

struct pool_block {
    struct pool_block *next; /* older blocks */
    size_t size;             /* bytes in data[] */
    size_t used;
    alignas(max_align_t) unsigned char data[];
};

/* The pools of one thread that kept a block after stanza_pool_clear(),
 * oldest clear first (stanza_pool_idle_sweep()). */
struct pool_idle_list {
    struct stanza_pool *head, *tail;
    unsigned long gen; /* sweeps so far */
    bool on;           /* this thread sweeps: pools join the list */
};
static _Thread_local struct pool_idle_list idle_list;

struct stanza_pool {
    struct pool_block *blocks; /* newest first; NULL until the first node */
    /* The most recent allocation, which can grow in place (text). */
    unsigned char *last;
    size_t last_size;
    /* On an idle list (list != NULL): neighbours, and the sweep generation
     * of the last clear. */
    struct pool_idle_list *list;
    struct stanza_pool *idle_prev, *idle_next;
    unsigned long gen;
};

static void idle_unlink(struct stanza_pool *p)
{
    struct pool_idle_list *l = p->list;
    if (l == NULL) {
        return;
    }
    if (p->idle_prev != NULL) {
        p->idle_prev->idle_next = p->idle_next;
    } else {
        l->head = p->idle_next;
    }
    if (p->idle_next != NULL) {
        p->idle_next->idle_prev = p->idle_prev;
    } else {
        l->tail = p->idle_prev;
    }
    p->idle_prev = p->idle_next = NULL;
    p->list = NULL;
}

/* After a clear that kept a block: (re)join this thread's list at its tail,
 * marked with the current generation. */
static void idle_touch(struct stanza_pool *p)
{
    struct pool_idle_list *l = &idle_list;
    if (!l->on || (p->list == l && p->gen == l->gen)) {
        return;
    }
    idle_unlink(p);
    p->list = l;
    p->gen = l->gen;
    p->idle_prev = l->tail;
    p->idle_next = NULL;
    if (l->tail != NULL) {
        l->tail->idle_next = p;
    } else {
        l->head = p;
    }
    l->tail = p;
}

static void free_blocks(struct pool_block *b)
{
    while (b != NULL) {
        struct pool_block *next = b->next;
        free(b);
        b = next;
    }
}

size_t stanza_pool_idle_sweep(void)
{
    struct pool_idle_list *l = &idle_list;
    size_t released = 0;
    l->on = true;
    /* Pools whose last clear came before the previous sweep: idle for at
     * least one whole period. A pool holding a tree again (used) only
     * leaves the list; its next clear brings it back. */
    while (l->head != NULL && l->head->gen != l->gen) {
        struct stanza_pool *p = l->head;
        idle_unlink(p);
        if (p->blocks != NULL && p->blocks->used == 0 && p->blocks->next == NULL) {
            released += p->blocks->size;
            free(p->blocks);
            p->blocks = NULL;
            p->last = NULL;
            p->last_size = 0;
        }
    }
    l->gen++;
    return released;
}

struct stanza_pool *stanza_pool_new(void)
{
    return calloc(1, sizeof(struct stanza_pool));
}

void stanza_pool_free(struct stanza_pool *p)
{
    if (p == NULL) {
        return;
    }
    idle_unlink(p);
    free_blocks(p->blocks);
    free(p);
}

void stanza_pool_clear(struct stanza_pool *p)
{
    if (p->blocks == NULL) {
        return;
    }
    /* Keep the newest (largest) block if it is of bounded size, else the
     * oldest (the first, POOL_FIRST_BLOCK). */
    struct pool_block *keep = p->blocks;
    if (keep->size > POOL_KEEP_MAX) {
        while (keep->next != NULL) {
            keep = keep->next;
        }
    }
    struct pool_block *b = p->blocks;
    while (b != NULL) {
        struct pool_block *next = b->next;
        if (b != keep) {
            free(b);
        }
        b = next;
    }
    keep->next = NULL;
    keep->used = 0;
    p->blocks = keep;
    p->last = NULL;
    p->last_size = 0;
    idle_touch(p);
}

static void *pool_alloc(struct stanza_pool *p, size_t size, size_t align)
{
    struct pool_block *b = p->blocks;
    size_t off = b != NULL ? (b->used + (align - 1)) & ~(align - 1) : 0;
    if (b == NULL || off > b->size || b->size - off < size) {
        size_t want = b != NULL ? b->size * 2 : POOL_FIRST_BLOCK;
        if (want < size + 64) {
            want = size + 64;
        }
        if (want > SIZE_MAX - sizeof(struct pool_block)) {
            return NULL;
        }
        struct pool_block *nb = malloc(sizeof(struct pool_block) + want);
        if (nb == NULL) {
            return NULL;
        }
        nb->next = b;
        nb->size = want;
        nb->used = 0;
        p->blocks = nb;
        b = nb;
        off = 0;
    }
    b->used = off + size;
    p->last = b->data + off;
    p->last_size = size;
    return b->data + off;
}

/* Grows the allocation at ptr (old bytes, the pool's last allocation if it
 * can be extended in place) to size bytes, copying when it has to move. */
static void *pool_grow(struct stanza_pool *p, void *ptr, size_t old, size_t size)
{
    struct pool_block *b = p->blocks;
    if (ptr != NULL && ptr == p->last && old == p->last_size) {
        size_t off = (size_t)((unsigned char *)ptr - b->data);
        if (b->size - off >= size) {
            b->used = off + size;
            p->last_size = size;
            return ptr;
        }
    }
    void *n = pool_alloc(p, size, 1);
    if (n != NULL && old > 0) {
        memcpy(n, ptr, old);
    }
    return n;
}

static char *pool_strndup(struct stanza_pool *p, const char *s, size_t len)
{
    if (len == 0) {
        return (char *)"";
    }
    char *d = pool_alloc(p, len + 1, 1);
    if (d != NULL) {
        memcpy(d, s, len);
        d[len] = '\0';
    }
    return d;
}

/* ---- Nodes ------------------------------------------------------------ */

enum node_kind { NODE_ELEMENT, NODE_TEXT };

struct stanza_attr {
    struct stanza_attr *next;
    const char *ns; /* "" when unqualified */
    const char *name;
    const char *value;
    size_t name_len, value_len; /* strlen() of each, kept from building */
    bool plain;                 /* STANZA_VALUE_PLAIN: value written as is */
};

/* The unqualified attributes every stanza's routing reads (RFC 6120
 * section 8.1): kept on the element at building time so that looking one up
 * is an index, not a walk of the list with string comparisons. */
enum { CORE_TO, CORE_FROM, CORE_ID, CORE_TYPE, CORE_N };
static const char *const core_names[CORE_N] = {"to", "from", "id", "type"};

/* The slot of an unqualified attribute named (name, len), or -1. */
static int core_slot(const char *name, size_t len)
{
    switch (len) {
    case 2:
        if (name[0] == 't' && name[1] == 'o') {
            return CORE_TO;
        }
        if (name[0] == 'i' && name[1] == 'd') {
            return CORE_ID;
        }
        return -1;
    case 4:
        if (memcmp(name, "from", 4) == 0) {
            return CORE_FROM;
        }
        if (memcmp(name, "type", 4) == 0) {
            return CORE_TYPE;
        }
        return -1;
    default:
        return -1;
    }
}

/* The same for a NUL-terminated name, without measuring all of it. */
static int core_slot_str(const char *name)
{
    if (name[0] == '\0' || name[1] == '\0') {
        return -1;
    }
    if (name[2] == '\0') {
        return core_slot(name, 2);
    }
    if (name[3] == '\0' || name[4] != '\0') {
        return -1;
    }
    return core_slot(name, 4);
}

struct stanza {
    struct stanza *parent;
    struct stanza *next;  /* next sibling, element or text */
    struct stanza *first; /* children, elements and text in order */
    struct stanza *last;
    struct stanza_pool *pool;
    const char *name; /* element: local name */
    const char *ns;   /* element: namespace name, "" for none */
    size_t name_len, ns_len;
    /* text node: its data; element: the cached stanza_text() (NULL until
     * asked, reset when text is added) */
    char *text;
    size_t text_len;
    struct stanza_attr *attrs;
    struct stanza_attr *attrs_last;
    size_t nattrs;
    /* The first unqualified to, from, id and type in attrs, or NULL. */
    struct stanza_attr *core[CORE_N];
    unsigned char kind;
    bool owns_pool; /* root of a tree made by stanza_new/stanza_copy */
};

/* A node and, for an element, a copy of its name (namelen bytes and a NUL)
 * in one allocation. */
static struct stanza *node_new_named(struct stanza_pool *p, enum node_kind kind, const char *name,
                                     size_t namelen)
{
    size_t extra = kind == NODE_ELEMENT ? namelen + 1 : 0;
    if (extra > SIZE_MAX - sizeof(struct stanza)) {
        return NULL;
    }
    struct stanza *n = pool_alloc(p, sizeof(*n) + extra, alignof(struct stanza));
    if (n != NULL) {
        memset(n, 0, sizeof(*n));
        n->pool = p;
        n->kind = (unsigned char)kind;
        if (kind == NODE_ELEMENT) {
            char *d = (char *)(n + 1);
            memcpy(d, name, namelen);
            d[namelen] = '\0';
            n->name = d;
            n->name_len = namelen;
        }
    }
    return n;
}

static struct stanza *node_new(struct stanza_pool *p, enum node_kind kind)
{
    return node_new_named(p, kind, NULL, 0);
}

static void node_append(struct stanza *parent, struct stanza *child)
{
    child->parent = parent;
    if (parent->last != NULL) {
        parent->last->next = child;
    } else {
        parent->first = child;
    }
    parent->last = child;
}

/* ---- Building, trusted (parsers) --------------------------------------- */

struct stanza *stanza_build_root(struct stanza_pool *p, const char *ns, size_t nslen,
                                 const char *name, size_t namelen)
{
    struct stanza *el = node_new_named(p, NODE_ELEMENT, name, namelen);
    if (el == NULL) {
        return NULL;
    }
    el->ns = pool_strndup(p, ns, nslen);
    if (el->ns == NULL) {
        return NULL;
    }
    el->ns_len = nslen;
    return el;
}

struct stanza *stanza_build_child(struct stanza *parent, const char *ns, size_t nslen,
                                  const char *name, size_t namelen)
{
    struct stanza_pool *p = parent->pool;
    struct stanza *el = node_new_named(p, NODE_ELEMENT, name, namelen);
    if (el == NULL) {
        return NULL;
    }
    /* Children usually share the parent's namespace: share the string. */
    if (nslen == parent->ns_len && memcmp(ns, parent->ns, nslen) == 0) {
        el->ns = parent->ns;
    } else {
        el->ns = pool_strndup(p, ns, nslen);
    }
    if (el->ns == NULL) {
        return NULL;
    }
    el->ns_len = nslen;
    node_append(parent, el);
    return el;
}

int stanza_build_attr(struct stanza *el, const char *ns, size_t nslen, const char *name,
                      size_t namelen, const char *value, size_t valuelen)
{
    return stanza_build_attr_flags(el, ns, nslen, name, namelen, value, valuelen, 0);
}

int stanza_build_attr_flags(struct stanza *el, const char *ns, size_t nslen, const char *name,
                            size_t namelen, const char *value, size_t valuelen, unsigned flags)
{
    struct stanza_pool *p = el->pool;
    /* The attribute, its name (unless it is one of the routing attributes,
     * whose names are constants) and its value in one allocation. */
    int slot = nslen == 0 ? core_slot(name, namelen) : -1;
    size_t nbytes = slot >= 0 ? 0 : namelen + 1;
    if (valuelen > SIZE_MAX - sizeof(struct stanza_attr) - 1 - nbytes) {
        return -1;
    }
    struct stanza_attr *a =
        pool_alloc(p, sizeof(*a) + nbytes + valuelen + 1, alignof(struct stanza_attr));
    if (a == NULL) {
        return -1;
    }
    char *d = (char *)(a + 1);
    a->next = NULL;
    a->ns = pool_strndup(p, ns, nslen);
    if (a->ns == NULL) {
        return -1;
    }
    if (slot >= 0) {
        a->name = core_names[slot];
    } else {
        memcpy(d, name, namelen);
        d[namelen] = '\0';
        a->name = d;
        d += namelen + 1;
    }
    memcpy(d, value, valuelen);
    d[valuelen] = '\0';
    a->value = d;
    a->name_len = namelen;
    a->value_len = valuelen;
    a->plain = (flags & STANZA_VALUE_PLAIN) != 0;
    if (slot >= 0 && el->core[slot] == NULL) {
        el->core[slot] = a;
    }
    if (el->attrs_last != NULL) {
        el->attrs_last->next = a;
    } else {
        el->attrs = a;
    }
    el->attrs_last = a;
    el->nattrs++;
    return 0;
}

int stanza_build_text(struct stanza *el, const char *text, size_t len)
{
    if (len == 0) {
        return 0;
    }
    struct stanza_pool *p = el->pool;
    struct stanza *t = el->last;
    if (t == NULL || t->kind != NODE_TEXT) {
        t = node_new(p, NODE_TEXT);
        if (t == NULL) {
            return -1;
        }
        node_append(el, t);
    }
    size_t old = t->text != NULL ? t->text_len + 1 : 0;
    if (len > SIZE_MAX - 1 - t->text_len) {
        return -1;
    }
    char *d = pool_grow(p, t->text, old, t->text_len + len + 1);
    if (d == NULL) {
        return -1;
    }
    memcpy(d + t->text_len, text, len);
    t->text = d;
    t->text_len += len;
    d[t->text_len] = '\0';
    el->text = NULL; /* invalidate the cached concatenation */
    return 0;
}

/* ---- Reading ------------------------------------------------------------ */

const char *stanza_name(const struct stanza *el)
{
    return el->name;
}

const char *stanza_ns(const struct stanza *el)
{
    return el->ns;
}

bool stanza_is(const struct stanza *el, const char *ns, const char *name)
{
    return strcmp(el->name, name) == 0 && (ns == NULL || strcmp(el->ns, ns) == 0);
}

static const struct stanza_attr *attr_find(const struct stanza *el, const char *ns,
                                           const char *name)
{
    if (ns[0] == '\0') {
        int slot = core_slot_str(name);
        if (slot >= 0) {
            return el->core[slot];
        }
    }
    for (const struct stanza_attr *a = el->attrs; a != NULL; a = a->next) {
        if (strcmp(a->name, name) == 0 && strcmp(a->ns, ns) == 0) {
            return a;
        }
    }
    return NULL;
}

const char *stanza_attr(const struct stanza *el, const char *name)
{
    const struct stanza_attr *a = attr_find(el, "", name);
    return a != NULL ? a->value : NULL;
}

const char *stanza_attr_ns(const struct stanza *el, const char *ns, const char *name)
{
    const struct stanza_attr *a = attr_find(el, ns != NULL ? ns : "", name);
    return a != NULL ? a->value : NULL;
}

const char *stanza_lang(const struct stanza *el)
{
    return stanza_attr_ns(el, STANZA_NS_XML, "lang");
}

size_t stanza_attr_count(const struct stanza *el)
{
    return el->nattrs;
}

bool stanza_attr_at(const struct stanza *el, size_t i, const char **ns, const char **name,
                    const char **value)
{
    const struct stanza_attr *a = el->attrs;
    while (a != NULL && i > 0) {
        a = a->next;
        i--;
    }
    if (a == NULL) {
        return false;
    }
    if (ns != NULL) {
        *ns = a->ns;
    }
    if (name != NULL) {
        *name = a->name;
    }
    if (value != NULL) {
        *value = a->value;
    }
    return true;
}

static struct stanza *skip_text(struct stanza *n)
{
    while (n != NULL && n->kind != NODE_ELEMENT) {
        n = n->next;
    }
    return n;
}

struct stanza *stanza_first_child(const struct stanza *el)
{
    return skip_text(el->first);
}

struct stanza *stanza_next_sibling(const struct stanza *el)
{
    return skip_text(el->next);
}

struct stanza *stanza_parent(const struct stanza *el)
{
    return el->parent;
}

struct stanza *stanza_child(const struct stanza *el, const char *ns, const char *name)
{
    for (struct stanza *c = stanza_first_child(el); c != NULL; c = stanza_next_sibling(c)) {
        if ((name == NULL || strcmp(c->name, name) == 0) &&
            (ns == NULL || strcmp(c->ns, ns) == 0)) {
            return c;
        }
    }
    return NULL;
}

const char *stanza_text(struct stanza *el)
{
    if (el->text != NULL) {
        return el->text;
    }
    size_t total = 0, count = 0;
    struct stanza *only = NULL;
    for (struct stanza *n = el->first; n != NULL; n = n->next) {
        if (n->kind == NODE_TEXT) {
            total += n->text_len;
            count++;
            only = n;
        }
    }
    if (count == 0) {
        return "";
    }
    if (count == 1) {
        el->text = only->text;
        el->text_len = only->text_len;
        return el->text;
    }
    char *d = pool_alloc(el->pool, total + 1, 1);
    if (d == NULL) {
        return NULL;
    }
    size_t off = 0;
    for (struct stanza *n = el->first; n != NULL; n = n->next) {
        if (n->kind == NODE_TEXT) {
            memcpy(d + off, n->text, n->text_len);
            off += n->text_len;
        }
    }
    d[off] = '\0';
    el->text = d;
    el->text_len = off;
    return d;
}

/* ---- Building, checked (application code) ------------------------------ */

/* Decodes one UTF-8 sequence at s (n bytes available), rejecting overlong
 * forms, surrogates and values above U+10FFFF. Returns its length, 0 if
 * invalid. */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
    unsigned char c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t len;
    uint32_t v, min;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2, v = c & 0x1F, min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3, v = c & 0x0F, min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4, v = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (n < len) {
        return 0;
    }
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            return 0;
        }
        v = (v << 6) | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) {
        return 0;
    }
    *cp = v;
    return len;
}

/* XML 1.0 section 2.2 Char production. */
static bool xml_char_ok(uint32_t cp)
{
    return cp == 0x9 || cp == 0xA || cp == 0xD || (cp >= 0x20 && cp <= 0xD7FF) ||
           (cp >= 0xE000 && cp <= 0xFFFD) || (cp >= 0x10000 && cp <= 0x10FFFF);
}

static bool xml_text_ok(const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        uint32_t cp;
        size_t n = utf8_decode(u + i, len - i, &cp);
        if (n == 0 || !xml_char_ok(cp)) {
            return false;
        }
        i += n;
    }
    return true;
}

/* An NCName (XML Namespaces section 3), approximated: ASCII letters, '_'
 * or any non-ASCII character first; then also digits, '-' and '.'; no ':'.
 * Must be valid UTF-8 of XML characters. */
static bool ncname_ok(const char *s)
{
    size_t len = strlen(s);
    if (len == 0 || !xml_text_ok(s, len)) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
        bool more = (c >= '0' && c <= '9') || c == '-' || c == '.';
        if (!(alpha || (i > 0 && more))) {
            return false;
        }
    }
    return true;
}

static bool element_ns_ok(const char *ns)
{
    return xml_text_ok(ns, strlen(ns)) && strcmp(ns, STANZA_NS_XML) != 0 &&
           strcmp(ns, "http://www.w3.org/2000/xmlns/") != 0;
}

static struct stanza *root_new(const char *ns, const char *name)
{
    struct stanza_pool *p = stanza_pool_new();
    if (p == NULL) {
        return NULL;
    }
    struct stanza *el = stanza_build_root(p, ns, strlen(ns), name, strlen(name));
    if (el == NULL) {
        stanza_pool_free(p);
        return NULL;
    }
    el->owns_pool = true;
    return el;
}

struct stanza *stanza_new(const char *ns, const char *name)
{
    if (ns == NULL || !element_ns_ok(ns) || !ncname_ok(name)) {
        return NULL;
    }
    return root_new(ns, name);
}

void stanza_free(struct stanza *el)
{
    if (el != NULL && el->owns_pool) {
        stanza_pool_free(el->pool);
    }
}

struct stanza *stanza_add_child(struct stanza *parent, const char *ns, const char *name)
{
    if (ns == NULL) {
        ns = parent->ns;
    }
    if (!element_ns_ok(ns) || !ncname_ok(name)) {
        return NULL;
    }
    return stanza_build_child(parent, ns, strlen(ns), name, strlen(name));
}

/* After a was taken out of el's list: a later duplicate (possible only in
 * trees built by a parser without the duplicate check) takes its slot. */
static void core_unlink(struct stanza *el, const struct stanza_attr *a)
{
    for (int i = 0; i < CORE_N; i++) {
        if (el->core[i] != a) {
            continue;
        }
        el->core[i] = NULL;
        for (struct stanza_attr *b = a->next; b != NULL; b = b->next) {
            if (b->ns[0] == '\0' && b->name_len == a->name_len &&
                memcmp(b->name, a->name, a->name_len) == 0) {
                el->core[i] = b;
                break;
            }
        }
    }
}

int stanza_set_attr_ns(struct stanza *el, const char *ns, const char *name, const char *value)
{
    if (ns == NULL) {
        ns = "";
    }
    if (!ncname_ok(name) || !xml_text_ok(ns, strlen(ns)) ||
        strcmp(ns, "http://www.w3.org/2000/xmlns/") == 0) {
        return -1;
    }
    if (value != NULL && !xml_text_ok(value, strlen(value))) {
        return -1;
    }
    struct stanza_attr *prev = NULL;
    for (struct stanza_attr *a = el->attrs; a != NULL; prev = a, a = a->next) {
        if (strcmp(a->name, name) == 0 && strcmp(a->ns, ns) == 0) {
            if (value != NULL) {
                size_t vl = strlen(value);
                const char *v = pool_strndup(el->pool, value, vl);
                if (v == NULL) {
                    return -1;
                }
                a->value = v;
                a->value_len = vl;
                a->plain = false;
                return 0;
            }
            if (prev != NULL) {
                prev->next = a->next;
            } else {
                el->attrs = a->next;
            }
            if (el->attrs_last == a) {
                el->attrs_last = prev;
            }
            el->nattrs--;
            core_unlink(el, a);
            return 0;
        }
    }
    if (value == NULL) {
        return 0;
    }
    return stanza_build_attr(el, ns, strlen(ns), name, strlen(name), value, strlen(value));
}

int stanza_set_attr(struct stanza *el, const char *name, const char *value)
{
    return stanza_set_attr_ns(el, "", name, value);
}

int stanza_add_text(struct stanza *el, const char *text, size_t len)
{
    if (!xml_text_ok(text, len)) {
        return -1;
    }
    return stanza_build_text(el, text, len);
}

static int copy_into(struct stanza *dst, const struct stanza *src)
{
    for (const struct stanza_attr *a = src->attrs; a != NULL; a = a->next) {
        if (stanza_build_attr_flags(dst, a->ns, strlen(a->ns), a->name, a->name_len, a->value,
                                    a->value_len, a->plain ? STANZA_VALUE_PLAIN : 0) < 0) {
            return -1;
        }
    }
    for (const struct stanza *n = src->first; n != NULL; n = n->next) {
        if (n->kind == NODE_TEXT) {
            if (stanza_build_text(dst, n->text, n->text_len) < 0) {
                return -1;
            }
            continue;
        }
        struct stanza *c = stanza_build_child(dst, n->ns, n->ns_len, n->name, n->name_len);
        if (c == NULL || copy_into(c, n) < 0) {
            return -1;
        }
    }
    return 0;
}

struct stanza *stanza_copy(const struct stanza *el)
{
    struct stanza *root = root_new(el->ns, el->name);
    if (root == NULL) {
        return NULL;
    }
    if (copy_into(root, el) < 0) {
        stanza_free(root);
        return NULL;
    }
    return root;
}

/* ---- Serialising -------------------------------------------------------- */

struct writer {
    char *buf;
    size_t cap; /* bytes usable for output, the NUL excluded */
    size_t len; /* bytes the output needs so far */
};

static inline void put(struct writer *w, const char *s, size_t n)
{
    if (w->len < w->cap && w->cap - w->len >= n) {
        /* All of it fits: a copy of constant size (the markup put_element
         * writes) compiles to a store, not a call. */
        memcpy(w->buf + w->len, s, n);
    } else if (w->len < w->cap) {
        memcpy(w->buf + w->len, s, w->cap - w->len);
    }
    w->len += n;
}

static void puts_(struct writer *w, const char *s)
{
    put(w, s, strlen(s));
}

/* Which bytes put_escaped() replaces: ESC_ALL in text and attribute values,
 * ESC_ATTR only in attribute values. */
enum { ESC_ALL = 1, ESC_ATTR = 2 };
static const unsigned char esc_class[256] = {
    ['&'] = ESC_ALL,  ['<'] = ESC_ALL,  ['>'] = ESC_ALL,   ['"'] = ESC_ALL,
    ['\''] = ESC_ALL, ['\r'] = ESC_ALL, ['\t'] = ESC_ATTR, ['\n'] = ESC_ATTR,
};

/* Escapes for text (attr false) and single-quoted attribute values (attr
 * true); see stanza.h. Runs without such bytes are copied in one piece. */
static void put_escaped(struct writer *w, const char *s, size_t n, bool attr)
{
    const unsigned char *u = (const unsigned char *)s;
    const unsigned mask = attr ? ESC_ALL | ESC_ATTR : ESC_ALL;
    size_t run = 0, i = 0;
    for (;;) {
        while (i < n && (esc_class[u[i]] & mask) == 0) {
            i++;
        }
        if (i == n) {
            break;
        }
        const char *rep;
        size_t replen;
        switch (s[i]) {
        case '&':
            rep = "&amp;", replen = 5;
            break;
        case '<':
            rep = "&lt;", replen = 4;
            break;
        case '>':
            rep = "&gt;", replen = 4;
            break;
        case '"':
            rep = "&quot;", replen = 6;
            break;
        case '\'':
            rep = "&apos;", replen = 6;
            break;
        case '\r':
            rep = "&#xD;", replen = 5;
            break;
        case '\t':
            rep = "&#x9;", replen = 5;
            break;
        default: /* '\n' in an attribute value */
            rep = "&#xA;", replen = 5;
            break;
        }
        put(w, s + run, i - run);
        put(w, rep, replen);
        run = ++i;
    }
    put(w, s + run, n - run);
}

struct ser_ctx {
    bool stream;            /* stanza_serialize_stream() rules */
    const char *content_ns; /* the stream's default namespace, "" for none */
};

static void put_attrs(struct writer *w, const struct stanza *el)
{
    /* Namespaced attributes (other than xml:*) get prefixes a0, a1, ...
     * declared on this element; one prefix per distinct namespace. */
    const struct stanza_attr *a;
    size_t idx = 0;
    for (a = el->attrs; a != NULL; a = a->next, idx++) {
        if (a->ns[0] == '\0' || strcmp(a->ns, STANZA_NS_XML) == 0) {
            continue;
        }
        bool seen = false;
        const struct stanza_attr *b = el->attrs;
        for (size_t j = 0; j < idx; j++, b = b->next) {
            if (strcmp(b->ns, a->ns) == 0) {
                seen = true;
                break;
            }
        }
        if (!seen) {
            char pfx[32];
            int n = snprintf(pfx, sizeof(pfx), " xmlns:a%zu='", idx);
            put(w, pfx, (size_t)n);
            put_escaped(w, a->ns, strlen(a->ns), true);
            put(w, "'", 1);
        }
    }
    idx = 0;
    for (a = el->attrs; a != NULL; a = a->next, idx++) {
        put(w, " ", 1);
        if (a->ns[0] == '\0') {
            /* unqualified */
        } else if (strcmp(a->ns, STANZA_NS_XML) == 0) {
            put(w, "xml:", 4);
        } else {
            /* the prefix of the first attribute in this namespace */
            size_t first = 0;
            const struct stanza_attr *b = el->attrs;
            while (strcmp(b->ns, a->ns) != 0) {
                b = b->next;
                first++;
            }
            char pfx[32];
            int n = snprintf(pfx, sizeof(pfx), "a%zu:", first);
            put(w, pfx, (size_t)n);
        }
        put(w, a->name, a->name_len);
        put(w, "='", 2);
        if (a->plain) {
            put(w, a->value, a->value_len);
        } else {
            put_escaped(w, a->value, a->value_len, true);
        }
        put(w, "'", 1);
    }
}

/* The element's namespace is the string literal lit. */
#define NS_IS(el, lit) \
    ((el)->ns_len == sizeof(lit) - 1 && memcmp((el)->ns, lit, sizeof(lit) - 1) == 0)

static void put_element(struct writer *w, const struct stanza *el, const char *dflt,
                        const struct ser_ctx *ctx)
{
    const char *prefix = NULL;
    if (NS_IS(el, STANZA_NS_XML)) {
        /* The XML namespace is bound to "xml" and cannot be declared as a
         * default (Namespaces in XML 1.0 section 3): keep the prefix. */
        prefix = "xml:";
    } else if (ctx->stream) {
        if (NS_IS(el, STANZA_NS_STREAMS)) {
            prefix = "stream:";
        } else if (NS_IS(el, STANZA_NS_DIALBACK)) {
            prefix = "db:";
        }
    }
    put(w, "<", 1);
    if (prefix != NULL) {
        puts_(w, prefix);
    }
    put(w, el->name, el->name_len);
    const char *child_dflt = dflt;
    /* A child shares its parent's namespace string when they are equal. */
    if (prefix == NULL && el->ns != dflt && strcmp(el->ns, dflt) != 0) {
        put(w, " xmlns='", 8);
        put_escaped(w, el->ns, el->ns_len, true);
        put(w, "'", 1);
        child_dflt = el->ns;
    }
    put_attrs(w, el);
    if (el->first == NULL) {
        put(w, "/>", 2);
        return;
    }
    put(w, ">", 1);
    for (const struct stanza *n = el->first; n != NULL; n = n->next) {
        if (n->kind == NODE_TEXT) {
            put_escaped(w, n->text, n->text_len, false);
        } else {
            put_element(w, n, child_dflt, ctx);
        }
    }
    put(w, "</", 2);
    if (prefix != NULL) {
        puts_(w, prefix);
    }
    put(w, el->name, el->name_len);
    put(w, ">", 1);
}

static size_t serialize(const struct stanza *el, const struct ser_ctx *ctx, char *buf, size_t cap)
{
    struct writer w = {buf, cap > 0 ? cap - 1 : 0, 0};
    put_element(&w, el, ctx->content_ns, ctx);
    if (cap > 0) {
        buf[w.len < w.cap ? w.len : w.cap] = '\0';
    }
    return w.len;
}

size_t stanza_serialize(const struct stanza *el, char *buf, size_t cap)
{
    /* A standalone document's default namespace is "no namespace". */
    struct ser_ctx ctx = {false, ""};
    return serialize(el, &ctx, buf, cap);
}

size_t stanza_serialize_stream(const struct stanza *el, const char *content_ns, char *buf,
                               size_t cap)
{
    struct ser_ctx ctx = {true, content_ns != NULL ? content_ns : ""};
    return serialize(el, &ctx, buf, cap);
}

char *stanza_to_string(const struct stanza *el, size_t *len)
{
    size_t n = stanza_serialize(el, NULL, 0);
    char *s = malloc(n + 1);
    if (s == NULL) {
        return NULL;
    }
    stanza_serialize(el, s, n + 1);
    if (len != NULL) {
        *len = n;
    }
    return s;
}
