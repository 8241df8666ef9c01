/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vm.h"

/* A small hash table (open addressing, linear probing, backward-shift deletion, power-of-two
 * size, at most 3/4 full) that maps borrowed keys to borrowed values, and on top of it the
 * indexes that make a VM findable by each of its unique keys in O(1).
 *
 * Keys are not copied: they point into the value (a VM's name, its vsock CID, ...), so an
 * entry must be removed before its value is changed or freed. Keys are unique: a put of a key
 * that is already there with another value fails with -EEXIST. The keys come from the admin
 * inventory (polkit-checked), so the table does not defend against chosen collisions. */

typedef struct HashIndexType {
        uint64_t (*hash)(const void *key);
        bool (*equal)(const void *a, const void *b);
} HashIndexType;

extern const HashIndexType hash_index_string_type; /* keys: const char * (NUL-terminated) */
extern const HashIndexType hash_index_u32_type;    /* keys: const uint32_t * */

typedef struct HashIndexEntry {
        const void *key;
        void *value;
} HashIndexEntry;

typedef struct HashIndex {
        const HashIndexType *type;
        HashIndexEntry *entries; /* n_buckets of them; key NULL = free */
        size_t n_buckets;
        size_t n_entries;
} HashIndex;

void hash_index_init(HashIndex *h, const HashIndexType *type);
void hash_index_done(HashIndex *h);

/* Makes room for n entries in all, so that puts up to that size cannot fail with -ENOMEM. */
int hash_index_reserve(HashIndex *h, size_t n);
/* 0 on success (also when key is there with this very value), -EEXIST when key maps to another
 * value, -ENOMEM. */
int hash_index_put(HashIndex *h, const void *key, void *value);
void *hash_index_get(const HashIndex *h, const void *key);
/* Removes key; returns its value, or NULL when it was not there. */
void *hash_index_remove(HashIndex *h, const void *key);

/* The unique keys of a VM. "No value" (CID 0, no MAC, no interface) is not indexed. */
typedef enum VmKey {
        VM_KEY_ID,
        VM_KEY_NAME,
        VM_KEY_VSOCK_CID,
        VM_KEY_LEGACY_MAC,
        VM_KEY_LEGACY_INTERFACE,
        _VM_KEY_MAX,
        _VM_KEY_INVALID = -EINVAL,
} VmKey;

/* The registration property that holds the key: "Id", "Name", "VsockCid", ... */
const char *vm_key_to_property(VmKey k) _const_;

typedef struct VmIndexes {
        HashIndex by_key[_VM_KEY_MAX];
} VmIndexes;

void vm_indexes_init(VmIndexes *ix);
void vm_indexes_done(VmIndexes *ix);
int vm_indexes_reserve(VmIndexes *ix, size_t n);
/* Indexes vm under all its keys, or under none: -EEXIST when one of them belongs to another
 * VM already. */
int vm_indexes_add(VmIndexes *ix, Vm *vm);
/* Drops vm's keys (those that point at vm; keys of other VMs stay). */
void vm_indexes_remove(VmIndexes *ix, const Vm *vm);
/* The first VM other than except that shares a unique key with vm; sets *ret_key to that key. */
Vm *vm_indexes_find_clash(const VmIndexes *ix, const Vm *vm, const Vm *except, VmKey *ret_key);
