/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "bus-names.h"
#include "cluster-store.h"
#include "log.h"
#include "manager-change.h"
#include "manager-cluster-grants.h"
#include "manager-grants.h"
#include "manager-inventory.h"
#include "manager-legacy.h"
#include "manager.h"
#include "strv.h"

/* The cluster's VM grants applied on this server (manager-cluster-grants.h). */

/* A VM registered by hand that the cluster grants but that cannot have access here (Generation
 * 1 and running, or no legacy NIC): said in results (may be NULL) as SetVMAccessEx says it on
 * one server. */
static int converge_refused(Manager *m, const Vm *vm, GrantResults *results) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;

        if (vm_needs_power_off_for_legacy(vm))
                (void)grant_refuse_power_off(vm, &e);
        else if (manager_legacy_check_vm(m, vm, &e) >= 0)
                return 0;
        if (results) /* logged there */
                return grant_results_add(results, vm, GRANT_REFUSED, e.name, e.message);
        log_notice("Cluster: VM '%s' has legacy access in the cluster but cannot get it here: %s", vm->name,
                e.message);
        return 0;
}

/* A libvirt domain gets or loses its legacy NIC with the grant, one by one: what happened to it
 * goes to results (may be NULL). */
static int converge_nic(Manager *m, const char *id, bool grant, GrantResults *results) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(grant_results_done) GrantResults one = {};
        _cleanup_free_ char *vm_id = NULL, *name = NULL;
        const GrantResult *e;
        Vm *vm = manager_find_vm_by_id(m, id);
        int r;

        if (!vm)
                return 0;
        vm_id = strdup(vm->id);
        name = strdup(vm->name);
        if (!vm_id || !name)
                return -ENOMEM;
        r = manager_set_vm_access(m, vm, grant, results ? &one : NULL, &error);
        if (r < 0)
                log_notice("Cluster: VM '%s' has legacy access %s in the cluster but not here: %s", name,
                        grant ? "granted" : "revoked", error.message ?: strerror(-r));
        if (!results)
                return 0;
        e = one.n > 0 ? &one.items[one.n - 1] : NULL;
        /* A refusal or failure is in one; anything else that ends in an error (the state not
         * saved) is a failure. */
        if (r < 0 && (!e || (e->outcome != GRANT_REFUSED && e->outcome != GRANT_FAILED)))
                return grant_results_add_entry(results,
                        &(GrantResult){
                                .id = vm_id,
                                .name = name,
                                .outcome = GRANT_FAILED,
                                .error_name = (char *)(error.name ?: SD_BUS_ERROR_FAILED),
                                .message = (char *)(error.message ?: strerror(-r)),
                        });
        return e ? grant_results_add_entry(results, e) : 0;
}

void manager_cluster_converge_vms(Manager *m, GrantResults *results, char **problem) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_strv_free_ char **nic_grants = NULL, **nic_revokes = NULL;
        _cleanup_(grant_results_done) GrantResults staged = {};
        _cleanup_(change_done) Change c = {};
        int r = 0;

        change_init(m, &c);
        for (size_t i = 0; r >= 0 && i < m->n_vms; i++) {
                Vm *vm = m->vms[i], *copy;
                _cleanup_free_ char *text = NULL;
                ClusterGrant g;

                if (cluster_store_get_grant(m->cluster, vm->id, &g) < 0 ||
                        g.legacy_access == vm->legacy_access)
                        continue;
                /* A libvirt domain gets or loses its legacy NIC with the grant: one by one,
                 * below. */
                if (manager_inventory_manages_devices(m, vm)) {
                        r = strv_extend(g.legacy_access ? &nic_grants : &nic_revokes, vm->id);
                        continue;
                }
                if (g.legacy_access &&
                        (vm_needs_power_off_for_legacy(vm) || manager_legacy_check_vm(m, vm, NULL) < 0)) {
                        r = converge_refused(m, vm, results);
                        continue;
                }
                r = change_replace_vm(m, &c, vm, &copy);
                if (r >= 0) {
                        copy->legacy_access = g.legacy_access;
                        r = manager_grant_text(m, copy, g.legacy_access, &text);
                }
                if (r >= 0)
                        r = grant_results_add(&staged, vm, g.legacy_access ? GRANT_GRANTED : GRANT_REVOKED,
                                NULL, text);
        }
        if (r < 0)
                log_oom(); /* what was staged is applied still */
        if (staged.n > 0) {
                log_info("Cluster: applying the legacy access of %zu VM(s) from the cluster.", staged.n);
                r = manager_commit(m, &c, &error);
                if (r < 0 && asprintf(problem, "applying VM legacy access failed: %s",
                                     error.message ?: strerror(-r)) < 0)
                        *problem = NULL;
                for (size_t i = 0; results && i < staged.n; i++) {
                        const GrantResult *e = &staged.items[i];

                        if (grant_results_add_entry(results,
                                    r >= 0 ? e
                                           : &(GrantResult){
                                                     .id = e->id,
                                                     .name = e->name,
                                                     .outcome = GRANT_FAILED,
                                                     .error_name =
                                                             (char *)(error.name ?: SD_BUS_ERROR_FAILED),
                                                     .message = (char *)(error.message ?: strerror(-r)),
                                             }) < 0)
                                log_oom();
                }
        }

        for (int grant = 0; grant < 2; grant++)
                STRV_FOREACH (id, grant ? nic_grants : nic_revokes)
                        if (converge_nic(m, *id, grant, results) < 0)
                                log_oom();
}
