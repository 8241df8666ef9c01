/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "bus-names.h"
#include "domain-devices.h"
#include "inventory-libvirt.h"
#include "log.h"
#include "manager-bus.h"
#include "manager-change.h"
#include "manager-inventory.h"
#include "manager.h"

/* Where the inventory comes from: by hand only ("manual"), or libvirt's domains, which then
 * own their VMs' facts (docs/libvirt.md). This file starts the provider and holds the rules of
 * the manual API for VMs libvirt owns. */

int manager_inventory_init(Manager *m) {
        int r;

        assert(m);

        if (m->config.inventory_provider != INVENTORY_LIBVIRT)
                return 0;
        r = inventory_libvirt_new(m, m->config.inventory_uri, &m->libvirt);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the libvirt inventory: %m");
        return inventory_libvirt_start(m->libvirt);
}

void manager_inventory_done(Manager *m) {
        assert(m);
        m->libvirt = inventory_libvirt_free(m->libvirt);
}

bool manager_inventory_stale(Manager *m) {
        assert(m);
        return m->libvirt && inventory_libvirt_stale(m->libvirt);
}

size_t manager_inventory_forget_live_facts(Manager *m, Vm *const *vms, size_t n_vms) {
        size_t n = 0;

        assert(m);
        assert(vms || n_vms == 0);

        /* The provider is off: what it left is the admin's again, as registered. */
        if (m->config.inventory_provider != INVENTORY_LIBVIRT)
                return 0;
        /* After a reboot libvirt may give this CID or tap (its name is computable from the id) to
         * another domain: until the first reconcile they would identify the wrong guest. */
        for (size_t i = 0; i < n_vms; i++) {
                Vm *vm = vms[i];

                if (vm->source != VM_SOURCE_LIBVIRT ||
                        (vm->vsock_cid == 0 && !vm->legacy_interface && vm->power_state != VM_POWER_RUNNING))
                        continue;
                vm->vsock_cid = 0;
                vm->legacy_interface = mfree(vm->legacy_interface);
                if (vm->power_state == VM_POWER_RUNNING)
                        vm->power_state = VM_POWER_OFF;
                n++;
        }
        return n;
}

void manager_inventory_stale_changed(Manager *m) {
        assert(m);
        (void)manager_emit_changed(m, STRV_MAKE("InventoryStale"));
}

int manager_inventory_check_register(Manager *m, const Vm *vm, sd_bus_error *error) {
        Vm *other;

        assert(m);
        assert(vm);

        if (!m->libvirt) /* the provider is off: what it left is the admin's again */
                return 0;
        other = vm->id ? manager_find_vm_by_id(m, vm->id) : NULL;
        if (!other || other->source != VM_SOURCE_LIBVIRT)
                return 0;
        return sd_bus_error_setf(error, BUS_ERROR_OWNED_BY_LIBVIRT,
                "VM %s is libvirt's domain '%s': it is in the inventory already and libvirt owns its facts.",
                other->id, other->name);
}

int manager_inventory_check_update(Manager *m, const Vm *vm, const Vm *update, sd_bus_error *error) {
        _cleanup_strv_free_ char **changed = NULL;
        _cleanup_free_ char *list = NULL;
        int r;

        assert(m);
        assert(vm);

        if (!m->libvirt || vm->source != VM_SOURCE_LIBVIRT)
                return 0;
        if (!update)
                return sd_bus_error_setf(error, BUS_ERROR_OWNED_BY_LIBVIRT,
                        "VM '%s' is a libvirt domain: undefine it in libvirt (virsh undefine) to remove it.",
                        vm->name);
        r = vm_changed_properties(vm, update, &changed);
        if (r < 0)
                return r;
        if (!changed)
                return 0;
        list = strv_join(changed, ", ");
        if (!list)
                return -ENOMEM;
        return sd_bus_error_setf(error, BUS_ERROR_OWNED_BY_LIBVIRT,
                "VM '%s' is a libvirt domain and libvirt owns %s: change the domain, or its "
                "<metadata> with virsh metadata (docs/libvirt.md).",
                vm->name, list);
}

bool manager_inventory_manages_devices(Manager *m, const Vm *vm) {
        assert(m);
        assert(vm);
        return m->libvirt && vm->source == VM_SOURCE_LIBVIRT;
}

int manager_inventory_reread(Manager *m, Change *c, Vm *vm, sd_bus_error *error) {
        _cleanup_(vm_freep) Vm *fresh = NULL;
        Vm *copy;
        int r;

        assert(m);
        assert(c);
        assert(vm);

        r = domain_read_vm(m->libvirt, vm, &fresh, error);
        if (r < 0)
                return r;
        r = change_replace_vm(m, c, vm, &copy);
        if (r < 0)
                return r;
        /* The change's copy keeps the admin state it has (maybe changed by the caller). */
        r = vm_copy_admin_state(fresh, copy);
        if (r < 0)
                return r;
        fresh->source = VM_SOURCE_LIBVIRT;
        r = manager_check_unique(m, fresh, vm, error);
        if (r < 0)
                return r;
        vm_swap(copy, fresh);
        return 0;
}

void manager_inventory_refresh_granted(Manager *m) {
        _cleanup_strv_free_ char **ids = NULL;

        assert(m);

        /* The ids first: refreshing changes the manager's list. */
        for (size_t i = 0; i < m->n_vms; i++)
                if (m->vms[i]->legacy_access && manager_inventory_manages_devices(m, m->vms[i]) &&
                        strv_extend(&ids, m->vms[i]->id) < 0) {
                        log_oom();
                        return;
                }
        STRV_FOREACH (id, ids)
                if (inventory_libvirt_refresh_vm(m->libvirt, *id) == -ENOMEM)
                        log_oom();
}
