/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "vm-index.h"

static const char *const vm_key_table[_VM_KEY_MAX] = {
        [VM_KEY_ID] = "Id",
        [VM_KEY_NAME] = "Name",
        [VM_KEY_VSOCK_CID] = "VsockCid",
        [VM_KEY_LEGACY_MAC] = "LegacyMac",
        [VM_KEY_LEGACY_INTERFACE] = "LegacyInterface",
};

DEFINE_STRING_TABLE_LOOKUP_TO_STRING(vm_key, VmKey);

/* Each index reads its key from the VM (hash-index.h): the slots hold only the VMs. */
static const void *vm_id_of(const void *vm) {
        return ((const Vm *)vm)->id;
}

static const void *vm_name_of(const void *vm) {
        return ((const Vm *)vm)->name;
}

static const void *vm_vsock_cid_of(const void *vm) {
        return &((const Vm *)vm)->vsock_cid;
}

static const void *vm_legacy_mac_of(const void *vm) {
        return ((const Vm *)vm)->legacy_mac;
}

static const void *vm_legacy_interface_of(const void *vm) {
        return ((const Vm *)vm)->legacy_interface;
}

static const HashIndexKeyFunc vm_key_of_table[_VM_KEY_MAX] = {
        [VM_KEY_ID] = vm_id_of,
        [VM_KEY_NAME] = vm_name_of,
        [VM_KEY_VSOCK_CID] = vm_vsock_cid_of,
        [VM_KEY_LEGACY_MAC] = vm_legacy_mac_of,
        [VM_KEY_LEGACY_INTERFACE] = vm_legacy_interface_of,
};

/* The key of vm under k, NULL when vm has no value for it. */
static const void *vm_key(const Vm *vm, VmKey k) {
        switch (k) {
        case VM_KEY_ID:
                return vm->id;
        case VM_KEY_NAME:
                return vm->name;
        case VM_KEY_VSOCK_CID:
                return vm->vsock_cid != 0 ? &vm->vsock_cid : NULL;
        case VM_KEY_LEGACY_MAC:
                return isempty(vm->legacy_mac) ? NULL : vm->legacy_mac;
        case VM_KEY_LEGACY_INTERFACE:
                return isempty(vm->legacy_interface) ? NULL : vm->legacy_interface;
        default:
                assert(false);
                return NULL;
        }
}

void vm_indexes_init(VmIndexes *ix) {
        assert(ix);

        for (VmKey k = 0; k < _VM_KEY_MAX; k++)
                hash_index_init(&ix->by_key[k],
                        k == VM_KEY_VSOCK_CID ? &hash_index_u32_type : &hash_index_string_type,
                        vm_key_of_table[k]);
}

void vm_indexes_done(VmIndexes *ix) {
        assert(ix);

        for (VmKey k = 0; k < _VM_KEY_MAX; k++)
                hash_index_done(&ix->by_key[k]);
}

int vm_indexes_reserve(VmIndexes *ix, size_t n) {
        int r;

        assert(ix);

        for (VmKey k = 0; k < _VM_KEY_MAX; k++) {
                r = hash_index_reserve(&ix->by_key[k], n);
                if (r < 0)
                        return r;
        }
        return 0;
}

void vm_indexes_remove(VmIndexes *ix, const Vm *vm) {
        assert(ix);
        assert(vm);

        for (VmKey k = 0; k < _VM_KEY_MAX; k++) {
                const void *key = vm_key(vm, k);

                if (key && hash_index_get(&ix->by_key[k], key) == vm)
                        (void)hash_index_remove(&ix->by_key[k], key);
        }
}

int vm_indexes_add(VmIndexes *ix, Vm *vm) {
        int r;

        assert(ix);
        assert(vm);

        if (vm_indexes_find_clash(ix, vm, vm, NULL))
                return -EEXIST;
        for (VmKey k = 0; k < _VM_KEY_MAX; k++) {
                if (!vm_key(vm, k))
                        continue;
                r = hash_index_put(&ix->by_key[k], vm);
                if (r < 0) {
                        vm_indexes_remove(ix, vm);
                        return r;
                }
        }
        return 0;
}

Vm *vm_indexes_find_clash(const VmIndexes *ix, const Vm *vm, const Vm *except, VmKey *ret_key) {
        assert(ix);
        assert(vm);

        for (VmKey k = 0; k < _VM_KEY_MAX; k++) {
                const void *key = vm_key(vm, k);
                Vm *other;

                if (!key)
                        continue;
                other = hash_index_get(&ix->by_key[k], key);
                if (other && other != except) {
                        if (ret_key)
                                *ret_key = k;
                        return other;
                }
        }
        return NULL;
}
