/*
 * ipc_codec.c - field-by-field encoding and checked decoding of ipc_msg.h.
 *
 * Decoding runs the same field walk twice: once to check every bound and
 * count the bytes the decoded copy needs, once to copy into a single
 * allocation of exactly that size. The walk never reads past len and never
 * trusts a length or count before comparing it with both its maximum and the
 * bytes actually left. A BATCH runs the same walk over each of its items,
 * sharing the one allocation; a BATCH inside a BATCH is refused before its
 * body is looked at, so the walk nests at most once.
 */
#include <stdlib.h>
#include <string.h>

#include "ipc_codec.h"

/* Smallest wire size of one STATS stream and gateway entry: used to refuse a
 * count that the remaining bytes cannot hold before allocating for it. */
#define STATS_STREAM_MIN  (2 + 2 + 2 + 1 + 2 + 1 + 8 + 8 + 8)
#define STATS_GATEWAY_MIN (2 + 8 + 4)

void ipc_limits_default(struct ipc_limits *l)
{
    l->stanza_max = IPC_STANZA_MAX_DEFAULT;
    l->config_max = IPC_CONFIG_MAX_DEFAULT;
}

size_t ipc_limits_frame_max(const struct ipc_limits *l)
{
    size_t stanza = IPC_HEADER_LEN + 1 + 3 * 2 + 2 * IPC_DOMAIN_MAX + IPC_STREAM_ID_MAX + 4 +
                    (size_t)l->stanza_max;
    size_t config = IPC_HEADER_LEN + 8 + 4 + (size_t)l->config_max;
    /* Room for STATS of a large edge, and for any BATCH (ipc_msg.h). */
    size_t floor = 1024 * 1024 > IPC_BATCH_BYTES_MAX ? 1024 * 1024 : IPC_BATCH_BYTES_MAX;
    size_t m = stanza > config ? stanza : config;
    return m > floor ? m : floor;
}

bool ipc_msg_type_reliable(int type)
{
    switch (type) {
    case IPC_MSG_STANZA_IN:
    case IPC_MSG_STANZA_OUT:
    case IPC_MSG_BOUNCE:
    case IPC_MSG_CONFIG_PUSH:
    case IPC_MSG_CONFIG_ACK:
        return true;
    default:
        return false;
    }
}

const char *ipc_msg_type_name(int type)
{
    switch (type) {
    case IPC_MSG_HELLO:
        return "hello";
    case IPC_MSG_HELLO_ACK:
        return "hello_ack";
    case IPC_MSG_HEARTBEAT:
        return "heartbeat";
    case IPC_MSG_STANZA_IN:
        return "stanza_in";
    case IPC_MSG_STANZA_OUT:
        return "stanza_out";
    case IPC_MSG_ACK:
        return "ack";
    case IPC_MSG_BOUNCE:
        return "bounce";
    case IPC_MSG_CONFIG_PUSH:
        return "config_push";
    case IPC_MSG_CONFIG_ACK:
        return "config_ack";
    case IPC_MSG_STATS_REQUEST:
        return "stats_request";
    case IPC_MSG_STATS:
        return "stats";
    case IPC_MSG_GOODBYE:
        return "goodbye";
    case IPC_MSG_BATCH:
        return "batch";
    case IPC_MSG_ACK_RANGES:
        return "ack_ranges";
    default:
        return "unknown";
    }
}

const char *ipc_strerror(int err)
{
    switch (err) {
    case IPC_OK:
        return "ok";
    case IPC_ERR_TRUNCATED:
        return "truncated";
    case IPC_ERR_TRAILING:
        return "trailing bytes";
    case IPC_ERR_OVERSIZED:
        return "field above its maximum";
    case IPC_ERR_UNKNOWN_TYPE:
        return "unknown message type";
    case IPC_ERR_VERSION:
        return "unsupported protocol version";
    case IPC_ERR_BAD_VALUE:
        return "value out of range";
    case IPC_ERR_NOMEM:
        return "out of memory";
    case IPC_ERR_NOSPACE:
        return "output buffer too small";
    default:
        return "unknown error";
    }
}

/* Text fields must be UTF-8 without control characters, so that whatever a
 * peer sends can be logged as it is (no forged log lines). */
static bool text_ok(const uint8_t *s, size_t n)
{
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    size_t i = 0;
    while (i < n) {
        /* Eight bytes at a time while all are printable ASCII: no high bit,
         * no byte below 0x20 (x - 0x20.. borrows into the high bit of such a
         * byte), no 0x7f (x ^ 0x7f.. has a zero byte there). */
        while (n - i >= 8) {
            uint64_t x;
            memcpy(&x, s + i, 8);
            uint64_t y = x ^ (0x7f * ones);
            if (((x | ((x - 0x20 * ones) & ~x) | ((y - ones) & ~y)) & highs) != 0)
                break;
            i += 8;
        }
        if (i == n)
            break;
        uint8_t c = s[i];
        if (c < 0x80) {
            if (c < 0x20 || c == 0x7f)
                return false;
            i++;
            continue;
        }
        size_t need;
        uint32_t cp;
        if (c >= 0xc2 && c <= 0xdf) {
            need = 1;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            need = 2;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            need = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (n - i <= need)
            return false;
        for (size_t k = 1; k <= need; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        /* overlong forms, surrogates, beyond U+10FFFF */
        if ((need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += need + 1;
    }
    return true;
}

/* The rules of ACK_RANGES (ipc_msg.h), one range at a time, shared by the
 * decoder and the encoder's checks. */
struct range_walk {
    uint32_t ids;  /* ids covered so far */
    uint64_t next; /* smallest first the next range may have */
    bool closed;   /* the last range ended at 2^64 - 2 or later: no room for another */
};

static int range_step(struct range_walk *rw, uint64_t first, uint32_t count)
{
    if (first == 0 || count == 0)
        return IPC_ERR_BAD_VALUE;
    if (count > IPC_ACK_IDS_MAX - rw->ids)
        return IPC_ERR_OVERSIZED;
    if (count - 1 > UINT64_MAX - first)
        return IPC_ERR_BAD_VALUE; /* past 2^64 - 1 */
    if (rw->closed || first < rw->next)
        return IPC_ERR_BAD_VALUE; /* out of order, overlapping or adjacent */
    uint64_t last = first + (count - 1);
    rw->ids += count;
    rw->closed = last > UINT64_MAX - 2;
    rw->next = rw->closed ? UINT64_MAX : last + 2;
    return IPC_OK;
}

static int ranges_count_ok(uint32_t n)
{
    if (n == 0)
        return IPC_ERR_BAD_VALUE;
    if (n > IPC_ACK_RANGES_MAX)
        return IPC_ERR_OVERSIZED;
    return IPC_OK;
}

static int batch_count_ok(uint32_t n)
{
    if (n == 0)
        return IPC_ERR_BAD_VALUE;
    if (n > IPC_BATCH_COUNT_MAX)
        return IPC_ERR_OVERSIZED;
    return IPC_OK;
}

/* ---- decoding ---- */

struct rd {
    const uint8_t *p;
    size_t left;
    char *arena; /* NULL while sizing */
    size_t used;
    size_t last_len; /* length of the string get_str() read last */
    int err;
};

static bool rd_need(struct rd *r, size_t n)
{
    if (r->err)
        return false;
    if (r->left < n) {
        r->err = IPC_ERR_TRUNCATED;
        return false;
    }
    return true;
}

static uint8_t get_u8(struct rd *r)
{
    if (!rd_need(r, 1))
        return 0;
    uint8_t v = r->p[0];
    r->p++;
    r->left--;
    return v;
}

static uint16_t get_u16(struct rd *r)
{
    if (!rd_need(r, 2))
        return 0;
    uint16_t v = (uint16_t)((r->p[0] << 8) | r->p[1]);
    r->p += 2;
    r->left -= 2;
    return v;
}

static uint32_t get_u32(struct rd *r)
{
    if (!rd_need(r, 4))
        return 0;
    uint32_t v =
        ((uint32_t)r->p[0] << 24) | ((uint32_t)r->p[1] << 16) | ((uint32_t)r->p[2] << 8) | r->p[3];
    r->p += 4;
    r->left -= 4;
    return v;
}

static uint64_t get_u64(struct rd *r)
{
    uint64_t hi = get_u32(r);
    uint64_t lo = get_u32(r);
    return (hi << 32) | lo;
}

static void *rd_alloc(struct rd *r, size_t n, size_t align)
{
    r->used = (r->used + align - 1) & ~(align - 1);
    void *p = r->arena ? r->arena + r->used : NULL;
    r->used += n;
    return p;
}

static void bad(struct rd *r, int err)
{
    if (!r->err)
        r->err = err;
}

static const char *get_str(struct rd *r, size_t max)
{
    uint16_t n = get_u16(r);
    r->last_len = 0;
    if (r->err)
        return "";
    if (n > max) {
        bad(r, IPC_ERR_OVERSIZED);
        return "";
    }
    if (!rd_need(r, n))
        return "";
    if (!text_ok(r->p, n)) {
        bad(r, IPC_ERR_BAD_VALUE);
        return "";
    }
    char *dst = rd_alloc(r, (size_t)n + 1, 1);
    if (dst) {
        memcpy(dst, r->p, n);
        dst[n] = '\0';
    }
    r->p += n;
    r->left -= n;
    r->last_len = n;
    return dst ? dst : "";
}

static const uint8_t *get_blob(struct rd *r, size_t max, size_t min, size_t *len)
{
    uint32_t n = get_u32(r);
    *len = 0;
    if (r->err)
        return NULL;
    if (n > max) {
        bad(r, IPC_ERR_OVERSIZED);
        return NULL;
    }
    if (!rd_need(r, n))
        return NULL;
    if (n < min) {
        bad(r, IPC_ERR_BAD_VALUE);
        return NULL;
    }
    uint8_t *dst = rd_alloc(r, (size_t)n + 1, 1);
    if (dst) {
        memcpy(dst, r->p, n);
        dst[n] = '\0';
    }
    r->p += n;
    r->left -= n;
    *len = n;
    return dst;
}

static void check_enum(struct rd *r, unsigned v, unsigned lo, unsigned hi)
{
    if (v < lo || v > hi)
        bad(r, IPC_ERR_BAD_VALUE);
}

static void get_ack_fields(struct rd *r, uint8_t status, size_t cond_len)
{
    check_enum(r, status, IPC_ACK_OK, IPC_ACK_ERROR);
    if (!r->err && (status == IPC_ACK_OK) != (cond_len == 0))
        bad(r, IPC_ERR_BAD_VALUE);
}

static int decode_msg(const uint8_t *buf, size_t len, const struct ipc_limits *l, struct ipc_msg *m,
                      char *arena, size_t *used, const struct ipc_msg *outer);

/* BATCH: each item decoded as a message of its own into the same arena. */
static void decode_batch(struct rd *r, struct ipc_msg *m, const struct ipc_limits *l)
{
    struct ipc_batch *b = &m->batch;
    b->count = get_u16(r);
    if (r->err)
        return;
    int err = batch_count_ok(b->count);
    if (err) {
        bad(r, err);
        return;
    }
    /* Every item takes at least its length and a header. */
    if ((size_t)b->count * (4 + IPC_HEADER_LEN) > r->left) {
        bad(r, IPC_ERR_TRUNCATED);
        return;
    }
    struct ipc_msg *v = rd_alloc(r, (size_t)b->count * sizeof(*v), _Alignof(struct ipc_msg));
    struct ipc_msg dummy;
    for (uint32_t i = 0; i < b->count; i++) {
        uint32_t n = get_u32(r);
        if (r->err)
            return;
        if (n > IPC_BATCH_ITEM_MAX) {
            bad(r, IPC_ERR_OVERSIZED);
            return;
        }
        if (!rd_need(r, n))
            return;
        size_t used = r->used;
        err = decode_msg(r->p, n, l, v ? &v[i] : &dummy, r->arena, &used, m);
        if (err) {
            bad(r, err);
            return;
        }
        r->used = used;
        r->p += n;
        r->left -= n;
    }
    b->msgs = v;
}

static void decode_ack_ranges(struct rd *r, struct ipc_msg *m)
{
    struct ipc_ack_ranges *a = &m->ack_ranges;
    a->nranges = get_u16(r);
    if (r->err)
        return;
    int err = ranges_count_ok(a->nranges);
    if (err) {
        bad(r, err);
        return;
    }
    if ((size_t)a->nranges * 12 > r->left) {
        bad(r, IPC_ERR_TRUNCATED);
        return;
    }
    struct ipc_ack_range *v =
        rd_alloc(r, (size_t)a->nranges * sizeof(*v), _Alignof(struct ipc_ack_range));
    struct range_walk rw = {0};
    for (uint32_t i = 0; i < a->nranges && !r->err; i++) {
        uint64_t first = get_u64(r);
        uint32_t count = get_u32(r);
        if (r->err)
            return;
        err = range_step(&rw, first, count);
        if (err) {
            bad(r, err);
            return;
        }
        if (v) {
            v[i].first = first;
            v[i].count = count;
        }
    }
    a->ranges = v;
}

/* Walks the body of type m->type; in the sizing pass (arena NULL) pointers
 * stay dummies, in the filling pass they point into the arena. */
static void decode_body(struct rd *r, struct ipc_msg *m, const struct ipc_limits *l)
{
    switch (m->type) {
    case IPC_MSG_HELLO:
    case IPC_MSG_HELLO_ACK: {
        struct ipc_hello *h = &m->hello;
        h->role = get_u8(r);
        check_enum(r, h->role, IPC_ROLE_EDGE, IPC_ROLE_TOOL);
        h->proto_version = get_u16(r);
        h->capabilities = get_u32(r);
        h->heartbeat_ms = get_u32(r);
        h->name = get_str(r, IPC_NAME_MAX);
        break;
    }
    case IPC_MSG_HEARTBEAT:
    case IPC_MSG_STATS_REQUEST:
        break;
    case IPC_MSG_GOODBYE:
        m->goodbye.reason = get_str(r, IPC_TEXT_MAX);
        break;
    case IPC_MSG_STANZA_IN: {
        struct ipc_stanza_in *s = &m->stanza_in;
        s->direction = get_u8(r);
        check_enum(r, s->direction, IPC_DIR_INBOUND, IPC_DIR_OUTBOUND);
        s->local = get_str(r, IPC_DOMAIN_MAX);
        s->remote = get_str(r, IPC_DOMAIN_MAX);
        s->stream_id = get_str(r, IPC_STREAM_ID_MAX);
        s->stanza = get_blob(r, l->stanza_max, 1, &s->stanza_len);
        break;
    }
    case IPC_MSG_STANZA_OUT: {
        struct ipc_stanza_out *s = &m->stanza_out;
        s->from = get_str(r, IPC_DOMAIN_MAX);
        s->to = get_str(r, IPC_DOMAIN_MAX);
        s->stanza = get_blob(r, l->stanza_max, 1, &s->stanza_len);
        break;
    }
    case IPC_MSG_ACK: {
        struct ipc_ack *a = &m->ack;
        a->acked_id = get_u64(r);
        a->status = get_u8(r);
        a->condition = get_str(r, IPC_COND_MAX);
        size_t cond_len = r->last_len;
        a->text = get_str(r, IPC_TEXT_MAX);
        get_ack_fields(r, a->status, cond_len);
        if (!r->err && a->acked_id == 0)
            bad(r, IPC_ERR_BAD_VALUE);
        break;
    }
    case IPC_MSG_BOUNCE: {
        struct ipc_bounce *b = &m->bounce;
        b->stanza_id = get_u64(r);
        b->condition = get_str(r, IPC_COND_MAX);
        size_t cond_len = r->last_len;
        b->text = get_str(r, IPC_TEXT_MAX);
        if (!r->err && cond_len == 0)
            bad(r, IPC_ERR_BAD_VALUE);
        break;
    }
    case IPC_MSG_CONFIG_PUSH: {
        struct ipc_config_push *c = &m->config_push;
        c->version = get_u64(r);
        c->text = get_blob(r, l->config_max, 0, &c->text_len);
        break;
    }
    case IPC_MSG_CONFIG_ACK: {
        struct ipc_config_ack *c = &m->config_ack;
        c->version = get_u64(r);
        c->status = get_u8(r);
        check_enum(r, c->status, IPC_CONFIG_APPLIED, IPC_CONFIG_REFUSED);
        c->reason = get_str(r, IPC_TEXT_MAX);
        break;
    }
    case IPC_MSG_STATS: {
        struct ipc_stats *s = &m->stats;
        s->request_id = get_u64(r);
        s->name = get_str(r, IPC_NAME_MAX);
        s->conf_version = get_u64(r);
        s->nstreams = get_u32(r);
        if (r->err)
            break;
        if (s->nstreams > IPC_STATS_STREAMS_MAX) {
            bad(r, IPC_ERR_OVERSIZED);
            break;
        }
        if ((size_t)s->nstreams * STATS_STREAM_MIN > r->left) {
            bad(r, IPC_ERR_TRUNCATED);
            break;
        }
        struct ipc_stats_stream *st =
            rd_alloc(r, (size_t)s->nstreams * sizeof(*st), _Alignof(struct ipc_stats_stream));
        struct ipc_stats_stream dummy;
        for (uint32_t i = 0; i < s->nstreams && !r->err; i++) {
            struct ipc_stats_stream *e = st ? &st[i] : &dummy;
            e->stream_id = get_str(r, IPC_STREAM_ID_MAX);
            e->local = get_str(r, IPC_DOMAIN_MAX);
            e->partner = get_str(r, IPC_DOMAIN_MAX);
            e->direction = get_u8(r);
            check_enum(r, e->direction, IPC_DIR_INBOUND, IPC_DIR_OUTBOUND);
            e->tls_version = get_str(r, IPC_TLS_MAX);
            e->auth = get_u8(r);
            check_enum(r, e->auth, IPC_AUTH_NONE, IPC_AUTH_DIALBACK);
            e->since = get_u64(r);
            e->stanzas_in = get_u64(r);
            e->stanzas_out = get_u64(r);
        }
        s->streams = st;
        s->ngateways = get_u32(r);
        if (r->err)
            break;
        if (s->ngateways > IPC_STATS_GATEWAYS_MAX) {
            bad(r, IPC_ERR_OVERSIZED);
            break;
        }
        if ((size_t)s->ngateways * STATS_GATEWAY_MIN > r->left) {
            bad(r, IPC_ERR_TRUNCATED);
            break;
        }
        struct ipc_stats_gateway *gw =
            rd_alloc(r, (size_t)s->ngateways * sizeof(*gw), _Alignof(struct ipc_stats_gateway));
        struct ipc_stats_gateway gdummy;
        for (uint32_t i = 0; i < s->ngateways && !r->err; i++) {
            struct ipc_stats_gateway *e = gw ? &gw[i] : &gdummy;
            e->name = get_str(r, IPC_NAME_MAX);
            e->since = get_u64(r);
            e->unacked = get_u32(r);
            e->users = get_u32(r);
        }
        s->gateways = gw;
        break;
    }
    case IPC_MSG_BATCH:
        decode_batch(r, m, l);
        break;
    case IPC_MSG_ACK_RANGES:
        decode_ack_ranges(r, m);
        break;
    default:
        bad(r, IPC_ERR_UNKNOWN_TYPE);
        break;
    }
}

int ipc_decode_header(const uint8_t *buf, size_t len, struct ipc_hdr *out)
{
    struct rd r = {.p = buf, .left = len};
    out->version = get_u8(&r);
    out->type = get_u8(&r);
    out->incarnation = get_u64(&r);
    out->id = get_u64(&r);
    return r.err;
}

/* Decodes the message buf[0..len) into m, allocating from arena at *used
 * onwards (only counting when arena is NULL) and advancing *used. outer is
 * the BATCH this message is an item of, or NULL. */
static int decode_msg(const uint8_t *buf, size_t len, const struct ipc_limits *l, struct ipc_msg *m,
                      char *arena, size_t *used, const struct ipc_msg *outer)
{
    struct ipc_hdr h;
    int err = ipc_decode_header(buf, len, &h);
    if (err)
        return err;
    if (h.version != IPC_PROTOCOL_VERSION)
        return IPC_ERR_VERSION;
    if (h.type < IPC_MSG_TYPE_MIN || h.type > IPC_MSG_TYPE_MAX)
        return IPC_ERR_UNKNOWN_TYPE;
    if (len > ipc_limits_frame_max(l) || (h.type == IPC_MSG_BATCH && len > IPC_BATCH_BYTES_MAX))
        return IPC_ERR_OVERSIZED;
    /* No batch in a batch; all of a batch comes from one process. */
    if (outer != NULL && (h.type == IPC_MSG_BATCH || h.incarnation != outer->incarnation))
        return IPC_ERR_BAD_VALUE;
    if (h.id == 0 && ipc_msg_type_reliable(h.type))
        return IPC_ERR_BAD_VALUE;
    memset(m, 0, sizeof(*m));
    m->version = h.version;
    m->type = h.type;
    m->incarnation = h.incarnation;
    m->id = h.id;
    struct rd r = {
        .p = buf + IPC_HEADER_LEN, .left = len - IPC_HEADER_LEN, .arena = arena, .used = *used};
    decode_body(&r, m, l);
    if (r.err)
        return r.err;
    if (r.left != 0)
        return IPC_ERR_TRAILING;
    *used = r.used;
    return IPC_OK;
}

int ipc_decode(const uint8_t *buf, size_t len, const struct ipc_limits *limits,
               struct ipc_msg **out)
{
    struct ipc_limits def;
    if (limits == NULL) {
        ipc_limits_default(&def);
        limits = &def;
    }
    *out = NULL;
    struct ipc_msg probe;
    size_t need = 0;
    int err = decode_msg(buf, len, limits, &probe, NULL, &need, NULL);
    if (err)
        return err;
    /* The arena follows the struct, aligned for the STATS arrays. */
    size_t head = (sizeof(struct ipc_msg) + 15) & ~(size_t)15;
    char *block = malloc(head + need + 1);
    if (block == NULL)
        return IPC_ERR_NOMEM;
    struct ipc_msg *m = (struct ipc_msg *)(void *)block;
    size_t used2 = 0;
    err = decode_msg(buf, len, limits, m, block + head, &used2, NULL);
    if (err || used2 != need) {
        /* Same input, same walk: a difference would be our bug. */
        free(block);
        return err ? err : IPC_ERR_BAD_VALUE;
    }
    *out = m;
    return IPC_OK;
}

void ipc_msg_free(struct ipc_msg *m)
{
    free(m);
}

/* ---- encoding ---- */

struct wr {
    uint8_t *p; /* NULL: only count (and check) */
    size_t len;
    size_t cap;
    bool check; /* judge field values as the decoder would */
    int err;
};

static void wr_bytes(struct wr *w, const void *src, size_t n)
{
    if (w->p && !w->err) {
        if (w->cap - w->len < n) {
            w->err = IPC_ERR_NOSPACE;
        } else if (n) {
            memcpy(w->p + w->len, src, n);
        }
    }
    w->len += n;
}

static void put_u8(struct wr *w, uint8_t v)
{
    wr_bytes(w, &v, 1);
}

static void put_u16(struct wr *w, uint16_t v)
{
    uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    wr_bytes(w, b, 2);
}

static void put_u32(struct wr *w, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    wr_bytes(w, b, 4);
}

static void put_u64(struct wr *w, uint64_t v)
{
    put_u32(w, (uint32_t)(v >> 32));
    put_u32(w, (uint32_t)v);
}

static void wbad(struct wr *w, int err)
{
    if (!w->err)
        w->err = err;
}

static void put_str(struct wr *w, const char *s, size_t max)
{
    if (s == NULL) {
        wbad(w, IPC_ERR_BAD_VALUE);
        s = "";
    }
    size_t n = strlen(s);
    if (w->check) {
        if (n > max)
            wbad(w, IPC_ERR_OVERSIZED);
        else if (!text_ok((const uint8_t *)s, n))
            wbad(w, IPC_ERR_BAD_VALUE);
    }
    put_u16(w, (uint16_t)(n > UINT16_MAX ? UINT16_MAX : n));
    wr_bytes(w, s, n);
}

static void put_blob(struct wr *w, const uint8_t *b, size_t n, size_t max, size_t min)
{
    if (w->check) {
        if (n > max)
            wbad(w, IPC_ERR_OVERSIZED);
        else if (n < min || (b == NULL && n > 0))
            wbad(w, IPC_ERR_BAD_VALUE);
    }
    put_u32(w, (uint32_t)(n > UINT32_MAX ? UINT32_MAX : n));
    if (b)
        wr_bytes(w, b, n);
    else
        w->len += n; /* only reachable with n == 0 or after an error */
}

static void wenum(struct wr *w, unsigned v, unsigned lo, unsigned hi)
{
    if (w->check && (v < lo || v > hi))
        wbad(w, IPC_ERR_BAD_VALUE);
}

static void encode_msg(struct wr *w, const struct ipc_msg *m, const struct ipc_limits *l);

static void encode_batch(struct wr *w, const struct ipc_msg *m, const struct ipc_limits *l)
{
    const struct ipc_batch *b = &m->batch;
    if (w->check)
        wbad(w, batch_count_ok(b->count));
    if (b->count && b->msgs == NULL) {
        wbad(w, IPC_ERR_BAD_VALUE);
        return;
    }
    put_u16(w, b->count);
    for (uint32_t i = 0; i < b->count && !w->err; i++) {
        const struct ipc_msg *e = &b->msgs[i];
        /* Checked even when only counting: it also keeps the walk flat. */
        if (e->type == IPC_MSG_BATCH || e->incarnation != m->incarnation) {
            wbad(w, IPC_ERR_BAD_VALUE);
            return;
        }
        struct wr sz = {.check = w->check};
        encode_msg(&sz, e, l);
        if (sz.err) {
            wbad(w, sz.err);
            return;
        }
        if (w->check && sz.len > IPC_BATCH_ITEM_MAX)
            wbad(w, IPC_ERR_OVERSIZED);
        put_u32(w, (uint32_t)(sz.len > UINT32_MAX ? UINT32_MAX : sz.len));
        encode_msg(w, e, l);
    }
}

static void encode_ack_ranges(struct wr *w, const struct ipc_ack_ranges *a)
{
    if (w->check)
        wbad(w, ranges_count_ok(a->nranges));
    if (a->nranges && a->ranges == NULL) {
        wbad(w, IPC_ERR_BAD_VALUE);
        return;
    }
    put_u16(w, a->nranges);
    struct range_walk rw = {0};
    for (uint32_t i = 0; i < a->nranges; i++) {
        if (w->check)
            wbad(w, range_step(&rw, a->ranges[i].first, a->ranges[i].count));
        put_u64(w, a->ranges[i].first);
        put_u32(w, a->ranges[i].count);
    }
}

static void encode_msg(struct wr *w, const struct ipc_msg *m, const struct ipc_limits *l)
{
    if (m->type < IPC_MSG_TYPE_MIN || m->type > IPC_MSG_TYPE_MAX) {
        wbad(w, IPC_ERR_UNKNOWN_TYPE);
        return;
    }
    if (w->check && m->id == 0 && ipc_msg_type_reliable(m->type))
        wbad(w, IPC_ERR_BAD_VALUE);
    put_u8(w, IPC_PROTOCOL_VERSION);
    put_u8(w, m->type);
    put_u64(w, m->incarnation);
    put_u64(w, m->id);
    switch (m->type) {
    case IPC_MSG_HELLO:
    case IPC_MSG_HELLO_ACK:
        wenum(w, m->hello.role, IPC_ROLE_EDGE, IPC_ROLE_TOOL);
        put_u8(w, m->hello.role);
        put_u16(w, m->hello.proto_version);
        put_u32(w, m->hello.capabilities);
        put_u32(w, m->hello.heartbeat_ms);
        put_str(w, m->hello.name, IPC_NAME_MAX);
        break;
    case IPC_MSG_HEARTBEAT:
    case IPC_MSG_STATS_REQUEST:
        break;
    case IPC_MSG_GOODBYE:
        put_str(w, m->goodbye.reason, IPC_TEXT_MAX);
        break;
    case IPC_MSG_STANZA_IN: {
        const struct ipc_stanza_in *s = &m->stanza_in;
        wenum(w, s->direction, IPC_DIR_INBOUND, IPC_DIR_OUTBOUND);
        put_u8(w, s->direction);
        put_str(w, s->local, IPC_DOMAIN_MAX);
        put_str(w, s->remote, IPC_DOMAIN_MAX);
        put_str(w, s->stream_id, IPC_STREAM_ID_MAX);
        put_blob(w, s->stanza, s->stanza_len, l->stanza_max, 1);
        break;
    }
    case IPC_MSG_STANZA_OUT: {
        const struct ipc_stanza_out *s = &m->stanza_out;
        put_str(w, s->from, IPC_DOMAIN_MAX);
        put_str(w, s->to, IPC_DOMAIN_MAX);
        put_blob(w, s->stanza, s->stanza_len, l->stanza_max, 1);
        break;
    }
    case IPC_MSG_ACK: {
        const struct ipc_ack *a = &m->ack;
        wenum(w, a->status, IPC_ACK_OK, IPC_ACK_ERROR);
        if (w->check && (a->acked_id == 0 || a->condition == NULL ||
                         (a->status == IPC_ACK_OK) != (a->condition[0] == '\0')))
            wbad(w, IPC_ERR_BAD_VALUE);
        put_u64(w, a->acked_id);
        put_u8(w, a->status);
        put_str(w, a->condition, IPC_COND_MAX);
        put_str(w, a->text, IPC_TEXT_MAX);
        break;
    }
    case IPC_MSG_BOUNCE: {
        const struct ipc_bounce *b = &m->bounce;
        if (w->check && (b->condition == NULL || b->condition[0] == '\0'))
            wbad(w, IPC_ERR_BAD_VALUE);
        put_u64(w, b->stanza_id);
        put_str(w, b->condition, IPC_COND_MAX);
        put_str(w, b->text, IPC_TEXT_MAX);
        break;
    }
    case IPC_MSG_CONFIG_PUSH:
        put_u64(w, m->config_push.version);
        put_blob(w, m->config_push.text, m->config_push.text_len, l->config_max, 0);
        break;
    case IPC_MSG_CONFIG_ACK:
        wenum(w, m->config_ack.status, IPC_CONFIG_APPLIED, IPC_CONFIG_REFUSED);
        put_u64(w, m->config_ack.version);
        put_u8(w, m->config_ack.status);
        put_str(w, m->config_ack.reason, IPC_TEXT_MAX);
        break;
    case IPC_MSG_STATS: {
        const struct ipc_stats *s = &m->stats;
        put_u64(w, s->request_id);
        put_str(w, s->name, IPC_NAME_MAX);
        put_u64(w, s->conf_version);
        if (w->check &&
            (s->nstreams > IPC_STATS_STREAMS_MAX || s->ngateways > IPC_STATS_GATEWAYS_MAX))
            wbad(w, IPC_ERR_OVERSIZED);
        if ((s->nstreams && s->streams == NULL) || (s->ngateways && s->gateways == NULL)) {
            wbad(w, IPC_ERR_BAD_VALUE);
            return;
        }
        put_u32(w, s->nstreams);
        for (uint32_t i = 0; i < s->nstreams && !w->err; i++) {
            const struct ipc_stats_stream *e = &s->streams[i];
            put_str(w, e->stream_id, IPC_STREAM_ID_MAX);
            put_str(w, e->local, IPC_DOMAIN_MAX);
            put_str(w, e->partner, IPC_DOMAIN_MAX);
            wenum(w, e->direction, IPC_DIR_INBOUND, IPC_DIR_OUTBOUND);
            put_u8(w, e->direction);
            put_str(w, e->tls_version, IPC_TLS_MAX);
            wenum(w, e->auth, IPC_AUTH_NONE, IPC_AUTH_DIALBACK);
            put_u8(w, e->auth);
            put_u64(w, e->since);
            put_u64(w, e->stanzas_in);
            put_u64(w, e->stanzas_out);
        }
        put_u32(w, s->ngateways);
        for (uint32_t i = 0; i < s->ngateways && !w->err; i++) {
            const struct ipc_stats_gateway *e = &s->gateways[i];
            put_str(w, e->name, IPC_NAME_MAX);
            put_u64(w, e->since);
            put_u32(w, e->unacked);
            put_u32(w, e->users);
        }
        break;
    }
    case IPC_MSG_BATCH:
        encode_batch(w, m, l);
        break;
    case IPC_MSG_ACK_RANGES:
        encode_ack_ranges(w, &m->ack_ranges);
        break;
    }
}

size_t ipc_encoded_len(const struct ipc_msg *m)
{
    struct ipc_limits l;
    ipc_limits_default(&l);
    struct wr w = {0};
    encode_msg(&w, m, &l);
    return w.err ? 0 : w.len;
}

static int encode_checked(const struct ipc_msg *m, const struct ipc_limits *limits, uint8_t *buf,
                          size_t cap, size_t *outlen)
{
    struct ipc_limits def;
    if (limits == NULL) {
        ipc_limits_default(&def);
        limits = &def;
    }
    struct wr w = {.p = buf, .cap = cap, .check = true};
    encode_msg(&w, m, limits);
    if (!w.err && (w.len > ipc_limits_frame_max(limits) ||
                   (m->type == IPC_MSG_BATCH && w.len > IPC_BATCH_BYTES_MAX)))
        w.err = IPC_ERR_OVERSIZED;
    if (w.err)
        return w.err;
    *outlen = w.len;
    return IPC_OK;
}

int ipc_encode(const struct ipc_msg *m, const struct ipc_limits *limits, uint8_t *buf, size_t cap,
               size_t *outlen)
{
    /* A NULL buffer would switch the writer to counting only. */
    uint8_t dummy;
    return encode_checked(m, limits, buf ? buf : &dummy, buf ? cap : 0, outlen);
}

int ipc_encode_alloc(const struct ipc_msg *m, const struct ipc_limits *limits, uint8_t **out,
                     size_t *outlen)
{
    *out = NULL;
    size_t n = 0;
    int err = encode_checked(m, limits, NULL, 0, &n);
    if (err)
        return err;
    uint8_t *buf = malloc(n ? n : 1);
    if (buf == NULL)
        return IPC_ERR_NOMEM;
    err = ipc_encode(m, limits, buf, n, outlen);
    if (err) {
        free(buf);
        return err;
    }
    *out = buf;
    return IPC_OK;
}

void ipc_batch_put_prefix(uint8_t *frame, uint64_t incarnation, uint16_t count)
{
    struct wr w = {.p = frame, .cap = IPC_BATCH_PREFIX_LEN};
    put_u8(&w, IPC_PROTOCOL_VERSION);
    put_u8(&w, IPC_MSG_BATCH);
    put_u64(&w, incarnation);
    put_u64(&w, 0);
    put_u16(&w, count);
}

void ipc_batch_put_item_len(uint8_t *at, uint32_t len)
{
    struct wr w = {.p = at, .cap = IPC_BATCH_ITEM_PREFIX_LEN};
    put_u32(&w, len);
}
