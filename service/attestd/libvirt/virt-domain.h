/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "vm.h"

/* The pure mapping from what libvirt says about a domain to the VM facts the service keeps
 * (docs/libvirt.md has the table): the domain's live XML (or its inactive XML when it is not
 * running), its state and the guest agent's OS info. No libvirt connection: unit tests feed it
 * XML fixtures. */

/* The XML namespace of the project's <metadata> element, set with
 * `virsh metadata DOMAIN --uri VIRT_DOMAIN_METADATA_NS --key azshci --set '<vm>…</vm>'`. */
#define VIRT_DOMAIN_METADATA_NS "https://azshci.org/xmlns/libvirt/vm/1"

/* The guest agent's OS info (virDomainGetGuestInfo, VIR_DOMAIN_GUEST_INFO_OS), each NULL when
 * the agent did not report it. */
typedef struct VirtGuestOs {
        char *id;             /* os.id: "mswindows", "debian", … */
        char *name;           /* os.name */
        char *pretty_name;    /* os.pretty-name */
        char *version_id;     /* os.version-id */
        char *kernel_release; /* os.kernel-release: Windows' build number, e.g. "22621" */
        char *kernel_version; /* os.kernel-version: Windows' "10.0" */
} VirtGuestOs;

void virt_guest_os_done(VirtGuestOs *os);
int virt_guest_os_copy(const VirtGuestOs *os, VirtGuestOs *ret);
bool virt_guest_os_equal(const VirtGuestOs *a, const VirtGuestOs *b);

/* libvirt's virDomainState as a power state: running, blocked and shutting down are Running,
 * paused and suspended Paused, the rest Off. */
VmPowerState virt_domain_power_state(int state);

/* Builds the VM of a domain. os may be NULL (no agent info). legacy_bridge names the bridge
 * whose interface becomes LegacyMac/LegacyInterface. Metadata values that do not validate are
 * skipped with a line in *ret_warnings (may be NULL). Errors: -EINVAL with error set when the
 * XML is not a domain or its UUID or name cannot be a VM, -ENOMEM. */
int virt_domain_to_vm(const char *xml, VmPowerState power_state, const VirtGuestOs *os,
        const char *legacy_bridge, Vm **ret, char ***ret_warnings, sd_bus_error *error);

/* Whether the domain's XML shows a connected guest agent channel (what DataExchange says). */
int virt_domain_agent_connected(const char *xml);
