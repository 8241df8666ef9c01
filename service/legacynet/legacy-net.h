/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "macro.h"

/* Legacy OS support networking (the seed's internal switch AZSHCI_HOST-IMDS_DO_NOT_MODIFY):
 *
 *   - a Linux bridge (default "azshci-imds0", ifalias AZSHCI_HOST-IMDS_DO_NOT_MODIFY) with no
 *     uplink, a fixed locally administered MAC, no IPv6 link-local address, and the host
 *     address 169.254.169.253/16, up;
 *   - nftables tables "bridge azshci", "inet azshci" and "netdev azshci" (see nft-rules.h):
 *     only TCP 80 and ARP
 *     to 169.254.169.253 reach the host from the bridge (so DHCP server / router advertisement
 *     frames from guests reach nobody), nothing is routed in or out, guest ports cannot talk
 *     to each other, each port may only send with its registered MAC, each port's frames carry
 *     its identity mark (legacy-mark.h), and the host's frames for a port's connections go to
 *     that port's MAC and leave through that port only;
 *   - per VM an isolated bridge port (IFLA_BRPORT_ISOLATED) whose MAC is bound in the
 *     anti-spoofing set.
 *
 * Links are managed over rtnetlink (libmnl), the firewall through libnftables; nothing is
 * spawned. Every call works in the network namespace of the calling thread and needs
 * CAP_NET_ADMIN. All calls are idempotent; the whole state is restored by
 * legacy_net_enable() followed by legacy_net_attach_port() for each port; legacy-net-status.h
 * inspects it. Errors are negative errno values; when ret_error is not NULL it receives a
 * human-readable message (caller frees) on failure. */

#define LEGACY_NET_BRIDGE_DEFAULT "azshci-imds0"
#define LEGACY_NET_TABLE_DEFAULT  "azshci"
#define LEGACY_NET_ALIAS          "AZSHCI_HOST-IMDS_DO_NOT_MODIFY"
#define LEGACY_NET_ADDRESS        "169.254.169.253"
#define LEGACY_NET_PREFIXLEN      16
#define LEGACY_NET_PORT           80

typedef struct Addr Addr;

typedef struct LegacyNetConfig {
        const char *bridge; /* NULL = LEGACY_NET_BRIDGE_DEFAULT */
        const char *table;  /* NULL = LEGACY_NET_TABLE_DEFAULT (used in families bridge, inet and netdev) */
} LegacyNetConfig;

/* Creates/repairs the bridge and (re)installs the firewall atomically, keeping existing MAC
 * bindings. Removes IPv4 addresses other than ours from the bridge. Ports are not touched. */
int legacy_net_enable(const LegacyNetConfig *c, char **ret_error);

/* Deletes the firewall tables and the bridge (and any other bridge carrying our ifalias).
 * The ports are released by the kernel with the bridge; missing pieces are not an error. */
int legacy_net_disable(const LegacyNetConfig *c, char **ret_error);

/* Binds mac to ifname in the anti-spoofing set (replacing an older binding of ifname), then
 * makes ifname an isolated, up port of the bridge. -ENODEV: bridge or interface missing;
 * -EBUSY: the interface belongs to another master; -EINVAL: bad name or MAC; -ENOENT: the
 * firewall tables are missing (enable first). */
int legacy_net_attach_port(const LegacyNetConfig *c, const char *ifname, const char *mac, char **ret_error);
/* As legacy_net_attach_port(), for an interface that must be a tap (what a hypervisor creates
 * for a VM's NIC): anything else (kind other than "tun") is -EPERM and not touched. */
int legacy_net_attach_tap(const LegacyNetConfig *c, const char *ifname, const char *mac, char **ret_error);

/* Releases ifname from the bridge (when it is a port of it) and removes its binding. An
 * interface that no longer exists only loses its binding; nothing to do is not an error. */
int legacy_net_detach_port(const LegacyNetConfig *c, const char *ifname, char **ret_error);

/* The configuration's bridge and table names, the defaults for those unset. */
const char *legacy_net_bridge_name(const LegacyNetConfig *c);
const char *legacy_net_table_name(const LegacyNetConfig *c);
/* -EINVAL (with a message in *ret_error when not NULL) for an invalid bridge or table name. */
int legacy_net_check_config(const LegacyNetConfig *c, char **ret_error);
/* Whether a is the bridge's address, LEGACY_NET_ADDRESS/LEGACY_NET_PREFIXLEN. */
bool legacy_net_addr_is_ours(const Addr *a);
