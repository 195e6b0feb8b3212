/*
 * test_s2s_dialback_key.c - XEP-0185 keys against the published example
 * (section 3) and the constant-time comparison's contract.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "s2s_dialback_key.h"

/* XEP-0185 section 3, "Data Used in Examples". */
#define EX_SECRET    "s3cr3tf0rd14lb4ck"
#define EX_RECEIVING "xmpp.example.com"
#define EX_ORIGINATE "example.org"
#define EX_STREAM_ID "D60000229F"
#define EX_HASHED    "a7136eb1f46c9ef18c5e78c36ca257067c69b3d518285f0b18a96c33beae9acc"
#define EX_KEY       "37c69b1cf07a3f67c04a5ef5902fa5114f2c76fe4a2686482ba5b89323075643"

static void sha256_of_secret_matches_published_value(void **state)
{
    unsigned char d[32];
    char hex[65];

    (void)state;
    assert_int_equal(EVP_Q_digest(NULL, "SHA256", NULL, EX_SECRET, strlen(EX_SECRET), d, NULL), 1);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
    assert_string_equal(hex, EX_HASHED);
}

static void key_matches_published_example(void **state)
{
    char key[S2S_DIALBACK_KEY_LEN + 1];

    (void)state;
    assert_int_equal(s2s_dialback_key(EX_SECRET, EX_RECEIVING, EX_ORIGINATE, EX_STREAM_ID, key), 0);
    assert_string_equal(key, EX_KEY);
    assert_int_equal(strlen(key), S2S_DIALBACK_KEY_LEN);
}

static void authoritative_verify_accepts_published_key(void **state)
{
    (void)state;
    /* Step 8/9 of the example: the verify request carries the key with
     * XML whitespace around it. */
    const char *presented = "\n    " EX_KEY "\n";
    assert_true(s2s_dialback_key_verify(EX_SECRET, EX_RECEIVING, EX_ORIGINATE, EX_STREAM_ID,
                                        presented, strlen(presented)));
}

static void key_changes_with_every_input(void **state)
{
    char k[S2S_DIALBACK_KEY_LEN + 1];

    (void)state;
    assert_int_equal(s2s_dialback_key("other-secret", EX_RECEIVING, EX_ORIGINATE, EX_STREAM_ID, k),
                     0);
    assert_string_not_equal(k, EX_KEY);
    assert_int_equal(s2s_dialback_key(EX_SECRET, EX_ORIGINATE, EX_RECEIVING, EX_STREAM_ID, k), 0);
    assert_string_not_equal(k, EX_KEY);
    assert_int_equal(s2s_dialback_key(EX_SECRET, EX_RECEIVING, EX_ORIGINATE, "D60000229G", k), 0);
    assert_string_not_equal(k, EX_KEY);
    assert_false(s2s_dialback_key_verify(EX_SECRET, EX_RECEIVING, "example.net", EX_STREAM_ID,
                                         EX_KEY, strlen(EX_KEY)));
}

static void invalid_inputs_are_refused(void **state)
{
    char k[S2S_DIALBACK_KEY_LEN + 1];

    (void)state;
    assert_int_equal(s2s_dialback_key("", EX_RECEIVING, EX_ORIGINATE, EX_STREAM_ID, k), -1);
    assert_string_equal(k, "");
    assert_int_equal(s2s_dialback_key(NULL, EX_RECEIVING, EX_ORIGINATE, EX_STREAM_ID, k), -1);
    assert_int_equal(s2s_dialback_key(EX_SECRET, "", EX_ORIGINATE, EX_STREAM_ID, k), -1);
    assert_int_equal(s2s_dialback_key(EX_SECRET, EX_RECEIVING, NULL, EX_STREAM_ID, k), -1);
    /* A space would make "a b" + "c" and "a" + "b c" collide (note 5). */
    assert_int_equal(
        s2s_dialback_key(EX_SECRET, "xmpp.example.com example.org", "x", EX_STREAM_ID, k), -1);
    assert_int_equal(s2s_dialback_key(EX_SECRET, EX_RECEIVING, EX_ORIGINATE, "a b", k), -1);
    assert_false(s2s_dialback_key_verify("", EX_RECEIVING, EX_ORIGINATE, EX_STREAM_ID, EX_KEY,
                                         strlen(EX_KEY)));
    assert_false(
        s2s_dialback_key_verify(EX_SECRET, EX_RECEIVING, EX_ORIGINATE, EX_STREAM_ID, NULL, 0));
}

static void equal_accepts_upper_case_hex_and_whitespace(void **state)
{
    char upper[S2S_DIALBACK_KEY_LEN + 1];

    (void)state;
    for (size_t i = 0; i <= S2S_DIALBACK_KEY_LEN; i++)
        upper[i] = (EX_KEY[i] >= 'a' && EX_KEY[i] <= 'f') ? (char)(EX_KEY[i] - 32) : EX_KEY[i];
    assert_true(s2s_dialback_key_equal(EX_KEY, upper, strlen(upper)));
    assert_true(s2s_dialback_key_equal(EX_KEY, " \t" EX_KEY "\r\n", strlen(EX_KEY) + 4));
}

static void equal_refuses_any_difference(void **state)
{
    char k[S2S_DIALBACK_KEY_LEN + 1];

    (void)state;
    /* Every single-position change, first and last included. */
    for (size_t i = 0; i < S2S_DIALBACK_KEY_LEN; i++) {
        memcpy(k, EX_KEY, sizeof(k));
        k[i] = k[i] == '0' ? '1' : '0';
        assert_false(s2s_dialback_key_equal(EX_KEY, k, S2S_DIALBACK_KEY_LEN));
    }
    /* Lengths: short, long, empty; a NUL inside; non-hex that folds. */
    assert_false(s2s_dialback_key_equal(EX_KEY, EX_KEY, S2S_DIALBACK_KEY_LEN - 1));
    assert_false(s2s_dialback_key_equal(EX_KEY, EX_KEY "0", S2S_DIALBACK_KEY_LEN + 1));
    assert_false(s2s_dialback_key_equal(EX_KEY, "", 0));
    assert_false(s2s_dialback_key_equal(EX_KEY, " \n ", 3));
    memcpy(k, EX_KEY, sizeof(k));
    k[10] = '\0';
    assert_false(s2s_dialback_key_equal(EX_KEY, k, S2S_DIALBACK_KEY_LEN));
    memcpy(k, EX_KEY, sizeof(k));
    k[0] = 'G'; /* 'G' | 0x20 would be 'g', still not '3' */
    assert_false(s2s_dialback_key_equal(EX_KEY, k, S2S_DIALBACK_KEY_LEN));
    assert_false(s2s_dialback_key_equal(NULL, EX_KEY, S2S_DIALBACK_KEY_LEN));
    assert_false(s2s_dialback_key_equal(EX_KEY, NULL, S2S_DIALBACK_KEY_LEN));
    /* Whitespace inside the key is not trimmed. */
    memcpy(k, EX_KEY, sizeof(k));
    k[32] = ' ';
    assert_false(s2s_dialback_key_equal(EX_KEY, k, S2S_DIALBACK_KEY_LEN));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sha256_of_secret_matches_published_value),
        cmocka_unit_test(key_matches_published_example),
        cmocka_unit_test(authoritative_verify_accepts_published_key),
        cmocka_unit_test(key_changes_with_every_input),
        cmocka_unit_test(invalid_inputs_are_refused),
        cmocka_unit_test(equal_accepts_upper_case_hex_and_whitespace),
        cmocka_unit_test(equal_refuses_any_difference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
