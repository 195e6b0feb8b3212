/*
 * gw_address.c - RFC 7247 section 6 address mapping (see gw_address.h).
 */
#include "gw_address.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <unicase.h>
#include <uninorm.h>

#include "conf_domain.h"

const char *gw_addr_status_name(enum gw_addr_status st)
{
    switch (st) {
    case GW_ADDR_OK:
        return "ok";
    case GW_ADDR_MALFORMED:
        return "malformed";
    case GW_ADDR_UNSUPPORTED_SCHEME:
        return "unsupported-scheme";
    case GW_ADDR_SIPS:
        return "sips";
    case GW_ADDR_TOO_LONG:
        return "too-long";
    }
    return "unknown";
}

int gw_addr_status_sip_code(enum gw_addr_status st)
{
    switch (st) {
    case GW_ADDR_OK:
        return 0;
    case GW_ADDR_MALFORMED:
        return 400;
    case GW_ADDR_UNSUPPORTED_SCHEME:
    case GW_ADDR_SIPS:
        return 416;
    case GW_ADDR_TOO_LONG:
        return 414;
    }
    return 400;
}

const char *gw_addr_status_xmpp_condition(enum gw_addr_status st)
{
    return st == GW_ADDR_OK ? NULL : "jid-malformed";
}

bool gw_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    while (i < len) {
        unsigned c = p[i];
        size_t n;
        uint32_t cp;

        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            n = 1;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (len - i <= n)
            return false;
        for (size_t k = 1; k <= n; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (p[i + k] & 0x3f);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += n + 1;
    }
    return true;
}

/* ---- small growable buffer ------------------------------------------- */

struct sbuf {
    char *p;
    size_t len, cap;
    bool oom;
};

static void sb_putn(struct sbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t ncap = b->cap ? b->cap : 64;
        while (ncap < b->len + n + 1)
            ncap *= 2;
        char *np = realloc(b->p, ncap);
        if (np == NULL) {
            b->oom = true;
            return;
        }
        b->p = np;
        b->cap = ncap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_puts(struct sbuf *b, const char *s)
{
    sb_putn(b, s, strlen(s));
}

static void sb_putc(struct sbuf *b, char c)
{
    sb_putn(b, &c, 1);
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decodes n bytes of s into out (cap bytes, NUL-terminated).
 * Returns the decoded length, or -1 on a bad escape, %00, or overflow. */
static long pct_decode(const char *s, size_t n, char *out, size_t cap)
{
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (c == '%') {
            if (i + 2 >= n)
                return -1;
            int h = hexval((unsigned char)s[i + 1]), l = hexval((unsigned char)s[i + 2]);
            if (h < 0 || l < 0)
                return -1;
            c = h * 16 + l;
            if (c == 0)
                return -1;
            i += 2;
        }
        if (o + 1 >= cap)
            return -1;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return (long)o;
}

static bool has_controls(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            return true;
    }
    return false;
}

/* Unicode lower case + NFC of a valid UTF-8 string (RFC 7622 section 3.3
 * via RFC 8265 UsernameCaseMapped, approximated by libunistring's full case
 * mapping). Returns a malloc'd NUL-terminated string or NULL. */
static char *fold_case(const char *s, size_t n, size_t *outlen)
{
    /* ASCII, nearly every address: NFC leaves it as it is and Unicode's
     * lower case of it is A-Z -> a-z, so no libunistring round trip (3% of
     * the gateway's CPU per message when every message took it) */
    char *z = malloc(n + 1);
    if (z == NULL)
        return NULL;
    size_t i = 0;
    for (; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x80)
            break;
        z[i] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    }
    if (i == n) {
        z[n] = '\0';
        *outlen = n;
        return z;
    }
    free(z);
    size_t len = 0;
    uint8_t *r = u8_tolower((const uint8_t *)s, n, NULL, UNINORM_NFC, NULL, &len);
    if (r == NULL)
        return NULL;
    z = malloc(len + 1);
    if (z == NULL) {
        free(r);
        return NULL;
    }
    memcpy(z, r, len);
    z[len] = '\0';
    free(r);
    *outlen = len;
    return z;
}

/* XEP-0106 escapes: the character and its two lower-case hex digits. */
static const struct {
    char c;
    const char *hex;
} xep106[] = {
    {' ', "20"}, {'"', "22"}, {'&', "26"}, {'\'', "27"}, {'/', "2f"},
    {':', "3a"}, {'<', "3c"}, {'>', "3e"}, {'@', "40"},  {'\\', "5c"},
};

static const char *xep106_hex(char c)
{
    for (size_t i = 0; i < sizeof(xep106) / sizeof(xep106[0]); i++)
        if (xep106[i].c == c)
            return xep106[i].hex;
    return NULL;
}

/* If s (n bytes left) starts with "\hh" naming a XEP-0106 escape, the
 * character it stands for; else 0. Matching is case-insensitive on the hex. */
static char xep106_seq(const char *s, size_t n)
{
    if (n < 3 || s[0] != '\\')
        return 0;
    for (size_t i = 0; i < sizeof(xep106) / sizeof(xep106[0]); i++)
        if (strncasecmp(s + 1, xep106[i].hex, 2) == 0)
            return xep106[i].c;
    return 0;
}

/* XEP-0106 section 4.2 escaping of a decoded localpart. */
static void xep106_escape(struct sbuf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        const char *hex = NULL;
        if (c == '\\')
            hex = xep106_seq(s + i, n - i) ? "5c" : NULL;
        else
            hex = xep106_hex(c);
        if (hex != NULL) {
            sb_putc(b, '\\');
            sb_puts(b, hex);
        } else {
            sb_putc(b, c);
        }
    }
}

/* SIP `user` characters that need no escaping (RFC 3261 section 25.1:
 * unreserved / user-unreserved). */
static bool sip_user_char(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return c != '\0' && strchr("-_.!~*'()&=+$,;?/", c) != NULL;
}

/* `paramchar` without escaping: param-unreserved / unreserved. */
static bool sip_param_char(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return c != '\0' && strchr("-_.!~*'()[]/:&+$", c) != NULL;
}

static void pct_encode(struct sbuf *b, const char *s, size_t n, bool (*keep)(unsigned char))
{
    static const char hx[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (keep(c)) {
            sb_putc(b, (char)c);
        } else {
            char e[3] = {'%', hx[c >> 4], hx[c & 15]};
            sb_putn(b, e, 3);
        }
    }
}

static bool host_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.';
}

/* ---- SIP -> XMPP -------------------------------------------------------- */

/* Maps the percent-encoded user (n bytes) to an escaped localpart in out. */
static enum gw_addr_status map_user(const char *user, size_t n, char *out)
{
    char dec[GW_ADDR_URI_MAX + 1];
    long dl = pct_decode(user, n, dec, sizeof dec);

    if (dl < 0)
        return GW_ADDR_MALFORMED;
    if (!gw_utf8_valid(dec, (size_t)dl) || has_controls(dec, (size_t)dl))
        return GW_ADDR_MALFORMED;
    /* XEP-0106 section 4.2: \20 may not begin or end a localpart */
    if (dl > 0 && (dec[0] == ' ' || dec[dl - 1] == ' '))
        return GW_ADDR_MALFORMED;
    size_t fl = 0;
    char *folded = dl > 0 ? fold_case(dec, (size_t)dl, &fl) : NULL;
    if (dl > 0 && folded == NULL)
        return GW_ADDR_MALFORMED;
    struct sbuf b = {0};
    if (folded != NULL)
        xep106_escape(&b, folded, fl);
    free(folded);
    if (b.oom) {
        free(b.p);
        return GW_ADDR_MALFORMED;
    }
    if (b.len > GW_ADDR_PART_MAX) {
        free(b.p);
        return GW_ADDR_TOO_LONG;
    }
    memcpy(out, b.p ? b.p : "", b.len + 1);
    free(b.p);
    return GW_ADDR_OK;
}

enum gw_addr_status gw_addr_sip_to_xmpp(const char *uri, struct gw_xmpp_addr *out)
{
    size_t n = strlen(uri);

    if (n > GW_ADDR_URI_MAX)
        return GW_ADDR_TOO_LONG;
    memset(out, 0, sizeof *out);
    const char *s = uri, *end = uri + n;
    if (s < end && *s == '<') {
        if (end[-1] != '>')
            return GW_ADDR_MALFORMED;
        s++;
        end--;
    }
    const char *colon = memchr(s, ':', (size_t)(end - s));
    if (colon == NULL || colon == s)
        return GW_ADDR_MALFORMED;
    size_t sl = (size_t)(colon - s);
    for (size_t i = 0; i < sl; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!(host_char(c) || c == '+'))
            return GW_ADDR_MALFORMED;
    }
    if (sl == 4 && strncasecmp(s, "sips", 4) == 0)
        return GW_ADDR_SIPS;
    if (!((sl == 3 && strncasecmp(s, "sip", 3) == 0) || (sl == 2 && strncasecmp(s, "im", 2) == 0) ||
          (sl == 4 && strncasecmp(s, "pres", 4) == 0)))
        return GW_ADDR_UNSUPPORTED_SCHEME;
    s = colon + 1;

    /* A raw '@' only ever separates the userinfo (RFC 3261 section 25.1:
     * it must be escaped elsewhere), so the first one splits. */
    const char *at = memchr(s, '@', (size_t)(end - s));
    const char *host = s;
    if (at != NULL) {
        if (memchr(at + 1, '@', (size_t)(end - at - 1)) != NULL)
            return GW_ADDR_MALFORMED;
        const char *ue = at;
        const char *pw = memchr(s, ':', (size_t)(at - s));
        if (pw != NULL)
            ue = pw; /* user:password -- the password is dropped */
        if (ue == s)
            return GW_ADDR_MALFORMED;
        enum gw_addr_status st = map_user(s, (size_t)(ue - s), out->local);
        if (st != GW_ADDR_OK)
            return st;
        host = at + 1;
    }

    /* hostport */
    const char *he = host;
    if (he < end && *he == '[') {
        const char *rb = memchr(he, ']', (size_t)(end - he));
        if (rb == NULL)
            return GW_ADDR_MALFORMED;
        for (const char *q = he + 1; q < rb; q++)
            if (!(isxdigit((unsigned char)*q) || *q == ':' || *q == '.'))
                return GW_ADDR_MALFORMED;
        he = rb + 1;
    } else {
        while (he < end && host_char((unsigned char)*he))
            he++;
    }
    size_t hl = (size_t)(he - host);
    if (hl == 0)
        return GW_ADDR_MALFORMED;
    if (hl > GW_ADDR_PART_MAX)
        return GW_ADDR_TOO_LONG;
    for (size_t i = 0; i < hl; i++) {
        char c = host[i];
        out->domain[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    out->domain[hl] = '\0';
    const char *p = he;
    if (p < end && *p == ':') {
        p++;
        const char *ps = p;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
        if (p == ps || p - ps > 5)
            return GW_ADDR_MALFORMED;
    }

    /* uri-parameters, then headers (dropped) */
    while (p < end && *p == ';') {
        p++;
        const char *ns = p;
        while (p < end && *p != ';' && *p != '?' && *p != '=')
            p++;
        size_t nl = (size_t)(p - ns);
        const char *vs = NULL;
        size_t vl = 0;
        if (p < end && *p == '=') {
            vs = ++p;
            while (p < end && *p != ';' && *p != '?')
                p++;
            vl = (size_t)(p - vs);
        }
        if (nl == 0)
            return GW_ADDR_MALFORMED;
        if (nl == 2 && strncasecmp(ns, "gr", 2) == 0 && vs != NULL && vl > 0) {
            /* RFC 7247 section 6.3: a public GRUU's gr value is the
             * resource; a valueless gr is a temporary GRUU and maps to none. */
            char dec[GW_ADDR_URI_MAX + 1];
            long dl = pct_decode(vs, vl, dec, sizeof dec);
            if (dl <= 0 || !gw_utf8_valid(dec, (size_t)dl) || has_controls(dec, (size_t)dl))
                return GW_ADDR_MALFORMED;
            if (dl > GW_ADDR_PART_MAX)
                return GW_ADDR_TOO_LONG;
            memcpy(out->resource, dec, (size_t)dl + 1);
        }
    }
    if (p < end && *p != '?')
        return GW_ADDR_MALFORMED;
    return GW_ADDR_OK;
}

size_t gw_addr_xmpp_format(const struct gw_xmpp_addr *a, bool with_resource, char *buf, size_t cap)
{
    bool res = with_resource && a->resource[0] != '\0';
    int n = snprintf(buf, cap, "%s%s%s%s%s", a->local, a->local[0] ? "@" : "", a->domain,
                     res ? "/" : "", res ? a->resource : "");
    return n < 0 ? 0 : (size_t)n;
}

/* ---- XMPP -> SIP -------------------------------------------------------- */

enum gw_addr_status gw_addr_jid_split(const char *jid, struct gw_xmpp_addr *out)
{
    memset(out, 0, sizeof *out);
    const char *slash = strchr(jid, '/');
    size_t bare_len = slash ? (size_t)(slash - jid) : strlen(jid);
    const char *at = memchr(jid, '@', bare_len);
    const char *dom = at ? at + 1 : jid;
    size_t ll = at ? (size_t)(at - jid) : 0;
    size_t dl = bare_len - (size_t)(dom - jid);

    if ((at != NULL && ll == 0) || dl == 0 || (slash != NULL && slash[1] == '\0'))
        return GW_ADDR_MALFORMED;
    size_t rl = slash ? strlen(slash + 1) : 0;
    if (ll > GW_ADDR_PART_MAX || dl > GW_ADDR_PART_MAX || rl > GW_ADDR_PART_MAX)
        return GW_ADDR_TOO_LONG;
    memcpy(out->local, jid, ll);
    memcpy(out->domain, dom, dl);
    if (slash)
        memcpy(out->resource, slash + 1, rl);
    return GW_ADDR_OK;
}

enum gw_addr_status gw_addr_parts_to_sip(const char *local, const char *domain,
                                         const char *resource, bool with_gr, char **uri_out)
{
    *uri_out = NULL;
    local = local ? local : "";
    resource = resource ? resource : "";
    size_t ll = strlen(local), dl = strlen(domain), rl = strlen(resource);

    if (dl == 0)
        return GW_ADDR_MALFORMED;
    if (ll > GW_ADDR_PART_MAX || dl > GW_ADDR_PART_MAX || rl > GW_ADDR_PART_MAX)
        return GW_ADDR_TOO_LONG;
    if (!gw_utf8_valid(local, ll) || has_controls(local, ll) || !gw_utf8_valid(resource, rl) ||
        has_controls(resource, rl) || !gw_utf8_valid(domain, dl))
        return GW_ADDR_MALFORMED;

    /* Domain: A-label form for the SIP host (RFC 7247 section 6.1 leaves
     * IDN to local policy; a SIP host must be ASCII, RFC 3261 25.1). */
    char host[GW_ADDR_PART_MAX + 1];
    bool ascii = true;
    for (size_t i = 0; i < dl; i++)
        if ((unsigned char)domain[i] >= 0x80)
            ascii = false;
    if (ascii) {
        memcpy(host, domain, dl + 1);
    } else if (conf_domain_to_ascii(domain, host, sizeof host) != 0) {
        return GW_ADDR_MALFORMED;
    }
    size_t hl = strlen(host);
    if (host[0] == '[') {
        if (host[hl - 1] != ']')
            return GW_ADDR_MALFORMED;
        for (size_t i = 1; i + 1 < hl; i++)
            if (!(isxdigit((unsigned char)host[i]) || host[i] == ':' || host[i] == '.'))
                return GW_ADDR_MALFORMED;
    } else {
        for (size_t i = 0; i < hl; i++) {
            if (!host_char((unsigned char)host[i]))
                return GW_ADDR_MALFORMED;
            if (host[i] >= 'A' && host[i] <= 'Z')
                host[i] = (char)(host[i] - 'A' + 'a');
        }
    }

    /* Localpart: case-fold, XEP-0106 unescape (RFC 7247 section 6.5 step
     * 3, extended to the whole XEP table), then percent-encode (step 5). */
    struct sbuf un = {0};
    if (ll > 0) {
        size_t fl = 0;
        char *folded = fold_case(local, ll, &fl);
        if (folded == NULL)
            return GW_ADDR_MALFORMED;
        for (size_t i = 0; i < fl; i++) {
            char c = xep106_seq(folded + i, fl - i);
            if (c != 0) {
                sb_putc(&un, c);
                i += 2;
            } else {
                sb_putc(&un, folded[i]);
            }
        }
        free(folded);
        if (un.oom || un.len == 0) {
            free(un.p);
            return GW_ADDR_MALFORMED;
        }
    }
    struct sbuf b = {0};
    sb_puts(&b, "sip:");
    if (un.len > 0) {
        pct_encode(&b, un.p, un.len, sip_user_char);
        sb_putc(&b, '@');
    }
    free(un.p);
    sb_puts(&b, host);
    if (with_gr && rl > 0) {
        sb_puts(&b, ";gr=");
        pct_encode(&b, resource, rl, sip_param_char);
    }
    if (b.oom) {
        free(b.p);
        return GW_ADDR_MALFORMED;
    }
    *uri_out = b.p;
    return GW_ADDR_OK;
}

enum gw_addr_status gw_addr_xmpp_to_sip(const char *jid, bool with_gr, char **uri_out)
{
    /* on the stack (3 KiB): a malloc of this size per message is a large
     * chunk for glibc, which consolidates its small free chunks for it */
    struct gw_xmpp_addr a;

    *uri_out = NULL;
    enum gw_addr_status st = gw_addr_jid_split(jid, &a);
    if (st == GW_ADDR_OK)
        st = gw_addr_parts_to_sip(a.local, a.domain, a.resource, with_gr, uri_out);
    return st;
}

/* ---- PIDF tuple ids ------------------------------------------------------ */

static bool id_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.';
}

size_t gw_addr_tuple_id(const char *resource, char *buf, size_t cap)
{
    static const char hx[] = "0123456789abcdef";
    size_t o = 0;
    const char *pre = "ID-";

    resource = resource ? resource : "";
#define PUT(ch)            \
    do {                   \
        if (o + 1 < cap)   \
            buf[o] = (ch); \
        o++;               \
    } while (0)
    for (const char *q = pre; *q; q++)
        PUT(*q);
    for (const unsigned char *q = (const unsigned char *)resource; *q; q++) {
        if (id_char(*q)) {
            PUT((char)*q);
        } else {
            PUT('_');
            PUT(hx[*q >> 4]);
            PUT(hx[*q & 15]);
        }
    }
#undef PUT
    if (cap > 0)
        buf[o < cap ? o : cap - 1] = '\0';
    return o;
}

int gw_addr_tuple_id_resource(const char *id, char *buf, size_t cap)
{
    size_t o = 0;

    if (strncmp(id, "ID-", 3) != 0)
        return -1;
    for (const char *q = id + 3; *q; q++) {
        int c = (unsigned char)*q;
        if (c == '_') {
            int h = hexval((unsigned char)q[1]);
            int l = h < 0 ? -1 : hexval((unsigned char)q[2]);
            if (h < 0 || l < 0)
                return -1;
            c = h * 16 + l;
            if (c == 0)
                return -1;
            q += 2;
        } else if (!id_char((unsigned char)c)) {
            return -1;
        }
        if (o + 1 >= cap)
            return -1;
        buf[o++] = (char)c;
    }
    if (cap == 0)
        return -1;
    buf[o] = '\0';
    return 0;
}
