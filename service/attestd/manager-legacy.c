/* SPDX-License-Identifier: LGPL-2.1-or-later */


#include "bus-names.h"
#include "legacy-net-status.h"
#include "legacy-net.h"
#include "log.h"
#include "manager-inventory.h"
#include "manager-legacy.h"
#include "virt-domain.h"
#include "manager.h"
#include "server-bus.h"

/* Legacy OS support on the network: the bridge with its firewall exists while the switch is
 * on, and each VM with legacy access has its NIC's host side attached as an isolated port
 * bound to its MAC. legacy-net.c does the netlink and nftables work; this file decides what
 * should exist, restores it at start, and notices when someone changes it behind our back. */

#define LEGACY_CHECK_INTERVAL_USEC (30 * USEC_PER_SEC)

static LegacyNetConfig legacy_config(Manager *m) {
        return (LegacyNetConfig){.bridge = m->config.legacy_bridge};
}

bool manager_legacy_managed(Manager *m) {
        assert(m);
        return m->config.legacy_network;
}

static bool vm_has_port(const Vm *vm) {
        return vm && vm->legacy_access && vm->legacy_interface && vm->legacy_mac;
}

int manager_legacy_check_vm(Manager *m, const Vm *vm, sd_bus_error *error) {
        assert(m);
        assert(vm);

        if (!manager_legacy_managed(m))
                return 0;
        /* The service adds a libvirt domain's NIC itself when it grants access. */
        if (manager_inventory_manages_devices(m, vm))
                return 0;
        /* A libvirt domain's tap exists only while it runs: it is attached when it appears. */
        if (!vm->legacy_interface && vm->source != VM_SOURCE_LIBVIRT)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                        "VM '%s' has no 'LegacyInterface': register the host side of its legacy NIC first.",
                        vm->name);
        if (!vm->legacy_mac)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                        "VM '%s' has no 'LegacyMac': register the MAC address of its legacy NIC first.",
                        vm->name);
        return 0;
}

int manager_legacy_attach(Manager *m, const Vm *vm, sd_bus_error *error) {
        LegacyNetConfig c = legacy_config(m);
        _cleanup_free_ char *e = NULL;
        int r;

        if (!manager_legacy_managed(m) || !vm_has_port(vm))
                return 0;

        /* A domain's port is only the tap the service named for it (virt-domain.c takes no other
         * name from libvirt): checked again here, and that the kernel says it is a tap. */
        if (vm->source == VM_SOURCE_LIBVIRT) {
                char want[VIRT_IFNAME_BUFLEN];

                virt_legacy_nic_ifname(vm->id, want);
                if (!streq(vm->legacy_interface, want))
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                "VM '%s': %s is not its legacy NIC's tap (%s).", vm->name,
                                vm->legacy_interface, want);
                r = legacy_net_attach_tap(&c, vm->legacy_interface, vm->legacy_mac, &e);
        } else
                r = legacy_net_attach_port(&c, vm->legacy_interface, vm->legacy_mac, &e);
        if (r < 0) {
                log_warning_errno(r, "Failed to attach VM '%s' (%s) to %s: %s", vm->name,
                        vm->legacy_interface, c.bridge, strna(e));
                return sd_bus_error_set_errnof(error, r,
                        "Failed to attach VM '%s' (%s) to the legacy network: %s", vm->name,
                        vm->legacy_interface, strna(e));
        }
        log_info("Attached VM '%s' (%s, %s) to %s.", vm->name, vm->legacy_interface, vm->legacy_mac,
                c.bridge);
        return 0;
}

void manager_legacy_detach(Manager *m, const Vm *vm) {
        LegacyNetConfig c = legacy_config(m);
        _cleanup_free_ char *e = NULL;
        int r;

        if (!manager_legacy_managed(m) || !vm || !vm->legacy_interface)
                return;

        r = legacy_net_detach_port(&c, vm->legacy_interface, &e);
        if (r < 0)
                log_warning_errno(r, "Failed to detach %s from %s: %s", vm->legacy_interface, c.bridge,
                        strna(e));
        else
                log_info("Detached VM '%s' (%s) from %s.", vm->name, vm->legacy_interface, c.bridge);
}

int manager_legacy_setup(Manager *m, Vm *const *vms, size_t n_vms, sd_bus_error *error) {
        LegacyNetConfig c = legacy_config(m);
        _cleanup_free_ char *e = NULL;
        int r;

        if (!manager_legacy_managed(m))
                return 0;

        r = legacy_net_enable(&c, &e);
        if (r < 0) {
                log_error_errno(r, "Failed to set up the legacy network on %s: %s", c.bridge, strna(e));
                return sd_bus_error_set_errnof(error, r, "Failed to set up the legacy network: %s",
                        strna(e));
        }
        log_info("Legacy network %s is up.", c.bridge);

        /* One VM whose NIC is missing (it is powered off, say) must not keep the others off the
         * network: it shows up in the drift check instead. */
        for (size_t i = 0; i < n_vms; i++)
                (void)manager_legacy_attach(m, vms[i], NULL);
        return 0;
}

int manager_legacy_teardown(Manager *m, sd_bus_error *error) {
        LegacyNetConfig c = legacy_config(m);
        _cleanup_free_ char *e = NULL;
        int r;

        if (!manager_legacy_managed(m))
                return 0;

        r = legacy_net_disable(&c, &e);
        if (r < 0) {
                log_error_errno(r, "Failed to remove the legacy network %s: %s", c.bridge, strna(e));
                return sd_bus_error_set_errnof(error, r, "Failed to remove the legacy network: %s",
                        strna(e));
        }
        log_info("Legacy network %s removed.", c.bridge);
        return 0;
}

void manager_legacy_vm_changed(Manager *m, bool legacy_support, const Vm *old, const Vm *new) {
        bool had = legacy_support && vm_has_port(old), has = legacy_support && vm_has_port(new);
        bool same = had && has && streq(old->legacy_interface, new->legacy_interface) &&
                    streq(old->legacy_mac, new->legacy_mac);

        if (!manager_legacy_managed(m) || same)
                return;
        if (had)
                manager_legacy_detach(m, old);
        if (has)
                (void)manager_legacy_attach(m, new, NULL);
}

int manager_legacy_vm_error(Manager *m, const Vm *vm, char **ret) {
        char mac[VIRT_MAC_BUFLEN], dev[VIRT_IFNAME_BUFLEN];
        _cleanup_free_ char *what = NULL;
        int r;

        assert(m);
        assert(vm);
        assert(ret);

        *ret = NULL;
        if (!vm->legacy_access) {
                _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;

                /* While the switch is on: why the VM cannot be granted now (as a grant would
                 * say), or why the last grant failed. */
                if (!m->legacy_support)
                        return 0;
                if (vm_needs_power_off_for_legacy(vm))
                        return asprintf(ret,
                                       "no legacy access: VM '%s' is a Generation 1 VM and is %s: power it off "
                                       "before giving it legacy access.",
                                       vm->name, vm_power_state_to_string(vm->power_state)) < 0
                                       ? -ENOMEM
                                       : 0;
                if (manager_legacy_check_vm(m, vm, &e) < 0)
                        return asprintf(ret, "no legacy access: %s", e.message) < 0 ? -ENOMEM : 0;
                if (vm->legacy_refusal)
                        return asprintf(ret, "no legacy access: %s", vm->legacy_refusal) < 0 ? -ENOMEM : 0;
                return 0;
        }
        if (!manager_inventory_manages_devices(m, vm))
                return 0;
        virt_legacy_nic_mac(vm->id, mac);
        virt_legacy_nic_ifname(vm->id, dev);
        /* virt-domain.c sets LegacyMac only for the service's NIC with the derived MAC, and
         * LegacyInterface only for its tap under the name the service gave it. */
        if (!vm->legacy_nic_ours)
                r = asprintf(&what, "is not in the domain (removed by hand?)");
        else if (!vm->legacy_mac)
                r = asprintf(&what, "was changed by hand (its MAC is not %s)", mac);
        else if (vm->power_state == VM_POWER_RUNNING && !vm->legacy_interface)
                r = asprintf(&what, "was changed by hand (its tap is not %s)", dev);
        else
                return 0;
        if (r < 0)
                return -ENOMEM;
        return asprintf(ret,
                       "its legacy NIC %s (%s) %s; repair: azshcictl vm-access '%s' off && azshcictl "
                       "vm-access '%s' on",
                       VIRT_LEGACY_NIC_ALIAS, mac, what, vm->name, vm->name) < 0
                       ? -ENOMEM
                       : 0;
}

/* The VMs whose legacy NIC drifted ("VM 'x': ..."), for the status. */
static int legacy_vm_drift(Manager *m, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;

        for (size_t i = 0; i < m->n_vms; i++) {
                const Vm *vm = m->vms[i];

                if (!vm->legacy_access || !vm->evaluation.legacy_error)
                        continue;
                if (strv_extendf(&l, "VM '%s': %s", vm->name, vm->evaluation.legacy_error) < 0)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

static int legacy_expected_ports(Manager *m, LegacyNetPort **ret, size_t *ret_n) {
        LegacyNetPort *ports;
        size_t n = 0;

        ports = calloc(m->n_vms + 1, sizeof(LegacyNetPort));
        if (!ports)
                return -ENOMEM;
        for (size_t i = 0; i < m->n_vms; i++)
                if (vm_has_port(m->vms[i]))
                        ports[n++] = (LegacyNetPort){m->vms[i]->legacy_interface, m->vms[i]->legacy_mac};
        *ret = ports;
        *ret_n = n;
        return 0;
}

static void manager_set_legacy_error(Manager *m, const char *error) {
        if (streq_ptr(m->legacy_error, error))
                return;
        if (error)
                log_error("Legacy network: %s", error);
        else if (m->legacy_error)
                log_info("Legacy network is as configured again.");
        (void)free_and_strdup(&m->legacy_error, error);
        (void)server_emit_changed(m, STRV_MAKE("Error"));
}

int manager_legacy_status(Manager *m, bool *ret_ok, char **ret_report) {
        _cleanup_(legacy_net_status_done) LegacyNetStatus status = {};
        _cleanup_free_ LegacyNetPort *ports = NULL;
        _cleanup_strv_free_ char **vm_drift = NULL;
        _cleanup_free_ char *drift = NULL, *report = NULL;
        LegacyNetConfig c = legacy_config(m);
        size_t n_ports;
        bool ok;
        int r;

        assert(m);

        manager_inventory_refresh_granted(m);
        if (!manager_legacy_managed(m)) {
                *ret_ok = true;
                *ret_report = strdup(
                        "The service does not manage the legacy network (\"legacyNetwork\": false).\n");
                return *ret_report ? 0 : -ENOMEM;
        }

        r = legacy_expected_ports(m, &ports, &n_ports);
        if (r < 0)
                return r;
        r = legacy_net_status(&c, ports, n_ports, &status);
        if (r < 0)
                return r;
        r = legacy_vm_drift(m, &vm_drift);
        if (r < 0)
                return r;

        if (m->legacy_support)
                ok = legacy_net_status_ok(&status) && !vm_drift;
        else
                /* Off: nothing of ours may be left. */
                ok = !status.bridge_present && !status.table_present;

        if (!ok) {
                if (m->legacy_support) {
                        _cleanup_strv_free_ char **all = strv_copy(status.drift);

                        STRV_FOREACH (d, vm_drift)
                                if (strv_extend(&all, *d) < 0)
                                        return -ENOMEM;
                        drift = strv_join(all, "; ");
                } else
                        drift = strdup("legacy OS support is off but the bridge or firewall still exists");
                if (!drift)
                        return -ENOMEM;
                if (m->legacy_support) {
                        char *t;
                        if (asprintf(&t, "%s (repair: turn legacy OS support off and on again)", drift) < 0)
                                return -ENOMEM;
                        free_and_replace_string(&drift, t);
                }
        }
        manager_set_legacy_error(m, drift);

        report = legacy_net_status_format(&status);
        if (!report)
                return -ENOMEM;
        STRV_FOREACH (d, vm_drift) {
                char *t;

                if (asprintf(&t, "%sDrift: %s\n", report, *d) < 0)
                        return -ENOMEM;
                free_and_replace_string(&report, t);
        }
        *ret_report = TAKE_PTR(report);
        *ret_ok = ok;
        return 0;
}

void manager_legacy_check(Manager *m) {
        _cleanup_free_ char *report = NULL;
        bool ok;
        int r;

        r = manager_legacy_status(m, &ok, &report);
        if (r < 0)
                log_warning_errno(r, "Failed to check the legacy network: %m");
}

static int on_legacy_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;

        manager_legacy_check(m);
        (void)sd_event_source_set_time_relative(s, LEGACY_CHECK_INTERVAL_USEC);
        return 0;
}

int manager_legacy_init(Manager *m) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        assert(m);

        if (!manager_legacy_managed(m))
                return 0;

        /* Everything is restored from the persisted state: after a restart or a reboot the
         * network looks as it did. */
        if (m->legacy_support)
                (void)manager_legacy_setup(m, m->vms, m->n_vms, &error);
        else
                /* A crash between building the network and saving the switch may have left it
                 * up; the saved state says off, so off it is. */
                (void)manager_legacy_teardown(m, &error);

        r = sd_event_add_time_relative(m->event, &m->legacy_timer, CLOCK_MONOTONIC,
                LEGACY_CHECK_INTERVAL_USEC, USEC_PER_SEC, on_legacy_timer, m);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the legacy network check: %m");
        (void)sd_event_source_set_enabled(m->legacy_timer, SD_EVENT_ON);

        manager_legacy_check(m);
        return 0;
}

void manager_legacy_done(Manager *m) {
        assert(m);

        m->legacy_timer = sd_event_source_disable_unref(m->legacy_timer);
        m->legacy_error = mfree(m->legacy_error);
}
