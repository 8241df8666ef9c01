/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "manager.h"

/* Registers every object and interface of the service on m->bus (manager-dbus.c for the
 * main interface, server-dbus.c and vm-dbus.c for the others). */
int manager_add_bus_objects(Manager *m);

int server_add_bus_objects(Manager *m);

/* Attest and AttestForVersion: served on the bus and on the frontends' direct connections,
 * from the same vtable entries. */
int method_attest(sd_bus_message *msg, void *userdata, sd_bus_error *error);
int method_attest_for_version(sd_bus_message *msg, void *userdata, sd_bus_error *error);
#define MANAGER_ATTEST_METHODS                                                                \
        SD_BUS_METHOD_WITH_ARGS("Attest", SD_BUS_ARGS("s", transport, "s", peer, "s", nonce), \
                SD_BUS_RESULT("s", document), method_attest, SD_BUS_VTABLE_UNPRIVILEGED),     \
                SD_BUS_METHOD_WITH_ARGS("AttestForVersion",                                   \
                        SD_BUS_ARGS("s", transport, "s", peer, "s", nonce, "s", api_version), \
                        SD_BUS_RESULT("s", document), method_attest_for_version,              \
                        SD_BUS_VTABLE_UNPRIVILEGED)

/* The frontends' direct socket (manager-frontend.c). Not being able to open it is not fatal:
 * the frontends then use the system bus. */
int manager_frontend_init(Manager *m);
void manager_frontend_done(Manager *m);
int vm_add_bus_objects(Manager *m);

/* The attestation half of the manager (manager-attest.c): keystore, issuer, Sync, Attest. */
int manager_attestation_init(Manager *m);
void manager_attestation_done(Manager *m);
ServerState manager_compute_server_state(Manager *m);
/* Runs a sync for the already-authorized request m (or for the timer, when m is NULL). */
int manager_sync(Manager *manager, sd_bus_message *m, sd_bus_error *error);
/* The PEM of the root(s) that verify this service's documents. */
int manager_get_trust_anchor(Manager *manager, char **ret_pem);
/* Handles Attest for the request m (arguments read and checked by the caller). */
int manager_attest(Manager *manager, sd_bus_message *m, const char *transport, const char *peer,
        const char *nonce, const char *api_version, sd_bus_error *error);
