/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The regression driver of the fuzz targets when they are not built with libFuzzer: runs
 * LLVMFuzzerTestOneInput() once on every file given, and on every regular file in every
 * directory given (sorted, so runs are reproducible). Exit 0 when all inputs ran; a crash or a
 * violated property aborts, which fails the test. Output is TAP, one line per input. */

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>

#include "fuzz.h"

__attribute__((weak)) int LLVMFuzzerInitialize(int *argc, char ***argv) {
        return 0;
}

static int read_file(const char *path, uint8_t **ret, size_t *ret_size) {
        FILE *f;
        uint8_t *buf = NULL;
        size_t n = 0, allocated = 0;

        f = fopen(path, "re");
        if (!f)
                return -errno;
        for (;;) {
                if (n == allocated) {
                        uint8_t *p;

                        allocated = allocated ? allocated * 2 : 4096;
                        p = realloc(buf, allocated);
                        if (!p) {
                                free(buf);
                                fclose(f);
                                return -ENOMEM;
                        }
                        buf = p;
                }
                size_t k = fread(buf + n, 1, allocated - n, f);
                n += k;
                if (k == 0) {
                        if (ferror(f)) {
                                free(buf);
                                fclose(f);
                                return -EIO;
                        }
                        break;
                }
        }
        fclose(f);
        *ret = buf;
        *ret_size = n;
        return 0;
}

static unsigned n_run = 0;

static int run_file(const char *path) {
        uint8_t *data = NULL;
        size_t size = 0;
        int r;

        r = read_file(path, &data, &size);
        if (r < 0) {
                printf("not ok %u - %s: %s\n", n_run + 1, path, strerror(-r));
                return r;
        }
        /* A fresh copy of exactly size bytes, so that ASAN sees reads past the end. */
        uint8_t *copy = malloc(size ? size : 1);
        if (!copy)
                abort();
        if (size > 0)
                memcpy(copy, data, size);
        free(data);
        fflush(stdout);
        (void)LLVMFuzzerTestOneInput(copy, size);
        free(copy);
        printf("ok %u - %s (%zu bytes)\n", ++n_run, path, size);
        return 0;
}

static int filter(const struct dirent *de) {
        return de->d_name[0] != '.';
}

static int run_path(const char *path) {
        struct dirent **entries = NULL;
        struct stat st;
        int n, r = 0;

        if (stat(path, &st) < 0) {
                printf("not ok %u - %s: %m\n", n_run + 1, path);
                return -errno;
        }
        if (!S_ISDIR(st.st_mode))
                return run_file(path);

        n = scandir(path, &entries, filter, alphasort);
        if (n < 0) {
                printf("not ok %u - %s: %m\n", n_run + 1, path);
                return -errno;
        }
        for (int i = 0; i < n; i++) {
                char *p = NULL;

                if (asprintf(&p, "%s/%s", path, entries[i]->d_name) < 0)
                        abort();
                if (stat(p, &st) == 0 && S_ISREG(st.st_mode)) {
                        int k = run_file(p);
                        if (k < 0 && r == 0)
                                r = k;
                }
                free(p);
                free(entries[i]);
        }
        free(entries);
        return r;
}

int main(int argc, char *argv[]) {
        int r = 0;

        if (argc < 2) {
                fprintf(stderr, "Usage: %s FILE|DIRECTORY...\n", argv[0]);
                return 2;
        }
        (void)LLVMFuzzerInitialize(&argc, &argv);
        for (int i = 1; i < argc; i++) {
                int k = run_path(argv[i]);
                if (k < 0 && r == 0)
                        r = k;
        }
        printf("1..%u\n", n_run);
        if (n_run == 0) {
                fprintf(stderr, "no inputs found\n");
                return 1;
        }
        return r < 0 ? 1 : 0;
}
