/*
 * xfedctl_settings.c - `xfedctl settings get|set`: the global settings
 * (Set-CsXmppGatewayConfiguration), generic over the table of
 * conf_settings.h so that a new key needs no change here. The dialback
 * secret is never printed, only whether it is set.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "conf_json.h"
#include "conf_settings.h"
#include "exitcodes.h"
#include "xfedctl_util.h"

enum { OPT_JSON = 256, OPT_GENERATE };

/* Bytes of randomness in a generated dialback secret (64 hex digits). */
#define SETTINGS_SECRET_BYTES 32

static const char usage_get[] =
    "settings get [KEY] [--json]\n"
    "Shows every global setting as KEY = VALUE, or the value of one KEY.\n"
    "The dialback secret is shown as (set) or (not set), never its value.\n"
    "Options:\n"
    "  --json   JSON instead of text\n"
    "Exit: 0 shown, 1 unknown key or invalid configuration, 2 usage, 3 system failure.\n"
    "Example: xfedctl settings get keepalive_interval\n";

static const char usage_set[] =
    "settings set KEY VALUE [KEY VALUE ...] | settings set dialback_secret --generate\n"
    "Changes global settings in one transaction; a value out of range refuses them all.\n"
    "Options:\n"
    "  --generate   give dialback_secret a new random value (64 hex digits) instead\n"
    "               of one from the command line\n"
    "A VALUE of - for dialback_secret reads the secret from the first line of stdin.\n"
    "Run 'xfedctl settings get' for the keys; docs/configuration.md has their ranges.\n"
    "Exit: 0 changed, 1 rejected, 2 usage, 3 system failure.\n"
    "Example: xfedctl settings set keepalive_interval 120 max_connections 2000\n";

static const void *settings_ptr(const struct conf_settings *s, const struct conf_key *k)
{
    return (const char *)s + k->offset;
}

static void settings_value_text(const struct conf_settings *s, const struct conf_key *k)
{
    switch (k->type) {
    case CK_UINT:
        printf("%u", *(const unsigned *)settings_ptr(s, k));
        break;
    case CK_BOOL:
        fputs(*(const bool *)settings_ptr(s, k) ? "true" : "false", stdout);
        break;
    case CK_SECRET: {
        const char *secret = *(char *const *)settings_ptr(s, k);
        fputs(secret != NULL && secret[0] != '\0' ? "(set)" : "(not set)", stdout);
        break;
    }
    }
}

static void settings_value_json(struct jbuf *jb, const struct conf_settings *s,
                                const struct conf_key *k)
{
    char num[32];

    jbuf_raw(jb, "{");
    switch (k->type) {
    case CK_UINT:
        jbuf_str(jb, k->name);
        snprintf(num, sizeof(num), ":%u", *(const unsigned *)settings_ptr(s, k));
        jbuf_raw(jb, num);
        break;
    case CK_BOOL:
        jbuf_str(jb, k->name);
        jbuf_raw(jb, *(const bool *)settings_ptr(s, k) ? ":true" : ":false");
        break;
    case CK_SECRET: {
        const char *secret = *(char *const *)settings_ptr(s, k);
        char name[128];
        snprintf(name, sizeof(name), "%s_set", k->name);
        jbuf_str(jb, name);
        jbuf_raw(jb, secret != NULL && secret[0] != '\0' ? ":true" : ":false");
        break;
    }
    }
    jbuf_raw(jb, "}");
}

static int settings_get(int argc, char **argv, const struct xfedctl_ctx *ctx)
{
    static const struct option longopts[] = {
        {"help", no_argument, NULL, 'h'},
        {"json", no_argument, NULL, OPT_JSON},
        {NULL, 0, NULL, 0},
    };
    bool json = false;
    int c, code;

    xfedctl_getopt_reset(argv);
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'h':
            return xfedctl_help();
        case OPT_JSON:
            json = true;
            break;
        default:
            return xfedctl_usage(NULL);
        }
    }
    if (argc - optind > 1)
        return xfedctl_usage("unexpected argument '%s'", argv[optind + 1]);
    const struct conf_key *key = NULL;
    if (argc - optind == 1) {
        key = conf_settings_key(argv[optind]);
        if (key == NULL) {
            xfedctl_err("unknown setting '%s' (run 'xfedctl settings get' for the list)",
                        argv[optind]);
            return XFED_EXIT_REJECTED;
        }
    }

    struct conf_store *store = xfedctl_store_open(ctx, &code);
    if (store == NULL)
        return code;
    struct conf *conf = xfedctl_load(store, &code);
    conf_store_close(store);
    if (conf == NULL)
        return code;

    code = XFED_EXIT_OK;
    if (json) {
        struct jbuf jb;
        jbuf_init(&jb);
        if (key != NULL)
            settings_value_json(&jb, &conf->settings, key);
        else
            conf_json_settings(&jb, conf);
        if (jb.failed || jb.s == NULL)
            code = xfedctl_oom();
        else
            printf("%s\n", jb.s);
        jbuf_free(&jb);
    } else if (key != NULL) {
        settings_value_text(&conf->settings, key);
        fputc('\n', stdout);
    } else {
        for (const struct conf_key *k = conf_settings_keys; k->name != NULL; k++) {
            printf("%s = ", k->name);
            settings_value_text(&conf->settings, k);
            fputc('\n', stdout);
        }
    }
    conf_free(conf);
    return code;
}

/* A fresh secret from the kernel's random source, as hex. Returns 0 or -1. */
static int settings_random_secret(char *hex, size_t hexlen)
{
    unsigned char raw[SETTINGS_SECRET_BYTES];
    size_t got = 0;

    if (hexlen < 2 * sizeof(raw) + 1)
        return -1;
    while (got < sizeof(raw)) {
        ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        got += (size_t)n;
    }
    for (size_t i = 0; i < sizeof(raw); i++)
        snprintf(hex + 2 * i, 3, "%02x", raw[i]);
    explicit_bzero(raw, sizeof(raw));
    return 0;
}

static int settings_set(int argc, char **argv, const struct xfedctl_ctx *ctx)
{
    static const struct option longopts[] = {
        {"help", no_argument, NULL, 'h'},
        {"generate", no_argument, NULL, OPT_GENERATE},
        {NULL, 0, NULL, 0},
    };
    bool generate = false;
    int c, code;

    xfedctl_getopt_reset(argv);
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'h':
            return xfedctl_help();
        case OPT_GENERATE:
            generate = true;
            break;
        default:
            return xfedctl_usage(NULL);
        }
    }
    /* Operands are KEY VALUE pairs, except that with --generate the key
     * dialback_secret stands alone. */
    bool generated_key = false;
    for (int i = optind; i < argc; i++) {
        const struct conf_key *k = conf_settings_key(argv[i]);
        if (generate && k != NULL && k->type == CK_SECRET) {
            generated_key = true;
            continue;
        }
        if (i + 1 >= argc)
            return xfedctl_usage("missing value for '%s'", argv[i]);
        i++;
    }
    if (argc == optind)
        return xfedctl_usage("missing KEY VALUE");
    if (generate && !generated_key)
        return xfedctl_usage("--generate needs the key dialback_secret");

    struct conf *conf = NULL;
    struct conf_store *store = xfedctl_store_open(ctx, &code);
    if (store == NULL)
        return code;
    if ((code = xfedctl_begin(store, &conf)) != XFED_EXIT_OK) {
        conf_store_close(store);
        return code;
    }
    size_t errors = 0;
    for (int i = optind; i < argc; i++) {
        const char *name = argv[i];
        const struct conf_key *k = conf_settings_key(name);
        const char *why = NULL;
        char secret[2 * SETTINGS_SECRET_BYTES + 1];
        int rc;
        if (generate && k != NULL && k->type == CK_SECRET) {
            if (settings_random_secret(secret, sizeof(secret)) < 0) {
                xfedctl_err("cannot get random bytes: %s", strerror(errno));
                conf_store_abort(store);
                conf_free(conf);
                conf_store_close(store);
                return XFED_EXIT_SYSTEM;
            }
            rc = conf_settings_set(&conf->settings, argv[i], secret, &why);
            explicit_bzero(secret, sizeof(secret));
        } else if (k != NULL && k->type == CK_SECRET && strcmp(argv[i + 1], "-") == 0) {
            /* "-": read the secret from stdin, keeping it out of argv and ps. */
            char line[CONF_SECRET_MAX + 2];
            if (fgets(line, sizeof(line), stdin) == NULL) {
                line[0] = '\0';
            }
            line[strcspn(line, "\r\n")] = '\0';
            rc = conf_settings_set(&conf->settings, argv[i], line, &why);
            explicit_bzero(line, sizeof(line));
            i++;
        } else {
            rc = conf_settings_set(&conf->settings, argv[i], argv[i + 1], &why);
            i++;
        }
        if (rc < 0) {
            fprintf(stderr, "error: %s: %s\n", name, why != NULL ? why : "invalid value");
            errors++;
        }
    }
    if (errors > 0) {
        conf_store_abort(store);
        conf_free(conf);
        conf_store_close(store);
        return XFED_EXIT_REJECTED;
    }
    code = xfedctl_commit(store, conf);
    if (code == XFED_EXIT_OK) {
        for (int i = optind; i < argc; i++) {
            const struct conf_key *k = conf_settings_key(argv[i]);
            printf("%s = ", argv[i]);
            settings_value_text(&conf->settings, k);
            if (generate && k->type == CK_SECRET)
                fputs(" (generated)", stdout);
            else
                i++;
            fputc('\n', stdout);
        }
        printf("configuration version %llu\n", (unsigned long long)conf->version);
    }
    conf_free(conf);
    conf_store_close(store);
    return code;
}

static const struct xfedctl_sub settings_subs[] = {
    {"get", settings_get, usage_get},
    {"set", settings_set, usage_set},
    {NULL, NULL, NULL},
};

int xfedctl_settings_main(int argc, char **argv, const struct xfedctl_ctx *ctx)
{
    return xfedctl_dispatch("settings", settings_subs, argc, argv, ctx);
}
