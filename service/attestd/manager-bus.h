/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "manager.h"

/* The main object, /org/azshci/Attestation1 (org.azshci.Attestation1): its properties, the
 * admin methods (polkit-checked, then handed to the manager) and Attest. */

/* Registers every object and interface of the service on m->bus: this one, then the Server
 * (server-bus.c) and VM (vm-bus.c) objects. */
int manager_add_bus_objects(Manager *m);
/* Answers GetManagedObjects on BUS_PATH (object-manager.h): 1 when answered, 0 when sd-bus's
 * own implementation is to answer it (a call with arguments, or one that wants no reply). */
int manager_reply_managed_objects(Manager *m, sd_bus_message *call);

/* Signals that properties of the main object changed. */
int manager_emit_changed(Manager *m, char **properties);

/* Attest, AttestForVersion and AttestBatch: served on the bus and on the frontends' direct connections,
 * from the same vtable entries. */
int method_attest(sd_bus_message *msg, void *userdata, sd_bus_error *error);
int method_attest_for_version(sd_bus_message *msg, void *userdata, sd_bus_error *error);
int method_attest_batch(sd_bus_message *msg, void *userdata, sd_bus_error *error);
#define MANAGER_ATTEST_METHODS                                                                \
        SD_BUS_METHOD_WITH_ARGS("Attest", SD_BUS_ARGS("s", transport, "s", peer, "s", nonce), \
                SD_BUS_RESULT("s", document), method_attest, SD_BUS_VTABLE_UNPRIVILEGED),     \
                SD_BUS_METHOD_WITH_ARGS("AttestForVersion",                                   \
                        SD_BUS_ARGS("s", transport, "s", peer, "s", nonce, "s", api_version), \
                        SD_BUS_RESULT("s", document), method_attest_for_version,              \
                        SD_BUS_VTABLE_UNPRIVILEGED),                                          \
                SD_BUS_METHOD_WITH_ARGS("AttestBatch", SD_BUS_ARGS("a(ssss)", requests),      \
                        SD_BUS_RESULT("a(ayss)", results), method_attest_batch, SD_BUS_VTABLE_UNPRIVILEGED)
