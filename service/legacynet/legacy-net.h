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
 * legacy_net_enable() followed by legacy_net_attach_port() for each port. Errors are
 * negative errno values; when ret_error is not NULL it receives a human-readable message
 * (caller frees) on failure. */

#define LEGACY_NET_BRIDGE_DEFAULT "azshci-imds0"
#define LEGACY_NET_TABLE_DEFAULT  "azshci"
#define LEGACY_NET_ALIAS          "AZSHCI_HOST-IMDS_DO_NOT_MODIFY"
#define LEGACY_NET_ADDRESS        "169.254.169.253"
#define LEGACY_NET_PREFIXLEN      16
#define LEGACY_NET_PORT           80

typedef struct LegacyNetConfig {
        const char *bridge; /* NULL = LEGACY_NET_BRIDGE_DEFAULT */
        const char *table;  /* NULL = LEGACY_NET_TABLE_DEFAULT (used in families bridge and inet) */
} LegacyNetConfig;

/* A port the caller expects on the bridge (from the persisted VM registrations). */
typedef struct LegacyNetPort {
        const char *ifname;
        const char *mac; /* any form mac_normalize() accepts */
} LegacyNetPort;

typedef struct LegacyNetPortStatus {
        char *ifname;
        char *mac;       /* the expected MAC (normalised); NULL for a port found but not expected */
        char *bound_mac; /* the MAC bound in the anti-spoofing set; NULL = none */
        bool expected;   /* passed in by the caller */
        bool present;    /* the interface exists */
        bool attached;   /* it is a port of our bridge */
        bool isolated;   /* IFLA_BRPORT_ISOLATED is set */
        bool up;
        bool mac_bound; /* bound_mac equals mac */
} LegacyNetPortStatus;

typedef struct LegacyNetStatus {
        char *bridge;          /* the bridge name that was checked */
        bool bridge_present;   /* a link with that name exists ... */
        bool bridge_is_bridge; /* ... and is a bridge */
        bool bridge_up;
        bool alias_ok;
        char *alias;                /* current ifalias, NULL = none */
        bool address_ok;            /* 169.254.169.253/16 is on the bridge */
        char **addresses;           /* all IPv4 addresses on the bridge, "a.b.c.d/n" */
        bool table_present;         /* the nftables tables exist ... */
        bool table_intact;          /* ... and their chains and rules are exactly ours */
        LegacyNetPortStatus *ports; /* expected ports first (in the given order), then unexpected ones */
        size_t n_ports;
        char **drift; /* one line per problem; NULL or empty = everything as configured */
} LegacyNetStatus;

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

/* Inspects everything (read-only). expected == NULL: no expectations about ports (every port
 * found is taken as intended); otherwise ports other than expected[0..n_expected) are drift.
 * Returns 0 when the state could be read (drift or not; see ret->drift), negative errno when netlink or
 * nftables failed. */
int legacy_net_status(const LegacyNetConfig *c, const LegacyNetPort *expected, size_t n_expected,
        LegacyNetStatus *ret);
void legacy_net_status_done(LegacyNetStatus *s);

/* True when the status shows no drift. */
bool legacy_net_status_ok(const LegacyNetStatus *s);

/* Multi-line human-readable rendering of a status (for azshcictl and logs). */
char *legacy_net_status_format(const LegacyNetStatus *s);
