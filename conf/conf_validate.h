/*
 * conf_validate.h - the one place that decides whether configuration is
 * acceptable. xfedctl, xfed-panel and every daemon call these functions;
 * there is no second copy of any rule.
 */
#ifndef XFED_CONF_VALIDATE_H
#define XFED_CONF_VALIDATE_H

#include "conf_model.h"
#include "conf_report.h"

enum conf_outcome {
    CONF_SAVED = 0,     /* accepted */
    CONF_SAVED_WARNING, /* accepted, with a warning to show */
    CONF_REJECTED,      /* nothing may be saved */
};

struct conf_matrix_verdict {
    enum conf_outcome outcome;
    int row;             /* 1..18, as in the Lync 2013 negotiation matrix */
    const char *message; /* stable text; "" when saved without warning */
};

/* The negotiation matrix of DESIGN.md section 2: exactly one outcome for
 * each of the 18 TLS x SASL x dialback combinations. */
struct conf_matrix_verdict conf_matrix_check(enum conf_negotiation tls, enum conf_negotiation sasl,
                                             bool dialback);

/* Validates one partner record as it would be saved into conf: the matrix,
 * its domains (conf_domain.h), uniqueness of every domain across all other
 * partners (case-insensitive; the partner whose primary domain is
 * `replacing` is ignored, NULL for a new partner), no hosted domain, the
 * description, connection limit and static route. Appends every problem to
 * report and returns the outcome: CONF_REJECTED when any error was found,
 * CONF_SAVED_WARNING when only warnings. */
enum conf_outcome conf_partner_validate(const struct conf *conf, const struct conf_partner *p,
                                        const char *replacing, struct conf_report *report);

/* Validates a whole configuration (settings ranges and relations, hosted
 * domains, access rules, every partner and their mutual uniqueness).
 * Returns the outcome as above. */
enum conf_outcome conf_validate(const struct conf *conf, struct conf_report *report);

#endif
