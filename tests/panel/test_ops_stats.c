/*
 * test_ops_stats.c - the operator tools' STATS client (ops_stats.h) and the
 * status views built on it (panel_status.h): ops.conf checks, an edge that
 * does not answer is reported with a reason within the timeout, answers
 * are cached, missing keys are named, and the JSON and HTML views show
 * streams per partner and direction, gateways and stale versions.
 * The answering side is covered end to end by status_test.py.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ipc_keys.h"
#include "ops_stats.h"
#include "panel_buf.h"
#include "panel_json.h"
#include "panel_status.h"

static char dir[64];

static int setup(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/xfed-ops-XXXXXX");
    assert_non_null(mkdtemp(dir));
    struct ipc_keypair kp;
    assert_int_equal(ipc_keys_init_edge(dir, false, &kp), 0);
    assert_int_equal(ipc_keys_add_gateway(dir, "operator", &kp), 0);
    ipc_keypair_wipe(&kp);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* A loopback port nobody listens on (bound, read, closed). */
static unsigned dead_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(s, (struct sockaddr *)&a, &len), 0);
    close(s);
    return ntohs(a.sin_port);
}

static struct ops_local local(const char *edges, const char *keys, unsigned timeout_ms)
{
    struct ops_local l = {0};
    l.edges = edges ? strdup(edges) : NULL;
    l.edge_keys = keys ? strdup(keys) : NULL;
    l.timeout_ms = timeout_ms;
    l.cache_ms = 60000;
    return l;
}

static void config_state_words(void **state)
{
    (void)state;
    assert_string_equal(ops_config_state(4, 4), "current");
    assert_string_equal(ops_config_state(3, 4), "stale");
    assert_string_equal(ops_config_state(5, 4), "ahead");
    assert_string_equal(ops_config_state(5, 0), "unknown");
    assert_string_equal(ops_direction_name(IPC_DIR_OUTBOUND), "outbound");
    assert_string_equal(ops_direction_name(IPC_DIR_INBOUND), "inbound");
    assert_string_equal(ops_auth_name(IPC_AUTH_SASL_EXTERNAL), "sasl-external");
    assert_string_equal(ops_auth_name(IPC_AUTH_DIALBACK), "dialback");
    assert_string_equal(ops_auth_name(IPC_AUTH_NONE), "none");
    assert_string_equal(ops_auth_name(200), "none");
}

static void bad_settings_are_refused(void **state)
{
    (void)state;
    char err[256], many[64 * 32] = "";
    static const struct {
        const char *edges, *keys, *program, *want;
        unsigned timeout;
    } cases[] = {
        {"", NULL, "t", "at least one edge", 2000},
        {"http://127.0.0.1:1", NULL, "t", "not tcp://", 2000},
        {"tcp://127.0.0.1:1, tcp://127.0.0.1:2", "a.pub", "t", "1 key(s) for 2 edge(s)", 2000},
        {"tcp://127.0.0.1:1", NULL, "bad name", "program", 2000},
        {"tcp://127.0.0.1:1", NULL, "t", "timeout_ms", 10},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct ops_local l = local(cases[i].edges, cases[i].keys, cases[i].timeout);
        assert_null(ops_stats_new(dir, &l, cases[i].program, err, sizeof(err)));
        assert_non_null(strstr(err, cases[i].want));
        ops_local_free(&l);
    }
    for (int i = 0; i <= OPS_EDGES_MAX; i++)
        snprintf(many + strlen(many), sizeof(many) - strlen(many), "tcp://127.0.0.1:%d ", 1000 + i);
    struct ops_local l = local(many, NULL, 2000);
    assert_null(ops_stats_new(dir, &l, "t", err, sizeof(err)));
    assert_non_null(strstr(err, "more than"));
    ops_local_free(&l);
}

static void ops_conf_is_read_strictly(void **state)
{
    (void)state;
    char path[128];
    struct ops_local l;
    struct conf_report rep;
    conf_report_init(&rep);
    /* missing file: the defaults */
    assert_int_equal(ops_local_read(dir, &l, &rep), 0);
    assert_string_equal(l.edges, OPS_DEFAULT_EDGE);
    assert_null(l.edge_keys);
    assert_int_equal(l.timeout_ms, 2000);
    assert_int_equal(l.cache_ms, 3000);
    ops_local_free(&l);
    snprintf(path, sizeof(path), "%s/%s", dir, OPS_CONF_FILE);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("edges = \"tcp://10.0.0.1:5555\";\ntimeout_ms = 5;\nbogus = 1;\n", f);
    fclose(f);
    assert_int_equal(ops_local_read(dir, &l, &rep), -1);
    assert_true(rep.n >= 2); /* both problems, each with its line */
    ops_local_free(&l);
    conf_report_clear(&rep);
    unlink(path);
}

static void unanswered_edge_has_a_reason_within_the_timeout(void **state)
{
    (void)state;
    char ep[64], err[256];
    snprintf(ep, sizeof(ep), "tcp://127.0.0.1:%u", dead_port());
    struct ops_local l = local(ep, NULL, 300);
    struct ops_stats *s = ops_stats_new(dir, &l, "test", err, sizeof(err));
    ops_local_free(&l);
    assert_non_null(s);
    assert_int_equal(ops_stats_edges(s), 1);
    uint64_t t0 = now_ms();
    const struct ops_report *r = ops_stats_query(s, true);
    uint64_t took = now_ms() - t0;
    assert_non_null(r);
    assert_true(took >= 290 && took < 300 + 500);
    assert_false(r->cached);
    assert_int_equal(r->n_edges, 1);
    assert_string_equal(r->edges[0].endpoint, ep);
    assert_false(r->edges[0].connected);
    assert_non_null(strstr(r->edges[0].reason, "no answer within 0.3 s"));
    assert_string_equal(r->edges[0].name, "");

    /* within cache_ms: the same answer, at once */
    t0 = now_ms();
    const struct ops_report *again = ops_stats_query(s, true);
    assert_ptr_equal(again, r);
    assert_true(again->cached);
    assert_true(now_ms() - t0 < 100);
    /* not cached when the caller asks afresh */
    again = ops_stats_query(s, false);
    assert_false(again->cached);
    ops_stats_free(s);
}

static void missing_keys_are_named(void **state)
{
    (void)state;
    char err[256];
    struct ops_local l = local("tcp://127.0.0.1:1", NULL, 2000);
    l.ipc_key = strdup("keys/gateway/nobody");
    struct ops_stats *s = ops_stats_new(dir, &l, "test", err, sizeof(err));
    ops_local_free(&l);
    assert_non_null(s);
    uint64_t t0 = now_ms();
    const struct ops_report *r = ops_stats_query(s, false);
    assert_true(now_ms() - t0 < 500); /* nothing to wait for */
    assert_false(r->edges[0].connected);
    assert_non_null(strstr(r->edges[0].reason, "cannot load the operator key pair"));
    assert_non_null(strstr(r->edges[0].reason, "keys/gateway/nobody"));
    ops_stats_free(s);

    l = local("tcp://127.0.0.1:1", "keys/missing.pub", 2000);
    s = ops_stats_new(dir, &l, "test", err, sizeof(err));
    ops_local_free(&l);
    assert_non_null(s);
    r = ops_stats_query(s, false);
    assert_false(r->edges[0].connected);
    assert_non_null(strstr(r->edges[0].reason, "cannot load the edge's public key"));
    ops_stats_free(s);
}

/* A report as ops_stats_query() gives it (streams sorted by partner and
 * direction): one stream with a partner still negotiating, two with
 * another partner (one each way), a gateway, and an edge that did not
 * answer. */
static struct ops_stream stream(char *id, char *partner, int direction, const char *tls, int auth,
                                uint64_t since, uint64_t in, uint64_t out)
{
    struct ops_stream s = {.stream_id = id, .local = "contoso.example", .partner = partner};
    s.direction = (uint8_t)direction;
    snprintf(s.tls_version, sizeof(s.tls_version), "%s", tls);
    s.auth = (uint8_t)auth;
    s.since = since;
    s.stanzas_in = in;
    s.stanzas_out = out;
    return s;
}

static struct ops_report *sample(void)
{
    static struct ops_stream st[3];
    static struct ops_gateway gw[1];
    static struct ops_edge e[2];
    static struct ops_report r;
    st[0] = stream("s3", "<b>x.example", IPC_DIR_INBOUND, "", IPC_AUTH_NONE, 1700000200, 0, 0);
    st[1] = stream("s1", "fabrikam.example", IPC_DIR_INBOUND, "TLSv1.3", IPC_AUTH_SASL_EXTERNAL,
                   1700000000, 5, 7);
    st[2] = stream("s2", "fabrikam.example", IPC_DIR_OUTBOUND, "TLSv1.2", IPC_AUTH_DIALBACK,
                   1700000100, 1, 2);
    gw[0] = (struct ops_gateway){.name = "gw1", .since = 1700000000, .unacked = 3, .users = 42};
    e[0] = (struct ops_edge){.endpoint = "tcp://10.0.0.1:5555", .connected = true, .name = "edge1"};
    e[0].conf_version = 3;
    e[0].answered_at = 1700000300;
    e[0].answer_ms = 4;
    e[0].streams = st;
    e[0].n_streams = 3;
    e[0].gateways = gw;
    e[0].n_gateways = 1;
    e[1] = (struct ops_edge){.endpoint = "tcp://10.0.0.2:5555", .name = ""};
    snprintf(e[1].reason, sizeof(e[1].reason), "no answer within 2.0 s");
    r = (struct ops_report){.at = 1700000300, .edges = e, .n_edges = 2};
    return &r;
}

static const struct pjson *at(const struct pjson *v, size_t i)
{
    assert_true(v->type == PJ_ARRAY && i < v->n);
    return &v->item[i];
}

static void json_view_counts_partners_and_flags_stale(void **state)
{
    (void)state;
    struct jbuf b;
    jbuf_init(&b);
    ops_report_json(&b, sample(), NULL, 4);
    assert_false(b.failed);
    const char *why;
    size_t off;
    struct pjson *doc = pjson_parse(b.s, b.len, &pjson_default_limits, &why, &off);
    assert_non_null(doc);
    assert_true(pjson_get(doc, "available")->b);
    const struct pjson *edges = pjson_get(doc, "edges");
    const struct pjson *e0 = at(edges, 0), *e1 = at(edges, 1);
    assert_true(pjson_get(e0, "connected")->b);
    assert_string_equal(pjson_get(e0, "config_state")->str, "stale");
    assert_string_equal(pjson_get(e0, "config_version")->str, "3");
    assert_string_equal(pjson_get(e0, "last_seen")->str, "2023-11-14T22:18:20Z");
    const struct pjson *p = pjson_get(e0, "partners");
    assert_int_equal(p->n, 2);
    assert_string_equal(pjson_get(at(p, 1), "partner")->str, "fabrikam.example");
    assert_string_equal(pjson_get(at(p, 1), "inbound")->str, "1");
    assert_string_equal(pjson_get(at(p, 1), "outbound")->str, "1");
    const struct pjson *s = at(pjson_get(e0, "streams"), 1);
    assert_string_equal(pjson_get(s, "auth_method")->str, "sasl-external");
    assert_string_equal(pjson_get(s, "tls_version")->str, "TLSv1.3");
    assert_string_equal(pjson_get(at(pjson_get(e0, "gateways"), 0), "unacked")->str, "3");
    assert_string_equal(pjson_get(at(pjson_get(e0, "gateways"), 0), "users")->str, "42");
    assert_false(pjson_get(e1, "connected")->b);
    assert_int_equal(pjson_get(e1, "config_version")->type, PJ_NULL);
    assert_string_equal(pjson_get(e1, "reason")->str, "no answer within 2.0 s");
    pjson_free(doc);
    jbuf_free(&b);

    /* no source: available false, the reason, no edge */
    jbuf_init(&b);
    ops_report_json(&b, NULL, "nothing here", 4);
    doc = pjson_parse(b.s, b.len, &pjson_default_limits, &why, &off);
    assert_non_null(doc);
    assert_false(pjson_get(doc, "available")->b);
    assert_string_equal(pjson_get(doc, "reason")->str, "nothing here");
    assert_int_equal(pjson_get(doc, "edges")->n, 0);
    pjson_free(doc);
    jbuf_free(&b);
}

static void html_view_escapes_and_marks_states(void **state)
{
    (void)state;
    struct ops_report *r = sample();
    struct panel_status st = {.available = true, .report = r};
    struct pbuf b;
    pbuf_init(&b);
    panel_status_html(&b, &st, 4);
    assert_false(b.failed);
    assert_non_null(strstr(b.s, "1 of 2 edges connected"));
    assert_non_null(strstr(b.s, "data-state=\"connected\""));
    assert_non_null(strstr(b.s, "data-state=\"not-connected\""));
    assert_non_null(strstr(b.s, "data-config=\"stale\""));
    assert_non_null(strstr(b.s, "no answer within 2.0 s"));
    assert_non_null(strstr(b.s, "&lt;b&gt;x.example"));
    assert_null(strstr(b.s, "<b>x"));
    assert_non_null(strstr(b.s, "negotiating"));
    assert_non_null(strstr(b.s, ">gw1<"));
    pbuf_free(&b);

    struct panel_status none = {.available = false};
    snprintf(none.why, sizeof(none.why), "nothing here");
    pbuf_init(&b);
    panel_status_html(&b, &none, 4);
    assert_non_null(strstr(b.s, "id=\"edge-state\"><strong>Not connected.</strong> nothing here"));
    assert_non_null(strstr(b.s, "id=\"gateway-state\""));
    pbuf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(config_state_words),
        cmocka_unit_test(bad_settings_are_refused),
        cmocka_unit_test(ops_conf_is_read_strictly),
        cmocka_unit_test(unanswered_edge_has_a_reason_within_the_timeout),
        cmocka_unit_test(missing_keys_are_named),
        cmocka_unit_test(json_view_counts_partners_and_flags_stale),
        cmocka_unit_test(html_view_escapes_and_marks_states),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
