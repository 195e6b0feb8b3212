/*
 * jid.c - RFC 7622 JIDs (see jid.h). The only file touching libidn2 and
 * libunistring.
 *
 * ASCII parts, by far the common case on the wire, take a fast path that
 * gives the same result as the full Unicode path without allocating: for
 * ASCII, width mapping and NFC are identities and IDNA2008 reduces to the
 * LDH rules (RFC 5890 section 2.3.1), except for "xn--" labels, which go
 * through libidn2.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <idn2.h>
#include <unicase.h>
#include <unictype.h>
#include <uninorm.h>
#include <unistr.h>

#include "jid.h"

/* Work bound on one part before normalisation (mappings can shrink a part,
 * e.g. fullwidth letters, so this is more than JID_PART_MAX). */
#define PART_INPUT_MAX (4 * JID_PART_MAX)
#define DNS_NAME_MAX   253 /* octets in A-label form, without the root dot */
#define DNS_LABEL_MAX  63

struct jid {
    const char *local; /* NULL if none */
    const char *domain;
    const char *resource; /* NULL if none */
    const char *bare;
    char full[]; /* full, then bare, local, domain, resource */
};

static void set_why(const char **why, const char *msg)
{
    if (why != NULL) {
        *why = msg;
    }
}

static bool is_ascii(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)s[i] >= 0x80) {
            return false;
        }
    }
    return true;
}

/* ---- Domainpart ------------------------------------------------------- */

/* RFC 5890 section 2.3.1 LDH label, already lower case; an "xn--" label
 * must also be a valid A-label (checked by libidn2 by the caller). Returns
 * false for R-LDH labels ("??--") other than "xn--". */
static bool ldh_label_ok(const char *l, size_t n)
{
    if (n == 0 || n > DNS_LABEL_MAX || l[0] == '-' || l[n - 1] == '-') {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = l[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
            return false;
        }
    }
    if (n >= 4 && l[2] == '-' && l[3] == '-' && !(l[0] == 'x' && l[1] == 'n')) {
        return false;
    }
    return true;
}

/* Checks an all-ASCII, lower-case name label by label. *has_alabel tells
 * whether some label is "xn--". */
static bool ldh_name_ok(const char *s, size_t n, bool *has_alabel)
{
    if (n == 0 || n > DNS_NAME_MAX) {
        return false;
    }
    *has_alabel = false;
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || s[i] == '.') {
            if (!ldh_label_ok(s + start, i - start)) {
                return false;
            }
            if (i - start >= 4 && memcmp(s + start, "xn--", 4) == 0) {
                *has_alabel = true;
            }
            start = i + 1;
        }
    }
    return true;
}

/* IPv4address (RFC 3986) or IP-literal (RFC 6874) domainparts. Returns 1
 * and the canonical text in out, 0 if s is not an IP address, -1 if it
 * looks like an IP-literal but is invalid or does not fit. */
static int ip_literal(const char *s, size_t n, char *out, size_t outsz)
{
    char tmp[INET6_ADDRSTRLEN + 2];
    unsigned char addr[16];
    if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
        if (n - 2 >= sizeof(tmp)) {
            return -1;
        }
        memcpy(tmp, s + 1, n - 2);
        tmp[n - 2] = '\0';
        char canon[INET6_ADDRSTRLEN];
        if (inet_pton(AF_INET6, tmp, addr) != 1 ||
            inet_ntop(AF_INET6, addr, canon, sizeof(canon)) == NULL) {
            return -1;
        }
        size_t cl = strlen(canon);
        if (cl + 3 > outsz) {
            return -1;
        }
        out[0] = '[';
        memcpy(out + 1, canon, cl);
        out[cl + 1] = ']';
        out[cl + 2] = '\0';
        return 1;
    }
    if (n >= sizeof(tmp)) {
        return 0;
    }
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    if (strspn(tmp, "0123456789.") != n || inet_pton(AF_INET, tmp, addr) != 1) {
        return 0;
    }
    if (n + 1 > outsz) {
        return -1;
    }
    memcpy(out, tmp, n + 1);
    return 1;
}

/* RFC 5895 section 2 mappings for a domain name (width mapping, lower case,
 * NFC), also the first steps of the PRECIS UsernameCaseMapped profile
 * (RFC 8265 section 3.3.1). Returns a malloc'd UTF-8 string or NULL. */
static char *map_width_lower_nfc(const char *s, size_t n, size_t *outlen)
{
    size_t n32;
    uint32_t *u = u8_to_u32((const uint8_t *)s, n, NULL, &n32);
    if (u == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < n32; i++) {
        int tag;
        ucs4_t d[UC_DECOMPOSITION_MAX_LENGTH];
        int dl = uc_decomposition(u[i], &tag, d);
        if (dl == 1 && (tag == UC_DECOMP_WIDE || tag == UC_DECOMP_NARROW)) {
            u[i] = d[0];
        }
    }
    size_t nl;
    uint32_t *l = u32_tolower(u, n32, NULL, UNINORM_NFC, NULL, &nl);
    free(u);
    if (l == NULL) {
        return NULL;
    }
    size_t n8;
    uint8_t *r = u32_to_u8(l, nl, NULL, &n8);
    free(l);
    if (r == NULL) {
        return NULL;
    }
    uint8_t *z = realloc(r, n8 + 1);
    if (z == NULL) {
        free(r);
        return NULL;
    }
    z[n8] = '\0';
    *outlen = n8;
    return (char *)z;
}

/* The Unicode path: IDNA2008 through libidn2 (no UTS #46 processing, the
 * RFC 5895 mappings having been applied), then back to U-labels, with a
 * round-trip check. Writes the U-label form into out. */
static int domain_idna(const char *s, size_t n, char *out, size_t outsz, const char **why)
{
    size_t ml;
    char *mapped = map_width_lower_nfc(s, n, &ml);
    if (mapped == NULL) {
        set_why(why, "invalid domainpart");
        return -1;
    }
    uint8_t *alabel = NULL;
    int rc = idn2_lookup_u8((const uint8_t *)mapped, &alabel, IDN2_NFC_INPUT | IDN2_NO_TR46);
    free(mapped);
    if (rc != IDN2_OK) {
        set_why(why, "domainpart is not a valid IDNA2008 name");
        return -1;
    }
    bool dummy;
    size_t al = strlen((const char *)alabel);
    if (!ldh_name_ok((const char *)alabel, al, &dummy)) {
        idn2_free(alabel);
        set_why(why, "domainpart is not a valid DNS name");
        return -1;
    }
    char *ulabel = NULL;
    rc = idn2_to_unicode_8z8z((const char *)alabel, &ulabel, 0);
    if (rc != IDN2_OK) {
        idn2_free(alabel);
        set_why(why, "domainpart has an invalid A-label");
        return -1;
    }
    /* A-label -> U-label -> A-label must give the same name (RFC 5891
     * section 5.4), else the A-label was not one IDNA2008 produces. */
    uint8_t *again = NULL;
    rc = idn2_lookup_u8((const uint8_t *)ulabel, &again, IDN2_NFC_INPUT | IDN2_NO_TR46);
    bool same = rc == IDN2_OK && strcmp((const char *)again, (const char *)alabel) == 0;
    idn2_free(again);
    idn2_free(alabel);
    size_t ul = strlen(ulabel);
    if (!same || ul == 0 || ul > JID_PART_MAX || ul + 1 > outsz) {
        idn2_free(ulabel);
        set_why(why, same ? "domainpart too long" : "domainpart has an invalid A-label");
        return -1;
    }
    memcpy(out, ulabel, ul + 1);
    idn2_free(ulabel);
    return 0;
}

int jid_domain_normalize(const char *in, size_t n, char *out, size_t outsz, const char **why)
{
    /* RFC 7622 section 3.2: strip one trailing label separator first. */
    if (n > 0 && in[n - 1] == '.') {
        n--;
    }
    if (n == 0) {
        set_why(why, "empty domainpart");
        return -1;
    }
    if (n > PART_INPUT_MAX) {
        set_why(why, "domainpart too long");
        return -1;
    }
    if (memchr(in, '\0', n) != NULL || u8_check((const uint8_t *)in, n) != NULL) {
        set_why(why, "domainpart is not valid UTF-8");
        return -1;
    }
    int ip = ip_literal(in, n, out, outsz);
    if (ip != 0) {
        if (ip < 0) {
            set_why(why, "invalid IP literal domainpart");
        }
        return ip > 0 ? 0 : -1;
    }
    if (!is_ascii(in, n)) {
        return domain_idna(in, n, out, outsz, why);
    }
    if (n + 1 > outsz) {
        set_why(why, "domainpart too long");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        char c = in[i];
        out[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    out[n] = '\0';
    bool has_alabel;
    if (!ldh_name_ok(out, n, &has_alabel)) {
        set_why(why, "domainpart is not a valid DNS name");
        return -1;
    }
    if (has_alabel) {
        /* A-labels become U-labels (RFC 7622 section 3.2.1). */
        char tmp[DNS_NAME_MAX + 1];
        memcpy(tmp, out, n + 1);
        return domain_idna(tmp, n, out, outsz, why);
    }
    return 0;
}

int jid_domain_to_ascii(const char *domain, char *out, size_t outsz)
{
    size_t n = strlen(domain);
    if (is_ascii(domain, n)) {
        if (n + 1 > outsz) {
            return -1;
        }
        memcpy(out, domain, n + 1);
        return 0;
    }
    uint8_t *alabel = NULL;
    if (idn2_lookup_u8((const uint8_t *)domain, &alabel, IDN2_NFC_INPUT | IDN2_NO_TR46) !=
        IDN2_OK) {
        return -1;
    }
    size_t al = strlen((const char *)alabel);
    int rc = -1;
    if (al + 1 <= outsz) {
        memcpy(out, alabel, al + 1);
        rc = 0;
    }
    idn2_free(alabel);
    return rc;
}

/* ---- Localpart -------------------------------------------------------- */

/* RFC 7622 section 3.3.1 further excluded characters. */
static bool local_excluded(ucs4_t c)
{
    return c == '"' || c == '&' || c == '\'' || c == '/' || c == ':' || c == '<' || c == '>' ||
           c == '@';
}

/* The PRECIS IdentifierClass (RFC 8264 section 4.2, RFC 5892 categories),
 * approximated as jid.h describes. */
static bool identifier_cp_ok(ucs4_t c)
{
    if (c >= 0x21 && c <= 0x7E) {
        return !local_excluded(c); /* ASCII7 */
    }
    if (c < 0x80) {
        return false; /* controls, space */
    }
    /* RFC 5892 section 2.6 exceptions: PVALID ones. The CONTEXTO/CONTEXTJ
     * code points are refused since their rules are not evaluated. */
    if (c == 0x00DF || c == 0x03C2 || c == 0x06FD || c == 0x06FE || c == 0x0F0B || c == 0x3007) {
        return true;
    }
    if (c == 0x00B7 || c == 0x0375 || c == 0x05F3 || c == 0x05F4 || c == 0x30FB || c == 0x200C ||
        c == 0x200D || c == 0x0640 || c == 0x07FA || c == 0x302E || c == 0x302F ||
        (c >= 0x3031 && c <= 0x3035) || c == 0x303B || (c >= 0x0660 && c <= 0x0669) ||
        (c >= 0x06F0 && c <= 0x06F9)) {
        return false;
    }
    /* OldHangulJamo (RFC 5892 section 2.9) */
    if ((c >= 0x1100 && c <= 0x11FF) || (c >= 0xA960 && c <= 0xA97F) ||
        (c >= 0xD7B0 && c <= 0xD7FF)) {
        return false;
    }
    if (uc_is_property_default_ignorable_code_point(c)) {
        return false;
    }
    /* LetterDigits (RFC 5892 section 2.1): Ll Lu Lo Nd Lm Mn Mc. */
    if (!uc_is_general_category_withtable(c, UC_CATEGORY_MASK_Ll | UC_CATEGORY_MASK_Lu |
                                                 UC_CATEGORY_MASK_Lo | UC_CATEGORY_MASK_Nd |
                                                 UC_CATEGORY_MASK_Lm | UC_CATEGORY_MASK_Mn |
                                                 UC_CATEGORY_MASK_Mc)) {
        return false;
    }
    /* HasCompat (RFC 8264 section 9.17): a compatibility decomposition. */
    int tag;
    ucs4_t d[UC_DECOMPOSITION_MAX_LENGTH];
    if (uc_decomposition(c, &tag, d) > 0 && tag != UC_DECOMP_CANONICAL) {
        return false;
    }
    return true;
}

/* Writes the enforced localpart into out (JID_PART_MAX + 1 bytes). */
static int local_normalize(const char *in, size_t n, char *out, const char **why)
{
    if (n == 0) {
        set_why(why, "empty localpart");
        return -1;
    }
    if (n > PART_INPUT_MAX) {
        set_why(why, "localpart too long");
        return -1;
    }
    if (memchr(in, '\0', n) != NULL || u8_check((const uint8_t *)in, n) != NULL) {
        set_why(why, "localpart is not valid UTF-8");
        return -1;
    }
    if (is_ascii(in, n)) {
        if (n > JID_PART_MAX) {
            set_why(why, "localpart too long");
            return -1;
        }
        for (size_t i = 0; i < n; i++) {
            char c = in[i];
            if (!identifier_cp_ok((unsigned char)c)) {
                set_why(why, "localpart contains a disallowed character");
                return -1;
            }
            out[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
        }
        out[n] = '\0';
        return 0;
    }
    size_t ml;
    char *m = map_width_lower_nfc(in, n, &ml);
    if (m == NULL) {
        set_why(why, "invalid localpart");
        return -1;
    }
    const uint8_t *p = (const uint8_t *)m;
    const uint8_t *end = p + ml;
    while (p < end) {
        ucs4_t c;
        int k = u8_mbtouc(&c, p, (size_t)(end - p));
        if (k <= 0 || !identifier_cp_ok(c)) {
            free(m);
            set_why(why, "localpart contains a disallowed character");
            return -1;
        }
        p += k;
    }
    if (ml == 0 || ml > JID_PART_MAX) {
        free(m);
        set_why(why, ml == 0 ? "empty localpart" : "localpart too long");
        return -1;
    }
    memcpy(out, m, ml + 1);
    free(m);
    return 0;
}

/* ---- Resourcepart ----------------------------------------------------- */

/* Opaque, but valid UTF-8 of XML characters without controls and without
 * a leading space. */
static int resource_check(const char *in, size_t n, const char **why)
{
    if (n == 0) {
        set_why(why, "empty resourcepart");
        return -1;
    }
    if (n > JID_PART_MAX) {
        set_why(why, "resourcepart too long");
        return -1;
    }
    if (u8_check((const uint8_t *)in, n) != NULL) {
        set_why(why, "resourcepart is not valid UTF-8");
        return -1;
    }
    /* RFC 7622 section 3.5, example 18 */
    if (in[0] == ' ') {
        set_why(why, "leading space in resourcepart");
        return -1;
    }
    const uint8_t *p = (const uint8_t *)in;
    const uint8_t *end = p + n;
    while (p < end) {
        ucs4_t c;
        int k = u8_mbtouc(&c, p, (size_t)(end - p));
        if (k <= 0 || c < 0x20 || (c >= 0x7F && c <= 0x9F) || c == 0xFFFE || c == 0xFFFF) {
            set_why(why, "resourcepart contains a disallowed character");
            return -1;
        }
        p += k;
    }
    return 0;
}

/* ---- JIDs ------------------------------------------------------------- */

static struct jid *jid_assemble(const char *local, const char *domain, const char *resource,
                                size_t rlen, const char **why)
{
    size_t ll = local != NULL ? strlen(local) : 0;
    size_t dl = strlen(domain);
    size_t bare_len = (local != NULL ? ll + 1 : 0) + dl;
    size_t full_len = bare_len + (resource != NULL ? rlen + 1 : 0);
    size_t total = (full_len + 1) + (bare_len + 1) + (ll + 1) + (dl + 1) + (rlen + 1);
    struct jid *j = malloc(sizeof(*j) + total);
    if (j == NULL) {
        set_why(why, "out of memory");
        return NULL;
    }
    char *p = j->full;
    if (local != NULL) {
        memcpy(p, local, ll);
        p += ll;
        *p++ = '@';
    }
    memcpy(p, domain, dl);
    p += dl;
    if (resource != NULL) {
        *p++ = '/';
        memcpy(p, resource, rlen);
        p += rlen;
    }
    *p++ = '\0';
    char *bare = p;
    memcpy(bare, j->full, bare_len);
    bare[bare_len] = '\0';
    p = bare + bare_len + 1;
    j->bare = bare;
    j->local = NULL;
    if (local != NULL) {
        memcpy(p, local, ll + 1);
        j->local = p;
        p += ll + 1;
    }
    memcpy(p, domain, dl + 1);
    j->domain = p;
    p += dl + 1;
    j->resource = NULL;
    if (resource != NULL) {
        memcpy(p, resource, rlen);
        p[rlen] = '\0';
        j->resource = p;
    }
    return j;
}

struct jid *jid_parse(const char *s, size_t len, const char **why)
{
    if (s == NULL) {
        set_why(why, "no JID");
        return NULL;
    }
    if (memchr(s, '\0', len) != NULL) {
        set_why(why, "NUL byte in JID");
        return NULL;
    }
    /* RFC 7622 section 3.2: the resourcepart starts at the first '/', the
     * localpart ends at the first '@' before it. */
    const char *slash = memchr(s, '/', len);
    size_t head = slash != NULL ? (size_t)(slash - s) : len;
    const char *at = memchr(s, '@', head);
    const char *dom = at != NULL ? at + 1 : s;
    size_t domlen = head - (size_t)(dom - s);

    char local[JID_PART_MAX + 1];
    char domain[JID_PART_MAX + 1];
    if (at != NULL && local_normalize(s, (size_t)(at - s), local, why) < 0) {
        return NULL;
    }
    if (jid_domain_normalize(dom, domlen, domain, sizeof(domain), why) < 0) {
        return NULL;
    }
    const char *res = NULL;
    size_t rlen = 0;
    if (slash != NULL) {
        res = slash + 1;
        rlen = len - head - 1;
        if (resource_check(res, rlen, why) < 0) {
            return NULL;
        }
    }
    return jid_assemble(at != NULL ? local : NULL, domain, res, rlen, why);
}

struct jid *jid_new(const char *s, const char **why)
{
    if (s == NULL) {
        set_why(why, "no JID");
        return NULL;
    }
    return jid_parse(s, strlen(s), why);
}

struct jid *jid_from_parts(const char *local, const char *domain, const char *resource,
                           const char **why)
{
    if (domain == NULL) {
        set_why(why, "empty domainpart");
        return NULL;
    }
    char l[JID_PART_MAX + 1];
    char d[JID_PART_MAX + 1];
    if (local != NULL && local_normalize(local, strlen(local), l, why) < 0) {
        return NULL;
    }
    size_t dl = strlen(domain);
    /* A separator inside a part would make the JID mean something else. */
    if (memchr(domain, '@', dl) != NULL || memchr(domain, '/', dl) != NULL) {
        set_why(why, "domainpart contains a disallowed character");
        return NULL;
    }
    if (jid_domain_normalize(domain, dl, d, sizeof(d), why) < 0) {
        return NULL;
    }
    size_t rlen = 0;
    if (resource != NULL) {
        rlen = strlen(resource);
        if (resource_check(resource, rlen, why) < 0) {
            return NULL;
        }
    }
    return jid_assemble(local != NULL ? l : NULL, d, resource, rlen, why);
}

void jid_free(struct jid *j)
{
    free(j);
}

struct jid *jid_dup(const struct jid *j)
{
    return jid_assemble(j->local, j->domain, j->resource,
                        j->resource != NULL ? strlen(j->resource) : 0, NULL);
}

struct jid *jid_to_bare(const struct jid *j)
{
    return jid_assemble(j->local, j->domain, NULL, 0, NULL);
}

const char *jid_local(const struct jid *j)
{
    return j->local;
}

const char *jid_domain(const struct jid *j)
{
    return j->domain;
}

const char *jid_resource(const struct jid *j)
{
    return j->resource;
}

const char *jid_full(const struct jid *j)
{
    return j->full;
}

const char *jid_bare(const struct jid *j)
{
    return j->bare;
}

bool jid_is_bare(const struct jid *j)
{
    return j->resource == NULL;
}

bool jid_is_domain(const struct jid *j)
{
    return j->local == NULL && j->resource == NULL;
}

bool jid_equal(const struct jid *a, const struct jid *b)
{
    return strcmp(a->full, b->full) == 0;
}

bool jid_bare_equal(const struct jid *a, const struct jid *b)
{
    return strcmp(a->bare, b->bare) == 0;
}

bool jid_valid(const char *s)
{
    struct jid *j = jid_new(s, NULL);
    bool ok = j != NULL;
    jid_free(j);
    return ok;
}
