/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What the C tests (GLib's test framework) share: a temporary directory, made and removed, and
 * a free loopback TCP port. Header-only; tests/unit/meson.build exports its folder as
 * test_util_inc. */

#include <arpa/inet.h>
#include <glib.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

/* A new directory under $TMPDIR from template ("name-XXXXXX"); the test fails when it cannot be
 * made. */
static inline char *test_make_tmpdir(const char *template) {
        g_autoptr(GError) error = NULL;
        char *dir = g_dir_make_tmp(template, &error);

        g_assert_no_error(error);
        g_assert_nonnull(dir);
        return dir;
}

/* Removes path and everything below it; the test fails when that fails. */
static inline void test_rm_rf(const char *path) {
        g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", path);

        g_assert_cmpint(system(cmd), ==, 0);
}

/* A TCP port of 127.0.0.1 that is free now (bound and released again). */
static inline uint16_t test_free_port(void) {
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof sa;
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        g_assert_cmpint(fd, >=, 0);
        g_assert_cmpint(bind(fd, (struct sockaddr *)&sa, sizeof sa), ==, 0);
        g_assert_cmpint(getsockname(fd, (struct sockaddr *)&sa, &len), ==, 0);
        close(fd);
        return ntohs(sa.sin_port);
}
