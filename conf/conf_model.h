/*
 * conf_model.h - the partner configuration model (DESIGN.md section 2).
 *
 * One struct conf is the whole replicated configuration of a deployment:
 * global settings, hosted (internal) domains, the per-user XMPP access
 * policy and the XMPP federated partners. It is plain data: nothing here does
 * I/O or validation (conf_validate.h decides, conf_file.h reads and writes,
 * conf_store.h owns the directory). Every string in it is owned by it and
 * freed by conf_free(). Domain names are stored in their one normalised form
 * (conf_domain.h): lower case, NFC, U-labels (RFC 7622 section 3.2).
 */
#ifndef XFED_CONF_MODEL_H
#define XFED_CONF_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum conf_partner_type {
    PARTNER_FEDERATED = 0,
    PARTNER_PUBLIC_VERIFIED,
    PARTNER_PUBLIC_UNVERIFIED,
};

/* Order matters: the matrix row number is derived from it (conf_validate.c). */
enum conf_negotiation {
    NEG_REQUIRED = 0,
    NEG_OPTIONAL,
    NEG_NOT_SUPPORTED,
};

enum conf_access {
    ACCESS_ALLOW = 0,
    ACCESS_DENY,
};

/* A growable list of owned strings. */
struct conf_strlist {
    char **v;
    size_t n;
};

struct conf_partner {
    char *domain;                   /* primary domain (identity), required */
    char *description;              /* free text, never NULL ("" when empty) */
    struct conf_strlist additional; /* additional domains */
    enum conf_partner_type type;    /* default PublicUnverified */
    enum conf_negotiation tls;      /* default Required */
    enum conf_negotiation sasl;     /* default Required */
    bool dialback;                  /* default true */
    unsigned connection_limit;      /* 0: use settings.max_connections_per_partner */
    bool keepalive;                 /* default true */
    char *proxy_host;               /* static route; NULL: use DNS SRV */
    uint16_t proxy_port;            /* 0: default s2s port 5269 */
    int line;                       /* line in the file it was read from; 0 otherwise */
};

/* Global settings, as Set-CsXmppGatewayConfiguration. The table in
 * conf_settings.c lists each key with its type, default and range; this
 * struct is what programs read. Durations are in seconds. */
struct conf_settings {
    unsigned max_connections;             /* total, default 1000 */
    unsigned max_connections_per_partner; /* default 20 */
    char *dialback_secret;                /* XEP-0185 secret; NULL until set */
    bool log_message_bodies;              /* default false */
    unsigned keepalive_interval;          /* default 300 */
    unsigned establish_timeout;           /* default 60 */
    unsigned inactivity_timeout;          /* default 600 */
    unsigned subscription_refresh;        /* default 28800 */
};

/* One override of the access policy: for a hosted domain or a user
 * (localpart@hosted-domain). */
struct conf_access_rule {
    char *subject;
    enum conf_access access;
};

struct conf_access_policy {
    enum conf_access default_access; /* default allow */
    struct conf_access_rule *domains;
    size_t n_domains;
    struct conf_access_rule *users;
    size_t n_users;
};

struct conf {
    uint64_t version; /* bumped by every store write; 0: never written */
    struct conf_settings settings;
    struct conf_strlist hosted;
    struct conf_access_policy access;
    struct conf_partner *partners;
    size_t n_partners;
};

/* Returns a configuration holding every default and no partner, or NULL on
 * memory exhaustion. */
struct conf *conf_new(void);
void conf_free(struct conf *);

/* Deep copy; NULL on memory exhaustion. */
struct conf *conf_dup(const struct conf *);

/* Fills p with the defaults of DESIGN.md section 2 and the given domain
 * (copied as is; validate it first). Returns 0, -1 on memory exhaustion. */
int conf_partner_init(struct conf_partner *p, const char *domain);
void conf_partner_clear(struct conf_partner *p);
int conf_partner_copy(struct conf_partner *dst, const struct conf_partner *src);

/* Finds a partner whose primary or additional domain equals domain
 * (already normalised). Returns its index or -1. */
ssize_t conf_partner_find(const struct conf *, const char *domain);
/* Finds by primary domain only. */
ssize_t conf_partner_index(const struct conf *, const char *domain);

/* Appends a copy of p; returns 0 or -1 (memory). */
int conf_partner_add(struct conf *, const struct conf_partner *p);
/* Replaces the partner at index i with a copy of p. */
int conf_partner_replace(struct conf *, size_t i, const struct conf_partner *p);
void conf_partner_remove(struct conf *, size_t i);

/* Effective access of a user "local@domain": the user override, else the
 * domain override, else the default. */
enum conf_access conf_access_for(const struct conf *, const char *user);

/* Effective connection limit of a partner. */
unsigned conf_partner_limit(const struct conf *, const struct conf_partner *);

/* String lists. */
int conf_strlist_add(struct conf_strlist *, const char *s);
bool conf_strlist_has(const struct conf_strlist *, const char *s);
bool conf_strlist_remove(struct conf_strlist *, const char *s);
void conf_strlist_clear(struct conf_strlist *);

/* Enumerations <-> the words of the Lync cmdlets. Parsing ignores case and
 * returns 0 or -1. Names are static strings. */
const char *conf_partner_type_name(enum conf_partner_type);
int conf_partner_type_parse(const char *s, enum conf_partner_type *out);
const char *conf_negotiation_name(enum conf_negotiation);
int conf_negotiation_parse(const char *s, enum conf_negotiation *out);
const char *conf_access_name(enum conf_access);
int conf_access_parse(const char *s, enum conf_access *out);
/* "true"/"false" (any case, also yes/no, on/off, 1/0). */
int conf_bool_parse(const char *s, bool *out);

#endif
