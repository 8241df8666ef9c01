/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The port mark (legacy-mark.h): how the legacy firewall encodes a port's ifindex in the
 * packet mark and how the HTTP frontend reads it back; marks outside our tag identify
 * nobody. */

#define TEST_PREFIX "/legacy-mark"

#include <glib.h>

#include "legacy-mark.h"
#include "test-util.h"

TEST(round_trip) {
        static const int ifindexes[] = {1, 2, 3, 255, 256, 65535, 65536, LEGACY_MARK_IFINDEX_MAX};
        uint32_t mark = 0;

        for (size_t i = 0; i < ELEMENTSOF(ifindexes); i++) {
                g_assert_cmpint(legacy_mark_from_ifindex(ifindexes[i], &mark), ==, 0);
                g_assert_cmphex(mark & LEGACY_MARK_MASK, ==, LEGACY_MARK_TAG);
                g_assert_cmpint(legacy_mark_to_ifindex(mark), ==, ifindexes[i]);
        }
        g_assert_cmpint(legacy_mark_from_ifindex(3, &mark), ==, 0);
        g_assert_cmphex(mark, ==, 0xa5000003);
}

TEST(ifindex_out_of_range) {
        uint32_t mark = 7;

        g_assert_cmpint(legacy_mark_from_ifindex(0, &mark), ==, -ERANGE);
        g_assert_cmpint(legacy_mark_from_ifindex(-1, &mark), ==, -ERANGE);
        g_assert_cmpint(legacy_mark_from_ifindex(LEGACY_MARK_IFINDEX_MAX + 1, &mark), ==, -ERANGE);
        g_assert_cmpint(legacy_mark_from_ifindex(INT32_MAX, &mark), ==, -ERANGE);
        g_assert_cmphex(mark, ==, 7); /* untouched */
}

TEST(foreign_marks) {
        /* No mark (the host itself, unmarked ports, tcp_fwmark_accept off), our tag without an
         * ifindex, and marks other software uses: nobody. */
        static const uint32_t marks[] = {0, 1, 3, 0xa5000000, 0x4000, 0x8000, 0xa4000003, 0xa6000003,
                0x25000003, 0xffffffff, 0xca6c};

        for (size_t i = 0; i < ELEMENTSOF(marks); i++)
                g_assert_cmpint(legacy_mark_to_ifindex(marks[i]), ==, -ENOENT);
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        test_add_registered();
        return g_test_run();
}
