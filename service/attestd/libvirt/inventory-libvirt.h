/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <libvirt/libvirt.h>
#include <stdbool.h>

#include "macro.h"

/* The libvirt inventory provider: the VMs are the domains of a libvirt connection. It connects
 * (configurable URI, default qemu:///system), reconciles the whole list, then follows domain
 * events (lifecycle incl. rename, device added/removed, guest agent, metadata) and keeps the
 * manager's VM objects in step through manager_commit(), so the bus sees the same
 * InterfacesAdded/Removed and PropertiesChanged as for hand-registered VMs. When the
 * connection is lost the inventory is kept but marked stale, and the provider reconnects with
 * backoff and reconciles again. docs/libvirt.md describes the mapping. This file holds the
 * connection and its events; inventory-domains.h reads the domains and reconciles. */

typedef struct Manager Manager;
typedef struct Vm Vm;
typedef struct InventoryLibvirt InventoryLibvirt;

#define INVENTORY_LIBVIRT_DEFAULT_URI "qemu:///system"

int inventory_libvirt_new(Manager *m, const char *uri, InventoryLibvirt **ret);
InventoryLibvirt *inventory_libvirt_free(InventoryLibvirt *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(InventoryLibvirt *, inventory_libvirt_free);

/* Connects and reconciles; when libvirt cannot be reached, logs why, marks the inventory stale
 * and tries again later. Fails only for lack of memory or a broken event loop. */
int inventory_libvirt_start(InventoryLibvirt *p);

/* Whether the inventory may be out of date (not connected to libvirt). */
bool inventory_libvirt_stale(const InventoryLibvirt *p);
/* Why, or NULL. */
const char *inventory_libvirt_stale_reason(const InventoryLibvirt *p);

/* The connection, NULL while libvirt is unreachable (for domain-devices.c). */
virConnectPtr inventory_libvirt_connection(InventoryLibvirt *p);
/* The VM a domain maps to now (its admin state unset), NULL in *ret when the domain is gone. */
int inventory_libvirt_read_vm(InventoryLibvirt *p, virDomainPtr dom, Vm **ret);
/* Reads one domain again (a change to the configuration of a domain that is off sends no
 * event). */
int inventory_libvirt_refresh_vm(InventoryLibvirt *p, const char *id);
