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

void hash_index_init(HashIndex *h, const HashIndexType *type) {
        assert(h);
        assert(type);

        *h = (HashIndex){.type = type};
}

void hash_index_done(HashIndex *h) {
        assert(h);

        h->entries = mfree(h->entries);
        h->n_buckets = h->n_entries = 0;
}

static size_t bucket_of(const HashIndex *h, const void *key) {
        return (size_t)h->type->hash(key) & (h->n_buckets - 1);
}

/* The bucket that holds key, or the free bucket where it would go. */
static size_t find_bucket(const HashIndex *h, const void *key) {
        size_t i = bucket_of(h, key);

        while (h->entries[i].key && !h->type->equal(h->entries[i].key, key))
                i = (i + 1) & (h->n_buckets - 1);
        return i;
}

static bool fits(size_t n_entries, size_t n_buckets) {
        return n_entries <= n_buckets / 4 * 3;
}

int hash_index_reserve(HashIndex *h, size_t n) {
        HashIndexEntry *old;
        size_t n_old, size = HASH_INDEX_MIN_BUCKETS;

        assert(h);

        if (h->n_buckets > 0 && fits(n, h->n_buckets))
                return 0;
        while (!fits(n, size)) {
                if (size > SIZE_MAX / 2 / sizeof(HashIndexEntry))
                        return -ENOMEM;
                size *= 2;
        }
        if (size <= h->n_buckets)
                return 0;

        old = h->entries;
        n_old = h->n_buckets;
        h->entries = calloc(size, sizeof(HashIndexEntry));
        if (!h->entries) {
                h->entries = old;
                return -ENOMEM;
        }
        h->n_buckets = size;
        for (size_t i = 0; i < n_old; i++)
                if (old[i].key)
                        h->entries[find_bucket(h, old[i].key)] = old[i];
        free(old);
        return 0;
}

int hash_index_put(HashIndex *h, const void *key, void *value) {
        size_t i;
        int r;

        assert(h);
        assert(key);
        assert(value);

        if (h->n_buckets > 0) {
                i = find_bucket(h, key);
                if (h->entries[i].key)
                        return h->entries[i].value == value ? 0 : -EEXIST;
        }

        r = hash_index_reserve(h, h->n_entries + 1);
        if (r < 0)
                return r;
        i = find_bucket(h, key);
        h->entries[i] = (HashIndexEntry){key, value};
        h->n_entries++;
        return 0;
}

void *hash_index_get(const HashIndex *h, const void *key) {
        assert(h);
        assert(key);

        if (h->n_entries == 0)
                return NULL;
        return h->entries[find_bucket(h, key)].value;
}

void *hash_index_remove(HashIndex *h, const void *key) {
        size_t i, j, mask;
        void *value;

        assert(h);
        assert(key);

        if (h->n_entries == 0)
                return NULL;
        i = find_bucket(h, key);
        if (!h->entries[i].key)
                return NULL;
        value = h->entries[i].value;

        /* Backward-shift deletion: move later entries of the probe run into the hole whenever
         * their home bucket does not lie (cyclically) between the hole and them, so that every
         * entry stays reachable from its home bucket without tombstones. */
        mask = h->n_buckets - 1;
        for (j = (i + 1) & mask; h->entries[j].key; j = (j + 1) & mask) {
                size_t home = bucket_of(h, h->entries[j].key);

                if (((j - home) & mask) >= ((j - i) & mask)) {
                        h->entries[i] = h->entries[j];
                        i = j;
                }
        }
        h->entries[i] = (HashIndexEntry){};
        h->n_entries--;
        return value;
}
