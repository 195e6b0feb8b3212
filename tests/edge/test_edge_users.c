/*
 * test_edge_users.c - the users an edge remembers and each gateway's share
 * (edge/edge_users.h): the set's cap, shares that add up, an even spread,
 * and the rendezvous property that a gateway leaving or joining moves only
 * its own users.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "edge_users.h"

#define USERS 30000

static uint64_t user(int i)
{
    char b[64];
    snprintf(b, sizeof(b), "user%d@contoso.example", i);
    return edge_users_hash(b);
}

static size_t pick(uint64_t u, const char *const *names, size_t n)
{
    size_t best = 0;
    for (size_t j = 1; j < n; j++)
        if (edge_users_score(u, names[j]) > edge_users_score(u, names[best]))
            best = j;
    return best;
}

static void remembers_up_to_cap(void **state)
{
    (void)state;
    struct edge_users *u = edge_users_new(100);
    assert_non_null(u);
    for (int i = 0; i < 100; i++)
        assert_int_equal(edge_users_add(u, user(i)), 0);
    assert_int_equal(edge_users_add(u, user(5)), 0); /* known: no growth */
    assert_int_equal(edge_users_count(u), 100);
    assert_false(edge_users_full(u));
    assert_int_equal(edge_users_add(u, user(100)), -1);
    assert_true(edge_users_full(u));
    assert_int_equal(edge_users_count(u), 100);
    edge_users_free(u);

    struct edge_users *none = edge_users_new(0);
    assert_non_null(none);
    assert_int_equal(edge_users_add(none, user(1)), -1);
    assert_int_equal(edge_users_count(none), 0);
    edge_users_free(none);
}

static void case_and_hash(void **state)
{
    (void)state;
    assert_int_equal(edge_users_hash("bob@contoso.example"),
                     edge_users_hash("bob@contoso.example"));
    assert_int_not_equal(edge_users_hash("bob@contoso.example"),
                         edge_users_hash("bob2@contoso.example"));
    assert_int_not_equal(edge_users_hash(""), 0);
}

static void shares_add_up_and_spread_evenly(void **state)
{
    (void)state;
    const char *names[3] = {"gw1", "gw2", "gw3"};
    struct edge_users *u = edge_users_new(USERS);
    for (int i = 0; i < USERS; i++)
        assert_int_equal(edge_users_add(u, user(i)), 0);
    uint32_t c[3];
    edge_users_share(u, names, 3, c);
    assert_int_equal(c[0] + c[1] + c[2], USERS);
    for (int j = 0; j < 3; j++) /* within 5% of a third */
        assert_in_range(c[j], USERS / 3 - USERS / 60, USERS / 3 + USERS / 60);
    /* the share is exactly what picking each user gives */
    uint32_t d[3] = {0, 0, 0};
    for (int i = 0; i < USERS; i++)
        d[pick(user(i), names, 3)]++;
    for (int j = 0; j < 3; j++)
        assert_int_equal(c[j], d[j]);
    edge_users_share(u, names, 0, c); /* no gateway: nothing to count */
    edge_users_free(u);
}

static void leaving_gateway_moves_only_its_users(void **state)
{
    (void)state;
    const char *three[3] = {"gw1", "gw2", "gw3"};
    const char *two[2] = {"gw1", "gw3"}; /* gw2 died */
    int moved_other = 0, moved_own = 0, gw2_users = 0;
    for (int i = 0; i < USERS; i++) {
        const char *before = three[pick(user(i), three, 3)];
        const char *after = two[pick(user(i), two, 2)];
        if (before == three[1]) {
            gw2_users++;
            moved_own += after != before;
        } else {
            moved_other += after != before;
        }
    }
    assert_int_equal(moved_other, 0);
    assert_int_equal(moved_own, gw2_users);
    /* and back: gw2 rejoins, takes exactly its users again */
    for (int i = 0; i < USERS; i++) {
        size_t b = pick(user(i), three, 3);
        size_t a = pick(user(i), two, 2);
        if (b != 1)
            assert_ptr_equal(three[b], two[a]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(remembers_up_to_cap),
        cmocka_unit_test(case_and_hash),
        cmocka_unit_test(shares_add_up_and_spread_evenly),
        cmocka_unit_test(leaving_gateway_moves_only_its_users),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
