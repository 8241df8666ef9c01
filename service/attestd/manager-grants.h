/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "manager.h"

/* Legacy access, VM by VM: the legacy switch turning on grants every VM that can have it now,
 * SetVMAccess grants or revokes one VM or all, and each says what happened to each VM. For a
 * libvirt domain, granting adds the legacy NIC to the domain and revoking removes it
 * (libvirt/domain-devices.c); a hand-registered VM needs its NIC registered. A Generation 1
 * VM that is not Off is refused (PowerOffRequired), as on Azure Stack HCI. */

typedef enum GrantOutcome {
        GRANT_GRANTED,  /* the VM has legacy access now */
        GRANT_REVOKED,  /* it had access and has not any more */
        GRANT_REPAIRED, /* it had access; its legacy NIC was missing or changed and was added again */
        GRANT_REFUSED,  /* it cannot have access now (Generation 1 running, no NIC registered) */
        GRANT_FAILED,   /* libvirt (or the network) failed */
        GRANT_RECORDED, /* in a cluster, a VM not on this server: the cluster store holds its grant
                         * (or revocation), and the server that runs the VM applies it */
        _GRANT_OUTCOME_MAX,
        _GRANT_OUTCOME_INVALID = -EINVAL,
} GrantOutcome;

DECLARE_STRING_TABLE_LOOKUP_TO_STRING(grant_outcome, GrantOutcome);

typedef struct GrantResult {
        char *id;
        char *name;
        GrantOutcome outcome;
        char *error_name; /* the D-Bus error of a refusal or failure, NULL otherwise */
        char *message;
} GrantResult;

/* What one call did, one entry per VM it changed, refused or failed, in inventory order. */
typedef struct GrantResults {
        GrantResult *items;
        size_t n;
} GrantResults;

void grant_results_done(GrantResults *r);
int grant_results_add(GrantResults *r, const Vm *vm, GrantOutcome outcome, const char *error_name,
        const char *message);
/* A copy of e appended (no log line). */
int grant_results_add_entry(GrantResults *r, const GrantResult *e);
/* One entry on its own, a copy of e (NULL when out of memory), and its end. */
GrantResult *grant_result_new(const GrantResult *e);
GrantResult *grant_result_free(GrantResult *e);
/* Appends the results as a(ssss): id, name, outcome ("granted", ...), message. */
int grant_results_append(const GrantResults *r, sd_bus_message *reply);

/* EnableLegacyEx's flags. */
#define LEGACY_REMOVE_VMS  (UINT64_C(1) << 0) /* off: also revoke every VM's access, remove the NICs */
#define LEGACY_FLAGS_KNOWN LEGACY_REMOVE_VMS

/* EnableLegacy, once authorized, on this server: on builds the network and grants every VM
 * that can have access now (the others keep a LegacyError naming why); off removes the
 * network, and with LEGACY_REMOVE_VMS revokes every VM's access (the seed's -RemoveVM). The
 * network changes first; if the state cannot be committed, the network is put back. The ids of
 * the VMs granted go to ret_granted, what happened to each VM to results (both may be NULL). */
int manager_set_legacy_support(Manager *m, bool enable, uint64_t flags, char ***ret_granted,
        GrantResults *results, sd_bus_error *error);

/* Why a VM cannot get legacy access while it runs (a Generation 1 VM that is not Off):
 * PowerOffRequired in error, returned negative. */
int grant_refuse_power_off(const Vm *vm, sd_bus_error *error);

/* The message of granting (or revoking) the access of a VM whose devices the service does not
 * manage (a VM registered by hand). */
int manager_grant_text(Manager *m, const Vm *vm, bool grant, char **ret);

/* SetVMAccess, once authorized: grants or revokes target's access (NULL: every VM, each as it
 * can: refusals and failures are in results, the rest is committed). For one target, a refusal
 * or failure is the call's error and nothing changes. results may be NULL. */
int manager_set_vm_access(Manager *m, Vm *target, bool enable, GrantResults *results, sd_bus_error *error);
