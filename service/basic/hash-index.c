/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "hash-index.h"

#define HASH_INDEX_MIN_BUCKETS 16U

/* FNV-1a, then a final avalanche (the low bits pick the bucket). */
static uint64_t mix64(uint64_t x) {
        x ^= x >> 33;
        x *= UINT64_C(0xff51afd7ed558ccd);
        x ^= x >> 33;
        x *= UINT64_C(0xc4ceb9fe1a85ec53);
        x ^= x >> 33;
        return x;
}

static uint64_t string_hash(const void *key) {
        uint64_t h = UINT64_C(0xcbf29ce484222325);

        for (const unsigned char *p = key; *p; p++) {
                h ^= *p;
                h *= UINT64_C(0x100000001b3);
        }
        return mix64(h);
}

static bool string_equal(const void *a, const void *b) {
        return streq((const char *)a, (const char *)b);
}

static uint64_t u32_hash(const void *key) {
        return mix64(*(const uint32_t *)key);
}

static bool u32_equal(const void *a, const void *b) {
        return *(const uint32_t *)a == *(const uint32_t *)b;
}

const HashIndexType hash_index_string_type = {string_hash, string_equal};
const HashIndexType hash_index_u32_type = {u32_hash, u32_equal};

void hash_index_init(HashIndex *h, const HashIndexType *type, HashIndexKeyFunc key_of) {
        assert(h);
        assert(type);
        assert(key_of);

        *h = (HashIndex){.type = type, .key_of = key_of};
}

void hash_index_done(HashIndex *h) {
        assert(h);

        h->values = mfree(h->values);
        h->n_buckets = h->n_entries = 0;
}

static size_t bucket_of(const HashIndex *h, const void *key) {
        return (size_t)h->type->hash(key) & (h->n_buckets - 1);
}

/* The bucket that holds key, or the free bucket where it would go. */
static size_t find_bucket(const HashIndex *h, const void *key) {
        size_t i = bucket_of(h, key);

        while (h->values[i] && !h->type->equal(h->key_of(h->values[i]), key))
                i = (i + 1) & (h->n_buckets - 1);
        return i;
}

static bool fits(size_t n_entries, size_t n_buckets) {
        return n_entries <= n_buckets / 4 * 3;
}

int hash_index_reserve(HashIndex *h, size_t n) {
        void **old;
        size_t n_old, size = HASH_INDEX_MIN_BUCKETS;

        assert(h);

        if (h->n_buckets > 0 && fits(n, h->n_buckets))
                return 0;
        while (!fits(n, size)) {
                if (size > SIZE_MAX / 2 / sizeof(void *))
                        return -ENOMEM;
                size *= 2;
        }
        if (size <= h->n_buckets)
                return 0;

        old = h->values;
        n_old = h->n_buckets;
        h->values = calloc(size, sizeof(void *));
        if (!h->values) {
                h->values = old;
                return -ENOMEM;
        }
        h->n_buckets = size;
        for (size_t i = 0; i < n_old; i++)
                if (old[i])
                        h->values[find_bucket(h, h->key_of(old[i]))] = old[i];
        free(old);
        return 0;
}

int hash_index_put(HashIndex *h, void *value) {
        const void *key;
        size_t i;
        int r;

        assert(h);
        assert(value);
        key = h->key_of(value);
        assert(key);

        if (h->n_buckets > 0) {
                i = find_bucket(h, key);
                if (h->values[i])
                        return h->values[i] == value ? 0 : -EEXIST;
        }

        r = hash_index_reserve(h, h->n_entries + 1);
        if (r < 0)
                return r;
        i = find_bucket(h, key);
        h->values[i] = value;
        h->n_entries++;
        return 0;
}

void *hash_index_get(const HashIndex *h, const void *key) {
        assert(h);
        assert(key);

        if (h->n_entries == 0)
                return NULL;
        return h->values[find_bucket(h, key)];
}

void *hash_index_remove(HashIndex *h, const void *key) {
        size_t i, j, mask;
        void *value;

        assert(h);
        assert(key);

        if (h->n_entries == 0)
                return NULL;
        i = find_bucket(h, key);
        value = h->values[i];
        if (!value)
                return NULL;

        /* Backward-shift deletion: move later entries of the probe run into the hole whenever
         * their home bucket does not lie (cyclically) between the hole and them, so that every
         * entry stays reachable from its home bucket without tombstones. */
        mask = h->n_buckets - 1;
        for (j = (i + 1) & mask; h->values[j]; j = (j + 1) & mask) {
                size_t home = bucket_of(h, h->key_of(h->values[j]));

                if (((j - home) & mask) >= ((j - i) & mask)) {
                        h->values[i] = h->values[j];
                        i = j;
                }
        }
        h->values[i] = NULL;
        h->n_entries--;
        return value;
}
