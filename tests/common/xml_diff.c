/*
 * xml_diff.c - see xml_diff.h.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xml_diff.h"
#include "xml_stream_expat.h"
#include "xml_test_util.h"

struct outcome {
    struct recorder r;
    long consumed; /* total bytes consumed, -1 if a feed failed */
};

static uint32_t next_piece(uint32_t *seed)
{
    *seed = *seed * 1103515245u + 12345u;
    return 1 + (*seed >> 16) % 17;
}

/* Ours, at once (seed NULL) or in pieces of 1 to 17 bytes. */
static void run_ours(struct outcome *o, const struct xml_limits *lim, const char *buf, size_t len,
                     unsigned stop_at, uint32_t *seed)
{
    recorder_init(&o->r);
    o->r.stop_at_element = stop_at;
    struct xml_stream *s = xml_stream_new(lim, &recorder_cb, &o->r);
    if (s == NULL) {
        abort();
    }
    size_t off = 0;
    o->consumed = 0;
    while (off < len) {
        size_t n = seed != NULL ? next_piece(seed) : len - off;
        if (n > len - off) {
            n = len - off;
        }
        ssize_t rc = xml_stream_feed(s, buf + off, n);
        if (rc < 0) {
            o->consumed = -1;
            break;
        }
        o->consumed += rc;
        if ((size_t)rc < n || (stop_at != 0 && o->r.elements >= stop_at)) {
            break; /* stopped (possibly right at the end of this piece) */
        }
        off += n;
    }
    xml_stream_free(s);
}

/* expat, at once (chunk 0) or in pieces of chunk bytes. */
static void run_ref(struct outcome *o, const struct xml_limits *lim, const char *buf, size_t len,
                    unsigned stop_at, size_t chunk)
{
    recorder_init(&o->r);
    o->r.stop_at_element = stop_at;
    struct xml_ref_stream *s = xml_ref_new(lim, &recorder_cb, &o->r);
    if (s == NULL) {
        abort();
    }
    o->consumed = 0;
    size_t off = 0;
    while (off < len) {
        size_t n = chunk == 0 || chunk > len - off ? len - off : chunk;
        ssize_t rc = xml_ref_feed(s, buf + off, n);
        if (rc < 0) {
            o->consumed = -1;
            break;
        }
        o->consumed += rc;
        if ((size_t)rc < n || (stop_at != 0 && o->r.elements >= stop_at)) {
            break;
        }
        off += n;
    }
    xml_ref_free(s);
}

/* Length of the log before its error line; *cond gets the condition line
 * ("" if none). */
static size_t events_before_error(const char *log, const char **cond)
{
    const char *e = strstr(log, "error ");
    while (e != NULL && e != log && e[-1] != '\n') {
        e = strstr(e + 1, "error ");
    }
    if (e == NULL) {
        *cond = "";
        return strlen(log);
    }
    *cond = e + 6;
    return (size_t)(e - log);
}

static const char nwf[] = "not-well-formed\n";
static const char rxml[] = "restricted-xml\n";

/* Given bytes that end any kind of token, does ours (or expat) refuse the
 * input as not-well-formed (or, with rxml_too, as restricted-xml)? */
static bool completion_refused_as(const struct xml_limits *lim, const char *buf, size_t len,
                                  bool expat, bool rxml_too)
{
    static const char tail[] = ";'\">?>-->]]>\"'>";
    char *b = malloc(len + sizeof(tail));
    if (b == NULL) {
        abort();
    }
    memcpy(b, buf, len);
    memcpy(b + len, tail, sizeof(tail) - 1);
    struct outcome o;
    if (expat) {
        run_ref(&o, lim, b, len + sizeof(tail) - 1, 0, 0);
    } else {
        run_ours(&o, lim, b, len + sizeof(tail) - 1, 0, NULL);
    }
    const char *c;
    events_before_error(o.r.log, &c);
    bool ok = strcmp(c, nwf) == 0 || (rxml_too && strcmp(c, rxml) == 0);
    recorder_free(&o.r);
    free(b);
    return ok;
}

static bool completion_refused(const struct xml_limits *lim, const char *buf, size_t len,
                               bool expat)
{
    return completion_refused_as(lim, buf, len, expat, false);
}

/* The DOCTYPE difference (xml_diff.h): before any event, ours refused with
 * condition ca, expat with cb or (cb empty) once the bytes end any token. */
static bool doctype_difference(const struct xml_limits *lim, const char *buf, size_t len,
                               const char *ca, const char *cb)
{
    if (memmem(buf, len, "<!DOCTYPE", 9) == NULL ||
        (strcmp(ca, nwf) != 0 && strcmp(ca, rxml) != 0)) {
        return false;
    }
    if (*cb == '\0') {
        return completion_refused_as(lim, buf, len, true, true);
    }
    return (strcmp(cb, nwf) == 0 || strcmp(cb, rxml) == 0) && strcmp(ca, cb) != 0;
}

/* Does expat, given the bytes one at a time, report cond? */
static bool expat_split_agrees(const struct xml_limits *lim, const char *buf, size_t len,
                               const char *cond)
{
    struct outcome o;
    run_ref(&o, lim, buf, len, 0, 1);
    const char *c;
    events_before_error(o.r.log, &c);
    bool ok = strcmp(c, cond) == 0;
    recorder_free(&o.r);
    return ok;
}

/* The input with every valid UTF-8 character from U+0100 up replaced by
 * U+00E9 (a letter in the name tables of both editions of XML 1.0), or
 * NULL if there is none. */
static char *plain_letters(const char *buf, size_t len, size_t *outlen)
{
    char *out = malloc(len + 1);
    if (out == NULL) {
        abort();
    }
    size_t o = 0;
    bool changed = false;
    const unsigned char *p = (const unsigned char *)buf;
    for (size_t i = 0; i < len;) {
        unsigned char c = p[i];
        size_t l = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 ? 3 : c >= 0xC4 && c < 0xE0 ? 2 : 0;
        bool ok = l > 0 && c < 0xF5 && i + l <= len;
        for (size_t k = 1; ok && k < l; k++) {
            ok = (p[i + k] & 0xC0) == 0x80;
        }
        if (ok && l == 3) {
            unsigned v = ((c & 0x0Fu) << 12) | ((p[i + 1] & 0x3Fu) << 6) | (p[i + 2] & 0x3Fu);
            ok = v >= 0x800 && (v < 0xD800 || v > 0xDFFF) && v < 0xFFFE;
        } else if (ok && l == 4) {
            ok = (c != 0xF0 || p[i + 1] >= 0x90) && (c != 0xF4 || p[i + 1] < 0x90);
        }
        if (ok) {
            out[o++] = (char)0xC3;
            out[o++] = (char)0xA9;
            i += l;
            changed = true;
        } else {
            out[o++] = (char)c;
            i++;
        }
    }
    if (!changed) {
        free(out);
        return NULL;
    }
    *outlen = o;
    return out;
}

static char *describe(const char *buf, size_t len, const struct outcome *a, const char *a_name,
                      const struct outcome *b, const char *b_name)
{
    size_t cap = 4 * len + strlen(a->r.log) + strlen(b->r.log) + 256;
    char *out = malloc(cap);
    if (out == NULL) {
        abort();
    }
    size_t o = (size_t)snprintf(out, cap, "input (%zu bytes): ", len);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)buf[i];
        if (c >= 0x20 && c < 0x7f && c != '\\') {
            out[o++] = (char)c;
        } else {
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
        }
    }
    snprintf(out + o, cap - o, "\n%s (consumed %ld):\n%s%s (consumed %ld):\n%s", a_name,
             a->consumed, a->r.log, b_name, b->consumed, b->r.log);
    return out;
}

enum xml_diff_verdict xml_diff_compare(const struct xml_limits *lim, const char *buf, size_t len,
                                       unsigned stop_at, uint32_t seed, char **logs)
{
    struct outcome ours, pieces, ref;
    run_ours(&ours, lim, buf, len, stop_at, NULL);
    run_ours(&pieces, lim, buf, len, stop_at, &seed);
    run_ref(&ref, lim, buf, len, stop_at, 0);
    enum xml_diff_verdict v;
    const struct outcome *other = &ref;
    if (strcmp(ours.r.log, pieces.r.log) != 0 || ours.consumed != pieces.consumed) {
        v = XML_DIFF_FAIL_SPLIT;
        other = &pieces;
    } else if (strcmp(ours.r.log, ref.r.log) == 0 && ours.consumed == ref.consumed) {
        v = XML_DIFF_SAME;
    } else {
        const char *ca, *cb;
        size_t la = events_before_error(ours.r.log, &ca);
        size_t lb = events_before_error(ref.r.log, &cb);
        bool same_prefix = la == lb && memcmp(ours.r.log, ref.r.log, la) == 0;
        if (same_prefix && *ca == '\0' && strcmp(cb, nwf) == 0 &&
            completion_refused(lim, buf, len, false)) {
            v = XML_DIFF_TRUNCATED;
        } else if (same_prefix && *cb == '\0' && strcmp(ca, nwf) == 0 &&
                   completion_refused(lim, buf, len, true)) {
            v = XML_DIFF_TRUNCATED;
        } else if (same_prefix && *ca != '\0' && *cb != '\0' &&
                   expat_split_agrees(lim, buf, len, ca)) {
            v = XML_DIFF_SPLIT;
        } else if (same_prefix && la == 0 && doctype_difference(lim, buf, len, ca, cb)) {
            v = XML_DIFF_DOCTYPE;
        } else {
            v = XML_DIFF_FAIL;
            size_t plen;
            char *plain = strcmp(cb, nwf) == 0 ? plain_letters(buf, len, &plen) : NULL;
            if (plain != NULL) {
                enum xml_diff_verdict pv = xml_diff_compare(lim, plain, plen, stop_at, seed, NULL);
                if (pv != XML_DIFF_FAIL && pv != XML_DIFF_FAIL_SPLIT) {
                    v = XML_DIFF_NAMES;
                }
                free(plain);
            }
        }
    }
    if (logs != NULL) {
        *logs = v == XML_DIFF_SAME ? NULL
                                   : describe(buf, len, &ours, "ours", other,
                                              other == &pieces ? "ours in pieces" : "expat");
    }
    recorder_free(&ours.r);
    recorder_free(&pieces.r);
    recorder_free(&ref.r);
    return v;
}
