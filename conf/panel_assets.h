/*
 * panel_assets.h - the static files of conf/panel/ (HTML-free: CSS, JS,
 * icon), embedded into the binary at build time by cmake/ (panel.cmake's
 * conversion step writes panel_assets_data.c). Nothing is loaded from the
 * Internet or the disk at run time.
 */
#ifndef XFED_PANEL_ASSETS_H
#define XFED_PANEL_ASSETS_H

#include <stddef.h>

struct panel_asset {
    const char *name; /* file name, e.g. "panel.css" */
    const unsigned char *data;
    size_t len;
};

/* The table, terminated by a NULL name (generated). */
extern const struct panel_asset panel_assets[];

/* The asset called name, or NULL. */
const struct panel_asset *panel_asset_find(const char *name);

/* MIME type for an asset name by its extension. */
const char *panel_asset_type(const char *name);

#endif
