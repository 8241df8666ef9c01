/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "macro.h"
#include "time-util.h"

static usec_t timespec_to_usec(const struct timespec *ts) {
        assert(ts);
        return (usec_t)ts->tv_sec * USEC_PER_SEC + (usec_t)ts->tv_nsec / 1000;
}

usec_t now_usec(clockid_t clock) {
        struct timespec ts;

        if (clock_gettime(clock, &ts) < 0)
                abort(); /* only fails for invalid clock ids: a programming error */
        return timespec_to_usec(&ts);
}

const char *format_timestamp_utc(char *buf, size_t size, usec_t t) {
        struct tm tm;
        time_t sec;

        assert(buf);
        assert(size >= 32);

        if (t == 0 || t == USEC_INFINITY) {
                snprintf(buf, size, "n/a");
                return buf;
        }
        sec = (time_t)(t / USEC_PER_SEC);
        if (!gmtime_r(&sec, &tm) || strftime(buf, size, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
                snprintf(buf, size, "n/a");
        return buf;
}
