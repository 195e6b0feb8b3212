/*
 * test_ipc_codec.c - the IPC codec against its wire layout (ipc_msg.h).
 *
 * The messages used for decoding are built here by a writer of our own that
 * follows the layout comment of ipc_msg.h field by field, so the test checks
 * the codec against the documented format, not against itself.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ipc_codec.h"
#include "ipc_msg.h"

/* ---- a tiny writer that follows ipc_msg.h ---- */

enum fk { F_U8, F_U16, F_U32, F_U64, F_STR, F_BLOB };

struct field {
    enum fk k;
    uint64_t val; /* integers */
    size_t max;   /* STR / BLOB maximum */
    size_t len;   /* STR / BLOB length in the valid message */
    const char *what;
};

#define MAXF 20
struct layout {
    int type;
    uint64_t id;
    struct field f[MAXF];
    int nf;
};

struct buf {
    uint8_t *p;
    size_t len, cap;
};

static void put(struct buf *b, const void *d, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    memcpy(b->p + b->len, d, n);
    b->len += n;
}

static void put_be(struct buf *b, uint64_t v, int bytes)
{
    uint8_t t[8];
    for (int i = 0; i < bytes; i++)
        t[i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
    put(b, t, (size_t)bytes);
}

/* Builds the message; field `over` (or -1) gets length max + 1. */
static struct buf build(const struct layout *l, int over, int version, int type)
{
    struct buf b = {0};
    put_be(&b, (uint64_t)version, 1);
    put_be(&b, (uint64_t)type, 1);
    put_be(&b, 0x0102030405060708ULL, 8);
    put_be(&b, l->id, 8);
    for (int i = 0; i < l->nf; i++) {
        const struct field *f = &l->f[i];
        size_t n = i == over ? f->max + 1 : f->len;
        switch (f->k) {
        case F_U8:
            put_be(&b, f->val, 1);
            break;
        case F_U16:
            put_be(&b, f->val, 2);
            break;
        case F_U32:
            put_be(&b, f->val, 4);
            break;
        case F_U64:
            put_be(&b, f->val, 8);
            break;
        case F_STR:
        case F_BLOB: {
            put_be(&b, n, f->k == F_STR ? 2 : 4);
            uint8_t *fill = malloc(n + 1);
            assert_non_null(fill);
            memset(fill, 'a', n);
            put(&b, fill, n);
            free(fill);
            break;
        }
        }
    }
    return b;
}

#define U8(v)                 \
    {                         \
        F_U8, (v), 0, 0, "u8" \
    }
#define U16(v)                  \
    {                           \
        F_U16, (v), 0, 0, "u16" \
    }
#define U32(v)                  \
    {                           \
        F_U32, (v), 0, 0, "u32" \
    }
#define U64(v)                  \
    {                           \
        F_U64, (v), 0, 0, "u64" \
    }
#define STR(max, len)                \
    {                                \
        F_STR, 0, (max), (len), #max \
    }
#define BLOB(max, len)                \
    {                                 \
        F_BLOB, 0, (max), (len), #max \
    }

static const struct layout layouts[] = {
    {IPC_MSG_HELLO, 0, {U8(2), U16(1), U32(7), U32(500), STR(IPC_NAME_MAX, 4)}, 5},
    {IPC_MSG_HELLO_ACK, 0, {U8(1), U16(1), U32(7), U32(500), STR(IPC_NAME_MAX, 5)}, 5},
    {IPC_MSG_HEARTBEAT, 0, {{0}}, 0},
    {IPC_MSG_STANZA_IN,
     42,
     {U8(1), STR(IPC_DOMAIN_MAX, 11), STR(IPC_DOMAIN_MAX, 12), STR(IPC_STREAM_ID_MAX, 16),
      BLOB(IPC_STANZA_MAX_DEFAULT, 40)},
     5},
    {IPC_MSG_STANZA_OUT,
     43,
     {STR(IPC_DOMAIN_MAX, 11), STR(IPC_DOMAIN_MAX, 12), BLOB(IPC_STANZA_MAX_DEFAULT, 40)},
     3},
    {IPC_MSG_ACK, 0, {U64(42), U8(0), STR(IPC_COND_MAX, 0), STR(IPC_TEXT_MAX, 3)}, 4},
    {IPC_MSG_BOUNCE, 44, {U64(43), STR(IPC_COND_MAX, 23), STR(IPC_TEXT_MAX, 9)}, 3},
    {IPC_MSG_CONFIG_PUSH, 45, {U64(7), BLOB(IPC_CONFIG_MAX_DEFAULT, 100)}, 2},
    {IPC_MSG_CONFIG_ACK, 46, {U64(7), U8(1), STR(IPC_TEXT_MAX, 20)}, 3},
    {IPC_MSG_STATS_REQUEST, 0, {{0}}, 0},
    {IPC_MSG_STATS,
     0,
     {U64(9), STR(IPC_NAME_MAX, 5), U64(3), U32(1), STR(IPC_STREAM_ID_MAX, 16),
      STR(IPC_DOMAIN_MAX, 11), STR(IPC_DOMAIN_MAX, 12), U8(2), STR(IPC_TLS_MAX, 7), U8(1),
      U64(1700000000), U64(10), U64(20), U32(1), STR(IPC_NAME_MAX, 4), U64(1700000001), U32(3),
      U32(7)},
     18},
    {IPC_MSG_GOODBYE, 0, {STR(IPC_TEXT_MAX, 8)}, 1},
    {IPC_MSG_ACK_RANGES, 0, {U16(2), U64(5), U32(3), U64(10), U32(1)}, 5},
};
#define NLAYOUTS (sizeof(layouts) / sizeof(layouts[0]))

/* ---- library-built messages for round trips ---- */

static const uint8_t stanza[] = "<message from='a@fabrikam.example' to='b@contoso.example' "
                                "type='chat'><body>h\xc3\xa9llo</body></message>";

static struct ipc_stats_stream streams[] = {
    {"s1", "contoso.example", "fabrikam.example", IPC_DIR_INBOUND, "TLSv1.3",
     IPC_AUTH_SASL_EXTERNAL, 1700000000, 5, 6},
    {"s2", "contoso.example", "example.org", IPC_DIR_OUTBOUND, "", IPC_AUTH_DIALBACK, 1700000100, 0,
     1},
};
static struct ipc_stats_gateway gateways[] = {{"gw-a", 1700000000, 3, 4711}};
static const struct ipc_ack_range ranges[] = {{1, 100}, {102, 1}, {200, 50}};
static struct ipc_msg batch_items[3];

static struct ipc_msg sample(int type);

static struct ipc_msg sample(int type)
{
    struct ipc_msg m = {.type = (uint8_t)type, .incarnation = 0xdeadbeefcafef00dULL, .id = 0};
    if (ipc_msg_type_reliable(type))
        m.id = 1000 + (uint64_t)type;
    switch (type) {
    case IPC_MSG_HELLO:
    case IPC_MSG_HELLO_ACK:
        m.hello.role = type == IPC_MSG_HELLO ? IPC_ROLE_GATEWAY : IPC_ROLE_EDGE;
        m.hello.proto_version = IPC_PROTOCOL_VERSION;
        m.hello.capabilities = IPC_CAP_STANZA | IPC_CAP_STATS;
        m.hello.heartbeat_ms = 500;
        m.hello.name = "gw-a";
        break;
    case IPC_MSG_GOODBYE:
        m.goodbye.reason = "shutdown";
        break;
    case IPC_MSG_STANZA_IN:
        m.stanza_in.direction = IPC_DIR_INBOUND;
        m.stanza_in.local = "contoso.example";
        m.stanza_in.remote = "fabrikam.example";
        m.stanza_in.stream_id = "7f3a9c";
        m.stanza_in.stanza = stanza;
        m.stanza_in.stanza_len = sizeof(stanza) - 1;
        break;
    case IPC_MSG_STANZA_OUT:
        m.stanza_out.from = "contoso.example";
        m.stanza_out.to = "fabrikam.example";
        m.stanza_out.stanza = stanza;
        m.stanza_out.stanza_len = sizeof(stanza) - 1;
        break;
    case IPC_MSG_ACK:
        m.ack.acked_id = 77;
        m.ack.status = IPC_ACK_ERROR;
        m.ack.condition = "service-unavailable";
        m.ack.text = "user offline";
        break;
    case IPC_MSG_BOUNCE:
        m.bounce.stanza_id = 78;
        m.bounce.condition = "remote-server-timeout";
        m.bounce.text = "no answer in 60 s";
        break;
    case IPC_MSG_CONFIG_PUSH:
        m.config_push.version = 12;
        m.config_push.text = (const uint8_t *)"settings = {};\n";
        m.config_push.text_len = 15;
        break;
    case IPC_MSG_CONFIG_ACK:
        m.config_ack.version = 12;
        m.config_ack.status = IPC_CONFIG_REFUSED;
        m.config_ack.reason = "SASL requires TLS";
        break;
    case IPC_MSG_STATS:
        m.stats.request_id = 5;
        m.stats.name = "edge1";
        m.stats.conf_version = 12;
        m.stats.nstreams = 2;
        m.stats.streams = streams;
        m.stats.ngateways = 1;
        m.stats.gateways = gateways;
        break;
    case IPC_MSG_BATCH:
        batch_items[0] = sample(IPC_MSG_STANZA_IN);
        batch_items[1] = sample(IPC_MSG_ACK);
        batch_items[2] = sample(IPC_MSG_ACK_RANGES);
        m.batch.count = 3;
        m.batch.msgs = batch_items;
        break;
    case IPC_MSG_ACK_RANGES:
        m.ack_ranges.nranges = 3;
        m.ack_ranges.ranges = ranges;
        break;
    default:
        break;
    }
    return m;
}

static void encode_ok(const struct ipc_msg *m, uint8_t **out, size_t *len)
{
    assert_int_equal(ipc_encode_alloc(m, NULL, out, len), IPC_OK);
    assert_int_equal(*len, ipc_encoded_len(m));
}

static void round_trip_every_type(void **state)
{
    (void)state;
    for (int t = IPC_MSG_TYPE_MIN; t <= IPC_MSG_TYPE_MAX; t++) {
        struct ipc_msg m = sample(t);
        uint8_t *b1, *b2;
        size_t l1, l2;
        encode_ok(&m, &b1, &l1);
        struct ipc_msg *d = NULL;
        assert_int_equal(ipc_decode(b1, l1, NULL, &d), IPC_OK);
        assert_int_equal(d->type, t);
        assert_int_equal(d->version, IPC_PROTOCOL_VERSION);
        assert_true(d->incarnation == m.incarnation);
        assert_true(d->id == m.id);
        /* Same bytes again means every field came back. */
        encode_ok(d, &b2, &l2);
        assert_int_equal(l1, l2);
        assert_memory_equal(b1, b2, l1);
        free(b1);
        free(b2);
        ipc_msg_free(d);
    }
}

static void decoded_fields_are_usable_strings(void **state)
{
    (void)state;
    struct ipc_msg m = sample(IPC_MSG_STANZA_IN);
    uint8_t *b;
    size_t l;
    encode_ok(&m, &b, &l);
    struct ipc_msg *d = NULL;
    assert_int_equal(ipc_decode(b, l, NULL, &d), IPC_OK);
    free(b); /* the decoded message keeps no pointer into the input */
    assert_string_equal(d->stanza_in.local, "contoso.example");
    assert_string_equal(d->stanza_in.remote, "fabrikam.example");
    assert_string_equal(d->stanza_in.stream_id, "7f3a9c");
    assert_int_equal(d->stanza_in.direction, IPC_DIR_INBOUND);
    assert_int_equal(d->stanza_in.stanza_len, sizeof(stanza) - 1);
    assert_memory_equal(d->stanza_in.stanza, stanza, sizeof(stanza) - 1);
    assert_int_equal(d->stanza_in.stanza[d->stanza_in.stanza_len], 0);
    ipc_msg_free(d);

    m = sample(IPC_MSG_STATS);
    encode_ok(&m, &b, &l);
    assert_int_equal(ipc_decode(b, l, NULL, &d), IPC_OK);
    free(b);
    assert_int_equal(d->stats.nstreams, 2);
    assert_string_equal(d->stats.streams[0].tls_version, "TLSv1.3");
    assert_string_equal(d->stats.streams[1].partner, "example.org");
    assert_int_equal(d->stats.streams[1].auth, IPC_AUTH_DIALBACK);
    assert_true(d->stats.streams[1].since == 1700000100);
    assert_string_equal(d->stats.gateways[0].name, "gw-a");
    assert_int_equal(d->stats.gateways[0].unacked, 3);
    assert_int_equal(d->stats.gateways[0].users, 4711);
    ipc_msg_free(d);
}

/* The documented layout, byte for byte, for one small message. */
static void hello_matches_documented_bytes(void **state)
{
    (void)state;
    static const uint8_t want[] = {
        2,    1,                                        /* version, HELLO */
        0xde, 0xad, 0xbe, 0xef, 0xca, 0xfe, 0xf0, 0x0d, /* incarnation */
        0,    0,    0,    0,    0,    0,    0,    0,    /* id */
        2,                                              /* role gateway */
        0,    2,                                        /* protocol version */
        0,    0,    0,    5,                            /* capabilities */
        0,    0,    1,    0xf4,                         /* heartbeat 500 ms */
        0,    4,    'g',  'w',  '-',  'a',              /* name */
    };
    struct ipc_msg m = sample(IPC_MSG_HELLO);
    uint8_t *b;
    size_t l;
    encode_ok(&m, &b, &l);
    assert_int_equal(l, sizeof(want));
    assert_memory_equal(b, want, sizeof(want));
    free(b);
}

static void documented_layout_decodes(void **state)
{
    (void)state;
    for (size_t i = 0; i < NLAYOUTS; i++) {
        struct buf b = build(&layouts[i], -1, IPC_PROTOCOL_VERSION, layouts[i].type);
        struct ipc_msg *d = NULL;
        int rc = ipc_decode(b.p, b.len, NULL, &d);
        if (rc != IPC_OK)
            fail_msg("type %d: %s", layouts[i].type, ipc_strerror(rc));
        /* and the library writes the same bytes */
        uint8_t *out;
        size_t l;
        encode_ok(d, &out, &l);
        assert_int_equal(l, b.len);
        assert_memory_equal(out, b.p, l);
        free(out);
        ipc_msg_free(d);
        free(b.p);
    }
}

static void truncated_at_every_byte(void **state)
{
    (void)state;
    for (int t = IPC_MSG_TYPE_MIN; t <= IPC_MSG_TYPE_MAX; t++) {
        struct ipc_msg m = sample(t);
        uint8_t *b;
        size_t l;
        encode_ok(&m, &b, &l);
        for (size_t cut = 0; cut < l; cut++) {
            /* A fresh copy of exactly cut bytes, so ASan sees any overread. */
            uint8_t *c = malloc(cut ? cut : 1);
            assert_non_null(c);
            memcpy(c, b, cut);
            struct ipc_msg *d = (struct ipc_msg *)1;
            int rc = ipc_decode(c, cut, NULL, &d);
            if (rc != IPC_ERR_TRUNCATED)
                fail_msg("type %s cut %zu/%zu: %s", ipc_msg_type_name(t), cut, l, ipc_strerror(rc));
            assert_null(d);
            free(c);
        }
        free(b);
    }
}

static void trailing_garbage_refused(void **state)
{
    (void)state;
    for (int t = IPC_MSG_TYPE_MIN; t <= IPC_MSG_TYPE_MAX; t++) {
        struct ipc_msg m = sample(t);
        uint8_t *b;
        size_t l;
        encode_ok(&m, &b, &l);
        for (size_t extra = 1; extra <= 3; extra++) {
            uint8_t *c = malloc(l + extra);
            memcpy(c, b, l);
            memset(c + l, 0, extra);
            struct ipc_msg *d = NULL;
            assert_int_equal(ipc_decode(c, l + extra, NULL, &d), IPC_ERR_TRAILING);
            assert_null(d);
            free(c);
        }
        free(b);
    }
}

static void oversized_each_field(void **state)
{
    (void)state;
    int checked = 0;
    for (size_t i = 0; i < NLAYOUTS; i++) {
        for (int f = 0; f < layouts[i].nf; f++) {
            enum fk k = layouts[i].f[f].k;
            if (k != F_STR && k != F_BLOB)
                continue;
            struct buf b = build(&layouts[i], f, IPC_PROTOCOL_VERSION, layouts[i].type);
            struct ipc_msg *d = NULL;
            int rc = ipc_decode(b.p, b.len, NULL, &d);
            if (rc != IPC_ERR_OVERSIZED)
                fail_msg("type %d field %d (%s): %s", layouts[i].type, f, layouts[i].f[f].what,
                         ipc_strerror(rc));
            free(b.p);
            checked++;
        }
    }
    assert_int_equal(checked, 22);
}

static void oversized_counts_refused(void **state)
{
    (void)state;
    struct layout l = layouts[10];
    assert_int_equal(l.type, IPC_MSG_STATS);
    l.f[3].val = IPC_STATS_STREAMS_MAX + 1;
    struct buf b = build(&l, -1, IPC_PROTOCOL_VERSION, l.type);
    struct ipc_msg *d = NULL;
    assert_int_equal(ipc_decode(b.p, b.len, NULL, &d), IPC_ERR_OVERSIZED);
    free(b.p);
    /* A count the remaining bytes cannot hold is refused before allocating. */
    l = layouts[10];
    l.f[3].val = 100000;
    b = build(&l, -1, IPC_PROTOCOL_VERSION, l.type);
    assert_int_equal(ipc_decode(b.p, b.len, NULL, &d), IPC_ERR_TRUNCATED);
    free(b.p);
    l = layouts[10];
    l.f[13].val = IPC_STATS_GATEWAYS_MAX + 1;
    b = build(&l, -1, IPC_PROTOCOL_VERSION, l.type);
    assert_int_equal(ipc_decode(b.p, b.len, NULL, &d), IPC_ERR_OVERSIZED);
    free(b.p);
}

static void stanza_cap_is_a_setting(void **state)
{
    (void)state;
    struct ipc_limits small = {.stanza_max = 20000, .config_max = 1000};
    uint8_t *big = malloc(20001);
    memset(big, 'x', 20001);
    struct ipc_msg m = sample(IPC_MSG_STANZA_OUT);
    m.stanza_out.stanza = big;
    m.stanza_out.stanza_len = 20001;
    uint8_t *b;
    size_t l;
    assert_int_equal(ipc_encode_alloc(&m, &small, &b, &l), IPC_ERR_OVERSIZED);
    encode_ok(&m, &b, &l); /* fine under the default 1 MiB */
    struct ipc_msg *d = NULL;
    assert_int_equal(ipc_decode(b, l, &small, &d), IPC_ERR_OVERSIZED);
    assert_int_equal(ipc_decode(b, l, NULL, &d), IPC_OK);
    ipc_msg_free(d);
    free(b);
    free(big);
}

static void unknown_type_refused(void **state)
{
    (void)state;
    static const int bad_types[] = {0, IPC_MSG_TYPE_MAX + 1, 100, 255};
    for (size_t i = 0; i < sizeof(bad_types) / sizeof(bad_types[0]); i++) {
        struct buf b = build(&layouts[2], -1, IPC_PROTOCOL_VERSION, bad_types[i]);
        struct ipc_msg *d = NULL;
        assert_int_equal(ipc_decode(b.p, b.len, NULL, &d), IPC_ERR_UNKNOWN_TYPE);
        free(b.p);
    }
    struct ipc_msg m = {.type = 200};
    uint8_t *out;
    size_t l;
    assert_int_equal(ipc_encode_alloc(&m, NULL, &out, &l), IPC_ERR_UNKNOWN_TYPE);
}

static void wrong_version_refused(void **state)
{
    (void)state;
    /* 1 is the version before batching: both ends ship together. */
    static const int bad_versions[] = {0, 1, IPC_PROTOCOL_VERSION + 1, 255};
    for (size_t i = 0; i < sizeof(bad_versions) / sizeof(bad_versions[0]); i++) {
        for (size_t t = 0; t < NLAYOUTS; t++) {
            struct buf b = build(&layouts[t], -1, bad_versions[i], layouts[t].type);
            struct ipc_msg *d = NULL;
            assert_int_equal(ipc_decode(b.p, b.len, NULL, &d), IPC_ERR_VERSION);
            free(b.p);
        }
    }
}

static void bad_values_refused(void **state)
{
    (void)state;
    struct {
        size_t layout;
        int field;
        uint64_t val;
    } cases[] = {
        {0, 0, 0},  /* role 0 */
        {0, 0, 4},  /* role 4 */
        {3, 0, 3},  /* direction 3 */
        {5, 1, 1},  /* ACK error without a condition */
        {8, 1, 2},  /* CONFIG_ACK status 2 */
        {10, 7, 0}, /* STATS stream direction 0 */
        {10, 9, 3}, /* STATS auth 3 */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct layout l = layouts[cases[i].layout];
        l.f[cases[i].field].val = cases[i].val;
        struct buf b = build(&l, -1, IPC_PROTOCOL_VERSION, l.type);
        struct ipc_msg *d = NULL;
        int rc = ipc_decode(b.p, b.len, NULL, &d);
        if (rc != IPC_ERR_BAD_VALUE)
            fail_msg("case %zu: %s", i, ipc_strerror(rc));
        free(b.p);
    }
    /* ACK ok with a condition */
    struct layout l = layouts[5];
    l.f[2].len = 5;
    struct buf b = build(&l, -1, IPC_PROTOCOL_VERSION, l.type);
    struct ipc_msg *d = NULL;
    assert_int_equal(ipc_decode(b.p, b.len, NULL, &d), IPC_ERR_BAD_VALUE);
    free(b.p);
    /* empty stanza */
    l = layouts[3];
    l.f[4].len = 0;
    b = build(&l, -1, IPC_PROTOCOL_VERSION, l.type);
    assert_int_equal(ipc_decode(b.p, b.len, NULL, &d), IPC_ERR_BAD_VALUE);
    free(b.p);
    /* a reliable message without an id */
    l = layouts[3];
    l.id = 0;
    b = build(&l, -1, IPC_PROTOCOL_VERSION, l.type);
    assert_int_equal(ipc_decode(b.p, b.len, NULL, &d), IPC_ERR_BAD_VALUE);
    free(b.p);
}

static void strings_must_be_clean_utf8(void **state)
{
    (void)state;
    static const char *bad[] = {"a\0b",         "new\nline", "\xff",   "\xc0\xaf",
                                "\xed\xa0\x80", "\xe2\x82",  "del\x7f"};
    static const size_t badlen[] = {3, 8, 1, 2, 3, 2, 4};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct buf b = {0};
        put_be(&b, IPC_PROTOCOL_VERSION, 1);
        put_be(&b, IPC_MSG_GOODBYE, 1);
        put_be(&b, 1, 8);
        put_be(&b, 0, 8);
        put_be(&b, badlen[i], 2);
        put(&b, bad[i], badlen[i]);
        struct ipc_msg *d = NULL;
        int rc = ipc_decode(b.p, b.len, NULL, &d);
        if (rc != IPC_ERR_BAD_VALUE)
            fail_msg("string %zu: %s", i, ipc_strerror(rc));
        free(b.p);
        /* and the encoder will not produce them */
        if (memchr(bad[i], 0, badlen[i]) == NULL) {
            struct ipc_msg m = {.type = IPC_MSG_GOODBYE};
            m.goodbye.reason = bad[i];
            uint8_t *out;
            size_t l;
            assert_int_equal(ipc_encode_alloc(&m, NULL, &out, &l), IPC_ERR_BAD_VALUE);
        }
    }
    struct ipc_msg m = {.type = IPC_MSG_GOODBYE};
    m.goodbye.reason = "caf\xc3\xa9 \xf0\x9f\x98\x80";
    uint8_t *out;
    size_t l;
    assert_int_equal(ipc_encode_alloc(&m, NULL, &out, &l), IPC_OK);
    free(out);
}

static void encoder_checks_its_input(void **state)
{
    (void)state;
    struct ipc_msg m = sample(IPC_MSG_STANZA_IN);
    uint8_t small[10];
    size_t l;
    assert_int_equal(ipc_encode(&m, NULL, small, sizeof(small), &l), IPC_ERR_NOSPACE);
    m.id = 0;
    uint8_t *out;
    assert_int_equal(ipc_encode_alloc(&m, NULL, &out, &l), IPC_ERR_BAD_VALUE);
    m = sample(IPC_MSG_STANZA_IN);
    char dom[IPC_DOMAIN_MAX + 2];
    memset(dom, 'd', sizeof(dom) - 1);
    dom[sizeof(dom) - 1] = '\0';
    m.stanza_in.local = dom;
    assert_int_equal(ipc_encode_alloc(&m, NULL, &out, &l), IPC_ERR_OVERSIZED);
    dom[IPC_DOMAIN_MAX] = '\0'; /* exactly the maximum is fine */
    assert_int_equal(ipc_encode_alloc(&m, NULL, &out, &l), IPC_OK);
    free(out);
    m = sample(IPC_MSG_ACK);
    m.ack.status = IPC_ACK_OK; /* with a condition */
    assert_int_equal(ipc_encode_alloc(&m, NULL, &out, &l), IPC_ERR_BAD_VALUE);
    m = sample(IPC_MSG_STANZA_OUT);
    m.stanza_out.to = NULL;
    assert_int_equal(ipc_encode_alloc(&m, NULL, &out, &l), IPC_ERR_BAD_VALUE);
}

/* ---- BATCH and ACK_RANGES (protocol version 2) ---- */

static void put_hdr(struct buf *b, int version, int type, uint64_t inc, uint64_t id)
{
    put_be(b, (uint64_t)version, 1);
    put_be(b, (uint64_t)type, 1);
    put_be(b, inc, 8);
    put_be(b, id, 8);
}

/* An item: length, then the message. */
static void put_item(struct buf *b, const struct buf *msg)
{
    put_be(b, msg->len, 4);
    put(b, msg->p, msg->len);
}

static struct buf heartbeat_bytes(uint64_t inc)
{
    struct buf b = {0};
    put_hdr(&b, IPC_PROTOCOL_VERSION, IPC_MSG_HEARTBEAT, inc, 0);
    return b;
}

static struct buf goodbye_bytes(uint64_t inc, const char *reason)
{
    struct buf b = {0};
    put_hdr(&b, IPC_PROTOCOL_VERSION, IPC_MSG_GOODBYE, inc, 0);
    put_be(&b, strlen(reason), 2);
    put(&b, reason, strlen(reason));
    return b;
}

/* A BATCH frame around the given items, all written by hand. */
static struct buf batch_of(uint64_t inc, int count, const struct buf *items, int nitems)
{
    struct buf b = {0};
    put_hdr(&b, IPC_PROTOCOL_VERSION, IPC_MSG_BATCH, inc, 0);
    put_be(&b, (uint64_t)count, 2);
    for (int i = 0; i < nitems; i++)
        put_item(&b, &items[i]);
    return b;
}

static int decode_rc(const struct buf *b)
{
    struct ipc_msg *d = (struct ipc_msg *)1;
    int rc = ipc_decode(b->p, b->len, NULL, &d);
    if (rc == IPC_OK) {
        assert_non_null(d);
        ipc_msg_free(d);
    } else {
        assert_null(d);
    }
    return rc;
}

static void batch_matches_documented_bytes(void **state)
{
    (void)state;
    const uint64_t inc = 0x0102030405060708ULL;
    struct buf items[2] = {heartbeat_bytes(inc), goodbye_bytes(inc, "bye")};
    struct buf b = batch_of(inc, 2, items, 2);
    assert_int_equal(b.len, 18 + 2 + 4 + 18 + 4 + 18 + 2 + 3);
    struct ipc_msg *d = NULL;
    assert_int_equal(ipc_decode(b.p, b.len, NULL, &d), IPC_OK);
    assert_int_equal(d->type, IPC_MSG_BATCH);
    assert_int_equal(d->batch.count, 2);
    assert_int_equal(d->batch.msgs[0].type, IPC_MSG_HEARTBEAT);
    assert_true(d->batch.msgs[0].incarnation == inc);
    assert_int_equal(d->batch.msgs[1].type, IPC_MSG_GOODBYE);
    assert_string_equal(d->batch.msgs[1].goodbye.reason, "bye");
    /* the library writes the same bytes, by struct and by the builder */
    uint8_t *out;
    size_t l;
    encode_ok(d, &out, &l);
    assert_int_equal(l, b.len);
    assert_memory_equal(out, b.p, l);
    free(out);
    uint8_t frame[128] = {0};
    size_t at = IPC_BATCH_PREFIX_LEN;
    for (int i = 0; i < 2; i++) {
        ipc_batch_put_item_len(frame + at, (uint32_t)items[i].len);
        memcpy(frame + at + IPC_BATCH_ITEM_PREFIX_LEN, items[i].p, items[i].len);
        at += IPC_BATCH_ITEM_PREFIX_LEN + items[i].len;
    }
    ipc_batch_put_prefix(frame, inc, 2);
    assert_int_equal(at, b.len);
    assert_memory_equal(frame, b.p, at);
    ipc_msg_free(d);
    free(b.p);
    free(items[0].p);
    free(items[1].p);
}

static void batch_round_trip_keeps_every_item(void **state)
{
    (void)state;
    struct ipc_msg m = sample(IPC_MSG_BATCH);
    uint8_t *b;
    size_t l;
    encode_ok(&m, &b, &l);
    struct ipc_msg *d = NULL;
    assert_int_equal(ipc_decode(b, l, NULL, &d), IPC_OK);
    free(b); /* nothing of the batch points into its input */
    assert_int_equal(d->batch.count, 3);
    const struct ipc_msg *s = &d->batch.msgs[0];
    assert_int_equal(s->type, IPC_MSG_STANZA_IN);
    assert_true(s->id == 1000 + IPC_MSG_STANZA_IN);
    assert_string_equal(s->stanza_in.remote, "fabrikam.example");
    assert_int_equal(s->stanza_in.stanza_len, sizeof(stanza) - 1);
    assert_memory_equal(s->stanza_in.stanza, stanza, sizeof(stanza) - 1);
    assert_int_equal(d->batch.msgs[1].type, IPC_MSG_ACK);
    assert_string_equal(d->batch.msgs[1].ack.condition, "service-unavailable");
    const struct ipc_msg *r = &d->batch.msgs[2];
    assert_int_equal(r->type, IPC_MSG_ACK_RANGES);
    assert_int_equal(r->ack_ranges.nranges, 3);
    assert_true(r->ack_ranges.ranges[2].first == 200);
    assert_int_equal(r->ack_ranges.ranges[2].count, 50);
    ipc_msg_free(d);
}

static void batch_counts_and_sizes_capped(void **state)
{
    (void)state;
    const uint64_t inc = 7;
    /* no items */
    struct buf b = batch_of(inc, 0, NULL, 0);
    assert_int_equal(decode_rc(&b), IPC_ERR_BAD_VALUE);
    free(b.p);
    /* more items than allowed: refused before anything is read or allocated */
    b = batch_of(inc, IPC_BATCH_COUNT_MAX + 1, NULL, 0);
    assert_int_equal(decode_rc(&b), IPC_ERR_OVERSIZED);
    free(b.p);
    /* a count the bytes cannot hold */
    b = batch_of(inc, 1000, NULL, 0);
    assert_int_equal(decode_rc(&b), IPC_ERR_TRUNCATED);
    free(b.p);
    /* exactly IPC_BATCH_COUNT_MAX items is fine */
    struct buf hb = heartbeat_bytes(inc);
    struct buf *many = calloc(IPC_BATCH_COUNT_MAX, sizeof(*many));
    for (int i = 0; i < IPC_BATCH_COUNT_MAX; i++)
        many[i] = hb;
    b = batch_of(inc, IPC_BATCH_COUNT_MAX, many, IPC_BATCH_COUNT_MAX);
    assert_int_equal(decode_rc(&b), IPC_OK);
    free(b.p);
    free(many);
    free(hb.p);

    /* an item above IPC_BATCH_ITEM_MAX, though its stanza is within the cap */
    uint8_t *big = malloc(IPC_BATCH_ITEM_MAX);
    memset(big, 'x', IPC_BATCH_ITEM_MAX);
    struct ipc_msg in = sample(IPC_MSG_STANZA_IN);
    in.stanza_in.stanza = big;
    in.stanza_in.stanza_len = IPC_BATCH_ITEM_MAX - 20;
    uint8_t *enc;
    size_t l;
    encode_ok(&in, &enc, &l);
    assert_true(l > IPC_BATCH_ITEM_MAX);
    struct buf item = {enc, l, l};
    b = batch_of(in.incarnation, 1, &item, 1);
    assert_int_equal(decode_rc(&b), IPC_ERR_OVERSIZED);
    free(b.p);
    struct ipc_msg bm = {.type = IPC_MSG_BATCH, .incarnation = in.incarnation};
    bm.batch.count = 1;
    bm.batch.msgs = &in;
    uint8_t *out;
    assert_int_equal(ipc_encode_alloc(&bm, NULL, &out, &l), IPC_ERR_OVERSIZED);
    free(enc);

    /* a frame above IPC_BATCH_BYTES_MAX made of items each within bounds */
    in.stanza_in.stanza_len = IPC_BATCH_ITEM_MAX - 200;
    encode_ok(&in, &enc, &l);
    assert_true(l <= IPC_BATCH_ITEM_MAX);
    int n = (int)(IPC_BATCH_BYTES_MAX / l) + 1;
    struct ipc_msg *v = calloc((size_t)n, sizeof(*v));
    struct buf *bv = calloc((size_t)n, sizeof(*bv));
    for (int i = 0; i < n; i++) {
        v[i] = in;
        bv[i] = (struct buf){enc, l, l};
    }
    b = batch_of(in.incarnation, n, bv, n);
    assert_true(b.len > IPC_BATCH_BYTES_MAX);
    assert_int_equal(decode_rc(&b), IPC_ERR_OVERSIZED);
    free(b.p);
    bm.batch.count = (uint16_t)n;
    bm.batch.msgs = v;
    assert_int_equal(ipc_encode_alloc(&bm, NULL, &out, &l), IPC_ERR_OVERSIZED);
    bm.batch.count = (uint16_t)(n - 2); /* and just under it is fine */
    assert_int_equal(ipc_encode_alloc(&bm, NULL, &out, &l), IPC_OK);
    assert_true(l <= IPC_BATCH_BYTES_MAX);
    struct ipc_msg *d = NULL;
    assert_int_equal(ipc_decode(out, l, NULL, &d), IPC_OK);
    assert_int_equal(d->batch.count, n - 2);
    ipc_msg_free(d);
    free(out);
    free(enc);
    free(v);
    free(bv);
    free(big);
    bm.batch.count = 0;
    assert_int_equal(ipc_encode_alloc(&bm, NULL, &out, &l), IPC_ERR_BAD_VALUE);
    bm.batch.count = IPC_BATCH_COUNT_MAX + 1;
    assert_int_equal(ipc_encode_alloc(&bm, NULL, &out, &l), IPC_ERR_OVERSIZED);
}

static void batch_inside_a_batch_refused(void **state)
{
    (void)state;
    const uint64_t inc = 9;
    struct buf hb = heartbeat_bytes(inc);
    struct buf inner = batch_of(inc, 1, &hb, 1);
    assert_int_equal(decode_rc(&inner), IPC_OK); /* fine alone */
    struct buf items[2] = {hb, inner};
    struct buf outer = batch_of(inc, 2, items, 2);
    assert_int_equal(decode_rc(&outer), IPC_ERR_BAD_VALUE);
    free(outer.p);
    free(inner.p);
    /* the encoder will not nest either, even when only measuring */
    struct ipc_msg leaf = {.type = IPC_MSG_HEARTBEAT, .incarnation = inc};
    struct ipc_msg in = {.type = IPC_MSG_BATCH, .incarnation = inc};
    in.batch.count = 1;
    in.batch.msgs = &leaf;
    struct ipc_msg out = {.type = IPC_MSG_BATCH, .incarnation = inc};
    out.batch.count = 1;
    out.batch.msgs = &in;
    uint8_t *o;
    size_t l;
    assert_int_equal(ipc_encode_alloc(&out, NULL, &o, &l), IPC_ERR_BAD_VALUE);
    assert_int_equal(ipc_encoded_len(&out), 0);
    struct ipc_msg self = {.type = IPC_MSG_BATCH, .incarnation = inc};
    self.batch.count = 1;
    self.batch.msgs = &self; /* would recurse for ever */
    assert_int_equal(ipc_encoded_len(&self), 0);
    /* all items come from the batch's sender */
    struct buf other = heartbeat_bytes(inc + 1);
    struct buf mixed_items[2] = {hb, other};
    struct buf mixed = batch_of(inc, 2, mixed_items, 2);
    assert_int_equal(decode_rc(&mixed), IPC_ERR_BAD_VALUE);
    free(mixed.p);
    free(other.p);
    leaf.incarnation = inc + 1;
    assert_int_equal(ipc_encode_alloc(&in, NULL, &o, &l), IPC_ERR_BAD_VALUE);
    free(hb.p);
}

/* Each item is held to everything a message alone is held to. */
static void batch_items_decoded_strictly(void **state)
{
    (void)state;
    const uint64_t inc = 0x0102030405060708ULL; /* the layouts' incarnation */
    struct buf hb = heartbeat_bytes(inc);
    struct {
        struct buf item;
        int want;
        const char *what;
    } cases[] = {
        {build(&layouts[3], -1, 1, IPC_MSG_STANZA_IN), IPC_ERR_VERSION, "version 1 item"},
        {build(&layouts[2], -1, IPC_PROTOCOL_VERSION, 99), IPC_ERR_UNKNOWN_TYPE, "unknown type"},
        {build(&layouts[3], 4, IPC_PROTOCOL_VERSION, IPC_MSG_STANZA_IN), IPC_ERR_OVERSIZED,
         "domain above its maximum"},
        {build(&layouts[5], -1, IPC_PROTOCOL_VERSION, IPC_MSG_ACK), IPC_OK, "a good ACK"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct buf items[2] = {hb, cases[i].item};
        struct buf b = batch_of(inc, 2, items, 2);
        int rc = decode_rc(&b);
        if (rc != cases[i].want)
            fail_msg("%s: %s", cases[i].what, ipc_strerror(rc));
        free(b.p);
        free(cases[i].item.p);
    }
    /* a reliable item without an id */
    struct layout l = layouts[3];
    l.id = 0;
    struct buf noid = build(&l, -1, IPC_PROTOCOL_VERSION, l.type);
    struct buf items[2] = {noid, hb};
    struct buf b = batch_of(inc, 2, items, 2);
    assert_int_equal(decode_rc(&b), IPC_ERR_BAD_VALUE);
    free(b.p);
    free(noid.p);
    /* an item length longer than its message: the item has trailing bytes */
    b = (struct buf){0};
    put_hdr(&b, IPC_PROTOCOL_VERSION, IPC_MSG_BATCH, inc, 0);
    put_be(&b, 1, 2);
    put_be(&b, hb.len + 2, 4);
    put(&b, hb.p, hb.len);
    put_be(&b, 0, 2);
    assert_int_equal(decode_rc(&b), IPC_ERR_TRAILING);
    free(b.p);
    /* shorter than its message: the item is truncated */
    struct buf gb = goodbye_bytes(inc, "bye");
    b = (struct buf){0};
    put_hdr(&b, IPC_PROTOCOL_VERSION, IPC_MSG_BATCH, inc, 0);
    put_be(&b, 2, 2);
    put_be(&b, gb.len - 1, 4);
    put(&b, gb.p, gb.len - 1);
    put_item(&b, &gb);
    assert_int_equal(decode_rc(&b), IPC_ERR_TRUNCATED);
    free(b.p);
    /* bytes after the last item */
    struct buf two[2] = {hb, gb};
    b = batch_of(inc, 2, two, 2);
    put_be(&b, 0, 1);
    assert_int_equal(decode_rc(&b), IPC_ERR_TRAILING);
    free(b.p);
    /* fewer items than counted */
    b = batch_of(inc, 3, two, 2);
    assert_int_equal(decode_rc(&b), IPC_ERR_TRUNCATED);
    free(b.p);
    free(gb.p);
    free(hb.p);
}

static struct buf ranges_bytes(const uint64_t *v, int n)
{
    struct buf b = {0};
    put_hdr(&b, IPC_PROTOCOL_VERSION, IPC_MSG_ACK_RANGES, 5, 0);
    put_be(&b, (uint64_t)n, 2);
    for (int i = 0; i < n; i++) {
        put_be(&b, v[2 * i], 8);
        put_be(&b, v[2 * i + 1], 4);
    }
    return b;
}

static void ack_ranges_must_be_canonical(void **state)
{
    (void)state;
    struct {
        uint64_t v[6];
        int n;
        int want;
        const char *what;
    } cases[] = {
        {{1, 1}, 1, IPC_OK, "one id"},
        {{1, 4096}, 1, IPC_OK, "IPC_ACK_IDS_MAX ids"},
        {{1, 10, 12, 1, 100, 3}, 3, IPC_OK, "three ranges"},
        {{UINT64_MAX - 2, 1, UINT64_MAX, 1}, 2, IPC_OK, "up to the last id"},
        {{0}, 0, IPC_ERR_BAD_VALUE, "no range"},
        {{0, 1}, 1, IPC_ERR_BAD_VALUE, "id 0"},
        {{5, 0}, 1, IPC_ERR_BAD_VALUE, "empty range"},
        {{1, 4097}, 1, IPC_ERR_OVERSIZED, "too many ids in one range"},
        {{1, 4000, 5000, 97}, 2, IPC_ERR_OVERSIZED, "too many ids in all"},
        {{UINT64_MAX, 2}, 1, IPC_ERR_BAD_VALUE, "past 2^64 - 1"},
        {{UINT64_MAX - 1, 2, UINT64_MAX, 1}, 2, IPC_ERR_BAD_VALUE, "after the last id"},
        {{10, 5, 1, 2}, 2, IPC_ERR_BAD_VALUE, "out of order"},
        {{10, 5, 12, 5}, 2, IPC_ERR_BAD_VALUE, "overlapping"},
        {{10, 5, 15, 5}, 2, IPC_ERR_BAD_VALUE, "adjacent"},
        {{10, 5, 10, 5}, 2, IPC_ERR_BAD_VALUE, "repeated"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct buf b = ranges_bytes(cases[i].v, cases[i].n);
        int rc = decode_rc(&b);
        if (rc != cases[i].want)
            fail_msg("decode %s: %s", cases[i].what, ipc_strerror(rc));
        free(b.p);
        /* the encoder applies the same rules */
        struct ipc_ack_range r[3];
        for (int k = 0; k < cases[i].n; k++)
            r[k] = (struct ipc_ack_range){cases[i].v[2 * k], (uint32_t)cases[i].v[2 * k + 1]};
        struct ipc_msg m = {.type = IPC_MSG_ACK_RANGES, .incarnation = 5};
        m.ack_ranges.nranges = (uint16_t)cases[i].n;
        m.ack_ranges.ranges = r;
        uint8_t *out = NULL;
        size_t l;
        rc = ipc_encode_alloc(&m, NULL, &out, &l);
        if (rc != cases[i].want)
            fail_msg("encode %s: %s", cases[i].what, ipc_strerror(rc));
        free(out);
    }
    /* more ranges than allowed, refused before reading them */
    uint64_t one[2] = {1, 1};
    struct buf b = ranges_bytes(one, 1);
    b.p[IPC_HEADER_LEN] = (IPC_ACK_RANGES_MAX + 1) >> 8;
    b.p[IPC_HEADER_LEN + 1] = (IPC_ACK_RANGES_MAX + 1) & 0xff;
    assert_int_equal(decode_rc(&b), IPC_ERR_OVERSIZED);
    b.p[IPC_HEADER_LEN] = 0;
    b.p[IPC_HEADER_LEN + 1] = 2; /* two counted, one there */
    assert_int_equal(decode_rc(&b), IPC_ERR_TRUNCATED);
    free(b.p);
    /* IPC_ACK_RANGES_MAX ranges is fine, and fits a batch item */
    struct ipc_ack_range *r = calloc(IPC_ACK_RANGES_MAX, sizeof(*r));
    for (int k = 0; k < IPC_ACK_RANGES_MAX; k++)
        r[k] = (struct ipc_ack_range){1 + 3 * (uint64_t)k, 2};
    struct ipc_msg m = {.type = IPC_MSG_ACK_RANGES, .incarnation = 5};
    m.ack_ranges.nranges = IPC_ACK_RANGES_MAX;
    m.ack_ranges.ranges = r;
    uint8_t *out;
    size_t l;
    encode_ok(&m, &out, &l);
    assert_true(l <= IPC_BATCH_ITEM_MAX);
    struct ipc_msg *d = NULL;
    assert_int_equal(ipc_decode(out, l, NULL, &d), IPC_OK);
    assert_int_equal(d->ack_ranges.nranges, IPC_ACK_RANGES_MAX);
    assert_true(d->ack_ranges.ranges[IPC_ACK_RANGES_MAX - 1].first ==
                r[IPC_ACK_RANGES_MAX - 1].first);
    ipc_msg_free(d);
    free(out);
    free(r);
}

static void errors_have_distinct_texts(void **state)
{
    (void)state;
    const char *seen[9];
    for (int e = 0; e >= -8; e--) {
        seen[-e] = ipc_strerror(e);
        for (int k = 0; k < -e; k++)
            assert_true(strcmp(seen[k], seen[-e]) != 0);
    }
    assert_string_equal(ipc_msg_type_name(IPC_MSG_STANZA_IN), "stanza_in");
    assert_string_equal(ipc_msg_type_name(IPC_MSG_BATCH), "batch");
    assert_string_equal(ipc_msg_type_name(IPC_MSG_ACK_RANGES), "ack_ranges");
    assert_string_equal(ipc_msg_type_name(99), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip_every_type),
        cmocka_unit_test(decoded_fields_are_usable_strings),
        cmocka_unit_test(hello_matches_documented_bytes),
        cmocka_unit_test(documented_layout_decodes),
        cmocka_unit_test(truncated_at_every_byte),
        cmocka_unit_test(trailing_garbage_refused),
        cmocka_unit_test(oversized_each_field),
        cmocka_unit_test(oversized_counts_refused),
        cmocka_unit_test(stanza_cap_is_a_setting),
        cmocka_unit_test(unknown_type_refused),
        cmocka_unit_test(wrong_version_refused),
        cmocka_unit_test(bad_values_refused),
        cmocka_unit_test(strings_must_be_clean_utf8),
        cmocka_unit_test(encoder_checks_its_input),
        cmocka_unit_test(batch_matches_documented_bytes),
        cmocka_unit_test(batch_round_trip_keeps_every_item),
        cmocka_unit_test(batch_counts_and_sizes_capped),
        cmocka_unit_test(batch_inside_a_batch_refused),
        cmocka_unit_test(batch_items_decoded_strictly),
        cmocka_unit_test(ack_ranges_must_be_canonical),
        cmocka_unit_test(errors_have_distinct_texts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
