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

/* What a method read and checked, and the polkit action that authorizes it. */
typedef struct LegacyCall {
        const char *polkit_action;
        const char *name;   /* SetVMAccessEx */
        const char *action; /* FixVM */
        Vm *vm;             /* SetVMAccessEx (NULL for "*" or a cluster's VM), FixVM */
        bool enable;
        uint64_t flags; /* EnableLegacyEx */
} LegacyCall;

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

static int enable_legacy_ex_check(Manager *m, sd_bus_message *msg, LegacyCall *c, sd_bus_error *error) {
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
        /* Unlike EnableLegacy, turning it on again is not a no-op: it grants the VMs that
         * could not be granted before and repairs their NICs. */
        c->polkit_action = POLKIT_ACTION_MANAGE_LEGACY;
        c->enable = enable;
        c->flags = flags;
        return 0;
}

/* --- SetVMAccessEx --- */

static int set_vm_access_ex_check(Manager *m, sd_bus_message *msg, LegacyCall *c, sd_bus_error *error) {
        const char *name;
        int enable, r;

        r = sd_bus_message_read(msg, "sb", &name, &enable);
        if (r < 0)
                return r;
        c->vm = NULL;
        if (!streq(name, "*")) {
                c->vm = manager_find_vm(m, name);
                if (!c->vm && !(manager_clustered(m) && uuid_is_shaped(name)))
                        return reply_no_such_vm(error, name);
        }
        c->polkit_action = POLKIT_ACTION_MANAGE_VM_ACCESS;
        c->name = name;
        c->enable = enable;
        return 0;
}

/* Both -Ex methods: through the cluster store when clustered, else here, with what was done VM
 * by VM in the reply (the cluster's methods reply themselves). */
static int grants_ex_run(Manager *m, sd_bus_message *msg, const LegacyCall *c, sd_bus_error *error) {
        _cleanup_(grant_results_done) GrantResults results = {};
        bool one_vm = c->name != NULL; /* SetVMAccessEx; EnableLegacyEx has none */
        int r;

        if (manager_clustered(m))
                return one_vm ? manager_cluster_set_vm_access(m, msg, c->name, c->enable, true, error)
                              : manager_cluster_enable_legacy(m, msg, c->enable, true, error);
        r = one_vm ? manager_set_vm_access(m, c->vm, c->enable, &results, error)
                   : manager_set_legacy_support(m, c->enable, c->flags, NULL, &results, error);
        if (r < 0)
                return r;
        return reply_results(msg, &results);
}

/* --- FixVM --- */

static int fix_vm_check(Manager *m, sd_bus_message *msg, LegacyCall *c, sd_bus_error *error) {
        const char *name, *action;
        int r;

        r = sd_bus_message_read(msg, "ss", &name, &action);
        if (r < 0)
                return r;
        c->vm = manager_find_vm(m, name);
        if (!c->vm)
                return reply_no_such_vm(error, name);
        r = manager_fix_vm_check(m, c->vm, action, error);
        if (r < 0)
                return r;
        /* Granting legacy access is SetVMAccess's action; the devices have their own. */
        c->polkit_action = streq(action, "EnableVMLegacyAccess") ? POLKIT_ACTION_MANAGE_VM_ACCESS
                                                                 : POLKIT_ACTION_MANAGE_VM_DEVICES;
        c->action = action;
        return 0;
}

static int fix_vm_run(Manager *m, sd_bus_message *msg, const LegacyCall *c, sd_bus_error *error) {
        _cleanup_free_ char *text = NULL;
        int r;

        /* Legacy access goes through the cluster store, as SetVMAccess's. */
        if (streq(c->action, "EnableVMLegacyAccess") && manager_clustered(m))
                return manager_cluster_fix_vm_access(m, msg, c->vm, error);
        r = manager_fix_vm(m, c->vm, c->action, &text, error);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(msg, "s", text);
}

/* --- the two steps, for all three --- */

typedef struct LegacyMethod {
        const char *member;
        int (*check)(Manager *m, sd_bus_message *msg, LegacyCall *c, sd_bus_error *error);
        int (*run)(Manager *m, sd_bus_message *msg, const LegacyCall *c, sd_bus_error *error);
} LegacyMethod;

static const LegacyMethod legacy_methods[] = {
        {"EnableLegacyEx", enable_legacy_ex_check, grants_ex_run},
        {"SetVMAccessEx", set_vm_access_ex_check, grants_ex_run},
        {"FixVM", fix_vm_check, fix_vm_run},
};

static const LegacyMethod *legacy_method(sd_bus_message *msg) {
        const char *member = sd_bus_message_get_member(msg);
        size_t i;

        for (i = 0; i < ELEMENTSOF(legacy_methods) - 1; i++)
                if (streq_ptr(member, legacy_methods[i].member))
                        break;
        /* The vtable sends only these members here. */
        assert(streq_ptr(member, legacy_methods[i].member));
        return &legacy_methods[i];
}

static int legacy_authorized(sd_bus_message *msg, void *userdata, sd_bus_error *error);

/* Read and check; then ask polkit, or (authorized) check again and run. */
static int legacy_step(sd_bus_message *msg, Manager *m, bool authorized, sd_bus_error *error) {
        const LegacyMethod *lm = legacy_method(msg);
        LegacyCall c = {};
        int r;

        r = lm->check(m, msg, &c, error);
        if (r < 0)
                return r;
        if (authorized)
                return lm->run(m, msg, &c, error);
        return polkit_authorize_async(m->polkit, msg, c.polkit_action, legacy_authorized, m, error);
}

static int legacy_authorized(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        /* Checked again: the VMs may have changed while polkit was thinking. */
        return legacy_step(msg, userdata, true, error);
}

int method_legacy_ex(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return legacy_step(msg, userdata, false, error);
}
