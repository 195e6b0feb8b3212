/*
 * metrics_catalog.h - every metric family that xfed's processes export,
 * with its type, labels and help text, in one table; docs/metrics.md
 * describes the same list (a unit test keeps the two equal).
 *
 * A daemon defines its families once at start-up, right after
 * metrics_new(), and then looks up its series by name:
 *
 *     struct metrics *reg = metrics_new("xfed-edge", NULL);
 *     metrics_define_catalog(reg, METRICS_ROLE_EDGE);
 *
 * A family added here must be added to docs/metrics.md too.
 */
#ifndef XFED_METRICS_CATALOG_H
#define XFED_METRICS_CATALOG_H

#include "metrics.h"

enum metrics_role {
    METRICS_ROLE_EDGE = 0x1u,
    METRICS_ROLE_GATEWAY = 0x2u,
    METRICS_ROLE_PANEL = 0x4u,
};

struct metrics_def {
    const char *name;
    enum metric_type type;
    unsigned roles;                             /* enum metrics_role bits */
    const char *labels[METRICS_MAX_LABELS + 1]; /* NULL-terminated */
    const char *help;
};

/* The table; the entry after the last has name NULL. */
extern const struct metrics_def metrics_catalog[];

/* Defines every family of the catalogue whose roles intersect roles.
 * Returns 0, or -1 (errno from metrics_define(); logged). */
int metrics_define_catalog(struct metrics *, unsigned roles);

#endif
