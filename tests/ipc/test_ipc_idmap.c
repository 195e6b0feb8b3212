/*
 * test_ipc_idmap.c - the id map against a plain reference array, through
 * growth and backward-shift deletions.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "ipc_idmap.h"

#define N 20000

static void matches_reference_under_random_operations(void **state)
{
    (void)state;
    struct ipc_idmap *m = ipc_idmap_new(4);
    assert_non_null(m);
    static uintptr_t ref[N]; /* ref[k]: value stored under key k + 1, 0 = none */
    size_t count = 0;
    uint64_t x = 88172645463325252ULL;
    for (int step = 0; step < 400000; step++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        uint64_t k = x % N;
        if ((x >> 32) % 3 == 0) {
            void *v = ipc_idmap_del(m, k + 1);
            assert_true((uintptr_t)v == ref[k]);
            if (ref[k])
                count--;
            ref[k] = 0;
        } else {
            uintptr_t val = (uintptr_t)(step + 1) << 1;
            assert_int_equal(ipc_idmap_put(m, k + 1, (void *)val), 0);
            if (!ref[k])
                count++;
            ref[k] = val;
        }
        if (step % 50000 == 0) {
            for (uint64_t j = 0; j < N; j++)
                assert_true((uintptr_t)ipc_idmap_get(m, j + 1) == ref[j]);
        }
        assert_int_equal(ipc_idmap_count(m), count);
    }
    ipc_idmap_free(m);
}

static void key_zero_and_null_value_refused(void **state)
{
    (void)state;
    struct ipc_idmap *m = ipc_idmap_new(0);
    assert_int_equal(ipc_idmap_put(m, 0, m), -1);
    assert_int_equal(ipc_idmap_put(m, 1, NULL), -1);
    assert_null(ipc_idmap_get(m, 0));
    assert_null(ipc_idmap_del(m, 5));
    ipc_idmap_free(m);
    ipc_idmap_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(matches_reference_under_random_operations),
        cmocka_unit_test(key_zero_and_null_value_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
