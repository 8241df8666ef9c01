/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "azshcictl-util.h"

int get_cluster(Context *c, JsonObject **ret);
/* The objects under BUS_PATH that implement interface, as JSON objects with their properties
 * in a fixed key order, sorted by Name. */
int get_objects(Context *c, const char *interface, JsonArray **ret);
/* Finds a VM by id (any case), else by exact name: an id always means its VM, as in the
 * service's lookups. */
JsonObject *find_vm(JsonArray *vms, const char *key);
/* The VMs and the one key means (find_vm); "No VM is registered ..." (exit 1) when none. The
 * VM belongs to *ret_vms. */
int get_vm(Context *c, const char *key, JsonArray **ret_vms, JsonObject **ret_vm);
