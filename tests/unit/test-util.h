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

/* A row of a case table and the function that checks it (test_add_case_full()). */
typedef struct TestCaseRun {
        GTestDataFunc fn;
        const void *data;
        GDestroyNotify free_data;
} TestCaseRun;

/* Says which case runs before it runs: an assertion that fails aborts the program before GLib
 * prints the test's path, so the line "# case /prefix/name" stands right above its message. */
static inline void test_case_run(const void *p) {
        const TestCaseRun *run = p;

        g_test_message("case %s", g_test_get_path());
        run->fn(run->data);
}

static inline void test_case_run_free(void *p) {
        TestCaseRun *run = p;

        if (run->free_data)
                run->free_data((void *)run->data);
        g_free(run);
}

/* The test path "prefix/name" of a row of a case table. The name is written as C escapes where
 * it is not printable ASCII (g_strescape, but for '"'), '/' and '#' (a path separator, a TAP
 * directive) as '_'; NULL as "(null)" and "" as "(empty)". */
static inline char *test_case_path(const char *prefix, const char *name) {
        g_autofree char *escaped = g_strescape(name ? (name[0] ? name : "(empty)") : "(null)", "\"");

        for (char *p = escaped; *p; p++)
                if (*p == '/' || *p == '#')
                        *p = '_';
        return g_strconcat(prefix, "/", escaped, NULL);
}

/* Registers fn(data) as the test test_case_path(prefix, name): one test a row of a case table,
 * so that a failing row is named by its test path. free_data (if not NULL) frees data after the
 * test ran. */
static inline void test_add_case_full(const char *prefix, const char *name, const void *data,
        GTestDataFunc fn, GDestroyNotify free_data) {
        g_autofree char *path = test_case_path(prefix, name);
        TestCaseRun *run = g_new(TestCaseRun, 1);

        *run = (TestCaseRun){.fn = fn, .data = data, .free_data = free_data};
        g_test_add_data_func_full(path, run, test_case_run, test_case_run_free);
}

static inline void test_add_case(const char *prefix, const char *name, const void *data, GTestDataFunc fn) {
        test_add_case_full(prefix, name, data, fn, NULL);
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

static inline void test_predicate_check(const void *p) {
        const TestPredicateRun *run = p;

        g_assert_cmpint(run->predicate(run->row->in), ==, run->row->expected);
}

/* One test a row of cases, named by its input: predicate(in) must be expected. */
static inline void test_add_predicate_cases(const char *prefix, bool (*predicate)(const char *s),
        const TestPredicateCase *cases, size_t n) {
        for (size_t i = 0; i < n; i++) {
                TestPredicateRun *run = g_new(TestPredicateRun, 1);

                *run = (TestPredicateRun){.predicate = predicate, .row = &cases[i]};
                test_add_case_full(prefix, cases[i].in, run, test_predicate_check, g_free);
        }
}

/* A text a loader refuses: its result and exact message (a row of test_add_refusal_cases()). The
 * test is named by name, else by the text or the message (TestRefusalName). */
typedef struct TestRefusalCase {
        const char *text;
        int r;
        const char *message;
        const char *name;
} TestRefusalCase;

typedef enum TestRefusalName {
        TEST_REFUSAL_NAME_TEXT,    /* short texts: the test says what was refused */
        TEST_REFUSAL_NAME_MESSAGE, /* long texts with distinct messages: where and why */
} TestRefusalName;

/* Loads text as the program does: its result, and the message in *ret_error. */
typedef int (*TestLoader)(const char *text, char **ret_error);

typedef struct TestRefusalRun {
        TestLoader load;
        const TestRefusalCase *row;
} TestRefusalRun;

static inline void test_refusal_check(const void *p) {
        const TestRefusalRun *run = p;
        g_autofree char *error = NULL;

        g_assert_cmpint(run->load(run->row->text, &error), ==, run->row->r);
        g_assert_cmpstr(error, ==, run->row->message);
}

/* One test a row of cases: load(text) must give r and exactly message. */
static inline void test_add_refusal_cases(const char *prefix, TestLoader load, const TestRefusalCase *cases,
        size_t n, TestRefusalName naming) {
        for (size_t i = 0; i < n; i++) {
                const char *text_or_message =
                        naming == TEST_REFUSAL_NAME_TEXT ? cases[i].text : cases[i].message;
                TestRefusalRun *run = g_new(TestRefusalRun, 1);

                *run = (TestRefusalRun){.load = load, .row = &cases[i]};
                test_add_case_full(prefix, cases[i].name ?: text_or_message, run, test_refusal_check,
                        g_free);
        }
}

#ifdef TEST_PREFIX
/* Tests that register themselves, as systemd's TEST(): with TEST_PREFIX defined ("/state")
 * before this header is included, TEST(round_trip) { ... } defines test_round_trip() and, before
 * main() runs, records it as the test "/state/round-trip" (its name with '_' written '-').
 * test_add_registered() adds the recorded tests to GLib in the order they stand in the file. */
typedef struct TestRegistration {
        const char *name;
        GTestFunc fn;
        unsigned line;
} TestRegistration;

#define TEST_REGISTRATIONS_MAX 64

typedef struct TestRegistry {
        size_t n;
        TestRegistration tests[TEST_REGISTRATIONS_MAX];
} TestRegistry;

static inline TestRegistry *test_registry(void) {
        static TestRegistry registry;

        return &registry;
}

static inline void test_register(const char *name, GTestFunc fn, unsigned line) {
        TestRegistry *r = test_registry();

        if (r->n >= TEST_REGISTRATIONS_MAX)
                abort();
        r->tests[r->n++] = (TestRegistration){.name = name, .fn = fn, .line = line};
}

static inline int test_registration_compare(const void *a, const void *b) {
        const TestRegistration *x = a, *y = b;

        return (x->line > y->line) - (x->line < y->line);
}

static inline void test_add_registered(void) {
        TestRegistry *r = test_registry();

        qsort(r->tests, r->n, sizeof(TestRegistration), test_registration_compare);
        for (size_t i = 0; i < r->n; i++) {
                g_autofree char *path = g_strconcat(TEST_PREFIX, "/", r->tests[i].name, NULL);

                g_strdelimit(path + strlen(TEST_PREFIX), "_", '-');
                g_test_add_func(path, r->tests[i].fn);
        }
}

#define TEST(name)                                                            \
        static void test_##name(void);                                        \
        __attribute__((constructor)) static void test_register_##name(void) { \
                test_register(#name, test_##name, __LINE__);                  \
        }                                                                     \
        static void test_##name(void)
#endif
