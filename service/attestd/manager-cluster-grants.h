/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "manager-grants.h"

/* The grants of the cluster store applied to this server's VMs (docs/cluster.md, "Changes and
 * convergence"): a VM's LegacyAccess follows its grant. Part of manager-cluster.c's
 * convergence. */

/* Applies the grant of each VM of this server whose access differs: a VM registered by hand
 * through one commit, a libvirt domain one by one (its legacy NIC added or removed). Idempotent.
 * What happened to each VM goes to results (may be NULL) as SetVMAccessEx says it on one
 * server; what failed applying them to *problem (left alone when nothing failed). */
void manager_cluster_converge_vms(Manager *m, GrantResults *results, char **problem);
