/*
 * test_s2s_dns.c - DNS packets and SRV rules without a server: names,
 * queries, hostile replies built byte by byte, RFC 2782 ordering with an
 * injected random source, and the RFC 6120 / XEP-0368 target plan.
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "s2s_dns.h"

/* ---- a tiny DNS message writer for hostile replies ----------------------- */

struct msg {
    uint8_t b[4096];
    size_t n;
};

static void put8(struct msg *m, unsigned v)
{
    assert_true(m->n < sizeof(m->b));
    m->b[m->n++] = (uint8_t)v;
}

static void put16(struct msg *m, unsigned v)
{
    put8(m, v >> 8);
    put8(m, v & 0xff);
}

static void put32(struct msg *m, uint32_t v)
{
    put16(m, v >> 16);
    put16(m, v & 0xffff);
}

/* Writes a name in wire form, uncompressed; "" and "." are the root. */
static void put_name(struct msg *m, const char *name)
{
    const char *p = name;
    while (*p != '\0' && strcmp(p, ".") != 0) {
        const char *dot = strchr(p, '.');
        size_t l = dot ? (size_t)(dot - p) : strlen(p);
        put8(m, (unsigned)l);
        for (size_t i = 0; i < l; i++)
            put8(m, (unsigned char)p[i]);
        p += l;
        if (*p == '.')
            p++;
    }
    put8(m, 0);
}

enum { T_A = 1, T_CNAME = 5, T_AAAA = 28, T_SRV = 33 };

static void header(struct msg *m, uint16_t id, unsigned flags, unsigned qd, unsigned an)
{
    m->n = 0;
    put16(m, id);
    put16(m, flags);
    put16(m, qd);
    put16(m, an);
    put16(m, 0);
    put16(m, 0);
}

static void question(struct msg *m, const char *name, unsigned type)
{
    put_name(m, name);
    put16(m, type);
    put16(m, 1);
}

static void rr_srv(struct msg *m, const char *owner, unsigned prio, unsigned weight, unsigned port,
                   const char *target)
{
    put_name(m, owner);
    put16(m, T_SRV);
    put16(m, 1);
    put32(m, 300);
    size_t lenpos = m->n;
    put16(m, 0);
    put16(m, prio);
    put16(m, weight);
    put16(m, port);
    put_name(m, target);
    size_t rdlen = m->n - lenpos - 2;
    m->b[lenpos] = (uint8_t)(rdlen >> 8);
    m->b[lenpos + 1] = (uint8_t)rdlen;
}

static void rr_a(struct msg *m, const char *owner, const char *ip)
{
    uint8_t a[4];
    assert_int_equal(inet_pton(AF_INET, ip, a), 1);
    put_name(m, owner);
    put16(m, T_A);
    put16(m, 1);
    put32(m, 300);
    put16(m, 4);
    for (int i = 0; i < 4; i++)
        put8(m, a[i]);
}

static void rr_aaaa(struct msg *m, const char *owner, const char *ip)
{
    uint8_t a[16];
    assert_int_equal(inet_pton(AF_INET6, ip, a), 1);
    put_name(m, owner);
    put16(m, T_AAAA);
    put16(m, 1);
    put32(m, 300);
    put16(m, 16);
    for (int i = 0; i < 16; i++)
        put8(m, a[i]);
}

static void rr_cname(struct msg *m, const char *owner, const char *target)
{
    put_name(m, owner);
    put16(m, T_CNAME);
    put16(m, 1);
    put32(m, 300);
    size_t lenpos = m->n;
    put16(m, 0);
    put_name(m, target);
    size_t rdlen = m->n - lenpos - 2;
    m->b[lenpos] = (uint8_t)(rdlen >> 8);
    m->b[lenpos + 1] = (uint8_t)rdlen;
}

#define RESP   0x8180 /* QR, RD, RA, NOERROR */
#define QNAME  "_xmpp-server._tcp.example.com"
#define QNAMES "_xmpps-server._tcp.example.com"

static struct s2s_dns_reply *rep;

static int parse(const struct msg *m, enum s2s_dns_qtype t, const char *domain, uint16_t id)
{
    return s2s_dns_reply_parse(m->b, m->n, t, domain, id, rep);
}

/* ---- names and queries --------------------------------------------------- */

static void alabel_conversion(void **state)
{
    char out[S2S_DNS_NAME_BUFSZ];

    (void)state;
    assert_int_equal(s2s_dns_to_alabel("Example.COM", out, sizeof(out)), 0);
    assert_string_equal(out, "example.com");
    assert_int_equal(s2s_dns_to_alabel("example.com.", out, sizeof(out)), 0);
    assert_string_equal(out, "example.com");
    assert_int_equal(s2s_dns_to_alabel("B\xc3\x9c"
                                       "cher.example",
                                       out, sizeof(out)),
                     0);
    assert_string_equal(out, "xn--bcher-kva.example");
    assert_int_equal(s2s_dns_to_alabel("XN--BCHER-KVA.example", out, sizeof(out)), 0);
    assert_string_equal(out, "xn--bcher-kva.example");
    assert_int_equal(s2s_dns_to_alabel("localhost", out, sizeof(out)), 0);

    const char *bad[] = {"",
                         ".",
                         "example..com",
                         ".example.com",
                         "example.com..",
                         "exa mple.com",
                         "-example.com",
                         "example-.com",
                         "ex_ample.com",
                         "*.example.com",
                         "a\x01.com",
                         "example.com/x",
                         "user@example.com"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(s2s_dns_to_alabel(bad[i], out, sizeof(out)), -1);
        assert_string_equal(out, "");
    }
    char label64[80];
    memset(label64, 'a', 64);
    strcpy(label64 + 64, ".com");
    assert_int_equal(s2s_dns_to_alabel(label64, out, sizeof(out)), -1);
    char longname[300];
    for (int i = 0; i < 64; i++)
        memcpy(longname + 4 * i, "abc.", 4); /* 256 octets */
    strcpy(longname + 252, "com");
    assert_int_equal(s2s_dns_to_alabel(longname, out, sizeof(out)), -1);
    assert_int_equal(s2s_dns_to_alabel("example.com", out, 5), -1);
}

static void qnames(void **state)
{
    char out[S2S_DNS_NAME_BUFSZ];

    (void)state;
    assert_int_equal(s2s_dns_qname(S2S_DNS_SRV_XMPP, "example.com", out, sizeof(out)), 0);
    assert_string_equal(out, QNAME);
    assert_int_equal(s2s_dns_qname(S2S_DNS_SRV_XMPPS, "example.com", out, sizeof(out)), 0);
    assert_string_equal(out, QNAMES);
    assert_int_equal(s2s_dns_qname(S2S_DNS_A, "example.com", out, sizeof(out)), 0);
    assert_string_equal(out, "example.com");
    assert_int_equal(s2s_dns_qname(S2S_DNS_SRV_XMPP, "bad name", out, sizeof(out)), -1);
}

static void query_wire_format(void **state)
{
    uint8_t *w = NULL;
    size_t len = 0;
    struct msg want;

    (void)state;
    assert_int_equal(s2s_dns_query_build(S2S_DNS_SRV_XMPP, "example.com", 0xbeef, &w, &len), 0);
    header(&want, 0xbeef, 0x0100 /* RD */, 1, 0);
    question(&want, QNAME, T_SRV);
    assert_int_equal(len, want.n);
    assert_memory_equal(w, want.b, len);
    free(w);

    assert_int_equal(s2s_dns_query_build(S2S_DNS_AAAA, "a.example.com", 7, &w, &len), 0);
    header(&want, 7, 0x0100, 1, 0);
    question(&want, "a.example.com", T_AAAA);
    assert_int_equal(len, want.n);
    assert_memory_equal(w, want.b, len);
    free(w);

    assert_int_equal(s2s_dns_query_build(S2S_DNS_A, "bad..name", 7, &w, &len), -1);
    assert_null(w);
}

/* ---- replies -------------------------------------------------------------- */

static void srv_reply_parsed(void **state)
{
    struct msg m;

    (void)state;
    header(&m, 42, RESP, 1, 3);
    question(&m, QNAME, T_SRV);
    rr_srv(&m, QNAME, 10, 60, 5269, "A.Example.com");
    rr_srv(&m, "_XMPP-SERVER._tcp.EXAMPLE.com", 20, 0, 5270, "b.example.com.");
    rr_a(&m, QNAME, "192.0.2.1"); /* other type: ignored */
    m.b[7] = 3;
    assert_int_equal(parse(&m, S2S_DNS_SRV_XMPP, "example.com", 42), 0);
    assert_int_equal(rep->rcode, S2S_DNS_NOERROR);
    assert_false(rep->truncated);
    assert_int_equal(rep->n_srv, 2);
    assert_string_equal(rep->srv[0].target, "a.example.com");
    assert_int_equal(rep->srv[0].priority, 10);
    assert_int_equal(rep->srv[0].weight, 60);
    assert_int_equal(rep->srv[0].port, 5269);
    assert_false(rep->srv[0].direct_tls);
    assert_string_equal(rep->srv[1].target, "b.example.com");

    header(&m, 43, RESP, 1, 1);
    question(&m, QNAMES, T_SRV);
    rr_srv(&m, QNAMES, 5, 1, 5223, "c.example.com");
    assert_int_equal(parse(&m, S2S_DNS_SRV_XMPPS, "example.com", 43), 0);
    assert_int_equal(rep->n_srv, 1);
    assert_true(rep->srv[0].direct_tls);
}

static void dot_target_kept(void **state)
{
    struct msg m;

    (void)state;
    header(&m, 1, RESP, 1, 1);
    question(&m, QNAME, T_SRV);
    rr_srv(&m, QNAME, 0, 0, 0, ".");
    assert_int_equal(parse(&m, S2S_DNS_SRV_XMPP, "example.com", 1), 0);
    assert_int_equal(rep->n_srv, 1);
    assert_string_equal(rep->srv[0].target, ".");
}

static void reply_header_checks(void **state)
{
    struct msg m;

    (void)state;
    header(&m, 5, RESP, 1, 1);
    question(&m, QNAME, T_SRV);
    rr_srv(&m, QNAME, 1, 1, 5269, "a.example.com");
    assert_int_equal(parse(&m, S2S_DNS_SRV_XMPP, "example.com", 5), 0);
    /* wrong ID */
    assert_int_equal(parse(&m, S2S_DNS_SRV_XMPP, "example.com", 6), -1);
    /* wrong question name, type (same bytes asked as another query) */
    assert_int_equal(parse(&m, S2S_DNS_SRV_XMPP, "example.org", 5), -1);
    assert_int_equal(parse(&m, S2S_DNS_SRV_XMPPS, "example.com", 5), -1);
    assert_int_equal(parse(&m, S2S_DNS_A, QNAME, 5), -1);
    /* a query, not a response */
    m.b[2] &= 0x7f;
    assert_int_equal(parse(&m, S2S_DNS_SRV_XMPP, "example.com", 5), -1);
    m.b[2] |= 0x80;
    /* opcode STATUS */
    m.b[2] |= 0x10;
    assert_int_equal(parse(&m, S2S_DNS_SRV_XMPP, "example.com", 5), -1);
    m.b[2] &= (uint8_t)~0x10;
    /* every truncation of the packet is refused or parsed, never read past */
    for (size_t n = 0; n < m.n; n++) {
        int rc = s2s_dns_reply_parse(m.b, n, S2S_DNS_SRV_XMPP, "example.com", 5, rep);
        if (rc == 0)
            assert_true(rep->n_srv == 0);
    }

    /* two questions */
    header(&m, 5, RESP, 2, 0);
    question(&m, QNAME, T_SRV);
    question(&m, QNAME, T_SRV);
    assert_int_equal(parse(&m, S2S_DNS_SRV_XMPP, "example.com", 5), -1);
    /* no question */
    header(&m, 5, RESP, 0, 0);
    assert_int_equal(parse(&m, S2S_DNS_SRV_XMPP, "example.com", 5), -1);
    /* class CH question */
    header(&m, 5, RESP, 1, 0);
    put_name(&m, QNAME);
    put16(&m, T_SRV);
    put16(&m, 3);
    assert_int_equal(parse(&m, S2S_DNS_SRV_XMPP, "example.com", 5), -1);
    /* garbage */
    assert_int_equal(s2s_dns_reply_parse(NULL, 0, S2S_DNS_A, "example.com", 5, rep), -1);
    uint8_t junk[64];
    memset(junk, 0xff, sizeof(junk));
    junk[0] = 0;
    junk[1] = 5;
    assert_int_equal(s2s_dns_reply_parse(junk, sizeof(junk), S2S_DNS_A, "example.com", 5, rep), -1);
}

static void rcodes_and_truncation(void **state)
{
    struct msg m;

    (void)state;
    header(&m, 9, 0x8183 /* NXDOMAIN */, 1, 0);
    question(&m, QNAME, T_SRV);
    assert_int_equal(parse(&m, S2S_DNS_SRV_XMPP, "example.com", 9), 0);
    assert_int_equal(rep->rcode, S2S_DNS_NXDOMAIN);

    header(&m, 9, 0x8182 /* SERVFAIL */, 1, 0);
    question(&m, QNAME, T_SRV);
    assert_int_equal(parse(&m, S2S_DNS_SRV_XMPP, "example.com", 9), 0);
    assert_int_equal(rep->rcode, S2S_DNS_SERVFAIL);

    header(&m, 9, 0x8185 /* REFUSED */, 1, 0);
    question(&m, QNAME, T_SRV);
    assert_int_equal(parse(&m, S2S_DNS_SRV_XMPP, "example.com", 9), 0);
    assert_int_equal(rep->rcode, S2S_DNS_SERVFAIL);

    /* TC: nothing of the partial answer is used. */
    header(&m, 9, RESP | 0x0200, 1, 1);
    question(&m, QNAME, T_SRV);
    rr_srv(&m, QNAME, 1, 1, 5269, "a.example.com");
    assert_int_equal(parse(&m, S2S_DNS_SRV_XMPP, "example.com", 9), 0);
    assert_true(rep->truncated);
    assert_int_equal(rep->n_srv, 0);

    /* NOERROR without data */
    header(&m, 9, RESP, 1, 0);
    question(&m, QNAME, T_SRV);
    assert_int_equal(parse(&m, S2S_DNS_SRV_XMPP, "example.com", 9), 0);
    assert_int_equal(rep->rcode, S2S_DNS_NOERROR);
    assert_int_equal(rep->n_srv, 0);
}

static void foreign_owners_ignored(void **state)
{
    struct msg m;

    (void)state;
    header(&m, 3, RESP, 1, 4);
    question(&m, QNAME, T_SRV);
    rr_srv(&m, "_xmpp-server._tcp.evil.org", 1, 1, 5269, "evil.org");
    rr_srv(&m, "example.com", 1, 1, 5269, "evil.org");
    rr_srv(&m, QNAMES, 1, 1, 5269, "evil.org");
    rr_srv(&m, QNAME, 1, 1, 5269, "good.example.com");
    assert_int_equal(parse(&m, S2S_DNS_SRV_XMPP, "example.com", 3), 0);
    assert_int_equal(rep->n_srv, 1);
    assert_string_equal(rep->srv[0].target, "good.example.com");

    /* additional-section addresses are never believed */
    header(&m, 4, RESP, 1, 1);
    m.b[11] = 1; /* ARCOUNT */
    question(&m, "a.example.com", T_A);
    rr_a(&m, "a.example.com", "192.0.2.1");
    rr_a(&m, "a.example.com", "203.0.113.66");
    assert_int_equal(parse(&m, S2S_DNS_A, "a.example.com", 4), 0);
    assert_int_equal(rep->n_addr, 1);
    assert_int_equal(rep->addr[0].family, AF_INET);

    /* an AAAA record in an A answer is ignored */
    header(&m, 4, RESP, 1, 2);
    question(&m, "a.example.com", T_A);
    rr_aaaa(&m, "a.example.com", "2001:db8::1");
    rr_a(&m, "a.example.com", "192.0.2.1");
    assert_int_equal(parse(&m, S2S_DNS_A, "a.example.com", 4), 0);
    assert_int_equal(rep->n_addr, 1);

    header(&m, 4, RESP, 1, 1);
    question(&m, "a.example.com", T_AAAA);
    rr_aaaa(&m, "a.example.com", "2001:db8::1");
    assert_int_equal(parse(&m, S2S_DNS_AAAA, "a.example.com", 4), 0);
    assert_int_equal(rep->n_addr, 1);
    assert_int_equal(rep->addr[0].family, AF_INET6);
}

static void bad_targets_skipped(void **state)
{
    struct msg m;

    (void)state;
    header(&m, 3, RESP, 1, 4);
    question(&m, QNAME, T_SRV);
    rr_srv(&m, QNAME, 1, 1, 5269, "bad_name.example.com");
    rr_srv(&m, QNAME, 1, 1, 5269, "sp ace.example.com");
    rr_srv(&m, QNAME, 1, 1, 0, "zero-port.example.com");
    rr_srv(&m, QNAME, 1, 1, 5269, "ok.example.com");
    assert_int_equal(parse(&m, S2S_DNS_SRV_XMPP, "example.com", 3), 0);
    assert_int_equal(rep->n_srv, 1);
    assert_string_equal(rep->srv[0].target, "ok.example.com");
}

static void cname_chain_limited(void **state)
{
    struct msg m;

    (void)state;
    header(&m, 8, RESP, 1, 3);
    question(&m, "xmpp.example.com", T_A);
    rr_cname(&m, "xmpp.example.com", "host.example.net");
    rr_a(&m, "host.example.net", "192.0.2.7");
    rr_a(&m, "xmpp.example.com", "192.0.2.99"); /* owner no longer the name */
    assert_int_equal(parse(&m, S2S_DNS_A, "xmpp.example.com", 8), 0);
    assert_int_equal(rep->n_addr, 1);
    struct in_addr want;
    inet_pton(AF_INET, "192.0.2.7", &want);
    assert_memory_equal(&rep->addr[0].u.v4, &want, 4);

    /* A chain of S2S_DNS_MAX_CNAME + 1 links is not followed. */
    char names[S2S_DNS_MAX_CNAME + 3][32];
    header(&m, 8, RESP, 1, S2S_DNS_MAX_CNAME + 2);
    question(&m, "c0.example.com", T_A);
    for (int i = 0; i <= S2S_DNS_MAX_CNAME + 1; i++)
        snprintf(names[i], sizeof(names[i]), "c%d.example.com", i);
    for (int i = 0; i <= S2S_DNS_MAX_CNAME; i++)
        rr_cname(&m, names[i], names[i + 1]);
    rr_a(&m, names[S2S_DNS_MAX_CNAME + 1], "192.0.2.8");
    assert_int_equal(parse(&m, S2S_DNS_A, "c0.example.com", 8), 0);
    assert_int_equal(rep->n_addr, 0);

    /* A CNAME loop ends. */
    header(&m, 8, RESP, 1, 2);
    question(&m, "c0.example.com", T_A);
    rr_cname(&m, "c0.example.com", "c1.example.com");
    rr_cname(&m, "c1.example.com", "c0.example.com");
    assert_int_equal(parse(&m, S2S_DNS_A, "c0.example.com", 8), 0);
    assert_int_equal(rep->n_addr, 0);
}

static void record_count_capped(void **state)
{
    struct msg m;

    (void)state;
    header(&m, 2, RESP, 1, 100);
    question(&m, "a.example.com", T_A);
    for (int i = 0; i < 100; i++) {
        char ip[32];
        snprintf(ip, sizeof(ip), "192.0.2.%d", i);
        rr_a(&m, "a.example.com", ip);
    }
    assert_int_equal(parse(&m, S2S_DNS_A, "a.example.com", 2), 0);
    assert_int_equal(rep->n_addr, S2S_DNS_MAX_RECORDS);
}

static void compression_loop_refused(void **state)
{
    struct msg m;

    (void)state;
    header(&m, 2, RESP, 1, 1);
    question(&m, "a.example.com", T_A);
    size_t self = m.n;
    put8(&m, 0xc0 | (unsigned)(self >> 8));
    put8(&m, (unsigned)(self & 0xff)); /* a pointer to itself */
    put16(&m, T_A);
    put16(&m, 1);
    put32(&m, 1);
    put16(&m, 4);
    put32(&m, 0x01020304);
    assert_int_equal(parse(&m, S2S_DNS_A, "a.example.com", 2), -1);
}

/* ---- ordering ------------------------------------------------------------- */

struct script {
    const uint32_t *v;
    size_t n, i;
};

static uint32_t scripted(void *arg)
{
    struct script *s = arg;
    assert_true(s->i < s->n);
    return s->v[s->i++];
}

static struct s2s_dns_srv srv(unsigned prio, unsigned weight, const char *target)
{
    struct s2s_dns_srv r;
    memset(&r, 0, sizeof(r));
    r.priority = (uint16_t)prio;
    r.weight = (uint16_t)weight;
    r.port = 5269;
    snprintf(r.target, sizeof(r.target), "%s", target);
    return r;
}

static void order_by_priority_then_weight(void **state)
{
    struct s2s_dns_srv rr[5] = {srv(20, 0, "p20"), srv(10, 10, "a"), srv(10, 30, "b"),
                                srv(5, 0, "p5"), srv(10, 60, "c")};
    /* Priority 5: one record. Priority 10, running order a(10) b(30) c(60):
     * r = top * 101 >> 32; 0xFFFFFFFF gives r = 100 -> c; then a(10) b(30):
     * r = 0 -> a; then b. Priority 20: one record. */
    const uint32_t v[] = {0, 0xffffffffu, 0, 0, 0};
    struct script s = {v, 5, 0};

    (void)state;
    s2s_dns_srv_order(rr, 5, scripted, &s);
    assert_string_equal(rr[0].target, "p5");
    assert_string_equal(rr[1].target, "c");
    assert_string_equal(rr[2].target, "a");
    assert_string_equal(rr[3].target, "b");
    assert_string_equal(rr[4].target, "p20");
    assert_int_equal(s.i, 5);
}

static void weight_zero_first_in_running_order(void **state)
{
    /* RFC 2782: weight-0 records go first in the running order, so r == 0
     * selects one; any r > 0 selects a weighted record. */
    struct s2s_dns_srv rr[3] = {srv(1, 50, "w50"), srv(1, 0, "w0"), srv(1, 50, "w50b")};
    const uint32_t v[] = {0, 0, 0};
    struct script s = {v, 3, 0};

    (void)state;
    s2s_dns_srv_order(rr, 3, scripted, &s);
    assert_string_equal(rr[0].target, "w0");
    assert_string_equal(rr[1].target, "w50");
    assert_string_equal(rr[2].target, "w50b");

    struct s2s_dns_srv rr2[3] = {srv(1, 50, "w50"), srv(1, 0, "w0"), srv(1, 50, "w50b")};
    const uint32_t v2[] = {0x80000000u, 0xffffffffu, 0};
    struct script s2 = {v2, 3, 0};
    /* sum 100: r = 50 -> w50 (running 0, 50); then w0, w50b sum 50:
     * r = 50 -> w50b; then w0. */
    s2s_dns_srv_order(rr2, 3, scripted, &s2);
    assert_string_equal(rr2[0].target, "w50");
    assert_string_equal(rr2[1].target, "w50b");
    assert_string_equal(rr2[2].target, "w0");
}

static uint32_t xorshift(void *arg)
{
    uint32_t *x = arg;
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    return *x;
}

static void weights_give_proportional_first_picks(void **state)
{
    unsigned first[3] = {0, 0, 0};
    uint32_t seed = 2463534242u;
    const int rounds = 20000;

    (void)state;
    for (int i = 0; i < rounds; i++) {
        struct s2s_dns_srv rr[3] = {srv(1, 60, "0"), srv(1, 30, "1"), srv(1, 10, "2")};
        s2s_dns_srv_order(rr, 3, xorshift, &seed);
        first[rr[0].target[0] - '0']++;
    }
    /* Expected 60 %, 30 %, 10 %; allow +-2 points (about 6 sigma). */
    assert_in_range(first[0], rounds * 58 / 100, rounds * 62 / 100);
    assert_in_range(first[1], rounds * 28 / 100, rounds * 32 / 100);
    assert_in_range(first[2], rounds * 8 / 100, rounds * 12 / 100);
}

/* ---- plans ---------------------------------------------------------------- */

static struct s2s_dns_reply *mkreply(enum s2s_dns_rcode rc)
{
    struct s2s_dns_reply *r = calloc(1, sizeof(*r));
    assert_non_null(r);
    r->rcode = rc;
    return r;
}

static void add(struct s2s_dns_reply *r, unsigned prio, unsigned weight, unsigned port,
                const char *target, bool tls)
{
    struct s2s_dns_srv *s = &r->srv[r->n_srv++];
    *s = srv(prio, weight, target);
    s->port = (uint16_t)port;
    s->direct_tls = tls;
}

static uint32_t zero(void *arg)
{
    (void)arg;
    return 0;
}

static void plan_fallback_without_srv(void **state)
{
    struct s2s_target t[8];
    size_t n = 99;
    struct s2s_dns_reply *nx = mkreply(S2S_DNS_NXDOMAIN), *nodata = mkreply(S2S_DNS_NOERROR);

    (void)state;
    /* RFC 6120 3.2.2: the domain itself on 5269, plain TCP. */
    assert_int_equal(s2s_dns_plan_targets(nx, nodata, "example.com", zero, NULL, t, 8, &n),
                     S2S_PLAN_FALLBACK);
    assert_int_equal(n, 1);
    assert_string_equal(t[0].host, "example.com");
    assert_int_equal(t[0].port, 5269);
    assert_false(t[0].direct_tls);
    /* No reply at all: RFC 6120 3.2.1 step 9. */
    assert_int_equal(s2s_dns_plan_targets(NULL, NULL, "example.com", zero, NULL, t, 8, &n),
                     S2S_PLAN_FALLBACK);
    assert_int_equal(n, 1);
    /* A truncated reply counts as none. */
    struct s2s_dns_reply *tc = mkreply(S2S_DNS_NOERROR);
    tc->truncated = true;
    add(tc, 1, 1, 5269, "x.example.com", false);
    assert_int_equal(s2s_dns_plan_targets(NULL, tc, "example.com", zero, NULL, t, 8, &n),
                     S2S_PLAN_FALLBACK);
    free(nx);
    free(nodata);
    free(tc);
}

static void plan_dot_means_unavailable(void **state)
{
    struct s2s_target t[8];
    size_t n = 99;
    struct s2s_dns_reply *dot = mkreply(S2S_DNS_NOERROR), *nx = mkreply(S2S_DNS_NXDOMAIN);
    struct s2s_dns_reply *recs = mkreply(S2S_DNS_NOERROR);

    (void)state;
    add(dot, 0, 0, 0, ".", false);
    add(recs, 10, 0, 5269, "xmpp.example.com", false);
    /* RFC 6120 3.2.1 step 3: no fallback after "." */
    assert_int_equal(s2s_dns_plan_targets(nx, dot, "example.com", zero, NULL, t, 8, &n),
                     S2S_PLAN_UNAVAILABLE);
    assert_int_equal(n, 0);
    assert_int_equal(s2s_dns_plan_targets(NULL, dot, "example.com", zero, NULL, t, 8, &n),
                     S2S_PLAN_UNAVAILABLE);
    /* XEP-0368: "." for xmpps only means no direct TLS; xmpp records used. */
    struct s2s_dns_reply *sdot = mkreply(S2S_DNS_NOERROR);
    add(sdot, 0, 0, 0, ".", true);
    assert_int_equal(s2s_dns_plan_targets(sdot, recs, "example.com", zero, NULL, t, 8, &n),
                     S2S_PLAN_SRV);
    assert_int_equal(n, 1);
    assert_string_equal(t[0].host, "xmpp.example.com");
    assert_false(t[0].direct_tls);
    /* ... and forbids the A/AAAA fallback when xmpp has nothing. */
    assert_int_equal(s2s_dns_plan_targets(sdot, nx, "example.com", zero, NULL, t, 8, &n),
                     S2S_PLAN_UNAVAILABLE);
    /* A "." among real records is just dropped. */
    add(recs, 1, 0, 0, ".", false);
    assert_int_equal(s2s_dns_plan_targets(NULL, recs, "example.com", zero, NULL, t, 8, &n),
                     S2S_PLAN_SRV);
    assert_int_equal(n, 1);
    free(dot);
    free(nx);
    free(recs);
    free(sdot);
}

static void plan_merges_both_services(void **state)
{
    struct s2s_target t[8];
    size_t n = 0;
    struct s2s_dns_reply *s = mkreply(S2S_DNS_NOERROR), *x = mkreply(S2S_DNS_NOERROR);

    (void)state;
    add(s, 5, 0, 5223, "tls.example.com", true);
    add(s, 20, 0, 5223, "tls2.example.com", true);
    add(x, 10, 0, 5269, "plain.example.com", false);
    add(x, 10, 0, 5269, "plain.example.com", false); /* duplicate */
    add(x, 1, 0, 5269, "first.example.com", false);
    assert_int_equal(s2s_dns_plan_targets(s, x, "example.com", zero, NULL, t, 8, &n), S2S_PLAN_SRV);
    assert_int_equal(n, 4);
    assert_string_equal(t[0].host, "first.example.com");
    assert_false(t[0].direct_tls);
    assert_string_equal(t[1].host, "tls.example.com");
    assert_true(t[1].direct_tls);
    assert_int_equal(t[1].port, 5223);
    assert_string_equal(t[2].host, "plain.example.com");
    assert_string_equal(t[3].host, "tls2.example.com");
    assert_true(t[3].direct_tls);

    /* The same host for both services stays twice (differs in TLS mode). */
    struct s2s_dns_reply *s2 = mkreply(S2S_DNS_NOERROR), *x2 = mkreply(S2S_DNS_NOERROR);
    add(s2, 1, 0, 5269, "h.example.com", true);
    add(x2, 1, 0, 5269, "h.example.com", false);
    assert_int_equal(s2s_dns_plan_targets(s2, x2, "example.com", zero, NULL, t, 8, &n),
                     S2S_PLAN_SRV);
    assert_int_equal(n, 2);

    /* max caps the list */
    assert_int_equal(s2s_dns_plan_targets(s, x, "example.com", zero, NULL, t, 2, &n), S2S_PLAN_SRV);
    assert_int_equal(n, 2);
    /* xmpps alone */
    assert_int_equal(s2s_dns_plan_targets(s, NULL, "example.com", zero, NULL, t, 8, &n),
                     S2S_PLAN_SRV);
    assert_int_equal(n, 2);
    assert_true(t[0].direct_tls && t[1].direct_tls);
    free(s);
    free(x);
    free(s2);
    free(x2);
}

static int setup(void **state)
{
    (void)state;
    rep = malloc(sizeof(*rep));
    return rep == NULL ? -1 : 0;
}

static int teardown(void **state)
{
    (void)state;
    free(rep);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(alabel_conversion),
        cmocka_unit_test(qnames),
        cmocka_unit_test(query_wire_format),
        cmocka_unit_test(srv_reply_parsed),
        cmocka_unit_test(dot_target_kept),
        cmocka_unit_test(reply_header_checks),
        cmocka_unit_test(rcodes_and_truncation),
        cmocka_unit_test(foreign_owners_ignored),
        cmocka_unit_test(bad_targets_skipped),
        cmocka_unit_test(cname_chain_limited),
        cmocka_unit_test(record_count_capped),
        cmocka_unit_test(compression_loop_refused),
        cmocka_unit_test(order_by_priority_then_weight),
        cmocka_unit_test(weight_zero_first_in_running_order),
        cmocka_unit_test(weights_give_proportional_first_picks),
        cmocka_unit_test(plan_fallback_without_srv),
        cmocka_unit_test(plan_dot_means_unavailable),
        cmocka_unit_test(plan_merges_both_services),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
