/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "manager.h"

/* Connects to the system bus, exports the objects, takes the name. When the bus goes away
 * later, connects again (with backoff) and takes the name back. */
int manager_connect_bus(Manager *m);
