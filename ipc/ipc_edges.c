/*
 * ipc_edges.c - see ipc_edges.h.
 */
#include "ipc_edges.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf_file.h"
#include "ipc_keys.h"

char *ipc_edges_resolve(const char *dir, const char *p)
{
    if (p[0] == '/' || ipc_key_valid(p))
        return strdup(p);
    size_t n = strlen(dir) + strlen(p) + 2;
    char *r = malloc(n);
    if (r)
        snprintf(r, n, "%s/%s", dir, p);
    return r;
}

void ipc_edges_free(struct ipc_edge_spec *v, int n)
{
    for (int i = 0; i < n; i++) {
        free(v[i].endpoint);
        free(v[i].key);
        v[i].endpoint = v[i].key = NULL;
    }
}

int ipc_edges_parse(const char *edges, const char *keys, const char *confdir,
                    const char *default_key, struct ipc_edge_spec *out, int max,
                    const char **bad_key, char *err, size_t errlen)
{
    char *eb = strdup(edges ? edges : "");
    char *kb = keys ? strdup(keys) : NULL;
    char **ev = calloc((size_t)max, sizeof(char *));
    char **kv = calloc((size_t)max, sizeof(char *));
    int n = 0, rc = -1;
    *bad_key = "";
    if (eb == NULL || (keys && kb == NULL) || ev == NULL || kv == NULL) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    int ne = conf_local_split(eb, ev, max);
    int nk = kb ? conf_local_split(kb, kv, max) : 0;
    if (ne <= 0) {
        *bad_key = "edges";
        if (ne < 0)
            snprintf(err, errlen, "more than %d edges", max);
        else
            snprintf(err, errlen, "at least one edge endpoint is needed");
        goto out;
    }
    if (kb && nk != ne) {
        *bad_key = "edge_keys";
        snprintf(err, errlen, "%d key(s) for %d edge(s): give one key per edge, in the same order",
                 nk < 0 ? max + 1 : nk, ne);
        goto out;
    }
    for (n = 0; n < ne; n++) {
        if (strncmp(ev[n], "tcp://", 6) != 0 && strncmp(ev[n], "ipc://", 6) != 0) {
            *bad_key = "edges";
            snprintf(err, errlen, "edge endpoint '%s' is not tcp://host:port or ipc://path", ev[n]);
            goto out;
        }
        out[n].endpoint = strdup(ev[n]);
        out[n].key = ipc_edges_resolve(confdir, kb ? kv[n] : default_key);
        if (out[n].endpoint == NULL || out[n].key == NULL) {
            n++;
            snprintf(err, errlen, "out of memory");
            goto out;
        }
    }
    rc = n;
out:
    if (rc < 0)
        ipc_edges_free(out, n);
    free(eb);
    free(kb);
    free(ev);
    free(kv);
    return rc;
}
