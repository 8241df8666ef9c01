/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "hash-index.h"
#include "ratelimit.h"

typedef struct Bucket {
        usec_t tat; /* theoretical arrival time of the next conforming request */
        char key[];
} Bucket;

struct RateLimit {
        usec_t interval;  /* 1 s / rate */
        usec_t tolerance; /* (burst - 1) * interval */
        size_t max_keys;
        HashIndex buckets; /* Buckets by their key */
};

static const void *bucket_key(const void *b) {
        return ((const Bucket *)b)->key;
}

int ratelimit_new(unsigned rate, unsigned burst, size_t max_keys, RateLimit **ret) {
        RateLimit *rl;

        assert(ret);
        if (burst < 1 || max_keys < 1)
                return -EINVAL;

        rl = calloc(1, sizeof(RateLimit));
        if (!rl)
                return -ENOMEM;
        rl->interval = rate > 0 ? USEC_PER_SEC / rate : 0;
        rl->tolerance = (usec_t)(burst - 1) * rl->interval;
        rl->max_keys = max_keys;
        hash_index_init(&rl->buckets, &hash_index_string_type, bucket_key);
        *ret = rl;
        return 0;
}

RateLimit *ratelimit_free(RateLimit *rl) {
        if (!rl)
                return NULL;
        for (size_t i = 0; i < rl->buckets.n_buckets; i++)
                free(rl->buckets.values[i]);
        hash_index_done(&rl->buckets);
        return mfree(rl);
}

size_t ratelimit_size(const RateLimit *rl) {
        assert(rl);
        return rl->buckets.n_entries;
}

/* Forgets every key whose bucket is full again (tat <= now): it behaves exactly like a key
 * never seen. A removal may shift a later entry into slot i (backward-shift deletion), so the
 * slot is looked at again before moving on. */
static void prune(RateLimit *rl, usec_t now) {
        for (size_t i = 0; i < rl->buckets.n_buckets;) {
                Bucket *b = rl->buckets.values[i];

                if (b && b->tat <= now) {
                        (void)hash_index_remove(&rl->buckets, b->key);
                        free(b);
                } else
                        i++;
        }
}

int ratelimit_check(RateLimit *rl, const char *key, usec_t now, usec_t *ret_wait) {
        return ratelimit_check_n(rl, key, 1, now, ret_wait);
}

int ratelimit_check_n(RateLimit *rl, const char *key, unsigned n, usec_t now, usec_t *ret_wait) {
        Bucket *b;
        usec_t tat;
        int r;

        assert(rl);
        assert(key);
        assert(n >= 1);

        if (rl->interval == 0)
                return 1;

        b = hash_index_get(&rl->buckets, key);
        tat = b ? MAX(b->tat, now) : now;
        if (tat - now > rl->tolerance) {
                if (ret_wait)
                        *ret_wait = tat - now - rl->tolerance;
                return 0;
        }

        if (!b) {
                size_t len = strlen(key);

                if (rl->buckets.n_entries >= rl->max_keys) {
                        prune(rl, now);
                        if (rl->buckets.n_entries >= rl->max_keys) {
                                /* Too many keys at their limit at once: refuse rather than grow without
                                 * bound; the earliest any bucket could refill is one interval. */
                                if (ret_wait)
                                        *ret_wait = rl->interval;
                                return 0;
                        }
                }
                b = malloc(sizeof(Bucket) + len + 1);
                if (!b)
                        return -ENOMEM;
                memcpy(b->key, key, len + 1);
                r = hash_index_put(&rl->buckets, b);
                if (r < 0) {
                        free(b);
                        return r;
                }
        }
        b->tat = tat + (usec_t)n * rl->interval;
        return 1;
}
