/*
 * gw_pidf.h - PIDF (RFC 3863) with the data model and RPID extensions
 * (RFC 4479, RFC 4480): a strict, bounded parser for untrusted documents,
 * a builder, and the mapping to and from XMPP presence (RFC 8048 section
 * 6, INTERWORKING.md sections 2.4, 2.5 and 4.2).
 *
 * Parsing (gw_pidf_parse): expat, namespace-aware. A DOCTYPE, any entity
 * declaration or an encoding other than UTF-8 refuses the document (no
 * entity is ever expanded); every cap of struct gw_pidf_limits is enforced
 * while parsing. The root must be {urn:ietf:params:xml:ns:pidf}presence with
 * an entity. Kept: every tuple (id, basic, a jabber:client <show/> in the
 * status, RPID activities, contact and its priority, the first note and
 * its xml:lang), every dm:person (RPID activities, first note) and the
 * first presence-level note. Unknown elements are ignored; an unknown
 * element marked mustUnderstand is skipped with all its content (RFC 3863
 * section 4.2.3). This file and common/xml_stream.c are the only users of
 * expat: PIDF documents are whole documents, not XMPP streams.
 *
 * Mapping SIP -> XMPP (gw_pidf_to_presence), the gateway's documented
 * aggregation of a multi-tuple document such as Kamailio's presence_xml
 * produces:
 *   available   iff some tuple's basic is open (RFC 8048 section 6.3, MUST)
 *   chosen      the open tuple of highest contact priority (first wins a
 *               tie); without an open tuple, the first tuple
 *   show        the chosen tuple's jabber:client show if any; else from
 *               RPID activities of the chosen tuple and of every person:
 *               busy, on-the-phone, meeting, appointment, presentation,
 *               performance -> dnd; vacation, holiday -> xa; away,
 *               permanent-absence -> away (that order of precedence);
 *               else none. Unavailable presence has no show.
 *   status      the chosen tuple's note, else a person's note, else the
 *               document's note, with its xml:lang
 *   priority    the chosen tuple's contact priority q -> round(q * 127)
 *
 * Mapping XMPP -> SIP (gw_pidf_build): one tuple per XMPP resource, id
 * "ID-<resource>" (gw_addr_tuple_id), basic open/closed (MUST), show
 * inside <status> as {jabber:client}show, contact = the sip: URI with the
 * resource as gr and priority p -> floor(p * 1000 / 127) / 1000 (negative
 * priorities are not mapped, RFC 8048 section 6.2), status -> <note
 * xml:lang>; and one dm:person with the RPID activity of the most
 * available resource: away and xa -> away, dnd -> busy.
 *
 * Nothing here blocks or logs.
 */
#ifndef XFED_GW_PIDF_H
#define XFED_GW_PIDF_H

#include <stdbool.h>
#include <stddef.h>

#include "gw_address.h"

#define GW_PIDF_MAX_BYTES_DEFAULT    65536
#define GW_PIDF_MAX_DEPTH_DEFAULT    16
#define GW_PIDF_MAX_TUPLES_DEFAULT   32
#define GW_PIDF_MAX_PERSONS_DEFAULT  8
#define GW_PIDF_MAX_ELEMENTS_DEFAULT 2048
#define GW_PIDF_NOTE_MAX             1024 /* bytes of a note / status kept */
#define GW_PIDF_TEXT_MAX_DEFAULT     4096 /* bytes of character data in one element */

/* Caps; 0 means the default. max_tuples and max_persons are also capped
 * by the compile-time array sizes below. */
struct gw_pidf_limits {
    size_t max_bytes;
    unsigned max_depth;
    unsigned max_tuples;
    unsigned max_persons;
    unsigned max_elements;
    size_t max_text;
};

enum gw_basic { GW_BASIC_NONE = 0, GW_BASIC_OPEN, GW_BASIC_CLOSED };

/* XMPP <show/> values (RFC 6121 section 4.7.2.1); NONE = plain available. */
enum gw_show { GW_SHOW_NONE = 0, GW_SHOW_CHAT, GW_SHOW_AWAY, GW_SHOW_XA, GW_SHOW_DND };

/* "chat", "away", "xa", "dnd"; "" for NONE. */
const char *gw_show_name(enum gw_show);
/* Parses a show value; -1 if it is none of the four words. */
int gw_show_parse(const char *s, enum gw_show *out);

/* RPID activities (RFC 4480 section 3.2) as bits. */
enum gw_rpid_activity {
    GW_RPID_APPOINTMENT = 0,
    GW_RPID_AWAY,
    GW_RPID_BREAKFAST,
    GW_RPID_BUSY,
    GW_RPID_DINNER,
    GW_RPID_HOLIDAY,
    GW_RPID_IN_TRANSIT,
    GW_RPID_LOOKING_FOR_WORK,
    GW_RPID_LUNCH,
    GW_RPID_MEAL,
    GW_RPID_MEETING,
    GW_RPID_ON_THE_PHONE,
    GW_RPID_OTHER,
    GW_RPID_PERFORMANCE,
    GW_RPID_PERMANENT_ABSENCE,
    GW_RPID_PLAYING,
    GW_RPID_PRESENTATION,
    GW_RPID_SHOPPING,
    GW_RPID_SLEEPING,
    GW_RPID_SPECTATOR,
    GW_RPID_STEERING,
    GW_RPID_TRAVEL,
    GW_RPID_TV,
    GW_RPID_UNKNOWN,
    GW_RPID_VACATION,
    GW_RPID_WORKING,
    GW_RPID_WORSHIP,
    GW_RPID_COUNT
};
#define GW_RPID_BIT(a) (1u << (a))

#define GW_PIDF_TUPLES_MAX  64
#define GW_PIDF_PERSONS_MAX 16

struct gw_pidf_tuple {
    char id[128];
    enum gw_basic basic;
    bool has_show;
    enum gw_show show;   /* {jabber:client}show inside <status> */
    unsigned activities; /* RPID activities found inside the tuple */
    char contact[512];
    int priority_milli; /* contact priority x 1000, -1 if absent or invalid */
    char note[GW_PIDF_NOTE_MAX];
    char note_lang[64];
};

struct gw_pidf_person {
    char id[128];
    unsigned activities;
    char note[GW_PIDF_NOTE_MAX];
    char note_lang[64];
};

struct gw_pidf {
    char entity[512];
    struct gw_pidf_tuple tuples[GW_PIDF_TUPLES_MAX];
    size_t n_tuples;
    struct gw_pidf_person persons[GW_PIDF_PERSONS_MAX];
    size_t n_persons;
    char note[GW_PIDF_NOTE_MAX];
    char note_lang[64];
};

/*
 * Parses len bytes. Returns a new document (free with gw_pidf_free), or
 * NULL with *why (if not NULL) set to a static reason: "doctype refused",
 * "entity refused", "encoding not UTF-8", "not well-formed", "too large",
 * "too deep", "too many tuples", "too many elements", "text too long",
 * "not a PIDF document", "no entity", "out of memory".
 */
struct gw_pidf *gw_pidf_parse(const char *buf, size_t len, const struct gw_pidf_limits *lim,
                              const char **why);
void gw_pidf_free(struct gw_pidf *);

/* One XMPP presence as the gateway carries it. */
struct gw_presence {
    bool available; /* false: type='unavailable' */
    enum gw_show show;
    bool has_priority;
    int priority;                        /* -128..127 */
    char status[GW_PIDF_NOTE_MAX];       /* "" for none */
    char lang[64];                       /* xml:lang of the status, "" for none */
    char resource[GW_ADDR_PART_MAX + 1]; /* "" for none (builder input only) */
};

/* SIP -> XMPP as described above. include_status false drops the status
 * text (status notes only go to Federated partners, gw_policy.h). Never
 * fails; a document without tuples gives unavailable. */
void gw_pidf_to_presence(const struct gw_pidf *doc, bool include_status, struct gw_presence *out);

/* qvalue (x1000) <-> XMPP priority per INTERWORKING.md section 2.4. */
int gw_pidf_priority_from_milli(int milli);
int gw_pidf_priority_to_milli(int priority); /* -1 for a negative priority */

/*
 * XMPP -> SIP: a PIDF document for the XMPP user bare_jid with one tuple
 * per element of res (n may be 0: one closed tuple). include_status false
 * leaves out every note. Returns a malloc'd NUL-terminated document (its
 * length in *len if not NULL), or NULL when bare_jid does not map to a SIP
 * URI or allocation fails.
 */
char *gw_pidf_build(const char *bare_jid, const struct gw_presence *res, size_t n,
                    bool include_status, size_t *len);

#endif
