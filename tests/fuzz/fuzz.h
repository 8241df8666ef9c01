/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Shared by the fuzz targets (tests/fuzz/README in docs/hardening.md). Each target defines
 * LLVMFuzzerTestOneInput(); built with -Dfuzzing=true (clang) it links libFuzzer, otherwise
 * fuzz-main.c feeds it every file of its corpus as a regression test. Assertions in a target
 * state properties that must hold for every input: a failed one is a finding. */

#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Inputs larger than this are skipped: the parsers under test read files and messages of a
 * few KiB, and huge inputs only slow the fuzzer down. */
#define FUZZ_INPUT_MAX (256U * 1024U)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A NUL-terminated copy of the input (the text parsers take C strings; an embedded NUL just
 * ends the text early, as it would for a file read with read_full_file()). */
static inline char *fuzz_strndup(const uint8_t *data, size_t size) {
        char *s = malloc(size + 1);
        if (!s)
                abort();
        if (size > 0)
                memcpy(s, data, size);
        s[size] = 0;
        return s;
}

/* The input as text for the text parsers, or NULL (the target returns 0 at once) when it is
 * larger than FUZZ_INPUT_MAX. */
static inline char *fuzz_text(const uint8_t *data, size_t size) {
        return size > FUZZ_INPUT_MAX ? NULL : fuzz_strndup(data, size);
}

/* The fuzz targets check properties with this, not assert(): it stays on under NDEBUG. */
#define fuzz_check(expr)                                                                                   \
        do {                                                                                               \
                if (!(expr)) {                                                                             \
                        fprintf(stderr, "%s:%d: fuzz property violated: %s\n", __FILE__, __LINE__, #expr); \
                        abort();                                                                           \
                }                                                                                          \
        } while (0)

/* What every parser of text promises when it refuses its input: a message, or it ran out of
 * memory. */
#define fuzz_check_refusal(r, error) fuzz_check((r) == -ENOMEM || (error))
