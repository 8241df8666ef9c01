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

/* The last OS info each domain's agent reported, by domain UUID. Kept while the agent is
 * away, so that OsName/OsVersion stay what was last observed. */
typedef struct GuestOsEntry {
        char id[VIR_UUID_STRING_BUFLEN];
        VirtGuestOs os;
} GuestOsEntry;

typedef struct InventoryDomains {
        Manager *manager;
        GuestOsEntry *os;
        size_t n_os;
} InventoryDomains;

void inventory_domains_done(InventoryDomains *p);

/* The VM a domain maps to, or NULL in *ret when the domain is gone. ask_agent: query the
 * guest agent even if its OS info is known. */
int inventory_domains_read_vm(InventoryDomains *p, virDomainPtr dom, bool ask_agent, Vm **ret);
/* Brings one domain's VM up to date (or removes it when the domain is gone). */
int inventory_domains_refresh(InventoryDomains *p, virDomainPtr dom, bool ask_agent);
/* The whole list of conn's domains: the VMs of domains gone removed first (so that their
 * names, CIDs and MACs are free for the others), then the changed ones updated, then the new
 * ones added. */
int inventory_domains_reconcile(InventoryDomains *p, virConnectPtr conn);
