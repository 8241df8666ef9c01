/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* rtnl_call() (service/shared/netlink.c) on a real rtnetlink socket: a callback that fails
 * (out of memory, a malformed message) fails that call only. The rest of the kernel's answer
 * (the ACK, the DONE of a dump) is consumed with it, so the next calls on the same socket read
 * their own answers, not the stale one (which failed them with EPROTO for ever: every guest of
 * the HTTP frontend got 403 until it restarted). Needs no privilege: it only reads links. */

#define TEST_PREFIX "/netlink"

#include <glib.h>
#include <linux/rtnetlink.h>

#include "netlink.h"
#include "test-util.h"

static int fail_cb(const struct nlmsghdr *nlh, void *data) {
        unsigned *n = data;

        (*n)++;
        return -ENOMEM; /* as link_parse() when strdup() fails */
}

static void assert_loopback_thrice(Rtnl *rtnl) {
        for (int i = 0; i < 3; i++) {
                _cleanup_(link_done) Link l = {};

                g_assert_cmpint(link_get(rtnl, NULL, 1, &l), ==, 0);
                g_assert_cmpint(l.ifindex, ==, 1);
                g_assert_cmpstr(l.name, ==, "lo");
        }
}

TEST(callback_error_then_calls_succeed) {
        _cleanup_(rtnl_done) Rtnl rtnl = {};
        char buf[RTNL_REQUEST_SIZE] = {};
        unsigned n = 0;

        g_assert_cmpint(rtnl_open(&rtnl), ==, 0);
        g_assert_cmpint(rtnl_call(&rtnl, link_request(buf, RTM_GETLINK, 0, 1), fail_cb, &n), ==, -ENOMEM);
        g_assert_cmpuint(n, ==, 1);
        assert_loopback_thrice(&rtnl);
}

TEST(dump_callback_error_then_calls_succeed) {
        _cleanup_(rtnl_done) Rtnl rtnl = {};
        char buf[RTNL_REQUEST_SIZE] = {};
        unsigned n = 0;

        g_assert_cmpint(rtnl_open(&rtnl), ==, 0);
        /* The first link's message fails; the callback is not called for the others. */
        g_assert_cmpint(rtnl_call(&rtnl, link_request(buf, RTM_GETLINK, NLM_F_DUMP, 0), fail_cb, &n), ==,
                -ENOMEM);
        g_assert_cmpuint(n, ==, 1);
        assert_loopback_thrice(&rtnl);
}

TEST(kernel_error_then_calls_succeed) {
        _cleanup_(rtnl_done) Rtnl rtnl = {};
        _cleanup_(link_done) Link l = {};

        g_assert_cmpint(rtnl_open(&rtnl), ==, 0);
        g_assert_cmpint(link_get(&rtnl, NULL, INT32_MAX, &l), ==, -ENODEV);
        assert_loopback_thrice(&rtnl);
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        test_add_registered();
        return g_test_run();
}
