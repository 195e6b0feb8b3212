/*
 * s2s_dialback_key.c - XEP-0185 dialback keys with OpenSSL's EVP one-shot
 * digest and MAC calls.
 */
#include "s2s_dialback_key.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#define SHA256_LEN 32

static const char hexdigits[] = "0123456789abcdef";

static void hex_encode(const unsigned char *in, size_t len, char *out)
{
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = hexdigits[in[i] >> 4];
        out[2 * i + 1] = hexdigits[in[i] & 0x0f];
    }
    out[2 * len] = '\0';
}

/* XEP-0185 note 5: the space is the separator, so a part containing one
 * would make two different triples give the same key. */
static bool part_ok(const char *s)
{
    return s != NULL && s[0] != '\0' && strchr(s, ' ') == NULL;
}

int s2s_dialback_key(const char *secret, const char *receiving, const char *originating,
                     const char *stream_id, char out[S2S_DIALBACK_KEY_LEN + 1])
{
    unsigned char digest[SHA256_LEN];
    char hmac_key[2 * SHA256_LEN + 1];
    unsigned char mac[SHA256_LEN];
    size_t maclen = 0;
    int rc = -1;

    out[0] = '\0';
    if (secret == NULL || secret[0] == '\0' || !part_ok(receiving) || !part_ok(originating) ||
        !part_ok(stream_id))
        return -1;

    size_t lr = strlen(receiving), lo = strlen(originating), ls = strlen(stream_id);
    size_t mlen = lr + 1 + lo + 1 + ls;
    char *msg = OPENSSL_malloc(mlen);
    if (msg == NULL)
        return -1;
    memcpy(msg, receiving, lr);
    msg[lr] = ' ';
    memcpy(msg + lr + 1, originating, lo);
    msg[lr + 1 + lo] = ' ';
    memcpy(msg + lr + 1 + lo + 1, stream_id, ls);

    /* XEP-0185 notes 2 and 4: the HMAC key is the hex form of SHA256(secret). */
    if (EVP_Q_digest(NULL, "SHA256", NULL, secret, strlen(secret), digest, NULL) != 1)
        goto out;
    hex_encode(digest, SHA256_LEN, hmac_key);
    if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, hmac_key, 2 * SHA256_LEN,
                  (const unsigned char *)msg, mlen, mac, sizeof(mac), &maclen) == NULL ||
        maclen != SHA256_LEN)
        goto out;
    hex_encode(mac, SHA256_LEN, out);
    rc = 0;
out:
    OPENSSL_cleanse(digest, sizeof(digest));
    OPENSSL_cleanse(hmac_key, sizeof(hmac_key));
    OPENSSL_cleanse(mac, sizeof(mac));
    OPENSSL_free(msg);
    return rc;
}

static bool xml_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

bool s2s_dialback_key_equal(const char *expected, const char *presented, size_t len)
{
    if (expected == NULL || presented == NULL)
        return false;
    /* Trimming depends only on the whitespace, which is not secret. */
    while (len > 0 && xml_space(presented[0])) {
        presented++;
        len--;
    }
    while (len > 0 && xml_space(presented[len - 1]))
        len--;
    if (len != S2S_DIALBACK_KEY_LEN || strlen(expected) != S2S_DIALBACK_KEY_LEN)
        return false;

    /* Every byte is compared, the differences accumulated: the time does
     * not depend on the secret-derived expected key. Folding 'A'..'F' to
     * lower case looks only at the presented (public) byte. */
    unsigned diff = 0;
    for (size_t i = 0; i < S2S_DIALBACK_KEY_LEN; i++) {
        unsigned c = (unsigned char)presented[i];
        unsigned upper_hex = (unsigned)(c - 'A') <= (unsigned)('F' - 'A');
        c |= upper_hex << 5;
        diff |= c ^ (unsigned char)expected[i];
    }
    return diff == 0;
}

bool s2s_dialback_key_verify(const char *secret, const char *receiving, const char *originating,
                             const char *stream_id, const char *presented, size_t len)
{
    char key[S2S_DIALBACK_KEY_LEN + 1];

    if (presented == NULL || s2s_dialback_key(secret, receiving, originating, stream_id, key) != 0)
        return false;
    bool ok = s2s_dialback_key_equal(key, presented, len);
    OPENSSL_cleanse(key, sizeof(key));
    return ok;
}
