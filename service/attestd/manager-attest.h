/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "manager.h"

/* The attestation half of the manager: keystore, issuer, Sync, Attest. */
int manager_attestation_init(Manager *m);
void manager_attestation_done(Manager *m);
ServerState manager_compute_server_state(Manager *m);
/* Runs a sync for the already-authorized request m (or for the timer, when m is NULL). */
int manager_sync(Manager *manager, sd_bus_message *m, sd_bus_error *error);
/* The DNS name of a server's signing certificate: "<label>.<metadataDomain>", the label from
 * server_name (lowercase, anything else than [a-z0-9-] becomes '-', at most 63). */
int manager_server_dns_name(Manager *m, const char *server_name, char **ret);
/* The PEM of the root(s) that verify this service's documents. */
int manager_get_trust_anchor(Manager *manager, char **ret_pem);
/* Handles Attest for the request m (arguments read and checked by the caller). */
int manager_attest(Manager *manager, sd_bus_message *m, const char *transport, const char *peer,
        const char *nonce, const char *api_version, sd_bus_error *error);
