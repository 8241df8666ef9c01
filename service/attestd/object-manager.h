/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-bus.h>

/* GetManagedObjects on the service's object manager, answered without sd-bus's own
 * implementation, which first collects every object path into a set (about 2 MiB at 10,000
 * VMs, on top of the 11 MiB reply: docs/hardening.md, "Memory"). The reply is the same, entry
 * for entry and in the same order: the objects of each child's enumeration, each with the
 * three standard interfaces (empty) and its own with every property its vtable publishes. */

/* Appends one object: {o a{sa{sv}}} with the Peer, Introspectable and Properties interfaces
 * (empty) and interface with the properties of vtable that a GetAll() lists, read by their
 * getters with userdata (plus each property's offset), as sd-bus's implementation does. */
int object_manager_append(sd_bus *bus, sd_bus_message *reply, const char *path, const char *interface,
        const sd_bus_vtable *vtable, void *userdata, sd_bus_error *error);
/* Whether object_manager_append() dumps vtable as sd-bus would: every property it dumps has a
 * getter and an offset relative to the userdata, and the vtable is not marked sensitive (sd-bus
 * would mark the reply so). -EOPNOTSUPP otherwise, checked when the vtable is registered. */
int object_manager_check_vtable(const sd_bus_vtable *vtable);
