/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "manager.h"

/* Legacy networking: the bridge, the ports and the firewall follow the
 * legacy switch and each VM's access. Does nothing when "legacyNetwork" is false. */
bool manager_legacy_managed(Manager *m);
/* Checks that a VM can get a port: it needs LegacyInterface and LegacyMac, unless it is a libvirt
 * domain whose NIC the service adds itself. */
int manager_legacy_check_vm(Manager *m, const Vm *vm, sd_bus_error *error);
/* Creates (or repairs) the bridge and firewall and attaches every VM of vms that has access. */
int manager_legacy_setup(Manager *m, Vm *const *vms, size_t n_vms, sd_bus_error *error);
int manager_legacy_teardown(Manager *m, sd_bus_error *error);
int manager_legacy_attach(Manager *m, const Vm *vm, sd_bus_error *error);
void manager_legacy_detach(Manager *m, const Vm *vm);
/* Follows a VM's change (old → new; either may be NULL) while the switch has the given value. */
void manager_legacy_vm_changed(Manager *m, bool legacy_support, const Vm *old, const Vm *new);
/* LegacyError of a VM (NULL in *ret when nothing is wrong): while the switch is on and the VM
 * has no access, why it cannot be granted now (a Generation 1 VM not Off, no legacy NIC
 * registered) or why its last grant failed; for a libvirt domain with access, its legacy NIC missing from
 * the domain or changed by hand (drift: repaired by revoking and granting again, or legacy off and on). */
int manager_legacy_vm_error(Manager *m, const Vm *vm, char **ret);
/* Compares the network and the VMs' legacy NICs with the configuration; records and signals
 * drift. */
void manager_legacy_check(Manager *m);
int manager_legacy_status(Manager *m, bool *ret_ok, char **ret_report);
int manager_legacy_init(Manager *m);
void manager_legacy_done(Manager *m);
