/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "manager.h"

/* The frontends' direct socket (manager-frontend.c). Not being able to open it is not fatal:
 * the frontends then use the system bus. */
int manager_frontend_init(Manager *m);
void manager_frontend_done(Manager *m);
