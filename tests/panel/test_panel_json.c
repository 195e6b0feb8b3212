/*
 * test_panel_json.c - the strict JSON parser: what RFC 8259 allows, what it
 * refuses, and the size, depth, count and string limits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "panel_form.h"
#include "panel_json.h"

static struct pjson *parse(const char *s, const char **err)
{
    return pjson_parse(s, strlen(s), NULL, err, NULL);
}

static void test_parses_objects_arrays_and_scalars(void **state)
{
    (void)state;
    const char *err;
    struct pjson *v = parse(" {\"a\": [1, -2.5e3, true, false, null, \"x\\u00e9\\ud83d\\ude00\"],"
                            " \"b\": {}} ",
                            &err);
    assert_non_null(v);
    assert_int_equal(v->type, PJ_OBJECT);
    const struct pjson *a = pjson_get(v, "a");
    assert_int_equal(a->type, PJ_ARRAY);
    assert_int_equal(a->n, 6);
    assert_string_equal(a->item[1].str, "-2.5e3");
    assert_true(a->item[2].b);
    assert_int_equal(a->item[4].type, PJ_NULL);
    assert_string_equal(a->item[5].str, "x\xc3\xa9\xf0\x9f\x98\x80");
    assert_int_equal(pjson_get(v, "b")->n, 0);
    assert_null(pjson_get(v, "c"));
    unsigned long n;
    assert_int_equal(pjson_uint(&a->item[0], 10, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(pjson_uint(&a->item[1], 10, &n), -1);
    pjson_free(v);
}

static void test_refuses_what_rfc_8259_does_not_allow(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "{",
        "[1,]",
        "{\"a\":1,}",
        "{'a':1}",
        "01",
        "1.",
        ".5",
        "+1",
        "NaN",
        "[1 2]",
        "{\"a\" 1}",
        "\"unterminated",
        "\"tab\there\"",
        "\"\\x41\"",
        "\"\\ud800\"",
        "\"\\udc00\"",
        "\"\\u0000\"",
        "/* c */ 1",
        "[1] x",
        "tru",
        "\"\xc3\x28\"",
        "\"\xed\xa0\x80\"",
        "\"\xf4\x90\x80\x80\"",
        "{\"a\":1,\"a\":2}",
        "[\v1]",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *err = NULL;
        struct pjson *v = parse(bad[i], &err);
        if (v != NULL)
            fail_msg("accepted: %s", bad[i]);
        assert_non_null(err);
    }
}

static void test_depth_limit(void **state)
{
    (void)state;
    char deep[64];
    const char *err;
    struct pjson_limits lim = pjson_default_limits;
    lim.max_depth = 4;
    strcpy(deep, "[[[[1]]]]");
    struct pjson *v = pjson_parse(deep, strlen(deep), &lim, &err, NULL);
    assert_non_null(v);
    pjson_free(v);
    strcpy(deep, "[[[[[1]]]]]");
    assert_null(pjson_parse(deep, strlen(deep), &lim, &err, NULL));
    assert_string_equal(err, "nesting too deep");
    /* the default limit stops a hostile nesting long before the stack */
    size_t n = 100000;
    char *huge = malloc(n + 1);
    memset(huge, '[', n);
    huge[n] = '\0';
    lim = pjson_default_limits;
    lim.max_bytes = n;
    assert_null(pjson_parse(huge, n, &lim, &err, NULL));
    assert_string_equal(err, "nesting too deep");
    free(huge);
}

static void test_size_count_and_string_limits(void **state)
{
    (void)state;
    const char *err;
    struct pjson_limits lim = {.max_bytes = 16, .max_depth = 8, .max_values = 4, .max_string = 5};
    assert_null(pjson_parse("[1,2,3,4,5,6,7,8]", 17, &lim, &err, NULL));
    assert_string_equal(err, "document too large");
    assert_null(pjson_parse("[1,2,3,4]", 9, &lim, &err, NULL));
    assert_string_equal(err, "too many values");
    struct pjson *v = pjson_parse("[1,2,3]", 7, &lim, &err, NULL);
    assert_non_null(v);
    pjson_free(v);
    assert_null(pjson_parse("\"abcdef\"", 8, &lim, &err, NULL));
    assert_string_equal(err, "string too long");
}

static void test_input_need_not_be_terminated(void **state)
{
    (void)state;
    const char buf[] = {'[', '1', ']', 'x'};
    struct pjson *v = pjson_parse(buf, 3, NULL, NULL, NULL);
    assert_non_null(v);
    pjson_free(v);
}

static void test_form_decoding(void **state)
{
    (void)state;
    struct pkv_list l = {0};
    const char *body = "a=1&b=x+y%21&empty=&flag&c=%C3%A9";
    assert_int_equal(panel_form_parse(&l, body, strlen(body), 10), 0);
    assert_string_equal(pkv_get(&l, "b"), "x y!");
    assert_string_equal(pkv_get(&l, "empty"), "");
    assert_string_equal(pkv_get(&l, "flag"), "");
    assert_string_equal(pkv_get(&l, "c"), "\xc3\xa9");
    pkv_clear(&l);
    assert_int_equal(panel_form_parse(&l, "a=%4", 4, 10), -1);
    pkv_clear(&l);
    assert_int_equal(panel_form_parse(&l, "a=%00", 5, 10), -1);
    pkv_clear(&l);
    assert_int_equal(panel_form_parse(&l, "a=%ff", 5, 10), -1);
    pkv_clear(&l);
    assert_int_equal(panel_form_parse(&l, "a=1&b=2&c=3", 11, 2), -1);
    pkv_clear(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parses_objects_arrays_and_scalars),
        cmocka_unit_test(test_refuses_what_rfc_8259_does_not_allow),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_size_count_and_string_limits),
        cmocka_unit_test(test_input_need_not_be_terminated),
        cmocka_unit_test(test_form_decoding),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
