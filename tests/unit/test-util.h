/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What the C tests (GLib's test framework) share: a temporary directory, made and removed, a
 * free loopback TCP port, and one test a row of a case table. Header-only; tests/unit/meson.build
 * exports its folder as test_util_inc. */

#include <arpa/inet.h>
#include <glib.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
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

/* A row of a case table and the function that checks it (test_add_case). */
typedef struct TestCaseRun {
        GTestDataFunc fn;
        const void *data;
} TestCaseRun;

/* Says which case runs before it runs: an assertion that fails aborts the program before GLib
 * prints the test's path, so the line "# case /prefix/name" stands right above its message. */
static inline void test_case_run(const void *p) {
        const TestCaseRun *run = p;

        g_test_message("case %s", g_test_get_path());
        run->fn(run->data);
}

/* The test path "prefix/name" of a row of a case table. The name is written as C escapes where it
 * is not printable ASCII (g_strescape, but for '"'), '/' and '#' (a path separator, a TAP directive) as '_';
 * NULL as "(null)" and "" as "(empty)". */
static inline char *test_case_path(const char *prefix, const char *name) {
        g_autofree char *escaped = g_strescape(name ? (name[0] ? name : "(empty)") : "(null)", "\"");

        for (char *p = escaped; *p; p++)
                if (*p == '/' || *p == '#')
                        *p = '_';
        return g_strconcat(prefix, "/", escaped, NULL);
}

/* Registers fn(data) as the test test_case_path(prefix, name): one test a row of a case table,
 * so that a failing row is named by its test path. */
static inline void test_add_case(const char *prefix, const char *name, const void *data, GTestDataFunc fn) {
        g_autofree char *path = test_case_path(prefix, name);
        TestCaseRun *run = g_new(TestCaseRun, 1);

        *run = (TestCaseRun){.fn = fn, .data = data};
        g_test_add_data_func_full(path, run, test_case_run, g_free);
}

/* test_add_case() for every row of the array cases, named by its member name_member. */
#define test_add_cases(prefix, cases, name_member, fn)      \
        for (size_t _i = 0; _i < G_N_ELEMENTS(cases); _i++) \
        test_add_case(prefix, (cases)[_i].name_member, &(cases)[_i], fn)

/* A string and whether a predicate holds for it: a row of test_add_predicate_cases(). */
typedef struct TestPredicateCase {
        const char *in;
        bool expected;
} TestPredicateCase;

typedef struct TestPredicateRun {
        bool (*predicate)(const char *s);
        const TestPredicateCase *row;
} TestPredicateRun;

static inline void test_predicate_run(const void *p) {
        const TestPredicateRun *run = p;

        g_test_message("case %s", g_test_get_path());
        g_assert_cmpint(run->predicate(run->row->in), ==, run->row->expected);
}

/* One test a row of cases, named by its input: predicate(in) must be expected. */
static inline void test_add_predicate_cases(const char *prefix, bool (*predicate)(const char *s),
        const TestPredicateCase *cases, size_t n) {
        for (size_t i = 0; i < n; i++) {
                g_autofree char *path = test_case_path(prefix, cases[i].in);
                TestPredicateRun *run = g_new(TestPredicateRun, 1);

                *run = (TestPredicateRun){.predicate = predicate, .row = &cases[i]};
                g_test_add_data_func_full(path, run, test_predicate_run, g_free);
        }
}
