/*
 * panel_password.c - yescrypt through libxcrypt's reentrant calls.
 */
#include "panel_password.h"

#include "panel_form.h"
#include "panel_secret.h"

#include <crypt.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

const char *panel_password_check(const char *password)
{
    size_t len = password != NULL ? strlen(password) : 0;
    if (len < PANEL_PASSWORD_MIN)
        return "password must have at least 8 characters";
    if (len > PANEL_PASSWORD_MAX)
        return "password must have at most 1024 bytes";
    if (!panel_text_ok(password) || strpbrk(password, "\t\r\n") != NULL)
        return "password must be UTF-8 text without control characters";
    return NULL;
}

char *panel_password_hash(const char *password)
{
    char setting[CRYPT_GENSALT_OUTPUT_SIZE];
    /* count 0: libxcrypt's default cost; rbytes NULL: it reads the kernel's
     * random source itself */
    if (crypt_gensalt_rn("$y$", 0, NULL, 0, setting, sizeof(setting)) == NULL)
        return NULL;
    struct crypt_data *cd = calloc(1, sizeof(*cd));
    if (cd == NULL)
        return NULL;
    char *res = crypt_rn(password, setting, cd, sizeof(*cd));
    char *out = NULL;
    if (res != NULL && res[0] == '$')
        out = strdup(res);
    explicit_bzero(cd, sizeof(*cd));
    free(cd);
    return out;
}

bool panel_password_verify(const char *password, const char *hash)
{
    if (password == NULL || hash == NULL || strncmp(hash, "$y$", 3) != 0)
        return false;
    struct crypt_data *cd = calloc(1, sizeof(*cd));
    if (cd == NULL)
        return false;
    char *res = crypt_rn(password, hash, cd, sizeof(*cd));
    bool ok = res != NULL && res[0] == '$' && panel_ct_streq(res, hash);
    explicit_bzero(cd, sizeof(*cd));
    free(cd);
    return ok;
}

static char *dummy_hash;
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;

static void dummy_init(void)
{
    dummy_hash = panel_password_hash("xfed-panel-no-such-account");
}

bool panel_password_verify_dummy(const char *password)
{
    pthread_once(&dummy_once, dummy_init);
    if (dummy_hash != NULL)
        (void)panel_password_verify(password, dummy_hash);
    return false;
}

bool panel_password_hash_valid(const char *hash)
{
    if (hash == NULL || strncmp(hash, "$y$", 3) != 0 || strlen(hash) > 512)
        return false;
    for (const char *p = hash; *p; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f || *p == ':')
            return false;
    /* "$y$" params "$" salt "$" checksum: exactly four '$' and a checksum. */
    const char *last = strrchr(hash, '$');
    int dollars = 0;
    for (const char *p = hash; *p; p++)
        dollars += *p == '$';
    if (dollars != 4 || last[1] == '\0')
        return false;
    return crypt_checksalt(hash) == CRYPT_SALT_OK;
}
