/*
 * test_ipc_edges.c - the `edges` / `edge_keys` lists of gateway.conf and
 * ops.conf: separators, default key, relative and absolute key files, Z85
 * keys, and each refusal with the key it names.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ipc_edges.h"
#include "ipc_keys.h"

#define MAX 4

static void one_edge_default_key(void **state)
{
    (void)state;
    struct ipc_edge_spec v[MAX];
    const char *bad;
    char err[256];
    int n = ipc_edges_parse("tcp://127.0.0.1:5555", NULL, "/etc/xfed", "keys/edge.pub", v, MAX,
                            &bad, err, sizeof(err));
    assert_int_equal(n, 1);
    assert_string_equal(v[0].endpoint, "tcp://127.0.0.1:5555");
    assert_string_equal(v[0].key, "/etc/xfed/keys/edge.pub");
    ipc_edges_free(v, n);
}

static void several_edges_mixed_keys(void **state)
{
    (void)state;
    struct ipc_keypair kp;
    assert_int_equal(ipc_keys_generate(&kp), 0);
    char keys[256];
    snprintf(keys, sizeof(keys), "keys/a.pub, /srv/b.pub\t%s", kp.public_key);
    struct ipc_edge_spec v[MAX];
    const char *bad;
    char err[256];
    int n = ipc_edges_parse(" tcp://10.0.0.1:5555,tcp://10.0.0.2:5555 \n ipc:///run/e3", keys,
                            "/etc/xfed", "keys/edge.pub", v, MAX, &bad, err, sizeof(err));
    assert_int_equal(n, 3);
    assert_string_equal(v[0].endpoint, "tcp://10.0.0.1:5555");
    assert_string_equal(v[1].endpoint, "tcp://10.0.0.2:5555");
    assert_string_equal(v[2].endpoint, "ipc:///run/e3");
    assert_string_equal(v[0].key, "/etc/xfed/keys/a.pub");
    assert_string_equal(v[1].key, "/srv/b.pub");
    assert_string_equal(v[2].key, kp.public_key);
    ipc_edges_free(v, n);
}

static void expect_refused(const char *edges, const char *keys, const char *key, const char *msg)
{
    struct ipc_edge_spec v[MAX];
    const char *bad = NULL;
    char err[256] = "";
    assert_int_equal(
        ipc_edges_parse(edges, keys, "/etc/xfed", "keys/edge.pub", v, MAX, &bad, err, sizeof(err)),
        -1);
    assert_string_equal(bad, key);
    if (strstr(err, msg) == NULL)
        fail_msg("'%s' does not contain '%s'", err, msg);
}

static void refusals(void **state)
{
    (void)state;
    expect_refused("", NULL, "edges", "at least one edge endpoint is needed");
    expect_refused(NULL, NULL, "edges", "at least one edge endpoint is needed");
    expect_refused(" , ", NULL, "edges", "at least one edge endpoint is needed");
    expect_refused("tcp://a:1 tcp://b:1 tcp://c:1 tcp://d:1 tcp://e:1", NULL, "edges",
                   "more than 4 edges");
    expect_refused("tcp://a:1, udp://b:1", NULL, "edges", "'udp://b:1' is not tcp://host:port");
    expect_refused("10.0.0.1:5555", NULL, "edges", "is not tcp://host:port or ipc://path");
    expect_refused("tcp://a:1, tcp://b:1", "keys/a.pub", "edge_keys", "1 key(s) for 2 edge(s)");
    expect_refused("tcp://a:1", "k1 k2", "edge_keys", "2 key(s) for 1 edge(s)");
    expect_refused("tcp://a:1", "k1 k2 k3 k4 k5", "edge_keys", "5 key(s) for 1 edge(s)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(one_edge_default_key),
        cmocka_unit_test(several_edges_mixed_keys),
        cmocka_unit_test(refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
