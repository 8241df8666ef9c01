/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "macro.h"
#include "time-util.h"

/* Per-key (per-VM) token buckets: each key may make `burst` requests at once and `rate` per
 * second on average. Implemented as GCRA (a token bucket that stores one timestamp per key):
 * a request at `now` is allowed when the key's theoretical arrival time is at most
 * (burst - 1) emission intervals ahead of now. Keys whose bucket is full again are forgotten,
 * so the table only holds recently active keys. Pure: time comes from the caller. */

typedef struct RateLimit RateLimit;

/* rate: requests per second (0 = unlimited); burst: at least 1; max_keys: how many keys with
 * a non-full bucket are tracked at most (further new keys are refused until some refill). */
int ratelimit_new(unsigned rate, unsigned burst, size_t max_keys, RateLimit **ret);
RateLimit *ratelimit_free(RateLimit *rl);
DEFINE_TRIVIAL_CLEANUP_FUNC(RateLimit *, ratelimit_free);

/* Returns 1 when the request of key at now is allowed (and counts it), 0 when it is over the
 * limit (*ret_wait, if not NULL, tells how long until it would be allowed), -ENOMEM. */
int ratelimit_check(RateLimit *rl, const char *key, usec_t now, usec_t *ret_wait);

/* The same for a request that counts as n (>= 1) requests: allowed whenever one request would
 * be, it then uses up n, so that the key's next request waits until n intervals (less the
 * burst) have passed. */
int ratelimit_check_n(RateLimit *rl, const char *key, unsigned n, usec_t now, usec_t *ret_wait);

/* How many keys are tracked (for tests). */
size_t ratelimit_size(const RateLimit *rl);
