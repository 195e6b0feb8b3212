/*
 * xml_test_util.h - shared helpers of the common/ XML tests: an event
 * recorder that turns xml_stream events into one text line each (the
 * golden-file format), and file reading.
 *
 * Golden line format:
 *   header to=<v> from=<v> id=<v> version=<v> lang=<v> ns=<v> prefixed=<0|1> db=<0|1>
 *   element <stanza_serialize() output>
 *   close
 *   error <condition>
 * where absent values are "-" and, inside values, '\' and newline are
 * written as "\\" and "\n".
 */
#ifndef XFED_TEST_XML_TEST_UTIL_H
#define XFED_TEST_XML_TEST_UTIL_H

#include <stdbool.h>
#include <stddef.h>

#include "xml_stream.h"

struct recorder {
    char *log; /* malloc'd, NUL-terminated event lines */
    size_t len;
    size_t cap;
    unsigned headers, elements, closes, errors;
    enum xml_stream_error err;
    /* when non-zero, the element callback returns -1 at this element (1-based) */
    unsigned stop_at_element;
};

/* Callbacks that append to the recorder passed as arg. */
extern const struct xml_stream_cb recorder_cb;

void recorder_init(struct recorder *r);
void recorder_free(struct recorder *r);

/* Feeds buf in chunks of `chunk` bytes (0: all at once) to a new stream
 * with limits lim (NULL: defaults), recording events into r. Returns the
 * number of bytes consumed in total, or -1 if a feed failed. */
long recorder_run(struct recorder *r, const struct xml_limits *lim, const void *buf, size_t len,
                  size_t chunk);

/* Reads a whole file; NULL if it cannot be read. *len gets its size. */
char *read_file(const char *path, size_t *len);

#endif
