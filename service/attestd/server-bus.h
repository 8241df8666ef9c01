/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "manager.h"

/* The org.azshci.Attestation1.Server objects (this host). */
int server_add_bus_objects(Manager *m);
/* Appends every server's object to a GetManagedObjects reply (object-manager.h). */
int server_append_managed_objects(Manager *m, sd_bus_message *reply, sd_bus_error *error);
/* Signals that properties of this host's Server object changed. */
int server_emit_changed(Manager *m, char **properties);
