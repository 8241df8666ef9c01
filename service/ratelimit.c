/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "ratelimit.h"

typedef struct Bucket {
        struct Bucket *next;
        usec_t tat; /* theoretical arrival time of the next conforming request */
        char key[];
} Bucket;

struct RateLimit {
        usec_t interval;  /* 1 s / rate */
        usec_t tolerance; /* (burst - 1) * interval */
        size_t max_keys;
        size_t n_keys;
        size_t n_slots; /* a power of two */
        Bucket **slots;
};

#define INITIAL_SLOTS 64U

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
        rl->n_slots = INITIAL_SLOTS;
        rl->slots = calloc(rl->n_slots, sizeof(Bucket *));
        if (!rl->slots)
                return free(rl), -ENOMEM;
        *ret = rl;
        return 0;
}

RateLimit *ratelimit_free(RateLimit *rl) {
        if (!rl)
                return NULL;
        for (size_t i = 0; i < rl->n_slots; i++)
                for (Bucket *b = rl->slots[i], *next; b; b = next) {
                        next = b->next;
                        free(b);
                }
        free(rl->slots);
        return mfree(rl);
}

size_t ratelimit_size(const RateLimit *rl) {
        assert(rl);
        return rl->n_keys;
}

static size_t hash_key(const char *s) {
        /* FNV-1a: keys are peer identities the kernel gave us (MACs, CIDs), not chosen freely by
         * clients, and the table is bounded; a keyed hash is not needed. */
        uint64_t h = UINT64_C(14695981039346656037);
        for (; *s; s++)
                h = (h ^ (uint8_t)*s) * UINT64_C(1099511628211);
        return (size_t)h;
}

/* Forgets every key whose bucket is full again (tat <= now): it behaves exactly like a key
 * never seen. */
static void prune(RateLimit *rl, usec_t now) {
        for (size_t i = 0; i < rl->n_slots; i++)
                for (Bucket **b = &rl->slots[i]; *b;) {
                        if ((*b)->tat <= now) {
                                Bucket *dead = *b;
                                *b = dead->next;
                                free(dead);
                                rl->n_keys--;
                        } else
                                b = &(*b)->next;
                }
}

static void grow(RateLimit *rl) {
        size_t n = rl->n_slots * 2;
        Bucket **slots = calloc(n, sizeof(Bucket *));

        if (!slots)
                return; /* longer chains, still correct */
        for (size_t i = 0; i < rl->n_slots; i++)
                for (Bucket *b = rl->slots[i], *next; b; b = next) {
                        size_t j = hash_key(b->key) & (n - 1);
                        next = b->next;
                        b->next = slots[j];
                        slots[j] = b;
                }
        free(rl->slots);
        rl->slots = slots;
        rl->n_slots = n;
}

int ratelimit_check(RateLimit *rl, const char *key, usec_t now, usec_t *ret_wait) {
        return ratelimit_check_n(rl, key, 1, now, ret_wait);
}

int ratelimit_check_n(RateLimit *rl, const char *key, unsigned n, usec_t now, usec_t *ret_wait) {
        Bucket *b;
        size_t slot;
        usec_t tat;

        assert(rl);
        assert(key);
        assert(n >= 1);

        if (rl->interval == 0)
                return 1;

        slot = hash_key(key) & (rl->n_slots - 1);
        for (b = rl->slots[slot]; b; b = b->next)
                if (streq(b->key, key))
                        break;

        tat = b ? MAX(b->tat, now) : now;
        if (tat - now > rl->tolerance) {
                if (ret_wait)
                        *ret_wait = tat - now - rl->tolerance;
                return 0;
        }

        if (!b) {
                size_t len = strlen(key);

                if (rl->n_keys >= rl->max_keys) {
                        prune(rl, now);
                        if (rl->n_keys >= rl->max_keys) {
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
                b->next = rl->slots[slot];
                rl->slots[slot] = b;
                rl->n_keys++;
                if (rl->n_keys > rl->n_slots * 2)
                        grow(rl);
        }
        b->tat = tat + (usec_t)n * rl->interval;
        return 1;
}
