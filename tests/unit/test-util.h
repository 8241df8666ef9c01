/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What the C tests (GLib's test framework) share: a temporary directory, made and removed.
 * Header-only; tests/unit/meson.build exports its folder as test_util_inc. */

#include <glib.h>
#include <stdlib.h>

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
