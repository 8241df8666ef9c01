/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "bus-names.h"
#include "log.h"
#include "object-manager.h"
#include "vm-bus.h"

/* The org.azshci.Attestation1.VM objects, one per registered VM, found by the escaped id in
 * their path. The registration properties are read through the field table of vm.c. */

static int vm_find(sd_bus *bus, const char *path, const char *interface, void *userdata, void **found,
        sd_bus_error *error) {
        _cleanup_free_ char *id = NULL;
        Manager *m = userdata;
        Vm *vm;
        int r;

        r = sd_bus_path_decode(path, BUS_PATH_VM_PREFIX, &id);
        if (r <= 0)
                return r;

        vm = manager_find_vm_by_id(m, id);
        if (!vm)
                return 0;
        *found = vm;
        return 1;
}

static int vm_enumerate(sd_bus *bus, const char *path, void *userdata, char ***nodes, sd_bus_error *error) {
        _cleanup_strv_free_ char **l = NULL;
        Manager *m = userdata;
        int r;

        l = calloc(m->n_vms + 1, sizeof(char *));
        if (!l)
                return -ENOMEM;
        for (size_t i = 0; i < m->n_vms; i++) {
                r = vm_object_path(m->vms[i], &l[i]);
                if (r < 0)
                        return r;
        }
        *nodes = TAKE_PTR(l);
        return 0;
}

static int property_get_field(sd_bus *bus, const char *path, const char *interface, const char *property,
        sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Vm *vm = userdata;
        VmValue v;
        int r;

        r = vm_get_field(vm, property, &v);
        if (r < 0)
                return r;
        switch (v.type) {
        case 's':
                return sd_bus_message_append_basic(reply, 's', v.s);
        case 'u':
                return sd_bus_message_append_basic(reply, 'u', &v.u);
        case 'b': {
                int b = v.b;
                return sd_bus_message_append_basic(reply, 'b', &b);
        }
        }
        return -EINVAL;
}

static int property_get_status(sd_bus *bus, const char *path, const char *interface, const char *property,
        sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Vm *vm = userdata;
        return sd_bus_message_append(reply, "s", vm_status_to_string(vm->evaluation.status));
}

static int property_get_source(sd_bus *bus, const char *path, const char *interface, const char *property,
        sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Vm *vm = userdata;
        return sd_bus_message_append(reply, "s", vm_source_to_string(vm->source));
}

static int property_get_strv(sd_bus *bus, const char *path, const char *interface, const char *property,
        sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        char ***l = userdata;
        return sd_bus_message_append_strv(reply, *l);
}

static int property_get_legacy_error(sd_bus *bus, const char *path, const char *interface,
        const char *property, sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Vm *vm = userdata;
        return sd_bus_message_append(reply, "s", strempty(vm->evaluation.legacy_error));
}

static int property_get_bool(sd_bus *bus, const char *path, const char *interface, const char *property,
        sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        int b = *(bool *)userdata;
        return sd_bus_message_append_basic(reply, 'b', &b);
}

#define VM_FIELD_PROPERTY(name, type) \
        SD_BUS_PROPERTY(name, type, property_get_field, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE)

static const sd_bus_vtable vm_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Id", "s", property_get_field, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        VM_FIELD_PROPERTY("Name", "s"),
        VM_FIELD_PROPERTY("Generation", "u"),
        VM_FIELD_PROPERTY("PowerState", "s"),
        VM_FIELD_PROPERTY("GuestServiceInterface", "b"),
        VM_FIELD_PROPERTY("DataExchange", "b"),
        VM_FIELD_PROPERTY("OsName", "s"),
        VM_FIELD_PROPERTY("OsVersion", "s"),
        VM_FIELD_PROPERTY("SqlVersion", "s"),
        VM_FIELD_PROPERTY("ArcAgentVersion", "s"),
        VM_FIELD_PROPERTY("VsockCid", "u"),
        VM_FIELD_PROPERTY("LegacyMac", "s"),
        VM_FIELD_PROPERTY("LegacyInterface", "s"),
        VM_FIELD_PROPERTY("Sku", "s"),
        VM_FIELD_PROPERTY("LicenseType", "s"),
        SD_BUS_PROPERTY("Status", "s", property_get_status, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("EligibleBenefits", "as", property_get_strv, offsetof(Vm, evaluation.eligible),
                SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("ActiveBenefits", "as", property_get_strv, offsetof(Vm, evaluation.active),
                SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("RecommendedActions", "as", property_get_strv,
                offsetof(Vm, evaluation.recommended_actions), SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("RequiredUpdates", "as", property_get_strv,
                offsetof(Vm, evaluation.required_updates), SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("LegacyAccess", "b", property_get_bool, offsetof(Vm, legacy_access),
                SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("LegacyError", "s", property_get_legacy_error, 0,
                SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Source", "s", property_get_source, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_VTABLE_END,
};

int vm_add_bus_objects(Manager *m) {
        int r;

        assert(m);

        /* GetManagedObjects dumps it with object_manager_append(). */
        r = object_manager_check_vtable(vm_vtable);
        if (r < 0)
                return log_error_errno(r,
                        "The vtable of %s has a property GetManagedObjects cannot dump: %m",
                        BUS_INTERFACE_VM);

        r = sd_bus_add_fallback_vtable(m->bus, NULL, BUS_PATH_VM_PREFIX, BUS_INTERFACE_VM, vm_vtable,
                vm_find, m);
        if (r < 0)
                return log_error_errno(r, "Failed to register %s: %m", BUS_INTERFACE_VM);

        r = sd_bus_add_node_enumerator(m->bus, NULL, BUS_PATH_VM_PREFIX, vm_enumerate, m);
        if (r < 0)
                return log_error_errno(r, "Failed to register the VM enumerator: %m");
        return 0;
}

int vm_append_managed_objects(Manager *m, sd_bus_message *reply, sd_bus_error *error) {
        int r;

        assert(m);
        assert(reply);

        /* In vm_enumerate()'s order, one path at a time. */
        for (size_t i = 0; i < m->n_vms; i++) {
                _cleanup_free_ char *path = NULL;

                r = vm_object_path(m->vms[i], &path);
                if (r < 0)
                        return r;
                r = object_manager_append(m->bus, reply, path, BUS_INTERFACE_VM, vm_vtable, m->vms[i],
                        error);
                if (r < 0)
                        return r;
        }
        return 0;
}

int vm_emit_changed(Manager *m, Vm *vm, char **properties) {
        _cleanup_free_ char *path = NULL;
        int r;

        assert(m);
        assert(vm);

        if (!m->bus)
                return 0;
        r = vm_object_path(vm, &path);
        if (r < 0)
                return r;
        return sd_bus_emit_properties_changed_strv(m->bus, path, BUS_INTERFACE_VM, properties);
}
