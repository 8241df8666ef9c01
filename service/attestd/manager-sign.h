/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "manager.h"

/* Handles Attest for the request m (arguments read by the caller; api_version NULL: the newest). */
int manager_attest(Manager *manager, sd_bus_message *m, const char *transport, const char *peer,
        const char *nonce, const char *api_version, sd_bus_error *error);
/* Handles AttestBatch: reads its a(ssss) and replies a(ayss), one result per request. */
int manager_attest_batch(Manager *manager, sd_bus_message *m, sd_bus_error *error);
