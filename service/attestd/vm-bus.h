/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "manager.h"

/* The org.azshci.Attestation1.VM objects, one per registered VM. */
int vm_add_bus_objects(Manager *m);
/* Appends every VM's object to a GetManagedObjects reply (object-manager.h). */
int vm_append_managed_objects(Manager *m, sd_bus_message *reply, sd_bus_error *error);
/* Signals that properties of vm's object changed. */
int vm_emit_changed(Manager *m, Vm *vm, char **properties);
