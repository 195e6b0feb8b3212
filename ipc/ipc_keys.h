/*
 * ipc_keys.h - the CURVE key files of the IPC channel.
 *
 * Layout inside the configuration directory (default /etc/xfed):
 *   keys/edge.key              the edge's secret key, Z85 text, mode 0600
 *   keys/edge.pub              the edge's public key, Z85 text, mode 0644
 *   keys/gateways/NAME.pub     allow-list: public keys of gateways the edge
 *                              accepts, one file per gateway NAME
 *   keys/gateway/NAME.key      a gateway key pair made by `xfedctl keys
 *   keys/gateway/NAME.pub      add-gateway NAME`, to copy to that gateway host
 * Each file holds one 40-character Z85 key followed by a newline. Writes go
 * through conf_atomic_write() (temporary file, fsync, rename, fsync dir).
 *
 * Secret keys are never logged or printed by this module. All calls block on
 * file I/O: use them at start-up, on reload or from xfedctl, never on a hot
 * path. Failing calls return -1 with errno set (EEXIST, ENOENT, EINVAL for a
 * malformed key file or name, EACCES for a secret key readable by others...).
 */
#ifndef XFED_IPC_KEYS_H
#define XFED_IPC_KEYS_H

#include <stdbool.h>
#include <stddef.h>

#define IPC_KEY_Z85_LEN  40 /* a 32-byte CURVE key in Z85 */
#define IPC_KEY_NAME_MAX 64 /* gateway name: [A-Za-z0-9_.-], not starting with '.' or '-' */

struct ipc_keypair {
    char public_key[IPC_KEY_Z85_LEN + 1];
    char secret_key[IPC_KEY_Z85_LEN + 1];
};

struct ipc_allow_entry {
    char name[IPC_KEY_NAME_MAX + 1];
    char public_key[IPC_KEY_Z85_LEN + 1];
};

/* The allow-list: entries sorted by name. */
struct ipc_allowlist {
    struct ipc_allow_entry *v;
    size_t n;
};

/* Generates a fresh key pair. 0, or -1 (no entropy / no CURVE support). */
int ipc_keys_generate(struct ipc_keypair *out);

/* True when s is exactly 40 valid Z85 characters. */
bool ipc_key_valid(const char *s);

/* True when name is a usable gateway name (see IPC_KEY_NAME_MAX). */
bool ipc_key_name_valid(const char *name);

/* Creates confdir/keys (0750) and the edge key pair unless keys/edge.key
 * already exists; with force a new pair replaces it. Returns 0 created, 1
 * existed (nothing changed), -1 error. The new public key goes to *out when
 * out is not NULL. */
int ipc_keys_init_edge(const char *confdir, bool force, struct ipc_keypair *out);

/* Loads keys/edge.key and keys/edge.pub and checks that they belong together.
 * Refuses (EACCES) a secret key file readable or writable by group/others. */
int ipc_keys_load_edge(const char *confdir, struct ipc_keypair *out);

/* Loads dir/base.key and dir/base.pub (e.g. a gateway's own pair) with the
 * same checks as ipc_keys_load_edge(). */
int ipc_keys_load_pair(const char *dir, const char *base, struct ipc_keypair *out);

/* Loads one public key file into out (41 bytes, NUL-terminated). */
int ipc_keys_load_public(const char *path, char out[IPC_KEY_Z85_LEN + 1]);

/* Creates a key pair keys/gateway/NAME.{key,pub} and adds its public key to
 * the allow-list keys/gateways/NAME.pub. Fails with EEXIST when NAME is
 * already on the allow-list. The pair goes to *out when out is not NULL. */
int ipc_keys_add_gateway(const char *confdir, const char *name, struct ipc_keypair *out);

/* Adds an existing public key (made on the gateway host) to the allow-list
 * as NAME. EEXIST when NAME is already there, EINVAL for a bad key. */
int ipc_keys_allow(const char *confdir, const char *name, const char *public_key);

/* Removes NAME from the allow-list and deletes keys/gateway/NAME.{key,pub} if
 * present. ENOENT when NAME is not on the allow-list. */
int ipc_keys_remove_gateway(const char *confdir, const char *name);

/* Reads every keys/gateways/NAME.pub. A missing directory is an empty list.
 * A malformed file fails the whole load (EINVAL) and is logged by name.
 * On success the caller frees *out with ipc_allowlist_free(). */
int ipc_keys_load_allowlist(const char *confdir, struct ipc_allowlist *out);
void ipc_allowlist_free(struct ipc_allowlist *);

/* Zeroes a key pair's secret in a way the compiler keeps. */
void ipc_keypair_wipe(struct ipc_keypair *);

#endif
