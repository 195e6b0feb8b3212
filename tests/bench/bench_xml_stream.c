/*
 * bench_xml_stream.c - throughput of the XMPP stream parser and stanza
 * trees on one core: stanzas/s and MB/s for small (~200 byte) and 4 KB
 * message stanzas, parsed from 16 KB reads (a TLS record's worth), with and
 * without serialising each stanza again (the cost of forwarding it over
 * IPC).
 *
 * Usage: bench_xml_stream [--quick] [--seconds S]
 *   --quick     a short smoke pass (for ctest): checks that every stanza is
 *               seen and prints the figures, makes no claim about speed.
 * Exit status 0, or 1 if the parser lost, duplicated or refused a stanza.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "stanza.h"
#include "xml_stream.h"

#define READ_SIZE 16384

struct counter {
    unsigned long elements;
    unsigned long errors;
    size_t serialized_bytes;
    bool serialize;
    char buf[65536];
};

static int on_element(void *arg, struct stanza *el)
{
    struct counter *c = arg;
    c->elements++;
    if (c->serialize) {
        size_t n = stanza_serialize(el, c->buf, sizeof(c->buf));
        c->serialized_bytes += n;
    }
    return 0;
}

static void on_error(void *arg, enum xml_stream_error err, const char *condition, const char *text)
{
    struct counter *c = arg;
    (void)err;
    c->errors++;
    fprintf(stderr, "stream error %s: %s\n", condition, text);
}

static double now(clockid_t clk)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Appends one message stanza with a body of body_len bytes. */
static size_t make_message(char *out, size_t cap, unsigned long seq, size_t body_len)
{
    int n = snprintf(
        out, cap,
        "<message from='juliet@fabrikam.example/balcony' to='romeo@example.org' type='chat' "
        "id='m%08lu'><body>",
        seq);
    size_t off = (size_t)n;
    for (size_t i = 0; i < body_len && off < cap; i++) {
        out[off++] = (char)('a' + (i * 7 + seq) % 26);
    }
    n = snprintf(out + off, cap - off,
                 "</body><active xmlns='http://jabber.org/protocol/chatstates'/></message>");
    return off + (size_t)n;
}

static const char header[] =
    "<?xml version='1.0'?><stream:stream xmlns='jabber:server' "
    "xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' "
    "to='example.org' from='fabrikam.example' id='bench' version='1.0'>";

/* Builds a buffer of count stanzas (after the header). */
static char *make_stream(unsigned long count, size_t body_len, size_t *len, size_t *stanza_len)
{
    char one[8192];
    size_t sl = make_message(one, sizeof(one), 0, body_len);
    size_t cap = strlen(header) + count * (sl + 8) + 1;
    char *buf = malloc(cap);
    if (buf == NULL) {
        return NULL;
    }
    size_t off = strlen(header);
    memcpy(buf, header, off);
    for (unsigned long i = 0; i < count; i++) {
        off += make_message(buf + off, cap - off, i, body_len);
    }
    *len = off;
    *stanza_len = sl;
    return buf;
}

static int run(const char *label, size_t body_len, unsigned long count, double seconds,
               bool serialize)
{
    size_t len, stanza_len;
    char *buf = make_stream(count, body_len, &len, &stanza_len);
    if (buf == NULL) {
        fprintf(stderr, "out of memory\n");
        return -1;
    }
    struct counter *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        free(buf);
        return -1;
    }
    c->serialize = serialize;
    struct xml_stream_cb cb = {NULL, on_element, NULL, on_error};
    unsigned long rounds = 0, stanzas = 0;
    size_t bytes = 0;
    double w0 = now(CLOCK_MONOTONIC), c0 = now(CLOCK_PROCESS_CPUTIME_ID);
    double w1;
    do {
        /* One stream per round: parser creation is part of the cost but
         * amortised over `count` stanzas, as on a long-lived stream. */
        struct xml_stream *s = xml_stream_new(NULL, &cb, c);
        if (s == NULL) {
            fprintf(stderr, "out of memory\n");
            free(c);
            free(buf);
            return -1;
        }
        c->elements = 0;
        for (size_t off = 0; off < len; off += READ_SIZE) {
            size_t n = len - off < READ_SIZE ? len - off : READ_SIZE;
            if (xml_stream_feed(s, buf + off, n) != (ssize_t)n) {
                break;
            }
        }
        xml_stream_free(s);
        if (c->elements != count || c->errors != 0) {
            fprintf(stderr, "%s: %lu of %lu stanzas seen, %lu errors\n", label, c->elements, count,
                    c->errors);
            free(c);
            free(buf);
            return -1;
        }
        stanzas += count;
        bytes += len;
        rounds++;
        w1 = now(CLOCK_MONOTONIC);
    } while (w1 - w0 < seconds);
    double cpu = now(CLOCK_PROCESS_CPUTIME_ID) - c0;
    double wall = w1 - w0;
    printf("%-28s stanza=%5zu B  stanzas=%9lu  wall=%.2f s  cpu=%.2f s  "
           "%10.0f stanzas/s  %7.1f MB/s  (per CPU second: %.0f stanzas)\n",
           label, stanza_len, stanzas, wall, cpu, (double)stanzas / wall,
           (double)bytes / wall / 1e6, (double)stanzas / cpu);
    (void)rounds;
    free(c);
    free(buf);
    return 0;
}

int main(int argc, char **argv)
{
    double seconds = 3.0;
    unsigned long small_count = 100000, large_count = 10000;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            seconds = 0.0; /* one round */
            small_count = 20000;
            large_count = 2000;
        } else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
            seconds = atof(argv[++i]);
        } else {
            fprintf(stderr, "usage: %s [--quick] [--seconds S]\n", argv[0]);
            return 2;
        }
    }
    int rc = 0;
    rc |= run("small message, parse", 25, small_count, seconds, false);
    rc |= run("small message, parse+ser", 25, small_count, seconds, true);
    rc |= run("4 KB message, parse", 3900, large_count, seconds, false);
    rc |= run("4 KB message, parse+ser", 3900, large_count, seconds, true);
    return rc == 0 ? 0 : 1;
}
