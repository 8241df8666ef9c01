/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <stdarg.h>

#include "dlopen-util.h"
#include "log.h"

/* Resolves every pair into a scratch array first, so that a missing symbol leaves the
 * caller's pointers untouched. */
#define DLSYM_MAX 64

int dlopen_many_sym_or_warn_sentinel(void **dlp, const char *filename, int log_level, ...) {
        void (*resolved[DLSYM_MAX])(void);
        void (**targets[DLSYM_MAX])(void);
        void (**fn)(void);
        size_t n = 0;
        va_list ap;
        void *dl;

        assert(dlp);
        assert(filename);

        if (*dlp)
                return 0;

        dl = dlopen(filename, RTLD_NOW | RTLD_NODELETE);
        if (!dl)
                return log_full_errno(log_level, -EOPNOTSUPP, "%s is not installed: %s", filename,
                        dlerror());

        va_start(ap, log_level);
        while ((fn = va_arg(ap, void (**)(void)))) {
                const char *symbol = va_arg(ap, const char *);

                assert(n < DLSYM_MAX);
                resolved[n] = (void (*)(void))dlsym(dl, symbol);
                if (!resolved[n]) {
                        va_end(ap);
                        (void)dlclose(dl);
                        return log_full_errno(log_level, -EOPNOTSUPP, "%s has no symbol %s: it is too old.",
                                filename, symbol);
                }
                targets[n++] = fn;
        }
        va_end(ap);

        for (size_t i = 0; i < n; i++)
                *targets[i] = resolved[i];
        *dlp = dl;
        return 1;
}
