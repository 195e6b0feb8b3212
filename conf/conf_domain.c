/*
 * conf_domain.c - domain name validation and normalisation with libidn2
 * (IDNA2008, RFC 5891, with the UTS #46 non-transitional mapping so that
 * upper case and full-width input map to the one stored form).
 */
#include "conf_domain.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdbool.h>
#include <idn2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* RFC 1035 section 2.3.4 / RFC 7622 section 3.2: limits in A-label form. */
#define DOMAIN_MAX_OCTETS 253
#define LABEL_MAX_OCTETS  63

static int check_ascii_form(const char *a, const char **why)
{
    size_t len = strlen(a);
    if (len == 0) {
        *why = "is empty";
        return -1;
    }
    if (len > DOMAIN_MAX_OCTETS) {
        *why = "is longer than 253 octets";
        return -1;
    }
    size_t labels = 0;
    const char *p = a;
    for (;;) {
        const char *dot = strchr(p, '.');
        size_t l = dot ? (size_t)(dot - p) : strlen(p);
        if (l == 0) {
            *why = "has an empty label";
            return -1;
        }
        if (l > LABEL_MAX_OCTETS) {
            *why = "has a label longer than 63 octets";
            return -1;
        }
        for (size_t i = 0; i < l; i++) {
            unsigned char c = (unsigned char)p[i];
            if (!(isalnum(c) || c == '-')) {
                *why = "contains a character not allowed in a domain name";
                return -1;
            }
        }
        if (p[0] == '-' || p[l - 1] == '-') {
            *why = "has a label that starts or ends with a hyphen";
            return -1;
        }
        labels++;
        if (dot == NULL)
            break;
        p = dot + 1;
    }
    if (labels < 2) {
        *why = "must have at least two labels (e.g. example.com)";
        return -1;
    }
    /* The last label names a top-level domain: never all digits, which
     * also keeps IPv4 literals out. */
    bool digits = true;
    for (const char *q = p; *q; q++)
        if (!isdigit((unsigned char)*q))
            digits = false;
    if (digits) {
        *why = "is an address, not a domain name";
        return -1;
    }
    return 0;
}

static int normalize(const char *in, char *out, size_t outlen, const char **why, bool single_ok)
{
    char tmp[CONF_DOMAIN_BUFSZ];
    size_t len = strlen(in);

    if (len == 0) {
        *why = "is empty";
        return -1;
    }
    if (len >= sizeof(tmp)) {
        *why = "is longer than 253 octets";
        return -1;
    }
    if (strchr(in, '*')) {
        *why = "contains a wildcard";
        return -1;
    }
    if (strchr(in, ':') || strchr(in, '[')) {
        *why = "contains a port or address (use the static route for that)";
        return -1;
    }
    for (const char *p = in; *p; p++) {
        if ((unsigned char)*p <= 0x20 || *p == '/' || *p == '@' || *p == '\\') {
            *why = "contains a character not allowed in a domain name";
            return -1;
        }
    }
    memcpy(tmp, in, len + 1);
    if (tmp[len - 1] == '.') /* RFC 7622 section 3.2: a trailing dot is dropped */
        tmp[--len] = '\0';
    if (len == 0) {
        *why = "is empty";
        return -1;
    }

    /* Plain ASCII input gets the precise reason before IDNA's generic one. */
    bool plain = true;
    for (const char *p = tmp; *p; p++)
        if ((unsigned char)*p >= 0x80)
            plain = false;
    if (plain && !single_ok) {
        char lower[CONF_DOMAIN_BUFSZ];
        for (size_t i = 0; i <= len; i++)
            lower[i] = (char)tolower((unsigned char)tmp[i]);
        if (check_ascii_form(lower, why) == -1)
            return -1;
    }

    char *ascii = NULL, *uni = NULL;
    int rc = idn2_lookup_u8((const uint8_t *)tmp, (uint8_t **)&ascii,
                            IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
    if (rc != IDN2_OK) {
        *why = "is not a valid internationalised domain name (IDNA2008)";
        return -1;
    }
    for (char *p = ascii; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    if (single_ok && strchr(ascii, '.') == NULL) {
        if (strlen(ascii) > LABEL_MAX_OCTETS) {
            idn2_free(ascii);
            *why = "has a label longer than 63 octets";
            return -1;
        }
    } else if (check_ascii_form(ascii, why) == -1) {
        idn2_free(ascii);
        return -1;
    }
    rc = idn2_to_unicode_8z8z(ascii, &uni, 0);
    idn2_free(ascii);
    if (rc != IDN2_OK) {
        *why = "is not a valid internationalised domain name (IDNA2008)";
        return -1;
    }
    if (strlen(uni) >= outlen) {
        idn2_free(uni);
        *why = "is too long";
        return -1;
    }
    strcpy(out, uni);
    idn2_free(uni);
    return 0;
}

int conf_domain_normalize(const char *in, char *out, size_t outlen, const char **why)
{
    return normalize(in, out, outlen, why, false);
}

int conf_domain_to_ascii(const char *domain, char *out, size_t outlen)
{
    char *ascii = NULL;
    if (idn2_lookup_u8((const uint8_t *)domain, (uint8_t **)&ascii,
                       IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL) != IDN2_OK)
        return -1;
    if (strlen(ascii) >= outlen) {
        idn2_free(ascii);
        return -1;
    }
    strcpy(out, ascii);
    idn2_free(ascii);
    return 0;
}

static int parse_port(const char *s, unsigned *port, const char **why)
{
    char *end;
    if (*s < '0' || *s > '9') {
        *why = "has an invalid port";
        return -1;
    }
    unsigned long v = strtoul(s, &end, 10);
    if (*end != '\0' || v < 1 || v > 65535) {
        *why = "has a port outside 1..65535";
        return -1;
    }
    *port = (unsigned)v;
    return 0;
}

int conf_hostport_parse(const char *in, char *host, size_t hostlen, unsigned *port,
                        const char **why)
{
    char buf[CONF_DOMAIN_BUFSZ];
    struct in6_addr a6;
    struct in_addr a4;

    *port = 0;
    if (strlen(in) >= sizeof(buf)) {
        *why = "is too long";
        return -1;
    }
    strcpy(buf, in);
    if (buf[0] == '[') { /* [v6] or [v6]:port */
        char *close = strchr(buf, ']');
        if (close == NULL) {
            *why = "has an unterminated IPv6 literal";
            return -1;
        }
        *close = '\0';
        if (inet_pton(AF_INET6, buf + 1, &a6) != 1) {
            *why = "has an invalid IPv6 address";
            return -1;
        }
        if (close[1] == ':') {
            if (parse_port(close + 2, port, why) == -1)
                return -1;
        } else if (close[1] != '\0') {
            *why = "has trailing characters after the IPv6 literal";
            return -1;
        }
        if (strlen(buf + 1) >= hostlen) {
            *why = "is too long";
            return -1;
        }
        strcpy(host, buf + 1);
        return 0;
    }
    char *colon = strchr(buf, ':');
    if (colon) {
        if (strchr(colon + 1, ':')) {
            *why = "has an IPv6 address without brackets ([addr]:port)";
            return -1;
        }
        *colon = '\0';
        if (parse_port(colon + 1, port, why) == -1)
            return -1;
    }
    if (inet_pton(AF_INET, buf, &a4) == 1) {
        if (strlen(buf) >= hostlen) {
            *why = "is too long";
            return -1;
        }
        strcpy(host, buf);
        return 0;
    }
    return normalize(buf, host, hostlen, why, true);
}
