/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-event.h>

#include "cluster-records.h"
#include "cluster-view.h"
#include "macro.h"
#include "time-util.h"

/* This server's view of the cluster in etcd (docs/cluster.md): the settings, the VM grants and
 * every server's status, loaded with one range read and then followed with a watch on the
 * prefix (resumed from the last revision it saw; a full read again when that revision was
 * compacted). This server's own status is written under a lease kept alive every third of its
 * TTL, so when the server stops, its record disappears and the others see it Disconnected.
 *
 * Changes go through transactions that compare the revisions this view holds: they apply
 * whole or not at all. The view keeps the last state it knew while etcd cannot be reached;
 * cluster_store_reachable() says whether it can. The records themselves, and what a change of
 * one means, are the view's (cluster-view.c). */

typedef struct ClusterStore ClusterStore;

typedef struct ClusterStoreOptions {
        char *const *endpoints;
        const char *ca_file, *cert_file, *key_file;
        const char *prefix; /* cluster_prefix_is_valid() */
        const char *server_name;
        unsigned lease_ttl_sec; /* this server's status lease, ≥ 2 */
        usec_t timeout;         /* per call to etcd, 0 = 3 s */
} ClusterStoreOptions;

/* What changed in the view (ClusterChangeFlags). Called from the event loop; the view may be
 * read and changes started from it. */
typedef void (*cluster_changed_t)(ClusterStore *s, unsigned what, void *userdata);
/* The end of a change: 0, or a negative errno and a message for the admin. */
typedef void (*cluster_done_t)(ClusterStore *s, int error, const char *message, void *userdata);

int cluster_store_new(sd_event *event, const ClusterStoreOptions *o, cluster_changed_t changed,
        void *userdata, ClusterStore **ret);
/* Calls back the changes still waiting with -ECANCELED. */
ClusterStore *cluster_store_free(ClusterStore *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(ClusterStore *, cluster_store_free);

/* Connects (asynchronously; retries until etcd answers). */
int cluster_store_start(ClusterStore *s);

/* etcd answered the last lease renewal and the view follows the watch. */
bool cluster_store_reachable(ClusterStore *s);
/* The view was loaded at least once. */
bool cluster_store_loaded(ClusterStore *s);
/* The cluster settings; false when the cluster has none yet (nobody changed them). */
bool cluster_store_get_settings(ClusterStore *s, ClusterSettings *ret);
/* A VM's grant: -ENOENT when the cluster has none for it. */
int cluster_store_get_grant(ClusterStore *s, const char *vm_id, ClusterGrant *ret);
/* The id of every VM that has a grant (NULL when none). */
int cluster_store_grant_ids(ClusterStore *s, char ***ret);
/* Every server the cluster knows, sorted by name. */
const ClusterServerView *cluster_store_servers(ClusterStore *s, size_t *ret_n);
/* The cluster CA record (docs/trust-model.md, "Cluster"), NULL when none was published. */
const ClusterCaRecord *cluster_store_get_ca(ClusterStore *s);

/* Cluster-wide changes: a transaction against the revisions of the view; when another server
 * changed the same keys meanwhile, the view is refreshed and the change retried, at most three
 * times. The view (and the changed callback) follows on success. */
int cluster_store_set_legacy(ClusterStore *s, bool legacy_support, cluster_done_t done, void *userdata);
/* Sets the grant of every VM of vm_ids at once. */
int cluster_store_set_grants(ClusterStore *s, char *const *vm_ids, bool legacy_access, cluster_done_t done,
        void *userdata);

/* Asks server (any member, this one included) to re-apply the cluster's legacy setting. */
int cluster_store_request_reapply(ClusterStore *s, const char *server, cluster_done_t done, void *userdata);

/* The CA server publishes where peers enrol and the root (a transaction like the changes). */
int cluster_store_publish_ca(ClusterStore *s, const ClusterCaRecord *ca, cluster_done_t done,
        void *userdata);

/* Publishes this server's status under its lease (coalesced: only the last one is written). */
int cluster_store_publish_status(ClusterStore *s, const ClusterServerRecord *status);
