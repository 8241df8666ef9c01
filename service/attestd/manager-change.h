/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "manager.h"

/* A change of the admin state, applied all at once by manager_commit(): the new state is
 * written to disk first; only if that succeeds does it replace what is in memory and get
 * signalled. A failed commit changes nothing. */
typedef struct Change {
        bool legacy_support; /* the new value of the switch */
        Vm **add;            /* VMs to register (owned), in this order */
        size_t n_add;
        Vm *remove;   /* a registered VM to drop (borrowed), or NULL */
        Vm **replace; /* indexed like Manager.vms: modified copies (owned) or NULL */
        size_t n_replace;
} Change;

void change_init(Manager *m, Change *c);
void change_done(Change *c);
/* Adds a VM to register; takes ownership of vm, also on failure. */
int change_add_vm(Change *c, Vm *vm);
/* Returns the modified copy of vm that the change will install, creating it on first use. */
int change_replace_vm(Manager *m, Change *c, Vm *vm, Vm **ret_copy);
int manager_commit(Manager *m, Change *c, sd_bus_error *error);
