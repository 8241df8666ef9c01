/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "build-config.h"
#include "bus-names.h"
#include "imds-versions.h"
#include "log.h"
#include "manager-attest.h"
#include "manager-bus-legacy.h"
#include "manager-bus.h"
#include "manager-change.h"
#include "manager-cluster.h"
#include "manager-connect.h"
#include "manager-grants.h"
#include "manager-inventory.h"
#include "manager-legacy.h"
#include "manager-sign.h"
#include "server-bus.h"
#include "validate.h"
#include "vm-bus.h"

static int property_get_host_state(sd_bus *bus, const char *path, const char *interface,
        const char *property, sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        return sd_bus_message_append(reply, "s", m->config.enabled ? "On" : "Off");
}

static int property_get_legacy(sd_bus *bus, const char *path, const char *interface, const char *property,
        sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        return sd_bus_message_append(reply, "s", m->legacy_support ? "On" : "Off");
}

static int property_get_inventory_stale(sd_bus *bus, const char *path, const char *interface,
        const char *property, sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        int b = manager_inventory_stale(userdata);
        return sd_bus_message_append_basic(reply, 'b', &b);
}

static int property_get_cluster_store(sd_bus *bus, const char *path, const char *interface,
        const char *property, sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "s", manager_cluster_store_state(userdata));
}

static int property_get_subscription_id(sd_bus *bus, const char *path, const char *interface,
        const char *property, sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        return sd_bus_message_append(reply, "s", strempty(m->config.subscription_id));
}

static int property_get_version(sd_bus *bus, const char *path, const char *interface, const char *property,
        sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "s", PACKAGE_VERSION);
}

int manager_emit_changed(Manager *m, char **properties) {
        assert(m);

        if (!m->bus)
                return 0;
        return sd_bus_emit_properties_changed_strv(m->bus, BUS_PATH, BUS_INTERFACE, properties);
}

static int reply_no_such_vm(sd_bus_error *error, const char *name) {
        return sd_bus_error_setf(error, BUS_ERROR_NO_SUCH_VM,
                "No VM is registered with the name or id '%s'.", name);
}

/* --- Sync --- */

static int sync_authorized(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return manager_sync(userdata, msg, error);
}

static int method_sync(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;

        return polkit_authorize_async(m->polkit, msg, POLKIT_ACTION_SYNC, sync_authorized, m, error);
}

/* --- EnableLegacy --- */

static int enable_legacy_authorized(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        int enable, r;

        r = sd_bus_message_read(msg, "b", &enable);
        if (r < 0)
                return r;

        /* In a cluster the switch is the cluster's: every server (this one included) applies
         * it when etcd took it. */
        if (manager_clustered(m))
                return manager_cluster_enable_legacy(m, msg, enable, false, error);
        /* The switch may have been flipped while polkit was thinking (another EnableLegacy
         * waiting beside this one): check again, as before, so that this call does not grant
         * again what was revoked meanwhile. */
        if (!!enable == m->legacy_support)
                return sd_bus_reply_method_return(msg, NULL);

        r = manager_set_legacy_support(m, enable, 0, NULL, NULL, error);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(msg, NULL);
}

static int method_enable_legacy(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        int enable, r;

        r = sd_bus_message_read(msg, "b", &enable);
        if (r < 0)
                return r;
        if (!!enable == m->legacy_support && !manager_clustered(m))
                return sd_bus_reply_method_return(msg, NULL);

        return polkit_authorize_async(m->polkit, msg, POLKIT_ACTION_MANAGE_LEGACY, enable_legacy_authorized,
                m, error);
}

/* --- ReapplyLegacy --- */

static int reapply_legacy_authorized(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        const char *server;
        int r;

        r = sd_bus_message_read(msg, "s", &server);
        if (r < 0)
                return r;
        return manager_cluster_reapply(userdata, msg, server, error);
}

static int method_reapply_legacy(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        const char *server;
        int r;

        r = sd_bus_message_read(msg, "s", &server);
        if (r < 0)
                return r;
        if (!cluster_server_name_is_valid(server))
                return sd_bus_error_setf(error, BUS_ERROR_NO_SUCH_SERVER,
                        "No server '%s' is known in this cluster.", server);
        return polkit_authorize_async(m->polkit, msg, POLKIT_ACTION_MANAGE_LEGACY, reapply_legacy_authorized,
                m, error);
}

/* --- SetVMAccess --- */

/* Reads the arguments and checks them against the current inventory. Returns 0 when there is
 * nothing to change, 1 when there is. */
static int set_vm_access_check(Manager *m, sd_bus_message *msg, const char **ret_vm, bool *ret_enable,
        sd_bus_error *error) {
        const char *name;
        int enable, r;
        bool change = false;

        r = sd_bus_message_read(msg, "sb", &name, &enable);
        if (r < 0)
                return r;

        if (streq(name, "*")) {
                _cleanup_free_ char *blocked = NULL;

                for (size_t i = 0; i < m->n_vms; i++) {
                        Vm *vm = m->vms[i];
                        if (vm->legacy_access == !!enable)
                                continue;
                        change = true;
                        if (enable && m->legacy_support) {
                                r = manager_legacy_check_vm(m, vm, error);
                                if (r < 0)
                                        return r;
                        }
                        if (enable && vm_needs_power_off_for_legacy(vm)) {
                                char *t;
                                if (asprintf(&t, "%s%s'%s'", strempty(blocked), blocked ? ", " : "",
                                            vm->name) < 0)
                                        return -ENOMEM;
                                free(blocked);
                                blocked = t;
                        }
                }
                if (blocked)
                        return sd_bus_error_setf(error, BUS_ERROR_POWER_OFF_REQUIRED,
                                "Generation 1 VM(s) %s must be powered off before they can be given legacy access; "
                                "nothing was changed.",
                                blocked);
        } else {
                Vm *vm = manager_find_vm(m, name);
                if (!vm && manager_clustered(m) && uuid_is_shaped(name))
                        /* A VM of another server of the cluster: its grant is the cluster's. */
                        change = true;
                else if (!vm)
                        return reply_no_such_vm(error, name);
                else {
                        change = vm->legacy_access != !!enable;
                        if (change && enable && vm_needs_power_off_for_legacy(vm))
                                return sd_bus_error_setf(error, BUS_ERROR_POWER_OFF_REQUIRED,
                                        "VM '%s' is a Generation 1 VM and is %s: power it off before giving it legacy "
                                        "access.",
                                        vm->name, vm_power_state_to_string(vm->power_state));
                        if (change && enable && m->legacy_support) {
                                r = manager_legacy_check_vm(m, vm, error);
                                if (r < 0)
                                        return r;
                        }
                }
        }

        *ret_vm = name;
        *ret_enable = enable;
        return change;
}

static int set_vm_access_authorized(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(grant_results_done) GrantResults results = {};
        Manager *m = userdata;
        const char *name;
        bool enable;
        int r;

        /* The inventory may have changed while polkit was thinking: check again. */
        r = set_vm_access_check(m, msg, &name, &enable, error);
        if (r < 0 || (r == 0 && !manager_clustered(m)))
                return r < 0 ? r : sd_bus_reply_method_return(msg, NULL);

        /* In a cluster the grants are the cluster's: etcd first, then every server running one
         * of the VMs applies it. */
        if (manager_clustered(m))
                return manager_cluster_set_vm_access(m, msg, name, enable, false, error);

        r = manager_set_vm_access(m, streq(name, "*") ? NULL : manager_find_vm(m, name), enable, &results,
                error);
        if (r < 0)
                return r;
        /* SetVMAccessEx says VM by VM what failed; this one says the first. */
        for (size_t i = 0; i < results.n; i++)
                if (results.items[i].outcome == GRANT_FAILED)
                        return sd_bus_error_set(error, results.items[i].error_name,
                                results.items[i].message);
        return sd_bus_reply_method_return(msg, NULL);
}

static int method_set_vm_access(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        const char *name;
        bool enable;
        int r;

        r = set_vm_access_check(m, msg, &name, &enable, error);
        if (r < 0)
                return r;
        if (r == 0 && !manager_clustered(m)) /* in a cluster, the grant may still differ */
                return sd_bus_reply_method_return(msg, NULL);

        return polkit_authorize_async(m->polkit, msg, POLKIT_ACTION_MANAGE_VM_ACCESS,
                set_vm_access_authorized, m, error);
}

/* --- RegisterVM, ImportVMs, UpdateVM, UnregisterVM --- */

/* Reads one a{sv} registration and checks it against the inventory. The VM is returned also
 * when it is refused (as far as it got), so that the caller can name it; NULL only when out of
 * memory. */
static int register_vm_parse(Manager *m, sd_bus_message *msg, Vm **ret, sd_bus_error *error) {
        _cleanup_(vm_freep) Vm *vm = NULL;
        int r;

        vm = vm_new();
        if (!vm)
                return -ENOMEM;
        r = vm_apply_properties_message(vm, msg, error);
        if (r >= 0)
                r = vm_validate_complete(vm, error);
        if (r >= 0)
                r = manager_inventory_check_register(m, vm, error);
        if (r >= 0)
                r = manager_check_unique(m, vm, NULL, error);

        *ret = TAKE_PTR(vm);
        return r;
}

static int register_vm_change(Manager *m, sd_bus_message *msg, Change *c, sd_bus_error *error) {
        _cleanup_(vm_freep) Vm *vm = NULL;
        int r;

        r = register_vm_parse(m, msg, &vm, error);
        if (r < 0)
                return r;
        r = change_add_vm(c, TAKE_PTR(vm));
        return r < 0 ? r : 1;
}

/* The object paths of the VMs the change adds: RegisterVM's "o", ImportVMs' "ao". */
static int append_added_paths(sd_bus_message *reply, const Change *c) {
        int r;

        for (size_t i = 0; i < c->n_add; i++) {
                _cleanup_free_ char *path = NULL;

                r = vm_object_path(c->add[i], &path);
                if (r < 0)
                        return r;
                r = sd_bus_message_append(reply, "o", path);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int register_vm_reply(sd_bus_message *reply, const Change *c) {
        return append_added_paths(reply, c);
}

/* Prefixes the error of one entry with its position and name: "VM 3 ('db1'): ...". */
static int import_entry_error(sd_bus_error *error, int r, size_t index, const Vm *vm) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;

        if (!sd_bus_error_is_set(error))
                return r; /* a malformed message or no memory: nothing to name */
        sd_bus_error_move(&e, error);
        if (vm && vm->name)
                return sd_bus_error_setf(error, e.name, "VM %zu ('%s'): %s", index, vm->name, e.message);
        return sd_bus_error_setf(error, e.name, "VM %zu: %s", index, e.message);
}

/* Reads and validates every entry of ImportVMs like RegisterVM does one, and checks that the
 * entries are unique among themselves too. On success the new VMs are in c->add, in order; an
 * empty batch changes nothing. */
static int import_vms_change(Manager *m, sd_bus_message *msg, Change *c, sd_bus_error *error) {
        _cleanup_(vm_indexes_done) VmIndexes batch = {};
        int r;

        vm_indexes_init(&batch);
        r = sd_bus_message_enter_container(msg, 'a', "a{sv}");
        if (r < 0)
                return r;
        for (size_t i = 0;; i++) {
                Vm *vm = NULL, *other;
                VmKey key;

                r = sd_bus_message_at_end(msg, false);
                if (r < 0)
                        return r;
                if (r > 0)
                        break;
                if (i >= IMPORT_VMS_MAX)
                        return sd_bus_error_setf(error, SD_BUS_ERROR_LIMITS_EXCEEDED,
                                "ImportVMs takes at most %u VMs at once; split the batch.", IMPORT_VMS_MAX);

                r = register_vm_parse(m, msg, &vm, error);
                if (r < 0) {
                        _cleanup_(vm_freep) Vm *refused = vm; /* named in the error, if it got a name */
                        return import_entry_error(error, r, i, refused);
                }
                r = change_add_vm(c, vm);
                if (r < 0)
                        return r;

                other = vm_indexes_find_clash(&batch, vm, NULL, &key);
                if (other) {
                        size_t j = 0;

                        while (c->add[j] != other)
                                j++;
                        sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                "VM property '%s': the same value as VM %zu ('%s') of this batch.",
                                vm_key_to_string(key), j, other->name);
                        return import_entry_error(error, -EINVAL, i, vm);
                }
                r = vm_indexes_add(&batch, vm);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_exit_container(msg);
        return r < 0 ? r : c->n_add > 0;
}

static int import_vms_reply(sd_bus_message *reply, const Change *c) {
        int r;

        r = sd_bus_message_open_container(reply, 'a', "o");
        if (r < 0)
                return r;
        r = append_added_paths(reply, c);
        if (r < 0)
                return r;
        return sd_bus_message_close_container(reply);
}

static int update_vm_change(Manager *m, sd_bus_message *msg, Change *c, sd_bus_error *error) {
        const char *name;
        Vm *vm, *copy;
        int r;

        r = sd_bus_message_read(msg, "s", &name);
        if (r < 0)
                return r;
        vm = manager_find_vm(m, name);
        if (!vm)
                return reply_no_such_vm(error, name);

        r = change_replace_vm(m, c, vm, &copy);
        if (r < 0)
                return r;
        r = vm_apply_properties_message(copy, msg, error);
        if (r < 0)
                return r;
        if (!streq(copy->id, vm->id))
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                        "VM property 'Id' cannot be changed (VM '%s' has id %s).", vm->name, vm->id);
        r = manager_inventory_check_update(m, vm, copy, error);
        if (r < 0)
                return r;
        r = manager_check_unique(m, copy, vm, error);
        return r < 0 ? r : 1;
}

static int unregister_vm_change(Manager *m, sd_bus_message *msg, Change *c, sd_bus_error *error) {
        const char *name;
        int r;

        r = sd_bus_message_read(msg, "s", &name);
        if (r < 0)
                return r;
        c->remove = manager_find_vm(m, name);
        if (!c->remove)
                return reply_no_such_vm(error, name);
        r = manager_inventory_check_update(m, c->remove, NULL, error);
        return r < 0 ? r : 1;
}

/* The methods that change the inventory, each in the same two steps: its arguments are read
 * into a Change and checked before polkit is asked (bad input is refused without a prompt),
 * and again once authorized (the inventory may have changed while polkit was thinking); then
 * the change is committed and the reply sent. change() returns 1 when there is something to
 * change, 0 when not (answered at once, without asking polkit); reply() appends the reply's
 * arguments, before the commit (which takes the change's VMs), or is NULL for none. */
typedef struct InventoryMethod {
        const char *member;
        int (*change)(Manager *m, sd_bus_message *msg, Change *c, sd_bus_error *error);
        int (*reply)(sd_bus_message *reply, const Change *c);
} InventoryMethod;

static const InventoryMethod inventory_methods[] = {
        {"RegisterVM", register_vm_change, register_vm_reply},
        {"ImportVMs", import_vms_change, import_vms_reply},
        {"UpdateVM", update_vm_change, NULL},
        {"UnregisterVM", unregister_vm_change, NULL},
};

static const InventoryMethod *inventory_method(sd_bus_message *msg) {
        const char *member = sd_bus_message_get_member(msg);
        size_t i;

        for (i = 0; i < ELEMENTSOF(inventory_methods) - 1; i++)
                if (streq_ptr(member, inventory_methods[i].member))
                        break;
        /* The vtable sends only these members here. */
        assert(streq_ptr(member, inventory_methods[i].member));
        return &inventory_methods[i];
}

static int inventory_reply(const InventoryMethod *im, sd_bus_message *msg, const Change *c,
        sd_bus_message **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        r = sd_bus_message_new_method_return(msg, &reply);
        if (r < 0)
                return r;
        if (im->reply) {
                r = im->reply(reply, c);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(reply);
        return 0;
}

static int inventory_authorized(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        const InventoryMethod *im = inventory_method(msg);
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(change_done) Change c = {};
        Manager *m = userdata;
        int r, changes;

        change_init(m, &c);
        changes = im->change(m, msg, &c, error);
        if (changes < 0)
                return changes;
        r = inventory_reply(im, msg, &c, &reply);
        if (r < 0)
                return r;
        if (changes > 0) {
                r = manager_commit(m, &c, error);
                if (r < 0)
                        return r;
        }
        return sd_bus_send(NULL, reply, NULL);
}

static int method_inventory(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        const InventoryMethod *im = inventory_method(msg);
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(change_done) Change c = {};
        Manager *m = userdata;
        int r;

        change_init(m, &c);
        r = im->change(m, msg, &c, error);
        if (r < 0)
                return r;
        if (r == 0) { /* nothing to change, nothing to authorize */
                r = inventory_reply(im, msg, &c, &reply);
                if (r < 0)
                        return r;
                return sd_bus_send(NULL, reply, NULL);
        }

        return polkit_authorize_async(m->polkit, msg, POLKIT_ACTION_MANAGE_INVENTORY, inventory_authorized,
                m, error);
}

/* --- Attest --- */

int method_attest(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        const char *transport, *peer, *nonce;
        int r;

        /* No polkit here: the bus policy lets only the frontends' group call this, and it is on
         * the hot path of every guest request. */
        r = sd_bus_message_read(msg, "sss", &transport, &peer, &nonce);
        if (r < 0)
                return r;
        return manager_attest(userdata, msg, transport, peer, nonce, NULL, error);
}

int method_attest_for_version(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        const char *transport, *peer, *nonce, *api_version;
        int r;

        r = sd_bus_message_read(msg, "ssss", &transport, &peer, &nonce, &api_version);
        if (r < 0)
                return r;
        return manager_attest(userdata, msg, transport, peer, nonce, api_version, error);
}

int method_attest_batch(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return manager_attest_batch(userdata, msg, error);
}

/* --- GetLegacyNetworkStatus --- */

static int method_get_legacy_network_status(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_free_ char *report = NULL;
        Manager *m = userdata;
        bool ok;
        int r;

        /* Open to every local user, and it reads every granted domain again: charged like a
         * whole-inventory read. */
        r = manager_charge_inventory_read(m, msg, error);
        if (r < 0)
                return r;
        r = manager_legacy_status(m, &ok, &report);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Failed to inspect the legacy network: %m");
        return sd_bus_reply_method_return(msg, "bs", ok, report);
}

/* --- GetTrustAnchor --- */

static int method_get_trust_anchor(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_free_ char *pem = NULL;
        Manager *m = userdata;
        int r;

        /* Public information: whoever verifies documents needs it. */
        r = manager_get_trust_anchor(m, &pem);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Failed to read the trust anchor: %m");
        return sd_bus_reply_method_return(msg, "s", pem);
}

static const sd_bus_vtable manager_vtable[] = {
        SD_BUS_VTABLE_START(0),

        SD_BUS_PROPERTY("HostState", "s", property_get_host_state, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("LegacyOsSupport", "s", property_get_legacy, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("InventoryStale", "b", property_get_inventory_stale, 0,
                SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("LastSync", "t", NULL, offsetof(Manager, last_sync),
                SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("CertificateExpiry", "t", NULL, offsetof(Manager, certificate_expiry),
                SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("SubscriptionId", "s", property_get_subscription_id, 0,
                SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Version", "s", property_get_version, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("ClusterStore", "s", property_get_cluster_store, 0,
                SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),

        SD_BUS_METHOD_WITH_ARGS("Sync", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, method_sync,
                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("EnableLegacy", SD_BUS_ARGS("b", enable), SD_BUS_NO_RESULT,
                method_enable_legacy, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ReapplyLegacy", SD_BUS_ARGS("s", server), SD_BUS_NO_RESULT,
                method_reapply_legacy, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("SetVMAccess", SD_BUS_ARGS("s", vm, "b", enable), SD_BUS_NO_RESULT,
                method_set_vm_access, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("RegisterVM", SD_BUS_ARGS("a{sv}", properties), SD_BUS_RESULT("o", path),
                method_inventory, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ImportVMs", SD_BUS_ARGS("aa{sv}", vms), SD_BUS_RESULT("ao", paths),
                method_inventory, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("UpdateVM", SD_BUS_ARGS("s", vm, "a{sv}", properties), SD_BUS_NO_RESULT,
                method_inventory, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("UnregisterVM", SD_BUS_ARGS("s", vm), SD_BUS_NO_RESULT, method_inventory,
                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetLegacyNetworkStatus", SD_BUS_NO_ARGS,
                SD_BUS_RESULT("b", ok, "s", report), method_get_legacy_network_status,
                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetTrustAnchor", SD_BUS_NO_ARGS, SD_BUS_RESULT("s", pem),
                method_get_trust_anchor, SD_BUS_VTABLE_UNPRIVILEGED),
        MANAGER_ATTEST_METHODS,
        MANAGER_LEGACY_EX_METHODS,

        SD_BUS_VTABLE_END,
};

int manager_reply_managed_objects(Manager *m, sd_bus_message *call) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        assert(m);
        assert(call);

        /* Arguments: sd-bus's to refuse ("Expected no parameters"). No reply wanted: nothing to do
         * (the getters change nothing), rather than build the whole reply for nobody. */
        if (!isempty(sd_bus_message_get_signature(call, true)))
                return 0;
        if (!sd_bus_message_get_expect_reply(call))
                return 1;

        r = sd_bus_message_new_method_return(call, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "{oa{sa{sv}}}");
        if (r >= 0) /* sd-bus's order: the children registered last come first */
                r = vm_append_managed_objects(m, reply, &error);
        if (r >= 0)
                r = server_append_managed_objects(m, reply, &error);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r < 0)
                return sd_bus_reply_method_errno(call, r, &error);
        r = sd_bus_send(NULL, reply, NULL);
        return r < 0 ? r : 1;
}

int manager_add_bus_objects(Manager *m) {
        int r;

        assert(m);

        r = sd_bus_add_object_vtable(m->bus, NULL, BUS_PATH, BUS_INTERFACE, manager_vtable, m);
        if (r < 0)
                return log_error_errno(r, "Failed to register %s: %m", BUS_INTERFACE);

        r = sd_bus_add_object_manager(m->bus, NULL, BUS_PATH);
        if (r < 0)
                return log_error_errno(r, "Failed to register the object manager: %m");

        r = server_add_bus_objects(m);
        if (r < 0)
                return r;

        return vm_add_bus_objects(m);
}
