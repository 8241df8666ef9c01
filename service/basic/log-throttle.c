/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <assert.h>

#include "log-throttle.h"

bool log_throttle_pass(LogThrottle *t, usec_t now, unsigned *ret_held) {
        assert(t);

        if (t->last != 0 && now - t->last < t->interval) {
                t->held++;
                return false;
        }
        if (ret_held)
                *ret_held = t->held;
        t->last = now;
        t->held = 0;
        return true;
}
