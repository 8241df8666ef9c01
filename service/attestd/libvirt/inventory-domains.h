/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <libvirt/libvirt.h>
#include <stdbool.h>
#include <stddef.h>

#include "virt-domain.h"

/* The domains' side of the libvirt inventory provider (inventory-libvirt.c holds the
 * connection and its events): reads a domain into a VM, with the OS info its guest agent
 * reported, and brings the manager's VMs in step with one domain or with the whole list,
 * through manager_commit(). docs/libvirt.md describes the mapping. */

typedef struct Manager Manager;
typedef struct Vm Vm;

/* What a domain's guest agent told the service, by domain UUID: the last OS info it reported
 * (kept while the agent is away, so that OsName/OsVersion stay what was last observed), and,
 * after a query that got no answer, until when it is not asked again unless it reconnects. */
typedef struct GuestAgentEntry {
        char id[VIR_UUID_STRING_BUFLEN];
        bool has_os;
        VirtGuestOs os;
        uint64_t retry_after; /* CLOCK_MONOTONIC, µs; 0 = may be asked */
} GuestAgentEntry;

typedef struct InventoryDomains {
        Manager *manager;
        GuestAgentEntry *agents;
        size_t n_agents;
} InventoryDomains;

void inventory_domains_done(InventoryDomains *p);

/* The VM a domain maps to, or NULL in *ret when the domain is gone. ask: when its guest agent
 * is asked for its OS info (virt-domain.h); each query waits at most
 * INVENTORY_AGENT_TIMEOUT_SEC, and one that fails is not repeated for
 * INVENTORY_AGENT_BACKOFF_USEC unless the agent reconnects. */
#define INVENTORY_AGENT_TIMEOUT_SEC  5
#define INVENTORY_AGENT_BACKOFF_USEC (5 * 60 * UINT64_C(1000000))
int inventory_domains_read_vm(InventoryDomains *p, virDomainPtr dom, VirtAgentAsk ask, Vm **ret);
/* Brings one domain's VM up to date (or removes it when the domain is gone). */
int inventory_domains_refresh(InventoryDomains *p, virDomainPtr dom, VirtAgentAsk ask);
/* The whole list of conn's domains: the VMs of domains gone removed first (so that their
 * names, CIDs and MACs are free for the others), then the changed ones updated, then the new
 * ones added. */
int inventory_domains_reconcile(InventoryDomains *p, virConnectPtr conn);
