/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <net/if.h>

#include "macro.h"

/* The legacy bridge port an accepted TCP connection came in through: the port mark the legacy
 * firewall put on its SYN (legacy-mark.h), which the socket carries when the host has
 * net.ipv4.tcp_fwmark_accept=1 (SO_MARK), resolved to the port's name over rtnetlink (libmnl).
 * This — never an address, header or anything else the client says — is how the HTTP frontend
 * identifies a VM. */

typedef struct PeerPort PeerPort;

int peer_port_new(PeerPort **ret);
PeerPort *peer_port_free(PeerPort *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(PeerPort *, peer_port_free);

/* Writes the name of the port fd's connection came in through to ret. bridge: NULL, or the
 * bridge the port must (still) belong to. Errors: -ENOENT the socket carries no port mark
 * (not from a VM port of the legacy bridge, or tcp_fwmark_accept is off); -ENODEV the port no
 * longer exists; -EXDEV it is not a port of bridge (or bridge does not exist); other negative
 * errnos on socket or netlink failures. */
int peer_port_identify(PeerPort *p, int fd, const char *bridge, char ret[static IF_NAMESIZE]);

/* Why peer_port_identify() failed, for the log. */
const char *peer_port_strerror(int error);
