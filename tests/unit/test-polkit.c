/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The pure parts of the daemon's polkit checks (service/attestd/polkit.c): the timeouts, what
 * a failed CheckAuthorization means for the caller, the limits on pending checks. The checks
 * themselves run against the real polkitd in tests/integration (test_auth.py). */

#include <errno.h>
#include <glib.h>

#include "polkit.h"

static void test_timeouts(void) {
        /* azshcictl waits 10 minutes for an interactive call (client/azshcictl-util.h):
         * polkit must be given longer, or an admin typing slowly is refused. */
        g_assert_cmpuint(polkit_check_timeout_usec(true), >, 10 * USEC_PER_MINUTE);
        g_assert_cmpuint(polkit_check_timeout_usec(false), ==, 120 * USEC_PER_SEC);
}

static void test_check_failed(void) {
        static const char *const timeouts[] = {SD_BUS_ERROR_NO_REPLY, SD_BUS_ERROR_TIMEOUT};

        for (size_t i = 0; i < G_N_ELEMENTS(timeouts); i++) {
                sd_bus_error e = SD_BUS_ERROR_NULL;

                g_assert_cmpint(polkit_check_failed(timeouts[i], "Connection timed out", "org.example.act",
                                        &e),
                        <, 0);
                g_assert_cmpstr(e.name, ==, SD_BUS_ERROR_ACCESS_DENIED);
                g_assert_cmpstr(e.message, ==, "Authorization was not given in time for org.example.act.");
                sd_bus_error_free(&e);
        }

        sd_bus_error e = SD_BUS_ERROR_NULL;
        g_assert_cmpint(polkit_check_failed(SD_BUS_ERROR_SERVICE_UNKNOWN, "No polkit", "org.example.act",
                                &e),
                <, 0);
        g_assert_cmpstr(e.name, ==, SD_BUS_ERROR_ACCESS_DENIED);
        g_assert_cmpstr(e.message, ==, "Authorization service unavailable: No polkit");
        sd_bus_error_free(&e);
}

static void test_admit(void) {
        sd_bus_error e = SD_BUS_ERROR_NULL;

        g_assert_cmpint(polkit_admit(0, 0, &e), ==, 0);
        g_assert_cmpint(polkit_admit(POLKIT_QUERIES_MAX - 1, POLKIT_QUERIES_PER_CALLER_MAX - 1, &e), ==, 0);
        g_assert_false(sd_bus_error_is_set(&e));

        g_assert_cmpint(polkit_admit(10, POLKIT_QUERIES_PER_CALLER_MAX, &e), <, 0);
        g_assert_cmpstr(e.name, ==, SD_BUS_ERROR_LIMITS_EXCEEDED);
        g_assert_cmpstr(e.message, ==,
                "Too many authorization requests pending for this user (at most 4); answer or cancel one first.");
        sd_bus_error_free(&e);

        g_assert_cmpint(polkit_admit(POLKIT_QUERIES_MAX, 0, &e), <, 0);
        g_assert_cmpstr(e.name, ==, SD_BUS_ERROR_LIMITS_EXCEEDED);
        g_assert_cmpstr(e.message, ==,
                "Too many authorization requests pending (at most 64); try again later.");
        sd_bus_error_free(&e);

        /* below dbus-daemon's default of 128 pending replies per connection */
        g_assert_cmpuint(POLKIT_QUERIES_MAX, <, 128);
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/polkit/timeouts", test_timeouts);
        g_test_add_func("/polkit/check-failed", test_check_failed);
        g_test_add_func("/polkit/admit", test_admit);
        return g_test_run();
}
