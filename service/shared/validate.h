/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <sys/socket.h>

#include <stdbool.h>
#include <stdint.h>

#include "macro.h"
#include "string-util.h"

/* Pure validators and normalisers for values that arrive from outside: no I/O, no bus. */

/* Accepts 8-4-4-4-12 hex UUIDs in any case; returns the lowercase form. -EINVAL otherwise. */
int uuid_normalize(const char *s, char **ret);

/* 8-4-4-4-12 hex digits in any case, the nil UUID included: what a lookup could take for an
 * id. */
bool uuid_is_shaped(const char *s);

/* Accepts six hex octets separated by ':' or '-' in any case; rejects the all-zero,
 * broadcast and multicast addresses a VM NIC cannot own; returns "aa:bb:cc:dd:ee:ff". */
int mac_normalize(const char *s, char **ret);

/* Dotted numeric versions ("10.0.22621.3447", "1.39.0"): 1 to 8 components of at most 9 digits. */
bool version_is_valid(const char *s);

/* Compares dotted numeric versions component by component; missing components count as 0.
 * Both must be valid. Returns <0, 0, >0. */
int version_compare(const char *a, const char *b);

/* Code points that garble a table or a log line, or make two names look alike: the C0 and C1
 * controls and DEL (Unicode Cc), the bidirectional controls (U+061C, U+200E/U+200F,
 * U+202A..U+202E, U+2066..U+2069), the line and paragraph separators and the invisible format
 * characters (zero-width spaces and joiners, U+2060..U+2064, U+FEFF, ...). */
bool unichar_garbles_text(uint32_t c) _const_;

/* A display name for a VM or server: 1..255 bytes of valid UTF-8 without any character
 * unichar_garbles_text() refuses, and not "*" (which means "all VMs" in SetVMAccess). */
bool vm_name_is_valid(const char *s);

/* A guest-visible context id: 0 means none; 1 (local) and 2 (host) are reserved, and
 * 0xffffffff is VMADDR_CID_ANY. */
bool vsock_cid_is_valid(uint32_t cid);

/* A Linux network interface name: 1..15 bytes of [A-Za-z0-9_.-], not "." or "..". */
bool ifname_is_valid(const char *s);

/* IMDS nonce: at most 32 characters of [A-Za-z0-9_-] (empty allowed: means "use the time"). */
bool nonce_is_valid(const char *s);

/* A server name in cluster mode, as etcd keys carry it: 1..63 of [A-Za-z0-9._-], not "." or "..". */
bool cluster_server_name_is_valid(const char *s);
/* An etcd key prefix: "/" then up to 127 of [A-Za-z0-9._/-], no "//", not ending in "/". */
bool cluster_prefix_is_valid(const char *s);
/* Where the cluster's CA server answers CMP: "A.B.C.D:PORT" or "[IPv6]:PORT", port 1..65535,
 * an address peers can reach and guests cannot be given: not a wildcard, loopback, multicast
 * or link-local address (the IMDS address 169.254.169.253 is link-local). */
int cluster_ca_listen_parse(const char *s, struct sockaddr_storage *ret, socklen_t *ret_len);
bool cluster_ca_listen_is_valid(const char *s);

/* A SHA-256 fingerprint as people write it (hex, either case, bytes optionally separated by
 * ':') as 64 lowercase hex digits (certificate_fingerprint()'s form); -EINVAL when it is none. */
#define SHA256_FINGERPRINT_SIZE 65
int sha256_fingerprint_normalize(const char *s, char ret[static SHA256_FINGERPRINT_SIZE]);
