/*
 * xml_diff.h - runs the XMPP stream parser (common/xml_stream.c) and the
 * expat-based parser it replaced (xml_stream_expat.c) on the same bytes and
 * judges the difference. Shared by the differential unit test and the
 * differential fuzz target.
 *
 * Verdicts:
 *   SAME         the same events, error condition and bytes consumed (ours
 *                fed at once; ours fed in random pieces must match too);
 *   TRUNCATED    the input ends inside a token that one parser refuses
 *                before its end and the other only when its end arrives:
 *                given bytes that end any token, the one that waited
 *                reports not-well-formed as well;
 *   SPLIT        several faults close together: the same events before the
 *                error, and expat fed the same bytes one at a time reports
 *                our condition (its verdict depends on the split there);
 *   NAMES        expat refused a name with a character outside ASCII that
 *                ours accepts: its tables are those of XML 1.0 fourth
 *                edition, ours the fifth edition's ranges (a superset). With
 *                every character from U+0100 up replaced by U+00E9 the two
 *                agree (the replacement is only tried when expat's verdict
 *                was not-well-formed, so it cannot hide ours refusing
 *                good input);
 *   DOCTYPE      the input has a DOCTYPE and, before any event, one parser
 *                refused it as restricted-xml, the other as not-well-formed
 *                (or expat waits inside a token and refuses it either way
 *                once given bytes that end any token):
 *                ours refuses every DOCTYPE once its name and the next
 *                delimiter are read (the name's characters checked), expat
 *                only after the whole external identifier (a malformed
 *                SYSTEM or PUBLIC literal: not-well-formed), and expat calls
 *                any "<?xml" token a misplaced PI (restricted-xml) even where
 *                the DOCTYPE's name should be. Both refuse the stream before
 *                any element; only the condition differs;
 *   FAIL_SPLIT   ours gives different events at once and in pieces;
 *   FAIL         any other difference.
 */
#ifndef XFED_TEST_XML_DIFF_H
#define XFED_TEST_XML_DIFF_H

#include <stddef.h>
#include <stdint.h>

#include "xml_stream.h"

enum xml_diff_verdict {
    XML_DIFF_SAME,
    XML_DIFF_TRUNCATED,
    XML_DIFF_SPLIT,
    XML_DIFF_NAMES,
    XML_DIFF_DOCTYPE,
    XML_DIFF_FAIL_SPLIT,
    XML_DIFF_FAIL,
};

/* Compares the parsers on buf[0..len) with limits lim (NULL: defaults);
 * stop_at > 0 makes the element callback stop at that element; seed draws
 * the sizes of the pieces (1 to 17 bytes). When logs is not NULL and the
 * verdict is not SAME, *logs gets a malloc'd description of both outcomes. */
enum xml_diff_verdict xml_diff_compare(const struct xml_limits *lim, const char *buf, size_t len,
                                       unsigned stop_at, uint32_t seed, char **logs);

#endif
