/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

#include "time-util.h"

/* One message of a kind per interval at the level its caller chose; the others of that kind
 * go to debug level and are counted, so that input a peer controls (connections, requests)
 * cannot flood the journal. Pure: time comes from the caller. */
typedef struct LogThrottle {
        usec_t interval;
        usec_t last;   /* CLOCK_MONOTONIC of the last message let through; 0 = none yet */
        unsigned held; /* messages sent to debug level since then */
} LogThrottle;

#define LOG_THROTTLE_INIT(usec) ((LogThrottle){.interval = (usec)})

/* True when the next message of this kind may be logged at its own level at now: then
 * *ret_held (if not NULL) says how many were held back since the last one, and counting starts
 * again. False: log it at debug level (it is counted). */
bool log_throttle_pass(LogThrottle *t, usec_t now, unsigned *ret_held);
