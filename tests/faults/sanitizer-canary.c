/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* A program with deliberate memory errors, to prove that a sanitizer build catches them in a
 * process started the way the harness starts the daemon (setpriv to the service user, a clean
 * environment): test_sanitizer_canary.py. Built like every other executable of the build, so
 * it carries the same sanitizer options (.ci/sanitizers links them in).
 *
 *   sanitizer-canary info      prints "asan=0|1 options=<__asan_default_options()>"
 *   sanitizer-canary ok        exits 0
 *   sanitizer-canary leak      loses a heap block, exits 0 (LeakSanitizer must fail it)
 *   sanitizer-canary overflow  reads one byte past a heap block
 *   sanitizer-canary ubsan     signed integer overflow (UBSAN must stop it) */

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SANITIZE_ADDRESS__)
#define HAVE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HAVE_ASAN 1
#endif
#endif
#ifndef HAVE_ASAN
#define HAVE_ASAN 0
#endif

const char *__asan_default_options(void) __attribute__((weak));

static void *volatile sink;

int main(int argc, char *argv[]) {
        const char *what = argc > 1 ? argv[1] : "ok";

        if (strcmp(what, "info") == 0) {
                printf("asan=%d options=%s\n", HAVE_ASAN,
                        __asan_default_options ? __asan_default_options() : "");
                return 0;
        }
        if (strcmp(what, "leak") == 0) {
                sink = malloc(4242);
                sink = NULL;
                return 0;
        }
        if (strcmp(what, "overflow") == 0) {
                size_t n = 16 + (argc > 5); /* not a constant: no compile-time warning */
                char *p = calloc(1, n);
                char *volatile q = p; /* hide the bounds from the compiler, not from ASAN */
                volatile char c = q[n];
                free(p);
                return c == 42;
        }
        if (strcmp(what, "ubsan") == 0) {
                volatile int x = INT_MAX;
                x = x + (argc > 5 ? 0 : 1);
                printf("%d\n", x);
                return 0;
        }
        return 0;
}
