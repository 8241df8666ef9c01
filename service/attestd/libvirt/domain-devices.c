/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <libvirt/virterror.h>

#include "bus-names.h"
#include "domain-devices.h"
#include "inventory-libvirt.h"
#include "log.h"
#include "manager.h"
#include "virt-dlopen.h"

/* What the service changes in a domain itself: the legacy NIC when legacy access is granted or
 * revoked, and the devices of the recommended actions. The persistent configuration always,
 * the running domain when the caller allows it. libvirt's calls are synchronous on the loop,
 * like the inventory's (docs/libvirt.md). */

static void domain_freep(virDomainPtr *d) {
        if (*d)
                sym_virDomainFree(*d);
}

static int libvirt_error(sd_bus_error *error, const Vm *vm, const char *what) {
        log_warning("VM '%s': libvirt could not %s: %s", vm->name, what, sym_virGetLastErrorMessage());
        return sd_bus_error_setf(error, BUS_ERROR_LIBVIRT_FAILED, "VM '%s': libvirt could not %s: %s",
                vm->name, what, sym_virGetLastErrorMessage());
}

static int open_domain(InventoryLibvirt *p, const Vm *vm, virDomainPtr *ret, bool *ret_active,
        sd_bus_error *error) {
        virConnectPtr conn = inventory_libvirt_connection(p);
        virDomainPtr dom;
        int active;

        if (!conn)
                return sd_bus_error_setf(error, BUS_ERROR_LIBVIRT_FAILED,
                        "VM '%s': libvirt is not reachable now (%s).", vm->name,
                        strna(inventory_libvirt_stale_reason(p)));
        dom = sym_virDomainLookupByUUIDString(conn, vm->id);
        if (!dom)
                return libvirt_error(error, vm, "find its domain");
        active = sym_virDomainIsActive(dom);
        if (active < 0) {
                sym_virDomainFree(dom);
                return libvirt_error(error, vm, "read its state");
        }
        *ret = dom;
        *ret_active = active;
        return 0;
}

/* The domain's XML: its persistent configuration, or what runs. */
static int domain_xml(virDomainPtr dom, const Vm *vm, bool live, char **ret, sd_bus_error *error) {
        *ret = sym_virDomainGetXMLDesc(dom, live ? 0 : VIR_DOMAIN_XML_INACTIVE);
        if (!*ret)
                return libvirt_error(error, vm, "read its XML");
        return 0;
}

/* The domain's XML was read but could not be parsed (r, negative errno). */
static int xml_unreadable(sd_bus_error *error, const Vm *vm, int r) {
        return sd_bus_error_set_errnof(error, r, "VM '%s': cannot read its domain XML: %m", vm->name);
}

static int nic_state(virDomainPtr dom, const Vm *vm, bool live, VirtNicState *ret, sd_bus_error *error) {
        _cleanup_free_ char *xml = NULL;
        int r;

        r = domain_xml(dom, vm, live, &xml, error);
        if (r < 0)
                return r;
        r = virt_domain_legacy_nic(xml, vm->id, ret);
        if (r < 0)
                return xml_unreadable(error, vm, r);
        return 0;
}

/* The domain of vm with what its configuration and (when live and it runs) its running
 * definition have as legacy NIC; running is VIRT_NIC_ABSENT when not asked. */
typedef struct NicView {
        char mac[VIRT_MAC_BUFLEN];
        VirtNicState config, running;
        bool live; /* running was read: the domain runs and the caller allows live changes */
} NicView;

static int open_nic_view(InventoryLibvirt *p, const Vm *vm, bool live, virDomainPtr *ret, NicView *view,
        sd_bus_error *error) {
        _cleanup_(domain_freep) virDomainPtr dom = NULL;
        bool active;
        int r;

        virt_legacy_nic_mac(vm->id, view->mac);
        view->running = VIRT_NIC_ABSENT;
        view->live = false;
        r = open_domain(p, vm, &dom, &active, error);
        if (r < 0)
                return r;
        r = nic_state(dom, vm, false, &view->config, error);
        if (r < 0)
                return r;
        if (active && live) {
                r = nic_state(dom, vm, true, &view->running, error);
                if (r < 0)
                        return r;
                view->live = true;
        }
        *ret = TAKE_PTR(dom);
        return 0;
}

/* The device XML of the legacy NIC in the domain's configuration. */
static int config_legacy_nic(virDomainPtr dom, const Vm *vm, char **ret, sd_bus_error *error) {
        _cleanup_free_ char *xml = NULL;
        int r;

        r = domain_xml(dom, vm, false, &xml, error);
        if (r < 0)
                return r;
        r = virt_domain_legacy_nic_device(xml, ret);
        if (r < 0)
                return xml_unreadable(error, vm, r);
        return 0;
}

/* The legacy NIC could not be added: the changed NIC it replaces (if any, already detached from
 * the configuration) is put back, and the error says what the domain is left with. */
static int add_failed(virDomainPtr dom, const Vm *vm, const char *changed_nic, sd_bus_error *error) {
        _cleanup_free_ char *why = strdup(sym_virGetLastErrorMessage());

        if (!why)
                return -ENOMEM;
        log_warning("VM '%s': libvirt could not add its legacy NIC: %s", vm->name, why);
        if (changed_nic && sym_virDomainAttachDeviceFlags(dom, changed_nic, VIR_DOMAIN_AFFECT_CONFIG) < 0) {
                log_warning("VM '%s': its changed legacy NIC could not be put back: %s", vm->name,
                        sym_virGetLastErrorMessage());
                return sd_bus_error_setf(error, BUS_ERROR_LIBVIRT_FAILED,
                        "VM '%s': libvirt could not add its legacy NIC: %s; its changed legacy NIC was removed "
                        "from the domain's configuration and could not be put back: %s",
                        vm->name, why, sym_virGetLastErrorMessage());
        }
        return sd_bus_error_setf(error, BUS_ERROR_LIBVIRT_FAILED,
                "VM '%s': libvirt could not add its legacy NIC: %s", vm->name, why);
}

static unsigned changed_bits(unsigned flags) {
        return (flags & VIR_DOMAIN_AFFECT_CONFIG ? DOMAIN_CHANGED_CONFIG : 0) |
               (flags & VIR_DOMAIN_AFFECT_LIVE ? DOMAIN_CHANGED_LIVE : 0);
}

unsigned domain_changed_affect_flags(unsigned changed) {
        return (changed & DOMAIN_CHANGED_CONFIG ? VIR_DOMAIN_AFFECT_CONFIG : 0) |
               (changed & DOMAIN_CHANGED_LIVE ? VIR_DOMAIN_AFFECT_LIVE : 0);
}

/* The NIC of view added to the configuration where it lacks or was changed, and to the running
 * domain where it lacks; a changed NIC of the service is replaced (and put back as it was if the
 * new one cannot be added). */
static int add_legacy_nic(virDomainPtr dom, const Vm *vm, const NicView *v, unsigned *ret_flags,
        char **ret_replaced, sd_bus_error *error) {
        _cleanup_free_ char *xml = NULL, *changed_nic = NULL;
        unsigned flags = 0;
        int r;

        if (v->config == VIRT_NIC_OURS_CHANGED) {
                r = config_legacy_nic(dom, vm, &changed_nic, error);
                if (r < 0)
                        return r;
                if (sym_virDomainDetachDeviceAlias(dom, VIRT_LEGACY_NIC_ALIAS, VIR_DOMAIN_AFFECT_CONFIG) < 0)
                        return libvirt_error(error, vm, "remove its changed legacy NIC");
        }
        if (v->config == VIRT_NIC_ABSENT || v->config == VIRT_NIC_OURS_CHANGED)
                flags |= VIR_DOMAIN_AFFECT_CONFIG;
        if (v->live && v->running == VIRT_NIC_ABSENT)
                flags |= VIR_DOMAIN_AFFECT_LIVE;

        if (flags != 0) {
                r = virt_legacy_nic_xml(vm->id, &xml);
                if (r < 0)
                        return r;
                if (sym_virDomainAttachDeviceFlags(dom, xml, flags) < 0)
                        return add_failed(dom, vm, changed_nic, error);
                log_info("VM '%s': added the legacy NIC %s (%s)%s.", vm->name, VIRT_LEGACY_NIC_ALIAS, v->mac,
                        flags & VIR_DOMAIN_AFFECT_LIVE ? ", hot-plugged" : "");
        }
        *ret_flags = flags;
        *ret_replaced = TAKE_PTR(changed_nic);
        return 0;
}

/* Only the service's own NIC (its alias) is removed: any other interface stays. */
static int remove_legacy_nic(virDomainPtr dom, const Vm *vm, const NicView *v, unsigned *ret_flags,
        char **ret_replaced, sd_bus_error *error) {
        _cleanup_free_ char *removed = NULL;
        unsigned flags = 0;
        int r;

        if (v->config == VIRT_NIC_OURS || v->config == VIRT_NIC_OURS_CHANGED) {
                /* As it is, to put it back if the call cannot be completed. */
                r = config_legacy_nic(dom, vm, &removed, error);
                if (r < 0)
                        return r;
                flags |= VIR_DOMAIN_AFFECT_CONFIG;
        }
        if (v->running == VIRT_NIC_OURS || v->running == VIRT_NIC_OURS_CHANGED)
                flags |= VIR_DOMAIN_AFFECT_LIVE;
        if (flags != 0) {
                if (sym_virDomainDetachDeviceAlias(dom, VIRT_LEGACY_NIC_ALIAS, flags) < 0)
                        return libvirt_error(error, vm, "remove its legacy NIC");
                log_info("VM '%s': removed the legacy NIC %s%s.", vm->name, VIRT_LEGACY_NIC_ALIAS,
                        flags & VIR_DOMAIN_AFFECT_LIVE ? " (also from the running domain)" : "");
        }
        *ret_flags = flags;
        *ret_replaced = TAKE_PTR(removed);
        return 0;
}

/* One path for both: the domain and its NIC view opened, the change made, what changed said. */
static int change_legacy_nic(InventoryLibvirt *p, const Vm *vm, bool add, bool live, unsigned *ret_changed,
        char **ret_replaced, sd_bus_error *error) {
        _cleanup_(domain_freep) virDomainPtr dom = NULL;
        _cleanup_free_ char *replaced = NULL;
        unsigned flags = 0;
        NicView v;
        int r;

        assert(p);
        assert(vm);
        assert(ret_changed);

        r = open_nic_view(p, vm, live, &dom, &v, error);
        if (r < 0)
                return r;
        r = add ? add_legacy_nic(dom, vm, &v, &flags, &replaced, error)
                : remove_legacy_nic(dom, vm, &v, &flags, &replaced, error);
        if (r < 0)
                return r;
        *ret_changed = changed_bits(flags);
        if (ret_replaced)
                *ret_replaced = TAKE_PTR(replaced);
        return 0;
}

int domain_add_legacy_nic(InventoryLibvirt *p, const Vm *vm, bool live, unsigned *ret_changed,
        char **ret_replaced, sd_bus_error *error) {
        return change_legacy_nic(p, vm, true, live, ret_changed, ret_replaced, error);
}

int domain_remove_legacy_nic(InventoryLibvirt *p, const Vm *vm, bool live, unsigned *ret_changed,
        char **ret_replaced, sd_bus_error *error) {
        return change_legacy_nic(p, vm, false, live, ret_changed, ret_replaced, error);
}

int domain_undo_legacy_nic(InventoryLibvirt *p, const Vm *vm, bool added, unsigned changed,
        const char *replaced, sd_bus_error *error) {
        _cleanup_(domain_freep) virDomainPtr dom = NULL;
        _cleanup_free_ char *ours = NULL;
        unsigned flags = domain_changed_affect_flags(changed);
        bool active;
        int r;

        assert(p);
        assert(vm);

        if (flags == 0)
                return 0;
        r = open_domain(p, vm, &dom, &active, error);
        if (r < 0)
                return r;
        if (!active) /* it stopped meanwhile: what ran is gone anyway */
                flags &= ~VIR_DOMAIN_AFFECT_LIVE;
        if (flags == 0)
                return 0;

        if (added) {
                if (sym_virDomainDetachDeviceAlias(dom, VIRT_LEGACY_NIC_ALIAS, flags) < 0)
                        return libvirt_error(error, vm, "remove its legacy NIC again");
                if (replaced && (flags & VIR_DOMAIN_AFFECT_CONFIG) &&
                        sym_virDomainAttachDeviceFlags(dom, replaced, VIR_DOMAIN_AFFECT_CONFIG) < 0)
                        return libvirt_error(error, vm, "put its changed legacy NIC back");
        } else {
                if (!replaced) {
                        r = virt_legacy_nic_xml(vm->id, &ours);
                        if (r < 0)
                                return r;
                }
                if (sym_virDomainAttachDeviceFlags(dom, replaced ?: ours, flags) < 0)
                        return libvirt_error(error, vm, "add its legacy NIC back");
        }
        log_info("VM '%s': %s the legacy NIC %s%s%s.", vm->name, added ? "removed" : "added back",
                VIRT_LEGACY_NIC_ALIAS, flags & VIR_DOMAIN_AFFECT_CONFIG ? " (configuration)" : "",
                flags & VIR_DOMAIN_AFFECT_LIVE ? " (running domain)" : "");
        return 0;
}

int domain_add_device(InventoryLibvirt *p, const Vm *vm, VirtDevice device, bool live, unsigned *ret_changed,
        sd_bus_error *error) {
        _cleanup_(domain_freep) virDomainPtr dom = NULL;
        unsigned flags = 0;
        bool active;
        int r;

        assert(p);
        assert(vm);
        assert(ret_changed);

        r = open_domain(p, vm, &dom, &active, error);
        if (r < 0)
                return r;
        for (int pass = 0; pass < 2; pass++) {
                _cleanup_free_ char *xml = NULL;
                bool running = pass == 1;

                if (running && !(active && live))
                        break;
                r = domain_xml(dom, vm, running, &xml, error);
                if (r < 0)
                        return r;
                r = virt_domain_has_device(xml, device);
                if (r < 0)
                        return xml_unreadable(error, vm, r);
                if (r == 0)
                        flags |= running ? VIR_DOMAIN_AFFECT_LIVE : VIR_DOMAIN_AFFECT_CONFIG;
        }
        /* Both at once: libvirt changes the configuration only if the running domain took the
         * device, so a refused hot-plug changes nothing. */
        if (flags != 0 && sym_virDomainAttachDeviceFlags(dom, virt_device_xml(device), flags) < 0)
                return libvirt_error(error, vm,
                        flags & VIR_DOMAIN_AFFECT_LIVE
                                ? "add the device to the running domain (power it off "
                                  "and try again)"
                                : "add the device");
        *ret_changed = changed_bits(flags);
        return 0;
}

int domain_read_vm(InventoryLibvirt *p, const Vm *vm, Vm **ret, sd_bus_error *error) {
        _cleanup_(domain_freep) virDomainPtr dom = NULL;
        bool active;
        int r;

        assert(p);
        assert(vm);
        assert(ret);

        r = open_domain(p, vm, &dom, &active, error);
        if (r < 0)
                return r;
        r = inventory_libvirt_read_vm(p, dom, ret);
        if (r == -ENOMEM)
                return r;
        if (r < 0 || !*ret)
                return sd_bus_error_setf(error, BUS_ERROR_LIBVIRT_FAILED,
                        "VM '%s': its domain could not be read again.", vm->name);
        return 0;
}
