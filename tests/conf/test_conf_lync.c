/*
 * test_conf_lync.c - the Lync Export-Csv reader: RFC 4180 quoting, line
 * ends, the byte order mark and #TYPE line, and every error with its line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "conf_lync.h"

static int parse(const char *text, struct conf_lync *csv, struct conf_lync_error *err)
{
    return conf_lync_parse(text, strlen(text), NULL, csv, err);
}

static void test_header_and_rows_by_name(void **state)
{
    (void)state;
    struct conf_lync csv;
    struct conf_lync_error err;

    assert_int_equal(parse("Identity,TlsNegotiation\nfabrikam.com,Required\n"
                           "litware.com,Optional\n",
                           &csv, &err),
                     0);
    assert_null(csv.type);
    assert_int_equal(csv.n_rows, 2);
    assert_int_equal(conf_lync_column(&csv, "identity"), 0);
    assert_int_equal(conf_lync_column(&csv, "TLSNEGOTIATION"), 1);
    assert_int_equal(conf_lync_column(&csv, "ProxyFqdn"), -1);
    assert_string_equal(conf_lync_field(&csv, 0, 0), "fabrikam.com");
    assert_string_equal(conf_lync_field(&csv, 1, 1), "Optional");
    assert_string_equal(conf_lync_field(&csv, 1, -1), "");
    assert_int_equal(csv.header.line, 1);
    assert_int_equal(csv.rows[0].line, 2);
    assert_int_equal(csv.rows[1].line, 3);
    conf_lync_clear(&csv);
}

static void test_quotes_and_doubled_quote_escapes(void **state)
{
    (void)state;
    struct conf_lync csv;
    struct conf_lync_error err;

    assert_int_equal(parse("\"Identity\",\"Description\"\n"
                           "\"a.example\",\"say \"\"hi\"\", then, go\"\n"
                           "\"b.example\",\"\"\"\"\n",
                           &csv, &err),
                     0);
    assert_int_equal(csv.n_rows, 2);
    assert_string_equal(conf_lync_field(&csv, 0, 1), "say \"hi\", then, go");
    assert_string_equal(conf_lync_field(&csv, 1, 1), "\"");
    conf_lync_clear(&csv);
}

static void test_line_break_inside_quotes_counts_lines(void **state)
{
    (void)state;
    struct conf_lync csv;
    struct conf_lync_error err;

    assert_int_equal(parse("Identity,Description\r\n"
                           "a.example,\"two\r\nlines\"\r\n"
                           "b.example,x\r\n",
                           &csv, &err),
                     0);
    assert_int_equal(csv.n_rows, 2);
    assert_string_equal(conf_lync_field(&csv, 0, 1), "two\r\nlines");
    assert_int_equal(csv.rows[0].line, 2);
    assert_int_equal(csv.rows[1].line, 4);
    conf_lync_clear(&csv);
}

static void test_crlf_line_ends(void **state)
{
    (void)state;
    struct conf_lync csv;
    struct conf_lync_error err;

    assert_int_equal(parse("Identity,Description\r\na.example,d\r\nb.example,e", &csv, &err), 0);
    assert_int_equal(csv.n_rows, 2);
    assert_string_equal(conf_lync_field(&csv, 0, 1), "d");
    assert_string_equal(conf_lync_field(&csv, 1, 1), "e");
    conf_lync_clear(&csv);
}

static void test_bom_and_type_line_are_skipped(void **state)
{
    (void)state;
    struct conf_lync csv;
    struct conf_lync_error err;

    assert_int_equal(parse("\xef\xbb\xbf#TYPE Microsoft.Rtc.Management.WritableConfig.Policy.Xmpp."
                           "XmppAllowedPartner\r\n\"Identity\"\r\n\"fabrikam.com\"\r\n",
                           &csv, &err),
                     0);
    assert_string_equal(csv.type,
                        "Microsoft.Rtc.Management.WritableConfig.Policy.Xmpp.XmppAllowedPartner");
    assert_int_equal(csv.header.line, 2);
    assert_int_equal(csv.n_rows, 1);
    assert_int_equal(csv.rows[0].line, 3);
    assert_string_equal(conf_lync_field(&csv, 0, 0), "fabrikam.com");
    conf_lync_clear(&csv);
}

static void test_bom_without_type_line(void **state)
{
    (void)state;
    struct conf_lync csv;
    struct conf_lync_error err;

    assert_int_equal(parse("\xef\xbb\xbfIdentity\nfabrikam.com\n", &csv, &err), 0);
    assert_int_equal(conf_lync_column(&csv, "Identity"), 0);
    conf_lync_clear(&csv);
}

static void test_empty_fields_and_blank_lines(void **state)
{
    (void)state;
    struct conf_lync csv;
    struct conf_lync_error err;

    assert_int_equal(parse("Identity,ProxyFqdn,Description\n"
                           "a.example,,\n"
                           "\n"
                           "b.example,\"\",\"\"\r\n"
                           "\r\n",
                           &csv, &err),
                     0);
    assert_int_equal(csv.n_rows, 2);
    assert_string_equal(conf_lync_field(&csv, 0, 1), "");
    assert_string_equal(conf_lync_field(&csv, 0, 2), "");
    assert_string_equal(conf_lync_field(&csv, 1, 1), "");
    assert_int_equal(csv.rows[1].line, 4);
    conf_lync_clear(&csv);
}

static void test_header_names_ignore_case_and_spaces(void **state)
{
    (void)state;
    struct conf_lync csv;
    struct conf_lync_error err;

    assert_int_equal(parse(" identity ,X\na,b\n", &csv, &err), 0);
    assert_int_equal(conf_lync_column(&csv, "Identity"), 0);
    conf_lync_clear(&csv);
}

static void test_unterminated_quote_reports_its_line(void **state)
{
    (void)state;
    struct conf_lync csv;
    struct conf_lync_error err;

    assert_int_equal(
        parse("Identity,Description\na.example,x\nb.example,\"open\nmore\n", &csv, &err), -1);
    assert_int_equal(err.line, 3);
    assert_non_null(strstr(err.message, "not terminated"));
    assert_int_equal(csv.n_rows, 0);
    assert_null(csv.rows);
}

static void test_text_after_closing_quote_is_an_error(void **state)
{
    (void)state;
    struct conf_lync csv;
    struct conf_lync_error err;

    assert_int_equal(parse("Identity\n\"a.example\"x\n", &csv, &err), -1);
    assert_int_equal(err.line, 2);
}

static void test_quote_in_unquoted_field_is_an_error(void **state)
{
    (void)state;
    struct conf_lync csv;
    struct conf_lync_error err;

    assert_int_equal(parse("Identity,D\na.example,x\nb.example,ab\"c\n", &csv, &err), -1);
    assert_int_equal(err.line, 3);
}

static void test_field_count_must_match_header(void **state)
{
    (void)state;
    struct conf_lync csv;
    struct conf_lync_error err;

    assert_int_equal(parse("Identity,D\na.example,x\nb.example\n", &csv, &err), -1);
    assert_int_equal(err.line, 3);
    assert_non_null(strstr(err.message, "1 fields"));
}

static void test_oversized_field_is_refused(void **state)
{
    (void)state;
    struct conf_lync csv;
    struct conf_lync_error err;
    struct conf_lync_limits lim = {.max_field = 8};

    const char *ok = "Identity\n12345678\n";
    assert_int_equal(conf_lync_parse(ok, strlen(ok), &lim, &csv, &err), 0);
    conf_lync_clear(&csv);

    const char *big = "Identity\n12345678\n\"123456789\"\n";
    assert_int_equal(conf_lync_parse(big, strlen(big), &lim, &csv, &err), -1);
    assert_int_equal(err.line, 3);
    assert_non_null(strstr(err.message, "longer than 8 bytes"));

    /* The default limit holds too, without reading past the cap. */
    size_t n = CONF_LYNC_MAX_FIELD + 100;
    char *huge = malloc(n + 16);
    assert_non_null(huge);
    memcpy(huge, "Identity\n", 9);
    memset(huge + 9, 'a', n);
    assert_int_equal(conf_lync_parse(huge, n + 9, NULL, &csv, &err), -1);
    assert_int_equal(err.line, 2);
    free(huge);
}

static void test_too_many_fields_and_records(void **state)
{
    (void)state;
    struct conf_lync csv;
    struct conf_lync_error err;
    struct conf_lync_limits lim = {.max_fields = 2, .max_records = 2};

    const char *wide = "a,b,c\n";
    assert_int_equal(conf_lync_parse(wide, strlen(wide), &lim, &csv, &err), -1);
    assert_int_equal(err.line, 1);

    const char *tall = "a\n1\n2\n3\n";
    assert_int_equal(conf_lync_parse(tall, strlen(tall), &lim, &csv, &err), -1);
    assert_int_equal(err.line, 4);
}

static void test_empty_input_has_no_header(void **state)
{
    (void)state;
    struct conf_lync csv;
    struct conf_lync_error err;

    assert_int_equal(parse("", &csv, &err), -1);
    assert_non_null(strstr(err.message, "no header"));
    assert_int_equal(parse("#TYPE X\r\n\r\n", &csv, &err), -1);
    assert_non_null(strstr(err.message, "no header"));
}

static void test_duplicate_column_is_an_error(void **state)
{
    (void)state;
    struct conf_lync csv;
    struct conf_lync_error err;

    assert_int_equal(parse("Identity,IDENTITY\na,b\n", &csv, &err), -1);
    assert_int_equal(err.line, 1);
}

static void test_utf16_and_nul_bytes_are_refused(void **state)
{
    (void)state;
    struct conf_lync csv;
    struct conf_lync_error err;
    static const char utf16[] = "\xff\xfeI\0d\0";
    static const char nul[] = "Identity\na\0b\n";

    assert_int_equal(conf_lync_parse(utf16, sizeof(utf16) - 1, NULL, &csv, &err), -1);
    assert_non_null(strstr(err.message, "UTF-16"));
    assert_int_equal(conf_lync_parse(nul, sizeof(nul) - 1, NULL, &csv, &err), -1);
    assert_int_equal(err.line, 2);
}

static void test_utf8_text_is_kept_as_is(void **state)
{
    (void)state;
    struct conf_lync csv;
    struct conf_lync_error err;

    assert_int_equal(parse("Identity\n\"b\xc3\xbc"
                           "cher.example\"\n",
                           &csv, &err),
                     0);
    assert_string_equal(conf_lync_field(&csv, 0, 0), "b\xc3\xbc"
                                                     "cher.example");
    conf_lync_clear(&csv);
    conf_lync_clear(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_and_rows_by_name),
        cmocka_unit_test(test_quotes_and_doubled_quote_escapes),
        cmocka_unit_test(test_line_break_inside_quotes_counts_lines),
        cmocka_unit_test(test_crlf_line_ends),
        cmocka_unit_test(test_bom_and_type_line_are_skipped),
        cmocka_unit_test(test_bom_without_type_line),
        cmocka_unit_test(test_empty_fields_and_blank_lines),
        cmocka_unit_test(test_header_names_ignore_case_and_spaces),
        cmocka_unit_test(test_unterminated_quote_reports_its_line),
        cmocka_unit_test(test_text_after_closing_quote_is_an_error),
        cmocka_unit_test(test_quote_in_unquoted_field_is_an_error),
        cmocka_unit_test(test_field_count_must_match_header),
        cmocka_unit_test(test_oversized_field_is_refused),
        cmocka_unit_test(test_too_many_fields_and_records),
        cmocka_unit_test(test_empty_input_has_no_header),
        cmocka_unit_test(test_duplicate_column_is_an_error),
        cmocka_unit_test(test_utf16_and_nul_bytes_are_refused),
        cmocka_unit_test(test_utf8_text_is_kept_as_is),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
