/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-bus.h>

#include "inventory-libvirt.h"
#include "virt-domain.h"
#include "vm.h"

/* The service's own changes to a libvirt domain (docs/libvirt.md, "Devices the service adds"):
 * the legacy NIC (VIRT_LEGACY_NIC_ALIAS, its MAC derived from the VM id) when legacy access is
 * granted or revoked, and the devices of the recommended actions. The persistent configuration
 * is always changed; the running domain too when live is true (the caller applies the
 * power-state rules). Synchronous libvirt calls on the loop, as the inventory's. What was
 * changed goes to *ret_changed (DOMAIN_CHANGED_* bits, 0 when nothing had to change). Errors:
 * BUS_ERROR_LIBVIRT_FAILED with libvirt's message, naming the VM. */

enum {
        DOMAIN_CHANGED_CONFIG = 1 << 0,
        DOMAIN_CHANGED_LIVE = 1 << 1,
};

/* Adds the legacy NIC (VIRT_LEGACY_NIC_ALIAS, the VM's MAC and tap name) unless the domain has
 * it; replaces the service's NIC whose MAC or tap name was changed by hand. An interface
 * without the alias is never the legacy NIC, whatever bridge it names. *ret_replaced (may be
 * NULL): the device XML of that changed NIC, NULL when none was replaced. */
int domain_add_legacy_nic(InventoryLibvirt *p, const Vm *vm, bool live, unsigned *ret_changed,
        char **ret_replaced, sd_bus_error *error);
/* Removes the service's legacy NIC (the interface with its alias, never another).
 * *ret_replaced (may be NULL): its device XML in the configuration, NULL when it had none. */
int domain_remove_legacy_nic(InventoryLibvirt *p, const Vm *vm, bool live, unsigned *ret_changed,
        char **ret_replaced, sd_bus_error *error);
/* Undoes one of the two above exactly where it changed the domain (changed: its
 * DOMAIN_CHANGED_* bits; the running domain only while it still runs): the NIC added is
 * removed again and the changed NIC it replaced put back; the NIC removed is added back as it
 * was in the configuration (replaced), or as the service defines it when it was only in the
 * running domain. */
int domain_undo_legacy_nic(InventoryLibvirt *p, const Vm *vm, bool added, unsigned changed,
        const char *replaced, sd_bus_error *error);
/* The VIR_DOMAIN_AFFECT_* flags of DOMAIN_CHANGED_* bits. */
unsigned domain_changed_affect_flags(unsigned changed);
/* Adds a device of a recommended action unless the domain has it. With live, configuration
 * and running domain at once: a hot-plug libvirt refuses changes nothing. */
int domain_add_device(InventoryLibvirt *p, const Vm *vm, VirtDevice device, bool live, unsigned *ret_changed,
        sd_bus_error *error);
/* The VM as its domain is now (admin state unset). */
int domain_read_vm(InventoryLibvirt *p, const Vm *vm, Vm **ret, sd_bus_error *error);
