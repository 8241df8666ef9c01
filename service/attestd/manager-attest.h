/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "manager.h"

/* The attestation half of the manager: keystore, issuer, Sync, the signing threads (Attest is
 * manager-sign.c). */
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
