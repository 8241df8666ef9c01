/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "bus-names.h"
#include "imds-http.h"

/* The sd-bus backend of imds-http.h: AttestForVersion on a peer-to-peer connection to the
 * service's socket for the frontends (service_socket), else on the system bus
 * ($DBUS_SYSTEM_BUS_ADDRESS); connected on first use and again after a disconnect. A direct
 * connection that fails or is refused is retried after 30 s; the bus serves meanwhile. */
typedef struct ImdsBusBackend ImdsBusBackend;

/* batch_max: requests waiting at once go to the service in AttestBatch calls of at most this
 * many (1..ATTEST_BATCH_MAX; 1 = one AttestForVersion call each). */
int imds_bus_backend_new(sd_event *event, const char *service_socket, unsigned batch_max,
        ImdsBusBackend **ret);
ImdsBusBackend *imds_bus_backend_free(ImdsBusBackend *b);
DEFINE_TRIVIAL_CLEANUP_FUNC(ImdsBusBackend *, imds_bus_backend_free);
void imds_bus_backend_fill(ImdsBusBackend *b, ImdsBackend *ret);
