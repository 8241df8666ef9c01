/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "issuer.h"

/* One root for a cluster with the embedded issuer (cluster.caServer; docs/trust-model.md,
 * "Cluster"). The CA server runs its embedded CA as usual, answers CMP for its peers on
 * cluster.caListen and publishes its URL and root certificate in the cluster store; a peer's
 * issuer enrols with it over CMP (issuer-cluster.c) and keeps the published root as its
 * <state>/ca.pem. Without cluster.caServer nothing here does anything. */

typedef struct Manager Manager;

/* The issuer of a peer (a cluster issuer), or 0 and *ret untouched when this server is no peer
 * of a cluster CA. */
int manager_cluster_ca_peer_issuer(Manager *m, Issuer **ret);
/* Checks the enrolment secret file and, on the CA server, starts the CMP listener. */
int manager_cluster_ca_init(Manager *m);
void manager_cluster_ca_done(Manager *m);
/* From the cluster's convergence: the CA server publishes its record when the store's differs;
 * a peer takes the published record and enrols at once when it holds no valid certificate.
 * Returns what is wrong with the record (a root this peer refuses), for the server's Error, or
 * NULL. */
char *manager_cluster_ca_converge(Manager *m);
