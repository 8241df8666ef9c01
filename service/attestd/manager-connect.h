/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "manager.h"

/* Connects to the system bus, exports the objects, takes the name. When the bus goes away
 * later, connects again (with backoff) and takes the name back. */
int manager_connect_bus(Manager *m);

/* Charges a whole-inventory read by the sender of message (GetManagedObjects,
 * GetLegacyNetworkStatus: one unit per VM and one more) to its uid's budget; root and the
 * service's user have none. 0 when it may be served; < 0 with error set when not:
 * LimitsExceeded naming the method and when to call again, AccessDenied when the caller cannot
 * be identified. */
int manager_charge_inventory_read(Manager *m, sd_bus_message *message, sd_bus_error *error);
