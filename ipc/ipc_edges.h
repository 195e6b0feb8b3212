/*
 * ipc_edges.h - the list of edges a gateway or an operator tool connects to,
 * as host-local files write it: `edges` (endpoints separated by commas or
 * white space) and the optional `edge_keys` (one public key per endpoint, in
 * the same order: a Z85 key, or a file path relative to the configuration
 * directory). Without edge_keys every edge uses the default key file.
 */
#ifndef XFED_IPC_EDGES_H
#define XFED_IPC_EDGES_H

#include <stddef.h>

struct ipc_edge_spec {
    char *endpoint; /* tcp://host:port or ipc://path */
    char *key;      /* a Z85 public key, or an absolute path to a key file */
};

/* Parses into out[0..max-1] and returns the count (>= 1). On error returns -1,
 * frees what it allocated, names the offending key ("edges" or "edge_keys")
 * in *bad_key and writes a message (without the key name) to err. keys may
 * be NULL; default_key is the key file used then (relative to confdir). */
int ipc_edges_parse(const char *edges, const char *keys, const char *confdir,
                    const char *default_key, struct ipc_edge_spec *out, int max,
                    const char **bad_key, char *err, size_t errlen);

void ipc_edges_free(struct ipc_edge_spec *v, int n);

/* dir/p unless p is absolute or a Z85 key; malloc'd (NULL: out of memory). */
char *ipc_edges_resolve(const char *dir, const char *p);

#endif
