/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "manager-grants.h"
#include "manager.h"

/* FixVM: the recommended actions the host carries out on a VM (docs/libvirt.md, "Recommended
 * actions the host carries out"): EnableGuestServiceInterface adds a virtio-vsock device with
 * an automatic CID, EnableDataExchange the QEMU guest agent's channel (libvirt domains only),
 * EnableVMLegacyAccess grants legacy access (SetVMAccess). A Generation 1 VM that is not Off
 * takes no device (PowerOffRequired). InstallUpdates is the guest's to do: the error
 * (GuestActionRequired) names the updates and builds; EnableLegacyOsSupport and SyncServer are
 * the server's (EnableLegacy, Sync). */

/* Checks that action can be carried out on vm now (before and after polkit). */
int manager_fix_vm_check(Manager *m, const Vm *vm, const char *action, sd_bus_error *error);
/* Carries it out; *ret_message says what was done. */
int manager_fix_vm(Manager *m, Vm *vm, const char *action, char **ret_message, sd_bus_error *error);
/* FixVM EnableVMLegacyAccess's answer from the results of the grant: the text for vm_id's result
 * ("VM 'x': legacy access granted: ..."), its refusal or failure as the error; without a result,
 * "has legacy access" when vm (the VM now, may be NULL) has it, else an error (a grant in the
 * cluster that this server could not apply). */
int manager_fix_legacy_message(const GrantResults *results, const Vm *vm, const char *vm_id,
        const char *vm_name, char **ret_message, sd_bus_error *error);
