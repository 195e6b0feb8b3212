/*
 * gw_confpush.h - what a gateway does with a configuration an edge pushes
 * (IPC CONFIG_PUSH; issue #6 "configuration with several gateways").
 *
 * One host holds the authoritative store; its gateway (config_from = store)
 * pushes every new version to the edges, and the edges push the version
 * they run to every gateway that connects. A gateway without a store
 * (config_from = edges) takes a newer version: it validates it as a whole,
 * writes it to config_cache atomically, and its configuration check then
 * reloads from there (load, validate, swap) like after an edit of xfed.conf.
 * Versions only move forward: an older version is ignored and logged.
 */
#ifndef XFED_GW_CONFPUSH_H
#define XFED_GW_CONFPUSH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct gw_conf;

/* Decides on a pushed configuration (text: len bytes, not necessarily
 * NUL-terminated) of the given version. *newest is the newest version this
 * gateway runs or has already written to its cache; it moves forward when
 * the push is taken. Returns true when the version is applied or already
 * running (CONFIG_ACK applied), false with a reason for the edge
 * (CONFIG_ACK refused). Logs the outcome. Blocks briefly (file write). */
bool gw_confpush_take(const struct gw_conf *gc, uint64_t *newest, uint64_t version,
                      const char *text, size_t len, char *reason, size_t rlen);

#endif
