/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdint.h>
#include <sys/socket.h>

/* The vsock frontend's peer identity and address syntax. Pure. */

/* The guest CID, in decimal, of the peer address accept() returned for a vsock connection.
 * Anything but a guest CID (AF_VSOCK, not the hypervisor/local/host/any CIDs) is refused with
 * -EADDRNOTAVAIL; other families with -EAFNOSUPPORT. */
int vsock_peer_identify(const struct sockaddr *addr, socklen_t addrlen, char **ret_peer);

/* The service's side: a vsock peer string is accepted only in the one form vsock_peer_identify
 * writes, a guest CID in canonical decimal ("42": no sign, space or leading zero), so that one
 * CID has one spelling. -EINVAL for any other string, -EADDRNOTAVAIL for a CID that is no
 * guest's (0, 1, 2, 4294967295). */
int vsock_peer_parse(const char *peer, uint32_t *ret_cid);

/* "[vsock:][CID:]PORT" (systemd's "vsock::PORT" included); CID defaults to VMADDR_CID_ANY. */
int vsock_address_parse(const char *s, uint32_t *ret_cid, uint32_t *ret_port);
