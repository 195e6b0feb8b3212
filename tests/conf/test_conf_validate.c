/*
 * test_conf_validate.c - the negotiation matrix (all 18 rows) and the
 * partner and whole-configuration rules.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf_validate.h"

struct row {
    int row;
    enum conf_negotiation tls, sasl;
    bool dialback;
    enum conf_outcome outcome;
    const char *message;
};

#define R        NEG_REQUIRED
#define O        NEG_OPTIONAL
#define N        NEG_NOT_SUPPORTED
#define SASL_TLS "SASL requires TLS: set TLS to Required or Optional, or SASL to NotSupported"
#define NO_AUTH  "SASL or dialback must be enabled"
#define DB_NEVER "dialback will never be used: TLS and SASL are both Required"
#define NO_TLS   "a partner that does not offer TLS cannot use SASL"

/* DESIGN.md section 2, written out row by row. */
static const struct row matrix[18] = {
    {1, R, R, true, CONF_SAVED_WARNING, DB_NEVER},
    {2, R, R, false, CONF_SAVED, ""},
    {3, O, R, true, CONF_SAVED_WARNING, NO_TLS},
    {4, O, R, false, CONF_SAVED_WARNING, NO_TLS},
    {5, N, R, true, CONF_REJECTED, SASL_TLS},
    {6, N, R, false, CONF_REJECTED, SASL_TLS},
    {7, R, O, true, CONF_SAVED, ""},
    {8, R, O, false, CONF_SAVED, ""},
    {9, O, O, true, CONF_SAVED_WARNING, NO_TLS},
    {10, O, O, false, CONF_SAVED_WARNING, NO_TLS},
    {11, N, O, true, CONF_REJECTED, SASL_TLS},
    {12, N, O, false, CONF_REJECTED, SASL_TLS},
    {13, R, N, true, CONF_SAVED, ""},
    {14, R, N, false, CONF_REJECTED, NO_AUTH},
    {15, O, N, true, CONF_SAVED, ""},
    {16, O, N, false, CONF_REJECTED, NO_AUTH},
    {17, N, N, true, CONF_SAVED, ""},
    {18, N, N, false, CONF_REJECTED, NO_AUTH},
};

static void matrix_gives_each_row_its_one_outcome(void **state)
{
    (void)state;
    for (size_t i = 0; i < 18; i++) {
        const struct row *r = &matrix[i];
        struct conf_matrix_verdict v = conf_matrix_check(r->tls, r->sasl, r->dialback);
        assert_int_equal(v.row, r->row);
        assert_int_equal(v.outcome, r->outcome);
        assert_string_equal(v.message, r->message);
    }
}

static struct conf *base_conf(void)
{
    struct conf *c = conf_new();
    assert_non_null(c);
    assert_int_equal(conf_strlist_add(&c->hosted, "contoso.com"), 0);
    c->settings.dialback_secret = strdup("0123456789abcdef0123");
    return c;
}

static void partner_validate_reports_row_and_fields(void **state)
{
    (void)state;
    struct conf *c = base_conf();
    for (size_t i = 0; i < 18; i++) {
        const struct row *r = &matrix[i];
        struct conf_partner p;
        struct conf_report rep;
        conf_report_init(&rep);
        assert_int_equal(conf_partner_init(&p, "fabrikam.com"), 0);
        p.tls = r->tls;
        p.sasl = r->sasl;
        p.dialback = r->dialback;
        assert_int_equal(conf_partner_validate(c, &p, NULL, &rep), r->outcome);
        if (r->outcome == CONF_SAVED) {
            assert_int_equal(rep.n, 0);
        } else {
            assert_int_equal(rep.n, 1);
            assert_int_equal(rep.v[0].row, r->row);
            assert_string_equal(rep.v[0].message, r->message);
            assert_int_equal(rep.v[0].severity,
                             r->outcome == CONF_REJECTED ? CONF_ERROR : CONF_WARNING);
            assert_true(strlen(rep.v[0].field) > 0);
        }
        conf_report_clear(&rep);
        conf_partner_clear(&p);
    }
    conf_free(c);
}

static enum conf_outcome try_partner(struct conf *c, const char *domain, const char *additional,
                                     const char *replacing, const char **first_message)
{
    static char msg[512];
    struct conf_partner p;
    struct conf_report rep;
    conf_report_init(&rep);
    assert_int_equal(conf_partner_init(&p, domain), 0);
    p.sasl = NEG_NOT_SUPPORTED; /* row 13: saved without warning */
    if (additional)
        assert_int_equal(conf_strlist_add(&p.additional, additional), 0);
    enum conf_outcome o = conf_partner_validate(c, &p, replacing, &rep);
    msg[0] = '\0';
    if (rep.n)
        snprintf(msg, sizeof(msg), "%s", rep.v[0].message);
    *first_message = msg;
    conf_report_clear(&rep);
    conf_partner_clear(&p);
    return o;
}

static void domains_are_unique_across_partners(void **state)
{
    (void)state;
    struct conf *c = base_conf();
    struct conf_partner p;
    const char *m;
    assert_int_equal(conf_partner_init(&p, "fabrikam.com"), 0);
    assert_int_equal(conf_strlist_add(&p.additional, "fabrikam.net"), 0);
    assert_int_equal(conf_partner_add(c, &p), 0);
    conf_partner_clear(&p);

    assert_int_equal(try_partner(c, "fabrikam.com", NULL, NULL, &m), CONF_REJECTED);
    assert_string_equal(m, "domain 'fabrikam.com' is already a partner");
    assert_int_equal(try_partner(c, "fabrikam.net", NULL, NULL, &m), CONF_REJECTED);
    assert_string_equal(
        m, "domain 'fabrikam.net' is already an additional domain of partner 'fabrikam.com'");
    assert_int_equal(try_partner(c, "litware.com", "fabrikam.com", NULL, &m), CONF_REJECTED);
    assert_int_equal(try_partner(c, "litware.com", "litware.com", NULL, &m), CONF_REJECTED);
    assert_string_equal(m, "additional domain 'litware.com' is the primary domain");
    /* Replacing a partner with itself is not a clash. */
    assert_int_equal(try_partner(c, "fabrikam.com", "fabrikam.net", "fabrikam.com", &m),
                     CONF_SAVED);
    assert_int_equal(try_partner(c, "litware.com", NULL, NULL, &m), CONF_SAVED);
    conf_free(c);
}

static void hosted_domain_cannot_be_a_partner(void **state)
{
    (void)state;
    struct conf *c = base_conf();
    const char *m;
    assert_int_equal(try_partner(c, "contoso.com", NULL, NULL, &m), CONF_REJECTED);
    assert_string_equal(
        m, "domain 'contoso.com' is a hosted domain of this deployment and cannot be a partner");
    assert_int_equal(try_partner(c, "litware.com", "contoso.com", NULL, &m), CONF_REJECTED);
    conf_free(c);
}

static void invalid_domains_rejected(void **state)
{
    (void)state;
    struct conf *c = base_conf();
    const char *m;
    assert_int_equal(try_partner(c, "*.fabrikam.com", NULL, NULL, &m), CONF_REJECTED);
    assert_non_null(strstr(m, "wildcard"));
    assert_int_equal(try_partner(c, "fabrikam.com:5269", NULL, NULL, &m), CONF_REJECTED);
    assert_int_equal(try_partner(c, "FABRIKAM.com", NULL, NULL, &m), CONF_REJECTED);
    assert_non_null(strstr(m, "normalised"));
    conf_free(c);
}

static void other_fields_checked(void **state)
{
    (void)state;
    struct conf *c = base_conf();
    struct conf_partner p;
    struct conf_report rep;
    conf_report_init(&rep);
    assert_int_equal(conf_partner_init(&p, "fabrikam.com"), 0);
    p.sasl = NEG_NOT_SUPPORTED;
    p.connection_limit = 100001;
    free(p.description);
    p.description = strdup("line\nbreak");
    p.proxy_host = strdup("bad host");
    assert_int_equal(conf_partner_validate(c, &p, NULL, &rep), CONF_REJECTED);
    assert_int_equal(conf_report_count(&rep, CONF_ERROR), 3);
    conf_report_clear(&rep);
    conf_partner_clear(&p);
    conf_free(c);
}

static void settings_relations_checked(void **state)
{
    (void)state;
    struct conf *c = base_conf();
    struct conf_report rep;
    conf_report_init(&rep);
    assert_int_equal(conf_validate(c, &rep), CONF_SAVED);
    c->settings.max_connections_per_partner = 2000;
    c->settings.inactivity_timeout = 300;
    c->settings.keepalive_interval = 300;
    assert_int_equal(conf_validate(c, &rep), CONF_REJECTED);
    assert_int_equal(conf_report_count(&rep, CONF_ERROR), 2);
    conf_report_clear(&rep);
    conf_free(c);
}

static void missing_secret_is_a_warning(void **state)
{
    (void)state;
    struct conf *c = base_conf();
    struct conf_report rep;
    conf_report_init(&rep);
    free(c->settings.dialback_secret);
    c->settings.dialback_secret = NULL;
    assert_int_equal(conf_validate(c, &rep), CONF_SAVED_WARNING);
    conf_report_clear(&rep);
    conf_free(c);
}

static void access_rules_need_hosted_domains(void **state)
{
    (void)state;
    struct conf *c = base_conf();
    struct conf_report rep;
    conf_report_init(&rep);
    c->access.users = calloc(2, sizeof(*c->access.users));
    c->access.users[0].subject = strdup("alice@contoso.com");
    c->access.users[0].access = ACCESS_DENY;
    c->access.users[1].subject = strdup("bob@elsewhere.com");
    c->access.n_users = 2;
    assert_int_equal(conf_validate(c, &rep), CONF_REJECTED);
    assert_int_equal(conf_report_count(&rep, CONF_ERROR), 1);
    assert_non_null(strstr(rep.v[0].message, "not a hosted domain"));
    conf_report_clear(&rep);
    assert_int_equal(conf_access_for(c, "alice@contoso.com"), ACCESS_DENY);
    assert_int_equal(conf_access_for(c, "carol@contoso.com"), ACCESS_ALLOW);
    conf_free(c);
}

static void access_resolution_order(void **state)
{
    (void)state;
    struct conf *c = base_conf();
    c->access.default_access = ACCESS_DENY;
    c->access.domains = calloc(1, sizeof(*c->access.domains));
    c->access.domains[0].subject = strdup("contoso.com");
    c->access.domains[0].access = ACCESS_ALLOW;
    c->access.n_domains = 1;
    c->access.users = calloc(1, sizeof(*c->access.users));
    c->access.users[0].subject = strdup("mallory@contoso.com");
    c->access.users[0].access = ACCESS_DENY;
    c->access.n_users = 1;
    assert_int_equal(conf_access_for(c, "alice@contoso.com"), ACCESS_ALLOW);
    assert_int_equal(conf_access_for(c, "MALLORY@contoso.com"), ACCESS_DENY);
    assert_int_equal(conf_access_for(c, "x@other.org"), ACCESS_DENY);
    conf_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(matrix_gives_each_row_its_one_outcome),
        cmocka_unit_test(partner_validate_reports_row_and_fields),
        cmocka_unit_test(domains_are_unique_across_partners),
        cmocka_unit_test(hosted_domain_cannot_be_a_partner),
        cmocka_unit_test(invalid_domains_rejected),
        cmocka_unit_test(other_fields_checked),
        cmocka_unit_test(settings_relations_checked),
        cmocka_unit_test(missing_secret_is_a_warning),
        cmocka_unit_test(access_rules_need_hosted_domains),
        cmocka_unit_test(access_resolution_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
