/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "benefits.h"
#include "config.h"
#include "issuer.h"
#include "keystore.h"
#include "polkit.h"
#include "string-util.h"
#include "time-util.h"
#include "vm-index.h"
#include "vm.h"
#include "workqueue.h"

/* The service's one context object: configuration, the VM inventory, the local server's
 * attestation state, and the bus. All of it lives on the event loop thread; worker threads
 * only ever see the job structs handed to them. */

typedef enum ServerState {
        SERVER_ACTIVE,
        SERVER_EXPIRED,
        SERVER_INACTIVE,
        SERVER_ERROR,
        _SERVER_STATE_MAX,
        _SERVER_STATE_INVALID = -EINVAL,
} ServerState;

DECLARE_STRING_TABLE_LOOKUP_TO_STRING(server_state, ServerState);

typedef struct Manager {
        sd_event *event;
        sd_bus *bus; /* NULL while the system bus is lost (manager-connect.c reconnects) */
        sd_event_source *bus_reconnect; /* the next attempt to reach the bus again */
        usec_t bus_reconnect_delay;
        struct RateLimit *inventory_reads;  /* each user's GetManagedObjects budget (manager-connect.c) */
        struct DirectSocket *direct_socket; /* the frontends' direct connections (manager-direct.c) */
        PolkitRegistry *polkit;

        Config config;
        char *config_path;
        BenefitRules *rules;
        char *state_file;
        char *state_error; /* what went wrong loading the state file, NULL when nothing did */

        /* The inventory, sorted by id (for the object lookups the bus does per call). */
        Vm **vms;
        size_t n_vms;
        VmIndexes index; /* every VM by id, name, vsock CID, legacy MAC and interface (vm-index.h) */
        bool legacy_support;

        /* The local server. */
        char *server_name;
        char *server_path;
        char *server_error; /* why the last sync failed, NULL when it did not */
        usec_t last_sync;
        usec_t certificate_expiry;
        ServerState server_state;

        /* Attestation (manager-attest.c). */
        Keystore *keystore;
        Issuer *issuer;
        SigningIdentity *identity;   /* the current key + certificate, NULL before the first sync */
        WorkQueue *signers;          /* signs documents, one thread per CPU */
        WorkQueue *enroller;         /* runs enrolments, one at a time */
        struct SyncJob *sync_job;    /* the sync in progress, NULL when none */
        sd_event_source *sync_timer; /* the next automatic sync or expiry check */
        unsigned sync_failures;      /* consecutive failed syncs, for the backoff */

        /* The libvirt inventory provider (manager-inventory.c), NULL with the manual one. */
        struct InventoryLibvirt *libvirt;
        /* Cluster mode (attestd/manager-cluster.c); cluster is NULL when standalone. */
        struct ClusterStore *cluster;
        sd_event_source *cluster_converge; /* applies the cluster's changes here */
        char **cluster_server_paths;       /* the other servers' objects announced on the bus */
        bool cluster_servers_changed;      /* their properties changed since they were signalled */
        char *cluster_error;               /* what failed applying the cluster's settings, or NULL */
        bool cluster_reapply;              /* a ReapplyLegacy for this server is pending */
        bool cluster_legacy_failed;        /* applying the cluster's legacy switch failed: retried */
                                           /* when the setting changes or on ReapplyLegacy */
        /* SetVMAccessEx calls waiting for etcd (manager-cluster.c) */
        struct PendingCall *cluster_grant_calls;
        /* The cluster CA (attestd/manager-cluster-ca.c): on the CA server, its CMP responder. */
        struct CmpServer *cluster_ca;
        struct CmpHttp *cluster_ca_http;
        bool cluster_ca_publishing; /* the CA record is being written */

        /* Legacy networking (manager-legacy.c). */
        char *legacy_error;            /* what drifted or failed, NULL when all is as configured */
        sd_event_source *legacy_timer; /* the periodic drift check */
} Manager;

int manager_new(const char *config_path, Manager **ret);
Manager *manager_free(Manager *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(Manager *, manager_free);

/* Loads config, rules and state. Fails (with a logged reason) on a bad config or rules file,
 * and on a state file it cannot read; a corrupt state file is moved aside and replaced by its
 * previous generation (state_error says so), and when there is none the load fails. */
int manager_load(Manager *m);
int manager_run(Manager *m);

/* Inventory. */
Vm *manager_find_vm(Manager *m, const char *name_or_id);
Vm *manager_find_vm_by_id(Manager *m, const char *id);
Vm *manager_find_vm_by_cid(Manager *m, uint32_t cid);
Vm *manager_find_vm_by_legacy_interface(Manager *m, const char *ifname);
/* Checks that vm's unique keys (Id, Name, VsockCid, LegacyMac) clash with no VM but except. */
int manager_check_unique(Manager *m, const Vm *vm, const Vm *except, sd_bus_error *error);
/* Takes ownership of vm. */
int manager_add_vm(Manager *m, Vm *vm);
/* Adds many VMs at once (taking ownership of them on success): one sort instead of one
 * insertion each. All or nothing: -EEXIST when one of them clashes with a registered VM or
 * another of them, -ENOMEM. */
int manager_add_vms(Manager *m, Vm **vms, size_t n);
void manager_remove_vm(Manager *m, Vm *vm);
/* Where id is in Manager.vms (sorted by id), or where a VM with it would be inserted. */
size_t manager_vm_position(Manager *m, const char *id);

/* Recomputes the server state from the certificate and the clock, and every VM's benefits;
 * signals what changed. */
void manager_refresh(Manager *m);
/* Recomputes one VM's benefits; returns whether they changed. */
bool manager_evaluate_vm(Manager *m, Vm *vm);
/* The VM properties that follow from the benefit evaluation (STRV_MAKE of strv.h). */
#define VM_EVALUATION_PROPERTIES                                                                           \
        STRV_MAKE("Status", "EligibleBenefits", "ActiveBenefits", "RecommendedActions", "RequiredUpdates", \
                "LegacyError")

/* The server's Error property: why the last sync failed and what is wrong with the legacy
 * network, "" when nothing is. */
char *manager_server_error(Manager *m);
