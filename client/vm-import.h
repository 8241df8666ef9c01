/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <json-glib/json-glib.h>
#include <systemd/sd-bus.h>

#include "vm.h"

/* Turning what an administrator typed (KEY=VALUE, --key VALUE) or wrote (a JSON object) into
 * the typed a{sv} of RegisterVM/UpdateVM. Names and types come from vm_fields[] (service/shared/vm.c)
 * and every value is checked with vm_set_field(), so the client rejects exactly what the
 * service would reject, with the same message and the error name
 * org.freedesktop.DBus.Error.InvalidArgs. */

typedef struct VmProperty {
        const VmField *field;
        VmValue value; /* strings are borrowed from argv or the JSON document */
} VmProperty;

typedef struct VmPropertyList {
        VmProperty *items;
        size_t n;
} VmPropertyList;

void vm_property_list_done(VmPropertyList *l);

/* Parses "yes|no|true|false|on|off|1|0". */
int parse_boolean(const char *s);

/* Adds key=value (value as typed on the command line) to the list; replaces an earlier value of
 * the same field. */
int vm_property_list_add_string(VmPropertyList *l, const char *key, const char *value, sd_bus_error *error);
/* Adds "KEY=VALUE". */
int vm_property_list_add_assignment(VmPropertyList *l, const char *assignment, sd_bus_error *error);

/* Fills the list from one JSON object whose keys are D-Bus property names. The output-only
 * properties of `azshcictl vms --json` (Status, EligibleBenefits, ActiveBenefits,
 * RecommendedActions, LegacyAccess) are skipped so that its output can be imported again. */
int vm_property_list_from_json(VmPropertyList *l, JsonObject *o, sd_bus_error *error);

/* Returns the value of a string field in the list, or NULL. */
const char *vm_property_list_get_string(const VmPropertyList *l, const char *name);

/* Validates every value with vm_set_field(); complete=true also requires Id and Name. */
int vm_property_list_validate(const VmPropertyList *l, bool complete, sd_bus_error *error);

/* Appends the a{sv}; skip_id leaves out "Id" (UpdateVM identifies the VM separately). */
int vm_property_list_append(const VmPropertyList *l, sd_bus_message *m, bool skip_id);
