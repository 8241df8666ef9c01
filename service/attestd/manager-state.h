/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "manager.h"

/* The state file (its format is shared/state.c's): the admin state written atomically, with
 * the previous generation kept to fall back to, and read back at start. */

/* What the state file holds: the manager's state, or the state a commit is about to install. */
typedef struct StateContent {
        bool legacy_support;
        usec_t last_sync;
        Vm *const *vms;
        size_t n_vms;
} StateContent;

/* Writes content as the state file; a failure is logged. */
int manager_write_state(Manager *m, const StateContent *content);
/* Writes the admin state atomically. */
int manager_save_state(Manager *m);
/* Reads the state file into the (empty) inventory, as manager_load() says. */
int manager_load_state(Manager *m);
