/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The temporaries of write_file_atomic() and their removal at start (fileio.h): the names the
 * writer really uses are the ones the cleanup removes, and nothing else of the directory goes,
 * an admin's copies ("state.json.backup", "state.json.before": "state.json." and six letters)
 * least of all. */

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "fileio.h"
#include "test-util.h"

static int compare_names(const void *a, const void *b) {
        return g_strcmp0(*(char *const *)a, *(char *const *)b);
}

/* The names in dir other than "." and "..", sorted, space-separated. */
static char *dir_names(const char *dir) {
        g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
        const char *n;

        g_assert_nonnull(d);
        while ((n = g_dir_read_name(d)))
                g_ptr_array_add(names, g_strdup(n));
        g_ptr_array_sort(names, compare_names);
        g_ptr_array_add(names, NULL);
        return g_strjoinv(" ", (char **)names->pdata);
}

typedef struct Seen {
        const char *dir;
        char *names; /* what the directory held while the content was being written */
} Seen;

static int record_names(FILE *f, void *userdata) {
        Seen *s = userdata;

        s->names = dir_names(s->dir);
        return fputs("{}", f) < 0 ? -EIO : 0;
}

static void touch(const char *dir, const char *name) {
        g_autofree char *p = g_strdup_printf("%s/%s", dir, name);

        g_assert_true(g_file_set_contents(p, "x", 1, NULL));
}

static void test_temporary_name(void) {
        g_autofree char *dir = test_make_tmpdir("azshci-test-fileio-XXXXXX");
        g_autofree char *path = g_strdup_printf("%s/state.json", dir);
        g_autofree char *after = NULL;
        Seen s = {.dir = dir};

        g_assert_cmpint(write_file_atomic_stream(path, 0600, false, record_names, &s), ==, 0);
        /* One temporary beside nothing else: "state.json.tmp-" and six letters or digits. */
        g_assert_nonnull(s.names);
        g_assert_true(g_regex_match_simple("^state\\.json\\.tmp-[A-Za-z0-9]{6}$", s.names, 0, 0));
        after = dir_names(dir);
        g_assert_cmpstr(after, ==, "state.json");
        g_free(s.names);
        test_rm_rf(dir);
}

static void test_admin_copies_kept(void) {
        g_autofree char *dir = test_make_tmpdir("azshci-test-fileio-XXXXXX");
        g_autofree char *path = g_strdup_printf("%s/state.json", dir);
        g_autofree char *left = NULL;

        g_assert_cmpint(write_file_atomic(path, "{}", 2, 0600), ==, 0);
        touch(dir, "state.json.backup");
        touch(dir, "state.json.before");
        touch(dir, "state.json.Qx7Zp2");      /* the pattern of old versions: ambiguous, kept */
        touch(dir, "state.json.tmp-abc123");  /* an interrupted write */
        touch(dir, "state.json.tmp-abc12");   /* not six */
        touch(dir, "state.json.tmp-abc1234"); /* not six */
        touch(dir, "state.json.tmp-ab-123");  /* not letters or digits */
        touch(dir, "other.json.tmp-abc123");  /* another file's */
        touch(dir, "state.json.old.new");     /* an interrupted file_keep_old() */

        g_assert_cmpint(file_remove_interrupted_writes(path), ==, 2);
        left = dir_names(dir);
        g_assert_cmpstr(left, ==,
                "other.json.tmp-abc123 state.json state.json.Qx7Zp2 state.json.backup state.json.before "
                "state.json.tmp-ab-123 state.json.tmp-abc12 state.json.tmp-abc1234");
        test_rm_rf(dir);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/fileio/temporary-name", test_temporary_name);
        g_test_add_func("/fileio/admin-copies-kept", test_admin_copies_kept);
        return g_test_run();
}
