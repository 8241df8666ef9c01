/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Per-VM token buckets (ratelimit.h), with the time given by the test. */

#define TEST_PREFIX "/ratelimit"

#include <glib.h>

#include "macro.h"
#include "ratelimit.h"
#include "test-util.h"

#define MS USEC_PER_MSEC

TEST(default) {
        _cleanup_(ratelimit_freep) RateLimit *rl = NULL;
        usec_t wait = 0, t0 = 1000 * USEC_PER_SEC;

        g_assert_cmpint(ratelimit_new(5, 5, 100, &rl), ==, 0);
        /* 5 at once, the 6th within the second is refused. */
        for (int i = 0; i < 5; i++)
                g_assert_cmpint(ratelimit_check(rl, "vm-a", t0 + i * MS, NULL), ==, 1);
        g_assert_cmpint(ratelimit_check(rl, "vm-a", t0 + 5 * MS, &wait), ==, 0);
        /* Next token at t0 + 200 ms. */
        g_assert_cmpuint(wait, ==, 195 * MS);
        /* Other VMs are not affected. */
        g_assert_cmpint(ratelimit_check(rl, "vm-b", t0 + 5 * MS, NULL), ==, 1);
        /* Refused requests do not consume. */
        g_assert_cmpint(ratelimit_check(rl, "vm-a", t0 + 199 * MS, &wait), ==, 0);
        g_assert_cmpuint(wait, ==, 1 * MS);
        g_assert_cmpint(ratelimit_check(rl, "vm-a", t0 + 200 * MS, NULL), ==, 1);
        g_assert_cmpint(ratelimit_check(rl, "vm-a", t0 + 201 * MS, NULL), ==, 0);
        /* A steady 5/s is always allowed. */
        for (int i = 0; i < 50; i++)
                g_assert_cmpint(ratelimit_check(rl, "vm-c", t0 + i * 200 * MS, NULL), ==, 1);
        /* After a full second of silence the burst is back. */
        for (int i = 0; i < 5; i++)
                g_assert_cmpint(ratelimit_check(rl, "vm-a", t0 + 1400 * MS, NULL), ==, 1);
        g_assert_cmpint(ratelimit_check(rl, "vm-a", t0 + 1400 * MS, NULL), ==, 0);
}

TEST(weighted) {
        _cleanup_(ratelimit_freep) RateLimit *rl = NULL;
        usec_t wait = 0, t0 = 1000 * USEC_PER_SEC;

        /* 1000 units per second, a burst of 3000: a request of 2500 units, then one of 2500 (the
         * bucket is not over its burst yet), then none until 2 s have refilled enough. */
        g_assert_cmpint(ratelimit_new(1000, 3000, 100, &rl), ==, 0);
        g_assert_cmpint(ratelimit_check_n(rl, "uid", 2500, t0, NULL), ==, 1);
        g_assert_cmpint(ratelimit_check_n(rl, "uid", 2500, t0, NULL), ==, 1);
        g_assert_cmpint(ratelimit_check_n(rl, "uid", 1, t0, &wait), ==, 0);
        g_assert_cmpuint(wait, ==, 2001 * MS);
        /* Refused requests do not consume, whatever their size. */
        g_assert_cmpint(ratelimit_check_n(rl, "uid", 100000, t0 + 2000 * MS, NULL), ==, 0);
        g_assert_cmpint(ratelimit_check_n(rl, "uid", 2500, t0 + 2001 * MS, NULL), ==, 1);
        g_assert_cmpint(ratelimit_check(rl, "uid", t0 + 2001 * MS, &wait), ==, 0);
        g_assert_cmpuint(wait, ==, 2500 * MS);
        /* n = 1 is ratelimit_check(). */
        g_assert_cmpint(ratelimit_check_n(rl, "other", 1, t0, NULL), ==, 1);
        g_assert_cmpuint(ratelimit_size(rl), ==, 2);
}

TEST(burst) {
        _cleanup_(ratelimit_freep) RateLimit *rl = NULL;

        g_assert_cmpint(ratelimit_new(5, 20, 100, &rl), ==, 0);
        for (int i = 0; i < 20; i++)
                g_assert_cmpint(ratelimit_check(rl, "x", 0 + USEC_PER_SEC, NULL), ==, 1);
        g_assert_cmpint(ratelimit_check(rl, "x", USEC_PER_SEC, NULL), ==, 0);
        rl = ratelimit_free(rl);

        g_assert_cmpint(ratelimit_new(1, 1, 100, &rl), ==, 0);
        g_assert_cmpint(ratelimit_check(rl, "x", USEC_PER_SEC, NULL), ==, 1);
        g_assert_cmpint(ratelimit_check(rl, "x", USEC_PER_SEC + 999 * MS, NULL), ==, 0);
        g_assert_cmpint(ratelimit_check(rl, "x", 2 * USEC_PER_SEC, NULL), ==, 1);
}

TEST(unlimited_invalid) {
        _cleanup_(ratelimit_freep) RateLimit *rl = NULL;
        RateLimit *bad = NULL;

        g_assert_cmpint(ratelimit_new(0, 1, 1, &rl), ==, 0);
        for (int i = 0; i < 1000; i++)
                g_assert_cmpint(ratelimit_check(rl, "x", 1, NULL), ==, 1);
        g_assert_cmpint(ratelimit_new(5, 0, 1, &bad), ==, -EINVAL);
        g_assert_cmpint(ratelimit_new(5, 1, 0, &bad), ==, -EINVAL);
        g_assert_null(ratelimit_free(NULL));
}

TEST(many_keys) {
        _cleanup_(ratelimit_freep) RateLimit *rl = NULL;
        char key[32];
        usec_t t0 = USEC_PER_SEC;

        g_assert_cmpint(ratelimit_new(5, 2, 1000, &rl), ==, 0);
        /* Growth of the table keeps every key's state. */
        for (int i = 0; i < 1000; i++) {
                snprintf(key, sizeof key, "52:54:00:00:%02x:%02x", i / 256, i % 256);
                g_assert_cmpint(ratelimit_check(rl, key, t0, NULL), ==, 1);
                g_assert_cmpint(ratelimit_check(rl, key, t0, NULL), ==, 1);
        }
        g_assert_cmpuint(ratelimit_size(rl), ==, 1000);
        for (int i = 0; i < 1000; i++) {
                snprintf(key, sizeof key, "52:54:00:00:%02x:%02x", i / 256, i % 256);
                g_assert_cmpint(ratelimit_check(rl, key, t0, NULL), ==, 0);
        }
        /* Full table, all limited: a new key is refused rather than tracked... */
        g_assert_cmpint(ratelimit_check(rl, "new", t0, NULL), ==, 0);
        g_assert_cmpuint(ratelimit_size(rl), ==, 1000);
        /* ...until buckets refill: then they are forgotten and the new key fits. */
        g_assert_cmpint(ratelimit_check(rl, "new", t0 + USEC_PER_SEC, NULL), ==, 1);
        g_assert_cmpuint(ratelimit_size(rl), ==, 1);
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);

        test_add_registered();
        return g_test_run();
}
