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

/* The legacy NIC the service adds to a domain that is given legacy access: libvirt's user alias
 * (user aliases start with "ua-"; the analog of Hyper-V's AZSHCI_GUEST-IMDS_DO_NOT_MODIFY),
 * type 'ethernet' (a tap libvirt creates and the service makes a port of the legacy bridge, so
 * that the domain starts also while the bridge does not exist), virtio, and a MAC derived from
 * the VM's id. */
#define VIRT_LEGACY_NIC_ALIAS "ua-AZSHCI_GUEST-IMDS_DO_NOT_MODIFY"
#define VIRT_MAC_BUFLEN       18
/* The host side of the legacy NIC: a tap libvirt creates under the name the service gives it,
 * this prefix and 12 hex digits of a fixed hash of the VM id (15 characters, IFNAMSIZ - 1).
 * No other software on the host names interfaces so. */
#define VIRT_LEGACY_TAP_PREFIX "azg"
#define VIRT_IFNAME_BUFLEN     16

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

/* libvirt's virDomainState as a power state: running, blocked and shutting down are Running,
 * paused and suspended Paused, the rest Off. */
VmPowerState virt_domain_power_state(int state);

/* Builds the VM of a domain. os may be NULL (no agent info). What identifies a guest is taken
 * only from the live XML of a domain that is not off (power_state, and libvirt's id attribute
 * of a running domain): VsockCid, and LegacyInterface, which is only the tap name the service
 * gave the legacy NIC (virt_legacy_nic_ifname). LegacyMac is the legacy NIC's MAC when it is
 * the derived one. Metadata values that do not validate are skipped with a line in
 * *ret_warnings (may be NULL). Errors: -EINVAL with error set when the XML is not a domain or
 * its UUID or name cannot be a VM, -ENOMEM. */
int virt_domain_to_vm(const char *xml, VmPowerState power_state, const VirtGuestOs *os, Vm **ret,
        char ***ret_warnings, sd_bus_error *error);

/* Whether the domain's XML shows a connected guest agent channel (what DataExchange says). */
int virt_domain_agent_connected(const char *xml);

/* When a running domain's connected guest agent is asked for its OS info. The query is
 * synchronous on the service's only loop (bounded by a short agent timeout), so only where its
 * answer is needed and never again soon after it failed. */
typedef enum VirtAgentAsk {
        VIRT_AGENT_NEVER,      /* the drift check, re-reading after a device change: what is cached */
        VIRT_AGENT_IF_UNKNOWN, /* events, the reconcile: when nothing is cached and not backing off */
        VIRT_AGENT_REFRESH,    /* the periodic refresh: unless backing off */
        VIRT_AGENT_CONNECTED,  /* the agent (re)connected: always, the back-off ends */
} VirtAgentAsk;

/* Whether to ask now: known, OS info is cached; backoff_until, the monotonic time (µs) before
 * which a failed query is not repeated (0: none). */
bool virt_agent_should_ask(VirtAgentAsk ask, bool known, uint64_t backoff_until, uint64_t now);

/* The legacy NIC's MAC for a VM id: locally administered unicast, a fixed hash of the id, so
 * the same VM always gets the same MAC (its guest keeps its interface configuration). */
void virt_legacy_nic_mac(const char *vm_id, char ret[static VIRT_MAC_BUFLEN]);
/* The legacy NIC's tap name for a VM id: VIRT_LEGACY_TAP_PREFIX and a fixed hash of the id. */
void virt_legacy_nic_ifname(const char *vm_id, char ret[static VIRT_IFNAME_BUFLEN]);
/* The device XML of a VM's legacy NIC: its MAC and its tap name. */
int virt_legacy_nic_xml(const char *vm_id, char **ret);

typedef enum VirtNicState {
        VIRT_NIC_ABSENT,       /* no legacy NIC */
        VIRT_NIC_OURS,         /* the service's NIC (its alias) with the VM's MAC and tap name */
        VIRT_NIC_OURS_CHANGED, /* the service's alias, another MAC or tap name: changed by hand */
} VirtNicState;

/* What a domain XML (live or inactive) of the VM vm_id has as legacy NIC. */
int virt_domain_legacy_nic(const char *xml, const char *vm_id, VirtNicState *ret);

/* The device XML of the interface with the service's alias in a domain XML (to put it back as
 * it was): 1 and *ret, or 0 and NULL when there is none. */
int virt_domain_legacy_nic_device(const char *xml, char **ret);

/* Devices the host adds for recommended actions: EnableGuestServiceInterface (a virtio-vsock
 * device with an automatic CID) and EnableDataExchange (the QEMU guest agent's channel). */
typedef enum VirtDevice {
        VIRT_DEVICE_VSOCK,
        VIRT_DEVICE_AGENT_CHANNEL,
        _VIRT_DEVICE_MAX,
} VirtDevice;

/* Whether the domain XML has the device (the channel connected or not). */
int virt_domain_has_device(const char *xml, VirtDevice device);
/* The device XML libvirt is given to add it. */
const char *virt_device_xml(VirtDevice device);
