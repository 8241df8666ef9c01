/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-bus.h>

#include "cluster-store.h"
#include "vm.h"

/* The manager's side of cluster mode (docs/cluster.md): the cluster store's changes applied to
 * this server (legacy switch, VM grants, reapply requests), this server's status published,
 * and the cluster-wide changes the bus methods make. Nothing here runs without a "cluster"
 * section: every function is then a no-op or says "standalone". */

typedef struct Manager Manager;

int manager_cluster_init(Manager *m);
void manager_cluster_done(Manager *m);
bool manager_clustered(Manager *m);

/* "Standalone", "Reachable" or "Unreachable": the ClusterStore property. */
const char *manager_cluster_store_state(Manager *m);

/* Cluster-wide changes, after polkit said yes: the reply to msg is sent when etcd answered. */
int manager_cluster_enable_legacy(Manager *m, sd_bus_message *msg, bool enable, bool with_results,
        sd_bus_error *error);
/* name: the VM to grant or revoke (a VM of this server by name or id, or the UUID of a VM of
 * another server), or "*": every VM of this server and every VM granted in the cluster. */
int manager_cluster_set_vm_access(Manager *m, sd_bus_message *msg, const char *name, bool enable,
        bool with_results, sd_bus_error *error);
/* FixVM EnableVMLegacyAccess in a cluster: vm's grant through etcd, as SetVMAccess; the reply
 * is FixVM's text (manager_fix_legacy_message) once this server applied it. */
int manager_cluster_fix_vm_access(Manager *m, sd_bus_message *msg, const Vm *vm, sd_bus_error *error);
int manager_cluster_reapply(Manager *m, sd_bus_message *msg, const char *server, sd_bus_error *error);

/* Something this server shows changed (state, sync, legacy network, inventory): publish the
 * status record and converge again on the next loop iteration. */
void manager_cluster_changed(Manager *m);

/* The Server objects of the other servers (server-bus). */
const ClusterServerView *manager_cluster_find_server(Manager *m, const char *path);
int manager_cluster_server_paths(Manager *m, char ***ret);
