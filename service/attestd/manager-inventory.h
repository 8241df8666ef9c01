/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "manager.h"

/* The inventory provider: starts it when the configuration asks for
 * libvirt; whether the inventory may be out of date (libvirt unreachable); and the checks of
 * the manual API against VMs libvirt owns (errors: BUS_ERROR_OWNED_BY_LIBVIRT). update NULL
 * means removing vm. */
int manager_inventory_init(Manager *m);
void manager_inventory_done(Manager *m);
bool manager_inventory_stale(Manager *m);
void manager_inventory_stale_changed(Manager *m);
int manager_inventory_check_register(Manager *m, const Vm *vm, sd_bus_error *error);
int manager_inventory_check_update(Manager *m, const Vm *vm, const Vm *update, sd_bus_error *error);
