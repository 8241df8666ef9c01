/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <sys/types.h>

#include "cluster-records.h"
#include "macro.h"

/* This server's view of the records under the cluster prefix (docs/cluster.md, "Keys"): what
 * the cluster store (cluster-store.c) read, or learnt from the watch or from its own writes,
 * with the etcd mod revision of each record so that an older value never replaces a newer
 * one. Pure: keys and values in, ClusterChangeFlags out; no etcd, no event loop. */

typedef enum ClusterChangeFlags {
        CLUSTER_CHANGED_SETTINGS = 1 << 0,
        CLUSTER_CHANGED_GRANTS = 1 << 1,
        CLUSTER_CHANGED_SERVERS = 1 << 2,
        CLUSTER_CHANGED_REACHABLE = 1 << 3,
        CLUSTER_CHANGED_REAPPLY = 1 << 4, /* someone asked this server to re-apply legacy support */
        CLUSTER_CHANGED_CA = 1 << 5,      /* the cluster CA record */
} ClusterChangeFlags;

typedef struct ClusterServerView {
        char *name;
        bool member;     /* has a member key */
        bool has_status; /* has a (leased) status record */
        ClusterServerRecord status;
} ClusterServerView;

typedef struct ClusterViewGrant {
        char *vm_id;
        bool legacy_access;
        bool bad; /* its record was never a valid grant: only mod_revision counts, it is no grant */
        int64_t mod_revision;
} ClusterViewGrant;

typedef struct ClusterViewReapply {
        char *server;
        int64_t mod_revision;
} ClusterViewReapply;

typedef struct ClusterView {
        const char *prefix, *server_name; /* borrowed from the store */
        bool loaded;                      /* read whole at least once */
        bool has_settings;
        ClusterSettings settings;
        int64_t settings_revision;
        ClusterViewGrant *grants;
        size_t n_grants;
        ClusterServerView *servers; /* sorted by name */
        size_t n_servers;
        int64_t *status_revisions;     /* indexed like servers */
        ClusterViewReapply *reapplies; /* the reapply key of each server that has one */
        size_t n_reapplies;
        bool has_ca;
        ClusterCaRecord ca;
        int64_t ca_revision;
} ClusterView;

/* Forgets every record (the prefix and server name stay). */
void cluster_view_clear(ClusterView *v);
/* Applies one key's new value (value NULL: deleted) at mod_revision, unless the view already
 * holds a newer one; a value of the wrong shape is logged and ignored, but its mod_revision is
 * kept (what a compare-and-swap that replaces it compares). Returns the
 * ClusterChangeFlags it caused. */
unsigned cluster_view_apply(ClusterView *v, const char *key, const char *value, int64_t mod_revision);
/* The mod revision the view holds for key (0: none), what a compare-and-swap compares. */
int64_t cluster_view_revision_of(ClusterView *v, const char *key);
/* The mod revision of the reapply request for this server (0: none). */
int64_t cluster_view_reapply_revision(ClusterView *v);
ClusterViewGrant *cluster_view_find_grant(ClusterView *v, const char *vm_id);

/* The state to show for a server: its record's, or CLUSTER_STATE_DISCONNECTED. */
const char *cluster_server_view_state(const ClusterServerView *v);
