/*
 * xml_stream_expat.h - the expat-based XMPP stream parser that
 * common/xml_stream.c replaced, kept for the differential test only
 * (test_xml_stream_diff.c). Same semantics as xml_stream.h, functions
 * renamed xml_ref_*.
 */
#ifndef XFED_TEST_XML_STREAM_EXPAT_H
#define XFED_TEST_XML_STREAM_EXPAT_H

#include "xml_stream.h"

struct xml_ref_stream;

struct xml_ref_stream *xml_ref_new(const struct xml_limits *limits, const struct xml_stream_cb *cb,
                                   void *arg);
void xml_ref_free(struct xml_ref_stream *);
ssize_t xml_ref_feed(struct xml_ref_stream *, const void *buf, size_t len);
int xml_ref_reset(struct xml_ref_stream *);
enum xml_stream_error xml_ref_error(const struct xml_ref_stream *);
size_t xml_ref_offset(const struct xml_ref_stream *);

#endif
