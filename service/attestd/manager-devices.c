/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "bus-names.h"
#include "domain-devices.h"
#include "log.h"
#include "manager-change.h"
#include "manager-devices.h"
#include "manager-grants.h"
#include "manager-inventory.h"

/* FixVM (manager-devices.h): what the host can do about a VM's recommended actions. */

static const struct {
        const char *action;
        VirtDevice device;
        const char *what;  /* the device, in messages */
        const char *after; /* what follows once it is added */
} device_actions[] = {
        {"EnableGuestServiceInterface", VIRT_DEVICE_VSOCK, "a virtio-vsock device (automatic CID)",
                "GuestServiceInterface is true now; the CID is assigned when the domain starts"},
        {"EnableDataExchange", VIRT_DEVICE_AGENT_CHANNEL,
                "the QEMU guest agent's channel (org.qemu.guest_agent.0)",
                "DataExchange becomes true once the guest agent in the VM connects"},
};

static int device_action(const char *action) {
        for (size_t i = 0; i < ELEMENTSOF(device_actions); i++)
                if (streq(device_actions[i].action, action))
                        return (int)i;
        return -1;
}

int manager_fix_vm_check(Manager *m, const Vm *vm, const char *action, sd_bus_error *error) {
        _cleanup_free_ char *updates = NULL;
        int d;

        assert(m);
        assert(vm);
        assert(action);

        if (streq(action, "EnableVMLegacyAccess"))
                return 0; /* SetVMAccess's checks run when it is carried out */
        if (streq(action, "InstallUpdates")) {
                if (strv_length(vm->evaluation.required_updates) == 0)
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                "VM '%s' needs no updates: InstallUpdates is not among its recommended actions.",
                                vm->name);
                updates = strv_join(vm->evaluation.required_updates, ", ");
                if (!updates)
                        return -ENOMEM;
                return sd_bus_error_setf(error, BUS_ERROR_GUEST_ACTION,
                        "VM '%s' must install updates in the guest, which the host cannot do: install %s, then "
                        "the guest reports the new build.",
                        vm->name, updates);
        }
        if (streq(action, "EnableLegacyOsSupport"))
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS,
                        "EnableLegacyOsSupport is the server's switch, not a VM's: turn it on with EnableLegacy "
                        "(azshcictl legacy on).");
        if (streq(action, "SyncServer"))
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS,
                        "SyncServer is the server's: renew its certificate with Sync (azshcictl sync).");
        d = device_action(action);
        if (d < 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                        "Unknown action '%s': expected EnableGuestServiceInterface, EnableDataExchange, "
                        "EnableVMLegacyAccess or InstallUpdates.",
                        action);
        if (!manager_inventory_manages_devices(m, vm))
                return sd_bus_error_setf(error, SD_BUS_ERROR_NOT_SUPPORTED,
                        "VM '%s' is not a libvirt domain (Source %s): the service cannot add %s to it; add it "
                        "in the hypervisor and update the VM's registration.",
                        vm->name, vm_source_to_string(vm->source), device_actions[d].what);
        if (vm_needs_power_off_for_legacy(vm))
                return sd_bus_error_setf(error, BUS_ERROR_POWER_OFF_REQUIRED,
                        "VM '%s' is a Generation 1 VM and is %s: power it off before adding %s.", vm->name,
                        vm_power_state_to_string(vm->power_state), device_actions[d].what);
        return 0;
}

int manager_fix_legacy_message(const GrantResults *results, const Vm *vm, const char *vm_id,
        const char *vm_name, char **ret_message, sd_bus_error *error) {
        assert(vm_id);
        assert(vm_name);
        assert(ret_message);

        for (size_t i = 0; results && i < results->n; i++) {
                const GrantResult *g = &results->items[i];

                if (!streq(g->id, vm_id))
                        continue;
                if (g->outcome == GRANT_REFUSED || g->outcome == GRANT_FAILED)
                        return sd_bus_error_set(error, g->error_name ?: SD_BUS_ERROR_FAILED, g->message);
                return asprintf(ret_message, "VM '%s': legacy access %s: %s.", g->name,
                               grant_outcome_to_string(g->outcome), g->message) < 0
                               ? -ENOMEM
                               : 0;
        }
        /* Nothing to say from this server's results: the VM has access now, or it was granted
         * in the cluster and this server could not give it. */
        if (!vm || !vm->legacy_access)
                return sd_bus_error_setf(error, SD_BUS_ERROR_FAILED,
                        "VM '%s' was granted legacy access in the cluster but has none on this server now: see its "
                        "LegacyError.",
                        vm_name);
        return asprintf(ret_message, "VM '%s' has legacy access.", vm_name) < 0 ? -ENOMEM : 0;
}

static int fix_legacy_access(Manager *m, Vm *vm, char **ret_message, sd_bus_error *error) {
        _cleanup_(grant_results_done) GrantResults results = {};
        _cleanup_free_ char *id = NULL, *name = NULL;
        int r;

        /* The commit replaces vm: its id and name are kept for the message. */
        id = strdup(vm->id);
        name = strdup(vm->name);
        if (!id || !name)
                return -ENOMEM;
        r = manager_set_vm_access(m, vm, true, &results, error);
        if (r < 0)
                return r;
        return manager_fix_legacy_message(&results, manager_find_vm_by_id(m, id), id, name, ret_message,
                error);
}

/* The domain got the device, but taking its new facts failed (r, error set or not): the error
 * says that the device stays in the domain (removing it again is no clean undo: a hot-plugged
 * device may be in use already), so that the caller does not take the failure for "nothing
 * changed". */
static int added_all_the_same(int r, const char *name, const char *what, unsigned changed,
        sd_bus_error *error) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;

        if (!sd_bus_error_is_set(error))
                return r; /* out of memory: nothing to add to */
        sd_bus_error_move(&e, error);
        return sd_bus_error_setf(error, e.name,
                "%s; %s was added to VM '%s' (%s) all the same and stays there.", e.message, what, name,
                changed & DOMAIN_CHANGED_LIVE ? "its configuration and the running domain"
                                              : "its configuration");
}

int manager_fix_vm(Manager *m, Vm *vm, const char *action, char **ret_message, sd_bus_error *error) {
        _cleanup_(change_done) Change c = {};
        _cleanup_free_ char *name = NULL;
        unsigned changed = 0;
        int d, r;

        assert(m);
        assert(vm);
        assert(ret_message);

        /* Again: the VM may have changed while polkit was thinking. */
        r = manager_fix_vm_check(m, vm, action, error);
        if (r < 0)
                return r;
        if (streq(action, "EnableVMLegacyAccess"))
                return fix_legacy_access(m, vm, ret_message, error);

        d = device_action(action);
        assert(d >= 0);
        r = domain_add_device(m->libvirt, vm, device_actions[d].device, true, &changed, error);
        if (r < 0)
                return r;
        if (changed == 0)
                return asprintf(ret_message, "VM '%s' has %s already.", vm->name, device_actions[d].what) < 0
                               ? -ENOMEM
                               : 0;
        log_info("VM '%s': added %s%s.", vm->name, device_actions[d].what,
                changed & DOMAIN_CHANGED_LIVE ? " (hot-plugged)" : "");

        /* The domain's new facts now, not only when libvirt's event comes. The commit
         * replaces vm: its name is kept for the message. */
        name = strdup(vm->name);
        if (!name)
                return -ENOMEM;
        change_init(m, &c);
        r = manager_inventory_reread(m, &c, vm, error);
        if (r >= 0)
                r = manager_commit(m, &c, error);
        if (r < 0)
                return added_all_the_same(r, name, device_actions[d].what, changed, error);
        return asprintf(ret_message, "Added %s to VM '%s' (%s); %s.", device_actions[d].what, name,
                       changed & DOMAIN_CHANGED_LIVE ? "its configuration and the running domain"
                                                     : "its configuration",
                       device_actions[d].after) < 0
                       ? -ENOMEM
                       : 0;
}
