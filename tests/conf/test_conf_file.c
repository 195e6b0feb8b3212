/*
 * test_conf_file.c - the strict reader (every error with its line) and the
 * canonical writer (what it writes reads back equal).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf_file.h"
#include "conf_validate.h"

static const char good[] = "version = 4;\n"
                           "settings = {\n"
                           "  max_connections = 500;\n"
                           "  keepalive_interval = 60;\n"
                           "  dialback_secret = \"0123456789abcdef0123\";\n"
                           "  log_message_bodies = true;\n"
                           "};\n"
                           "hosted_domains = [ \"Contoso.com\" ];\n"
                           "access = {\n"
                           "  default = \"deny\";\n"
                           "  domains = ( { domain = \"contoso.com\"; access = \"allow\"; } );\n"
                           "  users = ( { user = \"eve@CONTOSO.com\"; access = \"deny\"; } );\n"
                           "};\n"
                           "partners = (\n"
                           "  { domain = \"fabrikam.com\"; type = \"federated\";\n"
                           "    additional_domains = [ \"fabrikam.net\", \"BÜCHER.example\" ];\n"
                           "    description = \"Quote \\\" and backslash \\\\\";\n"
                           "    tls = \"Optional\"; sasl = \"notsupported\"; dialback = true;\n"
                           "    proxy_fqdn = \"[2001:db8::5]:5270\"; connection_limit = 7; },\n"
                           "  { domain = \"litware.com\"; keepalive = false; }\n"
                           ");\n";

static void reads_every_section(void **state)
{
    (void)state;
    struct conf_report rep;
    conf_report_init(&rep);
    struct conf *c = conf_file_parse(good, "xfed.conf", &rep);
    if (c == NULL) {
        conf_report_print(&rep, stderr);
        fail();
    }
    assert_int_equal(c->version, 4);
    assert_int_equal(c->settings.max_connections, 500);
    assert_int_equal(c->settings.keepalive_interval, 60);
    assert_int_equal(c->settings.inactivity_timeout, 600); /* default */
    assert_true(c->settings.log_message_bodies);
    assert_string_equal(c->hosted.v[0], "contoso.com");
    assert_int_equal(c->access.default_access, ACCESS_DENY);
    assert_string_equal(c->access.users[0].subject, "eve@contoso.com");
    assert_int_equal(c->n_partners, 2);
    const struct conf_partner *p = &c->partners[0];
    assert_int_equal(p->type, PARTNER_FEDERATED);
    assert_int_equal(p->tls, NEG_OPTIONAL);
    assert_int_equal(p->sasl, NEG_NOT_SUPPORTED);
    assert_string_equal(p->additional.v[1], "bücher.example");
    assert_string_equal(p->description, "Quote \" and backslash \\");
    assert_string_equal(p->proxy_host, "2001:db8::5");
    assert_int_equal(p->proxy_port, 5270);
    assert_int_equal(p->connection_limit, 7);
    /* Defaults of DESIGN.md section 2. */
    const struct conf_partner *q = &c->partners[1];
    assert_int_equal(q->type, PARTNER_PUBLIC_UNVERIFIED);
    assert_int_equal(q->tls, NEG_REQUIRED);
    assert_int_equal(q->sasl, NEG_REQUIRED);
    assert_true(q->dialback);
    assert_false(q->keepalive);
    assert_null(q->proxy_host);
    assert_int_equal(conf_validate(c, &rep), CONF_SAVED_WARNING); /* litware is row 1 */
    conf_report_clear(&rep);
    conf_free(c);
}

static void writer_round_trips(void **state)
{
    (void)state;
    struct conf_report rep;
    conf_report_init(&rep);
    struct conf *c = conf_file_parse(good, "xfed.conf", &rep);
    assert_non_null(c);
    char *text = conf_file_format(c);
    assert_non_null(text);
    struct conf *d = conf_file_parse(text, "written", &rep);
    if (d == NULL) {
        conf_report_print(&rep, stderr);
        fprintf(stderr, "%s", text);
        fail();
    }
    char *again = conf_file_format(d);
    assert_string_equal(text, again);
    assert_null(strstr(text, "@include"));
    free(text);
    free(again);
    conf_free(c);
    conf_free(d);
    conf_report_clear(&rep);
}

struct bad {
    const char *text;
    int lines[4]; /* expected error lines, 0-terminated */
    const char *what;
};

static const struct bad bads[] = {
    {"version = 1;\nsettings = {\n  max_conections = 5;\n};\n", {3}, "unknown setting"},
    {"version = 1;\nsettings = {\n  keepalive_interval = \"300\";\n};\n", {3}, "whole number"},
    {"settings = {\n  keepalive_interval = 5;\n  establish_timeout = 100000;\n};\n",
     {2, 3},
     "between"},
    {"partners = (\n  { domain = \"a.example\";\n    colour = \"blue\"; }\n);\n",
     {3},
     "unknown key"},
    {"partners = (\n  { domain = \"a.example\";\n    dialback = \"yes\"; }\n);\n",
     {3},
     "true or false"},
    {"partners = (\n  { domain = \"*.example.com\"; }\n);\n", {2}, "wildcard"},
    {"partners = (\n  { domain = \"a.example\"; tls = \"Sometimes\"; }\n);\n", {2}, "Required"},
    {"partners = (\n  { description = \"x\"; }\n);\n", {2}, "without 'domain'"},
    {"frobnicate = 1;\nversion = 2;\nwhatever = true;\n", {1, 3}, "unknown key"},
    {"version = 1;\nsettings = { x = ; };\n", {2}, "syntax error"},
    {"@include \"/etc/passwd\"\n", {1}, "@include"},
    {"settings = {\n  dialback_secret = \"short\";\n};\n", {2}, "16 to 256"},
};

static void errors_carry_their_lines(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
        struct conf_report rep;
        conf_report_init(&rep);
        struct conf *c = conf_file_parse(bads[i].text, "xfed.conf", &rep);
        if (c != NULL)
            fail_msg("case %zu accepted", i);
        size_t want = 0;
        while (want < 4 && bads[i].lines[want])
            want++;
        if (rep.n != want) {
            conf_report_print(&rep, stderr);
            fail_msg("case %zu: %zu errors, expected %zu", i, rep.n, want);
        }
        for (size_t k = 0; k < want; k++) {
            assert_string_equal(rep.v[k].file, "xfed.conf");
            assert_int_equal(rep.v[k].line, bads[i].lines[k]);
        }
        assert_non_null(strstr(rep.v[0].message, bads[i].what));
        /* A secret never appears in a message. */
        assert_null(strstr(rep.v[0].message, "short"));
        conf_report_clear(&rep);
    }
}

static void reads_file_and_reports_path(void **state)
{
    (void)state;
    char path[] = "/tmp/xfed-test-conf-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "version = 1;\nsettings = {\n  bogus = 1;\n};\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    struct conf_report rep;
    conf_report_init(&rep);
    assert_null(conf_file_read(path, &rep));
    assert_int_equal(rep.n, 1);
    assert_string_equal(rep.v[0].file, path);
    assert_int_equal(rep.v[0].line, 3);
    conf_report_clear(&rep);
    unlink(path);
    assert_null(conf_file_read(path, &rep)); /* missing file */
    assert_int_equal(rep.n, 1);
    conf_report_clear(&rep);
}

struct local {
    unsigned port;
    bool flag;
    char *name;
};

static const struct conf_lkey local_keys[] = {
    {"port", LK_UINT, offsetof(struct local, port), 5269, 1, 65535, NULL, "port"},
    {"flag", LK_BOOL, offsetof(struct local, flag), 1, 0, 1, NULL, "flag"},
    {"name", LK_STRING, offsetof(struct local, name), 0, 0, 0, "edge", "name"},
    {NULL, LK_UINT, 0, 0, 0, 0, NULL, NULL},
};

static void local_files_are_table_driven(void **state)
{
    (void)state;
    char path[] = "/tmp/xfed-test-local-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "port = 5300;\nname = \"edge-2\";\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    struct local l;
    struct conf_report rep;
    conf_report_init(&rep);
    assert_int_equal(conf_local_read(path, local_keys, &l, &rep), 0);
    assert_int_equal(l.port, 5300);
    assert_true(l.flag);
    assert_string_equal(l.name, "edge-2");
    conf_local_free(local_keys, &l);

    FILE *f = fopen(path, "w");
    fputs("port = 70000;\nflag = 1;\nnope = 2;\n", f);
    fclose(f);
    assert_int_equal(conf_local_read(path, local_keys, &l, &rep), -1);
    assert_int_equal(rep.n, 3);
    assert_int_equal(rep.v[0].line, 1);
    assert_int_equal(rep.v[1].line, 2);
    assert_int_equal(rep.v[2].line, 3);
    conf_local_free(local_keys, &l);
    conf_report_clear(&rep);
    unlink(path);
    assert_int_equal(conf_local_read(path, local_keys, &l, &rep), 0); /* missing: defaults */
    assert_int_equal(l.port, 5269);
    assert_string_equal(l.name, "edge");
    conf_local_free(local_keys, &l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reads_every_section),
        cmocka_unit_test(writer_round_trips),
        cmocka_unit_test(errors_carry_their_lines),
        cmocka_unit_test(reads_file_and_reports_path),
        cmocka_unit_test(local_files_are_table_driven),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
