/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "manager.h"

/* The frontends' direct socket (manager-direct.c). Not being able to open it is not fatal:
 * the frontends then use the system bus. */
int manager_direct_init(Manager *m);
void manager_direct_done(Manager *m);
