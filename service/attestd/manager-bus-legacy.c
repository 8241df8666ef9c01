/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "bus-names.h"
#include "manager-bus-legacy.h"
#include "manager-cluster.h"
#include "manager-devices.h"
#include "manager-grants.h"
#include "manager-legacy.h"
#include "validate.h"

/* The methods of the main object that say what they did VM by VM (EnableLegacyEx,
 * SetVMAccessEx) and FixVM, which carries out a VM's recommended action: read, check,
 * authorize, check again, then hand over to the manager (manager-grants.c,
 * manager-devices.c). manager-bus.c puts them in its vtable. */

static int reply_no_such_vm(sd_bus_error *error, const char *name) {
        return sd_bus_error_setf(error, BUS_ERROR_NO_SUCH_VM,
                "No VM is registered with the name or id '%s'.", name);
}

static int reply_results(sd_bus_message *msg, const GrantResults *results) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        r = sd_bus_message_new_method_return(msg, &reply);
        if (r < 0)
                return r;
        r = grant_results_append(results, reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

/* --- EnableLegacyEx --- */

static int enable_legacy_ex_check(Manager *m, sd_bus_message *msg, bool *ret_enable, uint64_t *ret_flags,
        sd_bus_error *error) {
        uint64_t flags;
        int enable, r;

        r = sd_bus_message_read(msg, "bt", &enable, &flags);
        if (r < 0)
                return r;
        if (flags & ~LEGACY_FLAGS_KNOWN)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                        "Unknown flags 0x%" PRIx64 ": EnableLegacyEx knows 0x1 (remove every VM's access).",
                        flags & ~LEGACY_FLAGS_KNOWN);
        if (enable && (flags & LEGACY_REMOVE_VMS))
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS,
                        "Flag 0x1 (remove every VM's access) goes only with turning legacy OS support off.");
        if ((flags & LEGACY_REMOVE_VMS) && manager_clustered(m))
                return sd_bus_error_set(error, SD_BUS_ERROR_NOT_SUPPORTED,
                        "In a cluster, revoke every VM's access with SetVMAccess(\"*\", false) "
                        "(azshcictl vm-access --all off), then turn legacy OS support off.");
        *ret_enable = enable;
        *ret_flags = flags;
        return 0;
}

static int enable_legacy_ex_authorized(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(grant_results_done) GrantResults results = {};
        Manager *m = userdata;
        uint64_t flags;
        bool enable;
        int r;

        r = enable_legacy_ex_check(m, msg, &enable, &flags, error);
        if (r < 0)
                return r;
        if (manager_clustered(m))
                return manager_cluster_enable_legacy(m, msg, enable, true, error);
        r = manager_set_legacy_support(m, enable, flags, NULL, &results, error);
        if (r < 0)
                return r;
        return reply_results(msg, &results);
}

int method_enable_legacy_ex(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        uint64_t flags;
        bool enable;
        int r;

        r = enable_legacy_ex_check(m, msg, &enable, &flags, error);
        if (r < 0)
                return r;
        /* Unlike EnableLegacy, turning it on again is not a no-op: it grants the VMs that
         * could not be granted before and repairs their NICs. */
        return polkit_authorize_async(m->polkit, msg, POLKIT_ACTION_MANAGE_LEGACY,
                enable_legacy_ex_authorized, m, error);
}

/* --- SetVMAccessEx --- */

static int set_vm_access_ex_check(Manager *m, sd_bus_message *msg, const char **ret_name, Vm **ret_vm,
        bool *ret_enable, sd_bus_error *error) {
        const char *name;
        int enable, r;

        r = sd_bus_message_read(msg, "sb", &name, &enable);
        if (r < 0)
                return r;
        *ret_vm = NULL;
        if (!streq(name, "*")) {
                *ret_vm = manager_find_vm(m, name);
                if (!*ret_vm && !(manager_clustered(m) && uuid_is_shaped(name)))
                        return reply_no_such_vm(error, name);
        }
        *ret_name = name;
        *ret_enable = enable;
        return 0;
}

static int set_vm_access_ex_authorized(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(grant_results_done) GrantResults results = {};
        Manager *m = userdata;
        const char *name;
        bool enable;
        Vm *vm;
        int r;

        r = set_vm_access_ex_check(m, msg, &name, &vm, &enable, error);
        if (r < 0)
                return r;
        if (manager_clustered(m))
                return manager_cluster_set_vm_access(m, msg, name, enable, true, error);
        r = manager_set_vm_access(m, vm, enable, &results, error);
        if (r < 0)
                return r;
        return reply_results(msg, &results);
}

int method_set_vm_access_ex(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        const char *name;
        bool enable;
        Vm *vm;
        int r;

        r = set_vm_access_ex_check(m, msg, &name, &vm, &enable, error);
        if (r < 0)
                return r;
        return polkit_authorize_async(m->polkit, msg, POLKIT_ACTION_MANAGE_VM_ACCESS,
                set_vm_access_ex_authorized, m, error);
}

/* --- FixVM --- */

static int fix_vm_check(Manager *m, sd_bus_message *msg, Vm **ret_vm, const char **ret_action,
        sd_bus_error *error) {
        const char *name, *action;
        int r;

        r = sd_bus_message_read(msg, "ss", &name, &action);
        if (r < 0)
                return r;
        *ret_vm = manager_find_vm(m, name);
        if (!*ret_vm)
                return reply_no_such_vm(error, name);
        r = manager_fix_vm_check(m, *ret_vm, action, error);
        if (r < 0)
                return r;
        *ret_action = action;
        return 0;
}

static int fix_vm_authorized(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_free_ char *text = NULL;
        Manager *m = userdata;
        const char *action;
        Vm *vm;
        int r;

        r = fix_vm_check(m, msg, &vm, &action, error);
        if (r < 0)
                return r;
        /* Legacy access goes through the cluster store, as SetVMAccess's. */
        if (streq(action, "EnableVMLegacyAccess") && manager_clustered(m))
                return manager_cluster_fix_vm_access(m, msg, vm, error);
        r = manager_fix_vm(m, vm, action, &text, error);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(msg, "s", text);
}

int method_fix_vm(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        const char *action;
        Vm *vm;
        int r;

        r = fix_vm_check(m, msg, &vm, &action, error);
        if (r < 0)
                return r;
        /* Granting legacy access is SetVMAccess's action; the devices have their own. */
        return polkit_authorize_async(m->polkit, msg,
                streq(action, "EnableVMLegacyAccess") ? POLKIT_ACTION_MANAGE_VM_ACCESS
                                                      : POLKIT_ACTION_MANAGE_VM_DEVICES,
                fix_vm_authorized, m, error);
}
