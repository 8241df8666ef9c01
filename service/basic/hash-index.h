/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"

/* A small hash table (open addressing, linear probing, backward-shift deletion, power-of-two
 * size, at most 3/4 full) of borrowed values, found by a key each value holds.
 *
 * A slot is one pointer, the value: the key is read from the value by the index's key_of()
 * (a VM's name, a rate-limit bucket's key, ...), so an entry must be removed before its value's
 * key is changed or freed. Keys are unique: a put of a value whose key is already there with
 * another value fails with -EEXIST. The hash is not keyed: the keys come from the admin
 * inventory (polkit-checked) or are peer identities the kernel hands out (MACs, CIDs) into a
 * bounded table, so it does not defend against chosen collisions. */

typedef struct HashIndexType {
        uint64_t (*hash)(const void *key);
        bool (*equal)(const void *a, const void *b);
} HashIndexType;

extern const HashIndexType hash_index_string_type; /* keys: const char * (NUL-terminated) */
extern const HashIndexType hash_index_u32_type;    /* keys: const uint32_t * */

/* The key of a value in the index; never NULL for a value that is in it. */
typedef const void *(*HashIndexKeyFunc)(const void *value);

typedef struct HashIndex {
        const HashIndexType *type;
        HashIndexKeyFunc key_of;
        void **values; /* n_buckets of them; NULL = free */
        size_t n_buckets;
        size_t n_entries;
} HashIndex;

void hash_index_init(HashIndex *h, const HashIndexType *type, HashIndexKeyFunc key_of);
void hash_index_done(HashIndex *h);

/* Makes room for n entries in all, so that puts up to that size cannot fail with -ENOMEM. */
int hash_index_reserve(HashIndex *h, size_t n);
/* Adds value under its key. 0 on success (also when this very value is there), -EEXIST when its
 * key maps to another value, -ENOMEM. */
int hash_index_put(HashIndex *h, void *value);
void *hash_index_get(const HashIndex *h, const void *key);
/* Removes key; returns its value, or NULL when it was not there. */
void *hash_index_remove(HashIndex *h, const void *key);
