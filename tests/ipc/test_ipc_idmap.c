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

/* The channel's pattern: ids 1, 2, 3, ... put in order and deleted oldest
 * first with about W in flight, with some acknowledged out of order, and
 * far-apart ids (high bits set) mixed in. */
static void sliding_window_of_sequential_ids(void **state)
{
    (void)state;
    enum { W = 3000, TOTAL = 200000 };
    struct ipc_idmap *m = ipc_idmap_new(16);
    assert_non_null(m);
    static unsigned char gone[TOTAL + 1]; /* deleted out of order */
    uint64_t oldest = 1;
    size_t count = 0;
    for (uint64_t id = 1; id <= TOTAL; id++) {
        assert_int_equal(ipc_idmap_put(m, id, (void *)(uintptr_t)(id * 2)), 0);
        uint64_t far = id << 40 | 7;
        assert_int_equal(ipc_idmap_put(m, far, (void *)(uintptr_t)3), 0);
        assert_true((uintptr_t)ipc_idmap_del(m, far) == 3);
        count++;
        if (id % 7 == 0 && id - 5 >= oldest && !gone[id - 5]) {
            assert_true((uintptr_t)ipc_idmap_del(m, id - 5) == (id - 5) * 2);
            gone[id - 5] = 1;
            count--;
        }
        while (id - oldest >= W) {
            void *v = ipc_idmap_del(m, oldest);
            if (gone[oldest]) {
                assert_null(v);
            } else {
                assert_true((uintptr_t)v == oldest * 2);
                count--;
            }
            oldest++;
        }
        assert_int_equal(ipc_idmap_count(m), count);
        if (id % 10007 == 0) {
            for (uint64_t j = oldest > 100 ? oldest - 100 : 1; j <= id + 100; j++) {
                uintptr_t want = (j >= oldest && j <= id && !gone[j]) ? j * 2 : 0;
                assert_true((uintptr_t)ipc_idmap_get(m, j) == want);
            }
        }
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
        cmocka_unit_test(sliding_window_of_sequential_ids),
        cmocka_unit_test(key_zero_and_null_value_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
