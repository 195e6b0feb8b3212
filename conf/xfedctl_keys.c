/*
 * xfedctl_keys.c - `xfedctl keys ...`: the CURVE keys of the IPC channel
 * between the edge and its gateways (file layout in ipc/ipc_keys.h). Only
 * public keys are ever printed; secret keys stay in their 0600 files.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "exitcodes.h"
#include "ipc_keys.h"
#include "xfedctl_util.h"

static const char usage_init_edge[] =
    "keys init-edge [--force]\n"
    "Creates the edge's CURVE key pair: keys/edge.key (secret, mode 0600) and keys/edge.pub\n"
    "in the configuration directory, and prints the public key. An existing pair is kept\n"
    "unless --force replaces it (every gateway then needs the new public key).\n"
    "Options:\n"
    "  --force   replace an existing key pair\n"
    "Exit: 0 created or already there, 2 usage, 3 system failure.\n"
    "Example: xfedctl keys init-edge\n";

static const char usage_add[] =
    "keys add-gateway NAME\n"
    "Creates a key pair for gateway NAME in keys/gateway/NAME.key and NAME.pub (copy both to\n"
    "that gateway's host) and puts its public key on the edge's allow-list,\n"
    "keys/gateways/NAME.pub. A running edge reads the allow-list again on SIGHUP.\n"
    "NAME: letters, digits, '.', '_', '-' (at most 64, not starting with '.' or '-').\n"
    "Exit: 0 added, 1 NAME already on the allow-list or invalid, 2 usage, 3 system failure.\n"
    "Example: xfedctl keys add-gateway gw1\n";

static const char usage_allow[] =
    "keys allow-gateway NAME PUBLIC-KEY\n"
    "Puts a public key made elsewhere (40 Z85 characters, e.g. on the gateway host) on the\n"
    "allow-list as NAME.\n"
    "Exit: 0 added, 1 NAME already there or the key or name is invalid, 2 usage, 3 system\n"
    "failure.\n"
    "Example: xfedctl keys allow-gateway gw2 'rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7'\n";

static const char usage_list[] =
    "keys list\n"
    "Prints the edge's public key and every gateway on the allow-list with its public key,\n"
    "one a line: 'edge KEY' and 'gateway NAME KEY'. Secret keys are never printed.\n"
    "Exit: 0, 1 a key file is malformed, 2 usage, 3 system failure.\n"
    "Example: xfedctl keys list\n";

static const char usage_remove[] =
    "keys remove-gateway NAME\n"
    "Takes gateway NAME off the allow-list and deletes its key pair from keys/gateway/ if\n"
    "present. A running edge drops that gateway when it reads the allow-list again (SIGHUP).\n"
    "Exit: 0 removed, 1 NAME not on the allow-list, 2 usage, 3 system failure.\n"
    "Example: xfedctl keys remove-gateway gw1\n";

static int sys_fail(const char *what)
{
    xfedctl_err("%s: %s", what, strerror(errno));
    return XFED_EXIT_SYSTEM;
}

static int keys_init_edge(int argc, char **argv, const struct xfedctl_ctx *ctx)
{
    static const struct option longopts[] = {
        {"force", no_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool force = false;
    int c;
    xfedctl_getopt_reset(argv);
    while ((c = getopt_long(argc, argv, "fh", longopts, NULL)) != -1) {
        switch (c) {
        case 'f':
            force = true;
            break;
        case 'h':
            return xfedctl_help();
        default:
            return xfedctl_usage(NULL);
        }
    }
    if (optind != argc)
        return xfedctl_usage("unexpected argument");
    struct ipc_keypair kp;
    int rc = ipc_keys_init_edge(ctx->confdir, force, &kp);
    if (rc < 0)
        return sys_fail("cannot create the edge key pair");
    if (rc == 1)
        fprintf(stderr, "xfedctl: the edge key pair exists already (--force replaces it)\n");
    else
        printf("created %s/keys/edge.key and edge.pub\n", ctx->confdir);
    printf("edge %s\n", kp.public_key);
    ipc_keypair_wipe(&kp);
    return XFED_EXIT_OK;
}

static int keys_add_gateway(int argc, char **argv, const struct xfedctl_ctx *ctx)
{
    int code = xfedctl_no_options(argc, argv, 1, 1);
    if (code >= 0)
        return code;
    const char *name = argv[optind];
    if (!ipc_key_name_valid(name)) {
        xfedctl_err("invalid gateway name '%s'", name);
        return XFED_EXIT_REJECTED;
    }
    struct ipc_keypair kp;
    if (ipc_keys_add_gateway(ctx->confdir, name, &kp) != 0) {
        if (errno == EEXIST) {
            xfedctl_err("gateway %s is already on the allow-list", name);
            return XFED_EXIT_REJECTED;
        }
        return sys_fail("cannot add the gateway key");
    }
    printf("created %s/keys/gateway/%s.key and %s.pub: copy both to the gateway host\n",
           ctx->confdir, name, name);
    printf("gateway %s %s\n", name, kp.public_key);
    ipc_keypair_wipe(&kp);
    return XFED_EXIT_OK;
}

static int keys_allow_gateway(int argc, char **argv, const struct xfedctl_ctx *ctx)
{
    int code = xfedctl_no_options(argc, argv, 2, 2);
    if (code >= 0)
        return code;
    const char *name = argv[optind], *key = argv[optind + 1];
    if (!ipc_key_name_valid(name)) {
        xfedctl_err("invalid gateway name '%s'", name);
        return XFED_EXIT_REJECTED;
    }
    if (!ipc_key_valid(key)) {
        xfedctl_err("not a CURVE public key (40 Z85 characters expected)");
        return XFED_EXIT_REJECTED;
    }
    if (ipc_keys_allow(ctx->confdir, name, key) != 0) {
        if (errno == EEXIST) {
            xfedctl_err("gateway %s is already on the allow-list", name);
            return XFED_EXIT_REJECTED;
        }
        return sys_fail("cannot add the gateway key");
    }
    printf("gateway %s %s\n", name, key);
    return XFED_EXIT_OK;
}

static int keys_list(int argc, char **argv, const struct xfedctl_ctx *ctx)
{
    int code = xfedctl_no_options(argc, argv, 0, 0);
    if (code >= 0)
        return code;
    char path[4096], pub[IPC_KEY_Z85_LEN + 1];
    snprintf(path, sizeof(path), "%s/keys/edge.pub", ctx->confdir);
    if (ipc_keys_load_public(path, pub) == 0) {
        printf("edge %s\n", pub);
    } else if (errno == EINVAL) {
        xfedctl_err("%s is malformed", path);
        return XFED_EXIT_REJECTED;
    } else if (errno != ENOENT) {
        return sys_fail(path);
    }
    struct ipc_allowlist allow;
    if (ipc_keys_load_allowlist(ctx->confdir, &allow) != 0) {
        if (errno == EINVAL) {
            xfedctl_err("a file in %s/keys/gateways is malformed", ctx->confdir);
            return XFED_EXIT_REJECTED;
        }
        return sys_fail("cannot read the allow-list");
    }
    for (size_t i = 0; i < allow.n; i++)
        printf("gateway %s %s\n", allow.v[i].name, allow.v[i].public_key);
    ipc_allowlist_free(&allow);
    return XFED_EXIT_OK;
}

static int keys_remove_gateway(int argc, char **argv, const struct xfedctl_ctx *ctx)
{
    int code = xfedctl_no_options(argc, argv, 1, 1);
    if (code >= 0)
        return code;
    const char *name = argv[optind];
    if (!ipc_key_name_valid(name)) {
        xfedctl_err("invalid gateway name '%s'", name);
        return XFED_EXIT_REJECTED;
    }
    if (ipc_keys_remove_gateway(ctx->confdir, name) != 0) {
        if (errno == ENOENT) {
            xfedctl_err("gateway %s is not on the allow-list", name);
            return XFED_EXIT_REJECTED;
        }
        return sys_fail("cannot remove the gateway key");
    }
    printf("removed gateway %s\n", name);
    return XFED_EXIT_OK;
}

static const struct xfedctl_sub keys_subs[] = {
    {"init-edge", keys_init_edge, usage_init_edge},
    {"add-gateway", keys_add_gateway, usage_add},
    {"allow-gateway", keys_allow_gateway, usage_allow},
    {"list", keys_list, usage_list},
    {"remove-gateway", keys_remove_gateway, usage_remove},
    {NULL, NULL, NULL},
};

int xfedctl_keys_main(int argc, char **argv, const struct xfedctl_ctx *ctx)
{
    return xfedctl_dispatch("keys", keys_subs, argc, argv, ctx);
}
