/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <stdarg.h>
#include <stdlib.h>

#include "log.h"

/* The only process-wide settings: chosen once in main() before anything else runs. */
static int log_max_level = LOG_INFO;
static const char *log_program_name;

void log_set_max_level(int level) {
        log_max_level = level;
}

int log_get_max_level(void) {
        return log_max_level;
}

void log_set_program_name(const char *name) {
        log_program_name = name;
}

static int log_level_from_string(const char *s) {
        static const struct {
                const char *name;
                int level;
        } levels[] = {
                {"debug", LOG_DEBUG},
                {"info", LOG_INFO},
                {"notice", LOG_NOTICE},
                {"warning", LOG_WARNING},
                {"err", LOG_ERR},
                {"error", LOG_ERR},
        };

        for (size_t i = 0; s && i < ELEMENTSOF(levels); i++)
                if (streq(levels[i].name, s))
                        return levels[i].level;
        return -EINVAL;
}

int log_set_max_level_from_string(const char *s) {
        int level = log_level_from_string(s);

        if (level < 0)
                return log_error_errno(level, "Unknown log level '%s'.", strna(s));
        log_set_max_level(level);
        return 0;
}

int log_internal(int level, int error, const char *file, int line, const char *func, const char *format,
        ...) {
        char buf[2048];
        va_list ap;
        int saved = errno;

        if (error < 0)
                error = -error;

        if (level > log_max_level)
                return -error;

        /* %m in the format means the error passed in, not whatever errno happens to hold. */
        errno = error;
        va_start(ap, format);
        (void)vsnprintf(buf, sizeof buf, format, ap);
        va_end(ap);

        if (getenv("JOURNAL_STREAM"))
                fprintf(stderr, "<%i>%s\n", level, buf);
        else if (log_max_level >= LOG_DEBUG)
                fprintf(stderr, "%s%s%s:%i %s: %s\n", strempty(log_program_name),
                        log_program_name ? ": " : "", file, line, func, buf);
        else
                fprintf(stderr, "%s%s%s\n", strempty(log_program_name), log_program_name ? ": " : "", buf);

        errno = saved;
        return -error;
}
