/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "manager-change.h"
#include "manager.h"

/* The inventory provider: starts it when the configuration asks for
 * libvirt; whether the inventory may be out of date (libvirt unreachable); and the checks of
 * the manual API against VMs libvirt owns (errors: BUS_ERROR_OWNED_BY_LIBVIRT). update NULL
 * means removing vm. */
int manager_inventory_init(Manager *m);
void manager_inventory_done(Manager *m);
bool manager_inventory_stale(Manager *m);
/* At load, before libvirt has been asked: a libvirt VM of the state file keeps its admin state
 * but not the facts of a running guest (VsockCid, LegacyInterface, PowerState Running), which
 * only libvirt's live XML gives (docs/trust-model.md). Returns how many VMs lost any. */
size_t manager_inventory_forget_live_facts(Manager *m, Vm *const *vms, size_t n_vms);
void manager_inventory_stale_changed(Manager *m);
int manager_inventory_check_register(Manager *m, const Vm *vm, sd_bus_error *error);
int manager_inventory_check_update(Manager *m, const Vm *vm, const Vm *update, sd_bus_error *error);

/* Whether the service changes vm's devices itself (its legacy NIC, the devices of recommended
 * actions): a libvirt domain while the libvirt provider runs. */
bool manager_inventory_manages_devices(Manager *m, const Vm *vm);
/* After the service changed vm's domain: stages the domain's facts as they are now in c (vm's
 * copy there keeps its admin state). Errors: BUS_ERROR_LIBVIRT_FAILED, or a clash of keys. */
int manager_inventory_reread(Manager *m, Change *c, Vm *vm, sd_bus_error *error);
/* Reads the domains of the VMs with legacy access again, so that a legacy NIC removed from
 * the configuration of a domain that is off (no libvirt event) shows as drift: part of the
 * legacy network's drift check. */
void manager_inventory_refresh_granted(Manager *m);
