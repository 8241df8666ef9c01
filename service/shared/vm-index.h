/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hash-index.h"
#include "string-util.h"
#include "vm.h"

/* The indexes that make a VM findable by each of its unique keys in O(1). */

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

/* The key's name: the registration property that holds it, "Id", "Name", "VsockCid", ... */
DECLARE_STRING_TABLE_LOOKUP_TO_STRING(vm_key, VmKey);

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
