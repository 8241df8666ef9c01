/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "legacy-net.h"

/* The legacy network's state as it is (legacy-net.h sets it up): the bridge, the firewall and
 * the ports, compared with what they should be; each difference is a line of drift. */

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
