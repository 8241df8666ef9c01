/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <dlfcn.h>

#include "macro.h"

/* Optional shared libraries loaded only when the configuration needs them, in the manner of
 * systemd's dlopen support (src/shared/dlfcn-util.h): a program that does not use a library
 * does not map it, nor the libraries it pulls in. Each library has one file with its symbol
 * table: a "sym_" function pointer per symbol used (DLSYM_PROTOTYPE in the header,
 * DLSYM_FUNCTION in the .c) and a dlopen_NAME() that loads it once and fills them all, or none.
 * Callers call dlopen_NAME() before the first sym_ call; it is cheap once loaded. The build
 * still needs the library's headers (the pointers take the prototypes' types). */

#define DLSYM_PROTOTYPE(symbol) extern typeof(symbol) *sym_##symbol
#define DLSYM_FUNCTION(symbol)  typeof(symbol) *sym_##symbol = NULL

/* A pointer/name pair for dlopen_many_sym_or_warn(): DLSYM_ARG(foo) is &sym_foo, "foo". */
#define DLSYM_ARG(symbol)                                                                           \
        ({                                                                                          \
                _Static_assert(__builtin_types_compatible_p(typeof(sym_##symbol), typeof(&symbol)), \
                        "sym_" #symbol " has the wrong type");                                      \
                (void (**)(void)) & sym_##symbol;                                                   \
        }),                                                                                         \
                #symbol

/* Opens filename (a soname, RTLD_NOW) unless *dlp is set already, then resolves each
 * DLSYM_ARG() pair up to the NULL that ends the list. Either every symbol is resolved and
 * the handle stored in *dlp, or none is touched: -EOPNOTSUPP, logged at log_level with the
 * file name and dlerror()'s reason ("libfoo.so.1 is not installed: ..."). */
int dlopen_many_sym_or_warn_sentinel(void **dlp, const char *filename, int log_level, ...)
        __attribute__((sentinel));
#define dlopen_many_sym_or_warn(dlp, filename, log_level, ...) \
        dlopen_many_sym_or_warn_sentinel(dlp, filename, log_level, __VA_ARGS__, NULL)
