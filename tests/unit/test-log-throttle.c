/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* One message of a kind per interval (log-throttle.h), with the time given by the test. */

#define TEST_PREFIX "/log-throttle"

#include <glib.h>

#include "log-throttle.h"
#include "macro.h"
#include "test-util.h"

#define S USEC_PER_SEC

TEST(interval) {
        LogThrottle t = LOG_THROTTLE_INIT(10 * S);
        usec_t t0 = 1000 * S;
        unsigned held = 99;

        /* The first message passes, with nothing held back. */
        g_assert_true(log_throttle_pass(&t, t0, &held));
        g_assert_cmpuint(held, ==, 0);
        /* Within the interval: held back and counted; *ret_held untouched. */
        held = 99;
        for (unsigned i = 1; i <= 3; i++)
                g_assert_false(log_throttle_pass(&t, t0 + i * S, &held));
        g_assert_false(log_throttle_pass(&t, t0 + 10 * S - 1, &held));
        g_assert_cmpuint(held, ==, 99);
        /* At the interval's end: passes and says how many were held back. */
        g_assert_true(log_throttle_pass(&t, t0 + 10 * S, &held));
        g_assert_cmpuint(held, ==, 4);
        /* The count starts again; the interval runs from the last message let through. */
        g_assert_false(log_throttle_pass(&t, t0 + 19 * S, NULL));
        g_assert_true(log_throttle_pass(&t, t0 + 20 * S, &held));
        g_assert_cmpuint(held, ==, 1);
        /* After a quiet time: at once, nothing held. */
        g_assert_true(log_throttle_pass(&t, t0 + 100 * S, &held));
        g_assert_cmpuint(held, ==, 0);
}

TEST(zero_interval) {
        LogThrottle t = LOG_THROTTLE_INIT(0);
        unsigned held = 99;

        /* No throttle: every message passes. */
        for (usec_t now = 1; now < 5; now++) {
                g_assert_true(log_throttle_pass(&t, now, &held));
                g_assert_cmpuint(held, ==, 0);
        }
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);

        test_add_registered();
        return g_test_run();
}
