/*
 * s2s_dns.c - DNS query building and reply checking with ldns, and the SRV
 * ordering rules of RFC 2782 / RFC 6120 section 3.2 / XEP-0368 section 3.
 *
 * ldns only turns packets into structures and back; this file decides what
 * of a reply may be believed. Only the answer section is read: authority and
 * additional records are ignored, so a reply cannot plant addresses for
 * names we did not ask about.
 */
#include "s2s_dns.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <idn2.h>
#include <ldns/ldns.h>

#define MAX_NAME  253 /* octets in text form without the trailing dot */
#define MAX_LABEL 63

/* Host names are letters, digits and hyphens (RFC 1123 section 2.1), no
 * label starting or ending with a hyphen. */
static bool ldh_label_ok(const char *l, size_t n)
{
    if (n == 0 || n > MAX_LABEL || l[0] == '-' || l[n - 1] == '-')
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)l[i];
        if (!(isascii(c) && (isalnum(c) || c == '-')))
            return false;
    }
    return true;
}

static bool hostname_ok(const char *s)
{
    size_t len = strlen(s);

    if (len == 0 || len > MAX_NAME)
        return false;
    const char *p = s;
    for (;;) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (!ldh_label_ok(p, n))
            return false;
        if (dot == NULL)
            return true;
        p = dot + 1;
    }
}

int s2s_dns_to_alabel(const char *domain, char *out, size_t outlen)
{
    char in[4 * MAX_NAME + 2];
    char *ascii = NULL;

    if (outlen > 0)
        out[0] = '\0';
    if (domain == NULL || outlen == 0)
        return -1;
    size_t len = strlen(domain);
    if (len == 0 || len >= sizeof(in))
        return -1;
    memcpy(in, domain, len + 1);
    if (in[len - 1] == '.')
        in[--len] = '\0';
    if (len == 0)
        return -1;

    /* IDNA2008 with the UTS #46 mapping (case folding, NFC) that libidn2
     * applies in non-transitional mode; pure ASCII input is only lower-cased
     * and checked. */
    bool all_ascii = true;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)in[i] >= 0x80)
            all_ascii = false;
    if (all_ascii) {
        for (size_t i = 0; i < len; i++)
            in[i] = (char)tolower((unsigned char)in[i]);
        if (!hostname_ok(in) || len + 1 > outlen)
            return -1;
        memcpy(out, in, len + 1);
        return 0;
    }
    if (idn2_to_ascii_8z(in, &ascii, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL) != IDN2_OK)
        return -1;
    size_t alen = strlen(ascii);
    for (size_t i = 0; i < alen; i++)
        ascii[i] = (char)tolower((unsigned char)ascii[i]);
    int rc = -1;
    if (hostname_ok(ascii) && alen + 1 <= outlen) {
        memcpy(out, ascii, alen + 1);
        rc = 0;
    }
    idn2_free(ascii);
    return rc;
}

static const char *qprefix(enum s2s_dns_qtype t)
{
    switch (t) {
    case S2S_DNS_SRV_XMPPS:
        return "_xmpps-server._tcp.";
    case S2S_DNS_SRV_XMPP:
        return "_xmpp-server._tcp.";
    case S2S_DNS_A:
    case S2S_DNS_AAAA:
        break;
    }
    return "";
}

static ldns_rr_type qrrtype(enum s2s_dns_qtype t)
{
    switch (t) {
    case S2S_DNS_SRV_XMPPS:
    case S2S_DNS_SRV_XMPP:
        return LDNS_RR_TYPE_SRV;
    case S2S_DNS_A:
        return LDNS_RR_TYPE_A;
    case S2S_DNS_AAAA:
        break;
    }
    return LDNS_RR_TYPE_AAAA;
}

int s2s_dns_qname(enum s2s_dns_qtype t, const char *domain_alabel, char *out, size_t outlen)
{
    if (domain_alabel == NULL || !hostname_ok(domain_alabel))
        return -1;
    const char *pre = qprefix(t);
    size_t need = strlen(pre) + strlen(domain_alabel) + 1;
    if (need > outlen || need - 1 > MAX_NAME)
        return -1;
    memcpy(out, pre, strlen(pre));
    memcpy(out + strlen(pre), domain_alabel, strlen(domain_alabel) + 1);
    return 0;
}

/* The question name as an ldns dname, or NULL. */
static ldns_rdf *qname_rdf(enum s2s_dns_qtype t, const char *domain_alabel)
{
    char name[MAX_NAME + 2];

    if (s2s_dns_qname(t, domain_alabel, name, sizeof(name)) != 0)
        return NULL;
    return ldns_dname_new_frm_str(name);
}

int s2s_dns_query_build(enum s2s_dns_qtype t, const char *domain_alabel, uint16_t id,
                        uint8_t **wire, size_t *len)
{
    *wire = NULL;
    *len = 0;
    ldns_rdf *name = qname_rdf(t, domain_alabel);
    if (name == NULL)
        return -1;
    /* ldns_pkt_query_new() takes ownership of name, even on failure. */
    ldns_pkt *q = ldns_pkt_query_new(name, qrrtype(t), LDNS_RR_CLASS_IN, LDNS_RD);
    if (q == NULL)
        return -1;
    ldns_pkt_set_id(q, id);
    ldns_status st = ldns_pkt2wire(wire, q, len);
    ldns_pkt_free(q);
    if (st != LDNS_STATUS_OK) {
        free(*wire);
        *wire = NULL;
        *len = 0;
        return -1;
    }
    return 0;
}

/* Writes a wire-format dname as lower-case text without the trailing dot
 * ("." for the root). Refuses anything that is not a host name: a target
 * is only ever used to connect to. Returns 0 or -1. */
static int dname_to_host(const ldns_rdf *rdf, char *out, size_t outlen)
{
    if (rdf == NULL || ldns_rdf_get_type(rdf) != LDNS_RDF_TYPE_DNAME)
        return -1;
    const uint8_t *d = ldns_rdf_data(rdf);
    size_t n = ldns_rdf_size(rdf), i = 0, o = 0;
    if (n == 1 && d[0] == 0) {
        if (outlen < 2)
            return -1;
        memcpy(out, ".", 2);
        return 0;
    }
    while (i < n) {
        size_t l = d[i++];
        if (l == 0)
            break;
        if (l > MAX_LABEL || i + l > n || o + l + 2 > outlen)
            return -1;
        if (o > 0)
            out[o++] = '.';
        for (size_t k = 0; k < l; k++)
            out[o++] = (char)tolower(d[i + k]);
        i += l;
    }
    if (o == 0 || i != n)
        return -1;
    out[o] = '\0';
    return hostname_ok(out) ? 0 : -1;
}

static bool same_name(const ldns_rdf *a, const ldns_rdf *b)
{
    return a != NULL && b != NULL && ldns_rdf_get_type(a) == LDNS_RDF_TYPE_DNAME &&
           ldns_rdf_get_type(b) == LDNS_RDF_TYPE_DNAME && ldns_dname_compare(a, b) == 0;
}

/* Follows CNAME records in the answer from qname; returns the final owner
 * name (borrowed from the packet or qname), or NULL when the chain is
 * longer than S2S_DNS_MAX_CNAME. */
static const ldns_rdf *cname_end(const ldns_rr_list *ans, const ldns_rdf *qname)
{
    const ldns_rdf *cur = qname;

    for (int links = 0;; links++) {
        const ldns_rdf *next = NULL;
        for (size_t i = 0; i < ldns_rr_list_rr_count(ans); i++) {
            const ldns_rr *rr = ldns_rr_list_rr(ans, i);
            if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_CNAME &&
                ldns_rr_get_class(rr) == LDNS_RR_CLASS_IN && ldns_rr_rd_count(rr) == 1 &&
                same_name(ldns_rr_owner(rr), cur)) {
                next = ldns_rr_rdf(rr, 0);
                break;
            }
        }
        if (next == NULL)
            return cur;
        if (links >= S2S_DNS_MAX_CNAME)
            return NULL;
        cur = next;
    }
}

static void take_srv(const ldns_rr *rr, bool direct_tls, struct s2s_dns_reply *out)
{
    if (out->n_srv >= S2S_DNS_MAX_RECORDS || ldns_rr_rd_count(rr) != 4)
        return;
    const ldns_rdf *f[4];
    for (size_t i = 0; i < 4; i++)
        f[i] = ldns_rr_rdf(rr, i);
    for (size_t i = 0; i < 3; i++)
        if (f[i] == NULL || ldns_rdf_get_type(f[i]) != LDNS_RDF_TYPE_INT16 ||
            ldns_rdf_size(f[i]) != 2)
            return;
    struct s2s_dns_srv *s = &out->srv[out->n_srv];
    if (dname_to_host(f[3], s->target, sizeof(s->target)) != 0)
        return;
    s->priority = ldns_rdf2native_int16(f[0]);
    s->weight = ldns_rdf2native_int16(f[1]);
    s->port = ldns_rdf2native_int16(f[2]);
    s->direct_tls = direct_tls;
    if (s->port == 0 && strcmp(s->target, ".") != 0)
        return;
    out->n_srv++;
}

static void take_addr(const ldns_rr *rr, struct s2s_dns_reply *out)
{
    if (out->n_addr >= S2S_DNS_MAX_RECORDS || ldns_rr_rd_count(rr) != 1)
        return;
    const ldns_rdf *f = ldns_rr_rdf(rr, 0);
    struct s2s_dns_addr *a = &out->addr[out->n_addr];
    if (ldns_rdf_get_type(f) == LDNS_RDF_TYPE_A && ldns_rdf_size(f) == 4) {
        a->family = AF_INET;
        memcpy(&a->u.v4, ldns_rdf_data(f), 4);
    } else if (ldns_rdf_get_type(f) == LDNS_RDF_TYPE_AAAA && ldns_rdf_size(f) == 16) {
        a->family = AF_INET6;
        memcpy(&a->u.v6, ldns_rdf_data(f), 16);
    } else {
        return;
    }
    out->n_addr++;
}

int s2s_dns_reply_parse(const uint8_t *wire, size_t len, enum s2s_dns_qtype t,
                        const char *domain_alabel, uint16_t id, struct s2s_dns_reply *out)
{
    ldns_pkt *p = NULL;
    ldns_rdf *qname = NULL;
    int rc = -1;

    memset(out, 0, sizeof(*out));
    out->rcode = S2S_DNS_SERVFAIL;
    if (wire == NULL || len < LDNS_HEADER_SIZE || len > LDNS_MAX_PACKETLEN)
        return -1;
    /* Cheap checks on the raw header before parsing anything. */
    if ((uint16_t)((wire[0] << 8) | wire[1]) != id || !(wire[2] & 0x80))
        return -1;
    if ((qname = qname_rdf(t, domain_alabel)) == NULL)
        return -1;
    if (ldns_wire2pkt(&p, wire, len) != LDNS_STATUS_OK || p == NULL)
        goto out;
    if (ldns_pkt_id(p) != id || !ldns_pkt_qr(p) || ldns_pkt_get_opcode(p) != LDNS_PACKET_QUERY)
        goto out;
    /* The question must be exactly ours (RFC 5452 section 9.1). */
    const ldns_rr_list *qs = ldns_pkt_question(p);
    if (ldns_pkt_qdcount(p) != 1 || qs == NULL || ldns_rr_list_rr_count(qs) != 1)
        goto out;
    const ldns_rr *q = ldns_rr_list_rr(qs, 0);
    if (!same_name(ldns_rr_owner(q), qname) || ldns_rr_get_type(q) != qrrtype(t) ||
        ldns_rr_get_class(q) != LDNS_RR_CLASS_IN)
        goto out;
    rc = 0;
    if (ldns_pkt_tc(p)) {
        /* Never use part of a truncated answer (RFC 2181 section 9). */
        out->truncated = true;
        goto out;
    }
    switch (ldns_pkt_get_rcode(p)) {
    case LDNS_RCODE_NOERROR:
        out->rcode = S2S_DNS_NOERROR;
        break;
    case LDNS_RCODE_NXDOMAIN:
        out->rcode = S2S_DNS_NXDOMAIN;
        goto out;
    default:
        out->rcode = S2S_DNS_SERVFAIL;
        goto out;
    }
    const ldns_rr_list *ans = ldns_pkt_answer(p);
    if (ans == NULL)
        goto out;
    const ldns_rdf *owner = cname_end(ans, qname);
    if (owner == NULL)
        goto out; /* a CNAME chain too long: treated as no data */
    for (size_t i = 0; i < ldns_rr_list_rr_count(ans); i++) {
        const ldns_rr *rr = ldns_rr_list_rr(ans, i);
        if (ldns_rr_get_type(rr) != qrrtype(t) || ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN ||
            !same_name(ldns_rr_owner(rr), owner))
            continue;
        if (qrrtype(t) == LDNS_RR_TYPE_SRV)
            take_srv(rr, t == S2S_DNS_SRV_XMPPS, out);
        else
            take_addr(rr, out);
    }
out:
    ldns_pkt_free(p);
    ldns_rdf_deep_free(qname);
    return rc;
}

/*
 * RFC 2782 ordering, written once over an abstract array so that it serves
 * both the public in-place function and the merge in s2s_dns_plan_targets().
 */
struct order_ops {
    uint16_t (*prio)(void *ctx, size_t i);
    uint16_t (*weight)(void *ctx, size_t i);
    void (*swap)(void *ctx, size_t i, size_t j);
    void *ctx;
};

static void order_core(const struct order_ops *o, size_t n, s2s_dns_random_fn *rnd, void *arg)
{
    /* Stable insertion sort by priority; n is small (at most a few
     * hundred). */
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && o->prio(o->ctx, j - 1) > o->prio(o->ctx, j); j--)
            o->swap(o->ctx, j - 1, j);

    for (size_t start = 0; start < n;) {
        size_t end = start;
        while (end < n && o->prio(o->ctx, end) == o->prio(o->ctx, start))
            end++;
        /* RFC 2782: records of weight 0 are placed first in the running
         * order, a random number between 0 and the sum of weights picks
         * the first record whose running sum reaches it. */
        for (size_t pos = start; pos < end; pos++) {
            uint32_t sum = 0;
            for (size_t i = pos; i < end; i++)
                sum += o->weight(o->ctx, i);
            uint32_t r = (uint32_t)(((uint64_t)rnd(arg) * ((uint64_t)sum + 1)) >> 32);
            size_t pick = end;
            uint32_t run = 0;
            for (int pass = 0; pass < 2 && pick == end; pass++) {
                for (size_t i = pos; i < end; i++) {
                    uint16_t w = o->weight(o->ctx, i);
                    if ((pass == 0) != (w == 0))
                        continue;
                    run += w;
                    if (run >= r) {
                        pick = i;
                        break;
                    }
                }
            }
            if (pick == end)
                pick = end - 1; /* unreachable: run reaches sum >= r */
            /* Keep the unpicked records in their relative order. */
            for (size_t i = pick; i > pos; i--)
                o->swap(o->ctx, i - 1, i);
        }
        start = end;
    }
}

static uint16_t rec_prio(void *ctx, size_t i)
{
    return ((struct s2s_dns_srv *)ctx)[i].priority;
}

static uint16_t rec_weight(void *ctx, size_t i)
{
    return ((struct s2s_dns_srv *)ctx)[i].weight;
}

static void rec_swap(void *ctx, size_t i, size_t j)
{
    struct s2s_dns_srv *r = ctx, t = r[i];
    r[i] = r[j];
    r[j] = t;
}

void s2s_dns_srv_order(struct s2s_dns_srv *rr, size_t n, s2s_dns_random_fn *rnd, void *arg)
{
    const struct order_ops o = {rec_prio, rec_weight, rec_swap, rr};
    order_core(&o, n, rnd, arg);
}

static uint16_t ptr_prio(void *ctx, size_t i)
{
    return ((const struct s2s_dns_srv **)ctx)[i]->priority;
}

static uint16_t ptr_weight(void *ctx, size_t i)
{
    return ((const struct s2s_dns_srv **)ctx)[i]->weight;
}

static void ptr_swap(void *ctx, size_t i, size_t j)
{
    const struct s2s_dns_srv **r = ctx, *t = r[i];
    r[i] = r[j];
    r[j] = t;
}

/* Whether a reply says "this service is decidedly not available": records
 * that all have the target "." (RFC 2782; RFC 6120 3.2.1 step 3). */
static bool only_dot(const struct s2s_dns_reply *r)
{
    if (r == NULL || r->truncated || r->rcode != S2S_DNS_NOERROR || r->n_srv == 0)
        return false;
    for (size_t i = 0; i < r->n_srv; i++)
        if (strcmp(r->srv[i].target, ".") != 0)
            return false;
    return true;
}

static size_t collect(const struct s2s_dns_reply *r, const struct s2s_dns_srv **v, size_t n)
{
    if (r == NULL || r->truncated || r->rcode != S2S_DNS_NOERROR)
        return n;
    for (size_t i = 0; i < r->n_srv && i < S2S_DNS_MAX_RECORDS; i++)
        if (strcmp(r->srv[i].target, ".") != 0)
            v[n++] = &r->srv[i];
    return n;
}

enum s2s_dns_plan s2s_dns_plan_targets(const struct s2s_dns_reply *xmpps,
                                       const struct s2s_dns_reply *xmpp, const char *domain_alabel,
                                       s2s_dns_random_fn *rnd, void *arg, struct s2s_target *out,
                                       size_t max, size_t *n_out)
{
    const struct s2s_dns_srv *v[2 * S2S_DNS_MAX_RECORDS];
    size_t n = 0;

    *n_out = 0;
    n = collect(xmpps, v, n);
    n = collect(xmpp, v, n);
    if (n == 0) {
        /* XEP-0368 section 3: a "." for _xmpps-server means no direct TLS
         * and forbids the A/AAAA fallback as much as one for _xmpp-server
         * does (RFC 6120 3.2.1 steps 3 and 8). */
        if (only_dot(xmpps) || only_dot(xmpp))
            return S2S_PLAN_UNAVAILABLE;
        if (max > 0 && domain_alabel != NULL && strlen(domain_alabel) < sizeof(out[0].host)) {
            memcpy(out[0].host, domain_alabel, strlen(domain_alabel) + 1);
            out[0].port = S2S_DEFAULT_PORT;
            out[0].direct_tls = false;
            *n_out = 1;
        }
        return S2S_PLAN_FALLBACK;
    }
    /* XEP-0368 rule 1: both services are ordered as one record set. */
    const struct order_ops o = {ptr_prio, ptr_weight, ptr_swap, (void *)v};
    order_core(&o, n, rnd, arg);
    for (size_t i = 0; i < n && *n_out < max; i++) {
        bool dup = false;
        for (size_t k = 0; k < *n_out && !dup; k++)
            dup = out[k].port == v[i]->port && out[k].direct_tls == v[i]->direct_tls &&
                  strcmp(out[k].host, v[i]->target) == 0;
        if (dup)
            continue;
        struct s2s_target *t = &out[(*n_out)++];
        memcpy(t->host, v[i]->target, sizeof(t->host));
        t->port = v[i]->port;
        t->direct_tls = v[i]->direct_tls;
    }
    return S2S_PLAN_SRV;
}
