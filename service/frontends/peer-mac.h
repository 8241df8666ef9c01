/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <sys/socket.h>

#include "macro.h"

/* The MAC address behind a TCP peer, from the kernel's neighbour table (rtnetlink
 * RTM_GETNEIGH through libmnl) on the interface the connection came in on. This — never a
 * header or anything else the client says — is how the HTTP frontend identifies a VM. */

#define PEER_MAC_STRLEN 18 /* "aa:bb:cc:dd:ee:ff" + NUL */

typedef struct PeerMac PeerMac;

int peer_mac_new(PeerMac **ret);
PeerMac *peer_mac_free(PeerMac *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(PeerMac *, peer_mac_free);

/* The ingress interface of a connection: ifindex if > 0 (configured), else the device the
 * socket is bound to (SO_BINDTODEVICE, inherited from a listening socket with BindToDevice=),
 * else the interface the kernel routes the peer's address through (for IPv6 link-local
 * peers, their scope id). Returns the ifindex or a negative errno. */
int peer_mac_ingress_ifindex(PeerMac *p, int fd, const struct sockaddr *addr, socklen_t addrlen,
        int ifindex);

/* Looks up addr (AF_INET, AF_INET6; v4-mapped IPv6 counts as IPv4) on ifindex. Returns 0 and
 * writes "aa:bb:cc:dd:ee:ff" to ret, -ENOENT when the table holds no usable (resolved)
 * entry, -EAFNOSUPPORT for other families, other negative errnos on netlink failures. */
int peer_mac_lookup(PeerMac *p, const struct sockaddr *addr, socklen_t addrlen, int ifindex,
        char ret[static PEER_MAC_STRLEN]);

/* Normalises addr: v4-mapped IPv6 to AF_INET. Returns the family, or -EAFNOSUPPORT. Pure. */
int peer_address(const struct sockaddr *addr, socklen_t addrlen, void *ret_addr, size_t *ret_len,
        int *ret_scope);
