/*
 * test_panel_auth.c - who may do what: the role table, the router's checks
 * (sign-in, role, CSRF, Origin) on a real configuration directory, and the
 * growing delay after failed sign-ins.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "conf_store.h"
#include "panel_app.h"
#include "panel_auth.h"
#include "panel_password.h"
#include "panel_throttle.h"

static void test_role_table(void **state)
{
    (void)state;
    assert_true(panel_role_allows(ROLE_VIEWER, ACT_READ));
    assert_false(panel_role_allows(ROLE_VIEWER, ACT_CHANGE));
    assert_false(panel_role_allows(ROLE_VIEWER, ACT_AUDIT));
    assert_true(panel_role_allows(ROLE_ADMIN, ACT_READ));
    assert_true(panel_role_allows(ROLE_ADMIN, ACT_CHANGE));
    assert_true(panel_role_allows(ROLE_ADMIN, ACT_AUDIT));
}

static void test_delay_doubles_per_failure_up_to_the_cap(void **state)
{
    (void)state;
    struct panel_throttle_conf c = {
        .base_ms = 100, .max_ms = 1000, .forget_s = 60, .max_entries = 16};
    struct panel_throttle *t = panel_throttle_new(&c);
    uint64_t now = 1000000, expect[] = {100, 200, 400, 800, 1000, 1000};
    for (size_t i = 0; i < sizeof(expect) / sizeof(expect[0]); i++) {
        assert_int_equal(panel_throttle_wait(t, "alice", "10.0.0.1", now), 0);
        assert_int_equal(panel_throttle_failed(t, "alice", "10.0.0.1", now), expect[i]);
        now += expect[i];
    }
    panel_throttle_free(t);
}

static void test_attempts_before_the_delay_passed_are_refused(void **state)
{
    (void)state;
    struct panel_throttle_conf c = {
        .base_ms = 500, .max_ms = 30000, .forget_s = 60, .max_entries = 16};
    struct panel_throttle *t = panel_throttle_new(&c);
    uint64_t now = 5000;
    panel_throttle_failed(t, "alice", "10.0.0.1", now);
    /* same account from elsewhere, and another account from the same address */
    assert_int_equal(panel_throttle_wait(t, "alice", "10.0.0.2", now + 100), 400);
    assert_int_equal(panel_throttle_wait(t, "bob", "10.0.0.1", now + 200), 300);
    assert_int_equal(panel_throttle_wait(t, "bob", "10.0.0.2", now + 200), 0);
    assert_int_equal(panel_throttle_wait(t, "alice", "10.0.0.1", now + 500), 0);
    panel_throttle_free(t);
}

static void test_success_and_time_clear_the_counters(void **state)
{
    (void)state;
    struct panel_throttle_conf c = {
        .base_ms = 100, .max_ms = 10000, .forget_s = 60, .max_entries = 16};
    struct panel_throttle *t = panel_throttle_new(&c);
    uint64_t now = 1000;
    panel_throttle_failed(t, "alice", "a", now);
    panel_throttle_failed(t, "alice", "a", now + 100);
    panel_throttle_succeeded(t, "alice", "a");
    assert_int_equal(panel_throttle_failed(t, "alice", "a", now + 400), 100);
    /* forgotten after forget_s without failures */
    assert_int_equal(panel_throttle_failed(t, "alice", "a", now + 61000), 100);
    panel_throttle_free(t);
}

static void test_full_table_still_throttles(void **state)
{
    (void)state;
    struct panel_throttle_conf c = {
        .base_ms = 100, .max_ms = 10000, .forget_s = 600, .max_entries = 4};
    struct panel_throttle *t = panel_throttle_new(&c);
    char name[16];
    for (int i = 0; i < 50; i++) {
        snprintf(name, sizeof(name), "u%d", i);
        panel_throttle_failed(t, name, "a", 1000 + (uint64_t)i);
    }
    /* the address kept failing: its delay grew whatever was evicted */
    assert_true(panel_throttle_wait(t, "fresh", "a", 1050) > 100);
    panel_throttle_free(t);
}

/* The router on a real configuration directory -------------------------- */

static char dir[64];
static struct panel_app *app;

static int app_setup(void **state)
{
    (void)state;
    struct conf_strlist hosted = {0};
    struct conf_report rep;
    struct panel_accounts a = {0};
    struct panel_options o;
    char err[256];

    strcpy(dir, "/tmp/xfed-panel-auth-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    strcat(dir, "/etc");
    conf_report_init(&rep);
    conf_strlist_add(&hosted, "contoso.com");
    if (conf_store_init(dir, &hosted, &rep) != 0)
        return -1;
    conf_strlist_clear(&hosted);
    conf_report_clear(&rep);
    char *h = panel_password_hash("admin-password");
    char *hv = panel_password_hash("viewer-password");
    panel_accounts_set(&a, "alice", ROLE_ADMIN, h);
    panel_accounts_set(&a, "victor", ROLE_VIEWER, hv);
    free(h);
    free(hv);
    if (panel_accounts_save(dir, &a) < 0)
        return -1;
    panel_accounts_clear(&a);
    panel_options_defaults(&o);
    o.signin_delay_base = 10;
    app = panel_app_new(dir, &o, panel_status_none(), err, sizeof(err));
    return app != NULL ? 0 : -1;
}

static int app_teardown(void **state)
{
    (void)state;
    char cmd[128];
    panel_app_free(app);
    snprintf(cmd, sizeof(cmd), "rm -rf '%.*s'", (int)(strlen(dir) - 4), dir);
    return system(cmd) == 0 ? 0 : -1;
}

struct call {
    struct panel_req rq;
    struct panel_resp rs;
};

static int run(const char *method, const char *path, const struct panel_session *s,
               const char *csrf_header, const char *ctype, const char *body, struct panel_resp *out)
{
    struct call c;
    memset(&c, 0, sizeof(c));
    c.rq.method = method;
    c.rq.path = path;
    c.rq.body = body != NULL ? body : "";
    c.rq.body_len = strlen(c.rq.body);
    strcpy(c.rq.client, "127.0.0.1");
    if (s != NULL)
        pkv_add(&c.rq.cookies, PANEL_COOKIE, s->id);
    if (csrf_header != NULL)
        pkv_add(&c.rq.headers, "X-CSRF-Token", csrf_header);
    if (ctype != NULL)
        pkv_add(&c.rq.headers, "Content-Type", ctype);
    pkv_add(&c.rq.headers, "Host", "127.0.0.1:8443");
    c.rs.status = 200;
    pbuf_init(&c.rs.body);
    panel_app_handle(app, &c.rq, &c.rs);
    pkv_clear(&c.rq.cookies);
    pkv_clear(&c.rq.headers);
    int status = c.rs.status;
    if (out != NULL) {
        *out = c.rs;
    } else {
        pbuf_free(&c.rs.body);
        pkv_clear(&c.rs.headers);
    }
    return status;
}

static struct panel_session *sign_in(const char *name, const char *pw)
{
    struct panel_session *s = NULL;
    uint64_t delay;
    assert_int_equal(panel_auth_signin(app, name, pw, "127.0.0.1", &s, &delay), SIGNIN_OK);
    return s;
}

static const char *partner_json = "{\"domain\":\"fabrikam.com\",\"type\":\"Federated\"}";

static void test_unauthenticated_requests_are_sent_to_sign_in(void **state)
{
    (void)state;
    assert_int_equal(run("GET", "/partners", NULL, NULL, NULL, NULL, NULL), 303);
    assert_int_equal(run("GET", "/api/partners", NULL, NULL, NULL, NULL, NULL), 401);
    assert_int_equal(
        run("POST", "/api/partners", NULL, NULL, "application/json", partner_json, NULL), 401);
    assert_int_equal(run("GET", "/signin", NULL, NULL, NULL, NULL, NULL), 200);
    assert_int_equal(run("GET", "/static/panel.css", NULL, NULL, NULL, NULL, NULL), 200);
}

static void test_viewer_reads_but_every_change_is_forbidden(void **state)
{
    (void)state;
    struct panel_session *v = sign_in("victor", "viewer-password");
    assert_int_equal(run("GET", "/partners", v, NULL, NULL, NULL, NULL), 200);
    assert_int_equal(run("GET", "/api/partners", v, NULL, NULL, NULL, NULL), 200);
    assert_int_equal(run("GET", "/audit", v, NULL, NULL, NULL, NULL), 403);
    assert_int_equal(
        run("POST", "/api/partners", v, v->csrf, "application/json", partner_json, NULL), 403);
    assert_int_equal(run("DELETE", "/api/partners/fabrikam.com", v, v->csrf, NULL, NULL, NULL),
                     403);
    assert_int_equal(run("PUT", "/api/settings", v, v->csrf, "application/json",
                         "{\"max_connections\":5}", NULL),
                     403);
    assert_int_equal(run("POST", "/partners/new", v, NULL, "application/x-www-form-urlencoded",
                         "domain=fabrikam.com", NULL),
                     403);
    /* a viewer's page has no edit control */
    struct panel_resp rs;
    run("GET", "/partners", v, NULL, NULL, NULL, &rs);
    assert_null(strstr(rs.body.s, "/partners/new"));
    assert_null(strstr(rs.body.s, "/partners/edit"));
    pbuf_free(&rs.body);
    pkv_clear(&rs.headers);
    /* signing out is allowed (with the token) */
    assert_int_equal(run("DELETE", "/api/session", v, v->csrf, NULL, NULL, NULL), 200);
}

static void test_admin_change_needs_the_csrf_token(void **state)
{
    (void)state;
    struct panel_session *a = sign_in("alice", "admin-password");
    assert_int_equal(run("POST", "/api/partners", a, NULL, "application/json", partner_json, NULL),
                     403);
    assert_int_equal(
        run("POST", "/api/partners", a, "0000", "application/json", partner_json, NULL), 403);
    assert_int_equal(
        run("POST", "/api/partners", a, a->csrf, "application/json", partner_json, NULL), 201);
    /* the form field works for HTML forms */
    char body[200];
    snprintf(body, sizeof(body), "csrf=%s&domain=fabrikam.com", a->csrf);
    assert_int_equal(
        run("POST", "/partners/delete", a, NULL, "application/x-www-form-urlencoded", body, NULL),
        303);
    assert_int_equal(run("GET", "/api/partners/fabrikam.com", a, NULL, NULL, NULL, NULL), 404);
    assert_int_equal(run("GET", "/audit", a, NULL, NULL, NULL, NULL), 200);
}

static void test_wrong_password_is_refused_with_a_delay(void **state)
{
    (void)state;
    struct panel_resp rs;
    assert_int_equal(run("POST", "/api/session", NULL, NULL, "application/json",
                         "{\"name\":\"victor\",\"password\":\"nope-nope\"}", &rs),
                     401);
    assert_true(rs.delay_ms >= 10);
    pbuf_free(&rs.body);
    pkv_clear(&rs.headers);
    /* at once again: refused without checking, told when to come back */
    assert_int_equal(run("POST", "/api/session", NULL, NULL, "application/json",
                         "{\"name\":\"victor\",\"password\":\"viewer-password\"}", &rs),
                     429);
    assert_non_null(pkv_get(&rs.headers, "Retry-After"));
    pbuf_free(&rs.body);
    pkv_clear(&rs.headers);
}

static void test_removed_account_loses_its_session(void **state)
{
    (void)state;
    usleep(50 * 1000); /* past the delay the previous test earned 127.0.0.1 */
    struct panel_session *a = sign_in("alice", "admin-password");
    char id[65];
    strcpy(id, a->id);
    struct panel_accounts acc = {0};
    char err[256];
    assert_int_equal(panel_accounts_load(dir, &acc, err, sizeof(err)), 0);
    assert_true(panel_accounts_remove(&acc, "alice"));
    /* a different size/mtime makes the cache reload */
    sleep(1);
    assert_int_equal(panel_accounts_save(dir, &acc), 0);
    panel_accounts_clear(&acc);
    struct panel_session fake;
    memset(&fake, 0, sizeof(fake));
    strcpy(fake.id, id);
    assert_int_equal(run("GET", "/api/partners", &fake, NULL, NULL, NULL, NULL), 401);
}

int main(void)
{
    const struct CMUnitTest unit[] = {
        cmocka_unit_test(test_role_table),
        cmocka_unit_test(test_delay_doubles_per_failure_up_to_the_cap),
        cmocka_unit_test(test_attempts_before_the_delay_passed_are_refused),
        cmocka_unit_test(test_success_and_time_clear_the_counters),
        cmocka_unit_test(test_full_table_still_throttles),
    };
    const struct CMUnitTest router[] = {
        cmocka_unit_test(test_unauthenticated_requests_are_sent_to_sign_in),
        cmocka_unit_test(test_viewer_reads_but_every_change_is_forbidden),
        cmocka_unit_test(test_admin_change_needs_the_csrf_token),
        cmocka_unit_test(test_wrong_password_is_refused_with_a_delay),
        cmocka_unit_test(test_removed_account_loses_its_session),
    };
    int rc = cmocka_run_group_tests(unit, NULL, NULL);
    return rc + cmocka_run_group_tests(router, app_setup, app_teardown);
}
